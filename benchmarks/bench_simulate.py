"""Simulator benchmark: write the demo shop (50,000 customers × 24 months) to Parquet.

Target: ≤ 30 s on the project's reference machine (2 cores).

Usage::

    python benchmarks/bench_simulate.py                 # 50,000 customers, 24 months
    python benchmarks/bench_simulate.py 200000 24       # another size

The timed part is :func:`crmlab.data.simulate.simulate` end to end: the customer base, the six
campaigns, every assigned customer's potential outcomes under every arm with the Cox fits of
the ground truth, and writing the six Parquet tables and the two JSON files. Imports (numpy,
pandas, pyarrow, lifelines) happen before the clock starts.
"""
from __future__ import annotations

import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def bench_simulate(n_customers: int = 50_000, months: int = 24, seed: int = 0) -> dict:
    """Time ``simulate(n_customers, months, seed)`` into a temporary directory.

    Returns
    -------
    dict
        ``seconds`` (wall clock: the simulation and the writing), ``cpu_seconds`` (this
        process's CPU time over the same span; the two differ when the machine is busy),
        ``rows`` per table, ``bytes`` written and the process's peak RSS in GiB.
    """
    import lifelines  # noqa: F401  (imported by the ground truth; keep it out of the timing)
    import pyarrow.parquet as pq

    from crmlab.data.simulate import simulate

    out = Path(tempfile.mkdtemp(prefix="crmlab-bench-simulate-"))
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        simulate(out, n_customers=n_customers, months=months, seed=seed)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(out.glob("*.parquet"))}
        size = sum(p.stat().st_size for p in out.iterdir())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "rows_total": int(sum(rows.values())),
        "bytes": int(size),
        "n_customers": n_customers,
        "months": months,
        "self_peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(bench_simulate(*args), indent=2))
