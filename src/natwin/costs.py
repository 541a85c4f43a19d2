"""Result types shared by the equipment, CAPEX and economics stages.

Every amount is a numpy array of shape ``(n,)`` (one value per Monte Carlo draw; ``n = 1``
for a single scenario), in CNY unless the name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
AssetClass = Literal["equipment", "buildings", "land", "intangible", "other"]


def _sum(values: list[Array], n: int) -> Array:
    total = np.zeros(n)
    for value in values:
        total = total + value
    return total


@dataclass(frozen=True)
class EquipmentItem:
    """The pieces of equipment that one route unit (or a site system) needs."""

    unit_id: str  # route unit id, or "site" for site-wide systems
    equipment_id: str  # key in natwin/data/equipment.toml, e.g. "roller_hearth_kiln"
    name: str
    count: Array  # pieces in parallel (whole numbers) [-]
    design_throughput: Array  # duty the unit must carry, with design margin [capacity_unit]
    capacity_per_piece: Array  # [capacity_unit]
    capacity_unit: str  # e.g. "t/h", "m3", "m2"
    utilisation: Array  # duty / (count x capacity per piece) [-]
    purchase_cny: Array  # all pieces [CNY]
    installed_cny: Array  # purchase plus installation [CNY]
    power_kw: Array  # installed electrical power, all pieces [kW]
    operators_per_shift: Array  # all pieces [persons]
    consumables_cny_per_year: Array  # saggers, screens, liners, filter cloths [CNY/yr]
    source: str  # citation of the equipment data used


@dataclass(frozen=True)
class StaffLine:
    """Staff of one function."""

    function: str  # e.g. "operators", "maintenance", "quality_control", "management"
    shifts: float  # shift crews (e.g. 4 for continuous 4-crew, 3-shift work; 1 for day staff)
    per_shift: Array  # persons per shift [persons]
    headcount: Array  # persons on the payroll [persons]
    salary_cny_per_year: Array  # per person, with social charges [CNY/yr]
    source: str


@dataclass(frozen=True)
class EquipmentResult:
    items: tuple[EquipmentItem, ...]
    staff: tuple[StaffLine, ...]
    n: int

    @property
    def purchase_cny(self) -> Array:
        return _sum([i.purchase_cny for i in self.items], self.n)

    @property
    def installed_cny(self) -> Array:
        return _sum([i.installed_cny for i in self.items], self.n)

    @property
    def power_kw(self) -> Array:
        return _sum([i.power_kw for i in self.items], self.n)

    @property
    def consumables_cny_per_year(self) -> Array:
        return _sum([i.consumables_cny_per_year for i in self.items], self.n)

    @property
    def headcount(self) -> Array:
        return _sum([s.headcount for s in self.staff], self.n)

    @property
    def payroll_cny_per_year(self) -> Array:
        return _sum([s.headcount * s.salary_cny_per_year for s in self.staff], self.n)


@dataclass(frozen=True)
class CapexLine:
    """One line of the construction investment estimate (Chinese feasibility-study structure)."""

    name: str  # e.g. "equipment_purchase", "installation", "buildings", "land", "basic_contingency"
    label: str  # e.g. "Equipment purchase (设备购置费)"
    amount_cny: Array
    asset_class: AssetClass  # depreciation / amortisation class
    basis: str  # how it is computed, in words (e.g. "8 % of lines 1-5")
    source: str


@dataclass(frozen=True)
class CapexResult:
    """Construction investment (建设投资), line by line.

    Construction-period interest and working capital depend on financing and operating costs
    and are added by the economics stage to give the total investment.
    """

    lines: tuple[CapexLine, ...]
    n: int

    @property
    def construction_investment_cny(self) -> Array:
        return _sum([line.amount_cny for line in self.lines], self.n)

    def by_asset_class(self) -> dict[str, Array]:
        out: dict[str, Array] = {}
        for line in self.lines:
            out[line.asset_class] = out.get(line.asset_class, np.zeros(self.n)) + line.amount_cny
        return out

    def line(self, name: str) -> CapexLine:
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(name)
