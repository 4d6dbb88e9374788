"""Amounts kept on one line in finished pages (crmlab.reporting.nowrap): every money amount
the formatters write, in English and Korean, is wrapped whole; nothing outside text changes;
the wrapping survives the sanitizer."""
from __future__ import annotations

import re

import pytest

from crmlab import i18n
from crmlab.reporting.formatting import format_money
from crmlab.reporting.nowrap import NOWRAP_CLASS, NOWRAP_CSS, keep_amounts_together
from crmlab.reporting.sanitize import clean_html

SPAN = re.compile(rf'<span class="{NOWRAP_CLASS}">(.*?)</span>')


@pytest.mark.parametrize("value", [-1234.5, 1234.5, -57_400_000, 123_456_789, -8665, 0.0, 12.5])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_formatted_amount_is_wrapped_whole(value, lang):
    amounts = {i18n.money(value, "KRW", signed=True, lang=lang),
               i18n.money(value, "KRW", lang=lang), i18n.money(value, "USD", signed=True),
               format_money(value, "KRW", signed=True), format_money(value, "EUR"),
               i18n.pp(value / 1e4, lang="en")}
    for amount in amounts:
        text = f"<p>이익 {amount} (대조군 대비), profit {amount}.</p>"
        out = keep_amounts_together(text)
        assert SPAN.findall(out) == [amount, amount], (amount, out)
        assert re.sub(r"<[^>]+>", "", out) == re.sub(r"<[^>]+>", "", text)


def test_only_text_changes_and_twice_is_once():
    page = ('<html><head><title>₩1,234</title><style>.x:after{content:"₩5"}</style></head>'
            '<body><p title="−₩9,000">−₩9,000 and 5,740만 원 감소</p>'
            '<!-- ₩1 --><img alt="₩2"></body></html>')
    out = keep_amounts_together(page)
    assert "<title>₩1,234</title>" in out and 'content:"₩5"' in out
    assert 'title="−₩9,000"' in out and "<!-- ₩1 -->" in out and 'alt="₩2"' in out
    assert SPAN.findall(out) == ["−₩9,000", "5,740만 원"]
    assert out.count(NOWRAP_CSS) == 1 and out.index(NOWRAP_CSS) < out.index("</head>")
    assert keep_amounts_together(out) == out
    # the sanitizer keeps the span, its class and the rule
    clean = clean_html(out)
    assert SPAN.findall(clean) == ["−₩9,000", "5,740만 원"] and NOWRAP_CSS in clean
    # words and dates stay as they are
    plain = "<p>2026-05-03, 12.5%, p = 0.03, 183 days, 1,615 sends</p>"
    assert keep_amounts_together(plain) == plain


def test_the_report_page_keeps_its_amounts_together(tmp_path):
    import nbformat

    from crmlab.reporting.html import render_html

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T\n\nProfit −₩1,234 (−₩9,000 ~ +₩4,200); "
                                              "이익 5,740만 원 감소; unsubscribes +0.4 pp.")]
    nbformat.write(nb, tmp_path / "report.ipynb")
    page = render_html(tmp_path / "report.ipynb").read_text(encoding="utf-8")
    assert SPAN.findall(page) == ["−₩1,234", "−₩9,000", "+₩4,200", "5,740만 원", "+0.4 pp"]
    assert NOWRAP_CSS in page


def test_text_the_page_already_keeps_together_is_left_alone():
    page = ('<div class="value">−₩412,346</div><div class="ci">[<span class="nb">−₩900,000'
            '</span>, <span class="nb">+₩15,000</span>]</div><li>profit −₩1</li>')
    out = keep_amounts_together(page, nowrap_classes=("nb", "value"))
    assert SPAN.findall(out) == ["−₩1"]
    assert out.replace(f'<span class="{NOWRAP_CLASS}">−₩1</span>', "−₩1") == page


def test_the_portfolio_keeps_the_amounts_of_its_reasons_together(tmp_path):
    import json

    from crmlab.reporting import portfolio

    res = {"campaign_id": "c", "title": "C", "status": "ok", "currency": "KRW",
           "report_lang": "ko", "start_ts": "2026-05-03", "end_ts": "2026-05-03",
           "verdict": {"decision": "stop", "arm": None,
                       "reasons": ["이익 5,740만 원 감소 (−₩9,000 ~ +₩4,200)"]}}
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "results.json").write_text(json.dumps(res, ensure_ascii=False),
                                                 encoding="utf-8")
    html = portfolio.build_index(tmp_path, lang="ko").read_text(encoding="utf-8")
    assert SPAN.findall(html) == ["5,740만 원", "−₩9,000", "+₩4,200"]
    assert NOWRAP_CSS in html
