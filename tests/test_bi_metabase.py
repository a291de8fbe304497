"""The Metabase cards and dashboards: their SQL against the real warehouse, their provisioning
against a stand-in of Metabase's REST API.

Metabase cannot run here (no JVM, no image), so two halves are tested apart:

* every card's SQL, generated from definitions.py, runs on the published field_ops scenario as
  ``bi_reader`` (read-only, ``reporting`` only), without and with its filters substituted as
  Metabase substitutes a text variable (an optional ``[[ … ]]`` clause dropped or kept, the
  value inlined as a string literal); the columns the card's visualization settings name are in
  its result, and a few figures agree with ``reporting`` queried directly;
* the provisioning runs against ``FakeMetabase``, a small HTTP server written here with just
  the endpoints ``metabase.py`` calls and the semantics of Metabase's API docs (state in
  memory; a dashboard PUT replaces its dashcards: negative ids are new, absent ones removed;
  it refuses what Metabase refuses: an unknown database, collection, card or template tag).
  It is a stand-in: the README says that provisioning against a live Metabase was not tried.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from clientbase.bi import bundle, definitions, metabase, server
from scenario_compare import publish_scenario

REPO = Path(__file__).resolve().parent.parent
FIELD_OPS = REPO / "tests" / "scenarios" / "field_ops"
ADMIN, ADMIN_PASSWORD, API_KEY = "admin@example.com", "mb-admin-test-password", "mb_test_api_key"
BI_READER_PASSWORD = "bi-reader-metabase-test"
TAG = re.compile(r"\{\{\s*(\w+)\s*\}\}")
OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.S)


# --- Metabase's substitution of text variables (what it does before sending the SQL) ---------


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def substitute(sql: str, values: dict[str, str]) -> str:
    """A native query as Metabase runs it: an optional clause kept only when all its tags have a
    value, each text tag replaced by the value as a string literal."""
    def optional(match: re.Match) -> str:
        tags = TAG.findall(match[1])
        return TAG.sub(lambda m: literal(values[m[1]]), match[1]) if all(t in values for t in tags) else ""

    rendered = OPTIONAL.sub(optional, sql)
    left = TAG.findall(rendered)
    assert not left, f"required tags without a value: {left}"
    return rendered


@pytest.fixture(scope="module")
def published(airflow_ready, tmp_path_factory) -> str:
    return publish_scenario(airflow_ready, FIELD_OPS, tmp_path_factory, "2024-01", "2024-06")


@pytest.fixture(scope="module")
def bi_reader(published, tmp_path_factory) -> str:
    """The published warehouse as bi_reader (psycopg URL), the login `clientbase bi` gives it."""
    home = tmp_path_factory.mktemp("bi-home")
    settings = dataclasses.replace(server.load_bi_settings(REPO, home), bi_reader_password=BI_READER_PASSWORD)
    uri = server.ensure_bi_reader(settings, published)
    return uri.replace("postgresql+psycopg2://", "postgresql://", 1)


def run_card(url: str, chart: definitions.Chart, language: str, **values: str) -> tuple[list[str], list[tuple]]:
    sql = substitute(metabase.card_sql(chart, language), values)
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql)
        return [c.name for c in cur.description], cur.fetchall()


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


# --- the cards' SQL against the warehouse ------------------------------------------------------


@pytest.mark.parametrize("language", definitions.LANGUAGES)
def test_every_card_runs_as_bi_reader_with_the_columns_its_settings_name(bi_reader, language):
    with psycopg.connect(bi_reader) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "bi_reader"
    for key, chart in definitions.CHARTS.items():
        columns, rows = run_card(bi_reader, chart, language)
        assert columns == metabase.result_columns(chart), key
        _, settings = metabase.visualization(chart, language)
        missing = metabase.named_columns(settings) - set(columns)
        assert not missing, f"{key}: the visualization settings name {missing}, not in the result"
        assert rows, f"{key}: no rows on the published scenario"


def test_every_card_runs_with_every_filter_set(bi_reader, published):
    manager = query(published, "select min(manager_id) from reporting.manager_scorecard_monthly")[0][0]
    territory = query(published, "select min(dimension_value) from reporting.coverage_monthly "
                                 "where dimension = 'territory'")[0][0]
    values = {"month": "2024-04", "manager": manager, "territory": territory}
    for key, chart in definitions.CHARTS.items():
        columns, rows = run_card(bi_reader, chart, "ru", **values)
        assert columns == metabase.result_columns(chart), key
        if "month" in metabase.chart_filters(chart):
            _, every = run_card(bi_reader, chart, "ru", **{**values, "month": "1999-01"})
            assert every == [], f"{key}: a month without data must show nothing"


def test_a_monthly_card_shows_the_latest_month_or_the_chosen_one(bi_reader, published):
    chart = definitions.CHARTS["scorecard"]
    latest = query(published, "select max(month) from reporting.manager_scorecard_monthly")[0][0]
    direct = "select manager_id, clients, revenue from reporting.manager_scorecard_monthly where month = %s " \
             "order by manager_id"
    columns, rows = run_card(bi_reader, chart, "ru")
    picked = [(r[columns.index("manager_id")], r[columns.index("clients")], r[columns.index("revenue")])
              for r in rows]
    assert picked == query(published, direct, latest)
    columns, rows = run_card(bi_reader, chart, "ru", month="2024-03")
    picked = [(r[columns.index("manager_id")], r[columns.index("clients")], r[columns.index("revenue")])
              for r in rows]
    assert picked == query(published, direct, latest.replace(month=3))
    assert len(picked) > 0 and latest.month == 6


def test_the_manager_filter_keeps_only_that_managers_rows(bi_reader, published):
    manager = query(published, "select manager_id from reporting.manager_scorecard_monthly "
                               "where month = '2024-06-01' order by clients desc limit 1")[0][0]
    columns, rows = run_card(bi_reader, definitions.CHARTS["status_mix"], "ru", manager=manager)
    assert rows and {r[columns.index("manager_id")] for r in rows} == {manager}
    # the status flow of the month adds up to that manager's clients of the month
    _, flow = run_card(bi_reader, definitions.CHARTS["status_flow"], "ru", month="2024-05", manager=manager)
    clients = query(published, "select count(*) from reporting.client_status_monthly "
                               "where month = '2024-05-01' and manager_id = %s", manager)[0][0]
    assert sum(r[2] for r in flow) == clients > 0
    # a trend over the months ignores the month but takes the manager
    _, events = run_card(bi_reader, definitions.CHARTS["events"], "ru", manager=manager)
    lost = query(published, "select count(*) from reporting.client_status_monthly "
                            "where is_lost_this_month and manager_id = %s", manager)[0][0]
    assert sum(r[3] for r in events) == lost and len(events) == 6


def test_cards_carry_the_russian_labels_and_status_names(bi_reader):
    _, settings = metabase.visualization(definitions.CHARTS["cov_territory"], "ru")
    titles = {json.loads(k)[1]: v["column_title"] for k, v in settings["column_settings"].items()}
    assert titles["okb"] == "ОКБ" and titles["coverage_okb"] == "Покрытие ОКБ"
    # keyed as Metabase's frontend keys them: JSON without spaces
    assert settings["column_settings"]['["name","coverage_okb"]']["number_style"] == "percent"
    columns, rows = run_card(bi_reader, definitions.CHARTS["status_mix"], "ru")
    names = {r[columns.index("status_name")] for r in rows}
    russian = {ru for ru, _ in definitions.STATUS_LABELS.values()}
    assert names and names <= russian
    _, settings = metabase.visualization(definitions.CHARTS["events"], "ru")
    assert settings["series_settings"]["lost_events"]["title"] == "Потерянные"


def test_filters_reach_the_cards_the_superset_filters_reach():
    ids = {v: k for k, v in bundle.chart_ids().items()}
    for dashboard in definitions.DASHBOARDS.values():
        for name in dashboard.filters:
            inside, _ = bundle.filter_scope(dashboard, name)
            assert {ids[i] for i in inside} == {k for k in dashboard.chart_keys
                                                if name in metabase.chart_filters(definitions.CHARTS[k])}
    filters = {key: metabase.chart_filters(chart) for key, chart in definitions.CHARTS.items()}
    assert filters["cov_territory"] == ["month", "territory"] and filters["scorecard"] == ["month", "manager"]
    assert filters["status_trend"] == ["manager"]  # a trend over the months ignores the month
    assert filters["cov_stability"] == [] and filters["cov_channel"] == ["month"]  # company-wide, no manager


def test_every_tag_in_a_cards_sql_is_declared_and_every_declared_tag_used():
    for key, chart in definitions.CHARTS.items():
        sql = metabase.card_sql(chart, "ru")
        assert set(TAG.findall(sql)) == set(metabase.template_tags(chart, "ru")), key
        assert all(TAG.search(clause) for clause in OPTIONAL.findall(sql)), key


# --- a stand-in of Metabase's REST API -----------------------------------------------------------


class FakeMetabase:
    """The endpoints metabase.py uses, with the semantics of Metabase's API docs, state in memory."""

    def __init__(self, set_up: bool = True) -> None:
        self.users = {ADMIN: ADMIN_PASSWORD} if set_up else {}
        self.setup_token = None if set_up else "setup-token-123"
        self.sessions: set[str] = set()
        self.objects: dict[str, dict[int, dict[str, Any]]] = {"database": {}, "collection": {}, "card": {},
                                                              "dashboard": {}}
        self.next_id = {kind: 1 for kind in self.objects}
        self.next_dashcard = 1
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[str] = []
        self.objects["collection"][1] = {"id": 1, "name": "Admin's Personal Collection", "personal_owner_id": 1,
                                         "archived": False, "description": None}
        self.next_id["collection"] = 2

    def new(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = {**body, "id": self.next_id[kind], "archived": False}
        self.next_id[kind] += 1
        self.objects[kind][obj["id"]] = obj
        return obj

    def check_card(self, body: dict[str, Any]) -> str | None:
        for required in ("name", "dataset_query", "display", "visualization_settings"):
            if required not in body:
                return f"{required} is required"
        query = body["dataset_query"]
        if query.get("database") not in self.objects["database"]:
            return f"database {query.get('database')} does not exist"
        if body.get("collection_id") is not None and body["collection_id"] not in self.objects["collection"]:
            return f"collection {body['collection_id']} does not exist"
        if query.get("type") != "native":
            return "only native questions here"
        used = set(TAG.findall(query["native"]["query"]))
        declared = set(query["native"].get("template-tags", {}))
        if used != declared:
            return f"template tags {sorted(used)} used, {sorted(declared)} declared"
        return None

    def put_dashcards(self, dashboard: dict[str, Any], dashcards: list[dict[str, Any]]) -> str | None:
        own = {d["id"] for d in dashboard.get("dashcards", [])}
        params = {p["id"] for p in dashboard.get("parameters", [])}
        result = []
        for dashcard in dashcards:
            card = self.objects["card"].get(dashcard["card_id"])
            if card is None:
                return f"card {dashcard['card_id']} does not exist"
            if dashcard["id"] >= 0 and dashcard["id"] not in own:
                return f"dashcard {dashcard['id']} is not on dashboard {dashboard['id']}"
            for mapping in dashcard.get("parameter_mappings", []):
                tag = mapping["target"][1][1]
                if mapping["parameter_id"] not in params:
                    return f"parameter {mapping['parameter_id']} is not on the dashboard"
                if tag not in card["dataset_query"]["native"]["template-tags"]:
                    return f"card {card['id']} has no template tag {tag}"
            stored = dict(dashcard)
            if stored["id"] < 0:
                stored["id"] = self.next_dashcard
                self.next_dashcard += 1
            result.append(stored)
        dashboard["dashcards"] = result
        return None

    def handle(self, method: str, path: str, params: dict[str, list[str]], headers, body: Any) -> tuple[int, Any]:
        self.calls.append((method, path))
        if path == "/api/health":
            return 200, {"status": "ok"}
        if path == "/api/session/properties":
            return 200, {"has-user-setup": bool(self.users), "setup-token": self.setup_token}
        if method == "POST" and path == "/api/setup":
            if body.get("token") != self.setup_token or self.users:
                return 403, {"message": "setup token invalid or already used"}
            self.users[body["user"]["email"]] = body["user"]["password"]
            self.setup_token = None
            return 200, {"id": self.login()}
        if method == "POST" and path == "/api/session":
            if self.users.get(body.get("username")) != body.get("password"):
                return 401, {"errors": {"password": "did not match stored password"}}
            return 200, {"id": self.login()}
        if headers.get("X-Metabase-Session") not in self.sessions and headers.get("x-api-key") != API_KEY:
            return 401, "Unauthenticated"
        parts = path.strip("/").split("/")[1:]  # ["card"], ["card", "3"]
        kind = parts[0]
        if kind not in self.objects:
            return 404, "API endpoint does not exist."
        objects = self.objects[kind]
        if len(parts) == 1 and method == "GET":
            live = [o for o in objects.values() if not o.get("archived")]
            if kind == "collection":  # Metabase lists the root collection too, with id "root"
                return 200, [{"id": "root", "name": "Our analytics", "description": None}, *live]
            return 200, {"data": live, "total": len(live)} if kind == "database" else live
        if len(parts) == 1 and method == "POST":
            if kind == "card" and (problem := self.check_card(body)):
                return 400, {"message": problem}
            if kind == "dashboard" and "dashcards" in body:
                return 400, {"message": "POST /api/dashboard takes no dashcards"}
            return 200, self.new(kind, body)
        obj = objects.get(int(parts[1]))
        if obj is None:
            return 404, "Not found."
        if method == "GET":
            return 200, obj
        if method == "PUT":
            if kind == "card" and (problem := self.check_card({**obj, **body})):
                return 400, {"message": problem}
            if kind == "dashboard" and "dashcards" in body:
                obj.update({k: v for k, v in body.items() if k != "dashcards"})
                if problem := self.put_dashcards(obj, body["dashcards"]):
                    return 400, {"message": problem}
                return 200, obj
            obj.update(body)
            return 200, obj
        return 405, "method not allowed"

    def login(self) -> str:
        token = f"session-{len(self.sessions) + 1}"
        self.sessions.add(token)
        return token

    def live(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects[kind].values() if not o.get("archived") and not o.get("personal_owner_id")]


@pytest.fixture
def fake():
    state = FakeMetabase()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            state.bodies.append(raw)
            status, answer = state.handle(self.command, split.path.rstrip("/") or "/", parse_qs(split.query),
                                          self.headers, json.loads(raw) if raw else None)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args) -> None:  # keep the test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


WAREHOUSE_URI = f"postgresql://bi_reader:{BI_READER_PASSWORD}@postgres:5432/clientbase"


def client_for(fake: FakeMetabase) -> metabase.MetabaseClient:
    client = metabase.MetabaseClient(fake.url)
    client.login(None, ADMIN, ADMIN_PASSWORD)
    return client


def counts(fake: FakeMetabase) -> dict[str, int]:
    return {kind: len(fake.live(kind)) for kind in ("database", "collection", "card", "dashboard")}


def test_provisioning_twice_updates_in_place_and_never_duplicates(fake):
    client = client_for(fake)
    first = metabase.provision(client, "ru", WAREHOUSE_URI)
    expected = {"database": 1, "collection": 1, "card": len(definitions.CHARTS),
                "dashboard": len(definitions.DASHBOARDS)}
    assert counts(fake) == expected
    assert first.created == {"card": len(definitions.CHARTS), "dashboard": len(definitions.DASHBOARDS)}
    dashcard_ids = {d["id"] for o in fake.live("dashboard") for d in o["dashcards"]}
    second = metabase.provision(client, "ru", WAREHOUSE_URI)
    assert counts(fake) == expected
    assert (second.cards, second.dashboards) == (first.cards, first.dashboards)
    assert second.created == {"card": 0, "dashboard": 0}
    assert {d["id"] for o in fake.live("dashboard") for d in o["dashcards"]} == dashcard_ids
    # the warehouse is registered as bi_reader, schema reporting only
    database = fake.live("database")[0]
    assert database["name"] == "Clientbase reporting" and database["engine"] == "postgres"
    assert database["details"]["user"] == "bi_reader" and database["details"]["host"] == "postgres"
    assert database["details"]["schema-filters-patterns"] == "reporting"
    # every dashboard holds its charts, wired to the filters that reach them, in Russian
    by_id = {v: k for k, v in first.cards.items()}
    for key, dashboard in definitions.DASHBOARDS.items():
        stored = fake.objects["dashboard"][first.dashboards[key]]
        assert stored["name"] == definitions.label(dashboard.title_key, "ru")
        assert [by_id[d["card_id"]] for d in stored["dashcards"]] == dashboard.chart_keys
        names = [p["name"] for p in stored["parameters"]]
        assert names == [definitions.label(f"filter_{name}", "ru") for name in dashboard.filters]
        assert names[0] == "Месяц" and "Менеджер" in names
        for dashcard in stored["dashcards"]:
            wired = {m["parameter_id"] for m in dashcard["parameter_mappings"]}
            assert wired == set(metabase.chart_filters(definitions.CHARTS[by_id[dashcard["card_id"]]])) & set(
                dashboard.filters)
            assert dashcard["col"] + dashcard["size_x"] <= metabase.GRID_WIDTH


def test_a_drifted_card_gets_its_collection_database_and_sql_back(fake):
    client = client_for(fake)
    first = metabase.provision(client, "ru", WAREHOUSE_URI)
    other_db = fake.new("database", {"name": "Somebody's DB", "engine": "h2", "details": {}})
    elsewhere = fake.new("collection", {"name": "Elsewhere", "description": None})
    card = fake.objects["card"][first.cards["scorecard"]]
    card["collection_id"] = elsewhere["id"]
    card["dataset_query"] = {"type": "native", "database": other_db["id"],
                             "native": {"query": "select 1", "template-tags": {}}}
    card["visualization_settings"] = {}
    dashboard = fake.objects["dashboard"][first.dashboards["managers"]]
    cards_before = len(dashboard["dashcards"])
    dashboard["dashcards"] = dashboard["dashcards"][:1]  # somebody removed the other charts
    metabase.provision(client, "ru", WAREHOUSE_URI)
    card = fake.objects["card"][first.cards["scorecard"]]
    assert card["collection_id"] == first.collection_id
    assert card["dataset_query"]["database"] == first.database_id
    assert card["dataset_query"]["native"]["query"] == metabase.card_sql(definitions.CHARTS["scorecard"], "ru")
    assert card["visualization_settings"]["table.columns"]
    assert len(fake.objects["dashboard"][first.dashboards["managers"]]["dashcards"]) == cards_before
    assert cards_before == len(definitions.DASHBOARDS["managers"].chart_keys) > 1
    assert len(fake.live("card")) == len(definitions.CHARTS)


def test_a_card_made_by_hand_with_the_same_name_is_adopted_not_duplicated(fake):
    client = client_for(fake)
    database = fake.new("database", {"name": "Clientbase reporting", "engine": "postgres", "details": {}})
    hand = fake.new("card", {"name": "Карта менеджеров", "description": None, "collection_id": None,
                             "display": "table", "visualization_settings": {},
                             "dataset_query": {"type": "native", "database": database["id"],
                                               "native": {"query": "select 1", "template-tags": {}}}})
    result = metabase.provision(client, "ru", WAREHOUSE_URI)
    assert result.cards["scorecard"] == hand["id"]
    assert result.database_id == database["id"] and len(fake.live("database")) == 1
    assert len(fake.live("card")) == len(definitions.CHARTS)


def test_switching_the_language_relabels_the_same_objects(fake):
    client = client_for(fake)
    ru = metabase.provision(client, "ru", WAREHOUSE_URI)
    en = metabase.provision(client, "en", WAREHOUSE_URI)
    assert (en.cards, en.dashboards) == (ru.cards, ru.dashboards)
    assert fake.objects["dashboard"][en.dashboards["client_base"]]["name"] == "Client base"
    card = fake.objects["card"][en.cards["status_mix"]]
    assert card["name"] == "Status mix by manager against plan"
    assert "'stabilized' THEN 'stabilized'" in card["dataset_query"]["native"]["query"]
    back = metabase.provision(client, "ru", WAREHOUSE_URI)
    assert back.cards == ru.cards
    assert fake.objects["dashboard"][ru.dashboards["client_base"]]["name"] == "Клиентская база"
    assert counts(fake)["card"] == len(definitions.CHARTS)


def test_a_fresh_metabase_gets_its_admin_and_a_wrong_password_is_refused(fake):
    fake.users, fake.setup_token = {}, "setup-token-123"
    client = metabase.MetabaseClient(fake.url)
    client.login(None, ADMIN, ADMIN_PASSWORD)
    assert fake.users == {ADMIN: ADMIN_PASSWORD} and ("POST", "/api/setup") in fake.calls
    with pytest.raises(metabase.MetabaseError, match="refused the login of 'admin@example.com'.*MB_PASSWORD"):
        metabase.MetabaseClient(fake.url).login(None, ADMIN, "wrong")
    with pytest.raises(metabase.MetabaseError, match="export MB_API_KEY, or MB_USER and MB_PASSWORD"):
        metabase.MetabaseClient(fake.url).login(None, None, None)
    keyed = metabase.MetabaseClient(fake.url)
    keyed.login(API_KEY, None, None)
    assert metabase.provision(keyed, "ru", WAREHOUSE_URI).cards


def test_without_a_warehouse_uri_the_database_must_exist(fake):
    client = client_for(fake)
    with pytest.raises(metabase.MetabaseError, match="export CLIENTBASE_BI_WAREHOUSE_URI"):
        metabase.provision(client, "ru", None)
    with pytest.raises(metabase.MetabaseError, match="give Metabase bi_reader"):
        metabase.provision(client, "ru", "postgresql://clientbase:pw@postgres:5432/clientbase")
    metabase.provision(client, "ru", WAREHOUSE_URI)
    assert metabase.provision(client, "ru", None).database_id == fake.live("database")[0]["id"]


def test_clientbase_bi_metabase_provisions_with_credentials_from_the_environment(fake, monkeypatch, capsys):
    from clientbase import cli

    monkeypatch.setenv("MB_USER", ADMIN)
    monkeypatch.setenv("MB_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("CLIENTBASE_BI_WAREHOUSE_URI", WAREHOUSE_URI)
    assert cli.main(["-v", "bi", "--metabase", fake.url]) == 0
    assert cli.main(["bi", "--metabase", fake.url, "--language", "en"]) == 0
    out = capsys.readouterr().out
    assert f"Metabase (ru): {len(definitions.CHARTS)} cards, {len(definitions.DASHBOARDS)} dashboards" in out
    assert f"updated {len(definitions.CHARTS)} cards" in out
    assert counts(fake)["card"] == len(definitions.CHARTS)
    assert fake.objects["dashboard"][1]["name"] == "Client base"
    # the same through the module, as docker's metabase-init runs it; a wrong password exits 1
    monkeypatch.setenv("MB_PASSWORD", "not-the-password")
    assert metabase.main(["--url", fake.url]) == 1
    out += capsys.readouterr().out
    assert "refused the login of 'admin@example.com' (HTTP 401): check MB_USER / MB_PASSWORD" in out
    # the secrets went to Metabase (as it needs them), never into the output
    assert any(ADMIN_PASSWORD in body for body in fake.bodies) and any(BI_READER_PASSWORD in b for b in fake.bodies)
    for secret in (ADMIN_PASSWORD, BI_READER_PASSWORD, "not-the-password"):
        assert secret not in out
