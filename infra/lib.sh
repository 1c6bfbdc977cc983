# Functions for up.sh / down.sh (sourced after env.sh). Each service runs in its own session (setsid) so that
# stopping it stops its children; pid files live in $KEEL_INFRA_HOME/run, logs in $KEEL_INFRA_HOME/logs.

# Refuse the committed example secrets (any value still holding "change-me") and an empty database password.
refuse_example_secrets() {
  local k bad=()
  for k in KEEL_PG_PASSWORD KEEL_PG_MLFLOW_PASSWORD KEEL_PG_PREFECT_PASSWORD KEEL_PG_LEDGER_PASSWORD \
           MLFLOW_TRACKING_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY KEEL_PREFECT_AUTH; do
    case "${!k:-}" in *change-me*) bad+=("$k") ;; esac
  done
  for k in KEEL_PG_PASSWORD KEEL_PG_MLFLOW_PASSWORD KEEL_PG_PREFECT_PASSWORD KEEL_PG_LEDGER_PASSWORD; do
    [ -n "${!k:-}" ] || bad+=("$k (empty)")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "refusing to start the team stack with example secrets: ${bad[*]}. Set your own in infra/.env" \
         "(cp infra/.env.example infra/.env, then change every change-me) or in the environment." >&2
    exit 1
  fi
  # MLflow's basic-auth app refuses an admin password under 12 characters, after PostgreSQL is already set up
  local admin="${MLFLOW_TRACKING_PASSWORD:-}"
  if [ "${KEEL_MLFLOW_AUTH:-}" = true ] && [ "${#admin}" -lt 12 ]; then
    echo "refusing to start the team stack: MLFLOW_TRACKING_PASSWORD has ${#admin} characters;" \
         "MLflow's basic-auth app needs at least 12 for its admin account (KEEL_MLFLOW_AUTH=true)." >&2
    exit 1
  fi
}

pg_bindir() {
  if [ -n "${KEEL_PG_BINDIR:-}" ]; then echo "$KEEL_PG_BINDIR"; return; fi
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { echo "PostgreSQL not found: install Debian's postgresql package or set KEEL_PG_BINDIR" >&2; exit 1; }
  echo "$d"
}

# PostgreSQL refuses to run as root: run its tools as the `postgres` system user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_postgres() {
  local bin data="$KEEL_INFRA_HOME/pgdata"; bin=$(pg_bindir)
  if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$data"; local pw="$KEEL_INFRA_HOME/run/pgpass.tmp"
    printf '%s\n' "$KEEL_PG_PASSWORD" > "$pw"
    if [ "$(id -u)" = 0 ]; then chown postgres "$data" "$pw"; fi
    chmod 700 "$data"; chmod 600 "$pw"
    as_pg "$bin/initdb" -D "$data" -U "$KEEL_PG_USER" --pwfile="$pw" -A scram-sha-256 -E UTF8 >"$KEEL_INFRA_HOME/logs/initdb.log"
    rm -f "$pw"
  fi
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then echo "postgres: already running"; return; fi
  touch "$KEEL_INFRA_HOME/logs/postgres.log"
  if [ "$(id -u)" = 0 ]; then chown postgres "$KEEL_INFRA_HOME/logs/postgres.log"; fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$KEEL_INFRA_HOME/logs/postgres.log" -w -t "$KEEL_START_TIMEOUT" \
    -o "-p $KEEL_PG_PORT -h $KEEL_HOST -k $data" start >/dev/null
  echo "postgres: up on $KEEL_HOST:$KEEL_PG_PORT"
}

stop_postgres() {
  local bin data="$KEEL_INFRA_HOME/pgdata"; bin=$(pg_bindir)
  [ -s "$data/PG_VERSION" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null && echo "postgres: stopped"
  fi
}

psql_admin() {
  PGPASSWORD="$KEEL_PG_PASSWORD" "$(pg_bindir)/psql" -h "$KEEL_HOST" -p "$KEEL_PG_PORT" -U "$KEEL_PG_USER" \
    -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

# One login role per service, least privilege (docs/team-stack.md): MLflow's backend store owns the mlflow
# database, Prefect's server the prefect database, and the ledger role (Keel's clients and workers) reaches only
# its own schema `ledger` in the mlflow database. None is a superuser or may create roles or databases; the
# admin role ($KEEL_PG_USER) only sets them up (and backs up). Passwords travel through the environment.
ensure_role() {  # NAME PASSWORD_VARIABLE: create the role if missing; (re)set its password and attributes
  KEEL_ROLE_PASSWORD="${!2}" psql_admin -v name="$1" <<'SQL'
\getenv pw KEEL_ROLE_PASSWORD
SELECT format('CREATE ROLE %I', :'name') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
              :'name', :'pw') \gexec
SQL
}

ensure_database() {  # NAME OWNER: the database, owned by OWNER; nobody else may connect but the admin
  if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" ]; then
    psql_admin -c "CREATE DATABASE \"$1\" OWNER \"$2\"" && echo "postgres: created database $1 (owner $2)"
  fi
  psql_admin -c "ALTER DATABASE \"$1\" OWNER TO \"$2\"" -c "REVOKE ALL ON DATABASE \"$1\" FROM PUBLIC"
}

setup_databases() {
  ensure_role "$KEEL_PG_MLFLOW_ROLE" KEEL_PG_MLFLOW_PASSWORD
  ensure_role "$KEEL_PG_PREFECT_ROLE" KEEL_PG_PREFECT_PASSWORD
  ensure_role "$KEEL_PG_LEDGER_ROLE" KEEL_PG_LEDGER_PASSWORD
  ensure_database "$KEEL_PG_MLFLOW_DB" "$KEEL_PG_MLFLOW_ROLE"
  ensure_database "$KEEL_PG_PREFECT_DB" "$KEEL_PG_PREFECT_ROLE"
  # the ledger: its own schema in the registry's database, first on its role's search_path; MLflow's tables
  # (schema public) stay out of its reach
  psql_admin -d "$KEEL_PG_MLFLOW_DB" -c "GRANT CONNECT ON DATABASE \"$KEEL_PG_MLFLOW_DB\" TO \"$KEEL_PG_LEDGER_ROLE\"" \
    -c "CREATE SCHEMA IF NOT EXISTS ledger AUTHORIZATION \"$KEEL_PG_LEDGER_ROLE\"" \
    -c "REVOKE ALL ON SCHEMA public FROM PUBLIC" \
    -c "ALTER ROLE \"$KEEL_PG_LEDGER_ROLE\" IN DATABASE \"$KEEL_PG_MLFLOW_DB\" SET search_path = ledger"
}

running() { local f="$KEEL_INFRA_HOME/run/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# start_service NAME CMD...: detached, in its own session, cwd = state dir (no project prefect.toml there)
start_service() {
  local name=$1; shift
  if running "$name"; then echo "$name: already running"; return; fi
  (cd "$KEEL_INFRA_HOME" && exec setsid "$@" >"logs/$name.log" 2>&1 < /dev/null) &
  echo $! > "$KEEL_INFRA_HOME/run/$name.pid"
}

stop_service() {
  local name=$1 f="$KEEL_INFRA_HOME/run/$1.pid" pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  # a Prefect worker needs two signals; send TERM to the whole session twice, then KILL what is left
  for i in 1 2; do kill -TERM -- "-$pid" 2>/dev/null || true; sleep 2; kill -0 -- "-$pid" 2>/dev/null || break; done
  for i in $(seq 1 10); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$f"; echo "$name: stopped"
}

start_mlflow() {
  # no password in the URI: the server's database password arrives as PGPASSWORD (libpq), never on a command line
  local db="postgresql+psycopg2://$KEEL_PG_MLFLOW_ROLE@$KEEL_HOST:$KEEL_PG_PORT/$KEEL_PG_MLFLOW_DB"
  local args=(--backend-store-uri "$db"
              --artifacts-destination "$KEEL_INFRA_HOME/artifacts" --serve-artifacts
              --host "$KEEL_HOST" --port "$KEEL_MLFLOW_PORT" --workers 1)
  if [ "$KEEL_MLFLOW_AUTH" = true ]; then
    "$KEEL_ROOT/infra/auth_ini.sh" "$db" "$MLFLOW_TRACKING_USERNAME" > "$KEEL_INFRA_HOME/run/basic_auth.ini"
    chmod 600 "$KEEL_INFRA_HOME/run/basic_auth.ini"
    args+=(--app-name basic-auth)
  fi
  PGPASSWORD="$KEEL_PG_MLFLOW_PASSWORD" MLFLOW_AUTH_ADMIN_PASSWORD="${MLFLOW_TRACKING_PASSWORD:-}" \
  MLFLOW_FLASK_SERVER_SECRET_KEY="$MLFLOW_FLASK_SERVER_SECRET_KEY" \
    start_service mlflow env MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    MLFLOW_AUTH_CONFIG_PATH="$KEEL_INFRA_HOME/run/basic_auth.ini" mlflow server "${args[@]}"
}

start_prefect() {
  # secrets reach the server through its environment (set for this call), not through `env`'s arguments
  local role="$KEEL_PG_PREFECT_ROLE:$KEEL_PG_PREFECT_PASSWORD"
  PREFECT_SERVER_DATABASE_CONNECTION_URL="postgresql+asyncpg://$role@$KEEL_HOST:$KEEL_PG_PORT/$KEEL_PG_PREFECT_DB" \
  PREFECT_SERVER_API_AUTH_STRING="${KEEL_PREFECT_AUTH:-}" \
    start_service prefect env PREFECT_HOME="$KEEL_INFRA_HOME/prefect" PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT=false \
    prefect server start --host "$KEEL_HOST" --port "$KEEL_PREFECT_PORT"
}

wait_for() {  # wait_for NAME URL [curl args]: poll until HTTP 200 or the service died or timed out
  local name=$1 url=$2; shift 2; local t0=$SECONDS
  until curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; do
    running "$name" || { echo "$name: exited; last log lines:" >&2; tail -20 "$KEEL_INFRA_HOME/logs/$name.log" >&2; exit 1; }
    if (( SECONDS - t0 > KEEL_START_TIMEOUT )); then
      echo "$name: not healthy after ${KEEL_START_TIMEOUT}s ($url); see $KEEL_INFRA_HOME/logs/$name.log" >&2; exit 1
    fi
    sleep 1
  done
  echo "$name: healthy ($url) after $(( SECONDS - t0 ))s"
}

wait_healthy() {
  wait_for mlflow "$MLFLOW_TRACKING_URI/health"
  local auth=(); [ -z "${KEEL_PREFECT_AUTH:-}" ] || auth=(-u "$KEEL_PREFECT_AUTH")
  wait_for prefect "$PREFECT_API_URL/health" "${auth[@]}"
}

create_work_pools() {
  local pool
  for pool in cpu gpu; do
    if ! prefect work-pool inspect "$pool" >/dev/null 2>&1; then
      prefect work-pool create "$pool" --type process \
        --base-job-template "$KEEL_ROOT/infra/work-pools/$pool.json" >/dev/null && echo "prefect: work pool $pool created"
    fi
  done
}
