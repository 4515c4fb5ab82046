# passgate: `make run` serves the demo, `make test` runs the whole suite (what CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WIDGET := src/passgate/widget
# The widget's npm libraries (package.json, package-lock.json), served by passgate.
NODE := $(WIDGET)/node_modules/.package-lock.json
SYSTEM_PACKAGES := chromium redis-server wrk

.PHONY: run serve test test-fast check bench system clean

$(STAMP): pyproject.toml $(NODE)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

$(NODE): $(WIDGET)/package-lock.json
	command -v npm >/dev/null || scripts/ensure-system.sh nodejs npm
	npm ci --prefix $(WIDGET) --no-audit --no-fund --loglevel=error

system:
	scripts/ensure-system.sh $(SYSTEM_PACKAGES)

run: $(STAMP)
	$(BIN)/passgate demo

serve: $(STAMP)
	$(BIN)/passgate serve

test: $(STAMP) system
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not browser and not multinode"

check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(STAMP) system
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache $(WIDGET)/node_modules
