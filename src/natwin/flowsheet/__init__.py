"""Flowsheets: process routes as data, compiled and balanced by one generic solver."""

from natwin.flowsheet.balance import Balance, UnitBalance
from natwin.flowsheet.compile import (
    CompiledRoute,
    Parameter,
    compile_route,
    known_route_id,
    load_route_file,
    packaged_routes,
    route,
)
from natwin.flowsheet.solve import check_parameters, solve_balance

__all__ = [
    "Balance",
    "CompiledRoute",
    "Parameter",
    "UnitBalance",
    "check_parameters",
    "compile_route",
    "known_route_id",
    "load_route_file",
    "packaged_routes",
    "route",
    "solve_balance",
]
