"""The simulator's program: the global holdout, overlapping campaigns, fatigue, and a program
truth whose two worlds are exactly what the held-out and the other customers experienced."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.data import _sim_program as PG
from crmlab.data._sim_core import DAY
from crmlab.data.simulate import simulate_shop


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_customers=2000, months=24, seed=3)


def test_holdout_is_on_no_campaign_list_during_its_period(shop):
    hp, a = shop.tables["holdout_periods"], shop.tables["assignments"]
    g = shop.ground_truth["program"]["holdout"]
    assert g["n_held_out"] == len(hp) > 0
    assert abs(len(hp) / g["n_members"] - PG.HOLDOUT["share"]) < 0.03
    m = a.merge(hp, on="customer_id")
    inside = (m.assigned_ts >= m.start_ts) & (m.assigned_ts < m.end_ts)
    assert not inside.any()
    assert (hp.end_ts > hp.start_ts).all()


def test_campaigns_overlap_in_time_and_customers(shop):
    a = shop.tables["assignments"]
    ids = [c["campaign_id"] for c in PG.CAMPAIGNS]
    per = a[a.campaign_id.isin(ids)].groupby("customer_id").campaign_id.nunique()
    assert (per == 3).sum() > 50
    days = a[a.campaign_id.isin(ids)].groupby("campaign_id").assigned_ts.min().sort_values()
    assert (days.diff().dropna() < pd.Timedelta(days=30)).all()


def test_factual_outcomes_are_the_matching_worlds(shop):
    """Held-out members live the all-held-out world, the others the no-holdout world."""
    o = shop.tables["orders"]
    hp = shop.tables["holdout_periods"]
    prog_truth = shop.ground_truth["program"]
    start = pd.Timestamp(shop.meta["start"])
    n = shop.meta["n_customers"]
    signup = ((shop.tables["customers"].signup_ts - start).dt.total_seconds()).to_numpy()
    h0 = (pd.Timestamp(prog_truth["holdout"]["start"]) - start).total_seconds()
    h1 = (pd.Timestamp(prog_truth["holdout"]["end"]) - start).total_seconds()
    entry = np.maximum(signup, h0)
    held = np.zeros(n, bool)
    held[hp.customer_id.to_numpy() - 1] = True
    sec = (o.order_ts - start).dt.total_seconds().to_numpy()
    cust = o.customer_id.to_numpy() - 1
    worlds = _worlds(shop)
    for h in PG.HORIZONS:
        pop = (signup < h1) & (entry + h * DAY <= h1)
        ok = (sec >= entry[cust]) & (sec < entry[cust] + h * DAY)
        rev = np.bincount(cust[ok], weights=o.amount.to_numpy()[ok], minlength=n)
        want = np.where(held, worlds["all"][h]["revenue"], worlds["none"][h]["revenue"])
        np.testing.assert_allclose(rev[pop], want[pop], atol=1e-6)
        t = prog_truth["horizons"][str(h)]
        assert t["n_customers"] == int(pop.sum())
        assert t["revenue_lift"] == pytest.approx(
            np.mean(worlds["none"][h]["revenue"][pop] - worlds["all"][h]["revenue"][pop]))
        assert t["messages_holdout"] == 0 and t["cost_holdout"] == 0
        assert t["messages_crm"] > 0


def _worlds(shop):
    """Recompute the two worlds of the program truth (the shop keeps only the summary)."""
    from crmlab.data.simulate import _Shop

    s = _Shop(shop.meta["n_customers"], shop.meta["months"], shop.meta["seed"],
              shop.meta["start"][:10], True)
    s.run()
    return s.prog.worlds


def test_truth_records_fatigue_and_the_planted_interaction(shop):
    t = shop.ground_truth["program"]
    assert t["fatigue"]["unsubscribe_per_message"] == PG.FATIGUE["unsubscribe_per_message"]
    assert t["interactions"]["season_sale_push"]["with"] == "season_sale_kakao"
    assert {"revenue_lift_180d", "revenue_lift_365d"} <= set(t)


def test_program_off_gives_six_campaigns_and_no_holdout():
    s = simulate_shop(n_customers=400, months=12, seed=1, program=False)
    assert "holdout_periods" not in s.tables and "program" not in s.ground_truth
    assert s.tables["campaigns"].campaign_id.nunique() == 6


def test_the_kakao_worlds_carry_the_push_response_they_cause(shop, monkeypatch):
    """The push does nothing for a customer delivered the Kakao coupon (the planted
    interaction). So in the Kakao campaign's worlds the push responses are those of each world:
    in the holdout world every push-treated customer may respond, in the coupon world those
    delivered the coupon do not. Held at their factual values instead (the counterfactual the
    experiment does not measure), the Kakao truth comes out higher; the push's own truth and the
    factual outcomes do not change."""
    po = shop.potential_outcomes
    monkeypatch.setattr(PG.Program, "world_responses", lambda self, rec, w_no, induced: None)
    held = simulate_shop(n_customers=2000, months=24, seed=3).potential_outcomes

    def lift(p, cid, arm):
        g = p[p.campaign_id == cid].set_index(["world", "customer_id"]).sort_index()
        return float((g.loc[arm, "revenue_180d"] - g.loc["control", "revenue_180d"]).mean())

    kakao, kakao_held = lift(po, "season_sale_kakao", "coupon"), \
        lift(held, "season_sale_kakao", "coupon")
    assert kakao < kakao_held
    push = [c for c in PG.CAMPAIGNS if c["campaign_id"] == "season_sale_push"][0]
    arm = next(iter(push["arms"]))
    assert lift(po, "season_sale_push", arm) == lift(held, "season_sale_push", arm)
    # the factual world is the same either way
    f = po[po.world == po.arm].sort_values(["campaign_id", "customer_id"]).reset_index(drop=True)
    fh = held[held.world == held.arm].sort_values(["campaign_id", "customer_id"]).reset_index(
        drop=True)
    np.testing.assert_array_equal(f["revenue_180d"].to_numpy(), fh["revenue_180d"].to_numpy())
