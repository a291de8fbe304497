"""Least-privilege roles for the warehouse, created and granted by the project itself.

Three roles, so that no job runs with more than it needs (names from settings.Roles):

* ``clientbase_loader`` — the extraction DAGs: reads and writes ``raw``, reads ``audit``
  and writes only its batches and quarantine. It cannot create tables anywhere, nor read
  what dbt builds.
* ``clientbase_transformer`` — dbt, the quality gate and the publisher: reads ``raw`` and
  ``audit``, owns the schemas dbt builds (staging, intermediate, marts, snapshots,
  reporting_stage), writes the gate's audit tables and the churn model's scores (``ml``, whose
  tables the owner's DDL creates), and **publishes**: it may create and
  fill tables in ``reporting`` (and ``reporting_history``). The publisher is part of the
  month close that already reads reporting_stage, so giving it a role of its own would
  add a login without removing a privilege.
* ``bi_reader`` — BI tools: SELECT on ``reporting`` only, including tables created later
  (default privileges for the tables the owner and the transformer create), read-only
  sessions, ``reporting`` first on its search path. Same name as the docker stack's role.

A role gets LOGIN and its password only from the environment (CLIENTBASE_*_PASSWORD);
a role created without one is NOLOGIN, to be granted to named users. An existing role
without a password in the environment keeps its login state (the docker init script may
manage it). Managing roles needs a superuser or CREATEROLE: with neither (the docker
stack's ``clientbase`` owner) this is a logged no-op, and every statement that is refused
is logged as a warning instead of failing the warehouse setup.

DDL (``ensure_schema``) stays with the warehouse owner; the loader and the transformer
only find the schema already at its version (they read ``audit.schema_state``), and fail
with ``SchemaNotApplied`` when it is not. The pipeline connects as them when
CLIENTBASE_LOADER_URL / CLIENTBASE_TRANSFORMER_URL are set (warehouse/connection.py).
The transformer owns the tables it publishes in ``reporting`` and ``reporting_history``
(tables made earlier by the owner are handed over here), except ``reporting.publications``,
which the owner's DDL keeps.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from clientbase.settings import Roles, load_settings
from clientbase.warehouse.schema import AUDIT, ML, RAW, REPORTING, REPORTING_HISTORY, SCHEMA_LOCK_KEY, dbt_schemas

log = logging.getLogger(__name__)

# What dbt builds (dbt_project.yml: +schema), owned by the transformer.
DBT_SCHEMAS = dbt_schemas()
# Audit tables the loads write (load/loader.py, extract/run.py); the rest of audit it only reads.
LOADER_AUDIT_TABLES = ("batches", "quarantine", "files_not_read")
# Audit tables the month close writes (quality/gate.py, orchestration/month_close_lock.py).
TRANSFORMER_AUDIT_TABLES = ("check_results", "gate_decisions", "month_close_leases", "builds")
# Tables of the published schemas that warehouse/schema.py's DDL creates: they stay the
# owner's (its `create ... if not exists` must keep working); the transformer only writes them.
# Every other table there is the publisher's, owned by the transformer.
OWNER_TABLES = {REPORTING: ("publications",)}
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def valid_identifier(name: str, what: str) -> str:
    """A role or schema name from configuration, refused unless a plain lower-case identifier.

    Quoting (sql.Identifier) already makes any name safe in SQL; refusing odd names as
    well keeps a typo such as ``"BI Reader"`` from creating a second, oddly cased role.
    """
    if not IDENTIFIER.match(name or ""):
        raise ValueError(f"{what} {name!r} is not a valid role/schema name: use lower-case letters, "
                         "digits and _ (at most 63, not starting with a digit)")
    return name


@dataclass
class RolesReport:
    """What ``ensure_roles`` did: roles created, passwords set, statements refused."""

    managed: bool = True
    creates_roles: bool = True  # False: the database owner only granting to existing roles
    created: list[str] = field(default_factory=list)
    passwords_set: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.managed:
            return "roles not managed: the current user can neither create roles nor grant for them"
        parts = [f"created {', '.join(self.created)}" if self.created
                 else "no role created" if self.creates_roles
                 else "grants applied to the existing roles (no CREATEROLE: roles and passwords are not managed here)",
                 f"password set for {', '.join(self.passwords_set)}" if self.passwords_set else ""]
        if self.refused:
            parts.append(f"{len(self.refused)} statement(s) refused")
        return "; ".join(p for p in parts if p)


class _Granter:
    """Runs each statement in its own savepoint, so one refusal is reported, not fatal."""

    def __init__(self, conn: psycopg.Connection, report: RolesReport) -> None:
        self.conn = conn
        self.report = report

    def run(self, statement: sql.Composable, what: str) -> bool:
        try:
            with self.conn.transaction():
                self.conn.execute(statement)
            return True
        except psycopg.errors.InsufficientPrivilege as exc:
            self.report.refused.append(what)
            log.warning("roles: %s refused (%s); run `clientbase roles` as a superuser to apply it",
                        what, str(exc).strip().splitlines()[0])
            return False


def _ident(*names: str) -> sql.Composable:
    if not names:
        raise ValueError("no schema to grant on: run ensure_schema first")
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _existing_schemas(conn: psycopg.Connection, names: tuple[str, ...]) -> tuple[str, ...]:
    found = {r[0] for r in conn.execute("select nspname from pg_namespace where nspname = any(%s)", (list(names),))}
    return tuple(n for n in names if n in found)


def _ensure_role(g: _Granter, name: str, password: str | None, report: RolesReport) -> bool:
    exists = g.conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone() is not None
    login = sql.SQL("login password {}").format(sql.Literal(password)) if password else sql.SQL("nologin")
    if not exists:
        try:
            with g.conn.transaction():
                g.conn.execute(sql.SQL("create role {} ").format(sql.Identifier(name)) + login)
            report.created.append(name)
            if password:
                report.passwords_set.append(name)
            return True
        except psycopg.errors.DuplicateObject:
            exists = True  # created meanwhile by a setup running on another database
        except psycopg.errors.InsufficientPrivilege as exc:
            report.refused.append(f"create role {name}")
            log.warning("roles: cannot create role %s (%s)", name, str(exc).strip().splitlines()[0])
            return False
    if password and g.run(sql.SQL("alter role {} ").format(sql.Identifier(name)) + login,
                          f"set the password of {name}"):
        report.passwords_set.append(name)
    return True


def _grant_loader(g: _Granter, loader: str) -> None:
    """raw: read and write. audit: read, and write only the load's own tables (batches,
    quarantine): a loader that could write ``audit.gate_decisions`` could forge a passing gate."""
    schemas = _existing_schemas(g.conn, (RAW, AUDIT))
    role = sql.Identifier(loader)
    g.run(sql.SQL("grant usage on schema {} to {}").format(_ident(*schemas), role), f"{loader}: usage on raw, audit")
    g.run(sql.SQL("grant select on all tables in schema {} to {}").format(_ident(*schemas), role),
          f"{loader}: read raw and audit tables")
    g.run(sql.SQL("alter default privileges in schema {} grant select on tables to {}")
          .format(_ident(*schemas), role), f"{loader}: read future raw and audit tables")
    if RAW in schemas:
        g.run(sql.SQL("grant insert, update on all tables in schema {} to {}").format(sql.Identifier(RAW), role),
              f"{loader}: write raw tables")
        g.run(sql.SQL("alter default privileges in schema {} grant insert, update on tables to {}")
              .format(sql.Identifier(RAW), role), f"{loader}: write future raw tables")
    for table in LOADER_AUDIT_TABLES:
        if g.conn.execute("select to_regclass(%s)", (f"{AUDIT}.{table}",)).fetchone()[0] is not None:
            # files_not_read holds each folder's latest survey: a file read or removed since leaves it
            privileges = "insert, update, delete" if table == "files_not_read" else "insert, update"
            g.run(sql.SQL("grant " + privileges + " on {} to {}").format(sql.Identifier(AUDIT, table), role),
                  f"{loader}: write {AUDIT}.{table}")
    g.run(sql.SQL("grant usage, select on all sequences in schema {} to {}").format(_ident(*schemas), role),
          f"{loader}: raw and audit sequences")
    g.run(sql.SQL("alter default privileges in schema {} grant usage, select on sequences to {}")
          .format(_ident(*schemas), role), f"{loader}: future raw and audit sequences")


def _own_relations(g: _Granter, schema: str, transformer: str, keep: tuple[str, ...] = ()) -> None:
    """Hand ``schema``'s tables, views and free-standing sequences (except ``keep``) to the transformer.

    Relations made before the roles existed (a warehouse first run as its owner) are the
    owner's; only an owner may drop, replace or ALTER them, which dbt and the publisher do.
    Indexes and a serial column's sequence follow their table.
    """
    relations = g.conn.execute(
        "select c.relname, case c.relkind when 'v' then 'view' when 'm' then 'materialized view' "
        "when 'S' then 'sequence' else 'table' end from pg_class c "
        "where c.relnamespace = %s::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S') "
        "and pg_get_userbyid(c.relowner) <> %s and c.relname <> all(%s) "
        "and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i'))",
        (schema, transformer, list(keep)),
    ).fetchall()
    for name, kind in relations:
        g.run(sql.SQL(f"alter {kind} {{}} owner to {{}}").format(sql.Identifier(schema, name),
                                                                 sql.Identifier(transformer)),
              f"{transformer}: own {schema}.{name}")


def _own_dbt_schemas(g: _Granter, transformer: str) -> None:
    """dbt replaces its relations (drop/rename), which only their owner may do."""
    role = sql.Identifier(transformer)
    for schema in DBT_SCHEMAS:
        g.run(sql.SQL("create schema if not exists {} authorization {}").format(sql.Identifier(schema), role),
              f"{transformer}: create schema {schema}")
        owner = g.conn.execute("select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s",
                               (schema,)).fetchone()
        if owner and owner[0] != transformer:
            g.run(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), role),
                  f"{transformer}: own schema {schema}")
        if owner:
            _own_relations(g, schema, transformer)


def _grant_transformer(g: _Granter, transformer: str) -> None:
    role = sql.Identifier(transformer)
    sources = _existing_schemas(g.conn, (RAW, AUDIT))
    g.run(sql.SQL("grant usage on schema {} to {}").format(_ident(*sources), role),
          f"{transformer}: usage on raw, audit")
    g.run(sql.SQL("grant select on all tables in schema {} to {}").format(_ident(*sources), role),
          f"{transformer}: read raw and audit")
    g.run(sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(_ident(*sources), role),
          f"{transformer}: read future raw and audit tables")
    for table in TRANSFORMER_AUDIT_TABLES:
        if g.conn.execute("select to_regclass(%s)", (f"{AUDIT}.{table}",)).fetchone()[0] is not None:
            g.run(sql.SQL("grant insert, update, delete on {} to {}").format(sql.Identifier(AUDIT, table), role),
                  f"{transformer}: write {AUDIT}.{table}")
    g.run(sql.SQL("grant usage on all sequences in schema {} to {}").format(sql.Identifier(AUDIT), role),
          f"{transformer}: audit sequences")
    if _existing_schemas(g.conn, (ML,)):
        # the churn scores: rows only (the owner's DDL makes the tables, as for audit)
        g.run(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(ML), role), f"{transformer}: usage on ml")
        g.run(sql.SQL("grant select, insert, update, delete on all tables in schema {} to {}")
              .format(sql.Identifier(ML), role), f"{transformer}: write ml tables")
        g.run(sql.SQL("alter default privileges in schema {} grant select, insert, update, delete on tables to {}")
              .format(sql.Identifier(ML), role), f"{transformer}: write future ml tables")
    _own_dbt_schemas(g, transformer)
    published = _existing_schemas(g.conn, (REPORTING, REPORTING_HISTORY))
    g.run(sql.SQL("grant usage, create on schema {} to {}").format(_ident(*published), role),
          f"{transformer}: create tables in reporting")
    dml = "select, insert, update, delete"
    g.run(sql.SQL(f"grant {dml} on all tables in schema {{}} to {{}}").format(_ident(*published), role),
          f"{transformer}: write reporting tables")
    g.run(sql.SQL("grant usage, select on all sequences in schema {} to {}").format(_ident(*published), role),
          f"{transformer}: reporting sequences")
    g.run(sql.SQL(f"alter default privileges in schema {{}} grant {dml} on tables to {{}}")
          .format(_ident(*published), role), f"{transformer}: write future reporting tables")
    g.run(sql.SQL("alter default privileges in schema {} grant usage, select on sequences to {}")
          .format(_ident(*published), role), f"{transformer}: future reporting sequences")
    # the publisher ALTERs (adds columns to) and indexes its tables: it must own them
    for schema in published:
        _own_relations(g, schema, transformer, keep=OWNER_TABLES.get(schema, ()))


def _grant_bi_reader(g: _Granter, bi_reader: str, transformer: str, transformer_exists: bool,
                     set_attributes: bool = True) -> None:
    role = sql.Identifier(bi_reader)
    reporting = sql.Identifier(REPORTING)
    g.run(sql.SQL("grant usage on schema {} to {}").format(reporting, role), f"{bi_reader}: usage on reporting")
    g.run(sql.SQL("grant select on all tables in schema {} to {}").format(reporting, role),
          f"{bi_reader}: read reporting")
    # tables created later, by whoever creates them: the owner running setup, or the publisher
    g.run(sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(reporting, role),
          f"{bi_reader}: read future reporting tables")
    if transformer_exists:
        g.run(sql.SQL("alter default privileges for role {} in schema {} grant select on tables to {}")
              .format(sql.Identifier(transformer), reporting, role),
              f"{bi_reader}: read reporting tables {transformer} creates")
    if set_attributes:  # role settings need CREATEROLE; the docker init script sets them otherwise
        g.run(sql.SQL("alter role {} set default_transaction_read_only = on").format(role), f"{bi_reader}: read-only")
        g.run(sql.SQL("alter role {} set search_path = {}").format(role, reporting), f"{bi_reader}: search_path")


def ensure_roles(conn: psycopg.Connection, roles: Roles | None = None) -> RolesReport:
    """Create the three roles if missing and (re)grant what each needs. Idempotent.

    Runs in a transaction of its own, or as a savepoint of the caller's (ensure_schema).
    """
    roles = roles or load_settings().roles
    loader = valid_identifier(roles.loader, "CLIENTBASE_LOADER_ROLE")
    transformer = valid_identifier(roles.transformer, "CLIENTBASE_TRANSFORMER_ROLE")
    bi_reader = valid_identifier(roles.bi_reader, "CLIENTBASE_BI_READER_ROLE")
    for schema in (RAW, AUDIT, ML, REPORTING, REPORTING_HISTORY, *DBT_SCHEMAS):
        valid_identifier(schema, "schema")
    report = RolesReport()
    with conn.transaction():
        superuser, createrole, db_owner = conn.execute(
            "select rolsuper, rolcreaterole, oid = (select datdba from pg_database where datname = current_database()) "
            "from pg_roles where rolname = current_user").fetchone()
        report.creates_roles = bool(superuser or createrole)
        if not (report.creates_roles or db_owner):
            report.managed = False
            log.info("roles: %s; the docker stack's init script creates its roles instead", report.summary())
            return report
        conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        g = _Granter(conn, report)
        passwords = ((loader, roles.loader_password), (transformer, roles.transformer_password),
                     (bi_reader, roles.bi_reader_password))
        if report.creates_roles:
            have = {name: _ensure_role(g, name, password, report) for name, password in passwords}
        else:
            # The database owner without CREATEROLE (the docker stack's): the init script made
            # the roles; granting on what it owns is still its job, e.g. the audit tables the
            # DDL just created, which no default privilege can single out.
            existing = {r[0] for r in conn.execute("select rolname from pg_roles where rolname = any(%s)",
                                                   ([n for n, _ in passwords],))}
            have = {name: name in existing for name, _ in passwords}
        database = sql.Identifier(conn.info.dbname)
        for name in (n for n, ok in have.items() if ok):
            privileges = "connect" if name == bi_reader else "connect, temporary"
            g.run(sql.SQL(f"grant {privileges} on database {{}} to {{}}").format(database, sql.Identifier(name)),
                  f"{name}: connect")
        if have[loader]:
            _grant_loader(g, loader)
        if have[transformer]:
            _grant_transformer(g, transformer)
        if have[bi_reader]:
            _grant_bi_reader(g, bi_reader, transformer, have[transformer], set_attributes=report.creates_roles)
    log.info("roles: %s", report.summary())
    return report
