"""The ``crmlab`` command.

Exit codes: 0 success; 1 a command ran but found failures (a failed campaign, a hard data error);
2 bad usage (argparse).
"""
from __future__ import annotations

import argparse
import sys


def _cmd_simulate(args) -> int:
    from crmlab.data.simulate import simulate

    path = simulate(args.out, n_customers=args.customers, months=args.months, seed=args.seed)
    print(f"simulated shop written to {path}")
    return 0


def _cmd_validate(args) -> int:
    from crmlab.data.io import validate_command

    return validate_command(args.path, tz=args.tz)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crmlab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="write a simulated shop with known ground truth")
    p.add_argument("--customers", type=int, default=50_000, help="number of customers (default 50000)")
    p.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("validate", help="check a data directory against the contract")
    p.add_argument("path", help="directory of <table>.parquet/.csv files or a .duckdb file")
    p.add_argument("--tz", default="Asia/Seoul", help="time zone of the data (default Asia/Seoul)")
    p.set_defaults(func=_cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
