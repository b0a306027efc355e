"""montecarlo: reproducible parallel Monte Carlo simulation.

The same numbers whatever the worker count, executor, task order,
interruption or resume: randomness belongs to blocks of samples (numpy
SeedSequence spawn keys), and block statistics are folded in block order.

>>> import montecarlo
>>> result = montecarlo.run("pi", samples=10**6, rng=1)   # doctest: +SKIP
>>> print(result)                                         # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from montecarlo._version import __version__

# The decorator shares its name with its module: bind it now, so that a later
# `import montecarlo.model` cannot leave the module object in its place.
from montecarlo.model import model

# Public names, imported on first use so that `mc --help` starts fast.
_LAZY = {
    "run": "montecarlo.api",
    "run_spec": "montecarlo.api",
    "make_spec": "montecarlo.specs",
    "replay_block": "montecarlo.api",
    "extend": "montecarlo.api",
    "load": "montecarlo.loading",
    "Model": "montecarlo.model",
    "Output": "montecarlo.model",
    "load_model": "montecarlo.registry",
    "builtin_models": "montecarlo.registry",
    "Derived": "montecarlo.derived",
    "ControlVariate": "montecarlo.derived",
    "Result": "montecarlo.result",
    "Estimate": "montecarlo.estimate",
    "RunSpec": "montecarlo.spec",
    "Moments": "montecarlo.stats",
    "Stopping": "montecarlo.options",
    "StoppingRule": "montecarlo.stopping",
    "Sampling": "montecarlo.options",
    "Execution": "montecarlo.execution",
    "Checkpointing": "montecarlo.execution",
    "ValidationError": "montecarlo.errors",
    "ParameterError": "montecarlo.errors",
    "ModelError": "montecarlo.errors",
    "WorkerDiedError": "montecarlo.errors",
}

__all__ = [
    "Checkpointing",
    "ControlVariate",
    "Derived",
    "Estimate",
    "Execution",
    "Model",
    "ModelError",
    "Moments",
    "Output",
    "ParameterError",
    "Result",
    "RunSpec",
    "Sampling",
    "Stopping",
    "StoppingRule",
    "ValidationError",
    "WorkerDiedError",
    "__version__",
    "builtin_models",
    "extend",
    "load",
    "load_model",
    "make_spec",
    "model",
    "replay_block",
    "run",
    "run_spec",
]

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.api import extend, replay_block, run, run_spec
    from montecarlo.derived import ControlVariate, Derived
    from montecarlo.errors import ModelError, ParameterError, ValidationError, WorkerDiedError
    from montecarlo.estimate import Estimate
    from montecarlo.execution import Checkpointing, Execution
    from montecarlo.loading import load
    from montecarlo.model import Model, Output
    from montecarlo.options import Sampling, Stopping
    from montecarlo.registry import builtin_models, load_model
    from montecarlo.result import Result
    from montecarlo.spec import RunSpec
    from montecarlo.specs import make_spec
    from montecarlo.stats import Moments
    from montecarlo.stopping import StoppingRule


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'montecarlo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
