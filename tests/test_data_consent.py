"""Consent judged at the time of each send: the consent_events table, its validation, and
crmlab.data.consent on hand-built histories whose answers are known row by row."""
from __future__ import annotations

import pandas as pd
import pytest

import crmlab
from crmlab.data.consent import consent_at_send, consent_basis
from crmlab.data.examples import write_tables

TS = pd.Timestamp
OBS = "2024-07-01"
KEY = ["campaign_id", "customer_id"]


def _shop() -> dict[str, pd.DataFrame]:
    """Seven customers, a morning LMS campaign (medium sms), a night app push and an alimtalk.

    customers' flags are today's state (the latest event of each medium)."""
    n = 7
    customers = pd.DataFrame({
        "customer_id": list(range(1, n + 1)),
        "signup_ts": [TS("2024-01-02 10:00")] * n,
        #                  1      2      3     4      5     6     7
        "consent_email": [True] * n,
        "consent_sms": [False, False, True, False, True, True, False],
        "consent_push": [True, True, True, True, True, True, True],
        "consent_kakao": [True] * n,
        "consent_night": [False, False, True, False, False, False, False],
    })
    orders = pd.DataFrame({"order_id": [1], "customer_id": [1], "order_ts": [TS("2024-02-01")],
                           "amount": [1000.0]})
    campaigns = pd.DataFrame({
        "campaign_id": ["LMS", "PUSH", "ALIM"], "name": ["lms", "push", "alimtalk"],
        "scenario": ["winback", "cart_reminder", "review_request"],
        "channel": ["lms", "app_push", "kakao_alimtalk"], "cost_per_send": [30.0, 0.0, 8.0],
        "start_ts": [TS("2024-03-10"), TS("2024-04-11"), TS("2024-04-11")],
        "end_ts": [TS("2024-03-10 23:59"), TS("2024-04-11 23:59"), TS("2024-04-11 23:59")],
        "holdout_share": [0.2, 0.2, 0.2],
    })
    lms_sent = TS("2024-03-10 10:00")
    push_sent = TS("2024-04-11 22:00")
    rows = [("LMS", c, "treatment", lms_sent) for c in range(1, 8)]
    rows += [("LMS", 8, "control", None)]
    rows += [("PUSH", c, "treatment", push_sent) for c in (1, 2, 3, 5)]
    rows += [("PUSH", 4, "control", None)]
    rows += [("ALIM", 2, "treatment", push_sent), ("ALIM", 3, "control", None)]
    assignments = pd.DataFrame(rows, columns=["campaign_id", "customer_id", "arm", "sent_ts"])
    assignments["assigned_ts"] = assignments["campaign_id"].map(
        {"LMS": TS("2024-03-10 09:00"), "PUSH": TS("2024-04-11 21:55"),
         "ALIM": TS("2024-04-11 21:55")})
    customers = pd.concat([customers, pd.DataFrame({
        "customer_id": [8], "signup_ts": [TS("2024-01-02 10:00")], "consent_email": [True],
        "consent_sms": [True], "consent_push": [True], "consent_kakao": [True],
        "consent_night": [True]})], ignore_index=True)
    signup = TS("2024-01-02 10:00")
    ev = [
        # LMS (medium sms), sent 2024-03-10 10:00
        (1, "sms", "marketing", True, signup), (1, "sms", "marketing", False, TS("2024-03-15")),
        (2, "sms", "marketing", True, signup), (2, "sms", "marketing", False, TS("2024-03-01")),
        (3, "sms", "marketing", True, signup), (3, "sms", "marketing", False, TS("2024-02-01")),
        (3, "sms", "marketing", True, TS("2024-03-05")),
        (4, "sms", "marketing", True, signup),
        (4, "sms", "marketing", True, TS("2024-03-01 12:00")),       # same second:
        (4, "sms", "marketing", False, TS("2024-03-01 12:00")),      # withdrawal decides
        # 5: no sms event at all -> consent_sms (True)
        (6, "sms", "marketing", True, TS("2024-03-20")),             # first event after the send
        (7, "sms", "marketing", False, TS("2024-03-20")),            # first event after the send
        # PUSH (medium push) at 22:00 on 2024-04-11: marketing granted at sign-up for all
        *[(c, "push", "marketing", True, signup) for c in (1, 2, 3, 5)],
        (1, "push", "night", True, signup), (1, "push", "night", False, TS("2024-04-12")),
        (2, "push", "night", True, TS("2024-04-01")), (2, "push", "night", False, TS("2024-04-05")),
        # 3: no push night event -> consent_night (True)
        (5, "email", "night", True, signup),                         # another medium: not push
    ]
    consent_events = pd.DataFrame(ev, columns=["customer_id", "channel", "kind", "granted",
                                               "event_ts"])
    return {"customers": customers, "orders": orders, "campaigns": campaigns,
            "assignments": assignments, "consent_events": consent_events}


# at send time: LMS customers 2 (withdrew before), 4 (grant and withdrawal in the same second
# before the send) and 6 (first event, a grant, after the send); night: 2 (withdrew before),
# 5 (night consent on e-mail only, consent_night false)
AT_SEND = {"LMS": {2, 4, 6}, "PUSH_NIGHT": {2, 5}}
# by today's flags: consent_sms false for 1, 2, 4, 7; consent_night false for 1, 2, 5
TODAY = {"LMS": {1, 2, 4, 7}, "PUSH_NIGHT": {1, 2, 5}}


def _judged(data) -> pd.DataFrame:
    a, c = data.assignments, data.campaigns
    snd = a.filter(a.sent_ts.notnull()).join(c.select("campaign_id", "channel"), "campaign_id")
    return consent_at_send(snd, data.tables, key=KEY, ts="sent_ts").to_pandas()


def _violations(df: pd.DataFrame) -> dict[str, set]:
    lms = df[df.campaign_id == "LMS"]
    push = df[df.campaign_id == "PUSH"]
    return {"LMS": set(lms.customer_id[~lms.consent_ok.astype(bool)]),
            "PUSH_NIGHT": set(push.customer_id[~push.night_consent_ok.astype(bool)])}


def test_consent_at_send_time_from_events():
    data = crmlab.load(_shop(), observation_end=OBS)
    assert consent_basis(data.tables) == "events"
    df = _judged(data)
    assert _violations(df) == AT_SEND
    # the push marketing consent was granted at sign-up for everyone; alimtalk needs none
    assert df[df.campaign_id == "PUSH"].consent_ok.all()
    assert df[df.campaign_id == "ALIM"][["consent_ok", "night_consent_ok"]].all(axis=None)
    assert len(df) == 7 + 4 + 1  # one row per send, none lost or duplicated by the joins


def test_without_events_todays_flags_are_used():
    t = _shop()
    del t["consent_events"]
    data = crmlab.load(t, observation_end=OBS)
    assert consent_basis(data.tables) == "current_flags"
    assert _violations(_judged(data)) == TODAY


def test_todays_flags_spare_a_send_before_the_customers_own_unsubscribe():
    t = _shop()
    del t["consent_events"]
    # customer 1 unsubscribed from the LMS itself (after the send), customer 7 from an SMS on
    # another day after it: both held the sms consent when the LMS went out
    t["assignments"]["unsubscribed_ts"] = pd.NaT
    a = t["assignments"]
    lms1 = (a.campaign_id == "LMS") & (a.customer_id == 1)
    a.loc[lms1, "unsubscribed_ts"] = TS("2024-03-10 10:30")
    t["campaigns"] = pd.concat([t["campaigns"], pd.DataFrame({
        "campaign_id": ["SMS"], "name": ["sms"], "scenario": ["custom"], "channel": ["sms"],
        "cost_per_send": [10.0], "start_ts": [TS("2024-05-01")], "end_ts": [TS("2024-05-02")],
        "holdout_share": [0.1]})], ignore_index=True)
    t["assignments"] = pd.concat([a, pd.DataFrame({
        "campaign_id": ["SMS", "SMS"], "customer_id": [7, 8], "arm": ["treatment", "control"],
        "assigned_ts": [TS("2024-05-01 10:00")] * 2, "sent_ts": [TS("2024-05-01 10:00"), pd.NaT],
        "unsubscribed_ts": [TS("2024-05-01 11:00"), pd.NaT]})], ignore_index=True)
    data = crmlab.load(t, observation_end=OBS)
    v = _violations(_judged(data))
    assert v["LMS"] == {2, 4}


def test_no_customers_nor_events_leaves_consent_unknown():
    t = _shop()
    del t["consent_events"], t["customers"]
    data = crmlab.load(t, observation_end=OBS)
    df = _judged(data)
    assert consent_basis(data.tables) == "none"
    assert df[df.campaign_id != "ALIM"].consent_ok.isna().all()
    assert df[df.campaign_id == "ALIM"].consent_ok.all()
    q = data.quality.set_index(["table", "check"])
    assert q.loc[("assignments", "send without consent for the channel"), "action"].startswith(
        "not checked")


def test_ledger_counts_at_send_time(tmp_path):
    data = crmlab.load(write_tables(_shop(), tmp_path / "p"), observation_end=OBS)
    q = data.quality.set_index(["table", "check"])
    consent = q.loc[("assignments", "send without consent for the channel")]
    night = q.loc[("assignments", "advertising send 21:00–08:00 without night consent")]
    assert consent["rows"] == len(AT_SEND["LMS"]) and "consent_events" in consent["action"]
    # the night rule: the PUSH sends at 22:00 (the alimtalk one is informational)
    assert night["rows"] == len(AT_SEND["PUSH_NIGHT"])
    for check in ("customer_id not in customers", "event_ts at or after observation_end",
                  "consent event before signup"):
        assert q.loc[("consent_events", check), "rows"] == 0
    t = _shop()
    del t["consent_events"]
    q0 = crmlab.load(t, observation_end=OBS).quality.set_index(["table", "check"])
    assert q0.loc[("assignments", "send without consent for the channel"), "rows"] == len(
        TODAY["LMS"])
    assert "today's" in q0.loc[("assignments", "send without consent for the channel"), "action"]


def test_ledger_soft_checks_of_consent_events():
    t = _shop()
    ce = t["consent_events"]
    t["consent_events"] = pd.concat([ce, pd.DataFrame({
        "customer_id": [99, 1, 1], "channel": ["email"] * 3, "kind": ["marketing"] * 3,
        "granted": [True, True, False],
        "event_ts": [TS("2024-02-01"), TS("2024-01-01"), TS("2024-07-01")]})], ignore_index=True)
    q = crmlab.load(t, observation_end=OBS).quality.set_index(["table", "check"])["rows"]
    assert q[("consent_events", "customer_id not in customers")] == 1
    assert q[("consent_events", "consent event before signup")] == 1
    assert q[("consent_events", "event_ts at or after observation_end")] == 1


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_loads_from_files_and_duckdb(tmp_path, fmt):
    d = write_tables(_shop(), tmp_path / fmt, fmt=fmt)
    data = crmlab.load(d, observation_end=OBS)
    assert data.consent_events is not None
    assert int(data.consent_events.count().to_pandas()) == len(_shop()["consent_events"])
    schema = data.consent_events.schema()
    assert schema["granted"].is_boolean() and schema["event_ts"].is_timestamp()
    assert _violations(_judged(data)) == AT_SEND


def test_loads_from_a_duckdb_file(tmp_path):
    import duckdb

    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    for name, df in _shop().items():
        con.register("df", df)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM df")
        con.unregister("df")
    con.close()
    data = crmlab.load(path, observation_end=OBS)
    assert _violations(_judged(data)) == AT_SEND


@pytest.mark.parametrize("column, value, problem", [
    ("channel", "lms", "consent_events.channel: unknown value (allowed: email, sms, push, kakao)"),
    ("kind", "daytime", "consent_events.kind: unknown value (allowed: marketing, night)"),
    ("granted", None, "consent_events.granted: null value in a required column"),
    ("event_ts", None, "consent_events.event_ts: null value in a required column"),
    ("customer_id", None, "consent_events.customer_id: null value in a required column"),
])
def test_bad_values_are_contract_errors(column, value, problem):
    t = _shop()
    ce = t["consent_events"].astype({"granted": "object", "customer_id": "object"})
    ce.loc[[0, 3], column] = value
    t["consent_events"] = ce
    with pytest.raises(crmlab.DataContractError) as exc:
        crmlab.load(t, observation_end=OBS)
    assert str(exc.value).startswith(problem), str(exc.value)
    assert exc.value.n_rows == 2


def test_text_booleans_and_type_errors():
    t = _shop()
    t["consent_events"]["granted"] = t["consent_events"]["granted"].map({True: "yes",
                                                                         False: "no"})
    assert _violations(_judged(crmlab.load(t, observation_end=OBS))) == AT_SEND
    t["consent_events"].loc[2, "granted"] = "maybe"
    with pytest.raises(crmlab.DataContractError, match=r"consent_events\.granted: unparseable "
                       r"boolean .* 1 rows?; examples: 'maybe'"):
        crmlab.load(t, observation_end=OBS)
    t = _shop()
    t["consent_events"]["customer_id"] = t["consent_events"]["customer_id"].astype(str)
    with pytest.raises(crmlab.DataContractError, match=r"consent_events\.customer_id: type "
                       r"mismatch between tables: string here, integer in customers"):
        crmlab.load(t, observation_end=OBS)
    t = _shop()
    del t["consent_events"]["kind"]
    with pytest.raises(crmlab.DataContractError, match=r"consent_events\.kind: missing required "
                       r"column"):
        crmlab.load(t, observation_end=OBS)


# ------------------------------------------------------------------ on a simulated shop
MEDIUM = {"email": "email", "sms": "sms", "lms": "sms", "app_push": "push", "in_app": "push",
          "kakao_friendtalk": "kakao", "kakao_alimtalk": None}


def _brute_force(sends: pd.DataFrame, events: pd.DataFrame | None,
                 customers: pd.DataFrame, unsubscribes: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """The rules of docs/data-contract.md, send by send in plain Python. Without events:
    today's flags, sparing a send at or before an unsubscribe of the customer from the same
    medium (``unsubscribes``: customer_id, channel, unsubscribed_ts of every assignment)."""
    flags = customers.set_index("customer_id")
    unsub: dict = {}
    if unsubscribes is not None:
        for r in unsubscribes.dropna(subset=["unsubscribed_ts"]).itertuples(index=False):
            unsub.setdefault((r.customer_id, MEDIUM[r.channel]), []).append(r.unsubscribed_ts)
    hist: dict = {}
    if events is not None:
        for r in events.itertuples(index=False):
            hist.setdefault((r.customer_id, r.channel, r.kind), []).append(
                (r.event_ts, 0 if r.granted else 1))
    ok, night_ok = [], []
    for s in sends.itertuples(index=False):
        m = MEDIUM[s.channel]
        if m is None:
            ok.append(True)
            night_ok.append(True)
            continue
        out = []
        for kind, col in (("marketing", f"consent_{m}"), ("night", "consent_night")):
            today = bool(flags.at[s.customer_id, col]) if s.customer_id in flags.index else False
            if events is None:
                later = [u for u in unsub.get((s.customer_id, m), []) if u >= s.sent_ts]
                out.append(today or (kind == "marketing" and bool(later)))
                continue
            ev = sorted(hist.get((s.customer_id, m, kind), []))
            before = [e for e in ev if e[0] <= s.sent_ts]
            if before:
                out.append(before[-1][1] == 0)
            elif ev:
                out.append(ev[0][1] == 1)
            else:
                out.append(today)
        ok.append(out[0])
        night_ok.append(out[1])
    return sends.assign(consent_ok=ok, night_consent_ok=night_ok)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from crmlab.data.simulate import simulate

    path = simulate(tmp_path_factory.mktemp("consent_shop"), n_customers=4000, seed=5)
    return path, crmlab.load(path)


def _per_campaign(df: pd.DataFrame) -> pd.DataFrame:
    h = df["sent_ts"].dt.hour
    night = ((h >= 21) | (h < 8)) & (df["channel"] != "kakao_alimtalk")
    return pd.DataFrame({"campaign_id": df["campaign_id"],
                         "no_consent": ~df["consent_ok"].astype(bool),
                         "night": night & ~df["night_consent_ok"].astype(bool)}
                        ).groupby("campaign_id").sum()


def test_simulated_shop_matches_a_brute_force_computation(shop):
    path, data = shop
    engine = _judged(data).sort_values(KEY, ignore_index=True)
    events = pd.read_parquet(path / "consent_events.parquet")
    customers = pd.read_parquet(path / "customers.parquet")
    brute = _brute_force(engine[KEY + ["channel", "sent_ts"]], events, customers)
    pd.testing.assert_series_equal(engine["consent_ok"].astype(bool), brute["consent_ok"])
    pd.testing.assert_series_equal(engine["night_consent_ok"].astype(bool),
                                   brute["night_consent_ok"])
    at_send = _per_campaign(engine)
    # the simulator's faults, and nothing else: the stale win-back list (dormant buyers without
    # SMS consent) and the SMS blast's tail past 21:00 to customers without night consent
    assert at_send.loc["winback_lms", "no_consent"] > 0
    assert at_send.drop("winback_lms")["no_consent"].sum() == 0
    assert at_send.loc["flash_sale_sms", "night"] > 0
    ledger = data.quality.set_index(["table", "check"])["rows"]
    assert ledger[("assignments", "send without consent for the channel")] == \
        at_send["no_consent"].sum()
    assert ledger[("assignments", "advertising send 21:00–08:00 without night consent")] == \
        at_send["night"].sum()


def test_simulated_shop_todays_flags_overcount(shop):
    path, data = shop
    tables = {n: pd.read_parquet(path / f"{n}.parquet") for n in
              ("customers", "orders", "campaigns", "assignments")}
    flags_only = crmlab.load(tables, observation_end=data.observation_end)
    assert consent_basis(flags_only.tables) == "current_flags"
    today = _per_campaign(_judged(flags_only))
    at_send = _per_campaign(_judged(data))
    # withdrawals after the sends count against them by today's flags (the sends a customer
    # unsubscribed from are spared, other withdrawals are not)
    assert (today["no_consent"] >= at_send["no_consent"]).all()
    assert today["no_consent"].sum() > 2 * at_send["no_consent"].sum()
    # with the unsubscribe correction switched off (no unsubscribed_ts), more still
    raw = dict(tables, assignments=tables["assignments"].drop(columns="unsubscribed_ts"))
    flags_raw = _per_campaign(_judged(crmlab.load(raw, observation_end=data.observation_end)))
    assert flags_raw.loc["flash_sale_sms", "no_consent"] > today.loc["flash_sale_sms",
                                                                     "no_consent"]
    sends = _judged(flags_only).sort_values(KEY, ignore_index=True)
    unsubs = tables["assignments"].merge(tables["campaigns"][["campaign_id", "channel"]],
                                         on="campaign_id")
    brute = _brute_force(sends[KEY + ["channel", "sent_ts"]], None, tables["customers"],
                         unsubs[["customer_id", "channel", "unsubscribed_ts"]])
    pd.testing.assert_series_equal(sends["consent_ok"].astype(bool), brute["consent_ok"])
    pd.testing.assert_series_equal(sends["night_consent_ok"].astype(bool),
                                   brute["night_consent_ok"])


def test_simulated_flags_are_the_latest_event(shop):
    path, _ = shop
    ev = pd.read_parquet(path / "consent_events.parquet")
    cust = pd.read_parquet(path / "customers.parquet").set_index("customer_id")
    # every customer has a sign-up choice for every medium and kind, at signup_ts
    first = ev.groupby(["customer_id", "channel", "kind"]).event_ts.min().reset_index()
    assert len(first) == len(cust) * 4 * 2
    assert (first.event_ts.to_numpy() == cust.loc[first.customer_id, "signup_ts"].to_numpy()).all()
    last = ev.groupby(["customer_id", "channel", "kind"]).tail(1)  # the file is time-ordered
    for m in ("email", "sms", "push", "kakao"):
        lm = last[(last.channel == m) & (last.kind == "marketing")].set_index("customer_id")
        assert (lm.granted == cust.loc[lm.index, f"consent_{m}"]).all()
    ln = last[last.kind == "night"].set_index("customer_id")
    assert (ln.granted == cust.loc[ln.index, "consent_night"]).all()
    # withdrawals after unsubscribes, organic withdrawals and re-grants are all there
    changes = ev[ev.event_ts > cust.loc[ev.customer_id, "signup_ts"].to_numpy()]
    assert changes.granted.sum() > 0 and (~changes.granted).sum() > 0
    a = pd.read_parquet(path / "assignments.parquet")
    unsub = a[a.unsubscribed_ts.notna() & (a.campaign_id == "flash_sale_sms")]
    w = changes[(changes.channel == "sms") & ~changes.granted]
    hit = unsub.merge(w, left_on=["customer_id", "unsubscribed_ts"],
                      right_on=["customer_id", "event_ts"])
    assert len(unsub) > 0 and len(hit) == len(unsub)
