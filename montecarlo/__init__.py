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

# Public names, imported on first use so that `mc --help` starts fast.
_LAZY = {
    "model": "montecarlo.models.declare",
    "run": "montecarlo.api",
    "run_spec": "montecarlo.api",
    "make_spec": "montecarlo.api",
    "replay_block": "montecarlo.api",
    "extend": "montecarlo.api",
    "load": "montecarlo.analyses.reading",
    "sensitivity": "montecarlo.analyses.sensitivity",
    "SensitivityResult": "montecarlo.analyses.sensitivity_result",
    "mlmc": "montecarlo.analyses.mlmc",
    "MLMCResult": "montecarlo.records.mlmc_result",
    "Levels": "montecarlo.models.levels",
    "Model": "montecarlo.models.record",
    "Output": "montecarlo.models.record",
    "load_model": "montecarlo.models.registry",
    "builtin_models": "montecarlo.models.registry",
    "Derived": "montecarlo.models.derived",
    "ControlVariate": "montecarlo.models.derived",
    "Result": "montecarlo.records.result",
    "Estimate": "montecarlo.estimation.estimate",
    "RunSpec": "montecarlo.core.spec",
    "Moments": "montecarlo.stats.moments",
    "Stopping": "montecarlo.core.stopping",
    "StoppingRule": "montecarlo.core.stopping_rules",
    "register_rule": "montecarlo.core.stopping_rules",
    "register_backend": "montecarlo.core.execution",
    "register_part": "montecarlo.stats.accumulators",
    "Sampling": "montecarlo.core.sampling",
    "Execution": "montecarlo.core.execution",
    "Checkpointing": "montecarlo.core.execution",
    "MonteCarloError": "montecarlo.errors",
    "ValidationError": "montecarlo.errors",
    "UnknownNameError": "montecarlo.errors",
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
    "Levels",
    "MLMCResult",
    "Model",
    "ModelError",
    "MonteCarloError",
    "Moments",
    "Output",
    "ParameterError",
    "Result",
    "RunSpec",
    "Sampling",
    "SensitivityResult",
    "Stopping",
    "StoppingRule",
    "UnknownNameError",
    "ValidationError",
    "WorkerDiedError",
    "__version__",
    "builtin_models",
    "extend",
    "load",
    "load_model",
    "make_spec",
    "mlmc",
    "model",
    "register_backend",
    "register_part",
    "register_rule",
    "replay_block",
    "run",
    "run_spec",
    "sensitivity",
]

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.analyses.mlmc import mlmc
    from montecarlo.analyses.reading import load
    from montecarlo.analyses.sensitivity import sensitivity
    from montecarlo.analyses.sensitivity_result import SensitivityResult
    from montecarlo.api import extend, make_spec, replay_block, run, run_spec
    from montecarlo.core.execution import Checkpointing, Execution, register_backend
    from montecarlo.core.sampling import Sampling
    from montecarlo.core.spec import RunSpec
    from montecarlo.core.stopping import Stopping
    from montecarlo.core.stopping_rules import StoppingRule, register_rule
    from montecarlo.errors import (
        ModelError,
        MonteCarloError,
        ParameterError,
        UnknownNameError,
        ValidationError,
        WorkerDiedError,
    )
    from montecarlo.estimation.estimate import Estimate
    from montecarlo.models.declare import model
    from montecarlo.models.derived import ControlVariate, Derived
    from montecarlo.models.levels import Levels
    from montecarlo.models.record import Model, Output
    from montecarlo.models.registry import builtin_models, load_model
    from montecarlo.records.mlmc_result import MLMCResult
    from montecarlo.records.result import Result
    from montecarlo.stats.accumulators import register_part
    from montecarlo.stats.moments import Moments


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'montecarlo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
