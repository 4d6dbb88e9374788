"""Ratio metrics by the delta method (average order value, revenue per visit, ...).

A ratio metric of an arm is ``R = sum(numerator) / sum(denominator)`` over its customers (e.g.
revenue / orders = average order value). Customers, not orders, are the randomisation unit, so
the per-customer numerator and denominator are correlated and the naive per-order standard
error is wrong. The delta method gives

    Var(R) ~= (var_N - 2 R cov_ND + R^2 var_D) / (n mean_D^2)

(Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric Analytics").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.abtest._results import ABResult, frame, prepare, warn_small

__all__ = ["ratio", "ratio_adjusted", "ratio_stats"]


def ratio_stats(num, den):
    """Ratio ``sum(num) / sum(den)`` and its delta-method variance (per-customer arrays).

    Examples
    --------
    >>> r, v = ratio_stats([10.0, 0.0, 30.0], [1.0, 0.0, 2.0])
    >>> round(float(r), 3)
    13.333
    """
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    n = len(num)
    mn, md = num.mean(), den.mean()
    if md == 0:
        return np.nan, np.nan
    r = mn / md
    if n < 2:
        return r, np.nan
    vn, vd = num.var(ddof=1), den.var(ddof=1)
    cnd = np.cov(num, den, ddof=1)[0, 1]
    return r, max((vn - 2 * r * cnd + r * r * vd) / (n * md * md), 0.0)


def ratio(df, arm: str, numerator: str, denominator: str, control, *, alpha: float = 0.05,
          metric: str | None = None, arms=None, table: str = "experiment") -> ABResult:
    """Compare a ratio metric between arms with delta-method intervals.

    Parameters
    ----------
    df : DataFrame or Ibis table
        One row per customer with the per-customer ``numerator`` (e.g. revenue) and
        ``denominator`` (e.g. number of orders or visits). Customers with a zero denominator
        stay in (they add nothing to either sum but count in ``n``).
    arm, numerator, denominator : str
    control : label of the control arm.
    alpha : float
    metric : str, optional
        Name in the output (default ``"numerator / denominator"``).

    Returns
    -------
    ABResult
        ``abs_lift`` is ``R_t - R_c`` with a normal interval; the test is a z-test on it; the
        relative lift's interval is delta-method on the log ratio. Extra columns ``se``,
        ``denominator_total``, ``control_denominator_total``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arm": ["c", "c", "t", "t"], "rev": [10.0, 20, 30, 10],
    ...                    "orders": [1, 2, 2, 1]})
    >>> round(ratio(df, "arm", "rev", "orders", "c", ).value, 3)
    13.333
    """
    prep = prepare(df, arm, [numerator, denominator], control, arms=arms, table=table)
    d = prep.data
    name = metric or f"{numerator} / {denominator}"
    groups = {a: (g[numerator].to_numpy(float), g[denominator].to_numpy(float))
              for a, g in d.groupby("_arm", observed=True)}
    notes = list(prep.notes)
    notes += warn_small({a: len(v[0]) for a, v in groups.items()}, table,
                        "the delta-method normal approximation may be poor (no exact method)")
    rc, vc = ratio_stats(*groups[control])
    z = stats.norm.isf(alpha / 2)
    rows = []
    for a in prep.treatments:
        rt, vt = ratio_stats(*groups[a])
        diff = rt - rc
        se = float(np.sqrt(vt + vc))
        p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else float(diff == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lse = np.sqrt(vt / rt ** 2 + vc / rc ** 2)
            rel = rt / rc - 1
            rlo, rhi = (rt / rc) * np.exp(-z * lse) - 1, (rt / rc) * np.exp(z * lse) - 1
        rows.append({"metric": name, "arm": a, "n": len(groups[a][0]), "value": rt,
                     "control_value": rc, "abs_lift": diff, "rel_lift": rel,
                     "ci_low": diff - z * se, "ci_high": diff + z * se, "p_value": p,
                     "method": "delta method (z-test)", "se": se,
                     "control_n": len(groups[control][0]),
                     "denominator_total": float(groups[a][1].sum()),
                     "control_denominator_total": float(groups[control][1].sum()),
                     "rel_ci_low": float(rlo), "rel_ci_high": float(rhi), "scale": "ratio"})
        if np.isnan(rt) or np.isnan(rc):
            notes.append(f"{a!r} vs control: a denominator sums to zero; the ratio is undefined")
    return ABResult(frame(rows), name, "ratio of sums per arm; delta-method variance "
                    "(customer is the unit); z-test and normal CI", alpha, notes, prep.excluded)


def ratio_adjusted(df, arm: str, numerator: str, denominator: str, covariates, control, *,
                   alpha: float = 0.05, metric: str | None = None) -> ABResult:
    """A ratio metric's difference adjusted for pre-period covariates: the delta method's
    linearisation, then Lin's (2013) regression adjustment of the linearised values.

    Each customer of arm ``a`` gets ``L = (numerator - R_a × denominator) / mean_a(denominator)``
    (the influence of the customer on ``R_a``; its variance over ``n`` is :func:`ratio_stats`'s
    delta-method variance). Adjusting ``L`` for the covariates by
    :func:`crmlab.abtest.regression_adjustment` (arm indicators, centred covariates and their
    interactions, HC2 errors) moves each arm's ratio by what its covariate means differ from the
    pooled ones: the adjusted difference is ``R_t - R_c`` plus the adjusted difference of ``L``,
    with that coefficient's standard error (Deng, Xu, Kohavi & Walker 2013, CUPED for ratio
    metrics). ``value`` / ``control_value`` stay the raw ratios and ``unadjusted_abs_lift``
    their difference; ``variance_reduction`` compares with :func:`ratio`'s delta-method variance.
    """
    from crmlab.abtest.cuped import regression_adjustment

    covariates = list(covariates)
    prep = prepare(df, arm, [numerator, denominator], control, extra=covariates)
    d = prep.data
    name = metric or f"{numerator} / {denominator}"
    num = d[numerator].to_numpy(float)
    den = d[denominator].to_numpy(float)
    lin = np.full(len(d), np.nan)
    stats_by_arm = {}
    for a, pos in d.groupby("_arm", observed=True).indices.items():
        md = den[pos].mean()
        r, v = ratio_stats(num[pos], den[pos])
        stats_by_arm[a] = (r, v, len(pos), float(den[pos].sum()))
        if md > 0:
            lin[pos] = (num[pos] - r * den[pos]) / md
    rc, vc, nc, dc = stats_by_arm[control]
    if np.isnan(lin).any():
        raise ValueError(f"{name}: a denominator sums to zero in an arm; the ratio is undefined")
    lab = d[covariates].assign(arm_=d["_arm"].to_numpy(), lin_=lin)
    reg = regression_adjustment(lab, "arm_", "lin_", covariates, control,
                                alpha=alpha).to_frame().set_index("arm")
    rows = []
    for a in prep.treatments:
        rt, vt, nt, dt = stats_by_arm[a]
        raw = rt - rc
        g = reg.loc[a]
        est = raw + float(g["abs_lift"])
        se = float(g["se"])
        half = float(g["ci_high"]) - float(g["abs_lift"])
        rows.append({"metric": name, "arm": a, "n": nt, "value": rt, "control_value": rc,
                     "abs_lift": est, "rel_lift": est / rc if rc else np.nan,
                     "ci_low": est - half, "ci_high": est + half,
                     "p_value": (float(2 * stats.t.sf(abs(est) / se, int(g["dof"])))
                                 if se > 0 else float(est == 0)),
                     "method": "delta method, regression-adjusted (Lin 2013, HC2)", "se": se,
                     "variance_reduction": 1 - se ** 2 / (vt + vc) if vt + vc > 0 else np.nan,
                     "unadjusted_abs_lift": raw, "covariates": ", ".join(covariates),
                     "control_n": nc, "denominator_total": dt, "control_denominator_total": dc,
                     "scale": "ratio"})
    return ABResult(frame(rows), name, "ratio of sums per arm; delta-method linearisation "
                    f"adjusted for {', '.join(covariates)} (Lin 2013, HC2); t interval",
                    alpha, list(prep.notes), prep.excluded)
