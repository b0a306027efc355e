"""Small models for the engine tests (importable by worker processes)."""

from __future__ import annotations

import os

import numpy as np

from montecarlo import Output, model


@model(outputs=["u", "u2", "hit"], exact=lambda: {"u": 0.5, "u2": 1 / 3, "hit": 0.25}, block_size=1000, batch_size=300)
def moments3(rng, n):
    """Three correlated outputs of U ~ uniform(0, 1): U, U², [U < 1/4]."""
    u = rng.random(n)
    return np.column_stack([u, u * u, u < 0.25])


@model(outputs=[Output("heads", kind="probability")], block_size=100)
def coin(rng, n, p: float = 0.5):
    """Bernoulli(p)."""
    return rng.random(n) < p


def exp_mean(rng, n, a: float = 1.0):
    """E[exp(aU)] = (e^a - 1)/a, a plain undecorated function."""
    return np.exp(a * rng.random(n))


def raises(rng, n):
    """Raises in every block whose first draw is below 0.3 (deterministic per block)."""
    x = rng.random(n)
    if x[0] < 0.3:
        raise ValueError("boom: the model found something it cannot handle")
    return x


def wrong_shape(rng, n):
    return rng.random(n + 1)


def returns_nan(rng, n):
    x = rng.random(n)
    if x[0] < 0.5:
        x[n // 2] = np.nan
    return x


def die_once(rng, n, marker: str = ""):
    """Kills its worker process the first time it runs (a marker file records it)."""
    if marker and not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        os._exit(1)
    return rng.random(n)


def always_die(rng, n):
    os._exit(1)


def slow(rng, n, delay: float = 0.01):
    """Uniform draws, slowly (for interrupting runs part-way)."""
    import time

    time.sleep(delay)
    return rng.random(n)


# Models that misbehave in every way the hardening tests try (tests/test_supervision.py,
# tests/test_adversarial.py).


def exits(rng, n, code: int = 3):
    """Calls sys.exit: the model's error, not the run's exit."""
    import sys

    sys.exit(code)


def interrupts_itself(rng, n):
    """Raises KeyboardInterrupt without any Ctrl-C."""
    raise KeyboardInterrupt


class Odd(BaseException):
    """A BaseException that is neither Exception, SystemExit nor KeyboardInterrupt."""


def raises_base(rng, n):
    raise Odd("an odd base exception")


def raises_lines(rng, n):
    raise ValueError("first line\nsecond line\n\nthird line")


def huge(rng, n):
    """Finite values whose mean overflows float64."""
    return np.full(n, 1e308)


def far_apart(rng, n):
    """One sample per block, +-0.9e308: each block is finite, their fold is not."""
    return np.where(rng.random(n) < 0.5, -0.9e308, 0.9e308)


def forever(rng, n, marker: str = "", seconds: float = 3600.0):
    """Does not return for ``seconds`` (sleeps in short steps); touches ``marker`` when it starts."""
    import time

    if marker:
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
    return rng.random(n)


def chatty(rng, n):
    """Prints to stdout."""
    print("a line the model printed")
    return rng.random(n)


def moves(rng, n):
    """Changes the working directory."""
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    return rng.random(n)


def segfault(rng, n):
    """Crashes its process."""
    import ctypes

    ctypes.string_at(0)
