# Every target brings the virtual environment up to date itself, so a fresh clone
# needs nothing but Python 3.11 and this file. uv is pinned and installed into
# .tools/ when the machine has none; dependencies come from uv.lock (--frozen).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-output

.PHONY: venv services demo test lint format bench clean compile-pipelines

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	touch $@

venv: $(VENV)/.synced

# The real local services the demo and the tests run against: mosquitto from Debian's
# packages (installed when missing; it does not start by itself, the code starts it on a
# free port), and the Google Cloud CLI's Pub/Sub emulator with Java, which must be there.
services:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing mosquitto (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; }
	@command -v gcloud >/dev/null 2>&1 || { echo "error: the Google Cloud CLI (gcloud) is needed for the Pub/Sub emulator" >&2; exit 1; }
	@command -v java >/dev/null 2>&1 || { echo "error: Java is needed for the Pub/Sub emulator" >&2; exit 1; }

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy schemas twin

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint services
	$(BIN)/pytest

demo: venv services
	$(BIN)/dra-twin demo --out $(DEMO_DIR)

compile-pipelines: venv
	$(BIN)/python -m vertex.compile vertex/compiled

bench: venv services
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .tools $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
