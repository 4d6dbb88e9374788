"""crmlab.segments: RFM scores (ties), named segments, lifecycle stages and precedence, stage
flow — hand-made cases checked value by value — and bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab import segments as S
from crmlab.cohorts import DataContractError

# --------------------------------------------------------------------------------- scores


def test_quantile_scores_distinct_and_ties():
    assert S.quantile_scores(pd.Series(range(1, 11))).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # a tie block that straddles a quintile boundary keeps the score where it starts
    assert S.quantile_scores(pd.Series([1, 2, 2, 2, 3])).tolist() == [1, 2, 2, 2, 5]
    # 60% tied at the lowest value: all score 1, scores 2 and 3 stay empty
    assert S.quantile_scores(pd.Series([0] * 6 + [1, 1, 2, 3])).tolist() == [1] * 6 + [4, 4, 5, 5]
    # lower is better (time since last purchase): the most recent scores highest
    assert S.quantile_scores(pd.Series([10, 0, 5, 5, 40]), higher_is_better=False).tolist() \
        == [2, 5, 3, 3, 1]
    # missing values are not scored and do not count in the shares
    got = S.quantile_scores(pd.Series([1.0, np.nan, 2.0, 3.0, 4.0, 5.0]))
    assert got.isna().tolist() == [False, True, False, False, False, False]
    assert got.dropna().tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="n_bins"):
        S.quantile_scores(pd.Series([1, 2]), n_bins=1)


def test_quantile_scores_do_not_depend_on_row_order():
    rng = np.random.default_rng(1)
    v = pd.Series(rng.integers(0, 6, size=500))
    a = S.quantile_scores(v)
    perm = rng.permutation(500)
    b = S.quantile_scores(v.iloc[perm]).sort_index()
    pd.testing.assert_series_equal(a, b)
    # equal values, equal scores
    assert (pd.DataFrame({"v": v, "s": a}).groupby("v")["s"].nunique() == 1).all()


def test_segment_table_covers_every_cell_once():
    expected = {  # written from the documented grid (R rows 5..1, FM columns 1..5)
        5: ["new", "potential loyalists", "potential loyalists", "champions", "champions"],
        4: ["promising", "potential loyalists", "potential loyalists", "loyal", "loyal"],
        3: ["about to sleep", "about to sleep", "need attention", "loyal", "loyal"],
        2: ["hibernating", "hibernating", "at risk", "at risk", "can't lose"],
        1: ["lost", "hibernating", "at risk", "at risk", "can't lose"],
    }
    R = pd.Series([r for r in range(1, 6) for _ in range(5)], dtype="Int64")
    FM = pd.Series([fm for _ in range(5) for fm in range(1, 6)], dtype="Int64")
    seg = S._assign_segments(R, FM)
    for r, fm, s in zip(R, FM, seg):
        assert s == expected[r][fm - 1], (r, fm)
    assert set(seg) == set(S.RFM_SEGMENTS["segment"])          # all 11 segments are reachable


SUMMARY = pd.DataFrame(
    {   # gap = T - recency: 0, 10, 10, 50, 100, 200, 300, 300, 400, 500
        "frequency": [8, 5, 0, 3, 2, 9, 0, 1, 0, 7],
        "recency": [300, 290, 0, 250, 200, 100, 0, 0, 0, 0],
        "T": [300, 300, 10, 300, 300, 300, 300, 300, 400, 500],
        "monetary_value": [90.0, 40.0, 0.0, 30.0, 20.0, 95.0, 0.0, 10.0, 0.0, 80.0],
    },
    index=pd.Index(list("abcdefghij"), name="customer_id"),
)


def test_rfm_scores_by_hand():
    res = S.rfm_scores(SUMMARY)
    t = res.table
    # R from gap (lower is better): 0→5; 10,10 tie → 1+floor(5*7/10)=4; 50→4; 100→3; 200→3;
    # 300,300 → 1+floor(5*2/10)=2; 400→1+floor(5*1/10)=1; 500→1
    assert t["R"].tolist() == [5, 4, 4, 4, 3, 3, 2, 2, 1, 1]
    # F: 0,0,0 (3 tied) → 1; 1 → 1+floor(5*3/10)=2; 2→3; 3→3; 5→4; 7→4; 8→5; 9→5
    assert t["F"].tolist() == [5, 4, 1, 3, 3, 5, 1, 2, 1, 4]
    # M: 0,0,0 → 1; 10 → 2; 20 → 3; 30 → 3; 40 → 4; 80 → 4; 90 → 5; 95 → 5
    assert t["M"].tolist() == [5, 4, 1, 3, 3, 5, 1, 2, 1, 4]
    assert t["FM"].tolist() == [5, 4, 1, 3, 3, 5, 1, 2, 1, 4]
    assert t["rfm_code"].tolist()[:3] == ["555", "444", "411"]
    assert t["rfm_sum"].tolist() == [15, 12, 6, 10, 9, 13, 4, 6, 3, 9]
    assert t["segment"].astype(str).tolist() == [
        "champions", "loyal", "promising", "potential loyalists", "need attention", "loyal",
        "hibernating", "hibernating", "lost", "at risk"]
    sizes = res.segment_sizes.set_index("segment")["customers"]
    assert sizes["loyal"] == 2 and sizes["hibernating"] == 2 and sizes.sum() == 10
    th = res.thresholds.query("dimension == 'R' and score == 2").iloc[0]
    assert (th["min"], th["max"], th["customers"]) == (300, 300, 2)
    assert "10 customers" in res.reading
    assert res.excluded.empty


def test_rfm_scores_customers_without_purchase_are_explicit():
    res = S.rfm_scores(SUMMARY, customers=list("abcdefghij") + ["x", "y"])
    t = res.table
    assert t.loc[["x", "y"], "segment"].astype(str).tolist() == [S.NO_PURCHASE] * 2
    assert t.loc[["x", "y"], ["R", "F", "M", "rfm_sum"]].isna().all().all()
    assert t.loc[["x", "y"], "rfm_code"].tolist() == ["", ""]
    # scoring uses the buyers only: the buyers' scores do not change
    pd.testing.assert_series_equal(t.loc[list("abcdefghij"), "R"], S.rfm_scores(SUMMARY).table["R"])
    assert res.excluded["rows"].tolist() == [2]
    # a summary row with missing values is also a customer without a purchase
    s2 = SUMMARY.copy()
    s2.loc["k"] = [np.nan, np.nan, np.nan, np.nan]
    assert S.rfm_scores(s2).table.loc["k", "segment"] == S.NO_PURCHASE


def test_rfm_scores_other_bins_and_customer_id_column():
    res = S.rfm_scores(SUMMARY.reset_index(), n_bins=3)
    assert res.table["R"].max() == 3 and res.table["segment"].isna().all()
    assert res.table.index.name == "customer_id"


def test_rfm_scores_bad_input():
    with pytest.raises(DataContractError, match=r"summary\.monetary_value: required column"):
        S.rfm_scores(SUMMARY.drop(columns="monetary_value"))
    with pytest.raises(DataContractError, match=r"summary: table is empty"):
        S.rfm_scores(SUMMARY.iloc[:0])
    dup = pd.concat([SUMMARY, SUMMARY.iloc[:1]])
    with pytest.raises(DataContractError, match=r"customer_id: duplicate customer — 1 row"):
        S.rfm_scores(dup)
    bad = SUMMARY.assign(recency=SUMMARY["T"] + 1)
    with pytest.raises(DataContractError, match="recency exceeds T"):
        S.rfm_scores(bad)
    with pytest.raises(TypeError, match="expected the pandas DataFrame"):
        S.rfm_scores([1, 2])


def test_rfm_scores_on_cdnow_summary():
    from crmlab.datasets import load_cdnow
    from crmlab.summaries import rfm_summary

    s = rfm_summary(load_cdnow(sample=True), observation_end="1998-07-01")
    t = S.rfm_scores(s).table
    assert len(t) == 2357 and t["segment"].notna().all()
    # every one-time buyer has frequency 0 → F = 1 (the lowest tie block)
    assert (t.loc[t.frequency == 0, "F"] == 1).all()
    # equal inputs, equal scores
    assert (t.groupby(["recency_gap"])["R"].nunique() == 1).all()


# ---------------------------------------------------------------------------- lifecycle

AS_OF = pd.Timestamp("2024-07-01")


def _o(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"])
    df["order_ts"] = pd.to_datetime(df["order_ts"])
    return df


def _shop():
    v1 = [("V1", f"2024-05-{d:02d}", 10.0) for d in range(1, 31, 3)] + \
         [("V1", f"2024-06-{d:02d}", 10.0) for d in range(1, 30, 3)]
    orders = _o([
        ("I2", "2023-10-01", 30.0),
        ("D1", "2023-12-01", 30.0),
        ("D2", "2024-01-03", 30.0),            # exactly 180 days before as_of
        ("N1", "2024-06-01", 30.0), ("N1", "2024-06-10", -30.0),   # a refund is no purchase
        ("N1", "2024-07-05", 30.0),            # after as_of: never read
        ("N2", "2024-02-01", 30.0), ("N2", "2024-05-01", 30.0),
        ("L1", "2024-03-01", 30.0), ("L1", "2024-04-01", 30.0), ("L1", "2024-06-01", 30.0),
        ("R1", "2023-06-01", 30.0), ("R1", "2024-05-15", 30.0),
        ("R2", "2023-01-01", 30.0), ("R2", "2023-09-01", 30.0), ("R2", "2024-03-01", 30.0),
        ("L2", "2024-01-15", 30.0), ("L2", "2024-03-15", 30.0), ("L2", "2024-05-01", 30.0),
    ] + v1)
    customers = pd.DataFrame({
        "customer_id": ["P1", "P2", "I1"],
        "signup_ts": pd.to_datetime(["2024-03-01", "2024-08-01", "2024-01-01"]),
    })
    events = pd.DataFrame({
        "customer_id": ["I1", "I2", "L2", "D1", "P1"],
        "event_ts": pd.to_datetime(["2024-06-20", "2024-06-25", "2024-06-28", "2024-05-01",
                                    "2024-07-02"]),
        "event_type": ["cart_add", "wishlist", "cart_add", "cart_add", "cart_add"],
    })
    return {"orders": orders, "customers": customers, "events": events}


def test_every_stage_and_precedence_by_hand():
    st = S.lifecycle_stages(_shop(), AS_OF, vip_top_share=None)
    t = st.table
    expected = {"P1": "potential", "I1": "interested", "I2": "interested", "D1": "dormant",
                "D2": "dormant", "N1": "new", "N2": "new", "L1": "loyal", "R1": "returning",
                "R2": "loyal", "L2": "loyal", "V1": "VIP"}
    assert t["stage"].astype(str).to_dict() == expected
    assert "P2" not in t.index                           # signed up after as_of
    # the rules behind the stages
    assert t.loc["N1", "n_purchases"] == 1               # refund and later order not counted
    assert t.loc["D2", "days_since_last_purchase"] == 180
    assert t.loc["V1", "purchases_per_month"] == pytest.approx(20 / (61 / (365.25 / 12)))
    # overlaps are kept as flags; the stage is the first by precedence
    assert t.loc["R1", ["is_returning", "is_new"]].tolist() == [True, True]
    assert t.loc["I2", ["is_interested", "is_dormant"]].tolist() == [True, True]
    assert t.loc["L2", ["is_loyal", "is_interested"]].tolist() == [True, True]
    assert t.loc["V1", ["is_vip", "is_loyal"]].tolist() == [True, True]
    assert not t.loc["R2", "is_returning"]               # returned too long ago
    assert not t.loc["D1", "is_interested"]              # cart add older than 30 days
    assert not t.loc["P1", "is_interested"]              # its cart add is after as_of
    ex = st.excluded.set_index("reason")["rows"]
    assert ex["at or after as_of 2024-07-01 00:00:00 (not read)"] == 1
    assert ex["signed up at or after as_of 2024-07-01 (not yet customers)"] == 1
    sizes = st.sizes.set_index("stage")["customers"]
    assert sizes.to_dict() == {"VIP": 1, "returning": 1, "new": 2, "loyal": 3, "interested": 2,
                               "dormant": 2, "potential": 1}
    assert st.overlaps.loc["returning", "new"] == 1
    assert "As of 2024-07-01" in st.reading


def test_vip_top_share_ties_and_dormancy():
    orders = _o([(f"c{i}", "2024-06-01", float(v)) for i, v in
                 enumerate([100, 50, 50, 10, 10, 10, 10, 10, 10, 10])]
                + [("old", "2023-01-01", 1000.0)])           # top spender, but dormant
    st = S.lifecycle_stages(orders, AS_OF, vip_top_share=0.2, vip_purchases_per_month=None)
    t = st.table
    # 10 active buyers → top 2; the two tied at 50 are both in
    assert sorted(t.index[t.stage == "VIP"]) == ["c0", "c1", "c2"]
    assert t.loc["old", "stage"] == "dormant"
    st2 = S.lifecycle_stages(orders, AS_OF, vip_top_share=0.1, vip_purchases_per_month=None)
    assert list(st2.table.index[st2.table.stage == "VIP"]) == ["c0"]
    # the VIP window: revenue older than vip_window_days does not count
    st3 = S.lifecycle_stages(orders, AS_OF, vip_window_days=10, vip_purchases_per_month=None)
    assert (st3.table["window_revenue"] == 0).all() and not st3.table["is_vip"].any()


def test_dormant_threshold_is_configurable():
    st = S.lifecycle_stages(_shop(), AS_OF, dormant_after_days=90, vip_top_share=None)
    t = st.table["stage"].astype(str)
    # N2 bought 2024-02-01 and 2024-05-01: a 90-day gap is now a return from dormancy
    assert t["N2"] == "returning" and t["D2"] == "dormant" and t["D1"] == "dormant"
    # R2: 2024-03-01 is 122 days ago → dormant under 90 days
    assert t["R2"] == "dormant"


def test_nothing_after_as_of_is_read():
    shop = _shop()
    a = S.lifecycle_stages(shop, AS_OF).table
    more = dict(shop)
    more["orders"] = pd.concat([shop["orders"], _o([("D1", "2024-07-01", 999.0),
                                                    ("ZZ", "2025-01-01", 5.0)])])
    more["events"] = pd.concat([shop["events"], pd.DataFrame({
        "customer_id": ["D1"], "event_ts": [pd.Timestamp("2024-09-01")],
        "event_type": ["cart_add"]})])
    b = S.lifecycle_stages(more, AS_OF).table
    pd.testing.assert_frame_equal(a, b)


def test_stage_flow_by_hand():
    f = S.stage_flow(_shop(), "2024-04-01", AS_OF, vip_top_share=None)
    a = f.start.table["stage"].astype(str)
    assert a["R1"] == "dormant" and a["D2"] == "new" and a["D1"] == "new"
    assert "N1" not in a.index
    c = f.counts
    assert c.loc["dormant", "returning"] >= 1            # R1 came back
    assert c.loc["new", "dormant"] == 2                  # D1 and D2 fell asleep
    # customers unknown on 2024-04-01 (N1, V1; I1 signed up in January is known)
    assert c.loc[S.NOT_YET].sum() == 2
    assert c.to_numpy().sum() == len(f.end.table)
    long = f.to_frame()
    assert set(long.columns) == {"from_stage", "to_stage", "customers", "share_of_from"}
    assert long["customers"].sum() == len(f.end.table)
    assert np.allclose(f.shares.sum(axis=1)[c.sum(axis=1) > 0], 1.0)
    with pytest.raises(ValueError, match="must be after"):
        S.stage_flow(_shop(), AS_OF, "2024-01-01")


def test_lifecycle_on_crmdata(small_shop):
    end = small_shop.observation_end
    st = S.lifecycle_stages(small_shop, end)
    n_cust = int(small_shop.customers.count().execute())
    assert len(st.table) >= n_cust * 0.99               # every signed-up customer is staged
    assert st.table["stage"].notna().all()
    assert set(st.sizes.query("customers > 0").stage) >= {"new", "loyal", "dormant"}
    flow = S.stage_flow(small_shop, end - pd.Timedelta(days=90), end)
    assert flow.counts.to_numpy().sum() == len(flow.end.table)


def test_lifecycle_bad_input():
    with pytest.raises(DataContractError, match=r"orders\.amount: required column missing"):
        S.lifecycle_stages(_shop()["orders"].drop(columns="amount"), AS_OF)
    with pytest.raises(DataContractError, match="orders: table is empty"):
        S.lifecycle_stages(_shop()["orders"].iloc[:0], AS_OF)
    with pytest.raises(DataContractError, match=r"customers\.signup_ts"):
        S.lifecycle_stages(_shop()["orders"], AS_OF,
                           customers=pd.DataFrame({"customer_id": ["x"]}))
    with pytest.raises(ValueError, match="vip_top_share"):
        S.lifecycle_stages(_shop(), AS_OF, vip_top_share=1.5)
    with pytest.raises(ValueError, match="dormant_after_days"):
        S.lifecycle_stages(_shop(), AS_OF, dormant_after_days=0)
    with pytest.raises(TypeError, match="expected an orders DataFrame"):
        S.lifecycle_stages(42, AS_OF)
    with pytest.raises(FileNotFoundError, match="no_such_orders.csv does not exist"):
        S.lifecycle_stages("no_such_orders.csv", AS_OF)


def test_segment_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlab.plots import segments as P

    res = S.rfm_scores(SUMMARY)
    fig = P.segment_sizes(res)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "champions", "loyal", "potential loyalists", "promising", "need attention", "at risk",
        "lost", "hibernating"]
    grid = P.rfm_grid(res)
    texts = [t.get_text() for t in grid.axes[0].texts]
    assert "champions\n1" in texts and "lost\n1" in texts and len(texts) == 25
    flow = S.stage_flow(_shop(), "2024-04-01", AS_OF, vip_top_share=None)
    fig3 = P.stage_flow(flow, normalize=False)
    assert fig3.axes[0].get_xlabel() == "stage on 2024-07-01"
    st = S.lifecycle_stages(_shop(), AS_OF, vip_top_share=None)
    bars = P.stage_sizes(st).axes[0].patches
    assert [int(b.get_height()) for b in bars if b.get_height() > 0] == [1, 1, 2, 3, 2, 2, 1]
    plt.close("all")


def test_results_render_and_convert():
    res = S.rfm_scores(SUMMARY)
    st = S.lifecycle_stages(_shop(), AS_OF, vip_top_share=None)
    flow = S.stage_flow(_shop(), "2024-04-01", AS_OF, vip_top_share=None)
    for r in (res, st, flow):
        assert r.reading in r._repr_html_() and r.reading in repr(r)
    assert res.to_frame().equals(res.table) and st.to_frame().equals(st.table)
    assert "Excluded rows" in st._repr_html_()
