"""Decision quality against the simulator's truth (benchmarks/campaign_decisions.py).

The fast test reads the session's small shop; the slow one runs the study on three
20,000-customer shops (seeds 501-503) and checks the profit interval's coverage, that no
direction is claimed against the truth more often than the intervals' level allows, and that
no shipped arm truly loses money.
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest
from scipy import stats

from crmlab.campaign import evaluate

ROOT = Path(__file__).resolve().parents[1]


def _study():
    spec = importlib.util.spec_from_file_location(
        "campaign_decisions", ROOT / "benchmarks" / "campaign_decisions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_effect_on_a_cheap_channel_is_never_reported_as_paying(small_shop,
                                                                  small_shop_truth):
    assert small_shop_truth["review_request"]["revenue_lift_180d"] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = evaluate(small_shop, dict(campaign_id="review_request", segments=[]))
    text = " ".join(ev.verdict.reasons)
    assert ev.verdict.decision != "ship"
    assert "request: the campaign pays" not in text and " rose " not in text
    # no verdict rests on a point estimate: every direction has its interval beside it
    per = ev.verdict.per_arm.iloc[0]
    e = ev.economics.iloc[0]
    if per["profit"] == "pays":
        assert e["profit_ci_low"] > 0


@pytest.mark.slow
def test_decision_quality_on_simulated_shops(tmp_path):
    mod = _study()
    specs = sorted((ROOT / "experiments").glob("*.yaml"))
    rows = []
    for seed in (501, 502, 503):
        rows += mod.shop_rows(seed, 20_000, tmp_path, specs)
    import pandas as pd

    s = mod.summarise(pd.DataFrame(rows))
    # every treatment arm of every spec's campaign: 7 of the six campaigns that run one after
    # the other, 3 of the season campaigns under the global holdout
    assert s["arms"] == 3 * 10
    assert s["profit_interval_coverage"] >= 0.85
    allowed = int(stats.binom.ppf(0.99, max(s["claims_made"], 1), 0.05))
    assert s["claims_against_truth"] <= allowed
    assert s["shipped_truly_losing_share"] in (None, 0.0)
