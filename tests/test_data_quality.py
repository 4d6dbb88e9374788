"""The data-quality ledger: every soft check, with a bad input whose count is known by hand.

Nothing is dropped: row counts after loading equal the input's."""
from __future__ import annotations

import pandas as pd
import pytest

import crmlab
from crmlab.data.examples import tiny_tables, write_tables
from crmlab.data.schema import CHANNEL_CONSENT, CHANNELS

TS = pd.Timestamp
META = {"observation_end": "2024-07-01", "currency": "KRW", "tz": "Asia/Seoul"}


def _append(df: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    out = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
    for col in df.columns:  # keep the dtypes pandas would otherwise widen to object
        if df[col].dtype == bool and out[col].isna().any():
            out[col] = out[col].astype("boolean")
        elif df[col].dtype != object:
            try:
                out[col] = out[col].astype(df[col].dtype)
            except (TypeError, ValueError):
                pass
    return out


def _ledger(data) -> dict[tuple[str, str], int]:
    return data.quality.set_index(["table", "check"])["rows"].to_dict()


def _dirty() -> dict[str, pd.DataFrame]:
    t = tiny_tables()
    c = t["customers"]
    c.loc[c.customer_id == 6, "signup_ts"] = pd.NaT                       # signup missing
    c.loc[c.customer_id == 5, "consent_email"] = False                    # for the consent check
    t["customers"] = _append(c, [dict(customer_id=7, signup_ts=TS("2024-08-01"),
                                      birth_date=TS("1999-01-01").date(), region="Seoul",
                                      consent_email=True, consent_sms=True, consent_push=True,
                                      consent_kakao=True, consent_night=False)])
    o = t["orders"]
    new_orders = [
        dict(order_id="O9", customer_id=99, order_ts=TS("2024-05-01"), amount=1000.0),   # unknown
        dict(order_id="O10", customer_id=1, order_ts=TS("2024-05-02"), amount=-5000.0,
             is_refund=False),                                                          # neg
        dict(order_id="O11", customer_id=1, order_ts=TS("2024-05-03"), amount=-3000.0),  # neg, null flag
        dict(order_id="O12", customer_id=1, order_ts=TS("2024-05-04"), amount=0.0,
             is_refund=False),                                                          # zero
        dict(order_id="O13", customer_id=1, order_ts=TS("2024-05-05"), amount=100.0,
             is_refund=True),                                                           # refund > 0
        dict(order_id="O14", customer_id=1, order_ts=TS("2024-07-01"), amount=100.0,
             is_refund=False),                                                          # at obs end
        dict(order_id="O15", customer_id=1, order_ts=TS("2024-06-30 23:59:59"), amount=100.0,
             is_refund=False),                                                          # just before
        dict(order_id="O16", customer_id=3, order_ts=TS("2024-01-15"), amount=100.0,
             is_refund=False),                                                          # before signup
    ]
    t["orders"] = _append(o, [{**r, "quantity": 1} for r in new_orders])
    e = t["events"]
    t["events"] = _append(e, [
        dict(customer_id=98, event_ts=TS("2024-05-01"), event_type="visit"),
        dict(customer_id=97, event_ts=TS("2024-05-01"), event_type="visit"),
        dict(customer_id=1, event_ts=TS("2024-07-02"), event_type="visit"),
    ])
    cp = t["campaigns"]
    t["campaigns"] = _append(cp, [
        dict(campaign_id="C3", name="broken dates", scenario="custom", channel="sms",
             cost_per_send=20.0, start_ts=TS("2024-05-10"), end_ts=TS("2024-05-01"),
             holdout_share=0.0),
        dict(campaign_id="C4", name="planned", scenario="anniversary", channel="kakao_alimtalk",
             cost_per_send=1.0, start_ts=TS("2024-06-01"), end_ts=TS("2024-06-30"),
             holdout_share=1.2),
    ])
    a = t["assignments"]
    a.loc[(a.campaign_id == "C1") & (a.customer_id == 1), ["assigned_ts", "sent_ts", "clicked_ts"]] = [
        TS("2024-03-10 07:00"), TS("2024-03-10 07:59"), TS("2024-03-10 11:59")]  # night; click<open
    a.loc[(a.campaign_id == "C1") & (a.customer_id == 3), "opened_ts"] = TS("2024-03-10 09:30")
    t["assignments"] = _append(a, [
        dict(campaign_id="C1", customer_id=96, arm="treatment", assigned_ts=TS("2024-03-10 09:00"),
             sent_ts=TS("2024-03-10 10:00")),                                  # unknown customer
        dict(campaign_id="C1", customer_id=5, arm="treatment", assigned_ts=TS("2024-02-20 09:00"),
             sent_ts=TS("2024-02-20 10:00")),                        # outside dates; no consent
        dict(campaign_id="C2", customer_id=1, arm="treatment", assigned_ts=TS("2024-07-05 09:00")),
        dict(campaign_id="C2", customer_id=2, arm="control", assigned_ts=TS("2024-04-11 09:00"),
             sent_ts=TS("2024-04-11 10:00")),                                  # control sent
        dict(campaign_id="C1", customer_id=6, arm="treatment", assigned_ts=TS("2024-03-10 09:00"),
             sent_ts=TS("2024-03-10 08:00")),                                  # sent < assigned
        dict(campaign_id="C2", customer_id=4, arm="treatment", assigned_ts=TS("2024-04-11 09:00"),
             sent_ts=TS("2024-04-11 23:00")),           # alimtalk at night: informational, fine
    ])
    return t


EXPECTED = {
    ("customers", "signup_ts missing"): 1,
    ("customers", "signup_ts at or after observation_end"): 1,
    ("orders", "customer_id not in customers"): 1,
    ("orders", "negative amount not marked as refund"): 2,
    ("orders", "zero amount"): 1,
    ("orders", "is_refund on a positive amount"): 1,
    ("orders", "order_ts at or after observation_end"): 1,
    ("orders", "order before signup"): 1,
    ("events", "customer_id not in customers"): 2,
    ("events", "event_ts at or after observation_end"): 1,
    ("campaigns", "end_ts before start_ts"): 1,
    ("campaigns", "holdout_share outside (0, 1)"): 2,
    ("campaigns", "promotional scenario on kakao_alimtalk"): 1,
    ("campaigns", "campaign without assignments"): 2,
    ("assignments", "customer_id not in customers"): 1,
    ("assignments", "assigned_ts at or after observation_end"): 1,
    ("assignments", "assigned outside the campaign's dates"): 2,
    ("assignments", "control arm sent"): 1,
    ("assignments", "sent before assigned"): 1,
    ("assignments", "opened before sent"): 1,
    ("assignments", "clicked before opened"): 1,
    ("assignments", "send without consent for the channel"): 1,
    ("assignments", "advertising send 21:00–08:00 without night consent"): 1,
}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_every_ledger_check_counts_its_rows(tmp_path, fmt):
    t = _dirty()
    data = crmlab.load(write_tables(t, tmp_path, fmt=fmt, meta=META))
    got = _ledger(data)
    assert got == EXPECTED  # every check listed, each with its hand-counted rows
    assert list(data.quality.columns) == ["table", "check", "rows", "action"]
    assert data.quality["action"].str.startswith("kept").all()
    # nothing dropped
    for name, df in t.items():
        assert data[name].count().to_pandas() == len(df), name


def test_clean_data_lists_every_check_with_zero(tmp_path):
    data = crmlab.load(write_tables(tiny_tables(), tmp_path, meta=META))
    assert set(_ledger(data)) == set(EXPECTED)
    assert (data.quality["rows"] == 0).all()


@pytest.mark.parametrize("channel", CHANNELS)
def test_consent_column_per_channel(tmp_path, channel):
    """Customer k lacks exactly one consent; a send on `channel` to all of them is flagged
    once, for the customer lacking that channel's consent (kakao_alimtalk: none)."""
    consents = ["consent_email", "consent_sms", "consent_push", "consent_kakao"]
    t = tiny_tables()
    cust = pd.DataFrame({"customer_id": [1, 2, 3, 4, 5], "signup_ts": TS("2024-01-01")})
    for k, col in enumerate(consents):
        cust[col] = [i != k for i in range(5)]
    cust["consent_night"] = True
    camp = t["campaigns"].iloc[:1].assign(channel=channel)
    asg = pd.DataFrame({"campaign_id": "C1", "customer_id": [1, 2, 3, 4, 5],
                        "arm": ["treatment"] * 4 + ["control"],
                        "assigned_ts": TS("2024-03-10 09:00"),
                        "sent_ts": [TS("2024-03-10 10:00")] * 4 + [pd.NaT]})
    orders = t["orders"][t["orders"].customer_id <= 5]
    data = crmlab.load(write_tables({"customers": cust, "orders": orders, "campaigns": camp,
                                     "assignments": asg}, tmp_path, meta=META))
    n = _ledger(data)[("assignments", "send without consent for the channel")]
    assert n == (0 if CHANNEL_CONSENT[channel] is None else 1)
    if CHANNEL_CONSENT[channel]:
        lacking = consents.index(CHANNEL_CONSENT[channel]) + 1
        assert not cust.loc[lacking - 1, CHANNEL_CONSENT[channel]]


def test_night_window_boundaries(tmp_path):
    t = tiny_tables()
    cust = pd.DataFrame({"customer_id": range(1, 9), "signup_ts": TS("2024-01-01"),
                         "consent_email": True, "consent_sms": True, "consent_push": True,
                         "consent_kakao": True,
                         "consent_night": [False] * 7 + [True]})
    camps = pd.DataFrame({"campaign_id": ["E", "A", "F"], "name": ["e", "a", "f"],
                          "scenario": "custom", "channel": ["email", "kakao_alimtalk",
                                                            "kakao_friendtalk"],
                          "cost_per_send": 1.0, "start_ts": TS("2024-03-01"),
                          "end_ts": TS("2024-03-31"), "holdout_share": 0.1})
    day = TS("2024-03-10")
    sends = [("E", 1, "20:59:59", False), ("E", 2, "21:00", True), ("E", 3, "07:59:59", True),
             ("E", 4, "08:00", False), ("A", 5, "23:00", False), ("F", 6, "02:00", True),
             ("E", 8, "22:00", False)]  # customer 8 consented to night sends
    rows = [dict(campaign_id=c, customer_id=k, arm="treatment", assigned_ts=day,
                 sent_ts=TS(f"2024-03-10 {h}")) for c, k, h, _ in sends]
    rows += [dict(campaign_id=c, customer_id=7, arm="control", assigned_ts=day, sent_ts=pd.NaT)
             for c in "EAF"]
    data = crmlab.load(write_tables({"customers": cust, "orders": t["orders"], "campaigns": camps,
                                     "assignments": pd.DataFrame(rows)}, tmp_path, meta=META))
    n = _ledger(data)[("assignments", "advertising send 21:00–08:00 without night consent")]
    assert n == sum(flag for *_, flag in sends) == 3


def test_without_sent_ts_treatment_arms_are_sends(tmp_path):
    t = _dirty()
    t["assignments"] = t["assignments"].drop(columns=["sent_ts", "opened_ts", "clicked_ts"])
    data = crmlab.load(write_tables(t, tmp_path, meta=META))
    q = data.quality.set_index(["table", "check"])
    for check in ("control arm sent", "sent before assigned", "opened before sent",
                  "clicked before opened"):
        assert q.loc[("assignments", check), "rows"] == 0
        assert q.loc[("assignments", check), "action"].startswith("not checked")
    # treatment sends at assigned_ts: C1 customer 1 at 07:00 (no night consent) and
    # C1 customer 6 at 09:00 ... only the 07:00 one is at night
    assert q.loc[("assignments", "advertising send 21:00–08:00 without night consent"), "rows"] == 1
    assert q.loc[("assignments", "send without consent for the channel"), "rows"] == 1


def test_consent_withdrawn_after_the_send_is_not_a_violation(tmp_path):
    """Consent flags are today's. Customers 1-3 lack email consent now: 1 unsubscribed from
    this e-mail after it was sent (the send had consent), 2 unsubscribed from an earlier e-mail
    before this send (violation), 3 never consented (violation); an SMS unsubscribe of customer
    3 after the send does not excuse an e-mail send."""
    t = tiny_tables()
    cust = pd.DataFrame({"customer_id": [1, 2, 3, 4], "signup_ts": TS("2024-01-01"),
                         "consent_email": [False] * 3 + [True],
                         "consent_sms": [False] * 3 + [True], "consent_push": True,
                         "consent_kakao": True, "consent_night": True})
    camp = pd.concat([t["campaigns"].iloc[:1].assign(channel="email"),
                      t["campaigns"].iloc[:1].assign(campaign_id="C0", channel="email",
                                                     start_ts=TS("2024-02-01"),
                                                     end_ts=TS("2024-02-28")),
                      t["campaigns"].iloc[:1].assign(campaign_id="S1", channel="sms")])
    asg = pd.DataFrame({
        "campaign_id": ["C1", "C1", "C1", "C1", "C0", "C0", "S1", "S1"],
        "customer_id": [1, 2, 3, 4, 2, 1, 3, 1],
        "arm": ["treatment", "treatment", "treatment", "control", "treatment", "control",
                "treatment", "control"],
        "assigned_ts": [TS("2024-03-10 09:00")] * 4 + [TS("2024-02-10 09:00")] * 2
                       + [TS("2024-03-10 09:00")] * 2,
        "sent_ts": [TS("2024-03-10 10:00")] * 3 + [pd.NaT, TS("2024-02-10 10:00"), pd.NaT,
                                                  TS("2024-03-10 10:00"), pd.NaT],
        "unsubscribed_ts": [TS("2024-03-11 08:00"), pd.NaT, pd.NaT, pd.NaT,
                            TS("2024-02-11 08:00"), pd.NaT, TS("2024-03-12 08:00"), pd.NaT],
    })
    orders = t["orders"][t["orders"].customer_id <= 4]
    data = crmlab.load(write_tables({"customers": cust, "orders": orders, "campaigns": camp,
                                     "assignments": asg}, tmp_path, meta=META))
    # e-mail: C1 to 2 and 3; C0 to 2 was before its own unsubscribe (had consent) -> 2;
    # SMS S1 to 3 was before the SMS unsubscribe -> not counted
    assert _ledger(data)[("assignments", "send without consent for the channel")] == 2
