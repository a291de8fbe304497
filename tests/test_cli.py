"""The clientbase command's own behaviour: arguments, status, clear errors."""

from __future__ import annotations

import shutil

from clientbase import cli

from conftest import SCENARIOS


def test_status_shows_loads_quarantine_and_publications(clean_warehouse, tmp_path, capsys):
    from clientbase.extract.run import Sources, extract_datasets
    from clientbase.contract import SHIPMENTS_FLOW

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


def test_unreachable_warehouse_fails_fast_naming_the_url(monkeypatch, capsys):
    monkeypatch.setenv("CLIENTBASE_WAREHOUSE_URL", "postgresql://analyst:s3cret@127.0.0.1:1/warehouse")
    assert cli.main(["status"]) == 2
    out = capsys.readouterr().out
    assert "127.0.0.1:1/warehouse" in out
    assert "s3cret" not in out
    assert "CLIENTBASE_WAREHOUSE_URL" in out


def test_bad_month_argument_is_explained():
    import pytest

    from clientbase.tasks import resolve_months

    with pytest.raises(ValueError, match="is not a month"):
        resolve_months("2024/01", "2024-03", None)
    assert resolve_months("2023-11", "2024-02", None) == ["2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01"]
    with pytest.raises(ValueError, match="'from' is after 'to'"):
        resolve_months("2024-05", "2024-03", None)
