"""The rules of metrics.md as dbt unit tests: status (§2), managers (§3), orders (§5), ABC(DE) (§6), receivables (§8).

The golden scenarios test the rules through the whole pipeline; the ``unit_tests:`` of
``dbt_project/models/intermediate/_intermediate__models.yml`` test each rule on its own,
with hand-made inputs and expected rows derived from the spec. They test code, not data,
so the month close never runs them (``dbt.build`` excludes them); this module does, on the
test warehouse, without Airflow or any pipeline run.

dbt reads the column types of a unit-tested model's parents from the warehouse, so the
models are first built empty (``dbt run --empty``: the SQL runs against zero rows, which
takes a few seconds and needs nothing but the raw tables of ``schema.ensure_schema``).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from clientbase.transform import dbt
from conftest import REPO, reset_warehouse

MODELS_DIR = REPO / "dbt_project" / "models"
# How many unit tests each rule has: a unit test deleted, disabled or not selected fails here.
EXPECTED_PER_MODEL = {"int_client_status_monthly": 6, "int_client_abc_monthly": 6, "int_trade_point_orders": 4,
                      "int_shipment_lines_posted": 1, "int_client_handovers_monthly": 1,
                      "manager_scorecard_monthly": 2, "int_retail_audits": 3,
                      "fct_trade_point_audits_monthly": 2, "int_invoices_deferred": 2,
                      "int_invoice_balances_monthly": 3, "fct_client_receivables_monthly": 4,
                      "receivables_monthly": 1, "stg_shipments": 1, "fct_rotation_outcomes_monthly": 1,
                      "fct_client_churn_risk_monthly": 1}
UNIT_SELECTOR = "test_type:unit"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # dbt colours the diff in its messages


def defined_unit_tests() -> dict[str, str]:
    """unit test name -> the model it tests, as the YAML of every models folder defines them."""
    out = {}
    for path in sorted(MODELS_DIR.glob("*/_*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out.update({t["name"]: t["model"] for t in doc.get("unit_tests", [])})
    return out


def unit_test_results(target: Path) -> dict[str, tuple[str, str, str | None]]:
    """unit test name -> (tested model, status, message), from dbt's run_results.json.

    A unit test's unique_id is ``unit_test.<project>.<model>.<name>``.
    """
    results = json.loads((target / "run_results.json").read_text())["results"]
    out = {}
    for res in results:
        kind, _project, model, name = res["unique_id"].split(".", 3)
        if kind == "unit_test":
            out[name] = (model, res["status"], res.get("message"))
    return out


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    """One dbt target folder for the module: dbt's partial parse then saves seconds a call.

    Each test reads run_results.json right after its own dbt call.
    """
    return tmp_path_factory.mktemp("dbt_unit")


@pytest.fixture(scope="module")
def parents_built(warehouse, target) -> str:
    """Every unit-tested model and its ancestors, built empty so dbt knows their columns (seeds loaded)."""
    reset_warehouse(warehouse)
    # the marts read seeds (client_statuses, plan_shares), which ``run`` does not load
    code = dbt.run_dbt(warehouse, ["seed"], target)
    assert code == 0, f"dbt seed failed (exit {code}); see the dbt log above"
    selection = [f"+{model}" for model in sorted(set(defined_unit_tests().values()))]
    code = dbt.run_dbt(warehouse, ["run", "--empty", "--select", *selection], target)
    assert code == 0, f"dbt run --empty failed (exit {code}); see the dbt log above"
    return warehouse


def test_every_rule_unit_test_passes(parents_built, target):
    defined = defined_unit_tests()
    assert Counter(defined.values()) == EXPECTED_PER_MODEL

    code = dbt.run_dbt(parents_built, ["test", "--select", UNIT_SELECTOR], target)
    ran = unit_test_results(target)

    assert {name: model for name, (model, _, _) in ran.items()} == defined
    failed = {name: message for name, (_, status, message) in ran.items() if status != "pass"}
    assert failed == {}
    assert code == 0
    # unit tests are not data tests: the quality gate's reader leaves them out
    assert dbt.test_results(target) == []


def test_the_month_close_builds_no_unit_test(warehouse, target, caplog):
    """``dbt.build``'s selection keeps every model, seed and data test but no unit test."""

    def listed(*exclude: str) -> dict[str, set[str]]:
        """resource type -> unique ids that ``dbt ls --exclude <exclude>`` selects."""
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=dbt.__name__):
            code = dbt.run_dbt(warehouse, ["ls", "--quiet", "--output", "json", "--output-keys",
                                           "unique_id", "resource_type",
                                           *(["--exclude", *exclude] if exclude else [])], target)
        assert code == 0
        out: dict[str, set[str]] = {}
        for record in caplog.records:
            line = record.getMessage().removeprefix("dbt | ")
            if line.startswith("{"):
                node = json.loads(line)
                out.setdefault(node["resource_type"], set()).add(node["unique_id"])
        return out

    everything = listed()
    month_close = listed(*dbt.BUILD_EXCLUDE)

    assert len(everything["unit_test"]) == sum(EXPECTED_PER_MODEL.values())
    assert "unit_test" not in month_close
    everything.pop("unit_test")
    assert month_close == everything


def test_a_wrong_rule_makes_its_unit_test_fail(parents_built, target):
    """With a new-client hold of 4 months instead of 3, every status unit test must fail.

    Each of them has a client 3 months after its first active month (lost or stabilized
    under the spec's hold of 3, still new under 4). The var given on the command line changes
    the rule the model applies, while the tests' expected rows stay those of the spec.
    """
    status_tests = {n for n, m in defined_unit_tests().items() if m == "int_client_status_monthly"}

    code = dbt.run_dbt(parents_built, ["test", "--select", f"{UNIT_SELECTOR},int_client_status_monthly"],
                       target, vars={"new_hold_months": 4})
    ran = unit_test_results(target)

    assert code == 1  # some node failed (not dbt itself broken, which is > 1)
    assert {name: status for name, (_, status, _) in ran.items()} == dict.fromkeys(status_tests, "fail")
    # dbt's diff names the row: c_late in June, expected lost (and lost this month), got new
    diff = ANSI_ESCAPE.sub("", ran["status_potential_then_new_for_three_months"][2] or "")
    assert "actual differs from expected" in diff
    assert "→,c_late,2024-06-01,lost→new,new,2024-03-01,3,False,False,True→False" in diff.splitlines()
