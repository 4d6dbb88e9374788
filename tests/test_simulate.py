"""The shop simulator: determinism, the data contract, realism, and a ground truth that matches
the simulated outcomes.

The ground-truth checks recompute every outcome from the written files with a plain, loop-based
reference implementation of the shared definitions (docs/architecture.md), independent of the
simulator's vectorised code, and check Pareto/NBD mechanics against the model's closed-form
expectation (Schmittlein, Morrison & Colombo 1987; Fader & Hardie's note "A Note on Deriving the
Pareto/NBD Model and Related Expressions", 2005, eq. 17: E[X(t)] = r*beta/(alpha*(s-1)) *
(1 - (beta/(beta+t))**(s-1))).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crmlab.data import _sim_params as P
from crmlab.data import _sim_program as PG
from crmlab.data._sim_core import DAY, churn_survival, cox_hazard_ratio
from crmlab.data.schema import CONTRACT, SCENARIOS
from crmlab.data.simulate import _Shop, simulate, simulate_shop

from conftest import SMALL_SHOP

FILES = ("customers.parquet", "orders.parquet", "events.parquet", "campaigns.parquet",
         "assignments.parquet", "consent_events.parquet", "holdout_periods.parquet", "meta.json",
         "ground_truth.json", "ground_truth_effects.parquet")


def _campaigns(truth: dict) -> dict:
    """The campaigns' entries of ground_truth.json (``program`` holds the program's truth)."""
    return {k: v for k, v in truth.items() if k != "program"}


@pytest.fixture(scope="module")
def shop():
    """The conftest's small shop, in memory (same arguments, so the same data)."""
    return simulate_shop(**SMALL_SHOP)


@pytest.fixture(scope="module")
def files(small_shop_dir):
    d = Path(small_shop_dir)
    return {name: pd.read_parquet(d / f"{name}.parquet") for name in CONTRACT}


# ------------------------------------------------------------------------------ determinism


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = simulate(tmp_path / "a", n_customers=800, months=14, seed=11)
    b = simulate(tmp_path / "b", n_customers=800, months=14, seed=11)
    for f in FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    c = simulate(tmp_path / "c", n_customers=800, months=14, seed=12)
    assert (a / "orders.parquet").read_bytes() != (c / "orders.parquet").read_bytes()


def test_in_memory_shop_is_what_is_written(shop, small_shop_dir):
    from crmlab.data.simulate import _to_arrow

    for name, df in shop.tables.items():
        mem = _to_arrow(name, df)
        disk = pq.read_table(Path(small_shop_dir) / f"{name}.parquet")
        assert disk.replace_schema_metadata(None).equals(mem.replace_schema_metadata(None)), name


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="months must be at least 12"):
        simulate(tmp_path, n_customers=500, months=6)
    with pytest.raises(ValueError, match="n_customers must be at least 100"):
        simulate(tmp_path, n_customers=10)


# ------------------------------------------------------------------------------ contract


def test_files_follow_the_contract(small_shop_dir):
    d = Path(small_shop_dir)
    assert sorted(p.name for p in d.iterdir()) == sorted(FILES)
    arrow = {"id": ("int64", "string"), "timestamp": ("timestamp[us]",), "date": ("date32[day]",),
             "float64": ("double",), "int64": ("int64",), "boolean": ("bool",),
             "string": ("string",)}
    for name, spec in CONTRACT.items():
        schema = pq.read_schema(d / f"{name}.parquet")
        for col in spec.columns:
            assert col.name in schema.names, f"{name}.{col.name} missing"
            assert str(schema.field(col.name).type) in arrow[col.dtype], (name, col.name)
            assert schema.field(col.name).type.__class__.__name__ != "TimestampType" or \
                schema.field(col.name).type.tz is None, f"{name}.{col.name} must be naive"


def test_meta(small_shop_dir):
    meta = json.loads((Path(small_shop_dir) / "meta.json").read_text())
    assert meta["observation_end"] == "2026-01-01T00:00:00"
    assert meta["currency"] == "KRW" and meta["tz"] == "Asia/Seoul"
    assert meta["parameters"]["pareto_nbd"] == P.PARETO_NBD
    assert meta["parameters"]["gamma_gamma"] == P.GAMMA_GAMMA


def test_keys_values_and_the_loader(files, small_shop):
    o, a, c = files["orders"], files["assignments"], files["campaigns"]
    assert o.order_id.is_unique and files["customers"].customer_id.is_unique
    assert not a.duplicated(["campaign_id", "customer_id"]).any()
    assert set(files["events"].event_type) == set(CONTRACT["events"].column("event_type").allowed)
    assert (o.loc[o.is_refund, "amount"] < 0).all() and (o.loc[~o.is_refund, "amount"] > 0).all()
    assert set(c.channel) <= set(CONTRACT["campaigns"].column("channel").allowed)
    # control rows are never sent; treatment rows always are
    ctrl = a.arm == "control"
    assert a.loc[ctrl, "sent_ts"].isna().all() and a.loc[~ctrl, "sent_ts"].notna().all()
    assert (a.sent_ts.dropna() >= a.loc[a.sent_ts.notna(), "assigned_ts"]).all()
    # the loader accepts the shop; the ledger finds the deliberate faults and nothing else
    q = small_shop.quality.set_index("check")["rows"]
    flagged = q[q > 0]
    assert set(flagged.index) == {"send without consent for the channel",
                                  "advertising send 21:00–08:00 without night consent"}, flagged


# ------------------------------------------------------------------------------ realism


def test_customer_base_is_plausible(files):
    cu, o = files["customers"], files["orders"]
    pos = o[~o.is_refund]
    per = pos.groupby("customer_id").size()
    buyers = len(per) / len(cu)
    assert 0.5 < buyers < 0.8                       # the rest stay "potential"
    one_time = (per == 1).mean()
    assert 0.3 < one_time < 0.7, one_time
    first = pos.groupby("customer_id").order_ts.min()
    signup = cu.set_index("customer_id").signup_ts.reindex(first.index)
    assert (first > signup).all()                   # sign-up precedes the first purchase
    # inter-purchase times: right-skewed, median weeks not days or years
    ipt = (pos.sort_values(["customer_id", "order_ts"]).groupby("customer_id").order_ts.diff()
           .dt.total_seconds().dropna() / DAY)
    q10, q50, q90 = ipt.quantile([0.1, 0.5, 0.9])
    assert 1 < q50 < 60 and q10 < q50 / 3 and q90 > 2.5 * q50, (q10, q50, q90)
    # typical order 30,000-80,000 KRW; refunds about 2% of orders
    assert 30_000 <= pos.amount.median() <= 80_000
    share = o.is_refund.sum() / len(pos)
    se = np.sqrt(P.REFUND_PROBABILITY * (1 - P.REFUND_PROBABILITY) / len(pos))
    assert abs(share - P.REFUND_PROBABILITY) < 4 * se + 0.003
    # evenings are busier than the small hours
    h = pos.order_ts.dt.hour
    assert (h.isin([20, 21, 22])).mean() > 5 * (h.isin([3, 4, 5])).mean()
    # consents near their rates
    for k, rate in P.CONSENT_RATE.items():
        assert abs(cu[f"consent_{k}"].mean() - rate) < 0.05, k


def test_events_precede_purchases(files):
    o = files["orders"]
    e = files["events"]
    pos = o[~o.is_refund][["customer_id", "order_ts"]].sort_values("order_ts")
    carts = e[e.event_type == "cart_add"][["customer_id", "event_ts"]].sort_values("event_ts")
    m = pd.merge_asof(pos, carts, left_on="order_ts", right_on="event_ts", by="customer_id",
                      direction="backward")
    gap = (m.order_ts - m.event_ts).dt.total_seconds() / DAY
    assert gap.notna().all() and (gap >= 0).all()
    assert (gap < 1 / 24).mean() > 0.5              # most carts are filled in the same session
    # plenty of browsing without purchase
    assert (e.event_type == "visit").sum() > 3 * len(pos)


def test_pareto_nbd_mechanics_match_closed_form():
    """Without campaigns, repeat purchases follow E[X(t)] of the Pareto/NBD (see module doc)."""
    s = _Shop(20_000, 24, 5, "2024-01-01")
    s._customers()
    tr = s.current()
    first = tr["s0"]
    buyers = first < s.T
    t = s.T - first[buyers]
    pn = P.PARETO_NBD
    r, alpha, sh, beta = pn["r"], pn["alpha"], pn["s"], pn["beta"]
    expected = r * beta / (alpha * (sh - 1)) * (1 - (beta / (beta + t)) ** (sh - 1))
    repeats = np.bincount(tr["owner"][tr["kind"] == 2], minlength=len(first))[buyers]
    # sampling error of the mean: heavy-tailed counts, so a generous 4 SE
    se = repeats.std() / np.sqrt(len(repeats))
    assert abs(repeats.mean() - expected.mean()) < 4 * se, (repeats.mean(), expected.mean(), se)


# ------------------------------------------------------------------------------ campaigns


def test_every_scenario_and_at_least_six_months_after(files):
    c, a = files["campaigns"], files["assignments"]
    assert set(SCENARIOS) - {"custom"} <= set(c.scenario)
    assert c.channel.nunique() >= 5
    obs_end = pd.Timestamp("2026-01-01")
    assert ((obs_end - c.end_ts).dt.days >= 183).all()
    assert ((obs_end - a.assigned_ts).dt.days >= 183).all()
    m = a.merge(c[["campaign_id", "start_ts", "end_ts"]], on="campaign_id")
    assert ((m.assigned_ts >= m.start_ts) & (m.assigned_ts <= m.end_ts)).all()
    assert (c.holdout_share.between(0.1, 0.5)).all()
    arms = a.groupby("campaign_id").arm.nunique()
    assert (arms >= 2).all() and (arms == 3).sum() >= 1
    assert (a.groupby("campaign_id").arm.apply(lambda s: (s == "control").any())).all()


def test_holdout_shares_within_binomial_error(files):
    c = files["campaigns"].set_index("campaign_id")
    for cid, g in files["assignments"].groupby("campaign_id"):
        h = c.loc[cid, "holdout_share"]
        n = len(g)
        share = (g.arm == "control").mean()
        assert abs(share - h) < 3.5 * np.sqrt(h * (1 - h) / n), (cid, share, h, n)


def test_unsubscribes_cost_consent_and_later_sends(files):
    a, cu = files["assignments"], files["customers"].set_index("customer_id")
    blast = a[(a.campaign_id == "flash_sale_sms") & (a.delivered == True)]  # noqa: E712
    rate = blast.unsubscribed_ts.notna().mean()
    p = P.CAMPAIGNS[2]["arms"]["sms"]["unsub"]
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / len(blast))
    gone = blast.loc[blast.unsubscribed_ts.notna(), ["customer_id", "unsubscribed_ts"]]
    # the unsubscribe withdraws the SMS consent; some grant it again later
    ev = files["consent_events"]
    sms = ev[(ev.channel == "sms") & (ev.kind == "marketing")].merge(gone, on="customer_id")
    assert len(sms[(sms.event_ts == sms.unsubscribed_ts) & ~sms.granted]) == len(gone)
    regranted = set(sms.customer_id[(sms.event_ts > sms.unsubscribed_ts) & sms.granted])
    assert len(regranted) < 0.4 * len(gone)
    assert not cu.loc[list(set(gone.customer_id) - regranted), "consent_sms"].any()
    # the later win-back LMS (SMS consent) reaches them only through its stale list or after a
    # new grant
    wb = a[(a.campaign_id == "winback_lms") & a.customer_id.isin(gone.customer_id)]
    assert len(wb) <= max(2, 0.1 * len(gone))


# ------------------------------------------------------------------------------ ground truth


def _reference_outcomes(files, cid):
    """Per assigned customer: 7-day conversion, 180-day revenue and the churn survival, computed
    with a plain loop over each customer's orders (the shared definitions)."""
    a = files["assignments"][files["assignments"].campaign_id == cid]
    o = files["orders"]
    by = {k: g.sort_values("order_ts") for k, g in o[o.customer_id.isin(a.customer_id)]
          .groupby("customer_id")}
    end_obs = pd.Timestamp("2026-01-01")
    rows = []
    for cust, t0 in zip(a.customer_id, a.assigned_ts):
        g = by.get(cust, o.iloc[:0])
        w7 = g[(g.order_ts >= t0) & (g.order_ts < t0 + pd.Timedelta(days=7))]
        w180 = g[(g.order_ts >= t0) & (g.order_ts < t0 + pd.Timedelta(days=180))]
        end = min(end_obs, t0 + pd.Timedelta(days=180))
        buys = [t for t, amt in zip(g.order_ts, g.amount) if amt > 0 and t0 < t < end]
        anchors = [t0] + buys
        dur, churned = (end - t0).total_seconds(), 0
        for i, anc in enumerate(anchors):
            nxt = anchors[i + 1] if i + 1 < len(anchors) else None
            if (nxt is None or nxt > anc + pd.Timedelta(days=90)) and \
                    anc + pd.Timedelta(days=90) <= end:
                dur, churned = (anc - t0).total_seconds(), 1
                break
        rows.append({"customer_id": cust, "arm": a.arm[a.customer_id == cust].iloc[0],
                     "converted_7d": bool((w7.amount > 0).any()),
                     "revenue_180d": float(w180.amount.sum()),
                     "churn_duration_days": dur / DAY, "churned": churned})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("cid", [c["campaign_id"] for c in P.CAMPAIGNS + PG.CAMPAIGNS])
def test_observed_outcomes_are_the_assigned_arms_potential_outcomes(shop, files, cid):
    ref = _reference_outcomes(files, cid).set_index("customer_id").sort_index()
    po = shop.potential_outcomes
    po = po[(po.campaign_id == cid) & (po.world == po.arm)].set_index("customer_id").sort_index()
    assert len(po) == len(ref)
    assert (po.converted_7d.astype(bool) == ref.converted_7d).all()
    np.testing.assert_allclose(po.revenue_180d, ref.revenue_180d, rtol=0, atol=1e-6)
    np.testing.assert_allclose(po.churn_duration_days, ref.churn_duration_days, atol=1e-9)
    assert (po.churned.astype(int) == ref.churned).all()


@pytest.mark.parametrize("cid", [c["campaign_id"] for c in P.CAMPAIGNS])
def test_potential_costs_are_the_recorded_costs_in_the_assigned_world(shop, files, cid):
    """Each customer's send and coupon cost in the world of their own arm is what the
    assignments table records (coupon_cost; cost_per_send for every treated send); the
    recorded cost per customer is the mean over all assigned customers of their arm's world."""
    a = files["assignments"]
    a = a[a.campaign_id == cid].set_index("customer_id").sort_index()
    cost = files["campaigns"].set_index("campaign_id").loc[cid, "cost_per_send"]
    po = shop.potential_outcomes
    g = po[po.campaign_id == cid]
    obs = g[g.world == g.arm].set_index("customer_id").sort_index()
    np.testing.assert_allclose(obs.coupon_cost, a.coupon_cost.fillna(0.0), atol=1e-9)
    np.testing.assert_allclose(obs.send_cost, np.where(a.sent_ts.notna(), cost, 0.0))
    for arm, eff in shop.ground_truth[cid]["arms"].items():
        w = g[g.world == arm]
        assert eff["cost_per_customer"] == pytest.approx(
            (w.send_cost + w.coupon_cost).mean(), rel=1e-12, abs=1e-12)
    assert (g.loc[g.world == "control", ["send_cost", "coupon_cost"]] == 0).all().all()


def test_churn_outcomes_agree_with_crmlab_churn(shop, files):
    """The simulator's survival outcomes are those of crmlab.churn.survival_table (the shared
    definition), for the factual arm of every assigned customer."""
    from crmlab.churn import survival_table

    for cid in ("winback_lms", "flash_sale_sms"):
        a = files["assignments"][files["assignments"].campaign_id == cid]
        st = survival_table(files["orders"], "2026-01-01", churn_after_days=90,
                            start="assignment", assignments=a, horizon_days=180)
        po = shop.potential_outcomes
        po = po[(po.campaign_id == cid) & (po.world == po.arm)].set_index("customer_id")
        st = st.reindex(po.index)
        np.testing.assert_allclose(st.duration, po.churn_duration_days, atol=1e-9)
        assert (st.churned.to_numpy() == po.churned.to_numpy()).all()


def test_recorded_effects_are_the_potential_outcome_differences(shop, small_shop_truth):
    po = shop.potential_outcomes
    assert small_shop_truth == _campaigns(json.loads(json.dumps(shop.ground_truth)))
    for cid, gt in _campaigns(small_shop_truth).items():
        assert {"scenario", "channel", "arms", "params", "conversion_lift",
                "churn_hazard_ratio", "revenue_lift_180d"} <= set(gt)
        g = po[po.campaign_id == cid]
        ctrl = g[g.world == "control"].set_index("customer_id").sort_index()
        for arm, eff in gt["arms"].items():
            t = g[g.world == arm].set_index("customer_id").sort_index()
            assert eff["conversion_lift"] == pytest.approx(
                (t.converted_7d.astype(float) - ctrl.converted_7d).mean(), abs=1e-12)
            assert eff["revenue_lift_180d"] == pytest.approx(
                (t.revenue_180d - ctrl.revenue_180d).mean(), rel=1e-9, abs=1e-6)
            hr = cox_hazard_ratio(t.churn_duration_days.to_numpy(), t.churned.to_numpy(),
                                  ctrl.churn_duration_days.to_numpy(), ctrl.churned.to_numpy())
            assert eff["churn_hazard_ratio"] == pytest.approx(hr, rel=1e-9)
        first = next(iter(gt["arms"].values()))
        assert gt["conversion_lift"] == first["conversion_lift"]


def test_observed_difference_is_within_a_few_standard_errors(shop, files, small_shop_truth):
    """Randomization makes the observed treatment-control difference an unbiased estimate of
    the recorded (sample) effect."""
    po = shop.potential_outcomes
    for cid, gt in _campaigns(small_shop_truth).items():
        obs = po[(po.campaign_id == cid) & (po.world == po.arm)]
        y0 = obs[obs.arm == "control"].converted_7d.astype(float)
        for arm, eff in gt["arms"].items():
            y1 = obs[obs.arm == arm].converted_7d.astype(float)
            diff = y1.mean() - y0.mean()
            se = np.sqrt(y1.var(ddof=1) / len(y1) + max(y0.var(ddof=1), 1e-4) / len(y0))
            assert abs(diff - eff["conversion_lift"]) < 4 * se, (cid, arm, diff, eff, se)


def test_designed_effects_show_in_the_truth(small_shop_truth):
    gt = small_shop_truth
    null = gt["review_request"]
    assert null["conversion_lift"] == 0 and null["revenue_lift_180d"] == 0
    assert null["churn_hazard_ratio"] == 1.0
    for cid in ("welcome_coupon", "winback_lms", "birthday_coupon"):
        assert gt[cid]["conversion_lift"] > 0
    assert gt["winback_lms"]["churn_hazard_ratio"] < 1
    arms = gt["cart_reminder"]["arms"]
    assert set(arms) == {"reminder", "reminder_coupon"}


def test_harmful_campaign_hurts_at_scale():
    """The SMS blast: a small conversion lift, but unsubscribes raise churn and cost revenue."""
    gt = simulate_shop(n_customers=12_000, months=24, seed=2).ground_truth["flash_sale_sms"]
    assert gt["conversion_lift"] > 0
    assert gt["churn_hazard_ratio"] > 1
    assert gt["revenue_lift_180d"] < 0


# ------------------------------------------------------------------------------ survival definition


def test_churn_survival_matches_the_definition_on_edge_cases():
    C, H = 90 * DAY, 180 * DAY
    t0 = np.array([0, 0, 0, 0, 0, 10 * DAY])
    end = t0 + H
    # customer 0: no purchase -> churns at t0
    # customer 1: buys at day 90 exactly (not later than t0 + C) then never -> churns at day 90
    # customer 2: buys at day 91 -> churned at t0 (gap > C)
    # customer 3: buys every 60 days -> censored at 180
    # customer 4: buys at day 95 -> churn at t0; purchase at day 100 after that irrelevant
    # customer 5: t0 = day 10, buys at day 100 (exactly C later, so no churn at t0), then
    #             nothing: anchor day 100 + C = day 190 = end -> churns 90 days after t0
    owner = np.array([1, 2, 3, 3, 3, 4, 4, 5])
    ts = np.array([90, 91, 60, 120, 179, 95, 100, 100]) * DAY
    dur, ev = churn_survival(t0, end, owner, ts, C)
    assert list(ev) == [1, 1, 1, 0, 1, 1]
    assert list(dur // DAY) == [0, 90, 0, 180, 0, 90]


# ------------------------------------------------------------------------------ demo_data


def test_demo_data_caches_and_loads(tmp_path, monkeypatch):
    from crmlab.datasets import demo_data, demo_data_dir

    monkeypatch.setenv("CRMLAB_DEMO_CUSTOMERS", "300")
    d = demo_data_dir(path=tmp_path / "shop")
    meta = json.loads((d / "meta.json").read_text())
    assert meta["n_customers"] == 300
    mtime = (d / "orders.parquet").stat().st_mtime_ns
    data = demo_data(path=tmp_path / "shop")
    assert (d / "orders.parquet").stat().st_mtime_ns == mtime       # read from the cache
    assert data.currency == "KRW" and str(data.observation_end) == "2026-01-01 00:00:00"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left over
    # the cache base: $CRMLAB_DATA_DIR, named by size and seed
    monkeypatch.setenv("CRMLAB_DATA_DIR", str(tmp_path / "base"))
    assert demo_data_dir(seed=4) == tmp_path / "base" / "demo-300-s4"
    with pytest.raises(ValueError, match="does not hold the simulated shop of 301"):
        demo_data_dir(n_customers=301, path=d)
    monkeypatch.setenv("CRMLAB_DEMO_CUSTOMERS", "many")
    with pytest.raises(ValueError, match="CRMLAB_DEMO_CUSTOMERS"):
        demo_data_dir(path=tmp_path / "x")


def test_demo_data_default_location(tmp_path, monkeypatch):
    from crmlab.datasets import _repo_root

    proj = tmp_path / "proj"
    (proj / "notebooks").mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[project]\nname = "crmlab"\n')
    assert _repo_root(proj / "notebooks") == proj
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "something"\n')
    assert _repo_root(other) is None


def test_demo_data_survives_a_race(tmp_path, monkeypatch):
    """Another process finishing first: the rename fails, the finished shop is used."""
    import os

    import crmlab.datasets as ds

    theirs = simulate(tmp_path / "theirs", n_customers=200, months=12, seed=0)
    target = tmp_path / "shop"
    real_rename = os.rename

    def rename(src, dst):
        real_rename(theirs, dst)           # the other process got there first
        raise OSError("Directory not empty")

    monkeypatch.setattr(ds.os, "rename", rename)
    monkeypatch.setattr(ds, "_complete", lambda d, n, seed: (Path(d) / "meta.json").exists()
                        and json.loads((Path(d) / "meta.json").read_text())["n_customers"] == n)
    assert ds.demo_data_dir(n_customers=200, path=target) == target
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_tiny_shop_is_still_valid(tmp_path):
    """Few customers: campaigns may be nearly empty, but every campaign with assignments keeps a
    holdout, the JSON is strict, and the loader accepts the data."""
    import crmlab

    d = simulate(tmp_path, n_customers=150, months=12, seed=1)
    truth = json.loads((d / "ground_truth.json").read_text(),
                       parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    a = pd.read_parquet(d / "assignments.parquet")
    assert a.groupby("campaign_id").arm.apply(lambda s: (s == "control").any()).all()
    for cid, gt in _campaigns(truth).items():
        if gt["n_assigned"] == 0:
            assert gt["conversion_lift"] is None
    crmlab.load(d)


def test_cli_simulate(tmp_path, capsys):
    from crmlab.cli import main

    assert main(["simulate", "--customers", "300", "--months", "12", "--seed", "2",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "customers 300" in out and "winback_lms / coupon" in out
    assert main(["simulate", "--customers", "300", "--months", "6", "--out",
                 str(tmp_path / "x")]) == 2
    assert "months must be at least 12" in capsys.readouterr().err


def test_campaign_triggers_are_visible_in_the_data(files):
    """An analyst can rebuild every campaign's eligibility from the written tables."""
    a, o, e = files["assignments"], files["orders"], files["events"]
    cu = files["customers"].set_index("customer_id")
    pos = o[~o.is_refund]
    H = pd.Timedelta(hours=1)

    def last_before(g):
        m = g.merge(pos[["customer_id", "order_ts"]], on="customer_id", how="left")
        m = m[m.order_ts < m.assigned_ts]
        return m.groupby("customer_id").order_ts.max().reindex(g.customer_id)

    # cart reminder: a cart add 3 hours before, and no purchase since
    g = a[a.campaign_id == "cart_reminder"][["customer_id", "assigned_ts"]]
    carts = e[e.event_type == "cart_add"][["customer_id", "event_ts"]]
    m = g.merge(carts, on="customer_id")
    hit = m[m.event_ts == m.assigned_ts - 3 * H]
    assert set(hit.customer_id) == set(g.customer_id)
    lb = last_before(g)
    assert ((lb.isna()) | (lb.to_numpy() < g.assigned_ts.to_numpy() - 3 * H)).all()
    # welcome coupon: no purchase before, assigned 7 days after sign-up
    g = a[a.campaign_id == "welcome_coupon"][["customer_id", "assigned_ts"]]
    assert last_before(g).isna().all()
    days = (g.assigned_ts.dt.normalize() - cu.loc[g.customer_id, "signup_ts"].dt.normalize()
            .to_numpy()).dt.days
    assert (days == 7).all()
    # win-back: a buyer whose last purchase is at least 90 days old
    g = a[a.campaign_id == "winback_lms"][["customer_id", "assigned_ts"]]
    lb = last_before(g)
    assert lb.notna().all() and (lb.to_numpy() < g.assigned_ts.to_numpy()
                                 - pd.Timedelta(days=90)).all()
    # review request: a purchase three days before the request's day
    g = a[a.campaign_id == "review_request"][["customer_id", "assigned_ts"]]
    m = g.merge(pos[["customer_id", "order_ts"]], on="customer_id")
    ok = m[(m.assigned_ts.dt.normalize() - m.order_ts.dt.normalize()).dt.days == 3]
    assert set(ok.customer_id) == set(g.customer_id)
    # birthday coupon: on the birthday
    g = a[a.campaign_id == "birthday_coupon"]
    bd = pd.to_datetime(cu.loc[g.customer_id, "birth_date"])
    same = (bd.dt.month.to_numpy() == g.assigned_ts.dt.month.to_numpy()) & (
        (bd.dt.day.to_numpy() == g.assigned_ts.dt.day.to_numpy())
        | ((bd.dt.month.to_numpy() == 2) & (bd.dt.day.to_numpy() == 29)))
    assert same.all()


# ------------------------------------------------------------------------------ mechanics


def test_diurnal_warp_round_trips_and_follows_the_hourly_weights():
    from crmlab.data._sim_core import HOURLY_WEIGHTS, DiurnalWarp

    w = DiurnalWarp()
    x = np.random.default_rng(0).uniform(0, 30, 200_000)
    wall = w.to_wall(x)
    np.testing.assert_allclose(w.to_model(wall), x, atol=1e-9)
    assert (np.floor(wall) == np.floor(x)).all()            # never leaves its day
    hours = np.floor((wall % 1) * 24).astype(int)
    share = np.bincount(hours, minlength=24) / len(hours)
    np.testing.assert_allclose(share, HOURLY_WEIGHTS / HOURLY_WEIGHTS.sum(), atol=0.004)


def test_ragged_points_are_a_unit_poisson_process():
    from scipy import stats

    from crmlab.data._sim_core import ragged_points

    caps = np.full(20_000, 4.0)
    ptr, vals = ragged_points(np.random.default_rng(1), caps)
    counts = np.diff(ptr)
    assert abs(counts.mean() - 4.0) < 4 * np.sqrt(4.0 / len(caps))
    assert abs(counts.var() - 4.0) < 0.2                     # Poisson: variance = mean
    owner = np.repeat(np.arange(len(caps)), counts)
    assert (np.diff(vals)[owner[1:] == owner[:-1]] > 0).all()  # sorted within each owner
    assert stats.kstest(vals / 4.0, "uniform").pvalue > 0.001


def test_piecewise_inverse_matches_numerical_integration():
    from crmlab.data._sim_core import piecewise_cumulative, piecewise_inverse

    bounds = np.array([[0.0, 2.0, 5.0, 1e9], [1.0, 1.0, 3.0, 1e9]])
    rates = np.array([[0.5, 2.0, 1.0], [9.0, 0.25, 3.0]])
    cum = piecewise_cumulative(bounds, rates)
    owner = np.array([0, 0, 0, 1, 1])
    target = np.array([0.5, 1.0, 7.5, 0.4, 2.0])
    t = piecewise_inverse(bounds, rates, cum, owner, target)
    grid = np.linspace(0, 20, 2_000_001)
    for o, tg, ti in zip(owner, target, t):
        rate = np.select([grid < bounds[o, 1], grid < bounds[o, 2]], rates[o, :2], rates[o, 2])
        rate = np.where(grid < bounds[o, 0], 0.0, rate)
        integral = np.concatenate([[0], np.cumsum(rate[:-1] * np.diff(grid))])
        assert ti == pytest.approx(np.interp(tg, integral, grid), abs=1e-4)


def test_demo_data_replaces_a_shop_from_another_simulator_version(tmp_path):
    from crmlab.data.simulate import generator_fingerprint
    from crmlab.datasets import demo_data_dir

    d = simulate(tmp_path / "shop", n_customers=200, months=12, seed=0)
    meta = json.loads((d / "meta.json").read_text())
    assert meta["generator_fingerprint"] == generator_fingerprint()
    meta["generator_fingerprint"] = "0" * 16                 # written by an older version
    (d / "meta.json").write_text(json.dumps(meta))
    assert demo_data_dir(n_customers=200, path=d) == d
    assert json.loads((d / "meta.json").read_text())["generator_fingerprint"] == \
        generator_fingerprint()
    assert [p.name for p in tmp_path.iterdir()] == ["shop"]   # nothing left over
