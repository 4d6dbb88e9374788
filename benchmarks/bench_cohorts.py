"""Cohort benchmarks: ``crmlab.cohorts.retention_matrix`` on a Parquet order log.

Target (customer analytics): ``retention_matrix`` on 10M orders in ≤ 3 s on the reference machine.

Usage::

    python benchmarks/bench_cohorts.py                 # 10M orders / 1M customers in /tmp
    python benchmarks/bench_cohorts.py 1000000 100000  # another size

The timed part is the whole call — reading the Parquet file through DuckDB, the per-customer
and per-cohort aggregation in the engine and the pandas post-processing — not the data
generation.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OBSERVATION_END = "2026-01-01"  # exclusive end of the generated two-year logs


def generate_orders(path: str | Path, n_orders: int = 10_000_000, n_customers: int = 1_000_000,
                    seed: int = 0) -> Path:
    """Write a synthetic two-year order log (numpy → Parquet); returns the path.

    Each customer gets a first purchase uniform over the first year and a Gamma-distributed
    share of the remaining orders spread uniformly between the first purchase and the end of the
    two-year window (so there are one-time buyers and heavy buyers). About 2% of rows are
    refunds (negative amounts). Same arguments → identical file.
    """
    path = Path(path)
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    span = 731 * 86400
    first = rng.integers(0, 365 * 86400, size=n_customers)
    weight = rng.gamma(0.6, 1.0, size=n_customers)
    extra = rng.multinomial(n_orders - n_customers, weight / weight.sum())
    cust = np.repeat(np.arange(1, n_customers + 1, dtype=np.int64), extra + 1)
    base = np.repeat(first, extra + 1)
    is_first = np.zeros(cust.size, dtype=bool)
    is_first[np.concatenate([[0], np.cumsum(extra + 1)[:-1]])] = True
    offset = (rng.random(cust.size) * (span - base)).astype(np.int64)
    offset[is_first] = 0
    ts = start + (base + offset).astype("timedelta64[s]")
    amount = np.round(rng.gamma(2.0, 20_000.0, size=cust.size), 0)
    refund = (rng.random(cust.size) < 0.02) & ~is_first
    amount[refund] = -amount[refund]
    order = rng.permutation(cust.size)
    tbl = pa.table({
        "order_id": np.arange(1, cust.size + 1, dtype=np.int64),
        "customer_id": cust[order],
        "order_ts": pa.array(ts[order].astype("datetime64[us]")),
        "amount": amount[order],
        "is_refund": refund[order],
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(tbl, path, row_group_size=1_000_000)
    return path


def bench_retention_matrix(orders_parquet: str | Path | None = None, *,
                           orders_dir: str | Path | None = None, memory_limit: str | None = None,
                           period: str = "M", kinds: tuple[str, ...] = ("on", "on_or_after"),
                           repeat: int = 1) -> dict:
    """Time ``retention_matrix`` on a Parquet order log read through DuckDB.

    Parameters
    ----------
    orders_parquet : path, optional
        The Parquet file; or ``orders_dir`` holding ``orders.parquet`` (the ``make bench``
        harness's convention).
    memory_limit : str, optional
        DuckDB memory limit (e.g. ``"6GB"``) for larger-than-memory runs.
    period, kinds : the cohort period and the retention kinds to time (one call each).
    repeat : int
        Calls per kind; the best is kept.

    Returns
    -------
    dict with ``seconds`` (the slowest kind's best wall-clock time: each call must meet the
    target), ``seconds_<kind>`` and ``cpu_seconds_<kind>`` (process CPU time of that call, all
    DuckDB threads), ``customers`` and ``cells``.
    """
    import ibis

    from crmlab.cohorts import retention_matrix

    if orders_parquet is None:
        if orders_dir is None:
            raise ValueError("give orders_parquet or orders_dir")
        orders_parquet = Path(orders_dir) / "orders.parquet"
    out: dict = {}
    for kind in kinds:
        best, best_cpu = float("inf"), float("nan")
        for _ in range(max(1, int(repeat))):
            con = ibis.duckdb.connect(**({"memory_limit": memory_limit} if memory_limit else {}))
            con.raw_sql("SET enable_progress_bar = false")
            t0, c0 = time.perf_counter(), time.process_time()
            orders = con.read_parquet(str(orders_parquet))
            rm = retention_matrix(orders, period=period, kind=kind,
                                  observation_end=OBSERVATION_END)
            wall, used = time.perf_counter() - t0, time.process_time() - c0
            if wall < best:
                best, best_cpu = wall, used
            out["customers"], out["cells"] = rm.n_customers, len(rm.table)
            con.disconnect()
        out[f"seconds_{kind}"] = best
        out[f"cpu_seconds_{kind}"] = best_cpu
    out["seconds"] = max(out[f"seconds_{k}"] for k in kinds)
    return out


def main(argv: list[str]) -> None:
    n_orders = int(argv[1]) if len(argv) > 1 else 10_000_000
    n_customers = int(argv[2]) if len(argv) > 2 else 1_000_000
    work = Path(os.environ.get("CRMLAB_BENCH_TMP", tempfile.gettempdir()))
    path = generate_orders(work / f"crmlab_orders_{n_orders}_{n_customers}.parquet", n_orders,
                           n_customers)
    rows = pq.ParquetFile(path).metadata.num_rows
    results = {"orders": rows, "customers": n_customers, "cores": os.cpu_count(),
               "load_average_1min": os.getloadavg()[0]}
    results["monthly"] = bench_retention_matrix(path, period="M", repeat=3)
    results["weekly"] = bench_retention_matrix(path, period="W", kinds=("on",), repeat=3)
    print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main(sys.argv)
