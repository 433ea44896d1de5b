# Two commands do all set-up on a fresh machine (see README.md):
#   make app    build .venv, then serve the review app on the bundled demo dataset
#   make test   build .venv (+ Chromium for the browser test and PostgreSQL for the store tests where
#               we are root on Debian), run the tests
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Elsewhere: TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" gets the CPU build.
TORCH_PIP_ARGS ?=
PYTEST_ARGS ?=

.PHONY: app test test-all venv browser postgres bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

browser:
	@bash scripts/install_browser.sh

postgres:
	@bash scripts/install_postgres.sh

app: venv
	HF_HUB_OFFLINE=1 $(BIN)/negaudit serve --demo

test: venv browser postgres
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: venv browser postgres
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .negaudit
