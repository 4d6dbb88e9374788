"""Per-customer RFM summaries of a transaction log (the input of the customer-base models).

:func:`rfm_summary` turns an ``orders`` table into one row per customer with ``frequency``,
``recency``, ``T`` and ``monetary_value`` — the sufficient statistics of the BG/NBD, Pareto/NBD
and Gamma-Gamma models (:mod:`crmlab.ltv`) — optionally split into a calibration and a holdout
period. The aggregation runs in the engine (Ibis: DuckDB by default, portable to PySpark); only
the per-customer result comes back as pandas.

Definitions (those of lifetimes' ``summary_data_from_transaction_data`` and pymc-marketing's
``rfm_summary``):

- time is cut into periods of ``time_unit`` (``"D"`` calendar days, ``"W"`` calendar weeks
  Monday to Sunday, ``"M"`` calendar months); all purchases of a customer in one period are merged
  into one *purchase period* whose value is the sum of their amounts;
- ``frequency`` = number of purchase periods − 1 (the repeat purchases);
- ``recency`` = last purchase period − first purchase period (0 without repeat purchases);
- ``T`` = last observed period − first purchase period;
- ``monetary_value`` = mean value of the repeat purchase periods (the first is left out; 0 when
  ``frequency`` is 0).

Durations are in periods divided by ``time_scaler`` (``time_unit="D", time_scaler=7`` gives
weeks measured to the day, the time scale of Fader, Hardie & Lee 2005).

``observation_end`` is the *exclusive* end of the observed period (as ``CRMData.observation_end``):
orders at or after it are not read, and the last observed period is the one holding the instant
just before it. In lifetimes' terms, ``observation_end="1997-10-01"`` is
``observation_period_end="1997-09-30"`` (its argument is an inclusive date); the same holds for
``calibration_end`` and lifetimes' ``calibration_period_end``.
"""
from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd

from crmlab._engine import as_coded_table, is_ibis

from crmlab.data.errors import DataContractError

__all__ = ["rfm_summary", "TIME_UNITS", "DataContractError"]

#: Supported period lengths: calendar day, calendar week (Monday–Sunday), calendar month.
TIME_UNITS = ("D", "W", "M")

_ANCHOR = pd.Timestamp("1900-01-01")  # a Monday: week k covers days [7k, 7k + 7) after it


def _period_expr(ts, time_unit: str):
    """Integer period index of a timestamp column (Ibis expression)."""
    if time_unit == "M":
        return (ts.year() * 12 + ts.month() - 1).cast("int64")
    days = ts.date().delta(ibis.date(_ANCHOR.date()), unit="day").cast("int64")
    if time_unit == "W":
        return days // 7
    return days


def _period_of(ts: pd.Timestamp, time_unit: str) -> int:
    """Integer period index of one timestamp (same numbering as :func:`_period_expr`)."""
    if time_unit == "M":
        return ts.year * 12 + ts.month - 1
    days = (ts.normalize() - _ANCHOR).days
    return days // 7 if time_unit == "W" else days


def _last_period(end: pd.Timestamp, time_unit: str) -> int:
    """Period holding the last instant before the exclusive bound ``end``."""
    return _period_of(end - pd.Timedelta(1, "ns"), time_unit)


def _check_unit(time_unit: str) -> str:
    if time_unit not in TIME_UNITS:
        raise ValueError(
            f"time_unit={time_unit!r} is not supported; use one of {', '.join(TIME_UNITS)} "
            "(calendar day, calendar week Monday-Sunday, calendar month)"
        )
    return time_unit


def _as_timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r} is not a date or timestamp") from exc
    if ts is pd.NaT:
        raise ValueError(f"{name} is missing (NaT)")
    if ts.tzinfo is not None:
        raise ValueError(
            f"{name}={ts} is time-zone aware; crmlab timestamps are naive local wall-clock time"
        )
    return ts


def rfm_summary(
    orders,
    observation_end=None,
    time_unit: str = "D",
    calibration_end=None,
    *,
    time_scaler: float = 1.0,
    customer_col: str = "customer_id",
    ts_col: str = "order_ts",
    amount_col: str | None = "amount",
    drop_zero_amount: bool = False,
) -> pd.DataFrame:
    """One row per customer: frequency, recency, T and monetary value (lifetimes semantics).

    Parameters
    ----------
    orders : DataFrame, Ibis table or CRMData
        The order log: ``customer_id``, ``order_ts`` (naive timestamps) and ``amount``. A
        ``CRMData`` supplies its ``orders`` table and, when ``observation_end`` is None, its
        ``observation_end``.
    observation_end : date-like
        Exclusive end of the observed period; orders at or after it are not read. The last
        observed period is the one holding the instant just before it.
    time_unit : {"D", "W", "M"}
        Period length: calendar day, calendar week (Monday to Sunday) or calendar month.
        Purchases of one customer in one period count as one purchase.
    calibration_end : date-like, optional
        Exclusive end of the calibration period. When given, the result has the calibration
        columns ``frequency_cal, recency_cal, T_cal, monetary_value_cal`` (computed on orders
        before ``calibration_end``) and the holdout columns ``frequency_holdout`` (purchase
        periods in ``[calibration_end, observation_end)``), ``monetary_value_holdout`` (their mean
        value, 0 when none) and ``duration_holdout``; only customers whose first purchase is in
        the calibration period are kept (the others are counted in the exclusions).
    time_scaler : float
        Durations are divided by it: ``time_unit="D", time_scaler=7`` measures weeks to the day
        (lifetimes' ``freq_multiplier``, pymc-marketing's ``time_scaler``).
    customer_col, ts_col, amount_col : str
        Column names. ``amount_col=None`` leaves out the monetary columns.
    drop_zero_amount : bool
        Zero-amount orders are purchases by default (e.g. a fully discounted order; CDNOW has
        80 such rows and the published analyses count them). True leaves them out.

    Returns
    -------
    DataFrame indexed by customer id (sorted). ``frequency`` is int64, the rest float64.
    ``result.attrs["exclusions"]`` maps each reason rows or customers were left out to how many
    (refunds — rows with a negative amount or ``is_refund`` true — are never purchases: they
    count neither in frequency/recency nor in monetary value).

    Raises
    ------
    ValueError
        Unsupported ``time_unit``; no purchase before ``observation_end`` (an empty table, or an
        ``observation_end`` before the first order); ``calibration_end`` not before
        ``observation_end``.
    DataContractError
        A missing column, or missing customer ids / timestamps / amounts.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> s = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
    >>> s.loc[4, ["frequency", "recency", "T"]].round(2).tolist()
    [2.0, 30.43, 38.86]
    """
    time_unit = _check_unit(time_unit)
    if hasattr(orders, "orders") and not isinstance(orders, pd.DataFrame) and not is_ibis(orders):
        if observation_end is None:
            observation_end = getattr(orders, "observation_end", None)
        orders = orders.orders
    if observation_end is None:
        raise ValueError("observation_end is required (the exclusive end of the observed period)")
    if not time_scaler or time_scaler <= 0:
        raise ValueError(f"time_scaler must be positive, got {time_scaler!r}")
    end = _as_timestamp(observation_end, "observation_end")
    cal = None if calibration_end is None else _as_timestamp(calibration_end, "calibration_end")
    if cal is not None and cal >= end:
        raise ValueError(
            f"calibration_end ({cal}) must be before observation_end ({end})"
        )

    needed = [customer_col, ts_col] + ([amount_col] if amount_col else [])
    # text / categorical ids of a DataFrame reach the engine as int32 codes (decoded at the end)
    t, ids = as_coded_table(orders, customer_col, "orders", columns=needed, optional=("is_refund",))
    missing = [c for c in needed if c not in t.columns]
    if missing:
        raise DataContractError(
            "orders", ", ".join(missing),
            f"missing column(s); the table has {', '.join(t.columns)}",
        )
    if not t[ts_col].type().is_timestamp():
        raise DataContractError(
            "orders", ts_col, f"expected naive timestamps, got {t[ts_col].type()}"
        )

    # --- data checks and exclusion counts ------------------------------------------------------
    amount = t[amount_col] if amount_col else None
    refund = (amount < 0) if amount_col else ibis.literal(False)
    if "is_refund" in t.columns:
        refund = refund | t["is_refund"].fill_null(False)
    ts = t[ts_col]
    conditions = {
        "null_customer": t[customer_col].isnull(),
        "null_ts": ts.isnull(),
        "after_end": ts >= end,
        "refunds": (ts < end) & refund,
    }
    if amount_col:
        conditions["null_amount"] = amount.isnull()
        conditions["zero_amount"] = (ts < end) & (amount == 0) & ~refund
    c = _count_rows(t, ts_col, conditions)
    n_rows = c["rows"]
    if n_rows == 0:
        raise ValueError("orders: the table is empty (0 rows); no purchases to summarise")
    for key, col in [("null_customer", customer_col), ("null_ts", ts_col), ("null_amount", amount_col)]:
        if c.get(key, 0) > 0:
            raise DataContractError(
                "orders", col,
                f"missing (null) in {c[key]} of {n_rows} rows; fix or drop them before "
                "summarising", c[key],
            )
    first_ts = c["first_ts"]
    if first_ts >= end:
        raise ValueError(
            f"orders: observation_end ({end}) is not after the first order ({first_ts}); "
            f"all {n_rows} rows are at or after it"
        )
    if cal is not None and first_ts >= cal:
        raise ValueError(
            f"orders: calibration_end ({cal}) is not after the first order ({first_ts}); "
            "the calibration period holds no purchase"
        )

    exclusions: dict[str, int] = {}
    if c["after_end"]:
        exclusions["order rows at or after observation_end"] = c["after_end"]
    if c["refunds"]:
        exclusions["refund rows (negative amount or is_refund)"] = c["refunds"]
    if amount_col and drop_zero_amount and c["zero_amount"]:
        exclusions["zero-amount order rows (drop_zero_amount=True)"] = c["zero_amount"]

    # --- purchases ------------------------------------------------------------------------------
    keep = (ts < end) & ~refund
    if amount_col and drop_zero_amount:
        keep = keep & (amount != 0)
    p = t.filter(keep)
    cols = dict(cid=p[customer_col], ts=p[ts_col])
    if amount_col:
        cols["value"] = p[amount_col].cast("float64")
    p = p.select(**cols)
    p = p.mutate(period=_period_expr(p.ts, time_unit))
    last = _last_period(end, time_unit)
    if cal is None:
        cust = _customer_stats(p, None, bool(amount_col), ids)
        out = _summary_columns(cust, last, bool(amount_col), time_scaler, "")
    else:
        split = _last_period(cal, time_unit)
        cust = _customer_stats(p, p.ts < cal, bool(amount_col), ids)
        in_cal = cust["first"].notna()
        n_hold_only = int((~in_cal).sum())
        if n_hold_only:
            exclusions["customers whose first purchase is after calibration_end"] = n_hold_only
        cust = cust[in_cal]
        out = _summary_columns(cust, split, bool(amount_col), time_scaler, "_cal")
        n_hold = cust["n_hold"].to_numpy(np.int64)
        out["frequency_holdout"] = n_hold
        if amount_col:
            # mean value of the holdout purchase periods
            with np.errstate(invalid="ignore", divide="ignore"):
                out["monetary_value_holdout"] = np.where(
                    n_hold > 0, cust["total_hold"].to_numpy(float) / np.maximum(n_hold, 1), 0.0)
        out["duration_holdout"] = float(last - split) / time_scaler

    out.index.name = customer_col
    out.attrs["exclusions"] = exclusions
    out.attrs["time_unit"] = time_unit
    out.attrs["time_scaler"] = float(time_scaler)
    out.attrs["observation_end"] = str(end)
    if cal is not None:
        out.attrs["calibration_end"] = str(cal)
    return out


def _count_rows(t, ts_col: str, conditions: dict) -> dict:
    """Row count, first timestamp and the number of rows meeting each condition, in one query.

    Each count is its own filtered branch of a UNION ALL: an engine reading Parquet answers the
    branches from row-group statistics when they can hold no match (no nulls, no refunds, no order
    after the end), which costs nothing next to evaluating the conditions on every row. An
    in-memory table (a converted DataFrame) has no such statistics: there the counts are
    conditional aggregates of one scan.
    """
    if isinstance(t.op(), ops.InMemoryTable):
        res = t.aggregate(rows=t.count(), first_ts=t[ts_col].min(),
                          **{name: t.count(where=cond) for name, cond in conditions.items()})
        row = res.to_pandas().iloc[0]
        counts = {k: int(row[k]) for k in ["rows", *conditions]}
        counts["first_ts"] = pd.Timestamp(row["first_ts"])
        return counts
    ts_type = t[ts_col].type()
    none = ibis.null().cast(ts_type)
    parts = [t.aggregate(check=ibis.literal("rows"), n=t.count(), first_ts=t[ts_col].min())]
    for name, cond in conditions.items():
        f = t.filter(cond)
        parts.append(f.aggregate(check=ibis.literal(name), n=f.count(), first_ts=none))
    res = ibis.union(*parts).to_pandas().set_index("check")
    counts = {k: int(v) for k, v in res["n"].items()}
    counts["first_ts"] = pd.Timestamp(res.loc["rows", "first_ts"])
    return counts


def _customer_stats(p, in_cal, monetary: bool, ids=None) -> pd.DataFrame:
    """Per-customer purchase statistics in one engine query, as pandas indexed by customer (sorted).

    ``p`` holds the purchases (cid, ts, period[, value]); they are merged per (customer, period)
    first. Columns: ``first`` and ``last`` purchase period, ``n`` purchase periods and
    (``monetary``) ``total`` value and ``first_value`` (of the first purchase period), over the
    purchases where ``in_cal`` holds (all when None; ``first`` is missing for a customer with
    none). With ``in_cal``, also ``n_hold`` and ``total_hold`` over the other purchases (a period
    that ``in_cal`` cuts in two counts on both sides). ``ids`` (``IdCodes``) decodes ``cid``
    codes back to the customer ids.
    """
    keys = ["cid", "period"]
    if in_cal is not None:
        p = p.mutate(in_cal=in_cal)
        keys.append("in_cal")
    per = p.group_by(keys).aggregate(value=p.value.sum()) if monetary else p.select(keys).distinct()
    cal = None if in_cal is None else per.in_cal
    agg = dict(first=per.period.min(where=cal), last=per.period.max(where=cal),
               n=per.count(where=cal))
    if monetary:
        agg["total"] = per.value.sum(where=cal)
        agg["first_value"] = per.value.argmin(per.period, where=cal)
    if cal is not None:
        agg["n_hold"] = per.count(where=~cal)
        if monetary:
            agg["total_hold"] = per.value.sum(where=~cal)
    df = per.group_by("cid").aggregate(**agg).to_pandas()
    if ids is None:
        return df.set_index("cid").sort_index()
    index, order = ids.decode_sorted(df["cid"].to_numpy())
    df = df.drop(columns="cid").take(order)
    df.index = index
    return df


def _summary_columns(df: pd.DataFrame, last_period: int, monetary: bool, scaler: float,
                     suffix: str) -> pd.DataFrame:
    """frequency, recency, T (and monetary_value) from :func:`_customer_stats` columns."""
    n = df["n"].to_numpy(np.int64)
    first = df["first"].to_numpy(float)
    out = pd.DataFrame(index=df.index)
    out["frequency" + suffix] = n - 1
    out["recency" + suffix] = (df["last"].to_numpy(float) - first) / scaler
    out["T" + suffix] = (last_period - first) / scaler
    if monetary:
        rep = df["total"].to_numpy(float) - df["first_value"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mv = np.where(n > 1, rep / np.maximum(n - 1, 1), 0.0)
        out["monetary_value" + suffix] = mv
    return out
