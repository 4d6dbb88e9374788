"""Message fatigue and the frequency cap, checked against the simulator's fatigue parameters
(``ground_truth.json`` → ``program.fatigue``): per extra advertising message in the previous 30
days, +0.010 unsubscribe and +0.006 block probability per send."""
from __future__ import annotations

import json

import numpy as np
import pytest

import crmlab
from crmlab.data.simulate import simulate
from crmlab.program import evaluate_program, fatigue, frequency_cap
from crmlab.program.cap import replay_cap
from crmlab.program.fatigue import iv_slope

TRUTH = {"unsubscribe": "unsubscribe_per_message", "block": "block_per_message"}


def _covers(path):
    data = crmlab.load(path)
    t = json.loads((path / "ground_truth.json").read_text())["program"]["fatigue"]
    e = fatigue(data, window_days=(7, 30)).effects
    out = []
    for r in e[e.outcome.isin(list(TRUTH))].itertuples():
        out.append((r.outcome, r.window_days, r.ci_low <= t[TRUTH[r.outcome]] <= r.ci_high))
    return out, e


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    return [simulate(tmp_path_factory.mktemp(f"fat{s}"), n_customers=10000, months=24, seed=s)
            for s in (101, 103)]


@pytest.fixture(scope="module")
def shop(shops):
    return shops[0]


def test_interval_covers_the_simulated_fatigue(shops):
    rows = []
    for p in shops:
        r, e = _covers(p)
        rows += r
    # 8 intervals at 95 %: one miss is allowed (P(2 or more misses) ≈ 6 %)
    assert len(rows) == 8 and sum(not ok for *_, ok in rows) <= 1, rows
    u = e[(e.outcome == "unsubscribe") & (e.window_days == 30)].iloc[0]
    assert u.first_stage > 0.8 and u.first_stage_f > 100     # one treated arm ≈ one message
    assert {"churn"} <= set(e.outcome)


def test_iv_slope_removes_a_confounded_dose():
    """Active customers get more messages and unsubscribe less: the plain slope is biased,
    the instrumented one recovers the true 0.01."""
    rng = np.random.default_rng(0)
    n = 40_000
    active = rng.random(n)
    z = rng.random(n) < 0.5
    dose = rng.poisson(3 * active) + z
    y = (rng.random(n) < 0.08 + 0.01 * dose - 0.08 * active).astype(float)
    r = iv_slope(y, dose, z.astype(float), np.ones((n, 1)), np.arange(n))
    assert abs(r["beta"] - 0.01) < 4 * r["se"]
    assert r["ols"] < r["ci_low"]                          # the confounded slope is biased down


def test_replay_cap_counts_the_window():
    day = 86_400
    cust = np.array([0, 0, 0, 0, 1])
    sec = np.array([0, 1, 2, 40, 0]) * day
    assert replay_cap(cust, sec, None, 30) == (5, 0 + 1 + 2 + 0 + 0)
    assert replay_cap(cust, sec, 1, 30) == (3, 0)
    assert replay_cap(cust, sec, 2, 30) == (4, 1)


def test_frequency_cap_is_the_best_of_the_table(shop):
    data = crmlab.load(shop)
    c = frequency_cap(data, fatigue(data, window_days=30), evaluate_program(data))
    t = c.table
    assert list(t.columns[:3]) == ["cap", "messages_per_customer", "profit_per_customer"]
    best = t.loc[t.profit_per_customer.idxmax(), "cap"]
    assert (best if best == best else None) == c.best_cap
    assert t.messages_per_customer.is_monotonic_increasing
    assert t.share_best.sum() == pytest.approx(1.0)
    assert c.cap_interval[0] <= (c.best_cap or np.inf) <= c.cap_interval[1]


@pytest.mark.slow
def test_coverage_over_seeds(tmp_path_factory):
    rows = []
    for s in range(110, 118):
        rows += _covers(simulate(tmp_path_factory.mktemp(f"f{s}"), n_customers=20000,
                                 months=24, seed=s))[0]
    cov = np.mean([ok for *_, ok in rows])
    assert cov >= 0.85, rows
