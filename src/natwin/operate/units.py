"""Units of measure a tag map may name, and their conversion to natwin's base units.

Historian tags carry instantaneous rates (1-min samples of a flow, a power, a heat rate), a
temperature or a running status. Each unit of measure belongs to one *quantity*, whose base
unit is what the time-series store keeps:

==================  ==========  =====================================================
quantity            base unit   units accepted
==================  ==========  =====================================================
mass_flow           kg/h        kg/h, t/h, kg/min, kg/s
power               kW          kW, MW, W
heat_flow           MJ/h        MJ/h, GJ/h (and kW, MW: 1 kW = 3.6 MJ/h)
volume_flow         m3/h        m3/h, L/min, L/s
gas_flow            Nm3/h       Nm3/h, Nm3/min
temperature         degC        degC, K
status              1           1 (0 = stopped, 1 = running)
==================  ==========  =====================================================

The hourly mean of a power in kW is the energy of that hour in kWh, of a heat rate in MJ/h the
heat in MJ, of a gas flow in Nm3/h the volume in Nm3: that is how the store's hourly view turns
rates into the energy quantities of the balance (``natwin.flowsheet.balance``,
``CARRIER_ANNUAL_UNITS``). Energy *totals* (kWh, MWh, GJ counters) are not tag units: a
totaliser is a different signal (it must be differenced), and the error says to export its rate.

>>> to_base(2.5, "t/h", "mass_flow")
2500.0
>>> round(to_base(1.0, "kW", "heat_flow"), 6)
3.6
>>> to_base(300.0, "K", "temperature")
26.850000000000023
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin.errors import InputError, Problem

#: Base unit of each quantity (what the store keeps).
BASE_UNITS: dict[str, str] = {
    "mass_flow": "kg/h",
    "power": "kW",
    "heat_flow": "MJ/h",
    "volume_flow": "m3/h",
    "gas_flow": "Nm3/h",
    "temperature": "degC",
    "status": "1",
}


@dataclass(frozen=True)
class Conversion:
    """``base = value x factor + offset`` for one (unit, quantity) pair."""

    factor: float
    offset: float = 0.0


#: (unit, quantity) -> conversion to the quantity's base unit. Factors are exact definitions
#: (1 t = 1000 kg, 1 h = 60 min = 3600 s, 1 kWh = 3.6 MJ, 0 degC = 273.15 K).
CONVERSIONS: dict[tuple[str, str], Conversion] = {
    ("kg/h", "mass_flow"): Conversion(1.0),
    ("t/h", "mass_flow"): Conversion(1000.0),
    ("kg/min", "mass_flow"): Conversion(60.0),
    ("kg/s", "mass_flow"): Conversion(3600.0),
    ("kW", "power"): Conversion(1.0),
    ("MW", "power"): Conversion(1000.0),
    ("W", "power"): Conversion(0.001),
    ("MJ/h", "heat_flow"): Conversion(1.0),
    ("GJ/h", "heat_flow"): Conversion(1000.0),
    ("kW", "heat_flow"): Conversion(3.6),
    ("MW", "heat_flow"): Conversion(3600.0),
    ("m3/h", "volume_flow"): Conversion(1.0),
    ("L/min", "volume_flow"): Conversion(0.06),
    ("L/s", "volume_flow"): Conversion(3.6),
    ("Nm3/h", "gas_flow"): Conversion(1.0),
    ("Nm3/min", "gas_flow"): Conversion(60.0),
    ("degC", "temperature"): Conversion(1.0),
    ("K", "temperature"): Conversion(1.0, -273.15),
    ("1", "status"): Conversion(1.0),
}

#: Every unit a tag may name.
KNOWN_UNITS: tuple[str, ...] = tuple(dict.fromkeys(unit for unit, _ in CONVERSIONS))

#: Units that are energy totals, refused with a hint (a tag carries rates).
_TOTALS = {"kWh": "kW", "MWh": "MW", "MJ": "MJ/h", "GJ": "GJ/h", "Nm3": "Nm3/h", "m3": "m3/h", "t": "t/h", "kg": "kg/h"}


def units_for(quantity: str) -> tuple[str, ...]:
    """Units accepted for ``quantity`` (``"mass_flow"``, ``"power"``, ...)."""
    return tuple(unit for unit, q in CONVERSIONS if q == quantity)


def quantity_of(unit: str, quantities: tuple[str, ...]) -> str | None:
    """The quantity of ``unit`` among ``quantities`` (first match), None when it is none of them."""
    return next((q for q in quantities if (unit, q) in CONVERSIONS), None)


def allowed_units(quantities: tuple[str, ...], unit: str = "") -> str:
    """What a tag of ``quantities`` may be given in, in words (with a hint for a total)."""
    allowed = [u for u in KNOWN_UNITS if any((u, q) in CONVERSIONS for q in quantities)]
    hint = f" (a tag carries a rate: {_TOTALS[unit]}, not a total {unit})" if unit in _TOTALS else ""
    return f"one of {', '.join(allowed)}{hint}"


def check_unit(unit: str, quantities: tuple[str, ...], path: str) -> str:
    """The quantity of ``unit`` among ``quantities``; an :class:`InputError` naming ``path``, the
    unit and the units allowed when it is none of them."""
    quantity = quantity_of(unit, quantities)
    if quantity is None:
        raise InputError([Problem(path, unit, allowed_units(quantities, unit))], "tag map")
    return quantity


def conversion(unit: str, quantity: str) -> Conversion:
    """The conversion of ``unit`` to ``quantity``'s base unit (KeyError if not accepted)."""
    return CONVERSIONS[(unit, quantity)]


def to_base(values: ArrayLike, unit: str, quantity: str) -> NDArray[np.float64] | float:
    """``values`` in ``unit`` converted to the base unit of ``quantity`` (same shape)."""
    conv = CONVERSIONS[(unit, quantity)]
    result = np.asarray(values, dtype=np.float64) * conv.factor + conv.offset
    return float(result) if result.ndim == 0 else result


def span_to_base(span: float, unit: str, quantity: str) -> float:
    """A difference (an absolute accuracy, a tolerance) in ``unit`` in the base unit: the factor
    without the offset (1 K of accuracy is 1 degC)."""
    return span * CONVERSIONS[(unit, quantity)].factor
