"""Variance reduction: CUPED (one pre-period covariate), regression adjustment (several), and
the vectorised per-campaign battery.

CUPED (Deng, Xu, Kohavi & Walker 2013): ``Y_adj = Y - theta (X - mean(X))`` with
``theta = cov(Y, X) / var(X)`` estimated on all customers pooled (valid because ``X`` is
measured before assignment); the lift is then Welch's comparison of ``Y_adj``. The variance
reduction reported is ``1 - se_adj^2 / se_raw^2`` of the lift (about ``corr(X, Y)^2``).

Regression adjustment (Lin 2013): OLS of ``Y`` on the arm indicators, the centred covariates
and their interactions, with HC2 robust standard errors; the arm coefficients are the lifts.
Categorical covariates are one-hot encoded.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.abtest._results import ABResult, frame, prepare, warn_small

__all__ = ["cuped", "regression_adjustment", "battery"]


def _arm_stats(codes: np.ndarray, k: int, y: np.ndarray):
    n = np.bincount(codes, minlength=k).astype(float)
    s1 = np.bincount(codes, weights=y, minlength=k)
    mean = s1 / n
    # second pass on centred values: numerically stable variance
    dev = y - mean[codes]
    s2 = np.bincount(codes, weights=dev * dev, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, s2 / (n - 1), 0.0)
    return n, mean, var


def _welch_rows(n, mean, var, ci, ti, alpha):
    from crmlab.abtest.means import welch
    return welch(mean[ti], var[ti], n[ti], mean[ci], var[ci], n[ci], alpha)


def _theta(y: np.ndarray, x: np.ndarray) -> float:
    xc = x - x.mean()
    vx = float(xc @ xc)
    return float(((y - y.mean()) @ xc) / vx) if vx > 0 else 0.0


def battery(df, arm: str, metrics, control, *, alpha: float = 0.05,
            table: str = "experiment") -> ABResult:
    """Many metrics x arms against control in one vectorised pass (CUPED where a covariate is
    given).

    Parameters
    ----------
    df : DataFrame
        One row per customer.
    arm : str
    metrics : list of str, or dict metric -> pre-period covariate column (or None)
        Every metric is compared as a difference in means (Welch; for 0/1 metrics that is the
        unpooled two-proportion z-test up to the t/normal quantile).
    control : label of the control arm.

    Returns
    -------
    ABResult
        One row per metric x arm; ``variance_reduction`` and ``theta`` for CUPED metrics,
        ``unadjusted_abs_lift`` / ``unadjusted_ci_low`` / ``unadjusted_ci_high`` alongside.
        Rows with a missing metric or covariate are dropped per metric and counted.

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pre = rng.gamma(2, 10, 2000)
    >>> df = pd.DataFrame({"arm": np.repeat(["c", "t"], 1000), "pre": pre,
    ...                    "rev": pre + rng.normal(0, 5, 2000) + np.repeat([0, 1], 1000)})
    >>> r = battery(df, "arm", {"rev": "pre"}, "c")
    >>> bool(r.to_frame().variance_reduction.iloc[0] > 0.8)
    True
    """
    spec = dict(metrics) if isinstance(metrics, dict) else {m: None for m in metrics}
    cols = list(spec) + [c for c in spec.values() if c]
    prep = prepare(df, arm, [], control, table=table, extra=cols)
    # prepare() drops rows missing any column; count per metric instead
    d0 = _raw(df, arm, cols, table)
    d0 = d0[d0[arm].notna()]
    codes_all, uniques = pd.factorize(d0[arm], sort=False)
    uniques = list(uniques)
    k = len(uniques)
    ci = uniques.index(prep.control)
    tis = [uniques.index(a) for a in prep.treatments]
    rows, notes, excluded = [], list(), []
    notes += warn_small(dict(zip(uniques, np.bincount(codes_all, minlength=k))), table,
                        "Welch intervals may be inaccurate (use means() for exact tests)")
    for m, cov in spec.items():
        y = d0[m].to_numpy(dtype=float)
        ok = ~np.isnan(y)
        x = None
        if cov:
            x = d0[cov].to_numpy(dtype=float)
            ok &= ~np.isnan(x)
        if not ok.all():
            bad = int((~ok).sum())
            excluded.append({"reason": f"missing {m}" + (f" or {cov}" if cov else ""),
                             "arm": None, "rows": bad})
            notes.append(f"{m}: {bad:,} rows with missing values excluded")
            y = y[ok]
            x = x[ok] if x is not None else None
            codes = codes_all[ok]
        else:
            codes = codes_all
        n, mean, var = _arm_stats(codes, k, y)
        diff, se, dfree, p, lo, hi = _welch_rows(n, mean, var, ci, np.array(tis), alpha)
        theta = np.nan
        vr = np.full(len(tis), np.nan)
        raw = (diff, lo, hi)
        if x is not None:
            theta = _theta(y, x)
            ya = y - theta * (x - x.mean())
            n2, mean2, var2 = _arm_stats(codes, k, ya)
            diff, se2, dfree, p, lo, hi = _welch_rows(n2, mean2, var2, ci, np.array(tis), alpha)
            with np.errstate(divide="ignore", invalid="ignore"):
                vr = 1 - se2 ** 2 / se ** 2
            se = se2
        for j, ti in enumerate(tis):
            rows.append({
                "metric": m, "arm": uniques[ti], "n": int(n[ti]), "value": mean[ti],
                "control_value": mean[ci], "abs_lift": float(diff[j]),
                "rel_lift": float(diff[j] / mean[ci]) if mean[ci] != 0 else np.nan,
                "ci_low": float(lo[j]), "ci_high": float(hi[j]), "p_value": float(p[j]),
                "method": (f"CUPED on {cov} + Welch" if cov else "Welch t-test"),
                "se": float(se[j]), "covariate": cov, "theta": theta,
                "variance_reduction": float(vr[j]), "unadjusted_abs_lift": float(raw[0][j]),
                "unadjusted_ci_low": float(raw[1][j]), "unadjusted_ci_high": float(raw[2][j]),
                "control_n": int(n[ci]), "scale": "mean"})
    t = frame(rows)
    exc = pd.DataFrame(excluded, columns=["reason", "arm", "rows"])
    return ABResult(t, ", ".join(spec), "difference in means per metric (Welch); CUPED with the "
                    "named pre-period covariate where given", alpha, notes, exc)


def _raw(df, arm, cols, table):
    from crmlab.abtest._results import _to_pandas
    return _to_pandas(df, list(dict.fromkeys([arm] + cols)), table)


def cuped(df, arm: str, outcome: str, covariate: str, control, *, alpha: float = 0.05,
          metric: str | None = None, table: str = "experiment") -> ABResult:
    """CUPED-adjusted lift of ``outcome`` using one pre-period ``covariate``.

    Parameters
    ----------
    df : DataFrame or Ibis table
        One row per customer.
    outcome, covariate : str
        The metric and its pre-period version (e.g. revenue in the 90 days before assignment).
        Rows missing either are excluded and counted.

    Returns
    -------
    ABResult
        Columns as :func:`means` plus ``theta``, ``variance_reduction`` (share of the lift's
        variance removed), and the unadjusted lift and interval.

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pre = rng.gamma(2, 10, 2000)
    >>> df = pd.DataFrame({"arm": np.repeat(["c", "t"], 1000), "pre": pre,
    ...                    "rev": pre + rng.normal(0, 5, 2000) + np.repeat([0, 1], 1000)})
    >>> r = cuped(df, "arm", "rev", "pre", "c")
    >>> r.variance_reduction > 0.8
    True
    """
    prep = prepare(df, arm, [outcome], control, table=table, extra=[covariate])
    d = prep.data.rename(columns={"_arm": arm})
    r = battery(d, arm, {outcome: covariate}, control, alpha=alpha, table=table)
    t = r.to_frame()
    t["metric"] = metric or outcome
    return ABResult(t, metric or outcome, f"CUPED (theta pooled over arms, covariate "
                    f"{covariate}) + Welch t-test and CI", alpha, prep.notes + r.notes,
                    prep.excluded)


def regression_adjustment(df, arm: str, outcome: str, covariates, control, *,
                          alpha: float = 0.05, metric: str | None = None,
                          table: str = "experiment") -> ABResult:
    """Lift adjusted for several pre-period covariates (Lin 2013, HC2 standard errors).

    Parameters
    ----------
    covariates : list of str
        Numeric or categorical pre-period columns (categoricals are one-hot encoded).

    Returns
    -------
    ABResult
        One row per treatment arm; ``variance_reduction`` compares the adjusted lift's variance
        with the unadjusted (Welch) one.

    Examples
    --------
    >>> from crmlab.datasets import load_hillstrom
    >>> h = load_hillstrom()
    >>> r = regression_adjustment(h, "segment", "spend", ["history", "recency"], "No E-Mail")
    >>> r.to_frame().arm.tolist()
    ['Mens E-Mail', 'Womens E-Mail']
    """
    covariates = list(covariates)
    prep = prepare(df, arm, [outcome], control, table=table, extra=covariates)
    d = prep.data
    y = d[outcome].to_numpy(float)
    arms = [control] + prep.treatments
    T = np.column_stack([(d["_arm"] == a).to_numpy(float) for a in prep.treatments])
    X = pd.get_dummies(d[covariates], drop_first=True, dtype=float)
    X = X.loc[:, X.std() > 0]
    Xc = (X - X.mean()).to_numpy(float)
    inter = np.column_stack([T[:, [j]] * Xc for j in range(T.shape[1])]) if Xc.shape[1] else \
        np.empty((len(y), 0))
    Z = np.column_stack([np.ones(len(y)), T, Xc, inter])
    ZtZ_inv = np.linalg.pinv(Z.T @ Z)
    beta = ZtZ_inv @ (Z.T @ y)
    resid = y - Z @ beta
    h = np.einsum("ij,jk,ik->i", Z, ZtZ_inv, Z)
    w = resid ** 2 / np.clip(1 - h, 1e-12, None)
    cov = ZtZ_inv @ (Z.T * w) @ Z @ ZtZ_inv
    dof = len(y) - Z.shape[1]
    q = stats.t.isf(alpha / 2, dof)
    g = d.groupby("_arm", observed=True)[outcome]
    m, v, n = g.mean(), g.var(ddof=1), g.size()
    rows = []
    for j, a in enumerate(prep.treatments, start=1):
        est, se = beta[j], float(np.sqrt(cov[j, j]))
        se_raw = float(np.sqrt(v[a] / n[a] + v[control] / n[control]))
        rows.append({"metric": metric or outcome, "arm": a, "n": int(n[a]), "value": m[a],
                     "control_value": m[control], "abs_lift": est,
                     "rel_lift": est / m[control] if m[control] != 0 else np.nan,
                     "ci_low": est - q * se, "ci_high": est + q * se,
                     "p_value": float(2 * stats.t.sf(abs(est) / se, dof)),
                     "method": "regression adjustment (Lin 2013, HC2)", "se": se,
                     "variance_reduction": 1 - se ** 2 / se_raw ** 2,
                     "unadjusted_abs_lift": m[a] - m[control], "covariates": ", ".join(covariates),
                     "control_n": int(n[control]), "scale": "mean"})
    return ABResult(frame(rows), metric or outcome, "OLS on arm indicators, centred covariates "
                    f"({', '.join(covariates)}) and their interactions (Lin 2013); HC2 robust SE",
                    alpha, list(prep.notes), prep.excluded)
