"""Extract the ERP's shipments, invoices and payments (and the reference lists they are checked against) into raw."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from clientbase import tasks
from clientbase.contract import SHIPMENTS_FLOW
from clientbase.orchestration.dag_shared import RAW, extract_dag_args


@dag(dag_id="extract_shipments", description=__doc__, tags=["clientbase", "extract", "erp"], **extract_dag_args())
def extract_shipments():
    @task(outlets=[RAW[name] for name in SHIPMENTS_FLOW])
    def load_shipments() -> list[dict]:
        """Reference lists first, then shipments, invoices and payments (optional); bad rows go to quarantine."""
        return tasks.extract_shipments(get_current_context()["params"])

    load_shipments()


extract_shipments()
