"""One run per checkpoint file: a lock held for the run's life.

Two runs writing one checkpoint would replace each other's progress in
turn. A run holds an exclusive ``flock`` on ``.NAME.lock`` beside the
checkpoint (the checkpoint itself is replaced at every write, so it cannot
carry the lock) from before it reads or checks the checkpoint until it has
written its last one; a second run is refused at once. The kernel drops the
lock when its process dies, however it dies, so a stale lock file never
blocks a resume. Where ``fcntl`` is missing (Windows) there is no lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from montecarlo.errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def lock_path(path: str) -> str:
    """The lock file of checkpoint ``path`` (a symbolic link is followed: one lock per file)."""
    real = os.path.realpath(path)
    folder, name = os.path.split(real)
    return os.path.join(folder, f".{name}.lock")


@contextlib.contextmanager
def held(path: str) -> Iterator[None]:
    """Hold the lock of checkpoint ``path`` for the block.

    Raises
    ------
    CheckpointError
        When another run holds it (naming that run's process).
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    where = lock_path(path)
    while True:
        fd = os.open(where, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise CheckpointError(
                f"checkpoint {path!r} is in use by another run (process {holder}); it was left untouched: "
                "wait for that run to end, or use another --checkpoint file."
            ) from None
        # The holder before us may have removed the file after we opened it:
        # then our lock is on a file no one else can see. Take the new one.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(where))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(where)  # while still holding it: whoever opens it next makes a new one
        os.close(fd)
