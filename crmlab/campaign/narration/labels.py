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
            "lifecycle_stage": {"en": "Lifecycle stage", "ko": "고객 생애 단계"}}

LEVELS = {
    "champions": "최우수 고객", "loyal": "충성 고객", "potential loyalists": "충성 예비 고객",
    "new": "신규 고객", "promising": "성장 기대 고객", "need attention": "관심 필요 고객",
    "about to sleep": "휴면 직전 고객", "at risk": "이탈 위험 고객",
    "can't lose": "놓치면 안 될 고객", "lost": "이탈 고객", "hibernating": "장기 휴면 고객",
    "no purchase": "구매 이력 없음", "VIP": "VIP", "returning": "재방문 구매 고객",
    "interested": "관심 고객", "dormant": "휴면 고객", "potential": "잠재 고객",
}

COVARIATES = {
    "pre_revenue": {"en": "Revenue, 90 days before", "ko": "사전 90일 매출"},
    "pre_orders": {"en": "Orders, 90 days before", "ko": "사전 90일 주문 수"},
    "pre_visits": {"en": "Visits, 90 days before", "ko": "사전 90일 방문 수"},
    "tenure_days": {"en": "Days since signup", "ko": "가입 후 경과 일수"},
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
