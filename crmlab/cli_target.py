"""``crmlab target SPEC --budget KRW``: the next audience of a campaign, chosen by an uplift
model learned from its randomized holdout, written as a CSV of **customer ids** for the CRM tool.

The CSV holds customer ids (``customer_id, arm, expected_profit, expected_cost, rank``): it is
meant for the sending tool, never for a report. What is printed holds aggregates only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


def add_parser(sub) -> None:
    """Register the ``target`` subcommand on the ``crmlab`` parser's subparsers."""
    p = sub.add_parser(
        "target", help="the next audience by expected incremental profit (a CSV of customer ids)",
        description="Learn whom the campaign's message changes from its randomized holdout "
                    "(uplift meta-learner, cross-fitted), and write the customers to send to "
                    "next time, best arm per customer, most profitable first, within a budget. "
                    "The output CSV holds CUSTOMER IDS for the CRM tool; reports never do.",
        epilog="example: crmlab target experiments/winback_lms.yaml --data data/demo "
               "--budget 2000000 --out audiences/winback_lms.csv")
    p.add_argument("spec", help="experiment spec (YAML) of the campaign")
    p.add_argument("--data", default=None,
                   help="data directory (default: the spec's data, else data/demo)")
    p.add_argument("--budget", type=float, default=None,
                   help="KRW of expected spend (sends + expected coupons); default: no limit")
    p.add_argument("--min-profit", type=float, default=0.0,
                   help="only customers whose expected incremental profit exceeds this "
                        "(KRW, default 0)")
    p.add_argument("--max-share", type=float, default=None,
                   help="at most this share of the customers (0..1)")
    p.add_argument("--outcome", choices=["conversion", "revenue"], default=None,
                   help="the outcome the model learns (default: the spec's primary metric "
                        "when it is conversion or revenue)")
    p.add_argument("--learner", choices=["t", "x", "dr"], default="dr",
                   help="meta-learner (default dr)")
    p.add_argument("--margin", type=float, default=None,
                   help="KRW of margin per incremental conversion, or margin per KRW of "
                        "revenue; default from the spec's economics.margin_rate")
    p.add_argument("--out", default=None,
                   help="output CSV of customer ids (default audiences/<campaign_id>.csv)")
    p.set_defaults(func=run_target)


def _default_margin(spec, data, outcome: str) -> float:
    """margin_rate on revenue, or margin_rate × the mean 7-day revenue of a converting
    customer of the campaign (KRW of margin per conversion)."""
    rate = float(spec.economics.margin_rate)
    if outcome == "revenue":
        return rate
    from crmlab.campaign.table import campaign_table

    t = campaign_table(data, spec.campaign_id, window_days=spec.primary_metric.window_days,
                       horizon_days=spec.horizon_days)
    conv = t[t.conversion == 1]
    if len(conv) == 0:
        raise ValueError(f"{spec.campaign_id}: no converting customer; pass --margin")
    return rate * float(conv.pos_revenue.mean())


def run_target(args) -> int:
    from crmlab.data.io import load
    from crmlab.experiments import SpecError, load_spec
    from crmlab.uplift.targeting import next_audience

    try:
        spec = load_spec(args.spec)
    except (SpecError, FileNotFoundError) as exc:
        print(f"crmlab target: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.max_share is not None and not 0 < args.max_share <= 1:
        print(f"crmlab target: --max-share must be in (0, 1], got {args.max_share}",
              file=sys.stderr)
        return EXIT_USAGE
    if args.budget is not None and args.budget < 0:
        print(f"crmlab target: --budget must be ≥ 0, got {args.budget}", file=sys.stderr)
        return EXIT_USAGE
    data_dir = Path(args.data) if args.data else spec.data_dir(default="data/demo")
    if data_dir is None or not Path(data_dir).exists():
        print(f"crmlab target: data directory not found: {data_dir}", file=sys.stderr)
        return EXIT_USAGE
    outcome = args.outcome or (spec.primary_metric.name
                               if spec.primary_metric.name in ("conversion", "revenue")
                               else "conversion")
    try:
        data = load(data_dir)
        margin = args.margin if args.margin is not None else _default_margin(spec, data, outcome)
        aud = next_audience(data, spec.campaign_id, outcome=outcome, learner=args.learner,
                            margin=margin, budget=args.budget, min_profit=args.min_profit,
                            max_share=args.max_share,
                            window_days=spec.primary_metric.window_days,
                            horizon_days=spec.horizon_days)
    except ValueError as exc:
        print(f"crmlab target: {exc}", file=sys.stderr)
        return EXIT_FAILURES
    out = Path(args.out) if args.out else Path("audiences") / f"{spec.campaign_id}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    aud.table.to_csv(tmp, index=False)
    tmp.replace(out)
    n = len(aud.table)
    print(f"{spec.campaign_id}: {n:,} customers selected ({outcome}, {args.learner}-learner, "
          f"margin {margin:,.2f})" + (f", budget {args.budget:,.0f} KRW" if args.budget else ""))
    for row in aud.summary.itertuples(index=False):
        print(f"  {row.arm}: {row.customers:,} customers, expected incremental profit "
              f"{row.expected_profit:,.0f} KRW, expected spend {row.expected_cost:,.0f} KRW")
    print(f"wrote {out}: CUSTOMER IDS (customer_id, arm, expected_profit, expected_cost, rank) "
          "for the CRM tool; keep it out of reports")
    return EXIT_OK


def _standalone(argv=None) -> int:    # pragma: no cover - `python -m crmlab.cli_target`
    parser = argparse.ArgumentParser(prog="crmlab")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_standalone())
