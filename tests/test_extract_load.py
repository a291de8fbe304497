"""Extraction and loading of real-world CSV exports into raw, with quarantine and reconciliation.

Each kind of broken input has its own case in the corpus of test_bad_input.py; this file
covers what spans batches: skipping known content, releases, corrections, concurrency.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from clientbase.contract import DATASETS, SHIPMENTS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from conftest import SCENARIOS

REFERENCE_LISTS = ("managers", "products", "clients", "trade_points")
HEADER = "doc_id,line_no,doc_date,client_id,point_id,sku,qty,revenue,cost,manager_id,status"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A landing folder holding the status_rules scenario's reference lists."""
    for name in REFERENCE_LISTS:
        shutil.copytree(SCENARIOS / "status_rules" / "landing" / name, tmp_path / name)
    (tmp_path / "shipments").mkdir()
    return tmp_path


def write(landing: Path, name: str, text: str, encoding: str = "utf-8", dataset: str = "shipments") -> Path:
    path = landing / dataset / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def load(url: str, landing: Path, datasets=SHIPMENTS_FLOW):
    return {r.source_name: r for r in extract_datasets(url, datasets, Sources(landing))}


def test_1c_export_cp1251_semicolon_comma_decimals(clean_warehouse, landing):
    text = (" Doc_ID ; LINE_NO ;Doc_Date; Client_ID ;Point_ID;SKU;Qty;Revenue;Cost;Manager_ID;Status\r\n"
            "Д-1;1;10.01.2023 0:00:00;A_regular;P_A_regular;S1;1,5;1 234,50;900,25;MG1;posted\r\n"
            "Д-1;2;10.01.2023;A_regular;P_A_regular;S2;-1;-10,5;;MG1;\r\n")
    write(landing, "erp_2023-01.csv", text, encoding="cp1251")
    result = load(clean_warehouse, landing)["shipments/erp_2023-01.csv"]
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", 2, 2, 0)
    with psycopg.connect(clean_warehouse) as conn:
        rows = conn.execute("select doc_id, line_no, doc_date::text, qty, revenue, cost, status "
                            "from raw.shipments order by line_no").fetchall()
        enc = conn.execute("select encoding, delimiter from audit.batches where dataset = 'shipments'").fetchone()
    assert rows == [("Д-1", 1, "2023-01-10", Decimal("1.5"), Decimal("1234.50"), Decimal("900.25"), "posted"),
                    ("Д-1", 2, "2023-01-10", Decimal("-1"), Decimal("-10.5"), None, None)]
    assert enc == ("cp1251", ";")


def test_same_content_is_skipped_and_dataset_can_be_reloaded(clean_warehouse, landing):
    write(landing, "s.csv", HEADER + "\nD1,1,2023-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted\n")
    first = load(clean_warehouse, landing)
    second = load(clean_warehouse, landing)
    assert first["shipments/s.csv"].status == "loaded"
    assert all(r.status == "skipped" for r in second.values())
    with psycopg.connect(clean_warehouse) as conn:
        assert conn.execute("select count(*) from raw.shipments").fetchone()[0] == 1


def test_unknown_reference_is_released_when_a_list_knows_it(clean_warehouse, landing):
    write(landing, "s.csv", HEADER + "\nD1,1,2023-01-10,NEWCO,P_NEW,S1,1,10,5,MG1,posted\n")
    assert load(clean_warehouse, landing)["shipments/s.csv"].rows_quarantined == 1
    write(landing, "clients_2023-02-01.csv",
          "client_id,name,tier,channel,inn,manager_id,snapshot_date\nNEWCO,New Co,key,retail,,MG1,2023-02-01\n",
          dataset="clients")
    write(landing, "points_2023-02-01.csv",
          "point_id,client_id,name,address,territory,channel,rep_id,active,snapshot_date\n"
          "P_NEW,NEWCO,New,,North,retail,RP1,да,01.02.2023\n", dataset="trade_points")
    load(clean_warehouse, landing)
    with psycopg.connect(clean_warehouse) as conn:
        assert conn.execute("select client_id, _line_no from raw.shipments").fetchall() == [("NEWCO", 2)]
        assert conn.execute("select count(*) from audit.quarantine where released_at is null").fetchone()[0] == 0
        assert conn.execute("select active from raw.trade_points where point_id = 'P_NEW'").fetchone()[0] is True


def test_a_corrected_file_supersedes_the_quarantined_rows(clean_warehouse, landing):
    """A re-export that fixes a row closes its quarantine entry; rows it does not fix stay open."""
    write(landing, "a.csv", HEADER + "\nD1,1,2023-01-10,A_regular,P_A_regular,S1,abc,10,5,MG1,posted\n"
                                     "D1,2,2023-01-10,A_regular,P_A_regular,S1,1,zz,5,MG1,posted\n"
                                     "D1,3,2023-01-10,A_regular,P_A_regular,S1,1\n")
    assert load(clean_warehouse, landing)["shipments/a.csv"].rows_quarantined == 3
    write(landing, "b.csv", HEADER + "\n D1 ,01,2023-01-10,A_regular,P_A_regular,S1,2,10,5,MG1,posted\n")
    result = load(clean_warehouse, landing)["shipments/b.csv"]
    with psycopg.connect(clean_warehouse) as conn:
        state = conn.execute("select line_no, released_in_batch from audit.quarantine "
                             "where source_name = 'shipments/a.csv' order by line_no").fetchall()
        counts = conn.execute("select rows_quarantined from audit.batches "
                              "where source_name = 'shipments/a.csv'").fetchone()
    # key D1/1 (written " D1 " / "01" in the fix) is superseded; D1/2 and the malformed line stay open
    assert state == [(2, result.batch_id), (3, None), (4, None)]
    assert counts == (3,)  # the first batch's reconciliation is history: it does not change


def test_a_later_bad_version_stays_open(clean_warehouse, landing):
    """A key loaded fine earlier does not close the quarantine of its newer, broken version."""
    write(landing, "a.csv", HEADER + "\nD1,1,2023-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted\n")
    write(landing, "b.csv", HEADER + "\nD1,1,2023-01-10,A_regular,P_A_regular,S1,oops,10,5,MG1,posted\n")
    load(clean_warehouse, landing)
    with psycopg.connect(clean_warehouse) as conn:
        assert conn.execute("select count(*) from audit.quarantine where released_at is null").fetchone()[0] == 1


def test_every_dataset_has_a_raw_table(clean_warehouse):
    with psycopg.connect(clean_warehouse) as conn:
        tables = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'")}
    assert tables == set(DATASETS)


def test_both_extractions_at_once_on_a_new_warehouse(warehouse, tmp_path):
    """Celery runs extract_shipments and extract_visits together: no deadlock, nothing twice."""
    from concurrent.futures import ThreadPoolExecutor

    from clientbase.contract import VISITS_FLOW
    from clientbase.generate import generate
    from conftest import PROJECT_SCHEMAS

    with psycopg.connect(warehouse, autocommit=True) as conn:
        for name in PROJECT_SCHEMAS:
            conn.execute(f"drop schema if exists {name} cascade")
    summary = generate(tmp_path, None, months=6, clients=30, seed=3)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(extract_datasets, warehouse, flow, Sources(tmp_path))
                   for flow in (SHIPMENTS_FLOW, VISITS_FLOW)]
        results = [r for f in futures for r in f.result()]
    loaded = [r for r in results if r.status == "loaded"]
    assert all(r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_title + r.rows_totals for r in results)
    with psycopg.connect(warehouse) as conn:
        # reference lists brought by both flows were loaded once
        dupes = conn.execute("select count(*) from (select dataset, content_sha256 from audit.batches "
                             "group by 1, 2 having count(*) > 1) d").fetchone()[0]
        visits = conn.execute("select count(*) from raw.visits").fetchone()[0]
    assert dupes == 0
    # every generated file loaded exactly once (a list both flows bring: by one, skipped by the other)
    # (the demo's workbooks are batches named file.xlsx!sheet)
    assert sorted(r.source_name.split("!")[0] for r in loaded) == sorted(
        str(p.relative_to(tmp_path)) for p in [*tmp_path.rglob("*.csv"), *tmp_path.rglob("*.xlsx")])
    assert sum(r.rows_quarantined for r in results) == 0
    assert visits == summary.row_counts["visits"]
