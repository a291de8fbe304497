"""The month close: dbt build, churn scores, Great Expectations, the quality gate, publication.

The dbt build has two passes around the churn model (churn/score.py): the first builds the
features and everything else, the model scores the rebuilt months into ``ml``, the second
builds what reads the scores (churn risk, the scorecard's call list); the gate counts the data
tests of both.

A scheduled run closes the month its data interval covers; a backfill is one run with
params from_month/to_month, publishing each month as its own mapped task. Everything from
the build to the last publication runs under the warehouse's month-close lock (setup
task ``month_close_lock``, teardown ``month_close_unlock``): two month closes never interleave.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, setup, task, teardown

from clientbase import tasks
from clientbase.orchestration.dag_shared import FAILURE_NOTIFICATION, RAW, REPORTING


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
        "thresholds": Param({}, type="object",
                            description="this run's overrides of dbt vars (metrics.md thresholds), "
                                        'e.g. {"stt_threshold": 0.8}'),
        "full_refresh": Param(False, type="boolean",
                              description="rebuild every month of history instead of only the months the new "
                                          "data touches (forced anyway after a change of thresholds or of the "
                                          "dbt project, and on the first build)"),
    },
    # a failed check must not be retried into a pass: fail once, loudly
    default_args={"retries": 0, **FAILURE_NOTIFICATION},
    tags=["clientbase", "transform", "quality", "publish"],
)
def monthly_kpi():
    @setup
    def month_close_lock() -> dict:
        """Wait (bounded) for any other month close, then hold the lock for this run."""
        ctx = get_current_context()
        return tasks.acquire_month_close(ctx["run_id"], ctx["dag"].dag_id)

    @teardown
    def month_close_unlock() -> bool:
        return tasks.release_month_close(get_current_context()["run_id"])

    @task
    def months_to_close() -> list[str]:
        ctx = get_current_context()
        interval = ctx.get("data_interval_start")
        return tasks.resolve_months(ctx["params"].get("from_month"), ctx["params"].get("to_month"),
                                    interval.date() if interval else None)

    @task(multiple_outputs=True, inlets=list(RAW.values()))
    def dbt_build(months: list[str]) -> dict:
        ctx = get_current_context()
        return tasks.build(months, ctx["run_id"], ctx["params"].get("thresholds"),
                           ctx["params"].get("full_refresh", False))

    @task(multiple_outputs=True)
    def churn_scores(months: list[str], build_id: int, rebuild_from: str | None) -> dict:
        return tasks.score_churn(months, get_current_context()["run_id"], build_id, rebuild_from)

    @task
    def dbt_build_scored(months: list[str], build: dict, scored_from: str | None) -> list[dict]:
        ctx = get_current_context()
        return tasks.build_scored(months, ctx["run_id"], build, scored_from, ctx["params"].get("thresholds"))

    @task
    def great_expectations(months: list[str], relations: dict[str, str], rebuild_from: str | None) -> list[dict]:
        ctx = get_current_context()
        return tasks.validate(months, ctx["run_id"], ctx["params"].get("thresholds"), relations, rebuild_from)

    @task
    def quality_gate(dbt_checks: list[dict], gx_checks: list[dict], months: list[str]) -> list[str]:
        return tasks.quality_gate(dbt_checks, gx_checks, months, get_current_context()["run_id"])

    @task(outlets=[REPORTING], max_active_tis_per_dag=1)
    def publish(month: str, tables: list[str], dbt_version: str | None) -> dict:
        return tasks.publish(month, get_current_context()["run_id"], tables, dbt_version)

    lock = month_close_lock()
    months = months_to_close()
    built = dbt_build(months)
    lock >> built
    scored = churn_scores(months, built["build_id"], built["rebuild_from"])
    dbt_checks = dbt_build_scored(months, built, scored["scored_from"])
    checked = great_expectations(months, built["relations"], built["rebuild_from"])
    gated = quality_gate(dbt_checks, checked, months)
    published = publish.partial(tables=built["published_tables"],
                                dbt_version=built["dbt_version"]).expand(month=gated)
    published >> month_close_unlock().as_teardown(setups=lock)


monthly_kpi()
