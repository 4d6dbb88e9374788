"""The contract as data, and its rendering in docs/data-contract.md."""
from __future__ import annotations

from pathlib import Path

from crmlab.data.schema import (
    CHANNEL_CONSENT, CHANNEL_MEDIUM, CHANNELS, CONSENT_KINDS, CONSENT_MEDIA, CONTRACT,
    EVENT_TYPES, MEDIUM_CONSENT_COLUMN, SCENARIOS, TABLES, contract_frame, contract_markdown,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"


def test_docs_render_the_contract():
    text = DOC.read_text()
    begin = text.index("-->\n", text.index("<!-- contract:begin")) + len("-->\n")
    end = text.index("<!-- contract:end -->")
    assert text[begin:end] == contract_markdown(), (
        "docs/data-contract.md is out of date: paste crmlab.data.schema.contract_markdown()")


def test_contract_content():
    assert TABLES == ("customers", "orders", "events", "campaigns", "assignments",
                      "consent_events", "holdout_periods")
    df = contract_frame()
    req = df[df.required].groupby("table")["column"].apply(list).to_dict()
    assert req["orders"] == ["order_id", "customer_id", "order_ts", "amount"]
    assert req["assignments"] == ["campaign_id", "customer_id", "arm", "assigned_ts"]
    assert req["events"] == ["customer_id", "event_ts", "event_type"]
    assert set(req["customers"]) == {"customer_id", "signup_ts", "consent_email", "consent_sms",
                                     "consent_push", "consent_kakao", "consent_night"}
    assert CONTRACT["assignments"].key == ("campaign_id", "customer_id")
    assert CONTRACT["campaigns"].column("scenario").allowed == SCENARIOS
    assert CONTRACT["campaigns"].column("channel").allowed == CHANNELS
    assert CONTRACT["events"].column("event_type").allowed == EVENT_TYPES
    assert set(CHANNEL_CONSENT) == set(CHANNELS)
    assert req["consent_events"] == ["customer_id", "channel", "kind", "granted", "event_ts"]
    assert CONTRACT["consent_events"].column("channel").allowed == CONSENT_MEDIA
    assert CONTRACT["consent_events"].column("kind").allowed == CONSENT_KINDS
    # the consent medium of a channel and its customers column agree
    assert set(CHANNEL_MEDIUM) == set(CHANNELS)
    for ch, med in CHANNEL_MEDIUM.items():
        assert CHANNEL_CONSENT[ch] == (MEDIUM_CONSENT_COLUMN[med] if med else None)
    # every key column is non-nullable
    for spec in CONTRACT.values():
        for k in spec.key:
            assert not spec.column(k).nullable
