"""Validation: the packaged grid CO2 factors against the MEE/NBS announcements.

The Ministry of Ecology and Environment (MEE) and the National Bureau of Statistics (NBS) publish
one announcement of electricity CO2 emission factors per data year (kgCO2/kWh, four decimals):

* 2021 data: 《关于发布2021年电力二氧化碳排放因子的公告》, 公告2024年第12号, 12 Apr 2024;
* 2022 data: 《关于发布2022年电力二氧化碳排放因子的公告》, 20 Dec 2024;
* 2023 data: 《关于发布2023年电力二氧化碳排放因子的公告》, Jan 2026.

The published values below are those reported from the announcements (national average, national
average excluding market-traded non-fossil power, East China regional grid): daydaynews.cc
(27 Dec 2024) for 2021-2022, Guangming Daily via 163.com and China Electric Power News
(15 Jan 2026) for 2023; the same values are in /work/shared/reference energy-carbon-finance.md
§2.1. Tolerance: half a unit of the published fourth decimal (5e-5 kgCO2/kWh), i.e. the packaged
value must be the published one, not a rounded or recomputed one.

The provincial Jiangsu factors (2021 0.6451, 2022 0.5978) are F2: read from a secondary
transcription of the annex, not from the annex itself, so they are only checked for plausibility
against the East China regional factor of the same year (Jiangsu is a net importer with a
coal-heavy own generation, so its factor lies within +-15 % of the regional one).
"""

from __future__ import annotations

import pytest

from natwin.carbon import parameter_table

TOLERANCE_KGCO2_PER_KWH = 5e-5  # half a unit of the published fourth decimal

#: (carbon-table key, published value kgCO2/kWh, data year, announcement)
PUBLISHED = [
    ("grid.national_2021", 0.5568, 2021, "公告2024年第12号"),
    ("grid.national_2022", 0.5366, 2022, "关于发布2022年电力二氧化碳排放因子的公告"),
    ("grid.national_2023", 0.5306, 2023, "关于发布2023年电力二氧化碳排放因子的公告"),
    ("grid.national_residual_2022", 0.5856, 2022, "关于发布2022年电力二氧化碳排放因子的公告"),
    ("grid.national_residual_2023", 0.6096, 2023, "关于发布2023年电力二氧化碳排放因子的公告"),
    ("grid.east_china_2022", 0.5617, 2022, "关于发布2022年电力二氧化碳排放因子的公告"),
    ("grid.east_china_2023", 0.5500, 2023, "关于发布2023年电力二氧化碳排放因子的公告"),
]


@pytest.mark.parametrize(("key", "published", "year", "announcement"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_packaged_grid_factor_equals_the_published_value(key, published, year, announcement):
    parameter = parameter_table()[key]
    assert parameter.default == pytest.approx(published, abs=TOLERANCE_KGCO2_PER_KWH), (
        f"{key} = {parameter.default}, published {published} kgCO2/kWh ({announcement})"
    )
    assert announcement in parameter.source, f"{key} does not cite {announcement}"
    assert f"data year {year}" in parameter.source, f"{key} does not state its data year {year}"


def test_every_grid_factor_cites_its_announcement_and_data_year():
    table = parameter_table()
    factors = [k for k in table if k.startswith("grid.") and k not in ("grid.basis", "grid.year")]
    assert len(factors) >= len(PUBLISHED)
    for key in factors:
        source = table[key].source
        year = key.rsplit("_", 1)[-1]
        assert f"关于发布{year}年电力二氧化碳排放因子的公告" in source, key
        assert f"data year {year}" in source, key
        assert "MEE & NBS" in source, key
        assert "repository not identified" not in source, key


@pytest.mark.parametrize("year", [2022])
def test_jiangsu_factor_is_plausible_against_the_east_china_grid(year):
    table = parameter_table()
    jiangsu = table[f"grid.jiangsu_{year}"].default
    region = table[f"grid.east_china_{year}"].default
    assert 0.85 * region <= jiangsu <= 1.15 * region
    assert table[f"grid.jiangsu_{year}"].tag == "F2"  # secondary until read from the annex
