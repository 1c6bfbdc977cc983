#!/usr/bin/env bash
# Restore a backup made by infra/backup.sh: stops MLflow and Prefect, recreates both databases from the dumps,
# puts the artifacts back and starts the servers again (PostgreSQL must be running: `make up` first).
set -euo pipefail
src="${1:?usage: infra/restore.sh BACKUP_DIR}"
KEEL_ENV_SERVER=1 source "$(dirname "$0")/env.sh"
source "$KEEL_ROOT/infra/lib.sh"
for f in "$src/$KEEL_PG_MLFLOW_DB.dump" "$src/$KEEL_PG_PREFECT_DB.dump" "$src/artifacts.tar.gz"; do
  [ -s "$f" ] || { echo "restore: $f is missing or empty" >&2; exit 1; }
done
stop_service prefect; stop_service mlflow
for db in "$KEEL_PG_MLFLOW_DB" "$KEEL_PG_PREFECT_DB"; do
  psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
done
setup_databases  # the roles and empty databases; the dumps bring their objects with their owners
for db in "$KEEL_PG_MLFLOW_DB" "$KEEL_PG_PREFECT_DB"; do
  PGPASSWORD="$KEEL_PG_PASSWORD" "$(pg_bindir)/pg_restore" -h "$KEEL_HOST" -p "$KEEL_PG_PORT" -U "$KEEL_PG_USER" \
    -d "$db" --clean --if-exists "$src/$db.dump"
done
rm -rf "$KEEL_INFRA_HOME/artifacts" && tar -C "$KEEL_INFRA_HOME" -xzf "$src/artifacts.tar.gz"
start_mlflow; start_prefect; wait_healthy
echo "restored from $src"
