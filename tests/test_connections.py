"""SQL mode's sources as Airflow connections: URI and JSON forms, postgres:// and postgresql://.

The conversion is checked by connecting for real: a password with characters that need
percent-encoding must reach a scram-sha-256 server intact, whichever form wrote it.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import password_server
from clientbase.extract import connections
from clientbase.extract.connections import SourceConnectionError

PASSWORD = "Rd@r:p/w%1"  # '@', ':', '/' and '%' must survive encoding

# Airflow reads its configuration once, at first import: configure it (on the test warehouse)
# before these tests import airflow.sdk, or every later DAG test would meet a stale config.
pytestmark = pytest.mark.usefixtures("airflow_ready")


@pytest.fixture(scope="module")
def server() -> password_server.PasswordServer:
    starter = password_server.start()
    srv = next(starter)
    srv.role("reader", PASSWORD)
    yield srv
    starter.close()


def _current_user(url: sa.URL) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("select current_user")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_uri_connection_reaches_the_server(server, monkeypatch, scheme):
    uri = server.url("reader", PASSWORD, "postgres").replace("postgresql://", f"{scheme}://")
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_ERP", uri)
    conn = connections.lookup("clientbase_erp")
    assert conn.conn_type == "postgres" and conn.password == PASSWORD
    url = connections.url_of_connection(conn)
    assert url.drivername == "postgresql"
    assert _current_user(url) == "reader"
    assert PASSWORD not in repr(connections.SourceDatabase(url, "connection clientbase_erp"))


def test_a_json_connection_with_extra_reaches_the_server(server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_SFA", json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": int(server.port), "login": "reader",
        "password": PASSWORD, "schema": "postgres", "extra": {"sslmode": "disable"}}))
    url = connections.url_of_connection(connections.lookup("clientbase_sfa"))
    assert url.query == {"sslmode": "disable"}
    assert _current_user(url) == "reader"


def test_an_explicit_driver_is_kept(server, monkeypatch):
    uri = server.url("reader", PASSWORD, "postgres").replace("postgresql://", "postgresql+psycopg2://")
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_ERP", uri)
    url = connections.url_of_connection(connections.lookup("clientbase_erp"))
    assert url.drivername == "postgresql+psycopg2"
    assert _current_user(url) == "reader"


def test_an_undefined_connection_falls_back_to_the_url_setting_then_files(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CLIENTBASE_ERP", raising=False)
    assert connections.lookup("clientbase_erp") is None
    fallback = connections.resolve("erp", "clientbase_erp", "postgresql://u:pw@h:5432/erp")
    assert fallback.origin == "CLIENTBASE_ERP_URL"
    assert fallback.describe() == "postgresql://u:***@h:5432/erp (from CLIENTBASE_ERP_URL)"
    assert connections.resolve("erp", "clientbase_erp", None) is None
    assert connections.resolve("erp", None, "postgresql://u:pw@h:5432/erp") is None  # null id = files


def test_a_defined_connection_wins_over_the_url_setting(server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_ERP", server.url("reader", PASSWORD, "postgres"))
    source = connections.resolve("erp", "clientbase_erp", "postgresql://other:pw@elsewhere/erp")
    assert source.origin == "connection clientbase_erp" and source.url.host == "127.0.0.1"


def test_a_connection_without_type_or_with_broken_extra_says_what_to_fix(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_ERP", json.dumps({"host": "h", "login": "u"}))
    with pytest.raises(SourceConnectionError, match="'clientbase_erp' has no connection type: set it to postgres"):
        connections.url_of_connection(connections.lookup("clientbase_erp"))
