# Switchboard: `make run` serves with the offline engines; `make test` runs the whole suite.
# Needs only Python 3.11+ and make: uv is installed into .venv, then .venv is synced from uv.lock.

PYTHON ?= python3
VENV   := .venv
UV     := $(VENV)/bin/uv
PY     := $(VENV)/bin/python

.PHONY: run test test-fast lint bench bench-quick bench-machine soak install clean browser-deps

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv

install: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(PY)

run: install
	$(VENV)/bin/switchboard serve

test: install browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

# The console's browser tests (tests/browser/) drive Debian's Chromium, never a downloaded
# browser: installed through apt-get when missing and we are root; otherwise they skip and say why.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else echo "browser-deps: /usr/bin/chromium missing and cannot install it (not root or no apt-get); tests/browser/ will skip"; fi

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
	$(PY) -m bench.run --leak-calls 1000
	$(PY) -m server.cli eval turns

# The same, bounded to ~20 minutes: coarser levels, 2 turns per call, 100-call leak check.
bench-quick: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench --python $(PY)
	$(PY) -m bench.run --quick

# Calls per machine: WORKERS=1 and 2 on all cores, load generator alongside (bench/per_machine.py;
# needs the PostgreSQL and Redis of DATABASE_URL/REDIS_URL, default 127.0.0.1:5432 and :6379)
bench-machine: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench --python $(PY)
	$(PY) -m bench.per_machine

# 80 % of the measured capacity for 10 minutes, per-minute figures (SOAK_ARGS="--calls 12 --minutes 3")
soak: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench --python $(PY)
	$(PY) -m bench.soak --render BENCHMARKS.md $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
