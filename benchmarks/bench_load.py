"""Loading benchmark: ``crmlab.load`` + validation of a Parquet order log.

Target: load and validate 10M orders from Parquet in ≤ 15 s with peak RSS ≤ 3 GiB.

Usage::

    python benchmarks/bench_load.py DIR       # DIR holds orders.parquet (and optionally more tables)

The timed part is everything :func:`crmlab.load` does — registering the Parquet file in DuckDB,
the contract checks (types, null keys, duplicate ``order_id``), the data-quality ledger and the
default ``observation_end`` — plus ``CRMData.summary()``. The rows stay in DuckDB; nothing is
materialised in pandas.
"""
from __future__ import annotations

import json
import resource
import sys
import time


def bench_load(orders_parquet_dir) -> dict:
    """Time ``crmlab.load(orders_parquet_dir)`` and ``summary()``; return seconds and counts."""
    import crmlab

    t0 = time.perf_counter()
    data = crmlab.load(orders_parquet_dir)
    summary = data.summary()
    seconds = time.perf_counter() - t0
    rows = {r.table: int(r.rows) for r in summary.itertuples()}
    flagged = data.quality[data.quality["rows"] > 0]
    return {
        "seconds": seconds,
        "rows": rows,
        "ledger_checks": int(len(data.quality)),
        "ledger_flagged": {f"{r.table}: {r.check}": int(r.rows) for r in flagged.itertuples()},
        "observation_end": str(data.observation_end),
        "self_peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


if __name__ == "__main__":
    print(json.dumps(bench_load(sys.argv[1]), indent=2))
