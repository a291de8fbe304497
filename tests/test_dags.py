"""The DAG folder as Airflow sees it."""

from __future__ import annotations

import ast
import re

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def dagbag(airflow_ready):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dag_folder_imports_cleanly(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["extract_shipments", "extract_visits", "monthly_kpi"]


# task -> its upstream tasks, exactly: a task added, dropped or rewired shows up here
DAG_WIRING = {
    "extract_shipments": {"load_shipments": set()},
    "extract_visits": {"load_visits": set()},
    "monthly_kpi": {
        "month_close_lock": set(),
        "months_to_close": set(),
        "dbt_build": {"months_to_close", "month_close_lock"},
        # issue 13: the churn model between the two dbt passes (the second reads its scores)
        "churn_scores": {"months_to_close", "dbt_build"},
        "dbt_build_scored": {"months_to_close", "dbt_build", "churn_scores"},
        "great_expectations": {"months_to_close", "dbt_build"},
        "quality_gate": {"months_to_close", "dbt_build_scored", "great_expectations"},
        "publish": {"dbt_build", "quality_gate"},  # dbt_build: the tables and dbt version it publishes
        "month_close_unlock": {"month_close_lock", "publish"},
    },
}


def test_dag_wiring_is_exactly_the_designed_one(dagbag):
    for dag_id, wiring in DAG_WIRING.items():
        dag = dagbag.dags[dag_id]
        assert {t.task_id: set(t.upstream_task_ids) for t in dag.tasks} == wiring, dag_id


def test_month_close_wiring(dagbag):
    dag = dagbag.dags["monthly_kpi"]
    # the lock is a setup / teardown pair around everything from the dbt build on
    assert [t.task_id for t in dag.tasks if t.is_setup] == ["month_close_lock"]
    assert [t.task_id for t in dag.tasks if t.is_teardown] == ["month_close_unlock"]
    # one publication per month: publish is mapped over the months the gate let through
    assert type(dag.get_task("publish")).__name__ == "DecoratedMappedOperator"
    assert dag.max_active_runs == 1
    assert dag.default_args.get("retries") == 0


def test_month_close_has_a_full_refresh_param(dagbag):
    """``full_refresh`` (bool, off): the build otherwise redoes only the dirty months (transform/dirty.py)."""
    params = dagbag.dags["monthly_kpi"].params
    assert params["full_refresh"] is False
    assert params.get_param("full_refresh").schema["type"] == "boolean"
    assert "rebuild every month" in params.get_param("full_refresh").description


def test_extract_dags_produce_raw_assets(dagbag):
    """Each extraction DAG announces exactly the raw tables of its flow (monthly_kpi waits on them)."""
    from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW

    for dag_id, flow in (("extract_shipments", SHIPMENTS_FLOW), ("extract_visits", VISITS_FLOW)):
        dag = dagbag.dags[dag_id]
        outlets = {getattr(o, "name", None) for t in dag.tasks for o in t.outlets}
        assert outlets == {f"raw.{name}" for name in flow}, dag_id


# What a DAG file may import: Airflow, its date library, and the clientbase modules that
# hold task bodies and shared DAG settings (never the warehouse, loader or dbt runner).
DAG_IMPORTS = {"__future__", "airflow.sdk", "pendulum", "clientbase.tasks", "clientbase.contract",
               "clientbase.orchestration.dag_shared"}
SQL_STATEMENT = re.compile(
    r"\bselect\b.*\bfrom\b|\binsert\s+into\b|\bupdate\s+\w+\s+set\b|\bdelete\s+from\b"
    r"|\b(create|drop|alter|truncate)\s+(table|schema|index|view|role)\b|\bcopy\s+\w+", re.I | re.S)
# Calls a task body may make besides its one tasks.<name>(...): reading the run's context.
CONTEXT_CALLS = {"get_current_context", "get", "date"}
TASK_DECORATORS = {"task", "setup", "teardown"}


def _imported_modules(tree: ast.Module) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            # `from clientbase import tasks` imports the module clientbase.tasks
            out |= {f"{node.module}.{a.name}" if node.module == "clientbase" else node.module for a in node.names}
    return out


def _task_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    def decorator_name(d: ast.expr) -> str | None:
        target = d.func if isinstance(d, ast.Call) else d
        return target.id if isinstance(target, ast.Name) else None

    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            and any(decorator_name(d) in TASK_DECORATORS for d in node.decorator_list)]


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return f"{func.value.id}.{func.attr}" if isinstance(func.value, ast.Name) else func.attr
    return func.id if isinstance(func, ast.Name) else ast.dump(func)


@pytest.mark.parametrize("path", sorted((REPO / "dags").glob("*.py")), ids=lambda p: p.name)
def test_dag_files_stay_thin(path):
    """DAG files only wire tasks; what a task does lives in clientbase.tasks.

    They import nothing but Airflow and the clientbase modules for task bodies and DAG
    settings (so no driver, no dbt, no SQL engine); no string in them is a SQL statement;
    and every task body is one call to clientbase.tasks, given what the run's context holds.
    """
    from clientbase import tasks

    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _imported_modules(tree) <= DAG_IMPORTS, path.name

    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert [s for s in strings if SQL_STATEMENT.search(s)] == [], path.name

    bodies = _task_functions(tree)
    assert bodies, f"{path.name} defines no task"
    for fn in bodies:
        statements = [st for st in fn.body if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))]
        *context_reads, last = statements
        assert all(isinstance(st, ast.Assign) for st in context_reads), f"{path.name}: {fn.name} does more than wire"
        assert isinstance(last, ast.Return) and isinstance(last.value, ast.Call), f"{path.name}: {fn.name}"
        called = _call_name(last.value)
        assert called.startswith("tasks.") and hasattr(tasks, called.removeprefix("tasks.")), \
            f"{path.name}: {fn.name} returns {called}, not a function of clientbase.tasks"
        others = {_call_name(c) for st in fn.body for c in ast.walk(st) if isinstance(c, ast.Call)} - {called}
        assert {name.rsplit(".", 1)[-1] for name in others} <= CONTEXT_CALLS, f"{path.name}: {fn.name} calls {others}"
