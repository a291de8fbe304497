"""Least-privilege roles created by the project (warehouse/roles.py), tried by logging in as them."""

from __future__ import annotations

import csv
import re
import shutil

import psycopg
import pytest

from clientbase import cli
from clientbase.contract import SHIPMENTS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from clientbase.settings import Roles, load_settings
from clientbase.warehouse import connection, roles, schema
from conftest import PUBLISHED_TABLES, SCENARIOS, reset_warehouse


def scenario_rows(dataset: str) -> int:
    """Data rows in the status_rules landing files of a dataset."""
    return sum(len(list(csv.DictReader(p.open(encoding="utf-8"))))
               for p in (SCENARIOS / "status_rules" / "landing" / dataset).glob("*.csv"))


def expected_rows(table: str) -> list[dict]:
    """The status_rules scenario's expected rows of a published table."""
    with (SCENARIOS / "status_rules" / "expected" / f"{table}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def as_user(url: str, user: str, password: str) -> str:
    """The same warehouse URL for another role (the embedded server trusts loopback, so the
    password is not checked here: what is tested is LOGIN and the privileges)."""
    return re.sub(r"://[^@]*@", f"://{user}:{password}@", url)


@pytest.fixture
def with_passwords(clean_warehouse, monkeypatch) -> str:
    monkeypatch.setenv("CLIENTBASE_BI_READER_PASSWORD", "bi-secret")
    monkeypatch.setenv("CLIENTBASE_LOADER_PASSWORD", "loader-secret")
    monkeypatch.setenv("CLIENTBASE_TRANSFORMER_PASSWORD", "transformer-secret")
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        report = roles.ensure_roles(conn)
    assert not report.refused
    assert sorted(report.passwords_set) == ["bi_reader", "clientbase_loader", "clientbase_transformer"]
    return clean_warehouse


def test_bi_reader_reads_reporting_only(with_passwords):
    url = with_passwords
    names = load_settings().roles
    with psycopg.connect(url, autocommit=True) as owner:
        # created after the grants: readable through default privileges, by whichever role creates it
        owner.execute("create table reporting.probe (month date, value int)")
        owner.execute("insert into reporting.probe values ('2024-01-01', 1)")
        owner.execute(f"set role {names.transformer}")
        owner.execute("create table reporting.published_later (month date)")
        owner.execute("insert into reporting.published_later values ('2024-02-01')")
        owner.execute("reset role")
    with psycopg.connect(as_user(url, names.bi_reader, "bi-secret"), autocommit=True) as bi:
        assert bi.execute("select count(*) from reporting.probe").fetchone() == (1,)
        assert bi.execute("select count(*) from published_later").fetchone() == (1,)  # search_path
        assert bi.execute("select count(*) from reporting.publications").fetchone() == (0,)
        for forbidden in ("select * from raw.shipments", "select * from audit.batches",
                          "select * from audit.quarantine"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                bi.execute(forbidden)
        with pytest.raises((psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
            bi.execute("insert into reporting.probe values ('2024-02-01', 2)")


def test_loader_loads_but_cannot_create_tables_in_reporting(with_passwords, tmp_path):
    url = with_passwords
    loader_url = as_user(url, load_settings().roles.loader, "loader-secret")
    shutil.copytree(SCENARIOS / "status_rules" / "landing", tmp_path / "landing")
    results = extract_datasets(loader_url, SHIPMENTS_FLOW, Sources(tmp_path / "landing"))
    assert results and all(r.status == "loaded" for r in results)
    with psycopg.connect(loader_url, autocommit=True) as loader:
        # every line of the scenario's shipments file (none of them is quarantined)
        assert loader.execute("select count(*) from raw.shipments").fetchone()[0] == scenario_rows("shipments")
        for forbidden in ("create table reporting.sneaky (x int)", "create table raw.sneaky (x int)",
                          "select * from reporting.publications", "create schema sneaky"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                loader.execute(forbidden)


def test_transformer_reads_sources_and_publishes(with_passwords):
    url = with_passwords
    names = load_settings().roles
    with psycopg.connect(as_user(url, names.transformer, "transformer-secret"), autocommit=True) as t:
        t.execute("select count(*) from raw.shipments, audit.batches")
        t.execute("create table marts.probe as select 1 as x")
        t.execute("create table reporting_stage.probe (month date)")
        t.execute("create table if not exists reporting.probe2 (like reporting_stage.probe)")
        t.execute("insert into reporting.publications (month, version, row_counts, content_md5, checks_passed, "
                  "checks_warned) values ('2024-01-01', 1, '{}', 'x', 0, 0)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            t.execute("insert into raw.shipments (doc_id, line_no, doc_date, client_id, point_id, sku, qty, "
                      "revenue, _batch_id, _line_no) values ('X', 1, '2024-01-01', 'c', 'p', 's', 1, 1, 1, 1)")
    with psycopg.connect(url) as owner:
        owners = dict(owner.execute("select nspname, pg_get_userbyid(nspowner) from pg_namespace "
                                    "where nspname = any(%s)", (list(roles.DBT_SCHEMAS),)).fetchall())
    assert owners == {s: names.transformer for s in roles.DBT_SCHEMAS}


def test_a_role_without_a_password_is_nologin_and_setup_is_idempotent(clean_warehouse):
    names = Roles(loader="cb_probe_loader", transformer="cb_probe_transformer", bi_reader="cb_probe_bi")
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        first = roles.ensure_roles(conn, names)
        second = roles.ensure_roles(conn, names)
        login = dict(conn.execute("select rolname, rolcanlogin from pg_roles where rolname like 'cb_probe_%'"))
    assert sorted(first.created) == ["cb_probe_bi", "cb_probe_loader", "cb_probe_transformer"]
    assert second.created == [] and not second.refused
    assert login == {"cb_probe_loader": False, "cb_probe_transformer": False, "cb_probe_bi": False}


@pytest.mark.parametrize("bad", ['bi"; drop table raw.shipments; --', "BI Reader", "1reader", ""])
def test_role_names_from_configuration_are_validated(clean_warehouse, bad):
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        with pytest.raises(ValueError, match="CLIENTBASE_BI_READER_ROLE .* is not a valid role/schema name"):
            roles.ensure_roles(conn, Roles(bi_reader=bad))


def test_without_createrole_it_is_a_logged_no_op(clean_warehouse):
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute("drop role if exists cb_probe_plain")
        conn.execute("create role cb_probe_plain login")
        conn.execute("set role cb_probe_plain")
        report = roles.ensure_roles(conn, Roles(loader="cb_probe_never"))
        conn.execute("reset role")
        assert conn.execute("select count(*) from pg_roles where rolname = 'cb_probe_never'").fetchone() == (0,)
        conn.execute("drop role cb_probe_plain")
    assert not report.managed


def test_roles_command_shows_each_role(clean_warehouse, monkeypatch, capsys):
    monkeypatch.setenv("CLIENTBASE_BI_READER_PASSWORD", "bi-secret")
    capsys.readouterr()
    assert cli.main(["roles"]) == 0
    out = capsys.readouterr().out
    assert "bi_reader" in out and "read reporting" in out
    assert "clientbase_loader" in out and "bi-secret" not in out


# --- the pipeline itself, connecting as the roles ------------------------------------------

# Test-only audit of who wrote what: a statement trigger records current_user per table.
PROBE_SQL = """
create schema probe;
create table probe.writes (tbl text not null, who text not null);
grant usage on schema probe to public;
grant insert on probe.writes to public;
create function probe.record() returns trigger language plpgsql as $$
begin
    insert into probe.writes values (tg_table_schema || '.' || tg_table_name, current_user);
    return null;
end $$;
"""
PROBED_TABLES = ("raw.shipments", "audit.batches", "audit.month_close_leases", "audit.gate_decisions",
                 "reporting.publications")


@pytest.fixture
def role_urls(airflow_ready, monkeypatch) -> dict[str, str]:
    """The roles created (with passwords) by the owner's ensure_schema on an empty warehouse,
    and CLIENTBASE_LOADER_URL / CLIENTBASE_TRANSFORMER_URL pointing at them."""
    url = airflow_ready
    monkeypatch.setenv("CLIENTBASE_LOADER_PASSWORD", "loader-secret")
    monkeypatch.setenv("CLIENTBASE_TRANSFORMER_PASSWORD", "transformer-secret")
    reset_warehouse(url)  # ensure_schema as the owner: DDL, then the roles and their grants
    names = load_settings().roles
    urls = {"owner": url, "loader": as_user(url, names.loader, "loader-secret"),
            "transformer": as_user(url, names.transformer, "transformer-secret")}
    monkeypatch.setenv("CLIENTBASE_LOADER_URL", urls["loader"])
    monkeypatch.setenv("CLIENTBASE_TRANSFORMER_URL", urls["transformer"])
    yield urls
    with psycopg.connect(url, autocommit=True) as owner:
        owner.execute("drop schema if exists probe cascade")


def test_role_urls_default_to_the_warehouse_url(warehouse, monkeypatch):
    monkeypatch.delenv("CLIENTBASE_LOADER_URL", raising=False)
    monkeypatch.delenv("CLIENTBASE_TRANSFORMER_URL", raising=False)
    assert connection.loader_url() == connection.transformer_url() == connection.warehouse_url()
    monkeypatch.setenv("CLIENTBASE_LOADER_URL", "postgresql://l:x@h:1/db")
    monkeypatch.setenv("CLIENTBASE_TRANSFORMER_URL", "postgresql://t:x@h:1/db")
    assert (connection.loader_url(), connection.transformer_url()) == ("postgresql://l:x@h:1/db",
                                                                        "postgresql://t:x@h:1/db")


def test_pipeline_runs_as_the_loader_and_the_transformer(role_urls, tmp_path):
    owner_url, names = role_urls["owner"], load_settings().roles
    with psycopg.connect(owner_url, autocommit=True) as owner:
        # a reporting table the owner published before the roles were used (the upgrade case):
        # `clientbase roles` hands it to the transformer, whose publisher must then extend it
        owner.execute(f"create table reporting.{PUBLISHED_TABLES[0]} (month date)")
        assert not roles.ensure_roles(owner).refused
        owner.execute(PROBE_SQL)
        for table in PROBED_TABLES:
            owner.execute(f"create trigger probe_writes after insert or update on {table} "
                          "for each statement execute function probe.record()")
    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)

    assert cli.main(["run", "--landing", str(landing), "--from", "2024-11", "--to", "2024-12"]) == 0

    with psycopg.connect(owner_url, autocommit=True) as owner:
        published = owner.execute("select to_char(month, 'YYYY-MM') from reporting.publications order by 1")
        assert [r[0] for r in published] == ["2024-11", "2024-12"]
        # the two months published hold exactly the scenario's expected rows of those months
        assert owner.execute(f"select count(*) from reporting.{PUBLISHED_TABLES[0]}").fetchone()[0] == len(
            [r for r in expected_rows(PUBLISHED_TABLES[0]) if r["month"][:7] in ("2024-11", "2024-12")])
        writers = {}
        for table, who in owner.execute("select tbl, who from probe.writes"):
            writers.setdefault(table, set()).add(who)
        # everything that built or published anything: owned by the transformer
        owners = owner.execute(
            "select n.nspname, c.relname, pg_get_userbyid(c.relowner) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm')",
            (list((*roles.DBT_SCHEMAS, "reporting", "reporting_history")),)).fetchall()
        schema_owners = dict(owner.execute("select nspname, pg_get_userbyid(nspowner) from pg_namespace "
                                           "where nspname = any(%s)", (list(roles.DBT_SCHEMAS),)).fetchall())
    assert writers == {
        "raw.shipments": {names.loader}, "audit.batches": {names.loader},
        "audit.month_close_leases": {names.transformer}, "audit.gate_decisions": {names.transformer},
        "reporting.publications": {names.transformer},
    }
    not_transformer = [f"{s}.{t} ({o})" for s, t, o in owners
                       if o != names.transformer and (s, t) != ("reporting", "publications")]
    assert not not_transformer, not_transformer
    assert {s for s, _, _ in owners} >= {"staging", "marts", "reporting_stage", "reporting",
                                         "reporting_history"}
    assert schema_owners == {s: names.transformer for s in roles.DBT_SCHEMAS}

    with psycopg.connect(role_urls["loader"], autocommit=True) as loader:
        for forbidden in ("select * from reporting.publications", "select * from marts.dim_clients",
                          "delete from reporting.publications",
                          f"insert into reporting.{PUBLISHED_TABLES[0]} (month) values ('2024-01-01')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                loader.execute(forbidden)
    with psycopg.connect(role_urls["transformer"], autocommit=True) as transformer:
        for forbidden in ("delete from raw.shipments", "update raw.shipments set qty = 0",
                          "delete from audit.batches", "create table raw.sneaky (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                transformer.execute(forbidden)


def test_a_role_meeting_a_changed_schema_tells_to_run_it_as_the_owner(role_urls):
    from clientbase import tasks

    with psycopg.connect(role_urls["owner"], autocommit=True) as owner:
        owner.execute("update audit.schema_state set ddl_md5 = 'an older version'")
    for step in (lambda: tasks.extract(SHIPMENTS_FLOW, {"landing_dir": str(SCENARIOS / "status_rules" / "landing")}),
                 lambda: tasks.acquire_month_close("schema-probe", "test")):
        with pytest.raises(schema.SchemaNotApplied, match=r"may not apply it .*Run `clientbase status` \(or "
                                                          r"`clientbase roles`\) as the warehouse owner"):
            step()
    with psycopg.connect(role_urls["owner"], autocommit=True) as owner:
        # nothing half-applied, nothing loaded, no lease taken
        assert owner.execute("select ddl_md5 from audit.schema_state").fetchone() == ("an older version",)
        assert owner.execute("select count(*) from audit.batches").fetchone() == (0,)
        assert owner.execute("select count(*) from audit.month_close_leases").fetchone() == (0,)
        schema.ensure_schema(owner)  # what `clientbase status` does as the owner
        assert owner.execute("select ddl_md5 from audit.schema_state").fetchone() == (schema.ddl_fingerprint(),)
    results = tasks.extract(SHIPMENTS_FLOW, {"landing_dir": str(SCENARIOS / "status_rules" / "landing")})
    assert results and all(r["status"] == "loaded" for r in results)
