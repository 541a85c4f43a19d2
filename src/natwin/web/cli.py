"""The ``natwin serve`` command: the web app and HTTP API on a local port.

Registered in :mod:`natwin.cli` as ``app.command()(serve)``; also callable from Python.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; the default serves this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8765,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store", help="Run store (DuckDB file); default $NATWIN_STORE or the user data directory."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Job processes: runs, Monte Carlo studies and sweeps at once.")
    ] = 2,
) -> None:
    """Serve the web app and the HTTP API (OpenAPI schema at /api/openapi.json)."""
    import uvicorn

    # lazy: `natwin serve` loads the web app (FastAPI, uvicorn) only when it starts
    from natwin.store import default_store_path
    from natwin.web.app import LOCAL_HOSTS, create_app, default_files_dir

    store_path = store or default_store_path()
    allowed: tuple[str, ...] | None = LOCAL_HOSTS
    if not _is_loopback(host):
        typer.secho(
            f"warning: listening on {host}: anyone who can reach this address can run jobs and read "
            "every stored run (natwin serve has no login); put it behind an authenticating proxy",
            fg="yellow",
            err=True,
        )
        allowed = None
    app = create_app(store_path, workers=workers, allowed_hosts=allowed)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"natwin web app on http://{shown}:{port}/ (run store {store_path}, "
        f"run files in {default_files_dir(store_path)}); Ctrl+C stops"
    )
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=5)
