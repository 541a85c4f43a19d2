"""Benchmark: the web app's time to first figures against its time to the full result.

Run on demand (never inside the test suite, never while tests run):

    .venv/bin/python benchmarks/bench_web.py                 # default scenario, every stage
    .venv/bin/python benchmarks/bench_web.py --runs 3 --no-energy

Starts ``natwin serve`` as its own process (one job process, a temporary run store, an empty
energy cache in a temporary ``NATWIN_CACHE``), waits until ``/api/health`` answers, then posts
the default scenario as a run job ``--runs`` times, one after the other, and polls the job
every 50 ms. For each run it records, from the POST:

* first figures: the job first carries the preliminary KPIs (the steady-state core);
* full result: the job is done (its run stored; what a user waited for before the preliminary
  figures existed, the baseline).

The first run is posted as soon as the server answers (its job process may still be importing
natwin) and solves the energy system (cold cache); later runs find the worker ready and the
energy system cached (warm). Ratios are full / first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def start_server(scratch: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``natwin serve`` on a free port with a store and an energy cache under ``scratch``."""
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT / "src"), "NATWIN_CACHE": str(scratch / "cache")}
    command = [
        sys.executable,
        "-m",
        "natwin",
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
        "--store",
        str(scratch / "runs.duckdb"),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api"
    start = time.monotonic()
    while True:
        try:
            call(f"{api}/health")
            return server, api
        except OSError:
            if server.poll() is not None or time.monotonic() - start > 60:
                server.terminate()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.1)


def one_run(api: str, energy: bool) -> dict[str, float]:
    """Seconds from the POST to the first figures and to the full result of one run job."""
    posted = time.monotonic()
    job = call(f"{api}/jobs/run", {"base": "binhai_nfm111", "energy": energy, "name": "bench"})
    first = None
    while True:
        job = call(f"{api}/jobs/{job['id']}")
        now = time.monotonic() - posted
        if first is None and job.get("preliminary"):
            first = now
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(POLL_S)
    if job["status"] != "done":
        raise RuntimeError(f"the job ended {job['status']}: {job.get('error')}")
    stages = {s["name"]: s["seconds"] for s in job["stages"]}  # type: ignore[union-attr]
    return {"first_s": first if first is not None else float("nan"), "full_s": now} | stages


def main(runs: int = 2, energy: bool = True) -> list[dict[str, float]]:
    load = os.getloadavg()
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"load {load[0]:.1f}, energy {'on' if energy else 'off'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="natwin-bench-web-") as tmp:
        server, api = start_server(Path(tmp))
        try:
            for i in range(runs):
                figures = one_run(api, energy)
                results.append(figures)
                label = "fresh server, cold cache" if i == 0 else "warm"
                stages = ", ".join(
                    f"{k} {v:.1f}" for k, v in figures.items() if k not in ("first_s", "full_s")
                )
                print(
                    f"run {i + 1} ({label}): first figures {figures['first_s']:.2f} s, full result "
                    f"{figures['full_s']:.1f} s ({figures['full_s'] / figures['first_s']:.0f}x); stages: {stages}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2, help="run jobs, one after the other")
    parser.add_argument("--no-energy", action="store_true", help="switch the energy-system stage off")
    options = parser.parse_args()
    main(options.runs, not options.no_energy)
