"""Figures of survival-based churn (:mod:`crmlab.churn`).

- :func:`km_plot`: Kaplan-Meier curves with confidence bands and a number-at-risk table.
- :func:`hazard_ratio_forest`: hazard ratios of a :class:`~crmlab.churn.ChurnModel` with CIs.
- :func:`calibration_plot`: predicted vs observed churn by decile (out of time).

Each function returns a matplotlib ``Figure``.

Examples
--------
>>> from crmlab.churn import kaplan_meier          # doctest: +SKIP
>>> from crmlab.plots.churn import km_plot          # doctest: +SKIP
>>> fig = km_plot(kaplan_meier(table, group="arm"))  # doctest: +SKIP
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

import crmlab.plots  # noqa: F401  (font setup)

__all__ = ["km_plot", "hazard_ratio_forest", "calibration_plot"]


def km_plot(km, at_risk: bool = True, at_risk_times=None, ci: bool = True,
            max_time: float | None = None, title: str | None = None, figsize=(8, 5.5)):
    """Kaplan-Meier curves (step functions) with CI bands and numbers at risk under the axis.

    Parameters
    ----------
    km : KaplanMeierResult
    at_risk : bool
        Add the number-at-risk table below the plot.
    at_risk_times : sequence of float, optional
        Times for the at-risk table (default: 6 evenly spaced ticks).
    ci : bool
        Shade the pointwise confidence band.
    max_time : float, optional
        Right end of the time axis.

    Returns
    -------
    matplotlib Figure
    """
    curves = km.curves
    groups = list(dict.fromkeys(curves["group"]))
    tmax = float(max_time if max_time is not None else curves["time"].max())
    palette = sns.color_palette("colorblind", n_colors=max(len(groups), 3))
    if at_risk:
        fig, (ax, ax_tab) = plt.subplots(
            2, 1, figsize=figsize, sharex=True,
            gridspec_kw={"height_ratios": [4, 0.35 + 0.22 * len(groups)], "hspace": 0.08})
    else:
        fig, ax = plt.subplots(figsize=figsize)
    for color, g in zip(palette, groups):
        c = curves[curves["group"] == g]
        c = c[c["time"] <= tmax]
        label = f"{g} (n={int(c['at_risk'].iloc[0]):,})"
        ax.step(c["time"], c["survival"], where="post", color=color, label=label, lw=1.8)
        if ci:
            ax.fill_between(c["time"], c["ci_low"], c["ci_high"], step="post", color=color,
                            alpha=0.18, lw=0)
        cens = c[c["censored"] > 0]
        if 0 < len(cens) <= 200:
            ax.plot(cens["time"], cens["survival"], "|", color=color, ms=6, alpha=0.7)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, tmax)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    churn = f" (churn = no purchase for {km.churn_after_days:g} days)" if km.churn_after_days else ""
    ax.set_ylabel("share not churned" + churn)
    ax.set_title(title or "Kaplan-Meier survival")
    ax.grid(alpha=0.3)
    ax.legend(title=km.group or None, loc="best", frameon=False)
    if at_risk:
        times = (np.asarray(at_risk_times, dtype=float) if at_risk_times is not None
                 else np.linspace(0, tmax, 6).round())
        ax_tab.set_ylim(-0.5, len(groups) - 0.5)
        ax_tab.set_yticks(range(len(groups)))
        ax_tab.set_yticklabels([str(g) for g in groups][::-1])
        for row, (color, g) in enumerate(zip(palette, groups)):
            c = curves[curves["group"] == g]
            n_total = int(c["at_risk"].iloc[0])
            tt = c["time"].to_numpy()
            leaving = (c["events"] + c["censored"]).to_numpy()
            for t in times:
                n_at = n_total - int(leaving[tt < t].sum())
                ax_tab.text(t, len(groups) - 1 - row, f"{n_at:,}", ha="center", va="center",
                            fontsize=8, color=color)
        ax_tab.set_xlabel("days since time zero")
        ax_tab.set_title("number at risk", fontsize=9, loc="left")
        for side in ("top", "right", "left"):
            ax_tab.spines[side].set_visible(False)
        ax_tab.tick_params(axis="y", length=0, pad=22)
    else:
        ax.set_xlabel("days since time zero")
    return fig


def hazard_ratio_forest(model, sort: bool = True, title: str | None = None, figsize=None):
    """Forest plot of hazard ratios with confidence intervals (log scale).

    Parameters
    ----------
    model : ChurnModel or DataFrame
        A fitted model, or a DataFrame with ``hazard_ratio, ci_low, ci_high`` indexed by name.

    Returns
    -------
    matplotlib Figure
    """
    hr = model.hazard_ratios_ if hasattr(model, "hazard_ratios_") else model
    hr = hr[["hazard_ratio", "ci_low", "ci_high"] + (["p_value"] if "p_value" in hr else [])]
    if sort:
        hr = hr.sort_values("hazard_ratio")
    fig, ax = plt.subplots(figsize=figsize or (7, 0.45 * len(hr) + 1.5))
    y = np.arange(len(hr))
    sig = (hr["p_value"] < 0.05).to_numpy() if "p_value" in hr else np.ones(len(hr), bool)
    colors = np.where(sig, "#1b6ca8", "#9aa5b1")
    ax.hlines(y, hr["ci_low"], hr["ci_high"], colors=colors, lw=2)
    ax.scatter(hr["hazard_ratio"], y, color=colors, zorder=3, s=30)
    ax.axvline(1.0, color="black", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y)
    ax.set_yticklabels(hr.index)
    ax.set_xlabel("hazard ratio of churn (log scale; < 1 = churns later)")
    ax.set_title(title or "Churn hazard ratios (95% CI; grey: p ≥ 0.05)")
    ax.grid(axis="x", alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def calibration_plot(evaluation, title: str | None = None, figsize=(5.5, 5.5)):
    """Predicted vs observed churn by decile of predicted risk, with the observed CIs.

    Parameters
    ----------
    evaluation : ChurnEvaluation or DataFrame
        From :func:`crmlab.churn.evaluate_churn_model` (or its ``calibration`` table).

    Returns
    -------
    matplotlib Figure
    """
    cal = evaluation.calibration if hasattr(evaluation, "calibration") else evaluation
    fig, ax = plt.subplots(figsize=figsize)
    top = float(max(cal["predicted"].max(), cal["ci_high"].max())) * 1.05
    ax.plot([0, top], [0, top], color="black", lw=0.8, ls="--", label="perfect calibration")
    ax.errorbar(cal["predicted"], cal["observed"],
                yerr=[np.clip(cal["observed"] - cal["ci_low"], 0, None),
                      np.clip(cal["ci_high"] - cal["observed"], 0, None)],
                fmt="o", color="#1b6ca8", capsize=3, label="deciles (observed, 95% CI)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    h = getattr(evaluation, "horizon_days", None)
    hz = f" within {h:g} days" if h else ""
    ax.set_xlabel(f"predicted churn{hz}")
    ax.set_ylabel(f"observed churn{hz}")
    ax.set_title(title or "Calibration, out of time")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return fig
