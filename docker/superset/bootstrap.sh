#!/usr/bin/env bash
# One-shot bootstrap of Superset (docker-compose.yml, service superset-init). Idempotent:
# it runs on every `docker compose up` and changes nothing the second time.
#   1. superset db upgrade       -- migrate the metadata DB (database `superset`)
#   2. superset fab create-admin -- the admin user (left as is if it exists)
#   3. superset init             -- default roles and permissions
#   4. superset set_database_uri -- register the warehouse as role bi_reader (or update
#                                   its URI, e.g. after a password change)
#   5. the clientbase dashboards  -- bi/superset/<CLIENTBASE_BI_LANGUAGE> imported (overwriting
#                                   by UUID, failing on any validation error), with a role per
#                                   manager and row-level security (plugins/clientbase/bi/)
set -euo pipefail

: "${SUPERSET_ADMIN_PASSWORD:?SUPERSET_ADMIN_PASSWORD is not set}"
: "${SUPERSET_WAREHOUSE_PASSWORD:?SUPERSET_WAREHOUSE_PASSWORD is not set}"

superset db upgrade

superset fab create-admin \
    --username "${SUPERSET_ADMIN_USERNAME:-admin}" \
    --firstname Superset \
    --lastname Admin \
    --email "${SUPERSET_ADMIN_EMAIL:-admin@example.com}" \
    --password "${SUPERSET_ADMIN_PASSWORD}"

superset init

# The URI is built in Python so that any password is URL-quoted correctly.
warehouse_uri="$(python - <<'PY'
import os
from urllib.parse import quote

print("postgresql+psycopg2://{}:{}@{}:{}/{}".format(
    quote(os.environ.get("SUPERSET_WAREHOUSE_USER", "bi_reader"), safe=""),
    quote(os.environ["SUPERSET_WAREHOUSE_PASSWORD"], safe=""),
    os.environ.get("SUPERSET_WAREHOUSE_HOST", "postgres"),
    os.environ.get("SUPERSET_WAREHOUSE_PORT", "5432"),
    os.environ.get("SUPERSET_WAREHOUSE_DB", "clientbase"),
))
PY
)"
superset set_database_uri \
    -d "${SUPERSET_WAREHOUSE_NAME:-Clientbase reporting}" \
    -u "${warehouse_uri}"

# The same bundle and importer as `clientbase bi` (mounted read-only by docker-compose.yml).
# Manager roles come from what is published: re-run superset-init after the first month close.
export CLIENTBASE_BI_WAREHOUSE_URI="${warehouse_uri}"
access_file="$(mktemp)"
PYTHONPATH=/app/clientbase/pkg python -m clientbase.bi.access --out "${access_file}"
python /app/clientbase/pkg/clientbase/bi/superset_side.py import \
    --bundle "/app/clientbase/bi/${CLIENTBASE_BI_LANGUAGE:-ru}" \
    --access "${access_file}" \
    --admin "${SUPERSET_ADMIN_USERNAME:-admin}"
rm -f "${access_file}"

echo "superset bootstrap: done (warehouse registered as ${SUPERSET_WAREHOUSE_USER:-bi_reader})"
