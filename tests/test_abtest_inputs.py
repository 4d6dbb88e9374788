"""crmlab.abtest: bad input, documented edge-case handling, and the result-object contract."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmlab import DataContractError, abtest


def conv_df(n_c=1000, x_c=100, n_t=1000, x_t=130, arms=("control", "email")):
    return pd.DataFrame({"arm": [arms[0]] * n_c + [arms[1]] * n_t,
                         "buy": [1] * x_c + [0] * (n_c - x_c) + [1] * x_t + [0] * (n_t - x_t)})


def rev_df(seed=0, n=500):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"arm": np.repeat(["control", "email", "sms"], n),
                         "rev": (rng.random(3 * n) < 0.2) * rng.lognormal(3, 1, 3 * n),
                         "pre": rng.gamma(2, 10, 3 * n)})


# -- the result contract ---------------------------------------------------------------------------

def test_result_frame_columns_reading_and_html():
    r = abtest.proportions(conv_df(), "arm", "buy", control="control")
    f = r.to_frame()
    assert list(f.columns[:11]) == abtest.COLUMNS
    assert f.loc[0, "abs_lift"] == pytest.approx(0.03)
    assert f.loc[0, "rel_lift"] == pytest.approx(0.3)
    assert f.loc[0, "ci_low"] < 0.03 < f.loc[0, "ci_high"]
    assert r.reading.endswith(".") and "\n" not in r.reading and "email" in r.reading
    html = r._repr_html_()
    assert "<table" in html and "Newcombe" in html
    assert isinstance(r.p_value, float) and r.ci == (r.ci_low, r.ci_high)


def test_several_treatment_arms_give_one_row_each():
    df = rev_df()
    r = abtest.means(df, "arm", "rev", control="control")
    f = r.to_frame()
    assert f.arm.tolist() == ["email", "sms"]
    assert (f.control_value == df[df.arm == "control"].rev.mean()).all()
    assert isinstance(r.p_value, pd.Series) and list(r.p_value.index) == ["email", "sms"]


def test_ibis_table_input_gives_the_same_numbers():
    import ibis
    df = conv_df()
    a = abtest.proportions(df, "arm", "buy", control="control").to_frame()
    b = abtest.proportions(ibis.memtable(df), "arm", "buy", control="control").to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_bootstrap_is_reproducible_with_a_seed():
    df = rev_df()
    a = abtest.means(df, "arm", "rev", "control", ci="bca", seed=7).to_frame()
    b = abtest.means(df, "arm", "rev", "control", ci="bca", seed=7).to_frame()
    c = abtest.means(df, "arm", "rev", "control", ci="bca", seed=8).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.ci_low, c.ci_low)
    assert "BCa bootstrap CI (2000 resamples, seed 7)" in a.method.iloc[0]


def test_capping_is_stated_in_the_output():
    df = rev_df()
    r = abtest.means(df, "arm", "rev", "control", cap_quantile=0.99)
    cap = df.rev.quantile(0.99)
    assert any("capped at the pooled 99th percentile" in n for n in r.notes)
    assert "capped" in r.method and r.to_frame().cap.iloc[0] == pytest.approx(cap)
    assert r.to_frame().value.max() <= cap
    r2 = abtest.means(df, "arm", "rev", "control", cap_value=50)
    assert r2.to_frame().cap.iloc[0] == 50
    with pytest.raises(ValueError):
        abtest.means(df, "arm", "rev", "control", cap_quantile=1.5)


# -- bad input -------------------------------------------------------------------------------------

def test_unknown_control_label_is_a_clear_error():
    with pytest.raises(DataContractError, match="unknown control label 'holdout'.*'control'"):
        abtest.proportions(conv_df(), "arm", "buy", control="holdout")


def test_missing_column_is_a_clear_error():
    with pytest.raises(DataContractError, match="experiment.revenue: column not found"):
        abtest.means(conv_df(), "arm", "revenue", control="control")


def test_arm_with_no_customers_is_an_error():
    df = conv_df()
    with pytest.raises(DataContractError, match="no customers: 'sms'"):
        abtest.proportions(df, "arm", "buy", control="control", arms=["control", "email", "sms"])
    df["arm"] = pd.Categorical(df.arm, categories=["control", "email", "sms"])
    with pytest.raises(DataContractError, match="no customers: 'sms'"):
        abtest.means(df, "arm", "buy", control="control")
    with pytest.raises(DataContractError, match="nothing to compare"):
        abtest.proportions(conv_df(n_t=0, x_t=0), "arm", "buy", control="control")


def test_arm_with_no_conversions_is_handled():
    # treatment with none: defined difference, -100% relative lift, exact test when cells small
    r = abtest.proportions(conv_df(x_t=0), "arm", "buy", control="control")
    assert r.value == 0 and r.rel_lift == -1.0 and r.p_value < 1e-10
    # control with none: relative lift undefined and said so
    r = abtest.proportions(conv_df(x_c=0, x_t=3), "arm", "buy", control="control")
    assert np.isnan(r.rel_lift) and any("control has no conversions" in n for n in r.notes)
    assert r.method.startswith("Fisher")
    # nobody converted anywhere: no evidence of a difference, a zero-width lift at 0
    r = abtest.proportions(conv_df(x_c=0, x_t=0), "arm", "buy", control="control")
    assert r.p_value == 1.0 and r.abs_lift == 0 and r.ci_low < 0 < r.ci_high


def test_zero_variance_outcome_is_handled():
    df = pd.DataFrame({"arm": ["c"] * 50 + ["t"] * 50, "y": [5.0] * 100})
    r = abtest.means(df, "arm", "y", control="c")
    assert r.p_value == 1.0 and r.ci == (0.0, 0.0)
    assert any("zero variance" in n for n in r.notes)
    df.loc[df.arm == "t", "y"] = 6.0
    r = abtest.means(df, "arm", "y", control="c", ci="bca")
    assert r.p_value == 0.0 and r.ci == (1.0, 1.0)


def test_small_arms_warn_and_use_exact_methods():
    with pytest.warns(abtest.SmallSampleWarning, match="fewer than 30"):
        r = abtest.proportions(conv_df(20, 5, 20, 9), "arm", "buy", control="control")
    assert r.method.startswith("Fisher's exact test")
    df = pd.DataFrame({"arm": ["c"] * 10 + ["t"] * 10, "y": np.arange(20.0)})
    with pytest.warns(abtest.SmallSampleWarning):
        r = abtest.means(df, "arm", "y", control="c")
    assert r.method.startswith("permutation test")
    # all 184,756 splits > 9,999 resamples -> Monte Carlo p; the true exact p is 1/92378
    assert r.p_value < 0.001


def test_nan_outcomes_are_counted_excluded_and_reported():
    df = rev_df()
    df.loc[[0, 1, 2, 600], "rev"] = np.nan      # 3 in control, 1 in email
    r = abtest.means(df, "arm", "rev", control="control")
    exc = r.excluded.set_index("arm")
    assert exc.loc["control", "rows"] == 3 and exc.loc["email", "rows"] == 1
    assert any("4 of 1,500 rows excluded" in n for n in r.notes)
    assert r.to_frame().set_index("arm").loc["email", "n"] == 499
    assert r.control_n.iloc[0] == 497
    df.loc[df.arm == "sms", "rev"] = np.nan
    with pytest.raises(DataContractError, match="every row of arm.*'sms'.*missing outcome"):
        abtest.means(df, "arm", "rev", control="control")


def test_negative_revenue_is_allowed():
    df = rev_df()
    df.loc[df.index[::10], "rev"] = -25.0         # refunds
    r = abtest.means(df, "arm", "rev", control="control", ci="percentile")
    assert np.isfinite(r.to_frame().ci_low).all()
    assert r.to_frame().control_value.iloc[0] == pytest.approx(
        df[df.arm == "control"].rev.mean())


def test_non_binary_conversion_is_an_error():
    df = conv_df()
    df.loc[3, "buy"] = 2
    with pytest.raises(DataContractError, match="buy: conversion outcome must be 0/1.*1 row"):
        abtest.proportions(df, "arm", "buy", control="control")


def test_missing_arm_labels_are_counted():
    df = conv_df()
    df.loc[:4, "arm"] = None
    r = abtest.proportions(df, "arm", "buy", control="control")
    assert r.excluded.rows.sum() == 5 and "missing arm" in r.excluded.reason.iloc[0]


def test_srm_bad_input():
    with pytest.raises(DataContractError):
        abtest.srm([-1, 10])
    with pytest.raises(ValueError, match="same arms"):
        abtest.srm({"a": 10, "b": 12}, {"a": 0.5, "c": 0.5})
    r = abtest.srm({"control": 980, "email": 9020}, {"control": 0.1, "email": 0.9})
    assert set(r.to_frame().columns) >= {"arm", "n", "expected_n", "p_value", "flagged"}
    assert "No sample-ratio mismatch" in r.reading


def test_design_bad_input():
    with pytest.raises(ValueError, match="p_control"):
        abtest.sample_size_proportions(0.0, 0.1)
    with pytest.raises(ValueError, match="zero difference"):
        abtest.sample_size_proportions(0.1, 0.1)
    with pytest.raises(ValueError, match="alternative"):
        abtest.sample_size_means(1, 1, alternative="sideways")
    with pytest.raises(ValueError, match="ratio"):
        abtest.power_proportions(0.1, 0.2, 100, ratio=0)


# -- other families: contract and behaviour --------------------------------------------------------

def test_design_result_is_a_number_with_a_reading():
    n = abtest.sample_size_proportions(0.05, 0.06, ratio=9)
    assert n.n_treatment == pytest.approx(9 * n) and n.n_total == pytest.approx(10 * n)
    assert "customers in control" in n.reading and "<table" in n._repr_html_()
    assert n.to_frame().n_control.iloc[0] == pytest.approx(float(n))
    assert abtest.power_proportions(0.05, 0.06, float(n), ratio=9) == pytest.approx(0.8)
    # one-sided needs fewer customers
    assert abtest.sample_size_proportions(0.05, 0.06, alternative="one-sided") < \
        abtest.sample_size_proportions(0.05, 0.06)


def test_cuped_and_regression_adjustment_report_variance_reduction():
    rng = np.random.default_rng(4)
    n = 4000
    pre = rng.gamma(2, 10, n)
    df = pd.DataFrame({"arm": np.repeat(["c", "t"], n // 2), "pre": pre,
                       "region": rng.choice(["a", "b"], n)})
    df["rev"] = 0.9 * pre + rng.normal(0, 6, n) + 2.0 * (df.arm == "t") + 3 * (df.region == "b")
    c = abtest.cuped(df, "arm", "rev", "pre", "c")
    assert 0.6 < c.variance_reduction < 0.95 and c.ci_low < 2 < c.ci_high
    assert c.unadjusted_ci_high - c.unadjusted_ci_low > c.ci_high - c.ci_low
    r = abtest.regression_adjustment(df, "arm", "rev", ["pre", "region"], "c")
    assert r.variance_reduction > c.variance_reduction and r.ci_low < 2 < r.ci_high
    df.loc[5, "pre"] = np.nan
    c2 = abtest.cuped(df, "arm", "rev", "pre", "c")
    assert c2.excluded.rows.sum() == 1


def test_balance_flags_an_imbalanced_covariate():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"arm": np.repeat(["c", "t"], 1000), "age": rng.normal(40, 10, 2000),
                       "channel": rng.choice(["web", "phone"], 2000)})
    assert "balanced" in abtest.balance(df, "arm", ["age", "channel"], "c").reading
    df.loc[df.arm == "t", "age"] += 3
    b = abtest.balance(df, "arm", ["age", "channel"], "c")
    f = b.to_frame().set_index("metric")
    assert f.loc["age", "imbalanced"] and not f.loc["channel=web", "imbalanced"]
    assert "exceed" in b.reading


def test_bayesian_results_state_priors():
    r = abtest.bayes_proportions(conv_df(), "arm", "buy", "control", prior=(2, 50))
    assert "Beta(2, 50)" in r.method and "Beta(2, 50)" in r.reading
    assert 0.95 < r.prob_beat_control < 1 and r.expected_loss < r.expected_loss_control
    same = abtest.bayes_proportions(conv_df(x_t=100), "arm", "buy", "control")
    assert same.prob_beat_control == pytest.approx(0.5, abs=1e-6)
    m = abtest.bayes_means(rev_df(), "arm", "rev", "control")
    assert "flat prior" in m.reading and len(m.to_frame()) == 2


def test_by_segment_detects_an_interaction_and_corrects():
    rng = np.random.default_rng(6)
    n = 20000
    seg = rng.choice(["new", "loyal"], n)
    arm = rng.choice(["c", "t"], n)
    p = 0.05 + 0.04 * ((arm == "t") & (seg == "new"))      # the lift exists only for "new"
    df = pd.DataFrame({"arm": arm, "seg": seg, "buy": (rng.random(n) < p).astype(int)})
    r = abtest.by_segment(df, "arm", "buy", "c", "seg", correction="holm")
    f = r.to_frame().set_index("segment")
    assert f.loc["new", "p_adjusted"] < 0.05 < f.loc["loyal", "p_adjusted"]
    assert (f.p_adjusted >= f.p_value).all()
    assert r.interaction.p_value.iloc[0] < 0.001
    assert "differs between segments" in r.reading


def test_correct_combines_results():
    a = abtest.proportions(conv_df(), "arm", "buy", "control")
    b = abtest.means(rev_df(), "arm", "rev", "control")
    c = abtest.correct([a, b], "bh")
    assert len(c.to_frame()) == 3 and "p_adjusted" in c.to_frame()
    assert "adjusted" in c.reading


def test_sequential_design_and_stopping_rule():
    d = abtest.group_sequential(4)
    assert "stop at the first look" in d.reading and len(d.to_frame()) == 4
    assert d.test([0.5, 1.0]).reading.startswith("Continue")
    res = d.test([0.5, 3.5])
    assert res.stop and res.stopped_at == 2 and res.to_frame().crossed.tolist() == [
        False, True, False, False]
    assert not d.test([0.5, 1.0, 1.5, 1.9]).stop
    with pytest.raises(ValueError):
        abtest.group_sequential([0.5, 0.4, 1.0])


def test_survival_endpoints_and_bad_durations():
    rng = np.random.default_rng(8)
    n = 800
    t = np.r_[rng.exponential(100, n), rng.exponential(140, n)]
    df = pd.DataFrame({"arm": np.repeat(["c", "t"], n), "days": np.minimum(t, 180),
                       "churned": (t < 180).astype(int)})
    r = abtest.survival(df, "arm", "days", "churned", "c", tau=180)
    assert 0.55 < r.hazard_ratio < 0.9 and r.p_value < 0.01
    assert r.abs_lift > 0 and "hazard ratio" in r.reading
    df.loc[0, "days"] = -1
    with pytest.raises(DataContractError, match="negative durations"):
        abtest.survival(df, "arm", "days", "churned", "c")


def test_ratio_metric_with_zero_denominator_customers():
    df = pd.DataFrame({"arm": ["c"] * 4 + ["t"] * 4, "rev": [0, 10, 20, 0, 0, 30, 30, 5.0],
                       "orders": [0, 1, 2, 0, 0, 2, 1, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = abtest.ratio(df, "arm", "rev", "orders", "c")
    assert r.value == pytest.approx(65 / 4) and r.control_value == pytest.approx(10.0)
    assert r.n == 4


def test_sequential_looks_on_accumulating_campaign_data():
    # weekly looks at a growing campaign: z from proportions(), stopping rule from the design
    rng = np.random.default_rng(9)
    arm = rng.choice(["control", "email"], 50_000)
    buy = (rng.random(50_000) < np.where(arm == "email", 0.06, 0.04)).astype(int)
    df = pd.DataFrame({"arm": arm, "buy": buy})
    design = abtest.group_sequential(5)
    z = [abtest.proportions(df.iloc[:k], "arm", "buy", "control").statistic
         for k in range(10_000, 50_001, 10_000)]
    res = design.test(z)
    assert res.stop and res.stopped_at <= 3 and z[res.stopped_at - 1] >= design.boundaries[
        res.stopped_at - 1]
    assert "Stop at look" in res.reading


def test_balance_missing_covariate_values_are_excluded_per_covariate():
    rng = np.random.default_rng(10)
    df = pd.DataFrame({"arm": np.repeat(["c", "t"], 500), "age": rng.normal(40, 10, 1000),
                       "channel": rng.choice(["web", "phone"], 1000)})
    df.loc[:9, "age"] = np.nan
    df.loc[990:, "channel"] = None
    b = abtest.balance(df, "arm", ["age", "channel"], "c")
    f = b.to_frame().set_index("metric")
    assert f.loc["age", "n"] == 500 and f.loc["channel=web", "n"] == 490
    assert b.excluded.rows.tolist() == [10, 10]


def test_design_functions_invert_each_other():
    n = abtest.sample_size_proportions(0.05, 0.045, ratio=4, alternative="one-sided")
    assert abtest.power_proportions(0.05, 0.045, float(n), ratio=4,
                                    alternative="one-sided") == pytest.approx(0.8, abs=1e-9)
    m = abtest.mde_proportions(0.05, float(n), ratio=4, alternative="one-sided",
                               direction="decrease")
    assert m.p_treatment == pytest.approx(0.045, abs=1e-7) and float(m) < 0
    d = abtest.mde_means(12.0, 5000, ratio=9)
    assert abtest.sample_size_means(float(d), 12.0, ratio=9) == pytest.approx(5000, rel=1e-6)
    ev = abtest.sample_size_survival(0.8, power=0.9, ratio=3, event_probability=0.5)
    assert abtest.power_survival(0.8, float(ev), ratio=3) == pytest.approx(0.9, abs=1e-9)
    assert ev.n_total == pytest.approx(2 * float(ev))
