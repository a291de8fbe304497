"""SQL mode: the same distributor read from source databases publishes what its files publish.

The sources sit on a second PostgreSQL that checks passwords (scram-sha-256), read by a role
with a password, so the runs prove the password reaches the source through the Airflow
connections ``clientbase_erp`` / ``clientbase_sfa`` and nowhere else: not in any
``dag_run.conf``, not in a task log, not in an ``audit`` row, not in the CLI's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

import password_server
from clientbase import cli
from clientbase.extract import connections
from clientbase.generate import generate
from clientbase.settings import load_settings
from clientbase.warehouse.connection import with_database
from conftest import reset_warehouse
from test_pipeline import reporting_fingerprint

READER_PW = "Erp-s3cret@Pw:77"  # '@' and ':' must be percent-encoded in a URL
SOURCE_DB = "erp_sfa_source"
CONN_IDS = tuple(connections.CONN_IDS.values())


@pytest.fixture(scope="module")
def source_server() -> password_server.PasswordServer:
    starter = password_server.start()
    yield next(starter)
    starter.close()


@pytest.fixture
def no_stored_connections(airflow_ready):
    """Connections written by ``--erp-url`` stay in the metadata DB; later tests run files mode."""
    metadata = with_database(airflow_ready, load_settings().airflow_db_name)

    def clear() -> None:
        with psycopg.connect(metadata, autocommit=True) as conn:
            conn.execute("delete from connection where conn_id = any(%s)", (list(CONN_IDS),))

    clear()
    yield metadata
    clear()


def _secret_forms() -> tuple[str, ...]:
    return (READER_PW, quote(READER_PW, safe=""), quote(READER_PW))


def _assert_password_nowhere(warehouse: str, metadata: str, output: str) -> None:
    forms = _secret_forms()
    with psycopg.connect(metadata) as conn:
        confs = [r[0] for r in conn.execute("select coalesce(conf::text, '') from dag_run "
                                            "where dag_id like 'extract_%'")]
        stored = {r[0] for r in conn.execute("select conn_id from connection")}
    assert confs, "no extraction dag_run found: the check below would prove nothing"
    assert any('"erp_conn_id": "clientbase_erp"' in c for c in confs), confs
    assert not [c for c in confs for f in forms if f in c]
    assert stored >= set(CONN_IDS)  # the URL went into Airflow's connections instead

    # every file under the Airflow home: task logs (when Airflow writes them there), config, …
    files = [p for p in load_settings().airflow_home.rglob("*") if p.is_file()]
    assert files
    leaked = [str(p) for p in files for f in forms if f in p.read_text(errors="replace")]
    assert not leaked

    with psycopg.connect(warehouse) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'audit'")]
        dumped = {t: "\n".join(r[0] for r in conn.execute(f"select t::text from audit.{t} t")) for t in tables}
    assert sum(len(v) for v in dumped.values()) > 0
    assert not [t for t, text in dumped.items() for f in forms if f in text]

    # dag.test() runs the tasks in this process: their log lines are in the captured output
    assert not [f for f in forms if f in output]


def test_sql_mode_publishes_the_same_as_files_mode(airflow_ready, source_server, no_stored_connections,
                                                   tmp_path, capfd, monkeypatch):
    url = airflow_ready
    source_server.execute(f"create database {SOURCE_DB}")
    owner_url = with_database(source_server.superuser_url, SOURCE_DB)
    summary = generate(tmp_path / "landing", owner_url, months=8, clients=40, seed=11)
    source_server.role("erp_reader", READER_PW)
    source_server.execute("grant select on all tables in schema public to erp_reader", SOURCE_DB)
    reader = source_server.url("erp_reader", READER_PW, SOURCE_DB)
    months = ["--from", summary.first_month[:7], "--to", summary.last_month[:7]]

    reset_warehouse(url)
    assert cli.main(["run", "--landing", str(tmp_path / "landing"), *months]) == 0
    from_files = reporting_fingerprint(url)

    # --erp-url / --sfa-url: written into the Airflow connections, only their ids in the conf
    reset_warehouse(url)
    capfd.readouterr()
    assert cli.main(["run", "--erp-url", reader, "--sfa-url", reader, *months]) == 0
    output = "".join(capfd.readouterr())
    assert (f"ERP: reading from postgresql://erp_reader:***@127.0.0.1:{source_server.port}/{SOURCE_DB} "
            "(from connection clientbase_erp)") in output
    assert reporting_fingerprint(url) == from_files
    with psycopg.connect(url) as conn:
        kinds = {r[0] for r in conn.execute("select distinct source_kind from audit.batches")}
        watermark = conn.execute(
            "select watermark from audit.batches where dataset = 'shipments'").fetchone()[0]
    assert kinds == {"sql"}
    assert watermark is not None
    _assert_password_nowhere(url, no_stored_connections, output)

    # AIRFLOW_CONN_* (JSON for the ERP, a postgresql:// URI for the SFA) win over the stored
    # connections, here spoiled with a wrong password: the run succeeds only through them.
    # A second extraction reads only rows changed after the watermark: none, so no new batch.
    spoiled = source_server.url("erp_reader", "wrong-password", SOURCE_DB)
    connections.store("clientbase_erp", spoiled)
    connections.store("clientbase_sfa", spoiled)
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_ERP", json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": int(source_server.port),
        "login": "erp_reader", "password": READER_PW, "schema": SOURCE_DB}))
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_SFA", reader)
    capfd.readouterr()
    assert cli.main(["run", *months]) == 0
    output = "".join(capfd.readouterr())
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from audit.batches where dataset = 'shipments'").fetchone()[0] == 1
        assert conn.execute("select count(*) from audit.batches where source_kind <> 'sql'").fetchone()[0] == 0
    assert reporting_fingerprint(url) == from_files
    _assert_password_nowhere(url, no_stored_connections, output)


def test_erp_url_refuses_to_be_shadowed_by_an_environment_connection(airflow_ready, no_stored_connections,
                                                                     monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW_CONN_CLIENTBASE_ERP", "postgresql://u:pw@127.0.0.1:1/erp")
    assert cli.main(["run", "--erp-url", "postgresql://u:other@127.0.0.1:1/erp"]) == 2
    out = capfd.readouterr().out
    assert ("AIRFLOW_CONN_CLIENTBASE_ERP is set, and Airflow reads it before the connection --erp-url would "
            "write: unset it, or drop --erp-url to use it") in out
    with psycopg.connect(no_stored_connections) as conn:
        assert conn.execute("select count(*) from connection where conn_id = 'clientbase_erp'").fetchone()[0] == 0


def test_files_mode_ignores_a_connection_left_by_an_earlier_run(airflow_ready, no_stored_connections, tmp_path):
    """``run --landing`` reads files even though an earlier ``--erp-url`` stored a connection."""
    from clientbase.orchestration import airflow_runner

    connections.store("clientbase_erp", "postgresql://nobody:pw@127.0.0.1:1/erp")
    landing = Path(tmp_path)
    conf = {"landing_dir": str(landing), **cli.source_connections(landing, {"erp": None, "sfa": None})}
    assert conf == {"landing_dir": str(landing), "erp_conn_id": None, "sfa_conn_id": None}
    # and a scheduled run (default params) would use it: the stored connection is SQL mode's switch
    dag = airflow_runner.load_dag("extract_shipments")
    assert dag.params["erp_conn_id"] == "clientbase_erp"
