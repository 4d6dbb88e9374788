"""One campaign end to end: held-out validation aggregates (no ids), and the next audience."""
from __future__ import annotations

import json

import numpy as np
import pytest

from crmlab.uplift.targeting import campaign_uplift, next_audience, targeting_summary


@pytest.fixture(scope="module")
def result(small_shop):
    return campaign_uplift(small_shop, "cart_reminder", learner="t", margin=15_000, n_folds=3,
                           n_boot=50, n_threads=1)


def test_heldout_validation_shapes(result):
    assert result.settings["n_holdout"] > 0 and result.settings["n_train"] > 0
    assert set(result.qini.arm) == {"reminder", "reminder_coupon"}
    q = result.qini_coefficient.set_index("arm")
    assert (q.low <= q.estimate).all() and (q.estimate <= q.high).all()
    p = result.profit
    assert set(p.share) <= {0.1, 0.2, 0.3, 0.5, 1.0}
    # sending to everyone: the held-out lift times the margin, minus the costs
    everyone = p[p.share == 1.0].set_index("arm")
    assert np.isfinite(everyone.profit).all()
    assert result.settings["coupon_value"]["reminder_coupon"] == 2000.0
    assert result.settings["coupon_value"]["reminder"] == 0.0
    who = result.who
    assert set(who.column) <= {"stage", "rfm_segment", "acquisition_channel"}
    for col, g in who.groupby("column"):
        assert g.share_all.sum() == pytest.approx(1.0)
    c = result.comparison
    assert {"model", "random", "everyone"} <= set(c.rule)
    assert set(c.arm) == {"reminder", "reminder_coupon"}


def test_summary_holds_aggregates_only(result, small_shop):
    s = targeting_summary(result)
    text = json.dumps(s, default=str)
    assert "customer_id" not in text
    assert {"qini_curve", "qini_coefficient", "profit_top_k", "who", "comparison"} <= set(s)
    # every record is a curve point, a score, a profit row or a segment description
    assert all(isinstance(r["value"], str) for r in s["who"])
    assert all(set(r) == {"arm", "share", "targeted", "incremental", "random"}
               for r in s["qini_curve"])


def test_next_audience_budget_and_threshold(small_shop):
    aud = next_audience(small_shop, "winback_lms", learner="t", margin=15_000, budget=5_000,
                        n_folds=3, n_threads=1)
    t = aud.table
    assert t.expected_cost.sum() <= 5_000 + 1e-6
    assert (t.expected_profit > 0).all() and t.customer_id.is_unique
    everyone = next_audience(small_shop, "winback_lms", learner="t", margin=15_000,
                             min_profit=-1e12, n_folds=3, n_threads=1)
    assert len(everyone.table) == small_shop.assignments.filter(
        small_shop.assignments.campaign_id == "winback_lms").count().to_pandas()


def test_bad_arguments(small_shop):
    with pytest.raises(ValueError, match="margin: needed"):
        campaign_uplift(small_shop, "winback_lms")
    with pytest.raises(ValueError, match="learner must be one of"):
        campaign_uplift(small_shop, "winback_lms", learner="s", margin=1.0)
