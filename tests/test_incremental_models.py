"""Incremental month close (issue 12): an incremental dbt series gives the tables of a full refresh.

The models keyed by month are incremental (``dbt_project/macros/incremental.sql``): with the
dbt var ``rebuild_from`` a run deletes their rows of months >= it and inserts those months
again, keeping every month before it. The identity that makes this safe is checked here on a
generated distributor loaded by the real loader into the real embedded warehouse, with real dbt:

* a close of month k after months .. k-1 were built (``rebuild_from`` = k);
* a correction of month k-6 re-sent as a new raw batch, closed again from k-6, first as the
  close of month k-6 itself (no row of a later month may stay) and then up to k;
* every line of a month cancelled by a correction, so the month's rows vanish from the
  line-level models, then rebuilt from that month;

each compared, table by table (intermediate, marts, reporting_stage), with ``--full-refresh``
on the same raw data: same row count and checksum of the ordered rows, and on a mismatch the
first rows only one side has.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest

from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW
from conftest import build_like_the_month_close, reset_warehouse

log = logging.getLogger(__name__)

END_MONTH = "2024-06"  # fixed, so the data does not depend on today's date
MONTHS = 12
MODEL_SCHEMAS = ("intermediate", "marts", "reporting_stage")
SNAPSHOT_SCHEMA = "incremental_snapshot"  # the incremental run's tables, kept for the comparison
CORRECTION_BATCH = 900_001
# incremental models of every month with data, not only the spine's (line-level)
DATA_MONTHS = ("intermediate.int_shipment_lines_posted", "intermediate.int_trade_point_orders",
               "intermediate.int_trade_point_sku_monthly", "marts.fct_trade_point_category_monthly")
# keyed by the month an invoice falls due: every invoice loaded, due in or after the reporting month too
DUE_MONTHS = ("intermediate.int_invoices_deferred",)
CANCEL_BATCH = 900_002
RECEIVABLES_BATCH = 900_003
def month_iso(month: str) -> str:
    return f"{month}-01"


def shift(month: str, months: int) -> str:
    """``YYYY-MM`` plus ``months`` months."""
    year, mon = map(int, month.split("-"))
    index = year * 12 + mon - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@pytest.fixture(scope="module")
def loaded(warehouse, tmp_path_factory) -> str:
    """A generated distributor extracted into raw; returns the warehouse URL."""
    from clientbase import tasks
    from clientbase.generate import generate

    reset_warehouse(warehouse)
    landing = tmp_path_factory.mktemp("incremental") / "landing"
    generate(landing, None, months=MONTHS, end_month=END_MONTH, clients=40, seed=12)
    params = {"landing_dir": str(landing)}
    tasks.extract(SHIPMENTS_FLOW, params)
    tasks.extract(VISITS_FLOW, params)
    return warehouse


def run(url: str, target: Path, command: str, report_month: str, rebuild_from: str | None = None,
        full_refresh: bool = False) -> None:
    """The month close's dbt build (two passes around the churn scores): ``build`` with the data
    tests, ``run`` the same without them (never unit tests)."""
    build_like_the_month_close(url, month_iso(report_month), target,
                               rebuild_from=month_iso(rebuild_from) if rebuild_from else None,
                               full_refresh=full_refresh, data_tests=command == "build")


def model_tables(url: str) -> list[str]:
    """Every table the models build (views are staging's and rebuild nothing)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1",
            (list(MODEL_SCHEMAS),)).fetchall()
    return [r[0] for r in rows]


def checksums(conn: psycopg.Connection, tables: list[str], schema_of=lambda t: t) -> dict[str, tuple[int, str]]:
    """table -> (rows, md5 of its rows as text in order): equal only for the same rows."""
    out = {}
    for table in tables:
        relation = schema_of(table)
        out[table] = conn.execute(
            f"select count(*), coalesce(md5(string_agg(r::text, E'\\n' order by r::text)), '') "
            f"from {relation} as r").fetchone()
    return out


def snapshot_name(table: str) -> str:
    return f"{SNAPSHOT_SCHEMA}.{table.replace('.', '__')}"


def keep_snapshot(url: str, tables: list[str]) -> None:
    """Copy the incremental run's tables aside before the full refresh replaces them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SNAPSHOT_SCHEMA} cascade")
        conn.execute(f"create schema {SNAPSHOT_SCHEMA}")
        for table in tables:
            conn.execute(f"create table {snapshot_name(table)} as select * from {table}")


def differences(url: str, tables: list[str]) -> list[str]:
    """The tables whose rows differ between the snapshot (incremental) and now (full refresh)."""
    problems = []
    with psycopg.connect(url) as conn:
        incremental = checksums(conn, tables, snapshot_name)
        full = checksums(conn, tables)
        for table in tables:
            if incremental[table] == full[table]:
                continue
            only_incremental = conn.execute(
                f"select r::text from (select * from {snapshot_name(table)} except all select * from {table}) as r "
                "order by 1 limit 3").fetchall()
            only_full = conn.execute(
                f"select r::text from (select * from {table} except all select * from {snapshot_name(table)}) as r "
                "order by 1 limit 3").fetchall()
            problems.append(
                f"{table}: incremental {incremental[table][0]} rows, full refresh {full[table][0]} rows"
                f"\n    only incremental: {[r[0] for r in only_incremental]}"
                f"\n    only full refresh: {[r[0] for r in only_full]}")
    return problems


def assert_identical_to_full_refresh(url: str, target: Path, report_month: str) -> None:
    tables = model_tables(url)
    assert len(tables) > 30, tables
    keep_snapshot(url, tables)
    run(url, target, "run", report_month, full_refresh=True)
    assert model_tables(url) == tables
    problems = differences(url, tables)
    assert not problems, "incremental and --full-refresh differ:\n  " + "\n  ".join(problems)


def incremental_tables(target: Path) -> dict[str, str]:
    """relation -> its month column, for every incremental model of the last run's manifest."""
    import json

    nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    out = {}
    for node in nodes:
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental":
            out[f"{node['schema']}.{node['alias']}"] = node["config"]["meta"]["month_column"]
    return out


def month_indexes(url: str) -> dict[str, list[str]]:
    """relation -> the names of its indexes that start with its month column."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select n.nspname || '.' || c.relname, a.attname, i.indexrelid::regclass::text "
            "from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace "
            "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0] "
            "where n.nspname = any(%s)", (list(MODEL_SCHEMAS),)).fetchall()
    out: dict[str, list[str]] = {}
    for relation, column, index in rows:
        out.setdefault(f"{relation}:{column}", []).append(index)
    return out


def compiled_tests(target: Path, model: str) -> dict[str, str]:
    """generic test name -> compiled SQL of the last run's tests of ``model`` (one of each)."""
    import json

    results = json.loads((target / "run_results.json").read_text())["results"]
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    out = {}
    for result in results:
        node = nodes.get(result["unique_id"], {})
        if node.get("resource_type") == "test" and (node.get("attached_node") or "").endswith(f".{model}"):
            out.setdefault(node["test_metadata"]["name"], result["compiled_code"])
    return out


def month_rows(url: str, relation: str, column: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {m.isoformat(): n for m, n in conn.execute(
            f"select {column}, count(*) from {relation} group by 1 order by 1").fetchall()}


def resend_shipments(url: str, batch: int, month: str, select_sql: str) -> int:
    """Insert a new raw batch re-sending lines of ``month`` as ``select_sql`` changes them.

    ``select_sql`` selects from ``staging.stg_shipments`` as ``s`` the raw columns; a re-sent
    line has the same key (doc_id, line_no) and a later batch, so it replaces the earlier one.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "insert into raw.shipments (doc_id, line_no, doc_date, client_id, point_id, sku, qty, revenue, "
            "cost, manager_id, status, updated_at, _batch_id, _line_no) "
            f"{select_sql} and s.shipment_month = %s",
            (batch, month_iso(month))).rowcount


def test_incremental_series_equals_full_refresh(loaded, tmp_path):
    url = loaded
    target = tmp_path / "dbt"
    k = END_MONTH
    # months .. k-1 built from scratch, then the close of month k from k
    run(url, target, "run", shift(k, -1), full_refresh=True)
    before = month_rows(url, "marts.fct_client_status_monthly", "month")
    assert max(before) == month_iso(shift(k, -1))
    run(url, target, "build", k, rebuild_from=k)
    after = month_rows(url, "marts.fct_client_status_monthly", "month")
    assert max(after) == month_iso(k)
    assert {m: n for m, n in after.items() if m < month_iso(k)} == before
    assert_identical_to_full_refresh(url, target, k)

    # a correction of month k-6 re-sent as a new batch: revenue and quantity doubled on the
    # waybills' first lines, some lines cancelled
    corrected = shift(k, -6)
    lines = resend_shipments(
        url, CORRECTION_BATCH, corrected,
        "select s.doc_id, s.line_no, s.doc_date, s.client_id, s.point_id, s.sku, s.qty * 2, s.revenue * 2, "
        "s.cost, s.document_manager_id, case when s.line_no = 2 then 'cancelled' else s.status end, "
        "s.updated_at, %s, row_number() over () from staging.stg_shipments s where s.line_no in (1, 2)")
    assert lines > 0
    # the close of month k-6 itself: every table of the spine's months ends at k-6 (no later
    # row stays); the line-level ones hold every month of data, whatever the reporting month
    run(url, target, "build", corrected, rebuild_from=corrected)
    for relation, column in incremental_tables(target).items():
        months = month_rows(url, relation, column)
        if relation in DATA_MONTHS:
            assert max(months) == month_iso(k), relation
        elif relation in DUE_MONTHS:
            assert max(months) >= month_iso(k), relation
        else:
            assert not months or max(months) <= month_iso(corrected), (relation, max(months))
    # ... and the closes after it, in one run from k-5 to k
    run(url, target, "build", k, rebuild_from=shift(corrected, 1))
    assert_identical_to_full_refresh(url, target, k)

    # every line of month k-3 cancelled: the month has no posted line any more
    emptied = shift(k, -3)
    assert month_rows(url, "intermediate.int_shipment_lines_posted", "shipment_month").get(month_iso(emptied))
    resend_shipments(
        url, CANCEL_BATCH, emptied,
        "select s.doc_id, s.line_no, s.doc_date, s.client_id, s.point_id, s.sku, s.qty, s.revenue, "
        "s.cost, s.document_manager_id, 'cancelled', "
        "s.updated_at, %s, row_number() over () from staging.stg_shipments s where true")
    run(url, target, "run", k, rebuild_from=emptied)
    for relation, column in (("intermediate.int_shipment_lines_posted", "shipment_month"),
                             ("intermediate.int_trade_point_orders", "order_month"),
                             ("intermediate.int_trade_point_sku_monthly", "month")):
        assert month_iso(emptied) not in month_rows(url, relation, column), relation
    assert_identical_to_full_refresh(url, target, k)

    # receivables corrected in month k-6: its payments re-sent halved, one of its invoices
    # cancelled, and a reversal dated in it reopening an invoice settled and due before it (the
    # close carries every client's balances of k-7 into k-6 and must add these changes exactly)
    receivables = shift(k, -6)
    with psycopg.connect(url, autocommit=True) as conn:
        halved = conn.execute(
            "insert into raw.payments (payment_id, doc_id, client_id, payment_date, amount, updated_at, "
            "_batch_id, _line_no) select p.payment_id, p.doc_id, p.client_id, p.payment_date, p.amount / 2, "
            "p.updated_at, %s, row_number() over () from staging.stg_payments p where p.payment_month = %s",
            (RECEIVABLES_BATCH, month_iso(receivables))).rowcount
        cancelled = conn.execute(
            "insert into raw.invoices (doc_id, client_id, doc_date, due_date, amount, status, updated_at, "
            "_batch_id, _line_no) select i.doc_id, i.client_id, i.doc_date, i.due_date, i.amount, 'cancelled', "
            "i.updated_at, %s, 100000 from staging.stg_invoices i where i.invoice_month = %s "
            "and i.status = 'posted' order by i.doc_id limit 1",
            (RECEIVABLES_BATCH, month_iso(receivables))).rowcount
        settled = conn.execute(
            "select d.doc_id, d.client_id, d.amount from intermediate.int_invoice_balances_monthly b "
            "join intermediate.int_invoices_deferred d using (doc_id) "
            "where b.open_amount = 0 and d.due_date < %s order by b.month desc, d.doc_id limit 1",
            (month_iso(receivables),)).fetchone()
        assert settled is not None
        conn.execute(
            "insert into raw.payments (payment_id, doc_id, client_id, payment_date, amount, _batch_id, _line_no) "
            "values ('REVERSAL', %s, %s, %s::date + 14, -%s, %s, 100001)",
            (settled[0], settled[1], month_iso(receivables), settled[2], RECEIVABLES_BATCH))
    assert halved > 0 and cancelled == 1
    run(url, target, "build", k, rebuild_from=receivables)
    with psycopg.connect(url) as conn:
        reopened = conn.execute(
            "select open_amount from intermediate.int_invoice_balances_monthly where doc_id = %s and month = %s",
            (settled[0], month_iso(receivables))).fetchone()
    assert reopened is not None and reopened[0] > 0
    assert_identical_to_full_refresh(url, target, k)


def test_a_close_indexes_the_month_and_tests_the_rebuilt_months_of_each_row(loaded, tmp_path):
    """Every incremental model has a b-tree on its month column (one, also after a
    --full-refresh); in a close from month D the tests of a row's own values read the months
    from D only, and the tests of the whole table (every month present, relationships) all."""
    url = loaded
    target = tmp_path / "dbt"
    k = END_MONTH
    run(url, target, "build", shift(k, -1), full_refresh=True)
    tables = incremental_tables(target)
    assert len(tables) > 25
    full = compiled_tests(target, "client_status_monthly")
    assert {"not_null", "unique_combination_of_columns", "has_every_month", "relationships"} <= set(full)
    assert not any(">= date" in sql for sql in full.values()), full

    run(url, target, "build", k, rebuild_from=shift(k, -2))
    rebuilt = f"month >= date '{month_iso(shift(k, -2))}'"
    close = compiled_tests(target, "client_status_monthly")
    for name in ("not_null", "unique_combination_of_columns", "accepted_values", "expression_is_true"):
        assert rebuilt in close[name], (name, close[name])
    for name in ("has_every_month", "at_least_one_row", "relationships"):
        assert ">= date" not in close[name], (name, close[name])
    orders = compiled_tests(target, "int_trade_point_orders")  # keyed by order_month
    assert f"order_month >= date '{month_iso(shift(k, -2))}'" in orders["not_null"]
    invoices = compiled_tests(target, "int_invoices_deferred")  # unique doc_id: across every month
    assert ">= date" not in invoices["unique"] and "due_month >= date" in invoices["not_null"]

    indexes = month_indexes(url)
    for relation, column in tables.items():
        found = indexes.get(f"{relation}:{column}", [])
        assert len(found) == 1, (relation, column, found)
    # a full refresh swaps in a new table: it gets its own index, and only one
    run(url, target, "run", k, full_refresh=True)
    after_refresh = month_indexes(url)
    for relation, column in tables.items():
        found = after_refresh.get(f"{relation}:{column}", [])
        assert len(found) == 1, (relation, column, found)
