"""One energy total per run, and purchased steam counted as the steam bought.

Before, a run carried two totals (9,490 tce in carbon with the energy system's electricity,
9,581 tce in the headline with the balance's) and steam entered at the process heat it gives.
Now :func:`natwin.utilities.comprehensive_energy_tce` is the one formula, the headline reads
the carbon stage's figure, and steam counts at the heat it carries as supplied.
"""

from __future__ import annotations

import pytest

import natwin
from natwin import catalog, utilities
from natwin.economics import price_table

# GB/T 2589-2020 annex A, as stated in conventions.toml [tce]
KGCE_PER_KWH, KGCE_PER_NM3, KGCE_PER_MJ = 0.1229, 1.2143, 0.03412
# saturated steam at 1.0 MPa(a), IAPWS-IF97; feedwater at 20 degC (NDRC GHG guidelines)
H_STEAM, H_LATENT, H_FEEDWATER = 2777.1, 2014.6, 83.74  # kJ/kg


@pytest.fixture(scope="module")
def full_run():
    """The default run with the simulated plant year and the site energy system."""
    return natwin.run(natwin.load_scenario())


def test_headline_carbon_and_energy_system_carry_the_same_total(full_run):
    kpis = full_run.kpis
    assert full_run.energy is not None  # the energy system ran: its electricity differs
    balance_kwh = float(full_run.utilities.electricity_kwh[0])
    assert float(full_run.carbon.electricity_kwh[0]) != pytest.approx(balance_kwh, rel=1e-6)
    total = kpis["energy_tce_per_year"]
    assert total == pytest.approx(float(full_run.carbon.energy_tce[0]), rel=1e-12)
    assert total == pytest.approx(full_run.energy.energy_tce, rel=1e-9)
    assert kpis["energy_tce_per_t"] == pytest.approx(total / kpis["capacity_t_per_year"], rel=1e-12)
    # and it is the standard's formula on the run's electricity, gas and purchased steam
    steam_mj = float(full_run.utilities.heat_mj[0]) * (H_STEAM - H_FEEDWATER) / H_LATENT
    by_hand = (
        float(full_run.carbon.electricity_kwh[0]) * KGCE_PER_KWH
        + float(full_run.utilities.natural_gas_nm3[0]) * KGCE_PER_NM3
        + steam_mj * KGCE_PER_MJ
    ) / 1000.0
    assert total == pytest.approx(by_hand, rel=1e-9)


def test_steam_is_counted_as_supplied_not_as_process_heat():
    assert utilities.steam_supplied_per_delivered() == pytest.approx((H_STEAM - H_FEEDWATER) / H_LATENT, rel=1e-12)
    assert utilities.steam_supplied_per_delivered() > 1.3  # the condensate's heat and the boiler feed's
    tce = utilities.comprehensive_energy_tce(0.0, 0.0, utilities.purchased_steam_heat_mj(2014.6))
    # 1 t of steam bought (2,014.6 MJ delivered) = (2,777.1 - 83.74) MJ x 0.03412 kgce/MJ = 91.9 kgce
    assert float(tce) * 1000.0 == pytest.approx((H_STEAM - H_FEEDWATER) * KGCE_PER_MJ, rel=1e-12)


def test_steam_and_its_co2_use_the_same_steam_quantity():
    scenario = natwin.load_scenario()
    run = natwin.run(scenario, simulate=False, energy=False)
    (line,) = [ln for ln in run.carbon.lines if ln.source.startswith("purchased heat")]
    assert float(line.quantity[0]) == pytest.approx(float(run.utilities.steam_heat_mj[0]), rel=1e-12)
    assert float(run.utilities.steam_heat_mj[0]) == pytest.approx(
        float(run.utilities.heat_mj[0]) * (H_STEAM - H_FEEDWATER) / H_LATENT, rel=1e-12
    )


def test_steam_delivered_heat_agrees_with_the_price_table():
    """Economics turns process heat into tonnes bought with prices.toml; tce and CO2 with
    conventions.toml: both must assume the same steam."""
    steam = catalog.conventions().steam
    mj_per_t = price_table()["utility.steam_heat_mj_per_t"].default
    assert mj_per_t == pytest.approx(steam["delivered_heat_kj_per_kg"].value, abs=1.0)


def test_park_factor_default_is_the_standards_equivalent_value():
    from natwin.carbon import parameter_table  # the [carbon] table of emission_factors.toml

    park = parameter_table()["zero_carbon_park.electricity_kgce_per_kwh"].default
    assert park == catalog.conventions().tce["electricity_kgce_per_kwh"].value == KGCE_PER_KWH
