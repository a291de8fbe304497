"""The COPY fast path (issue 12): a CSV file COPYed straight into the landing table loads
exactly what the record-by-record reader loads.

Every file of a generated demo, of the golden scenario and of the bad-input corpus is
extracted twice on a clean warehouse, once with the fast path and once without it
(``run.STREAM_CSV``), and everything the load writes is compared: the raw tables row for
row (batch and line included), ``audit.batches`` (counts, encoding, delimiter, messages),
``audit.quarantine`` (line, reason, record, raw text) and the files not read; only the
time stamps differ. The fast path must actually have been taken (shipments demo files)
and refused where COPY cannot read a file (the corpus' broken files), so both branches of
``loader._copy_csv_body`` are exercised.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from clientbase.contract import DATASETS, SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.extract import files, run
from clientbase.generate import generate
from clientbase.load import loader
from conftest import SCENARIOS, reset_warehouse
from test_bad_input import CASES, CORPUS, REFERENCE_LISTS

FLOW = tuple(dict.fromkeys(SHIPMENTS_FLOW + VISITS_FLOW))
AUDIT_TABLES = ("batches", "quarantine", "files_not_read")


def _snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row the extraction wrote, without time stamps (``released_at`` as a flag)."""
    out: dict[str, list[tuple]] = {}
    with psycopg.connect(url) as conn:
        tables = [("raw", name) for name in DATASETS] + [("audit", name) for name in AUDIT_TABLES]
        for schema, table in tables:
            cols = conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position", (schema, table)).fetchall()
            select = [f"{name} is null" if name == "released_at" else name
                      for name, kind in cols if not kind.startswith("timestamp") or name == "released_at"]
            out[f"{schema}.{table}"] = conn.execute(
                f"select {', '.join(select)} from {schema}.{table} order by {', '.join(select)}").fetchall()
    return out


@pytest.fixture
def copy_outcomes(monkeypatch) -> list[int | None]:
    """What each attempt of the fast path returned (rows COPYed, or None: refused)."""
    outcomes: list[int | None] = []
    real = loader._copy_csv_body

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        outcomes.append(result)
        return result

    monkeypatch.setattr(loader, "_copy_csv_body", spy)
    return outcomes


def _both_ways(url: str, landing: Path, flow: tuple[str, ...], monkeypatch) -> tuple[dict, dict]:
    snapshots = []
    for stream in (True, False):
        reset_warehouse(url)
        monkeypatch.setattr(run, "STREAM_CSV", stream)
        results = run.extract_datasets(url, flow, run.Sources(landing))
        assert all(r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_title + r.rows_totals
                   for r in results)
        snapshots.append(_snapshot(url))
    return snapshots[0], snapshots[1]


def _assert_same(fast: dict, slow: dict) -> None:
    for table in slow:
        assert fast[table] == slow[table], f"{table} differs between the COPY fast path and the record reader"


def test_demo_loads_the_same_both_ways(warehouse, tmp_path, copy_outcomes, monkeypatch):
    """A generated distributor (UTF-8 and Windows-1251, CRLF, workbooks, corrections)."""
    generate(tmp_path, None, months=6, clients=30, seed=3)
    fast, slow = _both_ways(warehouse, tmp_path, FLOW, monkeypatch)
    assert sum(len(rows) for rows in slow.values()) > 1000
    _assert_same(fast, slow)
    copied = [n for n in copy_outcomes if n]
    shipment_files = [p for p in (tmp_path / "shipments").glob("*.csv")]
    assert len(copied) >= len(shipment_files), "every demo shipments CSV takes the COPY fast path"


def test_golden_scenario_loads_the_same_both_ways(warehouse, tmp_path, copy_outcomes, monkeypatch):
    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)
    fast, slow = _both_ways(warehouse, landing, FLOW, monkeypatch)
    _assert_same(fast, slow)
    assert any(copy_outcomes)


def test_bad_input_corpus_loads_the_same_both_ways(warehouse, tmp_path, copy_outcomes, monkeypatch):
    """Broken files: COPY refuses them (and the record reader says what is wrong) or, when
    COPY can read them, the type rules quarantine the same rows with the same raw text."""
    for name in REFERENCE_LISTS:
        shutil.copytree(SCENARIOS / "status_rules" / "landing" / name, tmp_path / name)
    for case in CASES:
        folder = tmp_path / case["dataset"]
        folder.mkdir(exist_ok=True)
        shutil.copyfile(CORPUS / case["file"], folder / case["file"])
    fast, slow = _both_ways(warehouse, tmp_path, FLOW, monkeypatch)
    _assert_same(fast, slow)
    assert None in copy_outcomes, "some corpus file is refused by COPY and read record by record"
    assert any(copy_outcomes), "some corpus file is COPYed"
    assert slow["audit.quarantine"], "the corpus quarantines rows"


def test_scan_decides_the_encoding_as_the_whole_file_does():
    """The chunked scan gives the decision ``detect_encoding`` takes on the whole file."""
    for path in sorted(CORPUS.glob("*.csv")):
        data = path.read_bytes()
        if data:
            assert files.scan(path).encoding == files.detect_encoding(data), path.name


def test_scan_reads_in_chunks(tmp_path, monkeypatch):
    """A file larger than a chunk: line count, quote and encoding found across chunk borders."""
    monkeypatch.setattr(files, "HASH_CHUNK", 7)
    path = tmp_path / "a.csv"
    path.write_bytes("a;b\r\nКлиент;1\r\n\"x\";2".encode("cp1251"))
    scan = files.scan(path)
    assert (scan.encoding, scan.lines, scan.has_quote, scan.has_cr_only, scan.decodes) == (
        "cp1251", 3, True, False, True)
    fmt = files.sniff(path, scan)
    assert (fmt.delimiter, fmt.header) == (";", ("a", "b"))
    path.write_bytes(b"a,b\n1,2\r3,4\n")
    assert files.scan(path).has_cr_only
    body = files.csv_body(path, files.sniff(path), files.scan(path))
    assert body is None, "a lone carriage return: read record by record"


def test_body_chunks_transcode_windows_1251(tmp_path):
    path = tmp_path / "a.csv"
    text = "a;b\r\n" + "".join(f"Клиент {i};{i}\r\n" for i in range(3000))
    path.write_bytes(text.encode("cp1251"))
    scan = files.scan(path)
    body = files.csv_body(path, files.sniff(path, scan), scan)
    assert body is not None and body.records == 3000
    assert b"".join(body.chunks(size=1000)).decode("utf-8") == text.split("\r\n", 1)[1]
