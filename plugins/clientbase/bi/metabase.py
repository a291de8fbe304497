"""The same dashboards in Metabase: native-SQL cards and dashboards, provisioned through its REST API.

Open-source Metabase has no import of dashboards as files (serialization is a paid feature),
so this module *generates* every card's SQL from the one source of the dashboards,
``definitions.py`` (a dataset's table or SQL, its calculated columns, a chart's columns,
metrics, grouping and order, every label in Russian and English), and provisions it with
the documented endpoints of Metabase's API (written against Metabase v0.58, the image the
docker stack runs):

* ``GET /api/session/properties`` + ``POST /api/setup`` (first start only: the admin user),
  ``POST /api/session`` (or an API key in ``x-api-key``);
* ``GET/POST/PUT /api/database``: the warehouse entry ``Clientbase reporting``, logged in as
  ``bi_reader`` (schema ``reporting`` only, read-only);
* ``GET/POST/PUT /api/collection``: one collection holds everything;
* ``GET /api/card?f=all``, ``POST /api/card``, ``PUT /api/card/:id``: one native question per chart;
* ``GET /api/dashboard/?f=all``, ``POST /api/dashboard``, ``GET/PUT /api/dashboard/:id``: the
  dashboards, their filters (``parameters``) and cards (``dashcards``, in the dashboard's
  PUT since v0.47: a dashcard with a negative id is new, one left out is removed).

Idempotent by name: an object is found by the key written in its description
(``clientbase:chart:<key>``: the same object whatever the language of its name) or else by
its name, and updated in place (a card's collection, database, SQL and settings included);
it is created only when neither matches. Nothing is ever deleted.

The filters of the Superset dashboards are the cards' template tags: ``{{month}}`` (YYYY-MM;
without a value a monthly card shows the latest month, as Superset's filter defaults to it),
``{{manager}}`` and ``{{territory}}`` (optional ``[[ … ]]`` clauses), wired to the
dashboard's parameters. Which card a filter reaches follows the same rule as the Superset
bundle (``bundle.filter_scope``); any other filter definitions.py adds becomes an optional
equality clause on its column.

Credentials come only from the environment: ``MB_API_KEY``, or ``MB_USER`` and
``MB_PASSWORD``; the warehouse as Metabase should reach it from ``CLIENTBASE_BI_WAREHOUSE_URI``
(the bi_reader URI, as the Superset side uses). Tested against the warehouse (every card's SQL
as bi_reader) and against a stand-in HTTP server; not against a live Metabase (README).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from clientbase.bi.bundle import DATABASE_NAME, SCHEMA, chart_ids, filter_scope
from clientbase.bi.definitions import (
    CHARTS,
    DASHBOARDS,
    DATASETS,
    FILTER_COLUMNS,
    LANGUAGES,
    MONEY,
    PERCENT,
    RATIO,
    Chart,
    Dashboard,
    Dataset,
    label,
    metric_label_key,
)

log = logging.getLogger(__name__)

METABASE_VERSION = "v0.58"  # what the payloads follow (docker-compose.yml runs v0.58.1)
TIMEOUT_S = 60
DEFAULT_COLLECTION = "Clientbase"
URL_ENV, API_KEY_ENV, USER_ENV, PASSWORD_ENV = "CLIENTBASE_METABASE_URL", "MB_API_KEY", "MB_USER", "MB_PASSWORD"
WAREHOUSE_ENV = "CLIENTBASE_BI_WAREHOUSE_URI"
LANGUAGE_ENV = "CLIENTBASE_BI_LANGUAGE"
GRID_WIDTH = 24  # Metabase's dashboard grid; Superset's is 12
# Superset heights (50, 70) to Metabase grid rows (7, 10): about the same share of a screen
HEIGHT_DIVISOR = 7
# Metabase's own number settings for the d3 formats of definitions.py
NUMBER_SETTINGS: dict[str, dict[str, Any]] = {
    PERCENT: {"number_style": "percent", "decimals": 1},
    MONEY: {"number_style": "decimal", "decimals": 0},
    RATIO: {"number_style": "decimal", "decimals": 2},
}


class MetabaseError(RuntimeError):
    """Provisioning cannot go on; the message says which call failed and what to do next."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of the failed call, if Metabase answered


# --- the cards, generated from definitions.py -------------------------------------------------


def chart_filters(chart: Chart) -> list[str]:
    """The filters a card takes as template tags: those the Superset bundle scopes to it on a
    dashboard that shows it (``bundle.filter_scope``: one rule for both tools)."""
    chart_id = chart_ids()[chart.key]
    names = {name for dashboard in DASHBOARDS.values() if chart.key in dashboard.chart_keys
             for name in dashboard.filters if chart_id in filter_scope(dashboard, name)[0]}
    return [name for name in FILTER_COLUMNS if name in names]


def source_sql(dataset: Dataset, language: str) -> str:
    """The dataset as a relation: its table or SQL, plus its calculated columns in ``language``."""
    base = f"{SCHEMA}.{dataset.table}" if dataset.sql is None else f"(\n{dataset.sql}\n)"
    calculated = [f"{c.expression_in(language)} AS {c.name}" for c in dataset.columns if c.calculated]
    select = ", ".join(["base.*", *calculated])
    return f"SELECT {select}\nFROM {base} AS base"


def _where(chart: Chart) -> str:
    clauses = []
    for name in chart_filters(chart):
        column = FILTER_COLUMNS[name]
        if name == "month":
            # one month: the chosen one, or the latest of the card's own rows (as Superset defaults)
            clauses.append(f"AND {column} = COALESCE([[{{{{month}}}}, ]](SELECT max({column}) FROM src))")
        else:
            clauses.append(f"[[AND {column} = {{{{{name}}}}}]]")
    return "WHERE TRUE" + "".join(f"\n  {c}" for c in clauses)


def card_sql(chart: Chart, language: str) -> str:
    """The native SQL of a chart's card: the same rows the Superset chart queries."""
    dataset = DATASETS[chart.dataset]
    metrics = {m.name: m.expression for m in dataset.metrics}
    head = f"-- {label(chart.title_key, language)} (clientbase: generated from definitions.py)\n"
    src = f"WITH src AS (\n{source_sql(dataset, language)}\n)\n"
    where = _where(chart)
    if chart.kind == "table":
        select = ", ".join(chart.columns)
        order = ", ".join(chart.order_by) or "1"
        return f"{head}{src}SELECT {select}\nFROM src\n{where}\nORDER BY {order}"
    if chart.kind in ("bars", "lines"):
        dims = ["month", *chart.groupby]
        values = [f"{metrics[m]} AS {m}" for m in chart.metrics]
        group = ", ".join(dims)
        return f"{head}{src}SELECT {', '.join([*dims, *values])}\nFROM src\n{where}\nGROUP BY {group}\nORDER BY {group}"
    if chart.kind == "matrix":
        dims = [*chart.rows, *chart.cols]
        group = ", ".join(dims)
        value = f"{metrics[chart.metrics[0]]} AS {chart.metrics[0]}"
        return f"{head}{src}SELECT {group}, {value}\nFROM src\n{where}\nGROUP BY {group}\nORDER BY {group}"
    raise ValueError(f"chart {chart.key}: kind {chart.kind!r} has no Metabase card (add it to card_sql)")


def result_columns(chart: Chart) -> list[str]:
    """The columns a card's SQL returns, in order."""
    if chart.kind == "table":
        return list(chart.columns)
    if chart.kind in ("bars", "lines"):
        return ["month", *chart.groupby, *chart.metrics]
    if chart.kind == "matrix":
        return [*chart.rows, *chart.cols, chart.metrics[0]]
    raise ValueError(f"chart {chart.key}: kind {chart.kind!r} has no Metabase card")


def setting_key(column: str) -> str:
    """A column's key in ``column_settings``: JSON as Metabase's frontend writes it (no spaces)."""
    return json.dumps(["name", column], ensure_ascii=False, separators=(",", ":"))


def _column_title(chart: Chart, column: str, language: str) -> str:
    return label(metric_label_key(column), language) if column in chart.metrics else label(column, language)


def visualization(chart: Chart, language: str) -> tuple[str, dict[str, Any]]:
    """(display, visualization_settings): Russian (or English) column titles and number formats."""
    column_settings = {}
    for column in result_columns(chart):
        setting: dict[str, Any] = {"column_title": _column_title(chart, column, language)}
        setting.update(NUMBER_SETTINGS.get(chart.formats.get(column, ""), {}))
        column_settings[setting_key(column)] = setting
    settings: dict[str, Any] = {"column_settings": column_settings}
    if chart.kind == "table":
        settings["table.columns"] = [{"name": c, "enabled": True} for c in chart.columns]
        return "table", settings
    if chart.kind == "matrix":
        # a native query cannot use Metabase's pivot-table display; the table display pivots 3 columns
        settings.update({"table.pivot": True, "table.pivot_column": chart.cols[0],
                         "table.cell_column": chart.metrics[0]})
        return "table", settings
    settings.update({"graph.dimensions": ["month", *chart.groupby], "graph.metrics": list(chart.metrics),
                     "graph.x_axis.title_text": label("month", language),
                     "series_settings": {m: {"title": _column_title(chart, m, language)} for m in chart.metrics}})
    if chart.kind == "bars" and chart.groupby:
        settings["stackable.stack_type"] = "stacked"
    return ("bar" if chart.kind == "bars" else "line"), settings


def named_columns(settings: dict[str, Any]) -> set[str]:
    """Every result column a card's visualization settings name (they must exist in its result)."""
    names = {json.loads(key)[1] for key in settings.get("column_settings", {})}
    names |= {c["name"] for c in settings.get("table.columns", [])}
    names |= set(settings.get("graph.dimensions", [])) | set(settings.get("graph.metrics", []))
    names |= set(settings.get("series_settings", {}))
    names |= {settings[k] for k in ("table.pivot_column", "table.cell_column") if k in settings}
    return names


def template_tags(chart: Chart, language: str) -> dict[str, dict[str, Any]]:
    return {name: {"id": f"clientbase-{chart.key}-{name}", "name": name,
                   "display-name": label(f"filter_{name}", language), "type": "text", "required": False}
            for name in chart_filters(chart)}


def marker(kind: str, key: str) -> str:
    return f"clientbase:{kind}:{key}"


def card_payload(chart: Chart, language: str, database_id: int, collection_id: int) -> dict[str, Any]:
    """The body of POST /api/card (and of its PUT): a native question in the collection."""
    display, settings = visualization(chart, language)
    dataset = DATASETS[chart.dataset]
    return {
        "name": label(chart.title_key, language),
        "type": "question",
        "description": f"{dataset.description}\n{marker('card', chart.key)} (generated from "
                       "plugins/clientbase/bi/definitions.py; re-provisioning overwrites edits)",
        "collection_id": collection_id,
        "display": display,
        "visualization_settings": settings,
        "dataset_query": {"type": "native", "database": database_id,
                          "native": {"query": card_sql(chart, language),
                                     "template-tags": template_tags(chart, language)}},
    }


def dashboard_parameters(dashboard: Dashboard, language: str) -> list[dict[str, Any]]:
    return [{"id": name, "name": label(f"filter_{name}", language), "slug": name, "type": "string/=",
             "sectionId": "string", "isMultiSelect": False} for name in dashboard.filters]


def dashcards(dashboard: Dashboard, card_ids: dict[str, int]) -> list[dict[str, Any]]:
    """The dashboard's cards on Metabase's 24-column grid, each wired to the filters that reach it."""
    cards, row = [], 0
    for line in dashboard.layout:
        col, height = 0, 0
        for key, width in line:
            chart = CHARTS[key]
            size_y = max(4, chart.height // HEIGHT_DIVISOR)
            cards.append({
                "card_id": card_ids[key], "row": row, "col": col, "size_x": width * GRID_WIDTH // 12,
                "size_y": size_y, "visualization_settings": {}, "series": [],
                "parameter_mappings": [
                    {"parameter_id": name, "card_id": card_ids[key], "target": ["variable", ["template-tag", name]]}
                    for name in dashboard.filters if name in chart_filters(chart)],
            })
            col += width * GRID_WIDTH // 12
            height = max(height, size_y)
        row += height
    return cards


# --- the API ---------------------------------------------------------------------------------


class MetabaseClient:
    """Metabase's REST API as one logged-in user (session token or API key)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = self.session.request(method, f"{self.base_url}{path}", json=body, params=params or None,
                                            timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise MetabaseError(f"{method} {self.base_url}{path}: {exc}; is Metabase running at that URL?") from exc
        if response.status_code >= 400:
            raise MetabaseError(f"{method} {path}: {response.status_code} {response.text[:500]}",
                                response.status_code)
        return response.json() if response.content else None

    def login(self, api_key: str | None, user: str | None, password: str | None, locale: str = "ru") -> None:
        """Log in with the API key, or the user (created as the first admin on a fresh Metabase,
        whose interface language is then ``locale``)."""
        if api_key:
            self.session.headers["x-api-key"] = api_key
            return
        if not (user and password):
            raise MetabaseError(f"no Metabase credentials: export {API_KEY_ENV}, or {USER_ENV} and {PASSWORD_ENV}")
        properties = self.call("GET", "/api/session/properties")
        if not properties.get("has-user-setup") and properties.get("setup-token"):
            log.info("Metabase is not set up yet: creating its first admin %s", user)
            self.call("POST", "/api/setup", {
                "token": properties["setup-token"],
                "user": {"email": user, "password": password, "first_name": "Clientbase", "last_name": "Admin",
                         "site_name": "Clientbase"},
                "prefs": {"site_name": "Clientbase", "site_locale": locale, "allow_tracking": False},
            })
        try:
            token = self.call("POST", "/api/session", {"username": user, "password": password})["id"]
        except MetabaseError as exc:
            if exc.status not in (400, 401, 403):
                raise
            raise MetabaseError(f"Metabase refused the login of {user!r} (HTTP {exc.status}): check "
                                f"{USER_ENV} / {PASSWORD_ENV}", exc.status) from None
        self.session.headers["X-Metabase-Session"] = token


def database_details(uri: str) -> dict[str, Any]:
    """Metabase's PostgreSQL connection details from the bi_reader URI (schema reporting only)."""
    parts = urlsplit(uri.replace("postgresql+psycopg2://", "postgresql://", 1))
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.username:
        raise MetabaseError(f"{WAREHOUSE_ENV} must be postgresql://bi_reader:PASSWORD@host:port/db")
    return {"host": parts.hostname, "port": parts.port or 5432, "dbname": parts.path.lstrip("/"),
            "user": unquote(parts.username), "password": unquote(parts.password or ""), "ssl": False,
            "schema-filters-type": "inclusion", "schema-filters-patterns": SCHEMA,
            "tunnel-enabled": False, "advanced-options": False}


def _listed(answer: Any) -> list[dict[str, Any]]:
    """GET /api/database answers {"data": [...]}, the other lists a bare list."""
    return answer["data"] if isinstance(answer, dict) else answer


def _find(objects: list[dict[str, Any]], kind: str, key: str, name: str) -> dict[str, Any] | None:
    """The object with our key in its description, else the one with that name (never archived)."""
    live = [o for o in objects if not o.get("archived")]
    for candidates in ([o for o in live if marker(kind, key) in (o.get("description") or "").split()],
                       [o for o in live if o.get("name") == name]):
        if candidates:
            found = min(candidates, key=lambda o: o["id"])
            if len(candidates) > 1:
                log.warning("%d Metabase %ss match %s (%r): updating id %s, leaving %s as they are", len(candidates),
                            kind, key, name, found["id"], sorted(o["id"] for o in candidates if o is not found))
            return found
    return None


@dataclass
class Provisioned:
    """What one provisioning did: ids by key, and how many objects it created and updated."""

    database_id: int
    collection_id: int
    cards: dict[str, int] = field(default_factory=dict)
    dashboards: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=lambda: {"card": 0, "dashboard": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"card": 0, "dashboard": 0})


def ensure_database(client: MetabaseClient, warehouse_uri: str | None) -> int:
    """The warehouse entry by name: created or its connection updated (bi_reader) when a URI is given."""
    existing = next((d for d in _listed(client.call("GET", "/api/database")) if d.get("name") == DATABASE_NAME), None)
    if warehouse_uri is None:
        if existing is None:
            raise MetabaseError(f"Metabase has no database {DATABASE_NAME!r}: export {WAREHOUSE_ENV} (the bi_reader "
                                "URI of the warehouse as Metabase reaches it) to register it")
        log.info("database %r kept as registered (no %s)", DATABASE_NAME, WAREHOUSE_ENV)
        return existing["id"]
    details = database_details(warehouse_uri)
    if details["user"] in ("clientbase", "postgres"):
        raise MetabaseError(f"{WAREHOUSE_ENV} logs in as {details['user']!r}: give Metabase bi_reader, which reads "
                            "only the reporting schema")
    body = {"name": DATABASE_NAME, "engine": "postgres", "details": details, "is_full_sync": True}
    if existing is None:
        log.info("registering the warehouse in Metabase as %s@%s", details["user"], details["host"])
        return client.call("POST", "/api/database", body)["id"]
    client.call("PUT", f"/api/database/{existing['id']}", body)
    return existing["id"]


def ensure_collection(client: MetabaseClient, name: str) -> int:
    collections = [c for c in client.call("GET", "/api/collection") if isinstance(c.get("id"), int)
                   and not c.get("personal_owner_id")]
    found = _find(collections, "collection", "root", name)
    body = {"name": name, "description": f"{marker('collection', 'root')} : the clientbase dashboards "
                                         "(provisioned from plugins/clientbase/bi/definitions.py)", "parent_id": None}
    if found is None:
        return client.call("POST", "/api/collection", body)["id"]
    client.call("PUT", f"/api/collection/{found['id']}", body)
    return found["id"]


def provision(client: MetabaseClient, language: str, warehouse_uri: str | None,
              collection: str = DEFAULT_COLLECTION) -> Provisioned:
    """Every card and dashboard of definitions.py, created or updated in place (never duplicated)."""
    if language not in LANGUAGES:
        raise MetabaseError(f"BI language {language!r}: use one of {', '.join(LANGUAGES)}")
    result = Provisioned(ensure_database(client, warehouse_uri), ensure_collection(client, collection))
    cards = client.call("GET", "/api/card", f="all")
    for key, chart in CHARTS.items():
        body = card_payload(chart, language, result.database_id, result.collection_id)
        found = _find(cards, "card", key, body["name"])
        if found is None:
            result.cards[key] = client.call("POST", "/api/card", body)["id"]
            result.created["card"] += 1
        else:
            client.call("PUT", f"/api/card/{found['id']}", body)
            result.cards[key] = found["id"]
            result.updated["card"] += 1
    dashboards = client.call("GET", "/api/dashboard/", f="all")
    for key, dashboard in DASHBOARDS.items():
        name = label(dashboard.title_key, language)
        body = {"name": name, "collection_id": result.collection_id,
                "description": f"{marker('dashboard', key)} (Superset slug {dashboard.slug}; generated from "
                               "plugins/clientbase/bi/definitions.py)",
                "parameters": dashboard_parameters(dashboard, language)}
        found = _find(dashboards, "dashboard", key, name)
        if found is None:
            found = client.call("POST", "/api/dashboard", body)
            result.created["dashboard"] += 1
        else:
            result.updated["dashboard"] += 1
        current = client.call("GET", f"/api/dashboard/{found['id']}").get("dashcards") or []
        kept = {d["card_id"]: d["id"] for d in current}  # keep the ids of the cards already on it
        wanted = dashcards(dashboard, result.cards)
        for number, card in enumerate(wanted, start=1):
            card["id"] = kept.get(card["card_id"], -number)
        client.call("PUT", f"/api/dashboard/{found['id']}", {**body, "dashcards": wanted})
        result.dashboards[key] = found["id"]
    log.info("Metabase (%s payloads, %s): %d cards, %d dashboards in %r (created %s, updated %s)",
             METABASE_VERSION, language, len(result.cards),
             len(result.dashboards), collection, result.created, result.updated)
    return result


def wait_until_up(client: MetabaseClient, seconds: float) -> None:
    """Wait for GET /api/health to answer ok (Metabase takes minutes to start on a fresh app DB)."""
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = client.call("GET", "/api/health")
        except MetabaseError as exc:  # not listening yet, or 503 while it migrates its app DB
            last = str(exc)
        else:
            if (answer or {}).get("status") == "ok":
                return
            last = f"health {answer}"
        time.sleep(2)
    raise MetabaseError(f"Metabase at {client.base_url} is not up after {seconds:.0f} s ({last}): check its logs")


def provision_from_env(url: str, language: str | None = None, warehouse_uri: str | None = None,
                       collection: str = DEFAULT_COLLECTION, wait_s: float = 0) -> Provisioned:
    """Log in with the environment's credentials and provision (what both commands run)."""
    env = os.environ.get
    language = language or env(LANGUAGE_ENV) or "ru"
    client = MetabaseClient(url)
    if wait_s:
        wait_until_up(client, wait_s)
    client.login(env(API_KEY_ENV) or None, env(USER_ENV) or None, env(PASSWORD_ENV) or None, locale=language)
    return provision(client, language, warehouse_uri or env(WAREHOUSE_ENV) or None, collection)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clientbase.bi.metabase",
                                     description="Provision the clientbase dashboards into Metabase "
                                                 f"(credentials: {API_KEY_ENV}, or {USER_ENV} and {PASSWORD_ENV}; "
                                                 f"the warehouse: {WAREHOUSE_ENV}).")
    parser.add_argument("--url", default=os.environ.get(URL_ENV), help=f"Metabase's URL (default ${URL_ENV})")
    parser.add_argument("--language", choices=LANGUAGES, help=f"labels (default ${LANGUAGE_ENV} or ru)")
    parser.add_argument("--collection", default=DEFAULT_COLLECTION, help="the collection that holds everything")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for Metabase to come up")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.url:
        log.error("no Metabase URL: pass --url or export %s", URL_ENV)
        return 2
    try:
        provision_from_env(args.url, args.language, collection=args.collection, wait_s=args.wait)
    except MetabaseError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
