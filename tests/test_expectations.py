"""The GX suites of the publication gate, run against a private embedded PostgreSQL.

Tables shaped like the dbt staging views (the contract's columns) are created in a
``qa`` schema, one per test, and the shipped suites are pointed at them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest
from psycopg import sql

from clientbase.contract import DATASETS
from clientbase.quality import expectations as qx
from clientbase.warehouse import connection, embedded, schema

SUITES_DIR = Path(__file__).resolve().parents[1] / "expectations"
MAX_DATE = dt.date(2024, 1, 31)
PARAMS = {"max_date": MAX_DATE}
_table_ids = itertools.count(1)


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory):
    """A server of our own (not the session one of conftest): these tests need no reset."""
    home = Path(tmp_path_factory.mktemp("pg"))
    url = embedded.ensure_running(home)
    with connection.connect(url) as conn:
        schema.ensure_schema(conn)
        conn.execute("create schema if not exists qa")
    yield url
    embedded.stop(home)


@pytest.fixture(scope="module")
def suites() -> dict[str, qx.SuiteSpec]:
    return {s.name: s for s in qx.load_suites(SUITES_DIR)}


def shipment(**overrides) -> dict:
    row = {"doc_id": "D1", "line_no": 1, "doc_date": dt.date(2024, 1, 10), "client_id": "C1",
           "point_id": "P1", "sku": "S1", "qty": 2, "revenue": 250.5, "cost": 180,
           "manager_id": "M1", "status": "posted",
           "updated_at": dt.datetime(2024, 1, 11, tzinfo=dt.timezone.utc)}
    return {**row, **overrides}


def clean_shipments() -> list[dict]:
    return [
        shipment(),
        shipment(line_no=2, sku="S2", qty=1, revenue=99, cost=None),
        shipment(doc_id="D2", line_no=1, qty=-1, revenue=-125.25, cost=-90),  # a return
        shipment(doc_id="D3", line_no=1, status="cancelled", doc_date=MAX_DATE),
    ]


def visit(**overrides) -> dict:
    row = {"visit_id": "V1", "visit_date": dt.date(2024, 1, 9), "rep_id": "R1",
           "point_id": "P1", "result": "order"}
    return {**row, **overrides}


def clean_visits() -> list[dict]:
    return [visit(), visit(visit_id="V2", result="no_order"), visit(visit_id="V3", result=None)]


def make_table(url: str, dataset: str, rows: list[dict], drop: tuple[str, ...] = ()) -> str:
    """A fresh ``qa`` table with the contract's columns of ``dataset``; returns its name."""
    columns = [c for c in DATASETS[dataset].columns if c.name not in drop]
    relation = f"qa.{dataset}_{next(_table_ids)}"
    table = sql.Identifier("qa", relation.split(".")[1])
    with connection.connect(url) as conn:
        conn.execute(sql.SQL("create table {} ({})").format(
            table, sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name),
                                                               sql.SQL(c.pg_type))
                                      for c in columns)))
        names = [c.name for c in columns]
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("insert into {} ({}) values ({})").format(
                    table, sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(sql.Placeholder() * len(names))),
                [[row.get(n) for n in names] for row in rows])
    return relation


def run(url: str, suite: qx.SuiteSpec, rows: list[dict], *, params=PARAMS, run_id="test",
        **table_kwargs) -> dict[str, qx.CheckResult]:
    relation = make_table(url, suite.name, rows, **table_kwargs)
    results = qx.validate(url, [suite.with_relation(relation)], params, run_id)
    assert [r.check_name for r in results] == [e.check_name for e in suite.expectations]
    return {r.check_name: r for r in results}


def failed(results: dict[str, qx.CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.success}


# ----------------------------------------------------------------- suite files, no database


def test_shipped_suites_load_with_consistent_severity(suites):
    assert set(suites) >= {"shipments", "visits"}
    assert suites["shipments"].relation.count(".") == 1
    for suite in suites.values():
        assert suite.parameters == {"max_date"}
        raw = json.loads(suite.path.read_text())
        for item, spec in zip(raw["expectations"], suite.expectations):
            # both spellings written out, and they agree
            assert (item["meta"]["severity"], item["severity"]) in {("blocking", "critical"),
                                                                   ("warning", "warning")}
            assert spec.severity == item["meta"]["severity"]
    names = {e.check_name: e.severity for e in suites["shipments"].expectations}
    assert names["expect_column_values_to_be_in_set(status)"] == "blocking"
    assert names["expect_compound_columns_to_be_unique(doc_id, line_no)"] == "blocking"
    assert names["unexpected_rows_expectation(qty_revenue_same_sign)"] == "warning"
    visits = {e.check_name: e.severity for e in suites["visits"].expectations}
    assert visits["expect_column_values_to_be_unique(visit_id)"] == "blocking"
    assert visits["expect_column_values_to_be_in_set(result)"] == "warning"


def test_suite_format_errors_name_the_problem(tmp_path):
    base = {"name": "s", "relation": "staging.x",
            "expectations": [{"type": "expect_column_values_to_not_be_null",
                              "kwargs": {"column": "a"}}]}
    assert qx.parse_suite(base).expectations[0].severity == "blocking"  # the safe default

    def bad(change: dict, message: str):
        data = json.loads(json.dumps(base))
        for key, value in change.items():
            if key.startswith("e."):
                data["expectations"][0][key[2:]] = value
            else:
                data[key] = value
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(data))
        with pytest.raises(qx.SuiteError, match=message):
            qx.load_suites(tmp_path)

    bad({"e.severity": "warning", "e.meta": {"severity": "blocking"}}, "contradicts")
    bad({"e.meta": {"severity": "fatal"}}, "fatal")
    bad({"e.kwarg": {}}, "unknown field")
    bad({"relation": "staging.x; drop table y"}, "relation")
    bad({"expectations": []}, "non-empty")


def test_missing_parameter_fails_before_touching_the_database(suites):
    with pytest.raises(ValueError, match="max_date"):
        qx.validate("postgresql://nobody@127.0.0.1:1/none", [suites["shipments"]], {}, "r")


# ----------------------------------------------------------------- validation


def test_clean_data_passes_every_check(private_pg, suites):
    for name, rows in (("shipments", clean_shipments()), ("visits", clean_visits())):
        results = run(private_pg, suites[name], rows)
        assert failed(results) == set(), name
        assert all(r.source == "gx" for r in results.values())


def test_unknown_status_blocks_with_the_value_shown(private_pg, suites):
    results = run(private_pg, suites["shipments"],
                  clean_shipments() + [shipment(doc_id="D9", status="draft")])
    assert failed(results) == {"expect_column_values_to_be_in_set(status)"}
    check = results["expect_column_values_to_be_in_set(status)"]
    assert check.severity == "blocking" and check.blocks_publication
    assert check.observed["unexpected_count"] == 1
    assert "draft" in check.observed["partial_unexpected_list"]
    assert check.observed["unexpected_percent"] == pytest.approx(20.0)
    assert qx.blocking_failures(results.values()) == [check]


def test_duplicate_keys_fail_uniqueness(private_pg, suites):
    results = run(private_pg, suites["shipments"], clean_shipments() + [shipment(qty=3)])
    assert failed(results) == {"expect_compound_columns_to_be_unique(doc_id, line_no)"}
    check = results["expect_compound_columns_to_be_unique(doc_id, line_no)"]
    assert check.observed["unexpected_count"] == 2  # both rows of the key
    assert {"doc_id": "D1", "line_no": 1} in check.observed["partial_unexpected_list"]

    results = run(private_pg, suites["visits"], clean_visits() + [visit(rep_id="R2")])
    assert failed(results) == {"expect_column_values_to_be_unique(visit_id)"}


def test_date_beyond_max_date_fails_and_max_date_is_a_run_parameter(private_pg, suites):
    rows = clean_shipments() + [shipment(doc_id="D9", doc_date=MAX_DATE + dt.timedelta(days=1))]
    results = run(private_pg, suites["shipments"], rows)
    assert failed(results) == {"expect_column_values_to_be_between(doc_date)"}
    check = results["expect_column_values_to_be_between(doc_date)"]
    assert check.observed["partial_unexpected_list"] == ["2024-02-01"]
    assert check.kwargs["max_value"] == "2024-01-31"  # resolved, as stored in the audit

    later = run(private_pg, suites["shipments"], rows, params={"max_date": "2024-02-29"})
    assert failed(later) == set()

    too_old = visit(visit_id="V9", visit_date=dt.date(1999, 12, 31))
    old = run(private_pg, suites["visits"], clean_visits() + [too_old])
    assert failed(old) == {"expect_column_values_to_be_between(visit_date)"}


def test_nan_and_missing_required_values_fail(private_pg, suites):
    rows = clean_shipments() + [shipment(doc_id="D8", revenue=float("nan")),
                                shipment(doc_id="D9", client_id=None)]
    results = run(private_pg, suites["shipments"], rows)
    assert failed(results) == {"expect_column_values_to_be_between(revenue)",
                               "expect_column_values_to_not_be_null(client_id)"}
    assert results["expect_column_values_to_be_between(revenue)"].observed[
        "partial_unexpected_list"] == ["NaN"]


def test_sign_mismatch_is_a_warning_with_example_rows(private_pg, suites):
    results = run(private_pg, suites["shipments"],
                  clean_shipments() + [shipment(doc_id="D9", qty=-1, revenue=100)])
    assert failed(results) == {"unexpected_rows_expectation(qty_revenue_same_sign)"}
    check = results["unexpected_rows_expectation(qty_revenue_same_sign)"]
    assert check.severity == "warning" and not check.blocks_publication
    assert check.observed["unexpected_count"] == 1
    [example] = check.observed["partial_unexpected_list"]
    assert (example["doc_id"], example["qty"], example["revenue"]) == ("D9", -1, 100)
    assert qx.blocking_failures(results.values()) == []


def test_unknown_visit_result_is_only_a_warning(private_pg, suites):
    results = run(private_pg, suites["visits"], clean_visits() + [visit(visit_id="V9",
                                                                       result="rescheduled")])
    assert failed(results) == {"expect_column_values_to_be_in_set(result)"}
    assert results["expect_column_values_to_be_in_set(result)"].severity == "warning"


def test_a_column_dbt_dropped_is_a_failed_check_not_a_crash(private_pg, suites):
    results = run(private_pg, suites["shipments"], clean_shipments(), drop=("status",))
    check = results["expect_column_values_to_be_in_set(status)"]
    assert not check.success and check.blocks_publication
    assert "status" in check.observed["exception"]


def test_missing_relation_is_an_error(private_pg, suites):
    with pytest.raises(qx.RelationMissing, match="qa.no_such_view"):
        qx.validate(private_pg, [suites["visits"].with_relation("qa.no_such_view")], PARAMS, "r")


def test_where_restricts_the_validated_rows(private_pg, suites):
    rows = clean_shipments() + [shipment(doc_id="D0", doc_date=dt.date(2023, 6, 1),
                                         status="draft")]
    relation = make_table(private_pg, "shipments", rows)
    suite = suites["shipments"].with_relation(relation)
    everything = qx.validate(private_pg, [suite], PARAMS, "r")
    assert qx.blocking_failures(everything)
    january = qx.validate(private_pg, [suite],
                          {**PARAMS, "where": {"shipments": "doc_date >= '2024-01-01'"}}, "r")
    assert qx.blocking_failures(january) == []


def test_data_docs_from_stored_results(private_pg, suites, tmp_path):
    relation = make_table(private_pg, "visits", clean_visits())
    qx.validate(private_pg, [suites["visits"].with_relation(relation)], PARAMS, "docs-run",
                results_dir=tmp_path)
    index = qx.build_data_docs(tmp_path)
    assert index.is_file()
    pages = list((tmp_path / "data_docs" / "validations" / "visits" / "docs-run").rglob("*.html"))
    assert len(pages) == 1
    assert "docs-run" in index.read_text()
