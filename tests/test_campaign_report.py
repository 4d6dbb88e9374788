"""The campaign report notebook executed by papermill on a small simulated shop.

Checks: it runs with the runner's parameters, the exploratory banner is its first line,
results.json is written (plain JSON, the contract's keys), texts follow ``report_lang``, figures
are drawn, the provenance footer is shown, and no customer-level column leaks into the output.
Also the report sections' formatting helpers.
"""
from __future__ import annotations

import json

import nbformat
import pytest

from crmlab import i18n

ROOT_NB = "notebooks/campaign_report.ipynb"


def test_notebook_is_committed_clean_with_a_parameters_cell(repo_root):
    nb = nbformat.read(repo_root / ROOT_NB, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "crmlab"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    for name in ("spec_path", "data_dir", "results_path", "report_lang", "provenance_json"):
        assert f"{name} =" in code[0].source
    # the simulated demo shop only when asked for
    assert "use_demo_data = False" in code[0].source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)


@pytest.fixture(scope="module")
def executed(small_shop_dir, tmp_path_factory, repo_root):
    papermill = pytest.importorskip("papermill")
    work = tmp_path_factory.mktemp("report")
    spec = work / "winback.yaml"
    spec.write_text(
        "campaign_id: winback_lms\n"
        "horizon_days: 120\n"
        "exploratory: true\n"
        "exploratory_reason: early read after four months\n"
        "segments: [rfm_segment, lifecycle_stage]\n"
        "report_lang: en\n", encoding="utf-8")
    provenance = {"crmlab_version": "0.1.0", "git_commit": "0123456789abcdef", "git_dirty": False,
                  "data_fingerprint": "fp-42", "seed": 0, "started_at": "2026-01-01T00:00:00"}
    out = work / "report.ipynb"
    papermill.execute_notebook(
        str(repo_root / ROOT_NB), str(out), kernel_name="crmlab", cwd=str(work),
        parameters={"spec_path": str(spec), "data_dir": str(small_shop_dir),
                    "results_path": str(work / "results.json"), "report_lang": "ko",
                    "provenance_json": json.dumps(provenance)},
        progress_bar=False)
    return nbformat.read(out, as_version=4), json.loads((work / "results.json").read_text())


def test_missing_data_dir_is_an_error_naming_the_path(tmp_path, repo_root):
    """No silent fallback to the simulated demo shop: a missing data_dir fails the notebook."""
    papermill = pytest.importorskip("papermill")
    spec = tmp_path / "winback.yaml"
    spec.write_text("campaign_id: winback_lms\n", encoding="utf-8")
    missing = tmp_path / "no_such_shop"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(repo_root / ROOT_NB), str(tmp_path / "out.ipynb"), kernel_name="crmlab",
            cwd=str(tmp_path), progress_bar=False,
            parameters={"spec_path": str(spec), "data_dir": str(missing),
                        "results_path": str(tmp_path / "results.json")})
    assert info.value.ename == "FileNotFoundError"
    assert f"data directory not found: {missing}" in info.value.evalue
    assert "use_demo_data = True" in info.value.evalue
    assert not (tmp_path / "results.json").exists()


def _texts(nb):
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            yield data.get("text/markdown", "") + data.get("text/html", "") + o.get("text", "")


def test_report_runs_writes_results_and_starts_with_the_banner(executed):
    nb, res = executed
    texts = [t for t in _texts(nb) if t.strip()]
    assert texts[0].lstrip("> *").startswith("⚠ 탐색적 평가 — early read after four months")
    assert res["campaign_id"] == "winback_lms" and res["status"] == "ok"
    assert res["exploratory"] is True and res["report_lang"] == "ko"
    assert res["provenance"]["git_commit"] == "0123456789abcdef"
    json.dumps(res, allow_nan=False)
    assert res["verdict"]["decision"] in {"ship", "iterate", "stop", "inconclusive"}
    assert all(r["arm"] != "control" for r in res["primary"])


def test_report_is_in_korean_with_figures_money_and_footer(executed):
    nb, _ = executed
    allt = "\n".join(_texts(nb))
    for heading in ("## 결론", "## 단기 효과", "## 장기 효과(120일)", "## 경제성", "## 재현 정보"):
        assert heading in allt, heading
    assert "₩" in allt
    assert "0123456789ab" in allt and "fp-42" in allt
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 4          # forest, Kaplan-Meier, cumulative revenue, funnel
    assert "customer_id" not in allt
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_formatting_helpers():
    assert i18n.money(1234567.4, "KRW") == "₩1,234,567"
    assert i18n.money(-50, "KRW") == "−₩50"
    assert i18n.money(float("nan"), "KRW") == "—"
    assert i18n.pp(0.0123) == "+1.2 pp"
    assert i18n.pct(0.5) == "50.0%"
    with pytest.raises(ValueError, match="report language"):
        i18n.t("decision.ship", "fr")
