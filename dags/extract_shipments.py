"""Extract the ERP's shipments (and the reference lists they are checked against) into raw."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from clientbase import tasks
from clientbase.contract import SHIPMENTS_FLOW
from clientbase.orchestration.dag_shared import RAW, SOURCE_PARAMS
from clientbase.settings import load_settings


@dag(
    dag_id="extract_shipments",
    description=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=SOURCE_PARAMS,
    default_args={"retries": load_settings().extract_retries, "retry_delay": pendulum.duration(minutes=5)},
    tags=["clientbase", "extract", "erp"],
)
def extract_shipments():
    @task(outlets=[RAW[name] for name in SHIPMENTS_FLOW])
    def load_shipments() -> list[dict]:
        """Reference lists first, then shipment files/rows; bad rows go to quarantine."""
        return tasks.extract_shipments(get_current_context()["params"])

    load_shipments()


extract_shipments()
