"""BG/BB model of discrete transaction opportunities (Fader, Hardie & Shang 2010,
"Customer-base analysis in a discrete-time noncontractual setting", Marketing Science 29(6))."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, polygamma

from crmlab.ltv._base import BaseFitter, _as_array, unique_rows

__all__ = ["BetaGeoBetaBinomFitter", "bgbb_columns"]


def bgbb_columns(frequency, recency=None, n_periods=None, model: str = "BG/BB"):
    """Accept three arrays or a table with ``frequency, recency`` and ``n_periods`` (or
    ``periods``); check that they are a discrete-time history (integers, 0 <= x <= t_x <= n,
    t_x = 0 exactly when x = 0)."""
    if isinstance(frequency, pd.DataFrame):
        df = frequency
        ncol = "n_periods" if "n_periods" in df.columns else "periods"
        missing = [c for c in ("frequency", "recency", ncol) if c not in df.columns]
        if missing:
            raise ValueError(f"{model}: the table lacks column(s) {', '.join(missing)} "
                             "(give frequency, recency and n_periods or periods)")
        frequency, recency, n_periods = df["frequency"], df["recency"], df[ncol]
    if recency is None or n_periods is None:
        raise ValueError(f"{model}: give frequency, recency and n_periods (or a table)")
    x, tx, n = (_as_array(v, k, model) for v, k in
                ((frequency, "frequency"), (recency, "recency"), (n_periods, "n_periods")))
    if not (len(x) == len(tx) == len(n)):
        raise ValueError(f"{model}: frequency, recency and n_periods have different lengths "
                         f"({len(x)}, {len(tx)}, {len(n)})")
    if len(x) == 0:
        raise ValueError(f"{model}: no customers to fit (empty input)")
    problems = {
        "non-integer frequency, recency or n_periods":
            (x != np.round(x)) | (tx != np.round(tx)) | (n != np.round(n)),
        "negative frequency": x < 0,
        "frequency greater than recency": x > tx,
        "recency greater than n_periods": tx > n,
        "zero frequency with positive recency": (x == 0) & (tx > 0),
    }
    for what, mask in problems.items():
        if mask.any():
            raise ValueError(f"{model}: {int(mask.sum())} of {len(x)} customers have {what}")
    return x, tx, n


class _Terms:
    """The likelihood of a history as a sum over the period of dropping out (FHS 2010, eq. 5):

        L = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
            + Σ_{i=0}^{n−t_x−1} B(α+x, β+t_x−x+i)/B(α,β) · B(γ+1, δ+t_x+i)/B(γ,δ).

    Per distinct history and term the beta-function arguments are offsets from the parameters:
    ``b1`` (from β), ``s1`` (from α+β), ``a2`` (from γ), ``b2`` (from δ); padded terms are
    masked. Histories are few (one per (x, t_x, n)), so the whole table is evaluated at once.
    """

    def __init__(self, x, tx, n):
        self.x = x
        m = (n - tx).astype(int)
        k = np.arange(int(m.max()) + 1)[None, :]                    # term 0: alive at n
        i = k - 1
        self.mask = k <= m[:, None]
        alive = k == 0
        self.b1 = np.where(alive, (n - x)[:, None], (tx - x)[:, None] + i)
        self.s1 = np.where(alive, n[:, None], tx[:, None] + i)
        self.a2 = np.broadcast_to(np.where(alive, 0.0, 1.0), self.b1.shape)
        self.b2 = np.where(alive, n[:, None], tx[:, None] + i)


def _bgbb_loglik(p, tm: _Terms, w, hessian: bool):
    """Weighted log-likelihood, gradient and (optionally) Hessian in (α, β, γ, δ).

    Each term's log is ℓ_k = c + T_k with c = log Γ(α+x) − log B(α,β) − log B(γ,δ) and
    T_k = log Γ(β+b1) − log Γ(α+β+s1) + log B(γ+a2, δ+b2); the row is c + logsumexp_k T_k, its
    gradient ∇c + Σ π_k ∇T_k and Hessian ∇²c + Σ π_k (∇²T_k + ∇T_k∇T_kᵀ) − ḡḡᵀ (π: softmax).
    """
    al, be, ga, de = p
    x = tm.x
    B1, S1, A2, B2 = be + tm.b1, al + be + tm.s1, ga + tm.a2, de + tm.b2
    AB2 = A2 + B2
    with np.errstate(invalid="ignore"):
        T = gammaln(B1) - gammaln(S1) + gammaln(A2) + gammaln(B2) - gammaln(AB2)
    T = np.where(tm.mask, T, -np.inf)
    mx = T.max(axis=1)
    e = np.exp(T - mx[:, None])
    tot = e.sum(axis=1)
    pi = e / tot[:, None]
    c = gammaln(al + x) - betaln(al, be) - betaln(ga, de)
    ll_rows = c + mx + np.log(tot)
    ll = float(w @ ll_rows)
    psi_s1 = np.where(tm.mask, digamma(S1), 0.0)
    psi_ab2 = np.where(tm.mask, digamma(AB2), 0.0)
    G = np.stack([-psi_s1,
                  np.where(tm.mask, digamma(B1), 0.0) - psi_s1,
                  np.where(tm.mask, digamma(A2), 0.0) - psi_ab2,
                  np.where(tm.mask, digamma(B2), 0.0) - psi_ab2])     # (4, rows, terms)
    gbar = np.einsum("krt,rt->kr", G, pi)
    gc = np.stack([digamma(al + x) - digamma(al) + digamma(al + be),
                   np.full_like(x, digamma(al + be) - digamma(be)),
                   np.full_like(x, digamma(ga + de) - digamma(ga)),
                   np.full_like(x, digamma(ga + de) - digamma(de))])
    g_rows = gc + gbar
    grad = g_rows @ w
    H = None
    if hessian:
        t1 = lambda v: np.where(tm.mask, polygamma(1, v), 0.0)  # noqa: E731
        ps1, pab2 = t1(S1), t1(AB2)
        HT = {(0, 0): -ps1, (0, 1): -ps1, (1, 1): t1(B1) - ps1,
              (2, 2): t1(A2) - pab2, (2, 3): -pab2, (3, 3): t1(B2) - pab2}
        pw = pi * w[:, None]
        H = np.einsum("krt,jrt,rt->kj", G, G, pw) - np.einsum("kr,jr,r->kj", gbar, gbar, w)
        for (i, j), v in HT.items():
            s = float(np.sum(v * pw))
            H[i, j] += s
            if i != j:
                H[j, i] += s
        tab, tgd = polygamma(1, al + be), polygamma(1, ga + de)
        H[0, 0] += float(w @ (polygamma(1, al + x))) + w.sum() * (tab - polygamma(1, al))
        H[0, 1] += w.sum() * tab
        H[1, 0] += w.sum() * tab
        H[1, 1] += w.sum() * (tab - polygamma(1, be))
        H[2, 2] += w.sum() * (tgd - polygamma(1, ga))
        H[2, 3] += w.sum() * tgd
        H[3, 2] += w.sum() * tgd
        H[3, 3] += w.sum() * (tgd - polygamma(1, de))
    return ll, grad, H, ll_rows, g_rows


def _gamma_ratio_diff(gamma, delta, n, m):
    """δ Γ(γ+δ)/Γ(1+δ) [Γ(1+δ+n)/Γ(γ+δ+n) − Γ(1+δ+n+m)/Γ(γ+δ+n+m)] / (γ − 1), the expected
    number of opportunities alive in (n, n+m] (its limit δ [ψ(1+δ+n+m) − ψ(1+δ+n)] at γ = 1)."""
    eps = gamma - 1.0
    if abs(eps) < 1e-12:
        return delta * (digamma(1 + delta + n + m) - digamma(1 + delta + n))
    a1 = gammaln(1 + delta + n) - gammaln(gamma + delta + n)
    a2 = gammaln(1 + delta + n + m) - gammaln(gamma + delta + n + m)
    lead = np.log(delta) + gammaln(gamma + delta) - gammaln(1 + delta)
    return np.exp(lead + a1) * -np.expm1(a2 - a1) / eps


class BetaGeoBetaBinomFitter(BaseFitter):
    """BG/BB: at each of n discrete opportunities (a newsletter, a monthly show, an annual
    appeal) an alive customer transacts with probability p ~ Beta(α, β) and, after it, drops
    out for good with probability θ ~ Beta(γ, δ).

    Data: ``frequency`` x (opportunities with a transaction after the first one), ``recency``
    t_x (the opportunity of the last one, 0 when x = 0) and ``n_periods`` n. Fitted by Newton's
    method with the exact gradient and Hessian of the exact likelihood (a sum of at most n − t_x
    + 1 beta-function terms per history, in log space), on the distinct histories weighted by
    their counts (``weights``: e.g. the published summary's number of donors per pattern).

    Examples
    --------
    >>> from crmlab.datasets import load_donations
    >>> d = load_donations()
    >>> bb = BetaGeoBetaBinomFitter().fit(d, weights=d.weights)
    >>> bb.params_.round(3).tolist(), round(bb.log_likelihood_, 1)
    ([1.204, 0.75, 0.657, 2.783], -33225.6)
    """

    _param_names = ("alpha", "beta", "gamma", "delta")
    _model_name = "BG/BB"

    def fit(self, frequency, recency=None, n_periods=None, weights=None):
        """Fit on ``frequency``, ``recency``, ``n_periods`` (or a table with these columns, or
        ``periods``). ``weights`` counts customers per row (default 1). Returns self."""
        x, tx, n = bgbb_columns(frequency, recency, n_periods, self._model_name)
        if not (x > 0).any():
            raise ValueError(f"{self._model_name}: none of the {len(x)} customers made a repeat "
                             "transaction (no repeat transactions); the model is not identified")
        (ux, utx, un), w, _ = unique_rows(x, tx, n, weights=weights)
        self._optimise(self._prepare((ux, utx, un)), w)
        return self

    def _prepare(self, cols):
        x, tx, n = (np.asarray(c, dtype=float) for c in cols[:3])
        return (x, tx, n, _Terms(x, tx, n))

    def _start(self, data, w):
        return np.log([1.0, 1.0, 1.0, 1.0])

    @staticmethod
    def _terms(data) -> _Terms:
        return data[3] if len(data) > 3 else _Terms(*(np.asarray(c, float) for c in data[:3]))

    def _loglik_and_grad(self, logp, data, w):
        p = np.exp(logp)
        ll, g, _, _, _ = _bgbb_loglik(p, self._terms(data), np.asarray(w, float), hessian=False)
        return ll, g * p

    def _loglik_grad_hess(self, logp, data, w):
        p = np.exp(logp)
        ll, g, h, _, _ = _bgbb_loglik(p, self._terms(data), np.asarray(w, float), hessian=True)
        return ll, g * p, h * np.outer(p, p) + np.diag(g * p)

    @staticmethod
    def _loglik_rows(p, data):
        x = np.asarray(data[0], float)
        _, _, _, ll, g = _bgbb_loglik(np.asarray(p, float), BetaGeoBetaBinomFitter._terms(data),
                                      np.ones(len(x)), hessian=False)
        return ll, g

    def loglik_rows(self, frequency, recency, n_periods) -> np.ndarray:
        """Per-customer log-likelihood at the fitted parameters."""
        self._check_fitted()
        x, tx, n = bgbb_columns(frequency, recency, n_periods, self._model_name)
        return self._loglik_rows(self.params_.to_numpy(), (x, tx, n))[0]

    # -- predictions (FHS 2010) --------------------------------------------------------------------
    def conditional_probability_alive(self, m_periods_in_future, frequency, recency, n_periods):
        """P(alive at opportunity n + m | x, t_x, n) (FHS 2010, eq. 11 with m further periods;
        m = 0: alive at n)."""
        self._check_fitted()
        al, be, ga, de = self.params_.to_numpy()
        x, tx, n = bgbb_columns(frequency, recency, n_periods, self._model_name)
        m = np.asarray(m_periods_in_future, dtype=float)
        lead = (betaln(al + x, be + n - x) - betaln(al, be)
                + betaln(ga, de + n + m) - betaln(ga, de))
        return np.exp(lead - self._loglik_rows(self.params_.to_numpy(), (x, tx, n))[0])

    def conditional_expected_number_of_purchases_up_to_time(self, m_periods_in_future, frequency,
                                                            recency, n_periods):
        """E[X(n, n + m) | x, t_x, n]: expected transactions in the next m opportunities
        (FHS 2010, eq. 13)."""
        self._check_fitted()
        al, be, ga, de = self.params_.to_numpy()
        x, tx, n = bgbb_columns(frequency, recency, n_periods, self._model_name)
        m = np.asarray(m_periods_in_future, dtype=float)
        ll = self._loglik_rows(self.params_.to_numpy(), (x, tx, n))[0]
        lead = betaln(al + x + 1, be + n - x) - betaln(al, be)
        return np.exp(lead - ll) * _gamma_ratio_diff(ga, de, n, m)

    def expected_number_of_purchases_up_to_time(self, n):
        """E[X(n)]: expected transactions of a new customer in n opportunities (FHS 2010, eq. 8)."""
        self._check_fitted()
        al, be, ga, de = self.params_.to_numpy()
        n = np.asarray(n, dtype=float)
        return al / (al + be) * _gamma_ratio_diff(ga, de, 0.0, n)

    def probability_of_n_purchases_up_to_time(self, n, x):
        """P(X(n) = x): probability of x transactions in n opportunities (FHS 2010, eq. 7)."""
        self._check_fitted()
        al, be, ga, de = self.params_.to_numpy()
        n = int(n)
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        lc = lambda a, b: gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)  # noqa: E731
        out = np.exp(lc(n, xs) + betaln(al + xs, be + n - xs) - betaln(al, be)
                     + betaln(ga, de + n) - betaln(ga, de))
        for j, xx in enumerate(xs):
            i = np.arange(int(xx), n, dtype=float)
            out[j] += np.exp(lc(i, xx) + betaln(al + xx, be + i - xx) - betaln(al, be)
                             + betaln(ga + 1, de + i) - betaln(ga, de)).sum()
        return out if np.ndim(x) else float(out[0])
