"""The report page shell (crmlab.reporting.html): title, navigation, table shaping, the
classes a verdict banner and a key-numbers strip use, and the doctests of crmlab.reporting."""
from __future__ import annotations

import doctest
import importlib
import json
import re

import pytest

from crmlab.reporting import html as page
from crmlab.reporting.sanitize import clean_html


@pytest.mark.parametrize("name", ["html", "fonts", "formatting", "portfolio", "sanitize"])
def test_doctests(name):
    mod = importlib.import_module(f"crmlab.reporting.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


@pytest.mark.parametrize("text, expected", [
    ("1,234", True), ("−₩8,665", True), ("+2.00 pp", True), ("+1.2%p", True), ("12.9%", True),
    ("[−₩200, +₩2,600]", True), ("−10.9 pp ~ +5.8 pp", True), ("0.83 (0.61 ~ 1.13)", True),
    ("85.8% vs 92.2%", True), ("<0.001", True), ("183일", True), ("1.2e-05", True),
    ("holdout", False), ("pre_revenue", False), ("2024-09-25", False), ("95% CI", False),
    ("sms 2", False), ("not tracked", False), ("실험군", False),
    ("", None), ("–", None), ("—", None), ("nan", None), ("&nbsp;", None),
])
def test_number_cells(text, expected):
    assert page.is_number_text(text) is expected


def test_tables_get_a_scroll_box_and_aligned_columns():
    table = ('<table id="T"><thead><tr><th class="col_heading">Arm</th><th>Customers</th>'
             '<th>Lift</th><th>Mixed</th></tr></thead><tbody>'
             '<tr><td class="data row0 col0">sms</td><td>344</td><td>+1.2 pp</td><td>12</td></tr>'
             '<tr><td>push</td><td>–</td><td>−0.4 pp</td><td>n/a yet</td></tr>'
             '</tbody></table>')
    out = page.shape_tables("<p>before</p>" + table + "<p>after</p>")
    assert out.startswith('<p>before</p><div class="crmlab-table"><table id="T">')
    assert out.endswith("</table></div><p>after</p>")
    heads = re.findall(r"<th([^>]*)>([^<]*)</th>", out)
    assert [("num" in a) for a, _ in heads] == [False, True, True, False]
    cells = re.findall(r"<td([^>]*)>([^<]*)</td>", out)
    assert [("num" in a) for a, _ in cells] == [False, True, True, False] * 2
    assert 'class="data row0 col0"' in out                        # existing classes kept
    # a spanning row does not shift the columns; a table without numbers is only boxed
    text_only = "<table><tr><td>a</td><td>b</td></tr></table>"
    assert page.shape_tables(text_only) == f'<div class="crmlab-table">{text_only}</div>'


def test_navigation_needs_two_sections():
    one = '<body><main><h1 id="t">T</h1><h2 id="a">A</h2></main></body>'
    out = page.add_navigation(one, lang="ko")
    assert '<a class="crmlab-back" href="../index.html">← 캠페인 포트폴리오</a>' in out
    assert "crmlab-toc" not in out
    assert page.add_navigation(one, portfolio_href=None) == one


def test_banner_and_key_strip_survive_cleaning():
    cell = ('<div class="crmlab-verdict stop"><span class="crmlab-verdict-label">Stop</span>'
            'The unsubscribe rate rose beyond its allowance.</div>'
            '<ul class="crmlab-keys"><li class="crmlab-key sig-down">'
            '<span class="crmlab-key-label">Incremental profit</span>'
            '<span class="crmlab-key-value">−₩412,346</span>'
            '<span class="crmlab-key-note">[−₩900,000, +₩15,000] · chance it pays 7%</span></li>'
            '</ul><table><tbody><tr><td class="num sig-up state-breached">+1</td></tr></tbody>'
            '</table>')
    assert clean_html(cell) == cell


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    import nbformat as nbf

    folder = tmp_path_factory.mktemp("page") / "winback_x"
    folder.mkdir()
    nb = nbf.v4.new_notebook()
    code = nbf.v4.new_code_cell("")
    code.outputs = [nbf.v4.new_output("display_data", data={
        "text/markdown": "## Verdict\n\n<div class=\"crmlab-verdict ship\">Ship it.</div>"}),
        nbf.v4.new_output("display_data", data={"text/html": (
            "<table><thead><tr><th>Metric</th><th>Lift</th></tr></thead><tbody>"
            "<tr><td>conversion</td><td>+2.0 pp</td></tr></tbody></table>")}),
        nbf.v4.new_output("stream", name="stderr", text="a warning nobody should read\n")]
    nb.cells = [nbf.v4.new_markdown_cell("# Campaign report: 윈백 쿠폰\n\nIntro."), code,
                nbf.v4.new_markdown_cell("## Economics\n\nText.")]
    path = folder / "report.ipynb"
    nbf.write(nb, path)
    return path


def test_render_html_page_shell(rendered):
    out = page.render_html(rendered, lang="ko", title="Win-back <coupon>")
    text = out.read_text(encoding="utf-8")
    assert "<title>Win-back &lt;coupon&gt;</title>" in text
    assert '<html lang="ko">' in text and "crmlab Hangul" in text
    assert re.search(r'<a class="crmlab-back" href="../index.html"[^>]*>← 캠페인 포트폴리오</a>',
                     text)
    toc = re.search(r'<nav class="crmlab-toc">(.*?)</nav>', text, re.DOTALL).group(1)
    assert re.findall(r'href="#([^"]+)"', toc) == ["Verdict", "Economics"]
    assert '<div class="crmlab-verdict ship">Ship it.</div>' in text
    assert '<th class="num">Lift</th>' in text and '<td class="num">+2.0 pp</td>' in text
    assert "a warning nobody should read" not in text


def test_render_html_title_defaults(rendered):
    folder = rendered.parent
    text = page.render_html(rendered).read_text(encoding="utf-8")
    assert "<title>Campaign report: 윈백 쿠폰</title>" in text          # the first heading
    (folder / "results.json").write_text(json.dumps({"title": "Win-back coupon, spring"}))
    try:
        text = page.render_html(rendered).read_text(encoding="utf-8")
        assert "<title>Win-back coupon, spring</title>" in text          # results.json
    finally:
        (folder / "results.json").unlink()
