"""One campaign's evaluation over at least six months (``evaluate(data, spec)``).

The per-customer campaign table is built in the engine (:mod:`crmlab.campaign.table`); the
statistics come from :mod:`crmlab.abtest` and :mod:`crmlab.churn`
(:mod:`crmlab.campaign.evaluation` orchestrates them and applies the decision rule, numbers
only); :mod:`crmlab.campaign.narration` puts them into words.
"""
from __future__ import annotations

from crmlab.campaign import evaluation as _evaluation
from crmlab.campaign import narration as _narration
from crmlab.campaign.evaluation import N_BOOT, CampaignEvaluation, segment_labels
from crmlab.campaign.findings import Verdict
from crmlab.campaign.table import (
    CHANNEL_CONSENT,
    CampaignDataError,
    CampaignInfo,
    campaign_info,
    campaign_table,
    cumulative_revenue,
)



def evaluate(data, spec, *, lang: str | None = None, n_boot: int = N_BOOT) -> CampaignEvaluation:
    """Evaluate one campaign (:func:`crmlab.campaign.evaluation.evaluate`, numbers only) and
    write its verdict's headline and reasons in the report language
    (:func:`crmlab.campaign.narration.narrate`)."""
    return _narration.narrate(_evaluation.evaluate(data, spec, lang=lang, n_boot=n_boot))


__all__ = [
    "CHANNEL_CONSENT", "CampaignDataError", "CampaignEvaluation", "CampaignInfo", "Verdict",
    "campaign_info", "campaign_table", "cumulative_revenue", "evaluate", "segment_labels",
]
