"""Bayesian reading of an A/B test.

- Conversions: independent Beta-Binomial models per arm (prior ``Beta(a, b)``, default the
  uniform ``Beta(1, 1)``). ``P(treatment beats control)`` is computed by one-dimensional
  numerical integration (exact up to quadrature error), expected loss and the credible interval
  of the difference by seeded Monte Carlo from the posteriors.
- Revenue (any mean): normal approximation — each arm's mean has posterior
  ``N(sample mean, s^2 / n)`` (flat prior on the mean, large-sample), so the difference is
  normal and everything is closed form.

*Expected loss* of shipping the treatment is ``E[max(control - treatment, 0)]``: what you
expect to give up, in the metric's units, if the treatment is in fact worse.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import integrate, special, stats

from crmlab.abtest._results import ABResult, frame, prepare

__all__ = ["bayes_proportions", "bayes_means", "prob_beta_greater"]


def prob_beta_greater(a_t: float, b_t: float, a_c: float, b_c: float) -> float:
    """``P(X_t > X_c)`` for independent ``X_t ~ Beta(a_t, b_t)``, ``X_c ~ Beta(a_c, b_c)``.

    Numerical integration of ``f_t(x) F_c(x)`` over [0, 1], split at the posterior modes.

    Examples
    --------
    >>> round(prob_beta_greater(2, 1, 1, 1), 4)      # P(max of 2 uniforms' ... ) = 2/3
    0.6667
    """
    lo = min(stats.beta.ppf(1e-12, a_t, b_t), stats.beta.ppf(1e-12, a_c, b_c))
    hi = max(stats.beta.isf(1e-12, a_t, b_t), stats.beta.isf(1e-12, a_c, b_c))
    pts = sorted({float(stats.beta.mean(a_t, b_t)), float(stats.beta.mean(a_c, b_c))})

    def f(x):
        return stats.beta.pdf(x, a_t, b_t) * stats.beta.cdf(x, a_c, b_c)

    val, _ = integrate.quad(f, lo, hi, points=pts, limit=500, epsabs=1e-12, epsrel=1e-10)
    return float(min(max(val, 0.0), 1.0))


def bayes_proportions(df, arm: str, outcome: str, control, *, prior: tuple = (1.0, 1.0),
                      alpha: float = 0.05, n_draws: int = 200_000, seed: int = 0,
                      table: str = "experiment") -> ABResult:
    """Beta-binomial comparison of conversion rates.

    Parameters
    ----------
    prior : (a, b)
        Beta prior shared by all arms (default uniform ``Beta(1, 1)``), stated in ``method``.
    alpha : float
        ``1 - alpha`` equal-tailed credible intervals.
    n_draws, seed : Monte Carlo draws for expected loss and the difference's interval.

    Returns
    -------
    ABResult
        ``value``/``control_value`` are posterior means; ``ci_low``/``ci_high`` the credible
        interval of the difference; extra columns ``prob_beat_control``,
        ``expected_loss`` (of choosing treatment), ``expected_loss_control`` (of keeping
        control), ``cri_low``/``cri_high`` (the arm's own rate); ``p_value`` is NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arm": ["c"] * 1000 + ["t"] * 1000,
    ...                    "buy": [1] * 100 + [0] * 900 + [1] * 130 + [0] * 870})
    >>> round(bayes_proportions(df, "arm", "buy", "c").prob_beat_control, 3)
    0.982
    """
    a0, b0 = map(float, prior)
    if a0 <= 0 or b0 <= 0:
        raise ValueError(f"prior parameters must be positive, got {prior}")
    prep = prepare(df, arm, [outcome], control, table=table)
    d = prep.data
    y = d[outcome].astype(float)
    if not y.isin([0, 1]).all():
        from crmlab.data.errors import DataContractError
        raise DataContractError(table, outcome, "conversion outcome must be 0/1",
                                int((~y.isin([0, 1])).sum()))
    g = y.groupby(d["_arm"], observed=True)
    x, n = g.sum(), g.size()
    rng = np.random.default_rng(seed)
    ac, bc = a0 + x[control], b0 + n[control] - x[control]
    draws_c = rng.beta(ac, bc, n_draws)
    rows = []
    for a in prep.treatments:
        at, bt = a0 + x[a], b0 + n[a] - x[a]
        draws_t = rng.beta(at, bt, n_draws)
        diff = draws_t - draws_c
        lo, hi = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
        mt, mc = at / (at + bt), ac / (ac + bc)
        rows.append({
            "metric": outcome, "arm": a, "n": int(n[a]), "value": mt, "control_value": mc,
            "abs_lift": mt - mc, "rel_lift": float(np.mean(draws_t / draws_c) - 1),
            "ci_low": lo, "ci_high": hi, "p_value": np.nan,
            "method": f"Beta-Binomial, prior Beta({a0:g}, {b0:g})",
            "prob_beat_control": prob_beta_greater(at, bt, ac, bc),
            "expected_loss": float(np.mean(np.maximum(-diff, 0))),
            "expected_loss_control": float(np.mean(np.maximum(diff, 0))),
            "cri_low": float(stats.beta.ppf(alpha / 2, at, bt)),
            "cri_high": float(stats.beta.isf(alpha / 2, at, bt)),
            "control_cri_low": float(stats.beta.ppf(alpha / 2, ac, bc)),
            "control_cri_high": float(stats.beta.isf(alpha / 2, ac, bc)),
            "scale": "proportion",
        })
    t = frame(rows)
    text = "; ".join(
        f"P({r.arm} beats control) = {100 * r.prob_beat_control:.1f}%, expected loss if shipped "
        f"{100 * r.expected_loss:.3f} pp, {100 * (1 - alpha):.0f}% credible interval of the "
        f"difference {100 * r.ci_low:+.2f} to {100 * r.ci_high:+.2f} pp"
        for r in t.itertuples()) + f" (prior Beta({a0:g}, {b0:g}))."
    return ABResult(t, outcome, f"Beta-Binomial posterior, prior Beta({a0:g}, {b0:g}) per arm; "
                    f"P(beat) by numerical integration; loss and intervals by Monte Carlo "
                    f"({n_draws:,} draws, seed {seed})", alpha, list(prep.notes), prep.excluded,
                    extra={"prior": (a0, b0)}, reading_override=text, kind="bayes")


def bayes_means(df, arm: str, outcome: str, control, *, alpha: float = 0.05,
                table: str = "experiment") -> ABResult:
    """Normal-approximation Bayesian comparison of means (e.g. revenue per customer).

    Each arm's mean has posterior ``N(mean, var / n)`` (flat prior, large samples), so the
    difference ``D`` is normal: ``P(D > 0) = Phi(d / se)`` and the expected loss of shipping is
    ``E[max(-D, 0)] = se * phi(d / se) - d * Phi(-d / se)``.

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> df = pd.DataFrame({"arm": np.repeat(["c", "t"], 2), "rev": [1.0, 3.0, 2.0, 4.0]})
    >>> round(bayes_means(df, "arm", "rev", "c").prob_beat_control, 3)
    0.76
    """
    prep = prepare(df, arm, [outcome], control, table=table)
    d = prep.data
    g = d[outcome].astype(float).groupby(d["_arm"], observed=True)
    m, v, n = g.mean(), g.var(ddof=1).fillna(0.0), g.size()
    z = stats.norm.isf(alpha / 2)
    rows = []
    for a in prep.treatments:
        diff = m[a] - m[control]
        se = float(np.sqrt(v[a] / n[a] + v[control] / n[control]))
        if se > 0:
            pb = float(stats.norm.cdf(diff / se))
            loss = float(se * stats.norm.pdf(diff / se) - diff * stats.norm.cdf(-diff / se))
            loss_c = float(se * stats.norm.pdf(diff / se) + diff * stats.norm.cdf(diff / se))
        else:
            pb = 1.0 if diff > 0 else (0.0 if diff < 0 else 0.5)
            loss, loss_c = max(-diff, 0.0), max(diff, 0.0)
        rows.append({
            "metric": outcome, "arm": a, "n": int(n[a]), "value": m[a],
            "control_value": m[control], "abs_lift": diff,
            "rel_lift": diff / m[control] if m[control] != 0 else np.nan,
            "ci_low": diff - z * se, "ci_high": diff + z * se, "p_value": np.nan,
            "method": "normal approximation, flat prior on each arm's mean",
            "prob_beat_control": pb, "expected_loss": loss, "expected_loss_control": loss_c,
            "scale": "mean",
        })
    t = frame(rows)
    text = "; ".join(
        f"P({r.arm} beats control) = {100 * r.prob_beat_control:.1f}%, expected loss if shipped "
        f"{r.expected_loss:,.4g} per customer, {100 * (1 - alpha):.0f}% credible interval "
        f"{r.ci_low:+,.4g} to {r.ci_high:+,.4g}" for r in t.itertuples()) + \
        " (flat prior, normal approximation)."
    return ABResult(t, outcome, "normal approximation to the posterior of each arm's mean "
                    "(flat prior)", alpha, list(prep.notes), prep.excluded,
                    reading_override=text, kind="bayes")


def _evan_miller(a_t, b_t, a_c, b_c) -> float:
    """Closed-form ``P(X_t > X_c)`` for integer ``a_t`` (Evan Miller 2015); used in tests."""
    i = np.arange(int(a_t))
    terms = np.exp(special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i)
                   - special.betaln(1 + i, b_t) - special.betaln(a_c, b_c))
    return float(terms.sum())

