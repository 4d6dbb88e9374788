"""The global holdout: customers kept out of every CRM message for a period.

A shop records it in the optional ``holdout_periods`` table (``customer_id, start_ts, end_ts``):
one row per period, ``start_ts`` inclusive, ``end_ts`` exclusive. Besides the contract's column
checks, :func:`check_holdout_periods` refuses periods that do not end after they start and
periods of one customer that overlap; customers missing from ``customers`` are counted in the
data-quality ledger (kept, flagged).

Examples
--------
>>> import pandas as pd, crmlab
>>> hp = pd.DataFrame({"customer_id": [1], "start_ts": [pd.Timestamp("2024-03-01")],
...                    "end_ts": [pd.Timestamp("2025-03-01")]})
>>> data = crmlab.load({"orders": orders, "holdout_periods": hp})   # doctest: +SKIP
"""
from __future__ import annotations

import ibis

from crmlab.data.errors import DataContractError

__all__ = ["check_holdout_periods"]


def _examples(t, cols: list[str], n: int = 5) -> list:
    df = t.select(*cols).limit(n).to_pandas()
    return [tuple(r) if len(cols) > 1 else r[0] for r in df.itertuples(index=False)]


def check_holdout_periods(t) -> None:
    """Hard errors of a typed ``holdout_periods`` table: ``end_ts`` not after ``start_ts``, and
    overlapping periods of one customer. Counts and examples come from the engine."""
    bad = t.filter(t.end_ts <= t.start_ts)
    n = int(bad.count().to_pandas())
    if n:
        raise DataContractError(
            "holdout_periods", "end_ts", "period does not end after it starts (end_ts <= "
            "start_ts; end_ts is exclusive)", n,
            _examples(bad.order_by(["customer_id", "start_ts"]), ["customer_id", "start_ts"]))
    order = ibis.window(group_by="customer_id", order_by=["start_ts", "end_ts"])
    lagged = t.select("customer_id", "start_ts", "end_ts", last_end=t.end_ts.lag().over(order))
    upto = ibis.window(group_by="customer_id", order_by=["start_ts", "end_ts"],
                       preceding=None, following=0)
    s = lagged.mutate(prev_end=lagged.last_end.max().over(upto))
    over = s.filter(s.prev_end.notnull() & (s.start_ts < s.prev_end))
    n = int(over.count().to_pandas())
    if n:
        raise DataContractError(
            "holdout_periods", "customer_id, start_ts", "overlapping periods of one customer "
            "(merge them into one period)", n,
            _examples(over.order_by(["customer_id", "start_ts"]), ["customer_id", "start_ts"]))


def holdout_frame(data):
    """The holdout periods as pandas (``customer_id, start_ts, end_ts``), or None."""
    t = getattr(data, "holdout_periods", None)
    if t is None:
        return None
    return t.select("customer_id", "start_ts", "end_ts").to_pandas()

