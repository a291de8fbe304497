"""Exports as people send them: Excel workbooks, zip archives, and files that are not read.

Every file dropped into the landing folder is either loaded (its batch in audit.batches) or
listed as not read with its reason (audit.files_not_read, `clientbase status`, the run
summary); nothing is passed over in silence.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from openpyxl import Workbook

from clientbase import cli
from clientbase.contract import SHIPMENTS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from conftest import PUBLISHED_TABLES, SCENARIOS

REFERENCE_LISTS = ("managers", "products", "clients", "trade_points")
HEADER = ["doc_id", "line_no", "doc_date", "client_id", "point_id", "sku", "qty", "revenue", "cost",
          "manager_id", "status"]
ROW = "D1,1,2023-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,posted"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    for name in REFERENCE_LISTS:
        shutil.copytree(SCENARIOS / "status_rules" / "landing" / name, tmp_path / name)
    (tmp_path / "shipments").mkdir()
    return tmp_path


def load(url: str, landing: Path):
    return {r.source_name: r for r in extract_datasets(url, SHIPMENTS_FLOW, Sources(landing))}


def not_read(url: str) -> dict[str, tuple[str | None, str, str]]:
    with psycopg.connect(url) as conn:
        return {p: (d, c, r) for p, d, c, r in conn.execute(
            "select path, dataset, reason_code, reason from audit.files_not_read order by path")}


def write_1c_workbook(path: Path, header: list[str], rows: list[list], *, sheet: str = "Лист1",
                      title: str = "Отгрузки", period: str = "Период: 01.01.2023 - 31.01.2023",
                      totals: list | None = None) -> Path:
    """A workbook as 1C's "Сохранить как…" writes a report: title, period line, an empty row,
    the header, the rows (typed cells), and a totals row."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append([period])
    ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(row)
    if totals is not None:
        ws.append(totals)
    wb.save(path)
    return path


def typed_rows(csv_path: Path) -> tuple[list[str], list[list]]:
    """A CSV's rows with the cell types Excel would hold: dates as dates, numbers as numbers."""
    with open(csv_path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = []
        for fields in reader:
            row: list = []
            for name, value in zip(header, fields, strict=True):
                if value == "":
                    row.append(None)
                elif name.endswith("_date") or name == "snapshot_date":
                    row.append(dt.date.fromisoformat(value))
                elif name in ("line_no",):
                    row.append(int(value))
                elif name in ("qty", "revenue", "cost"):
                    row.append(float(value))
                else:
                    row.append(value)
            rows.append(row)
    return header, rows


# --- nothing skipped in silence ------------------------------------------------------------

def test_files_that_are_not_read_are_listed_with_their_reason(clean_warehouse, landing, capsys):
    (landing / "shipments" / "s.csv").write_text(",".join(HEADER) + "\n" + ROW + "\n")
    (landing / "shipments" / "notes.txt").write_text("call the client")
    (landing / "shipments" / "~$shipments_2023-01.xlsx").write_bytes(b"\x00lock")
    (landing / "shipments" / "old").mkdir()
    (landing / "shipment").mkdir()
    (landing / "Отгрузки").mkdir()
    (landing / "readme.pdf").write_bytes(b"%PDF-1.4")
    results = load(clean_warehouse, landing)
    assert results["shipments/s.csv"].rows_loaded == 1
    found = not_read(clean_warehouse)
    assert found == {
        "Отгрузки/": (None, "unknown_folder",
                      "not read: Отгрузки/ is not a dataset folder; did you mean shipments/? "
                      "rename the folder to shipments"),
        "readme.pdf": (None, "loose_file",
                       "not read: a file directly in the landing folder; put it in the folder of its dataset "
                       "(<landing>/<dataset>/, one of: managers, products, clients, trade_points, shipments, "
                       "visit_plan, visits, rep_costs, invoices, payments, retail_audits)"),
        "shipment/": (None, "unknown_folder",
                      "not read: shipment/ is not a dataset folder; did you mean shipments/? "
                      "rename the folder to shipments"),
        "shipments/notes.txt": ("shipments", "unsupported_format",
                                "not read: .txt is not a format the pipeline reads (.csv, .xlsx, .xlsm, .xls, "
                                ".zip); export it as CSV or Excel and drop it again, or move it out of the "
                                "landing folder"),
        "shipments/old/": ("shipments", "subfolder",
                           "not read: a folder inside a dataset folder; move its files up into shipments/ "
                           "(or zip them) and drop them again"),
        "shipments/~$shipments_2023-01.xlsx": ("shipments", "lock_file",
                                               "an Excel lock file (the workbook was open when the folder was "
                                               "copied): ignored; nothing to do unless the workbook itself is "
                                               "missing"),
    }
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Files not read" in out
    for path in found:
        assert path in out.replace("\n", "")  # rich may fold long cells: compare without line ends

    # a file taken away (or read) since leaves the list; one still there stays
    (landing / "shipments" / "notes.txt").unlink()
    shutil.rmtree(landing / "shipment")
    load(clean_warehouse, landing)
    assert set(not_read(clean_warehouse)) == set(found) - {"shipments/notes.txt", "shipment/"}


def test_closest_dataset_for_misspelled_folders():
    from clientbase.contract import DATASETS
    from clientbase.extract.files import closest_dataset

    known = tuple(DATASETS)
    assert closest_dataset("Shipments", known) == "shipments"
    assert closest_dataset("trade-points", known) == "trade_points"
    assert closest_dataset("Клиенты", known) == "clients"
    assert closest_dataset("visit_plans", known) == "visit_plan"
    assert closest_dataset("photos", known) is None


# --- zip archives --------------------------------------------------------------------------

def test_zip_members_are_batches_of_their_own_and_skipped_by_content(clean_warehouse, landing):
    archive = landing / "shipments" / "january.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("b.csv", ",".join(HEADER) + "\nD2,1,2023-01-11,A_regular,P_A_regular,S1,2,20,9,MG1,posted\n")
        z.writestr("a.csv", ",".join(HEADER) + "\n" + ROW + "\n")
        z.writestr("scan.pdf", b"%PDF-1.4")
        z.writestr("february/c.csv", ",".join(HEADER) + "\n")
    first = load(clean_warehouse, landing)
    zipped = [name for name in first if name.startswith("shipments/january.zip")]
    assert zipped == ["shipments/january.zip/a.csv", "shipments/january.zip/b.csv"]  # name order
    assert [first[n].rows_loaded for n in zipped] == [1, 1]
    assert not_read(clean_warehouse) == {
        "shipments/january.zip/february/c.csv": (
            "shipments", "subfolder",
            "not read: february/ is a folder inside the archive; zip the files themselves (no folder) "
            "and drop the archive again"),
        "shipments/january.zip/scan.pdf": (
            "shipments", "unsupported_format",
            "not read: .pdf is not a format the pipeline reads (.csv, .xlsx, .xlsm, .xls, .zip); export it "
            "as CSV or Excel and drop it again, or move it out of the landing folder"),
    }
    # the same inner file again, now loose beside the archive: same content, skipped
    (landing / "shipments" / "a_again.csv").write_text(",".join(HEADER) + "\n" + ROW + "\n")
    second = load(clean_warehouse, landing)
    assert second["shipments/a_again.csv"].status == "skipped"
    assert second["shipments/january.zip/a.csv"].status == "skipped"
    with psycopg.connect(clean_warehouse) as conn:
        assert conn.execute("select count(*) from raw.shipments").fetchone()[0] == 2


def test_a_corrupt_zip_is_a_rejected_batch(clean_warehouse, landing):
    (landing / "shipments" / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    result = load(clean_warehouse, landing)["shipments/broken.zip"]
    assert result.status == "rejected"
    assert result.message == ("file rejected: the zip archive cannot be opened (File is not a zip file): it is "
                              "corrupt or not a zip; zip the exports again and drop the archive again")


def test_an_empty_archive_and_a_damaged_member_are_listed_as_not_read(clean_warehouse, landing):
    with zipfile.ZipFile(landing / "shipments" / "empty.zip", "w"):
        pass
    damaged = landing / "shipments" / "damaged.zip"
    with zipfile.ZipFile(damaged, "w", zipfile.ZIP_STORED) as z:
        z.writestr("a.csv", ",".join(HEADER) + "\n" + ROW + "\n")
    data = damaged.read_bytes()
    damaged.write_bytes(data.replace(b"A_regular,P_A", b"A_regular,P_X", 1))  # the CRC no longer matches
    results = load(clean_warehouse, landing)
    assert not [name for name in results if ".zip" in name]
    assert not_read(clean_warehouse) == {
        "shipments/damaged.zip/a.csv": (
            "shipments", "damaged_file",
            "not read: the file cannot be unpacked (Bad CRC-32 for file 'a.csv'); the archive is damaged: "
            "zip the exports again and drop the archive again"),
        "shipments/empty.zip": (
            "shipments", "empty_archive",
            "not read: the archive holds no files; zip the exports again and drop the archive again"),
    }


# --- workbooks -----------------------------------------------------------------------------

def test_1c_workbook_title_totals_typed_cells_and_sheet_row_in_quarantine(clean_warehouse, landing, capsys):
    rows = [
        ["Д-1", 1, dt.date(2023, 1, 10), "A_regular", "P_A_regular", "S1", 1.5, 1234.5, 900.25, "MG1", "posted"],
        ["Д-1", 2, "10.01.2023", "A_regular", "P_A_regular", "S2", "-1", "1 234,50", None, "MG1", None],
        ["Д-2", 1, 44936, "A_regular", "P_A_regular", "S1", 1, 10, 5, "MG1", "posted"],  # a serial date
        ["Д-3", 1, "32.01.2023", "A_regular", "P_A_regular", "S1", 1, 10, 5, "MG1", "posted"],
    ]
    path = write_1c_workbook(landing / "shipments" / "shipments_2023-01.xlsx",
                             [h.upper() + " " for h in HEADER], rows,
                             totals=["Итого", None, None, None, None, None, 3.5, 2479, 905.25])
    result = load(clean_warehouse, landing)["shipments/shipments_2023-01.xlsx!Лист1"]
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined,
            result.rows_title, result.rows_totals) == ("loaded", 7, 3, 1, 2, 1)
    assert result.message.startswith(
        "2 title row(s) above the header at row 4 (rows 1–2, first: 'Отгрузки'): not data, not loaded; "
        "1 totals row(s) below the table (row 9: 'Итого 3.5 2479 905.25'): not data, not loaded")
    with psycopg.connect(clean_warehouse) as conn:
        loaded = conn.execute("select doc_id, line_no, doc_date::text, qty, revenue, cost, status, _line_no "
                              "from raw.shipments order by doc_id, line_no").fetchall()
        quarantined = conn.execute("select source_name, line_no, reason from audit.quarantine").fetchall()
        batch = conn.execute("select rows_read, rows_loaded, rows_quarantined, rows_title, rows_totals "
                             "from audit.batches where dataset = 'shipments'").fetchone()
    assert loaded == [
        ("Д-1", 1, "2023-01-10", Decimal("1.5"), Decimal("1234.5"), Decimal("900.25"), "posted", 5),
        ("Д-1", 2, "2023-01-10", Decimal("-1"), Decimal("1234.50"), None, None, 6),
        ("Д-2", 1, "2023-01-10", Decimal("1"), Decimal("10"), Decimal("5"), "posted", 7),
    ]
    assert quarantined == [("shipments/shipments_2023-01.xlsx!Лист1", 8,
                            "doc_date: '32.01.2023' is not a date (YYYY-MM-DD or DD.MM.YYYY)")]
    assert batch == (7, 3, 1, 2, 1)
    assert path.is_file()
    capsys.readouterr()
    assert cli.main(["quarantine", "--all"]) == 0
    assert "shipments/shipments_2023-01.xlsx!Лист1:8" in capsys.readouterr().out
    from clientbase import report

    with psycopg.connect(clean_warehouse) as conn:
        shipments = next(r for r in report.status_rows(conn) if r[0] == "shipments")
    assert shipments[3:6] == (7, 3, 1) and shipments[7] == 3  # read, loaded, quarantined; title + totals


def test_the_sheet_named_for_the_dataset_is_read(clean_warehouse, landing):
    wb = Workbook()
    wb.active.title = "Сводка"
    wb.active.append(["not this one"])
    ws = wb.create_sheet("Отгрузки")
    ws.append(HEADER)
    ws.append(ROW.split(","))
    wb.save(landing / "shipments" / "report.xlsx")
    result = load(clean_warehouse, landing)["shipments/report.xlsx!Отгрузки"]
    assert (result.rows_read, result.rows_loaded, result.rows_title) == (1, 1, 0)


# --- the same month as CSV, as XLSX and inside a zip publishes identical tables --------------

def _landing_as(kind: str, root: Path) -> Path:
    landing = root / kind / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)
    source = landing / "shipments" / "shipments.csv"
    if kind == "xlsx":
        header, rows = typed_rows(source)
        revenue = sum(r[header.index("revenue")] for r in rows)
        write_1c_workbook(source.with_suffix(".xlsx"), header, rows,
                          totals=["Итого", *[None] * (header.index("revenue") - 1), revenue])
        source.unlink()
    elif kind == "zip":
        with zipfile.ZipFile(landing / "shipments" / "shipments_export.zip", "w", zipfile.ZIP_DEFLATED) as z:
            z.write(source, "shipments.csv")
        source.unlink()
    return landing


def _canonical(value: object) -> str:
    """A published value compared by what it is: Excel keeps no decimal scale (70.0 is the
    number 70), so a number compares by value, not by its digits."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value else "NaN"
    return "" if value is None else repr(value)


def published_tables(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every published table's rows, canonical and sorted, and the months published."""
    out = {}
    with psycopg.connect(url) as conn:
        for table in (*PUBLISHED_TABLES, "publications"):
            query = (f"select * from reporting.{table}" if table != "publications"
                     else "select month, version from reporting.publications")
            out[table] = sorted(tuple(_canonical(v) for v in row) for row in conn.execute(query))
    return out


def test_same_month_as_csv_xlsx_and_zip_publishes_identical_tables(airflow_ready, tmp_path):
    from conftest import reset_warehouse

    url = airflow_ready
    fingerprints = {}
    for kind in ("csv", "xlsx", "zip"):
        with psycopg.connect(url, autocommit=True) as conn:  # not among the schemas the reset drops
            conn.execute("drop schema if exists reporting_history cascade")
        reset_warehouse(url)
        landing = _landing_as(kind, tmp_path)
        assert cli.main(["run", "--landing", str(landing), "--from", "2024-06", "--to", "2024-06"]) == 0
        with psycopg.connect(url) as conn:
            sources = [r[0] for r in conn.execute(
                "select source_name from audit.batches where dataset = 'shipments' and status = 'loaded'")]
            shipments = conn.execute("select count(*) from raw.shipments").fetchone()[0]
            assert not conn.execute("select path from audit.files_not_read").fetchall()
        assert shipments == 59, kind
        assert sources == {"csv": ["shipments/shipments.csv"], "xlsx": ["shipments/shipments.xlsx!Лист1"],
                           "zip": ["shipments/shipments_export.zip/shipments.csv"]}[kind]
        fingerprints[kind] = published_tables(url)
    assert fingerprints["csv"]["client_status_monthly"]  # the month was published, not empty
    assert fingerprints["xlsx"] == fingerprints["csv"]
    assert fingerprints["zip"] == fingerprints["csv"]


def test_the_demo_workbooks_load_digit_for_digit_as_their_csv(clean_warehouse, tmp_path):
    """The generator's 1C-style workbooks (one shipments month, the latest client list) put
    in raw exactly what the same rows sent as a 1C CSV put there, every value's text included."""
    from clientbase.generate import generate, model, writers
    from conftest import reset_warehouse

    args = dict(months=6, clients=30, end_month="2025-06", seed=5)
    generate(tmp_path / "xlsx", **args)
    workbooks = sorted(p.relative_to(tmp_path / "xlsx").as_posix() for p in (tmp_path / "xlsx").rglob("*.xlsx"))
    assert workbooks == ["clients/clients_2025-04-01.xlsx", "shipments/shipments_2025-05.xlsx"]
    shutil.copytree(tmp_path / "xlsx", tmp_path / "csv")
    data = model.simulate(args["end_month"], args["months"], args["clients"], args["seed"])
    for relative, dataset, rows, form in writers.file_batches(data):
        if form.workbook:
            (tmp_path / "csv" / relative).unlink()
            (tmp_path / "csv" / relative).with_suffix(".csv").write_bytes(
                writers.csv_bytes(rows, dataset, writers.ONE_C))

    def raw(landing: Path) -> dict[str, list[tuple]]:
        reset_warehouse(clean_warehouse)
        results = extract_datasets(clean_warehouse, SHIPMENTS_FLOW, Sources(landing))
        assert sum(r.rows_quarantined for r in results) == 0
        with psycopg.connect(clean_warehouse) as conn:
            return {table: conn.execute(
                f"select {cols} from raw.{table} order by {cols}").fetchall()
                for table, cols in (("shipments", "doc_id, line_no, doc_date::text, client_id, point_id, sku, "
                                     "qty::text, revenue::text, cost::text, manager_id, status, updated_at::text"),
                                    ("clients", "client_id, name, tier, channel, inn, manager_id, "
                                     "snapshot_date::text"))}

    from_workbooks = raw(tmp_path / "xlsx")
    assert from_workbooks == raw(tmp_path / "csv")
    assert len(from_workbooks["shipments"]) > 100
