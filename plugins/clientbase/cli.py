"""The ``clientbase`` command: generate demo data, run the pipeline, show its state.

``run`` and ``demo`` execute the project's real Airflow DAGs in this process with
``dag.test()`` (the same code a scheduler runs), on the embedded PostgreSQL unless
CLIENTBASE_WAREHOUSE_URL names another server.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from clientbase import __version__
from clientbase.settings import load_settings

# Messages never wrap (they are grepped in CI logs); tables get room when output is not a terminal.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
log = logging.getLogger("clientbase.cli")

PIPELINE_STEPS = ("extract_shipments", "extract_visits", "monthly_kpi")


# Noise from libraries that says nothing to a clientbase user.
QUIET_WARNINGS = (
    "XDG_RUNTIME_DIR is not set",  # pgserver asks platformdirs for a runtime dir it does not use
    "Using `httpx` with `starlette.testclient`",  # Airflow's in-process task API
)


def _setup_logging(verbose: bool) -> None:
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    level = logging.DEBUG if verbose else logging.INFO
    handler = RichHandler(console=console, show_path=False, show_time=True, markup=False)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("clientbase").setLevel(level)
    # Airflow's own task-runner chatter stays out of the way unless asked for
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO" if verbose else "WARNING")


def cmd_generate(args: argparse.Namespace) -> int:
    from clientbase.generate import generate

    landing = Path(args.landing).resolve() if args.landing else load_settings().landing_dir
    started = time.monotonic()
    summary = generate(landing, args.source_url, months=args.months, end_month=args.end_month,
                       clients=args.clients, seed=args.seed)
    table = Table(title=f"generated into {landing}" + (" and the source database" if args.source_url else ""))
    table.add_column("dataset")
    table.add_column("rows", justify="right")
    for name, rows in summary.row_counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"months {summary.first_month} … {summary.last_month}, {time.monotonic() - started:.1f} s")
    return 0


def _data_months(url: str) -> tuple[str, str] | None:
    from clientbase.warehouse.connection import connect

    with connect(url) as conn:
        row = conn.execute(
            "select to_char(min(m), 'YYYY-MM'), to_char(max(m), 'YYYY-MM') from ("
            " select date_trunc('month', doc_date) m from raw.shipments"
            " union all select date_trunc('month', visit_date) from raw.visits"
            " union all select date_trunc('month', plan_date) from raw.visit_plan) d"
        ).fetchone()
    return (row[0], row[1]) if row and row[0] else None


def parse_thresholds(pairs: list[str] | None) -> dict:
    """``--set NAME=VALUE`` pairs as dbt vars (values read as YAML: 0.8, 5, [vip, key])."""
    import yaml

    from clientbase.transform import dbt

    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set {pair!r}: write NAME=VALUE, e.g. --set stt_threshold=0.8")
        out[name.strip()] = yaml.safe_load(value)
    return dbt.check_overrides(out)


def run_pipeline(landing: Path | None, from_month: str | None, to_month: str | None,
                 erp_url: str | None = None, sfa_url: str | None = None,
                 thresholds: dict | None = None, full_refresh: bool = False) -> int:
    """Extract both sources, then close every month in range: the three DAGs, in order.

    ``full_refresh`` rebuilds every month of history (monthly_kpi's param of that name);
    otherwise the build redoes only the months the new data touches (transform/dirty.py).
    """
    from clientbase.orchestration import airflow_runner

    url = airflow_runner.configure()
    from clientbase.warehouse.connection import redact

    console.print(f"warehouse: [bold]{redact(url)}[/]")
    with console.status("preparing Airflow's metadata database…"):
        airflow_runner.ensure_metadata_db()
    source_conf = {"landing_dir": str(landing) if landing else None,
                   **source_connections(landing, {"erp": erp_url, "sfa": sfa_url})}
    from clientbase.warehouse.connection import connect

    with connect(url) as conn:
        started = conn.execute("select now()").fetchone()[0]
    with _Progress() as progress:
        for dag_id in ("extract_shipments", "extract_visits"):
            progress.step(dag_id)
            outcome = airflow_runner.run_dag(dag_id, source_conf)
            if not outcome.ok:
                return _report_failure(url, outcome)
        span = _data_months(url)
        if span is None:
            console.print("[red]no shipments, visits or visit plans were loaded: nothing to close.[/] "
                          "Check the landing folder layout (<landing>/shipments/*.csv, …) and `clientbase status`.")
            return 1
        first, last = from_month or span[0], to_month or span[1]
        progress.step(f"monthly_kpi {first} … {last}")
        outcome = airflow_runner.run_dag("monthly_kpi", {"from_month": first, "to_month": last,
                                                         "thresholds": thresholds or {},
                                                         "full_refresh": full_refresh})
    if not outcome.ok:
        return _report_failure(url, outcome)
    from clientbase import report

    with connect(url) as conn:
        report.print_run_summary(conn, console, started)
    console.print(f"[green]months {first} … {last} closed[/] (run {outcome.run_id})")
    return 0


class UsageError(ValueError):
    """A command line that cannot be run as given; the message says what to change."""


def source_connections(landing: Path | None, urls: dict[str, str | None]) -> dict[str, str | None]:
    """The extraction DAGs' ``<system>_conn_id`` params; ``--erp-url`` URLs go into connections.

    A URL given on the command line is written into the Airflow connection
    (``clientbase_erp`` / ``clientbase_sfa``) in the metadata DB, so the run's conf carries only
    the id. A system without a URL reads its connection when the environment defines its
    source (``AIRFLOW_CONN_CLIENTBASE_ERP``, or ``CLIENTBASE_ERP_URL`` as the fallback) or when
    there is no landing folder; otherwise it reads files (id null), even if an earlier
    ``--erp-url`` left a connection behind.
    """
    from clientbase.extract import connections

    settings = load_settings()
    env_urls = {"erp": settings.erp_url, "sfa": settings.sfa_url}
    conf: dict[str, str | None] = {}
    for system, url in urls.items():
        conn_id = connections.CONN_IDS[system]
        if url:
            if connections.env_defines(conn_id):
                raise UsageError(
                    f"AIRFLOW_CONN_{conn_id.upper()} is set, and Airflow reads it before the connection "
                    f"--{system}-url would write: unset it, or drop --{system}-url to use it")
            connections.store(conn_id, url)
            conf[f"{system}_conn_id"] = conn_id
        elif env_urls[system] or connections.env_defines(conn_id) or landing is None:
            conf[f"{system}_conn_id"] = conn_id
        else:
            conf[f"{system}_conn_id"] = None
        console.print(f"{system.upper()}: " + (f"Airflow connection {conn_id}" if conf[f"{system}_conn_id"]
                                               else f"files in {landing}"), markup=False, highlight=False)
    return conf


def _report_failure(url: str, outcome) -> int:
    from clientbase.quality.gate import last_decision
    from clientbase.warehouse.connection import connect

    with connect(url) as conn:
        decision = last_decision(conn, outcome.run_id)
    if decision and not decision[0]:
        console.print(decision[1], style="red", markup=False, highlight=False)
    else:
        console.print(f"[red]{outcome.dag_id} failed[/] (run {outcome.run_id}): the failing task's log is above. "
                      "Fix the cause and rerun: every step is safe to repeat.")
    return 1


class _Progress:
    """A progress line over the pipeline's DAGs, fed by clientbase's own log records."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                  console=console, transient=False)
        self._task = self._progress.add_task("starting", total=len(PIPELINE_STEPS))
        self._done = -1
        self._step = ""
        self._unsubscribe = lambda: None

    def step(self, description: str) -> None:
        self._done += 1
        self._step = description
        self._progress.update(self._task, completed=self._done, description=description)

    def _note(self, message: str) -> None:
        self._progress.update(self._task, description=f"{self._step} · {message}"[:90])

    def __enter__(self) -> _Progress:
        from clientbase import progress

        self._unsubscribe = progress.subscribe(self._note)
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._unsubscribe()
        if exc[0] is None:
            self._progress.update(self._task, completed=len(PIPELINE_STEPS), description="done")
        self._progress.__exit__(*exc)


def cmd_run(args: argparse.Namespace) -> int:
    landing = Path(args.landing).resolve() if args.landing else None
    if landing is not None and not landing.is_dir():
        console.print(f"[red]landing folder {escape(str(landing))} does not exist[/]")
        return 2
    if landing is None and not (args.erp_url or args.sfa_url or _environment_names_a_source()):
        console.print("[red]give --landing DIR (files) or --erp-url/--sfa-url (source databases; or set "
                      "AIRFLOW_CONN_CLIENTBASE_ERP / AIRFLOW_CONN_CLIENTBASE_SFA)[/]")
        return 2
    try:
        thresholds = parse_thresholds(args.thresholds)
    except ValueError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        return 2
    return run_pipeline(landing, args.from_month, args.to_month, args.erp_url, args.sfa_url, thresholds,
                        full_refresh=args.full_refresh)


def _environment_names_a_source() -> bool:
    from clientbase.extract import connections

    settings = load_settings()
    return bool(settings.erp_url or settings.sfa_url
                or any(connections.env_defines(c) for c in connections.CONN_IDS.values()))


def cmd_demo(args: argparse.Namespace) -> int:
    from clientbase.generate import generate

    settings = load_settings()
    landing = settings.home / "demo_landing"
    if landing.exists():
        shutil.rmtree(landing)
    with console.status("generating a demo distributor…"):
        summary = generate(landing, None, months=args.months, clients=args.clients, seed=args.seed)
    console.print(f"demo data: {sum(summary.row_counts.values()):,} rows in {landing} "
                  f"({summary.first_month} … {summary.last_month})")
    code = run_pipeline(landing, None, None)
    if code == 0:
        from clientbase import report
        from clientbase.warehouse.connection import connect, warehouse_url

        with connect(warehouse_url()) as conn:
            report.print_last_month(conn, console)
            report.print_headlines(conn, console)
            report.print_kpi_matrix(conn, console)
    return code


def cmd_status(args: argparse.Namespace) -> int:
    from clientbase import report
    from clientbase.warehouse import schema
    from clientbase.warehouse.connection import connect, redact, warehouse_url

    url = warehouse_url()
    console.print(f"warehouse: [bold]{redact(url)}[/]")
    with connect(url) as conn:
        schema.ensure_schema(conn)
        report.print_status(conn, console)
    return 0


QUARANTINE_HELP = """List the rows the loader quarantined: file, line, reason, message and raw text.

A row is listed under the month of its own date (doc_date, visit_date, plan_date, month,
snapshot_date). Rows without a usable date (managers and products have none; a malformed
record has no readable fields; the date may be the broken value or outside
CLIENTBASE_MIN_SOURCE_DATE (default 2000-01-01) .. today + 31 days) are listed under the month \
their file was loaded, marked
"loaded". --all lists every month at once.

Releasing: rows held for an unknown client, point, rep or SKU are retried on every run
and released once a reference list names them. Any other row is released by dropping a
corrected file (a re-export) with the same key: the newer version loads and closes the
quarantined one. Malformed records have no readable key: fix the source, re-export, and
treat the old rows as history.
"""


def cmd_quarantine(args: argparse.Namespace) -> int:
    from rich.text import Text

    from clientbase.load import quarantine
    from clientbase.warehouse import schema
    from clientbase.warehouse.connection import connect, warehouse_url

    try:
        month = None if args.all else quarantine.parse_month(args.month)
        quarantine.check_filters(args.dataset, args.reason)
    except ValueError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        return 2
    limit = args.limit if args.limit > 0 else None
    with connect(warehouse_url()) as conn:
        schema.ensure_schema(conn)
        listing = quarantine.list_rows(conn, month, dataset=args.dataset, reason=args.reason,
                                       include_released=args.include_released, limit=limit)
    scope = ", ".join(filter(None, [args.dataset, args.reason and f"reason {args.reason}",
                                    "every month" if month is None else f"{month:%Y-%m}"]))
    state = "quarantined" if args.include_released else "held in quarantine"
    if not listing.rows:
        console.print(f"no rows {state} for {scope}", markup=False, highlight=False)
        return 0
    console.print(Text(f"{listing.total:,} row(s) {state} for {scope}", style="bold"))
    # One block per row, never a table: raw text is long and must stay whole to be grepped or copied.
    for row in listing.rows:
        where = f"{row.source_name}:{row.line_no}" if row.line_no is not None else row.source_name
        month_note = f"{row.month:%Y-%m}" + ("" if row.dated_by_row else " (loaded; no usable row date)")
        head = Text.assemble((where, "bold"), "  ", (row.reason_code, "yellow"), f"  {row.dataset}  {month_note}")
        if row.released_at is not None:
            head.append(f"  released {row.released_at:%Y-%m-%d %H:%M}", style="green")
        console.print(head)
        console.print(Text("  " + row.reason))
        console.print(Text("  raw: " + (row.raw_text or "").replace("\n", "\n       "), style="dim"))
    if listing.total > len(listing.rows):
        console.print(f"showing the first {len(listing.rows):,} of {listing.total:,}: --limit 0 lists them all")
    return 0


def cmd_roles(args: argparse.Namespace) -> int:
    """Re-apply the roles now (ensure_schema applies them only when the DDL changes)."""
    from clientbase.warehouse import roles, schema
    from clientbase.warehouse.connection import connect, redact, warehouse_url

    url = warehouse_url()
    console.print(f"warehouse: [bold]{redact(url)}[/]")
    try:
        names = load_settings().roles
        with connect(url) as conn:
            schema.ensure_schema(conn)
            report = roles.ensure_roles(conn, names)
            state = conn.execute(
                "select rolname, rolcanlogin from pg_roles where rolname = any(%s)",
                ([names.loader, names.transformer, names.bi_reader],)).fetchall()
    except ValueError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        return 2
    login = dict(state)
    table = Table(title="Warehouse roles")
    for col in ("role", "login", "may"):
        table.add_column(col)
    for name, may in ((names.loader, "read and write raw, audit"),
                      (names.transformer, "read raw, audit; own the dbt schemas; publish to reporting"),
                      (names.bi_reader, "read reporting (read-only sessions)")):
        state_text = "missing" if name not in login else ("yes" if login[name] else "no (NOLOGIN: no password set)")
        table.add_row(name, state_text, may)
    console.print(table)
    console.print(report.summary(), style="yellow" if report.refused or not report.managed else None,
                  markup=False, highlight=False)
    return 1 if report.refused else 0


def cmd_bi(args: argparse.Namespace) -> int:
    """Superset on the warehouse: install (own venv), import the dashboards, serve, screenshot."""
    from clientbase.bi import server
    from clientbase.warehouse.connection import warehouse_url

    settings = load_settings()
    try:
        bi = server.load_bi_settings(settings.project_root, settings.home, language=args.language, port=args.port)
        if args.metabase:
            return _bi_metabase(args.metabase, bi, settings)
        if args.install_only:
            server.ensure_venv(bi)
            console.print(f"Superset {server.SUPERSET_VERSION} installed in {bi.venv}", markup=False, highlight=False)
            return 0
        if args.stop:
            stopped = server.stop(bi)
            console.print("Superset stopped" if stopped else "no Superset of this CLIENTBASE_HOME was running")
            return 0
        with console.status("Superset: install, metadata, import…"):
            result = server.provision(bi, warehouse_url(settings), serve_it=not args.no_serve)
    except server.BiError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        return 1
    summary = result.summary
    console.print(f"imported ({bi.language}): {summary['bundle_dashboards']} dashboards, {summary['bundle_charts']} "
                  f"charts, {summary['bundle_datasets']} datasets; {len(result.managers)} manager roles with "
                  f"row-level security", markup=False, highlight=False)
    if args.no_serve:
        return 0
    if not args.no_screenshots:
        from clientbase.bi import browser

        out = Path(args.screenshots) if args.screenshots else settings.home / "bi" / "screenshots"
        try:
            shots = browser.check_dashboards(bi.url, bi.admin_username, server.admin_password(bi), out)
        except browser.BrowserError as exc:
            console.print(f"screenshots skipped: {exc}", style="yellow", markup=False, highlight=False)
        else:
            bad = [s for s in shots if not s.ok]
            for shot in shots:
                console.print(f"{shot.slug}: {shot.charts_with_data}/{shot.charts} charts with data"
                              + (f", problems: {'; '.join(shot.problems)}" if shot.problems else "")
                              + f" -> {shot.path}", markup=False, highlight=False,
                              style="red" if not shot.ok else None)
            if bad:
                return 1
    console.print(f"[green]Superset:[/] {result.url}  login [bold]{result.admin_username}[/], password in "
                  f"{escape(result.admin_password_source)}  (stop: clientbase bi --stop)")
    return 0


def _bi_metabase(url: str, bi, settings) -> int:
    """`clientbase bi --metabase URL`: the same dashboards as native-SQL cards, through Metabase's API.

    The warehouse is registered as bi_reader: CLIENTBASE_BI_WAREHOUSE_URI when Metabase reaches
    it under another name (a container), else this warehouse's URL with bi_reader's login
    (given one here, as for Superset).
    """
    from clientbase.bi import metabase, server
    from clientbase.warehouse.connection import warehouse_url

    uri = os.environ.get(metabase.WAREHOUSE_ENV) or None
    try:
        if uri is None:
            uri = server.ensure_bi_reader(bi, warehouse_url(settings))
        result = metabase.provision_from_env(url, bi.language, uri)
    except (metabase.MetabaseError, server.BiError) as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        return 1
    console.print(f"Metabase ({bi.language}): {len(result.cards)} cards, {len(result.dashboards)} dashboards in "
                  f"collection {result.collection_id} (created {result.created['card']} cards, "
                  f"{result.created['dashboard']} dashboards; updated {result.updated['card']} cards, "
                  f"{result.updated['dashboard']} dashboards): {url.rstrip('/')}/collection/{result.collection_id}",
                  markup=False, highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The monthly report: one document per manager of the month, and the director's (monthly_report/)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from clientbase import monthly_report, progress
    from clientbase.load.quarantine import parse_month
    from clientbase.warehouse.connection import warehouse_url

    try:
        month = parse_month(args.month)
    except ValueError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        return 2
    settings = load_settings()
    out = Path(args.out).resolve() if args.out else settings.home / "reports"
    formats = list(dict.fromkeys(args.formats or ["html"]))
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("monthly report: connecting", total=None)
    unsubscribe = progress.subscribe(lambda note: bar.update(task, description=f"monthly report {note}"[:90]))
    try:
        with bar, monthly_report.reader_connection(warehouse_url(settings)) as conn:
            written = monthly_report.write_reports(
                conn, month, out, formats, managers=args.managers or None,
                director=not args.managers or args.director, language=args.language)
    except monthly_report.ReportError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        return 1
    finally:
        unsubscribe()
    for item in written:
        who = item.audience.manager_id or "director"
        console.print(f"{who} {item.format}: {item.path}", markup=False, highlight=False)
    console.print(f"[green]{len(written)} document(s) for {month:%Y-%m}[/] in {escape(str(out / f'{month:%Y-%m}'))}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """The same as ``python -m clientbase.docs`` (what ``make docs`` runs)."""
    from clientbase import docs

    return docs.main([*(["--serve"] if args.serve else []), "--port", str(args.port)])


def cmd_bench(args: argparse.Namespace) -> int:
    """The benchmark (issue 12; BENCHMARKS.md): figures against the floor, a table, JSON and a plot."""
    from clientbase.bench import report
    from clientbase.bench.measure import BenchError
    from clientbase.bench.run import run_bench
    from clientbase.bench.sizes import SIZES

    settings = load_settings()
    out = Path(args.out).resolve() if args.out else settings.project_root / "bench" / "results"
    if args.size or not args.write_md:
        size = SIZES[args.size or "M"]
        try:
            run_bench(size, out, keep=args.keep, series=args.series or ("sparse" if size.name == "XS" else "all"),
                      console=console)
        except BenchError as exc:
            console.print(str(exc), style="red", markup=False, highlight=False)
            return 1
    if args.write_md:
        doc = report.write_md(settings.project_root / "BENCHMARKS.md", out)
        console.print(f"rewrote the figures of {doc} from {out}", markup=False, highlight=False)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """The churn model's backtest (issue 13) on the warehouse's closed months, against two baselines."""
    from rich.table import Table

    from clientbase.churn import backtest, data
    from clientbase.warehouse.connection import warehouse_url

    settings = load_settings()
    url = warehouse_url()
    with console.status("reading the churn features and the activity history…"):
        features, activity = data.features(url), data.activity(url)
    if features.empty:
        console.print("no churn features in the warehouse: close some months first (make demo)", style="red")
        return 1
    with console.status(f"backtesting the last {args.months} months with 3 months of future…"):
        try:
            result = backtest.run(features, activity, months=args.months, seed=args.seed)
        except ValueError as exc:  # too few closed months: say so, no traceback
            console.print(str(exc), style="red", markup=False, highlight=False)
            return 1
    out = Path(args.out).resolve() if args.out else settings.home / "backtest"
    json_path, png_path = backtest.write(result, out)
    table = Table(title=f"Churn backtest, {result.months[0][:7]} … {result.months[-1][:7]} "
                        f"({len(result.months)} months; clients still buying; outcome: no activity in the "
                        "next 3 months)")
    for column in ("method", "ROC AUC", "precision top 10 %", "recall top 10 %", "Brier"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method in backtest.METHODS:
        figures = result.figures[method]
        table.add_row(backtest.METHOD_TITLES[method], f"{figures['roc_auc']:.3f}",
                      f"{figures['precision_top10']:.3f}", f"{figures['recall_top10']:.3f}",
                      f"{figures['brier']:.3f}")
    console.print(table)
    console.print(f"figures: {json_path}\nreliability plot: {png_path}", markup=False, highlight=False)
    return 0


def cmd_url(args: argparse.Namespace) -> int:
    from clientbase.warehouse.connection import warehouse_url

    print(warehouse_url())
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from clientbase.warehouse import embedded

    settings = load_settings()
    stopped = embedded.stop(settings.home) if settings.embedded else False
    console.print("embedded PostgreSQL stopped" if stopped else "no embedded PostgreSQL was running")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clientbase", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"clientbase {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Airflow's and dbt's full logs")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a demo distributor's exports (CSV files and/or a source DB)")
    gen.add_argument("--landing", help="landing folder to write (default: $CLIENTBASE_LANDING_DIR)")
    gen.add_argument("--source-url", help="also write the tables into this source database (SQL mode)")
    gen.add_argument("--months", type=int, default=24)
    gen.add_argument("--end-month", help="last month, YYYY-MM (default: last complete month)")
    gen.add_argument("--clients", type=int, default=300)
    gen.add_argument("--seed", type=int, default=42)
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="load a landing folder (or source DBs) and close months")
    run.add_argument("--landing", help="landing folder: <landing>/shipments/*.csv, visits/, clients/, …")
    run.add_argument("--erp-url", help="read ERP datasets from this database instead of files (stored as the "
                                       "Airflow connection clientbase_erp, never in the run's conf)")
    run.add_argument("--sfa-url", help="read SFA datasets from this database instead of files (stored as the "
                                       "Airflow connection clientbase_sfa)")
    run.add_argument("--from", dest="from_month", help="first month to publish, YYYY-MM (default: first with data)")
    run.add_argument("--to", dest="to_month", help="last month to publish, YYYY-MM (default: last with data)")
    run.add_argument("--set", dest="thresholds", action="append", metavar="NAME=VALUE",
                     help="override a threshold (dbt var of dbt_project.yml) for this run, e.g. "
                          "--set stt_threshold=0.8; repeatable")
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild every month of history, not only the months the new data touches "
                          "(forced anyway on the first build and after a change of thresholds or dbt code)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="generate demo data, run everything, print the last month")
    demo.add_argument("--months", type=int, default=24)
    demo.add_argument("--clients", type=int, default=300)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo)

    status = sub.add_parser("status", help="what is loaded, quarantined and published")
    status.set_defaults(func=cmd_status)

    quar = sub.add_parser("quarantine", help="list quarantined rows of a month (file, line, reason, raw text)",
                          description=QUARANTINE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    when = quar.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", help="YYYY-MM: rows dated in that month, plus undated rows loaded in it")
    when.add_argument("--all", action="store_true", help="rows of every month")
    quar.add_argument("--dataset", help="only this dataset (shipments, visits, clients, …)")
    quar.add_argument("--reason", help="only this reason: invalid, unknown_reference, malformed, rejected_file")
    quar.add_argument("--include-released", action="store_true",
                      help="also rows already released or superseded by a corrected file")
    quar.add_argument("--limit", type=int, default=200, help="rows to show (default 200; 0 = all)")
    quar.set_defaults(func=cmd_quarantine)
    sub.add_parser("roles", help="create the least-privilege warehouse roles and grants now (passwords from "
                                 "CLIENTBASE_*_PASSWORD)").set_defaults(func=cmd_roles)
    docs = sub.add_parser("docs", help="build the dbt docs (models, columns, lineage) and the GX Data Docs")
    docs.add_argument("--serve", action="store_true", help="serve them on http://127.0.0.1:PORT until Ctrl-C")
    docs.add_argument("--port", type=int, default=8080, help="port to serve on (default 8080; 0 = any free)")
    docs.set_defaults(func=cmd_docs)
    bi = sub.add_parser("bi", help="Superset on the warehouse: install it (own venv), import the dashboards "
                                   "(bi/superset/), manager roles with row-level security, serve on 127.0.0.1")
    bi.add_argument("--language", choices=("ru", "en"), help="labels of the dashboards (default "
                                                             "$CLIENTBASE_BI_LANGUAGE or ru)")
    bi.add_argument("--port", type=int, help="port on 127.0.0.1 (default $CLIENTBASE_BI_PORT or 8088)")
    bi.add_argument("--no-serve", action="store_true", help="install and import only; do not start the server")
    bi.add_argument("--screenshots", help="folder for the dashboards' screenshots "
                                          "(default $CLIENTBASE_HOME/bi/screenshots)")
    bi.add_argument("--no-screenshots", action="store_true", help="do not open the dashboards in Chromium")
    bi.add_argument("--stop", action="store_true", help="stop the Superset `clientbase bi` started")
    bi.add_argument("--install-only", action="store_true", help="only install Superset into its venv "
                                                                "($CLIENTBASE_SUPERSET_VENV or .venv-superset)")
    bi.add_argument("--metabase", metavar="URL", help="instead of Superset: provision the same dashboards into the "
                                                     "Metabase at URL (login from MB_API_KEY, or MB_USER and "
                                                     "MB_PASSWORD)")
    bi.set_defaults(func=cmd_bi)
    rep = sub.add_parser("report", help="the monthly report: one HTML or PDF per manager of a published month "
                                        "(and the director's), read from reporting as bi_reader")
    rep.add_argument("--month", required=True, help="the published month, YYYY-MM")
    rep.add_argument("--manager", dest="managers", action="append", metavar="ID",
                     help="only this manager's document (repeatable; default: every manager of the month and "
                          "the director)")
    rep.add_argument("--director", action="store_true", help="with --manager: the director's document as well")
    rep.add_argument("--format", dest="formats", action="append", choices=("html", "pdf"),
                     help="html (self-contained) or pdf; repeat for both (default html)")
    rep.add_argument("--out", help="folder to write <YYYY-MM>/<manager>.<format> into "
                                   "(default $CLIENTBASE_HOME/reports)")
    rep.add_argument("--language", choices=("ru", "en"), default="ru", help="labels (default ru)")
    rep.set_defaults(func=cmd_report)
    bench = sub.add_parser("bench", help="benchmark a distributor of size S|M|L against the physical floor "
                                         "(BENCHMARKS.md): JSON, table and plot in bench/results/")
    bench.add_argument("--size", choices=("XS", "S", "M", "L"),
                       help="S = the demo, M = 12 months x 100 k lines, L = 36 months x 500 k lines (default M; "
                            "XS is the test's)")
    bench.add_argument("--keep", action="store_true", help="keep the generated data, warehouses and logs")
    bench.add_argument("--out", help="folder for <size>-<date>.json and .png (default bench/results)")
    bench.add_argument("--series", choices=("all", "sparse"),
                       help="close every month in turn (all, the default) or only the compared months (sparse)")
    bench.add_argument("--write-md", action="store_true",
                       help="rewrite BENCHMARKS.md's figures from the newest JSON of each size in --out "
                            "(alone: without running)")
    bench.set_defaults(func=cmd_bench)
    backtest = sub.add_parser("backtest", help="the churn model against the status rule and BG/NBD on the "
                                               "last closed months (needs the backtest extra)")
    backtest.add_argument("--months", type=int, default=12, help="scored months (default 12)")
    backtest.add_argument("--seed", type=int, default=13, help="the model's seed (default 13)")
    backtest.add_argument("--out", help="folder for backtest.json and the reliability PNG "
                                        "(default $CLIENTBASE_HOME/backtest)")
    backtest.set_defaults(func=cmd_backtest)
    sub.add_parser("url", help="print the warehouse URL (for psql or a BI tool)").set_defaults(func=cmd_url)
    sub.add_parser("stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_stop)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A setup problem (server, login, database, setting, source connection)
    prints its one-line message and exits 2; ``-v`` adds the traceback. Anything else is a bug
    and keeps its traceback."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from clientbase.extract.connections import SourceConnectionError
    from clientbase.settings import SettingError
    from clientbase.warehouse.connection import WarehouseError
    from clientbase.warehouse.schema import SchemaNotApplied

    try:
        return args.func(args)
    except (WarehouseError, SchemaNotApplied, SettingError, SourceConnectionError, UsageError) as exc:
        if args.verbose:
            console.print_exception()
        console.print(str(exc), style="red", markup=False, highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
