#!/usr/bin/env bash
# Dump the two PostgreSQL databases (MLflow registry + users, Prefect) and copy the MLflow artifacts:
#   infra/backup.sh [DIR]   (default $KEEL_INFRA_HOME/backups/<UTC timestamp>)
# Restore into a stopped-then-started stack with infra/restore.sh DIR.
set -euo pipefail
KEEL_ENV_SERVER=1 source "$(dirname "$0")/env.sh"
source "$KEEL_ROOT/infra/lib.sh"
out="${1:-$KEEL_INFRA_HOME/backups/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
for db in "$KEEL_PG_MLFLOW_DB" "$KEEL_PG_PREFECT_DB"; do
  PGPASSWORD="$KEEL_PG_PASSWORD" "$(pg_bindir)/pg_dump" -h "$KEEL_HOST" -p "$KEEL_PG_PORT" -U "$KEEL_PG_USER" \
    -Fc -f "$out/$db.dump" "$db"
done
tar -C "$KEEL_INFRA_HOME" -czf "$out/artifacts.tar.gz" artifacts
echo "$out"
