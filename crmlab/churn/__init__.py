"""Survival-based churn: survival tables from purchase logs, Kaplan-Meier, log-rank, RMST,
Cox and Weibull churn models, churn risk at a horizon and survival-based LTV.

The churn definition is documented in ``docs/churn.md`` (and ``docs/architecture.md``).
"""
from crmlab.churn._base import ChurnInputError
from crmlab.churn.table import (COVARIATE_GROUPS, churn_covariates, excluded_rows,
                                repurchase_table, resolve_censoring,
                                survival_table)

__all__ = ["ChurnInputError", "COVARIATE_GROUPS", "churn_covariates", "excluded_rows", "repurchase_table", "resolve_censoring",
           "survival_table"]
from crmlab.churn.km import (KaplanMeierResult, LogRankResult, RMSTResult,  # noqa: E402
                             SurvivalDifferenceResult, kaplan_meier, logrank, rmst,
                             survival_difference)

__all__ += ["KaplanMeierResult", "LogRankResult", "RMSTResult", "SurvivalDifferenceResult",
            "kaplan_meier", "logrank", "rmst", "survival_difference"]
from crmlab.churn.model import (RISK_TIERS, ChurnEvaluation, ChurnModel,  # noqa: E402
                                evaluate_churn_model)

__all__ += ["RISK_TIERS", "ChurnEvaluation", "ChurnModel", "evaluate_churn_model"]
from crmlab.churn.ltv import SurvivalLTVResult, spend_rate, survival_ltv  # noqa: E402

__all__ += ["SurvivalLTVResult", "spend_rate", "survival_ltv"]
