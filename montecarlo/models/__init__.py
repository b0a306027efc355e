"""Built-in models, one module each, by registered name.

Each module defines a decorated ``simulate`` function with its parameters,
outputs, a docstring stating the model and its exact value (with a citation),
and ``exact(**params)`` where a closed form exists.
"""

#: Registered name -> "module:function".
BUILTIN = {
    "pi": "montecarlo.models.pi:simulate",
    "buffon": "montecarlo.models.buffon:simulate",
    "integrate": "montecarlo.models.integrate:simulate",
    "european_option": "montecarlo.models.european_option:simulate",
    "asian_option": "montecarlo.models.asian_option:simulate",
    "gamblers_ruin": "montecarlo.models.gamblers_ruin:simulate",
    "tail_probability": "montecarlo.models.tail_probability:simulate",
}
