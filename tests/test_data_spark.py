"""The loader's checks and ledger are plain Ibis: the same code runs on PySpark.

Run with ``make test-spark`` (needs pyspark and Java)."""
from __future__ import annotations

import pytest

import crmlab
from crmlab.data.examples import tiny_tables, write_tables

pytestmark = pytest.mark.spark

TABLES = ["customers", "orders", "events", "campaigns", "assignments"]


@pytest.fixture(scope="module")
def spark():
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (pyspark_sql.SparkSession.builder.master("local[1]")
               .config("spark.sql.session.timeZone", "Asia/Seoul")
               .config("spark.ui.enabled", "false").getOrCreate())
    yield session
    session.stop()


def _spark_con(spark, directory, prefix):
    import ibis

    con = ibis.pyspark.connect(spark)
    for n in TABLES:
        con.read_parquet(str(directory / f"{n}.parquet"), table_name=f"{prefix}_{n}")
    return con, {n: f"{prefix}_{n}" for n in TABLES}


def test_spark_matches_duckdb(spark, tmp_path):
    from test_data_quality import EXPECTED, _dirty

    for prefix, tables, expected in (("clean", tiny_tables(), None), ("dirty", _dirty(), EXPECTED)):
        d = write_tables(tables, tmp_path / prefix)
        con, names = _spark_con(spark, d, prefix)
        data = crmlab.load(con, tables=names, observation_end="2024-07-01")
        local = crmlab.load(d, observation_end="2024-07-01")
        pd_testing = pytest.importorskip("pandas").testing
        pd_testing.assert_frame_equal(data.quality, local.quality)
        pd_testing.assert_frame_equal(data.summary(), local.summary())
        if expected:
            assert data.quality.set_index(["table", "check"])["rows"].to_dict() == expected


def test_spark_hard_error(spark, tmp_path):
    t = tiny_tables()
    t["orders"].loc[[1, 2], "order_id"] = "O1"
    con, names = _spark_con(spark, write_tables(t, tmp_path), "dup")
    with pytest.raises(crmlab.DataContractError) as exc:
        crmlab.load(con, tables=names)
    assert str(exc.value).startswith("orders.order_id: duplicate key (1 value repeated) — 3 rows")


def test_spark_consent_at_send_matches_duckdb(spark, tmp_path):
    """consent_at_send (joins and conditional aggregates) gives DuckDB's answer on Spark."""
    import ibis
    import pandas as pd
    from test_data_consent import AT_SEND, _judged, _shop, _violations

    d = write_tables(_shop(), tmp_path / "consent")
    con = ibis.pyspark.connect(spark)
    names = {}
    for n in ("customers", "orders", "campaigns", "assignments", "consent_events"):
        con.read_parquet(str(d / f"{n}.parquet"), table_name=f"consent_{n}")
        names[n] = f"consent_{n}"
    data = crmlab.load(con, tables=names, observation_end="2024-07-01")
    local = crmlab.load(d, observation_end="2024-07-01")
    pd.testing.assert_frame_equal(data.quality, local.quality)
    on_spark = _judged(data).sort_values(["campaign_id", "customer_id"], ignore_index=True)
    assert _violations(on_spark) == AT_SEND
    in_duckdb = _judged(local).sort_values(["campaign_id", "customer_id"], ignore_index=True)
    cols = ["campaign_id", "customer_id", "consent_ok", "night_consent_ok"]
    pd.testing.assert_frame_equal(on_spark[cols].astype({"consent_ok": bool,
                                                         "night_consent_ok": bool}),
                                  in_duckdb[cols].astype({"consent_ok": bool,
                                                          "night_consent_ok": bool}))
