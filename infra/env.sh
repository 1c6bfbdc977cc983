# Source me: loads infra/.env (else infra/.env.example) and exports what clients need to use the servers:
#   source infra/env.sh && make run        # runs, artifacts and the registry go to the MLflow server
#   source infra/env.sh && keel worker --pool cpu
# Variables already set in the environment win over the file. A client's shell gets only what clients use (the
# URLs, the ledger role's URL, the client credentials); the servers' secrets (the PostgreSQL admin and service
# passwords, MLflow's Flask secret, Prefect's server auth string) stay shell variables of the infra scripts, which
# set KEEL_ENV_SERVER=1 before sourcing this and pass each secret to the one command that needs it.
_keel_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_keel_file="${KEEL_ENV_FILE:-$_keel_root/infra/.env}"
if [ ! -f "$_keel_file" ]; then
  echo "infra/env.sh: $_keel_file not found; using infra/.env.example (its change-me secrets: make up refuses them)" >&2
  _keel_file="$_keel_root/infra/.env.example"
fi
_keel_server_only="KEEL_PG_PASSWORD KEEL_PG_MLFLOW_PASSWORD KEEL_PG_PREFECT_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY KEEL_PREFECT_AUTH"
while IFS='=' read -r _k _v; do
  case "$_k" in ''|\#*) continue ;; esac
  [ -n "${!_k+x}" ] && continue
  case " $_keel_server_only " in *" $_k "*) printf -v "$_k" '%s' "$_v" ;; *) export "$_k=$_v" ;; esac
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
if [ "${KEEL_ENV_SERVER:-}" != 1 ]; then  # a client: the servers' secrets leave this shell (a caller's own stay)
  for _k in $_keel_server_only; do
    case "$(declare -p "$_k" 2>/dev/null)" in "declare -x"*) ;; *) unset "$_k" ;; esac
  done
fi
unset _keel_root _keel_file _keel_server_only _k _v
