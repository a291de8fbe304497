"""The optional datasets of issue 10 (invoices, payments, retail_audits) and the products'
``mml`` flag go through the very same load path as every other dataset.

Each test states one property of that shared path for the new datasets: type and row
rules with their messages, reconciliation, the last version winning, content-hash skip,
1C-style files, unknown references held and released, and that a landing folder without
the new folders loads exactly as before.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from clientbase.contract import DATASETS, SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from conftest import SCENARIOS

REFERENCE_LISTS = ("managers", "products", "clients", "trade_points")
INVOICES = "doc_id,client_id,doc_date,due_date,amount,status\n"
PAYMENTS = "payment_id,doc_id,client_id,payment_date,amount\n"
AUDITS = "audit_id,audit_date,point_id,rep_id,sku,present,planogram_ok\n"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A landing folder holding the status_rules scenario's reference lists only."""
    for name in REFERENCE_LISTS:
        shutil.copytree(SCENARIOS / "status_rules" / "landing" / name, tmp_path / name)
    return tmp_path


def write(landing: Path, dataset: str, name: str, text: str, encoding: str = "utf-8") -> None:
    folder = landing / dataset
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(text.encode(encoding))


def load(url: str, landing: Path, flow: tuple[str, ...]) -> dict:
    return {r.source_name: r for r in extract_datasets(url, flow, Sources(landing))}


def quarantined(conn: psycopg.Connection, dataset: str) -> list[tuple]:
    return conn.execute("select line_no, reason_code, reason, released_at is not null from audit.quarantine "
                        "where dataset = %s order by batch_id, line_no", (dataset,)).fetchall()


def test_the_new_datasets_are_in_their_flows_after_what_they_reference():
    assert SHIPMENTS_FLOW.index("invoices") < SHIPMENTS_FLOW.index("payments")
    assert "retail_audits" in VISITS_FLOW and "products" in VISITS_FLOW  # audits name SKUs
    for name in ("invoices", "payments", "retail_audits"):
        ds = DATASETS[name]
        assert ds.optional
        flow = SHIPMENTS_FLOW if ds.source == "erp" else VISITS_FLOW
        assert all(flow.index(ref.dataset) < flow.index(name) for ref in ds.references), name
    assert DATASETS["products"].column("mml").type == "bool"


def test_invoices_type_and_row_rules_quarantine_with_their_reasons(clean_warehouse, landing):
    write(landing, "invoices", "inv.csv", INVOICES
          + "I1,A_regular,2023-01-10,2023-02-09,1200.50,posted\n"   # 2 fine
          + "I2,A_regular,2023-01-10,2023-01-05,100,\n"             # 3 due before doc
          + "I3,A_regular,2023-01-10,2023-01-10,-5,\n"              # 4 negative amount
          + "I4,A_regular,2023-01-10,2023-01-20,abc,\n"             # 5 not a number
          + "I5,A_regular,2023-01-10,31.02.2023,10,\n"              # 6 due_date not a date: one message only
          + "I6,NOBODY,2023-01-10,2023-01-10,10,\n"                 # 7 unknown client
          + "I7,A_regular,2023-01-10,,10,cancelled\n")              # 8 due_date required
    result = load(clean_warehouse, landing, SHIPMENTS_FLOW)["invoices/inv.csv"]
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", 7, 1, 6)
    with psycopg.connect(clean_warehouse) as conn:
        rows = quarantined(conn, "invoices")
        loaded = conn.execute("select doc_id, doc_date::text, due_date::text, amount from raw.invoices").fetchall()
        batch = conn.execute("select rows_read, rows_loaded, rows_quarantined from audit.batches "
                             "where dataset = 'invoices'").fetchone()
    assert loaded == [("I1", "2023-01-10", "2023-02-09", Decimal("1200.50"))]
    assert batch == (7, 1, 6)
    assert [(line, code) for line, code, _, _ in rows] == [
        (3, "invalid"), (4, "invalid"), (5, "invalid"), (6, "invalid"), (7, "unknown_reference"), (8, "invalid")]
    reasons = {line: reason for line, _, reason, _ in rows}
    assert reasons[3].startswith("due_date: 2023-01-05 is before doc_date 2023-01-10 (a payment term cannot end "
                                 "before the document it is for")
    assert reasons[4].startswith("amount: -5 is negative (an invoice is what the client owes")
    assert reasons[5] == "amount: 'abc' is not a number"
    assert reasons[6] == "due_date: '31.02.2023' is not a date (YYYY-MM-DD or DD.MM.YYYY)"
    assert reasons[7].startswith("client_id: 'NOBODY' is not in any clients list received so far")
    assert reasons[8] == "due_date: required value is empty"


def test_a_payment_for_an_unknown_invoice_is_held_and_released_when_the_invoice_arrives(clean_warehouse, landing):
    write(landing, "payments", "pay_1.csv", PAYMENTS
          + "PAY1,I1,A_regular,2023-01-20,600\n"
          + "PAY1,I9,A_regular,2023-01-20,600\n"    # the same payment settles an invoice not sent yet
          + "PAY2,I1,A_regular,2023-01-25,-50\n")   # a reversal: negative is allowed on payments
    write(landing, "invoices", "inv_1.csv", INVOICES + "I1,A_regular,2023-01-10,2023-02-09,1200,\n")
    result = load(clean_warehouse, landing, SHIPMENTS_FLOW)["payments/pay_1.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    with psycopg.connect(clean_warehouse) as conn:
        [(line, code, reason, released)] = quarantined(conn, "payments")
    assert (line, code, released) == (3, "unknown_reference", False)
    assert reason == ("doc_id: 'I9' is not in any invoices list received so far "
                      "(held; released by the next load once a invoices file names it)")

    write(landing, "invoices", "inv_2.csv", INVOICES + "I9,A_regular,2023-01-15,2023-01-15,600,\n")
    load(clean_warehouse, landing, SHIPMENTS_FLOW)  # invoices load, then payments retry the held row
    load(clean_warehouse, landing, SHIPMENTS_FLOW)
    with psycopg.connect(clean_warehouse) as conn:
        [(_, _, _, released)] = quarantined(conn, "payments")
        rows = conn.execute("select payment_id, doc_id, amount, _line_no from raw.payments "
                            "order by payment_id, doc_id").fetchall()
    assert released
    assert rows == [("PAY1", "I1", Decimal("600"), 2), ("PAY1", "I9", Decimal("600"), 3),
                    ("PAY2", "I1", Decimal("-50"), 4)]


def test_audits_bool_rule_and_unknown_point_and_sku_held_then_released(clean_warehouse, landing):
    write(landing, "retail_audits", "audits.csv", AUDITS
          + "AU1,2023-01-12,P_A_regular,RP1,S1,да,нет\n"
          + "AU1,2023-01-12,P_A_regular,RP1,S2,0,\n"
          + "AU1,2023-01-12,P_A_regular,RP1,S3,maybe,\n"       # line 4: present is not a yes/no value
          + "AU2,2023-01-12,P_LATE,RP1,S1,1,1\n"               # line 5: point not in any census yet
          + "AU3,2023-01-12,P_A_regular,RP1,S_LATE,yes,\n"     # line 6: SKU not in any products list yet
          + "AU4,2023-01-12,P_A_regular,RP1,S1,,\n")           # line 7: present is required
    result = load(clean_warehouse, landing, VISITS_FLOW)["retail_audits/audits.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 2, 4)
    with psycopg.connect(clean_warehouse) as conn:
        rows = quarantined(conn, "retail_audits")
        loaded = conn.execute("select audit_id, sku, present, planogram_ok from raw.retail_audits "
                              "order by sku").fetchall()
    assert loaded == [("AU1", "S1", True, False), ("AU1", "S2", False, None)]
    assert rows == [
        (4, "invalid", "present: 'maybe' is not a yes/no value (true/false/1/0/yes/no/да/нет)", False),
        (5, "unknown_reference", "point_id: 'P_LATE' is not in any trade_points list received so far "
                                 "(held; released by the next load once a trade_points file names it)", False),
        (6, "unknown_reference", "sku: 'S_LATE' is not in any products list received so far "
                                 "(held; released by the next load once a products file names it)", False),
        (7, "invalid", "present: required value is empty", False),
    ]

    write(landing, "trade_points", "points_late.csv",
          "point_id,client_id,name,address,territory,channel,rep_id,active,snapshot_date\n"
          "P_LATE,A_regular,Late,,North,retail,RP1,true,2023-01-01\n")
    write(landing, "products", "products_late.csv", "sku,name,category,brand,mml\nS_LATE,Late,cat1,b,да\n")
    load(clean_warehouse, landing, VISITS_FLOW)  # the lists arrive (the held rows retry before them)
    load(clean_warehouse, landing, VISITS_FLOW)  # released on this run
    with psycopg.connect(clean_warehouse) as conn:
        released = [(line, done) for line, _, _, done in quarantined(conn, "retail_audits")]
        audits = conn.execute("select count(*) from raw.retail_audits").fetchone()[0]
        mml = conn.execute("select sku, mml from raw.products where sku = 'S_LATE'").fetchall()
    assert released == [(4, False), (5, True), (6, True), (7, False)]
    assert audits == 4
    assert mml == [("S_LATE", True)]


def test_1c_style_files_load_and_the_same_bytes_are_skipped(clean_warehouse, landing):
    invoices = (" DOC_ID ;Client_ID;Doc_Date;Due_Date;Amount;Status\r\n"
                "Счёт-1;A_regular;10.01.2023 0:00:00;09.02.2023;1 234,50;posted\r\n")
    write(landing, "invoices", "1c.csv", invoices, encoding="cp1251")
    write(landing, "payments", "1c.csv",
          "Payment_ID;Doc_ID;Client_ID;Payment_Date;Amount\r\nПП-7;Счёт-1;A_regular;20.01.2023;-1 000,25\r\n",
          encoding="cp1251")
    first = load(clean_warehouse, landing, SHIPMENTS_FLOW)
    assert first["invoices/1c.csv"].rows_loaded == 1 and first["payments/1c.csv"].rows_loaded == 1
    again = load(clean_warehouse, landing, SHIPMENTS_FLOW)
    assert again["invoices/1c.csv"].status == "skipped" and again["payments/1c.csv"].status == "skipped"
    with psycopg.connect(clean_warehouse) as conn:
        invoice = conn.execute("select doc_id, doc_date::text, due_date::text, amount, status from raw.invoices"
                               ).fetchall()
        payment = conn.execute("select payment_id, doc_id, amount from raw.payments").fetchall()
        batches = conn.execute("select dataset, encoding, delimiter from audit.batches "
                               "where dataset in ('invoices', 'payments') order by dataset").fetchall()
    assert invoice == [("Счёт-1", "2023-01-10", "2023-02-09", Decimal("1234.50"), "posted")]
    assert payment == [("ПП-7", "Счёт-1", Decimal("-1000.25"))]
    assert batches == [("invoices", "cp1251", ";"), ("payments", "cp1251", ";")]


def test_a_corrected_invoice_is_kept_as_a_later_version(clean_warehouse, landing):
    write(landing, "invoices", "a.csv", INVOICES + "I1,A_regular,2023-01-10,2023-01-05,100,\n")
    load(clean_warehouse, landing, SHIPMENTS_FLOW)
    write(landing, "invoices", "b.csv", INVOICES + "I1,A_regular,2023-01-10,2023-02-09,100,\n")
    write(landing, "invoices", "c.csv", INVOICES + "I1,A_regular,2023-01-10,2023-02-09,90,cancelled\n")
    load(clean_warehouse, landing, SHIPMENTS_FLOW)
    with psycopg.connect(clean_warehouse) as conn:
        [(_, _, _, superseded)] = quarantined(conn, "invoices")
        versions = conn.execute("select amount, status from raw.invoices order by _batch_id desc, _line_no desc"
                                ).fetchall()
    assert superseded  # the bad version is closed by the corrected one
    assert versions[0] == (Decimal("90"), "cancelled")  # the last loaded version comes first: staging keeps it
    assert len(versions) == 2


def test_a_landing_folder_without_the_new_datasets_loads_as_before(clean_warehouse, landing):
    shutil.copytree(SCENARIOS / "status_rules" / "landing" / "shipments", landing / "shipments")
    results = extract_datasets(clean_warehouse, SHIPMENTS_FLOW, Sources(landing))
    results += extract_datasets(clean_warehouse, VISITS_FLOW, Sources(landing))
    assert {r.dataset for r in results} == {*REFERENCE_LISTS, "shipments"}
    assert all(r.status in ("loaded", "skipped") and r.rows_quarantined == 0 for r in results), \
        [r.summary() for r in results]
    with psycopg.connect(clean_warehouse) as conn:
        rejected = conn.execute("select count(*) from audit.batches where status = 'rejected'").fetchone()[0]
        new = conn.execute("select (select count(*) from raw.invoices) + (select count(*) from raw.payments) "
                           "+ (select count(*) from raw.retail_audits)").fetchone()[0]
        mml = conn.execute("select count(*) filter (where mml is null), count(*) from raw.products").fetchone()
    assert (rejected, new) == (0, 0)
    assert mml[0] == mml[1] > 0  # a products list without the column: NULL, staging reads it as false


@pytest.fixture
def source_db(clean_warehouse: str) -> str:
    """An empty source database on the test server, beside the warehouse (SQL mode)."""
    from clientbase.warehouse.connection import with_database

    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute("drop database if exists issue10_source")
        conn.execute("create database issue10_source")
    return with_database(clean_warehouse, "issue10_source")


def test_sql_mode_reads_the_new_tables_incrementally_and_without_them_as_before(clean_warehouse, landing,
                                                                                 source_db):
    extract_datasets(clean_warehouse, REFERENCE_LISTS, Sources(landing))  # the lists, from files
    flow = ("invoices", "payments", "retail_audits")
    sources = Sources(None, erp_url=source_db, sfa_url=source_db)
    assert extract_datasets(clean_warehouse, flow, sources) == []  # no such tables: nothing, no error

    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute("create table invoices (doc_id text, client_id text, doc_date date, due_date date, "
                     "amount numeric(14, 2), status text, updated_at timestamptz)")
        conn.execute("create table payments (payment_id text, doc_id text, client_id text, payment_date date, "
                     "amount numeric(14, 2), updated_at timestamptz)")
        conn.execute("create table retail_audits (audit_id text, audit_date date, point_id text, rep_id text, "
                     "sku text, present boolean, planogram_ok boolean)")  # no updated_at: a full read
        conn.execute("insert into invoices values ('I1', 'A_regular', '2023-01-10', '2023-02-09', 1200, 'posted', "
                     "'2023-01-10 10:00+00'), ('I2', 'A_regular', '2023-01-10', '2023-01-01', 10, null, "
                     "'2023-01-10 11:00+00')")
        conn.execute("insert into payments values ('PAY1', 'I1', 'A_regular', '2023-01-20', 600, "
                     "'2023-01-20 09:00+00'), ('PAY1', 'I3', 'A_regular', '2023-01-20', 600, '2023-01-20 09:00+00')")
        conn.execute("insert into retail_audits values ('AU1', '2023-01-12', 'P_A_regular', 'RP1', 'S1', true, null)")
    first = {r.dataset: r for r in extract_datasets(clean_warehouse, flow, sources)}
    assert {n: (r.rows_read, r.rows_loaded, r.rows_quarantined) for n, r in first.items()} == {
        "invoices": (2, 1, 1), "payments": (2, 1, 1), "retail_audits": (1, 1, 0)}
    assert extract_datasets(clean_warehouse, flow, sources)[0].status == "skipped"  # unchanged audits

    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute("insert into invoices values ('I3', 'A_regular', '2023-01-15', '2023-01-15', 600, null, "
                     "'2023-01-15 08:00+00')")
    second = extract_datasets(clean_warehouse, flow, sources)
    assert [(r.dataset, r.status, r.rows_read, r.rows_loaded) for r in second] == [
        ("invoices", "loaded", 1, 1), ("retail_audits", "skipped", 0, 0)]  # only the change; audits unchanged
    with psycopg.connect(clean_warehouse) as conn:
        marks = conn.execute("select dataset, watermark from audit.batches where source_kind = 'sql' "
                             "order by batch_id").fetchall()
        held = quarantined(conn, "payments") + quarantined(conn, "invoices")
        payments = conn.execute("select doc_id from raw.payments order by doc_id").fetchall()
    assert [d for d, _ in marks] == ["invoices", "payments", "retail_audits", "invoices"]
    assert marks[0][1].startswith("2023-01-10T11:00") and marks[2][1] is None and marks[3][1].startswith("2023-01-15")
    assert payments == [("I1",), ("I3",)]  # the payment held for I3 was released once I3 arrived
    assert [(code, done) for _, code, _, done in held] == [("unknown_reference", True), ("invalid", False)]
    assert held[1][2].startswith("due_date: 2023-01-01 is before doc_date 2023-01-10")


def test_staging_keeps_the_last_version_and_normalises(clean_warehouse, landing, tmp_path):
    from clientbase.transform import dbt

    write(landing, "invoices", "a.csv", INVOICES + "I1,A_regular,2023-01-10,2023-02-09,100,\n"
          + "I2,A_regular,2023-01-11,2023-01-11,50, Posted \n")
    write(landing, "invoices", "b.csv", INVOICES + "I1,A_regular,2023-01-10,2023-02-09,90,CANCELLED\n")
    write(landing, "payments", "a.csv", PAYMENTS + "PAY1,I1,A_regular,2023-01-20,60\nPAY1,I1,A_regular,2023-01-20,70\n")
    write(landing, "retail_audits", "a.csv", AUDITS + "AU1,2023-01-12,P_A_regular,RP1,S1,yes,\n"
          + "AU1,2023-01-12,P_A_regular,RP1,S2,no,true\n")
    write(landing, "products", "z_mml.csv", "sku,name,category,brand,mml\nS2,Product 2,cat1,b,1\n")
    extract_datasets(clean_warehouse, SHIPMENTS_FLOW + ("retail_audits",), Sources(landing))
    models = ["stg_invoices", "stg_payments", "stg_retail_audits", "stg_products"]
    assert dbt.run_dbt(clean_warehouse, ["run", "--select", *models], tmp_path / "dbt") == 0
    with psycopg.connect(clean_warehouse) as conn:
        invoices = conn.execute("select doc_id, invoice_month::text, amount, status from staging.stg_invoices "
                                "order by doc_id").fetchall()
        payments = conn.execute("select payment_id, doc_id, payment_month::text, amount from staging.stg_payments"
                                ).fetchall()
        audits = conn.execute("select sku, is_present, is_planogram_ok from staging.stg_retail_audits order by sku"
                              ).fetchall()
        mml = conn.execute("select sku, is_mml from staging.stg_products order by sku").fetchall()
    assert invoices == [("I1", "2023-01-01", Decimal("90"), "cancelled"), ("I2", "2023-01-01", Decimal("50"), "posted")]
    assert payments == [("PAY1", "I1", "2023-01-01", Decimal("70"))]  # the later line of the same key wins
    assert audits == [("S1", True, False), ("S2", False, True)]
    assert mml[:3] == [("S1", False), ("S2", True), ("S3", False)]


def test_status_lists_the_new_datasets_sent_or_not(clean_warehouse, landing):
    from rich.console import Console

    from clientbase import report

    write(landing, "invoices", "inv.csv", INVOICES + "I1,A_regular,2023-01-10,2023-02-09,100,\n"
          + "I2,A_regular,2023-01-10,2023-01-01,100,\n")
    extract_datasets(clean_warehouse, SHIPMENTS_FLOW, Sources(landing))
    with psycopg.connect(clean_warehouse) as conn:
        rows = {r[0]: r[1:6] for r in report.status_rows(conn)}
        console = Console(record=True, width=200)
        report.print_status(conn, console)
    assert rows["invoices (optional)"] == (1, 0, 2, 1, 1)
    assert rows["payments (optional)"] == rows["retail_audits (optional)"] == (0, 0, 0, 0, 0)
    assert rows["products"][0] == 1 and "products (optional)" not in rows
    assert list(rows)[-3:] == ["invoices (optional)", "payments (optional)", "retail_audits (optional)"]
    out = console.export_text()
    assert "retail_audits (optional)" in out and "payments (optional)" in out


def test_held_rows_of_the_new_datasets_are_listed_under_their_own_month(clean_warehouse, landing):
    import datetime as dt

    from clientbase.load import quarantine

    write(landing, "payments", "p.csv", PAYMENTS + "PAY1,I_LATE,A_regular,2023-03-20,600\n")
    write(landing, "invoices", "i.csv", INVOICES + "I1,A_regular,2023-02-10,2023-02-01,100,\n")
    write(landing, "retail_audits", "a.csv", AUDITS + "AU1,2023-04-12,P_A_regular,RP1,S1,maybe,\n")
    extract_datasets(clean_warehouse, SHIPMENTS_FLOW + ("retail_audits",), Sources(landing))
    with psycopg.connect(clean_warehouse) as conn:
        listed = {(r.dataset, r.month, r.dated_by_row, r.reason_code)
                  for r in quarantine.list_rows(conn, None).rows}
    assert listed == {("payments", dt.date(2023, 3, 1), True, "unknown_reference"),
                      ("invoices", dt.date(2023, 2, 1), True, "invalid"),
                      ("retail_audits", dt.date(2023, 4, 1), True, "invalid")}


def test_a_warehouse_of_the_previous_version_gains_the_new_column(clean_warehouse):
    from clientbase.warehouse import schema

    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute("alter table raw.products drop column mml")  # raw.products as issue 9 created it
        conn.execute("insert into raw.products (sku, name, category, _batch_id, _line_no) "
                     "values ('OLD', 'Old', 'cat', 1, 2)")
        conn.execute("delete from audit.schema_state")  # an older DDL fingerprint
        schema.ensure_schema(conn)
        rows = conn.execute("select sku, mml from raw.products").fetchall()
    assert rows == [("OLD", None)]  # kept, the new column empty (staging: false)
