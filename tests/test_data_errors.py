"""Hard contract violations: each bad input raises DataContractError naming the table, the
column, the problem, the number of offending rows and examples."""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import crmlab
from crmlab.data.errors import DataContractError
from crmlab.data.examples import tiny_tables, write_tables


def _load_bad(tmp_path, mutate, fmt="parquet", only=None):
    t = {k: v.copy() for k, v in tiny_tables().items()}
    if only:
        t = {k: t[k] for k in only}
    mutate(t)
    with pytest.raises(DataContractError) as exc:
        crmlab.load(write_tables(t, tmp_path, fmt=fmt))
    return exc.value


def _check(err, table, column, n_rows, problem, examples=()):
    msg = str(err)
    assert err.table == table, msg
    assert err.column == column, msg
    assert err.n_rows == n_rows, msg
    assert problem in err.problem, msg
    assert msg.startswith(f"{table}.{column}: " if column else f"{table}: "), msg
    if n_rows is not None:
        assert f"{n_rows:,} row" in msg, msg
    for ex in examples:
        assert ex in err.examples, (ex, err.examples)
        assert repr(ex) in msg if isinstance(ex, str) else str(ex) in msg, msg
    assert len(err.examples) <= 5


def test_error_message_format_and_pickle():
    err = DataContractError("orders", "order_id", "duplicate key", 7, list("abcdefg"))
    assert str(err) == ("orders.order_id: duplicate key — 7 rows; "
                        "examples: 'a', 'b', 'c', 'd', 'e'")
    assert isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert (back.table, back.column, back.n_rows, back.examples) == ("orders", "order_id", 7,
                                                                      list("abcde"))


# --- missing tables and columns -------------------------------------------------------------
def test_missing_required_column(tmp_path):
    err = _load_bad(tmp_path, lambda t: t["orders"].drop(columns="amount", inplace=True),
                    only=["orders"])
    _check(err, "orders", "amount", 8, "missing required column")
    assert "order_ts" in str(err)  # lists the columns found


def test_missing_consent_column_in_customers(tmp_path):
    err = _load_bad(tmp_path, lambda t: t["customers"].drop(
        columns=["consent_night", "consent_kakao"], inplace=True), fmt="csv")
    _check(err, "customers", "consent_kakao, consent_night", 6, "missing required columns")


def test_missing_orders_table(tmp_path):
    err = _load_bad(tmp_path, lambda t: None, only=["customers", "events"])
    _check(err, "orders", None, None, "required table missing")
    assert "customers, events" in str(err)


def test_assignments_need_campaigns(tmp_path):
    err = _load_bad(tmp_path, lambda t: None, only=["orders", "assignments"])
    _check(err, "campaigns", None, None, "required by assignments")


def test_ambiguous_files(tmp_path):
    t = tiny_tables()
    write_tables({"orders": t["orders"]}, tmp_path, fmt="csv")
    write_tables({"orders": t["orders"]}, tmp_path, fmt="parquet")
    with pytest.raises(DataContractError) as exc:
        crmlab.load(tmp_path)
    _check(exc.value, "orders", None, None, "ambiguous source")
    assert "orders.parquet" in str(exc.value) and "orders.csv" in str(exc.value)


def test_no_contract_table(tmp_path):
    (tmp_path / "sales.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataContractError, match="no contract table found") as exc:
        crmlab.load(tmp_path)
    assert "sales.csv" in exc.value.examples


def test_missing_source():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        crmlab.load("/nonexistent/crmlab/data")


# --- unparseable values (CSV is parsed strictly) --------------------------------------------
def test_unparseable_timestamp(tmp_path):
    def bad(t):
        t["orders"]["order_ts"] = t["orders"]["order_ts"].astype(str)
        t["orders"].loc[[2, 5], "order_ts"] = ["2024-13-01 10:00:00", "yesterday"]
    err = _load_bad(tmp_path, bad, fmt="csv", only=["orders"])
    _check(err, "orders", "order_ts", 2, "unparseable timestamp",
           ["2024-13-01 10:00:00", "yesterday"])


def test_unparseable_number(tmp_path):
    def bad(t):
        t["orders"]["amount"] = t["orders"]["amount"].astype(str)
        t["orders"].loc[[0, 3, 4], "amount"] = ["12,000", "abc", "₩5000"]
    err = _load_bad(tmp_path, bad, fmt="csv", only=["orders"])
    _check(err, "orders", "amount", 3, "unparseable number", ["12,000", "abc", "₩5000"])


def test_unparseable_integer(tmp_path):
    def bad(t):
        t["orders"]["quantity"] = t["orders"]["quantity"].astype(str)
        t["orders"].loc[7, "quantity"] = "two"
    err = _load_bad(tmp_path, bad, fmt="csv", only=["orders"])
    _check(err, "orders", "quantity", 1, "unparseable integer", ["two"])


def test_unparseable_boolean(tmp_path):
    def bad(t):
        t["customers"]["consent_sms"] = t["customers"]["consent_sms"].astype(str)
        t["customers"].loc[[1, 4], "consent_sms"] = ["maybe", "2"]
    err = _load_bad(tmp_path, bad, fmt="csv", only=["customers", "orders"])
    _check(err, "customers", "consent_sms", 2, "unparseable boolean", ["maybe", "2"])


def test_csv_booleans_accept_common_spellings(tmp_path):
    t = tiny_tables()
    t["customers"]["consent_sms"] = ["TRUE", "no", "1", "Yes", "0", "f"]
    data = crmlab.load(write_tables(t, tmp_path, fmt="csv"))
    got = data.customers.order_by("customer_id").consent_sms.to_pandas().tolist()
    assert got == [True, False, True, True, False, False]


def test_unparseable_date(tmp_path):
    def bad(t):
        t["customers"]["birth_date"] = t["customers"]["birth_date"].astype(str)
        t["customers"].loc[0, "birth_date"] = "1990-02-30"
    err = _load_bad(tmp_path, bad, fmt="csv", only=["customers", "orders"])
    _check(err, "customers", "birth_date", 1, "unparseable date", ["1990-02-30"])


def test_non_integer_quantity_in_parquet(tmp_path):
    def bad(t):
        t["orders"]["quantity"] = t["orders"]["quantity"].astype(float)
        t["orders"].loc[1, "quantity"] = 1.5
    err = _load_bad(tmp_path, bad, only=["orders"])
    _check(err, "orders", "quantity", 1, "not an integer", [1.5])


def test_integer_boolean_out_of_range(tmp_path):
    def bad(t):
        t["customers"]["consent_email"] = [1, 0, 1, 2, 1, 0]
    err = _load_bad(tmp_path, bad, only=["customers", "orders"])
    _check(err, "customers", "consent_email", 1, "not a boolean", [2])


def test_wrong_type_for_timestamp(tmp_path):
    def bad(t):
        t["events"]["event_ts"] = np.arange(6, dtype="int64") + 1_700_000_000
    err = _load_bad(tmp_path, bad, only=["orders", "events"])
    _check(err, "events", "event_ts", 6, "expected a timestamp, found int64", [1_700_000_000])


def test_float_ids_refused(tmp_path):
    def bad(t):
        t["orders"]["customer_id"] = t["orders"]["customer_id"].astype(float)
    err = _load_bad(tmp_path, bad, only=["orders"])
    _check(err, "orders", "customer_id", 8, "identifiers must be integers or strings", [1.0])


# --- time zones -----------------------------------------------------------------------------
def test_mixed_offsets_and_naive(tmp_path):
    def bad(t):
        t["orders"]["order_ts"] = t["orders"]["order_ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
        t["orders"].loc[[0, 1, 2], "order_ts"] += "+09:00"
    err = _load_bad(tmp_path, bad, fmt="csv", only=["orders"])
    _check(err, "orders", "order_ts", 3, "mixed time zones",
           ["2024-01-03 11:00:00+09:00", "2024-04-10 15:00:00"])
    assert "3 values carry a UTC offset and 5 do not" in str(err)


def test_mixed_offsets(tmp_path):
    def bad(t):
        s = t["events"]["event_ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        t["events"]["event_ts"] = s + ["+09:00", "+09:00", "Z", "+0900", "+09", "-05:00"]
    err = _load_bad(tmp_path, bad, fmt="csv", only=["orders", "events"])
    _check(err, "events", "event_ts", 2, "mixed time zones: 3 different UTC offsets")
    assert "+0900" in str(err) and "-0500" in str(err) and "+0000" in str(err)


def test_same_offset_spelled_differently_is_one_zone(tmp_path):
    t = tiny_tables()
    s = t["events"]["event_ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    t["events"]["event_ts"] = s + ["+09:00", "+0900", "+09", "+09:00", "+09:00", "+09:00"]
    data = crmlab.load(write_tables(t, tmp_path, fmt="csv"))
    assert data.events.order_by("event_ts").event_ts.to_pandas().tolist() == \
        sorted(tiny_tables()["events"]["event_ts"].tolist())


# --- nulls and keys -------------------------------------------------------------------------
def test_null_key(tmp_path):
    def bad(t):
        t["orders"].loc[[3, 6], "order_id"] = None
    err = _load_bad(tmp_path, bad, only=["orders"])
    _check(err, "orders", "order_id", 2, "null key")
    assert err.examples == [(3, "2024-02-02 10:00:00"), (5, "2024-03-02 12:00:00")]
    assert "examples show customer_id, order_ts" in str(err)


def test_null_customer_id_in_events_csv(tmp_path):
    def bad(t):
        t["events"]["customer_id"] = t["events"]["customer_id"].astype("Int64")
        t["events"].loc[4, "customer_id"] = pd.NA
    err = _load_bad(tmp_path, bad, fmt="csv", only=["orders", "events"])
    _check(err, "events", "customer_id", 1, "null value in a required column")


def test_null_amount(tmp_path):
    def bad(t):
        t["orders"].loc[2, "amount"] = np.nan
    err = _load_bad(tmp_path, bad, only=["orders"])
    _check(err, "orders", "amount", 1, "null value in a required column", [("O3", 2, "2024-01-06 13:00:00")])


def test_duplicate_order_id(tmp_path):
    def bad(t):
        t["orders"].loc[[1, 2], "order_id"] = "O1"
    err = _load_bad(tmp_path, bad, only=["orders"])
    _check(err, "orders", "order_id", 3, "duplicate key (1 value repeated)", ["O1"])


def test_duplicate_campaign_id(tmp_path):
    def bad(t):
        t["campaigns"].loc[1, "campaign_id"] = "C1"
        t["assignments"]["campaign_id"] = "C1"
        t["assignments"]["customer_id"] = [1, 2, 3, 4, 5, 6]
    err = _load_bad(tmp_path, bad)
    _check(err, "campaigns", "campaign_id", 2, "duplicate key", ["C1"])


def test_duplicate_assignment(tmp_path):
    def bad(t):
        t["assignments"].loc[5, "customer_id"] = 3  # customer 3 twice in C2
    err = _load_bad(tmp_path, bad)
    _check(err, "assignments", "campaign_id, customer_id", 2, "duplicate key", [("C2", 3)])


def test_duplicate_customer(tmp_path):
    def bad(t):
        t["customers"].loc[[4, 5], "customer_id"] = 4
    err = _load_bad(tmp_path, bad, fmt="csv", only=["customers", "orders"])
    _check(err, "customers", "customer_id", 3, "duplicate key", [4])


# --- allowed values -------------------------------------------------------------------------
def test_unknown_scenario(tmp_path):
    err = _load_bad(tmp_path, lambda t: t["campaigns"].__setitem__("scenario", ["winback", "promo"]))
    _check(err, "campaigns", "scenario", 1, "unknown value (allowed: first_purchase", ["promo"])


def test_unknown_channel(tmp_path):
    err = _load_bad(tmp_path, lambda t: t["campaigns"].__setitem__("channel", ["Email", "kakao"]))
    _check(err, "campaigns", "channel", 2, "unknown value", ["Email", "kakao"])


def test_unknown_event_type(tmp_path):
    def bad(t):
        t["events"].loc[[0, 3, 5], "event_type"] = ["page_view", "page_view", "purchase"]
    err = _load_bad(tmp_path, bad, fmt="csv", only=["orders", "events"])
    _check(err, "events", "event_type", 3, "unknown value", ["page_view", "purchase"])
    assert err.examples[0] == "page_view"  # most frequent first


def test_null_arm(tmp_path):
    err = _load_bad(tmp_path, lambda t: t["assignments"].__setitem__(
        "arm", ["treatment", None, "treatment", "control", "treatment", "control"]))
    _check(err, "assignments", "arm", 1, "null value in a required column", [("C1", 2, "2024-03-10 09:00:00")])


# --- relations between tables ---------------------------------------------------------------
def test_campaign_without_control(tmp_path):
    def bad(t):
        t["assignments"].loc[5, "arm"] = "treatment"  # C2 had one control
    err = _load_bad(tmp_path, bad)
    _check(err, "assignments", "arm", 2, "campaign with no 'control' arm (1 campaign(s))", ["C2"])


def test_assignments_to_unknown_campaign(tmp_path):
    def bad(t):
        t["assignments"].loc[[4, 5], "campaign_id"] = "C9"
    err = _load_bad(tmp_path, bad)
    _check(err, "assignments", "campaign_id", 2, "assignments to unknown campaigns (1 campaign",
           ["C9"])


def test_customer_id_type_mismatch(tmp_path):
    def bad(t):
        t["orders"]["customer_id"] = "U" + t["orders"]["customer_id"].astype(str)
    err = _load_bad(tmp_path, bad)
    _check(err, "orders", "customer_id", 8, "type mismatch between tables: string here, "
           "integer in customers", ["U1"])


def test_customer_id_type_mismatch_csv_inference(tmp_path):
    # all-numeric ids in CSV are integers; one table with a non-numeric id stays text
    def bad(t):
        t["events"]["customer_id"] = t["events"]["customer_id"].astype(str)
        t["events"].loc[2, "customer_id"] = "guest"
    err = _load_bad(tmp_path, bad, fmt="csv")
    _check(err, "events", "customer_id", 6, "type mismatch")


def test_csv_ids_with_leading_zeros_stay_text(tmp_path):
    t = tiny_tables()
    for name in ("customers", "orders", "events", "assignments"):
        t[name]["customer_id"] = t[name]["customer_id"].map(lambda i: f"{i:04d}")
    data = crmlab.load(write_tables(t, tmp_path, fmt="csv"))
    assert data.orders.schema()["customer_id"].is_string()
    assert data.orders.customer_id.to_pandas().iloc[0] == "0001"


def test_campaign_id_type_mismatch(tmp_path):
    def bad(t):
        t["campaigns"]["campaign_id"] = [1, 2]
    err = _load_bad(tmp_path, bad)
    _check(err, "assignments", "campaign_id", 6, "type mismatch between tables: string here, "
           "integer in campaigns", ["C1"])


def test_csv_not_utf8(tmp_path):
    o = tiny_tables()["orders"].assign(sales_channel="모바일")
    o.to_csv(tmp_path / "orders.csv", index=False, encoding="cp949")
    with pytest.raises(DataContractError) as exc:
        crmlab.load(tmp_path)
    _check(exc.value, "orders", None, None, "is not UTF-8 text")
    assert "iconv" in str(exc.value)
