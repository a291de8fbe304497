"""Retail audits through the whole pipeline: planogram coverage (КП) and MML distribution (КД), metrics.md §9.

A small landing is written here (four points, two census lists, three MML products among
five, eight audits over January … March 2024) and published twice through the real
``clientbase run``: first without the optional ``retail_audits`` dataset (every audit
figure must be NULL, never 0), then with it. Every expected figure below was worked out by
hand from the spec (the arithmetic is beside each one), not from the SQL.

The audits, and what each one checks:

| audit | date | point | rows (sku: present), planogram_ok | counted? |
|---|---|---|---|---|
| A01 | 2024-01-10 | P1 | S1 y, S2 y, S3 n, S4 y (not MML); true | no: A02 is later in January |
| A02 | 2024-01-20 | P1 | S1 y, S2 y, S3 y; false | January: planogram false, 3 MML present |
| A03 | 2024-01-15 | P3 | S1 y, S4 y, S5 y (S2, S3 not listed = absent); true | January: true, 1 |
| A04 | 2024-02-05 | P2 | S1 y, S2 y, S3 y; true | February: true, 3 |
| A05 | 2024-02-12 | P3 | S1 y; false | no: same day as A06, A06 is the greater id |
| A06 | 2024-02-12 | P3 | S1 y, S2 y, S3 n; true | February: true, 2 |
| A07 | 2024-03-08 | P4 | S1 y (true), S2 n (empty = false): the rows disagree | March: false (bool_and), 1; a warning |
| A08 | 2024-03-20 | P1 | S1 y, S2 y, S3 y; true | March: true, 3 |

Census: the list of 2024-01-01 has P1 North/retail/R1, P2 North/horeca/R1, P3 South/retail/R2
and P4 South/(no channel)/R2; the list of 2024-03-15 moves P2 to R2 and no longer has P4,
so from March P4 counts under ``unspecified`` (var unspecified_dimension_value) for territory,
rep and channel, values coverage_monthly does not have that month (P4 neither ships nor is
planned). April has no audit: 0 audited points everywhere, ratios NULL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from clientbase import cli
from conftest import reset_warehouse

UNSPECIFIED = "unspecified"
MML_SKUS = 3  # S1, S2, S3 flagged mml

LANDING = {
    "managers/managers.csv": """manager_id,name,role,team,active
MF,Farmer Fiona,farmer,sales,true
R1,Rep One,farmer,field,true
R2,Rep Two,farmer,field,true
""",
    "clients/clients_2024-01-01.csv": """client_id,name,tier,channel,inn,manager_id,snapshot_date
C1,Client One,vip,retail,,MF,2024-01-01
C2,Client Two,regular,horeca,,MF,2024-01-01
""",
    "trade_points/points_2024-01-01.csv": """point_id,client_id,territory,channel,rep_id,active,snapshot_date
P1,C1,North,retail,R1,true,2024-01-01
P2,C2,North,horeca,R1,true,2024-01-01
P3,C1,South,retail,R2,true,2024-01-01
P4,C2,South,,R2,true,2024-01-01
""",
    "trade_points/points_2024-03-15.csv": """point_id,client_id,territory,channel,rep_id,active,snapshot_date
P1,C1,North,retail,R1,true,2024-03-15
P2,C2,North,horeca,R2,true,2024-03-15
P3,C1,South,retail,R2,true,2024-03-15
""",
    "products/products.csv": """sku,name,category,brand,mml
S1,Must 1,FOOD,b,true
S2,Must 2,FOOD,b,yes
S3,Must 3,DRINKS,b,1
S4,Other 4,FOOD,b,false
S5,Other 5,DRINKS,b,
""",
    "shipments/shipments.csv": """doc_id,line_no,doc_date,client_id,point_id,sku,qty,revenue,cost,manager_id,status
W1,1,2024-01-10,C1,P1,S1,1,100,70,MF,posted
W2,1,2024-02-10,C1,P1,S1,1,100,70,MF,posted
W3,1,2024-03-10,C1,P1,S1,1,100,70,MF,posted
W4,1,2024-04-10,C1,P1,S1,1,100,70,MF,posted
W5,1,2024-01-12,C1,P3,S4,1,50,30,MF,posted
""",
}

AUDITS = """audit_id,audit_date,point_id,rep_id,sku,present,planogram_ok
A01,2024-01-10,P1,R1,S1,true,true
A01,2024-01-10,P1,R1,S2,true,true
A01,2024-01-10,P1,R1,S3,false,true
A01,2024-01-10,P1,R1,S4,true,true
A02,2024-01-20,P1,R1,S1,true,false
A02,2024-01-20,P1,R1,S2,true,false
A02,2024-01-20,P1,R1,S3,true,false
A03,2024-01-15,P3,R2,S1,true,true
A03,2024-01-15,P3,R2,S4,true,true
A03,2024-01-15,P3,R2,S5,true,true
A04,2024-02-05,P2,R1,S1,true,true
A04,2024-02-05,P2,R1,S2,true,true
A04,2024-02-05,P2,R1,S3,true,true
A05,2024-02-12,P3,R2,S1,true,false
A06,2024-02-12,P3,R2,S1,true,true
A06,2024-02-12,P3,R2,S2,true,true
A06,2024-02-12,P3,R2,S3,false,true
A07,2024-03-08,P4,R2,S1,true,true
A07,2024-03-08,P4,R2,S2,false,
A08,2024-03-20,P1,R1,S1,true,true
A08,2024-03-20,P1,R1,S2,true,true
A08,2024-03-20,P1,R1,S3,true,true
"""

JAN, FEB, MAR, APR = (dt.date(2024, m, 1) for m in (1, 2, 3, 4))
COLUMNS = ("audited_points", "planogram_points", "planogram_coverage", "mml_skus", "mml_present",
           "distribution_coefficient")


def figures(audited: int, planogram: int, mml_present: int) -> tuple:
    """One row's figures from its counts, with the spec's ratios (NULL where the denominator is 0)."""
    coverage = Decimal(planogram) / audited if audited else None
    distribution = Decimal(mml_present) / (audited * MML_SKUS) if audited else None
    return audited, planogram, coverage, MML_SKUS, mml_present, distribution


NONE = figures(0, 0, 0)
# (month, dimension, value) -> figures, worked out from the audits in the module docstring
EXPECTED = {
    # January: P1 counts A02 (false, 3 of S1-S3; A01 is earlier), P3 counts A03 (true, only S1 of the MML)
    (JAN, "total", "all"): figures(2, 1, 3 + 1),          # КП 1/2, КД 4/(2*3)
    (JAN, "territory", "North"): figures(1, 0, 3),        # P1
    (JAN, "territory", "South"): figures(1, 1, 1),        # P3: КД 1/3
    (JAN, "rep", "R1"): figures(1, 0, 3),
    (JAN, "rep", "R2"): figures(1, 1, 1),
    (JAN, "channel", "retail"): figures(2, 1, 4),         # P1 and P3
    (JAN, "channel", "horeca"): NONE,                     # P2, not audited
    (JAN, "channel", UNSPECIFIED): NONE,                  # P4 has no channel
    # February: P2 counts A04 (true, 3), P3 counts A06 (A05 the same day, smaller id: true, 2)
    (FEB, "total", "all"): figures(2, 2, 3 + 2),          # КП 1, КД 5/6
    (FEB, "territory", "North"): figures(1, 1, 3),
    (FEB, "territory", "South"): figures(1, 1, 2),
    (FEB, "rep", "R1"): figures(1, 1, 3),                 # P2 is still R1's in February
    (FEB, "rep", "R2"): figures(1, 1, 2),
    (FEB, "channel", "retail"): figures(1, 1, 2),
    (FEB, "channel", "horeca"): figures(1, 1, 3),
    (FEB, "channel", UNSPECIFIED): NONE,
    # March: P1 counts A08 (true, 3); P4 counts A07 (rows disagree -> false; 1), out of the census
    (MAR, "total", "all"): figures(2, 1, 3 + 1),
    (MAR, "territory", "North"): figures(1, 1, 3),
    (MAR, "territory", "South"): NONE,                    # P3 not audited in March
    (MAR, "territory", UNSPECIFIED): figures(1, 0, 1),    # P4, only audited points carry it
    (MAR, "rep", "R1"): figures(1, 1, 3),
    (MAR, "rep", "R2"): NONE,                             # P2 (moved to R2) and P3, not audited
    (MAR, "rep", UNSPECIFIED): figures(1, 0, 1),
    (MAR, "channel", "retail"): figures(1, 1, 3),
    (MAR, "channel", "horeca"): NONE,
    (MAR, "channel", UNSPECIFIED): figures(1, 0, 1),
    # April: no audit; every value coverage_monthly has (P4 has left the census: no unspecified)
    (APR, "total", "all"): NONE,
    (APR, "territory", "North"): NONE,
    (APR, "territory", "South"): NONE,
    (APR, "rep", "R1"): NONE,
    (APR, "rep", "R2"): NONE,
    (APR, "channel", "retail"): NONE,
    (APR, "channel", "horeca"): NONE,
}

# fct_trade_point_audits_monthly, the KPI matrix's interface: (month, point) -> (territory, rep,
# channel, is_audited, is_planogram_ok, mml_present, is_planogram_ok_in_window, mml_present_in_window)
EXPECTED_POINT_MONTHS = {
    (JAN, "P1"): ("North", "R1", "retail", True, False, 3, False, 3),
    (JAN, "P3"): ("South", "R2", "retail", True, True, 1, True, 1),
    (FEB, "P1"): ("North", "R1", "retail", False, None, None, False, 3),   # W = Jan-Feb: A02
    (FEB, "P2"): ("North", "R1", "horeca", True, True, 3, True, 3),
    (FEB, "P3"): ("South", "R2", "retail", True, True, 2, True, 2),
    (MAR, "P1"): ("North", "R1", "retail", True, True, 3, True, 3),
    (MAR, "P2"): ("North", "R2", "horeca", False, None, None, True, 3),    # under its rep as of March
    (MAR, "P3"): ("South", "R2", "retail", False, None, None, True, 2),    # A06 is later than A03
    (MAR, "P4"): (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED, True, False, 1, False, 1),
    (APR, "P1"): ("North", "R1", "retail", False, None, None, True, 3),    # W = Feb-Apr
    (APR, "P2"): ("North", "R2", "horeca", False, None, None, True, 3),
    (APR, "P3"): ("South", "R2", "retail", False, None, None, True, 2),
    (APR, "P4"): (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED, False, None, None, False, 1),
}


def write_landing(root: Path, with_audits: bool) -> Path:
    for name, text in LANDING.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if with_audits:
        (root / "retail_audits").mkdir(exist_ok=True)
        (root / "retail_audits" / "audits.csv").write_text(AUDITS, encoding="utf-8")
    return root


def published_audit_rows(url: str) -> dict[tuple, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"select month, dimension, dimension_value, {', '.join(COLUMNS)} "
                            "from reporting.retail_audit_monthly").fetchall()
    return {row[:3]: tuple(row[3:]) for row in rows}


def close(actual: tuple, expected: tuple) -> bool:
    """Equal figure by figure; ratios to 1e-12 (numeric division keeps ~20 digits)."""
    return len(actual) == len(expected) and all(
        a == e if a is None or e is None else abs(Decimal(a) - Decimal(e)) < Decimal("1e-12")
        for a, e in zip(actual, expected, strict=True))


@pytest.fixture(scope="module")
def runs(airflow_ready, tmp_path_factory) -> dict[str, object]:
    """The landing published for 2024-01 … 2024-04 without audits, then again once the audits arrive."""
    url = airflow_ready
    reset_warehouse(url)
    landing = write_landing(tmp_path_factory.mktemp("retail_audits") / "landing", with_audits=False)
    assert cli.main(["run", "--landing", str(landing), "--from", "2024-01", "--to", "2024-04"]) == 0
    without = published_audit_rows(url)
    write_landing(landing, with_audits=True)
    assert cli.main(["run", "--landing", str(landing), "--from", "2024-01", "--to", "2024-04"]) == 0
    return {"url": url, "without": without, "with": published_audit_rows(url)}


def test_without_audits_every_figure_is_null_but_the_rows_exist(runs):
    without = runs["without"]
    # the same (month, dimension, value) rows as coverage_monthly: P4's unspecified values are audit-only
    assert set(without) == {key for key in EXPECTED if not (key[0] == MAR and key[2] == UNSPECIFIED)}
    assert set(without.values()) == {(None, None, None, MML_SKUS, None, None)}


def test_audits_give_the_hand_computed_figures(runs):
    published = runs["with"]
    assert sorted(published) == sorted(EXPECTED)
    wrong = {key: (EXPECTED[key], published[key]) for key in EXPECTED if not close(published[key], EXPECTED[key])}
    assert wrong == {}, f"(expected, published): {wrong}"


def test_point_months_are_the_kpi_matrix_interface(runs):
    """fct_trade_point_audits_monthly: the counted audit of M and of the window W, columns exactly as agreed."""
    with psycopg.connect(runs["url"]) as conn:
        cur = conn.execute("select * from marts.fct_trade_point_audits_monthly")
        columns = [c.name for c in cur.description]
        rows = cur.fetchall()
    assert columns == ["month", "point_id", "territory", "rep_id", "channel", "is_audited", "is_planogram_ok",
                       "mml_present", "is_audited_in_window", "is_planogram_ok_in_window",
                       "mml_present_in_window", "mml_skus"]
    got = {(r[0], r[1]): (*r[2:8], *r[9:11]) for r in rows}
    assert got == EXPECTED_POINT_MONTHS
    assert {(r[8], r[11]) for r in rows} == {(True, MML_SKUS)}


def test_a_disagreeing_planogram_verdict_warns_and_publishes(runs):
    """A07's rows disagree: the gate warns (it does not block) and the audit counts as not meeting the planogram."""
    with psycopg.connect(runs["url"]) as conn:
        latest_run = conn.execute("select run_id from audit.gate_decisions "
                                  "order by decision_id desc limit 1").fetchone()[0]
        checks = conn.execute("select severity, success from audit.check_results where run_id = %s "
                              "and check_name like %s", (latest_run, "%planogram_verdict_is_the_same_on_every_row%")
                              ).fetchall()
        versions = conn.execute("select month, max(version) from reporting.publications group by month "
                                "order by month").fetchall()
    assert checks == [("warning", False)]
    # the audits changed every month's published rows (April's window too): version 2 of each month
    assert versions == [(JAN, 2), (FEB, 2), (MAR, 2), (APR, 2)]
