"""Files this project writes: checked before a run, written atomically, readable as the umask says.

A crash or Ctrl-C leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from typing import BinaryIO

from montecarlo.errors import NO_SPACE, NoSpaceError, ValidationError
from montecarlo.reading import kind_of


def check_writable(path: str | os.PathLike, what: str) -> str:
    """Fail before any work starts when the file ``path`` cannot be written.

    The path must name a regular file (or none yet) in an existing folder in
    which a file can actually be created: a trial file is made and removed,
    since permission bits say little for root or on a read-only mount. A
    symbolic link is judged by its target, which is what gets written.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    what : str
        The option that names it, for the message.

    Returns
    -------
    str
        The path.
    """
    path = os.fspath(path)
    accepted = "a file path in an existing, writable folder"
    if not path:
        raise ValidationError(what, path, accepted)
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise ValidationError(what, path, accepted, f"is in the folder {folder!r}, which does not exist")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ValidationError(what, path, accepted, f"cannot be looked at ({exc.strerror})") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise ValidationError(what, path, accepted, f"is {kind_of(mode)}, not a regular file")
    try:
        fd, trial = tempfile.mkstemp(prefix=".mc-probe-", dir=folder)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise NoSpaceError(f"cannot write {what} {path!r}: {exc.strerror} (the disk or quota is full)") from None
        raise ValidationError(
            what, path, accepted, f"is in the folder {folder!r}, which is not writable ({exc.strerror})"
        ) from None
    os.close(fd)
    os.unlink(trial)
    return path


def umask() -> int:
    """The process's file mode creation mask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, content: str | Callable[[BinaryIO], object]) -> None:
    """Write ``content`` to ``path`` through a temporary file, fsync and rename.

    A symbolic link at ``path`` is kept: the file it points to is replaced.

    ``content`` is text (written as UTF-8) or a function that writes to a
    binary file object (a figure's ``savefig``). The file gets the
    permissions a plain ``open`` would give it (``0o666`` less the umask),
    not the private ones of a temporary file.
    """
    path = os.fspath(path)
    if os.path.islink(path):  # write the file it points to; the link stays a link
        path = os.path.realpath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8"))
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - some filesystems refuse directory fsync
        pass
