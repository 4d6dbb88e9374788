"""Figures for A/B results: lift forest plots, power curves, sequential boundaries."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter
import numpy as np
import pandas as pd
import seaborn as sns

import crmlab.plots  # noqa: F401  (selects a Hangul-capable font)

__all__ = ["plot_lifts", "plot_power_curve", "plot_sequential"]


def plot_lifts(result, ax=None, title: str | None = None):
    """Forest plot: each comparison's ``abs_lift`` with its confidence interval.

    Parameters
    ----------
    result : ABResult (or its ``to_frame()``)
        Rows are labelled ``metric · arm`` (and ``segment`` when present); significant rows
        (``p_adjusted`` when present, else ``p_value``, below the result's alpha) are dark.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from crmlab.datasets import load_hillstrom
    >>> from crmlab.abtest import proportions
    >>> ax = plot_lifts(proportions(load_hillstrom(), "segment", "visit", "No E-Mail"))
    """
    t = result.to_frame() if hasattr(result, "to_frame") else pd.DataFrame(result)
    alpha = getattr(result, "alpha", 0.05)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * len(t) + 1.2))
    label = t["metric"].astype(str) + " · " + t["arm"].astype(str)
    if "segment" in t:
        label = label + " · " + t["segment"].astype(str)
    p = t["p_adjusted"] if "p_adjusted" in t else t["p_value"]
    y = np.arange(len(t))[::-1]
    dark = sns.color_palette()[0]
    colors = [dark if pv < alpha else "0.6" for pv in p]
    for yi, (_, r), c in zip(y, t.iterrows(), colors):
        ax.plot([r.ci_low, r.ci_high], [yi, yi], color=c, lw=2)
        ax.plot(r.abs_lift, yi, "o", color=c)
    ax.axvline(0, color="0.3", lw=1, ls="--")
    ax.set_yticks(y, label)
    ax.set_xlabel(f"treatment - control ({100 * (1 - alpha):.0f}% CI)")
    if title:
        ax.set_title(title)
    sns.despine(ax=ax)
    return ax


def plot_power_curve(curve: pd.DataFrame, ax=None, target: float = 0.8, x: str = "n_total"):
    """Power against sample size, one line per relative lift (from
    :func:`crmlab.abtest.power_curve`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    d = curve.assign(lift=(100 * curve["relative_lift"]).round(1).astype(str) + "%")
    sns.lineplot(data=d, x=x, y="power", hue="lift", marker="o", ax=ax)
    ax.axhline(target, color="0.3", lw=1, ls="--")
    ax.set_ylim(0, 1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("customers in the campaign" if x == "n_total" else x)
    ax.set_ylabel("power")
    ax.legend(title="relative lift")
    sns.despine(ax=ax)
    return ax


def plot_sequential(design, z=None, ax=None):
    """Group-sequential efficacy boundaries (± for two-sided) and an observed z path."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    t = design.information_fractions
    ax.plot(t, design.boundaries, "s-", color="C3", label="boundary")
    if design.sides == 2:
        ax.plot(t, -design.boundaries, "s-", color="C3")
    if z is not None:
        z = np.asarray(z, dtype=float)
        ax.plot(t[:len(z)], z, "o-", color="C0", label="observed z")
    ax.axhline(0, color="0.6", lw=1)
    ax.set_xlabel("information fraction")
    ax.set_ylabel("z")
    ax.legend()
    sns.despine(ax=ax)
    return ax
