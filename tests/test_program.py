"""The program's cumulative impact against the global holdout, checked against the simulator's
program truth (every member simulated held out and not, with common random numbers).

The intervals are 95% Welch intervals for a difference of means; for the sample's own average
effect they are conservative. Misses are counted over every metric x horizon x shop and allowed
up to what a binomial(K, 0.05) count exceeds with probability < 1%.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

import crmlab
from crmlab.data.simulate import simulate
from crmlab.program import evaluate_program

TRUTH_KEYS = {"revenue_per_customer": "revenue_lift", "margin_per_customer": "margin_lift",
              "cost_per_customer": "cost_lift", "profit_per_customer": "profit_lift",
              "retention": "retained_lift", "churn_rate": "churned_lift",
              "messages_per_customer": "messages_lift"}


def _checks(path):
    data = crmlab.load(path)
    truth = json.loads((path / "ground_truth.json").read_text())["program"]
    imp = evaluate_program(data, horizon_days=(180, 365))
    rows = []
    for r in imp.to_frame().itertuples():
        if r.metric not in TRUTH_KEYS:
            continue
        t = truth["horizons"][str(r.horizon_days)]
        assert r.n_crm + r.n_holdout == t["n_customers"]
        rows.append((r.metric, r.horizon_days, t[TRUTH_KEYS[r.metric]], r.ci_low, r.ci_high))
    return imp, rows


def _assert_coverage(rows, level=0.95):
    # cost and messages are zero in the holdout by design: their intervals are about the CRM
    # group's sampling only, and still must cover
    misses = [r for r in rows if not (r[3] <= r[2] <= r[4])]
    allowed = int(stats.binom.ppf(0.99, len(rows), 1 - level))
    assert len(misses) <= allowed, (len(misses), len(rows), misses)


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    return [simulate(tmp_path_factory.mktemp(f"prog{s}"), n_customers=2500, months=24, seed=s)
            for s in (21, 22, 23)]


def test_to_frame_has_the_contract_columns(shops):
    imp, _ = _checks(shops[0])
    df = imp.to_frame()
    assert list(df.columns[:5]) == ["metric", "horizon_days", "value", "ci_low", "ci_high"]
    assert {"revenue_per_customer", "profit_per_customer", "retention", "churn_hazard_ratio",
            "total_cost", "total_incremental_profit"} <= set(df.metric)
    assert set(df.horizon_days) == {180, 365}
    assert (df.ci_low <= df.value).all() and (df.value <= df.ci_high).all()
    assert len(imp.monthly) == 12 and imp.contaminated_sends == 0
    assert {"stage", "metric", "value"} <= set(imp.by_stage.columns)
    assert imp.monthly.cumulative_profit.iloc[-1] == pytest.approx(
        imp.monthly.incremental_profit.sum())


def test_intervals_cover_the_true_program_effect(shops):
    rows = []
    for p in shops:
        rows += _checks(p)[1]
    assert len(rows) == 3 * 2 * len(TRUTH_KEYS)
    _assert_coverage(rows)


@pytest.mark.slow
def test_coverage_over_many_shops(tmp_path_factory):
    rows = []
    for s in range(30, 60):
        rows += _checks(simulate(tmp_path_factory.mktemp(f"pc{s}"), n_customers=2000,
                                 months=24, seed=s))[1]
    _assert_coverage(rows)
    # and per metric, not far below the nominal rate
    for m in TRUTH_KEYS:
        sub = [r for r in rows if r[0] == m]
        cov = np.mean([r[3] <= r[2] <= r[4] for r in sub])
        assert cov >= 0.85, (m, cov)


def test_no_holdout_table_is_a_clear_error(small_shop_dir, tmp_path):
    import pandas as pd

    frames = {n: pd.read_parquet(small_shop_dir / f"{n}.parquet")
              for n in ("customers", "orders")}
    with pytest.raises(ValueError, match="no holdout_periods table"):
        evaluate_program(crmlab.load(frames))
