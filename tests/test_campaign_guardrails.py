"""Guardrail states and message fatigue (crmlab.campaign.guardrails), and the regression
adjustment of the short-term metrics (crmlab.campaign._stats.adjusted_rows)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.campaign import _stats
from crmlab.campaign.guardrails import (apply_states, fatigue_effects, fatigue_levels,
                                        prior_sends, state)


def test_three_states_and_not_judged():
    assert state(0.001, 0.004, 0.005) == ("within", False)
    assert state(0.006, 0.02, 0.005) == ("breached", True)
    assert state(-0.01, 0.02, 0.005) == ("not settled", None)
    assert state(np.nan, np.nan, 0.005) == ("not judged", None)
    rows = [dict(ci_low=np.nan, ci_high=np.nan), dict(ci_low=0.0, ci_high=0.001)]
    apply_states(rows, 0.005, "no_channel_baseline")
    assert rows[0]["state"] == "not judged" and rows[0]["breached"] is None
    assert rows[0]["why"] == "no_channel_baseline"
    assert rows[1]["state"] == "within" and rows[1]["why"] is None


def test_prior_sends_count_every_campaign_in_the_30_days_before_assignment():
    import ibis

    t0 = pd.Timestamp("2024-05-01 10:00")
    a = pd.DataFrame({
        "campaign_id": ["x", "x", "y", "y", "z", "y"],
        "customer_id": ["a", "b", "a", "a", "a", "b"],
        "assigned_ts": [t0, t0, t0 - pd.Timedelta(days=10), t0 - pd.Timedelta(days=31),
                        t0 - pd.Timedelta(days=1), t0 + pd.Timedelta(days=1)],
        "sent_ts": [t0, t0, t0 - pd.Timedelta(days=10), t0 - pd.Timedelta(days=31),
                    pd.NaT, t0 + pd.Timedelta(days=1)],
    })
    table = pd.DataFrame({"customer_id": ["a", "b"], "assigned_ts": [t0, t0]})
    n = prior_sends(ibis.memtable(a), "x", table)
    # a: the send 10 days before counts; 31 days before, unsent and its own send do not
    assert n.tolist() == [1, 0]
    assert fatigue_levels(pd.Series([0, 1, 2, 3, 4, 9])).tolist() == ["0", "1", "2-3", "2-3",
                                                                      "4+", "4+"]


def test_fatigue_effects_by_level():
    rng = np.random.default_rng(0)
    n = 4000
    arm = np.where(rng.random(n) < 0.3, "control", "t")
    tired = rng.random(n) < 0.5
    unsub = (arm == "t") & (rng.random(n) < np.where(tired, 0.04, 0.005))
    table = pd.DataFrame({"arm": arm, "unsubscribed": unsub.astype(int),
                          "sent": (arm == "t").astype(int), "blocked": 0})
    levels = pd.Series(np.where(tired, "4+", "0"))
    f = fatigue_effects(table, levels, "control", ["t"], 0.05).set_index("fatigue")
    assert f.loc["4+", "unsubscribe_lift"] == pytest.approx(0.04, abs=0.01)
    assert f.loc["0", "unsubscribe_lift"] == pytest.approx(0.005, abs=0.004)
    assert f.loc["4+", "unsubscribe_ci_low"] > f.loc["0", "unsubscribe_ci_high"]


def test_adjusted_rows_keep_raw_means_and_drop_covariates_that_barely_vary():
    from crmlab.abtest import regression_adjustment

    rng = np.random.default_rng(3)
    n = 3000
    arm = np.where(rng.random(n) < 0.3, "control", "t")
    pre = rng.gamma(0.5, 20000, n)
    spike = np.zeros(n)
    spike[rng.choice(n, 3, replace=False)] = -100_000.0      # three customers only
    tenure = rng.uniform(30, 900, n)
    y = 0.6 * pre + 1500 * (arm == "t") + rng.normal(0, 5000, n)
    df = pd.DataFrame({"arm": arm, "revenue": y, "pre_revenue": pre, "refund": spike,
                       "tenure_days": tenure})
    r = _stats.adjusted_rows(df, "revenue", "control", ["t"], 0.05,
                             ["pre_revenue", "refund", "tenure_days"])[0]
    assert r["covariates"] == "pre_revenue, tenure_days"
    ref = regression_adjustment(df, "arm", "revenue", ["pre_revenue", "tenure_days"],
                                "control").to_frame().iloc[0]
    assert r["abs_lift"] == pytest.approx(ref["abs_lift"])
    assert r["value"] == pytest.approx(y[arm == "t"].mean())
    assert r["control_value"] == pytest.approx(y[arm == "control"].mean())
    assert r["unadjusted_abs_lift"] == pytest.approx(r["value"] - r["control_value"])
    assert r["ci_low"] < 1500 < r["ci_high"] and r["variance_reduction"] > 0.5


def test_fatigue_reaches_the_evaluation_and_the_report(small_shop):
    from crmlab.campaign import evaluate, report

    # the season push follows two other season messages, so its audience spans fatigue levels
    ev = evaluate(small_shop, dict(campaign_id="season_sale_push", segments=[]))
    assert len(ev.fatigue) and set(ev.fatigue["fatigue"]) <= {"0", "1", "2-3", "4+"}
    assert ev.fatigue["fatigue"].nunique() >= 2
    (arm,) = [a for a in ev.audience["arm"] if a != "control"]
    n_arm = int(ev.audience.set_index("arm").loc[arm, "n"])
    assert ev.fatigue.loc[ev.fatigue["arm"] == arm, "n"].sum() <= n_arm
    t = report.fatigue_table(ev)
    assert len(t) == len(ev.fatigue) and "Sends in the 30 days before" in t.columns


def _two_arms(x_t, n_t, x_c, n_c, sent_c=0):
    arm = ["t"] * n_t + ["control"] * n_c
    y = [1] * x_t + [0] * (n_t - x_t) + [1] * x_c + [0] * (n_c - x_c)
    return pd.DataFrame({"arm": arm, "unsubscribed": y,
                         "sent": [1] * n_t + [sent_c] * n_c, "blocked": 0})


@pytest.mark.parametrize("x_t, n_t, x_c, n_c, alpha", [
    (56, 70, 48, 80, 0.05), (3, 404, 0, 42, 0.025), (1, 23, 0, 320, 0.05),
    (29, 444, 5, 442, 0.0125), (0, 60, 0, 56, 0.05), (12, 1200, 30, 900, 0.2)])
def test_rate_difference_is_newcombe_as_in_statsmodels(x_t, n_t, x_c, n_c, alpha):
    from statsmodels.stats.proportion import confint_proportions_2indep

    r = _stats.proportion_rows(_two_arms(x_t, n_t, x_c, n_c), "unsubscribed", "control",
                               ["t"], alpha)[0]
    lo, hi = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb", compare="diff",
                                        alpha=alpha)
    assert r["ci_low"] == pytest.approx(lo, abs=1e-10)
    assert r["ci_high"] == pytest.approx(hi, abs=1e-10)
    assert not r["zero_by_design"]


@pytest.mark.parametrize("x_t, n_t, n_c, alpha", [
    (0, 404, 42, 0.05), (3, 119, 23, 0.05), (21, 320, 50, 0.025), (1, 60, 56, 0.0125)])
def test_a_holdout_zero_by_design_never_puts_the_interval_below_zero(x_t, n_t, n_c, alpha):
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    df = _two_arms(x_t, n_t, 0, n_c)
    # estimated, the holdout's zero carries its own Wilson upper bound: Newcombe's lower bound
    # then lies below zero, a difference no arm of this design can have
    plain = _stats.proportion_rows(df, "unsubscribed", "control", ["t"], alpha)[0]
    assert plain["ci_low"] < 0
    r = _stats.proportion_rows(df, "unsubscribed", "control", ["t"], alpha,
                               control_zero_by_design=True)[0]
    # known, the holdout's interval collapses onto zero: Newcombe = the arm's Wilson interval
    lo, hi = proportion_confint(x_t, n_t, alpha=alpha, method="wilson")
    assert r["ci_low"] == pytest.approx(lo, abs=1e-10) and r["ci_low"] >= 0
    assert r["ci_high"] == pytest.approx(hi, abs=1e-10)
    assert r["zero_by_design"] and "zero by design" in r["method"]
    assert r["abs_lift"] == pytest.approx(x_t / n_t)
    # the events against the known zero: any event shows an increase
    assert r["p_value"] == (0.0 if x_t > 0 else 1.0)
    # a holdout with events is not zero by design, whatever the caller says
    df = _two_arms(x_t, n_t, 2, n_c)
    r = _stats.proportion_rows(df, "unsubscribed", "control", ["t"], alpha,
                               control_zero_by_design=True)[0]
    lo, hi = confint_proportions_2indep(x_t, n_t, 2, n_c, method="newcomb", compare="diff",
                                        alpha=alpha)
    assert not r["zero_by_design"] and r["ci_low"] == pytest.approx(lo, abs=1e-10)


def test_fatigue_effects_against_an_unsent_holdout_stay_at_or_above_zero():
    table = pd.concat([_two_arms(2, 300, 0, 40).assign(level="0"),
                       _two_arms(0, 80, 0, 35).assign(level="4+")], ignore_index=True)
    f = fatigue_effects(table, table["level"], "control", ["t"], 0.05)
    assert (f["unsubscribe_ci_low"] >= 0).all()
    assert f.set_index("fatigue").loc["0", "unsubscribe_ci_high"] > 2 / 300


def test_guardrails_unmet_names_what_keeps_guardrails_allow_from_holding():
    from crmlab.campaign.decision import guardrails_allow, guardrails_unmet

    g = pd.DataFrame([
        dict(metric="unsubscribe_rate", state="not settled", ci_high=0.02, decision_upper=0.012,
             threshold=0.01),
        dict(metric="block_rate", state="not judged", ci_high=np.nan, decision_upper=np.nan,
             threshold=0.05)])
    assert not guardrails_allow(g) and guardrails_unmet(g) == ["unsubscribe_rate"]
    g.loc[0, "decision_upper"] = 0.009
    assert guardrails_allow(g) and guardrails_unmet(g) == []
    g.loc[1, ["state", "ci_high", "decision_upper"]] = ["breached", 0.2, 0.19]
    assert not guardrails_allow(g) and guardrails_unmet(g) == ["block_rate"]
