"""Reading back the files this project wrote: bounded, typed, strict.

A path given as a checkpoint, a result or an experiment file may name
anything: a FIFO (reading it blocks for ever), ``/dev/zero`` (endless), a
file of gigabytes, bytes that are not UTF-8, JSON nested a million deep. The
file's type and size are checked on the open descriptor before a byte is
read, at most the size cap is ever read, and every problem is one line
(`FileProblem`) that the caller words as its own error.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

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


class FileProblem(ValueError):
    """Why a file cannot be read back, as a phrase (``"is a FIFO (named pipe), not a regular file"``)."""


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
