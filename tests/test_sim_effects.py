"""The simulator's individual treatment effects (ground_truth_effects.parquet): the realized
effects average to ground_truth.json; the effects with the customer's future held fixed equal a
Monte Carlo average over freshly drawn message-funnel random numbers; the expected conversion
effects (future integrated out) agree with the realized ones on average."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crmlab.data import _sim_params as P
from crmlab.data._sim_effects import RESPONSE_HETEROGENEITY, response_multiplier
from crmlab.data.simulate import _Shop


@pytest.fixture(scope="module")
def effects(small_shop_dir):
    return pd.read_parquet(small_shop_dir / "ground_truth_effects.parquet")


def test_realized_effects_average_to_the_ground_truth(effects, small_shop_dir):
    truth = json.loads((small_shop_dir / "ground_truth.json").read_text())
    asg = pd.read_parquet(small_shop_dir / "assignments.parquet")
    for cid, gt in truth.items():
        if cid == "program":        # the program's truth, not a campaign
            continue
        for arm, v in gt["arms"].items():
            e = effects[(effects.campaign_id == cid) & (effects.treatment == arm)]
            assert len(e) == gt["n_assigned"] == (asg.campaign_id == cid).sum()
            if not len(e):
                continue
            assert e.conversion_lift_realized.mean() == pytest.approx(v["conversion_lift"],
                                                                      abs=1e-12)
            assert e.revenue_lift_180d_realized.mean() == pytest.approx(v["revenue_lift_180d"],
                                                                        rel=1e-9, abs=1e-6)
            # assigned arm recorded as in the assignments table
            a = asg[asg.campaign_id == cid].set_index("customer_id").arm
            assert (e.set_index("customer_id").arm == a.loc[e.customer_id]).all()
    null = effects[effects.campaign_id == "review_request"]
    assert (null.conversion_lift == 0).all() and (null.revenue_lift_180d == 0).all()


def test_effects_differ_by_customer_features(effects, small_shop_dir):
    cust = pd.read_parquet(small_shop_dir / "customers.parquet").set_index("customer_id")
    e = effects[effects.treatment == "coupon"].join(cust.acquisition_channel, on="customer_id")
    by = e.groupby("acquisition_channel").response_factor.mean()
    ch = RESPONSE_HETEROGENEITY["channel"]
    assert by.idxmax() == max(ch, key=ch.get) and by.idxmin() == min(ch, key=ch.get)
    assert e.conversion_lift.std() > 0.5 * e.conversion_lift.mean()


def test_expected_effects_equal_a_monte_carlo_over_the_message_funnel():
    shop = _Shop(2500, 24, 5, "2024-01-01")
    sim = shop.run()
    po, eff = sim.potential_outcomes, sim.effects
    rng = np.random.default_rng(0)
    checked = 0
    for rec in shop.records:
        c = shop.campaigns[rec["j"]]
        cid, j, idx, at = c["campaign_id"], rec["j"], rec["idx"], rec["at"]
        if cid not in ("welcome_coupon", "winback_lms", "birthday_coupon") or len(idx) < 50:
            continue
        ctrl = po[(po.campaign_id == cid) & (po.world == "control")]
        conv = np.zeros(len(idx))
        reps = 60
        saved = shop.cu[j]
        for _ in range(reps):
            cu = dict(saved)
            for k in ("deliver", "open", "click", "respond", "unsub", "resp_delay",
                      "unsub_delay", "click_delay"):
                cu[k] = rng.random(len(saved[k]))
            cu["open_delay"] = -np.log1p(-rng.random(len(saved["open_delay"])))
            shop.cu[j] = cu
            try:
                f = shop._funnel(j, c, idx, at)
            finally:
                shop.cu[j] = saved
            target = (shop.tr_t[idx].copy(), shop.tr_k[idx].copy(), shop.tr_h[idx].copy(),
                      shop.induced[idx].copy())
            shop._apply(dict(rec, f=f), np.full(len(idx), 1), factual=False, target=target)
            o = shop._outcomes(shop.trajectory(idx, *target), at)
            conv += o["conv"].astype(float) - ctrl.converted_7d.to_numpy().astype(float)
        mc = conv / reps
        e = eff[(eff.campaign_id == cid) & (eff.treatment == "coupon")]
        se = np.sqrt(np.mean(mc * (1 - mc)) / reps / len(idx)) + 1e-4
        fixed = e.conversion_lift_future_fixed
        assert abs(mc.mean() - fixed.mean()) < 4 * se, (cid, mc.mean(), se)
        # per customer: the Monte Carlo noise of 60 draws leaves a strong correlation
        assert np.corrcoef(mc, fixed)[0, 1] > 0.5, cid
        checked += 1
    assert checked == 3


def test_expected_conversion_effects_agree_with_realized_ones():
    sim = _Shop(8000, 24, 11, "2024-01-01").run()
    e = sim.effects[sim.effects.campaign_id != "review_request"]
    gt = sim.ground_truth
    for (cid, arm), d in e.groupby(["campaign_id", "treatment"]):
        diff = d.conversion_lift_realized - d.conversion_lift
        se = diff.std() / np.sqrt(len(d))
        assert abs(diff.mean()) < 4 * se, (cid, arm, diff.mean(), se)
        # the control conversion probability against the control world's realized rate
        c = gt[cid]["arms"][arm]["conversion_control"]
        se_c = np.sqrt(c * (1 - c) / len(d)) + 1e-3
        assert abs(d.p_convert_control.mean() - c) < 4 * se_c, (cid, arm)
        assert ((d.p_convert_control >= 0) & (d.p_convert_control <= 1)).all()
        assert (d.p_convert_treated >= d.p_convert_control - 0.05).all()


def test_response_factor_has_mean_one():
    shop = _Shop(500, 12, 1, "2024-01-01")
    shop._customers()
    f = response_multiplier(shop, np.arange(shop.n))
    assert f.mean() == pytest.approx(1.0)
    assert f.min() > 0 and f.max() / f.min() > 5
    assert P.ACQUISITION_CHANNELS == tuple(RESPONSE_HETEROGENEITY["channel"])
