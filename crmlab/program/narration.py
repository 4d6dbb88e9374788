"""Words for the program page (English and Korean): labels, metric names and the sentences
that read the program's numbers. No numbers are computed here beyond formatting."""
from __future__ import annotations

import math

from crmlab.i18n import money, num, pp

__all__ = ["LABELS", "metric_name", "impact_lead", "fatigue_lines", "cap_line", "overlap_lines"]

LABELS = {
    "en": {
        "page_title": "CRM program", "portfolio": "Campaign portfolio",
        "lead": "What all CRM together adds, measured against the customers kept out of every "
                "message (the global holdout).",
        "impact": "Cumulative impact", "metric": "Metric", "months": "{m} months",
        "effect": "Effect per customer", "interval": "95% interval",
        "groups": "{n_crm:,} customers with CRM · {n_holdout:,} held out",
        "fatigue": "Message fatigue",
        "fatigue_lead": "Change in the probability of each outcome per extra advertising message "
                        "received in the previous days, estimated from the random arms of the "
                        "earlier campaigns.",
        "outcome": "Outcome", "window": "Window", "per_message": "Per extra message",
        "plain": "Plain comparison", "days": "{d} days",
        "cap": "Frequency cap", "cap_col": "Cap (messages per 30 days)", "no_cap": "no cap",
        "msgs": "Messages per customer", "profit": "Profit per customer (model)",
        "best_share": "Best in share of draws",
        "overlaps": "Overlapping campaigns",
        "overlap_lead": "Pairs of campaigns sent to the same customers within 30 days: does one "
                        "campaign work differently among the other's recipients?",
        "pair": "Campaigns", "in_b": "Effect among the other's recipients",
        "in_b0": "Effect among the other's holdout", "interaction": "Difference",
        "p_holm": "p (adjusted)", "flag": "Flag", "flagged": "interaction",
        "none": "none", "no_overlap": "No campaigns overlapped.",
        "monthly": "Month by month", "month": "Month", "cost": "CRM cost per customer",
        "inc_rev": "Incremental revenue", "inc_profit": "Incremental profit",
        "cum_profit": "Cumulative incremental profit",
        "fig_fatigue": "Fatigue curves (30-day window)", "fig_monthly":
            "Cumulative incremental profit per customer",
        "messages_axis": "Advertising messages in the previous 30 days",
        "rate_axis": "Probability per message", "month_axis": "Month since entry",
        "footer": "Generated {generated}. Intervals are 95%. Method and assumptions: "
                  "docs/program.md.",
        "unavailable": "Not available: {why}",
    },
    "ko": {
        "page_title": "CRM 프로그램 전체 성과", "portfolio": "캠페인 목록",
        "lead": "모든 메시지에서 제외된 고객(전체 대조군)과 비교한, CRM 전체가 더하는 성과입니다.",
        "impact": "누적 성과", "metric": "지표", "months": "{m}개월",
        "effect": "고객 1인당 효과", "interval": "95% 구간",
        "groups": "CRM 고객 {n_crm:,}명 · 대조군 {n_holdout:,}명",
        "fatigue": "메시지 피로도",
        "fatigue_lead": "직전 기간에 받은 광고 메시지가 1건 늘 때 각 결과의 확률 변화입니다. "
                        "앞선 캠페인의 무작위 배정으로 추정했습니다.",
        "outcome": "결과", "window": "기간", "per_message": "메시지 1건당",
        "plain": "단순 비교", "days": "{d}일",
        "cap": "발송 빈도 상한", "cap_col": "상한 (30일당 메시지 수)", "no_cap": "상한 없음",
        "msgs": "고객 1인당 메시지", "profit": "고객 1인당 이익 (모형)",
        "best_share": "최적으로 뽑힌 비율",
        "overlaps": "겹치는 캠페인",
        "overlap_lead": "30일 안에 같은 고객에게 발송된 캠페인 쌍: 한 캠페인의 효과가 다른 "
                        "캠페인 수신자에게서 달라지는지 확인합니다.",
        "pair": "캠페인", "in_b": "다른 캠페인 수신자에서의 효과",
        "in_b0": "다른 캠페인 대조군에서의 효과", "interaction": "차이",
        "p_holm": "보정된 유의확률", "flag": "표시", "flagged": "상호작용 있음",
        "none": "없음", "no_overlap": "겹치는 캠페인이 없습니다.",
        "monthly": "월별 성과", "month": "개월", "cost": "고객 1인당 CRM 비용",
        "inc_rev": "증분 매출", "inc_profit": "증분 이익", "cum_profit": "누적 증분 이익",
        "fig_fatigue": "피로도 곡선 (30일 기준)", "fig_monthly": "고객 1인당 누적 증분 이익",
        "messages_axis": "직전 30일 동안 받은 광고 메시지 수",
        "rate_axis": "메시지당 확률", "month_axis": "시작 후 개월",
        "footer": "생성 시각 {generated}. 구간은 95%입니다.",
        "unavailable": "계산할 수 없음: {why}",
    },
}

_METRICS = {
    "revenue_per_customer": ("Revenue per customer", "고객 1인당 매출"),
    "margin_per_customer": ("Margin per customer", "고객 1인당 마진"),
    "cost_per_customer": ("CRM cost per customer", "고객 1인당 CRM 비용"),
    "profit_per_customer": ("Profit per customer", "고객 1인당 이익"),
    "retention": ("Retention (bought in the last 90 days)", "유지율 (마지막 90일 내 구매)"),
    "churn_rate": ("Churn rate", "이탈률"),
    "churn_hazard_ratio": ("Churn hazard ratio", "이탈 위험비"),
    "messages_per_customer": ("Advertising messages per customer", "고객 1인당 광고 메시지"),
    "total_cost": ("Total CRM cost", "CRM 총비용"),
    "total_incremental_profit": ("Total incremental profit", "총 증분 이익"),
    "unsubscribe": ("Unsubscribe", "수신 거부"),
    "block": ("Block (consent withdrawn)", "차단 (동의 철회)"),
    "churn": ("Churn (no purchase in 90 days)", "이탈 (90일간 구매 없음)"),
    "conversion": ("Purchase within 7 days", "7일 내 구매"),
    "revenue": ("Revenue within 7 days", "7일 내 매출"),
}
MONEY = {"revenue_per_customer", "margin_per_customer", "cost_per_customer",
         "profit_per_customer", "total_cost", "total_incremental_profit", "revenue"}
SHARES = {"retention", "churn_rate", "unsubscribe", "block", "churn", "conversion"}


def metric_name(metric: str, lang: str = "en") -> str:
    en, ko = _METRICS.get(metric, (metric, metric))
    return ko if lang == "ko" else en


def fmt(metric: str, value, lang: str = "en", currency: str = "KRW") -> str:
    """A value of ``metric``: money, a difference of shares (pp), a ratio or a count."""
    if metric in MONEY:
        return money(value, currency, signed=True)
    if metric in SHARES:
        return pp(value, 2 if abs(float(value or 0)) < 0.01 else 1, lang)
    if metric == "churn_hazard_ratio":
        return num(value, 2)
    return num(value, 2, signed=True)


def impact_lead(imp, lang: str = "en", currency: str = "KRW") -> str:
    """One sentence: the program's profit per customer over the longest horizon."""
    e = imp.to_frame()
    p = e[e.metric == "profit_per_customer"].sort_values("horizon_days").iloc[-1]
    m = int(round(p.horizon_days / 30))
    sure = p.ci_low > 0 or p.ci_high < 0
    if lang == "ko":
        word = "" if sure else " (불확실: 구간이 0을 포함)"
        return (f"{m}개월 동안 CRM은 고객 1인당 이익을 {money(p.value, currency, True)} 바꿨습니다"
                f" (95% 구간 {money(p.ci_low, currency, True)} ~ "
                f"{money(p.ci_high, currency, True)}){word}.")
    word = "" if sure else " (uncertain: the interval includes zero)"
    return (f"Over {m} months CRM changed profit per customer by "
            f"{money(p.value, currency, True)} (95% interval {money(p.ci_low, currency, True)} "
            f"to {money(p.ci_high, currency, True)}){word}.")


def fatigue_lines(fat, lang: str = "en") -> list[str]:
    e = fat.to_frame()
    out = []
    for r in e[e.window_days == e.window_days.max()].itertuples():
        name = metric_name(r.outcome, lang)
        if lang == "ko":
            out.append(f"{name}: 메시지 1건당 {pp(r.per_message, 2, lang)} "
                       f"(95% 구간 {pp(r.ci_low, 2, lang)} ~ {pp(r.ci_high, 2, lang)}).")
        else:
            out.append(f"{name}: {pp(r.per_message, 2, lang)} per extra message "
                       f"(95% interval {pp(r.ci_low, 2, lang)} to {pp(r.ci_high, 2, lang)}).")
    return out


def cap_line(cap, lang: str = "en") -> str:
    lo, hi = cap.cap_interval
    rng = lambda v: ("∞" if math.isinf(v) else f"{v:.0f}")  # noqa: E731
    if cap.best_cap is None:
        return ("상한을 두지 않는 것이 6개월 이익이 가장 큽니다" if lang == "ko"
                else "No cap gives the highest six-month profit") + \
            (f" (불확실성 범위 {rng(lo)}–{rng(hi)}건)." if lang == "ko"
             else f" (range over the uncertainty: {rng(lo)}–{rng(hi)} messages).")
    if lang == "ko":
        return (f"권장 상한: 30일당 광고 메시지 {cap.best_cap}건 "
                f"(불확실성 범위 {rng(lo)}–{rng(hi)}건).")
    return (f"Recommended cap: {cap.best_cap} advertising messages per 30 days "
            f"(range over the uncertainty: {rng(lo)}–{rng(hi)}).")


def overlap_lines(ov, names: dict, lang: str = "en") -> list[str]:
    f = ov.flagged()
    out = []
    for r in f.itertuples():
        a, b = names.get(r.campaign_a, r.campaign_a), names.get(r.campaign_b, r.campaign_b)
        if lang == "ko":
            out.append(f"'{a}'의 효과가 '{b}' 수신자에게서 다릅니다 "
                       f"({metric_name(r.outcome, lang)}, 보정된 유의확률 {r.p_holm:.3f}).")
        else:
            out.append(f"'{a}' works differently among the recipients of '{b}' "
                       f"({metric_name(r.outcome, lang).lower()}, adjusted p = {r.p_holm:.3f}).")
    return out
