"""Built-in models, one module each (registered by name in `montecarlo.models.registry`).

Each module defines a decorated ``simulate`` function with its parameters,
outputs, a docstring stating the model and its exact value (with a citation),
and ``exact(**params)`` where a closed form exists.
"""
