"""An incremental month close publishes what a full refresh publishes (issue 12).

A generated distributor is closed up to the month before its last; then, one change at a
time — the last month's files, a late correction of M-6, a reference list dated in the past,
a re-sent file with one changed line — the month close runs incrementally (``clientbase
run``), every table dbt built (intermediate, marts, reporting_stage) and every published
``reporting`` table (publications included) is checksummed, and the same close runs again
with ``--full-refresh``: the checksums must be equal, and the full refresh must publish
nothing new. Each incremental build must also have been planned as one (``audit.builds``:
not a full refresh, from the expected month), so the comparison cannot pass by rebuilding
everything every time.

Order matters inside this module: each test adds its change to the same landing folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import psycopg
import pytest

from clientbase import cli
from clientbase.contract import CLIENTS, SHIPMENTS
from clientbase.warehouse.schema import dbt_schemas
from conftest import reset_warehouse
from test_pipeline import drop_history, reporting_fingerprint


def month_add(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def built_tables(url: str) -> dict[str, str]:
    """Row count and content digest of every table dbt builds (views are left out: they hold no rows)."""
    out = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2",
            (list(dbt_schemas()),)).fetchall()
        for schema, table in tables:
            out[f"{schema}.{table}"] = conn.execute(
                f'select count(*) || \':\' || coalesce(md5(string_agg(t::text, \'|\' order by t::text)), \'\') '
                f'from "{schema}"."{table}" t').fetchone()[0]
    assert len(out) > 20, out  # the intermediate, mart and reporting tables, not an empty schema
    return out


def last_build(url: str) -> tuple[bool, dt.date | None, list[str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("select full_refresh, rebuild_from, reasons from audit.builds "
                            "order by build_id desc limit 1").fetchone()


def scoped_checks(url: str) -> set[str]:
    """The rows the last build's run's GX shipment checks read, e.g. ``{"shipment_month >= date '…'"}``."""
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "select coalesce(details->>'rows', 'all') from audit.check_results "
            "where suite = 'shipments' and run_id = (select run_id from audit.builds order by build_id desc limit 1)")}


def run(landing: Path, *extra: str) -> None:
    assert cli.main(["run", "--landing", str(landing), *extra]) == 0


def write_rows(path: Path, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else v.isoformat() if isinstance(v, dt.date) else v for v in row])


def current_rows(url: str, dataset: str, columns: tuple[str, ...], key: tuple[str, ...], where: str) -> list[tuple]:
    """The version in force of each key (last loaded wins) of raw rows matching ``where``."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select {', '.join(columns)} from (select distinct on ({', '.join(key)}) * from raw.{dataset} "
            f"order by {', '.join(key)}, _batch_id desc, _line_no desc) r where {where} "
            f"order by {', '.join(key)}").fetchall()


def assert_same_as_full_refresh(url: str, landing: Path, rebuild_from: dt.date) -> None:
    """The incremental close just run equals a full refresh of the same data."""
    full_refresh, planned_from, reasons = last_build(url)
    assert (full_refresh, planned_from) == (False, rebuild_from), reasons
    # the checks of the month-dated suites read the dirty months only, "not empty" included
    assert scoped_checks(url) == {f"shipment_month >= date '{rebuild_from}'"}
    incremental = built_tables(url), reporting_fingerprint(url)
    run(landing, "--full-refresh")
    assert last_build(url)[0] is True
    assert scoped_checks(url) == {"all"}
    full = built_tables(url), reporting_fingerprint(url)
    differ = sorted(t for part in (0, 1) for t in full[part] if full[part][t] != incremental[part].get(t))
    assert not differ, f"incremental and full refresh differ in {differ}"


@pytest.fixture(scope="module")
def distributor(airflow_ready, tmp_path_factory) -> tuple[str, Path, Path, dt.date]:
    """A 12-month distributor closed up to its last month but one (the first build: a full one)."""
    from clientbase.generate import generate

    url = airflow_ready
    drop_history(url)
    reset_warehouse(url)
    root = tmp_path_factory.mktemp("incremental")
    landing, held_back = root / "landing", root / "held_back"
    summary = generate(landing, None, months=12, clients=40, seed=11)
    last = dt.date.fromisoformat(summary.last_month + "-01")
    for path in landing.rglob(f"*{last:%Y-%m}*"):
        target = held_back / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    run(landing)
    assert last_build(url)[0] is True  # no earlier build: a full refresh
    return url, landing, held_back, last


def test_next_month_closes_from_that_month(distributor):
    """The last month's files, without the generator's corrections file (which re-sends earlier lines)."""
    url, landing, held_back, last = distributor
    shutil.copytree(held_back, landing, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*corrections*"))
    run(landing)
    assert_same_as_full_refresh(url, landing, last)


def test_late_correction_of_m_minus_6(distributor):
    """Our correction of M-6 (a price, a date moved to M-5) and the generator's corrections of later months."""
    url, landing, held_back, last = distributor
    shutil.copytree(held_back, landing, dirs_exist_ok=True)
    m6, m5 = month_add(last, -6), month_add(last, -5)
    posted = f"coalesce(status, 'posted') = 'posted' and doc_date >= '{m6}' and doc_date < '{m5}'"
    lines = current_rows(url, "shipments", SHIPMENTS.column_names, SHIPMENTS.key, posted)[:2]
    assert len(lines) == 2
    cols = SHIPMENTS.column_names
    revenue, doc_date = cols.index("revenue"), cols.index("doc_date")
    changed = list(lines[0])
    changed[revenue] = changed[revenue] * 3  # a price corrected
    moved = list(lines[1])
    moved[doc_date] = moved[doc_date] + dt.timedelta(days=31)  # a waybill re-dated into M-5
    write_rows(landing / "shipments" / f"shipments_{m6:%Y-%m}_late_correction.csv", cols, [changed, moved])
    run(landing)
    assert_same_as_full_refresh(url, landing, m6)


def test_late_reference_list(distributor):
    url, landing, _, last = distributor
    m5 = month_add(last, -5)
    list_date = m5 + dt.timedelta(days=14)
    in_force = current_rows(url, "clients", CLIENTS.column_names, CLIENTS.key,
                            f"snapshot_date = (select max(snapshot_date) from raw.clients "
                            f"where snapshot_date <= '{list_date}')")
    cols = CLIENTS.column_names
    owner, date = cols.index("manager_id"), cols.index("snapshot_date")
    owners = sorted({r[owner] for r in in_force})
    assert len(owners) > 1
    rows = []
    for i, row in enumerate(in_force):
        row = list(row)
        row[date] = list_date
        if i % 4 == 0:  # a quarter of the clients change hands mid-period
            row[owner] = owners[(owners.index(row[owner]) + 1) % len(owners)]
        rows.append(row)
    write_rows(landing / "clients" / f"clients_{list_date}.csv", cols, rows)
    run(landing)
    assert_same_as_full_refresh(url, landing, m5)


def test_re_sent_file_with_one_changed_line(distributor):
    url, landing, _, last = distributor
    m3, m2 = month_add(last, -3), month_add(last, -2)
    cols = SHIPMENTS.column_names
    lines = [list(r) for r in current_rows(url, "shipments", cols, SHIPMENTS.key,
                                           f"doc_date >= '{m3}' and doc_date < '{m2}'")]
    qty = cols.index("qty")
    lines[len(lines) // 2][qty] += 1
    # the whole month re-exported: every other line equal to the version loaded, so only M-3 is dirty
    write_rows(landing / "shipments" / f"shipments_{m3:%Y-%m}_resent.csv", cols, lines)
    run(landing)
    assert_same_as_full_refresh(url, landing, m3)
