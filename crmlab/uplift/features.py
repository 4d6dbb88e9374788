"""Features of each assigned customer as of the assignment: nothing at or after ``assigned_ts``.

One row per customer assigned to a campaign, every column computed in the engine from the rows
of ``orders``, ``events``, ``assignments`` (earlier campaigns) strictly before that customer's own
``assigned_ts``, plus the ``customers`` table:

- RFM at assignment: orders, revenue, recency, first-order age, mean order value, orders and
  revenue over the last 30 / 90 / 365 days;
- engagement before: visits, product views, cart adds, wishlists, support contacts over the last
  7 / 30 / 90 days, days since the last visit and the last cart add;
- lifecycle stage at assignment (the rules of :func:`crmlab.segments.lifecycle_stages` without
  VIP and returning, which need the whole customer base at one date) and the RFM segment
  (scores among the assigned customers, :data:`crmlab.segments.RFM_SEGMENTS`);
- the customer: tenure, age, acquisition channel, region, and each consent **as of the
  assignment** (the ``customers`` flags are a snapshot at ``observation_end``; a consent withdrawn
  by an unsubscribe at or after ``assigned_ts`` is restored);
- past campaign exposure: earlier assignments, sends, opens, clicks, treated assignments, days
  since the last send.
"""
from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from crmlab._engine import to_pandas
from crmlab.campaign.table import CampaignDataError, campaign_info
from crmlab.data.schema import CHANNEL_CONSENT
from crmlab.segments import _assign_segments, quantile_scores

__all__ = ["uplift_features", "feature_columns", "FEATURE_GROUPS", "CATEGORICAL_FEATURES"]

DAY = 86400.0
_CONSENTS = ("consent_email", "consent_sms", "consent_push", "consent_kakao", "consent_night")
#: Columns of :func:`uplift_features` that are categories (HistGradientBoosting uses them as such).
CATEGORICAL_FEATURES = ("acquisition_channel", "region", "stage", "rfm_segment")
#: Feature names by group, for documentation and for choosing subsets.
FEATURE_GROUPS = {
    "rfm": ["orders_total", "revenue_total", "days_since_last_order", "days_since_first_order",
            "mean_order_value", "orders_30d", "orders_90d", "orders_365d", "revenue_90d",
            "revenue_365d", "r_score", "f_score", "m_score"],
    "engagement": ["visits_7d", "visits_30d", "visits_90d", "views_30d", "cart_adds_7d",
                   "cart_adds_30d", "wishlists_30d", "support_90d", "days_since_last_visit",
                   "days_since_last_cart_add"],
    "lifecycle": ["stage", "rfm_segment"],
    "customer": ["tenure_days", "age_years", "acquisition_channel", "region"],
    "consent": list(_CONSENTS) + ["consent_channel"],
    "exposure": ["past_assignments", "past_treated", "past_sends", "past_opens", "past_clicks",
                 "days_since_last_send"],
}


def _days(later, earlier):
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / DAY


def uplift_features(data, campaign_id, *, observation_end=None, dormant_after_days: int = 180,
                    new_max_purchases: int = 2) -> pd.DataFrame:
    """Per-customer features of a campaign's assigned customers, as of each ``assigned_ts``.

    Parameters
    ----------
    data : CRMData
        Needs ``assignments`` and ``orders``; ``customers``, ``events`` and ``campaigns`` are used
        when present.
    campaign_id : str
        The campaign whose assigned customers get a row.
    observation_end : timestamp, optional
        Assignments at or after it are not read; default ``data.observation_end``.
    dormant_after_days, new_max_purchases
        The lifecycle rules (as in :func:`crmlab.segments.lifecycle_stages`; *interested* looks
        at the last 30 days).

    Returns
    -------
    pandas.DataFrame
        ``customer_id, arm, assigned_ts`` and the feature columns of :data:`FEATURE_GROUPS`
        present in the data, sorted by ``customer_id``. Missing "days since" values (never
        happened) are NaN; counts are 0.

    Examples
    --------
    >>> X = uplift_features(data, "winback_lms")               # doctest: +SKIP
    >>> X.filter(like="orders_").describe()                    # doctest: +SKIP
    """
    if data.assignments is None:
        raise CampaignDataError("assignments: the table is missing; uplift features need it")
    if data.orders is None:
        raise CampaignDataError("orders: the table is missing; uplift features need it")
    obs_end = pd.Timestamp(observation_end if observation_end is not None else data.observation_end)
    obs = ibis.literal(obs_end.to_pydatetime())
    asg = data.assignments
    a = asg.filter((asg.campaign_id == campaign_id) & (asg.assigned_ts < obs))
    a = a.select("customer_id", "arm", "assigned_ts")
    n = int(to_pandas(a.count().name("n").as_table())["n"].iloc[0])
    if n == 0:
        raise CampaignDataError(f"assignments.campaign_id: no customer assigned to {campaign_id!r} "
                                f"before observation_end {obs_end} (0 rows)")
    key = a.select("customer_id", "assigned_ts")

    # ---- orders before the assignment ---------------------------------------------------------
    o = data.orders
    o = o.select(o.customer_id, o.order_ts, amount=o.amount.cast("float64"))
    j = key.join(o, "customer_id")
    j = j.filter(j.order_ts < j.assigned_ts).mutate(d=_days(ibis._.assigned_ts, ibis._.order_ts))
    pos = j.amount > 0

    def cnt(cond):
        return ibis.ifelse(cond, 1, 0).sum()

    def amt(cond):
        return ibis.ifelse(cond, j.amount, 0.0).sum()

    orders = j.group_by("customer_id").aggregate(
        orders_total=cnt(pos), revenue_total=j.amount.sum(),
        days_since_last_order=ibis.ifelse(pos, j.d, ibis.null("float64")).min(),
        days_since_first_order=ibis.ifelse(pos, j.d, ibis.null("float64")).max(),
        pos_revenue=amt(pos),
        orders_30d=cnt(pos & (j.d <= 30)), orders_90d=cnt(pos & (j.d <= 90)),
        orders_365d=cnt(pos & (j.d <= 365)),
        revenue_90d=amt(j.d <= 90), revenue_365d=amt(j.d <= 365),
    )
    t = a.left_join(orders, "customer_id").drop("customer_id_right")

    # ---- events before the assignment ---------------------------------------------------------
    if data.events is not None:
        e = data.events
        kinds = ("visit", "product_view", "cart_add", "wishlist", "support_contact")
        e = e.filter(e.event_type.isin(kinds)).select("customer_id", "event_ts", "event_type")
        je = key.join(e, "customer_id")
        je = je.filter(je.event_ts < je.assigned_ts).filter(
            _days(je.assigned_ts, je.event_ts) <= 90)
        je = je.mutate(d=_days(ibis._.assigned_ts, ibis._.event_ts))
        is_ = {k: je.event_type == k for k in kinds}
        ev = je.group_by("customer_id").aggregate(
            visits_7d=cnt(is_["visit"] & (je.d <= 7)), visits_30d=cnt(is_["visit"] & (je.d <= 30)),
            visits_90d=cnt(is_["visit"]), views_30d=cnt(is_["product_view"] & (je.d <= 30)),
            cart_adds_7d=cnt(is_["cart_add"] & (je.d <= 7)),
            cart_adds_30d=cnt(is_["cart_add"] & (je.d <= 30)),
            wishlists_30d=cnt(is_["wishlist"] & (je.d <= 30)),
            support_90d=cnt(is_["support_contact"]),
            _support_30d=cnt(is_["support_contact"] & (je.d <= 30)),
            days_since_last_visit=ibis.ifelse(is_["visit"], je.d, ibis.null("float64")).min(),
            days_since_last_cart_add=ibis.ifelse(is_["cart_add"], je.d,
                                                 ibis.null("float64")).min(),
        )
        t = t.left_join(ev, "customer_id").drop("customer_id_right")

    # ---- earlier campaigns: exposure, and unsubscribes at/after assignment (consent) ----------
    b = asg.filter(asg.assigned_ts < obs)
    bcols = set(b.columns)

    def bts(name):
        return b[name] if name in bcols else ibis.null("timestamp")

    chan = None
    if data.campaigns is not None and "channel" in data.campaigns.columns:
        c = data.campaigns
        chan = c.select(_cid=c.campaign_id, _channel=c.channel)
    bb = b.select(_cid=b.campaign_id, customer_id=b.customer_id, _ats=b.assigned_ts,
                  _arm=b.arm, _sent=bts("sent_ts"), _opened=bts("opened_ts"),
                  _clicked=bts("clicked_ts"), _unsub=bts("unsubscribed_ts"))
    if chan is not None:
        bb = bb.left_join(chan, "_cid").drop("_cid_right")
    else:
        bb = bb.mutate(_channel=ibis.null("string"))
    jb = key.join(bb, "customer_id")
    before = jb._ats < jb.assigned_ts
    seen = lambda col: before & col.notnull() & (col < jb.assigned_ts)   # noqa: E731
    aggs = dict(
        past_assignments=cnt(before), past_treated=cnt(before & (jb._arm != "control")),
        past_sends=cnt(seen(jb._sent)), past_opens=cnt(seen(jb._opened)),
        past_clicks=cnt(seen(jb._clicked)),
        days_since_last_send=ibis.ifelse(seen(jb._sent), _days(jb.assigned_ts, jb._sent),
                                         ibis.null("float64")).min(),
    )
    # a consent cleared by an unsubscribe at or after assigned_ts was still given at assigned_ts
    later_unsub = jb._unsub.notnull() & (jb._unsub >= jb.assigned_ts) & (jb._unsub < obs)
    for cons in _CONSENTS[:-1]:
        chans = [ch for ch, col in CHANNEL_CONSENT.items() if col == cons]
        aggs[f"_restore_{cons}"] = cnt(later_unsub & jb._channel.isin(chans))
    ex = jb.group_by("customer_id").aggregate(**aggs)
    t = t.left_join(ex, "customer_id").drop("customer_id_right")

    # ---- the customer --------------------------------------------------------------------------
    ccols = set(data.customers.columns) if data.customers is not None else set()
    if ccols:
        cu = data.customers
        sel = {k: cu[k] for k in ("signup_ts", "birth_date", "acquisition_channel", "region",
                                  *_CONSENTS) if k in ccols}
        if sel:
            t = t.left_join(cu.select(customer_id=cu.customer_id, **sel), "customer_id")
            t = t.drop("customer_id_right")
    df = to_pandas(t)
    return _finish(df, data, campaign_id, dormant_after_days, new_max_purchases)


def _finish(df, data, campaign_id, dormant_after_days, new_max_purchases):
    out = pd.DataFrame({"customer_id": df["customer_id"], "arm": df["arm"].astype(str),
                        "assigned_ts": pd.to_datetime(df["assigned_ts"])})
    zero = ["orders_total", "revenue_total", "pos_revenue", "orders_30d", "orders_90d",
            "orders_365d", "revenue_90d", "revenue_365d", "visits_7d", "visits_30d", "visits_90d",
            "views_30d", "cart_adds_7d", "cart_adds_30d", "wishlists_30d", "support_90d",
            "_support_30d", "past_assignments", "past_treated", "past_sends", "past_opens",
            "past_clicks"]
    for col in zero:
        if col in df:
            out[col] = pd.to_numeric(df[col]).fillna(0).astype("float64")
    for col in ("days_since_last_order", "days_since_first_order", "days_since_last_visit",
                "days_since_last_cart_add", "days_since_last_send"):
        if col in df:
            out[col] = pd.to_numeric(df[col]).astype("float64")
    out["mean_order_value"] = (out.pop("pos_revenue") / out["orders_total"]).where(
        out["orders_total"] > 0)
    # RFM scores among the assigned customers (buyers only) and the named segment
    buyer = out["orders_total"] > 0
    r = quantile_scores(out["days_since_last_order"].where(buyer), higher_is_better=False)
    f = quantile_scores(out["orders_total"].where(buyer))
    m = quantile_scores(out["mean_order_value"].where(buyer))
    out["r_score"], out["f_score"], out["m_score"] = (s.astype("float64") for s in (r, f, m))
    fm = np.ceil((out["f_score"] + out["m_score"]) / 2)
    seg = _assign_segments(out["r_score"], fm).fillna("no purchase")
    out["rfm_segment"] = pd.Categorical(seg)
    # lifecycle stage at assignment
    active = buyer & (out["days_since_last_order"] < dormant_after_days)
    interested = np.zeros(len(out), bool)
    if "cart_adds_30d" in out:     # no purchase in the last 30 days, but interest in them
        interested = ((out["orders_30d"] == 0)
                      & ((out["cart_adds_30d"] + out["wishlists_30d"] + out.pop("_support_30d"))
                         > 0)).to_numpy()
    stage = np.select(
        [active & (out["orders_total"] <= new_max_purchases), active, ~active & interested,
         buyer & ~active],
        ["new", "loyal", "interested", "dormant"], default="potential")
    out["stage"] = pd.Categorical(stage, categories=["new", "loyal", "interested", "dormant",
                                                     "potential"])
    if "signup_ts" in df:
        out["tenure_days"] = ((out["assigned_ts"] - pd.to_datetime(df["signup_ts"]))
                              .dt.total_seconds() / DAY)
    if "birth_date" in df:
        bd = pd.to_datetime(df["birth_date"])
        out["age_years"] = (out["assigned_ts"] - bd).dt.days / 365.25
    for col in ("acquisition_channel", "region"):
        if col in df:
            out[col] = pd.Categorical(df[col].astype("string").fillna("unknown"))
    for cons in _CONSENTS:
        if cons in df:
            snap = df[cons].fillna(False).astype(bool)
            restore = (pd.to_numeric(df[f"_restore_{cons}"]).fillna(0) > 0
                       if f"_restore_{cons}" in df else False)
            out[cons] = (snap | restore).astype("float64")
    info = campaign_info(data, campaign_id) if data.campaigns is not None else None
    if info is not None:
        col = CHANNEL_CONSENT.get(info.channel)
        if col is None:
            out["consent_channel"] = 1.0
        elif getattr(data, "consent_events", None) is not None:
            out["consent_channel"] = _channel_consent_at_assignment(data, campaign_id,
                                                                    info.channel, out)
        elif col in out:
            out["consent_channel"] = out[col]
    return out.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def _channel_consent_at_assignment(data, campaign_id, channel, out) -> pd.Series:
    """The campaign channel's consent in force at each customer's assignment, from the
    consent history (:func:`crmlab.data.consent.consent_at_send`)."""
    from crmlab.data.consent import consent_at_send

    a = data.assignments.filter(data.assignments.campaign_id == campaign_id)
    snd = a.select("customer_id", channel=ibis.literal(channel), _at=a.assigned_ts)
    sources = {n: getattr(data, n, None)
               for n in ("customers", "consent_events", "assignments", "campaigns")}
    cons = to_pandas(consent_at_send(snd, sources, key=["customer_id"], ts="_at")
                     .select("customer_id", "consent_ok"))
    ok = cons.set_index("customer_id")["consent_ok"]
    return out["customer_id"].map(ok).astype("float64").fillna(0.0).to_numpy()


def feature_columns(features: pd.DataFrame) -> list[str]:
    """The model's input columns of a :func:`uplift_features` table (ids and arm excluded)."""
    return [c for c in features.columns if c not in ("customer_id", "arm", "assigned_ts")]
