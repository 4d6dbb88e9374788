"""Campaign economics: the regression-adjusted LTV lift and profit (crmlab.campaign.economics).

References: statsmodels OLS with HC2 errors for Lin's interacted regression; a simulation with a
known effect for the coverage of the adjusted interval.
"""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from crmlab.campaign import economics as econ

COVS = ["pre_revenue", "pre_orders", "tenure_days"]


def _population(n, seed, effect=500.0):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({
        "pre_revenue": rng.gamma(0.6, 20_000, n) * (rng.random(n) < 0.6),
        "pre_orders": rng.poisson(1.5, n).astype(float),
        "tenure_days": rng.uniform(30, 900, n)})
    # right-skewed revenue that the pre-period explains in part
    base = 0.8 * x["pre_revenue"] + 2_000 * x["pre_orders"] + rng.gamma(0.5, 8_000, n)
    return x, base.to_numpy(), effect


def test_adjusted_difference_matches_statsmodels_hc2():
    x, y, eff = _population(900, 1)
    t = np.random.default_rng(2).random(len(y)) < 0.4
    y = y + eff * t
    d = econ.adjusted_difference(y[t], y[~t], x[t], x[~t], alpha=0.05, threshold=100.0,
                                 covariates=COVS)
    xc = x - x.mean()
    Z = np.column_stack([np.ones(len(y)), t.astype(float), xc.to_numpy(),
                         xc.to_numpy() * t[:, None]])
    fit = sm.OLS(y, Z).fit(cov_type="HC2")
    lo, hi = fit.conf_int(alpha=0.05)[1]
    se = fit.bse[1]
    dof = len(y) - Z.shape[1]
    q = stats.t.isf(0.025, dof)
    assert d["theta"] == pytest.approx(fit.params[1], rel=1e-7)
    assert d["se"] == pytest.approx(se, rel=1e-7)
    assert d["ci_low"] == pytest.approx(fit.params[1] - q * se, rel=1e-7)
    assert d["ci_high"] == pytest.approx(fit.params[1] + q * se, rel=1e-7)
    # statsmodels' HC interval is normal-based; the evaluation uses t with n - p dof
    assert abs(d["ci_low"] - lo) < 0.01 * se
    assert d["p"] == pytest.approx(stats.t.cdf((fit.params[1] - 100.0) / se, dof), rel=1e-7)
    assert d["unadjusted"] == pytest.approx(y[t].mean() - y[~t].mean(), rel=1e-12)
    assert d["covariates"] == COVS
    assert 0 < d["variance_reduction"] < 1


def test_interval_and_probability_agree():
    x, y, eff = _population(600, 3)
    t = np.random.default_rng(4).random(len(y)) < 0.5
    for shift in (-3_000.0, 0.0, 400.0, 3_000.0):
        yy = y + (eff + shift) * t
        d = econ.adjusted_difference(yy[t], yy[~t], x[t], x[~t], alpha=0.1, covariates=COVS)
        assert (d["ci_low"] > 0) == (d["p"] > 0.95)
        assert (d["ci_high"] < 0) == (d["p"] < 0.05)


def test_no_usable_covariate_gives_none():
    x, y, _ = _population(400, 5)
    x = x.assign(pre_revenue=0.0, pre_orders=0.0, tenure_days=0.0)
    x.loc[3, "pre_revenue"] = 5_000.0          # one customer only: not used (leverage)
    t = np.arange(len(y)) % 2 == 0
    assert econ.adjusted_difference(y[t], y[~t], x[t], x[~t], alpha=0.05,
                                    covariates=COVS) is None
    assert econ.adjusted_difference(y[t], y[~t], x[t], x[~t], alpha=0.05, covariates=[]) is None


def test_adjusted_interval_covers_a_known_effect_and_is_narrower():
    """Re-randomisation of one population with a constant effect: the adjusted 95% interval
    covers the effect at about its level and is narrower than Welch's."""
    x, y0, eff = _population(1_500, 6, effect=700.0)
    rng = np.random.default_rng(7)
    hits, widths, welch_widths, reps = 0, [], [], 300
    for _ in range(reps):
        t = rng.random(len(y0)) < 0.3
        y = y0 + eff * t
        d = econ.adjusted_difference(y[t], y[~t], x[t], x[~t], alpha=0.05, covariates=COVS)
        hits += d["ci_low"] <= eff <= d["ci_high"]
        widths.append(d["ci_high"] - d["ci_low"])
        w = econ.difference(y[t], y[~t], alpha=0.05)
        welch_widths.append(w["ci_high"] - w["ci_low"])
    # binomial(300, 0.95): 0.92-0.98 holds with probability > 0.99
    assert 0.92 <= hits / reps <= 0.98
    assert np.mean(widths) < 0.8 * np.mean(welch_widths)


def _table(n, seed, effect):
    x, y0, _ = _population(n, seed)
    rng = np.random.default_rng(seed + 1)
    arm = np.where(rng.random(n) < 0.2, "control", "coupon")
    treated = arm == "coupon"
    conv = (rng.random(n) < np.where(treated, 0.12, 0.08)).astype(float)
    return pd.DataFrame({"arm": arm, "sent": treated.astype(float), "conversion": conv,
                         "coupon_cost": 0.0, "revenue_h": y0 + effect * treated, **x})


def test_arm_economics_adjusted_profit_is_the_arithmetic_of_its_parts():
    tab = _table(3_000, 8, effect=1_500.0)
    full = pd.Series(True, index=tab.index)
    full.iloc[::17] = False                  # some customers not observed over the horizon
    kw = dict(cost_per_send=30.0, coupon_cost=2_000.0, margin_rate=0.3, alpha=0.05,
              min_p=0.9, conv_lift=0.04, n_boot=200, seed=0)
    raw = econ.arm_economics(tab, full, "coupon", "control", **kw)
    adj = econ.arm_economics(tab, full, "coupon", "control", covariates=COVS, **kw)
    assert raw["adjusted_for"] == "" and adj["adjusted_for"] == ", ".join(COVS)
    # margin on the adjusted revenue lift minus the incremental cost, exactly
    assert adj["incremental_profit"] == pytest.approx(
        0.3 * adj["incremental_revenue"] - adj["incremental_cost"], rel=1e-9)
    assert adj["unadjusted_profit"] == pytest.approx(raw["incremental_profit"], rel=1e-9)
    assert adj["incremental_cost"] == raw["incremental_cost"]
    assert adj["profit_ci_low"] < adj["incremental_profit"] < adj["profit_ci_high"]
    assert (adj["profit_ci_high"] - adj["profit_ci_low"]) < \
        0.9 * (raw["profit_ci_high"] - raw["profit_ci_low"])
    q = (adj["profit_ci_high"] - adj["incremental_profit"]) / adj["profit_se"]
    assert q == pytest.approx(stats.norm.isf(0.025), rel=0.01)   # t with ~3,000 dof
    assert (adj["profit_ci_low"] > 0) == (adj["p_profitable"] > 0.975)


def test_ltv_interval_reports_what_was_adjusted():
    tab = _table(2_000, 9, effect=800.0)
    t, c = tab[tab.arm == "coupon"], tab[tab.arm == "control"]
    r = econ.ltv_interval(t.revenue_h, c.revenue_h, 0.05, 200, 0, 0.0, x_t=t, x_c=c,
                          covariates=COVS)
    assert r["ltv_covariates"] == ", ".join(COVS)
    assert r["ltv_treatment"] == pytest.approx(t.revenue_h.mean())
    assert r["ltv_unadjusted_lift"] == pytest.approx(t.revenue_h.mean() - c.revenue_h.mean())
    assert r["ltv_variance_reduction"] > 0.2
    plain = econ.ltv_interval(t.revenue_h, c.revenue_h, 0.05, 200, 0, 0.0)
    assert plain["ltv_covariates"] == "" and plain["ltv_lift"] == pytest.approx(
        r["ltv_unadjusted_lift"])
