"""BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way")."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, hyp2f1

from crmlab.ltv._base import BaseFitter, _dot, _unit_days, rfm_columns, unique_rows, value_index

__all__ = ["BetaGeoFitter"]


class BetaGeoFitter(BaseFitter):
    """BG/NBD: purchases at Poisson rate λ ~ Gamma(r, α) while alive; after each purchase the
    customer drops out with probability p ~ Beta(a, b).

    Fitted by maximum likelihood (exact gradient, log-parameters, unique histories weighted).

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty on the parameters (0, the default, is plain maximum likelihood).
    tol, maxiter : optimiser tolerance on the gradient and iteration limit.
    initial_params : dict, optional
        Starting values ``{"r":..., "alpha":..., "a":..., "b":...}``.

    Attributes
    ----------
    params_ : Series ``r, alpha, a, b``; ``log_likelihood_`` : total sample log-likelihood (the
    number Fader, Hardie & Lee report); ``summary`` : estimates, SEs and 95% CIs.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> cal = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
    >>> bg = BetaGeoFitter().fit(cal)
    >>> bg.params_.round(3).tolist(), round(bg.log_likelihood_, 1)
    ([0.243, 4.414, 0.793, 2.426], -9582.4)
    """

    _param_names = ("r", "alpha", "a", "b")
    _model_name = "BG/NBD"

    def fit(self, frequency, recency=None, T=None, weights=None, unit_days: float | None = None):
        """Fit on per-customer ``frequency`` (repeat purchases), ``recency`` and ``T``.

        ``frequency`` may also be an :func:`crmlab.summaries.rfm_summary` table (its calibration
        columns when it has them). ``weights`` counts customers per row (default 1). Returns self.
        """
        self.unit_days_ = unit_days if unit_days is not None else _unit_days(frequency)
        x, tx, t = rfm_columns(frequency, recency, T, self._model_name)
        (ux, utx, ut), w, _ = unique_rows(x, tx, t, weights=weights)
        self._optimise(self._prepare((ux, utx, ut)), w)
        return self

    def _prepare(self, cols):
        x, tx, t = cols
        return (x, tx, t, value_index(x), value_index(tx), value_index(t))

    def _start(self, data, w):
        x, tx, t = data[:3]
        rate = max(np.average(x, weights=w) / max(np.average(t, weights=w), 1e-9), 1e-3)
        return np.log([1.0, 1.0 / rate, 1.0, 3.0])

    def _loglik_and_grad(self, logp, data, w):
        """Total weighted log-likelihood and gradient (log-parameters), aggregated for speed.

        Functions of ``x`` alone (log-gamma, log-beta, digamma) are evaluated once per distinct
        frequency, ``log(alpha + T)`` and ``log(alpha + t_x)`` once per distinct value, and the
        per-customer work is a few vector operations. Equal to summing :meth:`_loglik_rows`.
        """
        r, alpha, a, b = np.exp(logp)
        x, tx, t = data[:3]
        ux, ix = value_index(x) if len(data) < 4 else data[3]
        utx, itx = value_index(tx) if len(data) < 4 else data[4]
        ut, it = value_index(t) if len(data) < 4 else data[5]
        wx = np.bincount(ix, weights=w, minlength=len(ux))
        lt = np.log(alpha + ut)[it]
        ltx = np.log(alpha + utx)[itx]
        rx = r + x
        rep = x > 0
        with np.errstate(divide="ignore"):
            lbx = np.where(ux > 0, np.log(a) - np.log(np.where(ux > 0, b + ux - 1, 1.0)), -np.inf)
        u1 = -rx * lt
        u2 = lbx[ix] - rx * ltx
        lse = np.logaddexp(u1, u2)
        w1 = np.exp(u1 - lse)
        w2 = np.where(rep, np.exp(u2 - lse), 0.0)
        ww1, ww2 = w * w1, w * w2
        n = w.sum()
        ll = float(_dot(wx, gammaln(r + ux) + betaln(a, b + ux)) + n * (
            r * np.log(alpha) - gammaln(r) - betaln(a, b)) + _dot(w, lse))
        dab_x = digamma(a + b) - digamma(a + b + ux)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_b = np.where(ux > 0, 1.0 / np.where(ux > 0, b + ux - 1, 1.0), 0.0)
        g = np.array([
            _dot(wx, digamma(r + ux)) + n * (np.log(alpha) - digamma(r))
            - _dot(ww1, lt) - _dot(ww2, ltx),
            n * r / alpha - _dot(ww1 * rx, 1.0 / (alpha + t)) - _dot(ww2 * rx, 1.0 / (alpha + tx)),
            _dot(wx, dab_x) + ww2.sum() / a,
            _dot(wx, digamma(b + ux) + dab_x) - n * digamma(b) - _dot(ww2, inv_b[ix]),
        ])
        return ll, g * np.array([r, alpha, a, b])

    @staticmethod
    def _loglik_rows(p, data):
        r, alpha, a, b = p
        x, tx, t = data
        rep = x > 0
        u1 = -(r + x) * np.log(alpha + t)
        with np.errstate(divide="ignore", invalid="ignore"):
            u2 = np.where(rep, np.log(a) - np.log(np.where(rep, b + x - 1, 1.0))
                          - (r + x) * np.log(alpha + tx), -np.inf)
        lse = np.logaddexp(u1, u2)
        w1, w2 = np.exp(u1 - lse), np.exp(u2 - lse)
        ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
              + betaln(a, b + x) - betaln(a, b) + lse)
        g = np.empty((4, len(x)))
        g[0] = digamma(r + x) - digamma(r) + np.log(alpha) - w1 * np.log(alpha + t) \
            - w2 * np.log(alpha + tx)
        g[1] = r / alpha - (r + x) * (w1 / (alpha + t) + w2 / (alpha + tx))
        dab = digamma(a + b) - digamma(a + b + x)
        g[2] = dab + w2 / a
        with np.errstate(divide="ignore", invalid="ignore"):
            g[3] = digamma(b + x) - digamma(b) + dab - np.where(rep, w2 / np.where(rep, b + x - 1, 1.0), 0)
        return ll, g

    # -- predictions ------------------------------------------------------------------------------
    def expected_number_of_purchases_up_to_time(self, t):
        """E[X(t)]: expected purchases of a new customer in (0, t] (FHL 2005, eq. 7)."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def conditional_probability_alive(self, frequency, recency, T):
        """P(alive | x, t_x, T) (FHL 2005, eq. 11)."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (np.log(a) - np.log(b + x - 1)
                         + (r + x) * (np.log(alpha + t) - np.log(alpha + tx)))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.where(x > 0, log_ratio, 0))), 1.0)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL 2005, eq. 10)."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, tt = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        z = t / (alpha + tt + t)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + tt) / (alpha + tt + t)) ** (r + x) * hyp)
        return first * self.conditional_probability_alive(x, tx, tt)

    def probability_of_n_purchases_up_to_time(self, t, n):
        """P(X(t) = n) for a new customer (FHL 2005, eq. 8)."""
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        n = np.asarray(n, dtype=float)
        first = np.exp(betaln(a, b + n) - betaln(a, b) + gammaln(r + n) - gammaln(r)
                       - gammaln(n + 1) + r * np.log(alpha / (alpha + t))
                       + n * np.log(t / (alpha + t)))
        # second term: a/(b+n-1) B-ratio * [1 - (alpha/(alpha+t))^r sum_{j<n} ...]
        js = np.arange(int(np.max(n)) if np.ndim(n) else int(n))
        out = []
        for nn in np.atleast_1d(n):
            if nn == 0:
                out.append(0.0)
                continue
            j = js[js < nn]
            s = np.sum(np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1)
                              + j * np.log(t / (alpha + t))))
            out.append(np.exp(betaln(a + 1, b + nn - 1) - betaln(a, b))
                       * (1 - (alpha / (alpha + t)) ** r * s))
        return first + (np.array(out) if np.ndim(n) else out[0])
