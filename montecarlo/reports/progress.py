"""A progress bar on a terminal: samples done, rate and time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO


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
