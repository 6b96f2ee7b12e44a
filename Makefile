# churnlight — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
DEMO_DIR ?= out/demo

# Lock files, fully pinned and hashed for Linux, Apple-silicon macOS and Windows (`make lock`
# refreshes them from pyproject.toml): requirements/core.txt is what training, serving,
# scoring and the demo need (no PySpark, Jupyter or test tools); full.txt adds the [dev],
# [spark], [notebooks] and [client] extras with the same version of every package the two
# share; uv.txt is the installer; airflow.txt (from requirements/airflow.in) is the Airflow
# that `make test` imports the example DAG with, in a venv of its own (.ci/airflow). The demo
# installs core only; test, lint and bench add the rest to the same .venv, so neither target
# undoes the other. Each install's package list is logged in .venv/install-<core|full>.log.
CORE_LOCK := requirements/core.txt
FULL_LOCK := requirements/full.txt
UV_LOCK := requirements/uv.txt
AIRFLOW_LOCK := requirements/airflow.txt
CORE_STAMP := $(VENV)/.core-installed
FULL_STAMP := $(VENV)/.full-installed
# --no-deps: the lock is the whole set (uv pip check verifies it); --no-build-isolation: the
# project builds with the locked setuptools, so nothing unpinned is fetched.
INSTALL_LOCK = $(UV) pip install --python $(PY) --require-hashes --no-deps -r $(2) \
	> $(VENV)/install-$(1).log 2>&1 || { cat $(VENV)/install-$(1).log; exit 1; }; \
	grep -v '^ [-+~] ' $(VENV)/install-$(1).log
LOCK = $(UV) pip compile --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

.PHONY: setup demo test test-fast postgres bench lint lock format serve mlflow-ui ui-screenshots clean

setup: $(FULL_STAMP)  ## create .venv with everything: core, [dev], [spark], [notebooks], [client]

$(UV): $(UV_LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r $(UV_LOCK)
	touch $@

$(CORE_STAMP): $(CORE_LOCK) pyproject.toml | $(UV)
	$(call INSTALL_LOCK,core,$(CORE_LOCK))
	$(UV) pip install --python $(PY) --no-deps --no-build-isolation -e . >> $(VENV)/install-core.log 2>&1
	$(UV) pip check --python $(PY)
	touch $@

$(FULL_STAMP): $(FULL_LOCK) $(CORE_STAMP)
	$(call INSTALL_LOCK,full,$(FULL_LOCK))
	$(UV) pip check --python $(PY)
	touch $@

lock: | $(UV)  ## refresh requirements/*.txt from pyproject.toml and requirements/*.in (UPGRADE=1: newest allowed versions)
	$(LOCK) pyproject.toml requirements/build.in --extra dev --extra spark --extra notebooks \
		--extra client -o $(FULL_LOCK)
	# the core lock starts from the full one, so the two agree on every shared version
	cp $(FULL_LOCK) $(CORE_LOCK)
	$(LOCK) pyproject.toml requirements/build.in -o $(CORE_LOCK)
	$(LOCK) requirements/uv.in -o $(UV_LOCK)
	$(LOCK) requirements/airflow.in -o $(AIRFLOW_LOCK)

demo: $(CORE_STAMP)  ## simulate, validate, build features, train, score two snapshots, then serve (Ctrl-C stops)
	$(VENV)/bin/churnlight simulate --accounts 600 --months 30 --seed 7 --out $(DEMO_DIR)/source
	$(VENV)/bin/churnlight validate $(DEMO_DIR)/source
	$(VENV)/bin/churnlight features --source $(DEMO_DIR)/source --out $(DEMO_DIR)/features.parquet
	$(VENV)/bin/churnlight train --features $(DEMO_DIR)/features.parquet
	$(VENV)/bin/churnlight score --features $(DEMO_DIR)/features.parquet --last-snapshots 2 --out $(DEMO_DIR)/scores.parquet
	$(VENV)/bin/churnlight serve --source $(DEMO_DIR)/source --demo-key

# -m "" lifts the quick-suite marker filter of pyproject's addopts; the ci profile runs
# hypothesis derandomized (a fixed seed), so a failure repeats. What the tests run against,
# each installed if missing and idempotent: .ci/postgres installs (Debian package) and starts
# a local PostgreSQL for the history tests and prints its URL; .ci/systemd installs
# systemd-analyze (Debian package systemd) for the example units; .ci/chromium installs
# Debian's chromium for the web pages' browser tests (tests/ui: Playwright downloads no
# browser) and prints its path; .ci/airflow (test only: its test is slow) installs Airflow
# into .venv-airflow from requirements/airflow.txt, apart from .venv, and prints its
# interpreter, which imports the example DAG.
TEST_TOOLS = set -o pipefail; .ci/systemd && url=$$(.ci/postgres | tail -n 1) && \
	export CHURNLIGHT_TEST_POSTGRES_URL=$$url && chromium=$$(.ci/chromium | tail -n 1) && \
	export CHURNLIGHT_TEST_CHROMIUM=$$chromium
AIRFLOW = airflow=$$(UV=$(UV) PYTHON=$(PYTHON) .ci/airflow | tail -n 1) && \
	export CHURNLIGHT_TEST_AIRFLOW_PYTHON=$$airflow

test: $(FULL_STAMP)  ## the whole suite, slow, Spark and notebook tests included (what CI runs)
	$(TEST_TOOLS) && $(AIRFLOW) && $(PY) -m pytest -n 2 --dist loadgroup -m "" --hypothesis-profile=ci

test-fast: $(FULL_STAMP)  ## the quick suite for iteration: no slow, Spark or notebook tests
	$(TEST_TOOLS) && $(PY) -m pytest -n 2

# The browser tests photograph every page at 1280 and 390 px into out/ui/; the README shows two.
ui-screenshots: $(FULL_STAMP)  ## regenerate docs/img/ui-*.png (the README's screenshots of the web pages)
	chromium=$$(.ci/chromium | tail -n 1) && export CHURNLIGHT_TEST_CHROMIUM=$$chromium && \
		CHURNLIGHT_UI_SCREENSHOTS=1 $(PY) -m pytest -m "" -q tests/ui -k axe
	mkdir -p docs/img
	$(PY) -c 'from PIL import Image; \
		Image.open("out/ui/portfolio-1280.png").crop((0, 0, 1280, 960)).save("docs/img/ui-portfolio.png", optimize=True); \
		Image.open("out/ui/account-390.png").crop((0, 0, 390, 1500)).save("docs/img/ui-account-phone.png", optimize=True)'

postgres:  ## install (if missing) and start the local PostgreSQL the history tests use; prints its URL
	.ci/postgres

bench: $(FULL_STAMP)  ## benchmarks, reported as ratios against baselines measured in the same run
	$(PY) -m bench

# deptry: declared dependencies = imported ones, first in the packages and notebooks, then in
# tests/ and bench/ (which may also use [dev]). .ci/audit: pip-audit of every locked version
# (strict; says so when the vulnerability service cannot be reached).
lint: $(FULL_STAMP)  ## ruff (lint + format check), mypy, deptry, pip-audit of the lock files
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/deptry .
	$(VENV)/bin/deptry tests bench --exclude '(^|/)\.venv/' --extend-exclude 'a^' --ignore DEP002,DEP004
	.ci/audit

format: $(FULL_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

serve: $(CORE_STAMP)  ## the scoring API on the demo source
	$(VENV)/bin/churnlight serve --source $(DEMO_DIR)/source

mlflow-ui: $(CORE_STAMP)  ## the MLflow UI over the store `churnlight info` names
	$(VENV)/bin/mlflow ui --port 5000 --backend-store-uri "$$($(VENV)/bin/churnlight info --json \
		| $(PY) -c 'import json, sys; print(json.load(sys.stdin)["state"]["tracking_uri"])')"

clean:
	rm -rf out .pytest_cache .ruff_cache .mypy_cache
