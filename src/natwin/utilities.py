"""Annual utilities of a balance by carrier, chilled water met by electric chillers.

One type for a single run (arrays of one draw) and for a Monte Carlo chunk (arrays over draws):
the carbon and economics stages read it, and so do the views (through ``first`` for draw 0).

Comprehensive energy consumption (综合能耗) follows GB/T 2589-2020 through
:meth:`natwin.flowsheet.Balance.tce_per_year` (electricity at its equivalent value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin.flowsheet import Balance

Array = NDArray[np.float64]


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
    heat_mj: Array  # purchased heat (steam) [MJ/yr]
    chiller_cop: Array  # electric chiller coefficient of performance [-]
    tce: Array  # comprehensive energy consumption, GB/T 2589-2020 [tce/yr]

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
    chillers = cooling / cop_array
    process = total("electricity")
    tce = np.asarray(balance.tce_per_year(process + chillers), dtype=float)
    return Utilities(
        electricity_process_kwh=process,
        electricity_chillers_kwh=chillers,
        cooling_kwh_th=cooling,
        natural_gas_nm3=total("natural_gas"),
        heat_mj=total("heat"),
        chiller_cop=cop_array,
        tce=tce,
    )
