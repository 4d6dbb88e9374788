"""Reports never turn text into markup.

A corpus of markup payloads goes into every text field of a spec (title, exploratory reason,
the data path) and every string column of a small simulated shop (campaign names and
descriptions, arm labels, regions, acquisition and sales channels, product categories); the
real campaign notebook runs through the runner in English and Korean and the HTML it writes is
parsed: no ``<script>``, ``<iframe>``, ``on*`` attribute or ``javascript:`` URL may survive, and
the payloads are still there as visible text. The escaping helpers (Markdown through
nbconvert's own renderer, Styler tables) and the allowlist cleaner are tested directly.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import textwrap
import traceback
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from crmlab import i18n, runner
from crmlab.reporting.sanitize import clean_fragment, clean_html, safe_table

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)>",
    "[x](javascript:alert(4))",
    "<iframe src=javascript:alert(5)></iframe>",
    '"><a href="javascript:alert(6)">six</a>',
    '![y](x" onerror="alert(7))',
    "&lt;script&gt;alert(8)&lt;/script&gt; &#60;b&#62;",
    "`code` **bold** _em_ ~~del~~ | pipe",
    "<a href='jav&#x09;ascript:alert(9)'>nine</a>",
    "<details open ontoggle=alert(10)>",
    "<style>body{background:url(https://evil.example/x)}</style>",
    "# heading\n- item\n<div onmouseover=alert(11)>",
    "<math><mi xlink:href=javascript:alert(12)>",
    "1. <b onclick=alert(13)>numbered</b>",
]

URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background"}
FORBIDDEN_TAGS = {"script", "iframe", "frame", "object", "embed", "svg", "math", "form", "input",
                  "button", "link", "base", "textarea", "select", "applet", "audio", "video"}


def _norm(text: str) -> str:
    return " ".join(text.split())


class _Audit(HTMLParser):
    """Every start tag with its attributes, and the visible text (style content left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self._in_style = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_style += tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = max(0, self._in_style - 1)

    def handle_data(self, data):
        if not self._in_style:
            self.text.append(data)


def audit(html: str) -> tuple[_Audit, str]:
    a = _Audit()
    a.feed(html)
    a.close()
    return a, _norm(" ".join(a.text))


def assert_inert(html: str, where: str = "") -> str:
    """No script-capable element, no event handler, no script URL; returns the visible text."""
    a, text = audit(html)
    for tag, attrs in a.tags:
        assert tag not in FORBIDDEN_TAGS, (where, tag, attrs)
        for name, value in attrs:
            assert not name.lower().startswith("on"), (where, tag, name, value)
            if name.lower() in URL_ATTRS and value is not None:
                v = "".join(ch for ch in value if ch > " ").lower()
                assert not v.startswith(("javascript:", "vbscript:", "data:text")), (where, tag,
                                                                                       value)
                if tag == "img":
                    assert v.startswith("data:image/"), (where, value)
    low = html.lower()
    assert "<script" not in low and "<iframe" not in low, where
    return text


# --------------------------------------------------------------------------- escaping helpers

@pytest.mark.parametrize("payload", PAYLOADS)
def test_md_escape_renders_as_the_same_text_through_nbconvert(payload):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    md = (f"# Report: {i18n.md_escape(payload)}\n\n> **{i18n.md_escape(payload)}**\n\n"
          f"- {i18n.md_escape(payload)}\n- x {i18n.md_escape(payload)}\n\n"
          f"<small>k = {i18n.md_escape(payload)}</small>")
    html = markdown2html_mistune(md)
    text = assert_inert(html, payload)
    a, _ = audit(html)
    assert {t for t, _ in a.tags} <= {"h1", "a", "blockquote", "p", "strong", "ul", "li",
                                      "small"}, a.tags
    assert [t for t, _ in a.tags].count("a") == 1  # only the heading's own anchor link
    assert text.count(_norm(payload)) == 5, (text, payload)


def test_md_escape_keeps_plain_words_readable():
    assert i18n.md_escape("early read after four months") == "early read after four months"
    assert i18n.md_escape("fp-42 · 2026-01-01") == "fp-42 · 2026-01-01"
    assert i18n.md_escape("see https://x.example") == "see https\\://x.example"
    assert i18n.md_escape("휴면 고객 (30%)") == "휴면 고객 (30%)"
    assert i18n.md_escape("a\n\n  b") == "a b"


def test_safe_table_escapes_cells_and_headers():
    df = pd.DataFrame({"arm": PAYLOADS, PAYLOADS[1]: range(len(PAYLOADS))})
    html = safe_table(df).to_html()
    text = assert_inert(html)
    a, _ = audit(html)
    assert {t for t, _ in a.tags} <= {"style", "table", "thead", "tbody", "tr", "th", "td"}
    for p in PAYLOADS:
        assert _norm(p) in text, p
    assert "0" in text and "14" in text  # numbers still shown


def test_safe_table_keeps_plain_tables_as_pandas_shows_them():
    df = pd.DataFrame({"Arm": ["control", "coupon"], "Customers": ["1,204", "3,611"]})
    plain = df.style.hide(axis="index").to_html()
    assert audit(safe_table(df).to_html())[1] == audit(plain)[1]


def _fake_evaluation(text: str, lang: str):
    """The attributes the report's Markdown sections read, every text field set to ``text``."""
    from crmlab.campaign.evaluation import CONTROL

    audience = pd.DataFrame({"arm": [CONTROL, text], "n": [300, 700], "share": [0.3, 0.7]})
    return SimpleNamespace(
        lang=lang, exploratory=True, exploratory_reason=text, horizon_days=120.0, title=text,
        campaign=SimpleNamespace(scenario="custom", channel=text, start_ts="2024-03-01",
                                 end_ts="2024-03-08"),
        audience=audience, verdict=SimpleNamespace(headline=text, reasons=[text, f"{text}: x"]),
        data_quality=pd.DataFrame({"table": [], "check": [], "rows": [], "action": []}),
        exclusions=pd.DataFrame({"reason": [], "rows": []}), notes=[text, f"segment {text}"],
        spec={"seed": 0})


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_report_sections_escape_every_spec_and_data_text(lang):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from crmlab.campaign import report

    for payload in PAYLOADS:
        ev = _fake_evaluation(payload, lang)
        provenance = {"crmlab_version": payload, "git_commit": payload, "data_fingerprint": payload,
                      "seed": payload, "started_at": payload,
                      "parameters": {"title": payload, payload: [payload, {"k": payload}]}}
        for section in (report.header(ev), report.verdict(ev), report.data_quality(ev)):
            html = markdown2html_mistune(section)
            text = assert_inert(html, payload)
            a, _ = audit(html)
            assert all(t != "a" or dict(at).get("class") == "anchor-link" for t, at in a.tags)
            assert {t for t, _ in a.tags} <= {"h1", "h2", "a", "blockquote", "p", "strong",
                                              "ul", "li", "small", "hr"}, (payload, a.tags)
            assert _norm(payload)[:12] in text, (payload, text)
        # provenance: a two-column table of the same texts, escaped where it is shown
        prov = safe_table(report.provenance_table(ev, provenance)).to_html()
        assert {t for t, _ in audit(prov)[0].tags} <= {"style", "table", "thead", "tbody", "tr",
                                                        "th", "td"}, payload
        assert _norm(payload)[:12] in assert_inert(prov, payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_clean_fragment_removes_what_escaping_might_miss(payload):
    # raw, unescaped: the cleaner alone must make it inert
    cleaned = clean_fragment(f"<div class='jp-RenderedMarkdown'><p>{payload}</p></div>")
    assert_inert(cleaned, payload)
    assert "alert(" not in "".join(v or "" for _, attrs in audit(cleaned)[0].tags
                                   for _, v in attrs)


def test_clean_html_keeps_what_crmlab_emits():
    page = textwrap.dedent("""\
        <!DOCTYPE html>
        <html lang="ko">
        <head><meta charset="utf-8"/>
        <meta content="width=device-width, initial-scale=1.0" name="viewport"/>
        <title>winback_lms</title>
        <style type="text/css">:root { --x: 1 } .jp-a > p { color: #123 }
        i { background: url(data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=) }</style>
        <style type="text/css">@font-face { font-family: "crmlab Hangul";
          src: url(data:font/woff;base64,d09GRgABAAAA) format("woff"); }</style>
        </head>
        <body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
        <main>
        <div class="jp-Cell jp-MarkdownCell" id="cell-id=1" tabindex="0">
        <h1 id="Campaign-report">Campaign report<a class="anchor-link" href="#Campaign-report">¶</a></h1>
        <details><summary>why</summary><div class="reason">r</div></details>
        <div class="jp-RenderedImage" data-mime-type="image/png" tabindex="0">
        <img alt="No description has been provided for this image" class=""
             src="data:image/png;base64,iVBORw0KGgo="/></div>
        <style type="text/css">#T_1 th { text-align: left }</style>
        <table id="T_1"><thead><tr><th class="col_heading level0 col0" id="T_1_level0_col0">Arm</th>
        </tr></thead><tbody><tr><td class="data row0 col0" colspan="1" id="T_1_row0_col0">a</td>
        </tr></tbody></table>
        <a href="winback_lms/report.html">open report</a> <a href="https://crmlab.example/">x</a>
        </div></main>
        </body>
        </html>
        """)
    cleaned = clean_html(page)
    assert cleaned.startswith("<!DOCTYPE html>\n<html lang=\"ko\">\n<head>")
    assert ('<body class="jp-Notebook" data-jp-theme-light="true" '
            'data-jp-theme-name="JupyterLab Light">') in cleaned

    def structure(html):
        a, text = audit(html)
        tags = [(t, sorted((k, v) for k, v in at if k != "rel")) for t, at in a.tags]
        styles = [s for s in html.split("<style")[1:]]
        return tags, text, [s.split("</style>")[0] for s in styles]

    assert structure(cleaned) == structure(page)


def test_clean_html_on_hostile_pages():
    for payload in PAYLOADS:
        page = (f'<!DOCTYPE html><html lang="en" onload="alert(0)"><head><title>{payload}'
                f'</title><meta http-equiv="refresh" content="0;url=javascript:alert(1)">'
                f'<style>@import url(//evil.example/x.css); p {{ background: '
                f'url(https://evil.example/p) }}</style></head>'
                f'<body class="jp-Notebook" onpageshow="alert(0)">{payload}'
                f'<p>{payload}</p><table><tr><td>{payload}</td></tr></table></body></html>')
        cleaned = clean_html(page)
        assert_inert(cleaned, payload)
        sheets = re.findall(r"<style[^>]*>(.*?)</style>", cleaned, flags=re.S)
        assert sheets and not any("evil.example" in css or "@import" in css for css in sheets)
        assert all("evil" not in (v or "") for _, attrs in audit(cleaned)[0].tags
                   for _, v in attrs)
        assert "http-equiv" not in cleaned
        assert '<html lang="en">' in cleaned and '<body class="jp-Notebook">' in cleaned


# --------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def hostile_shop(small_shop_dir, tmp_path_factory) -> Path:
    """The small simulated shop with a payload in every string column, in a folder whose name
    is a payload too."""
    out = tmp_path_factory.mktemp("hostile") / "shop <svg onload=alert(20)> [z](javascript:1)"
    out.mkdir()
    for name in ("meta.json", "ground_truth.json"):
        if (small_shop_dir / name).exists():
            shutil.copy(small_shop_dir / name, out / name)

    def cycle(n, offset=0):
        return [PAYLOADS[(i + offset) % len(PAYLOADS)] for i in range(n)]

    campaigns = pd.read_parquet(small_shop_dir / "campaigns.parquet")
    campaigns["name"] = cycle(len(campaigns), 2)
    campaigns["description"] = cycle(len(campaigns), 5)
    campaigns.to_parquet(out / "campaigns.parquet", index=False)

    assignments = pd.read_parquet(small_shop_dir / "assignments.parquet")
    arms = sorted(set(assignments["arm"]) - {"control"})
    rename = {arm: PAYLOADS[(1 + i) % len(PAYLOADS)] + f" arm{i}" for i, arm in enumerate(arms)}
    assignments["arm"] = assignments["arm"].map(lambda a: rename.get(a, a))
    assignments.to_parquet(out / "assignments.parquet", index=False)

    customers = pd.read_parquet(small_shop_dir / "customers.parquet")
    regions = {r: PAYLOADS[i % len(PAYLOADS)] for i, r in enumerate(sorted(
        customers["region"].dropna().unique()))}
    customers["region"] = customers["region"].map(regions)
    customers["acquisition_channel"] = cycle(len(customers), 3)
    customers.to_parquet(out / "customers.parquet", index=False)

    orders = pd.read_parquet(small_shop_dir / "orders.parquet")
    orders["sales_channel"] = cycle(len(orders), 4)
    orders.to_parquet(out / "orders.parquet", index=False)
    events = pd.read_parquet(small_shop_dir / "events.parquet")
    events["product_category"] = cycle(len(events), 6)
    events.to_parquet(out / "events.parquet", index=False)
    return out


SPEC = """\
campaign_id: cart_reminder
title: {title}
data: {data}
primary_metric: {{name: conversion, window_days: 7}}
horizon_days: 120
exploratory: true
exploratory_reason: {reason}
segments: [rfm_segment, lifecycle_stage, region, acquisition_channel]
report_lang: {lang}
seed: 0
"""


def _run(hostile_shop, tmp_path_factory, lang: str, title: str | None):
    specs = tmp_path_factory.mktemp(f"specs_{lang}")
    (specs / "cart_reminder.yaml").write_text(SPEC.format(
        title=json.dumps(title), data=json.dumps(str(hostile_shop)),
        reason=json.dumps(PAYLOADS[3] + " " + PAYLOADS[6]), lang=lang), encoding="utf-8")
    out = tmp_path_factory.mktemp(f"reports_{lang}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "code_version", lambda notebook=None: {
            "crmlab_version": "0.0.test", "git_commit": "c" * 40, "git_dirty": False,
            "source_hash": "d" * 64})
        result = runner.run(specs, out=out, jobs=1, progress=False)
    return out, result


@pytest.fixture(scope="module")
def hostile_runs(hostile_shop, tmp_path_factory):
    # en: the spec's title is a payload; ko: no title, so the campaign's name (a payload in the
    # data) is the report's title
    return {"en": _run(hostile_shop, tmp_path_factory, "en", PAYLOADS[0] + " " + PAYLOADS[1]),
            "ko": _run(hostile_shop, tmp_path_factory, "ko", None)}


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_hostile_texts_stay_text_in_report_and_index(hostile_runs, hostile_shop, lang):
    out, result = hostile_runs[lang]
    assert result.exit_code == 0, result.reading
    report = (out / "cart_reminder" / "report.html").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    text = assert_inert(report, "report.html")
    assert_inert(index, "index.html")
    assert f'<html lang="{lang}">' in report

    assignments = pd.read_parquet(hostile_shop / "assignments.parquet")
    arms = set(assignments.loc[assignments["campaign_id"] == "cart_reminder", "arm"]) - {"control"}
    assert len(arms) == 2
    expected = [*sorted(arms), PAYLOADS[3] + " " + PAYLOADS[6]]     # arm labels, exploratory reason
    if lang == "en":
        expected.append(PAYLOADS[0] + " " + PAYLOADS[1])    # the spec's title
    else:
        campaigns = pd.read_parquet(hostile_shop / "campaigns.parquet")
        expected.append(campaigns.set_index("campaign_id").loc["cart_reminder", "name"])
    for p in expected:
        assert _norm(p) in text, (lang, p)
    regions = set(pd.read_parquet(hostile_shop / "customers.parquet")["region"])
    assert any(_norm(r) in text for r in regions), "segment labels from the data are shown"
    assert str(hostile_shop.name) in _norm(text)                # the data path, in the footer

    results = json.loads((out / "cart_reminder" / "results.json").read_text(encoding="utf-8"))
    assert set(results["audience"]["arms"]) == {"control", *arms}


def test_cleaning_leaves_the_real_report_unchanged(hostile_runs, monkeypatch, tmp_path):
    """The cleaner removes nothing crmlab itself emits: rendering the same notebook without it
    gives the same elements, attributes (bar link rel) and text."""
    from crmlab.reporting import sanitize

    out, _ = hostile_runs["ko"]
    cleaned = (out / "cart_reminder" / "report.html").read_text(encoding="utf-8")
    monkeypatch.setattr(sanitize, "clean_html", lambda page: page)
    raw = runner.render_html(out / "cart_reminder" / "report.ipynb", tmp_path / "raw.html",
                             lang="ko").read_text(encoding="utf-8")
    assert "crmlab Hangul" in cleaned and "data:font/woff;base64," in cleaned

    def structure(html):
        a, text = audit(html)
        return [(t, sorted((k, v) for k, v in at if k != "rel")) for t, at in a.tags], text

    assert structure(cleaned) == structure(raw)


# --------------------------------------------------------------------------- no customer ids

SECRET = "SECRETCUST"          # every customer id and order id below contains it
SECRET_INT = 987654320         # integer ids (the type-mismatch case) start here


def test_contract_error_keeps_examples_apart():
    from crmlab.data.errors import (REDACT_ENV, DataContractError, public_message,
                                    redacted_examples)

    err = DataContractError("customers", "customer_id", "duplicate key (1 value repeated)", 2,
                            [f"{SECRET}-7"])
    assert err.examples == [f"{SECRET}-7"]
    assert err.with_examples.endswith(f"examples: '{SECRET}-7'")
    assert err.redacted == ("customers.customer_id: duplicate key (1 value repeated) — 2 rows; "
                            "1 example value withheld (`crmlab validate` shows it)")
    assert SECRET not in repr(err) and SECRET not in public_message(err)
    with redacted_examples():
        assert str(err) == err.redacted and os.environ[REDACT_ENV] == "1"
        assert SECRET not in "".join(traceback.format_exception(err))
    assert REDACT_ENV not in os.environ
    assert str(err) == err.with_examples             # the analyst's own session
    back = pickle.loads(pickle.dumps(err))
    assert back.examples == err.examples and back.redacted == err.redacted
    plain = DataContractError("orders", None, "table is empty: nothing to analyse", 0)
    assert plain.redacted == str(plain) == "orders: table is empty: nothing to analyse — 0 rows"
    assert public_message(ValueError("x")) == "x"


def _secret_tables():
    from crmlab.data.examples import tiny_tables

    t = {k: v.copy() for k, v in tiny_tables().items()}
    ids = {c: f"{SECRET}-{c:05d}" for c in t["customers"]["customer_id"]}
    for name in ("customers", "orders", "events", "assignments"):
        t[name]["customer_id"] = t[name]["customer_id"].map(ids)
    t["orders"]["order_id"] = [f"{SECRET}-ORDER-{i}" for i in range(len(t["orders"]))]
    return t


def _dup_customer(t):
    t["customers"] = pd.concat([t["customers"], t["customers"].iloc[[1, 3]]], ignore_index=True)


def _dup_order(t):
    t["orders"].loc[[2, 3], "order_id"] = f"{SECRET}-ORDER-0"


def _null_order_id(t):  # the examples show customer_id and order_ts
    t["orders"].loc[4, "order_id"] = None


def _dup_assignment(t):
    t["assignments"] = pd.concat([t["assignments"], t["assignments"].iloc[[0]]],
                                 ignore_index=True)


def _id_type_mismatch(t):
    t["events"]["customer_id"] = [SECRET_INT + i for i in range(len(t["events"]))]


BAD_DATA = {"dup_customer": _dup_customer, "dup_order": _dup_order,
            "null_order_id": _null_order_id, "dup_assignment": _dup_assignment,
            "id_type_mismatch": _id_type_mismatch}


def _files_under(root: Path) -> dict[Path, str]:
    return {p: p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()}


def test_failed_runs_write_no_customer_id(tmp_path, monkeypatch):
    """Data-contract failures are recorded with table, column, problem and row count, but no
    example value reaches results.json, run.log, index.html or anything else under --out."""
    import crmlab
    from crmlab.data.errors import DataContractError
    from crmlab.data.examples import write_tables

    specs = tmp_path / "specs"
    specs.mkdir()
    expected = {}
    for case, mutate in BAD_DATA.items():
        t = _secret_tables()
        mutate(t)
        data = write_tables(t, tmp_path / "data" / case)
        with pytest.raises(DataContractError) as exc:
            crmlab.load(data)
        # the analyst's terminal sees the examples
        assert SECRET in str(exc.value) or str(SECRET_INT) in str(exc.value), str(exc.value)
        expected[case] = exc.value.redacted
        (specs / f"{case}.yaml").write_text(f"campaign_id: {case}\ndata: {json.dumps(str(data))}\n",
                                           encoding="utf-8")
    # and one whose data load, but whose notebook fails on a contract error in the kernel
    good = write_tables(_secret_tables(), tmp_path / "data" / "good")
    (specs / "boom_in_kernel.yaml").write_text(
        f"campaign_id: boom_in_kernel\ndata: {json.dumps(str(good))}\n", encoding="utf-8")
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "crmlab", "display_name": "crmlab",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell(
        'spec_path = data_dir = results_path = report_lang = None\nprovenance_json = "{}"')
    # the ids come from the data (as they would), not from the notebook's source
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import crmlab\n"
        "from crmlab.data.errors import DataContractError\n"
        "ids = crmlab.load(data_dir).customers.customer_id.to_pandas().tolist()[:2]\n"
        "raise DataContractError('orders', 'customer_id', 'customer not in customers', 2, ids)")]
    notebook = tmp_path / "failing.ipynb"
    nbformat.write(nb, notebook)

    monkeypatch.setattr(runner, "code_version", lambda notebook=None: {
        "crmlab_version": "0.0.test", "git_commit": "e" * 40, "git_dirty": False,
        "source_hash": "f" * 64})
    out = tmp_path / "out"
    result = runner.run(specs, out=out, notebook=notebook, progress=False)
    assert result.exit_code == 1
    assert {c["campaign_id"] for c in result.failed} == {*BAD_DATA, "boom_in_kernel"}

    files = _files_under(out)
    assert {p.name for p in files} >= {"results.json", "run.log", "index.html", "report.ipynb"}
    for path, text in files.items():
        for secret in (SECRET, str(SECRET_INT)[:8]):
            at = text.find(secret)
            assert at < 0, (path, text[max(0, at - 200):at + 80])
    index = (out / "index.html").read_text(encoding="utf-8")
    for case, message in expected.items():
        res = json.loads((out / case / "results.json").read_text(encoding="utf-8"))
        assert res["status"] == "failed" and message in res["error"], (case, res["error"])
        assert "withheld" in res["error"] and " row" in res["error"]
        assert message.split(";")[0] in (out / case / "run.log").read_text(encoding="utf-8")
        assert _norm(message.split(";")[0]) in audit(index)[1]
    res = json.loads((out / "boom_in_kernel" / "results.json").read_text(encoding="utf-8"))
    assert res["error"].startswith("DataContractError")
    assert "customer not in customers — 2 rows; 2 example values withheld" in res["error"]
