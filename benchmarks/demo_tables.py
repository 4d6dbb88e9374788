"""The demo shop's truth, as the tables of docs/simulator.md and docs/campaign-evaluation.md.

Reads a simulated shop directory (``crmlab simulate --out DIR``: ``ground_truth.json``,
``campaigns.parquet``, ``orders.parquet``, ``events.parquet``, ``meta.json``) and prints, in
Markdown:

- the true effects per campaign and treatment arm, campaigns in the order they ran;
- the true incremental profit per arm over 180 days at a margin rate (``n_arm × (margin ×
  revenue_lift_180d − cost_per_customer)``, the estimand the evaluation's profit interval
  covers when every customer is observed for the whole horizon);
- the program's truth (global holdout) and the shop-wide figures.

    python benchmarks/demo_tables.py --data data/demo
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def _campaign_order(data: Path, truth: dict) -> list[str]:
    camp = pd.read_parquet(data / "campaigns.parquet", columns=["campaign_id", "start_ts"])
    order = camp.sort_values(["start_ts", "campaign_id"])["campaign_id"].tolist()
    return [c for c in order if c in truth] + sorted(c for c in truth
                                                     if c not in order and c != "program")


def truth_rows(truth: dict, order: list[str], margin_rate: float = 0.3) -> list[dict]:
    """One row per campaign and treatment arm: the true effects of ``ground_truth.json``."""
    rows = []
    for cid in order:
        gt = truth[cid]
        for arm, e in gt["arms"].items():
            rows.append(dict(
                campaign=cid, arm=arm, assigned=int(gt["n_assigned"]),
                holdout=float(gt["params"]["holdout_share"]),
                n_arm=int(e["n_assigned"]), control_conversion=e["conversion_control"],
                conversion_lift=e["conversion_lift"], revenue_lift_180d=e["revenue_lift_180d"],
                churn_hazard_ratio=e["churn_hazard_ratio"],
                cost_per_customer=e["cost_per_customer"],
                true_profit_180d=int(e["n_assigned"]) * (margin_rate * e["revenue_lift_180d"]
                                                         - e["cost_per_customer"])))
    return rows


def _signed(x: float, spec: str) -> str:
    s = f"{x:{spec}}"
    return s.replace("-", "\u2212")


def truth_table(rows: list[dict]) -> str:
    """The Markdown table of docs/simulator.md."""
    out = ["| campaign | arm | assigned | holdout | control 7-day conversion | conversion lift "
           "| revenue lift 180 d (KRW) | churn HR |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lift = r["conversion_lift"]
        rev = r["revenue_lift_180d"]
        hr = r["churn_hazard_ratio"]
        lift_spec = "+.1f" if abs(lift) >= 5e-4 else "+.2f"     # a tiny lift keeps its sign
        out.append(
            f"| {r['campaign']} | {r['arm']} | {r['assigned']:,} | {r['holdout'] * 100:.0f} % "
            f"| {r['control_conversion'] * 100:.1f} % "
            f"| {'0' if lift == 0 else _signed(lift * 100, lift_spec) + ' pt'} "
            f"| {'0' if rev == 0 else _signed(rev, '+,.0f')} "
            f"| {'1' if hr == 1 else f'{hr:.3f}'} |")
    return "\n".join(out)


def profit_table(rows: list[dict]) -> str:
    """True incremental profit per arm over 180 days (the last column of the demo's verdicts)."""
    out = ["| campaign | arm | customers in the arm | true cost per customer (KRW) "
           "| true profit 180 d (KRW) |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['campaign']} | {r['arm']} | {r['n_arm']:,} "
                   f"| {r['cost_per_customer']:,.0f} "
                   f"| {_signed(r['true_profit_180d'] / 1e6, '+.2f')}M |")
    return "\n".join(out)


def program_lines(truth: dict) -> list[str]:
    """The program's truth (global holdout): lifts per member at 180 and 365 days."""
    p = truth.get("program")
    if not p:
        return []
    h = p["holdout"]
    lines = [f"global holdout {h['start'][:10]} .. {h['end'][:10]}: {h['n_held_out']:,} of "
             f"{h['n_members']:,} members held out ({h['n_held_out'] / h['n_members']:.1%})"]
    for days, v in p["horizons"].items():
        lines.append(
            f"{days} d (n={v['n_customers']:,}): revenue {_signed(v['revenue_lift'], '+,.0f')}, "
            f"cost {_signed(v['cost_lift'], '+,.0f')}, profit "
            f"{_signed(v['profit_lift'], '+,.0f')} KRW per member; retained "
            f"{_signed(v['retained_lift'] * 100, '+.2f')} pt, churned "
            f"{_signed(v['churned_lift'] * 100, '+.2f')} pt, "
            f"{v['messages_lift']:.2f} messages")
    return lines


def shop_line(data: Path) -> str:
    """The shop-wide figures of docs/simulator.md."""
    meta = json.loads((data / "meta.json").read_text())
    cust = pd.read_parquet(data / "customers.parquet", columns=["customer_id"])
    o = pd.read_parquet(data / "orders.parquet",
                        columns=["customer_id", "order_ts", "amount", "is_refund"])
    o = o[~o["is_refund"] & (o["amount"] > 0)]
    per = o.groupby("customer_id").size()
    gaps = (o.sort_values(["customer_id", "order_ts"]).groupby("customer_id")["order_ts"]
            .diff().dropna().dt.total_seconds() / 86400)
    q = np.percentile(gaps, [25, 50, 75])
    ev = pd.read_parquet(data / "events.parquet", columns=["event_type"])
    visits = int((ev["event_type"] == "visit").sum())
    rows = meta["rows"]
    return (f"{len(per) / len(cust) * 100:.0f} % of sign-ups buy, "
            f"{(per == 1).mean() * 100:.0f} % of buyers "
            f"buy once, the median order is {o['amount'].median():,.0f} KRW, the quartiles of "
            f"the time between purchases are {q[0]:.0f}, {q[1]:.0f} and {q[2]:.0f} days, and "
            f"there are about {visits / len(o):.1f} visits per order "
            f"({rows['events'] / 1e6:.1f} million events; "
            f"{rows.get('consent_events', 0) / 1e3:,.0f},000 consent events)")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/demo", help="simulated shop directory")
    ap.add_argument("--margin-rate", type=float, default=0.3)
    a = ap.parse_args(argv)
    data = Path(a.data)
    truth = json.loads((data / "ground_truth.json").read_text())
    rows = truth_rows(truth, _campaign_order(data, truth), a.margin_rate)
    print(truth_table(rows), "", profit_table(rows), "", *program_lines(truth), "",
          shop_line(data), sep="\n")
    return {"rows": rows}


if __name__ == "__main__":
    main()
