# Two commands: `make run` (serve the embedded default with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
NPM ?= npm
# the media fast path's optional C part (setup.py): rebuilt by pip when its source changes
NATIVE := setup.py server/media/_rtpsend.c

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/classroom-server --demo --host $(HOST) --port $(PORT)

# ESLint and TypeScript (tsc --checkJs) for web_client/, exact versions from package-lock.json;
# installed again only when package.json or the lock file changed (npm ci writes the stamp).
node_modules/.package-lock.json: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund

# the services (and the C compiler) first: the install builds the fast path's C module
test:
	PYTHON=$(PYTHON) bash deploy/test-services.sh
	$(MAKE) --no-print-directory $(VENV)/.installed-test
	$(MAKE) --no-print-directory node_modules/.package-lock.json
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check server classroom_agent tests bench
	$(BIN)/mypy
	$(MAKE) --no-print-directory node_modules/.package-lock.json
	$(NPM) run --silent check

format: $(VENV)/.installed-test
	$(BIN)/ruff format server classroom_agent tests bench

bench: $(VENV)/.installed-test
	$(BIN)/python bench/planner.py

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .mypy_cache .ruff_cache node_modules
