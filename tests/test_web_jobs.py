"""The web server's job processes and run store under stress: every job can be cancelled and
its process ends, memory and time are bounded, job processes end with the server, a busy
store answers 503 and loses no result, a refused submission leaves nothing behind.

Most tests drive :class:`natwin.web.jobs.JobManager` with job kinds of their own (a job that
sleeps, one that allocates without end, one that dies), added in the job processes by
:func:`serve_with_test_jobs`; one starts ``natwin serve`` and stops it with SIGTERM and SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from natwin.store import RunStore
from natwin.web import create_app
from natwin.web.jobs import JobManager, ServerBusyError, TooManyJobsError
from natwin.web.worker import EXIT_ORPHANED

SRC = Path(__file__).resolve().parents[1] / "src"


# --------------------------------------------------------------------------- test jobs


def _sleep_job(job_id, request, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text("<p>test</p>", encoding="utf-8")
    time.sleep(request.get("seconds", 0.0))
    return {"payload": {"name": request.get("name", "slept"), "kpis": {"seconds": request.get("seconds", 0.0)}}}


def _hog_job(job_id, request, out_dir):
    """Allocates without end, as a runaway plant simulation did (7 GiB in 90 s)."""
    chunks = []
    while True:
        chunks.append(bytearray(256 * 2**20))


def _hog_in_c_job(job_id, request, out_dir):
    """Allocates without end, failing as a C extension may when it cannot allocate: not with
    MemoryError (a runaway plant year ended in "SystemError: <function run> returned NULL
    without setting an exception")."""
    chunks = []
    try:
        while True:
            chunks.append(bytearray(256 * 2**20))
    except MemoryError:
        raise SystemError("<function run> returned NULL without setting an exception") from None


def _hog_and_spin_job(job_id, request, out_dir):
    """Fills its address space to the cap, then swallows every failed allocation and spins:
    a runaway plant year sat at its 6 GiB cap at full CPU."""
    chunks = []
    for size in (256 * 2**20, 16 * 2**20, 2**20):
        try:
            while True:
                chunks.append(bytearray(size))
        except MemoryError:
            pass
    while True:
        with contextlib.suppress(MemoryError):
            chunks.append(bytearray(2**20))


def _crash_job(job_id, request, out_dir):
    os.kill(os.getpid(), signal.SIGKILL)


def _points_job(job_id, request, out_dir):
    """Sends ``points`` results, as a sweep does, then works on (sleeps)."""
    from natwin.web import worker

    for index in range(request["points"]):
        payload = {"name": f"point {index}", "kpis": {"index": index}}
        worker._send("point", job_id, {"index": index, "payload": payload})
    time.sleep(120)
    return {"sent": request["points"]}


def serve_with_test_jobs(channel, memory_bytes, parent_pid):
    """A job process that also runs the test job kinds (``sleep``, ``hog``, ``crash``, ``points``)."""
    from natwin.web import worker

    worker.JOB_KINDS.update(
        sleep=_sleep_job,
        hog=_hog_job,
        hog_in_c=_hog_in_c_job,
        hog_and_spin=_hog_and_spin_job,
        crash=_crash_job,
        points=_points_job,
    )
    worker.serve(channel, memory_bytes, parent_pid)


def manager(tmp_path, **options):
    options.setdefault("job_process", serve_with_test_jobs)
    return JobManager(tmp_path / "runs.duckdb", tmp_path / "files", **options)


def wait_until(condition, timeout=30.0, what="condition"):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in {timeout} s")


def ended(job):
    return job.status not in ("queued", "running")


def process_gone(pid):
    """The process has ended (gone, or a zombie its parent has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def children(pid):
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                out.append(int(entry.name))
    return out


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


# --------------------------------------------------------------------------- cancel, memory, time


def test_a_running_job_can_be_cancelled_and_its_process_ends(tmp_path):
    """A running job once could not be cancelled (409) and ran on."""
    jobs = manager(tmp_path, workers=1)
    try:
        (pid,) = jobs.processes.pids()
        job = jobs.submit("sleep", {"seconds": 120}, "long")
        wait_until(lambda: job.status == "running", what="job running")
        # one thread in the numerical libraries' pools, set for the job process only
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if "OMP_NUM_THREADS" not in os.environ:
            assert b"OMP_NUM_THREADS=1" in environment
            assert "OMP_NUM_THREADS" not in os.environ
        assert jobs.cancel(job.id).status == "cancelled"
        wait_until(lambda: process_gone(pid), timeout=5, what="job process ended")
        wait_until(lambda: not (tmp_path / "files" / "work" / job.id).exists(), what="work folder removed")
        # a fresh process takes the next job
        follow = jobs.submit("sleep", {"seconds": 0.0}, "next")
        wait_until(lambda: ended(follow), what="next job")
        assert follow.status == "done", follow.error
        assert pid not in jobs.processes.pids()
    finally:
        jobs.close()


def test_a_queued_job_behind_a_running_one_can_be_cancelled(tmp_path):
    jobs = manager(tmp_path, workers=1)
    try:
        first = jobs.submit("sleep", {"seconds": 120}, "first")
        second = jobs.submit("sleep", {"seconds": 0}, "second")
        assert jobs.cancel(second.id).status == "cancelled"
        wait_until(lambda: first.status == "running", what="first running")
        assert jobs.forget(first.id).status == "cancelled"
        assert jobs.get(first.id) is None
    finally:
        jobs.close()


@pytest.mark.parametrize("kind", ["hog", "hog_in_c", "hog_and_spin"])
def test_a_job_that_runs_out_of_memory_fails_clearly(tmp_path, kind):
    jobs = manager(tmp_path, workers=1, memory_bytes=3 * 2**30)
    try:
        job = jobs.submit(kind, {}, "runaway")
        wait_until(lambda: ended(job), timeout=60, what="hog ended")
        assert job.status == "failed"
        assert "more memory than a web job may use (3.0 GiB" in job.error, job.error
        follow = jobs.submit("sleep", {"seconds": 0}, "after")
        wait_until(lambda: ended(follow), what="next job")
        assert follow.status == "done", follow.error
    finally:
        jobs.close()


def test_a_job_past_its_time_budget_is_stopped(tmp_path):
    jobs = manager(tmp_path, workers=1, time_limit_s=1.0)
    try:
        (pid,) = jobs.processes.pids()
        job = jobs.submit("sleep", {"seconds": 120}, "slow")
        wait_until(lambda: ended(job), timeout=20, what="job stopped")
        assert job.status == "failed"
        assert job.error.startswith("stopped after 1 s: the time a web job may run"), job.error
        wait_until(lambda: process_gone(pid), timeout=5, what="process ended")
    finally:
        jobs.close()


def test_a_job_whose_process_dies_fails_and_the_process_is_replaced(tmp_path):
    jobs = manager(tmp_path, workers=1)
    try:
        job = jobs.submit("crash", {}, "crash")
        wait_until(lambda: ended(job), what="crash noticed")
        assert job.status == "failed"
        assert job.error.startswith("the job process ended unexpectedly (signal 9, SIGKILL)"), job.error
        follow = jobs.submit("sleep", {"seconds": 0}, "after")
        wait_until(lambda: ended(follow), what="next job")
        assert follow.status == "done"
    finally:
        jobs.close()


def test_closing_ends_running_job_processes(tmp_path):
    """close() read the pool's process list after shutdown() had cleared it: jobs ran on."""
    jobs = manager(tmp_path, workers=2)
    pids = jobs.processes.pids()
    job = jobs.submit("sleep", {"seconds": 120}, "long")
    wait_until(lambda: job.status == "running", what="job running")
    jobs.close()
    assert job.status == "cancelled"  # abandoned, nothing stored
    assert job.message == "the server stopped while it ran"
    for pid in pids:
        wait_until(lambda pid=pid: process_gone(pid), timeout=5, what=f"process {pid} ended")


# --------------------------------------------------------------------------- the server process


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    server = subprocess.Popen(
        [sys.executable, "-m", "natwin", "serve", "--port", str(port), "--workers", "1", "--store", str(tmp_path / "runs.duckdb")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"

    def up():
        try:
            return urllib.request.urlopen(f"{url}/health", timeout=2).status == 200
        except (urllib.error.URLError, OSError):
            return False

    wait_until(up, timeout=60, what="server up")
    return server, url


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=30).read())


def _running_long_sweep(server, url):
    """A sweep of 40 plant simulations (minutes of work) running in the server's job process."""
    grid = {"plant.capacity_t_per_year": [5000 + 100 * i for i in range(40)]}
    job = _post(f"{url}/jobs/sweep", {"grid": grid, "energy": False})

    def running():
        return json.loads(urllib.request.urlopen(f"{url}/jobs/{job['id']}", timeout=5).read())["status"] == "running"

    wait_until(running, timeout=60, what="sweep running")
    return children(server.pid)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_job_processes_end_with_the_server(tmp_path, stop):
    """After SIGTERM the job process stayed, re-parented to PID 1. SIGTERM: the server ends its
    job processes as it shuts down; SIGKILL (no shutdown at all): each job process notices
    that its server has gone and ends itself within a second or two."""
    server, url = _start_server(tmp_path)
    try:
        workers = _running_long_sweep(server, url)
        assert workers, "no job process found"
        server.send_signal(stop)
        server.wait(timeout=30)
        for pid in workers:
            wait_until(lambda pid=pid: process_gone(pid), timeout=10, what=f"job process {pid} ended")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_a_job_process_ends_itself_when_its_server_is_gone():
    from natwin.web.worker import watch_parent

    code = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(SRC)!r})\n"
        "from natwin.web.worker import watch_parent\n"
        "if os.fork() == 0:\n"
        "    watch_parent(os.getppid(), interval_s=0.1)\n"
        "    print(os.getpid(), flush=True)\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"
    )
    parent = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    child = int(parent.stdout.split()[0])
    wait_until(lambda: process_gone(child), timeout=5, what="orphaned child ended")
    assert callable(watch_parent)
    assert EXIT_ORPHANED != 0


# --------------------------------------------------------------------------- a busy run store


class HeldStore:
    """Another process (as `natwin sweep` would) holding the run store open for writing."""

    def __init__(self, path):
        RunStore(path).close()
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); sys.stdin.read()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    def release(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=10)


def test_readers_get_503_with_retry_after_while_another_process_holds_the_store(tmp_path):
    """They answered HTTP 500 after 17 s."""
    app = create_app(tmp_path / "runs.duckdb", execute_jobs=False, allowed_hosts=None)
    held = HeldStore(tmp_path / "runs.duckdb")
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            for url in ("/api/runs", "/api/sweeps", "/api/runs/0123456789abcdef0123456789abcdef"):
                start = time.monotonic()
                response = client.get(url)
                assert response.status_code == 503, (url, response.text)
                assert time.monotonic() - start < 5
                assert response.headers["retry-after"] == "5"
                assert "in use by another process" in response.json()["detail"]
            held.release()
            assert client.get("/api/runs").status_code == 200
    finally:
        held.release()


def test_a_finished_result_waits_for_a_busy_store_and_is_stored_when_it_frees(tmp_path):
    """It was dropped: "storing the result failed"."""
    held = HeldStore(tmp_path / "runs.duckdb")
    jobs = manager(tmp_path, workers=1)
    try:
        job = jobs.submit("sleep", {"seconds": 0, "name": "kept"}, "kept")
        kept = tmp_path / "files" / "work" / job.id / "payload.json"
        wait_until(lambda: "waiting to store its result" in job.message, what="waiting for the store")
        assert job.status == "running"
        assert json.loads(kept.read_text())["name"] == "kept"  # in the job's own files meanwhile
        held.release()
        wait_until(lambda: ended(job), what="stored")
        assert job.status == "done", job.error
        assert not kept.exists()
        assert (tmp_path / "files" / "runs" / job.run_id / "report.html").is_file()
        with RunStore(tmp_path / "runs.duckdb", read_only=True) as db:
            assert db.run(job.run_id)["name"] == "kept"
    finally:
        held.release()
        jobs.close()


def test_results_kept_when_the_server_stops_are_stored_at_its_next_start(tmp_path):
    held = HeldStore(tmp_path / "runs.duckdb")
    jobs = manager(tmp_path, workers=1)
    try:
        job = jobs.submit("sleep", {"seconds": 0, "name": "survivor"}, "survivor")
        wait_until(lambda: "waiting to store its result" in job.message, what="waiting for the store")
    finally:
        jobs.close()
        held.release()
    assert (tmp_path / "files" / "work" / job.id / "payload.json").is_file()
    again = manager(tmp_path, execute_jobs=False)
    try:
        def stored():  # through the manager: one connection setting per process (DuckDB)
            return [r for r in again.store(lambda db: db.runs()) if r["name"] == "survivor"]

        (run,) = wait_until(stored, what="kept result stored")
        assert not (tmp_path / "files" / "work" / job.id).exists()
        assert (tmp_path / "files" / "runs" / run["run_id"] / "report.html").is_file()
    finally:
        again.close()


def test_results_a_deleted_job_sent_before_are_still_stored(tmp_path):
    """Deleting a running sweep stops it, but the points it finished are stored, even those
    still waiting for a busy store when the job was deleted."""
    held = HeldStore(tmp_path / "runs.duckdb")
    jobs = manager(tmp_path, workers=1)
    try:
        job = jobs.submit("points", {"points": 4}, "points")
        wait_until(lambda: "waiting to store its result" in job.message, what="points waiting for the store")
        assert jobs.forget(job.id).status == "cancelled"
        assert jobs.get(job.id) is None
        held.release()

        def stored():
            return sorted(r["name"] for r in jobs.store(lambda db: db.runs()))

        wait_until(lambda: len(stored()) == 4, what="every point stored")
        assert stored() == [f"point {i}" for i in range(4)]
    finally:
        held.release()
        jobs.close()


def test_refused_sweep_submissions_leave_nothing_in_the_store(tmp_path):
    """Twelve sweeps racing a full queue left 11 orphan sweeps in the store."""
    jobs = manager(tmp_path, workers=1, max_pending=1)
    request = {
        "spec": {"name": "race"},
        "expanded": [("base", {"plant": {"name": "x"}})],
        "simulate": False,
        "energy": False,
    }
    barrier = threading.Barrier(12)
    outcomes = []

    def submit():
        barrier.wait()
        try:
            outcomes.append(jobs.submit("sweep", dict(request), "race", points_total=1).sweep_id)
        except TooManyJobsError:
            outcomes.append("refused")

    try:
        threads = [threading.Thread(target=submit) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        admitted = [o for o in outcomes if o != "refused"]
        assert len(admitted) == 1, outcomes
        assert outcomes.count("refused") == 11
    finally:
        jobs.close()
    with RunStore(tmp_path / "runs.duckdb", read_only=True) as db:
        assert [s["sweep_id"] for s in db.sweeps()] == admitted


def test_a_sweep_refused_because_the_store_is_busy_leaves_no_job(tmp_path):
    held = HeldStore(tmp_path / "runs.duckdb")
    jobs = manager(tmp_path, workers=1)
    try:
        request = {"spec": {}, "expanded": [("base", {})], "simulate": False, "energy": False}
        with pytest.raises(ServerBusyError):
            jobs.submit("sweep", request, "busy", points_total=1)
        assert jobs.jobs() == []
    finally:
        held.release()
        jobs.close()


def test_a_cancelled_sweep_is_marked_cancelled_in_the_store(tmp_path):
    """A sweep cancelled in the web app stayed 'unfinished', so `natwin sweep --resume` would
    have picked it up."""
    jobs = manager(tmp_path, workers=1, max_pending=2)
    request = {"spec": {"name": "stop me"}, "expanded": [("base", {})], "simulate": False, "energy": False}
    try:
        busy = jobs.submit("sleep", {"seconds": 30, "name": "ahead"}, "ahead")
        sweep = jobs.submit("sweep", request, "stop me", points_total=1)
        assert jobs.cancel(sweep.id).status == "cancelled"

        def status():
            return {s["sweep_id"]: s["status"] for s in jobs.store(lambda db: db.sweeps())}

        wait_until(lambda: status().get(sweep.sweep_id) == "cancelled", what="sweep marked cancelled")
        assert jobs.store(lambda db: db.latest_unfinished_sweep()) is None
        jobs.cancel(busy.id)
    finally:
        jobs.close()
