"""How a run executes and where it saves its progress: options that never change a number.

- `Execution`: where and how blocks run (executor, workers, scheduler,
  retries, progress, cache).
- `Checkpointing`: where progress is saved and whether to resume.
- `BACKENDS`: the executors by name (`register_backend` adds one).

Like the options that fix the numbers (`montecarlo.core.sampling`), each checks its
fields when it is made, and its field names are the shared vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from montecarlo.core.plugins import Registry
from montecarlo.core.validate import check_int, check_positive, check_scheduler, suggest_keywords
from montecarlo.errors import ValidationError


def _check_backend(name: str, factory: Any) -> None:
    if not callable(factory):
        raise ValidationError("factory", factory, "a function factory(execution, workers) returning a Backend")


#: Executors by name: ``factory(execution, workers)`` makes the backend of a
#: run (``workers``: how many are worth starting). An executor object (a
#: `concurrent.futures.Executor`, a ``distributed.Client``, a backend) or a
#: map-like function is accepted besides a name.
BACKENDS = Registry(
    "executor",
    {
        "processes": "montecarlo.engine.backends.processes:backend",
        "threads": "montecarlo.engine.backends.threads:backend",
        "serial": "montecarlo.engine.backends.serial:backend",
        "dask": "montecarlo.engine.backends.dask:backend",
    },
    _check_backend,
)

#: The built-in executors, in the order help lists them.
EXECUTORS = ("processes", "threads", "serial", "dask")


def register_backend(name: str, factory: Callable[..., Any]) -> None:
    """Register an executor of your own: ``Execution(executor=name)`` then runs blocks on its backend.

    Parameters
    ----------
    name : str
        The executor's name (an identifier).
    factory : callable
        ``factory(execution, workers)`` returns a `montecarlo.engine.backends.Backend`
        for one run: ``execution`` is the run's `Execution`, ``workers`` the
        number of workers worth starting (never more than the run's tasks).
        The backend is closed when the run ends.
    """
    BACKENDS.register(name, factory)


#: Most local workers a run may ask for (each is a process, or a thread).
MAX_WORKERS = 1024

#: Strings `Execution.cache` refuses as folder names: a boolean was meant.
BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "0", "1"})
CACHE_ACCEPTED = "true or false (a boolean, not a string), or the path of a cache folder"


def _is_executor_object(obj: Any) -> bool:
    """A `concurrent.futures.Executor`, a ``distributed.Client`` or a backend: anything that submits."""
    return not isinstance(obj, str) and callable(getattr(obj, "submit", None))


def is_map_like(obj: Any) -> bool:
    """A map-like function, ``map(function, iterable)`` (``multiprocessing.Pool.map``, ``map``), as scipy's ``workers``."""
    return callable(obj) and not isinstance(obj, str) and not _is_executor_object(obj)


def is_dask_client(obj: Any) -> bool:
    """Whether ``obj`` is a ``distributed.Client`` (without importing distributed)."""
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


@suggest_keywords
@dataclass(frozen=True)
class Execution:
    """Where and how blocks run. Never changes a number of the result.

    Parameters
    ----------
    executor : {"processes", "threads", "serial", "dask"}, executor object or map-like function
        ``"processes"`` (default) runs blocks on local worker processes;
        ``"dask"`` on a Dask cluster (a ``LocalCluster`` of ``workers``
        processes, or the one at ``scheduler``); a name registered with
        `register_backend` on that backend. A `concurrent.futures.Executor`
        or a ``distributed.Client`` of your own is used as given and left
        open; so is a map-like function such as ``multiprocessing.Pool.map``
        (scipy's ``workers`` convention), called on rounds of tasks.
    workers : int, optional
        Parallel workers, at most 1024 (default: every core this process may
        use); no more start than the run has blocks.
    scheduler : str, optional
        With ``executor="dask"``: the address of a running scheduler, such as
        ``"tcp://HOST:8786"``.
    retries : int
        Times dead worker processes are replaced (their blocks re-run with the
        same seeds) before the run fails.
    progress : callable or bool, optional
        ``progress(samples_done, samples_total)``, called from the calling
        thread as blocks are folded (a callable with a ``note(text)``
        method is also told the precision reached against a target). By
        default (None) a Jupyter notebook shows tqdm's bar when tqdm is
        installed (``pip install 'montecarlo-engine[notebook]'``) and
        nothing shows elsewhere; True shows a bar anywhere, False none.
    cache : bool or path
        Reuse a finished run of the same RunSpec, model fingerprint and
        versions from the cache instead of computing it, and store this run
        there (`montecarlo.records.cache`; True: the default folder, or a
        folder path; a string such as ``"false"`` or ``"no"`` is refused: a
        boolean was meant). Off by default: a fingerprint cannot see the
        files a model opens.

    Examples
    --------
    >>> Execution("threads", workers=4).workers
    4
    >>> Execution("processes", scheduler="tcp://10.0.0.5:8786")
    Traceback (most recent call last):
    ...
    montecarlo.errors.ValidationError: `scheduler` = 'tcp://10.0.0.5:8786' needs the dask executor; accepted: an address, with the dask executor.
    """

    executor: Any = "processes"
    workers: int | None = None
    scheduler: str | None = None
    retries: int = 2
    progress: Callable[[int, int], None] | bool | None = None
    cache: bool | str = False

    def __post_init__(self) -> None:
        if isinstance(self.executor, str):
            BACKENDS.require(self.executor, "executor")
        elif not (_is_executor_object(self.executor) or is_map_like(self.executor)):
            raise ValidationError(
                "executor",
                self.executor,
                f"one of {', '.join(BACKENDS.names())}, an executor object or a map-like function",
            )
        if self.workers is not None:
            object.__setattr__(self, "workers", check_int(self.workers, "workers", high=MAX_WORKERS))
        if self.scheduler is not None:
            if self.executor != "dask":
                raise ValidationError(
                    "scheduler", self.scheduler, "an address, with the dask executor", "needs the dask executor"
                )
            object.__setattr__(self, "scheduler", check_scheduler(self.scheduler))
        object.__setattr__(self, "retries", check_int(self.retries, "retries", low=0))
        if not (self.progress is None or isinstance(self.progress, bool) or callable(self.progress)):
            raise ValidationError("progress", self.progress, "a function progress(done, total), True, False or None")
        if isinstance(self.cache, os.PathLike):
            object.__setattr__(self, "cache", os.fspath(self.cache))
        if not isinstance(self.cache, (bool, str)) or self.cache == "":
            raise ValidationError("cache", self.cache, CACHE_ACCEPTED)
        if isinstance(self.cache, str) and self.cache.strip().lower() in BOOLEAN_WORDS:
            # "false" would name a folder ./false: a boolean was meant
            meant = "true" if self.cache.strip().lower() in ("true", "yes", "on", "1") else "false"
            raise ValidationError(
                "cache", self.cache, CACHE_ACCEPTED, f"is a string that reads as the boolean {meant}, not a folder"
            )

    @classmethod
    def of(cls, value: Execution | str | Any | None = None, workers: Any = None, executor: Any = None) -> Execution:
        """An `Execution` from the forms `montecarlo.run` accepts.

        ``value`` is an `Execution`, or a name, executor object or map-like
        function (``Execution(executor=value)``), or None for the default.
        ``workers`` and ``executor`` are scipy's shortcuts: ``workers=4``,
        ``executor="threads"``; ``workers`` may also be a map-like function
        such as ``multiprocessing.Pool.map``. They cannot be given together
        with an `Execution`.
        """
        if workers is None and executor is None:
            if value is None:
                return cls()
            return value if isinstance(value, Execution) else cls(executor=value)
        if value is not None:
            given = "workers" if workers is not None else "executor"
            raise ValidationError(
                given, workers if workers is not None else executor,
                f"either `{given}` or `execution`: `{given}` is a shortcut for execution=Execution({given}=...)",
                "is given together with `execution`",
            )  # fmt: skip
        if workers is not None and is_map_like(workers):
            if executor is not None:
                raise ValidationError("executor", executor, "no executor with a map-like `workers`", "is given too")
            return cls(executor=workers)
        return cls(executor=executor if executor is not None else "processes", workers=workers)


@suggest_keywords
@dataclass(frozen=True)
class Checkpointing:
    """Where a run saves its progress, so that a killed run resumes to the same numbers.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file (JSON, written atomically).
    every : float
        Seconds between writes (also written when the run ends, fails or is
        interrupted).
    resume : bool
        Continue the run saved in ``path``. Without a seed of its own, the run
        takes the entropy recorded in the file.

    Examples
    --------
    >>> Checkpointing("pi.ckpt", resume=True)
    Checkpointing(path='pi.ckpt', every=5.0, resume=True)
    """

    path: str
    every: float = 5.0
    resume: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)) or not os.fspath(self.path):
            raise ValidationError("checkpoint", self.path, "a file path")
        object.__setattr__(self, "path", os.fspath(self.path))
        object.__setattr__(self, "every", check_positive(self.every, "checkpoint_every", "5"))
        if not isinstance(self.resume, bool):
            raise ValidationError("resume", self.resume, "true or false")

    @classmethod
    def of(cls, value: Checkpointing | str | os.PathLike | None) -> Checkpointing | None:
        """A `Checkpointing` from a path (or None for no checkpoint)."""
        if value is None or isinstance(value, Checkpointing):
            return value
        return cls(value)  # type: ignore[arg-type]
