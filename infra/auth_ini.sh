#!/bin/sh
# Print MLflow's basic-auth config: users live in DATABASE_URI (the registry's own database is fine: MLflow's
# auth tables keep their own alembic version table). Usage: infra/auth_ini.sh DATABASE_URI ADMIN_USER
cat <<INI
[mlflow]
default_permission = READ
database_uri = $1
admin_username = $2
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
