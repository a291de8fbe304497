"""The dirty month (transform/dirty.py) on a real warehouse loaded by the real loader.

Each test loads a small distributor (two clients, a shipment file per month of 2026),
records a successful build of 2026-12 as the month close does after dbt succeeded, then
drops in one change and asks what the next build must redo. dbt does not run here: the plan
is decided from the audit tables alone (tests/test_incremental_close.py runs the real thing).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import psycopg
import pytest

from clientbase.contract import SHIPMENTS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from clientbase.settings import load_settings
from clientbase.transform import dbt, dirty
from clientbase.warehouse.connection import connect

HEADER = "doc_id,line_no,doc_date,client_id,point_id,sku,qty,revenue,cost,manager_id,status"
CLIENTS_HEADER = "client_id,name,tier,channel,inn,manager_id,snapshot_date"
POINTS_HEADER = "point_id,client_id,name,address,territory,channel,rep_id,active,snapshot_date"
MONTHS = [dt.date(2026, m, 1) for m in range(1, 13)]
REPORT_MONTH = "2026-12-01"


def shipment_lines(month: dt.date) -> list[str]:
    """Two lines of one waybill per month: A buys every month, B every other month."""
    lines = [f"D{month:%Y%m},1,{month:%Y-%m}-10,A,P_A,S1,1,100,70,MG1,posted"]
    if month.month % 2:
        lines.append(f"D{month:%Y%m},2,{month:%Y-%m}-12,B,P_B,S1,2,200,140,MG1,posted")
    return lines


def write(path: Path, header: str, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def clients_list(date: str, *ids: str) -> list[str]:
    return [f"{c},{c},regular,retail,,MG1,{date}" for c in ids]


def points_list(date: str, *ids: str) -> list[str]:
    return [f"P_{c},{c},P_{c},,North,retail,RP1,true,{date}" for c in ids]


def load(url: str, landing: Path) -> None:
    extract_datasets(url, SHIPMENTS_FLOW, Sources(landing))


def plan(url: str, report_month: str = REPORT_MONTH, thresholds: dict | None = None,
         full_refresh: bool = False, settings=None) -> dirty.BuildPlan:
    with connect(url) as conn:
        return dirty.plan_build(conn, report_month, thresholds or dbt.project_vars(), full_refresh, settings)


def record(url: str, build: dirty.BuildPlan) -> None:
    with connect(url) as conn:
        dirty.record_build(conn, build, "test-run")


@pytest.fixture
def built(clean_warehouse: str, tmp_path: Path) -> tuple[str, Path]:
    """2026 loaded, and a successful build of 2026-12 recorded."""
    landing = tmp_path / "landing"
    write(landing / "managers" / "managers.csv", "manager_id,name,role,team,active",
          ["MG1,Farmer One,farmer,t1,true", "RP1,Rep One,rep,t1,true"])
    write(landing / "products" / "products.csv", "sku,name,category,brand", ["S1,Product 1,cat1,b"])
    write(landing / "clients" / "clients_2026-01-01.csv", CLIENTS_HEADER, clients_list("2026-01-01", "A", "B"))
    write(landing / "trade_points" / "points_2026-01-01.csv", POINTS_HEADER, points_list("2026-01-01", "A", "B"))
    for month in MONTHS:
        write(landing / "shipments" / f"shipments_{month:%Y-%m}.csv", HEADER, shipment_lines(month))
    load(clean_warehouse, landing)
    first = plan(clean_warehouse)
    assert first.full_refresh and "no earlier successful build" in first.describe()
    record(clean_warehouse, first)
    return clean_warehouse, landing


def test_first_build_is_a_full_refresh_and_records_the_newest_batch(built):
    url, _ = built
    with psycopg.connect(url) as conn:
        recorded = conn.execute("select report_month, full_refresh, rebuild_from, max_batch_id from audit.builds"
                                ).fetchall()
        newest = conn.execute("select max(batch_id) from audit.batches").fetchone()[0]
    assert recorded == [(dt.date(2026, 12, 1), True, None, newest)]


def test_nothing_new_rebuilds_the_report_month_alone(built):
    url, _ = built
    again = plan(url)
    assert (again.full_refresh, again.rebuild_from, again.reasons) == (False, dt.date(2026, 12, 1), [])
    assert again.dbt_rebuild_from == "2026-12-01"


def test_late_correction_of_m_minus_6_rebuilds_from_it(built):
    url, landing = built
    # June's line re-sent with another revenue
    write(landing / "shipments" / "shipments_2026-06_correction.csv", HEADER,
          ["D202606,1,2026-06-10,A,P_A,S1,1,150,70,MG1,posted"])
    load(url, landing)
    late = plan(url)
    assert (late.full_refresh, late.rebuild_from) == (False, dt.date(2026, 6, 1))
    with psycopg.connect(url) as conn:
        batch = conn.execute("select max(batch_id) from audit.batches").fetchone()[0]
    assert late.reasons == [f"shipments batch {batch} touches 2026-06"]
    assert "rebuilding from 2026-06 to 2026-12" in late.describe()


def test_a_correction_moving_a_line_dirties_the_month_it_left(built):
    url, landing = built
    # June's line re-dated to October: June loses it, so June is dirty too
    write(landing / "shipments" / "shipments_moved.csv", HEADER,
          ["D202606,1,2026-10-03,A,P_A,S1,1,100,70,MG1,posted"])
    load(url, landing)
    moved = plan(url)
    assert moved.rebuild_from == dt.date(2026, 6, 1)
    assert moved.reasons[0].endswith("touches 2026-06 … 2026-10")


def test_re_sent_identical_file_is_skipped_and_dirties_nothing(built):
    url, landing = built
    shutil.copy(landing / "shipments" / "shipments_2026-03.csv", landing / "shipments" / "again_2026-03.csv")
    load(url, landing)
    with psycopg.connect(url) as conn:
        skipped_as_new_batch = conn.execute(
            "select count(*) from audit.batches where source_name like '%again_2026-03.csv'").fetchone()[0]
    assert skipped_as_new_batch == 0
    assert plan(url).rebuild_from == dt.date(2026, 12, 1)


def test_re_sent_file_with_changed_content(built):
    url, landing = built
    # March re-exported: the same lines in another order with B's quantity corrected
    march = dt.date(2026, 3, 1)
    lines = shipment_lines(march)
    lines[1] = lines[1].replace(",2,200,140,", ",3,300,210,")
    write(landing / "shipments" / "shipments_2026-03_v2.csv", HEADER, lines[::-1])
    load(url, landing)
    assert plan(url).rebuild_from == march


def test_re_exported_rows_equal_to_their_versions_touch_nothing(built):
    url, landing = built
    # a re-export of March (other bytes: reordered) that also carries one new October line
    lines = [*shipment_lines(dt.date(2026, 3, 1))[::-1], "D202610X,1,2026-10-20,B,P_B,S1,1,50,30,MG1,posted"]
    write(landing / "shipments" / "shipments_2026-03_and_more.csv", HEADER, lines)
    load(url, landing)
    assert plan(url).rebuild_from == dt.date(2026, 10, 1)


def test_reference_list_dated_in_the_past_rebuilds_from_its_month(built):
    url, landing = built
    write(landing / "clients" / "clients_2026-04-01.csv", CLIENTS_HEADER, clients_list("2026-04-01", "A", "B"))
    load(url, landing)
    late_list = plan(url)
    assert (late_list.full_refresh, late_list.rebuild_from) == (False, dt.date(2026, 4, 1))
    assert late_list.reasons[0].startswith("clients batch")


def test_a_new_first_list_dirties_every_month(built):
    """The months before the first list use it: a list dated before it changes them all."""
    url, landing = built
    write(landing / "trade_points" / "points_2025-12-01.csv", POINTS_HEADER, points_list("2025-12-01", "A", "B"))
    load(url, landing)
    earlier = plan(url)
    assert (earlier.full_refresh, earlier.rebuild_from, earlier.dbt_rebuild_from) == (False, None, None)
    assert "dated on or before the first list" in earlier.reasons[0]


def test_a_dataset_without_dates_dirties_every_month(built):
    url, landing = built
    write(landing / "products" / "products_v2.csv", "sku,name,category,brand", ["S1,Product 1,cat2,b"])
    load(url, landing)
    products = plan(url)
    assert products.rebuild_from is None and not products.full_refresh
    assert "products" in products.reasons[0] and "every month" in products.reasons[0]


def test_the_first_rows_of_a_dataset_dirty_every_month(built):
    """Receivables are NULL in every month while no invoice was ever loaded, 0 once one is: the
    first invoices, dated in October, change January too. Later invoices touch their month."""
    url, landing = built
    header = "doc_id,client_id,doc_date,due_date,amount,status"
    write(landing / "invoices" / "invoices_2026-10.csv", header, ["I1,A,2026-10-05,2026-11-04,100,posted"])
    load(url, landing)
    first = plan(url)
    assert (first.full_refresh, first.rebuild_from) == (False, None)
    assert first.reasons[0].startswith("invoices batch") and "the first invoices rows" in first.reasons[0]
    record(url, first)
    write(landing / "invoices" / "invoices_2026-11.csv", header, ["I2,A,2026-11-05,2026-12-04,50,posted"])
    load(url, landing)
    later = plan(url)
    assert later.rebuild_from == dt.date(2026, 11, 1), later.reasons


def test_quarantine_release_dirties_the_released_rows_month(built):
    url, landing = built
    # May's line for a client no list knows yet: quarantined, the build sees nothing of it
    write(landing / "shipments" / "shipments_c.csv", HEADER, ["DC1,1,2026-05-15,C,P_A,S1,1,10,5,MG1,posted"])
    load(url, landing)
    with psycopg.connect(url) as conn:
        held = conn.execute("select count(*) from audit.quarantine where released_at is null").fetchone()[0]
    assert held == 1
    record(url, plan(url))  # the quarantining batch touched nothing: the report month alone
    # November's list names C: the row is released with its old batch id, dated May
    write(landing / "clients" / "clients_2026-11-01.csv", CLIENTS_HEADER,
          clients_list("2026-11-01", "A", "B", "C"))
    load(url, landing)
    released = plan(url)
    assert any(r == "shipments quarantine release touches 2026-05" for r in released.reasons), released.reasons
    # C is new to the lists: every listed client has a row in every month, so all of them change
    assert released.rebuild_from is None and not released.full_refresh
    assert any(r.startswith("clients batch") and "names a client_id no earlier list had" in r
               for r in released.reasons), released.reasons


def test_report_month_forward_and_back(built):
    url, _ = built
    forward = plan(url, "2027-02-01")
    assert (forward.rebuild_from, forward.reasons) == (dt.date(2027, 1, 1), ["report month moved forward from 2026-12"])
    back = plan(url, "2026-09-01")
    assert (back.rebuild_from, back.reasons) == (dt.date(2026, 9, 1), ["report month moved back from 2026-12"])


def test_changed_thresholds_force_a_full_refresh(built):
    url, _ = built
    thresholds = dbt.project_vars()
    same_value = plan(url, thresholds={**thresholds, "stt_threshold": thresholds["stt_threshold"]})
    assert not same_value.full_refresh
    changed = plan(url, thresholds={**thresholds, "stt_threshold": 0.8})
    assert changed.full_refresh and changed.dbt_rebuild_from is None
    assert "thresholds" in changed.describe()


def test_changed_project_files_force_a_full_refresh(built, tmp_path):
    url, _ = built
    settings = load_settings()
    copy = tmp_path / "project"
    shutil.copytree(settings.dbt_project_dir, copy / "dbt_project", ignore=shutil.ignore_patterns("target", "logs"))
    moved = dataclasses.replace(settings, project_root=copy)
    assert not plan(url, settings=moved).full_refresh  # the same files: the same digest
    model = copy / "dbt_project" / "models" / "marts" / "fct_client_status_monthly.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    changed = plan(url, settings=moved)
    assert changed.full_refresh and "dbt project's files changed" in changed.describe()


def test_asked_full_refresh(built):
    url, _ = built
    asked = plan(url, full_refresh=True)
    assert asked.full_refresh and asked.dbt_rebuild_from is None and "asked for" in asked.describe()


def test_a_failed_build_leaves_its_range_to_the_next(built):
    url, landing = built
    write(landing / "shipments" / "shipments_2026-06_correction.csv", HEADER,
          ["D202606,1,2026-06-10,A,P_A,S1,1,150,70,MG1,posted"])
    load(url, landing)
    with connect(url) as conn:
        dirty.start_build(conn, plan(url), "failed-run")  # dbt failed: never marked succeeded
    again = plan(url, "2027-01-01")
    assert again.rebuild_from == dt.date(2026, 6, 1) and not again.full_refresh
    assert any(r.startswith("build ") and r.endswith("failed rebuilding from 2026-06") for r in again.reasons)
    with connect(url) as conn:
        dirty.start_build(conn, plan(url, full_refresh=True), "failed-full-run")
    assert plan(url).full_refresh  # a full refresh failed half-way: tables may hold its thresholds' rows
    record(url, plan(url))
    assert plan(url).rebuild_from == dt.date(2026, 12, 1)  # succeeded since: nothing left to redo


def test_months_before_the_dirty_month_are_not_checksummed_again(built):
    """The publisher skips a month this build did not touch, once published after its last change."""
    url, landing = built
    with psycopg.connect(url) as conn:  # 2026-03 published after the first build, as the publisher does
        conn.execute("insert into reporting.publications (month, version, run_id, row_counts, content_md5, "
                     "checks_passed, checks_warned) values ('2026-03-01', 1, 'first', '{}', 'x', 1, 0)")
    write(landing / "shipments" / "shipments_2026-06_correction.csv", HEADER,
          ["D202606,1,2026-06-10,A,P_A,S1,1,150,70,MG1,posted"])
    load(url, landing)
    record(url, plan(url))  # rebuilds from 2026-06
    with connect(url) as conn:
        assert dirty.month_unchanged_since_published(conn, "test-run", "2026-03-01")
        assert not dirty.month_unchanged_since_published(conn, "test-run", "2026-04-01")  # never published
        assert not dirty.month_unchanged_since_published(conn, "test-run", "2026-06-01")  # rebuilt
        assert not dirty.month_unchanged_since_published(conn, "other-run", "2026-03-01")  # no build of its own
