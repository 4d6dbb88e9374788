"""Report texts in English and Korean, and number formatting for reports.

The campaign report and the campaign verdict read their sentences from :data:`TEXTS`, keyed by
an identifier and a language (``en`` or ``ko``); :func:`t` fills the placeholders.
Money is formatted for the data's currency (:func:`money`: ``₩1,234`` for KRW).

Examples
--------
>>> money(1234.4, "KRW")
'₩1,234'
>>> t("decision.ship", "ko")
'캠페인 확대'
"""
from __future__ import annotations

import math
import re

LANGS = ("en", "ko")

#: currency -> (symbol, decimals)
CURRENCIES = {"KRW": ("₩", 0), "USD": ("$", 2), "EUR": ("€", 2), "JPY": ("¥", 0),
              "GBP": ("£", 2)}

TEXTS: dict[str, dict[str, str]] = {
    # decisions
    "decision.ship": {"en": "ship", "ko": "캠페인 확대"},
    "decision.iterate": {"en": "iterate", "ko": "개선 후 재실험"},
    "decision.stop": {"en": "stop", "ko": "중단"},
    "decision.inconclusive": {"en": "inconclusive", "ko": "판단 보류"},
    "decision.headline.ship": {
        "en": "Verdict: SHIP {arm}. It meets every requirement of the decision rule.",
        "ko": "결론: {arm} 캠페인 확대. 의사결정 기준을 모두 충족합니다."},
    "decision.headline.iterate": {
        "en": "Verdict: ITERATE. The campaign moves customers, but not enough to meet every "
              "requirement of the decision rule.",
        "ko": "결론: 개선 후 재실험. 고객 반응은 있지만 의사결정 기준을 모두 충족하지는 "
              "못합니다."},
    "decision.headline.stop": {
        "en": "Verdict: STOP. The campaign does harm or clearly breaks a guardrail.",
        "ko": "결론: 중단. 캠페인이 손해를 끼치거나 가드레일 기준을 명백히 넘었습니다."},
    "decision.headline.inconclusive": {
        "en": "Verdict: INCONCLUSIVE. The data cannot tell whether the campaign works.",
        "ko": "결론: 판단 보류. 지금 데이터로는 캠페인 효과를 판단할 수 없습니다."},
    # verdict reasons
    "reason.srm": {
        "en": "The audience split does not match the planned holdout share (sample-ratio "
              "mismatch, p = {p}); the randomisation is suspect, so no effect can be trusted.",
        "ko": "고객 배정 비율이 계획한 대조군 비율과 맞지 않습니다(SRM, p = {p}). 무작위 배정을 "
              "신뢰할 수 없어 효과를 믿을 수 없습니다."},
    "reason.exploratory": {
        "en": "This evaluation is exploratory ({reason}); treat the verdict as a hint, not a "
              "decision.",
        "ko": "이 평가는 탐색적입니다({reason}). 결론은 참고용이며 의사결정이 아닙니다."},
    "reason.horizon_partial": {
        "en": "{rows} customers were not observed for the full {days}-day horizon and are left out "
              "of the long-term revenue comparison.",
        "ko": "{rows}명은 {days}일 전체를 관찰하지 못해 장기 매출 비교에서 제외했습니다."},
    "reason.multiple_arms": {
        "en": "{k} treatment arms are compared with the holdout; each interval is at the "
              "Bonferroni level {level} so that all hold together at {overall}.",
        "ko": "실험군 {k}개를 각각 대조군과 비교하므로 구간마다 본페로니 보정 수준 {level}(으)로 "
              "계산해 전체 신뢰수준 {overall}을(를) 지킵니다."},
    "report.short_horizon": {"en": "short horizon", "ko": "짧은 관찰 기간"},
    # metric names
    "metric.conversion": {"en": "conversion", "ko": "구매 전환율"},
    "metric.revenue": {"en": "revenue per customer", "ko": "고객당 매출"},
    "metric.orders": {"en": "orders per customer", "ko": "고객당 주문 수"},
    "metric.aov": {"en": "average order value", "ko": "평균 주문 금액"},
    "metric.visit": {"en": "visit rate", "ko": "방문율"},
    "metric.unsubscribe_rate": {"en": "unsubscribe rate", "ko": "수신거부율"},
    "metric.block_rate": {"en": "block rate", "ko": "미도달률"},
    "metric.ltv": {"en": "revenue per customer over the horizon", "ko": "기간 고객당 매출"},
    "metric.repurchase": {"en": "repurchase rate", "ko": "재구매율"},
    "metric.inactive_90": {"en": "inactive at day 90", "ko": "90일 시점 비활성"},
    "metric.inactive_180": {"en": "inactive at day 180", "ko": "180일 시점 비활성"},
    "metric.churned_90": {"en": "churned by day 90", "ko": "90일 내 이탈"},
    "metric.churned_180": {"en": "churned by day 180", "ko": "180일 내 이탈"},
    "metric.reactivated_90": {"en": "reactivated by day 90", "ko": "90일 내 재활성"},
    "metric.reactivated_180": {"en": "reactivated by day 180", "ko": "180일 내 재활성"},
    "metric.retained_reactivated": {"en": "reactivated and still active at the horizon",
                                    "ko": "재활성 후 기간 끝까지 활성"},
    "ci": {"en": "{level} CI {lo} to {hi}", "ko": "{level} 신뢰구간 {lo} ~ {hi}"},
    # report
    "report.title": {"en": "Campaign report: {title}", "ko": "캠페인 보고서: {title}"},
    "report.exploratory_banner": {
        "en": "⚠ EXPLORATORY EVALUATION — {reason}. The long-term horizon is {days} days, shorter "
              "than the six months a confirmatory evaluation needs.",
        "ko": "⚠ 탐색적 평가 — {reason}. 장기 관찰 기간이 {days}일로, 확증적 평가에 필요한 "
              "6개월보다 짧습니다."},
    "report.intro": {
        "en": "{scenario} campaign on {channel}, {period}. {n:,} customers were assigned at "
              "random: {arms}. The holdout (control) received nothing, so every difference "
              "between the arms is caused by the campaign.",
        "ko": "{channel} 채널의 {scenario} 캠페인({period}). 고객 {n:,}명을 무작위로 "
              "배정했습니다: {arms}. 대조군은 아무것도 받지 않았으므로 군 간 차이는 모두 "
              "캠페인 효과입니다."},
    # a campaign's period; a campaign that starts and ends on the same day shows its date
    "report.period": {"en": "{start} to {end}", "ko": "{start} ~ {end}"},
    "report.h.verdict": {"en": "Verdict", "ko": "결론"},
    "report.h.integrity": {"en": "Can we trust the experiment?", "ko": "실험을 믿을 수 있는가?"},
    "problem.srm": {"en": "the split does not match the plan (SRM p = {p})",
                    "ko": "배정 비율이 계획과 다릅니다(SRM p = {p})"},
    "problem.smd": {"en": "the arms differed before the campaign (|SMD| = {smd} > 0.1)",
                    "ko": "캠페인 전 군 간 차이가 있습니다(|SMD| = {smd} > 0.1)"},
    "problem.consent": {"en": "{n} sends without consent for the channel",
                        "ko": "채널 수신동의 없는 발송 {n}건"},
    "problem.night": {"en": "{n} night-time sends without night consent",
                      "ko": "야간 수신동의 없는 야간 발송 {n}건"},
    "report.h.short": {"en": "Short-term effect", "ko": "단기 효과"},
    "report.h.long": {"en": "Long-term effect ({days} days)", "ko": "장기 효과({days}일)"},
    "report.h.guardrails": {"en": "Guardrails and the message funnel",
                            "ko": "가드레일과 메시지 퍼널"},
    "report.h.economics": {"en": "Economics", "ko": "경제성"},
    "report.h.segments": {"en": "Who responds? Segments and whom to target next time",
                          "ko": "누가 반응하는가? 세그먼트와 다음 타깃"},
    "report.h.quality": {"en": "Data quality", "ko": "데이터 품질"},
    "report.h.provenance": {"en": "Provenance", "ko": "재현 정보"},
    "integrity.srm_ok": {
        "en": "The split is consistent with the planned holdout share (SRM p = {p}; a mismatch "
              "is flagged below {alpha}).",
        "ko": "배정 비율이 계획한 대조군 비율에서 벗어났다고 볼 근거가 없습니다(SRM p = {p}, "
              "{alpha} 미만이면 불일치로 판정)."},
    "integrity.srm_bad": {
        "en": "The split does NOT match the planned holdout share (SRM p = {p}, below {alpha}).",
        "ko": "배정 비율이 계획한 대조군 비율과 맞지 않습니다(SRM p = {p}, {alpha} 미만)."},
    "integrity.balance_ok": {
        "en": "The arms looked alike before the campaign (largest standardised difference {smd}).",
        "ko": "캠페인 전 군 간 특성이 비슷했습니다(최대 표준화 차이 {smd})."},
    "integrity.balance_bad": {
        "en": "The arms differed somewhat before the campaign (largest standardised difference "
              "{smd}, above 0.1); with random assignment this is chance, but it can move the "
              "estimates.",
        "ko": "캠페인 전 군 간 특성에 다소 차이가 있었습니다(최대 표준화 차이 {smd}, 0.1 초과). "
              "무작위 배정에서는 우연이지만 추정치에 영향을 줄 수 있습니다."},
    "integrity.compliance": {
        "en": "{consent} sends went to customers without consent for the channel and {night} "
              "night-time (21:00–08:00) sends to customers without night consent.",
        "ko": "채널 수신동의 없는 고객에게 발송 {consent}건, 야간 수신동의 없는 고객에게 "
              "야간(21:00–08:00) 발송 {night}건."},
    "report.integrity_bad": {
        "en": "Warning: {problems}. Read the effects below with care.",
        "ko": "경고: {problems}. 아래 효과는 주의해서 해석하세요."},
    "report.short_sentence": {
        "en": "{arm}: {metric} {value} vs {control} in the holdout within {days} days — "
              "a difference of {lift} ({ci}).",
        "ko": "{arm}: {days}일 내 {metric} {value}, 대조군 {control} — 차이 {lift}({ci})."},
    "report.guard_note": {
        "en": "The holdout receives no message, so unsubscribes are compared with its zero "
              "rate (known, not estimated: the interval is that of the arm's own rate and "
              "never goes below zero); the block rate (sends not delivered) is compared with "
              "the channel's usual rate on other campaigns' sends, and is not judged when the "
              "data hold too few of them. A guardrail is within its limit when its "
              "interval's upper bound is at most the allowance, breached when its lower bound "
              "is above it, and otherwise the data cannot tell yet.",
        "ko": "대조군은 메시지를 받지 않으므로 수신거부율은 0과 비교하고(추정치가 아니라 "
              "알려진 값이므로 구간은 실험군 자체 비율의 구간이며 0 아래로 내려가지 "
              "않습니다), 차단(미도달)률은 같은 "
              "채널의 다른 캠페인 발송에서의 평소 비율과 비교합니다. 비교할 발송이 부족하면 "
              "판정하지 않습니다. 구간의 상한이 허용치 이하이면 허용 범위 이내, 하한이 "
              "허용치를 넘으면 위반, 그 밖에는 아직 알 수 없습니다."},
    "report.cum_caption": {
        "en": "Cumulative revenue per customer since assignment, by arm (band: 95% CI).",
        "ko": "배정 이후 군별 고객당 누적 매출(음영: 95% 신뢰구간)."},
    "report.forest_caption": {
        "en": "Lift against the holdout with confidence intervals.",
        "ko": "대조군 대비 효과와 신뢰구간."},
    "report.funnel_caption": {
        "en": "The message funnel: delivered → opened → clicked → purchased (share of those "
              "assigned).",
        "ko": "메시지 퍼널: 도달 → 열람 → 클릭 → 구매(배정 고객 대비 비율)."},
    "report.segments_none": {
        "en": "No segment shows an effect that survives the correction for testing many "
              "segments.",
        "ko": "여러 세그먼트 검정에 대한 보정 후 유의한 효과를 보이는 세그먼트가 없습니다."},
    "report.target_intro": {
        "en": "Whom to target next time: the net value per targeted customer is the margin on "
              "the extra revenue minus the cost of reaching them; p-values are adjusted for the "
              "number of segments (Benjamini-Hochberg).",
        "ko": "다음 타깃: 타깃 고객 1인당 순가치 = 증분 매출의 마진 − 도달 비용. p-값은 "
              "세그먼트 수에 대해 보정했습니다(Benjamini-Hochberg)."},
    "report.quality_intro": {
        "en": "The data checks cover the whole data set — every customer, order and campaign "
              "it holds, not only this campaign's audience — so their counts are shop-wide; "
              "the rows this campaign's evaluation left out are its own. Rows flagged "
              "(nothing is dropped silently):",
        "ko": "데이터 점검은 이 캠페인 대상 고객만이 아니라 전체 데이터(모든 고객·주문·캠페인)를 "
              "대상으로 하므로 행 수는 쇼핑몰 전체 기준입니다. 이 캠페인 평가에서 제외한 행은 이 "
              "캠페인 기준입니다. 표시된 행(어떤 행도 말없이 버리지 않습니다):"},
    "report.notes_intro": {"en": "Notes from the statistics (methods chosen, small groups):",
                           "ko": "통계 계산 참고 사항(선택된 방법, 작은 그룹):"},
    "report.quality_clean": {
        "en": "The data checks, which cover the whole data set (not only this campaign's "
              "audience), flagged nothing.",
        "ko": "이 캠페인 대상 고객만이 아니라 전체 데이터를 점검했으며 문제가 없었습니다."},
    "report.footer": {
        "en": "crmlab {version} · commit {commit}{dirty} · data {fingerprint} · seed {seed} · "
              "started {started}",
        "ko": "crmlab {version} · 커밋 {commit}{dirty} · 데이터 {fingerprint} · 시드 {seed} · "
              "시작 {started}"},
    "target.target": {"en": "target", "ko": "타깃"},
    "target.avoid": {"en": "avoid", "ko": "제외"},
    "target.unclear": {"en": "no clear evidence", "ko": "근거 부족"},
    "arm.control": {"en": "holdout", "ko": "대조군"},
}


def t(key: str, lang: str = "en", **values) -> str:
    """The text ``key`` in ``lang`` with its placeholders filled; in Korean every particle
    placeholder (``이(가)``, ``을(를)`` ...) becomes the particle that fits the word before it
    (:func:`attach_josa`).

    Examples
    --------
    >>> t("metric.conversion", "ko")
    '구매 전환율'
    """
    if lang not in LANGS:
        raise ValueError(f"report language must be one of {LANGS}, got {lang!r}")
    try:
        entry = TEXTS[key]
    except KeyError:
        raise KeyError(f"no report text {key!r}") from None
    text = entry[lang].format(**values) if values else entry[lang]
    return attach_josa(text) if lang == "ko" else text


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def half_up(x: float, digits: int = 0) -> float:
    """``x`` rounded to ``digits`` decimals, halves away from zero (``1234.5`` → ``1235``) —
    the rounding of every amount crmlab shows.

    Examples
    --------
    >>> half_up(1234.5), half_up(-0.125, 2), half_up(2.675, 2)
    (1235.0, -0.13, 2.68)
    """
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits),
                                                  rounding=ROUND_HALF_UP))


#: Metrics that are shares: their differences read in percentage points (so does any metric
#: whose name ends in ``_rate``).
RATE_METRICS = frozenset({
    "conversion", "visit", "unsubscribe_rate", "block_rate", "repurchase", "repurchase_rate",
    "inactive_90", "inactive_180", "churned_90", "churned_180", "reactivated_90",
    "reactivated_180", "retained_reactivated"})
#: Metrics that are money: their differences read in the currency.
MONEY_METRICS = frozenset({"revenue", "aov", "ltv", "revenue_per_customer"})


def is_share(metric) -> bool:
    """Whether ``metric`` is a share (its difference reads in percentage points)."""
    m = str(metric or "").lower()
    return m in RATE_METRICS or (m.endswith("_rate") and m not in MONEY_METRICS)


def difference(metric, x, currency: str = "KRW", lang: str = "en") -> str:
    """A difference (lift) in ``metric`` as every crmlab page writes it — the campaign
    report's tables and the portfolio alike: percentage points with one decimal for shares
    (:func:`pp`), signed money in the currency's symbol form (:func:`money`), else a signed
    number with three decimals; ``—`` if missing.

    Examples
    --------
    >>> difference("conversion", 0.0123), difference("conversion", 0.0123, lang="ko")
    ('+1.2 pp', '+1.2%p')
    >>> difference("ltv", -1234.5), difference("orders", 0.0123)
    ('−₩1,235', '+0.012')
    """
    m = str(metric or "").lower()
    if is_share(m):
        return pp(x, lang=lang)
    if m in MONEY_METRICS:
        return money(x, currency, signed=True)
    return num(x, 3, signed=True)


def money(x, currency: str = "KRW", signed: bool = False, lang: str = "en") -> str:
    """Format an amount of money: ``₩1,234`` (KRW has no decimals), ``$12.50``; ``—`` if missing;
    rounded half up (:func:`half_up`). In Korean, won read as a Korean reader writes them
    (:func:`won`: ``5,740만 원``).

    Examples
    --------
    >>> money(-1234.5, "KRW"), money(1234.5, "KRW", signed=True), money(3.5, "USD")
    ('−₩1,235', '+₩1,235', '$3.50')
    """
    if not _finite(x):
        return "—"
    if lang == "ko" and str(currency).upper() == "KRW":
        return won(x, signed)
    symbol, dec = CURRENCIES.get(str(currency).upper(), (f"{currency} ", 2))
    x = float(x)
    body = f"{symbol}{half_up(abs(x), dec):,.{dec}f}"
    if half_up(abs(x), dec) == 0:
        return body
    if x < 0:
        return "−" + body
    return ("+" + body) if signed else body


def pct(x, digits: int = 1, signed: bool = False) -> str:
    """A share as a percentage: ``12.3%``."""
    if not _finite(x):
        return "—"
    s = f"{100 * float(x):{'+' if signed else ''}.{digits}f}%"
    return s.replace("-", "−")


def prob(p) -> str:
    """A probability as a whole percentage, kept off 0% and 100% (``<1%``, ``>99%``): an
    estimated probability is never a certainty, so it never reads as one.

    Examples
    --------
    >>> prob(0.874), prob(0.9996), prob(0.0), prob(None)
    ('87%', '>99%', '<1%', '—')
    """
    if not _finite(p):
        return "—"
    v = float(p)
    if v < 0.005:
        return "<1%"
    if v > 0.995:
        return ">99%"
    return f"{half_up(100 * v):.0f}%"


def pp(x, digits: int = 1, lang: str = "en") -> str:
    """A difference of shares in percentage points: ``+1.2 pp`` (``+1.2%p`` in Korean).

    Examples
    --------
    >>> pp(0.0123), pp(-0.0123, lang="ko")
    ('+1.2 pp', '−1.2%p')
    """
    if not _finite(x):
        return "—"
    unit = "%p" if lang == "ko" else " pp"
    return f"{100 * float(x):+.{digits}f}{unit}".replace("-", "−")


def num(x, digits: int = 2, signed: bool = False) -> str:
    """A plain number with thousands separators."""
    if not _finite(x):
        return "—"
    return f"{float(x):{'+' if signed else ''},.{digits}f}".replace("-", "−")


#: Characters that are Markdown (or math) syntax anywhere in a line; backslash-escaped (``:``
#: because renderers turn a bare ``https://...`` into a link).
_MD_INLINE = frozenset("\\`*_[]!$~|#:")
#: Characters that start a block (list, heading, rule, setext underline) at a line's start.
_MD_LEADING = frozenset("-+=")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_ORDERED = re.compile(r"^(\d+)([.)])")


def md_escape(text) -> str:
    r"""``text`` as literal words inside Markdown: no markup, no link, no HTML, one line.

    Report sections are Markdown; any text that comes from a spec or from the data (a title, an
    arm label, a campaign name, a reason) goes through here before it joins them. ``& < >``
    become HTML entities (no tag, no entity, no autolink survives); the characters of links,
    images, bare URLs, emphasis, code, math and tables (``\ ` * _ [ ] ! $ ~ | # :``) are
    backslash-escaped; a leading ``- + =`` or ``1.`` is escaped too (no list or heading can
    start with the text);
    runs of white space, line breaks included, become one space (no block can start inside it).
    Rendered, the text reads exactly as given (white space collapsed, as HTML does anyway).

    Examples
    --------
    >>> print(md_escape("<b>5% off</b>"))
    &lt;b&gt;5% off&lt;/b&gt;
    >>> print(md_escape("[x](javascript:alert(1))"))
    \[x\](javascript\:alert(1))
    >>> print(md_escape("- 1_000 *new*\n# customers"))
    \- 1\_000 \*new\* \# customers
    """
    text = " ".join(str(text).split())
    out = "".join(_MD_ENTITIES.get(ch) or ("\\" + ch if ch in _MD_INLINE else ch)
                  for ch in text)
    if out[:1] in _MD_LEADING:
        return "\\" + out
    return _MD_ORDERED.sub(r"\1\\\2", out, count=1)


# --------------------------------------------------------------------------- Korean particles
#: particle pairs: (after a final consonant, after a vowel); for (으)로 a final ㄹ reads as a vowel
_PAIRS = {"이/가": ("이", "가"), "은/는": ("은", "는"), "을/를": ("을", "를"),
          "과/와": ("과", "와"), "으로/로": ("으로", "로"), "이에요/예요": ("이에요", "예요"),
          "이나/나": ("이나", "나"), "이라/라": ("이라", "라")}
#: the final sound of a digit read in Sino-Korean (영 일 이 삼 사 오 육 칠 팔 구):
#: None = vowel, "ㄹ" = final ㄹ, "c" = another final consonant
_DIGIT_FINAL = {"0": "c", "1": "ㄹ", "2": None, "3": "c", "4": None, "5": None, "6": "c",
                "7": "ㄹ", "8": "ㄹ", "9": None}
#: Latin letters whose Korean reading ends in a consonant (엘 엠 엔 알)
_LETTER_FINAL = {"l": "ㄹ", "m": "c", "n": "c", "r": "ㄹ"}
#: units and symbols read aloud: % 퍼센트, pp/%p 포인트, ₩ 원, x 배 ...
_UNIT_FINAL = (("%p", None), ("pp", None), ("%", None), ("원", "c"), ("배", None))
_CLOSERS = {")": "(", "]": "[", "」": "「", "'": "'", '"': '"', "’": "‘", "”": "“"}


def _final(word: str):
    """The final sound of ``word`` as read aloud: None (vowel), "ㄹ" or "c" (another
    consonant)."""
    w = str(word).rstrip()
    # a parenthetical or quoted tail is skipped: 전환율(±2%) reads as 전환율
    while w and w[-1] in _CLOSERS:
        closer, opener = w[-1], _CLOSERS[w[-1]]
        depth, i = 0, len(w) - 1
        if opener == closer:
            i = w.rfind(opener, 0, len(w) - 1)
        else:
            while i >= 0:
                depth += (w[i] == closer) - (w[i] == opener)
                if depth == 0:
                    break
                i -= 1
        if i <= 0:  # unbalanced, or the whole word is the parenthetical: read what is inside
            w = w.strip("".join(_CLOSERS) + "([「‘“").rstrip()
            break
        w = w[:i].rstrip()
    if not w:
        return None
    for unit, final in _UNIT_FINAL:
        if w.endswith(unit):
            return final
    ch = w[-1]
    if "가" <= ch <= "힣":
        jong = (ord(ch) - 0xAC00) % 28
        return None if jong == 0 else ("ㄹ" if jong == 8 else "c")
    if ch.isdigit():
        if "₩" in w:  # ₩8,665 reads 8,665 원
            return "c"
        return _DIGIT_FINAL[ch]
    if ch.isascii() and ch.isalpha():
        tail = w[-2:].lower()
        if w[-1].isupper() or len(w) == 1:  # an acronym, read letter by letter
            return _LETTER_FINAL.get(ch.lower())
        if tail in ("ng", "ck"):
            return "c"
        return {"l": "ㄹ", "m": "c", "n": "c", "k": "c", "p": "c", "t": "c", "b": "c",
                "d": "c", "g": "c"}.get(ch.lower())
    return None


def josa(word, pair: str) -> str:
    """The particle of ``pair`` that follows ``word``: 은/는, 이/가, 을/를, 과/와, 으로/로.

    The choice follows the final sound of ``word`` read aloud: Hangul by its final consonant
    (ㄹ counts as a vowel before 로), digits in Sino-Korean (0 1 3 6 7 8 end in a consonant),
    ``%`` as 퍼센트 and ``pp``/``%p`` as 포인트 (vowels), ``원``/``₩`` as 원 (a consonant),
    Latin acronyms by their letter names (L M N R end in a consonant); a closing parenthesis
    is skipped.

    Examples
    --------
    >>> josa("전환율", "이/가"), josa("매출", "을/를"), josa("3%", "이/가"), josa("₩8,665", "을/를")
    ('이', '을', '가', '을')
    >>> josa("서울", "으로/로"), josa("30일", "으로/로"), josa("SMS", "은/는"), josa("1.2%p", "과/와")
    ('로', '로', '는', '와')
    """
    pair = {"(으)로": "으로/로", "이(가)": "이/가", "을(를)": "을/를", "은(는)": "은/는",
            "과(와)": "과/와"}.get(pair, pair)
    if pair not in _PAIRS:
        raise ValueError(f"unknown particle pair {pair!r}; one of {sorted(_PAIRS)}")
    cons, vow = _PAIRS[pair]
    final = _final(word)
    if pair == "으로/로":
        return cons if final == "c" else vow
    return cons if final else vow


#: a particle placeholder left by a template: 이(가) 을(를) 은(는) 과(와) (으)로 와(과) 가(이)
_PLACEHOLDER = re.compile(r"이\(가\)|가\(이\)|을\(를\)|를\(을\)|은\(는\)|는\(은\)|과\(와\)"
                          r"|와\(과\)|\(으\)로|\(이\)나|\(이\)라")
_PLACEHOLDER_PAIR = {"이(가)": "이/가", "가(이)": "이/가", "을(를)": "을/를", "를(을)": "을/를",
                     "은(는)": "은/는", "는(은)": "은/는", "과(와)": "과/와", "와(과)": "과/와",
                     "(으)로": "으로/로", "(이)나": "이나/나", "(이)라": "이라/라"}


def attach_josa(text: str) -> str:
    """Every particle placeholder in ``text`` (``이(가)``, ``을(를)``, ``(으)로`` ...)
    replaced by the particle that fits the word before it.

    Examples
    --------
    >>> attach_josa("구매 전환율이(가) 3%p 높고 ₩0을(를) 넘어 30일(으)로")
    '구매 전환율이 3%p 높고 ₩0을 넘어 30일로'
    """
    out, last = [], 0
    for m in _PLACEHOLDER.finditer(text):
        before = text[:m.start()]
        out.append(text[last:m.start()])
        out.append(josa(before, _PLACEHOLDER_PAIR[m.group(0)]))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def won(x, signed: bool = False) -> str:
    """An amount in won as a Korean reader writes it: ``8,665원``, ``393,450원``,
    ``5,740만 원``, ``1억 2,300만 원`` (만 units from a million won on).

    Examples
    --------
    >>> won(57_400_000), won(-8665), won(123_456_789, signed=True), won(0)
    ('5,740만 원', '−8,665원', '+1억 2,346만 원', '0원')
    """
    if not _finite(x):
        return "—"
    v = float(x)
    a = abs(v)
    if a >= 1e8:
        man = int(half_up(a / 1e4))
        eok, rest = divmod(man, 10_000)
        body = f"{eok:,}억" + (f" {rest:,}만 원" if rest else " 원")
    elif a >= 1e6:
        body = f"{int(half_up(a / 1e4)):,}만 원"
    else:
        body = f"{half_up(a):,.0f}원"
    if half_up(a) == 0:
        return body
    if v < 0:
        return "−" + body
    return ("+" + body) if signed else body
