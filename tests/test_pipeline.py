"""The whole pipeline through the real DAGs (dag.test()) on a real PostgreSQL.

Order matters inside this module: the scenario is loaded once, then rerun, then broken.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from clientbase import cli
from clientbase.publish.publisher import PUBLISHED_TABLES

from conftest import SCENARIOS, reset_warehouse
from scenario_compare import compare_table

STATUS_RULES = SCENARIOS / "status_rules"


def reporting_fingerprint(url: str) -> dict[str, str]:
    """A checksum of every reporting table's full content, publications included."""
    out = {}
    with psycopg.connect(url) as conn:
        for table in (*PUBLISHED_TABLES, "publications"):
            cols = "t" if table != "publications" else "(t.month, t.version, t.content_md5)"
            out[table] = conn.execute(
                f"select count(*) || ':' || coalesce(md5(string_agg({cols}::text, '|' order by {cols}::text)), '') "
                f"from reporting.{table} t"
            ).fetchone()[0]
    return out


@pytest.fixture(scope="module")
def scenario(airflow_ready, tmp_path_factory) -> tuple[str, Path]:
    """status_rules loaded and published for 2023-01 … 2024-12 through `clientbase run`."""
    url = airflow_ready
    reset_warehouse(url)
    landing = tmp_path_factory.mktemp("status_rules") / "landing"
    shutil.copytree(STATUS_RULES / "landing", landing)
    assert cli.main(["run", "--landing", str(landing), "--from", "2023-01", "--to", "2024-12"]) == 0
    return url, landing


@pytest.mark.parametrize("table", ["client_status_monthly", "status_summary_monthly", "status_flow_monthly"])
def test_status_rules_scenario_matches_expected(scenario, table):
    url, _ = scenario
    problems = compare_table(url, table, STATUS_RULES / "expected" / f"{table}.csv")
    assert problems == [], "\n".join(problems[:20])


def test_every_month_published_once(scenario):
    url, _ = scenario
    with psycopg.connect(url) as conn:
        rows = conn.execute("select count(distinct month), max(version), min(month)::text, max(month)::text "
                            "from reporting.publications").fetchone()
    assert rows == (24, 1, "2023-01-01", "2024-12-01")


def test_same_landing_twice_publishes_identical_tables(scenario):
    url, landing = scenario
    before = reporting_fingerprint(url)
    assert cli.main(["run", "--landing", str(landing), "--from", "2023-01", "--to", "2024-12"]) == 0
    assert reporting_fingerprint(url) == before
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from raw.shipments").fetchone()[0] == 59


def test_correction_file_wins_and_republishes_the_month(scenario):
    """A later file re-sends a line with the same key: the last version counts, the month gets version 2."""
    url, landing = scenario
    (landing / "shipments" / "shipments_2024-12_correction.csv").write_text(
        "doc_id;line_no;doc_date;client_id;point_id;sku;qty;revenue;cost;manager_id;status\n"
        "D0024;1;10.12.2024;A_regular;P_A_regular;S1;2;250,00;140;MG1;posted\n"
    )
    assert cli.main(["run", "--landing", str(landing), "--from", "2024-11", "--to", "2024-12"]) == 0
    with psycopg.connect(url) as conn:
        revenue = conn.execute("select revenue, margin from reporting.client_status_monthly "
                               "where client_id = 'A_regular' and month = '2024-12-01'").fetchone()
        versions = dict(conn.execute("select month::text, max(version) from reporting.publications "
                                     "where month >= '2024-11-01' group by 1").fetchall())
    assert [float(v) for v in revenue] == [250.0, 110.0]
    assert versions == {"2024-11-01": 1, "2024-12-01": 2}


def test_blocking_check_leaves_reporting_unchanged(scenario, capsys):
    url, landing = scenario
    before = reporting_fingerprint(url)
    (landing / "shipments" / "shipments_zz_late.csv").write_text(
        "doc_id,line_no,doc_date,client_id,point_id,sku,qty,revenue,cost,manager_id,status\n"
        "D9001,1,2024-12-15,A_regular,P_A_regular,S1,1,100,70,MG1,draft\n"
    )
    code = cli.main(["run", "--landing", str(landing), "--from", "2024-12", "--to", "2024-12"])
    out = capsys.readouterr().out
    assert code == 1
    assert reporting_fingerprint(url) == before
    assert "BLOCKED" in out
    assert '[gx] shipments: expect_column_values_to_be_in_set(status) — 1 failing rows, e.g. ["draft"]' in out
    with psycopg.connect(url) as conn:
        passed, message = conn.execute(
            "select passed, message from audit.gate_decisions order by decision_id desc limit 1").fetchone()
    assert passed is False
    assert "expect_column_values_to_be_in_set" in message


def test_monthly_kpi_dag_on_generated_data(airflow_ready, tmp_path):
    """monthly_kpi through dag.test() on a small generated distributor."""
    from clientbase.generate import generate
    from clientbase.orchestration.airflow_runner import run_dag

    url = airflow_ready
    reset_warehouse(url)
    summary = generate(tmp_path / "landing", None, months=6, clients=40, seed=7)
    conf = {"landing_dir": str(tmp_path / "landing")}
    assert run_dag("extract_shipments", conf).ok
    assert run_dag("extract_visits", conf).ok
    last = summary.last_month[:7]
    outcome = run_dag("monthly_kpi", {"from_month": last, "to_month": last})
    assert outcome.ok, outcome
    with psycopg.connect(url) as conn:
        published = conn.execute("select month::text, version from reporting.publications").fetchall()
        statuses = conn.execute(
            "select count(distinct status), count(*) from reporting.client_status_monthly").fetchone()
        raw_rows = conn.execute("select count(*) from raw.shipments").fetchone()[0]
    assert published == [(f"{last}-01", 1)]
    assert raw_rows > 0
    assert statuses[0] >= 3 and statuses[1] > 0
