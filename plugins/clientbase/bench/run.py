"""One benchmark run end to end: generate, first close, floors, late correction, month-by-month series.

Two fresh embedded warehouses in a temporary folder (removed unless ``keep``):

1. *first*: the whole history in one ``clientbase run`` (load + backfill close), then the
   floors on the same server (COPY of the shipment files, COPY of every file, a bare
   ``dbt build``), then a correction of a month ``late_offset`` months back and its close;
2. *series*: the landing folder grows month by month (``generation.stage_month``) and each
   month is closed in turn with ``clientbase run``; then a ``--full-refresh`` close, when the
   CLI has one, must publish identical tables.

``series="sparse"`` closes only the two compared months one by one and the months before
each of them together (four closes): for the test and for a quick look, never the figures
of record (the JSON and the plot say which it was).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

import psutil
from rich.console import Console

from clientbase.bench import generation, measure, report
from clientbase.bench.sizes import Size
from clientbase.settings import load_settings

log = logging.getLogger(__name__)


def machine_facts() -> dict[str, object]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "ram_bytes": psutil.virtual_memory().total,
            "python": platform.python_version(), "dbt_core": version("dbt-core"),
            "dbt_postgres": version("dbt-postgres"), "apache_airflow": version("apache-airflow"),
            "platform": platform.platform()}


def _commit() -> str:
    root = load_settings().project_root
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "?"


class Bench:
    """State of one run; ``say`` prints what it is doing (the CLI's logs go to ``logs/``)."""

    def __init__(self, size: Size, work: Path, console: Console) -> None:
        self.size = size
        self.work = work
        self.console = console
        self.logs = work / "logs"
        self.peak_rss = 0
        self.peak_warehouse_rss = 0
        # what is measured so far: written as <size>-<date>.partial.json if the run stops early
        self.partial: dict[str, object] = {}

    def say(self, message: str) -> None:
        self.console.print(f"[bold cyan]bench[/] {message}", highlight=False)

    def cli(self, args: list[str], home: Path, what: str) -> measure.CliRun:
        with self.console.status(f"{what}…"):
            run = measure.run_cli(args, home, self.logs / f"{home.name}.log")
        self.peak_rss = max(self.peak_rss, run.peak_rss_bytes)
        self.peak_warehouse_rss = max(self.peak_warehouse_rss, run.peak_warehouse_rss_bytes)
        if run.returncode != 0:
            raise measure.BenchError(f"{what}: clientbase {' '.join(args)} exited {run.returncode}; "
                                     f"its output is in {run.log_path}")
        url = self.url(home)
        run.phases = measure.airflow_phases(url)
        self.say(f"{what}: {run.seconds:.1f} s, peak RSS {run.peak_rss_bytes / 2 ** 20:.0f} MiB")
        return run

    def prepare(self, home: Path) -> float:
        self.logs.mkdir(parents=True, exist_ok=True)
        with self.console.status(f"preparing the warehouse {home.name} (server, Airflow metadata DB)…"):
            seconds = measure.prepare_warehouse(home, self.logs / f"{home.name}.log")
        self.say(f"warehouse {home.name} ready in {seconds:.1f} s (not timed as a close)")
        return seconds

    @staticmethod
    def url(home: Path) -> str:
        from clientbase.warehouse import embedded

        return embedded.ensure_running(home)


def run_bench(size: Size, out_dir: Path, *, keep: bool = False, series: str = "all",
              console: Console | None = None) -> dict:
    """Run the benchmark of ``size``; writes ``<out_dir>/<size>-<date>.json`` and ``.png``, returns the result."""
    console = console or Console()
    work = Path(tempfile.mkdtemp(prefix=f"clientbase-bench-{size.name}-"))
    bench = Bench(size, work, console)
    started = time.monotonic()
    saved_home = os.environ.get("CLIENTBASE_HOME")
    if threading.current_thread() is threading.main_thread():
        # a SIGTERM (a CI timeout, kill PID) unwinds like Ctrl-C: servers stopped, temp folder removed
        signal.signal(signal.SIGTERM, _terminated)
    try:
        result = _run(bench, out_dir, series)
    except BaseException as exc:
        partial = {"size": size.name, "date": dt.date.today().isoformat(), "complete": False,
                   "stopped_by": f"{type(exc).__name__}: {exc}", "series_mode": series, **bench.partial}
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{size.name}-{partial['date']}.partial.json"
        path.write_text(json.dumps(partial, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        console.print(f"bench stopped early: what was measured is in {path}", markup=False, highlight=False)
        raise
    finally:
        from clientbase.warehouse import embedded

        for home in (work / "wh-first", work / "wh-series"):
            if (home / "pgdata").exists():
                embedded.stop(home)
        if saved_home is None:
            os.environ.pop("CLIENTBASE_HOME", None)
        else:
            os.environ["CLIENTBASE_HOME"] = saved_home
        if keep:
            console.print(f"bench: kept {work} (data, warehouses' data folders, logs)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["total_seconds"] = round(time.monotonic() - started, 1)
    path = report.write_json(result, out_dir)
    report.print_table(result, console)
    console.print(f"bench: {path}  plot: {result['plot']}  total {result['total_seconds'] / 60:.1f} min")
    return result


class Terminated(SystemExit):
    """The benchmark got SIGTERM."""


def _terminated(signum, frame) -> None:
    raise Terminated(128 + signum)


def _run(bench: Bench, out_dir: Path, series_mode: str) -> dict:
    size, work = bench.size, bench.work
    today = dt.date.today().isoformat()
    bench.say(f"size {size.name} ({size.note}): generating {size.months} months for {size.clients:,} clients "
              f"into {work}")
    with bench.console.status("generating…"):
        data = generation.generate_history(size, work / "full", work / "late")
    bench.say(f"generated {data.shipment_lines:,} shipment lines in {data.seconds:.1f} s "
              f"(peak RSS {data.peak_rss_bytes / 2 ** 20:.0f} MiB)")
    last = data.months[-1]
    bench.partial.update(generator_s=data.seconds, generator_peak_rss_bytes=data.peak_rss_bytes,
                         data={"months": list(data.months), "shipment_lines": data.shipment_lines})

    # 1. first close: everything in one run, then the floors on the same server
    home = work / "wh-first"
    setup_s = [bench.prepare(home)]
    first = bench.cli(["run", "--landing", str(data.folder)], home,
                      f"first close (load + backfill of {len(data.months)} months)")
    url = bench.url(home)
    os.environ["CLIENTBASE_HOME"] = str(home)  # the floor's dbt reads settings from the environment
    load = measure.shipment_load(url)
    bench.partial.update(first_close_s=first.seconds, first_close_phases=first.phases, load=load,
                         peak_rss_bytes=bench.peak_rss)
    bench.say(f"load: {load['rows']:,} shipment rows in {load['seconds']:.1f} s of batches")
    shipment_files = sorted((data.folder / "shipments").glob("*"))
    all_files = sorted(p for p in data.folder.rglob("*") if p.is_file())
    with bench.console.status("COPY floor…"):
        floor_ship = measure.copy_floor(url, shipment_files)
        floor_all = measure.copy_floor(url, all_files)
    bench.say(f"COPY floor: shipments {floor_ship['rows']:,} rows in {floor_ship['seconds']:.1f} s, every file "
              f"{floor_all['seconds']:.1f} s")
    with bench.console.status("dbt floor (bare dbt build --full-refresh)…"):
        floor_dbt = measure.dbt_floor(url, last, work / "dbt-floor")
    bench.say(f"dbt floor: {floor_dbt['seconds']:.1f} s")
    bench.partial.update(copy_floor_shipments=floor_ship, copy_floor_all_files=floor_all, dbt_floor=floor_dbt)
    shutil.copyfile(data.late_correction, data.folder / "shipments" / data.late_correction.name)
    late = bench.cli(["run", "--landing", str(data.folder)], home,
                     f"close after a late correction of {data.late_correction_month}")
    first_facts = measure.warehouse_facts(url)
    bench.partial.update(late_correction_close_s=late.seconds, warehouse=first_facts, series=[])

    # 2. month by month
    home = work / "wh-series"
    landing = work / "landing"
    setup_s.append(bench.prepare(home))
    closes = _series_plan(data.months, size.compare, series_mode)
    series = []
    for i, (month, measured) in enumerate(closes, start=1):
        added = generation.stage_month(data.folder, landing, month)
        run = bench.cli(["run", "--landing", str(landing)], home,
                        f"close {month} ({i}/{len(closes)}, {len(added)} new files)")
        series.append({"month": month, "index": data.months.index(month) + 1, "seconds": run.seconds,
                       "measured": measured, "new_files": len(added), "peak_rss_bytes": run.peak_rss_bytes,
                       "phases": run.phases})
        bench.partial.update(series=series, peak_rss_bytes=bench.peak_rss)
    url = bench.url(home)
    not_measured: dict[str, str] = {}
    full_refresh: dict[str, object] = {}
    if measure.cli_supports("--full-refresh"):
        before = measure.reporting_checksums(url)
        fr = bench.cli(["run", "--landing", str(landing), "--full-refresh"], home, f"--full-refresh close of {last}")
        after = measure.reporting_checksums(url)
        differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        full_refresh = {"seconds": fr.seconds, "identical": not differ, "tables_differing": differ,
                        "tables": len(before)}
        bench.say(f"full refresh: {'identical' if not differ else 'DIFFERENT: ' + ', '.join(differ)}")
    else:
        not_measured["full_refresh_identical"] = "not measured (pipeline has no full refresh yet)"
        bench.say("full refresh: not measured (pipeline has no full refresh yet)")
    series_facts = measure.warehouse_facts(url)
    churn = _churn_backtest(bench, home, len(data.months), not_measured)

    by_index = {s["index"]: s for s in series}
    early, late_m = (by_index[size.compare[0]]["seconds"], by_index[size.compare[1]]["seconds"])
    first_floor = floor_dbt["seconds"] + floor_all["seconds"]
    figures = {
        "load_vs_floor": round(load["rows_per_s"] / floor_ship["rows_per_s"], 3) if floor_ship["rows_per_s"] else None,
        "close_growth": round(late_m / early, 3),
        "first_close_vs_floor": round(first.seconds / first_floor, 3),
        "late_correction_vs_first_close": round(late.seconds / first.seconds, 3),
        "peak_rss_bytes": bench.peak_rss,
        "full_refresh_identical": full_refresh.get("identical"),
        "load_rows_per_s": load["rows_per_s"],
        "copy_floor_rows_per_s": floor_ship["rows_per_s"],
        "first_close_s": first.seconds,
        "first_close_floor_s": round(first_floor, 2),
        f"close_month_{size.compare[0]}_s": early,
        f"close_month_{size.compare[1]}_s": late_m,
        "late_correction_close_s": late.seconds,
        "warehouse_peak_rss_bytes": bench.peak_warehouse_rss,
        "warehouse_size_bytes": first_facts["database_bytes"],
        "generator_s": data.seconds,
        "generator_peak_rss_bytes": data.peak_rss_bytes,
        "warehouse_setup_s": round(sum(setup_s) / len(setup_s), 2),
        **churn.get("figures", {}),
    }
    plot_path = report.plot({"size": size.name, "series": series, "series_mode": series_mode},
                            out_dir / f"{size.name}-{today}.png")
    root = load_settings().project_root
    try:
        plot_ref = plot_path.resolve().relative_to(root).as_posix()
    except ValueError:
        plot_ref = str(plot_path)
    result = {
        "size": size.name, "size_note": size.note, "date": today, "commit": _commit(),
        "series_mode": series_mode,
        "machine": {**machine_facts(), "postgres_version": first_facts["postgres_version"]},
        "data": {"months": list(data.months), "shipment_lines": data.shipment_lines,
                 "lines_per_month": data.lines_per_month, "trade_points": data.trade_points,
                 "clients": data.clients, "skus": data.skus, "late_correction_month": data.late_correction_month,
                 "late_correction_rows": data.late_correction_rows},
        "figures": figures,
        "not_measured": not_measured,
        "load": {"pipeline": load, "copy_floor_shipments": floor_ship, "copy_floor_all_files": floor_all,
                 "note": "cp1251 files are transcoded to UTF-8 and workbooks read with calamine in the floor too"},
        "first_close": {"seconds": first.seconds, "phases": first.phases, "dbt_floor": floor_dbt,
                        "copy_floor_all_files_s": floor_all["seconds"]},
        "late_correction": {"month": data.late_correction_month, "seconds": late.seconds, "phases": late.phases},
        "series": series,
        "full_refresh": full_refresh,
        "churn_backtest": churn,
        "warehouse": {"first": first_facts, "series": series_facts},
        "plot": plot_ref,
    }
    result["targets"] = report.judged(figures)
    return result


def _churn_backtest(bench: Bench, home: Path, months: int, not_measured: dict[str, str]) -> dict:
    """``clientbase backtest`` (issue 13) on the series' warehouse: the churn model against the
    status rule and BG/NBD, each month scored with what was known then. Its figures join the
    run's; the whole backtest JSON is kept under ``churn_backtest``."""
    from clientbase.churn import backtest

    if months < backtest.MIN_CLOSED_MONTHS:
        not_measured["churn_model_beats_baselines"] = (f"not measured ({months} months: the backtest needs "
                                                       f"{backtest.MIN_CLOSED_MONTHS})")
        bench.say(f"churn backtest: {not_measured['churn_model_beats_baselines']}")
        return {}
    out = bench.work / "backtest"
    run = bench.cli(["backtest", "--out", str(out)], home, "churn backtest")
    result = json.loads((out / "backtest.json").read_text(encoding="utf-8"))
    figures = {"churn_model_beats_baselines": backtest.beats_baselines(result["figures"])}
    for method, values in result["figures"].items():
        figures[f"churn_auc_{method}"] = round(values["roc_auc"], 3)
        figures[f"churn_precision_top10_{method}"] = round(values["precision_top10"], 3)
    return {"seconds": run.seconds, "months": result["months"], "figures": figures, "result": result}


def _series_plan(months: tuple[str, ...], compare: tuple[int, int], mode: str) -> list[tuple[str, bool]]:
    """(month to close, whether it is one of the compared closes), in order."""
    wanted = {compare[0], compare[1]}
    if mode == "all":
        return [(m, i in wanted) for i, m in enumerate(months, start=1)]
    plan = []
    for index in sorted(wanted):
        if index - 1 >= 1 and (not plan or months.index(plan[-1][0]) + 1 < index - 1):
            plan.append((months[index - 2], False))  # every month before it, in one close
        plan.append((months[index - 1], True))
    return plan
