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
.PHONY: help install install-sam run test unit integration contract lint typecheck validate build bench deploy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt shared/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

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

lint: install ## ruff (lint and format check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install ## mypy, strict on the package, handlers and local run
	$(VENV)/bin/mypy

validate: install-sam ## sam validate --lint (cfn-lint 1.53 still checks inside SAM resources)
	$(SAM) validate --lint --template template.yaml

build: install-sam ## sam build for arm64 with python3.12, then precompile for faster cold starts
	./scripts/sam-build

bench: install ## Cold-start and per-event cost figures
	$(PY) -m local.bench

deploy: build ## sam deploy --guided on first use
	$(SAM) deploy $(if $(wildcard samconfig.toml),,--guided)

clean: ## Remove build output and virtualenvs
	rm -rf .aws-sam $(VENV) $(SAM_VENV)
