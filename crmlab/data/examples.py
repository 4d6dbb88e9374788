"""A tiny, hand-checkable CRM data set in the contract's format.

Used in docstrings and tests: every value can be checked by eye, and it passes every contract
check with an empty ledger (all ``rows == 0``). Edit a copy to build a bad input.

Examples
--------
>>> from crmlab.data.examples import tiny_tables, write_tables
>>> t = tiny_tables()
>>> sorted(t)
['assignments', 'campaigns', 'customers', 'events', 'orders']
>>> len(t["orders"])
8
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Five small contract tables (naive Asia/Seoul wall-clock timestamps, amounts in KRW)."""
    ts = pd.Timestamp
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4, 5, 6],
        "signup_ts": [ts("2024-01-02 10:00"), ts("2024-01-05 12:30"), ts("2024-02-01 09:00"),
                      ts("2024-02-10 20:00"), ts("2024-03-01 08:15"), ts("2024-03-03 14:00")],
        "birth_date": pd.to_datetime(["1990-05-01", "1985-12-24", "2000-01-01", "1979-07-07",
                                      "1995-03-15", "1988-08-08"]).date,
        "region": ["Seoul", "Busan", "Seoul", "Incheon", "Daegu", "Seoul"],
        "consent_email": [True, True, True, True, True, True],
        "consent_sms": [True, False, True, True, False, True],
        "consent_push": [True, True, False, True, True, True],
        "consent_kakao": [True, True, True, True, True, True],
        "consent_night": [False, False, True, False, False, True],
    })
    orders = pd.DataFrame({
        "order_id": ["O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8"],
        "customer_id": [1, 1, 2, 3, 3, 4, 5, 6],
        "order_ts": [ts("2024-01-03 11:00"), ts("2024-03-20 19:45"), ts("2024-01-06 13:00"),
                     ts("2024-02-02 10:00"), ts("2024-04-10 15:00"), ts("2024-02-11 09:30"),
                     ts("2024-03-02 12:00"), ts("2024-04-15 22:10")],
        "amount": [35000.0, 42000.0, 18000.0, 99000.0, -99000.0, 27000.0, 51000.0, 12000.0],
        "quantity": [1, 2, 1, 3, 3, 1, 2, 1],
        "is_refund": [False, False, False, False, True, False, False, False],
    })
    events = pd.DataFrame({
        "customer_id": [1, 1, 2, 3, 5, 6],
        "event_ts": [ts("2024-01-03 10:50"), ts("2024-03-20 19:30"), ts("2024-01-06 12:40"),
                     ts("2024-02-02 09:40"), ts("2024-03-02 11:30"), ts("2024-04-15 21:50")],
        "event_type": ["visit", "cart_add", "product_view", "visit", "wishlist", "visit"],
        "product_category": ["shoes", "shoes", "bags", None, "hats", "bags"],
    })
    campaigns = pd.DataFrame({
        "campaign_id": ["C1", "C2"],
        "name": ["March win-back e-mail", "Review request"],
        "scenario": ["winback", "review_request"],
        "channel": ["email", "kakao_alimtalk"],
        "cost_per_send": [10.0, 8.0],
        "start_ts": [ts("2024-03-01"), ts("2024-04-01")],
        "end_ts": [ts("2024-03-31 23:59:59"), ts("2024-04-30 23:59:59")],
        "holdout_share": [0.5, 0.5],
    })
    assignments = pd.DataFrame({
        "campaign_id": ["C1", "C1", "C1", "C1", "C2", "C2"],
        "customer_id": [1, 2, 3, 4, 3, 6],
        "arm": ["treatment", "control", "treatment", "control", "treatment", "control"],
        "assigned_ts": [ts("2024-03-10 09:00")] * 4 + [ts("2024-04-11 09:00")] * 2,
        "sent_ts": [ts("2024-03-10 10:00"), pd.NaT, ts("2024-03-10 10:00"), pd.NaT,
                    ts("2024-04-11 22:00"), pd.NaT],
        "delivered": [True, None, True, None, True, None],
        "opened_ts": [ts("2024-03-10 12:00"), pd.NaT, pd.NaT, pd.NaT, ts("2024-04-12 08:00"), pd.NaT],
        "clicked_ts": [ts("2024-03-10 12:01"), pd.NaT, pd.NaT, pd.NaT, pd.NaT, pd.NaT],
        "coupon_cost": [5000.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    })
    assignments["delivered"] = assignments["delivered"].astype("boolean")
    return {"customers": customers, "orders": orders, "events": events, "campaigns": campaigns,
            "assignments": assignments}


def write_tables(tables: dict[str, pd.DataFrame], out_dir, fmt: str = "parquet",
                 meta: dict | None = None) -> Path:
    """Write contract tables as ``<table>.parquet`` or ``<table>.csv`` (+ ``meta.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "parquet":
            # microsecond timestamps: readable by every engine (Spark refuses nanoseconds)
            df.to_parquet(out / f"{name}.parquet", index=False, coerce_timestamps="us",
                          allow_truncated_timestamps=True)
        elif fmt == "csv":
            df.to_csv(out / f"{name}.csv", index=False)
        else:
            raise ValueError(f"fmt must be 'parquet' or 'csv', not {fmt!r}")
    if meta is not None:
        (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out
