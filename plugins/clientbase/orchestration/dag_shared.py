"""What the DAG files share: assets (one per raw dataset) and the source params (needs Airflow)."""

from airflow.sdk import Asset, Param

from clientbase.contract import DATASETS
from clientbase.notify import on_failure
from clientbase.settings import ERP_CONN_ID, SFA_CONN_ID

# every task of every clientbase DAG reports its failure (if CLIENTBASE_NOTIFY_* is set)
FAILURE_NOTIFICATION = {"on_failure_callback": on_failure}

RAW = {name: Asset(name=f"raw.{name}", uri=f"clientbase://warehouse/raw/{name}") for name in DATASETS}
REPORTING = Asset(name="reporting", uri="clientbase://warehouse/reporting")

SOURCE_PARAMS = {
    "landing_dir": Param(None, type=["null", "string"], description="folder of CSV drops (files mode)"),
    # Connection ids, never URLs: the conf is visible in the UI. Null = files for that system.
    "erp_conn_id": Param(ERP_CONN_ID, type=["null", "string"],
                         description="Airflow connection of the ERP database (SQL mode); files when it is not "
                                     "defined (and CLIENTBASE_ERP_URL is unset) or null"),
    "sfa_conn_id": Param(SFA_CONN_ID, type=["null", "string"],
                         description="Airflow connection of the SFA database (SQL mode); files when it is not "
                                     "defined (and CLIENTBASE_SFA_URL is unset) or null"),
}


def extract_dag_args() -> dict:
    """The schedule and run policy both extraction DAGs share.

    Daily, one run at a time (loads of a dataset serialise anyway), retries from settings:
    a scheduler retries a flaky source, an interactive ``clientbase run`` fails at once.
    """
    import pendulum

    from clientbase.settings import load_settings

    return {
        "schedule": "@daily",
        "start_date": pendulum.datetime(2024, 1, 1, tz="UTC"),
        "catchup": False,
        "max_active_runs": 1,
        "params": SOURCE_PARAMS,
        "default_args": {"retries": load_settings().extract_retries, "retry_delay": pendulum.duration(minutes=5),
                         **FAILURE_NOTIFICATION},
    }
