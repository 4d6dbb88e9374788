"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 notes)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, hyp2f1

from crmlab.ltv._base import BaseFitter, _dot, _unit_days, rfm_columns, unique_rows

__all__ = ["ParetoNBDFitter", "pareto_nbd_loglik_exact"]

# The per-row Gauss-Legendre rule: nodes and log-weights (64 nodes: fewer lose accuracy where b·z
# is large, e.g. frequent buyers with beta > alpha; measured worst log-likelihood error per
# customer ~1e-5 on an extreme parameter grid, below 1e-9 on CDNOW).
_ROW_NODES, _ROW_WEIGHTS = np.polynomial.legendre.leggauss(64)


_K_SWITCH = 60.0
_Z_SWITCH = 0.9


def _logs(alpha, beta, m, tau, log_mt):
    """log(α+τ) and log(β+τ), the larger of the two being log(m+τ) itself."""
    if alpha >= beta:
        return log_mt, np.log(np.maximum(tau + beta, 1e-300))
    return np.log(np.maximum(tau + alpha, 1e-300)), log_mt


def _log_hyp_term(r, alpha, s, beta, x, u):
    """log[2F1(k, b2; k+1; |α−β|/(m+u)) (m+u)^-k], k = r+s+x, m = max(α, β): the closed form of
    s/k-scaled ∫_u^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ (Fader & Hardie 2005, eq. 22)."""
    k = r + s + x
    if alpha >= beta:
        m, b2 = alpha, s + 1
    else:
        m, b2 = beta, r + x
    return np.log(hyp2f1(k, b2, k + 1, abs(alpha - beta) / (m + u))) - k * np.log(m + u)


def pareto_nbd_loglik_exact(params, frequency, recency, T) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood from the Gauss hypergeometric closed form.

    Fader & Hardie's expression ("A Note on Deriving the Pareto/NBD Model and Related
    Expressions", 2005, eq. 22): with the larger of α and β as the base the argument of 2F1 lies
    in [0, 1); the two 2F1 terms and the "alive at T" term are combined in log space
    (log-sum-exp). Used to report the log-likelihood and to check the fitting objective. The
    2F1 terms depend on a customer through (x, t_x) and (x, T) only and are evaluated once per
    distinct pair.
    """
    x, tx, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    x, tx, t = np.broadcast_arrays(x, tx, t)
    shape = x.shape
    x, tx, t = (v.reshape(-1) for v in (x, tx, t))
    (px, ptx), _, i1 = unique_rows(x, tx)
    (qx, qt), _, i2 = unique_rows(x, t)
    r, alpha, s, beta = (float(v) for v in params)
    la1 = _log_hyp_term(r, alpha, s, beta, px, ptx)[i1]
    la2 = _log_hyp_term(r, alpha, s, beta, qx, qt)[i2]
    l1 = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
    return (_exact_const(r, alpha, s, beta, x)
            + _exact_from_terms(l1, np.log(s / (r + s + x)), la1, la2, t > tx)).reshape(shape)


def _exact_const(r, alpha, s, beta, x):
    """log Γ(r+x)/Γ(r) + r log α + s log β."""
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)


def _exact_from_terms(l1, lsk, la1, la2, inside):
    """log[e^{l1} + (s/k)(A1 − A2)] from the "alive" term l1, lsk = log(s/k) and the 2F1 terms
    at t_x (la1 = log A1) and T (la2 = log A2); A1 − A2 = 0 where ``inside`` is false."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(A1 - A2) = la1 + log(1 - exp(la2 - la1))
        log_a0 = la1 + np.log1p(-np.exp(np.minimum(la2 - la1, 0.0)))
    log_a0 = np.where(inside, log_a0, -np.inf)
    return np.logaddexp(l1, lsk + log_a0)


# -- knot tables ------------------------------------------------------------------------------------
# With day- or week-level times the distinct histories share few distinct time values. Between
# consecutive knots (the sorted distinct values of t_x and T) the integrand
# g_x(τ) = (α+τ)^-(r+x) (β+τ)^-(s+1) is integrated once per distinct x with Gauss-Legendre on
# pieces short enough for near machine precision, and the integrals from each knot to the last
# one are accumulated from the right; a customer then needs two table look-ups.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
#: On one piece, log(α+τ) and log(β+τ) change by at most this ...
_PIECE_LOG_STEP = 0.5
#: ... and log g_x by at most this for the largest x (8-point rule error ~1e-17 relative).
_PIECE_VARIATION = 2.0
#: Bound on |log| of the per-frequency scale factors of the linear-scale row combination.
_SCALE_LOG = 340.0
#: The knot tables are used when (distinct x) × (knots) ≤ this × distinct rows.
_KNOT_COST_RATIO = 8.0
#: Warm-start fits round t_x and T to about this many grid steps over the time range.
_COARSE_STEPS = 64


def _sorted_codes(values):
    """Sorted distinct values and each element's position among them (a bin count for
    non-negative integers such as frequencies and day counts, else hashing)."""
    v = np.asarray(values, dtype=float)
    if len(v) and v.min() >= 0 and v.max() < 2 ** 22 and np.array_equal(v, np.floor(v)):
        uniq, codes = _dense_codes(v.astype(np.intp), int(v.max()) + 1)
        return uniq.astype(float), codes
    codes, uniq = pd.factorize(v, sort=True)
    return np.asarray(uniq, dtype=float), codes.astype(np.intp)


def _dense_codes(keys, size):
    """Sorted distinct values of non-negative integer keys below ``size`` and each key's rank."""
    present = np.zeros(size, dtype=bool)
    present[keys] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[keys]


def _stable_order(codes, size):
    """Stable sorting permutation of integer codes in [0, size) (radix sort when they fit in
    16 bits)."""
    return np.argsort(codes.astype(np.uint16) if size <= 2 ** 16 else codes, kind="stable")


def _merge_pairs(a, b, na, nb, weights=None):
    """Distinct (a, b) code pairs sorted by a then b, and the total weight of each."""
    order = _stable_order(b, nb)
    order = order[_stable_order(a[order], na)]
    key = a[order] * nb + b[order]
    new = np.empty(len(key), dtype=bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    if weights is None:
        w = np.diff(starts, append=len(key)).astype(float)
    else:
        w = np.add.reduceat(np.asarray(weights, dtype=float)[order], starts)
    ua, ub = np.divmod(key[starts], nb)
    return ua, ub, w


def _segment_starts(group, n):
    """First position of each of n groups in a sorted array of group ids."""
    return np.searchsorted(group, np.arange(n))


class _KnotData:
    """Layout of the distinct rows for the knot-table likelihood: x indices, knots, and the
    distinct (x, T) and (x, t_x) cells each row falls in; rows are kept in (x, T) cell order."""

    def __init__(self, ux, ix, knots, kk, weights=None, merge: bool = False):
        """Distinct x values ``ux`` and each row's index ``ix``; knots and each row's t_x then T
        knot index ``kk`` (length 2n). ``merge=True``: the rows are customers (``weights`` their
        counts, default 1), merged here into distinct histories (:attr:`rows`, :attr:`w`) in
        cell order; otherwise the rows are taken as given and a permutation into cell order is
        kept."""
        self.ux, self.knots = ux, knots
        nx, nk, n = len(ux), len(knots), len(ix)
        cells_T, jT = _dense_codes(ix * nk + kk[n:], nx * nk)
        cells_tx, jtx = _dense_codes(ix * nk + kk[:n], nx * nk)
        self.xT, self.kT = np.divmod(cells_T, nk)
        self.xtx, self.ktx = np.divmod(cells_tx, nk)
        if merge:
            jT, jtx, self.w = _merge_pairs(jT, jtx, len(cells_T), len(cells_tx), weights)
            self.order = None
            self.rows = (self.ux[self.xT[jT]], self.knots[self.ktx[jtx]], self.knots[self.kT[jT]])
        else:
            self.order = _stable_order(jT, len(cells_T))
            jT, jtx = jT[self.order], jtx[self.order]
        self.jT, self.jtx, self.ix = jT, jtx, self.xT[jT]
        self.runs = np.bincount(jT, minlength=len(cells_T))
        self.run_starts = np.cumsum(self.runs) - self.runs
        self.starts_T = _segment_starts(self.xT, nx)
        self.starts_tx = _segment_starts(self.xtx, nx)
        self.row_starts = _segment_starts(self.ix, nx)
        # largest x whose tables are read at or below each interval (an x's tables are read only
        # from its lowest t_x knot up): pieces need only be short enough for those x
        lowest = np.minimum.accumulate(self.ktx[self.starts_tx][::-1])[::-1]
        reach = np.searchsorted(lowest, np.arange(max(nk - 1, 0)), side="right")
        self.x_reach = ux[np.maximum(reach, 1) - 1]
        self._w = None

    def weights(self, w):
        """Weights in the layout's row order and per distinct x (cached for the weights array)."""
        if self._w is not w:
            wf = np.asarray(w, dtype=float)
            self._ws = wf if self.order is None else wf[self.order]
            self._wx = np.add.reduceat(self._ws, self.row_starts)
            self._w = w
        return self._ws, self._wx


def _knot_layout(x, tx, t, weights=None, merge: bool = False, force: bool | None = None):
    """The knot layout of the rows, or None when per-row quadrature is cheaper (many distinct
    time values: the tables cost (distinct x) × (knots) per evaluation); ``force`` decides."""
    if force is False:
        return None
    ux, ix = _sorted_codes(x)
    knots, kk = _sorted_codes(np.concatenate([tx, t]))
    if force is None and len(ux) * len(knots) > _KNOT_COST_RATIO * len(x):
        return None
    kd = _KnotData(ux, ix, knots, kk, weights, merge)
    if force is None and len(ux) * len(knots) > _KNOT_COST_RATIO * len(kd.jT):
        return None
    return kd


def _knot_tables(p, ux, knots, x_reach=None):
    """Scaled tail integrals at every knot u_k, for every distinct x.

    Returns H of shape (knots, x, 5): ``∫_{u_k}^{u_max} g_x(τ) f(τ) dτ / g_x(u_k)`` for
    f = 1, −log(α+τ), 1/(α+τ), −log(β+τ), 1/(β+τ) (the integral and its derivatives' parts),
    and log(α+u_k), log(β+u_k). Each ratio g_x(τ)/g_x(u_k) ≤ 1, so nothing overflows.
    ``x_reach[k]``: the largest x needing accurate integrals on interval k (default: all).
    """
    r, alpha, s, beta = p
    nx, nk = len(ux), len(knots)
    ni = nk - 1
    la, lb = np.log(alpha + knots), np.log(beta + knots)
    H = np.zeros((nk, nx, 5))
    if ni == 0:
        return H, la, lb
    u0, du = knots[:-1], np.diff(knots)
    ea, eb = alpha + u0, beta + u0
    # piece length: log(α+τ), log(β+τ) and log g_{x_max} change little over a piece
    hmax = np.minimum(np.minimum(ea, eb) * np.expm1(_PIECE_LOG_STEP),
                      _PIECE_VARIATION / ((r + (ux[-1] if x_reach is None else x_reach)) / ea
                                          + (s + 1) / eb))
    m = np.maximum(np.ceil(du / hmax), 1).astype(np.intp)
    npc = int(m.sum())
    iv = np.repeat(np.arange(ni), m)                       # interval of each piece
    first = np.cumsum(m) - m
    h = (du / m)[iv]
    off = ((np.arange(npc) - first[iv]) + 0.5) * h          # piece centre - left knot
    q = len(_GL_NODES)
    d = (off[:, None] + 0.5 * h[:, None] * _GL_NODES).reshape(-1)   # node - left knot
    wts = (0.5 * h[:, None] * _GL_WEIGHTS).reshape(-1)
    niv = np.repeat(iv, q)
    da = np.log1p(d / ea[niv])                              # log(α+τ) - log(α+u_k)
    db = np.log1p(d / eb[niv])
    # e[x, node] = g_x(τ)/g_x(u_k): powers of exp(-da) across the sorted x
    e = np.empty((nx, len(d)))
    np.exp(-(r + ux[0]) * da - (s + 1) * db, out=e[0])
    step_one = np.exp(-da)
    for i in range(1, nx):
        gap = ux[i] - ux[i - 1]
        np.multiply(e[i - 1], step_one if gap == 1 else np.exp(-gap * da), out=e[i])
    lat, lbt = la[niv] + da, lb[niv] + db
    f = np.empty((len(d), 5))
    f[:, 0] = wts
    np.multiply(-lat, wts, out=f[:, 1])
    np.multiply(np.exp(-lat), wts, out=f[:, 2])
    np.multiply(-lbt, wts, out=f[:, 3])
    np.multiply(np.exp(-lbt), wts, out=f[:, 4])
    jp = np.matmul(e.reshape(nx, npc, q).transpose(1, 0, 2), f.reshape(npc, q, 5))
    if npc > ni:                                 # sum the pieces of split intervals
        split = np.flatnonzero(m > 1)
        sel = np.concatenate([np.arange(first[i], first[i] + m[i]) for i in split])
        sums = np.add.reduceat(jp[sel], np.cumsum(m[split]) - m[split], axis=0)
        jp = jp[first]
        jp[split] = sums
    # H_k = J_k + H_{k+1} g(u_{k+1})/g(u_k), from the right
    ratio = np.exp(np.multiply.outer(-np.diff(la), r + ux) - (s + 1) * np.diff(lb)[:, None])
    Hf, jf = H.reshape(nk, nx * 5), jp.reshape(ni, nx * 5)
    rf = np.repeat(ratio, 5, axis=1)
    for k in range(ni - 1, -1, -1):
        np.multiply(Hf[k + 1], rf[k], out=Hf[k])
        Hf[k] += jf[k]
    return H, la, lb


def _knot_loglik(p, kd: _KnotData, w, rows: bool = False):
    """Total log-likelihood and gradient (natural parameters) from the knot tables; with
    ``rows=True`` the per-row log-likelihood instead.

    Per row, with A0 = ∫_{t_x}^T g_x and l1 = -(r+x) log(α+T) - s log(β+T):
    ll = log Γ(r+x)/Γ(r) + r log α + s log β + l1 + log(1 + s A0 e^{-l1}). With
    H(u) = ∫_u^{u_max} g_x / g_x(u), 1 + s A0 e^{-l1} = a + b, a = 1 − s H(T)/(β+T) ∈ (0, 1]
    (a function of the (x, T) cell) and b = s H(t_x) g_x(t_x) e^{-l1} ≥ 0; a + b ≥ 1, so the
    subtraction costs no precision. b = X[(x, t_x)] · Y[(x, T)] with both factors scaled by a
    per-x constant; rows of an x whose factors would leave the double range are done in logs.
    """
    r, alpha, s, beta = p
    ux, knots = kd.ux, kd.knots
    H, la, lb = _knot_tables(p, ux, knots, kd.x_reach)
    # (x, T) cells
    rxT = r + ux[kd.xT]
    laT, lbT = la[kd.kT], lb[kd.kT]
    Hflat = H.reshape(-1, 5)
    HT = Hflat.take(kd.kT * len(ux) + kd.xT, axis=0)        # (cells, 5)
    btT = 1.0 / (beta + knots[kd.kT])
    l1 = -rxT * laT - s * lbT
    a = np.maximum(1.0 - s * HT[:, 0] * btT, 0.0)
    # (x, t_x) cells
    rxt = r + ux[kd.xtx]
    Ht = Hflat.take(kd.ktx * len(ux) + kd.xtx, axis=0)
    h0 = Ht[:, 0]
    with np.errstate(divide="ignore"):
        P = np.log(s * h0) - rxt * la[kd.ktx] - (s + 1) * lb[kd.ktx]     # log(s H g) at t_x
    # per-x scale c: X = exp(P - c), Y = exp(c - l1) both within exp(±_SCALE_LOG)
    fin = np.isfinite(P)
    pmax = np.maximum.reduceat(np.where(fin, P, -np.inf), kd.starts_tx)
    pmin = np.minimum.reduceat(np.where(fin, P, np.inf), kd.starts_tx)
    lo = np.maximum(pmax, np.maximum.reduceat(l1, kd.starts_T)) - _SCALE_LOG
    hi = np.minimum(pmin, np.minimum.reduceat(l1, kd.starts_T)) + _SCALE_LOG
    ok = (lo <= hi) & (np.minimum.reduceat(a, kd.starts_T) > 1e-200)
    c = np.where(ok, 0.5 * (lo + hi), 0.0)
    okt, okT = ok[kd.xtx], ok[kd.xT]
    X = np.where(okt, np.exp(np.where(okt, P - c[kd.xtx], 0.0)), 1.0)
    Y = np.where(okT, np.exp(np.where(okT, c[kd.xT] - l1, 0.0)), 1.0)
    ws, wx = kd.weights(w)
    # per row (sorted by (x, T) cell): a + b = Y z, z = a/Y + X
    xg = X[kd.jtx]
    z = np.repeat(a / Y, kd.runs)
    z += xg
    lz = np.log(z)
    wz = ws / z                                   # w e^{-ls} Y
    v = wz * xg                                   # w b/(a+b)
    if not ok.all():
        for i in np.flatnonzero(~ok):             # rows of such x in logs
            sl = slice(kd.row_starts[i], kd.row_starts[i + 1] if i + 1 < len(ux) else len(ws))
            jT, jt = kd.jT[sl], kd.jtx[sl]
            lbr = P[jt] - l1[jT]
            mm = np.maximum(lbr, 0.0)
            em, eb = np.exp(-mm), np.exp(lbr - mm)
            d2 = a[jT] * em + eb
            lz[sl] = l1[jT] + mm + np.log(d2)
            wz[sl] = ws[sl] * em / d2
            v[sl] = ws[sl] * eb / d2
    const = _exact_const(r, alpha, s, beta, ux) + c
    if rows:
        out = lz + const[kd.ix]
        if kd.order is not None:
            out[kd.order] = out.copy()
        return out
    ll = _dot(ws, lz) + _dot(wx, const)
    # gradient: per row, e^{-ls} × [(x, T) cell vector] + b/(a+b)/(s H(t_x)) × [(x, t_x) vector]
    st = np.add.reduceat(wz, kd.run_starts) / Y
    stx = np.bincount(kd.jtx, weights=v, minlength=len(P))
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(h0 > 0, 1.0 / h0, 0.0)
    ss = s * btT
    n = wx.sum()
    grad = np.array([
        _dot(wx, digamma(r + ux)) + n * (np.log(alpha) - digamma(r))
        + _dot(st, -laT - ss * HT[:, 1]) + _dot(stx, Ht[:, 1] * inv),
        n * r / alpha - _dot(st, rxT * (1.0 / (alpha + knots[kd.kT]) - ss * HT[:, 2]))
        - _dot(stx, rxt * Ht[:, 2] * inv),
        n * np.log(beta) + _dot(st, -lbT - (s * HT[:, 3] + HT[:, 0]) * btT)
        + _dot(stx, Ht[:, 3] * inv + np.where(h0 > 0, 1.0 / s, 0.0)),
        n * s / beta + _dot(st, ss * ((s + 1) * HT[:, 4] - 1.0))
        - (s + 1) * _dot(stx, Ht[:, 4] * inv),
    ])
    return ll, grad


class ParetoNBDFitter(BaseFitter):
    """Pareto/NBD: purchases at Poisson rate λ ~ Gamma(r, α) during an exponential lifetime of
    rate μ ~ Gamma(s, β).

    The likelihood's second term, ``s ∫_{t_x}^{T} (α+τ)^{-(r+x)} (β+τ)^{-(s+1)} dτ`` (the
    Gauss-hypergeometric part), is computed by quadrature in one of two ways. When the distinct
    histories share few distinct time values (times in days or weeks), the integrand is
    integrated once per distinct frequency between consecutive distinct time values ("knots",
    8-point Gauss-Legendre on pieces short enough for near machine precision) and accumulated
    into tables, so that a customer costs two table look-ups and a logarithm. Otherwise (e.g.
    continuous times) each distinct history is integrated on its own with 64-point Gauss-Legendre
    after the substitution that makes the integrand nearly flat (the larger of α and β as base,
    then ``w = 1 - ((m+t_x)/(m+τ))^{r+s+x}``). All terms are combined in log space or in a
    bounded scaled form, and the gradient is the exact derivative of the quadrature. The
    reported ``log_likelihood_`` is recomputed from the closed form
    (:func:`pareto_nbd_loglik_exact`); the optimised objective is ``log_likelihood_quadrature_``.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> cal = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
    >>> pn = ParetoNBDFitter().fit(cal)
    >>> pn.params_.round(3).tolist(), round(pn.log_likelihood_, 1)
    ([0.553, 10.578, 0.606, 11.669], -9595.0)
    """

    _param_names = ("r", "alpha", "s", "beta")
    _model_name = "Pareto/NBD"

    def fit(self, frequency, recency=None, T=None, weights=None, unit_days: float | None = None):
        """Fit on ``frequency``, ``recency``, ``T`` (or an rfm_summary table). Returns self."""
        self.unit_days_ = unit_days if unit_days is not None else _unit_days(frequency)
        x, tx, t = rfm_columns(frequency, recency, T, self._model_name)
        kd = _knot_layout(x, tx, t, weights=weights, merge=True)
        if kd is not None:
            data, w = (*kd.rows, kd), kd.w
        else:
            cols, w, _ = unique_rows(x, tx, t, weights=weights)
            data = tuple(cols)
        self._optimise(data, w)
        self.log_likelihood_quadrature_ = self.log_likelihood_
        self.log_likelihood_ = self._exact_total(data, w)
        return self

    def _exact_total(self, data, w) -> float:
        """Closed-form total log-likelihood at the fitted parameters (2F1 once per cell)."""
        x, tx, t = data[:3]
        if len(data) == 3:
            return float(_dot(w, pareto_nbd_loglik_exact(self.params_, x, tx, t)))
        kd = data[3]
        r, alpha, s, beta = self.params_.to_numpy()
        ux, knots = kd.ux, kd.knots
        la1 = _log_hyp_term(r, alpha, s, beta, ux[kd.xtx], knots[kd.ktx])
        la2 = _log_hyp_term(r, alpha, s, beta, ux[kd.xT], knots[kd.kT])
        l1 = -(r + ux[kd.xT]) * np.log(alpha + knots[kd.kT]) - s * np.log(beta + knots[kd.kT])
        rows = _exact_from_terms(l1[kd.jT], np.log(s / (r + s + ux))[kd.ix], la1[kd.jtx],
                                 la2[kd.jT], kd.kT[kd.jT] > kd.ktx[kd.jtx])
        ws, wx = kd.weights(w)
        return float(_dot(ws, rows) + _dot(wx, _exact_const(r, alpha, s, beta, ux)))

    def _prepare(self, cols, knots: bool | None = None):
        """Distinct rows, plus the knot layout when it is cheaper than per-row quadrature
        (``knots`` forces the choice)."""
        x, tx, t = (np.asarray(c, dtype=float) for c in cols[:3])
        kd = _knot_layout(x, tx, t, force=knots)
        return (x, tx, t) if kd is None else (x, tx, t, kd)

    def _loglik_and_grad(self, logp, data, w):
        """Total log-likelihood and gradient (log-parameters). The last result is kept: the
        optimiser, the reported log-likelihood and the Hessian all start at the optimum."""
        last = getattr(self, "_last_eval", None)
        if last is not None and last[1] is data and last[2] is w and np.array_equal(last[0], logp):
            return last[3]
        if len(data) > 3 and isinstance(data[3], _KnotData):
            p = np.exp(logp)
            ll, g = _knot_loglik(p, data[3], w)
            out = ll, g * p
        else:
            out = super()._loglik_and_grad(logp, data[:3], w)
        self._last_eval = (np.array(logp, dtype=float), data, w, out)
        return out

    def _start(self, data, w):
        x, tx, t = data[:3]
        rate = max(np.average(x, weights=w) / max(np.average(t, weights=w), 1e-9), 1e-3)
        return np.log([1.0, 1.0 / rate, 1.0, np.average(t, weights=w)])

    def _warm_start(self, x0, data, w):
        """Starting values close to the maximum: a fit on all histories with t_x and T rounded to
        a coarse grid (few knots, so each evaluation is cheap; a seeded subset first, then Newton
        steps), then Newton steps on the full data with the coarse problem's Hessian (its
        curvature is nearly that of the full data, so a few evaluations suffice). Only the
        starting point depends on this: the optimiser then checks the maximum on the full data."""
        if len(data) == 3 or len(data[3].knots) <= 2 * _COARSE_STEPS:
            return super()._warm_start(x0, data, w)
        fine = data[3]
        grid = max(float(fine.knots[-1]), 1e-12) / _COARSE_STEPS
        cknots, ck = _sorted_codes(np.round(fine.knots / grid) * grid)
        kk = np.concatenate([ck[fine.ktx[fine.jtx]], ck[fine.kT[fine.jT]]])
        kd = _KnotData(fine.ux, fine.ix, cknots, kk, fine.weights(w)[0], merge=True)
        coarse, cw = (*kd.rows, kd), kd.w
        x1 = super()._warm_start(x0, coarse, cw)
        x1 = self._newton(x1, coarse, cw, self._hessian(x1, coarse, cw))
        return self._newton(x1, data, w, self._hessian(x1, coarse, cw))

    def _hessian(self, logp, data, w):
        """Forward-difference Hessian of the log-likelihood in log-parameters."""
        g0 = self._loglik_and_grad(logp, data, w)[1]
        steps = 1e-6 * np.maximum(1.0, np.abs(logp))
        h = np.column_stack([(self._loglik_and_grad(logp + e, data, w)[1] - g0) / e.sum()
                             for e in np.diag(steps)])
        return (h + h.T) / 2

    def _newton(self, logp, data, w, hess, max_iter: int = 12):
        """Newton steps with a fixed Hessian (the log-likelihood must not decrease; stops when
        the gradient per customer is below 1e-12, the step below 1e-11, or a step does not
        help). Returns the best point found."""
        with np.errstate(all="ignore"):
            ll, g = self._loglik_and_grad(logp, data, w)
            try:
                inv = np.linalg.inv(hess)
            except np.linalg.LinAlgError:
                return logp
            for _ in range(max_iter):
                if np.max(np.abs(g)) <= 1e-12 * np.sum(w):
                    break
                step = -inv @ g
                if not np.all(np.isfinite(step)) or np.max(np.abs(step)) > 1.0:
                    break
                new = np.clip(logp + step, -25.0, 25.0)
                ll_new, g_new = self._loglik_and_grad(new, data, w)
                if not np.isfinite(ll_new) or ll_new < ll - 1e-9 * abs(ll):
                    break
                logp, ll, g = new, ll_new, g_new
                if np.max(np.abs(step)) < 1e-11:
                    break
        return logp

    @staticmethod
    def _integral_nodes(p, data):
        """Quadrature of ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ: log(α+τ_j), log(β+τ_j) and
        the log-weights (whose log-sum-exp is the log of the integral).

        With m = max(α, β) and k = r+s+x the integrand is ``u^(k-1) × smooth`` in
        ``u = (m+t_x)/(m+τ)``: Gauss-Legendre in u is near exact for moderate k (the smooth
        factor has its pole at u = 1/z, z = |α−β|/(m+t_x)); for large k (heavy buyers) or z
        near 1 the variable ``w = 1 - u^k`` is used instead.
        """
        r, alpha, s, beta = p
        x, tx, t = data[:3]
        k = r + s + x
        m = max(alpha, beta)
        m0 = m + tx
        nodes, log_weights = _ROW_NODES, np.log(_ROW_WEIGHTS)
        # u for moderate k and hypergeometric argument z = |α-β|/(m+t_x) away from 1
        big = (k > _K_SWITCH) | (abs(alpha - beta) / m0 > _Z_SWITCH)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # u-variable (all rows; the others are overwritten below):
            # τ = m0/u - m, dτ = m0 u^-2 du, u in [m0/(m+T), 1]
            u0 = m0 / (m + t)
            half = 0.5 * (1.0 - u0)
            u = u0[:, None] + half[:, None] * (nodes[None, :] + 1.0)
            log_m0 = np.log(m0)
            log_mt = log_m0[:, None] - np.log(u)                        # log(m+τ)
            la, lb = _logs(alpha, beta, m, np.exp(log_mt) - m, log_mt)
            log_w = ((np.log(half) - log_m0)[:, None] + log_weights[None, :] + 2 * log_mt
                     - (r + x)[:, None] * la - (s + 1) * lb)
            if big.any():
                # w-variable: w = 1 - u^k in [0, 1 - u0^k]
                kb, m0b = k[big], m0[big]
                wmax = -np.expm1(-kb * np.log((m + t[big]) / m0b))
                w = 0.5 * wmax[:, None] * (nodes[None, :] + 1.0)
                log_mt = np.log(m0b)[:, None] - np.log1p(-w) / kb[:, None]
                la_b, lb_b = _logs(alpha, beta, m, np.exp(log_mt) - m, log_mt)
                la[big], lb[big] = la_b, lb_b
                # dτ = (m+τ)^(k+1) / (k m0^k) dw
                log_w[big] = (np.log(0.5 * wmax)[:, None] + log_weights[None, :]
                              + (kb[:, None] + 1) * log_mt - (kb * np.log(m0b) + np.log(kb))[:, None]
                              - (r + x[big])[:, None] * la_b - (s + 1) * lb_b)
        return la, lb, log_w

    @classmethod
    def _loglik_rows(cls, p, data):
        """Per-row log-likelihood and gradient (natural parameters) by per-row quadrature."""
        r, alpha, s, beta = p
        x, tx, t = data
        la, lb, log_w = cls._integral_nodes(p, data)
        mx = np.max(log_w, axis=1)
        has = np.isfinite(mx)
        mx = np.where(has, mx, 0.0)
        e = np.exp(log_w - mx[:, None])
        tot = np.where(has, e.sum(axis=1), 1.0)
        log_i = np.where(has, np.log(tot) + mx, -np.inf)
        inv_tot = np.where(has, 1.0 / tot, 0.0)

        def mean(v):  # quadrature-weighted mean of v over the nodes, per row
            return np.einsum("ij,ij->i", e, v) * inv_tot

        l1 = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
        l2 = np.log(s) + log_i
        lse = np.logaddexp(l1, l2)
        q1, q2 = np.exp(l1 - lse), np.exp(l2 - lse)
        ll = _exact_const(r, alpha, s, beta, x) + lse
        g = np.empty((4, len(x)))
        g[0] = (digamma(r + x) - digamma(r) + np.log(alpha) - q1 * np.log(alpha + t)
                - q2 * mean(la))
        g[1] = r / alpha - (r + x) * (q1 / (alpha + t) + q2 * mean(np.exp(-la)))
        g[2] = (np.log(beta) - q1 * np.log(beta + t)
                + q2 * (1.0 / s - mean(lb)))
        g[3] = s / beta - q1 * s / (beta + t) - q2 * (s + 1) * mean(np.exp(-lb))
        return ll, g

    # -- predictions ------------------------------------------------------------------------------
    def conditional_probability_alive(self, frequency, recency, T):
        """P(alive at T | x, t_x, T) = Term1 / (Term1 + Term2) of the likelihood."""
        self._check_fitted()
        r, alpha, s, beta = self.params_.to_numpy()
        x, tx, t = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float))
                                         for v in (frequency, recency, T)))
        ll = pareto_nbd_loglik_exact(self.params_, x, tx, t)
        l1 = (_exact_const(r, alpha, s, beta, x)
              - (r + x) * np.log(alpha + t) - s * np.log(beta + t))
        out = np.exp(np.minimum(l1 - ll, 0.0))
        return out if np.ndim(frequency) else float(out[0])

    def expected_number_of_purchases_up_to_time(self, t):
        """E[X(t)] for a new customer: rβ/(α(s−1)) [1 − (β/(β+t))^(s−1)]."""
        self._check_fitted()
        r, alpha, s, beta = self.params_.to_numpy()
        t = np.asarray(t, dtype=float)
        if abs(s - 1) < 1e-10:
            return r * beta / alpha * np.log((beta + t) / beta)
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T] = P(alive) (r+x)(β+T)/((α+T)(s−1)) [1 − ((β+T)/(β+T+t))^(s−1)]."""
        self._check_fitted()
        r, alpha, s, beta = self.params_.to_numpy()
        x, tx, tt = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        if abs(s - 1) < 1e-10:
            part = (r + x) * (beta + tt) / (alpha + tt) * np.log((beta + tt + t) / (beta + tt))
        else:
            part = ((r + x) * (beta + tt) / ((alpha + tt) * (s - 1))
                    * (1 - ((beta + tt) / (beta + tt + t)) ** (s - 1)))
        return part * self.conditional_probability_alive(x, tx, tt)
