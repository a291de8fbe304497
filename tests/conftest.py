"""Shared fixtures: one embedded PostgreSQL for the whole session, a clean warehouse per test.

Airflow reads its configuration once per process, so the environment (CLIENTBASE_HOME,
Airflow's metadata DB beside the test warehouse) is set here, before any test imports it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# checked first: a session that stops here leaves no home behind
REPO = Path(__file__).resolve().parent.parent
# The specification's golden scenarios live beside the repository (as in CI): ../shared
SHARED = Path(os.environ.get("CLIENTBASE_SHARED_DIR", REPO.parent / "shared")).resolve()
SCENARIOS = SHARED / "scenarios"
if not (SCENARIOS / "status_rules").is_dir():
    raise pytest.UsageError(
        f"the golden scenarios are not at {SCENARIOS}: clone the repository beside shared/ "
        "(as CI does) or set CLIENTBASE_SHARED_DIR to the shared folder"
    )

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


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's home (its warehouse's data directory, Airflow's DB, dbt targets:
    about 1 GB) once the server has stopped; ``CLIENTBASE_KEEP_TEST_HOME=1`` keeps it to debug."""
    if os.environ.get("CLIENTBASE_KEEP_TEST_HOME") == "1":
        print(f"\nkept the test home {_HOME} (CLIENTBASE_KEEP_TEST_HOME=1)", file=sys.stderr)
        return
    shutil.rmtree(_HOME, onerror=lambda _function, path, error: print(
        f"\ncould not remove {path} of the test home: {error[1]}", file=sys.stderr))


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


def build_like_the_month_close(url: str, report_month: str, target: Path, *, rebuild_from: str | None = None,
                               full_refresh: bool = False, data_tests: bool = True,
                               overrides: dict | None = None) -> list:
    """The month close's dbt build without Airflow, in the order dags/monthly_kpi.py gives it:
    every model but what reads the churn scores, the churn scores of the rebuilt months
    (churn/score.py), then the rest (``dbt.SCORED_SELECTOR``). Months are ``YYYY-MM-01``.

    Returns the data tests of both passes; a failing one fails here with its name (the golden
    scenarios are clean), a model that errors too. ``data_tests=False`` builds the models alone.
    ``target`` gets the first pass's artefacts (its manifest has every node), ``target/scored``
    the second's.
    """
    import datetime as dt

    from clientbase.churn import score
    from clientbase.transform import dbt

    excluded = [*dbt.BUILD_EXCLUDE, *([] if data_tests else ["resource_type:test"])]
    refresh = ["--full-refresh"] if full_refresh else []
    run_vars = {**(overrides or {}), "report_month": report_month,
                "rebuild_from": None if full_refresh else rebuild_from}
    results = []
    scored_from = None
    for scored, where in ((False, target), (True, target / "scored")):
        selection = (["--select", dbt.SCORED_SELECTOR, "--exclude", *excluded] if scored
                     else ["--exclude", *excluded, dbt.SCORED_SELECTOR])
        if scored:
            run_vars["rebuild_from"] = (None if run_vars["rebuild_from"] is None
                                        else min(run_vars["rebuild_from"], scored_from))
        code = dbt.run_dbt(url, ["build", *selection, *refresh], where, vars=run_vars)
        failed = [f"{r.name}: {r.status} {r.failures}" for r in dbt.test_results(where)
                  if r.status not in ("pass", "skipped")]
        assert code == 0, f"dbt build of {'the scored models' if scored else 'the models'} failed (exit {code}): " \
                          f"{dbt.node_errors(where)} {failed}"
        results += dbt.test_results(where)
        if not scored:
            first = None if run_vars["rebuild_from"] is None else dt.date.fromisoformat(run_vars["rebuild_from"])
            outcome = score.score_months(url, dt.date.fromisoformat(report_month), first, "tests")
            scored_from = (outcome.scored_from or dt.date.fromisoformat(report_month)).isoformat()
    return results
