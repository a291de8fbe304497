"""The dashboards in a real Superset, served on 127.0.0.1, opened in a real headless Chromium.

The receivables_audits golden scenario (managers, reps, visits and costs like field_ops, plus
invoices, payments and retail audits, so the Матрица КПЭ's receivables and shelf have data) is
published for 2024-01 … 2024-05 (May: a client two months without shipments, so the rotation
list of the latest month is not empty) into the test warehouse; `server.provision` (what
`clientbase bi` runs) installs Superset into its own venv if needed (CLIENTBASE_SUPERSET_VENV,
default .venv-superset; `.ci/run` installs it once), initialises its SQLite metadata in a
temporary folder, registers the warehouse as bi_reader, imports the Russian bundle with the
manager roles and row-level security, and serves it on a free port. Then:

* the import is idempotent (twice, and in the other language: the same objects, relabelled),
  and a bundle Superset refuses fails loudly instead of exiting 0 like `import-directory`;
* Chromium logs in and every chart of every dashboard renders data, none an error
  (screenshots in CLIENTBASE_BI_SCREENSHOTS or the test's temporary folder);
* every chart's data read through the REST API agrees with `reporting` queried directly;
* a manager's login gets only their own rows through the chart-data API, the director's all.

If Superset cannot be installed or started the tests fail with Superset's own message.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import shutil
import socket
import subprocess
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import yaml

from clientbase.bi import access, browser, bundle, definitions, server
from clientbase.bi.client import SupersetClient
from scenario_compare import publish_scenario

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "tests" / "scenarios" / "receivables_audits"
ADMIN_PASSWORD = "admin-test-password"
USER_PASSWORD = "manager-test-password"
STATUS_CODES = {names[0]: code for code, names in definitions.STATUS_LABELS.items()}  # Russian name -> code

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((server.HOST, 0))
        return sock.getsockname()[1]


def month_of(value) -> dt.date:
    """A month as the chart-data API returns it (epoch milliseconds) or as text."""
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).date()
    return dt.date.fromisoformat(str(value)[:10])


@pytest.fixture(scope="module")
def published(airflow_ready, tmp_path_factory) -> str:
    return publish_scenario(airflow_ready, SCENARIO, tmp_path_factory, "2024-01", "2024-05")


@pytest.fixture(scope="module")
def superset(published, tmp_path_factory):
    home = tmp_path_factory.mktemp("superset-home")
    venv = Path(os.environ.get("CLIENTBASE_SUPERSET_VENV") or REPO / ".venv-superset")
    settings = server.BiSettings(venv=venv, home=home, language="ru", port=free_port(),
                                 admin_password=ADMIN_PASSWORD, secret_key="test-secret-key-" + "x" * 32,
                                 bi_reader_password="bi-reader-test-password", user_password=USER_PASSWORD)
    try:
        result = server.provision(settings, published)
    except server.BiError as exc:
        pytest.fail(f"Superset could not be set up for the BI tests: {exc}")
    yield settings, result
    server.stop(settings)


@pytest.fixture(scope="module")
def director(superset) -> SupersetClient:
    settings, _ = superset
    return SupersetClient(settings.url, "director", USER_PASSWORD)


def chart_ids_by_key(client: SupersetClient) -> dict[str, int]:
    by_uuid = {c["uuid"]: c["id"] for c in client.charts()}
    return {key: by_uuid[bundle.object_uuid("chart", key)] for key in definitions.CHARTS
            if bundle.object_uuid("chart", key) in by_uuid}


def value_text(unit: str, value: decimal.Decimal | None) -> str:
    """The matrix's value as the dashboard shows it, formatted here in Python (not the SQL's copy)."""
    if value is None:
        return "—"
    if unit == "share":
        return f"{(value * 100).quantize(decimal.Decimal('0.1'), rounding=decimal.ROUND_HALF_UP)}%"
    whole = int(value.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))
    return f"{whole:,}".replace(",", " ")


def close(a: float | None, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_provisioning_registered_everything_once(superset):
    _, result = superset
    summary = result.summary
    for kind in ("databases", "datasets", "charts", "dashboards"):
        assert summary[f"bundle_{kind}_found"] == summary[f"bundle_{kind}"] == summary[kind], (kind, summary)
    assert summary["bundle_dashboards"] == len(definitions.DASHBOARDS)
    assert summary["bundle_charts"] == len(definitions.CHARTS)
    assert result.managers == ["MF", "MH", "R1", "R2", "R3"]
    assert summary["manager_roles"] == 5 and summary["users"] == 6  # five managers and the director


def test_import_is_idempotent_and_switches_language_in_place(superset, director, published):
    settings, result = superset
    spec = access.access_spec(result.managers, USER_PASSWORD)
    uri = server.ensure_bi_reader(settings, published)
    before = {k: v for k, v in result.summary.items() if not k.startswith("bundle")}
    again = server.import_bundle(settings, uri, spec)
    english = server.import_bundle(settings, uri, spec, bundle.REPO_BUNDLE_DIR / "en")
    titles_en = {d["slug"]: d["dashboard_title"] for d in director.dashboards()}
    back = server.import_bundle(settings, uri, spec)
    titles_ru = {d["slug"]: d["dashboard_title"] for d in director.dashboards()}
    for summary in (again, english, back):
        assert {k: v for k, v in summary.items() if not k.startswith("bundle")} == before
    assert titles_en["client-base"] == "Client base" and titles_ru["client-base"] == "Клиентская база"
    assert titles_ru["coverage"] == "Покрытие" and titles_ru["visits"] == "Визиты"
    assert titles_ru["managers"] == "Менеджеры" and titles_ru["kpi-matrix"] == "Матрица КПЭ"
    assert titles_en["kpi-matrix"] == "KPI matrix"


def test_a_bundle_superset_refuses_fails_loudly(superset, tmp_path):
    """`superset import-directory` would exit 0 here; our import exits 1 and imports nothing."""
    settings, result = superset
    broken = tmp_path / "broken"
    shutil.copytree(bundle.REPO_BUNDLE_DIR / "ru", broken)
    chart = broken / "charts" / "scorecard.yaml"
    config = yaml.safe_load(chart.read_text(encoding="utf-8"))
    config["slice_name"] = "renamed, but the file is invalid"
    config["viz_type"] = None  # the chart schema requires a viz_type
    chart.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    run = subprocess.run([str(settings.python), str(server.SUPERSET_SIDE), "import", "--bundle", str(broken)],
                         env=server.superset_env(settings), capture_output=True, text=True)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Superset refused the bundle" in run.stderr and "viz_type" in run.stderr
    admin = SupersetClient(settings.url, settings.admin_username, ADMIN_PASSWORD)
    names = {c["slice_name"] for c in admin.charts()}
    assert "renamed, but the file is invalid" not in names and "Карта менеджеров" in names


def test_every_dashboard_renders_data_in_a_real_browser(superset, tmp_path):
    settings, _ = superset
    out = Path(os.environ.get("CLIENTBASE_BI_SCREENSHOTS") or tmp_path / "screenshots")
    shots = browser.check_dashboards(settings.url, settings.admin_username, ADMIN_PASSWORD, out)
    assert [s.slug for s in shots] == [d.slug for d in definitions.DASHBOARDS.values()]
    for shot in shots:
        assert shot.problems == [], f"{shot.slug}: {shot.problems}"
        assert shot.charts == shot.expected_charts == shot.charts_with_data
        assert shot.path.is_file() and shot.path.stat().st_size > 20_000, shot.path
    titles = {s.title for shot in shots for s in shot.charts_state}
    assert {definitions.label(c.title_key, "ru") for c in definitions.CHARTS.values()} == titles


def test_chart_data_through_the_api_agrees_with_reporting(superset, director, published):
    ids = chart_ids_by_key(director)
    assert sorted(ids) == sorted(definitions.CHARTS)
    data = {key: director.chart_data(chart_id) for key, chart_id in ids.items()}
    assert all(data.values()), [k for k, rows in data.items() if not rows]
    url = published

    # scorecard: every row, and the clients per manager and month
    scorecard = Counter()
    for row in data["scorecard"]:
        scorecard[row["manager_id"]] += row["clients"]
    expected = dict(query(url, "select manager_id, sum(clients)::int from reporting.manager_scorecard_monthly "
                               "group by 1"))
    assert dict(scorecard) == expected
    # clients by status per month: the chart counts client rows
    trend = Counter()
    for row in data["status_trend"]:
        trend[(month_of(row["month"]), STATUS_CODES[row["status_name"]])] += row["client_count"]
    assert dict(trend) == dict(((m, s), n) for m, s, n in query(
        url, "select month, status, count(*)::int from reporting.client_status_monthly group by 1, 2"))
    # the status flow by owner adds up to the published status_flow_monthly, cell by cell
    flow = Counter()
    for row in data["status_flow"]:
        flow[(STATUS_CODES[row["from_status_name"]], STATUS_CODES[row["to_status_name"]])] += row["clients_sum"]
    assert dict(flow) == dict(((f, t), n) for f, t, n in query(
        url, "select from_status, to_status, sum(clients)::int from reporting.status_flow_monthly group by 1, 2"))
    # events per month
    events = {month_of(r["month"]): (r["new_events"], r["returned_events"], r["lost_events"]) for r in data["events"]}
    assert events == {m: (n, r, lo) for m, n, r, lo in query(
        url, "select month, count(*) filter (where is_new_this_month)::int, "
             "count(*) filter (where is_returned_this_month)::int, count(*) filter (where is_lost_this_month)::int "
             "from reporting.client_status_monthly group by 1")}
    # coverage by territory, rep and channel: the same rows as coverage_monthly
    for key, dimension, column in (("cov_territory", "territory", "territory"), ("cov_rep", "rep", "rep_id"),
                                   ("cov_channel", "channel", "channel")):
        got = Counter((r[column], r["okb"], r["akb"], r["stable_akb_3m"]) for r in data[key])
        want = Counter(query(url, "select dimension_value, okb, akb, stable_akb_3m from reporting.coverage_monthly "
                                  "where dimension = %s", dimension))
        assert got == want, key
    stability = {month_of(r["month"]): (r["akb_sum"], r["stable_akb_sum"]) for r in data["cov_stability"]}
    assert stability == {m: (a, s) for m, a, s in query(
        url, "select month, akb::int, stable_akb_3m::int from reporting.coverage_monthly where dimension = 'total'")}
    # visits: planned and actual per month, and the rep table row for row
    planned = {month_of(r["month"]): (r["planned_sum"], r["actual_sum"]) for r in data["visits_trend"]}
    assert planned == {m: (p, a) for m, p, a in query(
        url, "select month, sum(planned_visits)::int, sum(actual_visits)::int from reporting.visits_monthly "
             "group by 1")}
    assert len(data["visits_reps"]) == query(url, "select count(*) from reporting.visits_monthly")[0][0]
    # rotation list and category АКБ: every published row
    assert Counter((r["client_id"], r["revenue_12m"]) for r in data["rotation"]) == Counter(
        (c, float(v)) for c, v in query(url, "select client_id, revenue_12m from reporting.rotation_candidates"))
    # churn risk (issue 13): every client of the base of every month, with its probability (the
    # scenario's 5 months are too few for a model: NULL, still listed); rotation outcomes: every row
    assert Counter((r["client_id"], r["p_lost_3m"], r["on_call_list"]) for r in data["call_list"]) == Counter(
        (c, None if p is None else float(p), on) for c, p, on in query(
            url, "select client_id, p_lost_3m, on_call_list from reporting.churn_risk_monthly"))
    assert Counter((r["candidates"], r["rotated"], r["stayed"]) for r in data["rotation_outcomes"]) == Counter(
        query(url, "select candidates, rotated, stayed from reporting.rotation_outcomes_monthly"))
    assert len(data["cov_category"]) == query(url, "select count(*) from reporting.category_coverage_monthly")[0][0]
    assert len(data["status_mix"]) == query(url, "select count(*) from reporting.status_summary_monthly")[0][0]

    # Матрица КПЭ: every line of every month and dimension, named and formatted by its unit
    matrix = Counter((r["metric_no"], r["metric_name"], r["dimension_value"], r["value_text"])
                     for r in data["kpi_matrix"])
    assert matrix == Counter((no, name, value_of, value_text(unit, value)) for no, name, value_of, unit, value in query(
        url, "select metric_no, metric_name_ru, dimension_value, unit, value from reporting.kpi_matrix_monthly"))
    shown = {r["value_text"] for r in data["kpi_matrix"]}
    assert any(t.endswith("%") for t in shown) and any(t.isdigit() for t in shown), shown  # shares and counts
    # receivables: one row per month and manager (the all-managers row named), ПДЗ and the payment shares
    all_managers = definitions.ALL_MANAGERS[0]
    want = {(m, manager or all_managers): row for m, manager, *row in query(
        url, "select month, manager_id, receivables, overdue_receivables, overdue_share, payment_discipline, "
             "on_time_share from reporting.receivables_monthly")}
    table = {(dt.date.fromisoformat(r["month_label"] + "-01"), r["manager"]):
             (r["receivables"], r["overdue_receivables"], r["overdue_share"], r["payment_discipline"],
              r["on_time_share"]) for r in data["recv_table"]}
    assert sorted(table) == sorted(want) and len(data["recv_table"]) == len(want)
    for key, row in want.items():
        assert all(close(a, b) for a, b in zip(table[key], row, strict=True)), (key, table[key], row)
    for index, (chart, metric) in enumerate((("recv_overdue", "overdue_share_value"),
                                             ("recv_discipline", "payment_discipline_value"),
                                             ("recv_on_time", "on_time_share_value")), start=2):
        trend = {(month_of(r["month"]), r["manager"]): r[metric] for r in data[chart]}
        assert sorted(trend) == sorted(want), chart
        assert all(close(trend[key], row[index]) for key, row in want.items()), chart
        assert any(v is not None for v in trend.values()), chart  # the scenario has invoices and payments
    # the shelf over the months, unfiltered, sums every dimension's rows: the ratio of the sums is the total's
    shelf = {month_of(r["month"]): (r["planogram_coverage_ratio"], r["distribution_coefficient_ratio"])
             for r in data["shelf_trend"]}
    total = {m: (kp, kd) for m, kp, kd in query(
        url, "select month, planogram_coverage, distribution_coefficient from reporting.retail_audit_monthly "
             "where dimension = 'total'")}
    assert sorted(shelf) == sorted(total)
    for month, (kp, kd) in total.items():
        assert close(shelf[month][0], kp) and close(shelf[month][1], kd), (month, shelf[month], kp, kd)
    assert any(kp is not None for kp, _ in total.values())  # the scenario has audits
    by_rep = Counter((r["rep_id"], r["audited_points"], None if r["planogram_coverage"] is None
                      else round(r["planogram_coverage"], 9)) for r in data["shelf_rep"])
    assert by_rep == Counter((rep, n, None if kp is None else round(float(kp), 9)) for rep, n, kp in query(
        url, "select dimension_value, audited_points, planogram_coverage from reporting.retail_audit_monthly "
             "where dimension = 'rep'"))


@pytest.mark.parametrize("manager", ["MF", "R1"])
def test_a_manager_login_gets_only_their_own_rows(superset, published, manager):
    settings, _ = superset
    client = SupersetClient(settings.url, access.manager_username(manager), USER_PASSWORD)
    ids = chart_ids_by_key(client)
    data = {key: client.chart_data(chart_id) for key, chart_id in ids.items()}
    url = published

    def count(sql: str) -> int:
        return query(url, sql, manager)[0][0]

    owned = {
        "scorecard": ("manager_id", "select count(*) from reporting.manager_scorecard_monthly where manager_id = %s"),
        "rotation": ("manager_id", "select count(*) from reporting.rotation_candidates where manager_id = %s"),
        "call_list": ("manager_id", "select count(*) from reporting.churn_risk_monthly where manager_id = %s"),
        "status_mix": ("manager_id", "select count(*) from reporting.status_summary_monthly where manager_id = %s"),
        "visits_reps": ("rep_id", "select count(*) from reporting.visits_monthly where rep_id = %s"),
        "cov_rep": ("rep_id", "select count(*) from reporting.coverage_monthly "
                              "where dimension = 'rep' and dimension_value = %s"),
        "recv_table": ("manager", "select count(*) from reporting.receivables_monthly where manager_id = %s"),
        "recv_overdue": ("manager", "select count(*) from reporting.receivables_monthly where manager_id = %s"),
        # the long tables: the rep rows of their id only (never the total, a territory or a channel)
        "kpi_matrix": ("dimension_value", "select count(*) from reporting.kpi_matrix_monthly "
                                          "where dimension = 'rep' and dimension_value = %s"),
        "shelf_rep": ("rep_id", "select count(*) from reporting.retail_audit_monthly "
                                "where dimension = 'rep' and dimension_value = %s"),
    }
    for key, (column, sql) in owned.items():
        assert {row[column] for row in data[key]} <= {manager}, key
        assert len(data[key]) == count(sql), key
    own_clients = count("select count(*) from reporting.client_status_monthly where manager_id = %s")
    # the shelf over the months of a rep's role: its rep rows only, so the ratio of its own points
    shelf = {month_of(r["month"]): r["planogram_coverage_ratio"] for r in data["shelf_trend"]}
    own_shelf = dict(query(url, "select month, planogram_coverage from reporting.retail_audit_monthly "
                                "where dimension = 'rep' and dimension_value = %s", manager))
    assert sorted(shelf) == sorted(own_shelf)
    assert all(close(shelf[m], kp) for m, kp in own_shelf.items()), (shelf, own_shelf)
    assert sum(r["client_count"] for r in data["status_trend"]) == own_clients
    assert sum(r["clients_sum"] for r in data["status_flow"]) == own_clients
    # the company-wide aggregates are not a manager's rows
    for key in ("cov_territory", "cov_channel", "cov_category", "cov_stability", "rotation_outcomes"):
        assert data[key] == [], key
    # and the scenario gives each of them something to see, or this test would prove nothing
    if manager == "MF":
        assert len(data["scorecard"]) > 0 and own_clients > 0 and data["visits_reps"] == []
        assert len(data["recv_table"]) > 0 and data["kpi_matrix"] == []
    else:
        assert len(data["visits_reps"]) > 0 and len(data["cov_rep"]) > 0
        assert len(data["kpi_matrix"]) > 0 and len(data["shelf_rep"]) > 0 and data["recv_table"] == []


def test_the_director_sees_every_row(director, published):
    ids = chart_ids_by_key(director)
    rows = director.chart_data(ids["scorecard"])
    assert len(rows) == query(published, "select count(*) from reporting.manager_scorecard_monthly")[0][0]
    assert len({r["manager_id"] for r in rows}) > 1
    assert director.chart_data(ids["cov_territory"]) != []
    # the all-managers row of receivables and the total of the matrix are the director's
    assert definitions.ALL_MANAGERS[0] in {r["manager"] for r in director.chart_data(ids["recv_table"])}
    assert len(director.chart_data(ids["kpi_matrix"])) == query(
        published, "select count(*) from reporting.kpi_matrix_monthly")[0][0]


def test_the_warehouse_is_registered_as_bi_reader_without_its_password_in_the_uri(superset):
    settings, _ = superset
    admin = SupersetClient(settings.url, settings.admin_username, ADMIN_PASSWORD)
    databases = admin.get("/api/v1/database/", q="(columns:!(id,database_name),page_size:100)")["result"]
    assert [d["database_name"] for d in databases] == [bundle.DATABASE_NAME]
    connection = admin.get(f"/api/v1/database/{databases[0]['id']}/connection")["result"]
    assert connection["sqlalchemy_uri"].startswith("postgresql+psycopg2://bi_reader:XXXXXXXXXX@")
    assert not connection["allow_dml"]
    assert "bi-reader-test-password" not in json.dumps(connection)


def test_the_access_rules_build_inside_supersets_own_environment(superset, published, tmp_path):
    """The docker stack's superset-init path: clientbase.bi.access run by Superset's interpreter
    (no Airflow, no dbt there), reading the managers as bi_reader, gives the same rules."""
    settings, result = superset
    uri = server.ensure_bi_reader(settings, published)
    out = tmp_path / "access.json"
    env = {**server.superset_env(settings), "PYTHONPATH": str(REPO / "plugins"), "CLIENTBASE_BI_WAREHOUSE_URI": uri}
    run = subprocess.run([str(settings.python), "-m", "clientbase.bi.access", "--out", str(out)], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(out.read_text(encoding="utf-8")) == access.access_spec(result.managers)
    assert "bi-reader-test-password" not in run.stderr + run.stdout
