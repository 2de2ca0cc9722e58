# The AMPECO webhook bridge. `make run` serves it locally; `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.DEFAULT_GOAL := help
.PHONY: help install install-sam run test unit integration contract lint typecheck validate build bench load deploy clean redrive replay fuzz faults push-secret reconcile-check subscribe openapi

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# Each step says what it does (pip is quiet for a minute on a fresh machine); once the stamp is newer than
# the requirements, nothing runs and nothing is printed.
$(VENV)/.installed: requirements-dev.txt shared/requirements.txt shared/requirements-tracing.txt pyproject.toml
	@if [ ! -x $(PY) ]; then echo "install: creating the virtualenv $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	@echo "install: pinned requirements into $(VENV) (requirements-dev.txt; about a minute on a fresh machine)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@echo "install: the bridge package and its command, editable"
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .  # the `bridge` command
	@touch $@
	@echo "install: done ($(VENV))"

$(SAM_VENV)/.installed: requirements-sam.txt
	@if [ ! -x $(SAM_VENV)/bin/python ]; then echo "install-sam: creating the virtualenv $(SAM_VENV) with $(PYTHON)"; $(PYTHON) -m venv $(SAM_VENV); fi
	@echo "install-sam: SAM CLI and cfn-lint into $(SAM_VENV) (requirements-sam.txt; a minute or two on a fresh machine)"
	@$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@
	@echo "install-sam: done ($(SAM_VENV))"

install: $(VENV)/.installed ## Install the application and test set
install-sam: $(SAM_VENV)/.installed ## Install SAM CLI and cfn-lint in their own virtualenv

run: install ## Serve the bridge on 127.0.0.1:$(PORT) with in-memory AWS and a tenant simulator
	PORT=$(PORT) $(PY) -m local

test: lint typecheck validate ## Everything: lint, types, template lint, unit, integration, contract
	$(PY) -m pytest -n auto

unit: install ## Fast pure tests
	$(PY) -m pytest tests/unit

integration: install ## Handlers on moto built from template.yaml
	$(PY) -m pytest tests/integration

contract: install ## Responses against strict schemas derived from AMPECO's API
	$(PY) -m pytest tests/contract

fuzz: install ## Many more generated requests and inputs than make test runs (random each run); zero 5xx
	BRIDGE_FUZZ_PROFILE=bridge-fuzz $(PY) -m pytest tests/fuzz -n auto -o faulthandler_timeout=0

faults: install ## Each AWS fault at each call of each flow: invariants, and the report table (also as Markdown)
	FAULT_REPORT="$${TMPDIR:-/tmp}/bridge-fault-report.md" $(PY) -m pytest tests/faults -n auto

openapi: install ## Regenerate docs/openapi.json from the handlers' routes (a contract test fails while it is stale)
	$(PY) -m local.openapi_doc

lint: install ## ruff (lint and format check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install ## mypy, strict on the package, handlers and local run
	$(VENV)/bin/mypy

validate: install-sam ## sam validate --lint (cfn-lint 1.53 still checks inside SAM resources)
	$(SAM) validate --lint --template template.yaml

build: install-sam ## sam build for arm64 with python3.12, then precompile for faster cold starts
	./scripts/sam-build

bench: install ## Figures beside their baselines and targets, into bench/results.json (a few minutes; not in make test)
	$(PY) -m local.bench

load: install ## Bounded load on a local run: counts in = stored = delivered, latencies
	$(PY) -m local.load

subscribe: install ## Register the bridge's webhook with the tenant: TENANT_URL=... CALLBACK_URL=... [BRIDGE_STACK=name]
	$(PY) -m bridge.cli $(if $(BRIDGE_STACK),--stack $(BRIDGE_STACK),--local http://127.0.0.1:$(PORT)) subscribe --tenant-url "$(TENANT_URL)" --callback-url "$(CALLBACK_URL)"

reconcile-check: install ## Lost webhooks found again: a local run dropping 30% of the tenant's notifications
	$(PY) -m local.reconcile_check

redrive: install ## Publish again what the relay kept (BRIDGE_STACK=name for AWS; else the local run on PORT)
	$(PY) -m bridge.cli $(if $(BRIDGE_STACK),--stack $(BRIDGE_STACK),--local http://127.0.0.1:$(PORT)) redrive $(ARGS)

replay: install ## Publish stored events again: ARGS='security-events --since T --until T' (or start-results)
	$(PY) -m bridge.cli $(if $(BRIDGE_STACK),--stack $(BRIDGE_STACK),--local http://127.0.0.1:$(PORT)) replay $(ARGS)

push-secret: install ## A charge point's own push secret: CP=1187 (BRIDGE_STACK=name for AWS; else the local run)
	$(PY) -m bridge.cli $(if $(BRIDGE_STACK),--stack $(BRIDGE_STACK),--local http://127.0.0.1:$(PORT)) push-secret --charge-point $(CP) $(ARGS)

deploy: build ## sam deploy --guided on first use
	$(SAM) deploy $(if $(wildcard samconfig.toml),,--guided)

clean: ## Remove build output and virtualenvs
	rm -rf .aws-sam $(VENV) $(SAM_VENV)
