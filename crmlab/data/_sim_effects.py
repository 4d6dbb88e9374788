"""The simulated shop's individual treatment effects, and what makes them differ by customer.

**Heterogeneity.** A delivered customer's probability to respond to a campaign message (the
arm's ``pi_click`` / ``pi_noclick``) is multiplied by a per-customer factor driven by customer
features an analyst can see: how the customer came (acquisition channel), age, and order-value
level (the Gamma-Gamma spend parameter; low spenders respond more to offers)::

    m = exp(channel effect - 0.4 * (age - 38) / 10 + 0.35 * z_value) / mean over all customers

with ``z_value`` the standardised log of the customer's spend rate parameter ``nu`` (high ``nu``
= low order values) and the channel effects in :data:`RESPONSE_HETEROGENEITY`. The factor has
mean 1 over the shop's customers, and the response probability is capped at 1.

**Individual effects** (``ground_truth_effects.parquet``). For every assigned customer of a
campaign and every treatment arm, the customer is simulated under forced branches of the
message funnel — delivered, responding or not, unsubscribing or not — with the same random
numbers as every other world (their own purchase process, lifetime and order values). The
*expected* effect is the average of these worlds, minus the control world, weighted by the
branch probabilities (delivery rate, response probability with the customer's factor, the arm's
unsubscribe probability); an undelivered message changes nothing. It is the effect an ideal
model could know: the message's randomness is integrated out, the customer's own future is not.
The *realized* effect is the difference of the customer's outcomes in the arm's world and the
control world of ``ground_truth.json`` (its mean is that file's effect).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.data import _sim_params as P
from crmlab.data._sim_core import DAY, FAR, window_any

__all__ = ["RESPONSE_HETEROGENEITY", "response_multiplier", "individual_effects"]

#: Log-scale effects on the response probability: per acquisition channel, per 10 years of age
#: above 38, per standard deviation of the (log) spend parameter nu (low order values).
RESPONSE_HETEROGENEITY = {
    "channel": {"organic": -0.8, "search": 0.0, "social": 0.7, "referral": -1.0, "ads": 1.1},
    "age_per_10y": -0.6,
    "low_value_per_sd": 0.5,
}


def response_multiplier(shop, idx: np.ndarray) -> np.ndarray:
    """The response factor of customers ``idx`` (positions) of a ``_Shop`` (mean 1 over all
    customers)."""
    h = RESPONSE_HETEROGENEITY
    if not hasattr(shop, "_response_factor"):
        ch = np.asarray([h["channel"][c] for c in P.ACQUISITION_CHANNELS])[shop.acq]
        age = ((np.datetime64(shop.start.date(), "D") - shop.birth).astype("timedelta64[D]")
               .astype(np.int64) / 365.25)
        lnu = np.log(shop.nu)
        z = (lnu - lnu.mean()) / max(lnu.std(), 1e-12)
        raw = np.exp(ch + h["age_per_10y"] * (age - 38.0) / 10.0 + h["low_value_per_sd"] * z)
        shop._response_factor = raw / raw.mean()
    return shop._response_factor[idx]


def _forced_outcomes(shop, rec, a_no: int, respond: bool, unsub: bool) -> dict:
    """Outcomes of campaign ``rec``'s customers in arm ``a_no`` with a delivered message and
    the response / unsubscribe branch forced (other random numbers as in every world)."""
    j, idx, at = rec["j"], rec["idx"], rec["at"]
    c = shop.campaigns[j]
    saved = shop.cu[j]
    forced = dict(saved)
    n = len(saved["deliver"])
    forced["deliver"] = np.zeros(n)                       # u < deliver rate: delivered
    forced["respond"] = np.zeros(n) if respond else np.ones(n)
    forced["unsub"] = np.zeros(n) if unsub else np.ones(n)
    shop.cu[j] = forced
    try:
        f = shop._funnel(j, c, idx, at)
    finally:
        shop.cu[j] = saved
    m = len(idx)
    target = (shop.tr_t[idx].copy(), shop.tr_k[idx].copy(), shop.tr_h[idx].copy(),
              shop.induced[idx].copy())
    shop._apply(dict(rec, f=f), np.full(m, a_no), factual=False, target=target)
    tr = shop.trajectory(idx, *target)
    out = shop._outcomes(tr, at)
    od = shop.orders_of(tr)
    # a coupon is redeemed by a purchase within CONVERSION_DAYS of the send
    out["redeem"] = window_any(f["sent"], od["owner"], od["sec"], od["amount"] > 0,
                               P.CONVERSION_DAYS * DAY)
    return out


def _natural_purchase_probability(shop, rec, k_mult, h_mult) -> np.ndarray:
    """P(a purchase of the customer's own in the window after assignment | the customer's state
    at assignment), with the purchase rate and dropout hazard multiplied by ``k_mult`` and
    ``h_mult`` from then on. The state: alive buyer (Pareto/NBD rates with the multipliers of
    earlier campaigns in force), not yet bought (the exponential wait for a first purchase,
    memoryless), or neither (dead, or never buys on their own). A purchase already under way —
    its cart add, in an earlier session, came before the assignment — happens for sure."""
    j, idx, at = rec["j"], rec["idx"], rec["at"]
    m = len(idx)
    tt, tk, th, ti = (shop.tr_t[idx].copy(), shop.tr_k[idx].copy(), shop.tr_h[idx].copy(),
                      shop.induced[idx].copy())
    shop._apply(rec, np.zeros(m, dtype=int), factual=False, target=(tt, tk, th, ti))
    tr = shop.trajectory(idx, tt, tk, th, ti)
    t0 = shop.warp.to_model(at / DAY)
    in_force = tt <= t0[:, None]
    lam = shop.lam[idx] * np.where(in_force, tk, 1.0).prod(axis=1) * k_mult
    mu = shop.mu[idx] * np.where(in_force, th, 1.0).prod(axis=1) * h_mult
    w = float(P.CONVERSION_DAYS)
    alive = (tr["s0"] <= t0) & (tr["tau"] > t0)
    waiting = (tr["s0"] > t0) & (shop.s0_nat[idx] < FAR)
    p_alive = lam / (lam + mu) * (1.0 - np.exp(-(lam + mu) * w))
    p_first = 1.0 - np.exp(-w / P.FIRST_SLOW_MEAN)
    pre = shop.precursors(tr, cart_only=True)
    own = tr["owner"]
    started = (pre["delayed"] & (pre["sec"] < at[own]) & (tr["sec"] >= at[own])
               & (tr["sec"] < at[own] + P.CONVERSION_DAYS * DAY) & (tr["camp"] < 0))
    underway = np.bincount(own[started], minlength=m) > 0
    return np.where(underway, 1.0, np.where(alive, p_alive, np.where(waiting, p_first, 0.0)))


def individual_effects(shop, potential_outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per campaign, assigned customer and treatment arm: the expected and realized
    effects on 7-day conversion and 180-day revenue, and the expected coupon cost."""
    frames = []
    po = potential_outcomes
    for rec in shop.records:
        c = shop.campaigns[rec["j"]]
        idx = rec["idx"]
        if len(idx) == 0:
            continue
        cid = c["campaign_id"]
        mine = po[po.campaign_id == cid]
        ctrl = mine[mine.world == "control"]
        ids = idx.astype(np.int64) + 1
        if not np.array_equal(ctrl.customer_id.to_numpy(), ids):   # pragma: no cover
            raise RuntimeError(f"{cid}: potential outcomes are not in assignment order")
        y0c = ctrl.converted_7d.to_numpy().astype(float)
        y0r = ctrl.revenue_180d.to_numpy()
        ch = P.CHANNELS[c["channel"]]
        q_click = ch["click"] * (ch["open"] if ch["open"] is not None else 1.0)
        factor = response_multiplier(shop, idx)
        assigned = np.asarray(rec["arm_names"], dtype=object)[rec["arm_i"]]
        for a_no, arm in enumerate(rec["arm_names"][1:], start=1):
            a = c["arms"][arm]
            p_r = (q_click * np.minimum(1.0, a["pi_click"] * factor)
                   + (1 - q_click) * np.minimum(1.0, a["pi_noclick"] * factor))
            conv = np.zeros(len(idx))
            rev = np.zeros(len(idx))
            redeem = np.zeros(len(idx))
            branches = [(r, u) for r in (True, False) for u in (True, False)
                        if (a["pi_click"] > 0 or a["pi_noclick"] > 0 or not r)
                        and (a["unsub"] > 0 or not u)]
            for r, u in branches:
                w = (p_r if r else 1 - p_r) * (a["unsub"] if u else 1 - a["unsub"])
                o = _forced_outcomes(shop, rec, a_no, r, u)
                conv += w * (o["conv"].astype(float) - y0c)
                rev += w * (o["rev"] - y0r)
                redeem += w * o["redeem"]
            d = ch["deliver"]
            # the conversion effect given the state at assignment (the customer's own next
            # days integrated out): delivered -> response, or a purchase of their own under
            # the arm's lasting multipliers (and the unsubscribe's, in that branch)
            p0 = _natural_purchase_probability(shop, rec, 1.0, 1.0)
            p_buy = np.zeros(len(idx))
            for u in ((True, False) if a["unsub"] > 0 else (False,)):
                wu = a["unsub"] if u else 1 - a["unsub"]
                ke = a["k"] * (P.UNSUBSCRIBE_EFFECT["rate_multiplier"] if u else 1.0)
                he = a["h"] * (P.UNSUBSCRIBE_EFFECT["dropout_multiplier"] if u else 1.0)
                pn = _natural_purchase_probability(shop, rec, ke, he)
                p_buy += wu * (p_r + (1 - p_r) * pn)
            world = mine[mine.world == arm]
            frames.append(pd.DataFrame({
                "campaign_id": cid, "customer_id": ids, "arm": assigned, "treatment": arm,
                "response_factor": factor, "p_respond": d * p_r,
                "p_convert_control": p0, "p_convert_treated": (1 - d) * p0 + d * p_buy,
                "conversion_lift": d * (p_buy - p0),
                "coupon_cost_expected": d * p_buy * a["coupon"],
                "revenue_lift_180d": d * rev,
                "conversion_lift_future_fixed": d * conv,
                "coupon_cost_future_fixed": d * redeem * a["coupon"],
                "conversion_lift_realized": world.converted_7d.to_numpy().astype(float) - y0c,
                "revenue_lift_180d_realized": world.revenue_180d.to_numpy() - y0r,
            }))
    if not frames:
        return pd.DataFrame(columns=["campaign_id", "customer_id", "arm", "treatment"])
    return pd.concat(frames, ignore_index=True)
