"""Atomic, versioned publication of one month.

dbt builds every reporting table in ``reporting_stage``; only after the quality gate
passes does a month's slice move into ``reporting``, which BI tools read. One month is
one transaction: its rows in every reporting table are replaced together and a row is
added to ``reporting.publications``. Republishing identical content is a no-op, so reruns
change nothing; changed content becomes the month's next version, and the rows of the
version it replaces move to ``reporting_history.<table>`` (same columns plus ``version``,
``published_at``, ``replaced_at``) in the same transaction. What managers saw at any moment
is then ``reporting_history.as_of(null::reporting.<table>, <timestamp>)`` (see history.py).

Everything here is generic over the published tables, which the caller reads from the dbt
manifest (publish/contract.py): a model added to dbt's reporting folder is created in
``reporting`` and ``reporting_history`` at its first publication.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from clientbase import __version__
from clientbase.warehouse.schema import REPORTING, REPORTING_HISTORY, REPORTING_STAGE

log = logging.getLogger(__name__)

PUBLISH_LOCK = "clientbase.publish"
# What a history row adds to its reporting table's columns: which version it was, when it
# was published and when the next version replaced it.
HISTORY_COLUMNS = (("version", "int"), ("published_at", "timestamptz"), ("replaced_at", "timestamptz"))


@dataclass
class PublicationResult:
    month: str
    version: int
    changed: bool
    row_counts: dict[str, int] = field(default_factory=dict)
    replaced_version: int | None = None

    def summary(self) -> str:
        counts = ", ".join(f"{t} {n}" for t, n in self.row_counts.items())
        state = "published as version" if self.changed else "unchanged, still version"
        kept = (f"; version {self.replaced_version} kept in {REPORTING_HISTORY}"
                if self.replaced_version else "")
        return f"{self.month}: {state} {self.version} ({counts}){kept}"


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select column_name, format_type(a.atttypid, a.atttypmod) from information_schema.columns c "
        "join pg_attribute a on a.attrelid = format('%%I.%%I', c.table_schema, c.table_name)::regclass "
        " and a.attname = c.column_name "
        "where c.table_schema = %s and c.table_name = %s order by c.ordinal_position",
        (schema, table),
    ).fetchall()


def _ensure_published_table(conn: psycopg.Connection, table: str) -> list[str]:
    """Create the reporting table like its candidate, add columns the candidate gained."""
    stage_cols = _columns(conn, REPORTING_STAGE, table)
    if not stage_cols:
        raise RuntimeError(f"{REPORTING_STAGE}.{table} does not exist: run the dbt build before publishing")
    ident = sql.Identifier(REPORTING, table)
    conn.execute(sql.SQL("create table if not exists {} (like {})").format(
        ident, sql.Identifier(REPORTING_STAGE, table)))
    have = {name for name, _ in _columns(conn, REPORTING, table)}
    for name, typ in stage_cols:
        if name not in have:
            conn.execute(sql.SQL("alter table {} add column {} " + typ).format(ident, sql.Identifier(name)))
    conn.execute(sql.SQL("create index if not exists {} on {} (month)").format(
        sql.Identifier(f"{table}_month_idx"), ident))
    _ensure_history_table(conn, table, stage_cols)
    return [name for name, _ in stage_cols]


def _ensure_history_table(conn: psycopg.Connection, table: str, stage_cols: list[tuple[str, str]]) -> None:
    """``reporting_history.<table>``: the reporting columns plus HISTORY_COLUMNS, grown like the table."""
    clash = [name for name, _ in stage_cols if name in dict(HISTORY_COLUMNS)]
    if clash:
        raise RuntimeError(
            f"{REPORTING_STAGE}.{table} has column(s) {', '.join(clash)}, which {REPORTING_HISTORY}.{table} "
            "uses to record versions: rename them in the dbt model"
        )
    ident = sql.Identifier(REPORTING_HISTORY, table)
    conn.execute(sql.SQL("create table if not exists {} (like {})").format(ident, sql.Identifier(REPORTING, table)))
    have = {name for name, _ in _columns(conn, REPORTING_HISTORY, table)}
    for name, typ in [*stage_cols, *HISTORY_COLUMNS]:
        if name not in have:
            conn.execute(sql.SQL("alter table {} add column {} " + typ).format(ident, sql.Identifier(name)))
    conn.execute(sql.SQL("create index if not exists {} on {} (month, version)").format(
        sql.Identifier(f"{table}_month_version_idx"), ident))


def _content_md5(conn: psycopg.Connection, table: str, columns: list[str], month: str) -> tuple[str, int]:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    row = conn.execute(
        sql.SQL("select coalesce(md5(string_agg(r::text, E'\\n' order by r::text)), ''), count(*) "
                "from (select {} from {} where month = %s) r").format(cols, sql.Identifier(REPORTING_STAGE, table)),
        (month,),
    ).fetchone()
    return row[0], row[1]


def published_unchanged(conn: psycopg.Connection, month: str) -> PublicationResult | None:
    """The month's latest publication as an unchanged result, without reading reporting_stage.

    For a month the caller knows the build did not touch (transform/dirty.py
    ``month_unchanged_since_published``): checksumming it again would scan every published
    table for nothing, once per month of history at every close.
    """
    row = conn.execute("select version, row_counts from reporting.publications where month = %s "
                       "order by version desc limit 1", (month,)).fetchone()
    return PublicationResult(month, row[0], False, dict(row[1])) if row else None


def publish_month(conn: psycopg.Connection, month: str, run_id: str, checks_passed: int,
                  checks_warned: int, tables: Sequence[str],
                  dbt_version: str | None = None) -> PublicationResult:
    """Publish ``month`` (``YYYY-MM-01``) of every table of ``tables`` in one transaction.

    A no-op when nothing changed. ``tables`` are the published tables of the build's dbt
    manifest (each has a ``month`` column); ``dbt_version`` is the dbt that built them (from
    its run results); the pipeline version is this package's.
    """
    tables = sorted(tables)  # the content digest must not depend on the caller's order
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (PUBLISH_LOCK,))
        digest = hashlib.md5()
        counts: dict[str, int] = {}
        columns: dict[str, list[str]] = {}
        for table in tables:
            columns[table] = _ensure_published_table(conn, table)
            md5, n = _content_md5(conn, table, columns[table], month)
            digest.update(f"{table}:{md5};".encode())
            counts[table] = n
        content = digest.hexdigest()
        last = conn.execute(
            "select version, content_md5, published_at from reporting.publications where month = %s "
            "order by version desc limit 1",
            (month,),
        ).fetchone()
        if last and last[1] == content:
            result = PublicationResult(month, last[0], False, counts)
            log.info("%s", result.summary())
            return result
        for table in tables:
            ident = sql.Identifier(REPORTING, table)
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns[table])
            if last:
                # what managers saw until now; now() is this transaction's (and publication's) time
                conn.execute(
                    sql.SQL("insert into {} ({}, version, published_at, replaced_at) "
                            "select {}, %s, %s, now() from {} where month = %s").format(
                        sql.Identifier(REPORTING_HISTORY, table), cols, cols, ident),
                    (last[0], last[2], month),
                )
            conn.execute(sql.SQL("delete from {} where month = %s").format(ident), (month,))
            conn.execute(
                sql.SQL("insert into {} ({}) select {} from {} where month = %s").format(
                    ident, cols, cols, sql.Identifier(REPORTING_STAGE, table)),
                (month,),
            )
        version = (last[0] if last else 0) + 1
        conn.execute(
            "insert into reporting.publications (month, version, run_id, row_counts, content_md5, checks_passed, "
            "checks_warned, dbt_version, pipeline_version) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (month, version, run_id, psycopg.types.json.Jsonb(counts), content, checks_passed, checks_warned,
             dbt_version, __version__),
        )
    result = PublicationResult(month, version, True, counts, last[0] if last else None)
    log.info("%s", result.summary())
    return result
