"""Shared fixtures: one embedded PostgreSQL for the whole session, a clean warehouse per test.

Airflow reads its configuration once per process, so the environment (CLIENTBASE_HOME,
Airflow's metadata DB beside the test warehouse) is set here, before any test imports it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="clientbase-test-"))
os.environ["CLIENTBASE_HOME"] = str(_HOME)
# Under pytest-xdist (make test runs two workers) each worker has its own home, hence its own
# embedded server; a port of its own from the start, so two workers starting at once do not both
# pick the default port as free and have one fail to bind it.
from clientbase.warehouse.embedded import DEFAULT_PORT  # noqa: E402

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw"):
    (_HOME / "pg.port").write_text(str(DEFAULT_PORT + 1 + int(_WORKER[2:])))
os.environ.pop("CLIENTBASE_WAREHOUSE_URL", None)
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from clientbase.publish.contract import project_published_tables  # noqa: E402  (after the environment)
from clientbase.warehouse.schema import WAREHOUSE_SCHEMAS  # noqa: E402

# The BI contract as the dbt project defines it (models/reporting/, via `dbt parse`)
PUBLISHED_TABLES = project_published_tables()

REPO = Path(__file__).resolve().parent.parent
# The specification's golden scenarios live beside the repository (as in CI): ../shared
SHARED = Path(os.environ.get("CLIENTBASE_SHARED_DIR", REPO.parent / "shared")).resolve()
SCENARIOS = SHARED / "scenarios"
if not (SCENARIOS / "status_rules").is_dir():
    raise pytest.UsageError(
        f"the golden scenarios are not at {SCENARIOS}: clone the repository beside shared/ "
        "(as CI does) or set CLIENTBASE_SHARED_DIR to the shared folder"
    )

# Every schema the project writes; dropping them gives an empty warehouse ("seeds" and
# "snapshots" are left by earlier versions of the project, dropped for a clean start).
PROJECT_SCHEMAS = (*WAREHOUSE_SCHEMAS, "seeds", "snapshots")


@pytest.fixture(scope="session")
def warehouse() -> str:
    """URL of the session's embedded warehouse (started once, stopped at the end)."""
    from clientbase.warehouse import embedded
    from clientbase.warehouse.connection import warehouse_url

    url = warehouse_url()
    yield url
    if "airflow.settings" in sys.modules:
        # close Airflow's pooled connections before the server goes away
        sys.modules["airflow.settings"].dispose_orm()
    embedded.stop(_HOME)


def reset_warehouse(url: str) -> None:
    import psycopg

    from clientbase.warehouse import schema

    with psycopg.connect(url, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        for name in PROJECT_SCHEMAS:
            if name in existing:
                conn.execute(f"drop schema {name} cascade")
        schema.ensure_schema(conn)


@pytest.fixture
def clean_warehouse(warehouse: str) -> str:
    reset_warehouse(warehouse)
    return warehouse


@pytest.fixture(scope="session")
def airflow_ready(warehouse: str) -> str:
    """Airflow configured on the test warehouse server, metadata DB migrated."""
    from clientbase.orchestration import airflow_runner

    airflow_runner.configure()
    airflow_runner.ensure_metadata_db()
    return warehouse
