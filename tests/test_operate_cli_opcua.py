"""`natwin operate serve` plays the synthetic plant on an OPC UA server; `natwin operate listen`
reads it live into the store (two processes, loopback)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natwin.cli import app as cli_app
from natwin.operate.tagmap import packaged_tag_map
from natwin.operate.tsstore import open_store

TAGS = Path(__file__).resolve().parents[1] / "src" / "natwin" / "data" / "operate" / "binhai_tags.toml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served_plant():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen(
        [sys.executable, "-m", "natwin", "operate", "serve", "--port", str(port), "--hours", "1", "--rate", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    start = time.monotonic()
    seen = ""
    while "serving" not in seen:
        line = server.stdout.readline()
        if not line and server.poll() is not None:
            pytest.fail(f"natwin operate serve ended: {seen}")
        seen += line
        if time.monotonic() - start > 120:
            server.kill()
            pytest.fail("natwin operate serve did not start")
    yield f"opc.tcp://127.0.0.1:{port}/natwin/"
    server.send_signal(signal.SIGINT)
    try:
        assert server.wait(timeout=30) == 0  # Ctrl-C ends it cleanly
    finally:
        if server.poll() is None:
            server.kill()


def test_listen_reads_the_served_plant_into_the_store(served_plant, tmp_path):
    result = CliRunner().invoke(
        cli_app, ["operate", "listen", served_plant, "--tags", str(TAGS), "--seconds", "3", "--folder", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "stored" in result.output
    plant = packaged_tag_map().plant.scenario
    day = (dt.datetime(2025, 1, 1), dt.datetime(2025, 1, 2))  # the synthetic plant starts on 1 January 2025
    stored = open_store(tmp_path).samples(plant, *day, tags=["FI-0101"])
    assert len(stored) >= 30  # 3 s at 120 minutes a second, less the subscription's start


def test_listen_to_no_server_names_the_endpoint(tmp_path):
    url = f"opc.tcp://127.0.0.1:{free_port()}/natwin/"
    result = CliRunner().invoke(
        cli_app, ["operate", "listen", url, "--tags", str(TAGS), "--seconds", "1", "--folder", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert url in result.output
    assert "Traceback" not in result.output
