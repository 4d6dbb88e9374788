"""Cost-aware selection: expected incremental profit per customer and arm, and the audience for
a budget or a profit threshold.

For a customer *i* and a treatment arm *a*::

    profit[i, a] = uplift[i, a] * margin[a] - send_cost[a] - coupon_value[a] * p_redeem[i, a]

``uplift`` is the predicted effect on the outcome (a conversion probability, or revenue), and
``margin`` what one unit of it is worth (KRW of margin per conversion, or the margin rate on
revenue). A coupon is paid by every treated customer who buys in the coupon's window — also by
those who would have bought anyway — so its expected cost is the coupon value times the
probability to buy when treated (``p_redeem``; e.g. the learner's ``predict_outcome`` of the
conversion under the arm). A customer goes to the arm with the highest expected profit, or to
no arm when none is above the threshold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["expected_profit", "select_audience", "Audience"]


def _per_arm(value, arms, name) -> dict:
    if isinstance(value, dict):
        missing = [a for a in arms if a not in value]
        if missing:
            raise ValueError(f"{name}: no value for arm(s) {missing}")
        out = {a: float(value[a]) for a in arms}
    else:
        out = {a: float(value) for a in arms}
    bad = {a: v for a, v in out.items() if not np.isfinite(v)}
    if bad:
        raise ValueError(f"{name}: not a finite number for {bad}")
    return out


def expected_profit(uplift: pd.DataFrame, *, margin=1.0, send_cost=0.0, coupon_value=0.0,
                    p_redeem: pd.DataFrame | None = None) -> pd.DataFrame:
    """Expected incremental profit of sending each arm to each customer.

    Parameters
    ----------
    uplift : DataFrame
        One column per treatment arm: the predicted effect (``oof_effect_`` or
        ``predict_effect`` of a learner).
    margin : float or dict arm -> float
        Value of one unit of the outcome (per conversion, or per KRW of revenue).
    send_cost : float or dict
        Cost of one send (the campaign's ``cost_per_send``).
    coupon_value : float or dict
        Cost of one redeemed coupon (0 for arms without coupon).
    p_redeem : DataFrame, optional
        Probability that a treated customer redeems, one column per arm; needed when an arm has
        a coupon.

    Returns
    -------
    DataFrame
        Same shape as ``uplift``: the expected incremental profit, in the money unit of
        ``margin`` and the costs.

    Examples
    --------
    >>> up = pd.DataFrame({"coupon": [0.10, 0.01]})
    >>> pr = pd.DataFrame({"coupon": [0.30, 0.60]})
    >>> expected_profit(up, margin=20000, send_cost=30, coupon_value=5000, p_redeem=pr
    ...                 )["coupon"].tolist()
    [470.0, -2830.0]
    """
    if not isinstance(uplift, pd.DataFrame) or uplift.shape[1] == 0:
        raise ValueError("uplift: a DataFrame with one column per treatment arm is needed")
    arms = list(uplift.columns)
    m = _per_arm(margin, arms, "margin")
    s = _per_arm(send_cost, arms, "send_cost")
    c = _per_arm(coupon_value, arms, "coupon_value")
    if any(v != 0 for v in c.values()):
        if p_redeem is None:
            raise ValueError("p_redeem: needed when an arm has a coupon (coupon_value > 0)")
        missing = [a for a in arms if c[a] != 0 and a not in p_redeem.columns]
        if missing:
            raise ValueError(f"p_redeem: no column for arm(s) {missing}")
        if len(p_redeem) != len(uplift):
            raise ValueError(f"p_redeem: {len(p_redeem)} rows, uplift has {len(uplift)}")
    out = pd.DataFrame(index=uplift.index)
    for a in arms:
        coupon = (c[a] * np.clip(np.asarray(p_redeem[a], dtype="float64"), 0, 1)
                  if c[a] != 0 else 0.0)
        out[a] = np.asarray(uplift[a], dtype="float64") * m[a] - s[a] - coupon
    return out


@dataclass
class Audience:
    """The selected customers and what they are expected to bring.

    ``table``: one row per selected customer (``customer_id`` when given, ``arm``,
    ``expected_profit``, ``expected_cost``, ``rank``); ``summary``: per arm ``customers``,
    ``expected_profit``, ``expected_cost`` (aggregates only).
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    budget: float | None
    min_profit: float

    def to_frame(self) -> pd.DataFrame:
        return self.summary


def select_audience(profit: pd.DataFrame, *, cost: pd.DataFrame | None = None,
                    budget: float | None = None, min_profit: float = 0.0,
                    max_share: float | None = None, customer_id=None) -> Audience:
    """The audience: each customer's best arm, when its expected profit exceeds ``min_profit``,
    most profitable first, within a budget.

    Parameters
    ----------
    profit : DataFrame
        Expected incremental profit per customer and arm (:func:`expected_profit`).
    cost : DataFrame, optional
        Expected spend per customer and arm (send cost + expected coupon cost) that the budget
        limits; default: the budget counts customers (one unit each).
    budget : float, optional
        Stop before the cumulative expected cost of the selected customers exceeds it.
    min_profit : float
        Only customers whose best arm's expected profit is above it (default 0: every send
        expected to pay for itself).
    max_share : float, optional
        At most this share of the customers.
    customer_id : array-like, optional
        Ids to put in the selected rows (the table then holds customer ids).

    Examples
    --------
    >>> p = pd.DataFrame({"a": [5.0, -1.0, 3.0], "b": [1.0, 2.0, 4.0]})
    >>> select_audience(p, budget=2).table[["arm", "expected_profit"]].values.tolist()
    [['a', 5.0], ['b', 4.0]]
    """
    if not isinstance(profit, pd.DataFrame) or profit.shape[1] == 0:
        raise ValueError("profit: a DataFrame with one column per treatment arm is needed")
    v = profit.to_numpy(dtype="float64")
    if np.isnan(v).all(axis=1).any():
        raise ValueError(f"profit: {int(np.isnan(v).all(axis=1).sum())} rows have no value")
    k = np.nanargmax(np.where(np.isnan(v), -np.inf, v), axis=1)
    best = v[np.arange(len(v)), k]
    arm = np.asarray(profit.columns, dtype=object)[k]
    if cost is None:
        spend = np.ones(len(v))
    else:
        if cost.shape != profit.shape or list(cost.columns) != list(profit.columns):
            raise ValueError("cost: must have the same rows and arm columns as profit")
        spend = cost.to_numpy(dtype="float64")[np.arange(len(v)), k]
    order = np.argsort(-best, kind="mergesort")
    keep = best[order] > min_profit
    if budget is not None:
        if not budget >= 0:
            raise ValueError(f"budget must be ≥ 0, got {budget}")
        keep &= np.cumsum(np.where(keep, spend[order], 0.0)) <= budget + 1e-9
    if max_share is not None:
        if not 0 < max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], got {max_share}")
        keep &= np.arange(len(v)) < int(np.floor(max_share * len(v)))
    sel = order[keep]
    table = pd.DataFrame({"arm": arm[sel], "expected_profit": best[sel],
                          "expected_cost": spend[sel] if cost is not None else np.nan,
                          "rank": np.arange(1, len(sel) + 1)})
    if customer_id is not None:
        ids = np.asarray(customer_id)
        if len(ids) != len(v):
            raise ValueError(f"customer_id: {len(ids)} ids for {len(v)} rows of profit")
        table.insert(0, "customer_id", ids[sel])
    summary = (table.groupby("arm", sort=True)
               .agg(customers=("arm", "size"), expected_profit=("expected_profit", "sum"),
                    expected_cost=("expected_cost", "sum"))
               .reset_index())
    if cost is None:
        summary["expected_cost"] = np.nan
    return Audience(table=table, summary=summary, budget=budget, min_profit=min_profit)
