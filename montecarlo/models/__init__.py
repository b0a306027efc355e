"""Models: the model record and ``@model`` decorator, parameters, uniform forms, and the built-in models.

`montecarlo.models.record` holds `Model` and the decorator,
`montecarlo.models.registry` resolves what a user names into a record, and
`montecarlo.models.builtin` holds one module per built-in model.
"""
