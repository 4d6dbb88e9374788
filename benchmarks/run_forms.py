"""The by-input-form section of RESULTS.md: operation × input form × crmlab × peers × ratio.

Each heavy operation runs on the same order log in every input form of benchmarks/forms.py, in
fresh processes (benchmarks/bench_forms.py); lifetimes and pymc-marketing run on the same
DataFrames for the pandas forms (benchmarks/peers.py, in benchmarks/.peers-venv). Targets:
every form within 1.5× of the Parquet-through-the-engine time of the same operation;
``rfm_summary`` ≥ 8× lifetimes and pymc-marketing and the calibration/holdout split ≥ 20×
lifetimes on every pandas form; extra peak memory for a pandas input at most the DataFrame's
own size.
"""
from __future__ import annotations

import datetime as dt
import os
import statistics
from pathlib import Path

import data
import forms
from bench_forms import OPERATIONS
from run import HERE, REPEATS, fmt_s, machine, measure, run_child, versions

BEGIN, END = "<!-- input-forms:begin -->", "<!-- input-forms:end -->"
PEERS = {"rfm_summary": [("lifetimes", 8.0), ("pymc-marketing", 8.0)],
         "calibration/holdout split": [("lifetimes", 20.0)]}
MAX_FORM_RATIO = 1.5


def _sizes() -> list[int]:
    raw = os.environ.get("BENCH_FORMS_SIZES", "5000000,10000000")
    return [int(float(x)) for x in raw.split(",") if x.strip()]


def _forms() -> list[str]:
    keys = [k for k, _, _ in forms.FORMS]
    raw = os.environ.get("BENCH_FORMS")
    chosen = keys if not raw else [k.strip() for k in raw.split(",") if k.strip()]
    unknown = set(chosen) - set(keys)
    if unknown:
        raise ValueError(f"BENCH_FORMS: unknown form(s) {sorted(unknown)}; forms are {keys}")
    return ["parquet"] + [k for k in chosen if k != "parquet"]  # the reference always runs


def _size_label(n: int) -> str:
    return f"{n / 1e6:g}M orders / {n / 1e7:g}M customers"


def run_forms(own_py: str, peers_py: str, started) -> tuple[list[str], list[str]]:
    """Measure every (size, operation, form); return the section's lines and the failures."""
    only = [x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()]
    ops = [op for op in OPERATIONS if not only or any(x in op for x in only)]
    peer_repeats = int(os.environ.get("BENCH_FORMS_PEER_REPEATS", "1"))
    rows, failures = [], []
    for n in _sizes():
        orders_dir = str(data.orders_path(n, n // 10))
        forms.prepare(orders_dir)
        for op in ops:
            ref = None
            for form in _forms():
                print(f"[bench] {op} / {forms.LABELS[form]} ({_size_label(n)}) ...", flush=True)
                kwargs = {"orders_dir": orders_dir, "op": op, "form": form}
                load = [os.getloadavg()[0]]  # the machine may be shared: noted next to the times
                try:
                    if form == "parquet":
                        mine = measure(own_py, "bench_forms", "bench_form", kwargs, REPEATS)
                        ref = mine["seconds"]
                    else:
                        mine, ref = _paired(own_py, kwargs)
                except Exception as exc:
                    failures.append(f"{op} / {form} ({_size_label(n)}): {exc}")
                    print(f"  crmlab failed: {exc}", flush=True)
                    continue
                print(f"  crmlab {mine['seconds']:.3f} s (Parquet alongside: {ref:.3f} s)",
                      flush=True)
                peers = []
                for label, need in PEERS.get(op, []) if form in forms.PANDAS_FORMS else []:
                    try:
                        theirs = measure(peers_py, "peers", "peer_form", {**kwargs, "lib": label},
                                         peer_repeats)
                        print(f"  {label} {theirs['seconds']:.3f} s "
                              f"({theirs['seconds'] / mine['seconds']:.1f}×)", flush=True)
                    except Exception as exc:
                        failures.append(f"{op} / {form} / {label}: {exc}")
                        theirs = None
                    peers.append((label, need, theirs))
                load.append(os.getloadavg()[0])
                rows.append({"size": n, "op": op, "form": form, "mine": mine, "ref": ref,
                             "peers": peers, "load": load})
    return _section(rows, failures, started, own_py, peers_py, peer_repeats), failures


def _paired(own_py: str, kwargs: dict) -> tuple[dict, float]:
    """The form's runs, each right after a run of the Parquet reference (fresh processes), so
    that the × Parquet ratio compares runs made at the same load: (the form's measurement, the
    median of the reference runs made alongside)."""
    ref_kwargs = {**kwargs, "form": "parquet"}
    runs, refs = [], []
    for _ in range(REPEATS):
        refs.append(run_child(own_py, "bench_forms", "bench_form", ref_kwargs)["seconds"])
        runs.append(run_child(own_py, "bench_forms", "bench_form", kwargs))
    out = dict(runs[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["all_seconds"] = [round(r["seconds"], 3) for r in runs]
    out["peak_rss_gib"] = max(r["peak_rss_gib"] for r in runs)
    return out, statistics.median(refs)


def _section(rows, failures, started, own_py, peers_py, peer_repeats) -> list[str]:
    lines = [
        BEGIN,
        "## By input form",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; machine: {machine()}",
        f"- crmlab environment: {versions(own_py, ['crmlab', 'duckdb', 'ibis-framework', 'pandas', 'pyarrow'])}",
        f"- Peers environment: {versions(peers_py, ['lifetimes', 'pymc-marketing', 'pandas'])}",
        f"- crmlab: median of {REPEATS} runs in fresh processes; peers: {peer_repeats} run(s) on the"
        " same DataFrame. The timed span is the whole call on an input built before the clock"
        " (converting a DataFrame, parsing a CSV or scanning Parquet included); the engine is"
        " started before it for every form alike.",
        "- × Parquet: the form's time over the Parquet-through-the-engine time of the same"
        f" operation and size (target ≤ {MAX_FORM_RATIO}×), the reference run right before each"
        " of the form's runs (median of those), so that both see the same load; the Parquet row"
        " is its own series. Extra peak: resident memory above"
        " the level before the call, against the DataFrame's own size (target ≤ 1×).",
        "- Peer ratio: the peer's time over crmlab's on the same form (targets: rfm_summary ≥ 8×"
        " lifetimes and pymc-marketing, calibration/holdout split ≥ 20× lifetimes).",
        f"- Load: the 1-minute load average of the machine ({os.cpu_count()} cores) before and"
        " after each row's runs; above the core count other work shared the cores, which"
        " stretches wall times, so compare the ratios of rows measured at a similar load.",
        "",
        "| operation | size | input form | crmlab s | × Parquet | extra peak GiB | DataFrame GiB |"
        " lifetimes s | × | pymc-marketing s | × | load | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mine, ref = r["mine"], r["ref"]
        ratio = None if not ref else mine["seconds"] / ref
        missed = []
        if ratio is not None and r["form"] != "parquet" and ratio > MAX_FORM_RATIO:
            missed.append(f"{ratio:.2f}× Parquet")
        extra, size = mine.get("extra_peak_gib"), mine.get("input_gib")
        if extra is not None and size is not None and extra > size:
            missed.append("memory")
        cells = {}
        for label, need, theirs in r["peers"]:
            if theirs is None:
                cells[label] = ("failed", "—")
                continue
            x = theirs["seconds"] / mine["seconds"]
            cells[label] = (fmt_s(theirs["seconds"]), f"{x:.1f}×")
            if x < need:
                missed.append(f"{x:.1f}× {label} < {need:g}×")
        verdict = "—" if r["form"] == "parquet" and not r["peers"] else (
            "met" if not missed else "**missed**: " + ", ".join(missed))
        lt, pm = cells.get("lifetimes", ("", "")), cells.get("pymc-marketing", ("", ""))
        lines.append(
            f"| {r['op']} | {_size_label(r['size'])} | {forms.LABELS[r['form']]} |"
            f" {fmt_s(mine['seconds'])} |"
            f" {'' if ratio is None else f'{ratio:.2f}×' + ('' if r['form'] == 'parquet' else f' (of {fmt_s(ref)})')} |"
            f" {'' if extra is None else f'{extra:.2f}'} | {'' if size is None else f'{size:.2f}'} |"
            f" {lt[0]} | {lt[1]} | {pm[0]} | {pm[1]} |"
            f" {'–'.join(f'{x:.1f}' for x in r.get('load', []))} | {verdict} |")
    if failures:
        lines += ["", "Failures in this section:", ""] + [f"- {f}" for f in failures]
    lines += ["", END, ""]
    return lines


def write_forms_section(lines: list[str]) -> None:
    """Put the section into RESULTS.md, replacing the one there (the rest is left as it is)."""
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + (("\n" + tail) if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    Path(path).write_text(text)


if __name__ == "__main__":  # same as `python benchmarks/run.py --only input-forms`
    import sys

    from run import main

    sys.exit(main(["--only", "input-forms"]))
