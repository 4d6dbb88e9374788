"""Decision quality of the campaign verdicts on simulated shops with known truth.

Every demo spec (``experiments/*.yaml``) is evaluated on ``--shops`` simulated shops (20,000
customers each by default; seeds ``--first-seed`` ..., not the demo's 0), with
``horizon_days = 180`` (exploratory) so that the estimands are the simulator's
``ground_truth.json`` and with no segment breakdown (it does not enter the verdict). Per arm the
true incremental profit is ``n × (margin_rate × revenue_lift_180d − cost_per_customer)`` (the
arm's assigned customers, the simulator's per-customer cost in the arm's world).

The true profit is the evaluation's estimand: the margin on the revenue lift of the customers
observed over the whole horizon plus the cost per assigned customer, times the arm's size.

Reported: the share of arms whose profit interval covers the true profit; every direction the
verdict claims (primary metric, LTV lift, profit) that the truth contradicts; the share of
shipped arms that truly lose money; the share of truly profitable arms that ship; and, for
comparison, how often the sign of the ROI point estimate is wrong.

Usage::

    nice python benchmarks/campaign_decisions.py --shops 12 > decisions.json
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _claims(row: dict) -> list[str]:
    """The directions claimed against the truth for one arm."""
    bad = []
    for name, claim, truth in (("primary", row["primary_dir"], row["true_conversion_lift"]),
                               ("ltv", row["ltv_dir"], row["true_revenue_lift"]),
                               ("profit", row["profit_dir"], row["true_profit"])):
        if (claim == "up" and truth <= 0) or (claim == "down" and truth >= 0):
            bad.append(name)
    return bad


def shop_rows(seed: int, n_customers: int, workdir: Path, specs: list[Path]) -> list[dict]:
    import crmlab
    from crmlab.campaign import evaluate
    from crmlab.data.simulate import simulate_shop, write_shop
    from crmlab.experiments import load_spec

    shop = simulate_shop(n_customers=n_customers, seed=seed)
    d = workdir / f"shop_{seed}"
    d.mkdir(parents=True, exist_ok=True)
    write_shop(shop, d)
    data = crmlab.load(d)
    rows = []
    for path in specs:
        raw = load_spec(path).to_dict()
        raw.update(horizon_days=180, exploratory=True, segments=[],
                   exploratory_reason="180 days: the simulator's truth")
        cid = raw["campaign_id"]
        gt = shop.ground_truth[cid]
        if not gt.get("n_assigned"):
            continue
        ev = evaluate(data, raw, n_boot=200)
        per = ev.verdict.per_arm.set_index("arm")
        m = raw["economics"]["margin_rate"]
        po = shop.potential_outcomes
        po = po[po.campaign_id == cid]
        asg = shop.tables["assignments"]
        asg = asg[asg.campaign_id == cid].set_index("customer_id")["assigned_ts"]
        obs_end = pd.Timestamp(data.observation_end)
        ctrl = po[po.world == "control"].set_index("customer_id").sort_index()
        full = (asg.reindex(ctrl.index) + pd.Timedelta(days=180) <= obs_end).to_numpy()
        for _, e in ev.economics.iterrows():
            a = e["arm"]
            t = gt["arms"][a]
            w = po[po.world == a].set_index("customer_id").sort_index()
            # the estimand of the evaluation: the revenue lift of the customers observed over
            # the whole horizon, the costs of every assigned customer, times the arm's size
            rev_lift = float((w["revenue_180d"] - ctrl["revenue_180d"]).to_numpy()[full].mean())
            true_pc = m * rev_lift - t["cost_per_customer"]
            true_profit = e["n"] * true_pc
            p = per.loc[a]
            row = dict(seed=seed, campaign_id=cid, arm=a, n=int(e["n"]),
                       decision=p["decision"], shipped=ev.verdict.arm == a,
                       primary_dir=p["primary"], ltv_dir=p["ltv"],
                       profit_dir={"pays": "up", "loses": "down"}.get(p["profit"], "unclear"),
                       p_profitable=float(e["p_profitable"]),
                       p_ltv_above_min=float(p["p_ltv_above_min"]),
                       guardrails_allow=bool(p["guardrails_allow"]),
                       guardrails=p["guardrails"],
                       profit=float(e["incremental_profit"]),
                       profit_ci_low=float(e["profit_ci_low"]),
                       profit_ci_high=float(e["profit_ci_high"]),
                       profit_se=float(e["profit_se"]),
                       ltv_se=float(ev.long_term.set_index("arm").loc[a, "ltv_se"]),
                       primary_ci_low=float(ev.primary.set_index("arm").loc[a, "ci_low"]),
                       primary_ci_high=float(ev.primary.set_index("arm").loc[a, "ci_high"]),
                       arm_alpha=float(ev.arm_alpha), primary_alpha=float(ev.primary_alpha),
                       true_profit=float(true_profit),
                       true_conversion_lift=float(t["conversion_lift"]),
                       true_revenue_lift=rev_lift,
                       roi=float(e["roi"]) if np.isfinite(e["roi"]) else None,
                       roi_point_sign_wrong=bool(np.sign(e["incremental_profit"])
                                                 != np.sign(true_profit)))
            row["covered"] = bool(row["profit_ci_low"] <= true_profit <= row["profit_ci_high"])
            row["claims_against_truth"] = _claims(row)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def summarise(df: pd.DataFrame, with_floors: bool = True) -> dict:
    ship = df[df["decision"] == "ship"]
    profitable = df[df["true_profit"] > 0]
    return {
        "arms": int(len(df)),
        "profit_interval_coverage": float(df["covered"].mean()),
        "claims_against_truth": int(df["claims_against_truth"].map(len).sum()),
        "claims_made": int(((df[["primary_dir", "ltv_dir", "profit_dir"]] != "unclear")
                            .sum()).sum()),
        "arms_shipped": int(len(ship)),
        "shipped_truly_losing_share": (float((ship["true_profit"] < 0).mean())
                                       if len(ship) else None),
        "truly_profitable_arms": int(len(profitable)),
        "truly_profitable_shipped_share": (float((profitable["decision"] == "ship").mean())
                                           if len(profitable) else None),
        "profit_point_sign_wrong_share": float(df["roi_point_sign_wrong"].mean()),
        "decisions": {k: int(v) for k, v in df["decision"].value_counts().items()},
        "rule_variants": rule_variants(df),
        **({"floors": floors(df)} if with_floors else {}),
    }


def floors(df: pd.DataFrame, max_losing: float = 0.05) -> dict:
    """What the evidence of these arms allows, whatever the rule (normal approximations with
    each arm's own standard errors and true effects).

    - ``expected_wrong_directions``: the number of intervals (primary, LTV, profit) expected to
      exclude zero on the side opposite to the truth when every interval holds its level
      exactly — ``sum Phi(-q - |true| / se)`` — against the count observed;
    - ``profit_frontier``: for the rules that ship when the profit estimate is at least ``c``
      standard errors above zero (the most powerful test of each arm's profit), the largest
      expected share of truly profitable arms shipped while at most ``max_losing`` of the
      shipped arms truly lose money; at the audience sizes of the study and at 2x ... 16x
      (standard errors over sqrt(k)). Also what ``p_profitable >= 0.9`` or ``0.95`` alone
      would give.
    """
    from scipy import stats

    out = {}
    exp_wrong = 0.0
    for est, lo_c, hi_c, truth, alpha_c in (
            ("primary", "primary_ci_low", "primary_ci_high", "true_conversion_lift",
             "primary_alpha"),
            ("ltv", None, None, "true_revenue_lift", "arm_alpha"),
            ("profit", "profit_ci_low", "profit_ci_high", "true_profit", "arm_alpha")):
        q = stats.norm.isf(df[alpha_c] / 2)
        if est == "ltv":
            se = df["ltv_se"]
        elif est == "profit":
            se = df["profit_se"]
        else:
            se = (df[hi_c] - df[lo_c]) / (2 * q)
        z = (df[truth].abs() / se).where(se > 0).to_numpy(float)
        ok = np.isfinite(z)
        e = float(stats.norm.cdf(-np.asarray(q, float)[ok] - z[ok]).sum())
        out[f"expected_wrong_directions_{est}"] = round(e, 2)
        exp_wrong += e
    out["expected_wrong_directions"] = round(exp_wrong, 2)
    out["observed_wrong_directions"] = int(df["claims_against_truth"].map(len).sum())
    se = df["profit_se"]
    prof, lose = df["true_profit"] > 0, df["true_profit"] < 0
    z = df["true_profit"] / se
    out["true_profit_z_quantiles_of_profitable_arms"] = {
        str(p): round(float(np.quantile(z[prof], p)), 2) for p in (0.25, 0.5, 0.75, 0.9)}
    frontier = {}
    for k in (1, 2, 4, 8, 16):
        zk = (z * np.sqrt(k)).to_numpy()
        best = None
        for c in np.linspace(-1.0, 6.0, 701):
            ship = stats.norm.cdf(zk - c)
            losing = ship[lose.to_numpy()].sum() / ship.sum()
            share = ship[prof.to_numpy()].mean()
            if losing <= max_losing and (best is None or share > best["profitable_shipped"]):
                best = {"threshold_se": round(float(c), 2),
                        "profitable_shipped": round(float(share), 3),
                        "losing_share": round(float(losing), 3)}
        frontier[f"x{k}"] = {"best": best}
        for p_min in (0.9, 0.95):
            ship = stats.norm.cdf(zk - stats.norm.isf(1 - p_min))
            frontier[f"x{k}"][f"p_profitable_{p_min:g}"] = {
                "profitable_shipped": round(float(ship[prof.to_numpy()].mean()), 3),
                "losing_share": round(float(ship[lose.to_numpy()].sum() / ship.sum()), 3)}
    out["profit_frontier"] = frontier
    return out


def rule_variants(df: pd.DataFrame) -> dict:
    """What other decision rules would ship on the same evidence (no harm shown, guardrails
    allowing at the evaluation's own confidence): the share of shipped arms that truly lose
    money and of truly profitable arms shipped."""
    ok = (df["decision"] != "stop") & df["guardrails_allow"]
    up = df["primary_dir"] == "up"
    prof = df["true_profit"] > 0
    out = {}
    no_breach = (df["decision"] != "stop")
    for name, sel in (("primary & p>=0.95 (the default rule)", ok & up & (df["p_profitable"] >= 0.95)
                       & (df["p_ltv_above_min"] >= 0.95)),
                      ("primary & p>=0.9", ok & up & (df["p_profitable"] >= 0.9)
                       & (df["p_ltv_above_min"] >= 0.9)),
                      ("primary & p>=0.9, guardrails only not breached",
                       no_breach & up & (df["p_profitable"] >= 0.9)
                       & (df["p_ltv_above_min"] >= 0.9)),
                      ("primary & p>=0.8", ok & up & (df["p_profitable"] >= 0.8)
                       & (df["p_ltv_above_min"] >= 0.8)),
                      ("p>=0.9 without primary", ok & (df["p_profitable"] >= 0.9)
                       & (df["p_ltv_above_min"] >= 0.9)),
                      ("p>=0.95 without primary", ok & (df["p_profitable"] >= 0.95)
                       & (df["p_ltv_above_min"] >= 0.95))):
        out[name] = {"shipped": int(sel.sum()),
                     "shipped_truly_losing_share": (float((df.loc[sel, "true_profit"] < 0)
                                                          .mean()) if sel.any() else None),
                     "truly_profitable_shipped_share": (float((sel & prof).sum() / prof.sum())
                                                        if prof.any() else None)}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shops", type=int, default=12)
    ap.add_argument("--first-seed", type=int, default=401)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--specs", default="experiments")
    a = ap.parse_args(argv)
    specs = [Path(p) for p in sorted(glob.glob(f"{a.specs}/*.yaml"))]
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.first_seed, a.first_seed + a.shops):
            rows += shop_rows(seed, a.customers, Path(tmp), specs)
    df = pd.DataFrame(rows)
    out = {"shops": a.shops, "first_seed": a.first_seed, "customers": a.customers,
           "seconds": round(time.time() - t0, 1), "summary": summarise(df),
           "by_campaign": {f"{c}/{arm}": summarise(g, with_floors=False) for (c, arm), g in
                           df.groupby(["campaign_id", "arm"])},
           "per_arm": rows}
    print(json.dumps(out, indent=1, default=str))
    return out


if __name__ == "__main__":
    main()
