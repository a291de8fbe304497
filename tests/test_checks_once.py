"""Every check is written once: in a GX suite (source contracts) or in dbt (everything built).

The GX suites check the incoming datasets on their staging views and the shipment volume;
dbt tests check the models and the published tables. A check stated in both would be two
texts to keep in step (and two gate lines for one fault), so this test compares the
(model, columns, kind) of every GX expectation with those of every dbt test in the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clientbase.quality import expectations as qx
from clientbase.transform import dbt

SUITES_DIR = Path(__file__).resolve().parents[1] / "expectations"
# GX expectation type -> the dbt test that would state the same thing
GX_TO_DBT = {
    "expect_column_values_to_not_be_null": "not_null",
    "expect_column_values_to_be_unique": "unique",
    "expect_compound_columns_to_be_unique": "unique",  # unique_combination_of_columns
    "expect_column_values_to_be_in_set": "accepted_values",
    "expect_column_values_to_be_between": "value_between",
    "expect_table_row_count_to_be_between": "at_least_one_row",
}
DBT_KINDS = {"unique_combination_of_columns": "unique", "expression_is_true": None}


@pytest.fixture(scope="module")
def manifest(warehouse, tmp_path_factory) -> dict:
    """The dbt project as parsed (no build needed: tests and models are in the manifest)."""
    target = tmp_path_factory.mktemp("dbt-parse")
    assert dbt.run_dbt(warehouse, ["parse"], target) == 0
    return json.loads((target / "manifest.json").read_text())


def gx_checks() -> set[tuple[str, frozenset, str]]:
    """(model, columns, kind) of every GX expectation; references as dbt ``relationships``."""
    keys = set()
    for suite in qx.load_suites(SUITES_DIR):
        for spec in suite.expectations:
            label = spec.meta.get("label", "")
            if spec.type in GX_TO_DBT:
                columns = spec.kwargs.get("column_list") or (
                    [spec.kwargs["column"]] if "column" in spec.kwargs else [])
                keys.add((suite.model, frozenset(columns), GX_TO_DBT[spec.type]))
            elif label.endswith("_known"):  # unexpected_rows_expectation(<column>_known)
                keys.add((suite.model, frozenset([label.removesuffix("_known")]), "relationships"))
    return keys


def dbt_checks(manifest: dict) -> set[tuple[str, frozenset, str]]:
    """(model, columns, kind) of every generic dbt test attached to a model."""
    keys = set()
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata")
        attached = node.get("attached_node") or ""
        if node["resource_type"] != "test" or not meta or not attached.startswith("model."):
            continue
        kwargs = meta.get("kwargs") or {}
        columns = kwargs.get("combination_of_columns") or (
            [kwargs["column_name"]] if kwargs.get("column_name") else [])
        kind = DBT_KINDS.get(meta["name"], meta["name"])
        if kind:
            keys.add((attached.split(".")[-1], frozenset(columns), kind))
    return keys


def test_no_check_is_stated_both_in_gx_and_in_dbt(manifest):
    gx, dbt_side = gx_checks(), dbt_checks(manifest)
    # both sides are read (the comparison is not vacuous)
    assert ("stg_shipments", frozenset({"doc_id", "line_no"}), "unique") in gx
    assert ("stg_shipments", frozenset({"client_id"}), "relationships") in gx
    assert ("client_status_monthly", frozenset({"month", "client_id"}), "unique") in dbt_side
    assert ("client_status_monthly", frozenset({"client_id"}), "relationships") in dbt_side
    assert sorted(gx & dbt_side, key=str) == []


def test_no_suite_targets_a_model_dbt_checks_downstream(manifest):
    """GX reads only the staging views: the published tables (and marts) are dbt's to check."""
    models = {node["name"]: node for node in manifest["nodes"].values()
              if node["resource_type"] == "model"}
    for suite in qx.load_suites(SUITES_DIR):
        for model in suite.models:
            assert model in models, (suite.name, model)
            assert models[model]["fqn"][1] == "staging", (suite.name, model)


def test_every_reporting_model_has_an_enforced_contract_with_every_type(manifest):
    """The BI contract: dbt fails the build on a renamed or missing column or a type change."""
    reporting = [n for n in manifest["nodes"].values()
                 if n["resource_type"] == "model" and n["fqn"][1] == "reporting"]
    # metrics.md §7: the eleven tables (§8 receivables, §9 retail audits, §10 the matrix), and issue 13's two
    assert len(reporting) == 13
    for node in reporting:
        assert node["config"]["contract"]["enforced"] is True, node["name"]
        untyped = [c for c, spec in node["columns"].items() if not spec.get("data_type")]
        assert untyped == [], node["name"]
