#!/bin/bash
# docker-compose only: the official postgres image runs this once on an empty volume. The same roles and
# databases as `make up` (setup_databases in infra/lib.sh, mounted at /keel/lib.sh), over the init server's socket.
set -euo pipefail
export KEEL_HOST=/var/run/postgresql KEEL_PG_BINDIR=/usr/lib/postgresql/15/bin KEEL_PG_USER="$POSTGRES_USER"
export KEEL_PG_PASSWORD="$POSTGRES_PASSWORD" KEEL_PG_PORT="${KEEL_PG_PORT:-5433}"
source /keel/lib.sh
setup_databases
