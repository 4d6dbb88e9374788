"""Meta-learners of the treatment effect per customer: T-, X- and DR-learner, several arms.

Every learner is fitted on a randomized campaign: features ``X``, an outcome ``y`` (binary, e.g.
conversion in the window, or continuous, e.g. revenue over the horizon) and the ``arm`` of each
customer, one of which is the control. The effect of each treatment arm *a* is
``tau_a(x) = E[Y | x, a] - E[Y | x, control]``.

Cross-fitting: the customers are split into ``n_folds`` folds (stratified by arm); for each fold
the nuisance models are fitted on the other folds, so ``oof_effect_`` — the effect predicted
for every customer of the training data — is always out of sample. New customers get the mean
prediction of the fold models (no model ever sees its own scoring data).

- **T-learner**: one outcome model per arm; ``tau_a = mu_a - mu_control``.
- **X-learner** (Künzel et al. 2019): imputed effects ``y - mu_control(x)`` on arm *a* and
  ``mu_a(x) - y`` on the control, each regressed on ``x``; the two are combined with the arm's
  share *g* among the two arms: ``tau = g * tau_control + (1 - g) * tau_a``.
- **DR-learner** (Kennedy 2023): the doubly robust pseudo-outcome
  ``mu_a - mu_c + [a](y - mu_a)/e_a - [c](y - mu_c)/e_c`` regressed on ``x``. The propensities
  ``e`` are the arm shares (the assignment was randomized), not a fitted model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

__all__ = ["TLearner", "XLearner", "DRLearner", "default_regressor", "default_classifier",
           "best_arm"]


def _hgb_params(n: int) -> dict:
    return dict(learning_rate=0.06, max_iter=200, max_leaf_nodes=15,
                min_samples_leaf=int(min(200, max(20, n // 100))), l2_regularization=1.0,
                early_stopping=n >= 2000, validation_fraction=0.15, n_iter_no_change=15,
                categorical_features="from_dtype", random_state=0)


def default_regressor(n: int = 10_000) -> HistGradientBoostingRegressor:
    """The default outcome / effect model: histogram gradient boosting, regularised for the
    noisy, small differences an uplift model learns (leaves of at least ``n/100`` customers,
    20..200), with early stopping on 15% of its training data from 2,000 rows on."""
    return HistGradientBoostingRegressor(**_hgb_params(n))


def default_classifier(n: int = 10_000) -> HistGradientBoostingClassifier:
    """The default outcome model of a binary outcome (same settings as
    :func:`default_regressor`)."""
    return HistGradientBoostingClassifier(**_hgb_params(n))


def _as_frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X.reset_index(drop=True)
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _no_empty_columns(X: pd.DataFrame) -> pd.DataFrame:
    """A numeric column with no value at all in a training subset (e.g. "days since the last
    send" among customers never messaged) becomes the constant 0 for that fit: histogram
    gradient boosting cannot bin an all-missing column, and a constant is never split on."""
    empty = [c for c in X.columns if X[c].dtype.kind == "f" and X[c].isna().all()]
    if not empty:
        return X
    X = X.copy()
    X[empty] = 0.0
    return X


@dataclass
class _Data:
    X: pd.DataFrame
    y: np.ndarray
    arm: np.ndarray
    arms: list            # treatment arms (control excluded)


class _MetaLearner:
    """Shared fitting machinery; subclasses define ``_fit_fold`` and ``_predict_fold``.

    Parameters (all learners)
    -------------------------
    outcome : {'auto', 'binary', 'continuous'}
        ``auto``: binary when ``y`` holds only 0 and 1. A binary outcome's models are
        classifiers (``predict_proba``), a continuous one's regressors.
    control : str
        The control (holdout) arm's label.
    n_folds : int
        Cross-fitting folds (stratified by arm), default 5.
    estimator, classifier : scikit-learn estimators, optional
        The regressor (continuous outcome models, X- and DR-learner effect models) and the
        classifier (binary outcome models); cloned for every fit. Default: histogram gradient
        boosting (:func:`default_regressor`, :func:`default_classifier`).
    random_state : int
        Seed of the fold split.
    n_threads : int, optional
        Limit of the OpenMP / BLAS threads while fitting and predicting. Default: one thread
        below 200,000 customers (small fits gain nothing from threads, and on a busy machine
        OpenMP threads that wait on each other can make them ten times slower), no limit
        above.
    """

    def __init__(self, outcome: str = "auto", control: str = "control", n_folds: int = 5,
                 estimator=None, classifier=None, random_state: int = 0,
                 n_threads: int | None = None):
        self.outcome = outcome
        self.n_threads = n_threads
        self.control = control
        self.n_folds = n_folds
        self.estimator = estimator
        self.classifier = classifier
        self.random_state = random_state

    # -- checks --------------------------------------------------------------------------------
    def _check(self, X, y, arm) -> _Data:
        Xf = _as_frame(X)
        y = np.asarray(y, dtype="float64").ravel()
        arm = np.asarray(arm).astype(str).ravel()
        if not len(Xf) == len(y) == len(arm):
            raise ValueError(f"X, y and arm must have the same length; got {len(Xf)}, {len(y)} "
                             f"and {len(arm)} rows")
        bad = ~np.isfinite(y)
        if bad.any():
            raise ValueError(f"y: {int(bad.sum())} of {len(y)} rows are missing or infinite")
        levels, counts = np.unique(arm, return_counts=True)
        if self.control not in levels:
            raise ValueError(f"arm: no row in the control arm {self.control!r} "
                             f"(arms found: {levels.tolist()})")
        if len(levels) < 2:
            raise ValueError(f"arm: only the control arm {self.control!r} is present; "
                             "an effect needs at least one treatment arm")
        small = {str(a): int(c) for a, c in zip(levels, counts) if c < 2 * self.n_folds}
        if small:
            raise ValueError(f"arm: arms with fewer than {2 * self.n_folds} customers cannot be "
                             f"cross-fitted with {self.n_folds} folds: {small}")
        if self.outcome not in ("auto", "binary", "continuous"):
            raise ValueError(f"outcome must be 'auto', 'binary' or 'continuous', got "
                             f"{self.outcome!r}")
        binary = set(np.unique(y)) <= {0.0, 1.0}
        if self.outcome == "binary" and not binary:
            raise ValueError("y: outcome='binary' but y holds values other than 0 and 1")
        self.binary_ = binary if self.outcome == "auto" else self.outcome == "binary"
        if self.n_folds < 2:
            raise ValueError(f"n_folds must be at least 2, got {self.n_folds}")
        return _Data(Xf, y, arm, [str(a) for a in levels if a != self.control])

    # -- nuisance models -----------------------------------------------------------------------
    def _regressor(self, n):
        return clone(self.estimator) if self.estimator is not None else default_regressor(n)

    def _outcome_model(self, X, y):
        n = len(y)
        X = _no_empty_columns(X)
        if self.binary_ and len(np.unique(y)) == 2:
            model = (clone(self.classifier) if self.classifier is not None
                     else default_classifier(n))
            if self.classifier is None and min(y.sum(), n - y.sum()) < 20:
                model.set_params(early_stopping=False)   # too few of a class to hold out
            model.fit(X, y.astype(int))
            return ("clf", model)
        if self.binary_:                     # a constant outcome in this fold
            return ("const", float(y.mean()) if n else 0.0)
        return ("reg", self._regressor(n).fit(X, y))

    def _outcome_models(self, d: _Data) -> dict:
        return {a: self._outcome_model(d.X[d.arm == a], d.y[d.arm == a])
                for a in [self.control, *d.arms]}

    def _fold_mu(self, fold, X) -> np.ndarray:
        return np.column_stack([self._mu(fold["mu"][a], X) for a in [self.control, *self.arms_]])

    @staticmethod
    def _mu(model, X):
        kind, m = model
        if kind == "clf":
            return m.predict_proba(X)[:, 1]
        if kind == "const":
            return np.full(len(X), m)
        return m.predict(X)

    # -- fit / predict ---------------------------------------------------------------------------
    def fit(self, X, y, arm):
        """Fit with cross-fitting.

        Parameters
        ----------
        X : DataFrame or 2-d array
            Features as of assignment (e.g. :func:`crmlab.uplift.uplift_features`); pandas
            ``category`` columns are used as categories.
        y : array-like
            The outcome (0/1, or continuous).
        arm : array-like
            The arm of each customer; ``control`` (the holdout) and one or more treatment arms.

        Returns
        -------
        self
            With ``arms_`` (the treatment arms), ``oof_effect_`` (DataFrame, one column per
            treatment arm, out-of-fold), ``oof_outcome_`` (the expected outcome under each arm,
            control included, out-of-fold), ``shares_`` (arm shares), ``binary_``.
        """
        d = self._check(X, y, arm)
        self.arms_ = d.arms
        self.feature_names_ = list(d.X.columns)
        self.shares_ = {a: float(np.mean(d.arm == a)) for a in [self.control, *d.arms]}
        skf = StratifiedKFold(n_splits=self.n_folds, shuffle=True,
                              random_state=self.random_state)
        oof = np.zeros((len(d.y), len(d.arms)))
        mu = np.zeros((len(d.y), 1 + len(d.arms)))
        self.models_ = []
        self.threads_ = (self.n_threads if self.n_threads is not None
                         else (1 if len(d.y) < 200_000 else None))
        with threadpool_limits(self.threads_):
            for train, test in skf.split(d.X, d.arm):
                fold = self._fit_fold(_Data(d.X.iloc[train], d.y[train], d.arm[train], d.arms),
                                      d.X.iloc[test], test)
                self.models_.append(fold)
                oof[test] = self._predict_fold(fold, d.X.iloc[test])
                mu[test] = self._fold_mu(fold, d.X.iloc[test])
            self.oof_outcome_ = pd.DataFrame(mu, columns=[self.control, *d.arms])
            self._finish(d, oof, skf)
        return self

    def _finish(self, d, oof, skf):
        self.oof_effect_ = pd.DataFrame(oof, columns=self.arms_)

    def predict_effect(self, X) -> pd.DataFrame:
        """Effect of each treatment arm for new customers: the mean over the fold models.

        Returns a DataFrame with one column per treatment arm (same row order as ``X``).
        """
        if not hasattr(self, "models_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(X, y, arm) first")
        Xf = _as_frame(X)
        missing = [c for c in self.feature_names_ if c not in Xf.columns]
        if missing:
            raise ValueError(f"X: missing feature columns {missing}")
        Xf = Xf[self.feature_names_]
        with threadpool_limits(self.threads_):
            pred = np.mean([self._predict_fold(f, Xf) for f in self.models_], axis=0)
        return pd.DataFrame(pred, columns=self.arms_)

    def predict_outcome(self, X) -> pd.DataFrame:
        """Expected outcome under each arm (control first) for new customers: the mean over the
        fold models' outcome models."""
        if not hasattr(self, "models_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(X, y, arm) first")
        Xf = _as_frame(X)[self.feature_names_]
        with threadpool_limits(self.threads_):
            mu = np.mean([self._fold_mu(f, Xf) for f in self.models_], axis=0)
        return pd.DataFrame(mu, columns=[self.control, *self.arms_])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(outcome={self.outcome!r}, control={self.control!r}, "
                f"n_folds={self.n_folds})")


class TLearner(_MetaLearner):
    """T-learner: one outcome model per arm, ``tau_a(x) = mu_a(x) - mu_control(x)``.

    Examples
    --------
    >>> m = TLearner(n_folds=5).fit(X, table["conversion"], table["arm"])   # doctest: +SKIP
    >>> m.oof_effect_.describe()                                            # doctest: +SKIP
    """

    def _fit_fold(self, d: _Data, X_test, test_idx):
        return {"mu": self._outcome_models(d)}

    def _predict_fold(self, fold, X):
        mu = self._fold_mu(fold, X)
        return mu[:, 1:] - mu[:, :1]


class XLearner(_MetaLearner):
    """X-learner (Künzel, Sekhon, Bickel & Yu 2019) for each treatment arm against the control.

    Examples
    --------
    >>> m = XLearner().fit(X, table["revenue_h"], table["arm"])             # doctest: +SKIP
    """

    def _fit_fold(self, d: _Data, X_test, test_idx):
        c = d.arm == self.control
        mu = self._outcome_models(d)
        out = {"mu": mu, "tau": {}}
        for a in d.arms:
            t = d.arm == a
            imputed_t = d.y[t] - self._mu(mu[self.control], d.X[t])
            imputed_c = self._mu(mu[a], d.X[c]) - d.y[c]
            tau_t = self._regressor(int(t.sum())).fit(_no_empty_columns(d.X[t]), imputed_t)
            tau_c = self._regressor(int(c.sum())).fit(_no_empty_columns(d.X[c]), imputed_c)
            g = float(t.sum()) / float(t.sum() + c.sum())     # share of arm a among a + control
            out["tau"][a] = (tau_t, tau_c, g)
        return out

    def _predict_fold(self, fold, X):
        cols = []
        for a in self.arms_:
            tau_t, tau_c, g = fold["tau"][a]
            cols.append(g * tau_c.predict(X) + (1 - g) * tau_t.predict(X))
        return np.column_stack(cols)


class DRLearner(_MetaLearner):
    """DR-learner (Kennedy 2023): doubly robust pseudo-outcomes regressed on the features.

    The outcome models are cross-fitted; each customer's pseudo-outcome uses the models that
    did not see them, and the final regression of fold *k* is fitted on the pseudo-outcomes of
    the other folds, so ``oof_effect_`` stays out of sample. The propensities are the arm
    shares (randomized assignment).

    Examples
    --------
    >>> m = DRLearner().fit(X, table["conversion"], table["arm"])           # doctest: +SKIP
    """

    def _fit_fold(self, d: _Data, X_test, test_idx):
        return {"mu": self._outcome_models(d), "test": test_idx}

    def _predict_fold(self, fold, X):
        if "final" not in fold:        # during cross-fitting: the T-learner's difference
            mu = self._fold_mu(fold, X)
            return mu[:, 1:] - mu[:, :1]
        return np.column_stack([fold["final"][a].predict(X) for a in self.arms_])

    def _finish(self, d, oof, skf):
        n = len(d.y)
        mu = self.oof_outcome_.to_numpy()
        e0 = self.shares_[self.control]
        c = (d.arm == self.control).astype(float)
        psi = np.zeros((n, len(d.arms)))
        for k, a in enumerate(d.arms, start=1):
            t = (d.arm == a).astype(float)
            psi[:, k - 1] = (mu[:, k] - mu[:, 0] + t * (d.y - mu[:, k]) / self.shares_[a]
                             - c * (d.y - mu[:, 0]) / e0)
        self.pseudo_outcome_ = pd.DataFrame(psi, columns=d.arms)
        out = np.zeros_like(psi)
        for fold in self.models_:
            test = fold["test"]
            train = np.setdiff1d(np.arange(n), test)
            fold["final"] = {a: self._regressor(len(train)).fit(_no_empty_columns(d.X.iloc[train]),
                                                                psi[train, k])
                             for k, a in enumerate(d.arms)}
            out[test] = self._predict_fold(fold, d.X.iloc[test])
        self.oof_effect_ = pd.DataFrame(out, columns=d.arms)


def best_arm(value: pd.DataFrame, none: str = "control") -> pd.Series:
    """The arm with the highest value per customer, or ``none`` when no arm's value is > 0.

    ``value`` has one column per treatment arm: an effect, or better an expected incremental
    profit (:func:`crmlab.uplift.expected_profit`).

    Examples
    --------
    >>> best_arm(pd.DataFrame({"a": [1.0, -1.0], "b": [2.0, -0.5]})).tolist()
    ['b', 'control']
    """
    v = value.to_numpy(dtype="float64")
    if v.shape[1] == 0:
        raise ValueError("value: no treatment arm column")
    k = np.nanargmax(np.where(np.isnan(v), -np.inf, v), axis=1)
    top = v[np.arange(len(v)), k]
    names = np.asarray(value.columns, dtype=object)[k]
    return pd.Series(np.where(top > 0, names, none), index=value.index, name="best_arm")
