"""The bad-input corpus: every kind of broken file the sources send, and what the loader says.

Each case of ``tests/bad_input/manifest.json`` is one small file (a CSV, or a workbook or
archive written by ``bad_input/make_workbooks.py``) loaded on its own (beside the
status_rules reference lists). For each, the batch must reconcile exactly
(rows read = rows loaded + rows quarantined + a workbook's title and totals rows, in the
result and in ``audit.batches``), every
quarantined row must be in ``audit.quarantine`` with its file, line, raw text and a reason
specific to the case, and the batch message must say what happened and where.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from conftest import SCENARIOS

CORPUS = Path(__file__).resolve().parent / "bad_input"
CASES = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))["cases"]
REFERENCE_LISTS = ("managers", "products", "clients", "trade_points")
# Both extraction flows, each dataset once (the reference lists in both load once), so a
# case of any dataset (retail_audits is the SFA's) is loaded the way its DAG loads it.
FLOW = tuple(dict.fromkeys(SHIPMENTS_FLOW + VISITS_FLOW))

# The kinds issue 4 requires the corpus to cover (each must match a case's "kind").
REQUIRED_KINDS = (
    "wrong encoding", "missing required column", "empty file", "header only", "invalid dates",
    "text in numbers", "duplicate keys", "quoted delimiters and line breaks", "byte order mark",
    "CRLF", "unknown client, point and SKU", "date in the future", "date before 2000-01-01",
    "truncated last line", "extra columns",
    # issue 10: the optional receivables and audit datasets
    "due date before doc date", "payment for an invoice never sent", "audit present not a boolean",
    "negative invoice amount",
    # issue 14: workbooks and archives
    "title block", "totals row", "merged header cells", "date column formatted as text",
    "numbers stored as text", "empty sheet", "password-protected", "corrupt file", "archive holding a folder",
    "old .xls",
)
CORPUS_SUFFIXES = ("*.csv", "*.xlsx", "*.xls", "*.zip")


def _landing_with(tmp_path: Path, cases: list[dict]) -> Path:
    for name in REFERENCE_LISTS:
        shutil.copytree(SCENARIOS / "status_rules" / "landing" / name, tmp_path / name)
    for case in cases:
        folder = tmp_path / case["dataset"]
        folder.mkdir(exist_ok=True)
        shutil.copyfile(CORPUS / case["file"], folder / case["file"])
    return tmp_path


def _file_text(case: dict, encoding: str | None) -> str:
    data = (CORPUS / case["file"]).read_bytes()
    codec = {"utf-8-bom": "utf-8-sig", None: "utf-8"}.get(encoding, encoding)
    return data.decode(codec, errors="backslashreplace").replace("\x00", "\\x00")


def _source(case: dict) -> str:
    return case.get("source", f"{case['dataset']}/{case['file']}")


def _check_not_read(conn: psycopg.Connection, case: dict, results: dict) -> None:
    """An archive case that yields no batch: what it holds is listed as not read."""
    prefix = f"{case['dataset']}/{case['file']}"
    assert not [name for name in results if name.startswith(prefix)], "no batch expected"
    found = conn.execute("select path, reason_code, reason from audit.files_not_read where path like %s "
                         "order by path", (prefix + "/%",)).fetchall()
    assert found == [tuple(entry) for entry in case["not_read"]]


def _check_case(conn: psycopg.Connection, case: dict, result) -> None:
    source = _source(case)
    expected_rows = [tuple(q) for q in case["quarantined"]]
    quarantined = len(expected_rows)
    not_data = (case.get("title", 0), case.get("totals", 0))
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        case["status"], case["read"], case["loaded"], quarantined), result.summary()
    assert (result.rows_title, result.rows_totals) == not_data
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + sum(not_data)
    assert case["message"] in result.message, result.message

    batch = conn.execute(
        "select batch_id, status, rows_read, rows_loaded, rows_quarantined, duplicate_keys, ignored_columns, "
        "encoding, message, rows_title, rows_totals from audit.batches where source_name = %s",
        (source,)).fetchone()
    batch_id, status, read, loaded, held, duplicates, ignored, encoding, message, title, totals = batch
    assert (status, read, loaded, held) == (case["status"], case["read"], case["loaded"], quarantined)
    assert (title, totals) == not_data
    assert read == loaded + held + title + totals
    assert case["message"] in message
    assert duplicates == case.get("duplicate_keys", 0)
    assert ignored == case.get("ignored_columns", [])
    if "encoding" in case:
        assert encoding == case["encoding"]

    in_raw = conn.execute(f"select count(*) from raw.{case['dataset']} where _batch_id = %s", (batch_id,)).fetchone()[0]
    assert in_raw == loaded

    rows = conn.execute(
        "select source_name, line_no, reason_code, reason, raw_text from audit.quarantine "
        "where batch_id = %s order by line_no", (batch_id,)).fetchall()
    assert len(rows) == held
    is_text = case["file"].endswith(".csv")  # a workbook's raw text is its cells joined by ';'
    text = _file_text(case, encoding) if is_text else ""
    for (file, line, code, reason, raw), (want_line, want_code, want_reason) in zip(rows, expected_rows, strict=True):
        assert (file, line, code) == (source, want_line, want_code), reason
        assert want_reason in reason, reason
        assert raw, f"line {line} has no raw text"
        if is_text:
            assert raw in text.replace("\r\n", "\n") or raw in text, f"line {line}: raw text {raw!r} is not the file's"
    for line, fragment in case.get("raw_text", {}).items():
        assert fragment in dict((r[1], r[4]) for r in rows)[int(line)]


@pytest.mark.parametrize("case", CASES, ids=[c["file"].rsplit(".", 1)[0] for c in CASES])
def test_bad_input_case(clean_warehouse, tmp_path, case):
    landing = _landing_with(tmp_path, [case])
    results = {r.source_name: r for r in extract_datasets(clean_warehouse, FLOW, Sources(landing))}
    with psycopg.connect(clean_warehouse) as conn:
        if "not_read" in case:
            _check_not_read(conn, case, results)
        else:
            _check_case(conn, case, results[_source(case)])


def test_the_whole_corpus_in_one_run(clean_warehouse, tmp_path):
    """All files side by side: no broken file stops the others, every batch reconciles."""
    landing = _landing_with(tmp_path, CASES)
    results = {r.source_name: r for r in extract_datasets(clean_warehouse, FLOW, Sources(landing))}
    with psycopg.connect(clean_warehouse) as conn:
        for case in CASES:
            if case["kind"].startswith("duplicate keys"):
                continue  # its key D1/1 is also loaded by other files here: checked alone above
            if "not_read" in case:
                _check_not_read(conn, case, results)
            else:
                _check_case(conn, case, results[_source(case)])
        assert conn.execute("select count(*) from audit.batches where rows_read <> "
                            "rows_loaded + rows_quarantined + rows_title + rows_totals").fetchone()[0] == 0


def test_duplicate_keys_are_all_kept_in_raw_with_their_lines(clean_warehouse, tmp_path):
    [case] = [c for c in CASES if c["file"] == "duplicate_keys_in_one_file.csv"]
    extract_datasets(clean_warehouse, FLOW, Sources(_landing_with(tmp_path, [case])))
    with psycopg.connect(clean_warehouse) as conn:
        rows = conn.execute("select _line_no, qty from raw.shipments where doc_id = 'D1' and line_no = 1 "
                            "order by _line_no").fetchall()
    # staging keeps the version with the highest (_batch_id, _line_no): the later line, qty 5
    assert [(line, int(qty)) for line, qty in rows] == [(2, 1), (4, 5)]


def test_the_corpus_is_complete_and_its_messages_distinct():
    files = {p.name for pattern in CORPUS_SUFFIXES for p in CORPUS.glob(pattern)}
    assert files == {c["file"] for c in CASES}, "every corpus file needs a manifest entry, and back"
    assert len(CASES) == 42  # a case dropped from the corpus (file and manifest entry) shows up here
    kinds = [c["kind"] for c in CASES]
    for required in REQUIRED_KINDS:
        assert any(required in kind for kind in kinds), f"no case of kind {required!r}"
    reasons = [c["message"] for c in CASES] + [q[2] for c in CASES for q in c["quarantined"]]
    repeated = {r for r in reasons if reasons.count(r) > 1}
    assert not repeated, f"cases must each say something specific: {repeated}"
