"""crmlab.abtest against independent, documented references.

Every expected number below is copied from the cited source (R's documented examples and
their published outputs, statsmodels' documentation, published papers, G*Power-style tables,
published summaries of the Hillstrom data), never produced by crmlab itself.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlab import abtest
from crmlab.abtest.bayes import _evan_miller, prob_beta_greater
from crmlab.abtest.proportions import newcombe_interval, wilson_interval, ztest_pooled
from crmlab.abtest.sequential import group_sequential


# ---------------------------------------------------------------------------------------------
# R stats::prop.test
# ---------------------------------------------------------------------------------------------

def test_prop_test_smokers_omnibus():
    # R documentation example of prop.test ("smokers"), output as printed by R:
    #   smokers  <- c( 83, 90, 129, 70 ); patients <- c( 86, 93, 136, 82 )
    #   prop.test(smokers, patients)
    #   X-squared = 12.6, df = 3, p-value = 0.005585
    # (source: ?prop.test; printed output reproduced at matstat.org/content_en/R-course/proptest.html)
    r = abtest.proportions_from_counts({1: 83, 2: 90, 3: 129, 4: 70},
                                       {1: 86, 2: 93, 3: 136, 4: 82}, control=1)
    assert r.omnibus_chi2 == pytest.approx(12.6, abs=0.05)
    assert r.omnibus_df == 3
    assert r.omnibus_p_value == pytest.approx(0.005585, abs=5e-7)
    assert len(r.to_frame()) == 3          # one row per arm against the control


def test_statsmodels_proportions_ztest_documented_example():
    # statsmodels docs, statsmodels.stats.proportion.proportions_ztest example:
    #   count = np.array([5, 12]); nobs = np.array([83, 99])
    #   stat, pval = proportions_ztest(count, nobs); print('{0:0.3f}'.format(pval)) -> 0.159
    z, p = ztest_pooled(5, 83, 12, 99)
    assert float(p) == pytest.approx(0.159, abs=5e-4)
    r = abtest.proportions_from_counts({"a": 12, "b": 5}, {"a": 99, "b": 83}, control="a",
                                       test="z")
    assert r.p_value == pytest.approx(0.159, abs=5e-4)


# ---------------------------------------------------------------------------------------------
# Newcombe (1998) intervals
# ---------------------------------------------------------------------------------------------

def test_newcombe_difference_interval_published_example():
    # Newcombe RG (1998) "Interval estimation for the difference between independent
    # proportions: comparison of eleven methods", Stat Med 17:873-890, Table II example (a):
    # 56/70 - 48/80, method 10 (score, no continuity correction): 0.0524 to 0.3339.
    lo, hi = newcombe_interval(56, 70, 48, 80)
    assert float(lo) == pytest.approx(0.0524, abs=5e-5)
    assert float(hi) == pytest.approx(0.3339, abs=5e-5)
    # ... and statsmodels' documented implementation of the same interval agrees
    from statsmodels.stats.proportion import confint_proportions_2indep
    slo, shi = confint_proportions_2indep(56, 70, 48, 80, method="newcomb", compare="diff")
    assert (float(lo), float(hi)) == pytest.approx((slo, shi), abs=1e-10)


def test_wilson_interval_published_example():
    # Newcombe RG (1998) "Two-sided confidence intervals for the single proportion:
    # comparison of seven methods", Stat Med 17:857-872, example 81/263, Wilson score method
    # (method 3): 0.2553 to 0.3662.
    lo, hi = wilson_interval(81, 263)
    assert float(lo) == pytest.approx(0.2553, abs=5e-5)
    assert float(hi) == pytest.approx(0.3662, abs=5e-5)


def test_fisher_chosen_for_small_counts_matches_r_fisher_test():
    # R ?fisher.test, "TeaTasting" example: matrix(c(3, 1, 1, 3)); two-sided p-value = 0.4857
    # (one-sided alternative = "greater": 0.2429).
    with pytest.warns(abtest.SmallSampleWarning):
        r = abtest.proportions_from_counts({"t": 3, "c": 1}, {"t": 4, "c": 4}, control="c")
    assert r.method.startswith("Fisher's exact test")
    assert r.p_value == pytest.approx(0.4857, abs=5e-5)
    with pytest.warns(abtest.SmallSampleWarning):
        r = abtest.proportions_from_counts({"t": 3, "c": 1}, {"t": 4, "c": 4}, control="c",
                                           alternative="greater")
    assert r.p_value == pytest.approx(0.2429, abs=5e-5)


# ---------------------------------------------------------------------------------------------
# R power.prop.test / power.t.test, G*Power
# ---------------------------------------------------------------------------------------------

def test_power_prop_test_documented_examples():
    # R ?power.prop.test examples, with the results stated in the help page:
    #   power.prop.test(n = 50, p1 = .50, p2 = .75)         ## => power = 0.740
    #   power.prop.test(p1 = .50, p2 = .75, power = .90)    ## => n = 76.7
    #   power.prop.test(n = 50, p1 = .5, power = .90)       ## => p2 = 0.8026
    assert abtest.power_proportions(0.50, 0.75, 50) == pytest.approx(0.740, abs=5e-4)
    n = abtest.sample_size_proportions(0.50, 0.75, power=0.90)
    assert n == pytest.approx(76.7, abs=0.05)
    assert n.n_control_ceil == 77 and n.n_treatment == pytest.approx(float(n))
    m = abtest.mde_proportions(0.5, 50, power=0.90)
    assert m.p_treatment == pytest.approx(0.8026, abs=5e-5)


def test_power_prop_test_is_the_pooled_formula_and_unpooled_differs():
    # R's power function, written out (stats:::power.prop.test, strict = FALSE):
    #   pnorm((sqrt(n*d^2) - qnorm(sig/tside, lower=FALSE)*sqrt((p1+p2)*(1-(p1+p2)/2)))
    #         / sqrt(p1*(1-p1) + p2*(1-p2)))
    p1, p2, n = 0.10, 0.12, 3000
    r_power = stats.norm.cdf((math.sqrt(n) * abs(p1 - p2) - stats.norm.isf(0.025)
                              * math.sqrt((p1 + p2) * (1 - (p1 + p2) / 2)))
                             / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    assert abtest.power_proportions(p1, p2, n) == pytest.approx(r_power, abs=1e-12)
    pooled = abtest.sample_size_proportions(p1, p2)
    unpooled = abtest.sample_size_proportions(p1, p2, method="unpooled")
    # the online-calculator formula: (z_a + z_b)^2 (p1 q1 + p2 q2) / d^2
    expected = (stats.norm.isf(0.025) + stats.norm.ppf(0.8)) ** 2 * (
        p1 * (1 - p1) + p2 * (1 - p2)) / (p1 - p2) ** 2
    assert unpooled == pytest.approx(expected, rel=1e-12)
    assert pooled > unpooled
    # far from p = 0.5 the conventions disagree by several percent (76.7 vs 73.6 here)
    assert abtest.sample_size_proportions(0.5, 0.75, power=0.9) / abtest.sample_size_proportions(
        0.5, 0.75, power=0.9, method="unpooled") > 1.04


def test_power_t_test_documented_examples():
    # R ?power.t.test examples; printed outputs of R:
    #   power.t.test(n = 20, delta = 1)                                  power = 0.8689528
    #   power.t.test(power = .90, delta = 1)                             n = 22.02110
    #   power.t.test(power = .90, delta = 1, alternative = "one.sided")  n = 17.84713
    assert abtest.power_means(1, 1, 20) == pytest.approx(0.8689528, abs=5e-8)
    assert abtest.sample_size_means(1, 1, power=0.90) == pytest.approx(22.02110, abs=5e-4)
    assert abtest.sample_size_means(1, 1, power=0.90, alternative="one-sided") == \
        pytest.approx(17.84713, abs=5e-4)


def test_gpower_two_group_t_test_sample_sizes():
    # G*Power 3 (Faul et al. 2007), t tests - means: difference between two independent means,
    # A priori, effect size d = 0.5, alpha = 0.05, power = 0.80, allocation ratio 1:
    #   two tails: 64 per group (total 128), actual power 0.8014596
    #   one tail:  51 per group (total 102)
    # (the classic Cohen 1988 Table 2.4.1 value n = 64 for d = .5, two-tailed .05, power .80)
    n2 = abtest.sample_size_means(0.5, 1.0)
    assert n2.n_control_ceil == 64 and n2.n_treatment_ceil == 64
    assert abtest.power_means(0.5, 1.0, 64) == pytest.approx(0.8014596, abs=2e-6)
    assert abtest.sample_size_means(0.5, 1.0, alternative="one-sided").n_control_ceil == 51


def test_unequal_allocation_means_matches_gpower_style_formula():
    # With allocation ratio r the noncentrality is delta / (sd sqrt(1/n1 + 1/n2)) and
    # df = n1 + n2 - 2 (G*Power, "Allocation ratio N2/N1"); check the solved n gives the power.
    n = abtest.sample_size_means(0.3, 1.0, ratio=9)
    nu = n + 9 * n - 2
    ncp = 0.3 / math.sqrt(1 / n + 1 / (9 * n))
    assert stats.nct.sf(stats.t.isf(0.025, nu), nu, ncp) == pytest.approx(0.8, abs=1e-8)


# ---------------------------------------------------------------------------------------------
# Group sequential boundaries
# ---------------------------------------------------------------------------------------------

def test_lan_demets_obrien_fleming_boundaries():
    # Lan-DeMets O'Brien-Fleming-type spending, 5 equally spaced looks, two-sided alpha 0.05:
    # 4.8769, 3.3569, 2.6803, 2.2898, 2.0310 (Jennison & Turnbull 2000, Table 7.x; R package
    # ldbounds, bounds(5, iuse = 1, alpha = 0.05)).
    d = group_sequential(5, alpha=0.05)
    np.testing.assert_allclose(d.boundaries, [4.8769, 3.3569, 2.6803, 2.2898, 2.0310],
                               atol=3e-4)
    assert d.alpha_spent[-1] == pytest.approx(0.05, abs=1e-12)


def test_seqbounds_jl_documented_one_sided_example():
    # SeqBounds.jl README (github.com/PharmCat/SeqBounds.jl):
    #   bounds([0.25, 0.5, 0.75, 1.0], 0.05; h = 0.05), O'Brien-Fleming spending:
    #   Z = 3.74955, 2.53993, 2.01604, 1.72014; spend at 0.25 = 8.85754e-5
    d = group_sequential([0.25, 0.5, 0.75, 1.0], alpha=0.05, sides=1)
    np.testing.assert_allclose(d.boundaries, [3.74955, 2.53993, 2.01604, 1.72014], atol=1e-4)
    assert d.alpha_spent[0] == pytest.approx(8.85754e-5, rel=1e-5)


# ---------------------------------------------------------------------------------------------
# Multiple comparisons
# ---------------------------------------------------------------------------------------------

BH_1995_P = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
             0.4262, 0.5719, 0.6528, 0.7590, 1.000]


def test_benjamini_hochberg_1995_example():
    # Benjamini & Hochberg (1995) JRSS-B 57:289-300, section 4.2: 15 p-values of a
    # multiple-endpoint trial; at q = 0.05 the BH procedure rejects the 4 smallest, while the
    # Bonferroni-type (and Holm) procedures reject only 3.
    p = np.array(BH_1995_P)
    assert (abtest.adjust_pvalues(p, "bh") <= 0.05).sum() == 4
    assert (abtest.adjust_pvalues(p, "holm") <= 0.05).sum() == 3
    assert (abtest.adjust_pvalues(p, "bonferroni") <= 0.05).sum() == 3


def test_adjusted_pvalues_match_statsmodels_multipletests():
    # statsmodels.stats.multitest.multipletests, methods "holm" and "fdr_bh" (documented
    # implementation of both procedures): identical adjusted p-values, any order.
    from statsmodels.stats.multitest import multipletests
    rng = np.random.default_rng(3)
    p = np.r_[rng.uniform(0, 0.05, 8), rng.uniform(0, 1, 20)]
    rng.shuffle(p)
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        np.testing.assert_allclose(abtest.adjust_pvalues(p, ours),
                                   multipletests(p, method=theirs)[1], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# SRM (chi-square goodness of fit) and Bayesian
# ---------------------------------------------------------------------------------------------

def test_srm_chi_square_goodness_of_fit():
    # chi-square GOF of (20, 15, 25) against equal shares: X^2 = (0 + 25 + 25) / 20 = 2.5 on
    # 2 df, p = exp(-2.5 / 2) = 0.2865 (closed form of the chi-square(2) tail; the same as R's
    # chisq.test(c(20, 15, 25))).
    r = abtest.srm([20, 15, 25])
    assert r.chi2 == pytest.approx(2.5)
    assert r.p_value == pytest.approx(math.exp(-1.25), rel=1e-12)
    assert not r.flagged
    # scipy.stats.chisquare as a second implementation with unequal planned shares
    counts, shares = np.array([1046, 8954]), np.array([0.1, 0.9])
    ref = stats.chisquare(counts, counts.sum() * shares)
    assert abtest.srm(counts, shares).p_value == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize("x_t,n_t,x_c,n_c", [(10, 100, 5, 100), (45, 1000, 38, 1000),
                                             (3, 40, 7, 60), (120, 2000, 100, 2000)])
def test_prob_beat_matches_evan_miller_closed_form(x_t, n_t, x_c, n_c):
    # Evan Miller (2015), "Formulas for Bayesian A/B testing": closed form of
    # P(p_B > p_A) = sum_{i=0}^{a_B-1} B(a_A+i, b_A+b_B) / ((b_B+i) B(1+i, b_B) B(a_A, b_A))
    # for Beta posteriors with a uniform prior.
    a_t, b_t, a_c, b_c = 1 + x_t, 1 + n_t - x_t, 1 + x_c, 1 + n_c - x_c
    assert prob_beta_greater(a_t, b_t, a_c, b_c) == pytest.approx(
        _evan_miller(a_t, b_t, a_c, b_c), abs=1e-8)


# ---------------------------------------------------------------------------------------------
# Hillstrom: the published per-arm numbers of the real campaign
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hillstrom():
    from crmlab.datasets import load_hillstrom
    return load_hillstrom()


def test_hillstrom_published_per_arm_rates(hillstrom):
    # Published per-arm summaries of Hillstrom's MineThatData e-mail challenge (2008):
    # - Yasui (2020) "効果検証入門" ch. 1, Python port of the book's code: No E-Mail
    #   conversion 0.005726, spend 0.652789, n 21306; Mens E-Mail 0.012531, 1.422617, 21307.
    # - MKTG-411 Hillstrom exercise notes ("verified reference values", checked in R and
    #   Python): Womens E-Mail 21,387 customers, conversion 0.8837%, spend per customer
    #   $1.077202; visit rates 18.28% / 15.14% / 10.62% (Mens / Womens / No E-Mail).
    conv = abtest.proportions(hillstrom, "segment", "conversion", control="No E-Mail")
    f = conv.to_frame().set_index("arm")
    assert f.loc["Mens E-Mail", "value"] == pytest.approx(0.012531, abs=5e-7)
    assert f.loc["Mens E-Mail", "control_value"] == pytest.approx(0.005726, abs=5e-7)
    assert f.loc["Womens E-Mail", "value"] == pytest.approx(0.008837, abs=5e-7)
    assert f.loc["Mens E-Mail", "n"] == 21307 and f.loc["Mens E-Mail", "control_n"] == 21306
    assert f.loc["Womens E-Mail", "n"] == 21387
    spend = abtest.means(hillstrom, "segment", "spend", control="No E-Mail")
    s = spend.to_frame().set_index("arm")
    assert s.loc["Mens E-Mail", "value"] == pytest.approx(1.422617, abs=5e-7)
    assert s.loc["Womens E-Mail", "value"] == pytest.approx(1.077202, abs=5e-7)
    assert s.loc["Mens E-Mail", "control_value"] == pytest.approx(0.652789, abs=5e-7)
    visit = abtest.proportions(hillstrom, "segment", "visit", control="No E-Mail").to_frame()
    v = visit.set_index("arm")
    assert v.loc["Mens E-Mail", "value"] == pytest.approx(0.1828, abs=5e-5)
    assert v.loc["Womens E-Mail", "value"] == pytest.approx(0.1514, abs=5e-5)
    assert v.loc["Mens E-Mail", "control_value"] == pytest.approx(0.1062, abs=5e-5)


def test_hillstrom_student_t_statistic(hillstrom):
    # Yasui (2020) ch. 1 Python port: stats.ttest_ind(mens_mail, no_mail) on spend
    #   -> statistic = 5.300090294465472, pvalue = 1.163200872605869e-07
    sub = hillstrom[hillstrom.segment != "Womens E-Mail"]
    r = abtest.means(sub, "segment", "spend", control="No E-Mail", test="student")
    assert r.abs_lift / r.se == pytest.approx(5.300090294465472, rel=1e-9)
    assert r.p_value == pytest.approx(1.163200872605869e-07, rel=1e-6)


def test_hillstrom_spend_per_purchaser_ratio(hillstrom):
    # MKTG-411 Hillstrom exercise notes: spend per purchaser $113.526929 (Mens E-Mail) and
    # $121.894762 (Womens E-Mail) — a ratio metric sum(spend) / sum(conversion).
    r = abtest.ratio(hillstrom, "segment", "spend", "conversion", control="No E-Mail")
    f = r.to_frame().set_index("arm")
    assert f.loc["Mens E-Mail", "value"] == pytest.approx(113.526929, abs=5e-6)
    assert f.loc["Womens E-Mail", "value"] == pytest.approx(121.894762, abs=5e-6)


def test_hillstrom_no_sample_ratio_mismatch(hillstrom):
    # The challenge randomised one third to each arm (Hillstrom 2008): no SRM expected.
    r = abtest.srm(hillstrom.segment.value_counts(), [1, 1, 1])
    assert not r.flagged and r.p_value > 0.1


def test_rmst_difference_matches_the_churn_module_implementation():
    # crmlab.churn.rmst is an independent implementation of the Kaplan-Meier RMST with the
    # Greenwood plug-in standard error of R's survRM2; with ties and censoring both agree.
    churn = pytest.importorskip("crmlab.churn.km")
    rng = np.random.default_rng(3)
    n = 400
    t = np.r_[rng.exponential(100, n), rng.exponential(140, n)]
    c = rng.uniform(60, 250, 2 * n)
    df = pd.DataFrame({"arm": np.repeat(["control", "t"], n),
                       "duration": np.round(np.minimum(t, c)), "churned": (t <= c).astype(int)})
    tau = float(df.groupby("arm").duration.max().min())
    ref = churn.rmst(df, "arm", tau=tau).differences.iloc[0]
    ours = abtest.survival(df, "arm", "duration", "churned", "control", tau=tau)
    assert ours.abs_lift == pytest.approx(ref.abs_lift, rel=1e-10)
    assert ours.ci == pytest.approx((ref.ci_low, ref.ci_high), rel=1e-10)


# R's "sleep" data (Cushny & Peebles): extra hours of sleep, 10 patients per drug
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_and_student_match_r_t_test_sleep_example():
    # R ?t.test example, t.test(extra ~ group, data = sleep), printed output:
    #   Welch:  t = -1.8608, df = 17.776, p-value = 0.07939,
    #           95 percent confidence interval: -3.3654832  0.2054832
    #   var.equal = TRUE: t = -1.8608, df = 18, p-value = 0.07919
    df = pd.DataFrame({"group": ["1"] * 10 + ["2"] * 10, "extra": SLEEP_1 + SLEEP_2})
    with pytest.warns(abtest.SmallSampleWarning):      # n < 30: p-value by permutation
        r = abtest.means(df, "group", "extra", control="2")
    assert r.abs_lift == pytest.approx(-1.58)
    assert r.ci == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)
    assert r.abs_lift / r.se == pytest.approx(-1.8608, abs=5e-5)
    assert r.to_frame().df.iloc[0] == pytest.approx(17.776, abs=5e-4)
    from crmlab.abtest.means import welch
    *_, p, _, _ = welch(np.mean(SLEEP_1), np.var(SLEEP_1, ddof=1), 10, np.mean(SLEEP_2),
                        np.var(SLEEP_2, ddof=1), 10)
    assert float(p) == pytest.approx(0.07939, abs=5e-6)
    *_, p, _, _ = welch(np.mean(SLEEP_1), np.var(SLEEP_1, ddof=1), 10, np.mean(SLEEP_2),
                        np.var(SLEEP_2, ddof=1), 10, equal_var=True)
    assert float(p) == pytest.approx(0.07919, abs=5e-6)
    # the permutation p-value used for these small arms is close to the t-test's
    assert r.p_value == pytest.approx(0.079, abs=0.01)


def test_bca_interval_agrees_with_scipy_bootstrap():
    # scipy.stats.bootstrap(method="BCa") is an independent implementation (its own
    # resampling and jackknife); with many resamples both converge to the same interval.
    from scipy.stats import bootstrap
    rng = np.random.default_rng(5)
    x_t = (rng.random(300) < 0.3) * rng.lognormal(3, 1, 300)
    x_c = (rng.random(300) < 0.25) * rng.lognormal(3, 1, 300)
    lo, hi, _ = abtest.bootstrap_diff_interval(x_t, x_c, n_boot=20000, method="bca", seed=1)
    ref = bootstrap((x_t, x_c), lambda a, b, axis: a.mean(axis) - b.mean(axis), n_resamples=20000,
                    method="BCa", vectorized=True, random_state=2).confidence_interval
    width = ref.high - ref.low
    assert lo == pytest.approx(ref.low, abs=0.03 * width)
    assert hi == pytest.approx(ref.high, abs=0.03 * width)
    plo, phi, _ = abtest.bootstrap_diff_interval(x_t, x_c, n_boot=20000, method="percentile",
                                                 seed=1)
    pref = bootstrap((x_t, x_c), lambda a, b, axis: a.mean(axis) - b.mean(axis),
                     n_resamples=20000, method="percentile", vectorized=True,
                     random_state=2).confidence_interval
    assert (plo, phi) == pytest.approx((pref.low, pref.high), abs=0.03 * width)
