"""Customer-base benchmarks: ``rfm_summary``, the calibration/holdout split and the BG/NBD and
Pareto/NBD maximum-likelihood fits.

Targets (reference machine): ``rfm_summary`` on 10M orders / 1M customers ≤ 3 s; each fit on
1M customers ≤ 2 s. The harness (benchmarks/run.py) calls these functions in fresh processes;
each returns ``{"seconds": ...}`` (the timed operation only) plus what is compared with peers.

Usage::

    python benchmarks/bench_ltv.py [ORDERS_DIR]    # default: the harness's 10M-order log

The orders directory holds ``orders.parquet`` (see benchmarks/data.py). The Parquet file is read
by DuckDB inside the timed span for ``rfm_summary`` (the operation an analyst runs on a log).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

OBSERVATION_END = "2026-01-01"   # exclusive end of the benchmark logs' two-year window
CALIBRATION_END = "2025-01-01"


def _orders(orders_dir: str, memory_limit: str | None = None):
    import ibis

    con = ibis.duckdb.connect(**({"memory_limit": memory_limit} if memory_limit else {}))
    return con.read_parquet(str(Path(orders_dir) / "orders.parquet"))


def bench_rfm_summary(orders_dir: str | None = None, memory_limit: str | None = None,
                      orders_parquet: str | None = None) -> dict:
    """Seconds for ``rfm_summary`` (days) on the Parquet order log, read through DuckDB."""
    from crmlab.summaries import rfm_summary

    if orders_parquet is not None:
        orders_dir = str(Path(orders_parquet).parent)
    t0 = time.perf_counter()
    out = rfm_summary(_orders(orders_dir, memory_limit), OBSERVATION_END, "D")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": int(len(out)),
            "frequency_sum": float(out["frequency"].sum())}


def bench_calibration_split(orders_dir: str) -> dict:
    """Seconds for ``rfm_summary`` with a calibration/holdout split (days)."""
    from crmlab.summaries import rfm_summary

    t0 = time.perf_counter()
    out = rfm_summary(_orders(orders_dir), OBSERVATION_END, "D", calibration_end=CALIBRATION_END)
    return {"seconds": time.perf_counter() - t0, "rows": int(len(out))}


def _summary(orders_dir: str | None, summary_path: str | None) -> pd.DataFrame:
    """The per-customer summary the fits use; written once by rfm_summary (not timed)."""
    from crmlab.summaries import rfm_summary

    if summary_path is not None and Path(summary_path).exists():
        return pd.read_parquet(summary_path)
    s = rfm_summary(_orders(orders_dir), OBSERVATION_END, "D")
    if summary_path is not None:
        Path(summary_path).parent.mkdir(parents=True, exist_ok=True)
        s[["frequency", "recency", "T", "monetary_value"]].to_parquet(summary_path)
    return s


def _fit(model_cls, summary) -> dict:
    if isinstance(summary, (str, Path)):
        summary = pd.read_parquet(summary)
    x, tx, t = summary["frequency"], summary["recency"], summary["T"]
    t0 = time.perf_counter()
    model = model_cls().fit(x, tx, t)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "params": {k: float(v) for k, v in model.params_.items()},
            "log_likelihood": float(model.log_likelihood_), "n": int(len(x)),
            "unique_rows": int(model.n_unique_rows_)}


def bench_fit_bgnbd(summary=None, orders_dir: str | None = None,
                    summary_path: str | None = None) -> dict:
    """Seconds for the BG/NBD fit (including standard errors) on a per-customer summary."""
    from crmlab.ltv import BetaGeoFitter

    return _fit(BetaGeoFitter, summary if summary is not None else _summary(orders_dir, summary_path))


def bench_fit_paretonbd(summary=None, orders_dir: str | None = None,
                        summary_path: str | None = None) -> dict:
    """Seconds for the Pareto/NBD fit (including standard errors) on a per-customer summary."""
    from crmlab.ltv import ParetoNBDFitter

    return _fit(ParetoNBDFitter, summary if summary is not None else _summary(orders_dir, summary_path))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import data

    orders_dir = sys.argv[1] if len(sys.argv) > 1 else str(data.orders_path(10_000_000, 1_000_000))
    summary_path = str(Path(orders_dir) / "summary_crmlab_days.parquet")
    print(json.dumps({
        "rfm_summary": bench_rfm_summary(orders_dir),
        "calibration_split": bench_calibration_split(orders_dir),
        "fit_bgnbd": bench_fit_bgnbd(orders_dir=orders_dir, summary_path=summary_path),
        "fit_paretonbd": bench_fit_paretonbd(orders_dir=orders_dir, summary_path=summary_path),
    }, indent=1))
