"""Uplift benchmark: a meta-learner fitted with cross-fitting on many customers × 30 features.

Target (reference machine, 2 cores): the DR-learner with 3-fold cross-fitting on 1M customers ×
30 features (25 numeric, 5 categorical), one treatment arm and a 0/1 outcome, within 60 s. The
data are generated (seeded) before the timed span, which covers ``fit`` alone (out-of-fold
effects included).

Usage::

    python benchmarks/bench_uplift.py [N_CUSTOMERS] [LEARNER] [N_FOLDS]   # default 1000000 dr 3
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd


def make_data(n: int, n_features: int = 30, n_categorical: int = 5, seed: int = 0):
    """Features, arm (control / treated, 1:1) and a 0/1 outcome whose effect depends on two
    features."""
    rng = np.random.default_rng(seed)
    num = n_features - n_categorical
    X = pd.DataFrame(rng.normal(size=(n, num)).astype("float64"),
                     columns=[f"x{i}" for i in range(num)])
    for j in range(n_categorical):
        X[f"c{j}"] = pd.Categorical.from_codes(rng.integers(0, 6, n),
                                               categories=[f"v{k}" for k in range(6)])
    arm = np.where(rng.random(n) < 0.5, "treated", "control")
    base = 1 / (1 + np.exp(-(-3.0 + 0.5 * X.x0 - 0.3 * X.x1)))
    tau = 0.03 * (X.x2 > 0) + 0.02 * (X.c0.cat.codes < 2)
    y = (rng.random(n) < base + np.where(arm == "treated", tau, 0.0)).astype(np.int8)
    return X, y, arm, tau.to_numpy()


def bench_uplift_fit(n_customers: int = 1_000_000, learner: str = "dr", n_folds: int = 3,
                     n_features: int = 30) -> dict:
    """Seconds to fit the learner with cross-fitting; plus the correlation of the out-of-fold
    effects with the true ones (a check that the fit is real)."""
    from crmlab.uplift import DRLearner, TLearner, XLearner

    X, y, arm, tau = make_data(int(n_customers), int(n_features))
    L = {"t": TLearner, "x": XLearner, "dr": DRLearner}[learner]
    t0 = time.perf_counter()
    m = L(n_folds=int(n_folds)).fit(X, y, arm)
    seconds = time.perf_counter() - t0
    corr = float(np.corrcoef(m.oof_effect_["treated"], tau)[0, 1])
    return {"seconds": seconds, "learner": learner, "n_folds": int(n_folds),
            "n_customers": int(n_customers), "n_features": int(n_features),
            "oof_effect_corr": round(corr, 3)}


if __name__ == "__main__":
    args = sys.argv[1:]
    n = int(args[0]) if args else 1_000_000
    learner = args[1] if len(args) > 1 else "dr"
    folds = int(args[2]) if len(args) > 2 else 3
    print(json.dumps(bench_uplift_fit(n, learner, folds)))
