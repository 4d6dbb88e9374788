"""A/B test statistics for CRM campaigns (see ``docs/abtest.md``).

One submodule per family, re-exported here:

- :mod:`~crmlab.abtest.proportions` — conversions: Newcombe CI, z / Fisher test
- :mod:`~crmlab.abtest.means` — revenue per customer: Welch, Mann-Whitney, bootstrap (BCa)
- :mod:`~crmlab.abtest.ratio` — ratio metrics by the delta method
- :mod:`~crmlab.abtest.cuped` — CUPED, regression adjustment, the vectorised battery
- :mod:`~crmlab.abtest.integrity` — SRM and covariate balance
- :mod:`~crmlab.abtest.bayes` — Beta-Binomial and normal-approximation posteriors
- :mod:`~crmlab.abtest.design` — sample size, power, MDE (R-compatible), Schoenfeld
- :mod:`~crmlab.abtest.multiple` — Holm / BH corrections, segments and interaction
- :mod:`~crmlab.abtest.sequential` — group-sequential looks (Lan-DeMets O'Brien-Fleming)
- :mod:`~crmlab.abtest.survival` — log-rank, hazard ratio, RMST difference between arms
"""
from crmlab.abtest._results import ABResult, SmallSampleWarning, COLUMNS
from crmlab.abtest.proportions import proportions, proportions_from_counts
from crmlab.abtest.means import means, bootstrap_diff_interval, bootstrap_means
from crmlab.abtest.ratio import ratio, ratio_adjusted
from crmlab.abtest.cuped import cuped, regression_adjustment, battery
from crmlab.abtest.integrity import srm, srm_from_data, balance
from crmlab.abtest.bayes import bayes_proportions, bayes_means
from crmlab.abtest.design import (sample_size_proportions, power_proportions, mde_proportions,
                                  sample_size_means, power_means, mde_means,
                                  sample_size_survival, power_survival, power_curve)
from crmlab.abtest.multiple import adjust_pvalues, correct, by_segment

__all__ = [
    "ABResult", "SmallSampleWarning", "COLUMNS",
    "proportions", "proportions_from_counts", "means", "bootstrap_diff_interval",
    "bootstrap_means", "ratio", "ratio_adjusted", "cuped", "regression_adjustment", "battery", "srm",
    "srm_from_data", "balance", "bayes_proportions", "bayes_means",
    "sample_size_proportions", "power_proportions", "mde_proportions", "sample_size_means",
    "power_means", "mde_means", "sample_size_survival", "power_survival", "power_curve",
    "adjust_pvalues", "correct", "by_segment",
]
from crmlab.abtest.sequential import group_sequential, spending  # noqa: E402
from crmlab.abtest.survival import survival  # noqa: E402

__all__ += ["group_sequential", "spending", "survival"]
