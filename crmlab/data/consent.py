"""Consent at the time of each send, in the engine (Ibis).

A send on a channel needs the marketing consent of the channel's medium
(:data:`~crmlab.data.schema.CHANNEL_MEDIUM`: lms is sms, app_push and in_app are push,
kakao_friendtalk is kakao; kakao_alimtalk needs none); an advertising send between 21:00 and
08:00 also needs the night consent. :func:`consent_at_send` says, for every send, whether the
customer had each of them **when the message went out**. It reads one of two bases
(:func:`consent_basis`):

``"events"`` — the ``consent_events`` table is present. For a send at ``t`` to customer ``c`` on
medium ``m`` and a kind (marketing or night):

1. the latest event of ``(c, m, kind)`` at or before ``t`` decides (``granted``); two events at the
   same second count as a grant followed by a withdrawal (the withdrawal decides);
2. with no event at or before ``t`` but events after it, the state before the first event is the
   opposite of that event (an event records a change: a withdrawal means the consent was held, a
   grant that it was not);
3. with no event of ``(c, m, kind)`` at all, the state never changed in the log: the
   ``customers`` flag (``consent_<m>``, or ``consent_night`` for the night kind) is the state
   since sign-up; a null flag or a customer missing from ``customers`` is no consent.

``"current_flags"`` — no ``consent_events``: the ``customers`` flags are today's state. A send
made at or before the customer's own recorded unsubscribe from that medium
(``assignments.unsubscribed_ts`` of any campaign on a channel of the same medium) had the
consent when it went out, so it is taken as consented; every other send is judged by today's
flag (a withdrawal after the send that the log does not show still counts against it, which is
why the results name the basis). Night consent is ``consent_night`` as it is today.

``"none"`` — neither table: consent is unknown (null).

Everything is plain Ibis (joins, conditional aggregates), so the same code runs on DuckDB and on
Spark; only the caller's counts leave the engine.
"""
from __future__ import annotations

from collections.abc import Mapping

import ibis
from ibis.expr.types import Table

from crmlab.data.schema import (
    CHANNEL_MEDIUM, MEDIUM_CONSENT_COLUMN, NIGHT_CONSENT_COLUMN,
)

__all__ = ["consent_basis", "consent_at_send", "BASES"]

BASES = ("events", "current_flags", "none")


def consent_basis(tables: Mapping[str, Table | None]) -> str:
    """``"events"`` when ``consent_events`` is present, else ``"current_flags"`` when
    ``customers`` is, else ``"none"``.

    Examples
    --------
    >>> consent_basis({"customers": None, "consent_events": None})
    'none'
    """
    if tables.get("consent_events") is not None:
        return "events"
    if tables.get("customers") is not None:
        return "current_flags"
    return "none"


def _medium(channel) -> ibis.Value:
    cases = [(channel == ch, m) for ch, m in CHANNEL_MEDIUM.items() if m is not None]
    return ibis.cases(*cases, else_=ibis.null("string"))


def _flag(t: Table, col: str) -> ibis.Value:
    return t[col].cast("boolean") if col in t.columns else ibis.null("boolean")


def consent_at_send(sends: Table, tables: Mapping[str, Table | None], *, key,
                    channel: str = "channel", ts: str = "send_ts") -> Table:
    """Add ``consent_ok`` and ``night_consent_ok`` (booleans) to every row of ``sends``.

    Parameters
    ----------
    sends : ibis Table
        One row per send, with ``customer_id``, the campaign channel (column ``channel``) and
        the send time (column ``ts``), unique by ``key``.
    tables : mapping
        The data set's tables by contract name (``CRMData.tables``): ``consent_events``,
        ``customers``, ``assignments`` and ``campaigns`` are read when present.
    key : list of str
        Columns of ``sends`` that identify a row (``["campaign_id", "customer_id"]`` for
        assignments).

    Returns
    -------
    ibis Table
        ``sends`` with ``consent_ok`` (true for channels that need no consent) and
        ``night_consent_ok`` (the night consent of the channel's medium; true for channels that
        need no consent). Both are null when the basis is ``"none"``. See the module docstring
        for the rules of each basis (:func:`consent_basis`).

    Examples
    --------
    >>> snd = data.assignments.filter(data.assignments.sent_ts.notnull())     # doctest: +SKIP
    >>> out = consent_at_send(snd.join(data.campaigns, "campaign_id"), data.tables,
    ...                       key=["campaign_id", "customer_id"], ts="sent_ts")  # doctest: +SKIP
    """
    key = list(key)
    basis = consent_basis(tables)
    s = sends.mutate(__medium=_medium(sends[channel]))
    if basis == "none":
        unknown = ibis.ifelse(s.__medium.isnull(), True, ibis.null("boolean"))
        return s.mutate(consent_ok=unknown, night_consent_ok=unknown).drop("__medium")

    cust = tables.get("customers")
    if cust is not None:
        flags = {f"__flag_{m}": _flag(cust, col) for m, col in MEDIUM_CONSENT_COLUMN.items()}
        flags["__flag_night"] = _flag(cust, NIGHT_CONSENT_COLUMN)
        cf = cust.select(__cid=cust.customer_id, **flags)
        s = s.left_join(cf, s.customer_id == cf.__cid).drop("__cid")
        s = s.mutate(
            __today=ibis.cases(*[(s.__medium == m, s[f"__flag_{m}"])
                                 for m in MEDIUM_CONSENT_COLUMN],
                               else_=ibis.null("boolean")).fill_null(False),
            __night_today=s.__flag_night.fill_null(False))
    else:
        s = s.mutate(__today=ibis.literal(False), __night_today=ibis.literal(False))

    if basis == "events":
        ev = tables["consent_events"]
        # one integer per event that orders events by second, a withdrawal after a grant of the
        # same second: even = granted, odd = withdrawn
        code = (ev.event_ts.epoch_seconds().cast("int64") * 2
                + ibis.ifelse(ev.granted, 0, 1).cast("int64"))
        e = ev.select(__cid=ev.customer_id, __med=ev.channel, __kind=ev.kind,
                      __ets=ev.event_ts, __code=code)
        sk = s.select(*dict.fromkeys([*key, "customer_id"]), "__medium", __ts=s[ts])
        j = sk.inner_join(e, (sk.customer_id == e.__cid) & (sk.__medium == e.__med))
        aggs = {}
        for kind in ("marketing", "night"):
            is_kind = j.__kind == kind
            aggs[f"__{kind}_last"] = ibis.ifelse(is_kind & (j.__ets <= j.__ts), j.__code,
                                                 ibis.null("int64")).max()
            aggs[f"__{kind}_first"] = ibis.ifelse(is_kind, j.__code, ibis.null("int64")).min()
        per = j.group_by(key).aggregate(**aggs)
        per = per.rename({f"__r_{k}": k for k in key})
        s = s.left_join(per, [s[k] == per[f"__r_{k}"] for k in key]).drop(
            *[f"__r_{k}" for k in key])

        def judged(kind, fallback):
            last, first = s[f"__{kind}_last"], s[f"__{kind}_first"]
            return ibis.cases((last.notnull(), last % 2 == 0),
                              (first.notnull(), first % 2 != 0),
                              else_=fallback)

        s = s.mutate(__ok=judged("marketing", s.__today),
                     __night_ok=judged("night", s.__night_today))
    else:  # current_flags
        asg, camps = tables.get("assignments"), tables.get("campaigns")
        if (asg is not None and camps is not None and "unsubscribed_ts" in asg.columns
                and "channel" in camps.columns):
            u = asg.filter(asg.unsubscribed_ts.notnull()).select(
                "campaign_id", "customer_id", "unsubscribed_ts")
            u = u.inner_join(camps.select("campaign_id", __uch=camps.channel), "campaign_id")
            u = u.mutate(__umed=_medium(u.__uch)).filter(ibis._.__umed.notnull())
            last = u.group_by([u.customer_id.name("__ucid"), "__umed"]).aggregate(
                __last_unsub=u.unsubscribed_ts.max())
            s = s.left_join(last, (s.customer_id == last.__ucid)
                            & (s.__medium == last.__umed)).drop("__ucid", "__umed")
            s = s.mutate(__ok=s.__today | (s.__last_unsub.notnull()
                                           & (s.__last_unsub >= s[ts])).fill_null(False))
        else:
            s = s.mutate(__ok=s.__today)
        s = s.mutate(__night_ok=s.__night_today)
    out = s.mutate(consent_ok=ibis.ifelse(s.__medium.isnull(), True, s.__ok),
                   night_consent_ok=ibis.ifelse(s.__medium.isnull(), True, s.__night_ok))
    return out.select(*sends.columns, "consent_ok", "night_consent_ok")
