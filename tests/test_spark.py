"""The same analytics on PySpark (local mode) as on DuckDB: `make test-spark`.

Every heavy aggregation is one Ibis expression path; here it runs on Ibis's PySpark backend and
must give the DuckDB results: exactly for counts and dates, to 1e-9 relative for money. Inputs:
CDNOW (master file) and a small simulated shop, loaded through ``crmlab.load`` on a Spark
connection. Spark's session time zone is UTC so that crmlab's naive wall-clock timestamps pass
through unchanged (docs/scale-out.md).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.data.schema import CONTRACT

pytestmark = pytest.mark.spark

CDNOW_END = "1998-07-01"


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is installed by make test-spark")
    wh = tmp_path_factory.mktemp("spark-warehouse")
    session = (pyspark_sql.SparkSession.builder.master("local[2]")
               .appName("crmlab-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.warehouse.dir", str(wh))
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def spark_con(spark):
    import ibis

    return ibis.pyspark.connect(spark)


def _view(spark, spark_con, name: str, df: pd.DataFrame):
    spark.createDataFrame(df).createOrReplaceTempView(name)
    return spark_con.table(name)


@pytest.fixture(scope="module")
def cdnow(spark, spark_con):
    from crmlab.datasets import load_cdnow

    orders = load_cdnow()
    return orders, _view(spark, spark_con, "cdnow_orders", orders)


@pytest.fixture(scope="module")
def shops(spark, spark_con, small_shop_dir):
    """The small simulated shop loaded on DuckDB and on Spark (temp views, same rows)."""
    import crmlab

    duck = crmlab.load(small_shop_dir)
    names = {}
    for name in CONTRACT:  # every contract table the simulator writes
        df = pd.read_parquet(small_shop_dir / f"{name}.parquet")
        _view(spark, spark_con, f"shop_{name}", df)
        names[name] = f"shop_{name}"
    on_spark = crmlab.load(spark_con, tables=names, observation_end=duck.observation_end,
                           currency=duck.currency)
    return duck, on_spark


def assert_same(a: pd.DataFrame, b: pd.DataFrame, keys=None):
    """Equal frames: exact for integers, booleans, strings and timestamps; 1e-9 relative for floats."""
    a, b = a.copy(), b.copy()
    if keys is None:
        a, b = a.sort_index(), b.sort_index()
    else:
        a = a.sort_values(keys).reset_index(drop=True)
        b = b.sort_values(keys).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    assert list(a.index) == list(b.index)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            assert np.array_equal(np.isnan(xv), np.isnan(yv)), col
            ok = ~np.isnan(xv)
            np.testing.assert_allclose(xv[ok], yv[ok], rtol=1e-9, atol=1e-9, err_msg=col)
        elif pd.api.types.is_datetime64_any_dtype(x):
            xs, ys = pd.to_datetime(x).astype("datetime64[us]"), pd.to_datetime(y).astype("datetime64[us]")
            assert xs.isna().equals(ys.isna()), col
            assert (xs[xs.notna()].values == ys[ys.notna()].values).all(), col
        else:
            assert x.astype(object).where(x.notna(), None).tolist() == \
                y.astype(object).where(y.notna(), None).tolist(), col


# --- the data contract ----------------------------------------------------------------------

def test_contract_checks_and_ledger_match(shops):
    duck, on_spark = shops
    assert_same(duck.quality, on_spark.quality, keys=["table", "check"])
    assert on_spark.summary()["rows"].tolist() == duck.summary()["rows"].tolist()


# --- customer analytics ---------------------------------------------------------------------

@pytest.mark.parametrize("unit,cal", [("D", None), ("W", "1997-10-01"), ("M", None)])
def test_rfm_summary_and_calibration_split(cdnow, unit, cal):
    from crmlab.summaries import rfm_summary

    pdf, sdf = cdnow
    assert_same(rfm_summary(pdf, CDNOW_END, unit, calibration_end=cal),
                rfm_summary(sdf, CDNOW_END, unit, calibration_end=cal))


@pytest.mark.parametrize("kind", ["on", "on_or_after"])
def test_retention_matrix(cdnow, kind):
    from crmlab.cohorts import retention_matrix

    pdf, sdf = cdnow
    a = retention_matrix(pdf, "M", kind=kind, observation_end=CDNOW_END)
    b = retention_matrix(sdf, "M", kind=kind, observation_end=CDNOW_END)
    assert_same(a.table, b.table, keys=list(a.table.columns[:2]))


def test_cohort_curves_and_rates(shops):
    from crmlab import cohorts

    duck, on_spark = shops
    end = duck.observation_end
    a = cohorts.repurchase_rate(duck.orders, observation_end=end)
    b = cohorts.repurchase_rate(on_spark.orders, observation_end=end)
    assert_same(a.table, b.table, keys=list(a.table.columns[:2]))
    a = cohorts.ltv_curves(duck.orders, observation_end=end)
    b = cohorts.ltv_curves(on_spark.orders, observation_end=end)
    assert_same(a.table, b.table, keys=list(a.table.columns[:2]))
    a = cohorts.funnel(duck.events, duck.orders, observation_end=end)
    b = cohorts.funnel(on_spark.events, on_spark.orders, observation_end=end)
    assert_same(a.table, b.table, keys=list(a.table.columns[:2]))


def test_lifecycle_stages(shops):
    from crmlab.segments import lifecycle_stages

    duck, on_spark = shops
    as_of = duck.observation_end - pd.Timedelta(days=30)
    a = lifecycle_stages(duck, as_of).table
    b = lifecycle_stages(on_spark, as_of).table
    assert_same(a, b)


# --- survival -------------------------------------------------------------------------------

def test_survival_and_repurchase_tables(cdnow):
    from crmlab.churn import repurchase_table, survival_table

    pdf, sdf = cdnow
    assert_same(survival_table(pdf, CDNOW_END, 90), survival_table(sdf, CDNOW_END, 90))
    a, b = repurchase_table(pdf, CDNOW_END), repurchase_table(sdf, CDNOW_END)
    assert_same(a, b)


# --- experiments ----------------------------------------------------------------------------

def test_per_arm_campaign_tables(shops):
    from crmlab.campaign.table import campaign_table

    duck, on_spark = shops
    ids = duck.campaigns.select("campaign_id").to_pandas()["campaign_id"].tolist()
    assert ids
    for cid in ids:
        assert_same(campaign_table(duck, cid), campaign_table(on_spark, cid))


def test_load_accepts_a_spark_session(spark, shops):
    import crmlab

    duck, _ = shops
    names = {n: f"shop_{n}" for n in CONTRACT}
    data = crmlab.load(spark, tables=names, observation_end=duck.observation_end)
    assert data.con.name == "pyspark"
    assert data.summary()["rows"].tolist() == duck.summary()["rows"].tolist()
