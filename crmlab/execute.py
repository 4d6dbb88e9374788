"""One campaign's run, inside a batch worker: papermill, the HTML page, results.json.

:func:`_execute` is what a worker of :mod:`crmlab.batch` calls for each :class:`_Job` that
:func:`crmlab.runner.run` planned; it never raises, and commits the outputs through
:func:`crmlab.batch.commit_success` / :func:`crmlab.batch.commit_failure`.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from crmlab._atomic import json_safe as _json_safe
from crmlab._atomic import read_json as _read_json
from crmlab.data.errors import public_message, redacted_examples
from crmlab.reporting.html import render_html
from crmlab.reporting.html import skip_iri_grammar as _skip_iri_grammar

__all__ = ["_Job", "_execute"]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
                render_html(nb_tmp, html_tmp, lang=job.report_lang,
                            title=(partial or {}).get("title") or job.spec_summary.get("title"))
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
