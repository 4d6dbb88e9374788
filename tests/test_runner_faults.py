"""Fault injection on the batch runner: what a crashing machine and an impatient user do.

A worker SIGKILLed mid-run (the out-of-memory killer), ``kill -9`` of ``crmlab run``, Ctrl-C and
SIGTERM, folders that cannot be written, two runs into one ``--out``, and a rerun that fails
after a good one. The report notebook is a small stand-in that follows the campaign notebook's
parameter contract; each campaign's behaviour is set by an environment variable
``FAULT_<CAMPAIGN_ID>`` (``sleep:S``, ``raise``, ``kill-worker``, ``kill-worker-once``), and
every start is recorded in ``$FAULT_MARKS/<campaign_id>.started`` as "kernel pid, worker pid,
the kernel's parent-death signal".
Processes of one CLI run are found through a token in their environment.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from crmlab import runner

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="process supervision is tested on Linux")

ROOT = Path(__file__).resolve().parents[1]
FIXED_CODE = {"crmlab_version": "0.0.test", "git_commit": "f" * 40, "git_dirty": False,
              "source_hash": "0" * 64}

STANDIN = r'''
import ctypes, json, os, signal, time
from crmlab.experiments import load_spec

spec = load_spec(spec_path)
cid = spec.campaign_id
attempt = 0
marks = os.environ.get("FAULT_MARKS")
if marks:
    deathsig = ctypes.c_int(0)                  # prctl(PR_GET_PDEATHSIG): 9 = SIGKILL
    ctypes.CDLL(None).prctl(2, ctypes.byref(deathsig), 0, 0, 0)
    with open(os.path.join(marks, cid + ".started"), "a") as fh:
        fh.write(f"{os.getpid()} {os.getppid()} {deathsig.value}\n")
    with open(os.path.join(marks, cid + ".started")) as fh:
        attempt = len(fh.readlines())
behaviour = os.environ.get("FAULT_" + cid.upper(), "")
if behaviour == "kill-worker" or (behaviour == "kill-worker-once" and attempt == 1):
    os.kill(os.getppid(), signal.SIGKILL)      # what the out-of-memory killer does
    time.sleep(30)
if behaviour.startswith("sleep:"):
    time.sleep(float(behaviour[6:]))
if behaviour == "raise":
    raise RuntimeError("deliberate failure of " + cid)
results = {
    "campaign_id": cid, "title": spec.title or cid, "status": "ok", "report_lang": "en",
    "currency": "KRW", "audience": {"n_total": 6, "arms": {"control": 3, "treatment": 3}},
    "verdict": {"decision": "ship", "reasons": ["primary lift CI above 0"]},
    "provenance": json.loads(provenance_json),
}
with open(results_path + ".tmp", "w", encoding="utf-8") as fh:
    json.dump(results, fh)
os.replace(results_path + ".tmp", results_path)
print("evaluated", cid)
'''


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    import nbformat as nbf

    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "crmlab", "display_name": "crmlab (Python 3.11)",
                                 "language": "python"}
    params = nbf.v4.new_code_cell(textwrap.dedent('''\
        spec_path = "spec.yaml"
        data_dir = None
        results_path = "results.json"
        report_lang = None
        provenance_json = "{}"'''))
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbf.v4.new_markdown_cell("# Stand-in report"), params,
                nbf.v4.new_code_cell(STANDIN)]
    path = tmp_path_factory.mktemp("nb") / "standin.ipynb"
    nbf.write(nb, path)
    return path


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    from crmlab.data.examples import tiny_tables, write_tables

    out = tmp_path_factory.mktemp("tiny_data")
    write_tables(tiny_tables(), out)
    return out


@pytest.fixture(autouse=True)
def fixed_code_version(monkeypatch):
    monkeypatch.setattr(runner, "code_version", lambda notebook=None: dict(FIXED_CODE))


@pytest.fixture
def marks(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "marks"
    path.mkdir()
    monkeypatch.setenv("FAULT_MARKS", str(path))
    return path


def specs(directory: Path, *campaign_ids: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for cid in campaign_ids:
        (directory / f"{cid}.yaml").write_text(f"campaign_id: {cid}\n", encoding="utf-8")
    return directory


def starts(marks: Path, cid: str) -> list[tuple[int, int]]:
    """(kernel pid, worker pid) of each start of a campaign's notebook."""
    path = marks / f"{cid}.started"
    if not path.exists():
        return []
    return [tuple(map(int, line.split()[:2])) for line in path.read_text().splitlines()]


def kernel_death_signals(marks: Path, cid: str) -> list[int]:
    path = marks / f"{cid}.started"
    return [int(line.split()[2]) for line in path.read_text().splitlines()]


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its new parent, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def processes_with(token: str) -> list[int]:
    """Live processes whose environment holds ``token`` (those of one CLI run)."""
    found = []
    needle = f"FAULT_TOKEN={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes() and alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def files_of(out: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(out)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


def hidden_files(out: Path) -> list[str]:
    """Temporary files (dot files) left in the reports folder, the lock file excepted."""
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*")
                  if p.is_file() and p.name != ".crmlab.lock")


def cli(args: list[str], token: str, marks: Path, faults: dict[str, str],
        **popen) -> subprocess.Popen:
    """``crmlab`` in a child process of its own (a new session, like a terminal's job), with
    its temporary files in ``<marks>/../tmp``."""
    tmp = marks.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULT_")}
    env.update({"FAULT_TOKEN": token, "FAULT_MARKS": str(marks), "TMPDIR": str(tmp),
                "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])})
    env.update({f"FAULT_{cid.upper()}": value for cid, value in faults.items()})
    return subprocess.Popen([sys.executable, "-m", "crmlab.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **popen)


# --------------------------------------------------------------------------- dead workers

def test_a_killed_worker_fails_only_its_campaign_after_one_retry(tmp_path, tiny_data, standin,
                                                                 marks, monkeypatch):
    monkeypatch.setenv("FAULT_OOM_A", "kill-worker")           # dies on every attempt
    monkeypatch.setenv("FAULT_FLAKY_B", "kill-worker-once")    # dies once, then succeeds
    exp = specs(tmp_path / "exp", "oom_a", "flaky_b", "calm_c")
    out = tmp_path / "out"
    res = runner.run(exp, data=tiny_data, out=out, jobs=2, notebook=standin, progress=False)
    status = {c["campaign_id"]: c for c in res.campaigns}
    assert status["calm_c"]["status"] == "ok" and len(starts(marks, "calm_c")) == 1
    assert status["flaky_b"]["status"] == "ok" and len(starts(marks, "flaky_b")) == 2
    assert status["oom_a"]["status"] == "failed" and len(starts(marks, "oom_a")) == 2
    error = status["oom_a"]["error"]
    assert "killed by SIGKILL" in error and "twice" in error and "out-of-memory" in error
    assert res.exit_code == 1
    saved = json.loads((out / "oom_a/results.json").read_text())
    assert saved["status"] == "failed" and "killed by SIGKILL" in saved["error"]
    assert "killed by SIGKILL" in (out / "oom_a/run.log").read_text()
    assert status["oom_a"]["log"] == str(out / "oom_a/run.log")
    assert json.loads((out / "flaky_b/results.json").read_text())["status"] == "ok"
    assert hidden_files(out) == []
    # the killed workers' kernels died with them
    kernels = [k for cid in ("oom_a", "flaky_b") for k, _ in starts(marks, cid)]
    wait_for(lambda: not any(alive(k) for k in kernels), 10, "the kernels to exit")


# --------------------------------------------------------------------------- kill -9, Ctrl-C

def test_kernels_are_started_to_die_with_their_worker():
    from crmlab import batch

    km = batch.kernel_manager_class()(kernel_name="crmlab")
    km.connection_file = "/tmp/kernel-test.json"
    cmd = km.format_kernel_cmd()
    assert cmd[:2] == [sys.executable, "-c"] and "prctl(1, 9" in cmd[2]
    assert cmd[3] == str(os.getpid()) and "ipykernel_launcher" in " ".join(cmd[4:])
    # a launcher whose parent is already gone starts nothing
    res = subprocess.run([sys.executable, "-c", cmd[2], "1", "echo", "started"],
                         capture_output=True, text=True)
    assert res.returncode == 1 and res.stdout == ""
    res = subprocess.run([sys.executable, "-c", cmd[2], str(os.getpid()), "echo", "started"],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == "started\n"


def test_kill_9_of_the_batch_leaves_nothing_running_and_starts_nothing(tmp_path, tiny_data,
                                                                       standin, marks):
    exp = specs(tmp_path / "exp", "slow_a", "z_queued")
    out = tmp_path / "out"
    token = uuid.uuid4().hex
    proc = cli(["run", str(exp), "--data", str(tiny_data), "--out", str(out), "--jobs", "1",
                "--notebook", str(standin), "--no-progress"], token, marks,
               {"slow_a": "sleep:60"})
    try:
        wait_for(lambda: starts(marks, "slow_a"), 60, "slow_a to start")
        kernel, worker = starts(marks, "slow_a")[0]
        assert alive(kernel) and alive(worker)
        assert kernel_death_signals(marks, "slow_a") == [signal.SIGKILL]
        proc.kill()                                             # kill -9 crmlab run
        proc.wait()
        wait_for(lambda: not processes_with(token) and not alive(kernel) and not alive(worker),
                 5, "every process of the run to exit")
        before = files_of(out)
        time.sleep(2)
        assert files_of(out) == before                          # nothing written afterwards
        assert not starts(marks, "z_queued") and not (out / "z_queued").exists()
        # what a kill leaves: the batch's own temporary folder
        assert [p.name[:11] for p in (tmp_path / "tmp").iterdir()] == ["crmlab-run-"]
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_stops_the_batch_cleanly(tmp_path, tiny_data, standin, marks, signum, code, word):
    exp = specs(tmp_path / "exp", "slow_a", "z_queued")
    out = tmp_path / "out"
    token = uuid.uuid4().hex
    proc = cli(["run", str(exp), "--data", str(tiny_data), "--out", str(out), "--jobs", "1",
                "--notebook", str(standin), "--no-progress"], token, marks,
               {"slow_a": "sleep:60"})
    try:
        wait_for(lambda: starts(marks, "slow_a"), 60, "slow_a to start")
        kernel, worker = starts(marks, "slow_a")[0]
        os.killpg(proc.pid, signum)          # what the terminal does: the foreground group
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code
    lines = [x for x in stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and word in lines[0], stderr
    assert "Traceback" not in stderr + stdout
    assert not starts(marks, "z_queued") and not (out / "z_queued").exists()
    assert hidden_files(out) == []
    assert not (out / "slow_a/results.json").exists()       # the interrupted run left no record
    assert list((tmp_path / "tmp").iterdir()) == []          # the batch's temporary folder too
    wait_for(lambda: not processes_with(token) and not alive(kernel) and not alive(worker),
             5, "every process of the run to exit")


# --------------------------------------------------------------------------- unwritable folders

def test_a_campaign_folder_that_cannot_be_created_fails_that_campaign(tmp_path, tiny_data,
                                                                      standin, marks):
    exp = specs(tmp_path / "exp", "blocked_a", "fine_b")
    out = tmp_path / "out"
    out.mkdir()
    (out / "blocked_a").write_text("a file where the campaign folder should be")
    res = runner.run(exp, data=tiny_data, out=out, notebook=standin, progress=False)
    status = {c["campaign_id"]: c for c in res.campaigns}
    assert status["fine_b"]["status"] == "ok"
    assert status["blocked_a"]["status"] == "failed"
    assert status["blocked_a"]["error"] == (f"cannot write to the campaign folder "
                                            f"{out / 'blocked_a'}: a file is in the way of the "
                                            "folder")
    assert not starts(marks, "blocked_a")
    assert (out / "index.html").is_file() and res.exit_code == 1


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod does not stop root from writing (the "
                           "file-in-the-way tests cover the same paths)")
def test_a_read_only_campaign_folder_fails_that_campaign(tmp_path, tiny_data, standin, marks):
    exp = specs(tmp_path / "exp", "locked_a", "fine_b")
    out = tmp_path / "out"
    (out / "locked_a").mkdir(parents=True)
    (out / "locked_a").chmod(0o555)
    try:
        res = runner.run(exp, data=tiny_data, out=out, notebook=standin, progress=False)
    finally:
        (out / "locked_a").chmod(0o755)
    status = {c["campaign_id"]: c for c in res.campaigns}
    assert status["fine_b"]["status"] == "ok"
    assert status["locked_a"]["error"] == (f"cannot write to the campaign folder "
                                           f"{out / 'locked_a'}: Permission denied")
    assert not starts(marks, "locked_a")


def test_out_that_is_a_file_or_cannot_be_created(tmp_path, tiny_data, standin, marks):
    exp = specs(tmp_path / "exp", "any_a")
    a_file = tmp_path / "reports.txt"
    a_file.write_text("not a folder")
    token = uuid.uuid4().hex
    base = ["run", str(exp), "--data", str(tiny_data), "--notebook", str(standin),
            "--no-progress"]
    proc = cli([*base, "--out", str(a_file)], token, marks, {})
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert stderr.strip() == f"crmlab: error: --out {a_file} is an existing file, not a folder"
    # a folder below a file: nothing can be written, each campaign says why, no traceback
    below = a_file / "reports"
    proc = cli([*base, "--out", str(below)], token, marks, {})
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in stdout + stderr
    reason = f"cannot create the reports folder {below}: a file is in the way"
    assert f"any_a: {reason}" in stderr
    assert f"crmlab: error: {reason}" in stderr
    assert not starts(marks, "any_a") and a_file.read_text() == "not a folder"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod does not stop root from writing")
def test_a_read_only_out_fails_every_campaign_without_a_traceback(tmp_path, tiny_data, standin,
                                                                  marks):
    exp = specs(tmp_path / "exp", "any_a")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = cli(["run", str(exp), "--data", str(tiny_data), "--out", str(out),
                    "--notebook", str(standin), "--no-progress"], uuid.uuid4().hex, marks, {})
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        out.chmod(0o755)
    assert proc.returncode == 1 and "Traceback" not in stdout + stderr
    assert "Permission denied" in stderr and not starts(marks, "any_a")


# --------------------------------------------------------------------------- two runs, one --out

def test_two_runs_into_one_out_are_serialised(tmp_path, tiny_data, standin, marks):
    out = tmp_path / "out"
    first = specs(tmp_path / "exp1", "slow_a")
    second = specs(tmp_path / "exp2", "fast_b")
    token = uuid.uuid4().hex
    common = ["--data", str(tiny_data), "--out", str(out), "--notebook", str(standin),
              "--no-progress"]
    a = cli(["run", str(first), *common], token, marks, {"slow_a": "sleep:2"})
    b = None
    try:
        wait_for(lambda: starts(marks, "slow_a"), 60, "slow_a to start")
        b = cli(["run", str(second), *common], token, marks, {})
        a_out, a_err = a.communicate(timeout=60)
        b_out, b_err = b.communicate(timeout=60)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
    assert a.returncode == 0 and b.returncode == 0, (a_err, b_err)
    assert "is in use by another crmlab process" in b_err and "waiting" in b_err
    assert f"pid {a.pid}: crmlab run" in b_err
    # the second run started its campaign only after the first one had finished
    first_done = (out / "slow_a/results.json").stat().st_mtime_ns
    assert (marks / "fast_b.started").stat().st_mtime_ns >= first_done
    index = (out / "index.html").read_text()
    assert "slow_a" in index and "fast_b" in index


# --------------------------------------------------------------------------- last good outputs

GOOD_FILES = ("results.json", "report.html", "report.ipynb", "run.log")


def test_a_failed_rerun_keeps_the_last_good_outputs(tmp_path, tiny_data, standin, marks,
                                                    monkeypatch, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    exp = specs(tmp_path / "exp", "keep_a")
    out = tmp_path / "out"
    folder = out / "keep_a"

    def go(**kw):
        return runner.run(exp, data=data, out=out, notebook=standin, progress=False, **kw)

    assert go().exit_code == 0
    good = {name: (folder / name).read_bytes() for name in GOOD_FILES}
    good_finished = json.loads(good["results.json"])["provenance"]["finished_at"]

    # 1. the notebook fails on rerun
    monkeypatch.setenv("FAULT_KEEP_A", "raise")
    res = go(force=True)
    assert res.exit_code == 1
    assert {name: (folder / name).read_bytes() for name in GOOD_FILES} == good
    record = json.loads((folder / "last_failure.json").read_text())
    assert "deliberate failure of keep_a" in record["error"]
    assert record["log"] == "last_failure.log" and record["notebook"] == "last_failure.ipynb"
    assert record["last_good_finished_at"] == good_finished and record["failed_at"]
    assert res.failed[0]["log"] == str(folder / "last_failure.log")
    assert "deliberate failure of keep_a" in (folder / "last_failure.log").read_text()
    assert "deliberate failure" in (folder / "last_failure.ipynb").read_text()
    index = (out / "index.html").read_text()
    assert "ship" in index and "latest run failed:" in index
    assert "deliberate failure of keep_a" in index
    assert "최근 실행 실패:" in runner.build_index(out, lang="ko").read_text()
    [listed] = runner.list_campaigns(exp, out)
    assert listed["status"] == "ok" and "deliberate failure" in listed["latest_failure"]
    from crmlab.cli import main

    assert main(["report", "--out", str(out)]) == 1          # never "ok" for a stale report
    printed = capsys.readouterr().out
    assert "keep_a: stale — latest run failed at" in printed and good_finished in printed
    assert str(folder / "last_failure.log") in printed

    # 2. the data break the contract on rerun: failed before execution, good files kept
    monkeypatch.delenv("FAULT_KEEP_A")
    orders = (data / "orders.parquet").read_bytes()
    (data / "orders.parquet").unlink()
    res = go()
    assert res.failed and "bad data" in res.failed[0]["error"]
    assert {n: (folder / n).read_bytes() for n in GOOD_FILES if n != "report.html"} == \
        {n: v for n, v in good.items() if n != "report.html"}
    assert (folder / "report.html").is_file()
    assert "bad data" in json.loads((folder / "last_failure.json").read_text())["error"]
    assert not (folder / "last_failure.ipynb").exists()

    # 3. a good run replaces the outputs and the failure record goes
    (data / "orders.parquet").write_bytes(orders)
    res = go()                       # not skipped: the latest run failed
    assert [c["status"] for c in res.campaigns] == ["ok"]
    assert not any((folder / n).exists() for n in
                   ("last_failure.json", "last_failure.log", "last_failure.ipynb"))
    assert json.loads((folder / "results.json").read_text())["provenance"]["started_at"]
    assert "latest run failed" not in (out / "index.html").read_text()
    assert runner.render_reports(out)[0]["status"] == "ok"
    assert hidden_files(out) == []


def test_report_marks_a_report_whose_data_or_spec_changed(tmp_path, tiny_data, standin):
    import shutil

    from crmlab.data.examples import tiny_tables, write_tables

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    exp = specs(tmp_path / "exp", "drift_a")
    out = tmp_path / "out"
    assert runner.run(exp, data=data, out=out, notebook=standin, progress=False).exit_code == 0
    assert runner.render_reports(out)[0]["status"] == "ok"

    (exp / "drift_a.yaml").write_text("campaign_id: drift_a\ntitle: renamed\n")
    [r] = runner.render_reports(out)
    assert r["status"] == "stale" and "the spec" in r["error"] and "changed" in r["error"]
    (exp / "drift_a.yaml").write_text("campaign_id: drift_a\n")

    tables = tiny_tables()
    tables["orders"] = tables["orders"].iloc[:-1]
    write_tables(tables, data)
    [r] = runner.render_reports(out)
    assert r["status"] == "stale" and f"the data in {data} changed" in r["error"]

    # report.ipynb of another run than results.json: refused, not rendered
    write_tables(tiny_tables(), data)
    saved = json.loads((out / "drift_a/results.json").read_text())
    key = saved["provenance"]["run_key"]
    assert runner._is_unchanged(out / "drift_a", key)
    saved["provenance"]["started_at"] = "2000-01-01T00:00:00+00:00"
    (out / "drift_a/results.json").write_text(json.dumps(saved))
    html = (out / "drift_a/report.html").stat().st_mtime_ns
    [r] = runner.render_reports(out)
    assert r["status"] == "failed" and "different runs" in r["error"]
    assert (out / "drift_a/report.html").stat().st_mtime_ns == html
    assert not runner._is_unchanged(out / "drift_a", key)      # a rerun does not skip it


@pytest.mark.parametrize("writable", [True, False])
def test_the_lock_makes_a_second_holder_wait(tmp_path, monkeypatch, writable):
    """Two holders of one folder's lock take turns (same process, separate open files)."""
    import threading

    from crmlab import batch

    if not writable:                       # the folder cannot take the lock file: lock the folder
        real_open = os.open

        def no_lock_file(path, flags, *args):
            if str(path).endswith(batch.LOCK_NAME):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args)

        monkeypatch.setattr(batch.os, "open", no_lock_file)
    said, order = [], []
    first = batch.OutLock(tmp_path, what="crmlab run")
    first.__enter__()

    def second():
        with batch.OutLock(tmp_path, what="crmlab report", notify=said.append):
            order.append("second")

    t = threading.Thread(target=second)
    t.start()
    wait_for(lambda: said, 10, "the second holder to say it waits")
    time.sleep(0.2)
    assert order == [] and t.is_alive()
    assert "is in use by another crmlab process" in said[0] and "waiting" in said[0]
    if writable:
        assert f"pid {os.getpid()}: crmlab run" in said[0]
    order.append("first")
    first.__exit__(None, None, None)
    t.join(10)
    assert order == ["first", "second"]
    assert (tmp_path / batch.LOCK_NAME).exists() == writable
