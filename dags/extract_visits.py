"""Extract the SFA's visit plan, visits and retail audits (and the lists they are checked against) into raw."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from clientbase import tasks
from clientbase.contract import VISITS_FLOW
from clientbase.orchestration.dag_shared import RAW, extract_dag_args


@dag(dag_id="extract_visits", description=__doc__, tags=["clientbase", "extract", "sfa"], **extract_dag_args())
def extract_visits():
    @task(outlets=[RAW[name] for name in VISITS_FLOW])
    def load_visits() -> list[dict]:
        """Reference lists first, then visit plans, visits, rep costs and retail audits; bad rows go to quarantine."""
        return tasks.extract_visits(get_current_context()["params"])

    load_visits()


extract_visits()
