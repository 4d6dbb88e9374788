"""A/B statistics benchmarks (``crmlab.abtest``).

Targets:

- ``bench_bootstrap_1m`` — a BCa bootstrap interval of the difference in revenue per customer,
  1M customers (two arms) x 2,000 resamples: <= 10 s;
- ``bench_battery_1m`` — a full per-campaign battery, 10 metrics x 3 treatment arms against
  control, every metric CUPED-adjusted by its own pre-period covariate, 1M customers: <= 2 s.

Each function builds its synthetic data first (not timed), then times the call alone and
returns the seconds. Usage::

    python benchmarks/bench_abtest.py            # both, printed as JSON
"""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd


def revenue_table(n_customers: int = 1_000_000, n_arms: int = 2, n_metrics: int = 1,
                  seed: int = 0) -> pd.DataFrame:
    """Synthetic per-customer table: ``arm`` (``control``, ``t1``...), zero-heavy revenue
    metrics ``m0..`` (about 5% buyers, lognormal spend, some refunds) and pre-period
    covariates ``pre_m0..`` correlated with them. Same arguments -> same table."""
    rng = np.random.default_rng(seed)
    arms = np.array(["control"] + [f"t{i}" for i in range(1, n_arms)])
    cols = {"arm": arms[rng.integers(0, n_arms, n_customers)]}
    for j in range(n_metrics):
        pre = rng.gamma(0.5, 40_000.0, n_customers)
        buy = rng.random(n_customers) < 0.03 + 0.04 * (pre > 20_000)
        rev = np.round(buy * rng.lognormal(10.0, 0.8, n_customers), 0)
        rev[rng.random(n_customers) < 0.002] *= -1          # refunds
        cols[f"m{j}"] = rev
        cols[f"pre_m{j}"] = pre
    return pd.DataFrame(cols)


def bench_bootstrap_1m(n_customers: int = 1_000_000, n_boot: int = 2000, seed: int = 0) -> float:
    """Seconds for a BCa bootstrap CI of the revenue difference (1M customers x 2,000)."""
    from crmlab.abtest import bootstrap_diff_interval

    df = revenue_table(n_customers, 2, 1, seed)
    x_t = df.loc[df.arm == "t1", "m0"].to_numpy()
    x_c = df.loc[df.arm == "control", "m0"].to_numpy()
    t0 = time.perf_counter()
    bootstrap_diff_interval(x_t, x_c, n_boot=n_boot, method="bca", seed=seed)
    return time.perf_counter() - t0


def bench_battery_1m(n_customers: int = 1_000_000, n_metrics: int = 10, n_treatments: int = 3,
                     seed: int = 0) -> float:
    """Seconds for 10 CUPED metrics x 3 treatment arms vs control on 1M customers."""
    from crmlab.abtest import battery

    df = revenue_table(n_customers, n_treatments + 1, n_metrics, seed)
    spec = {f"m{j}": f"pre_m{j}" for j in range(n_metrics)}
    t0 = time.perf_counter()
    r = battery(df, "arm", spec, "control")
    elapsed = time.perf_counter() - t0
    assert len(r.to_frame()) == n_metrics * n_treatments
    return elapsed


if __name__ == "__main__":
    print(json.dumps({"bench_bootstrap_1m": bench_bootstrap_1m(),
                      "bench_battery_1m": bench_battery_1m()}, indent=2))
