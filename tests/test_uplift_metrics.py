"""Uplift metrics agree with scikit-uplift (sklift.metrics) on the same inputs; bootstrap
intervals cover the truth of a simulation; comparisons with random and segment targeting."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import sklift.metrics as S  # scikit-uplift: the dev extra (a test-only dependency)

from crmlab.uplift import metrics as M


def _cases():
    rng = np.random.default_rng(0)
    for _ in range(25):
        n = int(rng.integers(60, 3000))
        t = rng.integers(0, 2, n)
        u = np.round(rng.normal(size=n), int(rng.integers(1, 4)))     # ties in the scores
        y = (rng.random(n) < 0.2 + 0.1 * t * (u > 0)).astype(int)
        yield y, u, t


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # sklift calls a deprecated scikit-learn helper
        yield


def test_curves_agree_with_scikit_uplift():
    for y, u, t in _cases():
        for name in ("qini_curve", "uplift_curve"):
            xs, vs = getattr(S, name)(y, u, t)
            xo, vo = getattr(M, name)(y, u, t)
            np.testing.assert_allclose(xo, xs)
            np.testing.assert_allclose(vo, vs, atol=1e-9)
        for name in ("perfect_qini_curve", "perfect_uplift_curve"):
            xs, vs = getattr(S, name)(y, t)
            xo, vo = getattr(M, name)(y, t)
            np.testing.assert_allclose(xo, xs)
            np.testing.assert_allclose(vo, vs, atol=1e-9)


def test_scores_agree_with_scikit_uplift():
    for y, u, t in _cases():
        assert M.qini_auc_score(y, u, t) == pytest.approx(S.qini_auc_score(y, u, t), abs=1e-12)
        if y[t == 1].mean() > y[t == 0].mean():   # sklift fails on its own otherwise
            assert M.qini_auc_score(y, u, t, negative_effect=False) == pytest.approx(
                S.qini_auc_score(y, u, t, negative_effect=False), abs=1e-12)
        assert M.uplift_auc_score(y, u, t) == pytest.approx(S.uplift_auc_score(y, u, t),
                                                            abs=1e-12)
        for strategy in ("overall", "by_group"):
            for k in (0.1, 0.3, 0.5, 40):
                assert M.uplift_at_k(y, u, t, strategy, k) == pytest.approx(
                    S.uplift_at_k(y, u, t, strategy, k), abs=1e-12), (strategy, k)


def test_known_small_case():
    # by hand: sorted (y, t) = (1,1), (0,0), (1,0), (0,1)
    x, q = M.qini_curve([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [1, 0, 0, 1])
    assert q.tolist() == [0.0, 1.0, 1.0, 0.5, 0.0]
    assert M.uplift_at_k([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1], [1, 0, 0, 1], "overall", 2) == 1.0


def test_continuous_outcome_and_random_scores():
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    y = 100 + 50 * t * (x > 0) + rng.normal(0, 30, n)
    # the perfect ordering of a noisy continuous outcome is far out of reach: small values
    good = M.qini_auc_score(y, x, t)
    noise = [M.qini_auc_score(y, rng.normal(size=n), t) for _ in range(20)]
    assert abs(np.mean(noise)) < 0.01
    assert good > 5 * max(noise) and good > 0.05


def test_bootstrap_interval_covers_truth():
    # the true Qini coefficient of a fixed score in a large population, vs small-sample CIs
    rng = np.random.default_rng(11)

    def draw(n):
        x = rng.normal(size=n)
        t = rng.integers(0, 2, n)
        y = (rng.random(n) < 0.1 + 0.1 * t * (x > 0)).astype(int)
        return y, x, t

    truth = M.qini_auc_score(*draw(400_000))
    hits = 0
    for _ in range(20):
        r = M.bootstrap_metric(M.qini_auc_score, *draw(2000), n_boot=100,
                               random_state=int(rng.integers(1 << 30)))
        assert r.low <= r.estimate <= r.high
        hits += r.low <= truth <= r.high
    assert hits >= 15          # nominal 95 %: 19 of 20 expected, ≥ 15 with probability > 0.999


def test_targeting_comparison_model_beats_random_and_segments():
    rng = np.random.default_rng(2)
    n = 6000
    x = rng.normal(size=n)
    seg = np.where(x > 1, "top", np.where(x > 0, "mid", "low"))
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.15 * t * (x > 0.5)).astype(int)
    out = M.targeting_comparison(y, x, t, segments=pd.Series(seg), k=0.3)
    v = out.set_index("rule")["incremental"]
    assert v["model"] > v["random"]
    assert any(r.startswith("best segment: ") for r in out["rule"])
    pts = M.curve_points(y, x, t)
    assert pts["share"].iloc[0] == 0 and pts["incremental"].iloc[-1] == pytest.approx(
        v["everyone"])


def test_bad_input():
    with pytest.raises(ValueError, match="treatment must be 0/1"):
        M.qini_curve([1, 0], [0.1, 0.2], [2, 0])
    with pytest.raises(ValueError, match="both treated"):
        M.qini_auc_score([1, 0], [0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="uplift: 1 of 3"):
        M.uplift_curve([1, 0, 1], [0.1, np.nan, 0.3], [1, 0, 1])
    with pytest.raises(ValueError, match="strategy"):
        M.uplift_at_k([1, 0], [0.1, 0.2], [1, 0], "top")
    with pytest.raises(ValueError, match="k=1.5"):
        M.uplift_at_k([1, 0], [0.1, 0.2], [1, 0], "overall", 1.5)
