"""``crmlab target SPEC --budget``: a CSV of customer ids, within the budget; aggregates on
stdout."""
from __future__ import annotations

import pandas as pd
import pytest

from crmlab.cli import main


@pytest.fixture()
def spec(tmp_path, small_shop_dir):
    p = tmp_path / "cart_reminder.yaml"
    p.write_text(f"campaign_id: cart_reminder\ndata: {small_shop_dir}\n"
                 "economics: {margin_rate: 0.3, coupon_cost: null}\n")
    return p


def test_target_writes_customer_ids_within_budget(spec, tmp_path, small_shop_dir, capsys):
    out = tmp_path / "aud" / "next.csv"
    rc = main(["target", str(spec), "--budget", "20000", "--learner", "t", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "CUSTOMER IDS" in text and str(out) in text
    aud = pd.read_csv(out)
    assert list(aud.columns) == ["customer_id", "arm", "expected_profit", "expected_cost", "rank"]
    assigned = pd.read_parquet(small_shop_dir / "assignments.parquet")
    ids = set(assigned.loc[assigned.campaign_id == "cart_reminder", "customer_id"])
    assert set(aud.customer_id) <= ids and aud.customer_id.is_unique
    assert set(aud.arm) <= {"reminder", "reminder_coupon"}
    assert aud.expected_cost.sum() <= 20000 + 1e-6
    assert (aud.expected_profit > 0).all()
    assert aud.expected_profit.is_monotonic_decreasing
    # the printed summary holds counts and sums, never an id
    for cid in aud.customer_id.head(20):
        assert f" {cid} " not in text


def test_target_bad_usage(spec, tmp_path, capsys):
    assert main(["target", str(tmp_path / "nope.yaml")]) == 2
    assert main(["target", str(spec), "--max-share", "1.5"]) == 2
    assert "--max-share must be in (0, 1]" in capsys.readouterr().err
    assert main(["target", str(spec), "--data", str(tmp_path / "missing")]) == 2
