"""The cumulative impact of all CRM against the global holdout (numbers only).

Population: every customer who is a member during the holdout period (signed up before its
end). Entry = the later of the period's start and sign-up. For a horizon ``h`` the members
whose ``[entry, entry + h)`` ends within the period (and before ``observation_end``) are
compared: held out (in ``holdout_periods``) against everyone else. Because the holdout is a
random draw among members, the difference of the two groups' means estimates the average effect
of the whole program on a member over ``h`` days (see ``docs/program.md``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from crmlab.data.schema import ADVERTISING_CHANNELS

__all__ = ["evaluate_program", "ProgramImpact", "program_population"]

_METRICS = ("revenue_per_customer", "margin_per_customer", "cost_per_customer",
            "profit_per_customer", "retention", "churn_rate", "messages_per_customer")


@dataclass
class ProgramImpact:
    """Result of :func:`evaluate_program`.

    Attributes
    ----------
    effects : DataFrame
        One row per metric × horizon: ``metric, horizon_days, value`` (CRM − holdout, per
        customer), ``ci_low, ci_high``, ``crm, holdout`` (the two groups' means),
        ``n_crm, n_holdout``.
    by_stage : DataFrame
        The same per lifecycle stage at entry (column ``stage``) for revenue, profit and
        retention.
    monthly : DataFrame
        Month since entry (1..12, 30-day months) for the longest horizon's population:
        ``cost_per_customer`` of the CRM group, ``incremental_revenue``, ``incremental_profit``
        per customer with intervals, and ``cumulative_profit``.
    """

    effects: pd.DataFrame
    by_stage: pd.DataFrame
    monthly: pd.DataFrame
    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp
    margin_rate: float
    level: float
    n_members: int
    n_held_out: int
    contaminated_sends: int
    attrs: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """``metric, horizon_days, value, ci_low, ci_high`` (+ group means and sizes)."""
        return self.effects.copy()

    def value(self, metric: str, horizon_days: int) -> float:
        e = self.effects
        return float(e[(e.metric == metric) & (e.horizon_days == horizon_days)].value.iloc[0])

    def __repr__(self) -> str:
        return (f"ProgramImpact(holdout {self.holdout_start:%Y-%m-%d}..{self.holdout_end:%Y-%m-%d},"
                f" {self.n_held_out} of {self.n_members} members held out)")

    def _repr_html_(self) -> str:
        return self.effects.to_html(index=False, float_format=lambda v: f"{v:,.4g}")


def _welch(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float, float]:
    d = float(np.mean(a) - np.mean(b)) if len(a) and len(b) else float("nan")
    if len(a) < 2 or len(b) < 2:
        return d, float("nan"), float("nan")
    se = float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)))
    z = stats.norm.ppf(0.5 + level / 2)
    return d, d - z * se, d + z * se


def _agresti_caffo(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float, float]:
    """Difference of two proportions with the Agresti–Caffo interval (one success and one
    failure added to each group): it keeps its level when a small group is all 0 or all 1,
    where the Wald interval collapses."""
    d = float(np.mean(a) - np.mean(b))
    pa, pb = (a.sum() + 1) / (len(a) + 2), (b.sum() + 1) / (len(b) + 2)
    se = float(np.sqrt(pa * (1 - pa) / (len(a) + 2) + pb * (1 - pb) / (len(b) + 2)))
    z = stats.norm.ppf(0.5 + level / 2)
    return d, min(d, pa - pb - z * se), max(d, pa - pb + z * se)


def program_population(data) -> pd.DataFrame:
    """Members of the holdout period: ``customer_id, signup_ts, entry, held_out``."""
    if getattr(data, "holdout_periods", None) is None:
        raise ValueError("evaluate_program: the data have no holdout_periods table (a global "
                         "holdout is needed to measure the program; docs/data-contract.md)")
    if data.customers is None:
        raise ValueError("evaluate_program: the customers table is needed (sign-up dates "
                         "define who was a member during the holdout period)")
    hp = data.holdout_periods.select("customer_id", "start_ts", "end_ts").to_pandas()
    if hp.empty:
        raise ValueError("evaluate_program: holdout_periods has no rows")
    h0, h1 = hp.start_ts.min(), hp.end_ts.max()
    cu = data.customers.select("customer_id", "signup_ts").to_pandas()
    cu = cu[cu.signup_ts.notna() & (cu.signup_ts < h1)].copy()
    cu["entry"] = cu.signup_ts.where(cu.signup_ts > h0, h0)
    cu["held_out"] = cu.customer_id.isin(hp.customer_id)
    cu.attrs.update(holdout_start=h0, holdout_end=h1)
    return cu.reset_index(drop=True)


def _per_customer(data, pop: pd.DataFrame, days: int, margin_rate: float,
                  churn_after_days: int, offset_days: int = 0) -> pd.DataFrame:
    """Outcomes over ``[entry + offset, entry + offset + days)`` per member (engine work)."""
    m = pop[["customer_id", "entry"]].copy()
    m.attrs = {}
    m["a"] = m.entry + pd.Timedelta(days=offset_days)
    m["b"] = m.a + pd.Timedelta(days=days)
    m["r"] = m.b - pd.Timedelta(days=90)
    key_t = data.orders.schema()["customer_id"]
    mt = ibis.memtable(m[["customer_id", "a", "b", "r"]]).mutate(
        customer_id=ibis._.customer_id.cast(key_t))
    o = data.orders
    j = o.inner_join(mt, "customer_id")
    j = j.filter((j.order_ts >= j.a) & (j.order_ts < j.b) & (j.order_ts < ibis.literal(
        data.observation_end.to_pydatetime())))
    is_pos = (j.amount > 0)
    if "is_refund" in o.columns:
        is_pos = is_pos & ~j.is_refund.fill_null(False)
    rev = j.group_by("customer_id").aggregate(
        revenue=j.amount.sum(),
        recent=(is_pos & (j.order_ts >= j.r)).cast("int64").sum()).to_pandas()
    out = m[["customer_id"]].merge(rev, on="customer_id", how="left").fillna(
        {"revenue": 0.0, "recent": 0})
    cost = pd.DataFrame({"customer_id": [], "cost": [], "messages": []})
    if data.assignments is not None and data.campaigns is not None:
        a = data.assignments
        c = data.campaigns.select("campaign_id", "channel", "cost_per_send")
        sent = a.sent_ts if "sent_ts" in a.columns else ibis.ifelse(
            a.arm != "control", a.assigned_ts, ibis.null().cast("timestamp"))
        s = a.mutate(_sent=sent).filter(ibis._._sent.notnull()).inner_join(c, "campaign_id")
        s = s.inner_join(mt, "customer_id")
        s = s.filter((s._sent >= s.a) & (s._sent < s.b))
        coupon = s.coupon_cost.fill_null(0.0) if "coupon_cost" in s.columns else 0.0
        delivered = (s.delivered.fill_null(True) if "delivered" in s.columns
                     else ibis.literal(True))
        adv = s.channel.isin(list(ADVERTISING_CHANNELS)) & delivered
        cost = s.group_by("customer_id").aggregate(
            cost=(s.cost_per_send.fill_null(0.0) + coupon).sum(),
            messages=adv.cast("int64").sum()).to_pandas()
    out = out.merge(cost, on="customer_id", how="left").fillna({"cost": 0.0, "messages": 0})
    out["margin"] = margin_rate * out.revenue
    out["profit"] = out.margin - out.cost
    out["retained"] = (out.recent > 0).astype(float)
    if offset_days == 0:
        from crmlab.churn import survival_table

        st = survival_table(data.orders, min(data.observation_end, pop.entry.max()
                                             + pd.Timedelta(days=days + 1)),
                            churn_after_days=churn_after_days, start="assignment",
                            assignments=pd.DataFrame({
                                "customer_id": pop.customer_id, "campaign_id": "program",
                                "arm": np.where(pop.held_out, "control", "crm"),
                                "assigned_ts": pop.entry}), horizon_days=days)
        out["churned"] = st.churned.reindex(out.customer_id).to_numpy().astype(float)
        out["duration"] = st.duration.reindex(out.customer_id).to_numpy()
    return out.set_index("customer_id").reindex(pop.customer_id).reset_index()


def evaluate_program(data, horizon_days=(180, 365), *, margin_rate: float = 0.3,
                     level: float = 0.95, churn_after_days: int = 90,
                     stages: bool = True) -> ProgramImpact:
    """Cumulative impact of all CRM against the global holdout.

    Parameters
    ----------
    data : CRMData
        With ``holdout_periods``, ``customers``, ``orders``; ``assignments`` and ``campaigns``
        give the costs (sends × ``cost_per_send`` + ``coupon_cost``) and the messages.
    horizon_days : int or sequence of int
        Horizons from entry (default 6 and 12 months: 180 and 365 days).
    margin_rate : float
        Share of revenue kept as margin (profit = margin − CRM cost).
    level : float
        Interval level. Differences of means have Welch normal intervals (analytic), the two
        proportions (retention, churn rate) Agresti–Caffo intervals; both are conservative for
        the sample's own average effect (Neyman).

    Returns
    -------
    ProgramImpact
        ``to_frame()``: ``metric, horizon_days, value, ci_low, ci_high`` with metrics
        ``revenue_per_customer`` (the h-day LTV), ``margin_per_customer``,
        ``cost_per_customer``, ``profit_per_customer``, ``retention`` (a purchase in the last
        90 days of the horizon), ``churn_rate`` (churned within the horizon, C =
        ``churn_after_days``), ``churn_hazard_ratio`` (Cox, CRM vs holdout),
        ``messages_per_customer``, ``total_cost`` and ``total_incremental_profit`` (over the
        population of the horizon).

    Examples
    --------
    >>> from crmlab.program import evaluate_program
    >>> imp = evaluate_program(data)                                   # doctest: +SKIP
    >>> imp.to_frame().query("metric == 'revenue_per_customer'")       # doctest: +SKIP
    """
    hs = [int(horizon_days)] if np.isscalar(horizon_days) else [int(h) for h in horizon_days]
    pop = program_population(data)
    h0, h1 = pop.attrs["holdout_start"], pop.attrs["holdout_end"]
    end = min(h1, data.observation_end)
    rows, stage_rows = [], []
    stage = _stages(data, pop, h0) if stages else pd.Series("all", index=pop.index)
    for h in hs:
        sel = pop[pop.entry + pd.Timedelta(days=h) <= end].reset_index(drop=True)
        if sel.empty or sel.held_out.sum() < 2 or (~sel.held_out).sum() < 2:
            continue
        y = _per_customer(data, sel, h, margin_rate, churn_after_days)
        g = sel.held_out.to_numpy()
        cols = {"revenue_per_customer": "revenue", "margin_per_customer": "margin",
                "cost_per_customer": "cost", "profit_per_customer": "profit",
                "retention": "retained", "churn_rate": "churned",
                "messages_per_customer": "messages"}
        for metric, col in cols.items():
            v = y[col].to_numpy(float)
            ci = _agresti_caffo if col in ("retained", "churned") else _welch
            d, lo, hi = ci(v[~g], v[g], level)
            rows.append({"metric": metric, "horizon_days": h, "value": d, "ci_low": lo,
                         "ci_high": hi, "crm": float(v[~g].mean()), "holdout": float(v[g].mean()),
                         "n_crm": int((~g).sum()), "n_holdout": int(g.sum())})
        hr = _cox_hr(y.duration.to_numpy(), y.churned.to_numpy(), ~g, level)
        rows.append({"metric": "churn_hazard_ratio", "horizon_days": h, **hr,
                     "crm": float("nan"), "holdout": float("nan"),
                     "n_crm": int((~g).sum()), "n_holdout": int(g.sum())})
        N = len(sel)
        total_cost = float(y.cost[~g].sum())
        rows.append({"metric": "total_cost", "horizon_days": h, "value": total_cost,
                     "ci_low": total_cost, "ci_high": total_cost, "crm": total_cost,
                     "holdout": float(y.cost[g].sum()), "n_crm": int((~g).sum()),
                     "n_holdout": int(g.sum())})
        p = y.profit.to_numpy(float)
        d, lo, hi = _welch(p[~g], p[g], level)
        rows.append({"metric": "total_incremental_profit", "horizon_days": h, "value": N * d,
                     "ci_low": N * lo, "ci_high": N * hi, "crm": float("nan"),
                     "holdout": float("nan"), "n_crm": int((~g).sum()), "n_holdout": int(g.sum())})
        st = stage.reindex(pop.index)
        st = pd.Series(st.to_numpy(), index=pop.customer_id).reindex(sel.customer_id).to_numpy()
        for s_name in pd.unique(st):
            m = st == s_name
            for metric, col in (("revenue_per_customer", "revenue"),
                                ("profit_per_customer", "profit"), ("retention", "retained")):
                v = y[col].to_numpy(float)
                ci = _agresti_caffo if col == "retained" else _welch
                d, lo, hi = ci(v[m & ~g], v[m & g], level)
                stage_rows.append({"stage": s_name, "metric": metric, "horizon_days": h,
                                   "value": d, "ci_low": lo, "ci_high": hi,
                                   "n_crm": int((m & ~g).sum()), "n_holdout": int((m & g).sum())})
    if not rows:
        raise ValueError("evaluate_program: no horizon fits within the holdout period and the "
                         f"observed data ({h0:%Y-%m-%d}..{end:%Y-%m-%d}), or fewer than 2 "
                         "customers in a group")
    monthly = _monthly(data, pop, max(h for h in hs if any(r["horizon_days"] == h for r in rows)),
                       end, margin_rate, level)
    return ProgramImpact(
        effects=pd.DataFrame(rows), by_stage=pd.DataFrame(stage_rows), monthly=monthly,
        holdout_start=h0, holdout_end=h1, margin_rate=margin_rate, level=level,
        n_members=len(pop), n_held_out=int(pop.held_out.sum()),
        contaminated_sends=_contaminated(data),
        attrs={"churn_after_days": churn_after_days,
               "interval": "Welch normal interval of a difference of means (analytic)"})


def _stages(data, pop, h0) -> pd.Series:
    """Lifecycle stage at entry: as of the holdout's start for members then, ``potential``
    for members who signed up during it (they enter at sign-up, before any purchase)."""
    from crmlab.segments import lifecycle_stages

    st = lifecycle_stages(data, h0).to_frame()
    col = "stage" if "stage" in st.columns else st.columns[0]
    if "customer_id" in st.columns:
        st = st.set_index("customer_id")
    s = st[col].astype(str).reindex(pop.customer_id).to_numpy()
    early = (pop.signup_ts <= h0).to_numpy()
    out = np.where(early & pd.notna(s), s, "potential")
    return pd.Series(out, index=pop.index)


def _cox_hr(duration, event, crm, level) -> dict:
    from lifelines import CoxPHFitter

    nan = {"value": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    if np.nansum(event) < 5:
        return nan
    df = pd.DataFrame({"d": np.maximum(duration, 1e-6), "e": event, "crm": crm.astype(float)})
    try:
        f = CoxPHFitter().fit(df, "d", "e")
    except Exception:          # noqa: BLE001 — a degenerate fit is reported as unknown
        return nan
    b, se = float(f.params_["crm"]), float(f.standard_errors_["crm"])
    z = stats.norm.ppf(0.5 + level / 2)
    return {"value": np.exp(b), "ci_low": np.exp(b - z * se), "ci_high": np.exp(b + z * se)}


def _monthly(data, pop, h, end, margin_rate, level) -> pd.DataFrame:
    sel = pop[pop.entry + pd.Timedelta(days=h) <= end].reset_index(drop=True)
    g = sel.held_out.to_numpy()
    rows, cum = [], 0.0
    for k in range(max(int(h // 30), 1)):
        days = 30 if h >= 30 else h
        y = _per_customer(data, sel, days, margin_rate, 90, offset_days=30 * k)
        rev, prof = y.revenue.to_numpy(float), y.profit.to_numpy(float)
        d, lo, hi = _welch(rev[~g], rev[g], level)
        dp, plo, phi = _welch(prof[~g], prof[g], level)
        cum += dp
        rows.append({"month": k + 1, "cost_per_customer": float(y.cost[~g].mean()),
                     "messages_per_customer": float(y.messages[~g].mean()),
                     "incremental_revenue": d, "incremental_revenue_ci_low": lo,
                     "incremental_revenue_ci_high": hi, "incremental_profit": dp,
                     "incremental_profit_ci_low": plo, "incremental_profit_ci_high": phi,
                     "cumulative_profit": cum, "n_crm": int((~g).sum()),
                     "n_holdout": int(g.sum())})
    return pd.DataFrame(rows)


def _contaminated(data) -> int:
    """Sends to customers during their holdout period (the campaign tool's fault)."""
    a = data.assignments
    if a is None or "sent_ts" not in a.columns:
        return 0
    hp = data.holdout_periods
    j = a.filter(a.sent_ts.notnull()).inner_join(hp, "customer_id")
    return int(j.filter((j.sent_ts >= j.start_ts) & (j.sent_ts < j.end_ts)).count().to_pandas())
