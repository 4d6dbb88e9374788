"""Whom does the message change: uplift models learned from randomized campaigns.

- :mod:`crmlab.uplift.features` — features of each assigned customer as of the assignment;
- :mod:`crmlab.uplift.learners` — T-, X- and DR-learner meta-learners, several arms,
  cross-fitted;
- :mod:`crmlab.uplift.metrics` — Qini / uplift curves, Qini coefficient, uplift@k (named and
  defined as in scikit-uplift), bootstrap intervals, comparison with random and segment
  targeting;
- :mod:`crmlab.uplift.selection` — expected incremental profit and the audience for a budget;
- :mod:`crmlab.uplift.targeting` — one campaign end to end: fit on a share of the customers,
  validate on the rest, the next audience.

See ``docs/uplift.md``.
"""
from crmlab.uplift.features import CATEGORICAL_FEATURES, FEATURE_GROUPS, feature_columns, \
    uplift_features
from crmlab.uplift.learners import DRLearner, TLearner, XLearner, best_arm, default_classifier, \
    default_regressor
from crmlab.uplift.metrics import MetricInterval, bootstrap_metric, curve_points, \
    perfect_qini_curve, perfect_uplift_curve, qini_auc_score, qini_curve, targeting_comparison, \
    uplift_at_k, uplift_auc_score, uplift_curve
from crmlab.uplift.selection import Audience, expected_profit, select_audience

__all__ = [
    "uplift_features", "feature_columns", "FEATURE_GROUPS", "CATEGORICAL_FEATURES",
    "TLearner", "XLearner", "DRLearner", "best_arm", "default_regressor", "default_classifier",
    "qini_curve", "uplift_curve", "perfect_qini_curve", "perfect_uplift_curve",
    "qini_auc_score", "uplift_auc_score", "uplift_at_k", "bootstrap_metric", "MetricInterval",
    "curve_points", "targeting_comparison",
    "expected_profit", "select_audience", "Audience",
]
