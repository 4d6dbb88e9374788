"""Survival endpoints between arms (time to churn, time to next purchase).

For each treatment arm against control:

- the log-rank test (``p_value``);
- the Cox proportional-hazards hazard ratio with its Wald interval (``hazard_ratio``,
  ``hr_ci_low``, ``hr_ci_high``; below 1 = the event, e.g. churn, comes more slowly);
- the restricted mean survival time (RMST) up to ``tau`` in each arm from the Kaplan-Meier
  curves, and their difference with a normal interval (``abs_lift`` / ``ci_low`` /
  ``ci_high``: extra event-free days gained by the treatment within ``tau``).

The per-customer table has one row per customer with a duration and an event flag; for churn
it is what :func:`crmlab.churn.survival_table` builds (``duration``, ``churned``). The
computations call lifelines directly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crmlab.abtest._results import ABResult, frame, prepare, warn_small
from crmlab.data.errors import DataContractError

__all__ = ["survival", "km_rmst"]


def km_rmst(duration, event, tau: float):
    """Kaplan-Meier restricted mean survival time to ``tau`` and its variance.

    The variance is the Greenwood-type estimator
    ``sum_j A_j^2 d_j / (Y_j (Y_j - d_j))`` with ``A_j`` the area under the Kaplan-Meier curve
    from the j-th event time to ``tau`` (Klein & Moeschberger 2003, sec. 4.5).

    Examples
    --------
    >>> m, v = km_rmst([1.0, 2, 3, 4], [1, 1, 1, 1], tau=4)
    >>> m
    2.5
    """
    t = np.asarray(duration, dtype=float)
    e = np.asarray(event, dtype=int)
    times = np.unique(t[(e == 1) & (t <= tau)])
    if len(times) == 0:
        return float(tau), 0.0
    order = np.sort(t)
    at_risk = len(t) - np.searchsorted(order, times, side="left")
    ev_times = np.sort(t[e == 1])
    d = np.searchsorted(ev_times, times, side="right") - np.searchsorted(ev_times, times,
                                                                          side="left")
    surv = np.cumprod(1 - d / at_risk)
    edges = np.r_[times, tau]
    pieces = np.r_[times[0], np.diff(edges) * surv]       # [0, t1) at S = 1, then each step
    total = float(pieces.sum())
    area_after = np.cumsum(pieces[::-1])[::-1][1:]        # A_j = integral from t_j to tau
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(at_risk > d, area_after ** 2 * d / (at_risk * (at_risk - d)), 0.0)
    return total, float(terms.sum())


def survival(df, arm: str, duration: str, event: str, control, *, tau: float | None = None,
             alpha: float = 0.05, metric: str | None = None,
             table: str = "experiment") -> ABResult:
    """Log-rank test, hazard ratio and RMST difference of each arm against control.

    Parameters
    ----------
    df : DataFrame or Ibis table
        One row per customer.
    duration : str
        Time from assignment to the event or to censoring (non-negative; e.g. days).
    event : str
        1 if the event (churn) was observed, 0 if censored.
    control : label of the control arm.
    tau : float, optional
        RMST horizon; default the smallest of the arms' largest follow-up times (so that every
        Kaplan-Meier curve is defined up to ``tau``).
    alpha : float

    Returns
    -------
    ABResult
        ``value`` / ``control_value`` are the RMSTs, ``abs_lift`` their difference with its
        CI, ``p_value`` the log-rank p-value; extra columns ``hazard_ratio``, ``hr_ci_low``,
        ``hr_ci_high``, ``hr_p_value``, ``events``, ``control_events``, ``tau``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> t = np.r_[rng.exponential(100, 500), rng.exponential(150, 500)]
    >>> df = pd.DataFrame({"arm": np.repeat(["c", "t"], 500), "days": np.minimum(t, 180),
    ...                    "churned": (t < 180).astype(int)})
    >>> r = survival(df, "arm", "days", "churned", "c")
    >>> bool(r.hazard_ratio < 1)
    True
    """
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    prep = prepare(df, arm, [duration, event], control, table=table)
    d = prep.data
    neg = d[duration] < 0
    if neg.any():
        raise DataContractError(table, duration, "negative durations", int(neg.sum()),
                                d.loc[neg, duration].head().tolist())
    bad = ~d[event].isin([0, 1, True, False])
    if bad.any():
        raise DataContractError(table, event, "event flag must be 0/1", int(bad.sum()),
                                d.loc[bad, event].unique().tolist())
    d = d.assign(**{event: d[event].astype(int), duration: d[duration].astype(float)})
    groups = {a: g for a, g in d.groupby("_arm", observed=True)}
    notes = list(prep.notes)
    notes += warn_small({a: len(g) for a, g in groups.items()}, table,
                        "the log-rank and Cox results rely on large-sample approximations")
    if tau is None:
        tau = float(min(g[duration].max() for g in groups.values()))
    z = stats.norm.isf(alpha / 2)

    def rmst(g):
        return km_rmst(g[duration].to_numpy(float), g[event].to_numpy(int), tau)

    gc = groups[control]
    rc, vc = rmst(gc)
    rows = []
    for a in prep.treatments:
        gt = groups[a]
        lr = logrank_test(gt[duration], gc[duration], gt[event], gc[event])
        both = pd.concat([gt, gc])
        x = pd.DataFrame({"T": both[duration].to_numpy(), "E": both[event].to_numpy(),
                          "treated": (both["_arm"] == a).astype(float).to_numpy()})
        if x.E.sum() == 0:
            hr = lo = hi = hp = np.nan
            notes.append(f"{a!r} vs control: no events; hazard ratio undefined")
        else:
            cph = CoxPHFitter().fit(x, "T", "E")
            b, se = float(cph.params_["treated"]), float(cph.standard_errors_["treated"])
            hr, lo, hi = np.exp(b), np.exp(b - z * se), np.exp(b + z * se)
            hp = float(cph.summary.loc["treated", "p"])
        rt, vt = rmst(gt)
        diff, sdiff = rt - rc, float(np.sqrt(vt + vc))
        rows.append({"metric": metric or f"RMST of {duration} (tau={tau:g})", "arm": a,
                     "n": len(gt), "value": rt, "control_value": rc, "abs_lift": diff,
                     "rel_lift": diff / rc if rc else np.nan, "ci_low": diff - z * sdiff,
                     "ci_high": diff + z * sdiff, "p_value": float(lr.p_value),
                     "method": "log-rank test; RMST difference (Kaplan-Meier, normal CI); "
                               "Cox hazard ratio",
                     "hazard_ratio": hr, "hr_ci_low": lo, "hr_ci_high": hi, "hr_p_value": hp,
                     "events": int(gt[event].sum()), "control_events": int(gc[event].sum()),
                     "control_n": len(gc), "tau": tau, "scale": "rmst"})
    t = frame(rows)
    text = "; ".join(
        f"{r.arm}: hazard ratio {r.hazard_ratio:.3f} ({100 * (1 - alpha):.0f}% CI "
        f"{r.hr_ci_low:.3f} to {r.hr_ci_high:.3f}), log-rank p = {r.p_value:.3g}, RMST to "
        f"{tau:g} {r.value:.1f} vs {r.control_value:.1f} ({r.abs_lift:+.1f}, CI "
        f"{r.ci_low:+.1f} to {r.ci_high:+.1f})" for r in t.itertuples()) + "."
    return ABResult(t, metric or f"survival of {duration}", "log-rank test; Cox PH hazard "
                    "ratio (Wald CI); RMST difference from Kaplan-Meier (lifelines)", alpha,
                    notes, prep.excluded, extra={"tau": tau}, reading_override=text,
                    kind="survival")
