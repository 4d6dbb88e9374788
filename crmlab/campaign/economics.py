"""Campaign economics as incremental profit with its uncertainty (numbers only, no sentences).

Each customer's **net value** over the horizon is ``margin_rate × revenue − cost``, the cost being
what the campaign spent on that customer (sends × ``cost_per_send`` + redeemed coupons; zero in
a holdout that receives nothing). The incremental profit of an arm is the difference in mean
net value between the arm and the holdout, times the arm's assigned customers; its interval and
the probability that it is positive come from the same method as the LTV lift's
(:data:`INTERVAL`, on the net values instead of the revenue). See
``docs/campaign-evaluation.md`` §3 for the definitions and the coverage study that chose the
interval.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: interval of the profit and LTV lift: "welch" (t interval with Welch's degrees of freedom),
#: "student" (bootstrap-t) or "percentile" bootstrap. Welch's interval came closest to its
#: nominal coverage in the re-randomisation study (docs/campaign-evaluation.md §3,
#: benchmarks/campaign_intervals.py): 94.1% against 93.2% (percentile), 92.4% (bootstrap-t)
#: and 91.5% (BCa) on 70 arms of ten 20,000-customer shops.
INTERVAL = "welch"
#: ROI / iROAS are not meaningful when the standard error of the incremental margin exceeds the
#: incremental cost times this factor (the ROI's standard error would be above 100 points) and
#: the profit interval holds zero
ROI_SE_LIMIT = 1.0
_CHUNK = 250


def _resampled_moments(x: np.ndarray, n_boot: int, rng: np.random.Generator):
    """Mean and variance (ddof=1) of ``n_boot`` resamples of ``x`` (chunked)."""
    n = len(x)
    means = np.empty(n_boot)
    vars_ = np.empty(n_boot)
    for start in range(0, n_boot, _CHUNK):
        b = min(_CHUNK, n_boot - start)
        s = x[rng.integers(0, n, size=(b, n))]
        means[start:start + b] = s.mean(axis=1)
        vars_[start:start + b] = s.var(axis=1, ddof=1)
    return means, vars_


def bootstrap_distribution(x_t, x_c, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """One bootstrap of ``mean(x_t) - mean(x_c)`` (arms resampled independently).

    Returns ``theta`` (the estimate), ``se`` (the Welch standard error), ``boot`` (resampled
    differences) and ``t`` (their studentized values ``(boot - theta) / se*``).
    """
    x_t, x_c = np.asarray(x_t, float), np.asarray(x_c, float)
    rng = np.random.default_rng(seed)
    mt, vt = _resampled_moments(x_t, n_boot, rng)
    mc, vc = _resampled_moments(x_c, n_boot, rng)
    theta = float(x_t.mean() - x_c.mean())
    se = float(np.sqrt(x_t.var(ddof=1) / len(x_t) + x_c.var(ddof=1) / len(x_c)))
    se_b = np.sqrt(vt / len(x_t) + vc / len(x_c))
    boot = mt - mc
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se_b > 0, (boot - theta) / se_b, 0.0)
    return {"theta": theta, "se": se, "boot": boot, "t": t}


def interval_and_probability(dist: dict, alpha: float, method: str = INTERVAL,
                             threshold: float = 0.0) -> tuple[float, float, float]:
    """``(ci_low, ci_high, p)`` from :func:`bootstrap_distribution`; ``p`` is the bootstrap
    confidence that the difference exceeds ``threshold`` (the share of the method's bootstrap
    distribution above it), so ``ci_low > threshold`` exactly when ``p > 1 - alpha / 2``."""
    theta, se, boot, t = dist["theta"], dist["se"], dist["boot"], dist["t"]
    if not np.isfinite(se) or se == 0:
        p = float(theta > threshold) if theta != threshold else 0.5
        return theta, theta, p
    if method == "student":
        lo = theta - float(np.quantile(t, 1 - alpha / 2)) * se
        hi = theta - float(np.quantile(t, alpha / 2)) * se
        # the pivot's distribution: theta - t* se is a draw of the difference
        p = float(np.mean(theta - t * se > threshold))
    elif method == "percentile":
        lo, hi = (float(v) for v in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
        p = float(np.mean(boot > threshold))
    else:
        raise ValueError(f"interval method must be 'student' or 'percentile', got {method!r}")
    return lo, hi, p


def difference(x_t, x_c, *, alpha: float, threshold: float = 0.0, method: str = INTERVAL,
               n_boot: int = 2000, seed: int = 0) -> dict:
    """``mean(x_t) - mean(x_c)`` with its interval and the confidence ``p`` that it exceeds
    ``threshold``: for ``welch`` ``p = F_t((theta - threshold) / se)`` with Welch's degrees of
    freedom, for the bootstrap methods the share of the bootstrap distribution above it; in
    both cases ``ci_low > threshold`` exactly when ``p > 1 - alpha / 2``."""
    x_t, x_c = np.asarray(x_t, float), np.asarray(x_c, float)
    if method == "welch":
        from scipy import stats

        from crmlab.abtest.means import welch

        theta, se, df, _, lo, hi = (float(v) for v in welch(
            x_t.mean(), x_t.var(ddof=1), len(x_t), x_c.mean(), x_c.var(ddof=1), len(x_c),
            alpha=alpha))
        if se > 0:
            p = float(stats.t.cdf((theta - threshold) / se, df))
        else:
            p = float(theta > threshold) if theta != threshold else 0.5
        return dict(theta=theta, se=se, ci_low=lo, ci_high=hi, p=p)
    dist = bootstrap_distribution(x_t, x_c, n_boot=n_boot, seed=seed)
    lo, hi, p = interval_and_probability(dist, alpha, method, threshold)
    return dict(theta=dist["theta"], se=dist["se"], ci_low=lo, ci_high=hi, p=p)


def adjusted_difference(y_t, y_c, x_t: pd.DataFrame, x_c: pd.DataFrame, *, alpha: float,
                        threshold: float = 0.0, covariates=()) -> dict | None:
    """``mean(y_t) - mean(y_c)`` adjusted for pre-period covariates (Lin 2013: OLS on the arm,
    the centred covariates and their interactions, HC2 standard errors,
    :func:`crmlab.abtest.regression_adjustment`), with its t interval and the confidence ``p``
    that it exceeds ``threshold`` (``ci_low > threshold`` exactly when ``p > 1 - alpha / 2``).

    Only the covariates that vary in both arms are used
    (:func:`crmlab.campaign._stats.usable_covariates`); returns None when none is usable, so
    that the caller keeps the unadjusted comparison. The result carries ``unadjusted`` (the
    raw difference), ``variance_reduction`` and ``covariates`` (those used).
    """
    from scipy import stats

    from crmlab.abtest import regression_adjustment
    from crmlab.campaign._stats import usable_covariates

    covariates = [c for c in covariates if c in x_t and c in x_c]
    if not covariates:
        return None
    df = pd.concat([x_t[covariates], x_c[covariates]], ignore_index=True)
    df.insert(0, "y", np.concatenate([np.asarray(y_t, float), np.asarray(y_c, float)]))
    df.insert(0, "arm", np.repeat(["t", "c"], [len(y_t), len(y_c)]))
    use = usable_covariates(df, covariates, ["t", "c"])
    if not use:
        return None
    r = regression_adjustment(df[["arm", "y"] + use], "arm", "y", use, "c",
                              alpha=alpha).to_frame().iloc[0]
    theta, se, dof = float(r["abs_lift"]), float(r["se"]), int(r["dof"])
    if not (np.isfinite(se) and se > 0 and dof > 0):
        return None
    p = float(stats.t.cdf((theta - threshold) / se, dof))
    return dict(theta=theta, se=se, ci_low=float(r["ci_low"]), ci_high=float(r["ci_high"]),
                p=p, p_value=float(r["p_value"]), dof=dof,
                unadjusted=float(r["unadjusted_abs_lift"]),
                variance_reduction=float(r["variance_reduction"]), covariates=use)


def _t_cdf(x: float, dof: int) -> float:
    from scipy import stats

    return float(stats.t.cdf(x, dof))


def bootstrap_t_interval(x_t, x_c, *, alpha: float = 0.05, n_boot: int = 2000,
                         seed: int = 0) -> tuple[float, float]:
    """Bootstrap-t (studentized) interval of ``mean(x_t) - mean(x_c)``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> lo, hi = bootstrap_t_interval(rng.exponential(2, 500), rng.exponential(1, 500))
    >>> bool(lo < 1 < hi)
    True
    """
    lo, hi, _ = interval_and_probability(bootstrap_distribution(x_t, x_c, n_boot=n_boot,
                                                                seed=seed), alpha, "student")
    return lo, hi


def customer_cost(table: pd.DataFrame, cost_per_send: float,
                  coupon_cost: float | None) -> tuple[pd.Series, pd.Series]:
    """Per customer: send cost and coupon cost (the spec's cost per redeemed coupon times the
    customer's conversion, or ``assignments.coupon_cost`` when the spec gives none)."""
    send = table["sent"].astype(float) * float(cost_per_send)
    if coupon_cost is None:
        coupon = table["coupon_cost"].astype(float).fillna(0.0)
    else:
        coupon = float(coupon_cost) * table["conversion"].astype(float) * (
            table["arm"] != "control").astype(float)
    return send, coupon


def arm_economics(table: pd.DataFrame, full: pd.Series, arm: str, control: str, *,
                  cost_per_send: float, coupon_cost: float | None, margin_rate: float,
                  alpha: float, min_p: float, conv_lift: float, n_boot: int, seed: int,
                  method: str = INTERVAL, covariates=()) -> dict:
    """One arm's economics against the holdout (see the module docstring).

    ``full`` marks the customers whose horizon was fully observed (the net values are compared
    over them); costs and ``n`` are over every assigned customer of the arm. With
    ``covariates`` (pre-period columns of ``table``), the difference in net value and the
    revenue lift are adjusted for them (:func:`adjusted_difference`) when any is usable;
    ``adjusted_for`` names them and ``unadjusted_profit`` is the raw arithmetic.
    """
    send, coupon = customer_cost(table, cost_per_send, coupon_cost)
    cost = send + coupon
    is_t, is_c = table["arm"] == arm, table["arm"] == control
    n, n_c = int(is_t.sum()), int(is_c.sum())
    send_cost, coupon_total = float(send[is_t].sum()), float(coupon[is_t].sum())
    total = send_cost + coupon_total
    control_cost_pc = float(cost[is_c].mean()) if n_c else 0.0
    inc_cost = total - control_cost_pc * n
    m = margin_rate
    rev = table["revenue_h"].astype(float)
    ft, fc = is_t & full, is_c & full
    out = {"arm": arm, "n": n, "sends": int(table.loc[is_t, "sent"].sum()),
           "cost_per_send": float(cost_per_send), "send_cost": send_cost,
           "coupon_cost": coupon_total, "total_cost": total, "incremental_cost": inc_cost,
           "margin_rate": m, "incremental_conversions": conv_lift * n,
           "interval_method": method}
    if ft.sum() < 2 or fc.sum() < 2:
        nan = float("nan")
        out.update(incremental_revenue=nan, incremental_margin=nan, incremental_profit=nan,
                   profit_ci_low=nan, profit_ci_high=nan, p_profitable=nan,
                   incremental_revenue_ci_low=nan, incremental_revenue_ci_high=nan,
                   break_even_lift=inc_cost / n / m if n else nan, roi=nan, roi_ci_low=nan,
                   roi_ci_high=nan, iroas=nan, iroas_ci_low=nan, iroas_ci_high=nan,
                   ratio_note="no customer observed over the whole horizon in an arm",
                   adjusted_for="", variance_reduction=0.0, unadjusted_profit=nan,
                   profit_se=nan,
                   cost_per_incremental_conversion=nan, margin_se=nan)
        return out
    ltv_lift = float(rev[ft].mean() - rev[fc].mean())
    raw_profit = m * ltv_lift * n - inc_cost
    net = m * rev - cost
    # the estimate is the exact arithmetic (margin - cost over every customer) plus, when
    # adjusted, the covariates' correction of the fully observed customers' difference; their
    # net values give the width and the probability of profit
    xt, xc = table.loc[ft], table.loc[fc]
    r = adjusted_difference(rev[ft], rev[fc], xt, xc, alpha=alpha,
                            covariates=covariates) if len(covariates) else None
    d = adjusted_difference(net[ft], net[fc], xt, xc, alpha=alpha,
                            covariates=r["covariates"]) if r is not None else None
    if d is None:
        shift = raw_profit / n - float(net[ft].mean() - net[fc].mean())
        d = difference(net[ft].to_numpy(), net[fc].to_numpy(), alpha=alpha, threshold=-shift,
                       method=method, n_boot=n_boot, seed=seed)
        r = difference(rev[ft].to_numpy(), rev[fc].to_numpy(), alpha=alpha, method=method,
                       n_boot=n_boot, seed=seed)
        p = d["p"]
        out.update(adjusted_for="", variance_reduction=0.0)
    else:
        # profit = margin on the adjusted revenue lift - the incremental cost; the adjusted
        # difference in net value gives the width and the probability of profit
        shift = (m * r["theta"] * n - inc_cost) / n - d["theta"]
        p = float(_t_cdf((d["theta"] + shift) / d["se"], d["dof"]))
        out.update(adjusted_for=", ".join(d["covariates"]),
                   variance_reduction=d["variance_reduction"], interval_method="regression")
    profit = (d["theta"] + shift) * n
    inc_rev = r["theta"] * n
    inc_margin = m * inc_rev
    lo_t, hi_t = (d["ci_low"] + shift) * n, (d["ci_high"] + shift) * n
    rlo, rhi = r["ci_low"], r["ci_high"]
    margin_se = m * r["se"] * n
    out["unadjusted_profit"] = raw_profit
    out["profit_se"] = float(d["se"]) * n
    out.update(incremental_revenue=inc_rev, incremental_revenue_ci_low=rlo * n,
               incremental_revenue_ci_high=rhi * n, incremental_margin=inc_margin,
               incremental_profit=profit, profit_ci_low=lo_t, profit_ci_high=hi_t,
               p_profitable=p, profitable=bool(p >= min_p),
               break_even_lift=inc_cost / n / m if n else float("nan"), margin_se=margin_se,
               cost_per_incremental_conversion=(total / (conv_lift * n)
                                                if conv_lift * n > 0 else float("nan")))
    out.update(ratios(profit, lo_t, hi_t, inc_rev, rlo * n, rhi * n, inc_cost, margin_se))
    return out


def ratios(profit, p_lo, p_hi, rev, r_lo, r_hi, cost, margin_se) -> dict:
    """ROI (incremental profit / incremental cost) and iROAS (incremental revenue / cost) with
    intervals mapped from the profit and revenue intervals, or null with the reason when the
    cost is too small for a ratio to carry information (``ratio_note``)."""
    nan = float("nan")
    out = dict(roi=nan, roi_ci_low=nan, roi_ci_high=nan, iroas=nan, iroas_ci_low=nan,
               iroas_ci_high=nan, ratio_note=None)
    if not cost > 0:
        out["ratio_note"] = "no_cost"
        return out
    if margin_se > ROI_SE_LIMIT * cost and not (p_lo > 0 or p_hi < 0):
        # imprecise and of unknown sign: a ratio of thousands of percent either way says
        # nothing; an imprecise ratio whose interval excludes zero still bounds the return
        out["ratio_note"] = "cost_below_margin_se"
        return out
    out.update(roi=profit / cost, roi_ci_low=p_lo / cost, roi_ci_high=p_hi / cost,
               iroas=rev / cost, iroas_ci_low=r_lo / cost, iroas_ci_high=r_hi / cost)
    return out


def ltv_interval(yt, yc, alpha: float, n_boot: int, seed: int, min_lift: float,
                 method: str = INTERVAL, x_t: pd.DataFrame | None = None,
                 x_c: pd.DataFrame | None = None, covariates=()) -> dict:
    """LTV lift (difference in mean revenue over the horizon) with its interval, p-value and
    the confidence that it is at least ``min_lift``: adjusted for the pre-period
    ``covariates`` (columns of ``x_t`` / ``x_c``, :func:`adjusted_difference`) when any is
    usable, else the interval of :data:`INTERVAL` and Welch's p-value.
    ``ltv_treatment`` / ``ltv_control`` stay the raw means, ``ltv_unadjusted_lift`` their
    difference; ``ltv_covariates`` names what was adjusted for ("" when nothing)."""
    from crmlab.campaign._stats import welch_diff

    yt, yc = np.asarray(yt, float), np.asarray(yc, float)
    adj = (adjusted_difference(yt, yc, x_t, x_c, alpha=alpha, threshold=min_lift,
                               covariates=covariates)
           if x_t is not None and x_c is not None else None)
    raw = float(yt.mean() - yc.mean())
    if adj is not None:
        d, p_value = adj, adj["p_value"]
        extra = dict(ltv_covariates=", ".join(d["covariates"]),
                     ltv_variance_reduction=d["variance_reduction"])
    else:
        d = difference(yt, yc, alpha=alpha, threshold=min_lift, method=method, n_boot=n_boot,
                       seed=seed)
        p_value = welch_diff(yt, yc, alpha)[3]
        extra = dict(ltv_covariates="", ltv_variance_reduction=0.0)
    return dict(ltv_treatment=float(yt.mean()), ltv_control=float(yc.mean()),
                ltv_lift=d["theta"], ltv_ci_low=d["ci_low"], ltv_ci_high=d["ci_high"],
                ltv_se=d["se"], ltv_p_value=p_value, p_ltv_above_min=d["p"],
                ltv_unadjusted_lift=raw, **extra)
