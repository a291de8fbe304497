"""Run the project's real DAGs in-process with ``dag.test()``.

The CLI never re-implements the pipeline: it configures Airflow (metadata DB in the
warehouse server, our dags folder), makes sure the metadata DB is migrated, and runs the
DAGs exactly as a scheduler would run their tasks. Airflow reads its configuration when
first imported, so ``configure()`` must run before anything imports ``airflow``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from clientbase.settings import Settings, load_settings
from clientbase.warehouse.connection import WarehouseError, prepare_server, sqlalchemy_url, warehouse_url, with_database

log = logging.getLogger(__name__)


def airflow_env(settings: Settings, url: str) -> dict[str, str]:
    """Environment for Airflow: metadata DB beside the warehouse, our DAGs, no examples."""
    return {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(with_database(url, settings.airflow_db_name)),
        # Airflow 3 also opens an async engine; psycopg 3 serves it (no asyncpg needed)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sqlalchemy_url(
            with_database(url, settings.airflow_db_name), driver="psycopg"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_dir),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.project_root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"clientbase\..*",
        "CLIENTBASE_WAREHOUSE_URL": url,
        # dag.test() waits out retry delays: interactive runs fail at the first error
        "CLIENTBASE_EXTRACT_RETRIES": os.environ.get("CLIENTBASE_EXTRACT_RETRIES", "0"),
    }


class MetadataDbError(WarehouseError):
    """``airflow db migrate`` failed; one line here, Airflow's full output in the debug log (``-v``)."""


def configure(settings: Settings | None = None) -> str:
    """Set Airflow's environment for this process; returns the warehouse URL.

    On the user's own server this first creates what a first run needs and the role may
    create (warehouse database and schemas, Airflow's metadata database beside them), or
    stops with one line saying what to run (:func:`~clientbase.warehouse.connection.prepare_server`).
    """
    if "airflow" in sys.modules and not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        log.warning("airflow was imported before clientbase configured it: its settings may be stale")
    settings = settings or load_settings()
    url = warehouse_url(settings)
    explicit_metadata_db = bool(os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
    if not settings.embedded:  # the embedded server creates its databases itself
        prepare_server(url, None if explicit_metadata_db else settings.airflow_db_name)
    env = airflow_env(settings, url)
    if explicit_metadata_db:
        # an explicitly configured metadata DB wins over "beside the warehouse"
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC")
    os.environ.update(env)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    return url


def ensure_metadata_db(settings: Settings | None = None) -> None:
    """``airflow db migrate`` once per Airflow version and metadata DB (it takes ~30 s)."""
    settings = settings or load_settings()
    from importlib.metadata import version

    marker = settings.airflow_home / f".migrated-{version('apache-airflow-core')}"
    conn = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if marker.exists() and marker.read_text() == conn:
        return
    log.info("migrating Airflow's metadata database (first run only, ~30 s)")
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow) if airflow.exists() else "airflow", "db", "migrate"],
                            capture_output=True, text=True, env=os.environ.copy())
    if result.returncode != 0:
        log.debug("airflow db migrate output:\n%s\n%s", result.stdout[-4000:], result.stderr[-8000:])
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        last = lines[-1][:300] if lines else "no output"
        raise MetadataDbError(
            f"airflow db migrate failed (exit {result.returncode}): {last}: rerun with -v for Airflow's full "
            f"output, or check AIRFLOW__DATABASE__SQL_ALCHEMY_CONN / CLIENTBASE_AIRFLOW_DB")
    marker.write_text(conn)


@dataclass
class DagRunOutcome:
    dag_id: str
    run_id: str
    state: str

    @property
    def ok(self) -> bool:
        return self.state == "success"


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    settings = load_settings()
    bag = DagBag(dag_folder=str(settings.dags_dir))
    if bag.import_errors:
        raise RuntimeError("DAG import errors:\n" + "\n".join(f"{k}: {v}" for k, v in bag.import_errors.items()))
    if dag_id not in bag.dags:
        raise KeyError(f"DAG {dag_id} not found in {settings.dags_dir}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, conf: dict | None = None) -> DagRunOutcome:
    """Run one DAG to the end in this process, like the scheduler would."""
    import pendulum

    dag = load_dag(dag_id)
    run = dag.test(logical_date=pendulum.now("UTC"), run_conf=conf or {})
    state = str(getattr(run.state, "value", run.state))
    log.info("%s finished: %s (%s)", dag_id, state, run.run_id)
    return DagRunOutcome(dag_id, run.run_id, state)
