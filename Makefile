# Two commands do all the set-up: `make run` (the local stack) and `make test` (every test).
# Both create the virtualenvs they need on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 (the cloud runtime) where it is installed, else 3.11.
PYTHON ?= $(shell for p in python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null) python3.11 python3; do \
             $$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
TASKS_VENV := .venv-tasks
CHECKOV_VENV := .venv-checkov
PYTEST_ARGS ?=

.PHONY: help install lock lock-check run test lint typecheck architecture checkov chromium firestore-emulator bench soak drift-check clean

help:
	@echo "make run    start the whole local stack (emulators, fake Google, functions, bridge, demo data)"
	@echo "make test   lint, type-check, architecture contract, and every test tier"
	@echo "make drift-check  run the drift check once against the running stack, as Cloud Scheduler does"
	@echo "make bench  benchmarks against the targets (BENCH_FULL=1 for full size)"
	@echo "make soak   the long convergence soak"
	@echo "make lock   re-resolve the hashed dependency locks from requirements*.in (lock-check: on 3.11 and 3.12)"

# Every install is from a lock: each package pinned with its hashes (`make lock` writes them), and
# --require-hashes refuses anything else. A lock holds every transitive dependency, so pip installs it
# as it is (--no-deps: nothing resolved again) and `pip check` proves it complete. The dev lock holds
# the runtime lock's packages too.
$(VENV)/.installed: requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-deps --require-hashes -r requirements-dev.txt
	$(PY) -m pip check
	@touch $@

# The Cloud Tasks emulator pins protobuf<5, so it lives in a virtualenv of its own.
$(TASKS_VENV)/.installed: infra/local/tasks-emulator.txt
	@test -x $(TASKS_VENV)/bin/python || $(PYTHON) -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/pip install -q --no-deps --require-hashes -r infra/local/tasks-emulator.txt
	$(TASKS_VENV)/bin/pip check
	@touch $@

# checkov pins many packages of its own.
$(CHECKOV_VENV)/.installed: infra/checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --no-deps --require-hashes -r infra/checkov.txt
	$(CHECKOV_VENV)/bin/pip check
	@touch $@

# `make lock` re-resolves every lock from its .in file after an edit there, keeping the other pins;
# `make lock UPGRADE=1` takes the newest versions the .in files allow. It resolves against PyPI alone (no local pip configuration: no extra indexes, constraints or
# wheel folders), which is what the Cloud Functions buildpack installs from, and writes the hashes of every
# file PyPI has for each version, so that the same locks install on Python 3.11 and 3.12.
LOCK := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(VENV)/bin/pip-compile --quiet --generate-hashes \
        --allow-unsafe --strip-extras --no-emit-index-url $(if $(UPGRADE),--upgrade,)
lock: $(VENV)/.installed
	$(LOCK) --output-file=requirements.txt requirements.in
	$(LOCK) --output-file=requirements-dev.txt requirements-dev.in
	$(LOCK) --output-file=infra/local/tasks-emulator.txt infra/local/tasks-emulator.in
	$(LOCK) --output-file=infra/checkov.txt infra/checkov.in

# The locks hold for both Pythons the project runs on: each installs, as `make install` does, into a
# fresh virtualenv of Python 3.11 and of 3.12, and `pip check` finds nothing missing (a dependency that
# only one version needs would show here).
lock-check:
	@for version in 3.11 3.12; do \
	  py=$$(for p in python$$version $$(ls -d $$HOME/.pyenv/versions/$$version*/bin/python$$version 2>/dev/null); do \
	          $$p -c 'import sys' 2>/dev/null && { echo $$p; break; }; done); \
	  test -n "$$py" || { echo "Python $$version is not installed"; exit 1; }; \
	  for lock in requirements.txt requirements-dev.txt; do \
	    tmp=$$(mktemp -d) && $$py -m venv $$tmp && \
	    $$tmp/bin/pip install -q --no-deps --require-hashes -r $$lock && $$tmp/bin/pip check && \
	    echo "$$lock installs on Python $$version" && rm -rf $$tmp || exit 1; \
	  done; \
	done

install: $(VENV)/.installed $(TASKS_VENV)/.installed

run: install firestore-emulator
	$(PY) -m infra.local.stack

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy shared functions

architecture: $(VENV)/.installed
	$(VENV)/bin/lint-imports

checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov -d infra --framework terraform --quiet --compact --skip-path infra/local --skip-download

# The browser test drives Debian's Chromium (never a downloaded browser build).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium)

# Java and Google's Firestore emulator: from Debian and Google Cloud's Debian repository (added when apt
# does not know it); the script says what to do where neither can be reached.
firestore-emulator:
	@bash infra/local/install-firestore-emulator.sh

test: install lint typecheck architecture checkov chromium firestore-emulator
	@mkdir -p reports
	$(PY) -m pytest --junitxml=reports/junit.xml $(PYTEST_ARGS)

bench: install
	$(PY) -m tests.bench $(if $(BENCH_FULL),--full,)

soak: install
	SOAK_OPS=$${SOAK_OPS:-10000} $(PY) -m pytest -m soak -s -p no:logging tests/integration/test_convergence.py

# The drift check once, against the running stack (make run), called as Cloud Scheduler calls it: with a
# token of the scheduler's identity, through the functions' front door.
FUNCTIONS_URL ?= http://127.0.0.1:$${FUNCTIONS_PORT:-8080}
drift-check: install
	@curl -fsS -X POST "$(FUNCTIONS_URL)/drift_check" -H 'content-type: application/json' -d '{}' \
	  -H "Authorization: Bearer $$($(PY) -m infra.local.identity drift_check)"; echo

clean:
	rm -rf $(VENV) $(TASKS_VENV) $(CHECKOV_VENV) .local reports .pytest_cache .mypy_cache .ruff_cache
