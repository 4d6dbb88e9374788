"""A simulated online shop with known ground truth, written in the crmlab data contract.

Customers sign up over time through acquisition channels; some buy on their own, others stay
"potential" customers. After the first purchase each buyer follows a Pareto/NBD process
(gamma-heterogeneous Poisson purchase rate, gamma-heterogeneous exponential lifetime) with
Gamma-Gamma order values in KRW; about 2% of orders are refunded. Visits, product views, cart
adds and wishlists precede purchases, and customers also browse without buying. Six CRM campaigns
(first purchase, abandoned cart with two treatment arms, an SMS blast, win-back, review request,
birthday) assign customers at random to a holdout or a treatment; treatments change short-term
conversion, the purchase rate and the dropout hazard, in some cases lastingly, in one case not at
all, in one case for the worse (through unsubscribes).

Every assigned customer is simulated under every arm of the campaign with common random numbers
(the same Poisson points, lifetimes and order draws in every world; other campaigns held at
their realised assignments), so ``ground_truth.json`` records the exact effect in the realised
sample, by the shared definitions of docs/architecture.md.

Examples
--------
>>> from crmlab.data.simulate import simulate
>>> path = simulate("/tmp/shop", n_customers=3000, months=24, seed=1)   # doctest: +SKIP
>>> sorted(p.name for p in path.iterdir())                               # doctest: +SKIP
['assignments.parquet', 'campaigns.parquet', 'consent_events.parquet', 'customers.parquet',
 'events.parquet', 'ground_truth.json', 'meta.json', 'orders.parquet']
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmlab.data import _sim_params as P
from crmlab.data import _sim_program as PG
from crmlab.data._sim_consent import ConsentHistory
from crmlab.data._sim_effects import individual_effects, response_multiplier
from crmlab.data._sim_core import (
    DAY, FAR, DiurnalWarp, churn_survival, cox_hazard_ratio, csr_take, group_rank,
    piecewise_cumulative, piecewise_inverse, ragged_points, to_seconds, window_any, window_sum,
)

__all__ = ["simulate", "simulate_shop", "write_shop", "SimulatedShop", "generator_fingerprint"]

HOUR = 3_600
MINUTE = 60
TZ = "Asia/Seoul"
CURRENCY = "KRW"
MIN_MONTHS = 12
_NO = np.int64(-1)          # "no such time" in second arrays
def generator_fingerprint() -> str:
    """Short hash of the simulator's source (this module, its mechanics and its parameters).

    Recorded in ``meta.json``; a cached shop written by another version of the simulator has a
    different fingerprint (:func:`crmlab.datasets.demo_data` re-simulates it).
    """
    import hashlib

    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in ("simulate.py", "_sim_core.py", "_sim_params.py", "_sim_consent.py",
                 "_sim_effects.py", "_sim_program.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


_CONSENT_OF = {"email": "email", "sms": "sms", "lms": "sms", "app_push": "push",
               "in_app": "push", "kakao_friendtalk": "kakao", "kakao_alimtalk": None}


@dataclass
class SimulatedShop:
    """A simulated shop in memory: the contract tables, metadata and the ground truth.

    Attributes
    ----------
    tables : dict of DataFrame
        ``customers``, ``orders``, ``events``, ``campaigns``, ``assignments``,
        ``consent_events``.
    meta : dict
        What ``meta.json`` holds (observation end, currency, time zone, parameters).
    ground_truth : dict
        What ``ground_truth.json`` holds, keyed by campaign_id.
    potential_outcomes : DataFrame
        One row per assigned customer, campaign and world (``world`` = the arm simulated):
        ``converted_7d``, ``revenue_180d``, ``churn_duration_days``, ``churned`` and the arm the
        customer was actually assigned (``arm``).
    """

    tables: dict[str, pd.DataFrame]
    meta: dict
    ground_truth: dict
    potential_outcomes: pd.DataFrame = field(repr=False)
    #: Per campaign, assigned customer and treatment arm: expected and realized effects
    #: (``ground_truth_effects.parquet``; see :mod:`crmlab.data._sim_effects`).
    effects: pd.DataFrame | None = field(default=None, repr=False)


# ============================================================================================
# Public API


def simulate(out_dir, n_customers: int = 50_000, months: int = 24, seed: int = 0,
             start: str = "2024-01-01", program: bool = True) -> Path:
    """Simulate the shop and write it to ``out_dir`` in the crmlab data contract.

    Parameters
    ----------
    out_dir : str or Path
        Directory to write (created if needed; existing files of the same names are replaced).
    n_customers : int
        Number of customers who sign up during the period (default 50,000).
    months : int
        Length of the observed period in months (at least 12; default 24). Campaigns are placed
        so that at least 183 days of data follow the end of each one.
    seed : int
        Random seed; the same arguments give byte-identical files.
    start : str
        First day of the period (local time, Asia/Seoul); ``observation_end`` is
        ``start + months``.
    program : bool
        Simulate CRM as a whole (default): a global holdout (7 % of members kept out of every
        campaign for 12 months, written to ``holdout_periods``), three overlapping season
        campaigns, message fatigue, and the program's true effect under ``program`` in
        ``ground_truth.json`` (``docs/simulator.md``). False: the six campaigns alone.

    Returns
    -------
    Path
        ``out_dir``, holding ``customers``, ``orders``, ``events``, ``campaigns``,
        ``assignments`` and ``consent_events`` as ``.parquet``, plus ``meta.json`` and
        ``ground_truth.json``.

    Examples
    --------
    >>> import crmlab
    >>> path = crmlab.simulate("/tmp/shop", n_customers=3000, seed=1)   # doctest: +SKIP
    >>> data = crmlab.load(path)                                        # doctest: +SKIP
    """
    shop = simulate_shop(n_customers=n_customers, months=months, seed=seed, start=start,
                         program=program)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_shop(shop, out)
    return out


def write_shop(shop: SimulatedShop, out_dir) -> None:
    """Write a :class:`SimulatedShop` as parquet + JSON with fixed, reproducible settings.

    Each file is written to a hidden temporary name and renamed into place.

    Examples
    --------
    >>> shop = simulate_shop(n_customers=2000, seed=3)      # doctest: +SKIP
    >>> write_shop(shop, "/tmp/shop")                        # doctest: +SKIP
    """
    out = Path(out_dir)
    for name, df in shop.tables.items():
        table = _to_arrow(name, df)
        tmp = out / f".{name}.parquet.tmp"
        pq.write_table(table, tmp, compression="zstd", compression_level=3,
                       use_dictionary=True, write_statistics=True, row_group_size=1_000_000,
                       version="2.6", data_page_version="1.0")
        os.replace(tmp, out / f"{name}.parquet")
    if shop.effects is not None:
        tmp = out / ".ground_truth_effects.parquet.tmp"
        pq.write_table(pa.Table.from_pandas(shop.effects, preserve_index=False)
                       .replace_schema_metadata(None), tmp, compression="zstd",
                       compression_level=3, row_group_size=1_000_000, version="2.6",
                       data_page_version="1.0")
        os.replace(tmp, out / "ground_truth_effects.parquet")
    for name, obj in (("meta.json", shop.meta), ("ground_truth.json", shop.ground_truth)):
        tmp = out / f".{name}.tmp"
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")
        os.replace(tmp, out / name)


def simulate_shop(n_customers: int = 50_000, months: int = 24, seed: int = 0,
                  start: str = "2024-01-01", program: bool = True) -> SimulatedShop:
    """Simulate the shop in memory (what :func:`simulate` writes).

    Same parameters as :func:`simulate`. Returns a :class:`SimulatedShop`, whose
    ``potential_outcomes`` hold every assigned customer's outcomes under every arm (the
    ground truth's raw material).

    Examples
    --------
    >>> shop = simulate_shop(n_customers=2000, seed=3)                  # doctest: +SKIP
    >>> shop.ground_truth["winback_lms"]["conversion_lift"]             # doctest: +SKIP
    """
    if int(n_customers) < 100:
        raise ValueError(f"simulate: n_customers must be at least 100, got {n_customers}")
    if int(months) > 360:
        raise ValueError(f"simulate: months must be at most 360, got {months}")
    if int(months) < MIN_MONTHS:
        raise ValueError(f"simulate: months must be at least {MIN_MONTHS} (every campaign needs "
                         f"183 days of data after it), got {months}")
    return _Shop(int(n_customers), int(months), int(seed), start, bool(program)).run()


# ============================================================================================
# The simulation


class _Shop:
    def __init__(self, n: int, months: int, seed: int, start: str, program: bool = False):
        self.n, self.months, self.seed = n, months, seed
        self.start = pd.Timestamp(start).normalize()
        if self.start.tzinfo is not None:
            raise ValueError("simulate: start must be a naive local date (Asia/Seoul wall clock)")
        self.end = self.start + pd.DateOffset(months=months)
        self.T = int((self.end - self.start) / pd.Timedelta(days=1))     # days observed
        self.T_sec = self.T * DAY
        self.warp = DiurnalWarp()
        ss = np.random.SeedSequence(seed)
        # a new stream goes last: the streams before it stay the same
        names = ["customers", "points", "slots", "browse", "campaigns", "events", "consent",
                 "program"]
        self.rng = dict(zip(names, (np.random.default_rng(s) for s in ss.spawn(len(names)))))
        self.campaigns = [dict(c) for c in P.CAMPAIGNS + (PG.CAMPAIGNS if program else ())]
        self.J = len(self.campaigns)
        self.program = program
        self.prog = None          # the program's state (PG.Program), set in run()

    # ----------------------------------------------------------------------------- customers
    def _customers(self) -> None:
        rng, n, T = self.rng["customers"], self.n, self.T
        g = P.SIGNUP_GROWTH
        u = rng.random(n)
        x = (-1 + np.sqrt(1 + 2 * g * u * (1 + g / 2))) / g
        self.t_signup = np.sort(x * T * (1 - 1e-9))                  # model days, sorted: id order
        self.signup_sec = to_seconds(self.warp.to_wall(self.t_signup))
        self.acq = rng.choice(len(P.ACQUISITION_CHANNELS), size=n, p=P.ACQUISITION_SHARE)
        self.buyer = rng.random(n) < np.asarray(P.BUYER_PROBABILITY)[self.acq]
        quick = rng.random(n) < P.FIRST_QUICK_SHARE
        delay = np.where(quick, rng.exponential(P.FIRST_QUICK_MEAN, n),
                         rng.exponential(P.FIRST_SLOW_MEAN, n))
        delay = np.maximum(delay, 3.0 / 1440)
        self.s0_nat = np.where(self.buyer, self.t_signup + delay, FAR)
        pn = P.PARETO_NBD
        self.lam = rng.gamma(pn["r"], 1.0 / pn["alpha"], n)
        self.mu = rng.gamma(pn["s"], 1.0 / pn["beta"], n)
        self.e_death = rng.exponential(1.0, n)
        gg = P.GAMMA_GAMMA
        self.nu = rng.gamma(gg["q"], 1.0 / gg["gamma"], n)
        self.region = rng.choice(len(P.REGIONS), size=n, p=np.asarray(P.REGION_SHARE) /
                                 np.sum(P.REGION_SHARE))
        age = np.clip(18 + rng.gamma(4.0, 5.0, n), 18, 79)
        self.birth = (self.start - pd.to_timedelta(np.floor(age * 365.25), unit="D")).normalize()
        self.birth = np.asarray(self.birth.values, dtype="datetime64[D]")
        z = rng.standard_normal(n)
        from scipy.stats import norm
        self.consent0 = {}
        for k, rate in P.CONSENT_RATE.items():
            latent = 0.7 * z + np.sqrt(1 - 0.49) * rng.standard_normal(n)
            self.consent0[k] = latent < norm.ppf(rate)
        self.consents = ConsentHistory(self.rng["consent"], self.consent0, self.signup_sec,
                                       self.T_sec, self.J)
        self.cat_pref = rng.choice(len(P.PRODUCT_CATEGORIES), size=n,
                                   p=P.PRODUCT_CATEGORY_SHARE)
        self.sales_pref = rng.choice(len(P.SALES_CHANNELS), size=n, p=P.SALES_CHANNEL_SHARE)

        # Unit Poisson points for repeat purchases (enough for a doubled purchase rate).
        self.pt_ptr, self.pt_val = ragged_points(self.rng["points"], self.lam * T * 2.0 + 1.0)
        b = P.BROWSE
        self.v_alive = b["alive_base"] + b["alive_per_lambda"] * self.lam
        # the visit intensity never exceeds max(lurk, alive) after the first 30 days
        cap = b["explore"] * b["explore_days"] + np.maximum(self.v_alive, b["lurk"]) * T + 1.0
        self.br_ptr, self.br_val = ragged_points(self.rng["browse"], cap)

        # Per-purchase draws: slot pool = first purchase (n) | induced (n*J) | repeats (points).
        self.slot_first = 0
        self.slot_induced = n
        self.slot_repeat = n + n * self.J
        self.slots = _slot_draws(self.rng["slots"], self.slot_repeat + len(self.pt_val))
        self.br_slots = _session_draws(self.rng["browse"], len(self.br_val))

        # Treatments in force (model days / multipliers) and induced purchases (wall seconds).
        # program: columns J..3J-1 hold the fatigue of each campaign's message (on, off)
        cols = self.J * (3 if self.program else 1)
        self.tr_t = np.full((n, cols), -FAR)
        self.tr_k = np.ones((n, cols))
        self.tr_h = np.ones((n, cols))
        self.induced = np.full((n, self.J), _NO)
        # Assignment times of campaigns with lasting rate effects (for precursor clamping).
        self.clamp = np.full((n, self.J), _NO)

    def consent_now(self, kind: str | None, at_sec: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return self.consents.now(kind, at_sec, idx)

    # ----------------------------------------------------------------------------- purchases
    def trajectory(self, idx, tr_t, tr_k, tr_h, induced) -> dict:
        """Purchases of customers ``idx`` under the given treatments (rows aligned with idx)."""
        n = len(idx)
        J = self.J
        ind_ok = induced >= 0
        ind_model = np.where(ind_ok, self.warp.to_model(np.where(ind_ok, induced, 0) / DAY), FAR)
        s0_nat = self.s0_nat[idx]
        ind_first = ind_model.min(axis=1) if J else np.full(n, FAR)
        s0 = np.minimum(s0_nat, ind_first)
        first_is_induced = ind_first < s0_nat
        K = tr_t.shape[1]
        if K != J:      # overlapping campaigns and fatigue: changes in time order
            o = np.argsort(tr_t, axis=1, kind="stable")
            tr_t, tr_k, tr_h = (np.take_along_axis(x, o, axis=1) for x in (tr_t, tr_k, tr_h))
        bounds = np.empty((n, K + 2))
        bounds[:, 0] = s0
        bounds[:, 1:K + 1] = np.maximum.accumulate(np.maximum(tr_t, s0[:, None]), axis=1)
        bounds[:, K + 1] = 2 * FAR
        ones = np.ones((n, 1))
        rk = self.lam[idx][:, None] * np.concatenate([ones, np.cumprod(tr_k, axis=1)], axis=1)
        rh = self.mu[idx][:, None] * np.concatenate([ones, np.cumprod(tr_h, axis=1)], axis=1)
        ck = piecewise_cumulative(bounds, rk)
        ch = piecewise_cumulative(bounds, rh)
        local = np.arange(n)
        tau = piecewise_inverse(bounds, rh, ch, local, self.e_death[idx])
        tau = np.where(s0 >= FAR, FAR, tau)
        flat, owner = csr_take(self.pt_ptr, idx)
        t = piecewise_inverse(bounds, rk, ck, owner, self.pt_val[flat])
        keep = (t < np.minimum(tau[owner], self.T)) & (s0[owner] < FAR)
        rep_owner, rep_t, rep_slot = owner[keep], t[keep], self.slot_repeat + flat[keep]
        # first purchase
        has_first = (s0 < self.T)
        nat_first = has_first & ~first_is_induced
        f_owner = local[nat_first]
        f_sec = to_seconds(self.warp.to_wall(s0[nat_first]))
        # induced purchases (the earliest is the first purchase when it precedes the natural one)
        io, ij = np.nonzero(ind_ok)
        i_sec = induced[io, ij]
        i_first = first_is_induced[io] & (ind_model[io, ij] == ind_first[io])
        i_slot = np.where(i_first, self.slot_first + idx[io], self.slot_induced + idx[io] * J + ij)
        i_kind = np.where(i_first, 0, 1)
        keep_i = i_sec < self.T_sec
        owner_all = np.concatenate([f_owner, io[keep_i], rep_owner])
        sec_all = np.concatenate([f_sec, i_sec[keep_i], to_seconds(self.warp.to_wall(rep_t))])
        slot_all = np.concatenate([self.slot_first + idx[f_owner], i_slot[keep_i], rep_slot])
        kind_all = np.concatenate([np.zeros(len(f_owner), np.int8), i_kind[keep_i].astype(np.int8),
                                   np.full(len(rep_owner), 2, np.int8)])
        camp_all = np.concatenate([np.full(len(f_owner), -1), ij[keep_i],
                                   np.full(len(rep_owner), -1)])
        order = np.lexsort((sec_all, owner_all))
        return {"owner": owner_all[order], "sec": sec_all[order], "slot": slot_all[order],
                "kind": kind_all[order], "camp": camp_all[order], "s0": s0, "tau": tau,
                "idx": idx}

    def current(self, idx=None) -> dict:
        idx = np.arange(self.n) if idx is None else idx
        return self.trajectory(idx, self.tr_t[idx], self.tr_k[idx], self.tr_h[idx],
                               self.induced[idx])

    def orders_of(self, tr: dict) -> dict:
        """Positive orders and refunds of a trajectory (owner = position in ``tr['idx']``)."""
        s = self.slots
        slot, owner, sec = tr["slot"], tr["owner"], tr["sec"]
        cust = tr["idx"][owner]
        amount = s["gamma"][slot] / self.nu[cust]
        amount = np.maximum(np.round(amount / P.AMOUNT_ROUNDING) * P.AMOUNT_ROUNDING, P.AMOUNT_MIN)
        refund = s["u_refund"][slot] < P.REFUND_PROBABILITY
        r_sec = sec[refund] + to_seconds(s["refund_delay"][slot[refund]])
        full = s["u_partial"][slot[refund]] < P.REFUND_FULL_SHARE
        r_amount = np.where(full, amount[refund],
                            np.maximum(np.round(amount[refund] * s["partial_frac"][slot[refund]] /
                                                P.AMOUNT_ROUNDING) * P.AMOUNT_ROUNDING,
                                       P.AMOUNT_ROUNDING))
        keep = r_sec < self.T_sec
        return {"owner": owner, "sec": sec, "amount": amount, "slot": slot,
                "r_owner": owner[refund][keep], "r_sec": r_sec[keep],
                "r_amount": -r_amount[keep], "r_of": np.nonzero(refund)[0][keep],
                "r_full": full[keep]}

    # ----------------------------------------------------------------------------- events
    def precursors(self, tr: dict, cart_only: bool = False) -> dict:
        """Visit / product views / cart add before every purchase (wall seconds)."""
        s = self.slots
        owner, sec, slot = tr["owner"], tr["sec"], tr["slot"]
        cust = tr["idx"][owner]
        # earliest allowed moment: sign-up, a lasting-effect assignment before the purchase,
        # or the click/send that induced it
        floor = self.signup_sec[cust].copy()
        cl = self.clamp[cust]
        floor = np.maximum(floor, np.where((cl >= 0) & (cl <= sec[:, None]), cl, 0).max(axis=1))
        camp = tr["camp"]
        ind = camp >= 0
        floor[ind] = np.maximum(floor[ind], self._induced_floor[cust[ind], camp[ind]])
        dur = s["pre_dur"][slot] * MINUTE
        delayed = s["u_delayed"][slot] < P.DELAYED_PURCHASE_SHARE
        gap = np.where(delayed, (s["delay"][slot] * DAY).astype(np.int64), 0)
        span = gap + dur + 2 * MINUTE
        avail = np.maximum(sec - floor - 1, 1)
        factor = np.minimum(1.0, avail / np.maximum(span, 1))
        back = lambda x: sec - np.floor(x * factor).astype(np.int64)   # noqa: E731
        cart_sec = back(np.where(delayed, gap, 90))
        cat = np.where(s["u_cat"][slot] < 0.6, self.cat_pref[cust], s["cat_rand"][slot])
        if cart_only:
            return {"cust": cust, "sec": cart_sec, "delayed": delayed}
        nv = s["n_views"][slot]
        # session that holds the cart add
        sess_start = back(np.where(delayed, gap, 0) + dur + 2 * MINUTE)
        ev_c, ev_s, ev_t, ev_cat = [cust, cust], [sess_start, cart_sec], ["visit", "cart_add"], \
            [cat, cat]
        rep = np.repeat(np.arange(len(sec)), nv)
        k = group_rank(rep) + 1
        view_sec = sess_start[rep] + np.floor((cart_sec[rep] - sess_start[rep]) * k /
                                              (nv[rep] + 1)).astype(np.int64)
        ev_c.append(cust[rep]); ev_s.append(view_sec); ev_t.append("product_view")
        ev_cat.append(cat[rep])
        # return visit right before a delayed purchase
        d = np.nonzero(delayed)[0]
        ev_c += [cust[d], cust[d]]
        ev_s += [sec[d] - np.floor(6 * MINUTE * factor[d]).astype(np.int64),
                 sec[d] - np.floor(4 * MINUTE * factor[d]).astype(np.int64)]
        ev_t += ["visit", "product_view"]
        ev_cat += [np.full(len(d), -1), cat[d]]
        return _event_parts(ev_c, ev_s, ev_t, ev_cat)

    def browsing(self, tr: dict, cart_only: bool = False) -> dict:
        """Browsing sessions without a purchase, from the customers' visit intensity."""
        b = P.BROWSE
        idx = tr["idx"]
        ts = self.t_signup[idx]
        s0 = np.maximum(tr["s0"], ts)
        tau = np.maximum(tr["tau"], s0)
        a1 = np.minimum(s0, ts + b["explore_days"])
        bounds = np.stack([ts, a1, s0, tau, tau + b["fade_days"], np.full(len(idx), 2 * FAR)], 1)
        bounds = np.maximum.accumulate(bounds, axis=1)
        va = self.v_alive[idx]
        rates = np.stack([np.full(len(idx), b["explore"]), np.full(len(idx), b["lurk"]), va,
                          b["fade_share"] * va, np.full(len(idx), b["gone"])], 1)
        cum = piecewise_cumulative(bounds, rates)
        flat, owner = csr_take(self.br_ptr, idx)
        t = piecewise_inverse(bounds, rates, cum, owner, self.br_val[flat])
        keep = t < self.T
        flat, owner, t = flat[keep], owner[keep], t[keep]
        d = self.br_slots
        cust = idx[owner]
        start = to_seconds(self.warp.to_wall(t))
        dur = (d["dur"][flat] * MINUTE).astype(np.int64)
        cart = d["u_cart"][flat] < P.SESSION_CART_PROBABILITY
        cat = np.where(d["u_cat"][flat] < 0.6, self.cat_pref[cust], d["cat_rand"][flat])
        if cart_only:
            return {"cust": cust[cart], "sec": start[cart] + dur[cart]}
        nv = d["n_views"][flat]
        wish = d["u_wish"][flat] < P.SESSION_WISHLIST_PROBABILITY
        rep = np.repeat(np.arange(len(t)), nv)
        k = group_rank(rep) + 1
        view = start[rep] + np.floor(dur[rep] * k / (nv[rep] + 1)).astype(np.int64)
        parts_c = [cust, cust[rep], cust[cart], cust[wish]]
        parts_s = [start, view, start[cart] + dur[cart], start[wish] + (dur[wish] * 0.9).astype(np.int64)]
        parts_t = ["visit", "product_view", "cart_add", "wishlist"]
        parts_cat = [np.full(len(t), -1), cat[rep], cat[cart], cat[wish]]
        return _event_parts(parts_c, parts_s, parts_t, parts_cat)

    # ----------------------------------------------------------------------------- campaigns
    def _schedule(self) -> None:
        usable = self.T - 185
        for c in self.campaigns:
            if "window" in c:
                a, b = c["window"]
                c["start_sec"] = int(round(a * usable)) * DAY
                c["end_sec"] = int(round(b * usable)) * DAY
            else:
                d = int(round(c["day"] * usable))
                c["start_sec"] = d * DAY + 9 * HOUR
                c["end_sec"] = d * DAY + 22 * HOUR

    def _eligible(self, j: int, c: dict) -> tuple[np.ndarray, np.ndarray]:
        """Customers eligible for campaign ``c`` and their assignment time (seconds)."""
        n = self.n
        u = self.cu[j]
        ws, we = c["start_sec"], c["end_sec"]
        consent = _CONSENT_OF[c["channel"]]
        trig = c["trigger"]
        if trig in ("signup_no_purchase", "active_buyers", "dormant_90", "after_purchase"):
            tr = self.current()
            first = np.full(n, np.iinfo(np.int64).max)
            last = np.full(n, -1, np.int64)
        if trig == "signup_no_purchase":
            at = (self.signup_sec // DAY + 7) * DAY + 10 * HOUR + (u["t"] * HOUR).astype(np.int64)
            np.minimum.at(first, tr["owner"], tr["sec"])
            ok = (at >= ws) & (at < we) & (first >= at)
        elif trig in ("active_buyers", "dormant_90"):
            # the list is pulled at 19:30 (SMS blast) or 09:00 (win-back)
            t_list = ws // DAY * DAY + (19 * HOUR + 30 * MINUTE if trig == "active_buyers"
                                        else 9 * HOUR)
            at = np.full(n, t_list, np.int64)
            past = tr["sec"] < t_list
            np.maximum.at(last, tr["owner"][past], tr["sec"][past])
            if trig == "active_buyers":
                ok = (last >= 0) & (last >= at - 365 * DAY)
            else:
                ok = (last >= 0) & (last < at - 90 * DAY)
        elif trig == "after_purchase":
            day = tr["sec"] // DAY
            at_p = (day + 3) * DAY + 11 * HOUR + (u["t"][tr["owner"]] * 2 * HOUR).astype(np.int64)
            okp = (at_p >= ws) & (at_p < we)
            at = np.full(n, np.iinfo(np.int64).max)
            np.minimum.at(at, tr["owner"][okp], at_p[okp])
            ok = at < np.iinfo(np.int64).max
        elif trig == "cart_abandon":
            tr = self.current()
            carts = [self.browsing(tr, cart_only=True)]
            pre = self.precursors(tr, cart_only=True)
            carts.append({"cust": pre["cust"][pre["delayed"]], "sec": pre["sec"][pre["delayed"]]})
            cc = np.concatenate([x["cust"] for x in carts])
            cs = np.concatenate([x["sec"] for x in carts])
            at_c = cs + 3 * HOUR
            okc = (at_c >= ws) & (at_c < we)
            cc, cs, at_c = cc[okc], cs[okc], at_c[okc]
            # no purchase in (cart add, cart add + 3h]
            pkey = tr["idx"][tr["owner"]] * np.int64(4 * self.T_sec) + tr["sec"]
            pkey.sort()
            ckey = cc * np.int64(4 * self.T_sec) + cs
            pos = np.searchsorted(pkey, ckey, side="right")
            nxt = np.where(pos < len(pkey), pkey[np.minimum(pos, len(pkey) - 1)], np.iinfo(np.int64).max)
            bought = nxt <= ckey + 3 * HOUR
            cc, at_c = cc[~bought], at_c[~bought]
            at = np.full(n, np.iinfo(np.int64).max)
            np.minimum.at(at, cc, at_c)
            ok = at < np.iinfo(np.int64).max
        elif trig == PG._SEGMENT:
            ok, at = self.prog.segment(c)
        elif trig == "birthday":
            at = np.full(n, np.iinfo(np.int64).max)
            bd = self.birth.astype("datetime64[D]")
            month = (bd.astype("datetime64[M]") - bd.astype("datetime64[Y]")).astype(int)
            mday = (bd - bd.astype("datetime64[M]")).astype(int)
            y0 = (self.start + pd.Timedelta(seconds=ws)).year
            for y in (y0, y0 + 1):
                leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
                md = np.where((month == 1) & (mday == 28) & (not leap), 27, mday)
                date = (np.datetime64(f"{y}-01", "M") + month).astype("datetime64[D]") + md
                sec = ((date - np.datetime64(self.start.date(), "D")).astype(np.int64) * DAY
                       + 9 * HOUR + (u["t"] * 30 * MINUTE).astype(np.int64))
                at = np.where((sec >= ws) & (sec < we) & (sec < at), sec, at)
            ok = (at < np.iinfo(np.int64).max) & (self.signup_sec < at)
        else:  # pragma: no cover
            raise ValueError(trig)
        ok &= self.signup_sec < at
        idx = np.nonzero(ok)[0]
        at_i = at[idx]
        if self.prog is not None:         # the global holdout is on no campaign's list
            free = ~self.prog.held_now(idx, at_i)
            idx, at_i = idx[free], at_i[free]
        cons = self.consent_now(consent, at_i, np.arange(n)[idx])
        if trig == "dormant_90":
            stale = ~cons & (u["leak"][idx] < P.WINBACK_STALE_LIST_SHARE)
            cons = cons | stale
        return idx[cons], at_i[cons]

    def _funnel(self, j: int, c: dict, idx: np.ndarray, at: np.ndarray) -> dict:
        """Send, delivery, open, click, unsubscribe and response of every assigned customer
        under every arm (hypothetical for the holdout), with common random numbers."""
        u = {k: v[idx] for k, v in self.cu[j].items()}
        ch = P.CHANNELS[c["channel"]]
        m = len(idx)
        trig = c["trigger"]
        if trig == "cart_abandon":
            hour = (at % DAY) // HOUR
            night = (hour >= 21) | (hour < 8)
            night_ok = self.consent_now("night", at, idx)
            leak = u["leak"] < P.NIGHT_SEND_LEAK
            wait = night & ~night_ok & ~leak
            next8 = np.where(hour >= 21, (at // DAY + 1) * DAY, at // DAY * DAY) + 8 * HOUR
            sent = np.where(wait, next8 + (u["s"] * 30 * MINUTE).astype(np.int64), at + MINUTE)
        elif trig == "active_buyers":
            # the program's worlds need each customer's send time to be their own
            rank = (u["s"] * max(m, 1) if self.program else
                    np.argsort(np.argsort(u["s"], kind="stable"), kind="stable"))
            sent = (at // DAY * DAY + 20 * HOUR +
                    np.floor(rank / max(m, 1) * P.BLAST_MINUTES * MINUTE).astype(np.int64))
        elif trig == "dormant_90":
            sent = at + HOUR + (u["s"] * 40 * MINUTE).astype(np.int64)
        else:
            sent = at + MINUTE + (u["s"] * 5 * MINUTE).astype(np.int64)
        delivered = u["deliver"] < ch["deliver"]
        od = (u["open_delay"] * ch["open_delay_h"] * HOUR).astype(np.int64)
        if ch["open"] is None:
            opened = np.zeros(m, bool)
            clicked = delivered & (u["click"] < ch["click"])
            clicked_sec = sent + od
        else:
            opened = delivered & (u["open"] < ch["open"])
            clicked = opened & (u["click"] < ch["click"])
            clicked_sec = sent + od + (u["click_delay"] * 3 * MINUTE).astype(np.int64)
        opened_sec = np.where(opened, sent + od, _NO)
        if c["channel"] == "app_push":        # a push is "opened" by tapping it
            opened, opened_sec = clicked, np.where(clicked, clicked_sec, _NO)
        clicked_sec = np.where(clicked, clicked_sec, _NO)
        limit = at + P.CONVERSION_DAYS * DAY - MINUTE
        arms = {}
        own = response_multiplier(self, idx)         # customer-driven response heterogeneity
        factor = own
        prog = self.prog
        if prog is not None:                          # the program's own campaigns
            factor = factor * prog.response_multiplier(c, idx)
        for arm, a in c["arms"].items():
            base_pi = np.where(clicked, a["pi_click"], a["pi_noclick"])
            pi_own = base_pi * own
            pi = np.minimum(1.0, base_pi * factor)
            respond = delivered & (u["respond"] < pi)
            base = np.where(clicked, clicked_sec, sent)
            room = np.maximum(limit - base, MINUTE)
            mean = np.where(clicked, P.RESPONSE_CLICK_MEAN_H * HOUR, P.RESPONSE_NOCLICK_MEAN_D * DAY)
            dly = -mean * np.log1p(-u["resp_delay"] * (1 - np.exp(-room / mean)))
            resp_any = base + np.clip(dly.astype(np.int64), 1, room - 1)
            resp_sec = np.where(respond, resp_any, _NO)
            p_unsub = (prog.unsub_probability(c, a["unsub"], idx, sent) if prog is not None
                       else a["unsub"])
            unsub = delivered & (u["unsub"] < p_unsub)
            unsub_sec = np.where(unsub, np.maximum(sent, opened_sec) +
                                 (u["unsub_delay"] * 30 * MINUTE).astype(np.int64) + MINUTE, _NO)
            k = np.where(delivered, a["k"], 1.0) * np.where(unsub, P.UNSUBSCRIBE_EFFECT["rate_multiplier"], 1.0)
            h = np.where(delivered, a["h"], 1.0) * np.where(unsub, P.UNSUBSCRIBE_EFFECT["dropout_multiplier"], 1.0)
            arms[arm] = {"respond": respond, "resp_sec": resp_sec, "unsub": unsub,
                         "unsub_sec": unsub_sec, "k": k, "h": h,
                         # for the worlds of an interacting campaign: the response probability
                         # without the program's interactions, and the time of a response
                         "pi_own": pi_own, "resp_any": resp_any}
        if prog is not None:
            prog.funnel(j, c, idx, sent, delivered, opened_sec, arms)
        return {"sent": sent, "delivered": delivered, "opened_sec": opened_sec,
                "clicked_sec": clicked_sec, "arms": arms}

    def run(self) -> SimulatedShop:
        self._customers()
        self._schedule()
        rng = self.rng["campaigns"]
        keys = ["t", "arm", "leak", "s", "deliver", "open", "open_delay", "click", "click_delay",
                "respond", "resp_delay", "unsub", "unsub_delay", "review", "review_delay"]
        self.cu = [{k: rng.random(self.n) for k in keys} for _ in range(self.J)]
        for k in ("open_delay",):
            for j in range(self.J):
                self.cu[j][k] = -np.log1p(-self.cu[j][k])          # unit exponential delays
        if self.program:
            self.prog = PG.Program(self)
            self.prog.take_snapshot()
        self._campaign_loop()
        return self._finish()

    def _campaign_loop(self) -> None:
        """Every campaign in turn: eligibility, arms, funnel, treatments in force."""
        self._induced_floor = np.full((self.n, self.J), _NO)
        self.records = []
        for j, c in enumerate(self.campaigns):
            idx, at = self._eligible(j, c)
            arm_names = ["control"] + list(c["arms"])
            h = c["holdout_share"]
            probs = np.r_[h, np.full(len(c["arms"]), (1 - h) / len(c["arms"]))]
            u_arm = self.cu[j]["arm"][idx]
            arm_i = np.searchsorted(np.cumsum(probs)[:-1], u_arm, side="right")
            if len(idx) and not (arm_i == 0).any():
                # a tiny campaign without a holdout could not be evaluated: the customer with the
                # smallest assignment draw joins the control arm
                arm_i[np.argmin(u_arm)] = 0
            f = self._funnel(j, c, idx, at)
            rec = {"j": j, "idx": idx, "at": at, "arm_i": arm_i, "arm_names": arm_names, "f": f}
            self.records.append(rec)
            self._apply(rec, arm_i, factual=True)
            # purchases after the assignment may move with the arm: keep their preceding
            # events after the assignment too, so pre-assignment data never depend on the arm
            if c["trigger"] != "cart_abandon" and any(
                    a["k"] != 1.0 or a["unsub"] > 0 for a in c["arms"].values()):
                self.clamp[idx, j] = at

    def _apply(self, rec: dict, arm_i: np.ndarray, factual: bool, target=None) -> None:
        """Put the treatments of ``arm_i`` (0 = control) of campaign ``rec`` in force."""
        j, idx, f = rec["j"], rec["idx"], rec["f"]
        c = self.campaigns[j]
        tr_t, tr_k, tr_h, ind = target if target is not None else (
            self.tr_t, self.tr_k, self.tr_h, self.induced)
        rows = np.arange(len(idx)) if target is not None else idx
        t_send = self.warp.to_model(f["sent"] / DAY)
        tr_t[rows, j] = -FAR
        tr_k[rows, j] = 1.0
        tr_h[rows, j] = 1.0
        ind[rows, j] = _NO
        if self.prog is not None:
            self.prog.reset_columns(j, rows, (tr_t, tr_k, tr_h))
        for a_no, arm in enumerate(rec["arm_names"][1:], start=1):
            sel = arm_i == a_no
            a = f["arms"][arm]
            tr_t[rows[sel], j] = np.where(f["delivered"][sel], t_send[sel], -FAR)
            tr_k[rows[sel], j] = a["k"][sel]
            tr_h[rows[sel], j] = a["h"][sel]
            ind[rows[sel], j] = a["resp_sec"][sel]
            if self.prog is not None:
                self.prog.fatigue_columns(c, j, rows, sel, f["delivered"][sel], t_send[sel],
                                          (tr_t, tr_k, tr_h))
            if factual:
                cons = _CONSENT_OF[c["channel"]]
                us = a["unsub"][sel]
                if cons is not None and us.any():
                    self.consents.withdraw(cons, j, idx[sel][us], a["unsub_sec"][sel][us])
                if self.prog is not None:
                    blk = a.get("block")
                    if cons is not None and blk is not None and blk[sel].any():
                        b = blk[sel]
                        self.consents.withdraw(cons, j, idx[sel][b], a["block_sec"][sel][b])
                    dl = f["delivered"][sel]
                    self.prog.record(c["channel"], idx[sel][dl], f["sent"][sel][dl])
                base = np.where(f["clicked_sec"][sel] >= 0, f["clicked_sec"][sel], f["sent"][sel])
                resp = a["respond"][sel]
                self._induced_floor[idx[sel][resp], j] = base[resp]

    # ----------------------------------------------------------------------------- outputs
    def _finish(self) -> SimulatedShop:
        tr = self.current()
        od = self.orders_of(tr)
        tables = {
            "customers": self._customers_table(),
            "orders": self._orders_table(tr, od),
            "events": self._events_table(tr),
            "campaigns": self._campaigns_table(),
            "assignments": self._assignments_table(tr),
            "consent_events": self.consents.events(self._ts),
        }
        if self.prog is not None:
            tables["holdout_periods"] = self.prog.holdout_table()
        truth, po = self._ground_truth()
        if self.prog is not None:
            truth["program"] = _finite(self.prog.truth())
        meta = self._meta(tables)
        return SimulatedShop(tables=tables, meta=meta, ground_truth=truth, potential_outcomes=po,
                             effects=individual_effects(self, po))

    def _ts(self, sec: np.ndarray) -> pd.Series:
        sec = np.asarray(sec, dtype=np.int64)
        base = np.datetime64(self.start.to_datetime64(), "s")
        out = (base + sec.astype("timedelta64[s]")).astype("datetime64[us]")
        return pd.Series(np.where(sec < 0, np.datetime64("NaT"), out).astype("datetime64[us]"))

    def _customers_table(self) -> pd.DataFrame:
        n = self.n
        end = self.T_sec
        consent = {k: self.consent_now(k, np.full(n, end), np.arange(n)) for k in P.CONSENT_RATE}
        return pd.DataFrame({
            "customer_id": np.arange(1, n + 1, dtype=np.int64),
            "signup_ts": self._ts(self.signup_sec),
            "birth_date": pd.Series(self.birth.astype("datetime64[D]").astype(object)),
            "region": np.asarray(P.REGIONS, dtype=object)[self.region],
            "acquisition_channel": np.asarray(P.ACQUISITION_CHANNELS, dtype=object)[self.acq],
            "consent_email": consent["email"], "consent_sms": consent["sms"],
            "consent_push": consent["push"], "consent_kakao": consent["kakao"],
            "consent_night": consent["night"],
        })

    def _orders_table(self, tr: dict, od: dict) -> pd.DataFrame:
        s = self.slots
        cust = tr["idx"][od["owner"]]
        qty = 1 + np.floor(-np.log1p(-s["u_qty"][od["slot"]]) * od["amount"] / 45_000).astype(np.int64)
        sc = np.where(s["u_sales"][od["slot"]] < 0.8, self.sales_pref[cust], s["sales_rand"][od["slot"]])
        r = od["r_of"]
        rcust = cust[r]
        rq = np.where(od["r_full"], -qty[r], -1)
        all_cust = np.concatenate([cust, rcust])
        all_sec = np.concatenate([od["sec"], od["r_sec"]])
        is_ref = np.r_[np.zeros(len(cust), bool), np.ones(len(rcust), bool)]
        order = np.lexsort((is_ref, all_cust, all_sec))
        ids = np.empty(len(order), np.int64)
        ids[order] = np.arange(1, len(order) + 1)
        refund_of = np.r_[np.full(len(cust), -1), ids[r]]
        df = pd.DataFrame({
            "order_id": ids,
            "customer_id": all_cust.astype(np.int64) + 1,
            "order_ts": self._ts(all_sec),
            "amount": np.concatenate([od["amount"], od["r_amount"]]).astype(np.float64),
            "quantity": np.concatenate([qty, rq]).astype(np.int64),
            "sales_channel": np.asarray(P.SALES_CHANNELS, dtype=object)[np.concatenate([sc, sc[r]])],
            "is_refund": is_ref,
            "refund_of": pd.array(np.where(refund_of < 0, 0, refund_of), dtype="Int64"),
        })
        df.loc[~is_ref, "refund_of"] = pd.NA
        return df.iloc[order].reset_index(drop=True)

    def _events_table(self, tr: dict) -> pd.DataFrame:
        parts = [self.precursors(tr), self.browsing(tr)]
        n = self.n
        parts.append(_event_parts([np.arange(n)], [self.signup_sec], ["visit"], [np.full(n, -1)]))
        s = self.slots
        owner, sec, slot = tr["owner"], tr["sec"], tr["slot"]
        cust = tr["idx"][owner]
        rv = s["u_review"][slot] < P.REVIEW_PROBABILITY
        sp = s["u_support"][slot] < P.SUPPORT_PROBABILITY
        cat = np.where(s["u_cat"][slot] < 0.6, self.cat_pref[cust], s["cat_rand"][slot])
        od = self.orders_of(tr)
        rc = tr["idx"][od["r_owner"]]
        parts.append(_event_parts(
            [cust[rv], cust[sp], rc],
            [sec[rv] + to_seconds(s["review_delay"][slot[rv]]),
             sec[sp] + to_seconds(s["support_delay"][slot[sp]]), od["r_sec"] - 2 * HOUR],
            ["review", "support_contact", "support_contact"],
            [cat[rv], np.full(sp.sum(), -1), np.full(len(rc), -1)]))
        # campaign clicks bring a visit; review requests bring reviews
        for rec in self.records:
            f = rec["f"]
            treated = rec["arm_i"] > 0
            clicked = treated & (f["clicked_sec"] >= 0)
            ci = rec["idx"][clicked]
            parts.append(_event_parts([ci], [f["clicked_sec"][clicked] + 5], ["visit"],
                                      [np.full(len(ci), -1)]))
            c = self.campaigns[rec["j"]]
            if c["scenario"] == "review_request":
                u = self.cu[rec["j"]]
                w = clicked & (u["review"][rec["idx"]] < 0.5)
                wi = rec["idx"][w]
                parts.append(_event_parts(
                    [wi], [f["clicked_sec"][w] + (u["review_delay"][wi] * 2 * HOUR).astype(np.int64) + MINUTE],
                    ["review"], [self.cat_pref[wi]]))
        ev = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        keep = (ev["sec"] < self.T_sec) & (ev["sec"] >= self.signup_sec[ev["cust"]])
        ev = {k: v[keep] for k, v in ev.items()}
        # one int64 sort key: customer (20+ bits), second (< 2^30), event type (3 bits)
        key = ((ev["cust"].astype(np.int64) << 33) | (ev["sec"] << 3)
               | ev["type"].astype(np.int64))
        order = np.argsort(key, kind="stable")
        cat = ev["cat"][order]
        return pd.DataFrame({
            "customer_id": ev["cust"][order].astype(np.int64) + 1,
            "event_ts": self._ts(ev["sec"][order]),
            "event_type": pd.Categorical.from_codes(ev["type"][order].astype(np.int8),
                                                    categories=list(_EVENT_TYPES)),
            "product_category": pd.Categorical.from_codes(
                np.where(cat >= len(P.PRODUCT_CATEGORIES), -1, cat).astype(np.int8),
                categories=list(P.PRODUCT_CATEGORIES)),
        })

    def _campaigns_table(self) -> pd.DataFrame:
        rows = []
        for c in self.campaigns:
            rows.append({
                "campaign_id": c["campaign_id"], "name": c["name"], "scenario": c["scenario"],
                "channel": c["channel"], "cost_per_send": float(P.CHANNELS[c["channel"]]["cost"]),
                "start_ts": c["start_sec"], "end_ts": c["end_sec"] - 1,
                "holdout_share": float(c["holdout_share"]), "description": c["description"],
                "arms": ",".join(["control"] + list(c["arms"])),
                "coupon_value": float(max(a["coupon"] for a in c["arms"].values())),
            })
        df = pd.DataFrame(rows)
        df["start_ts"] = self._ts(df["start_ts"].to_numpy())
        df["end_ts"] = self._ts(df["end_ts"].to_numpy())
        return df

    def _assignments_table(self, tr: dict) -> pd.DataFrame:
        out = []
        # factual positive purchases, for coupon redemption
        pkey = tr["idx"][tr["owner"]] * np.int64(4 * self.T_sec) + tr["sec"]
        pkey = np.sort(pkey)
        for rec in self.records:
            c = self.campaigns[rec["j"]]
            f, idx, arm_i = rec["f"], rec["idx"], rec["arm_i"]
            treated = arm_i > 0
            names = np.asarray(rec["arm_names"], dtype=object)
            unsub_sec = np.full(len(idx), _NO)
            coupon = np.full(len(idx), np.nan)
            for a_no, arm in enumerate(rec["arm_names"][1:], start=1):
                sel = arm_i == a_no
                a = c["arms"][arm]
                unsub_sec[sel] = f["arms"][arm]["unsub_sec"][sel]
                if a["coupon"] > 0:
                    k0 = idx[sel] * np.int64(4 * self.T_sec) + f["sent"][sel]
                    pos = np.searchsorted(pkey, k0, side="left")
                    nxt = pkey[np.minimum(pos, len(pkey) - 1)] if len(pkey) else k0 - 1
                    used = (pos < len(pkey)) & (nxt < k0 + P.CONVERSION_DAYS * DAY) & (nxt >= k0)
                    coupon[sel] = np.where(f["delivered"][sel] & used, a["coupon"], 0.0)
            has_coupon = any(a["coupon"] > 0 for a in c["arms"].values())
            df = pd.DataFrame({
                "campaign_id": c["campaign_id"],
                "customer_id": idx.astype(np.int64) + 1,
                "arm": names[arm_i],
                "assigned_ts": self._ts(rec["at"]),
                "sent_ts": self._ts(np.where(treated, f["sent"], _NO)),
                "delivered": pd.array(np.where(treated, f["delivered"], False), dtype="boolean"),
                "opened_ts": self._ts(np.where(treated, f["opened_sec"], _NO)),
                "clicked_ts": self._ts(np.where(treated, f["clicked_sec"], _NO)),
                "unsubscribed_ts": self._ts(np.where(treated, unsub_sec, _NO)),
                "coupon_cost": coupon if has_coupon else np.full(len(idx), np.nan),
            })
            df.loc[~treated, "delivered"] = pd.NA
            out.append(df.sort_values(["assigned_ts", "customer_id"], kind="stable"))
        return pd.concat(out, ignore_index=True)

    def _ground_truth(self) -> tuple[dict, pd.DataFrame]:
        truth, po_frames = {}, []
        for rec in self.records:
            c = self.campaigns[rec["j"]]
            idx, at = rec["idx"], rec["at"]
            m = len(idx)
            if m == 0:
                truth[c["campaign_id"]] = {
                    "scenario": c["scenario"], "channel": c["channel"], "effect": c["effect"],
                    "arms": {a: {"conversion_lift": None, "churn_hazard_ratio": None,
                                 "revenue_lift_180d": None, "n_assigned": 0} for a in c["arms"]},
                    "conversion_lift": None, "churn_hazard_ratio": None,
                    "revenue_lift_180d": None, "n_assigned": 0,
                    "n_by_arm": {a: 0 for a in rec["arm_names"]},
                    "population": "no customer was eligible", "params": self._params(c),
                }
                continue
            worlds = {}
            for w_no, w in enumerate(rec["arm_names"]):
                tt, tk, th, ti = (self.tr_t[idx].copy(), self.tr_k[idx].copy(),
                                  self.tr_h[idx].copy(), self.induced[idx].copy())
                self._apply(rec, np.full(m, w_no), factual=False, target=(tt, tk, th, ti))
                if self.prog is not None:
                    self.prog.world_responses(rec, w_no, ti)
                tr = self.trajectory(idx, tt, tk, th, ti)
                worlds[w] = self._outcomes(tr, at, costs=(c, rec["f"], w))
            po = []
            for w, o in worlds.items():
                po.append(pd.DataFrame({
                    "campaign_id": c["campaign_id"], "customer_id": idx.astype(np.int64) + 1,
                    "arm": np.asarray(rec["arm_names"], dtype=object)[rec["arm_i"]],
                    "world": w, "converted_7d": o["conv"], "revenue_180d": o["rev"],
                    "churn_duration_days": o["dur"] / DAY, "churned": o["churned"],
                    "send_cost": o["send_cost"], "coupon_cost": o["coupon_cost"],
                    "lapsed_at_assignment": o["lapsed"], "reactivation_days": o["react_days"],
                    "reactivated": o["reactivated"], "churn_observed_days": o["churn_gap_days"],
                    "churned_observed": o["churned_gap"]}))
            po_frames.append(pd.concat(po, ignore_index=True))
            ctrl = worlds["control"]
            arms = {}
            for arm in rec["arm_names"][1:]:
                t = worlds[arm]
                arms[arm] = {
                    "conversion_lift": float(np.mean(t["conv"].astype(float) - ctrl["conv"])),
                    "revenue_lift_180d": float(np.mean(t["rev"] - ctrl["rev"])),
                    "churn_hazard_ratio": cox_hazard_ratio(t["dur"] / DAY, t["churned"],
                                                           ctrl["dur"] / DAY, ctrl["churned"]),
                    "conversion_treated": float(np.mean(t["conv"])),
                    "conversion_control": float(np.mean(ctrl["conv"])),
                    "revenue_180d_treated": float(np.mean(t["rev"])),
                    "revenue_180d_control": float(np.mean(ctrl["rev"])),
                    "churned_treated": float(np.mean(t["churned"])),
                    "churned_control": float(np.mean(ctrl["churned"])),
                    **self._endpoint_truth(t, ctrl),
                    "send_cost_per_customer": float(np.mean(t["send_cost"])),
                    "coupon_cost_per_customer": float(np.mean(t["coupon_cost"])),
                    "cost_per_customer": float(np.mean(t["send_cost"] + t["coupon_cost"])),
                    "n_assigned": int(np.sum(rec["arm_i"] == rec["arm_names"].index(arm))),
                }
            first = arms[rec["arm_names"][1]]
            counts = {a: int(np.sum(rec["arm_i"] == i)) for i, a in enumerate(rec["arm_names"])}
            truth[c["campaign_id"]] = {
                "scenario": c["scenario"], "channel": c["channel"], "effect": c["effect"],
                "arms": arms,
                "conversion_lift": first["conversion_lift"],
                "churn_hazard_ratio": first["churn_hazard_ratio"],
                "revenue_lift_180d": first["revenue_lift_180d"],
                "n_assigned": int(m), "n_by_arm": counts,
                "population": "every assigned customer (all arms), each simulated in every world",
                "params": self._params(c),
            }
        po = pd.concat(po_frames, ignore_index=True) if po_frames else pd.DataFrame()
        return _finite(truth), po

    @staticmethod
    def _params(c: dict) -> dict:
        return {
            "holdout_share": c["holdout_share"], "trigger": c["trigger"],
            "arms": {a: dict(v) for a, v in c["arms"].items()},
            "channel_funnel": {k: v for k, v in P.CHANNELS[c["channel"]].items()},
            "unsubscribe_effect": dict(P.UNSUBSCRIBE_EFFECT),
        }

    def _outcomes(self, tr: dict, at: np.ndarray, costs=None) -> dict:
        """7-day conversion, 180-day revenue and churn of one world; with ``costs`` =
        ``(campaign, funnel, world)`` also each customer's send and coupon cost in that world
        (the holdout's world costs nothing; a coupon is paid when it is delivered and an order
        with amount > 0 follows the send within the conversion window, as in ``assignments``)."""
        od = self.orders_of(tr)
        conv = window_any(at, od["owner"], od["sec"], od["amount"] > 0, P.CONVERSION_DAYS * DAY)
        owner = np.concatenate([od["owner"], od["r_owner"]])
        sec = np.concatenate([od["sec"], od["r_sec"]])
        amt = np.concatenate([od["amount"], od["r_amount"]])
        rev = window_sum(at, owner, sec, amt, P.REVENUE_DAYS * DAY)
        end = np.minimum(at + P.CHURN_HORIZON_DAYS * DAY, self.T_sec)
        pos = od["amount"] > 0
        dur, churned = churn_survival(at, end, od["owner"][pos], od["sec"][pos],
                                      P.CHURN_AFTER_DAYS * DAY)
        out = {"conv": conv, "rev": rev, "dur": dur, "churned": churned}
        out.update(self._endpoints(at, end, od["owner"][pos], od["sec"][pos]))
        if costs is not None:
            c, f, world = costs
            send = np.zeros(len(at))
            coupon = np.zeros(len(at))
            if world != "control":
                send[:] = float(P.CHANNELS[c["channel"]]["cost"])
                value = float(c["arms"][world]["coupon"])
                if value > 0:
                    used = window_any(f["sent"], od["owner"], od["sec"], od["amount"] > 0,
                                      P.CONVERSION_DAYS * DAY)
                    coupon = np.where(f["delivered"] & used, value, 0.0)
            out.update(send_cost=send, coupon_cost=coupon)
        return out

    @staticmethod
    def _endpoint_truth(t: dict, ctrl: dict) -> dict:
        """Hazard ratios (Cox, pooled worlds) of the report's endpoints: reactivation of the
        customers lapsed at assignment, churn observed at the gap of the others; and the share
        of each with the event by days 90 and 180 (among those followed that long)."""
        out = {}
        lapsed = ctrl["lapsed"]
        for name, sel, dur, ev in (("reactivation", lapsed, "react_days", "reactivated"),
                                   ("churn_observed", ~lapsed, "churn_gap_days",
                                    "churned_gap")):
            if sel.sum() == 0:
                out[f"{name}_hazard_ratio"] = None
                continue
            out[f"{name}_hazard_ratio"] = cox_hazard_ratio(
                t[dur][sel], t[ev][sel], ctrl[dur][sel], ctrl[ev][sel])
            for day in (90, 180):
                diffs = []
                for w in (t, ctrl):
                    hit = (w[ev][sel] == 1) & (w[dur][sel] <= day)
                    seen = hit | (w[dur][sel] >= day)
                    diffs.append(hit[seen].mean() if seen.any() else np.nan)
                out[f"{name}_by_{day}d_lift"] = float(diffs[0] - diffs[1])
        return out

    @staticmethod
    def _endpoints(at: np.ndarray, end: np.ndarray, owner: np.ndarray, sec: np.ndarray) -> dict:
        """The campaign report's long-term endpoints, counted from the assignment ``at``:

        - ``lapsed``: the last purchase before ``at`` is at least ``CHURN_AFTER_DAYS`` old;
        - reactivation: days to the first purchase in ``[at, end)`` (censored at ``end``);
        - churn observed when the gap reaches ``CHURN_AFTER_DAYS``: anchors are the last
          purchase before ``at`` (``at`` itself without one) and every later purchase; the
          first anchor ``a`` not followed by a purchase within the gap churns at ``a + C``
          (days from ``at``; censored at ``end``)."""
        n, c = len(at), P.CHURN_AFTER_DAYS * DAY
        before = sec < at[owner]
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, owner[before], sec[before])
        lapsed = (last >= 0) & (at - last >= c)
        after = ~before & (sec < end[owner])
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, owner[after], sec[after])
        reactivated = first < np.iinfo(np.int64).max
        react = np.where(reactivated, first - at, end - at) / DAY
        a0 = np.where(last >= 0, last, at)
        dur, churned = churn_survival(a0, end, owner, sec, c)
        gap = np.where(churned == 1, a0 + dur + c - at, end - at) / DAY
        return {"lapsed": lapsed, "react_days": react, "reactivated": reactivated.astype(np.int8),
                "churn_gap_days": gap, "churned_gap": churned}

    def _meta(self, tables: dict) -> dict:
        return {
            "generator": "crmlab.data.simulate",
            "generator_fingerprint": generator_fingerprint(),
            "start": self.start.isoformat(),
            "observation_end": self.end.isoformat(),
            "currency": CURRENCY, "tz": TZ,
            "n_customers": self.n, "months": self.months, "seed": self.seed,
            "rows": {k: int(len(v)) for k, v in tables.items()},
            "parameters": {
                "time_unit": "days",
                "pareto_nbd": dict(P.PARETO_NBD),
                "pareto_nbd_note": "repeat purchases after the first purchase, before any "
                                   "campaign effect; lambda ~ Gamma(r, rate=alpha), "
                                   "mu ~ Gamma(s, rate=beta), per day",
                "gamma_gamma": dict(P.GAMMA_GAMMA),
                "gamma_gamma_note": "order value z ~ Gamma(p, rate=nu), nu ~ Gamma(q, rate=gamma),"
                                    " KRW, rounded to 100 KRW (minimum 1,000)",
                "acquisition_channels": dict(zip(P.ACQUISITION_CHANNELS, P.ACQUISITION_SHARE)),
                "buyer_probability": dict(zip(P.ACQUISITION_CHANNELS, P.BUYER_PROBABILITY)),
                "first_purchase_delay": {"quick_share": P.FIRST_QUICK_SHARE,
                                         "quick_mean_days": P.FIRST_QUICK_MEAN,
                                         "slow_mean_days": P.FIRST_SLOW_MEAN},
                "refund_probability": P.REFUND_PROBABILITY,
                "consent_rate": dict(P.CONSENT_RATE),
                "consent_dynamics": dict(P.CONSENT_DYNAMICS),
                "browse": dict(P.BROWSE),
                "unsubscribe_effect": dict(P.UNSUBSCRIBE_EFFECT),
                "program": PG.meta_parameters() if self.program else None,
                "winback_stale_list_share": P.WINBACK_STALE_LIST_SHARE,
                "night_send_leak": P.NIGHT_SEND_LEAK,
                "definitions": {"conversion_days": P.CONVERSION_DAYS,
                                "revenue_days": P.REVENUE_DAYS,
                                "churn_after_days": P.CHURN_AFTER_DAYS,
                                "churn_horizon_days": P.CHURN_HORIZON_DAYS},
            },
        }


# ============================================================================================
# helpers

_EVENT_TYPES = ("visit", "product_view", "cart_add", "wishlist", "review", "support_contact")
_ETYPE = {t: i for i, t in enumerate(_EVENT_TYPES)}


def _to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """A contract table as Arrow with the file schema (categoricals become plain strings)."""
    schema = _SCHEMAS[name]
    table = pa.Table.from_pandas(df[schema.names], preserve_index=False)
    return table.cast(schema).replace_schema_metadata(None)


def _finite(obj):
    """Replace NaN/inf (an effect that cannot be computed, e.g. no churn at all) by None, so
    that the JSON is strict."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _event_parts(custs, secs, types, cats) -> dict:
    c = np.concatenate([np.asarray(x, dtype=np.int64) for x in custs])
    s = np.concatenate([np.asarray(x, dtype=np.int64) for x in secs])
    t = np.concatenate([np.full(len(x), _ETYPE[ty], np.int8) for x, ty in zip(custs, types)])
    k = np.concatenate([np.asarray(x, dtype=np.int64) for x in cats])
    k = np.where(k < 0, len(P.PRODUCT_CATEGORIES), k)
    return {"cust": c, "sec": s, "type": t, "cat": k}


def _slot_draws(rng: np.random.Generator, m: int) -> dict:
    gg = P.GAMMA_GAMMA
    return {
        "gamma": rng.gamma(gg["p"], 1.0, m),
        "u_refund": rng.random(m),
        "refund_delay": 1.0 + rng.exponential(4.0, m),
        "u_partial": rng.random(m),
        "partial_frac": rng.uniform(0.2, 0.6, m),
        "u_qty": rng.random(m),
        "u_sales": rng.random(m),
        "sales_rand": rng.choice(len(P.SALES_CHANNELS), size=m, p=P.SALES_CHANNEL_SHARE),
        "u_delayed": rng.random(m),
        "delay": 0.125 + rng.exponential(P.DELAYED_PURCHASE_MEAN, m),
        "pre_dur": 3.0 + rng.gamma(2.0, 8.0, m),
        "n_views": 1 + rng.geometric(0.4, m),
        "u_cat": rng.random(m),
        "cat_rand": rng.choice(len(P.PRODUCT_CATEGORIES), size=m, p=P.PRODUCT_CATEGORY_SHARE),
        "u_review": rng.random(m),
        "review_delay": 3.0 + rng.exponential(5.0, m),
        "u_support": rng.random(m),
        "support_delay": 1.0 + rng.exponential(2.0, m),
    }


def _session_draws(rng: np.random.Generator, m: int) -> dict:
    return {
        "n_views": rng.geometric(0.35, m),
        "dur": 2.0 + rng.gamma(2.0, 6.0, m),
        "u_cart": rng.random(m),
        "u_wish": rng.random(m),
        "u_cat": rng.random(m),
        "cat_rand": rng.choice(len(P.PRODUCT_CATEGORIES), size=m, p=P.PRODUCT_CATEGORY_SHARE),
    }


_TS = pa.timestamp("us")
_SCHEMAS = {
    "customers": pa.schema([
        ("customer_id", pa.int64()), ("signup_ts", _TS), ("birth_date", pa.date32()),
        ("region", pa.string()), ("acquisition_channel", pa.string()),
        ("consent_email", pa.bool_()), ("consent_sms", pa.bool_()), ("consent_push", pa.bool_()),
        ("consent_kakao", pa.bool_()), ("consent_night", pa.bool_())]),
    "orders": pa.schema([
        ("order_id", pa.int64()), ("customer_id", pa.int64()), ("order_ts", _TS),
        ("amount", pa.float64()), ("quantity", pa.int64()), ("sales_channel", pa.string()),
        ("is_refund", pa.bool_()), ("refund_of", pa.int64())]),
    "events": pa.schema([
        ("customer_id", pa.int64()), ("event_ts", _TS), ("event_type", pa.string()),
        ("product_category", pa.string())]),
    "campaigns": pa.schema([
        ("campaign_id", pa.string()), ("name", pa.string()), ("scenario", pa.string()),
        ("channel", pa.string()), ("cost_per_send", pa.float64()), ("start_ts", _TS),
        ("end_ts", _TS), ("holdout_share", pa.float64()), ("description", pa.string()),
        ("arms", pa.string()), ("coupon_value", pa.float64())]),
    "assignments": pa.schema([
        ("campaign_id", pa.string()), ("customer_id", pa.int64()), ("arm", pa.string()),
        ("assigned_ts", _TS), ("sent_ts", _TS), ("delivered", pa.bool_()),
        ("opened_ts", _TS), ("clicked_ts", _TS), ("unsubscribed_ts", _TS),
        ("coupon_cost", pa.float64())]),
    "consent_events": pa.schema([
        ("customer_id", pa.int64()), ("channel", pa.string()), ("kind", pa.string()),
        ("granted", pa.bool_()), ("event_ts", _TS)]),
    "holdout_periods": pa.schema([
        ("customer_id", pa.int64()), ("start_ts", _TS), ("end_ts", _TS)]),
}
