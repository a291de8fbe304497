"""Reference-list history: dbt snapshots fed every list date in order, late lists rebuild."""

from __future__ import annotations

import shutil

import psycopg

from clientbase.contract import SHIPMENTS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from clientbase.tasks import month_close, snapshot_lists

from conftest import SCENARIOS

CLIENTS_HEADER = "client_id,name,tier,channel,inn,manager_id,snapshot_date\n"


def owners(url: str, client_id: str) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select manager_id, dbt_valid_from::date::text, dbt_valid_to::date::text "
            "from snapshots.snap_clients where client_id = %s order by dbt_valid_from",
            (client_id,),
        ).fetchall()


def test_lists_replayed_in_date_order_and_late_list_rebuilds_history(clean_warehouse, tmp_path):
    url = clean_warehouse
    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)
    clients = landing / "clients"
    original = (clients / "clients_2023-01-01.csv").read_text()
    # two more lists arrive at once: A_regular moves to MG2 in June, back to MG1 in September
    (clients / "clients_2023-06-01.csv").write_text(
        original.replace("2023-01-01", "2023-06-01").replace("A_regular,A_regular,regular,retail,,MG1",
                                                             "A_regular,A_regular,regular,retail,,MG2"))
    (clients / "clients_2023-09-01.csv").write_text(original.replace("2023-01-01", "2023-09-01"))
    extract_datasets(url, SHIPMENTS_FLOW, Sources(landing))

    with month_close("test-run-1"):
        replayed = snapshot_lists("test-run-1")
    assert replayed == ["2023-01-01", "2023-06-01", "2023-09-01"]
    assert owners(url, "A_regular") == [("MG1", "2023-01-01", "2023-06-01"),
                                        ("MG2", "2023-06-01", "2023-09-01"),
                                        ("MG1", "2023-09-01", None)]
    with month_close("test-run-2"):
        assert snapshot_lists("test-run-2") == []  # nothing new: nothing replayed

    # a list dated between two captured ones arrives late: history is rebuilt in date order
    (clients / "clients_2023-03-01.csv").write_text(
        original.replace("2023-01-01", "2023-03-01").replace("A_regular,A_regular,regular,retail,,MG1",
                                                             "A_regular,A_regular,vip,retail,,MG3"))
    extract_datasets(url, SHIPMENTS_FLOW, Sources(landing))
    with month_close("test-run-3"):
        assert snapshot_lists("test-run-3") == ["2023-01-01", "2023-03-01", "2023-06-01", "2023-09-01"]
    assert [o[0] for o in owners(url, "A_regular")] == ["MG1", "MG3", "MG2", "MG1"]
