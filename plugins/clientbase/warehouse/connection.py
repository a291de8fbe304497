"""Connections to the warehouse, whichever server it is, and as which role.

Three URLs: the warehouse owner's (CLIENTBASE_WAREHOUSE_URL: schema DDL, roles, the CLI's
reports), the loader's (extraction) and the transformer's (the month close). The two role
URLs default to the owner's, so a setup without roles behaves exactly as before.
"""

from __future__ import annotations

import logging
import re
import psycopg

from clientbase.settings import Settings, load_settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10


class WarehouseUnreachable(RuntimeError):
    """The warehouse could not be reached; the message says which URL and what to check."""


def redact(url: str) -> str:
    """The URL with its password hidden, fit for logs and error messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def warehouse_url(settings: Settings | None = None) -> str:
    """The warehouse URL: CLIENTBASE_WAREHOUSE_URL, or the embedded server (started on demand)."""
    settings = settings or load_settings()
    if settings.warehouse_url:
        return settings.warehouse_url
    from clientbase.warehouse import embedded

    return embedded.ensure_running(settings.home, ("clientbase", settings.airflow_db_name))


def loader_url(settings: Settings | None = None) -> str:
    """Where extraction connects: CLIENTBASE_LOADER_URL (the ``clientbase_loader`` role), else the warehouse URL.

    A separate login means a bug or a hostile file in the loading path can write ``raw``
    and ``audit`` but never touch what BI reads. Unset, loading runs as the owner, as before.
    """
    settings = settings or load_settings()
    if settings.loader_url:
        _ensure_embedded_started(settings)
        return settings.loader_url
    return warehouse_url(settings)


def transformer_url(settings: Settings | None = None) -> str:
    """Where the month close connects (snapshot, dbt, GX, gate, publisher, month-close lock):
    CLIENTBASE_TRANSFORMER_URL (the ``clientbase_transformer`` role), else the warehouse URL.

    The transformer owns what dbt builds and publishes ``reporting`` but cannot write
    ``raw``; unset, the month close runs as the owner, as before.
    """
    settings = settings or load_settings()
    if settings.transformer_url:
        _ensure_embedded_started(settings)
        return settings.transformer_url
    return warehouse_url(settings)


def _ensure_embedded_started(settings: Settings) -> None:
    """A role URL may point at the embedded server, which only ``warehouse_url`` starts."""
    if settings.embedded:
        warehouse_url(settings)


def sqlalchemy_url(url: str, driver: str = "psycopg2") -> str:
    """``postgresql://`` -> ``postgresql+<driver>://`` (GX and Airflow use SQLAlchemy)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", f"postgresql+{driver}://", url)


def with_database(url: str, database: str) -> str:
    """The same server, another database (Airflow's metadata DB lives beside the warehouse)."""
    base, _, query = url.partition("?")
    base = re.sub(r"/[^/]*$", f"/{database}", base)
    return f"{base}?{query}" if query else base


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A connection in autocommit mode: every ``conn.transaction()`` block is a real transaction.

    (Without autocommit, a stray query would open an implicit transaction and turn every
    later ``transaction()`` into a mere savepoint, committing nothing until the end.)
    """
    url = url or warehouse_url()
    kwargs.setdefault("autocommit", True)
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, **kwargs)
    except psycopg.OperationalError as exc:
        raise WarehouseUnreachable(
            f"cannot reach the warehouse at {redact(url)}: {str(exc).strip()}\n"
            "Check that the server is up and the URL (CLIENTBASE_WAREHOUSE_URL, or "
            "CLIENTBASE_LOADER_URL / CLIENTBASE_TRANSFORMER_URL for the pipeline's roles: host, "
            "port, user, password, database) is right; unset CLIENTBASE_WAREHOUSE_URL to use "
            "the embedded PostgreSQL."
        ) from exc
