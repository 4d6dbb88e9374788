"""Model checks of the transaction models: tracking of repeat transactions week by week and the
frequency/recency matrix of P(alive). (The calibration-vs-holdout check by calibration frequency
is :func:`crmlab.ltv.holdout_check`.)"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

__all__ = ["tracking", "Tracking", "p_alive_matrix", "p_alive_caption"]


def _purchase_days(orders) -> pd.DataFrame:
    """Distinct (customer, purchase day) pairs of an order log (pandas, Ibis table or CRMData);
    refunds (negative ``amount`` or ``is_refund``) are not purchases, as in rfm_summary."""
    table = getattr(orders, "orders", orders)
    if isinstance(table, pd.DataFrame):
        df = table
        missing = {"customer_id", "order_ts"} - set(df.columns)
        if missing:
            raise ValueError("tracking: the order table lacks column(s) "
                             + ", ".join(sorted(missing)))
        keep = np.ones(len(df), dtype=bool)
        if "amount" in df.columns:
            keep &= ~(df["amount"].to_numpy(float) < 0)
        if "is_refund" in df.columns:
            keep &= ~df["is_refund"].fillna(False).to_numpy(bool)
        nulls = int(df["customer_id"].isna().sum() + df["order_ts"].isna().sum())
        if nulls:
            raise ValueError(f"tracking: the order table has {nulls} null customer_id/order_ts "
                             "values")
        days = pd.DataFrame({"customer_id": df["customer_id"].to_numpy()[keep],
                             "day": pd.to_datetime(df["order_ts"]).to_numpy()[keep]
                             .astype("datetime64[D]")})
        return days.drop_duplicates()
    t = table
    cond = []
    if "amount" in t.columns:
        cond.append(t.amount >= 0)
    if "is_refund" in t.columns:
        cond.append(~t.is_refund.fill_null(False))
    if cond:
        t = t.filter(*cond)
    out = t.select(customer_id=t.customer_id, day=t.order_ts.date()).distinct().to_pandas()
    out["day"] = pd.to_datetime(out["day"]).to_numpy().astype("datetime64[D]")
    return out


class Tracking:
    """Actual and expected repeat transactions per week (see :func:`tracking`).

    ``table``: ``week_end`` (exclusive end of the week), ``actual``, ``expected`` (incremental)
    and ``actual_cumulative``, ``expected_cumulative``; ``calibration_end``; ``model``.
    """

    def __init__(self, table, calibration_end, model, customers):
        self.table = table
        self.calibration_end = calibration_end
        self.model = model
        self.customers = customers

    def _holdout(self):
        return self.table[self.table.week_end > self.calibration_end]

    @property
    def caption(self) -> str:
        h = self._holdout()
        if len(h) == 0:
            t = self.table
            return (f"{self.model} expected {t.expected.sum():,.0f} repeat purchases by the "
                    f"{self.customers:,} customers; {t.actual.sum():,.0f} were made.")
        act, exp = h.actual.sum(), h.expected.sum()
        weeks = (self.table.week_end.iloc[-1] - self.calibration_end).days / 7
        return (f"In the {weeks:.0f} weeks after calibration {self.model} expected {exp:,.0f} "
                f"repeat purchases and {act:,.0f} were made ({(exp - act) / act:+.1%}).")

    reading = caption

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.caption)}</p>" + self.table.head(12).to_html(index=False)

    def __repr__(self) -> str:
        return f"<Tracking: {self.caption}>"


def tracking(model, orders, calibration_end, observation_end, unit_days: float | None = None,
             freq: str = "W") -> Tracking:
    """Weekly repeat transactions of the customers the model was fitted on, actual vs expected.

    The customers are those whose first purchase is before ``calibration_end`` (as in the
    fitted rfm_summary table). A customer's repeat purchases are the purchase days after the
    first one; the expected cumulative number by time τ is Σ_i E[X(τ − first purchase_i)]
    (the model's ``expected_number_of_purchases_up_to_time``, computed once per distinct first
    purchase day), differenced into weeks: the "tracking plot" of Fader, Hardie & Lee (2005),
    Figure 2. ``calibration_end`` and ``observation_end`` are exclusive bounds, as in
    rfm_summary; ``unit_days`` is the length of the model's time unit in days (default: the
    fitted model's ``unit_days_``); ``freq`` the pandas frequency of the buckets.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> from crmlab.ltv import BetaGeoFitter
    >>> orders = load_cdnow(sample=True)
    >>> s = rfm_summary(orders, "1998-07-01", "D", "1997-10-01", time_scaler=7)
    >>> tr = tracking(BetaGeoFitter().fit(s), orders, "1997-10-01", "1998-07-01")
    >>> int(tr.table.actual.sum()), int(s.frequency_cal.sum() + s.frequency_holdout.sum())
    (4339, 4339)
    """
    model._check_fitted()
    cal, end = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    if not cal < end:
        raise ValueError(f"tracking: calibration_end {cal.date()} is not before observation_end "
                         f"{end.date()}")
    ud = unit_days if unit_days is not None else getattr(model, "unit_days_", None)
    if not ud:
        raise ValueError("tracking: give unit_days (the model's time unit in days)")
    days = _purchase_days(orders)
    days = days[days.day < np.datetime64(end.date(), "D")]
    first = days.groupby("customer_id")["day"].min()
    first = first[first < np.datetime64(cal.date(), "D")]
    if len(first) == 0:
        raise ValueError(f"tracking: no customer made a first purchase before {cal.date()}")
    days = days[days.customer_id.isin(first.index)]
    rep = days[days.day.to_numpy() > first.reindex(days.customer_id).to_numpy()]
    start = pd.Timestamp(first.min())
    # bucket ends: every week end, the calibration end and the observation end (so that the
    # calibration and holdout totals are sums of whole buckets)
    edges = pd.date_range(start, end, freq=freq, inclusive="neither").append(
        pd.DatetimeIndex([cal, end])).unique().sort_values()
    edges = edges[edges > start]
    edge_days = edges.to_numpy().astype("datetime64[D]")
    # actual: repeat purchase days per bucket (bucket k holds days in [edge_{k-1}, edge_k))
    bucket = np.searchsorted(edge_days, rep.day.to_numpy(), side="right")
    actual = np.bincount(bucket, minlength=len(edges))[:len(edges)]
    # expected cumulative at each bucket end: once per distinct first purchase day
    births, counts = np.unique(first.to_numpy().astype("datetime64[D]"), return_counts=True)
    el = (edge_days[:, None] - births[None, :]).astype(float) / ud    # days -> model units
    cum_exp = (model.expected_number_of_purchases_up_to_time(np.maximum(el, 0.0)) * counts).sum(1)
    table = pd.DataFrame({"week_end": edges, "actual": actual.astype(float),
                          "expected": np.diff(cum_exp, prepend=0.0)})
    table["actual_cumulative"] = table.actual.cumsum()
    table["expected_cumulative"] = cum_exp
    return Tracking(table, cal, getattr(model, "_model_name", type(model).__name__), len(first))


def p_alive_matrix(model, T: float, max_frequency: int | None = None,
                   max_recency: float | None = None, n_recency: int | None = None) -> pd.DataFrame:
    """P(alive) of a customer first buying ``T`` time units ago, by frequency (rows, 0 to
    ``max_frequency``) and recency (columns, 0 to ``max_recency`` ≤ T in ``n_recency`` steps):
    the frequency/recency matrix of lifetimes' ``plot_probability_alive_matrix``. Cells that
    cannot occur (recency > 0 with frequency 0) are NaN.

    Examples
    --------
    >>> from crmlab.ltv import BetaGeoFitter
    >>> import pandas as pd
    >>> m = BetaGeoFitter(); m.params_ = pd.Series(dict(r=0.24, alpha=4.4, a=0.79, b=2.4))
    >>> mat = p_alive_matrix(m, T=39, max_frequency=5, n_recency=4)
    >>> mat.shape
    (6, 4)
    """
    model._check_fitted()
    if T <= 0:
        raise ValueError(f"p_alive_matrix: T must be positive, got {T!r}")
    max_frequency = int(max_frequency if max_frequency is not None else 20)
    max_recency = float(T if max_recency is None else min(max_recency, T))
    n_recency = int(n_recency if n_recency is not None else min(int(np.ceil(max_recency)) + 1, 60))
    rec = np.linspace(0.0, max_recency, n_recency)
    f, r = np.meshgrid(np.arange(max_frequency + 1, dtype=float), rec, indexing="ij")
    pa = np.asarray(model.conditional_probability_alive(f.ravel(), r.ravel(),
                                                        np.full(f.size, float(T))),
                    dtype=float).reshape(f.shape)
    pa[(f == 0) & (r > 0)] = np.nan
    return pd.DataFrame(pa, index=pd.Index(np.arange(max_frequency + 1), name="frequency"),
                        columns=pd.Index(np.round(rec, 2), name="recency"))


def p_alive_caption(matrix: pd.DataFrame) -> str:
    """One-line reading of a :func:`p_alive_matrix`: the most frequent buyer's P(alive) when
    the last purchase was long ago and just now."""
    f = matrix.index.max()
    row = matrix.loc[f]
    return (f"A customer with {f} repeat purchases is still active with probability "
            f"{row.iloc[0]:.2f} if the last one was at the start, {row.iloc[-1]:.2f} if it was at "
            f"recency {matrix.columns[-1]:g}: frequent buyers who stopped are the likeliest gone.")
