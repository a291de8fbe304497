"""The month close: dbt snapshots and build, Great Expectations, the quality gate, publication.

A scheduled run closes the month its data interval covers; a backfill is one run with
params from_month/to_month, publishing each month as its own mapped task.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from clientbase import tasks
from clientbase.orchestration.dag_shared import RAW, REPORTING


@dag(
    dag_id="monthly_kpi",
    description="Month close: dbt, quality gate, publication to reporting",
    schedule="@monthly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "from_month": Param(None, type=["null", "string"], description="first month to publish, YYYY-MM"),
        "to_month": Param(None, type=["null", "string"], description="last month to publish, YYYY-MM"),
    },
    # a failed check must not be retried into a pass: fail once, loudly
    default_args={"retries": 0},
    tags=["clientbase", "transform", "quality", "publish"],
)
def monthly_kpi():
    @task
    def months_to_close() -> list[str]:
        ctx = get_current_context()
        interval = ctx.get("data_interval_start")
        return tasks.resolve_months(ctx["params"].get("from_month"), ctx["params"].get("to_month"),
                                    interval.date() if interval else None)

    @task(inlets=list(RAW.values()))
    def dbt_snapshot_lists() -> list[str]:
        return tasks.snapshot_lists(get_current_context()["run_id"])

    @task
    def dbt_build(months: list[str]) -> list[dict]:
        return tasks.build(months, get_current_context()["run_id"])

    @task
    def great_expectations(months: list[str]) -> list[dict]:
        return tasks.validate(months, get_current_context()["run_id"])

    @task
    def quality_gate(dbt_checks: list[dict], gx_checks: list[dict], months: list[str]) -> list[str]:
        return tasks.quality_gate(dbt_checks, gx_checks, months, get_current_context()["run_id"])

    @task(outlets=[REPORTING], max_active_tis_per_dag=1)
    def publish(month: str) -> dict:
        return tasks.publish(month, get_current_context()["run_id"])

    months = months_to_close()
    snapshots = dbt_snapshot_lists()
    built = dbt_build(months)
    snapshots >> built
    checked = great_expectations(months)
    built >> checked
    gated = quality_gate(built, checked, months)
    publish.expand(month=gated)


monthly_kpi()
