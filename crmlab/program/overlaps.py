"""Interactions of overlapping campaigns (numbers only).

Two campaigns overlap when customers are assigned to both within ``within_days`` of each other.
Both assignments are random and independent, so among the customers in both the four cells
(A's arm × B's arm) are comparable. With ``A`` the later campaign and the outcome measured from
A's assignment (a purchase within ``window_days``, and the revenue), the interaction is

    (effect of A among B's treated) − (effect of A among B's holdout)

a difference of differences of means with a normal interval (for the purchase rate, each cell's
variance has one success and one failure added, so that empty cells keep their uncertainty;
revenue needs ``min_cell`` customers per cell). p-values are Holm-adjusted across
the pairs of each outcome; a pair is flagged when its adjusted p-value is below ``alpha``.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["overlaps", "OverlapResult", "holm"]


@dataclass
class OverlapResult:
    """Result of :func:`overlaps`.

    ``pairs``: one row per overlapping pair × outcome: ``campaign_a`` (the later one),
    ``campaign_b``, ``outcome`` (``conversion`` or ``revenue``), ``n_both``, ``effect_a_in_b``
    (A's effect among B's treated), ``effect_a_in_b_control``, ``interaction`` (their
    difference), ``ci_low, ci_high, p_value, p_holm, flagged``.
    """

    pairs: pd.DataFrame
    window_days: int
    within_days: int
    alpha: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        return self.pairs.copy()

    def flagged(self) -> pd.DataFrame:
        return self.pairs[self.pairs.flagged].copy()


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN kept)."""
    p = np.asarray(p, float)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def _diff(y, a, b, binary: bool = False):
    cells = [(y[(a == i) & (b == j)]) for i in (1, 0) for j in (1, 0)]
    if min(len(c) for c in cells) < 2:
        return None
    m = [c.mean() for c in cells]
    if binary:
        # one success and one failure added per cell for the variance: a cell with no
        # purchase (or only purchases) keeps a variance, as in the Agresti–Caffo interval
        pt = [(c.sum() + 1) / (len(c) + 2) for c in cells]
        v = [p * (1 - p) / (len(c) + 2) for p, c in zip(pt, cells)]
    else:
        v = [c.var(ddof=1) / len(c) for c in cells]
    e1, e0 = m[0] - m[2], m[1] - m[3]
    return e1, e0, e1 - e0, float(np.sqrt(sum(v)))


def overlaps(data, *, window_days: int = 7, within_days: int = 30, alpha: float = 0.05,
             level: float = 0.95, min_customers: int = 40,
             min_cell: int = 30) -> OverlapResult:
    """Interaction tests for every pair of campaigns sharing customers in time.

    Parameters
    ----------
    data : CRMData
        ``assignments`` (arms: ``control`` is the holdout), ``orders``.
    window_days : int
        Outcome window from the later campaign's assignment.
    within_days : int
        Two assignments of a customer overlap when they are at most this many days apart.
    min_customers : int
        Pairs with fewer customers in both are not tested.
    min_cell : int
        Revenue (heavy-tailed) is tested only when each of the four cells has this many.

    Examples
    --------
    >>> from crmlab.program import overlaps
    >>> overlaps(data).flagged()                                   # doctest: +SKIP
    """
    if data.assignments is None:
        raise ValueError("overlaps: the assignments table is needed")
    a = data.assignments.select("campaign_id", "customer_id", "arm", "assigned_ts").to_pandas()
    a["treated"] = (a.arm != "control").astype(int)
    o = data.orders.select("customer_id", "order_ts", "amount").to_pandas()
    zc = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for c1, c2 in combinations(sorted(a.campaign_id.unique(), key=str), 2):
        x = a[a.campaign_id == c1].merge(a[a.campaign_id == c2], on="customer_id",
                                         suffixes=("_1", "_2"))
        x = x[(x.assigned_ts_1 - x.assigned_ts_2).abs() <= pd.Timedelta(days=within_days)]
        if len(x) < min_customers:
            continue
        later_1 = x.assigned_ts_1.median() >= x.assigned_ts_2.median()
        A, B = ("1", "2") if later_1 else ("2", "1")
        t0 = x[f"assigned_ts_{A}"]
        k = pd.DataFrame({"customer_id": x.customer_id, "t0": t0, "i": np.arange(len(x))})
        j = k.merge(o, on="customer_id")
        j = j[(j.order_ts >= j.t0) & (j.order_ts < j.t0 + pd.Timedelta(days=window_days))]
        rev = np.bincount(j.i, weights=j.amount, minlength=len(x))
        conv = np.bincount(j.i[j.amount > 0], minlength=len(x)) > 0
        ta, tb = x[f"treated_{A}"].to_numpy(), x[f"treated_{B}"].to_numpy()
        for outcome, y in (("conversion", conv.astype(float)), ("revenue", rev)):
            r = _diff(y, ta, tb, binary=outcome == "conversion")
            if r is None or (outcome == "revenue" and min(
                    int(((ta == i) & (tb == j)).sum()) for i in (0, 1) for j in (0, 1)) < min_cell):
                continue
            e1, e0, d, se = r
            rows.append({"campaign_a": x[f"campaign_id_{A}"].iloc[0],
                         "campaign_b": x[f"campaign_id_{B}"].iloc[0], "outcome": outcome,
                         "n_both": len(x), "effect_a_in_b": e1, "effect_a_in_b_control": e0,
                         "interaction": d, "se": se, "ci_low": d - zc * se,
                         "ci_high": d + zc * se,
                         "p_value": float(2 * stats.norm.sf(abs(d) / se)) if se > 0 else 1.0})
    df = pd.DataFrame(rows, columns=["campaign_a", "campaign_b", "outcome", "n_both",
                                     "effect_a_in_b", "effect_a_in_b_control", "interaction",
                                     "se", "ci_low", "ci_high", "p_value"])
    df["p_holm"] = np.nan
    for _, idx in df.groupby("outcome").groups.items():
        df.loc[idx, "p_holm"] = holm(df.loc[idx, "p_value"])
    df["flagged"] = df.p_holm < alpha
    return OverlapResult(pairs=df, window_days=window_days, within_days=within_days,
                         alpha=alpha, level=level)
