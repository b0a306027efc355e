"""The cache's folder: its marker, the names of its entries, and what a folder is to the cache.

The cache touches only what it wrote. When it makes its folder it writes
``CACHEDIR.TAG`` there (the Cache Directory Tagging signature, which backup
tools honour: https://bford.info/cachedir/, and a line naming montecarlo),
and it names every entry ``ab/<64 hex digits>.json`` (``ab``: the key's first
two digits). Only files of that form, in a folder so marked, are entries:
`entries` lists nothing else, so reading, pruning, ``mc cache info`` and
``mc cache clear`` never see another file. `kind` says what a folder is to
the cache; `montecarlo.records.cache` refuses a ``"foreign"`` one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile

from montecarlo.records.files import umask, write_atomic

#: The marker of a cache folder: the Cache Directory Tagging spec.
MARKER = "CACHEDIR.TAG"
SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
#: The line that says the tagged folder is montecarlo's cache (another program's tag is not).
OWNER_LINE = "# This file is a cache directory tag created by montecarlo."
MARKER_TEXT = (
    f"{SIGNATURE}\n"
    f"{OWNER_LINE}\n"
    "# montecarlo keeps finished runs here and touches only files named ab/<64 hex digits>.json.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)
#: An entry: ``<shard>/<key>.json``, the shard being the key's first two hex digits.
ENTRY = re.compile(r"^([0-9a-f]{2})[0-9a-f]{62}\.json$")
SHARD = re.compile(r"^[0-9a-f]{2}$")
#: What an interrupted write of an entry or of the marker leaves (`tempfile` names).
ENTRY_TEMP = re.compile(r"^\.[0-9a-f]{64}\.json\.[a-z0-9_]{8}\.tmp$")
MARKER_TEMP = re.compile(r"^\.CACHEDIR\.TAG\.[a-z0-9_]{8}\.tmp$")

#: Folders (absolute paths) this process has found marked: not read again.
_MARKED: set[str] = set()


def kind(folder: str) -> str:
    """What the absolute path ``folder`` is to the cache.

    ``"missing"`` (made at the first write), ``"cache"`` (marked),
    ``"empty"``, ``"entries"`` (unmarked, nothing but entries: a cache of a
    release without markers), ``"foreign"`` (other files, or another
    program's tag) or ``"unusable"`` (not a folder, or not readable).
    """
    try:
        mode = os.stat(folder).st_mode
    except FileNotFoundError:
        _MARKED.discard(folder)
        return "missing"
    except OSError:
        return "unusable"
    if not stat.S_ISDIR(mode):
        return "unusable"
    if folder in _MARKED:
        return "cache"
    marker = read_marker(os.path.join(folder, MARKER))
    if marker == "ours":
        _MARKED.add(folder)
        return "cache"
    if marker == "other":
        return "foreign"
    try:
        names = os.listdir(folder)
    except OSError:
        return "unusable"
    if not names or all(MARKER_TEMP.match(n) for n in names):
        return "empty"
    return "entries" if _only_entries(folder, names) else "foreign"


def read_marker(path: str) -> str:
    """``"ours"``, ``"other"`` (another program's tag) or ``"none"``."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return "none" if not os.path.lexists(path) else "other"
    text = head.decode("utf-8", "replace")
    if not text.startswith(SIGNATURE):
        return "other"
    return "ours" if OWNER_LINE in text.splitlines() else "other"


def _only_entries(folder: str, names: list[str]) -> bool:
    """Whether ``folder`` holds nothing but shard folders of entries."""
    for name in names:
        path = os.path.join(folder, name)
        if MARKER_TEMP.match(name):
            continue
        if not SHARD.match(name) or not os.path.isdir(path) or os.path.islink(path):
            return False
        try:
            files = os.listdir(path)
        except OSError:
            return False
        for f in files:
            m = ENTRY.match(f)
            if not ((m is not None and m.group(1) == name) or ENTRY_TEMP.match(f)):
                return False
    return True


def mark(folder: str) -> None:
    """Make ``folder`` a cache: create it and write its marker (when it is missing, empty or entries only)."""
    found = kind(folder)
    if found == "cache":
        return
    if found not in ("missing", "empty", "entries"):
        raise PermissionError(errno.EPERM, "it is not a montecarlo cache")
    os.makedirs(folder, exist_ok=True)
    write_atomic(os.path.join(folder, MARKER), MARKER_TEXT)
    _MARKED.add(folder)


def entries(folder: str, temps: bool = False) -> list[str]:
    """The paths of the entries in ``folder`` (and leftover temporary files of entries if ``temps``), sorted.

    Regular files only: a symbolic link or a folder of an entry's name is not one.
    """
    out = []
    try:
        shards = [d for d in os.scandir(folder) if SHARD.match(d.name) and d.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    for shard in shards:
        try:
            files = list(os.scandir(shard.path))
        except OSError:
            continue
        for f in files:
            m = ENTRY.match(f.name)
            ours = (m is not None and m.group(1) == shard.name) or (temps and ENTRY_TEMP.match(f.name))
            if ours and f.is_file(follow_symlinks=False):
                out.append(f.path)
    return sorted(out)


def probe(folder: str) -> str | None:
    """Why runs cannot be stored in ``folder`` (or the folder that would hold it), or None when they can.

    A trial file is made and removed: permission bits say little for root,
    or on a read-only mount.
    """
    where = folder
    while not os.path.isdir(where):
        parent = os.path.dirname(where)
        if parent == where or os.path.lexists(where):
            return None  # not a folder: `kind` says so
        where = parent
    try:
        fd, trial = tempfile.mkstemp(prefix=f".{MARKER}.", suffix=".tmp", dir=where)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(trial)
    return None


def write_entry(path: str, data: bytes) -> None:
    """Write an entry through a temporary file and a rename (no fsync: a torn entry fails its checksum)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
