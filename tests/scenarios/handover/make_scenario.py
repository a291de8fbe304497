"""Write landing/ and expected/client_status_monthly.csv of the handover scenario.

The rows are repetitive (121 clients of two farmers), so they are generated; every value below is
a hand reading of spec/metrics.md written out as a table (the README has the arithmetic), not the
output of the pipeline. expected/manager_scorecard_monthly.csv is written by hand, not here.
Run from anywhere: ``python tests/scenarios/handover/make_scenario.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
LIST_DATES = {"2024-01": "2024-01-01", "2024-02": "2024-02-10", "2024-03": "2024-03-10", "2024-04": "2024-04-10"}
# the list in force in each month (the latest list dated on or before the month's last day)
LIST_OF_MONTH = {"2024-01": "2024-01", "2024-02": "2024-02", "2024-03": "2024-03",
                 "2024-04": "2024-04", "2024-05": "2024-04", "2024-06": "2024-04"}

# client -> (tier, owner per list month; None = absent from that list)
HANDOVER_CLIENTS = {
    "V1": ("vip", ["H1", "F1", "F1", "F1"]),
    "V2": ("vip", ["H1", "F1", "F1", "F1"]),
    "K1": ("key", ["H1", "F1", "F1", "F1"]),
    "R1": ("regular", ["H1", "F1", "F1", "F1"]),
    "K2": ("key", ["H1", "H1", "H1", "F1"]),
    "K3": ("key", ["H1", "H1", "H1", "F1"]),
    "X1": ("vip", ["H1", "H1", None, "F1"]),
    "V3": ("vip", ["H2", "H2", "H1", "H1"]),
    "K4": ("key", ["H2", "H2", "F1", "F1"]),
    "H1N1": ("regular", ["H1", "H1", "H1", "H1"]),
    "H2N1": ("regular", ["H2", "H2", "H2", "H2"]),
    "F1A": ("regular", ["F1", "F1", "F1", "F1"]),
}
F2_STEADY = [f"F2_{i:02d}" for i in range(1, 21)]      # active every month
F2_ONCE = [f"F2_{i:02d}" for i in range(21, 62)]       # active in January only
F3_STEADY = [f"F3_{i:02d}" for i in range(1, 61)]      # active every month


def owners() -> dict[str, tuple[str, list[str | None]]]:
    out = dict(HANDOVER_CLIENTS)
    out.update({c: ("regular", ["F2"] * 4) for c in F2_STEADY + F2_ONCE})
    out.update({c: ("regular", ["F3"] * 4) for c in F3_STEADY})
    return out


def active_months(client: str) -> list[str]:
    return MONTHS[:1] if client in F2_ONCE else MONTHS


def write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)


def owner_in(client: str, month: str) -> str | None:
    _tier, by_list = owners()[client]
    return by_list[list(LIST_DATES).index(LIST_OF_MONTH[month])]


def main(out: Path = HERE) -> None:
    """Write landing/ and expected/client_status_monthly.csv under ``out`` (the scenario folder by default)."""
    landing = out / "landing"
    clients = owners()
    write(landing / "managers" / "managers.csv", ["manager_id", "name", "role", "team", "active"],
          [["H1", "Hunter One", "hunter", "sales", "true"], ["H2", "Hunter Two", "hunter", "sales", "true"],
           ["F1", "Farmer One", "farmer", "sales", "true"], ["F2", "Farmer Two", "farmer", "sales", "true"],
           ["F3", "Farmer Three", "farmer", "sales", "true"], ["R1", "Rep One", "farmer", "field", "true"]])
    write(landing / "products" / "products.csv", ["sku", "name", "category", "brand"],
          [["D1", "Drink 1", "DRINKS", "b"]])
    for index, list_date in enumerate(LIST_DATES.values()):
        rows = [[c, f"{c}_client", tier, "retail", "", by_list[index], list_date]
                for c, (tier, by_list) in clients.items() if by_list[index] is not None]
        write(landing / "clients" / f"clients_{list_date}.csv",
              ["client_id", "name", "tier", "channel", "inn", "manager_id", "snapshot_date"], rows)
    write(landing / "trade_points" / "points_2024-01-01.csv",
          ["point_id", "client_id", "name", "address", "territory", "channel", "rep_id", "active", "snapshot_date"],
          [[f"P_{c}", c, f"Point {c}", "", "North", "retail", "R1", "true", "2024-01-01"] for c in clients])
    lines = []
    for c in clients:
        for month in active_months(c):
            lines.append([f"W-{c}-{month}", 1, f"{month}-15", c, f"P_{c}", "D1", 1, 100, 60,
                          owner_in(c, month) or "", "posted"])
    write(landing / "shipments" / "shipments.csv",
          ["doc_id", "line_no", "doc_date", "client_id", "point_id", "sku", "qty", "revenue", "cost",
           "manager_id", "status"], lines)

    # metrics.md §2 by hand: first active month January for every client, so January is the new
    # event, January .. March are new (M - first < 3); from April (M - first = 3) a client active
    # every month has 3 of the last 3 months active: stabilized; a January-only client has none
    # (months_inactive 3, 4, 5 <= 12): lost.
    expected = []
    for month in MONTHS:
        for c in clients:
            once = c in F2_ONCE
            m = MONTHS.index(month)
            status = "new" if m < 3 else ("lost" if once else "stabilized")
            months_inactive = m if once else 0
            expected.append([f"{month}-01", c, owner_in(c, month) or "", status,
                             "true" if m == 0 else "false", months_inactive])
    write(out / "expected" / "client_status_monthly.csv",
          ["month", "client_id", "manager_id", "status", "is_new_this_month", "months_inactive"], expected)


if __name__ == "__main__":
    main()
