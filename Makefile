# natwin: set-up, run and test on a fresh machine with Python >= 3.11 and pip.
# `make run`  creates .venv, installs natwin, runs the default scenario into ./out/
# `make test` installs the test dependencies and runs ruff and the whole test suite.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: docs-figures run test install install-test lint bench clean lock fonts study

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt $(VENV)/.installed
	$(PIP) -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser test of the HTML report (Playwright drives it; it never
# downloads a browser of its own). apt-get through sudo unless running as root.
$(VENV)/.chromium: | $(BIN)/python
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	touch $@

# The study's font (natwin study): WenQuanYi Micro Hei, a TrueType font with Latin and CJK glyphs
# that reportlab embeds in the PDF, so a study renders the same on every machine (Debian's
# fonts-wqy-microhei; apt-get through sudo unless running as root). NATWIN_STUDY_FONT names another.
FONT_FILE := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
$(VENV)/.fonts: | $(BIN)/python
	test -f $(FONT_FILE) || { SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei; }
	touch $@

fonts: $(VENV)/.fonts

install-test: $(VENV)/.installed-test $(VENV)/.chromium $(VENV)/.fonts

run: install
	$(BIN)/natwin run --out out

# The feasibility study of the default scenario in English and Chinese, PDF and DOCX, into ./out/
study: install $(VENV)/.fonts
	$(BIN)/natwin study --lang en --out out
	$(BIN)/natwin study --lang zh --out out

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

test: install-test lint
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python benchmarks/run_all.py

# After changing data: regenerate the figures docs/*.md and README.md quote from runs.
docs-figures: install
	$(BIN)/python -m natwin.docs_figures --write

# Re-pin every dependency after a change to pyproject.toml (writes constraints.txt).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q '.[test]'
	.lock-venv/bin/python -m pip freeze --exclude natwin > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) out build *.egg-info
