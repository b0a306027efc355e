"""Built-in models, one module each, by registered name.

Each module defines a decorated ``simulate`` function with its parameters,
outputs, a docstring stating the model and its exact value (with a citation),
and ``exact(**params)`` where a closed form exists.
"""

#: Registered name -> "module:function".
BUILTIN = {
    "pi": "montecarlo.models.pi:simulate",
}
