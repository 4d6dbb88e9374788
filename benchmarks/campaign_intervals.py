"""Coverage of the campaign profit interval: a re-randomisation study on simulated shops.

For every campaign arm of ``--shops`` simulated shops (20,000 customers each by default, seeds
``--first-seed`` ...), the simulator's potential outcomes give each assigned customer's net
value in the arm's world (``margin × 180-day revenue − send cost − coupon cost``) and in the
holdout's world (``margin × revenue``). The assignment is drawn again ``--reps`` times with the
campaign's own arm shares; each time the arm-vs-holdout difference in mean net value gets an
interval by every method below, and the study counts how often it covers the true (sample
average) incremental profit per customer — the estimand the evaluation reports.

Methods: ``welch`` (t interval), ``percentile`` and ``bca`` bootstrap
(:func:`crmlab.abtest.means.bootstrap_diff_interval`), ``student`` (bootstrap-t,
:func:`crmlab.campaign.economics.bootstrap_t_interval`) and ``lin`` (regression adjustment on the
pre-period revenue, orders, visits and tenure, :func:`crmlab.abtest.regression_adjustment`, every
covariate) and ``lin_used`` (the evaluation's own adjustment,
:func:`crmlab.campaign.economics.adjusted_difference`: only the covariates that vary in at least
20 customers of each arm, Welch when none does). ``--methods`` picks a subset.

Usage::

    nice python benchmarks/campaign_intervals.py --shops 10 --reps 200 > coverage.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

METHODS = ("welch", "percentile", "bca", "student", "lin", "lin_used")
COVARIATES = ["pre_revenue", "pre_orders", "pre_visits", "tenure_days"]


def _intervals(yt, yc, xt, xc, alpha, seed, n_boot, methods=METHODS):
    from crmlab.abtest import regression_adjustment
    from crmlab.abtest.means import _bootstrap_intervals
    from crmlab.campaign._stats import welch_diff
    from crmlab.campaign.economics import adjusted_difference, bootstrap_t_interval

    out = {}
    _, lo, hi, _ = welch_diff(yt, yc, alpha)
    out["welch"] = (lo, hi)
    if "percentile" in methods or "bca" in methods:
        b = _bootstrap_intervals(yt, yc, n_boot, alpha, seed)
        out["percentile"] = b["percentile"]
        out["bca"] = b["bca"]
    if "student" in methods:
        out["student"] = bootstrap_t_interval(yt, yc, alpha=alpha, n_boot=n_boot, seed=seed)
    xt, xc = pd.DataFrame(xt, columns=COVARIATES), pd.DataFrame(xc, columns=COVARIATES)
    if "lin" in methods:
        df = pd.concat([xt.assign(arm="t", y=yt), xc.assign(arm="c", y=yc)], ignore_index=True)
        f = regression_adjustment(df, "arm", "y", COVARIATES, "c",
                                  alpha=alpha).to_frame().iloc[0]
        out["lin"] = (float(f["ci_low"]), float(f["ci_high"]))
    if "lin_used" in methods:
        d = adjusted_difference(yt, yc, xt, xc, alpha=alpha, covariates=COVARIATES)
        out["lin_used"] = (d["ci_low"], d["ci_high"]) if d is not None else out["welch"]
    return {m: v for m, v in out.items() if m in methods}


def shop_study(seed: int, n_customers: int, reps: int, margin: float, alpha: float,
               n_boot: int, workdir: Path, methods=METHODS) -> list[dict]:
    import crmlab
    from crmlab.campaign import campaign_table
    from crmlab.data.simulate import simulate_shop, write_shop

    shop = simulate_shop(n_customers=n_customers, seed=seed)
    d = workdir / f"shop_{seed}"
    d.mkdir(parents=True, exist_ok=True)
    write_shop(shop, d)
    data = crmlab.load(d)
    po = shop.potential_outcomes
    rows = []
    rng = np.random.default_rng(10_000 + seed)
    for cid, gt in shop.ground_truth.items():
        if cid == "program":        # the program's truth, not a campaign
            continue
        g = po[po.campaign_id == cid]
        if len(g) == 0:
            continue
        tab = campaign_table(data, cid).set_index("customer_id")
        ctrl = g[g.world == "control"].set_index("customer_id").sort_index()
        x = tab.reindex(ctrl.index)[COVARIATES].fillna(0.0).to_numpy(float)
        y0 = margin * ctrl["revenue_180d"].to_numpy(float)
        h = gt["params"]["holdout_share"]
        arms = list(gt["arms"])
        probs = np.r_[h, np.full(len(arms), (1 - h) / len(arms))]
        for k, arm in enumerate(arms, start=1):
            w = g[g.world == arm].set_index("customer_id").sort_index()
            y1 = (margin * w["revenue_180d"] - w["send_cost"] - w["coupon_cost"]).to_numpy(float)
            truth = float(np.mean(y1 - y0))
            hits = {m: 0 for m in methods}
            above = {m: 0 for m in methods}
            width = {m: 0.0 for m in methods}
            for r in range(reps):
                z = rng.choice(len(probs), size=len(y0), p=probs)
                t, c = z == k, z == 0
                if t.sum() < 3 or c.sum() < 3:
                    continue
                iv = _intervals(y1[t], y0[c], x[t], x[c], alpha, seed * 1000 + r, n_boot,
                                methods)
                for m, (lo, hi) in iv.items():
                    hits[m] += int(lo <= truth <= hi)
                    above[m] += int(lo > truth)
                    width[m] += hi - lo
            rows.append({"seed": seed, "campaign_id": cid, "arm": arm, "n": len(y0),
                         "holdout_share": h, "truth_per_customer": truth, "reps": reps,
                         **{f"cover_{m}": hits[m] / reps for m in methods},
                         **{f"miss_above_{m}": above[m] / reps for m in methods},
                         **{f"width_{m}": width[m] / reps for m in methods}})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shops", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=301)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--margin", type=float, default=0.3)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"comma-separated subset of {', '.join(METHODS)}")
    a = ap.parse_args(argv)
    methods = tuple(m for m in a.methods.split(",") if m)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.first_seed, a.first_seed + a.shops):
            rows += shop_study(seed, a.customers, a.reps, a.margin, a.alpha, a.n_boot, Path(tmp),
                               methods)
    df = pd.DataFrame(rows)
    summary = {m: {"coverage": float(df[f"cover_{m}"].mean()),
                   "min_arm_coverage": float(df[f"cover_{m}"].min()),
                   "misses_above_truth": float(df[f"miss_above_{m}"].mean()),
                   "mean_width": float(df[f"width_{m}"].mean())} for m in methods}
    out = {"shops": a.shops, "first_seed": a.first_seed, "customers": a.customers,
           "reps": a.reps, "margin": a.margin, "alpha": a.alpha, "n_boot": a.n_boot,
           "arms": len(df), "seconds": round(time.time() - t0, 1), "summary": summary,
           "per_arm": rows}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
