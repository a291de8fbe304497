"""The GX suites of the publication gate, against a warehouse built by the real pipeline.

The golden scenario ``status_rules`` is loaded by the loader and built by dbt (staging
views, the reporting candidates of the suites), once for the module. Each test copies the
relation a suite checks into a ``qa`` table, breaks the copy, and points the suite at it:
the reference lists the SQL checks look up stay the real staging views. The scenario has
no visits, visit plan or rep costs: those suites also show that an empty table passes.
The last test rebuilds the warehouse from the second scenario, ``field_ops`` (visits, plans,
rep costs, several reps and categories), and runs every suite on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.quality import expectations as qx
from clientbase.quality import gate

from conftest import SCENARIOS, reset_warehouse

SUITES_DIR = Path(__file__).resolve().parents[1] / "expectations"
FIELD_OPS_LANDING = Path(__file__).resolve().parent / "scenarios" / "field_ops" / "landing"
FIELD_OPS_MONTHS = [f"2024-{m:02d}-01" for m in range(1, 7)]
REPORT_MONTH = "2024-12-01"
RUN_MONTHS = ["2024-11-01", REPORT_MONTH]
PARAMS = {"max_date": dt.date(2025, 1, 31), "months": RUN_MONTHS}
# The staging views and every published table (reporting/), with all they are built from.
MODELS = "staging +reporting"
SOURCE_SUITES = {"shipments", "visits", "visit_plan", "clients", "trade_points", "managers",
                 "products", "rep_costs"}
REPORTING_SUITES = {"client_status_monthly", "status_summary_monthly", "status_flow_monthly",
                    "coverage_monthly", "category_coverage_monthly", "visits_monthly",
                    "manager_scorecard_monthly", "rotation_candidates"}
_copies = itertools.count(1)


@pytest.fixture(scope="module")
def suites() -> dict[str, qx.SuiteSpec]:
    return {s.name: s for s in qx.load_suites(SUITES_DIR)}


def build_scenario(url: str, landing_dir: Path, report_month: str, tmp_path_factory) -> str:
    """A scenario's landing folder extracted and built by dbt (no gate, no publication)."""
    from clientbase import tasks
    from clientbase.transform import dbt

    reset_warehouse(url)
    landing = tmp_path_factory.mktemp(landing_dir.parent.name) / "landing"
    shutil.copytree(landing_dir, landing)
    params = {"landing_dir": str(landing)}
    tasks.extract(SHIPMENTS_FLOW, params)
    tasks.extract(VISITS_FLOW, params)
    target = tmp_path_factory.mktemp("dbt")
    code = dbt.run_dbt(url, ["build", "--select", MODELS, "--indirect-selection", "cautious"],
                       target, vars={"report_month": report_month})
    assert code == 0 and not dbt.node_errors(target), dbt.node_errors(target)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists qa cascade")
        conn.execute("create schema qa")
    return url


@pytest.fixture(scope="module")
def built(warehouse, tmp_path_factory) -> str:
    """status_rules extracted and built by dbt (no gate, no publication)."""
    return build_scenario(warehouse, SCENARIOS / "status_rules" / "landing", REPORT_MONTH,
                          tmp_path_factory)


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
    results = qx.validate(url, [suite.with_relation(relation)], params, "test")
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


def test_every_dataset_and_published_table_has_a_suite_with_consistent_severity(suites):
    assert set(suites) >= SOURCE_SUITES | REPORTING_SUITES | {"shipment_volume"}
    for suite in suites.values():
        raw = json.loads(suite.path.read_text())
        assert suite.path.stem == suite.name
        for item, spec in zip(raw["expectations"], suite.expectations[-len(raw["expectations"]):]):
            # both spellings written out, and they agree
            assert (item["meta"]["severity"], item["severity"]) in {("blocking", "critical"),
                                                                   ("warning", "warning")}
            assert spec.severity == item["meta"]["severity"]
        if "columns" in raw:  # declared columns become two blocking checks, first
            assert [e.check_name for e in suite.expectations[:2]] == [
                "expect_table_columns_to_match_set(columns)",
                "unexpected_rows_expectation(column_types)"]
    for name in SOURCE_SUITES:
        assert suites[name].relation.startswith("staging.stg_"), name
        assert suites[name].parameters <= {"max_date"}
    for name in REPORTING_SUITES:
        assert suites[name].relation == f"reporting_stage.{name}"
        assert suites[name].parameters == {"months"}  # only the run's months are checked
    severities = {e.check_name: e.severity for e in suites["shipments"].expectations}
    assert severities["expect_column_values_to_be_in_set(status)"] == "blocking"
    assert severities[known("client_id")] == "blocking"
    assert severities[known("document_manager_id")] == "warning"
    assert severities["unexpected_rows_expectation(qty_revenue_same_sign)"] == "warning"
    assert {e.check_name: e.severity for e in suites["shipment_volume"].expectations} == {
        "unexpected_rows_expectation(volume_swing)": "warning"}


def test_reporting_suite_thresholds_are_the_dbt_vars(suites):
    """The thresholds a reporting suite repeats default to the dbt vars the models use."""
    from clientbase.transform import dbt

    project = dbt.project_vars()
    assert suites["rotation_candidates"].defaults["rotation_after_months"] == \
        project["rotation_after_months"]
    scorecard = suites["manager_scorecard_monthly"].defaults
    assert scorecard["hunter_role"] == project["hunter_role"]
    assert scorecard["max_active_clients_per_manager"] == project["max_active_clients_per_manager"]
    # the ratios that may exceed 1 by definition are never capped at 1 by a blocking check
    for suite, column in [("coverage_monthly", "coverage_pakb"), ("coverage_monthly", "coverage_okb"),
                          ("visits_monthly", "visit_effectiveness"),
                          ("visits_monthly", "kpd_effectiveness"),
                          ("visits_monthly", "useful_income_share")]:
        caps = [e for e in suites[suite].expectations if e.kwargs.get("column") == column
                and e.severity == "blocking" and e.kwargs.get("max_value") == 1]
        assert caps == [], (suite, column)


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
    bad({"columns": {"a": "text; drop table y"}}, "PostgreSQL type")
    bad({"where": ""}, "where")
    bad({"parameters": {"tolerance": True}}, "parameters")


def test_sql_parameters_render_as_literals_and_missing_ones_fail_early(suites):
    assert qx.sql_literal(["2024-11-01", dt.date(2024, 12, 1)]) == \
        "array[date '2024-11-01', date '2024-12-01']"
    assert qx.sql_literal("it's") == "'it''s'"
    assert qx.sql_literal(0.5) == "0.5"
    with pytest.raises(ValueError, match="empty list"):
        qx.sql_literal([])
    with pytest.raises(ValueError, match="months"):
        qx.validate("postgresql://nobody@127.0.0.1:1/none", [suites["client_status_monthly"]],
                    {"max_date": "2025-01-31"}, "r")
    with pytest.raises(ValueError, match="max_date"):
        qx.validate("postgresql://nobody@127.0.0.1:1/none", [suites["shipments"]], {}, "r")


# ----------------------------------------------------------------- the scenario as built


def test_the_golden_scenario_passes_every_source_and_reporting_check(built, suites):
    names = sorted(SOURCE_SUITES | REPORTING_SUITES)
    results = qx.validate(built, [suites[n] for n in names], PARAMS, "clean")
    assert {r.suite for r in results} == set(names)
    assert [(r.suite, r.check_name, r.observed) for r in results if not r.success] == []
    # rep_costs, visits and visit_plan are empty in this scenario: empty passes
    assert execute(built, "select count(*) from staging.stg_rep_costs") == [(0,)]


def test_empty_optional_rep_costs_passes_and_bad_costs_are_caught(built, suites):
    empty = copy_of(built, "staging.stg_rep_costs", empty=True)
    assert failed(run(built, suites["rep_costs"], empty)) == set()
    insert(built, empty, cost_month=dt.date(2024, 12, 1), rep_id="RP1", salary=-5, car_cost=1, fuel_cost=1)
    insert(built, empty, cost_month=dt.date(2024, 12, 1), rep_id="NOBODY", salary=5)
    results = run(built, suites["rep_costs"], empty)
    assert failed(results) == {"unexpected_rows_expectation(costs_not_negative)", known("rep_id")}
    assert results[known("rep_id")].blocks_publication
    assert not results["unexpected_rows_expectation(costs_not_negative)"].blocks_publication


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


def test_status_summary_counts_and_shares_must_add_up(built, suites):
    summary = copy_of(built, "reporting_stage.status_summary_monthly")
    execute(built, f"update {summary} set clients = clients + 1, share = 1.5 "
                   "where month = %s and manager_id = 'MG1' and status = 'stabilized'", (REPORT_MONTH,))
    results = run(built, suites["status_summary_monthly"], summary)
    assert failed(results) == {"expect_column_values_to_be_between(share)",
                               "unexpected_rows_expectation(clients_match_client_status)",
                               "unexpected_rows_expectation(shares_sum_to_one)"}
    [mismatch] = results["unexpected_rows_expectation(clients_match_client_status)"].observed[
        "partial_unexpected_list"]
    assert mismatch["manager_id"] == "MG1" and mismatch["month"] == REPORT_MONTH
    assert mismatch["summary_clients"] == mismatch["client_status_rows"] + 1


def test_reporting_suites_check_only_the_months_of_the_run(built, suites):
    flow = copy_of(built, "reporting_stage.status_flow_monthly")
    execute(built, f"update {flow} set clients = clients + 1, to_status = 'archived' "
                   f"where ctid = (select ctid from {flow} where month = '2024-06-01' limit 1)")
    assert failed(run(built, suites["status_flow_monthly"], flow)) == set()  # June is not in the run
    june = run(built, suites["status_flow_monthly"], flow, {**PARAMS, "months": ["2024-06-01"]})
    assert failed(june) == {"expect_column_values_to_be_in_set(to_status)",
                            "unexpected_rows_expectation(clients_match_client_status)",
                            "unexpected_rows_expectation(from_status_matches_previous_month)"}
    future = run(built, suites["status_flow_monthly"], flow, {**PARAMS, "months": ["2025-01-01"]})
    assert failed(future) == {"unexpected_rows_expectation(every_run_month_present)",
                              "unexpected_rows_expectation(from_status_matches_previous_month)"}


def test_client_status_rows_must_agree_with_the_rules(built, suites):
    statuses = copy_of(built, "reporting_stage.client_status_monthly")
    execute(built, f"update {statuses} set is_new_this_month = true, months_inactive = null "
                   f"where ctid = (select ctid from {statuses} where month = %s and client_id <> "
                   "'A_regular' and status not in ('new', 'potential') limit 1)", (REPORT_MONTH,))
    execute(built, f"delete from {statuses} where month = %s and client_id = 'A_regular'",
            (REPORT_MONTH,))
    results = run(built, suites["client_status_monthly"], statuses)
    assert failed(results) == {"unexpected_rows_expectation(events_match_status)",
                               "unexpected_rows_expectation(potential_iff_never_active)",
                               "unexpected_rows_expectation(every_listed_client_every_month)"}


def rows(name: str) -> str:
    return f"unexpected_rows_expectation({name})"


def test_coverage_counts_ratios_and_dimensions_must_agree(built, suites):
    coverage = copy_of(built, "reporting_stage.coverage_monthly")
    # territory: more stable than 3-month АКБ and more АКБ than 3-month АКБ; no longer adds up
    execute(built, f"update {coverage} set stable_akb_3m = akb_3m + 1, akb = akb_3m + 3 "
                   "where month = %s and dimension = 'territory'", (REPORT_MONTH,))
    # rep: a ratio of 0 where its denominator (pakb) is 0 must be NULL
    execute(built, f"update {coverage} set coverage_pakb = 0 "
                   "where month = %s and dimension = 'rep' and pakb = 0", (REPORT_MONTH,))
    execute(built, f"update {coverage} set coverage_okb = 1.5 where month = %s and dimension = 'total'",
            (REPORT_MONTH,))
    execute(built, f"delete from {coverage} where month = %s and dimension = 'channel'", (RUN_MONTHS[0],))
    results = run(built, suites["coverage_monthly"], coverage)
    assert failed(results) == {rows("stable_akb_3m_within_akb_3m"), rows("akb_within_akb_3m"),
                               rows("ratios_null_exactly_when_denominator_zero"),
                               rows("every_dimension_present"), rows("dimensions_add_up_to_total"),
                               "expect_column_values_to_be_between(coverage_okb_at_most_one)"}
    assert not results["expect_column_values_to_be_between(coverage_okb_at_most_one)"].blocks_publication
    missing = results[rows("every_dimension_present")].observed["partial_unexpected_list"]
    assert missing == [{"run_month": RUN_MONTHS[0], "dimension": "channel"}]
    [gap] = results[rows("dimensions_add_up_to_total")].observed["partial_unexpected_list"]
    assert (gap["month"], gap["dimension"], gap["akb"] - gap["total_akb"]) == (
        REPORT_MONTH, "territory", gap["akb_3m"] + 3 - gap["total_akb"])

    # ratios above 1 with usable denominators: coverage_pakb passes, coverage_okb only warns
    over_one = copy_of(built, "reporting_stage.coverage_monthly")
    execute(built, f"update {over_one} set pakb = 1, coverage_pakb = 2.5, coverage_okb = 1.2 "
                   "where month = %s", (REPORT_MONTH,))
    results = run(built, suites["coverage_monthly"], over_one)
    assert failed(results) == {"expect_column_values_to_be_between(coverage_okb_at_most_one)"}
    assert qx.blocking_failures(results.values()) == []


def test_category_coverage_follows_the_products_list_and_the_months_akb(built, suites):
    categories = copy_of(built, "reporting_stage.category_coverage_monthly")
    insert(built, categories, month=dt.date(2024, 12, 1), category="ghost", category_akb=0, akb=1,
           category_coverage=0, buying_points=0)
    execute(built, f"update {categories} set category_akb = akb + 5, akb = akb + 1 "
                   "where month = %s and category = 'cat1'", (RUN_MONTHS[0],))
    execute(built, f"update {categories} set category_coverage = null "
                   "where month = %s and category = 'cat1'", (REPORT_MONTH,))
    results = run(built, suites["category_coverage_monthly"], categories)
    assert failed(results) == {known("category"), rows("every_listed_category_every_month"),
                               rows("category_akb_within_akb"), rows("akb_matches_coverage_total"),
                               rows("category_coverage_null_exactly_when_akb_zero")}
    [extra] = results[rows("every_listed_category_every_month")].observed["partial_unexpected_list"]
    assert (extra["run_month"], extra["categories"], extra["category_rows"]) == (REPORT_MONTH, 1, 2)
    [mismatch] = results[rows("akb_matches_coverage_total")].observed["partial_unexpected_list"]
    assert mismatch["akb"] == mismatch["coverage_total_akb"] + 1


def test_visits_counts_ratios_and_plan_must_agree(built, suites):
    visits = copy_of(built, "reporting_stage.visits_monthly")
    # December: more effective orders than orders; 3 planned visits no plan row explains, ratios left NULL
    execute(built, f"update {visits} set effective_orders = orders + 1, planned_visits = 3 "
                   "where month = %s and rep_id = 'RP1'", (REPORT_MONTH,))
    insert(built, visits, month=dt.date(2024, 11, 1), rep_id="RP_GHOST", planned_visits=0,
           actual_visits=0, orders=0, effective_orders=0, stt_3m=0, akb_3m=0, akb=0,
           assigned_points=1, revenue=0, margin=0)
    results = run(built, suites["visits_monthly"], visits)
    assert failed(results) == {rows("effective_orders_within_orders"),
                               rows("ratios_null_exactly_when_denominator_zero"),
                               rows("planned_visits_match_visit_plan"), known("rep_id")}
    assert not results[known("rep_id")].blocks_publication
    [plan] = results[rows("planned_visits_match_visit_plan")].observed["partial_unexpected_list"]
    assert (plan["month"], plan["rep_planned_visits"], plan["plan_rows"]) == (REPORT_MONTH, 3, 0)

    # effectiveness above 1 and a negative useful income share are valid values, not failures
    ratios = copy_of(built, "reporting_stage.visits_monthly")
    execute(built, f"update {ratios} set planned_visits = 1, visit_effectiveness = 2.5, "
                   "kpd_effectiveness = 1.5, margin_per_order = 10, useful_income_share = -0.4 "
                   "where month = %s", (REPORT_MONTH,))
    results = run(built, suites["visits_monthly"], ratios)
    assert failed(results) == {rows("planned_visits_match_visit_plan")}  # the plan has no row


def test_scorecard_must_agree_with_client_status_and_rotation_list(built, suites):
    scorecard = copy_of(built, "reporting_stage.manager_scorecard_monthly")
    execute(built, f"update {scorecard} set active_clients = clients + 1, handover_candidates = 1 "
                   "where month = %s and manager_id = 'MG1'", (REPORT_MONTH,))  # MG1 is a farmer
    execute(built, f"update {scorecard} set clients = clients + 1, rotation_candidates = 0, "
                   "overloaded = true where month = %s and manager_id = 'MG2'", (REPORT_MONTH,))
    execute(built, f"update {scorecard} set new_clients = clients + 1 "
                   "where month = %s and manager_id = 'MG1'", (RUN_MONTHS[0],))
    results = run(built, suites["manager_scorecard_monthly"], scorecard)
    assert failed(results) == {rows("active_clients_within_clients"),
                               rows("client_counts_within_clients"),
                               rows("handover_only_for_hunters"),
                               rows("overloaded_matches_active_clients"),
                               rows("clients_match_client_status"),
                               rows("rotation_candidates_match_list")}
    [base] = results[rows("clients_match_client_status")].observed["partial_unexpected_list"]
    assert (base["manager_id"], base["scorecard_clients"], base["client_base_rows"]) == ("MG2", 2, 1)
    [listed] = results[rows("rotation_candidates_match_list")].observed["partial_unexpected_list"]
    assert (listed["manager_id"], listed["scorecard_candidates"], listed["listed_candidates"]) == \
        ("MG2", 0, 1)


def test_rotation_candidates_must_be_the_inactive_clients_of_the_base(built, suites):
    rotation = copy_of(built, "reporting_stage.rotation_candidates")
    execute(built, f"delete from {rotation} where month = %s", (REPORT_MONTH,))
    # A_regular is MG1's, active (stabilized, months_inactive 0): listed under MG2, inactive 1, potential
    insert(built, rotation, month=dt.date(2024, 11, 1), client_id="A_regular", manager_id="MG2",
           months_inactive=1, revenue_12m=0, status="potential")
    results = run(built, suites["rotation_candidates"], rotation)
    assert failed(results) == {rows("every_run_month_present"), rows("every_candidate_listed"),
                               "expect_column_values_to_be_between(months_inactive)",
                               "expect_column_values_to_be_in_set(status)",
                               rows("client_matches_client_status")}
    assert not results[rows("every_run_month_present")].blocks_publication  # an empty month may be right
    [missing] = results[rows("every_candidate_listed")].observed["partial_unexpected_list"]
    assert (missing["month"], missing["client_id"], missing["months_inactive"]) == (
        REPORT_MONTH, "L_back_from_dormant", 5)

    # the threshold is a suite parameter (dbt var rotation_after_months): a run at 6 months
    # finds the 4- and 5-month candidates too early
    clean = copy_of(built, "reporting_stage.rotation_candidates")
    assert failed(run(built, suites["rotation_candidates"], clean)) == set()
    results = run(built, suites["rotation_candidates"], clean, {**PARAMS, "rotation_after_months": 6})
    assert failed(results) == {"expect_column_values_to_be_between(months_inactive)"}
    assert results["expect_column_values_to_be_between(months_inactive)"].kwargs["min_value"] == 6

def test_validate_task_renders_data_docs_and_the_gate_names_them(built):
    """tasks.validate on the built warehouse: a bad raw row blocks; the message names the docs."""
    from clientbase import tasks
    from clientbase.quality import data_docs

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




def test_every_suite_passes_on_the_field_ops_scenario(warehouse, suites, tmp_path_factory):
    """The second golden scenario (visits, plans, rep costs, two categories, a hunter) passes too.

    Last in the module: it rebuilds the warehouse, so the status_rules tables are gone after it.
    """
    url = build_scenario(warehouse, FIELD_OPS_LANDING, FIELD_OPS_MONTHS[-1], tmp_path_factory)
    for table in ("stg_visits", "stg_visit_plan", "stg_rep_costs"):  # what status_rules lacks
        assert execute(url, f"select count(*) > 0 from staging.{table}") == [(True,)], table
    results = qx.validate(url, list(suites.values()), {**PARAMS, "months": FIELD_OPS_MONTHS},
                          "field_ops")
    assert {r.suite for r in results} == set(suites)
    assert [(r.suite, r.check_name, r.observed) for r in results if not r.success] == []
