"""Extract the SFA's visit plan and visits (and the lists they are checked against) into raw."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from clientbase import tasks
from clientbase.contract import VISITS_FLOW
from clientbase.orchestration.dag_shared import RAW, SOURCE_PARAMS
from clientbase.settings import load_settings


@dag(
    dag_id="extract_visits",
    description=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=SOURCE_PARAMS,
    default_args={"retries": load_settings().extract_retries, "retry_delay": pendulum.duration(minutes=5)},
    tags=["clientbase", "extract", "sfa"],
)
def extract_visits():
    @task(outlets=[RAW[name] for name in VISITS_FLOW])
    def load_visits() -> list[dict]:
        """Reference lists first, then visit plans, visits and rep costs; bad rows go to quarantine."""
        return tasks.extract_visits(get_current_context()["params"])

    load_visits()


extract_visits()
