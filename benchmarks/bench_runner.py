"""Batch-runner benchmarks: the end-to-end demo, papermill's per-notebook overhead, and the
speed-up of ``--jobs 2`` over ``--jobs 1``.

Usage::

    python benchmarks/bench_runner.py            # all three, printed as JSON

Functions (each returns a dict with ``seconds``, as benchmarks/_child.py expects):

* :func:`bench_demo` — what ``make demo`` does once set up: simulate the default shop
  (50,000 customers × 24 months) and run every spec in ``experiments/`` with ``--jobs 2``
  (``--force``), rendering every report and the index. Target: ≤ 180 s on 2 cores.
* :func:`bench_notebook_overhead` — one campaign through the runner with a notebook that does
  nothing but write a minimal results.json: kernel start, papermill, results, HTML. Also the bare
  ``papermill.execute_notebook`` of the same notebook. This is the fixed cost every campaign pays.
* :func:`bench_jobs_speedup` — the demo campaigns (every spec of ``experiments/``) with
  ``jobs=1`` and with ``jobs=2``.

Work files go to ``benchmarks/.work/`` (git-ignored).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "runner"


def _demo_data(n_customers: int = 50_000, months: int = 24, seed: int = 0) -> tuple[Path, float]:
    """The demo shop under benchmarks/.work (simulated once); returns (dir, seconds it took)."""
    from crmlab.data.simulate import simulate

    out = WORK / f"shop-{n_customers}-{months}-{seed}"
    if (out / "orders.parquet").exists():
        return out, 0.0
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    simulate(out, n_customers=n_customers, months=months, seed=seed)
    return out, time.perf_counter() - t0


def _run(data: Path, jobs: int, out: Path, **kw) -> dict:
    from crmlab.runner import run

    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    res = run(ROOT / "experiments", data=data, out=out, jobs=jobs, force=True, progress=False,
              **kw)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "campaigns": len(res.campaigns), "failed": len(res.failed),
            "per_campaign": {c["campaign_id"]: round(c["seconds"], 1) for c in res.campaigns}}


def bench_demo(n_customers: int = 50_000, resimulate: bool = True) -> dict:
    """Seconds of the demo end to end: simulate the shop, run every demo campaign (2 jobs).

    ``resimulate=False`` reuses a cached shop (then only the runner is timed).
    """
    import papermill  # noqa: F401  (imports outside the timing, as in a warm `make demo`)

    WORK.mkdir(parents=True, exist_ok=True)
    if resimulate:
        shutil.rmtree(WORK / f"shop-{n_customers}-24-0", ignore_errors=True)
    data, sim_seconds = _demo_data(n_customers)
    run = _run(data, 2, WORK / "reports-demo")
    return {"seconds": sim_seconds + run["seconds"], "simulate_seconds": sim_seconds,
            "run_seconds": run["seconds"], "campaigns": run["campaigns"],
            "failed": run["failed"], "per_campaign": run["per_campaign"],
            "target_seconds": 180}


def _empty_notebook(path: Path) -> Path:
    import nbformat as nbf

    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "crmlab", "display_name": "crmlab (Python 3.11)",
                                 "language": "python"}
    params = nbf.v4.new_code_cell('spec_path = ""\ndata_dir = ""\nresults_path = "results.json"\n'
                                  'report_lang = None\nprovenance_json = "{}"')
    params.metadata["tags"] = ["parameters"]
    body = nbf.v4.new_code_cell(
        "import json\n"
        "with open(results_path, 'w') as fh:\n"
        "    json.dump({'status': 'ok', 'provenance': json.loads(provenance_json)}, fh)")
    nb.cells = [params, body]
    nbf.write(nb, path)
    return path


def bench_notebook_overhead(repeats: int = 3) -> dict:
    """Fixed cost per campaign: the runner (kernel, papermill, results, HTML) on an empty notebook,
    and bare papermill on the same notebook; medians of ``repeats`` runs in this process."""
    import statistics

    import papermill as pm

    from crmlab.data.examples import tiny_tables, write_tables
    from crmlab.runner import run

    base = Path(tempfile.mkdtemp(prefix="crmlab-bench-nb-", dir=WORK if WORK.exists() else None))
    try:
        nb = _empty_notebook(base / "empty.ipynb")
        data = base / "data"
        write_tables(tiny_tables(), data)
        (base / "exp").mkdir()
        (base / "exp" / "empty.yaml").write_text("campaign_id: empty\n")
        runner_s, bare_s = [], []
        for i in range(repeats):
            t0 = time.perf_counter()
            res = run(base / "exp", data=data, out=base / f"out{i}", notebook=nb, force=True,
                      progress=False, index=False)
            runner_s.append(time.perf_counter() - t0)
            assert res.exit_code == 0, res.reading
            t0 = time.perf_counter()
            pm.execute_notebook(str(nb), str(base / f"bare{i}.ipynb"), kernel_name="crmlab",
                                parameters={"results_path": str(base / f"bare{i}.json")},
                                progress_bar=False, cwd=str(base))
            bare_s.append(time.perf_counter() - t0)
        return {"seconds": statistics.median(runner_s),
                "papermill_seconds": statistics.median(bare_s),
                "runner_all": [round(s, 2) for s in runner_s],
                "papermill_all": [round(s, 2) for s in bare_s]}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def bench_jobs_speedup(n_customers: int = 50_000, jobs2_seconds: float | None = None) -> dict:
    """The demo campaigns with ``jobs=1`` and ``jobs=2``; ``speedup`` = t(1) / t(2).

    ``jobs2_seconds`` reuses a ``jobs=2`` time measured on the same data (e.g. by
    :func:`bench_demo`) instead of running it again.
    """
    import papermill  # noqa: F401

    WORK.mkdir(parents=True, exist_ok=True)
    data, _ = _demo_data(n_customers)
    one = _run(data, 1, WORK / "reports-jobs1")
    two = jobs2_seconds if jobs2_seconds is not None else \
        _run(data, 2, WORK / "reports-jobs2")["seconds"]
    return {"seconds": one["seconds"], "jobs1_seconds": one["seconds"], "jobs2_seconds": two,
            "speedup": one["seconds"] / two, "failed": one["failed"]}


def main() -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    load = os.getloadavg()
    demo = bench_demo()
    print(json.dumps({"demo": demo}, indent=1), flush=True)
    overhead = bench_notebook_overhead()
    print(json.dumps({"notebook_overhead": overhead}, indent=1), flush=True)
    speed = bench_jobs_speedup(jobs2_seconds=demo["run_seconds"])
    print(json.dumps({"jobs_speedup": speed}, indent=1), flush=True)
    print(json.dumps({"summary": {
        "demo_end_to_end_s": round(demo["seconds"], 1),
        "demo_simulate_s": round(demo["simulate_seconds"], 1),
        "demo_run_jobs2_s": round(demo["run_seconds"], 1),
        "per_notebook_runner_overhead_s": round(overhead["seconds"], 2),
        "per_notebook_papermill_s": round(overhead["papermill_seconds"], 2),
        "jobs1_s": round(speed["jobs1_seconds"], 1),
        "speedup_jobs2_over_jobs1": round(speed["speedup"], 2),
        "load_average_at_start": [round(x, 1) for x in load],
        "cpus": os.cpu_count(),
    }}, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
