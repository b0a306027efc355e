"""Small models for the engine tests (importable by worker processes)."""

from __future__ import annotations

import os
import signal
import time

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


def terminate_once(rng, n, marker: str = ""):
    """Sends SIGTERM to its own worker process the first time it runs: the worker must die of it."""
    if marker and not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise RuntimeError("SIGTERM did not end this worker")
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


def spread_apart(rng, n):
    """0 or 2.5e154, one sample per block: every block and the folded mean (1.25e154) are finite, the fold's co-moment is not."""
    return np.where(rng.random(n) < 0.5, 0.0, 2.5e154)


def _huge_at(u):
    return np.full(u.shape[0], 1e308)


@model(dimension=1, uniform=_huge_at)
def huge_quasi(rng, n):
    """Finite values whose mean overflows, in both forms (quasi-random points included)."""
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


# --- models with a uniform form (quasi-random samplers) ---------------------


def _the_points(u):
    return u


@model(outputs=["x1", "x2", "x3"], dimension=3, uniform=_the_points, block_size=256, batch_size=64)
def points3(rng, n):
    """The sample points themselves: the replicate means are the means of the point sets."""
    return rng.random((n, 3))


class INTERRUPT:
    """`interrupted`'s uniform form raises KeyboardInterrupt after ``after`` calls (None: never).

    A class: the model's fingerprint sees a class by its source, not by the
    values its attributes hold now, so the counter does not make the
    resumed run another model's (as a dictionary's contents would).
    """

    calls = 0
    after: int | None = None


def _exp_sum_at(u):
    INTERRUPT.calls += 1
    if INTERRUPT.after is not None and INTERRUPT.calls > INTERRUPT.after:
        raise KeyboardInterrupt
    return np.exp(u[:, 0] + u[:, 1])


@model(exact=lambda: (np.e - 1) ** 2, dimension=2, uniform=_exp_sum_at, block_size=256, batch_size=128)
def interrupted(rng, n):
    """E[exp(U + V)] = (e - 1)^2; the uniform form can be made to stop part-way (as Ctrl-C would)."""
    return np.exp(rng.random(n) + rng.random(n))


def _dimension_of(k: int = 2):
    return k


@model(dimension=_dimension_of, uniform=lambda u, k: u.sum(axis=1), block_size=128)
def sum_of_uniforms(rng, n, k: int = 2):
    """E[U_1 + ... + U_k] = k/2; the dimension is the parameter k."""
    return rng.random((n, k)).sum(axis=1)


@model(outputs=["normal", "lognormal", "poisson"], block_size=500, batch_size=500)
def laws(rng, n):
    """A standard normal Z, exp(Z) (lognormal) and an independent Poisson(3) count (a discrete output)."""
    z = rng.standard_normal(n)
    return np.column_stack([z, np.exp(z), rng.poisson(3.0, n)])


@model(outputs=["x"], exact=lambda: 1.0, block_size=1000, batch_size=1000)
def exponential(rng, n):
    """Exponential(1): mean 1, variance 1, excess kurtosis 6."""
    return rng.exponential(1.0, n)


def blas_threads(rng, n):
    """The most threads any native thread pool of the worker may start, and a BLAS product to use them."""
    from threadpoolctl import threadpool_info

    a = rng.random((64, 64))
    threads = max((lib["num_threads"] for lib in threadpool_info()), default=1)
    return np.full(n, float(threads)) + 0.0 * (a @ a)[0, 0]


def kernel_compiled_here(rng, n):
    """1.0 for each sample drawn where the process running it had the statistics kernel compiled, else 0.0."""
    from montecarlo._kernels import stats

    return np.full(n, float(stats.KERNEL.compiled))
