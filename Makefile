# passgate: `make run` serves the demo, `make test` runs the whole suite (what CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WIDGET := src/passgate/widget
# The widget's npm libraries (package.json, package-lock.json), served by passgate.
NODE := $(WIDGET)/node_modules/.package-lock.json
# The widget minified by terser (npm run build) into build/, served while its sources are unchanged.
WIDGET_BUILD := $(WIDGET)/build/manifest.json
CONSOLE := src/passgate/console
# The console's npm library (uPlot), served by passgate like the widget's.
CONSOLE_NODE := $(CONSOLE)/node_modules/.package-lock.json
OPENAPI := src/passgate/openapi
# The API reference page's npm library (Redoc), served by passgate like the console's.
OPENAPI_NODE := $(OPENAPI)/node_modules/.package-lock.json
# Tools the browser tests load into pages (axe-core), never served.
TEST_NODE := tests/axe/node_modules/.package-lock.json
# Noto's core and CJK fonts: without them the locales' browser test measures empty boxes (tofu).
SYSTEM_PACKAGES := chromium redis-server wrk fonts-noto-core fonts-noto-cjk

.PHONY: run serve test test-fast fuzz check bench system clean

$(STAMP): pyproject.toml $(NODE) $(CONSOLE_NODE) $(OPENAPI_NODE)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

$(NODE): $(WIDGET)/package-lock.json
	command -v npm >/dev/null || scripts/ensure-system.sh nodejs npm
	npm ci --prefix $(WIDGET) --no-audit --no-fund --loglevel=error

$(WIDGET_BUILD): $(NODE) $(WIDGET)/build.mjs $(wildcard $(WIDGET)/static/* $(WIDGET)/page/*)
	npm run build --prefix $(WIDGET) --silent

$(CONSOLE_NODE): $(CONSOLE)/package-lock.json
	command -v npm >/dev/null || scripts/ensure-system.sh nodejs npm
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error

$(OPENAPI_NODE): $(OPENAPI)/package-lock.json
	command -v npm >/dev/null || scripts/ensure-system.sh nodejs npm
	npm ci --prefix $(OPENAPI) --no-audit --no-fund --loglevel=error

system:
	scripts/ensure-system.sh $(SYSTEM_PACKAGES)

run: $(STAMP) $(WIDGET_BUILD)
	$(BIN)/passgate demo

serve: $(STAMP) $(WIDGET_BUILD)
	$(BIN)/passgate serve

$(TEST_NODE): tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error

test: $(STAMP) $(WIDGET_BUILD) system $(TEST_NODE)
	$(BIN)/pytest

test-fast: $(STAMP) $(WIDGET_BUILD)
	$(BIN)/pytest -m "not slow and not browser and not multinode"

# schemathesis over every operation, far longer than the run in `make test`.
fuzz: $(STAMP) $(WIDGET_BUILD) system
	PASSGATE_FUZZ_EXAMPLES=$(or $(EXAMPLES),1000) $(BIN)/pytest tests/test_fuzz.py

check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(STAMP) $(WIDGET_BUILD) system
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache $(WIDGET)/node_modules $(WIDGET)/build $(CONSOLE)/node_modules $(OPENAPI)/node_modules tests/axe/node_modules
