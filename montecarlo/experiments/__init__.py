"""Experiments from TOML files: runs and sweeps, result folders, reproduction.

>>> from montecarlo.experiments import load_experiment, run_experiment, write_folder
>>> exp = load_experiment("experiments/pi.toml", {"samples": 10**6})   # doctest: +SKIP
>>> res = run_experiment(exp)                                          # doctest: +SKIP
>>> write_folder(res, "results")                                       # doctest: +SKIP
'results/pi/20250101T120000Z-1a2b3c4d'

``montecarlo/experiments/`` is the library code; the ``experiments/`` folder at
the top of the repository holds the TOML files. The format is documented in
docs/experiments.md.
"""

from montecarlo.errors import ExperimentError
from montecarlo.experiments.config import Experiment, Point, known_keys, load_experiment
from montecarlo.experiments.folder import check_output_dir, sweep_csv, write_folder
from montecarlo.experiments.reproduce import Reproduction, load_recorded, reproduce
from montecarlo.experiments.runner import run_experiment
from montecarlo.experiments.tables import Expectation, Sweep
from montecarlo.records.experiment_result import ExperimentResult, PointResult
from montecarlo.reports.experiment_analyses import point_analysis

__all__ = [
    "Expectation",
    "Experiment",
    "ExperimentError",
    "ExperimentResult",
    "Point",
    "PointResult",
    "Reproduction",
    "Sweep",
    "check_output_dir",
    "known_keys",
    "load_experiment",
    "load_recorded",
    "point_analysis",
    "reproduce",
    "run_experiment",
    "sweep_csv",
    "write_folder",
]
