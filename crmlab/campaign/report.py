"""The campaign report's sections: plain-language Markdown and formatted tables.

``notebooks/campaign_report.ipynb`` calls these functions one section at a time; each returns
Markdown (a string) or a small formatted DataFrame of aggregates — never a customer
identifier. Texts come from :mod:`crmlab.i18n` in the evaluation's language.

Every text that comes from the spec or the data (title, exploratory reason, campaign name, arm
and segment labels, notes, the verdict's sentences, the provenance parameters) enters the
Markdown through :func:`crmlab.i18n.md_escape`, so it reads as text and never as markup. The
tables hold such texts as they are: display them escaped (``crmlab.reporting.sanitize.
safe_table``, as the report notebook does).

Examples
--------
>>> from IPython.display import Markdown, display           # doctest: +SKIP
>>> display(Markdown(header(ev)))                             # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab import i18n
from crmlab.campaign import narration
from crmlab.campaign.evaluation import CONTROL, SRM_ALPHA, CampaignEvaluation
from crmlab.experiments import DecisionRule

_SCENARIO = {
    "first_purchase": {"en": "First-purchase", "ko": "첫 구매 유도"},
    "cart_reminder": {"en": "Cart-reminder", "ko": "장바구니 리마인드"},
    "winback": {"en": "Win-back", "ko": "휴면 고객 재활성화"},
    "review_request": {"en": "Review-request", "ko": "리뷰 요청"},
    "anniversary": {"en": "Anniversary", "ko": "기념일"},
    "custom": {"en": "Custom", "ko": "맞춤"},
}
_COLS = {
    "arm": {"en": "Arm", "ko": "군"}, "metric": {"en": "Metric", "ko": "지표"},
    "n": {"en": "Customers", "ko": "고객 수"}, "value": {"en": "Arm value", "ko": "실험군 값"},
    "control_value": {"en": "Holdout value", "ko": "대조군 값"},
    "abs_lift": {"en": "Difference", "ko": "차이"}, "ci": {"en": "CI", "ko": "신뢰구간"},
    "p_value": {"en": "p-value", "ko": "p-값"},
    "share": {"en": "Share", "ko": "비율"}, "expected_share": {"en": "Planned", "ko": "계획"},
    "threshold": {"en": "Allowed increase", "ko": "허용 증가폭"},
    "breached": {"en": "Breached", "ko": "위반"},
    "segment": {"en": "Segment", "ko": "세그먼트"}, "level": {"en": "Group", "ko": "그룹"},
    "ltv_lift": {"en": "LTV lift", "ko": "LTV 증가"},
    "net": {"en": "Net value / customer", "ko": "고객당 순가치"},
    "p_bh": {"en": "p (BH-adjusted)", "ko": "p (BH 보정)"},
    "rec": {"en": "Recommendation", "ko": "권고"},
    "table": {"en": "Table", "ko": "테이블"}, "check": {"en": "Check", "ko": "점검"},
    "rows": {"en": "Rows", "ko": "행 수"}, "action": {"en": "Action", "ko": "조치"},
    "scope": {"en": "Counted over", "ko": "집계 범위"},
    "step": {"en": "Step", "ko": "단계"}, "customers": {"en": "Customers", "ko": "고객 수"},
    "covariate": {"en": "Pre-period covariate", "ko": "사전 기간 변수"},
    "smd": {"en": "Standardised difference", "ko": "표준화 차이"},
    "cost": {"en": "Total cost", "ko": "총비용"}, "sends": {"en": "Sends", "ko": "발송 수"},
    "inc_rev": {"en": "Incremental revenue", "ko": "증분 매출"},
    "inc_margin": {"en": "Incremental margin", "ko": "증분 마진"},
    "roi": {"en": "ROI", "ko": "ROI"}, "iroas": {"en": "iROAS", "ko": "iROAS"},
    "cpic": {"en": "Cost per incremental conversion", "ko": "증분 전환당 비용"},
    "send_cost": {"en": "Send cost", "ko": "발송 비용"},
    "coupon_cost": {"en": "Redeemed coupons", "ko": "사용된 쿠폰"},
    "profit": {"en": "Incremental profit (CI)", "ko": "증분 이익 (신뢰구간)"},
    "p_profit": {"en": "P(profit > 0)", "ko": "이익 확률"},
    "break_even": {"en": "Break-even lift / customer", "ko": "고객당 손익분기 증가"},
    "state": {"en": "Verdict", "ko": "판정"},
    "fatigue": {"en": "Sends in the 30 days before", "ko": "직전 30일 발송 수"},
    "unsub": {"en": "Unsubscribed (arm vs holdout)", "ko": "수신거부 (실험군 대 대조군)"},
    "block": {"en": "Not delivered", "ko": "미도달"},
    "hr": {"en": "Churn hazard ratio", "ko": "이탈 위험비"},
    "rmst": {"en": "Extra active days (RMST)", "ko": "활성 일수 증가(RMST)"},
    "logrank": {"en": "Log-rank p", "ko": "로그순위 p"},
    "churn90": {"en": "Churned by day 90", "ko": "90일 내 이탈"},
    "churn180": {"en": "Churned by day 180", "ko": "180일 내 이탈"},
    "reason": {"en": "Reason", "ko": "사유"},
    "adjusted": {"en": "Regression-adjusted on", "ko": "회귀 보정 변수"},
    "vs": {"en": "vs", "ko": "대"},
    "item": {"en": "Item", "ko": "항목"}, "detail": {"en": "Value", "ko": "값"},
}


_md = i18n.md_escape


def _arm(a, lang, spec=None) -> str:
    """An arm label as Markdown text (the spec's ``arm_labels``, the holdout by its name)."""
    return _md(narration.arm_label(a, lang, spec))


def _arm_text(ev, a) -> str:
    """An arm label as plain text for a table cell (escaped where the table is shown)."""
    return narration.arm_label(a, ev.lang, getattr(ev, "spec", None))


def _c(key, lang):
    return _COLS[key][lang]


def _level(ev: CampaignEvaluation, primary: bool = False) -> str:
    return narration.level_text(ev.primary_alpha if primary else ev.arm_alpha)


def _fmt_for(metric: str, currency: str, lang: str = "en"):
    """(value formatter, difference formatter) of ``metric``; differences are written by
    :func:`crmlab.i18n.difference`, as on the portfolio."""
    def diff(v):
        return i18n.difference(metric, v, currency, lang)
    if i18n.is_share(metric):
        return (lambda v: i18n.pct(v, 2)), diff
    if metric in i18n.MONEY_METRICS:
        return (lambda v: i18n.money(v, currency)), diff
    return (lambda v: i18n.num(v, 3)), diff


def _sentence_fmt(metric: str, currency: str, lang: str = "en"):
    """(value formatter, difference formatter) of ``metric`` in a sentence: as in the tables,
    except that money reads as the report's language writes it (``1,134원``, ``473만 원`` in
    Korean, as the verdict's reasons do)."""
    if metric in i18n.MONEY_METRICS:
        return (lambda v: i18n.money(v, currency, lang=lang),
                lambda v: i18n.money(v, currency, signed=True, lang=lang))
    return _fmt_for(metric, currency, lang)


def _metric_name(metric, lang):
    key = f"metric.{metric}"
    return i18n.t(key, lang) if key in i18n.TEXTS else metric


def _metric_md(metric, lang):
    return _md(_metric_name(metric, lang))


def _p(p):
    if p is None or not np.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


# --------------------------------------------------------------------------- sections
def header(ev: CampaignEvaluation) -> str:
    """Title, the exploratory banner (first line when the evaluation is exploratory) and the
    one-paragraph description of the campaign and its audience."""
    lang = ev.lang
    c = ev.campaign
    lines = []
    if ev.exploratory:
        lines.append("> **" + i18n.t("report.exploratory_banner", lang,
                                     reason=_md(ev.exploratory_reason or "—"),
                                     days=f"{ev.horizon_days:g}") + "**\n")
    lines.append("# " + i18n.t("report.title", lang, title=_md(ev.title)))
    count = "{n:,}명({share})" if lang == "ko" else "{n:,} ({share})"
    arms = ", ".join(f"{_arm(a, lang, ev.spec)} "
                     + count.format(n=int(n), share=i18n.pct(s, 1))
                     for a, n, s in zip(ev.audience["arm"], ev.audience["n"],
                                        ev.audience["share"]))
    lines.append(i18n.t("report.intro", lang,
                        scenario=_md(_SCENARIO.get(c.scenario, {}).get(lang, c.scenario)),
                        channel=_md(narration.labels.channel_label(c.channel, lang)),
                        period=period_text(c.start_ts, c.end_ts, lang),
                        n=int(ev.audience["n"].sum()), arms=arms))
    return "\n\n".join(lines)


def period_text(start, end, lang: str) -> str:
    """A campaign's period by date: ``2026-05-01 to 2026-05-07`` (``~`` in Korean), or the
    single date of a campaign that starts and ends on the same day (or has no end)."""
    s = pd.Timestamp(start).date().isoformat()
    e = pd.Timestamp(end).date().isoformat() if end is not None and not pd.isna(end) else s
    return s if e == s else i18n.t("report.period", lang, start=s, end=e)


def verdict(ev: CampaignEvaluation) -> str:
    """The verdict headline and its reasons as a bulleted list."""
    v = ev.verdict
    return (f"## {i18n.t('report.h.verdict', ev.lang)}\n\n**{_md(v.headline)}**\n\n"
            + "\n".join(f"- {_md(r)}" for r in v.reasons))


def integrity(ev: CampaignEvaluation) -> str:
    """Whether the experiment can be trusted: SRM, balance, consent and night-time sends."""
    lang, g = ev.lang, ev.integrity
    parts = [
        i18n.t("integrity.srm_bad" if g["srm_flag"] else "integrity.srm_ok", lang,
               p=_p(g["srm_p_value"]), alpha=f"{SRM_ALPHA:g}"),
        i18n.t("integrity.balance_bad" if g.get("balance_flag") else "integrity.balance_ok",
               lang, smd=i18n.num(g["balance_max_smd"], 3)),
        i18n.t("integrity.compliance", lang, consent=f"{g['consent_violations']:,}",
               night=f"{g['night_sends_without_consent']:,}"),
    ]
    problems = []
    if g["srm_flag"]:
        problems.append(i18n.t("problem.srm", lang, p=_p(g["srm_p_value"])))
    if g.get("balance_flag"):
        problems.append(i18n.t("problem.smd", lang, smd=f"{g['balance_max_smd']:.3f}"))
    if g["consent_violations"]:
        problems.append(i18n.t("problem.consent", lang, n=f"{g['consent_violations']:,}"))
    if g["night_sends_without_consent"]:
        problems.append(i18n.t("problem.night", lang,
                               n=f"{g['night_sends_without_consent']:,}"))
    out = f"## {i18n.t('report.h.integrity', lang)}\n\n" + " ".join(parts)
    if problems:
        out += "\n\n" + i18n.t("report.integrity_bad", lang, problems="; ".join(problems))
    return out


def audience_table(ev: CampaignEvaluation) -> pd.DataFrame:
    lang = ev.lang
    a = ev.audience
    return pd.DataFrame({
        _c("arm", lang): [_arm_text(ev, x) for x in a["arm"]],
        _c("n", lang): [f"{int(n):,}" for n in a["n"]],
        _c("share", lang): [i18n.pct(s, 1) for s in a["share"]],
        _c("expected_share", lang): [i18n.pct(s, 1) for s in a["expected_share"]],
    })


def balance_table(ev: CampaignEvaluation) -> pd.DataFrame:
    lang = ev.lang
    b = ev.balance
    return pd.DataFrame({_c("covariate", lang): [narration.covariate_label(c, lang)
                                                 for c in b["covariate"]],
                         _c("arm", lang): [narration.arm_label(a, lang, ev.spec)
                                           for a in b["arm"]],
                         _c("smd", lang): [i18n.num(v, 3, True) for v in b["smd"]]})


def _covariates_text(covs, lang) -> str:
    """``pre_revenue, pre_orders`` as the words of the report (``—`` when not adjusted)."""
    if not isinstance(covs, str) or not covs:
        return "—"
    return ", ".join(narration.covariate_label(c.strip(), lang) for c in covs.split(","))


def _lift_table(ev, frame: pd.DataFrame, n_primary: int = 0) -> pd.DataFrame:
    """Arm vs holdout per metric; a column names the covariates a regression-adjusted
    difference was adjusted on (when any row was)."""
    lang = ev.lang
    adjusted = ("covariates" in frame
                and frame["covariates"].map(lambda v: isinstance(v, str) and bool(v)).any())
    rows = []
    for i, (_, r) in enumerate(frame.iterrows()):
        own = _level(ev, primary=True) if i < n_primary else _level(ev)
        note = f" ({own})" if own != _level(ev) else ""
        fv, fd = _fmt_for(r["metric"], ev.currency, ev.lang)
        rows.append({
            _c("metric", lang): _metric_name(r["metric"], lang),
            _c("arm", lang): _arm_text(ev, r["arm"]),
            _c("n", lang): f"{int(r['n']):,}", _c("value", lang): fv(r["value"]),
            _c("control_value", lang): fv(r["control_value"]),
            _c("abs_lift", lang): fd(r["abs_lift"]),
            f"{_level(ev)} {_c('ci', lang)}": f"{fd(r['ci_low'])} ~ {fd(r['ci_high'])}{note}",
            _c("p_value", lang): _p(r["p_value"]),
            **({_c("adjusted", lang): _covariates_text(r.get("covariates"), lang)}
               if adjusted else {}),
        })
    return pd.DataFrame(rows)


def short_term(ev: CampaignEvaluation) -> str:
    """The short-term effect in sentences, one per treatment arm and metric."""
    from crmlab.campaign.narration import adjustment_text

    lang = ev.lang
    out = [f"## {i18n.t('report.h.short', lang)}"]
    for i, (_, r) in enumerate(pd.concat([ev.primary, ev.secondary]).iterrows()):
        fv, fd = _sentence_fmt(r["metric"], ev.currency, ev.lang)
        level = _level(ev, primary=i < len(ev.primary))
        out.append("- " + i18n.t("report.short_sentence", lang,
                                 arm=_arm(r["arm"], lang, ev.spec),
                                 metric=_metric_md(r["metric"], lang), value=fv(r["value"]),
                                 control=fv(r["control_value"]), days=f"{ev.window_days:g}",
                                 lift=fd(r["abs_lift"]),
                                 ci=i18n.t("ci", lang, level=level, lo=fd(r["ci_low"]),
                                           hi=fd(r["ci_high"]))))
        adj = adjustment_text(r, lang, fd)
        if adj:
            out[-1] += adj
    return "\n".join(out)


def short_term_table(ev: CampaignEvaluation) -> pd.DataFrame:
    return _lift_table(ev, pd.concat([ev.primary, ev.secondary], ignore_index=True),
                       n_primary=len(ev.primary))


def long_term(ev: CampaignEvaluation) -> str:
    """The long-term effect in sentences: LTV lift and the page's endpoint (churn or
    reactivation), one definition for the whole page."""
    from crmlab.campaign import narration

    lang = ev.lang
    out = [f"## {i18n.t('report.h.long', lang, days=f'{ev.horizon_days:g}')}"]
    m = lambda v: i18n.money(v, ev.currency, lang=lang)  # noqa: E731
    ms = lambda v: i18n.money(v, ev.currency, True, lang=lang)  # noqa: E731
    for _, r in ev.long_term.iterrows():
        out.append("- " + narration.t(
            f"long.{ev.endpoint}", lang, arm=_arm(r["arm"], lang, ev.spec),
            days=f"{ev.horizon_days:g}",
            value=m(r["ltv_treatment"]), control=m(r["ltv_control"]), lift=ms(r["ltv_lift"]),
            ci=i18n.t("ci", lang, level=_level(ev), lo=ms(r["ltv_ci_low"]),
                      hi=ms(r["ltv_ci_high"])), C=f"{ev.churn_after_days:g}",
            e90=i18n.pct(r["event_90"]), c90=i18n.pct(r["event_90_control"]),
            e180=i18n.pct(r["event_180"]), c180=i18n.pct(r["event_180_control"]),
            hr=i18n.num(r["hazard_ratio"], 2),
            hrci=i18n.t("ci", lang, level=_level(ev), lo=i18n.num(r["hr_ci_low"], 2),
                        hi=i18n.num(r["hr_ci_high"], 2))))
        adj = narration.adjustment_text({"covariates": r.get("ltv_covariates"),
                                         "unadjusted_abs_lift": r.get("ltv_unadjusted_lift")},
                                        lang, ms)
        if adj:
            out[-1] += adj
    return "\n".join(out)


def long_term_table(ev: CampaignEvaluation) -> pd.DataFrame:
    from crmlab.campaign import narration

    lang = ev.lang
    event = narration.t(f"event.{ev.endpoint}", lang)
    rows = []
    for _, r in ev.long_term.iterrows():
        rows.append({
            _c("arm", lang): _arm_text(ev, r["arm"]),
            narration.t(f"col.hr.{ev.endpoint}", lang):
                f"{i18n.num(r['hazard_ratio'], 2)} ({i18n.num(r['hr_ci_low'], 2)} ~ "
                f"{i18n.num(r['hr_ci_high'], 2)})",
            _c("logrank", lang): _p(r["logrank_p"]),
            narration.t(f"col.rmst.{ev.endpoint}", lang): f"{i18n.num(r['rmst_diff_days'], 1, True)} "
                              f"({i18n.num(r['rmst_ci_low'], 1, True)} ~ "
                              f"{i18n.num(r['rmst_ci_high'], 1, True)})",
            narration.t("col.event_90", lang, event=event):
                f"{i18n.pct(r['event_90'])} {_c('vs', lang)} {i18n.pct(r['event_90_control'])}",
            narration.t("col.event_180", lang, event=event):
                f"{i18n.pct(r['event_180'])} {_c('vs', lang)} "
                f"{i18n.pct(r['event_180_control'])}",
        })
    return pd.DataFrame(rows)


def long_term_rates_table(ev: CampaignEvaluation) -> pd.DataFrame:
    """Repurchase and the page's endpoint by day 90/180 (churned, or reactivated and still
    active) by arm vs the holdout."""
    return _lift_table(ev, ev.long_term_rates)


def guardrails(ev: CampaignEvaluation) -> str:
    lang = ev.lang
    return f"## {i18n.t('report.h.guardrails', lang)}\n\n{i18n.t('report.guard_note', lang)}"


def guardrails_table(ev: CampaignEvaluation) -> pd.DataFrame:
    from crmlab.campaign.narration import state_text

    lang = ev.lang
    t = _lift_table(ev, ev.guardrails)
    if len(t):
        t[_c("threshold", lang)] = [i18n.pp(v, lang=lang) for v in ev.guardrails["threshold"]]
        t[_c("state", lang)] = [state_text(st, lang) for st in ev.guardrails["state"]]
    return t


def fatigue_table(ev: CampaignEvaluation) -> pd.DataFrame:
    """Unsubscribe effect and block rate by message fatigue (sends from every campaign in the
    30 days before assignment) and arm."""
    lang = ev.lang
    rows = []
    for _, r in ev.fatigue.iterrows():
        rows.append({
            _c("fatigue", lang): narration.level_label(r["fatigue"], lang),
            _c("arm", lang): _arm_text(ev, r["arm"]),
            _c("n", lang): f"{int(r['n']):,}",
            _c("unsub", lang): f"{i18n.pct(r['unsubscribe_rate'], 2)} {_c('vs', lang)} "
                               f"{i18n.pct(r['unsubscribe_rate_control'], 2)}",
            _c("abs_lift", lang): f"{i18n.pp(r['unsubscribe_lift'], lang=lang)} "
                                  f"({i18n.pp(r['unsubscribe_ci_low'], lang=lang)} ~ "
                                  f"{i18n.pp(r['unsubscribe_ci_high'], lang=lang)})",
            _c("block", lang): i18n.pct(r["block_rate"], 2),
        })
    return pd.DataFrame(rows)


def funnel_table(ev: CampaignEvaluation) -> pd.DataFrame:
    lang = ev.lang
    f = ev.funnel.pivot(index="step", columns="arm", values="customers")
    order = ["assigned", "sent", "delivered", "opened", "clicked", "purchased"]
    f = f.reindex(order).fillna(0).astype(int).map(lambda v: f"{v:,}")
    untracked = {"sms": ("opened",), "lms": ("opened",), "push": ("opened",),
                 "app_push": ("opened",)}.get(str(ev.campaign.channel), ())
    for step in untracked:  # the channel does not report opens: not 0, nor = clicks
        f.loc[step] = {"en": "not tracked", "ko": "추적 안 함"}[lang]
    f.columns = [narration.arm_label(a, lang, ev.spec) for a in f.columns]
    f.index = [narration.step_label(s, lang) for s in f.index]
    f.index.name = _c("step", lang)
    return f.reset_index()


def economics(ev: CampaignEvaluation) -> str:
    from crmlab.campaign.narration import economics_lines

    lang = ev.lang
    econ = ev.economics.assign(  # arm labels come from the spec or the data: escaped
        arm=ev.economics["arm"].map(lambda a: _arm(a, lang, ev.spec)))
    lines = economics_lines(econ, lang=lang, currency=ev.currency, alpha=ev.arm_alpha,
                            horizon_days=ev.horizon_days,
                            min_p=ev.spec.get("decision_rule", {}).get(
                                "min_p_profitable", DecisionRule.min_p_profitable))
    for _, r in ev.economics.iterrows():
        covs = r.get("adjusted_for")
        if isinstance(covs, str) and covs:
            lines.append(narration.profit_adjustment_text(
                covs, _arm(r["arm"], lang, ev.spec), lang,
                i18n.money(r["unadjusted_profit"], ev.currency, True, lang=lang)))
    return "\n".join([f"## {i18n.t('report.h.economics', lang)}"] + ["- " + x for x in lines])


def economics_table(ev: CampaignEvaluation) -> pd.DataFrame:
    from crmlab.campaign.narration import ratio_text

    lang = ev.lang
    m = lambda v: i18n.money(v, ev.currency)  # noqa: E731
    s = lambda v: i18n.money(v, ev.currency, True)  # noqa: E731
    rows = []
    for _, r in ev.economics.iterrows():
        rows.append({
            _c("arm", lang): _arm_text(ev, r["arm"]), _c("sends", lang): f"{int(r['sends']):,}",
            _c("send_cost", lang): m(r["send_cost"]), _c("coupon_cost", lang): m(r["coupon_cost"]),
            _c("cost", lang): m(r["total_cost"]),
            _c("inc_rev", lang): f"{s(r['incremental_revenue'])} "
                                 f"({s(r['incremental_revenue_ci_low'])}"
                                 f" ~ {s(r['incremental_revenue_ci_high'])})",
            _c("inc_margin", lang): s(r["incremental_margin"]),
            _c("profit", lang): f"{s(r['incremental_profit'])} ({s(r['profit_ci_low'])}"
                                f" ~ {s(r['profit_ci_high'])})",
            _c("p_profit", lang): i18n.prob(r["p_profitable"]),
            _c("break_even", lang): m(r["break_even_lift"]),
            _c("roi", lang): ratio_text(r, lang, "roi"),
            _c("iroas", lang): ratio_text(r, lang, "iroas"),
            _c("cpic", lang): m(r["cost_per_incremental_conversion"]),
        })
    return pd.DataFrame(rows)


def segments(ev: CampaignEvaluation) -> str:
    lang = ev.lang
    out = [f"## {i18n.t('report.h.segments', lang)}", i18n.t("report.target_intro", lang)]
    if len(ev.targeting) == 0 or not (ev.targeting["recommendation"] != "unclear").any():
        out.append(i18n.t("report.segments_none", lang))
    return "\n\n".join(out)


def targeting_table(ev: CampaignEvaluation, top: int = 15) -> pd.DataFrame:
    lang = ev.lang
    t = ev.targeting.head(top)
    return pd.DataFrame({
        _c("segment", lang): [narration.segment_label(x, lang) for x in t["segment"]],
        _c("level", lang): [narration.level_label(x, lang) for x in t["level"]],
        _c("arm", lang): [_arm_text(ev, x) for x in t["arm"]],
        _c("n", lang): [f"{int(v):,}" for v in t["n"]],
        _c("ltv_lift", lang): [f"{i18n.money(v, ev.currency, True)} "
                               f"({i18n.money(lo, ev.currency, True)} ~ "
                               f"{i18n.money(hi, ev.currency, True)})"
                               for v, lo, hi in zip(t["ltv_lift"], t["ltv_ci_low"],
                                                    t["ltv_ci_high"])],
        _c("net", lang): [i18n.money(v, ev.currency, True) for v in t["net_value_per_customer"]],
        _c("p_bh", lang): [_p(v) for v in t["ltv_p_bh"]],
        _c("rec", lang): [i18n.t(f"target.{r}", lang) for r in t["recommendation"]],
    })


def data_quality(ev: CampaignEvaluation) -> str:
    lang = ev.lang
    q = ev.data_quality
    flagged = q[q["rows"].fillna(0) > 0] if len(q) else q
    intro = (i18n.t("report.quality_intro", lang) if len(flagged) or len(ev.exclusions)
             else i18n.t("report.quality_clean", lang))
    out = f"## {i18n.t('report.h.quality', lang)}"
    if ev.notes:  # the notes first: the intro ends by introducing the table that follows
        label = lambda a: _arm_text(ev, a)  # noqa: E731
        out += ("\n\n" + i18n.t("report.notes_intro", lang) + "\n\n"
                + "\n".join(f"- {_md(narration.note_text(n, lang, label))}"
                             for n in ev.notes))
    return out + f"\n\n{intro}"


def data_quality_table(ev: CampaignEvaluation) -> pd.DataFrame:
    """The loader's checks (counted over the whole data set, not only the campaign's audience)
    and the rows this campaign's evaluation left out, each row saying which it is."""
    lang = ev.lang
    q = ev.data_quality
    q = q[q["rows"].fillna(0) > 0] if len(q) else q
    t = pd.DataFrame({_c("table", lang): [narration.labels.table_label(x, lang)
                                          for x in q["table"]],
                      _c("check", lang): [narration.check_label(x, lang) for x in q["check"]],
                      _c("rows", lang): [f"{int(v):,}" for v in q["rows"]],
                      _c("scope", lang): narration.t("scope.data", lang),
                      _c("action", lang): [narration.labels.action_label(x, lang)
                                           for x in q["action"]]})
    if len(ev.exclusions):
        t = pd.concat([t, pd.DataFrame({
            _c("table", lang): narration.labels.table_label("assignments", lang),
            _c("check", lang): [narration.exclusion_text(c, d, lang) for c, d in
                                zip(ev.exclusions["code"], ev.exclusions["days"])],
            _c("rows", lang): [f"{int(v):,}" for v in ev.exclusions["rows"]],
            _c("scope", lang): narration.t("scope.campaign", lang),
            _c("action", lang): narration.t("excl.action", lang)})],
            ignore_index=True)
    return t


def footer(ev: CampaignEvaluation, provenance: dict | None = None) -> str:
    """The provenance section's heading; :func:`provenance_table` holds the details."""
    return f"---\n\n## {i18n.t('report.h.provenance', ev.lang)}"


_PROV = {
    "crmlab_version": {"en": "crmlab version", "ko": "crmlab 버전"},
    "git_commit": {"en": "Git commit", "ko": "Git 커밋"},
    "data_fingerprint": {"en": "Data fingerprint", "ko": "데이터 지문"},
    "data_source": {"en": "Data", "ko": "데이터 위치"},
    "seed": {"en": "Seed", "ko": "시드"},
    "spec_hash": {"en": "Spec hash", "ko": "명세 해시"},
    "started_at": {"en": "Started", "ko": "시작 시각"},
    "finished_at": {"en": "Finished", "ko": "종료 시각"},
    "parameter": {"en": "Spec", "ko": "명세"},
    "dirty": {"en": "(+local changes)", "ko": "(커밋 안 된 변경 있음)"},
}


def _prov_value(v) -> str:
    """A provenance value as one line of text: mappings as ``key: value, ...``, lists joined."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_prov_value(x)}" for k, x in v.items()) or "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(_prov_value(x) for x in v) or "—"
    return str(v)


def provenance_table(ev: CampaignEvaluation, provenance: dict | None) -> pd.DataFrame:
    """Provenance as a two-column table: code version and commit, data fingerprint and
    source, seed, spec hash, start (and finish, when known: a report is written while its run is
    still going, so its finish is in ``results.json``), then one row per spec parameter (its YAML key,
    its value as written). Texts are kept as they are: show the table escaped
    (:func:`crmlab.reporting.sanitize.safe_table`)."""
    lang = ev.lang
    p = dict(provenance or {})
    L = lambda key: _PROV[key][lang]  # noqa: E731
    commit = str(p.get("git_commit") or "—")[:12]
    if p.get("git_dirty"):
        commit += " " + L("dirty")
    rows = [(L("crmlab_version"), _prov_value(p.get("crmlab_version"))),
            (L("git_commit"), commit),
            (L("data_fingerprint"), str(p.get("data_fingerprint") or "—")[:16])]
    if p.get("data_source"):
        rows.append((L("data_source"), _prov_value(p["data_source"])))
    rows.append((L("seed"), _prov_value(p.get("seed", ev.spec.get("seed")))))
    if p.get("spec_hash"):
        rows.append((L("spec_hash"), str(p["spec_hash"])[:16]))
    rows.append((L("started_at"), _prov_value(p.get("started_at"))))
    if p.get("finished_at"):  # the page is written before its run ends: results.json has it
        rows.append((L("finished_at"), _prov_value(p["finished_at"])))
    params = p.get("parameters")
    if isinstance(params, dict):
        rows += [(f"{L('parameter')} · {k}", _prov_value(v)) for k, v in params.items()]
    elif params is not None:
        rows.append((L("parameter"), _prov_value(params)))
    return pd.DataFrame(rows, columns=[_c("item", lang), _c("detail", lang)])


def write_results(ev: CampaignEvaluation, path, provenance: dict | None = None) -> Path:
    """Write ``ev.to_results(provenance)`` to ``path`` atomically (temporary file, then rename).
    ``audience.arm_labels`` holds every arm's label in the report's language (the spec's
    ``arm_labels``, the holdout's name). The verdict's headline and reasons are written by
    :func:`crmlab.campaign.narration.narrate` in the evaluation's language
    (``verdict.reasons`` human-readable, the decisive one first;
    ``verdict.findings`` the same as codes and numbers).

    Examples
    --------
    >>> write_results(ev, "reports/winback/results.json", {"seed": 0})   # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not getattr(ev.verdict, "reasons", None):
        narration.narrate(ev)
    res = ev.to_results(provenance)
    res["audience"]["arm_labels"] = {  # every arm's label in the report's language
        str(a): narration.arm_label(a, ev.lang, ev.spec) for a in ev.audience["arm"]}
    text = json.dumps(res, ensure_ascii=False, indent=2, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def km_caption(ev: CampaignEvaluation) -> str:
    from crmlab.campaign import narration

    return "*" + narration.t(f"km.{ev.endpoint}", ev.lang, C=f"{ev.churn_after_days:g}") + "*"


def cumulative_caption(ev: CampaignEvaluation) -> str:
    return "*" + i18n.t("report.cum_caption", ev.lang) + "*"


def funnel_caption(ev: CampaignEvaluation) -> str:
    return "*" + i18n.t("report.funnel_caption", ev.lang) + "*"


# --------------------------------------------------------------------------- the first screen
_KEY = {
    "audience": {"en": "Audience", "ko": "대상 고객"},
    "cost": {"en": "Cost", "ko": "비용"},
    "profit": {"en": "Incremental profit", "ko": "증분 이익"},
    "p": {"en": "probability of a profit", "ko": "이익일 확률"},
    "long.churn": {"en": "Churned by day 180", "ko": "180일 내 이탈"},
    "long.reactivation": {"en": "Reactivated by day 180", "ko": "180일 내 재활성"},
    "guard": {"en": "Guardrails", "ko": "가드레일"},
    "compliance": {"en": "Compliance", "ko": "수신동의 준수"},
    "no_consent": {"en": "sends without consent", "ko": "동의 없는 발송"},
    "night": {"en": "night sends without night consent", "ko": "야간 동의 없는 야간 발송"},
    "basis.events": {"en": "judged at send time", "ko": "발송 시점 기준"},
    "basis.current_flags": {"en": "judged by today's flags", "ko": "현재 동의 상태 기준"},
    "basis.none": {"en": "not checked", "ko": "확인 불가"},
    "vs": {"en": "vs holdout", "ko": "대조군"},
}


def _k(key, lang):
    return _KEY[key][lang]


def verdict_banner_html(ev: CampaignEvaluation) -> str:
    """The verdict as one coloured sentence: ``<div class="crmlab-verdict <decision>">`` (the
    page's style sheet colours it, :mod:`crmlab.reporting.html`); every text escaped."""
    import html as _html
    v = ev.verdict
    if not v.headline:
        narration.narrate(ev)
    # the headline's first sentence ("Verdict: SHIP coupon." / "결론: 판단 보류.") is the label,
    # so the decision word is said once
    first, sep, rest = v.headline.partition(". ")
    label, body = (first + ".", rest) if sep else (i18n.t("decision." + v.decision, ev.lang),
                                                    v.headline)
    return (f'<div class="crmlab-verdict {_html.escape(v.decision)}">'
            f'<span class="crmlab-verdict-label">{_html.escape(label)}</span> '
            f'{_html.escape(body)}</div>')


def key_numbers_html(ev: CampaignEvaluation) -> str:
    """The key-numbers strip: audience, cost, incremental profit with its interval and
    probability, the six-month endpoint change, guardrails and compliance (with its basis)."""
    import html as _html
    lang, e = ev.lang, ev.economics
    money = lambda v: i18n.money(v, ev.currency, lang=lang)  # noqa: E731
    smoney = lambda v: i18n.money(v, ev.currency, signed=True, lang=lang)  # noqa: E731
    items = [(_k("audience", lang), f"{int(ev.audience['n'].sum()):,}")]
    if len(e):
        items.append((_k("cost", lang), money(float(e["total_cost"].sum()))))
    for _, r in e.iterrows():
        a = narration.arm_label(r["arm"], lang, ev.spec)
        items.append((f"{_k('profit', lang)} · {a}",
                      f"{smoney(r['incremental_profit'])} ({smoney(r['profit_ci_low'])} ~ "
                      f"{smoney(r['profit_ci_high'])}) · {_k('p', lang)} "
                      f"{i18n.prob(r['p_profitable'])}"))
    for _, r in ev.long_term.iterrows():
        a = narration.arm_label(r["arm"], lang, ev.spec)
        items.append((f"{_k('long.' + ev.endpoint, lang)} · {a}",
                      f"{i18n.pct(r['event_180'])} ({_k('vs', lang)} "
                      f"{i18n.pct(r['event_180_control'])})"))
    states = [narration.state_text(s, lang) for s in ev.guardrails.get("state", [])]
    if states:
        worst = next((s for s in ("breached", "not settled", "not judged", "within")
                      if s in set(ev.guardrails["state"])), "within")
        items.append((_k("guard", lang), narration.state_text(worst, lang)))
    g = ev.integrity
    basis = g.get("consent_basis", "none")
    items.append((_k("compliance", lang),
                  f"{_k('no_consent', lang)} {g['sends_without_consent']:,} · "
                  f"{_k('night', lang)} {g['night_sends_without_consent']:,} "
                  f"({_k('basis.' + basis, lang) if 'basis.' + basis in _KEY else basis})"))
    cells = "".join(f'<div class="crmlab-key"><span class="crmlab-key-label">'
                    f'{_html.escape(k)}</span><span class="crmlab-key-value">'
                    f'{_html.escape(v)}</span></div>' for k, v in items)
    return f'<div class="crmlab-keys">{cells}</div>'
