"""What the web app offers: chemistries, routes with key figures, sites, packaged scenarios,
the prices a user may edit and the energy/green-electricity settings.

Everything comes from the packaged data (computed once per server process); nothing here
reads a path a client names.
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from typing import Any

import numpy as np

from natwin import catalog
from natwin.parameters import Parameter

#: Price items shown for every route besides its raw materials, product and by-products.
UTILITY_PRICES = {
    "electricity": "utility.electricity",
    "natural_gas": "utility.natural_gas",
    "heat": "utility.steam",
}


def _num(value: Any) -> float | None:
    number = float(np.asarray(value, dtype=float).reshape(-1)[0])
    return number if math.isfinite(number) else None


def parameter_document(section: str, p: Parameter) -> dict[str, Any]:
    """A parameter as the app shows it: default, unit, allowed range, range, source, tag."""
    return {
        "path": f"{section}.{p.name}",
        "name": p.name,
        "default": _num(p.default),
        "unit": p.unit,
        "min": _num(p.lower),
        "max": _num(p.upper),
        "low": _num(p.low) if p.low is not None else None,
        "high": _num(p.high) if p.high is not None else None,
        "tag": p.tag,
        "source": p.source,
    }


@cache
def packaged_scenarios() -> dict[str, dict[str, Any]]:
    """Packaged scenarios by name, as JSON-ready mappings (dates as ISO text)."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.report.files import jsonable

    folder = catalog.data_path("scenarios")
    return {
        path.stem: jsonable(tomllib.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.toml"))
    }


def scenario_names() -> tuple[str, ...]:
    return tuple(packaged_scenarios())


@cache
def catalog_document() -> dict[str, Any]:
    """The catalog the app and API clients choose from."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.carbon import parameter_table as carbon_table
    from natwin.economics import price_table

    prices = price_table()
    routes = _route_entries(prices)
    used = sorted({i for r in routes for i in r["price_items"]})
    carbon = carbon_table()
    return {
        "chemistries": _chemistry_entries({r["chemistry"] for r in routes}),
        "routes": routes,
        "sites": _site_entries(),
        "scenarios": _scenario_entries(),
        "prices": {name: parameter_document("prices", prices[name]) for name in used},
        "green_electricity": parameter_document("carbon", carbon["green_electricity_share"]),
        "energy_targets": energy_targets(),
    }


def _route_entries(prices: dict[str, Parameter]) -> list[dict[str, Any]]:
    """Packaged routes with key figures per t of product at default parameters (balance of
    1000 kg) and the price items a user may edit for them."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.flowsheet import packaged_routes, solve_balance

    routes = []
    for rid, r in packaged_routes().items():
        b = solve_balance(r, 1000.0)
        raw = b.raw_materials()
        energy = b.energy_by_carrier()
        by_products = b.outputs_by_kind().get("by_product", {})
        items = [s for s in raw if s in prices]
        items += [f"product.{r.chemistry}", f"fee.{r.chemistry}"]  # a fixed price, or the fee over metal cost
        items += [f"by_product.{s}" for s in by_products if f"by_product.{s}" in prices]
        items += [name for carrier, name in UTILITY_PRICES.items() if carrier in energy and name in prices]
        routes.append(
            {
                "id": rid,
                "name": r.name,
                "chemistry": r.chemistry,
                "description": r.description,
                "units": len(r.units),
                "raw_materials_t_per_t": sum(float(v[0]) for v in raw.values()) / 1e6,
                "electricity_kwh_per_t": float(energy.get("electricity", [0.0])[0]) / 1000.0,
                "process_co2_kg_per_t": float(b.process_co2_kg[0]) / 1000.0,
                "price_items": [i for i in items if i in prices],
            }
        )
    return routes


def _chemistry_entries(with_route: set[str]) -> list[dict[str, Any]]:
    """Catalogued chemistries with their cell-level properties; ``has_route`` when a packaged
    route makes them."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.chemistry import product_properties

    chemistries = []
    for chem in catalog.chemistry_catalog().chemistry:
        p = product_properties(chem)
        chemistries.append(
            {
                "id": chem.id,
                "name": chem.name,
                "family": chem.family,
                "formula": chem.formula,
                "specific_energy_wh_per_kg": _num(p.specific_energy_wh_per_kg),
                "practical_capacity_mah_per_g": _num(p.practical_capacity_mah_per_g),
                "average_voltage_v": _num(p.average_voltage_v),
                "cathode_kg_per_kwh_cell": _num(p.cathode_kg_per_kwh_cell),
                "has_route": chem.id in with_route,
            }
        )
    return chemistries


def _site_entries() -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "name": s.name,
            "province": s.province,
            "grid_region": s.grid_region,
            "description": s.description,
        }
        for s in catalog.site_catalog().site
    ]


def _scenario_entries() -> list[dict[str, Any]]:
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.scenario import DEFAULT_SCENARIO

    return [
        {
            "id": name,
            "name": raw.get("plant", {}).get("name", name),
            "chemistry": raw.get("plant", {}).get("chemistry"),
            "route": raw.get("plant", {}).get("route"),
            "capacity_t_per_year": raw.get("plant", {}).get("capacity_t_per_year"),
            "default": name == DEFAULT_SCENARIO,
        }
        for name, raw in packaged_scenarios().items()
    ]


def energy_targets() -> list[str]:
    """Targets of the energy-system stage, if the scenario's [energy] section has them.

    Empty until the energy stage's settings become the scenario's [energy] section; the app
    then offers them beside the green-electricity share without further changes.
    """
    from typing import get_args

    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.scenario import Scenario

    energy = Scenario.model_fields["energy"].annotation
    fields = getattr(energy, "model_fields", {})
    if "target" not in fields or "target_value" not in fields:
        return []
    return [str(t) for t in get_args(fields["target"].annotation)]
