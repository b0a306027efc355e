"""`load`: read any result file this project writes, a run's or an experiment's.

Reading a file never imports or unpickles code: a result names its model,
but the model is imported only when the user re-runs it (`montecarlo.extend`,
``mc reproduce``).
"""

from __future__ import annotations

import os
from typing import Any

from montecarlo.errors import ResultFormatError
from montecarlo.experiment_result import SCHEMA as EXPERIMENT_SCHEMA
from montecarlo.experiment_result import ExperimentResult
from montecarlo.integrity import parse_sealed
from montecarlo.reading import FileProblem, read_text
from montecarlo.result import SCHEMA as RESULT_SCHEMA
from montecarlo.result import Result


def read_document(path: str | os.PathLike) -> Any:
    """The JSON of a result file, or of a result folder's ``result.json``.

    A regular file of bounded size, strict JSON, its checksum checked when
    it carries one; anything else is a `FileProblem`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "result.json")
    return parse_sealed(read_text(path))


def load(path: str | os.PathLike) -> Result | ExperimentResult:
    """Read a result file: ``mc run -o``, `Result.save`, or an experiment's ``result.json`` (or its folder).

    Parameters
    ----------
    path : str or os.PathLike
        The file, or an experiment's result folder.

    Returns
    -------
    Result or ExperimentResult
        By the file's ``"schema"``. Both have ``to_frame()``, ``table()``
        and an HTML form for notebooks.

    Raises
    ------
    montecarlo.errors.ResultFormatError
        When the file cannot be read, is not a montecarlo result of a version
        this release reads, or was edited since it was written (its checksum).

    Examples
    --------
    >>> import montecarlo, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "pi.json")
    >>> montecarlo.run("pi", 10**5, rng=1, execution="serial").save(path)
    >>> montecarlo.load(path).samples
    100000
    """
    name = os.fspath(path)  # every message starts with the path given
    try:
        data = read_document(path)
    except FileProblem as exc:
        raise ResultFormatError(f"{name}: it {exc}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    try:
        if schema == EXPERIMENT_SCHEMA:
            return ExperimentResult.from_dict(data)
        if schema == RESULT_SCHEMA:
            return Result.from_dict(data)
    except ResultFormatError as exc:
        raise ResultFormatError(f"{name}: {exc}") from None
    raise ResultFormatError(
        f"{name}: not a montecarlo result file (schema {schema!r}); accepted: {RESULT_SCHEMA!r} or {EXPERIMENT_SCHEMA!r}"
    )
