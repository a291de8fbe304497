"""Reference-list history derived in dbt from raw's list dates (no stored state).

Each clients / census file is the complete list as of its snapshot_date (sources.md): a list
is in force from its date until the next one; months before the first list use the first
list as a whole; an entity absent from the list in force has no version that month.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from clientbase.contract import SHIPMENTS_FLOW, VISITS_FLOW
from clientbase.extract.run import Sources, extract_datasets
from clientbase.transform import dbt
from conftest import SCENARIOS, reset_warehouse

LIST_MODELS = "+int_client_attributes_monthly +int_trade_point_attributes_monthly"


def build_lists(url: str, landing: Path, target: Path) -> None:
    extract_datasets(url, SHIPMENTS_FLOW + VISITS_FLOW, Sources(landing))
    assert dbt.run_dbt(url, ["run", "--select", *LIST_MODELS.split()], target) == 0


def owners_by_month(url: str, client_id: str) -> dict[str, str | None]:
    """month -> owner of the client for every month of the spine (None: no version that month)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select to_char(s.month, 'YYYY-MM'), a.manager_id from intermediate.int_month_spine s "
            "left join intermediate.int_client_attributes_monthly a on a.month = s.month and a.client_id = %s "
            "order by s.month", (client_id,)).fetchall()
    return dict(rows)


def attributes_fingerprint(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select md5(string_agg(t::text, '|' order by t::text)) from ("
            " select 'c', client_id, month, manager_id, tier, channel, list_date::text "
            " from intermediate.int_client_attributes_monthly"
            " union all select 'p', point_id, month, territory, rep_id, is_in_census::text, list_date::text"
            " from intermediate.int_trade_point_attributes_monthly) t").fetchone()[0]


def runs(first: str, last: str, value) -> dict[str, object]:
    """{month: value} for the months first … last (YYYY-MM), inclusive."""
    y, m = map(int, first.split("-"))
    out = {}
    while f"{y:04d}-{m:02d}" <= last:
        out[f"{y:04d}-{m:02d}"] = value
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def clients_list(original: str, date: str, replace: dict[str, str | None]) -> str:
    """The 2023-01-01 list re-dated; each `replace` row text changed (None: the client left)."""
    lines = original.replace("2023-01-01", date).splitlines(keepends=True)
    out = []
    for line in lines:
        key = line.split(",", 1)[0]
        if key in replace:
            if replace[key] is not None:
                out.append(replace[key].replace("{date}", date) + "\n")
        else:
            out.append(line)
    return "".join(out)


def test_list_history_follows_list_dates_and_late_lists(clean_warehouse, tmp_path):
    url = clean_warehouse
    landing = tmp_path / "landing"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", landing)
    clients = landing / "clients"
    original = (clients / "clients_2023-01-01.csv").read_text()
    # two more lists arrive at once: A_regular moves to MG2 in June, back to MG1 in September;
    # B_fades leaves the list in September; NEW_late first appears in the June list
    june = clients_list(original, "2023-06-01", {
        "A_regular": "A_regular,A_regular,regular,retail,,MG2,{date}"})
    june += "NEW_late,NEW_late,regular,retail,,MG2,2023-06-01\n"
    (clients / "clients_2023-06-01.csv").write_text(june)
    september = clients_list(original, "2023-09-01", {"B_fades": None})
    september += "NEW_late,NEW_late,regular,retail,,MG2,2023-09-01\n"
    (clients / "clients_2023-09-01.csv").write_text(september)
    build_lists(url, landing, tmp_path / "dbt1")

    last = max(owners_by_month(url, "A_regular"))
    assert owners_by_month(url, "A_regular") == {**runs("2023-01", "2023-05", "MG1"),
                                                 **runs("2023-06", "2023-08", "MG2"),
                                                 **runs("2023-09", last, "MG1")}
    # absent from the September list: no version (no owner) from September on
    assert owners_by_month(url, "B_fades") == {**runs("2023-01", "2023-08", "MG1"),
                                               **runs("2023-09", last, None)}
    # first listed in June: months before the first list use the first list *as a whole*
    assert owners_by_month(url, "NEW_late") == {**runs("2023-01", "2023-05", None),
                                                **runs("2023-06", last, "MG2")}

    # a list dated between two loaded ones arrives late: A_regular is MG3's in March–May
    (clients / "clients_2023-03-01.csv").write_text(clients_list(original, "2023-03-01", {
        "A_regular": "A_regular,A_regular,vip,retail,,MG3,{date}"}))
    build_lists(url, landing, tmp_path / "dbt2")
    assert owners_by_month(url, "A_regular") == {**runs("2023-01", "2023-02", "MG1"),
                                                 **runs("2023-03", "2023-05", "MG3"),
                                                 **runs("2023-06", "2023-08", "MG2"),
                                                 **runs("2023-09", last, "MG1")}
    late = attributes_fingerprint(url)

    # the same four lists loaded in date order give exactly the same history
    reset_warehouse(url)
    in_order = tmp_path / "in_order"
    shutil.copytree(SCENARIOS / "status_rules" / "landing", in_order)
    for path in sorted(clients.glob("*.csv")):
        shutil.copy(path, in_order / "clients" / path.name)
    build_lists(url, in_order, tmp_path / "dbt3")
    assert attributes_fingerprint(url) == late
