# Two commands for a fresh machine: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin

# DVC stage commands call `python -m components.<stage>`: put the project's venv first on PATH.
export PATH := $(BIN):$(PATH)
# No telemetry from any tool (MLflow only accepts DO_NOT_TRACK=true, not 1).
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: install run test test-fast flow bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

## run: the default pipeline (dvc repro) on the bundled digits data; ends with digits-cnn@staging
run: install
	dvc repro
	dvc metrics show

## test: the whole suite, as CI runs it
test: install
	pytest

test-fast: install
	pytest -m "not slow"

## flow: the same pipeline as a Prefect flow (local, no server needed)
flow: install
	python -m flows.training_flow

bench: install
	python bench/train_vs_raw.py
	python bench/flow_overhead.py
	python bench/batch_vs_raw.py

lint: install
	ruff check components flows tests bench

clean:
	rm -rf data/raw data/features models/train reports/validation reports/plots reports/register \
	       reports/metrics.json mlflow.db mlartifacts .prefect .dvc-storage dvc_plots
