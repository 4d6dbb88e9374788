"""The data-quality ledger: soft problems, counted, never silent.

Every check is listed, also when it found nothing (``rows == 0``), so the reader sees what was
checked; checks that need a table the data set does not have are listed with ``rows == 0`` and
an ``action`` starting with ``"not checked"``. No check drops rows: the action says how the
flagged rows are treated. Counts are computed by the backend (Ibis aggregates).

A *send* is an assignment row with ``sent_ts`` set (when the table has no ``sent_ts`` column,
every non-control assignment is a send at ``assigned_ts``). Advertising sends are sends on every
channel but ``kakao_alimtalk`` (informational messages). See ``docs/data-contract.md``.
"""
from __future__ import annotations

import ibis
import ibis.selectors as s
import pandas as pd
from ibis import _
from ibis.expr.types import Table

from crmlab.data.consent import consent_at_send, consent_basis
from crmlab.data.schema import (
    ADVERTISING_CHANNELS, CONTROL_ARM, NIGHT_END, NIGHT_START, PROMOTIONAL_SCENARIOS,
)

LEDGER_COLUMNS = ["table", "check", "rows", "action"]

KEPT = "kept"


def _count(cond) -> ibis.Value:
    return cond.fill_null(False).cast("int64").sum()


class _Batch:
    """Collects one-row aggregates and runs them as a single query (a UNION ALL of the
    aggregates turned long), so that the ledger costs one round trip to the backend and each
    table is scanned once."""

    def __init__(self) -> None:
        self.parts: list[Table] = []
        self.n = 0

    def agg(self, t: Table, **exprs) -> dict[str, str]:
        keys, named = {}, {}
        for name, e in exprs.items():
            key = f"k{self.n}"
            self.n += 1
            keys[name] = key
            named[key] = e.cast("int64")
        self.parts.append(t.aggregate(**named))
        return keys

    def run(self) -> dict[str, int]:
        if not self.parts:
            return {}
        longs = [p.pivot_longer(s.all(), names_to="key", values_to="n") for p in self.parts]
        df = (longs[0] if len(longs) == 1 else ibis.union(*longs, distinct=False)).to_pandas()
        return {k: (0 if pd.isna(v) else int(v)) for k, v in zip(df["key"], df["n"])}


def build_ledger(tables: dict[str, Table], observation_end: pd.Timestamp) -> pd.DataFrame:
    """Run every soft check and return the ledger (``table, check, rows, action``).

    Parameters
    ----------
    tables : dict of str -> ibis Table
        Typed contract tables (as :func:`crmlab.load` produces them); absent tables omitted.
    observation_end : pandas.Timestamp
        Exclusive end of the observed period (naive local time).

    Examples
    --------
    >>> build_ledger(data.tables, data.observation_end)      # doctest: +SKIP
    """
    rows: list[dict] = []
    obs = ibis.literal(pd.Timestamp(observation_end).to_pydatetime(), type="timestamp")
    cust = tables.get("customers")
    orders = tables.get("orders")
    events = tables.get("events")
    camps = tables.get("campaigns")
    asg = tables.get("assignments")
    cev = tables.get("consent_events")

    batch = _Batch()

    def add(table, check, n, action):  # n: a count, or a key of a pending batch aggregate
        rows.append({"table": table, "check": check, "rows": n, "action": action})

    def skipped(table, check, why):
        add(table, check, 0, f"not checked: {why}")

    def unknown_customers(name, t):
        check = "customer_id not in customers"
        if t is None:
            return
        if cust is None:
            skipped(name, check, "no customers table")
            return
        orphans = t.anti_join(cust, "customer_id")
        n = batch.agg(orphans, n=orphans.count())["n"]
        add(name, check, n, f"{KEPT}; flagged (no profile: no signup date or consents for "
                            "these customers)")

    # customers -------------------------------------------------------------------------------
    if cust is not None:
        r = batch.agg(
            cust, null_signup=_count(cust.signup_ts.isnull()),
            late=_count(cust.signup_ts >= obs),
        )
        add("customers", "signup_ts missing", r["null_signup"],
            f"{KEPT}; no signup date for these customers")
        add("customers", "signup_ts at or after observation_end", r["late"],
            f"{KEPT}; analyses read nothing at or after observation_end")

    # orders ----------------------------------------------------------------------------------
    if orders is not None:
        refund = (orders.is_refund.fill_null(False) if "is_refund" in orders.columns
                  else ibis.literal(False))
        r = batch.agg(
            orders, neg=_count((orders.amount < 0) & ~refund),
            zero=_count(orders.amount == 0),
            pos_refund=_count((orders.amount > 0) & refund),
            late=_count(orders.order_ts >= obs),
        )
        unknown_customers("orders", orders)
        add("orders", "negative amount not marked as refund", r["neg"],
            f"{KEPT}; counted as a refund (negative revenue)")
        add("orders", "zero amount", r["zero"],
            f"{KEPT}; an order, but not a conversion (conversion needs amount > 0)")
        add("orders", "is_refund on a positive amount", r["pos_refund"],
            f"{KEPT}; amount counted as is (revenue is the sum of amount)")
        add("orders", "order_ts at or after observation_end", r["late"],
            f"{KEPT}; analyses read nothing at or after observation_end")
        if cust is not None:
            j = orders.select("customer_id", "order_ts").inner_join(
                cust.select("customer_id", "signup_ts"), "customer_id")
            n = batch.agg(j, n=_count(j.order_ts < j.signup_ts))["n"]
            add("orders", "order before signup", n,
                f"{KEPT}; timestamps used as given")
        else:
            skipped("orders", "order before signup", "no customers table")

    # events ----------------------------------------------------------------------------------
    if events is not None:
        unknown_customers("events", events)
        n = batch.agg(events, n=_count(events.event_ts >= obs))["n"]
        add("events", "event_ts at or after observation_end", n,
            f"{KEPT}; analyses read nothing at or after observation_end")

    # campaigns -------------------------------------------------------------------------------
    if camps is not None:
        r = batch.agg(
            camps, order=_count(camps.end_ts < camps.start_ts),
            share=_count((camps.holdout_share <= 0) | (camps.holdout_share >= 1)),
            alimtalk=_count((camps.channel == "kakao_alimtalk")
                            & camps.scenario.isin(list(PROMOTIONAL_SCENARIOS))),
        )
        add("campaigns", "end_ts before start_ts", r["order"],
            f"{KEPT}; all its assignments fall outside the campaign's dates")
        add("campaigns", "holdout_share outside (0, 1)", r["share"],
            f"{KEPT}; holdout_share is only the planned share")
        add("campaigns", "promotional scenario on kakao_alimtalk", r["alimtalk"],
            f"{KEPT}; alimtalk sends need no consent here — if the message holds an offer, "
            "record the campaign as kakao_friendtalk")
        if asg is not None:
            idle = camps.anti_join(asg, "campaign_id")
            n = batch.agg(idle, n=idle.count())["n"]
            add("campaigns", "campaign without assignments", n, f"{KEPT}; nothing to evaluate")
        else:
            skipped("campaigns", "campaign without assignments", "no assignments table")

    # assignments -----------------------------------------------------------------------------
    if asg is not None:
        unknown_customers("assignments", asg)
        a = asg.inner_join(camps.select("campaign_id", "channel", "start_ts", "end_ts"),
                           "campaign_id")
        is_control = a.arm == CONTROL_ARM
        if "sent_ts" in a.columns:
            sent = a.sent_ts.notnull()
            send_ts = a.sent_ts
        else:
            sent = ~is_control
            send_ts = a.assigned_ts
        stats = dict(
            late=_count(a.assigned_ts >= obs),
            outside=_count((a.assigned_ts < a.start_ts) | (a.assigned_ts > a.end_ts)),
            control_sent=_count(is_control & sent),
        )
        if "sent_ts" in a.columns:
            stats["sent_before"] = _count(a.sent_ts < a.assigned_ts)
        if "opened_ts" in a.columns and "sent_ts" in a.columns:
            stats["open_before"] = _count(a.opened_ts < a.sent_ts)
        if "clicked_ts" in a.columns and "opened_ts" in a.columns:
            stats["click_before"] = _count(a.clicked_ts < a.opened_ts)
        r = batch.agg(a, **stats)
        add("assignments", "assigned_ts at or after observation_end", r["late"],
            f"{KEPT}; analyses read nothing at or after observation_end")
        add("assignments", "assigned outside the campaign's dates", r["outside"],
            f"{KEPT}; evaluated with the campaign as assigned")
        if "sent_ts" in a.columns:
            add("assignments", "control arm sent", r["control_sent"],
                f"{KEPT}; the holdout was contaminated: read the campaign's lift with care")
        else:
            skipped("assignments", "control arm sent", "no sent_ts column")
        for key, check, need in (
            ("sent_before", "sent before assigned", "sent_ts"),
            ("open_before", "opened before sent", "opened_ts and sent_ts"),
            ("click_before", "clicked before opened", "clicked_ts and opened_ts"),
        ):
            if key in r:
                add("assignments", check, r[key], f"{KEPT}; timestamps used as given")
            else:
                skipped("assignments", check, f"needs {need} columns")

        consent_check = "send without consent for the channel"
        night_check = (f"advertising send {NIGHT_START:02d}:00–{NIGHT_END:02d}:00 "
                       "without night consent")
        basis = consent_basis(tables)
        if basis == "none":
            skipped("assignments", consent_check, "no customers or consent_events table")
            skipped("assignments", night_check, "no customers or consent_events table")
        else:
            snd = a.mutate(__send_ts=send_ts).filter(sent)
            if cust is not None:  # sends to unknown customers are counted above, not here
                snd = snd.semi_join(cust, "customer_id")
            snd = consent_at_send(snd, tables, key=["campaign_id", "customer_id"],
                                  ts="__send_ts")
            hour = snd.__send_ts.hour()
            night = (hour >= NIGHT_START) | (hour < NIGHT_END)
            r = batch.agg(
                snd, no_consent=_count(~snd.consent_ok),
                night=_count(snd.channel.isin(list(ADVERTISING_CHANNELS)) & night
                             & ~snd.night_consent_ok),
            )
            how = ("judged at send time from consent_events" if basis == "events" else
                   "judged by today's customers flags (no consent_events table)")
            add("assignments", consent_check, r["no_consent"],
                f"{KEPT}; flagged for compliance review ({how})")
            add("assignments", night_check, r["night"],
                f"{KEPT}; flagged for compliance review ({how})")

    # consent_events --------------------------------------------------------------------------
    if cev is not None:
        unknown_customers("consent_events", cev)
        n = batch.agg(cev, n=_count(cev.event_ts >= obs))["n"]
        add("consent_events", "event_ts at or after observation_end", n,
            f"{KEPT}; not read for sends before it")
        if cust is not None:
            j = cev.select("customer_id", "event_ts").inner_join(
                cust.select("customer_id", "signup_ts"), "customer_id")
            n = batch.agg(j, n=_count(j.event_ts < j.signup_ts))["n"]
            add("consent_events", "consent event before signup", n,
                f"{KEPT}; timestamps used as given")
        else:
            skipped("consent_events", "consent event before signup", "no customers table")

    # holdout_periods -------------------------------------------------------------------------
    hp = tables.get("holdout_periods")
    if hp is not None:
        unknown_customers("holdout_periods", hp)
        n = batch.agg(hp, n=_count(hp.start_ts >= obs))["n"]
        add("holdout_periods", "start_ts at or after observation_end", n, f"{KEPT}; not read")

    counts = batch.run()
    for row in rows:
        if isinstance(row["rows"], str):
            row["rows"] = counts[row["rows"]]
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS).astype({"rows": "int64"})
