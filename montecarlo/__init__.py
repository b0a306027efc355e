"""montecarlo: reproducible parallel Monte Carlo simulation.

The same numbers whatever the worker count, executor, task order,
interruption or resume: randomness belongs to blocks of samples (numpy
SeedSequence spawn keys), and block statistics are folded in block order.

>>> import montecarlo
>>> result = montecarlo.run("pi", samples=10**6, rng=1)   # doctest: +SKIP
>>> print(result)                                         # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names, imported on first use so that `mc --help` starts fast.
_LAZY = {
    "run": "montecarlo.api",
    "run_spec": "montecarlo.api",
    "make_spec": "montecarlo.api",
    "replay_block": "montecarlo.api",
    "extend": "montecarlo.api",
    "Model": "montecarlo.model",
    "Output": "montecarlo.model",
    "load_model": "montecarlo.model",
    "builtin_models": "montecarlo.model",
    "Derived": "montecarlo.derived",
    "ControlVariate": "montecarlo.derived",
    "Result": "montecarlo.result",
    "Estimate": "montecarlo.result",
    "RunSpec": "montecarlo.spec",
    "Moments": "montecarlo.stats",
    "ModelError": "montecarlo.blocks",
    "WorkerDiedError": "montecarlo.engine",
}

__all__ = [
    "ControlVariate",
    "Derived",
    "Estimate",
    "Model",
    "ModelError",
    "Moments",
    "Output",
    "Result",
    "RunSpec",
    "WorkerDiedError",
    "builtin_models",
    "extend",
    "load_model",
    "make_spec",
    "model",
    "replay_block",
    "run",
    "run_spec",
    "__version__",
]

# The decorator shares its name with its module: bind it now, so that a later
# `import montecarlo.model` cannot leave the module object in its place.
from montecarlo.model import model  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.api import extend, make_spec, replay_block, run, run_spec
    from montecarlo.blocks import ModelError
    from montecarlo.derived import ControlVariate, Derived
    from montecarlo.engine import WorkerDiedError
    from montecarlo.model import Model, Output, builtin_models, load_model, model
    from montecarlo.result import Estimate, Result
    from montecarlo.spec import RunSpec
    from montecarlo.stats import Moments


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'montecarlo' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
