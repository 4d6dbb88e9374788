"""Figures of acquisition cohorts (:mod:`crmlab.cohorts`).

Each function takes a cohort result and returns a matplotlib ``Figure``. Censored cells (periods
a cohort has not reached yet) are left blank, never drawn as zero.

Examples
--------
>>> from crmlab.cohorts import retention_matrix            # doctest: +SKIP
>>> from crmlab.plots.cohorts import retention_heatmap     # doctest: +SKIP
>>> fig = retention_heatmap(retention_matrix(orders))      # doctest: +SKIP
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, PercentFormatter

import crmlab.plots  # noqa: F401  (font setup)
from crmlab.cohorts import PERIODS

__all__ = ["retention_heatmap", "ltv_curves", "return_rates", "funnel"]


def _cohort_labels(index: pd.Index, period: str) -> list[str]:
    fmt = {"D": "%Y-%m-%d", "W": "%Y-%m-%d", "M": "%Y-%m"}[period]
    return [pd.Timestamp(c).strftime(fmt) for c in index]


def _ax(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    return ax.figure, ax


def retention_heatmap(rm, values: str = "rate", ax=None, annot: bool | None = None,
                      max_cohorts: int | None = 36, cmap: str = "YlGnBu"):
    """Heatmap of a :class:`~crmlab.cohorts.RetentionMatrix` (cohorts × period_number).

    Parameters
    ----------
    rm : RetentionMatrix
    values : {"rate", "customers"}
    ax : matplotlib Axes, optional
    annot : bool, optional
        Write the numbers in the cells (default: when the matrix is at most 24 × 24).
    max_cohorts : int, optional
        Show only the most recent cohorts.

    Returns
    -------
    matplotlib Figure
    """
    wide = rm.pivot(values)
    if max_cohorts is not None and len(wide) > max_cohorts:
        wide = wide.iloc[-max_cohorts:]
    data = wide.copy()
    if values == "rate" and 0 in data.columns:
        data = data.drop(columns=0)   # period 0 is 100% by construction for kind="on"
    if annot is None:
        annot = data.shape[0] <= 24 and data.shape[1] <= 24
    fig, ax = _ax(ax, (min(2 + 0.55 * data.shape[1], 16), min(1.5 + 0.35 * data.shape[0], 12)))
    fmt = ".0%" if values == "rate" else ",.0f"
    sns.heatmap(data, ax=ax, cmap=cmap, annot=annot, fmt=fmt, annot_kws={"size": 7},
                mask=data.isna(), cbar_kws={"label": "share of cohort" if values == "rate"
                                            else "customers"},
                linewidths=0.3, linecolor="white")
    ax.set_yticklabels(_cohort_labels(data.index, rm.period), rotation=0)
    unit = PERIODS[rm.period]
    ax.set_xlabel(f"{unit}s since the first purchase")
    ax.set_ylabel(f"acquisition cohort ({unit})")
    what = "bought in" if rm.kind == "on" else "bought in or after"
    ax.set_title(f"Share of each cohort that {what} {unit} k "
                 f"(blank = not yet observed, {rm.n_censored_cells} cells)")
    fig.tight_layout()
    return fig


def ltv_curves(lc, ax=None, max_cohorts: int | None = 12, show_average: bool = True):
    """Cumulative revenue per acquired customer by cohort (:class:`~crmlab.cohorts.LTVCurves`).

    One line per cohort (the most recent ``max_cohorts``), stopping where the cohort's
    observation stops, and the customer-weighted average in black.
    """
    fig, ax = _ax(ax, (9, 5))
    t = lc.table[lc.table["observed"]]
    cohorts = sorted(t["cohort"].unique())
    if max_cohorts is not None:
        cohorts = cohorts[-max_cohorts:]
    pal = sns.color_palette("viridis", n_colors=max(len(cohorts), 1))
    labels = _cohort_labels(pd.Index(cohorts), lc.period)
    for c, color, lab in zip(cohorts, pal, labels):
        d = t[t["cohort"] == c]
        ax.plot(d["period_number"], d["ltv"], color=color, lw=1.2, marker="o", ms=2.5,
                label=lab)
    if show_average:
        avg = lc.average_curve()
        ax.plot(avg["period_number"], avg["ltv"], color="black", lw=2.5, label="average")
    unit = PERIODS[lc.period]
    cur = f" ({lc.currency})" if lc.currency else ""
    ax.set_xlabel(f"{unit}s since the first purchase")
    ax.set_ylabel(f"cumulative revenue per customer{cur}")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title("LTV curves by acquisition cohort (refunds included)")
    ax.legend(fontsize=7, ncol=2, frameon=False, loc="upper left")
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig


def return_rates(rr, ax=None):
    """Repurchase or revisit rate by cohort, one line per ``within_days`` window."""
    fig, ax = _ax(ax, (9, 4.5))
    t = rr.table.dropna(subset=["rate"])
    sns.lineplot(data=t, x="cohort", y="rate", hue="within_days", marker="o", ax=ax,
                 palette="crest")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(f"cohort ({PERIODS[rr.period]} of the first "
                  f"{'purchase' if rr.what == 'repurchase' else 'visit'})")
    ax.set_ylabel(f"{rr.what} rate")
    ax.set_title(f"{rr.what.capitalize()} within N days (censored customers left out)")
    ax.legend(title="within days", frameon=False)
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig


def funnel(fn, ax=None):
    """Bar chart of the pooled funnel (:class:`~crmlab.cohorts.Funnel`) with step conversion."""
    fig, ax = _ax(ax, (7, 4))
    ov = fn.overall
    sns.barplot(data=ov, x="step", y="customers", ax=ax, color=sns.color_palette("deep")[0])
    for i, r in enumerate(ov.itertuples()):
        txt = f"{int(r.customers):,}" + ("" if np.isnan(r.share_of_previous)
                                         else f"\n({r.share_of_previous:.1%} of previous)")
        ax.text(i, r.customers, txt, ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("customers")
    ax.set_xlabel("")
    ax.set_title(f"Funnel within {fn.window_days} days of the first visit")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig
