"""Running dbt as a subprocess, streaming its log into ours.

Why a subprocess and not ``dbtRunner`` in-process: dbt keeps global state (adapters,
flags, logging) that is not safe to share with the Airflow worker or to invoke twice in
one process; a subprocess costs ~2 s and isolates it completely. The connection comes
from the warehouse URL, turned into the env vars ``dbt_project/profiles.yml`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from clientbase import progress
from clientbase.settings import Settings, load_settings

log = logging.getLogger(__name__)

# "12:01:02  3 of 40 OK created sql view model staging.stg_shipments ..."
DBT_STEP = re.compile(r"\b(\d+) of (\d+) (?:START|OK|PASS|WARN|ERROR|FAIL|SKIP)\S* ?(.{0,60})")


PROJECT_NAME = "clientbase"  # dbt_project.yml's name: manifest nodes are model.<name>.<model>


class DbtError(RuntimeError):
    """dbt failed for a reason other than failing data tests (SQL error, bad project)."""


@dataclass
class DbtTestResult:
    unique_id: str
    name: str
    status: str  # pass | fail | warn | error | skipped
    failures: int | None
    message: str | None


def dbt_env(url: str, threads: int = 2) -> dict[str, str]:
    parsed = urlparse(url)
    return {
        "CLIENTBASE_DBT_HOST": parsed.hostname or "127.0.0.1",
        "CLIENTBASE_DBT_PORT": str(parsed.port or 5432),
        "CLIENTBASE_DBT_USER": unquote(parsed.username or "postgres"),
        "CLIENTBASE_DBT_PASSWORD": unquote(parsed.password or ""),
        "CLIENTBASE_DBT_DBNAME": parsed.path.lstrip("/") or "clientbase",
        "CLIENTBASE_DBT_THREADS": str(threads),
    }


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(url: str, args: list[str], target_dir: Path, settings: Settings | None = None,
            vars: dict | None = None) -> int:
    """Run ``dbt <args>``; returns its exit code (1 = some node failed, >1 = dbt itself broke)."""
    settings = settings or load_settings()
    target_dir.mkdir(parents=True, exist_ok=True)
    cmd = [_dbt_executable(), *args,
           "--project-dir", str(settings.dbt_project_dir),
           "--profiles-dir", str(settings.dbt_project_dir),
           "--target-path", str(target_dir)]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    env = {**os.environ, **dbt_env(url),
           "DBT_LOG_PATH": str(target_dir / "logs"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DO_NOT_TRACK": "1"}
    log.info("dbt %s", " ".join(args + (["--vars", json.dumps(vars)] if vars else [])))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        log.info("dbt | %s", line.rstrip())
        step = DBT_STEP.search(line)
        if step:
            progress.report(f"dbt {args[0]} {step.group(1)}/{step.group(2)} {step.group(3)}")
    return proc.wait()


def test_results(target_dir: Path) -> list[DbtTestResult]:
    """The data tests of the last ``dbt build`` from its run_results.json."""
    path = target_dir / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())["results"]
    out = []
    for res in results:
        uid = res["unique_id"]
        if not uid.startswith("test."):
            continue
        out.append(DbtTestResult(uid, uid.split(".")[2], res["status"], res.get("failures"), res.get("message")))
    return out


def node_errors(target_dir: Path) -> list[str]:
    """Models or seeds that errored (not tests): these are bugs or bad data types."""
    path = target_dir / "run_results.json"
    if not path.exists():
        return []
    return [f"{r['unique_id']}: {r.get('message')}"
            for r in json.loads(path.read_text())["results"]
            if not r["unique_id"].startswith("test.") and r["status"] == "error"]


RUN_VARS = ("report_month", "rebuild_from")  # set by the pipeline itself (transform/dirty.py), not by a user


def project_vars(settings: Settings | None = None) -> dict:
    """The thresholds of ``dbt_project.yml`` (the one configuration place of metrics.md)."""
    import yaml

    settings = settings or load_settings()
    project = yaml.safe_load((settings.dbt_project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in (project.get("vars") or {}).items() if k not in RUN_VARS}


def check_overrides(overrides: dict | None, settings: Settings | None = None) -> dict:
    """Per-run threshold overrides, refused when a name is not a threshold of the project.

    A typo (``stt_treshold``) would otherwise be ignored by dbt and the run would silently
    use the default, so an unknown name fails before anything is built.
    """
    if not overrides:
        return {}
    known = project_vars(settings)
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown threshold(s) {', '.join(unknown)}: the dbt vars of dbt_project.yml are "
                         + ", ".join(sorted(known)))
    return dict(overrides)


# What the month close's ``dbt build`` leaves out: unit tests (they test code, not the month's data).
BUILD_EXCLUDE = ("resource_type:unit_test",)
# What reads the churn model's scores (ml.churn_scores, written between the two passes of a month
# close by churn/score.py): built by the second pass, after the scoring; the first builds the rest.
SCORED_SELECTOR = "source:ml+"


def build(url: str, report_month: str, target_dir: Path, settings: Settings | None = None,
          overrides: dict | None = None, rebuild_from: str | None = None,
          full_refresh: bool = False, scored: bool = False) -> list[DbtTestResult]:
    """``dbt build`` of the project: seeds, models and their data tests, in two passes.

    ``scored=False`` (the first pass) builds everything but what reads the churn scores
    (:data:`SCORED_SELECTOR`); ``scored=True`` builds just that, once the scores are written.
    Unit tests are left out: they check the models' code on fixed inputs, not the month's
    data, so they belong to the test suite (tests/test_dbt_unit.py), not to the month close,
    where a failing one would block publication for a reason no data fix can clear.
    ``overrides`` replace thresholds of ``dbt_project.yml`` for this run only. ``rebuild_from``
    (``'YYYY-MM-01'`` or None: every month) is where the incremental models start rebuilding
    and ``full_refresh`` recreates them (transform/dirty.py decides both).
    """
    run_vars = {**check_overrides(overrides, settings), "report_month": report_month,
                "rebuild_from": None if full_refresh else rebuild_from}
    selection = ["--select", SCORED_SELECTOR, "--exclude", *BUILD_EXCLUDE] if scored else [
        "--exclude", *BUILD_EXCLUDE, SCORED_SELECTOR]
    args = ["build", *selection, *(["--full-refresh"] if full_refresh else [])]
    code = run_dbt(url, args, target_dir, settings, vars=run_vars)
    errors = node_errors(target_dir)
    if errors or code > 1:
        raise DbtError("dbt build failed:\n  " + "\n  ".join(errors or [f"exit code {code}"]))
    return test_results(target_dir)


def all_nodes_built(target_dir: Path) -> bool:
    """Whether every model and seed of the last ``dbt build`` succeeded (none errored or skipped).

    A failing data test makes dbt skip the models downstream of it, which then keep an older
    build's rows: such a build must not count as done for the next month close's plan.
    """
    path = target_dir / "run_results.json"
    if not path.exists():
        return False
    return all(r["status"] == "success" for r in json.loads(path.read_text())["results"]
               if r["unique_id"].split(".")[0] in ("model", "seed", "snapshot"))


def model_relations(manifest: Path) -> dict[str, str]:
    """``{model name: "schema.alias"}`` of every model of the project in a ``manifest.json``.

    Small enough to travel between tasks in XCom, so a task that names models (the GX
    suites) needs no access to the build's disk.
    """
    nodes = json.loads(Path(manifest).read_text(encoding="utf-8"))["nodes"]
    return {node["name"]: f"{node['schema']}.{node.get('alias') or node['name']}"
            for node in nodes.values()
            if node["resource_type"] == "model" and node["package_name"] == PROJECT_NAME}


DOCS_FILES = ("index.html", "manifest.json", "catalog.json")  # what the dbt docs site needs
DOCS_STATIC_FILE = "static_index.html"  # the same site in one file (opens from disk)


def docs_generate(url: str, target_dir: Path, settings: Settings | None = None) -> Path:
    """``dbt docs generate --static`` against the warehouse; returns ``target_dir``.

    The catalog (column types, row counts) is read from the warehouse, so the docs show
    the relations as the last ``dbt build`` left them. ``target_dir`` then holds the site
    (:data:`DOCS_FILES`) and :data:`DOCS_STATIC_FILE`, which works without a web server.
    """
    code = run_dbt(url, ["docs", "generate", "--static"], target_dir, settings)
    missing = [name for name in (*DOCS_FILES, DOCS_STATIC_FILE) if not (target_dir / name).is_file()]
    if code != 0 or missing:
        raise DbtError(f"dbt docs generate failed (exit {code}"
                       + (f", missing {', '.join(missing)}" if missing else "")
                       + f"); its log is above and in {target_dir / 'logs'}")
    return target_dir
