"""Survival-based churn: survival tables from purchase logs, Kaplan-Meier, log-rank, RMST,
Cox and Weibull churn models, churn risk at a horizon and survival-based LTV.

The churn definition (shared with the simulator and the campaign evaluator) is documented in
``docs/churn.md`` and ``docs/architecture.md``.

Examples
--------
>>> from crmlab.churn import survival_table, kaplan_meier      # doctest: +SKIP
>>> st = survival_table(data.orders, data.observation_end)     # doctest: +SKIP
>>> kaplan_meier(st).reading                                    # doctest: +SKIP
"""
from crmlab.churn._base import ChurnInputError
from crmlab.churn.km import (KaplanMeierResult, LogRankResult, RMSTResult,
                             SurvivalDifferenceResult, kaplan_meier, logrank, rmst,
                             survival_difference)
from crmlab.churn.ltv import SurvivalLTVResult, spend_rate, survival_ltv
from crmlab.churn.model import RISK_TIERS, ChurnEvaluation, ChurnModel, evaluate_churn_model
from crmlab.churn.risk import declared_churn_risk
from crmlab.churn.table import (COVARIATE_GROUPS, churn_covariates, excluded_rows,
                                repurchase_table, resolve_censoring, survival_table)

__all__ = [
    "ChurnInputError", "COVARIATE_GROUPS", "survival_table", "repurchase_table",
    "churn_covariates", "excluded_rows", "resolve_censoring",
    "kaplan_meier", "KaplanMeierResult", "logrank", "LogRankResult", "survival_difference",
    "SurvivalDifferenceResult", "rmst", "RMSTResult",
    "ChurnModel", "RISK_TIERS", "declared_churn_risk", "evaluate_churn_model", "ChurnEvaluation",
    "spend_rate", "survival_ltv", "SurvivalLTVResult",
]
