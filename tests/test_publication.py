"""The publisher on a real PostgreSQL: versions, history, "as of", atomicity.

dbt is not needed to test publication: each published table gets a small hand-made
candidate in ``reporting_stage`` (the publisher mirrors whatever columns it has), so these
tests follow the published tables of the dbt project as they grow.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from psycopg import sql

from clientbase.publish import history
from clientbase.publish.publisher import publish_month
from conftest import PUBLISHED_TABLES, reset_warehouse

JAN, FEB = "2024-01-01", "2024-02-01"


def drop_history(url: str) -> None:
    """reporting_history outlives conftest's reset (it lists the schemas it drops)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists reporting_history cascade")


@pytest.fixture
def url(warehouse: str) -> str:
    drop_history(warehouse)
    reset_warehouse(warehouse)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("create schema if not exists reporting_stage")
        for table in PUBLISHED_TABLES:
            conn.execute(sql.SQL("create table {} (month date not null, client_id text, amount numeric)")
                         .format(sql.Identifier("reporting_stage", table)))
    return warehouse


def stage(conn: psycopg.Connection, month: str, rows: list[tuple[str, float]]) -> None:
    """Replace ``month`` in every candidate table with ``rows`` (client_id, amount)."""
    for table in PUBLISHED_TABLES:
        ident = sql.Identifier("reporting_stage", table)
        conn.execute(sql.SQL("delete from {} where month = %s").format(ident), (month,))
        for client, amount in rows:
            conn.execute(sql.SQL("insert into {} (month, client_id, amount) values (%s, %s, %s)").format(ident),
                         (month, client, amount))


def published(conn: psycopg.Connection, table: str, month: str) -> list[tuple]:
    return conn.execute(sql.SQL("select client_id, amount::float8 from {} where month = %s order by 1")
                        .format(sql.Identifier("reporting", table)), (month,)).fetchall()


def publication(conn: psycopg.Connection, month: str, version: int) -> tuple:
    return conn.execute("select published_at, row_counts, checks_passed, checks_warned, dbt_version, "
                        "pipeline_version, run_id from reporting.publications where month = %s and version = %s",
                        (month, version)).fetchone()


def as_of(conn: psycopg.Connection, table: str, at: dt.datetime) -> list[tuple]:
    return sorted((r["month"].isoformat(), r["client_id"], float(r["amount"]))
                  for r in history.rows_as_of(conn, table, at))


def test_first_publication_records_counts_checks_and_versions(url):
    with psycopg.connect(url, autocommit=True) as conn:
        stage(conn, JAN, [("A", 10), ("B", 20)])
        result = publish_month(conn, JAN, "run-1", 40, 2, PUBLISHED_TABLES, "1.11.16")
        assert (result.version, result.changed, result.replaced_version) == (1, True, None)
        _, counts, passed, warned, dbt_version, pipeline_version, run_id = publication(conn, JAN, 1)
    assert counts == {table: 2 for table in PUBLISHED_TABLES}
    assert (passed, warned, dbt_version, run_id) == (40, 2, "1.11.16", "run-1")
    from clientbase import __version__

    assert pipeline_version == __version__


def test_identical_content_is_not_a_new_version(url):
    with psycopg.connect(url, autocommit=True) as conn:
        stage(conn, JAN, [("A", 10)])
        publish_month(conn, JAN, "run-1", 1, 0, PUBLISHED_TABLES)
        again = publish_month(conn, JAN, "run-2", 1, 0, PUBLISHED_TABLES)
        versions = conn.execute("select count(*) from reporting.publications").fetchone()[0]
        kept = conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier("reporting_history", PUBLISHED_TABLES[0]))).fetchone()[0]
    assert (again.version, again.changed) == (1, False)
    assert versions == 1 and kept == 0


def test_republication_keeps_the_replaced_version_in_history(url):
    with psycopg.connect(url, autocommit=True) as conn:
        stage(conn, JAN, [("A", 10), ("B", 20)])
        stage(conn, FEB, [("A", 11)])
        publish_month(conn, JAN, "run-1", 1, 0, PUBLISHED_TABLES)
        publish_month(conn, FEB, "run-1", 1, 0, PUBLISHED_TABLES)
        stage(conn, JAN, [("A", 10), ("B", 25), ("C", 5)])  # a late correction and a new client
        result = publish_month(conn, JAN, "run-2", 1, 0, PUBLISHED_TABLES)
        v1_at, v2_at = publication(conn, JAN, 1)[0], publication(conn, JAN, 2)[0]
        feb_at = publication(conn, FEB, 1)[0]
        for table in PUBLISHED_TABLES:
            assert published(conn, table, JAN) == [("A", 10.0), ("B", 25.0), ("C", 5.0)], table
            kept = conn.execute(sql.SQL(
                "select client_id, amount::float8, version, published_at, replaced_at from {} "
                "where month = %s order by 1").format(sql.Identifier("reporting_history", table)), (JAN,)).fetchall()
            assert kept == [("A", 10.0, 1, v1_at, v2_at), ("B", 20.0, 1, v1_at, v2_at)], table
        assert (result.version, result.replaced_version) == (2, 1)
        assert "version 1 kept in reporting_history" in result.summary()

        table = PUBLISHED_TABLES[0]
        tick = dt.timedelta(microseconds=1)
        assert as_of(conn, table, v1_at - tick) == []
        assert as_of(conn, table, v1_at) == [(JAN, "A", 10.0), (JAN, "B", 20.0)]
        assert as_of(conn, table, v2_at - tick) == [(JAN, "A", 10.0), (JAN, "B", 20.0), (FEB, "A", 11.0)]
        assert as_of(conn, table, v2_at) == [(JAN, "A", 10.0), (JAN, "B", 25.0), (JAN, "C", 5.0), (FEB, "A", 11.0)]
        assert history.versions_as_of(conn, feb_at) == {JAN: 1, FEB: 1}
        assert history.versions_as_of(conn, v2_at) == {JAN: 2, FEB: 1}


def test_as_of_is_plain_sql_and_refuses_other_tables(url):
    with psycopg.connect(url, autocommit=True) as conn:
        stage(conn, JAN, [("A", 10)])
        publish_month(conn, JAN, "run-1", 1, 0, PUBLISHED_TABLES)
        table = PUBLISHED_TABLES[-1]
        rows = conn.execute(sql.SQL("select client_id from reporting_history.as_of(null::{}, now())").format(
            sql.Identifier("reporting", table))).fetchall()
        assert rows == [("A",)]
        with pytest.raises(psycopg.errors.RaiseException, match="is not a reporting table"):
            conn.execute("select * from reporting_history.as_of(null::audit.batches, now())")
    with psycopg.connect(url) as conn, pytest.raises(ValueError, match="not a published table"):
        history.rows_as_of(conn, "batches", dt.datetime.now(dt.UTC))


def test_a_column_the_model_gains_reaches_reporting_and_history(url):
    table = PUBLISHED_TABLES[0]
    with psycopg.connect(url, autocommit=True) as conn:
        stage(conn, JAN, [("A", 10)])
        publish_month(conn, JAN, "run-1", 1, 0, PUBLISHED_TABLES)
        conn.execute(sql.SQL("alter table {} add column segment text default 'retail'").format(
            sql.Identifier("reporting_stage", table)))
        result = publish_month(conn, JAN, "run-2", 1, 0, PUBLISHED_TABLES)
        current = conn.execute(sql.SQL("select client_id, segment from {}").format(
            sql.Identifier("reporting", table))).fetchall()
        kept = conn.execute(sql.SQL("select client_id, segment, version from {}").format(
            sql.Identifier("reporting_history", table))).fetchall()
    assert result.version == 2
    assert current == [("A", "retail")]
    assert kept == [("A", None, 1)]  # version 1 had no segment


def test_a_failure_half_way_publishes_nothing(url):
    """The last table refuses the new rows: the tables before it, history and publications roll back."""
    last = PUBLISHED_TABLES[-1]
    with psycopg.connect(url, autocommit=True) as conn:
        stage(conn, JAN, [("A", 10)])
        publish_month(conn, JAN, "run-1", 1, 0, PUBLISHED_TABLES)
        conn.execute(sql.SQL("alter table {} add constraint no_negative check (amount >= 0)").format(
            sql.Identifier("reporting", last)))
        stage(conn, JAN, [("A", -1)])
        with pytest.raises(psycopg.errors.CheckViolation):
            publish_month(conn, JAN, "run-2", 1, 0, PUBLISHED_TABLES)
        for table in PUBLISHED_TABLES:
            assert published(conn, table, JAN) == [("A", 10.0)], table
            assert conn.execute(sql.SQL("select count(*) from {}").format(
                sql.Identifier("reporting_history", table))).fetchone()[0] == 0, table
        assert conn.execute("select max(version) from reporting.publications").fetchone()[0] == 1
