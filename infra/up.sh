#!/usr/bin/env bash
# Start PostgreSQL (two databases), the MLflow tracking server and the Prefect server on $KEEL_HOST,
# wait until each is healthy, create the work pools and print the URLs. Idempotent: a running service is kept.
# Stop everything with infra/down.sh (`make down`). Settings: infra/.env.example; refuses its example secrets.
set -euo pipefail
KEEL_ENV_SERVER=1 source "$(dirname "$0")/env.sh"
source "$KEEL_ROOT/infra/lib.sh"
refuse_example_secrets

mkdir -p "$KEEL_INFRA_HOME"/{logs,run,artifacts}
chmod 755 "$KEEL_INFRA_HOME"
start_postgres
setup_databases
start_mlflow
start_prefect
wait_healthy
create_work_pools
echo "PostgreSQL  postgresql://$KEEL_HOST:$KEEL_PG_PORT/{$KEEL_PG_MLFLOW_DB,$KEEL_PG_PREFECT_DB}" \
     "(roles $KEEL_PG_MLFLOW_ROLE, $KEEL_PG_PREFECT_ROLE, $KEEL_PG_LEDGER_ROLE; admin $KEEL_PG_USER)"
echo "MLflow      $MLFLOW_TRACKING_URI"
echo "Prefect UI  http://$KEEL_HOST:$KEEL_PREFECT_PORT   (API $PREFECT_API_URL)"
echo "Clients:    source infra/env.sh   (exports MLFLOW_TRACKING_URI, PREFECT_API_URL and credentials)"
