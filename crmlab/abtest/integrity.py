"""Experiment integrity: sample-ratio mismatch (SRM) and pre-period balance.

- :func:`srm` — Pearson chi-square goodness-of-fit of the arm counts against the planned split;
  flagged when ``p < 0.001`` (the usual SRM threshold: at that level a flag almost always means
  a broken assignment or logging, not chance).
- :func:`balance` — standardised mean differences (SMD) of pre-period covariates between each
  treatment arm and control; ``|SMD| > 0.1`` is flagged (Austin 2009).
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.abtest._results import ABResult, prepare
from crmlab.data.errors import DataContractError

__all__ = ["srm", "srm_from_data", "balance", "SRMResult", "SRM_THRESHOLD", "SMD_THRESHOLD"]

SRM_THRESHOLD = 0.001
SMD_THRESHOLD = 0.1


class SRMResult:
    """Sample-ratio mismatch test.

    Attributes: ``chi2``, ``df``, ``p_value``, ``flagged`` (p < 0.001), ``counts`` (observed),
    ``expected`` (counts under the planned split), ``shares`` (planned, normalised).
    """

    def __init__(self, counts: pd.Series, shares: pd.Series, threshold: float):
        self.counts = counts.astype(float)
        self.shares = shares
        self.threshold = threshold
        c = self.counts.to_numpy()
        e = shares.to_numpy(dtype=float) * c.sum()
        self.expected = pd.Series(e, index=counts.index)
        self.chi2 = float(((c - e) ** 2 / e).sum())
        self.df = len(counts) - 1
        self.p_value = float(stats.chi2.sf(self.chi2, self.df))
        self.flagged = bool(self.p_value < threshold)

    def to_frame(self) -> pd.DataFrame:
        """One row per arm: observed and expected counts and shares, and the test."""
        total = self.counts.sum()
        return pd.DataFrame({
            "arm": self.counts.index, "n": self.counts.to_numpy().astype(int),
            "expected_n": self.expected.to_numpy(), "share": (self.counts / total).to_numpy(),
            "planned_share": self.shares.to_numpy(), "chi2": self.chi2, "df": self.df,
            "p_value": self.p_value, "flagged": self.flagged,
            "method": "chi-square goodness of fit vs planned split",
        })

    @property
    def reading(self) -> str:
        """One plain-language sentence."""
        obs = ", ".join(f"{a}: {100 * s:.2f}% (planned {100 * q:.2f}%)" for a, s, q in zip(
            self.counts.index, self.counts / self.counts.sum(), self.shares))
        if self.flagged:
            return (f"Sample-ratio mismatch (chi-square {self.chi2:.2f}, df {self.df}, "
                    f"p = {self.p_value:.2g} < {self.threshold:g}): the arms do not match the "
                    f"planned split ({obs}); check assignment and logging before reading any lift.")
        return (f"No sample-ratio mismatch (chi-square {self.chi2:.2f}, df {self.df}, "
                f"p = {self.p_value:.3f}): {obs}.")

    def __repr__(self) -> str:
        return f"<SRMResult: {self.reading}>"

    def _repr_html_(self) -> str:
        return (f"<div><p>{html.escape(self.reading)}</p>"
                + self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.6g}")
                + "</div>")


def srm(counts, expected_shares=None, threshold: float = SRM_THRESHOLD) -> SRMResult:
    """Sample-ratio mismatch: are the arm sizes consistent with the planned split?

    Parameters
    ----------
    counts : mapping arm -> customers (dict / Series), or a sequence of counts
    expected_shares : mapping arm -> planned share, or a sequence in the order of ``counts``;
        normalised to sum to 1. ``None`` means equal shares.
    threshold : float
        Flag when ``p_value < threshold`` (default 0.001).

    Examples
    --------
    >>> r = srm({"control": 900, "treatment": 9300}, {"control": 0.1, "treatment": 0.9})
    >>> r.flagged, round(r.p_value, 5)
    (True, 7e-05)
    >>> round(srm([20, 15, 25]).p_value, 4)     # chi-square 2.5 on 2 df
    0.2865
    """
    c = pd.Series(counts) if not isinstance(counts, pd.Series) else counts.copy()
    if len(c) < 2:
        raise ValueError("srm needs the counts of at least two arms")
    if (c < 0).any() or c.isna().any():
        raise DataContractError("counts", None, "arm counts must be non-negative numbers",
                                int(((c < 0) | c.isna()).sum()))
    if c.sum() == 0:
        raise DataContractError("counts", None, "no customers in any arm", 0)
    if expected_shares is None:
        s = pd.Series(1.0, index=c.index)
    elif isinstance(expected_shares, dict) or isinstance(expected_shares, pd.Series):
        s = pd.Series(expected_shares, dtype=float)
        missing = [a for a in c.index if a not in s.index]
        extra = [a for a in s.index if a not in c.index]
        if missing or extra:
            raise ValueError("expected_shares and counts must name the same arms; "
                             f"missing shares: {missing}, shares for unknown arms: {extra}")
        s = s.loc[c.index]
    else:
        s = pd.Series(np.asarray(expected_shares, dtype=float), index=c.index)
    if (s <= 0).any():
        raise ValueError("expected shares must be positive")
    return SRMResult(c, s / s.sum(), threshold)


def srm_from_data(df, arm: str, expected_shares=None, threshold: float = SRM_THRESHOLD,
                  table: str = "experiment") -> SRMResult:
    """:func:`srm` on the arm counts of a per-customer table (pandas or Ibis)."""
    from crmlab._engine import is_ibis

    if is_ibis(df):
        counts = df.group_by(arm).aggregate(n=df.count()).to_pandas().set_index(arm)["n"]
    else:
        if arm not in df:
            raise DataContractError(table, arm, "column not found", len(df))
        counts = df[arm].value_counts(dropna=True)
    if expected_shares is not None and isinstance(expected_shares, dict):
        counts = counts.reindex(list(expected_shares), fill_value=0)
    return srm(counts.sort_index() if expected_shares is None else counts, expected_shares,
               threshold)


def balance(df, arm: str, covariates, control, *, threshold: float = SMD_THRESHOLD,
            table: str = "experiment") -> ABResult:
    """Standardised mean differences of pre-period covariates, each arm vs control.

    Numeric covariates: ``(mean_t - mean_c) / sqrt((var_t + var_c) / 2)``; categorical ones are
    expanded to one 0/1 indicator per level. Rows with missing covariates are excluded per
    covariate and counted.

    Returns an :class:`ABResult` whose frame has one row per covariate (level) x arm:
    ``value`` and ``control_value`` are the means, ``abs_lift`` the raw difference and ``smd``
    the standardised difference, ``imbalanced`` when ``|smd| > threshold``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arm": ["c", "t"] * 50, "age": range(100)})
    >>> round(float(balance(df, "arm", ["age"], "c").to_frame().smd.iloc[0]), 3)
    0.034
    """
    covariates = list(covariates)
    prep = prepare(df, arm, [], control, table=table, extra=covariates,
                   drop_missing_extra=False)
    d = prep.data
    rows = []
    for cov in covariates:
        col = d[cov]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            parts = {cov: col.astype(float)}
        else:
            parts = {f"{cov}={lvl}": (col == lvl).astype(float).where(col.notna())
                     for lvl in sorted(col.dropna().unique(), key=str)}
        n_missing = int(col.isna().sum())
        if n_missing:
            prep.notes.append(f"{cov}: {n_missing:,} rows with a missing value left out of its "
                              "balance check")
            prep.excluded = pd.concat([prep.excluded, pd.DataFrame(
                [{"reason": f"missing {cov} (balance of {cov} only)", "arm": None,
                  "rows": n_missing}])], ignore_index=True)
        for name, x in parts.items():
            ok = x.notna()
            xc = x[ok & (d["_arm"] == control)]
            for a in prep.treatments:
                xt = x[ok & (d["_arm"] == a)]
                pooled = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
                diff = xt.mean() - xc.mean()
                smd = diff / pooled if pooled > 0 else 0.0
                rows.append({"metric": name, "arm": a, "n": len(xt), "value": xt.mean(),
                             "control_value": xc.mean(), "abs_lift": diff,
                             "rel_lift": diff / xc.mean() if xc.mean() != 0 else np.nan,
                             "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
                             "method": "standardised mean difference", "smd": smd,
                             "imbalanced": bool(abs(smd) > threshold)})
    t = pd.DataFrame(rows)
    bad = t[t.imbalanced]
    if len(bad):
        text = (f"{len(bad)} of {len(t)} covariate comparisons exceed |SMD| {threshold:g}: "
                + ", ".join(f"{r.metric} ({r.arm}: {r.smd:+.3f})" for r in bad.itertuples())
                + "; adjust for them (CUPED / regression) or check the randomisation.")
    else:
        text = (f"Pre-period covariates are balanced: every |SMD| is at most "
                f"{t.smd.abs().max():.3f} (threshold {threshold:g}).")
    return ABResult(t, "balance", "standardised mean differences", 0.05, list(prep.notes),
                    prep.excluded, reading_override=text, kind="balance")
