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
PYTEST_ARGS ?=

.PHONY: help setup demo demo-data test lab lab-destroy lint unit integration e2e lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install what is missing: Debian packages, the venv, dockerd, images
	@bash scripts/setup.sh

DEMO_BUCKET ?= simfleet-demo
DEMO_RUN_ID ?= demo
DEMO_REDUCE ?= ["count", "sum:value"]

demo: setup ## the main job: sample scenarios in the lab's S3, a 3-node lab, run.yml across it
	$(MAKE) --no-print-directory demo-data lab
	ansible-playbook run.yml -e run_id=$(DEMO_RUN_ID) -e run_scenarios=s3://$(DEMO_BUCKET)/scenarios \
	  -e '{"run_reduce": $(DEMO_REDUCE)}'
	@echo "glue from this machine, with the settings run.yml left (README: Your own job image):"
	@echo "  . .cache/run/env && glue run s3://$(DEMO_BUCKET)/scenarios --run-id try-1 --wait"

demo-data: rgw-up ## put the sample scenarios (examples/scenarios) into the lab's S3 store
	glue rgw bucket $(DEMO_BUCKET)
	set -a; . .cache/rgw/env; set +a; \
	  glue sync examples/scenarios s3://$(DEMO_BUCKET)/scenarios --delete

# SIMFLEET_NODES (from the environment or `make lab SIMFLEET_NODES=n`) defaults to the lab's
# last count, else 3 (the Vagrantfile remembers it).
lab: setup ## bring the Vagrant lab up (SIMFLEET_NODES nodes) and provision it with site.yml
	vagrant up --no-provision
	ansible-playbook site.yml

lab-destroy: ## destroy every node this lab has made, whatever SIMFLEET_NODES says
	SIMFLEET_REMOVE_EXTRA=1 vagrant destroy -f

test: setup ## every test: lint, then e2e beside unit, integration and molecule (scripts/test.sh)
	PYTEST_ARGS='$(PYTEST_ARGS)' bash scripts/test.sh

unit: setup ## unit tests only
	pytest -m unit $(PYTEST_ARGS)

integration: setup ## integration tests only
	pytest -m integration $(PYTEST_ARGS)

e2e: setup ## end-to-end tests only
	pytest -m e2e $(PYTEST_ARGS)

lint: ## ruff on the Python code, ansible-lint on roles and playbooks
	ruff check glue tests inventory bench examples roles
	ruff format --check glue tests inventory bench examples roles
	ansible-lint

lock: ## re-pin every Python package after changing pyproject.toml
	python3 -m venv .cache/lock-venv
	.cache/lock-venv/bin/pip install -q -e '.[dev,report]'
	{ echo '# Every Python package the venv holds, pinned. Regenerate with `make lock` after changing pyproject.toml.'; \
	  .cache/lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock
	rm -rf .cache/lock-venv

.PHONY: rgw-up rgw-down bench-sync
RGW_HTTP_PORT ?= 7480
RGW_HTTPS_PORT ?= 7443

rgw-up: setup ## start the lab's S3 store (Ceph RGW on 127.0.0.1); keys in .cache/rgw/
	glue rgw up --http-port $(RGW_HTTP_PORT) --https-port $(RGW_HTTPS_PORT)

rgw-down: ## stop the lab's S3 store (its data volume stays)
	glue rgw down

bench-sync: rgw-up ## glue sync vs aws s3 sync vs rclone on the lab's S3; writes docs/benchmarks.md
	python bench/sync.py

.PHONY: molecule
# Roles with a Molecule scenario; MOLECULE_ROLES="docker nvidia" tests only those.
MOLECULE_ROLES ?= $(patsubst roles/%/molecule/default/molecule.yml,%,$(wildcard roles/*/molecule/default/molecule.yml))

molecule: setup ## molecule test of every role with a scenario (all of each role's scenarios)
	@failed=(); for role in $(MOLECULE_ROLES); do \
	  echo "== molecule test: $$role"; start=$$SECONDS; \
	  if (cd roles/$$role && SIMFLEET_MOLECULE_INSTANCE=simfleet-molecule-$$role-$$$$ molecule test --all); \
	  then echo "== $$role: passed in $$((SECONDS - start)) s"; \
	  else echo "== $$role: FAILED after $$((SECONDS - start)) s"; failed+=("$$role"); fi; \
	done; \
	if (($${#failed[@]})); then echo "molecule failed for: $${failed[*]}" >&2; exit 1; fi

.PHONY: bench-dispatch-local
bench-dispatch-local: setup ## glue run/worker vs docker run / plain processes via xargs -P2; writes docs/benchmarks.md
	python bench/dispatch-local/run.py

.PHONY: bench-scale
# BENCH_SCALE_ARGS="--scenarios 10000" for a shorter run (the table says how many ran).
BENCH_SCALE_ARGS ?=
bench-scale: setup ## one run of 100,000 process jobs of `true`: enqueue rate, Redis bytes per job, fold, status, report; writes docs/benchmarks.md
	python bench/scale/run.py $(BENCH_SCALE_ARGS)

.PHONY: bench-report-scale bench-dispatch-order
bench-report-scale: setup ## glue report and glue status on a synthetic finished run of 100,000 jobs; writes docs/benchmarks.md
	python bench/report-scale/run.py

bench-dispatch-order: setup ## the same skewed run twice: listing order, then longest first from history; writes docs/benchmarks.md
	python bench/dispatch-order/run.py

.PHONY: bench-dispatch-fleet
# BENCH_FLEET_ARGS="--repeats 3" for medians of alternating runs, "--quick" for a short check.
BENCH_FLEET_ARGS ?=
bench-dispatch-fleet: rgw-up lab ## 120 sleep jobs on the lab: glue vs lower bound vs GNU parallel over ssh, then make demo twice; writes docs/benchmarks.md
	python bench/dispatch-fleet/run.py $(BENCH_FLEET_ARGS)
