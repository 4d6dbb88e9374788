"""Survival tables from purchase logs: churn spells and repurchase times.

The churn definition (shared with the simulator's ground truth and the campaign evaluator,
see ``docs/architecture.md`` and ``docs/churn.md``):

* time zero ``t0`` is the first purchase, the signup or the assignment to a campaign arm;
* the *anchors* are ``t0`` and every purchase after it;
* the customer churns at the first anchor ``a`` whose next purchase comes later than
  ``a + C`` (or never comes) **and** ``a + C <= observation_end``; then ``duration = a - t0``
  (days) and ``churned = 1``;
* otherwise the customer is censored at the end of observation: ``duration = end - t0`` and
  ``churned = 0``.

A gap of exactly ``C`` days is therefore **not** a churn. Purchases are order rows with
``amount > 0`` that are not refunds; nothing at or after ``observation_end`` is read.

All aggregation over the raw logs is written in Ibis (window functions, no SQL strings) and
runs in the engine; only the per-customer result comes back as pandas.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from crmlab._engine import as_coded_tables, as_table
from crmlab.churn._base import ChurnInputError

__all__ = ["survival_table", "repurchase_table", "churn_covariates", "excluded_rows",
           "resolve_censoring",
           "COVARIATE_GROUPS"]

DAY = 86_400.0
STARTS = ("first_purchase", "signup", "assignment")
COVARIATE_GROUPS = ("rfm", "gap_trend", "stage", "customer", "engagement", "coupon", "events")
_COUPON_COLUMNS = ("coupon_id", "coupon_code", "coupon_amount", "coupon_cost", "discount_amount",
                   "discount")


# --------------------------------------------------------------------------- validation helpers
def _table(obj, name: str, columns=None, optional=()):
    """``as_table``: a DataFrame (timestamps truncated to microseconds, the engine's resolution),
    a path to a Parquet / CSV / DuckDB file or an Ibis table; ``columns`` / ``optional`` are the
    columns read (see :func:`crmlab._engine.as_table`)."""
    return as_table(obj, name, columns, optional)


def _require(table, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ChurnInputError(
            f"{name}: missing required column(s) {missing}; present: {list(table.columns)}")


def _timestamp(value, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ChurnInputError(f"{what}: cannot read {value!r} as a timestamp ({exc})") from None
    if ts is pd.NaT:
        raise ChurnInputError(f"{what}: is missing (NaT)")
    if ts.tzinfo is not None:  # the data contract uses naive local wall-clock time
        raise ChurnInputError(
            f"{what}: {ts} is time-zone aware; pass naive local wall-clock time like the data "
            f"(e.g. pd.Timestamp('{ts.tz_localize(None)}'))")
    return ts


def _check_days(value, what: str) -> float:
    try:
        days = float(value)
    except (TypeError, ValueError):
        raise ChurnInputError(f"{what} must be a positive number of days, got {value!r}") from None
    if not np.isfinite(days) or days <= 0:
        raise ChurnInputError(f"{what} must be a positive number of days, got {value!r}")
    return days


def _epoch(col):
    return col.epoch_seconds().cast("int64")


def _purchases(orders, end_lit):
    """Order rows that count as purchases: amount > 0, not a refund, before the end."""
    keep = (orders.order_ts < end_lit) & (orders.amount > 0) & orders.order_ts.notnull()
    if "is_refund" in orders.columns:
        keep = keep & ~orders.is_refund.fill_null(False)
    return orders.filter(keep)


def _order_ledger(orders, end_lit) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Counts of order rows not used as purchases, with their reasons (one engine query)."""
    refund = orders.is_refund.fill_null(False) if "is_refund" in orders.columns else ibis.literal(False)
    before = orders.order_ts < end_lit
    agg = orders.aggregate(
        rows=_.count(),
        after_end=(orders.order_ts >= end_lit).sum(),
        missing_ts=orders.order_ts.isnull().sum(),
        refunds=(before & refund).sum(),
        non_positive=(before & ~refund & (orders.amount <= 0)).sum(),
        missing_amount=(before & orders.amount.isnull()).sum(),
        first_ts=orders.order_ts.min(),
    ).to_pandas().iloc[0]
    rows = [
        ("orders", "order_ts at or after observation_end (not read)", agg["after_end"]),
        ("orders", "order_ts missing", agg["missing_ts"]),
        ("orders", "refund rows (is_refund) are not purchases", agg["refunds"]),
        ("orders", "amount <= 0 (not a purchase)", agg["non_positive"]),
        ("orders", "amount missing (not a purchase)", agg["missing_amount"]),
    ]
    ledger = pd.DataFrame([{"table": t, "reason": r, "rows": int(n or 0)} for t, r, n in rows])
    first = agg["first_ts"]
    return ledger, (None if pd.isna(first) else pd.Timestamp(first))


# --------------------------------------------------------------------------- time zero
def _time_zero(start, purchases, customers, assignments, end_lit, name_hint):
    """Ibis table (customer_id, t0[, arm]) and ledger rows for the chosen time zero."""
    ledger = []
    if start == "first_purchase":
        t0 = purchases.group_by("customer_id").aggregate(t0=purchases.order_ts.min())
        return t0, ledger
    if start == "signup":
        if customers is None:
            raise ChurnInputError("start='signup' needs the customers table (customers=...)")
        cust = _table(customers, "customers")
        _require(cust, "customers", ["customer_id", "signup_ts"])
        counts = cust.aggregate(
            missing=cust.signup_ts.isnull().sum(),
            after=(cust.signup_ts >= end_lit).sum(),
            dup=_.count() - cust.customer_id.nunique(),
        ).to_pandas().iloc[0]
        if int(counts["dup"]):
            raise ChurnInputError(
                f"customers: column customer_id has {int(counts['dup'])} duplicated rows; "
                "one row per customer is required")
        ledger += [
            {"table": "customers", "reason": "signup_ts missing (no time zero)",
             "rows": int(counts["missing"] or 0)},
            {"table": "customers", "reason": "signup_ts at or after observation_end",
             "rows": int(counts["after"] or 0)},
        ]
        keep = cust.signup_ts.notnull() & (cust.signup_ts < end_lit)
        t0 = cust.filter(keep).select("customer_id", t0=cust.signup_ts)
        return t0, ledger
    # assignment
    if assignments is None:
        raise ChurnInputError(
            "start='assignment' needs one campaign's assignments (assignments=...)")
    asg = _table(assignments, "assignments")
    _require(asg, "assignments", ["customer_id", "assigned_ts"])
    metrics = dict(
        missing=asg.assigned_ts.isnull().sum(),
        after=(asg.assigned_ts >= end_lit).sum(),
        dup=_.count() - asg.customer_id.nunique(),
    )
    if "campaign_id" in asg.columns:
        metrics["campaigns"] = asg.campaign_id.nunique()
    counts = asg.aggregate(**metrics).to_pandas().iloc[0]
    if "campaigns" in counts and int(counts["campaigns"]) > 1:
        raise ChurnInputError(
            f"assignments: column campaign_id holds {int(counts['campaigns'])} campaigns; "
            "start='assignment' takes one campaign's assignments — filter them first, e.g. "
            "assignments.filter(assignments.campaign_id == 'C001')")
    if int(counts["dup"]):
        raise ChurnInputError(
            f"assignments: column customer_id has {int(counts['dup'])} duplicated rows within "
            "the campaign; one assignment per customer is required")
    ledger += [
        {"table": "assignments", "reason": "assigned_ts missing (no time zero)",
         "rows": int(counts["missing"] or 0)},
        {"table": "assignments", "reason": "assigned_ts at or after observation_end",
         "rows": int(counts["after"] or 0)},
    ]
    keep = asg.assigned_ts.notnull() & (asg.assigned_ts < end_lit)
    cols = {"t0": asg.assigned_ts}
    if "arm" in asg.columns:
        cols["arm"] = asg.arm
    t0 = asg.filter(keep).select("customer_id", **cols)
    return t0, ledger


# --------------------------------------------------------------------------- survival table
def survival_table(orders, observation_end, churn_after_days: float = 90,
                   start: str = "first_purchase", covariates=None, customers=None,
                   assignments=None, events=None, *, horizon_days: float | None = None,
                   messages=None) -> pd.DataFrame:
    """One churn spell per customer: time zero, duration in days and the churn indicator.

    Parameters
    ----------
    orders : DataFrame or Ibis table
        ``customer_id, order_ts, amount`` (``is_refund`` optional). Purchases are rows with
        ``amount > 0`` that are not refunds; rows at or after ``observation_end`` are not read.
    observation_end : timestamp-like
        Exclusive end of the observed period (naive local time, like the data).
    churn_after_days : float, default 90
        ``C``: a customer churns at the first anchor followed by more than ``C`` days without a
        purchase. A gap of exactly ``C`` days is not a churn.
    start : {"first_purchase", "signup", "assignment"}
        Time zero: the first purchase, ``customers.signup_ts`` or ``assignments.assigned_ts``
        (one campaign's assignments; the ``arm`` column is kept).
    covariates : None, True, "all", list of str or DataFrame
        Covariates as of time zero (no look-ahead): ``True``/``"all"`` or a list of groups from
        :data:`COVARIATE_GROUPS` (see :func:`churn_covariates`), or a DataFrame indexed by
        ``customer_id`` joined as given.
    customers, assignments, events : DataFrame or Ibis table, optional
        The contract's tables (needed by ``start`` and by some covariate groups).
    horizon_days : float, optional
        Follow each customer to ``min(observation_end, t0 + horizon_days)`` only (campaign
        analysis: e.g. 180 days after the assignment).
    messages : DataFrame or Ibis table, optional
        All assignments (every campaign), used by the ``engagement`` and ``coupon`` covariates.
        Defaults to ``assignments`` unless ``start="assignment"``.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with ``t0`` (timestamp), ``duration`` (days, float),
    ``churned`` (0/1), ``arm`` (with ``start="assignment"``) and the covariates.
    ``df.attrs`` holds ``churn_after_days``, ``observation_end``, ``start``, ``horizon_days`` and
    ``excluded`` (records ``table, reason, rows``: every row not used, and why; see
    :func:`excluded_rows`).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2],
    ...                        "order_ts": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-11-01"]),
    ...                        "amount": [10.0, 12.0, 9.0]})
    >>> st = survival_table(orders, "2025-01-01", churn_after_days=90)
    >>> st[["duration", "churned"]]  # doctest: +NORMALIZE_WHITESPACE
                 duration  churned
    customer_id
    1                60.0        1
    2                61.0        0
    """
    C = _check_days(churn_after_days, "churn_after_days")
    if start not in STARTS:
        raise ChurnInputError(f"start must be one of {STARTS}, got {start!r}")
    H = None if horizon_days is None else _check_days(horizon_days, "horizon_days")
    end = _timestamp(observation_end, "observation_end")
    groups = () if covariates is None or covariates is False or isinstance(
        covariates, pd.DataFrame) else (
        COVARIATE_GROUPS if covariates is True or covariates == "all" else tuple(covariates))
    if messages is None and start != "assignment":
        messages = assignments
    # the tables read here, coded together: text / categorical ids of DataFrames reach the
    # engine as one set of int32 codes (joins on codes join the same customers); the result's
    # index is decoded at the end
    used = {"orders": orders,
            "customers": customers if start == "signup" or "customer" in groups else None,
            "assignments": assignments if start == "assignment" else None,
            "messages": messages if {"engagement", "coupon"} & set(groups) else None,
            "events": events if "events" in groups else None}
    coded, ids = as_coded_tables(
        used, "customer_id", {"orders": (["customer_id", "order_ts", "amount"], ("is_refund",))})
    if ids is not None:
        orders = coded["orders"]
        customers = coded["customers"] if used["customers"] is not None else customers
        assignments = coded["assignments"] if used["assignments"] is not None else assignments
        messages = coded["messages"] if used["messages"] is not None else messages
        events = coded["events"] if used["events"] is not None else events
    orders_t = coded["orders"]
    _require(orders_t, "orders", ["customer_id", "order_ts", "amount"])
    end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")

    ledger, first_ts = _order_ledger(orders_t, end_lit)
    if first_ts is None:
        raise ChurnInputError("orders: the table is empty (0 rows with an order_ts)")
    if first_ts >= end:
        raise ChurnInputError(
            f"observation_end {end} is not after the data: the first order_ts is {first_ts}; "
            "nothing would be observed")
    purchases = _purchases(orders_t, end_lit)
    t0, t0_ledger = _time_zero(start, purchases, customers, assignments, end_lit, "t0")
    ledger = pd.concat([ledger, pd.DataFrame(t0_ledger, columns=["table", "reason", "rows"])],
                       ignore_index=True)

    end_s = int(end.value // 10**9)
    Cs = int(round(C * DAY))
    t0e = t0.mutate(t0_s=_epoch(t0.t0))
    if H is not None:
        t0e = t0e.mutate(end_s=ibis.least(ibis.literal(end_s, "int64"),
                                           t0e.t0_s + int(round(H * DAY))))
    else:
        t0e = t0e.mutate(end_s=ibis.literal(end_s, "int64"))

    # anchors: time zero and every purchase strictly after it. Several orders at one instant
    # need no de-duplication: all but the last of them see a next purchase 0 s later (no churn).
    p = purchases.select("customer_id", ts_s=_epoch(purchases.order_ts))
    if start == "first_purchase":
        # time zero is itself the first purchase: the anchors are the purchases
        anchors = p
        if H is not None:
            first = ibis.window(group_by=anchors.customer_id)
            anchors = anchors.mutate(t0_s=anchors.ts_s.min().over(first))
            anchors = anchors.mutate(end_s=ibis.least(ibis.literal(end_s, "int64"),
                                                      anchors.t0_s + int(round(H * DAY))))
            anchors = anchors.filter(anchors.ts_s < anchors.end_s)
        else:
            anchors = anchors.mutate(end_s=ibis.literal(end_s, "int64"))
    else:
        later = p.join(t0e.select("customer_id", "t0_s", "end_s"), "customer_id")
        later = later.filter((later.ts_s > later.t0_s) & (later.ts_s < later.end_s))
        later = later.select("customer_id", "ts_s", "end_s")
        zero = t0e.select("customer_id", ts_s=t0e.t0_s, end_s=t0e.end_s)
        anchors = zero.union(later, distinct=False)
    w = ibis.window(group_by=anchors.customer_id, order_by=anchors.ts_s)
    anchors = anchors.mutate(next_s=anchors.ts_s.lead().over(w))
    gap_ok = anchors.next_s.isnull() | (anchors.next_s > anchors.ts_s + Cs)
    churn_here = gap_ok & (anchors.ts_s + Cs <= anchors.end_s)
    per = anchors.group_by("customer_id").aggregate(
        churn_s=anchors.ts_s.min(where=churn_here),
        first_s=anchors.ts_s.min(),
        end_s=anchors.end_s.max(),
    )
    if start == "first_purchase":
        df = per.to_pandas()
        df["t0_s"] = df["first_s"]
        df["t0"] = pd.to_datetime(df["t0_s"], unit="s")
    else:
        res = t0e.select("customer_id", *([c for c in ("t0", "t0_s", "arm") if c in t0e.columns]))
        res = res.join(per.select("customer_id", "churn_s", "end_s"), "customer_id")
        df = res.to_pandas()

    churned = df["churn_s"].notna()
    stop = np.where(churned, df["churn_s"].to_numpy(dtype="float64", na_value=np.nan),
                    df["end_s"].to_numpy(dtype="float64"))
    out = pd.DataFrame({
        "customer_id": df["customer_id"].to_numpy(),
        "t0": pd.to_datetime(df["t0"]).to_numpy(),
        "duration": (stop - df["t0_s"].to_numpy(dtype="float64")) / DAY,
        "churned": churned.astype("int64").to_numpy(),
    })
    if "arm" in df:
        out["arm"] = df["arm"].to_numpy()
    out = out.sort_values("customer_id", kind="stable").set_index("customer_id")
    if len(out) == 0:
        raise ChurnInputError(
            f"survival_table: no customer has a time zero before observation_end {end} "
            f"(start={start!r}); see the excluded rows: "
            + "; ".join(f"{r.table}: {r.reason}: {r.rows}" for r in ledger.itertuples() if r.rows))

    if groups:
        cov = churn_covariates(orders_t, out["t0"], groups=groups, customers=customers,
                               messages=messages, events=events,
                               include_t0_orders=(start == "first_purchase"))
        out = out.join(cov)
    if ids is not None:  # codes back to the ids (sorted by code is sorted by id)
        out.index = pd.Index(ids.decode(out.index.to_numpy()), name="customer_id")
    if isinstance(covariates, pd.DataFrame):
        extra = covariates.reindex(out.index)
        out = out.join(extra[[c for c in extra.columns if c not in out.columns]])
    out.attrs.update({
        "churn_after_days": C, "observation_end": end, "start": start, "horizon_days": H,
        "excluded": ledger.to_dict("records"),
    })
    return out


def resolve_censoring(table: pd.DataFrame) -> pd.DataFrame:
    """Censor every still-active customer ``churn_after_days`` earlier, where the churn
    outcome of every anchor is resolved.

    Under the shared definition a churn is dated at its anchor (the last purchase before the
    gap), and a churn can only be seen once ``a + C <= observation_end``; so no churn can be
    dated in the last ``C`` days of anyone's follow-up, yet a censored customer counts as at
    risk there. With all customers followed equally long (a campaign followed ``horizon_days``)
    this changes nothing before ``follow-up − C``; with staggered entry (first-purchase
    cohorts) it biases Kaplan-Meier and hazards towards survival. This function returns the
    table with censored durations shortened by ``C`` (the last instant at which the outcome
    is known for every anchor); rows whose shortened duration is not positive are dropped and
    counted in ``attrs["excluded"]``. Churned rows are unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"duration": [10.0, 200.0, 50.0], "churned": [1, 0, 0]})
    >>> t.attrs["churn_after_days"] = 90
    >>> resolve_censoring(t)["duration"].tolist()
    [10.0, 110.0]
    """
    C = table.attrs.get("churn_after_days")
    if C is None:
        raise ChurnInputError("resolve_censoring: the table has no attrs['churn_after_days'] "
                              "(build it with survival_table)")
    cens = table["churned"].to_numpy() == 0
    dur = table["duration"].to_numpy(dtype="float64")
    new = np.where(cens, dur - C, dur)
    keep = ~cens | (new > 0)
    out = table.assign(duration=new)[keep]
    out.attrs = dict(table.attrs)
    out.attrs["excluded"] = list(table.attrs.get("excluded", [])) + [
        {"table": "survival table",
         "reason": f"censored within {C:g} days of time zero (outcome not yet resolved)",
         "rows": int((~keep).sum())}]
    out.attrs["censoring"] = "resolved"
    return out


def excluded_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows a survival or repurchase table did not use, with the reason (``table, reason,
    rows``), from the table's ``attrs``."""
    return pd.DataFrame(table.attrs.get("excluded", []), columns=["table", "reason", "rows"])


# --------------------------------------------------------------------------- repurchase
def repurchase_table(orders, observation_end, per: str = "customer",
                     max_days: float | None = None) -> pd.DataFrame:
    """Time from a purchase to the next one (the event is the repeat purchase).

    Parameters
    ----------
    orders : DataFrame or Ibis table
        ``customer_id, order_ts, amount``; purchases as in :func:`survival_table` (several
        orders at the same instant count once).
    observation_end : timestamp-like
        Exclusive end; a purchase without a later one is censored at the end.
    per : {"customer", "purchase"}
        ``"customer"``: one row per customer, from the first purchase to the second.
        ``"purchase"``: one row per purchase instant (``purchase_number`` 1, 2, ...).
    max_days : float, optional
        Administrative censoring: spells longer than ``max_days`` are censored at ``max_days``.

    Returns
    -------
    DataFrame with ``customer_id`` (index for ``per="customer"``), ``purchase_ts``,
    ``duration`` (days), ``repurchased`` (0/1) and, per purchase, ``purchase_number``.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2],
    ...                        "order_ts": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-01"]),
    ...                        "amount": [10.0, 12.0, 9.0]})
    >>> repurchase_table(orders, "2024-02-01")[["duration", "repurchased"]]  # doctest: +NORMALIZE_WHITESPACE
                 duration  repurchased
    customer_id
    1                10.0            1
    2                31.0            0
    """
    if per not in ("customer", "purchase"):
        raise ChurnInputError(f"per must be 'customer' or 'purchase', got {per!r}")
    M = None if max_days is None else _check_days(max_days, "max_days")
    end = _timestamp(observation_end, "observation_end")
    orders_t = _table(orders, "orders")
    _require(orders_t, "orders", ["customer_id", "order_ts", "amount"])
    end_lit = ibis.literal(end.to_pydatetime(), type="timestamp")
    ledger, first_ts = _order_ledger(orders_t, end_lit)
    if first_ts is None or first_ts >= end:
        raise ChurnInputError(
            f"observation_end {end} is not after the data (first order_ts: {first_ts})")
    purchases = _purchases(orders_t, end_lit)
    p = purchases.select("customer_id", ts_s=_epoch(purchases.order_ts)).distinct()
    w = ibis.window(group_by=p.customer_id, order_by=p.ts_s)
    p = p.mutate(next_s=p.ts_s.lead().over(w), purchase_number=ibis.row_number().over(w) + 1)
    if per == "customer":
        p = p.filter(p.purchase_number == 1)
    df = p.to_pandas()
    end_s = float(end.value // 10**9)
    has_next = df["next_s"].notna().to_numpy()
    stop = np.where(has_next, df["next_s"].to_numpy(dtype="float64", na_value=np.nan), end_s)
    duration = (stop - df["ts_s"].to_numpy(dtype="float64")) / DAY
    event = has_next.astype("int64")
    if M is not None:
        over = duration > M
        duration = np.where(over, M, duration)
        event = np.where(over, 0, event)
    out = pd.DataFrame({
        "customer_id": df["customer_id"].to_numpy(),
        "purchase_ts": pd.to_datetime(df["ts_s"], unit="s").to_numpy(),
        "duration": duration,
        "repurchased": event,
    })
    if per == "purchase":
        out["purchase_number"] = df["purchase_number"].to_numpy()
        out = out.sort_values(["customer_id", "purchase_number"], kind="stable").reset_index(drop=True)
    else:
        out = out.sort_values("customer_id", kind="stable").set_index("customer_id")
    out.attrs.update({"observation_end": end, "max_days": M,
                      "excluded": ledger.to_dict("records")})
    return out


# --------------------------------------------------------------------------- covariates
def churn_covariates(orders, t0: pd.Series, groups: Iterable[str] = COVARIATE_GROUPS,
                     customers=None, messages=None, events=None,
                     include_t0_orders: bool = False, dormant_after_days: float = 180,
                     ) -> pd.DataFrame:
    """Customer covariates as of each customer's time zero (no look-ahead).

    Only orders strictly before ``t0`` are read (``include_t0_orders=True`` also reads the
    orders at ``t0`` itself — used with ``start="first_purchase"``, where the first purchase is
    known at time zero); messages count when sent before ``t0`` and their opens/clicks when
    they happened before ``t0``; events in the 30 days before ``t0``.

    Groups and columns
    ------------------
    ``rfm``: ``n_orders`` (distinct purchase instants), ``spend_total``, ``spend_mean``,
    ``recency_days`` (t0 − last purchase; NaN without one), ``tenure_days`` (t0 − first
    purchase; 0 without one). ``gap_trend``: ``last_gap_days``, ``mean_gap_days`` and
    ``gap_trend`` = log(last gap / mean of the earlier gaps) (0 with fewer than 3 purchases;
    positive = gaps lengthening). ``stage``: ``stage`` = potential (no purchase yet), new (1–2
    purchases), repeat (≥ 3), dormant (last purchase ≥ ``dormant_after_days`` ago), a simple
    as-of-t0 lifecycle stage. ``customer``: ``acquisition_channel``, ``region``,
    ``days_since_signup`` (when present). ``engagement``: ``n_messages``, ``open_rate``,
    ``click_rate`` (0 without messages). ``coupon``: ``n_coupon_offers`` (messages with
    ``coupon_cost > 0``) and ``coupon_order_share`` (share of earlier orders with a coupon
    column set, when orders has one). ``events``: ``visits_30d``, ``cart_adds_30d``.

    Parameters
    ----------
    orders : DataFrame or Ibis table
    t0 : Series
        Time zero per customer (index ``customer_id``).
    groups : iterable of str
        Subset of :data:`COVARIATE_GROUPS`; groups whose table is missing are skipped.
    customers, messages, events : DataFrame or Ibis table, optional

    Returns
    -------
    DataFrame indexed like ``t0``.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 1],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-04-01"]),
    ...     "amount": [10.0, 20.0, 30.0]})
    >>> t0 = pd.Series(pd.to_datetime(["2024-05-01"]), index=pd.Index([1], name="customer_id"))
    >>> churn_covariates(orders, t0, groups=["rfm"])[["n_orders", "recency_days"]]  # doctest: +NORMALIZE_WHITESPACE
                 n_orders  recency_days
    customer_id
    1                   3          30.0
    """
    groups = list(groups)
    unknown = [g for g in groups if g not in COVARIATE_GROUPS]
    if unknown:
        raise ChurnInputError(f"covariates: unknown group(s) {unknown}; choose from {COVARIATE_GROUPS}")
    orders_t = _table(orders, "orders")
    t0 = pd.Series(pd.to_datetime(t0), index=t0.index)
    key = t0.index.name or "customer_id"
    t0_frame = pd.DataFrame({"customer_id": t0.index.to_numpy(), "t0": t0.to_numpy()})
    t0_tab = ibis.memtable(t0_frame)
    t0_tab = t0_tab.mutate(t0_s=_epoch(t0_tab.t0))
    out = pd.DataFrame(index=t0.index)
    out.index.name = key
    t0_days = ((t0 - pd.Timestamp(0)).dt.total_seconds() // 1).to_numpy() / DAY

    need_orders = {"rfm", "gap_trend", "stage", "coupon"} & set(groups)
    if need_orders:
        keep = (orders_t.amount > 0) & orders_t.order_ts.notnull()
        if "is_refund" in orders_t.columns:
            keep = keep & ~orders_t.is_refund.fill_null(False)
        o = orders_t.filter(keep)
        coupon_col = next((c for c in _COUPON_COLUMNS if c in o.columns), None)
        sel = {"ts_s": _epoch(o.order_ts), "amount": o.amount.cast("float64")}
        if coupon_col is not None:
            c = o[coupon_col]
            used = c.notnull() & (c != 0) if c.type().is_numeric() else c.notnull() & (c != "")
            sel["coupon"] = used.cast("int64")
        o = o.select("customer_id", **sel)
        j = o.join(t0_tab, "customer_id")
        cond = (j.ts_s <= j.t0_s) if include_t0_orders else (j.ts_s < j.t0_s)
        prior = j.filter(cond)
        aggs = dict(n_rows=prior.amount.count(), spend_total=prior.amount.sum(),
                    first_s=prior.ts_s.min(), last_s=prior.ts_s.max(),
                    n_orders=prior.ts_s.nunique())
        if coupon_col is not None:
            aggs["coupon_rows"] = prior.coupon.sum()
        rfm = prior.group_by("customer_id").aggregate(**aggs).to_pandas().set_index("customer_id")
        rfm = rfm.reindex(out.index)
        n = rfm["n_orders"].fillna(0).astype("int64")
        last_days = rfm["last_s"].to_numpy(dtype="float64") / DAY
        first_days = rfm["first_s"].to_numpy(dtype="float64") / DAY
        recency = t0_days - last_days
        if "rfm" in groups:
            out["n_orders"] = n.to_numpy()
            out["spend_total"] = rfm["spend_total"].fillna(0.0).to_numpy()
            out["spend_mean"] = (rfm["spend_total"] / rfm["n_rows"]).fillna(0.0).to_numpy()
            out["recency_days"] = recency
            out["tenure_days"] = np.nan_to_num(t0_days - first_days, nan=0.0)
        if "stage" in groups:
            stage = np.select(
                [n.to_numpy() == 0, recency >= dormant_after_days, n.to_numpy() <= 2],
                ["potential", "dormant", "new"], default="repeat")
            out["stage"] = pd.Categorical(stage, categories=["potential", "new", "repeat", "dormant"])
        if "coupon" in groups and coupon_col is not None:
            out["coupon_order_share"] = (rfm["coupon_rows"] / rfm["n_rows"]).fillna(0.0).to_numpy()
        if "gap_trend" in groups:
            d = prior.select("customer_id", "ts_s").distinct()
            w = ibis.window(group_by=d.customer_id, order_by=d.ts_s)
            d = d.mutate(gap=(d.ts_s - d.ts_s.lag().over(w)).cast("float64") / DAY)
            d = d.filter(d.gap.notnull())
            g = d.group_by("customer_id").aggregate(
                n_gaps=d.gap.count(), sum_gap=d.gap.sum(), last_gap=d.gap.argmax(d.ts_s),
            ).to_pandas().set_index("customer_id").reindex(out.index)
            n_gaps = g["n_gaps"].fillna(0).to_numpy()
            last_gap = g["last_gap"].to_numpy(dtype="float64")
            mean_gap = (g["sum_gap"] / g["n_gaps"]).to_numpy(dtype="float64")
            with np.errstate(divide="ignore", invalid="ignore"):
                earlier = (g["sum_gap"].to_numpy(dtype="float64") - last_gap) / (n_gaps - 1)
                trend = np.log(last_gap / earlier)
            ok = (n_gaps >= 2) & np.isfinite(trend)
            out["last_gap_days"] = np.nan_to_num(last_gap, nan=0.0)
            out["mean_gap_days"] = np.nan_to_num(mean_gap, nan=0.0)
            out["gap_trend"] = np.where(ok, trend, 0.0)

    if "customer" in groups and customers is not None:
        cust = _table(customers, "customers")
        cols = [c for c in ("acquisition_channel", "region", "signup_ts") if c in cust.columns]
        if cols:
            cdf = cust.select("customer_id", *cols).to_pandas().set_index("customer_id")
            cdf = cdf[~cdf.index.duplicated()].reindex(out.index)
            for c in ("acquisition_channel", "region"):
                if c in cdf:
                    out[c] = cdf[c].astype("category").to_numpy()
            if "signup_ts" in cdf:
                signup = pd.to_datetime(cdf["signup_ts"])
                known = signup <= t0
                out["days_since_signup"] = np.where(
                    known, (t0 - signup).dt.total_seconds() / DAY, np.nan)

    if {"engagement", "coupon"} & set(groups) and messages is not None:
        m = _table(messages, "messages")
        _require(m, "messages (assignments)", ["customer_id", "assigned_ts"])
        sent = m.sent_ts if "sent_ts" in m.columns else m.assigned_ts
        sel = {"sent_s": _epoch(sent)}
        for c, key in (("opened_ts", "opened_s"), ("clicked_ts", "clicked_s")):
            if c in m.columns:
                sel[key] = _epoch(m[c])
        if "coupon_cost" in m.columns:
            sel["coupon"] = (m.coupon_cost.fill_null(0) > 0).cast("int64")
        m = m.select("customer_id", **sel)
        j = m.join(t0_tab, "customer_id")
        prior = j.filter(j.sent_s.notnull() & (j.sent_s < j.t0_s))
        aggs = {"n_messages": prior.sent_s.count()}
        if "opened_s" in prior.columns:
            aggs["n_opened"] = (prior.opened_s.notnull() & (prior.opened_s < prior.t0_s)).sum()
        if "clicked_s" in prior.columns:
            aggs["n_clicked"] = (prior.clicked_s.notnull() & (prior.clicked_s < prior.t0_s)).sum()
        if "coupon" in prior.columns:
            aggs["n_coupon_offers"] = prior.coupon.sum()
        e = prior.group_by("customer_id").aggregate(**aggs).to_pandas().set_index("customer_id")
        e = e.reindex(out.index).fillna(0)
        if "engagement" in groups:
            nm = e["n_messages"].to_numpy(dtype="float64")
            out["n_messages"] = nm.astype("int64")
            with np.errstate(divide="ignore", invalid="ignore"):
                if "n_opened" in e:
                    out["open_rate"] = np.where(nm > 0, e["n_opened"].to_numpy() / nm, 0.0)
                if "n_clicked" in e:
                    out["click_rate"] = np.where(nm > 0, e["n_clicked"].to_numpy() / nm, 0.0)
        if "coupon" in groups and "n_coupon_offers" in e:
            out["n_coupon_offers"] = e["n_coupon_offers"].to_numpy().astype("int64")

    if "events" in groups and events is not None:
        ev = _table(events, "events")
        _require(ev, "events", ["customer_id", "event_ts", "event_type"])
        ev = ev.select("customer_id", "event_type", ev_s=_epoch(ev.event_ts))
        j = ev.join(t0_tab, "customer_id")
        recent = j.filter((j.ev_s < j.t0_s) & (j.ev_s >= j.t0_s - int(30 * DAY)))
        e = recent.group_by("customer_id").aggregate(
            visits_30d=(recent.event_type == "visit").sum(),
            cart_adds_30d=(recent.event_type == "cart_add").sum(),
        ).to_pandas().set_index("customer_id").reindex(out.index).fillna(0)
        out["visits_30d"] = e["visits_30d"].to_numpy().astype("int64")
        out["cart_adds_30d"] = e["cart_adds_30d"].to_numpy().astype("int64")
    return out
