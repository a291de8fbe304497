"""The dbt project on its own: documentation of every column, per-run thresholds.

Built once from the status_rules landing without Airflow (the same functions the DAG
tasks call), so these tests do not depend on the order of other modules.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
import yaml

from clientbase.contract import DATASETS
from clientbase.extract.run import Sources, extract_datasets
from clientbase.settings import load_settings
from clientbase.transform import dbt
from conftest import SCENARIOS, build_like_the_month_close, reset_warehouse

DBT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
# models/<folder> -> schema, as dbt_project.yml configures them
FOLDER_SCHEMAS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts",
                  "reporting": "reporting_stage"}


@pytest.fixture(scope="module")
def built(warehouse, tmp_path_factory) -> tuple[str, Path]:
    url = warehouse
    reset_warehouse(url)
    landing = tmp_path_factory.mktemp("dbt_models") / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)
    extract_datasets(url, tuple(DATASETS), Sources(landing_dir=landing))
    target = tmp_path_factory.mktemp("dbt_target")
    build_like_the_month_close(url, "2024-12-01", target)
    return url, target


def documented_models() -> dict[str, tuple[str, dict]]:
    """model -> (folder, its yml entry) for every model of the project."""
    out = {}
    for folder in FOLDER_SCHEMAS:
        for path in (DBT_DIR / "models" / folder).glob("*.yml"):
            for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
                out[model["name"]] = (folder, model)
    return out


def test_every_model_has_a_yml_entry():
    documented = documented_models()
    sql_models = {p.stem: p.parent.name for p in (DBT_DIR / "models").rglob("*.sql")}
    assert sorted(set(sql_models) - set(documented)) == []
    assert sorted(set(documented) - set(sql_models)) == []
    assert {m: f for m, (f, _) in documented.items()} == sql_models


def test_every_column_is_described_and_exists(built):
    """The yml lists exactly the columns each relation has, each with a description."""
    url, _ = built
    problems = []
    with psycopg.connect(url) as conn:
        for name, (folder, model) in sorted(documented_models().items()):
            if not (model.get("description") or "").strip():
                problems.append(f"{name}: no description")
            actual = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s "
                "and table_name = %s order by ordinal_position", (FOLDER_SCHEMAS[folder], name))]
            if not actual:
                problems.append(f"{name}: not built in {FOLDER_SCHEMAS[folder]}")
                continue
            described = {c["name"]: (c.get("description") or "").strip() for c in model.get("columns", [])}
            hidden = {"_batch_id"} if folder == "staging" else set()
            for column in actual:
                if column not in described and column not in hidden:
                    problems.append(f"{name}.{column}: not in the yml")
                elif column in described and not described[column]:
                    problems.append(f"{name}.{column}: no description")
            for column in described:
                if column not in actual:
                    problems.append(f"{name}.{column}: described but the relation has no such column")
    assert problems == [], "\n".join(problems)


def test_reporting_tables_carry_the_contract_columns(built):
    """metrics.md §7: every published table has the columns and types of its dbt contract.

    The contract (``contract: {enforced: true}`` and each column's ``data_type`` in
    ``_reporting__models.yml``) is read from the build's manifest: dbt refuses to build a
    table that breaks it, so the built tables must carry exactly those columns and types,
    and the key columns of metrics.md §7 must be among them.
    """
    import json

    from conftest import PUBLISHED_TABLES

    url, target = built
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    contracts = {n["name"]: {c: spec["data_type"] for c, spec in n["columns"].items()}
                 for n in nodes.values()
                 if n["resource_type"] == "model" and n["config"]["contract"]["enforced"]}
    assert sorted(PUBLISHED_TABLES) == sorted(contracts)
    spec_keys = {  # metrics.md §7 (names are the BI contract)
        "client_status_monthly": "month, client_id, manager_id, status, is_new_this_month, "
                                 "is_returned_this_month, is_lost_this_month, months_inactive, "
                                 "revenue, margin, abc_class, receivables, overdue_receivables",
        "status_summary_monthly": "month, manager_id, status, clients, share, plan_share, on_plan",
        "status_flow_monthly": "month, from_status, to_status, clients",
        "coverage_monthly": "month, dimension, dimension_value, okb, pakb, akb, coverage_pakb, "
                            "coverage_okb, akb_3m, stable_akb_3m, stability_3m",
        "category_coverage_monthly": "month, category, category_akb, akb, category_coverage",
        "visits_monthly": "month, rep_id, planned_visits, actual_visits, orders, effective_orders, "
                          "visit_effectiveness, kpd_effectiveness, stt_3m, stt_share",
        "manager_scorecard_monthly": "month, manager_id, role, clients, active_clients, overloaded, "
                                     "rotation_candidates, new_clients, returned_clients, "
                                     "handover_candidates, handed_over_3m, handover_target, on_plan, "
                                     "revenue, margin, receivables, overdue_share",
        "rotation_candidates": "month, client_id, manager_id, last_shipment_date, months_inactive, "
                               "revenue_12m",
        "retail_audit_monthly": "month, dimension, dimension_value, audited_points, planogram_points, "
                                "planogram_coverage, mml_skus, mml_present, distribution_coefficient",
        "receivables_monthly": "month, manager_id, receivables, overdue_receivables, overdue_share, "
                               "overdue_clients, planned_payments, payments, payment_discipline, "
                               "paid_on_time, on_time_share",
        "kpi_matrix_monthly": "month, dimension, dimension_value, metric_no, metric_code, metric_name_ru, "
                              "unit, value",
        # issue 13 (the columns it names)
        "churn_risk_monthly": "month, client_id, manager_id, status, p_lost_3m, risk_rank, reasons, "
                              "model_version",
        "rotation_outcomes_monthly": "month, candidate_month, candidates, rotated, rotated_active_again, "
                                     "rotated_active_again_share, stayed, stayed_active_again, "
                                     "stayed_active_again_share",
    }
    with psycopg.connect(url) as conn:
        for table, contract in contracts.items():
            missing = [c for c in spec_keys[table].split(", ") if c not in contract]
            assert missing == [], f"{table}: the contract lacks {missing}"
            assert contract["month"] == "date", table
            actual = dict(conn.execute(
                "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
                "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped "
                "order by a.attnum", (f"reporting_stage.{table}",)).fetchall())
            assert actual == contract, table


def test_thresholds_are_overridable_per_run(built, tmp_path):
    """A dbt var given for one run changes the figures; the next run is back to the defaults."""
    url, _ = built

    def category_akb() -> int:
        with psycopg.connect(url) as conn:
            return conn.execute("select sum(category_akb) from reporting_stage.category_coverage_monthly").fetchone()[0]

    def rotation() -> int:
        with psycopg.connect(url) as conn:
            return conn.execute("select count(*) from reporting_stage.rotation_candidates").fetchone()[0]

    default_category, default_rotation = category_akb(), rotation()
    assert default_category == 0  # status_rules points buy one SKU: never 3 of a category
    dbt.build(url, "2024-12-01", tmp_path / "a", overrides={"category_min_skus": 1, "rotation_after_months": 6})
    assert category_akb() > 0
    assert 0 < rotation() < default_rotation
    dbt.build(url, "2024-12-01", tmp_path / "b")
    assert (category_akb(), rotation()) == (default_category, default_rotation)


def test_an_unknown_threshold_is_refused_before_building():
    with pytest.raises(ValueError, match="unknown threshold.*stt_treshold.*stt_threshold"):
        dbt.check_overrides({"stt_treshold": 0.5})


def test_every_threshold_is_listed_in_the_readme():
    """The README's configuration table names every dbt var with its default."""
    readme = (DBT_DIR.parent / "README.md").read_text(encoding="utf-8")
    missing = [name for name in dbt.project_vars(load_settings()) if f"`{name}`" not in readme]
    assert missing == []
