"""Uplift on real data: Kevin Hillstrom's MineThatData e-mail campaign (64,000 customers, two
e-mail versions and a no-e-mail holdout, randomized one third each).

:func:`hillstrom_uplift` learns which e-mail version changes whom on a training share, and
scores the held-out customers: the Qini coefficient of each version with a bootstrap interval,
its uplift@30 %, and which version to send to whom (the learned best arm, or none, by customer
group: past purchases of men's / women's merchandise, newbie, purchase channel).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.datasets import load_hillstrom
from crmlab.uplift.learners import DRLearner, TLearner, XLearner, best_arm
from crmlab.uplift.metrics import bootstrap_metric, qini_auc_score, uplift_at_k

__all__ = ["hillstrom_frame", "hillstrom_uplift", "HillstromUplift"]

ARMS = {"No E-Mail": "control", "Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email"}
FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]


def hillstrom_frame(df: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Features, arm and outcomes of the Hillstrom table (:func:`crmlab.datasets.load_hillstrom`).

    Returns ``(X, arm, outcomes)``: ``X`` with ``recency, history, mens, womens, newbie`` as
    numbers and ``zip_code, channel`` as categories; ``arm`` in ``control, mens_email,
    womens_email``; ``outcomes`` with ``visit, conversion, spend``.
    """
    df = load_hillstrom() if df is None else df
    missing = [c for c in FEATURES + ["segment", "visit", "conversion", "spend"] if c not in df]
    if missing:
        raise ValueError(f"hillstrom: missing columns {missing} ({len(df)} rows)")
    unknown = sorted(set(df["segment"]) - set(ARMS))
    if unknown:
        raise ValueError(f"hillstrom.segment: unknown arms {unknown}; expected {sorted(ARMS)}")
    X = df[FEATURES].copy()
    for c in ("zip_code", "channel"):
        X[c] = pd.Categorical(X[c].astype(str))
    for c in ("recency", "history", "mens", "womens", "newbie"):
        X[c] = X[c].astype("float64")
    return X, df["segment"].map(ARMS), df[["visit", "conversion", "spend"]].astype("float64")


@dataclass
class HillstromUplift:
    """Held-out results: ``scores`` (per arm: Qini coefficient with interval, uplift@30 %),
    ``who`` (share of each customer group for which each version is the best arm),
    ``model``."""

    outcome: str
    scores: pd.DataFrame
    who: pd.DataFrame
    model: object = field(repr=False)


def hillstrom_uplift(outcome: str = "visit", learner: str = "t", holdout_share: float = 0.5,
                     n_boot: int = 200, n_folds: int = 3, random_state: int = 0,
                     n_threads: int | None = None, sample: int | None = None) -> HillstromUplift:
    """Fit on a share of Hillstrom's customers, evaluate on the held-out rest.

    Parameters
    ----------
    outcome : {'visit', 'conversion', 'spend'}
    learner : {'t', 'x', 'dr'}
    holdout_share : float
        Share of customers held out for evaluation (stratified by arm).
    sample : int, optional
        Use a random subset of this many customers (faster; for notebooks).
    """
    X, arm, Y = hillstrom_frame()
    if outcome not in Y:
        raise ValueError(f"outcome must be one of {list(Y.columns)}, got {outcome!r}")
    rng = np.random.default_rng(random_state)
    rows = np.arange(len(X)) if sample is None else np.sort(
        rng.choice(len(X), min(int(sample), len(X)), replace=False))
    X, arm, y = X.iloc[rows].reset_index(drop=True), arm.iloc[rows].reset_index(drop=True), \
        Y[outcome].iloc[rows].reset_index(drop=True)
    test = np.zeros(len(X), bool)
    for a in arm.unique():
        r = np.nonzero((arm == a).to_numpy())[0]
        test[rng.choice(r, int(round(holdout_share * len(r))), replace=False)] = True
    L = {"t": TLearner, "x": XLearner, "dr": DRLearner}[learner]
    model = L(n_folds=n_folds, random_state=random_state, n_threads=n_threads).fit(
        X[~test], y[~test], arm[~test])
    up = model.predict_effect(X[test].reset_index(drop=True))
    yt, at = y[test].to_numpy(), arm[test].to_numpy()
    rows_out = []
    for a in model.arms_:
        keep = (at == a) | (at == "control")
        tr = (at[keep] == a).astype(int)
        ci = bootstrap_metric(qini_auc_score, yt[keep], up[a].to_numpy()[keep], tr,
                              n_boot=n_boot, random_state=random_state)
        rand = bootstrap_metric(qini_auc_score, yt[keep],
                                rng.permutation(up[a].to_numpy()[keep]), tr, n_boot=n_boot,
                                random_state=random_state)
        rows_out.append({"arm": a, "qini": ci.estimate, "low": ci.low, "high": ci.high,
                         "random_qini": rand.estimate, "random_low": rand.low,
                         "random_high": rand.high,
                         "uplift_at_30": uplift_at_k(yt[keep], up[a].to_numpy()[keep], tr,
                                                     "by_group", 0.3),
                         "ate": float(yt[keep][tr == 1].mean() - yt[keep][tr == 0].mean()),
                         "n_holdout": int(keep.sum())})
    choice = best_arm(up)
    Xt = X[test].reset_index(drop=True)
    groups = pd.Series(np.select([(Xt.mens == 1) & (Xt.womens == 1), Xt.mens == 1,
                                  Xt.womens == 1], ["both", "mens only", "womens only"],
                                 "neither"), name="bought")
    who = (pd.crosstab([groups, Xt.newbie.map({1.0: "newbie", 0.0: "returning"}).rename("newbie")],
                       choice.rename("best"), normalize="index").reset_index())
    return HillstromUplift(outcome=outcome, scores=pd.DataFrame(rows_out), who=who, model=model)
