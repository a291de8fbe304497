"""A first run on the user's own PostgreSQL: create what is missing, or say in ONE line what to run.

A real second server (scram-sha-256 passwords) with a role that may create databases and one
that may not. A PostgreSQL older than 16 cannot come from the wheel, so the version check is
tested on the number the server reports (its decision, and that connect applies it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

import password_server
from clientbase.warehouse import connection
from clientbase.warehouse.connection import (
    DatabaseMissing,
    WarehouseError,
    WarehouseLoginFailed,
    WarehouseTooOld,
    WarehouseUnreachable,
    prepare_server,
)

MAKER_PW = "maker-Pw-9q"
PLAIN_PW = "plain-Pw-4k"


@pytest.fixture(scope="module")
def server() -> password_server.PasswordServer:
    starter = password_server.start()
    srv = next(starter)
    srv.role("maker", MAKER_PW, "createdb")
    srv.role("plain", PLAIN_PW)
    yield srv
    starter.close()


def _databases(server) -> dict[str, str]:
    return dict(server.execute("select datname, pg_get_userbyid(datdba) from pg_database"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket closes


def test_missing_databases_and_schemas_are_created_when_the_role_may(server):
    url = server.url("maker", MAKER_PW, "cb_first")
    assert "cb_first" not in _databases(server)
    prepare_server(url, "airflow_of_maker")
    owners = _databases(server)
    assert (owners["cb_first"], owners["airflow_of_maker"]) == ("maker", "maker")
    with psycopg.connect(url) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert {"raw", "audit", "reporting"} <= schemas
    prepare_server(url, "airflow_of_maker")  # a second run finds everything in place


def test_a_role_without_createdb_is_told_what_a_superuser_runs(server):
    url = server.url("plain", PLAIN_PW, "cb_plain")
    with pytest.raises(DatabaseMissing) as info:
        prepare_server(url, "airflow")
    assert str(info.value) == (
        f"the role 'plain' may not create the database 'cb_plain': run as a superuser: "
        f"createdb -h 127.0.0.1 -p {server.port} -O plain cb_plain, "
        "or point CLIENTBASE_WAREHOUSE_URL at an existing database the role may create schemas in")
    assert "cb_plain" not in _databases(server)


def test_the_airflow_metadata_database_missing_is_named_with_its_fix(server):
    server.execute("create database cb_plain_owned owner plain")
    url = server.url("plain", PLAIN_PW, "cb_plain_owned")
    with pytest.raises(DatabaseMissing) as info:
        prepare_server(url, "airflow")
    assert str(info.value) == (
        f"the role 'plain' may not create the database 'airflow': run as a superuser: "
        f"createdb -h 127.0.0.1 -p {server.port} -O plain airflow, "
        "or set AIRFLOW__DATABASE__SQL_ALCHEMY_CONN to an existing database")
    # the warehouse part it may do was done: the role owns that database
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from pg_namespace where nspname = 'audit'").fetchone()[0] == 1
    # an explicit metadata DB (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) is not ours to create
    prepare_server(url, None)


def test_a_database_the_role_may_not_create_schemas_in(server):
    url = server.url("plain", PLAIN_PW, "postgres")
    with pytest.raises(WarehouseError) as info:
        prepare_server(url, None)
    assert str(info.value) == (
        "the role 'plain' may not create schemas in the database 'postgres': run as a superuser: "
        f"psql -h 127.0.0.1 -p {server.port} -d postgres -c 'grant create on database \"postgres\" to \"plain\"', "
        "or point CLIENTBASE_WAREHOUSE_URL at a database the role owns (createdb -O plain clientbase)")


def test_an_unreachable_server_names_host_and_port_not_the_password():
    port = _closed_port()
    with pytest.raises(WarehouseUnreachable) as info:
        connection.connect(f"postgresql://maker:{MAKER_PW}@127.0.0.1:{port}/clientbase")
    assert str(info.value) == (f"cannot reach PostgreSQL at 127.0.0.1:{port} (connection refused): start the "
                               "server, or fix the host and port in CLIENTBASE_WAREHOUSE_URL")


def test_a_wrong_password_names_the_user_never_the_password(server):
    wrong = "Wrong-Pw-1x"
    with pytest.raises(WarehouseLoginFailed) as info:
        connection.connect(server.url("maker", wrong, "postgres"))
    assert str(info.value) == (f"PostgreSQL at 127.0.0.1:{server.port} refused user 'maker': password "
                               "authentication failed: fix the password in CLIENTBASE_WAREHOUSE_URL")
    assert wrong not in str(info.value) and MAKER_PW not in str(info.value)


def test_the_variable_named_is_the_one_that_holds_the_url(server, monkeypatch):
    url = server.url("maker", "Wrong-Pw-2y", "postgres")
    monkeypatch.setenv("CLIENTBASE_LOADER_URL", url)
    with pytest.raises(WarehouseLoginFailed, match="fix the password in CLIENTBASE_LOADER_URL$"):
        connection.connect(url)


def _cli(args: list[str], warehouse_url: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(CLIENTBASE_WAREHOUSE_URL=warehouse_url, CLIENTBASE_HOME=str(home))
    clientbase = Path(sys.executable).with_name("clientbase")
    return subprocess.run([str(clientbase), *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_cli_prints_one_line_and_exits_non_zero(server, tmp_path):
    (tmp_path / "landing").mkdir()
    run = ["run", "--landing", str(tmp_path / "landing")]

    wrong = _cli(run, server.url("maker", "Wrong-Pw-3z", "postgres"), tmp_path / "home")
    lines = [line for line in (wrong.stdout + wrong.stderr).splitlines() if line.strip()]
    assert wrong.returncode == 2
    assert lines == [f"PostgreSQL at 127.0.0.1:{server.port} refused user 'maker': password authentication "
                     "failed: fix the password in CLIENTBASE_WAREHOUSE_URL"]

    missing = _cli(run, server.url("plain", PLAIN_PW, "cb_plain_cli"), tmp_path / "home")
    lines = [line for line in (missing.stdout + missing.stderr).splitlines() if line.strip()]
    assert missing.returncode == 2
    assert lines == [f"the role 'plain' may not create the database 'cb_plain_cli': run as a superuser: "
                     f"createdb -h 127.0.0.1 -p {server.port} -O plain cb_plain_cli, or point "
                     "CLIENTBASE_WAREHOUSE_URL at an existing database the role may create schemas in"]
    assert PLAIN_PW not in missing.stdout + missing.stderr

    verbose = _cli(["-v", *run], server.url("maker", "Wrong-Pw-3z", "postgres"), tmp_path / "home")
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stdout + verbose.stderr
    assert "Wrong-Pw-3z" not in verbose.stdout + verbose.stderr


@pytest.mark.parametrize("version_num, text", [(150004, "15.4"), (140011, "14.11"), (90624, "9.6.24")])
def test_a_server_older_than_16_is_refused_with_what_to_do(version_num, text):
    with pytest.raises(WarehouseTooOld) as info:
        connection.check_server_version(version_num, "db.example:5432")
    assert str(info.value) == (
        f"PostgreSQL at db.example:5432 is version {text}: clientbase needs 16 or newer (the type rules use "
        "pg_input_is_valid): upgrade it, or point CLIENTBASE_WAREHOUSE_URL at a PostgreSQL 16+ server")


@pytest.mark.parametrize("version_num", [160000, 160002, 170005])
def test_16_and_newer_pass(version_num):
    connection.check_server_version(version_num, "db.example:5432")


def test_connect_checks_the_version_the_server_reports(server, monkeypatch):
    with psycopg.connect(server.superuser_url) as conn:
        reported = conn.info.server_version
    assert connection.check_server_version(reported, "x") is None  # the wheel's server is 16+
    # were the minimum above what this server reports, connect itself refuses it
    monkeypatch.setattr(connection, "MIN_SERVER_VERSION", reported + 1)
    with pytest.raises(WarehouseTooOld) as info:
        connection.connect(server.url("maker", MAKER_PW, "postgres"))
    assert f"is version {connection.server_version_text(reported)}:" in str(info.value)
