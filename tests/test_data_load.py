"""Loading: round trips for parquet, csv, .duckdb and an Ibis connection; types, time zones,
extra columns, row counts in = out, observation_end, summary and fingerprint."""
from __future__ import annotations

import json

import duckdb
import ibis
import pandas as pd
import pytest

import crmlab
from crmlab.data.examples import tiny_tables, write_tables
from crmlab.data.schema import TABLES

META = {"observation_end": "2024-07-01", "currency": "KRW", "tz": "Asia/Seoul"}


def _frames(data) -> dict[str, pd.DataFrame]:
    return {n: t.to_pandas() for n, t in data.tables.items()}


def _assert_same(loaded: dict[str, pd.DataFrame], original: dict[str, pd.DataFrame]):
    for name, df in original.items():
        got = loaded[name]
        assert len(got) == len(df), name  # nothing dropped
        assert list(got.columns) == list(df.columns), name
        for col in df.columns:
            a, b = got[col], df[col]
            if col == "birth_date":
                a, b = pd.to_datetime(a), pd.to_datetime(b)
            if pd.api.types.is_bool_dtype(b) or str(b.dtype) == "boolean":
                a, b = a.astype("boolean"), b.astype("boolean")
            pd.testing.assert_series_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                           check_dtype=False, check_names=False, obj=f"{name}.{col}")


def _duckdb_file(tables, path):
    c = duckdb.connect(str(path))
    for n, df in tables.items():
        c.register(f"df_{n}", df)
        c.execute(f"CREATE TABLE {n} AS SELECT * FROM df_{n}")
    c.close()
    return path


@pytest.fixture(scope="module")
def tiny():
    return tiny_tables()


def test_parquet_round_trip(tmp_path, tiny):
    data = crmlab.load(write_tables(tiny, tmp_path, meta=META))
    _assert_same(_frames(data), tiny)
    assert data.observation_end == pd.Timestamp("2024-07-01")
    assert data.currency == "KRW" and data.tz == "Asia/Seoul"
    assert (data.quality["rows"] == 0).all(), data.quality[data.quality.rows > 0]
    assert data.orders.schema()["order_ts"].is_timestamp()
    assert data.orders.schema()["order_ts"].timezone is None
    assert data.orders.schema()["customer_id"].is_integer()
    assert data.con is not None and data.orders.get_name() == "orders"


def test_csv_round_trip_parses_types(tmp_path, tiny):
    data = crmlab.load(write_tables(tiny, tmp_path, fmt="csv"))
    _assert_same(_frames(data), tiny)
    s = data.customers.schema()
    assert s["customer_id"].is_integer() and s["consent_sms"].is_boolean()
    assert s["birth_date"].is_date() and s["signup_ts"].is_timestamp()
    assert data.assignments.schema()["coupon_cost"].is_floating()
    assert data.campaigns.schema()["campaign_id"].is_string()


def test_duckdb_file_and_connection_round_trip(tmp_path, tiny):
    path = _duckdb_file(tiny, tmp_path / "shop.duckdb")
    data = crmlab.load(path, observation_end="2024-07-01")
    _assert_same(_frames(data), tiny)
    con = ibis.duckdb.connect(str(path), read_only=True)
    data2 = crmlab.load(con, observation_end="2024-07-01")
    _assert_same(_frames(data2), tiny)
    assert data2.con is con


def test_connection_with_table_mapping(tmp_path, tiny):
    renamed = {f"crm_{n}": df for n, df in tiny.items() if n in ("orders", "customers")}
    path = _duckdb_file(renamed, tmp_path / "w.duckdb")
    con = ibis.duckdb.connect(str(path), read_only=True)
    data = crmlab.load(con, tables={"orders": "crm_orders", "customers": "crm_customers"})
    assert data.events is None and data.campaigns is None and data.assignments is None
    assert data.orders.count().to_pandas() == 8
    with pytest.raises(crmlab.DataContractError, match="crm_events"):
        crmlab.load(con, tables={"orders": "crm_orders", "events": "crm_events"})


def test_orders_only_is_enough(tmp_path, tiny):
    data = crmlab.load(write_tables({"orders": tiny["orders"]}, tmp_path))
    assert list(data.tables) == ["orders"]
    # default observation_end: midnight after the latest order/event date
    assert data.observation_end == pd.Timestamp("2024-04-16")
    q = data.quality
    skipped = q[q.action.str.startswith("not checked")]
    assert set(skipped.check) == {"customer_id not in customers", "order before signup"}


def test_extra_columns_kept_and_rows_kept(tmp_path, tiny):
    t = {k: v.copy() for k, v in tiny.items()}
    t["orders"]["coupon_code"] = ["A", None, "B", None, None, "C", None, None]
    t["orders"]["paid_at_utc"] = pd.to_datetime(t["orders"]["order_ts"]).dt.tz_localize("UTC")
    for fmt in ("parquet", "csv"):
        data = crmlab.load(write_tables(t, tmp_path / fmt, fmt=fmt))
        df = data.orders.to_pandas()
        assert len(df) == 8
        assert df["coupon_code"].tolist()[:3] == ["A", None, "B"] or \
            df["coupon_code"].fillna("").tolist()[:3] == ["A", "", "B"]
        if fmt == "parquet":  # tz-aware extra columns become naive local time as well
            assert (df["paid_at_utc"] - df["order_ts"] == pd.Timedelta(hours=9)).all()


def test_tz_aware_parquet_converted_to_local(tmp_path, tiny):
    t = {"orders": tiny["orders"].copy()}
    t["orders"]["order_ts"] = (t["orders"]["order_ts"].dt.tz_localize("Asia/Seoul")
                               .dt.tz_convert("UTC"))
    data = crmlab.load(write_tables(t, tmp_path))
    got = data.orders.order_ts.to_pandas()
    assert got.dt.tz is None
    assert got.tolist() == tiny["orders"]["order_ts"].tolist()
    # the same instants read in another zone: New York wall-clock time (DST aware)
    ny = crmlab.load(tmp_path, tz="America/New_York").orders.order_ts.to_pandas()
    expect = (tiny["orders"]["order_ts"].dt.tz_localize("Asia/Seoul")
              .dt.tz_convert("America/New_York").dt.tz_localize(None))
    assert ny.tolist() == expect.tolist()


def test_csv_offsets_converted(tmp_path, tiny):
    o = tiny["orders"].copy()
    o["order_ts"] = (o["order_ts"].dt.tz_localize("Asia/Seoul").dt.tz_convert("UTC")
                     .dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    write_tables({"orders": o}, tmp_path, fmt="csv")
    got = crmlab.load(tmp_path).orders.order_ts.to_pandas()
    assert got.tolist() == tiny["orders"]["order_ts"].tolist()


def test_meta_json_tz_and_conflict(tmp_path, tiny):
    write_tables({"orders": tiny["orders"]}, tmp_path, meta={"tz": "Europe/Berlin"})
    assert crmlab.load(tmp_path).tz == "Europe/Berlin"
    with pytest.raises(crmlab.DataContractError, match="Europe/Berlin"):
        crmlab.load(tmp_path, tz="Asia/Seoul")


def test_observation_end_argument_wins(tmp_path, tiny):
    write_tables({"orders": tiny["orders"]}, tmp_path, meta=META)
    data = crmlab.load(tmp_path, observation_end="2024-04-01")
    assert data.observation_end == pd.Timestamp("2024-04-01")
    q = data.quality.set_index(["table", "check"])["rows"]
    assert q[("orders", "order_ts at or after observation_end")] == 2  # O5 (04-10), O8 (04-15)
    late = tiny["orders"]["order_ts"] >= pd.Timestamp("2024-04-01")
    assert q[("orders", "order_ts at or after observation_end")] == late.sum()


def test_summary_and_fingerprint(tmp_path, tiny):
    path = write_tables(tiny, tmp_path / "a", meta=META)
    data = crmlab.load(path)
    s = data.summary()
    assert s["table"].tolist() == [t for t in TABLES if t in tiny]  # the tables present
    assert s.set_index("table").loc["orders", "rows"] == 8
    assert s.set_index("table").loc["orders", "first_ts"] == pd.Timestamp("2024-01-03 11:00")
    assert s.set_index("table").loc["orders", "last_ts"] == pd.Timestamp("2024-04-15 22:10")
    fp = data.fingerprint()
    assert fp == crmlab.load(path).fingerprint()
    path_b = write_tables(tiny, tmp_path / "b", meta=META)  # same bytes elsewhere: same hash
    assert crmlab.load(path_b).fingerprint() == fp
    o = tiny["orders"].copy()
    o.loc[0, "amount"] = 35001.0
    write_tables({"orders": o}, path_b)
    assert crmlab.load(path_b).fingerprint() != fp
    assert crmlab.load(path, observation_end="2024-05-01").fingerprint() != fp
    html = data._repr_html_()
    assert "orders" in html and "Asia/Seoul" in html
    meta = json.loads((path / "meta.json").read_text())
    assert meta["currency"] == "KRW"


def test_validate_command(tmp_path, tiny, capsys):
    path = write_tables(tiny, tmp_path / "good", meta=META)
    assert crmlab.data.validate_command(str(path)) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "send without consent for the channel" in out
    bad = tiny["orders"].copy()
    bad.loc[1, "order_id"] = "O1"
    write_tables({"orders": bad}, tmp_path / "bad")
    assert crmlab.data.validate_command(str(tmp_path / "bad")) == 1
    cap = capsys.readouterr()
    assert cap.out == ""  # errors go to stderr
    assert "orders.order_id: orders.parquet: duplicate key" in cap.err and "'O1'" in cap.err


def test_cli_validate(tmp_path, tiny, capsys):
    from crmlab.cli import main

    path = write_tables(tiny, tmp_path, meta=META)
    assert main(["validate", str(path)]) == 0
    assert main(["validate", str(tmp_path / "nowhere")]) == 1


def test_csv_extra_column_whose_type_changes_late(tmp_path):
    # DuckDB detects types from a sample of rows; a text value far down must not break loading
    n = 30_000
    o = pd.DataFrame({"order_id": range(n), "customer_id": 1,
                      "order_ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(range(n), "min"),
                      "amount": 1000.0, "voucher": ["7"] * (n - 1) + ["WELCOME"]})
    o.to_csv(tmp_path / "orders.csv", index=False, encoding="utf-8-sig")  # with a BOM
    df = crmlab.load(tmp_path).orders.to_pandas()
    assert len(df) == n and df["voucher"].iloc[-1] == "WELCOME"
    assert df["order_id"].iloc[-1] == n - 1


def test_campaigns_without_assignments_table(tmp_path, tiny):
    data = crmlab.load(write_tables({k: tiny[k] for k in ("orders", "campaigns")}, tmp_path))
    row = data.quality.set_index(["table", "check"]).loc[
        ("campaigns", "campaign without assignments")]
    assert row["rows"] == 0 and row["action"] == "not checked: no assignments table"


def test_connection_with_qualified_names(tmp_path, tiny):
    path = _duckdb_file({"orders": tiny["orders"]}, tmp_path / "q.duckdb")
    con = ibis.duckdb.connect()
    con.attach(str(path), name="crm", read_only=True)
    data = crmlab.load(con, tables={"orders": "crm.main.orders"})
    assert data.orders.count().to_pandas() == 8


def test_simulated_shop_loads_without_losing_rows(small_shop_dir, small_shop):
    import pyarrow.parquet as pq

    for name, t in small_shop.tables.items():
        n_file = pq.ParquetFile(small_shop_dir / f"{name}.parquet").metadata.num_rows
        assert t.count().to_pandas() == n_file, name
    meta = json.loads((small_shop_dir / "meta.json").read_text())
    assert small_shop.observation_end == pd.Timestamp(meta["observation_end"])
    assert small_shop.currency == meta.get("currency")
    assert set(small_shop.quality["table"]) == set(small_shop.tables)


def test_dict_of_dataframes(tiny):
    data = crmlab.load(tiny, observation_end="2024-07-01")
    _assert_same(_frames(data), tiny)
    assert (data.quality["rows"] == 0).all()
    fp = data.fingerprint()
    assert crmlab.load(tiny, observation_end="2024-07-01").fingerprint() == fp
    other = {**tiny, "orders": tiny["orders"].assign(amount=tiny["orders"]["amount"] + 1)}
    assert crmlab.load(other, observation_end="2024-07-01").fingerprint() != fp
    with pytest.raises(ValueError, match="'sales' is not a contract table"):
        crmlab.load({"orders": tiny["orders"], "sales": tiny["orders"]})


@pytest.mark.parametrize("dtype", [object, "string[python]", "string[pyarrow]", "category"])
def test_blank_text_ids_of_dataframes_are_missing_as_in_the_engine(dtype, monkeypatch):
    """Blank text ids of a DataFrame are made null once, in Arrow (not by a TRIM in every
    query): the loaded table and the contract error are those of the engine's own check."""
    import pyarrow as pa

    from crmlab.data import io
    from crmlab.data.sources import blank_ids_to_null

    ids = ["c1", "", " \t", "c2", " c3", "\u00a0"]  # a no-break space is not blank (as TRIM)
    orders = pd.DataFrame({
        "order_id": pd.Series([f"o{i}" for i in range(6)], dtype=dtype),
        "customer_id": pd.Series(ids, dtype=dtype),
        "order_ts": pd.to_datetime(["2024-01-0%d" % d for d in range(1, 7)]),
        "amount": [1.0] * 6})
    col, ok = blank_ids_to_null(pa.array(ids))
    assert ok and col.to_pylist() == ["c1", None, None, "c2", " c3", "\u00a0"]

    def error():
        with pytest.raises(crmlab.DataContractError) as e:
            crmlab.load({"orders": orders}, observation_end="2025-01-01")
        return str(e.value)

    once = error()
    assert "orders.customer_id" in once and "2 rows" in once
    clean = orders[orders["customer_id"].astype(str).str.strip(" \t\n\r\x0b\x0c") != ""]
    data = crmlab.load({"orders": clean}, observation_end="2025-01-01")
    got = data.orders.order_by("order_id").to_pandas()
    monkeypatch.setattr(io, "_blank_ids_once", lambda arrow, spec: (arrow, set()))
    assert error() == once  # the engine's TRIM finds the same rows
    want = crmlab.load({"orders": clean}, observation_end="2025-01-01").orders
    pd.testing.assert_frame_equal(got, want.order_by("order_id").to_pandas())


def test_blank_and_edge_regexes_agree_with_trim():
    """The CSV path finds blank values and values TRIM would change by regex: on every string
    of up to 3 characters from whitespace, look-alikes (NBSP, U+3000) and ordinary characters,
    both give what the engine's TRIM with Ibis's strip characters gives."""
    import itertools
    import string

    from crmlab.data.io import _BLANK_RE, _EDGE_RE

    alphabet = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u3000", "a", "1"]
    values = sorted({"".join(t) for n in range(4) for t in itertools.product(alphabet, repeat=n)})
    con = duckdb.connect()
    con.execute("CREATE TABLE t (s VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values] + [[None]])
    ws = string.whitespace
    blank_diff, strip_diff, n = con.execute(
        "SELECT count(*) FILTER (WHERE (trim(s, ?) = '') IS DISTINCT FROM regexp_matches(s, ?)),"
        " count(*) FILTER (WHERE trim(s, ?) IS DISTINCT FROM"
        "   (CASE WHEN regexp_matches(s, ?) THEN trim(s, ?) ELSE s END)), count(*) FROM t",
        [ws, _BLANK_RE, ws, _EDGE_RE, ws]).fetchone()
    assert n == len(values) + 1 and n > 1000
    assert blank_diff == 0 and strip_diff == 0
    # and the regexes do decide something: blanks and edges are found, others are not
    assert con.execute("SELECT regexp_matches(' \t', ?), regexp_matches(' a', ?),"
                       " regexp_matches('a ', ?), regexp_matches('a a', ?)",
                       [_BLANK_RE, _BLANK_RE, _EDGE_RE, _EDGE_RE]).fetchone() == (True, False,
                                                                                  True, False)


def test_csv_blank_values_with_spaces_load_as_before(tmp_path):
    """Blank contract values in a CSV (empty, spaces, tab) are null; numbers with spaces
    around them are parsed; an unparseable padded number is reported with its raw text."""
    o = pd.DataFrame({"order_id": ["1", "2", " 3 ", "4"], "customer_id": ["10", "10", "11", "12"],
                      "order_ts": ["2024-01-01 10:00", "2024-01-02 10:00", "  ", "2024-01-03"],
                      "amount": [" 5.5", "6 ", "\t", "7"]})
    (tmp_path / "orders.csv").write_text(o.to_csv(index=False))
    with pytest.raises(crmlab.DataContractError) as e:
        crmlab.load(tmp_path, observation_end="2024-02-01")
    assert "order_ts" in str(e.value) or "null" in str(e.value).lower()
    o["order_ts"] = ["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-02 11:00", "2024-01-03"]
    o["amount"] = [" 5.5", "6 ", "\t", "  x "]
    (tmp_path / "orders.csv").write_text(o.to_csv(index=False))
    with pytest.raises(crmlab.DataContractError) as e:
        crmlab.load(tmp_path, observation_end="2024-02-01")
    assert e.value.column == "amount" and e.value.n_rows == 1 and e.value.examples == ["  x "]
    o["amount"] = [" 5.5", "6 ", "\t", "7"]
    (tmp_path / "orders.csv").write_text(o.to_csv(index=False))
    with pytest.raises(crmlab.DataContractError) as e:
        crmlab.load(tmp_path, observation_end="2024-02-01")
    assert e.value.column == "amount" and e.value.n_rows == 1 and "null" in e.value.problem
    o["amount"] = [" 5.5", "6 ", "\n8\r", "7"]
    (tmp_path / "orders.csv").write_text(o.to_csv(index=False))
    d = crmlab.load(tmp_path, observation_end="2024-02-01")
    df = d.orders.order_by("order_ts").to_pandas()
    assert df["amount"].tolist() == [5.5, 6.0, 8.0, 7.0]
    assert df["order_id"].tolist() == ["1", "2", " 3 ", "4"]  # not all int-like: kept as text
    names = [r[0] for r in d.con.con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()]
    assert "orders" in names and "_crmlab_text_orders" not in names
