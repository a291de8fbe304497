"""Golden scenario handover: hunters' handovers to farmers and overload over the whole base (metrics.md §3).

The expected tables in tests/scenarios/handover/expected/ were derived by hand from spec/metrics.md
(the arithmetic is in that folder's README.md), not from the dbt SQL, so this module checks the SQL
against the spec rather than against itself.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from scenario_compare import compare_table, publish_scenario

HANDOVER = Path(__file__).resolve().parent / "scenarios" / "handover"
TABLES = ("client_status_monthly", "manager_scorecard_monthly")


@pytest.fixture(scope="module")
def handover(airflow_ready, tmp_path_factory) -> str:
    """handover loaded and published for 2024-01 … 2024-06 through `clientbase run`."""
    return publish_scenario(airflow_ready, HANDOVER, tmp_path_factory, "2024-01", "2024-06")


def test_every_expected_csv_is_compared():
    """A CSV added to expected/ without a comparison here would silently check nothing."""
    assert sorted(p.stem for p in (HANDOVER / "expected").glob("*.csv")) == sorted(TABLES)


def test_committed_files_are_those_the_generator_writes(tmp_path):
    """landing/ and the generated expected CSV are make_scenario.py's output: neither was edited alone."""
    runpy.run_path(str(HANDOVER / "make_scenario.py"))["main"](tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.csv"))
    assert Path("expected/client_status_monthly.csv") in written
    committed = sorted(p.relative_to(HANDOVER) for p in (HANDOVER / "landing").rglob("*.csv"))
    assert sorted(p for p in written if p.parts[0] == "landing") == committed
    for path in written:
        assert (tmp_path / path).read_bytes() == (HANDOVER / path).read_bytes(), path


@pytest.mark.parametrize("table", TABLES)
def test_handover_scenario_matches_expected(handover, table):
    problems = compare_table(handover, table, HANDOVER / "expected" / f"{table}.csv")
    assert problems == [], "\n".join(problems[:20])
