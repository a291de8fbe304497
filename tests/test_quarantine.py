"""Quarantine visibility: counts in `clientbase status`, rows by month in `clientbase quarantine`."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import psycopg
import pytest

from clientbase import cli
from clientbase.contract import SHIPMENTS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from clientbase.load import quarantine
from conftest import SCENARIOS

HEADER = "doc_id,line_no,doc_date,client_id,point_id,sku,qty,revenue,cost,manager_id,status"
SHIPMENTS = "\n".join([
    HEADER,
    "D1,1,2023-01-10,A_regular,P_A_regular,S1,abc,10,5,MG1,posted",        # line 2: January, invalid
    "D1,2,15.02.2023,NOBODY,P_A_regular,S1,1,10,5,MG1,posted",             # line 3: February, unknown client
    "D1,3,2023-02-11,A_regular,P_A_regular,S1,1",                          # line 4: malformed: no date
    "D1,4,2099-01-10,A_regular,P_A_regular,S1,1,10,5,MG1,[bold]posted[/]",  # line 5: out of range: no date
    "D1,5,2023-02-12,A_regular,P_A_regular,S1,1,10,5,MG1,posted",          # line 6: fine
]) + "\n"


@pytest.fixture
def loaded(clean_warehouse: str, tmp_path: Path) -> str:
    """The status_rules reference lists plus one shipments file with four kinds of bad row."""
    for name in ("managers", "products", "clients", "trade_points"):
        shutil.copytree(SCENARIOS / "status_rules" / "landing" / name, tmp_path / name)
    (tmp_path / "shipments").mkdir()
    (tmp_path / "shipments" / "s.csv").write_text(SHIPMENTS)
    extract_datasets(clean_warehouse, SHIPMENTS_FLOW, Sources(tmp_path))
    return clean_warehouse


def _load_month(url: str) -> dt.date:
    with psycopg.connect(url) as conn:
        return conn.execute("select date_trunc('month', started_at)::date from audit.batches "
                            "where source_name = 'shipments/s.csv'").fetchone()[0]


def test_rows_are_listed_under_their_own_month_or_their_load_month(loaded):
    with psycopg.connect(loaded) as conn:
        january = quarantine.list_rows(conn, dt.date(2023, 1, 1))
        february = quarantine.list_rows(conn, dt.date(2023, 2, 1))
        by_load = quarantine.list_rows(conn, _load_month(loaded))
        everything = quarantine.list_rows(conn, None)
        invalid_only = quarantine.list_rows(conn, None, reason="invalid")
        limited = quarantine.list_rows(conn, None, limit=1)
    assert [(r.line_no, r.reason_code, r.dated_by_row) for r in january.rows] == [(2, "invalid", True)]
    assert [(r.line_no, r.reason_code) for r in february.rows] == [(3, "unknown_reference")]
    assert [(r.line_no, r.reason_code, r.dated_by_row) for r in by_load.rows] == [
        (4, "malformed", False), (5, "invalid", False)]
    assert everything.total == 4 and [r.line_no for r in everything.rows] == [2, 3, 4, 5]
    assert [r.line_no for r in invalid_only.rows] == [2, 5]
    assert (limited.total, len(limited.rows)) == (4, 1)
    row = january.rows[0]
    assert (row.source_name, row.reason) == ("shipments/s.csv", "qty: 'abc' is not a number")
    assert row.raw_text == "D1,1,2023-01-10,A_regular,P_A_regular,S1,abc,10,5,MG1,posted"


def test_released_rows_are_hidden_unless_asked(loaded, tmp_path):
    (tmp_path / "shipments" / "t.csv").write_text(HEADER + "\nD1,1,2023-01-10,A_regular,P_A_regular,S1,2,10,5,MG1,x\n")
    extract_datasets(loaded, SHIPMENTS_FLOW, Sources(tmp_path))
    with psycopg.connect(loaded) as conn:
        assert quarantine.list_rows(conn, dt.date(2023, 1, 1)).rows == []
        [row] = quarantine.list_rows(conn, dt.date(2023, 1, 1), include_released=True).rows
        assert row.released_at is not None
        counts = {(c.dataset, c.reason_code): (c.open, c.released) for c in quarantine.reason_counts(conn)}
    assert counts == {("shipments", "invalid"): (1, 1), ("shipments", "malformed"): (1, 0),
                      ("shipments", "unknown_reference"): (1, 0)}


def test_bad_filters_are_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match="not a month: write it as YYYY-MM"):
        quarantine.parse_month("2023-13")
    with pytest.raises(ValueError, match="unknown dataset 'shipment': one of managers"):
        quarantine.check_filters("shipment", None)
    with pytest.raises(ValueError, match="unknown reason 'bad': one of invalid"):
        quarantine.check_filters(None, "bad")


def test_status_shows_open_counts_by_dataset_and_reason(loaded, tmp_path, capsys):
    (tmp_path / "shipments" / "zz_empty.csv").write_text("")
    extract_datasets(loaded, SHIPMENTS_FLOW, Sources(tmp_path))
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Quarantine"):]
    for dataset, reason, count in (("shipments", "invalid", 2), ("shipments", "malformed", 1),
                                   ("shipments", "unknown_reference", 1)):
        assert any(dataset in line and f" {reason} " in line and f" {count} " in line
                   for line in section.splitlines()), (reason, section)
    assert "clientbase quarantine --month YYYY-MM" in out
    assert "Rejected files" in out and "shipments/zz_empty.csv" in out and "the file is empty" in out


def test_quarantine_command_lists_the_month(loaded, capsys):
    capsys.readouterr()
    assert cli.main(["quarantine", "--month", "2023-01", "--dataset", "shipments"]) == 0
    out = capsys.readouterr().out
    assert "1 row(s) held in quarantine for shipments, 2023-01" in out
    assert "shipments/s.csv:2  invalid  shipments  2023-01" in out and "qty: 'abc' is not a number" in out
    assert "D1,1,2023-01-10,A_regular,P_A_regular,S1,abc,10,5,MG1,posted" in out

    month = _load_month(loaded)
    assert cli.main(["quarantine", "--month", f"{month:%Y-%m}", "--reason", "invalid"]) == 0
    out = capsys.readouterr().out
    assert ("shipments/s.csv:5  invalid  shipments" in out and "(loaded; no usable row date)" in out
            and "2099-01-10 is more than 31 days in the future" in out)
    assert "[bold]posted[/]" in out  # raw text is shown as it is, never read as markup

    assert cli.main(["quarantine", "--all", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 row(s) held in quarantine for every month" in out
    assert "showing the first 2 of 4" in out

    assert cli.main(["quarantine", "--month", "2022-12"]) == 0
    assert "no rows held in quarantine for 2022-12" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["quarantine", "--month", "2023/01"], "is not a month"),
    (["quarantine", "--month", "2023-01", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["quarantine", "--all", "--reason", "nope"], "unknown reason 'nope'"),
])
def test_quarantine_command_explains_bad_arguments(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().out


def test_quarantine_help_says_where_undated_rows_go(capsys):
    with pytest.raises(SystemExit):
        cli.main(["quarantine", "--help"])
    out = capsys.readouterr().out
    assert "listed under the month their file was loaded" in out and "--all" in out
