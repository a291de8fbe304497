"""``min_source_date`` (sources.md "Bad rows"): the earliest date a source row may carry.

A company with older history lowers it (CLIENTBASE_MIN_SOURCE_DATE) and its old rows load,
while 1C's empty date 01.01.0001 stays quarantined whatever the setting; a value that is not
a date stops with one line naming the variable.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from clientbase import settings
from clientbase.contract import SHIPMENTS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from clientbase.load import quarantine
from conftest import SCENARIOS

REFERENCE_LISTS = ("managers", "products", "clients", "trade_points")
SHIPMENTS = (
    "doc_id,line_no,doc_date,client_id,point_id,sku,qty,revenue,cost,manager_id,status\n"
    "OLD1,1,15.06.1998,A_regular,P_A_regular,S1,1,100,70,MG1,posted\n"      # line 2: history
    "OLD2,1,1994-12-31,A_regular,P_A_regular,S1,1,100,70,MG1,posted\n"      # line 3: before the setting
    "EMPTY,1,01.01.0001 0:00:00,A_regular,P_A_regular,S1,1,100,70,MG1,posted\n"  # line 4: 1C's empty date
    "NEW1,1,2023-01-10,A_regular,P_A_regular,S1,1,100,70,MG1,posted\n"      # line 5
)


def _landing(tmp_path: Path) -> Path:
    for name in REFERENCE_LISTS:
        shutil.copytree(SCENARIOS / "status_rules" / "landing" / name, tmp_path / name)
    (tmp_path / "shipments").mkdir()
    (tmp_path / "shipments" / "old_history.csv").write_text(SHIPMENTS, encoding="utf-8")
    return tmp_path


def _load(url: str, landing: Path) -> tuple[list[str], list[tuple[int, str]]]:
    extract_datasets(url, SHIPMENTS_FLOW, Sources(landing))
    with psycopg.connect(url) as conn:
        loaded = [r[0] for r in conn.execute("select doc_id from raw.shipments order by doc_date")]
        held = conn.execute("select line_no, reason from audit.quarantine "
                            "where source_name = 'shipments/old_history.csv' order by line_no").fetchall()
    return loaded, held


def test_a_lower_min_source_date_loads_older_history_but_not_1c_empty_dates(clean_warehouse, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("CLIENTBASE_MIN_SOURCE_DATE", "1995-01-01")
    loaded, held = _load(clean_warehouse, _landing(tmp_path))
    assert loaded == ["OLD1", "NEW1"]
    assert held == [
        (3, "doc_date: 1994-12-31 is before 1995-01-01, the earliest date a source may carry"),
        (4, "doc_date: 0001-01-01 is before 1995-01-01, the earliest date a source may carry"),
    ]
    # the quarantine listing has no row date for them (outside the window): listed by load month
    with psycopg.connect(clean_warehouse) as conn:
        dated = conn.execute(f"select line_no, {quarantine.row_date_sql('q')} from audit.quarantine q "
                             "order by line_no").fetchall()
    assert [d for _, d in dated] == [None, None]


def test_the_default_keeps_2000_01_01(clean_warehouse, tmp_path, monkeypatch):
    monkeypatch.delenv("CLIENTBASE_MIN_SOURCE_DATE", raising=False)
    loaded, held = _load(clean_warehouse, _landing(tmp_path))
    assert loaded == ["NEW1"]
    assert [line for line, _ in held] == [2, 3, 4]
    assert held[0][1] == "doc_date: 1998-06-15 is before 2000-01-01, the earliest date a source may carry"


def test_lowering_the_date_lets_the_listing_date_rows_by_their_own_month(clean_warehouse, tmp_path, monkeypatch):
    """The quarantine listing uses the same window: a 1998 row held by the default is dated once allowed."""
    monkeypatch.delenv("CLIENTBASE_MIN_SOURCE_DATE", raising=False)
    _load(clean_warehouse, _landing(tmp_path))
    monkeypatch.setenv("CLIENTBASE_MIN_SOURCE_DATE", "1990-01-01")
    with psycopg.connect(clean_warehouse) as conn:
        dated = dict(conn.execute(f"select line_no, {quarantine.row_date_sql('q')}::text from audit.quarantine q")
                     .fetchall())
    assert dated == {2: "1998-06-15", 3: "1994-12-31", 4: None}


@pytest.mark.parametrize("value", ["01.01.1995", "1995-13-01", "yesterday", "19950101", "1995-01-01; drop table x"])
def test_a_value_that_is_not_a_date_is_refused_in_one_line(monkeypatch, value):
    monkeypatch.setenv("CLIENTBASE_MIN_SOURCE_DATE", value)
    with pytest.raises(settings.SettingError) as info:
        settings.load_settings()
    message = str(info.value)
    assert message == (f"CLIENTBASE_MIN_SOURCE_DATE={value!r} is not a date: write YYYY-MM-DD (e.g. 1995-01-01), "
                       "or unset it for the default 2000-01-01")
    assert "\n" not in message


def test_a_future_date_is_refused(monkeypatch):
    monkeypatch.setenv("CLIENTBASE_MIN_SOURCE_DATE", "2999-01-01")
    with pytest.raises(settings.SettingError, match="CLIENTBASE_MIN_SOURCE_DATE=2999-01-01 is in the future"):
        settings.min_source_date()


def test_the_setting_is_read_and_parsed(monkeypatch):
    monkeypatch.setenv("CLIENTBASE_MIN_SOURCE_DATE", " 1995-01-01 ")
    assert settings.load_settings().min_source_date.isoformat() == "1995-01-01"
    monkeypatch.setenv("CLIENTBASE_MIN_SOURCE_DATE", "")
    assert settings.load_settings().min_source_date.isoformat() == "2000-01-01"
