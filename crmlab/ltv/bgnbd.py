"""BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way")."""
from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1, polygamma

from crmlab.ltv._base import (BaseFitter, _dot, _unit_days, rfm_columns, unique_rows_indexed,
                              value_index)

__all__ = ["BetaGeoFitter"]


#: Above this z, exp(z) would overflow; softplus(z) = z there to double precision.
_Z_CLIP = 700.0


class _Histories:
    """The distinct histories arranged for fast likelihood evaluations (built once per fit).

    The BG/NBD log-likelihood of a history is

        ll = A(x) + r log α − (r + x) log(α + T) + [x > 0] softplus(z),
        z  = log a − log(b + x − 1) + (r + x) (log(α + T) − log(α + t_x)),

    where A(x) holds the log-gamma and log-beta terms. A(x) is evaluated once per distinct
    frequency and the log(α + T) term once per distinct T (with the weights summed per value);
    only the softplus term needs work per history, and only for repeat customers (x > 0). These
    are stored grouped by frequency so that sums per frequency are segment sums.
    """

    def __init__(self, x, tx, t, indices=None, all_rows: bool = False):
        (self.ux, self.ix), (self.utx, itx), (self.ut, self.it) = \
            indices if indices is not None else (value_index(c) for c in (x, tx, t))
        # BG/NBD: only repeat customers have the softplus term; MBG/NBD: every customer
        rep = np.arange(len(x)) if all_rows else np.flatnonzero(x > 0)
        code = self.ix[rep]
        # a stable sort of small integer codes is a radix sort
        order = np.argsort(code.astype(np.uint16) if len(self.ux) < 2 ** 16 else code,
                           kind="stable")
        rep, code = rep[order], code[order]
        self.rep = rep
        self.starts = np.flatnonzero(np.diff(code, prepend=-1))
        self.seg_x = self.ux[code[self.starts]]
        self.seg_len = np.diff(self.starts, append=len(rep))
        self.seg_rep = np.repeat(np.arange(len(self.starts)), self.seg_len)
        self.x_rep = x[rep]
        self.it_rep = self.it[rep]
        self.itx_rep = itx[rep]
        self._w = None
        self._work = None

    def work(self) -> np.ndarray:
        """Scratch arrays for the per-history terms, allocated once (writing into them is much
        faster than allocating fresh temporaries of this size at every evaluation)."""
        if self._work is None:
            self._work = np.empty((9, len(self.rep)))
        return self._work

    def release(self) -> None:
        """Free the scratch arrays (after the fit)."""
        self._work = None

    def weigh(self, w) -> None:
        """Sum the weights per distinct x and T (cached for the weight array last given)."""
        if self._w is w:
            return
        self.n = float(w.sum())
        self.w_x = np.bincount(self.ix, weights=w, minlength=len(self.ux))
        self.w_t = np.bincount(self.it, weights=w, minlength=len(self.ut))
        self.wx_t = np.bincount(self.it, weights=w * self.ux[self.ix], minlength=len(self.ut))
        self.w_rep = w[self.rep]
        self._w = w


def _bgnbd_loglik(p, h: _Histories, w, hessian: bool, shift: int = 0):
    """Weighted BG/NBD log-likelihood, gradient and (optionally) Hessian in (r, α, a, b).

    ``shift=1`` gives the MBG/NBD likelihood (Batislam et al. 2007): B(a, b + x + 1) in A(x),
    b + x in z, and the softplus term for every customer (``h`` built with ``all_rows``).

    With σ = sigmoid(z) and ∇z = (D, (r + x) E, 1/a, −1/(b + x − 1)), D = log(α+T) − log(α+t_x),
    E = 1/(α+T) − 1/(α+t_x), the softplus term contributes Σ w σ ∇z to the gradient and
    Σ w σ(1 − σ) ∇z ∇zᵀ + Σ w σ ∇²z to the Hessian; the second derivatives of the terms in x
    and in T alone are trigamma functions and powers of 1/(α + T).
    """
    r, alpha, a, b = p
    h.weigh(w)
    n, ux, w_x = h.n, h.ux, h.w_x
    # terms in x alone (per distinct frequency)
    bx = ux + shift
    ll = _dot(w_x, gammaln(r + ux) + betaln(a, b + bx)) + n * (
        r * np.log(alpha) - gammaln(r) - betaln(a, b))
    dab = digamma(a + b) - digamma(a + b + bx)
    g = np.array([_dot(w_x, digamma(r + ux)) + n * (np.log(alpha) - digamma(r)),
                  n * r / alpha,
                  _dot(w_x, dab),
                  _dot(w_x, digamma(b + bx) + dab) - n * digamma(b)])
    H = np.zeros((4, 4))
    if hessian:
        tab = _dot(w_x, polygamma(1, a + b) - polygamma(1, a + b + bx))
        H[0, 0] = _dot(w_x, polygamma(1, r + ux)) - n * polygamma(1, r)
        H[0, 1] = n / alpha
        H[1, 1] = -n * r / alpha ** 2
        H[2, 2] = H[2, 3] = tab
        H[3, 3] = _dot(w_x, polygamma(1, b + bx)) - n * polygamma(1, b) + tab
    # −(r + x) log(α + T), per distinct T
    lt, qt = np.log(alpha + h.ut), 1.0 / (alpha + h.ut)
    c_t = r * h.w_t + h.wx_t
    ll -= _dot(c_t, lt)
    g[0] -= _dot(h.w_t, lt)
    g[1] -= _dot(c_t, qt)
    if hessian:
        H[0, 1] -= _dot(h.w_t, qt)
        H[1, 1] += _dot(c_t, qt * qt)
    if len(h.rep):
        ll, g, H = _add_softplus_term(p, h, lt, qt, ll, g, H, hessian, shift)
    H = np.triu(H) + np.triu(H, 1).T
    return ll, g, H


def _add_softplus_term(p, h: _Histories, lt, qt, ll, g, H, hessian: bool, shift: int = 0):
    """Add Σ w softplus(z) over the repeat customers and its derivatives (see _bgnbd_loglik).

    softplus(z) = log(1 + exp(z)) and 1 − σ(z) = 1 / (1 + exp(z)): one exponential and one
    logarithm per history. Where z ≪ 0 both are computed to an absolute (not relative) error of
    about 1e-16, which is negligible in the sums; z above _Z_CLIP (where exp overflows) counts
    as softplus(z) = z, exact in double precision.
    """
    r, alpha, a, b = p
    wr, seg_x, starts = h.w_rep, h.seg_x, h.starts
    ltx, qtx = np.log(alpha + h.utx), 1.0 / (alpha + h.utx)
    v = 1.0 / (b + seg_x - 1 + shift)
    # take(..., mode="clip") writes into `out` directly (the default mode buffers it)
    d, qt_r, qtx_r, e, e_r, u, y, ws, se = h.work()
    lt.take(h.it_rep, out=d, mode="clip")
    d -= ltx.take(h.itx_rep, out=y, mode="clip")    # D = log(α + T) − log(α + t_x) = dz/dr
    qt.take(h.it_rep, out=qt_r, mode="clip")
    qtx.take(h.itx_rep, out=qtx_r, mode="clip")
    np.subtract(qt_r, qtx_r, out=e)                 # E = dD/dα
    rx = np.add(h.x_rep, r, out=e_r)
    z = np.multiply(d, rx, out=u)
    z += (np.log(a) + np.log(v)).take(h.seg_rep, out=y, mode="clip")
    np.multiply(e, rx, out=e_r)                     # (r + x) E = dz/dα
    if z.max() > _Z_CLIP:
        ll += _dot(wr, np.maximum(z - _Z_CLIP, 0.0))
        np.minimum(z, _Z_CLIP, out=z)
    np.exp(z, out=u)
    u += 1.0                                        # 1 + exp(z)
    ll += _dot(wr, np.log(u, out=y))
    inv = np.reciprocal(u, out=u)                   # 1 − σ(z)
    wi = np.multiply(wr, inv, out=y)
    np.subtract(wr, wi, out=ws)                     # w σ
    s1 = np.add.reduceat(ws, starts)
    g[0] += _dot(ws, d)
    g[1] += _dot(ws, e_r)
    g[2] += s1.sum() / a
    g[3] -= _dot(v, s1)
    if hessian:
        s = np.multiply(wi, inv, out=u)
        np.subtract(wi, s, out=s)                   # w σ (1 − σ)
        sd = np.multiply(s, d, out=y)
        np.multiply(s, e_r, out=se)
        s2, s3, s4 = (np.add.reduceat(c, starts) for c in (s, sd, se))
        qt_r += qtx_r
        qt_r *= e_r                                 # (r + x) E (1/(α+T) + 1/(α+t_x)) = −d²z/dα²
        H[0, 0] += _dot(sd, d)
        H[0, 1] += _dot(sd, e_r) + _dot(ws, e)
        H[1, 1] += _dot(se, e_r) - _dot(ws, qt_r)
        H[0, 2] += s3.sum() / a
        H[0, 3] -= _dot(v, s3)
        H[1, 2] += s4.sum() / a
        H[1, 3] -= _dot(v, s4)
        H[2, 2] += (s2.sum() - s1.sum()) / a ** 2
        H[2, 3] -= _dot(v, s2) / a
        H[3, 3] += _dot(v * v, s2 + s1)
    return ll, g, H


class BetaGeoFitter(BaseFitter):
    """BG/NBD: purchases at Poisson rate λ ~ Gamma(r, α) while alive; after each purchase the
    customer drops out with probability p ~ Beta(a, b).

    Fitted by maximum likelihood: Newton's method with the exact gradient and Hessian in the
    log-parameters, on the distinct histories weighted by their counts.

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
    #: 0: BG/NBD; 1: MBG/NBD (see :func:`_bgnbd_loglik`)
    _shift = 0

    def fit(self, frequency, recency=None, T=None, weights=None, unit_days: float | None = None):
        """Fit on per-customer ``frequency`` (repeat purchases), ``recency`` and ``T``.

        ``frequency`` may also be an :func:`crmlab.summaries.rfm_summary` table (its calibration
        columns when it has them). ``weights`` counts customers per row (default 1). Returns self.
        """
        self.unit_days_ = unit_days if unit_days is not None else _unit_days(frequency)
        x, tx, t = rfm_columns(frequency, recency, T, self._model_name)
        (ux, utx, ut), w, _, indices = unique_rows_indexed(x, tx, t, weights=weights)
        data = self._prepare((ux, utx, ut), indices)
        self._optimise(data, w)
        data[3].release()
        return self

    def _prepare(self, cols, indices=None):
        """The columns and their :class:`_Histories` (``indices``: the columns' value indices,
        when already known)."""
        x, tx, t = (np.asarray(c, dtype=float) for c in cols)
        return (x, tx, t, _Histories(x, tx, t, indices, all_rows=self._shift > 0))

    def _start(self, data, w):
        x, tx, t = data[:3]
        rate = max(np.average(x, weights=w) / max(np.average(t, weights=w), 1e-9), 1e-3)
        return np.log([1.0, 1.0 / rate, 1.0, 3.0])

    def _loglik_and_grad(self, logp, data, w):
        """Total weighted log-likelihood and its gradient with respect to the log-parameters.

        Equal to summing :meth:`_loglik_rows`; see :func:`_bgnbd_loglik` for how it is organised.
        """
        p = np.exp(logp)
        ll, g, _ = _bgnbd_loglik(p, self._layout(data), w, hessian=False, shift=self._shift)
        return ll, g * p

    def _loglik_grad_hess(self, logp, data, w):
        """Log-likelihood, gradient and exact Hessian with respect to the log-parameters."""
        p = np.exp(logp)
        ll, g, h = _bgnbd_loglik(p, self._layout(data), w, hessian=True, shift=self._shift)
        return ll, g * p, h * np.outer(p, p) + np.diag(g * p)

    def _layout(self, data) -> _Histories:
        """The prepared histories of ``data`` (prepared here when given as plain columns)."""
        if len(data) > 3 and isinstance(data[3], _Histories):
            return data[3]
        return self._prepare(data)[3]

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
