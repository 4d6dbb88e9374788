"""The campaign report page: an executed notebook rendered to one self-contained HTML file.

:func:`render_html` runs nbconvert's lab template (``crmlab/templates/report.html.j2``, which
leaves out everything the lab template would fetch from the network) with inputs, prompts and
stderr hidden, then shapes the page for a reader:

- the page title is the campaign's title (not its id);
- a link back to the portfolio (``../index.html``) and a table of contents built from the
  page's section headings (``<h2>``) lead the page (:func:`add_navigation`);
- every table sits in its own scrolling container, so a wide table never widens the page, and
  cells that hold numbers (amounts, percentages, points, intervals) carry the class ``num``
  (right-aligned), text cells stay left-aligned (:func:`shape_tables`);
- a page with Korean text embeds the Hangul glyphs it uses (:mod:`crmlab.reporting.fonts`);
- last, the page is cleaned against crmlab's allowlist
  (:func:`crmlab.reporting.sanitize.clean_html`).

Classes the page's style sheet knows, for cells and Markdown/HTML outputs to use (all kept by
:func:`~crmlab.reporting.sanitize.clean_html`):

``crmlab-verdict`` + ``ship`` / ``iterate`` / ``stop`` / ``inconclusive``
    the verdict banner (a coloured box; ``crmlab-verdict-label`` for its decision word);
``crmlab-keys`` holding ``crmlab-key`` items (``crmlab-key-label``, ``crmlab-key-value``,
``crmlab-key-note``)
    the key-numbers strip (wraps on narrow screens);
``sig-up`` / ``sig-down`` / ``sig-unclear`` on a table cell
    an effect whose interval lies above zero (green), below zero (red), or includes zero;
``state-within`` / ``state-breached`` / ``state-not-settled`` / ``state-not-judged``
    a guardrail's state;
``num``
    a number cell (right-aligned; added automatically, may also be set by the table).

Examples
--------
>>> render_html("reports/winback_2024/report.ipynb", title="Win-back coupon")  # doctest: +SKIP
PosixPath('reports/winback_2024/report.html')
"""
from __future__ import annotations

import html as _html
import re
import sys
from pathlib import Path

from crmlab._atomic import atomic_write_text, read_json
from crmlab.reporting.fonts import with_hangul_font
from crmlab.reporting import sanitize
from crmlab.reporting.nowrap import keep_amounts_together

__all__ = ["TEMPLATES_DIR", "NAV_LABELS", "render_html", "strip_external", "shape_tables",
           "add_navigation", "is_number_text", "skip_iri_grammar"]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

#: Words of the page's own navigation, per language.
NAV_LABELS = {
    "en": {"portfolio": "Campaign portfolio", "contents": "Contents"},
    "ko": {"portfolio": "캠페인 포트폴리오", "contents": "목차"},
}


def skip_iri_grammar() -> None:
    """Spare a process the ~6 s import of ``rfc3987_syntax``.

    jsonschema (imported by nbformat) compiles an RFC 3987 IRI grammar at import time when that
    optional package is installed; notebook validation never checks IRI formats, so the import
    is declined (jsonschema treats the package as absent). Only done before jsonschema loads.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


_EXTERNAL = [re.compile(p, re.IGNORECASE) for p in (
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>",
    r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    r"<(?:img|source|iframe)\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    r"@import\s+url\(\s*[\"']?(?:https?:)?//[^)]*\)\s*;?",
)]


def strip_external(html_text: str) -> str:
    """Remove any script/link/img/source element that would fetch from the network.

    Examples
    --------
    >>> strip_external('<p>a</p><script src="https://cdn.example/x.js"></script>')
    '<p>a</p>'
    """
    for pat in _EXTERNAL:
        html_text = pat.sub("", html_text)
    return html_text


# --------------------------------------------------------------------------- tables

_ATOM = re.compile(r"[+\-−]?[<>≤≥]?[₩$€¥£]?\d[\d,]*(?:\.\d+)?(?:e[+\-]?\d+)?"
                   r"(?:%p|%|pp|×|x|d|일|명|건|회|개)?", re.IGNORECASE)
_UNIT = re.compile(r"%p|%|pp|×|d|days?|일|명|건|회|개", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\[\]\(\),;~]+|\bto\b|\bvs\.?(?=\s)|–|—|부터|까지|대비")
_EMPTY_CELL = {"", "–", "—", "-", "nan", "none", "n/a", "na", "<na>", "nat"}


def is_number_text(text: str) -> bool | None:
    """True when a cell's text is a number (with sign, currency, unit, interval brackets);
    None when it is empty or a missing-value mark; False for words.

    Examples
    --------
    >>> [is_number_text(s) for s in ("+₩1,235", "[−10%, +80%]", "+2.1 pp", "0.03", "—",
    ...                               "0.83 (0.61 ~ 1.13)", "85.8% vs 92.2%")]
    [True, True, True, True, None, True, True]
    >>> is_number_text("holdout"), is_number_text("2024-03-01"), is_number_text("95% CI")
    (False, False, False)
    """
    plain = _html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\xa0", " ").strip()
    if plain.lower() in _EMPTY_CELL:
        return None
    tokens = [t for t in _SEPARATORS.split(plain) if t]
    if not tokens:
        return None
    numbers = [t for t in tokens if _ATOM.fullmatch(t)]
    return bool(numbers) and all(_ATOM.fullmatch(t) or _UNIT.fullmatch(t) for t in tokens)


_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.IGNORECASE | re.DOTALL)
_ROW = re.compile(r"<tr\b[^>]*>.*?</tr>", re.IGNORECASE | re.DOTALL)
_CELL = re.compile(r"<(t[hd])\b([^>]*)>(.*?)</t[hd]>", re.IGNORECASE | re.DOTALL)
_CLASS = re.compile(r"""\bclass\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_SPAN = re.compile(r"\bcolspan\s*=", re.IGNORECASE)


def _with_class(attrs: str, name: str) -> str:
    m = _CLASS.search(attrs)
    if m is None:
        return f' class="{name}"' + attrs
    classes = m.group(2).split()
    if name in classes:
        return attrs
    return attrs[:m.start()] + f'class="{" ".join(classes + [name])}"' + attrs[m.end():]


def _shape_table(table: str) -> str:
    rows = _ROW.findall(table)
    body_rows = [r for r in rows if re.search(r"<td\b", r, re.IGNORECASE)]
    verdicts: dict[int, list[bool]] = {}
    for row in body_rows:
        for i, (_tag, attrs, inner) in enumerate(_CELL.findall(row)):
            if _tag.lower() != "td" or _SPAN.search(attrs):
                continue
            v = is_number_text(inner)
            if v is not None:
                verdicts.setdefault(i, []).append(v)
    numeric = {i for i, vs in verdicts.items() if vs and all(vs)}
    if not numeric:
        return f'<div class="crmlab-table">{table}</div>'

    def shape_row(m: re.Match) -> str:
        row = m.group(0)
        spanned = bool(_SPAN.search(row))
        pos = iter(range(10 ** 6))

        def cell(c: re.Match) -> str:
            i = next(pos)
            tag, attrs, inner = c.group(1), c.group(2), c.group(3)
            if i in numeric and not spanned:
                attrs = _with_class(attrs, "num")
            return f"<{tag}{attrs}>{inner}</{tag}>"

        return _CELL.sub(cell, row)

    return f'<div class="crmlab-table">{_ROW.sub(shape_row, table)}</div>'


def shape_tables(page: str) -> str:
    """Each table in a ``crmlab-table`` container (it scrolls sideways inside it when wider
    than the page); cells of columns whose every value is a number get the class ``num``.

    Examples
    --------
    >>> print(shape_tables("<table><tr><th>Arm</th><th>Lift</th></tr>"
    ...                    "<tr><td>sms</td><td>+1.2 pp</td></tr></table>"))
    <div class="crmlab-table"><table><tr><th>Arm</th><th class="num">Lift</th></tr><tr><td>sms</td><td class="num">+1.2 pp</td></tr></table></div>
    """
    return _TABLE.sub(lambda m: _shape_table(m.group(0)), page)


# --------------------------------------------------------------------------- navigation

_H = re.compile(r"<h([12])\b[^>]*\bid\s*=\s*\"([^\"]+)\"[^>]*>(.*?)</h\1>",
                re.IGNORECASE | re.DOTALL)
_ANCHOR = re.compile(r"<a\b[^>]*class=\"anchor-link\"[^>]*>.*?</a>", re.IGNORECASE | re.DOTALL)


def _text(fragment: str) -> str:
    return _html.unescape(re.sub(r"<[^>]+>", "", _ANCHOR.sub("", fragment))).strip()


def page_headings(page: str) -> list[tuple[int, str, str]]:
    """(level, id, text) of the page's ``<h1>`` and ``<h2>`` headings, in order."""
    return [(int(m.group(1)), _html.unescape(m.group(2)), _text(m.group(3)))
            for m in _H.finditer(page)]


def add_navigation(page: str, lang: str = "en", portfolio_href: str | None = "../index.html"
                   ) -> str:
    """Insert, at the start of ``<main>``, a link back to the portfolio and a table of
    contents of the page's ``<h2>`` sections (nothing when it has fewer than two).

    Examples
    --------
    >>> page = ('<body><main><h1 id="T">T</h1><h2 id="A">A</h2><p>x</p><h2 id="B-b">B &amp; b'
    ...         '<a class="anchor-link" href="#B-b">¶</a></h2></main></body>')
    >>> print(add_navigation(page).split("<h1")[0])
    <body><main><nav class="crmlab-nav"><a class="crmlab-back" href="../index.html">← Campaign portfolio</a></nav>
    <nav class="crmlab-toc"><p class="crmlab-toc-title">Contents</p><ol><li><a href="#A">A</a></li><li><a href="#B-b">B &amp; b</a></li></ol></nav>
    <BLANKLINE>
    """
    labels = NAV_LABELS.get(lang, NAV_LABELS["en"])
    parts = []
    if portfolio_href:
        parts.append(f'<nav class="crmlab-nav"><a class="crmlab-back" '
                     f'href="{_html.escape(portfolio_href, quote=True)}">← '
                     f'{_html.escape(labels["portfolio"])}</a></nav>')
    sections = [(hid, text) for level, hid, text in page_headings(page) if level == 2]
    if len(sections) >= 2:
        items = "".join(f'<li><a href="#{_html.escape(hid, quote=True)}">{_html.escape(text)}'
                        f"</a></li>" for hid, text in sections)
        parts.append(f'<nav class="crmlab-toc"><p class="crmlab-toc-title">'
                     f'{_html.escape(labels["contents"])}</p><ol>{items}</ol></nav>')
    if not parts:
        return page
    m = re.search(r"<main\b[^>]*>", page, re.IGNORECASE)
    if m is None:
        m = re.search(r"<body\b[^>]*>", page, re.IGNORECASE)
    if m is None:
        return "\n".join(parts) + "\n" + page
    return page[:m.end()] + "\n".join(parts) + "\n" + page[m.end():]


# --------------------------------------------------------------------------- the page

def render_html(notebook_path: str | Path, html_path: str | Path | None = None,
                lang: str = "en", title: str | None = None,
                portfolio_href: str | None = "../index.html") -> Path:
    """Render an executed notebook to a self-contained HTML report, inputs hidden.

    Code cells' inputs and prompts are left out, stderr output (warnings) is dropped, images are
    inline (base64), and nothing is fetched from the network. See the module docstring for the
    page's navigation, tables and classes.

    Parameters
    ----------
    notebook_path : str or Path
        The executed notebook.
    html_path : str or Path, optional
        Where to write (default: next to the notebook, ``.html``); written atomically.
    lang : {"en", "ko"}
        The page's language attribute and the language of its navigation.
    title : str, optional
        The page title (the campaign's title); default the ``title`` of the ``results.json``
        beside the notebook, else the notebook's ``title`` metadata, else the text of its first
        ``<h1>``, else the notebook's folder name.
    portfolio_href : str or None
        The link back to the portfolio (None: no link).

    Examples
    --------
    >>> render_html("reports/winback_2024/report.ipynb")  # doctest: +SKIP
    PosixPath('reports/winback_2024/report.html')
    """
    skip_iri_grammar()
    import nbformat
    from nbconvert import HTMLExporter

    notebook_path = Path(notebook_path)
    html_path = Path(html_path) if html_path is not None else notebook_path.with_suffix(".html")
    lang = lang if lang in ("en", "ko") else "en"
    nb = nbformat.read(notebook_path, as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream"
                                       and o.get("name") == "stderr")]
    exporter = HTMLExporter(template_name="lab",
                            template_file=str(TEMPLATES_DIR / "report.html.j2"))
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    exporter.language_code = lang
    if not title:
        title = (read_json(notebook_path.parent / "results.json") or {}).get("title")
    if title:
        nb.metadata["title"] = str(title)
    placeholder = "crmlab-page-title-" + "0" * 8
    resources = {"metadata": {"name": placeholder}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if placeholder in body:  # no title given: the first heading, else the folder name
        first = next((text for level, _id, text in page_headings(body) if level == 1), None)
        body = body.replace(placeholder, _html.escape(first or notebook_path.parent.name))
    page = add_navigation(keep_amounts_together(shape_tables(strip_external(body)),
                                                nowrap_classes=("num",)),
                          lang=lang, portfolio_href=portfolio_href)
    atomic_write_text(html_path, sanitize.clean_html(with_hangul_font(page)))
    return html_path
