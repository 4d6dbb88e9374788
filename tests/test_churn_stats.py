"""Kaplan-Meier, log-rank, RMST and the churn models against references and known truth.

References
- R survival, ``lung`` data (lifelines ships the same 228 rows as ``load_lung``):
  ``survfit(Surv(time, status) ~ sex, data = lung)`` prints
  sex=1: n 138, events 112, median 270 (0.95 CI 212–310); sex=2: n 90, events 53, median 426
  (348–550); ungrouped: median 310 (285–363).
  ``survdiff(Surv(time, status) ~ sex, data = lung)``: Observed 112 / 53, Expected 91.6 / 73.4,
  Chisq = 10.3 on 1 degree of freedom, p = 0.001.
- R ``coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi)``
  (Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data in R", appendix to
  An R Companion to Applied Regression): exp(coef) fin 0.6843, age 0.9442, prio 1.0958.
- Known truth by simulation: exponential / Weibull survival with a set hazard ratio, RMST of an
  exponential (1 − e^{−λτ}) / λ.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi

from crmlab.churn import (ChurnInputError, ChurnModel, evaluate_churn_model, kaplan_meier,
                          logrank, rmst, survival_difference, survival_ltv)


@pytest.fixture(scope="module")
def lung():
    return load_lung().rename(columns={"time": "duration", "status": "churned"})


def test_km_medians_match_r_survfit(lung):
    km = kaplan_meier(lung, "sex")
    t = km.table.set_index("group")
    assert t.loc[1, ["n", "events"]].tolist() == [138, 112]
    assert t.loc[1, ["median", "median_ci_low", "median_ci_high"]].tolist() == [270, 212, 310]
    assert t.loc[2, ["median", "median_ci_low", "median_ci_high"]].tolist() == [426, 348, 550]
    all_ = kaplan_meier(lung).table.iloc[0]
    assert [all_["median"], all_["median_ci_low"], all_["median_ci_high"]] == [310, 285, 363]


def test_km_median_on_a_flat_stretch_matches_r_quantile_survfit():
    # durations 1-4, events 1,1,0,1: S = 0.5 on [2, 4) (a censoring at 3 inside the flat);
    # R: median(survfit(Surv(c(1,2,3,4), c(1,1,0,1)) ~ 1)) = 3 (midpoint of 2 and the next drop)
    t = pd.DataFrame({"duration": [1, 2, 3, 4], "churned": [1, 1, 0, 1]})
    assert kaplan_meier(t).table.loc[0, "median"] == 3
    # the flat stretch runs to the end (last follow-up 4): R takes the midpoint of 2 and 4
    t = pd.DataFrame({"duration": [1, 2, 3, 4], "churned": [1, 1, 0, 0]})
    assert kaplan_meier(t).table.loc[0, "median"] == 3


def test_km_quantiles_match_r_survival_test_suite():
    # survival's tests/quantile.R, test1 without its NA row; R's quantile(fit, 1 - qq) is
    # c(1, 3.5, 6, 9, 9.5, NA) and (log CI) lower = c(1, 1, 1, 6, 6, 9)
    from crmlab.churn.km import _first_below

    t = pd.DataFrame({"duration": [9, 1, 1, 6, 6, 8, 10], "churned": [1, 1, 0, 1, 1, 0, 0]})
    c = kaplan_meier(t).curves
    qq = [13 / 14, 6 / 7, 2 / 3, .5, 9 / 35, .1]
    got = [_first_below(c["time"].to_numpy(), c["survival"].to_numpy(), q) for q in qq]
    np.testing.assert_array_equal(got, [1, 3.5, 6, 9, 9.5, np.nan])
    low = [_first_below(c["time"].to_numpy(), c["ci_low"].to_numpy(), q) for q in qq]
    np.testing.assert_array_equal(low, [1, 1, 1, 6, 6, 9])
    assert kaplan_meier(t).table.loc[0, "median"] == 9


def test_km_table_flags_survival_beyond_follow_up():
    t = pd.DataFrame({"duration": [5, 8, 8, 12, 20], "churned": [1, 1, 0, 1, 0]})
    row = kaplan_meier(t, times=[10, 30]).table.iloc[0]
    assert not row["S_10_beyond_follow_up"] and row["S_30_beyond_follow_up"]
    assert bool(kaplan_meier(t).survival_at(30)["beyond_follow_up"].iloc[0])


def test_km_curve_matches_lifelines(lung):
    km = kaplan_meier(lung, "sex", ci="log-log")
    for s in (1, 2):
        sub = lung[lung.sex == s]
        ref = KaplanMeierFitter().fit(sub.duration, sub.churned)
        c = km.curves[km.curves.group == s].set_index("time")
        sf = ref.survival_function_.iloc[:, 0]
        ci = ref.confidence_interval_
        common = c.index.intersection(sf.index)
        np.testing.assert_allclose(c.loc[common, "survival"], sf.loc[common], rtol=1e-12)
        np.testing.assert_allclose(c.loc[common, "ci_low"], ci.loc[common].iloc[:, 0], rtol=1e-9)
        np.testing.assert_allclose(c.loc[common, "ci_high"], ci.loc[common].iloc[:, 1], rtol=1e-9)
        np.testing.assert_array_equal(c.loc[common, "at_risk"],
                                      ref.event_table.loc[common, "at_risk"])
    frame = km.to_frame()
    assert {"metric", "arm", "value", "ci_low", "ci_high"} <= set(frame.columns)
    assert "median" in km.reading and "<strong>" in km._repr_html_()


def test_logrank_matches_r_survdiff(lung):
    lr = logrank(lung, "sex")
    assert lr.statistic == pytest.approx(10.3267, abs=1e-3)
    assert lr.df == 1 and lr.p_value == pytest.approx(0.00131, abs=1e-4)
    assert lr.observed.round(1).tolist() == [112.0, 53.0]
    assert lr.expected.round(1).tolist() == [91.6, 73.4]
    # three groups: pairwise table with Holm adjustment, multivariate with 2 df
    lung3 = lung.assign(age_band=pd.cut(lung.age, [0, 60, 70, 100], labels=["<60", "60s", "70+"]))
    lr3 = logrank(lung3, "age_band")
    assert lr3.df == 2 and len(lr3.pairwise) == 3
    assert (lr3.pairwise.p_holm >= lr3.pairwise.p_value).all()


def test_rmst_point_matches_lifelines_and_ci_covers_truth():
    from lifelines.utils import restricted_mean_survival_time

    rng = np.random.default_rng(11)
    lam0, lam1, tau, n, reps = 1 / 100, 1 / 70, 90.0, 300, 200
    truth = (1 - np.exp(-lam1 * tau)) / lam1 - (1 - np.exp(-lam0 * tau)) / lam0
    cover, diffs = 0, []
    for r in range(reps):
        t = np.concatenate([rng.exponential(1 / lam0, n), rng.exponential(1 / lam1, n)])
        cens = rng.uniform(60, 200, 2 * n)
        df = pd.DataFrame({"duration": np.minimum(t, cens), "churned": (t <= cens).astype(int),
                           "arm": ["control"] * n + ["treatment"] * n})
        res = rmst(df, "arm", tau=tau)
        d = res.differences.iloc[0]
        cover += d.ci_low <= truth <= d.ci_high
        diffs.append(d.abs_lift)
        if r == 0:  # the point estimate equals lifelines' integral of its own KM
            sub = df[df.arm == "control"]
            ref = restricted_mean_survival_time(KaplanMeierFitter().fit(sub.duration, sub.churned), t=tau)
            assert res.per_group.set_index("group").loc["control", "rmst"] == pytest.approx(ref, rel=1e-9)
    # 200 replications: 95% CI coverage within binomial error (sd 1.5 points)
    assert 0.90 <= cover / reps <= 0.99
    assert np.mean(diffs) == pytest.approx(truth, abs=0.3)


def test_survival_difference_ci_covers_truth():
    rng = np.random.default_rng(5)
    n, reps, t_at = 400, 150, 60.0
    truth = np.exp(-t_at / 70) - np.exp(-t_at / 100)
    cover = 0
    for _ in range(reps):
        t = np.concatenate([rng.exponential(100, n), rng.exponential(70, n)])
        cens = rng.uniform(30, 150, 2 * n)
        df = pd.DataFrame({"duration": np.minimum(t, cens), "churned": (t <= cens).astype(int),
                           "arm": ["control"] * n + ["treatment"] * n})
        d = survival_difference(df, "arm", time=t_at).to_frame().iloc[0]
        cover += d.ci_low <= truth <= d.ci_high
    assert 0.90 <= cover / reps <= 0.99


def _sim_ph(rng, n, hr_treat, beta_x, shape=1.0, scale=100.0, entry_span=0.0, follow=200.0):
    """Weibull PH survival: S(t) = exp(-(t/scale)^shape * exp(lp)). Returns a table with
    staggered entry over ``entry_span`` days before the cut-off and the true T."""
    treat = rng.integers(0, 2, n)
    x = rng.normal(0, 1, n)
    lp = np.log(hr_treat) * treat + beta_x * x
    u = rng.uniform(size=n)
    T = scale * (-np.log(u) / np.exp(lp)) ** (1 / shape)
    entry = rng.uniform(0, entry_span, n) if entry_span else np.zeros(n)
    window = follow + entry_span - entry
    return pd.DataFrame({"T": T, "window": window, "treatment": treat, "x": x,
                         "duration": np.minimum(T, window), "churned": (T <= window).astype(int)})


def test_cox_hazard_ratio_ci_covers_known_truth():
    rng = np.random.default_rng(2024)
    reps, cover, logs = 20, 0, []
    for _ in range(reps):
        df = _sim_ph(rng, 1500, hr_treat=0.7, beta_x=0.3)
        m = ChurnModel("cox").fit(df[["duration", "churned", "treatment", "x"]])
        hr = m.hazard_ratios_.loc["treatment"]
        cover += hr.ci_low <= 0.7 <= hr.ci_high
        logs.append(np.log(hr.hazard_ratio))
    assert cover / reps >= 0.8  # P(<= 15 of 20 | 95% coverage) = 0.3%
    assert np.mean(logs) == pytest.approx(np.log(0.7), abs=0.05)


def test_weibull_recovers_hazard_ratio_and_shape():
    rng = np.random.default_rng(9)
    df = _sim_ph(rng, 20000, hr_treat=0.6, beta_x=-0.4, shape=1.5)
    m = ChurnModel("weibull").fit(df[["duration", "churned", "treatment", "x"]])
    hr = m.hazard_ratios_
    assert hr.loc["treatment", "ci_low"] <= 0.6 <= hr.loc["treatment", "ci_high"]
    assert hr.loc["x", "hazard_ratio"] == pytest.approx(np.exp(-0.4), rel=0.03)
    assert m.shape_ == pytest.approx(1.5, rel=0.03)


def test_cox_matches_r_on_rossi():
    rossi = load_rossi().rename(columns={"week": "duration", "arrest": "churned"})
    m = ChurnModel("cox").fit(rossi)
    hr = m.hazard_ratios_["hazard_ratio"]
    assert hr["fin"] == pytest.approx(0.6843, abs=5e-4)
    assert hr["age"] == pytest.approx(0.9442, abs=5e-4)
    assert hr["prio"] == pytest.approx(1.0958, abs=5e-4)
    ph = m.check_proportional_hazards(rossi)
    assert set(ph.columns) == {"test_statistic", "p_value", "verdict"}
    # Fox & Weisberg: age and wexp show non-proportional hazards (p = 0.007, 0.014 in
    # cox.zph with the KM transform); with the rank transform age is flagged at 1%.
    assert ph.loc["age", "verdict"] == "PH doubtful"
    assert "concordance" in m.reading and len(m.to_frame()) == 7


@pytest.mark.filterwarnings("ignore:.*exceed the longest duration")
def test_predicted_churn_is_calibrated_out_of_time():
    """Fit at a cut-off with staggered entry, predict 60-day churn for the still-active
    customers conditional on the time survived, and compare with what happens next."""
    rng = np.random.default_rng(77)
    h = 60.0
    df = _sim_ph(rng, 30000, hr_treat=0.6, beta_x=0.5, shape=1.3, scale=150,
                 entry_span=500, follow=0.0)
    fit_table = df[["duration", "churned", "treatment", "x"]]
    active = df[df.churned == 0]
    observed = (active["T"] <= active["duration"] + h).astype(int)  # later period
    recency_baseline = active["duration"]  # time since start alone
    for kind in ("weibull", "cox"):
        m = ChurnModel(kind).fit(fit_table)
        p = m.predict_churn_probability(active[["duration", "churned", "treatment", "x"]], h)
        ok = active["duration"] + h <= df["duration"].max()  # Cox baseline known only there
        ev = evaluate_churn_model(p[ok], observed[ok], recency_baseline[ok], horizon_days=h)
        assert ev.max_calibration_gap < 0.04, (kind, ev.calibration)
        assert ev.concordance > ev.concordance_baseline
        assert ev.brier < ev.brier_baseline
    tiers = m.risk_tiers(active.head(500), horizon_days=h)
    assert set(tiers["risk_tier"].astype(str)) <= {"low", "medium", "high"}
    life = m.expected_remaining_lifetime(active.head(50), horizon_days=60)
    assert ((life > 0) & (life <= 60)).all()


def test_survival_ltv_with_constant_hazard():
    # exponential churn with mean 100 days, spend 2/day, no discount: E = 2 * 100 * (1 - e^-1)
    rng = np.random.default_rng(1)
    t = rng.exponential(100, 40000)
    table = pd.DataFrame({"duration": t, "churned": 1, "x": rng.normal(size=len(t))})
    m = ChurnModel("weibull").fit(table)
    cust = table.head(200).assign(duration=0.0)
    res = survival_ltv(m, cust, spend_per_day=2.0, horizon_days=100, monthly_discount=0.0)
    assert res.per_customer["ltv"].mean() == pytest.approx(200 * (1 - np.exp(-1)), rel=0.03)
    km_res = survival_ltv(kaplan_meier(table), cust, 2.0, horizon_days=100, monthly_discount=0.0)
    assert km_res.per_segment["ltv_mean"].item() == pytest.approx(200 * (1 - np.exp(-1)), rel=0.02)
    disc = survival_ltv(kaplan_meier(table), cust, 2.0, horizon_days=100, monthly_discount=0.05)
    assert disc.per_segment["ltv_mean"].item() < km_res.per_segment["ltv_mean"].item()


# ----------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    return _sim_ph(rng, 400, 0.8, 0.2)[["duration", "churned", "treatment", "x"]]


def test_model_no_events(small):
    with pytest.raises(ChurnInputError, match="no churn events — all 400 customers are censored"):
        ChurnModel().fit(small.assign(churned=0))


def test_model_zero_variance(small):
    with pytest.raises(ChurnInputError, match=r"\['flat'\] have no variance"):
        ChurnModel().fit(small.assign(flat=1.0))


def test_model_collinear(small):
    with pytest.raises(ChurnInputError, match="perfectly collinear"):
        ChurnModel("weibull").fit(small.assign(x2=2 * small.x + 1))


def test_model_missing_covariate_values(small):
    bad = small.copy()
    bad.loc[bad.index[:7], "x"] = np.nan
    with pytest.raises(ChurnInputError, match=r"x \(7 rows\)"):
        ChurnModel().fit(bad)


def test_model_other_bad_parameters(small):
    with pytest.raises(ChurnInputError, match="kind must be"):
        ChurnModel("logistic").fit(small)
    with pytest.raises(ChurnInputError, match="strata are supported by kind='cox' only"):
        ChurnModel("weibull", strata="treatment").fit(small)
    with pytest.raises(ChurnInputError, match="penalizer must be >= 0"):
        ChurnModel(penalizer=-1).fit(small)
    with pytest.raises(ChurnInputError, match="call fit"):
        ChurnModel().predict_churn_probability(small)


def test_weibull_zero_durations_are_handled(small):
    t = small.copy()
    t.loc[t.index[:20], ["duration", "churned"]] = [0.0, 1]
    m = ChurnModel("weibull").fit(t)
    assert m.n_zero_durations_ == 20
    cox = ChurnModel("cox", strata="treatment").fit(t)
    assert "treatment" not in cox.hazard_ratios_.index


def test_km_bad_input(small):
    cat = small.assign(seg=pd.Categorical(["a"] * len(small), categories=["a", "b"]))
    with pytest.raises(ChurnInputError, match="group seg='b' is empty"):
        kaplan_meier(cat, "seg")
    with pytest.raises(ChurnInputError, match="single group"):
        logrank(small.assign(g="x"), "g")
    with pytest.raises(ChurnInputError, match="no events"):
        logrank(small.assign(churned=0), "treatment")
    with pytest.raises(ChurnInputError, match="3 rows that are missing, infinite or negative"):
        kaplan_meier(small.assign(duration=[-1.0] * 3 + list(small.duration[3:])))
    with pytest.raises(ChurnInputError, match="beyond the follow-up"):
        rmst(small, "treatment", tau=10_000)
    with pytest.raises(ChurnInputError, match="empty"):
        kaplan_meier(small.iloc[0:0])


def test_formula_and_prediction_beyond_the_data():
    rossi = load_rossi().rename(columns={"week": "duration", "arrest": "churned"})
    m = ChurnModel("cox", formula="fin + age + C(race)").fit(rossi)
    assert list(m.hazard_ratios_.index) == ["fin", "age", "C(race)[T.1]"]
    with pytest.warns(UserWarning, match="exceed the longest duration in the fit"):
        m.predict_churn_probability(rossi.head(20), horizon_days=10)
    w = ChurnModel("weibull", formula="fin + age").fit(rossi)
    # an older age means a later churn: hazard ratio below 1, time ratio above 1
    assert w.hazard_ratios_.loc["age", "hazard_ratio"] < 1 < w.hazard_ratios_.loc["age", "time_ratio"]
