"""HTML that cannot carry script: escaped tables and an allowlist cleaner for finished pages.

Texts from a spec or from the data (titles, campaign names, arm and segment labels, reasons)
are escaped where they enter a report: Markdown through :func:`crmlab.i18n.md_escape`, tables
through :func:`safe_table`. As a second line of defence every page crmlab writes
(``report.html``, ``index.html``) passes :func:`clean_html`, which keeps only the elements and
attributes crmlab itself emits — nbconvert's lab template, pandas Styler tables, inline
``data:`` images, ``<style>`` sheets, the portfolio's table — and drops everything else
(``<script>``, ``<iframe>``, ``on*`` handlers, ``javascript:`` and other non-allowlisted URLs,
external CSS). Cleaning uses `nh3 <https://nh3.readthedocs.io>`_ (the Rust ``ammonia``
sanitizer); a cleaned crmlab page renders exactly as before.

Examples
--------
>>> clean_html('<p onclick="steal()">hi<script>alert(1)</script></p>')
'<p>hi</p>'
>>> clean_html('<a href="javascript:alert(1)">x</a>')
'<a rel="noopener noreferrer">x</a>'
"""
from __future__ import annotations

import html as _html
import re
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pandas.io.formats.style import Styler

__all__ = ["ALLOWED_TAGS", "ALLOWED_ATTRIBUTES", "clean_html", "clean_fragment", "clean_css",
           "safe_table"]

#: Elements crmlab's pages use: nbconvert's lab template (Markdown, stream and rich outputs),
#: pandas Styler / DataFrame tables, the portfolio page, and the head's meta/title/style.
ALLOWED_TAGS = frozenset({
    "meta", "title", "style",
    "main", "div", "span", "p", "br", "hr", "section", "header", "footer", "nav", "article",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "figure", "figcaption",
    "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "code", "kbd", "samp", "var",
    "em", "strong", "b", "i", "u", "s", "del", "ins", "mark", "small", "sub", "sup", "abbr",
    "cite", "q", "details", "summary",
    "table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td",
})
#: Attributes kept, per element ("*": on every element). URLs are checked further: links may
#: be relative, in-page (#...) or http(s)/mailto; images only inline ``data:image/...``.
#: No inline ``style`` attribute: crmlab styles through ``<style>`` sheets and classes.
ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "lang", "dir", "title", "tabindex", "data-mime-type"},
    "meta": {"charset", "name", "content"},
    "style": {"type", "media"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "details": {"open"},
}
#: The ``<html>`` and ``<body>`` attributes of a full page (nbconvert's lab template).
_DOC_ATTRIBUTES = {"html": ("lang", "dir"),
                   "body": ("class", "data-jp-theme-light", "data-jp-theme-name")}

_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z",
                         re.IGNORECASE)
_LINK_SCHEMES = ("http:", "https:", "mailto:")
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")


def _url_ok(tag: str, attr: str, value: str) -> bool:
    if tag == "img" and attr == "src":
        return bool(_DATA_IMAGE.match(value.strip()))
    m = _SCHEME.match(value)
    return m is None or (m.group(1).lower() + ":") in _LINK_SCHEMES


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr in ("href", "src") and not _url_ok(tag, attr, value):
        return None
    return value


@lru_cache(maxsize=1)
def _cleaner():
    import nh3

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS), clean_content_tags={"script"},
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_attribute_filter, strip_comments=True,
        url_schemes={"http", "https", "mailto", "data"})


_STYLE_ELEMENT = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.IGNORECASE | re.DOTALL)
_CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(?![\"']?\s*data:)[^)]*\)", re.IGNORECASE)
_CSS_ACTIVE = re.compile(r"expression\s*\(|javascript\s*:|-moz-binding|behavior\s*:",
                         re.IGNORECASE)


def clean_css(css: str) -> str:
    """A style sheet without ``@import``, without ``url()`` other than inline ``data:``, and
    without the script hooks of old browsers (``expression()``, ``javascript:``, bindings).

    Examples
    --------
    >>> clean_css('@import url(https://x.example/a.css); p { background: url(//x.example/t) }')
    ' p { background: none }'
    >>> clean_css('i { background: url(data:image/png;base64,AAAA) }')
    'i { background: url(data:image/png;base64,AAAA) }'
    """
    css = _CSS_IMPORT.sub("", css)
    css = _CSS_URL.sub("none", css)
    return _CSS_ACTIVE.sub("blocked(", css)


def clean_fragment(fragment: str) -> str:
    """An HTML fragment reduced to :data:`ALLOWED_TAGS` and :data:`ALLOWED_ATTRIBUTES`."""
    cleaned = _cleaner().clean(fragment)
    return _STYLE_ELEMENT.sub(lambda m: m.group(1) + clean_css(m.group(2)) + m.group(3), cleaned)


class _StartTag(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if not self.attrs:
            self.attrs = attrs


def _start_tag(name: str, text: str) -> str:
    """``<html ...>`` / ``<body ...>`` rebuilt from its allowlisted attributes, values escaped."""
    parser = _StartTag()
    parser.feed(text)
    keep = [(k, v) for k, v in parser.attrs if k in _DOC_ATTRIBUTES[name]]
    attrs = "".join(f' {k}="{_html.escape(v or "", quote=True)}"' for k, v in keep)
    return f"<{name}{attrs}>"


_TAG = {name: re.compile(rf"<{name}\b[^>]*>", re.IGNORECASE) for name in ("html", "head", "body")}
_END = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("head", "body")}


def clean_html(page: str) -> str:
    """A finished page (or a fragment) with only what crmlab emits; see the module docstring.

    A full document keeps its ``<!DOCTYPE html>``, the ``lang`` of ``<html>``, the classes of
    ``<body>``, and the ``meta``, ``title`` and ``style`` elements of its head; head and body
    are each cleaned by :func:`clean_fragment`.

    Examples
    --------
    >>> print(clean_html('<!DOCTYPE html><html lang="ko" onload="x()"><head><title>T</title>'
    ...                  '</head><body class="jp-Notebook"><iframe src="//e.example"></iframe>'
    ...                  '<p>ok</p></body></html>'), end="")
    <!DOCTYPE html>
    <html lang="ko">
    <head><title>T</title></head>
    <body class="jp-Notebook"><p>ok</p></body>
    </html>
    """
    html_tag = _TAG["html"].search(page)
    head = _TAG["head"].search(page)
    head_end = _END["head"].search(page, head.end()) if head else None
    body = _TAG["body"].search(page, head_end.end()) if head_end else None
    body_ends = list(_END["body"].finditer(page, body.end())) if body else []
    if not (html_tag and head and head_end and body and body_ends):
        return clean_fragment(page)
    return ("<!DOCTYPE html>\n" + _start_tag("html", html_tag.group(0)) + "\n"
            + "<head>" + clean_fragment(page[head.end():head_end.start()]) + "</head>\n"
            + _start_tag("body", body.group(0))
            + clean_fragment(page[body.end():body_ends[-1].start()]) + "</body>\n</html>\n")


def safe_table(df: "pd.DataFrame", hide_index: bool = True) -> "Styler":
    """``df`` as a pandas Styler whose cells and column headers are HTML-escaped.

    pandas' Styler writes cell values into the HTML as they are; a label from the data such as
    ``<img src=x onerror=...>`` would become live markup. Here every text cell, column header
    and index label is escaped (it reads as the text it is); numbers are formatted as Styler
    does by default.

    Examples
    --------
    >>> import pandas as pd
    >>> html = safe_table(pd.DataFrame({"arm": ["<b>x</b>"]})).to_html()
    >>> "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html
    True
    """
    styler = df.style.format(escape="html").format_index(escape="html", axis=0)
    styler = styler.format_index(escape="html", axis=1)
    return styler.hide(axis="index") if hide_index else styler
