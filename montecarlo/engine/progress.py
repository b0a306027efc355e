"""Progress bars: on a terminal (samples done, rate, time left) and in a notebook (tqdm's).

A bar is a callback ``progress(done, total)``; one that also has
``note(text)`` is told the precision a run with a target has reached
(``half-width 0.012 > 0.01``), after each stopping decision.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO


def _si(x: float) -> str:
    for unit, div in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.0f}"


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """``progress(done, total)`` callback drawing on ``stream``.

    Draws nothing during the first ``delay`` seconds (short runs stay silent)
    and nothing at all when ``stream`` is not a terminal. With ``open_ended``
    (a run that stops on a precision target) ``total`` is only a cap: the
    bar shows samples and rate, without a percentage or time left.
    """

    def __init__(
        self, stream: TextIO | None = None, delay: float = 1.0, width: int = 30, open_ended: bool = False
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay = delay
        self.width = width
        self.start = time.perf_counter()
        self.last = 0.0
        self.drawn = False
        self.open_ended = open_ended
        self.precision = ""

    def note(self, text: str) -> None:
        """Show ``text`` (the precision reached against the target) after the counts."""
        self.precision = text

    def __call__(self, done: int, total: int) -> None:
        """Draw the bar for ``done`` of ``total`` samples (at most ten times a second)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.delay or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        frac = done / total if total else 1.0
        filled = int(frac * self.width)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        if self.open_ended:
            text = f"\r{_si(done)} samples (cap {_si(total)})  {_si(rate)}/s  {_clock(elapsed)} elapsed "
            if self.precision:
                text += f" {self.precision} "
        else:
            text = f"\r[{bar}] {frac * 100:5.1f}%  {_si(done)}/{_si(total)} samples  {_si(rate)}/s  ETA {_clock(eta)} "
        self.stream.write(text)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (an IPython shell that talks to a notebook)."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


class NotebookBar:
    """tqdm's bar (``tqdm.auto``: a widget in Jupyter), for ``progress(done, total)`` and ``note(text)``.

    Shown after ``delay`` seconds, as the terminal bar is; its postfix is the
    precision note of a run with a target.
    """

    def __init__(self, open_ended: bool = False, delay: float = 1.0) -> None:
        from tqdm.auto import tqdm

        self.open_ended = open_ended
        self.bar = tqdm(total=None, unit=" samples", unit_scale=True, delay=delay, leave=True)

    def __call__(self, done: int, total: int) -> None:
        """Move the bar to ``done`` of ``total`` samples (``total`` is the cap of an open-ended run)."""
        if not self.open_ended and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def note(self, text: str) -> None:
        """Show ``text`` (the precision reached against the target) beside the bar."""
        self.bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        """Leave the bar where it ended."""
        self.bar.close()


@contextlib.contextmanager
def progress_for(setting: Any, open_ended: bool) -> Iterator[Callable[[int, int], None] | None]:
    """The progress callback an `Execution`'s ``progress`` stands for, closed when the run ends.

    A function is used as it is. ``None`` (the default) shows tqdm's bar in
    a Jupyter notebook when tqdm is installed, and nothing elsewhere;
    ``True`` shows a bar anywhere (tqdm's in a notebook, else the terminal
    bar on stderr); ``False`` shows none.
    """
    if callable(setting) or setting is False:
        yield setting or None
        return
    bar: Any = None
    if in_notebook():
        with contextlib.suppress(ImportError):
            bar = NotebookBar(open_ended)
    if bar is None and setting is True:
        bar = ProgressBar(open_ended=open_ended)
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()
