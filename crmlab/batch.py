"""Supervision of a batch run: one worker process per campaign, a lock on the reports folder,
last good outputs kept when a rerun fails.

Used by :func:`crmlab.runner.run`; the guarantees are stated in ``docs/cli.md``.

* **Workers die with the batch.** Each campaign runs in a fresh worker process
  (:func:`worker_main`) in its own process group; on Linux the worker asks the kernel to
  SIGKILL it when the batch process dies (``prctl(PR_SET_PDEATHSIG)``), and the worker starts
  its Jupyter kernel through the same request (:func:`kernel_manager_class`), so ``kill -9`` of
  the batch leaves nothing running and nothing queued starts.
* **A dead worker fails at most its own campaign**: a worker that dies without a result (the
  out-of-memory killer's SIGKILL, a crash) is replaced by a fresh one and its campaign is retried
  once; a second death fails that campaign only.
* **Ctrl-C** (or SIGTERM) stops the batch: no queued campaign starts, running workers and their
  kernels are killed, their temporary files are removed, and the exception propagates.
* **One batch per reports folder at a time** (:class:`OutLock`, ``fcntl.flock``): a second
  ``crmlab run`` or ``crmlab report`` on the same folder waits for the first.
* **The last good outputs stay** (:func:`commit_success`, :func:`commit_failure`): a failed rerun
  of a campaign that has a good ``results.json`` leaves ``results.json``, ``report.html``,
  ``report.ipynb`` and ``run.log`` untouched and writes ``last_failure.json`` (time, reason, run
  key, its log ``last_failure.log`` and notebook ``last_failure.ipynb``) beside them.
"""
from __future__ import annotations

import collections
import ctypes
import datetime as _dt
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["OutLock", "supervise", "die_with_parent", "kernel_manager_class",
           "commit_success", "commit_failure", "read_last_failure", "has_good_record",
           "same_run", "report_currency",
           "remove_temporary_files", "LOCK_NAME", "LAST_FAILURE", "LAST_FAILURE_LOG",
           "LAST_FAILURE_NOTEBOOK", "RETRIES"]

LOCK_NAME = ".crmlab.lock"
LAST_FAILURE = "last_failure.json"
LAST_FAILURE_LOG = "last_failure.log"
LAST_FAILURE_NOTEBOOK = "last_failure.ipynb"
#: A campaign whose worker dies without a result is run again this many times in a fresh worker.
RETRIES = 1
_PR_SET_PDEATHSIG = 1
#: Temporary files a worker writes in its campaign folder (removed when it is killed).
_TEMP_PATTERNS = (".report.*.ipynb", ".report.*.html", ".results.*.json", ".run.log.*.tmp",
                  ".*.tmp")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- dying with the parent

def die_with_parent(parent_pid: int) -> bool:
    """Have Linux SIGKILL this process when its parent exits; False if the parent is already gone.

    ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through ctypes (a no-op elsewhere). The request is
    inherited across ``exec`` but not by children, so each process in the chain makes it itself.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    return os.getppid() == parent_pid


# Run as ``python -c`` in front of the kernel's command: the kernel dies with its worker.
_KERNEL_LAUNCHER = (
    "import ctypes, os, sys\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)\n"
    "except Exception:\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def kernel_manager_class():
    """A Jupyter kernel manager whose kernels are SIGKILLed when the process that started them dies.

    jupyter_client starts kernels in a session of their own, so a process-group kill of the
    worker does not reach them; the kernel's command is prefixed with a small launcher that makes
    the parent-death request and then ``exec``s the kernel (same pid). Pass it to papermill as
    ``kernel_manager_class``.
    """
    from jupyter_client.manager import AsyncKernelManager

    class DiesWithParentKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            if not sys.platform.startswith("linux"):
                return cmd
            return [sys.executable, "-c", _KERNEL_LAUNCHER, str(os.getpid()), *cmd]

    return DiesWithParentKernelManager


# --------------------------------------------------------------------------- the lock

class OutLock:
    """Exclusive lock on a reports folder (``fcntl.flock`` on ``<out>/.crmlab.lock``).

    A second holder *waits* (``notify`` is called once with a sentence naming the holder); Ctrl-C
    while waiting raises KeyboardInterrupt as usual. The lock is released when the holder exits,
    however it exits (the kernel drops it with the file descriptor), so a killed run never leaves
    a stale lock. The lock file stays (removing it would let two runs lock different files).
    When the folder is not writable the folder itself is locked.
    """

    def __init__(self, out: str | Path, what: str = "crmlab run",
                 notify: Callable[[str], None] | None = None):
        self.out = Path(out)
        self.what = what
        self.notify = notify
        self._fd: int | None = None

    def __enter__(self) -> "OutLock":
        path = self.out / LOCK_NAME
        writable = True
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError:
            writable = False
            fd = os.open(self.out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = ""
                if writable:
                    try:
                        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    except OSError:
                        pass
                if self.notify is not None:
                    self.notify(f"{self.out} is in use by another crmlab process"
                                + (f" ({holder})" if holder else "")
                                + "; waiting for it to finish")
                fcntl.flock(fd, fcntl.LOCK_EX)
            if writable:
                text = f"pid {os.getpid()}: {self.what}, since {_now()}\n".encode("utf-8")
                os.ftruncate(fd, 0)
                os.pwrite(fd, text, 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


# --------------------------------------------------------------------------- outcomes on disk

def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def has_good_record(folder: str | Path) -> bool:
    """Whether the campaign folder holds the outputs of a successful run."""
    prev = _read_json(Path(folder) / "results.json")
    return bool(prev) and prev.get("status") == "ok"


def read_last_failure(folder: str | Path) -> dict | None:
    """The recorded failure of the latest run, when it failed after a good run; else None.

    Returns ``{"failed_at", "error", "log", "last_good_finished_at", ...}`` (``log`` is a path
    relative to the campaign folder). A campaign without a good run has its failure in
    ``results.json`` itself and no such record.

    Examples
    --------
    >>> read_last_failure("reports/winback_2024")  # doctest: +SKIP
    {'failed_at': '2026-11-23T10:02:11+00:00', 'error': 'bad data: ...', ...}
    """
    folder = Path(folder)
    record = _read_json(folder / LAST_FAILURE)
    if record is None or not has_good_record(folder):
        return None
    record.setdefault("error", "unknown error")
    return record


def remove_temporary_files(folder: str | Path, pid: int | None = None) -> list[Path]:
    """Remove the temporary files of a worker (of ``pid``, or of any) in a campaign folder."""
    folder = Path(folder)
    removed = []
    patterns = _TEMP_PATTERNS if pid is None else (
        f".report.{pid}.ipynb", f".report.{pid}.html", f".results.{pid}.json",
        f".results.{pid}.json.tmp", f".run.log.{pid}.tmp", ".*.tmp")
    try:
        for pattern in patterns:
            for path in folder.glob(pattern):
                try:
                    path.unlink()
                    removed.append(path)
                except FileNotFoundError:
                    pass
    except OSError:
        pass
    return removed


def _replace_or_remove(src: Path | None, dst: Path) -> None:
    if src is not None and src.exists():
        os.replace(src, dst)
    else:
        dst.unlink(missing_ok=True)


def commit_success(folder: Path, results: dict, nb_tmp: Path, html_tmp: Path,
                   log_tmp: Path) -> Path:
    """Move a successful run's files into place; results.json last, then the failure record goes.

    Returns the path of the run's log.
    """
    from crmlab.runner import atomic_write_json

    os.replace(nb_tmp, folder / "report.ipynb")
    os.replace(html_tmp, folder / "report.html")
    os.replace(log_tmp, folder / "run.log")
    atomic_write_json(folder / "results.json", results)
    for name in (LAST_FAILURE, LAST_FAILURE_LOG, LAST_FAILURE_NOTEBOOK):
        (folder / name).unlink(missing_ok=True)
    return folder / "run.log"


def commit_failure(folder: Path, results: dict, nb_tmp: Path | None, html_tmp: Path | None,
                   log_tmp: Path | None) -> Path:
    """Record a failed run without losing the last good one. Returns the path of this run's log.

    With a good ``results.json`` in the folder, the good files stay and this run goes to
    ``last_failure.json`` (time, reason, run key, and the names of the two files that follow),
    ``last_failure.log`` and ``last_failure.ipynb``. Without one, this run's record becomes
    ``results.json`` (status failed), its notebook ``report.ipynb``, its rendered notebook (if
    any) ``report.html`` and its log ``run.log``.
    """
    from crmlab.runner import atomic_write_json

    prov = results.get("provenance") or {}
    record = {
        "campaign_id": results.get("campaign_id"),
        "status": "failed",
        "error": results.get("error"),
        "started_at": prov.get("started_at"),
        "failed_at": prov.get("finished_at") or _now(),
        "run_key": prov.get("run_key"),
    }
    if not has_good_record(folder):
        log = folder / "run.log"
        _replace_or_remove(log_tmp, log)
        _replace_or_remove(nb_tmp, folder / "report.ipynb")
        _replace_or_remove(html_tmp, folder / "report.html")
        atomic_write_json(folder / "results.json", results)
        for name in (LAST_FAILURE, LAST_FAILURE_LOG, LAST_FAILURE_NOTEBOOK):
            (folder / name).unlink(missing_ok=True)
        return log
    good = _read_json(folder / "results.json") or {}
    log = folder / LAST_FAILURE_LOG
    _replace_or_remove(log_tmp, log)
    _replace_or_remove(nb_tmp, folder / LAST_FAILURE_NOTEBOOK)
    if html_tmp is not None:
        html_tmp.unlink(missing_ok=True)
    record["log"] = LAST_FAILURE_LOG
    record["notebook"] = (LAST_FAILURE_NOTEBOOK
                          if (folder / LAST_FAILURE_NOTEBOOK).exists() else None)
    record["last_good_finished_at"] = (good.get("provenance") or {}).get("finished_at")
    atomic_write_json(folder / LAST_FAILURE, record)
    return log


# --------------------------------------------------------------------------- the supervisor

@dataclass
class _Worker:
    job: Any
    attempt: int
    proc: subprocess.Popen
    summary: Path
    stderr: Path


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _probe_writable(folder: Path) -> str | None:
    """None when files can be created in ``folder`` (made if missing); else the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            reason = "a file is in the way of the folder"
        return f"cannot write to the campaign folder {folder}: {reason}"
    return None


def _failed(job, error: str, log: Path | None = None, seconds: float = 0.0) -> dict:
    out = Path(job.out_dir)
    return {"campaign_id": job.campaign_id, "status": "failed", "error": error,
            "seconds": round(seconds, 3), "spec": job.spec_path,
            "report": str(out / "report.html"), "log": str(log) if log else None}


class _Supervisor:
    def __init__(self, jobs: Iterable[Any], max_workers: int, done: Callable[[dict], None],
                 notify: Callable[[str], None]):
        self.pending = collections.deque((job, 1) for job in jobs)
        self.max_workers = max(1, int(max_workers))
        self.done = done
        self.notify = notify
        self.running: dict[int, _Worker] = {}
        self.started: dict[str, float] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="crmlab-run-"))
        self.env = dict(os.environ)
        # temporary files of workers and kernels (e.g. kernel connection files) live, and are
        # removed, with the batch's own temporary folder
        (self.workdir / "tmp").mkdir()
        self.env["TMPDIR"] = str(self.workdir / "tmp")
        self.env["JUPYTER_RUNTIME_DIR"] = str(self.workdir / "jupyter-runtime")

    def _start(self, job, attempt: int) -> None:
        problem = _probe_writable(Path(job.out_dir))
        if problem is not None:
            self.done(_failed(job, problem))
            return
        if job.error is not None:     # refused before execution: only the record to write
            from crmlab.runner import _execute

            self.done(_execute(job))
            return
        tag = f"{len(self.started)}-{attempt}-{job.campaign_id}"
        job_file = self.workdir / f"{tag}.job.json"
        job_file.write_text(json.dumps(asdict(job), ensure_ascii=False), encoding="utf-8")
        summary = self.workdir / f"{tag}.summary.json"
        stderr = self.workdir / f"{tag}.stderr"
        # a Ctrl-C now waits until the worker is registered (and so gets killed with the rest)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            with open(stderr, "wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _WORKER_BOOT, json.dumps(sys.path), str(job_file),
                     str(summary), str(os.getpid())],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=self.env,
                    process_group=0, close_fds=True)
            self.started.setdefault(job.campaign_id, time.perf_counter())
            self.running[proc.pid] = _Worker(job, attempt, proc, summary, stderr)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _exited(self) -> list[_Worker]:
        """Workers that exited; their process groups are killed before they are reaped."""
        out = []
        for pid, w in list(self.running.items()):
            if hasattr(os, "waitid"):
                try:
                    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                except ChildProcessError:
                    info = True
                if info is None:
                    continue
                _kill_group(pid)      # anything the worker left in its group (pid not reused yet)
            elif w.proc.poll() is None:   # pragma: no cover - systems without waitid (macOS)
                continue
            else:  # pragma: no cover
                _kill_group(pid)
            w.proc.wait()
            del self.running[pid]
            out.append(w)
        return out

    def _finish(self, w: _Worker) -> None:
        job = w.job
        summary = _read_json(w.summary)
        if summary is not None:
            self.done(summary)
            return
        code = w.proc.returncode
        how = (f"killed by {_signal_name(-code)}" if code < 0
               else f"exited with code {code} without a result")
        detail = _last_line(w.stderr)
        reason = f"the worker process was {how}" + (f" ({detail})" if detail and code > 0 else "")
        folder = Path(job.out_dir)
        log_tmp = folder / f".run.log.{w.proc.pid}.tmp"
        if w.attempt <= RETRIES:
            remove_temporary_files(folder, w.proc.pid)
            self.notify(f"{job.campaign_id}: {reason}; retrying in a fresh worker")
            self.pending.appendleft((job, w.attempt + 1))
            return
        error = (f"{reason}, twice (the first attempt was retried in a fresh worker); the "
                 "out-of-memory killer does this when the machine runs out of memory")
        seconds = time.perf_counter() - self.started.get(job.campaign_id, time.perf_counter())
        log = None
        try:
            if log_tmp.exists():
                with open(log_tmp, "a", encoding="utf-8") as fh:
                    fh.write(f"{_now()} ERROR campaign {job.campaign_id} failed: {error}\n")
            else:
                log_tmp.write_text(f"{_now()} ERROR campaign {job.campaign_id} failed: "
                                   f"{error}\n", encoding="utf-8")
            for name in (f".report.{w.proc.pid}.ipynb", f".report.{w.proc.pid}.html"):
                (folder / name).unlink(missing_ok=True)
            from crmlab.runner import _minimal_results

            results = _minimal_results(job, error)
            prov = dict(job.provenance)
            prov["finished_at"] = _now()
            results["provenance"] = prov
            log = commit_failure(folder, results, None, None, log_tmp)
        except OSError as exc:
            error += f" (the failure could not be recorded in {folder}: {exc.strerror})"
        remove_temporary_files(folder, w.proc.pid)
        self.done(_failed(job, error, log, seconds))

    def run(self) -> None:
        try:
            while self.pending or self.running:
                while self.pending and len(self.running) < self.max_workers:
                    self._start(*self.pending.popleft())
                finished = self._exited()
                for w in finished:
                    self._finish(w)
                if not finished:
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self) -> None:
        """Kill every running worker (its kernel follows) and remove their temporary files."""
        # a second Ctrl-C (or SIGTERM) waits until the cleanup is done
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self.pending.clear()
            for pid in list(self.running):
                _kill_group(pid)
            for pid, w in list(self.running.items()):
                try:
                    w.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
                    pass
            time.sleep(0.2)           # the kernels' parent-death SIGKILL lands meanwhile
            for pid, w in self.running.items():
                remove_temporary_files(Path(w.job.out_dir), pid)
            self.running.clear()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(path: Path) -> str:
    try:
        lines = [x for x in path.read_text(encoding="utf-8", errors="replace").splitlines()
                 if x.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:300] if lines else ""


def supervise(jobs: Iterable[Any], max_workers: int, done: Callable[[dict], None],
              notify: Callable[[str], None] = lambda message: None) -> None:
    """Run each job (:class:`crmlab.runner._Job`) in a fresh worker, ``max_workers`` at a time.

    ``done(summary)`` is called once per campaign with ``campaign_id, status, error, seconds,
    spec, report, log``. A worker that dies without a summary is replaced and its campaign
    retried :data:`RETRIES` time(s); a campaign folder that cannot be written fails that campaign
    without starting a worker. On an exception in the caller's thread (KeyboardInterrupt,
    SIGTERM turned into an exception) the running workers are killed, their temporary files are
    removed and the exception propagates; queued jobs never start.
    """
    _Supervisor(jobs, max_workers, done, notify).run()


# --------------------------------------------------------------------------- the worker

# A worker imports crmlab from the batch's own import path (as multiprocessing's spawn does).
_WORKER_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
                "from crmlab.batch import worker_main; sys.exit(worker_main(sys.argv[2:]))")


def worker_main(argv: list[str]) -> int:
    """A worker: ``JOB_JSON SUMMARY_JSON PARENT_PID`` -> runs the job, writes its summary."""
    job_file, summary_file, parent = argv
    if not die_with_parent(int(parent)):
        return 3                      # the batch is already gone: start nothing
    # SIGINT belongs to the batch process (the worker is in a group of its own); the mask the
    # batch held while starting this process is not passed on to the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    from crmlab import runner

    job = runner._Job(**json.loads(Path(job_file).read_text(encoding="utf-8")))
    summary = runner._execute(job, kernel_manager=kernel_manager_class())
    tmp = Path(f"{summary_file}.tmp")
    tmp.write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, summary_file)
    return 0


# --------------------------------------------------------------------------- is a report current?

def _notebook_parameters(path: Path) -> dict:
    """The parameters papermill recorded in an executed notebook ({} when none)."""
    nb = _read_json(path) or {}
    params = ((nb.get("metadata") or {}).get("papermill") or {}).get("parameters")
    return params if isinstance(params, dict) else {}


def same_run(folder: str | Path, results: dict | None = None) -> bool:
    """Whether ``report.ipynb`` and ``results.json`` of a campaign come from the same run.

    Compares the run key and start time the notebook was given (papermill's recorded
    ``provenance_json``) with those in ``results.json``; a notebook without them passes.
    """
    folder = Path(folder)
    results = results if results is not None else (_read_json(folder / "results.json") or {})
    prov = results.get("provenance") or {}
    params = _notebook_parameters(folder / "report.ipynb")
    try:
        nb_prov = json.loads(params.get("provenance_json") or "{}")
    except ValueError:
        nb_prov = {}
    if not isinstance(nb_prov, dict):
        return True
    return all(nb_prov.get(key) == prov.get(key) for key in ("run_key", "started_at")
               if key in nb_prov)


def report_currency(folder: str | Path, fingerprints: dict | None = None) -> tuple[str, str | None]:
    """Whether a campaign's report still describes its current inputs.

    Returns ``("ok", None)``, ``("stale", reason)`` — the latest run failed after this report was
    made, or the data or the spec changed since — or ``("failed", reason)`` when ``report.ipynb``
    and ``results.json`` do not belong to the same run. ``fingerprints`` caches data
    fingerprints per data directory across campaigns.
    """
    from crmlab.experiments import SpecError, load_spec
    from crmlab.runner import data_fingerprint

    folder = Path(folder)
    results = _read_json(folder / "results.json")
    if results is None:
        return "failed", f"no readable results.json in {folder}; rerun `crmlab run`"
    prov = results.get("provenance") or {}
    params = _notebook_parameters(folder / "report.ipynb")
    if not same_run(folder, results):
        return "failed", ("report.ipynb and results.json come from different runs; rerun "
                          f"`crmlab run --only {folder.name}`")
    made = prov.get("finished_at") or "an earlier run"
    failure = read_last_failure(folder)
    if failure is not None:
        first = str(failure.get("error") or "").splitlines()[0] if failure.get("error") else ""
        return "stale", (f"latest run failed at {failure.get('failed_at')}: {first} "
                         f"(log: {folder / str(failure.get('log') or LAST_FAILURE_LOG)}); this is "
                         f"the report of the last good run ({made})")
    if results.get("status") != "ok":
        return "ok", None
    cache = fingerprints if fingerprints is not None else {}
    data_dir = params.get("data_dir")
    if data_dir and prov.get("data_fingerprint"):
        if data_dir not in cache:
            try:
                cache[data_dir] = (data_fingerprint(data_dir), None)
            except FileNotFoundError:
                cache[data_dir] = (None, f"the data directory {data_dir} no longer exists")
            except Exception as exc:  # noqa: BLE001 - any failure to read the data
                cache[data_dir] = (None, f"the data in {data_dir} no longer load "
                                         f"({type(exc).__name__})")
        fp, problem = cache[data_dir]
        if problem is not None:
            return "stale", f"{problem}; this report was made {made}"
        if fp != prov["data_fingerprint"]:
            return "stale", (f"the data in {data_dir} changed since this report was made "
                             f"({made}); rerun `crmlab run`")
    spec_path = params.get("spec_path")
    if spec_path and prov.get("spec_hash"):
        try:
            spec_hash = load_spec(spec_path).content_hash()
        except (OSError, SpecError):
            return "stale", (f"the spec {spec_path} is missing or no longer valid; this report "
                             f"was made {made}")
        if spec_hash != prov["spec_hash"]:
            return "stale", (f"the spec {spec_path} changed since this report was made "
                             f"({made}); rerun `crmlab run`")
    return "ok", None
