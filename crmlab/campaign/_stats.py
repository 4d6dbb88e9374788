"""The statistics the campaign evaluation calls, behind one small interface.

Each function delegates to :mod:`crmlab.abtest` / :mod:`crmlab.churn` (the project's tested
implementations) and returns plain rows the evaluation assembles. Where a family is not
available in the installed crmlab, the same method is computed with the reference libraries
(statsmodels, scipy, lifelines) and the ``method`` text says so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

ROW = ["metric", "arm", "n", "control_n", "value", "control_value", "abs_lift", "rel_lift",
       "ci_low", "ci_high", "p_value", "method"]


def _rel(v, c):
    return float(v / c - 1) if c not in (0, 0.0) and np.isfinite(c) else np.nan


# --------------------------------------------------------------------------- proportions
def proportion_rows(df: pd.DataFrame, outcome: str, control: str, treatments: list[str],
                    alpha: float, metric: str | None = None) -> list[dict]:
    """Difference in proportions, each treatment vs control (Newcombe CI, z / Fisher test)."""
    metric = metric or outcome
    d = df[["arm", outcome]].dropna()
    rows = []
    try:
        from crmlab.abtest import proportions
    except ImportError:  # pragma: no cover - exercised only without crmlab.abtest
        proportions = None
    for arm in treatments:
        sub = d[d["arm"].isin([control, arm])]
        nt, nc = int((sub["arm"] == arm).sum()), int((sub["arm"] == control).sum())
        xt = float(sub.loc[sub["arm"] == arm, outcome].sum())
        xc = float(sub.loc[sub["arm"] == control, outcome].sum())
        if nt == 0 or nc == 0:
            continue
        if proportions is not None:
            r = proportions(sub.assign(**{outcome: sub[outcome].astype(int)}), "arm", outcome,
                            control=control, alpha=alpha, metric=metric).to_frame().iloc[0]
            rows.append(dict(metric=metric, arm=arm, n=nt, control_n=nc, value=r["value"],
                             control_value=r["control_value"], abs_lift=r["abs_lift"],
                             rel_lift=r["rel_lift"], ci_low=r["ci_low"], ci_high=r["ci_high"],
                             p_value=r["p_value"], method=r["method"]))
            continue
        from statsmodels.stats.proportion import (confint_proportions_2indep,
                                                  proportions_ztest)
        lo, hi = confint_proportions_2indep(xt, nt, xc, nc, method="newcomb", compare="diff",
                                           alpha=alpha)
        if xt + xc in (0, nt + nc):
            p = 1.0
        else:
            p = float(proportions_ztest([xt, xc], [nt, nc])[1])
        pt, pc = xt / nt, xc / nc
        rows.append(dict(metric=metric, arm=arm, n=nt, control_n=nc, value=pt, control_value=pc,
                         abs_lift=pt - pc, rel_lift=_rel(pt, pc), ci_low=float(lo),
                         ci_high=float(hi), p_value=p,
                         method="pooled z-test; Newcombe CI (statsmodels)"))
    return rows


# --------------------------------------------------------------------------- means
def _welch(yt, yc, alpha):
    mt, mc = yt.mean(), yc.mean()
    vt, vc = yt.var(ddof=1) / len(yt), yc.var(ddof=1) / len(yc)
    se = np.sqrt(vt + vc)
    diff = mt - mc
    if se == 0:
        return diff, diff, diff, (1.0 if diff == 0 else 0.0)
    dof = (vt + vc) ** 2 / (vt ** 2 / (len(yt) - 1) + vc ** 2 / (len(yc) - 1))
    q = stats.t.ppf(1 - alpha / 2, dof)
    p = 2 * stats.t.sf(abs(diff) / se, dof)
    return diff, diff - q * se, diff + q * se, float(p)


def mean_rows(df: pd.DataFrame, outcome: str, control: str, treatments: list[str],
              alpha: float, covariate: str | None = None, metric: str | None = None) -> list[dict]:
    """Difference in means (Welch), with CUPED on ``covariate`` when given.

    CUPED: ``y - theta * (x - mean(x))`` with ``theta = cov(x, y) / var(x)`` estimated on the
    pooled pair of arms; the adjusted difference estimates the same lift with less variance.
    """
    metric = metric or outcome
    cols = ["arm", outcome] + ([covariate] if covariate else [])
    d = df[cols].dropna()
    try:
        from crmlab.abtest import cuped, means
    except ImportError:  # pragma: no cover - exercised only without crmlab.abtest
        cuped = means = None
    if means is not None:
        rows = []
        for arm in treatments:
            sub = d[d["arm"].isin([control, arm])]
            if (sub["arm"] == arm).sum() < 2 or (sub["arm"] == control).sum() < 2:
                continue
            use_cuped = covariate is not None and sub[covariate].var() > 0
            r = (cuped(sub, "arm", outcome, covariate, control, alpha=alpha, metric=metric)
                 if use_cuped else means(sub, "arm", outcome, control, alpha=alpha,
                                         metric=metric))
            f = r.to_frame().iloc[0]
            rows.append(dict(metric=metric, arm=arm, n=int(f["n"]),
                             control_n=int((sub["arm"] == control).sum()), value=f["value"],
                             control_value=f["control_value"], abs_lift=f["abs_lift"],
                             rel_lift=f["rel_lift"], ci_low=f["ci_low"], ci_high=f["ci_high"],
                             p_value=f["p_value"], method=f["method"] if "method" in f
                             else r.method,
                             variance_reduction=f.get("variance_reduction", np.nan)))
        return rows
    rows = []
    for arm in treatments:
        sub = d[d["arm"].isin([control, arm])]
        t = sub["arm"] == arm
        if t.sum() < 2 or (~t).sum() < 2:
            continue
        y = sub[outcome].to_numpy(float)
        method = "Welch t-test"
        reduction = np.nan
        if covariate:
            x = sub[covariate].to_numpy(float)
            vx = x.var(ddof=1)
            if vx > 0:
                theta = np.cov(x, y, ddof=1)[0, 1] / vx
                y_adj = y - theta * (x - x.mean())
                v_raw = y[t.to_numpy()].var(ddof=1) + y[~t.to_numpy()].var(ddof=1)
                v_adj = y_adj[t.to_numpy()].var(ddof=1) + y_adj[~t.to_numpy()].var(ddof=1)
                reduction = 1 - v_adj / v_raw if v_raw > 0 else np.nan
                y = y_adj
                method = f"CUPED on {covariate} (variance reduction {reduction:.1%}); Welch t-test"
        mt = sub.loc[t, outcome].mean()
        mc = sub.loc[~t, outcome].mean()
        diff, lo, hi, p = _welch(y[t.to_numpy()], y[~t.to_numpy()], alpha)
        rows.append(dict(metric=metric, arm=arm, n=int(t.sum()), control_n=int((~t).sum()),
                         value=float(mt), control_value=float(mc), abs_lift=float(diff),
                         rel_lift=_rel(mt, mc), ci_low=float(lo), ci_high=float(hi),
                         p_value=float(p), method=method, variance_reduction=reduction))
    return rows


def ratio_rows(df: pd.DataFrame, num: str, den: str, control: str, treatments: list[str],
               alpha: float, metric: str) -> list[dict]:
    """Ratio of per-customer sums (e.g. AOV = revenue / orders) by the delta method."""
    try:
        from crmlab.abtest import ratio as ab_ratio
    except ImportError:  # pragma: no cover - exercised only without crmlab.abtest
        ab_ratio = None
    if ab_ratio is not None:
        f = ab_ratio(df[["arm", num, den]], "arm", num, den, control, alpha=alpha,
                     metric=metric).to_frame()
        f = f[f["arm"].isin(treatments)]
        return [dict(metric=metric, arm=r["arm"], n=int(r["n"]),
                     control_n=int((df["arm"] == control).sum()), value=r["value"],
                     control_value=r["control_value"], abs_lift=r["abs_lift"],
                     rel_lift=r["rel_lift"], ci_low=r["ci_low"], ci_high=r["ci_high"],
                     p_value=r["p_value"], method=r["method"]) for _, r in f.iterrows()]
    rows = []
    z = stats.norm.ppf(1 - alpha / 2)

    def ratio(sub):
        x, y = sub[num].to_numpy(float), sub[den].to_numpy(float)
        n = len(x)
        my = y.mean()
        r = x.sum() / y.sum() if y.sum() > 0 else np.nan
        if n < 2 or my == 0:
            return r, np.nan
        cxy = np.cov(x, y, ddof=1)
        var = (cxy[0, 0] - 2 * r * cxy[0, 1] + r * r * cxy[1, 1]) / (n * my * my)
        return r, var

    rc, vc = ratio(df[df["arm"] == control])
    for arm in treatments:
        sub = df[df["arm"] == arm]
        rt, vt = ratio(sub)
        diff = rt - rc
        se = np.sqrt(vt + vc)
        lo, hi = diff - z * se, diff + z * se
        p = 2 * stats.norm.sf(abs(diff) / se) if se > 0 else np.nan
        rows.append(dict(metric=metric, arm=arm, n=int(len(sub)),
                         control_n=int((df["arm"] == control).sum()), value=rt, control_value=rc,
                         abs_lift=diff, rel_lift=_rel(rt, rc), ci_low=lo, ci_high=hi,
                         p_value=float(p), method="ratio of sums; delta method"))
    return rows


def bootstrap_mean_diff(yt: np.ndarray, yc: np.ndarray, alpha: float, n_boot: int = 2000,
                        seed: int = 0, chunk: int = 50) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(yt) - mean(yc)`` (arms resampled separately).

    Vectorised in chunks of resamples; seeded, so the same inputs give the same interval.
    """
    try:
        from crmlab.abtest.means import bootstrap_diff_interval
    except ImportError:  # pragma: no cover - exercised only without crmlab.abtest
        bootstrap_diff_interval = None
    if bootstrap_diff_interval is not None:
        lo, hi, _ = bootstrap_diff_interval(np.asarray(yt, float), np.asarray(yc, float),
                                            n_boot=n_boot, alpha=alpha, method="percentile",
                                            seed=seed)
        return float(lo), float(hi)
    rng = np.random.default_rng(seed)
    yt, yc = np.asarray(yt, float), np.asarray(yc, float)
    out = np.empty(n_boot)
    for s in range(0, n_boot, chunk):
        k = min(chunk, n_boot - s)
        mt = yt[rng.integers(0, len(yt), size=(k, len(yt)))].mean(axis=1)
        mc = yc[rng.integers(0, len(yc), size=(k, len(yc)))].mean(axis=1)
        out[s:s + k] = mt - mc
    lo, hi = np.quantile(out, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# --------------------------------------------------------------------------- integrity
def srm_p_value(counts: dict, shares: dict) -> float:
    """Chi-square goodness of fit of the arm counts to the planned shares."""
    try:
        from crmlab.abtest import srm
    except ImportError:  # pragma: no cover - exercised only without crmlab.abtest
        srm = None
    if srm is not None and len(counts) >= 2:
        return float(srm(dict(counts), dict(shares)).p_value)
    arms = list(counts)
    obs = np.array([counts[a] for a in arms], float)
    exp = np.array([shares[a] for a in arms], float)
    exp = exp / exp.sum() * obs.sum()
    if len(arms) < 2:
        return 1.0
    return float(stats.chisquare(obs, exp).pvalue)


def smd(xt: np.ndarray, xc: np.ndarray) -> float:
    """Standardised mean difference (pooled SD of the two arms)."""
    xt, xc = np.asarray(xt, float), np.asarray(xc, float)
    xt, xc = xt[~np.isnan(xt)], xc[~np.isnan(xc)]
    if len(xt) < 2 or len(xc) < 2:
        return np.nan
    sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
    return 0.0 if sd == 0 else float((xt.mean() - xc.mean()) / sd)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values."""
    return _adjust(p, "holm")


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate)."""
    return _adjust(p, "bh")


def _adjust(p, method: str) -> np.ndarray:
    p = np.asarray(p, float)
    try:
        from crmlab.abtest import adjust_pvalues
        return np.asarray(adjust_pvalues(p, method=method), float)
    except ImportError:  # pragma: no cover - exercised only without crmlab.abtest
        from statsmodels.stats.multitest import multipletests
        out = np.full_like(p, np.nan)
        ok = ~np.isnan(p)
        if ok.any():
            out[ok] = multipletests(p[ok], method={"bh": "fdr_bh"}.get(method, method))[1]
        return out


# --------------------------------------------------------------------------- survival
def km_by_arm(st: pd.DataFrame, horizon: float, alpha: float) -> pd.DataFrame:
    """Kaplan-Meier retention (not churned) by arm on a daily grid to the horizon."""
    grid = np.arange(0, int(np.floor(horizon)) + 1, dtype=float)
    try:
        from crmlab.churn import kaplan_meier
    except ImportError:  # pragma: no cover - exercised only without crmlab.churn
        kaplan_meier = None
    if kaplan_meier is not None:
        curves = kaplan_meier(st, group="arm", alpha=alpha).curves
        frames = []
        for arm, c in curves.groupby("group", sort=True):
            c = c.sort_values("time")
            idx = np.searchsorted(c["time"].to_numpy(float), grid, side="right") - 1
            pick = lambda col: np.where(idx >= 0, c[col].to_numpy(float)[np.clip(idx, 0, None)],
                                        1.0)  # noqa: E731
            frames.append(pd.DataFrame({"arm": arm, "day": grid, "retention": pick("survival"),
                                        "ci_low": pick("ci_low"), "ci_high": pick("ci_high")}))
        return pd.concat(frames, ignore_index=True)
    from lifelines import KaplanMeierFitter

    frames = []
    for arm, g in st.groupby("arm", sort=True):
        km = KaplanMeierFitter(alpha=alpha).fit(g["duration"], g["churned"])
        s = km.survival_function_at_times(grid).to_numpy()
        ci = km.confidence_interval_survival_function_
        # step function: take the CI at the last event time <= t
        idx = np.searchsorted(ci.index.to_numpy(float), grid, side="right") - 1
        lo = np.where(idx >= 0, ci.iloc[:, 0].to_numpy()[np.clip(idx, 0, None)], 1.0)
        hi = np.where(idx >= 0, ci.iloc[:, 1].to_numpy()[np.clip(idx, 0, None)], 1.0)
        frames.append(pd.DataFrame({"arm": arm, "day": grid, "retention": s, "ci_low": lo,
                                    "ci_high": hi}))
    return pd.concat(frames, ignore_index=True)


def survival_comparison(st: pd.DataFrame, control: str, arm: str, horizon: float,
                        alpha: float) -> dict:
    """Log-rank p-value, Cox hazard ratio (arm vs control) with CI, RMST difference with CI."""
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test
    from lifelines.utils import restricted_mean_survival_time

    sub = st[st["arm"].isin([control, arm])]
    t = sub["arm"] == arm
    out = {}
    try:
        from crmlab.abtest import survival as ab_survival
    except ImportError:  # pragma: no cover - exercised only without crmlab.abtest
        ab_survival = None
    if ab_survival is not None:
        tau = min(horizon, float(sub.groupby("arm")["duration"].max().min()))
        f = ab_survival(sub[["arm", "duration", "churned"]], "arm", "duration", "churned",
                        control, tau=tau, alpha=alpha).to_frame().iloc[0]
        return dict(logrank_p=float(f["p_value"]), hazard_ratio=float(f["hazard_ratio"]),
                    hr_ci_low=float(f["hr_ci_low"]), hr_ci_high=float(f["hr_ci_high"]),
                    hr_p=float(f["hr_p_value"]), rmst_tau=tau,
                    rmst_treatment=float(f["value"]), rmst_control=float(f["control_value"]),
                    rmst_diff_days=float(f["abs_lift"]), rmst_ci_low=float(f["ci_low"]),
                    rmst_ci_high=float(f["ci_high"]))
    try:
        from crmlab.churn import logrank, rmst
    except ImportError:  # pragma: no cover - exercised only without crmlab.churn
        logrank = rmst = None
    if logrank is not None:
        out["logrank_p"] = float(logrank(sub, "arm").p_value)
    else:
        lr = logrank_test(sub.loc[t, "duration"], sub.loc[~t, "duration"],
                          sub.loc[t, "churned"], sub.loc[~t, "churned"])
        out["logrank_p"] = float(lr.p_value)
    if sub["churned"].sum() == 0:
        out.update(hazard_ratio=np.nan, hr_ci_low=np.nan, hr_ci_high=np.nan, hr_p=np.nan)
    else:
        cph = CoxPHFitter(alpha=alpha).fit(
            pd.DataFrame({"duration": sub["duration"], "churned": sub["churned"],
                          "treated": t.astype(float)}), "duration", "churned")
        s = cph.summary.loc["treated"]
        zq = stats.norm.ppf(1 - alpha / 2)
        coef, se_c = float(s["coef"]), float(s["se(coef)"])
        out.update(hazard_ratio=float(np.exp(coef)), hr_ci_low=float(np.exp(coef - zq * se_c)),
                   hr_ci_high=float(np.exp(coef + zq * se_c)), hr_p=float(s["p"]))
    if rmst is not None:
        tau = min(horizon, float(sub.groupby("arm")["duration"].max().min()))
        r = rmst(sub, "arm", tau=tau, reference=control, alpha=alpha)
        pg = r.per_group.set_index("group")
        dr = r.differences.iloc[0]
        out.update(rmst_tau=tau, rmst_treatment=float(pg.loc[arm, "rmst"]),
                   rmst_control=float(pg.loc[control, "rmst"]),
                   rmst_diff_days=float(dr["abs_lift"]), rmst_ci_low=float(dr["ci_low"]),
                   rmst_ci_high=float(dr["ci_high"]))
        return out
    # RMST to the horizon per arm, variance by the KM (Greenwood-type) formula in lifelines
    rm = {}
    for label, g in (("t", sub[t]), ("c", sub[~t])):
        km = KaplanMeierFitter().fit(g["duration"], g["churned"])
        mean, var = restricted_mean_survival_time(km, t=horizon, return_variance=True)
        rm[label] = (float(mean), float(var))
    diff = rm["t"][0] - rm["c"][0]
    se = np.sqrt(rm["t"][1] + rm["c"][1])
    z = stats.norm.ppf(1 - alpha / 2)
    out.update(rmst_treatment=rm["t"][0], rmst_control=rm["c"][0], rmst_diff_days=diff,
               rmst_ci_low=diff - z * se, rmst_ci_high=diff + z * se)
    return out
