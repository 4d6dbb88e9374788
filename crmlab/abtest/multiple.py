"""Several arms, metrics and segments: multiplicity corrections and heterogeneity.

- :func:`adjust_pvalues` — Holm (1979) step-down (family-wise error) and Benjamini-Hochberg
  (1995) step-up (false discovery rate) adjusted p-values, plus Bonferroni;
- :func:`correct` — add ``p_adjusted`` / ``significant`` columns to any result (or several);
- :func:`by_segment` — the lift of each arm within each segment, corrected across all
  segment x arm comparisons, and an interaction test: Cochran's Q of the per-segment lifts
  (additive scale), i.e. "does the lift differ between segments?".
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.abtest._results import ABResult, prepare

__all__ = ["adjust_pvalues", "correct", "by_segment"]

_METHODS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "fdr_bh": "Benjamini-Hochberg",
            "bonferroni": "Bonferroni"}


def adjust_pvalues(p_values, method: str = "holm") -> np.ndarray:
    """Adjusted p-values (same order as the input; NaN stays NaN).

    Parameters
    ----------
    method : {"holm", "bh", "bonferroni"}

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, 0.03], "bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
    order = np.argsort(q, kind="mergesort")
    s = q[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * s)
    elif method in ("bh", "fdr_bh"):
        adj = np.minimum.accumulate((m / np.arange(m, 0, -1)) * s[::-1])[::-1]
    else:
        adj = m * s
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def correct(results, method: str = "holm", alpha: float | None = None) -> ABResult:
    """Correct the p-values of one or several results jointly.

    Parameters
    ----------
    results : ABResult or list of ABResult
        Every row of every result is one comparison of the family.
    method : {"holm", "bh", "bonferroni"}
    alpha : float, optional
        Level for the ``significant`` column (default: the first result's alpha).

    Returns
    -------
    ABResult with all rows, plus ``p_adjusted``, ``correction`` and ``significant``.
    """
    results = [results] if isinstance(results, ABResult) else list(results)
    alpha = results[0].alpha if alpha is None else alpha
    t = pd.concat([r.to_frame() for r in results], ignore_index=True)
    t["p_adjusted"] = adjust_pvalues(t["p_value"], method)
    t["correction"] = f"{_METHODS[method]} over {int(t.p_value.notna().sum())} comparisons"
    t["significant"] = t["p_adjusted"] < alpha
    notes = [n for r in results for n in r.notes]
    metric = ", ".join(dict.fromkeys(r.metric for r in results))
    return ABResult(t, metric, "; ".join(dict.fromkeys(r.method for r in results))
                    + f"; {_METHODS[method]} correction", alpha, notes,
                    pd.concat([r.excluded for r in results if len(r.excluded)] or
                              [results[0].excluded], ignore_index=True))


def _cochran_q(lift: np.ndarray, se: np.ndarray):
    ok = np.isfinite(lift) & np.isfinite(se) & (se > 0)
    lift, se = lift[ok], se[ok]
    k = len(lift)
    if k < 2:
        return np.nan, 0, np.nan
    w = 1 / se ** 2
    pooled = (w * lift).sum() / w.sum()
    q = float((w * (lift - pooled) ** 2).sum())
    return q, k - 1, float(stats.chi2.sf(q, k - 1))


def by_segment(df, arm: str, outcome: str, control, segment: str, *, kind: str = "auto",
               correction: str = "holm", alpha: float = 0.05, min_customers: int = 30,
               table: str = "experiment") -> ABResult:
    """Lift of each treatment arm within each segment, with a multiplicity correction and a
    test of heterogeneity (treatment x segment interaction).

    Parameters
    ----------
    segment : str
        Column defining the segments (e.g. ``history_segment``, ``newbie``, ``channel``).
        Rows with a missing segment are excluded and counted.
    kind : {"auto", "proportion", "mean"}
        ``"auto"`` treats 0/1 outcomes as proportions, anything else as means.
    correction : {"holm", "bh", "bonferroni"}
        Applied across every segment x arm comparison.
    min_customers : int
        Segments where an arm has fewer customers are reported with NaN statistics (counted in
        the notes) rather than tested.

    Returns
    -------
    ABResult
        Rows per segment x arm with ``p_adjusted``; attribute ``interaction`` is a frame with,
        per treatment arm, Cochran's Q, its df and p-value (large Q: the lift differs between
        segments), computed on the absolute lifts with inverse-variance weights.

    Examples
    --------
    >>> from crmlab.datasets import load_hillstrom
    >>> h = load_hillstrom()
    >>> r = by_segment(h, "segment", "visit", "No E-Mail", "newbie")
    >>> sorted(r.to_frame().segment.unique().tolist())
    [0, 1]
    """
    from crmlab.abtest.means import means
    from crmlab.abtest.proportions import proportions

    prep = prepare(df, arm, [outcome], control, table=table, extra=[segment])
    d = prep.data
    na = d[segment].isna()
    notes = list(prep.notes)
    excluded = prep.excluded
    if na.any():
        notes.append(f"{int(na.sum()):,} rows with a missing {segment} excluded")
        excluded = pd.concat([excluded, pd.DataFrame(
            [{"reason": f"missing {segment}", "arm": None, "rows": int(na.sum())}])],
            ignore_index=True)
        d = d.loc[~na]
    if kind == "auto":
        kind = "proportion" if d[outcome].isin([0, 1]).all() else "mean"
    frames, skipped = [], []
    for seg, g in d.groupby(segment, observed=True, sort=True):
        sizes = g["_arm"].value_counts()
        arms_here = [a for a in [control] + prep.treatments if sizes.get(a, 0) >= min_customers]
        if control not in arms_here or len(arms_here) < 2:
            skipped.append(seg)
            continue
        sub = g[g["_arm"].isin(arms_here)].rename(columns={"_arm": arm})
        if kind == "proportion":
            r = proportions(sub, arm, outcome, control, alpha=alpha, table=table)
        else:
            r = means(sub, arm, outcome, control, alpha=alpha, table=table)
        f = r.to_frame()
        if "se" not in f:
            f["se"] = np.sqrt(f.value * (1 - f.value) / f.n
                              + f.control_value * (1 - f.control_value) / f.control_n)
        f.insert(2, "segment", seg)
        frames.append(f)
    if skipped:
        notes.append(f"segments not tested (an arm has fewer than {min_customers} customers): "
                     + ", ".join(map(str, skipped)))
    t = pd.concat(frames, ignore_index=True)
    t["p_adjusted"] = adjust_pvalues(t["p_value"], correction)
    t["correction"] = f"{_METHODS[correction]} over {len(t)} segment x arm comparisons"
    inter = []
    for a in prep.treatments:
        s = t[t.arm == a]
        q, dof, p = _cochran_q(s.abs_lift.to_numpy(float), s.se.to_numpy(float))
        inter.append({"arm": a, "segments": len(s), "q": q, "df": dof, "p_value": p,
                      "method": "Cochran's Q of per-segment absolute lifts (interaction test)"})
    inter = pd.DataFrame(inter)
    sig = t[t.p_adjusted < alpha]
    het = inter[inter.p_value < alpha]
    text = (f"By {segment}: {len(sig)} of {len(t)} segment x arm lifts significant after "
            f"{_METHODS[correction]} correction; "
            + ("the lift differs between segments for " + ", ".join(
                f"{r.arm} (Q = {r.q:.1f}, df {r.df}, p = {r.p_value:.3g})"
                for r in het.itertuples()) if len(het) else
               "no evidence that the lift differs between segments (interaction p >= "
               f"{alpha:g})") + ".")
    return ABResult(t, f"{outcome} by {segment}", t.method.iloc[0] + f"; {_METHODS[correction]}"
                    " correction; Cochran's Q interaction test", alpha, notes, excluded,
                    extra={"interaction": inter, "segment": segment},
                    reading_override=text, kind="segments")
