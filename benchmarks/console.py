"""The console examples of the README and the guides, run again: check them, or write their output in place.

Every ```console block whose commands are ``$ mc run``, ``$ mc mlmc`` or
``$ mc sensitivity`` of a built-in model is run with the installed ``mc``
(from the repository's root). With ``--check`` (the default) each printed
line must equal the block's, except the timing line (``2.21 s, 453M
samples/s, ...``), whose figures depend on the machine; with ``--write``
the blocks get the output of this machine, timing included: run it on a
quiet machine after ``pip install .``, as a user would, so that the
README's figures are what its own set-up command gives.

    python benchmarks/console.py            # check every block; exit 1 on a difference
    python benchmarks/console.py --write    # rewrite the blocks with this machine's output
    python benchmarks/console.py README.md  # only these files
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
COMMANDS = ("mc run ", "mc mlmc ", "mc sensitivity ")
#: The line that reports the run's time: its figures are the machine's.
TIMING = re.compile(r"^(reused from the cache; computed in )?\d+(\.\d+)? s, ")


def commands(block: str) -> list[tuple[str, list[str]]]:
    """``[(command, printed lines)]`` of a block, or [] when it holds anything this script does not run."""
    out: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            cmd = line[2:].split("  #")[0].strip()
            if not cmd.startswith(COMMANDS):
                return []
            out.append((cmd, []))
        elif out:
            out[-1][1].append(line)
        else:
            return []
    return out


def run(cmd: str) -> list[str]:
    """What ``cmd`` prints, run from the repository's root: its notes (stderr, printed as it starts), then its table."""
    mc = shutil.which("mc") or "mc"
    argv = [mc, *shlex.split(cmd)[1:]]
    p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    return (p.stderr + p.stdout).splitlines()


def same(shown: list[str], printed: list[str]) -> bool:
    """Equal line for line, a timing line matching any timing line."""
    if len(shown) != len(printed):
        return False
    return all(a == b or (TIMING.match(a) and TIMING.match(b)) for a, b in zip(shown, printed, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=FILES)
    parser.add_argument("--write", action="store_true", help="rewrite the blocks with this machine's output")
    args = parser.parse_args()
    failed = 0
    for path in (p.resolve() for p in args.files):
        text = path.read_text(encoding="utf-8")
        new = text
        for m in BLOCK.finditer(text):
            cmds = commands(m.group(1))
            if not cmds:
                continue
            body = []
            for cmd, shown in cmds:
                printed = run(cmd)
                ok = same(shown, printed)
                where = f"{path.relative_to(ROOT)}: $ {cmd}"
                print(f"{'same' if ok else 'DIFFERS'}  {where}")
                if not ok and not args.write:
                    failed += 1
                    for line in printed:
                        print(f"    | {line}")
                body += [f"$ {cmd}", *printed]
            if args.write:
                new = new.replace(m.group(0), "```console\n" + "\n".join(body) + "\n```", 1)
        if args.write and new != text:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
