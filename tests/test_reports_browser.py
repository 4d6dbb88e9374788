"""The real campaign report end to end, read the way a stakeholder reads it.

``notebooks/campaign_report.ipynb`` runs through the runner on a small simulated shop whose
customer ids were rewritten to distinctive strings, so that any id leaking into a report can be
found. Then: results.json read back against the contract, reproducibility of a forced rerun,
self-contained HTML, no customer identifier in any report, and headless Chromium (Debian's
``chromium`` package, installed here when missing) loading ``report.html`` and ``index.html``
without console errors and rendering a non-blank page.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmlab import runner

CHROMIUM = "/usr/bin/chromium"
CAMPAIGNS = ["winback_lms", "cart_reminder"]        # one two-arm, one three-arm campaign
ID_PATTERN = re.compile(r"CU[0-9a-f]{8}")


# --------------------------------------------------------------------------- the real run

@pytest.fixture(scope="module")
def string_id_shop(small_shop_dir, tmp_path_factory) -> tuple[Path, set[str]]:
    """The small simulated shop with every customer_id rewritten as 'CU' + 8 hex digits."""
    out = tmp_path_factory.mktemp("string_id_shop")
    customers = pd.read_parquet(small_shop_dir / "customers.parquet")
    rng = np.random.default_rng(11)
    codes = rng.choice(16 ** 8, size=len(customers), replace=False)
    mapping = {cid: f"CU{code:08x}" for cid, code in zip(customers["customer_id"], codes)}
    for table in ("customers", "orders", "events", "assignments", "consent_events",
                  "holdout_periods"):
        if not (small_shop_dir / f"{table}.parquet").exists():
            continue
        df = pd.read_parquet(small_shop_dir / f"{table}.parquet")
        df["customer_id"] = df["customer_id"].map(mapping).astype(str)
        df.to_parquet(out / f"{table}.parquet", index=False)
    for name in ("campaigns.parquet", "meta.json", "ground_truth.json"):
        if (small_shop_dir / name).exists():
            shutil.copy(small_shop_dir / name, out / name)
    return out, set(mapping.values())


@pytest.fixture(scope="module")
def real_run(string_id_shop, repo_root, tmp_path_factory):
    notebook = repo_root / "notebooks" / "campaign_report.ipynb"
    if not notebook.is_file():
        pytest.skip("notebooks/campaign_report.ipynb is not in this checkout")
    data_dir, _ = string_id_shop
    out = tmp_path_factory.mktemp("real_reports")
    fixed = {"crmlab_version": "0.0.test", "git_commit": "a" * 40, "git_dirty": False,
             "source_hash": "b" * 64}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "code_version", lambda notebook=None: dict(fixed))
        result = runner.run(repo_root / "experiments", data=data_dir, out=out, jobs=2,
                            only=CAMPAIGNS, notebook=notebook, progress=False)
        first = {cid: json.loads((out / cid / "results.json").read_text())
                 for cid in CAMPAIGNS}
        again = runner.run(repo_root / "experiments", data=data_dir, out=out,
                           only=CAMPAIGNS[0], force=True, notebook=notebook, progress=False)
    return out, result, first, again


def test_real_notebook_runs_every_campaign(real_run):
    out, result, first, again = real_run
    assert result.exit_code == 0, result.reading
    assert again.exit_code == 0, again.reading
    for cid in CAMPAIGNS:
        for name in ("report.ipynb", "report.html", "results.json", "run.log"):
            assert (out / cid / name).is_file(), (cid, name)


def test_results_json_read_back_against_the_contract(real_run):
    out, _, first, _ = real_run
    for cid, res in first.items():
        assert res["campaign_id"] == cid and res["status"] == "ok"
        assert res["currency"] == "KRW"
        assert res["verdict"]["decision"] in {"ship", "iterate", "stop", "inconclusive"}
        treatment_arms = set(res["audience"]["arms"]) - {"control"}
        assert {r["arm"] for r in res["primary"]} == treatment_arms
        for row in res["primary"]:
            assert set(row) >= {"arm", "metric", "value", "control_value", "abs_lift", "ci_low",
                                "ci_high", "p_value"}
        for row in res["long_term"]:
            assert set(row) >= {"arm", "horizon_days", "hazard_ratio", "hr_ci_low",
                                "hr_ci_high", "rmst_diff_days", "ltv_lift", "ltv_ci_low",
                                "ltv_ci_high"}
            assert row["horizon_days"] >= 183
        assert {r["arm"] for r in res["long_term"]} == treatment_arms
        prov = res["provenance"]
        for key in ("crmlab_version", "git_commit", "git_dirty", "data_fingerprint",
                    "parameters", "seed", "packages", "started_at", "finished_at"):
            assert key in prov
        assert prov["parameters"]["campaign_id"] == cid
    assert len(first["cart_reminder"]["primary"]) == 2               # two treatment arms


def test_real_report_reproducible(real_run):
    out, _, first, _ = real_run
    cid = CAMPAIGNS[0]
    second = json.loads((out / cid / "results.json").read_text())
    assert second["provenance"]["started_at"] >= first[cid]["provenance"]["started_at"]
    strip = lambda r: {**r, "provenance": {k: v for k, v in r["provenance"].items()  # noqa: E731
                                           if k not in runner.TIMING_FIELDS}}
    assert strip(second) == strip(first[cid])


def test_every_report_file_is_self_contained(real_run):
    out, *_ = real_run
    pages = sorted(out.glob("*/report.html")) + [out / "index.html"]
    assert len(pages) == len(CAMPAIGNS) + 1
    external = re.compile(r"<(?:script|link|img|source|iframe|embed|object)\b[^>]*"
                          r"\b(?:src|href|data)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not external.findall(html), (page, external.findall(html)[:3])
        assert not re.search(r"(?:@import|url\()\s*[\"']?\s*(?:https?:)?//", html), page
    report = (out / CAMPAIGNS[0] / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in report                       # figures inline
    assert "spec_path" not in report and "provenance_json" not in report   # inputs hidden


def test_no_customer_identifier_in_any_report(real_run, string_id_shop):
    out, *_ = real_run
    _, ids = string_id_shop
    files = [p for p in out.rglob("*") if p.suffix in (".html", ".json")]
    assert files
    for path in files:
        found = set(ID_PATTERN.findall(path.read_text(encoding="utf-8"))) & ids
        assert not found, (path, sorted(found)[:5])
    # the check can fail: the ids are in the data the reports were computed from
    assets = pd.read_parquet(string_id_shop[0] / "assignments.parquet")
    assert set(assets["customer_id"]) <= ids and ID_PATTERN.fullmatch(assets["customer_id"][0])


# --------------------------------------------------------------------------- the browser

def _install_chromium() -> str | None:
    """Debian's chromium, installed with apt-get when missing; None when that fails."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "install", "-y", "-q", "chromium"],
                [apt, "update", "-q"], [apt, "install", "-y", "-q", "chromium"]):
        try:
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        if os.path.exists(CHROMIUM):
            return CHROMIUM
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = _install_chromium()
    if path is None:
        pytest.skip("headless Chromium is not available and `apt-get install -y chromium` "
                    "failed (no root or no package registry): browser checks skipped")
    return path


class Browser:
    """Headless Chromium driven over the DevTools protocol (websocket-client)."""

    def __init__(self, exe: str, profile: Path):
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--disable-default-apps", f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--window-size=1280,900", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        port = None
        while time.time() < deadline and port is None:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        if port is None:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")
        self.port = port
        self._id = 0

    def _new_page(self):
        """A fresh tab per page, so that no console message of an earlier page is replayed."""
        import websocket

        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank",
                                     method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            target = json.load(r)
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30,
                                         suppress_origin=True)
        return ws, target["id"]

    def _close_page(self, target_id: str) -> None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/close/{target_id}",
                                   timeout=10).close()
        except OSError:
            pass

    def _call(self, ws, method, params=None, events=None):
        self._id += 1
        ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if events is not None and "method" in msg:
                events.append(msg)

    def load(self, url: str, settle: float = 1.5) -> tuple[list[str], bytes]:
        """Open ``url``; return (console/JS/network errors, PNG screenshot)."""
        errors, shot, _ = self.open(url, settle=settle)
        return errors, shot

    def open(self, url: str, settle: float = 1.5, width: int | None = None, height: int = 900,
             expression: str | None = None) -> tuple[list[str], bytes, Any]:
        """Open ``url`` in a window ``width`` x ``height`` CSS pixels (default the browser's);
        return (errors, PNG screenshot, the value of the JavaScript ``expression`` evaluated in
        the loaded page)."""
        ws, target_id = self._new_page()
        events: list[dict] = []
        value = None
        try:
            for method in ("Runtime.enable", "Log.enable", "Page.enable"):
                self._call(ws, method, events=events)
            if width is not None:
                self._call(ws, "Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1,
                            "mobile": False}, events=events)
            self._call(ws, "Page.navigate", {"url": url}, events=events)
            deadline = time.time() + 60
            while time.time() < deadline:
                msg = json.loads(ws.recv())
                events.append(msg)
                if msg.get("method") == "Page.loadEventFired":
                    break
            ws.settimeout(settle)
            try:
                while True:
                    events.append(json.loads(ws.recv()))
            except Exception:  # noqa: BLE001 - the settle time is over
                ws.settimeout(30)
            shot = self._call(ws, "Page.captureScreenshot", {"format": "png"}, events=events)
            if expression is not None:
                res = self._call(ws, "Runtime.evaluate",
                                 {"expression": expression, "returnByValue": True},
                                 events=events)
                if "exceptionDetails" in res:
                    raise RuntimeError(f"evaluating {expression[:60]!r}: "
                                       f"{res['exceptionDetails']}")
                value = res.get("result", {}).get("value")
        finally:
            ws.close()
            self._close_page(target_id)
        errors = []
        for e in events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                     for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                errors.append("exception: " + str(d.get("exception", {}).get("description")
                                                  or d.get("text")))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
        return errors, base64.b64decode(shot["data"]), value

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    b = Browser(chromium, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def _non_blank(png: bytes) -> tuple[float, float]:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return float(img.std()), float((img < 200).mean())


@pytest.mark.browser
def test_browser_harness_detects_errors_and_blank_pages(browser, tmp_path):
    """The checks below can fail: a page with a console error, a thrown exception and an
    external script is reported, and an empty page is blank."""
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><script src="https://cdn.example.com/x.js"></script>'
                   '<script>console.error("deliberate"); missingFunction();</script>'
                   '</body></html>')
    errors, png = browser.load(bad.as_uri())
    text = "\n".join(errors)
    assert "deliberate" in text and "missingFunction" in text
    assert "cdn.example.com" in text                                  # the blocked fetch
    std, ink = _non_blank(png)
    assert std < 1 and ink == 0                                       # nothing drawn


@pytest.mark.browser
def test_report_and_index_open_in_chromium(browser, real_run, tmp_path):
    out, *_ = real_run
    for page in [out / CAMPAIGNS[0] / "report.html", out / CAMPAIGNS[1] / "report.html",
                 out / "index.html"]:
        errors, png = browser.load(page.as_uri())
        assert errors == [], (page.name, errors)
        (tmp_path / f"{page.parent.name}-{page.stem}.png").write_bytes(png)
        std, ink = _non_blank(png)
        assert std > 10 and ink > 0.01, (page, std, ink)
    # the Korean portfolio, with its inline Hangul font, opens cleanly too
    ko = runner.build_index(out, lang="ko")
    errors, png = browser.load(ko.as_uri())
    assert errors == [], errors
    assert _non_blank(png)[1] > 0.01
    runner.build_index(out, lang="en")


# --------------------------------------------------------------------------- layout

#: The page's width against the window's, and the first elements that stick out of the window
#: without a scrolling box of their own around them.
OVERFLOW_JS = r"""(() => {
  const w = window.innerWidth;
  const boxed = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5 && !boxed(el)) {
      const cls = typeof el.className === 'string' && el.className.trim()
        ? '.' + el.className.trim().split(/\s+/).join('.') : '';
      wide.push(el.tagName.toLowerCase() + cls + ' right=' + Math.round(r.right));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: w,
          wide: wide.slice(0, 5)};
})()"""

#: What a reader finds on a report page: its title, the way back, the contents and where they
#: lead, and how table cells are aligned.
REPORT_JS = r"""(() => {
  const toc = [...document.querySelectorAll('nav.crmlab-toc a')];
  const cells = [...document.querySelectorAll('.crmlab-table td')];
  const align = (sel) => [...new Set([...document.querySelectorAll(sel)]
                                     .map(td => getComputedStyle(td).textAlign))];
  return {title: document.title, h1: (document.querySelector('h1') || {}).textContent || '',
          back: (document.querySelector('nav.crmlab-nav a') || {}).getAttribute?.('href'),
          toc: toc.length,
          tocTargets: toc.filter(a => document.getElementById(
              decodeURIComponent(a.getAttribute('href').slice(1)))).length,
          numAlign: align('.crmlab-table td.num'),
          textAlign: align('.crmlab-table td:not(.num)'),
          cells: cells.length,
          numCells: document.querySelectorAll('.crmlab-table td.num').length};
})()"""

WIDTHS = (1280, 900, 500)   # a desktop, a narrow laptop or tablet, a phone-sized window


def _fits(browser: Browser, page: Path, width: int) -> tuple[list[str], dict]:
    errors, _, m = browser.open(page.as_uri(), width=width, height=900, settle=0.5,
                                expression=OVERFLOW_JS)
    return errors, m


@pytest.mark.browser
def test_layout_harness_detects_sideways_overflow(browser, tmp_path):
    """The width check can fail: a 2,000 px block widens a 500 px window's page; the same block
    inside a scrolling box does not."""
    wide = tmp_path / "wide.html"
    wide.write_text('<html><body><p>x</p><div id="w" style="width:2000px">wide</div></body></html>')
    errors, m = _fits(browser, wide, 500)
    assert errors == [] and m["innerWidth"] == 500
    assert m["scrollWidth"] >= 2000 and any(w.startswith("div") for w in m["wide"])
    boxed = tmp_path / "boxed.html"
    boxed.write_text('<html><body><div style="overflow-x:auto"><div style="width:2000px">wide'
                     '</div></div></body></html>')
    errors, m = _fits(browser, boxed, 500)
    assert errors == [] and m["scrollWidth"] <= 500 and m["wide"] == []


@pytest.fixture(scope="module")
def ko_run(string_id_shop, repo_root, tmp_path_factory) -> Path:
    """The same campaigns as ``real_run``, reported in Korean."""
    data_dir, _ = string_id_shop
    out = tmp_path_factory.mktemp("real_reports_ko")
    fixed = {"crmlab_version": "0.0.test", "git_commit": "a" * 40, "git_dirty": False,
             "source_hash": "b" * 64}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "code_version", lambda notebook=None: dict(fixed))
        result = runner.run(repo_root / "experiments", data=data_dir, out=out, jobs=2,
                            only=CAMPAIGNS, report_lang="ko",
                            notebook=repo_root / "notebooks" / "campaign_report.ipynb",
                            progress=False)
    assert result.exit_code == 0, result.reading
    return out


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_page_fits_1280_and_500_px_windows(browser, real_run, request, lang):
    """The portfolio, the program page and every report, in English and Korean, at 1280 px,
    900 px and in a 500 px window: no console error and nothing wider than the window (wide tables scroll inside
    their own box)."""
    out = real_run[0] if lang == "en" else request.getfixturevalue("ko_run")
    pages = sorted(out.glob("*/report.html")) + [out / "index.html", out / "program.html"]
    assert len(pages) == len(CAMPAIGNS) + 2 and (out / "program.html").is_file()
    problems = []
    for page in pages:
        assert f'<html lang="{lang}">' in page.read_text(encoding="utf-8")
        for width in WIDTHS:
            errors, m = _fits(browser, page, width)
            assert m["innerWidth"] == width
            if errors:
                problems.append((page.parent.name, page.name, width, errors))
            if m["scrollWidth"] > m["innerWidth"] or m["wide"]:
                problems.append((page.parent.name, page.name, width, m))
    assert problems == []


@pytest.mark.browser
def test_report_page_reads_as_a_page(browser, real_run):
    """Title from the campaign's title, a link back to the portfolio, a table of contents whose
    every entry leads to a section, numbers right-aligned and text left-aligned."""
    out, _, first, _ = real_run
    for cid in CAMPAIGNS:
        _, _, r = browser.open((out / cid / "report.html").as_uri(), width=1280, settle=0.3,
                               expression=REPORT_JS)
        assert r["title"] == first[cid]["title"] != cid
        assert r["back"] == "../index.html"
        assert r["toc"] >= 6 and r["tocTargets"] == r["toc"]
        assert r["numAlign"] == ["right"] and r["textAlign"] == ["left"]
        assert 0 < r["numCells"] < r["cells"]


BANNER_JS = r"""(() => {
  const bg = (sel) => getComputedStyle(document.querySelector(sel)).backgroundColor;
  const keys = [...document.querySelectorAll('.crmlab-key')];
  return {banners: ['ship', 'iterate', 'stop', 'inconclusive'].map(
            d => bg('.crmlab-verdict.' + d)),
          bullets: keys.map(k => getComputedStyle(k).listStyleType),
          keyTops: [...new Set(keys.map(k => Math.round(k.getBoundingClientRect().top)))].length,
          sigUp: getComputedStyle(document.querySelector('td.sig-up')).color,
          sigDown: getComputedStyle(document.querySelector('td.sig-down')).color,
          plain: getComputedStyle(document.querySelector('td.plain')).color};
})()"""


@pytest.mark.browser
def test_verdict_banner_and_key_strip_render(browser, tmp_path):
    """A Markdown cell's verdict banner and key-numbers strip, and significance classes on
    cells, as the report's style sheet draws them: four banner colours, cards without bullets
    that wrap onto more rows in a narrow window, green and red cells, nothing too wide."""
    import nbformat as nbf

    keys = "".join(f'<li class="crmlab-key"><span class="crmlab-key-label">Key {i}</span>'
                   f'<span class="crmlab-key-value">+₩1,911,620</span>'
                   f'<span class="crmlab-key-note">[−₩2,270,752, +₩6,093,992]</span></li>'
                   for i in range(6))
    banners = "\n\n".join(f'<div class="crmlab-verdict {d}"><span class="crmlab-verdict-label">'
                          f'{d}</span>One sentence.</div>'
                          for d in ("ship", "iterate", "stop", "inconclusive"))
    table = ('<table><thead><tr><th>Metric</th><th>Lift</th></tr></thead><tbody>'
             '<tr><td>a</td><td class="sig-up">+2.1 pp</td></tr>'
             '<tr><td>b</td><td class="sig-down">−6.1 pp</td></tr>'
             '<tr><td>c</td><td class="plain">+0.1 pp</td></tr></tbody></table>')
    code = nbf.v4.new_code_cell("")
    code.outputs = [
        nbf.v4.new_output("display_data", data={"text/markdown": (
            f'## Verdict\n\n{banners}\n\n<ul class="crmlab-keys">{keys}</ul>')}),
        nbf.v4.new_output("display_data", data={"text/html": table})]
    nb = nbf.v4.new_notebook()
    nb.cells = [nbf.v4.new_markdown_cell("# Campaign report: sample"), code,
                nbf.v4.new_markdown_cell("## Economics\n\nText.")]
    (tmp_path / "c").mkdir()
    nbf.write(nb, tmp_path / "c" / "report.ipynb")
    page = runner.render_html(tmp_path / "c" / "report.ipynb", lang="en")
    rows = {}
    for width in (1280, 500):
        errors, _, r = browser.open(page.as_uri(), width=width, settle=0.3,
                                    expression=BANNER_JS)
        assert errors == []
        assert len(set(r["banners"])) == 4 and "rgba(0, 0, 0, 0)" not in r["banners"]
        assert set(r["bullets"]) == {"none"}
        assert len({r["sigUp"], r["sigDown"], r["plain"]}) == 3
        rows[width] = r["keyTops"]
        _, m = _fits(browser, page, width)
        assert m["scrollWidth"] <= width and m["wide"] == [], m
    assert rows[500] > rows[1280] >= 1
