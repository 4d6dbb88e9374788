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
