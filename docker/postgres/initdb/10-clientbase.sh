#!/usr/bin/env bash
# Creates the roles and databases of the clientbase stack on the shared PostgreSQL 16 server.
#
# The official postgres image runs this once, when the data volume is empty
# (/docker-entrypoint-initdb.d), as the superuser, over the Unix socket of a temporary
# server that does not listen on TCP yet. The SQL lives in sql/ beside this script (the
# image ignores sub-folders) and gets the passwords as psql variables, so no secret is
# written in any file. Every statement is idempotent: on an existing volume, re-apply with
#     docker compose --env-file docker/.env exec postgres /docker-entrypoint-initdb.d/10-clientbase.sh
# (that also resets the seven passwords to the values now in the environment).
#
# The image executes this file if it is executable and sources it otherwise: everything
# runs in a subshell so that neither `set` nor an error escapes into the image's entrypoint.
(
    set -euo pipefail

    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    sql_dir="${here}/sql"

    for var in CLIENTBASE_OWNER_PASSWORD CLIENTBASE_LOADER_PASSWORD CLIENTBASE_TRANSFORMER_PASSWORD \
               BI_READER_PASSWORD AIRFLOW_DB_PASSWORD METABASE_DB_PASSWORD SUPERSET_DB_PASSWORD; do
        if [[ -z "${!var:-}" ]]; then
            echo "clientbase init: ${var} is empty; set it in the environment (docker/.env)" >&2
            exit 1
        fi
    done

    psql_as_superuser=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet
                       --username "${POSTGRES_USER:-postgres}")

    echo "clientbase init: roles and databases"
    "${psql_as_superuser[@]}" --dbname postgres \
        -v clientbase_password="${CLIENTBASE_OWNER_PASSWORD}" \
        -v loader_password="${CLIENTBASE_LOADER_PASSWORD}" \
        -v transformer_password="${CLIENTBASE_TRANSFORMER_PASSWORD}" \
        -v bi_reader_password="${BI_READER_PASSWORD}" \
        -v airflow_password="${AIRFLOW_DB_PASSWORD}" \
        -v metabase_password="${METABASE_DB_PASSWORD}" \
        -v superset_password="${SUPERSET_DB_PASSWORD}" \
        -f "${sql_dir}/01-roles-and-databases.sql"

    echo "clientbase init: warehouse schemas and the grants of the loader, transformer and bi_reader"
    "${psql_as_superuser[@]}" --dbname clientbase \
        -f "${sql_dir}/02-warehouse-schemas-and-grants.sql"

    echo "clientbase init: done"
)
