"""`load`: read any result file this project writes, a run's or an experiment's.

Reading a file never imports or unpickles code: a result names its model,
but the model is imported only when the user re-runs it (`montecarlo.extend`,
``mc reproduce``).
"""

from __future__ import annotations

import json
import os

from montecarlo.errors import ResultFormatError
from montecarlo.experiment_result import SCHEMA as EXPERIMENT_SCHEMA
from montecarlo.experiment_result import ExperimentResult
from montecarlo.result import SCHEMA as RESULT_SCHEMA
from montecarlo.result import Result


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
        When the file is not a montecarlo result of a version this release reads.

    Examples
    --------
    >>> import montecarlo, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "pi.json")
    >>> montecarlo.run("pi", 10**5, rng=1, execution="serial").save(path)
    >>> montecarlo.load(path).samples
    100000
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "result.json")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultFormatError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema == EXPERIMENT_SCHEMA:
        return ExperimentResult.from_dict(data)
    if schema == RESULT_SCHEMA:
        return Result.from_dict(data)
    raise ResultFormatError(
        f"{path}: not a montecarlo result file (schema {schema!r}); accepted: {RESULT_SCHEMA!r} or {EXPERIMENT_SCHEMA!r}"
    )
