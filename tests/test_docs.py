"""The documentation site: dbt docs + GX Data Docs, generated and served over http."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.request
from pathlib import Path

import psycopg
import pytest

from clientbase import docs
from clientbase.quality import data_docs
from clientbase.quality import expectations as qx
from clientbase.settings import load_settings


@pytest.fixture
def served():
    """Start servers on free ports in threads; stop them after the test."""
    servers = []

    def start(directory: Path) -> str:
        server = docs.make_server(directory, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read().decode("utf-8")


def gx_results(url: str, results_dir: Path) -> None:
    """A real (tiny) GX validation whose Data Docs become the 'latest run' ones."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists docs_probe")
        conn.execute("drop table if exists docs_probe.t")
        conn.execute("create table docs_probe.t as select 1 as a")
    probe = qx.parse_suite({"name": "docs_probe", "model": "docs_probe", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}]})
    [result] = qx.validate(url, [probe], {}, "docs-probe-run", {"docs_probe": "docs_probe.t"},
                           results_dir=results_dir)
    assert result.success
    data_docs.publish(results_dir, data_docs.latest_dir())


def test_docs_site_has_dbt_lineage_and_gx_data_docs_served_over_http(warehouse, tmp_path, served):
    gx_results(warehouse, tmp_path / "gx-results")
    out = tmp_path / "site"
    index = docs.build(out)
    assert index == out.resolve() / "index.html"
    for name in ("index.html", "manifest.json", "catalog.json", "static_index.html"):
        assert (out / "dbt" / name).is_file(), name
    base = served(out)
    page = fetch(base + "/")
    assert 'href="dbt/index.html">dbt docs (lineage)' in page
    assert 'href="gx/index.html">Data quality (GX Data Docs)' in page
    manifest = json.loads(fetch(base + "/dbt/manifest.json"))
    assert "model.clientbase.client_status_monthly" in manifest["nodes"]
    assert "docs-probe-run" in fetch(base + "/gx/index.html")  # the latest run's results


def test_before_any_run_the_quality_link_explains_itself(tmp_path, served):
    fresh = dataclasses.replace(load_settings(), home=tmp_path / "fresh-home")
    index = docs.build(tmp_path / "site", with_dbt=False, settings=fresh)
    text = index.read_text()
    assert "no month close has run yet" in text and "not generated" in text
    base = served(index.parent)
    assert "No data quality results yet" in fetch(base + "/gx/index.html")


def test_the_newest_run_directory_is_used_when_no_stable_copy_exists(tmp_path):
    fresh = dataclasses.replace(load_settings(), home=tmp_path / "home")
    site = fresh.run_dir / "run-a" / "gx" / "data_docs"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html>run-a results</html>")
    index = docs.build(tmp_path / "site", with_dbt=False, settings=fresh)
    assert (index.parent / "gx" / "index.html").read_text() == "<html>run-a results</html>"
    assert str(site) in index.read_text()


def test_command_line_without_dbt(tmp_path):
    assert docs.main(["--no-dbt", "--out", str(tmp_path / "cli-site")]) == 0
    assert (tmp_path / "cli-site" / "index.html").is_file()
