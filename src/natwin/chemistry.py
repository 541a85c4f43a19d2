"""Electrochemistry of the product: theoretical capacity, specific energy, cathode per kWh.

Functions take floats or numpy arrays (vectorised over Monte Carlo draws).

References
----------
.. [1] Faraday's law: Q = n F / M. With F in C/mol and M in g/mol, Q [C/g] / 3.6 gives
   mAh/g. CODATA 2018, F = 96 485.332 12 C/mol.
.. [2] Nelson, P. A., Ahmed, S., Gallagher, K. G., Dees, D. W. (2019). Modeling the
   Performance and Cost of Lithium-Ion Batteries for Electric-Drive Vehicles (BatPaC),
   3rd ed., ANL/CSE-19/2: cell energy = capacity x average cell voltage, with the cell
   voltage the cathode potential less the anode potential.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin import catalog
from natwin.catalog import Chemistry
from natwin.formula import parse_formula

FloatOrArray = float | NDArray[np.float64]


def theoretical_capacity_mah_per_g(electrons_per_fu: ArrayLike, molar_mass: ArrayLike) -> FloatOrArray:
    """Theoretical specific capacity by Faraday's law [1]_.

    Parameters
    ----------
    electrons_per_fu : numeric
        Charge exchanged per formula unit. [e-/f.u.]
    molar_mass : numeric
        Molar mass of the formula unit. [g/mol]

    Returns
    -------
    numeric
        Theoretical capacity. [mAh/g]

    >>> round(theoretical_capacity_mah_per_g(1, 111.48), 1)
    240.4
    """
    faraday = catalog.conventions().constants["faraday_c_per_mol"].value
    return _as_float(np.asarray(electrons_per_fu) * faraday / (3.6 * np.asarray(molar_mass)))


def specific_energy_wh_per_kg(capacity_mah_per_g: ArrayLike, voltage_v: ArrayLike) -> FloatOrArray:
    """Specific energy of the cathode material.

    Parameters
    ----------
    capacity_mah_per_g : numeric
        Practical specific capacity. [mAh/g]
    voltage_v : numeric
        Average discharge voltage. [V]

    Returns
    -------
    numeric
        Specific energy, mAh/g x V = Wh/kg. [Wh/kg]

    >>> specific_energy_wh_per_kg(100.0, 3.0)
    300.0
    """
    return _as_float(np.asarray(capacity_mah_per_g) * np.asarray(voltage_v))


def cathode_kg_per_kwh_cell(
    capacity_mah_per_g: ArrayLike, cathode_voltage_v: ArrayLike, anode_voltage_v: ArrayLike
) -> FloatOrArray:
    """Cathode active material needed per kWh of cell capacity [2]_.

    Parameters
    ----------
    capacity_mah_per_g : numeric
        Practical cathode capacity. [mAh/g]
    cathode_voltage_v : numeric
        Average cathode potential vs Na/Na+. [V]
    anode_voltage_v : numeric
        Average anode potential vs Na/Na+. [V]

    Returns
    -------
    numeric
        Cathode mass per kWh of cell energy. [kg/kWh]

    >>> round(cathode_kg_per_kwh_cell(100.0, 3.2, 0.2), 4)
    3.3333
    """
    cell_voltage = np.asarray(cathode_voltage_v) - np.asarray(anode_voltage_v)
    return _as_float(1000.0 / (np.asarray(capacity_mah_per_g) * cell_voltage))


@dataclass(frozen=True)
class ProductProperties:
    """The product cathode's key figures (arrays when inputs are arrays)."""

    chemistry_id: str
    name: str
    formula: str
    molar_mass_g_per_mol: float
    electrons_per_fu: float
    theoretical_capacity_mah_per_g: float
    practical_capacity_mah_per_g: FloatOrArray
    average_voltage_v: FloatOrArray
    anode_voltage_v: FloatOrArray
    specific_energy_wh_per_kg: FloatOrArray
    cathode_kg_per_kwh_cell: FloatOrArray
    tap_density_g_per_cm3: float
    press_density_g_per_cm3: float


def product_properties(
    chem: Chemistry,
    practical_capacity_mah_per_g: ArrayLike | None = None,
    average_voltage_v: ArrayLike | None = None,
    anode_voltage_v: ArrayLike | None = None,
) -> ProductProperties:
    """Derive the key figures of ``chem``; optional arguments override catalog values.

    Parameters
    ----------
    chem : Chemistry
        Catalog chemistry.
    practical_capacity_mah_per_g, average_voltage_v, anode_voltage_v : numeric, optional
        Overrides (floats or arrays over draws). [mAh/g], [V], [V]
    """
    capacity = (
        chem.practical_capacity_mah_per_g.value
        if practical_capacity_mah_per_g is None
        else practical_capacity_mah_per_g
    )
    voltage = chem.average_voltage_v.value if average_voltage_v is None else average_voltage_v
    anode = (
        catalog.chemistry_catalog().cell.anode_average_voltage_v.value
        if anode_voltage_v is None
        else anode_voltage_v
    )
    molar_mass = parse_formula(chem.formula).molar_mass
    electrons = chem.electrons_per_fu.value
    return ProductProperties(
        chemistry_id=chem.id,
        name=chem.name,
        formula=chem.formula,
        molar_mass_g_per_mol=molar_mass,
        electrons_per_fu=electrons,
        theoretical_capacity_mah_per_g=float(theoretical_capacity_mah_per_g(electrons, molar_mass)),
        practical_capacity_mah_per_g=_as_float(capacity),
        average_voltage_v=_as_float(voltage),
        anode_voltage_v=_as_float(anode),
        specific_energy_wh_per_kg=_as_float(specific_energy_wh_per_kg(capacity, voltage)),
        cathode_kg_per_kwh_cell=_as_float(cathode_kg_per_kwh_cell(capacity, voltage, anode)),
        tap_density_g_per_cm3=chem.tap_density_g_per_cm3.value,
        press_density_g_per_cm3=chem.press_density_g_per_cm3.value,
    )


def _as_float(value: ArrayLike) -> FloatOrArray:
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array
