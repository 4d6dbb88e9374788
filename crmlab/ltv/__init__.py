"""Customer-base models: BG/NBD, MBG/NBD, Pareto/NBD, BG/BB and Gamma-Gamma by maximum
likelihood (also with covariates), CLV with intervals, and model checks.

The models take the per-customer summary of :func:`crmlab.summaries.rfm_summary` (``frequency``
= repeat purchases, ``recency``, ``T``, ``monetary_value``) and use the vocabulary of lifetimes
and pymc-marketing (``conditional_expected_number_of_purchases_up_to_time``,
``conditional_probability_alive``, ``conditional_expected_average_profit``,
``customer_lifetime_value``). See ``docs/ltv.md``.

Examples
--------
>>> from crmlab.datasets import load_cdnow
>>> from crmlab.summaries import rfm_summary
>>> from crmlab.ltv import BetaGeoFitter
>>> cal = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
>>> BetaGeoFitter().fit(cal).params_.round(3).tolist()
[0.243, 4.414, 0.793, 2.426]
"""
from crmlab.ltv._base import DAYS_PER_MONTH, ConvergenceError
from crmlab.ltv.bgbb import BetaGeoBetaBinomFitter
from crmlab.ltv.bgnbd import BetaGeoFitter
from crmlab.ltv.checks import Tracking, p_alive_caption, p_alive_matrix, tracking
from crmlab.ltv.clv import HoldoutCheck, customer_lifetime_value, holdout_check
from crmlab.ltv.covariates import (BetaGeoCovariateFitter, GammaGammaCovariateFitter,
                                   ParetoNBDCovariateFitter)
from crmlab.ltv.gammagamma import GammaGammaFitter
from crmlab.ltv.intervals import LTVIntervals, ltv_intervals
from crmlab.ltv.mbgnbd import ModifiedBetaGeoFitter
from crmlab.ltv.paretonbd import ParetoNBDFitter, pareto_nbd_loglik_exact

__all__ = [
    "BetaGeoFitter", "ModifiedBetaGeoFitter", "BetaGeoBetaBinomFitter", "ParetoNBDFitter",
    "GammaGammaFitter", "ConvergenceError",
    "customer_lifetime_value", "holdout_check", "HoldoutCheck", "pareto_nbd_loglik_exact",
    "DAYS_PER_MONTH", "ltv_intervals", "LTVIntervals", "BetaGeoCovariateFitter",
    "ParetoNBDCovariateFitter", "GammaGammaCovariateFitter", "tracking", "Tracking",
    "p_alive_matrix", "p_alive_caption",
]
