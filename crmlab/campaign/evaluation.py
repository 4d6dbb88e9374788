"""``evaluate(data, spec)``: one campaign judged end to end over its long-term horizon.

The evaluation reads the per-customer campaign table (:func:`crmlab.campaign.campaign_table`,
built in the engine) and orchestrates the statistics:

1. data quality (the loader's ledger) and integrity: sample-ratio mismatch against the
   campaign's ``holdout_share``, pre-period balance (standardised mean differences), consent and
   night-time compliance of the sends;
2. short-term outcomes in the primary window: every treatment arm against control on the
   primary and secondary metrics (revenue and orders adjusted for pre-period covariates by
   regression, :func:`crmlab.campaign._stats.adjusted_rows`; AOV by the delta method);
3. long-term outcomes over ``horizon_days`` on the page's one endpoint
   (:mod:`crmlab.campaign.endpoints`: reactivation or churn, from assignment): Kaplan-Meier
   curves by arm, log-rank, the Cox hazard ratio, the RMST difference, the endpoint's rates by
   day 90/180; revenue per customer over the horizon (the LTV lift, Welch CI);
4. guardrails in three states and message fatigue (:mod:`crmlab.campaign.guardrails`), and the
   delivered → opened → clicked → purchased funnel;
5. economics (:mod:`crmlab.campaign.economics`): incremental profit with its interval and
   probability, costs split into sends and coupons, break-even lift, ROI/iROAS when meaningful;
6. heterogeneity by segment as of assignment, with Benjamini-Hochberg control, and a
   "whom to target next time" table;
7. the verdict (:mod:`crmlab.campaign.decision`) as structured findings, codes and numbers
   (:mod:`crmlab.campaign.findings`).

This module computes numbers only: it holds no sentence and imports no language module. The
words — the verdict's headline and reasons, the notes, the exclusions — come from
:mod:`crmlab.campaign.narration` (``crmlab.campaign.evaluate`` runs both).

See ``docs/campaign-evaluation.md`` for every definition and choice.
"""
from __future__ import annotations

import html
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmlab.campaign import _stats, endpoints, findings
from crmlab.campaign import economics as econ_
from crmlab.campaign import guardrails as guard_
from crmlab.campaign.findings import Verdict
from crmlab.experiments import DecisionRule
from crmlab.campaign.table import (
    CampaignDataError,
    CampaignInfo,
    campaign_info,
    campaign_table,
    cumulative_revenue,
)
from crmlab.data.consent import consent_basis

CONTROL = "control"
SRM_ALPHA = 0.001          # sample-ratio mismatch flagged at p < 0.001
SMD_FLAG = 0.1             # pre-period imbalance flagged at |SMD| > 0.1
PRE_DAYS = 90              # pre-period for CUPED and balance
STATUS_DAYS = (90, 180)    # inactive status measured at these days after assignment
N_BOOT = 2000
MIN_SEGMENT_ARM = 30       # segment cells with fewer customers per arm are not tested
SEGMENT_PERIOD_DAYS = 30   # segment labels are computed as of each 30-day assignment period
GUARDRAIL_COLUMNS = {"unsubscribe_rate": "unsubscribed", "block_rate": "blocked"}
ADJUST_COVARIATES = ("pre_revenue", "pre_orders", "pre_visits", "tenure_days")
METRIC_COLUMNS = {"conversion": "conversion", "revenue": "revenue", "orders": "orders",
                  "visit": "visit"}


# --------------------------------------------------------------------------- the spec
def _get(obj, key, default=None):
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


@dataclass(frozen=True)
class _Spec:
    """The fields of an experiment spec the evaluation uses (from any spec-like object)."""

    campaign_id: Any
    title: str | None
    primary: str
    window_days: float
    secondary: tuple
    guardrails: dict
    horizon_days: float
    exploratory: bool
    exploratory_reason: str | None
    churn_after_days: float
    alpha: float
    mde: float
    analysis: str
    looks: int
    rule: dict
    segments: tuple
    margin_rate: float
    coupon_cost: float | None
    report_lang: str
    seed: int
    raw: dict

    @classmethod
    def of(cls, spec) -> "_Spec":
        if isinstance(spec, dict):
            from crmlab.experiments import spec_from_dict
            spec = spec_from_dict(spec)
        pm = _get(spec, "primary_metric", {}) or {}
        rule = _get(spec, "decision_rule", {}) or {}
        econ = _get(spec, "economics", {}) or {}
        guards = _get(spec, "guardrails", {}) or {}
        guardrails = {k: float(_get(v, "max_increase")) for k, v in dict(guards).items()}
        raw = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
        return cls(
            campaign_id=_get(spec, "campaign_id"),
            title=_get(spec, "title"),
            primary=str(_get(pm, "name", "conversion")),
            window_days=float(_get(pm, "window_days", 7)),
            secondary=tuple(_get(spec, "secondary_metrics", ("revenue", "aov")) or ()),
            guardrails=guardrails,
            horizon_days=float(_get(spec, "horizon_days", 183)),
            exploratory=bool(_get(spec, "exploratory", False)),
            exploratory_reason=_get(spec, "exploratory_reason"),
            churn_after_days=float(_get(spec, "churn_after_days", 90)),
            alpha=float(_get(spec, "alpha", 0.05)),
            mde=float(_get(spec, "mde", 0.01)),
            analysis=str(_get(spec, "analysis", "fixed")),
            looks=int(_get(spec, "looks", 1)),
            rule=dict(
                require_primary_significant=bool(_get(rule, "require_primary_significant", True)),
                min_ltv_lift=float(_get(rule, "min_ltv_lift", 0.0)),
                require_positive_roi=bool(_get(rule, "require_positive_roi", True)),
                require_guardrails=bool(_get(rule, "require_guardrails", True)),
                min_p_profitable=float(_get(rule, "min_p_profitable",
                                                 DecisionRule.min_p_profitable)),
            ),
            segments=tuple(_get(spec, "segments", ("rfm_segment", "lifecycle_stage")) or ()),
            margin_rate=float(_get(econ, "margin_rate", 0.3)),
            coupon_cost=(None if _get(econ, "coupon_cost") is None
                         else float(_get(econ, "coupon_cost"))),
            report_lang=str(_get(spec, "report_lang", "en")),
            seed=int(_get(spec, "seed", 0)),
            raw=_json_safe(raw),
        )


# --------------------------------------------------------------------------- JSON safety
def _json_safe(obj):
    """Plain JSON types only: NaN/inf -> None, numpy -> Python, timestamps -> ISO strings."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, pd.Timestamp):
        return None if obj is pd.NaT else obj.isoformat()
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NaT or (isinstance(obj, float) and math.isnan(obj)):
        return None
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    if df is None or len(df) == 0:
        return []
    d = df.reindex(columns=columns)
    return [_json_safe(r) for r in d.to_dict(orient="records")]


# --------------------------------------------------------------------------- segments
def segment_labels(data, as_of, segments, customer_ids=None) -> tuple[pd.DataFrame, list[str]]:
    """Segment labels of customers as of ``as_of`` (nothing at or after it is read).

    ``rfm_segment`` comes from :func:`crmlab.segments.rfm_scores` on
    :func:`crmlab.summaries.rfm_summary` of the orders before ``as_of`` (customers with no
    purchase yet get the ``segment`` that ``rfm_scores`` gives them); ``lifecycle_stage`` from
    :func:`crmlab.segments.lifecycle_stages`; ``region`` and ``acquisition_channel`` from
    ``customers``. Returns the labels indexed by ``customer_id`` and notes on what was not
    available.

    Examples
    --------
    >>> labels, notes = segment_labels(data, "2024-06-01", ["rfm_segment"], ids)  # doctest: +SKIP
    """
    as_of = pd.Timestamp(as_of)
    index = pd.Index(customer_ids if customer_ids is not None else [], name="customer_id")
    out = pd.DataFrame(index=index)
    notes = []
    for seg in segments:
        try:
            if seg == "rfm_segment":
                from crmlab.segments import rfm_scores
                from crmlab.summaries import rfm_summary
                summ = rfm_summary(data.orders, observation_end=as_of)
                scores = rfm_scores(summ, customers=list(index))
                lab = scores.table["segment"].astype(str)
                out[seg] = lab.reindex(index).fillna("no purchase yet").to_numpy()
            elif seg == "lifecycle_stage":
                from crmlab.segments import lifecycle_stages
                st = lifecycle_stages(data, as_of=as_of).table["stage"].astype(str)
                out[seg] = st.reindex(index).fillna("unknown").to_numpy()
            elif seg in ("region", "acquisition_channel"):
                if data.customers is None or seg not in data.customers.columns:
                    notes.append(dict(code="segment_missing", segment=seg))
                    continue
                c = data.customers.select("customer_id", seg).to_pandas().set_index("customer_id")
                out[seg] = c[seg].astype(str).reindex(index).fillna("unknown").to_numpy()
            else:
                notes.append(dict(code="segment_unknown", segment=seg))
        except ImportError as exc:
            notes.append(dict(code="segment_unavailable", segment=seg, error=str(exc)))
    return out, notes


def segment_labels_at_assignment(data, table: pd.DataFrame, segments,
                                 period_days: float = SEGMENT_PERIOD_DAYS
                                 ) -> tuple[pd.DataFrame, list[str]]:
    """Segment labels as of each customer's assignment, with nothing after it read.

    Customers are grouped by assignment period (``period_days`` from the first assignment);
    each group is labelled as of its earliest ``assigned_ts``, so labels are at most
    ``period_days`` old at assignment and never use data from after it.
    """
    t = table[["customer_id", "assigned_ts"]]
    start = t["assigned_ts"].min()
    period = ((t["assigned_ts"] - start).dt.total_seconds() // (period_days * 86400)).astype(int)
    frames, notes = [], []
    for _, g in t.groupby(period, sort=True):
        lab, n = segment_labels(data, g["assigned_ts"].min(), segments, g["customer_id"])
        frames.append(lab)
        notes = n
    labels = pd.concat(frames) if frames else pd.DataFrame()
    return labels, notes


# --------------------------------------------------------------------------- the result
@dataclass
class CampaignEvaluation:
    """One campaign's evaluation. Every table holds aggregates only (no customer identifiers).

    Attributes
    ----------
    campaign : CampaignInfo
    spec : dict (the spec's content) and ``lang`` (the report language)
    audience : arm, n, share, expected_share
    data_quality : table, check, rows, action (the loader's ledger)
    integrity : dict with srm_p_value, srm_flag, balance_max_smd, sends_without_consent
        (also as consent_violations), night_sends_without_consent — both judged at the time of
        each send — and consent_basis ("events": consent_events; "current_flags": today's
        customers flags; "none"); ``balance`` the SMD per covariate and arm
    primary, secondary : tidy lift tables (metric, arm, n, value, control_value, abs_lift,
        rel_lift, ci_low, ci_high, p_value, method)
    long_term : one row per treatment arm (hazard ratio, RMST, LTV lift ...);
        ``long_term_rates`` repurchase / inactive rates; ``km`` retention curves;
        ``cumulative`` revenue curves
    guardrails : one row per arm and guardrail with ``state`` (within, breached, not settled,
        not judged), ``breached`` (True / False / None) and ``why``
    fatigue : unsubscribe and block rates by prior-send fatigue level and arm
    endpoint : ``"churn"`` or ``"reactivation"`` (the page's long-term endpoint)
    funnel, economics, heterogeneity, targeting : tables
    verdict : Verdict
    exclusions : code, days, rows (every customer left out of some analysis, and why:
        ``horizon_partial``, ``active_at_assignment``, ``lapsed_at_assignment``)
    notes : list of dicts, each with a ``code`` and its numbers (``sequential``,
        ``consent_current_flags``, ``block_rate_no_baseline``, ``warning`` ...); the words are
        :func:`crmlab.campaign.narration.note_text`
    """

    campaign: CampaignInfo
    spec: dict
    lang: str
    currency: str
    exploratory: bool
    exploratory_reason: str | None
    horizon_days: float
    window_days: float
    churn_after_days: float
    alpha: float
    arm_alpha: float
    primary_alpha: float
    audience: pd.DataFrame
    data_quality: pd.DataFrame
    integrity: dict
    balance: pd.DataFrame
    primary: pd.DataFrame
    secondary: pd.DataFrame
    long_term: pd.DataFrame
    long_term_rates: pd.DataFrame
    km: pd.DataFrame
    cumulative: pd.DataFrame
    guardrails: pd.DataFrame
    funnel: pd.DataFrame
    economics: pd.DataFrame
    heterogeneity: pd.DataFrame
    targeting: pd.DataFrame
    verdict: Verdict
    exclusions: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    fatigue: pd.DataFrame = field(default_factory=pd.DataFrame)
    endpoint: str = "churn"

    # -- presentation ------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return self.spec.get("title") or self.campaign.name

    @property
    def reading(self) -> str:
        """The verdict and its reasons in one paragraph."""
        return " ".join([self.verdict.headline] + self.verdict.reasons)

    summary = reading

    def to_frame(self) -> pd.DataFrame:
        """Every arm-vs-control comparison in one tidy table (short-term, long-term, guardrails)."""
        lt = self.long_term
        ltv = pd.DataFrame({
            "metric": "ltv", "arm": lt["arm"], "n": lt["n"], "value": lt["ltv_treatment"],
            "control_value": lt["ltv_control"], "abs_lift": lt["ltv_lift"],
            "rel_lift": lt["ltv_treatment"] / lt["ltv_control"] - 1,
            "ci_low": lt["ltv_ci_low"], "ci_high": lt["ltv_ci_high"], "p_value": lt["ltv_p_value"],
            "method": "difference in means over the horizon; Welch t CI",
        }) if len(lt) else pd.DataFrame()
        parts = [self.primary, self.secondary, ltv, self.long_term_rates, self.guardrails]
        cols = ["metric", "arm", "n", "value", "control_value", "abs_lift", "rel_lift",
                "ci_low", "ci_high", "p_value", "method"]
        return pd.concat([p.reindex(columns=cols) for p in parts if len(p)], ignore_index=True)

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        return (f"<h4>{html.escape(self.title)}</h4><p><b>{html.escape(self.verdict.headline)}</b>"
                f"</p><ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in self.verdict.reasons)
                + "</ul>" + frame.to_html(index=False, float_format=lambda v: f"{v:,.4g}"))

    def __repr__(self) -> str:
        return (f"CampaignEvaluation({self.campaign.campaign_id!r}, decision="
                f"{self.verdict.decision!r}, arms={list(self.audience['arm'])})")

    # -- results.json ------------------------------------------------------------------------
    def to_results(self, provenance: dict | None = None) -> dict:
        """The contract's ``results.json`` content: plain JSON types only (no NaN).

        Examples
        --------
        >>> res = evaluation.to_results({"seed": 0})            # doctest: +SKIP
        >>> json.dumps(res, allow_nan=False)                     # doctest: +SKIP
        """
        c = self.campaign
        aud = self.audience
        out = {
            "campaign_id": c.campaign_id,
            "title": self.title,
            "scenario": c.scenario,
            "channel": c.channel,
            "start_ts": pd.Timestamp(c.start_ts).date().isoformat(),
            "end_ts": pd.Timestamp(c.end_ts).date().isoformat(),
            "status": "ok",
            "exploratory": bool(self.exploratory),
            "exploratory_reason": self.exploratory_reason,
            "report_lang": self.lang,
            "currency": self.currency,
            "audience": {"n_total": int(aud["n"].sum()),
                         "arms": {str(a): int(n) for a, n in zip(aud["arm"], aud["n"])}},
            "verdict": self.verdict.to_dict(),
            "primary": _records(self.primary, ["arm", "metric", "value", "control_value",
                                               "abs_lift", "ci_low", "ci_high", "p_value"]),
            "long_term": _records(self.long_term, [
                "arm", "horizon_days", "hazard_ratio", "hr_ci_low", "hr_ci_high",
                "rmst_diff_days", "ltv_treatment", "ltv_control", "ltv_lift",
                "ltv_unadjusted_lift", "ltv_ci_low", "ltv_ci_high", "p_ltv_above_min",
                "ltv_covariates"]),
            "guardrails": _records(self.guardrails, [
                "arm", "metric", "value", "control_value", "abs_lift", "ci_low", "ci_high",
                "threshold", "breached", "state", "why", "zero_by_design"]),
            "economics": _records(self.economics, [
                "arm", "sends", "send_cost", "coupon_cost", "total_cost", "incremental_cost",
                "incremental_conversions", "incremental_revenue", "incremental_revenue_ci_low",
                "incremental_revenue_ci_high", "incremental_margin", "margin_rate",
                "incremental_profit", "profit_ci_low", "profit_ci_high", "p_profitable",
                "break_even_lift", "roi", "roi_ci_low", "roi_ci_high", "iroas", "iroas_ci_low",
                "iroas_ci_high", "ratio_note", "cost_per_incremental_conversion",
                "interval_method", "adjusted_for", "unadjusted_profit"]),
            "per_arm": _records(self.verdict.per_arm, [
                "arm", "decision", "primary", "ltv", "profit", "p_profitable", "guardrails"]),
            "endpoint": self.endpoint,
            "integrity": _json_safe({k: self.integrity[k] for k in (
                "srm_p_value", "srm_flag", "balance_max_smd", "consent_violations",
                "sends_without_consent", "night_sends_without_consent", "consent_basis")}),
            "data_quality": _records(self.data_quality, ["table", "check", "rows", "action"]),
            "provenance": _json_safe(dict(provenance or {})),
        }
        return _json_safe(out)


# --------------------------------------------------------------------------- evaluate
def _frame(rows, extra=()) -> pd.DataFrame:
    cols = list(dict.fromkeys(_stats.ROW + list(extra)))
    return pd.DataFrame(rows).reindex(columns=cols) if rows else pd.DataFrame(columns=cols)


def _metric_rows(table, metric, control, treatments, alpha) -> list[dict]:
    if metric in ("conversion", "visit"):
        if metric == "visit" and table["visit"].isna().all():
            return []
        return _stats.proportion_rows(table, metric, control, treatments, alpha)
    if metric in ("revenue", "orders"):
        return _stats.adjusted_rows(table, metric, control, treatments, alpha,
                                    ADJUST_COVARIATES)
    if metric == "aov":
        return _stats.ratio_rows(table, "pos_revenue", "orders", control, treatments, alpha,
                                 metric="aov", covariates=ADJUST_COVARIATES)
    raise ValueError(f"unknown metric {metric!r}")


def evaluate(data, spec, *, lang: str | None = None, n_boot: int = N_BOOT) -> CampaignEvaluation:
    """Evaluate one campaign by its experiment spec.

    Parameters
    ----------
    data : CRMData
        The shop's data (``assignments``, ``campaigns``, ``orders``; ``events`` and
        ``customers`` when present).
    spec : ExperimentSpec or dict
        The experiment spec (:func:`crmlab.experiments.load_spec`).
    lang : {"en", "ko"}, optional
        The report language recorded on the result (default the spec's ``report_lang``);
        :func:`crmlab.campaign.narration.narrate` writes the sentences in it.
    n_boot : int
        Bootstrap resamples for the LTV lift interval (seeded by the spec's ``seed``).

    Returns
    -------
    CampaignEvaluation

    Examples
    --------
    >>> from crmlab.experiments import load_spec                     # doctest: +SKIP
    >>> ev = evaluate(crmlab.load("data/demo"), load_spec("experiments/winback.yaml"))  # doctest: +SKIP
    >>> ev.verdict.decision, ev.primary[["arm", "abs_lift", "ci_low", "ci_high"]]       # doctest: +SKIP
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ev = _evaluate(data, spec, lang=lang, n_boot=n_boot)
    seen = set()
    for w in caught:
        text = (w.category.__name__, str(w.message))
        if issubclass(w.category, (DeprecationWarning, FutureWarning)) or text in seen:
            continue
        seen.add(text)
        ev.notes.append(dict(code="warning", category=w.category.__name__,
                             message=str(w.message)))
    return ev


def _evaluate(data, spec, *, lang: str | None, n_boot: int) -> CampaignEvaluation:
    s = _Spec.of(spec)
    lang = lang or s.report_lang
    info = campaign_info(data, s.campaign_id)
    obs_end = pd.Timestamp(data.observation_end)
    table = campaign_table(data, s.campaign_id, window_days=s.window_days,
                           horizon_days=s.horizon_days, pre_days=PRE_DAYS,
                           churn_after_days=s.churn_after_days, status_days=STATUS_DAYS)
    arms = sorted(table["arm"].unique().tolist())
    if CONTROL not in arms:
        raise CampaignDataError(
            f"assignments.arm: campaign {s.campaign_id!r} has no {CONTROL!r} arm among "
            f"{len(table)} assigned customers (arms: {arms})")
    from crmlab.experiments import check_arm_labels
    check_arm_labels(spec if not isinstance(spec, dict) else s.raw, arms, s.campaign_id)
    treatments = [a for a in arms if a != CONTROL]
    if not treatments:
        raise CampaignDataError(
            f"assignments.arm: campaign {s.campaign_id!r} has only the control arm "
            f"({len(table)} customers); nothing to compare")
    k = len(treatments)
    arm_alpha = s.alpha / k
    notes: list[str] = []
    exclusions = []

    # ---- audience and integrity ---------------------------------------------------------------
    n_by_arm = table["arm"].value_counts().reindex(arms).astype(int)
    expected = {CONTROL: info.holdout_share}
    expected.update({a: (1 - info.holdout_share) / k for a in treatments})
    audience = pd.DataFrame({"arm": arms, "n": n_by_arm.to_numpy(),
                             "share": (n_by_arm / n_by_arm.sum()).to_numpy(),
                             "expected_share": [expected[a] for a in arms]})
    srm_p = _stats.srm_p_value(dict(n_by_arm), expected)
    bal_rows = []
    for cov in ("pre_revenue", "pre_orders", "pre_visits", "tenure_days"):
        if cov not in table or table[cov].isna().all():
            continue
        xc = table.loc[table["arm"] == CONTROL, cov]
        for a in treatments:
            bal_rows.append({"covariate": cov, "arm": a,
                             "treatment_mean": table.loc[table["arm"] == a, cov].mean(),
                             "control_mean": xc.mean(),
                             "smd": _stats.smd(table.loc[table["arm"] == a, cov], xc)})
    balance = pd.DataFrame(bal_rows, columns=["covariate", "arm", "treatment_mean",
                                              "control_mean", "smd"])
    max_smd = float(balance["smd"].abs().max()) if len(balance) else float("nan")
    sent = table["sent"] == 1
    consent_known = table["consent_ok"].notna()
    consent_viol = int((sent & consent_known & (table["consent_ok"] == False)).sum())  # noqa: E712
    night_viol = int((sent & (table["night_send"] == 1) & ~table["night_consent_ok"]).sum())
    integrity = {
        "srm_p_value": srm_p, "srm_flag": bool(srm_p < SRM_ALPHA),
        "balance_max_smd": max_smd, "balance_flag": bool(max_smd > SMD_FLAG),
        "consent_violations": consent_viol, "night_sends_without_consent": night_viol,
        "sends_without_consent": consent_viol,
        "consent_basis": consent_basis({n: getattr(data, n, None)
                                        for n in ("customers", "consent_events")}),
        "consent_unknown": int((sent & ~consent_known).sum()),
        "sends": int(sent.sum()),
    }
    if integrity["consent_basis"] == "current_flags" and integrity["sends"]:
        notes.append(dict(code="consent_current_flags"))
    if integrity["consent_unknown"]:
        notes.append(dict(code="consent_unknown", sends=integrity["consent_unknown"],
                          channel=info.channel))

    # ---- data quality -----------------------------------------------------------------------
    q = getattr(data, "quality", None)
    dq = (q.reindex(columns=["table", "check", "rows", "action"]).copy() if q is not None
          else pd.DataFrame(columns=["table", "check", "rows", "action"]))

    # ---- short term -------------------------------------------------------------------------
    primary_alpha = arm_alpha
    if s.analysis == "sequential" and s.looks > 1:
        # the evaluation is the design's final look: the primary metric is judged at the
        # final boundary of the group-sequential design (Lan-DeMets O'Brien-Fleming spending)
        from crmlab.abtest.sequential import group_sequential
        final_p = float(group_sequential(looks=s.looks, alpha=s.alpha).nominal_p[-1])
        primary_alpha = final_p / k
        notes.append(dict(code="sequential", looks=int(s.looks), p=final_p))
    primary = _frame(_metric_rows(table, s.primary, CONTROL, treatments, primary_alpha),
                     ["control_n", "variance_reduction", "unadjusted_abs_lift", "covariates"])
    if len(primary) == 0:
        raise CampaignDataError(
            f"primary metric {s.primary!r}: could not be measured for campaign "
            f"{s.campaign_id!r} (e.g. no events table for visits)")
    sec_rows = []
    for m in s.secondary:
        if m == s.primary:
            continue
        rows = _metric_rows(table, m, CONTROL, treatments, arm_alpha)
        if not rows:
            notes.append(dict(code="secondary_unmeasurable", metric=m))
        sec_rows += rows
    secondary = _frame(sec_rows, ["control_n", "variance_reduction", "unadjusted_abs_lift",
                                  "covariates"])

    # ---- long term --------------------------------------------------------------------------
    full = table["horizon_observed_days"] >= s.horizon_days - 1e-9
    n_partial = int((~full).sum())
    if n_partial:
        exclusions.append({"code": "horizon_partial", "days": s.horizon_days,
                           "rows": n_partial})
    lt_table = table[full]
    ep = endpoints.endpoint_table(data, s.campaign_id, table, s.churn_after_days,
                                  s.horizon_days, obs_end)
    endpoint = endpoints.page_endpoint(ep)
    st = endpoints.spells(ep, endpoint)
    if len(st) < len(ep):
        exclusions.append({"code": ("active_at_assignment"
                                    if endpoint == endpoints.REACTIVATION else
                                    "lapsed_at_assignment"),
                           "days": s.churn_after_days, "rows": int(len(ep) - len(st))})
    km = _stats.km_by_arm(st, s.horizon_days, s.alpha)
    lt_rows = []
    rng_seed = s.seed
    for i, a in enumerate(treatments):
        comp = _stats.survival_comparison(st, CONTROL, a, s.horizon_days, arm_alpha)
        yt = lt_table.loc[lt_table["arm"] == a, "revenue_h"].to_numpy(float)
        yc = lt_table.loc[lt_table["arm"] == CONTROL, "revenue_h"].to_numpy(float)
        if len(yt) >= 2 and len(yc) >= 2:
            ltv = econ_.ltv_interval(
                yt, yc, arm_alpha, n_boot, rng_seed + i, s.rule["min_ltv_lift"],
                x_t=lt_table[lt_table["arm"] == a], x_c=lt_table[lt_table["arm"] == CONTROL],
                covariates=ADJUST_COVARIATES)
        else:
            ltv = dict(ltv_treatment=np.nan, ltv_control=np.nan, ltv_lift=np.nan,
                       ltv_ci_low=np.nan, ltv_ci_high=np.nan, ltv_p_value=np.nan,
                       p_ltv_above_min=np.nan)
        km_a = km[(km["arm"] == a)].set_index("day")["retention"]
        km_c = km[(km["arm"] == CONTROL)].set_index("day")["retention"]
        lt_rows.append(dict(arm=a, n=int((lt_table["arm"] == a).sum()),
                            horizon_days=s.horizon_days, **comp, **ltv,
                            endpoint=endpoint,
                            event_90=_at(1 - km_a, 90), event_90_control=_at(1 - km_c, 90),
                            event_180=_at(1 - km_a, 180),
                            event_180_control=_at(1 - km_c, 180)))
    long_term = pd.DataFrame(lt_rows)
    rate_rows = _stats.proportion_rows(table, "repurchase", CONTROL, treatments, arm_alpha)
    event = "reactivated" if endpoint == endpoints.REACTIVATION else "churned"
    rates = pd.DataFrame({"arm": table["arm"]}, index=table.index)
    for tday in STATUS_DAYS:
        rates[f"{event}_{tday}"] = endpoints.event_by(ep, endpoint, tday)
    if endpoint == endpoints.REACTIVATION:
        rates["retained_reactivated"] = endpoints.retained_reactivated(ep, s.horizon_days)
    for col in rates.columns[1:]:
        if rates[col].notna().any():
            rate_rows += _stats.proportion_rows(rates, col, CONTROL, treatments, arm_alpha)
    long_term_rates = _frame(rate_rows, ["control_n"])
    cumulative = cumulative_revenue(data, s.campaign_id, horizon_days=s.horizon_days,
                                    step_days=7)

    # ---- guardrails and funnel -------------------------------------------------------------
    g_rows = []
    # the decision asks each guardrail to be within its allowance with the confidence it asks
    # of the profit (min_p_profitable, one-sided): the upper bound at that level
    decision_alpha = 2 * (1 - s.rule["min_p_profitable"]) / k
    holdout_unsent = int(table.loc[table["arm"] == CONTROL, "sent"].sum()) == 0
    for g, thr in s.guardrails.items():
        col = GUARDRAIL_COLUMNS.get(g)
        if col is None:
            raise ValueError(f"guardrail {g!r}: unknown; allowed: {sorted(GUARDRAIL_COLUMNS)}")
        why = None
        # a holdout that receives no message cannot unsubscribe from it: its rate is zero by
        # design, and the displayed interval and the decision's bound both use that
        zero = holdout_unsent and g == "unsubscribe_rate"
        if g == "block_rate" and holdout_unsent:
            rows, note = _block_rate_rows(data, info, table, treatments, arm_alpha, obs_end)
            d_rows, _ = _block_rate_rows(data, info, table, treatments, decision_alpha, obs_end)
            if note:
                notes.append(note)
                why = "no_channel_baseline"
        else:
            rows = _stats.proportion_rows(table, col, CONTROL, treatments, arm_alpha, metric=g,
                                          control_zero_by_design=zero)
            d_rows = _stats.proportion_rows(table, col, CONTROL, treatments, decision_alpha,
                                            metric=g, control_zero_by_design=zero)
            for r in rows:
                r["baseline"] = "control"
        upper = {r["arm"]: r["ci_high"] for r in d_rows}
        for r in rows:
            r["decision_upper"] = upper.get(r["arm"], np.nan)
        guard_.apply_states(rows, thr, why)
        g_rows += rows
    guardrails = _frame(g_rows, ["control_n", "threshold", "breached", "state", "why",
                                 "decision_upper", "baseline", "zero_by_design"])
    funnel = _funnel(table, arms)
    fatigue = guard_.fatigue_effects(
        table, guard_.fatigue_levels(guard_.prior_sends(data.assignments, s.campaign_id, table)), CONTROL,
        treatments, arm_alpha)

    # ---- economics ---------------------------------------------------------------------------
    conv = _conv_lifts(table, treatments)
    economics = pd.DataFrame([econ_.arm_economics(
        table, full, a, CONTROL, cost_per_send=info.cost_per_send, coupon_cost=s.coupon_cost,
        margin_rate=s.margin_rate, alpha=arm_alpha, min_p=s.rule["min_p_profitable"],
        conv_lift=conv[a], n_boot=n_boot, seed=rng_seed + i, covariates=ADJUST_COVARIATES)
        for i, a in enumerate(treatments)])

    # ---- heterogeneity -----------------------------------------------------------------------
    labels, seg_notes = segment_labels_at_assignment(data, table, s.segments)
    notes += seg_notes
    heterogeneity, targeting = _heterogeneity(table, labels, treatments, s, info, arm_alpha)

    # ---- verdict -----------------------------------------------------------------------------
    verdict = findings.build_verdict(s, integrity, primary, long_term, guardrails, economics,
                                     treatments, arm_alpha, n_partial, control=CONTROL,
                                     primary_alpha=primary_alpha, table=table)

    return CampaignEvaluation(
        campaign=info, spec=s.raw, lang=lang, currency=data_currency(data),
        exploratory=s.exploratory, exploratory_reason=s.exploratory_reason,
        horizon_days=s.horizon_days, window_days=s.window_days,
        churn_after_days=s.churn_after_days, alpha=s.alpha, arm_alpha=arm_alpha,
        audience=audience, data_quality=dq, integrity=integrity, balance=balance,
        primary_alpha=primary_alpha,
        primary=primary, secondary=secondary, long_term=long_term,
        long_term_rates=long_term_rates, km=km, cumulative=cumulative, guardrails=guardrails,
        funnel=funnel, economics=economics, heterogeneity=heterogeneity, targeting=targeting,
        verdict=verdict,
        exclusions=pd.DataFrame(exclusions, columns=["code", "days", "rows"]), notes=notes,
        fatigue=fatigue, endpoint=endpoint,
    )


def data_currency(data) -> str:
    return str(getattr(data, "currency", None) or "KRW")


def _at(series: pd.Series, day: float) -> float:
    idx = series.index[series.index <= day]
    return float(series.loc[idx.max()]) if len(idx) else float("nan")


MIN_BASELINE_SENDS = 100


def _block_rate_rows(data, info: CampaignInfo, table, treatments, alpha, obs_end):
    """Block rate (sends not delivered) when the holdout received no message.

    The holdout's block rate is then undefined, not zero: non-delivery (invalid numbers, expired
    push tokens, customers who blocked the sender) exists only where something is sent. The
    arm's block rate among its sends is compared with the same channel's block rate on every
    other campaign's sends in the observed period (the channel's usual rate). Without at least
    ``MIN_BASELINE_SENDS`` such sends the guardrail is reported but not judged.
    """
    import ibis

    a, c = data.assignments, data.campaigns
    cols = set(a.columns)
    base_x = base_n = 0
    if {"sent_ts", "delivered"} <= cols:
        obs = ibis.literal(pd.Timestamp(obs_end).to_pydatetime())
        other = c.filter((c.channel == info.channel) & (c.campaign_id != info.campaign_id))
        j = a.join(other.select("campaign_id"), "campaign_id")
        j = j.filter(j.sent_ts.notnull() & (j.sent_ts < obs))
        agg = j.aggregate(n=j.count(), x=(~j.delivered.fill_null(False)).cast("int64").sum())
        res = agg.to_pandas().iloc[0]
        base_n, base_x = int(res["n"] or 0), int(res["x"] or 0)
    rows = []
    sent = table[table["sent"] == 1]
    for arm in treatments:
        g = sent[sent["arm"] == arm]
        n, x = len(g), int(g["blocked"].sum())
        row = dict(metric="block_rate", arm=arm, n=n, control_n=base_n,
                   value=x / n if n else np.nan, control_value=np.nan, abs_lift=np.nan,
                   rel_lift=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
                   method="share of sends not delivered", baseline="none", zero_by_design=False)
        if n and base_n >= MIN_BASELINE_SENDS:
            from crmlab.abtest import proportions_from_counts
            f = proportions_from_counts({"channel": base_x, arm: x}, {"channel": base_n, arm: n},
                                        "channel", alpha=alpha, metric="block_rate").to_frame()
            f = f.iloc[0]
            row.update(control_value=f["control_value"], abs_lift=f["abs_lift"],
                       rel_lift=f["rel_lift"], ci_low=f["ci_low"], ci_high=f["ci_high"],
                       p_value=f["p_value"], baseline=f"channel {info.channel}",
                       method=f"{f['method']}; baseline: other campaigns' sends on "
                              f"{info.channel}")
        rows.append(row)
    note = None
    if base_n < MIN_BASELINE_SENDS:
        note = dict(code="block_rate_no_baseline", sends=int(base_n), channel=info.channel,
                    min_sends=MIN_BASELINE_SENDS)
    return rows, note


def _conv_lifts(table, treatments) -> dict:
    pc = table.loc[table["arm"] == CONTROL, "conversion"].mean()
    return {a: table.loc[table["arm"] == a, "conversion"].mean() - pc for a in treatments}


def _funnel(table: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    rows = []
    for a in arms:
        g = table[table["arm"] == a]
        n = len(g)
        steps = [("assigned", n), ("sent", int(g["sent"].sum())),
                 ("delivered", int(g["delivered"].sum())), ("opened", int(g["opened"].sum())),
                 ("clicked", int(g["clicked"].sum())), ("purchased", int(g["conversion"].sum()))]
        for step, count in steps:
            rows.append({"arm": a, "step": step, "customers": count,
                         "share_of_assigned": count / n if n else np.nan})
    return pd.DataFrame(rows)


def _heterogeneity(table, labels: pd.DataFrame, treatments, s: _Spec, info, arm_alpha):
    cols = ["segment", "level", "arm", "n", "control_n", "conversion_lift", "conversion_p",
            "ltv", "ltv_control", "ltv_lift", "ltv_ci_low", "ltv_ci_high", "ltv_p",
            "ltv_p_holm", "ltv_p_bh", "conversion_p_bh", "cost_per_customer",
            "net_value_per_customer", "recommendation"]
    if labels.shape[1] == 0:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=cols)
    t = table.merge(labels, left_on="customer_id", right_index=True, how="left")
    full = t["horizon_observed_days"] >= s.horizon_days - 1e-9
    rows = []
    for seg in labels.columns:
        for level, g in t.groupby(seg, sort=True):
            gc = g[g["arm"] == CONTROL]
            for a in treatments:
                ga = g[g["arm"] == a]
                if len(ga) < MIN_SEGMENT_ARM or len(gc) < MIN_SEGMENT_ARM:
                    continue
                pr = _stats.proportion_rows(pd.concat([ga, gc]), "conversion", CONTROL, [a],
                                            arm_alpha)
                yt = ga.loc[full.loc[ga.index], "revenue_h"].to_numpy(float)
                yc = gc.loc[full.loc[gc.index], "revenue_h"].to_numpy(float)
                if len(yt) < 2 or len(yc) < 2:
                    continue
                diff, lo, hi, p = _stats.welch_diff(yt, yc, arm_alpha)
                cost = (ga["sent"].sum() * info.cost_per_send + (
                    ga["coupon_cost"].sum() if s.coupon_cost is None
                    else s.coupon_cost * ga["conversion"].sum())) / len(ga)
                rows.append(dict(segment=seg, level=str(level), arm=a, n=len(ga),
                                 control_n=len(gc),
                                 conversion_lift=pr[0]["abs_lift"] if pr else np.nan,
                                 conversion_p=pr[0]["p_value"] if pr else np.nan,
                                 ltv=yt.mean(), ltv_control=yc.mean(), ltv_lift=diff,
                                 ltv_ci_low=lo, ltv_ci_high=hi, ltv_p=p,
                                 cost_per_customer=cost,
                                 net_value_per_customer=s.margin_rate * diff - cost))
    het = pd.DataFrame(rows, columns=cols)
    if len(het) == 0:
        return het, het
    het["ltv_p_holm"] = _stats.holm(het["ltv_p"].to_numpy())
    het["ltv_p_bh"] = _stats.bh(het["ltv_p"].to_numpy())
    het["conversion_p_bh"] = _stats.bh(het["conversion_p"].to_numpy())
    sig = het["ltv_p_bh"] < s.alpha
    rec = np.where(sig & (het["ltv_lift"] > 0) & (het["net_value_per_customer"] > 0), "target",
                   np.where(sig & (het["ltv_lift"] < 0), "avoid", "unclear"))
    het["recommendation"] = rec
    targeting = het.sort_values(["net_value_per_customer"], ascending=False).reset_index(drop=True)
    return het, targeting
