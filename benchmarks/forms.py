"""The input forms of the by-input-form benchmark, built from one cached Parquet order log.

Shared by crmlab's side (benchmarks/bench_forms.py) and the peers' side (benchmarks/peers.py,
in benchmarks/.peers-venv): the pandas forms are built by the same code in both, so lifetimes
and pymc-marketing get the same DataFrames as crmlab. Only pandas and pyarrow are needed for
the pandas forms; the file forms are written once next to the Parquet file (by DuckDB).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

# (key, label, kind): kind "pandas" forms go to the peers too
FORMS = [
    ("parquet", "Parquet file through the engine (reference)", "engine"),
    ("pandas-int", "pandas, integer ids", "pandas"),
    ("pandas-object", "pandas, object-string ids", "pandas"),
    ("pandas-string-python", "pandas, string[python] ids", "pandas"),
    ("pandas-string-pyarrow", "pandas, string[pyarrow] ids", "pandas"),
    ("pandas-categorical", "pandas, categorical ids", "pandas"),
    ("pandas-tz-aware", "pandas, tz-aware timestamps", "pandas"),
    ("csv", "CSV file", "file"),
    ("duckdb", "DuckDB file", "file"),
    ("ibis", "Ibis table (DuckDB, in memory)", "engine"),
]
LABELS = {k: label for k, label, _ in FORMS}
PANDAS_FORMS = [k for k, _, kind in FORMS if kind == "pandas"]
TZ = "Asia/Seoul"
COLUMNS = ["order_id", "customer_id", "order_ts", "amount", "is_refund"]


def orders_file(orders_dir: str | Path) -> Path:
    return Path(orders_dir) / "orders.parquet"


def pandas_orders(orders_dir: str | Path, form: str) -> pd.DataFrame:
    """The order log as a DataFrame in one of the pandas forms (ids as an export gives them).

    The text forms hold both ids as text (what ``pd.read_csv(..., dtype=str)`` of an order
    export gives); timestamps are naive nanoseconds (what ``pd.to_datetime`` gives) except in
    the tz-aware form, which holds the same wall-clock times in Asia/Seoul.
    """
    df = pd.read_parquet(orders_file(orders_dir))
    df = df[[c for c in COLUMNS if c in df.columns]]
    df["order_ts"] = df["order_ts"].astype("datetime64[ns]")
    if form == "pandas-int":
        return df
    if form == "pandas-tz-aware":
        df["order_ts"] = df["order_ts"].dt.tz_localize(TZ)
        return df
    text = {"pandas-object": object, "pandas-string-python": "string[python]",
            "pandas-string-pyarrow": "string[pyarrow]", "pandas-categorical": "category"}[form]
    for c in ("customer_id", "order_id"):
        if form == "pandas-categorical" and c == "order_id":
            df[c] = df[c].astype(str).astype(object)  # a categorical of unique values: no
        else:
            df[c] = df[c].astype(str).astype(text)
    return df


def csv_file(orders_dir: str | Path) -> Path:
    """The order log as CSV (written once by DuckDB), in ``csv/`` of the log's directory."""
    out = Path(orders_dir) / "csv" / "orders.csv"  # its own directory: crmlab.load reads it
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        tmp = out.with_suffix(".csv.tmp")
        _quiet_duckdb().sql(f"COPY (SELECT * FROM read_parquet('{orders_file(orders_dir)}')) "
                            f"TO '{tmp}' (HEADER, DELIMITER ',')")
        tmp.rename(out)
    return out


def duckdb_file(orders_dir: str | Path) -> Path:
    """The order log as table ``orders`` of a DuckDB database file (written once)."""
    out = Path(orders_dir) / "orders.duckdb"
    if not out.exists():
        import duckdb

        tmp = out.with_suffix(".tmp.duckdb")
        tmp.unlink(missing_ok=True)
        with duckdb.connect(str(tmp)) as con:
            con.execute("SET enable_progress_bar = false")
            con.execute(f"CREATE TABLE orders AS SELECT * FROM read_parquet('{orders_file(orders_dir)}')")
        tmp.rename(out)
    return out


def _quiet_duckdb():
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def prepare(orders_dir: str | Path) -> None:
    """Write the file forms (before anything is timed)."""
    csv_file(orders_dir)
    duckdb_file(orders_dir)
