"""crmlab's side of the by-input-form benchmark: one operation on one input form, timed.

The input is built before the clock starts (a DataFrame in the asked form, or the path of a
file); the timed span is the whole call — converting a DataFrame for the engine, parsing a CSV,
scanning Parquet — as an analyst experiences it. Memory: the peak resident set size during the
call above the resident size just before it (the kernel's high-water mark is reset first), next
to the DataFrame's own size (``memory_usage(deep=True)``).

The engine is started (backend imports, connections) before the clock, for every form alike.

Usage::

    python benchmarks/bench_forms.py ORDERS_DIR OPERATION FORM
"""
from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import forms  # noqa: E402

OBSERVATION_END = "2026-01-01"
CALIBRATION_END = "2025-01-01"
OPERATIONS = ["rfm_summary", "calibration/holdout split", "retention_matrix", "survival_table",
              "lifecycle_stages", "crmlab.load + validation"]


def _input(orders_dir: str, form: str, op: str):
    if form in forms.PANDAS_FORMS:
        df = forms.pandas_orders(orders_dir, form)
        return ({"orders": df} if op == "crmlab.load + validation" else df), df
    if op == "crmlab.load + validation":
        if form == "parquet":
            return orders_dir, None
        if form == "csv":
            return str(forms.csv_file(orders_dir).parent), None
        if form == "duckdb":
            return str(forms.duckdb_file(orders_dir)), None
    if form == "parquet":
        return str(forms.orders_file(orders_dir)), None
    if form == "csv":
        return str(forms.csv_file(orders_dir)), None
    if form == "duckdb":
        return str(forms.duckdb_file(orders_dir)), None
    if form == "ibis":
        import ibis

        con = ibis.duckdb.connect()
        con.raw_sql("SET enable_progress_bar = false")
        t = con.create_table("orders", con.read_parquet(str(forms.orders_file(orders_dir))))
        return (con if op == "crmlab.load + validation" else t), None
    raise ValueError(f"unknown form {form!r}")


def _run(op: str, x):
    import crmlab
    from crmlab.churn import survival_table
    from crmlab.cohorts import retention_matrix
    from crmlab.segments import lifecycle_stages
    from crmlab.summaries import rfm_summary

    if op == "rfm_summary":
        out = rfm_summary(x, OBSERVATION_END, "D")
        return {"rows": len(out), "frequency_sum": float(out["frequency"].sum())}
    if op == "calibration/holdout split":
        out = rfm_summary(x, OBSERVATION_END, "D", calibration_end=CALIBRATION_END)
        return {"rows": len(out), "frequency_holdout_sum": float(out["frequency_holdout"].sum())}
    if op == "retention_matrix":
        rm = retention_matrix(x, "M", "on", observation_end=OBSERVATION_END)
        return {"customers": int(rm.n_customers), "cells": len(rm.table)}
    if op == "survival_table":
        st = survival_table(x, OBSERVATION_END, churn_after_days=90)
        return {"rows": len(st), "churned": int(st["churned"].sum())}
    if op == "lifecycle_stages":
        ls = lifecycle_stages(x, OBSERVATION_END)
        return {"rows": len(ls.table), "vip": int((ls.table["stage"] == "VIP").sum())}
    if op == "crmlab.load + validation":
        data = crmlab.load(x, tz=forms.TZ, observation_end=OBSERVATION_END)
        return {"rows": int(data.orders.count().to_pandas()),
                "ledger_rows": int(data.quality["rows"].sum())}
    raise ValueError(f"unknown operation {op!r}")


def _rss_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def bench_form(orders_dir: str, op: str, form: str) -> dict:
    """Seconds (and extra peak memory) of ``op`` on the order log in ``form``."""
    import crmlab.churn  # noqa: F401  imports are not timed
    import crmlab.cohorts  # noqa: F401
    import crmlab.segments  # noqa: F401
    import crmlab.summaries  # noqa: F401

    import ibis
    import pyarrow as pa

    from crmlab import _engine

    # one-off engine start-up (backend imports, connections) is not the input form's cost
    ibis.memtable(pa.table({"x": [1]})).count().to_pandas()
    _engine.connection().raw_sql("SELECT 1")
    x, df = _input(orders_dir, form, op)
    input_bytes = int(df.memory_usage(deep=True).sum()) if df is not None else None
    gc.collect()
    try:  # reset the peak-RSS high-water mark (Linux >= 4.0)
        Path("/proc/self/clear_refs").write_text("5")
        can_reset = True
    except OSError:
        can_reset = False
    before = _rss_bytes("VmRSS")
    t0 = time.perf_counter()
    details = _run(op, x)
    seconds = time.perf_counter() - t0
    out = {"seconds": seconds, **details}
    if can_reset:
        out["extra_peak_gib"] = max(0, _rss_bytes("VmHWM") - before) / 1024**3
    if input_bytes is not None:
        out["input_gib"] = input_bytes / 1024**3
    return out


if __name__ == "__main__":
    print(json.dumps(bench_form(*sys.argv[1:4]), indent=1))
