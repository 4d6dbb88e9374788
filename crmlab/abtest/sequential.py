"""Sequential looks: group-sequential tests with Lan-DeMets alpha spending.

Looking at a running campaign every week and stopping at the first ``p < 0.05`` inflates the
false-positive rate (five looks: about 14% instead of 5%). A group-sequential design fixes, in
advance, how much of ``alpha`` each look may spend. With the Lan-DeMets O'Brien-Fleming-type
spending function

    alpha(t) = 2 - 2 Phi(z_{1 - a/2} / sqrt(t))          (a: the one-sided level of a side)

early looks spend almost nothing (the first boundaries are very high) and the final boundary is
close to the fixed-sample one. A Pocock-type function ``a log(1 + (e - 1) t)`` is also offered.

Boundaries are computed by numerical integration of the joint distribution of the look
statistics (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19): the score
``B(t) = Z(t) sqrt(t)`` is Brownian motion in the information fraction ``t``, its density on
the continuation region is propagated look by look on a Simpson grid, and each boundary is
solved so that the probability of first crossing at that look equals the alpha spent there.

Stopping rule (efficacy only, no futility stop): at look ``k`` with information fraction
``t_k``, stop and declare a difference when ``|Z_k| >= c_k`` (two-sided; ``Z_k >= c_k``
one-sided). Information fractions may differ from the plan: recompute the boundaries with the
fractions actually observed (spending functions allow that); the last look must be ``t = 1``.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

__all__ = ["spending", "group_sequential", "GroupSequentialDesign", "SequentialResult"]


def spending(t, alpha: float, kind: str = "obf") -> np.ndarray:
    """Cumulative alpha spent at information fractions ``t`` (one side, level ``alpha``).

    Examples
    --------
    >>> round(float(spending(1.0, 0.025)), 6)
    0.025
    """
    t = np.clip(np.asarray(t, dtype=float), 0, 1)
    if kind == "obf":
        z = stats.norm.isf(alpha / 2)
        with np.errstate(divide="ignore"):
            return np.where(t > 0, 2 - 2 * stats.norm.cdf(z / np.sqrt(np.where(t > 0, t, 1))), 0)
    if kind == "pocock":
        return alpha * np.log(1 + (math.e - 1) * t)
    raise ValueError(f"spending must be 'obf' or 'pocock', got {kind!r}")


def _simpson_weights(n: int, h: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2] = 4
    w[2:-1:2] = 2
    return w * h / 3


def _boundaries(t: np.ndarray, side_alpha: float, sides: int, kind: str, n_grid: int):
    spent = spending(t, side_alpha, kind)
    inc = np.diff(np.r_[0.0, spent])
    bounds = np.empty(len(t))
    # look 1: Z_1 is standard normal
    bounds[0] = stats.norm.isf(inc[0]) if inc[0] > 0 else np.inf
    lower = (lambda c, tk: -c * math.sqrt(tk)) if sides == 2 else (lambda c, tk: -10 * math.sqrt(tk))
    grid = np.linspace(lower(bounds[0], t[0]), bounds[0] * math.sqrt(t[0]), n_grid) \
        if np.isfinite(bounds[0]) else np.linspace(-10 * math.sqrt(t[0]), 10 * math.sqrt(t[0]), n_grid)
    dens = stats.norm.pdf(grid, scale=math.sqrt(t[0]))
    for k in range(1, len(t)):
        dt = t[k] - t[k - 1]
        sd = math.sqrt(dt)
        w = _simpson_weights(n_grid, grid[1] - grid[0]) * dens
        tk = math.sqrt(t[k])

        def cross(c):
            up = stats.norm.sf((c * tk - grid) / sd)
            lo = stats.norm.cdf((-c * tk - grid) / sd) if sides == 2 else 0.0
            return float(w @ (up + lo))

        target = inc[k] * sides
        if target <= 0:
            bounds[k] = np.inf
        else:
            if cross(0.0) < target:
                bounds[k] = 0.0
            else:
                bounds[k] = optimize.brentq(lambda c: cross(c) - target, 0.0, 40.0, xtol=1e-10)
        c = bounds[k] if np.isfinite(bounds[k]) else 10.0
        new = np.linspace(lower(c, t[k]), c * tk, n_grid)
        kern = stats.norm.pdf((new[:, None] - grid[None, :]) / sd) / sd
        dens = kern @ w
        grid = new
    return bounds, spent * sides


class GroupSequentialDesign:
    """Boundaries of a group-sequential test; see :func:`group_sequential`."""

    def __init__(self, information_fractions, alpha, sides, kind, boundaries, spent):
        self.information_fractions = np.asarray(information_fractions, dtype=float)
        self.alpha = alpha
        self.sides = sides
        self.spending = kind
        self.boundaries = np.asarray(boundaries)
        self.alpha_spent = np.asarray(spent)

    @property
    def nominal_p(self) -> np.ndarray:
        """Nominal p-value thresholds per look (same sidedness as the design)."""
        return self.sides * stats.norm.sf(self.boundaries)

    def to_frame(self) -> pd.DataFrame:
        """One row per look: fraction, z boundary, nominal p threshold, cumulative alpha."""
        return pd.DataFrame({"look": np.arange(1, len(self.boundaries) + 1),
                             "information_fraction": self.information_fractions,
                             "z_boundary": self.boundaries, "nominal_p": self.nominal_p,
                             "alpha_spent": self.alpha_spent})

    @property
    def reading(self) -> str:
        """One plain-language sentence."""
        b = ", ".join(f"{z:.3f}" for z in self.boundaries)
        return (f"{len(self.boundaries)} looks, {'two' if self.sides == 2 else 'one'}-sided "
                f"alpha {self.alpha:g} with {'O’Brien-Fleming' if self.spending == 'obf' else 'Pocock'}"
                f"-type Lan-DeMets spending: stop at the first look whose |z| reaches its "
                f"boundary ({b}).")

    def test(self, z_values, metric: str = "lift") -> "SequentialResult":
        """Apply the stopping rule to the z-statistics observed so far (one per look)."""
        z = np.asarray(z_values, dtype=float)
        if len(z) > len(self.boundaries):
            raise ValueError(f"{len(z)} z-values for a design with {len(self.boundaries)} looks")
        crossed = (np.abs(z) if self.sides == 2 else z) >= self.boundaries[:len(z)]
        stop = int(np.argmax(crossed)) + 1 if crossed.any() else None
        return SequentialResult(self, z, crossed, stop, metric)

    def __repr__(self) -> str:
        return f"<GroupSequentialDesign: {self.reading}>"

    def _repr_html_(self) -> str:
        return (f"<div><p>{html.escape(self.reading)}</p>"
                + self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.6g}")
                + "</div>")


class SequentialResult:
    """Outcome of the stopping rule after the looks made so far."""

    def __init__(self, design, z, crossed, stopped_at, metric):
        self.design = design
        self.z = z
        self.crossed = crossed
        self.stopped_at = stopped_at
        self.metric = metric
        self.stop = stopped_at is not None
        k = len(z)
        self.final = k == len(design.boundaries)

    def to_frame(self) -> pd.DataFrame:
        """Design table with the observed ``z`` and whether the boundary was crossed."""
        t = self.design.to_frame()
        t["z"] = np.r_[self.z, np.full(len(t) - len(self.z), np.nan)]
        t["crossed"] = np.r_[self.crossed, np.zeros(len(t) - len(self.z), bool)]
        t["method"] = "group sequential, Lan-DeMets " + self.design.spending + " spending"
        return t

    @property
    def reading(self) -> str:
        """One plain-language sentence."""
        if self.stop:
            k = self.stopped_at
            return (f"Stop at look {k}: |z| = {abs(self.z[k - 1]):.2f} reached the boundary "
                    f"{self.design.boundaries[k - 1]:.2f}; the {self.metric} differs from control "
                    f"(overall alpha {self.design.alpha:g} preserved across looks).")
        if self.final:
            return (f"All {len(self.z)} looks done without crossing a boundary: no significant "
                    f"difference in {self.metric} at overall alpha {self.design.alpha:g}.")
        return (f"Continue: after {len(self.z)} of {len(self.design.boundaries)} looks no "
                f"boundary has been crossed (next boundary "
                f"{self.design.boundaries[len(self.z)]:.2f}).")

    def __repr__(self) -> str:
        return f"<SequentialResult: {self.reading}>"

    def _repr_html_(self) -> str:
        return (f"<div><p>{html.escape(self.reading)}</p>"
                + self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.6g}")
                + "</div>")


def group_sequential(looks=5, alpha: float = 0.05, sides: int = 2, spending_function: str = "obf",
                     n_grid: int = 1201) -> GroupSequentialDesign:
    """Efficacy boundaries of a group-sequential test with Lan-DeMets alpha spending.

    Parameters
    ----------
    looks : int or sequence of float
        Number of equally spaced looks, or the information fractions (increasing, last = 1).
    alpha : float
        Overall type I error: two-sided total for ``sides=2`` (split equally between the two
        sides), one-sided level for ``sides=1``.
    sides : {1, 2}
    spending_function : {"obf", "pocock"}
    n_grid : int
        Points of the integration grid (odd).

    Returns
    -------
    GroupSequentialDesign
        ``boundaries`` (z scale), ``nominal_p``, ``alpha_spent``, ``to_frame()``, and
        ``test(z_values)`` applying the stopping rule.

    Examples
    --------
    >>> d = group_sequential(5, alpha=0.05)
    >>> d.boundaries.round(3).tolist()
    [4.877, 3.357, 2.68, 2.29, 2.031]
    """
    if isinstance(looks, (int, np.integer)):
        if looks < 1:
            raise ValueError("looks must be at least 1")
        t = np.arange(1, looks + 1) / looks
    else:
        t = np.asarray(looks, dtype=float)
    if (np.diff(t) <= 0).any() or t[0] <= 0 or abs(t[-1] - 1) > 1e-12:
        raise ValueError("information fractions must increase strictly in (0, 1] and end at 1")
    if sides not in (1, 2):
        raise ValueError("sides must be 1 or 2")
    if n_grid % 2 == 0:
        n_grid += 1
    side_alpha = alpha / 2 if sides == 2 else alpha
    b, spent = _boundaries(t, side_alpha, sides, spending_function, n_grid)
    return GroupSequentialDesign(t, alpha, sides, spending_function, b, spent)
