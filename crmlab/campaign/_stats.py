"""The statistics the campaign evaluation calls, behind one small interface.

Every function delegates to :mod:`crmlab.abtest` / :mod:`crmlab.churn` (the project's tested
implementations) and returns plain rows the evaluation assembles: one per treatment arm
against control, with the columns of :data:`ROW`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.abtest import (
    adjust_pvalues,
    cuped,
    means,
    proportions,
    ratio,
    srm,
)
from crmlab.abtest import survival as ab_survival
from crmlab.abtest.means import bootstrap_diff_interval, welch

ROW = ["metric", "arm", "n", "control_n", "value", "control_value", "abs_lift", "rel_lift",
       "ci_low", "ci_high", "p_value", "method"]


def _row(f: pd.Series, metric: str, arm, control_n: int, **extra) -> dict:
    out = dict(metric=metric, arm=arm, n=int(f["n"]), control_n=int(control_n),
               value=f["value"], control_value=f["control_value"], abs_lift=f["abs_lift"],
               rel_lift=f["rel_lift"], ci_low=f["ci_low"], ci_high=f["ci_high"],
               p_value=f["p_value"], method=f["method"])
    out.update(extra)
    return out


ZERO_BY_DESIGN = ("Wilson score CI of the arm's rate, and its events tested against a known "
                  "zero: the holdout's rate is zero by design "
                  "(it receives no message), so the difference is the arm's rate")


def proportion_rows(df: pd.DataFrame, outcome: str, control: str, treatments: list[str],
                    alpha: float, metric: str | None = None,
                    control_zero_by_design: bool = False) -> list[dict]:
    """Difference in proportions, each treatment vs control (:func:`crmlab.abtest.proportions`:
    Newcombe CI; z-test, or Fisher's exact test for small counts).

    ``control_zero_by_design``: the control's rate cannot be anything but zero (a holdout that
    receives no message cannot unsubscribe from it). When the control indeed has no event, its
    rate is known rather than estimated, and the interval of the difference is the Wilson score
    interval of the arm's rate — Newcombe's hybrid interval with the control's interval
    collapsed onto its known zero — so it never extends below zero, the least the difference
    can be (``zero_by_design`` is set on the row). Its p-value is that of the test of "no
    increase" against the known zero: 0 when the arm has an event (a rate of zero cannot
    produce one), 1 when it has none. A control with events is compared as usual."""
    from crmlab.abtest.proportions import wilson_interval

    metric = metric or outcome
    d = df[["arm", outcome]].dropna()
    rows = []
    for arm in treatments:
        sub = d[d["arm"].isin([control, arm])]
        nc = int((sub["arm"] == control).sum())
        if nc == 0 or (sub["arm"] == arm).sum() == 0:
            continue
        f = proportions(sub.assign(**{outcome: sub[outcome].astype(int)}), "arm", outcome,
                        control=control, alpha=alpha, metric=metric).to_frame().iloc[0]
        zero = bool(control_zero_by_design and int(f["control_conversions"]) == 0)
        if zero:
            lo, hi = wilson_interval(int(f["conversions"]), int(f["n"]), alpha)
            f = f.copy()
            f["ci_low"], f["ci_high"] = float(lo), float(hi)
            f["p_value"] = 0.0 if int(f["conversions"]) > 0 else 1.0
            f["method"] = f"{f['method'].split(';')[0]}; {ZERO_BY_DESIGN}"
        rows.append(_row(f, metric, arm, nc, zero_by_design=zero))
    return rows


def mean_rows(df: pd.DataFrame, outcome: str, control: str, treatments: list[str],
              alpha: float, covariate: str | None = None, metric: str | None = None) -> list[dict]:
    """Difference in means (Welch), with CUPED on ``covariate`` when given and not constant
    (:func:`crmlab.abtest.cuped`, :func:`crmlab.abtest.means`)."""
    metric = metric or outcome
    cols = ["arm", outcome] + ([covariate] if covariate else [])
    d = df[cols].dropna()
    rows = []
    for arm in treatments:
        sub = d[d["arm"].isin([control, arm])]
        nc = int((sub["arm"] == control).sum())
        if (sub["arm"] == arm).sum() < 2 or nc < 2:
            continue
        if covariate is not None and sub[covariate].var() > 0:
            r = cuped(sub, "arm", outcome, covariate, control, alpha=alpha, metric=metric)
        else:
            r = means(sub, "arm", outcome, control, alpha=alpha, metric=metric)
        f = r.to_frame().iloc[0]
        rows.append(_row(f, metric, arm, nc,
                         variance_reduction=f.get("variance_reduction", np.nan)))
    return rows


MIN_VARYING = 20   # a covariate is used only when this many customers of each arm differ from its mode


def usable_covariates(sub: pd.DataFrame, covariates, arms) -> list[str]:
    """The covariates worth adjusting for in the comparison ``sub``: present, never missing,
    and varying in every arm (at least :data:`MIN_VARYING` customers away from the covariate's
    most common value). A covariate that is non-zero for a handful of customers only would give
    them a leverage near one in the interacted regression and move the estimate."""
    out = []
    for c in covariates:
        if c not in sub or sub[c].isna().any():
            continue
        mode = sub[c].mode().iloc[0]
        if all(int((sub.loc[sub["arm"] == a, c] != mode).sum()) >= MIN_VARYING for a in arms):
            out.append(c)
    return out


def adjusted_rows(df: pd.DataFrame, outcome: str, control: str, treatments: list[str],
                  alpha: float, covariates, metric: str | None = None) -> list[dict]:
    """Difference in means adjusted for several pre-period covariates (Lin 2013 regression
    adjustment with HC2 errors, :func:`crmlab.abtest.regression_adjustment`); ``value`` and
    ``control_value`` stay the raw means, ``unadjusted_abs_lift`` their difference, and
    ``covariates`` names what was adjusted for (Welch without adjustment when none is usable)."""
    from crmlab.abtest import regression_adjustment

    metric = metric or outcome
    cols = ["arm", outcome] + [c for c in covariates if c in df]
    d = df[cols].dropna(subset=[outcome])
    rows = []
    for arm in treatments:
        sub = d[d["arm"].isin([control, arm])]
        nc = int((sub["arm"] == control).sum())
        if (sub["arm"] == arm).sum() < 2 or nc < 2:
            continue
        use = usable_covariates(sub, covariates, [control, arm])
        if use:
            f = regression_adjustment(sub[["arm", outcome] + use], "arm", outcome, use, control,
                                      alpha=alpha, metric=metric).to_frame().iloc[0]
            extra = dict(variance_reduction=f.get("variance_reduction", np.nan),
                         unadjusted_abs_lift=f["unadjusted_abs_lift"],
                         covariates=", ".join(use))
        else:
            f = means(sub[["arm", outcome]], "arm", outcome, control, alpha=alpha,
                      metric=metric).to_frame().iloc[0]
            extra = dict(variance_reduction=0.0, unadjusted_abs_lift=f["abs_lift"],
                         covariates="")
        rows.append(_row(f, metric, arm, nc, **extra))
    return rows


def ratio_rows(df: pd.DataFrame, num: str, den: str, control: str, treatments: list[str],
               alpha: float, metric: str, covariates=()) -> list[dict]:
    """Ratio of per-customer sums (AOV = revenue / orders) by the delta method
    (:func:`crmlab.abtest.ratio`), adjusted for the usable pre-period ``covariates``
    (:func:`crmlab.abtest.ratio_adjusted`) when any; ``covariates`` of a row names them."""
    from crmlab.abtest import ratio_adjusted

    nc = int((df["arm"] == control).sum())
    rows = []
    for arm in treatments:
        sub = df[df["arm"].isin([control, arm])]
        use = usable_covariates(sub, [c for c in covariates if c in sub], [control, arm])
        f = None
        if use:
            try:
                f = ratio_adjusted(sub[["arm", num, den] + use], "arm", num, den, use, control,
                                   alpha=alpha, metric=metric).to_frame()
            except ValueError:          # a denominator sums to zero: the plain delta method
                f = None
        if f is None:
            f = ratio(sub[["arm", num, den]], "arm", num, den, control, alpha=alpha,
                      metric=metric).to_frame()
            f = f.assign(variance_reduction=0.0, unadjusted_abs_lift=f["abs_lift"],
                         covariates="")
        for _, r in f[f["arm"] == arm].iterrows():
            rows.append(_row(r, metric, arm, nc, variance_reduction=r["variance_reduction"],
                             unadjusted_abs_lift=r["unadjusted_abs_lift"],
                             covariates=r["covariates"]))
    return rows


def welch_diff(yt: np.ndarray, yc: np.ndarray, alpha: float) -> tuple[float, float, float, float]:
    """``(mean(yt) - mean(yc), ci_low, ci_high, p_value)`` by Welch's t (:func:`abtest.means.welch`)."""
    yt, yc = np.asarray(yt, float), np.asarray(yc, float)
    diff, _, _, p, lo, hi = welch(yt.mean(), yt.var(ddof=1), len(yt), yc.mean(),
                                  yc.var(ddof=1), len(yc), alpha=alpha)
    return float(diff), float(lo), float(hi), float(p)


def bootstrap_mean_diff(yt: np.ndarray, yc: np.ndarray, alpha: float, n_boot: int = 2000,
                        seed: int = 0) -> tuple[float, float]:
    """Seeded percentile bootstrap CI of ``mean(yt) - mean(yc)``, arms resampled independently
    (:func:`crmlab.abtest.bootstrap_diff_interval`)."""
    lo, hi, _ = bootstrap_diff_interval(np.asarray(yt, float), np.asarray(yc, float),
                                        n_boot=n_boot, alpha=alpha, method="percentile",
                                        seed=seed)
    return float(lo), float(hi)


def srm_p_value(counts: dict, shares: dict) -> float:
    """Chi-square goodness of fit of the arm counts to the planned shares (:func:`abtest.srm`)."""
    return float(srm(dict(counts), dict(shares)).p_value) if len(counts) >= 2 else 1.0


def smd(xt, xc) -> float:
    """Standardised mean difference ``(mean_t - mean_c) / sqrt((var_t + var_c) / 2)`` — the
    definition of :func:`crmlab.abtest.balance` — on one covariate (NaN dropped)."""
    xt, xc = np.asarray(xt, float), np.asarray(xc, float)
    xt, xc = xt[~np.isnan(xt)], xc[~np.isnan(xc)]
    if len(xt) < 2 or len(xc) < 2:
        return np.nan
    sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
    return 0.0 if sd == 0 else float((xt.mean() - xc.mean()) / sd)


def holm(p) -> np.ndarray:
    """Holm step-down adjusted p-values (:func:`crmlab.abtest.adjust_pvalues`)."""
    return np.asarray(adjust_pvalues(np.asarray(p, float), method="holm"), float)


def bh(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (:func:`crmlab.abtest.adjust_pvalues`)."""
    return np.asarray(adjust_pvalues(np.asarray(p, float), method="bh"), float)


def km_by_arm(st: pd.DataFrame, horizon: float, alpha: float) -> pd.DataFrame:
    """Kaplan-Meier retention (not churned) by arm on a daily grid to the horizon
    (:func:`crmlab.churn.kaplan_meier`)."""
    from crmlab.churn import kaplan_meier

    grid = np.arange(0, int(np.floor(horizon)) + 1, dtype=float)
    curves = kaplan_meier(st, group="arm", alpha=alpha).curves
    frames = []
    for arm, c in curves.groupby("group", sort=True):
        c = c.sort_values("time")
        idx = np.searchsorted(c["time"].to_numpy(float), grid, side="right") - 1

        def pick(col):
            return np.where(idx >= 0, c[col].to_numpy(float)[np.clip(idx, 0, None)], 1.0)

        frames.append(pd.DataFrame({"arm": arm, "day": grid, "retention": pick("survival"),
                                    "ci_low": pick("ci_low"), "ci_high": pick("ci_high")}))
    return pd.concat(frames, ignore_index=True)


def survival_comparison(st: pd.DataFrame, control: str, arm: str, horizon: float,
                        alpha: float) -> dict:
    """Log-rank p-value, Cox hazard ratio (arm vs control) with CI, RMST difference with CI to
    ``min(horizon, shortest follow-up)`` (:func:`crmlab.abtest.survival`)."""
    sub = st[st["arm"].isin([control, arm])]
    tau = min(horizon, float(sub.groupby("arm")["duration"].max().min()))
    f = ab_survival(sub[["arm", "duration", "churned"]], "arm", "duration", "churned",
                    control, tau=tau, alpha=alpha).to_frame().iloc[0]
    return dict(logrank_p=float(f["p_value"]), hazard_ratio=float(f["hazard_ratio"]),
                hr_ci_low=float(f["hr_ci_low"]), hr_ci_high=float(f["hr_ci_high"]),
                hr_p=float(f["hr_p_value"]), rmst_tau=tau,
                rmst_treatment=float(f["value"]), rmst_control=float(f["control_value"]),
                rmst_diff_days=float(f["abs_lift"]), rmst_ci_low=float(f["ci_low"]),
                rmst_ci_high=float(f["ci_high"]))
