# churnlight — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
DEMO_DIR ?= out/demo

# Two lock files, both fully pinned and hashed (`make lock` refreshes them from pyproject.toml):
# core.txt is what serving, scoring, training and the demo need (no PySpark, no Jupyter, no
# test tools); full.txt adds the [dev], [spark] and [notebooks] extras, with the same versions
# for every package the two share. The demo installs core only into a fresh .venv; the test,
# lint and bench targets add the rest to the same .venv, so neither undoes the other.
CORE_LOCK := requirements/core.txt
FULL_LOCK := requirements/full.txt
CORE_STAMP := $(VENV)/.core-installed
FULL_STAMP := $(VENV)/.full-installed
# --no-deps: the lock is the whole set (pip check verifies it); --no-build-isolation: the
# project builds with the locked setuptools, nothing unpinned is fetched.
INSTALL_LOCK = $(PIP) install --quiet --require-hashes --no-deps --log $(VENV)/pip-$(1).log -r $(2)
INSTALL_PROJECT = $(PIP) install --quiet --no-deps --no-build-isolation --log $(VENV)/pip-$(1).log -e .
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock"

.PHONY: setup demo test test-fast bench lint lock format serve mlflow-ui clean

setup: $(FULL_STAMP)  ## create .venv with everything: core, [dev], [spark], [notebooks]

$(PY):
	$(PYTHON) -m venv $(VENV)

$(CORE_STAMP): $(CORE_LOCK) pyproject.toml | $(PY)
	$(call INSTALL_LOCK,core,$(CORE_LOCK))
	$(call INSTALL_PROJECT,core)
	$(PY) -m pip check
	touch $@

$(FULL_STAMP): $(FULL_LOCK) $(CORE_STAMP)
	$(call INSTALL_LOCK,full,$(FULL_LOCK))
	$(PY) -m pip check
	touch $@

lock: | $(PY)  ## refresh requirements/*.txt from pyproject.toml (UPGRADE=1: newest allowed versions)
	$(PIP) install --quiet "uv==$$(sed -n 's/^uv==\([^ ]*\).*/\1/p' $(FULL_LOCK))"
	$(VENV)/bin/uv pip compile pyproject.toml requirements/build.in --extra dev --extra spark \
		--extra notebooks $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) -o $(FULL_LOCK)
	# the core lock starts from the full one, so the two agree on every shared version
	cp $(FULL_LOCK) $(CORE_LOCK)
	$(VENV)/bin/uv pip compile pyproject.toml requirements/build.in $(LOCK_FLAGS) -o $(CORE_LOCK)

demo: $(CORE_STAMP)  ## simulate, validate, build features, train, then serve the scores (Ctrl-C stops)
	$(VENV)/bin/churnlight simulate --accounts 600 --months 30 --seed 7 --out $(DEMO_DIR)/source
	$(VENV)/bin/churnlight validate $(DEMO_DIR)/source
	$(VENV)/bin/churnlight features --source $(DEMO_DIR)/source --out $(DEMO_DIR)/features.parquet
	$(VENV)/bin/churnlight train --features $(DEMO_DIR)/features.parquet
	$(VENV)/bin/churnlight serve --source $(DEMO_DIR)/source --demo-key

# -m "" lifts the quick-suite marker filter of pyproject's addopts; the ci profile runs
# hypothesis derandomized (a fixed seed), so a failure repeats.
test: $(FULL_STAMP)  ## the whole suite, slow, Spark and notebook tests included (what CI runs)
	$(PY) -m pytest -n 2 --dist loadgroup -m "" --hypothesis-profile=ci

test-fast: $(FULL_STAMP)  ## the quick suite for iteration: no slow, Spark or notebook tests
	$(PY) -m pytest -n 2

bench: $(FULL_STAMP)  ## benchmarks, reported as ratios against baselines measured in the same run
	$(PY) -m bench

lint: $(FULL_STAMP)  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(FULL_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

serve: $(CORE_STAMP)  ## the scoring API on the demo source
	$(VENV)/bin/churnlight serve --source $(DEMO_DIR)/source

mlflow-ui: $(CORE_STAMP)  ## the MLflow UI over the local store in models/
	$(VENV)/bin/mlflow ui --backend-store-uri $(TRACKING_URI) --port 5000

clean:
	rm -rf out .pytest_cache .ruff_cache .mypy_cache
