"""Uplift evaluation on held-out customers: Qini and uplift curves, their normalized areas,
uplift@k, bootstrap intervals, and the comparison to random and to single-segment targeting.

Names, arguments and definitions follow scikit-uplift (``sklift.metrics``) so that an analyst
coming from it gets the same numbers (``tests/test_uplift_metrics.py`` checks agreement):
customers are sorted by predicted uplift, highest first, and at each distinct score:

- **Qini curve**: ``Y_t(k) - Y_c(k) * N_t(k) / N_c(k)`` — the incremental outcomes of targeting
  the top *k* customers, the control's outcomes scaled to the treated count (Radcliffe 2007);
- **uplift curve**: ``(Y_t(k)/N_t(k) - Y_c(k)/N_c(k)) * k``;
- ``qini_auc_score`` / ``uplift_auc_score``: the area between the curve and the random-targeting
  diagonal, divided by that of the perfect curve (1 = perfect, 0 = random);
- ``uplift_at_k``: treated minus control mean among the top *k* (``overall``) or among the top
  *k* of each group (``by_group``).

Unlike scikit-uplift, a continuous outcome (revenue) is accepted by every function; the
perfect curve of a continuous outcome ranks treated customers by outcome, then control
customers by reverse outcome, as scikit-uplift does for 0/1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["qini_curve", "uplift_curve", "perfect_qini_curve", "perfect_uplift_curve",
           "qini_auc_score", "uplift_auc_score", "uplift_at_k", "bootstrap_metric",
           "MetricInterval", "targeting_comparison", "curve_points"]


def _check(y_true, uplift, treatment):
    y = np.asarray(y_true, dtype="float64").ravel()
    u = np.asarray(uplift, dtype="float64").ravel()
    t = np.asarray(treatment).ravel()
    if not len(y) == len(u) == len(t):
        raise ValueError(f"y_true, uplift and treatment must have the same length; got {len(y)}, "
                         f"{len(u)} and {len(t)}")
    if len(y) == 0:
        raise ValueError("y_true: no rows")
    if not set(np.unique(t).tolist()) <= {0, 1, True, False}:
        raise ValueError("treatment must be 0/1 (1 = treated, 0 = control), got values "
                         f"{np.unique(t)[:5].tolist()}")
    t = t.astype(int)
    for name, v in (("y_true", y), ("uplift", u)):
        bad = ~np.isfinite(v)
        if bad.any():
            raise ValueError(f"{name}: {int(bad.sum())} of {len(v)} values are missing or "
                             "infinite")
    if t.sum() == 0 or t.sum() == len(t):
        raise ValueError("treatment: both treated (1) and control (0) customers are needed")
    return y, u, t


def _cumulative(y, u, t):
    """Cumulative counts and outcome sums at every distinct score, highest score first."""
    order = np.argsort(u, kind="mergesort")[::-1]
    y, u, t = y[order], u[order], t[order]
    cut = np.r_[np.nonzero(np.diff(u))[0], len(u) - 1]
    n_t = np.cumsum(t)[cut].astype("float64")
    y_t = np.cumsum(y * t)[cut]
    y_c = np.cumsum(y * (1 - t))[cut]
    n = (cut + 1).astype("float64")
    return n, n_t, n - n_t, y_t, y_c


def _from_zero(n, v):
    if len(n) == 0 or n[0] != 0 or v[0] != 0:
        return np.r_[0.0, n], np.r_[0.0, v]
    return n, v


def qini_curve(y_true, uplift, treatment):
    """Points of the Qini curve: number targeted and incremental outcomes.

    Returns
    -------
    (x, y) : arrays
        ``x`` = customers targeted (0, then each distinct-score cut), ``y`` = incremental
        outcomes among them (control scaled to the treated count).

    Examples
    --------
    >>> x, q = qini_curve([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [1, 0, 0, 1])
    >>> x.tolist(), q.tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 0.5, 0.0])
    """
    y, u, t = _check(y_true, uplift, treatment)
    n, n_t, n_c, y_t, y_c = _cumulative(y, u, t)
    scale = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    return _from_zero(n, y_t - y_c * scale)


def uplift_curve(y_true, uplift, treatment):
    """Points of the uplift curve: number targeted and (treated mean − control mean) × number.

    Examples
    --------
    >>> x, v = uplift_curve([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [1, 0, 0, 1])
    >>> v.tolist()
    [0.0, 1.0, 2.0, 1.5, 0.0]
    """
    y, u, t = _check(y_true, uplift, treatment)
    n, n_t, n_c, y_t, y_c = _cumulative(y, u, t)
    mt = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t != 0)
    mc = np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c != 0)
    return _from_zero(n, (mt - mc) * n)


def perfect_qini_curve(y_true, treatment, negative_effect: bool = True):
    """The Qini curve of the best possible ordering (scikit-uplift's definition)."""
    y, _, t = _check(y_true, np.zeros(len(np.asarray(y_true))), treatment)
    if negative_effect:
        return qini_curve(y, y * t - y * (1 - t), t)
    total = y[t == 1].sum() - (t == 1).sum() * y[t == 0].sum() / (t == 0).sum()
    return np.array([0.0, total, len(y)]), np.array([0.0, total, total])


def perfect_uplift_curve(y_true, treatment):
    """The uplift curve of the best possible ordering (scikit-uplift's definition for 0/1; for
    a continuous outcome: treated customers by outcome, then control customers by reverse
    outcome)."""
    y, _, t = _check(y_true, np.zeros(len(np.asarray(y_true))), treatment)
    if set(np.unique(y).tolist()) <= {0.0, 1.0}:
        cr = np.sum((y == 1) & (t == 0))
        tn = np.sum((y == 0) & (t == 1))
        summand = y if cr > tn else t
        score = 2 * (y == t) + summand
    else:
        score = y * t - y * (1 - t)
    return uplift_curve(y, score, t)


_trapezoid = getattr(np, "trapezoid", None) or np.trapz   # numpy < 2 has only trapz


def _auc(x, y):
    return float(_trapezoid(y, x))


def _normalized_area(x_act, y_act, x_perf, y_perf):
    base = _auc(np.array([0.0, x_perf[-1]]), np.array([0.0, y_perf[-1]]))
    perfect = _auc(x_perf, y_perf) - base
    if perfect == 0:
        return float("nan")
    return (_auc(x_act, y_act) - base) / perfect


def qini_auc_score(y_true, uplift, treatment, negative_effect: bool = True) -> float:
    """Qini coefficient: area between the Qini curve and the random diagonal over that of the
    perfect Qini curve (1 = perfect ordering, 0 = random, < 0 = worse than random).

    Examples
    --------
    >>> round(qini_auc_score([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [1, 0, 0, 1]), 4)
    0.8333
    """
    x, q = qini_curve(y_true, uplift, treatment)
    xp, qp = perfect_qini_curve(y_true, treatment, negative_effect)
    return _normalized_area(x, q, xp, qp)


def uplift_auc_score(y_true, uplift, treatment) -> float:
    """Normalized area under the uplift curve (scikit-uplift's ``uplift_auc_score``)."""
    x, v = uplift_curve(y_true, uplift, treatment)
    xp, vp = perfect_uplift_curve(y_true, treatment)
    return _normalized_area(x, v, xp, vp)


def uplift_at_k(y_true, uplift, treatment, strategy: str, k=0.3) -> float:
    """Treated minus control mean outcome among the top ``k`` customers by predicted uplift.

    Parameters
    ----------
    strategy : {'overall', 'by_group'}
        ``overall``: the top ``k`` of all customers, then treated vs control among them;
        ``by_group``: the top ``k`` of the treated and the top ``k`` of the control separately.
    k : float in (0, 1) or int
        A share of the customers (of each group for ``by_group``) or a number of customers.

    Examples
    --------
    >>> uplift_at_k([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [1, 0, 0, 1], "overall", k=2)
    1.0
    """
    y, u, t = _check(y_true, uplift, treatment)
    if strategy not in ("overall", "by_group"):
        raise ValueError(f"strategy must be 'overall' or 'by_group', got {strategy!r}")
    n = len(y)
    is_float = isinstance(k, (float, np.floating))
    if isinstance(k, (bool, np.bool_)) or not (is_float or isinstance(k, (int, np.integer))):
        raise ValueError(f"k must be a share in (0, 1) or a whole number of customers, got {k!r}")
    if (is_float and not 0 < k < 1) or (not is_float and not 0 < k < n):
        raise ValueError(f"k={k} must be in (0, 1) or a whole number in (0, {n})")
    order = np.argsort(u, kind="mergesort")[::-1]
    ys, ts = y[order], t[order]
    if strategy == "overall":
        m = int(n * k) if is_float else int(k)
        top_y, top_t = ys[:m], ts[:m]
        if not ((top_t == 1).any() and (top_t == 0).any()):
            raise ValueError(f"uplift_at_k: the top {m} customers hold only one group; "
                             "a larger k is needed")
        return float(top_y[top_t == 1].mean() - top_y[top_t == 0].mean())
    n_c, n_t = int((t == 0).sum()), int((t == 1).sum())
    m_c, m_t = (int(n_c * k), int(n_t * k)) if is_float else (int(k), int(k))
    if m_c > n_c or m_t > n_t or m_c == 0 or m_t == 0:
        raise ValueError(f"uplift_at_k: k={k} asks for {m_t} treated and {m_c} control customers;"
                         f" there are {n_t} and {n_c}")
    return float(ys[ts == 1][:m_t].mean() - ys[ts == 0][:m_c].mean())


# ---------------------------------------------------------------------------------------------
# intervals and comparisons


@dataclass
class MetricInterval:
    """A metric with a percentile bootstrap interval (resampling customers within each group)."""

    name: str
    estimate: float
    low: float
    high: float
    level: float
    n_boot: int
    draws: np.ndarray = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"metric": self.name, "estimate": self.estimate, "low": self.low,
                              "high": self.high, "level": self.level, "n_boot": self.n_boot}])


def bootstrap_metric(metric, y_true, uplift, treatment, *, n_boot: int = 200,
                     level: float = 0.95, random_state: int = 0, name: str | None = None,
                     **kwargs) -> MetricInterval:
    """Percentile bootstrap interval of ``metric(y_true, uplift, treatment, **kwargs)``.

    Customers are resampled with replacement within the treated and the control group (the
    group sizes stay fixed, as in the experiment). The model's scores are held fixed: the
    interval is the uncertainty of the evaluation sample, not of the fit.

    Examples
    --------
    >>> r = bootstrap_metric(qini_auc_score, y, score, t, n_boot=200)    # doctest: +SKIP
    >>> r.low > 0                                                         # doctest: +SKIP
    """
    y, u, t = _check(y_true, uplift, treatment)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 20:
        raise ValueError(f"n_boot must be at least 20, got {n_boot}")
    rng = np.random.default_rng(random_state)
    it, ic = np.nonzero(t == 1)[0], np.nonzero(t == 0)[0]
    est = float(metric(y, u, t, **kwargs))
    draws = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.r_[rng.choice(it, len(it)), rng.choice(ic, len(ic))]
        draws[b] = metric(y[idx], u[idx], t[idx], **kwargs)
    a = (1 - level) / 2
    lo, hi = np.nanquantile(draws, [a, 1 - a])
    return MetricInterval(name or getattr(metric, "__name__", "metric"), est, float(lo),
                          float(hi), level, n_boot, draws)


def curve_points(y_true, uplift, treatment, shares=None, kind: str = "qini") -> pd.DataFrame:
    """The Qini (or uplift) curve at fixed shares of customers targeted, for reports.

    Returns ``share, targeted, incremental`` (the curve, interpolated) and ``random`` (the
    diagonal); aggregates only.
    """
    shares = np.linspace(0, 1, 21) if shares is None else np.asarray(shares, dtype="float64")
    fn = qini_curve if kind == "qini" else uplift_curve
    x, v = fn(y_true, uplift, treatment)
    n = x[-1]
    return pd.DataFrame({"share": shares, "targeted": np.round(shares * n).astype(int),
                         "incremental": np.interp(shares * n, x, v),
                         "random": shares * v[-1]})


def targeting_comparison(y_true, uplift, treatment, segments: pd.Series | None = None,
                         k: float = 0.3) -> pd.DataFrame:
    """Incremental outcome of targeting a share ``k`` of customers: by the model, at random,
    and by the best single segment.

    Each row: ``rule``, ``share`` targeted, ``incremental`` (Qini-curve value: incremental
    outcomes among those targeted), ``per_customer`` (over all customers). The segment rule
    targets the whole segment with the highest observed uplift (treated mean − control mean,
    segments with ≥ 20 treated and ≥ 20 control customers), whatever its size; its share says
    how many that is.
    """
    y, u, t = _check(y_true, uplift, treatment)
    n = len(y)
    x, q = qini_curve(y, u, t)
    rows = [{"rule": "model", "share": k, "incremental": float(np.interp(k * n, x, q))},
            {"rule": "random", "share": k, "incremental": float(k * q[-1])},
            {"rule": "everyone", "share": 1.0, "incremental": float(q[-1])}]
    if segments is not None:
        s = pd.Series(np.asarray(segments), name="segment").astype(str)
        g = pd.DataFrame({"s": s, "y": y, "t": t}).groupby("s")
        best = None
        for name, d in g:
            nt, nc = int(d.t.sum()), int((1 - d.t).sum())
            if nt < 20 or nc < 20:
                continue
            lift = d.y[d.t == 1].mean() - d.y[d.t == 0].mean()
            if best is None or lift > best[1]:
                best = (name, lift, len(d), nt, d.y[d.t == 1].sum() - nt * d.y[d.t == 0].mean())
        if best is not None:
            rows.append({"rule": f"best segment: {best[0]}", "share": best[2] / n,
                         "incremental": float(best[4])})
    out = pd.DataFrame(rows)
    out["per_customer"] = out["incremental"] / n
    return out
