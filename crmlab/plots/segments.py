"""Figures of RFM segments and lifecycle stages (:mod:`crmlab.segments`).

Each function returns a matplotlib ``Figure``.

Examples
--------
>>> from crmlab.plots.segments import segment_sizes     # doctest: +SKIP
>>> fig = segment_sizes(rfm_scores(summary))            # doctest: +SKIP
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

import crmlab.plots  # noqa: F401  (font setup)
from crmlab.segments import NOT_YET, RFM_SEGMENTS, STAGES

__all__ = ["segment_sizes", "rfm_grid", "stage_sizes", "stage_flow"]


def _ax(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    return ax.figure, ax


def segment_sizes(scores, ax=None, show_empty: bool = False):
    """Horizontal bars: customers per named RFM segment (:class:`~crmlab.segments.RFMScores`)."""
    s = scores.segment_sizes
    if not show_empty:
        s = s[s["customers"] > 0]
    fig, ax = _ax(ax, (8, 0.45 * len(s) + 1.2))
    sns.barplot(data=s, y="segment", x="customers", ax=ax, color=sns.color_palette("deep")[0],
                order=list(s["segment"]))
    for i, r in enumerate(s.itertuples()):
        ax.text(r.customers, i, f" {int(r.customers):,} ({r.share:.1%})", va="center",
                fontsize=8)
    ax.set_xlabel("customers")
    ax.set_ylabel("")
    ax.set_title("RFM segments")
    ax.set_xlim(0, s["customers"].max() * 1.25 if len(s) else 1)
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig


def rfm_grid(scores, ax=None):
    """R × FM heatmap: customers per cell, with the segment each cell belongs to."""
    t = scores.table.dropna(subset=["R", "FM"])
    counts = pd.crosstab(t["R"].astype(int), t["FM"].astype(int)).reindex(
        index=range(5, 0, -1), columns=range(1, 6), fill_value=0)
    seg = t.groupby([t["R"].astype(int), t["FM"].astype(int)])["segment"].first()
    labels = np.empty(counts.shape, dtype=object)
    for i, r in enumerate(counts.index):
        for j, fm in enumerate(counts.columns):
            hit = RFM_SEGMENTS[(RFM_SEGMENTS.r_min <= r) & (r <= RFM_SEGMENTS.r_max)
                               & (RFM_SEGMENTS.fm_min <= fm) & (fm <= RFM_SEGMENTS.fm_max)]
            name = seg.get((r, fm), hit["segment"].iloc[0] if len(hit) else "")
            labels[i, j] = f"{name}\n{counts.iloc[i, j]:,}"
    fig, ax = _ax(ax, (9, 6))
    sns.heatmap(counts, annot=labels, fmt="", cmap="Blues", ax=ax, annot_kws={"size": 7},
                cbar_kws={"label": "customers"}, linewidths=0.5, linecolor="white")
    ax.set_xlabel("FM score (mean of F and M, rounded up)")
    ax.set_ylabel("R score (5 = most recent)")
    ax.set_title("Customers by recency and frequency-monetary score")
    fig.tight_layout()
    return fig


def stage_sizes(stages, ax=None):
    """Bars: customers per lifecycle stage (:class:`~crmlab.segments.LifecycleStages`)."""
    s = stages.sizes
    fig, ax = _ax(ax, (8, 4))
    sns.barplot(data=s, x="stage", y="customers", ax=ax, order=list(STAGES),
                hue="stage", palette="deep", legend=False)
    for i, r in enumerate(s.itertuples()):
        ax.text(i, r.customers, f"{int(r.customers):,}\n{r.share:.1%}", ha="center",
                va="bottom", fontsize=8)
    ax.set_xlabel("")
    ax.set_ylabel("customers")
    ax.set_title(f"Lifecycle stages as of {stages.as_of:%Y-%m-%d} "
                 f"(dormant ≥ {stages.params['dormant_after_days']} days)")
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig


def stage_flow(flow, ax=None, normalize: bool = True):
    """Heatmap of the stage flow (:class:`~crmlab.segments.StageFlow`): rows = stage at the
    first date, columns = stage at the second; shares of each row (``normalize``) or counts."""
    counts = flow.counts
    keep = counts.sum(axis=1) > 0
    counts = counts[keep]
    data = flow.shares[keep] if normalize else counts
    annot = np.empty(data.shape, dtype=object)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            n = counts.iloc[i, j]
            annot[i, j] = (f"{data.iloc[i, j]:.0%}\n{n:,}" if normalize else f"{n:,}") if n else ""
    fig, ax = _ax(ax, (9, 5.5))
    sns.heatmap(data, annot=annot, fmt="", cmap="Purples", ax=ax, annot_kws={"size": 7},
                cbar_kws={"label": "share of the row" if normalize else "customers"},
                linewidths=0.5, linecolor="white", vmin=0, vmax=1 if normalize else None)
    ax.set_xlabel(f"stage on {flow.to_date:%Y-%m-%d}")
    ax.set_ylabel(f"stage on {flow.from_date:%Y-%m-%d}")
    ax.set_title("Lifecycle stage flow")
    if normalize:
        ax.collections[0].colorbar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    fig.tight_layout()
    return fig
