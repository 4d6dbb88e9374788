"""The peer libraries' side of each benchmark; runs inside benchmarks/.peers-venv.

Each function reads the same Parquet input as crmlab's counterpart, times only the operation, and
returns ``{"seconds": ..., ...}`` (plus fitted parameters where they are compared).
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import pandas as pd

warnings.filterwarnings("ignore")
# lifetimes / pymc-marketing take inclusive end dates: these equal crmlab's exclusive
# observation_end="2026-01-01" and calibration_end="2025-01-01"
OBSERVATION_END = "2025-12-31"
CALIBRATION_END = "2024-12-31"


def _orders(orders_dir: str) -> pd.DataFrame:
    return pd.read_parquet(Path(orders_dir) / "orders.parquet",
                           columns=["customer_id", "order_ts", "amount"])


def lifetimes_rfm_summary(orders_dir: str) -> dict:
    from lifetimes.utils import summary_data_from_transaction_data

    df = _orders(orders_dir)
    t0 = time.perf_counter()
    out = summary_data_from_transaction_data(
        df, "customer_id", "order_ts", monetary_value_col="amount",
        observation_period_end=OBSERVATION_END, freq="D")
    return {"seconds": time.perf_counter() - t0, "rows": int(len(out)),
            "frequency_sum": float(out["frequency"].sum())}


def lifetimes_calibration_split(orders_dir: str) -> dict:
    from lifetimes.utils import calibration_and_holdout_data

    df = _orders(orders_dir)
    t0 = time.perf_counter()
    out = calibration_and_holdout_data(
        df, "customer_id", "order_ts", calibration_period_end=CALIBRATION_END,
        observation_period_end=OBSERVATION_END, freq="D", monetary_value_col="amount")
    return {"seconds": time.perf_counter() - t0, "rows": int(len(out))}


def pymc_rfm_summary(orders_dir: str) -> dict:
    from pymc_marketing.clv.utils import rfm_summary

    df = _orders(orders_dir)
    t0 = time.perf_counter()
    out = rfm_summary(df, "customer_id", "order_ts", monetary_value_col="amount",
                      observation_period_end=OBSERVATION_END, time_unit="D")
    return {"seconds": time.perf_counter() - t0, "rows": int(len(out)),
            "frequency_sum": float(out["frequency"].sum())}


def _summary(summary_parquet: str) -> pd.DataFrame:
    return pd.read_parquet(summary_parquet, columns=["frequency", "recency", "T"])


def lifetimes_fit_bgnbd(summary_parquet: str) -> dict:
    from lifetimes import BetaGeoFitter

    s = _summary(summary_parquet)
    t0 = time.perf_counter()
    model = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    return {"seconds": time.perf_counter() - t0,
            "params": {k: float(v) for k, v in model.params_.items()},
            "log_likelihood": float(model._negative_log_likelihood_ * -len(s))
            if hasattr(model, "_negative_log_likelihood_") else None}


def lifetimes_fit_paretonbd(summary_parquet: str) -> dict:
    from lifetimes import ParetoNBDFitter

    s = _summary(summary_parquet)
    t0 = time.perf_counter()
    model = ParetoNBDFitter().fit(s["frequency"], s["recency"], s["T"])
    return {"seconds": time.perf_counter() - t0,
            "params": {k: float(v) for k, v in model.params_.items()}}


def peer_form(orders_dir: str, op: str, form: str, lib: str) -> dict:
    """A peer's time for ``op`` on the same DataFrame crmlab gets in ``form`` (benchmarks/forms.py).

    With tz-aware timestamps the end dates are given in the same zone (what a user of the peer
    would write); the DataFrame is built before the clock starts.
    """
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import forms

    df = forms.pandas_orders(orders_dir, form)[["customer_id", "order_ts", "amount"]]
    aware = isinstance(df["order_ts"].dtype, pd.DatetimeTZDtype)
    end = pd.Timestamp(OBSERVATION_END, tz=forms.TZ) if aware else OBSERVATION_END
    cal = pd.Timestamp(CALIBRATION_END, tz=forms.TZ) if aware else CALIBRATION_END
    t0 = time.perf_counter()
    if lib == "lifetimes" and op == "rfm_summary":
        from lifetimes.utils import summary_data_from_transaction_data

        out = summary_data_from_transaction_data(
            df, "customer_id", "order_ts", monetary_value_col="amount",
            observation_period_end=end, freq="D")
    elif lib == "pymc-marketing" and op == "rfm_summary":
        from pymc_marketing.clv.utils import rfm_summary

        out = rfm_summary(df, "customer_id", "order_ts", monetary_value_col="amount",
                          observation_period_end=end, time_unit="D")
    elif lib == "lifetimes" and op == "calibration/holdout split":
        from lifetimes.utils import calibration_and_holdout_data

        out = calibration_and_holdout_data(
            df, "customer_id", "order_ts", calibration_period_end=cal,
            observation_period_end=end, freq="D", monetary_value_col="amount")
    else:
        raise ValueError(f"no peer {lib!r} for {op!r}")
    return {"seconds": time.perf_counter() - t0, "rows": int(len(out))}
