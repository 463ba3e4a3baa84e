# orgops.ssm_automation: one entry point for users, developers and CI.
#   make demo   - run playbooks/check_os.yml against the local sandbox and show the report
#   make test   - every check CI runs
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
BUILD := $(abspath .build)
COLLECTIONS := $(BUILD)/collections
COLL_ROOT := $(COLLECTIONS)/ansible_collections
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_VENV := $(VENV)/.installed
STAMP_AWS := $(COLL_ROOT)/amazon/aws/MANIFEST.json
PYTEST_WORKERS ?= 2

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PYTHONPATH := $(COLLECTIONS):$(abspath .)
export ANSIBLE_LOCAL_TEMP := $(BUILD)/ansible-tmp
export ANSIBLE_HOME := $(BUILD)/ansible-home
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv collections demo test lint ruff yamllint cfn-lint pytest unit integration sanity \
        ansible-lint molecule builder galaxy-build bench bench-lint bench-per-call browser clean

help:
	@echo "make demo   run the check_os playbook against the local sandbox and show the report"
	@echo "make test   run every check (lint, unit, integration, sanity, ansible-lint, molecule, build)"
	@echo "make bench  run the gather benchmark"
	@echo "make bench-lint  time runbook_lint paths on 500 AWS-owned runbooks (ARGS=--files N)"
	@echo "make bench-per-call  where one call's client CPU goes: a bare botocore call taken apart, the harvest by concurrency"
	@echo "make browser  install headless Chromium (apt-get) for the HTML report tests; opt-in, make test never installs it"

# Two layers: what the demo needs (requirements-demo.txt), then the test and development tools on top.
$(STAMP_DEMO): requirements.txt requirements-demo.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements-demo.txt
	@touch $@

$(STAMP_VENV): $(STAMP_DEMO) requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(STAMP_VENV)

$(STAMP_AWS): $(STAMP_DEMO) scripts/install_collections.py
	$(BIN)/python scripts/install_collections.py --dest $(COLLECTIONS)

collections: $(STAMP_AWS)
	@$(BIN)/python scripts/install_collections.py --dest $(COLLECTIONS) --link-only

demo: collections
	$(BIN)/python scripts/demo.py

test: lint cfn-lint pytest sanity ansible-lint molecule builder galaxy-build
	@echo "make test: all checks passed"

lint: ruff yamllint

ruff: $(STAMP_VENV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

yamllint: $(STAMP_VENV)
	$(BIN)/yamllint -s .

cfn-lint: $(STAMP_VENV)
	$(BIN)/cfn-lint roles/*/files/*-role.yml

pytest: $(STAMP_VENV) collections
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/unit tests/integration sandbox/tests

unit: $(STAMP_VENV) collections
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP_VENV) collections
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/integration sandbox/tests

sanity: $(STAMP_VENV) collections
	$(BIN)/python scripts/ansible_test.py sanity

ansible-lint: $(STAMP_VENV) collections
	$(BIN)/ansible-lint --profile production roles playbooks extensions

molecule: $(STAMP_VENV) collections
	cd extensions && $(BIN)/molecule test --all

builder: $(STAMP_VENV)
	$(BIN)/ansible-builder create -f execution-environment.yml -c $(BUILD)/ee-context --output-filename Containerfile

galaxy-build: $(STAMP_VENV) collections
	$(BIN)/python scripts/galaxy_build_check.py

# Opt-in: the HTML report tests open the report in headless Chromium. Without it they are skipped with a notice
# (and fail under CI=true). `make test` installs no system package; .ci/run calls this target.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	    || command -v google-chrome >/dev/null 2>&1; then \
	  echo "headless browser already installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "make browser: no apt-get here; install Chromium with your package manager" >&2; exit 1; \
	fi

bench: $(STAMP_VENV) collections
	$(BIN)/python benchmarks/gather.py $(ARGS)

bench-lint: $(STAMP_VENV) collections
	$(BIN)/python benchmarks/lint_corpus.py $(ARGS)

bench-per-call: $(STAMP_VENV) collections
	$(BIN)/python benchmarks/per_call.py $(ARGS)

clean:
	rm -rf $(BUILD) reports
