"""Faults: runs killed by SIGKILL, and month closes that try to run at the same time.

The real ``clientbase run`` runs in a subprocess. Timing is made deterministic from the
outside, with no hooks in the pipeline: the test holds a lock (a table lock, or the
publisher's advisory lock) from its own connection so that the run blocks at a known
statement, waits until ``pg_stat_activity`` shows the run waiting on the test, and only
then kills it (or starts a second run) and lets go.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from clientbase.contract import BATCH_COLUMN, DATASETS
from clientbase.orchestration import month_close_lock
from clientbase.publish.publisher import PUBLISH_LOCK
from conftest import PUBLISHED_TABLES, REPO, SCENARIOS, reset_warehouse

FROM, TO = "2024-10", "2024-12"
BOUND_S = 600  # upper bound for anything the tests wait for (never a timing assertion)
CLI = [str(Path(sys.executable).with_name("clientbase"))]


# ---------------------------------------------------------------- helpers


def fresh_warehouse(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists reporting_history cascade")  # not in conftest's list
    reset_warehouse(url)


def digest(conn: psycopg.Connection, query: sql.Composable | str) -> str:
    """count:md5 of a query's rows, independent of row order."""
    return conn.execute(sql.SQL("select count(*) || ':' || coalesce(md5(string_agg(r::text, '|' order by r::text)), "
                                "'') from ({}) r").format(sql.SQL(query) if isinstance(query, str) else query)
                        ).fetchone()[0]


def columns_except(conn: psycopg.Connection, schema: str, table: str, skip: set[str]) -> sql.Composable:
    names = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position", (schema, table))]
    return sql.SQL(", ").join(sql.Identifier("t", n) for n in names if n not in skip)


def warehouse_fingerprint(url: str) -> dict[str, str]:
    """What a run produced, without ids and timestamps that differ between equal runs.

    Reporting tables and their history in full; publications by month, version and content;
    every batch (a killed transaction still consumes batch ids, so rows are tied to their
    batch by file name, not id); raw rows and quarantine the same way.
    """
    out = {}
    with psycopg.connect(url) as conn:
        for table in PUBLISHED_TABLES:
            for schema in ("reporting", "reporting_history"):
                exists = conn.execute("select to_regclass(%s) is not null", (f"{schema}.{table}",)).fetchone()[0]
                out[f"{schema}.{table}"] = digest(conn, sql.SQL("select * from {}").format(
                    sql.Identifier(schema, table))) if exists else "absent"
        out["publications"] = digest(conn, "select month, version, content_md5, row_counts, checks_passed, "
                                           "checks_warned, dbt_version, pipeline_version from reporting.publications")
        out["audit.batches"] = digest(conn, "select dataset, source_kind, source_name, content_sha256, status, "
                                            "rows_read, rows_loaded, rows_quarantined, duplicate_keys, "
                                            "ignored_columns, encoding, delimiter, watermark, message "
                                            "from audit.batches")
        out["audit.quarantine"] = digest(conn, "select q.dataset, q.source_name, q.line_no, q.reason_code, q.reason, "
                                               "q.record, q.raw_text, q.released_at is null from audit.quarantine q")
        for name in DATASETS:
            cols = columns_except(conn, "raw", name, {BATCH_COLUMN})
            out[f"raw.{name}"] = digest(conn, sql.SQL(
                "select {}, b.source_name from {} t join audit.batches b on b.batch_id = t.{}").format(
                cols, sql.Identifier("raw", name), sql.Identifier(BATCH_COLUMN)))
    return out


def cli_env(url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "CLIENTBASE_WAREHOUSE_URL": url, "PYTHONUNBUFFERED": "1", **extra}
    return env


def run_cli(url: str, landing: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "run", "--landing", str(landing), "--from", FROM, "--to", TO],
                          env=cli_env(url, **extra), cwd=REPO, capture_output=True, text=True, timeout=BOUND_S)


class Run:
    """``clientbase run`` in the background, in its own process group (killed with its dbt children)."""

    def __init__(self, url: str, landing: Path, **extra: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "run", "--landing", str(landing), "--from", FROM, "--to", TO],
            env=cli_env(url, **extra), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, text: str) -> None:
        deadline = time.monotonic() + BOUND_S
        while text not in self.output:
            if self.proc.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"the run ended ({self.proc.returncode}) before printing {text!r}:\n{self.output[-5000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run did not print {text!r} within {BOUND_S} s:\n{self.output[-5000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(BOUND_S)
        self._reader.join(5)

    def finish(self) -> int:
        code = self.proc.wait(BOUND_S)
        self._reader.join(5)
        return code


def monitor(url: str) -> psycopg.Connection:
    """An autocommit connection for polling: pg_stat_activity is frozen inside one transaction."""
    return psycopg.connect(url, autocommit=True)


def wait_until_blocked_by(url: str, blocker: psycopg.Connection, run: Run,
                          query_prefix: str = "") -> tuple[int, bool, str]:
    """Wait until a session is blocked by ``blocker`` on a statement starting with ``query_prefix``.

    Returns its pid, whether its transaction has already written something, and the statement.
    """
    deadline = time.monotonic() + BOUND_S
    with monitor(url) as conn:
        while True:
            row = conn.execute(
                "select pid, backend_xid is not null, query from pg_stat_activity "
                "where %s = any(pg_blocking_pids(pid)) and query ilike %s",
                (blocker.info.backend_pid, query_prefix + "%"),
            ).fetchone()
            if row:
                return row[0], row[1], row[2]
            if run.proc.poll() is not None:
                pytest.fail(f"the run ended ({run.proc.returncode}) before reaching {query_prefix!r}:\n"
                            f"{run.output[-5000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run never blocked on {query_prefix!r} within {BOUND_S} s:\n{run.output[-5000:]}")
            time.sleep(0.2)


def wait_until_gone(url: str, pid: int) -> None:
    """The killed run's server session ends once it notices its client is gone."""
    deadline = time.monotonic() + BOUND_S
    with monitor(url) as conn:
        while conn.execute("select exists (select 1 from pg_stat_activity where pid = %s)", (pid,)).fetchone()[0]:
            assert time.monotonic() < deadline, f"backend {pid} of the killed run is still there after {BOUND_S} s"
            time.sleep(0.1)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", path)
    return path


@pytest.fixture(scope="module")
def uninterrupted(airflow_ready, landing) -> dict[str, str]:
    """The fingerprint of one uninterrupted run on an empty warehouse: what every recovery must reach."""
    url = airflow_ready
    fresh_warehouse(url)
    result = run_cli(url, landing)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    fingerprint = warehouse_fingerprint(url)
    assert fingerprint["publications"].startswith("3:")
    return fingerprint


# ---------------------------------------------------------------- the lock itself

HOLD_IN_A_TASK = """
import sys, time
from clientbase.orchestration import month_close_lock
with month_close_lock.held(sys.argv[1], sys.argv[2]):
    print("holding", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def lock_url(warehouse: str) -> str:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        from clientbase.warehouse import schema

        schema.ensure_schema(conn)
        conn.execute("delete from audit.month_close_leases")
    return warehouse


def test_a_second_run_waits_then_fails_naming_the_holder(lock_url):
    with psycopg.connect(lock_url, autocommit=True) as conn:
        first = month_close_lock.acquire(conn, "run-A", "monthly_kpi", wait_s=0)
        assert month_close_lock.acquire(conn, "run-A", "monthly_kpi", wait_s=0).lease_id == first.lease_id
        with pytest.raises(month_close_lock.MonthCloseBusy) as busy:
            month_close_lock.acquire(conn, "run-B", "monthly_kpi", wait_s=1, stale_after_s=3600)
    message = str(busy.value)
    assert "run 'run-A' of monthly_kpi" in message and f"since {first.acquired_at:%Y-%m-%d %H:%M:%S}" in message
    assert "CLIENTBASE_MONTH_CLOSE_WAIT_S" in message and f"where lease_id = {first.lease_id}" in message


def test_only_the_holder_runs_locked_tasks(lock_url):
    with psycopg.connect(lock_url, autocommit=True) as conn:
        lease = month_close_lock.acquire(conn, "run-A", "monthly_kpi", wait_s=0)
        with month_close_lock.held("run-A", lock_url):
            assert month_close_lock.current(conn).active_tasks == 1
        assert month_close_lock.current(conn).active_tasks == 0
        with pytest.raises(month_close_lock.LeaseLost, match="run 'run-B' does not hold the month-close lock"):
            with month_close_lock.held("run-B", lock_url):
                pytest.fail("run-B ran a locked task without the lease")
        assert month_close_lock.release(conn, "run-A") is True
        assert month_close_lock.current(conn) is None
        assert month_close_lock.acquire(conn, "run-B", "monthly_kpi", wait_s=0).lease_id > lease.lease_id


def test_a_holder_killed_inside_a_task_is_taken_over_at_once(lock_url):
    with psycopg.connect(lock_url, autocommit=True) as conn:
        lease = month_close_lock.acquire(conn, "run-A", "monthly_kpi", wait_s=0)
        task = subprocess.Popen([sys.executable, "-c", HOLD_IN_A_TASK, "run-A", lock_url],
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert task.stdout.readline().strip() == "holding"
            # alive and inside a task: even a lease idle "forever" is not stale
            with pytest.raises(month_close_lock.MonthCloseBusy):
                month_close_lock.acquire(conn, "run-B", "monthly_kpi", wait_s=0, stale_after_s=0)
        finally:
            os.killpg(task.pid, signal.SIGKILL)
            task.wait(BOUND_S)
        # the server notices the dead client and drops its advisory lock; B waits at most that long
        taken = month_close_lock.acquire(conn, "run-B", "monthly_kpi", wait_s=BOUND_S, stale_after_s=3600)
        reason = conn.execute("select release_reason from audit.month_close_leases where lease_id = %s",
                              (lease.lease_id,)).fetchone()[0]
    assert taken.run_id == "run-B"
    assert reason.startswith("taken over by run 'run-B': 1 task(s) of run 'run-A' were running")


def test_a_holder_gone_between_tasks_is_stale_after_the_grace(lock_url):
    with psycopg.connect(lock_url, autocommit=True) as conn:
        month_close_lock.acquire(conn, "run-A", "monthly_kpi", wait_s=0)
        with pytest.raises(month_close_lock.MonthCloseBusy):
            month_close_lock.acquire(conn, "run-B", "monthly_kpi", wait_s=0, stale_after_s=3600)
        month_close_lock.acquire(conn, "run-B", "monthly_kpi", wait_s=0, stale_after_s=0)
        # run A comes back: its next task must not run, its teardown releases nothing
        with pytest.raises(month_close_lock.LeaseLost, match="taken over by run 'run-B'.*started no task"):
            with month_close_lock.held("run-A", lock_url):
                pytest.fail("run-A ran a locked task after losing its lease")
        assert month_close_lock.release(conn, "run-A") is False
        assert month_close_lock.current(conn).run_id == "run-B"


# ---------------------------------------------------------------- SIGKILL


def kill_while_blocked(url: str, landing: Path, lock_sql: str, statement: str = "") -> tuple[bool, str]:
    """Run the CLI on a fresh warehouse, SIGKILL it once it waits on ``lock_sql`` (held here).

    Returns whether the killed transaction had written anything, and the statement it was
    blocked in.
    """
    fresh_warehouse(url)
    with psycopg.connect(url) as blocker:
        blocker.execute(lock_sql)
        run = Run(url, landing)
        pid, wrote, query = wait_until_blocked_by(url, blocker, run, statement)
        run.kill()
        blocker.rollback()
        wait_until_gone(url, pid)
    return wrote, query


def test_kill_during_loading_leaves_no_partial_batch(airflow_ready, landing, uninterrupted):
    url = airflow_ready
    # blocked at the first statement on raw.shipments
    wrote, query = kill_while_blocked(url, landing, "lock table raw.shipments in access exclusive mode")
    assert "raw.shipments" in query, query
    assert wrote, f"the load should be mid-transaction (its batch row written) when killed at: {query}"
    with psycopg.connect(url) as conn:
        shipments_batches = conn.execute("select count(*) from audit.batches where dataset = 'shipments'").fetchone()[0]
        shipments_rows = conn.execute("select count(*) from raw.shipments").fetchone()[0]
        quarantined = conn.execute("select count(*) from audit.quarantine where dataset = 'shipments'").fetchone()[0]
        published = conn.execute("select count(*) from reporting.publications").fetchone()[0]
    assert (shipments_batches, shipments_rows, quarantined, published) == (0, 0, 0, 0)

    rerun = run_cli(url, landing)
    assert rerun.returncode == 0, rerun.stdout[-5000:] + rerun.stderr[-5000:]
    assert warehouse_fingerprint(url) == uninterrupted


def test_kill_during_publication_leaves_no_partial_publication(airflow_ready, landing, uninterrupted):
    url = airflow_ready
    # SHARE lets the publisher read publications but not add its row, its last statement:
    # every reporting table of the month is already written when it blocks
    wrote, _ = kill_while_blocked(url, landing, "lock table reporting.publications in share mode",
                                  "insert into reporting.publications")
    assert wrote, "the publication should be mid-transaction (its tables written) when killed"
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from reporting.publications").fetchone()[0] == 0
        for table in PUBLISHED_TABLES:
            exists = conn.execute("select to_regclass(%s) is not null", (f"reporting.{table}",)).fetchone()[0]
            rows = conn.execute(sql.SQL("select count(*) from {}").format(
                sql.Identifier("reporting", table))).fetchone()[0] if exists else 0
            assert rows == 0, f"reporting.{table} has {rows} rows of a publication that never committed"
        dead = month_close_lock.current(conn)
    assert dead is not None and dead.active_tasks == 1, "the killed run still holds the lease, counted in a task"

    rerun = run_cli(url, landing)  # takes the dead run's lease over at once: no wait, no manual step
    assert rerun.returncode == 0, rerun.stdout[-5000:] + rerun.stderr[-5000:]
    assert warehouse_fingerprint(url) == uninterrupted
    with psycopg.connect(url) as conn:
        reason = conn.execute("select release_reason from audit.month_close_leases where lease_id = %s",
                              (dead.lease_id,)).fetchone()[0]
    assert "the process was killed" in reason


# ---------------------------------------------------------------- two month closes


def run_window(url: str, run_id: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute("select acquired_at, released_at from audit.month_close_leases where run_id = %s",
                            (run_id,)).fetchone()


def dbt_window(run_id: str) -> tuple[dt.datetime, dt.datetime]:
    """First start and last end of any dbt node of the run (from its run_results.json)."""
    from clientbase.tasks import run_dir

    results = json.loads((run_dir(run_id) / "dbt" / "run_results.json").read_text())["results"]
    times = [t for r in results for t in r["timing"]]
    return (min(dt.datetime.fromisoformat(t["started_at"]) for t in times),
            max(dt.datetime.fromisoformat(t["completed_at"]) for t in times))


def test_two_month_closes_do_not_interleave(airflow_ready, landing, uninterrupted):
    url = airflow_ready
    if warehouse_fingerprint(url) != uninterrupted:  # the previous test leaves it so; alone, make it so
        fresh_warehouse(url)
        prepared = run_cli(url, landing)
        assert prepared.returncode == 0, prepared.stdout[-5000:]
    (landing / "shipments" / "shipments_2024-12_correction.csv").write_text(
        "doc_id;line_no;doc_date;client_id;point_id;sku;qty;revenue;cost;manager_id;status\n"
        "D0024;1;10.12.2024;A_regular;P_A_regular;S1;2;250,00;140;MG1;posted\n"
    )
    try:
        with psycopg.connect(url, autocommit=True) as blocker:
            # the publisher's own lock, held here: the first run stops at its publication, lease held
            blocker.execute("select pg_advisory_lock(hashtext(%s))", (PUBLISH_LOCK,))
            first = Run(url, landing)
            wait_until_blocked_by(url, blocker, first, "select pg_advisory_xact_lock")
            holder = month_close_lock.current(blocker)
            second = Run(url, landing)
            second.wait_for_output(f"waiting for the month close of run {holder.run_id!r}")
            blocker.execute("select pg_advisory_unlock(hashtext(%s))", (PUBLISH_LOCK,))
            assert first.finish() == 0, first.output[-5000:]
            assert second.finish() == 0, second.output[-5000:]
    finally:
        (landing / "shipments" / "shipments_2024-12_correction.csv").unlink()

    with psycopg.connect(url) as conn:
        leases = conn.execute("select run_id, acquired_at, released_at, release_reason from audit.month_close_leases "
                              "order by lease_id").fetchall()
        decisions = dict(conn.execute("select run_id, decided_at from audit.gate_decisions").fetchall())
        republished = conn.execute("select run_id, published_at from reporting.publications where version = 2"
                                   ).fetchall()
    (a_id, a_start, a_end, a_how), (b_id, b_start, b_end, b_how) = leases[-2:]
    assert a_id == holder.run_id and (a_how, b_how) == ("released", "released")
    assert a_end <= b_start, "the second run took the lock before the first released it"
    # everything each run did lies inside its own window: dbt, the gate, the publication
    for run_id, start, end in ((a_id, a_start, a_end), (b_id, b_start, b_end)):
        dbt_start, dbt_end = dbt_window(run_id)
        assert start <= dbt_start and dbt_end <= end, (run_id, start, dbt_start, dbt_end, end)
        assert start <= decisions[run_id] <= end
    # the correction was published once, by the first run, inside its window; the second found it published
    assert [run_id for run_id, _ in republished] == [a_id]
    assert a_start <= republished[0][1] <= a_end


def test_the_lock_spans_the_whole_month_close(airflow_ready):
    """Setup takes it before the build; teardown releases it after the last publication, even on failure."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["monthly_kpi"]
    lock, unlock = dag.get_task("month_close_lock"), dag.get_task("month_close_unlock")
    assert lock.is_setup and unlock.is_teardown
    assert unlock.trigger_rule == "all_done_setup_success"
    locked = {"dbt_build", "great_expectations", "quality_gate", "publish"}
    assert locked <= {t.task_id for t in lock.get_flat_relatives(upstream=False)}
    assert locked <= {t.task_id for t in unlock.get_flat_relatives(upstream=True)}
