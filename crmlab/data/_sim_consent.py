"""Consent histories of the simulated shop: sign-up choices, organic withdrawals and grants,
withdrawals at campaign unsubscribes and re-grants (parameters: ``CONSENT_RATE`` and
``CONSENT_DYNAMICS`` of :mod:`crmlab.data._sim_params`). Times are integer seconds from the
start of the period; customers are 0-based positions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.data import _sim_params as P
from crmlab.data._sim_core import DAY

MEDIA = tuple(k for k in P.CONSENT_RATE if k != "night")


class ConsentHistory:
    """Per kind (a medium, or ``night``) the sorted arrays ``cust, sec, granted`` of every change
    after sign-up; the state at sign-up is ``consent0``.

    Organic changes follow an alternating process from sign-up (a given consent is withdrawn at
    one rate, a refused or withdrawn one granted at another). A campaign's unsubscribe withdraws
    the consent at once, voids the later organic changes of that kind, and is followed by a
    re-grant with a fixed probability after an exponential delay.
    """

    def __init__(self, rng: np.random.Generator, consent0: dict, signup_sec: np.ndarray,
                 T_sec: int, n_campaigns: int):
        n = len(signup_sec)
        self.n, self.T_sec, self.consent0, self.signup_sec = n, T_sec, consent0, signup_sec
        self.big = np.int64(4 * T_sec)
        cd = P.CONSENT_DYNAMICS
        per_sec = 1.0 / (365.0 * DAY)
        self.hist = {}
        for k in P.CONSENT_RATE:
            night = k == "night"
            w = cd["night_withdraw_per_year" if night else "withdraw_per_year"] * per_sec
            g = cd["night_grant_per_year" if night else "grant_per_year"] * per_sec
            state = consent0[k].copy()
            t = signup_sec.astype(np.float64)
            cs, ss, gs = [], [], []
            for _ in range(6):           # grant <-> withdrawal; six changes are plenty
                t = t + 1.0 + rng.exponential(1.0, n) / np.where(state, w, g)
                state = ~state
                inside = t < T_sec
                cs.append(np.nonzero(inside)[0])
                ss.append(t[inside].astype(np.int64))
                gs.append(state[inside])
            self.hist[k] = self._sorted(np.concatenate(cs), np.concatenate(ss),
                                        np.concatenate(gs))
        # per campaign: does an unsubscriber grant the consent again, and after how long
        self.regrant_u = [rng.random(n) for _ in range(n_campaigns)]
        self.regrant_d = [rng.exponential(cd["regrant_mean_days"] * DAY, n)
                          for _ in range(n_campaigns)]

    def _sorted(self, cust, sec, granted) -> dict:
        order = np.lexsort((np.arange(len(cust)), sec, cust))    # ties: the later-added last
        cust, sec, granted = cust[order], sec[order], granted[order]
        return {"cust": cust, "sec": sec, "granted": granted, "key": cust * self.big + sec}

    def withdraw(self, kind: str, j: int, cust: np.ndarray, sec: np.ndarray) -> None:
        """Customers ``cust`` unsubscribe from campaign ``j`` at ``sec``."""
        h = self.hist[kind]
        cut = np.full(self.n, np.iinfo(np.int64).max)
        cut[cust] = sec
        keep = h["sec"] <= cut[h["cust"]]
        regrant = self.regrant_u[j][cust] < P.CONSENT_DYNAMICS["regrant_after_unsubscribe"]
        r_sec = sec + 1 + self.regrant_d[j][cust].astype(np.int64)
        regrant &= r_sec < self.T_sec
        self.hist[kind] = self._sorted(
            np.concatenate([h["cust"][keep], cust, cust[regrant]]),
            np.concatenate([h["sec"][keep], sec, r_sec[regrant]]),
            np.concatenate([h["granted"][keep], np.zeros(len(cust), bool),
                            np.ones(int(regrant.sum()), bool)]))

    def now(self, kind: str | None, at_sec, idx) -> np.ndarray:
        """Consent of ``kind`` of customers ``idx`` at ``at_sec`` (a change at ``at_sec`` counts);
        ``kind`` None (informational channels) is always true."""
        idx = np.asarray(idx, np.int64)
        if kind is None:
            return np.ones(len(idx), bool)
        h = self.hist[kind]
        if not len(h["key"]):
            return self.consent0[kind][idx].copy()
        q = idx * self.big + np.asarray(at_sec, np.int64)
        pos = np.searchsorted(h["key"], q, side="right") - 1
        posc = np.maximum(pos, 0)
        hit = (pos >= 0) & (h["cust"][posc] == idx)
        return np.where(hit, h["granted"][posc], self.consent0[kind][idx])

    def events(self, ts) -> pd.DataFrame:
        """The ``consent_events`` table: the sign-up choices of every medium's marketing and
        night consent (refusals as ``granted = false``), then every change; night consent is one
        choice for every medium, written once per medium. ``ts`` turns seconds into
        timestamps."""
        everyone = np.arange(self.n)
        parts = []   # (cust, sec, medium no, kind no, granted)
        for m_no, m in enumerate(MEDIA):
            for kind_no, k in ((0, m), (1, "night")):
                h = self.hist[k]
                parts.append((everyone, self.signup_sec, m_no, kind_no, self.consent0[k]))
                parts.append((h["cust"], h["sec"], m_no, kind_no, h["granted"]))
        cust = np.concatenate([p[0] for p in parts])
        sec = np.concatenate([p[1] for p in parts])
        med = np.concatenate([np.full(len(p[0]), p[2], np.int8) for p in parts])
        kind = np.concatenate([np.full(len(p[0]), p[3], np.int8) for p in parts])
        granted = np.concatenate([p[4] for p in parts])
        seq = np.arange(len(cust))   # within a second, the order the changes were made
        order = np.lexsort((seq, kind, med, sec, cust))
        return pd.DataFrame({
            "customer_id": cust[order].astype(np.int64) + 1,
            "channel": np.asarray(MEDIA, dtype=object)[med[order]],
            "kind": np.asarray(["marketing", "night"], dtype=object)[kind[order]],
            "granted": granted[order],
            "event_ts": ts(sec[order]),
        })
