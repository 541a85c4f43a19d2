"""The KPI registry and input labels over HTTP, for the web app (app.js builds its cards,
tables and chart axes from these instead of a list of its own).

    GET /api/kpis                        every KPI: key, label, unit, scale, format, better,
                                         stage, definition, heading, absent, reason
    GET /api/labels?paths=a&paths=b      human labels of input paths (sweep axes, tornado bars)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from natwin.kpis import rows
from natwin.labels import path_label

#: At most this many paths per label request (a sweep has a few axes; the price list ~40).
MAX_PATHS = 200


class KpiRow(BaseModel):
    """One row of ``data/kpis.toml`` (see :class:`natwin.kpis.Kpi`)."""

    key: str
    label: str
    unit: str
    scale: float
    format: str
    better: Literal["higher", "lower", "none"]
    stage: str
    definition: str
    heading: str
    absent: str  # shown for a missing value ("never", "none", "n/a")
    reason: str  # the text KPI of a run that says why the value is missing ("" if none)


class KpiRegistry(BaseModel):
    kpis: list[KpiRow]


class InputLabels(BaseModel):
    labels: dict[str, str]


InputPath = Annotated[str, Query(min_length=1, max_length=300)]


def registry_router() -> APIRouter:
    """The ``/api/kpis`` and ``/api/labels`` endpoints (registered by :func:`natwin.web.create_app`)."""
    api = APIRouter(prefix="/api")

    @api.get("/kpis", response_model=KpiRegistry, tags=["catalog"])
    def get_kpis() -> dict[str, Any]:
        """Every KPI natwin produces with its label, unit, display scale and format (Python
        format spec, ``s`` for text), which direction is better, its definition and stage."""
        return {"kpis": rows()}

    @api.get("/labels", response_model=InputLabels, tags=["catalog"])
    def get_labels(
        paths: Annotated[list[InputPath], Query(max_length=MAX_PATHS)],
    ) -> dict[str, Any]:
        """Human labels with units of input paths (``prices.product.NFM111`` -> ``Selling price
        of NFM111 (CNY/t)``); a path without a parameter record is returned as it is."""
        return {"labels": {p: path_label(p) for p in paths}}

    return api
