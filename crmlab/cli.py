"""The ``crmlab`` command: simulate a shop, check data, run campaign experiments, read reports.

Commands
  simulate        write a simulated shop with known ground truth
  validate        check a data directory against the data contract
  run             evaluate every experiment spec with the campaign report notebook (papermill)
  report          re-render report.html from executed notebooks, and the portfolio index
  list            experiment specs and the status of their last run
  new-experiment  scaffold a commented experiment spec
  power           sample size of a conversion-rate experiment
  target          the next audience by expected incremental profit (a CSV of customer ids)

Exit codes
  0    success
  1    the command ran but found failures: a campaign failed (run, report), the data break the
       contract (validate), an experiment spec is invalid (list)
  2    bad usage: unknown option or value, a missing experiments directory, an --only that
       matches no spec, a spec file that already exists (new-experiment)
  130  interrupted (Ctrl-C): running campaigns stopped, queued ones not started
  143  terminated (SIGTERM), as for Ctrl-C

``crmlab COMMAND --help`` describes each command.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


def _err(message: str) -> None:
    print(f"crmlab: error: {message}", file=sys.stderr)


def _cmd_simulate(args) -> int:
    from crmlab.data.simulate import simulate

    import json

    try:
        path = simulate(args.out, n_customers=args.customers, months=args.months, seed=args.seed,
                        start=args.start)
    except ValueError as exc:
        print(f"crmlab simulate: {exc}", file=sys.stderr)
        return 2
    meta = json.loads((path / "meta.json").read_text())
    print(f"simulated shop written to {path}: "
          + ", ".join(f"{k} {v:,}" for k, v in meta["rows"].items())
          + f"; observed {meta['start'][:10]} .. {meta['observation_end'][:10]} (exclusive)")
    truth = json.loads((path / "ground_truth.json").read_text())
    print("true effects (ground_truth.json): campaign / arm: 7-day conversion lift, "
          "180-day revenue lift per customer, churn hazard ratio")

    def fmt(value, spec: str, unit: str = "") -> str:
        return "n/a" if value is None else f"{value:{spec}}{unit}"

    for cid, gt in truth.items():
        if cid == "program":      # the program's truth, not a campaign
            continue
        for arm, e in gt["arms"].items():
            print(f"  {cid} / {arm} (n={gt['n_assigned']}): "
                  f"{fmt(e['conversion_lift'], '+.2%')}, "
                  f"{fmt(e['revenue_lift_180d'], '+,.0f', ' ' + meta['currency'])}, "
                  f"HR {fmt(e['churn_hazard_ratio'], '.3f')}")
    return 0


def _cmd_validate(args) -> int:
    from crmlab.data.io import validate_command

    return validate_command(args.path, tz=args.tz)


def _cmd_run(args) -> int:
    from crmlab.runner import run

    experiments = Path(args.experiments)
    if not experiments.exists():
        _err(f"experiments directory not found: {experiments}")
        return EXIT_USAGE
    if Path(args.out).exists() and not Path(args.out).is_dir():
        _err(f"--out {args.out} is an existing file, not a folder")
        return EXIT_USAGE
    try:
        result = run(experiments, data=args.data, out=args.out, jobs=args.jobs, only=args.only,
                     force=args.force, report_lang=args.report_lang, timeout=args.timeout,
                     notebook=args.notebook, progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    width = max([len(c["campaign_id"]) for c in result.campaigns] + [8])
    for c in result.campaigns:
        seconds = f"{c['seconds']:7.1f} s" if c["status"] != "skipped" else " " * 9
        print(f"{c['campaign_id']:<{width}}  {c['status']:<7} {seconds}")
    print(result.reading.split(" Failed:")[0])
    if result.index_path is not None:
        print(f"portfolio: {result.index_path}")
    if result.failed:
        print("\nfailed campaigns:", file=sys.stderr)
        for c in result.failed:
            print(f"  {c['campaign_id']}: {c['error']}", file=sys.stderr)
            if c.get("log"):
                print(f"    log: {c['log']}", file=sys.stderr)
    if result.index_error:
        _err(result.index_error)
    return result.exit_code


def _cmd_report(args) -> int:
    from crmlab.runner import render_reports

    out = Path(args.out)
    if not out.is_dir():
        _err(f"reports directory not found: {out}")
        return EXIT_USAGE
    done = render_reports(out, only=args.only, lang=args.report_lang,
                          notify=lambda message: print(message, file=sys.stderr, flush=True))
    for d in done:
        print(f"{d['campaign_id']}: {d['status']}" + (f" — {d['error']}" if d["error"] else ""))
    print(f"portfolio: {out / 'index.html'}")
    return EXIT_FAILURES if any(d["status"] != "ok" for d in done) else EXIT_OK


def _cmd_list(args) -> int:
    from crmlab.runner import list_campaigns

    experiments = Path(args.experiments)
    if not experiments.exists():
        _err(f"experiments directory not found: {experiments}")
        return EXIT_USAGE
    rows = list_campaigns(experiments, args.out)
    if not rows:
        print(f"no experiment specs in {experiments}")
        return EXIT_OK
    width = max(len(r["campaign_id"]) for r in rows + [{"campaign_id": "campaign"}])
    print(f"{'campaign':<{width}}  {'spec':<8} {'last run':<10} {'verdict':<13} finished")
    for r in rows:
        spec = "ok" if r["valid"] else "INVALID"
        print(f"{r['campaign_id']:<{width}}  {spec:<8} {r['status']:<10} "
              f"{r['verdict'] or '–':<13} {r['finished_at'] or '–'}")
    problems = [r for r in rows if not r["valid"] or r["status"] == "failed"]
    for r in problems:
        print(f"  {r['campaign_id']}: {r['error']}", file=sys.stderr)
    return EXIT_FAILURES if any(not r["valid"] for r in rows) else EXIT_OK


def _cmd_new_experiment(args) -> int:
    from crmlab.experiments import SpecError, new_experiment

    try:
        path = new_experiment(args.campaign_id, args.dir, title=args.title, data=args.data,
                              overwrite=args.force)
    except (SpecError, FileExistsError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(f"experiment spec written to {path} as a draft (`crmlab run` skips it); fill it in, "
          f"delete its `draft: true` line, then: crmlab run {args.dir}")
    return EXIT_OK


def _cmd_power(args) -> int:
    from crmlab.abtest import sample_size_proportions

    p_control = args.baseline
    p_treatment = p_control + args.mde if not args.relative else p_control * (1 + args.mde)
    ratio = args.ratio
    try:
        res = sample_size_proportions(p_control, p_treatment, alpha=args.alpha, power=args.power,
                                      ratio=ratio, alternative=args.alternative,
                                      method=args.method)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(res.reading)
    n_c, n_t = res.n_control_ceil, res.n_treatment_ceil
    print(f"control: {n_c:,}  treatment: {n_t:,}  total: {n_c + n_t:,}")
    return EXIT_OK


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; expected >= 1")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; expected a rate in (0, 1)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crmlab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from crmlab import __version__

    parser.add_argument("--version", action="version", version=f"crmlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="write a simulated shop with known ground truth",
                       description="Write a simulated shop (customers, orders, events, campaigns, "
                                   "assignments, meta.json, ground_truth.json).")
    p.add_argument("--customers", type=int, default=50_000, help="number of customers (default 50000)")
    p.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--start", default="2024-01-01",
                   help="first day, local time (default 2024-01-01)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("validate", help="check a data directory against the contract",
                       description="Check a data source against the data contract and print "
                                   "its data-quality ledger. Exit 1 when the data break it.")
    p.add_argument("path", help="directory of <table>.parquet/.csv files or a .duckdb file")
    p.add_argument("--tz", default=None,
                   help="time zone of the data (default: the tz in meta.json, else Asia/Seoul)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser(
        "run", help="evaluate every experiment spec with the campaign report notebook",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Execute the campaign report notebook once per experiment spec with "
                    "papermill, in parallel worker processes, and write per campaign "
                    "OUT/<campaign_id>/{report.ipynb, report.html, results.json, run.log} and "
                    "the portfolio OUT/index.html. A campaign whose spec, data, code and report "
                    "language are unchanged since its last successful run is skipped.",
        epilog="exit status: 0 all campaigns ok or unchanged; 1 one or more failed (listed on "
               "stderr); 2 bad usage.")
    p.add_argument("experiments", nargs="?", default="experiments", metavar="EXPERIMENTS_DIR",
                   help="folder of <campaign_id>.yaml specs, or one spec file "
                        "(default: experiments)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data directory for specs whose 'data' is null")
    p.add_argument("--out", default="reports", metavar="DIR", help="reports folder (default: reports)")
    p.add_argument("--jobs", "-j", type=_positive_int, default=1, metavar="N",
                   help="campaigns run at once, each in its own process (default 1)")
    p.add_argument("--only", action="append", default=None, metavar="ID",
                   help="run only this campaign (repeat, or comma-separate, for several)")
    p.add_argument("--force", action="store_true", help="rerun campaigns even when unchanged")
    p.add_argument("--report-lang", choices=["en", "ko"], default=None,
                   help="report language for every campaign (default: each spec's report_lang)")
    p.add_argument("--timeout", type=_positive_int, default=1800, metavar="SECONDS",
                   help="seconds one notebook cell may run before the campaign fails "
                        "(default 1800)")
    p.add_argument("--notebook", default=None, metavar="PATH",
                   help="the parameterized notebook (default notebooks/campaign_report.ipynb)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="re-render report.html from executed notebooks",
                       description="Re-render OUT/<campaign_id>/report.html from each executed "
                                   "report.ipynb (no re-execution) and rebuild OUT/index.html.")
    p.add_argument("--out", default="reports", metavar="DIR", help="reports folder (default: reports)")
    p.add_argument("--only", action="append", default=None, metavar="ID",
                   help="only this campaign (repeat or comma-separate)")
    p.add_argument("--report-lang", choices=["en", "ko"], default=None,
                   help="language of the HTML pages (default: each campaign's)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("list", help="experiment specs and the status of their last run",
                       description="List each experiment spec, whether it is valid, and its "
                                   "last run's status, verdict and time. Exit 1 when a spec is "
                                   "invalid.")
    p.add_argument("experiments", nargs="?", default="experiments", metavar="EXPERIMENTS_DIR",
                   help="folder of specs (default: experiments)")
    p.add_argument("--out", default="reports", metavar="DIR", help="reports folder (default: reports)")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("new-experiment", help="scaffold a commented experiment spec",
                       description="Write DIR/<campaign_id>.yaml with every key at its default "
                                   "and a comment saying what it means.")
    p.add_argument("campaign_id", help="the campaign's id in the campaigns table")
    p.add_argument("--dir", default="experiments", help="where to write (default: experiments)")
    p.add_argument("--title", default=None, help="display name")
    p.add_argument("--data", default=None, help="data directory, relative to the spec file")
    p.add_argument("--force", action="store_true", help="overwrite an existing spec")
    p.set_defaults(func=_cmd_new_experiment)

    p = sub.add_parser(
        "power", help="sample size of a conversion-rate experiment",
        description="Customers needed in control and treatment to detect a change in a "
                    "conversion rate (two-proportion test; R's power.prop.test at ratio 1).",
        # argparse %-formats help strings (so they write %%) but prints an epilog as is
        epilog="example: crmlab power --baseline 0.05 --mde 0.01 --ratio 9  "
               "(5% -> 6%, a 10% holdout)")
    p.add_argument("--baseline", type=_rate, required=True,
                   help="control conversion rate, e.g. 0.05")
    p.add_argument("--mde", type=float, required=True,
                   help="minimum detectable effect: absolute (0.01 = +1 pp) or, with "
                        "--relative, relative (0.1 = +10%%)")
    p.add_argument("--relative", action="store_true", help="--mde is relative to the baseline")
    p.add_argument("--alpha", type=_rate, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--power", type=_rate, default=0.8, help="power (default 0.8)")
    p.add_argument("--ratio", type=float, default=1.0,
                   help="treatment size / control size (default 1; 9 for a 10%% holdout)")
    p.add_argument("--alternative", choices=["two-sided", "one-sided"], default="two-sided")
    p.add_argument("--method", choices=["pooled", "unpooled"], default="pooled",
                   help="variance under the null: pooled (R) or unpooled (default pooled)")
    p.set_defaults(func=_cmd_power)

    from crmlab.cli_target import add_parser as _add_target   # crmlab target (uplift)
    _add_target(sub)
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that running work is stopped and cleaned up."""


def _terminate(signum, frame):
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args) or 0)
    except (KeyboardInterrupt, _Terminated) as exc:
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated (SIGTERM)"
        more = ("; running campaigns stopped, queued ones not started"
                if args.command == "run" else "")
        print(f"crmlab {args.command}: {what}{more}", file=sys.stderr)
        return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
