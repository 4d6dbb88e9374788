"""The verdict's sentences (English and Korean) from the numbers of the evaluation.

Every sentence that states a direction ("rose", "pays", "loses money") is chosen only when the
interval behind it excludes zero (:mod:`crmlab.campaign.decision`); otherwise the sentence says
that the data cannot tell yet, and what would settle it.
"""
from __future__ import annotations

import numpy as np

from crmlab import i18n

TEXT = {
    "primary.up": {"en": "{arm}: {metric} rose by {lift} ({ci}).",
                   "ko": "{arm}: {metric}이(가) {lift} 올랐습니다 ({ci})."},
    "primary.down": {"en": "{arm}: {metric} fell by {lift} ({ci}).",
                     "ko": "{arm}: {metric}이(가) {lift} 내렸습니다 ({ci})."},
    "primary.unclear": {
        "en": "{arm}: the data cannot tell yet whether {metric} moved (observed {lift}, {ci}).",
        "ko": "{arm}: {metric}이(가) 움직였는지 아직 알 수 없습니다 (관측 {lift}, {ci})."},
    "settle.mde": {
        "en": "This test detects a change of {mde} or more with 80% power.",
        "ko": "이 실험은 {mde} 이상의 변화를 80% 검정력으로 검출합니다."},
    "settle.share": {
        "en": "To detect the observed {lift}: {n_c} customers in the holdout and {n_t} in the "
              "arm, e.g. a {share} holdout of this audience.",
        "ko": "관측된 {lift}을(를) 검출하려면 홀드아웃 {n_c}명, 처치군 {n_t}명이 필요합니다 "
              "(예: 이 대상의 {share} 홀드아웃)."},
    "settle.audience": {
        "en": "To detect the observed {lift}: {n_c} customers in the holdout and {n_t} in the "
              "arm ({total} in all at this split; this audience is too small for it).",
        "ko": "관측된 {lift}을(를) 검출하려면 홀드아웃 {n_c}명, 처치군 {n_t}명이 필요합니다 "
              "(이 비율로 총 {total}명; 현재 대상으로는 부족합니다)."},
    "settle.no_gain": {
        "en": "The observed effect is not a gain, so no larger test of this size ratio would "
              "be expected to show one.",
        "ko": "관측된 효과가 증가가 아니므로, 더 큰 실험으로도 증가를 보일 것으로 기대할 수 "
              "없습니다."},
    "ltv.up": {"en": "{arm}: revenue per customer over {days} days rose by {lift} ({ci}).",
               "ko": "{arm}: {days}일 고객당 매출이 {lift} 늘었습니다 ({ci})."},
    "ltv.down": {"en": "{arm}: revenue per customer over {days} days fell by {lift} ({ci}).",
                 "ko": "{arm}: {days}일 고객당 매출이 {lift} 줄었습니다 ({ci})."},
    "ltv.unclear": {
        "en": "{arm}: the data cannot tell yet whether revenue per customer over {days} days "
              "moved (observed {lift}, {ci}).",
        "ko": "{arm}: {days}일 고객당 매출이 움직였는지 아직 알 수 없습니다 (관측 {lift}, "
              "{ci})."},
    "profit.pays": {
        "en": "{arm}: the campaign pays — incremental profit {profit} ({ci}); probability of "
              "a profit {p}.",
        "ko": "{arm}: 캠페인이 이익을 냅니다 — 증분 이익 {profit} ({ci}); 이익일 확률 {p}."},
    "profit.likely": {
        "en": "{arm}: the data cannot tell yet whether the campaign pays — incremental profit "
              "{profit} ({ci}); probability of a profit {p}, which meets the {min} the "
              "decision rule asks.",
        "ko": "{arm}: 캠페인이 이익을 내는지 아직 알 수 없습니다 — 증분 이익 {profit} ({ci}); "
              "이익일 확률 {p}로 결정 기준 {min}은 충족합니다."},
    "profit.loses": {
        "en": "{arm}: the campaign loses money — incremental profit {profit} ({ci}).",
        "ko": "{arm}: 캠페인이 손실을 냅니다 — 증분 이익 {profit} ({ci})."},
    "profit.unclear": {
        "en": "{arm}: the data cannot tell yet whether the campaign pays — incremental profit "
              "{profit} ({ci}); probability of a profit {p} (shipping needs {min}).",
        "ko": "{arm}: 캠페인이 이익을 내는지 아직 알 수 없습니다 — 증분 이익 {profit} ({ci}); "
              "이익일 확률 {p} (출시 기준 {min})."},
    "profit.costs": {
        "en": "{arm}: costs {total} = {send} for {sends} sends + {coupon} in redeemed coupons; "
              "break-even at {be} of extra revenue per customer over {days} days.",
        "ko": "{arm}: 비용 {total} = 발송 {sends}건 {send} + 사용된 쿠폰 {coupon}; 손익분기는 "
              "{days}일 고객당 추가 매출 {be}."},
    "guard.within": {
        "en": "{arm}: {metric} within its limit ({lift}, {ci}; allowance {thr}).",
        "ko": "{arm}: {metric} 허용 범위 이내 ({lift}, {ci}; 허용치 {thr})."},
    "guard.breached": {
        "en": "{arm}: {metric} breached its limit ({lift}, {ci}; allowance {thr}).",
        "ko": "{arm}: {metric}이(가) 허용치를 넘었습니다 ({lift}, {ci}; 허용치 {thr})."},
    "guard.decision_ok": {
        "en": "{arm}: {metric} is within its allowance with at least {min} probability "
              "(bound {upper}), which the decision rule asks.",
        "ko": "{arm}: {metric}이(가) {min} 이상의 확률로 허용 범위 이내입니다(상한 {upper}); "
              "결정 기준을 충족합니다."},
    "guard.not settled": {
        "en": "{arm}: the data cannot tell yet whether {metric} stays within its limit "
              "({lift}, {ci}; allowance {thr}).",
        "ko": "{arm}: {metric}이(가) 허용 범위 이내인지 아직 알 수 없습니다 ({lift}, {ci}; "
              "허용치 {thr})."},
    "guard.not judged": {
        "en": "{arm}: {metric} not judged — {why}.",
        "ko": "{arm}: {metric} 판단하지 않음 — {why}."},
    "why.no_channel_baseline": {
        "en": "the holdout receives no message and too few sends of other campaigns on this "
              "channel give a usual rate",
        "ko": "홀드아웃은 메시지를 받지 않고, 같은 채널의 다른 캠페인 발송이 너무 적어 평소 "
              "비율을 알 수 없습니다"},
    "econ.profit": {
        "en": "{arm}: incremental revenue over {days} days {rev} ({rci}); margin at {m} "
              "{margin}; incremental cost {cost}; incremental profit {profit} ({pci}); "
              "probability of a profit {p}.",
        "ko": "{arm}: {days}일 증분 매출 {rev} ({rci}); 마진율 {m} 기준 마진 {margin}; 증분 비용 "
              "{cost}; 증분 이익 {profit} ({pci}); 이익일 확률 {p}."},
    "ratio.no_cost": {"en": "not meaningful: the campaign cost nothing",
                      "ko": "의미 없음: 비용이 없습니다"},
    "ratio.cost_below_margin_se": {
        "en": "not meaningful: the cost is smaller than the margin's standard error",
        "ko": "의미 없음: 비용이 마진의 표준오차보다 작습니다"},
    "ratio.no_horizon": {"en": "not available", "ko": "산출 불가"},
    "state.within": {"en": "within ✓", "ko": "이내 ✓"},
    "state.breached": {"en": "breached ⚠", "ko": "위반 ⚠"},
    "state.not settled": {"en": "cannot tell yet", "ko": "아직 알 수 없음"},
    "state.not judged": {"en": "not judged", "ko": "판단 안 함"},
    "adjusted": {
        "en": " The difference is adjusted for what each customer did before assignment "
              "({covs}; regression adjustment, Lin 2013), which removes chance differences "
              "between the groups; the raw means differ by {raw}.",
        "ko": " 차이는 배정 전 고객별 {covs}에 대해 보정했습니다(회귀 보정, Lin 2013): 캠페인 전 "
              "두 집단의 우연한 차이를 제거합니다. 보정 전 평균 차이는 {raw}입니다."},
    "cov.pre_revenue": {"en": "90-day revenue", "ko": "90일 매출"},
    "cov.pre_orders": {"en": "90-day orders", "ko": "90일 주문 수"},
    "cov.pre_visits": {"en": "90-day visits", "ko": "90일 방문 수"},
    "cov.tenure_days": {"en": "tenure", "ko": "가입 기간"},
    "long.churn": {
        "en": "{arm}: over {days} days a customer brought {value} vs {control} in the holdout "
              "({lift}, {ci}). Churn is counted from assignment and observed when the gap since "
              "the last purchase reaches {C} days: churned by day 90 {e90} vs {c90}, by day 180 "
              "{e180} vs {c180}; hazard ratio {hr} ({hrci}; below 1 = fewer churn).",
        "ko": "{arm}: {days}일간 고객당 매출 {value}, 대조군 {control} ({lift}, {ci}). 이탈은 "
              "배정 시점부터, 마지막 구매 후 {C}일이 지난 시점에 관측합니다: 90일 내 이탈 "
              "{e90} 대 {c90}, 180일 내 {e180} 대 {c180}; 위험비 {hr} ({hrci}; 1 미만 = 이탈 "
              "감소)."},
    "long.reactivation": {
        "en": "{arm}: over {days} days a customer brought {value} vs {control} in the holdout "
              "({lift}, {ci}). Of the customers lapsed at assignment (no purchase for {C} "
              "days), {e90} vs {c90} bought again within 90 days and {e180} vs {c180} within "
              "180; reactivation hazard ratio {hr} ({hrci}; above 1 = sooner).",
        "ko": "{arm}: {days}일간 고객당 매출 {value}, 대조군 {control} ({lift}, {ci}). 배정 시 "
              "휴면({C}일간 구매 없음) 고객 중 90일 내 재구매 {e90} 대 {c90}, 180일 내 {e180} "
              "대 {c180}; 재활성 위험비 {hr} ({hrci}; 1 초과 = 더 빨리)."},
    "km.churn": {"en": "Share of customers active at assignment not yet churned (churn observed "
                       "when the gap since the last purchase reaches {C} days), by arm.",
                 "ko": "배정 시 활성 고객 중 아직 이탈하지 않은 비율(마지막 구매 후 {C}일이 "
                       "지나면 이탈), 군별."},
    "km.reactivation": {"en": "Share of customers lapsed at assignment (no purchase for {C} "
                              "days) who bought again, by days since assignment and arm.",
                        "ko": "배정 시 휴면({C}일간 구매 없음) 고객 중 다시 구매한 비율, 배정 후 "
                              "일수와 군별."},
    "col.event_90": {"en": "{event} by day 90", "ko": "90일 내 {event}"},
    "col.event_180": {"en": "{event} by day 180", "ko": "180일 내 {event}"},
    "col.hr.churn": {"en": "Churn hazard ratio", "ko": "이탈 위험비"},
    "col.hr.reactivation": {"en": "Reactivation hazard ratio", "ko": "재활성 위험비"},
    "col.rmst.churn": {"en": "Extra active days (RMST)", "ko": "활성 일수 증가(RMST)"},
    "col.rmst.reactivation": {"en": "Change in days still lapsed (RMST)",
                              "ko": "휴면 일수 변화(RMST)"},
    "event.churn": {"en": "Churned", "ko": "이탈"},
    "event.reactivation": {"en": "Reactivated", "ko": "재활성"},
    "why.no_comparison": {"en": "there is no comparison group",
                          "ko": "비교 집단이 없습니다"},
}


def t(key: str, lang: str, **kw) -> str:
    text = TEXT[key]
    return text.get(lang, text["en"]).format(**kw)


def _ci(lo, hi, fmt, level, lang):
    return i18n.t("ci", lang, level=level, lo=fmt(lo), hi=fmt(hi))


def arm_reasons(a: str, *, lang: str, metric: str, primary, primary_fmt, p_level: str,
                level: str, settle: dict | None, lt, econ, guards, horizon_days: float,
                currency: str, min_p: float) -> list[str]:
    """The sentences of one arm (primary, what would settle it, LTV, profit, costs,
    guardrails)."""
    from crmlab.campaign.decision import direction

    money = lambda v: i18n.money(v, currency, signed=True)  # noqa: E731
    plain = lambda v: i18n.money(v, currency)  # noqa: E731
    pp = lambda v: i18n.pp(v, lang=lang)  # noqa: E731
    pct = lambda v: i18n.pct(v, 0)  # noqa: E731
    mname = i18n.t(f"metric.{metric}", lang)
    rs = []
    d = direction(primary["ci_low"], primary["ci_high"])
    rs.append(t(f"primary.{d}", lang, arm=a, metric=mname, lift=primary_fmt(primary["abs_lift"]),
                ci=_ci(primary["ci_low"], primary["ci_high"], primary_fmt, p_level, lang)))
    if d == "unclear" and settle is not None:
        if np.isfinite(settle["mde"]):
            rs.append(t("settle.mde", lang, mde=primary_fmt(settle["mde"])))
        if settle["n_control_needed"] is None:
            rs.append(t("settle.no_gain", lang))
        else:
            ratio = settle["n_treatment"] / settle["n_control"]
            kw = dict(lift=primary_fmt(settle["observed"]),
                      n_c=f"{settle['n_control_needed']:,}",
                      n_t=f"{math_ceil(settle['n_control_needed'] * ratio):,}",
                      total=f"{settle['audience_needed']:,}")
            if settle["holdout_share_needed"] is not None:
                rs.append(t("settle.share", lang, share=pct(settle["holdout_share_needed"]), **kw))
            else:
                rs.append(t("settle.audience", lang, **kw))
    days = f"{horizon_days:g}"
    if np.isfinite(lt["ltv_lift"]):
        ld = direction(lt["ltv_ci_low"], lt["ltv_ci_high"])
        rs.append(t(f"ltv.{ld}", lang, arm=a, days=days, lift=money(lt["ltv_lift"]),
                    ci=_ci(lt["ltv_ci_low"], lt["ltv_ci_high"], money, level, lang)))
    if np.isfinite(econ["incremental_profit"]):
        pd_ = profit_state(econ, min_p)
        rs.append(t(f"profit.{pd_}", lang, arm=a, profit=money(econ["incremental_profit"]),
                    ci=_ci(econ["profit_ci_low"], econ["profit_ci_high"], money, level, lang),
                    p=pct(econ["p_profitable"]), min=pct(min_p)))
    if econ["total_cost"] > 0:
        rs.append(t("profit.costs", lang, arm=a, total=plain(econ["total_cost"]),
                    send=plain(econ["send_cost"]), sends=f"{int(econ['sends']):,}",
                    coupon=plain(econ["coupon_cost"]), be=plain(econ["break_even_lift"]),
                    days=days))
    for _, g in guards.iterrows():
        why = g.get("why")
        why_text = t(f"why.{why}", lang) if isinstance(why, str) and f"why.{why}" in TEXT \
            else (why or "")
        rs.append(t(f"guard.{g['state']}", lang, arm=a,
                    metric=i18n.t(f"metric.{g['metric']}", lang), lift=pp(g["abs_lift"]),
                    ci=_ci(g["ci_low"], g["ci_high"], pp, level, lang), thr=pp(g["threshold"]),
                    why=why_text))
        up = g.get("decision_upper", np.nan)
        if g["state"] == "not settled" and np.isfinite(up) and up <= g["threshold"]:
            rs.append(t("guard.decision_ok", lang, arm=a,
                        metric=i18n.t(f"metric.{g['metric']}", lang), min=pct(min_p),
                        upper=pp(up)))
    return rs


def economics_lines(econ_rows, *, lang: str, currency: str, level: str,
                    horizon_days: float, min_p: float) -> list[str]:
    """One paragraph per arm: revenue, margin, cost, profit with its interval and probability,
    and the cost split (sends, coupons) with the break-even lift."""
    money = lambda v: i18n.money(v, currency, signed=True)  # noqa: E731
    plain = lambda v: i18n.money(v, currency)  # noqa: E731
    out = []
    for _, e in econ_rows.iterrows():
        a, days = e["arm"], f"{horizon_days:g}"
        if np.isfinite(e["incremental_profit"]):
            out.append(t("econ.profit", lang, arm=a, days=days,
                         rev=money(e["incremental_revenue"]),
                         rci=_ci(e["incremental_revenue_ci_low"],
                                 e["incremental_revenue_ci_high"], money, level, lang),
                         m=i18n.pct(e["margin_rate"], 0), margin=money(e["incremental_margin"]),
                         cost=plain(e["incremental_cost"]), profit=money(e["incremental_profit"]),
                         pci=_ci(e["profit_ci_low"], e["profit_ci_high"], money, level, lang),
                         p=i18n.pct(e["p_profitable"], 0)))
        if e["total_cost"] > 0:
            out.append(t("profit.costs", lang, arm=a, total=plain(e["total_cost"]),
                         send=plain(e["send_cost"]), sends=f"{int(e['sends']):,}",
                         coupon=plain(e["coupon_cost"]), be=plain(e["break_even_lift"]),
                         days=days))
    return out


def ratio_text(e, lang: str, level: str, kind: str = "roi") -> str:
    """ROI or iROAS with its interval, or why it is not meaningful."""
    note = e.get("ratio_note")
    if isinstance(note, str):
        key = f"ratio.{note}" if f"ratio.{note}" in TEXT else "ratio.no_horizon"
        return t(key, lang)
    if kind == "roi":
        f = lambda v: i18n.pct(v, 0, True)  # noqa: E731
    else:
        f = lambda v: i18n.num(v, 2)  # noqa: E731
    return f"{f(e[kind])} ({f(e[kind + '_ci_low'])} ~ {f(e[kind + '_ci_high'])})"


def state_text(state: str, lang: str) -> str:
    return t(f"state.{state}", lang) if f"state.{state}" in TEXT else str(state)


def adjustment_text(row, lang: str, fmt) -> str | None:
    """What a regression-adjusted difference was adjusted for, with the raw difference."""
    covs = row.get("covariates")
    if not isinstance(covs, str) or not covs:
        return None
    names = [t(f"cov.{c}", lang) if f"cov.{c}" in TEXT else c for c in covs.split(", ")]
    return t("adjusted", lang, covs=", ".join(names), raw=fmt(row["unadjusted_abs_lift"]))


def profit_state(econ, min_p: float) -> str:
    """``pays`` (the profit interval above zero), ``loses`` (below zero), ``likely``
    (``p_profitable >= min_p`` with zero inside the interval) or ``unclear``."""
    if np.isfinite(econ["profit_ci_low"]) and econ["profit_ci_low"] > 0:
        return "pays"
    if np.isfinite(econ["profit_ci_high"]) and econ["profit_ci_high"] < 0:
        return "loses"
    if np.isfinite(econ["p_profitable"]) and econ["p_profitable"] >= min_p:
        return "likely"
    return "unclear"


def math_ceil(v: float) -> int:
    import math

    return int(math.ceil(v - 1e-9))
