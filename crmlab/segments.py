"""Who are my customers: RFM scores and named segments, lifecycle stages and their flow.

- :func:`rfm_scores` scores an RFM summary (:func:`crmlab.summaries.rfm_summary`) 1–5 on
  recency, frequency and monetary value and names each customer's segment from
  :data:`RFM_SEGMENTS`.
- :func:`lifecycle_stages` puts every customer in one lifecycle stage (potential, new, loyal,
  dormant, returning, VIP, interested) as of a date, from orders (+ customers, events) aggregated
  in the engine, reading nothing at or after that date.
- :func:`stage_flow` cross-tabulates the stages at two dates.

The rules are written out in ``docs/segments-and-cohorts.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import Table

from crmlab._engine import as_coded_tables, as_table, is_ibis, is_path
from crmlab.cohorts import DataContractError, _excluded_frame, _require, _ts

__all__ = [
    "RFM_SEGMENTS", "NO_PURCHASE", "rfm_scores", "quantile_scores", "RFMScores",
    "STAGES", "lifecycle_stages", "LifecycleStages", "stage_flow", "StageFlow",
]

# ---------------------------------------------------------------------------------------------
# RFM
# ---------------------------------------------------------------------------------------------

#: The named RFM segments. A customer's segment is the **first** row whose R range and FM range
#: hold the customer's R score and FM score, where FM = ceil((F + M) / 2) (the mean of F and M,
#: halves rounded up). The table covers all 25 (R, FM) cells exactly once after the first-match
#: rule (``lost`` is listed before ``hibernating``, which it would otherwise overlap).
RFM_SEGMENTS = pd.DataFrame(
    [
        ("champions", 5, 5, 4, 5, "bought very recently, buy often and spend the most"),
        ("loyal", 3, 4, 4, 5, "buy often and spend a lot; recent enough"),
        ("potential loyalists", 4, 5, 2, 3, "recent customers with average frequency and spend"),
        ("new", 5, 5, 1, 1, "bought most recently, but only once or little"),
        ("promising", 4, 4, 1, 1, "recent, but bought little so far"),
        ("need attention", 3, 3, 3, 3, "average on every axis; slipping"),
        ("about to sleep", 3, 3, 1, 2, "below average recency, frequency and spend"),
        ("at risk", 1, 2, 3, 4, "used to buy often and spend well, not for a long time"),
        ("can't lose", 1, 2, 5, 5, "were among the best customers, long gone: win them back"),
        ("lost", 1, 1, 1, 1, "lowest recency, frequency and spend"),
        ("hibernating", 1, 2, 1, 2, "long ago, little and rarely"),
    ],
    columns=["segment", "r_min", "r_max", "fm_min", "fm_max", "description"],
)

#: Segment of customers who are listed (e.g. signed up) but have no purchase.
NO_PURCHASE = "no purchase"


def quantile_scores(values: pd.Series, n_bins: int = 5, higher_is_better: bool = True
                    ) -> pd.Series:
    """Score a variable 1..``n_bins`` by quantiles, giving equal values the same score.

    The score is ``1 + floor(n_bins × s)`` where ``s`` is the share of the scored customers whose
    value is strictly *worse* (lower when ``higher_is_better``). This is quintile binning of the
    ranks with ties ranked ``method="min"``: all customers of a tie block get the score of the
    quantile in which the block *starts*. When a quantile boundary falls inside a tie, the whole
    block stays below the boundary, so the scores are deterministic (no dependence on row
    order), but bins can be unequal and some scores may be empty (e.g. when 60% of customers
    share the lowest value, they all score 1 and the next value scores 4).

    Parameters
    ----------
    values : Series
        Missing values are not scored (NA) and do not count in the shares.
    n_bins : int
        Number of scores (2..9).
    higher_is_better : bool
        False scores low values high (used for "time since last purchase").

    Examples
    --------
    >>> quantile_scores(pd.Series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).tolist()
    [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    >>> quantile_scores(pd.Series([0, 0, 0, 0, 0, 0, 1, 1, 2, 3])).tolist()
    [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    """
    if not 2 <= int(n_bins) <= 9:
        raise ValueError(f"n_bins must be between 2 and 9; got {n_bins!r}")
    v = pd.to_numeric(values, errors="raise").astype("float64")
    if not higher_is_better:
        v = -v
    n = int(v.notna().sum())
    below = v.rank(method="min") - 1           # customers with a strictly worse value
    score = 1 + np.floor(int(n_bins) * below / max(n, 1))
    return score.clip(upper=int(n_bins)).astype("Int64")


@dataclass(repr=False)
class RFMScores:
    """Per-customer RFM scores and segments.

    Attributes
    ----------
    table : DataFrame indexed by customer_id
        The input columns plus ``recency_gap`` (periods since the last purchase), ``R``, ``F``,
        ``M``, ``FM``, ``rfm_code`` (e.g. ``"543"``), ``rfm_sum`` (R + F + M) and ``segment``
        (categorical in :data:`RFM_SEGMENTS` order, then :data:`NO_PURCHASE`).
    thresholds : DataFrame
        For each score of each dimension, the smallest and largest value that received it.
    segment_sizes : DataFrame
        ``segment, customers, share`` and the segment's mean R, F, M.
    excluded : DataFrame
        ``table, reason, rows``: customers that were not scored (no purchase).
    n_bins : int
    """

    table: pd.DataFrame
    n_bins: int
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_customers(self) -> int:
        return len(self.table)

    @property
    def thresholds(self) -> pd.DataFrame:
        rows = []
        for dim, col in (("R", "recency_gap"), ("F", "frequency"), ("M", "monetary_value")):
            g = self.table.dropna(subset=[dim]).groupby(dim)[col]
            for score, s in g:
                rows.append({"dimension": dim, "score": int(score), "min": s.min(),
                             "max": s.max(), "customers": int(s.size)})
        return pd.DataFrame(rows)

    @property
    def segment_sizes(self) -> pd.DataFrame:
        t = self.table
        g = t.groupby("segment", observed=False).agg(customers=("segment", "size"),
                                                     R=("R", "mean"), F=("F", "mean"),
                                                     M=("M", "mean"))
        g["share"] = g["customers"] / max(len(t), 1)
        return g.reset_index()[["segment", "customers", "share", "R", "F", "M"]]

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def reading(self) -> str:
        s = self.segment_sizes.sort_values("customers", ascending=False)
        top = ", ".join(f"{r.segment} {r.share:.0%}" for r in s.head(3).itertuples()
                        if r.customers)
        champ = s.loc[s.segment == "champions", "share"]
        champ_txt = f"; champions are {champ.iloc[0]:.1%}" if len(champ) else ""
        return (f"{self.n_customers:,} customers scored 1–{self.n_bins} on recency, frequency "
                f"and monetary value; largest segments: {top}{champ_txt}.")

    def __repr__(self) -> str:
        return f"<RFMScores: {self.reading}>"

    def _repr_html_(self) -> str:
        return (f"<h4>RFM segments</h4><p>{self.reading}</p>"
                + self.segment_sizes.to_html(index=False, float_format=lambda v: f"{v:,.2f}",
                                             na_rep="·"))


def _assign_segments(R: pd.Series, FM: pd.Series) -> pd.Series:
    seg = pd.Series(pd.NA, index=R.index, dtype="object")
    for row in RFM_SEGMENTS.itertuples(index=False):
        hit = (seg.isna() & R.between(row.r_min, row.r_max) & FM.between(row.fm_min, row.fm_max)
               ).fillna(False).astype(bool)
        seg[hit] = row.segment
    return seg


def rfm_scores(summary: pd.DataFrame, n_bins: int = 5, *, customers: Iterable | None = None,
               recency_col: str = "recency", T_col: str = "T",
               frequency_col: str = "frequency", monetary_col: str = "monetary_value"
               ) -> RFMScores:
    """R, F and M scores (1–5 by quantiles), a composite, and a named segment per customer.

    Parameters
    ----------
    summary : DataFrame
        One row per customer indexed by customer_id (or with a ``customer_id`` column), as
        returned by :func:`crmlab.summaries.rfm_summary`: ``frequency`` (repeat purchases),
        ``recency`` (first to last purchase), ``T`` (first purchase to the end), and
        ``monetary_value``. Recency for scoring is the time since the last purchase,
        ``recency_gap = T - recency``: a *smaller* gap is more recent and scores a *higher* R.
        Rows with a missing frequency/recency/T are customers without a purchase.
    n_bins : int
        Number of scores per dimension (5 = quintiles). The named segments need 5.
    customers : iterable of customer ids, optional
        All customers to report (e.g. everyone who signed up). Those missing from ``summary``
        get segment :data:`NO_PURCHASE` and NA scores, explicitly, and are counted in
        ``excluded``.
    recency_col, T_col, frequency_col, monetary_col : str
        Column names in ``summary``.

    Returns
    -------
    RFMScores

    Notes
    -----
    Ties (see :func:`quantile_scores`): customers with equal values always get equal scores; a
    tie block that straddles a quantile boundary gets the lower score (the quantile where the
    block starts). With many one-time buyers (frequency 0) F therefore skips scores.
    Scoring uses only the customers with a purchase; ``FM`` = ceil((F + M) / 2) and the segment
    is the first row of :data:`RFM_SEGMENTS` matching (R, FM). ``rfm_code`` is the three scores
    written together (``"543"``); ``rfm_sum`` is R + F + M (3..15).

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [0, 3, 10, 1, 0], "recency": [0, 40, 300, 20, 0],
    ...                   "T": [300, 200, 310, 30, 5], "monetary_value": [0, 25, 80, 30, 0]},
    ...                  index=pd.Index([1, 2, 3, 4, 5], name="customer_id"))
    >>> rfm_scores(s).table[["R", "F", "M", "segment"]].astype(str).values.tolist()[2]
    ['3', '5', '5', 'loyal']
    """
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(f"summary: expected the pandas DataFrame of rfm_summary, got "
                        f"{type(summary).__name__}")
    df = summary.copy()
    if "customer_id" in df.columns:
        df = df.set_index("customer_id")
    need = [frequency_col, recency_col, T_col, monetary_col]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataContractError("summary", ", ".join(missing),
                                f"required column{'s' if len(missing) > 1 else ''} missing "
                                f"(the table has: {', '.join(map(str, df.columns))}); pass the "
                                "output of crmlab.summaries.rfm_summary", len(df))
    if df.index.has_duplicates:
        dup = df.index[df.index.duplicated()].unique()
        raise DataContractError("summary", "customer_id", "duplicate customer", len(dup),
                                list(dup[:5]))
    n_bins = int(n_bins)
    if customers is not None:
        ids = pd.Index(pd.unique(pd.Series(list(customers))), name=df.index.name)
        df = df.reindex(df.index.union(ids, sort=False))
    df.index.name = df.index.name or "customer_id"
    if len(df) == 0:
        raise DataContractError("summary", None, "table is empty: no customers to score", 0)
    gap = df[T_col] - df[recency_col]
    bought = df[[frequency_col, recency_col, T_col]].notna().all(axis=1)
    if (gap[bought] < 0).any():
        bad = gap[bought & (gap < 0)]
        raise DataContractError("summary", f"{recency_col}, {T_col}", f"{recency_col} exceeds "
                                f"{T_col} (last purchase after the end)", len(bad),
                                list(bad.index[:5]))
    b = df[bought]
    R = quantile_scores(gap[bought], n_bins, higher_is_better=False)
    F = quantile_scores(b[frequency_col].astype("float64"), n_bins)
    M = quantile_scores(b[monetary_col].astype("float64"), n_bins)
    out = df.copy()
    out["recency_gap"] = gap
    for name, s in (("R", R), ("F", F), ("M", M)):
        out[name] = s.reindex(out.index).astype("Int64")
    out["FM"] = ((out["F"] + out["M"] + 1) // 2).astype("Int64")
    code = (out["R"].astype("string") + out["F"].astype("string") + out["M"].astype("string"))
    out["rfm_code"] = code.fillna("")
    out["rfm_sum"] = (out["R"] + out["F"] + out["M"]).astype("Int64")
    if n_bins == 5:
        seg = _assign_segments(out["R"], out["FM"])
    else:  # the named table is defined on 1..5 scores only
        seg = pd.Series(pd.NA, index=out.index, dtype="object")
    seg[~bought.reindex(out.index, fill_value=False)] = NO_PURCHASE
    cats = list(RFM_SEGMENTS["segment"]) + [NO_PURCHASE]
    out["segment"] = pd.Categorical(seg, categories=cats)
    n_none = int((~bought).sum())
    excluded = _excluded_frame([("summary", "no purchase: not scored, segment 'no purchase'",
                                 n_none)])
    return RFMScores(table=out, n_bins=n_bins, excluded=excluded)


# ---------------------------------------------------------------------------------------------
# lifecycle stages
# ---------------------------------------------------------------------------------------------

#: Lifecycle stages in precedence order: a customer who meets several rules gets the first.
STAGES = ("VIP", "returning", "new", "loyal", "interested", "dormant", "potential")

_STAGE_RULES = {
    "VIP": "active buyer in the top `vip_top_share` by revenue over the last `vip_window_days`, "
           "or averaging ≥ `vip_purchases_per_month` purchases a month over that window",
    "returning": "active buyer whose latest return purchase (one coming ≥ `dormant_after_days` "
                 "after the previous purchase) is within the last `returning_window_days`",
    "new": "active buyer with 1..`new_max_purchases` purchases",
    "loyal": "active buyer with more than `new_max_purchases` purchases",
    "interested": "no purchase in the last `interest_window_days` but a cart add, wishlist or "
                  "support contact in them (only decides for customers who are not active "
                  "buyers)",
    "dormant": "bought before, but not for ≥ `dormant_after_days`",
    "potential": "signed up or active (any event), never bought",
}


def _resolve_tables(data: Any, customers, events):
    """Return (orders, customers, events, ids) from a CRMData or separate tables: Ibis tables,
    and the :class:`crmlab._engine.IdCodes` of their ``customer_id`` when every table given is a
    DataFrame with text or categorical ids (then coded as one set of int32 codes), else None."""
    reads = {}
    if isinstance(data, pd.DataFrame) or is_ibis(data) or is_path(data):
        orders = data
        reads["orders"] = (["customer_id", "order_ts", "amount"], ("is_refund",))
    elif hasattr(data, "orders"):
        orders = data.orders
        customers = customers if customers is not None else getattr(data, "customers", None)
        events = events if events is not None else getattr(data, "events", None)
    elif isinstance(data, dict):
        orders = data.get("orders")
        customers = customers if customers is not None else data.get("customers")
        events = events if events is not None else data.get("events")
    else:
        raise TypeError(f"data: expected an orders DataFrame/Ibis table/file path, a dict of tables "
                        f"or a CRMData, got {type(data).__name__}")
    if orders is None:
        raise DataContractError("orders", None, "lifecycle stages need the orders table")
    t, ids = as_coded_tables({"orders": orders, "customers": customers, "events": events},
                             "customer_id", reads)
    return t["orders"], t["customers"], t["events"], ids


@dataclass(repr=False)
class LifecycleStages:
    """Lifecycle stage of every customer as of a date.

    Attributes
    ----------
    table : DataFrame indexed by customer_id
        ``stage`` (categorical, :data:`STAGES` order), one boolean column per rule
        (``is_vip``, ``is_returning``, ``is_new``, ``is_loyal``, ``is_interested``,
        ``is_dormant``, ``is_potential``) — several can be true, ``stage`` is the first by
        precedence — and the inputs of the rules (``n_purchases``, ``first_purchase_ts``,
        ``last_purchase_ts``, ``days_since_last_purchase``, ``window_revenue``,
        ``window_purchases``, ``purchases_per_month``, ``last_return_ts``,
        ``last_interest_ts``, ``signup_ts``).
    as_of : Timestamp (exclusive: nothing at or after it is read)
    params : dict of the rule settings
    sizes : DataFrame ``stage, customers, share``
    excluded : DataFrame ``table, reason, rows``
    """

    table: pd.DataFrame
    as_of: pd.Timestamp
    params: dict
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def sizes(self) -> pd.DataFrame:
        c = self.table["stage"].value_counts().reindex(list(STAGES), fill_value=0)
        out = c.rename_axis("stage").reset_index(name="customers")
        out["share"] = out["customers"] / max(len(self.table), 1)
        return out

    @property
    def overlaps(self) -> pd.DataFrame:
        """How many customers meet each pair of rules (diagonal: each rule alone)."""
        flags = self.table[[f"is_{s.lower()}" for s in STAGES]].astype(int)
        m = flags.T @ flags
        m.index = m.columns = list(STAGES)
        return m

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def reading(self) -> str:
        s = self.sizes
        parts = ", ".join(f"{r.stage} {r.customers:,} ({r.share:.0%})" for r in s.itertuples()
                          if r.customers)
        return (f"As of {self.as_of:%Y-%m-%d}, {len(self.table):,} customers: {parts} "
                f"(dormant = no purchase for ≥ {self.params['dormant_after_days']} days).")

    def __repr__(self) -> str:
        return f"<LifecycleStages: {self.reading}>"

    def _repr_html_(self) -> str:
        html = (f"<h4>Lifecycle stages</h4><p>{self.reading}</p>"
                + self.sizes.to_html(index=False, float_format=lambda v: f"{v:.1%}"))
        if len(self.excluded):
            html += "<p><b>Excluded rows</b></p>" + self.excluded.to_html(index=False)
        return html


def _lit(ts: pd.Timestamp):
    return ibis.literal(pd.Timestamp(ts).to_pydatetime(), type="timestamp")


def lifecycle_stages(data: Any, as_of, *, customers: Any = None, events: Any = None,
                     dormant_after_days: int = 180, vip_top_share: float | None = 0.10,
                     vip_purchases_per_month: float | None = 3, vip_window_days: int = 365,
                     new_max_purchases: int = 2, returning_window_days: int = 90,
                     interest_window_days: int = 30,
                     interest_events: tuple[str, ...] = ("cart_add", "wishlist",
                                                         "support_contact")
                     ) -> LifecycleStages:
    """Lifecycle stage of each customer as of ``as_of`` (nothing at or after it is read).

    Stages, by precedence (a customer meeting several rules gets the first; every rule is also
    reported as its own boolean column). An *active buyer* has bought (``amount > 0``, not a
    refund) within the last ``dormant_after_days`` days.

    1. **VIP** — active buyer, and either in the top ``vip_top_share`` of active buyers by
       revenue (refunds included) over the last ``vip_window_days`` (ties at the cut-off are all
       in; revenue must be > 0), or averaging ≥ ``vip_purchases_per_month`` purchases a month
       over that window (months counted from the later of the window start and the first
       purchase, at least one). Set either rule to None to switch it off.
    2. **returning** — active buyer who came back from dormancy: a purchase made ≥
       ``dormant_after_days`` after the previous one, within the last
       ``returning_window_days``.
    3. **new** — active buyer with 1..``new_max_purchases`` purchases in total.
    4. **loyal** — active buyer with more purchases (a repeat buyer, active).
    5. **interested** — no purchase in the last ``interest_window_days``, but one of
       ``interest_events`` (cart add, wishlist, support contact) in them. It decides only for
       customers who are not active buyers (it outranks dormant and potential); for active
       buyers it shows in ``is_interested`` only.
    6. **dormant** — has bought, but not for ≥ ``dormant_after_days`` days.
    7. **potential** — signed up (``customers.signup_ts``) or active (any event) before
       ``as_of``, never bought.

    Parameters
    ----------
    data : DataFrame, Ibis table, dict of tables or CRMData
        The orders (``customer_id, order_ts, amount``, optional ``is_refund``); a CRMData or a
        dict also provides ``customers`` and ``events``.
    as_of : timestamp
        Exclusive: the stage is computed from everything strictly before it.
    customers, events : DataFrame or Ibis table, optional
        Override / supply the customers (``customer_id, signup_ts``) and events
        (``customer_id, event_ts, event_type``) tables.
    dormant_after_days, vip_top_share, vip_purchases_per_month, vip_window_days,
    new_max_purchases, returning_window_days, interest_window_days, interest_events
        The rules' settings (above).

    Returns
    -------
    LifecycleStages

    Examples
    --------
    >>> o = pd.DataFrame({"customer_id": [1, 2, 2, 2], "amount": [10.0, 5.0, 5.0, 5.0],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-05-01", "2024-05-10", "2024-06-01"])})
    >>> st = lifecycle_stages(o, "2024-08-01", vip_top_share=None)
    >>> st.table["stage"].astype(str).tolist()
    ['dormant', 'loyal']
    """
    as_of = pd.Timestamp(as_of)
    if dormant_after_days <= 0 or new_max_purchases < 1 or vip_window_days <= 0 \
            or interest_window_days <= 0 or returning_window_days <= 0:
        raise ValueError("dormant_after_days, vip_window_days, returning_window_days and "
                         "interest_window_days must be positive and new_max_purchases ≥ 1")
    if vip_top_share is not None and not 0 < vip_top_share < 1:
        raise ValueError(f"vip_top_share must be in (0, 1) or None; got {vip_top_share!r}")
    orders, cust, ev, id_codes = _resolve_tables(data, customers, events)
    _require(orders, "orders", ["customer_id", "order_ts", "amount"])
    end = _lit(as_of)
    ots = _ts(orders, "orders", "order_ts")
    refund = (orders["is_refund"].fill_null(False) if "is_refund" in orders.columns
              else ibis.literal(False))
    o = orders.select(customer_id=orders.customer_id, ts=ots,
                      amount=orders.amount.cast("float64"), refund=refund)
    bad = o.customer_id.isnull() | o.ts.isnull() | o.amount.isnull()
    stats = o.aggregate(n=o.count(), bad=bad.cast("int64").sum(),
                        after=(~bad & (o.ts >= end)).cast("int64").sum()).to_pandas().iloc[0]
    if int(stats["n"]) == 0:
        raise DataContractError("orders", None, "table is empty: nothing to analyse", 0)
    o = o.filter(~bad & (o.ts < end))
    excluded = [("orders", "null customer_id, order_ts or amount", int(stats["bad"] or 0)),
                ("orders", f"at or after as_of {as_of:%Y-%m-%d %H:%M:%S} (not read)",
                 int(stats["after"] or 0))]

    win_start = _lit(as_of - pd.Timedelta(days=vip_window_days))
    p = o.filter((o.amount > 0) & ~o.refund)
    w = ibis.window(group_by=p.customer_id, order_by=[p.ts])
    p = p.mutate(prev=p.ts.lag().over(w))
    p = p.mutate(is_return=p.prev.notnull()
                 & (p.ts >= p.prev + ibis.interval(days=int(dormant_after_days))))
    per_p = p.group_by("customer_id").aggregate(
        n_purchases=p.count(), first_purchase_ts=p.ts.min(), last_purchase_ts=p.ts.max(),
        window_purchases=(p.ts >= win_start).cast("int64").sum(),
        last_return_ts=p.ts.max(where=p.is_return),
    )
    per_r = o.group_by("customer_id").aggregate(
        window_revenue=o.amount.sum(where=o.ts >= win_start),
    )
    ids = [o.select("customer_id")]
    per_c = per_e = None
    if cust is not None:
        _require(cust, "customers", ["customer_id", "signup_ts"])
        sts = _ts(cust, "customers", "signup_ts")
        c = cust.select(customer_id=cust.customer_id, signup_ts=sts)
        n_late = int(c.aggregate(a=(c.signup_ts >= end).cast("int64").sum()).to_pandas()["a"]
                     .fillna(0).iloc[0])
        excluded.append(("customers", f"signed up at or after as_of {as_of:%Y-%m-%d} "
                                      "(not yet customers)", n_late))
        c = c.filter(c.signup_ts < end)
        per_c = c.group_by("customer_id").aggregate(signup_ts=c.signup_ts.min())
        ids.append(c.select("customer_id"))
    if ev is not None:
        _require(ev, "events", ["customer_id", "event_ts", "event_type"])
        ets = _ts(ev, "events", "event_ts")
        e = ev.select(customer_id=ev.customer_id, ts=ets, event_type=ev.event_type)
        e = e.filter(e.customer_id.notnull() & e.ts.notnull() & (e.ts < end))
        istart = _lit(as_of - pd.Timedelta(days=interest_window_days))
        interest = e.event_type.isin(list(interest_events)) & (e.ts >= istart)
        per_e = e.group_by("customer_id").aggregate(
            first_event_ts=e.ts.min(), last_interest_ts=e.ts.max(where=interest))
        ids.append(e.select("customer_id"))
    universe = ids[0].union(*ids[1:], distinct=True) if len(ids) > 1 else ids[0].distinct()
    t = universe.left_join(per_p, "customer_id").select(universe.customer_id,
                                                       *[c for c in per_p.columns
                                                         if c != "customer_id"])
    for extra in (per_r, per_c, per_e):
        if extra is not None:
            t = t.left_join(extra, "customer_id").select(
                *t.columns, *[c for c in extra.columns if c != "customer_id"])
    df = t.to_pandas().set_index("customer_id").sort_index()
    if id_codes is not None:  # codes back to the ids (sorted by code is sorted by id)
        df.index = pd.Index(id_codes.decode(df.index.to_numpy()), name="customer_id")
    for col in ("signup_ts", "first_event_ts", "last_interest_ts"):
        if col not in df.columns:
            df[col] = pd.NaT
    df["n_purchases"] = df["n_purchases"].fillna(0).astype("int64")
    df["window_purchases"] = df["window_purchases"].fillna(0).astype("int64")
    df["window_revenue"] = df["window_revenue"].fillna(0.0).astype("float64")

    day = pd.Timedelta(days=1)
    df["days_since_last_purchase"] = (as_of - df["last_purchase_ts"]) / day
    bought = df["n_purchases"] > 0
    active = bought & (df["days_since_last_purchase"] < dormant_after_days)
    month = pd.Timedelta(days=365.25 / 12)
    since = np.maximum((as_of - df["first_purchase_ts"]) / month, 0)
    months = np.minimum(since, vip_window_days / (365.25 / 12)).clip(lower=1.0)
    df["purchases_per_month"] = (df["window_purchases"] / months).where(bought)

    vip = pd.Series(False, index=df.index)
    if vip_top_share is not None:
        n_active = int(active.sum())
        k = math.ceil(vip_top_share * n_active)
        rank = df["window_revenue"].where(active).rank(method="min", ascending=False)
        vip |= active & (rank <= k) & (df["window_revenue"] > 0)
    if vip_purchases_per_month is not None:
        vip |= active & (df["purchases_per_month"] >= vip_purchases_per_month)
    recent_return = df["last_return_ts"].notna() & (
        df["last_return_ts"] >= as_of - pd.Timedelta(days=returning_window_days))
    purchased_recently = bought & (df["days_since_last_purchase"] < interest_window_days)
    flags = {
        "VIP": vip,
        "returning": active & recent_return,
        "new": active & (df["n_purchases"] <= new_max_purchases),
        "loyal": active & (df["n_purchases"] > new_max_purchases),
        "interested": df["last_interest_ts"].notna() & ~purchased_recently,
        "dormant": bought & ~active,
        "potential": ~bought,
    }
    stage = pd.Series(pd.NA, index=df.index, dtype="object")
    for name in STAGES:
        f = flags[name].fillna(False).astype(bool)
        df[f"is_{name.lower()}"] = f
        stage[stage.isna() & f] = name
    if stage.isna().any():  # pragma: no cover - the rules cover every customer
        raise AssertionError("lifecycle rules left customers without a stage")
    df.insert(0, "stage", pd.Categorical(stage, categories=list(STAGES)))
    params = dict(dormant_after_days=dormant_after_days, vip_top_share=vip_top_share,
                  vip_purchases_per_month=vip_purchases_per_month,
                  vip_window_days=vip_window_days, new_max_purchases=new_max_purchases,
                  returning_window_days=returning_window_days,
                  interest_window_days=interest_window_days,
                  interest_events=tuple(interest_events))
    return LifecycleStages(table=df, as_of=as_of, params=params,
                           excluded=_excluded_frame(excluded))


# ---------------------------------------------------------------------------------------------
# stage flow
# ---------------------------------------------------------------------------------------------

NOT_YET = "(not yet a customer)"


@dataclass(repr=False)
class StageFlow:
    """Customers moving between lifecycle stages from one date to another.

    ``counts``: from-stage × to-stage customer counts (rows include :data:`NOT_YET` for
    customers who appear only by the later date); ``shares``: each row divided by its total;
    ``to_frame()``: tidy ``from_stage, to_stage, customers, share_of_from``.
    """

    counts: pd.DataFrame
    from_date: pd.Timestamp
    to_date: pd.Timestamp
    start: LifecycleStages
    end: LifecycleStages

    @property
    def shares(self) -> pd.DataFrame:
        tot = self.counts.sum(axis=1)
        return self.counts.div(tot.where(tot > 0), axis=0)

    def to_frame(self) -> pd.DataFrame:
        long = self.counts.stack().rename("customers").reset_index()
        long.columns = ["from_stage", "to_stage", "customers"]
        sh = self.shares.stack(future_stack=True).reset_index(drop=True)
        long["share_of_from"] = sh.to_numpy()
        return long

    @property
    def reading(self) -> str:
        sh = self.shares
        bits = []
        if "dormant" in sh.index and sh.loc["dormant"].notna().any():
            back = sh.loc["dormant", [s for s in STAGES if s not in ("dormant", "potential",
                                                                      "interested")]].sum()
            bits.append(f"{back:.1%} of dormant customers bought again")
        for s in ("new", "loyal", "VIP"):
            if s in sh.index and sh.loc[s].notna().any():
                bits.append(f"{sh.loc[s, 'dormant']:.1%} of {s} customers fell dormant")
        newcomers = int(self.counts.loc[NOT_YET].sum()) if NOT_YET in self.counts.index else 0
        return (f"From {self.from_date:%Y-%m-%d} to {self.to_date:%Y-%m-%d}: "
                + "; ".join(bits) + f"; {newcomers:,} customers arrived.")

    def __repr__(self) -> str:
        return f"<StageFlow: {self.reading}>"

    def _repr_html_(self) -> str:
        return (f"<h4>Lifecycle stage flow</h4><p>{self.reading}</p>"
                + self.counts.to_html())


def stage_flow(data: Any, from_date, to_date, **kwargs) -> StageFlow:
    """Cross-tabulate lifecycle stages at ``from_date`` (rows) and ``to_date`` (columns).

    Both dates use :func:`lifecycle_stages` with the same settings (``kwargs``). Customers not
    yet known at ``from_date`` form the row :data:`NOT_YET`.

    Examples
    --------
    >>> o = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [10.0, 5.0, 5.0],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-09-01", "2024-05-01"])})
    >>> f = stage_flow(o, "2024-08-01", "2024-10-01", vip_top_share=None)
    >>> int(f.counts.loc["dormant", "returning"])
    1
    """
    from_date, to_date = pd.Timestamp(from_date), pd.Timestamp(to_date)
    if to_date <= from_date:
        raise ValueError(f"to_date ({to_date:%Y-%m-%d}) must be after from_date "
                         f"({from_date:%Y-%m-%d})")
    a = lifecycle_stages(data, from_date, **kwargs)
    b = lifecycle_stages(data, to_date, **kwargs)
    j = pd.DataFrame({"to": b.table["stage"].astype(str)}).join(
        a.table["stage"].astype(str).rename("from"), how="left")
    j["from"] = j["from"].fillna(NOT_YET)
    counts = pd.crosstab(j["from"], j["to"])
    counts = counts.reindex(index=list(STAGES) + [NOT_YET], columns=list(STAGES), fill_value=0)
    counts.index.name, counts.columns.name = "from_stage", "to_stage"
    return StageFlow(counts=counts, from_date=from_date, to_date=to_date, start=a, end=b)
