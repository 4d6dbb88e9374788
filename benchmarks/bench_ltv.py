"""Customer-base benchmarks: ``rfm_summary``, the calibration/holdout split, the BG/NBD and
Pareto/NBD maximum-likelihood fits, intervals of purchases, P(alive) and CLV, and the fits with
covariates.

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


def _load(summary, orders_dir, summary_path) -> pd.DataFrame:
    if isinstance(summary, (str, Path)):
        return pd.read_parquet(summary)
    return summary if summary is not None else _summary(orders_dir, summary_path)


def bench_intervals(summary=None, orders_dir: str | None = None, summary_path: str | None = None,
                    model: str = "bgnbd") -> dict:
    """Seconds for ``ltv_intervals`` (every customer's intervals for expected purchases,
    P(alive), spend and 12-month CLV, with the Gamma-Gamma spend model) plus the aggregate by 8
    frequency groups, on a per-customer summary (days). The fits are not timed."""
    import numpy as np

    from crmlab.ltv import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter, ltv_intervals

    s = _load(summary, orders_dir, summary_path)
    s.attrs.update(time_unit="D", time_scaler=1.0)
    tm = {"bgnbd": BetaGeoFitter, "paretonbd": ParetoNBDFitter}[model]().fit(s)
    gg = GammaGammaFitter().fit(s)
    groups = np.minimum(s["frequency"].to_numpy(), 7).astype(int)
    t0 = time.perf_counter()
    iv = ltv_intervals(tm, s, gg, months=12, ci_level=0.9)
    agg = iv.aggregate(by=groups)
    seconds = time.perf_counter() - t0
    whole = iv.aggregate().iloc[0]
    return {"seconds": seconds, "n": int(len(s)), "groups": int(len(agg)),
            "clv_total": float(whole.clv), "clv_pi": [float(whole.clv_pi_low),
                                                      float(whole.clv_pi_high)]}


def bench_fit_covariates(summary=None, orders_dir: str | None = None,
                         summary_path: str | None = None, model: str = "bgnbd") -> dict:
    """Seconds for the fit with three covariates (a channel dummy and a three-level region: six
    patterns, drawn with a fixed seed) in both processes, next to the covariate-free fit of the
    same data (both timed, standard errors included). No Python library fits these models
    with covariates by exact maximum likelihood, so there is no peer to compare with."""
    import numpy as np

    from crmlab.ltv import (BetaGeoCovariateFitter, BetaGeoFitter, ParetoNBDCovariateFitter,
                            ParetoNBDFitter)

    s = _load(summary, orders_dir, summary_path)
    base_cls, cov_cls = {"bgnbd": (BetaGeoFitter, BetaGeoCovariateFitter),
                         "paretonbd": (ParetoNBDFitter, ParetoNBDCovariateFitter)}[model]
    rng = np.random.default_rng(0)
    region = rng.integers(0, 3, len(s))
    cov = pd.DataFrame({"web": rng.integers(0, 2, len(s)).astype(float),
                        "north": (region == 1).astype(float), "south": (region == 2).astype(float)})
    x, tx, t = s["frequency"], s["recency"], s["T"]
    t0 = time.perf_counter()
    base = base_cls().fit(x, tx, t)
    t1 = time.perf_counter()
    fit = cov_cls().fit(x, tx, t, covariates=cov)
    t2 = time.perf_counter()
    return {"seconds": t2 - t1, "covariate_free_seconds": t1 - t0, "n": int(len(s)),
            "patterns": int(fit.n_patterns_),
            "log_likelihood_gain": float(fit.log_likelihood_ - base.log_likelihood_),
            "coefficients": {k: float(v) for k, v in fit.coefficients_.items()}}


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
        "intervals_bgnbd": bench_intervals(orders_dir=orders_dir, summary_path=summary_path),
        "intervals_paretonbd": bench_intervals(orders_dir=orders_dir, summary_path=summary_path,
                                               model="paretonbd"),
        "fit_bgnbd_covariates": bench_fit_covariates(orders_dir=orders_dir,
                                                     summary_path=summary_path),
        "fit_paretonbd_covariates": bench_fit_covariates(orders_dir=orders_dir,
                                                         summary_path=summary_path,
                                                         model="paretonbd"),
    }, indent=1))
