"""Meta-learners against a simulation with known per-customer effects, several arms, both
outcome kinds; cross-fitted predictions are out of sample."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

from crmlab.uplift import DRLearner, TLearner, XLearner, best_arm

LEARNERS = [TLearner, XLearner, DRLearner]


def _binary(n=12_000, seed=1):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=list("abcde"))
    X["channel"] = pd.Categorical(rng.choice(["ads", "organic", "social"], n))
    arm = rng.choice(["control", "reminder", "coupon"], size=n, p=[0.3, 0.35, 0.35])
    tau = pd.DataFrame({"reminder": 0.08 * (X.a > 0),
                        "coupon": 0.12 * (X.channel == "ads") + 0.04 * (X.b > 0)})
    p = 0.10 + 0.05 * (X.c > 0) + np.select([arm == "reminder", arm == "coupon"],
                                            [tau.reminder, tau.coupon], 0.0)
    y = (rng.random(n) < p).astype(int)
    return X, y, arm, tau


@pytest.mark.parametrize("learner", LEARNERS)
def test_binary_effects_of_two_arms_are_recovered(learner):
    X, y, arm, tau = _binary()
    m = learner(n_folds=3, n_threads=1).fit(X, y, arm)
    assert m.binary_ and sorted(m.arms_) == ["coupon", "reminder"]
    e = m.oof_effect_
    assert e.shape == (len(X), 2)
    for a in ("reminder", "coupon"):
        assert np.corrcoef(e[a], tau[a])[0, 1] > 0.3, (learner.__name__, a)
        # the customers ranked in the top 30 % have about twice the average true effect
        top = e[a] >= e[a].quantile(0.7)
        assert tau[a][top].mean() > 1.5 * tau[a].mean(), (learner.__name__, a)
        # the mean effect is the average treatment effect (within sampling error)
        assert abs(e[a].mean() - tau[a].mean()) < 0.02
    # new customers: the fold models' mean, same columns
    new = m.predict_effect(X.iloc[:50])
    assert list(new.columns) == m.arms_ and len(new) == 50
    mu = m.predict_outcome(X.iloc[:50])
    assert list(mu.columns) == ["control", *m.arms_]
    assert ((mu >= 0) & (mu <= 1)).all().all()


@pytest.mark.parametrize("learner", LEARNERS)
def test_continuous_outcome(learner):
    rng = np.random.default_rng(3)
    n = 8000
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    arm = rng.choice(["control", "coupon"], size=n)
    tau = 3000.0 * np.maximum(X.a, 0)
    y = 20_000 + 5000 * X.b + np.where(arm == "coupon", tau, 0) + rng.normal(0, 4000, n)
    m = learner(n_folds=3, n_threads=1).fit(X, y, arm)
    assert not m.binary_
    assert np.corrcoef(m.oof_effect_["coupon"], tau)[0, 1] > 0.8
    assert m.oof_effect_["coupon"].mean() == pytest.approx(tau.mean(), rel=0.15)


def test_cross_fitted_predictions_are_out_of_sample():
    # a fully grown tree memorises its training rows: in sample it would predict y exactly
    rng = np.random.default_rng(0)
    n = 2000
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=list("abc"))
    arm = rng.choice(["control", "sms"], size=n)
    y = rng.normal(size=n)                    # pure noise: nothing to learn
    m = TLearner(n_folds=4, estimator=DecisionTreeRegressor(random_state=0)).fit(X, y, arm)
    mu = m.oof_outcome_
    for a in ("control", "sms"):
        rows = arm == a
        assert abs(np.corrcoef(mu[a][rows], y[rows])[0, 1]) < 0.1
    inside = DecisionTreeRegressor(random_state=0).fit(X[arm == "sms"], y[arm == "sms"])
    assert np.corrcoef(inside.predict(X[arm == "sms"]), y[arm == "sms"])[0, 1] > 0.99


def test_bad_input_is_named():
    X, y, arm, _ = _binary(n=300)
    with pytest.raises(ValueError, match="control arm 'holdout'"):
        TLearner(control="holdout").fit(X, y, arm)
    with pytest.raises(ValueError, match="same length"):
        TLearner().fit(X, y[:-1], arm)
    yy = y.astype(float)
    yy[3] = np.nan
    with pytest.raises(ValueError, match="y: 1 of 300 rows"):
        TLearner().fit(X, yy, arm)
    with pytest.raises(ValueError, match="at least one treatment arm"):
        TLearner().fit(X, y, np.full(len(y), "control"))
    with pytest.raises(ValueError, match="fewer than 10"):
        TLearner().fit(X, y, np.where(np.arange(len(y)) < 5, "sms", arm))
    with pytest.raises(RuntimeError, match="not fitted"):
        TLearner().predict_effect(X)


def test_best_arm_or_none():
    v = pd.DataFrame({"reminder": [0.02, -0.01, 0.03], "coupon": [0.05, -0.02, 0.01]})
    assert best_arm(v).tolist() == ["coupon", "control", "reminder"]
