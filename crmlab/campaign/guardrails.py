"""Guardrail states (numbers only): within the limit, breached, not settled, not judged.

A guardrail compares an arm's rate with its baseline (the holdout, or the channel's usual block
rate) against the spec's ``max_increase`` (the allowance):

- ``within``: the interval's upper bound is at most the allowance (``breached = False``);
- ``breached``: the interval's lower bound is above the allowance (``breached = True``);
- ``not settled``: the interval contains the allowance (``breached = None``);
- ``not judged``: there is no comparison (no baseline, no sends; ``breached = None``), with
  the reason in ``why``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

WITHIN, BREACHED, NOT_SETTLED, NOT_JUDGED = "within", "breached", "not settled", "not judged"


def state(ci_low: float, ci_high: float, threshold: float) -> tuple[str, bool | None]:
    """``(state, breached)`` of one guardrail row from its interval and allowance."""
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return NOT_JUDGED, None
    if ci_low > threshold:
        return BREACHED, True
    if ci_high <= threshold:
        return WITHIN, False
    return NOT_SETTLED, None


def apply_states(rows: list[dict], threshold: float, why_not_judged: str | None) -> None:
    """Set ``threshold``, ``state``, ``breached`` and ``why`` on guardrail rows in place."""
    for r in rows:
        st, breached = state(r.get("ci_low", np.nan), r.get("ci_high", np.nan), threshold)
        r.update(threshold=threshold, state=st, breached=breached,
                 why=(why_not_judged or "no_comparison") if st == NOT_JUDGED else None)


def prior_sends(assignments, campaign_id, table: pd.DataFrame, days: float = 30) -> pd.Series:
    """Messages sent to each customer by any campaign in the ``days`` before their assignment
    to ``campaign_id`` (``[assigned_ts - days, assigned_ts)``, in the engine), indexed like
    ``table``."""
    import ibis

    if "sent_ts" not in assignments.columns:
        return pd.Series(np.nan, index=table.index)
    cur = assignments.filter(assignments.campaign_id == campaign_id).select(
        "customer_id", "assigned_ts")
    prior = assignments.filter(assignments.sent_ts.notnull()).select(
        pid="customer_id", sent_ts="sent_ts")
    j = cur.join(prior, cur.customer_id == prior.pid)
    j = j.filter((j.sent_ts >= j.assigned_ts - ibis.interval(seconds=int(days * 86400)))
                 & (j.sent_ts < j.assigned_ts))
    counts = j.group_by(["customer_id", "assigned_ts"]).aggregate(k=j.count()).to_pandas()
    key = table[["customer_id", "assigned_ts"]].merge(
        counts, on=["customer_id", "assigned_ts"], how="left")
    return pd.Series(key["k"].fillna(0).astype(int).to_numpy(), index=table.index)


FATIGUE_LEVELS = ((0, 0, "0"), (1, 1, "1"), (2, 3, "2-3"), (4, np.inf, "4+"))


def fatigue_levels(sends: pd.Series) -> pd.Series:
    """Fatigue level of each customer: ``0``, ``1``, ``2-3`` or ``4+`` prior sends."""
    out = pd.Series("unknown", index=sends.index, dtype=object)
    for lo, hi, name in FATIGUE_LEVELS:
        out[(sends >= lo) & (sends <= hi)] = name
    return out


def fatigue_effects(table: pd.DataFrame, levels: pd.Series, control: str, treatments,
                    alpha: float, min_arm: int = 30) -> pd.DataFrame:
    """Unsubscribe and block rates by fatigue level and arm: the unsubscribe effect against the
    holdout of the same level (difference of proportions; when that holdout received no message
    its rate is zero by design and the interval is the arm's rate's, never below zero,
    :func:`crmlab.campaign._stats.proportion_rows`), the block rate among the arm's sends
    (cells with fewer than ``min_arm`` customers in an arm are left out)."""
    from crmlab.campaign import _stats

    rows = []
    t = table.assign(fatigue=levels.to_numpy())
    for level, g in t.groupby("fatigue", sort=False):
        for a in treatments:
            ga, gc = g[g["arm"] == a], g[g["arm"] == control]
            if len(ga) < min_arm or len(gc) < min_arm:
                continue
            r = _stats.proportion_rows(pd.concat([ga, gc]), "unsubscribed", control, [a], alpha,
                                       metric="unsubscribe_rate",
                                       control_zero_by_design=int(gc["sent"].sum()) == 0)
            sent = ga[ga["sent"] == 1]
            rows.append(dict(fatigue=level, arm=a, n=len(ga), control_n=len(gc),
                             unsubscribe_rate=ga["unsubscribed"].mean(),
                             unsubscribe_rate_control=gc["unsubscribed"].mean(),
                             unsubscribe_lift=r[0]["abs_lift"] if r else np.nan,
                             unsubscribe_ci_low=r[0]["ci_low"] if r else np.nan,
                             unsubscribe_ci_high=r[0]["ci_high"] if r else np.nan,
                             sends=len(sent),
                             block_rate=sent["blocked"].mean() if len(sent) else np.nan))
    order = {name: i for i, (_, _, name) in enumerate(FATIGUE_LEVELS)}
    out = pd.DataFrame(rows, columns=["fatigue", "arm", "n", "control_n", "unsubscribe_rate",
                                      "unsubscribe_rate_control", "unsubscribe_lift",
                                      "unsubscribe_ci_low", "unsubscribe_ci_high", "sends",
                                      "block_rate"])
    return out.sort_values(["arm", "fatigue"], key=lambda s: s.map(order) if s.name == "fatigue"
                           else s).reset_index(drop=True)
