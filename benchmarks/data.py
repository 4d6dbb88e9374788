"""Benchmark data: synthetic order logs of a given size, written once as Parquet and cached.

Customers follow a BG/NBD process (purchase rate lambda ~ Gamma(r, alpha) per day, dropout
probability p ~ Beta(a, b) after each purchase), so that frequency/recency look like a real shop's
(many one-time buyers, a long tail) and BTYD fits land on interior optima that can be compared
between libraries. First purchases are spread over the first year of a two-year window.
Same arguments -> byte-identical files.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR = Path(os.environ.get("CRMLAB_BENCH_DATA", Path(__file__).resolve().parent / ".data"))
START = np.datetime64("2024-01-01T00:00:00", "us")
OBSERVATION_END = "2026-01-01"  # exclusive end of the two-year window
SPAN_DAYS = 731.0
# BG/NBD shape (time unit: days); lambda is rescaled to reach the requested orders per customer
TRUE = dict(r=0.9, alpha=18.0, a=0.9, b=12.0)


def orders_path(n_orders: int, n_customers: int) -> Path:
    """Directory holding ``orders.parquet`` for about ``n_orders`` orders of ``n_customers``.

    The name records the requested size; the exact row count is in the file (and in the results).
    """
    out = DATA_DIR / f"orders_{n_orders}_{n_customers}"
    target = out / "orders.parquet"
    if target.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240101)
    tmp_path = out / "orders.parquet.tmp"
    writer = None
    order_id = 1
    chunk = 250_000
    scale = _calibrate_scale(n_orders / n_customers)
    for c0 in range(0, n_customers, chunk):
        n = min(chunk, n_customers - c0)
        lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], size=n) * scale
        p = rng.beta(TRUE["a"], TRUE["b"], size=n)
        first = rng.random(n) * 365.0
        horizon = SPAN_DAYS - first - 1e-6
        alive = rng.geometric(p) - 1
        # Poisson process on [0, horizon): the first `alive` of its events are kept (dropout after)
        count = rng.poisson(lam * horizon)
        k = np.minimum(count, alive)
        owner = np.repeat(np.arange(n), count)
        u = rng.random(int(count.sum())) * np.repeat(horizon, count)
        order = np.lexsort((u, owner))
        u = u[order]
        rank = np.arange(u.size) - np.repeat(np.cumsum(count) - count, count)
        keep = rank < np.repeat(k, count)
        rep_owner, rep_t = owner[keep], u[keep] + first[owner[keep]]
        cust = np.concatenate([np.arange(n), rep_owner])
        t_days = np.concatenate([first, rep_t])
        srt = np.lexsort((t_days, cust))
        cust, t_days = cust[srt], t_days[srt]
        ts = START + (t_days * 86_400_000_000).astype("timedelta64[us]")
        rows = cust.size
        table = pa.table({
            "order_id": np.arange(order_id, order_id + rows, dtype=np.int64),
            "customer_id": (cust + c0 + 1).astype(np.int64),
            "order_ts": ts,
            "amount": np.round(rng.gamma(4.0, 12_500.0, size=rows), 0),
            "quantity": rng.integers(1, 4, size=rows).astype(np.int64),
        })
        order_id += rows
        if writer is None:
            writer = pq.ParquetWriter(tmp_path, table.schema, compression="zstd")
        writer.write_table(table)
    writer.close()
    os.replace(tmp_path, target)
    return out


def _calibrate_scale(target_mean: float) -> float:
    """Multiplier of lambda giving about ``target_mean`` orders per customer (seeded search)."""
    rng = np.random.default_rng(7)
    n = 50_000
    lam0 = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], size=n)
    p = rng.beta(TRUE["a"], TRUE["b"], size=n)
    horizon = SPAN_DAYS - rng.random(n) * 365.0
    alive = rng.geometric(p) - 1
    z = rng.random(n)
    from scipy.stats import poisson

    def mean_orders(s):
        count = poisson.ppf(z, lam0 * s * horizon)
        return 1.0 + np.minimum(count, alive).mean()

    lo, hi = 1e-3, 1e3
    for _ in range(40):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if mean_orders(mid) < target_mean else (lo, mid)
    return float(np.sqrt(lo * hi))
