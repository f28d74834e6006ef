# simfleet: `make demo` runs the main job on the local lab, `make test` runs every test.
# Both start with `make setup`, which installs only what is missing.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export VAGRANT_CHECKPOINT_DISABLE := 1
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export SIMFLEET_VENV := $(VENV)
SIMFLEET_NODES ?= 3
PYTEST_ARGS ?=

.PHONY: help setup demo test lab lab-destroy lint unit integration e2e lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install what is missing: Debian packages, the venv, dockerd, images
	@bash scripts/setup.sh

demo: setup lab ## the main job on the local lab (for now: the lab up and provisioned)
	ansible all -m ansible.builtin.ping

lab: setup ## bring the Vagrant lab up (SIMFLEET_NODES nodes) and provision it with site.yml
	SIMFLEET_NODES=$(SIMFLEET_NODES) vagrant up --no-provision
	ansible-playbook site.yml

lab-destroy: ## destroy the lab's nodes
	vagrant destroy -f

test: setup ## every test: lint, unit, integration, e2e
	$(MAKE) --no-print-directory lint
	pytest $(PYTEST_ARGS)

unit: setup ## unit tests only
	pytest -m unit $(PYTEST_ARGS)

integration: setup ## integration tests only
	pytest -m integration $(PYTEST_ARGS)

e2e: setup ## end-to-end tests only
	pytest -m e2e $(PYTEST_ARGS)

lint: ## ruff on the Python code, ansible-lint on roles and playbooks
	ruff check glue tests inventory
	ruff format --check glue tests inventory
	ansible-lint

lock: ## re-pin every Python package after changing pyproject.toml
	python3 -m venv .cache/lock-venv
	.cache/lock-venv/bin/pip install -q -e '.[dev]'
	{ echo '# Every Python package the venv holds, pinned. Regenerate with `make lock` after changing pyproject.toml.'; \
	  .cache/lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock
	rm -rf .cache/lock-venv
