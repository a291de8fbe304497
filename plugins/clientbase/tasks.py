"""What each Airflow task does, as plain functions (testable without Airflow).

The DAG files in ``dags/`` only wire these together. Every function is idempotent and
safe to rerun for any month: loads skip content already loaded, dbt rebuilds, and the
publisher republishes a month only when its content changed.

The month close (build, validate, gate, publish) rebuilds shared schemas, so
each of its steps runs under the run's month-close lease (orchestration/month_close_lock.py),
taken by ``acquire_month_close`` and released by ``release_month_close``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from clientbase import progress
from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from clientbase.orchestration import month_close_lock
from clientbase.publish import contract
from clientbase.publish.publisher import publish_month, published_unchanged
from clientbase.quality import gate
from clientbase.settings import load_settings
from clientbase.transform import dbt, dirty
from clientbase.warehouse import schema
from clientbase.warehouse.connection import connect, loader_url, transformer_url

log = logging.getLogger(__name__)

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})(-\d{2})?$")


class GateBlocked(RuntimeError):
    """A blocking check failed: nothing was published. The message lists the checks."""


def _sources(params: dict) -> Sources:
    """Where this run reads each system: the Airflow connection named in params, else files.

    The params carry connection ids, never URLs (``dag_run.conf`` is visible in the UI);
    the connection is resolved here, in the task, through Airflow's secrets chain.
    A params dict without the key (a direct call) means the default connection id.
    """
    from clientbase.extract import connections
    from clientbase.settings import ERP_CONN_ID, SFA_CONN_ID

    settings = load_settings()
    landing = params.get("landing_dir") or settings.landing_dir
    return Sources(
        landing_dir=Path(landing) if landing else None,
        erp_url=connections.resolve("erp", params.get("erp_conn_id", ERP_CONN_ID), settings.erp_url),
        sfa_url=connections.resolve("sfa", params.get("sfa_conn_id", SFA_CONN_ID), settings.sfa_url),
    )


def extract(datasets: tuple[str, ...], params: dict) -> list[dict]:
    """Load the datasets from their sources into raw; returns one summary per batch."""
    results = extract_datasets(loader_url(), datasets, _sources(params))
    for res in results:
        log.info("%s", res.summary())
    return [asdict(r) for r in results]


def extract_shipments(params: dict) -> list[dict]:
    return extract(SHIPMENTS_FLOW, params)


def extract_visits(params: dict) -> list[dict]:
    return extract(VISITS_FLOW, params)


def parse_month(text: str) -> dt.date:
    match = MONTH_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a month: write YYYY-MM (or YYYY-MM-DD)")
    return dt.date(int(match[1]), int(match[2]), 1)


def month_range(first: dt.date, last: dt.date) -> list[str]:
    if first > last:
        raise ValueError(f"the range {first:%Y-%m} … {last:%Y-%m} is empty: 'from' is after 'to'")
    months, cur = [], first
    while cur <= last:
        months.append(cur.isoformat())
        cur = dt.date(cur.year + cur.month // 12, cur.month % 12 + 1, 1)
    return months


def resolve_months(from_month: str | None, to_month: str | None, interval_start: dt.date | None) -> list[str]:
    """The months a month-close run publishes.

    Explicit ``to_month``/``from_month`` params win (a backfill is one run over a range);
    otherwise a scheduled run closes the month its data interval starts in.
    """
    if to_month:
        last = parse_month(to_month)
    elif interval_start is not None:
        last = dt.date(interval_start.year, interval_start.month, 1)
    else:
        raise ValueError("no month to close: pass to_month (YYYY-MM)")
    first = parse_month(from_month) if from_month else last
    return month_range(first, last)


RUN_DIRS_KEPT = 30


def run_dir(run_id: str) -> Path:
    """Artefacts of one run (dbt target and logs, GX results), kept for debugging."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return load_settings().run_dir / safe


def prune_run_dirs(keep: int = RUN_DIRS_KEPT) -> None:
    """Keep the artefacts of the latest runs only: each holds a dbt manifest of a few MB."""
    root = load_settings().run_dir
    if not root.is_dir():
        return
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def acquire_month_close(run_id: str, dag_id: str) -> dict:
    """Take the month-close lock for this run (waits for a running month close, bounded)."""
    url = transformer_url()
    with connect(url) as conn:
        schema.ensure_schema(conn)
        lease = month_close_lock.acquire(conn, run_id, dag_id)
    return {"lease_id": lease.lease_id, "run_id": lease.run_id, "acquired_at": lease.acquired_at.isoformat()}


def release_month_close(run_id: str) -> bool:
    """Release this run's month-close lock, whatever happened to its tasks."""
    with connect(transformer_url()) as conn:
        return month_close_lock.release(conn, run_id)


@contextmanager
def month_close(run_id: str, dag_id: str = "manual") -> Iterator[dict]:
    """Hold the month-close lock around month-close steps called outside the DAG (scripts, tests).

    ``with tasks.month_close("my-run"): tasks.build(months, "my-run")`` — the steps refuse
    to run without it, because they rebuild schemas a running month close is using.
    """
    lease = acquire_month_close(run_id, dag_id)
    try:
        yield lease
    finally:
        release_month_close(run_id)


def dbt_version_of_run(target_dir: Path) -> str | None:
    """The dbt version that wrote ``run_results.json`` in ``target_dir`` (recorded with each publication)."""
    path = target_dir / "run_results.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("metadata", {}).get("dbt_version")


def build(months: list[str], run_id: str, thresholds: dict | None = None, full_refresh: bool = False) -> dict:
    """dbt build up to the last month, with this run's ``thresholds`` (dbt vars) if any: the
    first of the month close's two passes (everything but what reads the churn scores).

    The build redoes only the dirty months (transform/dirty.py: from the earliest month the
    data loaded since the last successful build touches, or everything when forced or when
    ``full_refresh`` is asked for). The build is recorded in ``audit.builds`` before dbt runs;
    :func:`build_scored` marks it succeeded once both passes built every model: a failed build
    leaves the next run to redo at least the same range.

    Returns ``checks`` (the data tests, as gate checks), ``dbt_version`` (which the
    publication records), ``published_tables`` (the reporting models of the build's dbt
    manifest), the plan (``rebuild_from``, ``full_refresh``), ``build_id`` and ``built`` (every
    model of this pass built); passed along by the DAG because workers need not share a disk.
    """
    prune_run_dirs()
    target = run_dir(run_id) / "dbt"
    overrides = dbt.check_overrides(thresholds)
    with month_close_lock.held(run_id):
        with connect(transformer_url()) as conn:
            plan = dirty.plan_build(conn, months[-1], {**dbt.project_vars(), **overrides}, full_refresh)
            build_id = dirty.start_build(conn, plan, run_id)
        log.info("%s", plan.describe())
        progress.report(plan.describe()[:120])
        results = dbt.build(transformer_url(), months[-1], target, overrides=thresholds,
                            rebuild_from=plan.dbt_rebuild_from, full_refresh=plan.full_refresh)
        built = dbt.all_nodes_built(target)
    checks = dbt_checks(results)
    manifest = target / contract.MANIFEST
    return {"checks": [asdict(c) for c in checks], "dbt_version": dbt_version_of_run(target),
            "published_tables": list(contract.published_tables(manifest)),
            "relations": dbt.model_relations(manifest),
            "rebuild_from": plan.dbt_rebuild_from, "full_refresh": plan.full_refresh,
            "build_id": build_id, "built": built}


def score_churn(months: list[str], run_id: str, build_id: int, rebuild_from: str | None) -> dict:
    """Train and score the churn model for the months the build redid (churn/score.py).

    Returns ``scored_from`` ('YYYY-MM-01', or None when nothing was scored): the second dbt
    pass rebuilds from the earlier of it and the build's own dirty month, which the build's
    record says from here on (``dirty.widen_build``).
    """
    from clientbase.churn import score

    with month_close_lock.held(run_id):
        result = score.score_months(transformer_url(), parse_month(months[-1]),
                                    parse_month(rebuild_from) if rebuild_from else None, run_id)
        if result.scored_from is not None:
            with connect(transformer_url()) as conn:
                dirty.widen_build(conn, build_id, result.scored_from)
    log.info("%s", result.describe())
    return {"scored_from": result.scored_from.isoformat() if result.scored_from else None,
            "months_scored": result.months_scored, "months_without_model": result.months_without_model,
            "clients_scored": result.clients_scored}


def build_scored(months: list[str], run_id: str, build: dict, scored_from: str | None,
                 thresholds: dict | None = None) -> list[dict]:
    """The second dbt pass: what reads the churn scores, from the earlier of the build's dirty
    month and the first month scored; then the build is marked succeeded if both passes built
    every model. Returns the data tests of both passes, as gate checks.
    """
    target = run_dir(run_id) / "dbt-scored"
    starts = [s for s in (build["rebuild_from"], scored_from) if s]
    rebuild_from = None if build["full_refresh"] or build["rebuild_from"] is None else min(starts)
    with month_close_lock.held(run_id):
        results = dbt.build(transformer_url(), months[-1], target, overrides=thresholds,
                            rebuild_from=rebuild_from, full_refresh=build["full_refresh"], scored=True)
        if build["built"] and dbt.all_nodes_built(target):
            with connect(transformer_url()) as conn:
                dirty.finish_build(conn, build["build_id"])
        else:
            log.warning("dbt skipped or failed some models: build %d is not marked succeeded, "
                        "the next month close rebuilds at least the same months", build["build_id"])
    return [*build["checks"], *(asdict(c) for c in dbt_checks(results))]


def dbt_checks(results: list[dbt.DbtTestResult]) -> list[gate.Check]:
    """dbt data tests as gate checks: status ``warn`` (``severity: warn``) warns, any other failure blocks.

    Every check of a model or a published table is a dbt test (the GX suites check the
    sources only), so this is where the invariants of the reporting tables reach the gate.
    """
    return [
        gate.Check(
            source="dbt", suite="dbt tests", name=res.name,
            severity=gate.WARNING if res.status == "warn" else gate.BLOCKING,
            success=res.status == "pass",
            details={"status": res.status, "failures": res.failures, "message": res.message},
        )
        # a test skipped because an upstream test failed did not run: the failure already counts
        for res in results if res.status != "skipped"
    ]


def validate(months: list[str], run_id: str, thresholds: dict | None = None,
             relations: dict[str, str] | None = None, rebuild_from: str | None = None) -> list[dict]:
    """Great Expectations suites of ``expectations/`` against the warehouse, then Data Docs.

    The suites check the incoming datasets (the dbt staging views) and the shipment volume
    of ``months``; the models and published tables are checked by dbt tests in ``build``.
    Each suite names a dbt model, resolved through this run's dbt build (``relations``, the
    build's ``{model: relation}``; read from the run's manifest when not given), so a renamed
    model fails here by name. The HTML Data Docs go to the run directory and to
    ``$CLIENTBASE_HOME/docs/gx``; failed checks carry the path so the gate's message can
    name it. ``thresholds`` are refused here too when they are not dbt vars.

    ``rebuild_from`` is the build's dirty month (its ``rebuild_from``; None after a full
    refresh or when every month was rebuilt): the row checks of month-dated datasets then
    read the rows from that month on only, so their cost follows the new data, not the
    history (expectations/README.md says which checks still see every row, and why).
    """
    from clientbase.contract import MAX_DAYS_AHEAD
    from clientbase.quality import data_docs, expectations

    settings = load_settings()
    dbt.check_overrides(thresholds)
    suites = expectations.load_suites(settings.expectations_dir)
    models = set().union(*(s.models for s in suites))
    relations = (expectations.resolve_models(relations, models) if relations is not None
                 else expectations.relations_from_manifest(run_dir(run_id) / "dbt" / contract.MANIFEST, models))
    progress.report(f"great expectations: {len(suites)} suites")
    # the source date window of the load rules, for suites that restate it:
    # {"$PARAMETER": "min_date"} / {"$PARAMETER": "max_date"}
    params = {"min_date": settings.min_source_date.isoformat(),
              "max_date": (dt.date.today() + dt.timedelta(days=MAX_DAYS_AHEAD)).isoformat(),
              "months": months}
    results_dir = run_dir(run_id) / "gx"
    with month_close_lock.held(run_id):
        results = expectations.validate(transformer_url(), suites, params, run_id, relations,
                                        results_dir=results_dir, rows_from=rebuild_from)
    progress.report("great expectations: rendering Data Docs")
    docs = data_docs.publish(results_dir, data_docs.latest_dir(settings))
    log.info("%s", docs.describe())
    return [asdict(gate.Check(
        source="gx", suite=r.suite, name=r.check_name, severity=r.severity, success=r.success,
        details=r.details() if r.success else {**r.details(), gate.DATA_DOCS: docs.describe()},
    )) for r in results]


def quality_gate(dbt_checks: list[dict], gx_checks: list[dict], months: list[str], run_id: str) -> list[str]:
    """Decide; store the decision; raise GateBlocked (nothing published) if a blocking check failed."""
    checks = [gate.Check(**c) for c in [*dbt_checks, *gx_checks]]
    decision = gate.decide(checks, months)
    with month_close_lock.held(run_id), connect(transformer_url()) as conn:
        gate.store(conn, run_id, decision, checks)
    message = decision.message()
    if not decision.passed:
        log.error("%s", message)
        raise GateBlocked(message)
    log.info("%s", message)
    return months


def publish(month: str, run_id: str, tables: list[str], dbt_version: str | None = None) -> dict:
    """Publish one month of ``tables``; refuses unless this run's gate decision passed and covers the month."""
    with month_close_lock.held(run_id), connect(transformer_url()) as conn:
        decision = conn.execute(
            "select passed, checks_run - blocking_failed - warnings, warnings from audit.gate_decisions "
            "where run_id = %s and %s::date = any(months) order by decision_id desc limit 1",
            (run_id, month),
        ).fetchone()
        if not decision or not decision[0]:
            raise GateBlocked(f"{month[:7]} has no passing quality-gate decision in run {run_id}: not published")
        if dirty.month_unchanged_since_published(conn, run_id, month):
            # before this build's dirty month and published since it last changed: nothing to checksum
            result = published_unchanged(conn, month)
            if result is not None:
                log.info("%s (before the dirty month: not checksummed)", result.summary())
                return asdict(result)
        progress.report(f"publishing {month[:7]}")
        result = publish_month(conn, month, run_id, decision[1], decision[2], tables, dbt_version)
    return asdict(result)
