"""Survival-based lifetime value: expected revenue over a horizon = Σ S(t) · spend rate · discount."""
from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from crmlab.churn._base import ChurnInputError, ChurnResult, tidy
from crmlab.churn.km import KaplanMeierResult, _step
from crmlab.churn.table import DAY, _table, _check_days, _epoch, _purchases, _require, _timestamp

__all__ = ["spend_rate", "survival_ltv", "SurvivalLTVResult"]


def spend_rate(orders, observation_end, churn_after_days: float = 90,
               min_days: float = 30) -> pd.Series:
    """Spend per active day per customer (revenue while not churned).

    ``sum(amount) / active days``, where active days run from the first purchase to
    ``min(last purchase + churn_after_days, observation_end)`` (at least ``min_days``, so that
    a single recent purchase does not make a huge rate). Refunds are included in the revenue
    (the project's revenue definition). Computed in the engine.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": [1, 1], "amount": [30.0, 60.0],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-01-31"])})
    >>> float(spend_rate(orders, "2025-01-01").loc[1])  # 90 / (30 + 90) days
    0.75
    """
    C = _check_days(churn_after_days, "churn_after_days")
    end = _timestamp(observation_end, "observation_end")
    o = _table(orders, "orders")
    _require(o, "orders", ["customer_id", "order_ts", "amount"])
    end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")
    seen = o.filter(o.order_ts < end_lit)
    buys = _purchases(o, end_lit)
    rev = seen.group_by("customer_id").aggregate(revenue=seen.amount.sum())
    span = buys.group_by("customer_id").aggregate(first_s=_epoch(buys.order_ts.min()),
                                                  last_s=_epoch(buys.order_ts.max()))
    df = span.join(rev, "customer_id").to_pandas().set_index("customer_id").sort_index()
    end_s = end.value // 10**9
    stop = np.minimum(df["last_s"].to_numpy(dtype="float64") + C * DAY, end_s)
    days = np.maximum((stop - df["first_s"].to_numpy(dtype="float64")) / DAY, float(min_days))
    return pd.Series(df["revenue"].to_numpy(dtype="float64") / days, index=df.index,
                     name="spend_per_day")


@dataclass(repr=False)
class SurvivalLTVResult(ChurnResult):
    """Survival-based LTV per customer and per segment.

    Attributes
    ----------
    per_customer : DataFrame ``expected_active_days, ltv`` (+ segment)
    per_segment : DataFrame ``segment, n, ltv_mean, ltv_total, expected_active_days``
    horizon_days, monthly_discount
    """

    per_customer: pd.DataFrame
    per_segment: pd.DataFrame
    horizon_days: float
    monthly_discount: float
    title: str = field(default="Survival-based LTV")

    def to_frame(self) -> pd.DataFrame:
        rows = [dict(metric=f"ltv_{self.horizon_days:g}d", arm=r.segment, n=r.n, value=r.ltv_mean,
                     method=f"Σ S(t)·spend/day·discount ({self.monthly_discount:.1%}/month)")
                for r in self.per_segment.itertuples(index=False)]
        return tidy(rows)

    @property
    def reading(self) -> str:
        parts = [f"{r.segment}: {r.ltv_mean:,.0f} per customer" for r in self.per_segment.itertuples()]
        return (f"Expected discounted revenue over the next {self.horizon_days:g} days "
                f"(survival × spend rate, {self.monthly_discount:.1%} per month): " + "; ".join(parts) + ".")


def survival_ltv(model, customers: pd.DataFrame, spend_per_day, horizon_days: float = 365,
                 monthly_discount: float = 0.01, segment: str | None = None,
                 step_days: float = 1.0, elapsed=None) -> SurvivalLTVResult:
    """Expected discounted revenue over a horizon: Σₜ S(t | survived so far) · spend/day · δ(t).

    Parameters
    ----------
    model : ChurnModel or KaplanMeierResult
        A fitted :class:`~crmlab.churn.ChurnModel` (per-customer curves) or a Kaplan-Meier
        result (one curve per group; ``customers`` must then hold the KM's group column unless
        it was ungrouped).
    customers : DataFrame
        Customers (index customer_id) with the model's covariates and ``duration`` (days
        survived so far; ``elapsed`` overrides it).
    spend_per_day : Series, str or float
        Spend per active day (e.g. :func:`spend_rate`), a column of ``customers`` or a constant.
    horizon_days : float
    monthly_discount : float
        Discount rate per 30 days; δ(t) = (1 + r)^(−t/30).
    segment : str, optional
        Column of ``customers`` to summarise by.
    step_days : float
        Integration step (days).

    Returns
    -------
    SurvivalLTVResult

    Examples
    --------
    >>> import pandas as pd
    >>> from crmlab.churn import kaplan_meier
    >>> t = pd.DataFrame({"duration": [10.0, 400.0], "churned": [1, 0]})
    >>> res = survival_ltv(kaplan_meier(t), t.assign(duration=0.0), 1.0, horizon_days=100,
    ...                    monthly_discount=0.0)
    >>> res.per_customer["ltv"].round(1).tolist()  # S = 1 to day 10, then 0.5
    [55.0, 55.0]
    """
    H = _check_days(horizon_days, "horizon_days")
    if monthly_discount < 0:
        raise ChurnInputError(f"monthly_discount must be >= 0, got {monthly_discount!r}")
    if isinstance(spend_per_day, str):
        rate = customers[spend_per_day].to_numpy(dtype="float64")
    elif isinstance(spend_per_day, pd.Series):
        aligned = spend_per_day.reindex(customers.index)
        if aligned.isna().any():
            raise ChurnInputError(
                f"spend_per_day: {int(aligned.isna().sum())} customers have no spend rate")
        rate = aligned.to_numpy(dtype="float64")
    else:
        rate = np.full(len(customers), float(spend_per_day))
    grid = np.arange(step_days / 2, H, step_days)  # midpoints
    disc = (1.0 + monthly_discount) ** (-grid / 30.0)
    if elapsed is None:
        if "duration" not in customers.columns:
            raise ChurnInputError("customers: column 'duration' (days survived so far) is missing")
        d = customers["duration"].to_numpy(dtype="float64")
    else:
        d = np.asarray(elapsed, dtype="float64")
    if isinstance(model, KaplanMeierResult):
        S = np.empty((len(grid), len(customers)))
        if model.group is None:
            keys = np.array(["all"] * len(customers), dtype=object)
        else:
            if model.group not in customers.columns:
                raise ChurnInputError(f"customers: the Kaplan-Meier group column {model.group!r} "
                                      "is missing")
            keys = customers[model.group].to_numpy()
        for g, c in model.curves.groupby("group", sort=False, observed=True):
            m = keys == g
            if not m.any():
                continue
            tt, ss = c["time"].to_numpy(), c["survival"].to_numpy()
            s_now = _step(tt, ss, d[m])
            with np.errstate(divide="ignore", invalid="ignore"):
                S[:, m] = _step(tt, ss, (d[m][None, :] + grid[:, None]).ravel()).reshape(
                    len(grid), -1) / s_now[None, :]
            S[:, m] = np.nan_to_num(S[:, m], nan=0.0)
        unknown = ~np.isin(keys, model.curves["group"].unique())
        if unknown.any():
            raise ChurnInputError(f"customers: {int(unknown.sum())} customers are in groups "
                                  "without a Kaplan-Meier curve")
    else:
        sf = model.lifelines_.predict_survival_function(
            model._predict_frame(customers), times=grid, conditional_after=d)
        S = sf.to_numpy()
    active_days = S.sum(axis=0) * step_days
    ltv = (S * disc[:, None]).sum(axis=0) * step_days * rate
    per_c = pd.DataFrame({"expected_active_days": active_days, "ltv": ltv}, index=customers.index)
    seg = customers[segment].to_numpy() if segment else np.array(["all"] * len(customers), dtype=object)
    per_c["segment"] = seg
    per_s = (per_c.groupby("segment", observed=True)
             .agg(n=("ltv", "size"), ltv_mean=("ltv", "mean"), ltv_total=("ltv", "sum"),
                  expected_active_days=("expected_active_days", "mean")).reset_index())
    return SurvivalLTVResult(per_customer=per_c, per_segment=per_s, horizon_days=H,
                             monthly_discount=monthly_discount)
