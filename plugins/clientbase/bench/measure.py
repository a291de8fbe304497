"""What the benchmark measures, each against something on the same server in the same run.

The pipeline runs through the CLI a user runs (``clientbase run --landing DIR``, a
subprocess with its own ``CLIENTBASE_HOME``), so the figures are what a month close costs,
Airflow's start-up and the dbt subprocesses included, and keep meaning the same when the
loader or the models change. The floors are what the same server does with no pipeline
around it: ``COPY`` of the same files into all-text tables, and a bare ``dbt build``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

SAMPLE_EVERY_S = 0.2
FLOOR_SCHEMA = "bench_floor"
COPY_CHUNK = 1 << 20
# reporting.publications holds run ids and times: it differs between any two runs by design
NOT_CHECKSUMMED = ("publications",)


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message names it and where its log is."""


def clientbase_command() -> list[str]:
    """The ``clientbase`` console script of this environment (what ``make`` and users run)."""
    script = Path(sys.executable).with_name("clientbase")
    return [str(script)] if script.exists() else [sys.executable, "-m", "clientbase.cli"]


def postmaster_pid(home: Path) -> int | None:
    """The embedded server's postmaster, or None while it is not (or half) started."""
    try:
        pid = int((home / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):  # absent, or being written by pg_ctl right now
        return None
    return pid if pid > 0 else None  # negative while the server is still starting


class RssSampler:
    """Peak RSS of a process tree, sampled from /proc every 0.2 s, and of the warehouse apart.

    The pipeline is the CLI process and its children (dbt subprocesses, Airflow's task
    runner); any ``postgres`` process is the warehouse's (the embedded server is started
    detached, but a backend seen in the tree is not counted as the pipeline's either). The
    warehouse figure is the postmaster's tree (shared buffers counted once per process, so
    it overstates: it is reported, not targeted).
    """

    def __init__(self, root_pid: int, home: Path) -> None:
        self._root = root_pid
        self._home = home
        self.peak_pipeline = 0
        self.peak_warehouse = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_pipeline = max(self.peak_pipeline, _tree_rss(self._root, skip_postgres=True))
            pid = postmaster_pid(self._home)
            if pid:
                self.peak_warehouse = max(self.peak_warehouse, _tree_rss(pid, skip_postgres=False))
            self._stop.wait(SAMPLE_EVERY_S)


def _tree_rss(pid: int, skip_postgres: bool) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except (psutil.Error, ValueError):
        return 0
    total = 0
    for proc in procs:
        try:
            if skip_postgres and proc.name() in ("postgres", "postmaster"):
                continue
            total += proc.memory_info().rss
        except psutil.Error:  # ended between listing and reading
            continue
    return total


@dataclass
class CliRun:
    """One ``clientbase`` command: wall time, exit code, peak RSS, where its output went."""

    args: list[str]
    seconds: float
    returncode: int
    peak_rss_bytes: int
    peak_warehouse_rss_bytes: int
    log_path: Path
    phases: dict[str, float] = field(default_factory=dict)


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a pipeline process: this warehouse's home, nothing pointing elsewhere."""
    env = {**os.environ, "CLIENTBASE_HOME": str(home)}
    # always the run's own embedded server and the Airflow metadata DB beside it
    for name in ("CLIENTBASE_WAREHOUSE_URL", "CLIENTBASE_LANDING_DIR", "AIRFLOW_HOME",
                 "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"):
        env.pop(name, None)
    return env


def prepare_warehouse(home: Path, log_path: Path) -> float:
    """Start the embedded server and migrate Airflow's metadata DB, once, before anything is timed.

    A first ``clientbase run`` on a new machine does this too (~30 s of ``airflow db migrate``),
    but it is set-up, not the cost of a month close: left in, it would weigh on whichever
    close comes first. Returns its seconds (reported apart).
    """
    code = ("from clientbase.orchestration import airflow_runner; "
            "airflow_runner.configure(); airflow_runner.ensure_metadata_db()")
    started = time.monotonic()
    with log_path.open("ab") as out:
        out.write(b"\n$ prepare: server + airflow db migrate\n")
        out.flush()
        done = subprocess.run([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT,
                              env=cli_env(home), stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise BenchError(f"preparing the warehouse in {home} failed (exit {done.returncode}): see {log_path}")
    return round(time.monotonic() - started, 2)


def run_cli(args: list[str], home: Path, log_path: Path) -> CliRun:
    """Run ``clientbase ARGS`` with ``CLIENTBASE_HOME=home``; its output goes to ``log_path``."""
    env = cli_env(home)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        out.write(f"\n$ clientbase {' '.join(args)}\n".encode())
        out.flush()
        started = time.monotonic()
        proc = subprocess.Popen([*clientbase_command(), *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL)
        with RssSampler(proc.pid, home) as sampler:
            try:
                code = proc.wait()
            except BaseException:  # the benchmark is stopped (Ctrl-C, SIGTERM): stop the close too
                proc.terminate()
                proc.wait(timeout=60)
                raise
        seconds = time.monotonic() - started
    return CliRun(args, round(seconds, 2), code, sampler.peak_pipeline, sampler.peak_warehouse, log_path)


def cli_supports(flag: str, subcommand: str = "run") -> bool:
    """Whether ``clientbase SUBCOMMAND`` accepts ``flag`` (e.g. ``--full-refresh``, once it exists)."""
    result = subprocess.run([*clientbase_command(), subcommand, "--help"], capture_output=True, text=True)
    return flag in result.stdout


def airflow_phases(url: str, airflow_db: str = "airflow") -> dict[str, float]:
    """Seconds of each DAG of the last CLI run and of monthly_kpi's tasks, from Airflow's own records."""
    from clientbase.warehouse.connection import with_database

    out: dict[str, float] = {}
    with psycopg.connect(with_database(url, airflow_db)) as conn:
        for dag_id, seconds in conn.execute(
                "select distinct on (dag_id) dag_id, extract(epoch from end_date - start_date)::float "
                "from dag_run where end_date is not null order by dag_id, id desc"):
            out[dag_id] = round(seconds, 2)
        for task_id, seconds in conn.execute(
                "select task_id, sum(extract(epoch from end_date - start_date))::float from task_instance "
                "where run_id = (select run_id from dag_run where dag_id = 'monthly_kpi' order by id desc limit 1) "
                "and dag_id = 'monthly_kpi' and end_date is not null group by task_id"):
            out[f"monthly_kpi.{task_id}"] = round(seconds, 2)
    return out


def shipment_load(url: str) -> dict[str, float]:
    """Data rows and seconds the loader spent on shipment files, from ``audit.batches``
    (a workbook's title and totals rows are read but are not data: left out, as in the floor).

    A batch's time runs from its transaction's start (``started_at``) to the end of its
    checks (``finished_at``): decoding, COPY, type rules, duplicates and quarantine.
    """
    with psycopg.connect(url) as conn:
        rows, seconds, files = conn.execute(
            "select coalesce(sum(rows_read - rows_title - rows_totals), 0)::bigint, "
            "coalesce(sum(extract(epoch from finished_at - started_at)), 0)::float, "
            "count(*) from audit.batches where dataset = 'shipments' and source_kind = 'file' "
            "and finished_at is not null").fetchone()
    return {"rows": int(rows), "seconds": round(seconds, 3), "files": int(files),
            "rows_per_s": round(rows / seconds, 1) if seconds else 0.0}


def _decoded(path: Path) -> tuple[bytes, str, bool]:
    """The file as UTF-8 CSV bytes COPY can read, its delimiter, and whether it had to be converted.

    UTF-8 files (with or without BOM) go to COPY as they are (a BOM is cut off); cp1251
    files are transcoded; workbooks are read with calamine and written as CSV. The floor
    pays for that conversion, as the loader does.
    """
    if path.suffix.lower() in (".xlsx", ".xls"):
        from python_calamine import CalamineWorkbook

        rows = _workbook_table(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python())
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode(), ",", True
    raw = path.read_bytes()
    converted = False
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raw = raw.decode("cp1251").encode()
        converted = True
    first = raw[: raw.find(b"\n")] if b"\n" in raw else raw
    delimiter = ";" if first.count(b";") > first.count(b",") else ","
    return raw, delimiter, converted


TOTALS_WORDS = ("итого", "всего")


def _workbook_table(rows: list[list[object]]) -> list[list[object]]:
    """A report workbook's header and data rows: the title lines above the header (the first
    of the widest rows near the top) and a totals row at the end cut off, as the loader does."""
    head = rows[:30]
    widest = max((sum(1 for c in r if c not in (None, "")) for r in head), default=0)
    start = next((i for i, r in enumerate(head) if sum(1 for c in r if c not in (None, "")) == widest), 0)
    table = rows[start:]
    if len(table) > 1 and str(table[-1][0] or "").strip().lower().startswith(TOTALS_WORDS):
        table = table[:-1]
    return table


def copy_floor(url: str, files: list[Path]) -> dict[str, float]:
    """COPY (FORMAT csv, HEADER) of every file into an all-text table of its own, in one
    transaction per file like the loader; reading and converting the bytes is timed too."""
    rows = 0
    converted = 0
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(FLOOR_SCHEMA)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(FLOOR_SCHEMA)))
        for i, path in enumerate(files):
            data, delimiter, was_converted = _decoded(path)
            converted += was_converted
            header = next(csv.reader(io.StringIO(data[: data.find(b"\n")].decode()), delimiter=delimiter))
            table = sql.Identifier(FLOOR_SCHEMA, f"f{i}")
            with conn.transaction():
                conn.execute(sql.SQL("create table {} ({})").format(
                    table, sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f"c{j}"))
                                              for j in range(len(header)))))
                with conn.cursor() as cur:
                    with cur.copy(sql.SQL("copy {} from stdin (format csv, header, delimiter {})").format(
                            table, sql.Literal(delimiter))) as copy:
                        for start in range(0, len(data), COPY_CHUNK):
                            copy.write(data[start:start + COPY_CHUNK])
                    rows += cur.rowcount
        seconds = time.monotonic() - started
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(FLOOR_SCHEMA)))
    return {"rows": rows, "seconds": round(seconds, 3), "files": len(files), "files_converted": converted,
            "rows_per_s": round(rows / seconds, 1) if seconds else 0.0}


def dbt_floor(url: str, report_month: str, target: Path) -> dict[str, float]:
    """A bare ``dbt build`` of the month close's models (the same selection and vars as
    ``transform/dbt.py`` builds), ``--full-refresh`` so every model is rebuilt from scratch as
    in a first close, whether the models are tables or incremental."""
    from clientbase import tasks
    from clientbase.transform import dbt

    month = tasks.parse_month(report_month).isoformat()  # the var is a date: 'YYYY-MM-01'
    started = time.monotonic()
    code = dbt.run_dbt(url, ["build", "--full-refresh", "--exclude", *dbt.BUILD_EXCLUDE], target,
                       vars={"report_month": month})
    seconds = time.monotonic() - started
    # a model that errors skips everything downstream: a floor that fast is no floor
    errors = dbt.node_errors(target)
    if code > 1 or errors:
        raise BenchError(f"the floor's dbt build failed (exit {code}): {'; '.join(errors)[:500]} "
                         f"— see {target / 'logs'}")
    return {"seconds": round(seconds, 2), "exit_code": code}


def reporting_checksums(url: str) -> dict[str, str]:
    """md5 of every published table's rows in a fixed order (reporting.publications aside)."""
    out = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'reporting' "
            "and table_type = 'BASE TABLE' order by table_name")]
        for name in tables:
            if name in NOT_CHECKSUMMED:
                continue
            query = sql.SQL("select md5(coalesce(string_agg(t::text, '|' order by t::text), '')), count(*) "
                            "from {} t").format(sql.Identifier("reporting", name))
            digest, count = conn.execute(query).fetchone()
            out[name] = f"{digest}:{count}"
    return out


def warehouse_facts(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        size, version = conn.execute("select pg_database_size(current_database()), "
                                     "current_setting('server_version')").fetchone()
    return {"database_bytes": int(size), "postgres_version": version}
