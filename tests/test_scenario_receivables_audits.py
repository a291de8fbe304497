"""Golden scenario receivables_audits: receivables and payment discipline (metrics.md §8), retail
audits (§9) and the 24-line KPI matrix (§10).

The expected tables in tests/scenarios/receivables_audits/expected/ were derived by hand from
spec/metrics.md (the arithmetic is in that folder's README.md, with the readings chosen where the spec
is silent), not from the dbt SQL, so this module checks the SQL against the spec rather than against
itself. ``crosscheck_from_spec.py`` recomputes the same cells from landing/ in plain Python, so an
arithmetic slip in the hand tables fails here before any warehouse is involved.
"""

from __future__ import annotations

import csv
import datetime as dt
import runpy
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from scenario_compare import compare_table, publish_scenario

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "receivables_audits"
TABLES = (
    "receivables_monthly",
    "client_status_monthly",
    "manager_scorecard_monthly",
    "retail_audit_monthly",
    "kpi_matrix_monthly",
    "coverage_monthly",
    "visits_monthly",
)
# Tables whose expected CSV holds only some of the published months (the KPI matrix is given for the
# quarter end 2024-03 and for 2024-04, whose window Feb–Apr straddles the quarter): they are compared
# through a view holding only the CSV's months, so the other months are neither required nor flagged.
SUBSET_SCHEMA = "scenario_receivables_audits"


@pytest.fixture(scope="module")
def scenario(airflow_ready, tmp_path_factory) -> str:
    """receivables_audits loaded and published for 2024-01 … 2024-04 through `clientbase run`."""
    return publish_scenario(airflow_ready, SCENARIO, tmp_path_factory, "2024-01", "2024-04")


def expected_months(table: str) -> list[str]:
    with open(SCENARIO / "expected" / f"{table}.csv", newline="", encoding="utf-8") as handle:
        return sorted({row["month"] for row in csv.DictReader(handle)})


def test_every_expected_csv_is_compared():
    """A CSV added to expected/ without a comparison here would silently check nothing."""
    assert sorted(p.stem for p in (SCENARIO / "expected").glob("*.csv")) == sorted(TABLES)


def test_committed_expected_files_are_the_hand_tables(tmp_path):
    """expected/*.csv are make_expected.py's output (the hand tables of README.md): none edited alone."""
    runpy.run_path(str(SCENARIO / "make_expected.py"))["main"](tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.csv"))
    assert sorted(str(p) for p in written) == sorted(f"expected/{t}.csv" for t in TABLES)
    for path in written:
        assert (tmp_path / path).read_bytes() == (SCENARIO / path).read_bytes(), path


def test_expected_csvs_agree_with_the_independent_recomputation():
    """The hand values and the plain-Python recomputation from landing/ (crosscheck_from_spec.py) agree."""
    script = runpy.run_path(str(SCENARIO / "crosscheck_from_spec.py"))
    assert script["main"]() == 0


def test_every_row_loads_nothing_quarantined_or_held(scenario):
    """The scenario's data are clean: any quarantined row would silently change the expected figures."""
    with psycopg.connect(scenario) as conn:
        held = conn.execute("select dataset, line_no, reason from audit.quarantine").fetchall()
        totals = conn.execute("select dataset, sum(rows_read), sum(rows_loaded) from audit.batches "
                              "group by dataset order by dataset").fetchall()
    assert held == []
    loaded = {dataset: (int(read), int(rows)) for dataset, read, rows in totals}
    for dataset in ("invoices", "payments", "retail_audits", "rep_costs"):
        assert dataset in loaded, f"{dataset}: no batch loaded from {SCENARIO / 'landing' / dataset}"
        assert loaded[dataset][0] == loaded[dataset][1], dataset


@pytest.mark.parametrize("table", TABLES)
def test_receivables_audits_scenario_matches_expected(scenario, table):
    months = expected_months(table)
    schema = "reporting"
    if table == "kpi_matrix_monthly":
        schema = SUBSET_SCHEMA
        with psycopg.connect(scenario, autocommit=True) as conn:
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SUBSET_SCHEMA)))
            # DDL takes no bind parameters: the months go in as literals (dates parsed from the CSV)
            conn.execute(sql.SQL("create or replace view {}.{} as select * from reporting.{} where month in ({})")
                         .format(sql.Identifier(SUBSET_SCHEMA), sql.Identifier(table), sql.Identifier(table),
                                 sql.SQL(", ").join(sql.Literal(dt.date.fromisoformat(m)) for m in months)))
    try:
        problems = compare_table(scenario, table, SCENARIO / "expected" / f"{table}.csv", schema=schema)
    finally:
        if schema != "reporting":
            with psycopg.connect(scenario, autocommit=True) as conn:
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SUBSET_SCHEMA)))
    assert problems == [], "\n".join(problems[:20])
