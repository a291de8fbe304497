"""Superset configuration for the clientbase stack (docker-compose.yml, services superset*).

Everything comes from the environment set by docker-compose.yml; secrets have no default
and Superset refuses to start without them. Connection URLs are assembled here, with the
passwords URL-quoted, so any password works.

Two databases, two roles (docker/postgres/initdb):
  * metadata  -> database `superset`, role `superset` (owner): dashboards, users, ...
  * warehouse -> database `clientbase`, role `bi_reader`: registered by bootstrap.sh as a
    Superset "database"; read-only, schema `reporting` only.
"""

from __future__ import annotations

import os
from urllib.parse import quote


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise RuntimeError(f"{name} is not set (see docker/.env.example)")
    return value


def _q(value: str) -> str:
    return quote(value, safe="")


# Signs sessions and encrypts the stored database passwords: keep it stable (changing it
# needs `superset re-encrypt-secrets`).
SECRET_KEY = _env("SUPERSET_SECRET_KEY")

SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}".format(
    user=_q(_env("SUPERSET_DB_USER", "superset")),
    password=_q(_env("SUPERSET_DB_PASSWORD")),
    host=_env("SUPERSET_DB_HOST", "postgres"),
    port=_env("SUPERSET_DB_PORT", "5432"),
    db=_env("SUPERSET_DB_NAME", "superset"),
)

# Redis db 0 is Airflow's Celery broker; Superset uses 1 (caches) and 2 (rate limits).
_REDIS = "redis://:{password}@{host}:{port}".format(
    password=_q(_env("SUPERSET_REDIS_PASSWORD")),
    host=_env("SUPERSET_REDIS_HOST", "redis"),
    port=_env("SUPERSET_REDIS_PORT", "6379"),
)
CACHE_CONFIG = {
    "CACHE_TYPE": "RedisCache",
    "CACHE_DEFAULT_TIMEOUT": 300,
    "CACHE_KEY_PREFIX": "superset_",
    "CACHE_REDIS_URL": f"{_REDIS}/1",
}
# Chart data: the reporting tables change once per publication, an hour is safe.
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "RedisCache",
    "CACHE_DEFAULT_TIMEOUT": 3600,
    "CACHE_KEY_PREFIX": "superset_data_",
    "CACHE_REDIS_URL": f"{_REDIS}/1",
}
RATELIMIT_STORAGE_URI = f"{_REDIS}/2"

# Behind a TLS-terminating reverse proxy set SUPERSET_BEHIND_PROXY=true.
ENABLE_PROXY_FIX = os.environ.get("SUPERSET_BEHIND_PROXY", "false").lower() == "true"
SESSION_COOKIE_SECURE = ENABLE_PROXY_FIX

SQLLAB_TIMEOUT = 300
SUPERSET_WEBSERVER_TIMEOUT = 300

# Russian first (the clientbase dashboards' language, CLIENTBASE_BI_LANGUAGE): without
# LANGUAGES Superset 6 serves no locale and the Russian login page renders blank.
LANGUAGES = {"ru": {"flag": "ru", "name": "Русский"}, "en": {"flag": "us", "name": "English"}}
BABEL_DEFAULT_LOCALE = os.environ.get("CLIENTBASE_BI_LANGUAGE", "ru")
