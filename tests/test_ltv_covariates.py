"""Covariates in BG/NBD, Pareto/NBD and Gamma-Gamma (crmlab.ltv.covariates): recovery of known
effects from simulated customers (interval coverage over seeds), agreement with the
covariate-free fit when the covariates carry nothing, exact likelihood plumbing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlab.datasets import load_cdnow
from crmlab.ltv import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from crmlab.ltv.covariates import (BetaGeoCovariateFitter, GammaGammaCovariateFitter,
                                   ParetoNBDCovariateFitter)
from crmlab.summaries import rfm_summary


@pytest.fixture(scope="module")
def cdnow_cal():
    return rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)


def _design(n, rng):
    ch = rng.integers(0, 2, n)
    reg = rng.integers(0, 3, n)
    return pd.DataFrame({"web": ch.astype(float), "north": (reg == 1).astype(float),
                         "south": (reg == 2).astype(float)})


GP = np.array([0.6, -0.3, 0.2])     # purchase coefficients
GL = np.array([-0.5, 0.0, 0.4])     # lifetime coefficients


def _sim_bg(n, rng):
    cov = _design(n, rng)
    X = cov.to_numpy()
    alpha, a, b = 6.0 * np.exp(-X @ GP), 0.9 * np.exp(X @ GL), 2.5 * np.exp(X @ GL)
    lam, p = rng.gamma(0.6, 1 / alpha), rng.beta(a, b)
    T = rng.uniform(20, 60, n)
    times = np.cumsum(rng.exponential(1.0, (n, 150)) / lam[:, None], axis=1)
    ok = (times <= T[:, None]) & (np.arange(1, 151)[None, :] <= rng.geometric(p)[:, None])
    x = ok.sum(axis=1)
    tx = np.where(x > 0, times[np.arange(n), np.maximum(x - 1, 0)], 0.0)
    return x.astype(float), tx, T, cov


def _sim_pnbd(n, rng):
    cov = _design(n, rng)
    X = cov.to_numpy()
    alpha, beta = 8.0 * np.exp(-X @ GP), 12.0 * np.exp(-X @ GL)
    lam, mu = rng.gamma(0.7, 1 / alpha), rng.gamma(0.9, 1 / beta)
    T = np.round(rng.uniform(20, 60, n))
    end = np.minimum(rng.exponential(1.0, n) / mu, T)
    times = np.cumsum(rng.exponential(1.0, (n, 200)) / lam[:, None], axis=1)
    x = (times <= end[:, None]).sum(axis=1)
    tx = np.where(x > 0, np.floor(times[np.arange(n), np.maximum(x - 1, 0)]), 0.0)
    return x.astype(float), tx, T, cov


def _z(model, truth):
    s = model.summary
    return (s.estimate - truth) / s.se


def test_bgnbd_recovers_covariate_effects_over_seeds():
    truth = pd.Series(dict(zip([f"purchase: {c}" for c in ("web", "north", "south")], GP))
                      | dict(zip([f"lifetime: {c}" for c in ("web", "north", "south")], GL)))
    z = []
    for seed in range(12):
        x, tx, T, cov = _sim_bg(3000, np.random.default_rng(500 + seed))
        m = BetaGeoCovariateFitter().fit(x, tx, T, covariates=cov)
        assert m.n_patterns_ == 6
        z.append(_z(m, truth).loc[truth.index].to_numpy())
    z = np.array(z)
    assert (np.abs(z) < 1.96).mean() >= 0.85
    assert np.all(np.abs(z.mean(axis=0)) < 1.0) and np.all(z.std(axis=0) < 1.6)


def test_paretonbd_recovers_covariate_effects_over_seeds():
    truth = pd.Series(dict(zip([f"purchase: {c}" for c in ("web", "north", "south")], GP))
                      | dict(zip([f"lifetime: {c}" for c in ("web", "north", "south")], GL)))
    z = []
    for seed in range(8):
        x, tx, T, cov = _sim_pnbd(3000, np.random.default_rng(600 + seed))
        m = ParetoNBDCovariateFitter().fit(x, tx, T, covariates=cov)
        z.append(_z(m, truth).loc[truth.index].to_numpy())
    z = np.array(z)
    assert (np.abs(z) < 1.96).mean() >= 0.85
    assert np.all(np.abs(z.mean(axis=0)) < 1.2)


def test_gammagamma_recovers_covariate_effects_over_seeds():
    z = []
    for seed in range(12):
        rng = np.random.default_rng(700 + seed)
        n = 2000
        cov = _design(n, rng)
        gs = np.array([0.4, -0.2, 0.3])
        v = 30.0 * np.exp(cov.to_numpy() @ gs)
        x = rng.integers(1, 8, n).astype(float)
        nu = rng.gamma(4.0, 1 / v)
        m = rng.gamma(6.0 * x, 1 / (x * nu))
        fit = GammaGammaCovariateFitter().fit(x, m, covariates=cov)
        z.append((fit.coefficients_.to_numpy() - gs)
                 / np.sqrt(np.diag(fit.covariance_))[3:])
    z = np.array(z)
    assert (np.abs(z) < 1.96).mean() >= 0.85
    assert np.all(np.abs(z.mean(axis=0)) < 0.8)


def test_noise_covariates_match_the_covariate_free_fit(cdnow_cal):
    rng = np.random.default_rng(9)
    n = len(cdnow_cal)
    noise = pd.DataFrame({"u": rng.standard_normal(n), "v": rng.choice([-1.0, 1.0], n)})
    base = BetaGeoFitter().fit(cdnow_cal)
    cov = BetaGeoCovariateFitter().fit(cdnow_cal, covariates=noise)
    assert cov.n_patterns_ == n                    # continuous: customer by customer
    # the likelihood ratio of 4 coefficients that carry nothing is a chi-square(4) draw
    assert 2 * (cov.log_likelihood_ - base.log_likelihood_) < stats.chi2.ppf(0.999, 4)
    assert cov.log_likelihood_ >= base.log_likelihood_ - 1e-6
    s = cov.summary
    np.testing.assert_allclose(s.estimate.iloc[:4], base.params_, rtol=0.15)
    pred = cov.conditional_expected_number_of_purchases_up_to_time(
        39, cdnow_cal.frequency, cdnow_cal.recency, cdnow_cal["T"], noise)
    ref = base.conditional_expected_number_of_purchases_up_to_time(
        39, cdnow_cal.frequency, cdnow_cal.recency, cdnow_cal["T"])
    assert abs(pred.sum() / ref.sum() - 1) < 0.02
    pn = ParetoNBDFitter().fit(cdnow_cal)
    pc = ParetoNBDCovariateFitter().fit(cdnow_cal, covariates=noise[["v"]])
    assert 2 * (pc.log_likelihood_ - pn.log_likelihood_) < stats.chi2.ppf(0.999, 2)
    np.testing.assert_allclose(pc.params_.iloc[[0, 2]], pn.params_.iloc[[0, 2]], rtol=0.2)


def test_likelihood_at_zero_coefficients_equals_the_covariate_free_one(cdnow_cal):
    rng = np.random.default_rng(4)
    n = len(cdnow_cal)
    cov = pd.DataFrame({"g": rng.integers(0, 3, n).astype(float)})
    for fitter, base in ((BetaGeoCovariateFitter(), BetaGeoFitter().fit(cdnow_cal)),
                         (BetaGeoCovariateFitter(max_patterns=1), BetaGeoFitter().fit(cdnow_cal)),
                         (ParetoNBDCovariateFitter(), ParetoNBDFitter().fit(cdnow_cal))):
        fitter.fit(cdnow_cal, covariates=cov)
        theta0 = np.concatenate([np.log(base.params_.to_numpy()), np.zeros(2)])
        ll, g = fitter._loglik_grad(theta0)
        ll_base = getattr(base, "log_likelihood_quadrature_", base.log_likelihood_)
        assert ll == pytest.approx(ll_base, rel=1e-10)
        # the chain-rule gradient equals central differences of the likelihood
        th = fitter.theta_ + 0.05
        g = fitter._loglik_grad(th)[1]
        num = [(fitter._loglik_grad(th + e)[0] - fitter._loglik_grad(th - e)[0]) / 2e-6
               for e in np.eye(len(th)) * 1e-6]
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-3)
    gg = GammaGammaFitter().fit(cdnow_cal)
    gc = GammaGammaCovariateFitter().fit(cdnow_cal, covariates=cov)
    theta0 = np.concatenate([np.log(gg.params_.to_numpy()), np.zeros(1)])
    assert gc._loglik_grad(theta0)[0] == pytest.approx(gg.log_likelihood_, rel=1e-10)
    spend = gc.conditional_expected_average_profit(cdnow_cal.frequency, cdnow_cal.monetary_value, cov)
    assert spend.shape == (n,) and np.all(spend > 0)


def test_bad_covariates(cdnow_cal):
    n = len(cdnow_cal)
    with pytest.raises(ValueError, match="covariates have 3 rows for 2357 customers"):
        BetaGeoCovariateFitter().fit(cdnow_cal, covariates=pd.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(ValueError, match="covariate 'c' is constant"):
        BetaGeoCovariateFitter().fit(cdnow_cal, covariates=pd.DataFrame({"c": np.ones(n)}))
    with pytest.raises(ValueError, match="covariate 'k' is not numeric"):
        BetaGeoCovariateFitter().fit(cdnow_cal, covariates=pd.DataFrame({"k": ["a"] * n}))
    bad = pd.DataFrame({"m": np.r_[np.nan, np.zeros(n - 2), 1.0]})
    with pytest.raises(ValueError, match="covariate 'm' has 1 missing"):
        BetaGeoCovariateFitter().fit(cdnow_cal, covariates=bad)
    with pytest.raises(ValueError, match="bin them|into bins"):
        ParetoNBDCovariateFitter().fit(cdnow_cal, covariates=pd.DataFrame(
            {"u": np.random.default_rng(0).standard_normal(n)}))


def test_newton_on_patterns_equals_lbfgsb_customer_by_customer():
    x, tx, T, cov = _sim_bg(3000, np.random.default_rng(77))
    grouped = BetaGeoCovariateFitter().fit(x, tx, T, covariates=cov)
    assert grouped.optimizer_result_.message == "Newton's method"
    rows = BetaGeoCovariateFitter(max_patterns=1).fit(x, tx, T, covariates=cov)
    assert rows.n_patterns_ == 6 and rows._mode == "rows"
    np.testing.assert_allclose(grouped.theta_, rows.theta_, atol=2e-5)
    assert grouped.log_likelihood_ == pytest.approx(rows.log_likelihood_, abs=1e-6)
    # exact Hessian vs central differences of the gradient
    np.testing.assert_allclose(grouped.summary.se, rows.summary.se, rtol=1e-4)
