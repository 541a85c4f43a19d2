"""natwin in a browser: an HTTP API and a web app, served by ``natwin serve``.

>>> from natwin.web import create_app   # an ASGI application (FastAPI)

Import is light: FastAPI and the pipeline load when the app is created.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the ASGI application (see :func:`natwin.web.app.create_app`)."""
    # lazy: FastAPI loads only when the app is built
    from natwin.web.app import create_app as build

    return build(*args, **kwargs)
