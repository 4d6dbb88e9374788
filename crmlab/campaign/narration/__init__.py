"""Words for the numbers of a campaign evaluation, in English and Korean.

:mod:`crmlab.campaign.evaluation` computes numbers only; its verdict is a list of findings
(codes and numbers, :mod:`crmlab.campaign.findings`), its notes and exclusions are codes too.
This package turns them into sentences: :func:`narrate` fills ``ev.verdict.headline`` and
``ev.verdict.reasons`` in the report language (``crmlab.campaign.evaluate`` calls it), and
:func:`finding_text`, :func:`note_text`, :func:`exclusion_text` render one item.

Every sentence that states a direction ("rose", "pays", "loses money") was chosen by the
finding's code, which the evaluation sets only when the interval behind it excludes zero.
Korean sentences get their particles from :func:`crmlab.i18n.attach_josa` and their direction
words from the sign (``8,665원 감소``, never ``증가 −₩8,665``).
"""
from __future__ import annotations

import math
import re

import numpy as np

from crmlab import i18n
from crmlab.campaign.findings import profit_state  # noqa: F401  (re-exported)
from crmlab.campaign.narration.labels import (  # noqa: F401  (re-exported)
    CONTROL,
    arm_label,
    check_label,
    covariate_label,
    level_label,
    metric_name,
    segment_label,
    step_label,
)
from crmlab.campaign.narration import labels
from crmlab.campaign.narration.texts import TEXT

RATE_METRICS = i18n.RATE_METRICS
MONEY_METRICS = i18n.MONEY_METRICS


def t(key: str, lang: str, **kw) -> str:
    """The sentence ``key`` in ``lang`` with its values; Korean particles resolved."""
    text = TEXT[key]
    out = text.get(lang, text["en"]).format(**kw)
    return i18n.attach_josa(out) if lang == "ko" else out


def level_text(alpha: float) -> str:
    """A confidence level from its alpha: ``95%``, ``97.5%``, ``98.33%``."""
    text = f"{1 - alpha:.2%}".replace(".00%", "%")
    return text.replace("0%", "%") if text.endswith("0%") and "." in text else text


def metric_fmt(metric: str, currency: str, lang: str = "en", signed: bool = True):
    """The formatter of a difference in ``metric``: pp for rates, money, else a number."""
    if metric in RATE_METRICS:
        if signed:
            return lambda v: i18n.pp(v, lang=lang)
        return lambda v: i18n.pp(v, lang=lang).lstrip("+−")
    if metric in MONEY_METRICS:
        return lambda v: i18n.money(v, currency, signed=signed, lang=lang)
    return lambda v: i18n.num(v, 3, signed=signed)


def change(v, fmt_abs, lang: str, fmt_signed=None) -> str:
    """A change with its direction: ``8,665원 감소`` in Korean, ``−₩8,665`` in English."""
    if v is None or not np.isfinite(v):
        return "—"
    if lang == "ko":
        if fmt_abs(abs(v)) == fmt_abs(0.0):
            return "변화 없음"
        return f"{fmt_abs(abs(v))} {'증가' if v > 0 else '감소'}"
    return (fmt_signed or fmt_abs)(v)


def _ci(lo, hi, fmt, alpha, lang):
    return i18n.t("ci", lang, level=level_text(alpha), lo=fmt(lo), hi=fmt(hi))


def finding_text(f: dict, lang: str, currency: str, arm=None) -> str:
    """One finding (:mod:`crmlab.campaign.findings`) as a sentence; ``arm`` maps an arm id to
    its label (default :func:`arm_label`)."""
    code = f["code"]
    label = arm or (lambda a: arm_label(a, lang))
    a = label(f["arm"]) if f.get("arm") is not None else ""
    money = lambda v: i18n.money(v, currency, signed=True, lang=lang)  # noqa: E731
    plain = lambda v: i18n.money(v, currency, lang=lang)  # noqa: E731
    pct = lambda v: i18n.pct(v, 0)  # noqa: E731
    if code == "srm":
        return i18n.t("reason.srm", lang, p=f"{f['p']:.2g}")
    if code == "exploratory":
        return i18n.t("reason.exploratory", lang,
                      reason=f.get("reason") or i18n.t("report.short_horizon", lang))
    if code == "multiple_arms":
        return i18n.t("reason.multiple_arms", lang, k=f["k"], level=level_text(f["alpha"]),
                      overall=level_text(f["overall_alpha"]))
    if code == "horizon_partial":
        return i18n.t("reason.horizon_partial", lang, rows=f"{f['rows']:,}",
                      days=f"{f['days']:g}")
    if code.startswith("primary."):
        m = f["metric"]
        fs, fa = metric_fmt(m, currency, lang), metric_fmt(m, currency, lang, signed=False)
        lift = fa(f["lift"]) if code != "primary.unclear" or lang == "en" else fs(f["lift"])
        if code == "primary.unclear" and lang == "en":
            lift = fs(f["lift"])
        return t(code, lang, arm=a, metric=metric_name(m, lang), lift=lift,
                 chg=change(f["lift"], fa, lang, fs),
                 ci=_ci(f["ci_low"], f["ci_high"], fs, f["alpha"], lang))
    if code == "settle.mde":
        return t(code, lang, mde=metric_fmt(f["metric"], currency, lang, signed=False)(f["mde"]))
    if code == "settle.no_gain":
        return t(code, lang)
    if code in ("settle.share", "settle.audience"):
        fa = metric_fmt(f["metric"], currency, lang, signed=lang == "en")
        return t(code, lang, lift=fa(f["observed"]), n_c=f"{f['n_control']:,}",
                 n_t=f"{f['n_treatment']:,}", total=f"{f['audience']:,}",
                 share=pct(f.get("share")))
    if code.startswith("ltv."):
        plain_abs = lambda v: i18n.money(abs(v), currency, lang=lang)  # noqa: E731
        lift = money(f["lift"]) if code == "ltv.unclear" or lang == "en" else plain_abs(f["lift"])
        return t(code, lang, arm=a, days=f"{f['days']:g}", lift=lift,
                 chg=change(f["lift"], plain_abs, lang, money),
                 ci=_ci(f["ci_low"], f["ci_high"], money, f["alpha"], lang))
    if code == "profit.costs":
        return t(code, lang, arm=a, total=plain(f["total"]), send=plain(f["send"]),
                 sends=f"{f['sends']:,}", coupon=plain(f["coupon"]),
                 be=plain(f["break_even"]), days=f"{f['days']:g}")
    if code.startswith("profit."):
        return t(code, lang, arm=a, profit=money(f["profit"]),
                 ci=_ci(f["ci_low"], f["ci_high"], money, f["alpha"], lang), p=i18n.prob(f["p"]),
                 min=pct(f["min_p"]))
    if code == "guard.decision_ok":
        return t(code, lang, arm=a, metric=metric_name(f["metric"], lang), min=pct(f["min_p"]),
                 upper=i18n.pp(f["upper"], lang=lang))
    if code.startswith("guard."):
        pp = lambda v: i18n.pp(v, lang=lang)  # noqa: E731
        why = f.get("why")
        why_text = t(f"why.{why}", lang) if why and f"why.{why}" in TEXT else (why or "")
        return t(code, lang, arm=a, metric=metric_name(f["metric"], lang), lift=pp(f["lift"]),
                 ci=_ci(f["ci_low"], f["ci_high"], pp, f["alpha"], lang),
                 thr=pp(f["threshold"]).lstrip("+"), why=why_text)
    raise KeyError(f"no sentence for finding {code!r}")


def unmet_text(u: dict, lang: str, currency: str) -> str:
    """One requirement of a ship that is not met (``Verdict.unmet``) as a clause."""
    req = u["requirement"]
    if req == "ltv":
        days = f"{u['days']:g}"
        if u.get("min_ltv_lift", 0) > 0:
            return t("unmet.ltv_min", lang, days=days,
                     min=i18n.money(u["min_ltv_lift"], currency, lang=lang))
        return t("unmet.ltv", lang, days=days)
    if req == "guardrail":
        if not u.get("metric"):
            return t("unmet.guardrails", lang)
        return t("unmet.guardrail", lang, metric=metric_name(u["metric"], lang))
    if req == "primary":
        return t("unmet.primary", lang, metric=metric_name(u["metric"], lang))
    return t(f"unmet.{req}", lang)


def harm_text(h: dict, lang: str) -> str:
    """One harm a ``stop`` shows (``Verdict.harms``) as a clause."""
    kind = h["harm"]
    if kind in ("guardrail", "primary"):
        return t(f"harm.{kind}", lang, metric=metric_name(h["metric"], lang))
    if kind == "ltv":
        return t("harm.ltv", lang, days=f"{h['days']:g}")
    return t(f"harm.{kind}", lang)


def _join(parts: list[str], lang: str, last: str = "and") -> str:
    if lang == "ko" or len(parts) < 2:
        return ", ".join(parts)
    return ", ".join(parts[:-1]) + f"{',' if len(parts) > 2 else ''} {last} " + parts[-1]


def headline_text(decision: str, arm: str | None, lang: str, label=None, *,
                  unmet=None, metric: str | None = None, currency: str = "KRW",
                  harms=None) -> str:
    """The verdict's one-sentence headline; an ``iterate`` names the requirements its arms do
    not meet (``unmet``, :attr:`crmlab.campaign.findings.Verdict.unmet`) after the primary
    ``metric`` it moved; a ``stop`` names the harm shown (``harms``)."""
    label = label or (lambda a: arm_label(a, lang))
    if decision == "ship":
        return t("headline.ship", lang, arm=label(arm) if arm else "")
    if decision == "stop" and harms:
        text = _join([harm_text(h, lang) for h in harms], lang)
        return t("headline.stop", lang, harms=text[:1].upper() + text[1:])
    if decision == "iterate" and unmet and metric:
        name = metric_name(metric, lang)
        return t("headline.iterate", lang, metric=name[:1].upper() + name[1:],
                 unmet=_join([unmet_text(u, lang, currency) for u in unmet], lang, "or"))
    return i18n.t(f"decision.headline.{decision}", lang)


def verdict_texts(verdict, lang: str, currency: str, label=None) -> tuple[str, list[str]]:
    """``(headline, reasons)`` of a :class:`crmlab.campaign.findings.Verdict`; an
    ``inconclusive`` headline adds the smallest effect the test detects (its first
    ``settle.mde`` finding), the reason the data cannot tell."""
    head = headline_text(verdict.decision, verdict.arm, lang, label,
                         unmet=getattr(verdict, "unmet", None),
                         metric=getattr(verdict, "primary_metric", None), currency=currency,
                         harms=getattr(verdict, "harms", None))
    if verdict.decision == "inconclusive":
        mde = [f for f in verdict.findings if f.get("code") == "settle.mde"
               and f.get("mde") is not None and np.isfinite(f["mde"])]
        if mde:
            head += " " + finding_text(mde[0], lang, currency, label)
    return head, [finding_text(f, lang, currency, label) for f in verdict.findings]


def narrate(ev, lang: str | None = None):
    """Fill ``ev.verdict.headline`` and ``ev.verdict.reasons`` in ``lang`` (default the
    evaluation's language, which ``lang`` then becomes) and return ``ev``."""
    if lang is not None:
        ev.lang = lang
    label = lambda a: arm_label(a, ev.lang, ev.spec)  # noqa: E731
    ev.verdict.headline, ev.verdict.reasons = verdict_texts(ev.verdict, ev.lang, ev.currency,
                                                            label)
    return ev


#: what the statistics do about an arm with fewer than 30 customers (crmlab.abtest)
_SMALL_WHAT = {
    "an exact method is used": "정확 검정을 사용합니다",
    "the p-value comes from a permutation test": "p-값은 순열 검정으로 구했습니다",
    "Fisher's exact test is used for those comparisons": "해당 비교에는 피셔의 정확 검정을 "
                                                         "사용합니다",
    "the delta-method normal approximation may be poor (no exact method)":
        "델타 방법의 정규 근사가 부정확할 수 있습니다(정확한 방법 없음)",
    "the log-rank and Cox results rely on large-sample approximations":
        "로그순위 검정과 콕스 모형 결과는 대표본 근사에 기댑니다",
    "Welch intervals may be inaccurate (use means() for exact tests)":
        "웰치 신뢰구간이 부정확할 수 있습니다",
}
_SMALL = re.compile(r"^[^:]*: arm\(s\) with fewer than (?P<min>\d+) customers \((?P<arms>.*)\); "
                    r"(?P<what>.*)$", re.S)


def _warning_text(message: str, lang: str, label) -> str | None:
    """A small-sample warning of :mod:`crmlab.abtest` in words (None: not one)."""
    m = _SMALL.match(message)
    if not m or m["what"] not in _SMALL_WHAT:
        return None
    arms = re.findall(r"'([^']*)': (\d+)", m["arms"])
    if not arms:
        return None
    cells = ", ".join(f"{label(a)} {int(n):,}" for a, n in arms)
    what = _SMALL_WHAT[m["what"]] if lang == "ko" else m["what"]
    return t("note.small_sample", lang, min=m["min"], arms=cells, what=what)


def note_text(note, lang: str, label=None) -> str:
    """One evaluation note (a dict with a ``code``, or a plain text) as a sentence; ``label``
    maps an arm id to its label (default :func:`arm_label`)."""
    if not isinstance(note, dict):
        return str(note)
    code = note["code"]
    label = label or (lambda a: arm_label(a, lang))
    if code == "warning" and note.get("category") == "SmallSampleWarning":
        text = _warning_text(str(note.get("message", "")), lang, label)
        if text is not None:
            return text
    kw = {k: v for k, v in note.items() if k != "code"}
    if "channel" in kw:
        kw["channel"] = labels.channel_label(kw["channel"], lang)
    if code == "sequential":
        kw["p"] = f"{kw['p']:.4f}"
    if code == "secondary_unmeasurable":
        kw["metric"] = metric_name(kw["metric"], lang)
    if code.startswith("segment_"):
        kw["segment"] = segment_label(kw["segment"], lang)
    if code == "block_rate_no_baseline":
        kw["min"] = kw.pop("min_sends")
    if "sends" in kw and isinstance(kw["sends"], int):
        kw["sends"] = f"{kw['sends']:,}"
    return t(f"note.{code}", lang, **kw)


def exclusion_text(code: str, days, lang: str) -> str:
    d = f"{float(days):g}" if days is not None and not _nan(days) else "—"
    return t(f"excl.{code}", lang, days=d)


def _nan(v) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def economics_lines(econ_rows, *, lang: str, currency: str, alpha: float,
                    horizon_days: float, min_p: float) -> list[str]:
    """One paragraph per arm: revenue, margin, cost, profit with its interval and probability,
    and the cost split (sends, coupons) with the break-even lift."""
    money = lambda v: i18n.money(v, currency, signed=True, lang=lang)  # noqa: E731
    plain = lambda v: i18n.money(v, currency, lang=lang)  # noqa: E731
    out = []
    for _, e in econ_rows.iterrows():
        a, days = e["arm"], f"{horizon_days:g}"
        if np.isfinite(e["incremental_profit"]):
            out.append(t("econ.profit", lang, arm=a, days=days,
                         rev=money(e["incremental_revenue"]),
                         rci=_ci(e["incremental_revenue_ci_low"],
                                 e["incremental_revenue_ci_high"], money, alpha, lang),
                         m=i18n.pct(e["margin_rate"], 0), margin=money(e["incremental_margin"]),
                         cost=plain(e["incremental_cost"]), profit=money(e["incremental_profit"]),
                         pci=_ci(e["profit_ci_low"], e["profit_ci_high"], money, alpha, lang),
                         p=i18n.prob(e["p_profitable"])))
        if e["total_cost"] > 0:
            out.append(t("profit.costs", lang, arm=a, total=plain(e["total_cost"]),
                         send=plain(e["send_cost"]), sends=f"{int(e['sends']):,}",
                         coupon=plain(e["coupon_cost"]), be=plain(e["break_even_lift"]),
                         days=days))
    return out


def ratio_text(e, lang: str, kind: str = "roi") -> str:
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
    key = "state." + str(state).replace(" ", "_")
    return t(key, lang) if key in TEXT else str(state)


def _covariate_words(covs: str, lang: str) -> str:
    """``pre_revenue, tenure_days`` as the words of a sentence (``cov.*`` texts)."""
    return ", ".join(t(f"cov.{c}", lang) if f"cov.{c}" in TEXT else c for c in covs.split(", "))


def profit_adjustment_text(covs: str, arm: str, lang: str, raw: str) -> str:
    """The sentence saying that an arm's profit and revenue lift are regression-adjusted, with
    the unadjusted profit."""
    return t("adjusted_profit", lang, arm=arm, covs=_covariate_words(covs, lang), raw=raw)


def adjustment_text(row, lang: str, fmt) -> str | None:
    """What a regression-adjusted difference was adjusted for, with the raw difference."""
    covs = row.get("covariates")
    if not isinstance(covs, str) or not covs:
        return None
    return t("adjusted", lang, covs=_covariate_words(covs, lang),
             raw=fmt(row["unadjusted_abs_lift"]))
