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
