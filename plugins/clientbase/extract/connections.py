"""SQL mode's source databases, as Airflow connections (``clientbase_erp``, ``clientbase_sfa``).

Why connections and not URLs in the run's params: ``dag_run.conf`` is shown by the Airflow
UI to anyone who may see runs, and stored as is, so a password there is a leak. A
connection is resolved inside the task through Airflow's own secrets chain: an
``AIRFLOW_CONN_CLIENTBASE_ERP`` environment variable (URI or JSON form), a secrets backend,
or the metadata DB (where ``clientbase run --erp-url`` writes it). The run's conf carries
at most the connection id.

``CLIENTBASE_ERP_URL`` / ``CLIENTBASE_SFA_URL`` still work: they are the source when no
connection of that id is defined anywhere (a defined connection wins).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from clientbase.settings import ERP_CONN_ID, SFA_CONN_ID

log = logging.getLogger(__name__)

CONN_IDS = {"erp": ERP_CONN_ID, "sfa": SFA_CONN_ID}
# The settings that hold each system's URL when no connection is defined.
URL_VARIABLES = {"erp": "CLIENTBASE_ERP_URL", "sfa": "CLIENTBASE_SFA_URL"}


class SourceConnectionError(ValueError):
    """A source connection that cannot be used; the message says which and how to fix it."""


@dataclass(frozen=True)
class SourceDatabase:
    """Where one system's tables are read from; the password never reaches ``repr`` or logs."""

    url: sa.URL
    origin: str  # "connection clientbase_erp" or "CLIENTBASE_ERP_URL"

    def __repr__(self) -> str:
        return f"SourceDatabase({self.describe()})"

    def describe(self) -> str:
        return f"{self.url.render_as_string(hide_password=True)} (from {self.origin})"


def url_of_connection(conn: Any) -> sa.URL:
    """The SQLAlchemy URL of an Airflow connection (SDK or ORM ``Connection``).

    Airflow stores a ``postgresql://`` URI as type ``postgres`` (SQLAlchemy's dialect is
    ``postgresql``); any other type is taken as the SQLAlchemy drivername itself
    (``postgresql+psycopg2``, ``mssql+pyodbc``, ``mysql+pymysql``, …).

    Built from the fields rather than ``get_uri()``: Airflow renders a postgres connection as
    ``postgres://``, which SQLAlchemy 2 refuses, and ``get_uri`` percent-encodes the password
    a second way. ``extra`` keys (``sslmode``, …) become URL query parameters.
    """
    conn_type = (conn.conn_type or "").strip().lower()
    if not conn_type:
        raise SourceConnectionError(
            f"Airflow connection {conn.conn_id!r} has no connection type: set it to postgres "
            "(or the SQLAlchemy dialect of the source database)")
    extra_text = conn.extra or ""
    try:
        extra = json.loads(extra_text) if extra_text.strip() else {}
    except json.JSONDecodeError as exc:
        raise SourceConnectionError(
            f"Airflow connection {conn.conn_id!r}: its extra is not JSON ({exc.msg}): fix or clear it") from None
    query = {str(k): str(v) for k, v in extra.items() if v is not None and not isinstance(v, (dict, list))}
    drivername = conn_type
    if conn_type == "postgres" or conn_type.startswith("postgres+"):
        drivername = "postgresql" + conn_type[len("postgres"):]
    return sa.URL.create(
        drivername=drivername,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=int(conn.port) if conn.port else None,
        database=conn.schema or None,
        query=query,
    )


def lookup(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id`` through Airflow's secrets chain, or None if undefined.

    Inside a task this asks the task's supervisor (environment variables, secrets backends,
    the metadata DB); outside one (a script, a test) the environment and external backends.
    Airflow reads its configuration once, when first imported: a direct call (a script, a
    test) that would import it first configures it as the CLI does, so it never falls back
    to a default SQLite metadata DB that later DAG runs in the same process would inherit.
    """
    if "airflow" not in sys.modules:
        from clientbase.orchestration import airflow_runner

        airflow_runner.configure()
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def resolve(system: str, conn_id: str | None, fallback_url: str | None) -> SourceDatabase | None:
    """The database ``system`` (``erp``/``sfa``) is read from, or None for files.

    ``conn_id`` None means files. Otherwise: the connection if Airflow has it, else the
    ``CLIENTBASE_<SYSTEM>_URL`` setting, else files (logged, so the choice is visible).
    """
    if not conn_id:
        return None
    conn = lookup(conn_id)
    if conn is not None:
        source = SourceDatabase(url_of_connection(conn), f"connection {conn_id}")
    elif fallback_url:
        source = SourceDatabase(sa.make_url(fallback_url), URL_VARIABLES[system])
    else:
        log.info("%s: no Airflow connection %s and no %s: reading its datasets from files",
                 system.upper(), conn_id, URL_VARIABLES[system])
        return None
    log.info("%s: reading from %s", system.upper(), source.describe())
    return source


def env_defines(conn_id: str) -> bool:
    """Whether ``AIRFLOW_CONN_<ID>`` is set (Airflow reads it before the metadata DB)."""
    return bool(os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"))


def store(conn_id: str, url: str) -> None:
    """Create or update the connection ``conn_id`` in Airflow's metadata DB from a database URL.

    Used by ``clientbase run --erp-url``: the URL (password included) goes where Airflow keeps
    secrets (encrypted when ``AIRFLOW__CORE__FERNET_KEY`` is set), never into a run's conf.
    Airflow must be configured (``airflow_runner.configure``) and its DB migrated.
    """
    from airflow.models.connection import Connection as StoredConnection
    from airflow.utils.session import create_session

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise SourceConnectionError(
            f"the source URL for {conn_id} is not a database URL: write "
            "postgresql://user:password@host:5432/database") from None
    fields = {
        "conn_type": "postgres" if parsed.get_backend_name() == "postgresql" and "+" not in parsed.drivername
        else parsed.drivername,
        "host": parsed.host, "login": parsed.username, "password": parsed.password,
        "port": parsed.port, "schema": parsed.database,
        "extra": json.dumps(dict(parsed.query)) if parsed.query else None,
    }
    with create_session() as session:
        existing = session.query(StoredConnection).filter(StoredConnection.conn_id == conn_id).one_or_none()
        if existing is None:
            session.add(StoredConnection(conn_id=conn_id, description="clientbase SQL-mode source", **fields))
            action = "created"
        else:
            for key, value in fields.items():
                setattr(existing, key, value)
            action = "updated"
    log.info("Airflow connection %s %s: %s", conn_id, action,
             parsed.render_as_string(hide_password=True))
