"""One month close at a time, across processes and machines: a lease in the warehouse.

Why: dbt rebuilds shared schemas (``reporting_stage``, marts, snapshots) in place, so two
month closes that interleave (one building while the other checks or publishes) would gate
and publish a mix of both. Airflow's ``max_active_runs=1`` serialises the runs one
scheduler starts, but not a ``clientbase run`` (``dag.test()`` in its own process) beside
the scheduler, nor two CLIs. The warehouse is the one thing they all share.

Design. A *lease* row in ``audit.month_close_leases`` (a partial unique index allows one
open row) names the run that holds the month close. The ``monthly_kpi`` DAG takes it in a
setup task and releases it in a teardown task, so snapshot, build, checks, gate and
publication all run under it. Those tasks run in separate worker processes, so no database
session spans the run; instead each locked task, while it runs, holds a session-level
advisory lock on the lease (keys ``LEASE_LOCK_CLASS``, ``lease_id``) and counts itself in
``active_tasks``.

Stale holders. A process killed by SIGKILL releases nothing, but PostgreSQL ends its
session and with it the advisory lock. A lease with ``active_tasks > 0`` whose advisory
lock nobody holds therefore belongs to a run that died inside a task: the next run takes
it over at once. Between two tasks (``active_tasks = 0``) there is no session to watch, so
such a lease is stale only after ``month_close_stale_after_s`` without a task starting or
ending. A run whose lease was taken over fails at its next task (``LeaseLost``) instead of
running on unprotected.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from clientbase import progress
from clientbase.settings import load_settings
from clientbase.warehouse.connection import connect, transformer_url

log = logging.getLogger(__name__)

TABLE = "audit.month_close_leases"
# Advisory lock keys (warehouse/schema.py's DDL lock is 4_214_001).
DECIDE_LOCK_KEY = 4_214_002  # transaction lock: one acquire / take-over decision at a time
LEASE_LOCK_CLASS = 4_214_003  # session lock (LEASE_LOCK_CLASS, lease_id) held by a running task
POLL_S = 2.0  # how often a waiting run looks again
WAIT_LOG_EVERY_S = 60.0

_COLUMNS = "lease_id, run_id, dag_id, holder, acquired_at, renewed_at, active_tasks, released_at, release_reason"


class MonthCloseBusy(RuntimeError):
    """Another month close holds the lock and did not finish within the wait."""


class LeaseLost(RuntimeError):
    """This run does not (or no longer) hold the month-close lock: it must not touch shared schemas."""


@dataclass(frozen=True)
class Lease:
    lease_id: int
    run_id: str
    dag_id: str
    holder: str
    acquired_at: dt.datetime
    renewed_at: dt.datetime
    active_tasks: int
    released_at: dt.datetime | None
    release_reason: str | None

    def describe(self) -> str:
        return (f"run {self.run_id!r} of {self.dag_id} (process {self.holder}, holding it since "
                f"{self.acquired_at:%Y-%m-%d %H:%M:%S %Z}, lease {self.lease_id})")


def holder_name() -> str:
    """host:pid of this process, shown to whoever waits for the lock."""
    return f"{socket.gethostname()}:{os.getpid()}"


def current(conn: psycopg.Connection, *, for_update: bool = False) -> Lease | None:
    """The open lease, if a month close holds the lock."""
    query = f"select {_COLUMNS} from {TABLE} where released_at is null" + (" for update" if for_update else "")
    return conn.cursor(row_factory=class_row(Lease)).execute(query).fetchone()


def _task_alive(conn: psycopg.Connection, lease: Lease) -> bool:
    """Does some session hold the lease's advisory lock, i.e. is one of its tasks running?"""
    return conn.execute(
        "select exists (select 1 from pg_locks where locktype = 'advisory' and granted "
        "and classid = %s::int::oid and objid = %s::int::oid and objsubid = 2)",
        (LEASE_LOCK_CLASS, lease.lease_id),
    ).fetchone()[0]


def stale_reason(conn: psycopg.Connection, lease: Lease, stale_after_s: float) -> str | None:
    """Why ``lease`` is stale (its run is gone), or None if its run may still be working.

    Call it with the lease row locked (``current(for_update=True)``): a task counts itself in
    only after taking the advisory lock and unlocks only after counting itself out, and
    neither can commit while the row is locked, so "counted in but unlocked" means dead.
    """
    if lease.active_tasks > 0:
        if _task_alive(conn, lease):
            return None
        return (f"{lease.active_tasks} task(s) of run {lease.run_id!r} were running, but their "
                "database sessions are gone (the process was killed)")
    idle_s = conn.execute("select extract(epoch from clock_timestamp() - %s::timestamptz)::float8",
                          (lease.renewed_at,)).fetchone()[0]
    if idle_s > stale_after_s:
        return (f"run {lease.run_id!r} started no task for {idle_s:.0f} s "
                f"(more than CLIENTBASE_MONTH_CLOSE_STALE_AFTER_S = {stale_after_s:.0f})")
    return None


def _try_acquire(conn: psycopg.Connection, run_id: str, dag_id: str,
                 stale_after_s: float) -> tuple[Lease | None, Lease | None]:
    """One attempt: (our lease, None) or (None, the live lease in the way)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (DECIDE_LOCK_KEY,))
        held = current(conn, for_update=True)
        if held is not None and held.run_id == run_id:
            # the setup task of this run again (a retry): keep the lease
            conn.execute(f"update {TABLE} set renewed_at = clock_timestamp() where lease_id = %s", (held.lease_id,))
            return held, None
        if held is not None:
            reason = stale_reason(conn, held, stale_after_s)
            if reason is None:
                return None, held
            conn.execute(
                f"update {TABLE} set released_at = clock_timestamp(), release_reason = %s where lease_id = %s",
                (f"taken over by run {run_id!r}: {reason}", held.lease_id),
            )
            log.warning("month-close lock of %s was stale, taking it over: %s", held.describe(), reason)
        lease = conn.cursor(row_factory=class_row(Lease)).execute(
            f"insert into {TABLE} (run_id, dag_id, holder) values (%s, %s, %s) returning {_COLUMNS}",
            (run_id, dag_id, holder_name()),
        ).fetchone()
    log.info("month-close lock taken by run %s (lease %s)", run_id, lease.lease_id)
    return lease, None


def busy_message(lease: Lease, waited_s: float, stale_after_s: float) -> str:
    return (
        f"another month close is running: {lease.describe()}; waited {waited_s:.0f} s for it "
        "(CLIENTBASE_MONTH_CLOSE_WAIT_S). Nothing was built or published by this run.\n"
        "What to do: let that run finish (Airflow UI; or select * from "
        f"{TABLE} where released_at is null), then rerun this month close; "
        "to wait longer, raise CLIENTBASE_MONTH_CLOSE_WAIT_S. A run killed inside a task is taken over "
        "automatically; one killed between tasks after "
        f"{stale_after_s:.0f} s without activity (CLIENTBASE_MONTH_CLOSE_STALE_AFTER_S). If you are sure "
        "it is dead, release it by hand: "
        f"update {TABLE} set released_at = now(), release_reason = 'released by hand' "
        f"where lease_id = {lease.lease_id};"
    )


def acquire(conn: psycopg.Connection, run_id: str, dag_id: str, *, wait_s: float | None = None,
            stale_after_s: float | None = None) -> Lease:
    """Take the month-close lock for ``run_id``, waiting up to ``wait_s`` for a live holder.

    Raises ``MonthCloseBusy`` naming the holder when the wait runs out. Taking it again for
    the same run is a no-op (a retried setup task).
    """
    settings = load_settings()
    wait_s = settings.month_close_wait_s if wait_s is None else wait_s
    stale_after_s = settings.month_close_stale_after_s if stale_after_s is None else stale_after_s
    started = time.monotonic()
    last_log = None
    while True:
        lease, blocker = _try_acquire(conn, run_id, dag_id, stale_after_s)
        if lease is not None:
            return lease
        assert blocker is not None
        waited = time.monotonic() - started
        if waited >= wait_s:
            raise MonthCloseBusy(busy_message(blocker, waited, stale_after_s))
        if last_log is None or time.monotonic() - last_log >= WAIT_LOG_EVERY_S:
            log.warning("waiting for the month close of %s (up to %.0f s more)", blocker.describe(), wait_s - waited)
            last_log = time.monotonic()
        progress.report(f"waiting for month close run {blocker.run_id}")
        time.sleep(min(POLL_S, max(wait_s - waited, 0.0)))


def release(conn: psycopg.Connection, run_id: str) -> bool:
    """Release ``run_id``'s lease (the DAG's teardown); False if it held none (taken over)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (DECIDE_LOCK_KEY,))
        row = conn.execute(
            f"update {TABLE} set released_at = clock_timestamp(), release_reason = 'released' "
            "where run_id = %s and released_at is null returning lease_id",
            (run_id,),
        ).fetchone()
    if row is None:
        log.warning("run %s held no month-close lock to release: %s", run_id, _lost_detail(conn, run_id))
        return False
    log.info("month-close lock released by run %s (lease %s)", run_id, row[0])
    return True


def _lost_detail(conn: psycopg.Connection, run_id: str) -> str:
    row = conn.execute(
        f"select lease_id, release_reason, released_at from {TABLE} where run_id = %s order by lease_id desc limit 1",
        (run_id,),
    ).fetchone()
    if row is None:
        return "it never took it (the monthly_kpi DAG takes it in its month_close_lock task)"
    return f"lease {row[0]} ended at {row[2]:%Y-%m-%d %H:%M:%S %Z}: {row[1]}"


@contextmanager
def held(run_id: str, url: str | None = None) -> Iterator[Lease]:
    """Run one task of ``run_id`` under its lease; raises ``LeaseLost`` if the run does not hold it.

    The dedicated connection keeps the lease's advisory lock for the task's whole duration:
    if the process dies, PostgreSQL drops the lock and the next run sees this run is gone.
    """
    conn = connect(url or transformer_url())  # the month close's role (the owner unless configured)
    try:
        with conn.transaction():
            lease = current(conn, for_update=True)
            if lease is None or lease.run_id != run_id:
                holder = f"it is held by {lease.describe()}" if lease else "nobody holds it"
                raise LeaseLost(
                    f"run {run_id!r} does not hold the month-close lock ({holder}; "
                    f"{_lost_detail(conn, run_id)}). Nothing more is built or published by this run: "
                    "rerun the month close."
                )
            # lock first, count in second (see stale_reason)
            conn.execute("select pg_advisory_lock_shared(%s, %s::int)", (LEASE_LOCK_CLASS, lease.lease_id))
            conn.execute(f"update {TABLE} set active_tasks = active_tasks + 1, renewed_at = clock_timestamp() "
                         "where lease_id = %s", (lease.lease_id,))
        try:
            yield lease
        finally:
            # count out first, unlock second
            with conn.transaction():
                conn.execute(f"update {TABLE} set active_tasks = greatest(active_tasks - 1, 0), "
                             "renewed_at = clock_timestamp() where lease_id = %s", (lease.lease_id,))
            conn.execute("select pg_advisory_unlock_shared(%s, %s::int)", (LEASE_LOCK_CLASS, lease.lease_id))
    finally:
        conn.close()
