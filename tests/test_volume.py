"""The volume check (expectations/shipment_volume.json) on a real warehouse.

A generated distributor is loaded by the loader and staged by dbt; a spike is made by
loading extra copies of a month's posted lines into ``raw.shipments`` (as a second export
of the same month would), which the staging view shows at once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.quality import expectations as qx
from clientbase.quality import gate
from conftest import reset_warehouse

SUITES_DIR = Path(__file__).resolve().parents[1] / "expectations"
END_MONTH = "2024-06"  # fixed, so the data does not depend on today's date
MONTHS = 9
CHECK = "unexpected_rows_expectation(volume_swing)"
SPIKE_BATCH = 999_999  # raw rows of the spike, removed after each test
SPIKE_FACTOR = 5  # the month shows 5x its posted lines and revenue
RELATIONS: dict[str, str] = {}  # the suite's model -> relation, from the staging build's manifest


@pytest.fixture(scope="module")
def volume_suite() -> qx.SuiteSpec:
    [suite] = [s for s in qx.load_suites(SUITES_DIR) if s.name == "shipment_volume"]
    return suite


@pytest.fixture(scope="module")
def staged(warehouse, tmp_path_factory) -> tuple[str, list[str]]:
    """Generated data extracted and staged; returns the URL and the data's months (ISO)."""
    from clientbase import tasks
    from clientbase.generate import generate
    from clientbase.transform import dbt

    reset_warehouse(warehouse)
    landing = tmp_path_factory.mktemp("volume") / "landing"
    # a seed whose last month is ordinary (within ±50 % of its 6-month median): with 40 clients some
    # seeds' last months swing that much on their own
    summary = generate(landing, None, months=MONTHS, end_month=END_MONTH, clients=40, seed=14)
    params = {"landing_dir": str(landing)}
    tasks.extract(SHIPMENTS_FLOW, params)
    tasks.extract(VISITS_FLOW, params)
    target = tmp_path_factory.mktemp("dbt")
    assert dbt.run_dbt(warehouse, ["run", "--select", "staging"], target) == 0
    RELATIONS.update(qx.relations_from_manifest(target / "manifest.json", ["stg_shipments"]))
    months = tasks.month_range(tasks.parse_month(summary.first_month), tasks.parse_month(summary.last_month))
    assert len(months) == MONTHS
    return warehouse, months


@pytest.fixture
def url(staged):
    yield staged[0]
    with psycopg.connect(staged[0], autocommit=True) as conn:
        conn.execute("delete from raw.shipments where _batch_id = %s", (SPIKE_BATCH,))


def spike(url: str, month: str, factor: int = SPIKE_FACTOR) -> None:
    """Load ``factor - 1`` more copies of the month's posted lines, under new waybill numbers."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.shipments (doc_id, line_no, doc_date, client_id, point_id, sku, qty, revenue, "
            "cost, manager_id, status, updated_at, _batch_id, _line_no) "
            "select s.doc_id || '-copy' || copy, s.line_no, s.doc_date, s.client_id, s.point_id, s.sku, s.qty, "
            "s.revenue, s.cost, s.document_manager_id, s.status, s.updated_at, %s, row_number() over () "
            "from staging.stg_shipments s cross join generate_series(1, %s) as copy "
            "where s.shipment_month = %s and s.status = 'posted'",
            (SPIKE_BATCH, factor - 1, month))


def posted(url: str, month: str) -> tuple[int, float]:
    with psycopg.connect(url) as conn:
        lines, revenue = conn.execute(
            "select count(*), sum(revenue) from staging.stg_shipments "
            "where shipment_month = %s and status = 'posted'", (month,)).fetchone()
    return lines, float(revenue)


def volume(url: str, suite: qx.SuiteSpec, months: list[str], **params) -> qx.CheckResult:
    [result] = qx.validate(url, [suite], {"months": months, **params}, "volume-test", RELATIONS)
    return result


def decision(result: qx.CheckResult, months: list[str]) -> gate.GateDecision:
    check = gate.Check("gx", result.suite, result.check_name, result.severity, result.success,
                       result.details())
    return gate.decide([check], months)


def test_thresholds_live_in_the_suite_file(volume_suite):
    assert volume_suite.defaults == {"volume_history_months": 6, "volume_min_history_months": 3,
                                     "volume_tolerance": 0.5}
    assert volume_suite.parameters == {"months"}  # the run's months; the rest defaults
    assert [e.severity for e in volume_suite.expectations] == ["warning"]


def test_an_ordinary_month_passes(staged, url, volume_suite):
    _, months = staged
    result = volume(url, volume_suite, [months[-1]])
    assert result.success, result.observed


def test_a_5x_spike_warns_with_the_numbers(staged, url, volume_suite):
    _, months = staged
    last = months[-1]
    lines, revenue = posted(url, last)
    spike(url, last)
    assert posted(url, last) == (SPIKE_FACTOR * lines, pytest.approx(SPIKE_FACTOR * revenue))
    result = volume(url, volume_suite, [last])
    assert not result.success and result.severity == "warning" and not result.blocks_publication
    [row] = result.observed["partial_unexpected_list"]
    assert row["month"] == last and row["history_months"] == 6
    assert row["posted_lines"] == SPIKE_FACTOR * lines
    assert row["posted_lines_change"] > 0.5 and row["net_revenue_change"] > 0.5
    outcome = decision(result, [last])
    assert outcome.passed and outcome.warnings  # reported, published anyway
    assert "shipment_volume: unexpected_rows_expectation(volume_swing)" in outcome.message()


def test_with_blocking_severity_the_gate_blocks(staged, url, volume_suite):
    _, months = staged
    last = months[-1]
    spike(url, last)
    blocking = volume_suite.with_severity("volume_swing", "blocking")
    result = volume(url, blocking, [last])
    assert result.blocks_publication
    outcome = decision(result, [last])
    assert not outcome.passed
    assert "BLOCKED" in outcome.message() and "volume_swing" in outcome.message()


def test_the_tolerance_is_a_parameter(staged, url, volume_suite):
    _, months = staged
    spike(url, months[-1])
    assert not volume(url, volume_suite, [months[-1]]).success
    assert volume(url, volume_suite, [months[-1]], volume_tolerance=2 * SPIKE_FACTOR).success


def test_no_verdict_without_enough_history(staged, url, volume_suite):
    _, months = staged
    # months[2] has two earlier months of data, months[3] three (the minimum)
    spike(url, months[2])
    spike(url, months[3])
    result = volume(url, volume_suite, months[:4])
    assert [row["month"] for row in result.observed["partial_unexpected_list"]] == [months[3]]


def test_a_month_without_shipments_warns(staged, url, volume_suite):
    _, months = staged
    after = dt.date.fromisoformat(months[-1])
    next_month = dt.date(after.year + after.month // 12, after.month % 12 + 1, 1).isoformat()
    result = volume(url, volume_suite, [next_month])
    [row] = result.observed["partial_unexpected_list"]
    assert (row["month"], row["posted_lines"], row["posted_lines_change"]) == (next_month, 0, -1)
