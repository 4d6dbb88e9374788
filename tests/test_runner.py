"""The batch runner: papermill per spec, failure isolation, atomic outputs, skip/force,
reproducibility, self-contained HTML and the portfolio index.

Runner mechanics use a small stand-in report notebook (built here with nbformat) that follows
the campaign notebook's parameter contract and writes a results.json computed from the data;
``test_real_campaign_notebook_end_to_end`` runs the real ``notebooks/campaign_report.ipynb`` on
a small simulated shop.
"""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from crmlab import runner

FIXED_CODE = {"crmlab_version": "0.0.test", "git_commit": "f" * 40, "git_dirty": False,
              "source_hash": "0" * 64}

STANDIN_CODE = r'''
import json, os, time
import matplotlib.pyplot as plt
import crmlab
from crmlab.experiments import load_spec

spec = load_spec(spec_path)
if spec.campaign_id.startswith("boom"):
    raise RuntimeError("deliberate failure for " + spec.campaign_id)
if spec.campaign_id.startswith("sleepy"):
    time.sleep(60)
data = crmlab.load(data_dir)
arms = data.assignments.group_by("arm").aggregate(n=data.assignments.count()).to_pandas()
arms = dict(zip(arms["arm"], arms["n"].astype(int)))
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(list(arms), list(arms.values()), color="tab:blue")
ax.set_title("고객 수 by arm")
plt.show()
lang = report_lang or spec.report_lang
results = {
    "campaign_id": spec.campaign_id, "title": spec.title or spec.campaign_id, "status": "ok",
    "scenario": "winback", "channel": "kakao_alimtalk", "start_ts": "2024-03-01",
    "end_ts": "2024-03-08", "exploratory": spec.exploratory,
    "exploratory_reason": spec.exploratory_reason, "report_lang": lang,
    "currency": data.currency,
    "audience": {"n_total": int(sum(arms.values())), "arms": arms},
    "verdict": {"decision": "ship", "reasons": ["primary lift CI above 0"]},
    "primary": [{"arm": "treatment", "metric": "conversion", "value": 0.05,
                 "control_value": 0.03, "abs_lift": 0.02, "ci_low": 0.005, "ci_high": 0.035,
                 "p_value": 0.01}],
    "long_term": [{"arm": "treatment", "horizon_days": spec.horizon_days, "hazard_ratio": 0.9,
                   "hr_ci_low": 0.8, "hr_ci_high": 1.0, "rmst_diff_days": 3.2,
                   "ltv_lift": 1234.5, "ltv_ci_low": -200.0, "ltv_ci_high": 2600.0}],
    "guardrails": [{"arm": "treatment", "metric": "unsubscribe_rate", "value": 0.004,
                    "control_value": 0.0, "abs_lift": 0.004, "ci_low": 0.001,
                    "ci_high": 0.007, "threshold": 0.005, "breached": False}],
    "economics": [{"arm": "treatment", "roi": 0.35, "roi_ci_low": -0.1, "roi_ci_high": 0.8}],
    "seed_check": spec.seed,
    "provenance": json.loads(provenance_json),
}
tmp = results_path + ".tmp"
with open(tmp, "w", encoding="utf-8") as fh:
    json.dump(results, fh)
os.replace(tmp, results_path)
print("evaluated", spec.campaign_id, "— 평가 완료")
'''


def write_standin_notebook(path: Path) -> Path:
    """A minimal parameterized report following the campaign notebook's contract."""
    import nbformat as nbf

    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "crmlab", "display_name": "crmlab (Python 3.11)",
                                 "language": "python"}
    params = nbf.v4.new_code_cell(textwrap.dedent('''\
        spec_path = "../experiments/example.yaml"
        data_dir = "../data/demo"
        results_path = "results.json"
        report_lang = None
        provenance_json = "{}"'''))
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbf.v4.new_markdown_cell("# Stand-in campaign report\n\n## Audience"), params,
                nbf.v4.new_code_cell(STANDIN_CODE)]
    nbf.write(nb, path)
    return path


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    return write_standin_notebook(tmp_path_factory.mktemp("nb") / "standin.ipynb")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    from crmlab.data.examples import tiny_tables, write_tables

    out = tmp_path_factory.mktemp("tiny_data")
    write_tables(tiny_tables(), out)
    return out


@pytest.fixture(autouse=True)
def fixed_code_version(monkeypatch):
    """The working tree may change while tests run; pin the code version they see."""
    monkeypatch.setattr(runner, "code_version", lambda notebook=None: dict(FIXED_CODE))


def write_spec(directory: Path, campaign_id: str, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{campaign_id}.yaml"
    path.write_text(f"campaign_id: {campaign_id}\n{textwrap.dedent(extra)}", encoding="utf-8")
    return path


def without_timing(results: dict) -> dict:
    results = json.loads(json.dumps(results))
    for key in runner.TIMING_FIELDS:
        results.get("provenance", {}).pop(key, None)
    return results


EXTERNAL = re.compile(
    r"<(?:script|link|img|source|iframe|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*"
    r"[\"']?\s*(?:https?:)?//", re.IGNORECASE)
CSS_EXTERNAL = re.compile(r"(?:@import|url\()\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)


def assert_self_contained(html: str) -> None:
    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)[:3]
    assert not CSS_EXTERNAL.findall(html)
    assert "require.min.js" not in html and "MathJax.js" not in html


# --------------------------------------------------------------------------- the batch

@pytest.fixture(scope="module")
def batch(tmp_path_factory, standin, tiny_data):
    """Two good campaigns, one whose notebook raises, one refused spec — run with 2 jobs."""
    base = tmp_path_factory.mktemp("batch")
    exp = base / "experiments"
    write_spec(exp, "good_a", "title: 윈백 쿠폰 A\nhorizon_days: 200\nseed: 3\n")
    write_spec(exp, "good_b", """\
        horizon_days: 90
        exploratory: true
        exploratory_reason: only three months of follow-up so far
    """)
    write_spec(exp, "boom_c")
    write_spec(exp, "short_d", "horizon_days: 90\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "code_version", lambda notebook=None: dict(FIXED_CODE))
        result = runner.run(exp, data=tiny_data, out=base / "reports", jobs=2,
                            notebook=standin, progress=False)
    return base, result


def test_batch_end_to_end_two_campaigns(batch):
    base, result = batch
    status = {c["campaign_id"]: c["status"] for c in result.campaigns}
    assert status == {"good_a": "ok", "good_b": "ok", "boom_c": "failed", "short_d": "failed"}
    for cid in ("good_a", "good_b"):
        folder = base / "reports" / cid
        for name in ("report.ipynb", "report.html", "results.json", "run.log"):
            assert (folder / name).is_file(), (cid, name)
        res = json.loads((folder / "results.json").read_text())
        assert res["status"] == "ok" and res["campaign_id"] == cid
        # the notebook computed from the data: tiny_tables has 6 customers in its campaign
        assert res["audience"]["n_total"] == sum(res["audience"]["arms"].values()) > 0
        prov = res["provenance"]
        for key in ("crmlab_version", "git_commit", "git_dirty", "data_fingerprint",
                    "parameters", "seed", "packages", "started_at", "finished_at"):
            assert key in prov, key
        assert prov["finished_at"] >= prov["started_at"]
        assert prov["parameters"]["campaign_id"] == cid
        assert prov["packages"]["pandas"] and prov["packages"]["papermill"]
        assert len(prov["data_fingerprint"]) == 64
        assert "evaluated " + cid in (folder / "run.log").read_text()
    a = json.loads((base / "reports/good_a/results.json").read_text())
    assert a["seed_check"] == a["provenance"]["seed"] == 3
    assert a["provenance"]["parameters"]["horizon_days"] == 200
    # the executed notebook holds the injected parameters
    nb = json.loads((base / "reports/good_a/report.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])


def test_failure_isolation_names_the_broken_campaigns(batch):
    base, result = batch
    assert result.exit_code == 1
    failed = {c["campaign_id"]: c["error"] for c in result.failed}
    assert set(failed) == {"boom_c", "short_d"}
    assert "RuntimeError" in failed["boom_c"] and "deliberate failure" in failed["boom_c"]
    # the failing notebook is kept, executed up to the error
    nb = json.loads((base / "reports/boom_c/report.ipynb").read_text())
    assert any(o.get("output_type") == "error" for c in nb["cells"]
               for o in c.get("outputs", []))
    res = json.loads((base / "reports/boom_c/results.json").read_text())
    assert res["status"] == "failed" and "deliberate failure" in res["error"]
    assert res["provenance"]["finished_at"]
    assert "deliberate failure" in (base / "reports/boom_c/run.log").read_text()
    # the refused spec: no execution, the six-month minimum named
    res = json.loads((base / "reports/short_d/results.json").read_text())
    assert res["status"] == "failed"
    assert "six-month (183-day) minimum" in res["error"]
    assert not (base / "reports/short_d/report.ipynb").exists()


def test_outputs_written_atomically_no_leftovers(batch):
    base, _ = batch
    leftovers = [p for p in (base / "reports").rglob(".*") if p.is_file()]
    assert leftovers == [base / "reports" / ".crmlab.lock"]      # the batch lock stays


def test_leftovers_of_a_killed_run_are_removed(tmp_path, tiny_data, standin):
    write_spec(tmp_path / "exp", "short_k", "horizon_days: 90\n")    # fails without a kernel
    out = tmp_path / "out" / "short_k"
    out.mkdir(parents=True)
    for name in (".report.99999.ipynb", ".results.99999.json", ".results.json.abc.tmp"):
        (out / name).write_text("{}")
    runner.run(tmp_path / "exp", data=tiny_data, out=tmp_path / "out", notebook=standin,
               progress=False, index=False)
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "run.log"]


def test_html_is_self_contained_inputs_hidden(batch):
    base, _ = batch
    html = (base / "reports/good_a/report.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    assert re.search(r"<img[^>]+src=\"data:image/png;base64,", html)      # figure inline
    assert "Stand-in campaign report" in html                           # markdown kept
    assert "load_spec(spec_path)" not in html                           # code hidden
    assert "provenance_json" not in html                                # parameters hidden
    assert not re.search(r"In&nbsp;\[\d+\]|In \[\d+\]:", html)           # no prompts
    assert_self_contained((base / "reports/index.html").read_text(encoding="utf-8"))


def test_index_lists_every_campaign_with_status(batch):
    base, _ = batch
    html = (base / "reports/index.html").read_text(encoding="utf-8")
    for cid in ("good_a", "good_b", "boom_c", "short_d"):
        assert cid in html
    assert 'href="good_a/report.html"' in html
    assert "윈백 쿠폰 A" in html                                       # title from the spec
    nb = lambda x: f'<span class="nb">{x}</span>'  # noqa: E731 - one bound of an interval
    assert ('<div class="effect sig-up"><div class="arm">conversion</div>'
            '<div class="value">+2.0 pp</div>'
            f'<div class="ci">[{nb("+0.5 pp")}, {nb("+3.5 pp")}]</div>') in html   # primary, CI
    assert ('<div class="effect sig-unclear"><div class="arm">200-day</div>'
            '<div class="value">+₩1,235</div>'
            f'<div class="ci">[{nb("−₩200")}, {nb("+₩2,600")}]</div>') in html  # KRW half-up
    assert f'ROI +35% {nb("[−10%, +80%]")}' in html                            # ROI
    assert f'{nb("2024-03-01")} – {nb("2024-03-08")}' in html                   # dates
    assert "Kakao AlimTalk" in html and "kakao_alimtalk" not in html           # channel label
    assert html.count('class="badge verdict failed"') == 2
    assert "only three months of follow-up so far" in html             # exploratory reason
    assert 'class="badge exploratory"' in html
    assert "six-month (183-day) minimum" in html                       # failure shown


def test_index_in_korean(batch, tmp_path):
    base, _ = batch
    path = runner.build_index(base / "reports", lang="ko")
    html = path.read_text(encoding="utf-8")
    assert '<html lang="ko">' in html
    from crmlab import i18n

    for text in ("캠페인 포트폴리오", "고객당 장기 매출 상승", i18n.t("decision.ship", "ko"),
                 "카카오 알림톡", "실패", "탐색적 분석", "휴면 고객 재활성화", "200일", "이내"):
        assert text in html, text
    assert_hangul_font_embedded(html)
    runner.build_index(base / "reports", lang="en")


def assert_hangul_font_embedded(html: str) -> None:
    """Every Hangul character of the page is in the inline "crmlab Hangul" font subset."""
    import base64
    import io

    from fontTools.ttLib import TTFont

    m = re.search(r'font-family: "crmlab Hangul"; src: url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)',
                  html)
    assert m, "no inline Hangul font"
    cmap = TTFont(io.BytesIO(base64.b64decode(m.group(1)))).getBestCmap()
    hangul = {ord(c) for c in re.findall(r"[\uac00-\ud7a3]", html)}
    assert hangul and hangul <= set(cmap)
    assert len(m.group(1)) < 400_000                     # a subset, not the 4.7 MB font


def test_hangul_font_only_for_pages_with_hangul():
    assert runner.hangul_font_css("<html>revenue ₩1,234</html>") == ""
    css = runner.hangul_font_css("<p>결론: 확대</p>")
    assert '"crmlab Hangul"' in css and "unicode-range" in css
    assert_hangul_font_embedded(css + "결론: 확대")


def test_rerun_skips_unchanged_and_force_reruns_reproducibly(batch, tiny_data, standin,
                                                             monkeypatch):
    base, _ = batch
    exp, out = base / "experiments", base / "reports"
    path = out / "good_a" / "results.json"
    first_text = path.read_text()
    first = json.loads(first_text)

    again = runner.run(exp, data=tiny_data, out=out, only="good_a", notebook=standin,
                       progress=False)
    assert [c["status"] for c in again.campaigns] == ["skipped"]
    assert path.read_text() == first_text                       # untouched

    forced = runner.run(exp, data=tiny_data, out=out, only=["good_a"], force=True,
                        notebook=standin, progress=False)
    assert [c["status"] for c in forced.campaigns] == ["ok"]
    second = json.loads(path.read_text())
    assert second["provenance"]["started_at"] >= first["provenance"]["started_at"]
    assert without_timing(second) == without_timing(first)      # reproducible

    # a new data fingerprint, a new code version or a changed spec all change the run key
    stored = json.loads(path.read_text())["provenance"]["run_key"]

    def planned_key() -> str:
        jobs = runner._plan(exp, tiny_data, out, "good_a", None, standin, "crmlab", 60)
        return jobs[0].provenance["run_key"]

    assert planned_key() == stored
    monkeypatch.setattr(runner, "data_fingerprint", lambda p: "d" * 64)
    assert planned_key() != stored                               # new data
    monkeypatch.undo()
    monkeypatch.setattr(runner, "code_version", lambda notebook=None: dict(FIXED_CODE))
    assert planned_key() == stored
    monkeypatch.setattr(runner, "code_version",
                        lambda notebook=None: {**FIXED_CODE, "git_commit": "e" * 40})
    assert planned_key() != stored                               # new code version
    monkeypatch.setattr(runner, "code_version",
                        lambda notebook=None: {**FIXED_CODE, "git_dirty": True,
                                               "source_hash": "1" * 64})
    assert planned_key() != stored                               # uncommitted edits
    monkeypatch.setattr(runner, "code_version", lambda notebook=None: dict(FIXED_CODE))
    assert planned_key() == stored
    spec_text = (exp / "good_a.yaml").read_text()
    write_spec(exp, "good_a", "title: 윈백 쿠폰 A\nhorizon_days: 200\nseed: 4\n")
    try:
        assert planned_key() != stored                           # changed spec
    finally:
        (exp / "good_a.yaml").write_text(spec_text)
    assert planned_key() == stored
    assert runner._plan(exp, tiny_data, out, "good_a", "ko", standin, "crmlab", 60)[0] \
        .provenance["run_key"] != stored                         # other report language


def test_failed_campaign_is_rerun_not_skipped(batch, tiny_data, standin):
    base, _ = batch
    res = runner.run(base / "experiments", data=tiny_data, out=base / "reports",
                     only="short_d", notebook=standin, progress=False, index=False)
    assert [c["status"] for c in res.campaigns] == ["failed"]


def test_cell_timeout_fails_the_campaign(tmp_path, tiny_data, standin):
    write_spec(tmp_path / "exp", "sleepy_e")
    res = runner.run(tmp_path / "exp", data=tiny_data, out=tmp_path / "out", timeout=3,
                     notebook=standin, progress=False, index=False)
    assert res.exit_code == 1
    error = res.failed[0]["error"]
    assert "timeout" in error.lower() and "3 s" in error
    assert (tmp_path / "out/sleepy_e/report.ipynb").is_file()
    saved = json.loads((tmp_path / "out/sleepy_e/results.json").read_text())
    assert saved["status"] == "failed" and "timeout" in saved["error"].lower()


def test_bad_data_missing_data_and_duplicates_fail_without_running(tmp_path, tiny_data, standin):
    import shutil

    broken = tmp_path / "broken_data"
    shutil.copytree(tiny_data, broken)
    (broken / "orders.parquet").unlink()
    exp = tmp_path / "exp"
    write_spec(exp, "bad_data_f", f"data: {broken}\n")
    write_spec(exp, "no_data_g")
    write_spec(exp, "dup_h")
    (exp / "dup_h_copy.yaml").write_text("campaign_id: dup_h\n")
    res = runner.run(exp, data=None, out=tmp_path / "out", notebook=standin, progress=False)
    errors = {c["campaign_id"]: c["error"] for c in res.failed}
    assert "bad data" in errors["bad_data_f"] and "orders" in errors["bad_data_f"]
    assert "no data directory" in errors["no_data_g"] and "--data" in errors["no_data_g"]
    assert "also used by" in errors["dup_h_copy"]
    assert not any((tmp_path / "out" / cid / "report.ipynb").exists() for cid in errors)
    html = (tmp_path / "out/index.html").read_text()
    assert "bad_data_f" in html and "dup_h_copy" in html


def test_missing_notebook_and_bad_arguments(tmp_path, tiny_data):
    write_spec(tmp_path / "exp", "x1")
    res = runner.run(tmp_path / "exp", data=tiny_data, out=tmp_path / "out",
                     notebook=tmp_path / "nope.ipynb", progress=False)
    assert "report notebook not found" in res.failed[0]["error"]
    with pytest.raises(ValueError, match="no experiment spec matches"):
        runner.run(tmp_path / "exp", data=tiny_data, out=tmp_path / "out", only="zzz")
    with pytest.raises(ValueError, match="allowed values: en, ko"):
        runner.run(tmp_path / "exp", data=tiny_data, report_lang="fr")
    with pytest.raises(FileNotFoundError):
        runner.run(tmp_path / "missing", data=tiny_data)


def test_render_reports_rerenders_html(batch):
    base, _ = batch
    out = base / "reports"
    html = out / "good_b" / "report.html"
    html.unlink()
    # good_b ran in English: re-rendering cannot translate it, so the page stays lang="en"
    done = runner.render_reports(out, only="good_b", lang="ko")
    assert [(d["campaign_id"], d["status"], d["error"]) for d in done] == [("good_b", "ok", None)]
    assert "executed in 'en'" in done[0]["note"] and "--report-lang ko" in done[0]["note"]
    text = html.read_text(encoding="utf-8")
    assert '<html lang="en">' in text and '<html lang="ko">' not in text
    assert_self_contained(text)
    assert_hangul_font_embedded(text)          # the stand-in's Korean title and markdown


def test_list_campaigns(batch):
    base, _ = batch
    rows = {r["campaign_id"]: r for r in runner.list_campaigns(base / "experiments",
                                                                base / "reports")}
    assert rows["good_a"]["status"] == "ok" and rows["good_a"]["verdict"] == "ship"
    assert rows["short_d"]["valid"] is False and "183-day" in rows["short_d"]["error"]
    assert rows["boom_c"]["status"] == "failed"


def test_format_money():
    assert runner.format_money(1234567) == "₩1,234,567"
    assert runner.format_money(-0.4) == "₩0"
    assert runner.format_money(999.5, "KRW", signed=True) == "+₩1,000"
    assert runner.format_money(1234.567, "USD") == "$1,234.57"
    assert runner.format_money(float("nan")) == "–"
    assert runner.format_money(10, "CHF") == "10.00 CHF"


def test_provenance_helpers():
    versions = runner.package_versions()
    assert versions["python"].startswith("3.11") and versions["numpy"]
    from crmlab.runner import code_version as real  # the module attribute is patched
    assert real is not None


def test_real_code_version_reads_git(repo_root):
    import importlib

    fresh = importlib.reload(runner)
    try:
        cv = fresh.code_version()
        assert cv["crmlab_version"]
        assert len(cv["source_hash"]) == 64
        if (repo_root / ".git").exists():
            assert re.fullmatch(r"[0-9a-f]{40}", cv["git_commit"])
            assert isinstance(cv["git_dirty"], bool)
    finally:
        importlib.reload(runner)


def test_json_written_is_strict(tmp_path):
    path = runner.atomic_write_json(tmp_path / "r.json", {"x": float("nan"), "y": [1.5, None]})
    assert json.loads(path.read_text()) == {"x": None, "y": [1.5, None]}
    assert "NaN" not in path.read_text()
