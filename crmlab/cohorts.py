"""Acquisition cohorts: retention matrices, repurchase and revisit rates, LTV curves, funnels.

Every function aggregates the raw log (orders, events) in the engine through Ibis — DuckDB by
default, and the same expressions run on PySpark (no SQL strings, no pandas fallback) — and
returns small tidy pandas tables wrapped in a results object.

Conventions shared by the whole module
--------------------------------------
- A **purchase** is an order row with ``amount > 0`` that is not flagged ``is_refund``.
  **Revenue** is the sum of ``amount`` over all rows, refunds included (the project's rule).
- A customer's **acquisition cohort** is the calendar period (day ``"D"``, ISO week starting on
  Monday ``"W"``, or month ``"M"``) of their first purchase. ``period_number`` k is the number of
  calendar periods between the cohort period and the period of an order (0 = the cohort period).
- ``observation_end`` is the *exclusive* end of the observed data. Rows at or after it are not
  read (they are counted in ``excluded``). When it is not given it comes from a ``CRMData``
  (``data.observation_end``) or, for a bare table, it is midnight after the latest order.
- **Right-censoring is explicit.** A period that has not been fully observed by
  ``observation_end`` is *not* zero: its cells are NaN and ``observed`` is False, and results
  count those cells (``n_censored_cells``). Rates whose window ends after ``observation_end``
  (repurchase, revisit, funnel) leave the affected customers out of the denominator and count
  them as ``censored``.
- Every excluded row is counted with its reason in the result's ``excluded`` table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import Table

from crmlab._engine import as_table, is_ibis, is_path

from crmlab.data.errors import DataContractError

__all__ = [
    "PERIODS", "acquisition_cohorts", "retention_matrix", "retention_pivot", "repurchase_rate",
    "revisit_rate", "ltv_curves", "n_period_ltv", "funnel", "RetentionMatrix", "LTVCurves",
    "ReturnRates", "Funnel", "DataContractError",
]

PERIODS = {"D": "day", "W": "week", "M": "month"}
_EPOCH_MONDAY = 4  # 1970-01-05, the first Monday after the epoch, is epoch day 4


# ---------------------------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------------------------

def _check_period(period: str) -> str:
    if not isinstance(period, str) or period.upper() not in PERIODS:
        raise ValueError(f"period must be one of 'D' (day), 'W' (ISO week) or 'M' (month); "
                         f"got {period!r}")
    return period.upper()


# the columns read from each table (a DataFrame is converted for the engine only in these)
_READS = {"orders": (["customer_id", "order_ts", "amount"], ("is_refund",))}


def _resolve(data: Any, table: str, observation_end=None) -> tuple[Table, pd.Timestamp | None]:
    """Return (Ibis table, observation_end) from a DataFrame, an Ibis table, a path to a
    Parquet / CSV / DuckDB file or a CRMData."""
    if isinstance(data, pd.DataFrame) or is_ibis(data) or is_path(data):
        tbl = as_table(data, table, *_READS.get(table, (None, ())))
        return tbl, (None if observation_end is None else pd.Timestamp(observation_end))
    if hasattr(data, table):
        tbl = getattr(data, table)
        if tbl is None:
            raise DataContractError(table, None, "table is required here but the data set has "
                                                 "none")
        end = observation_end if observation_end is not None else getattr(
            data, "observation_end", None)
        return as_table(tbl, table), (None if end is None else pd.Timestamp(end))
    raise TypeError(f"{table}: expected a pandas DataFrame, an Ibis table or a CRMData, "
                    f"got {type(data).__name__}")


def _require(tbl: Table, table: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in tbl.columns]
    if missing:
        raise DataContractError(
            table, ", ".join(missing),
            f"required column{'s' if len(missing) > 1 else ''} missing (the table has: "
            f"{', '.join(tbl.columns)})")


def _ts(tbl: Table, table: str, col: str):
    """The timestamp column, cast from date if needed; anything else is a contract error."""
    dtype = tbl[col].type()
    if dtype.is_timestamp():
        return tbl[col]
    if dtype.is_date():
        return tbl[col].cast("timestamp")
    raise DataContractError(table, col, f"must be a timestamp (got {dtype}); load the data with "
                                        "crmlab.load or parse it with pandas.to_datetime")


def _midnight_after(ts) -> pd.Timestamp:
    return pd.Timestamp(ts).normalize() + pd.Timedelta(days=1)


@dataclass
class _Orders:
    """Prepared orders: the purchases and the revenue rows before ``observation_end``."""

    purchases: Table      # customer_id, ts, amount   (purchases only)
    revenue: Table        # customer_id, ts, amount   (every row, refunds included)
    observation_end: pd.Timestamp
    n_rows: int
    excluded: pd.DataFrame
    non_purchase_rows: int = 0  # refunds and zero amounts before observation_end
    min_ts: pd.Timestamp | None = None  # earliest kept timestamp (a lower bound of purchases)


def _excluded_frame(rows: Iterable[tuple[str, str, int]]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=["table", "reason", "rows"])
    df["rows"] = df["rows"].astype("int64")
    return df[df["rows"] > 0].reset_index(drop=True)


def _prepare_orders(data: Any, observation_end=None, table: str = "orders") -> _Orders:
    tbl, end = _resolve(data, table, observation_end)
    _require(tbl, table, ["customer_id", "order_ts", "amount"])
    ts = _ts(tbl, table, "order_ts")
    amount = tbl["amount"]
    if not amount.type().is_numeric():
        raise DataContractError(table, "amount", f"must be numeric (got {amount.type()})")
    refund = (tbl["is_refund"].fill_null(False) if "is_refund" in tbl.columns
              else ibis.literal(False))
    t = tbl.select(customer_id=tbl["customer_id"], ts=ts, amount=amount.cast("float64"),
                   refund=refund)
    bad_key = t.customer_id.isnull() | t.ts.isnull()
    ok = ~bad_key & t.amount.notnull()
    is_purchase = (t.amount > 0) & ~t.refund
    aggs = dict(n=t.count(), null_key=bad_key.cast("int64").sum(),
                null_amount=(~bad_key & t.amount.isnull()).cast("int64").sum(),
                max_ts=t.ts.max(), min_ts=t.ts.min())
    if end is not None:  # one pass over the log for every count
        end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")
        aggs["after"] = (ok & (t.ts >= end_lit)).cast("int64").sum()
        aggs["non_purchase"] = (ok & (t.ts < end_lit) & ~is_purchase).cast("int64").sum()
    else:  # the default end lies after every order: nothing is after it
        aggs["non_purchase"] = (ok & ~is_purchase).cast("int64").sum()
    stats = t.aggregate(**aggs).to_pandas().iloc[0]
    n = int(stats["n"])
    if n == 0:
        raise DataContractError(table, None, "table is empty: nothing to analyse", 0)
    if end is None:
        if pd.isna(stats["max_ts"]):
            raise DataContractError(table, "order_ts", "every timestamp is null", n)
        end = _midnight_after(stats["max_ts"])
        end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")
    excluded = _excluded_frame([
        (table, "null customer_id or order_ts", int(stats["null_key"] or 0)),
        (table, "null amount", int(stats["null_amount"] or 0)),
        (table, f"order_ts at or after observation_end {end:%Y-%m-%d %H:%M:%S}",
         int(stats.get("after", 0) or 0)),
    ])
    valid = t.filter(ok)
    after = valid.ts >= end_lit
    kept = valid.filter(~after)
    purchases = kept.filter((kept.amount > 0) & ~kept.refund).select("customer_id", "ts",
                                                                      "amount")
    return _Orders(purchases=purchases, revenue=kept.select("customer_id", "ts", "amount"),
                   observation_end=end, n_rows=n, excluded=excluded,
                   non_purchase_rows=int(stats["non_purchase"] or 0),
                   min_ts=None if pd.isna(stats["min_ts"]) else pd.Timestamp(stats["min_ts"]))


def _period_index(ts, period: str):
    """Integer index of the calendar period holding ``ts`` (consecutive periods differ by 1).

    D: days since 1970-01-01; W: ISO weeks (Monday start) since 1970-01-05; M: year·12 + month−1.
    """
    if period == "D":
        return ts.date().epoch_days()
    if period == "W":
        return (ts.date().epoch_days() - _EPOCH_MONDAY) // 7
    return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1


def _period_index_py(ts: pd.Timestamp, period: str) -> int:
    ts = pd.Timestamp(ts)
    if period == "D":
        return int((ts.normalize() - pd.Timestamp("1970-01-01")).days)
    if period == "W":
        days = int((ts.normalize() - pd.Timestamp("1970-01-01")).days)
        return (days - _EPOCH_MONDAY) // 7
    return ts.year * 12 + ts.month - 1


def _period_start(idx, period: str) -> pd.Series:
    """Start (a Timestamp) of the periods with integer index ``idx``."""
    idx = pd.Series(np.asarray(idx, dtype="int64"))
    if period == "D":
        return pd.Timestamp("1970-01-01") + pd.to_timedelta(idx, unit="D")
    if period == "W":
        return pd.Timestamp("1970-01-05") + pd.to_timedelta(idx * 7, unit="D")
    return pd.to_datetime(pd.DataFrame({"year": idx // 12, "month": idx % 12 + 1, "day": 1}))


def _last_observed_index(end: pd.Timestamp, period: str, complete_periods_only: bool) -> int:
    """Index of the last period observed up to ``end`` (exclusive)."""
    if complete_periods_only:
        return _period_index_py(end, period) - 1
    return _period_index_py(end - pd.Timedelta(microseconds=1), period)


def _first_purchases(o: _Orders, period: str) -> Table:
    p = o.purchases
    return p.group_by("customer_id").aggregate(first_ts=p.ts.min())


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

class _Result:
    """Shared behaviour: ``to_frame()``, ``reading`` and a notebook rendering."""

    table: pd.DataFrame
    excluded: pd.DataFrame
    title = "result"

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy)."""
        return self.table.copy()

    @property
    def reading(self) -> str:  # pragma: no cover - overridden
        return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.reading}>"

    def _repr_html_(self) -> str:
        parts = [f"<h4>{self.title}</h4>", f"<p>{self.reading}</p>"]
        shown = self._html_table()
        parts.append(shown.to_html(float_format=lambda v: f"{v:,.3f}", na_rep="·",
                                   max_rows=30, max_cols=30))
        if len(self.excluded):
            parts.append("<p><b>Excluded rows</b></p>" + self.excluded.to_html(index=False))
        return "\n".join(parts)

    def _html_table(self) -> pd.DataFrame:
        return self.table


@dataclass(repr=False)
class RetentionMatrix(_Result):
    """Cohort retention: counts and rates per (cohort, period_number), tidy.

    Attributes
    ----------
    table : DataFrame
        ``cohort`` (period start), ``period_number``, ``cohort_size``, ``customers`` (active
        customers, NaN when the cell is censored), ``rate`` (customers / cohort_size),
        ``observed``.
    period, kind, observation_end, last_observed_period : the settings used.
    cohort_sizes : Series indexed by cohort.
    n_customers : int (customers in a cohort).
    n_censored_cells : int, cells (cohort, period) not yet fully observed (NaN, not 0).
    excluded : DataFrame ``table, reason, rows``.
    """

    table: pd.DataFrame
    period: str
    kind: str
    observation_end: pd.Timestamp
    last_observed_period: pd.Timestamp
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    title = "Cohort retention"

    @property
    def cohort_sizes(self) -> pd.Series:
        return self.table.groupby("cohort")["cohort_size"].first()

    @property
    def n_customers(self) -> int:
        return int(self.cohort_sizes.sum())

    @property
    def n_censored_cells(self) -> int:
        return int((~self.table["observed"]).sum())

    def pivot(self, values: str = "rate") -> pd.DataFrame:
        """Wide matrix: one row per cohort, one column per period_number (NaN = censored)."""
        return retention_pivot(self.table, values=values)

    @property
    def counts(self) -> pd.DataFrame:
        return self.pivot("customers")

    @property
    def rates(self) -> pd.DataFrame:
        return self.pivot("rate")

    def average_curve(self) -> pd.DataFrame:
        """Retention by period_number pooled over the cohorts that reached it.

        Columns ``period_number, cohorts, customers, cohort_size, rate`` where ``rate`` is the
        customer-weighted mean (sum of active / sum of sizes over observed cells only).
        """
        obs = self.table[self.table["observed"]]
        g = obs.groupby("period_number").agg(cohorts=("cohort", "nunique"),
                                             customers=("customers", "sum"),
                                             cohort_size=("cohort_size", "sum"))
        g["rate"] = g["customers"] / g["cohort_size"]
        return g.reset_index()

    @property
    def reading(self) -> str:
        what = {"on": "bought in", "on_or_after": "bought in or after"}[self.kind]
        curve = self.average_curve()
        one = curve.loc[curve["period_number"] == 1, "rate"]
        tail = (f"; on average {one.iloc[0]:.1%} {what} {PERIODS[self.period]} 1"
                if len(one) else "")
        return (f"{self.n_customers:,} customers in {self.cohort_sizes.size} {PERIODS[self.period]}ly "
                f"cohorts; share of each cohort that {what} {PERIODS[self.period]} k after the "
                f"first purchase{tail}. {self.n_censored_cells} cells not yet observed by "
                f"{self.observation_end:%Y-%m-%d} are NaN, not 0.")

    def _html_table(self) -> pd.DataFrame:
        return self.pivot("rate")


def retention_pivot(table: pd.DataFrame, values: str = "rate") -> pd.DataFrame:
    """Wide cohort × period_number matrix from a tidy cohort table.

    Parameters
    ----------
    table : DataFrame
        A tidy table with ``cohort`` and ``period_number`` columns (``RetentionMatrix.table``,
        ``LTVCurves.table``).
    values : str
        The column to spread (``rate``, ``customers``, ``ltv``, ...).

    Examples
    --------
    >>> tidy = pd.DataFrame({"cohort": ["2024-01", "2024-01"], "period_number": [0, 1],
    ...                      "rate": [1.0, 0.5]})
    >>> retention_pivot(tidy).values.tolist()
    [[1.0, 0.5]]
    """
    if values not in table.columns:
        raise ValueError(f"values: no column {values!r} in the table (has: "
                         f"{', '.join(table.columns)})")
    wide = table.pivot(index="cohort", columns="period_number", values=values)
    wide.columns.name = "period_number"
    return wide.sort_index()


# ---------------------------------------------------------------------------------------------
# cohorts and retention
# ---------------------------------------------------------------------------------------------

def acquisition_cohorts(orders: Any, period: str = "M", observation_end=None) -> pd.DataFrame:
    """One row per customer: the first purchase and its acquisition cohort.

    Parameters
    ----------
    orders : DataFrame, Ibis table or CRMData
        Needs ``customer_id``, ``order_ts``, ``amount`` (``is_refund`` is used when present).
    period : {"D", "W", "M"}
        Day, ISO week (starting Monday) or calendar month.
    observation_end : timestamp, optional
        Exclusive end of the observed data (default: from the CRMData, else midnight after the
        latest order).

    Returns
    -------
    DataFrame with ``customer_id``, ``first_purchase_ts``, ``cohort`` (the period's start),
    sorted by customer_id. Customers whose rows are all refunds or zero amounts have no cohort
    and are not listed.

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [10.0, 5.0, 7.0],
    ...     "order_ts": pd.to_datetime(["2024-01-31", "2024-02-02", "2024-02-10"])})
    >>> acquisition_cohorts(orders, "M")["cohort"].dt.strftime("%Y-%m").tolist()
    ['2024-01', '2024-02']
    """
    period = _check_period(period)
    o = _prepare_orders(orders, observation_end)
    f = _first_purchases(o, period)
    f = f.mutate(cohort_index=_period_index(f.first_ts, period))
    df = f.to_pandas().sort_values("customer_id").reset_index(drop=True)
    return pd.DataFrame({
        "customer_id": df["customer_id"],
        "first_purchase_ts": df["first_ts"],
        "cohort": _period_start(df["cohort_index"], period).to_numpy(),
    })


_MASK_BITS = 62   # periods per signed 64-bit activity mask
_MAX_MASKS = 8    # masks per customer (496 periods); longer spans use distinct + window


def _has_bit_or(tbl: Table) -> bool:
    """Whether the table's backend compiles ``bit_or`` (DuckDB does; Ibis's PySpark does not)."""
    try:
        from ibis.expr import operations as ops

        return bool(ibis.get_backend(tbl).has_operation(ops.BitOr))
    except Exception:  # no single backend (e.g. unbound) or no capability table: be portable
        return False


def _on_cells_by_mask(p: Table, pidx, base: int, top: int) -> pd.DataFrame:
    """Active customers per (cohort, k) from one per-customer aggregation.

    Each customer's active periods become a few 64-bit masks (bit b of mask m = period
    ``base + 62 m + b``) built with a single hash aggregation by customer (``bit_or``), instead
    of a distinct (customer, period) pass plus a window. Customers are then counted by their
    masks in the engine, and that small table (one row per distinct activity pattern) is
    expanded to cells with numpy: the cohort is the lowest set bit.
    """
    span = top - base + 1
    n_masks = -(-span // _MASK_BITS)
    q = p.select(customer_id=p.customer_id, j=pidx - base)
    one = ibis.literal(1, type="int64")
    zero = ibis.literal(0, type="int64")
    if n_masks == 1:
        aggs = {"m0": (one << q.j).bit_or()}
    else:
        aggs = {}
        for m in range(n_masks):
            lo = m * _MASK_BITS
            inside = (q.j >= lo) & (q.j < lo + _MASK_BITS)
            aggs[f"m{m}"] = inside.ifelse(one << (q.j - lo), zero).bit_or()
    per = q.group_by("customer_id").aggregate(**aggs)
    cols = [f"m{m}" for m in range(n_masks)]
    g = per.group_by(cols).aggregate(n=per.count()).to_pandas()
    n = g["n"].to_numpy(dtype="int64")
    masks = [g[c].fillna(0).to_numpy(dtype="int64").astype("uint64") for c in cols]
    cohort = np.full(len(g), -1, dtype="int64")        # lowest active period (relative)
    active = []
    for m, mask in enumerate(masks):
        for b in range(min(_MASK_BITS, span - m * _MASK_BITS)):
            on = ((mask >> np.uint64(b)) & np.uint64(1)).astype(bool)
            if on.any():
                j = m * _MASK_BITS + b
                cohort[on & (cohort < 0)] = j
                active.append((j, on))
    if not active:
        return pd.DataFrame({"cohort": [], "k": [], "customers": []}, dtype="int64")
    cells = pd.concat([pd.DataFrame({"cohort": cohort[on] + base, "k": j - cohort[on],
                                     "customers": n[on]}) for j, on in active],
                      ignore_index=True)
    return cells.groupby(["cohort", "k"], as_index=False)["customers"].sum()


def retention_matrix(orders: Any, period: str = "M", kind: str = "on", *,
                     observation_end=None, max_periods: int | None = None,
                     complete_periods_only: bool = True) -> RetentionMatrix:
    """Acquisition-cohort retention: who buys again k periods after the first purchase.

    Parameters
    ----------
    orders : DataFrame, Ibis table or CRMData
        Needs ``customer_id``, ``order_ts``, ``amount``. Only purchases (``amount > 0``, not a
        refund) make a customer active.
    period : {"D", "W", "M"}
        Calendar period of the cohorts and of the columns.
    kind : {"on", "on_or_after"}
        ``"on"``: the customer bought *in* period k (classic n-period retention; period 0 is 1 by
        construction). ``"on_or_after"``: the customer bought in period k *or any later observed
        period* ("unbounded" retention, non-increasing in k).
    observation_end : timestamp, optional
        Exclusive end of the data; default from the CRMData, else midnight after the latest
        order. Orders at or after it are not read (counted in ``excluded``).
    max_periods : int, optional
        Keep period numbers 0 .. max_periods - 1.
    complete_periods_only : bool
        True (default): a period counts as observed only when it has ended by
        ``observation_end``; a partly observed period is censored (NaN) rather than
        underestimated. False: partly observed periods are shown.

    Returns
    -------
    RetentionMatrix
        Tidy ``table`` (cohort, period_number, cohort_size, customers, rate, observed); cells
        after ``observation_end`` are NaN and counted in ``n_censored_cells``. ``pivot()`` gives
        the wide matrix.

    Notes
    -----
    For "on_or_after" the count at k is the number of cohort members whose *last* purchase
    period is ≥ k; it is observed under the same rule as "on" (the period k itself must have
    been observed). Computed in the engine: one distinct (customer, period) pass and one
    per-cohort aggregation; only the cohort × period table comes back.

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2, 2],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-02-07", "2024-01-20", "2024-03-01"]),
    ...     "amount": [10.0, 20.0, 15.0, 5.0]})
    >>> rm = retention_matrix(orders, "M", observation_end="2024-04-01")
    >>> rm.pivot("customers").values.tolist()
    [[2.0, 1.0, 1.0]]
    """
    period = _check_period(period)
    if kind not in ("on", "on_or_after"):
        raise ValueError(f"kind must be 'on' (active in period k) or 'on_or_after' (active in k "
                         f"or later); got {kind!r}")
    if max_periods is not None and int(max_periods) < 1:
        raise ValueError(f"max_periods must be ≥ 1; got {max_periods!r}")
    o = _prepare_orders(orders, observation_end)
    last = _last_observed_index(o.observation_end, period, complete_periods_only)

    p = o.purchases
    pidx = _period_index(p.ts, period)
    base = None if o.min_ts is None else _period_index_py(o.min_ts, period)
    top = _period_index_py(o.observation_end - pd.Timedelta(microseconds=1), period)
    if (kind == "on" and base is not None and top - base < _MASK_BITS * _MAX_MASKS
            and _has_bit_or(p)):
        cells = _on_cells_by_mask(p, pidx, base, top)
        sizes = cells.loc[cells["k"] == 0, ["cohort", "customers"]].rename(
            columns={"customers": "cohort_size"})
    elif kind == "on":
        # distinct (customer, period) pairs; the cohort is the customer's smallest period
        cp = p.select(customer_id=p.customer_id, pidx=pidx).distinct()
        cp = cp.mutate(cohort=cp.pidx.min().over(group_by=cp.customer_id))
        cp = cp.mutate(k=cp.pidx - cp.cohort)
        cells = cp.group_by(["cohort", "k"]).aggregate(customers=cp.count()).to_pandas()
        sizes = cells.loc[cells["k"] == 0, ["cohort", "customers"]].rename(
            columns={"customers": "cohort_size"})
    else:
        cp = p.select(customer_id=p.customer_id, pidx=pidx)
        per = cp.group_by("customer_id").aggregate(cohort=cp.pidx.min(), last=cp.pidx.max())
        per = per.mutate(k=per["last"] - per.cohort)
        ends = per.group_by(["cohort", "k"]).aggregate(n=per.count()).to_pandas()
        ends = ends.sort_values(["cohort", "k"], ascending=[True, False])
        ends["customers"] = ends.groupby("cohort")["n"].cumsum()
        cells = ends[["cohort", "k", "customers"]]
        sizes = ends.groupby("cohort", as_index=False)["n"].sum().rename(
            columns={"n": "cohort_size"})
    if sizes.empty:
        raise DataContractError("orders", "amount", "no purchases (amount > 0, not a refund) "
                                "before observation_end", o.n_rows)
    sizes = sizes.sort_values("cohort")
    first_cohort = int(sizes["cohort"].min())
    n_cols = max(last - first_cohort + 1, 1)
    if max_periods is not None:
        n_cols = min(n_cols, int(max_periods))
    grid = pd.MultiIndex.from_product([sizes["cohort"].astype("int64"), range(n_cols)],
                                      names=["cohort", "k"]).to_frame(index=False)
    grid = grid.merge(sizes, on="cohort", how="left")
    cells = cells.astype({"cohort": "int64", "k": "int64"})
    if kind == "on":
        grid = grid.merge(cells, on=["cohort", "k"], how="left")
        grid["customers"] = grid["customers"].fillna(0)
    else:  # customers whose last period >= k: fill from the next larger k present
        cells = cells.sort_values(["cohort", "k"])
        grid = pd.merge_asof(grid.sort_values("k"), cells.sort_values("k"), on="k",
                             by="cohort", direction="forward")
        grid["customers"] = grid["customers"].fillna(0)
        grid = grid.sort_values(["cohort", "k"])
    grid["observed"] = (grid["cohort"] + grid["k"]) <= last
    grid["customers"] = grid["customers"].astype("float64").where(grid["observed"])
    grid["rate"] = grid["customers"] / grid["cohort_size"]
    table = pd.DataFrame({
        "cohort": _period_start(grid["cohort"], period).to_numpy(),
        "period_number": grid["k"].astype("int64").to_numpy(),
        "cohort_size": grid["cohort_size"].astype("int64").to_numpy(),
        "customers": grid["customers"].to_numpy(),
        "rate": grid["rate"].to_numpy(),
        "observed": grid["observed"].astype(bool).to_numpy(),
    }).sort_values(["cohort", "period_number"]).reset_index(drop=True)
    excluded = o.excluded
    if o.non_purchase_rows:
        excluded = pd.concat([excluded, _excluded_frame(
            [("orders", "not a purchase (amount <= 0 or refund)", o.non_purchase_rows)])],
            ignore_index=True)
    return RetentionMatrix(table=table, period=period, kind=kind,
                           observation_end=o.observation_end,
                           last_observed_period=_period_start([last], period).iloc[0],
                           excluded=excluded)


# ---------------------------------------------------------------------------------------------
# repurchase and revisit rates
# ---------------------------------------------------------------------------------------------

@dataclass(repr=False)
class ReturnRates(_Result):
    """Share of first-time buyers (visitors) who come back within N days, by cohort.

    ``table``: ``cohort, within_days, customers, censored, eligible, returned, rate``;
    ``overall``: the same pooled over cohorts (one row per ``within_days``). ``eligible``
    customers are those whose whole N-day window lies before ``observation_end``; the others are
    ``censored`` and left out of the rate.
    """

    table: pd.DataFrame
    overall: pd.DataFrame
    what: str
    period: str
    observation_end: pd.Timestamp
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def title(self) -> str:  # type: ignore[override]
        return f"{self.what.capitalize()} rate by cohort"

    def rate(self, within_days: int) -> float:
        """Pooled rate for one window length."""
        row = self.overall.loc[self.overall["within_days"] == within_days]
        if row.empty:
            raise KeyError(f"within_days={within_days} was not computed "
                           f"(have {self.overall['within_days'].tolist()})")
        return float(row["rate"].iloc[0])

    @property
    def reading(self) -> str:
        parts = [f"{r.rate:.1%} within {r.within_days} days ({int(r.returned):,} of "
                 f"{int(r.eligible):,}; {int(r.censored):,} censored)"
                 for r in self.overall.itertuples()]
        base = "first-time buyers" if self.what == "repurchase" else "first-time visitors"
        return f"{self.what.capitalize()} of {base}: " + "; ".join(parts) + "."

    def _html_table(self) -> pd.DataFrame:
        return self.overall


def _return_rates(first: Table, again: Table, within_days: Sequence[int], end: pd.Timestamp,
                  period: str, what: str, excluded: pd.DataFrame) -> ReturnRates:
    """first: customer_id, first_ts; again: customer_id, ts (all activity of that kind)."""
    days = sorted({int(d) for d in within_days})
    if not days or days[0] < 1:
        raise ValueError(f"within_days must be positive integers; got {list(within_days)!r}")
    j = again.join(first, "customer_id")
    j = j.filter(j.ts.date() > j.first_ts.date())
    second = j.group_by("customer_id").aggregate(second_ts=j.ts.min())
    f = first.left_join(second, "customer_id").select(first.customer_id, first.first_ts,
                                                      "second_ts")
    end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")
    f = f.mutate(cohort=_period_index(f.first_ts, period))
    aggs = {"customers": f.count()}
    for d in days:
        horizon = f.first_ts + ibis.interval(days=d)
        eligible = horizon <= end_lit
        aggs[f"eligible_{d}"] = eligible.cast("int64").sum()
        aggs[f"returned_{d}"] = (eligible & f.second_ts.notnull()
                                 & (f.second_ts < horizon)).cast("int64").sum()
    g = f.group_by("cohort").aggregate(**aggs)
    wide = g.to_pandas().sort_values("cohort")
    rows = []
    for d in days:
        rows.append(pd.DataFrame({
            "cohort": wide["cohort"].to_numpy(), "within_days": d,
            "customers": wide["customers"].to_numpy(),
            "eligible": wide[f"eligible_{d}"].fillna(0).to_numpy(),
            "returned": wide[f"returned_{d}"].fillna(0).to_numpy(),
        }))
    t = pd.concat(rows, ignore_index=True)
    t = t.astype({"customers": "int64", "eligible": "int64", "returned": "int64"})
    t["censored"] = t["customers"] - t["eligible"]
    t["rate"] = (t["returned"] / t["eligible"]).where(t["eligible"] > 0)
    t["cohort"] = _period_start(t["cohort"], period).to_numpy()
    t = t[["cohort", "within_days", "customers", "censored", "eligible", "returned", "rate"]]
    t = t.sort_values(["cohort", "within_days"]).reset_index(drop=True)
    ov = t.groupby("within_days")[["customers", "censored", "eligible", "returned"]].sum()
    ov["rate"] = (ov["returned"] / ov["eligible"]).where(ov["eligible"] > 0)
    return ReturnRates(table=t, overall=ov.reset_index(), what=what, period=period,
                       observation_end=end, excluded=excluded)


def repurchase_rate(orders: Any, within_days: int | Sequence[int] = (30, 60, 90),
                    period: str = "M", *, observation_end=None) -> ReturnRates:
    """Share of first-time buyers who buy again within N days of their first purchase.

    A repeat purchase is a purchase on a *later calendar day* than the first one and less than
    N days (N × 24 h) after it; several orders on the first day count as one purchase (the BTYD
    literature's convention). Customers whose N-day window does not end before
    ``observation_end`` are censored: counted, but not in the denominator.

    Parameters
    ----------
    orders : DataFrame, Ibis table or CRMData
    within_days : int or sequence of int
    period : {"D", "W", "M"}
        Cohort period (of the first purchase).
    observation_end : timestamp, optional

    Returns
    -------
    ReturnRates
        ``table`` by cohort × within_days and ``overall`` pooled; ``rate(n)`` for one window.

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [9.0, 9.0, 9.0],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-01-02"])})
    >>> repurchase_rate(orders, 30, observation_end="2024-06-01").rate(30)
    0.5
    """
    period = _check_period(period)
    days = [within_days] if np.isscalar(within_days) else list(within_days)
    o = _prepare_orders(orders, observation_end)
    first = _first_purchases(o, period)
    again = o.purchases.select("customer_id", "ts")
    excluded = o.excluded
    if o.non_purchase_rows:
        excluded = pd.concat([excluded, _excluded_frame(
            [("orders", "not a purchase (amount <= 0 or refund)", o.non_purchase_rows)])],
            ignore_index=True)
    return _return_rates(first, again, days, o.observation_end, period, "repurchase", excluded)


def _prepare_events(data: Any, observation_end=None, table: str = "events"):
    tbl, end = _resolve(data, table, observation_end)
    _require(tbl, table, ["customer_id", "event_ts", "event_type"])
    ts = _ts(tbl, table, "event_ts")
    t = tbl.select(customer_id=tbl.customer_id, ts=ts, event_type=tbl.event_type)
    bad = t.customer_id.isnull() | t.ts.isnull() | t.event_type.isnull()
    stats = t.aggregate(n=t.count(), bad=bad.cast("int64").sum(),
                        max_ts=t.ts.max()).to_pandas().iloc[0]
    n = int(stats["n"])
    if n == 0:
        raise DataContractError(table, None, "table is empty: nothing to analyse", 0)
    if end is None:
        end = _midnight_after(stats["max_ts"])
    end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")
    valid = t.filter(~bad)
    n_after = int(valid.aggregate(a=(valid.ts >= end_lit).cast("int64").sum()).to_pandas()
                  ["a"].fillna(0).iloc[0])
    excluded = _excluded_frame([
        (table, "null customer_id, event_ts or event_type", int(stats["bad"] or 0)),
        (table, f"event_ts at or after observation_end {end:%Y-%m-%d %H:%M:%S}", n_after),
    ])
    return valid.filter(valid.ts < end_lit), end, n, excluded


def revisit_rate(events: Any, within_days: int | Sequence[int] = 30, period: str = "M", *,
                 event_type: str = "visit", observation_end=None) -> ReturnRates:
    """Share of first-time visitors who visit again within N days (default 30) of the first visit.

    A revisit is an event of ``event_type`` on a later calendar day than the first one and less
    than N days after it (several visits on the first day are one visit). Visitors whose window
    is not fully observed are censored.

    Parameters
    ----------
    events : DataFrame, Ibis table or CRMData
        Needs ``customer_id``, ``event_ts``, ``event_type``.
    within_days : int or sequence of int
    period : {"D", "W", "M"}
        Cohort period (of the first visit).
    event_type : str
        The event that counts as a visit.
    observation_end : timestamp, optional
        Default: from the CRMData, else midnight after the latest event.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": [1, 1, 2], "event_type": "visit",
    ...     "event_ts": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"])})
    >>> revisit_rate(ev, observation_end="2024-03-01").rate(30)
    0.5
    """
    period = _check_period(period)
    days = [within_days] if np.isscalar(within_days) else list(within_days)
    ev, end, n, excluded = _prepare_events(events, observation_end)
    visits = ev.filter(ev.event_type == event_type)
    first = visits.group_by("customer_id").aggregate(first_ts=visits.ts.min())
    n_first = int(first.count().execute())
    if n_first == 0:
        raise DataContractError("events", "event_type", f"no {event_type!r} events before "
                                f"observation_end {end:%Y-%m-%d}", n)
    return _return_rates(first, visits.select("customer_id", "ts"), days, end, period,
                         "revisit", excluded)


# ---------------------------------------------------------------------------------------------
# LTV curves
# ---------------------------------------------------------------------------------------------

@dataclass(repr=False)
class LTVCurves(_Result):
    """Cumulative revenue per acquired customer by cohort and period_number.

    ``table``: ``cohort, period_number, cohort_size, revenue`` (in that period),
    ``cumulative_revenue``, ``ltv`` (cumulative revenue / cohort size), ``observed``; censored
    cells are NaN. ``currency`` is informative only.
    """

    table: pd.DataFrame
    period: str
    observation_end: pd.Timestamp
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    currency: str | None = None
    title = "Cumulative revenue per customer (LTV curves)"

    @property
    def n_censored_cells(self) -> int:
        return int((~self.table["observed"]).sum())

    def pivot(self, values: str = "ltv") -> pd.DataFrame:
        return retention_pivot(self.table, values=values)

    def average_curve(self) -> pd.DataFrame:
        """Customer-weighted LTV by period_number over the cohorts that reached it."""
        obs = self.table[self.table["observed"]]
        g = obs.groupby("period_number").agg(cohorts=("cohort", "nunique"),
                                             cumulative_revenue=("cumulative_revenue", "sum"),
                                             cohort_size=("cohort_size", "sum"))
        g["ltv"] = g["cumulative_revenue"] / g["cohort_size"]
        return g.reset_index()

    @property
    def reading(self) -> str:
        c = self.average_curve()
        last = c.iloc[-1]
        cur = f" {self.currency}" if self.currency else ""
        return (f"Average revenue per acquired customer reaches {c['ltv'].iloc[0]:,.2f}{cur} in "
                f"the first {PERIODS[self.period]} and {last['ltv']:,.2f}{cur} after "
                f"{int(last['period_number']) + 1} {PERIODS[self.period]}s "
                f"({int(last['cohorts'])} cohorts observed that long); refunds included; "
                f"{self.n_censored_cells} censored cells are NaN.")

    def _html_table(self) -> pd.DataFrame:
        return self.pivot("ltv")


def ltv_curves(orders: Any, period: str = "M", *, observation_end=None,
               max_periods: int | None = None, complete_periods_only: bool = True,
               currency: str | None = None) -> LTVCurves:
    """Cumulative revenue per customer of each acquisition cohort (LTV curves).

    ``ltv`` at period_number k is the revenue (refunds included) of the cohort's customers in
    periods 0..k divided by the cohort size — every acquired customer counts, including those
    who never bought again. Cells not yet fully observed are NaN.

    Parameters
    ----------
    orders : DataFrame, Ibis table or CRMData
    period : {"D", "W", "M"}
    observation_end : timestamp, optional
    max_periods : int, optional
    complete_periods_only : bool
        As in :func:`retention_matrix`.
    currency : str, optional
        Label for readings (default: the CRMData's currency when given one).

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-02-07", "2024-01-20"]),
    ...     "amount": [10.0, 20.0, 30.0]})
    >>> ltv_curves(orders, observation_end="2024-03-01").pivot("ltv").values.tolist()
    [[20.0, 30.0]]
    """
    period = _check_period(period)
    if currency is None and not isinstance(orders, pd.DataFrame) and not is_ibis(orders):
        currency = getattr(orders, "currency", None)
    o = _prepare_orders(orders, observation_end)
    last = _last_observed_index(o.observation_end, period, complete_periods_only)
    first = _first_purchases(o, period)
    first = first.mutate(cohort=_period_index(first.first_ts, period))
    sizes = first.group_by("cohort").aggregate(cohort_size=first.count()).to_pandas()
    if sizes.empty:
        raise DataContractError("orders", "amount", "no purchases (amount > 0, not a refund) "
                                "before observation_end", o.n_rows)
    r = o.revenue
    j = r.left_join(first.select("customer_id", "cohort"), "customer_id")
    j = j.mutate(k=_period_index(j.ts, period) - j.cohort)
    cells = j.group_by(["cohort", "k"]).aggregate(revenue=j.amount.sum(), rows=j.count())
    cells = cells.to_pandas()
    no_cohort = cells["cohort"].isna()
    before = ~no_cohort & (cells["k"] < 0)
    excluded = pd.concat([o.excluded, _excluded_frame([
        ("orders", "customer never made a purchase (only refunds or zero amounts)",
         int(cells.loc[no_cohort, "rows"].sum())),
        ("orders", "refund or zero amount before the customer's first purchase",
         int(cells.loc[before, "rows"].sum())),
    ])], ignore_index=True)
    cells = cells[~no_cohort & ~before].astype({"cohort": "int64", "k": "int64"})

    sizes = sizes.sort_values("cohort").astype({"cohort": "int64"})
    n_cols = max(last - int(sizes["cohort"].min()) + 1, 1)
    if max_periods is not None:
        if int(max_periods) < 1:
            raise ValueError(f"max_periods must be ≥ 1; got {max_periods!r}")
        n_cols = min(n_cols, int(max_periods))
    grid = pd.MultiIndex.from_product([sizes["cohort"], range(n_cols)],
                                      names=["cohort", "k"]).to_frame(index=False)
    grid = grid.merge(sizes, on="cohort").merge(cells[["cohort", "k", "revenue"]],
                                                on=["cohort", "k"], how="left")
    grid["revenue"] = grid["revenue"].fillna(0.0)
    grid = grid.sort_values(["cohort", "k"])
    grid["cumulative_revenue"] = grid.groupby("cohort")["revenue"].cumsum()
    grid["observed"] = (grid["cohort"] + grid["k"]) <= last
    for col in ("revenue", "cumulative_revenue"):
        grid[col] = grid[col].where(grid["observed"])
    grid["ltv"] = grid["cumulative_revenue"] / grid["cohort_size"]
    table = pd.DataFrame({
        "cohort": _period_start(grid["cohort"], period).to_numpy(),
        "period_number": grid["k"].astype("int64").to_numpy(),
        "cohort_size": grid["cohort_size"].astype("int64").to_numpy(),
        "revenue": grid["revenue"].to_numpy(),
        "cumulative_revenue": grid["cumulative_revenue"].to_numpy(),
        "ltv": grid["ltv"].to_numpy(),
        "observed": grid["observed"].astype(bool).to_numpy(),
    }).reset_index(drop=True)
    return LTVCurves(table=table, period=period, observation_end=o.observation_end,
                     excluded=excluded, currency=currency)


def n_period_ltv(orders: Any, n: int, period: str = "M", **kwargs) -> pd.DataFrame:
    """Revenue per acquired customer over the first ``n`` periods (0 .. n-1), by cohort.

    Cohorts that have not been observed for ``n`` full periods get NaN (``observed`` False),
    never a partial sum. Keyword arguments go to :func:`ltv_curves`.

    Returns
    -------
    DataFrame ``cohort, cohort_size, n_periods, ltv, observed`` plus a final row with
    ``cohort = "all observed"`` holding the customer-weighted LTV over the observed cohorts.

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-02-07", "2024-01-20"]),
    ...     "amount": [10.0, 20.0, 30.0]})
    >>> n_period_ltv(orders, 2, observation_end="2024-03-01")["ltv"].tolist()
    [30.0, 30.0]
    """
    if int(n) < 1:
        raise ValueError(f"n must be ≥ 1 period; got {n!r}")
    curves = ltv_curves(orders, period, max_periods=int(n), **kwargs)
    t = curves.table
    sizes = t.groupby("cohort")["cohort_size"].first()
    at = t[t["period_number"] == int(n) - 1].set_index("cohort")
    out = pd.DataFrame({"cohort_size": sizes})
    out["n_periods"] = int(n)
    out["ltv"] = at["ltv"].reindex(out.index)
    out["observed"] = at["observed"].reindex(out.index).fillna(False).astype(bool)
    out = out.reset_index()
    obs = out[out["observed"]]
    total = pd.DataFrame([{
        "cohort": "all observed", "cohort_size": int(obs["cohort_size"].sum()),
        "n_periods": int(n),
        "ltv": float((obs["ltv"] * obs["cohort_size"]).sum() / obs["cohort_size"].sum())
        if len(obs) else np.nan,
        "observed": bool(len(obs)),
    }])
    return pd.concat([out.astype({"cohort": object}), total], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# funnel
# ---------------------------------------------------------------------------------------------

@dataclass(repr=False)
class Funnel(_Result):
    """visit → cart_add → purchase by first-visit cohort.

    ``table``: ``cohort, step_number, step, customers, share_of_start, share_of_previous,
    censored``. ``overall`` pools the cohorts.
    """

    table: pd.DataFrame
    overall: pd.DataFrame
    window_days: int
    period: str
    observation_end: pd.Timestamp
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    title = "Funnel by first-visit cohort"

    @property
    def reading(self) -> str:
        ov = self.overall
        steps = " → ".join(f"{r.step} {int(r.customers):,}" + ("" if r.step_number == 1 else
                                                              f" ({r.share_of_previous:.1%})")
                           for r in ov.itertuples())
        cens = int(self.table.drop_duplicates("cohort")["censored"].sum())
        return (f"Within {self.window_days} days of the first visit: {steps}. {cens:,} visitors "
                f"whose window was not fully observed are left out.")

    def _html_table(self) -> pd.DataFrame:
        return self.overall


def funnel(events: Any, orders: Any = None, period: str = "M", *, window_days: int = 30,
           steps: Sequence[str] = ("visit", "cart_add", "purchase"),
           observation_end=None) -> Funnel:
    """Ordered funnel visit → cart_add → purchase by cohort of the first visit.

    For each customer whose first ``steps[0]`` event falls before ``observation_end``: step j is
    reached when its first occurrence is at or after the time the previous step was first
    reached (after the first visit) and before ``first visit + window_days``. ``"purchase"``
    comes from ``orders`` (a purchase: ``amount > 0``, not a refund); other steps are
    ``event_type`` values of ``events``. Visitors whose window does not end before
    ``observation_end`` are censored (counted, left out).

    Parameters
    ----------
    events : DataFrame, Ibis table or CRMData
        With a CRMData, ``orders`` defaults to its orders.
    orders : DataFrame or Ibis table, optional
    period : {"D", "W", "M"}
    window_days : int
    steps : sequence of str
    observation_end : timestamp, optional

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": [1, 1, 2], "event_type": ["visit", "cart_add", "visit"],
    ...     "event_ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])})
    >>> od = pd.DataFrame({"customer_id": [1], "amount": [5.0],
    ...     "order_ts": pd.to_datetime(["2024-01-02 10:00"])})
    >>> funnel(ev, od, observation_end="2024-03-01").overall["customers"].tolist()
    [2, 1, 1]
    """
    period = _check_period(period)
    steps = list(steps)
    if len(steps) < 2:
        raise ValueError(f"steps: a funnel needs at least two steps; got {steps!r}")
    if int(window_days) < 1:
        raise ValueError(f"window_days must be ≥ 1; got {window_days!r}")
    if orders is None and not isinstance(events, pd.DataFrame) and not is_ibis(events) \
            and "purchase" in steps:
        orders = getattr(events, "orders", None)
    ev, end, n_ev, excluded = _prepare_events(events, observation_end)
    end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")
    purchases = None
    if "purchase" in steps:
        if orders is None:
            raise ValueError("funnel: the 'purchase' step needs the orders table (orders=...)")
        o = _prepare_orders(orders, end)
        purchases = o.purchases.select("customer_id", "ts")
        excluded = pd.concat([excluded, o.excluded], ignore_index=True)

    def step_rows(name: str) -> Table:
        if name == "purchase":
            return purchases
        return ev.filter(ev.event_type == name).select("customer_id", "ts")

    s0 = step_rows(steps[0])
    base = s0.group_by("customer_id").aggregate(t0=s0.ts.min())
    base = base.mutate(horizon=base.t0 + ibis.interval(days=int(window_days)))
    base = base.mutate(eligible=base.horizon <= end_lit)
    cur = base.select("customer_id", "t0", "horizon", "eligible", prev=base.t0)
    reached = {}
    for j, name in enumerate(steps[1:], start=1):
        rows = step_rows(name)
        x = rows.join(cur.select("customer_id", "prev", "horizon"), "customer_id")
        x = x.filter((x.ts >= x.prev) & (x.ts < x.horizon))
        hit = x.group_by("customer_id").aggregate(**{f"s{j}": x.ts.min()})
        cur = cur.left_join(hit, "customer_id").select(
            *[c for c in cur.columns if c != "prev"], f"s{j}", prev=hit[f"s{j}"])
        # customers who missed a step cannot reach a later one: prev stays null
        reached[j] = f"s{j}"
    cur = cur.mutate(cohort=_period_index(cur.t0, period))
    aggs = {"visitors": cur.count(), "eligible": cur.eligible.cast("int64").sum()}
    for j, col in reached.items():
        aggs[f"n{j}"] = (cur.eligible & cur[col].notnull()).cast("int64").sum()
    g = cur.group_by("cohort").aggregate(**aggs).to_pandas().sort_values("cohort")
    if g.empty:
        raise DataContractError("events", "event_type", f"no {steps[0]!r} events before "
                                f"observation_end {end:%Y-%m-%d}", n_ev)
    rows = []
    for r in g.itertuples(index=False):
        counts = [int(r.eligible)] + [int(getattr(r, f"n{j}")) for j in reached]
        for j, (name, c) in enumerate(zip(steps, counts)):
            rows.append({"cohort": r.cohort, "step_number": j + 1, "step": name,
                         "customers": c, "censored": int(r.visitors) - int(r.eligible),
                         "_start": counts[0], "_prev": counts[j - 1] if j else c})
    t = pd.DataFrame(rows)
    t["cohort"] = _period_start(t["cohort"], period).to_numpy()
    ov = t.groupby(["step_number", "step"], as_index=False)[["customers", "censored"]].sum()
    t = t.sort_values(["cohort", "step_number"]).reset_index(drop=True)
    ov["_key"] = 0
    for df, key in ((t, "cohort"), (ov, "_key")):
        grp = df.groupby(key)["customers"]
        first, prev = grp.transform("first"), grp.shift(1)
        df["share_of_start"] = df["customers"] / first.where(first > 0)
        df["share_of_previous"] = df["customers"] / prev.where(prev > 0)
    t = t[["cohort", "step_number", "step", "customers", "share_of_start",
           "share_of_previous", "censored"]]
    ov = ov[["step_number", "step", "customers", "share_of_start", "share_of_previous",
             "censored"]]
    return Funnel(table=t, overall=ov, window_days=int(window_days), period=period,
                  observation_end=end, excluded=excluded)
