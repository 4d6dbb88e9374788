"""Conversion-type metrics (0/1 per customer): difference and relative lift against control.

- difference ``p_t - p_c`` with Newcombe's hybrid score interval (Newcombe 1998, method 10:
  Wilson score intervals of each arm combined);
- relative lift ``p_t / p_c - 1`` with a delta-method interval on the log ratio (Katz);
- test: the pooled two-proportion z-test (identical to Pearson's chi-square without continuity
  correction, R ``prop.test(correct = FALSE)``), or Fisher's exact test when an expected cell
  count is below 5 or an arm has fewer than 30 customers (chosen automatically, named in
  ``method``);
- with several arms, also the omnibus k x 2 chi-square test of equal proportions.

The kernels (:func:`wilson_interval`, :func:`newcombe_interval`, :func:`ztest_pooled`) are
vectorised over numpy arrays and used as they are by the simulation tests.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.abtest._results import ABResult, frame, prepare, warn_small, SMALL_N
from crmlab.data.errors import DataContractError

__all__ = ["proportions", "proportions_from_counts", "wilson_interval", "newcombe_interval",
           "ztest_pooled", "log_ratio_interval"]


def wilson_interval(x, n, alpha: float = 0.05):
    """Wilson score interval of a binomial proportion (vectorised).

    Examples
    --------
    >>> lo, hi = wilson_interval(81, 263)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.isf(alpha / 2)
    p = np.divide(x, n, out=np.full_like(x * n, np.nan), where=n > 0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def newcombe_interval(x_t, n_t, x_c, n_c, alpha: float = 0.05):
    """Newcombe's hybrid score interval for ``p_t - p_c`` (method 10, vectorised).

    Examples
    --------
    >>> lo, hi = newcombe_interval(56, 70, 48, 80)   # Newcombe (1998), example (a)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0524, 0.3339)
    """
    x_t, n_t, x_c, n_c = (np.asarray(v, dtype=float) for v in (x_t, n_t, x_c, n_c))
    p_t, p_c = x_t / n_t, x_c / n_c
    lt, ut = wilson_interval(x_t, n_t, alpha)
    lc, uc = wilson_interval(x_c, n_c, alpha)
    d = p_t - p_c
    low = d - np.sqrt((p_t - lt) ** 2 + (uc - p_c) ** 2)
    high = d + np.sqrt((ut - p_t) ** 2 + (p_c - lc) ** 2)
    return low, high


def ztest_pooled(x_t, n_t, x_c, n_c, alternative: str = "two-sided"):
    """Pooled two-proportion z-test (vectorised); returns ``(z, p_value)``.

    ``z**2`` equals Pearson's chi-square without continuity correction. When nobody (or
    everybody) converted in both arms the difference is exactly zero: ``z = 0``, ``p = 1``.
    """
    x_t, n_t, x_c, n_c = (np.asarray(v, dtype=float) for v in (x_t, n_t, x_c, n_c))
    p_t, p_c = x_t / n_t, x_c / n_c
    pbar = (x_t + x_c) / (n_t + n_c)
    se = np.sqrt(pbar * (1 - pbar) * (1 / n_t + 1 / n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p_t - p_c) / np.where(se > 0, se, 1), 0.0)
    if alternative == "two-sided":
        p = 2 * stats.norm.sf(np.abs(z))
    elif alternative == "greater":
        p = stats.norm.sf(z)
    elif alternative == "less":
        p = stats.norm.cdf(z)
    else:
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    return z, np.minimum(p, 1.0)


def log_ratio_interval(x_t, n_t, x_c, n_c, alpha: float = 0.05):
    """Delta-method (Katz log) interval for the relative lift ``p_t / p_c - 1``.

    Undefined (NaN) when either arm has no conversions.
    """
    x_t, n_t, x_c, n_c = (np.asarray(v, dtype=float) for v in (x_t, n_t, x_c, n_c))
    z = stats.norm.isf(alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = (x_t / n_t) / (x_c / n_c)
        se = np.sqrt(1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c)
        ok = (x_t > 0) & (x_c > 0)
        low = np.where(ok, rr * np.exp(-z * se) - 1, np.nan)
        high = np.where(ok, rr * np.exp(z * se) - 1, np.nan)
    return low, high


def _choose(x_t, n_t, x_c, n_c) -> str:
    tab = np.array([[x_t, n_t - x_t], [x_c, n_c - x_c]], dtype=float)
    expected = tab.sum(1, keepdims=True) * tab.sum(0, keepdims=True) / tab.sum()
    if expected.min() < 5 or min(n_t, n_c) < SMALL_N:
        return "fisher"
    return "z"


def _summary_rows(counts: pd.DataFrame, control, treatments, alpha: float, test: str,
                  alternative: str, metric: str):
    c = counts.loc[control]
    rows, used = [], set()
    for a in treatments:
        t = counts.loc[a]
        method = _choose(t.x, t.n, c.x, c.n) if test == "auto" else test
        if method == "fisher":
            alt = {"two-sided": "two-sided", "greater": "greater", "less": "less"}[alternative]
            p = stats.fisher_exact([[t.x, t.n - t.x], [c.x, c.n - c.x]], alternative=alt)[1]
            zstat = float(ztest_pooled(t.x, t.n, c.x, c.n)[0])
            name = "Fisher's exact test"
        elif method == "z":
            zstat, p = (float(v) for v in ztest_pooled(t.x, t.n, c.x, c.n, alternative))
            name = "two-proportion z-test (pooled; = chi-square without continuity correction)"
        else:
            raise ValueError(f"test must be 'auto', 'z' or 'fisher', got {test!r}")
        used.add(name)
        lo, hi = newcombe_interval(t.x, t.n, c.x, c.n, alpha)
        rlo, rhi = log_ratio_interval(t.x, t.n, c.x, c.n, alpha)
        pt, pc = t.x / t.n, c.x / c.n
        rows.append({
            "metric": metric, "arm": a, "n": int(t.n), "value": pt, "control_value": pc,
            "abs_lift": pt - pc, "rel_lift": (pt / pc - 1) if c.x > 0 else np.nan,
            "ci_low": float(lo), "ci_high": float(hi), "p_value": float(p), "statistic": zstat,
            "method": f"{name}; Newcombe hybrid score CI",
            "control_n": int(c.n), "conversions": int(t.x), "control_conversions": int(c.x),
            "rel_ci_low": float(rlo), "rel_ci_high": float(rhi), "scale": "proportion",
        })
    return rows, used


def _omnibus(counts: pd.DataFrame):
    tab = np.column_stack([counts.x.to_numpy(float), (counts.n - counts.x).to_numpy(float)])
    if (tab.sum(0) == 0).any():
        return 0.0, len(tab) - 1, 1.0
    chi2, p, dof, _ = stats.chi2_contingency(tab, correction=False)
    return float(chi2), int(dof), float(p)


def proportions_from_counts(successes, totals, control, *, alpha: float = 0.05,
                            test: str = "auto", alternative: str = "two-sided",
                            metric: str = "conversion", table: str = "counts") -> ABResult:
    """Compare conversion counts already aggregated per arm.

    Parameters
    ----------
    successes, totals : mapping arm -> count (dict or Series)
    control : the control arm label
    alpha, test, alternative, metric : see :func:`proportions`

    Examples
    --------
    >>> r = proportions_from_counts({"A": 83, "B": 90}, {"A": 86, "B": 93}, control="A")
    >>> r.method.split(";")[0]
    "Fisher's exact test"
    """
    s, t = pd.Series(successes, dtype=float), pd.Series(totals, dtype=float)
    if control not in s.index:
        raise DataContractError(table, None, f"unknown control label {control!r}; arms: "
                                + ", ".join(map(repr, s.index)), len(s))
    bad = s.index[(s < 0) | (s > t) | (t <= 0)]
    if len(bad):
        raise DataContractError(table, None, "successes must lie in [0, total] and totals "
                                "must be positive", len(bad), list(bad))
    counts = pd.DataFrame({"x": s, "n": t})
    treatments = [a for a in counts.index if a != control]
    notes = warn_small(dict(counts.n.astype(int)), table,
                       "Fisher's exact test is used for those comparisons")
    rows, used = _summary_rows(counts, control, treatments, alpha, test, alternative, metric)
    chi2, dof, p = _omnibus(counts)
    if test == "auto" and "Fisher's exact test" in used:
        notes.append("Fisher's exact test chosen automatically (an expected cell count < 5 or "
                     f"an arm with fewer than {SMALL_N} customers)")
    for r in rows:
        if np.isnan(r["rel_lift"]):
            notes.append(f"relative lift of {r['arm']!r} undefined: control has no conversions")
    return ABResult(frame(rows), metric, "; ".join(sorted(used)) + "; Newcombe hybrid score CI "
                    "for the difference; delta-method (log ratio) CI for the relative lift",
                    alpha, notes,
                    extra={"omnibus_chi2": chi2, "omnibus_df": dof, "omnibus_p_value": p,
                           "counts": counts.assign(rate=counts.x / counts.n)})


def proportions(df, arm: str, outcome: str, control, *, alpha: float = 0.05,
                test: str = "auto", alternative: str = "two-sided", arms=None,
                metric: str | None = None, table: str = "experiment") -> ABResult:
    """Conversion rate of each treatment arm against control.

    Parameters
    ----------
    df : DataFrame or Ibis table
        One row per customer.
    arm : str
        Column with the arm label.
    outcome : str
        0/1 (or boolean) outcome column. Rows with a missing outcome are excluded and counted.
    control : label of the control (holdout) arm.
    alpha : float
        ``1 - alpha`` two-sided intervals.
    test : {"auto", "z", "fisher"}
        ``"auto"`` uses Fisher's exact test when an expected cell count is below 5 or an arm has
        fewer than 30 customers, the pooled z-test otherwise.
    alternative : {"two-sided", "greater", "less"}
        Alternative hypothesis of the test (intervals are always two-sided).
    arms : list, optional
        The arms that must be present (an arm listed here with no customers is an error).
    metric : str, optional
        Name used in the output (default: the outcome column).
    table : str
        Name of the table in error messages.

    Returns
    -------
    ABResult
        ``to_frame()`` has one row per treatment arm; ``omnibus_p_value`` is the k x 2
        chi-square test of equal rates across all arms.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arm": ["c"] * 1000 + ["t"] * 1000,
    ...                    "buy": [1] * 100 + [0] * 900 + [1] * 130 + [0] * 870})
    >>> r = proportions(df, "arm", "buy", control="c")
    >>> round(r.abs_lift, 3), r.p_value < 0.05
    (0.03, True)
    """
    prep = prepare(df, arm, [outcome], control, arms=arms, table=table)
    d = prep.data
    y = d[outcome]
    if pd.api.types.is_bool_dtype(y):
        y = y.astype(int)
    bad = ~y.isin([0, 1])
    if bad.any():
        raise DataContractError(table, outcome, "conversion outcome must be 0/1 (or boolean)",
                                int(bad.sum()), y[bad].unique().tolist())
    g = y.groupby(d["_arm"], observed=True)
    counts = pd.DataFrame({"x": g.sum().astype(float), "n": g.size().astype(float)})
    counts = counts.loc[[prep.control] + prep.treatments]
    res = proportions_from_counts(counts.x, counts.n, prep.control, alpha=alpha, test=test,
                                  alternative=alternative, metric=metric or outcome, table=table)
    res.notes = prep.notes + res.notes
    res.excluded = prep.excluded
    return res
