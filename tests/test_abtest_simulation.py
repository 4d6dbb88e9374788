"""crmlab.abtest by simulation with known truth (seeded, vectorised).

- A/A experiments: the false-positive rate stays at alpha within binomial error
  (>= 2,000 simulated experiments per method);
- intervals cover the true lift at 1 - alpha within binomial error;
- the group-sequential rule holds alpha under repeated looks (and naive peeking does not);
- computed power matches simulated power within a few points.

Tolerance: 3.5 binomial standard errors, ``3.5 * sqrt(a (1 - a) / n_sims)``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlab import abtest
from crmlab.abtest.means import bootstrap_diff_interval, welch
from crmlab.abtest.proportions import newcombe_interval, ztest_pooled
from crmlab.abtest.ratio import ratio_stats
from crmlab.abtest.sequential import group_sequential
from crmlab.abtest.survival import km_rmst

ALPHA = 0.05


def tol(p: float, n: int) -> float:
    return 3.5 * math.sqrt(p * (1 - p) / n)


def revenue(rng, size, p_buy, mu=3.0, sigma=1.0):
    """Zero-heavy, skewed revenue per customer; mean = p_buy * exp(mu + sigma^2 / 2)."""
    return (rng.random(size) < p_buy) * rng.lognormal(mu, sigma, size)


# -- proportions ----------------------------------------------------------------------------------

def test_aa_ztest_false_positive_rate():
    rng = np.random.default_rng(11)
    S, n = 4000, 2000
    x_t, x_c = rng.binomial(n, 0.05, S), rng.binomial(n, 0.05, S)
    _, p = ztest_pooled(x_t, n, x_c, n)
    assert abs((p < ALPHA).mean() - ALPHA) < tol(ALPHA, S)


def test_aa_fisher_false_positive_rate_at_most_alpha():
    # small arms: proportions() chooses Fisher's exact test, which is conservative
    rng = np.random.default_rng(12)
    S, n = 2000, 25
    x_t, x_c = rng.binomial(n, 0.3, S), rng.binomial(n, 0.3, S)
    p = np.array([stats.fisher_exact([[a, n - a], [b, n - b]])[1] for a, b in zip(x_t, x_c)])
    r = (p < ALPHA).mean()
    assert r <= ALPHA + tol(ALPHA, S)
    with pytest.warns(abtest.SmallSampleWarning):
        res = abtest.proportions_from_counts({"t": int(x_t[0]), "c": int(x_c[0])},
                                             {"t": n, "c": n}, control="c")
    assert res.method.startswith("Fisher") and res.p_value == pytest.approx(p[0])


def test_newcombe_interval_coverage():
    rng = np.random.default_rng(13)
    S, n_t, n_c, p_t, p_c = 4000, 1800, 200, 0.06, 0.05     # 10% holdout
    x_t, x_c = rng.binomial(n_t, p_t, S), rng.binomial(n_c, p_c, S)
    lo, hi = newcombe_interval(x_t, n_t, x_c, n_c)
    cover = ((lo <= p_t - p_c) & (p_t - p_c <= hi)).mean()
    assert abs(cover - 0.95) < tol(0.95, S)


# -- means ----------------------------------------------------------------------------------------

def test_aa_welch_and_mannwhitney_false_positive_rate():
    rng = np.random.default_rng(14)
    S, n = 3000, 400
    yt, yc = revenue(rng, (S, n), 0.2), revenue(rng, (S, n), 0.2)
    *_, p, _, _ = welch(yt.mean(1), yt.var(1, ddof=1), n, yc.mean(1), yc.var(1, ddof=1), n)
    assert abs((p < ALPHA).mean() - ALPHA) < tol(ALPHA, S)
    p_mw = stats.mannwhitneyu(yt, yc, axis=1).pvalue
    assert abs((p_mw < ALPHA).mean() - ALPHA) < tol(ALPHA, S)


def test_welch_interval_coverage_of_true_revenue_lift():
    rng = np.random.default_rng(15)
    S, n = 2500, 1500
    true = (0.12 - 0.10) * math.exp(3 + 0.5)
    yt, yc = revenue(rng, (S, n), 0.12), revenue(rng, (S, n), 0.10)
    *_, lo, hi = welch(yt.mean(1), yt.var(1, ddof=1), n, yc.mean(1), yc.var(1, ddof=1), n)
    cover = ((lo <= true) & (true <= hi)).mean()
    assert abs(cover - 0.95) < tol(0.95, S)


def test_aa_bootstrap_false_positive_rate():
    # percentile and BCa intervals from the same resamples (as bootstrap_diff_interval makes
    # them), 2,000 A/A experiments each
    from crmlab.abtest.means import _bootstrap_intervals
    rng = np.random.default_rng(16)
    S, n = 2000, 400
    yt, yc = revenue(rng, (S, n), 0.3, sigma=0.6), revenue(rng, (S, n), 0.3, sigma=0.6)
    reject = {"percentile": 0, "bca": 0}
    for i in range(S):
        out = _bootstrap_intervals(yt[i], yc[i], 400, ALPHA, seed=i)
        for m in reject:
            reject[m] += not (out[m][0] <= 0 <= out[m][1])
    for m, k in reject.items():
        assert abs(k / S - ALPHA) < tol(ALPHA, S), m
    lo, hi, _ = bootstrap_diff_interval(yt[0], yc[0], n_boot=400, method="bca", seed=0)
    assert (lo, hi) == _bootstrap_intervals(yt[0], yc[0], 400, ALPHA, 0)["bca"]


def test_means_end_to_end_small_aa_permutation():
    # n < 30: means() warns and uses a permutation test; its A/A rejection rate stays <= alpha
    rng = np.random.default_rng(17)
    rejections, S = 0, 50
    for i in range(S):
        df = pd.DataFrame({"arm": np.repeat(["c", "t"], 12), "y": rng.exponential(1, 24)})
        with pytest.warns(abtest.SmallSampleWarning):
            rejections += abtest.means(df, "arm", "y", "c", seed=i).p_value < ALPHA
    assert rejections / S <= ALPHA + tol(ALPHA, S)


# -- CUPED through the public battery (2,000 experiments = 2,000 metric columns) --------------

def test_aa_cuped_false_positive_rate_and_coverage():
    rng = np.random.default_rng(18)
    S, n = 2000, 600
    arm = np.repeat(["c", "t"], n // 2)
    pre = rng.gamma(2.0, 10.0, (n, S))
    noise = rng.normal(0, 8, (n, S))
    effect = 1.5
    spec = {f"y{i}": f"x{i}" for i in range(S)}
    names = [f"x{i}" for i in range(S)] + [f"y{i}" for i in range(S)]

    def table(shift):
        y = 0.8 * pre + noise + shift * (arm == "t")[:, None]
        return pd.concat([pd.Series(arm, name="arm"),
                          pd.DataFrame(np.hstack([pre, y]), columns=names)], axis=1)

    r = abtest.battery(table(effect), "arm", spec, "c").to_frame()
    cover = ((r.ci_low <= effect) & (effect <= r.ci_high)).mean()
    assert abs(cover - 0.95) < tol(0.95, S)
    # variance reduction close to corr^2 (0.8^2 * 200 / (0.64 * 200 + 64) = 0.667)
    assert r.variance_reduction.mean() == pytest.approx(0.667, abs=0.03)
    # A/A: no effect
    r0 = abtest.battery(table(0.0), "arm", spec, "c").to_frame()
    assert abs((r0.p_value < ALPHA).mean() - ALPHA) < tol(ALPHA, S)


# -- ratio metrics (delta method) ----------------------------------------------------------------

def test_delta_method_ratio_interval_coverage():
    rng = np.random.default_rng(19)
    S, n = 2000, 1500
    z = stats.norm.isf(ALPHA / 2)
    aov_t, aov_c = 55.0, 50.0            # true average order value per arm
    cover = 0
    for _ in range(S):
        ot, oc = rng.poisson(0.8, n), rng.poisson(0.8, n)
        # per-customer revenue: sum of Gamma(shape 2) order values with the arm's mean
        rt = rng.gamma(2.0 * np.maximum(ot, 1e-12), aov_t / 2.0) * (ot > 0)
        rc = rng.gamma(2.0 * np.maximum(oc, 1e-12), aov_c / 2.0) * (oc > 0)
        (r1, v1), (r0, v0) = ratio_stats(rt, ot), ratio_stats(rc, oc)
        se = math.sqrt(v1 + v0)
        cover += (r1 - r0 - z * se) <= aov_t - aov_c <= (r1 - r0 + z * se)
    assert abs(cover / S - 0.95) < tol(0.95, S)


# -- SRM ------------------------------------------------------------------------------------------

def test_srm_false_alarm_rate_under_correct_split():
    rng = np.random.default_rng(20)
    S = 2000
    counts = rng.multinomial(50_000, [0.1, 0.45, 0.45], S)
    p = np.array([abtest.srm(c, [0.1, 0.45, 0.45]).p_value for c in counts])
    assert abs((p < ALPHA).mean() - ALPHA) < tol(ALPHA, S)
    # the 0.001 flag fires for a 1-point shift of a 10% holdout with 50k customers
    assert abtest.srm([4500, 22750, 22750], [0.1, 0.45, 0.45]).flagged


# -- sequential -----------------------------------------------------------------------------------

def test_group_sequential_holds_alpha_under_repeated_looks():
    rng = np.random.default_rng(21)
    S, K, per_look = 20000, 5, 200
    design = group_sequential(K, alpha=ALPHA)
    # per-customer differences under H0, accumulated look by look: Z_k = S_k / sqrt(n_k)
    inc = rng.standard_normal((S, K, per_look)).sum(axis=2)
    z = np.cumsum(inc, axis=1) / np.sqrt(per_look * np.arange(1, K + 1))
    seq_reject = (np.abs(z) >= design.boundaries).any(axis=1).mean()
    naive_reject = (np.abs(z) >= stats.norm.isf(ALPHA / 2)).any(axis=1).mean()
    assert abs(seq_reject - ALPHA) < tol(ALPHA, S)
    assert naive_reject > 0.12        # peeking at every look without correction: ~14%
    pocock = group_sequential(K, alpha=ALPHA, spending_function="pocock")
    assert abs((np.abs(z) >= pocock.boundaries).any(axis=1).mean() - ALPHA) < tol(ALPHA, S)
    # unequally spaced looks (after batches 1, 3 and 5), one-sided
    one_sided = group_sequential([0.2, 0.6, 1.0], alpha=0.025, sides=1)
    zz = z[:, [0, 2, 4]]
    assert abs((zz >= one_sided.boundaries).any(axis=1).mean() - 0.025) < tol(0.025, S)
    # the stopping rule as applied by the design object
    res = [design.test(row) for row in z[:500]]
    assert sum(r.stop for r in res) == int((np.abs(z[:500]) >= design.boundaries).any(1).sum())


def test_aa_segment_interaction_test_false_positive_rate():
    # no interaction: the same absolute lift (0) in three segments with different baselines
    from crmlab.abtest.multiple import _cochran_q
    rng = np.random.default_rng(26)
    S = 3000
    base = np.array([0.05, 0.10, 0.20])
    n_t, n_c = np.array([3000, 2000, 1000]), np.array([3000, 2000, 1000])
    pt = rng.binomial(n_t, base, (S, 3)) / n_t
    pc = rng.binomial(n_c, base, (S, 3)) / n_c
    se = np.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c)
    p = np.array([_cochran_q(pt[i] - pc[i], se[i])[2] for i in range(S)])
    assert abs((p < ALPHA).mean() - ALPHA) < tol(ALPHA, S)


# -- power: computed vs simulated ----------------------------------------------------------------

@pytest.mark.parametrize("ratio", [1.0, 9.0])
def test_proportion_power_matches_simulation(ratio):
    rng = np.random.default_rng(22)
    p_c, p_t = 0.10, 0.13
    n_c = math.ceil(abtest.sample_size_proportions(p_c, p_t, ratio=ratio))
    n_t = math.ceil(ratio * n_c)
    S = 4000
    _, p = ztest_pooled(rng.binomial(n_t, p_t, S), n_t, rng.binomial(n_c, p_c, S), n_c)
    expected = float(abtest.power_proportions(p_c, p_t, n_c, ratio=ratio))
    assert abs((p < ALPHA).mean() - expected) < 0.03


def test_t_test_power_matches_simulation():
    rng = np.random.default_rng(23)
    n = math.ceil(abtest.sample_size_means(0.25, 1.0, ratio=3))
    S = 4000
    yt, yc = rng.normal(0.25, 1, (S, 3 * n)), rng.normal(0, 1, (S, n))
    *_, p, _, _ = welch(yt.mean(1), yt.var(1, ddof=1), 3 * n, yc.mean(1), yc.var(1, ddof=1), n)
    assert abs((p < ALPHA).mean() - float(abtest.power_means(0.25, 1.0, n, ratio=3))) < 0.03


def _logrank_z(times: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Vectorised log-rank statistic for rows of untied, uncensored times."""
    order = np.argsort(times, axis=1)
    g = np.take_along_axis(treated, order, axis=1).astype(float)
    n = times.shape[1]
    at_risk = n - np.arange(n)
    treated_at_risk = np.cumsum(g[:, ::-1], axis=1)[:, ::-1]
    e = treated_at_risk / at_risk
    v = e * (1 - e)
    return (g - e).sum(1) / np.sqrt(v.sum(1))


def test_schoenfeld_events_give_the_planned_power():
    rng = np.random.default_rng(24)
    hr = 0.6
    d = math.ceil(abtest.sample_size_survival(hr, power=0.8))
    S = 3000
    treated = np.tile(np.r_[np.zeros(d // 2), np.ones(d - d // 2)], (S, 1))
    times = rng.exponential(1.0, (S, d)) / np.where(treated == 1, hr, 1.0)
    p = 2 * stats.norm.sf(np.abs(_logrank_z(times, treated)))
    assert abs((p < ALPHA).mean() - 0.8) < 0.04


# -- survival: RMST interval coverage -------------------------------------------------------------

def test_rmst_difference_interval_coverage():
    rng = np.random.default_rng(25)
    S, n, tau = 2000, 300, 150.0
    z = stats.norm.isf(ALPHA / 2)

    def truth(mean):
        return mean * (1 - math.exp(-tau / mean))

    true = truth(150) - truth(100)
    cover = 0
    for _ in range(S):
        tt, tc = rng.exponential(150, n), rng.exponential(100, n)
        ct, cc = rng.uniform(100, 250, n), rng.uniform(100, 250, n)   # censoring
        mt, vt = km_rmst(np.minimum(tt, ct), (tt <= ct).astype(int), tau)
        mc, vc = km_rmst(np.minimum(tc, cc), (tc <= cc).astype(int), tau)
        se = math.sqrt(vt + vc)
        cover += (mt - mc - z * se) <= true <= (mt - mc + z * se)
    assert abs(cover / S - 0.95) < tol(0.95, S)
