"""One document per audience: the figures of ``data.ReportData`` laid out as HTML, then PDF.

The HTML is self-contained (CSS inline, charts as inline SVG, no image or font fetched), so it
can be mailed or opened offline. The PDF is the same HTML printed by WeasyPrint: one layout
for both formats, the print rules (A4, page numbers "стр. N из M", a page per section) in the
same CSS. Every label comes from ``clientbase.bi.definitions.LABELS`` (the one source of the
BI's Russian and English names); status names from its ``STATUS_LABELS``.

Every figure cell carries ``data-figure="<section>.<row>.<column>"``, so a test (or a reader's
script) can find a figure in the HTML without parsing the layout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from clientbase.bi.definitions import STATUS_LABELS, label
from clientbase.monthly_report import charts
from clientbase.monthly_report.data import ReportData, ReportError

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
NBSP = "\u00a0"
DASH = "—"


# --- numbers as a Russian reader writes them: 12 345, 80,0 %, 1 234,50 -------------------------

def _group(text: str) -> str:
    return text.replace(",", NBSP).replace(".", ",")


def fmt_count(value: Any) -> str:
    return DASH if value is None else _group(f"{int(round(float(value))):,}")


def fmt_money(value: Any, decimals: int = 0) -> str:
    return DASH if value is None else _group(f"{float(value):,.{decimals}f}")


def fmt_share(value: Any) -> str:
    return DASH if value is None else _group(f"{float(value) * 100:.1f}") + NBSP + "%"


def fmt_change(current: Any, previous: Any, points: str | None = None) -> str:
    """The month-on-month change: +3, −2; for shares +1,5 п.п. (``points``: the word for percentage points)."""
    if current is None or previous is None:
        return DASH
    delta = float(current) - float(previous)
    if points:
        text = _group(f"{abs(delta) * 100:.1f}") + NBSP + points
    else:
        text = _group(f"{abs(delta):,.0f}")
    return ("+" if delta > 0 else "−" if delta < 0 else "±") + text


UNIT_FORMATS = {"points": fmt_count, "visits": fmt_count, "orders": fmt_count, "share": fmt_share,
                "money": lambda v: fmt_money(v, 2)}


@dataclass
class Cell:
    text: str
    figure: str | None = None
    css: str = ""


@dataclass
class Table:
    title: str | None
    headers: list[str]
    rows: list[list[Cell]]
    empty: str = ""


@dataclass
class Section:
    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    charts: list[tuple[str, Markup]] = field(default_factory=list)  # (caption, svg)


class Renderer:
    """Formats one ``ReportData`` in one language (``ru`` by default)."""

    def __init__(self, language: str = "ru") -> None:
        self.language = language
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))

    def t(self, key: str) -> str:
        return label(key, self.language)

    def status(self, code: str | None) -> str:
        if code is None:
            return DASH
        names = STATUS_LABELS.get(code)
        return names[0 if self.language == "ru" else 1] if names else code

    def yes_no(self, value: bool | None) -> str:
        return DASH if value is None else self.t("report_yes" if value else "report_no")

    # --- sections ------------------------------------------------------------------------------

    def headline(self, data: ReportData) -> Section:
        mix_now = data.status_mix[0]["client_base"] if data.status_mix else None
        mix_before = data.status_mix_previous[0]["client_base"] if data.status_mix_previous else None
        events = {row["month"]: row for row in data.events_trend}
        now, before = events.get(data.month, {}), events.get(data.previous_month, {})
        recv = {row["month"]: row for row in data.receivables}
        r_now, r_before = recv.get(data.month, {}), recv.get(data.previous_month, {})
        visits = {row["month"]: row for row in data.visits_trend}
        v_now, v_before = visits.get(data.month, {}), visits.get(data.previous_month, {})
        lines = [
            ("client_base", mix_now, mix_before, fmt_count, False),
            ("m_new_events", now.get("new"), before.get("new"), fmt_count, False),
            ("m_returned_events", now.get("returned"), before.get("returned"), fmt_count, False),
            ("m_lost_events", now.get("lost"), before.get("lost"), fmt_count, False),
            ("rotation_candidates", len(data.rotation), None, fmt_count, False),
            ("call_list_clients", len(data.call_list), None, fmt_count, False),
            ("handover_candidates", len(data.handover), None, fmt_count, False),
            ("receivables", r_now.get("receivables"), r_before.get("receivables"), fmt_money, False),
            ("overdue_share", r_now.get("overdue_share"), r_before.get("overdue_share"), fmt_share, True),
            ("planned_visits", v_now.get("planned_visits"), v_before.get("planned_visits"), fmt_count, False),
            ("actual_visits", v_now.get("actual_visits"), v_before.get("actual_visits"), fmt_count, False),
        ]
        points = self.t("report_pp")
        rows = [[Cell(self.t(key)), Cell(fmt(cur), f"headline.{key}.current", "num"),
                 Cell(fmt(prev), f"headline.{key}.previous", "num"),
                 Cell(fmt_change(cur, prev, points if share else None), css="num")]
                for key, cur, prev, fmt, share in lines]
        previous = f"{self.t('report_previous')} ({data.previous_month:%Y-%m})" if data.previous_month else \
            self.t("report_previous")
        section = Section("headline", self.t("report_headlines"),
                          [Table(None, ["", f"{data.month:%Y-%m}", previous, self.t("report_change")], rows)])
        section.tables.append(self.status_mix_table(data))
        if data.audience.is_director:
            section.tables.append(self.managers_mix_table(data))
        if data.status_mix:
            items = [(self.status(r["status"]), r["share"], r["plan_share"], r["on_plan"]) for r in data.status_mix]
            section.charts.append((f"{self.t('chart_status_mix')}: {self.t('report_plan_tick')}",
                                   Markup(charts.share_bars(items, fmt_share))))
        return section

    def status_mix_table(self, data: ReportData) -> Table:
        previous = {r["status"]: r for r in data.status_mix_previous}
        rows = []
        for r in data.status_mix:
            before = previous.get(r["status"], {})
            css = "bad" if r["on_plan"] is False else ""
            code = r["status"]
            rows.append([Cell(self.status(code)), Cell(fmt_count(r["clients"]), f"mix.{code}.clients", "num"),
                         Cell(fmt_share(r["share"]), f"mix.{r['status']}.share", "num " + css),
                         Cell(fmt_share(r["plan_share"]), f"mix.{r['status']}.plan_share", "num"),
                         Cell(self.yes_no(r["on_plan"]), f"mix.{r['status']}.on_plan", css),
                         Cell(fmt_share(before.get("share")), f"mix.{r['status']}.previous_share", "num")])
        headers = [self.t("status_name"), self.t("clients"), self.t("share"), self.t("plan_share"), self.t("on_plan"),
                   f"{self.t('share')}: {self.t('report_previous').lower()}"]
        return Table(self.t("chart_status_mix"), headers, rows, self.t("report_no_rows"))

    def managers_mix_table(self, data: ReportData) -> Table:
        """The director's view of the plan: one line per manager, each planned status's share / plan."""
        planned = [code for code in STATUS_LABELS
                   if any(r["status"] == code and r["plan_share"] is not None for r in data.status_mix_managers)]
        by_manager: dict[str, dict[str, dict]] = {}
        for r in data.status_mix_managers:
            by_manager.setdefault(r["manager_id"], {})[r["status"]] = r
        rows = []
        for manager, statuses in by_manager.items():
            role = next((r["role"] for r in statuses.values() if r["role"]), None)
            base = next(iter(statuses.values()))["client_base"]
            cells = [Cell(manager), Cell(role or DASH), Cell(fmt_count(base), f"mix_by_manager.{manager}.client_base",
                                                             "num")]
            for code in planned:
                r = statuses.get(code, {})
                plan = r.get("plan_share")
                text = fmt_share(r.get("share")) + (f" / {fmt_share(plan)}" if plan is not None else "")
                cells.append(Cell(text, f"mix_by_manager.{manager}.{code}", "num bad" if r.get("on_plan") is False
                                  else "num"))
            misses = [r["on_plan"] for r in statuses.values() if r["on_plan"] is not None]
            cells.append(Cell(self.yes_no(all(misses)) if misses else DASH, f"mix_by_manager.{manager}.on_plan"))
            rows.append(cells)
        headers = [self.t("manager_id"), self.t("role"), self.t("client_base"),
                   *(f"{self.status(code)}: {self.t('share').lower()} / {self.t('plan_share').lower()}"
                     for code in planned), self.t("on_plan")]
        return Table(f"{self.t('chart_status_mix')} ({self.t('manager_id').lower()})", headers, rows,
                     self.t("report_no_rows"))

    def changes(self, data: ReportData) -> Section:
        flow = {(r["from_status"], r["to_status"]): r["clients"] for r in data.status_flow}
        order = list(STATUS_LABELS)
        seen_from = [s for s in order if any(k[0] == s for k in flow)]
        seen_to = [s for s in order if any(k[1] == s for k in flow)]
        rows = [[Cell(self.status(a))] + [Cell(fmt_count(flow.get((a, b))) if (a, b) in flow else "",
                                               f"flow.{a}.{b}", "num") for b in seen_to] for a in seen_from]
        section = Section("changes", self.t("report_changes"), [
            Table(self.t("chart_status_flow"), [f"{self.t('from_status_name')} \\ {self.t('to_status_name')}",
                                                *(self.status(b) for b in seen_to)], rows, self.t("report_no_rows"))])
        months = [f"{r['month']:%Y-%m}" for r in data.events_trend]
        if months:
            kinds = (("m_new_events", "new"), ("m_returned_events", "returned"), ("m_lost_events", "lost"))
            series = [(self.t(key), [r[col] for r in data.events_trend]) for key, col in kinds]
            section.charts.append((self.t("chart_events"), Markup(charts.grouped_bars(months, series, fmt_count))))
        if data.base_trend:
            section.charts.append((self.t("report_base_trend"), Markup(charts.grouped_bars(
                [f"{r['month']:%Y-%m}" for r in data.base_trend],
                [(self.t("client_base"), [r["client_base"] for r in data.base_trend])], fmt_count, height=180))))
        section.tables.append(self._clients_table(self.t("report_event_clients"), "events", data.event_clients,
                                                  data.audience.is_director, "revenue"))
        return section

    def _clients_table(self, title: str, key: str, rows_in: list[dict], with_manager: bool, money: str,
                       dates: bool = False) -> Table:
        headers = [self.t("client_id"), *([self.t("manager_id")] if with_manager else []), self.t("status_name"),
                   self.t("tier"), *([self.t("last_shipment_date")] if dates else []), self.t("months_inactive"),
                   self.t(money)]
        rows = []
        for r in rows_in:
            cid = r["client_id"]
            rows.append([Cell(cid, f"{key}.{cid}.client_id"),
                         *([Cell(r["manager_id"] or DASH)] if with_manager else []),
                         Cell(self.status(r["status"]), f"{key}.{cid}.status"), Cell(r["tier"] or DASH),
                         *([Cell(str(r["last_shipment_date"] or DASH))] if dates else []),
                         Cell(fmt_count(r["months_inactive"]), css="num"),
                         Cell(fmt_money(r[money]), f"{key}.{cid}.{money}", "num")])
        return Table(title, headers, rows, self.t("report_no_rows"))

    def call_list_table(self, data: ReportData) -> Table:
        """The clients still buying that the churn model puts first: call them before they go silent."""
        director = data.audience.is_director
        reasons = "reasons" if self.language == "ru" else "reasons_en"
        headers = [*([self.t("manager_id")] if director else []), self.t("risk_rank"), self.t("client_name"),
                   self.t("client_id"), self.t("status_name"), self.t("p_lost_3m"), self.t("reasons_text"),
                   self.t("last_shipment_date")]
        rows = []
        for r in data.call_list:
            cid = r["client_id"]
            rows.append([*([Cell(r["manager_id"])] if director else []),
                         Cell(fmt_count(r["risk_rank"]), f"call_list.{cid}.risk_rank", "num"),
                         Cell(r["client_name"] or DASH), Cell(cid, f"call_list.{cid}.client_id"),
                         Cell(self.status(r["status"])),
                         Cell(fmt_share(r["p_lost_3m"]), f"call_list.{cid}.p_lost_3m", "num"),
                         Cell(r[reasons] or DASH), Cell(str(r["last_shipment_date"] or DASH))])
        return Table(self.t("chart_call_list"), headers, rows, self.t("report_no_rows"))

    def lists(self, data: ReportData) -> Section:
        director = data.audience.is_director
        section = Section("lists", self.t("report_lists"), [
            self.call_list_table(data),
            self._clients_table(self.t("chart_rotation"), "rotation", data.rotation, director, "revenue_12m", True),
            self._clients_table(self.t("report_handover"), "handover", data.handover, director, "revenue")])
        columns = ("role", "clients", "active_clients", "overloaded", "rotation_candidates", "handover_candidates",
                   "handed_over_3m", "handover_target", "on_plan", "revenue")
        rows = []
        for r in data.scorecard:
            tag = r["manager_id"] if director else f"{r['month']:%Y-%m}"
            cells = [Cell(tag)]
            for column in columns:
                value = r[column]
                text = (self.yes_no(value) if isinstance(value, bool) else fmt_money(value) if column == "revenue"
                        else value if isinstance(value, str) else fmt_count(value))
                cells.append(Cell(text, f"scorecard.{tag}.{column}", "" if isinstance(value, (bool, str)) else "num"))
            rows.append(cells)
        first = self.t("manager_id") if director else self.t("month")
        section.tables.append(Table(self.t("chart_scorecard"), [first, *(self.t(c) for c in columns)], rows,
                                    self.t("report_no_rows")))
        return section

    def coverage_visits(self, data: ReportData) -> Section:
        cov_cols = ("okb", "pakb", "akb", "coverage_okb", "coverage_pakb", "akb_3m", "stable_akb_3m", "stability_3m")
        shares = {"coverage_okb", "coverage_pakb", "stability_3m", "visit_effectiveness", "kpd_effectiveness",
                  "stt_share"}
        money = {"cost_per_visit", "cost_per_order"}
        director = data.audience.is_director

        def table(title: str, key: str, first: str, rows_in: list[dict], name_of: str, cols: tuple) -> Table:
            rows = []
            for r in rows_in:
                name = r[name_of]
                shown = self.t("report_total") if key == "coverage" and director and name == "all" else name
                rows.append([Cell(shown), *(Cell(fmt_share(r[c]) if c in shares else fmt_money(r[c], 2) if c in money
                                                else fmt_count(r[c]), f"{key}.{name}.{c}", "num") for c in cols)])
            return Table(title, [first, *(self.t(c) for c in cols)], rows, self.t("report_no_rows"))

        first = self.t("territory") if director else self.t("rep_id")
        visit_cols = ("planned_visits", "actual_visits", "orders", "effective_orders", "visit_effectiveness",
                      "kpd_effectiveness", "stt_3m", "stt_share", "cost_per_visit", "cost_per_order")
        section = Section("coverage_visits", self.t("report_coverage_visits"), [
            table(self.t("chart_cov_territory" if director else "chart_cov_rep"), "coverage", first, data.coverage,
                  "dimension_value", cov_cols),
            table(self.t("chart_visits_reps"), "visits", self.t("rep_id"), data.visits, "rep_id", visit_cols)])
        if data.visits_trend:
            months = [f"{r['month']:%Y-%m}" for r in data.visits_trend]
            section.charts.append((self.t("chart_visits_trend"), Markup(charts.grouped_bars(
                months, [(self.t("planned_visits"), [r["planned_visits"] for r in data.visits_trend]),
                         (self.t("actual_visits"), [r["actual_visits"] for r in data.visits_trend])], fmt_count))))
        return section

    def matrix_receivables(self, data: ReportData) -> Section:
        rows = []
        for r in data.kpi_matrix:
            name = r["metric_name_ru"] if self.language == "ru" else r["metric_code"]
            rows.append([Cell(str(r["metric_no"]), css="num"), Cell(name),
                         Cell(UNIT_FORMATS.get(r["unit"], fmt_count)(r["value"]), f"matrix.{r['metric_no']}.value",
                              "num")])
        matrix = Table(self.t("report_kpi_matrix"), [self.t("metric_no"), self.t("metric_name"), self.t("value_text")],
                       rows, self.t("report_no_rows"))
        cols = ("receivables", "overdue_receivables", "overdue_share", "overdue_clients", "planned_payments",
                "payments", "payment_discipline", "on_time_share")
        shares = {"overdue_share", "payment_discipline", "on_time_share"}
        recv_rows = []
        for r in data.receivables:
            month = f"{r['month']:%Y-%m}"
            recv_rows.append([Cell(month), *(Cell(fmt_share(r[c]) if c in shares else fmt_count(r[c])
                                                  if c == "overdue_clients" else fmt_money(r[c]),
                                                  f"receivables.{month}.{c}", "num") for c in cols)])
        recv = Table(self.t("report_receivables"), [self.t("month"), *(self.t(c) for c in cols)], recv_rows,
                     self.t("report_no_rows"))
        section = Section("matrix_receivables", f"{self.t('report_kpi_matrix')}; {self.t('report_receivables')}",
                          [matrix, recv])
        if any(r["receivables"] is not None for r in data.receivables):
            months = [f"{r['month']:%Y-%m}" for r in data.receivables]
            section.charts.append((self.t("report_receivables"), Markup(charts.grouped_bars(
                months, [(self.t("receivables"), [r["receivables"] for r in data.receivables]),
                         (self.t("overdue_receivables"), [r["overdue_receivables"] for r in data.receivables])],
                fmt_money))))
        return section

    # --- the document --------------------------------------------------------------------------

    def html(self, data: ReportData) -> str:
        who = self.t("report_director") if data.audience.is_director else \
            f"{self.t('manager_id')} {data.audience.manager_id}"
        role = next((r["role"] for r in data.scorecard if r.get("role")), None) if not data.audience.is_director \
            else None
        pub = data.publication
        published = (f"{self.t('report_published')}: {pub['published_at']:%Y-%m-%d %H:%M} UTC, "
                     f"{self.t('report_version')} {pub['version']}")
        sections = [self.headline(data), self.changes(data), self.lists(data), self.coverage_visits(data),
                    self.matrix_receivables(data)]
        template = self.env.get_template("report.html.j2")
        return template.render(language=self.language, title=f"{self.t('report_title')} · {data.month:%Y-%m}",
                               who=who, role=role, published=published, sections=sections,
                               page_word=self.t("report_page"), of_word=self.t("report_of"))


def write_html(html: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def write_pdf(html: str, path: Path) -> Path:
    """The HTML printed to PDF by WeasyPrint (which needs Pango from the system)."""
    try:
        import weasyprint
    except OSError as exc:  # WeasyPrint loads Pango through ctypes at import
        raise ReportError(f"PDF needs the Pango library ({exc}): install it, e.g. `apt-get install libpango-1.0-0 "
                          "libpangoft2-1.0-0`, or write --format html") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf(path)
    return path

