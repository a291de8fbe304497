"""`clientbase report`: the monthly documents' figures against `reporting`, the PDF rendered to PNG.

The receivables_audits scenario (two managers who own clients, three reps, receivables, audits,
the KPI matrix) is published through the real `clientbase run`; `clientbase report` then writes
every document of 2024-04 in both formats. Figures are read back from the HTML by their
``data-figure`` cells and parsed as numbers (not compared as the report's own strings), and
compared with what `reporting` holds, queried here directly.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pypdfium2
import pytest

from clientbase import cli
from clientbase.monthly_report import render
from scenario_compare import publish_scenario

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "receivables_audits"
MONTH = dt.date(2024, 4, 1)
PREVIOUS = dt.date(2024, 3, 1)


@pytest.fixture(scope="module")
def published(airflow_ready, tmp_path_factory) -> str:
    return publish_scenario(airflow_ready, SCENARIO, tmp_path_factory, "2024-01", "2024-04")


@pytest.fixture(scope="module")
def reports(published, tmp_path_factory) -> Path:
    """Every document of 2024-04, HTML and PDF, written by the CLI."""
    out = tmp_path_factory.mktemp("reports")
    assert cli.main(["report", "--month", "2024-04", "--format", "html", "--format", "pdf", "--out", str(out)]) == 0
    return out / "2024-04"


def query(url: str, text: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(text, params).fetchall()


class Figures(HTMLParser):
    """``data-figure`` -> cell text, and the number of ``<section>`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.sections = 0
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.sections += 1
        figure = dict(attrs).get("data-figure")
        if figure:
            self._open = figure
            self.figures[figure] = ""

    def handle_data(self, data):
        if self._open:
            self.figures[self._open] += data

    def handle_endtag(self, tag):
        if tag in ("td", "strong"):
            self._open = None


def figures_of(path: Path) -> Figures:
    parser = Figures()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def number(text: str) -> float | None:
    """A figure as written in Russian (12 345,5 · 80,0 % · —) back to a number (shares as fractions)."""
    text = text.replace("\u00a0", "").replace(" ", "").strip()
    if text in ("—", ""):
        return None
    if text.endswith("%"):
        return float(text[:-1].replace(",", ".")) / 100
    return float(text.replace(",", "."))


def close(figure: float | None, expected, places: float = 0.0005) -> bool:
    """Shares are printed to 0,1 %, money to units: equal within what the print keeps."""
    if expected is None or figure is None:
        return figure is None and expected is None
    return abs(figure - float(expected)) <= max(places, abs(float(expected)) * 1e-9)


def test_one_document_per_manager_of_the_month_and_the_directors(published, reports):
    owners = {r[0] for r in query(published, "select manager_id from reporting.client_status_monthly "
                                             "where month = %s and manager_id is not null", MONTH)}
    reps = {r[0] for r in query(published, "select rep_id from reporting.visits_monthly where month = %s", MONTH)}
    expected = sorted(owners | reps | {"director"})
    assert len(owners) >= 2 and len(reps) >= 2
    for fmt in ("html", "pdf"):
        assert sorted(p.stem for p in reports.glob(f"*.{fmt}")) == expected


def test_a_managers_html_figures_are_those_of_reporting(published, reports):
    (manager,) = [r[0] for r in query(published, "select manager_id from reporting.manager_scorecard_monthly "
                                                 "where month = %s order by receivables desc nulls last limit 1",
                                      MONTH)]
    figs = figures_of(reports / f"{manager}.html").figures
    assert figs["audience"].endswith(manager)
    mix = query(published, "select status, clients, share, plan_share from reporting.status_summary_monthly "
                           "where month = %s and manager_id = %s", MONTH, manager)
    assert mix, "the scenario's manager has a status mix"
    for status, clients, share, plan_share in mix:
        assert number(figs[f"mix.{status}.clients"]) == clients
        assert close(number(figs[f"mix.{status}.share"]), share)
        assert close(number(figs[f"mix.{status}.plan_share"]), plan_share)
    for month, receivables, overdue_share, payments in query(
            published, "select month, receivables, overdue_share, payments from reporting.receivables_monthly "
                       "where manager_id = %s and month <= %s", manager, MONTH):
        key = f"receivables.{month:%Y-%m}"
        assert close(number(figs[f"{key}.receivables"]), receivables, 0.5)
        assert close(number(figs[f"{key}.overdue_share"]), overdue_share)
        assert close(number(figs[f"{key}.payments"]), payments, 0.5)
    (base_now,), (base_before,) = (query(published, "select max(client_base) from reporting.status_summary_monthly "
                                                    "where month = %s and manager_id = %s", m, manager)[0]
                                   for m in (MONTH, PREVIOUS))
    assert number(figs["headline.client_base.current"]) == base_now
    assert number(figs["headline.client_base.previous"]) == base_before
    # the call list (issue 13): the scenario's 4 months are too few for a churn model, so empty
    (on_list,) = query(published, "select count(*) from reporting.churn_risk_monthly "
                                  "where month = %s and manager_id = %s and on_call_list", MONTH, manager)[0]
    assert number(figs["headline.call_list_clients.current"]) == on_list == 0
    assert not any(k.startswith("call_list.") for k in figs)
    # the lists: exactly this manager's clients, none of another manager's
    rotation = {r[0] for r in query(published, "select client_id from reporting.rotation_candidates "
                                               "where month = %s and manager_id = %s", MONTH, manager)}
    assert {k.split(".")[1] for k in figs if k.startswith("rotation.")} == rotation
    owned = {r[0] for r in query(published, "select client_id from reporting.client_status_monthly "
                                            "where month = %s and manager_id = %s", MONTH, manager)}
    listed = {k.split(".")[1] for k in figs if k.split(".")[0] in ("rotation", "handover", "events")}
    assert listed <= owned
    (flow_total,) = query(published, "select count(*) from reporting.client_status_monthly "
                                     "where month = %s and manager_id = %s", MONTH, manager)[0]
    assert sum(number(v) or 0 for k, v in figs.items() if k.startswith("flow.")) == flow_total


def test_handover_list_is_what_the_scorecard_counts(published, reports):
    for manager, role, handover in query(published, "select manager_id, role, handover_candidates from "
                                                    "reporting.manager_scorecard_monthly where month = %s", MONTH):
        figs = figures_of(reports / f"{manager}.html").figures
        listed = {k.split(".")[1] for k in figs if k.startswith("handover.")}
        assert len(listed) == handover, (manager, role)
        assert number(figs["headline.handover_candidates.current"]) == handover


def test_a_reps_document_has_their_visits_coverage_and_matrix_lines(published, reports):
    rep, actual, planned, stt_share = query(
        published, "select rep_id, actual_visits, planned_visits, stt_share from reporting.visits_monthly "
                   "where month = %s order by actual_visits desc, rep_id limit 1", MONTH)[0]
    figs = figures_of(reports / f"{rep}.html").figures
    assert number(figs[f"visits.{rep}.actual_visits"]) == actual
    assert number(figs[f"visits.{rep}.planned_visits"]) == planned
    assert close(number(figs[f"visits.{rep}.stt_share"]), stt_share)
    assert {k for k in figs if k.startswith("visits.")} == {k for k in figs if k.startswith(f"visits.{rep}.")}
    (akb,) = query(published, "select akb from reporting.coverage_monthly where month = %s and dimension = 'rep' "
                              "and dimension_value = %s", MONTH, rep)[0]
    assert number(figs[f"coverage.{rep}.akb"]) == akb
    lines = query(published, "select metric_no, unit, value from reporting.kpi_matrix_monthly where month = %s "
                             "and dimension = 'rep' and dimension_value = %s", MONTH, rep)
    assert len(lines) == 24
    for metric_no, unit, value in lines:
        assert close(number(figs[f"matrix.{metric_no}.value"]), value, 0.005 if unit == "money" else 0.0005), metric_no


def test_the_directors_html_has_every_row(published, reports):
    figs = figures_of(reports / "director.html").figures
    (base,) = query(published, "select max(client_base) from reporting.status_summary_monthly "
                               "where month = %s and manager_id is null", MONTH)[0]
    assert number(figs["headline.client_base.current"]) == base
    mix = query(published, "select manager_id, status, share, plan_share, on_plan "
                           "from reporting.status_summary_monthly "
                           "where month = %s and manager_id is not null and plan_share is not null", MONTH)
    assert mix, "the scenario has a manager with a plan"
    for manager, status, share, plan_share, _ in mix:
        shown, plan = figs[f"mix_by_manager.{manager}.{status}"].split(" / ")
        assert close(number(shown), share) and close(number(plan), plan_share)
    for manager in {row[0] for row in mix}:
        on_plan = all(row[4] for row in mix if row[0] == manager and row[4] is not None)
        assert figs[f"mix_by_manager.{manager}.on_plan"] == ("да" if on_plan else "нет")
    (lost,) = query(published, "select count(*) from reporting.client_status_monthly "
                               "where month = %s and is_lost_this_month", MONTH)[0]
    assert number(figs["headline.m_lost_events.current"]) == lost
    (receivables,) = query(published, "select receivables from reporting.receivables_monthly "
                                      "where month = %s and manager_id is null", MONTH)[0]
    assert close(number(figs["receivables.2024-04.receivables"]), receivables, 0.5)
    for metric_no, unit, value in query(published, "select metric_no, unit, value from reporting.kpi_matrix_monthly "
                                                   "where month = %s and dimension = 'total'", MONTH):
        assert close(number(figs[f"matrix.{metric_no}.value"]), value, 0.005 if unit == "money" else 0.0005)
    reps = {r[0] for r in query(published, "select rep_id from reporting.visits_monthly where month = %s", MONTH)}
    assert {k.split(".")[1] for k in figs if k.startswith("visits.")} == reps
    rotation = {r[0] for r in query(published, "select client_id from reporting.rotation_candidates where month = %s",
                                    MONTH)}
    assert {k.split(".")[1] for k in figs if k.startswith("rotation.")} == rotation


def _pdf_text(pdf: pypdfium2.PdfDocument) -> list[str]:
    return [re.sub(r"\s+", " ", page.get_textpage().get_text_range().replace("\u00a0", " ")) for page in pdf]


def test_the_pdf_renders_to_png_with_its_pages_and_figures(published, reports, tmp_path):
    (manager,) = [r[0] for r in query(published, "select manager_id from reporting.manager_scorecard_monthly "
                                                 "where month = %s order by manager_id limit 1", MONTH)]
    pdf = pypdfium2.PdfDocument(reports / f"{manager}.pdf")
    sections = figures_of(reports / f"{manager}.html").sections
    assert len(pdf) >= sections >= 5  # each section starts a page
    texts = _pdf_text(pdf)
    assert f"стр. 1 из {len(pdf)}" in texts[0] and f"стр. {len(pdf)} из {len(pdf)}" in texts[-1]
    for index, page in enumerate(pdf):
        image = page.render(scale=1.5).to_pil().convert("L")
        path = tmp_path / f"{manager}-{index + 1}.png"
        image.save(path)
        assert image.width > 800 and image.height > 1100
        inked = sum(image.histogram()[:200])  # pixels darker than light grey
        assert inked > 2000, f"page {index + 1} of {manager}.pdf looks blank ({path})"
    whole = " ".join(texts)
    assert manager in texts[0] and "Ежемесячный отчёт" in texts[0]
    (recv, overdue_share), = query(published, "select receivables, overdue_share from reporting.receivables_monthly "
                                              "where month = %s and manager_id = %s", MONTH, manager)
    assert render.fmt_money(recv).replace("\u00a0", " ") in whole
    assert render.fmt_share(overdue_share).replace("\u00a0", " ") in whole
    for status, share in query(published, "select status, share from reporting.status_summary_monthly "
                                          "where month = %s and manager_id = %s", MONTH, manager):
        assert render.fmt_share(share).replace("\u00a0", " ") in texts[0], status


def test_the_directors_pdf_has_the_total_matrix(published, reports):
    pdf = pypdfium2.PdfDocument(reports / "director.pdf")
    whole = " ".join(_pdf_text(pdf))
    assert "Все менеджеры (директор)" in whole
    for name, unit, value in query(published, "select metric_name_ru, unit, value from reporting.kpi_matrix_monthly "
                                              "where month = %s and dimension = 'total' and value is not null", MONTH):
        assert f"{name} {render.UNIT_FORMATS[unit](value)}".replace("\u00a0", " ") in whole, name


def test_the_report_reads_as_bi_reader(published):
    from clientbase.monthly_report import reader_connection

    with reader_connection(published) as conn, conn.transaction():
        assert conn.execute("select current_user").fetchone()[0] == "bi_reader"
        # one snapshot for a whole document, and nothing written
        assert conn.execute("show transaction_isolation").fetchone()[0] == "repeatable read"
        assert conn.execute("show transaction_read_only").fetchone()[0] == "on"
        assert conn.execute("select count(*) from reporting.publications").fetchone()[0] >= 4
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from raw.shipments")


def test_unpublished_month_unknown_manager_and_bad_month_are_explained(published, tmp_path, capsys):
    assert cli.main(["report", "--month", "2023-01", "--out", str(tmp_path)]) == 1
    assert "2023-01 is not published (published months: 2024-01 … 2024-04)" in capsys.readouterr().out
    assert cli.main(["report", "--month", "2024-04", "--manager", "NOPE", "--out", str(tmp_path)]) == 1
    assert "NOPE: no rows of their own in 2024-04" in capsys.readouterr().out
    assert cli.main(["report", "--month", "2024/04"]) == 2
    assert "is not a month" in capsys.readouterr().out
    assert not list(tmp_path.rglob("*.html"))


def test_one_manager_html_only(published, tmp_path):
    (manager,) = [r[0] for r in query(published, "select manager_id from reporting.manager_scorecard_monthly "
                                                 "where month = %s order by manager_id limit 1", MONTH)]
    assert cli.main(["report", "--month", "2024-04", "--manager", manager, "--out", str(tmp_path)]) == 0
    assert [p.name for p in (tmp_path / "2024-04").iterdir()] == [f"{manager}.html"]
    html = (tmp_path / "2024-04" / f"{manager}.html").read_text(encoding="utf-8")
    assert "<svg" in html and "<style>" in html
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html), "the HTML must be self-contained"
