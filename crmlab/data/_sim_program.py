"""CRM as a whole in the shop simulator: a global holdout, overlapping campaigns, message fatigue
and the program's true cumulative effect.

Switched on by ``simulate(..., program=True)`` (the default). Pieces:

- **Global holdout.** A random ``HOLDOUT["share"]`` of the customers who are members during the
  holdout period (``HOLDOUT["days"]`` from ``HOLDOUT["start"]`` of the usable span) is kept out
  of every campaign while held out: they are left off every campaign list (never assigned), and
  written to ``holdout_periods`` (``start_ts`` = the later of the period's start and sign-up,
  ``end_ts`` = the period's end, exclusive).
- **Overlapping campaigns** (:data:`CAMPAIGNS`): three one-shot campaigns a few days apart to one
  segment (buyers of the last 12 months at the first list date), so that customers are in
  several at once. A planted interaction: a customer delivered the Kakao coupon does not respond
  to the app push that follows (``interaction`` of the push campaign).
- **Fatigue** (:data:`FATIGUE`): ``n`` = advertising messages (every channel but
  ``kakao_alimtalk``) delivered to the customer in the 30 days before a send. A delivered
  advertising message unsubscribes with the arm's probability ``+ unsubscribe_per_message * n``,
  and otherwise blocks the channel's medium (a consent withdrawal without an unsubscribe) with
  probability ``block_base + block_per_message * n``; the dropout hazard is multiplied by
  ``exp(dropout_log_hazard_per_message * N(t))``, ``N(t)`` the messages delivered in the 30 days
  before ``t``.
- **Program truth**: the campaign period is simulated twice more with common random numbers,
  once with every customer held out and once with none, and the per-customer differences over
  6 and 12 months from entry are written under ``program`` in ``ground_truth.json``.
"""
from __future__ import annotations

import copy

import numpy as np

from crmlab.data._sim_core import DAY, FAR, churn_survival, window_sum

#: The global holdout: share of members, length, start (fraction of the usable span
#: ``observation days - 185``, as the campaign schedule).
HOLDOUT = {"share": 0.07, "days": 365, "start": 0.28}

#: Message fatigue (per message delivered in the previous ``window_days``; advertising channels).
FATIGUE = {"window_days": 30, "unsubscribe_per_message": 0.010, "block_base": 0.002,
           "block_per_message": 0.006, "dropout_log_hazard_per_message": 0.25,
           "counted": "advertising messages delivered (every channel but kakao_alimtalk)"}

#: Margin rate of the program truth's margin and profit (as the campaign evaluation's default).
MARGIN_RATE = 0.3
HORIZONS = (180, 365)
RETAINED_DAYS = 90

_SEGMENT = "season_buyers"
CAMPAIGNS = (
    {
        "campaign_id": "season_sale_kakao", "name": "Season sale coupon (Kakao)",
        "scenario": "custom", "channel": "kakao_friendtalk", "holdout_share": 0.5,
        "trigger": _SEGMENT, "day": 0.89,
        "description": "Kakao FriendTalk with a 3,000 KRW season-sale coupon to the buyers of "
                       "the last 12 months (one list for the season's three messages).",
        "arms": {"coupon": {"pi_click": 0.35, "pi_noclick": 0.03, "k": 1.0, "h": 1.0,
                            "unsub": 0.004, "coupon": 3000.0}},
        "effect": "short-term lift; the push that follows adds nothing for those who got it",
    },
    {
        "campaign_id": "season_sale_push", "name": "Season sale reminder (push)",
        "scenario": "custom", "channel": "app_push", "holdout_share": 0.5,
        "trigger": _SEGMENT, "day": 0.90,
        "description": "App push announcing the season sale, five days after the Kakao coupon, "
                       "to the same list.",
        "arms": {"reminder": {"pi_click": 0.35, "pi_noclick": 0.05, "k": 1.0, "h": 1.0,
                              "unsub": 0.002, "coupon": 0.0}},
        "interaction": {"with": "season_sale_kakao", "response_multiplier": 0.0},
        "effect": "short-term lift, none among customers delivered the Kakao coupon "
                  "(a planted interaction)",
    },
    {
        "campaign_id": "newsletter_email", "name": "Season newsletter (e-mail)",
        "scenario": "custom", "channel": "email", "holdout_share": 0.5,
        "trigger": _SEGMENT, "day": 0.92,
        "description": "E-mail newsletter without an offer to the season list.",
        "arms": {"newsletter": {"pi_click": 0.0, "pi_noclick": 0.0, "k": 1.0, "h": 1.0,
                                "unsub": 0.002, "coupon": 0.0}},
        "effect": "no content effect: only fatigue (unsubscribes, blocks, a higher dropout "
                  "hazard for 30 days)",
    },
)

_ADVERTISING = {"email", "sms", "lms", "app_push", "in_app", "kakao_friendtalk"}
_MUTABLE = ("tr_t", "tr_k", "tr_h", "induced", "clamp")


class Program:
    """Program state of one simulated world: who is held out, and the messages delivered."""

    def __init__(self, shop, mode: str = "factual"):
        self.shop = shop
        self.mode = mode
        n = shop.n
        rng = shop.rng["program"]
        self.u_hold = rng.random(n)
        self.u_block = [rng.random(n) for _ in range(shop.J)]
        usable = shop.T - 185
        self.h0 = int(round(HOLDOUT["start"] * usable)) * DAY
        self.h1 = min(self.h0 + HOLDOUT["days"] * DAY, shop.T_sec)
        self.member = shop.signup_sec < self.h1
        self.held = self.member & (self.u_hold < HOLDOUT["share"])
        self.entry = np.maximum(shop.signup_sec, self.h0)
        self.msg_c: list[np.ndarray] = []
        self.msg_s: list[np.ndarray] = []
        self.snapshot = None
        self.segment_sec = None

    def world(self, shop, mode: str) -> "Program":
        w = copy.copy(self)
        w.shop, w.mode = shop, mode
        w.msg_c, w.msg_s = [], []
        w.segment_sec = None
        return w

    # -------------------------------------------------------------------------- holdout
    def held_now(self, idx: np.ndarray, at: np.ndarray) -> np.ndarray:
        if self.mode == "none":
            return np.zeros(len(idx), bool)
        held = self.member[idx] if self.mode == "all" else self.held[idx]
        return held & (at >= self.h0) & (at < self.h1)

    def holdout_table(self):
        import pandas as pd

        idx = np.nonzero(self.held)[0]
        return pd.DataFrame({"customer_id": idx.astype(np.int64) + 1,
                             "start_ts": self.shop._ts(self.entry[idx]),
                             "end_ts": self.shop._ts(np.full(len(idx), self.h1))})

    # -------------------------------------------------------------------------- segment
    def segment(self, c: dict) -> tuple[np.ndarray, np.ndarray]:
        """The season list: buyers of the last 12 months at the first season list's date;
        every season campaign assigns at its own day (10:00)."""
        shop = self.shop
        HOUR = 3_600
        day_at = int(round(c["day"] * (shop.T - 185))) * DAY + 10 * HOUR
        if self.segment_sec is None:
            self.segment_sec = day_at
            tr = shop.current()
            last = np.full(shop.n, -1, np.int64)
            past = tr["sec"] < day_at
            np.maximum.at(last, tr["owner"][past], tr["sec"][past])
            self.segment_ok = (last >= 0) & (last >= day_at - 365 * DAY)
        return self.segment_ok.copy(), np.full(shop.n, day_at, np.int64)

    # -------------------------------------------------------------------------- fatigue
    def recent(self, idx: np.ndarray, sec: np.ndarray, days: int | None = None) -> np.ndarray:
        """Advertising messages delivered to ``idx`` in ``[sec - days, sec)``."""
        days = FATIGUE["window_days"] if days is None else days
        if not self.msg_c:
            return np.zeros(len(idx), np.int64)
        T4 = np.int64(4 * self.shop.T_sec)
        key = np.sort(np.concatenate(self.msg_c) * T4 + np.concatenate(self.msg_s))
        q = np.asarray(idx, np.int64) * T4 + np.asarray(sec, np.int64)
        return (np.searchsorted(key, q, side="left")
                - np.searchsorted(key, q - days * DAY, side="left")).astype(np.int64)

    def record(self, channel: str, cust: np.ndarray, sec: np.ndarray) -> None:
        if channel in _ADVERTISING and len(cust):
            self.msg_c.append(np.asarray(cust, np.int64))
            self.msg_s.append(np.asarray(sec, np.int64))

    def funnel(self, j: int, c: dict, idx: np.ndarray, sent: np.ndarray, delivered: np.ndarray,
               opened_sec: np.ndarray, arms: dict) -> None:
        """Fatigue on the unsubscribe of every arm, the blocks, and planted interactions.
        ``arms`` holds each arm's draws (modified in place)."""
        if c["channel"] not in _ADVERTISING:
            return
        n30 = self.recent(idx, sent)
        u = self.shop.cu[j]
        ub = self.u_block[j][idx]
        p_block = FATIGUE["block_base"] + FATIGUE["block_per_message"] * n30
        for a in arms.values():
            a["block"] = delivered & ~a["unsub"] & (ub < p_block)
            a["block_sec"] = np.where(a["block"], np.maximum(sent, opened_sec) + 600 +
                                      (u["unsub_delay"][idx] * 3600).astype(np.int64), -1)

    def unsub_probability(self, c: dict, base: float, idx, sent) -> np.ndarray | float:
        if c["channel"] not in _ADVERTISING:
            return base
        return base + FATIGUE["unsubscribe_per_message"] * self.recent(idx, sent)

    def response_multiplier(self, c: dict, idx: np.ndarray) -> np.ndarray | float:
        inter = c.get("interaction")
        if not inter:
            return 1.0
        shop = self.shop
        for rec in shop.records:
            if shop.campaigns[rec["j"]]["campaign_id"] == inter["with"]:
                got = np.zeros(shop.n, bool)
                t = rec["arm_i"] > 0
                got[rec["idx"][t & rec["f"]["delivered"]]] = True
                return np.where(got[idx], inter["response_multiplier"], 1.0)
        return 1.0

    def world_responses(self, rec: dict, w_no: int, induced: np.ndarray) -> None:
        """The responses of the campaigns whose response depends on ``rec``'s campaign (a
        planted ``interaction``), as they are in the world where every customer of ``rec`` is
        in arm ``w_no`` (0 = holdout): ``induced`` (that world's induced-purchase times, one
        row per customer of ``rec``, one column per campaign) is changed in place. So the
        potential outcomes of ``rec``'s campaign, and its ground truth, include what it does
        through the other campaign — the effect its experiment measures. Other consequences
        on the later campaign (the fatigue in its unsubscribes and blocks) stay as they
        were."""
        shop = self.shop
        cid = shop.campaigns[rec["j"]]["campaign_id"]
        later = [(r2, shop.campaigns[r2["j"]]["interaction"]) for r2 in shop.records
                 if (shop.campaigns[r2["j"]].get("interaction") or {}).get("with") == cid]
        if not later:
            return
        got = np.zeros(shop.n, bool)
        if w_no > 0:
            got[rec["idx"][rec["f"]["delivered"]]] = True
        row_of = np.full(shop.n, -1, np.int64)
        row_of[rec["idx"]] = np.arange(len(rec["idx"]))
        for rec2, inter in later:
            j2, idx2, f2 = rec2["j"], rec2["idx"], rec2["f"]
            rows = row_of[idx2]
            both = rows >= 0
            mult = np.where(got[idx2], inter["response_multiplier"], 1.0)
            u = shop.cu[j2]["respond"][idx2]
            for a_no, arm in enumerate(rec2["arm_names"][1:], start=1):
                a = f2["arms"][arm]
                sel = both & (rec2["arm_i"] == a_no)
                respond = f2["delivered"] & (u < np.minimum(1.0, a["pi_own"] * mult))
                induced[rows[sel], j2] = np.where(respond[sel], a["resp_any"][sel], -1)

    def fatigue_columns(self, c, j, rows, sel, delivered, t_send, target) -> None:
        """Dropout-hazard fatigue of campaign ``j``'s message: x e^g from the send, back 30
        days later (columns J + j and 2J + j of the treatment arrays)."""
        tr_t, tr_k, tr_h = target
        J = self.shop.J
        g = FATIGUE["dropout_log_hazard_per_message"]
        on = delivered & (c["channel"] in _ADVERTISING)
        r = rows[sel]
        tr_t[r, J + j] = np.where(on, t_send, -FAR)
        tr_t[r, 2 * J + j] = np.where(on, t_send + FATIGUE["window_days"], -FAR)
        tr_h[r, J + j] = np.where(on, np.exp(g), 1.0)
        tr_h[r, 2 * J + j] = np.where(on, np.exp(-g), 1.0)
        tr_k[r, J + j] = 1.0
        tr_k[r, 2 * J + j] = 1.0

    def reset_columns(self, j, rows, target) -> None:
        tr_t, tr_k, tr_h = target
        J = self.shop.J
        for col in (J + j, 2 * J + j):
            tr_t[rows, col] = -FAR
            tr_k[rows, col] = 1.0
            tr_h[rows, col] = 1.0

    # -------------------------------------------------------------------------- truth
    def take_snapshot(self) -> None:
        s = self.shop
        self.snapshot = {k: getattr(s, k).copy() for k in _MUTABLE}
        self.snapshot["hist"] = dict(s.consents.hist)

    def truth(self) -> dict:
        """The program's effect: every member simulated held out and not, same random numbers."""
        shop = self.shop
        out = {}
        for mode in ("none", "all"):
            w = copy.copy(shop)
            for k in _MUTABLE:
                setattr(w, k, self.snapshot[k].copy())
            w.consents = copy.copy(shop.consents)       # its own consent history per world
            w.consents.hist = dict(self.snapshot["hist"])
            w.prog = self.world(w, mode)
            w._campaign_loop()
            out[mode] = _world_outcomes(w)
        self.worlds = out           # per customer, for tests: {"none"|"all": {horizon: {...}}}
        crm, hold = out["none"], out["all"]
        res = {
            "holdout": {"share": HOLDOUT["share"], "days": HOLDOUT["days"],
                        "start": str(shop._ts(np.array([self.h0])).iloc[0]),
                        "end": str(shop._ts(np.array([self.h1])).iloc[0]),
                        "n_members": int(self.member.sum()), "n_held_out": int(self.held.sum())},
            "fatigue": {k: v for k, v in FATIGUE.items()},
            "margin_rate": MARGIN_RATE, "retained_days": RETAINED_DAYS,
            "interactions": {c["campaign_id"]: dict(c["interaction"]) for c in CAMPAIGNS
                             if c.get("interaction")},
            "definitions": "per member of the holdout period: entry = later of the period's "
                           "start and sign-up; outcomes over [entry, entry + horizon), for the "
                           "members whose horizon ends within the holdout period; lift = mean "
                           "over those members of (outcome with CRM) - (outcome held out)",
            "horizons": {},
        }
        for h in HORIZONS:
            pop = self.member & (self.entry + h * DAY <= self.h1)
            if pop.sum() == 0:
                res["horizons"][str(h)] = None
                continue
            a, b = crm[h], hold[h]
            d = {"n_customers": int(pop.sum())}
            for m in ("revenue", "margin", "cost", "profit", "retained", "churned", "messages"):
                d[f"{m}_crm"] = float(np.mean(a[m][pop]))
                d[f"{m}_holdout"] = float(np.mean(b[m][pop]))
                d[f"{m}_lift"] = d[f"{m}_crm"] - d[f"{m}_holdout"]
            res["horizons"][str(h)] = d
            res[f"revenue_lift_{h}d"] = d["revenue_lift"]
            res[f"profit_lift_{h}d"] = d["profit_lift"]
        return res


def _world_outcomes(w) -> dict:
    """Per customer and horizon: revenue, cost of sends and coupons, margin, profit, retention,
    churn, messages, over ``[entry, entry + horizon)``."""
    tr = w.current()
    od = w.orders_of(tr)
    n = w.n
    entry = w.prog.entry
    owner = np.concatenate([od["owner"], od["r_owner"]])
    sec = np.concatenate([od["sec"], od["r_sec"]])
    amt = np.concatenate([od["amount"], od["r_amount"]])
    pos = od["amount"] > 0
    # sends: cost per send and coupons redeemed within 7 days of a delivered coupon send
    from crmlab.data import _sim_params as P

    pkey = np.sort(tr["idx"][od["owner"][pos]] * np.int64(4 * w.T_sec) + od["sec"][pos])
    s_c, s_s, s_cost, s_adv = [], [], [], []
    for rec in w.records:
        c = w.campaigns[rec["j"]]
        f, idx, arm_i = rec["f"], rec["idx"], rec["arm_i"]
        treated = arm_i > 0
        cost = np.full(len(idx), float(P.CHANNELS[c["channel"]]["cost"]))
        for a_no, arm in enumerate(rec["arm_names"][1:], start=1):
            a = c["arms"][arm]
            sel = arm_i == a_no
            if a["coupon"] > 0:
                k0 = idx[sel] * np.int64(4 * w.T_sec) + f["sent"][sel]
                p = np.searchsorted(pkey, k0, side="left")
                nxt = pkey[np.minimum(p, len(pkey) - 1)] if len(pkey) else k0 - 1
                used = (p < len(pkey)) & (nxt >= k0) & (nxt < k0 + P.CONVERSION_DAYS * DAY)
                cost[sel] += np.where(f["delivered"][sel] & used, a["coupon"], 0.0)
        s_c.append(idx[treated])
        s_s.append(f["sent"][treated])
        s_cost.append(cost[treated])
        s_adv.append(np.full(int(treated.sum()), c["channel"] in _ADVERTISING) &
                     f["delivered"][treated])
    s_c = np.concatenate(s_c) if s_c else np.zeros(0, np.int64)
    s_s = np.concatenate(s_s) if s_s else np.zeros(0, np.int64)
    s_cost = np.concatenate(s_cost) if s_cost else np.zeros(0)
    s_adv = np.concatenate(s_adv).astype(float) if s_adv else np.zeros(0)
    out = {}
    for h in HORIZONS:
        H = h * DAY
        rev = window_sum(entry, tr["idx"][owner], sec, amt, H) if len(owner) else np.zeros(n)
        cost = window_sum(entry, s_c, s_s, s_cost, H)
        msgs = window_sum(entry, s_c, s_s, s_adv, H)
        start_ret = entry + H - RETAINED_DAYS * DAY
        cust_pos = tr["idx"][od["owner"][pos]]
        ret = window_sum(start_ret, cust_pos, od["sec"][pos], np.ones(int(pos.sum())),
                         RETAINED_DAYS * DAY) > 0
        end = np.minimum(entry + H, w.T_sec)
        _, churned = churn_survival(entry, end, cust_pos, od["sec"][pos],
                                    P.CHURN_AFTER_DAYS * DAY)
        out[h] = {"revenue": rev, "cost": cost, "margin": MARGIN_RATE * rev,
                  "profit": MARGIN_RATE * rev - cost, "retained": ret.astype(float),
                  "churned": churned.astype(float), "messages": msgs}
    return out


def meta_parameters() -> dict:
    return {"holdout": dict(HOLDOUT), "fatigue": dict(FATIGUE), "margin_rate": MARGIN_RATE,
            "campaigns": [c["campaign_id"] for c in CAMPAIGNS]}
