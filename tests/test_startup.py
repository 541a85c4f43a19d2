"""Start-up: ``natwin --help`` and ``natwin validate`` load none of the heavy packages.

Each check runs in a fresh interpreter (this process has long since imported everything) and
reads ``sys.modules`` after the command. The same probe run on ``import natwin.pipeline`` must
find SimPy, so a probe that sees nothing is not blind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import natwin
from natwin import catalog

#: Packages a start-up must not pay for: the energy solver stack, the simulation, the sweep
#: cluster, the report's charts.
HEAVY = ("pypsa", "linopy", "highspy", "simpy", "dask", "distributed", "plotly", "pvlib")

_PROBE = """
import json, sys
{setup}
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))
print(json.dumps(loaded))
"""


def _heavy_after(setup: str) -> list[str]:
    """The heavy packages loaded in a new interpreter after running ``setup``."""
    code = _PROBE.format(setup=setup, heavy=HEAVY)
    src = str(Path(natwin.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "PYTHONPATH": src},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _command(args: list[str]) -> str:
    """Setup code that runs the CLI with ``args`` and keeps going after its exit."""
    return (
        "from natwin.cli import app\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        app({args!r})\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), exc.code\n"
    )


def test_importing_the_cli_loads_no_heavy_package():
    assert _heavy_after("import natwin.cli") == []


def test_help_loads_no_heavy_package():
    assert _heavy_after(_command(["--help"])) == []


def test_validate_loads_no_heavy_package_but_the_weather_it_checks(tmp_path):
    """`natwin validate` runs every check of a run without its simulation and solve: the energy
    system's pre-solve checks compute the site's weather (pvlib), nothing else heavy loads."""
    scenario = catalog.data_path("scenarios", "binhai_nfm111.toml")
    assert _heavy_after(_command(["validate", str(scenario)])) == ["pvlib"]
    without_energy = tmp_path / "no_energy.toml"
    without_energy.write_text(
        scenario.read_text(encoding="utf-8").replace("[energy]", "[energy]\nenabled = false"), encoding="utf-8"
    )
    assert _heavy_after(_command(["validate", str(without_energy)])) == []


def test_the_probe_sees_a_heavy_import():
    """The control: the simulation does load SimPy."""
    assert "simpy" in _heavy_after("from natwin.operations import simulate")
