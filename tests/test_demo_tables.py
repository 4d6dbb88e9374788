"""benchmarks/demo_tables.py: the demo truth tables of the docs, read back from the shop."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _mod():
    spec = importlib.util.spec_from_file_location("demo_tables",
                                                  ROOT / "benchmarks" / "demo_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tables_hold_every_arm_of_the_truth(small_shop_dir, capsys):
    mod = _mod()
    truth = json.loads((small_shop_dir / "ground_truth.json").read_text())
    rows = mod.main(["--data", str(small_shop_dir)])["rows"]
    out = capsys.readouterr().out
    expected = [(c, a) for c, gt in truth.items() if c != "program" for a in gt["arms"]]
    assert sorted((r["campaign"], r["arm"]) for r in rows) == sorted(expected)
    # campaigns in the order they ran
    assert [r["campaign"] for r in rows][0] == "welcome_coupon"
    for r in rows:
        e = truth[r["campaign"]]["arms"][r["arm"]]
        assert r["true_profit_180d"] == e["n_assigned"] * (0.3 * e["revenue_lift_180d"]
                                                           - e["cost_per_customer"])
        line = next(x for x in out.splitlines()
                    if x.startswith(f"| {r['campaign']} | {r['arm']} | {r['assigned']:,} |"))
        assert f"{e['churn_hazard_ratio']:.3f}" in line or e["churn_hazard_ratio"] == 1
    # the null campaign prints as exactly null, not as a rounded number
    assert "| review_request | request |" in out
    assert [x for x in out.splitlines() if x.startswith("| review_request | request |")][0] \
        .endswith("| 0 | 0 | 1 |")
    assert "global holdout" in out and "of sign-ups buy" in out
