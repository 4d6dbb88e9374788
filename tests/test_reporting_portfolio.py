"""The portfolio page (crmlab.reporting.portfolio) from results.json files written by hand:
every reason, the decisive one first; profit with its interval and probability when the
evaluation gives them, a graceful fallback when it does not; cost; guardrail states;
compliance; the latest failure; both languages."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crmlab import i18n
from crmlab.reporting import portfolio

REASONS = [f"reason number {i}" for i in range(1, 7)]


def base_results(cid: str, **extra) -> dict:
    res = {
        "campaign_id": cid, "title": f"Title of {cid}", "status": "ok", "scenario": "winback",
        "channel": "sms", "start_ts": "2024-03-01", "end_ts": "2024-03-08", "report_lang": "en",
        "currency": "KRW", "audience": {"n_total": 12000, "arms": {"control": 2000, "sms": 10000}},
        "verdict": {"decision": "stop", "arm": None, "reasons": list(REASONS)},
        "primary": [{"arm": "sms", "metric": "conversion", "abs_lift": 0.012, "ci_low": 0.004,
                     "ci_high": 0.02}],
        "long_term": [{"arm": "sms", "horizon_days": 183, "ltv_lift": -8665.4,
                       "ltv_ci_low": -15000.0, "ltv_ci_high": -1200.0}],
        "guardrails": [
            {"arm": "sms", "metric": "block_rate", "abs_lift": None, "breached": False},
            {"arm": "sms", "metric": "unsubscribe_rate", "abs_lift": 0.01, "ci_low": 0.006,
             "ci_high": 0.014, "threshold": 0.003, "breached": True}],
        "economics": [{"arm": "sms", "sends": 10000, "total_cost": 80000.0, "roi": -0.5,
                       "roi_ci_low": -0.9, "roi_ci_high": 0.1}],
        "integrity": {"srm_flag": False, "consent_violations": 0,
                      "night_sends_without_consent": 0},
    }
    res.update(extra)
    return res


def write(out: Path, res: dict) -> None:
    folder = out / res["campaign_id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(res, ensure_ascii=False), encoding="utf-8")


def campaign_block(html: str, cid: str) -> str:
    m = re.search(rf'<tbody class="[^"]*" id="{cid}">(.*?)</tbody>', html, re.DOTALL)
    assert m, cid
    return m.group(1)


def test_every_reason_is_shown_decisive_first(tmp_path):
    write(tmp_path, base_results("plain"))
    write(tmp_path, base_results("marked", verdict={"decision": "stop", "arm": None,
                                                    "reasons": REASONS, "decisive": 4}))
    html = portfolio.build_index(tmp_path, lang="en").read_text(encoding="utf-8")
    plain = campaign_block(html, "plain")
    assert re.findall(r"<li>(reason number \d)</li>", plain) == REASONS   # all six, in order
    marked = campaign_block(html, "marked")
    items = re.findall(r'<li( class="decisive")?>(reason number \d)</li>', marked)
    assert items[0] == (' class="decisive"', "reason number 5")
    assert [t for _, t in items[1:]] == REASONS[:4] + REASONS[5:]
    assert sum(1 for c, _ in items if c) == 1
    assert 'class="badge verdict stop"' in marked


def test_ordered_reasons_by_text_and_by_item():
    v = {"reasons": ["a", "b", "c"], "decisive_reason": "b"}
    assert [r["text"] for r in portfolio.ordered_reasons(v)] == ["b", "a", "c"]
    assert portfolio.ordered_reasons({"reasons": []}) == []
    assert portfolio.ordered_reasons({"reasons": ["a"], "decisive": 7}) == [
        {"text": "a", "decisive": False}]                                # out of range: ignored


def test_profit_cost_guardrail_states_and_compliance_when_present(tmp_path):
    res = base_results("new_keys")
    res["economics"] = [{"arm": "sms", "sends": 10000, "send_cost": 50000.0,
                         "coupon_cost": 30000.0, "total_cost": 80000.0,
                         "incremental_profit": -412345.6, "profit_ci_low": -900000.0,
                         "profit_ci_high": 15000.0, "p_profitable": 0.0712, "roi": -0.5,
                         "roi_ci_low": -0.9, "roi_ci_high": 0.1}]
    res["guardrails"] = [
        {"arm": "sms", "metric": "block_rate", "state": "not judged", "breached": None},
        {"arm": "sms", "metric": "unsubscribe_rate", "state": "breached", "breached": True},
        {"arm": "sms", "metric": "complaint_rate", "state": "not settled", "breached": None}]
    res["integrity"] = {"sends_without_consent": 3, "consent_violations": 3,
                        "night_sends_without_consent": 1250, "consent_basis": "current_flags"}
    write(tmp_path, res)
    html = portfolio.build_index(tmp_path, lang="en").read_text(encoding="utf-8")
    block = campaign_block(html, "new_keys")
    assert ('<div class="effect sig-unclear"><div class="value">−₩412,346</div><div class="ci">'
            '[<span class="nb">−₩900,000</span>, <span class="nb">+₩15,000</span>]</div>'
            '<div class="note">chance it pays 7%</div>') in block
    assert "ROI −50%" in block
    # amounts in running text are kept on one line (crmlab.reporting.nowrap)
    assert ('10,000 sends · sending <span class="crmlab-nowrap">₩50,000</span> · coupons '
            '<span class="crmlab-nowrap">₩30,000</span>') in block
    assert "₩80,000" in block
    states = re.findall(r'<span class="badge ([a-z-]+)">([a-z ]+)</span> ([a-z ]+)', block)
    assert states == [("breached", "breached", "unsubscribe rate"),
                      ("not-settled", "cannot tell yet", "complaint_rate".replace("_", " ")),
                      ("not-judged", "not judged", "block rate")]
    assert "3 sends without consent" in block
    assert "1,250 night-time sends without night consent" in block
    assert "judged on today's consent flags (no consent history)" in block
    assert "no send without consent" not in block


def test_fallback_without_the_new_keys(tmp_path):
    write(tmp_path, base_results("old_keys"))
    html = portfolio.build_index(tmp_path, lang="en").read_text(encoding="utf-8")
    block = campaign_block(html, "old_keys")
    profit = re.search(r'<td class="num c-profit">(.*?)</td>', block, re.DOTALL).group(1)
    assert '<div class="value">–</div>' in profit and "ROI −50%" in profit
    assert "chance it pays" not in profit
    assert "<span class=\"badge breached\">breached</span> unsubscribe rate" in block
    assert "<span class=\"badge not-judged\">not judged</span> block rate" in block
    assert '<span class="badge ok">no send without consent</span>' in block
    assert "consent flags" not in block and "consent history" not in block


def test_latest_failure_and_failed_campaigns(tmp_path):
    write(tmp_path, base_results("shown"))
    write(tmp_path, {"campaign_id": "broken", "status": "failed",
                     "error": "bad spec: horizon_days below the minimum"})
    (tmp_path / "unreadable").mkdir()
    (tmp_path / "unreadable" / "results.json").write_text("{not json")
    html = portfolio.build_index(
        tmp_path, lang="en",
        latest_failure=lambda folder: "2026-11-23 10:02: KeyError: x"
        if folder.name == "shown" else None).read_text(encoding="utf-8")
    assert "latest run failed: 2026-11-23 10:02: KeyError: x" in campaign_block(html, "shown")
    broken = campaign_block(html, "broken")
    assert 'class="badge verdict failed"' in broken and "below the minimum" in broken
    assert "is not readable JSON" in campaign_block(html, "unreadable")
    assert "3 campaigns: 0 ship, 0 iterate, 1 stop, 0 inconclusive, 2 failed." in html


def test_korean_page_uses_the_report_vocabulary(tmp_path):
    res = base_results("ko_page", report_lang="ko")
    res["verdict"]["decision"] = "iterate"
    write(tmp_path, res)
    html = portfolio.build_index(tmp_path).read_text(encoding="utf-8")   # language: the reports'
    assert '<html lang="ko">' in html
    block = campaign_block(html, "ko_page")
    assert f'<span class="badge verdict iterate">{i18n.t("decision.iterate", "ko")}</span>' in block
    for text in (i18n.t("metric.conversion", "ko"), i18n.t("metric.unsubscribe_rate", "ko"),
                 "183일", "+1.2%p", "휴면 고객 재활성화", "문자(SMS)", "위반", "판단 안 함",
                 "동의 없는 발송 없음", "대조군 2,000명", "10,000건 발송"):
        assert text in block, text
    assert "(ship)" not in html and "unsubscribe" not in block


def test_page_is_cleaned_and_self_contained(tmp_path):
    res = base_results("hostile", title='<img src=x onerror="alert(1)">')
    res["verdict"]["reasons"] = ["<script>alert(2)</script>why"]
    write(tmp_path, res)
    html = portfolio.build_index(tmp_path, lang="en").read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html                  # text, not markup
    assert '&lt;img src=x onerror="alert(1)"&gt;' in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;why" in html
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_empty_folder(tmp_path, lang):
    html = portfolio.build_index(tmp_path, lang=lang).read_text(encoding="utf-8")
    assert portfolio.LABELS[lang]["empty"] in html and "<table" not in html


def test_arm_labels_of_the_report_language_replace_arm_ids(tmp_path):
    two_arms = {"n_total": 12000, "arms": {"control": 2000, "sms": 5000, "sms_coupon": 5000}}
    guard = {"arm": "sms_coupon", "metric": "unsubscribe_rate", "abs_lift": 0.01,
             "ci_low": 0.006, "ci_high": 0.014, "threshold": 0.003, "breached": True}
    ko = base_results("ko_run", report_lang="ko", guardrails=[guard], audience={
        **two_arms, "arm_labels": {"control": "대조군", "sms": "문자 발송",
                                   "sms_coupon": "문자 + 쿠폰 <b>"}})
    write(tmp_path, ko)
    write(tmp_path, base_results("no_labels", audience=two_arms, guardrails=[guard]))
    html = portfolio.build_index(tmp_path, lang="ko").read_text(encoding="utf-8")
    block = campaign_block(html, "ko_run")
    assert "문자 발송 5,000" in block and "문자 + 쿠폰 &lt;b&gt; 5,000" in block   # escaped
    assert "(문자 + 쿠폰 &lt;b&gt;)" in block                  # the guardrail's arm too
    assert ">sms<" not in block and "sms_coupon" not in block
    assert "sms_coupon" in campaign_block(html, "no_labels")   # no labels: the arm id
    # a Korean label does not enter an English portfolio: the arm id stands in there
    en = campaign_block(portfolio.build_index(tmp_path, lang="en").read_text(encoding="utf-8"),
                        "ko_run")
    assert "문자 발송" not in en and "sms_coupon" in en


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_lift_reads_the_same_on_the_portfolio_and_in_the_report(tmp_path, lang):
    from crmlab.campaign.report import _fmt_for

    res = base_results("same", report_lang=lang)
    res["primary"] = [{"arm": "sms", "metric": "conversion", "abs_lift": 0.01234,
                       "ci_low": 0.00449, "ci_high": 0.02051}]
    res["long_term"] = [{"arm": "sms", "horizon_days": 183, "ltv_lift": 1234.5,
                         "ltv_ci_low": -200.5, "ltv_ci_high": 2600.0}]
    write(tmp_path, res)
    block = campaign_block(portfolio.build_index(tmp_path).read_text(encoding="utf-8"), "same")
    conv, ltv = _fmt_for("conversion", "KRW", lang)[1], _fmt_for("ltv", "KRW", lang)[1]
    assert (conv(0.01234), conv(0.00449), conv(0.02051)) == (
        {"en": ("+1.2 pp", "+0.4 pp", "+2.1 pp"), "ko": ("+1.2%p", "+0.4%p", "+2.1%p")}[lang])
    assert (ltv(1234.5), ltv(-200.5)) == ("+₩1,235", "−₩201")
    assert f'<div class="value">{conv(0.01234)}</div>' in block
    assert (f'[<span class="nb">{conv(0.00449)}</span>, <span class="nb">{conv(0.02051)}'
            f'</span>]') in block
    assert f'<div class="value">{ltv(1234.5)}</div>' in block
    assert f'<span class="nb">{ltv(-200.5)}</span>' in block
