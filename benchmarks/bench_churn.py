"""Churn benchmarks: ``survival_table`` on a Parquet order log, Kaplan-Meier for 10 groups and a
Cox fit.

Targets (reference machine): ``survival_table`` on 10M orders / 1M customers ≤ 3 s;
Kaplan-Meier for 10 groups on 1M customers ≤ 2 s; the Cox fit on 200k customers × 10
covariates is measured and reported. The harness (benchmarks/run.py) calls these functions in
fresh processes; each returns ``{"seconds": ...}`` (the timed operation only) plus details.

Usage::

    python benchmarks/bench_churn.py [ORDERS_DIR]   # default: the harness's 10M-order log

``ORDERS_DIR`` holds ``orders.parquet`` (see benchmarks/data.py). The Parquet file is read by
DuckDB inside the timed span of ``survival_table``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OBSERVATION_END = "2026-01-01"  # exclusive end of the benchmark logs' two-year window


def bench_survival_table(orders_dir: str | None = None, orders_parquet: str | None = None,
                         churn_after_days: float = 90) -> dict:
    """Seconds for ``survival_table`` (start = first purchase, C = 90) on the Parquet log."""
    import ibis

    from crmlab.churn import survival_table

    path = Path(orders_parquet) if orders_parquet else Path(orders_dir) / "orders.parquet"
    con = ibis.duckdb.connect()
    t0 = time.perf_counter()
    orders = con.read_parquet(str(path))
    st = survival_table(orders, OBSERVATION_END, churn_after_days=churn_after_days)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "customers": int(len(st)), "churned_share": float(st.churned.mean())}


def _km_data(n: int, groups: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    t = rng.exponential(100.0 * (1 + g / groups), n).round(0)  # daily resolution, many ties
    c = rng.uniform(0, 400, n).round(0)
    return pd.DataFrame({"duration": np.minimum(t, c), "churned": (t <= c).astype(int),
                         "segment": pd.Categorical([f"s{k}" for k in g])})


def bench_km_10_groups(n: int = 1_000_000) -> dict:
    """Seconds for ``kaplan_meier`` with 10 groups on ``n`` customers (times 30/90/180)."""
    from crmlab.churn import kaplan_meier

    df = _km_data(int(n))
    t0 = time.perf_counter()
    km = kaplan_meier(df, group="segment")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "groups": int(len(km.table)), "curve_rows": int(len(km.curves))}


def bench_cox_200k(n: int = 200_000, covariates: int = 10) -> dict:
    """Seconds for ``ChurnModel("cox").fit`` on ``n`` customers × ``covariates`` covariates."""
    from crmlab.churn import ChurnModel

    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, covariates))
    beta = np.linspace(-0.5, 0.5, covariates)
    t = rng.exponential(100.0 / np.exp(X @ beta)).round(0)
    c = rng.uniform(0, 300, n).round(0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(covariates)])
    df["duration"] = np.minimum(t, c)
    df["churned"] = (t <= c).astype(int)
    t0 = time.perf_counter()
    m = ChurnModel("cox").fit(df)
    seconds = time.perf_counter() - t0
    err = float(np.max(np.abs(np.log(m.hazard_ratios_["hazard_ratio"].to_numpy()) - beta)))
    return {"seconds": seconds, "customers": n, "covariates": covariates,
            "max_abs_log_hr_error": err}


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import data

    orders_dir = argv[1] if len(argv) > 1 else str(data.orders_path(10_000_000, 1_000_000))
    results = {
        "survival_table_10M": bench_survival_table(orders_dir),
        "km_10_groups_1M": bench_km_10_groups(),
        "cox_200k_10cov": bench_cox_200k(),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv)
