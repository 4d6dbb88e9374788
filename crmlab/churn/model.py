"""Churn models over lifelines (Cox PH, Weibull AFT), churn risk at a horizon, evaluation.

:class:`ChurnModel` puts lifelines' ``CoxPHFitter`` and ``WeibullAFTFitter`` behind the
scikit-learn estimator contract and the CRM vocabulary; every input problem is caught before
lifelines sees it and reported in plain words (never a bare lifelines trace).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, stats

from crmlab.churn._base import ChurnInputError, ChurnResult, tidy
from crmlab.churn.km import _columns

__all__ = ["ChurnModel", "ChurnEvaluation", "evaluate_churn_model", "RISK_TIERS"]

RISK_TIERS = ((0.2, "low"), (0.5, "medium"), (1.0, "high"))
_RESERVED = {"t0"}


def _is_categorical(s: pd.Series) -> bool:
    return (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object
            or pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype))


class ChurnModel:
    """Cox proportional-hazards or Weibull AFT churn model.

    Parameters
    ----------
    kind : {"cox", "weibull"}
        ``"cox"``: lifelines ``CoxPHFitter`` (semi-parametric; reports hazard ratios).
        ``"weibull"``: lifelines ``WeibullAFTFitter`` (parametric; reports time ratios and the
        implied hazard ratios ``exp(-coef * shape)``).
    formula : str, optional
        A formulaic right-hand side (e.g. ``"arm + n_orders + C(region)"``). Default: every
        column except ``duration``, ``churned``, ``t0`` and the strata; text/categorical columns
        are one-hot encoded (first level dropped).
    strata : str or list of str, optional
        Cox only: columns to stratify the baseline hazard by.
    penalizer : float, default 0
        L2 penalty (lifelines' ``penalizer``).
    duration_col, event_col : str
        Column names of the survival table.
    zero_duration : float, default 0.5
        Weibull only: durations of 0 days (a churn at time zero, e.g. ``start="assignment"``
        and no purchase afterwards) are set to this many days, since a parametric likelihood
        needs positive times. Their count is kept in ``n_zero_durations_``.
    alpha : float, default 0.05
        1 − confidence level of the intervals.

    Attributes
    ----------
    lifelines_ : the fitted lifelines model
    columns_ : list of design columns
    hazard_ratios_ : DataFrame ``hazard_ratio, ci_low, ci_high, p_value`` per design column
    n_, n_events_, n_zero_durations_ : counts of the fit

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi().rename(columns={"week": "duration", "arrest": "churned"})
    >>> m = ChurnModel("cox").fit(rossi)
    >>> round(float(m.hazard_ratios_.loc["prio", "hazard_ratio"]), 3)  # R coxph: exp(coef) 1.096
    1.096
    """

    def __init__(self, kind: str = "cox", formula: str | None = None, strata=None,
                 penalizer: float = 0.0, duration_col: str = "duration",
                 event_col: str = "churned", zero_duration: float = 0.5, alpha: float = 0.05):
        self.kind = kind
        self.formula = formula
        self.strata = strata
        self.penalizer = penalizer
        self.duration_col = duration_col
        self.event_col = event_col
        self.zero_duration = zero_duration
        self.alpha = alpha

    # ------------------------------------------------------------------ design
    def _strata_list(self) -> list[str]:
        if self.strata is None:
            return []
        return [self.strata] if isinstance(self.strata, str) else list(self.strata)

    def _design(self, table: pd.DataFrame, fitting: bool) -> pd.DataFrame:
        strata = self._strata_list()
        if self.formula is not None:
            from formulaic import model_matrix

            if fitting:
                try:
                    mm = model_matrix(self.formula, table, na_action="raise")
                except Exception as exc:  # formulaic's own messages are readable
                    raise ChurnInputError(f"ChurnModel: formula {self.formula!r} cannot be "
                                          f"evaluated on the survival table: {exc}") from None
                self._spec = mm.model_spec
            else:
                mm = self._spec.get_model_matrix(table, na_action="raise")
            X = pd.DataFrame(np.asarray(mm), index=table.index, columns=list(mm.columns))
            X = X.drop(columns=[c for c in X.columns if c == "Intercept"])
            return X
        skip = {self.duration_col, self.event_col, *strata, *_RESERVED}
        if fitting:
            cols = [c for c in table.columns if c not in skip
                    and not pd.api.types.is_datetime64_any_dtype(table[c])]
            self._raw_columns = cols
            self._levels = {c: (list(table[c].cat.categories)
                                if isinstance(table[c].dtype, pd.CategoricalDtype)
                                else sorted(table[c].dropna().unique(), key=str))
                            for c in cols if _is_categorical(table[c])}
        missing = [c for c in self._raw_columns if c not in table.columns]
        if missing:
            raise ChurnInputError(f"ChurnModel: the table lacks the model's column(s) {missing}")
        parts = []
        for c in self._raw_columns:
            s = table[c]
            if c in self._levels:
                levels = self._levels[c]
                cat = pd.Categorical(s, categories=levels)
                for lv in levels[1:]:
                    parts.append(pd.Series((cat == lv).astype("float64"), index=table.index,
                                           name=f"{c}[{lv}]"))
            else:
                parts.append(pd.to_numeric(s, errors="coerce").astype("float64").rename(c))
        if not parts:
            raise ChurnInputError(
                "ChurnModel: no covariates; build the table with survival_table(..., "
                "covariates='all') or pass columns to model")
        return pd.concat(parts, axis=1)

    def _check_design(self, X: pd.DataFrame, name: str = "survival table") -> None:
        nan = X.isna().sum()
        if nan.any():
            bad = nan[nan > 0]
            raise ChurnInputError(
                f"{name}: covariate column(s) with missing values: "
                + ", ".join(f"{c} ({n} rows)" for c, n in bad.items())
                + "; fill them (e.g. recency_days of customers without an earlier purchase) or "
                  "drop the column")
        inf = ~np.isfinite(X.to_numpy())
        if inf.any():
            cols = X.columns[inf.any(axis=0)].tolist()
            raise ChurnInputError(f"{name}: covariate column(s) {cols} hold infinite values")

    def _check_identifiable(self, X: pd.DataFrame) -> None:
        var = X.var(ddof=0)
        flat = var[var <= 1e-12].index.tolist()
        if flat:
            raise ChurnInputError(
                f"survival table: covariate column(s) {flat} have no variance (one value for "
                f"all {len(X)} rows); drop them from the model")
        Z = (X - X.mean()) / X.std(ddof=0)
        Z.insert(0, "_intercept", 1.0)
        _, r, piv = linalg.qr(Z.to_numpy(), mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int(np.sum(diag > diag.max() * 1e-9))
        if rank < Z.shape[1]:
            names = np.array(Z.columns)[piv[rank:]].tolist()
            raise ChurnInputError(
                f"survival table: covariates are perfectly collinear — {names} can be written "
                f"as a combination of the other columns (and the intercept); drop "
                f"{'it' if len(names) == 1 else 'them'} from the model")

    # ------------------------------------------------------------------ fit
    def fit(self, table: pd.DataFrame) -> "ChurnModel":
        """Fit to a survival table (one row per customer with covariates). Returns self."""
        if self.kind not in ("cox", "weibull"):
            raise ChurnInputError(f"ChurnModel: kind must be 'cox' or 'weibull', got {self.kind!r}")
        if not (np.isfinite(self.penalizer) and self.penalizer >= 0):
            raise ChurnInputError(f"ChurnModel: penalizer must be >= 0, got {self.penalizer!r}")
        strata = self._strata_list()
        if strata and self.kind != "cox":
            raise ChurnInputError("ChurnModel: strata are supported by kind='cox' only")
        base = _columns(table, self.duration_col, self.event_col, None)
        n, n_ev = len(base), int(base[self.event_col].sum())
        if n_ev == 0:
            raise ChurnInputError(
                f"survival table: no churn events — all {n} customers are censored; a churn "
                "model cannot be fitted (observe longer, or lower churn_after_days)")
        if n_ev == n and self.kind == "cox" and base[self.duration_col].nunique() == 1:
            raise ChurnInputError("survival table: every customer churned at the same time; "
                                  "nothing to model")
        for s in strata:
            if s not in table.columns:
                raise ChurnInputError(f"survival table: strata column {s!r} is missing")
        X = self._design(table, fitting=True)
        self._check_design(X)
        self._check_identifiable(X)
        df = X.copy()
        dur = base[self.duration_col].to_numpy().copy()
        self.n_zero_durations_ = int(np.sum(dur <= 0))
        if self.kind == "weibull" and self.n_zero_durations_:
            dur = np.where(dur <= 0, float(self.zero_duration), dur)
        df["_duration"] = dur
        df["_event"] = base[self.event_col].to_numpy()
        for s in strata:
            df[s] = table[s].to_numpy()
        self.columns_ = list(X.columns)
        self.n_, self.n_events_ = n, n_ev
        self.lifelines_ = self._fit_lifelines(df, strata)
        self._baseline_end = float(dur.max())
        self.hazard_ratios_ = self._hazard_ratios()
        return self

    def _fit_lifelines(self, df, strata):
        from lifelines import CoxPHFitter, WeibullAFTFitter
        from lifelines.exceptions import ConvergenceError, ConvergenceWarning

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                if self.kind == "cox":
                    m = CoxPHFitter(penalizer=self.penalizer, alpha=self.alpha)
                    m.fit(df, "_duration", "_event", strata=strata or None)
                else:
                    m = WeibullAFTFitter(penalizer=self.penalizer, alpha=self.alpha)
                    m.fit(df, "_duration", "_event")
        except ConvergenceError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ChurnInputError(
                f"ChurnModel({self.kind!r}): the fit did not converge ({first}). Usual causes: a "
                "covariate that (almost) separates churners from the rest, very large covariate "
                "scales, or too few events; try penalizer=0.1 or drop/rescale the covariate") from None
        self.warnings_ = [str(w.message).strip().splitlines()[0] for w in caught
                          if issubclass(w.category, ConvergenceWarning)]
        return m

    # ------------------------------------------------------------------ results
    def _hazard_ratios(self) -> pd.DataFrame:
        s = self.lifelines_.summary
        z = stats.norm.ppf(1 - self.alpha / 2)
        if self.kind == "cox":
            out = pd.DataFrame({"hazard_ratio": np.exp(s["coef"]),
                                "ci_low": np.exp(s["coef"] - z * s["se(coef)"]),
                                "ci_high": np.exp(s["coef"] + z * s["se(coef)"]),
                                "p_value": s["p"]})
            out.index = [c for c in s.index]
            return out
        lam = s.loc["lambda_"].drop(index="Intercept", errors="ignore")
        gamma = float(s.loc[("rho_", "Intercept"), "coef"])
        rho = float(np.exp(gamma))
        self.shape_ = rho
        V = self.lifelines_.variance_matrix_
        beta = lam["coef"]
        # log HR = -beta * exp(gamma): delta method with the covariance of (beta, gamma)
        var_b = np.array([V.loc[("lambda_", c), ("lambda_", c)] for c in beta.index])
        var_g = float(V.loc[("rho_", "Intercept"), ("rho_", "Intercept")])
        cov_bg = np.array([V.loc[("lambda_", c), ("rho_", "Intercept")] for c in beta.index])
        b = beta.to_numpy()
        se_log_hr = rho * np.sqrt(np.maximum(var_b + b ** 2 * var_g + 2 * b * cov_bg, 0.0))
        log_hr = -b * rho
        out = pd.DataFrame({
            "time_ratio": np.exp(b),
            "hazard_ratio": np.exp(log_hr),
            "ci_low": np.exp(log_hr - z * se_log_hr),
            "ci_high": np.exp(log_hr + z * se_log_hr),
            "p_value": lam["p"].to_numpy()}, index=beta.index)
        return out

    def _require_fitted(self):
        if not hasattr(self, "lifelines_"):
            raise ChurnInputError("ChurnModel: call fit(table) first")

    @property
    def summary(self) -> pd.DataFrame:
        """lifelines' coefficient table (coef, se, CI, z, p) of the fitted model."""
        self._require_fitted()
        return self.lifelines_.summary

    @property
    def concordance_(self) -> float:
        self._require_fitted()
        return float(self.lifelines_.concordance_index_)

    def to_frame(self) -> pd.DataFrame:
        """Hazard ratios in the tidy results layout (one row per covariate)."""
        self._require_fitted()
        rows = [dict(metric="hazard_ratio", arm=c, n=self.n_, value=r.hazard_ratio,
                     ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value,
                     method="Cox PH (lifelines)" if self.kind == "cox" else "Weibull AFT (lifelines)")
                for c, r in self.hazard_ratios_.iterrows()]
        return tidy(rows)

    @property
    def reading(self) -> str:
        self._require_fitted()
        hr = self.hazard_ratios_
        sig = hr[hr["p_value"] < 0.05].copy()
        sig["dist"] = np.abs(np.log(sig["hazard_ratio"]))
        top = sig.sort_values("dist", ascending=False).head(3)
        parts = [f"{c} (HR {r.hazard_ratio:.2f}, CI {r.ci_low:.2f}–{r.ci_high:.2f})"
                 for c, r in top.iterrows()]
        lead = (f"{self.kind} churn model on {self.n_:,} customers ({self.n_events_:,} churns), "
                f"concordance {self.concordance_:.3f}")
        if parts:
            return lead + "; strongest significant effects: " + "; ".join(parts) + "."
        return lead + "; no covariate is significant at 5%."

    def _repr_html_(self) -> str:
        return ChurnResult._repr_html_(self)  # type: ignore[arg-type]

    title = "Churn model"

    # ------------------------------------------------------------------ predictions
    def _predict_frame(self, customers: pd.DataFrame) -> pd.DataFrame:
        X = self._design(customers, fitting=False)
        self._check_design(X, "customers")
        for s in self._strata_list():
            if s not in customers.columns:
                raise ChurnInputError(f"customers: strata column {s!r} is missing")
            X[s] = customers[s].to_numpy()
        return X

    def _survived(self, customers: pd.DataFrame, elapsed) -> np.ndarray:
        if elapsed is None:
            if self.duration_col not in customers.columns:
                raise ChurnInputError(
                    f"customers: column {self.duration_col!r} (days survived so far) is missing")
            elapsed = customers[self.duration_col]
        e = np.asarray(pd.to_numeric(pd.Series(np.asarray(elapsed)), errors="coerce"),
                       dtype="float64")
        if np.isnan(e).any() or (e < 0).any():
            raise ChurnInputError(
                f"customers: days survived so far has {int(np.sum(np.isnan(e) | (e < 0)))} "
                "missing or negative values")
        return e

    def survival_curve(self, customers: pd.DataFrame, times) -> pd.DataFrame:
        """Unconditional S(t) per customer at ``times`` (rows: times, columns: customers)."""
        self._require_fitted()
        X = self._predict_frame(customers)
        return self.lifelines_.predict_survival_function(X, times=np.asarray(times, dtype=float))

    def predict_churn_probability(self, customers: pd.DataFrame, horizon_days: float = 30,
                                  elapsed=None, active_only: bool = True) -> pd.Series:
        """P(churn within the next ``horizon_days`` | not churned after the time survived so far).

        ``1 − S(d + h) / S(d)`` with ``d`` the days survived so far (``customers.duration`` by
        default; lifelines' ``conditional_after``). With ``active_only`` (default) customers
        already churned (``churned == 1``) are left out.

        Examples
        --------
        >>> from lifelines.datasets import load_rossi
        >>> rossi = load_rossi().rename(columns={"week": "duration", "arrest": "churned"})
        >>> m = ChurnModel("weibull").fit(rossi)
        >>> p = m.predict_churn_probability(rossi, horizon_days=10)
        >>> bool(((p > 0) & (p < 1)).all())
        True
        """
        self._require_fitted()
        h = float(horizon_days)
        if not np.isfinite(h) or h <= 0:
            raise ChurnInputError(f"horizon_days must be > 0, got {horizon_days!r}")
        if elapsed is not None:
            elapsed = pd.Series(np.asarray(elapsed, dtype="float64"), index=customers.index)
        if active_only and self.event_col in customers.columns:
            keep = (customers[self.event_col] == 0).to_numpy()
            customers = customers[keep]
            if elapsed is not None:
                elapsed = elapsed[keep]
        if len(customers) == 0:
            return pd.Series([], dtype="float64", name=f"p_churn_{h:g}d")
        d = self._survived(customers, elapsed)
        beyond = int(np.sum(d + h > self._baseline_end))
        if self.kind == "cox" and beyond:
            warnings.warn(
                f"{beyond} of {len(d)} customers: days survived + horizon exceed the longest "
                f"duration in the fit ({self._baseline_end:g} days); the Cox baseline is flat "
                "there, so their churn probability is underestimated (0 when entirely beyond)",
                stacklevel=2)
        X = self._predict_frame(customers)
        sf = self.lifelines_.predict_survival_function(X, times=[h], conditional_after=d)
        p = 1.0 - sf.iloc[0].to_numpy(dtype="float64")
        return pd.Series(np.clip(p, 0.0, 1.0), index=customers.index, name=f"p_churn_{h:g}d")

    def expected_remaining_lifetime(self, customers: pd.DataFrame, horizon_days: float = 365,
                                    elapsed=None, step: float = 1.0) -> pd.Series:
        """Expected days still active within ``horizon_days``: ∫₀ʰ S(d+u)/S(d) du.

        Restricted to a horizon because a Cox baseline is unknown beyond the data (and a
        Weibull tail is an extrapolation).
        """
        self._require_fitted()
        d = self._survived(customers, elapsed)
        X = self._predict_frame(customers)
        grid = np.arange(0.0, float(horizon_days) + step / 2, step)
        sf = self.lifelines_.predict_survival_function(X, times=grid, conditional_after=d)
        vals = sf.to_numpy()
        area = np.sum((vals[1:] + vals[:-1]) / 2 * np.diff(grid)[:, None], axis=0)
        return pd.Series(area, index=customers.index, name=f"expected_active_days_{horizon_days:g}")

    def risk_tiers(self, customers: pd.DataFrame, horizon_days: float = 30,
                   tiers=RISK_TIERS) -> pd.DataFrame:
        """Churn probability at the horizon and a tier (``low/medium/high`` by default: < 20%,
        20–50%, ≥ 50%) per active customer."""
        p = self.predict_churn_probability(customers, horizon_days)
        edges = [0.0] + [t for t, _ in tiers]
        labels = [name for _, name in tiers]
        tier = pd.cut(p, bins=edges, labels=labels, include_lowest=True, right=False)
        tier = tier.fillna(labels[-1]) if len(p) else tier
        return pd.DataFrame({p.name: p, "risk_tier": tier})

    def check_proportional_hazards(self, table: pd.DataFrame,
                                   p_threshold: float = 0.01) -> pd.DataFrame:
        """Proportional-hazards check (Cox): Schoenfeld-residual test per covariate
        (rank-transformed time, lifelines' ``proportional_hazard_test``) with a verdict."""
        self._require_fitted()
        if self.kind != "cox":
            raise ChurnInputError("check_proportional_hazards applies to kind='cox'")
        from lifelines.statistics import proportional_hazard_test

        X = self._design(table, fitting=False)
        df = X.copy()
        df["_duration"] = table[self.duration_col].to_numpy()
        df["_event"] = table[self.event_col].to_numpy()
        for s in self._strata_list():
            df[s] = table[s].to_numpy()
        res = proportional_hazard_test(self.lifelines_, df, time_transform="rank")
        out = res.summary[["test_statistic", "p"]].rename(columns={"p": "p_value"})
        out["verdict"] = np.where(out["p_value"] < p_threshold, "PH doubtful", "ok")
        return out


# --------------------------------------------------------------------------- evaluation
@dataclass(repr=False)
class ChurnEvaluation(ChurnResult):
    """Out-of-time evaluation of churn predictions at a horizon.

    Attributes
    ----------
    horizon_days, n, concordance, brier, brier_baseline, auc_like
    calibration : DataFrame per decile ``decile, n, predicted, observed, ci_low, ci_high``
    lift : DataFrame ``model_top_decile_rate, baseline_top_decile_rate, base_rate`` ...
    """

    horizon_days: float
    n: int
    concordance: float
    concordance_baseline: float
    brier: float
    brier_baseline: float
    calibration: pd.DataFrame
    top_decile_rate: float
    baseline_top_decile_rate: float
    base_rate: float
    max_calibration_gap: float
    title: str = field(default="Churn prediction, out of time")

    def to_frame(self) -> pd.DataFrame:
        rows = [
            dict(metric="concordance", arm="model", n=self.n, value=self.concordance,
                 control_value=self.concordance_baseline,
                 abs_lift=self.concordance - self.concordance_baseline, method="Harrell's C on the outcome at the horizon"),
            dict(metric=f"brier_{self.horizon_days:g}d", arm="model", n=self.n, value=self.brier,
                 control_value=self.brier_baseline, abs_lift=self.brier - self.brier_baseline,
                 method="Brier score (customers observed to the horizon)"),
            dict(metric="top_decile_churn_rate", arm="model", n=self.n, value=self.top_decile_rate,
                 control_value=self.baseline_top_decile_rate,
                 abs_lift=self.top_decile_rate - self.baseline_top_decile_rate,
                 rel_lift=(self.top_decile_rate / self.baseline_top_decile_rate - 1)
                 if self.baseline_top_decile_rate > 0 else np.nan,
                 method="baseline: recency alone"),
        ]
        return tidy(rows)

    @property
    def reading(self) -> str:
        return (f"On {self.n:,} customers observed {self.horizon_days:g} days out of time: "
                f"concordance {self.concordance:.3f} (recency alone {self.concordance_baseline:.3f}); "
                f"Brier {self.brier:.3f} (recency alone {self.brier_baseline:.3f}); the top decile "
                f"churns at {self.top_decile_rate:.1%} vs {self.baseline_top_decile_rate:.1%} for "
                f"recency alone (base rate {self.base_rate:.1%}); calibration within "
                f"{self.max_calibration_gap:.1%} per decile.")


def _concordance(score: np.ndarray, outcome: np.ndarray) -> float:
    """C for a binary outcome (= AUC): P(score higher for a churner than a non-churner)."""
    pos = outcome == 1
    n1, n0 = pos.sum(), (~pos).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(score)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate_churn_model(predicted: pd.Series, observed: pd.Series, baseline: pd.Series,
                         horizon_days: float = 30, n_bins: int = 10) -> ChurnEvaluation:
    """Compare predicted churn at a horizon with what happened later (out of time).

    Parameters
    ----------
    predicted : Series
        Predicted probability of churn within the horizon (index customer_id), from
        :meth:`ChurnModel.predict_churn_probability` at the cut-off date.
    observed : Series
        0/1: churned within the horizon, read from a later survival table (every customer must
        be followed at least to the horizon).
    baseline : Series
        The naive score (e.g. days since the last purchase at the cut-off: recency alone;
        higher = riskier). Its probability for the Brier score is the observed churn rate per
        decile of the baseline score (fitted on the same data, hence optimistic for it).
    horizon_days : float
    n_bins : int

    Returns
    -------
    ChurnEvaluation

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> p = pd.Series(rng.uniform(0, 1, 5000))
    >>> y = pd.Series((rng.uniform(0, 1, 5000) < p).astype(int))
    >>> ev = evaluate_churn_model(p, y, baseline=pd.Series(rng.uniform(0, 1, 5000)))
    >>> ev.max_calibration_gap < 0.05
    True
    """
    idx = predicted.index.intersection(observed.index).intersection(baseline.index)
    if len(idx) == 0:
        raise ChurnInputError("evaluate_churn_model: predicted, observed and baseline share no "
                              "customer_id")
    p = predicted.loc[idx].to_numpy(dtype="float64")
    y = observed.loc[idx].to_numpy(dtype="float64")
    b = baseline.loc[idx].to_numpy(dtype="float64")
    if np.isnan(p).any() or np.isnan(y).any() or np.isnan(b).any():
        raise ChurnInputError("evaluate_churn_model: missing values in predicted/observed/baseline")
    if not np.isin(y, [0, 1]).all():
        raise ChurnInputError("evaluate_churn_model: observed must be 0/1")
    n = len(idx)
    dec = pd.qcut(pd.Series(p).rank(method="first"), n_bins, labels=False)
    rows = []
    for k in range(n_bins):
        m = (dec == k).to_numpy()
        nk = int(m.sum())
        obs = float(y[m].mean())
        x = y[m].sum()  # Jeffreys interval, with the usual 0 / 1 limits at x = 0 / x = n
        lo, hi = stats.beta.ppf([0.025, 0.975], x + 0.5, nk - x + 0.5)
        lo, hi = (0.0 if x == 0 else lo), (1.0 if x == nk else hi)
        rows.append({"decile": k + 1, "n": nk, "predicted": float(p[m].mean()),
                     "observed": obs, "ci_low": float(lo), "ci_high": float(hi)})
    cal = pd.DataFrame(rows)
    bdec = pd.qcut(pd.Series(b).rank(method="first"), n_bins, labels=False).to_numpy()
    b_prob = pd.Series(y).groupby(bdec).transform("mean").to_numpy()
    top = (dec == n_bins - 1).to_numpy()
    btop = bdec == n_bins - 1
    return ChurnEvaluation(
        horizon_days=float(horizon_days), n=n,
        concordance=_concordance(p, y), concordance_baseline=_concordance(b, y),
        brier=float(np.mean((p - y) ** 2)), brier_baseline=float(np.mean((b_prob - y) ** 2)),
        calibration=cal, top_decile_rate=float(y[top].mean()),
        baseline_top_decile_rate=float(y[btop].mean()), base_rate=float(y.mean()),
        max_calibration_gap=float(np.max(np.abs(cal["predicted"] - cal["observed"]))))
