"""The ``holdout_periods`` table: contract types, hard errors (end not after start, overlapping
periods of one customer) and the ledger's soft checks."""
from __future__ import annotations

import pandas as pd
import pytest

import crmlab
from crmlab.data.errors import DataContractError

T = pd.Timestamp
CONSENTS = ["consent_email", "consent_sms", "consent_push", "consent_kakao", "consent_night"]


def _tables(hp):
    orders = pd.DataFrame({"order_id": [1, 2], "customer_id": [1, 2],
                           "order_ts": [T("2024-01-02"), T("2024-02-03")], "amount": [10.0, 20.0]})
    cust = pd.DataFrame({"customer_id": [1, 2], "signup_ts": [T("2024-01-01")] * 2,
                         **{c: [True, True] for c in CONSENTS}})
    return {"orders": orders, "customers": cust, "holdout_periods": pd.DataFrame(hp)}


def test_valid_periods_load_and_unknown_customers_are_counted():
    hp = {"customer_id": [1, 1, 3], "start_ts": [T("2024-01-01"), T("2024-06-01"), T("2024-01-01")],
          "end_ts": [T("2024-06-01"), T("2024-09-01"), T("2024-03-01")]}
    data = crmlab.load(_tables(hp), observation_end="2025-01-01")
    assert data.holdout_periods.count().to_pandas() == 3
    q = data.quality.set_index(["table", "check"])["rows"]
    assert q[("holdout_periods", "customer_id not in customers")] == 1
    assert q[("holdout_periods", "start_ts at or after observation_end")] == 0


def test_touching_periods_are_not_an_overlap():
    hp = {"customer_id": [1, 1], "start_ts": [T("2024-01-01"), T("2024-06-01")],
          "end_ts": [T("2024-06-01"), T("2024-07-01")]}
    crmlab.load(_tables(hp))


@pytest.mark.parametrize("hp, words", [
    ({"customer_id": [1, 2], "start_ts": [T("2024-01-01"), T("2024-03-01")],
      "end_ts": [T("2024-06-01"), T("2024-03-01")]}, "does not end after it starts (end_ts <= start_ts; end_ts is exclusive) — 1 row"),
    ({"customer_id": [1, 1, 1], "start_ts": [T("2024-01-01"), T("2024-02-01"), T("2024-03-01")],
      "end_ts": [T("2024-12-01"), T("2024-02-15"), T("2024-04-01")]},
     "overlapping periods of one customer (merge them into one period) — 2 rows"),
    ({"customer_id": [1], "start_ts": ["yesterday"], "end_ts": [T("2024-02-01")]},
     "unparseable timestamp"),
    ({"customer_id": [1], "start_ts": [T("2024-01-01")], "end_ts": [None]}, "null value"),
])
def test_bad_periods_are_refused(hp, words):
    with pytest.raises(DataContractError) as e:
        crmlab.load(_tables(hp))
    assert "holdout_periods" in str(e.value) and words in str(e.value)
