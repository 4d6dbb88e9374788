"""MBG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of
models for customer base analysis", IJRM 24)."""
from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from crmlab.ltv.bgnbd import BetaGeoFitter

__all__ = ["ModifiedBetaGeoFitter"]


class ModifiedBetaGeoFitter(BetaGeoFitter):
    """MBG/NBD: as BG/NBD, but a customer may also drop out right after the *first* purchase
    (with probability p ~ Beta(a, b)), so one-time buyers are not certainly alive.

    The log-likelihood of a history is

        ll = log Γ(r+x)/Γ(r) + r log α + log B(a, b+x+1) − log B(a, b) − (r+x) log(α+T)
             + softplus(log a − log(b+x) + (r+x)(log(α+T) − log(α+t_x))),

    the BG/NBD organisation with the softplus term for every customer; it is fitted in the same
    way (Newton's method with the exact Hessian, distinct histories weighted by their counts).

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> cal = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
    >>> mbg = ModifiedBetaGeoFitter().fit(cal)
    >>> mbg.params_.round(3).tolist(), round(mbg.log_likelihood_, 1)
    ([0.525, 6.183, 0.891, 1.614], -9582.1)
    """

    _model_name = "MBG/NBD"
    _shift = 1

    def _start(self, data, w):
        x, tx, t = data[:3]
        rate = max(np.average(x, weights=w) / max(np.average(t, weights=w), 1e-9), 1e-3)
        return np.log([1.0, 1.0 / rate, 1.0, 2.0])

    @staticmethod
    def _loglik_rows(p, data):
        """Per-row log-likelihood and its gradient in (r, α, a, b) (reference implementation)."""
        from scipy.special import digamma

        r, alpha, a, b = p
        x, tx, t = data
        u1 = -(r + x) * np.log(alpha + t)
        u2 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + tx)
        lse = np.logaddexp(u1, u2)
        w1, w2 = np.exp(u1 - lse), np.exp(u2 - lse)
        ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
              + betaln(a, b + x + 1) - betaln(a, b) + lse)
        g = np.empty((4, len(x)))
        g[0] = digamma(r + x) - digamma(r) + np.log(alpha) - w1 * np.log(alpha + t) \
            - w2 * np.log(alpha + tx)
        g[1] = r / alpha - (r + x) * (w1 / (alpha + t) + w2 / (alpha + tx))
        dab = digamma(a + b) - digamma(a + b + x + 1)
        g[2] = dab + w2 / a
        g[3] = digamma(b + x + 1) - digamma(b) + dab - w2 / (b + x)
        return ll, g

    # -- predictions (Batislam et al. 2007; the expressions of lifetimes' ModifiedBetaGeoFitter) -
    def expected_number_of_purchases_up_to_time(self, t):
        """E[X(t)]: expected repeat purchases of a new customer in (0, t]."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r, b + 1, a + b, t / (alpha + t))
        return b / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r)

    def conditional_probability_alive(self, frequency, recency, T):
        """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x)), for every x."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        z = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
        return 1.0 / (1.0 + np.exp(z))

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t]."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, tt = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + tt + t))
        first = (a + b + x) / (a - 1) * (1 - hyp * ((alpha + tt) / (alpha + tt + t)) ** (r + x))
        return first * self.conditional_probability_alive(x, tx, tt)

    def probability_of_n_purchases_up_to_time(self, t, n):
        """P(X(t) = n) for a new customer (a customer dropping out at once makes none)."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        ns = np.atleast_1d(np.asarray(n, dtype=float))
        lq, lp = np.log(alpha / (alpha + t)), np.log(t / (alpha + t))
        out = np.exp(betaln(a, b + ns + 1) - betaln(a, b) + gammaln(r + ns) - gammaln(r)
                     - gammaln(ns + 1) + r * lq + ns * lp)
        for i, nn in enumerate(ns):
            j = np.arange(int(nn))
            s = np.sum(np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1) + j * lp))
            out[i] += np.exp(betaln(a + 1, b + nn) - betaln(a, b)) * (1 - np.exp(r * lq) * s)
        return out if np.ndim(n) else float(out[0])
