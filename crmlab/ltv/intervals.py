"""Intervals for customer-base predictions: per customer and for groups of customers.

Parameter uncertainty comes from the fitted models' covariance of the log-parameters (the
inverse Hessian) by the delta method: the gradient of every prediction with respect to the
log-parameters is taken by central differences (all customers at once, on the distinct
histories), and ``gᵀ Σ g`` is its variance. A per-customer interval is a confidence interval for
the customer's *expected* value, on the log scale (purchases, spend, CLV: they stay positive) or
the logit scale (P(alive): it stays in (0, 1)).

For a group (a cohort, a segment, the whole base) the expected total's gradient is the sum of
its customers' gradients, so the confidence interval of the expected total accounts for the
correlation between customers through the shared parameters. The *prediction* interval of the
realised total adds the process variance — customers are independent given the parameters, so
it is the sum of their conditional variances (``crmlab.ltv._moments``); both intervals are
delta-method intervals on the log scale of the total (so they stay positive, and the prediction
interval contains the confidence interval). CLV's process variance is that of the customer's total spend
in the horizon (a compound sum: the number of purchases, and each purchase's value under the
Gamma-Gamma posterior), scaled by the customer's discounting factor (CLV / undiscounted
expected spend); see docs/ltv.md.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.ltv._base import DAYS_PER_MONTH, _unit_days
from crmlab.ltv._moments import (Histories, kernel, purchase_moments, purchase_variance,
                                 spend_moments)

__all__ = ["ltv_intervals", "LTVIntervals"]

#: Central-difference step in the log-parameters (truncation error ~1e-9 relative, rounding
#: error ~1e-12: far below the standard errors they feed).
_STEP = 1e-4


def _columns(model, summary):
    """(x, t_x, T or n, monetary value or None, is_discrete) from a summary table."""
    from crmlab.ltv.bgbb import BetaGeoBetaBinomFitter, bgbb_columns
    from crmlab.ltv._base import rfm_columns

    if isinstance(model, BetaGeoBetaBinomFitter):
        x, tx, n = bgbb_columns(summary, model="ltv_intervals")
        return x, tx, n, None, True
    cols = set(summary.columns)
    sfx = "_cal" if "frequency_cal" in cols and "frequency" not in cols else ""
    x, tx, t = rfm_columns(summary, model="ltv_intervals")
    m = summary["monetary_value" + sfx].to_numpy(float) if "monetary_value" + sfx in cols else None
    return x, tx, t, m, False


def _cov(model) -> np.ndarray:
    if not hasattr(model, "covariance_log_"):
        raise ValueError(f"ltv_intervals: {type(model).__name__} has no fitted covariance (fit it "
                         "on data; parameters set by hand carry no uncertainty)")
    c = model.covariance_log_.to_numpy()
    if not np.all(np.isfinite(c)):
        raise ValueError(f"ltv_intervals: the covariance of {model._model_name} is not finite "
                         "(a parameter is not identified); intervals cannot be computed")
    return c


def _central(fn, logp):
    """Value of ``fn(params)`` (a dict of arrays) and the gradients of each entry with respect
    to the log-parameters, shape (k, n), by central differences."""
    base = fn(np.exp(logp))
    grads = {k: np.empty((len(logp),) + np.shape(v)) for k, v in base.items()}
    for j in range(len(logp)):
        e = np.zeros(len(logp))
        e[j] = _STEP
        up, dn = fn(np.exp(logp + e)), fn(np.exp(logp - e))
        for k in base:
            grads[k][j] = (up[k] - dn[k]) / (2 * _STEP)
    return base, grads


def _quad(g, cov):
    """gᵀ Σ g for each column of g (k, n)."""
    return np.einsum("jn,jk,kn->n", g, cov, g)


class LTVIntervals:
    """Per-customer and aggregate intervals (see :func:`ltv_intervals`).

    Attributes: ``customers`` (one row per customer: each quantity with ``_low``/``_high``),
    ``ci_level``, ``horizon`` and ``months``; :meth:`aggregate` gives group totals.
    """

    def __init__(self, customers, parts, ci_level, horizon, months, unit, model_name):
        self.customers = customers
        self._parts = parts
        self.ci_level = ci_level
        self.horizon = horizon
        self.months = months
        self.unit = unit
        self.model = model_name

    def aggregate(self, by=None) -> pd.DataFrame:
        """Totals per group: ``by`` is None (the whole base), a column of ``customers``, or an
        array/Series aligned with the customers (e.g. a cohort or segment label).

        For each quantity (``purchases``: expected purchases in the horizon; ``alive``: expected
        number of customers alive; ``clv``): the expected total, the confidence interval of the
        expected total (``_ci_low``, ``_ci_high``: parameter uncertainty) and the prediction
        interval of the realised total (``_pi_low``, ``_pi_high``: parameter and process
        variance).
        """
        p = self._parts
        n = len(self.customers)
        if by is None:
            codes, labels = np.zeros(n, dtype=np.intp), pd.Index(["all"], name="group")
        else:
            lab = np.asarray(self.customers[by] if isinstance(by, str) else by)
            if len(lab) != n:
                raise ValueError(f"aggregate: by has {len(lab)} values for {n} customers")
            lab = pd.Series(lab, index=self.customers.index)
            if lab.isna().any():
                raise ValueError(f"aggregate: by has {int(lab.isna().sum())} missing labels")
            codes, labels = pd.factorize(lab, sort=True)
            labels = pd.Index(labels, name=by if isinstance(by, str) else "group")
        ng = len(labels)
        inv = p["inverse"]
        z = stats.norm.ppf(0.5 + self.ci_level / 2)
        out = {"customers": np.bincount(codes, minlength=ng)}
        for q, (val, grad, cov, proc, *rows) in p["quantities"].items():
            idx = rows[0] if rows else inv           # per distinct history, or per customer
            total = np.bincount(codes, weights=val[idx], minlength=ng)
            G = np.vstack([np.bincount(codes, weights=g[idx], minlength=ng) for g in grad])
            vpar = _quad(G, cov)
            vproc = np.bincount(codes, weights=proc[idx], minlength=ng)
            with np.errstate(divide="ignore", invalid="ignore"):
                se_log = np.where(total > 0, np.sqrt(vpar) / total, 0.0)
                sp_log = np.where(total > 0, np.sqrt(vpar + vproc) / total, 0.0)
            out[q] = total
            out[f"{q}_ci_low"] = total * np.exp(-z * se_log)
            out[f"{q}_ci_high"] = total * np.exp(z * se_log)
            out[f"{q}_pi_low"] = total * np.exp(-z * sp_log)
            out[f"{q}_pi_high"] = total * np.exp(z * sp_log)
        return pd.DataFrame(out, index=labels)

    @property
    def reading(self) -> str:
        a = self.aggregate().iloc[0]
        lvl = f"{self.ci_level:.0%}"
        text = (f"{self.model}: {int(a.customers):,} customers are expected to make "
                f"{a.purchases:,.0f} purchases in the next {self.horizon:g} {self.unit}s "
                f"({lvl} prediction interval {a.purchases_pi_low:,.0f}–{a.purchases_pi_high:,.0f}; "
                f"the expected number itself is known to {a.purchases_ci_low:,.0f}–"
                f"{a.purchases_ci_high:,.0f}); {a.alive:,.0f} are expected to be alive.")
        if "clv" in self._parts["quantities"]:
            text += (f" Their {self.months}-month CLV totals {a.clv:,.0f} ({lvl} prediction "
                     f"interval {a.clv_pi_low:,.0f}–{a.clv_pi_high:,.0f}).")
        return text

    def _repr_html_(self) -> str:
        return (f"<p>{html.escape(self.reading)}</p>"
                + self.aggregate().to_html(float_format=lambda v: f"{v:,.4g}"))

    def __repr__(self) -> str:
        return f"<LTVIntervals: {self.reading}>"


def ltv_intervals(transaction_model, summary: pd.DataFrame, spend_model=None, *,
                  horizon: float | None = None, months: int = 12, discount_rate: float = 0.01,
                  margin: float = 1.0, ci_level: float = 0.90,
                  unit_days: float | None = None) -> LTVIntervals:
    """Intervals for expected purchases, P(alive), expected spend and CLV.

    Parameters
    ----------
    transaction_model : fitted BG/NBD, MBG/NBD, Pareto/NBD or BG/BB model
    summary : DataFrame
        The table the predictions are for: an rfm_summary table (its calibration columns when
        present), or for BG/BB a table with ``frequency, recency, n_periods`` (or ``periods``).
    spend_model : fitted GammaGammaFitter, optional
        Expected spend per purchase and its uncertainty; without it the customer's observed
        ``monetary_value`` is taken as known (CLV then carries the transaction model's
        uncertainty and the purchase count's process variance only).
    horizon : float
        Horizon of ``purchases`` in the model's time unit (BG/BB: opportunities); default
        ``months`` months.
    months, discount_rate, margin, unit_days
        CLV as in :func:`crmlab.ltv.customer_lifetime_value` (not for BG/BB).
    ci_level : float
        Coverage of every interval (0.9: 90%).

    Returns
    -------
    :class:`LTVIntervals`: ``customers`` (``purchases, purchases_low, purchases_high, p_alive,
    ..., spend, ..., clv, ...``) and :meth:`LTVIntervals.aggregate`.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> from crmlab.ltv import BetaGeoFitter, GammaGammaFitter
    >>> cal = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
    >>> iv = ltv_intervals(BetaGeoFitter().fit(cal), cal, GammaGammaFitter().fit(cal), horizon=39)
    >>> a = iv.aggregate().iloc[0]
    >>> bool(a.purchases_pi_low < a.purchases_ci_low < a.purchases < a.purchases_ci_high)
    True
    """
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level!r}")
    if months < 1 or int(months) != months:
        raise ValueError(f"months must be a positive integer, got {months!r}")
    transaction_model._check_fitted()
    kernel(transaction_model)                       # a supported model
    x, tx, t, m, discrete = _columns(transaction_model, summary)
    if discrete:
        if spend_model is not None:
            raise ValueError("ltv_intervals: CLV of a BG/BB model is not supported; give no "
                             "spend_model")
        if horizon is None or horizon < 1 or int(horizon) != horizon:
            raise ValueError("ltv_intervals: give the BG/BB horizon as a whole number of "
                             f"opportunities (horizon=...), got {horizon!r}")
        per_month, unit = None, "opportunitie"
    else:
        ud = unit_days if unit_days is not None else _unit_days(
            summary, getattr(transaction_model, "unit_days_", 1.0))
        per_month = DAYS_PER_MONTH / ud
        unit = {1.0: "day", 7.0: "week", DAYS_PER_MONTH: "month"}.get(ud, f"({ud:g}-day) unit")
        horizon = float(horizon) if horizon is not None else months * per_month
    with_clv = not discrete and (spend_model is not None or m is not None)
    hist = Histories(x, tx, t)
    inv = hist.inverse
    month_h = [i * per_month for i in range(1, int(months) + 1)] if with_clv else []
    horizons = month_h + [horizon]
    disc = (1 + discount_rate) ** -np.arange(1, len(month_h) + 1, dtype=float)

    def tx_fn(p):
        pa, firsts = purchase_moments(transaction_model, p, hist, horizons)
        out = {"p_alive": pa, "purchases": firsts[-1][hist.pair] * pa}
        if with_clv:
            # discounted sum of the monthly increments of E[Y], per (x, T) pair
            out["clv_tx"] = (disc @ np.diff(firsts[:-1], axis=0, prepend=0.0))[hist.pair] * pa
        return out

    cov_t = _cov(transaction_model)
    p_t = transaction_model.params_.to_numpy()
    val, grad = _central(tx_fn, np.log(p_t))
    pa, pur = val["p_alive"], val["purchases"]
    quantities = {"purchases": (pur, grad["purchases"], cov_t,
                                purchase_variance(transaction_model, p_t, hist, horizon, pa)),
                  "alive": (pa, grad["p_alive"], cov_t, pa * (1 - pa))}
    z = stats.norm.ppf(0.5 + ci_level / 2)
    cust = {}

    def add(name, v, var, scale, rows=True):
        """Interval columns of one quantity (``rows``: given per distinct history)."""
        sd = np.sqrt(np.maximum(var, 0.0))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if scale == "log":
                s = np.where(v > 0, sd / v, 0.0)
                lo, hi = v * np.exp(-z * s), v * np.exp(z * s)
            else:                                    # logit
                s = np.where((v > 0) & (v < 1), sd / (v * (1 - v)), 0.0)
                lg = np.log(v) - np.log1p(-v)
                lo = np.where(s > 0, 1 / (1 + np.exp(-(lg - z * s))), v)
                hi = np.where(s > 0, 1 / (1 + np.exp(-(lg + z * s))), v)
        for suffix, arr in (("", v), ("_low", lo), ("_high", hi)):
            cust[name + suffix] = arr[inv] if rows else arr

    add("purchases", pur, _quad(grad["purchases"], cov_t), "log")
    add("p_alive", pa, _quad(grad["p_alive"], cov_t), "logit")
    ident = np.arange(len(x))
    if with_clv:
        # per customer from here on (the spend depends on the customer's own mean value)
        clv_tx, g_tx = val["clv_tx"][inv], grad["clv_tx"][:, inv]
        if spend_model is not None:
            spend_model._check_fitted()
            cov_s = _cov(spend_model)
            p_s = spend_model.params_.to_numpy()
            sv, sg = _central(lambda q: {"spend": spend_moments(q, x, m, False)[0]},
                              np.log(p_s))
            spend, g_spend = sv["spend"], sg["spend"]
            ez2 = spend_moments(p_s, x, m)[1]
            emu2 = ez2 * p_s[0] / (p_s[0] + 1)          # E[(p/ν)²] = E[z²] p/(p+1)
            add("spend", spend, _quad(g_spend, cov_s), "log", rows=False)
        else:
            spend, g_spend, cov_s = m, np.zeros((0, len(x))), np.zeros((0, 0))
            ez2 = emu2 = m ** 2
        clv = margin * spend * clv_tx
        g_clv = np.vstack([margin * spend * g_tx, margin * clv_tx * g_spend])
        k_t, k_s = len(p_t), len(cov_s)
        cov_c = np.block([[cov_t, np.zeros((k_t, k_s))], [np.zeros((k_s, k_t)), cov_s]])
        add("clv", clv, _quad(g_clv, cov_c), "log", rows=False)
        # process variance of the horizon's total spend S: E[S²] = E[Y] E[z²] + E[Y(Y-1)] E[μ²]
        ey = (purchase_moments(transaction_model, p_t, hist, [month_h[-1]])[1][0][hist.pair]
              * pa)[inv]
        var_y = purchase_variance(transaction_model, p_t, hist, month_h[-1], pa)[inv]
        eyy = var_y + ey ** 2 - ey
        var_s = np.maximum(ey * ez2 + eyy * emu2 - (ey * spend) ** 2, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(ey * spend > 0, clv / (ey * spend), 0.0)
        quantities["clv"] = (clv, g_clv, cov_c, f ** 2 * var_s, ident)
    block = np.empty((len(x), len(cust)))
    for j, v in enumerate(cust.values()):
        block[:, j] = v
    customers = pd.DataFrame(block, index=summary.index, columns=list(cust), copy=False)
    parts = {"inverse": hist.inverse, "quantities": quantities}
    return LTVIntervals(customers, parts, ci_level, horizon, int(months), unit,
                        transaction_model._model_name)
