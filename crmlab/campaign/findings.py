"""The verdict as structured findings: codes and numbers, no words.

Each finding is a dict with a ``code`` (``primary.up``, ``profit.likely``, ``guard.breached``,
``settle.share``, ``srm`` ...) and the numbers behind it (``arm``, ``metric``, ``lift``,
``ci_low``, ``ci_high``, ``alpha`` ...). :mod:`crmlab.campaign.narration` turns them into
sentences in each report language; ``results.json`` keeps both (``verdict.findings`` and the
rendered ``verdict.reasons``). The decisive arm's findings come first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.campaign import decision
from crmlab.campaign import guardrails as guard_


@dataclass
class Verdict:
    """The decision (``ship``, ``iterate``, ``stop`` or ``inconclusive``), the arm it is about
    (``None`` unless it ships an arm), its findings (codes and numbers, decisive first), one row
    per arm, and — once :func:`crmlab.campaign.narration.narrate` has run — the headline and
    the reasons as sentences in the report language."""

    decision: str
    arm: str | None
    findings: list[dict]
    per_arm: pd.DataFrame
    headline: str = ""
    reasons: list[str] = field(default_factory=list)
    #: for an ``iterate``: the requirements of a ship that its arms do not meet, in
    #: :data:`crmlab.campaign.decision.REQUIREMENTS` order — ``{"requirement": "profit"}``,
    #: ``{"requirement": "ltv", "days": .., "min_ltv_lift": ..}``, ``{"requirement":
    #: "guardrail", "metric": "unsubscribe_rate"}``, ``{"requirement": "primary", "metric": ..}``
    unmet: list[dict] = field(default_factory=list)
    #: the primary metric (the headline of an ``iterate`` names it)
    primary_metric: str | None = None
    #: for a ``stop``: the harm its arms show, each once — ``{"harm": "guardrail", "metric":
    #: ..}``, ``{"harm": "primary", "metric": ..}``, ``{"harm": "ltv", "days": ..}``,
    #: ``{"harm": "loss"}`` (money lost without a primary gain)
    harms: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"decision": self.decision, "arm": self.arm, "headline": self.headline,
                "reasons": list(self.reasons), "findings": [dict(f) for f in self.findings],
                "unmet_requirements": [dict(u) for u in self.unmet],
                "harms": [dict(h) for h in self.harms]}


def _f(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return v


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


def arm_findings(a: str, *, metric: str, primary, p_alpha: float, alpha: float,
                 settle: dict | None, lt, econ, guards: pd.DataFrame, horizon_days: float,
                 min_p: float) -> list[dict]:
    """The findings of one arm: primary effect, what would settle it, LTV, profit, costs,
    guardrails."""
    out = []
    d = decision.direction(primary["ci_low"], primary["ci_high"])
    out.append(dict(code=f"primary.{d}", arm=a, metric=metric, lift=_f(primary["abs_lift"]),
                    ci_low=_f(primary["ci_low"]), ci_high=_f(primary["ci_high"]),
                    alpha=p_alpha))
    if d == "unclear" and settle is not None:
        if np.isfinite(settle["mde"]):
            out.append(dict(code="settle.mde", arm=a, metric=metric, mde=_f(settle["mde"]),
                            power=_f(settle.get("power", 0.8))))
        if settle["n_control_needed"] is None:
            out.append(dict(code="settle.no_gain", arm=a))
        else:
            ratio = settle["n_treatment"] / settle["n_control"]
            base = dict(arm=a, metric=metric, observed=_f(settle["observed"]),
                        n_control=int(settle["n_control_needed"]),
                        n_treatment=int(math.ceil(settle["n_control_needed"] * ratio - 1e-9)),
                        audience=int(settle["audience_needed"]))
            if settle["holdout_share_needed"] is not None:
                out.append(dict(code="settle.share", share=_f(settle["holdout_share_needed"]),
                                **base))
            else:
                out.append(dict(code="settle.audience", **base))
    if np.isfinite(lt["ltv_lift"]):
        ld = decision.direction(lt["ltv_ci_low"], lt["ltv_ci_high"])
        out.append(dict(code=f"ltv.{ld}", arm=a, days=float(horizon_days),
                        lift=_f(lt["ltv_lift"]), ci_low=_f(lt["ltv_ci_low"]),
                        ci_high=_f(lt["ltv_ci_high"]), alpha=alpha))
    if np.isfinite(econ["incremental_profit"]):
        out.append(dict(code=f"profit.{profit_state(econ, min_p)}", arm=a,
                        profit=_f(econ["incremental_profit"]), ci_low=_f(econ["profit_ci_low"]),
                        ci_high=_f(econ["profit_ci_high"]), p=_f(econ["p_profitable"]),
                        min_p=float(min_p), alpha=alpha))
    if econ["total_cost"] > 0:
        out.append(dict(code="profit.costs", arm=a, total=_f(econ["total_cost"]),
                        send=_f(econ["send_cost"]), sends=int(econ["sends"]),
                        coupon=_f(econ["coupon_cost"]), break_even=_f(econ["break_even_lift"]),
                        days=float(horizon_days)))
    for _, g in guards.iterrows():
        why = g.get("why")
        out.append(dict(code=f"guard.{str(g['state']).replace(' ', '_')}", arm=a,
                        metric=g["metric"], lift=_f(g["abs_lift"]), ci_low=_f(g["ci_low"]),
                        ci_high=_f(g["ci_high"]), threshold=_f(g["threshold"]),
                        why=why if isinstance(why, str) else None, alpha=alpha))
        up = _f(g.get("decision_upper", np.nan))
        if g["state"] == guard_.NOT_SETTLED and np.isfinite(up) and up <= g["threshold"]:
            out.append(dict(code="guard.decision_ok", arm=a, metric=g["metric"],
                            min_p=float(min_p), upper=up))
    return out


#: the findings that decide a stop or an iterate, shown before the others of their arm
DECISIVE = {
    "stop": ("guard.breached", "primary.down", "ltv.down", "profit.loses"),
    "iterate": ("guard.breached", "profit.loses", "ltv.down", "guard.not_settled",
                "profit.unclear", "ltv.unclear"),
}


def decisive_first(found: list[dict], dec: str) -> list[dict]:
    """``found`` with the findings that decide ``dec`` first (stable otherwise)."""
    keys = DECISIVE.get(dec, ())
    return sorted(found, key=lambda f: keys.index(f["code"]) if f["code"] in keys
                  else len(keys))


def build_verdict(s, integrity, primary, long_term, guardrails, economics, treatments,
                  arm_alpha, n_partial, *, control: str, primary_alpha=None,
                  table=None) -> Verdict:
    """The decision (:mod:`crmlab.campaign.decision`) and its findings, decisive first; ``s``
    is the evaluation's spec (``crmlab.campaign.evaluation._Spec``)."""
    p_alpha = arm_alpha if primary_alpha is None else primary_alpha
    rule = s.rule
    common = []
    if s.exploratory:
        common.append(dict(code="exploratory", reason=s.exploratory_reason))
    if len(treatments) > 1:
        common.append(dict(code="multiple_arms", k=len(treatments), alpha=arm_alpha,
                           overall_alpha=s.alpha))
    if n_partial:
        common.append(dict(code="horizon_partial", rows=int(n_partial),
                           days=float(s.horizon_days)))
    per_arm, by_arm = [], {}
    pr, lt, ec = primary.set_index("arm"), long_term.set_index("arm"), economics.set_index("arm")
    for a in treatments:
        p, l_, e = pr.loc[a], lt.loc[a], ec.loc[a]
        g = guardrails[guardrails["arm"] == a]
        p_dir = decision.direction(p["ci_low"], p["ci_high"])
        settle = (decision.settle(p, s.primary, table, a, control, p_alpha)
                  if p_dir == "unclear" and table is not None else None)
        l_dir = decision.direction(l_["ltv_ci_low"], l_["ltv_ci_high"])
        f_dir = decision.direction(e["profit_ci_low"], e["profit_ci_high"])
        states = list(g["state"]) if len(g) else []
        guard_ok = decision.guardrails_allow(g)
        d = decision.arm_decision(rule, p_dir, l_dir, l_["p_ltv_above_min"], f_dir,
                                  e["p_profitable"], states, guard_ok)
        meets = decision.requirements(rule, p_dir, l_["p_ltv_above_min"], e["p_profitable"],
                                      guard_ok)
        by_arm[a] = arm_findings(
            a, metric=s.primary, primary=p, p_alpha=p_alpha, alpha=arm_alpha, settle=settle,
            lt=l_, econ=e, guards=g, horizon_days=s.horizon_days,
            min_p=rule["min_p_profitable"])
        per_arm.append(dict(
            arm=a, decision=d, primary=p_dir, ltv=l_dir,
            profit=profit_state(e, rule["min_p_profitable"]),
            p_profitable=e["p_profitable"], p_ltv_above_min=l_["p_ltv_above_min"],
            guardrails=",".join(f"{m}:{st}" for m, st in zip(g["metric"], g["state"])),
            guardrails_allow=guard_ok,
            **{f"meets_{k}": v for k, v in meets.items()},
            guardrails_unmet=",".join(decision.guardrails_unmet(g)) if len(g) else "",
            primary_significant=p_dir == "up", primary_harm=p_dir == "down",
            ltv_harm=l_dir == "down", guardrail_harm=guard_.BREACHED in states,
            incremental_profit=e["incremental_profit"],
            mde=settle["mde"] if settle else np.nan,
            holdout_share_needed=settle["holdout_share_needed"] if settle else None,
            audience_needed=settle["audience_needed"] if settle else None))
    per = pd.DataFrame(per_arm)
    dec, arm = decision.campaign_decision(per, integrity["srm_flag"])
    if integrity["srm_flag"]:
        found = [dict(code="srm", p=_f(integrity["srm_p_value"]))]
        order = list(treatments)
    else:
        found = []
        if arm:
            order = [arm] + [x for x in treatments if x != arm]
        else:  # the arms whose own decision is the campaign's come first
            own = dict(zip(per["arm"], per["decision"])) if len(per) else {}
            order = sorted(treatments, key=lambda x: own.get(x) != dec)
    for x in order:
        found += decisive_first(by_arm[x], dec)
    unmet = unmet_requirements(per, dec, s) if not integrity["srm_flag"] else []
    harms = shown_harms(per, dec, s, guardrails) if not integrity["srm_flag"] else []
    return Verdict(decision=dec, arm=arm, findings=found + common, per_arm=per, unmet=unmet,
                   primary_metric=s.primary, harms=harms)


def shown_harms(per: pd.DataFrame, dec: str, s, guardrails: pd.DataFrame) -> list[dict]:
    """The harm the arms deciding a ``stop`` show (their ``*_harm`` flags and breached
    guardrails by metric), each once: guardrails first, then the primary metric, the LTV and
    money lost without a primary gain; empty for other decisions."""
    if dec != "stop" or not len(per):
        return []
    arms = per[per["decision"] == "stop"]
    out = []
    if s.rule["require_guardrails"]:
        g = guardrails[guardrails["arm"].isin(arms["arm"]) & (guardrails["state"] == guard_.BREACHED)]
        for m in dict.fromkeys(g["metric"]):
            out.append(dict(harm="guardrail", metric=str(m)))
    if arms["primary_harm"].astype(bool).any():
        out.append(dict(harm="primary", metric=s.primary))
    if arms["ltv_harm"].astype(bool).any():
        out.append(dict(harm="ltv", days=float(s.horizon_days)))
    if ((arms["profit"] == "loses") & ~arms["primary_significant"].astype(bool)).any():
        out.append(dict(harm="loss"))
    return out


def unmet_requirements(per: pd.DataFrame, dec: str, s) -> list[dict]:
    """The requirements of a ship that the arms deciding an ``iterate`` do not meet (their
    ``meets_*`` flags; guardrails by metric), each once, in
    :data:`crmlab.campaign.decision.REQUIREMENTS` order; empty for other decisions."""
    if dec != "iterate" or not len(per):
        return []
    arms = per[per["decision"] == "iterate"]
    out = []
    for req in decision.REQUIREMENTS:
        failing = arms[~arms[f"meets_{req}"].astype(bool)]
        if not len(failing):
            continue
        if req == "primary":
            out.append(dict(requirement="primary", metric=s.primary))
        elif req == "ltv":
            out.append(dict(requirement="ltv", days=float(s.horizon_days),
                            min_ltv_lift=float(s.rule["min_ltv_lift"])))
        elif req == "profit":
            out.append(dict(requirement="profit",
                            min_p=float(s.rule["min_p_profitable"])))
        else:
            metrics = []
            for names in failing["guardrails_unmet"]:
                metrics += [m for m in str(names).split(",") if m and m not in metrics]
            out += [dict(requirement="guardrail", metric=m) for m in metrics] \
                or [dict(requirement="guardrail", metric=None)]
    return out
