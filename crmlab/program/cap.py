"""The frequency cap that maximises six-month profit (numbers only).

Model (assumptions in ``docs/program.md``): every delivered advertising message earns the
program's average incremental margin per message ``g`` (the global holdout's margin effect over
``horizon_days`` divided by the CRM group's messages) and costs ``cost_per_send``. A message sent
when the customer already had ``n`` messages in the previous ``window_days`` adds the fatigue
cost ``n × [(b_unsub + b_block) × V_reach + b_churn × V_customer]``: ``b_*`` are the per-message
effects of :func:`crmlab.program.fatigue`, ``V_reach`` the net value of the messages a customer
who unsubscribes or blocks no longer receives (half the horizon's messages on average), and
``V_customer`` the margin a churned customer no longer brings (half the horizon's margin per
customer). A cap ``K`` drops every message that would be the ``K+1``-th in ``window_days``; the
observed send schedules of the program's customers over the horizon are replayed under each cap.

Uncertainty: ``g`` and the ``b``'s are drawn from normal distributions with their estimated
standard errors (a parametric bootstrap); each draw has its own best cap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["frequency_cap", "CapResult", "replay_cap"]


@dataclass
class CapResult:
    """Result of :func:`frequency_cap`.

    ``table``: ``cap`` (messages per window; ``None`` row = no cap), ``messages_per_customer``,
    ``profit_per_customer`` (model profit over the horizon per customer) with ``ci_low,
    ci_high`` across draws, ``share_best`` (share of draws in which the cap is best).
    ``best_cap`` (None: no cap is best), ``cap_interval`` (2.5 % and 97.5 % quantiles of the
    draws' best caps; ``inf`` = no cap), ``parameters`` (the inputs used).
    """

    table: pd.DataFrame
    best_cap: int | None
    cap_interval: tuple[float, float]
    parameters: dict
    window_days: int
    horizon_days: int

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def replay_cap(cust: np.ndarray, sec: np.ndarray, cap: int | None, window_days: int
               ) -> tuple[int, float]:
    """Replay the sends (customer codes, seconds; sorted by customer then time) under ``cap``:
    number of messages kept and the sum over kept messages of the kept messages in the
    previous ``window_days``."""
    W = window_days * 86_400
    kept_n, dose_sum = 0, 0.0
    start = 0
    n = len(cust)
    while start < n:
        end = start
        while end < n and cust[end] == cust[start]:
            end += 1
        kept: list[int] = []
        for t in sec[start:end]:
            recent = sum(1 for k in kept if t - W <= k < t)
            if cap is None or recent < cap:
                kept.append(int(t))
                kept_n += 1
                dose_sum += recent
        start = end
    return kept_n, dose_sum


def frequency_cap(data, fatigue_result, impact, *, window_days: int = 30,
                  horizon_days: int = 180, caps=range(1, 9), n_draws: int = 400,
                  level: float = 0.95, seed: int = 0) -> CapResult:
    """Best cap on advertising messages per ``window_days`` for profit over ``horizon_days``.

    Parameters
    ----------
    data : CRMData
        The sends (``assignments`` with ``sent_ts``, ``campaigns``) and ``holdout_periods``.
    fatigue_result : FatigueResult
        From :func:`crmlab.program.fatigue` with ``window_days`` among its windows.
    impact : ProgramImpact
        From :func:`crmlab.program.evaluate_program` with ``horizon_days`` among its horizons.
    """
    from crmlab.program.fatigue import _sends
    from crmlab.program.impact import program_population

    e = fatigue_result.effects
    fw = e[e.window_days == window_days].set_index("outcome")
    if fw.empty:
        raise ValueError(f"frequency_cap: the fatigue result has no {window_days}-day window")
    ef = impact.to_frame()
    ef = ef[ef.horizon_days == horizon_days].set_index("metric")
    if ef.empty:
        raise ValueError(f"frequency_cap: the program impact has no {horizon_days}-day horizon")
    m_crm = float(ef.loc["messages_per_customer", "crm"])
    if not m_crm > 0:
        raise ValueError("frequency_cap: the CRM group received no advertising message")
    zc = stats.norm.ppf(0.5 + level / 2)
    mg = ef.loc["margin_per_customer"]
    g, g_se = mg.value / m_crm, (mg.ci_high - mg.ci_low) / (2 * zc) / m_crm
    cost = float(ef.loc["cost_per_customer", "crm"]) / m_crm
    margin_crm = float(mg.crm)

    # the program's sends over the horizon (members not held out, from entry)
    a, msgs = _sends(data)
    pop = program_population(data)
    pop = pop[~pop.held_out][["customer_id", "entry"]]
    s = msgs.merge(pop, on="customer_id")
    s = s[(s.sent_ts >= s.entry) & (s.sent_ts < s.entry + pd.Timedelta(days=horizon_days))]
    s = s.sort_values(["customer_id", "sent_ts"])
    cust = pd.factorize(s.customer_id)[0]
    sec = ((s.sent_ts - s.sent_ts.min()).dt.total_seconds().to_numpy()).astype(np.int64) \
        if len(s) else np.zeros(0, np.int64)
    N = len(pop)
    options = list(caps) + [None]
    replays = {K: replay_cap(cust, sec, K, window_days) for K in options}

    def par(o):
        return (float(fw.loc[o, "per_message"]), float(fw.loc[o, "se"])) if o in fw.index \
            else (0.0, 0.0)

    rng = np.random.default_rng(seed)
    draws = {"g": rng.normal(g, g_se, n_draws)}
    for o in ("unsubscribe", "block", "churn"):
        b, se = par(o)
        draws[o] = rng.normal(b, se, n_draws)
    draws["g"][0] = g
    for o in ("unsubscribe", "block", "churn"):
        draws[o][0] = par(o)[0]

    def profit(K, d):
        kept, dose = replays[K]
        net = d["g"] - cost
        v_reach = np.maximum(net, 0.0) * m_crm / 2
        v_cust = margin_crm / 2
        fat = (d["unsubscribe"] + d["block"]) * v_reach + d["churn"] * v_cust
        return (kept * net - dose * fat) / N

    P = np.array([profit(K, draws) for K in options])      # options × draws
    best = P.argmax(axis=0)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    cap_vals = np.array([np.inf if K is None else K for K in options], float)
    rows = []
    for i, K in enumerate(options):
        rows.append({"cap": K, "messages_per_customer": replays[K][0] / N,
                     "profit_per_customer": float(P[i, 0]),
                     "ci_low": float(np.quantile(P[i], lo_q)),
                     "ci_high": float(np.quantile(P[i], hi_q)),
                     "share_best": float(np.mean(best == i))})
    b0 = options[int(P[:, 0].argmax())]
    return CapResult(
        table=pd.DataFrame(rows), best_cap=b0,
        cap_interval=(float(np.quantile(cap_vals[best], lo_q)),
                      float(np.quantile(cap_vals[best], hi_q))),
        parameters={"margin_per_message": g, "margin_per_message_se": g_se,
                    "cost_per_message": cost, "messages_per_customer": m_crm,
                    "margin_per_customer": margin_crm,
                    **{f"{o}_per_message": par(o)[0] for o in ("unsubscribe", "block", "churn")},
                    "n_customers": N, "n_draws": n_draws},
        window_days=window_days, horizon_days=horizon_days)
