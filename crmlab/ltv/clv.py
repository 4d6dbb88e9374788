"""Customer lifetime value and the calibration/holdout check of a transaction model."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from crmlab.ltv._base import DAYS_PER_MONTH, _unit_days

__all__ = ["customer_lifetime_value", "holdout_check", "HoldoutCheck"]


def _cols(summary: pd.DataFrame):
    sfx = "_cal" if "frequency_cal" in summary.columns else ""
    return (summary["frequency" + sfx].to_numpy(float), summary["recency" + sfx].to_numpy(float),
            summary["T" + sfx].to_numpy(float), sfx)


def customer_lifetime_value(transaction_model, summary: pd.DataFrame, spend_model=None, *,
                            months: int = 12, discount_rate: float = 0.01, margin: float = 1.0,
                            unit_days: float | None = None) -> pd.Series:
    """Discounted expected profit of each customer over the next ``months`` months.

    ``CLV = margin × Σ_{i=1..months} E[M] (E[Y(i)] − E[Y(i−1)]) / (1 + discount_rate)^i`` where
    ``E[Y(i)]`` is the transaction model's conditional expected number of purchases in the next
    ``i`` months and ``E[M]`` the spend model's conditional expected average spend (or the
    customer's observed ``monetary_value`` when ``spend_model`` is None). Months are
    365.25/12 days; ``unit_days`` is the length of the model's time unit in days (read from the
    rfm_summary table, else from the fitted model, else 1).

    Parameters
    ----------
    transaction_model : fitted BetaGeoFitter or ParetoNBDFitter
    summary : DataFrame
        An :func:`crmlab.summaries.rfm_summary` table (its calibration columns when present).
    spend_model : fitted GammaGammaFitter, optional
    months : int
        Horizon in months.
    discount_rate : float
        Monthly discount rate (0.01 = 1% a month, about 12.7% a year).
    margin : float
        Profit margin applied to spend (1.0 = revenue).

    Returns
    -------
    Series ``clv`` indexed like ``summary``.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> from crmlab.ltv import BetaGeoFitter, GammaGammaFitter
    >>> cal = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
    >>> clv = customer_lifetime_value(BetaGeoFitter().fit(cal), cal, GammaGammaFitter().fit(cal),
    ...                               months=12, margin=0.3)
    >>> bool(clv.gt(0).all())
    True
    """
    if months < 1 or int(months) != months:
        raise ValueError(f"months must be a positive integer, got {months!r}")
    if discount_rate <= -1:
        raise ValueError(f"discount_rate must be > -1, got {discount_rate!r}")
    x, tx, t, sfx = _cols(summary)
    if unit_days is None:
        unit_days = _unit_days(summary, getattr(transaction_model, "unit_days_", 1.0))
    if spend_model is not None:
        spend = spend_model.conditional_expected_average_profit(
            x, summary["monetary_value" + sfx].to_numpy(float))
    else:
        spend = summary["monetary_value" + sfx].to_numpy(float)
    per_month = DAYS_PER_MONTH / unit_days
    clv = np.zeros(len(x))
    prev = np.zeros(len(x))
    for i in range(1, int(months) + 1):
        cum = transaction_model.conditional_expected_number_of_purchases_up_to_time(
            i * per_month, x, tx, t)
        clv += margin * spend * (cum - prev) / (1 + discount_rate) ** i
        prev = cum
    return pd.Series(clv, index=summary.index, name="clv")


class HoldoutCheck:
    """Predicted vs actual holdout purchases, grouped by calibration frequency.

    Attributes: ``table`` (``frequency_cal, n, actual, predicted, error``), ``total_actual``,
    ``total_predicted`` (holdout repeat purchases of all customers), ``mae`` (mean absolute error
    per customer), ``rmse``, ``model``.
    """

    def __init__(self, table, total_actual, total_predicted, mae, rmse, model, duration,
                 unit: str = "time units"):
        self.table = table
        self.total_actual = total_actual
        self.total_predicted = total_predicted
        self.mae = mae
        self.rmse = rmse
        self.model = model
        self.duration = duration
        self.unit = unit

    @property
    def relative_error(self) -> float:
        return (self.total_predicted - self.total_actual) / self.total_actual \
            if self.total_actual else float("nan")

    @property
    def reading(self) -> str:
        return (f"{self.model} predicted {self.total_predicted:,.0f} repeat purchases in the "
                f"{self.duration:g}-{self.unit} holdout period against {self.total_actual:,.0f} observed "
                f"({self.relative_error:+.1%}); per customer the mean absolute error is "
                f"{self.mae:.3f} purchases.")

    summary = reading
    caption = reading

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _repr_html_(self) -> str:
        return (f"<p>{html.escape(self.reading)}</p>"
                + self.table.to_html(index=False, float_format=lambda v: f"{v:.3f}"))

    def __repr__(self) -> str:
        return f"<HoldoutCheck: {self.reading}>"


def holdout_check(model, summary: pd.DataFrame, max_frequency: int = 7) -> HoldoutCheck:
    """Compare a transaction model's holdout predictions with what happened.

    ``summary`` is an rfm_summary table with a calibration/holdout split; ``model`` was fitted on
    its calibration columns. Customers are grouped by ``frequency_cal`` (``max_frequency`` and
    more in one group), as in Fader, Hardie & Lee (2005), Figure 4.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> from crmlab.ltv import BetaGeoFitter
    >>> s = rfm_summary(load_cdnow(sample=True), "1998-07-01", "D", "1997-10-01", time_scaler=7)
    >>> chk = holdout_check(BetaGeoFitter().fit(s), s)
    >>> chk.table.frequency_cal.tolist()
    ['0', '1', '2', '3', '4', '5', '6', '7+']
    """
    need = {"frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"}
    missing = need - set(summary.columns)
    if missing:
        raise ValueError("holdout_check needs an rfm_summary table with calibration_end; missing "
                         + ", ".join(sorted(missing)))
    x, tx, t, _ = _cols(summary)
    dur = summary["duration_holdout"].to_numpy(float)
    pred = model.conditional_expected_number_of_purchases_up_to_time(dur, x, tx, t)
    actual = summary["frequency_holdout"].to_numpy(float)
    grp = np.minimum(x, max_frequency).astype(int)
    df = pd.DataFrame({"group": grp, "actual": actual, "predicted": pred})
    table = df.groupby("group").agg(n=("actual", "size"), actual=("actual", "mean"),
                                    predicted=("predicted", "mean")).reset_index()
    table["frequency_cal"] = [f"{g}+" if g == max_frequency else str(g) for g in table["group"]]
    table["error"] = table["predicted"] - table["actual"]
    table = table[["frequency_cal", "n", "actual", "predicted", "error"]]
    err = pred - actual
    unit_days = _unit_days(summary, getattr(model, "unit_days_", 0.0))
    unit = {1.0: "day", 7.0: "week", DAYS_PER_MONTH: "month"}.get(
        unit_days, f"({unit_days:g}-day) unit" if unit_days else "unit")
    return HoldoutCheck(table, float(actual.sum()), float(pred.sum()),
                        float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err ** 2))),
                        getattr(model, "_model_name", type(model).__name__), float(dur.max()),
                        unit)
