"""SQLFluff over the dbt project with the dbt templater: ``python -m clientbase.lint [--fix] [PATH ...]``.

Why a wrapper and not a bare ``sqlfluff lint dbt_project``: the dbt templater compiles
every model the way ``dbt compile`` does, and dbt opens a connection to fill its
relation cache before it compiles anything, so without a reachable PostgreSQL it stops
with "dbt tried to connect to the database and failed" (measured with sqlfluff 4.4). The
connection is the transformer's (the role dbt runs as), which on a fresh clone is the
embedded PostgreSQL, started here on demand; ``profiles.yml`` reads it from the
``CLIENTBASE_DBT_*`` variables, exactly as for the pipeline's own dbt runs. Only the
catalog is read: no demo data, no schema, no table is needed, and nothing is written.

An embedded server that this command started is stopped again when it ends, so ``make
lint`` on CI leaves nothing running; one that was already up (a demo) is left alone.
The rules live in ``.sqlfluff`` at the project root; ``make lint`` also runs ruff.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

from clientbase.settings import Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_PATHS = ("dbt_project",)


def _sqlfluff_executable() -> str:
    """The ``sqlfluff`` of this interpreter's environment (``make install`` puts it in .venv/bin)."""
    candidate = Path(sys.executable).with_name("sqlfluff")
    return str(candidate) if candidate.exists() else "sqlfluff"


def _embedded_running(settings: Settings) -> bool:
    """Whether the embedded server is up now, so we know whether to stop it afterwards."""
    from clientbase.warehouse import embedded

    return embedded._running_port(settings.pgdata_dir) is not None


def sqlfluff_env(url: str) -> dict[str, str]:
    """The environment for sqlfluff: the dbt profile's connection, and dbt kept quiet and offline.

    The password (if any) travels in the environment only, never on a command line or in a log.
    """
    from clientbase.transform.dbt import dbt_env

    # sqlfluff's worker pool leaves a semaphore behind at exit, and Python's resource tracker
    # then warns about it on every run: noise that would hide the real findings.
    warnings_filter = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"),
                                             "ignore:resource_tracker:UserWarning"]))
    return {**os.environ, **dbt_env(url, threads=1), "PYTHONWARNINGS": warnings_filter,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}


def run_sqlfluff(command: str, paths: list[str], settings: Settings | None = None,
                 extra_args: list[str] | None = None) -> int:
    """``sqlfluff <command> <paths>`` from the project root; returns sqlfluff's exit code.

    0 = clean, 1 = violations left (lint) or unfixable ones (fix), 2 = sqlfluff or dbt broke
    (its message says which file; a dbt compilation error there is a broken model, run
    ``dbt compile`` for the full trace).
    """
    from clientbase.warehouse import embedded
    from clientbase.warehouse.connection import redact, transformer_url

    settings = settings or load_settings()
    started_here = settings.embedded and not _embedded_running(settings)
    url = transformer_url(settings)
    log.info("sqlfluff %s %s (dbt templater, connected to %s)", command, " ".join(paths), redact(url))
    cmd = [_sqlfluff_executable(), command, *(extra_args or []), *paths]
    try:
        return subprocess.run(cmd, cwd=settings.project_root, env=sqlfluff_env(url), check=False).returncode
    finally:
        if started_here:
            embedded.stop(settings.home)
            log.info("stopped the embedded PostgreSQL this lint started")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` goes to sqlfluff as is (e.g. `-- --rules LT02 --format json`).
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        prog="python -m clientbase.lint",
        description="SQLFluff (rules in .sqlfluff, dbt templater) over the dbt project; "
                    "arguments after -- go to sqlfluff.")
    parser.add_argument("--fix", action="store_true", help="rewrite the files (sqlfluff fix) instead of reporting")
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS),
                        help="files or folders relative to the project root (default: dbt_project)")
    args = parser.parse_args(own)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # pgserver asks platformdirs for a runtime dir it never uses (as in pyproject's pytest filters)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    return run_sqlfluff("fix" if args.fix else "lint", args.paths, extra_args=extra)


if __name__ == "__main__":
    raise SystemExit(main())
