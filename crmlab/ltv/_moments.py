"""Conditional moments of future purchases, per model, on distinct histories.

Every transaction model here has the form E[Y(t) | history] = P(alive | x, t_x, T) × m1(x, T, t):
given that the customer is alive at T, the posterior of the purchase and dropout rates depends
on the history only through x and T (BG/BB: x and n). So the expensive part (the Gauss
hypergeometric function of BG/NBD and MBG/NBD) is evaluated once per distinct (x, T) pair, and
the probability of being alive, which is cheap, per distinct history. The second factorial
moment m2(x, T, t) = E[Y(t)(Y(t) − 1) | alive, x, T] gives the process variance:

    Var Y = P m2 + P m1 − (P m1)².

- BG/NBD, MBG/NBD: with λ ~ Gamma(r+x, α+T), p ~ Beta(a, b+x [+1]) given alive, the
  purchases until the dropping one form a Poisson process of rate λ(1−p) stopped at an
  exponential time of rate λp, and E[Y(Y−1) | λ, p] = 2λ²(1−p) ∫_0^t u e^{−λpu} du. Over λ
  this is 2k(k+1) (1−p) J(p t/c) / p² with k = r+x, c = α+T and
  J(z) = ∫_0^z v (1+v)^{−k−2} dv (closed form); the integral over p is Gauss-Jacobi
  quadrature with the Beta posterior as weight (32 nodes per distinct x).
- Pareto/NBD: λ ~ Gamma(r+x, α+T), μ ~ Gamma(s, β+T) given alive; E[Y(Y−1) | λ, μ] =
  λ² ∫_0^t 2u e^{−μu} du, so m2 = (r+x)(r+x+1)/(α+T)² ∫_0^t 2u (B/(B+u))^s du, B = β+T
  (Gauss-Legendre in log(1 + u/B), where the integrand is a sum of exponentials).
- BG/BB: p ~ Beta(α+x, β+n−x), θ ~ Beta(γ, δ+n) given alive at n;
  m2 = 2 E[p²] Σ_{k=1}^{m} (k−1) E[(1−θ)^k].
"""
from __future__ import annotations

import numpy as np
from scipy.special import betaln, roots_jacobi

from crmlab.ltv._base import unique_rows

_JACOBI_NODES = 32
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(32)


class Histories:
    """Distinct histories (x, t_x, T) of the customers, their distinct (x, T) pairs and (x, t_x)
    pairs; ``inverse`` maps customers to histories, ``pair`` / ``pair_tx`` histories to pairs."""

    def __init__(self, x, tx, t):
        (self.x, self.tx, self.t), self.counts, self.inverse = unique_rows(x, tx, t)
        (self.px, self.pt), _, self.pair = unique_rows(self.x, self.t)
        (self.qx, self.qtx), _, self.pair_tx = unique_rows(self.x, self.tx)

    def __len__(self) -> int:
        return len(self.x)


def _bgnbd_first(p, shift, x, t, h):
    """E[Y(h) | alive, x, T] for BG/NBD (shift 0) and MBG/NBD (shift 1)."""
    from scipy.special import hyp2f1

    r, alpha, a, b = p
    z = h / (alpha + t + h)
    hyp = hyp2f1(r + x, b + x + shift, a + b + x - 1 + shift, z)
    return (a + b + x - 1 + shift) / (a - 1) * (1 - ((alpha + t) / (alpha + t + h)) ** (r + x) * hyp)


def _bgnbd_palive(p, shift, x, tx, t):
    r, alpha, a, b = p
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.log(a) - np.log(b + x - 1 + shift) + (r + x) * (np.log(alpha + t)
                                                              - np.log(alpha + tx))
        out = 1.0 / (1.0 + np.exp(z))
    return out if shift else np.where(x > 0, out, 1.0)


def _bgnbd_second(p, shift, x, t, h):
    """E[Y(h)(Y(h) − 1) | alive, x, T] (see the module docstring)."""
    r, alpha, a, b = p
    out = np.empty(len(x))
    for xv in np.unique(x):
        sel = np.flatnonzero(x == xv)
        # Beta(a, b') weight p^(a-1) (1-p)^(b'-1): Jacobi weight (1-y)^(b'-1) (1+y)^(a-1), p=(1+y)/2
        y, wq = roots_jacobi(_JACOBI_NODES, b + xv + shift - 1, a - 1)
        pn, wq = (1 + y) / 2, wq / wq.sum()
        k, c = r + xv, alpha + t[sel]
        z = pn[None, :] * (h / c)[:, None]
        lz = np.log1p(z)
        jz = -np.expm1(-k * lz) / k + np.expm1(-(k + 1) * lz) / (k + 1)
        f = (1 - pn) * jz / pn ** 2
        out[sel] = 2 * k * (k + 1) * (f @ wq)
    return out


def _pnbd_first(p, x, t, h):
    r, alpha, s, beta = p
    bt = beta + t
    if abs(s - 1) < 1e-10:
        return (r + x) * bt / (alpha + t) * np.log((bt + h) / bt)
    return (r + x) * bt / ((alpha + t) * (s - 1)) * (1 - (bt / (bt + h)) ** (s - 1))


def _pnbd_palive(p, hist: Histories):
    """P(alive) from the closed-form likelihood, its 2F1 terms once per (x, t_x) and (x, T)
    pair (as :func:`crmlab.ltv.paretonbd.pareto_nbd_loglik_exact`)."""
    from crmlab.ltv.paretonbd import _exact_from_terms, _log_hyp_term

    r, alpha, s, beta = p
    x, t = hist.x, hist.t
    la1 = _log_hyp_term(r, alpha, s, beta, hist.qx, hist.qtx)[hist.pair_tx]
    la2 = _log_hyp_term(r, alpha, s, beta, hist.px, hist.pt)[hist.pair]
    l1 = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
    rest = _exact_from_terms(l1, np.log(s / (r + s + x)), la1, la2, t > hist.tx)
    return np.exp(np.minimum(l1 - rest, 0.0))


def _pnbd_second(p, x, t, h):
    r, alpha, s, beta = p
    bt = beta + t
    top = np.log1p(h / bt)                                    # w = log(1 + u/B) in [0, top]
    w = 0.5 * top[:, None] * (_GL_NODES[None, :] + 1)
    # ∫_0^h 2u (1+u/B)^-s du = 2B² ∫_0^top (e^w − 1) e^{(1−s) w} dw
    f = np.expm1(w) * np.exp((1 - s) * w)
    integral = 2 * bt ** 2 * 0.5 * top * (f @ _GL_WEIGHTS)
    return (r + x) * (r + x + 1) / (alpha + t) ** 2 * integral


def _bgbb_palive(p, hist: Histories):
    from crmlab.ltv.bgbb import BetaGeoBetaBinomFitter

    al, be, ga, de = p
    x, tx, n = hist.x, hist.tx, hist.t
    lead = betaln(al + x, be + n - x) - betaln(al, be) + betaln(ga, de + n) - betaln(ga, de)
    return np.exp(lead - BetaGeoBetaBinomFitter._loglik_rows(np.asarray(p), (x, tx, n))[0])


def _bgbb_first(p, x, n, h):
    from crmlab.ltv.bgbb import _gamma_ratio_diff

    al, be, ga, de = p
    # E[p | alive] × expected alive opportunities in (n, n+h] given alive at n
    alive_opps = _gamma_ratio_diff(ga, de, n, h) * np.exp(betaln(ga, de) - betaln(ga, de + n))
    return (al + x) / (al + be + n) * alive_opps


def _bgbb_second(p, x, n, h):
    al, be, ga, de = p
    h = int(round(float(np.max(h))))
    k = np.arange(1, h + 1, dtype=float)[None, :]
    surv = np.exp(betaln(ga, de + n[:, None] + k) - betaln(ga, de + n[:, None]))
    ep2 = (al + x) * (al + x + 1) / ((al + be + n) * (al + be + n + 1))
    return 2 * ep2 * ((k - 1) * surv).sum(axis=1)


def kernel(model):
    """(palive(p, hist), first(p, x, T, h), second(p, x, T, h)) of a fitted model."""
    from crmlab.ltv.bgbb import BetaGeoBetaBinomFitter
    from crmlab.ltv.bgnbd import BetaGeoFitter
    from crmlab.ltv.paretonbd import ParetoNBDFitter

    if isinstance(model, BetaGeoFitter):
        sh = model._shift
        return (lambda p, h: _bgnbd_palive(p, sh, h.x, h.tx, h.t),
                lambda p, x, t, h: _bgnbd_first(p, sh, x, t, h),
                lambda p, x, t, h: _bgnbd_second(p, sh, x, t, h))
    if isinstance(model, ParetoNBDFitter):
        return _pnbd_palive, _pnbd_first, _pnbd_second
    if isinstance(model, BetaGeoBetaBinomFitter):
        return _bgbb_palive, _bgbb_first, _bgbb_second
    raise TypeError(f"intervals: no conditional moments for {type(model).__name__} (use BG/NBD, "
                    "MBG/NBD, Pareto/NBD or BG/BB)")


def purchase_moments(model, p, hist: Histories, horizons):
    """P(alive) per history and E[Y(h) | alive, x, T] per (x, T) pair for each horizon (rows):
    E[Y(h) | history] = pa × first[:, hist.pair]."""
    palive, first, _ = kernel(model)
    pa = palive(p, hist)
    firsts = np.vstack([first(p, hist.px, hist.pt, float(h)) for h in horizons])
    return pa, firsts


def purchase_variance(model, p, hist: Histories, h, pa=None):
    """Var Y(h) per history: P m2 + P m1 − (P m1)²."""
    palive, first, sec = kernel(model)
    pa = palive(p, hist) if pa is None else pa
    m1 = first(p, hist.px, hist.pt, float(h))[hist.pair]
    m2 = sec(p, hist.px, hist.pt, float(h))[hist.pair]
    return np.maximum(pa * m2 + pa * m1 - (pa * m1) ** 2, 0.0)


def spend_moments(p, x, m, second: bool = True):
    """Posterior mean and second moment of a purchase's value under Gamma-Gamma (p, q, v), given
    x repeat purchases of mean value m: ν | x, m ~ Gamma(q + p x, v + x m); a purchase's value
    has mean p/ν and variance p/ν². Returns (E[z], E[z²]) with E[z²] = p(p+1) E[ν⁻²]
    (infinite where q + p x <= 2; None without ``second``). E[z] is
    GammaGammaFitter.conditional_expected_average_profit."""
    pp, q, v = p
    shape, rate = q + pp * x, v + x * m
    ez = pp * rate / (shape - 1)
    if not second:
        return ez, None
    with np.errstate(divide="ignore", invalid="ignore"):
        ez2 = np.where(shape > 2, pp * (pp + 1) * rate ** 2 / ((shape - 1) * (shape - 2)), np.inf)
    return ez, ez2


__all__ = ["Histories", "kernel", "purchase_moments", "purchase_variance", "spend_moments"]
