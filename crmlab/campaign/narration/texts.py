"""The sentences of the campaign report in English and Korean, keyed by finding code.

Korean templates may hold particle placeholders (``이(가)``, ``을(를)``, ``(으)로``): they are
resolved by :func:`crmlab.i18n.attach_josa` once the numbers are in. ``{chg}``-style values
carry their own direction word in Korean (``8,665원 감소``), never a signed amount after
증가/감소.
"""
from __future__ import annotations

TEXT = {
    # verdict findings (crmlab.campaign.findings); {chg} is a change with its direction word
    "headline.ship": {
        "en": "Verdict: SHIP {arm}. It meets every requirement of the decision rule.",
        "ko": "결론: {arm} 캠페인 확대. 의사결정 기준을 모두 충족합니다."},
    # the headline of an iterate: the primary effect shown, then the requirements not met
    "headline.iterate": {
        "en": "Verdict: ITERATE. {metric} rose, but the data cannot show yet {unmet}.",
        "ko": "결론: 개선 후 재실험. {metric}은(는) 올랐지만 {unmet}는 아직 알 수 없습니다."},
    # the headline of a stop: the harm shown by its interval
    "headline.stop": {
        "en": "Verdict: STOP. {harms}.",
        "ko": "결론: 중단. {harms}이(가) 확인되었습니다."},
    "harm.guardrail": {"en": "the increase in {metric} is beyond its allowance",
                       "ko": "{metric} 허용치 초과"},
    "harm.primary": {"en": "{metric} fell", "ko": "{metric} 하락"},
    "harm.ltv": {"en": "revenue per customer over {days} days fell",
                 "ko": "{days}일간 고객당 매출 감소"},
    "harm.loss": {"en": "the campaign loses money without a gain in its primary metric",
                  "ko": "주요 지표 개선 없는 손실"},
    "unmet.profit": {"en": "that it makes a profit", "ko": "이익이 나는지"},
    "unmet.ltv": {
        "en": "that revenue per customer over {days} days grew",
        "ko": "{days}일간 고객당 매출이 늘었는지"},
    "unmet.ltv_min": {
        "en": "that revenue per customer over {days} days grew by at least {min}",
        "ko": "{days}일간 고객당 매출이 {min} 이상 늘었는지"},
    "unmet.guardrail": {
        "en": "that the increase in {metric} stays within its allowance",
        "ko": "{metric} 증가가 허용치 이내인지"},
    "unmet.guardrails": {
        "en": "that the guardrails stay within their allowances",
        "ko": "가드레일이 허용치 이내인지"},
    "unmet.primary": {"en": "an effect on {metric}",
                      "ko": "{metric}이(가) 달라졌는지"},
    "primary.up": {"en": "{arm}: {metric} rose by {lift} ({ci}).",
                   "ko": "{arm}: {metric}이(가) {lift} 올랐습니다({ci})."},
    "primary.down": {"en": "{arm}: {metric} fell by {lift} ({ci}).",
                     "ko": "{arm}: {metric}이(가) {lift} 떨어졌습니다({ci})."},
    "primary.unclear": {
        "en": "{arm}: the data cannot tell yet whether {metric} moved (observed {lift}, {ci}).",
        "ko": "{arm}: {metric}이(가) 달라졌는지 아직 알 수 없습니다(관측값 {chg}, {ci})."},
    "settle.mde": {
        "en": "This test detects a change of {mde} or more with 80% power.",
        "ko": "이 실험 규모로는 {mde} 이상의 차이여야 80% 검정력으로 잡아낼 수 있습니다."},
    "settle.share": {
        "en": "To detect the observed {lift}: {n_c} customers in the holdout and {n_t} in the "
              "arm, e.g. a {share} holdout of this audience.",
        "ko": "관측된 차이({lift})를 확인하려면 대조군 {n_c}명, 실험군 {n_t}명이 필요합니다"
              "(예: 같은 대상에서 대조군 비율 {share})."},
    "settle.audience": {
        "en": "To detect the observed {lift}: {n_c} customers in the holdout and {n_t} in the "
              "arm ({total} in all at this split; this audience is too small for it).",
        "ko": "관측된 차이({lift})를 확인하려면 대조군 {n_c}명, 실험군 {n_t}명, 이 비율로 총 "
              "{total}명이 필요합니다. 현재 대상 고객 수로는 부족합니다."},
    "settle.no_gain": {
        "en": "The observed effect is not a gain, so no larger test of this size ratio would "
              "be expected to show one.",
        "ko": "관측된 효과가 증가가 아니므로 실험 규모를 키워도 개선을 확인할 가능성은 "
              "낮습니다."},
    "ltv.up": {"en": "{arm}: revenue per customer over {days} days rose by {lift} ({ci}).",
               "ko": "{arm}: {days}일간 고객당 매출이 {lift} 늘었습니다({ci})."},
    "ltv.down": {"en": "{arm}: revenue per customer over {days} days fell by {lift} ({ci}).",
                 "ko": "{arm}: {days}일간 고객당 매출이 {lift} 줄었습니다({ci})."},
    "ltv.unclear": {
        "en": "{arm}: the data cannot tell yet whether revenue per customer over {days} days "
              "moved (observed {lift}, {ci}).",
        "ko": "{arm}: {days}일간 고객당 매출이 달라졌는지 아직 알 수 없습니다(관측값 {chg}, "
              "{ci})."},
    "profit.pays": {
        "en": "{arm}: the campaign pays — incremental profit {profit} ({ci}); probability of "
              "a profit {p}.",
        "ko": "{arm}: 캠페인이 이익을 냅니다. 증분 이익 {profit}({ci}), 이익일 확률 {p}."},
    "profit.likely": {
        "en": "{arm}: the data cannot tell yet whether the campaign pays — incremental profit "
              "{profit} ({ci}); probability of a profit {p}, which meets the {min} the "
              "decision rule asks.",
        "ko": "{arm}: 이익 여부를 아직 확정할 수 없지만 증분 이익 {profit}({ci}), 이익일 "
              "확률 {p}(으)로 의사결정 기준 {min}은(는) 충족합니다."},
    "profit.loses": {
        "en": "{arm}: the campaign loses money — incremental profit {profit} ({ci}).",
        "ko": "{arm}: 캠페인이 손실을 냅니다. 증분 이익 {profit}({ci})."},
    "profit.unclear": {
        "en": "{arm}: the data cannot tell yet whether the campaign pays — incremental profit "
              "{profit} ({ci}); probability of a profit {p} (shipping needs {min}).",
        "ko": "{arm}: 캠페인이 이익을 내는지 아직 알 수 없습니다. 증분 이익 {profit}({ci}), "
              "이익일 확률 {p}(캠페인 확대 기준 {min})."},
    "profit.costs": {
        "en": "{arm}: costs {total} = {send} for {sends} sends + {coupon} in redeemed coupons; "
              "break-even at {be} of extra revenue per customer over {days} days.",
        "ko": "{arm}: 총비용 {total} = 발송 {sends}건 {send} + 사용된 쿠폰 {coupon}. "
              "손익분기점은 {days}일간 고객당 추가 매출 {be}입니다."},
    "guard.within": {
        "en": "{arm}: {metric} within its limit ({lift}, {ci}; allowance {thr}).",
        "ko": "{arm}: {metric}은(는) 허용 범위 이내입니다({lift}, {ci}, 허용치 {thr})."},
    "guard.breached": {
        "en": "{arm}: {metric} breached its limit ({lift}, {ci}; allowance {thr}).",
        "ko": "{arm}: {metric}이(가) 허용치를 넘었습니다({lift}, {ci}, 허용치 {thr})."},
    "guard.decision_ok": {
        "en": "{arm}: {metric} is within its allowance with at least {min} probability "
              "(bound {upper}), which the decision rule asks.",
        "ko": "{arm}: {metric}이(가) {min} 이상의 확률로 허용 범위 이내입니다(상한 {upper}). "
              "의사결정 기준을 충족합니다."},
    "guard.not_settled": {
        "en": "{arm}: the data cannot tell yet whether {metric} stays within its limit "
              "({lift}, {ci}; allowance {thr}).",
        "ko": "{arm}: {metric}이(가) 허용 범위 이내인지 아직 알 수 없습니다({lift}, {ci}, "
              "허용치 {thr})."},
    "guard.not_judged": {
        "en": "{arm}: {metric} not judged — {why}.",
        "ko": "{arm}: {metric}은(는) 판정하지 않았습니다. {why}."},
    "why.no_channel_baseline": {
        "en": "the holdout receives no message, and other campaigns sent too few messages on "
              "this channel to give its usual rate",
        "ko": "대조군은 메시지를 받지 않고, 같은 채널의 다른 캠페인 발송이 너무 적어 평소 "
              "비율을 알 수 없습니다"},
    # notes (crmlab.campaign.evaluation) and exclusions
    "note.segment_missing": {"en": "segment {segment}: not in the customers table",
                             "ko": "세그먼트 {segment}: 고객 테이블에 없습니다"},
    "note.segment_unknown": {"en": "segment {segment}: unknown segment variable",
                             "ko": "세그먼트 {segment}: 알 수 없는 세그먼트 변수입니다"},
    "note.segment_unavailable": {"en": "segment {segment}: not available here ({error})",
                                 "ko": "세그먼트 {segment}: 이 환경에서 쓸 수 없습니다({error})"},
    "note.consent_current_flags": {
        "en": "Consent is judged by today's consent flags (no consent event history): a "
              "customer who withdrew consent after a send, other than by unsubscribing from a "
              "campaign, counts against it.",
        "ko": "수신동의 이력이 없어 현재 수신동의 상태로 판정했습니다. 발송 후 동의를 철회한 "
              "고객도 위반으로 집계될 수 있습니다."},
    "note.consent_unknown": {
        "en": "{sends} sends: the customer data hold no consent flag for {channel}; consent "
              "not checked.",
        "ko": "발송 {sends}건: 고객 데이터에 {channel} 수신동의 항목이 없어 동의 여부를 "
              "확인하지 못했습니다."},
    "note.sequential": {
        "en": "Sequential design with {looks} looks: the primary metric is judged at the "
              "final look's nominal level {p} (O'Brien-Fleming-type alpha spending).",
        "ko": "중간 분석 {looks}회의 순차 설계: 주요 지표는 마지막 분석의 명목 유의수준 "
              "{p}(으)로 판정합니다(O'Brien-Fleming형 알파 소비)."},
    "note.secondary_unmeasurable": {
        "en": "Secondary metric {metric}: not measurable from this data.",
        "ko": "보조 지표 {metric}: 이 데이터로는 측정할 수 없습니다."},
    "note.block_rate_no_baseline": {
        "en": "Block rate: the holdout receives no message and the data hold {sends} sends of "
              "other campaigns on {channel} (fewer than {min}); the block rate is reported "
              "but not judged against its allowance.",
        "ko": "미도달률: 대조군은 메시지를 받지 않고, {channel} 채널의 다른 캠페인 발송이 "
              "{sends}건({min}건 미만)뿐이라 허용치 대비 판정 없이 값만 보여 줍니다."},
    "note.warning": {"en": "Statistics warning: {message}", "ko": "통계 계산 경고: {message}"},
    "note.small_sample": {
        "en": "Fewer than {min} customers in an arm ({arms}): {what}.",
        "ko": "고객 {min}명 미만인 군이 있습니다({arms}). {what}."},
    "excl.horizon_partial": {
        "en": "horizon of {days} days not fully observed (left out of the long-term revenue "
              "comparison)",
        "ko": "{days}일 관찰 기간을 다 채우지 못함(장기 매출 비교에서 제외)"},
    "excl.active_at_assignment": {
        "en": "active at assignment: not in the reactivation curves and rates",
        "ko": "배정 시 활성 고객: 재활성 곡선과 비율에서 제외"},
    "excl.lapsed_at_assignment": {
        "en": "lapsed at assignment (no purchase for {days} days): not in the churn curves "
              "and rates",
        "ko": "배정 시 이미 휴면({days}일간 구매 없음): 이탈 곡선과 비율에서 제외"},
    "excl.action": {"en": "left out of that comparison", "ko": "해당 비교에서 제외"},
    # the data-quality table: what each row's count covers
    "scope.data": {"en": "whole data set", "ko": "전체 데이터"},
    "scope.campaign": {"en": "this campaign", "ko": "이 캠페인"},
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
    "state.not_settled": {"en": "cannot tell yet", "ko": "아직 알 수 없음"},
    "state.not_judged": {"en": "not judged", "ko": "판단 안 함"},
    "adjusted": {
        "en": " The difference is adjusted for what each customer did before assignment "
              "({covs}; regression adjustment, Lin 2013), which removes chance differences "
              "between the groups; the raw means differ by {raw}.",
        "ko": " 차이는 배정 전 고객별 {covs}에 대해 보정했습니다(회귀 보정, Lin 2013): 캠페인 전 "
              "두 집단의 우연한 차이를 제거합니다. 보정 전 평균 차이는 {raw}입니다."},
    "adjusted_profit": {
        "en": "{arm}: the revenue lift and the profit are adjusted for what each customer did "
              "before assignment ({covs}; regression adjustment, Lin 2013); without the "
              "adjustment the profit would read {raw}.",
        "ko": "{arm}: 매출 증가분과 이익은 배정 전 고객별 {covs}에 대해 보정했습니다(회귀 보정, "
              "Lin 2013). 보정하지 않으면 이익은 {raw}입니다."},
    "cov.pre_revenue": {"en": "90-day revenue", "ko": "90일 매출"},
    "cov.pre_orders": {"en": "90-day orders", "ko": "90일 주문 수"},
    "cov.pre_visits": {"en": "90-day visits", "ko": "90일 방문 수"},
    "cov.tenure_days": {"en": "days since signup", "ko": "가입 후 경과 일수"},
    "long.churn": {
        "en": "{arm}: over {days} days a customer brought {value} vs {control} in the holdout "
              "({lift}, {ci}). Churn is counted from assignment and observed when the gap since "
              "the last purchase reaches {C} days: churned by day 90 {e90} vs {c90}, by day 180 "
              "{e180} vs {c180}; hazard ratio {hr} ({hrci}; below 1 = less churn).",
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
