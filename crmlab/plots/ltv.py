"""Figures for the customer-base models (crmlab.ltv)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import crmlab.plots  # noqa: F401  (Hangul font)

__all__ = ["plot_holdout_check", "plot_parameters_vs_truth", "plot_by_segment"]


def plot_holdout_check(check, ax=None):
    """Mean holdout purchases, actual vs predicted, by calibration frequency (FHL 2005, Fig. 4).

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> from crmlab.ltv import BetaGeoFitter, holdout_check
    >>> s = rfm_summary(load_cdnow(sample=True), "1998-07-01", "D", "1997-10-01", time_scaler=7)
    >>> ax = plot_holdout_check(holdout_check(BetaGeoFitter().fit(s), s))
    """
    t = check.table
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(t["frequency_cal"], t["actual"], marker="o", label="actual")
    ax.plot(t["frequency_cal"], t["predicted"], marker="s", linestyle="--",
            label=f"predicted ({check.model})")
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel(f"mean purchases in the {check.duration:g}-{check.unit} holdout")
    ax.set_title(f"Holdout check: {check.relative_error:+.1%} total error")
    ax.legend()
    return ax


def plot_parameters_vs_truth(model, truth: dict, ax=None):
    """Estimates with 95% confidence intervals next to the true parameters (log scale)."""
    s = model.summary
    names = [k for k in s.index if k in truth]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    y = np.arange(len(names))
    est = s.loc[names, "estimate"].to_numpy()
    err = np.vstack([est - s.loc[names, "ci_low"], s.loc[names, "ci_high"] - est])
    ax.errorbar(est, y, xerr=err, fmt="o", capsize=4, label="estimate, 95% CI")
    ax.scatter([truth[k] for k in names], y, marker="x", color="crimson", zorder=3, label="truth")
    ax.set_yticks(y, names)
    ax.set_xscale("log")
    ax.set_title(f"{model._model_name}: estimates vs truth")
    ax.legend(loc="best")
    return ax


def plot_by_segment(frame: pd.DataFrame, value: str, segment: str, ax=None, kind: str = "box"):
    """Distribution (``kind="box"``) or mean (``"bar"``) of ``value`` by ``segment``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if kind == "bar":
        sns.barplot(data=frame, x=segment, y=value, ax=ax, errorbar=("ci", 95))
    else:
        sns.boxplot(data=frame, x=segment, y=value, ax=ax, showfliers=False)
    ax.tick_params(axis="x", rotation=30)
    ax.set_title(f"{value} by {segment}")
    return ax
