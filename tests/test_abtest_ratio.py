"""Ratio metrics adjusted for pre-period covariates (crmlab.abtest.ratio_adjusted).

References: without a usable covariate the adjusted comparison is exactly the delta method's
(crmlab.abtest.ratio, itself checked against the published formula in
test_abtest_references.py); with covariates, a finite population with known potential outcomes,
re-randomised, gives the coverage of the interval of the true difference in the ratio of sums.
"""
import numpy as np
import pandas as pd
import pytest

from crmlab.abtest import ratio, ratio_adjusted


def _population(n, seed):
    rng = np.random.default_rng(seed)
    pre_orders = rng.poisson(2.0, n).astype(float)
    spend = rng.gamma(2.0, 1.0, n)                    # how much a customer spends per order
    pre_revenue = pre_orders * spend * 20_000 * rng.gamma(5, 0.2, n)
    orders0 = rng.poisson(0.3 + 0.5 * pre_orders)
    value = spend * 20_000
    rev0 = orders0 * value * rng.gamma(8, 1 / 8, n)
    # treatment: 10% larger baskets, the same number of orders
    rev1 = rev0 * 1.10
    return pd.DataFrame({"pre_orders": pre_orders, "pre_revenue": pre_revenue,
                         "orders": orders0.astype(float), "rev0": rev0, "rev1": rev1})


def test_without_a_usable_covariate_it_is_the_delta_method():
    pop = _population(1_000, 1)
    t = np.random.default_rng(2).random(len(pop)) < 0.5
    df = pd.DataFrame({"arm": np.where(t, "t", "c"), "rev": np.where(t, pop.rev1, pop.rev0),
                       "orders": pop.orders, "flat": 3.0})
    a = ratio_adjusted(df, "arm", "rev", "orders", ["flat"], "c").to_frame().iloc[0]
    d = ratio(df, "arm", "rev", "orders", "c").to_frame().iloc[0]
    assert a["abs_lift"] == pytest.approx(d["abs_lift"], rel=1e-12)
    assert a["unadjusted_abs_lift"] == pytest.approx(d["abs_lift"], rel=1e-12)
    # HC2 of a two-group regression is Welch's standard error = the delta method's here
    assert a["se"] == pytest.approx(d["se"], rel=1e-9)
    assert a["value"] == d["value"] and a["control_value"] == d["control_value"]
    assert a["variance_reduction"] == pytest.approx(0.0, abs=1e-9)


def test_adjusted_interval_covers_the_true_ratio_difference():
    pop = _population(2_000, 3)
    truth = pop.rev1.sum() / pop.orders.sum() - pop.rev0.sum() / pop.orders.sum()
    rng = np.random.default_rng(4)
    hits, width_adj, width_raw, reps = 0, [], [], 300
    for _ in range(reps):
        t = rng.random(len(pop)) < 0.5
        df = pd.DataFrame({"arm": np.where(t, "t", "c"),
                           "rev": np.where(t, pop.rev1, pop.rev0), "orders": pop.orders,
                           "pre_orders": pop.pre_orders, "pre_revenue": pop.pre_revenue})
        a = ratio_adjusted(df, "arm", "rev", "orders", ["pre_orders", "pre_revenue"],
                           "c").to_frame().iloc[0]
        d = ratio(df, "arm", "rev", "orders", "c").to_frame().iloc[0]
        hits += a["ci_low"] <= truth <= a["ci_high"]
        width_adj.append(a["ci_high"] - a["ci_low"])
        width_raw.append(d["ci_high"] - d["ci_low"])
    # binomial(300, 0.95): 0.92-0.98 holds with probability > 0.99
    assert 0.92 <= hits / reps <= 0.98
    assert np.mean(width_adj) < 0.95 * np.mean(width_raw)


def test_zero_denominator_in_an_arm_is_an_error():
    df = pd.DataFrame({"arm": ["c"] * 3 + ["t"] * 3, "rev": [0.0] * 3 + [1.0, 2, 3],
                       "orders": [0.0] * 3 + [1.0, 1, 2], "x": [1.0, 2, 3, 4, 5, 6]})
    with pytest.raises(ValueError, match="denominator sums to zero"):
        ratio_adjusted(df, "arm", "rev", "orders", ["x"], "c")


def test_p_value_agrees_with_the_interval():
    """The p-value tests the adjusted difference itself (not only the adjustment term)."""
    from scipy import stats

    pop = _population(1_500, 8)
    rng = np.random.default_rng(9)
    for scale in (1.0, 1.3, 0.7):
        t = rng.random(len(pop)) < 0.5
        df = pd.DataFrame({"arm": np.where(t, "t", "c"),
                           "rev": np.where(t, pop.rev0 * scale, pop.rev0),
                           "orders": pop.orders, "pre_orders": pop.pre_orders,
                           "pre_revenue": pop.pre_revenue})
        a = ratio_adjusted(df, "arm", "rev", "orders", ["pre_orders", "pre_revenue"],
                           "c").to_frame().iloc[0]
        excludes = a["ci_low"] > 0 or a["ci_high"] < 0
        assert excludes == (a["p_value"] < 0.05)
        dof = len(df) - 6          # intercept, arm, two covariates and their interactions
        assert a["p_value"] == pytest.approx(
            2 * stats.t.sf(abs(a["abs_lift"]) / a["se"], dof), rel=1e-9, abs=1e-300)
        assert a["ci_high"] - a["abs_lift"] == pytest.approx(stats.t.isf(0.025, dof) * a["se"])
