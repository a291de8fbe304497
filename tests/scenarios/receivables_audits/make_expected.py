"""Write expected/*.csv of the receivables_audits scenario from the hand tables below.

Every value here was worked out by hand from spec/metrics.md §4, §5 and §8–§10 (the arithmetic is in README.md,
table by table); this file only writes those tables out as CSV, with ratios typed as exact fractions
("5/19") so that the CSV carries the full float and the compare (rel 1e-9) is not fooled by rounding.
Nothing here reads landing/ or the warehouse. Run: ``python tests/scenarios/receivables_audits/make_expected.py``.
"""

from __future__ import annotations

import csv
import sys
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
MONTHS = ("2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01")


def value(text: str) -> str:
    """A hand value as CSV text: '' is NULL, 'a/b' an exact fraction, anything else as typed."""
    text = text.strip()
    if text in ("", "-"):
        return ""
    if "/" in text:
        return repr(float(Fraction(text)))
    return text


def write(root: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    path = root / "expected" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(header)
        out.writerows([[value(c) for c in row] for row in rows])


# README "receivables_monthly": manager -> per month
# receivables, overdue, overdue_share, overdue_clients, planned, payments, discipline, paid_on_time, on_time_share
RECEIVABLES = {
    "2024-01-01": {
        "MF": "1800 0 0 0 300 300 1 0 0",
        "MH": "200 0 0 0 0 0 - 0 -",
        "": "2000 0 0 0 300 300 1 0 0",
    },
    "2024-02-01": {
        "MF": "400 400 1 1 1800 1400 7/9 1400 7/9",
        "MH": "1000 0 0 0 200 200 1 200 1",
        "": "1400 400 2/7 1 2000 1600 4/5 1600 4/5",
    },
    "2024-03-01": {
        "MF": "300 300 1 1 0 100 - 0 -",
        "MH": "950 250 5/19 1 1000 750 3/4 750 3/4",
        "": "1250 550 11/25 2 1000 850 17/20 750 3/4",
    },
    "2024-04-01": {
        "MF": "250 0 0 0 250 300 6/5 0 0",
        "MH": "1600 700 7/16 1 700 250 5/14 0 0",
        "": "1850 700 14/37 1 950 550 11/19 0 0",
    },
}

# README "client_status_monthly": client -> receivables/overdue per month (Jan, Feb, Mar, Apr)
CLIENT_RECEIVABLES = {
    "C1": ("1000/0", "400/400", "0/0", "250/0"),
    "C2": ("800/0", "0/0", "300/300", "0/0"),
    "C3": ("0/0", "1000/0", "250/250", "0/0"),
    "C4": ("200/0", "0/0", "700/0", "1600/700"),
    "C5": ("0/0", "0/0", "0/0", "0/0"),
}

# README "retail_audit_monthly": (dimension, value) -> audited, planogram, coverage, mml_skus, present, KD
AUDITS = {
    "2024-01-01": {
        ("total", "all"): "1 1 1 3 3 1",
        ("territory", "North"): "1 1 1 3 3 1",
        ("rep", "R1"): "1 1 1 3 3 1",
        ("channel", "retail"): "1 1 1 3 3 1",
    },
    "2024-02-01": {
        ("total", "all"): "2 0 0 3 4 2/3",
        ("territory", "North"): "1 0 0 3 2 2/3",
        ("territory", "South"): "1 0 0 3 2 2/3",
        ("rep", "R1"): "1 0 0 3 2 2/3",
        ("rep", "R2"): "1 0 0 3 2 2/3",
        ("channel", "horeca"): "1 0 0 3 2 2/3",
        ("channel", "retail"): "1 0 0 3 2 2/3",
    },
    "2024-03-01": {
        ("total", "all"): "2 1 1/2 3 4 2/3",
        ("territory", "North"): "1 0 0 3 1 1/3",
        ("territory", "South"): "1 1 1 3 3 1",
        ("rep", "R1"): "1 0 0 3 1 1/3",
        ("rep", "R2"): "1 1 1 3 3 1",
        ("channel", "retail"): "1 0 0 3 1 1/3",
        ("channel", "horeca"): "1 1 1 3 3 1",
    },
    "2024-04-01": {
        ("total", "all"): "3 1 1/3 3 4 4/9",
        ("territory", "North"): "1 1 1 3 3 1",
        ("territory", "South"): "2 0 0 3 1 1/6",
        ("rep", "R2"): "2 1 1/2 3 4 2/3",
        ("rep", "R3"): "1 0 0 3 0 0",
        ("channel", "horeca"): "1 1 1 3 3 1",
        ("channel", "retail"): "2 0 0 3 1 1/6",
    },
}

CODES = ("okb pakb akb coverage_pakb coverage_okb stable_akb stability stt stt_share category_akb "
         "category_akb_share planned_visits orders effective_orders visit_effectiveness kpd_effectiveness "
         "cost_per_visit cost_per_order margin_per_order useful_income_share overdue_share payment_discipline "
         "planogram_coverage distribution_coefficient").split()
DIMENSIONS = (("total", "all"), ("territory", "North"), ("territory", "South"),
              ("rep", "R1"), ("rep", "R2"), ("rep", "R3"))

# README "kpi_matrix_monthly": line -> values for total, North, South, R1, R2, R3 ('-' = NULL)
MATRIX = {
    "2024-03-01": {
        1: "5 2 3 2 2 1",
        2: "4 2 2 2 2 0",
        3: "4 2 2 2 2 0",
        4: "1 1 1 1 1 -",
        5: "4/5 1 2/3 1 1 0",
        6: "3 2 1 2 1 0",
        7: "3/4 1 1/2 1 1/2 -",
        8: "2 1 1 1 1 0",
        9: "1/2 1/2 1/2 1/2 1/2 -",
        10: "1 1 0 1 0 0",
        11: "1/4 1/2 0 1/2 0 -",
        12: "12 6 6 6 6 0",
        13: "11 6 5 6 5 0",
        14: "9 4 5 4 5 0",
        15: "11/12 1 5/6 1 5/6 -",
        16: "3/4 2/3 5/6 2/3 5/6 -",
        17: "230/8 - - 180/6 50/2 -",
        18: "230/7 - - 180/6 50/1 -",
        19: "1200/10 - - 680/6 520/4 -",
        20: "570/800 - - 500/680 70/120 -",
        21: "550/1250 - - - - -",
        22: "2750/3300 - - - - -",
        23: "1/4 0 1/2 0 1/2 -",
        24: "8/12 3/6 5/6 3/6 5/6 -",
    },
    "2024-04-01": {
        1: "5 2 3 1 3 1",
        2: "5 2 3 1 3 1",
        3: "4 2 2 1 3 0",
        4: "4/5 1 2/3 1 1 0",
        5: "4/5 1 2/3 1 1 0",
        6: "2 2 0 1 1 0",
        7: "1/2 1 0 1 1/3 -",
        8: "1 1 0 0 1 0",
        9: "1/4 1/2 0 0 1/3 -",
        10: "1 1 0 1 0 0",
        11: "1/4 1/2 0 1 0 -",
        12: "13 6 7 3 9 1",
        13: "10 6 4 3 7 0",
        14: "7 4 3 1 6 0",
        15: "10/13 1 4/7 1 7/9 0",
        16: "7/13 4/6 3/7 1/3 6/9 0",
        17: "295/9 - - 170/3 125/6 -",
        18: "295/7 - - 170/3 125/4 -",
        19: "960/9 - - 280/3 680/6 -",
        20: "385/680 - - 110/280 275/400 -",
        21: "700/1850 - - - - -",
        22: "3000/3950 - - - - -",
        23: "2/5 1/2 1/3 0 2/3 0",
        24: "8/15 4/6 4/9 1/3 7/9 0",
    },
}

# README "coverage_monthly" (existing table, §4): (dimension, value) -> okb pakb akb coverage_pakb coverage_okb
# akb_3m stable_akb_3m stability_3m
COVERAGE = {
    "2024-01-01": {
        ("total", "all"): "5 4 4 1 4/5 4 0 0",
        ("territory", "North"): "2 2 2 1 1 2 0 0",
        ("territory", "South"): "3 2 2 1 2/3 2 0 0",
        ("rep", "R1"): "2 2 2 1 1 2 0 0",
        ("rep", "R2"): "2 2 2 1 1 2 0 0",
        ("rep", "R3"): "1 0 0 - 0 0 0 -",
        ("channel", "retail"): "3 2 2 1 2/3 2 0 0",
        ("channel", "horeca"): "2 2 2 1 1 2 0 0",
    },
    "2024-02-01": {
        ("total", "all"): "5 4 3 3/4 3/5 4 0 0",
        ("territory", "North"): "2 2 2 1 1 2 0 0",
        ("territory", "South"): "3 2 1 1/2 1/3 2 0 0",
        ("rep", "R1"): "2 2 2 1 1 2 0 0",
        ("rep", "R2"): "2 2 1 1/2 1/2 2 0 0",
        ("rep", "R3"): "1 0 0 - 0 0 0 -",
        ("channel", "retail"): "3 2 2 1 2/3 2 0 0",
        ("channel", "horeca"): "2 2 1 1/2 1/2 2 0 0",
    },
    "2024-03-01": {
        ("total", "all"): "5 4 4 1 4/5 4 3 3/4",
        ("territory", "North"): "2 2 2 1 1 2 2 1",
        ("territory", "South"): "3 2 2 1 2/3 2 1 1/2",
        ("rep", "R1"): "2 2 2 1 1 2 2 1",
        ("rep", "R2"): "2 2 2 1 1 2 1 1/2",
        ("rep", "R3"): "1 0 0 - 0 0 0 -",
        ("channel", "retail"): "3 2 2 1 2/3 2 2 1",
        ("channel", "horeca"): "2 2 2 1 1 2 1 1/2",
    },
    "2024-04-01": {
        ("total", "all"): "5 5 3 3/5 3/5 4 2 1/2",
        ("territory", "North"): "2 2 2 1 1 2 2 1",
        ("territory", "South"): "3 3 1 1/3 1/3 2 0 0",
        ("rep", "R1"): "1 1 1 1 1 1 1 1",
        ("rep", "R2"): "3 3 2 2/3 2/3 3 1 1/3",
        ("rep", "R3"): "1 1 0 0 0 0 0 -",
        ("channel", "retail"): "3 3 1 1/3 1/3 2 1 1/2",
        ("channel", "horeca"): "2 2 2 1 1 2 1 1/2",
    },
}

# README "visits_monthly" (existing table, §5): rep -> planned actual orders effective visit_effectiveness
# kpd_effectiveness stt_3m akb_3m stt_share rep_cost cost_per_visit cost_per_order margin margin_per_order
# useful_income_share (R3 in Jan and Feb has no plan, visit or order: an all-zero row, left out)
VISITS = {
    "2024-01-01": {
        "R1": "2 2 2 2 1 1 2 2 1 60 30 30 280 140 11/14",
        "R2": "2 2 2 2 1 1 2 2 1 - - - 240 - -",
    },
    "2024-02-01": {
        "R1": "2 2 2 1 1 1/2 1 2 1/2 60 30 30 200 100 7/10",
        "R2": "2 2 1 1 1/2 1/2 1 2 1/2 50 25 50 120 120 7/12",
    },
    "2024-03-01": {
        "R1": "2 2 2 1 1 1/2 1 2 1/2 60 30 30 200 100 7/10",
        "R2": "2 2 2 2 1 1 1 2 1/2 - - - - - -",
        "R3": "0 1 0 0 - - 0 0 - - - - 0 - -",
    },
    "2024-04-01": {
        "R1": "1 1 1 1 1 1 0 1 0 50 50 50 120 120 7/12",
        "R2": "3 3 2 1 2/3 1/3 1 3 1/3 75 25 75/2 160 80 85/160",
        "R3": "1 1 0 0 0 0 0 0 - - - - 0 - -",
    },
}


def main(root: Path = HERE) -> None:
    """Write every expected CSV under ``root`` (the scenario folder, or a temp dir in the test)."""
    rows = []
    for month, by_manager in RECEIVABLES.items():
        for manager, cells in by_manager.items():
            rows.append([month, manager, *cells.split()])
    write(root, "receivables_monthly",
          ["month", "manager_id", "receivables", "overdue_receivables", "overdue_share", "overdue_clients",
           "planned_payments", "payments", "payment_discipline", "paid_on_time", "on_time_share"], rows)

    write(root, "client_status_monthly", ["month", "client_id", "receivables", "overdue_receivables"],
          [[month, client, *cells[i].split("/")]
           for i, month in enumerate(MONTHS) for client, cells in CLIENT_RECEIVABLES.items()])

    # the scorecard carries the manager rows of receivables_monthly: receivables and overdue_share
    write(root, "manager_scorecard_monthly", ["month", "manager_id", "receivables", "overdue_share"],
          [[month, manager, cells.split()[0], cells.split()[2]]
           for month, by_manager in RECEIVABLES.items() for manager, cells in by_manager.items() if manager])

    write(root, "retail_audit_monthly",
          ["month", "dimension", "dimension_value", "audited_points", "planogram_points", "planogram_coverage",
           "mml_skus", "mml_present", "distribution_coefficient"],
          [[month, dim, val, *cells.split()] for month, groups in AUDITS.items()
           for (dim, val), cells in groups.items()])

    write(root, "coverage_monthly",
          ["month", "dimension", "dimension_value", "okb", "pakb", "akb", "coverage_pakb", "coverage_okb",
           "akb_3m", "stable_akb_3m", "stability_3m"],
          [[month, dim, val, *cells.split()] for month, groups in COVERAGE.items()
           for (dim, val), cells in groups.items()])

    write(root, "visits_monthly",
          ["month", "rep_id", "planned_visits", "actual_visits", "orders", "effective_orders",
           "visit_effectiveness", "kpd_effectiveness", "stt_3m", "akb_3m", "stt_share", "rep_cost",
           "cost_per_visit", "cost_per_order", "margin", "margin_per_order", "useful_income_share"],
          [[month, rep, *cells.split()] for month, reps in VISITS.items() for rep, cells in reps.items()])

    rows = []
    for month, lines in MATRIX.items():
        assert sorted(lines) == list(range(1, 25)), month
        for (dim, val), column in zip(DIMENSIONS, range(len(DIMENSIONS)), strict=True):
            for no in range(1, 25):
                cells = lines[no].split()
                assert len(cells) == len(DIMENSIONS), (month, no)
                rows.append([month, dim, val, str(no), CODES[no - 1], cells[column]])
    write(root, "kpi_matrix_monthly", ["month", "dimension", "dimension_value", "metric_no", "metric_code", "value"],
          rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
