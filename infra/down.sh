#!/usr/bin/env bash
# Stop what infra/up.sh started (Prefect server, MLflow server, PostgreSQL).
# Leaves the data in $KEEL_INFRA_HOME; `make down` then `make up` keeps every run, model and flow run.
set -euo pipefail
KEEL_ENV_SERVER=1 source "$(dirname "$0")/env.sh"
source "$KEEL_ROOT/infra/lib.sh"
for name in prefect mlflow; do stop_service "$name"; done
stop_postgres
echo "stopped; state kept in $KEEL_INFRA_HOME"
