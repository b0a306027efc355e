"""The model a Sobol' sensitivity analysis runs: ``"sensitivity(MODEL)"``, an ordinary model of its own.

For a model ``f(x, **params)`` of ``d`` declared independent inputs
(`montecarlo.models.inputs`), one sample of the derived model is one base
point of the pick-freeze design: a uniform point ``u`` of dimension ``2d``
(plain random, or scrambled Sobol' or Halton points: the engine draws it as
for any model), ``A = u[:, :d]`` and ``B = u[:, d:]`` in input space, and
the ``d`` mixed points ``AB_i`` (``A`` with column ``i`` from ``B``). ``f``
is evaluated at ``A``, ``B`` and every ``AB_i``: ``d + 2`` evaluations per
base point. Per base point and per model output the sample is the ``3d + 2``
terms whose means the estimators need, with ``D_i = f(AB_i) - f(A)`` and a
shift ``c`` (`shift`)::

    fB = f(B) - c,   D_i,   fBD_i = (f(B) - c) D_i,   T_i = D_i^2 / 2,   Z = (f(A) - f(B))^2 / 2

With second-order indices (the analysis ``"sensitivity2(MODEL)"``), ``f``
is also evaluated at the ``d`` points ``BA_j`` (``B`` with column ``j``
from ``A``): ``2d + 2`` evaluations, and ``1 + d + d (d - 1) / 2`` more
terms per output: ``fA = f(A) - c``, ``fBA_j = f(BA_j) - c`` and
``P_jk = fBA_j (f(AB_k) - c)`` for ``j < k``.

so the engine keeps their means and co-moments per block, folds them in
block order, and the indices are derived estimates of those means
(`montecarlo.models.derived.Derived`, delta-method intervals with the
analytic gradients, `montecarlo.analyses.sensitivity_formulas`; on the
``R`` replicate means for quasi-random points):

- variance ``V = mean Z`` (``E[(f(A) - f(B))^2] / 2 = Var f``);
- first order ``S_i = (mean fBD_i - mean fB * mean D_i) / mean Z``, the
  centred form of Saltelli et al. (2010), Table 2 (b): the sample covariance
  of ``f(B)`` and ``f(AB_i) - f(A)``, whatever ``c``;
- total ``ST_i = mean T_i / mean Z`` (Jansen 1999; Saltelli et al. 2010,
  Table 2 (f)).

References: A. Saltelli, P. Annoni, I. Azzini, F. Campolongo, M. Ratto and
S. Tarantola, "Variance based sensitivity analysis of model output. Design
and estimator for the total sensitivity index", Comput. Phys. Commun. 181
(2010) 259-270; M. J. W. Jansen, "Analysis of variance designs for model
output", Comput. Phys. Commun. 117 (1999) 35-43; I. M. Sobol' and Yu. L.
Levitan, Comput. Phys. Commun. 117 (1999) 52-61 (centring); A. Saltelli,
"Making best use of model evaluations to compute sensitivity indices",
Comput. Phys. Commun. 145 (2002) 280-297.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from montecarlo.analyses.sensitivity_formulas import indices
from montecarlo.core.layout import power_of_two_at_most
from montecarlo.errors import ValidationError
from montecarlo.models.inputs import Inputs
from montecarlo.models.record import Model, Output

#: Doubles a batch's statistics may hold at once (at most a block per call): ``K (K + 1) / 2 + 2 K``
#: rows of products per point for ``K`` terms (`montecarlo.stats.sums`), so the batch shrinks as they grow.
BATCH_DOUBLES = 1 << 22
#: Base points per seeded block (a power of two, so Sobol' points may use it), and the
#: fewest per model call.
BLOCK = 1 << 12
MIN_BATCH = 64


@dataclass(frozen=True)
class Layout:
    """Where each term and index of an analysis is: names of the derived model's outputs and estimates.

    Per model output ``o`` the ``3d + 2`` terms, in column order:
    ``o_fB``, ``o_D_<input>`` (d), ``o_fBD_<input>`` (d), ``o_T_<input>`` (d), ``o_Z``; with
    ``second``, then ``o_fA``, ``o_fBA_<input>`` (d) and ``o_P_<j>_<k>`` (pairs ``j < k``). The
    indices are ``o_S_<input>``, ``o_ST_<input>`` and ``o_S2_<j>_<k>``.
    """

    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    second: bool = False

    @property
    def width(self) -> int:
        """Terms per model output."""
        d = len(self.inputs)
        return 3 * d + 2 + (1 + d + d * (d - 1) // 2 if self.second else 0)

    @property
    def evaluations(self) -> int:
        """Model evaluations per base point: ``d + 2``, or ``2d + 2`` with second-order indices."""
        return (2 if self.second else 1) * len(self.inputs) + 2

    def pairs(self) -> list[tuple[str, str]]:
        """The pairs of inputs ``(j, k)``, ``j`` before ``k``, of the second-order indices (none without)."""
        d = self.inputs
        return [(d[a], d[b]) for a in range(len(d)) for b in range(a + 1, len(d))] if self.second else []

    def terms(self, output: str) -> list[str]:
        """The term names of one model output, in column order."""
        d = self.inputs
        names = [
            f"{output}_fB",
            *(f"{output}_D_{i}" for i in d),
            *(f"{output}_fBD_{i}" for i in d),
            *(f"{output}_T_{i}" for i in d),
            f"{output}_Z",
        ]
        if self.second:
            names += [f"{output}_fA", *(f"{output}_fBA_{i}" for i in d)]
            names += [f"{output}_P_{j}_{k}" for j, k in self.pairs()]
        return names

    def first(self, output: str, name: str) -> str:
        """The name of the first-order index of input ``name`` for ``output``."""
        return f"{output}_S_{name}"

    def total(self, output: str, name: str) -> str:
        """The name of the total index of input ``name`` for ``output``."""
        return f"{output}_ST_{name}"

    def second_order(self, output: str, j: str, k: str) -> str:
        """The name of the second-order index of inputs ``j`` and ``k`` for ``output``."""
        return f"{output}_S2_{j}_{k}"

    def variance(self, output: str) -> str:
        """The term whose mean is the variance of ``output``."""
        return f"{output}_Z"


def _returned(y: Any, m: int, k: int) -> np.ndarray:
    """``f``'s outcomes for ``m`` points as an ``(m, k)`` float array (a ValueError naming the shape if not)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1 and k == 1 and y.shape[0] == m:
        return y.reshape(m, 1)
    if y.shape != (m, k):
        want = f"({m},)" if k == 1 else f"({m}, {k})"
        raise ValueError(f"the model's function returned shape {y.shape} for {m} input points; expected {want}")
    return y


def shift(inputs: Inputs, k: int, params: dict[str, Any]) -> np.ndarray:
    """The shift ``c``: ``f`` at the inputs' medians (0 where that is not finite), one per output.

    Every estimate is the same for any ``c``; the co-moments behind the
    intervals (fourth moments of ``f``) lose digits when ``|mean f|`` is
    large against its spread, unless ``f`` is taken about a value near its
    mean. ``f`` at the medians is such a value, fixed by the model and its
    parameters alone, so every block uses the same one.
    """
    centre = _returned(inputs.function(inputs.values(np.full((1, inputs.dimension), 0.5)), **params), 1, k)[0]  # type: ignore[misc]
    return np.where(np.isfinite(centre), centre, 0.0)


def terms(inputs: Inputs, k: int, u: np.ndarray, params: dict[str, Any], second: bool = False) -> np.ndarray:
    """The terms of the base points ``u`` of shape ``(n, 2d)``: shape ``(n, k width)`` (`Layout`).

    ``f`` is called once on the points ``A``, ``B``, ``AB_1``, ..., ``AB_d``
    (and ``BA_1``, ..., ``BA_d`` with ``second``) stacked in that order.
    """
    n, d = u.shape[0], inputs.dimension
    xa, xb = inputs.values(u[:, :d]), inputs.values(u[:, d:])
    blocks = 2 * d + 2 if second else d + 2
    x = np.empty((blocks * n, d))
    x[:n], x[n : 2 * n] = xa, xb
    for i in range(d):
        rows = x[(i + 2) * n : (i + 3) * n]
        rows[:] = xa
        rows[:, i] = xb[:, i]
        if second:
            rows = x[(d + i + 2) * n : (d + i + 3) * n]
            rows[:] = xb
            rows[:, i] = xa[:, i]
    y = _returned(inputs.function(x, **params), blocks * n, k)  # type: ignore[misc]
    c = shift(inputs, k, params)
    first = 3 * d + 2
    w = first + (1 + d + d * (d - 1) // 2 if second else 0)
    out = np.empty((n, k * w))
    for j in range(k):
        fa, fb = y[:n, j], y[n : 2 * n, j]
        fab = y[2 * n : (d + 2) * n, j].reshape(d, n).T
        diff = fab - fa[:, None]
        b = fb - c[j]
        col = j * w
        out[:, col] = b
        out[:, col + 1 : col + 1 + d] = diff
        out[:, col + 1 + d : col + 1 + 2 * d] = b[:, None] * diff
        out[:, col + 1 + 2 * d : col + 1 + 3 * d] = diff * diff * 0.5
        out[:, col + first - 1] = (fa - fb) * (fa - fb) * 0.5
        if second:
            fba = y[(d + 2) * n :, j].reshape(d, n).T - c[j]
            hab = fab - c[j]
            out[:, col + first] = fa - c[j]
            out[:, col + first + 1 : col + first + 1 + d] = fba
            at = col + first + 1 + d
            for a in range(d):
                for e in range(a + 1, d):
                    out[:, at] = fba[:, a] * hab[:, e]
                    at += 1
    return out


def sizes(width: int) -> tuple[int, int]:
    """``(block_size, batch_size)`` in base points for ``width`` terms in all (powers of two)."""
    per_point = width * (width + 1) // 2 + 2 * width
    batch = max(MIN_BATCH, min(BLOCK, power_of_two_at_most(max(1, BATCH_DOUBLES // per_point))))
    return BLOCK, batch


def layout_of(model: Model, second: bool = False) -> Layout:
    """The layout of the analysis of ``model`` (a `ValidationError` if it declares no inputs)."""
    if model.inputs is None or model.inputs.function is None:
        raise ValidationError(
            "model", model.name, "a model that declares its inputs: @montecarlo.model(inputs={name: distribution})",
            "declares no inputs, so its Sobol' indices are not defined",
        )  # fmt: skip
    layout = Layout(model.output_names, model.inputs.names, second)
    names = [t for o in layout.outputs for t in layout.terms(o)]
    names += [f(o, i) for o in layout.outputs for i in layout.inputs for f in (layout.first, layout.total)]
    names += [layout.second_order(o, j, k) for o in layout.outputs for j, k in layout.pairs()]
    if len(set(names)) != len(names):
        raise ValidationError(
            "inputs", list(layout.inputs), f"input and output names whose index names differ (outputs {list(layout.outputs)})",
            "make two indices of one name",
        )  # fmt: skip
    return layout


def derive(model: Model, second: bool = False) -> Model:
    """The model ``"sensitivity(MODEL)"`` runs for ``model`` (registered in `montecarlo.models.registry.DERIVATIONS`)."""
    layout = layout_of(model, second)
    inputs = model.inputs
    assert inputs is not None
    k, d = len(layout.outputs), len(layout.inputs)
    base = model  # held by the functions below: the model's fingerprint then holds the base model's

    def simulate(rng: np.random.Generator, n: int, **params: Any) -> np.ndarray:
        return terms(base.inputs, k, rng.random((n, 2 * d)), params, second)  # type: ignore[arg-type]

    def uniform(u: np.ndarray, **params: Any) -> np.ndarray:
        return terms(base.inputs, k, u, params, second)  # type: ignore[arg-type]

    block, batch = sizes(k * layout.width)
    what = "first-order, total and second-order" if second else "first-order and total"
    line = f"{what} Sobol' indices of {model.name}: {d} inputs, {layout.evaluations} evaluations per base point"
    return Model(
        name=f"{'sensitivity2' if second else 'sensitivity'}({model.name})",
        simulate=simulate,
        outputs=tuple(Output(t) for o in layout.outputs for t in layout.terms(o)),
        params=model.params,
        description=line,
        doc=line + "\n\n" + (__doc__ or ""),
        block_size=block,
        batch_size=batch,
        derived=indices(layout, inputs),
        check=model.check,
        dimension=2 * d,
        uniform=uniform,
    )


def derive_second_order(model: Model) -> Model:
    """The model ``"sensitivity2(MODEL)"``: `derive` with second-order indices too."""
    return derive(model, second=True)


def minimum_points(layout: Layout) -> int:
    """The fewest base points an analysis takes: twice its terms per output (their covariance needs more points)."""
    return 2 * layout.width
