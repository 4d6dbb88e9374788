"""crmlab.cohorts: hand-made cases checked value by value, CDNOW against an independent pandas
computation, censoring, and bad input."""
from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from crmlab import cohorts as C
from crmlab.datasets import load_cdnow

NaN = np.nan


def _orders(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"])
    df["order_ts"] = pd.to_datetime(df["order_ts"], format="ISO8601")
    df.insert(0, "order_id", range(1, len(df) + 1))
    return df


def _events(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "event_ts", "event_type"])
    df["event_ts"] = pd.to_datetime(df["event_ts"], format="ISO8601")
    return df


# cohorts: Jan = {A, B}, Feb = {C}, Mar = {E}; D only has a refund; F's order is after the end
RET_ORDERS = _orders([
    ("A", "2024-01-05", 10.0), ("A", "2024-01-20", 5.0), ("A", "2024-03-10", 7.0),
    ("B", "2024-01-31 23:00", 3.0), ("B", "2024-02-01 01:00", 4.0), ("B", "2024-02-15", -5.0),
    ("C", "2024-02-10", 8.0), ("C", "2024-04-02", 9.0),
    ("D", "2024-01-10", -3.0),
    ("E", "2024-02-11", 0.0), ("E", "2024-03-01", 6.0),
    ("F", "2024-04-20", 6.0),
])
END = "2024-04-15"


def _wide(rm, values):
    return rm.pivot(values).to_numpy().tolist()


def test_retention_on_by_hand():
    rm = C.retention_matrix(RET_ORDERS, "M", "on", observation_end=END)
    assert rm.pivot("customers").index.strftime("%Y-%m").tolist() == ["2024-01", "2024-02",
                                                                      "2024-03"]
    np.testing.assert_array_equal(_wide(rm, "customers"),
                                  [[2, 1, 1], [1, 0, NaN], [1, NaN, NaN]])
    np.testing.assert_array_equal(_wide(rm, "rate"),
                                  [[1, .5, .5], [1, 0, NaN], [1, NaN, NaN]])
    assert rm.cohort_sizes.tolist() == [2, 1, 1]
    assert rm.n_censored_cells == 3          # censored cells are NaN, not 0
    assert rm.last_observed_period == pd.Timestamp("2024-03-01")  # April is incomplete
    ex = rm.excluded.set_index("reason")["rows"]
    assert ex["order_ts at or after observation_end 2024-04-15 00:00:00"] == 1
    assert ex["not a purchase (amount <= 0 or refund)"] == 3
    assert "NaN, not 0" in rm.reading and "4 customers" in rm.reading


def test_retention_on_or_after_by_hand():
    rm = C.retention_matrix(RET_ORDERS, "M", "on_or_after", observation_end=END)
    # Jan: A last buys in k=2, B in k=1; Feb: C buys again in April (read: before the end)
    np.testing.assert_array_equal(_wide(rm, "customers"),
                                  [[2, 2, 1], [1, 1, NaN], [1, NaN, NaN]])
    avg = rm.average_curve().set_index("period_number")
    assert avg.loc[1, "rate"] == pytest.approx(3 / 3)
    assert avg.loc[2, "rate"] == pytest.approx(1 / 2)


def test_retention_partial_period_and_max_periods():
    rm = C.retention_matrix(RET_ORDERS, "M", "on", observation_end=END,
                            complete_periods_only=False)
    np.testing.assert_array_equal(_wide(rm, "customers"),
                                  [[2, 1, 1, 0], [1, 0, 1, NaN], [1, 0, NaN, NaN]])
    rm2 = C.retention_matrix(RET_ORDERS, "M", "on", observation_end=END, max_periods=2)
    assert rm2.pivot("customers").shape == (3, 2)


def test_retention_weeks_and_days_and_is_refund_flag():
    o = _orders([
        (1, "2024-01-01 09:00", 1.0), (1, "2024-01-07 23:59", 1.0),   # Mon and Sun: one week
        (2, "2024-01-07 10:00", 1.0), (2, "2024-01-08 10:00", 1.0),   # Sun, Mon: next week
        (3, "2024-01-09", 5.0), (3, "2024-01-16", 5.0),
    ])
    o["is_refund"] = [False, False, False, False, False, True]      # flagged refund: not active
    rm = C.retention_matrix(o, "W", "on", observation_end="2024-01-22")
    assert rm.pivot("customers").index.strftime("%Y-%m-%d").tolist() == ["2024-01-01",
                                                                         "2024-01-08"]
    np.testing.assert_array_equal(_wide(rm, "customers"), [[2, 1, 0], [1, 0, NaN]])
    rd = C.retention_matrix(o, "D", "on", observation_end="2024-01-09", max_periods=8)
    row = rd.pivot("customers").loc[pd.Timestamp("2024-01-01")].tolist()
    assert row == [1, 0, 0, 0, 0, 0, 1, 0]   # day 7 (Jan 8) is complete by the end (Jan 9)
    assert rd.pivot("customers").loc[pd.Timestamp("2024-01-07")].tolist()[:2] == [1, 1]
    assert rd.pivot("customers").loc[pd.Timestamp("2024-01-07")].isna().sum() == 6


def test_retention_default_end_is_midnight_after_last_order_and_ibis_input():
    o = RET_ORDERS[RET_ORDERS.customer_id != "F"]
    rm = C.retention_matrix(ibis.memtable(o), "M")
    assert rm.observation_end == pd.Timestamp("2024-04-03")
    assert rm.last_observed_period == pd.Timestamp("2024-03-01")
    assert rm.excluded.query("reason.str.contains('after')").empty


def test_retention_cdnow_matches_independent_pandas():
    orders = load_cdnow()
    rm = C.retention_matrix(orders, "M", "on", observation_end="1998-07-01")
    # independent computation with pandas periods
    o = orders[orders.amount > 0].copy()
    o["p"] = o.order_ts.dt.to_period("M")
    first = o.groupby("customer_id")["p"].min().rename("c")
    o = o.join(first, on="customer_id")
    o["k"] = (o["p"] - o["c"]).apply(lambda d: d.n)
    ref = o.drop_duplicates(["customer_id", "k"]).groupby(["c", "k"]).size().unstack()
    got = rm.pivot("customers")
    # 68 customers' first rows are $0 (not purchases): two of them first buy in Nov 1997
    assert got.shape == (4, 18)
    np.testing.assert_array_equal(got.iloc[:3, :16].to_numpy(), ref.iloc[:3, :16].to_numpy())
    assert rm.cohort_sizes.tolist() == first.value_counts().sort_index().tolist()
    assert rm.cohort_sizes.tolist() == [7814, 8455, 7231, 2]
    # by first order of any amount the Q1-1997 cohorts are the published 23,570 customers
    by_any = orders.groupby("customer_id").order_ts.min().dt.to_period("M").value_counts()
    assert by_any.sort_index().tolist() == [7846, 8476, 7248]
    assert rm.n_customers == 23_502
    # Feb 1997 misses 1 month, Mar 1997 2, Nov 1997 10 (only Nov 97 .. Jun 98 observed)
    assert rm.n_censored_cells == 13
    ooa = C.retention_matrix(orders, "M", "on_or_after", observation_end="1998-07-01")
    last_k = o.groupby("customer_id").agg(c=("c", "first"), k=("k", "max"))
    ref_ooa = [(last_k.query("c == @c")["k"] >= 5).sum() for c in sorted(last_k.c.unique())]
    ref_ooa = [float(v) for v in ref_ooa]
    assert ooa.pivot("customers")[5].tolist() == ref_ooa


def test_acquisition_cohorts():
    ac = C.acquisition_cohorts(RET_ORDERS, "M", observation_end=END)
    assert ac.customer_id.tolist() == ["A", "B", "C", "E"]
    assert ac.cohort.dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-01", "2024-02",
                                                       "2024-03"]
    assert ac.first_purchase_ts.iloc[1] == pd.Timestamp("2024-01-31 23:00")
    wk = C.acquisition_cohorts(RET_ORDERS, "W", observation_end=END)
    assert wk.cohort.iloc[1] == pd.Timestamp("2024-01-29")  # Monday of that ISO week


REP_ORDERS = _orders([
    ("A", "2024-01-01 10:00", 5.0), ("A", "2024-01-01 15:00", 5.0),  # same day: one purchase
    ("A", "2024-01-25", 5.0),                                         # +24 days
    ("B", "2024-01-10", 5.0), ("B", "2024-02-09", 5.0),               # exactly +30 days
    ("C", "2024-03-20", 5.0),                                          # window past the end
    ("D", "2024-02-01", 5.0), ("D", "2024-02-05", -5.0),               # a refund is no repeat
])


def test_repurchase_rate_by_hand():
    rr = C.repurchase_rate(REP_ORDERS, (14, 30, 31), "M", observation_end="2024-04-10")
    ov = rr.overall.set_index("within_days")
    assert ov.loc[14, ["customers", "eligible", "censored", "returned"]].tolist() == [4, 4, 0, 0]
    assert ov.loc[30, ["eligible", "censored", "returned"]].tolist() == [3, 1, 1]
    assert ov.loc[31, ["eligible", "censored", "returned"]].tolist() == [3, 1, 2]
    assert rr.rate(30) == pytest.approx(1 / 3) and rr.rate(31) == pytest.approx(2 / 3)
    t = rr.table.query("within_days == 31").set_index("cohort")
    assert t["rate"].tolist()[:2] == [1.0, 0.0] and np.isnan(t["rate"].iloc[2])
    assert "censored" in rr.reading
    with pytest.raises(KeyError, match="within_days=7"):
        rr.rate(7)


def test_revisit_rate_by_hand():
    ev = _events([
        (1, "2024-01-01 08:00", "visit"), (1, "2024-01-01 20:00", "visit"),  # same day
        (1, "2024-01-31 07:59", "visit"),                                     # < 30 days
        (2, "2024-01-02", "visit"), (2, "2024-01-05", "cart_add"),            # cart is no visit
        (3, "2024-01-03", "visit"), (3, "2024-02-02", "visit"),               # exactly 30 d
        (4, "2024-02-25", "visit"), (4, "2024-02-26", "visit"),               # window > end
        (5, "2024-03-05", "visit"),                                           # after the end
    ])
    rv = C.revisit_rate(ev, 30, observation_end="2024-03-01")
    ov = rv.overall.iloc[0]
    assert (ov.customers, ov.eligible, ov.censored, ov.returned) == (4, 3, 1, 1)
    assert rv.rate(30) == pytest.approx(1 / 3)
    assert rv.excluded["rows"].tolist() == [1]


LTV_ORDERS = _orders([
    ("A", "2024-01-05", 100.0), ("A", "2024-01-20", -20.0), ("A", "2024-03-03", 50.0),
    ("B", "2024-01-31", 30.0),
    ("C", "2024-02-10", 40.0), ("C", "2024-03-15", 60.0),
    ("D", "2024-02-01", -10.0),                               # never bought
    ("E", "2024-01-02", -7.0), ("E", "2024-02-20", 80.0),     # refund before first purchase
])


def test_ltv_curves_by_hand():
    lc = C.ltv_curves(LTV_ORDERS, "M", observation_end="2024-04-01")
    np.testing.assert_allclose(lc.pivot("ltv").to_numpy(), [[55, 55, 80], [60, 90, NaN]])
    np.testing.assert_allclose(lc.pivot("revenue").to_numpy(), [[110, 0, 50], [120, 60, NaN]])
    ex = lc.excluded.set_index("reason")["rows"]
    assert ex["customer never made a purchase (only refunds or zero amounts)"] == 1
    assert ex["refund or zero amount before the customer's first purchase"] == 1
    assert lc.n_censored_cells == 1
    avg = lc.average_curve().set_index("period_number")["ltv"]
    assert avg.tolist() == pytest.approx([57.5, 72.5, 80.0])


def test_n_period_ltv():
    two = C.n_period_ltv(LTV_ORDERS, 2, observation_end="2024-04-01")
    assert two["ltv"].tolist() == pytest.approx([55.0, 90.0, 72.5])
    assert two["cohort"].iloc[-1] == "all observed"
    three = C.n_period_ltv(LTV_ORDERS, 3, observation_end="2024-04-01")
    assert three["ltv"].iloc[0] == 80.0 and np.isnan(three["ltv"].iloc[1])
    assert three["observed"].tolist() == [True, False, True]
    assert three["ltv"].iloc[-1] == 80.0   # only the January cohort reached 3 months


def test_funnel_by_hand():
    ev = _events([
        (1, "2024-01-01", "visit"), (1, "2024-01-02", "cart_add"),
        (2, "2024-01-05", "visit"),
        (3, "2024-01-01", "cart_add"), (3, "2024-01-10", "visit"),    # cart before the visit
        (4, "2024-01-15", "visit"), (4, "2024-01-20", "cart_add"),    # purchase after window
        (5, "2024-02-01", "visit"), (5, "2024-02-02", "cart_add"),
        (6, "2024-03-20", "visit"),                                   # window past the end
        (7, "2024-01-07", "visit"), (7, "2024-01-08", "cart_add"),    # only a refund
        (8, "2024-01-03", "visit"), (8, "2024-01-04 10:00", "cart_add"),  # bought before cart
    ])
    od = _orders([
        (1, "2024-01-03", 10.0), (2, "2024-01-06", 10.0), (3, "2024-01-11", 10.0),
        (4, "2024-02-20", 10.0), (5, "2024-02-03", 10.0), (7, "2024-01-09", -10.0),
        (8, "2024-01-04 09:00", 10.0),
    ])
    fn = C.funnel(ev, od, "M", observation_end="2024-04-01")
    assert fn.overall["customers"].tolist() == [7, 5, 2]
    assert fn.overall["share_of_previous"].tolist()[1:] == pytest.approx([5 / 7, 2 / 5])
    jan = fn.table[fn.table.cohort == pd.Timestamp("2024-01-01")]
    assert jan["customers"].tolist() == [6, 4, 1]
    mar = fn.table[fn.table.cohort == pd.Timestamp("2024-03-01")]
    assert mar["customers"].tolist() == [0, 0, 0] and mar["censored"].iloc[0] == 1
    assert "1 visitors" in fn.reading


def test_crmdata_input_uses_its_tables_and_end(small_shop):
    rm = C.retention_matrix(small_shop, "M")
    assert rm.observation_end == small_shop.observation_end
    ref = C.retention_matrix(small_shop.orders.to_pandas(), "M",
                             observation_end=small_shop.observation_end)
    pd.testing.assert_frame_equal(rm.table, ref.table)
    fn = C.funnel(small_shop)
    assert fn.overall["customers"].is_monotonic_decreasing
    rv = C.revisit_rate(small_shop)
    assert 0 < rv.rate(30) < 1


# ------------------------------------------------------------------------------- bad input

def test_bad_inputs_have_clear_errors():
    with pytest.raises(ValueError, match="period must be one of"):
        C.retention_matrix(RET_ORDERS, "Q")
    with pytest.raises(ValueError, match="kind must be 'on'"):
        C.retention_matrix(RET_ORDERS, "M", kind="after")
    with pytest.raises(C.DataContractError, match=r"orders: table is empty.*0 rows"):
        C.retention_matrix(RET_ORDERS.iloc[:0])
    with pytest.raises(C.DataContractError, match=r"orders\.amount: required column missing"):
        C.ltv_curves(RET_ORDERS.drop(columns="amount"))
    bad = RET_ORDERS.assign(order_ts=RET_ORDERS.order_ts.astype(str))
    with pytest.raises(C.DataContractError, match=r"orders\.order_ts: must be a timestamp"):
        C.repurchase_rate(bad)
    with pytest.raises(C.DataContractError, match="no purchases"):
        C.retention_matrix(RET_ORDERS.assign(amount=-1.0))
    with pytest.raises(ValueError, match="max_periods"):
        C.retention_matrix(RET_ORDERS, max_periods=0)
    with pytest.raises(ValueError, match="within_days"):
        C.repurchase_rate(RET_ORDERS, 0)
    with pytest.raises(C.DataContractError, match=r"events\.event_type"):
        C.revisit_rate(_events([(1, "2024-01-01", "visit")]).drop(columns="event_type"))
    with pytest.raises(ValueError, match="needs the orders table"):
        C.funnel(_events([(1, "2024-01-01", "visit")]))
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        C.retention_matrix([1, 2, 3])


def test_null_keys_are_counted_not_dropped_silently():
    o = RET_ORDERS.copy()
    o.loc[0, "order_ts"] = pd.NaT
    rm = C.retention_matrix(o, observation_end=END)
    assert rm.excluded.set_index("reason").loc["null customer_id or order_ts", "rows"] == 1


# ------------------------------------------------------------------------------- figures

def test_cohort_figures_leave_censored_cells_blank():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlab.plots import cohorts as P

    rm = C.retention_matrix(RET_ORDERS, "M", "on", observation_end=END)
    fig = P.retention_heatmap(rm, values="customers")
    mesh = fig.axes[0].collections[0]
    assert np.ma.count_masked(mesh.get_array()) == rm.n_censored_cells == 3
    assert "not yet observed" in fig.axes[0].get_title()
    lc = C.ltv_curves(LTV_ORDERS, "M", observation_end="2024-04-01")
    fig2 = P.ltv_curves(lc)
    lines = {l.get_label(): l for l in fig2.axes[0].get_lines()}
    assert list(lines["2024-02"].get_ydata()) == [60.0, 90.0]    # stops where observation stops
    assert list(lines["average"].get_ydata()) == pytest.approx([57.5, 72.5, 80.0])
    rr = C.repurchase_rate(REP_ORDERS, (14, 30), observation_end="2024-04-10")
    assert P.return_rates(rr).axes[0].get_ylabel() == "repurchase rate"
    plt.close("all")


def test_mask_and_window_paths_agree(monkeypatch):
    """The one-aggregation bit-mask path equals the general distinct + window path."""
    o = load_cdnow(sample=True)
    fast = C.retention_matrix(o, "M", observation_end="1998-07-01")       # one mask
    fast_w = C.retention_matrix(o, "W", observation_end="1998-07-01")     # 78 weeks: 2 masks
    fast_d = C.retention_matrix(RET_ORDERS, "D", observation_end=END)     # 100 days: 2 masks
    monkeypatch.setattr(C, "_MAX_MASKS", 0)
    slow = C.retention_matrix(o, "M", observation_end="1998-07-01")
    slow_w = C.retention_matrix(o, "W", observation_end="1998-07-01")
    slow_d = C.retention_matrix(RET_ORDERS, "D", observation_end=END)
    pd.testing.assert_frame_equal(fast.table, slow.table)
    pd.testing.assert_frame_equal(fast_w.table, slow_w.table)
    pd.testing.assert_frame_equal(fast_d.table, slow_d.table)
    assert fast_d.table["customers"].sum() > 0
    monkeypatch.setattr(C, "_MAX_MASKS", 8)
    monkeypatch.setattr(C, "_has_bit_or", lambda tbl: False)   # e.g. Ibis on PySpark
    pd.testing.assert_frame_equal(C.retention_matrix(o, "M", observation_end="1998-07-01").table,
                                  fast.table)
    assert fast.n_customers == o.loc[o.amount > 0, "customer_id"].nunique() == 2349


def test_results_render_and_convert():
    objs = [C.retention_matrix(RET_ORDERS, observation_end=END),
            C.ltv_curves(LTV_ORDERS, observation_end="2024-04-01"),
            C.repurchase_rate(REP_ORDERS, 30, observation_end="2024-04-10")]
    for r in objs:
        html = r._repr_html_()
        assert html.startswith("<h4>") and r.reading in html
        assert r.to_frame().equals(r.table) and r.to_frame() is not r.table
    assert "Excluded rows" in objs[0]._repr_html_()


# ------------------------------------------------------------------- Spark (make test-spark)

@pytest.fixture(scope="module")
def spark_con(tmp_path_factory):
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    spark = (SparkSession.builder.master("local[1]").appName("crmlab-cohorts-tests")
             .config("spark.sql.warehouse.dir", str(warehouse))
             .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    assert pyspark is not None
    return ibis.pyspark.connect(spark)


@pytest.mark.spark
def test_same_results_on_spark(spark_con):
    """Every cohort and segment aggregation is plain Ibis: Spark gives the DuckDB numbers."""
    from crmlab import segments as S

    def sp(name, df):
        return spark_con.create_table(name, df, overwrite=True)

    o = sp("crmlab_ret_orders", RET_ORDERS)
    for period, kind in (("M", "on"), ("M", "on_or_after"), ("W", "on")):
        pd.testing.assert_frame_equal(
            C.retention_matrix(o, period, kind, observation_end=END).table,
            C.retention_matrix(RET_ORDERS, period, kind, observation_end=END).table,
            check_dtype=False)
    pd.testing.assert_frame_equal(
        C.ltv_curves(sp("crmlab_ltv_orders", LTV_ORDERS), observation_end="2024-04-01").table,
        C.ltv_curves(LTV_ORDERS, observation_end="2024-04-01").table, check_dtype=False)
    pd.testing.assert_frame_equal(
        C.repurchase_rate(sp("crmlab_rep_orders", REP_ORDERS), (14, 30, 31),
                          observation_end="2024-04-10").table,
        C.repurchase_rate(REP_ORDERS, (14, 30, 31), observation_end="2024-04-10").table,
        check_dtype=False)
    ev = _events([(1, "2024-01-01", "visit"), (1, "2024-01-02", "cart_add"),
                  (2, "2024-01-03", "visit"), (3, "2024-01-05", "visit"),
                  (3, "2024-01-09", "visit")])
    od = _orders([(1, "2024-01-03", 5.0)])
    pd.testing.assert_frame_equal(
        C.funnel(sp("crmlab_ev", ev), sp("crmlab_od", od), observation_end="2024-03-01").overall,
        C.funnel(ev, od, observation_end="2024-03-01").overall, check_dtype=False)
    assert C.revisit_rate(sp("crmlab_ev2", ev), observation_end="2024-03-01").rate(30) \
        == pytest.approx(1 / 3)
    from test_segments import AS_OF, _shop

    shop = _shop()
    on_spark = {k: sp(f"crmlab_shop_{k}", v) for k, v in shop.items()}
    a = S.lifecycle_stages(on_spark, AS_OF, vip_top_share=None).table
    b = S.lifecycle_stages(shop, AS_OF, vip_top_share=None).table
    assert a["stage"].astype(str).to_dict() == b["stage"].astype(str).to_dict()
