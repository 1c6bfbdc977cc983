#!/bin/sh
# docker-compose only: the official postgres image runs this once on an empty volume (infra/up.sh does the same
# with ensure_database).
set -e
psql -v ON_ERROR_STOP=1 -p "${KEEL_PG_PORT:-5433}" -U "$POSTGRES_USER" -d postgres \
  -c "CREATE DATABASE \"${KEEL_PG_MLFLOW_DB}\"" -c "CREATE DATABASE \"${KEEL_PG_PREFECT_DB}\""
