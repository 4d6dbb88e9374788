"""Batch runs of the campaign report: papermill once per experiment spec, provenance, skips.

:func:`run` executes ``notebooks/campaign_report.ipynb`` with papermill once per spec in
``experiments/``, in parallel worker processes, and writes, per campaign, atomically
(temporary file, then :func:`os.replace`)::

    reports/<campaign_id>/report.ipynb   the executed notebook (kept when a cell fails)
    reports/<campaign_id>/report.html    inputs hidden, self-contained (opens offline)
    reports/<campaign_id>/results.json   the numbers, the verdict and the provenance
    reports/<campaign_id>/run.log        the notebook's output and any error
    reports/index.html                   the portfolio: one row per campaign

Each campaign runs in a fresh worker process supervised by :mod:`crmlab.batch`: workers and
their kernels die with the batch, a worker killed mid-run fails at most its own campaign (retried
once), Ctrl-C starts nothing more, and two runs into one folder take turns (a lock).
The pages themselves are made by :mod:`crmlab.reporting` (``report.html``:
:func:`crmlab.reporting.html.render_html`; ``index.html``:
:func:`crmlab.reporting.portfolio.build_index`); their names stay importable from here.

A campaign that fails (a bad spec, bad data, an exception in a cell, a timeout, a folder that
cannot be written) is recorded and the others finish. Its last good ``results.json``,
``report.html``, ``report.ipynb`` and ``run.log`` stay; the failed run is recorded beside them in
``last_failure.json`` (with ``last_failure.log``); a campaign without a good run has
``status: "failed"`` and its ``error`` in ``results.json``. A campaign is skipped when its spec,
its data fingerprint, the code version and the report language are unchanged since its last
successful run and its latest run did not fail (``force=True`` reruns it).

Examples
--------
>>> from crmlab.runner import run
>>> result = run("experiments", data="data/demo", out="reports", jobs=2)  # doctest: +SKIP
>>> result.exit_code, [c["campaign_id"] for c in result.failed]  # doctest: +SKIP
(0, [])
"""
from __future__ import annotations

import contextlib
import hashlib
import html as _html
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from crmlab._atomic import atomic_write_json, atomic_write_text  # noqa: F401
from crmlab._atomic import read_json as _read_json
from crmlab.data.errors import public_message
from crmlab.execute import _execute, _format_exception, _Job, _minimal_results  # noqa: F401
from crmlab.experiments import ExperimentSpec, SpecError, find_specs, load_spec
from crmlab.provenance import KEY_PACKAGES, code_version, data_fingerprint  # noqa: F401
from crmlab.provenance import package_versions
from crmlab.provenance import sha256_files as _sha256_files
from crmlab.reporting import portfolio as _portfolio
from crmlab.reporting.fonts import hangul_font_css  # noqa: F401
from crmlab.reporting.fonts import with_hangul_font as _with_hangul_font  # noqa: F401
from crmlab.reporting.formatting import date_text as _date  # noqa: F401
from crmlab.reporting.formatting import fmt_signed as _fmt_signed  # noqa: F401
from crmlab.reporting.formatting import format_effect as _format_effect  # noqa: F401
from crmlab.reporting.formatting import format_money  # noqa: F401
from crmlab.reporting.formatting import format_pct as _format_pct  # noqa: F401
from crmlab.reporting.formatting import to_number as _num  # noqa: F401
from crmlab.reporting.html import TEMPLATES_DIR, render_html  # noqa: F401
from crmlab.reporting.html import skip_iri_grammar as _skip_iri_grammar  # noqa: F401
from crmlab.reporting.html import strip_external as _strip_external  # noqa: F401
from crmlab.reporting.portfolio import LABELS  # noqa: F401

__all__ = [
    "run", "RunResult", "render_html", "render_reports", "build_index", "list_campaigns",
    "hangul_font_css", "latest_failure",
    "code_version", "data_fingerprint", "package_versions", "format_money", "default_notebook",
    "atomic_write_text", "atomic_write_json", "DEFAULT_TIMEOUT", "KERNEL_NAME",
]

KERNEL_NAME = "crmlab"
#: Seconds one notebook cell may run before the campaign is failed with a timeout.
DEFAULT_TIMEOUT = 1800
#: Fields of results.json that change from run to run (everything else is reproducible).
TIMING_FIELDS = ("started_at", "finished_at", "seconds")
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
NOTEBOOK_NAME = "campaign_report.ipynb"


# --------------------------------------------------------------------------- small helpers

def default_notebook() -> Path:
    """The parameterized campaign report: ``notebooks/campaign_report.ipynb`` of the checkout,
    else the copy shipped inside the package."""
    for candidate in (REPO_ROOT / "notebooks" / NOTEBOOK_NAME,
                      PACKAGE_DIR / "notebooks" / NOTEBOOK_NAME):
        if candidate.is_file():
            return candidate
    return REPO_ROOT / "notebooks" / NOTEBOOK_NAME


def _display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- the batch

@dataclass
class RunResult:
    """What :func:`run` did: one entry per campaign (``campaign_id, status, error, seconds``).

    ``status`` is ``ok``, ``failed`` or ``skipped`` (unchanged since the last successful run).
    ``exit_code`` is 0 when nothing failed, 1 otherwise.
    """

    campaigns: list[dict] = field(default_factory=list)
    index_path: Path | None = None
    index_error: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.campaigns if c["status"] == "failed"]

    @property
    def skipped(self) -> list[dict]:
        return [c for c in self.campaigns if c["status"] == "skipped"]

    @property
    def ok(self) -> list[dict]:
        return [c for c in self.campaigns if c["status"] == "ok"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.index_error else 0

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.campaigns, columns=["campaign_id", "status", "error", "seconds"])

    @property
    def reading(self) -> str:
        n = len(self.campaigns)
        text = (f"{n} campaign(s): {len(self.ok)} ran, {len(self.skipped)} unchanged (skipped), "
                f"{len(self.failed)} failed, in {self.seconds:.1f} s.")
        if self.failed:
            text += " Failed: " + "; ".join(f"{c['campaign_id']} ({c['error']})"
                                            for c in self.failed)
        return text

    def _repr_html_(self) -> str:
        return f"<p>{_html.escape(self.reading)}</p>" + self.to_frame().to_html(index=False)


def _run_key(provenance: dict) -> str:
    keys = ("spec_hash", "data_fingerprint", "crmlab_version", "git_commit", "git_dirty",
            "source_hash", "report_lang", "notebook_hash")
    text = json.dumps({k: provenance.get(k) for k in keys}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_unchanged(out_dir: Path, run_key: str) -> bool:
    prev = _read_json(out_dir / "results.json")
    if not prev or prev.get("status") != "ok":
        return False
    if (out_dir / "last_failure.json").exists():      # the latest run failed: rerun it
        return False
    from crmlab.batch import same_run

    if not same_run(out_dir, prev):                   # a run killed while moving its files
        return False
    if not (out_dir / "report.html").is_file() or not (out_dir / "report.ipynb").is_file():
        return False
    return (prev.get("provenance") or {}).get("run_key") == run_key


def _select(only: str | Sequence[str] | None) -> set[str] | None:
    if only is None:
        return None
    items = [only] if isinstance(only, str) else list(only)
    return {s.strip() for item in items for s in str(item).split(",") if s.strip()}


def _plan(experiments_dir, data, out: Path, only, report_lang, notebook: Path, kernel: str,
          timeout: int) -> list[_Job]:
    selected = _select(only)
    code = code_version(notebook)
    notebook_hash = _sha256_files([notebook]) if notebook.is_file() else None
    packages = package_versions()
    fingerprints: dict[Path, tuple[str | None, str | None]] = {}
    jobs: list[_Job] = []
    seen: dict[str, str] = {}
    for spec_path in find_specs(experiments_dir):
        stem = spec_path.stem
        spec: ExperimentSpec | None = None
        error = None
        try:
            spec = load_spec(spec_path)
        except SpecError as exc:
            error = f"bad spec: {exc}"
        campaign_id = spec.campaign_id if spec is not None else stem
        if selected is not None and campaign_id not in selected and stem not in selected:
            continue
        if spec is not None and spec.draft:  # a scaffold not filled in yet (`draft: true`)
            continue
        if campaign_id in seen:
            error = (f"bad spec: {spec_path}: campaign_id '{campaign_id}' is also used by "
                     f"{seen[campaign_id]}; each campaign needs exactly one spec")
            campaign_id = stem if stem not in seen else f"{stem}__duplicate"
        seen[campaign_id] = str(spec_path)
        lang = report_lang or (spec.report_lang if spec is not None else "en")
        data_dir = spec.data_dir(data) if spec is not None else (
            Path(data).resolve() if data is not None else None)
        fp = None
        if error is None:
            if data_dir is None:
                error = (f"bad spec: {spec_path}: no data directory; give --data or set "
                         "'data:' in the spec")
            else:
                if data_dir not in fingerprints:
                    try:
                        fingerprints[data_dir] = (data_fingerprint(data_dir), None)
                    except Exception as exc:  # noqa: BLE001 - bad data fails the campaign only
                        if type(exc).__name__ == "InterruptException":   # DuckDB's Ctrl-C
                            raise KeyboardInterrupt from exc
                        fingerprints[data_dir] = (None, f"bad data: {data_dir}: "
                                                        f"{type(exc).__name__}: "
                                                        f"{public_message(exc)}")
                fp, error = fingerprints[data_dir]
        if error is None and not notebook.is_file():
            error = f"report notebook not found: {notebook}"
        parameters = spec.to_dict() if spec is not None else {}
        if spec is not None:
            parameters["report_lang"] = lang
        provenance = {
            **code,
            "data_fingerprint": fp,
            "data_source": _display_path(data_dir) if data_dir is not None else None,
            "parameters": parameters,
            "seed": spec.seed if spec is not None else None,
            "packages": packages,
            "spec_hash": spec.content_hash() if spec is not None else None,
            "notebook": _display_path(notebook),
            "notebook_hash": notebook_hash,
            "report_lang": lang,
            "started_at": None,
            "finished_at": None,
        }
        provenance["run_key"] = _run_key(provenance)
        summary = {"title": spec.title if spec is not None else None,
                   "exploratory": spec.exploratory if spec is not None else None,
                   "exploratory_reason": spec.exploratory_reason if spec is not None else None}
        jobs.append(_Job(
            campaign_id=campaign_id, spec_path=str(spec_path.resolve()),
            data_dir=str(data_dir) if data_dir is not None else None,
            out_dir=str((out / campaign_id).resolve()), notebook=str(notebook), kernel=kernel,
            timeout=int(timeout), report_lang=lang, provenance=provenance,
            spec_summary=summary, error=error))
    return jobs


def run(experiments_dir: str | Path = "experiments", data: str | Path | None = None,
        out: str | Path = "reports", jobs: int = 1, only: str | Sequence[str] | None = None,
        force: bool = False, report_lang: str | None = None, timeout: int = DEFAULT_TIMEOUT,
        notebook: str | Path | None = None, kernel: str = KERNEL_NAME, progress: bool = True,
        index: bool = True) -> RunResult:
    """Evaluate every campaign spec with the parameterized report notebook.

    Parameters
    ----------
    experiments_dir : str or Path
        A folder of ``<campaign_id>.yaml`` specs (or one spec file).
    data : str or Path, optional
        Data directory for specs whose ``data`` is null.
    out : str or Path
        Reports folder: ``<out>/<campaign_id>/`` per campaign and ``<out>/index.html``.
    jobs : int
        Campaigns executed at once, each in a fresh worker process (and its own kernel); see
        :func:`crmlab.batch.supervise`. The reports folder is locked meanwhile
        (:class:`crmlab.batch.OutLock`): a second run into it waits.
    only : str or sequence of str, optional
        Campaign ids (or spec file stems) to run; comma-separated text is accepted.
    force : bool
        Rerun campaigns even when spec, data fingerprint, code and language are unchanged.
    report_lang : {"en", "ko"}, optional
        Overrides every spec's ``report_lang``.
    timeout : int
        Seconds a single notebook cell may run before the campaign fails with a timeout.
    notebook : str or Path, optional
        The parameterized notebook (default :func:`default_notebook`).
    kernel : str
        Jupyter kernel name (default ``crmlab``).
    progress : bool
        Show a progress bar on stderr.
    index : bool
        Rebuild ``<out>/index.html`` afterwards.

    Returns
    -------
    RunResult
        ``exit_code`` is 1 when any campaign failed or the portfolio could not be written
        (``index_error``). Each campaign's summary names ``log``, the log of this run.

    Raises
    ------
    ValueError
        Bad arguments, an ``only`` that matches no spec, or ``out`` naming an existing file.
    KeyboardInterrupt
        Ctrl-C: running workers are killed and their temporary files removed first.

    Examples
    --------
    >>> res = run("experiments", data="data/demo", jobs=2)  # doctest: +SKIP
    >>> print(res.reading)  # doctest: +SKIP
    6 campaign(s): 6 ran, 0 unchanged (skipped), 0 failed, in 95.2 s.
    """
    t0 = time.perf_counter()
    from crmlab import batch

    if report_lang is not None and report_lang not in ("en", "ko"):
        raise ValueError(f"report_lang {report_lang!r} is not allowed; allowed values: en, ko")
    if int(jobs) < 1:
        raise ValueError(f"jobs must be a whole number >= 1, got {jobs!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the reports folder {out} is an existing file, not a folder")
    out_problem = None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            reason = "a file is in the way"
        out_problem = f"cannot create the reports folder {out}: {reason}"
    nb = Path(notebook).resolve() if notebook is not None else default_notebook()

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    lock = (batch.OutLock(out, what="crmlab run", notify=say) if out_problem is None
            else contextlib.nullcontext())
    with lock:
        planned = _plan(experiments_dir, data, out, only, report_lang, nb, kernel, timeout)
        if _select(only) and not planned:
            raise ValueError(f"no experiment spec matches --only {only!r} in {experiments_dir}")

        summaries: list[dict] = []
        todo: list[_Job] = []
        for job in planned:
            if out_problem is not None:
                summaries.append({"campaign_id": job.campaign_id, "status": "failed",
                                  "error": out_problem, "seconds": 0.0, "spec": job.spec_path,
                                  "report": str(Path(job.out_dir) / "report.html"),
                                  "log": None})
            elif (not force and job.error is None
                    and _is_unchanged(Path(job.out_dir), job.provenance["run_key"])):
                summaries.append({"campaign_id": job.campaign_id, "status": "skipped",
                                  "error": None, "seconds": 0.0, "spec": job.spec_path,
                                  "report": str(Path(job.out_dir) / "report.html"),
                                  "log": str(Path(job.out_dir) / "run.log")})
            else:
                todo.append(job)

        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="campaigns", unit="campaign", disable=not progress or
                   not todo, file=sys.stderr, dynamic_ncols=True)

        def done(summary: dict) -> None:
            summaries.append(summary)
            bar.update(1)
            msg = f"{summary['campaign_id']}: {summary['status']} ({summary['seconds']:.1f} s)"
            if summary["error"]:
                msg += f" — {summary['error'].splitlines()[0]}"
            if progress:
                bar.write(msg, file=sys.stderr)

        def notify(message: str) -> None:
            bar.write(message, file=sys.stderr)

        try:
            batch.supervise(todo, int(jobs), done, notify)
        finally:
            bar.close()

        order = {job.campaign_id: i for i, job in enumerate(planned)}
        summaries.sort(key=lambda s: order.get(s["campaign_id"], len(order)))
        result = RunResult(campaigns=summaries)
        if index and out_problem is None and data is not None:
            _program_page(data, out, report_lang, say)
        if index and out_problem is None:
            try:
                result.index_path = build_index(out, lang=report_lang)
            except OSError as exc:
                result.index_error = (f"the portfolio {out / 'index.html'} could not be "
                                      f"written: {exc.strerror or exc}")
        elif index:
            result.index_error = out_problem
    result.seconds = round(time.perf_counter() - t0, 3)
    return result


# --------------------------------------------------------------------------- HTML and portfolio

def render_reports(out: str | Path = "reports", only: str | Sequence[str] | None = None,
                   lang: str | None = None, notify=None) -> list[dict]:
    """Re-render ``report.html`` from every executed ``report.ipynb`` under ``out`` and the index.

    Returns one ``{campaign_id, status, error}`` per campaign folder. ``status`` is ``ok``;
    ``stale`` when the page was re-rendered but no longer describes the campaign's current
    inputs (the latest run failed after it was made, or the data or the spec changed since;
    :func:`crmlab.batch.report_currency`) — ``error`` says why; or ``failed`` (rendering failed,
    or ``report.ipynb`` and ``results.json`` come from different runs: nothing is rendered).
    Holds the reports folder's lock (:class:`crmlab.batch.OutLock`) while it works; ``notify``
    receives the sentence said when it has to wait for another run.

    Examples
    --------
    >>> render_reports("reports")  # doctest: +SKIP
    [{'campaign_id': 'winback_2024', 'status': 'ok', 'error': None}, ...]
    """
    from crmlab import batch

    out = Path(out)
    selected = _select(only)
    done = []
    fingerprints: dict = {}
    with batch.OutLock(out, what="crmlab report", notify=notify):
        for nb_path in sorted(out.glob("*/report.ipynb")):
            cid = nb_path.parent.name
            if selected is not None and cid not in selected:
                continue
            status, why = batch.report_currency(nb_path.parent, fingerprints)
            if status == "failed":
                done.append({"campaign_id": cid, "status": "failed", "error": why, "note": None})
                continue
            prev = _read_json(nb_path.parent / "results.json") or {}
            # the page is in the language the notebook was executed in; re-rendering cannot
            # translate it, so `lang` sets only the index's language
            page_lang = _executed_lang(nb_path, prev) or lang or "en"
            note = (f"the report was executed in {page_lang!r}; rerun the campaign with "
                    f"--report-lang {lang} to change its language"
                    if lang is not None and lang != page_lang else None)
            try:
                render_html(nb_path, nb_path.parent / "report.html", lang=page_lang,
                            title=prev.get("title"))
                done.append({"campaign_id": cid, "status": status, "error": why, "note": note})
            except Exception as exc:  # noqa: BLE001
                done.append({"campaign_id": cid, "status": "failed",
                             "error": f"{type(exc).__name__}: {exc}", "note": None})
        build_index(out, lang=lang)
    return done


def _executed_lang(nb_path: Path, results: dict) -> str | None:
    """The language a report notebook was executed in: its papermill parameter, else the
    ``report_lang`` of its results.json."""
    try:
        meta = json.loads(nb_path.read_text(encoding="utf-8")).get("metadata") or {}
        lang = ((meta.get("papermill") or {}).get("parameters") or {}).get("report_lang")
    except (OSError, ValueError, AttributeError):
        lang = None
    if lang not in ("en", "ko"):
        lang = results.get("report_lang")
    return lang if lang in ("en", "ko") else None


def latest_failure(folder: Path) -> str | None:
    """"failed at <time>: <reason>" when the latest run failed after the shown good one."""
    from crmlab.batch import read_last_failure

    record = read_last_failure(folder)
    if record is None:
        return None
    reason = str(record.get("error") or "").strip().splitlines()
    return f"{str(record.get('failed_at') or '')[:16].replace('T', ' ')}: " + (
        reason[0] if reason else "unknown error")


def _program_page(data: str | Path, out: Path, lang: str | None, say) -> Path | None:
    """``<out>/program.html`` when the data have a global holdout (``holdout_periods``)."""
    import crmlab
    from crmlab.reporting.program_page import write_program_page

    try:
        d = crmlab.load(data)
        if getattr(d, "holdout_periods", None) is None:
            return None
        return write_program_page(d, out, lang=lang or "en", font_css=hangul_font_css)
    except (OSError, ValueError) as exc:
        say(f"the program page {out / 'program.html'} could not be written: {exc}")
        return None


def build_index(out: str | Path = "reports", lang: str | None = None) -> Path:
    """Write ``<out>/index.html``, the portfolio (:func:`crmlab.reporting.portfolio.build_index`),
    with each campaign's "latest run failed" note (:func:`latest_failure`).

    Examples
    --------
    >>> build_index("reports")  # doctest: +SKIP
    PosixPath('reports/index.html')
    """
    return _portfolio.build_index(out, lang=lang, latest_failure=latest_failure)


def list_campaigns(experiments_dir: str | Path = "experiments",
                   out: str | Path = "reports") -> list[dict]:
    """Each spec with its last run: ``campaign_id, spec, valid, status, verdict, finished_at``.

    ``status`` is ``ok`` or ``failed`` from the last run, ``draft`` for a spec marked
    ``draft: true`` (``crmlab run`` skips it), ``never run`` otherwise; an invalid spec, and a
    second spec of a campaign id already listed, is listed with ``valid`` false and its error.
    ``latest_failure`` is "time: reason" when the latest run failed after the good one that
    ``status``, ``verdict`` and ``finished_at`` describe, else None.

    Examples
    --------
    >>> list_campaigns("experiments", "reports")  # doctest: +SKIP
    [{'campaign_id': 'winback_2024', 'status': 'ok', 'verdict': 'ship', ...}]
    """
    out = Path(out)
    rows = []
    seen: dict[str, Path] = {}
    for spec_path in find_specs(experiments_dir):
        draft = False
        try:
            spec = load_spec(spec_path)
            cid, valid, err, draft = spec.campaign_id, True, None, spec.draft
        except SpecError as exc:
            cid, valid, err = spec_path.stem, False, str(exc)
        if valid and cid in seen:  # `crmlab run` would refuse it too
            valid, err = False, (f"{spec_path}: campaign_id '{cid}' is also used by "
                                 f"{seen[cid]}; each campaign needs exactly one spec")
        seen.setdefault(cid, spec_path)
        res = _read_json(out / cid / "results.json") or {}
        verdict = res.get("verdict") if isinstance(res.get("verdict"), dict) else {}
        rows.append({
            "campaign_id": cid, "spec": _display_path(spec_path), "valid": valid,
            "status": "draft" if draft else res.get("status", "never run"),
            "verdict": (verdict or {}).get("decision"),
            "finished_at": (res.get("provenance") or {}).get("finished_at"),
            "error": err or res.get("error"),
            "latest_failure": latest_failure(out / cid),
        })
    return rows
