"""The git state of the repository holding an experiment file (recorded in its result's provenance)."""

from __future__ import annotations

import os
import subprocess

#: Seconds a `git` call may take before provenance goes without it.
GIT_TIMEOUT = 10.0


def _git(folder: str, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", folder, *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            # never prompt (credentials, pagers) and never wait on a lock
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):  # git missing, or hung
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(path: str) -> dict | None:
    """Commit and dirty flags of the git repository holding ``path``.

    Returns None when ``git`` is not installed or ``path`` is not inside a
    repository. ``dirty`` is true when tracked files differ from the commit;
    ``config_modified`` when the config file itself is untracked or differs.
    """
    folder = os.path.dirname(os.path.abspath(path))
    root = _git(folder, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    commit = _git(folder, "rev-parse", "HEAD")  # None in a repository with no commit yet
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    own = _git(folder, "status", "--porcelain", "--untracked-files=all", "--", os.path.abspath(path))
    return {
        "commit": commit,
        "dirty": None if status is None else bool(status),
        "config_modified": None if own is None else bool(own),
        "root": root,
        "config_path": os.path.relpath(os.path.abspath(path), root),
    }
