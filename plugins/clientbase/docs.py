"""The project's documentation site: dbt docs (lineage) and GX Data Docs (data quality).

``python -m clientbase.docs [--serve] [--port N]`` (or ``make docs``):

1. runs ``dbt docs generate`` against the warehouse into ``$CLIENTBASE_HOME/docs/dbt``;
2. puts the latest run's GX Data Docs beside it in ``docs/gx`` (every month-close run
   already copies them there; before the first run, a page says so);
3. writes ``docs/index.html`` linking both, and with ``--serve`` serves the folder over
   http on 127.0.0.1 until Ctrl-C.

Why one folder served over http rather than opening files: dbt's ``index.html`` loads
``manifest.json`` and ``catalog.json`` with fetch, which browsers refuse from ``file://``
(``dbt/static_index.html`` is the one-file fallback that opens from disk).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import html
import logging
import shutil
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from clientbase.quality import data_docs
from clientbase.settings import Settings, load_settings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # local only: the docs show table contents' statistics and SQL
DEFAULT_PORT = 8080
DBT_DIRNAME = "dbt"
DBT_TARGET_DIRNAME = "docs-target"  # under CLIENTBASE_HOME: dbt's own target (compiled SQL, logs)

INDEX_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clientbase documentation</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46em;margin:3em auto;line-height:1.5}}
li{{margin:.6em 0}} small{{color:#666}}</style></head>
<body><h1>clientbase documentation</h1>
<ul>
<li><a href="{dbt_dir}/index.html">dbt docs (lineage)</a> — models, columns, tests and the
lineage graph from raw to reporting. <small>{dbt_note}</small></li>
<li><a href="{gx_dir}/index.html">Data quality (GX Data Docs)</a> — the Great Expectations
results of the latest month close: every suite, every expectation, what was observed.
<small>{gx_note}</small></li>
</ul>
<p><small>Generated {generated}. Failing checks also show in <code>clientbase status</code>
and in <code>audit.check_results</code>.</small></p>
</body></html>
"""

GX_PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>No data quality results yet</title></head>
<body><h1>No data quality results yet</h1>
<p>GX Data Docs are written by every month close (<code>clientbase run</code> or the
<code>monthly_kpi</code> DAG). Run one, then regenerate this site.</p></body></html>
"""


def build(out_dir: Path | None = None, *, with_dbt: bool = True,
          settings: Settings | None = None) -> Path:
    """Write the docs site into ``out_dir`` (default ``$CLIENTBASE_HOME/docs``); returns its index."""
    settings = settings or load_settings()
    out = Path(out_dir or data_docs.docs_dir(settings)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    dbt_note = "generated now from the warehouse"
    if with_dbt:
        _build_dbt_docs(out / DBT_DIRNAME, settings)
    elif not (out / DBT_DIRNAME / "index.html").is_file():
        dbt_note = "not generated (run without --no-dbt)"
    else:
        dbt_note = "as generated earlier"
    gx_note = _place_gx_docs(out / data_docs.GX_DIRNAME, settings)
    index = out / "index.html"
    index.write_text(INDEX_TEMPLATE.format(
        dbt_dir=DBT_DIRNAME, gx_dir=data_docs.GX_DIRNAME, dbt_note=html.escape(dbt_note),
        gx_note=html.escape(gx_note), generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    ), encoding="utf-8")
    log.info("documentation site written to %s", index)
    return index


def _build_dbt_docs(site: Path, settings: Settings) -> None:
    """``dbt docs generate`` into a work folder, then only the site's files into ``site``."""
    from clientbase.transform import dbt
    from clientbase.warehouse.connection import warehouse_url

    target = settings.home / DBT_TARGET_DIRNAME
    dbt.docs_generate(warehouse_url(), target, settings)
    staging = target / "site"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in (*dbt.DOCS_FILES, dbt.DOCS_STATIC_FILE):
        shutil.copy2(target / name, staging / name)
    data_docs.replace_tree(staging, site)


def _place_gx_docs(site: Path, settings: Settings) -> str:
    """Put the latest GX Data Docs at ``site``; returns a note saying where they came from."""
    latest = data_docs.latest_dir(settings)
    source = latest if (latest / "index.html").is_file() else data_docs.newest_run_site(settings)
    if source is None:
        if not (site / "index.html").is_file():
            site.mkdir(parents=True, exist_ok=True)
            (site / "index.html").write_text(GX_PLACEHOLDER, encoding="utf-8")
        return "no month close has run yet"
    if source.resolve() != site.resolve():
        data_docs.replace_tree(source, site)
    return f"from {source}"


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files; request lines go to our log at DEBUG instead of stderr."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.debug("docs server: " + format, *args)


def make_server(directory: Path, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """An http server for ``directory`` on 127.0.0.1 (port 0: any free port; see ``server_port``)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    return ThreadingHTTPServer((HOST, port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clientbase.docs",
        description="Generate dbt docs and the latest GX Data Docs into $CLIENTBASE_HOME/docs.")
    parser.add_argument("--serve", action="store_true", help="serve the site on 127.0.0.1 until Ctrl-C")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument("--out", type=Path, default=None, help="folder to write (default $CLIENTBASE_HOME/docs)")
    parser.add_argument("--no-dbt", action="store_true", help="skip dbt docs generate (no warehouse needed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    index = build(args.out, with_dbt=not args.no_dbt)
    log.info("open %s", index)
    if not args.serve:
        return 0
    try:
        server = make_server(index.parent, args.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d (%s): pick another port with --port N", HOST, args.port, exc)
        return 1
    log.info("serving http://%s:%d/ (Ctrl-C to stop)", HOST, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
