# Source me: loads infra/.env (else infra/.env.example) and exports what clients need to use the servers:
#   source infra/env.sh && make run        # runs, artifacts and the registry go to the MLflow server
#   source infra/env.sh && keel worker --pool cpu
# Variables already set in the environment win over the file.
_keel_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_keel_file="${KEEL_ENV_FILE:-$_keel_root/infra/.env}"
if [ ! -f "$_keel_file" ]; then
  echo "infra/env.sh: $_keel_file not found; using infra/.env.example (its change-me secrets: make up refuses them)" >&2
  _keel_file="$_keel_root/infra/.env.example"
fi
while IFS='=' read -r _k _v; do
  case "$_k" in ''|\#*) continue ;; esac
  [ -n "${!_k+x}" ] || export "$_k=$_v"
done < "$_keel_file"
case "$KEEL_INFRA_HOME" in /*) ;; *) KEEL_INFRA_HOME="$_keel_root/$KEEL_INFRA_HOME" ;; esac
export KEEL_INFRA_HOME KEEL_ROOT="$_keel_root"
# the project's venv (make install) first on PATH, as make sets it
case ":$PATH:" in *":$_keel_root/.venv/bin:"*) ;; *) [ -d "$_keel_root/.venv/bin" ] && export PATH="$_keel_root/.venv/bin:$PATH" ;; esac
export MLFLOW_TRACKING_URI="http://$KEEL_HOST:$KEEL_MLFLOW_PORT"
export PREFECT_API_URL="http://$KEEL_HOST:$KEEL_PREFECT_PORT/api"
# the promotion ledger lives in the registry's database (components/lifecycle/ledger.py), which an HTTP tracking URI hides
# through its own role, which reaches only the ledger's schema (infra/lib.sh setup_databases)
export KEEL_LEDGER_DB_URL="postgresql+psycopg2://$KEEL_PG_LEDGER_ROLE:$KEEL_PG_LEDGER_PASSWORD@$KEEL_HOST:$KEEL_PG_PORT/$KEEL_PG_MLFLOW_DB"
if [ -n "$KEEL_PREFECT_AUTH" ]; then export PREFECT_API_AUTH_STRING="$KEEL_PREFECT_AUTH"; fi
if [ "$KEEL_MLFLOW_AUTH" != true ]; then unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD; fi
export DO_NOT_TRACK=true MLFLOW_DISABLE_TELEMETRY=true PREFECT_SERVER_ANALYTICS_ENABLED=false DVC_NO_ANALYTICS=1
unset _keel_root _keel_file _k _v
