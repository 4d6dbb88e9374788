"""Figures of a campaign evaluation (:class:`crmlab.campaign.CampaignEvaluation`).

Each function takes the evaluation and returns a matplotlib ``Figure``; labels follow the
evaluation's report language (``en`` / ``ko``; Hangul renders with the font that
:mod:`crmlab.plots` selects). Only per-arm aggregates are drawn.

Examples
--------
>>> from crmlab.plots.campaign import retention_by_arm      # doctest: +SKIP
>>> fig = retention_by_arm(evaluation)                       # doctest: +SKIP
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, PercentFormatter

import crmlab.plots  # noqa: F401  (font setup)
from crmlab import i18n

_LABELS = {
    "days": {"en": "Days since assignment", "ko": "배정 후 경과일"},
    "retention": {"en": "Not churned", "ko": "이탈하지 않은 비율"},
    "reactivated": {"en": "Bought again", "ko": "다시 구매한 비율"},
    "react_title": {"en": "Reactivation of customers lapsed at assignment, by arm",
                    "ko": "배정 시 휴면 고객의 재활성, 군별"},
    "cum_revenue": {"en": "Revenue per customer", "ko": "고객당 누적 매출"},
    "rel_lift": {"en": "Lift relative to the holdout", "ko": "대조군 대비 상대 효과"},
    "share": {"en": "Share of assigned customers", "ko": "배정 고객 대비 비율"},
    "arm": {"en": "Arm", "ko": "군"},
    "km_title": {"en": "Retention by arm (churn = {C:g} days without a purchase)",
                 "ko": "군별 유지율(이탈 = {C:g}일간 구매 없음)"},
    "cum_title": {"en": "Cumulative revenue per customer", "ko": "고객당 누적 매출"},
    "forest_title": {"en": "Effects against the holdout ({level} CI)",
                     "ko": "대조군 대비 효과({level} 신뢰구간)"},
    "funnel_title": {"en": "Message funnel", "ko": "메시지 퍼널"},
    "assigned": {"en": "assigned", "ko": "배정"}, "sent": {"en": "sent", "ko": "발송"},
    "delivered": {"en": "delivered", "ko": "도달"}, "opened": {"en": "opened", "ko": "열람"},
    "clicked": {"en": "clicked", "ko": "클릭"}, "purchased": {"en": "purchased", "ko": "구매"},
}


_LOWER_IS_BETTER = {"inactive_90", "inactive_180", "churned_90", "churned_180",
                    "unsubscribe_rate", "block_rate"}


def _l(key: str, lang: str, **kw) -> str:
    text = _LABELS[key][lang if lang in ("en", "ko") else "en"]
    return text.format(**kw) if kw else text


def _arm_label(arm: str, lang: str, spec=None) -> str:
    """An arm's label as the report's text shows it: the spec's ``arm_labels``, the holdout by
    its name, else the arm id."""
    from crmlab.campaign.narration import arm_label

    return arm_label(arm, lang, spec)


def _palette(arms) -> dict:
    arms = list(arms)
    others = [a for a in arms if a != "control"]
    colors = sns.color_palette("deep", n_colors=max(len(others), 1) + 1)
    pal = {"control": (0.45, 0.45, 0.45)}
    pal.update({a: colors[i] for i, a in enumerate(others)})
    return pal


def retention_by_arm(ev, ax=None):
    """Kaplan-Meier retention (share not churned) by arm with pointwise confidence bands; on a
    reactivation page the share of lapsed customers who bought again (1 - KM), from 0 at day 0."""
    lang = ev.lang
    km = ev.km.copy()
    react = getattr(ev, "endpoint", "churn") == "reactivation"
    if react:
        km = km.assign(retention=1 - km["retention"], ci_low=1 - km["ci_high"],
                       ci_high=1 - km["ci_low"])
    fig, ax = _axes(ax)
    pal = _palette(km["arm"].unique())
    for arm, g in km.groupby("arm", sort=False):
        lab = _arm_label(arm, lang, getattr(ev, "spec", None))
        ax.step(g["day"], g["retention"], where="post", color=pal[arm], label=lab, lw=2)
        ax.fill_between(g["day"], g["ci_low"], g["ci_high"], step="post", color=pal[arm],
                        alpha=0.18, lw=0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel=_l("days", lang), ylabel=_l("reactivated" if react else "retention", lang),
           title=_l("react_title", lang) if react else _l("km_title", lang,
                                                             C=ev.churn_after_days))
    ax.legend(title=_l("arm", lang))
    sns.despine(fig=fig)
    return fig


def cumulative_revenue_by_arm(ev, ax=None):
    """Cumulative revenue per customer by arm since assignment, with a 95% CI band."""
    lang = ev.lang
    cur = ev.cumulative.copy()
    fig, ax = _axes(ax)
    pal = _palette(cur["arm"].unique())
    zero = pd.DataFrame({"arm": cur["arm"].unique(), "day": 0.0, "mean": 0.0, "se": 0.0})
    cur = pd.concat([zero, cur], ignore_index=True).sort_values(["arm", "day"])
    for arm, g in cur.groupby("arm", sort=False):
        ax.plot(g["day"], g["mean"], color=pal[arm], lw=2,
                label=_arm_label(arm, lang, getattr(ev, "spec", None)))
        ax.fill_between(g["day"], g["mean"] - 1.96 * g["se"], g["mean"] + 1.96 * g["se"],
                        color=pal[arm], alpha=0.18, lw=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: i18n.money(v, ev.currency)))
    ax.set(xlabel=_l("days", lang), ylabel=_l("cum_revenue", lang),
           title=_l("cum_title", lang))
    ax.legend(title=_l("arm", lang))
    sns.despine(fig=fig)
    return fig


def lift_forest(ev, ax=None):
    """Every effect against the holdout on one scale: the lift relative to the holdout's value
    (``abs_lift / control_value`` with its CI scaled the same way)."""
    lang = ev.lang
    f = ev.to_frame()
    f = f[np.isfinite(f["control_value"].astype(float)) & (f["control_value"].astype(float) != 0)]
    f = f.assign(rel=f["abs_lift"] / f["control_value"], lo=f["ci_low"] / f["control_value"],
                 hi=f["ci_high"] / f["control_value"])
    neg = f["control_value"] < 0
    f.loc[neg, ["lo", "hi"]] = f.loc[neg, ["hi", "lo"]].to_numpy()
    names = {m: (i18n.TEXTS[f"metric.{m}"][lang] if f"metric.{m}" in i18n.TEXTS else m)
             for m in f["metric"].unique()}
    many = f["arm"].nunique() > 1
    lower = {"en": " (lower is better)", "ko": " (낮을수록 좋음)"}[lang if lang == "ko" else "en"]
    spec = getattr(ev, "spec", None)
    f["label"] = [names[m] + (lower if m in _LOWER_IS_BETTER else "")
                  + (f" · {_arm_label(a, lang, spec)}" if many else "")
                  for m, a in zip(f["metric"], f["arm"])]
    fig, ax = _axes(ax, size=(7.5, 0.45 * len(f) + 1.4))
    y = np.arange(len(f))[::-1]
    ax.errorbar(f["rel"], y, xerr=[f["rel"] - f["lo"], f["hi"] - f["rel"]], fmt="o",
                color=sns.color_palette("deep")[0], ecolor="0.4", capsize=3)
    ax.axvline(0, color="0.3", lw=1, ls="--")
    ax.set_yticks(y, f["label"])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    level = f"{1 - ev.arm_alpha:.1%}".replace(".0%", "%")
    ax.set(xlabel=_l("rel_lift", lang), title=_l("forest_title", lang, level=level))
    sns.despine(fig=fig)
    return fig


def funnel(ev, ax=None):
    """The message funnel by arm: share of assigned customers at each step."""
    lang = ev.lang
    fu = ev.funnel.copy()
    fu["step_label"] = [_l(s, lang) for s in fu["step"]]
    spec = getattr(ev, "spec", None)
    fu["arm_label"] = [_arm_label(a, lang, spec) for a in fu["arm"]]
    fig, ax = _axes(ax)
    pal = {_arm_label(a, lang, spec): c for a, c in _palette(fu["arm"].unique()).items()}
    sns.barplot(data=fu, x="step_label", y="share_of_assigned", hue="arm_label", palette=pal,
                ax=ax)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel="", ylabel=_l("share", lang), title=_l("funnel_title", lang))
    ax.legend(title=_l("arm", lang))
    sns.despine(fig=fig)
    return fig


def _axes(ax, size=(7.5, 4.2)):
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
    else:
        fig = ax.figure
    return fig, ax
