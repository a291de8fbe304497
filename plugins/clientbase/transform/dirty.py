"""The dirty month: the earliest month a month close's dbt build must redo.

The incremental models keep every month before the dbt var ``rebuild_from`` and rebuild
from it to ``report_month``. Which month that is follows from what reached ``raw`` since
the last successful build (``audit.builds``):

* every batch loaded since (``audit.batches`` above the build's ``max_batch_id``) and every
  row released from quarantine since (``audit.quarantine.released_at``; a released row keeps
  its old batch id in raw, so it is found by its batch and line) touches the month of its
  date column (``Dataset.date_columns_in_range``) and, when it is a new version of a key that
  was already loaded (last version wins), the month of every earlier version of that key too:
  a correction may move a line to another month. A new version identical to the one it
  replaces (a re-exported period) touches nothing;
* a reference list dated by ``snapshot_date`` (clients, trade_points) touches the month it
  comes into force (int_reference_lists_monthly: the list in force on a month's last day), and
  everything when it is dated on or before the first list, which the months before it use,
  or when it names an id no earlier list had (every listed client or point has a row in
  every month of the spine, ``potential`` before it is active);
* a dataset without a date (managers, products) touches every month, and so do the first
  rows of a dataset the last build saw empty: a metric whose source has no rows at all is
  NULL in every month (int_source_presence), 0 once it has any, so every month changes;
* ``report_month`` moving forward touches the month after the previous build's, moving back
  the new one.

A full refresh is forced when there is no earlier successful build, when the thresholds (dbt
vars with this run's overrides) or the dbt project's files (models, macros, seeds, tests,
``dbt_project.yml``) differ from the last build's — the code changed, so history must be
recomputed — or when the run asks for it. With nothing new and the same report month the
plan rebuilds the report month alone (cheap, and the run still gets its dbt tests for the
gate) rather than skipping dbt.

Everything is set-based SQL: one query per dataset with new rows, none for the others.
Cost: the new rows are found through a BRIN index on ``_batch_id`` (warehouse/schema.py) and
their earlier versions through the key index, so it follows the new data, not the history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field

import psycopg

from clientbase.contract import BATCH_COLUMN, DATASETS, LINE_COLUMN, Dataset
from clientbase.settings import Settings, load_settings

log = logging.getLogger(__name__)

# the files of the dbt project whose content decides what the models compute
PROJECT_DIRS = ("models", "macros", "seeds", "tests", "snapshots")
PROJECT_FILES = ("dbt_project.yml",)
PROJECT_SUFFIXES = (".sql", ".yml", ".yaml", ".csv", ".py")
# reference lists that come into force at their snapshot_date (int_reference_lists_monthly)
REFERENCE_LISTS = ("clients", "trade_points")
LIST_DATE = "snapshot_date"


@dataclass(frozen=True)
class Touch:
    """What one batch (or the rows released from quarantine) changes: months first … last."""

    dataset: str
    source: str  # "batch 412" | "quarantine release" | "managers list" ...
    first: dt.date | None  # None: every month
    last: dt.date | None = None

    def describe(self) -> str:
        if self.first is None:
            return f"{self.dataset} {self.source} touches every month"
        span = f"{self.first:%Y-%m}" + (f" … {self.last:%Y-%m}" if self.last and self.last != self.first else "")
        return f"{self.dataset} {self.source} touches {span}"


@dataclass
class BuildPlan:
    """What a month close's dbt build redoes, and what ``audit.builds`` records once it succeeded."""

    report_month: dt.date
    rebuild_from: dt.date | None  # None: every month (with or without a full refresh)
    full_refresh: bool
    reasons: list[str] = field(default_factory=list)
    max_batch_id: int = 0
    started_at: dt.datetime | None = None
    vars_md5: str = ""
    project_md5: str = ""

    @property
    def dbt_rebuild_from(self) -> str | None:
        """The dbt var ``rebuild_from``: ``'YYYY-MM-01'``, or None for everything."""
        return None if self.full_refresh or self.rebuild_from is None else self.rebuild_from.isoformat()

    def describe(self) -> str:
        if self.full_refresh:
            what = "full refresh"
        elif self.rebuild_from is None:
            what = "rebuilding every month"
        else:
            what = f"rebuilding from {self.rebuild_from:%Y-%m}"
        why = "; ".join(self.reasons) if self.reasons else "nothing new"
        return f"{what} to {self.report_month:%Y-%m} ({why})"


def _month(value: str | dt.date) -> dt.date:
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value[:10])
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def vars_md5(thresholds: dict) -> str:
    """Digest of the effective thresholds (project vars with this run's overrides), order-free."""
    return hashlib.md5(json.dumps(thresholds, sort_keys=True, default=str).encode()).hexdigest()


def project_md5(settings: Settings | None = None) -> str:
    """Digest of the dbt project's files (path and content): changed code means recomputed history.

    ``target/``, ``logs/`` and installed packages are build output, not code, and left out.
    """
    root = (settings or load_settings()).dbt_project_dir
    paths = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    for folder in PROJECT_DIRS:
        if (root / folder).is_dir():
            paths += [p for p in (root / folder).rglob("*") if p.is_file() and p.suffix in PROJECT_SUFFIXES]
    digest = hashlib.md5()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def last_build(conn: psycopg.Connection) -> dict | None:
    """The latest succeeded build recorded in ``audit.builds``, as a dict, or None."""
    cur = conn.execute(
        "select build_id, run_id, report_month, rebuild_from, full_refresh, max_batch_id, vars_md5, "
        "project_md5, started_at from audit.builds where succeeded order by build_id desc limit 1")
    row = cur.fetchone()
    return dict(zip([d.name for d in cur.description], row, strict=True)) if row else None


def failed_since(conn: psycopg.Connection, build_id: int) -> list[tuple[int, dt.date | None, bool]]:
    """Build attempts after ``build_id`` that did not succeed: ``(build_id, rebuild_from, full_refresh)``.

    dbt may have rebuilt part of their range before failing (with their thresholds, too), so
    the next build redoes at least that range, and a failed full refresh means a full refresh.
    """
    return conn.execute(
        "select build_id, rebuild_from, full_refresh from audit.builds "
        "where build_id > %s and not succeeded order by build_id", (build_id,)).fetchall()


def snapshot_loads(conn: psycopg.Connection) -> tuple[int, dt.datetime]:
    """The newest batch id and the time, once no load is half-way.

    Each load and quarantine release holds its dataset's advisory lock for its whole
    transaction (load/loader.py ``_lock_dataset``); taking every one of them once waits for
    loads in progress, so no batch with a lower id can commit after this point and be missed
    by the next build, and any release committed later has a later ``released_at``.
    """
    with conn.transaction():
        for name in DATASETS:
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"clientbase.load.{name}",))
        max_batch, now = conn.execute(
            "select coalesce(max(batch_id), 0), clock_timestamp() from audit.batches").fetchone()
    return max_batch, now


def _touches(conn: psycopg.Connection, ds: Dataset, max_batch: int, since: dt.datetime) -> list[Touch]:
    """Months the rows of ``ds`` loaded or released after the last build touch, per batch.

    New rows: batches above ``max_batch`` and rows released since ``since``. A new row with
    an earlier version of its key touches the months of every version (of the new rows'
    keys) unless it is identical to the version it replaces; a key seen for the first time,
    only its own month. One statement per dataset.
    """
    key = ", ".join(ds.key)
    cols = ", ".join(f"r.{c}" for c in ds.column_names)
    same_key = " and ".join(f"o.{k} = n.{k}" for k in ds.key)
    same_values = " and ".join(f"o.{c} is not distinct from n.{c}" for c in ds.column_names)

    def day(alias: str) -> str:
        dates = [f"{alias}.{c}" for c in ds.date_columns_in_range]
        return dates[0] if len(dates) == 1 else f"least({', '.join(dates)})"

    sql = f"""
    with released as (
        select q.batch_id, q.line_no
        from audit.quarantine q
        where q.dataset = %(dataset)s and q.released_at >= %(since)s and q.released_in_batch is null
    ),
    new_rows as (
        select r.{BATCH_COLUMN} as batch_id, 'batch ' || r.{BATCH_COLUMN} as source, {cols}
        from raw.{ds.name} r
        where r.{BATCH_COLUMN} > %(max_batch)s
        union all
        select r.{BATCH_COLUMN}, 'quarantine release', {cols}
        from raw.{ds.name} r
        join released q on r.{BATCH_COLUMN} = q.batch_id and r.{LINE_COLUMN} = q.line_no
    ),
    old_rows as (
        -- every version of the new rows' keys the last build saw
        select o.*
        from raw.{ds.name} o
        where ({key}) in (select {key} from new_rows)
          and o.{BATCH_COLUMN} <= %(max_batch)s
          and (o.{BATCH_COLUMN}, o.{LINE_COLUMN}) not in (select batch_id, line_no from released)
    ),
    current_old as (
        select distinct on ({key}) *
        from old_rows
        order by {key}, {BATCH_COLUMN} desc, {LINE_COLUMN} desc
    ),
    changed as (
        -- a new version equal to the one in force before it changes nothing (a re-exported
        -- period); a released row may be older than the version in force: always counted
        -- a left join, not "or not exists (...)": PostgreSQL cannot turn a sublink under an
        -- OR into an anti-join, and ran it as a subplan scanning every old version once per
        -- new row (quadratic: 26 s of a one-month close at size M); the join hashes the key
        select n.*
        from new_rows n
        left join current_old o on {same_key} and {same_values}
        where n.source = 'quarantine release'
           or o.{BATCH_COLUMN} is null
    ),
    touched as (
        select n.source, n.batch_id, {day("n")} as day
        from changed n
        union all
        select n.source, n.batch_id, {day("o")}
        from changed n
        join old_rows o on {same_key}
    )
    select source, date_trunc('month', min(day))::date, date_trunc('month', max(day))::date
    from touched
    group by source, batch_id
    order by min(day), batch_id
    """
    rows = conn.execute(sql, {"dataset": ds.name, "since": since, "max_batch": max_batch}).fetchall()
    if ds.name in REFERENCE_LISTS and rows:
        return _list_touches(conn, ds, rows, max_batch, since)
    return [Touch(ds.name, source, first, last) for source, first, last in rows if first is not None]


def _unseen_release(alias: str) -> str:
    """SQL: row ``alias`` of raw was released from quarantine after the last build, which did
    not see it (parameters ``dataset`` and ``since``)."""
    return (f"exists (select from audit.quarantine q where q.dataset = %(dataset)s "
            f"and q.released_at >= %(since)s and q.released_in_batch is null "
            f"and q.batch_id = {alias}.{BATCH_COLUMN} and q.line_no = {alias}.{LINE_COLUMN})")


def _seen_before(conn: psycopg.Connection, ds: Dataset, max_batch: int, since: dt.datetime) -> bool:
    """Whether the last build saw any row of ``ds`` (its batches up to ``max_batch``, less the
    rows released since). Stops at the first such row."""
    return conn.execute(
        f"select exists (select from raw.{ds.name} o where o.{BATCH_COLUMN} <= %(max_batch)s "
        f"and not {_unseen_release('o')})",
        {"dataset": ds.name, "since": since, "max_batch": max_batch},
    ).fetchone()[0]


def _list_touches(conn: psycopg.Connection, ds: Dataset, rows: list, max_batch: int,
                  since: dt.datetime) -> list[Touch]:
    """A reference list dated on or before the first list loaded before touches every month.

    The months before the first list use the first list (int_reference_lists_monthly), so a
    new first list — or a change to it — changes them all; any later list, its own month on.
    """
    first_list = conn.execute(
        f"select min({LIST_DATE}) from raw.{ds.name} o where o.{BATCH_COLUMN} <= %(max_batch)s "
        f"and not {_unseen_release('o')}",
        {"dataset": ds.name, "since": since, "max_batch": max_batch},
    ).fetchone()[0]
    # an id no earlier list named: every client (point) ever listed has a row in every month
    # of the spine (``potential`` before it is active), so a newcomer changes all months
    id_column = next(c for c in ds.key if c != LIST_DATE)
    newcomer = conn.execute(
        f"select exists (select from raw.{ds.name} n where n.{BATCH_COLUMN} > %(max_batch)s "
        f"and not exists (select from raw.{ds.name} o where o.{id_column} = n.{id_column} "
        f"and o.{BATCH_COLUMN} <= %(max_batch)s))",
        {"max_batch": max_batch},
    ).fetchone()[0]
    out = []
    for source, first, last in rows:
        if first is None:
            continue
        if newcomer:
            out.append(Touch(ds.name, f"{source} (names a {id_column} no earlier list had: it has a row "
                                      "in every month)", None))
        elif first_list is None or first <= _month(first_list):
            out.append(Touch(ds.name, f"{source} (dated on or before the first list)", None))
        else:
            out.append(Touch(ds.name, source, first, last))
    return out


def new_data_touches(conn: psycopg.Connection, max_batch: int, since: dt.datetime) -> list[Touch]:
    """Every :class:`Touch` of the data loaded or released after a build (batch ``max_batch``, time ``since``)."""
    batches = conn.execute(
        "select dataset, array_agg(batch_id order by batch_id) from audit.batches "
        "where batch_id > %s and status = 'loaded' and rows_loaded > 0 group by dataset",
        (max_batch,),
    ).fetchall()
    released = conn.execute(
        "select dataset, count(*) from audit.quarantine where released_at >= %s and released_in_batch is null "
        "group by dataset",
        (since,),
    ).fetchall()
    with_new = {d: ids for d, ids in batches}
    for dataset, _ in released:
        with_new.setdefault(dataset, [])
    touches: list[Touch] = []
    for name in DATASETS:  # the contract's order: reference lists first
        if name not in with_new:
            continue
        ds = DATASETS[name]
        if not ds.date_columns_in_range:
            ids = with_new[name]
            source = f"batch {ids[0]}" + (f" … {ids[-1]}" if len(ids) > 1 else "") if ids else "quarantine release"
            touches.append(Touch(name, f"{source} (no date: {name} applies to every month)", None))
            continue
        found = _touches(conn, ds, max_batch, since)
        if found and ds.name not in REFERENCE_LISTS and not _seen_before(conn, ds, max_batch, since):
            # (a first reference list already touches every month: _list_touches)
            touches.append(Touch(name, f"{found[0].source} (the first {name} rows: metrics from {name} were "
                                       "NULL in every month, now they have a value)", None))
            continue
        touches += found
    return touches


def plan_build(conn: psycopg.Connection, report_month: str | dt.date, thresholds: dict,
               full_refresh: bool = False, settings: Settings | None = None) -> BuildPlan:
    """Decide what this build redoes (see the module's docstring); records nothing.

    ``thresholds`` are the effective dbt vars (the project's with this run's overrides).
    """
    month = _month(report_month)
    max_batch, started = snapshot_loads(conn)
    plan = BuildPlan(month, None, False, max_batch_id=max_batch, started_at=started,
                     vars_md5=vars_md5(thresholds), project_md5=project_md5(settings))
    last = last_build(conn)
    forced = []
    if full_refresh:
        forced.append("asked for (full_refresh)")
    if last is None:
        forced.append("no earlier successful build")
    else:
        if last["vars_md5"] != plan.vars_md5:
            forced.append("the thresholds (dbt vars) differ from the last build's")
        if last["project_md5"] != plan.project_md5:
            forced.append("the dbt project's files changed since the last build")
    if forced:
        plan.full_refresh = True
        plan.reasons = [f"full refresh: {', '.join(forced)}"]
        return plan

    failed = failed_since(conn, last["build_id"])
    if any(full for _, _, full in failed):
        plan.full_refresh = True
        plan.reasons = [f"full refresh: build {[b for b, _, full in failed if full][-1]}, a full refresh, "
                        "failed half-way"]
        return plan
    touches = new_data_touches(conn, last["max_batch_id"], last["started_at"])
    starts: list[dt.date | None] = [t.first for t in touches]
    plan.reasons = [t.describe() for t in touches]
    for build_id, failed_from, _ in failed:
        starts.append(failed_from)
        plan.reasons.append(f"build {build_id} failed rebuilding from "
                            f"{'every month' if failed_from is None else f'{failed_from:%Y-%m}'}")
    previous = last["report_month"]
    if month > previous:
        starts.append(_next_month(previous))
        plan.reasons.append(f"report month moved forward from {previous:%Y-%m}")
    elif month < previous:
        starts.append(month)
        plan.reasons.append(f"report month moved back from {previous:%Y-%m}")
    if any(s is None for s in starts):
        plan.rebuild_from = None
    else:
        # never after the report month: with nothing new, the report month alone is rebuilt
        plan.rebuild_from = min([*starts, month])
    return plan


def start_build(conn: psycopg.Connection, plan: BuildPlan, run_id: str) -> int:
    """Record a build attempt before dbt runs (not succeeded yet); returns its ``build_id``."""
    with conn.transaction():
        return conn.execute(
            "insert into audit.builds (run_id, report_month, rebuild_from, full_refresh, max_batch_id, "
            "vars_md5, project_md5, reasons, started_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "returning build_id",
            (run_id, plan.report_month, None if plan.full_refresh else plan.rebuild_from, plan.full_refresh,
             plan.max_batch_id, plan.vars_md5, plan.project_md5, plan.reasons, plan.started_at),
        ).fetchone()[0]


def finish_build(conn: psycopg.Connection, build_id: int) -> None:
    """Mark a build succeeded once dbt built every model and seed: the next month close plans from it."""
    with conn.transaction():
        conn.execute("update audit.builds set succeeded = true, finished_at = clock_timestamp() "
                     "where build_id = %s", (build_id,))


def widen_build(conn: psycopg.Connection, build_id: int, month: dt.date) -> None:
    """Record that a build redoes months from ``month`` on, earlier than it planned (the churn
    model rescored months of another model: churn/score.py). Recorded before the second dbt
    pass runs, so a failure leaves the next close to redo them, and a success tells the
    publisher they changed. A build of every month (NULL) stays so."""
    with conn.transaction():
        conn.execute("update audit.builds set rebuild_from = least(rebuild_from, %s::date) "
                     "where build_id = %s and rebuild_from is not null", (month, build_id))


def record_build(conn: psycopg.Connection, plan: BuildPlan, run_id: str) -> int:
    """Record a build and its success at once (a build whose dbt run succeeded)."""
    build_id = start_build(conn, plan, run_id)
    finish_build(conn, build_id)
    return build_id


def month_unchanged_since_published(conn: psycopg.Connection, run_id: str, month: str | dt.date) -> bool:
    """Whether this run's build left ``month`` as it was when it was last published.

    True only when this run's build succeeded, started after ``month`` (``rebuild_from`` later,
    no full refresh), and the month was published after every earlier build attempt whose range
    covered it finished (a failed one never finished: never true then). Its rows in
    reporting_stage are then exactly those published, so the publisher need not checksum them.
    """
    return bool(conn.execute(
        """
        with this_build as (
            select build_id, rebuild_from
            from audit.builds
            where run_id = %(run_id)s and succeeded
            order by build_id desc
            limit 1
        ),
        last_change as (
            select b.finished_at, b.succeeded
            from audit.builds b, this_build t
            where b.build_id < t.build_id
              and (b.full_refresh or b.rebuild_from is null or b.rebuild_from <= %(month)s)
            order by b.build_id desc
            limit 1
        )
        select exists (
            select
            from this_build t, last_change c
            where t.rebuild_from > %(month)s
              and c.succeeded
              and exists (select from reporting.publications p
                          where p.month = %(month)s and p.published_at > c.finished_at)
        )
        """,
        {"run_id": run_id, "month": month},
    ).fetchone()[0])
