"""MBG/NBD and BG/BB (crmlab.ltv.mbgnbd, crmlab.ltv.bgbb) against published estimates,
lifetimes and simulations.

References
- Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
  setting", Marketing Science 29(6), Table 2: BG/BB on the donations summary (11,104 donors,
  six annual opportunities): alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6.
- tests/fixtures/ltv_lifetimes_models.json: lifetimes 0.11.3 (ModifiedBetaGeoFitter,
  BetaGeoBetaBinomFitter) fits and predictions, made by
  tests/fixtures/ltv_lifetimes_make_models.py. MBG/NBD has no published CDNOW estimates
  (Batislam et al. 2007 used grocery data); lifetimes' fit of the CDNOW sample's 39-week
  calibration table is r 0.524843, alpha 6.183082, a 0.891360, b 1.614003.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlab.datasets import load_cdnow, load_donations
from crmlab.ltv import BetaGeoBetaBinomFitter, BetaGeoFitter, ModifiedBetaGeoFitter

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIX / "ltv_lifetimes_models.json").read_text())


@pytest.fixture(scope="module")
def cdnow_cal():
    from crmlab.summaries import rfm_summary
    return rfm_summary(load_cdnow(sample=True), "1998-07-01", "D", calibration_end="1997-10-01",
                       time_scaler=7)


@pytest.fixture(scope="module")
def donations():
    return load_donations()


@pytest.fixture(scope="module")
def bb(donations):
    return BetaGeoBetaBinomFitter().fit(donations, weights=donations.weights)


# --- MBG/NBD --------------------------------------------------------------------------------------
def test_mbgnbd_cdnow_equals_lifetimes_fit(cdnow_cal, ref):
    m = ModifiedBetaGeoFitter().fit(cdnow_cal)
    assert list(m.params_.index) == ["r", "alpha", "a", "b"]
    np.testing.assert_allclose(m.params_, pd.Series(ref["mbg_fit"])[m.params_.index], rtol=2e-6)
    # the maximum is at least as high as lifetimes' optimum (same data, same likelihood)
    assert m.log_likelihood_ >= ref["mbg_fit_loglik"] - 1e-6
    assert m.log_likelihood_ == pytest.approx(-9582.1357, abs=1e-3)
    assert m.optimizer_result_.method == "newton" and m.optimizer_result_.success
    assert (m.summary.ci_low < m.params_).all()


def test_mbgnbd_likelihood_and_predictions_equal_lifetimes(cdnow_cal, ref):
    m = ModifiedBetaGeoFitter()
    m.params_ = pd.Series(ref["mbg_fixed_params"], dtype=float)
    cols = tuple(cdnow_cal[c].to_numpy(float) for c in ("frequency_cal", "recency_cal", "T_cal"))
    ll, _ = m._loglik_and_grad(np.log(m.params_.to_numpy()), m._prepare(cols), np.ones(len(cols[0])))
    assert ll == pytest.approx(ref["mbg_loglik_fixed"], rel=1e-12)
    head = cdnow_cal.loc[ref["mbg_customers"]]
    x, tx, t = head.frequency_cal, head.recency_cal, head.T_cal
    np.testing.assert_allclose(m.conditional_probability_alive(x, tx, t), ref["mbg_palive"],
                               rtol=1e-12)
    np.testing.assert_allclose(m.conditional_expected_number_of_purchases_up_to_time(39, x, tx, t),
                               ref["mbg_cond_39"], rtol=1e-10)
    np.testing.assert_allclose(m.expected_number_of_purchases_up_to_time(ref["mbg_expected_t"]),
                               ref["mbg_expected"], rtol=1e-10)
    np.testing.assert_allclose(m.probability_of_n_purchases_up_to_time(39, np.arange(8)),
                               ref["mbg_prob_n_39"], rtol=1e-10)
    # one-time buyers are not certainly alive (unlike BG/NBD), and less so the longer ago
    p0 = m.conditional_probability_alive([0, 0], [0, 0], [5, 50])
    assert 0 < p0[1] < p0[0] < 1


def test_mbgnbd_exact_hessian_and_rows(cdnow_cal):
    m = ModifiedBetaGeoFitter()
    cols = tuple(cdnow_cal[c].to_numpy(float) for c in ("frequency_cal", "recency_cal", "T_cal"))
    w = np.arange(len(cols[0])) % 3 + 1.0
    data = m._prepare(cols)
    for p0 in ([0.5, 6.0, 0.9, 1.6], [0.3, 20.0, 0.5, 2.0], [2.0, 1.0, 3.0, 50.0]):
        lp = np.log(p0)
        ll, g, h = m._loglik_grad_hess(lp, data, w)
        ll_i, g_i = ModifiedBetaGeoFitter._loglik_rows(np.array(p0), cols)
        assert ll == pytest.approx(w @ ll_i, rel=1e-12)
        np.testing.assert_allclose(g, (g_i @ w) * p0, rtol=1e-9, atol=1e-8)
        step = 1e-5
        num = np.column_stack([(m._loglik_and_grad(lp + e, data, w)[1]
                                - m._loglik_and_grad(lp - e, data, w)[1]) / (2 * step)
                               for e in np.eye(4) * step])
        np.testing.assert_allclose(h, num, rtol=1e-6, atol=1e-6 * np.abs(h).max())
        num_g = [(m._loglik_and_grad(lp + e, data, w)[0] - m._loglik_and_grad(lp - e, data, w)[0])
                 / (2 * step) for e in np.eye(4) * step]
        np.testing.assert_allclose(g, num_g, rtol=1e-6, atol=1e-4)


def _simulate_mbgnbd(n, r, alpha, a, b, rng, kmax=150):
    """MBG/NBD: a customer drops out right after the first purchase with probability p, and
    after each repeat purchase with probability p."""
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    T = rng.uniform(20, 60, n)
    times = np.cumsum(rng.exponential(1.0, (n, kmax)) / lam[:, None], axis=1)
    # purchases made before dropping out: geometric on 0, 1, ... (0: dropped after the first)
    n_life = rng.geometric(p) - 1
    ok = (times <= T[:, None]) & (np.arange(1, kmax + 1)[None, :] <= n_life[:, None])
    x = ok.sum(axis=1)
    tx = np.where(x > 0, times[np.arange(n), np.maximum(x - 1, 0)], 0.0)
    return x.astype(float), tx, T


def test_mbgnbd_recovers_simulated_parameters():
    truth = dict(r=0.6, alpha=6.0, a=0.9, b=2.0)
    x, tx, T = _simulate_mbgnbd(20_000, **truth, rng=np.random.default_rng(31))
    m = ModifiedBetaGeoFitter().fit(x, tx, T)
    for k, v in truth.items():
        assert m.summary.loc[k, "ci_low"] < v < m.summary.loc[k, "ci_high"], (k, v)
    # the weights equal expanded rows
    counts = np.arange(3000) % 3 + 1
    a = ModifiedBetaGeoFitter().fit(np.repeat(x[:3000], counts), np.repeat(tx[:3000], counts),
                                    np.repeat(T[:3000], counts))
    b = ModifiedBetaGeoFitter().fit(x[:3000], tx[:3000], T[:3000], weights=counts)
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-6)


def test_bgnbd_unchanged_by_the_shared_likelihood(cdnow_cal):
    bg = BetaGeoFitter().fit(cdnow_cal)
    np.testing.assert_allclose(bg.params_, [0.2425945, 4.4136019, 0.7929199, 2.4258881], rtol=2e-5)


# --- BG/BB ------------------------------------------------------------------------------------------
def test_bgbb_reproduces_fader_hardie_shang_2010(bb, ref):
    assert [round(v, 3) for v in bb.params_] == [1.204, 0.750, 0.657, 2.783]
    assert round(bb.log_likelihood_, 1) == -33225.6
    assert bb.n_customers_ == 11104 and bb.n_unique_rows_ == 22
    np.testing.assert_allclose(bb.params_, pd.Series(ref["bgbb_fit"])[bb.params_.index], rtol=2e-7)
    assert bb.log_likelihood_ >= ref["bgbb_fit_loglik"] - 1e-6
    assert bb.optimizer_result_.method == "newton" and bb.optimizer_result_.success


def test_bgbb_likelihood_and_predictions_equal_lifetimes(donations, ref):
    m = BetaGeoBetaBinomFitter()
    m.params_ = pd.Series(ref["bgbb_fixed_params"], dtype=float)
    d = donations
    # lifetimes adds 1e-15 to the dropout sum inside its logarithm
    np.testing.assert_allclose(m.loglik_rows(d.frequency, d.recency, d.periods),
                               ref["bgbb_loglik_rows"], rtol=0, atol=1e-12)
    for mm in (0, 1):
        np.testing.assert_allclose(
            m.conditional_probability_alive(mm, d.frequency, d.recency, d.periods),
            ref[f"bgbb_palive_{mm}"], rtol=1e-11)
    np.testing.assert_allclose(
        m.conditional_expected_number_of_purchases_up_to_time(5, d.frequency, d.recency, d.periods),
        ref["bgbb_cond_5"], rtol=1e-11)
    probs = m.probability_of_n_purchases_up_to_time(6, np.arange(7))
    np.testing.assert_allclose(probs * 11104, ref["bgbb_expected_counts_6"], rtol=1e-12)
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    # E[X(n)] (eq. 8) is the mean of the distribution (eq. 7); gamma = 1 exactly uses the limit
    assert m.expected_number_of_purchases_up_to_time(6) == pytest.approx(probs @ np.arange(7))
    m1 = BetaGeoBetaBinomFitter()
    m1.params_ = pd.Series(dict(alpha=1.2, beta=0.75, gamma=1.0, delta=2.8))
    near = BetaGeoBetaBinomFitter()
    near.params_ = pd.Series(dict(alpha=1.2, beta=0.75, gamma=1.0 + 1e-7, delta=2.8))
    assert m1.expected_number_of_purchases_up_to_time(6) == pytest.approx(
        near.expected_number_of_purchases_up_to_time(6), rel=1e-6)
    assert m1.expected_number_of_purchases_up_to_time(6) == pytest.approx(
        m1.probability_of_n_purchases_up_to_time(6, np.arange(7)) @ np.arange(7), rel=1e-12)


def test_bgbb_exact_hessian(donations):
    m = BetaGeoBetaBinomFitter()
    d = donations
    cols = tuple(d[c].to_numpy(float) for c in ("frequency", "recency", "periods"))
    data, w = m._prepare(cols), d.weights.to_numpy(float)
    for p0 in ([1.2, 0.75, 0.66, 2.8], [0.3, 3.0, 2.0, 0.5], [5.0, 1.0, 0.2, 10.0]):
        lp, step = np.log(p0), 1e-5
        ll, g, h = m._loglik_grad_hess(lp, data, w)
        num_g = [(m._loglik_and_grad(lp + e, data, w)[0] - m._loglik_and_grad(lp - e, data, w)[0])
                 / (2 * step) for e in np.eye(4) * step]
        np.testing.assert_allclose(g, num_g, rtol=1e-6, atol=1e-4)
        num = np.column_stack([(m._loglik_and_grad(lp + e, data, w)[1]
                                - m._loglik_and_grad(lp - e, data, w)[1]) / (2 * step)
                               for e in np.eye(4) * step])
        np.testing.assert_allclose(h, num, rtol=1e-6, atol=1e-6 * np.abs(h).max())


def _simulate_bgbb(n_cust, n, alpha, beta, gamma, delta, rng):
    p, th = rng.beta(alpha, beta, n_cust), rng.beta(gamma, delta, n_cust)
    alive = np.ones(n_cust, dtype=bool)
    x, tx = np.zeros(n_cust), np.zeros(n_cust)
    for t in range(1, n + 1):
        alive &= rng.random(n_cust) >= th          # drops out before opportunity t
        buy = alive & (rng.random(n_cust) < p)
        x += buy
        tx = np.where(buy, t, tx)
    return x, tx, np.full(n_cust, float(n))


def test_bgbb_recovers_simulated_parameters_and_expanded_rows():
    # 95% intervals over 20 simulated data sets: coverage and z-scores as for a normal estimator
    truth = dict(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    z = []
    for seed in range(20):
        x, tx, n = _simulate_bgbb(5_000, 8, **truth, rng=np.random.default_rng(400 + seed))
        m = BetaGeoBetaBinomFitter().fit(x, tx, n)
        se = np.sqrt(np.diag(m.covariance_log_.to_numpy()))
        z.append((np.log(m.params_.to_numpy()) - np.log(list(truth.values()))) / se)
    z = np.array(z)
    assert (np.abs(z) < 1.96).mean() >= 0.85
    assert np.all(np.abs(z.mean(axis=0)) < 0.8) and np.all(z.std(axis=0) < 1.6)
    d = load_donations()
    big = d.loc[d.index.repeat(d.weights)]
    e = BetaGeoBetaBinomFitter().fit(big.frequency, big.recency, big.periods)
    w = BetaGeoBetaBinomFitter().fit(d, weights=d.weights)
    np.testing.assert_allclose(e.params_, w.params_, rtol=1e-8)


def test_bgbb_bad_input():
    with pytest.raises(ValueError, match="1 of 2 customers have frequency greater than recency"):
        BetaGeoBetaBinomFitter().fit([3, 1], [2, 1], [6, 6])
    with pytest.raises(ValueError, match="recency greater than n_periods"):
        BetaGeoBetaBinomFitter().fit([1, 1], [7, 1], [6, 6])
    with pytest.raises(ValueError, match="zero frequency with positive recency"):
        BetaGeoBetaBinomFitter().fit([0, 1], [2, 1], [6, 6])
    with pytest.raises(ValueError, match="non-integer"):
        BetaGeoBetaBinomFitter().fit([0.5, 1], [1, 1], [6, 6])
    with pytest.raises(ValueError, match="no repeat transactions"):
        BetaGeoBetaBinomFitter().fit([0, 0], [0, 0], [6, 6])
    with pytest.raises(ValueError, match="lacks column"):
        BetaGeoBetaBinomFitter().fit(pd.DataFrame({"frequency": [1], "recency": [1]}))
