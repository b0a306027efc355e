"""`load`: read any result file back, an analysis's as its own record (``montecarlo.load``).

A run's result (``mc run -o``) is a `montecarlo.Result` and an experiment's
a `montecarlo.records.experiment_result.ExperimentResult`
(`montecarlo.api.load`); a result file with an analysis's section (an entry
of `READERS`, such as ``"sensitivity"``) is read as that analysis's record.
Nothing is imported or unpickled: the readers are found by the section's
name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from montecarlo.api import load as load_run
from montecarlo.core.plugins import Registry
from montecarlo.errors import FileProblem, ResultFormatError
from montecarlo.records.integrity import read_document
from montecarlo.records.result import SCHEMA as RESULT_SCHEMA

#: Section of a result file -> ``from_dict(document)`` of the analysis that wrote it.
READERS = Registry(
    "analysis result",
    {"sensitivity": "montecarlo.analyses.sensitivity_result:SensitivityResult"},
)


def load(path: str | os.PathLike) -> Any:
    """Read a result file: a run's (`montecarlo.Result`), an experiment's, or an analysis's.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or an experiment's result folder.

    Returns
    -------
    Result, ExperimentResult or SensitivityResult
        By the file's ``"schema"`` and sections: a file written by
        `montecarlo.sensitivity` (``mc sensitivity -o``) is a
        `SensitivityResult`.

    Raises
    ------
    montecarlo.errors.ResultFormatError
        When the file cannot be read, is not a montecarlo result of a version
        this release reads, or was edited since it was written.

    Examples
    --------
    >>> import montecarlo, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "g.json")
    >>> montecarlo.sensitivity("sobol_g", 2**10, rng=1, execution="serial").save(path)
    >>> type(montecarlo.load(path)).__name__, montecarlo.load(path).samples
    ('SensitivityResult', 1024)
    """
    name = os.fspath(path)
    try:
        data = read_document(path)
    except FileProblem as exc:
        raise ResultFormatError(f"{name}: it {exc}") from None
    if isinstance(data, Mapping) and data.get("schema") == RESULT_SCHEMA:
        for section in READERS:
            if section in data:
                try:
                    return READERS.get(section).from_dict(data)
                except ResultFormatError as exc:
                    raise ResultFormatError(f"{name}: {exc}") from None
    return load_run(path)
