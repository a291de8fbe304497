"""SQL mode: the same distributor read from source databases publishes what its files publish."""

from __future__ import annotations

import psycopg

from clientbase import cli
from clientbase.generate import generate
from clientbase.warehouse.connection import with_database

from conftest import reset_warehouse
from test_pipeline import reporting_fingerprint


def _create_database(url: str, name: str) -> str:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name}")
        conn.execute(f"create database {name}")
    return with_database(url, name)


def test_sql_mode_publishes_the_same_as_files_mode(airflow_ready, tmp_path):
    url = airflow_ready
    source = _create_database(url, "erp_sfa_source")
    summary = generate(tmp_path / "landing", source, months=8, clients=40, seed=11)
    months = ["--from", summary.first_month[:7], "--to", summary.last_month[:7]]

    reset_warehouse(url)
    assert cli.main(["run", "--landing", str(tmp_path / "landing"), *months]) == 0
    from_files = reporting_fingerprint(url)

    reset_warehouse(url)
    assert cli.main(["run", "--erp-url", source, "--sfa-url", source, *months]) == 0
    assert reporting_fingerprint(url) == from_files
    with psycopg.connect(url) as conn:
        kinds = {r[0] for r in conn.execute("select distinct source_kind from audit.batches")}
        watermark = conn.execute(
            "select watermark from audit.batches where dataset = 'shipments'").fetchone()[0]
    assert kinds == {"sql"}
    assert watermark is not None

    # a second extraction reads only rows changed after the watermark: none, so no new batch
    assert cli.main(["run", "--erp-url", source, "--sfa-url", source, *months]) == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from audit.batches where dataset = 'shipments'").fetchone()[0] == 1
    assert reporting_fingerprint(url) == from_files
