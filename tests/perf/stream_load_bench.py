"""Measure the shipments extraction against a plain COPY (issue 12, item 2): not a test.

    .venv/bin/python tests/perf/stream_load_bench.py DEMO_LANDING WORK_DIR [--lines 500000]
        [--mode stream|records|floor|all]

Builds a shipments CSV of ``--lines`` lines by repeating the demo's UTF-8 shipments rows with
new document ids, loads the demo's reference lists, then times on one embedded server:
the floor (COPY of the file into a table of untyped text columns), and the extraction
(``extract_datasets``) with the COPY fast path (stream) and record by record (records).
Peak RSS is that of this process (run one mode per process to see each mode's own).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import time
from pathlib import Path


def build_file(demo: Path, target: Path, lines: int) -> int:
    """Repeat the demo's comma-separated shipments rows with new doc ids up to ``lines`` lines."""
    sources = [p for p in sorted((demo / "shipments").glob("*.csv")) if b";" not in p.read_bytes()[:200]]
    header = sources[0].read_bytes().split(b"\n", 1)[0]
    body = [row for p in sources for row in p.read_bytes().split(b"\n")[1:] if row.strip()]
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(target, "wb") as out:
        out.write(header + b"\n")
        copy = 0
        while written < lines - 1:
            prefix = f"X{copy}-".encode()
            take = body[: lines - 1 - written]
            out.write(b"\n".join(prefix + row for row in take) + b"\n")
            written += len(take)
            copy += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("demo", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--mode", default="all", choices=("stream", "records", "floor", "all"))
    args = parser.parse_args()
    os.environ.setdefault("CLIENTBASE_HOME", str(args.work / "home"))
    logging.basicConfig(level=logging.WARNING)

    import psycopg

    from clientbase.contract import DATASETS
    from clientbase.extract import run
    from clientbase.warehouse import schema
    from clientbase.warehouse.connection import warehouse_url

    landing = args.work / "landing"
    big = landing / "shipments" / "shipments_big.csv"
    if not big.exists():
        for name in ("managers", "products", "clients", "trade_points"):
            shutil.copytree(args.demo / name, landing / name, dirs_exist_ok=True)
        build_file(args.demo, big, args.lines)
    records = sum(1 for _ in open(big, "rb")) - 1
    url = warehouse_url()
    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("raw", "audit", "staging", "intermediate", "marts", "reporting", "reporting_stage"):
            conn.execute(f"drop schema if exists {name} cascade")
        schema.ensure_schema(conn)
    refs = run.Sources(landing)
    run.extract_datasets(url, ("managers", "products", "clients", "trade_points"), refs)
    only_big = args.work / "landing_big"
    (only_big / "shipments").mkdir(parents=True, exist_ok=True)
    if not (only_big / "shipments" / big.name).exists():
        os.link(big, only_big / "shipments" / big.name)
    width = len(DATASETS["shipments"].columns)

    modes = ("floor", "stream", "records") if args.mode == "all" else (args.mode,)
    for mode in modes:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from audit.quarantine where dataset = 'shipments'")
            conn.execute("delete from audit.batches where dataset = 'shipments'")
            conn.execute("truncate raw.shipments")
            conn.execute("drop table if exists public.floor_copy")
            conn.execute("create table public.floor_copy (" + ", ".join(f"c{i} text" for i in range(width)) + ")")
            conn.execute("checkpoint")
        started = time.perf_counter()
        if mode == "floor":
            with psycopg.connect(url) as conn, conn.cursor() as cur:
                with cur.copy("copy public.floor_copy from stdin with (format csv, header true)") as copy:
                    with open(big, "rb") as handle:
                        while chunk := handle.read(1 << 20):
                            copy.write(chunk)
                conn.commit()
            loaded = records
        else:
            run.STREAM_CSV = mode == "stream"
            results = run.extract_datasets(url, ("shipments",), run.Sources(only_big))
            loaded = sum(r.rows_loaded for r in results)
            assert loaded + sum(r.rows_quarantined for r in results) == records, [r.summary() for r in results]
        seconds = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{mode:8s} {records} records ({loaded} loaded) in {seconds:6.2f} s = "
              f"{records / seconds:9.0f} rows/s; peak RSS of this process so far {rss:.0f} MiB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
