"""Extraction and loading of real-world CSV exports into raw, with quarantine and reconciliation."""

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


def quarantine(url: str, source_name: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select line_no, reason_code, reason from audit.quarantine where source_name = %s order by line_no",
            (source_name,),
        ).fetchall()


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


def test_bom_crlf_and_quoted_fields_keep_line_numbers(clean_warehouse, landing):
    text = ("\ufeff" + HEADER + "\r\n"
            'D1,1,2023-01-10,A_regular,P_A_regular,S1,1,"1 000,5",1,MG1,posted\r\n'
            'D1,2,2023-01-10,A_regular,P_A_regular,S1,1,bad,1,"MG1\r\nsecond line",posted\r\n'
            "D1,3,2023-01-10,A_regular,P_A_regular,S1,1,oops,1,MG1,posted\r\n")
    write(landing, "bom.csv", text)
    result = load(clean_warehouse, landing)["shipments/bom.csv"]
    assert result.rows_read == 3
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    held = quarantine(clean_warehouse, "shipments/bom.csv")
    reasons = {line: reason for line, _, reason in held}
    # the record of line 3 spans lines 3-4 (a quoted line break): the next one starts at line 5
    assert sorted(reasons) == [3, 5]
    assert "revenue: 'bad' is not a number" in reasons[3]
    assert "revenue: 'oops' is not a number" in reasons[5]
    with psycopg.connect(clean_warehouse) as conn:
        assert conn.execute("select revenue from raw.shipments").fetchall() == [(Decimal("1000.5"),)]


BAD_ROWS = [
    ("D1,1,2023-02-30,A_regular,P_A_regular,S1,1,10,5,MG1,posted", "invalid", "doc_date: '2023-02-30' is not a date"),
    ("D1,2,2023-01-10,A_regular,P_A_regular,S1,abc,10,5,MG1,posted", "invalid", "qty: 'abc' is not a number"),
    ("D1,3,2023-01-10,,P_A_regular,S1,1,10,5,MG1,posted", "invalid", "client_id: required value is empty"),
    ("D1,4,2099-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted", "invalid", "doc_date: 2099-01-10 is outside"),
    ("D1,5,1999-12-31,A_regular,P_A_regular,S1,1,10,5,MG1,posted", "invalid", "doc_date: 1999-12-31 is outside"),
    ("D1,6,2023-01-10,NOBODY,P_A_regular,S1,1,10,5,MG1,posted", "unknown_reference",
     "client_id: 'NOBODY' is not in any clients list"),
    ("D1,7,2023-01-10,A_regular,P_NOWHERE,S1,1,10,5,MG1,posted", "unknown_reference", "point_id: 'P_NOWHERE'"),
    ("D1,8,2023-01-10,A_regular,P_A_regular,S404,1,10,5,MG1,posted", "unknown_reference", "sku: 'S404'"),
    ("D1,9,2023-01-10,A_regular,P_A_regular,S1,NaN,10,5,MG1,posted", "invalid", "qty: 'NaN' is not a number"),
    ("D1,x,2023-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted", "invalid", "line_no: 'x' is not a whole number"),
    ("D1,11,2023-01-10,A_regular,P_A_regular,S1,1,10", "malformed", "expected 11 fields as in the header, found 8"),
]


def test_bad_rows_are_quarantined_with_line_and_reason(clean_warehouse, landing):
    good = "D0,1,2023-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted"
    write(landing, "bad.csv", "\n".join([HEADER, good, *[row for row, _, _ in BAD_ROWS]]) + "\n")
    result = load(clean_warehouse, landing)["shipments/bad.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (12, 1, 11)
    held = quarantine(clean_warehouse, "shipments/bad.csv")
    assert [line for line, _, _ in held] == list(range(3, 14))
    for (line, code, reason), (_, want_code, want_text) in zip(held, BAD_ROWS):
        assert code == want_code, (line, reason)
        assert want_text in reason, (line, reason)
    with psycopg.connect(clean_warehouse) as conn:
        batch = conn.execute("select rows_read, rows_loaded, rows_quarantined from audit.batches "
                             "where source_name = 'shipments/bad.csv'").fetchone()
    assert batch == (12, 1, 11)


def test_missing_required_column_rejects_file_naming_it(clean_warehouse, landing):
    write(landing, "no_revenue.csv", "doc_id,line_no,doc_date,client_id,point_id,sku,qty\n"
                                     "D1,1,2023-01-10,A_regular,P_A_regular,S1,1\n")
    result = load(clean_warehouse, landing)["shipments/no_revenue.csv"]
    assert result.status == "rejected"
    assert "missing required column(s) revenue" in result.message
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (1, 0, 1)


def test_empty_and_header_only_files(clean_warehouse, landing):
    write(landing, "a_empty.csv", "")
    write(landing, "b_header.csv", HEADER + "\n")
    results = load(clean_warehouse, landing)
    assert results["shipments/a_empty.csv"].status == "rejected"
    assert "empty" in results["shipments/a_empty.csv"].message
    header_only = results["shipments/b_header.csv"]
    assert (header_only.status, header_only.rows_read) == ("loaded", 0)
    assert "header only" in header_only.message


def test_extra_columns_are_ignored_and_reported(clean_warehouse, landing):
    write(landing, "extra.csv", HEADER + ",warehouse_code\nD1,1,2023-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted,W7\n")
    result = load(clean_warehouse, landing)["shipments/extra.csv"]
    assert result.rows_loaded == 1
    assert result.ignored_columns == ["warehouse_code"]
    assert "ignored unknown columns: warehouse_code" in result.message


def test_unterminated_quote_on_last_line(clean_warehouse, landing):
    write(landing, "truncated.csv", HEADER + '\nD1,1,2023-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted\n'
                                             'D1,2,2023-01-10,A_regular,"P_A_reg')
    result = load(clean_warehouse, landing)["shipments/truncated.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    [(line, code, reason)] = quarantine(clean_warehouse, "shipments/truncated.csv")
    assert (line, code) == (3, "malformed")


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


def test_every_dataset_has_a_raw_table(clean_warehouse):
    with psycopg.connect(clean_warehouse) as conn:
        tables = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'")}
    assert set(DATASETS) <= tables


def test_both_extractions_at_once_on_a_new_warehouse(warehouse, tmp_path):
    """Celery runs extract_shipments and extract_visits together: no deadlock, nothing twice."""
    from concurrent.futures import ThreadPoolExecutor

    from clientbase.contract import VISITS_FLOW
    from clientbase.generate import generate

    from conftest import PROJECT_SCHEMAS

    with psycopg.connect(warehouse, autocommit=True) as conn:
        for name in PROJECT_SCHEMAS:
            conn.execute(f"drop schema if exists {name} cascade")
    generate(tmp_path, None, months=6, clients=30, seed=3)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(extract_datasets, warehouse, flow, Sources(tmp_path))
                   for flow in (SHIPMENTS_FLOW, VISITS_FLOW)]
        results = [r for f in futures for r in f.result()]
    loaded = [r for r in results if r.status == "loaded"]
    assert all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in results)
    with psycopg.connect(warehouse) as conn:
        # reference lists brought by both flows were loaded once
        dupes = conn.execute("select count(*) from (select dataset, content_sha256 from audit.batches "
                             "group by 1, 2 having count(*) > 1) d").fetchone()[0]
        visits = conn.execute("select count(*) from raw.visits").fetchone()[0]
    assert dupes == 0 and visits > 0 and loaded
