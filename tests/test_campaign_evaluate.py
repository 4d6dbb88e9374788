"""crmlab.campaign.evaluate end to end on a small synthetic campaign with known effects, the
decision rules one by one, reproducibility and the JSON safety of ``to_results``.

The synthetic shop (``write_shop``) is written to parquet and read back with ``crmlab.load``,
so the evaluation runs on a real ``CRMData``. Its truth: treated customers convert within 7
days with probability ``conv_c + conv_lift`` (control: ``conv_c``); nothing else differs.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crmlab
from crmlab.campaign import CampaignDataError, evaluate
from crmlab.campaign import narration
from crmlab.campaign.evaluation import _Spec
from crmlab.campaign.findings import build_verdict


def _verdict(s, lang, integrity, primary, lt, gr, ec, treatments, alpha, currency, n_partial):
    """The verdict (numbers) with its sentences (narration) in ``lang``."""
    v = build_verdict(s, integrity, primary, lt, gr, ec, treatments, alpha, n_partial,
                      control="control")
    v.headline, v.reasons = narration.verdict_texts(v, lang, currency)
    return v

START, OBS_END = pd.Timestamp("2024-03-01"), pd.Timestamp("2025-03-01")


def write_shop(path, n=4000, seed=0, conv_c=0.05, conv_lift=0.05, holdout=0.3,
               block_p=0.0, unsub_p=0.0, control_share_actual=None, arms=("treatment",),
               baseline_block_p=None, region_lift=None):
    rng = np.random.default_rng(seed)
    cid = np.array([f"cust-{i:05d}" for i in range(n)])
    share = holdout if control_share_actual is None else control_share_actual
    u = rng.random(n)
    k = len(arms)
    arm = np.where(u < share, "control",
                   np.array(arms)[np.minimum(((u - share) / (1 - share) * k).astype(int), k - 1)])
    at = (START + pd.to_timedelta(rng.integers(0, 5, n), unit="D") + pd.Timedelta(hours=10)
          + pd.to_timedelta(rng.uniform(0, 5 * 3600, n), unit="s")).round("s")
    treated = arm != "control"
    region = rng.choice(["Seoul", "Busan"], n)
    lift = np.full(n, conv_lift)
    for r, v in (region_lift or {}).items():
        lift[region == r] = v
    conv = rng.random(n) < conv_c + lift * treated
    parts = [pd.DataFrame({"customer_id": cid[conv],
                           "order_ts": (at[conv] + pd.to_timedelta(rng.uniform(0, 6.9, conv.sum()),
                                                                   unit="D")).round("s"),
                           "amount": rng.gamma(2, 20000, conv.sum()).round()})]
    for lo, hi in ((-200, 0), (7, 400)):
        cnt = rng.poisson((hi - lo) / 60, n)
        idx = np.repeat(np.arange(n), cnt)
        ts = (at[idx] + pd.to_timedelta(rng.uniform(lo, hi, cnt.sum()), unit="D")).round("s")
        parts.append(pd.DataFrame({"customer_id": cid[idx], "order_ts": ts,
                                   "amount": rng.gamma(2, 20000, cnt.sum()).round()}))
    orders = pd.concat(parts, ignore_index=True)
    orders = orders[orders.order_ts < OBS_END].reset_index(drop=True)
    orders.insert(0, "order_id", np.arange(len(orders)))
    customers = pd.DataFrame({
        "customer_id": cid, "signup_ts": START - pd.Timedelta(days=400),
        "consent_email": True, "consent_sms": True, "consent_push": True,
        "consent_kakao": True, "consent_night": False,
        "region": region})
    nat = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    sent = pd.Series(at).where(treated, nat)
    assignments = pd.DataFrame({
        "campaign_id": "c1", "customer_id": cid, "arm": arm, "assigned_ts": at,
        "sent_ts": sent, "delivered": pd.array(np.where(treated, rng.random(n) >= block_p, pd.NA),
                                               dtype="boolean"),
        "opened_ts": sent.where(rng.random(n) < 0.3, nat),
        "clicked_ts": sent.where(rng.random(n) < 0.1, nat),
        "unsubscribed_ts": (sent + pd.Timedelta(hours=1)).where(rng.random(n) < unsub_p, nat),
        "coupon_cost": np.where(treated & conv, 1000.0, np.nan)})
    campaigns = pd.DataFrame({
        "campaign_id": ["c1"], "name": ["Spring win-back"], "scenario": ["winback"],
        "channel": ["sms"], "cost_per_send": [15.0], "start_ts": [START],
        "end_ts": [START + pd.Timedelta(days=6)], "holdout_share": [holdout]})
    if baseline_block_p is not None:
        # an earlier SMS campaign to everyone (10% holdout): the channel's usual block rate
        t0 = START - pd.Timedelta(days=60) + pd.Timedelta(hours=11)
        treated0 = rng.random(n) >= 0.1
        assignments = pd.concat([assignments, pd.DataFrame({
            "campaign_id": "c0", "customer_id": cid, "arm": np.where(treated0, "t", "control"),
            "assigned_ts": t0, "sent_ts": pd.Series(t0, index=range(n)).where(treated0, nat),
            "delivered": pd.array(np.where(treated0, rng.random(n) >= baseline_block_p, pd.NA),
                                  dtype="boolean"),
            "opened_ts": nat, "clicked_ts": nat, "unsubscribed_ts": nat,
            "coupon_cost": np.nan})], ignore_index=True)
        campaigns = pd.concat([campaigns, pd.DataFrame({
            "campaign_id": ["c0"], "name": ["Earlier SMS"], "scenario": ["custom"],
            "channel": ["sms"], "cost_per_send": [15.0], "start_ts": [t0],
            "end_ts": [t0 + pd.Timedelta(days=1)], "holdout_share": [0.1]})], ignore_index=True)
    path.mkdir(parents=True, exist_ok=True)
    for name, df in dict(customers=customers, orders=orders, assignments=assignments,
                         campaigns=campaigns).items():
        df.to_parquet(path / f"{name}.parquet", index=False)
    (path / "meta.json").write_text(json.dumps({"observation_end": str(OBS_END),
                                                "currency": "KRW", "tz": "Asia/Seoul"}))
    return path


def spec(**kw):
    base = dict(campaign_id="c1", horizon_days=183, segments=["region"], seed=1)
    base.update(kw)
    return base


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return crmlab.load(write_shop(tmp_path_factory.mktemp("shop")))


@pytest.fixture(scope="module")
def ev(shop):
    return evaluate(shop, spec())


def test_primary_lift_covers_the_truth_and_results_follow_the_contract(ev):
    p = ev.primary.iloc[0]
    assert p["metric"] == "conversion" and p["arm"] == "treatment"
    assert p["ci_low"] < 0.05 < p["ci_high"]          # the true lift
    assert p["ci_low"] > 0                             # and it is detected
    res = ev.to_results({"seed": 1, "git_commit": "abc"})
    text = json.dumps(res, allow_nan=False)            # JSON-safe: no NaN / inf, plain types
    assert json.loads(text) == res
    for key in ("campaign_id", "title", "scenario", "channel", "start_ts", "end_ts", "status",
                "exploratory", "exploratory_reason", "report_lang", "currency", "audience",
                "verdict", "primary", "long_term", "guardrails", "economics", "integrity",
                "data_quality", "provenance"):
        assert key in res, key
    assert res["start_ts"] == "2024-03-01" and res["status"] == "ok"
    assert res["audience"]["n_total"] == 4000
    assert set(res["long_term"][0]) == {"arm", "horizon_days", "hazard_ratio", "hr_ci_low",
                                        "hr_ci_high", "rmst_diff_days", "ltv_treatment",
                                        "ltv_control", "ltv_lift", "ltv_unadjusted_lift",
                                        "ltv_ci_low", "ltv_ci_high", "p_ltv_above_min",
                                        "ltv_covariates"}
    for e in res["economics"]:                          # what the profit was adjusted for
        assert {"adjusted_for", "unadjusted_profit"} <= set(e)
    assert res["verdict"]["decision"] in {"ship", "iterate", "stop", "inconclusive"}
    assert "cust-" not in text                          # no customer identifiers


def test_no_effect_on_long_term_outcomes_is_found_where_there_is_none(ev):
    lt = ev.long_term.iloc[0]
    assert lt["hr_ci_low"] < 1 < lt["hr_ci_high"]
    assert lt["rmst_ci_low"] < 0 < lt["rmst_ci_high"]
    # the only revenue difference is the extra conversions: 0.05 x E[gamma(2, 20000)] = 2,000
    assert lt["ltv_ci_low"] < 2000 < lt["ltv_ci_high"]


def test_economics_are_profit_with_its_interval(ev):
    e = ev.economics.iloc[0]
    lt = ev.long_term.iloc[0]
    n_t = int(ev.audience.set_index("arm").loc["treatment", "n"])
    assert e["sends"] == n_t and e["send_cost"] == pytest.approx(15.0 * n_t)
    assert e["total_cost"] == pytest.approx(e["send_cost"] + e["coupon_cost"])
    assert e["incremental_revenue"] == pytest.approx(lt["ltv_lift"] * n_t)
    # the holdout costs nothing here: incremental cost = total cost
    assert e["incremental_cost"] == pytest.approx(e["total_cost"])
    assert e["incremental_profit"] == pytest.approx(0.3 * e["incremental_revenue"]
                                                    - e["total_cost"])
    assert e["profit_ci_low"] < e["incremental_profit"] < e["profit_ci_high"]
    assert 0 <= e["p_profitable"] <= 1
    assert e["break_even_lift"] == pytest.approx(e["total_cost"] / n_t / 0.3)
    # ROI = profit / cost when it is meaningful, else null with the reason
    if e["ratio_note"] is None:
        assert e["roi"] == pytest.approx(e["incremental_profit"] / e["total_cost"])
        assert e["roi_ci_low"] == pytest.approx(e["profit_ci_low"] / e["total_cost"])
        assert e["iroas"] == pytest.approx(e["incremental_revenue"] / e["total_cost"])
    else:
        assert e["ratio_note"] == "cost_below_margin_se" and np.isnan(e["roi"])
        assert e["margin_se"] > e["total_cost"]
        assert e["profit_ci_low"] <= 0 <= e["profit_ci_high"]
    res = ev.to_results({})["economics"][0]
    assert {"incremental_profit", "profit_ci_low", "profit_ci_high", "p_profitable",
            "send_cost", "coupon_cost", "total_cost"} <= set(res)


def test_p_profitable_agrees_with_the_interval():
    from crmlab.campaign.economics import (bootstrap_distribution, difference,
                                           interval_and_probability)

    rng = np.random.default_rng(5)
    for shift in (-30.0, 0.0, 15.0, 60.0):
        yt = rng.gamma(0.3, 300, 800) + shift
        yc = rng.gamma(0.3, 300, 300)
        d = bootstrap_distribution(yt, yc, n_boot=2000, seed=1)
        lo, hi, p = interval_and_probability(d, 0.05, "student")
        # the lower bound is above zero exactly when p exceeds 1 - alpha/2
        assert (lo > 0) == (p > 0.975) or abs(p - 0.975) < 2e-3
        assert (hi < 0) == (p < 0.025) or abs(p - 0.025) < 2e-3
        w = difference(yt, yc, alpha=0.05)
        assert (w["ci_low"] > 0) == (w["p"] > 0.975) and (w["ci_high"] < 0) == (w["p"] < 0.025)
        assert difference(yt, yc, alpha=0.05, threshold=w["ci_low"])["p"] == pytest.approx(0.975)


def test_integrity_and_funnel(ev):
    assert not ev.integrity["srm_flag"]
    assert ev.integrity["consent_violations"] == 0
    # every send is at 10:00-15:00 local time: no night sends
    assert ev.integrity["night_sends_without_consent"] == 0
    # no consent_events table: judged by today's customers flags, and the results say so
    integ = ev.to_results()["integrity"]
    assert integ["consent_basis"] == "current_flags" and integ["sends_without_consent"] == 0
    f = ev.funnel[ev.funnel["arm"] == "treatment"].set_index("step")["customers"]
    assert f["assigned"] >= f["sent"] >= f["delivered"] >= f["opened"] >= f["clicked"]


def test_tables_hold_aggregates_only(ev):
    for name in ("audience", "balance", "primary", "secondary", "long_term", "long_term_rates",
                 "km", "cumulative", "guardrails", "funnel", "economics", "heterogeneity",
                 "targeting"):
        assert "customer_id" not in getattr(ev, name).columns, name


def test_reproducible(shop, ev):
    again = evaluate(shop, spec())
    assert json.dumps(again.to_results({}), sort_keys=True) == json.dumps(ev.to_results({}),
                                                                         sort_keys=True)


def test_guardrail_breach_stops_and_srm_makes_it_inconclusive(tmp_path):
    # unsubscribes: compared with the holdout (zero: it receives nothing)
    data = crmlab.load(write_shop(tmp_path / "u", n=3000, seed=3, unsub_p=0.03))
    e = evaluate(data, spec(segments=[]))
    g = e.guardrails.set_index("metric").loc["unsubscribe_rate"]
    assert g["breached"] and g["value"] == pytest.approx(0.03, abs=0.01)
    assert g["control_value"] == 0 and g["ci_low"] > 0.005
    assert e.verdict.decision == "stop"
    assert any("unsubscribe rate" in r for r in e.verdict.reasons)
    # blocks: there is no earlier send on the channel -> reported, not judged
    b = e.guardrails.set_index("metric").loc["block_rate"]
    assert not b["breached"] and np.isnan(b["abs_lift"])
    assert any(n.get("code") == "block_rate_no_baseline" for n in e.notes)
    assert any("Block rate: the holdout receives no message" in narration.note_text(n, "en")
               for n in e.notes)
    # blocks against the channel's usual rate on an earlier campaign (1%): 5% is a clear breach
    data = crmlab.load(write_shop(tmp_path / "b", n=3000, seed=3, block_p=0.05,
                                  baseline_block_p=0.01))
    e = evaluate(data, spec(segments=[]))
    b = e.guardrails.set_index("metric").loc["block_rate"]
    assert b["control_value"] == pytest.approx(0.01, abs=0.006)
    assert b["value"] == pytest.approx(0.05, abs=0.015) and b["breached"]
    assert b["ci_low"] > 0.005
    assert e.verdict.decision == "stop"
    assert any("block rate" in r for r in e.verdict.reasons)
    data = crmlab.load(write_shop(tmp_path / "s", n=3000, seed=4, control_share_actual=0.4))
    e = evaluate(data, spec(segments=[], report_lang="ko"))
    assert e.integrity["srm_flag"]
    assert e.verdict.decision == "inconclusive"
    assert "SRM" in e.verdict.reasons[0] and e.lang == "ko"


def test_arm_labels_reach_results_and_must_name_arms_of_the_campaign(shop, ev, tmp_path):
    from crmlab.campaign import report
    from crmlab.experiments import SpecError

    with pytest.raises(SpecError, match="has no arm 'treatmnt'"):
        evaluate(shop, spec(arm_labels={"treatmnt": "쿠폰"}))
    import dataclasses
    labels = {"treatment": {"en": "Coupon", "ko": "쿠폰"}}
    ev = dataclasses.replace(ev, spec={**ev.spec, "arm_labels": labels})
    res = json.loads(report.write_results(ev, tmp_path / "results.json").read_text())
    assert res["audience"]["arm_labels"] == {"control": "holdout", "treatment": "Coupon"}


def test_unknown_campaign_and_missing_control(shop, tmp_path):
    with pytest.raises(CampaignDataError, match="no campaign 'nope'"):
        evaluate(shop, spec(campaign_id="nope"))


# --------------------------------------------------------------------------- decision rules
def _frames(primary=(0.02, 0.01, 0.03), ltv=(500.0, -100.0, 1100.0), p_ltv=0.95,
            profit=(50_000.0, -10_000.0, 110_000.0), p_profit=0.95, breach=False, cost=1000.0,
            decision_upper=None):
    primary_df = pd.DataFrame([dict(arm="t", metric="conversion", abs_lift=primary[0],
                                    ci_low=primary[1], ci_high=primary[2], n=1000,
                                    control_n=400, control_value=0.05)])
    lt = pd.DataFrame([dict(arm="t", ltv_lift=ltv[0], ltv_ci_low=ltv[1], ltv_ci_high=ltv[2],
                            p_ltv_above_min=p_ltv)])
    ec = pd.DataFrame([dict(arm="t", incremental_profit=profit[0], profit_ci_low=profit[1],
                            profit_ci_high=profit[2], p_profitable=p_profit, total_cost=cost,
                            send_cost=cost, coupon_cost=0.0, sends=100,
                            break_even_lift=cost / 1000 / 0.3)])
    # breach: False (within), "unclear" (interval holds the allowance) or "clear" (above it)
    lo, hi = {False: (-0.001, 0.003), "unclear": (0.0, 0.02), "clear": (0.008, 0.02)}[breach]
    st = {False: "within", "unclear": "not settled", "clear": "breached"}[breach]
    up = hi if decision_upper is None else decision_upper
    gr = pd.DataFrame([dict(arm="t", metric="unsubscribe_rate", abs_lift=0.01 if breach else 0.0,
                            ci_low=lo, ci_high=hi, threshold=0.005, state=st,
                            decision_upper=up,
                            breached={"within": False, "breached": True}.get(st), why=None),
                       dict(arm="t", metric="block_rate", abs_lift=np.nan, ci_low=np.nan,
                            ci_high=np.nan, threshold=0.05, state="not judged", breached=None,
                            why="no_channel_baseline")])
    return primary_df, lt, gr, ec


def decide(rule=None, srm=False, **kw):
    s = _Spec.of(spec(decision_rule=rule or {}))
    primary, lt, gr, ec = _frames(**kw)
    integrity = {"srm_flag": srm, "srm_p_value": 1e-6 if srm else 0.5}
    v = _verdict(s, "en", integrity, primary, lt, gr, ec, ["t"], 0.05, "KRW", 0)
    return v


def test_rule_ship_when_every_requirement_holds():
    v = decide()
    assert (v.decision, v.arm) == ("ship", "t")
    assert v.headline.startswith("Verdict: SHIP t")
    # the block rate could not be judged: said so, and it does not count either way
    assert any("block rate not judged" in r for r in v.reasons)
    # p_profitable 95% with zero inside the interval: the threshold is met, no claim it pays
    assert any("cannot tell yet whether the campaign pays" in r and "which meets the 95%" in r
               for r in v.reasons)
    assert not any("t: the campaign pays" in r for r in v.reasons)


def test_rule_iterate_when_primary_works_but_money_does_not():
    assert decide(p_profit=0.6).decision == "iterate"
    assert decide(p_ltv=0.5).decision == "iterate"
    # the threshold is the spec's
    assert decide(p_profit=0.85).decision == "iterate"
    assert decide(p_profit=0.85, rule={"min_p_profitable": 0.8}).decision == "ship"
    # without the profit requirement the same arm ships
    assert decide(p_profit=0.6, rule={"require_positive_roi": False}).decision == "ship"


def test_iterate_headline_names_the_requirements_that_fail():
    v = decide(p_profit=0.6)
    assert v.unmet == [dict(requirement="profit", min_p=0.95)]
    assert v.headline == ("Verdict: ITERATE. Conversion rose, but the data cannot show yet that "
                          "it makes a profit.")
    assert v.to_dict()["unmet_requirements"] == [dict(requirement="profit", min_p=0.95)]
    v = decide(breach="unclear")
    assert [u["requirement"] for u in v.unmet] == ["guardrail"]
    assert v.unmet[0]["metric"] == "unsubscribe_rate"      # the unjudged block rate is not named
    assert v.headline.endswith("cannot show yet that the increase in unsubscribe rate stays "
                               "within its allowance.")
    v = decide(p_profit=0.6, p_ltv=0.5, breach="unclear", rule={"min_ltv_lift": 500})
    assert [u["requirement"] for u in v.unmet] == ["profit", "ltv", "guardrail"]
    assert v.headline == (
        "Verdict: ITERATE. Conversion rose, but the data cannot show yet that it makes a profit, "
        "that revenue per customer over 183 days grew by at least ₩500, or that the increase in "
        "unsubscribe rate stays within its allowance.")
    head, _ = narration.verdict_texts(v, "ko", "KRW")
    assert head == ("결론: 개선 후 재실험. 구매 전환율은 올랐지만 이익이 나는지, 183일간 고객당 "
                    "매출이 500원 이상 늘었는지, 수신거부율 증가가 허용치 이내인지는 아직 알 수 "
                    "없습니다.")
    # the decision's flags, not its sentences: other decisions keep their headline, no unmet
    for kw, dec in ((dict(), "ship"), (dict(breach="clear"), "stop"),
                    (dict(primary=(0.004, -0.003, 0.011)), "inconclusive")):
        v = decide(**kw)
        assert v.decision == dec and v.unmet == []
        assert v.per_arm[["meets_primary", "meets_profit", "meets_ltv",
                          "meets_guardrails"]].all(axis=1).iloc[0] == (dec == "ship")


def test_rule_stop_on_harm_or_breach():
    assert decide(breach="clear").decision == "stop"
    assert decide(breach="clear", rule={"require_guardrails": False}).decision == "ship"
    # a guardrail whose interval holds the allowance blocks shipping but does not stop
    v = decide(breach="unclear")
    assert v.decision == "iterate"
    assert any("cannot tell yet whether unsubscribe rate stays within" in r for r in v.reasons)
    # ... unless its one-sided bound at the decision's confidence (95%) is within the allowance
    v = decide(breach="unclear", decision_upper=0.004)
    assert v.decision == "ship"
    assert any("within its allowance with at least 95% probability" in r for r in v.reasons)
    assert decide(primary=(-0.02, -0.03, -0.01)).decision == "stop"
    assert decide(ltv=(-900.0, -1500.0, -300.0)).decision == "stop"
    # money lost with no primary gain shown stops; with a primary gain it iterates
    lost = dict(profit=(-50_000.0, -90_000.0, -10_000.0), p_profit=0.001)
    assert decide(primary=(0.004, -0.003, 0.011), **lost).decision == "stop"
    v = decide(**lost)
    assert v.decision == "iterate" and any("loses money" in r for r in v.reasons)


def test_rule_inconclusive_says_what_would_settle_it():
    v = decide(primary=(0.004, -0.003, 0.011))
    assert v.decision == "inconclusive"
    assert "cannot tell yet whether conversion moved" in v.reasons[0]
    assert not any(w in " ".join(v.reasons) for w in (" rose ", " fell ", "t: the campaign pays"))
    # a primary effect is not required: a flat primary with money and guardrails fine ships
    assert decide(primary=(0.004, -0.003, 0.011),
                  rule={"require_primary_significant": False}).decision == "ship"
    assert decide(srm=True).decision == "inconclusive"


def test_what_would_settle_it_uses_the_power_functions():
    from crmlab.abtest import mde_proportions, sample_size_proportions
    from crmlab.campaign.decision import settle

    row = pd.Series(dict(n=1000, control_n=400, control_value=0.05, abs_lift=0.01))
    out = settle(row, "conversion", None, "t", "control", 0.05)
    assert out["mde"] == pytest.approx(float(mde_proportions(0.05, 400, ratio=2.5)))
    need = sample_size_proportions(0.05, 0.06, ratio=2.5)
    assert out["n_control_needed"] == math.ceil(float(need))
    assert out["holdout_share_needed"] is None        # 1,400 customers cannot detect +1 pp
    row = pd.Series(dict(n=20_000, control_n=2_000, control_value=0.05, abs_lift=0.01))
    out = settle(row, "conversion", None, "t", "control", 0.05)
    h = out["holdout_share_needed"]
    assert 2_000 / 22_000 < h <= 0.5
    from crmlab.abtest import power_proportions
    assert float(power_proportions(0.05, 0.06, h * 22_000, ratio=(1 - h) / h)) >= 0.8
    row = row.copy()
    row["abs_lift"] = -0.01
    assert settle(row, "conversion", None, "t", "control", 0.05)["n_control_needed"] is None


def test_exploratory_reason_is_stated():
    s = _Spec.of(spec(horizon_days=90, exploratory=True, exploratory_reason="early read"))
    primary, lt, gr, ec = _frames()
    v = _verdict(s, "en", {"srm_flag": False}, primary, lt, gr, ec, ["t"], 0.05, "KRW", 0)
    assert any("exploratory (early read)" in r for r in v.reasons)


def test_json_safe_replaces_nan_and_numpy():
    from crmlab.campaign.evaluation import _json_safe

    out = _json_safe({"a": np.float64("nan"), "b": np.int64(3), "c": [np.inf, 1.5],
                      "d": pd.Timestamp("2024-01-02"), "e": np.bool_(True)})
    assert out == {"a": None, "b": 3, "c": [None, 1.5], "d": "2024-01-02T00:00:00", "e": True}
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in out.values())


def test_sequential_design_judges_the_primary_at_the_final_boundary(shop, ev):
    from crmlab.abtest.sequential import group_sequential

    seq = evaluate(shop, spec(analysis="sequential", looks=3))
    final_p = float(group_sequential(looks=3, alpha=0.05).nominal_p[-1])
    assert seq.primary_alpha == pytest.approx(final_p) and final_p < 0.05
    # a stricter level: a wider interval around the same estimate
    p0, p1 = ev.primary.iloc[0], seq.primary.iloc[0]
    assert p1["abs_lift"] == pytest.approx(p0["abs_lift"])
    assert p1["ci_low"] < p0["ci_low"] and p1["ci_high"] > p0["ci_high"]
    assert any("Sequential design with 3 looks" in narration.note_text(n, "en")
               for n in seq.notes)


def test_segment_labels_never_read_past_the_assignment(shop, monkeypatch):
    from crmlab.campaign import evaluation
    from crmlab.campaign.table import campaign_table

    table = campaign_table(shop, "c1")
    calls = []
    real = evaluation.segment_labels

    def spy(data, as_of, segments, customer_ids=None):
        calls.append((pd.Timestamp(as_of), list(customer_ids)))
        return real(data, as_of, segments, customer_ids)

    monkeypatch.setattr(evaluation, "segment_labels", spy)
    labels, _ = evaluation.segment_labels_at_assignment(shop, table, ["region"], period_days=2)
    assigned = table.set_index("customer_id")["assigned_ts"]
    assert len(calls) >= 2                      # several assignment periods
    for as_of, ids in calls:
        assert (assigned.loc[ids] >= as_of).all()
        assert (assigned.loc[ids] - as_of).max() < pd.Timedelta(days=2)
    assert sorted(labels.index) == sorted(table["customer_id"])


def test_whom_to_target_finds_the_segment_that_responds(tmp_path):
    # the campaign works only in Seoul (conversion +50 pp, about +₩20,000 over the horizon)
    data = crmlab.load(write_shop(tmp_path / "h", n=4000, seed=5, conv_lift=0.0,
                                  region_lift={"Seoul": 0.5}))
    e = evaluate(data, spec(segments=["region"]))
    t = e.targeting.set_index("level")
    assert t.loc["Seoul", "recommendation"] == "target"
    assert t.loc["Seoul", "ltv_p_bh"] < 0.05 and t.loc["Seoul", "ltv_lift"] > 0
    assert t.loc["Busan", "recommendation"] == "unclear"
    assert t.loc["Busan", "ltv_ci_low"] < 0 < t.loc["Busan", "ltv_ci_high"]
    assert e.targeting.iloc[0]["level"] == "Seoul"          # ranked by net value
    assert "customer_id" not in e.targeting.columns


def test_figures_draw_every_arm_in_the_report_language(ev):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlab.plots import campaign as figures

    fig = figures.retention_by_arm(ev)
    ax = fig.axes[0]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"holdout", "treatment"}
    assert ax.get_xlabel() == "Days since assignment"
    fig2 = figures.cumulative_revenue_by_arm(ev)
    assert len(fig2.axes[0].lines) == 2
    fig3 = figures.lift_forest(ev)
    labels = [t.get_text() for t in fig3.axes[0].get_yticklabels()]
    assert labels[0] == "conversion" and "churned by day 90 (lower is better)" in labels
    fig4 = figures.funnel(ev)
    assert fig4.axes[0].get_title() == "Message funnel"
    plt.close("all")


@pytest.mark.parametrize("cid", ["winback_lms", "flash_sale_sms"])
def test_consent_counts_are_judged_at_send_time(small_shop, small_shop_dir, cid):
    """results.json carries the sends without consent at send time and the basis; without
    consent_events, today's flags (and the results say so)."""
    from crmlab.data.consent import consent_at_send
    from crmlab.experiments import load_spec

    spec = load_spec(Path(__file__).resolve().parents[1] / "experiments" / f"{cid}.yaml")
    res = evaluate(small_shop, spec, n_boot=50).to_results()["integrity"]
    a, c = small_shop.assignments, small_shop.campaigns
    snd = a.filter((a.campaign_id == cid) & a.sent_ts.notnull()).join(
        c.select("campaign_id", "channel"), "campaign_id")
    j = consent_at_send(snd, small_shop.tables, key=["campaign_id", "customer_id"],
                        ts="sent_ts").to_pandas()
    h = j.sent_ts.dt.hour
    assert res["consent_basis"] == "events"
    assert res["sends_without_consent"] == int((~j.consent_ok).sum())
    assert res["night_sends_without_consent"] == int(
        (((h >= 21) | (h < 8)) & ~j.night_consent_ok).sum())
    names = ("customers", "orders", "events", "campaigns", "assignments")
    flags = crmlab.load({n: pd.read_parquet(small_shop_dir / f"{n}.parquet") for n in names},
                        observation_end=small_shop.observation_end)
    ev0 = evaluate(flags, spec, n_boot=50)
    res0 = ev0.to_results()["integrity"]
    assert res0["consent_basis"] == "current_flags"
    assert res0["sends_without_consent"] >= res["sends_without_consent"]
    assert any("today's consent flags" in narration.note_text(n, "en") for n in ev0.notes)


def test_unsubscribe_interval_against_an_unsent_holdout_and_its_state(tmp_path):
    from statsmodels.stats.proportion import proportion_confint

    from crmlab.campaign.guardrails import state

    # a small holdout (about 75 customers) that receives nothing, so cannot unsubscribe
    data = crmlab.load(write_shop(tmp_path / "z", n=1500, seed=5, holdout=0.05, unsub_p=0.004))
    e = evaluate(data, spec(segments=[]))
    g = e.guardrails.set_index("metric").loc["unsubscribe_rate"]
    assert g["control_value"] == 0 and g["zero_by_design"]
    x, n = round(g["value"] * g["n"]), int(g["n"])
    lo, hi = proportion_confint(x, n, alpha=e.arm_alpha, method="wilson")
    assert g["ci_low"] >= 0 and g["ci_low"] == pytest.approx(lo, abs=1e-10)
    assert g["ci_high"] == pytest.approx(hi, abs=1e-10)
    # the state is the displayed interval's, and the decision's bound is the same interval's
    assert (g["state"], g["breached"]) == state(g["ci_low"], g["ci_high"], g["threshold"])
    alpha_d = 2 * (1 - 0.95)                # the default min_p_profitable, one treatment arm
    _, up = proportion_confint(x, n, alpha=alpha_d, method="wilson")
    assert g["decision_upper"] == pytest.approx(up, abs=1e-10)
    rec = e.to_results({})["guardrails"]
    assert [r["zero_by_design"] for r in rec if r["metric"] == "unsubscribe_rate"] == [True]
    # the p-value tests the arm's events against the known zero, as the interval does
    assert g["p_value"] == (0.0 if x > 0 else 1.0)
    assert (g["p_value"] < e.arm_alpha) == (g["ci_low"] > 0)
    assert (e.fatigue["unsubscribe_ci_low"].dropna() >= 0).all()


def test_stop_headline_names_the_harm_shown():
    from crmlab.campaign import narration

    v = decide(breach="clear")
    assert v.decision == "stop"
    assert v.harms == [dict(harm="guardrail", metric="unsubscribe_rate")]
    assert v.headline == "Verdict: STOP. The increase in unsubscribe rate is beyond its allowance."
    assert v.to_dict()["harms"] == v.harms
    assert narration.headline_text("stop", None, "ko", harms=v.harms) == \
        "결론: 중단. 수신거부율 허용치 초과가 확인되었습니다."
    # no harm listed for other decisions, and a breach that the rule ignores is not a harm
    assert decide().harms == [] and decide(breach="unclear").harms == []
    assert decide(breach="clear", rule={"require_guardrails": False}).harms == []
    several = [dict(harm="guardrail", metric="unsubscribe_rate"), dict(harm="ltv", days=183.0),
               dict(harm="primary", metric="conversion")]
    assert narration.headline_text("stop", None, "en", harms=several) == (
        "Verdict: STOP. The increase in unsubscribe rate is beyond its allowance, revenue per "
        "customer over 183 days fell, and conversion fell.")
    assert narration.headline_text("stop", None, "ko", harms=[dict(harm="loss")]) == \
        "결론: 중단. 주요 지표 개선 없는 손실이 확인되었습니다."


def test_stop_on_primary_and_ltv_harm_names_both():
    v = decide(primary=(-0.02, -0.03, -0.01), ltv=(-900.0, -1500.0, -300.0))
    assert v.decision == "stop"
    assert v.harms == [dict(harm="primary", metric="conversion"),
                       dict(harm="ltv", days=183.0)]
    assert v.headline == ("Verdict: STOP. Conversion fell and revenue per customer over 183 "
                          "days fell.")


def test_ratio_is_shown_when_imprecise_but_of_known_sign():
    from crmlab.campaign.economics import ratios

    # SE of the margin 3x the cost, profit interval above zero: shown, with its interval
    r = ratios(4.7e6, 2.6e6, 6.8e6, 1.7e7, 1.0e7, 2.4e7, 3.2e5, 9.6e5)
    assert r["ratio_note"] is None and r["roi"] == pytest.approx(4.7e6 / 3.2e5)
    assert r["roi_ci_low"] == pytest.approx(2.6e6 / 3.2e5)
    # the same precision with zero inside the interval: not meaningful
    r = ratios(1.1e7, -1.3e7, 3.5e7, 3.7e7, -4e7, 1.2e8, 3.9e4, 4e6)
    assert r["ratio_note"] == "cost_below_margin_se" and np.isnan(r["roi"])
