"""crmlab.summaries.rfm_summary against lifetimes' reference tables and hand-made cases.

The reference tables in tests/fixtures/ltv_lifetimes_*.csv.gz were made once with lifetimes
0.11.3 (``summary_data_from_transaction_data`` and ``calibration_and_holdout_data``) by
tests/fixtures/ltv_lifetimes_make_fixtures.py; lifetimes is not a dependency of crmlab.
"""
from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from crmlab.datasets import load_cdnow
from crmlab.summaries import DataContractError, rfm_summary

FIX = Path(__file__).parent / "fixtures"
TOL = dict(check_dtype=False, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow()


@pytest.fixture(scope="module")
def cdnow_sample():
    return load_cdnow(sample=True)


def _fixture(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / name, index_col="customer_id")


# lifetimes' observation_period_end="1998-06-30" (inclusive) is observation_end="1998-07-01"
@pytest.mark.parametrize("unit,name", [("D", "days"), ("W", "weeks")])
def test_equals_lifetimes_summary_on_cdnow(cdnow, unit, name):
    got = rfm_summary(cdnow, "1998-07-01", unit)
    expected = _fixture(f"ltv_lifetimes_cdnow_{name}.csv.gz")
    assert len(got) == 23_570
    assert list(got.columns) == ["frequency", "recency", "T", "monetary_value"]
    pd.testing.assert_frame_equal(got, expected, **TOL)
    assert got.attrs["exclusions"] == {}


@pytest.mark.parametrize("unit,scaler,name", [("D", 7, "days7"), ("W", 1, "weeks")])
def test_equals_lifetimes_calibration_holdout_on_cdnow_sample(cdnow_sample, unit, scaler, name):
    # lifetimes calibration_period_end="1997-09-30" (inclusive) == calibration_end="1997-10-01"
    got = rfm_summary(cdnow_sample, "1998-07-01", unit, calibration_end="1997-10-01",
                      time_scaler=scaler)
    expected = _fixture(f"ltv_lifetimes_cdnow_sample_calhold_{name}.csv.gz")
    assert list(got.columns) == ["frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
                                 "frequency_holdout", "monetary_value_holdout", "duration_holdout"]
    same = [c for c in got.columns if c != "monetary_value_holdout"]
    pd.testing.assert_frame_equal(got[same], expected[same], **TOL)
    # holdout monetary value: mean of per-period sums (lifetimes run on the per-period log)
    np.testing.assert_allclose(got["monetary_value_holdout"],
                               expected["monetary_value_holdout_per_period"], rtol=1e-9)
    if unit == "D":
        # Fader, Hardie & Lee (2005) calibration data: 2,357 customers, 39-week holdout,
        # customer 4 has x=2, t_x=30.43, T=38.86 (BTYD's cdnowSummary$cbs first row)
        assert len(got) == 2357 and (got.duration_holdout == 39).all()
        assert got.loc[4, ["frequency_cal", "recency_cal", "T_cal"]].round(2).tolist() == \
            [2, 30.43, 38.86]
        # 1,411 of the 2,357 made no repeat purchase in the calibration period (FHL 2005)
        assert int((got.frequency_cal == 0).sum()) == 1411


def test_ibis_input_matches_pandas(cdnow_sample):
    got = rfm_summary(ibis.memtable(cdnow_sample), "1998-07-01", "W")
    pd.testing.assert_frame_equal(got, rfm_summary(cdnow_sample, "1998-07-01", "W"))


def _orders(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"]).assign(
        order_ts=lambda d: pd.to_datetime(d.order_ts))


def test_hand_made_days_weeks_months():
    o = _orders([
        (1, "2024-01-01 09:00", 10.0),   # Monday
        (1, "2024-01-01 20:00", 5.0),    # same day: merged into one purchase of 15
        (1, "2024-01-03 10:00", 20.0),   # Wednesday, same week
        (1, "2024-02-10 10:00", 40.0),
        (2, "2024-01-31 23:59", 7.0),    # single purchase
        (3, "2024-03-31 12:00", 9.0),    # after observation_end: not read
    ])
    d = rfm_summary(o, "2024-03-01", "D")
    assert d.loc[1].tolist() == [2, 40.0, 59.0, 30.0]       # 2024-01-01 .. 2024-02-29
    assert d.loc[2].tolist() == [0, 0.0, 29.0, 0.0]
    assert 3 not in d.index
    assert d.attrs["exclusions"] == {"order rows at or after observation_end": 1}
    w = rfm_summary(o, "2024-03-01", "W")                     # weeks Monday..Sunday
    assert w.loc[1].tolist() == [1, 5.0, 8.0, 40.0]         # week of 01-01 vs week of 02-05
    m = rfm_summary(o, "2024-03-01", "M")                     # calendar months
    assert m.loc[1].tolist() == [1, 1.0, 1.0, 40.0]
    assert m.loc[2].tolist() == [0, 0.0, 1.0, 0.0]
    scaled = rfm_summary(o, "2024-03-01", "D", time_scaler=7)
    np.testing.assert_allclose(scaled[["recency", "T"]], d[["recency", "T"]] / 7)


def test_hand_made_calibration_holdout():
    o = _orders([
        (1, "2024-01-01", 10.0), (1, "2024-01-05", 20.0),
        (1, "2024-01-20", 30.0), (1, "2024-01-20", 6.0), (1, "2024-01-25", 4.0),
        (2, "2024-01-03", 5.0),
        (3, "2024-01-15", 8.0),  # first purchase in the holdout: left out and counted
    ])
    s = rfm_summary(o, "2024-02-01", "D", calibration_end="2024-01-10")
    assert list(s.index) == [1, 2]
    assert s.loc[1].tolist() == [1, 4.0, 8.0, 20.0, 2, 20.0, 22.0]   # (36 + 4) / 2 holdout
    assert s.loc[2].tolist() == [0, 0.0, 6.0, 0.0, 0, 0.0, 22.0]
    assert s.attrs["exclusions"] == {"customers whose first purchase is after calibration_end": 1}


def test_refunds_zero_amounts_and_same_day_orders():
    o = _orders([
        (1, "2024-01-01", 10.0), (1, "2024-01-01", 30.0),    # same day: one purchase of 40
        (1, "2024-01-02", -30.0),                             # refund: not a purchase
        (1, "2024-01-04", 0.0),                               # zero amount: a purchase
        (1, "2024-01-06", 20.0),
    ])
    s = rfm_summary(o, "2024-01-11", "D")
    assert s.loc[1].tolist() == [2, 5.0, 9.0, 10.0]         # repeats: 0 and 20
    assert s.attrs["exclusions"] == {"refund rows (negative amount or is_refund)": 1}
    dropped = rfm_summary(o, "2024-01-11", "D", drop_zero_amount=True)
    assert dropped.loc[1].tolist() == [1, 5.0, 9.0, 20.0]
    assert dropped.attrs["exclusions"]["zero-amount order rows (drop_zero_amount=True)"] == 1
    # is_refund marks a refund even when its amount is positive
    flagged = o.assign(is_refund=[False, False, True, False, True])
    s2 = rfm_summary(flagged, "2024-01-11", "D")
    assert s2.loc[1].tolist() == [1, 3.0, 9.0, 0.0]
    assert s2.attrs["exclusions"] == {"refund rows (negative amount or is_refund)": 2}


def test_without_amount_column():
    o = _orders([(1, "2024-01-01", 1.0), (1, "2024-01-03", 1.0)]).drop(columns="amount")
    s = rfm_summary(o, "2024-01-05", "D", amount_col=None)
    assert list(s.columns) == ["frequency", "recency", "T"]
    assert s.loc[1].tolist() == [1, 2.0, 3.0]


def test_bad_input_errors():
    o = _orders([(1, "2024-01-05", 10.0), (2, "2024-01-07", 3.0)])
    with pytest.raises(ValueError, match="time_unit='Q' is not supported"):
        rfm_summary(o, "2024-02-01", "Q")
    with pytest.raises(ValueError, match=r"observation_end .* is not after the first order .*"
                                         r"all 2 rows"):
        rfm_summary(o, "2024-01-05", "D")
    with pytest.raises(ValueError, match="the table is empty"):
        rfm_summary(o.iloc[:0], "2024-02-01", "D")
    with pytest.raises(ValueError, match="calibration_end .* must be before observation_end"):
        rfm_summary(o, "2024-02-01", "D", calibration_end="2024-03-01")
    with pytest.raises(ValueError, match="calibration period holds no purchase"):
        rfm_summary(o, "2024-02-01", "D", calibration_end="2024-01-02")
    with pytest.raises(ValueError, match="observation_end is required"):
        rfm_summary(o, None)
    with pytest.raises(DataContractError, match=r"orders.amount: missing column"):
        rfm_summary(o.drop(columns="amount"), "2024-02-01")
    with pytest.raises(DataContractError, match=r"orders.order_ts: missing \(null\) in 1 of 3 rows"):
        rfm_summary(pd.concat([o, o.iloc[:1].assign(order_ts=pd.NaT)]), "2024-02-01")
    with pytest.raises(DataContractError, match=r"orders.order_ts: expected naive timestamps"):
        rfm_summary(o.assign(order_ts=o.order_ts.astype(str)), "2024-02-01")


def test_calibration_end_inside_a_period():
    # calibration_end at noon cuts 2024-01-10 in two: the morning order is the last calibration
    # purchase period, the evening order a holdout purchase period of the same day
    o = _orders([
        (1, "2024-01-01 10:00", 10.0), (1, "2024-01-10 09:00", 20.0),
        (1, "2024-01-10 18:00", 30.0), (1, "2024-01-12 10:00", 5.0),
        (2, "2024-01-10 08:00", 7.0), (2, "2024-01-10 20:00", 3.0),
    ])
    s = rfm_summary(o, "2024-02-01", "D", calibration_end="2024-01-10 12:00")
    assert s.loc[1].tolist() == [1, 9.0, 9.0, 20.0, 2, 17.5, 21.0]
    assert s.loc[2].tolist() == [0, 0.0, 0.0, 0.0, 1, 3.0, 21.0]
    w = rfm_summary(o, "2024-02-01", "W", calibration_end="2024-01-10 12:00")
    assert w.loc[1].tolist() == [1, 1.0, 1.0, 20.0, 1, 35.0, 3.0]
