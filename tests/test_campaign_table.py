"""The per-customer campaign table, checked value by value on hand-made data.

Every boundary of the shared definitions (docs/architecture.md) is pinned: windows are
half-open ``[assigned_ts, assigned_ts + w)``, refunds count in revenue but not in conversion,
nothing at or after ``observation_end`` is read, the horizon is capped per customer.
"""
from __future__ import annotations

from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pytest

from crmlab.campaign.table import CampaignDataError, campaign_table, cumulative_revenue

T0 = pd.Timestamp("2024-03-01 10:00:00")
OBS_END = pd.Timestamp("2024-12-31 00:00:00")
D = pd.Timedelta(days=1)
S = pd.Timedelta(seconds=1)


def make_data():
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4, 5, 6],
        "signup_ts": [T0 - 100 * D] * 6,
        "consent_email": [True] * 6,
        "consent_sms": [True, True, False, True, True, True],
        "consent_push": [True] * 6,
        "consent_kakao": [True] * 6,
        "consent_night": [False, False, False, True, False, False],
    })
    a4 = pd.Timestamp("2024-10-01 10:00:00")
    assignments = pd.DataFrame({
        "campaign_id": ["c1"] * 5 + ["c2"],
        "customer_id": [1, 2, 3, 4, 5, 6],
        "arm": ["treatment", "control", "treatment", "treatment", "control", "treatment"],
        "assigned_ts": [T0, T0, T0, a4, T0, T0],
        "sent_ts": [T0.replace(hour=22), pd.NaT, T0, a4.replace(hour=23), pd.NaT, T0],
        "delivered": [True, None, False, True, None, True],
        "opened_ts": [T0 + D, pd.NaT, pd.NaT, OBS_END + D, pd.NaT, T0],
        "clicked_ts": [T0 + D, pd.NaT, pd.NaT, pd.NaT, pd.NaT, T0],
        "unsubscribed_ts": [T0 + 181 * D, pd.NaT, T0 + 2 * D, pd.NaT, pd.NaT, T0],
        "coupon_cost": [1000.0, None, 0.0, None, None, 5.0],
    })
    orders = pd.DataFrame({
        "order_id": range(1, 15),
        "customer_id": [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 6, 1],
        "order_ts": [
            T0,                      # 1: exactly at assignment -> in window
            T0 + 3 * D,              # 1: refund in window
            T0 + 7 * D,              # 1: exactly at window end -> horizon only
            T0 + 2 * D,              # 2: refund only in window
            T0 - 1 * D,              # 2: pre-period
            T0 - 90 * D,             # 2: pre-period start, included
            T0 - 90 * D - S,         # 2: before pre-period
            T0 + 180 * D - S,        # 3: last second of the horizon
            T0 + 180 * D,            # 3: horizon end, excluded
            OBS_END,                 # 3: at observation_end, never read
            a4 + 10 * D,             # 4: inside the observed part of the horizon
            OBS_END + 5 * D,         # 4: after observation_end, never read
            T0 + D,                  # 6: other campaign
            T0 + 100 * D,            # 1: second purchase in the horizon (repurchase)
        ],
        "amount": [100.0, -30.0, 40.0, -50.0, 200.0, 10.0, 999.0, 60.0, 70.0, 5000.0,
                   80.0, 7000.0, 1.0, 25.0],
    })
    orders["is_refund"] = orders["amount"] < 0
    events = pd.DataFrame({
        "customer_id": [1, 1, 2, 5, 5],
        "event_ts": [T0 + 6 * D, T0 - 10 * D, T0 + 7 * D, T0 - 91 * D, T0 - 89 * D],
        "event_type": ["visit", "visit", "visit", "visit", "cart_add"],
    })
    campaigns = pd.DataFrame({
        "campaign_id": ["c1", "c2"], "name": ["Campaign one", "Other"],
        "scenario": ["winback", "custom"], "channel": ["sms", "email"],
        "cost_per_send": [20.0, 1.0], "start_ts": [T0, T0], "end_ts": [a4 + D, T0 + D],
        "holdout_share": [0.5, 0.5],
    })
    return SimpleNamespace(
        customers=ibis.memtable(customers), orders=ibis.memtable(orders),
        events=ibis.memtable(events), campaigns=ibis.memtable(campaigns),
        assignments=ibis.memtable(assignments), observation_end=OBS_END, currency="KRW",
        quality=pd.DataFrame(columns=["table", "check", "rows", "action"]),
    )


@pytest.fixture(scope="module")
def table():
    t = campaign_table(make_data(), "c1", window_days=7, horizon_days=180, pre_days=90,
                       churn_after_days=90)
    return t.set_index("customer_id")


def test_one_row_per_assigned_customer_of_the_campaign(table):
    assert list(table.index) == [1, 2, 3, 4, 5]
    assert table.loc[[1, 3, 4], "arm"].eq("treatment").all()
    assert table.loc[[2, 5], "arm"].eq("control").all()


def test_window_is_half_open_and_refunds_count_in_revenue_not_conversion(table):
    # customer 1: +100 at t0 (in), -30 at day 3 (in), +40 at day 7 (out of the window)
    assert table.loc[1, "conversion"] == 1
    assert table.loc[1, "revenue"] == pytest.approx(70.0)
    assert table.loc[1, "orders"] == 1
    assert table.loc[1, "pos_revenue"] == pytest.approx(100.0)
    # customer 2: only a refund in the window
    assert table.loc[2, "conversion"] == 0
    assert table.loc[2, "revenue"] == pytest.approx(-50.0)
    assert table.loc[2, "orders"] == 0


def test_pre_period_includes_its_start_and_excludes_earlier(table):
    assert table.loc[2, "pre_revenue"] == pytest.approx(210.0)
    assert table.loc[2, "pre_orders"] == 2
    assert table.loc[1, "pre_revenue"] == 0.0


def test_horizon_is_half_open_and_nothing_after_observation_end_is_read(table):
    assert table.loc[1, "revenue_h"] == pytest.approx(100 - 30 + 40 + 25)
    assert table.loc[1, "orders_h"] == 3
    assert table.loc[1, "repurchase"] == 1
    assert table.loc[3, "revenue_h"] == pytest.approx(60.0)   # 70 at day 180, 5000 at obs end
    assert table.loc[3, "conversion"] == 0
    assert table.loc[3, "repurchase"] == 0
    assert table.loc[4, "revenue_h"] == pytest.approx(80.0)   # 7000 after observation_end
    assert table.loc[4, "horizon_observed_days"] == pytest.approx(
        (OBS_END - pd.Timestamp("2024-10-01 10:00")).total_seconds() / 86400)
    assert table.loc[1, "horizon_observed_days"] == pytest.approx(180.0)


def test_inactive_status_at_90_and_180_days(table):
    # customer 1 bought at days 0, 3 (refund), 7 and 100
    assert table.loc[1, "inactive_90"] == 0 and table.loc[1, "inactive_180"] == 0
    # customer 3 bought once at day 179.99: inactive at 90, active at 180
    assert table.loc[3, "inactive_90"] == 1 and table.loc[3, "inactive_180"] == 0
    # customer 2: only a refund -> inactive at both
    assert table.loc[2, "inactive_90"] == 1 and table.loc[2, "inactive_180"] == 1
    # customer 4: 91 days observed -> status at 90 known, at 180 unknown
    assert table.loc[4, "inactive_90"] == 0
    assert np.isnan(table.loc[4, "inactive_180"])


def test_visits_in_window_and_pre_period(table):
    assert table.loc[1, "visit"] == 1 and table.loc[1, "pre_visits"] == 1
    assert table.loc[2, "visit"] == 0   # visit exactly at day 7 is outside the window
    assert table.loc[5, "pre_visits"] == 0   # one visit before the pre-period, a cart_add inside


def test_message_flags_consent_and_night(table):
    assert table.loc[1, ["sent", "delivered", "blocked", "opened", "clicked"]].tolist() == [1, 1, 0, 1, 1]
    assert table.loc[1, "unsubscribed"] == 0          # unsubscribed after the horizon
    assert table.loc[3, ["sent", "delivered", "blocked", "unsubscribed"]].tolist() == [1, 0, 1, 1]
    assert table.loc[4, "opened"] == 0                # opened after observation_end: not read
    assert table.loc[2, ["sent", "delivered", "blocked"]].tolist() == [0, 0, 0]
    assert table.loc[1, "night_send"] == 1 and not table.loc[1, "night_consent_ok"]
    assert table.loc[4, "night_send"] == 1 and table.loc[4, "night_consent_ok"]
    # customer 3's consent_sms is false today, but they unsubscribed from this very send two days
    # after it: they had the consent when it went out
    assert table.loc[3, "night_send"] == 0 and table.loc[3, "consent_ok"]
    assert table.loc[1, "consent_ok"]
    assert table.loc[1, "coupon_cost"] == 1000.0 and table.loc[4, "coupon_cost"] == 0.0
    assert table.loc[1, "tenure_days"] == pytest.approx(100.0)


def test_consent_at_send_time_from_consent_events():
    data = make_data()
    sms_sent = T0.replace(hour=22)
    data.consent_events = ibis.memtable(pd.DataFrame({
        "customer_id": [1, 1, 3, 4, 4],
        "channel": ["sms", "sms", "sms", "sms", "push"],
        "kind": ["marketing", "marketing", "marketing", "night", "night"],
        "granted": [True, False, False, False, True],
        "event_ts": [T0 - 100 * D, sms_sent - S, T0 + 2 * D, T0 + D, T0 - D],
    }))
    t = campaign_table(data, "c1", window_days=7, horizon_days=180).set_index("customer_id")
    assert not t.loc[1, "consent_ok"]          # withdrew one second before the send
    assert t.loc[3, "consent_ok"]              # withdrew after the send (held it before)
    assert t.loc[4, "consent_ok"]              # no sms marketing event: consent_sms (true)
    # customer 4's night consent for sms was withdrawn before the 23:00 send (the push one
    # does not count), although consent_night is true today
    assert t.loc[4, "night_send"] == 1 and not t.loc[4, "night_consent_ok"]


def test_cumulative_revenue_by_arm_and_day():
    curve = cumulative_revenue(make_data(), "c1", horizon_days=180, step_days=7)
    t = curve.set_index(["arm", "day"])
    # day 7: treatment customers 1 (70), 3 (0), 4 (0) -> mean 70/3
    assert t.loc[("treatment", 7.0), "n"] == 3
    assert t.loc[("treatment", 7.0), "mean"] == pytest.approx(70 / 3)
    assert t.loc[("treatment", 7.0), "sd"] == pytest.approx(np.std([70, 0, 0], ddof=1))
    # day 14: customer 4 (assigned 2024-10-01) is still observed; +40 for customer 1, +80 for 4
    assert t.loc[("treatment", 14.0), "mean"] == pytest.approx((110 + 80) / 3)
    # day 180: customer 4 no longer observed -> 2 customers
    assert t.loc[("treatment", 180.0), "n"] == 2
    assert t.loc[("treatment", 180.0), "mean"] == pytest.approx((135 + 60) / 2)
    assert t.loc[("control", 180.0), "mean"] == pytest.approx(-25.0)


def test_unknown_campaign_is_a_clear_error():
    with pytest.raises(CampaignDataError, match=r"campaigns.campaign_id: no campaign 'nope'"):
        campaign_table(make_data(), "nope")


def test_bad_window_is_refused():
    with pytest.raises(ValueError, match="window_days must be > 0"):
        campaign_table(make_data(), "c1", window_days=0)
