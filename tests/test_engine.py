"""Every input form gives identical results (crmlab._engine).

One small simulated shop is handed to each heavy entry point in every form an analyst has it
in — pandas with integer, object-string, ``string`` (python and pyarrow storage) and
categorical ids, naive (ns / us) and tz-aware timestamps, a CSV, Parquet or DuckDB file, an Ibis
table — and to ``crmlab.load`` from a dict of DataFrames, a directory of CSV or Parquet files, a
DuckDB file and an Ibis connection. The results must equal those of the plain integer-id
DataFrame, value for value (ids compared as integers).
"""
from __future__ import annotations

import gc

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import crmlab
from crmlab import _engine
from crmlab.campaign.table import campaign_table
from crmlab.churn import survival_table
from crmlab.cohorts import retention_matrix
from crmlab.data.errors import DataContractError
from crmlab.data.examples import write_tables
from crmlab.data.simulate import simulate_shop
from crmlab.segments import lifecycle_stages
from crmlab.summaries import rfm_summary

END = "2025-01-01"
CAL = "2024-09-01"
TZ = "Asia/Seoul"


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(n_customers=500, months=12, seed=5)


def _text_ids(df: pd.DataFrame, dtype) -> pd.DataFrame:
    out = df.copy()
    for c in ("customer_id", "order_id"):
        if c in out:
            out[c] = out[c].astype(str).astype(dtype)
    return out


def _order_forms(orders: pd.DataFrame, tmp) -> dict:
    """The orders table in every input form (the keys name them)."""
    ns = orders.assign(order_ts=orders["order_ts"].astype("datetime64[ns]"))
    orders.to_csv(tmp / "orders.csv", index=False)
    orders.to_parquet(tmp / "orders.parquet", index=False)
    with duckdb.connect(str(tmp / "shop.duckdb")) as con:
        con.register("o", orders)
        con.execute("CREATE TABLE orders AS SELECT * FROM o")
    return {
        "int ids, us": orders,
        "int ids, ns": ns,
        "object ids": _text_ids(orders, object),
        "string[python] ids": _text_ids(orders, "string[python]"),
        "string[pyarrow] ids": _text_ids(orders, "string[pyarrow]"),
        "categorical ids": _text_ids(orders, "category"),
        "tz-aware": orders.assign(order_ts=orders["order_ts"].dt.tz_localize(TZ)),
        "csv file": str(tmp / "orders.csv"),
        "parquet file": tmp / "orders.parquet",
        "duckdb file": str(tmp / "shop.duckdb"),
        "ibis table": ibis.duckdb.connect().read_parquet(str(tmp / "orders.parquet")),
    }


def _int_index(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.index = out.index.astype(str).astype("int64")
    return out.sort_index()


def _same(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    pd.testing.assert_frame_equal(_int_index(got), _int_index(want), check_exact=False,
                                  rtol=1e-12, obj=what)


OPERATIONS = {
    "rfm_summary": lambda o: rfm_summary(o, END, "D", time_scaler=7),
    "calibration split": lambda o: rfm_summary(o, END, "W", calibration_end=CAL),
    "retention_matrix on": lambda o: retention_matrix(o, "M", "on", observation_end=END).table
    .set_index(["cohort", "period_number"]),
    "retention_matrix on_or_after": lambda o: retention_matrix(
        o, "M", "on_or_after", observation_end=END).table.set_index(["cohort", "period_number"]),
    "survival_table": lambda o: survival_table(o, END, churn_after_days=60),
    "lifecycle_stages": lambda o: lifecycle_stages(o, END, vip_top_share=0.2).table,
}


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_every_orders_form_gives_identical_results(shop, tmp_path, op):
    orders = shop.tables["orders"]
    forms = _order_forms(orders, tmp_path)
    run = OPERATIONS[op]
    want = run(forms["int ids, us"])
    assert len(want) > 0
    for form, value in forms.items():
        got = run(value)
        if op.startswith("retention"):  # indexed by cohort: no ids in it
            pd.testing.assert_frame_equal(got, want, obj=f"{op} / {form}")
        else:
            _same(got, want, f"{op} / {form}")
            if "exclusions" in want.attrs:
                assert got.attrs["exclusions"] == want.attrs["exclusions"], form


def _load_forms(tables: dict, tmp) -> dict:
    meta = {"tz": TZ, "observation_end": END}
    write_tables(tables, tmp / "pq", "parquet", meta)
    write_tables(tables, tmp / "csv", "csv", meta)
    path = tmp / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        for name, df in tables.items():
            con.register("t", df)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM t')
            con.unregister("t")
    ibis_con = ibis.duckdb.connect()
    for name in tables:
        ibis_con.read_parquet(str(tmp / "pq" / f"{name}.parquet"), table_name=name)

    def text(dtype):
        return {n: _text_ids(df, dtype) for n, df in tables.items()}

    aware = {n: df.assign(**{c: df[c].dt.tz_localize(TZ) for c in df.columns
                             if df[c].dtype.kind == "M"}) for n, df in tables.items()}
    return {
        "dict, int ids": tables,
        "dict, object ids": text(object),
        "dict, string[pyarrow] ids": text("string[pyarrow]"),
        "dict, categorical ids": text("category"),
        "dict, tz-aware": aware,
        "parquet dir": tmp / "pq",
        "csv dir": tmp / "csv",
        "duckdb file": path,
        "ibis connection": ibis_con,
    }


def test_load_and_campaign_table_identical_for_every_form(shop, tmp_path):
    forms = _load_forms(shop.tables, tmp_path)
    campaigns = shop.tables["campaigns"]["campaign_id"].tolist()

    def run(source):
        data = crmlab.load(source, tz=TZ, observation_end=END)
        tabs = {c: campaign_table(data, c).set_index("customer_id") for c in campaigns}
        return data, tabs

    want_data, want = run(forms["dict, int ids"])
    assert sum(len(t) for t in want.values()) > 0
    for form, source in forms.items():
        data, got = run(source)
        pd.testing.assert_frame_equal(data.quality, want_data.quality, obj=form)
        assert data.summary()["rows"].tolist() == want_data.summary()["rows"].tolist(), form
        for c in campaigns:
            _same(got[c], want[c], f"campaign_table {c} / {form}")


def test_to_arrow_types_without_inference():
    df = pd.DataFrame({
        "obj": ["a", None, "c"],
        "cat": pd.Categorical(["u", None, "u"]),
        "cat_int": pd.Categorical([3, 1, 3]),
        "aware": pd.to_datetime(["2024-03-01 09:30"] * 3).tz_localize(TZ),
        "ns": pd.to_datetime(["2024-03-01 09:30:00.123456789"] * 3),
        "nullable": pd.array([1, None, 3], dtype="Int64"),
        "spa": pd.array(["x", None, "z"], dtype="string[pyarrow]"),
        "amount": [1.5, np.nan, 2.0],
        "obj_int": pd.Series([1, 2, None], dtype=object),
        "obj_nan": ["a", np.nan, "c"],  # what read_csv gives for a blank
        "spy": pd.array(["x", pd.NA, "z"], dtype="string[python]"),
        "ns_nat": pd.to_datetime(["2024-03-01 09:30:00.000001999", None, "1969-12-31 23:59:59"],
                                 format="ISO8601"),
    })
    t = _engine.to_arrow(df, "orders")
    assert t.schema.field("obj").type == pa.string()
    assert pa.types.is_dictionary(t.schema.field("cat").type)
    assert t.column("cat").to_pylist() == ["u", None, "u"]
    assert t.column("cat_int").to_pylist() == [3, 1, 3]
    # tz-aware: wall-clock time in its own zone, naive; ns truncated to us
    assert t.schema.field("aware").type == pa.timestamp("us")
    assert t.column("aware")[0].as_py() == pd.Timestamp("2024-03-01 09:30").to_pydatetime()
    assert t.column("ns")[0].as_py().microsecond == 123456
    assert t.column("nullable").to_pylist() == [1, None, 3]
    assert t.column("amount").null_count == 1  # NaN is missing
    assert t.column("obj_int").to_pylist() == [1, 2, None]
    assert t.column("obj_nan").to_pylist() == ["a", None, "c"]
    assert t.schema.field("spy").type == pa.string()
    assert t.column("spy").to_pylist() == ["x", None, "z"]
    assert t.column("ns_nat").to_pylist() == [pd.Timestamp("2024-03-01 09:30:00.000001"), None,
                                              pd.Timestamp("1969-12-31 23:59:59")]
    # load keeps tz-aware columns aware (it converts them to the data's zone itself)
    kept = _engine.to_arrow(df[["aware"]], "orders", localize=False)
    assert kept.schema.field("aware").type == pa.timestamp("us", tz="UTC")
    assert kept.column("aware")[0].as_py().hour == 0  # 09:30 in Seoul is 00:30 UTC


def test_mixed_object_column_is_a_clear_error():
    df = pd.DataFrame({"customer_id": ["a", 2, "c", 4.5], "order_ts": pd.Timestamp("2024-01-01"),
                       "amount": 1.0})
    with pytest.raises(DataContractError, match=r"orders\.customer_id: an object column mixing "
                                                r"value types .* 2 rows; examples: 2, 4\.5"):
        rfm_summary(df, END)


def test_only_the_columns_read_are_converted(shop, monkeypatch):
    seen = []
    real = _engine.to_arrow
    monkeypatch.setattr(_engine, "to_arrow", lambda df, *a, **k: seen.append(
        list(df.columns) if k.get("columns") is None else list(k["columns"])) or real(df, *a, **k))
    orders = shop.tables["orders"].assign(note="x")
    rfm_summary(orders, END)
    assert seen[-1] == ["customer_id", "order_ts", "amount", "is_refund"]
    seen.clear()  # text ids: the id column is coded apart, the others converted
    rfm_summary(orders.assign(customer_id=orders["customer_id"].astype(str)), END)
    assert seen == [["order_ts", "amount", "is_refund"]]
    seen.clear()
    survival_table(orders, END, churn_after_days=90)
    assert seen and all("note" not in cols for cols in seen)
    with pytest.raises(DataContractError, match="missing column.*the table has order_id, "
                                                "customer_id, order_ts, quantity"):
        rfm_summary(orders.drop(columns="amount"), END)


def test_memtable_released_from_the_engine_when_unused(shop):
    con = ibis.get_backend()

    def views():
        return {r[0] for r in con.con.execute("SHOW TABLES").fetchall()}

    before = views()
    t = _engine.as_table(shop.tables["orders"], "orders")
    assert int(t.count().to_pandas()) == len(shop.tables["orders"])
    assert views() - before
    del t
    gc.collect()
    assert views() - before == set()


def test_unknown_input_and_missing_file():
    with pytest.raises(TypeError, match="orders: expected a pandas DataFrame, an Ibis table or "
                                        "a path"):
        _engine.as_table(42, "orders")
    with pytest.raises(FileNotFoundError, match="orders: .*nope.parquet does not exist"):
        rfm_summary("nope.parquet", END)


@pytest.mark.parametrize("dtype", [object, "string[python]", "string[pyarrow]", "category"])
def test_coded_ids_keep_values_order_and_nulls(dtype):
    """Text / categorical ids reach the engine as int32 codes: the result holds the original
    values, sorted by value, and a missing id is still reported."""
    ids = ["b", "a10", "a9", "b", "é", "a10"]
    df = pd.DataFrame({"customer_id": pd.Series(ids, dtype=dtype),
                       "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-01",
                                                   "2024-03-01", "2024-01-05", "2024-04-01"]),
                       "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    if dtype == "category":  # unused categories, not in sorted order
        df["customer_id"] = df["customer_id"].cat.set_categories(["z", "é", "b", "a9", "a10"])
    t, codes = _engine.as_coded_table(df, "customer_id", "orders")
    assert codes is not None and t.schema()["customer_id"].is_int32()
    got = rfm_summary(df, END)
    assert got.index.tolist() == ["a10", "a9", "b", "é"]
    assert got["frequency"].tolist() == [1, 0, 1, 0]
    assert got.loc["b", "recency"] == 60.0 and got.loc["a10", "monetary_value"] == 6.0
    df.loc[2, "customer_id"] = None
    with pytest.raises(DataContractError, match=r"orders\.customer_id: missing \(null\) in 1 of 6"):
        rfm_summary(df, END)


def test_coded_ids_only_for_text_and_categorical(shop):
    orders = shop.tables["orders"]
    t, codes = _engine.as_coded_table(orders, "customer_id", "orders")
    assert codes is None and t.schema()["customer_id"].is_int64()
    mixed = orders.assign(customer_id=orders["customer_id"].astype(object))
    mixed.loc[0, "customer_id"] = "x"  # not only text: read (and refused) as before
    with pytest.raises(DataContractError, match="mixing value types"):
        rfm_summary(mixed, END)


# --- shared codes: the coded path gives exactly what the ids themselves give --------------------
_TEXT_FORMS = {"object": object, "string[python]": "string[python]",
               "string[pyarrow]": "string[pyarrow]", "categorical": "category"}


def _one_campaign(shop) -> pd.DataFrame:
    a = shop.tables["assignments"]
    return a[a["campaign_id"] == a["campaign_id"].iloc[0]].reset_index(drop=True)


MULTI = {  # entry points joining several tables on customer_id
    "survival_table, signup + every covariate": lambda t: survival_table(
        t["orders"], END, churn_after_days=60, start="signup", covariates=True,
        customers=t["customers"], assignments=t["assignments"], events=t["events"]),
    "survival_table, assignment + horizon": lambda t: survival_table(
        t["orders"], END, churn_after_days=60, start="assignment", horizon_days=120,
        assignments=t["campaign"], covariates=["rfm", "customer"], customers=t["customers"]),
    "lifecycle_stages, orders + customers + events": lambda t: lifecycle_stages(
        {"orders": t["orders"], "customers": t["customers"], "events": t["events"]}, END,
        vip_top_share=0.2).table,
}


def _plain(monkeypatch):
    """Run without codes (ids handed to the engine as they are): the reference."""
    monkeypatch.setattr(_engine, "_raw_codes", lambda s: None)


def _coded_calls(monkeypatch) -> list:
    calls, real = [], _engine._shared_codes
    monkeypatch.setattr(_engine, "_shared_codes", lambda raw: calls.append(len(raw)) or real(raw))
    return calls


def _exact(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True, obj=what)  # index dtype too
    assert got.attrs == want.attrs, what


@pytest.mark.parametrize("form", list(_TEXT_FORMS))
def test_codes_give_exactly_the_results_of_the_ids(shop, monkeypatch, form):
    """For every text / categorical id form, the coded path (survival_table,
    lifecycle_stages; rfm_summary in the tests above) equals the path without codes:
    values, index values and dtype, row order — on one table and on tables joined on
    customer_id (coded together), with a missing id among them."""
    orders = _text_ids(shop.tables["orders"], _TEXT_FORMS[form])
    with_null = orders.copy()
    with_null.loc[3, "customer_id"] = None  # a row without id (counted, or grouped as missing)
    tables = {n: _text_ids(shop.tables[n], _TEXT_FORMS[form])
              for n in ("orders", "customers", "events", "assignments")}
    tables["campaign"] = _text_ids(_one_campaign(shop), _TEXT_FORMS[form])
    single = {
        "survival_table": lambda: survival_table(orders, END, churn_after_days=60),
        "survival_table, missing id": lambda: survival_table(with_null, END, churn_after_days=60),
        "lifecycle_stages": lambda: lifecycle_stages(orders, END, vip_top_share=0.2).table,
        "lifecycle_stages, missing id": lambda: lifecycle_stages(with_null, END).table,
        **{k: (lambda f=f: f(tables)) for k, f in MULTI.items()},
    }
    calls = _coded_calls(monkeypatch)
    got = {k: run() for k, run in single.items()}
    assert len(calls) == len(single)  # every one of them ran on codes
    assert max(calls) == 4  # signup + every covariate: orders, customers, messages, events
    _plain(monkeypatch)
    for k, run in single.items():
        _exact(got[k], run(), f"{k} / {form}")


def test_codes_shared_across_id_dtypes_and_not_with_integer_ids(shop, monkeypatch):
    """Tables whose text ids come in different pandas dtypes share one set of codes; a table
    with integer ids among them (or a file) leaves every table as it is."""
    t = {"orders": _text_ids(shop.tables["orders"], object),
         "customers": _text_ids(shop.tables["customers"], "string[pyarrow]"),
         "events": _text_ids(shop.tables["events"], "category")}
    calls = _coded_calls(monkeypatch)
    got = lifecycle_stages(t, END).table
    assert calls == [3]
    coded, ids = _engine.as_coded_tables(
        {"orders": t["orders"], "customers": shop.tables["customers"]}, "customer_id")
    assert ids is None and coded["orders"].schema()["customer_id"].is_string()
    assert coded["customers"].schema()["customer_id"].is_int64()
    _plain(monkeypatch)
    _exact(got, lifecycle_stages(t, END).table, "lifecycle_stages, mixed text dtypes")
