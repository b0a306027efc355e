"""Files: read back bounded, typed and strict; written atomically, checked before a run.

**Reading.**

A path given as a checkpoint, a result or an experiment file may name
anything: a FIFO (reading it blocks for ever), ``/dev/zero`` (endless), a
file of gigabytes, bytes that are not UTF-8, JSON nested a million deep. The
file's type and size are checked on the open descriptor before a byte is
read, at most the size cap is ever read, and every problem is one line
(`montecarlo.errors.FileProblem`) that the caller words as its own error.

**Writing.** A crash or Ctrl-C leaves the old file or the new one, never
half of one. Files are checked before a run, written atomically, readable
as the umask says.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO

from montecarlo.errors import NO_SPACE, FileProblem, NoSpaceError, ValidationError

#: Largest checkpoint or result file read back, in bytes. A result holds a few
#: kilobytes per output (its trace has at most ~300 points); an experiment's
#: holds one result per point.
MAX_BYTES = 128 * 2**20

#: Largest experiment (TOML) file read, in bytes: they are written by hand.
MAX_TEXT_BYTES = 2**20

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, when it is not a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: str | os.PathLike, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file ``path``, if it holds at most ``limit`` of them.

    Raises
    ------
    FileProblem
        When it cannot be opened, is not a regular file (checked on the open
        descriptor, so a symbolic link is judged by its target), or is
        larger than ``limit``.
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileProblem(f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem(f"is {kind_of(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise FileProblem(f"is {info.st_size:,} bytes, more than the {limit:,} this reads")
        chunks = []
        left = limit + 1  # one byte more tells a file that grew past the cap
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise FileProblem(f"grew past the {limit:,} bytes this reads")
        return data
    except OSError as exc:
        raise FileProblem(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (see `read_bytes`)."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(f"is not UTF-8 text (byte {exc.start})") from None


def _no_constant(name: str) -> Any:
    raise FileProblem(f"holds {name}, which strict JSON has no place for (this project writes null)")


def parse_json(text: str) -> Any:
    """Strict JSON: no ``NaN`` or ``Infinity``, and any nesting depth refused cleanly."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FileProblem(f"is truncated or not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise FileProblem("is nested too deeply to be a file this project wrote") from None


def read_json(path: str | os.PathLike, limit: int = MAX_BYTES) -> Any:
    """The JSON value in the regular file ``path`` (see `read_text` and `parse_json`)."""
    return parse_json(read_text(path, limit))


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
