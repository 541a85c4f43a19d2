"""Annual utilities of a balance by carrier, chilled water met by electric chillers, and the one
definition of comprehensive energy consumption.

One type for a single run (arrays of one draw) and for a Monte Carlo chunk (arrays over draws):
the carbon and economics stages read it, and so do the views (through ``first`` for draw 0).

Comprehensive energy consumption (综合能耗, GB/T 2589-2020) has one formula,
:func:`comprehensive_energy_tce`; every stage that reports tce calls it (the carbon stage with
the run's electricity, which is the site energy system's when the run has one, and the headline
KPIs read the carbon stage's figure). Purchased steam is counted at the heat it carries as
supplied (:func:`purchased_steam_heat_mj`), not at the process heat the balance lists.

References
----------
.. [1] GB/T 2589-2020 综合能耗计算通则 (General principles for calculation of the comprehensive
   energy consumption), annex A: electricity 0.1229 kgce/kWh (equivalent value), natural gas
   1.2143 kgce/Nm3, heat 0.03412 kgce/MJ (``natwin/data/conventions.toml`` [tce]).
.. [2] IAPWS-IF97 steam tables (saturated steam at 1.0 MPa(a)); the NDRC enterprise GHG
   accounting guidelines' purchased-steam heat, steam x (enthalpy - 83.74 kJ/kg)
   (``conventions.toml`` [steam]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin import catalog
from natwin.flowsheet import Balance

Array = NDArray[np.float64]


def steam_supplied_per_delivered() -> float:
    """Heat carried by purchased steam as supplied, per MJ of process heat it delivers. [MJ/MJ]

    ``(h_supply - h_feedwater) / h_delivered`` with the [steam] figures of conventions.toml:
    (2,777.1 - 83.74) / 2,014.6 = 1.337 for saturated steam at 1.0 MPa(a), condensate not
    returned.
    """
    s = catalog.conventions().steam
    supplied = s["supply_enthalpy_kj_per_kg"].value - s["feedwater_enthalpy_kj_per_kg"].value
    return supplied / s["delivered_heat_kj_per_kg"].value


def purchased_steam_heat_mj(process_heat_mj: ArrayLike) -> Array:
    """Heat of the steam bought to give the process ``process_heat_mj``, as supplied. [MJ/yr]"""
    return np.asarray(process_heat_mj, dtype=float) * steam_supplied_per_delivered()


def comprehensive_energy_tce(
    electricity_kwh: ArrayLike,
    natural_gas_nm3: ArrayLike,
    steam_heat_mj: ArrayLike,
    electricity_kgce_per_kwh: ArrayLike | None = None,
) -> Array:
    """Comprehensive energy consumption, GB/T 2589-2020. [tce/yr]

    Parameters
    ----------
    electricity_kwh : numeric
        Electricity the plant uses (incl. chillers). [kWh/yr]
    natural_gas_nm3 : numeric
        [Nm3/yr]
    steam_heat_mj : numeric
        Purchased steam at the heat it carries as supplied (:func:`purchased_steam_heat_mj`). [MJ/yr]
    electricity_kgce_per_kwh : numeric, optional
        Coal equivalent of electricity; default the standard's equivalent value 0.1229. [kgce/kWh]
    """
    factors = catalog.conventions().tce
    per_kwh = factors["electricity_kgce_per_kwh"].value if electricity_kgce_per_kwh is None else electricity_kgce_per_kwh
    kgce = (
        np.asarray(electricity_kwh, dtype=float) * np.asarray(per_kwh, dtype=float)
        + np.asarray(natural_gas_nm3, dtype=float) * factors["natural_gas_kgce_per_nm3"].value
        + np.asarray(steam_heat_mj, dtype=float) * factors["heat_kgce_per_mj"].value
    )
    return kgce / 1000.0


@dataclass(frozen=True)
class Utilities:
    """Energy use per year by carrier, arrays over draws ``(n,)``.

    Chilled water (``cooling_kwh_th``) is counted as the electricity of electric chillers at
    ``chiller_cop``; the hourly energy system later meets it from LNG cold, storage and chillers.
    """

    electricity_process_kwh: Array  # process units and site utilities [kWh/yr]
    electricity_chillers_kwh: Array  # chilled water / COP [kWh/yr]
    cooling_kwh_th: Array  # chilled water demand [kWh_th/yr]
    natural_gas_nm3: Array  # [Nm3/yr]
    heat_mj: Array  # process heat taken from purchased steam [MJ/yr]
    steam_heat_mj: Array  # the purchased steam's heat as supplied [MJ/yr]
    chiller_cop: Array  # electric chiller coefficient of performance [-]

    @property
    def electricity_kwh(self) -> Array:
        """Process electricity plus chiller electricity. [kWh/yr]"""
        return self.electricity_process_kwh + self.electricity_chillers_kwh

    @property
    def n(self) -> int:
        """Number of draws."""
        return int(self.electricity_process_kwh.shape[0])


def summarise_utilities(balance: Balance, cop: ArrayLike) -> Utilities:
    """Annual energy use by carrier of ``balance``, chilled water met by chillers at ``cop``.

    Parameters
    ----------
    balance : Balance
        Mass and energy balance (energy per year, arrays over draws).
    cop : float or array (n,)
        Electric chiller COP. [-]
    """
    n = balance.n
    energy = balance.energy_by_carrier()

    def total(carrier: str) -> Array:
        return np.broadcast_to(np.asarray(energy.get(carrier, 0.0), dtype=float), (n,)).copy()

    cop_array = np.broadcast_to(np.asarray(cop, dtype=float), (n,)).copy()
    cooling = total("cooling")
    heat = total("heat")
    return Utilities(
        electricity_process_kwh=total("electricity"),
        electricity_chillers_kwh=cooling / cop_array,
        cooling_kwh_th=cooling,
        natural_gas_nm3=total("natural_gas"),
        heat_mj=heat,
        steam_heat_mj=purchased_steam_heat_mj(heat),
        chiller_cop=cop_array,
    )
