"""Receivables and payment discipline (metrics.md §8) through the real pipeline.

A small landing is built here: the status_rules scenario's reference lists and shipments,
a second clients list that leaves K_dormant (dormant from February, an old debtor) unassigned
from February 2024, and a handful of invoices and payments whose figures were worked out by
hand from the spec (below, per invoice). ``clientbase run`` loads it and publishes January to March 2024; the published
``reporting`` tables must show those figures. The same landing without the optional
``invoices`` and ``payments`` folders must publish NULL (unknown), never 0, in every
receivables column: an absent source is not a client without debt.

Hand computation, D = the month's last day (31 Jan, 29 Feb, 31 Mar 2024):

- INV1 A_regular (MG1) 1000, due 9 Feb: 400 paid 25 Jan, 600 on 20 Feb (late).
  Open 600 at 31 Jan, settled by 29 Feb. Plan of February 1000, on time 400.
- INV2 A_regular 500, due = doc date (paid on delivery), paid 500: counts nowhere.
- INV3 C_returns (MG2) 800, due 1 Mar: paid 800 on 28 Feb, reversed on 5 Mar. Open 0 at
  29 Feb, open again and overdue at 31 Mar; plan of March 800, on time 800 (paid by its due
  date; the later reversal does not undo that, §8 counts payments dated <= due date).
- INV4 C_returns 300, cancelled: counts nowhere, nor its payment.
- INV5 K_dormant 200, due 31 Mar, never paid: open all quarter, not overdue at 31 Mar (due on
  D itself); plan of March 200. K_dormant is MG1's in January, unassigned from February.
- INV6 / INV7 A_regular 100 (due 15 Mar) and 250 (due 20 Mar), issued in February; one
  payment PAY9 of 8 Mar split 100 / 150 over them. At 31 Mar INV7 is open 100, overdue.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from clientbase import cli
from conftest import SCENARIOS, reset_warehouse

STATUS_RULES_LANDING = SCENARIOS / "status_rules" / "landing"
MONTHS = ("2024-01-01", "2024-02-01", "2024-03-01")
RECEIVABLES_COLUMNS = ("receivables", "overdue_receivables", "overdue_share", "overdue_clients",
                       "planned_payments", "payments", "payment_discipline", "paid_on_time", "on_time_share")
# K_dormant leaves MG1's book on 1 February 2024 (absent from that complete list: unassigned)
CLIENTS_2024_02 = "client_id,name,tier,channel,inn,manager_id,snapshot_date\n" + "".join(
    f"{client},{client},{tier},retail,,{manager},2024-02-01\n" for client, tier, manager in (
        ("A_regular", "regular", "MG1"), ("C_returns", "vip", "MG2"), ("D_never", "regular", "MG1"),
        ("E_late_start", "regular", "MG2"), ("F_returns_only", "regular", "MG1"),
        ("G_zero_month", "regular", "MG1"), ("H_cancelled", "regular", "MG1"),
        ("I_alternating", "regular", "MG1"), ("B_fades", "regular", "MG1"),
        ("L_back_from_dormant", "vip", "MG2"), ("N_unstable_then_lost", "regular", "MG1")))
INVOICES = """doc_id,client_id,doc_date,due_date,amount,status
INV1,A_regular,2024-01-10,2024-02-09,1000,posted
INV2,A_regular,2024-01-15,2024-01-15,500,posted
INV3,C_returns,2024-02-01,2024-03-01,800,
INV4,C_returns,2024-02-10,2024-03-10,300,cancelled
INV5,K_dormant,2024-01-20,2024-03-31,200,posted
INV6,A_regular,2024-02-15,2024-03-15,100,posted
INV7,A_regular,2024-02-20,2024-03-20,250,posted
"""
PAYMENTS = """payment_id,doc_id,client_id,payment_date,amount
PAY1,INV1,A_regular,2024-01-25,400
PAY2,INV1,A_regular,2024-02-20,600
PAY3,INV2,A_regular,2024-01-15,500
PAY4,INV3,C_returns,2024-02-28,800
PAY5,INV3,C_returns,2024-03-05,-800
PAY6,INV4,C_returns,2024-02-15,300
PAY9,INV6,A_regular,2024-03-08,100
PAY9,INV7,A_regular,2024-03-08,150
"""


def build_landing(root: Path, with_receivables: bool) -> Path:
    """The status_rules landing plus the February clients list, with or without invoices and payments."""
    landing = root / "landing"
    shutil.copytree(STATUS_RULES_LANDING, landing)
    (landing / "clients" / "clients_2024-02-01.csv").write_text(CLIENTS_2024_02, encoding="utf-8")
    if with_receivables:
        for dataset, text in (("invoices", INVOICES), ("payments", PAYMENTS)):
            (landing / dataset).mkdir()
            (landing / dataset / f"{dataset}.csv").write_text(text, encoding="utf-8")
    return landing


def published(url: str, landing: Path) -> dict[str, dict]:
    """Run the pipeline on ``landing`` for 2024-01 … 2024-03; the published receivables figures.

    Returns ``receivables_monthly`` by (month, manager_id), and client_status_monthly /
    manager_scorecard_monthly's new columns by (month, client_id) / (month, manager_id).
    """
    reset_warehouse(url)
    assert cli.main(["run", "--landing", str(landing), "--from", "2024-01", "--to", "2024-03"]) == 0
    with psycopg.connect(url) as conn:
        by_manager = {
            (row[0], row[1]): dict(zip(RECEIVABLES_COLUMNS, row[2:], strict=True))
            for row in conn.execute(
                f"select month::text, manager_id, {', '.join(RECEIVABLES_COLUMNS)} "
                "from reporting.receivables_monthly where month between %s and %s", (MONTHS[0], MONTHS[-1]))}
        by_client = {
            (month, client): (receivables, overdue) for month, client, receivables, overdue in conn.execute(
                "select month::text, client_id, receivables, overdue_receivables "
                "from reporting.client_status_monthly where month between %s and %s", (MONTHS[0], MONTHS[-1]))}
        scorecard = {
            (month, manager): (receivables, share) for month, manager, receivables, share in conn.execute(
                "select month::text, manager_id, receivables, overdue_share "
                "from reporting.manager_scorecard_monthly where month between %s and %s", (MONTHS[0], MONTHS[-1]))}
    return {"receivables_monthly": by_manager, "client_status_monthly": by_client,
            "manager_scorecard_monthly": scorecard}


@pytest.fixture(scope="module")
def with_receivables(airflow_ready, tmp_path_factory) -> dict[str, dict]:
    return published(airflow_ready, build_landing(tmp_path_factory.mktemp("receivables"), True))


@pytest.fixture(scope="module")
def without_receivables(airflow_ready, tmp_path_factory) -> dict[str, dict]:
    return published(airflow_ready, build_landing(tmp_path_factory.mktemp("no_receivables"), False))


def test_receivables_monthly_matches_the_hand_computed_figures(with_receivables):
    rows = with_receivables["receivables_monthly"]
    assert set(rows) == {(month, manager) for month in MONTHS for manager in ("MG1", "MG2", None)}

    # March, MG1: A_regular only (K_dormant is unassigned): INV7 open 100 and overdue; plan INV6 + INV7
    march_mg1 = rows[("2024-03-01", "MG1")]
    assert {k: march_mg1[k] for k in ("receivables", "overdue_receivables", "overdue_clients",
                                      "planned_payments", "payments", "paid_on_time")} == {
        "receivables": Decimal("100"), "overdue_receivables": Decimal("100"), "overdue_clients": 1,
        "planned_payments": Decimal("350"), "payments": Decimal("250"), "paid_on_time": Decimal("250")}
    assert march_mg1["overdue_share"] == 1
    assert march_mg1["payment_discipline"] == pytest.approx(Decimal(250) / Decimal(350))
    assert march_mg1["on_time_share"] == pytest.approx(Decimal(250) / Decimal(350))

    # March, MG2: INV3 reopened by the reversal (payments of the month -800), paid on time before it
    march_mg2 = rows[("2024-03-01", "MG2")]
    assert (march_mg2["receivables"], march_mg2["overdue_receivables"], march_mg2["planned_payments"],
            march_mg2["payments"], march_mg2["paid_on_time"]) == (800, 800, 800, -800, 800)
    assert (march_mg2["payment_discipline"], march_mg2["on_time_share"]) == (-1, 1)

    # March, all managers: K_dormant (unassigned, INV5 200 due on D: not overdue) counts here only
    march_all = rows[("2024-03-01", None)]
    assert (march_all["receivables"], march_all["overdue_receivables"], march_all["overdue_clients"],
            march_all["planned_payments"], march_all["payments"], march_all["paid_on_time"]) == (
        1100, 900, 2, 1350, -550, 1050)
    assert march_all["overdue_share"] == pytest.approx(Decimal(900) / Decimal(1100))

    # February: INV1 falls due (1000), 400 of it by its due date; INV3 paid ahead of its plan (March)
    assert (rows[("2024-02-01", "MG1")]["receivables"], rows[("2024-02-01", "MG1")]["payment_discipline"],
            rows[("2024-02-01", "MG1")]["on_time_share"]) == (350, Decimal("0.6"), Decimal("0.4"))
    feb_mg2 = rows[("2024-02-01", "MG2")]
    assert (feb_mg2["receivables"], feb_mg2["payments"], feb_mg2["overdue_clients"]) == (0, 800, 0)
    # nothing planned, nothing owed: ratios over 0 are NULL, not 0
    assert (feb_mg2["overdue_share"], feb_mg2["payment_discipline"], feb_mg2["on_time_share"]) == (None,) * 3
    assert rows[("2024-02-01", None)]["receivables"] == 550

    # January: K_dormant is still MG1's; INV2 (paid on delivery) is in neither payments nor receivables
    assert (rows[("2024-01-01", "MG1")]["receivables"], rows[("2024-01-01", "MG1")]["payments"],
            rows[("2024-01-01", "MG1")]["planned_payments"]) == (800, 400, 0)


def test_client_status_and_scorecard_carry_the_same_receivables(with_receivables):
    clients = with_receivables["client_status_monthly"]
    assert clients[("2024-03-01", "A_regular")] == (100, 100)
    assert clients[("2024-03-01", "K_dormant")] == (200, 0)
    assert clients[("2024-02-01", "C_returns")] == (0, 0)
    assert clients[("2024-03-01", "D_never")] == (0, 0)  # no invoice: 0, the source exists
    scorecard = with_receivables["manager_scorecard_monthly"]
    assert scorecard[("2024-03-01", "MG2")] == (800, 1)
    assert scorecard[("2024-01-01", "MG1")] == (800, 0)


def test_without_invoices_and_payments_every_receivables_figure_is_null(without_receivables):
    rows = without_receivables["receivables_monthly"]
    assert set(rows) == {(month, manager) for month in MONTHS for manager in ("MG1", "MG2", None)}
    assert {key: set(figures.values()) for key, figures in rows.items()} == dict.fromkeys(rows, {None})
    clients = without_receivables["client_status_monthly"]
    assert len(clients) == 3 * 12
    assert set(clients.values()) == {(None, None)}
    assert set(without_receivables["manager_scorecard_monthly"].values()) == {(None, None)}
