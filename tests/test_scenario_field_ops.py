"""Golden scenario field_ops: coverage, category АКБ, visits, rep costs, scorecard, rotation and ABC.

The expected tables in tests/scenarios/field_ops/expected/ were derived by hand from spec/metrics.md
(the arithmetic is in that folder's README.md), not from the dbt SQL, so this module checks the SQL
against the spec rather than against itself.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from scenario_compare import compare_table, publish_scenario

FIELD_OPS = Path(__file__).resolve().parent / "scenarios" / "field_ops"
TABLES = (
    "client_status_monthly",
    "coverage_monthly",
    "category_coverage_monthly",
    "visits_monthly",
    "manager_scorecard_monthly",
    "rotation_candidates",
)


@pytest.fixture(scope="module")
def field_ops(airflow_ready, tmp_path_factory) -> str:
    """field_ops loaded and published for 2024-01 … 2024-06 through `clientbase run`."""
    return publish_scenario(airflow_ready, FIELD_OPS, tmp_path_factory, "2024-01", "2024-06")


def test_every_expected_csv_is_compared():
    """A CSV added to expected/ without a comparison here would silently check nothing."""
    assert sorted(p.stem for p in (FIELD_OPS / "expected").glob("*.csv")) == sorted(TABLES)


def test_expected_csvs_agree_with_the_independent_recomputation():
    """The hand values and the plain-Python recomputation from the spec (crosscheck_from_spec.py) agree.

    Guards the scenario itself: editing landing/ without redoing the arithmetic fails here, before any
    warehouse is involved.
    """
    script = runpy.run_path(str(FIELD_OPS / "crosscheck_from_spec.py"))
    assert script["main"]() == 0


@pytest.mark.parametrize("table", TABLES)
def test_field_ops_scenario_matches_expected(field_ops, table):
    problems = compare_table(field_ops, table, FIELD_OPS / "expected" / f"{table}.csv")
    assert problems == [], "\n".join(problems[:20])
