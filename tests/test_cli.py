"""The ``crmlab`` command: help everywhere, exit codes, and each subcommand's behaviour."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crmlab import cli

COMMANDS = ["simulate", "validate", "run", "report", "list", "new-experiment", "power", "target"]


def test_top_level_help_lists_commands_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out
    assert "Exit codes" in out and "130" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: crmlab {command}" in capsys.readouterr().out


def test_installed_console_script(repo_root):
    exe = repo_root / ".venv" / "bin" / "crmlab"
    if not exe.exists():
        pytest.skip("the crmlab console script is not installed in .venv")
    res = subprocess.run([str(exe), "run", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "--jobs" in res.stdout and "--force" in res.stdout


def test_bad_usage_exits_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--jobs", "0"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2
    assert cli.main(["run", str(tmp_path / "nowhere")]) == 2
    assert "experiments directory not found" in capsys.readouterr().err


def test_new_experiment_then_list(tmp_path, capsys):
    exp = tmp_path / "experiments"
    assert cli.main(["new-experiment", "spring_2025", "--dir", str(exp),
                     "--title", "Spring coupon"]) == 0
    assert (exp / "spring_2025.yaml").is_file()
    assert "spring_2025.yaml" in capsys.readouterr().out
    assert cli.main(["new-experiment", "spring_2025", "--dir", str(exp)]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["new-experiment", "bad id", "--dir", str(exp)]) == 2

    assert cli.main(["list", str(exp), "--out", str(tmp_path / "reports")]) == 0
    out = capsys.readouterr().out
    assert "spring_2025" in out and "draft" in out       # a scaffold is a draft until filled in

    (exp / "broken.yaml").write_text("campaign_id: broken\nhorizon_days: 90\n")
    assert cli.main(["list", str(exp), "--out", str(tmp_path / "reports")]) == 1
    captured = capsys.readouterr()
    assert "INVALID" in captured.out and "six-month (183-day) minimum" in captured.err


def test_run_refuses_a_90_day_horizon_naming_the_six_month_minimum(tmp_path, capsys):
    exp = tmp_path / "experiments"
    exp.mkdir()
    (exp / "short.yaml").write_text("campaign_id: short\nhorizon_days: 90\n")
    code = cli.main(["run", str(exp), "--data", str(tmp_path), "--out",
                     str(tmp_path / "reports"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "failed campaigns" in err and "short" in err
    assert "six-month (183-day) minimum" in err
    saved = json.loads((tmp_path / "reports/short/results.json").read_text())
    assert saved["status"] == "failed"
    assert (tmp_path / "reports/index.html").is_file()


def test_run_only_unknown_campaign_is_usage_error(tmp_path, capsys):
    exp = tmp_path / "experiments"
    exp.mkdir()
    (exp / "a.yaml").write_text("campaign_id: a\n")
    assert cli.main(["run", str(exp), "--only", "zzz", "--out", str(tmp_path / "r"),
                     "--no-progress"]) == 2
    assert "no experiment spec matches" in capsys.readouterr().err


def test_report_command_needs_a_reports_folder(tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path / "none")]) == 2
    (tmp_path / "reports").mkdir()
    assert cli.main(["report", "--out", str(tmp_path / "reports")]) == 0
    assert (tmp_path / "reports/index.html").is_file()


def test_power_matches_r_power_prop_test(capsys):
    pytest.importorskip("crmlab.abtest")
    # R, ?power.prop.test example: power.prop.test(p1 = .50, p2 = .75, power = .90)
    # gives n = 76.65294 per group -> 77 customers in each arm.
    assert cli.main(["power", "--baseline", "0.5", "--mde", "0.25", "--power", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "control: 77  treatment: 77  total: 154" in out
    # the same effect given as relative (+50%) and a 10% holdout (ratio 9)
    assert cli.main(["power", "--baseline", "0.5", "--mde", "0.5", "--relative",
                     "--power", "0.9"]) == 0
    assert "control: 77" in capsys.readouterr().out
    assert cli.main(["power", "--baseline", "0.05", "--mde", "0.01", "--ratio", "9"]) == 0
    out = capsys.readouterr().out
    n_c, n_t = [int(x.replace(",", "")) for x in
                (out.split("control: ")[1].split()[0], out.split("treatment: ")[1].split()[0])]
    assert n_t == pytest.approx(9 * n_c, abs=9)


def test_power_rejects_bad_rates():
    pytest.importorskip("crmlab.abtest")
    with pytest.raises(SystemExit) as info:
        cli.main(["power", "--baseline", "1.5", "--mde", "0.1"])
    assert info.value.code == 2
    assert cli.main(["power", "--baseline", "0.5", "--mde", "0.0"]) == 2


def test_module_docstring_documents_exit_codes():
    doc = cli.__doc__
    for code in ("0 ", "1 ", "2 ", "130"):
        assert f"\n  {code}" in doc
    assert sys.modules["crmlab.cli"].EXIT_USAGE == 2


def test_campaign_id_with_a_trailing_newline_is_refused(tmp_path, capsys):
    exp = tmp_path / "experiments"
    assert cli.main(["new-experiment", "abc\n", "--dir", str(exp)]) == 2
    assert "campaign_id" in capsys.readouterr().err
    assert not exp.exists() or not any(exp.iterdir())


def test_list_flags_two_specs_of_one_campaign(tmp_path, capsys):
    exp = tmp_path / "experiments"
    exp.mkdir()
    (exp / "a.yaml").write_text("campaign_id: spring\n")
    (exp / "b.yaml").write_text("campaign_id: spring\ntitle: again\n")
    assert cli.main(["list", str(exp), "--out", str(tmp_path / "reports")]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("INVALID") == 1
    assert "b.yaml: campaign_id 'spring' is also used by" in captured.err
    assert "a.yaml" in captured.err


def test_power_help_shows_single_percent_signs(capsys):
    with pytest.raises(SystemExit):
        cli.main(["power", "--help"])
    out = capsys.readouterr().out
    assert "%%" not in out
    assert "for a 10%" in " ".join(out.split()) and "(5% -> 6%, a 10% holdout)" in " ".join(out.split())


def test_make_lab_allows_root(repo_root):
    make = (repo_root / "Makefile").read_text()
    lab = make.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--allow-root" in lab and "id -u" in lab


def test_readme_cli_block_leaves_the_demo_runnable(repo_root, tmp_path, capsys):
    """`crmlab new-experiment my_campaign` as the README shows it, in a copy of experiments/:
    the scaffold is a draft, so `crmlab run` (what `make demo` does) and the shipped-spec
    checks (what `make test` does) see only the demo's campaigns."""
    import shutil

    from crmlab import runner
    from crmlab.experiments import find_specs, load_spec

    exp = tmp_path / "experiments"
    shutil.copytree(repo_root / "experiments", exp)
    assert cli.main(["new-experiment", "my_campaign", "--dir", str(exp)]) == 0
    assert "draft" in capsys.readouterr().out
    spec = load_spec(exp / "my_campaign.yaml")
    assert spec.draft is True and spec.campaign_id == "my_campaign"
    nb = repo_root / "notebooks" / "campaign_report.ipynb"
    jobs = runner._plan(exp, tmp_path, tmp_path / "reports", None, None, nb, "crmlab", 60)
    planned = {j.campaign_id for j in jobs}
    assert "my_campaign" not in planned
    shipped = {load_spec(p).campaign_id for p in find_specs(exp) if not load_spec(p).draft}
    assert planned == shipped
    rows = {r["campaign_id"]: r for r in runner.list_campaigns(exp, tmp_path / "reports")}
    assert rows["my_campaign"]["status"] == "draft" and rows["my_campaign"]["valid"]
