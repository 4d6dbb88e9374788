"""The decision rule (numbers and states only; the sentences are in :mod:`.narration`).

Every judgement rests on an interval or a probability, never on a point estimate alone:

- a direction (up / down) is claimed only when the interval excludes zero, else ``unclear``;
- ``pays`` when ``p_profitable`` (the bootstrap confidence that the incremental profit is
  positive) is at least the rule's ``min_p_profitable``; ``loses`` when the profit interval lies
  below zero; else ``unclear``;
- per arm: **stop** when harm is shown (primary or LTV interval below zero, a guardrail
  breached, or money lost without a primary gain); **ship** when every requirement holds
  (primary interval above zero, ``P(LTV lift >= min_ltv_lift)`` and ``p_profitable`` at least
  ``min_p_profitable``, no guardrail breached and every judged one within its allowance with
  that same confidence, :func:`guardrails_allow`); **iterate** when the primary
  effect is shown but something else is not; **inconclusive** otherwise — together with what
  would settle it (:func:`settle`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crmlab.campaign.guardrails import BREACHED, NOT_JUDGED, NOT_SETTLED


def direction(lo: float, hi: float) -> str:
    """``up`` when the interval lies above zero, ``down`` below, else ``unclear``."""
    if np.isfinite(lo) and lo > 0:
        return "up"
    if np.isfinite(hi) and hi < 0:
        return "down"
    return "unclear"


def settle(primary_row: pd.Series, metric: str, table: pd.DataFrame, arm: str, control: str,
           alpha: float, power: float = 0.8) -> dict:
    """What would settle an unclear primary effect: the smallest effect this test detects at
    ``power`` (its MDE), and the holdout needed (at the arm's current size) and audience needed
    (at the current split) to detect the observed effect (:mod:`crmlab.abtest.design`).

    Returns ``mde``, ``n_control``, ``n_treatment``, ``observed``, ``n_control_needed``,
    ``audience_needed``, ``holdout_share_needed`` (``None`` when the observed effect is not a
    gain, or no split of the current audience reaches the power).
    """
    from crmlab.abtest import design

    n_c = primary_row.get("control_n")
    n_c = int((table["arm"] == control).sum()) if n_c is None or pd.isna(n_c) else int(n_c)
    n_t = int(primary_row["n"])
    ratio = n_t / n_c if n_c else float("nan")
    obs = float(primary_row["abs_lift"])
    out = dict(mde=float("nan"), n_control=n_c, n_treatment=n_t, observed=obs,
               n_control_needed=None, audience_needed=None, holdout_share_needed=None,
               power=power)
    if n_c < 2 or n_t < 2:
        return out
    total = n_c + n_t
    if metric in ("conversion", "visit"):
        p_c = float(primary_row["control_value"])
        if not 0 < p_c < 1:
            return out
        try:
            out["mde"] = float(design.mde_proportions(p_c, n_c, alpha=alpha, power=power,
                                                      ratio=ratio))
        except ValueError:
            pass
        if obs > 0 and p_c + obs < 1:
            need = design.sample_size_proportions(p_c, p_c + obs, alpha=alpha, power=power,
                                                  ratio=ratio)
            out["n_control_needed"] = int(math.ceil(float(need)))
            out["audience_needed"] = int(math.ceil(float(need) * (1 + ratio)))

            def pw(h):
                return float(design.power_proportions(p_c, p_c + obs, h * total, alpha=alpha,
                                                      ratio=(1 - h) / h))
    else:
        col = {"revenue": "revenue", "orders": "orders"}.get(metric, metric)
        if table is None or col not in table:
            return out
        sd = float(table.loc[table["arm"] == control, col].std(ddof=1))
        if not sd > 0:
            return out
        out["mde"] = float(design.mde_means(sd, n_c, alpha=alpha, power=power, ratio=ratio))
        if obs > 0:
            need = design.sample_size_means(obs, sd, alpha=alpha, power=power, ratio=ratio)
            out["n_control_needed"] = int(math.ceil(float(need)))
            out["audience_needed"] = int(math.ceil(float(need) * (1 + ratio)))

            def pw(h):
                return float(design.power_means(obs, sd, h * total, alpha=alpha,
                                                ratio=(1 - h) / h))
    if out["n_control_needed"] is not None:
        # the holdout share of this audience that gives the power (the best split is near 1/2)
        h0 = n_c / total
        if pw(0.5) >= power:
            grid = np.linspace(min(h0, 0.5), 0.5, 200)
            ok = [h for h in grid if pw(h) >= power]
            out["holdout_share_needed"] = float(ok[0]) if ok else None
    return out


def guardrails_allow(g: pd.DataFrame) -> bool:
    """Whether an arm's guardrails allow shipping: none breached, and every judged one within
    its allowance at the decision's confidence (``decision_upper``, the one-sided
    ``min_p_profitable`` upper bound, at most the allowance). A guardrail that could not be
    judged does not count either way."""
    if len(g) == 0:
        return True
    if (g["state"] == BREACHED).any():
        return False
    judged = g[g["state"] != NOT_JUDGED]
    upper = judged["decision_upper"] if "decision_upper" in judged else judged["ci_high"]
    return bool((upper.astype(float) <= judged["threshold"].astype(float)).all())


def guardrails_unmet(g: pd.DataFrame) -> list[str]:
    """The guardrail metrics that keep :func:`guardrails_allow` from holding: breached, or
    judged with their decision bound above the allowance (in the rows' order, once each)."""
    out = []
    for _, r in g.iterrows():
        if r["state"] == NOT_JUDGED:
            continue
        upper = r["decision_upper"] if "decision_upper" in r.index else r["ci_high"]
        if r["state"] == BREACHED or not float(upper) <= float(r["threshold"]):
            if r["metric"] not in out:
                out.append(str(r["metric"]))
    return out


#: the requirements of a ship, in the order the verdict names the ones that fail
REQUIREMENTS = ("primary", "profit", "ltv", "guardrails")


def requirements(rule: dict, primary_dir: str, p_ltv: float, p_profitable: float,
                 guards_allow: bool) -> dict[str, bool]:
    """Whether each requirement of a ship holds (a requirement the rule does not ask for
    holds): ``primary`` (interval above zero), ``profit`` (``p_profitable >=
    min_p_profitable``), ``ltv`` (``P(LTV lift >= min_ltv_lift) >= min_p_profitable``) and
    ``guardrails`` (:func:`guardrails_allow`)."""
    min_p = rule["min_p_profitable"]
    return dict(
        primary=primary_dir == "up" or not rule["require_primary_significant"],
        profit=bool(np.isfinite(p_profitable) and p_profitable >= min_p)
        or not rule["require_positive_roi"],
        ltv=bool(np.isfinite(p_ltv) and p_ltv >= min_p),
        guardrails=bool(guards_allow) or not rule["require_guardrails"])


def arm_decision(rule: dict, primary_dir: str, ltv_dir: str, p_ltv: float, profit_dir: str,
                 p_profitable: float, guard_states: list[str],
                 guards_allow: bool | None = None) -> str:
    """One arm's decision from the states of its evidence (see the module docstring)."""
    breached = BREACHED in guard_states
    unsettled = NOT_SETTLED in guard_states
    if guards_allow is None:
        guards_allow = not (breached or unsettled)
    harm = primary_dir == "down" or ltv_dir == "down" or (rule["require_guardrails"] and breached)
    if harm or (profit_dir == "down" and primary_dir != "up"):
        return "stop"
    if all(requirements(rule, primary_dir, p_ltv, p_profitable, guards_allow).values()):
        return "ship"
    if primary_dir == "up":
        return "iterate"
    return "inconclusive"


def campaign_decision(per_arm: pd.DataFrame, srm_flag: bool) -> tuple[str, str | None]:
    """The campaign's decision and the arm it ships (the one with the largest incremental
    profit among the arms that ship)."""
    if srm_flag:
        return "inconclusive", None
    ships = per_arm[per_arm["decision"] == "ship"]
    if len(ships):
        best = ships.sort_values("incremental_profit", ascending=False).iloc[0]
        return "ship", str(best["arm"])
    d = per_arm["decision"]
    if (d == "stop").all():
        return "stop", None
    if (d == "iterate").any():
        return "iterate", None
    if (d == "stop").any():
        return "stop", None
    return "inconclusive", None
