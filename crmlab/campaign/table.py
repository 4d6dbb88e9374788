"""The per-customer campaign table, built in the engine (Ibis).

One row per customer assigned to the campaign, every outcome measured in a window relative to
that customer's own ``assigned_ts`` (the shared definitions of ``docs/architecture.md``):

- conversion: at least one order with ``amount > 0`` in ``[assigned_ts, assigned_ts + window)``;
- revenue over a window: the sum of ``amount`` (refunds included) in the window;
- the pre-period: ``[assigned_ts - pre_days, assigned_ts)``, used for CUPED and balance;
- the horizon: ``[assigned_ts, min(assigned_ts + horizon, observation_end))``.

Nothing at or after ``data.observation_end`` is read, and no order, event or message timestamp
outside a customer's windows enters that customer's row.
"""
from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from crmlab._engine import to_pandas

DAY = 86400.0

# The consent rules are the data contract's (crmlab.data.schema): which consent column a send
# on each channel needs, which channels are advertising, and the night window (21:00-08:00).
from crmlab.data.consent import consent_at_send  # noqa: E402
from crmlab.data.schema import (  # noqa: E402
    ADVERTISING_CHANNELS,
    CHANNEL_CONSENT,
    NIGHT_END as NIGHT_END_HOUR,
    NIGHT_START as NIGHT_START_HOUR,
)


class CampaignDataError(ValueError):
    """A campaign cannot be evaluated from the data (unknown campaign, no control arm, ...)."""


@dataclass(frozen=True)
class CampaignInfo:
    """One row of the ``campaigns`` table, as plain Python values."""

    campaign_id: str
    name: str
    scenario: str
    channel: str
    cost_per_send: float
    start_ts: pd.Timestamp
    end_ts: pd.Timestamp
    holdout_share: float
    description: str | None = None


def _columns(table) -> set[str]:
    return set(table.columns) if table is not None else set()


def campaign_info(data, campaign_id) -> CampaignInfo:
    """Read one campaign's row from ``data.campaigns``.

    Raises :class:`CampaignDataError` naming the table and column when the campaigns table is
    missing or holds no (or several) rows for ``campaign_id``.

    Examples
    --------
    >>> info = campaign_info(data, "winback_2024")          # doctest: +SKIP
    >>> info.channel, info.holdout_share                      # doctest: +SKIP
    ('sms', 0.2)
    """
    if data.campaigns is None:
        raise CampaignDataError("campaigns: the table is missing; a campaign evaluation needs it")
    c = data.campaigns
    rows = to_pandas(c.filter(c.campaign_id == campaign_id))
    if len(rows) == 0:
        known = to_pandas(c.select("campaign_id").limit(10))["campaign_id"].tolist()
        raise CampaignDataError(
            f"campaigns.campaign_id: no campaign {campaign_id!r} (0 rows); "
            f"known campaigns include {known}"
        )
    if len(rows) > 1:
        raise CampaignDataError(
            f"campaigns.campaign_id: {len(rows)} rows for campaign {campaign_id!r}; it must be unique"
        )
    r = rows.iloc[0]
    return CampaignInfo(
        campaign_id=r["campaign_id"],
        name=str(r.get("name", r["campaign_id"])),
        scenario=str(r.get("scenario", "custom")),
        channel=str(r["channel"]),
        cost_per_send=float(r["cost_per_send"]),
        start_ts=pd.Timestamp(r["start_ts"]),
        end_ts=pd.Timestamp(r["end_ts"]),
        holdout_share=float(r["holdout_share"]),
        description=(None if "description" not in r or pd.isna(r["description"])
                     else str(r["description"])),
    )


def _assignments(data, campaign_id, observation_end):
    if data.assignments is None:
        raise CampaignDataError("assignments: the table is missing; a campaign evaluation needs it")
    a = data.assignments
    a = a.filter(a.campaign_id == campaign_id)
    cols = _columns(a)
    obs = ibis.literal(observation_end)

    def ts_or_null(name):
        # a message timestamp counts only when it was observed (before observation_end)
        if name not in cols:
            return ibis.null().cast("timestamp")
        col = a[name]
        return ibis.ifelse(col < obs, col, ibis.null().cast("timestamp"))

    sent_ts = ts_or_null("sent_ts")
    if "delivered" in cols:
        delivered = a.delivered.fill_null(False)
        if "sent_ts" in cols:
            delivered = delivered & sent_ts.notnull()
    else:
        delivered = sent_ts.notnull()  # no delivery receipts: every send counts as delivered
    return a.select(
        customer_id=a.customer_id,
        arm=a.arm,
        assigned_ts=a.assigned_ts,
        sent_ts=sent_ts,
        delivered=delivered,
        opened_ts=ts_or_null("opened_ts"),
        clicked_ts=ts_or_null("clicked_ts"),
        unsubscribed_ts=ts_or_null("unsubscribed_ts"),
        coupon_cost=(a.coupon_cost.cast("float64").fill_null(0.0) if "coupon_cost" in cols
                     else ibis.literal(0.0)),
        _has_delivery=ibis.literal("delivered" in cols),
    )


def campaign_table(
    data,
    campaign_id,
    *,
    window_days: float = 7,
    horizon_days: float = 180,
    pre_days: float = 90,
    churn_after_days: float = 90,
    status_days: tuple[float, ...] = (90, 180),
    observation_end=None,
) -> pd.DataFrame:
    """One row per assigned customer with every outcome the campaign evaluation needs.

    Parameters
    ----------
    data : CRMData
        Needs ``assignments`` and ``orders``; ``events`` (visits) and ``customers`` (consent,
        tenure) are used when present.
    campaign_id : str
        The campaign to measure.
    window_days : float
        The short-term (primary) window after ``assigned_ts``, default 7 days.
    horizon_days : float
        The long-term horizon, default 180 days; capped per customer at ``observation_end``
        (``horizon_observed_days`` says how much of it was observed).
    pre_days : float
        The pre-period before ``assigned_ts`` for CUPED and the balance check, default 90 days.
    churn_after_days : float
        A customer is *inactive* at day ``t`` after assignment when no order with ``amount > 0``
        falls in ``[t - churn_after_days, t)`` (clipped at assignment).
    status_days : tuple of float
        The days ``t`` at which the inactive status is measured (those beyond the horizon are
        skipped), default 90 and 180.
    observation_end : timestamp, optional
        Exclusive upper bound of what is read; default ``data.observation_end``.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id, arm, assigned_ts``; message flags ``sent, delivered, blocked,
        opened, clicked, unsubscribed, send_hour, night_send, consent_ok, night_consent_ok``;
        ``coupon_cost``; window outcomes ``conversion, revenue, orders, pos_revenue, visit``;
        pre-period ``pre_revenue, pre_orders, pre_visits``; horizon outcomes ``revenue_h,
        orders_h, repurchase, horizon_observed_days``; ``inactive_<t>`` for each status day;
        ``tenure_days`` (days since signup, when ``customers`` has ``signup_ts``). Sorted by
        ``customer_id``.

    Examples
    --------
    >>> t = campaign_table(data, "winback_2024", window_days=7, horizon_days=180)  # doctest: +SKIP
    >>> t.groupby("arm")["conversion"].mean()                                      # doctest: +SKIP
    """
    obs_end = pd.Timestamp(observation_end if observation_end is not None else data.observation_end)
    if obs_end is pd.NaT or obs_end is None:
        raise CampaignDataError("observation_end: unknown; pass observation_end= or set it in meta.json")
    if data.orders is None:
        raise CampaignDataError("orders: the table is missing; a campaign evaluation needs it")
    for name, value in (("window_days", window_days), ("horizon_days", horizon_days),
                        ("pre_days", pre_days), ("churn_after_days", churn_after_days)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    obs = ibis.literal(obs_end.to_pydatetime())
    a = _assignments(data, campaign_id, obs_end.to_pydatetime())
    a = a.filter(a.assigned_ts < obs)  # an assignment after the observed period is not read
    a_key = a.select("customer_id", "assigned_ts")

    # ---- orders relative to each customer's assignment (engine side) -------------------------
    o = data.orders
    o = o.filter(o.order_ts < obs).select(o.customer_id, o.order_ts, amount=o.amount.cast("float64"))
    lo_days = -float(pre_days)
    hi_days = float(max(horizon_days, window_days))
    j = a_key.join(o, "customer_id")
    d = (j.order_ts.epoch_seconds() - j.assigned_ts.epoch_seconds()).cast("float64") / DAY
    j = j.mutate(d=d).filter((ibis._.d >= lo_days) & (ibis._.d < hi_days))
    pos = j.amount > 0
    in_w = (j.d >= 0) & (j.d < float(window_days))
    in_h = (j.d >= 0) & (j.d < float(horizon_days))
    in_pre = j.d < 0
    aggs = dict(
        conversion=ibis.ifelse(in_w & pos, 1, 0).max(),
        revenue=ibis.ifelse(in_w, j.amount, 0.0).sum(),
        orders=ibis.ifelse(in_w & pos, 1, 0).sum(),
        pos_revenue=ibis.ifelse(in_w & pos, j.amount, 0.0).sum(),
        pre_revenue=ibis.ifelse(in_pre, j.amount, 0.0).sum(),
        pre_orders=ibis.ifelse(in_pre & pos, 1, 0).sum(),
        revenue_h=ibis.ifelse(in_h, j.amount, 0.0).sum(),
        orders_h=ibis.ifelse(in_h & pos, 1, 0).sum(),
    )
    status = [float(t) for t in status_days if float(t) <= float(horizon_days)]
    for t in status:
        lo = max(0.0, t - float(churn_after_days))
        aggs[f"_active_{int(t)}"] = ibis.ifelse((j.d >= lo) & (j.d < t) & pos, 1, 0).max()
    per_order = j.group_by("customer_id").aggregate(**aggs)

    # ---- events: visits in the window and in the pre-period ----------------------------------
    ev_aggs = None
    if data.events is not None:
        e = data.events
        e = e.filter((e.event_ts < obs) & (e.event_type == "visit")).select("customer_id", "event_ts")
        je = a_key.join(e, "customer_id")
        de = (je.event_ts.epoch_seconds() - je.assigned_ts.epoch_seconds()).cast("float64") / DAY
        je = je.mutate(d=de).filter((ibis._.d >= lo_days) & (ibis._.d < float(window_days)))
        ev_aggs = je.group_by("customer_id").aggregate(
            visit=ibis.ifelse(je.d >= 0, 1, 0).max(),
            pre_visits=ibis.ifelse(je.d < 0, 1, 0).sum(),
        )

    # ---- consent at the time of the send (crmlab.data.consent), tenure from customers ---------
    ccols = _columns(data.customers)
    channel = campaign_info(data, campaign_id).channel
    consent_col = CHANNEL_CONSENT.get(channel, None)
    sources = {n: getattr(data, n, None)
               for n in ("customers", "consent_events", "assignments", "campaigns")}
    snd = a.select("customer_id", channel=ibis.literal(channel),
                   _at=ibis.coalesce(a.sent_ts, a.assigned_ts))
    cons = consent_at_send(snd, sources, key=["customer_id"], ts="_at").select(
        "customer_id", _consent="consent_ok", _consent_night="night_consent_ok")
    base = a.left_join(cons, "customer_id").drop("customer_id_right")
    if "signup_ts" in ccols:
        c = data.customers
        cs = c.select(customer_id=c.customer_id, signup_ts=c.signup_ts)
        base = base.left_join(cs, "customer_id").drop("customer_id_right")

    t = base.left_join(per_order, "customer_id").drop("customer_id_right")
    if ev_aggs is not None:
        t = t.left_join(ev_aggs, "customer_id").drop("customer_id_right")
    df = to_pandas(t)

    # ---- per-customer finishing touches (pandas; one row per customer) -----------------------
    out = pd.DataFrame({
        "customer_id": df["customer_id"],
        "arm": df["arm"].astype(str),
        "assigned_ts": pd.to_datetime(df["assigned_ts"]),
    })
    sent = df["sent_ts"].notna()
    out["sent"] = sent.astype(int)
    out["delivered"] = df["delivered"].fillna(False).astype(bool).astype(int)
    out["blocked"] = (sent & ~df["delivered"].fillna(False).astype(bool)).astype(int)
    horizon_end = out["assigned_ts"] + pd.to_timedelta(float(horizon_days), unit="D")
    horizon_end = horizon_end.where(horizon_end < obs_end, obs_end)
    opened = df["opened_ts"].notna() & (pd.to_datetime(df["opened_ts"]) >= out["assigned_ts"])
    clicked = df["clicked_ts"].notna() & (pd.to_datetime(df["clicked_ts"]) >= out["assigned_ts"])
    uts = pd.to_datetime(df["unsubscribed_ts"])
    unsub = uts.notna() & (uts >= out["assigned_ts"]) & (uts < horizon_end)
    out["opened"] = opened.astype(int)
    out["clicked"] = clicked.astype(int)
    out["unsubscribed"] = unsub.astype(int)
    hour = pd.to_datetime(df["sent_ts"]).dt.hour
    out["send_hour"] = hour.astype("Int64")
    night = sent & ((hour >= NIGHT_START_HOUR) | (hour < NIGHT_END_HOUR))
    if channel not in ADVERTISING_CHANNELS:
        night = night & False  # informational channels are not subject to the night rule
    out["night_send"] = night.astype(int)
    # consent when the message went out (null: unknown, neither customers nor consent_events)
    if consent_col is None:
        consent_ok = pd.Series(True, index=df.index)
    else:
        known = df["_consent"].notna()
        consent_ok = (df["_consent"].astype(bool) if known.all()
                      else df["_consent"].astype(object).where(known, np.nan))
    out["consent_ok"] = consent_ok
    out["night_consent_ok"] = df["_consent_night"].fillna(False).astype(bool)
    out["coupon_cost"] = df["coupon_cost"].astype(float).fillna(0.0)

    def col(name, fill=0):
        return df[name].fillna(fill) if name in df else pd.Series(fill, index=df.index)

    out["conversion"] = col("conversion").astype(int)
    out["revenue"] = col("revenue", 0.0).astype(float)
    out["orders"] = col("orders").astype(int)
    out["pos_revenue"] = col("pos_revenue", 0.0).astype(float)
    out["visit"] = col("visit").astype(int) if ev_aggs is not None else np.nan
    out["pre_revenue"] = col("pre_revenue", 0.0).astype(float)
    out["pre_orders"] = col("pre_orders").astype(int)
    out["pre_visits"] = col("pre_visits").astype(int) if ev_aggs is not None else np.nan
    out["revenue_h"] = col("revenue_h", 0.0).astype(float)
    out["orders_h"] = col("orders_h").astype(int)
    out["repurchase"] = (out["orders_h"] >= 2).astype(int)
    out["horizon_observed_days"] = ((horizon_end - out["assigned_ts"]).dt.total_seconds() / DAY)
    for t_ in status:
        observed = out["horizon_observed_days"] >= t_
        inactive = 1 - col(f"_active_{int(t_)}").astype(int)
        out[f"inactive_{int(t_)}"] = inactive.where(observed, np.nan)  # unknown when not observed
    if "signup_ts" in df:
        out["tenure_days"] = ((out["assigned_ts"] - pd.to_datetime(df["signup_ts"]))
                              .dt.total_seconds() / DAY)
    return out.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def cumulative_revenue(
    data,
    campaign_id,
    *,
    horizon_days: float = 180,
    step_days: float = 7,
    observation_end=None,
) -> pd.DataFrame:
    """Cumulative revenue per assigned customer by arm and day since assignment (in the engine).

    For each checkpoint ``day`` in ``step_days, 2*step_days, ..., horizon_days`` and each arm:
    ``n`` customers whose first ``day`` days were observed, ``mean`` cumulative revenue per
    customer in ``[assigned_ts, assigned_ts + day)``, its standard deviation ``sd`` and standard
    error ``se``. Only these per-arm aggregates leave the engine.

    Examples
    --------
    >>> curve = cumulative_revenue(data, "winback_2024", horizon_days=180)   # doctest: +SKIP
    >>> curve.query("day == 180")[["arm", "mean", "se"]]                      # doctest: +SKIP
    """
    obs_end = pd.Timestamp(observation_end if observation_end is not None else data.observation_end)
    obs = ibis.literal(obs_end.to_pydatetime())
    a = _assignments(data, campaign_id, obs_end.to_pydatetime())
    a = a.filter(a.assigned_ts < obs).select("customer_id", "arm", "assigned_ts")
    days = sorted(set(np.arange(step_days, horizon_days + 1e-9, step_days).round(6).tolist()
                      + [float(horizon_days)]))
    cp = ibis.memtable(pd.DataFrame({"day": np.asarray(days, dtype="float64")}))
    observed_days = (obs.epoch_seconds() - a.assigned_ts.epoch_seconds()).cast("float64") / DAY
    a = a.mutate(obs_days=observed_days)
    o = data.orders
    o = o.filter(o.order_ts < obs).select(o.customer_id, o.order_ts, amount=o.amount.cast("float64"))
    j = a.select("customer_id", "assigned_ts").join(o, "customer_id")
    d = (j.order_ts.epoch_seconds() - j.assigned_ts.epoch_seconds()).cast("float64") / DAY
    j = j.mutate(d=d).filter((ibis._.d >= 0) & (ibis._.d < float(horizon_days)))
    j = j.select("customer_id", "d", "amount")
    # customer x checkpoint, kept only when the checkpoint was observed for that customer
    ac = a.cross_join(cp).filter(ibis._.day <= ibis._.obs_days)
    oc = j.cross_join(cp).filter(ibis._.d < ibis._.day)
    per = oc.group_by(["customer_id", "day"]).aggregate(rev=oc.amount.sum())
    m = ac.left_join(per, [ac.customer_id == per.customer_id, ac.day == per.day])
    m = m.select(arm=ac.arm, day=ac.day, rev=per.rev.fill_null(0.0))
    g = m.group_by(["arm", "day"]).aggregate(
        n=m.rev.count(), s=m.rev.sum(), ss=(m.rev * m.rev).sum()
    )
    res = to_pandas(g)
    res["mean"] = res["s"] / res["n"]
    var = (res["ss"] - res["n"] * res["mean"] ** 2) / (res["n"] - 1).where(res["n"] > 1)
    res["sd"] = np.sqrt(var.clip(lower=0))
    res["se"] = res["sd"] / np.sqrt(res["n"])
    res = res.drop(columns=["s", "ss"]).sort_values(["arm", "day"]).reset_index(drop=True)
    res["n"] = res["n"].astype(int)
    return res[["arm", "day", "n", "mean", "sd", "se"]]
