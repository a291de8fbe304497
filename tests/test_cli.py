"""The clientbase command's own behaviour: arguments, status, clear errors."""

from __future__ import annotations

import shutil

from clientbase import cli
from conftest import SCENARIOS


def test_status_shows_loads_quarantine_and_publications(clean_warehouse, tmp_path, capsys):
    from clientbase.contract import SHIPMENTS_FLOW
    from clientbase.extract.run import Sources, extract_datasets

    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)
    (landing / "shipments" / "zz_bad.csv").write_text(
        "doc_id,line_no,doc_date,client_id,point_id,sku,qty,revenue\nX,1,2023-13-01,A_regular,P_A_regular,S1,1,1\n")
    extract_datasets(clean_warehouse, SHIPMENTS_FLOW, Sources(landing))
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Loaded batches" in out and "shipments" in out
    assert "Quarantine" in out and "invalid" in out
    assert "published: nothing yet" in out


def test_run_refuses_a_missing_landing_folder(tmp_path, capsys):
    assert cli.main(["run", "--landing", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().out


def test_unreachable_warehouse_fails_fast_in_one_line_naming_the_server(monkeypatch, capsys):
    monkeypatch.setenv("CLIENTBASE_WAREHOUSE_URL", "postgresql://analyst:s3cret@127.0.0.1:1/warehouse")
    assert cli.main(["status"]) == 2
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == ("cannot reach PostgreSQL at 127.0.0.1:1 (connection refused): start the server, "
                                    "or fix the host and port in CLIENTBASE_WAREHOUSE_URL")
    assert "s3cret" not in out


def test_bad_month_argument_is_explained():
    import pytest

    from clientbase.tasks import resolve_months

    with pytest.raises(ValueError, match="is not a month"):
        resolve_months("2024/01", "2024-03", None)
    assert resolve_months("2023-11", "2024-02", None) == ["2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01"]
    with pytest.raises(ValueError, match="'from' is after 'to'"):
        resolve_months("2024-05", "2024-03", None)


def test_run_refuses_an_unknown_threshold(tmp_path, capsys):
    (tmp_path / "shipments").mkdir()
    assert cli.main(["run", "--landing", str(tmp_path), "--set", "stt_treshold=0.8"]) == 2
    out = capsys.readouterr().out
    assert "unknown threshold(s) stt_treshold" in out and "stt_threshold" in out
    assert cli.main(["run", "--landing", str(tmp_path), "--set", "stt_threshold"]) == 2
    assert "write NAME=VALUE" in capsys.readouterr().out


def test_run_with_a_threshold_override(airflow_ready, tmp_path):
    """--set reaches dbt's models and its tests of the same run: both use rotation_after_months = 6."""
    import psycopg

    from conftest import reset_warehouse

    url = airflow_ready
    reset_warehouse(url)
    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)
    args = ["run", "--landing", str(landing), "--from", "2023-09", "--to", "2023-09"]
    assert cli.main([*args, "--set", "rotation_after_months=6"]) == 0
    with psycopg.connect(url) as conn:
        overridden = conn.execute("select client_id, months_inactive from reporting.rotation_candidates "
                                  "order by client_id").fetchall()
    assert cli.main(args) == 0
    with psycopg.connect(url) as conn:
        default = conn.execute("select client_id, months_inactive from reporting.rotation_candidates "
                               "order by client_id").fetchall()
        versions = conn.execute("select max(version) from reporting.publications").fetchone()[0]
    assert overridden and all(m >= 6 for _, m in overridden)
    assert len(default) > len(overridden) and min(m for _, m in default) == 2
    assert versions == 2  # the default thresholds changed the month: republished
