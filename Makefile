# churnlight — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= out/demo
TRACKING_URI ?= sqlite:///$(CURDIR)/models/mlflow.db

.PHONY: setup demo test test-fast postgres bench lint format serve mlflow-ui clean

setup: $(STAMP)  ## create .venv and install churnlight with its dev and spark extras

# Re-runs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

demo: $(STAMP)  ## simulate, validate, build features, train, score two snapshots, then serve (Ctrl-C stops)
	$(VENV)/bin/churnlight simulate --accounts 600 --months 30 --seed 7 --out $(DEMO_DIR)/source
	$(VENV)/bin/churnlight validate $(DEMO_DIR)/source
	$(VENV)/bin/churnlight features --source $(DEMO_DIR)/source --out $(DEMO_DIR)/features.parquet
	$(VENV)/bin/churnlight train --features $(DEMO_DIR)/features.parquet
	$(VENV)/bin/churnlight score --features $(DEMO_DIR)/features.parquet --last-snapshots 2 --out $(DEMO_DIR)/scores.parquet
	$(VENV)/bin/churnlight serve --source $(DEMO_DIR)/source --demo-key

# -m "" lifts the quick-suite marker filter of pyproject's addopts; the ci profile runs
# hypothesis derandomized (a fixed seed), so a failure repeats. The history tests run against
# a real PostgreSQL: .ci/postgres installs (Debian package) and starts a local cluster if
# needed, creates the test role and database, and prints its URL.
test: $(STAMP)  ## the whole suite, slow, Spark and notebook tests included (what CI runs)
	set -o pipefail; url=$$(.ci/postgres | tail -n 1) && CHURNLIGHT_TEST_POSTGRES_URL=$$url $(PY) -m pytest -n 2 --dist loadgroup -m "" --hypothesis-profile=ci

test-fast: $(STAMP)  ## the quick suite for iteration: no slow, Spark or notebook tests
	set -o pipefail; url=$$(.ci/postgres | tail -n 1) && CHURNLIGHT_TEST_POSTGRES_URL=$$url $(PY) -m pytest -n 2

postgres:  ## install (if missing) and start the local PostgreSQL the history tests use; prints its URL
	.ci/postgres

bench: $(STAMP)  ## benchmarks, reported as ratios against baselines measured in the same run
	$(PY) -m bench

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

serve: $(STAMP)  ## the scoring API on the demo source
	$(VENV)/bin/churnlight serve --source $(DEMO_DIR)/source

mlflow-ui: $(STAMP)  ## the MLflow UI over the local store in models/
	$(VENV)/bin/mlflow ui --backend-store-uri $(TRACKING_URI) --port 5000

clean:
	rm -rf out .pytest_cache .ruff_cache .mypy_cache
