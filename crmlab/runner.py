"""Batch runs of the campaign report: papermill once per experiment spec, HTML, portfolio index.

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
import datetime as _dt
import hashlib
import html as _html
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import crmlab
from crmlab.data.errors import public_message, redacted_examples
from crmlab.experiments import ExperimentSpec, SpecError, find_specs, load_spec

__all__ = [
    "run", "RunResult", "render_html", "render_reports", "build_index", "list_campaigns",
    "hangul_font_css",
    "code_version", "data_fingerprint", "package_versions", "format_money", "default_notebook",
    "atomic_write_text", "atomic_write_json", "DEFAULT_TIMEOUT", "KERNEL_NAME",
]

KERNEL_NAME = "crmlab"
#: Seconds one notebook cell may run before the campaign is failed with a timeout.
DEFAULT_TIMEOUT = 1800
#: Fields of results.json that change from run to run (everything else is reproducible).
TIMING_FIELDS = ("started_at", "finished_at", "seconds")
#: Packages whose versions go into the provenance.
KEY_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "duckdb",
                "ibis-framework", "pyarrow", "matplotlib", "seaborn", "papermill", "nbconvert",
                "pyyaml")

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
REPO_ROOT = PACKAGE_DIR.parent
NOTEBOOK_NAME = "campaign_report.ipynb"


# --------------------------------------------------------------------------- small helpers

def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    Readers see either the old file or the complete new one, never a partial write.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "hello")
    >>> p.read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _json_safe(value: Any) -> Any:
    """NaN/inf become None; numpy scalars and other objects become plain Python values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalar
        return _json_safe(value.item())
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write JSON (NaN as null, keys in insertion order, UTF-8) atomically."""
    text = json.dumps(_json_safe(data), indent=2, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _sha256_files(paths: Iterable[Path], base: Path | None = None) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        name = str(p.relative_to(base)) if base else p.name
        h.update(name.encode("utf-8") + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _skip_iri_grammar() -> None:
    """Spare a worker process the ~6 s import of ``rfc3987_syntax``.

    jsonschema (imported by nbformat) compiles an RFC 3987 IRI grammar at import time when that
    optional package is installed; notebook validation never checks IRI formats, so the import
    is declined (jsonschema treats the package as absent). Only done before jsonschema loads.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- provenance

def package_versions() -> dict[str, str | None]:
    """Versions of Python and crmlab's key dependencies (None when not installed).

    Examples
    --------
    >>> "pandas" in package_versions()
    True
    """
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version(),
                                  "crmlab": crmlab.__version__}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git(*args: str, cwd: Path) -> str | None:
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 else None


def code_version(notebook: str | Path | None = None) -> dict[str, Any]:
    """The code a report was produced with.

    Returns ``crmlab_version``, ``git_commit`` and ``git_dirty`` (None outside a git checkout)
    and ``source_hash``: a SHA-256 of crmlab's Python sources, its templates and the report
    notebook, so that uncommitted edits also count as a new code version.

    Examples
    --------
    >>> sorted(code_version())
    ['crmlab_version', 'git_commit', 'git_dirty', 'source_hash']
    """
    commit = _git("rev-parse", "HEAD", cwd=PACKAGE_DIR)
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=PACKAGE_DIR)
        dirty = bool(status.strip()) if status is not None else None
    files = [p for p in PACKAGE_DIR.rglob("*")
             if p.is_file() and (p.suffix in (".py", ".j2", ".json", ".ipynb"))
             and "__pycache__" not in p.parts]
    if notebook is not None and Path(notebook).is_file():
        files.append(Path(notebook).resolve())
    return {
        "crmlab_version": crmlab.__version__,
        "git_commit": commit.strip() if commit else None,
        "git_dirty": dirty,
        "source_hash": _sha256_files(files),
    }


def data_fingerprint(path: str | Path) -> str:
    """A stable hash of a data source, used to skip unchanged reruns.

    Uses :meth:`crmlab.data.CRMData.fingerprint` (loading also checks the data against the
    contract).

    Raises
    ------
    FileNotFoundError
        The data directory does not exist.
    crmlab.DataContractError
        The data break the contract.

    Examples
    --------
    >>> data_fingerprint("data/demo")  # doctest: +SKIP
    '3f1a...'
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data directory not found: {path}")
    from crmlab.data.io import load

    return str(load(path).fingerprint())


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


# --------------------------------------------------------------------------- one campaign

@dataclass
class _Job:
    """Everything a worker process needs to execute one campaign (picklable)."""

    campaign_id: str
    spec_path: str
    data_dir: str | None
    out_dir: str
    notebook: str
    kernel: str
    timeout: int
    report_lang: str
    provenance: dict
    spec_summary: dict
    error: str | None = None          # set when the campaign fails before execution


def _minimal_results(job: _Job, error: str, partial: dict | None = None) -> dict:
    base = dict(partial or {})
    base.setdefault("campaign_id", job.campaign_id)
    for key in ("title", "exploratory", "exploratory_reason"):
        base.setdefault(key, job.spec_summary.get(key))
    base.setdefault("report_lang", job.report_lang)
    base["status"] = "failed"
    base["error"] = error
    return base


def _format_exception(exc: BaseException, timeout: int) -> str:
    name = type(exc).__name__
    if name == "PapermillExecutionError":
        evalue = getattr(exc, "evalue", "") or ""
        ename = getattr(exc, "ename", "Error")
        count = getattr(exc, "exec_count", None)
        where = f" in cell [{count}]" if count is not None else ""
        return f"{ename}{where}: {evalue}".strip()
    if name in ("CellTimeoutError", "TimeoutError") or "timed out" in str(exc).lower():
        return f"timeout: a cell ran longer than {timeout} s ({str(exc).splitlines()[0]})"
    if name == "DeadKernelError":
        return f"the kernel died: {exc}"
    first = public_message(exc).strip()
    return f"{name}: {first}" if first else name


def _execute(job: _Job, kernel_manager: type | None = None) -> dict:
    """Run one campaign: papermill, HTML, results.json. Never raises; returns a summary.

    Everything is written to temporary files first. A successful run replaces the campaign's
    ``report.ipynb``, ``report.html``, ``run.log`` and, last, ``results.json``; a failed run
    keeps the last good ones and is recorded beside them (:func:`crmlab.batch.commit_failure`).
    ``kernel_manager`` is the Jupyter kernel manager class papermill uses (the batch passes one
    whose kernels die with the worker).

    Data-contract errors lose their example values (customer ids) in everything written under
    the campaign's folder: the notebook's kernel, the log and results.json see only the
    redacted message (:func:`crmlab.data.errors.redacted_examples`).
    """
    with redacted_examples():
        return _execute_job(job, kernel_manager)


def _execute_job(job: _Job, kernel_manager: type | None = None) -> dict:
    from crmlab import batch

    t0 = time.perf_counter()
    _skip_iri_grammar()
    out = Path(job.out_dir)
    pid = os.getpid()
    log_path = None
    error: str | None = job.error
    try:
        out.mkdir(parents=True, exist_ok=True)
        # temporary files of an earlier run that was killed mid-way
        batch.remove_temporary_files(out)
        log_tmp = out / f".run.log.{pid}.tmp"
        results_tmp = out / f".results.{pid}.json"
        nb_tmp = out / f".report.{pid}.ipynb"
        html_tmp = out / f".report.{pid}.html"
        handler = logging.FileHandler(log_tmp, mode="w", encoding="utf-8")
    except OSError as exc:
        error = f"cannot write to the campaign folder {out}: {exc.strerror or exc}"
        return {"campaign_id": job.campaign_id, "status": "failed", "error": error,
                "seconds": round(time.perf_counter() - t0, 3), "spec": job.spec_path,
                "report": str(out / "report.html"), "log": None}
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    pm_logger = logging.getLogger("papermill")
    pm_logger.addHandler(handler)
    old_level, old_propagate = pm_logger.level, pm_logger.propagate
    pm_logger.setLevel(logging.INFO)
    pm_logger.propagate = False
    log = pm_logger.getChild("crmlab")
    provenance = dict(job.provenance)
    provenance["started_at"] = _now()
    provenance["finished_at"] = None
    partial: dict | None = None
    try:
        log.info("campaign %s: spec %s, data %s", job.campaign_id, job.spec_path, job.data_dir)
        if error is None:
            import papermill as pm

            params = {
                "spec_path": job.spec_path,
                "data_dir": job.data_dir,
                "results_path": str(results_tmp.resolve()),
                "report_lang": job.report_lang,
                "provenance_json": json.dumps(_json_safe(provenance), ensure_ascii=False),
            }
            engine_kwargs = {}
            if kernel_manager is not None:
                engine_kwargs["kernel_manager_class"] = kernel_manager
            # figures must render inline in the report even when the caller's environment
            # chose a non-interactive backend (e.g. MPLBACKEND=Agg under `make test`)
            saved_backend = os.environ.get("MPLBACKEND")
            os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
            try:
                pm.execute_notebook(
                    job.notebook, str(nb_tmp), parameters=params, kernel_name=job.kernel,
                    cwd=str(out), execution_timeout=job.timeout, progress_bar=False,
                    log_output=True, request_save_on_cell_execute=True,
                    extra_arguments=["--IPKernelApp.log_level=ERROR"], **engine_kwargs,
                )
            except BaseException as exc:  # noqa: BLE001 - every failure is recorded
                if isinstance(exc, KeyboardInterrupt):
                    raise
                error = _format_exception(exc, job.timeout)
                log.error("campaign %s failed: %s\n%s", job.campaign_id, error,
                          "".join(traceback.format_exception(exc)))
            finally:
                if saved_backend is None:
                    os.environ.pop("MPLBACKEND", None)
                else:
                    os.environ["MPLBACKEND"] = saved_backend
            partial = _read_json(results_tmp) if results_tmp.exists() else None
            results_tmp.unlink(missing_ok=True)
            if error is None and partial is None:
                error = ("the notebook finished without writing results.json "
                         f"(parameter results_path={params['results_path']})")
        else:
            log.error("campaign %s failed before execution: %s", job.campaign_id, error)

        if nb_tmp.exists():
            # the report of a good run, or the page of a failed one that has nothing better
            try:
                render_html(nb_tmp, html_tmp, lang=job.report_lang)
            except Exception as exc:  # noqa: BLE001
                html_error = f"HTML rendering failed: {type(exc).__name__}: {exc}"
                log.error(html_error)
                if error is None:
                    error = html_error

        provenance["finished_at"] = _now()
        if error is None:
            results = dict(partial or {})
            results["status"] = results.get("status") or "ok"
            results.setdefault("campaign_id", job.campaign_id)
        else:
            results = _minimal_results(job, error, partial)
        prov = dict(results.get("provenance") or {})
        prov.update(provenance)
        results["provenance"] = prov
        log.info("campaign %s: %s in %.1f s", job.campaign_id, results["status"],
                 time.perf_counter() - t0)
        _close_log(pm_logger, handler, old_level, old_propagate)
        if error is None:
            log_path = batch.commit_success(out, results, nb_tmp, html_tmp, log_tmp)
        else:
            log_path = batch.commit_failure(out, results, nb_tmp, html_tmp, log_tmp)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a worker never dies on one campaign
        error = f"runner error: {type(exc).__name__}: {public_message(exc)}"
        log.error("%s\n%s", error, "".join(traceback.format_exception(exc)))
        _close_log(pm_logger, handler, old_level, old_propagate)
        try:
            results = _minimal_results(job, error)
            results["provenance"] = {**provenance, "finished_at": _now()}
            log_path = batch.commit_failure(out, results, None, None, log_tmp)
        except Exception:  # noqa: BLE001
            pass
    finally:
        _close_log(pm_logger, handler, old_level, old_propagate)
        batch.remove_temporary_files(out, pid)
    status = "failed" if error else "ok"
    return {"campaign_id": job.campaign_id, "status": status, "error": error,
            "seconds": round(time.perf_counter() - t0, 3), "spec": job.spec_path,
            "report": str(out / "report.html"), "log": str(log_path) if log_path else None}


def _close_log(logger: logging.Logger, handler: logging.Handler, level: int,
               propagate: bool) -> None:
    if handler in logger.handlers:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(level)
        logger.propagate = propagate


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


# --------------------------------------------------------------------------- HTML

def _strip_external(html_text: str) -> str:
    """Remove any script/link/img/source element that would fetch from the network."""
    import re

    patterns = [
        r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>",
        r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
        r"<(?:img|source|iframe)\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>",
        r"@import\s+url\(\s*[\"']?(?:https?:)?//[^)]*\)\s*;?",
    ]
    for pat in patterns:
        html_text = re.sub(pat, "", html_text, flags=re.IGNORECASE)
    return html_text


_HANGUL = None


def _hangul_chars(text: str) -> set[str]:
    import re

    global _HANGUL
    if _HANGUL is None:
        _HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
    return set(_HANGUL.findall(text))


def hangul_font_css(text: str) -> str:
    """An inline ``@font-face`` ("crmlab Hangul") holding just the Hangul glyphs ``text`` uses.

    Korean pages then read correctly on a machine without a Korean font, still without fetching
    anything: the glyphs are a subset of NanumGothic (shipped with koreanize-matplotlib, the font
    the figures use), embedded as a base64 WOFF. Returns "" when ``text`` has no Hangul or the
    font is not installed.
    """
    chars = _hangul_chars(text)
    if not chars:
        return ""
    try:
        import base64
        import io

        import koreanize_matplotlib
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:
        return ""
    font_path = Path(koreanize_matplotlib.__file__).parent / "fonts" / "NanumGothic.ttf"
    if not font_path.is_file():
        return ""
    options = subset.Options()
    options.flavor = "woff"
    options.notdef_outline = True
    options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5"]  # VTT hinting sources
    font = TTFont(str(font_path))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in chars})
    subsetter.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return ('<style type="text/css">@font-face { font-family: "crmlab Hangul"; '
            f'src: url(data:font/woff;base64,{data}) format("woff"); '
            'unicode-range: U+1100-11FF, U+3130-318F, U+AC00-D7A3; }</style>')


def _with_hangul_font(page: str) -> str:
    css = hangul_font_css(page)
    if not css or "</head>" not in page:
        return page
    return page.replace("</head>", css + "\n</head>", 1)


def render_html(notebook_path: str | Path, html_path: str | Path | None = None,
                lang: str = "en") -> Path:
    """Render an executed notebook to a self-contained HTML report, inputs hidden.

    Code cells' inputs and prompts are left out, stderr output (warnings) is dropped, images are
    inline (base64), and nothing is fetched from the network: nbconvert's lab template is used
    without its require.js, MathJax, Mermaid and widget loaders
    (``crmlab/templates/report.html.j2``). A page with Korean text embeds the Hangul glyphs it
    uses (:func:`hangul_font_css`). The finished page is cleaned against an allowlist of the
    elements and attributes crmlab emits (:func:`crmlab.reporting.sanitize.clean_html`).

    Parameters
    ----------
    notebook_path : str or Path
        The executed notebook.
    html_path : str or Path, optional
        Where to write (default: next to the notebook, ``.html``); written atomically.
    lang : {"en", "ko"}
        The page's language attribute.

    Examples
    --------
    >>> render_html("reports/winback_2024/report.ipynb")  # doctest: +SKIP
    PosixPath('reports/winback_2024/report.html')
    """
    _skip_iri_grammar()
    import nbformat
    from nbconvert import HTMLExporter

    notebook_path = Path(notebook_path)
    html_path = Path(html_path) if html_path is not None else notebook_path.with_suffix(".html")
    nb = nbformat.read(notebook_path, as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream"
                                       and o.get("name") == "stderr")]
    exporter = HTMLExporter(template_name="lab",
                            template_file=str(TEMPLATES_DIR / "report.html.j2"))
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    exporter.language_code = lang if lang in ("en", "ko") else "en"
    title = nb.metadata.get("title")
    resources = {"metadata": {"name": title or notebook_path.parent.name}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    from crmlab.reporting.sanitize import clean_html

    atomic_write_text(html_path, clean_html(_with_hangul_font(_strip_external(body))))
    return html_path


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
                render_html(nb_path, nb_path.parent / "report.html", lang=page_lang)
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


# --------------------------------------------------------------------------- portfolio index

_CURRENCY_SYMBOLS = {"KRW": ("₩", 0), "USD": ("$", 2), "EUR": ("€", 2), "JPY": ("¥", 0),
                     "GBP": ("£", 2)}

LABELS = {
    "en": {
        "page_title": "Campaign portfolio",
        "lead": "One row per campaign experiment: short-term lift on the primary metric, "
                "long-term lifetime value, economics, guardrails and the verdict by each spec's "
                "decision rule. Intervals are confidence intervals at the spec's level.",
        "campaign": "Campaign", "scenario": "Scenario", "channel": "Channel", "dates": "Dates",
        "audience": "Audience", "primary": "Primary lift [CI]", "ltv": "6-month LTV lift [CI]",
        "roi": "ROI [CI]", "guardrails": "Guardrails", "verdict": "Verdict", "report": "Report",
        "open": "open report", "why": "why", "guard_ok": "OK", "guard_breached": "breached",
        "failed": "failed", "exploratory": "exploratory", "empty": "No campaign has run yet.",
        "latest_failed": "latest run failed:",
        "footer": "Generated by crmlab at",
        "summary": "{n} campaigns: {ship} ship, {iterate} iterate, {stop} stop, "
                   "{inconclusive} inconclusive, {failed} failed.",
        "decision": {"ship": "ship", "iterate": "iterate", "stop": "stop",
                     "inconclusive": "inconclusive"},
        "scenario_names": {}, "channel_names": {}, "pp": "pp",
    },
    "ko": {
        "page_title": "캠페인 포트폴리오",
        "lead": "캠페인 실험마다 한 행: 주요 지표의 단기 상승, 장기 고객 생애 가치(LTV), 경제성, "
                "가드레일, 그리고 각 실험 명세의 판정 규칙에 따른 결론입니다. 괄호 안은 명세의 "
                "유의수준에 따른 신뢰구간입니다.",
        "campaign": "캠페인", "scenario": "시나리오", "channel": "채널", "dates": "기간",
        "audience": "대상 고객", "primary": "주요 지표 상승 [신뢰구간]",
        "ltv": "6개월 LTV 상승 [신뢰구간]", "roi": "ROI [신뢰구간]", "guardrails": "가드레일",
        "verdict": "판정", "report": "보고서", "open": "보고서 열기", "why": "근거", "guard_ok": "정상",
        "guard_breached": "위반", "failed": "실패", "exploratory": "탐색적 분석",
        "latest_failed": "최근 실행 실패:",
        "empty": "아직 실행된 캠페인이 없습니다.", "footer": "crmlab 생성 시각:",
        "summary": "캠페인 {n}개: 확대 {ship}, 개선 {iterate}, 중단 {stop}, 판단 보류 "
                   "{inconclusive}, 실패 {failed}.",
        "decision": {"ship": "확대 (ship)", "iterate": "개선 후 재실험 (iterate)",
                     "stop": "중단 (stop)", "inconclusive": "판단 보류 (inconclusive)"},
        "scenario_names": {"first_purchase": "첫 구매", "cart_reminder": "장바구니 알림",
                           "winback": "휴면 고객 재활성화", "review_request": "리뷰 요청",
                           "anniversary": "기념일", "custom": "사용자 정의"},
        "channel_names": {"email": "이메일", "sms": "문자(SMS)", "lms": "장문 문자(LMS)",
                          "app_push": "앱 푸시", "in_app": "인앱 메시지",
                          "kakao_alimtalk": "카카오 알림톡", "kakao_friendtalk": "카카오 친구톡"},
        "pp": "%p",
    },
}

_RATE_METRICS = {"conversion", "visit", "unsubscribe_rate", "block_rate", "repurchase_rate"}
_MONEY_METRICS = {"revenue", "aov", "ltv", "revenue_per_customer"}


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _round_half_up(x: float, digits: int) -> float:
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def format_money(value: Any, currency: str | None = "KRW", signed: bool = False) -> str:
    """Money in the data's currency: ``₩1,234,567`` (KRW has no minor unit), ``$1,234.50``.

    Examples
    --------
    >>> format_money(1234567.4)
    '₩1,234,567'
    >>> format_money(1234.5)
    '₩1,235'
    >>> format_money(-2500, "KRW", signed=True)
    '−₩2,500'
    >>> format_money(12.5, "USD", signed=True)
    '+$12.50'
    >>> format_money(None)
    '–'
    """
    v = _num(value)
    if v is None:
        return "–"
    code = (currency or "").upper()
    symbol, digits = _CURRENCY_SYMBOLS.get(code, ("", 2))
    amount = f"{_round_half_up(abs(v), digits):,.{digits}f}"
    if amount.strip("0,.") == "":
        sign = ""
    else:
        sign = "−" if v < 0 else ("+" if signed else "")
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {code}".strip()


def _fmt_signed(v: float | None, digits: int, suffix: str = "") -> str:
    if v is None:
        return "–"
    text = f"{abs(v):,.{digits}f}"
    sign = "" if text.strip("0,.") == "" else ("−" if v < 0 else "+")
    return f"{sign}{text}{suffix}"


def _format_effect(metric: str | None, value, low, high, currency, pp: str) -> tuple[str, str]:
    """(point estimate, "[low, high]") of a lift, in points, money or plain units."""
    v, lo, hi = _num(value), _num(low), _num(high)
    metric = (metric or "").lower()
    if metric in _RATE_METRICS or metric.endswith("_rate"):
        f = lambda x: _fmt_signed(None if x is None else 100 * x, 2)  # noqa: E731
        unit = f" {pp}"
    elif metric in _MONEY_METRICS:
        f = lambda x: format_money(x, currency, signed=True)  # noqa: E731
        unit = ""
    else:
        f = lambda x: _fmt_signed(x, 3)  # noqa: E731
        unit = ""
    if v is None:
        return "–", ""
    ci = f"[{f(lo)}, {f(hi)}]" if lo is not None and hi is not None else ""
    return f"{f(v)}{unit}", ci


def _format_pct(value, low, high) -> tuple[str, str]:
    v = _num(value)
    if v is None:
        return "–", ""
    f = lambda x: _fmt_signed(100 * x, 0, "%")  # noqa: E731
    lo, hi = _num(low), _num(high)
    ci = f"[{f(lo)}, {f(hi)}]" if lo is not None and hi is not None else ""
    return f(v), ci


def _date(x: Any) -> str:
    return str(x)[:10] if x else ""


def _index_row(cid: str, res: dict, L: dict, out: Path) -> dict:
    currency = res.get("currency") or "KRW"
    failed = res.get("status") != "ok"
    verdict = res.get("verdict") or {}
    decision = verdict.get("decision") if isinstance(verdict, dict) else None
    audience = res.get("audience") or {}
    arms = audience.get("arms") or {}
    n_total = _num(audience.get("n_total"))
    primary, ltv, roi = [], [], []
    for r in res.get("primary") or []:
        value, ci = _format_effect(r.get("metric"), r.get("abs_lift"), r.get("ci_low"),
                                   r.get("ci_high"), currency, L["pp"])
        primary.append({"arm": r.get("arm"), "metric": r.get("metric"), "value": value,
                        "ci": ci})
    for r in res.get("long_term") or []:
        value, ci = _format_effect("ltv", r.get("ltv_lift"), r.get("ltv_ci_low"),
                                   r.get("ltv_ci_high"), currency, L["pp"])
        days = _num(r.get("horizon_days"))
        ltv.append({"arm": r.get("arm"), "metric": f"{int(days)} d" if days else None,
                    "value": value, "ci": ci})
    for r in res.get("economics") or []:
        value, ci = _format_pct(r.get("roi"), r.get("roi_ci_low"), r.get("roi_ci_high"))
        roi.append({"arm": r.get("arm"), "value": value, "ci": ci})
    guards = res.get("guardrails") or []
    breaches = [f"{g.get('metric')} ({g.get('arm')})" for g in guards
                if g.get("breached") is True]
    # "OK" only when every guardrail was shown within its limit (breached: false); one not
    # judged or not settled (breached: null) leaves the column without a badge
    all_within = bool(guards) and all(g.get("breached") is False for g in guards)
    single_arm = len({x["arm"] for x in primary + ltv + roi}) <= 1
    for x in primary + ltv + roi:
        label = None if single_arm else x["arm"]
        if x.get("metric"):
            label = f"{label} · {x['metric']}" if label else x["metric"]
        x["arm"] = label
    start, end = _date(res.get("start_ts")), _date(res.get("end_ts"))
    link = f"{cid}/report.html" if (out / cid / "report.html").is_file() else None
    scenario = res.get("scenario") or ""
    channel = res.get("channel") or ""
    return {
        "campaign_id": cid,
        "title": res.get("title") or cid,
        "link": link,
        "failed": failed,
        "error": res.get("error") if failed else None,
        "exploratory": bool(res.get("exploratory")),
        "exploratory_reason": res.get("exploratory_reason"),
        "scenario": L["scenario_names"].get(scenario, scenario) or "–",
        "channel": L["channel_names"].get(channel, channel) or "–",
        "start": start or "–",
        "end": end,
        "audience": f"{int(n_total):,}" if n_total is not None else "–",
        "arms": [f"{arm}: {int(n):,}" for arm, n in arms.items() if _num(n) is not None],
        "primary": primary or [{"arm": None, "value": "–", "ci": ""}],
        "ltv": ltv or [{"arm": None, "value": "–", "ci": ""}],
        "roi": roi or [{"arm": None, "value": "–", "ci": ""}],
        "guardrails_ok": False if breaches else (True if all_within else None),
        "breaches": breaches,
        "decision": decision if decision in L["decision"] else "inconclusive",
        "decision_label": L["decision"].get(decision, decision or "–"),
        "reasons": [str(x) for x in (verdict.get("reasons") or [])][:3]
        if isinstance(verdict, dict) else [],
        "latest_failure": _latest_failure(out / cid) if not failed else None,
    }


def _latest_failure(folder: Path) -> str | None:
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
    """Write ``<out>/index.html``, the portfolio, from every ``<out>/*/results.json``.

    One row per campaign: scenario, channel, dates, audience, primary lift with CI, long-term
    LTV lift with CI, ROI, guardrail status, verdict and a link to the report; failed and
    exploratory campaigns are marked as such. Money is formatted in each campaign's currency.

    Parameters
    ----------
    out : str or Path
        The reports folder.
    lang : {"en", "ko"}, optional
        Page language; default: the language most campaigns' reports use.

    Examples
    --------
    >>> build_index("reports")  # doctest: +SKIP
    PosixPath('reports/index.html')
    """
    import jinja2

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in sorted(out.glob("*/results.json")):
        res = _read_json(path)
        if res is None:
            res = {"campaign_id": path.parent.name, "status": "failed",
                   "error": f"{path} is not readable JSON"}
        results.append((path.parent.name, res))
    if lang is None:
        langs = [r.get("report_lang") for _, r in results if r.get("report_lang") in LABELS]
        lang = max(set(langs), key=langs.count) if langs else "en"
    L = LABELS.get(lang, LABELS["en"])
    rows = [_index_row(cid, res, L, out) for cid, res in results]
    counts = {k: sum(1 for r in rows if not r["failed"] and r["decision"] == k)
              for k in ("ship", "iterate", "stop", "inconclusive")}
    summary = L["summary"].format(n=len(rows), failed=sum(r["failed"] for r in rows), **counts)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    page = env.get_template("index.html.j2").render(
        rows=rows, L=L, lang=lang, summary=summary, program=(out / "program.html").is_file(),
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    from crmlab.reporting.sanitize import clean_html

    return atomic_write_text(out / "index.html", clean_html(_with_hangul_font(page)))


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
            "latest_failure": _latest_failure(out / cid),
        })
    return rows
