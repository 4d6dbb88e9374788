"""Narration: the evaluation holds numbers only, every text reads in both languages, and the
Korean holds neither a particle placeholder nor an English word of crmlab's own vocabulary."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pandas as pd
import pytest

from crmlab import i18n
from crmlab.campaign import narration
from crmlab.campaign.narration.texts import TEXT

ROOT = Path(__file__).resolve().parents[1]

#: crmlab's own vocabulary that a Korean page must not show in English
VOCAB = ("control", "treatment", "holdout", "conversion", "revenue", "ship", "iterate",
         "stop", "inconclusive", "unsubscribe", "coupon", "reminder", "guardrail", "churn",
         "retention", "reactivation", "lift", "arm", "profit", "margin", "funnel", "segment",
         "opened", "clicked", "delivered", "purchased", "breached", "within", "not judged",
         "cannot tell", "verdict", "campaign", "customers", "orders", "block rate")
PLACEHOLDER = re.compile(r"\((가|이|를|을|는|은|와|과|으)\)")


class _Values(dict):
    """Any placeholder: a Korean word ending in a consonant, so particles must resolve."""

    def __missing__(self, key):
        return "값"


def _render(entry: str) -> str:
    fields = [f for _, f, spec, _ in string.Formatter().parse(entry) if f]
    vals = _Values({f.split(".")[0].split("[")[0]: (1000 if f.endswith(",") else "값")
                    for f in fields})
    text = entry.format_map(vals)
    return i18n.attach_josa(text)


def _english_words(text: str) -> list[str]:
    low = text.lower()
    return [w for w in VOCAB if re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", low)]


ALL = [("i18n", k, v) for k, v in i18n.TEXTS.items()] + [("narration", k, v)
                                                         for k, v in TEXT.items()]


@pytest.mark.parametrize("where,key,entry", ALL, ids=[f"{w}:{k}" for w, k, _ in ALL])
def test_every_text_renders_in_both_languages(where, key, entry):
    assert set(entry) >= {"en", "ko"}, f"{where} {key}: missing a language"
    for lang in ("en", "ko"):
        text = _render(entry[lang].replace("{n:,}", "{n}"))
        assert text.strip()
    ko = _render(entry["ko"].replace("{n:,}", "{n}"))
    assert not PLACEHOLDER.search(ko), f"{key}: particle placeholder left: {ko}"
    assert not _english_words(ko), f"{key}: English vocabulary in Korean: {_english_words(ko)}"


def test_evaluation_imports_no_language_module():
    tree = ast.parse((ROOT / "crmlab/campaign/evaluation.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names |= {f"{node.module}.{a.name}" for a in node.names}
    bad = [n for n in names if "i18n" in n or "narration" in n or "report" in n]
    assert not bad, f"evaluation.py imports language modules: {bad}"
    # nor does it hold a sentence of the report: no Korean at all
    assert not re.search("[가-힣]", (ROOT / "crmlab/campaign/evaluation.py").read_text())


@pytest.mark.parametrize("word,pair,expected", [
    ("전환율", "이/가", "이"), ("매출", "을/를", "을"), ("대조군", "과/와", "과"),
    ("실험군", "은/는", "은"), ("고객", "으로/로", "으로"), ("서울", "으로/로", "로"),
    ("쿠폰", "이/가", "이"), ("리마인드", "을/를", "를"),
    ("10", "이/가", "이"), ("11", "을/를", "을"), ("12", "이/가", "가"), ("13", "은/는", "은"),
    ("15", "이/가", "가"), ("16", "이/가", "이"), ("17", "으로/로", "로"), ("18", "이/가", "이"),
    ("19", "이/가", "가"), ("30", "으로/로", "으로"), ("95%", "을/를", "를"),
    ("1.2%p", "이/가", "가"), ("1.2 pp", "을/를", "를"), ("₩8,665", "을/를", "을"),
    ("8,665원", "이/가", "이"), ("5,740만 원", "으로/로", "으로"), ("ROI", "이/가", "가"),
    ("SMS", "은/는", "는"), ("URL", "이/가", "이"), ("전환율(±2%)", "이/가", "이"),
])
def test_josa(word, pair, expected):
    assert i18n.josa(word, pair) == expected


def test_attach_josa_leaves_no_placeholder():
    text = i18n.attach_josa("₩0을(를) 넘고 95%을(를) 보장하며 전환율이(가) 3%p 올라 30일(으)로")
    assert text == "₩0을 넘고 95%를 보장하며 전환율이 3%p 올라 30일로"


def test_korean_money():
    assert i18n.money(57_400_000, "KRW", lang="ko") == "5,740만 원"
    assert i18n.money(-8665, "KRW", lang="ko") == "−8,665원"
    assert i18n.money(393_450, "KRW", lang="ko") == "393,450원"
    assert i18n.money(250_000_000, "KRW", signed=True, lang="ko") == "+2억 5,000만 원"
    assert i18n.money(57_400_000, "KRW") == "₩57,400,000"


def test_direction_words_carry_the_sign():
    f = dict(code="ltv.unclear", arm="coupon", days=180.0, lift=-8665.0, ci_low=-20000.0,
             ci_high=3000.0, alpha=0.05)
    ko = narration.finding_text(f, "ko", "KRW")
    assert "8,665원 감소" in ko and "증가 −" not in ko and "(가)" not in ko
    en = narration.finding_text(f, "en", "KRW")
    assert "−₩8,665" in en
    up = narration.finding_text(dict(f, code="ltv.up", lift=8665.0, ci_low=10.0), "ko", "KRW")
    assert "8,665원 늘었습니다" in up


def test_verdict_words_are_shared():
    assert [i18n.t(f"decision.{d}", "ko") for d in ("ship", "iterate", "stop", "inconclusive")] \
        == ["캠페인 확대", "개선 후 재실험", "중단", "판단 보류"]


def test_arm_labels_from_the_spec():
    spec = {"arm_labels": {"coupon": {"en": "Coupon", "ko": "쿠폰 발송"}, "sms": "문자"}}
    assert narration.arm_label("coupon", "ko", spec) == "쿠폰 발송"
    assert narration.arm_label("coupon", "en", spec) == "Coupon"
    assert narration.arm_label("sms", "en", spec) == "문자"
    assert narration.arm_label("control", "ko", spec) == "대조군"
    assert narration.arm_label("treatment", "ko") == "실험군"


# --------------------------------------------------------------------------- a whole report
def _report_texts(ev, provenance=None) -> list[tuple[str, str]]:
    """Every text a report shows, as ``(section, text)``: Markdown sections, the first
    screen's HTML (tags stripped), every table's headers and cells, and the provenance
    table's labels (its values are the spec's own keys and values, shown as written)."""
    import html as _html

    from crmlab.campaign import report

    strip = lambda h: _html.unescape(re.sub(r"<[^>]+>", " ", h))  # noqa: E731
    out = [(name, getattr(report, name)(ev)) for name in (
        "header", "verdict", "integrity", "short_term", "long_term", "km_caption",
        "cumulative_caption", "guardrails", "funnel_caption", "economics", "segments",
        "data_quality", "footer")]
    out += [(name, strip(getattr(report, name)(ev)))
            for name in ("verdict_banner_html", "key_numbers_html")]
    for name in ("audience_table", "balance_table", "short_term_table", "long_term_table",
                 "long_term_rates_table", "guardrails_table", "fatigue_table", "funnel_table",
                 "economics_table", "targeting_table", "data_quality_table"):
        t = getattr(report, name)(ev)
        out.append((name, " | ".join(map(str, t.columns)) + "\n"
                    + "\n".join(" | ".join(map(str, row)) for row in t.itertuples(index=False))))
    prov = report.provenance_table(ev, provenance or {"parameters": ev.spec})
    out.append(("provenance_table", " | ".join(prov.columns) + "\n" + "\n".join(
        label.split(" · ")[0] for label in prov.iloc[:, 0])))
    return out


def _english_in_report(ev) -> list[tuple[str, list[str], str]]:
    """crmlab vocabulary left in English, after removing what comes from the data: the
    campaign's name and the ids of arms the spec gives no label."""
    labelled = set((ev.spec.get("arm_labels") or {}))
    own = [a for a in ev.audience["arm"] if a != "control" and a not in labelled]
    bad = []
    for section, text in _report_texts(ev):
        text = text.replace(ev.campaign.name, " ")
        for a in sorted(own, key=len, reverse=True):  # as written, and Markdown-escaped
            for form in {i18n.md_escape(a), a}:
                text = re.sub(rf"(?<![A-Za-z_\\]){re.escape(form)}(?![A-Za-z_])", " ", text)
        words = _english_words(text)
        if words:
            bad.append((section, words, text[:400]))
    return bad


@pytest.fixture(scope="module")
def korean_reports(small_shop):
    """Every demo spec (with its Korean arm labels) evaluated on the small shop in Korean,
    and cart_reminder once more without labels (its arm ids then stand as they are)."""
    from crmlab.campaign import evaluate
    from crmlab.experiments import find_specs, load_spec

    evs = {}
    for path in find_specs(ROOT / "experiments"):
        spec = load_spec(path)
        if spec.draft or spec.campaign_id not in set(small_shop.campaigns.to_pandas()
                                                     ["campaign_id"]):
            continue
        evs[spec.campaign_id] = evaluate(small_shop, spec, lang="ko", n_boot=50)
    raw = load_spec(ROOT / "experiments/cart_reminder.yaml").to_dict() | {"arm_labels": {}}
    evs["cart_reminder:unlabelled"] = evaluate(small_shop, raw, lang="ko", n_boot=50)
    return evs


def test_a_whole_korean_report_holds_no_english_crmlab_word(korean_reports):
    assert len(korean_reports) >= 6
    for cid, ev in korean_reports.items():
        assert ev.lang == "ko"
        bad = _english_in_report(ev)
        assert not bad, f"{cid}: English vocabulary on a Korean page: {bad}"
        for section, text in _report_texts(ev):
            assert not PLACEHOLDER.search(text), (cid, section, text)


def test_the_check_finds_an_english_label_and_the_labels_reach_every_table(korean_reports):
    import dataclasses

    from crmlab.campaign import report

    ev = korean_reports["cart_reminder"]
    texts = "\n".join(t for _, t in _report_texts(ev))
    assert "리마인더 + 쿠폰" in texts and "reminder_coupon" not in texts
    for table in (report.short_term_table, report.economics_table, report.long_term_table,
                  report.guardrails_table, report.funnel_table, report.audience_table):
        assert "리마인더 + 쿠폰" in "\n".join(
            " ".join(map(str, r)) for r in table(ev).itertuples(index=False)) \
            or "리마인더 + 쿠폰" in table(ev).columns, table.__name__
    # an English label given for Korean is caught
    english = dataclasses.replace(ev, spec={**ev.spec, "arm_labels": {
        "reminder": "Reminder", "reminder_coupon": "Reminder + coupon"}})
    assert any("coupon" in words for _, words, _ in _english_in_report(english))


def test_data_quality_says_its_checks_cover_the_whole_data_set(korean_reports):
    import dataclasses

    from crmlab.campaign import report

    ev = dataclasses.replace(
        korean_reports["cart_reminder"],
        data_quality=pd.DataFrame({"table": ["orders"], "check": ["duplicate_key"], "rows": [12],
                                   "action": ["dropped"]}),
        exclusions=pd.DataFrame({"code": ["horizon_partial"], "days": [183.0], "rows": [40]}))
    for lang, whole, own, not_only in (
            ("en", "whole data set", "this campaign", "not only this campaign's audience"),
            ("ko", "전체 데이터", "이 캠페인", "이 캠페인 대상 고객만이 아니라")):
        e = dataclasses.replace(ev, lang=lang)
        assert whole in report.data_quality(e) and not_only in report.data_quality(e)
        t = report.data_quality_table(e)
        scope = t.iloc[:, 3].tolist()
        assert scope == [whole, own], t
        clean = dataclasses.replace(e, data_quality=e.data_quality.iloc[:0],
                                    exclusions=e.exclusions.iloc[:0])
        assert whole in report.data_quality(clean)


def test_a_one_day_campaign_shows_one_date(korean_reports):
    import dataclasses

    from crmlab.campaign import report

    ev = korean_reports["cart_reminder"]
    day = dataclasses.replace(ev.campaign, start_ts=pd.Timestamp("2026-05-03 09:00"),
                              end_ts=pd.Timestamp("2026-05-03 21:00"))
    week = dataclasses.replace(day, end_ts=pd.Timestamp("2026-05-09 21:00"))
    for lang in ("en", "ko"):
        head = report.header(dataclasses.replace(ev, campaign=day, lang=lang))
        assert head.count("2026-05-03") == 1 and "~" not in head.split("2026-05-03")[1][:4]
        head = report.header(dataclasses.replace(ev, campaign=week, lang=lang))
        assert {"en": "2026-05-03 to 2026-05-09", "ko": "2026-05-03 ~ 2026-05-09"}[lang] in head


def test_inconclusive_headline_says_what_the_test_can_detect():
    import pandas as pd

    from crmlab.campaign.findings import Verdict
    from crmlab.campaign.narration import verdict_texts

    f = [dict(code="primary.unclear", arm="coupon", metric="conversion", lift=0.022,
              ci_low=-0.026, ci_high=0.063, alpha=0.05),
         dict(code="settle.mde", arm="coupon", metric="conversion", mde=0.0688, power=0.8)]
    v = Verdict(decision="inconclusive", arm=None, findings=f, per_arm=pd.DataFrame())
    en, _ = verdict_texts(v, "en", "KRW")
    assert en == ("Verdict: INCONCLUSIVE. The data cannot tell whether the campaign works. "
                  "This test detects a change of 6.9 pp or more with 80% power.")
    ko, _ = verdict_texts(v, "ko", "KRW")
    assert ko.startswith("결론: 판단 보류.") and "6.9%p 이상의 차이여야 80% 검정력" in ko
    # without an MDE (e.g. a sample-ratio mismatch) the headline stays as it was
    v = Verdict(decision="inconclusive", arm=None, findings=f[:1], per_arm=pd.DataFrame())
    assert verdict_texts(v, "en", "KRW")[0].endswith("whether the campaign works.")
