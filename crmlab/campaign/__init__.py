"""One campaign's evaluation over at least six months (``evaluate(data, spec)``).

The per-customer campaign table is built in the engine (:mod:`crmlab.campaign.table`); the
statistics come from :mod:`crmlab.abtest` and :mod:`crmlab.churn`
(:mod:`crmlab.campaign.evaluation` orchestrates them and applies the decision rule).
"""
from __future__ import annotations

from crmlab.campaign.evaluation import (
    CampaignEvaluation,
    Verdict,
    evaluate,
    segment_labels,
)
from crmlab.campaign.table import (
    CHANNEL_CONSENT,
    CampaignDataError,
    CampaignInfo,
    campaign_info,
    campaign_table,
    cumulative_revenue,
)

__all__ = [
    "CHANNEL_CONSENT", "CampaignDataError", "CampaignEvaluation", "CampaignInfo", "Verdict",
    "campaign_info", "campaign_table", "cumulative_revenue", "evaluate", "segment_labels",
]
