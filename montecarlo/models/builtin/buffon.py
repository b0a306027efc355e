"""Buffon's needle: the crossing probability 2l/(πt), and π recovered from it."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.errors import ParameterError
from montecarlo.models.declare import model
from montecarlo.models.derived import Derived
from montecarlo.models.record import Output


def _check(length: float, spacing: float) -> None:
    if length > spacing:
        raise ParameterError(
            "length", length, f"a number <= `spacing` ({spacing!r}) (the short-needle case)", "is out of range"
        )


def _exact(length: float, spacing: float) -> float:
    return 2.0 * length / (math.pi * spacing)


def _pi(p: float, length: float, spacing: float) -> float:
    # P = 2l / (π t)  =>  π = 2l / (t P).
    return 2.0 * length / (spacing * p)


def _pi_gradient(p: float, length: float, spacing: float) -> list[float]:
    return [-2.0 * length / (spacing * p * p)]


def crossings_at(u: np.ndarray, length: float, spacing: float) -> np.ndarray:
    """The uniform form: distance ``x = u_1 t/2`` and angle ``θ = u_2 π/2`` of each needle.

    A fixed dimension leaves no room for the rejection step of `simulate`,
    so the angle is drawn with π here: the crossing probability is what
    this form estimates, and π follows from it as before.
    """
    x = u[:, 0] * (spacing / 2.0)
    return x <= (length / 2.0) * np.sin(u[:, 1] * (math.pi / 2.0))


@model(
    name="buffon",
    outputs=[Output("crossing", kind="probability")],
    exact=_exact,
    ranges={"length": (0.0, None, "()"), "spacing": (0.0, None, "()")},
    check=_check,
    derived=[
        Derived(
            "pi",
            _pi,
            inputs=("crossing",),
            gradient=_pi_gradient,
            exact=math.pi,
            description="π = 2 length / (spacing × crossing), delta-method interval",
        )
    ],
    block_size=1 << 20,
    batch_size=1 << 15,
    dimension=2,
    uniform=crossings_at,
)
def simulate(rng: np.random.Generator, n: int, length: float = 1.0, spacing: float = 2.0) -> np.ndarray:
    """Buffon's needle: a needle of length l dropped on lines a distance t apart (l <= t).

    The needle's centre lies at distance ``x ~ U(0, t/2)`` from the nearest
    line and makes an angle ``θ ~ U(0, π/2)`` with it; it crosses the line
    when ``x <= (l/2) sin θ``. The crossing probability is exactly
    ``2l / (π t)`` (G.-L. Leclerc, Comte de Buffon, *Essai d'arithmétique
    morale*, 1777; e.g. Ross, *A First Course in Probability*, 8th ed.,
    Example 6.3d). The derived quantity ``pi = 2l / (t × crossing)`` has a
    delta-method interval from the crossing probability's standard error;
    exact value π.

    The direction is drawn without using π: ``sin θ = v / sqrt(u² + v²)`` for
    a point ``(u, v)`` uniform in the quarter disc (rejection from the unit
    square), so the simulation does not assume the value it estimates.
    """
    # Rejection in vectorised rounds: each round draws enough points for the
    # expected acceptance rate π/4 (~0.785) plus a margin; the number of rounds
    # depends only on the stream, so blocks stay deterministic.
    sines = np.empty(n)
    filled = 0
    while filled < n:
        want = n - filled
        m = int(want * 1.3) + 16
        uv = rng.random((2, m))
        r2 = uv[0] * uv[0] + uv[1] * uv[1]
        keep = (r2 <= 1.0) & (r2 > 0.0)
        s = uv[1][keep] / np.sqrt(r2[keep])
        take = min(want, s.size)
        sines[filled : filled + take] = s[:take]
        filled += take
    x = rng.random(n) * (spacing / 2.0)
    return x <= (length / 2.0) * sines
