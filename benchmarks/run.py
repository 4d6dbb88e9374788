"""`make bench`: crmlab side by side with its peers, in one run -> benchmarks/RESULTS.md.

Every measurement runs in a fresh child process (benchmarks/_child.py); the timed span is the
operation alone (imports and input loading excluded), the median of BENCH_REPEATS runs (>= 3),
and peak memory is the child's maximum resident set size. crmlab runs in the project's .venv;
lifetimes and pymc-marketing run in benchmarks/.peers-venv, built here from
benchmarks/requirements-peers.txt and never installed into crmlab's environment.

Environment variables: BENCH_REPEATS (default 3), BENCH_LARGE=1 adds the 100M-order run,
BENCH_ONLY=<substring> runs only the operations whose name contains it.

The by-input-form section (benchmarks/bench_forms.py: each heavy operation on each input form,
with lifetimes and pymc-marketing on the same DataFrames) runs with the rest, or alone:

    python benchmarks/run.py --only input-forms

which rewrites only that section of RESULTS.md. BENCH_FORMS_SIZES (orders, comma separated;
default 5000000,10000000, customers = orders / 10) and BENCH_FORMS=<key,...> (see
benchmarks/forms.py) narrow it; BENCH_ONLY applies to its operation names too (there it may
list several substrings, comma separated).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402

PEERS_VENV = HERE / ".peers-venv"
MARKER = "@@RESULT@@"
REPEATS = max(3, int(os.environ.get("BENCH_REPEATS", "3")))


@dataclass
class Op:
    name: str
    size: str
    crmlab: tuple[str, str, dict]
    target: str = ""
    max_seconds: float | None = None
    max_rss_gib: float | None = None
    peers: list[tuple[str, str, str, dict]] = field(default_factory=list)  # (label, module, fn, kwargs)
    min_ratio: dict[str, float] = field(default_factory=dict)
    repeats: int | None = None
    compare_params: bool = False
    # runs of the peers when fewer than crmlab's (a peer taking minutes per run); shown in the table
    peer_repeats: int | None = None


def ensure_peers_venv() -> Path:
    """Create benchmarks/.peers-venv with the peer libraries (once; reused afterwards)."""
    py = PEERS_VENV / "bin" / "python"
    stamp = PEERS_VENV / ".installed"
    req = HERE / "requirements-peers.txt"
    if not stamp.exists() or stamp.stat().st_mtime < req.stat().st_mtime:
        if not py.exists():
            venv.create(PEERS_VENV, with_pip=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(req)], check=True)
        stamp.touch()
    return py


def run_child(python: str, module: str, fn: str, kwargs: dict) -> dict:
    """One measurement in a fresh process: the function's result plus peak RSS in GiB."""
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        env = dict(os.environ, PYTHONHASHSEED="0", MPLBACKEND="Agg")
        proc = subprocess.Popen([python, str(HERE / "_child.py"), module, fn, json.dumps(kwargs)],
                                stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = [ln for ln in out.read().splitlines() if ln.startswith(MARKER)]
        if proc.returncode != 0 or not lines:
            tail = err.read().strip().splitlines()[-5:]
            raise RuntimeError(f"{module}.{fn} failed (exit {proc.returncode}): " + " | ".join(tail))
    result = json.loads(lines[-1][len(MARKER):])
    result["peak_rss_gib"] = usage.ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux
    return result


def measure(python: str, module: str, fn: str, kwargs: dict, repeats: int) -> dict:
    runs = [run_child(python, module, fn, kwargs) for _ in range(repeats)]
    out = dict(runs[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["all_seconds"] = [round(r["seconds"], 3) for r in runs]
    out["peak_rss_gib"] = max(r["peak_rss_gib"] for r in runs)
    return out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"{mem:.0f} GiB RAM, Python {platform.python_version()}")


def versions(python: str, names: list[str]) -> str:
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({n: (m.version(n) if any(d.metadata['Name'].lower()==n for d in "
            "m.distributions()) else None) for n in sys.argv[1:]}))")
    res = subprocess.run([python, "-c", code, *names], capture_output=True, text=True)
    try:
        vers = json.loads(res.stdout)
    except json.JSONDecodeError:
        return "?"
    return ", ".join(f"{k} {v}" for k, v in vers.items() if v)


def fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def operations() -> list[Op]:
    from operations import OPERATIONS

    ops = OPERATIONS()
    only = os.environ.get("BENCH_ONLY")
    return [op for op in ops if not only or only in op.name]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    only_forms = "--only" in argv and argv[argv.index("--only") + 1:][:1] == ["input-forms"]
    started = dt.datetime.now(dt.timezone.utc)
    peers_py = str(ensure_peers_venv())
    own_py = sys.executable
    if only_forms:
        from run_forms import run_forms, write_forms_section

        section, failures = run_forms(own_py, peers_py, started)
        write_forms_section(section)
        print(f"[bench] wrote the input-form section of {HERE / 'RESULTS.md'}")
        return 1 if failures else 0
    rows, failures = [], []
    for op in operations():
        print(f"[bench] {op.name} ({op.size}) ...", flush=True)
        repeats = op.repeats or REPEATS
        try:
            mine = measure(own_py, *op.crmlab, repeats=repeats)
        except Exception as exc:  # record and go on: the table shows what failed
            failures.append(f"{op.name}: {exc}")
            print(f"  crmlab failed: {exc}", flush=True)
            continue
        row = {"op": op, "crmlab": mine, "peers": []}
        print(f"  crmlab {mine['seconds']:.3f} s, {mine['peak_rss_gib']:.2f} GiB", flush=True)
        for label, module, fn, kwargs in op.peers:
            try:
                theirs = measure(peers_py, module, fn, kwargs, repeats=op.peer_repeats or repeats)
            except Exception as exc:
                failures.append(f"{op.name} / {label}: {exc}")
                print(f"  {label} failed: {exc}", flush=True)
                row["peers"].append((label, None))
                continue
            print(f"  {label} {theirs['seconds']:.3f} s ({theirs['seconds'] / mine['seconds']:.1f}×)",
                  flush=True)
            row["peers"].append((label, theirs))
        rows.append(row)
    from run_forms import run_forms, write_forms_section

    section, form_failures = run_forms(own_py, peers_py, started)
    failures += form_failures
    write_results(rows, failures, started, own_py, peers_py)
    write_forms_section(section)
    print(f"[bench] wrote {HERE / 'RESULTS.md'}")
    return 1 if failures else 0


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _loglik_pair(op: Op, mine: dict, theirs: dict):
    """Total log-likelihood of the fitted data at crmlab's and at the peer's parameters.

    Evaluated with crmlab's exact likelihood (the Pareto/NBD closed form), so that a difference in
    the parameters can be read: the larger value is the closer to the maximum.
    """
    path = op.crmlab[2].get("summary_path")
    names = list(mine)
    if not path or not theirs or any(k not in theirs for k in names):
        return None
    import numpy as np
    import pandas as pd
    from crmlab.ltv import BetaGeoFitter
    from crmlab.ltv.paretonbd import pareto_nbd_loglik_exact

    s = pd.read_parquet(path, columns=["frequency", "recency", "T"])
    cols = tuple(s[c].to_numpy(float) for c in ("frequency", "recency", "T"))

    def total(params):
        p = np.array([params[k] for k in names], dtype=float)
        if names == ["r", "alpha", "a", "b"]:
            return float(np.sum(BetaGeoFitter._loglik_rows(p, cols)[0]))
        return float(np.sum(pareto_nbd_loglik_exact(p, *cols)))

    return total(mine), total(theirs)


def write_results(rows, failures, started, own_py, peers_py) -> None:
    finished = dt.datetime.now(dt.timezone.utc)
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (benchmarks/run.py); every number below comes from that run.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC (run took {(finished - started).total_seconds() / 60:.1f} min)",
        f"- Machine: {machine()}",
        f"- crmlab environment: {versions(own_py, ['crmlab', 'duckdb', 'ibis-framework', 'pandas', 'numpy', 'scipy', 'lifelines'])}",
        f"- Peers environment: {versions(peers_py, ['lifetimes', 'pymc-marketing', 'pymc', 'pandas', 'numpy', 'scipy'])}",
        f"- Each time is the median of {REPEATS} runs in fresh processes (fewer where the table says so);"
        " peak RSS is the largest over those runs, whole process.",
        "",
        "## crmlab against its targets",
        "",
        "| operation | size | crmlab s | peak RSS GiB | target | time | memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        op, mine = row["op"], row["crmlab"]
        t_ok = None if op.max_seconds is None else mine["seconds"] <= op.max_seconds
        m_ok = None if op.max_rss_gib is None else mine["peak_rss_gib"] <= op.max_rss_gib
        lines.append(f"| {op.name} | {op.size} | {fmt_s(mine['seconds'])} | {mine['peak_rss_gib']:.2f} |"
                     f" {op.target} | {_verdict(t_ok)} | {_verdict(m_ok)} |")
    lines += ["", "## Side by side with the peers", "",
              "| operation | size | crmlab s | peer | peer s | peer RSS GiB | speed-up | target | verdict |",
              "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        op, mine = row["op"], row["crmlab"]
        for label, theirs in row["peers"]:
            need = op.min_ratio.get(label)
            if theirs is None:
                lines.append(f"| {op.name} | {op.size} | {fmt_s(mine['seconds'])} | {label} | failed | — | — |"
                             f" {'≥ %g×' % need if need else ''} | — |")
                continue
            ratio = theirs["seconds"] / mine["seconds"]
            ok = None if need is None else ratio >= need
            n_runs = len(theirs.get("all_seconds", []))
            peer_s = fmt_s(theirs["seconds"]) + (f" ({n_runs} run{'s' if n_runs > 1 else ''})"
                                                  if n_runs < (op.repeats or REPEATS) else "")
            lines.append(f"| {op.name} | {op.size} | {fmt_s(mine['seconds'])} | {label} | {peer_s} |"
                         f" {theirs['peak_rss_gib']:.2f} | {ratio:.1f}× | {'≥ %g×' % need if need else ''} | {_verdict(ok)} |")
    fits = [r for r in rows if r["op"].compare_params]
    if fits:
        lines += ["", "## Fitted parameters, crmlab vs lifetimes (same input)", "",
                  "Agreement to 4 significant figures means a relative difference below 5 × 10⁻⁴"
                  " (|x − y| / |y| < 5 × 10⁻⁴). The log-likelihood of the same data at each set of"
                  " parameters (crmlab's exact likelihood) shows which is closer to the maximum.", "",
                  "| model | parameter | crmlab | lifetimes | relative difference | equal to 4 s.f. |",
                  "|---|---|---|---|---|---|"]
        for row in fits:
            mine = row["crmlab"].get("params", {})
            for label, theirs in row["peers"]:
                if theirs is None or label != "lifetimes":
                    continue
                for k, v in mine.items():
                    w = theirs.get("params", {}).get(k)
                    if w is None:
                        continue
                    rel = abs(v - w) / max(abs(w), 1e-300)
                    same = rel < 5e-4   # agreement to 4 significant figures: |x - y| / |y| < 5e-4
                    lines.append(f"| {row['op'].name} | {k} | {v:.6g} | {w:.6g} | {rel:.2e} | {'yes' if same else 'no'} |")
                ll = _loglik_pair(row["op"], mine, theirs.get("params", {}))
                if ll is not None:
                    lines.append(f"| {row['op'].name} | log-likelihood at these parameters | {ll[0]:.6f} |"
                                 f" {ll[1]:.6f} | difference {ll[0] - ll[1]:+.3g} | |")
    skip = {"seconds", "all_seconds", "peak_rss_gib", "params"}
    lines += ["", "## Details reported by the operations", ""]
    for row in rows:
        extra = {k: v for k, v in row["crmlab"].items()
                 if k not in skip and isinstance(v, (int, float, str, bool))}
        runs = ", ".join(f"{x:g}" for x in row["crmlab"]["all_seconds"])
        lines.append(f"- **{row['op'].name}** ({row['op'].size}): runs {runs} s"
                     + ("; " + ", ".join(f"{k} = {_fmt(v)}" for k, v in extra.items()) if extra else ""))
    if failures:
        lines += ["", "## Failures in this run", ""] + [f"- {f}" for f in failures]
    lines.append("")
    (HERE / "RESULTS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
