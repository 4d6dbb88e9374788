"""crmlab.ltv against the published CDNOW estimates, lifetimes' predictions and simulations.

References
- Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
  Pareto/NBD model", Marketing Science 24(2): BG/NBD on the CDNOW sample, 39-week calibration:
  r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4 (also CLVTools' test suite: 0.2425945,
  4.4136019, 0.7929199, 2.4258881, LL -9582.429). Pareto/NBD on the same data: r=0.553,
  alpha=10.578, s=0.606, beta=11.669, LL=-9595.0 (CLVTools: LL -9594.976).
- Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (and FHL 2005, "RFM and
  CLV"): p=6.25, q=3.74, v=15.44 on the 946 repeat customers (CLVTools: LL -4055.9177).
- tests/fixtures/ltv_lifetimes_predictions.csv.gz and ltv_lifetimes_fits.json: lifetimes 0.11.3
  at fixed parameters and its own fits (tests/fixtures/ltv_lifetimes_make_predictions.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlab.datasets import load_cdnow
from crmlab.ltv import (BetaGeoFitter, ConvergenceError, GammaGammaFitter, ParetoNBDFitter,
                        customer_lifetime_value, holdout_check, pareto_nbd_loglik_exact)
from crmlab.summaries import rfm_summary

FIX = Path(__file__).parent / "fixtures"


def sig(x: float, n: int = 3) -> float:
    return float(f"{x:.{n}g}")


@pytest.fixture(scope="module")
def cdnow_cal():
    """The CDNOW sample with FHL's calibration (1997-01-01..1997-09-30) and holdout (39 weeks),
    time in weeks measured to the day."""
    return rfm_summary(load_cdnow(sample=True), "1998-07-01", "D", calibration_end="1997-10-01",
                       time_scaler=7)


@pytest.fixture(scope="module")
def bg(cdnow_cal):
    return BetaGeoFitter().fit(cdnow_cal)


@pytest.fixture(scope="module")
def pn(cdnow_cal):
    return ParetoNBDFitter().fit(cdnow_cal)


@pytest.fixture(scope="module")
def gg(cdnow_cal):
    return GammaGammaFitter().fit(cdnow_cal)


@pytest.fixture(scope="module")
def lt_pred():
    return pd.read_csv(FIX / "ltv_lifetimes_predictions.csv.gz", index_col="customer_id")


@pytest.fixture(scope="module")
def lt_fits():
    return json.loads((FIX / "ltv_lifetimes_fits.json").read_text())


# --- published estimates -------------------------------------------------------------------------
def test_bgnbd_reproduces_fader_hardie_lee_2005(bg):
    assert [sig(v) for v in bg.params_] == [0.243, 4.41, 0.793, 2.43]
    np.testing.assert_allclose(bg.params_, [0.2425945, 4.4136019, 0.7929199, 2.4258881],
                               rtol=2e-5)
    assert round(bg.log_likelihood_, 1) == -9582.4
    assert list(bg.params_.index) == ["r", "alpha", "a", "b"]
    assert bg.n_customers_ == 2357


def test_paretonbd_reproduces_published_estimates(pn):
    assert [sig(v) for v in pn.params_] == [0.553, 10.6, 0.606, 11.7]
    np.testing.assert_allclose(pn.params_, [0.553, 10.578, 0.606, 11.669], rtol=1e-3)
    assert round(pn.log_likelihood_, 1) == -9595.0
    # the quadrature objective and the closed form agree at the optimum, customer by customer
    assert abs(pn.log_likelihood_quadrature_ - pn.log_likelihood_) < 1e-9
    data = tuple(np.asarray(v) for v in pn._fit_data[0][:3])
    np.testing.assert_allclose(ParetoNBDFitter._loglik_rows(pn.params_.to_numpy(), data)[0],
                               pareto_nbd_loglik_exact(pn.params_, *data), rtol=0, atol=1e-12)


def test_gammagamma_reproduces_published_estimates(gg):
    assert [round(v, 2) for v in gg.params_] == [6.25, 3.74, 15.44]
    assert round(gg.log_likelihood_, 2) == -4055.92
    assert gg.n_customers_ == 946
    assert gg.excluded_ == {"customers without repeat purchases (frequency 0)": 1411}


def test_fits_equal_lifetimes_to_4_significant_figures(bg, pn, lt_fits):
    for model, key in [(bg, "bg"), (pn, "pn")]:
        ref = pd.Series(lt_fits["lifetimes_fit"][key])[model.params_.index]
        # lifetimes stops earlier on the flat Pareto/NBD ridge; compare at 4 s.f. where it is
        # well determined and check the likelihood is at least as high as lifetimes' optimum
        if key == "bg":
            assert [sig(v, 4) for v in model.params_] == [sig(v, 4) for v in ref]
        else:
            np.testing.assert_allclose(model.params_, ref, rtol=2e-4)


def test_summary_standard_errors(bg, pn, cdnow_cal):
    s = bg.summary
    assert list(s.columns) == ["estimate", "se", "ci_low", "ci_high"]
    assert (s.ci_low < s.estimate).all() and (s.estimate < s.ci_high).all()
    # Pareto/NBD Hessian standard errors on CDNOW, CLVTools' test suite
    # (test_correctness_pnbd): r 0.0476264, alpha 0.8427222, s 0.1872594, beta 6.2105448
    np.testing.assert_allclose(pn.summary.se, [0.0476264, 0.8427222, 0.1872594, 6.2105448],
                               rtol=1e-3)
    # BG/NBD: the same standard errors from second differences of the log-likelihood *values*
    # on the natural scale (no gradient involved)
    data = tuple(cdnow_cal[c].to_numpy(float) for c in ("frequency_cal", "recency_cal", "T_cal"))
    est = bg.params_.to_numpy()

    def ll(p):
        return BetaGeoFitter._loglik_rows(p, data)[0].sum()

    h = np.empty((4, 4))
    step = 1e-4 * est
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * step[i], np.eye(4)[j] * step[j]
            h[i, j] = (ll(est + ei + ej) - ll(est + ei - ej) - ll(est - ei + ej)
                       + ll(est - ei - ej)) / (4 * step[i] * step[j])
    np.testing.assert_allclose(s.se, np.sqrt(np.diag(np.linalg.inv(-h))), rtol=1e-3)
    assert "BG/NBD" in bg._repr_html_() and "log-likelihood -9582.4" in bg.reading
    assert set(bg.to_frame().columns) >= {"model", "parameter", "estimate", "se", "n"}


# --- predictions against lifetimes -----------------------------------------------------------------
def _fixed(model_cls, params):
    m = model_cls()
    m.params_ = pd.Series(params, dtype=float)
    return m


def test_bgnbd_predictions_equal_lifetimes(cdnow_cal, lt_pred, lt_fits):
    m = _fixed(BetaGeoFitter, lt_fits["fixed_params"]["bg"])
    x, tx, t = cdnow_cal.frequency_cal, cdnow_cal.recency_cal, cdnow_cal.T_cal
    np.testing.assert_allclose(m.conditional_probability_alive(x, tx, t), lt_pred.bg_palive,
                               rtol=1e-10)
    np.testing.assert_allclose(m.conditional_expected_number_of_purchases_up_to_time(39, x, tx, t),
                               lt_pred.bg_cond_39, rtol=1e-9)
    np.testing.assert_allclose(m.expected_number_of_purchases_up_to_time(
        lt_fits["bg_expected_purchases_t"]), lt_fits["bg_expected_purchases"], rtol=1e-10)
    np.testing.assert_allclose(m.probability_of_n_purchases_up_to_time(39, np.arange(8)),
                               lt_fits["bg_prob_n_39"], rtol=1e-9)


def test_paretonbd_predictions_equal_lifetimes(cdnow_cal, lt_pred, lt_fits):
    m = _fixed(ParetoNBDFitter, lt_fits["fixed_params"]["pn"])
    x, tx, t = cdnow_cal.frequency_cal, cdnow_cal.recency_cal, cdnow_cal.T_cal
    np.testing.assert_allclose(pareto_nbd_loglik_exact(m.params_, x, tx, t), lt_pred.pn_loglik,
                               rtol=1e-9)
    np.testing.assert_allclose(m.conditional_probability_alive(x, tx, t), lt_pred.pn_palive,
                               rtol=1e-8)
    np.testing.assert_allclose(m.conditional_expected_number_of_purchases_up_to_time(39, x, tx, t),
                               lt_pred.pn_cond_39, rtol=1e-8)
    np.testing.assert_allclose(m.expected_number_of_purchases_up_to_time(
        lt_fits["bg_expected_purchases_t"]), lt_fits["pn_expected_purchases"], rtol=1e-10)


def test_gammagamma_spend_and_clv_equal_lifetimes(cdnow_cal, lt_pred, lt_fits):
    g = _fixed(GammaGammaFitter, lt_fits["fixed_params"]["gg"])
    b = _fixed(BetaGeoFitter, lt_fits["fixed_params"]["bg"])
    np.testing.assert_allclose(g.conditional_expected_average_profit(
        cdnow_cal.frequency_cal, cdnow_cal.monetary_value_cal), lt_pred.gg_spend, rtol=1e-12)
    # lifetimes' month is 4.345 weeks: unit_days = (365.25 / 12) / 4.345 days per model unit
    clv = customer_lifetime_value(b, cdnow_cal, g, months=12, discount_rate=0.01,
                                  unit_days=(365.25 / 12) / 4.345)
    np.testing.assert_allclose(clv, lt_pred.clv_bg_gg_12m, rtol=1e-9)
    # margin scales linearly; a higher discount rate lowers CLV
    clv2 = customer_lifetime_value(b, cdnow_cal, g, months=12, margin=0.3,
                                   unit_days=(365.25 / 12) / 4.345)
    np.testing.assert_allclose(clv2, 0.3 * clv, rtol=1e-12)
    assert (customer_lifetime_value(b, cdnow_cal, g, discount_rate=0.05) <
            customer_lifetime_value(b, cdnow_cal, g, discount_rate=0.0)).all()


# --- likelihood machinery --------------------------------------------------------------------------
@pytest.mark.parametrize("model", [BetaGeoFitter, ParetoNBDFitter])
def test_exact_gradients(cdnow_cal, model):
    m = model()
    x, tx, t = (cdnow_cal[c].to_numpy(float) for c in ("frequency_cal", "recency_cal", "T_cal"))
    data, w = (x, tx, t), np.ones(len(x))
    for p0 in ([0.5, 3.0, 1.2, 2.0], [0.3, 20.0, 0.5, 2.0], [2.0, 1.0, 3.0, 50.0]):
        lp = np.log(p0)
        _, g = m._loglik_and_grad(lp, data, w)
        h = 1e-6
        num = [(m._loglik_and_grad(lp + e, data, w)[0] - m._loglik_and_grad(lp - e, data, w)[0])
               / (2 * h) for e in np.eye(4) * h]
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-3)


def test_gammagamma_gradient(cdnow_cal):
    m = GammaGammaFitter()
    keep = cdnow_cal.frequency_cal > 0
    data = (cdnow_cal.frequency_cal[keep].to_numpy(float),
            cdnow_cal.monetary_value_cal[keep].to_numpy(float))
    w = np.ones(len(data[0]))
    lp = np.log([3.0, 2.0, 20.0])
    _, g = m._loglik_and_grad(lp, data, w)
    num = [(m._loglik_and_grad(lp + e, data, w)[0] - m._loglik_and_grad(lp - e, data, w)[0]) / 2e-6
           for e in np.eye(3) * 1e-6]
    np.testing.assert_allclose(g, num, rtol=1e-5)


def test_bgnbd_exact_hessian(cdnow_cal):
    # the aggregated likelihood equals the per-customer one; the analytic Hessian equals central
    # differences of the exact gradient
    m = BetaGeoFitter()
    cols = tuple(cdnow_cal[c].to_numpy(float) for c in ("frequency_cal", "recency_cal", "T_cal"))
    w = np.arange(len(cols[0])) % 3 + 1.0
    data = m._prepare(cols)
    for p0 in ([0.5, 3.0, 1.2, 2.0], [0.3, 20.0, 0.5, 2.0], [2.0, 1.0, 3.0, 50.0],
               [0.2425945, 4.4136019, 0.7929199, 2.4258881]):
        lp = np.log(p0)
        ll, g, h = m._loglik_grad_hess(lp, data, w)
        ll_i, g_i = BetaGeoFitter._loglik_rows(np.array(p0), cols)
        assert ll == pytest.approx(w @ ll_i, rel=1e-12)
        np.testing.assert_allclose(g, (g_i @ w) * p0, rtol=1e-9, atol=1e-8)
        np.testing.assert_allclose(m._loglik_and_grad(lp, data, w)[1], g, rtol=1e-12)
        step = 1e-5
        num = np.column_stack([(m._loglik_and_grad(lp + e, data, w)[1]
                                - m._loglik_and_grad(lp - e, data, w)[1]) / (2 * step)
                               for e in np.eye(4) * step])
        np.testing.assert_allclose(h, num, rtol=1e-6, atol=1e-6 * np.abs(h).max())
        assert np.array_equal(h, h.T)


def test_bgnbd_likelihood_where_exp_overflows():
    # z = log(a/(b+x-1)) + (r+x) log((alpha+T)/(alpha+t_x)) far above 700: softplus(z) = z
    x = np.array([600.0, 300.0, 2.0, 0.0])
    tx = np.array([1.0, 2.0, 30.0, 0.0])
    t = np.array([1000.0, 900.0, 40.0, 50.0])
    p = np.array([0.5, 0.2, 0.8, 2.5])
    m = BetaGeoFitter()
    w = np.array([1.0, 2.0, 3.0, 4.0])
    ll, g = m._loglik_and_grad(np.log(p), (x, tx, t), w)
    ll_i, g_i = BetaGeoFitter._loglik_rows(p, (x, tx, t))
    assert ll == pytest.approx(w @ ll_i, rel=1e-13)
    np.testing.assert_allclose(g, (g_i @ w) * p, rtol=1e-10)


class _BetaGeoLBFGSB(BetaGeoFitter):
    """BG/NBD without the analytic Hessian: L-BFGS-B and finite-difference standard errors."""
    _loglik_grad_hess = None


class _BetaGeoBrokenHessian(BetaGeoFitter):
    """A Hessian that is not finite: Newton's method must hand over to L-BFGS-B."""

    def _loglik_grad_hess(self, logp, data, w):
        ll, g, h = super()._loglik_grad_hess(logp, data, w)
        return ll, g, np.full_like(h, np.nan)


def test_newton_fit_equals_lbfgsb_fit(cdnow_cal):
    x, tx, T = _simulate_bgnbd(30_000, 0.5, 5.0, 0.8, 2.5, rng=np.random.default_rng(22))
    newton = BetaGeoFitter().fit(x, tx, T)
    assert newton.n_unique_rows_ > 20_000                      # warm start, then Newton
    assert newton.optimizer_result_.method == "newton" and newton.optimizer_result_.success
    assert newton.optimizer_result_.nfev <= 8
    lbfgsb = _BetaGeoLBFGSB().fit(x, tx, T)
    np.testing.assert_allclose(newton.params_, lbfgsb.params_, rtol=1e-6)
    assert newton.log_likelihood_ == pytest.approx(lbfgsb.log_likelihood_, abs=1e-6)
    # exact Hessian vs forward differences of the gradient
    np.testing.assert_allclose(newton.summary.se, lbfgsb.summary.se, rtol=1e-4)
    # with a penalty
    pen = BetaGeoFitter(penalizer_coef=0.01).fit(cdnow_cal)
    pen_lb = _BetaGeoLBFGSB(penalizer_coef=0.01).fit(cdnow_cal)
    np.testing.assert_allclose(pen.params_, pen_lb.params_, rtol=1e-6)
    assert not np.allclose(pen.params_, BetaGeoFitter().fit(cdnow_cal).params_, rtol=1e-3)


def test_newton_falls_back_to_lbfgsb(cdnow_cal, bg):
    m = _BetaGeoBrokenHessian().fit(cdnow_cal)
    assert getattr(m.optimizer_result_, "method", "") != "newton"
    np.testing.assert_allclose(m.params_, bg.params_, rtol=1e-6)
    assert m.log_likelihood_ == pytest.approx(bg.log_likelihood_, abs=1e-6)


def test_paretonbd_quadrature_matches_closed_form_on_extreme_grid():
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(200):
        p = np.exp(rng.uniform(-3, 4, 4))
        x = rng.integers(0, 60, 50).astype(float)
        T = rng.uniform(0.5, 100, 50)
        tx = np.where(x > 0, T * rng.uniform(0, 1, 50), 0.0)
        q = ParetoNBDFitter._loglik_rows(p, (x, tx, T))[0]
        e = pareto_nbd_loglik_exact(p, x, tx, T)
        ok = np.isfinite(e)
        worst = max(worst, float(np.max(np.abs(q[ok] - e[ok]))))
    assert worst < 1e-4


def test_weights_equal_expanded_rows(cdnow_cal):
    c = cdnow_cal.iloc[:600]
    counts = np.arange(len(c)) % 3 + 1
    big = c.loc[c.index.repeat(counts)]
    a = BetaGeoFitter().fit(big.frequency_cal, big.recency_cal, big.T_cal)
    b = BetaGeoFitter().fit(c.frequency_cal, c.recency_cal, c.T_cal, weights=counts)
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-6)
    assert a.n_customers_ == b.n_customers_ == counts.sum()


# --- simulation with known truth -------------------------------------------------------------------
def _simulate_bgnbd(n, r, alpha, a, b, rng, kmax=120):
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(20, 60, n)
    gaps = rng.exponential(1.0, (n, kmax)) / lam[:, None]
    times = np.cumsum(gaps, axis=1)
    # number of repeat purchases before dropping out: geometric on 1, 2, ...
    n_life = rng.geometric(p)
    in_window = (times <= T[:, None]) & (np.arange(1, kmax + 1)[None, :] <= n_life[:, None])
    x = in_window.sum(axis=1)
    tx = np.where(x > 0, times[np.arange(n), np.maximum(x - 1, 0)], 0.0)
    return x.astype(float), tx, T


def _simulate_pnbd(n, r, alpha, s, beta, rng, kmax=150):
    lam = rng.gamma(r, 1 / alpha, n)
    mu = rng.gamma(s, 1 / beta, n)
    T = rng.uniform(20, 60, n)
    life = rng.exponential(1.0, n) / mu
    times = np.cumsum(rng.exponential(1.0, (n, kmax)) / lam[:, None], axis=1)
    x = (times <= np.minimum(life, T)[:, None]).sum(axis=1)
    tx = np.where(x > 0, times[np.arange(n), np.maximum(x - 1, 0)], 0.0)
    return x.astype(float), tx, T


def test_bgnbd_recovers_simulated_parameters():
    truth = dict(r=0.5, alpha=5.0, a=0.8, b=2.5)
    x, tx, T = _simulate_bgnbd(20_000, **truth, rng=np.random.default_rng(11))
    s = BetaGeoFitter().fit(x, tx, T).summary
    for k, v in truth.items():
        assert s.loc[k, "ci_low"] < v < s.loc[k, "ci_high"], (k, v, s.loc[k].tolist())


def test_paretonbd_recovers_simulated_parameters():
    truth = dict(r=0.6, alpha=8.0, s=0.8, beta=15.0)
    x, tx, T = _simulate_pnbd(20_000, **truth, rng=np.random.default_rng(12))
    s = ParetoNBDFitter().fit(x, tx, T).summary
    for k, v in truth.items():
        assert s.loc[k, "ci_low"] < v < s.loc[k, "ci_high"], (k, v, s.loc[k].tolist())


def test_gammagamma_recovers_simulated_parameters():
    rng = np.random.default_rng(13)
    truth = dict(p=6.0, q=4.0, v=30.0)
    n = 5000
    x = rng.integers(1, 10, n).astype(float)
    nu = rng.gamma(truth["q"], 1 / truth["v"], n)
    m = rng.gamma(truth["p"] * x, 1 / (x * nu))      # mean of x Gamma(p, rate nu) values
    s = GammaGammaFitter().fit(x, m).summary
    for k, v in truth.items():
        assert s.loc[k, "ci_low"] < v < s.loc[k, "ci_high"], (k, v, s.loc[k].tolist())


# --- holdout check -----------------------------------------------------------------------------------
def test_holdout_check(cdnow_cal, bg):
    chk = holdout_check(bg, cdnow_cal, max_frequency=7)
    t = chk.table
    assert list(t.frequency_cal) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert t.n.sum() == 2357
    assert chk.total_actual == cdnow_cal.frequency_holdout.sum()
    pred = bg.conditional_expected_number_of_purchases_up_to_time(
        39, cdnow_cal.frequency_cal, cdnow_cal.recency_cal, cdnow_cal.T_cal)
    assert chk.total_predicted == pytest.approx(pred.sum())
    zero = cdnow_cal.frequency_cal == 0
    assert t.loc[0, "actual"] == pytest.approx(cdnow_cal.frequency_holdout[zero].mean())
    assert "predicted" in chk.reading and "<table" in chk._repr_html_()
    with pytest.raises(ValueError, match="needs an rfm_summary table with calibration_end"):
        holdout_check(bg, cdnow_cal.drop(columns="frequency_holdout"))


def test_holdout_plot(cdnow_cal, bg):
    import matplotlib
    matplotlib.use("Agg")
    from crmlab.plots.ltv import plot_holdout_check

    ax = plot_holdout_check(holdout_check(bg, cdnow_cal))
    assert len(ax.lines) == 2
    import matplotlib.pyplot as plt
    plt.close("all")


# --- bad input ---------------------------------------------------------------------------------------
def test_bad_input(cdnow_cal):
    with pytest.raises(ValueError, match="no customers to fit"):
        BetaGeoFitter().fit([], [], [])
    with pytest.raises(ValueError, match="no repeat purchases"):
        BetaGeoFitter().fit([0, 0, 0], [0, 0, 0], [10, 20, 30])
    with pytest.raises(ValueError, match="no repeat purchases"):
        ParetoNBDFitter().fit([0, 0, 0], [0, 0, 0], [10, 20, 30])
    with pytest.raises(ValueError, match="1 of 3 customers have recency greater than T"):
        BetaGeoFitter().fit([1, 0, 2], [5, 0, 40], [10, 20, 30])
    with pytest.raises(ValueError, match="1 of 2 customers have negative or non-integer freq"):
        BetaGeoFitter().fit([1.5, 1], [2, 2], [10, 10])
    with pytest.raises(ValueError, match="frequency has 1 missing"):
        BetaGeoFitter().fit([np.nan, 1], [0, 2], [10, 10])
    with pytest.raises(ConvergenceError, match="did not converge after 1 iterations"):
        BetaGeoFitter(maxiter=1).fit(cdnow_cal)
    with pytest.raises(ValueError, match="at least 3 are needed"):
        GammaGammaFitter().fit([0, 1, 0], [0, 10.0, 0])
    # zero mean spend among repeat customers: left out of the Gamma-Gamma fit and counted
    c = cdnow_cal.copy()
    c.loc[c.index[c.frequency_cal > 0][:5], "monetary_value_cal"] = 0.0
    g = GammaGammaFitter().fit(c)
    assert g.excluded_["customers with repeat purchases but mean value <= 0"] == 5
    assert g.n_customers_ == 941
    with pytest.raises(RuntimeError, match="not fitted yet"):
        BetaGeoFitter().conditional_probability_alive(1, 1, 2)


# --- the simulated shop (crmlab.data.simulate) ----------------------------------------------------
def test_recovers_the_simulated_shop_parameters(small_shop, small_shop_dir):
    """The shop's buyers follow Pareto/NBD (per day) with Gamma-Gamma order values after their
    first purchase; meta.json records the true parameters. Campaign effects on treated customers,
    same-day merging and the 100 KRW rounding of amounts are small departures from the models."""
    truth = json.loads((small_shop_dir / "meta.json").read_text())["parameters"]
    s = rfm_summary(small_shop, time_unit="D")
    assert s.attrs["observation_end"] == str(small_shop.observation_end)
    pn_fit = ParetoNBDFitter().fit(s).summary
    for k, v in truth["pareto_nbd"].items():
        assert pn_fit.loc[k, "ci_low"] < v < pn_fit.loc[k, "ci_high"], (k, v, pn_fit.loc[k].tolist())
    gg_fit = GammaGammaFitter().fit(s).summary
    for k, v in truth["gamma_gamma"].items():
        name = {"gamma": "v"}.get(k, k)
        assert gg_fit.loc[name, "ci_low"] < v < gg_fit.loc[name, "ci_high"], (k, v)


def test_first_purchase_on_the_last_day_carries_no_information():
    # T = 0 (and x = 0): likelihood 1, log-likelihood 0, in both transaction models
    zero = (np.array([0.0]), np.array([0.0]), np.array([0.0]))
    assert BetaGeoFitter._loglik_rows(np.array([0.2, 4.0, 0.8, 2.4]), zero)[0][0] == 0.0
    assert ParetoNBDFitter._loglik_rows(np.array([0.5, 10.0, 0.6, 11.0]), zero)[0][0] == \
        pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="T = 0 with repeat purchases"):
        BetaGeoFitter().fit([1, 0], [0, 0], [0, 5])


def test_warm_start_on_large_inputs_reaches_the_same_optimum():
    # above 20,000 distinct histories the optimiser starts from a fit on a seeded subset
    x, tx, T = _simulate_bgnbd(30_000, 0.5, 5.0, 0.8, 2.5, rng=np.random.default_rng(21))
    warm = BetaGeoFitter().fit(x, tx, T)
    assert warm.n_unique_rows_ > 20_000
    cold = BetaGeoFitter(initial_params=dict(r=1.0, alpha=1.0, a=1.0, b=3.0)).fit(x, tx, T)
    np.testing.assert_allclose(warm.params_, cold.params_, rtol=1e-5)
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, abs=1e-6)


# --- Pareto/NBD knot tables (histories sharing few distinct time values) ---------------------------
def _day_histories(n, rng, xmax=60, tmax=200):
    """Integer-day histories with frequent t_x = 0 (x = 0), t_x = T and T = t_max."""
    T = rng.integers(1, tmax + 1, n).astype(float)
    x = np.minimum(rng.geometric(0.15, n) - 1, xmax).astype(float)
    tx = np.where(x > 0, np.floor(T * rng.uniform(0, 1.0001, n)).clip(0, T), 0.0)
    tx[::7] = np.where(x[::7] > 0, T[::7], 0.0)
    x[:5], tx[:5], T[:5] = [0, 0, 3, 400, 250], [0, 0, 0, 199, 200], [0, tmax, tmax, tmax, tmax]
    return x, tx, T


_PN_GRID = [(0.55, 10.6, 0.61, 11.7), (1.0, 40.0, 0.8, 400.0), (2.0, 300.0, 3.0, 20.0),
            (0.5, 2.0, 0.3, 3.0), (0.1, 0.5, 2.0, 0.5), (3.0, 7.0, 1.5, 7.0 * (1 + 1e-9)),
            (0.8, 0.05, 0.9, 5.0), (5.0, 1000.0, 0.05, 0.2), (0.02, 30.0, 10.0, 900.0)]


class TestParetoNBDKnotTables:
    @pytest.fixture(scope="class")
    def days(self):
        from crmlab.ltv._base import unique_rows
        x, tx, T = _day_histories(3000, np.random.default_rng(5))
        (ux, utx, ut), w, _ = unique_rows(x, tx, T)
        return ux, utx, ut, w

    @pytest.mark.parametrize("scale_log", [340.0, 2.0])
    @pytest.mark.parametrize("p", _PN_GRID)
    def test_rows_equal_closed_form_and_per_row_quadrature(self, days, p, scale_log, monkeypatch):
        # alpha < beta, alpha > beta, alpha = beta to 1e-9, x up to 400, tiny alpha, t_x = 0,
        # t_x = T, T = 0; with a small scale bound most frequencies are combined in logs
        from crmlab.ltv import paretonbd
        from crmlab.ltv.paretonbd import _knot_loglik
        monkeypatch.setattr(paretonbd, "_SCALE_LOG", scale_log)
        x, tx, T, w = days
        p = np.array(p)
        data = ParetoNBDFitter()._prepare((x, tx, T), knots=True)
        knot = _knot_loglik(p, data[3], w, rows=True)
        exact = pareto_nbd_loglik_exact(p, x, tx, T)
        ok = np.isfinite(exact)
        assert ok.mean() > 0.99
        np.testing.assert_allclose(knot[ok], exact[ok], rtol=0, atol=1e-10)
        per_row = ParetoNBDFitter._loglik_rows(p, (x, tx, T))[0]
        np.testing.assert_allclose(knot, per_row, rtol=0, atol=1e-4)
        assert knot[(x == 0) & (T == 0)] == pytest.approx(0.0, abs=1e-12)
        # the total and its gradient agree with the per-row path
        m = ParetoNBDFitter()
        ll_k, g_k = m._loglik_and_grad(np.log(p), data, w)
        ll_r, g_r = m._loglik_and_grad(np.log(p), (x, tx, T), w)
        assert ll_k == pytest.approx(float(w @ knot), rel=1e-13)
        np.testing.assert_allclose(g_k, g_r, rtol=1e-4, atol=1e-3)

    @pytest.mark.parametrize("p", _PN_GRID[:6])
    def test_gradient_equals_central_differences(self, days, p):
        x, tx, T, w = days
        m = ParetoNBDFitter()
        data = m._prepare((x, tx, T), knots=True)
        def ll(lp):
            return m._loglik_and_grad(lp, data, w)[0]

        lp, h = np.log(p), 1e-5
        num = [(ll(lp + e) - ll(lp - e)) / (2 * h) for e in np.eye(4) * h]
        np.testing.assert_allclose(m._loglik_and_grad(lp, data, w)[1], num, rtol=1e-6, atol=1e-5)

    def test_path_choice(self, days, cdnow_cal):
        x, tx, T, _ = days
        assert len(ParetoNBDFitter()._prepare((x, tx, T))) == 4           # days: knot tables
        xs, txs, Ts = _simulate_pnbd(2000, 0.6, 8.0, 0.8, 15.0, np.random.default_rng(3))
        assert len(ParetoNBDFitter()._prepare((xs, txs, Ts))) == 3        # continuous: per row

    def test_fits_by_both_paths_agree(self, cdnow_cal):
        cols = tuple(cdnow_cal[c].to_numpy(float) for c in ("frequency_cal", "recency_cal", "T_cal"))
        w = np.ones(len(cols[0]))
        fits = []
        for knots in (True, False):
            m = ParetoNBDFitter()
            data = m._prepare(cols, knots=knots)
            m._optimise(data, w)
            fits.append(m.params_.to_numpy())
        np.testing.assert_allclose(fits[0], fits[1], rtol=2e-6)
        np.testing.assert_allclose(fits[0], [0.5533, 10.578, 0.6062, 11.669], rtol=1e-4)

    def test_large_day_level_fit_reaches_the_closed_form_maximum(self):
        # > 20,000 distinct histories: coarse warm start and Newton steps, then the optimiser
        x, tx, T = _simulate_pnbd(60_000, 0.7, 12.0, 0.6, 30.0, np.random.default_rng(8))
        tx, T = np.floor(10 * tx), np.floor(10 * T)             # "days"
        m = ParetoNBDFitter().fit(x, tx, T)
        assert m.n_unique_rows_ > 20_000 and len(m._fit_data[0]) == 4
        cold = ParetoNBDFitter(initial_params=dict(r=1.0, alpha=1.0, s=1.0, beta=1.0)).fit(x, tx, T)
        np.testing.assert_allclose(m.params_, cold.params_, rtol=1e-6)
        assert abs(m.log_likelihood_quadrature_ - m.log_likelihood_) < 1e-7
        # the closed-form log-likelihood's gradient vanishes there: a Newton step on it is tiny
        from crmlab.ltv._base import unique_rows
        (ux, utx, ut), w, _ = unique_rows(x, tx, T)

        def exact(lp):
            return float(w @ pareto_nbd_loglik_exact(np.exp(lp), ux, utx, ut))

        lp, h = np.log(m.params_.to_numpy()), 1e-4
        g = np.array([(exact(lp + e) - exact(lp - e)) / (2 * h) for e in np.eye(4) * h])
        assert np.max(np.abs(np.linalg.solve(m.hessian_log_, g))) < 1e-6

    def test_exact_loglik_per_pair_equals_direct_formula(self):
        # Fader & Hardie (2005) eq. 22-24 with alpha < beta, customer by customer
        from scipy.special import gammaln, hyp2f1
        x, tx, T = _day_histories(500, np.random.default_rng(9))
        x, tx, T = x[x <= 60], tx[x <= 60], T[x <= 60]
        r, alpha, s, beta = 0.7, 9.0, 0.5, 14.0
        got = pareto_nbd_loglik_exact([r, alpha, s, beta], x, tx, T)
        k = r + s + x
        a1 = hyp2f1(k, r + x, k + 1, (beta - alpha) / (beta + tx)) / (beta + tx) ** k
        a2 = hyp2f1(k, r + x, k + 1, (beta - alpha) / (beta + T)) / (beta + T) ** k
        like = np.exp(gammaln(r + x) - gammaln(r)) * alpha ** r * beta ** s * (
            (alpha + T) ** -(r + x) * (beta + T) ** -s + s / k * (a1 - a2))
        np.testing.assert_allclose(got, np.log(like), rtol=1e-10)
        assert pareto_nbd_loglik_exact([r, alpha, s, beta], x[:6].reshape(2, 3), tx[:6].reshape(2, 3),
                                       T[:6].reshape(2, 3)).shape == (2, 3)

    def test_weights_equal_expanded_customers(self, days):
        x, tx, T, _ = days
        counts = np.arange(len(x)) % 3 + 1
        a = ParetoNBDFitter().fit(np.repeat(x, counts), np.repeat(tx, counts), np.repeat(T, counts))
        b = ParetoNBDFitter().fit(x, tx, T, weights=counts)
        assert len(a._fit_data[0]) == len(b._fit_data[0]) == 4            # knot tables
        np.testing.assert_allclose(a.params_, b.params_, rtol=1e-8)
        assert a.n_customers_ == b.n_customers_ == counts.sum()
        assert a.n_unique_rows_ == b.n_unique_rows_ == len(x)
        assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)
