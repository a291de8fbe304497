"""``make lint``'s SQL half on a fresh clone: the dbt templater needs a live PostgreSQL, and
``clientbase.lint`` brings the embedded one up (no demo data) and takes it down again."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from clientbase import lint
from clientbase.settings import load_settings
from clientbase.warehouse import embedded

# Off-style on purpose: upper case keywords and functions, leading commas, a bare `join`,
# no `select * from final` at the end.
PROBE_MODEL = """\
with clients as (
    SELECT * FROM {{ ref('stg_clients') }}
)
select
    clients.client_id
    , UPPER(clients.client_name) as client_name
from clients
join {{ ref('stg_managers') }} as managers on clients.manager_id = managers.manager_id
"""


@pytest.fixture
def fresh_home(monkeypatch):
    """A CLIENTBASE_HOME with no server and no data, as on a fresh clone.

    Not under pytest's tmp_path: its root is reset to mode 0700 whenever a pytest session
    starts, which locks the PostgreSQL OS user out of a data directory below it.
    """
    home = Path(tempfile.mkdtemp(prefix="clientbase-lint-test-"))
    monkeypatch.delenv("CLIENTBASE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("CLIENTBASE_TRANSFORMER_URL", raising=False)
    monkeypatch.setenv("CLIENTBASE_HOME", str(home))
    yield home
    embedded.stop(home)  # a no-op when the lint stopped it, as it should
    shutil.rmtree(home, ignore_errors=True)


def test_lint_compiles_models_on_a_fresh_home_and_reports_the_house_rules(fresh_home, tmp_path, capfd):
    repo = load_settings().project_root
    # A copy of the project, so the probe model never lands in the real dbt project.
    project = tmp_path / "project"
    shutil.copytree(repo / "dbt_project", project / "dbt_project",
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for name in (".sqlfluff", ".sqlfluffignore"):
        shutil.copy(repo / name, project / name)
    (project / "dbt_project" / "models" / "staging" / "zz_probe.sql").write_text(PROBE_MODEL)
    settings = dataclasses.replace(load_settings(), project_root=project)
    assert embedded._running_port(settings.pgdata_dir) is None

    code = lint.run_sqlfluff(
        "lint", ["dbt_project/models/staging/zz_probe.sql", "dbt_project/models/staging/stg_clients.sql"],
        settings, extra_args=["--format", "json"])

    # sqlfluff prints its JSON report on one line; the embedded server's start may log around it
    # (rich log lines start with "[<time>]" too: the report is the line that is a JSON array)
    report = next(line for line in capfd.readouterr().out.splitlines()
                  if line.startswith("[{") or line.strip() == "[]")
    results = {entry["filepath"]: entry["violations"] for entry in json.loads(report)}
    probe = {v["code"] for v in results["dbt_project/models/staging/zz_probe.sql"]}
    assert code == 1
    assert {"CP01", "CP03", "LT04", "AM05", "CV13"} <= probe
    # a model of the project was compiled by dbt (no templating or parsing error)
    assert not {v["code"] for v in results["dbt_project/models/staging/stg_clients.sql"]} & {"TMP", "PRS"}
    # the server this lint started is down again; a demo's would have been left running
    assert embedded._running_port(settings.pgdata_dir) is None
