"""Survival tables: the churn definition pinned by hand-made customers, no look-ahead, bad input.

The definition (docs/churn.md, docs/architecture.md "Shared definitions"): anchors are t0 and
every purchase after it; churn at the first anchor a whose next purchase is later than a + C
(or never comes) and a + C <= observation_end; duration = a - t0; otherwise censored at the end.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.churn import (ChurnInputError, churn_covariates, excluded_rows, repurchase_table,
                          survival_table)

END = pd.Timestamp("2025-01-01")
C = 90


def _orders(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"])
    df["order_ts"] = pd.to_datetime(df["order_ts"], format="mixed")
    df["amount"] = df["amount"].astype("float64")
    df.insert(0, "order_id", np.arange(1, len(df) + 1))
    return df


# Each customer is one edge of the definition; expected (duration days, churned).
EDGES = {
    # regular buyer whose last purchase is on the last observed day -> censored at the end
    1: (["2024-09-01", "2024-10-15", "2024-12-01", "2024-12-31 18:00"], (122.0, 0)),
    # a single purchase on the last observed day -> censored after 6 hours
    2: (["2024-12-31 18:00"], (0.25, 0)),
    # gap of exactly C days (2024-01-01 -> 2024-03-31 is 90 days) is NOT a churn; the churn
    # comes at the last purchase, 2024-06-15 (+90 <= end) -> 166 days
    3: (["2024-01-01", "2024-03-31", "2024-06-15"], (166.0, 1)),
    # gap of C days and one second -> churn at the first purchase
    4: (["2024-01-01", "2024-03-31 00:00:01"], (0.0, 1)),
    # long gap then a return: churned at the first spell (duration 0); the return is not a
    # second row (one spell per customer; see repurchase_table / start="assignment")
    5: (["2024-01-01", "2024-07-01", "2024-07-15"], (0.0, 1)),
    # single purchase long before the end -> churn at time zero
    6: (["2024-03-01"], (0.0, 1)),
    # first (and only) purchase less than C days before the end -> censored
    7: (["2024-11-15"], (47.0, 0)),
    # last purchase exactly C days before the end: a + C == observation_end counts as churn
    8: (["2024-09-01", "2024-10-03"], (32.0, 1)),
    # last purchase C days minus one second before the end -> still censored
    9: (["2024-09-01", "2024-10-03 00:00:01"], ((END - pd.Timestamp("2024-09-01")).days, 0)),
    # two orders at the same instant are one purchase; the next comes within C
    10: (["2024-05-01", "2024-05-01", "2024-06-01"], (31.0, 1)),
}


@pytest.fixture(scope="module")
def edge_orders():
    rows = [(cid, ts, 10.0) for cid, (dates, _) in EDGES.items() for ts in dates]
    rows += [
        (11, "2024-02-01", 20.0), (11, "2024-03-01", -20.0),  # a refund is not a purchase
        (12, "2024-12-01", 5.0), (12, "2025-01-01", 5.0),       # at the end: not read
        (12, "2025-02-01", 5.0),
    ]
    df = _orders(rows)
    df["is_refund"] = df["amount"] < 0
    return df


def test_edges_first_purchase(edge_orders):
    st = survival_table(edge_orders, END, churn_after_days=C)
    for cid, (_, (dur, churned)) in EDGES.items():
        assert st.loc[cid, "duration"] == pytest.approx(dur, abs=1e-5), cid
        assert st.loc[cid, "churned"] == churned, cid
    assert st.loc[11, "churned"] == 1 and st.loc[11, "duration"] == 0.0  # refund ignored
    assert st.loc[12, "churned"] == 0 and st.loc[12, "duration"] == 31.0
    assert st.loc[1, "t0"] == pd.Timestamp("2024-09-01")
    assert st["duration"].dtype == np.float64 and set(st["churned"].unique()) <= {0, 1}
    ex = excluded_rows(st).set_index("reason")["rows"]
    assert ex["order_ts at or after observation_end (not read)"] == 2
    assert ex["refund rows (is_refund) are not purchases"] == 1
    assert st.attrs["churn_after_days"] == C and st.attrs["observation_end"] == END


def test_gap_exactly_c_with_other_c(edge_orders):
    # with C = 89 the 90-day gap of customer 3 is a churn at its first purchase
    st = survival_table(edge_orders, END, churn_after_days=89)
    assert (st.loc[3, "duration"], st.loc[3, "churned"]) == (0.0, 1)


def test_nothing_after_end_is_read(edge_orders):
    future = _orders([(cid, "2025-01-01", 10.0) for cid in EDGES] +
                     [(cid, "2025-03-01", 10.0) for cid in EDGES] + [(99, "2025-02-01", 1.0)])
    future["is_refund"] = False
    more = pd.concat([edge_orders, future.assign(order_id=future.order_id + 1000)])
    a = survival_table(edge_orders, END, churn_after_days=C)
    b = survival_table(more, END, churn_after_days=C)
    pd.testing.assert_frame_equal(a, b)


def test_start_signup():
    orders = _orders([(1, "2024-02-01", 5.0), (1, "2024-03-01", 5.0),
                      (3, "2024-12-10", 5.0), (4, "2023-12-01", 5.0)])
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4, 5, 6],
        "signup_ts": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-12-01", "2024-01-01",
                                     "2025-02-01", None]),
    })
    st = survival_table(orders, END, C, start="signup", customers=customers)
    # 1: signup, purchases within 90 days, then stop -> churn at 2024-03-01 (60 days)
    assert (st.loc[1, "duration"], st.loc[1, "churned"]) == (60.0, 1)
    # 2: signed up and never bought -> churn at time zero (duration 0)
    assert (st.loc[2, "duration"], st.loc[2, "churned"]) == (0.0, 1)
    # 3: signed up 31 days before the end -> censored at 31 days
    assert (st.loc[3, "duration"], st.loc[3, "churned"]) == (31.0, 0)
    # 4: a purchase before signup is not an anchor -> churn at signup
    assert (st.loc[4, "duration"], st.loc[4, "churned"]) == (0.0, 1)
    assert 5 not in st.index and 6 not in st.index
    ex = excluded_rows(st).set_index("reason")["rows"]
    assert ex["signup_ts at or after observation_end"] == 1
    assert ex["signup_ts missing (no time zero)"] == 1


def test_start_assignment_and_horizon():
    orders = _orders([(1, "2024-05-01", 5.0), (1, "2024-06-20", 5.0), (2, "2024-05-01", 5.0),
                      (3, "2024-06-01", 5.0)])
    asg = pd.DataFrame({"campaign_id": "C1", "customer_id": [1, 2, 3],
                        "arm": ["treatment", "control", "treatment"],
                        "assigned_ts": pd.to_datetime(["2024-06-01"] * 3)})
    st = survival_table(orders, END, C, start="assignment", assignments=asg)
    assert list(st["arm"]) == ["treatment", "control", "treatment"]
    assert (st.loc[1, "duration"], st.loc[1, "churned"]) == (19.0, 1)
    assert (st.loc[2, "duration"], st.loc[2, "churned"]) == (0.0, 1)  # no purchase afterwards
    # an order at the assignment instant is the time-zero anchor itself
    assert (st.loc[3, "duration"], st.loc[3, "churned"]) == (0.0, 1)
    # followed only 60 days after the assignment: nobody can be declared churned yet
    h = survival_table(orders, END, C, start="assignment", assignments=asg, horizon_days=60)
    assert (h["churned"] == 0).all() and (h["duration"] == 60.0).all()
    # followed 120 days: customer 2 (anchor + 90 <= t0 + 120) churns, censored others at 120
    h = survival_table(orders, END, C, start="assignment", assignments=asg, horizon_days=120)
    assert h["churned"].tolist() == [1, 1, 1]
    two = pd.concat([asg, asg.assign(campaign_id="C2")])
    with pytest.raises(ChurnInputError, match="campaign_id holds 2 campaigns"):
        survival_table(orders, END, C, start="assignment", assignments=two)


def test_ibis_input_gives_same_table(edge_orders):
    import ibis

    con = ibis.duckdb.connect()
    t = con.create_table("orders", ibis.memtable(edge_orders))
    a = survival_table(edge_orders, END, C)
    b = survival_table(t, END, C)
    pd.testing.assert_frame_equal(a, b)


def test_repurchase_table(edge_orders):
    r = repurchase_table(edge_orders, END)
    assert r.loc[3, "duration"] == 90.0 and r.loc[3, "repurchased"] == 1
    assert r.loc[6, "repurchased"] == 0 and r.loc[6, "duration"] == (END - pd.Timestamp("2024-03-01")).days
    assert r.loc[10, "duration"] == 31.0  # same-instant orders merged
    per = repurchase_table(edge_orders, END, per="purchase")
    c5 = per[per.customer_id == 5]
    assert c5["purchase_number"].tolist() == [1, 2, 3]
    assert c5["repurchased"].tolist() == [1, 1, 0]
    capped = repurchase_table(edge_orders, END, max_days=60)
    assert capped.loc[3, "duration"] == 60.0 and capped.loc[3, "repurchased"] == 0


def test_covariates_as_of_t0_no_look_ahead():
    rng = np.random.default_rng(3)
    n = 300
    rows = []
    for cid in range(n):
        k = rng.integers(1, 6)
        days = np.sort(rng.uniform(0, 330, k))
        for d in days:
            rows.append((cid, pd.Timestamp("2024-01-01") + pd.Timedelta(days=float(d)),
                         float(rng.integers(1, 100))))
    orders = _orders(rows)
    customers = pd.DataFrame({"customer_id": range(n),
                              "signup_ts": pd.Timestamp("2023-12-01"),
                              "region": rng.choice(["서울", "부산"], n),
                              "acquisition_channel": rng.choice(["search", "social"], n)})
    asg = pd.DataFrame({"campaign_id": "C9", "customer_id": range(n), "arm": "treatment",
                        "assigned_ts": pd.Timestamp("2024-08-01")})
    msgs = pd.DataFrame({"campaign_id": "M", "customer_id": np.arange(n), "arm": "treatment",
                         "assigned_ts": pd.Timestamp("2024-05-01"),
                         "sent_ts": pd.Timestamp("2024-05-01"),
                         "opened_ts": pd.to_datetime(np.where(np.arange(n) % 2 == 0,
                                                              "2024-05-02", "2024-09-01")),
                         "clicked_ts": pd.NaT, "coupon_cost": 1000.0})
    kw = dict(covariates="all", customers=customers, assignments=asg, messages=msgs)
    base = survival_table(orders, "2025-01-01", C, start="assignment", **kw)
    # future orders (after each customer's t0) must not change any covariate
    future = _orders([(cid, pd.Timestamp("2024-08-01") + pd.Timedelta(days=int(d)), 50.0)
                      for cid, d in zip(range(n), rng.integers(0, 150, n))])
    more = pd.concat([orders, future.assign(order_id=future.order_id + 10_000)])
    again = survival_table(more, "2025-01-01", C, start="assignment", **kw)
    cov_cols = [c for c in base.columns if c not in ("t0", "duration", "churned", "arm")]
    assert len(cov_cols) >= 12
    pd.testing.assert_frame_equal(base[cov_cols], again[cov_cols])
    # and the outcome did change (the future orders were read for the outcome)
    assert not base["duration"].equals(again["duration"])
    # check values by hand for one customer
    cid = 0
    mine = orders[(orders.customer_id == cid) & (orders.order_ts < pd.Timestamp("2024-08-01"))]
    assert base.loc[cid, "n_orders"] == mine.order_ts.nunique()
    assert base.loc[cid, "spend_total"] == pytest.approx(mine.amount.sum())
    # opens after t0 are not counted: even customers opened before, odd ones after
    assert base.loc[0, "open_rate"] == 1.0 and base.loc[1, "open_rate"] == 0.0
    assert base.loc[0, "n_coupon_offers"] == 1
    assert set(base["stage"].astype(str)) <= {"potential", "new", "repeat", "dormant"}


def test_gap_trend_and_stage_values():
    orders = _orders([(1, "2024-01-01", 1.0), (1, "2024-01-11", 1.0), (1, "2024-01-21", 1.0),
                      (1, "2024-03-01", 1.0),  # gaps 10, 10, 40 -> log(40/10)
                      (2, "2023-01-01", 1.0)])
    t0 = pd.Series(pd.to_datetime(["2024-04-01", "2024-04-01", "2024-04-01"]),
                   index=pd.Index([1, 2, 3], name="customer_id"))
    cov = churn_covariates(orders, t0, groups=["rfm", "gap_trend", "stage"])
    assert cov.loc[1, "gap_trend"] == pytest.approx(np.log(4.0))
    assert cov.loc[1, "last_gap_days"] == 40.0 and cov.loc[1, "mean_gap_days"] == 20.0
    assert cov.loc[1, "recency_days"] == 31.0 and cov.loc[1, "tenure_days"] == 91.0
    assert list(cov["stage"].astype(str)) == ["repeat", "dormant", "potential"]
    assert cov.loc[3, "n_orders"] == 0 and np.isnan(cov.loc[3, "recency_days"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(churn_after_days=0), "churn_after_days must be a positive number"),
    (dict(churn_after_days=-5), "churn_after_days must be a positive number"),
    (dict(observation_end="2023-01-01"), "is not after the data: the first order_ts is"),
    (dict(start="cohort"), "start must be one of"),
    (dict(start="signup"), "needs the customers table"),
    (dict(start="assignment"), "needs one campaign's assignments"),
    (dict(observation_end="2025-01-01 00:00+09:00"), "time-zone aware"),
])
def test_bad_input(edge_orders, kwargs, match):
    args = dict(orders=edge_orders, observation_end=END)
    args.update(kwargs)
    with pytest.raises(ChurnInputError, match=match):
        survival_table(**args)


def test_missing_column_and_empty():
    with pytest.raises(ChurnInputError, match=r"orders: missing required column\(s\) \['amount'\]"):
        survival_table(pd.DataFrame({"customer_id": [1], "order_ts": [END]}), END)
    empty = _orders([])
    with pytest.raises(ChurnInputError, match="the table is empty"):
        survival_table(empty, END)
