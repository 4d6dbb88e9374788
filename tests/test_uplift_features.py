"""Uplift features read nothing at or after each customer's assigned_ts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import crmlab
from crmlab.campaign.table import CampaignDataError, campaign_table
from crmlab.uplift import FEATURE_GROUPS, feature_columns, uplift_features

TABLES = ("customers", "orders", "events", "campaigns", "assignments")


@pytest.fixture(scope="module")
def shop_tables(small_shop_dir):
    meta = json.loads((small_shop_dir / "meta.json").read_text())
    return {t: pd.read_parquet(small_shop_dir / f"{t}.parquet") for t in TABLES}, meta


def _load(tables, meta):
    return crmlab.load({k: v.copy() for k, v in tables.items()},
                       observation_end=meta["observation_end"], currency="KRW")


def _after_assignment(tables, campaign_id):
    """The same data plus orders, events and unsubscribes at or after each assigned_ts."""
    t = {k: v.copy() for k, v in tables.items()}
    a = t["assignments"]
    mine = a[a.campaign_id == campaign_id]
    o = t["orders"]
    extra = pd.DataFrame({
        "order_id": o.order_id.max() + 1 + np.arange(2 * len(mine)),
        "customer_id": np.r_[mine.customer_id, mine.customer_id],
        "order_ts": np.r_[mine.assigned_ts, mine.assigned_ts + pd.Timedelta(days=3)],
        "amount": 99_000.0, "quantity": 1, "sales_channel": "app", "is_refund": False,
        "refund_of": np.nan})
    t["orders"] = pd.concat([o, extra.astype(o.dtypes.to_dict())], ignore_index=True)
    e = t["events"]
    ev = pd.DataFrame({"customer_id": np.repeat(mine.customer_id.to_numpy(), 3),
                       "event_ts": np.repeat(mine.assigned_ts.to_numpy(), 3),
                       "event_type": np.tile(["visit", "cart_add", "support_contact"], len(mine)),
                       "product_category": np.tile(["fashion", "fashion", None], len(mine))})
    t["events"] = pd.concat([e, ev.astype(e.dtypes.to_dict())], ignore_index=True)
    # every treated customer with SMS consent unsubscribes one hour after the send: the
    # snapshot consent is gone, but it was given at assignment
    c = t["customers"]
    consenting = a.customer_id.isin(c.customer_id[c.consent_sms])
    treated = ((a.campaign_id == campaign_id) & a.sent_ts.notna() & a.unsubscribed_ts.isna()
               & consenting)
    a.loc[treated, "unsubscribed_ts"] = a.loc[treated, "sent_ts"] + pd.Timedelta(hours=1)
    c.loc[c.customer_id.isin(a.loc[treated, "customer_id"]), "consent_sms"] = False
    return t


def test_nothing_after_assignment_is_read(shop_tables):
    tables, meta = shop_tables
    cid = "winback_lms"
    base = uplift_features(_load(tables, meta), cid)
    later = uplift_features(_load(_after_assignment(tables, cid), meta), cid)
    assert len(base) > 50
    pd.testing.assert_frame_equal(base, later)
    # and the consent snapshot really was cleared in the modified data
    changed = _after_assignment(tables, cid)["customers"]
    assert (changed.consent_sms != tables["customers"].consent_sms).sum() > 10


def test_features_agree_with_the_campaign_table_pre_period(small_shop):
    for cid in ("cart_reminder", "birthday_coupon"):
        X = uplift_features(small_shop, cid)
        t = campaign_table(small_shop, cid, pre_days=90)
        assert X.customer_id.tolist() == t.customer_id.tolist()
        assert X.arm.tolist() == t.arm.tolist()
        np.testing.assert_array_equal(X.orders_90d, t.pre_orders)
        np.testing.assert_array_equal(X.visits_90d, t.pre_visits)
        np.testing.assert_allclose(X.tenure_days, t.tenure_days)
        # consent at assignment: every treated customer with a delivered send had it
        assert set(X.consent_channel[t.sent == 1].unique()) <= {1.0}


def test_columns_and_stages(small_shop):
    X = uplift_features(small_shop, "winback_lms")
    cols = feature_columns(X)
    for group in FEATURE_GROUPS.values():
        assert set(group) <= set(cols)
    assert "customer_id" not in cols and "arm" not in cols
    # the win-back list: buyers without a purchase for >= 90 days
    assert (X.days_since_last_order >= 90).all()
    assert set(X.stage.astype(str)) <= {"loyal", "new", "dormant", "interested"}
    assert X.r_score.between(1, 5).all()
    welcome = uplift_features(small_shop, "welcome_coupon")
    assert (welcome.orders_total == 0).all()
    assert set(welcome.stage.astype(str)) <= {"potential", "interested"}
    assert (welcome.rfm_segment == "no purchase").all()


def test_unknown_campaign(small_shop):
    with pytest.raises(CampaignDataError, match="no customer assigned to 'nope'"):
        uplift_features(small_shop, "nope")
