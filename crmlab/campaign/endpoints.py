"""The long-term endpoints of a campaign page (numbers only), counted from each customer's
assignment ``t0`` and followed to ``end = min(t0 + horizon, observation_end)``.

- A customer is **lapsed** at assignment when their last purchase (amount > 0) before ``t0`` is
  at least ``churn_after_days`` old; a customer without any earlier purchase is not lapsed.
- **Reactivation** (the endpoint of a page whose audience is mostly lapsed: win-back, dormant):
  days from ``t0`` to the first purchase in ``[t0, end)``; censored at ``end``.
- **Churn** (the endpoint of a page whose audience is mostly active): observed when the gap
  reaches ``churn_after_days``. The anchors are the last purchase before ``t0`` (``t0`` itself
  without one) and every purchase in ``[t0, end)``; the first anchor ``a`` followed by no
  purchase within ``churn_after_days`` churns at ``a + churn_after_days`` (when that is before
  ``end``; otherwise censored at ``end``). Nobody churns at day 0, so every curve starts at 100%.

One endpoint per page: customers the page's endpoint does not apply to (the active minority of
a reactivation page, the lapsed minority of a churn page) are left out of its curves and rates
and counted in the evaluation's exclusions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

REACTIVATION, CHURN = "reactivation", "churn"
LAPSED_MAJORITY = 0.5


def endpoint_table(data, campaign_id, table: pd.DataFrame, churn_after_days: float,
                   horizon_days: float, observation_end) -> pd.DataFrame:
    """Per assigned customer (aligned with ``table``): ``lapsed``, ``follow_days``,
    ``react_days``/``reactivated`` and ``churn_days``/``churned`` (days from assignment; for a
    lapsed customer, churn again after the reactivation)."""
    import ibis

    obs = pd.Timestamp(observation_end)
    a = data.assignments
    a = a.filter(a.campaign_id == campaign_id).select("customer_id", "assigned_ts")
    o = data.orders
    o = o.filter((o.amount > 0) & (o.order_ts < ibis.literal(obs.to_pydatetime())))
    o = o.select(oid="customer_id", order_ts="order_ts")
    j = a.join(o, a.customer_id == o.oid)
    last = j.filter(j.order_ts < j.assigned_ts).group_by(["customer_id", "assigned_ts"]) \
        .aggregate(last_ts=j.order_ts.max()).to_pandas()
    horizon = ibis.interval(seconds=int(round(horizon_days * 86400)))
    after = j.filter((j.order_ts >= j.assigned_ts) & (j.order_ts < j.assigned_ts + horizon)) \
        .select("customer_id", "assigned_ts", "order_ts").to_pandas()

    key = ["customer_id", "assigned_ts"]
    t = table[key].reset_index(drop=True).merge(last, on=key, how="left")
    t0 = t["assigned_ts"]
    end = (t0 + pd.Timedelta(days=horizon_days)).clip(upper=obs)
    day = pd.Timedelta(days=1)
    c = pd.Timedelta(days=churn_after_days)
    lapsed = t["last_ts"].notna() & (t0 - t["last_ts"] >= c)
    follow = (end - t0) / day

    # anchors: the last purchase before t0 (t0 without one), then every purchase in [t0, end)
    t["row"] = np.arange(len(t))
    after = after.merge(t[key + ["row"]], on=key, how="inner")
    after = after[after["order_ts"] < end.to_numpy()[after["row"].to_numpy()]]
    first = after.groupby("row")["order_ts"].min()
    first = first.reindex(t["row"])
    reactivated = first.notna().to_numpy()
    react = np.where(reactivated, ((first.to_numpy() - t0.to_numpy()) / day), follow)

    # a lapsed customer's churn counts from the reactivation on (their first anchor is the
    # first purchase after t0): "churned" then means lapsed again after coming back
    a0 = t["last_ts"].where(t["last_ts"].notna(), t0)[~lapsed]
    anchors = pd.concat([pd.DataFrame({"row": t["row"][~lapsed], "ts": a0}),
                         after[["row", "order_ts"]].rename(columns={"order_ts": "ts"})],
                        ignore_index=True).sort_values(["row", "ts"], kind="stable")
    nxt = anchors.groupby("row")["ts"].shift(-1)
    end_a = end.to_numpy()[anchors["row"].to_numpy()]
    churn_at = anchors["ts"] + c
    hit = (nxt.isna() | (nxt > churn_at)) & (churn_at <= end_a)
    first_churn = churn_at[hit].groupby(anchors.loc[hit, "row"]).min().reindex(t["row"])
    churned = first_churn.notna().to_numpy()
    churn_days = np.where(churned, (first_churn.to_numpy() - t0.to_numpy()) / day, follow)
    return pd.DataFrame({
        "arm": table["arm"].to_numpy(), "lapsed": lapsed.to_numpy(),
        "follow_days": follow.to_numpy(float),
        "react_days": np.asarray(react, float), "reactivated": reactivated.astype(int),
        "churn_days": np.asarray(churn_days, float), "churned": churned.astype(int),
    }, index=table.index)


def page_endpoint(ep: pd.DataFrame) -> str:
    """``reactivation`` when at least half the audience was lapsed at assignment, else
    ``churn``."""
    return REACTIVATION if ep["lapsed"].mean() >= LAPSED_MAJORITY else CHURN


def spells(ep: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """The survival spells of the page's endpoint (``arm, duration, churned``; ``churned`` is
    the event: churn, or reactivation) over the customers it applies to."""
    if endpoint == REACTIVATION:
        sub = ep[ep["lapsed"]]
        return pd.DataFrame({"arm": sub["arm"], "duration": sub["react_days"],
                             "churned": sub["reactivated"]})
    sub = ep[~ep["lapsed"]]
    return pd.DataFrame({"arm": sub["arm"], "duration": sub["churn_days"],
                         "churned": sub["churned"]})


def event_by(ep: pd.DataFrame, endpoint: str, day: float) -> pd.Series:
    """1 when the endpoint's event happened by ``day`` after assignment, 0 when it had not and
    the customer was followed that long, NaN otherwise (and for customers it does not apply
    to)."""
    sp = spells(ep, endpoint)
    out = pd.Series(np.nan, index=ep.index)
    hit = (sp["churned"] == 1) & (sp["duration"] <= day)
    seen = ep.loc[sp.index, "follow_days"] >= day
    out.loc[sp.index[hit.to_numpy()]] = 1.0
    out.loc[sp.index[(~hit & seen).to_numpy()]] = 0.0
    return out


def retained_reactivated(ep: pd.DataFrame, horizon_days: float) -> pd.Series:
    """Lapsed customers who were reactivated and had not churned again by the end of a fully
    observed horizon (1/0; NaN when not lapsed or not followed over the whole horizon)."""
    out = pd.Series(np.nan, index=ep.index)
    sel = ep["lapsed"] & (ep["follow_days"] >= horizon_days - 1e-9)
    ok = (ep["reactivated"] == 1) & (ep["churned"] == 0)
    out[sel] = ok[sel].astype(float)
    return out
