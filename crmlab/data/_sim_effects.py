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
from crmlab.data._sim_core import DAY, window_any

__all__ = ["RESPONSE_HETEROGENEITY", "response_multiplier", "individual_effects"]

#: Log-scale effects on the response probability: per acquisition channel, per 10 years of age
#: above 38, per standard deviation of the (log) spend parameter nu (low order values).
RESPONSE_HETEROGENEITY = {
    "channel": {"organic": -0.5, "search": 0.0, "social": 0.4, "referral": -0.6, "ads": 0.7},
    "age_per_10y": -0.4,
    "low_value_per_sd": 0.35,
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
            world = mine[mine.world == arm]
            frames.append(pd.DataFrame({
                "campaign_id": cid, "customer_id": ids, "arm": assigned, "treatment": arm,
                "response_factor": factor, "p_respond": d * p_r,
                "conversion_lift": d * conv, "revenue_lift_180d": d * rev,
                "coupon_cost_expected": d * redeem * a["coupon"],
                "conversion_lift_realized": world.converted_7d.to_numpy().astype(float) - y0c,
                "revenue_lift_180d_realized": world.revenue_180d.to_numpy() - y0r,
            }))
    if not frames:
        return pd.DataFrame(columns=["campaign_id", "customer_id", "arm", "treatment"])
    return pd.concat(frames, ignore_index=True)
