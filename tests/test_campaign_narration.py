"""Narration: the evaluation holds numbers only, every text reads in both languages, and the
Korean holds neither a particle placeholder nor an English word of crmlab's own vocabulary."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

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
