"""Human labels for what the evaluation names by id: arms, metrics, segments and their
levels, pre-period covariates, funnel steps, data-quality checks.

An arm is labelled by the spec's ``arm_labels`` (``{arm: text}`` or ``{arm: {en: .., ko: ..}}``),
else the holdout by its name and the generic ``treatment`` as the 실험군; any other arm id
comes from the data and is shown as it is.
"""
from __future__ import annotations

from crmlab import i18n

CONTROL = "control"

ARMS = {"control": {"en": "holdout", "ko": "대조군"},
        "treatment": {"en": "treatment", "ko": "실험군"}}

SEGMENTS = {"rfm_segment": {"en": "RFM segment", "ko": "RFM 세그먼트"},
            "lifecycle_stage": {"en": "Lifecycle stage", "ko": "고객 생애 단계"},
            "acquisition_channel": {"en": "Acquisition channel", "ko": "유입 채널"},
            "region": {"en": "Region", "ko": "지역"}}

LEVELS = {
    "champions": "최우수 고객", "loyal": "충성 고객", "potential loyalists": "충성 예비 고객",
    "new": "신규 고객", "promising": "성장 기대 고객", "need attention": "관심 필요 고객",
    "about to sleep": "휴면 직전 고객", "at risk": "이탈 위험 고객",
    "can't lose": "놓치면 안 될 고객", "lost": "이탈 고객", "hibernating": "장기 휴면 고객",
    "no purchase": "구매 이력 없음", "VIP": "VIP", "returning": "재방문 구매 고객",
    "interested": "관심 고객", "dormant": "휴면 고객", "potential": "잠재 고객",
    "unknown": "알 수 없음",
    # acquisition channels
    "organic": "자연 유입", "search": "검색", "social": "소셜", "referral": "추천", "ads": "광고",
    # regions
    "Seoul": "서울", "Gyeonggi": "경기", "Incheon": "인천", "Busan": "부산", "Daegu": "대구",
    "Gwangju": "광주", "Daejeon": "대전", "Ulsan": "울산", "Sejong": "세종", "Gangwon": "강원",
    "Chungbuk": "충북", "Chungnam": "충남", "Jeonbuk": "전북", "Jeonnam": "전남",
    "Gyeongbuk": "경북", "Gyeongnam": "경남", "Jeju": "제주",
}

#: pre-period covariates: one name each, the same in the tables and in the sentences that say
#: what a difference is adjusted for (:data:`crmlab.campaign.narration.texts.TEXT` ``cov.*``);
#: no name holds a comma, so a list of them reads unambiguously
COVARIATES = {
    "pre_revenue": {"en": "90-day revenue", "ko": "사전 90일 매출"},
    "pre_orders": {"en": "90-day orders", "ko": "사전 90일 주문 수"},
    "pre_visits": {"en": "90-day visits", "ko": "사전 90일 방문 수"},
    "tenure_days": {"en": "days since signup", "ko": "가입 후 경과 일수"},
}

STEPS = {
    "assigned": {"en": "Assigned", "ko": "배정"}, "sent": {"en": "Sent", "ko": "발송"},
    "delivered": {"en": "Delivered", "ko": "도달"}, "opened": {"en": "Opened", "ko": "열람"},
    "clicked": {"en": "Clicked", "ko": "클릭"}, "purchased": {"en": "Purchased", "ko": "구매"},
}

CHANNELS = {"email": "이메일", "sms": "SMS 문자", "lms": "LMS 문자", "push": "앱 푸시",
            "app_push": "앱 푸시", "kakao_friendtalk": "카카오 친구톡",
            "kakao_alimtalk": "카카오 알림톡", "kakao": "카카오"}

TABLES = {"customers": "고객", "orders": "주문", "events": "행동 로그", "campaigns": "캠페인",
          "assignments": "캠페인 배정", "consent_events": "수신동의 이력"}

#: data-quality checks (crmlab.data.quality) in Korean
CHECKS = {
    "signup_ts missing": "가입 시각 누락",
    "signup_ts at or after observation_end": "관찰 종료 이후 가입",
    "negative amount not marked as refund": "환불 표시 없는 음수 금액",
    "zero amount": "금액 0원 주문",
    "is_refund on a positive amount": "양수 금액에 환불 표시",
    "order_ts at or after observation_end": "관찰 종료 이후 주문",
    "order before signup": "가입 전 주문",
    "event_ts at or after observation_end": "관찰 종료 이후 행동 로그",
    "end_ts before start_ts": "종료일이 시작일보다 빠름",
    "holdout_share outside (0, 1)": "대조군 비율이 0~1 범위 밖",
    "promotional scenario on kakao_alimtalk": "알림톡으로 광고성 발송",
    "campaign without assignments": "배정 고객 없는 캠페인",
    "assigned_ts at or after observation_end": "관찰 종료 이후 배정",
    "assigned outside the campaign's dates": "캠페인 기간 밖 배정",
    "control arm sent": "대조군에 발송됨",
    "consent event before signup": "가입 전 수신동의 이력",
    "customer_id not in customers": "고객 테이블에 없는 고객",
    "sent before assigned": "배정 전 발송",
    "opened before sent": "발송 전 열람",
    "clicked before opened": "열람 전 클릭",
    "start_ts at or after observation_end": "관찰 종료 이후 시작",
}

#: what the loader did about a flagged check (crmlab.data.quality: "kept; <what>")
ACTIONS = {
    "kept": "유지",
    "no signup date for these customers": "가입일 없는 고객으로 둠",
    "analyses read nothing at or after observation_end": "관찰 종료 이후 기록은 분석에서 읽지 않음",
    "counted as a refund (negative revenue)": "환불로 집계(음수 매출)",
    "an order, but not a conversion (conversion needs amount > 0)":
        "주문으로 세지만 전환은 아님(전환은 금액 > 0)",
    "amount counted as is (revenue is the sum of amount)": "금액 그대로 집계(매출 = 금액 합계)",
    "timestamps used as given": "시각을 기록된 그대로 사용",
    "all its assignments fall outside the campaign's dates": "모든 배정이 캠페인 기간 밖",
    "holdout_share is only the planned share": "대조군 비율은 계획값으로만 사용",
    "alimtalk sends need no consent here — if the message holds an offer, record the campaign "
    "as kakao_friendtalk": "알림톡은 수신동의 없이 발송 가능. 혜택이 담긴 메시지라면 친구톡 "
                           "캠페인으로 기록하세요",
    "nothing to evaluate": "평가할 배정 없음",
    "evaluated with the campaign as assigned": "배정된 캠페인으로 평가",
    "the holdout was contaminated: read the campaign's lift with care":
        "대조군이 오염됨: 캠페인 효과를 신중히 해석하세요",
    "not read for sends before it": "그 이전 발송에는 반영하지 않음",
    "not read": "읽지 않음",
    "flagged (no profile: no signup date or consents for these customers)":
        "표시만 함(고객 정보 없음: 가입일과 수신동의를 알 수 없음)",
    "flagged for compliance review (judged at send time from consent_events)":
        "준법 검토 대상으로 표시(발송 시점의 수신동의 이력 기준)",
    "flagged for compliance review (judged by today's customers flags (no consent_events "
    "table))": "준법 검토 대상으로 표시(현재 수신동의 상태 기준, 동의 이력 없음)",
}


def _pick(entry, lang: str):
    if isinstance(entry, dict):
        return entry.get(lang) or entry.get("en") or next(iter(entry.values()))
    return str(entry)


def arm_label(arm, lang: str, spec: dict | None = None) -> str:
    """The label of an arm in ``lang`` (spec ``arm_labels`` first)."""
    labels = (spec or {}).get("arm_labels") or {}
    if arm in labels and labels[arm]:
        return _pick(labels[arm], lang)
    if arm in ARMS:
        return ARMS[arm][lang]
    return str(arm)


def metric_name(metric: str, lang: str) -> str:
    key = f"metric.{metric}"
    return i18n.t(key, lang) if key in i18n.TEXTS else str(metric)


def segment_label(segment: str, lang: str) -> str:
    return SEGMENTS[segment][lang] if segment in SEGMENTS else str(segment)


def level_label(level, lang: str) -> str:
    if lang == "ko" and str(level) in LEVELS:
        return LEVELS[str(level)]
    return str(level)


def covariate_label(cov: str, lang: str) -> str:
    return COVARIATES[cov][lang] if cov in COVARIATES else str(cov)


def step_label(step: str, lang: str) -> str:
    return STEPS[step][lang] if step in STEPS else str(step)


def channel_label(channel: str, lang: str) -> str:
    return CHANNELS.get(str(channel), str(channel)) if lang == "ko" else str(channel)


def table_label(table: str, lang: str) -> str:
    return TABLES.get(str(table), str(table)) if lang == "ko" else str(table)


def action_label(action, lang: str) -> str:
    """What the loader did about a check (``kept; counted as a refund ...``), in ``lang``."""
    if lang != "ko":
        return str(action)
    text = str(action)
    if text.startswith("not checked"):
        return "확인 안 함" + ("" if text == "not checked" else
                           f"({text.split(':', 1)[1].strip()})" if ":" in text else "")
    parts = [p.strip() for p in text.split(";", 1)]
    return " · ".join(ACTIONS.get(p, p) for p in parts if p)


def check_label(check: str, lang: str) -> str:
    if lang != "ko":
        return str(check)
    c = str(check)
    if c in CHECKS:
        return CHECKS[c]
    if "consent" in c and "night" in c:
        return "야간 수신동의 없는 야간 발송"
    if "consent" in c:
        return "수신동의 없는 발송"
    return c
