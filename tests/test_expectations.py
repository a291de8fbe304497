"""The checks of the publication gate, against a warehouse built by the real pipeline.

The golden scenario ``status_rules`` is loaded by the loader and built by dbt, once for the
module. Source checks (GX suites on the staging views): each test copies the view a suite
checks into a ``qa`` table, breaks the copy and points the suite's model at it; the other
models the SQL checks read stay the real staging views. The scenario has no visits, visit
plan or rep costs: those suites also show that an empty table passes.

Published tables (dbt tests, the only place their checks are written): each test breaks a
``reporting_stage`` table in place, runs ``dbt test`` on it (failing rows stored) and reads
the outcome through the gate, as ``tasks.build`` hands it over; the table is restored after.
The last test rebuilds the warehouse from the second scenario, ``field_ops`` (visits, plans,
rep costs, several reps and categories), and runs every suite and dbt test on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from clientbase import tasks
from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.quality import expectations as qx
from clientbase.quality import gate
from clientbase.transform import dbt
from conftest import SCENARIOS, build_like_the_month_close, reset_warehouse

SUITES_DIR = Path(__file__).resolve().parents[1] / "expectations"
FIELD_OPS_LANDING = Path(__file__).resolve().parent / "scenarios" / "field_ops" / "landing"
FIELD_OPS_MONTHS = [f"2024-{m:02d}-01" for m in range(1, 7)]
REPORT_MONTH = "2024-12-01"
RUN_MONTHS = ["2024-11-01", REPORT_MONTH]
PARAMS = {"min_date": dt.date(2000, 1, 1), "max_date": dt.date(2025, 1, 31), "months": RUN_MONTHS}
SOURCE_SUITES = {"shipments", "visits", "visit_plan", "clients", "trade_points", "managers",
                 "products", "rep_costs", "invoices", "payments", "retail_audits"}
OPTIONAL_SUITES = ("rep_costs", "invoices", "payments", "retail_audits")  # an empty table passes
RELATIONS: dict[str, str] = {}  # model -> relation, from the manifest of the module's build
_copies = itertools.count(1)
_runs = itertools.count(1)


@pytest.fixture(scope="module")
def suites() -> dict[str, qx.SuiteSpec]:
    return {s.name: s for s in qx.load_suites(SUITES_DIR)}


def build_scenario(url: str, landing_dir: Path, report_month: str, tmp_path_factory) -> Path:
    """A scenario extracted and built by dbt (no gate, no publication); the target dir.

    Every dbt test of the build passes (exit code 0): the golden scenarios are clean.
    """
    reset_warehouse(url)
    landing = tmp_path_factory.mktemp(landing_dir.parent.name) / "landing"
    shutil.copytree(landing_dir, landing)
    params = {"landing_dir": str(landing)}
    tasks.extract(SHIPMENTS_FLOW, params)
    tasks.extract(VISITS_FLOW, params)
    target = tmp_path_factory.mktemp("dbt")
    build_like_the_month_close(url, report_month, target)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists qa cascade")
        conn.execute("create schema qa")
    return target


@pytest.fixture(scope="module")
def built_target(warehouse, tmp_path_factory, suites) -> Path:
    """status_rules built; the dbt target directory (its manifest resolves the suites' models)."""
    target = build_scenario(warehouse, SCENARIOS / "status_rules" / "landing", REPORT_MONTH,
                            tmp_path_factory)
    RELATIONS.clear()
    RELATIONS.update(qx.relations_from_manifest(
        target / "manifest.json", set().union(*(s.models for s in suites.values()))))
    return target


@pytest.fixture(scope="module")
def built(warehouse, built_target) -> str:
    return warehouse


def execute(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def copy_of(url: str, relation: str, *, empty: bool = False) -> str:
    """A ``qa`` table with the columns (and, unless ``empty``, the rows) of ``relation``."""
    name = f"qa.{relation.split('.')[1]}_{next(_copies)}"
    execute(url, f"create table {name} as select * from {relation}" + (" where false" if empty else ""))
    return name


def insert(url: str, relation: str, **row) -> None:
    schema, table = relation.split(".")
    execute(url, sql.SQL("insert into {} ({}) values ({})").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL(", ").join(sql.Placeholder() * len(row))).as_string(), tuple(row.values()))


def run(url: str, suite: qx.SuiteSpec, relation: str, params=PARAMS) -> dict[str, qx.CheckResult]:
    """The suite with its model pointed at ``relation`` (the other models stay the real views)."""
    results = qx.validate(url, [suite], params, "test", {**RELATIONS, suite.model: relation})
    assert [r.check_name for r in results] == [e.check_name for e in suite.expectations]
    return {r.check_name: r for r in results}


def failed(results: dict[str, qx.CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.success}


def known(column: str) -> str:
    return f"unexpected_rows_expectation({column}_known)"


SHIPMENT = {"doc_id": "X1", "line_no": 1, "doc_date": dt.date(2024, 12, 5),
            "shipment_month": dt.date(2024, 12, 1), "client_id": "A_regular",
            "point_id": "P_A_regular", "sku": "S1", "qty": 1, "revenue": 100, "cost": 70,
            "document_manager_id": "MG1", "status": "posted"}


# ----------------------------------------------------------------- suite files, no database


def test_every_dataset_has_a_suite_on_its_staging_model_and_none_on_a_published_table(suites):
    assert set(suites) == SOURCE_SUITES | {"shipment_volume"}
    for suite in suites.values():
        raw = json.loads(suite.path.read_text())
        assert suite.path.stem == suite.name
        assert suite.models <= {f"stg_{name}" for name in SOURCE_SUITES}, suite.name
        for item, spec in zip(raw["expectations"], suite.expectations[-len(raw["expectations"]):], strict=True):
            assert item["severity"] in {"critical", "warning"}  # written out, GX's native field
            assert spec.severity == {"critical": "blocking", "warning": "warning"}[item["severity"]]
        if "columns" in raw:  # declared columns become two blocking checks, first
            assert [e.check_name for e in suite.expectations[:2]] == [
                "expect_table_columns_to_match_set(columns)",
                "unexpected_rows_expectation(column_types)"]
    for name in SOURCE_SUITES:
        assert suites[name].model == f"stg_{name}"
        assert suites[name].parameters <= {"min_date", "max_date"}
    severities = {e.check_name: e.severity for e in suites["shipments"].expectations}
    assert severities["expect_column_values_to_be_in_set(status)"] == "blocking"
    assert severities[known("client_id")] == "blocking"
    assert severities[known("document_manager_id")] == "warning"
    assert severities["unexpected_rows_expectation(qty_revenue_same_sign)"] == "warning"
    assert {e.check_name: e.severity for e in suites["shipment_volume"].expectations} == {
        "unexpected_rows_expectation(volume_swing)": "warning"}
    # the date window's lower bound is the run parameter min_date (setting min_source_date)
    window = next(e for e in suites["shipments"].expectations
                  if e.check_name == "expect_column_values_to_be_between(doc_date)")
    assert window.kwargs["min_value"] == {"$PARAMETER": "min_date"}


def test_suite_format_errors_name_the_problem(tmp_path):
    base = {"name": "s", "model": "stg_x",
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

    bad({"e.severity": "fatal"}, "fatal")
    bad({"e.kwarg": {}}, "unknown field")
    bad({"model": "staging.stg_x; drop table y"}, "model")
    bad({"relation": "staging.stg_x"}, "unknown top-level")  # suites name models, not relations
    bad({"expectations": []}, "non-empty")
    bad({"columns": {"a": "text; drop table y"}}, "PostgreSQL type")
    bad({"parameters": {"tolerance": True}}, "parameters")
    bad({"e.type": "unexpected_rows_expectation", "e.kwargs": {"unexpected_rows_query": "select 1"}},
        "meta.label")


def test_a_renamed_dbt_model_fails_at_load_time_with_the_suite_named(tmp_path, suites):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": {
        f"model.clientbase.{name}": {"name": name, "schema": "staging", "alias": name,
                                     "resource_type": "model", "package_name": "clientbase"}
        for name in ("stg_shipments_v2", "stg_clients")}}))
    assert qx.relations_from_manifest(manifest, ["stg_clients"]) == {"stg_clients": "staging.stg_clients"}
    with pytest.raises(qx.SuiteError, match=r"'stg_shipments'.*rename 'model'"):
        qx.relations_from_manifest(manifest, suites["shipments"].models)
    with pytest.raises(qx.SuiteError, match="no dbt manifest"):
        qx.relations_from_manifest(tmp_path / "missing.json", ["stg_clients"])
    with pytest.raises(qx.SuiteError, match="no relation given.*stg_products"):
        qx.validate("postgresql://nobody@127.0.0.1:1/none", [suites["products"]],
                    PARAMS, "r", {})


def test_sql_parameters_render_as_literals_and_missing_ones_fail_early(suites):
    assert qx.sql_literal(["2024-11-01", dt.date(2024, 12, 1)]) == \
        "array[date '2024-11-01', date '2024-12-01']"
    assert qx.sql_literal("it's") == "'it''s'"
    assert qx.sql_literal(0.5) == "0.5"
    with pytest.raises(ValueError, match="non-empty list"):
        qx.sql_literal([])
    assert qx.render_sql("select * from {model:stg_clients} where m = any({$months})",
                         {"months": ["2024-11-01"]}, {"stg_clients": "staging.stg_clients"}) == \
        "select * from \"staging\".\"stg_clients\" where m = any(array[date '2024-11-01'])"
    with pytest.raises(ValueError, match="months"):
        qx.validate("postgresql://nobody@127.0.0.1:1/none", [suites["shipment_volume"]],
                    {"max_date": "2025-01-31"}, "r", {})
    with pytest.raises(ValueError, match="max_date"):
        qx.validate("postgresql://nobody@127.0.0.1:1/none", [suites["shipments"]], {}, "r", {})


# ----------------------------------------------------------------- the scenario as built


def test_the_golden_scenario_passes_every_source_check(built, suites):
    names = sorted(SOURCE_SUITES)
    results = qx.validate(built, [suites[n] for n in names], PARAMS, "clean", RELATIONS)
    assert {r.suite for r in results} == set(names)
    assert [(r.suite, r.check_name, r.observed) for r in results if not r.success] == []
    # rep_costs, visits, visit_plan and the optional datasets of issue 10 are empty here: empty passes
    for model in ("stg_rep_costs", "stg_invoices", "stg_payments", "stg_retail_audits"):
        assert execute(built, f"select count(*) from staging.{model}") == [(0,)], model


def test_a_date_before_min_date_fails(built, suites):
    table = copy_of(built, "staging.stg_shipments")
    insert(built, table, **{**SHIPMENT, "doc_id": "X0", "doc_date": dt.date(2009, 12, 31)})
    assert failed(run(built, suites["shipments"], table)) == set()  # within 2000-01-01 …
    results = run(built, suites["shipments"], table, {**PARAMS, "min_date": dt.date(2010, 1, 1)})
    assert failed(results) == {"expect_column_values_to_be_between(doc_date)"}
    assert results["expect_column_values_to_be_between(doc_date)"].kwargs["min_value"] == "2010-01-01"


def test_empty_optional_rep_costs_passes_and_bad_costs_are_caught(built, suites):
    empty = copy_of(built, "staging.stg_rep_costs", empty=True)
    assert failed(run(built, suites["rep_costs"], empty)) == set()
    insert(built, empty, cost_month=dt.date(2024, 12, 1), rep_id="RP1", salary=-5, car_cost=1, fuel_cost=1)
    insert(built, empty, cost_month=dt.date(2024, 12, 1), rep_id="NOBODY", salary=5)
    results = run(built, suites["rep_costs"], empty)
    assert failed(results) == {"unexpected_rows_expectation(costs_not_negative)", known("rep_id")}
    assert results[known("rep_id")].blocks_publication
    assert not results["unexpected_rows_expectation(costs_not_negative)"].blocks_publication


INVOICE = {"doc_id": "INV1", "client_id": "A_regular", "doc_date": dt.date(2024, 12, 5),
           "invoice_month": dt.date(2024, 12, 1), "due_date": dt.date(2025, 1, 4), "amount": 120,
           "status": "posted"}


@pytest.mark.parametrize("name", OPTIONAL_SUITES[1:])
def test_an_empty_optional_dataset_of_issue_10_passes(built, suites, name):
    empty = copy_of(built, f"staging.{suites[name].model}", empty=True)
    results = run(built, suites[name], empty)
    assert failed(results) == set()
    assert len(results) > 5  # the suite did run its checks (columns, key, references, …)


def test_bad_invoices_are_caught_blocking(built, suites):
    table = copy_of(built, "staging.stg_invoices", empty=True)
    insert(built, table, **INVOICE)
    assert failed(run(built, suites["invoices"], table)) == set()
    insert(built, table, **{**INVOICE, "doc_id": "INV2", "due_date": dt.date(2024, 12, 1)})
    insert(built, table, **{**INVOICE, "doc_id": "INV3", "amount": -1})
    insert(built, table, **{**INVOICE, "doc_id": "INV4", "client_id": "NOBODY", "status": "draft"})
    insert(built, table, **{**INVOICE, "doc_id": "INV5", "amount": float("nan"),
                            "doc_date": dt.date(1999, 12, 31), "due_date": dt.date(1999, 12, 31)})
    insert(built, table, **INVOICE)  # the key twice
    results = run(built, suites["invoices"], table)
    assert failed(results) == {
        "unexpected_rows_expectation(due_date_not_before_doc_date)", "unexpected_rows_expectation(amount_not_negative)",
        known("client_id"), "expect_column_values_to_be_in_set(status)", "expect_column_values_to_be_between(amount)",
        "expect_column_values_to_be_between(doc_date)", "expect_column_values_to_be_unique(doc_id)"}
    assert all(results[name].blocks_publication for name in failed(results))


def test_a_payment_for_an_unknown_invoice_blocks(built, suites):
    invoices = copy_of(built, "staging.stg_invoices", empty=True)
    insert(built, invoices, **INVOICE)
    payments = copy_of(built, "staging.stg_payments", empty=True)
    payment = {"payment_id": "PAY1", "doc_id": "INV1", "client_id": "A_regular",
               "payment_date": dt.date(2024, 12, 20), "payment_month": dt.date(2024, 12, 1), "amount": -10}
    insert(built, payments, **payment)

    def check(relation: str) -> dict[str, qx.CheckResult]:
        results = qx.validate(built, [suites["payments"]], PARAMS, "test",
                              {**RELATIONS, "stg_payments": relation, "stg_invoices": invoices})
        return {r.check_name: r for r in results}

    assert {n for n, r in check(payments).items() if not r.success} == set()  # a reversal is fine
    insert(built, payments, **{**payment, "doc_id": "NEVER_SENT"})
    results = check(payments)
    assert {n for n, r in results.items() if not r.success} == {known("doc_id")}
    assert results[known("doc_id")].blocks_publication


def test_audits_naming_an_unknown_point_or_sku_block(built, suites):
    table = copy_of(built, "staging.stg_retail_audits", empty=True)
    audit = {"audit_id": "AU1", "audit_date": dt.date(2024, 12, 3), "audit_month": dt.date(2024, 12, 1),
             "point_id": "P_A_regular", "rep_id": "RP1", "sku": "S1", "is_present": True, "is_planogram_ok": False}
    insert(built, table, **audit)
    assert failed(run(built, suites["retail_audits"], table)) == set()
    insert(built, table, **{**audit, "sku": "S404"})
    insert(built, table, **{**audit, "sku": "S2", "point_id": "P_NOWHERE", "is_planogram_ok": None})
    results = run(built, suites["retail_audits"], table)
    assert failed(results) == {known("sku"), known("point_id"),
                               "expect_column_values_to_not_be_null(is_planogram_ok)"}
    assert all(results[name].blocks_publication for name in failed(results))


def test_unknown_status_blocks_with_the_value_shown(built, suites):
    table = copy_of(built, "staging.stg_shipments")
    insert(built, table, **{**SHIPMENT, "status": "draft"})
    results = run(built, suites["shipments"], table)
    assert failed(results) == {"expect_column_values_to_be_in_set(status)"}
    check = results["expect_column_values_to_be_in_set(status)"]
    assert check.blocks_publication and check.observed["unexpected_count"] == 1
    assert "draft" in check.observed["partial_unexpected_list"]
    assert qx.blocking_failures(results.values()) == [check]


def test_shipments_naming_unknown_references_block_with_example_rows(built, suites):
    table = copy_of(built, "staging.stg_shipments")
    insert(built, table, **{**SHIPMENT, "doc_id": "X2", "client_id": "GHOST"})
    insert(built, table, **{**SHIPMENT, "doc_id": "X3", "point_id": "P_GHOST"})
    insert(built, table, **{**SHIPMENT, "doc_id": "X4", "sku": "S_GHOST"})
    insert(built, table, **{**SHIPMENT, "doc_id": "X5", "document_manager_id": "MG_GHOST"})
    results = run(built, suites["shipments"], table)
    assert failed(results) == {known("client_id"), known("point_id"), known("sku"),
                               known("document_manager_id")}
    [example] = results[known("client_id")].observed["partial_unexpected_list"]
    assert (example["doc_id"], example["client_id"]) == ("X2", "GHOST")
    assert {r.check_name for r in qx.blocking_failures(results.values())} == {
        known("client_id"), known("point_id"), known("sku")}  # the waybill's manager: a warning


def test_a_month_close_checks_the_rows_of_its_dirty_months(built, suites):
    """rows_from (the build's rebuild_from) limits the row checks, not the table-level ones."""
    table = copy_of(built, "staging.stg_shipments")
    insert(built, table, **{**SHIPMENT, "doc_id": "OLD", "doc_date": dt.date(2024, 3, 5),
                            "shipment_month": dt.date(2024, 3, 1), "status": "draft"})
    suite = suites["shipments"]
    assert suite.month_column == "shipment_month"
    everything = qx.validate(built, [suite], PARAMS, "test", {**RELATIONS, suite.model: table})
    dirty = qx.validate(built, [suite], PARAMS, "test", {**RELATIONS, suite.model: table},
                        rows_from="2024-11-01")
    status = "expect_column_values_to_be_in_set(status)"
    # March was checked when it was loaded; a close rebuilding from November reads November on
    assert [r.check_name for r in dirty] == [r.check_name for r in everything]
    assert {r.check_name for r in everything if not r.success} == {status}
    assert all(r.success for r in dirty)
    scoped = {r.check_name: r.details().get("rows") for r in dirty}
    assert scoped[status] == "shipment_month >= date '2024-11-01'"
    # the columns present and "not empty" read the same rows: the columns are those of any rows,
    # and rows of November on that are not empty prove the table is not
    assert {k: v for k, v in scoped.items() if k.startswith("expect_table_")} == {
        "expect_table_columns_to_match_set(columns)": scoped[status],
        "expect_table_row_count_to_be_between()": scoped[status]}
    # no row in the dirty months: "not empty" is asked of the whole table, which passes
    later = {r.check_name: r for r in qx.validate(built, [suite], PARAMS, "test", {**RELATIONS, suite.model: table},
                                                  rows_from="2030-01-01")}
    not_empty = later["expect_table_row_count_to_be_between()"]
    assert not_empty.success and not_empty.details().get("rows") is None
    columns = later["expect_table_columns_to_match_set(columns)"]
    assert columns.details()["rows"] == "shipment_month >= date '2030-01-01'"
    # a bad row inside the dirty months is caught as before
    insert(built, table, **{**SHIPMENT, "doc_id": "NEW", "status": "draft"})
    again = qx.validate(built, [suite], PARAMS, "test", {**RELATIONS, suite.model: table}, rows_from="2024-11-01")
    assert {r.check_name for r in again if not r.success} == {status}
    # reference lists have no month column: always every row
    assert suites["clients"].month_column is None


def test_the_volume_check_reads_its_history_window_of_the_dirty_months(built, suites):
    """The volume check compares a run month with its trailing months: it reads those, not all."""
    suite = suites["shipment_volume"]
    assert (suite.month_column, suite.history_months) == ("shipment_month", "volume_history_months")
    table = copy_of(built, "staging.stg_shipments")
    params = {**PARAMS, "months": ["2024-12-01"]}
    [whole] = qx.validate(built, [suite], params, "test", {**RELATIONS, suite.model: table})
    [scoped] = qx.validate(built, [suite], params, "test", {**RELATIONS, suite.model: table}, rows_from="2024-12-01")
    # six months back from the dirty month
    assert scoped.details()["rows"] == "shipment_month >= date '2024-06-01'"
    assert whole.details().get("rows") is None
    assert (scoped.success, scoped.observed) == (whole.success, whole.observed)
    # a run month before the dirty month cannot have changed: not checked again, its history not read
    # (its spike below would warn if it were)
    execute(built, f"insert into {table} select doc_id || '-copy' || copy, line_no, doc_date, shipment_month, "
                   f"client_id, point_id, sku, qty, revenue, cost, document_manager_id, status, updated_at, _batch_id "
                   f"from {table} cross join generate_series(1, 4) as copy where shipment_month = '2024-10-01'")
    params = {**PARAMS, "months": ["2024-10-01", "2024-12-01"]}
    [earlier] = qx.validate(built, [suite], params, "test", {**RELATIONS, suite.model: table}, rows_from="2024-12-01")
    assert earlier.details()["rows"] == "shipment_month >= date '2024-06-01'"
    assert earlier.success
    [every_row] = qx.validate(built, [suite], params, "test", {**RELATIONS, suite.model: table})
    assert not every_row.success and [r["month"] for r in every_row.observed["partial_unexpected_list"]] == [
        "2024-10-01"]
    with pytest.raises(qx.SuiteError, match="history_months"):
        qx.parse_suite({"name": "v", "model": "stg_shipments", "history_months": "nope",
                        "expectations": [{"type": "expect_table_row_count_to_be_between", "kwargs": {}}]})


def test_duplicates_dates_nan_and_missing_values_fail(built, suites):
    table = copy_of(built, "staging.stg_shipments")
    execute(built, f"insert into {table} select * from {table} where doc_id = 'D0001'")
    insert(built, table, **{**SHIPMENT, "doc_id": "X6", "doc_date": dt.date(2025, 2, 1)})
    insert(built, table, **{**SHIPMENT, "doc_id": "X7", "revenue": float("nan")})
    insert(built, table, **{**SHIPMENT, "doc_id": "X8", "sku": None})
    insert(built, table, **{**SHIPMENT, "doc_id": "X9", "qty": -1})
    results = run(built, suites["shipments"], table)
    assert failed(results) == {
        "expect_compound_columns_to_be_unique(doc_id, line_no)",
        "expect_column_values_to_be_between(doc_date)",
        "expect_column_values_to_be_between(revenue)",
        "expect_column_values_to_not_be_null(sku)",
        "unexpected_rows_expectation(qty_revenue_same_sign)",
    }
    assert results["expect_column_values_to_be_between(doc_date)"].kwargs["max_value"] == "2025-01-31"
    assert results["expect_column_values_to_be_between(revenue)"].observed[
        "partial_unexpected_list"] == ["NaN"]
    assert not results["unexpected_rows_expectation(qty_revenue_same_sign)"].blocks_publication


def test_a_retyped_or_dropped_column_blocks(built, suites):
    retyped = copy_of(built, "staging.stg_shipments")
    execute(built, f"alter table {retyped} alter column revenue type text")
    results = run(built, suites["shipments"], retyped)
    types = results["unexpected_rows_expectation(column_types)"]
    assert types.blocks_publication
    assert types.observed["partial_unexpected_list"] == [
        {"column_name": "revenue", "expected_type": "numeric", "actual_type": "text"}]

    dropped = copy_of(built, "staging.stg_products")
    execute(built, f"alter table {dropped} drop column category")
    results = run(built, suites["products"], dropped)
    columns = results["expect_table_columns_to_match_set(columns)"]
    assert columns.blocks_publication and columns.observed["mismatched"]["missing"] == ["category"]
    check = gate.Check("gx", "products", columns.check_name, "blocking", False, columns.details())
    assert "missing column(s) category" in check.describe()


def test_visits_and_plan_check_keys_and_references(built, suites):
    visits = copy_of(built, "staging.stg_visits", empty=True)
    row = {"visit_id": "V1", "visit_date": dt.date(2024, 12, 3), "visit_month": dt.date(2024, 12, 1),
           "rep_id": "RP1", "point_id": "P_A_regular", "result": "order"}
    insert(built, visits, **row)
    assert failed(run(built, suites["visits"], visits)) == set()
    insert(built, visits, **{**row, "rep_id": "RP_GHOST"})  # same visit_id, unknown rep
    insert(built, visits, **{**row, "visit_id": "V2", "result": "rescheduled"})
    results = run(built, suites["visits"], visits)
    assert failed(results) == {"expect_column_values_to_be_unique(visit_id)", known("rep_id"),
                               "expect_column_values_to_be_in_set(result)"}
    assert results["expect_column_values_to_be_in_set(result)"].severity == "warning"

    plan = copy_of(built, "staging.stg_visit_plan", empty=True)
    planned = {"plan_date": dt.date(2024, 12, 3), "plan_month": dt.date(2024, 12, 1),
               "rep_id": "RP1", "point_id": "P_A_regular"}
    insert(built, plan, **planned)
    insert(built, plan, **planned)
    insert(built, plan, **{**planned, "point_id": "P_GHOST"})
    assert failed(run(built, suites["visit_plan"], plan)) == {
        "expect_compound_columns_to_be_unique(plan_date, rep_id, point_id)", known("point_id")}


def test_reference_lists(built, suites):
    clients = copy_of(built, "staging.stg_clients")
    execute(built, f"update {clients} set tier = 'platinum', manager_id = 'MG_GHOST' "
                   "where client_id = 'A_regular'")
    execute(built, f"update {clients} set client_name = null where client_id = 'B_fades'")
    results = run(built, suites["clients"], clients)
    assert failed(results) == {"expect_column_values_to_be_in_set(tier)", known("manager_id"),
                               "expect_column_values_to_not_be_null(client_name)"}
    assert {r.check_name for r in qx.blocking_failures(results.values())} == {
        "expect_column_values_to_not_be_null(client_name)"}

    points = copy_of(built, "staging.stg_trade_points")
    execute(built, f"update {points} set territory = null, rep_id = 'RP_GHOST' "
                   "where point_id = 'P_A_regular'")
    assert failed(run(built, suites["trade_points"], points)) == {
        "expect_column_values_to_not_be_null(territory)", known("rep_id")}

    managers = copy_of(built, "staging.stg_managers")
    execute(built, f"insert into {managers} select * from {managers} where manager_id = 'MG1'")
    execute(built, f"update {managers} set role = 'rep' where manager_id = 'RP1'")
    results = run(built, suites["managers"], managers)
    assert failed(results) == {"expect_column_values_to_be_unique(manager_id)",
                               "expect_column_values_to_be_in_set(role)"}
    assert results["expect_column_values_to_be_in_set(role)"].severity == "warning"

    products = copy_of(built, "staging.stg_products", empty=True)
    assert failed(run(built, suites["products"], products)) == {
        "expect_table_row_count_to_be_between()"}  # a required list must not be empty


# ----------------------------------------------------------------- published tables: dbt tests


@contextmanager
def broken(url: str, table: str):
    """Break ``reporting_stage.<table>`` in the block; its rows are restored after."""
    backup = f"qa.{table}_backup_{next(_copies)}"
    execute(url, f"create table {backup} as select * from reporting_stage.{table}")
    try:
        yield f"reporting_stage.{table}"
    finally:
        execute(url, f"truncate reporting_stage.{table}")
        execute(url, f"insert into reporting_stage.{table} select * from {backup}")


class DbtOutcome:
    """``dbt test`` on the selected models, as the gate sees it (``tasks.dbt_checks``)."""

    def __init__(self, url: str, select: str, tmp_path: Path, **dbt_vars):
        self.target = tmp_path / f"dbt-test-{next(_runs)}"
        code = dbt.run_dbt(url, ["test", "--select", select, "--store-failures"], self.target,
                           vars={"report_month": REPORT_MONTH, **dbt_vars})
        assert code in (0, 1) and not dbt.node_errors(self.target)
        self.url = url
        results = dbt.test_results(self.target)
        assert [r.name for r in results if r.status == "error"] == []  # each test ran its SQL
        self.checks = {c.name: c for c in tasks.dbt_checks(results)}
        self.decision = gate.decide(list(self.checks.values()), RUN_MONTHS)

    @property
    def failed(self) -> set[str]:
        return {name for name, check in self.checks.items() if not check.success}

    @property
    def blocking(self) -> set[str]:
        return {c.name for c in self.decision.blocking_failures}

    def rows(self, name: str) -> list[dict]:
        """The failing rows dbt stored for test ``name`` (``--store-failures``)."""
        nodes = json.loads((self.target / "manifest.json").read_text())["nodes"]
        [relation] = [n["relation_name"] for uid, n in nodes.items()
                      if uid.startswith("test.") and n["name"] == name]
        with psycopg.connect(self.url) as conn:
            cur = conn.execute(f"select * from {relation}")
            columns = [c.name for c in cur.description]
            return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]

    def message_names(self, name: str) -> None:
        """The gate's message names the check, its source and the number of failing rows."""
        check = self.checks[name]
        assert f"[dbt] dbt tests: {name} — {check.details['failures']} failing rows" \
            in self.decision.message()


def named(outcome: DbtOutcome, generic: str, model: str, column: str = "") -> str:
    """The generated name of a generic dbt test of ``model`` (and ``column``), exactly one."""
    prefix = f"{generic}_{model}_{column}" if column else f"{generic}_{model}_"
    [name] = [n for n in outcome.checks if n.startswith(prefix)]
    return name


def test_status_summary_counts_and_shares_must_add_up(built, tmp_path):
    with broken(built, "status_summary_monthly") as summary:
        execute(built, f"update {summary} set clients = clients + 1, share = 1.5 "
                       "where month = %s and manager_id = 'MG1' and status = 'stabilized'",
                (REPORT_MONTH,))
        outcome = DbtOutcome(built, "status_summary_monthly", tmp_path)
    share_range = named(outcome, "expression_is_true", "status_summary_monthly", "share__share_between")
    assert outcome.failed == outcome.blocking == {
        share_range, "assert_status_summary_counts_match_client_status",
        "assert_status_shares_sum_to_one", "assert_status_summary_managers_add_up"}
    assert not outcome.decision.passed
    [mismatch] = outcome.rows("assert_status_summary_counts_match_client_status")
    assert mismatch["manager_id"] == "MG1" and mismatch["month"].isoformat() == REPORT_MONTH
    assert mismatch["summary_clients"] == mismatch["client_status_rows"] + 1
    outcome.message_names("assert_status_summary_counts_match_client_status")


def test_every_month_is_checked_and_none_may_be_missing(built, tmp_path):
    """dbt tests check every month of the spine, not only the run's: a broken June blocks too."""
    with broken(built, "status_flow_monthly") as flow:
        execute(built, f"update {flow} set clients = clients + 1, to_status = 'archived' "
                       f"where ctid = (select ctid from {flow} where month = '2024-06-01' limit 1)")
        june = DbtOutcome(built, "status_flow_monthly", tmp_path)
    assert june.failed == june.blocking == {
        named(june, "accepted_values", "status_flow_monthly", "to_status"),
        "assert_status_flow_counts_every_client"}
    assert {(r["side"], r["month"].isoformat()) for r in
            june.rows("assert_status_flow_counts_every_client")} >= {("to_status", "2024-06-01")}
    with broken(built, "status_flow_monthly") as flow:
        execute(built, f"delete from {flow} where month = %s", (REPORT_MONTH,))
        missing = DbtOutcome(built, "status_flow_monthly", tmp_path)
    every_month = named(missing, "has_every_month", "status_flow_monthly")
    assert missing.failed == missing.blocking == {every_month, "assert_status_flow_counts_every_client"}
    assert [r["month"].isoformat() for r in missing.rows(every_month)] == [REPORT_MONTH]
    missing.message_names(every_month)


def test_client_status_rows_must_agree_with_the_rules(built, tmp_path):
    with broken(built, "client_status_monthly") as statuses:
        execute(built, f"update {statuses} set is_new_this_month = true, months_inactive = null "
                       f"where ctid = (select ctid from {statuses} where month = %s and client_id <> "
                       "'A_regular' and status not in ('new', 'potential') limit 1)", (REPORT_MONTH,))
        execute(built, f"delete from {statuses} where month = %s and client_id = 'A_regular'",
                (REPORT_MONTH,))
        outcome = DbtOutcome(built, "client_status_monthly", tmp_path)
    assert {"client_status_events_match_status", "client_status_potential_iff_never_active",
            "assert_client_status_covers_every_client_month"} <= outcome.blocking
    # the other tables are built from it: they no longer agree with the broken copy
    assert outcome.failed - {"client_status_events_match_status",
                             "client_status_potential_iff_never_active",
                             "assert_client_status_covers_every_client_month"} <= {
        "assert_status_summary_counts_match_client_status",
        "assert_rotation_candidates_match_client_status",
        "assert_churn_risk_scores_every_client_of_the_base"}
    [gap] = outcome.rows("assert_client_status_covers_every_client_month")
    assert (gap["client_id"], gap["month"].isoformat(), gap["is_published"]) == (
        "A_regular", REPORT_MONTH, False)


def test_coverage_counts_ratios_and_dimensions_must_agree(built, tmp_path):
    with broken(built, "coverage_monthly") as coverage:
        # territory: more stable than 3-month АКБ and more АКБ than 3-month АКБ; no longer adds up
        execute(built, f"update {coverage} set stable_akb_3m = akb_3m + 1, akb = akb_3m + 3 "
                       "where month = %s and dimension = 'territory'", (REPORT_MONTH,))
        # rep: a ratio of 0 where its denominator (pakb) is 0 must be NULL
        execute(built, f"update {coverage} set coverage_pakb = 0 "
                       "where month = %s and dimension = 'rep' and pakb = 0", (REPORT_MONTH,))
        execute(built, f"update {coverage} set coverage_okb = 1.5 "
                       "where month = %s and dimension = 'total'", (REPORT_MONTH,))
        execute(built, f"delete from {coverage} where month = %s and dimension = 'channel'",
                (RUN_MONTHS[0],))
        outcome = DbtOutcome(built, "coverage_monthly", tmp_path)
    stable = named(outcome, "expression_is_true", "coverage_monthly", "stable_akb_3m")
    akb = named(outcome, "expression_is_true", "coverage_monthly", "akb_akb_3m")
    ratio = named(outcome, "null_exactly_when_zero", "coverage_monthly", "coverage_pakb")
    # the matrix's lines 6 (stable АКБ) of the territory no longer agree with coverage either
    assert outcome.blocking == {stable, akb, ratio, "coverage_monthly_has_every_dimension",
                                "assert_coverage_dimensions_add_up",
                                "assert_kpi_matrix_agrees_with_coverage_and_visits"}
    assert outcome.failed == outcome.blocking | {"coverage_okb_at_most_one"}
    assert [c.name for c in outcome.decision.warnings] == ["coverage_okb_at_most_one"]
    assert [(r["month"].isoformat(), r["value"]) for r in
            outcome.rows("coverage_monthly_has_every_dimension")] == [(RUN_MONTHS[0], "channel")]
    [gap] = outcome.rows("assert_coverage_dimensions_add_up")
    assert (gap["month"].isoformat(), gap["dimension"]) == (REPORT_MONTH, "territory")
    assert gap["akb"] == gap["akb_3m"] + 3

    # ratios above 1 with usable denominators: coverage_pakb passes, coverage_okb only warns
    with broken(built, "coverage_monthly") as over_one:
        execute(built, f"update {over_one} set pakb = 1, coverage_pakb = 2.5, coverage_okb = 1.2 "
                       "where month = %s", (REPORT_MONTH,))
        outcome = DbtOutcome(built, "coverage_monthly", tmp_path)
    assert outcome.failed == {"coverage_okb_at_most_one"}
    assert outcome.decision.passed and outcome.blocking == set()


def test_category_coverage_follows_the_products_list_and_the_months_akb(built, tmp_path):
    with broken(built, "category_coverage_monthly") as categories:
        insert(built, categories, month=dt.date(2024, 12, 1), category="ghost", category_akb=0,
               akb=1, category_coverage=0, buying_points=0)
        execute(built, f"update {categories} set category_akb = akb + 5, akb = akb + 1 "
                       "where month = %s and category = 'cat1'", (RUN_MONTHS[0],))
        execute(built, f"update {categories} set category_coverage = null "
                       "where month = %s and category = 'cat1'", (REPORT_MONTH,))
        outcome = DbtOutcome(built, "category_coverage_monthly", tmp_path)
    known_category = named(outcome, "relationships", "category_coverage_monthly", "category")
    within = named(outcome, "expression_is_true", "category_coverage_monthly", "category_akb_akb")
    ratio = named(outcome, "null_exactly_when_zero", "category_coverage_monthly", "category_coverage")
    assert {known_category, within, ratio, "assert_category_akb_is_the_months_akb"} <= outcome.blocking
    # category_akb = akb + 5 also exceeds the points buying the category at all
    assert outcome.failed - {known_category, within, ratio, "assert_category_akb_is_the_months_akb"} \
        <= {named(outcome, "expression_is_true", "category_coverage_monthly", "category_akb_buying")}
    rows = {r["month"].isoformat(): r for r in outcome.rows("assert_category_akb_is_the_months_akb")}
    # December: 2 category rows where the products list has 1 category
    assert execute(built, "select count(distinct category) from staging.stg_products") == [(1,)]
    assert rows[REPORT_MONTH]["categories"] == 2
    assert rows[RUN_MONTHS[0]]["max_akb"] == rows[RUN_MONTHS[0]]["akb"] + 1


def test_visits_counts_ratios_and_plan_must_agree(built, tmp_path):
    with broken(built, "visits_monthly") as visits:
        # December: more effective orders than orders; 3 planned visits no plan row explains,
        # ratios left NULL
        execute(built, f"update {visits} set effective_orders = orders + 1, planned_visits = 3 "
                       "where month = %s and rep_id = 'RP1'", (REPORT_MONTH,))
        insert(built, visits, month=dt.date(2024, 11, 1), rep_id="RP_GHOST", planned_visits=0,
               actual_visits=0, orders=0, effective_orders=0, stt_3m=0, akb_3m=0, akb=0,
               assigned_points=1, revenue=0, margin=0)
        outcome = DbtOutcome(built, "visits_monthly", tmp_path)
    within = named(outcome, "expression_is_true", "visits_monthly", "effective_orders")
    known_rep = named(outcome, "relationships", "visits_monthly", "rep_id")
    ratios = {n for n in outcome.failed if n.startswith("null_exactly_when_zero_visits_monthly_")}
    assert {n.split("visits_monthly_")[1].split("__")[0] for n in ratios} == {
        "visit_effectiveness", "kpd_effectiveness"}
    assert outcome.blocking == {within, "assert_visits_reps_add_up_to_coverage", *ratios}
    assert [c.name for c in outcome.decision.warnings] == [known_rep]  # unknown rep: a warning
    problems = {(r["month"].isoformat(), r["rep_id"], r["problem"])
                for r in outcome.rows("assert_visits_reps_add_up_to_coverage")}
    assert (REPORT_MONTH, None, "planned visits do not add up to the visit plan") in problems
    assert (RUN_MONTHS[0], "RP_GHOST", "akb / akb_3m differ from coverage by rep") in problems

    # effectiveness above 1 and a negative useful income share are valid values, not failures
    with broken(built, "visits_monthly") as ratios_table:
        execute(built, f"update {ratios_table} set visit_effectiveness = 2.5, kpd_effectiveness = 1.5, "
                       "margin_per_order = 10, useful_income_share = -0.4 "
                       "where month = %s and planned_visits > 0", (REPORT_MONTH,))
        execute(built, f"update {ratios_table} set visit_effectiveness = 2.5 "
                       "where month = %s and planned_visits > 0", (RUN_MONTHS[0],))
        outcome = DbtOutcome(built, "visits_monthly", tmp_path)
    # useful_income_share without rep costs stays a ratio of a known margin: NULL exactly at 0
    assert outcome.failed <= {named(outcome, "null_exactly_when_zero", "visits_monthly",
                                    "useful_income_share")}


def test_scorecard_must_agree_with_client_status_and_rotation_list(built, tmp_path):
    with broken(built, "manager_scorecard_monthly") as scorecard:
        execute(built, f"update {scorecard} set active_clients = clients + 1, handover_candidates = 1 "
                       "where month = %s and manager_id = 'MG1'", (REPORT_MONTH,))  # MG1 is a farmer
        execute(built, f"update {scorecard} set clients = clients + 1, rotation_candidates = 0, "
                       "overloaded = true where month = %s and manager_id = 'MG2'", (REPORT_MONTH,))
        execute(built, f"update {scorecard} set new_clients = clients + 1 "
                       "where month = %s and manager_id = 'MG1'", (RUN_MONTHS[0],))
        outcome = DbtOutcome(built, "manager_scorecard_monthly", tmp_path)
    active = named(outcome, "expression_is_true", "manager_scorecard_monthly", "active_clients")
    hunters = named(outcome, "expression_is_true", "manager_scorecard_monthly", "handover")
    assert outcome.failed == outcome.blocking == {
        active, hunters, "scorecard_client_counts_within_clients",
        "scorecard_overloaded_matches_client_base", "assert_scorecard_matches_status_summary"}
    rows = {r["manager_id"]: r for r in outcome.rows("assert_scorecard_matches_status_summary")}
    assert set(rows) == {"MG2"}
    assert (rows["MG2"]["clients"], rows["MG2"]["client_base"]) == (2, 1)
    assert (rows["MG2"]["rotation_candidates"], rows["MG2"]["listed_rotation_candidates"]) == (0, 1)


def test_rotation_candidates_must_be_the_inactive_clients_of_the_base(built, tmp_path):
    with broken(built, "rotation_candidates") as rotation:
        execute(built, f"delete from {rotation} where month = %s", (REPORT_MONTH,))
        # A_regular is MG1's, active (stabilized, months_inactive 0): listed under MG2, inactive 1,
        # potential
        insert(built, rotation, month=dt.date(2024, 11, 1), client_id="A_regular", manager_id="MG2",
               months_inactive=1, revenue_12m=0, status="potential")
        outcome = DbtOutcome(built, "rotation_candidates", tmp_path)
    inactive = named(outcome, "value_between", "rotation_candidates", "months_inactive")
    status = named(outcome, "accepted_values", "rotation_candidates", "status")
    assert outcome.blocking == {inactive, status, "assert_rotation_candidates_match_client_status",
                                "assert_scorecard_matches_status_summary"}  # its count disagrees
    # an empty month may be right: a warning (the blocking check is the list's completeness)
    assert [c.name for c in outcome.decision.warnings] == ["rotation_candidates_has_every_month"]
    problems = {(r["month"].isoformat(), r["client_id"]): r
                for r in outcome.rows("assert_rotation_candidates_match_client_status")}
    assert problems[(REPORT_MONTH, "L_back_from_dormant")]["months_inactive"] == 5
    assert problems[(REPORT_MONTH, "L_back_from_dormant")]["problem"] == \
        "inactive client of the base not listed"
    assert problems[(RUN_MONTHS[0], "A_regular")]["problem"] == \
        "listed but not an inactive client of the base"

    # the threshold is the dbt var rotation_after_months: checked at 6 months, the 4- and
    # 5-month candidates are listed too early
    outcome = DbtOutcome(built, "rotation_candidates", tmp_path, rotation_after_months=6)
    assert outcome.blocking == {inactive, "assert_rotation_candidates_match_client_status"}
    assert {r["months_inactive"] for r in outcome.rows(inactive)} <= {2, 3, 4, 5}


def test_validate_task_renders_data_docs_and_the_gate_names_them(built, built_target):
    """tasks.validate on the built warehouse: a bad raw row blocks; the message names the docs."""
    from clientbase.quality import data_docs

    # the run's dbt manifest resolves the suites' models, as dbt_build leaves it
    (tasks.run_dir("docs-test") / "dbt").mkdir(parents=True, exist_ok=True)
    shutil.copy(built_target / "manifest.json", tasks.run_dir("docs-test") / "dbt" / "manifest.json")
    # a raw row the loader would have refused, as if it had slipped through
    execute(built, "insert into raw.shipments (doc_id, line_no, doc_date, client_id, point_id, sku, "
                   "qty, revenue, status, _batch_id, _line_no) values "
                   "('BAD1', 1, '2024-12-20', 'A_regular', 'P_A_regular', 'S1', 1, 10, 'draft', 999999, 1)")
    tasks.acquire_month_close("docs-test", "test")  # the task runs under the run's lease
    try:
        checks = [gate.Check(**c) for c in tasks.validate(RUN_MONTHS, "docs-test")]
    finally:
        tasks.release_month_close("docs-test")
        execute(built, "delete from raw.shipments where _batch_id = 999999")
    decision = gate.decide(checks, RUN_MONTHS)
    assert not decision.passed
    assert {(c.suite, c.name) for c in decision.blocking_failures} == {
        ("shipments", "expect_column_values_to_be_in_set(status)")}
    run_index = tasks.run_dir("docs-test") / "gx" / "data_docs" / "index.html"
    latest = data_docs.latest_dir() / "index.html"
    assert run_index.is_file() and latest.is_file()
    assert "docs-test" in latest.read_text()
    message = decision.message()
    assert f"GX Data Docs of this run: {run_index.resolve()}" in message
    assert str(latest) in message
    pages = list((run_index.parent / "validations" / "shipments" / "docs-test").rglob("*.html"))
    assert len(pages) == 1
    page = pages[0].read_text()
    assert "values must belong to this set" in page and "draft" in page  # the failing value


def test_every_suite_and_dbt_test_passes_on_the_field_ops_scenario(warehouse, suites, tmp_path_factory):
    """The second golden scenario (visits, plans, rep costs, two categories, a hunter) passes too.

    Last in the module: it rebuilds the warehouse, so the status_rules tables are gone after it.
    """
    target = build_scenario(warehouse, FIELD_OPS_LANDING, FIELD_OPS_MONTHS[-1], tmp_path_factory)
    for table in ("stg_visits", "stg_visit_plan", "stg_rep_costs"):  # what status_rules lacks
        assert execute(warehouse, f"select count(*) > 0 from staging.{table}") == [(True,)], table
    relations = qx.relations_from_manifest(target / "manifest.json",
                                           set().union(*(s.models for s in suites.values())))
    results = qx.validate(warehouse, list(suites.values()), {**PARAMS, "months": FIELD_OPS_MONTHS},
                          "field_ops", relations)
    assert {r.suite for r in results} == set(suites)
    assert [(r.suite, r.check_name, r.observed) for r in results if not r.success] == []
