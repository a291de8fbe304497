"""Connections to the warehouse, whichever server it is, and as which role.

Three URLs: the warehouse owner's (CLIENTBASE_WAREHOUSE_URL: schema DDL, roles, the CLI's
reports), the loader's (extraction) and the transformer's (the month close). The two role
URLs default to the owner's, so a setup without roles behaves exactly as before.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from clientbase.settings import Settings, load_settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10


# The type rules parse with pg_input_is_valid(), new in PostgreSQL 16 (server_version_num).
MIN_SERVER_VERSION = 160000


class WarehouseError(RuntimeError):
    """The warehouse server cannot be used as configured. The message is ONE line: what is
    wrong, on which server (never the password), and what to run or set next; the CLI prints
    it without a traceback."""


class WarehouseUnreachable(WarehouseError):
    """No PostgreSQL answers at the configured host and port (or it refused the login)."""


class WarehouseLoginFailed(WarehouseUnreachable):
    """The server answered but refused the user (wrong password, unknown role, pg_hba.conf)."""


class WarehouseTooOld(WarehouseError):
    """The server is older than PostgreSQL 16."""


class DatabaseMissing(WarehouseError):
    """The database of the URL does not exist on the server (``ensure_database`` creates it)."""


@dataclass(frozen=True)
class Server:
    """Who connects where, for messages: host, port, user and database, never the password."""

    host: str
    port: str
    user: str
    dbname: str

    @classmethod
    def of(cls, url: str) -> Server:
        info = conninfo_to_dict(url)
        user = info.get("user") or os.environ.get("PGUSER") or getpass.getuser()
        return cls(host=info.get("host") or os.environ.get("PGHOST") or "localhost",
                   port=str(info.get("port") or os.environ.get("PGPORT") or 5432),
                   user=user, dbname=info.get("dbname") or user)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


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


def connect(url: str | None = None, *, setting: str | None = None, **kwargs) -> psycopg.Connection:
    """A connection in autocommit mode: every ``conn.transaction()`` block is a real transaction.

    (Without autocommit, a stray query would open an implicit transaction and turn every
    later ``transaction()`` into a mere savepoint, committing nothing until the end.)

    A failure to connect raises a :class:`WarehouseError` subclass whose one-line message
    names the server, the user and the variable to fix (``setting``; guessed from the URL
    when not given); a server older than PostgreSQL 16 is refused here, at connect.
    """
    url = url or warehouse_url()
    kwargs.setdefault("autocommit", True)
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, **kwargs)
    except psycopg.OperationalError as exc:
        raise connect_error(exc, url, setting or _setting_of(url)) from exc
    version = conn.info.server_version
    if version < MIN_SERVER_VERSION:
        conn.close()
        check_server_version(version, Server.of(url).where, setting or _setting_of(url))
    return conn


def server_version_text(version_num: int) -> str:
    """``server_version_num`` as people write it: 160004 -> 16.4, 90624 -> 9.6.24."""
    if version_num >= 100000:
        return f"{version_num // 10000}.{version_num % 10000}"
    return f"{version_num // 10000}.{version_num // 100 % 100}.{version_num % 100}"


def check_server_version(version_num: int, where: str, setting: str = "CLIENTBASE_WAREHOUSE_URL") -> None:
    """Refuse a server older than :data:`MIN_SERVER_VERSION` before any type rule fails on it."""
    if version_num < MIN_SERVER_VERSION:
        raise WarehouseTooOld(
            f"PostgreSQL at {where} is version {server_version_text(version_num)}: clientbase needs "
            f"{MIN_SERVER_VERSION // 10000} or newer (the type rules use pg_input_is_valid): upgrade it, "
            f"or point {setting} at a PostgreSQL {MIN_SERVER_VERSION // 10000}+ server")


def _setting_of(url: str) -> str:
    """The variable a user edits to change ``url`` (for the message that says what to fix)."""
    settings = load_settings()
    if settings.loader_url and url == settings.loader_url:
        return "CLIENTBASE_LOADER_URL"
    if settings.transformer_url and url == settings.transformer_url:
        return "CLIENTBASE_TRANSFORMER_URL"
    return "CLIENTBASE_WAREHOUSE_URL"


def connect_error(exc: psycopg.OperationalError, url: str, setting: str) -> WarehouseError:
    """One line for a failed connection attempt, from libpq's message (English server messages).

    libpq's text never contains the password; neither does what is built here.
    """
    server = Server.of(url)
    text = str(exc)
    lower = text.lower()
    if "password authentication failed" in lower or "authentication failed" in lower:
        return WarehouseLoginFailed(
            f"PostgreSQL at {server.where} refused user '{server.user}': password authentication failed: "
            f"fix the password in {setting}")
    if "no password supplied" in lower:
        return WarehouseLoginFailed(
            f"PostgreSQL at {server.where} wants a password for user '{server.user}': put it in {setting} "
            "(postgresql://user:password@host:port/database)")
    match = re.search(r'database "([^"]+)" does not exist', text)
    if match:
        return DatabaseMissing(
            f"the database '{match[1]}' does not exist on {server.where}: create it "
            f"(createdb -h {server.host} -p {server.port} -O {server.user} {match[1]}) or fix {setting}")
    match = re.search(r'role "([^"]+)" does not exist', text)
    if match:
        return WarehouseLoginFailed(
            f"PostgreSQL at {server.where} has no role '{match[1]}': create it as a superuser "
            f"(createuser -h {server.host} -p {server.port} -P {match[1]}) or fix the user in {setting}")
    if "no pg_hba.conf entry" in lower:
        return WarehouseLoginFailed(
            f"PostgreSQL at {server.where} does not let user '{server.user}' connect from this machine "
            f"(no pg_hba.conf entry): add a host line for it to pg_hba.conf and reload, or fix {setting}")
    for needle, reason in (("connection refused", "connection refused"),
                           ("timeout expired", f"no answer within {CONNECT_TIMEOUT_S} s"),
                           ("could not translate host name", "unknown host"),
                           ("no route to host", "no route to host"),
                           ("network is unreachable", "network unreachable")):
        if needle in lower:
            return WarehouseUnreachable(
                f"cannot reach PostgreSQL at {server.where} ({reason}): start the server, or fix the host "
                f"and port in {setting}")
    first = " ".join(text.split())[:300]
    return WarehouseUnreachable(
        f"cannot connect to PostgreSQL at {server.where} as '{server.user}' ({first}): check {setting}")


def ensure_database(url: str, setting: str, alternative: str) -> bool:
    """Create the database of ``url`` on its server if it is missing and the role may.

    Returns whether it was created. A role without CREATEDB gets one line saying what a
    superuser runs, or ``alternative`` (another way out, e.g. an existing database).
    """
    try:
        connect(url, setting=setting).close()
        return False
    except DatabaseMissing:
        pass
    server = Server.of(url)
    maintenance = None
    for candidate in ("postgres", "template1"):
        try:
            maintenance = connect(with_database(url, candidate), setting=setting)
            break
        except DatabaseMissing:
            continue
    if maintenance is None:
        raise DatabaseMissing(f"the server at {server.where} has neither a 'postgres' nor a 'template1' "
                              f"database to connect to for creating '{server.dbname}': {alternative}")
    with maintenance:
        try:
            maintenance.execute(sql.SQL("create database {}").format(sql.Identifier(server.dbname)))
        except psycopg.errors.InsufficientPrivilege:
            raise DatabaseMissing(
                f"the role '{server.user}' may not create the database '{server.dbname}': run as a superuser: "
                f"createdb -h {server.host} -p {server.port} -O {server.user} {server.dbname}, "
                f"or {alternative}") from None
        except psycopg.errors.DuplicateDatabase:
            return False  # created meanwhile by a concurrent first run
    log.info("created the database %s on %s (owner %s)", server.dbname, server.where, server.user)
    return True


def prepare_server(url: str, metadata_db: str | None) -> None:
    """A first run on the user's own server: create what is missing where the role may.

    The warehouse database and its schemas, and Airflow's metadata database
    ``metadata_db`` beside it (None when AIRFLOW__DATABASE__SQL_ALCHEMY_CONN names its own).
    Whatever the role may not create stops here with one line saying what to run, before
    ``airflow db migrate`` could fail in a 60-line traceback.
    """
    from clientbase.warehouse import schema

    ensure_database(url, "CLIENTBASE_WAREHOUSE_URL",
                    "point CLIENTBASE_WAREHOUSE_URL at an existing database the role may create schemas in")
    server = Server.of(url)
    with connect(url) as conn:
        missing = conn.execute("select not exists (select 1 from pg_namespace where nspname = 'audit') "
                               "and not has_database_privilege(current_database(), 'CREATE')").fetchone()[0]
        if missing:
            raise WarehouseError(
                f"the role '{server.user}' may not create schemas in the database '{server.dbname}': run as a "
                f"superuser: psql -h {server.host} -p {server.port} -d {server.dbname} -c "
                f"'grant create on database \"{server.dbname}\" to \"{server.user}\"', or point "
                f"CLIENTBASE_WAREHOUSE_URL at a database the role owns (createdb -O {server.user} clientbase)")
        schema.ensure_schema(conn)
    if metadata_db:
        ensure_database(with_database(url, metadata_db), "CLIENTBASE_AIRFLOW_DB",
                        "set AIRFLOW__DATABASE__SQL_ALCHEMY_CONN to an existing database")
