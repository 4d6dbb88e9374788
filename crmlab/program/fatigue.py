"""Message fatigue across campaigns, identified from the campaigns' randomization (numbers only).

Unit: one delivered advertising send ``s`` (a treated assignment of campaign ``c`` on an
advertising channel, sent at ``t``). Dose: ``n_w`` = advertising messages delivered to the
customer in ``[t - w, t)``. Outcomes of the send: ``unsubscribe`` (its ``unsubscribed_ts``),
``block`` (a marketing-consent withdrawal on the send's medium in ``[t, t + 7 days)`` that is not
an unsubscribe), ``churn`` (no purchase in ``[t, t + churn_after_days)``).

Customers who receive many messages are the active ones, so the plain regression of outcome on
dose is confounded. Assignment to an earlier campaign's treatment arm is random: among the
customers assigned to campaign ``k`` in ``[t - w, t)``, those in ``k``'s treatment arm get one
more message at random. The instrument is ``Z`` = the number of such treated assignments, with
an indicator per earlier campaign ``k`` (assigned in the window, any arm) and the current
campaign as controls; the two-stage least squares slope is the effect of one more message in
the window (a Wald estimator pooled over campaigns). Standard errors are clustered by customer.
See ``docs/program.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.data.schema import ADVERTISING_CHANNELS, CHANNEL_MEDIUM

__all__ = ["fatigue", "FatigueResult", "fatigue_table", "iv_slope"]

BLOCK_DAYS = 7
OUTCOMES = ("unsubscribe", "block", "churn")


@dataclass
class FatigueResult:
    """Result of :func:`fatigue`.

    Attributes
    ----------
    effects : DataFrame
        One row per outcome × window: ``outcome, window_days, per_message`` (2SLS slope: change
        of the outcome's probability per extra message in the window), ``ci_low, ci_high,
        p_value, se``, ``first_stage`` (messages per treated earlier assignment),
        ``first_stage_f``, ``ols`` (the confounded plain slope, for comparison), ``base_rate``
        (mean outcome), ``mean_dose``, ``n_sends``, ``n_customers``, ``n_instrumented`` (sends
        with an earlier assignment in the window).
    curves : DataFrame
        ``outcome, window_days, messages, rate, ci_low, ci_high``: the dose–response line
        ``base_rate + per_message × (messages − mean_dose)``, over the doses the data hold (up
        to the 99th percentile of messages received) and clipped to [0, 1].
    """

    effects: pd.DataFrame
    curves: pd.DataFrame
    level: float
    attrs: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.effects.copy()

    def value(self, outcome: str, window_days: int) -> pd.Series:
        e = self.effects
        return e[(e.outcome == outcome) & (e.window_days == window_days)].iloc[0]

    def __repr__(self) -> str:
        return f"FatigueResult({len(self.effects)} outcome × window rows)"

    def _repr_html_(self) -> str:
        return self.effects.to_html(index=False, float_format=lambda v: f"{v:,.4g}")


def iv_slope(y, d, z, controls, cluster, level: float = 0.95) -> dict:
    """Just-identified 2SLS of ``y`` on ``d`` with instrument ``z`` and ``controls`` (a 2-D
    array, intercept included by the caller), standard error clustered by ``cluster``.

    Returns ``beta, se, ci_low, ci_high, p_value, first_stage, first_stage_f, ols``.
    """
    y, d, z = (np.asarray(v, float) for v in (y, d, z))
    W = np.asarray(controls, float)
    coef = np.linalg.lstsq(W, np.column_stack([y, d, z]), rcond=None)[0]
    ry, rd, rz = (np.column_stack([y, d, z]) - W @ coef).T
    zz = float(rz @ rz)
    nan = dict.fromkeys(("beta", "se", "ci_low", "ci_high", "p_value", "first_stage",
                         "first_stage_f", "ols"), float("nan"))
    if zz <= 1e-12 or abs(float(rz @ rd)) <= 1e-12:
        return nan
    beta = float(rz @ ry) / float(rz @ rd)
    e = ry - beta * rd
    g = pd.factorize(np.asarray(cluster))[0]
    G = g.max() + 1
    score = np.bincount(g, weights=rz * e, minlength=G)
    corr = G / max(G - 1, 1)
    se = float(np.sqrt(corr * np.sum(score ** 2)) / abs(float(rz @ rd)))
    pi = float(rz @ rd) / zz
    u = rd - pi * rz
    s1 = np.bincount(g, weights=rz * u, minlength=G)
    se_pi = float(np.sqrt(corr * np.sum(s1 ** 2)) / zz)
    dd = float(rd @ rd)
    ols = float(rd @ ry) / dd if dd > 1e-12 else float("nan")
    zc = stats.norm.ppf(0.5 + level / 2)
    return {"beta": beta, "se": se, "ci_low": beta - zc * se, "ci_high": beta + zc * se,
            "p_value": float(2 * stats.norm.sf(abs(beta) / se)) if se > 0 else float("nan"),
            "first_stage": pi, "first_stage_f": (pi / se_pi) ** 2 if se_pi > 0 else float("nan"),
            "ols": ols}


def _sends(data) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assignments with their campaign's channel; and the delivered advertising messages."""
    if data.assignments is None or data.campaigns is None:
        raise ValueError("fatigue: the assignments and campaigns tables are needed")
    a = data.assignments.to_pandas()
    for col in ("sent_ts",):
        if col not in a.columns:
            raise ValueError(f"fatigue: assignments has no {col} column (when each message was "
                             f"sent); {len(a)} rows")
    c = data.campaigns.select("campaign_id", "channel").to_pandas()
    a = a.merge(c, on="campaign_id", how="left")
    if a.channel.isna().any():
        raise ValueError(f"fatigue: {int(a.channel.isna().sum())} assignments rows name a "
                         "campaign missing from campaigns")
    deliv = (a["delivered"].astype("boolean").fillna(True).astype(bool)
             if "delivered" in a.columns else pd.Series(True, index=a.index))
    a["treated"] = a.arm != "control"
    a["adv_msg"] = (a.sent_ts.notna() & deliv & a.channel.isin(ADVERTISING_CHANNELS)
                    & a.treated)
    if "unsubscribed_ts" not in a.columns:
        a["unsubscribed_ts"] = pd.NaT
    return a, a[a.adv_msg][["customer_id", "sent_ts"]]


def _count_before(cust_msg, ts_msg, cust_q, ts_q, days: int) -> np.ndarray:
    """Messages of each query customer in ``[ts - days, ts)`` (sorted composite keys)."""
    codes, uniq = pd.factorize(pd.concat([pd.Series(cust_msg), pd.Series(cust_q)],
                                         ignore_index=True))
    cm, cq = codes[:len(cust_msg)], codes[len(cust_msg):]
    big = np.int64(10 ** 11)                       # seconds: ~3000 years per customer
    t0 = min(pd.Series(ts_msg).min(), pd.Series(ts_q).min()) if len(ts_msg) else pd.Series(ts_q).min()
    sec = lambda ts: ((pd.Series(ts) - t0).dt.total_seconds().to_numpy()).astype(np.int64)  # noqa: E731
    key = np.sort(cm.astype(np.int64) * big + sec(ts_msg))
    q = cq.astype(np.int64) * big + sec(ts_q)
    return (np.searchsorted(key, q, side="left")
            - np.searchsorted(key, q - days * 86_400, side="left")).astype(float)


def fatigue_table(data, window_days=(7, 30), churn_after_days: int = 90) -> pd.DataFrame:
    """One row per delivered advertising send: its outcomes, doses and instruments
    (``z_<w>``, ``e_<w>_<campaign>``) for every window."""
    a, msgs = _sends(data)
    s = a[a.adv_msg].reset_index(drop=True)
    if s.empty:
        raise ValueError("fatigue: no delivered advertising send in assignments "
                         f"({len(a)} rows)")
    t = s.sent_ts
    out = pd.DataFrame({"customer_id": s.customer_id.to_numpy(),
                        "campaign_id": s.campaign_id.to_numpy(), "sent_ts": t.to_numpy()})
    out["unsubscribe"] = s.unsubscribed_ts.notna().to_numpy(float)
    # blocks: a marketing withdrawal on the send's medium within BLOCK_DAYS, not an unsubscribe
    out["block"] = np.nan
    ce = getattr(data, "consent_events", None)
    if ce is not None:
        w = ce.to_pandas()
        w = w[(w.kind == "marketing") & ~w.granted.astype(bool)]
        med = s.channel.map(CHANNEL_MEDIUM)
        key = pd.DataFrame({"i": np.arange(len(s)), "customer_id": s.customer_id,
                            "channel": med, "t": t})
        j = key.merge(w[["customer_id", "channel", "event_ts"]], on=["customer_id", "channel"])
        j = j[(j.event_ts >= j.t) & (j.event_ts < j.t + pd.Timedelta(days=BLOCK_DAYS))]
        hit = np.zeros(len(s), bool)
        hit[j.i.to_numpy()] = True
        out["block"] = np.where(out.unsubscribe > 0, 0.0, hit.astype(float))
    # churn: no purchase in [t, t + churn_after_days), for sends observed that long
    o = data.orders.select("customer_id", "order_ts", "amount").to_pandas()
    o = o[o.amount > 0]
    ahead = _count_before(o.customer_id.to_numpy(), o.order_ts, s.customer_id.to_numpy(),
                          t + pd.Timedelta(days=churn_after_days), churn_after_days)
    seen = t + pd.Timedelta(days=churn_after_days) <= data.observation_end
    out["churn"] = np.where(seen, (ahead == 0).astype(float), np.nan)
    # doses and instruments
    pairs = s[["customer_id", "campaign_id", "sent_ts"]].reset_index().rename(
        columns={"index": "i", "campaign_id": "c"}).merge(
        a[["customer_id", "campaign_id", "assigned_ts", "treated"]], on="customer_id")
    pairs = pairs[pairs.campaign_id != pairs.c]
    for wd in window_days:
        out[f"n_{wd}"] = _count_before(msgs.customer_id.to_numpy(), msgs.sent_ts,
                                       s.customer_id.to_numpy(), t, wd)
        p = pairs[(pairs.assigned_ts < pairs.sent_ts)
                  & (pairs.assigned_ts >= pairs.sent_ts - pd.Timedelta(days=wd))]
        out[f"z_{wd}"] = np.bincount(p.i, weights=p.treated.astype(float), minlength=len(s))
        for k, pk in p.groupby("campaign_id"):
            col = np.zeros(len(s))
            col[pk.i.to_numpy()] = 1.0
            out[f"e_{wd}_{k}"] = col
    return out


def fatigue(data, window_days=(7, 30), *, churn_after_days: int = 90, level: float = 0.95,
            max_messages: int = 10) -> FatigueResult:
    """Dose–response of unsubscribe, block and churn on messages received in the previous
    ``window_days``, with the earlier campaigns' random arms as instrument.

    Parameters
    ----------
    data : CRMData
        ``assignments`` (with ``sent_ts``; ``delivered`` and ``unsubscribed_ts`` if recorded),
        ``campaigns``, ``orders``; ``consent_events`` for the blocks.
    window_days : int or sequence of int
        Dose windows (messages in the ``w`` days before a send).
    churn_after_days : int
        Churn outcome: no purchase in that many days from the send.
    max_messages : int
        Length of the dose–response curves.

    Returns
    -------
    FatigueResult
        ``to_frame()``: ``outcome, window_days, per_message, ci_low, ci_high, p_value, ...``.

    Examples
    --------
    >>> from crmlab.program import fatigue
    >>> fatigue(data).to_frame()                                   # doctest: +SKIP
    """
    ws = [int(window_days)] if np.isscalar(window_days) else [int(w) for w in window_days]
    tab = fatigue_table(data, ws, churn_after_days)
    rows, curves = [], []
    for wd in ws:
        ecols = [c for c in tab.columns if c.startswith(f"e_{wd}_")]
        for outcome in OUTCOMES:
            m = tab[outcome].notna().to_numpy()
            sub = tab[m]
            if len(sub) < 10 or sub[f"z_{wd}"].sum() == 0:
                continue
            fe = pd.get_dummies(sub.campaign_id, dtype=float).to_numpy()
            E = sub[ecols].to_numpy(float)
            E = E[:, E.any(axis=0)]
            W = np.column_stack([fe, E]) if E.size else fe
            r = iv_slope(sub[outcome], sub[f"n_{wd}"], sub[f"z_{wd}"], W, sub.customer_id, level)
            base, md = float(sub[outcome].mean()), float(sub[f"n_{wd}"].mean())
            rows.append({"outcome": outcome, "window_days": wd, "per_message": r["beta"],
                         "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "p_value": r["p_value"], "se": r["se"],
                         "first_stage": r["first_stage"], "first_stage_f": r["first_stage_f"],
                         "ols": r["ols"], "base_rate": base, "mean_dose": md,
                         "n_sends": int(len(sub)), "n_customers": int(sub.customer_id.nunique()),
                         "n_instrumented": int((E.sum(axis=1) > 0).sum()) if E.size else 0})
            zc = stats.norm.ppf(0.5 + level / 2)
            # the line is drawn only over doses the data hold (up to the 99th percentile of the
            # messages received), and as a probability, within [0, 1]
            top = min(max_messages, max(1, int(np.ceil(sub[f"n_{wd}"].quantile(0.99)))))
            for k in range(top + 1):
                v = base + r["beta"] * (k - md)
                half = zc * abs(k - md) * r["se"]
                curves.append({"outcome": outcome, "window_days": wd, "messages": k,
                               "rate": float(np.clip(v, 0.0, 1.0)),
                               "ci_low": float(np.clip(v - half, 0.0, 1.0)),
                               "ci_high": float(np.clip(v + half, 0.0, 1.0))})
    if not rows:
        raise ValueError("fatigue: no send has an earlier campaign assignment in its window "
                         f"({', '.join(map(str, ws))} days): the dose cannot be instrumented")
    return FatigueResult(effects=pd.DataFrame(rows), curves=pd.DataFrame(curves), level=level,
                         attrs={"churn_after_days": churn_after_days, "block_days": BLOCK_DAYS,
                                "method": "2SLS, instrument = treated earlier assignments in "
                                          "the window; SE clustered by customer"})

