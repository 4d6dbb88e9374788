"""The long-term endpoints of the campaign page (crmlab.campaign.endpoints) against the
simulator's own, independent computation of them (potential outcomes of the factual arm) and
against its truth (the effect of each arm on the page's endpoint)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from crmlab.campaign import campaign_table, evaluate
from crmlab.campaign.endpoints import endpoint_table, page_endpoint, spells


@pytest.fixture(scope="module")
def sim_shop():
    from crmlab.data.simulate import simulate_shop

    from conftest import SMALL_SHOP

    return simulate_shop(**SMALL_SHOP)


CAMPAIGNS = ["winback_lms", "birthday_coupon", "flash_sale_sms", "welcome_coupon"]


@pytest.mark.parametrize("cid", CAMPAIGNS)
def test_endpoints_agree_with_the_simulators_computation(small_shop, sim_shop, cid):
    table = campaign_table(small_shop, cid, horizon_days=180)
    ep = endpoint_table(small_shop, cid, table, 90, 180, small_shop.observation_end)
    ep = ep.assign(customer_id=table["customer_id"].to_numpy()).set_index("customer_id")
    po = sim_shop.potential_outcomes
    po = po[(po.campaign_id == cid) & (po.world == po.arm)].set_index("customer_id")
    po = po.loc[ep.index]
    assert (ep["lapsed"].to_numpy() == po["lapsed_at_assignment"].to_numpy()).all()
    np.testing.assert_allclose(ep["react_days"], po["reactivation_days"], atol=1e-6)
    assert (ep["reactivated"].to_numpy() == po["reactivated"].to_numpy()).all()
    active = ~ep["lapsed"].to_numpy()
    np.testing.assert_allclose(ep["churn_days"][active], po["churn_observed_days"][active],
                               atol=1e-6)
    assert (ep["churned"][active].to_numpy() == po["churned_observed"][active].to_numpy()).all()
    # nobody has the event at day 0 of the page's endpoint: every curve starts at 100%
    sp = spells(ep, page_endpoint(ep))
    assert (sp.loc[sp["churned"] == 1, "duration"] > 0).all()


def test_the_page_uses_one_endpoint_and_curves_start_at_one(small_shop):
    ev = evaluate(small_shop, dict(campaign_id="winback_lms", horizon_days=180,
                                   exploratory=True, exploratory_reason="test", segments=[]))
    assert ev.endpoint == "reactivation"
    assert (ev.km.loc[ev.km["day"] == 0, "retention"] == 1).all()
    assert set(ev.long_term_rates["metric"]) == {"repurchase", "reactivated_90",
                                                 "reactivated_180", "retained_reactivated"}
    ev = evaluate(small_shop, dict(campaign_id="welcome_coupon", horizon_days=180,
                                   exploratory=True, exploratory_reason="test", segments=[]))
    assert ev.endpoint == "churn"
    assert (ev.km.loc[ev.km["day"] == 0, "retention"] == 1).all()
    assert {"churned_90", "churned_180"} <= set(ev.long_term_rates["metric"])
    assert not any(m.startswith("inactive") for m in ev.long_term_rates["metric"])


def test_endpoint_effects_cover_the_truth(small_shop, small_shop_truth):
    checks = []
    for cid, g in small_shop_truth.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = evaluate(small_shop, dict(campaign_id=cid, horizon_days=180, exploratory=True,
                                           exploratory_reason="truth", segments=[]))
        key = "reactivation" if ev.endpoint == "reactivation" else "churn_observed"
        event = "reactivated" if ev.endpoint == "reactivation" else "churned"
        lt = ev.long_term.set_index("arm")
        rates = ev.long_term_rates.set_index(["metric", "arm"])
        for arm, tr in g["arms"].items():
            hr = tr[f"{key}_hazard_ratio"]
            if hr is not None and np.isfinite(lt.loc[arm, "hr_ci_low"]):
                checks.append((cid, arm, "hr", hr, lt.loc[arm, "hr_ci_low"],
                               lt.loc[arm, "hr_ci_high"]))
            for day in (90, 180):
                if (f"{event}_{day}", arm) in rates.index:
                    r = rates.loc[(f"{event}_{day}", arm)]
                    checks.append((cid, arm, f"by_{day}", tr[f"{key}_by_{day}d_lift"],
                                   r["ci_low"], r["ci_high"]))
    assert len(checks) >= 15
    misses = [c for c in checks if not (c[4] <= c[3] <= c[5])]
    allowed = int(stats.binom.ppf(0.99, len(checks), 0.05))
    assert len(misses) <= allowed, misses
