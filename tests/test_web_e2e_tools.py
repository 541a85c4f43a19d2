"""The web app's tools end to end (Debian's headless Chromium, as tests/test_web_e2e.py): the
scenario as a TOML file down and up, problems beside their fields in words, sensitivity from
the app, labels without raw keys, and the column chooser of wide tables.

The server, browser and page fixtures are those of tests/test_web_e2e.py (a server of its own
for this module: one job process, a temporary run store).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import tomli_w

from test_web_e2e import browser, page, server, wait_until  # noqa: F401  (fixtures)


def form_scenario(app_page) -> dict:
    """The scenario the form would send (the page's own scenarioFromForm)."""
    return app_page.evaluate("() => scenarioFromForm()")


def test_the_scenario_downloads_as_toml_and_uploads_back_into_the_form(page, tmp_path):  # noqa: F811
    """No scenario file could be uploaded or downloaded."""
    page.click('#tabs button[data-view="plant"]')
    page.fill("#capacity", "15000")
    page.dispatch_event("#capacity", "change")
    with page.expect_download() as info:
        page.click("#toml-download")
    download = info.value
    assert download.suggested_filename.endswith(".toml")
    written = tomllib.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert written == form_scenario(page)  # the file is the form's scenario
    assert written["plant"]["capacity_t_per_year"] == 15000
    # change the file, change the form, upload the file: the form is the file's again
    price = page.eval_on_selector_all("#prices input", "els => els.map(e => e.dataset.name)")[0]
    changed = dict(written)
    changed["plant"] = {**written["plant"], "capacity_t_per_year": 20000, "name": "from a file"}
    changed["prices"] = {**written.get("prices", {}), price: 4321}
    file = tmp_path / "changed.toml"
    file.write_text(tomli_w.dumps(changed), encoding="utf-8")
    page.fill("#capacity", "9000")
    page.set_input_files("#toml-upload", str(file))
    wait_until(page, "() => document.getElementById('capacity').value === '20000'")
    assert page.input_value(f'#prices input[data-name="{price}"]') == "4321"
    assert page.input_value("#run-name") == "from a file"
    assert form_scenario(page) == changed
    assert "valid" in page.inner_text("#problems")


def test_an_uploaded_file_with_a_bad_value_shows_it_beside_its_field(page, tmp_path):  # noqa: F811
    """The server checks an uploaded file as natwin validate does; its problem sits by the field."""
    raw = form_scenario(page)
    raw["plant"] = {**raw["plant"], "capacity_t_per_year": 5}
    file = tmp_path / "bad.toml"
    file.write_text(tomli_w.dumps(raw), encoding="utf-8")
    page.set_input_files("#toml-upload", str(file))
    note = page.locator('#scenario-form .field-error[data-for="plant.capacity_t_per_year"]')
    note.wait_for(timeout=10_000)
    assert "must be at least 100" in note.inner_text().lower()
    assert page.evaluate("() => document.getElementById('capacity').classList.contains('invalid')")
    page.set_input_files("#toml-upload", {"name": "broken.toml", "mimeType": "text/plain", "buffer": b"[plant\n"})
    page.wait_for_selector("#problems li[data-for=file]", timeout=10_000)
    assert "TOML" in page.inner_text("#problems")
    page.fill("#capacity", "10000")


def test_a_bad_value_shows_its_message_beside_its_field_in_words(page):  # noqa: F811
    """Field errors appeared at the bottom of the form, the energy target's as raw JSON."""
    page.click('#tabs button[data-view="plant"]')
    page.fill("#capacity", "5")
    page.click("#validate-btn")
    note = page.locator('.field-error[data-for="plant.capacity_t_per_year"]')
    note.wait_for(timeout=10_000)
    # beside the capacity field (the next element after its label), in words, not in the bottom list
    assert page.evaluate(
        "() => document.getElementById('capacity').closest('label').nextElementSibling.dataset.for"
    ) == "plant.capacity_t_per_year"
    assert re.search(r"must be at least 100\b", note.inner_text().lower())
    assert "plant.capacity_t_per_year" not in page.inner_text("#scenario-form")
    page.fill("#capacity", "10000")
    if page.is_hidden("#energy-target-box"):
        pytest.fail("the energy-system target is not offered: this test needs the energy system installed")
    page.select_option("#energy-target", "cfe_hourly")
    page.fill("#energy-target-value", "")
    page.click("#validate-btn")
    target = page.locator('.field-error[data-for="energy"]')
    target.wait_for(timeout=10_000)
    assert page.evaluate(
        "() => document.getElementById('energy-target-value').closest('label').nextElementSibling.dataset.for"
    ) == "energy"
    text = target.inner_text()
    assert "needs target_value" in text
    assert "{" not in text  # not the section as raw JSON
    assert page.inner_text("#problems") == ""
    page.select_option("#energy-target", "")
