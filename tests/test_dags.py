"""The DAG folder as Airflow sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def dagbag(airflow_ready):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dag_folder_imports_cleanly(dagbag):
    assert dagbag.import_errors == {}
    assert {"extract_shipments", "extract_visits", "monthly_kpi"} <= set(dagbag.dag_ids)


def test_month_close_wiring(dagbag):
    dag = dagbag.dags["monthly_kpi"]
    order = ["months_to_close", "dbt_build", "great_expectations", "quality_gate", "publish"]
    assert set(order) <= set(dag.task_ids)
    # publication is downstream of the gate, which is downstream of dbt and GX
    assert "quality_gate" in dag.get_task("publish").upstream_task_ids
    assert {"dbt_build", "great_expectations"} <= dag.get_task("quality_gate").upstream_task_ids
    assert dag.max_active_runs == 1
    assert dag.default_args.get("retries") == 0


def test_extract_dags_produce_raw_assets(dagbag):
    for dag_id, dataset in (("extract_shipments", "shipments"), ("extract_visits", "visits")):
        dag = dagbag.dags[dag_id]
        outlets = {getattr(o, "name", None) for t in dag.tasks for o in t.outlets}
        assert f"raw.{dataset}" in outlets


def test_dag_files_stay_thin():
    """DAG files only wire tasks: no SQL and no database drivers in them."""
    for path in Path(REPO / "dags").glob("*.py"):
        text = path.read_text()
        assert "psycopg" not in text and "select " not in text.lower(), path.name
