"""One campaign end to end: learn whom the message changes from its randomized holdout, check
it on held-out customers, and choose the next audience by expected profit.

:func:`campaign_uplift` fits a meta-learner on a training share of the campaign's assigned
customers (cross-fitted inside it) and scores the held-out rest, which the model never saw:
the Qini curve, the Qini coefficient with a bootstrap interval, and the profit of targeting the
top *k* % against sending to everyone, all on held-out customers. :func:`targeting_summary`
returns only aggregates (for reports); :func:`next_audience` refits on every customer and
returns the ids of the customers to send to next time, per arm (for the CRM tool, never for a
report).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.campaign.table import campaign_info, campaign_table
from crmlab.uplift.features import feature_columns, uplift_features
from crmlab.uplift.learners import DRLearner, TLearner, XLearner
from crmlab.uplift.metrics import bootstrap_metric, curve_points, qini_auc_score, \
    targeting_comparison
from crmlab.uplift.selection import expected_profit, select_audience

__all__ = ["campaign_uplift", "CampaignUplift", "targeting_summary", "next_audience",
           "LEARNERS", "describe_segments"]

LEARNERS = {"t": TLearner, "x": XLearner, "dr": DRLearner}
#: Outcome name -> (campaign-table column, what one unit is).
OUTCOMES = {"conversion": ("conversion", "conversion in the window"),
            "revenue": ("revenue_h", "revenue over the horizon")}


@dataclass
class CampaignUplift:
    """A campaign's uplift model and its held-out validation (aggregates + the model).

    Attributes
    ----------
    campaign_id, outcome, learner : str
    model : fitted learner (on the training share)
    qini : DataFrame
        Held-out Qini curve points per treatment arm (``arm, share, targeted, incremental,
        random``).
    qini_coefficient : DataFrame
        Per arm: ``estimate, low, high`` (bootstrap), ``n_holdout``.
    profit : DataFrame
        Per arm and share *k*: held-out incremental profit of targeting the top *k* by the
        model's expected profit, vs everyone (observed on held-out customers: treated minus
        control mean outcome × margin − costs, scaled to the targeted count).
    who : DataFrame
        The model's top 30 % by expected profit described by segment (stage, RFM segment,
        acquisition channel): share of the top vs share of everyone.
    comparison : DataFrame
        Per arm, on held-out customers: incremental outcomes (Qini units) of the model's top
        30 %, random 30 %, everyone, and the best single lifecycle stage or RFM segment.
    """

    campaign_id: str
    outcome: str
    learner: str
    model: object = field(repr=False)
    qini: pd.DataFrame = field(repr=False)
    qini_coefficient: pd.DataFrame = field(repr=False)
    profit: pd.DataFrame = field(repr=False)
    who: pd.DataFrame = field(repr=False)
    comparison: pd.DataFrame = field(default=None, repr=False)
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.qini_coefficient

    def _repr_html_(self) -> str:
        return ("<h4>Uplift: " + self.campaign_id + f" ({self.outcome}, {self.learner}-learner)"
                "</h4>" + self.qini_coefficient.to_html(index=False, float_format="%.4g")
                + self.profit.to_html(index=False, float_format="%.4g"))


def _margin_units(outcome: str, margin: float | None) -> float:
    if margin is not None:
        if not np.isfinite(margin):
            raise ValueError(f"margin must be a finite number, got {margin}")
        return float(margin)
    raise ValueError(f"margin: needed for the {outcome!r} outcome (KRW of margin per "
                     + ("conversion)" if outcome == "conversion" else "KRW of revenue, e.g. 0.3)"))


def _campaign_frame(data, campaign_id, window_days, horizon_days):
    X = uplift_features(data, campaign_id)
    t = campaign_table(data, campaign_id, window_days=window_days, horizon_days=horizon_days)
    if X.customer_id.tolist() != t.customer_id.tolist():      # pragma: no cover
        raise RuntimeError(f"{campaign_id}: features and campaign table disagree on customers")
    return X, t


def _costs(info, arms, t):
    """Send cost per arm and coupon value per arm (from the campaign and its assignments)."""
    send = {a: float(info.cost_per_send) for a in arms}
    coupon = {}
    for a in arms:
        paid = t.loc[(t.arm == a) & (t.coupon_cost > 0), "coupon_cost"]
        coupon[a] = float(paid.median()) if len(paid) else 0.0
    return send, coupon


def describe_segments(features: pd.DataFrame, selected: np.ndarray,
                      columns=("stage", "rfm_segment", "acquisition_channel")) -> pd.DataFrame:
    """Who the selected customers are: for each segment column and value, the share of the
    selected and the share of everyone, and the ratio (over-representation). Aggregates only."""
    rows = []
    sel = np.asarray(selected, dtype=bool)
    for col in columns:
        if col not in features:
            continue
        v = features[col].astype(str)
        for value in sorted(v.unique()):
            everyone = float((v == value).mean())
            share = float((v[sel] == value).mean()) if sel.any() else 0.0
            rows.append({"column": col, "value": value, "share_selected": share,
                         "share_all": everyone, "ratio": share / everyone if everyone else np.nan,
                         "n_selected": int((v[sel] == value).sum())})
    out = pd.DataFrame(rows)
    return out.sort_values(["column", "ratio"], ascending=[True, False]).reset_index(drop=True)


def campaign_uplift(data, campaign_id, *, outcome: str = "conversion", learner: str = "dr",
                    margin: float | None = None, holdout_share: float = 0.3,
                    window_days: float = 7, horizon_days: float = 180, n_folds: int = 5,
                    n_boot: int = 200, shares=(0.1, 0.2, 0.3, 0.5, 1.0), random_state: int = 0,
                    n_threads: int | None = None) -> CampaignUplift:
    """Fit an uplift model on a campaign and validate it on held-out customers.

    Parameters
    ----------
    data : CRMData
    campaign_id : str
    outcome : {'conversion', 'revenue'}
        ``conversion`` (any purchase in ``window_days``) or ``revenue`` (over
        ``horizon_days``).
    learner : {'t', 'x', 'dr'}
    margin : float
        KRW of margin per incremental conversion, or margin per KRW of revenue (e.g. 0.3).
    holdout_share : float
        Share of the assigned customers kept out of the fit for validation (stratified by arm).
    shares : tuple of float
        The shares *k* at which the profit of top-*k* targeting is reported.

    Returns
    -------
    CampaignUplift
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}")
    if learner not in LEARNERS:
        raise ValueError(f"learner must be one of {sorted(LEARNERS)}, got {learner!r}")
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be in (0, 1), got {holdout_share}")
    m_unit = _margin_units(outcome, margin)
    X, t = _campaign_frame(data, campaign_id, window_days, horizon_days)
    info = campaign_info(data, campaign_id)
    y = t[OUTCOMES[outcome][0]].to_numpy(dtype="float64")
    arm = t["arm"].to_numpy().astype(str)
    rng = np.random.default_rng(random_state)
    test = np.zeros(len(t), bool)
    for a in np.unique(arm):                       # stratified by arm
        rows = np.nonzero(arm == a)[0]
        test[rng.choice(rows, int(round(holdout_share * len(rows))), replace=False)] = True
    cols = feature_columns(X)
    model = LEARNERS[learner](n_folds=n_folds, random_state=random_state,
                              n_threads=n_threads).fit(X.loc[~test, cols], y[~test], arm[~test])
    arms = model.arms_
    send, coupon = _costs(info, arms, t)
    Xt = X.loc[test, cols].reset_index(drop=True)
    up = model.predict_effect(Xt)
    # P(a treated customer buys in the window): what a coupon costs in expectation
    conv = model if outcome == "conversion" else TLearner(
        n_folds=n_folds, random_state=random_state, n_threads=n_threads).fit(
        X.loc[~test, cols], t.conversion.to_numpy()[~test], arm[~test])
    p_redeem = conv.predict_outcome(Xt)
    profit = expected_profit(up, margin=m_unit, send_cost=send, coupon_value=coupon,
                             p_redeem=p_redeem)
    yt, at = y[test], arm[test]
    ct = t.loc[test].reset_index(drop=True)
    qini_rows, coef_rows, profit_rows, comp_rows = [], [], [], []
    seg = (X.loc[test, "stage"].astype(str) + " / " + X.loc[test, "rfm_segment"].astype(str)
           ).reset_index(drop=True)
    for a in arms:
        keep = (at == a) | (at == model.control)
        tr = (at[keep] == a).astype(int)
        pts = curve_points(yt[keep], up[a].to_numpy()[keep], tr)
        pts.insert(0, "arm", a)
        qini_rows.append(pts)
        ci = bootstrap_metric(qini_auc_score, yt[keep], up[a].to_numpy()[keep], tr,
                              n_boot=n_boot, random_state=random_state)
        coef_rows.append({"arm": a, "estimate": ci.estimate, "low": ci.low, "high": ci.high,
                          "level": ci.level, "n_holdout": int(keep.sum())})
        comp = targeting_comparison(yt[keep], up[a].to_numpy()[keep], tr,
                                    segments=seg[keep].reset_index(drop=True), k=0.3)
        comp.insert(0, "arm", a)
        comp_rows.append(comp)
        profit_rows += _heldout_profit(yt[keep], tr, profit[a].to_numpy()[keep],
                                       ct.coupon_cost.to_numpy()[keep], m_unit, send[a], a,
                                       shares)
    top = profit.max(axis=1).to_numpy()
    chosen = top >= np.quantile(top, 0.7)
    who = describe_segments(X.loc[test].reset_index(drop=True), chosen)
    return CampaignUplift(
        campaign_id=campaign_id, outcome=outcome, learner=learner, model=model,
        qini=pd.concat(qini_rows, ignore_index=True), qini_coefficient=pd.DataFrame(coef_rows),
        profit=pd.DataFrame(profit_rows), who=who,
        comparison=pd.concat(comp_rows, ignore_index=True),
        settings={"margin": m_unit, "send_cost": send, "coupon_value": coupon,
                  "holdout_share": holdout_share, "n_folds": n_folds, "n_boot": n_boot,
                  "window_days": window_days, "horizon_days": horizon_days,
                  "n_train": int((~test).sum()), "n_holdout": int(test.sum())})


def _heldout_profit(y, tr, score, coupon_paid, margin, send, arm, shares):
    """Observed incremental profit of targeting the top share by ``score`` among held-out
    customers: (treated mean − control mean) × margin − send cost − coupons paid by the
    treated, per targeted customer × the number targeted."""
    order = np.argsort(-score, kind="mergesort")
    rows = []
    n = len(y)
    for k in shares:
        top = order[: max(1, int(round(k * n)))]
        t1, t0 = top[tr[top] == 1], top[tr[top] == 0]
        if len(t1) == 0 or len(t0) == 0:
            continue
        lift = y[t1].mean() - y[t0].mean()
        per = lift * margin - send - coupon_paid[t1].mean()
        rows.append({"arm": arm, "share": float(k), "targeted": int(len(top)),
                     "lift": float(lift), "profit_per_customer": float(per),
                     "profit": float(per * len(top))})
    return rows


def targeting_summary(result: CampaignUplift) -> dict:
    """The aggregates a campaign report shows (no customer ids): held-out Qini curve points,
    the Qini coefficient with its interval, the profit of the top *k* % vs everyone, and who
    the top customers are by segment."""
    return {
        "campaign_id": result.campaign_id, "outcome": result.outcome,
        "learner": result.learner,
        "qini_curve": result.qini.to_dict(orient="records"),
        "qini_coefficient": result.qini_coefficient.to_dict(orient="records"),
        "profit_top_k": result.profit.to_dict(orient="records"),
        "who": result.who.to_dict(orient="records"),
        "comparison": result.comparison.to_dict(orient="records"),
        "settings": {k: v for k, v in result.settings.items()},
    }


def next_audience(data, campaign_id, *, outcome: str = "conversion", learner: str = "dr",
                  margin: float, budget: float | None = None, min_profit: float = 0.0,
                  max_share: float | None = None, window_days: float = 7,
                  horizon_days: float = 180, n_folds: int = 5, n_threads: int | None = None,
                  customers=None):
    """Whom to send to next time: refit on every assigned customer of the campaign, score
    ``customers`` (default: the same customers, features as of their assignment), and select
    by expected profit within ``budget`` (KRW of expected spend: send cost + expected coupons).

    Returns an :class:`crmlab.uplift.selection.Audience` whose ``table`` holds **customer
    ids** (for the CRM tool; never for a report) and whose ``summary`` holds aggregates.
    """
    m_unit = _margin_units(outcome, margin)
    X, t = _campaign_frame(data, campaign_id, window_days, horizon_days)
    info = campaign_info(data, campaign_id)
    cols = feature_columns(X)
    y = t[OUTCOMES[outcome][0]].to_numpy(dtype="float64")
    model = LEARNERS[learner](n_folds=n_folds, n_threads=n_threads).fit(X[cols], y, t.arm)
    score_X = X if customers is None else customers
    up = model.predict_effect(score_X[cols])
    conv = model if outcome == "conversion" else TLearner(
        n_folds=n_folds, n_threads=n_threads).fit(X[cols], t.conversion, t.arm)
    p = conv.predict_outcome(score_X[cols])
    send, coupon = _costs(info, model.arms_, t)
    profit = expected_profit(up, margin=m_unit, send_cost=send, coupon_value=coupon, p_redeem=p)
    cost = pd.DataFrame({a: send[a] + coupon[a] * p[a].clip(0, 1) for a in model.arms_})
    return select_audience(profit, cost=cost, budget=budget, min_profit=min_profit,
                           max_share=max_share, customer_id=score_X["customer_id"].to_numpy())
