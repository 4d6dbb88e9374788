"""Intervals of crmlab.ltv.intervals: conditional moments against simulation from the posterior,
interval coverage of simulated customers' future purchases over seeds, consistency with the
point predictions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.datasets import load_cdnow
from crmlab.ltv import (BetaGeoBetaBinomFitter, BetaGeoFitter, GammaGammaFitter,
                        ModifiedBetaGeoFitter, ParetoNBDFitter, customer_lifetime_value)
from crmlab.ltv._moments import Histories, purchase_moments, purchase_variance
from crmlab.ltv.intervals import ltv_intervals
from crmlab.summaries import rfm_summary


@pytest.fixture(scope="module")
def cdnow_cal():
    return rfm_summary(load_cdnow(sample=True), "1998-07-01", "D", calibration_end="1997-10-01",
                       time_scaler=7)


def _moments(model, hist, h):
    """E[Y(h)] and Var Y(h) per history at the model's parameters."""
    p = model.params_.to_numpy()
    pa, firsts = purchase_moments(model, p, hist, [h])
    return pa, firsts[:, hist.pair] * pa, purchase_variance(model, p, hist, h)


def _fixed(cls, params):
    m = cls()
    m.params_ = pd.Series(params, dtype=float)
    return m


# --- conditional moments: Monte Carlo from the posterior given the history ------------------------
def _future_bg(rng, n, lam, p, h, shift):
    """Purchases in (0, h] of customers alive now with rates lam and dropout coins p: those of
    the Poisson process up to h, but no more than the one after which the customer drops out."""
    return np.minimum(rng.poisson(lam * h), rng.geometric(p))


@pytest.mark.parametrize("cls,shift", [(BetaGeoFitter, 0), (ModifiedBetaGeoFitter, 1)])
def test_bg_moments_equal_posterior_simulation(cls, shift):
    r, alpha, a, b = 0.6, 5.0, 0.9, 2.2
    model = _fixed(cls, dict(r=r, alpha=alpha, a=a, b=b))
    hist = Histories(np.array([0.0, 1, 4, 12]), np.array([0.0, 10, 30, 35]),
                     np.array([40.0, 40, 40, 40]))
    h = 26.0
    pa, cum, var = _moments(model, hist, h)
    rng = np.random.default_rng(1)
    n = 400_000
    for i in range(len(hist)):
        x, T = hist.x[i], hist.t[i]
        lam = rng.gamma(r + x, 1 / (alpha + T), n)
        p = rng.beta(a, b + x + shift, n)
        y = _future_bg(rng, n, lam, p, h, shift) * (rng.random(n) < pa[i])
        assert cum[0, i] == pytest.approx(y.mean(), abs=4 * y.std() / np.sqrt(n))
        assert var[i] == pytest.approx(y.var(), rel=0.02)


def test_pareto_moments_equal_posterior_simulation():
    r, alpha, s, beta = 0.6, 8.0, 0.8, 15.0
    model = _fixed(ParetoNBDFitter, dict(r=r, alpha=alpha, s=s, beta=beta))
    hist = Histories(np.array([0.0, 2, 9]), np.array([0.0, 12, 30]), np.array([40.0, 40, 40]))
    h = 52.0
    pa, cum, var = _moments(model, hist, h)
    rng = np.random.default_rng(2)
    n = 400_000
    for i in range(len(hist)):
        x, T = hist.x[i], hist.t[i]
        lam = rng.gamma(r + x, 1 / (alpha + T), n)
        mu = rng.gamma(s, 1 / (beta + T), n)
        life = np.minimum(rng.exponential(1.0, n) / mu, h)
        y = rng.poisson(lam * life) * (rng.random(n) < pa[i])
        assert cum[0, i] == pytest.approx(y.mean(), abs=4 * y.std() / np.sqrt(n))
        assert var[i] == pytest.approx(y.var(), rel=0.02)


def test_bgbb_moments_equal_posterior_simulation():
    al, be, ga, de = 1.2, 0.75, 0.66, 2.8
    model = _fixed(BetaGeoBetaBinomFitter, dict(alpha=al, beta=be, gamma=ga, delta=de))
    x, tx, n_ = np.array([0.0, 2, 6]), np.array([0.0, 3, 6]), np.array([6.0, 6, 6])
    hist = Histories(x, tx, n_)
    h = 5
    pa, cum, var = _moments(model, hist, h)
    np.testing.assert_allclose(cum[0], model.conditional_expected_number_of_purchases_up_to_time(
        h, x, tx, n_), rtol=1e-12)
    rng = np.random.default_rng(3)
    n = 400_000
    for i in range(len(x)):
        p = rng.beta(al + x[i], be + n_[i] - x[i], n)
        th = rng.beta(ga, de + n_[i], n)
        alive = rng.random(n) < pa[i]
        y = np.zeros(n)
        for _ in range(h):
            alive &= rng.random(n) >= th
            y += alive & (rng.random(n) < p)
        assert cum[0, i] == pytest.approx(y.mean(), abs=4 * y.std() / np.sqrt(n))
        assert var[i] == pytest.approx(y.var(), rel=0.02)


# --- agreement with the point predictions -------------------------------------------------------------
@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter])
def test_values_equal_point_predictions(cdnow_cal, cls):
    m, gg = cls().fit(cdnow_cal), GammaGammaFitter().fit(cdnow_cal)
    iv = ltv_intervals(m, cdnow_cal, gg, horizon=39, ci_level=0.8)
    c = iv.customers
    x, tx, T = cdnow_cal.frequency_cal, cdnow_cal.recency_cal, cdnow_cal.T_cal
    np.testing.assert_allclose(c.purchases, m.conditional_expected_number_of_purchases_up_to_time(
        39, x, tx, T), rtol=1e-12)
    np.testing.assert_allclose(c.p_alive, m.conditional_probability_alive(x, tx, T), rtol=1e-12)
    np.testing.assert_allclose(c.spend, gg.conditional_expected_average_profit(
        x, cdnow_cal.monetary_value_cal), rtol=1e-12)
    np.testing.assert_allclose(c.clv, customer_lifetime_value(m, cdnow_cal, gg, months=12),
                               rtol=1e-12)
    for q in ("purchases", "p_alive", "spend", "clv"):
        assert (c[q + "_low"] <= c[q]).all() and (c[q] <= c[q + "_high"]).all()
    assert ((c.p_alive_low >= 0) & (c.p_alive_high <= 1)).all()
    a = iv.aggregate()
    assert a.loc["all", "purchases"] == pytest.approx(c.purchases.sum())
    for q in ("purchases", "alive", "clv"):
        row = a.loc["all"]
        assert row[q + "_pi_low"] < row[q + "_ci_low"] < row[q] < row[q + "_ci_high"] \
            < row[q + "_pi_high"]
    # a wider level gives wider intervals; groups add up to the whole base
    wide = ltv_intervals(m, cdnow_cal, gg, horizon=39, ci_level=0.95)
    assert (wide.customers.clv_high >= c.clv_high).all()
    seg = iv.aggregate(by=np.where(x > 0, "repeat", "one-time"))
    assert seg.customers.sum() == len(c) and seg.clv.sum() == pytest.approx(c.clv.sum())
    # the expected totals' confidence intervals widen with the shared parameters: the group
    # interval is wider than independent customers' intervals would give
    assert "prediction interval" in iv.reading


def test_bgbb_intervals(cdnow_cal):
    from crmlab.datasets import load_donations
    d = load_donations()
    bb = BetaGeoBetaBinomFitter().fit(d, weights=d.weights)
    big = d.loc[d.index.repeat(d.weights)].reset_index(drop=True)
    iv = ltv_intervals(bb, big, horizon=5)
    np.testing.assert_allclose(iv.customers.purchases,
                               bb.conditional_expected_number_of_purchases_up_to_time(
                                   5, big.frequency, big.recency, big.periods), rtol=1e-12)
    assert "clv" not in iv.customers
    with pytest.raises(ValueError, match="whole number of opportunities"):
        ltv_intervals(bb, big, horizon=2.5)


def test_bad_input(cdnow_cal):
    m = _fixed(BetaGeoFitter, dict(r=0.24, alpha=4.4, a=0.79, b=2.4))
    m.unit_days_ = 7.0
    with pytest.raises(ValueError, match="no fitted covariance"):
        ltv_intervals(m, cdnow_cal)
    bg = BetaGeoFitter().fit(cdnow_cal)
    with pytest.raises(ValueError, match="ci_level must be in"):
        ltv_intervals(bg, cdnow_cal, ci_level=90)
    iv = ltv_intervals(bg, cdnow_cal)
    with pytest.raises(ValueError, match="by has 3 values for 2357 customers"):
        iv.aggregate(by=[1, 2, 3])


# --- coverage on simulated customers ---------------------------------------------------------------
def _simulate_bg_paths(n, r, alpha, a, b, rng, horizon, kmax=200):
    """BG/NBD customers: calibration summary (x, t_x, T) and purchases in (T, T + horizon]."""
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    T = rng.uniform(20, 60, n)
    times = np.cumsum(rng.exponential(1.0, (n, kmax)) / lam[:, None], axis=1)
    life = rng.geometric(p)                       # repeat purchases made, the last one included
    k = np.arange(1, kmax + 1)[None, :]
    made = k <= life[:, None]
    cal = made & (times <= T[:, None])
    x = cal.sum(axis=1)
    tx = np.where(x > 0, times[np.arange(n), np.maximum(x - 1, 0)], 0.0)
    future = (made & (times > T[:, None]) & (times <= (T + horizon)[:, None])).sum(axis=1)
    return x.astype(float), tx, T, future


def test_interval_coverage_of_future_purchases_over_seeds():
    truth = dict(r=0.5, alpha=5.0, a=0.8, b=2.5)
    tm = _fixed(BetaGeoFitter, truth)
    hits_pi, hits_ci_only, cust_cov = [], [], []
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        x, tx, T, future = _simulate_bg_paths(1500, **truth, rng=rng, horizon=30.0)
        summ = pd.DataFrame({"frequency": x, "recency": tx, "T": T})
        bg = BetaGeoFitter().fit(x, tx, T)
        iv = ltv_intervals(bg, summ, horizon=30.0, ci_level=0.9, unit_days=7.0)
        groups = np.where(x > 0, "repeat", "one-time")
        agg = iv.aggregate(by=groups)
        actual = pd.Series(future, index=groups).groupby(level=0).sum()
        for g in agg.index:
            hits_pi.append(agg.loc[g, "purchases_pi_low"] <= actual[g] <= agg.loc[g, "purchases_pi_high"])
            hits_ci_only.append(agg.loc[g, "purchases_ci_low"] <= actual[g] <= agg.loc[g, "purchases_ci_high"])
        # per customer: the interval of the expected purchases covers the expectation under the
        # true parameters
        true_e = tm.conditional_expected_number_of_purchases_up_to_time(30.0, x, tx, T)
        c = iv.customers
        cust_cov.append(np.mean((c.purchases_low <= true_e) & (true_e <= c.purchases_high)))
    assert 0.8 <= np.mean(hits_pi) <= 0.98, np.mean(hits_pi)
    # parameter uncertainty alone is not enough for the realised totals
    assert np.mean(hits_ci_only) < np.mean(hits_pi) - 0.1
    assert 0.8 <= np.mean(cust_cov) <= 0.98, np.mean(cust_cov)
