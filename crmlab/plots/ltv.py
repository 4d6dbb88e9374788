"""Figures for the customer-base models (crmlab.ltv)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import crmlab.plots  # noqa: F401  (Hangul font)

__all__ = ["plot_holdout_check", "plot_parameters_vs_truth", "plot_by_segment", "plot_tracking",
           "plot_p_alive_matrix", "plot_intervals", "add_caption"]


def add_caption(ax, text: str):
    """Write a one-line plain-language caption under the axes."""
    ax.annotate(text, xy=(0, -0.16), xycoords="axes fraction", va="top", ha="left", fontsize=9,
                wrap=True)
    return ax


def plot_holdout_check(check, ax=None, caption: bool = False):
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
    if caption:
        add_caption(ax, check.caption)
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


def plot_tracking(tr, cumulative: bool = True, ax=None, caption: bool = True):
    """Repeat transactions per week, actual vs expected (cumulative or incremental), with the
    end of the calibration period marked (FHL 2005, Figures 2 and 3).

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> from crmlab.ltv import BetaGeoFitter, tracking
    >>> orders = load_cdnow(sample=True)
    >>> s = rfm_summary(orders, "1998-07-01", "D", "1997-10-01", time_scaler=7)
    >>> ax = plot_tracking(tracking(BetaGeoFitter().fit(s), orders, "1997-10-01", "1998-07-01"))
    """
    t = tr.table
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    a, e = ("actual_cumulative", "expected_cumulative") if cumulative else ("actual", "expected")
    ax.plot(t.week_end, t[a], label="actual")
    ax.plot(t.week_end, t[e], linestyle="--", label=f"expected ({tr.model})")
    ax.axvline(tr.calibration_end, color="grey", linestyle=":", label="end of calibration")
    kind = "cumulative" if cumulative else "weekly"
    ax.set_ylabel(f"{kind} repeat purchases")
    ax.set_title(f"Tracking: {kind} repeat purchases of {tr.customers:,} customers")
    ax.legend()
    if caption:
        add_caption(ax, tr.caption)
    return ax


def plot_p_alive_matrix(matrix, ax=None, caption: bool = True, title: str | None = None):
    """Heat map of P(alive) by frequency and recency (see :func:`crmlab.ltv.p_alive_matrix`)."""
    from crmlab.ltv.checks import p_alive_caption

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    im = ax.imshow(matrix.to_numpy(), origin="lower", aspect="auto", vmin=0, vmax=1,
                   cmap="viridis", extent=(matrix.columns[0], matrix.columns[-1],
                                           -0.5, matrix.index[-1] + 0.5))
    ax.figure.colorbar(im, ax=ax, label="P(alive)")
    ax.set_xlabel("recency (time of the last purchase since the first)")
    ax.set_ylabel("repeat purchases (frequency)")
    ax.set_title(title or "Probability of being alive by frequency and recency")
    if caption:
        add_caption(ax, p_alive_caption(matrix))
    return ax


def plot_intervals(agg, quantity: str = "clv", ax=None, caption: bool = True):
    """Expected totals per group with their confidence interval (parameter uncertainty) and
    prediction interval (also the customers' own randomness), from
    :meth:`crmlab.ltv.LTVIntervals.aggregate`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.5 * len(agg) + 1.5))
    y = np.arange(len(agg))
    v = agg[quantity].to_numpy()
    ax.errorbar(v, y, xerr=[v - agg[f"{quantity}_pi_low"], agg[f"{quantity}_pi_high"] - v],
                fmt="none", ecolor="lightsteelblue", elinewidth=6, label="prediction interval")
    ax.errorbar(v, y, xerr=[v - agg[f"{quantity}_ci_low"], agg[f"{quantity}_ci_high"] - v],
                fmt="o", color="navy", capsize=4, label="confidence interval of the expectation")
    ax.set_yticks(y, [str(i) for i in agg.index])
    ax.set_xlabel(f"total {quantity}")
    ax.legend(loc="best", fontsize=8)
    if caption:
        i = int(np.argmax(v))
        add_caption(ax, f"{agg.index[i]}: expected {quantity} {v[i]:,.0f}, realistically between "
                        f"{agg[f'{quantity}_pi_low'].iloc[i]:,.0f} and "
                        f"{agg[f'{quantity}_pi_high'].iloc[i]:,.0f}.")
    return ax
