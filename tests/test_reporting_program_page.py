"""The program page: self-contained, no script, every section present, Korean without the
English words of the page."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import crmlab
from crmlab.program.narration import LABELS
from crmlab.reporting.program_page import program_sections, write_program_page


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.images, self.text, self.h2 = [], [], [], [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "a":
            self.links.append(a.get("href"))
        if tag in ("img", "source", "iframe", "link", "script"):
            self.images.append(a.get("src") or a.get("href"))
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in not in ("style", "title"):
            self.text.append(data)
        if self._in == "h2":
            self.h2.append(data.strip())


@pytest.fixture(scope="module")
def pages(small_shop_dir, tmp_path_factory):
    data = crmlab.load(small_shop_dir)
    s = program_sections(data)
    out = tmp_path_factory.mktemp("program_page")
    from crmlab.reporting.program_page import program_page_html

    return {lang: program_page_html(data, lang, sections=s) for lang in ("en", "ko")}, s, out


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_page_is_self_contained_and_has_every_section(pages, lang):
    html, s, _ = pages
    p = _Page()
    p.feed(html[lang])
    assert "script" not in p.tags and "iframe" not in p.tags
    assert p.links == ["index.html"]
    assert len(p.images) == 2 and all(i.startswith("data:image/png;base64,") for i in p.images)
    L = LABELS[lang]
    assert p.h2 == [L["impact"], L["fatigue"], L["overlaps"], L["monthly"]]
    assert s["errors"] == {}
    text = " ".join(p.text)
    assert L["cap"] in text and "<table" in html[lang]
    assert not re.search(r"https?://", html[lang])


def test_korean_page_has_no_english_page_words(pages):
    html, _, _ = pages
    p = _Page()
    p.feed(html["ko"])
    text = " ".join(p.text)
    en_words = {w for v in LABELS["en"].values() for w in re.findall(r"[A-Za-z]{4,}", v)}
    en_words -= {"CRM"}
    words = set(re.findall(r"[A-Za-z]{4,}", text))
    campaign_words = {"Season", "sale", "coupon", "Kakao", "push", "reminder", "newsletter",
                      "mail", "flash", "blast", "Weekend", "back", "Welcome", "Birthday",
                      "Review", "request", "Cart", "Winback", "welcome", "birthday"}
    assert not (words & en_words) - campaign_words, words & en_words


def test_write_program_page(pages, small_shop_dir):
    _, _, out = pages
    path = write_program_page(crmlab.load(small_shop_dir), out, lang="en")
    assert path.name == "program.html" and path.read_text().startswith("<!DOCTYPE html>")


def test_portfolio_links_the_program_page(pages, small_shop_dir):
    from crmlab.runner import build_index, hangul_font_css

    _, _, out = pages
    write_program_page(crmlab.load(small_shop_dir), out, lang="ko", font_css=hangul_font_css)
    assert "crmlab Hangul" in (out / "program.html").read_text()
    index = build_index(out, lang="ko").read_text()
    assert 'href="program.html"' in index
