"""What managers saw: the published reporting tables as of any moment.

``reporting`` holds each month's current version only; when a month is republished, the
publisher moves the replaced rows to ``reporting_history.<table>`` with ``version``,
``published_at`` and ``replaced_at``. Two SQL functions (created by warehouse/schema.py)
put the two together, so a BI tool or psql can ask without Python:

    select * from reporting_history.as_of(null::reporting.client_status_monthly, '2025-01-15 09:00+00');
    select month, version, published_at from reporting_history.publications_as_of('2025-01-15 09:00+00');

These helpers are the same queries for Python callers (tests, reports).
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from clientbase.publish.contract import project_published_tables
from clientbase.warehouse.schema import REPORTING, REPORTING_HISTORY


def rows_as_of(conn: psycopg.Connection, table: str, at: dt.datetime) -> list[dict]:
    """The rows ``reporting.<table>`` showed at ``at`` (every month published by then)."""
    published = project_published_tables()
    if table not in published:
        raise ValueError(f"{table!r} is not a published table; choose one of {', '.join(published)}")
    query = sql.SQL("select * from {}.as_of(null::{}, %s)").format(
        sql.Identifier(REPORTING_HISTORY), sql.Identifier(REPORTING, table))
    return conn.cursor(row_factory=dict_row).execute(query, (at,)).fetchall()


def versions_as_of(conn: psycopg.Connection, at: dt.datetime) -> dict[str, int]:
    """Which version of each month (``YYYY-MM-01``) was the published one at ``at``."""
    rows = conn.execute(
        sql.SQL("select month::text, version from {}.publications_as_of(%s) order by month").format(
            sql.Identifier(REPORTING_HISTORY)),
        (at,),
    ).fetchall()
    return dict(rows)
