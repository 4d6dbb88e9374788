"""Mechanics of the shop simulator: time warping, ragged point sets, piecewise-rate processes and
the shared outcome definitions (7-day conversion, 180-day revenue, churn survival).

Everything here is vectorised over customers with numpy; nothing loops over rows in Python.
Time is measured in days since the simulation start (float) for the behavioural model and in
integer seconds since the start for wall-clock timestamps written to the files.
"""
from __future__ import annotations

import numpy as np

DAY = 86_400
#: A time far beyond any simulated horizon (days); used instead of ``inf`` so that segment
#: arithmetic stays finite.
FAR = 1.0e7

# Relative shopping intensity by hour of day (KST), 00:00 .. 23:00: quiet at night, a lunch bump
# and an evening peak. Purchases, visits and sign-ups follow it.
HOURLY_WEIGHTS = np.array([3.0, 2.0, 1.0, 0.6, 0.5, 0.6, 1.0, 2.0, 3.0, 4.0, 5.0, 5.5,
                           6.0, 5.5, 5.0, 5.0, 5.0, 5.0, 5.5, 6.0, 7.0, 8.0, 8.0, 6.0])


class DiurnalWarp:
    """Monotone map between model time (uniform within a day) and wall-clock time.

    The behavioural model runs in "activity time", in which every moment of a day is equally
    busy. ``to_wall`` moves a time within its own day so that wall-clock times follow
    :data:`HOURLY_WEIGHTS`; day boundaries are fixed points, so durations change by less than a
    day and the order of moments is preserved.
    """

    def __init__(self, weights: np.ndarray = HOURLY_WEIGHTS):
        cdf = np.concatenate([[0.0], np.cumsum(weights)])
        self._u = cdf / cdf[-1]                    # activity fraction at each hour boundary
        self._x = np.arange(len(weights) + 1) / len(weights)   # wall fraction at hour boundaries

    def to_wall(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        d = np.floor(t)
        return d + np.interp(t - d, self._u, self._x)

    def to_model(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        d = np.floor(t)
        return d + np.interp(t - d, self._x, self._u)


def to_seconds(days: np.ndarray) -> np.ndarray:
    """Days since start -> integer seconds since start (floor)."""
    return np.floor(np.asarray(days, dtype=float) * DAY).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Ragged arrays (CSR: values grouped by owner, ``ptr[i]:ptr[i+1]`` belongs to owner i)


def ragged_points(rng: np.random.Generator, caps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of a unit-rate Poisson process on ``[0, caps[i])`` for every owner ``i``.

    Returns ``(ptr, values)``: values sorted within each owner. The same points serve every
    counterfactual world (common random numbers): a world reads the points below its own
    cumulative intensity.
    """
    counts = rng.poisson(caps)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    # sorted uniforms without sorting: normalised partial sums of k+1 exponential spacings
    sizes = counts + 1
    owner = np.repeat(np.arange(len(caps)), sizes)
    gaps = rng.standard_exponential(int(sizes.sum()))
    csum = np.cumsum(gaps)
    ends = np.cumsum(sizes) - 1
    base = np.concatenate([[0.0], csum[ends[:-1]]])
    total = csum[ends] - base
    last = np.zeros(len(gaps), bool)
    last[ends] = True
    vals = (csum - base[owner]) / total[owner] * caps[owner]
    return ptr, vals[~last]


def csr_take(ptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions of the ragged rows ``idx`` and, for each, the position in ``idx``."""
    idx = np.asarray(idx, dtype=np.int64)
    counts = ptr[idx + 1] - ptr[idx]
    local = np.repeat(np.arange(len(idx)), counts)
    starts = np.repeat(ptr[idx] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return starts + np.arange(counts.sum()), local


def group_rank(owner_sorted: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its run of equal (sorted) owners."""
    n = len(owner_sorted)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, owner_sorted[1:] != owner_sorted[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


# --------------------------------------------------------------------------------------------
# Piecewise-constant intensities


def piecewise_cumulative(bounds: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Cumulative intensity at each bound; ``bounds`` (n, K+1) nondecreasing, ``rates`` (n, K)."""
    contrib = rates * np.diff(bounds, axis=1)
    return np.concatenate([np.zeros((len(bounds), 1)), np.cumsum(contrib, axis=1)], axis=1)


def piecewise_inverse(bounds: np.ndarray, rates: np.ndarray, cum: np.ndarray,
                      owner: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Time at which owner's cumulative intensity reaches ``target`` (FAR if never)."""
    c = cum[owner]
    j = (c[:, 1:] <= target[:, None]).sum(axis=1)
    k = rates.shape[1]
    jj = np.minimum(j, k - 1)
    rate = rates[owner, jj]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = bounds[owner, jj] + (target - c[np.arange(len(owner)), jj]) / rate
    t = np.where((j >= k) | (rate <= 0) | ~np.isfinite(t), FAR, t)
    return t


# --------------------------------------------------------------------------------------------
# Shared outcome definitions (docs/architecture.md, "Shared definitions")


def window_any(t0: np.ndarray, owner: np.ndarray, ts: np.ndarray, mask: np.ndarray,
               horizon: int) -> np.ndarray:
    """Per customer: any row with ``mask`` and ``t0 <= ts < t0 + horizon``."""
    ok = mask & (ts >= t0[owner]) & (ts < t0[owner] + horizon)
    return np.bincount(owner[ok], minlength=len(t0)) > 0


def window_sum(t0: np.ndarray, owner: np.ndarray, ts: np.ndarray, values: np.ndarray,
               horizon: int) -> np.ndarray:
    """Per customer: sum of ``values`` over rows with ``t0 <= ts < t0 + horizon``."""
    ok = (ts >= t0[owner]) & (ts < t0[owner] + horizon)
    return np.bincount(owner[ok], weights=values[ok], minlength=len(t0))


def churn_survival(t0: np.ndarray, end: np.ndarray, owner: np.ndarray, ts: np.ndarray,
                   churn_after: int) -> tuple[np.ndarray, np.ndarray]:
    """Churn duration and indicator per customer, the architecture's definition.

    Anchors are ``t0`` and every purchase in ``(t0, end)``. A customer churns at the first anchor
    ``a`` whose next purchase (before ``end``) is later than ``a + churn_after`` or never comes,
    provided ``a + churn_after <= end``: duration ``a - t0``, churned 1. Otherwise censored:
    duration ``end - t0``, churned 0. All arguments are integer seconds; ``owner``/``ts`` are
    purchases (positive orders) of customer ``owner``.

    Returns ``(duration_seconds, churned)``.
    """
    n = len(t0)
    ok = (ts > t0[owner]) & (ts < end[owner])
    a_owner = np.concatenate([np.arange(n), owner[ok]])
    a_ts = np.concatenate([t0, ts[ok]])
    order = np.lexsort((a_ts, a_owner))
    a_owner, a_ts = a_owner[order], a_ts[order]
    same_next = np.r_[a_owner[1:] == a_owner[:-1], False]
    nxt = np.where(same_next, np.r_[a_ts[1:], 0], np.iinfo(np.int64).max)
    e = end[a_owner]
    cond = ((nxt == np.iinfo(np.int64).max) | (nxt > a_ts + churn_after)) & (a_ts + churn_after <= e)
    duration = (end - t0).astype(np.int64)
    churned = np.zeros(n, dtype=np.int8)
    hit_owner = a_owner[cond]
    hit_ts = a_ts[cond]
    first = np.r_[True, hit_owner[1:] != hit_owner[:-1]] if len(hit_owner) else np.zeros(0, bool)
    duration[hit_owner[first]] = hit_ts[first] - t0[hit_owner[first]]
    churned[hit_owner[first]] = 1
    return duration, churned


def cox_hazard_ratio(dur_treat: np.ndarray, ev_treat: np.ndarray, dur_ctrl: np.ndarray,
                     ev_ctrl: np.ndarray) -> float:
    """Cox hazard ratio (treatment vs control) on pooled potential outcomes, lifelines (Efron)."""
    import pandas as pd
    from lifelines import CoxPHFitter

    ev = np.concatenate([ev_treat, ev_ctrl])
    if ev.sum() == 0:
        return float("nan")
    if (np.array_equal(dur_treat, dur_ctrl) and np.array_equal(ev_treat, ev_ctrl)):
        return 1.0
    df = pd.DataFrame({
        "duration": np.concatenate([dur_treat, dur_ctrl]).astype(float),
        "event": ev.astype(int),
        "treated": np.r_[np.ones(len(dur_treat)), np.zeros(len(dur_ctrl))],
    })
    from lifelines.exceptions import ConvergenceError

    try:
        cph = CoxPHFitter().fit(df, duration_col="duration", event_col="event")
    except ConvergenceError:          # e.g. all churn in one world only (tiny campaigns)
        return float("nan")
    return float(np.exp(cph.params_["treated"]))
