"""The BI definitions, their rendered Superset bundles, the access rules and the dbt exposures.

No Superset here (tests/test_bi_superset.py imports the bundle into a real one): these check
what can be checked from the files — that the committed bundle is exactly the rendering of
definitions.py, that every dataset column exists in the published contract, that both
languages describe the same objects, that a filter only reaches charts that have its column,
that the access rules deny by default and quote ids, and that dbt parses an exposure per
dashboard with the right lineage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clientbase.bi import access, bundle, definitions
from clientbase.publish.contract import project_manifest

REPO = Path(__file__).resolve().parent.parent
REPORTING_YML = REPO / "dbt_project" / "models" / "reporting" / "_reporting__models.yml"


def contract_columns() -> dict[str, dict[str, str]]:
    """table -> {column: data_type} of the published contract (the dbt reporting models)."""
    models = yaml.safe_load(REPORTING_YML.read_text(encoding="utf-8"))["models"]
    return {m["name"]: {c["name"]: c["data_type"] for c in m["columns"]} for m in models}


def test_definitions_are_consistent():
    assert definitions.validate() == []


def test_the_committed_bundle_is_the_rendering_of_the_definitions():
    """Edit definitions.py and run `python -m clientbase.bi.bundle`; never the YAML by hand."""
    assert bundle.differences() == []
    assert bundle.main(["--check"]) == 0


def test_check_catches_a_hand_edit(tmp_path):
    root = tmp_path / "superset"
    bundle.write(root)
    assert bundle.differences(root) == []
    chart = root / "ru" / "charts" / "scorecard.yaml"
    chart.write_text(chart.read_text(encoding="utf-8").replace("Карта менеджеров", "Правка"), encoding="utf-8")
    (root / "en" / "charts" / "extra.yaml").write_text("slice_name: stray\n", encoding="utf-8")
    problems = bundle.differences(root)
    assert any("scorecard.yaml: differs" in p for p in problems), problems
    assert any("extra.yaml: not rendered" in p for p in problems), problems


def test_physical_datasets_use_only_published_columns_with_their_types():
    """A dataset column that is not in `reporting` would fail only when a chart runs: fail here."""
    contract = contract_columns()
    type_map = {"date": "DATE", "text": "TEXT", "bigint": "BIGINT", "integer": "INTEGER", "numeric": "NUMERIC",
                "boolean": "BOOLEAN"}
    for dataset in definitions.DATASETS.values():
        for table in bundle.reads(dataset):
            assert table in contract, f"{dataset.key} reads {table}, which is not published"
        if dataset.sql is not None:
            continue
        for column in dataset.columns:
            if column.calculated:
                continue
            assert column.name in contract[dataset.table], f"{dataset.key}.{column.name} is not published"
            assert type_map[contract[dataset.table][column.name]] == column.type, f"{dataset.key}.{column.name}"


def test_virtual_datasets_select_published_columns():
    contract = contract_columns()
    for dataset in definitions.DATASETS.values():
        if dataset.sql is None:
            continue
        sources = {c for table in bundle.reads(dataset) for c in contract[table]}
        for column in dataset.columns:
            if column.calculated or column.name in sources:
                continue
            assert f" AS {column.name}" in dataset.sql, f"{dataset.key}.{column.name} comes from nowhere"


def test_both_languages_describe_the_same_objects_with_their_own_labels():
    ru, en = bundle.render("ru"), bundle.render("en")
    assert sorted(ru) == sorted(en)
    for name in ru:
        a, b = yaml.safe_load(ru[name]), yaml.safe_load(en[name])
        assert a.get("uuid") == b.get("uuid"), name
    assert yaml.safe_load(ru["dashboards/client_base.yaml"])["dashboard_title"] == "Клиентская база"
    assert yaml.safe_load(en["dashboards/client_base.yaml"])["dashboard_title"] == "Client base"
    ru_cols = {c["column_name"]: c["verbose_name"]
               for c in yaml.safe_load(ru["datasets/Clientbase_reporting/bi_coverage_total.yaml"])["columns"]}
    assert ru_cols["okb"] == "ОКБ" and ru_cols["stability_3m"] == "Стабильность"
    # the status names too: the same CASE, other words
    ru_status = next(c for c in yaml.safe_load(ru["datasets/Clientbase_reporting/client_status_monthly.yaml"])
                     ["columns"] if c["column_name"] == "status_name")
    assert "'stabilized' THEN 'стабильный'" in ru_status["expression"]


def test_uuids_are_unique_and_stable():
    files = bundle.render("ru")
    uuids = [yaml.safe_load(text)["uuid"] for name, text in files.items() if name != "metadata.yaml"]
    assert len(uuids) == len(set(uuids))
    # derived from the keys, not the titles: relabelling must not orphan the installed objects
    assert yaml.safe_load(files["charts/scorecard.yaml"])["uuid"] == bundle.object_uuid("chart", "scorecard")


def test_every_chart_names_its_dataset_by_uuid_and_has_a_query_context():
    files = bundle.render("ru")
    dataset_uuids = {yaml.safe_load(t)["uuid"] for n, t in files.items() if n.startswith("datasets/")}
    for name, text in files.items():
        if not name.startswith("charts/"):
            continue
        chart = yaml.safe_load(text)
        assert chart["dataset_uuid"] in dataset_uuids, name
        context = json.loads(chart["query_context"])
        assert context["queries"] and context["form_data"]["viz_type"] == chart["viz_type"], name
        if chart["viz_type"] == "table":
            # raw rows: metrics None, or Superset would GROUP BY every column and merge equal rows
            assert context["queries"][0]["metrics"] is None, name


def test_filters_reach_only_charts_that_have_their_column():
    ids = {v: k for k, v in bundle.chart_ids().items()}
    for dashboard in definitions.DASHBOARDS.values():
        assert "month" in dashboard.filters and "manager" in dashboard.filters, dashboard.key
        for name in dashboard.filters:
            inside, outside = bundle.filter_scope(dashboard, name)
            assert sorted(inside + outside) == sorted(bundle.chart_ids()[k] for k in dashboard.chart_keys)
            column = definitions.FILTER_COLUMNS[name]
            for chart_id in inside:
                chart = definitions.CHARTS[ids[chart_id]]
                assert column in definitions.DATASETS[chart.dataset].column_names, (dashboard.key, name, chart.key)
                assert name != "month" or chart.monthly
    coverage = definitions.DASHBOARDS["coverage"]
    assert "territory" in coverage.filters
    inside, _ = bundle.filter_scope(coverage, "territory")
    assert inside == [bundle.chart_ids()["cov_territory"]]
    # the month filter: one month, required, the latest by default, applied before the charts load
    month = yaml.safe_load(bundle.render("ru")["dashboards/visits.yaml"])["metadata"]["native_filter_configuration"][0]
    assert month["controlValues"]["defaultToFirstItem"] and not month["controlValues"]["sortAscending"]
    assert month["requiredFirst"] is True
    # the manager filter offers reps on the rep dashboards, client owners elsewhere
    for key, source in (("visits", "visits"), ("coverage", "coverage_rep"), ("managers", "scorecard"),
                        ("kpi_matrix", "receivables")):
        metadata = yaml.safe_load(bundle.render("ru")[f"dashboards/{key}.yaml"])["metadata"]
        manager = next(f for f in metadata["native_filter_configuration"] if f["id"].endswith("-manager"))
        assert manager["targets"][0]["datasetUuid"] == bundle.object_uuid("dataset", source), key


def test_the_database_entry_holds_no_password():
    text = bundle.render("ru")[bundle.DATABASE_FILE]
    database = yaml.safe_load(text)
    assert database["sqlalchemy_uri"].startswith("postgresql+psycopg2://bi_reader:XXXXXXXXXX@")
    assert database["database_name"] == "Clientbase reporting"
    assert not database["allow_dml"] and not database["allow_file_upload"]


def test_access_denies_by_default_and_filters_each_manager_by_owner_column():
    spec = access.access_spec(["MF", "R1"])
    deny = next(f for f in spec["rls"] if f["filter_type"] == "Base")
    assert deny["clause"] == "1 = 0"
    assert set(deny["roles"]) == {"Admin", access.DIRECTOR_ROLE}  # the roles it does NOT apply to
    assert sorted(deny["dataset_uuids"]) == sorted(bundle.object_uuid("dataset", k) for k in definitions.DATASETS)
    regular = {f["name"]: f for f in spec["rls"] if f["filter_type"] == "Regular"}
    rep_rows = "dimension_value of the rep rows"
    assert set(regular) == {f"clientbase: {m} by {rule}" for m in ("MF", "R1")
                            for rule in ("manager_id", "rep_id", rep_rows)}
    assert regular["clientbase: MF by manager_id"]["clause"] == "manager_id = 'MF'"
    assert regular["clientbase: R1 by rep_id"]["roles"] == ["clientbase_manager_R1"]
    assert all(f["group_key"] == deny["group_key"] for f in spec["rls"])  # ORed with the deny
    by_rep = {bundle.object_uuid("dataset", k) for k in ("visits", "coverage_rep", "retail_audit_rep")}
    assert set(regular["clientbase: R1 by rep_id"]["dataset_uuids"]) == by_rep
    # the long tables: a rep's role sees its rep rows, not the total or the territories
    long_tables = regular[f"clientbase: R1 by {rep_rows}"]
    assert long_tables["clause"] == "dimension = 'rep' AND dimension_value = 'R1'"
    assert set(long_tables["dataset_uuids"]) == {bundle.object_uuid("dataset", k) for k in ("kpi_matrix",
                                                                                             "retail_audit")}
    # receivables by the client's owner: the all-managers row (manager_id NULL) is the director's only
    assert bundle.object_uuid("dataset", "receivables") in regular["clientbase: MF by manager_id"]["dataset_uuids"]
    company_wide = {bundle.object_uuid("dataset", k) for k in ("coverage_territory", "coverage_channel",
                                                                 "coverage_total", "category_coverage")}
    assert not company_wide & {u for f in regular.values() for u in f["dataset_uuids"]}
    assert spec["users"] == []  # no password in the environment: roles only


def test_access_quotes_manager_ids_and_creates_users_only_with_a_password():
    spec = access.access_spec(["O'Brien"], user_password="pw")
    clauses = [f["clause"] for f in spec["rls"] if f["filter_type"] == "Regular"]
    assert "manager_id = 'O''Brien'" in clauses
    assert "dimension = 'rep' AND dimension_value = 'O''Brien'" in clauses
    users = {u["username"]: u["roles"] for u in spec["users"]}
    assert users["o'brien"] == ["Gamma", access.VIEWER_ROLE, "clientbase_manager_O'Brien"]
    assert access.DIRECTOR_ROLE in users["director"]
    assert "pw" not in json.dumps(spec)  # the password goes through the environment only


def test_the_exposures_file_is_the_rendering():
    assert bundle.EXPOSURES_FILE.read_text(encoding="utf-8") == bundle.render_exposures()


def test_dbt_parses_an_exposure_per_dashboard_with_its_tables():
    manifest = json.loads(project_manifest().read_text(encoding="utf-8"))
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert sorted(exposures) == sorted(f"superset_{k}" for k in definitions.DASHBOARDS)
    for key, dashboard in definitions.DASHBOARDS.items():
        exposure = exposures[f"superset_{key}"]
        assert exposure["type"] == "dashboard"
        assert sorted(exposure["depends_on"]["nodes"]) == sorted(
            f"model.clientbase.{t}" for t in bundle.dashboard_tables(dashboard))
        assert exposure["url"].endswith(f"/superset/dashboard/{dashboard.slug}/")


@pytest.mark.parametrize("language", ["de", ""])
def test_an_unknown_language_is_refused(language):
    with pytest.raises(ValueError, match="use one of ru, en"):
        bundle.render(language)


def test_the_docker_stack_imports_the_same_bundle_with_the_same_importer():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    init = compose["services"]["superset-init"]
    assert "./bi/superset:/app/clientbase/bi:ro" in init["volumes"]
    assert "./plugins/clientbase:/app/clientbase/pkg/clientbase:ro" in init["volumes"]
    assert init["environment"]["CLIENTBASE_BI_LANGUAGE"] == "${CLIENTBASE_BI_LANGUAGE:-ru}"
    bootstrap = (REPO / "docker" / "superset" / "bootstrap.sh").read_text(encoding="utf-8")
    assert "python -m clientbase.bi.access --out" in bootstrap
    assert "/app/clientbase/pkg/clientbase/bi/superset_side.py import" in bootstrap
    assert '--bundle "/app/clientbase/bi/${CLIENTBASE_BI_LANGUAGE:-ru}"' in bootstrap
    # the importer runs after the warehouse is registered, and `set -e` stops on its exit 1
    assert bootstrap.index("set_database_uri") < bootstrap.index("superset_side.py import")
    assert "set -euo pipefail" in bootstrap
    config = (REPO / "docker" / "superset" / "superset_config.py").read_text(encoding="utf-8")
    assert "LANGUAGES = {" in config and "BABEL_DEFAULT_LOCALE" in config


def test_clientbase_bi_stop_without_a_server_says_so(capsys):
    from clientbase import cli

    assert cli.main(["bi", "--stop"]) == 0
    assert "no Superset of this CLIENTBASE_HOME was running" in capsys.readouterr().out


def test_clientbase_bi_refuses_an_unknown_language_setting(monkeypatch, capsys):
    from clientbase import cli

    monkeypatch.setenv("CLIENTBASE_BI_LANGUAGE", "de")
    assert cli.main(["bi", "--no-serve"]) == 1
    assert "CLIENTBASE_BI_LANGUAGE='de': use one of ru, en" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["bi", "--language", "de"])


def test_the_kpi_matrix_filters_one_dimension_and_cascade_to_its_values():
    """Матрица КПЭ: one dimension (total by default), its values offered under it, none chosen = all."""
    dashboard = definitions.DASHBOARDS["kpi_matrix"]
    metadata = yaml.safe_load(bundle.render("ru")["dashboards/kpi_matrix.yaml"])["metadata"]
    filters = {f["id"].removeprefix("NATIVE_FILTER-clientbase-"): f for f in metadata["native_filter_configuration"]}
    assert list(filters) == list(dashboard.filters) == ["month", "dimension", "dimension_value", "manager"]
    dimension, value = filters["dimension"], filters["dimension_value"]
    # sorted descending, the first option is `total` (total > territory > rep)
    assert dimension["controlValues"]["defaultToFirstItem"] and not dimension["controlValues"]["multiSelect"]
    assert not dimension["controlValues"]["sortAscending"] and dimension["requiredFirst"]
    assert sorted(["total", "territory", "rep"], reverse=True)[0] == "total"
    assert value["cascadeParentIds"] == ["NATIVE_FILTER-clientbase-dimension"]
    assert value["controlValues"]["multiSelect"] and not value["controlValues"]["enableEmptyFilter"]
    ids = bundle.chart_ids()
    # the dimension reaches the matrix and the shelf over the months, not receivables or the shelf by rep
    inside, _ = bundle.filter_scope(dashboard, "dimension")
    assert sorted(inside) == sorted(ids[k] for k in ("kpi_matrix", "shelf_trend"))
    # the month: the matrix and the shelf by rep; the trends over the months keep every month
    inside, _ = bundle.filter_scope(dashboard, "month")
    assert sorted(inside) == sorted(ids[k] for k in ("kpi_matrix", "shelf_rep"))
    inside, _ = bundle.filter_scope(dashboard, "manager")
    assert sorted(inside) == sorted(ids[k] for k in ("recv_overdue", "recv_discipline", "recv_on_time", "recv_table"))


def test_the_kpi_matrix_names_its_lines_in_both_languages_and_shows_the_all_managers_row():
    seed = REPO / "dbt_project" / "seeds" / "kpi_matrix_metrics.csv"
    codes = [line.split(",")[1] for line in seed.read_text(encoding="utf-8").splitlines()[1:] if line]
    assert len(codes) == 24 and sorted(codes) == sorted(definitions.KPI_LINE_NAMES_EN)
    columns = {lang: {c["column_name"]: c for c in yaml.safe_load(
        bundle.render(lang)["datasets/Clientbase_reporting/kpi_matrix_monthly.yaml"])["columns"]}
        for lang in definitions.LANGUAGES}
    assert columns["ru"]["metric_name"]["expression"] == "metric_name_ru"
    assert "WHEN 'overdue_share' THEN 'Overdue share (PDZ)'" in columns["en"]["metric_name"]["expression"]
    assert columns["ru"]["value_text"]["expression"] == columns["en"]["value_text"]["expression"]
    receivables = {lang: {c["column_name"]: c for c in yaml.safe_load(
        bundle.render(lang)["datasets/Clientbase_reporting/receivables_monthly.yaml"])["columns"]}
        for lang in definitions.LANGUAGES}
    assert receivables["ru"]["manager"]["expression"] == "COALESCE(manager_id, 'Все менеджеры')"
    assert receivables["en"]["manager"]["expression"] == "COALESCE(manager_id, 'All managers')"
    # the percentages of the trends: the y axis in the definitions' share format
    trend = yaml.safe_load(bundle.render("ru")["charts/recv_overdue.yaml"])
    assert trend["params"]["y_axis_format"] == definitions.PERCENT and trend["params"]["groupby"] == ["manager"]
