"""Compare published reporting tables with a scenario's expected CSVs, row by row."""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
from decimal import Decimal
from pathlib import Path

import psycopg

# table -> (key columns, count columns whose all-zero rows may be absent on either side)
TABLE_KEYS = {
    "client_status_monthly": (("month", "client_id"), ()),
    "status_summary_monthly": (("month", "manager_id", "status"), ("clients",)),
    "status_flow_monthly": (("month", "from_status", "to_status"), ("clients",)),
    "coverage_monthly": (("month", "dimension", "dimension_value"), ("okb", "pakb", "akb", "akb_3m", "stable_akb_3m")),
    "category_coverage_monthly": (("month", "category"), ("category_akb",)),
    "visits_monthly": (("month", "rep_id"), ("planned_visits", "actual_visits", "orders", "effective_orders")),
    "manager_scorecard_monthly": (("month", "manager_id"), ()),
    "rotation_candidates": (("month", "client_id"), ()),
    "receivables_monthly": (("month", "manager_id"), ("receivables", "overdue_receivables", "overdue_clients",
                                                       "planned_payments", "payments", "paid_on_time")),
    "retail_audit_monthly": (("month", "dimension", "dimension_value"),
                             ("audited_points", "planogram_points", "mml_present")),
    "kpi_matrix_monthly": (("month", "dimension", "dimension_value", "metric_no"), ()),
}


def norm(value) -> object:
    """One representation per value: None, 'true'/'false', float, or text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    text = str(value).strip()
    if text == "":
        return None
    if text in ("True", "False", "true", "false"):
        return text.lower()
    try:
        return float(text)
    except ValueError:
        return text


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def compare_table(url: str, table: str, expected_csv: Path, schema: str = "reporting") -> list[str]:
    """Differences between ``<schema>.<table>`` and the CSV; empty when every row is equal."""
    keys, counts = TABLE_KEYS[table]
    with open(expected_csv, newline="", encoding="utf-8") as handle:
        expected_rows = list(csv.DictReader(handle))
    columns = list(expected_rows[0].keys()) if expected_rows else list(keys)
    with psycopg.connect(url) as conn:
        cur = conn.execute(f"select {', '.join(columns)} from {schema}.{table}")
        actual_rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]

    def index(rows):
        out = {}
        for row in rows:
            key = tuple(norm(row[k]) for k in keys)
            assert key not in out, f"{table}: duplicate key {key}"
            out[key] = {c: norm(row[c]) for c in columns}
        return out

    expected, actual = index(expected_rows), index(actual_rows)

    def all_zero(row) -> bool:
        return bool(counts) and all(row[c] in (0.0, None) for c in counts)

    problems = []
    for key in sorted(set(expected) | set(actual), key=str):
        exp, act = expected.get(key), actual.get(key)
        if exp is None:
            if not all_zero(act):
                problems.append(f"{table} {key}: unexpected row {act}")
        elif act is None:
            if not all_zero(exp):
                problems.append(f"{table} {key}: missing row, expected {exp}")
        else:
            diffs = {c: (exp[c], act[c]) for c in columns if not same(exp[c], act[c])}
            if diffs:
                problems.append(f"{table} {key}: (expected, published) {diffs}")
    return problems


def publish_scenario(url: str, scenario_dir: Path, tmp_path_factory, first: str, last: str) -> str:
    """A scenario's landing/ loaded into an empty warehouse and published for ``first`` … ``last``
    (YYYY-MM) through the real ``clientbase run``; returns the warehouse URL."""
    from clientbase import cli
    from conftest import reset_warehouse

    reset_warehouse(url)
    landing = tmp_path_factory.mktemp(scenario_dir.name) / "landing"
    shutil.copytree(scenario_dir / "landing", landing)
    assert cli.main(["run", "--landing", str(landing), "--from", first, "--to", last]) == 0
    return url
