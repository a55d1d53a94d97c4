# Switchboard: `make run` serves with the offline engines; `make test` runs the whole suite.
# Needs only Python 3.11+ and make: uv is installed into .venv, then .venv is synced from uv.lock.

PYTHON ?= python3
VENV   := .venv
UV     := $(VENV)/bin/uv
PY     := $(VENV)/bin/python

.PHONY: run test test-fast lint bench bench-quick install clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv

install: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(PY)

run: install
	$(VENV)/bin/switchboard serve

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

# The unit and integration tiers only (no real-time calls): the quick loop while developing.
test-fast: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -m "unit or integration"

lint: install
	$(VENV)/bin/ruff check .

# Benchmarks (BENCHMARKS.md): each server under test runs under `taskset -c 0`, the load
# generator and the fake providers under `taskset -c 1` (bench/run.py does the pinning).
bench: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench --python $(PY)
	$(PY) -m bench.run --leak-calls 500

# The same, bounded to ~20 minutes: coarser levels, 2 turns per call, 100-call leak check.
bench-quick: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench --python $(PY)
	$(PY) -m bench.run --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
