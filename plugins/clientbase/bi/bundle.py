"""Render the definitions into Superset's import format: one bundle per language.

A bundle is what Superset's "export" produces and ``ImportAssetsCommand`` reads:
``metadata.yaml`` (type ``assets``), ``databases/``, ``datasets/<database>/``, ``charts/``,
``dashboards/``, every object with a UUID. The UUIDs are derived from the object's key
(uuid5), the same in both languages, so importing the English bundle over the Russian one
relabels the same objects instead of adding a second set, and a re-import updates in place.

The database entry names the warehouse role ``bi_reader`` with a masked password and the
docker stack's host; ``superset_side.py`` replaces the URI at import time with the real one
(from the environment), and its password goes in through the importer's ``passwords``, never
into a file.

``python -m clientbase.bi.bundle`` rewrites ``bi/superset/``; ``--check`` fails when the
committed files are not the rendering of the definitions (tests/test_bi_bundle.py runs it).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from clientbase.bi.definitions import (
    CASCADES,
    CHARTS,
    DASHBOARDS,
    DATASETS,
    FILTER_COLUMNS,
    FILTER_TARGETS,
    LANGUAGES,
    SINGLE_FILTERS,
    Chart,
    Dashboard,
    Dataset,
    label,
    metric_label_key,
)

log = logging.getLogger(__name__)

# Fixed: every UUID of the bundle hangs off it. Changing it would orphan installed objects.
NAMESPACE = uuid.UUID("6f1d7c1e-2b0a-4f43-9a57-0c1b1a5e0b11")
DATABASE_NAME = "Clientbase reporting"  # the docker stack registers the warehouse under this name
DATABASE_FILE = "databases/Clientbase_reporting.yaml"
DEFAULT_URI = "postgresql+psycopg2://bi_reader:XXXXXXXXXX@postgres:5432/clientbase"
SCHEMA = "reporting"
VERSION = "1.0.0"
# A fixed timestamp: the bundle must render byte-identical from the same definitions.
TIMESTAMP = "2026-12-01T00:00:00+00:00"
ROW_LIMIT = 10000
REPO_BUNDLE_DIR = Path(__file__).resolve().parents[3] / "bi" / "superset"
EXPOSURES_FILE = Path(__file__).resolve().parents[3] / "dbt_project" / "models" / "reporting" / "_exposures.yml"
# Where `clientbase bi` serves Superset by default (server.py); the exposures link there.
EXPOSURE_BASE_URL = "http://127.0.0.1:8088"


def object_uuid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"clientbase:{kind}:{key}"))


def chart_ids() -> dict[str, int]:
    """Bundle-local chart ids (position ``chartId`` and filter scopes): the importer remaps them."""
    return {key: index for index, key in enumerate(CHARTS, start=1)}


def reads(dataset: Dataset) -> list[str]:
    """The ``reporting`` tables a dataset reads (for the dbt exposures)."""
    if dataset.sql is None:
        return [dataset.table]
    return sorted(set(re.findall(r"reporting\.(\w+)", dataset.sql)))


def dashboard_tables(dashboard: Dashboard) -> list[str]:
    return sorted({table for key in dashboard.chart_keys for table in reads(DATASETS[CHARTS[key].dataset])})


def _database() -> dict[str, Any]:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": DEFAULT_URI,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": {"allows_virtual_table_explore": True, "schema_options": {}},
        "uuid": object_uuid("database", "warehouse"),
        "version": VERSION,
    }


def _dataset(dataset: Dataset, language: str) -> dict[str, Any]:
    columns = []
    for column in dataset.columns:
        expression = column.expression_in(language)
        columns.append({
            "column_name": column.name,
            "verbose_name": label(column.name, language),
            "is_dttm": column.is_dttm,
            "is_active": True,
            "type": column.type,
            "advanced_data_type": None,
            "groupby": True,
            "filterable": True,
            "expression": expression,
            "description": None,
            "python_date_format": None,
            "extra": None,
        })
    metrics = [{
        "metric_name": metric.name,
        "verbose_name": label(metric_label_key(metric.name), language),
        "metric_type": None,
        "expression": metric.expression,
        "description": None,
        "d3format": metric.d3format,
        "currency": None,
        "extra": None,
        "warning_text": None,
    } for metric in dataset.metrics]
    return {
        "table_name": dataset.table,
        "main_dttm_col": "month",
        "description": dataset.description,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": SCHEMA,
        "sql": dataset.sql,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": object_uuid("dataset", dataset.key),
        "metrics": metrics,
        "columns": columns,
        "version": VERSION,
        "database_uuid": object_uuid("database", "warehouse"),
    }


def _month_axis() -> dict[str, Any]:
    return {"columnType": "BASE_AXIS", "expressionType": "SQL", "label": "month", "sqlExpression": "month",
            "timeGrain": "P1M"}


def _query(columns: list[Any], metrics: list[str] | None, orderby: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {
        "filters": [],
        "extras": {"having": "", "where": ""},
        "applied_time_extras": {},
        "columns": columns,
        "metrics": metrics,
        "orderby": orderby,
        "annotation_layers": [],
        "row_limit": ROW_LIMIT,
        "series_limit": 0,
        "order_desc": True,
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
        **extra,
    }


def chart_params(chart: Chart) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chart's form data and the one query its saved query context runs (REST chart data)."""
    common = {"viz_type": None, "datasource": "1__table", "adhoc_filters": [], "extra_form_data": {},
              "dashboards": [], "row_limit": ROW_LIMIT}
    if chart.kind == "table":
        params = {**common, "viz_type": "table", "query_mode": "raw", "all_columns": list(chart.columns),
                  "order_by_cols": [json.dumps([c, True]) for c in chart.order_by], "groupby": [],
                  "metrics": [], "percent_metrics": [], "server_pagination": False, "server_page_length": 10,
                  "include_search": False, "show_cell_bars": chart.cell_bars, "color_pn": True,
                  "table_timestamp_format": "%Y-%m-%d", "allow_rearrange_columns": False,
                  "column_config": {c: {"d3NumberFormat": f} for c, f in chart.formats.items()},
                  "conditional_formatting": []}
        # metrics None, not []: Superset groups by every column as soon as metrics is a list,
        # which would merge identical rows and refuse to order by a column not shown
        query = _query(list(chart.columns), None, [[c, True] for c in chart.order_by])
    elif chart.kind in ("bars", "lines"):
        viz = "echarts_timeseries_bar" if chart.kind == "bars" else "echarts_timeseries_line"
        params = {**common, "viz_type": viz, "x_axis": "month", "time_grain_sqla": "P1M",
                  "metrics": list(chart.metrics), "groupby": list(chart.groupby),
                  "stack": "Stack" if chart.kind == "bars" and chart.groupby else None,
                  "show_legend": True, "legendType": "scroll", "legendOrientation": "top",
                  "rich_tooltip": True, "x_axis_time_format": "%Y-%m",
                  "y_axis_format": chart.formats.get("y_axis", "SMART_NUMBER"),
                  "truncate_metric": True, "order_desc": True, "x_axis_sort_asc": True,
                  "color_scheme": "supersetColors", "markerEnabled": chart.kind == "lines",
                  "only_total": True, "show_empty_columns": True, "annotation_layers": [],
                  "truncateXAxis": True, "y_axis_bounds": [None, None]}
        query = _query([_month_axis(), *chart.groupby], list(chart.metrics), [[chart.metrics[0], False]],
                       time_offsets=[])
    elif chart.kind == "matrix":
        params = {**common, "viz_type": "pivot_table_v2", "groupbyRows": list(chart.rows),
                  "groupbyColumns": list(chart.cols), "metrics": list(chart.metrics),
                  "aggregateFunction": "Sum", "rowTotals": True, "colTotals": True, "valueFormat": "SMART_NUMBER",
                  "metricsLayout": "COLUMNS", "transposePivot": False, "combineMetric": False,
                  "rowOrder": "key_a_to_z", "colOrder": "key_a_to_z", "date_format": "smart_date",
                  "conditional_formatting": []}
        query = _query([*chart.rows, *chart.cols], list(chart.metrics), [[chart.metrics[0], False]])
    else:
        raise ValueError(f"chart {chart.key}: unknown kind {chart.kind!r}")
    return params, query


def _chart(chart: Chart, language: str) -> dict[str, Any]:
    params, query = chart_params(chart)
    query_context = {
        # the importer points the datasource at the dataset it imported for dataset_uuid
        "datasource": {"id": 1, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": {**params, "slice_id": None},
        "result_format": "json",
        "result_type": "full",
    }
    return {
        "slice_name": label(chart.title_key, language),
        "description": None,
        "certified_by": None,
        "certification_details": None,
        "viz_type": params["viz_type"],
        "params": params,
        "query_context": json.dumps(query_context, ensure_ascii=False, sort_keys=True),
        "cache_timeout": None,
        "uuid": object_uuid("chart", chart.key),
        "version": VERSION,
        "dataset_uuid": object_uuid("dataset", chart.dataset),
    }


def filter_scope(dashboard: Dashboard, name: str) -> tuple[list[int], list[int]]:
    """(charts in scope, charts excluded) of a native filter, by bundle-local chart id.

    A filter applies to a chart whose dataset has the filter's column; the month filter also
    skips the trends over the months (``monthly=False``), the territory filter every chart
    but coverage by territory.
    """
    ids = chart_ids()
    column = FILTER_COLUMNS[name]
    inside, outside = [], []
    for key in dashboard.chart_keys:
        chart = CHARTS[key]
        applies = column in DATASETS[chart.dataset].column_names and (name != "month" or chart.monthly)
        (inside if applies else outside).append(ids[key])
    return inside, outside


def _native_filter(dashboard: Dashboard, name: str, language: str) -> dict[str, Any]:
    dataset_key, column = FILTER_TARGETS[name]
    if name == "manager":
        dataset_key = dashboard.manager_source
    inside, outside = filter_scope(dashboard, name)
    single = name in SINGLE_FILTERS
    parent = CASCADES.get(name)
    return {
        "id": f"NATIVE_FILTER-clientbase-{name}",
        "name": label(f"filter_{name}", language),
        "type": "NATIVE_FILTER",
        "filterType": "filter_select",
        "description": "",
        "targets": [{"column": {"name": column}, "datasetUuid": object_uuid("dataset", dataset_key)}],
        "controlValues": {
            # the month (the dimension): one, required, the latest (`total`) by default (options
            # sorted descending)
            "enableEmptyFilter": single,
            "defaultToFirstItem": single,
            "multiSelect": not single,
            "searchAllOptions": False,
            "inverseSelection": False,
            "sortAscending": not single,
        },
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
        # the charts wait for the filter's first value (as the filter editor saves defaultToFirstItem);
        # without it the dashboard loads every month once and the filter shows a month not applied
        "requiredFirst": single,
        "cascadeParentIds": [f"NATIVE_FILTER-clientbase-{parent}"] if parent else [],
        "scope": {"rootPath": ["ROOT_ID"], "excluded": outside},
        "chartsInScope": inside,
        "tabsInScope": [],
    }


def _position(dashboard: Dashboard, language: str) -> dict[str, Any]:
    ids = chart_ids()
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": label(dashboard.title_key, language)}},
    }
    for number, row in enumerate(dashboard.layout, start=1):
        row_id = f"ROW-{dashboard.key}-{number}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                            "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for key, width in row:
            chart = CHARTS[key]
            chart_id = f"CHART-{key}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {
                "type": "CHART", "id": chart_id, "children": [], "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {"chartId": ids[key], "uuid": object_uuid("chart", key), "width": width,
                         "height": chart.height, "sliceName": label(chart.title_key, language)},
            }
    return position


def _dashboard(dashboard: Dashboard, language: str) -> dict[str, Any]:
    return {
        "dashboard_title": label(dashboard.title_key, language),
        "description": None,
        "css": "",
        "slug": dashboard.slug,
        "certified_by": "",
        "certification_details": "",
        "published": True,
        "uuid": object_uuid("dashboard", dashboard.key),
        "position": _position(dashboard, language),
        "metadata": {
            "native_filter_configuration": [_native_filter(dashboard, name, language) for name in dashboard.filters],
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "label_colors": {},
            "shared_label_colors": [],
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": False,
            "default_filters": "{}",
            "chart_configuration": {},
            "global_chart_configuration": {"scope": {"rootPath": ["ROOT_ID"], "excluded": []}, "chartsInScope": []},
        },
        "version": VERSION,
    }


def render_exposures() -> str:
    """dbt exposures, one per dashboard, so the dbt docs' lineage reaches the BI side."""
    exposures = []
    for dashboard in DASHBOARDS.values():
        charts = [label(CHARTS[key].title_key, "en") for key in dashboard.chart_keys]
        exposures.append({
            "name": f"superset_{dashboard.key}",
            "label": f"{label(dashboard.title_key, 'ru')} ({label(dashboard.title_key, 'en')})",
            "type": "dashboard",
            "maturity": "medium",
            "url": f"{EXPOSURE_BASE_URL}/superset/dashboard/{dashboard.slug}/",
            "description": (f"Superset dashboard `{dashboard.slug}` (bi/superset/, rendered from "
                            f"plugins/clientbase/bi/definitions.py): " + "; ".join(charts) + "."),
            "depends_on": [f"ref('{table}')" for table in dashboard_tables(dashboard)],
            "owner": {"name": "clientbase BI", "email": "bi@clientbase.invalid"},
        })
    header = ("# Generated by `python -m clientbase.bi.bundle` from plugins/clientbase/bi/definitions.py:\n"
              "# edit the definitions, not this file (tests/test_bi_bundle.py checks they agree).\n")
    return header + yaml.safe_dump({"version": 2, "exposures": exposures}, allow_unicode=True, sort_keys=False,
                                   width=100)


def render(language: str) -> dict[str, str]:
    """The bundle of ``language`` as {path inside the bundle: YAML text}."""
    if language not in LANGUAGES:
        raise ValueError(f"BI language {language!r}: use one of {', '.join(LANGUAGES)}")

    def dump(data: dict[str, Any]) -> str:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=True, width=100)

    files = {"metadata.yaml": dump({"version": VERSION, "type": "assets", "timestamp": TIMESTAMP}),
             DATABASE_FILE: dump(_database())}
    for dataset in DATASETS.values():
        files[f"datasets/Clientbase_reporting/{dataset.table}.yaml"] = dump(_dataset(dataset, language))
    for chart in CHARTS.values():
        files[f"charts/{chart.key}.yaml"] = dump(_chart(chart, language))
    for dashboard in DASHBOARDS.values():
        files[f"dashboards/{dashboard.key}.yaml"] = dump(_dashboard(dashboard, language))
    return files


def write(root: Path = REPO_BUNDLE_DIR) -> list[Path]:
    """(Re)write every language's bundle under ``root/<language>/``; stale files are removed."""
    written = []
    for language in LANGUAGES:
        target = root / language
        if target.exists():
            shutil.rmtree(target)
        for name, text in render(language).items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    EXPOSURES_FILE.write_text(render_exposures(), encoding="utf-8")
    written.append(EXPOSURES_FILE)
    return written


def differences(root: Path = REPO_BUNDLE_DIR) -> list[str]:
    """Files under ``root`` that are not the rendering of the definitions (missing, stale, extra)."""
    problems = []
    for language in LANGUAGES:
        expected = render(language)
        target = root / language
        present = {p.relative_to(target).as_posix() for p in target.rglob("*.yaml")} if target.is_dir() else set()
        for name in sorted(set(expected) | present):
            path = target / name
            if name not in expected:
                problems.append(f"{path}: not rendered from the definitions (remove it)")
            elif name not in present:
                problems.append(f"{path}: missing")
            elif path.read_text(encoding="utf-8") != expected[name]:
                problems.append(f"{path}: differs from the definitions")
    if root == REPO_BUNDLE_DIR and (not EXPOSURES_FILE.exists()
                                    or EXPOSURES_FILE.read_text(encoding="utf-8") != render_exposures()):
        problems.append(f"{EXPOSURES_FILE}: not the rendering of the definitions")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clientbase.bi.bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if bi/superset/ is not the rendering")
    parser.add_argument("--root", type=Path, default=REPO_BUNDLE_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        problems = differences(args.root)
        for problem in problems:
            log.error(problem)
        if problems:
            log.error("run `python -m clientbase.bi.bundle` to re-render bi/superset/ from definitions.py")
        return 1 if problems else 0
    log.info("wrote %d files under %s", len(write(args.root)), args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
