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


def _sums(codes: np.ndarray, k: int, w: np.ndarray) -> np.ndarray:
    return np.bincount(codes, weights=w, minlength=k)


def _welch_rows(n, mean, var, ci, ti, alpha):
    """Welch for each treatment column ``ti`` vs control column ``ci`` (last axis = arms)."""
    from crmlab.abtest.means import welch
    return welch(mean[..., ti], var[..., ti], n[..., ti], mean[..., [ci]], var[..., [ci]],
                 n[..., [ci]], alpha)


def _moments(codes, k, y, x=None):
    """Per-arm n, mean, variance of y and, with a covariate, of the CUPED-adjusted y.

    Values are centred on their overall means first (numerical stability); the adjusted
    moments follow algebraically from the per-arm sums of y, y^2, x, x^2 and xy, so a metric
    costs a handful of ``bincount`` passes.
    """
    n = np.bincount(codes, minlength=k).astype(float)
    yc = y - y.mean()
    sy, syy = _sums(codes, k, yc), _sums(codes, k, yc * yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sy / n
        var = np.where(n > 1, (syy - n * mean * mean) / (n - 1), 0.0)
    out = {"n": n, "mean": mean + y.mean(), "var": np.maximum(var, 0.0)}
    if x is not None:
        xc = x - x.mean()
        sx, sxx, sxy = _sums(codes, k, xc), _sums(codes, k, xc * xc), _sums(codes, k, xc * yc)
        vx = sxx.sum()
        theta = float(sxy.sum() / vx) if vx > 0 else 0.0
        sa = sy - theta * sx                      # sums of adjusted (centred) y per arm
        saa = syy - 2 * theta * sxy + theta * theta * sxx
        with np.errstate(divide="ignore", invalid="ignore"):
            ma = sa / n
            va = np.where(n > 1, (saa - n * ma * ma) / (n - 1), 0.0)
        out.update(theta=theta, adj_mean=ma + y.mean(), adj_var=np.maximum(va, 0.0))
    return out


def battery(df, arm: str, metrics, control, *, alpha: float = 0.05,
            table: str = "experiment") -> ABResult:
    """Many metrics x arms against control in one vectorised pass (CUPED where a covariate is
    given).

    Parameters
    ----------
    df : DataFrame or Ibis table
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
        Rows with a missing arm, metric or covariate are dropped (per metric) and counted.

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
    from crmlab._engine import is_ibis
    from crmlab.abtest._results import _to_pandas
    from crmlab.data.errors import DataContractError

    spec = dict(metrics) if isinstance(metrics, dict) else {m: None for m in metrics}
    cols = list(dict.fromkeys([arm] + list(spec) + [c for c in spec.values() if c]))
    if is_ibis(df) or not isinstance(df, pd.DataFrame):
        df = _to_pandas(df, cols, table)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataContractError(table, ", ".join(missing), "column not found", len(df))
    codes_all, uniques = pd.factorize(df[arm], sort=False)
    uniques = list(uniques)
    k = len(uniques)
    if control not in uniques:
        raise DataContractError(table, arm, f"unknown control label {control!r}; arms present: "
                                + ", ".join(map(repr, sorted(uniques, key=str))), len(df))
    if k < 2:
        raise DataContractError(table, arm, "only the control arm is present; nothing to "
                                "compare", len(df))
    ci = uniques.index(control)
    tis = np.array(sorted((i for i in range(k) if i != ci),
                          key=lambda i: (str(type(uniques[i])), uniques[i])))
    notes, excluded = [], []
    no_arm = codes_all < 0
    if no_arm.any():
        excluded.append({"reason": f"missing {arm}", "arm": None, "rows": int(no_arm.sum())})
        notes.append(f"{int(no_arm.sum()):,} rows with a missing {arm} excluded")
    notes += warn_small(dict(zip(uniques, np.bincount(codes_all[~no_arm], minlength=k))), table,
                        "Welch intervals may be inaccurate (use means() for exact tests)")
    # per-arm moments of every metric (a few bincount passes each), then one vectorised
    # Welch computation over all metrics x arms
    names, covs, N, M, V, MA, VA, TH = [], [], [], [], [], [], [], []
    for m, cov in spec.items():
        y = df[m].to_numpy(dtype=float)
        x = df[cov].to_numpy(dtype=float) if cov else None
        ok = ~no_arm & ~np.isnan(y)
        if x is not None:
            ok &= ~np.isnan(x)
        codes = codes_all
        if not ok.all():
            bad = int((~ok).sum() - no_arm.sum())
            if bad:
                excluded.append({"reason": f"missing {m}" + (f" or {cov}" if cov else ""),
                                 "arm": None, "rows": bad})
                notes.append(f"{m}: {bad:,} rows with missing values excluded")
            y, codes = y[ok], codes_all[ok]
            x = x[ok] if x is not None else None
        st = _moments(codes, k, y, x)
        names.append(m)
        covs.append(cov)
        N.append(st["n"])
        M.append(st["mean"])
        V.append(st["var"])
        MA.append(st.get("adj_mean", st["mean"]))
        VA.append(st.get("adj_var", st["var"]))
        TH.append(st.get("theta", np.nan))
    N, M, V, MA, VA = (np.vstack(a) for a in (N, M, V, MA, VA))
    has_cov = np.array([c is not None for c in covs])[:, None]
    raw = _welch_rows(N, M, V, ci, tis, alpha)              # arrays (metrics, treatments)
    adj = _welch_rows(N, MA, VA, ci, tis, alpha)
    diff, se, dfree, p, lo, hi = (np.where(has_cov, a, r) for a, r in zip(adj, raw))
    with np.errstate(divide="ignore", invalid="ignore"):
        vr = np.where(has_cov, 1 - adj[1] ** 2 / raw[1] ** 2, np.nan)
        rel = np.where(M[:, [ci]] != 0, diff / M[:, [ci]], np.nan)
    n_m, n_t = len(names), len(tis)
    rows = {
        "metric": np.repeat(names, n_t), "arm": np.tile([uniques[i] for i in tis], n_m),
        "n": N[:, tis].astype(int).ravel(), "value": M[:, tis].ravel(),
        "control_value": np.repeat(M[:, ci], n_t), "abs_lift": diff.ravel(),
        "rel_lift": rel.ravel(), "ci_low": lo.ravel(), "ci_high": hi.ravel(),
        "p_value": p.ravel(),
        "method": np.repeat([f"CUPED on {c} + Welch" if c else "Welch t-test" for c in covs],
                            n_t),
        "se": se.ravel(), "covariate": np.repeat(np.array(covs, dtype=object), n_t),
        "theta": np.repeat(TH, n_t), "variance_reduction": vr.ravel(),
        "unadjusted_abs_lift": raw[0].ravel(), "unadjusted_ci_low": raw[4].ravel(),
        "unadjusted_ci_high": raw[5].ravel(), "control_n": np.repeat(N[:, ci].astype(int), n_t),
        "scale": "mean"}
    t = frame(rows)
    exc = pd.DataFrame(excluded, columns=["reason", "arm", "rows"])
    return ABResult(t, ", ".join(spec), "difference in means per metric (Welch); CUPED with the "
                    "named pre-period covariate where given", alpha, notes, exc)


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
                     "control_n": int(n[control]), "scale": "mean", "dof": int(dof)})
    return ABResult(frame(rows), metric or outcome, "OLS on arm indicators, centred covariates "
                    f"({', '.join(covariates)}) and their interactions (Lin 2013); HC2 robust SE",
                    alpha, list(prep.notes), prep.excluded)
