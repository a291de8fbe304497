"""Terminal views of what the warehouse holds: the last month's summary, the pipeline state."""

from __future__ import annotations

import psycopg
from rich.console import Console
from rich.table import Table
from rich.text import Text

from clientbase.contract import DATASETS

STATUS_ORDER = ("stabilized", "unstabilized", "new", "returned", "lost", "dormant", "potential")


def print_last_month(conn: psycopg.Connection, console: Console) -> None:
    """The last published month's status mix: one line per manager, all managers first.

    Each status cell is ``count (share of the client base)``; the plan column names the
    shares that miss their plan (metrics.md §3), so a director sees who is off plan.
    """
    month = conn.execute("select max(month) from reporting.publications").fetchone()[0]
    if month is None:
        console.print("nothing is published yet")
        return
    rows = conn.execute(
        "select coalesce(manager_id, 'all managers'), status, clients, share, plan_share, on_plan "
        "from reporting.status_summary_monthly where month = %s order by manager_id nulls first",
        (month,),
    ).fetchall()
    by_manager: dict[str, dict[str, tuple]] = {}
    for manager, status, clients, share, plan, on_plan in rows:
        by_manager.setdefault(manager, {})[status] = (clients, share, plan, on_plan)
    table = Table(title=f"Client base by status, {month:%Y-%m} (published) — clients (share of base)")
    table.add_column("manager")
    for status in STATUS_ORDER:
        table.add_column(status, justify="right")
    table.add_column("plan", justify="left")
    for manager, statuses in by_manager.items():
        cells = []
        for status in STATUS_ORDER:
            clients, share, _, on_plan = statuses.get(status, (0, None, None, None))
            text = f"{clients}" + (f" ({float(share) * 100:.0f}%)" if share is not None else "")
            cells.append(f"[red]{text}[/]" if on_plan is False else text)
        misses = [f"{st} {float(v[1]) * 100:.0f}% vs {float(v[2]) * 100:.0f}%"
                  for st in STATUS_ORDER if (v := statuses.get(st)) and v[3] is False]
        planned = any(v[2] is not None for v in statuses.values())
        plan = "[red]off: " + ", ".join(misses) + "[/]" if misses else ("[green]on plan[/]" if planned else "")
        table.add_row(manager, *cells, plan)
    console.print(table)



def _percent(value) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.1f}%"


def print_headlines(conn: psycopg.Connection, console: Console) -> None:
    """One line per KPI area for the last published month, for a director's first glance.

    Each figure comes from a published ``reporting`` table (what BI shows), never from the
    stage, so the demo prints exactly what managers would see.
    """
    month = conn.execute("select max(month) from reporting.publications").fetchone()[0]
    if month is None:
        return
    coverage = conn.execute(
        "select okb, pakb, akb, coverage_okb, coverage_pakb, akb_3m, stable_akb_3m, stability_3m "
        "from reporting.coverage_monthly where month = %s and dimension = 'total'", (month,)).fetchone()
    visits = conn.execute(
        "select sum(planned_visits), sum(orders), sum(effective_orders), sum(stt_3m), sum(akb_3m) "
        "from reporting.visits_monthly where month = %s", (month,)).fetchone()
    managers = conn.execute(
        "select count(*) filter (where on_plan is not null), count(*) filter (where on_plan is false), "
        "string_agg(manager_id, ', ' order by manager_id) filter (where on_plan is false), "
        "count(*) filter (where overloaded) from reporting.manager_scorecard_monthly where month = %s",
        (month,)).fetchone()
    rotation = conn.execute(
        "select count(*), coalesce(sum(revenue_12m), 0) from reporting.rotation_candidates where month = %s",
        (month,)).fetchone()
    categories = conn.execute(
        "select category, category_coverage from reporting.category_coverage_monthly where month = %s "
        "order by category_coverage desc nulls last, category limit 3", (month,)).fetchall()

    table = Table(title=f"Headlines, {month:%Y-%m} (published)", show_header=False)
    table.add_column("area")
    table.add_column("figure")
    if coverage:
        okb, pakb, akb, cov_okb, cov_pakb, akb_3m, stable, stability = coverage
        table.add_row("coverage", f"АКБ {akb} of ОКБ {okb} points = {_percent(cov_okb)}; "
                                  f"of ПАКБ {pakb} planned = {_percent(cov_pakb)}")
        table.add_row("stability", f"{stable} of {akb_3m} points active in the last 3 months bought in each "
                                   f"of them = {_percent(stability)}")
    if categories:
        table.add_row("category АКБ", "; ".join(f"{c} {_percent(v)}" for c, v in categories))
    if visits and visits[0] is not None:
        planned, orders, effective, stt, akb_3m = visits
        eff = None if not planned else orders / planned
        kpd = None if not planned else effective / planned
        table.add_row("visits", f"{orders} orders / {planned} planned visits = {_percent(eff)} effectiveness; "
                                f"КПД {_percent(kpd)}; СТТ {stt} points")
    plan_managers, off_plan, off_names, overloaded = managers
    if plan_managers:
        table.add_row("managers", f"{off_plan} of {plan_managers} with a plan off plan = "
                                  f"{_percent(off_plan / plan_managers)}" + (f" ({off_names})" if off_names else "")
                                  + (f"; {overloaded} overloaded" if overloaded else ""))
    table.add_row("rotation", f"{rotation[0]} clients to hand to another manager "
                              f"(revenue of their last 12 months {float(rotation[1]):,.0f})")
    for area, figure in _receivables_and_audit_headlines(conn, month):
        table.add_row(area, figure)
    for area, figure in _early_warning_headlines(conn, month):
        table.add_row(area, figure)
    console.print(table)


def _early_warning_headlines(conn: psycopg.Connection, month) -> list[tuple[str, str]]:
    """Who is about to be lost (the call lists) and whether rotation brings clients back (issue 13)."""
    risk = conn.execute(
        "select count(*) filter (where p_lost_3m is not null), count(*) filter (where is_at_risk), "
        "count(*) filter (where on_call_list), count(distinct manager_id) filter (where on_call_list) "
        "from reporting.churn_risk_monthly where month = %s", (month,)).fetchone()
    top = conn.execute(
        "select coalesce(client_name, client_id), manager_id, p_lost_3m, reasons_en "
        "from reporting.churn_risk_monthly where month = %s and on_call_list "
        "order by p_lost_3m desc, client_id limit 3", (month,)).fetchall()
    rotation = conn.execute(
        "select rotated_to_date, rotated_active_again_share_to_date, stayed_to_date, "
        "stayed_active_again_share_to_date from reporting.rotation_outcomes_monthly "
        "where month = %s", (month,)).fetchone()
    rows = []
    if risk is None or not risk[0]:
        rows.append(("early warning", "n/a — too little history for the churn model (it needs 6 months)"))
    else:
        scored, at_risk, listed, managers = risk
        rows.append(("early warning", f"{at_risk} clients still buying are at risk of going silent for 3 months; "
                                      f"{listed} on the call lists of {managers} managers"))
        for name, manager, p, reasons in top:
            rows.append(("  call first", f"{name} ({manager}): {_percent(p)} — {reasons}"))
    if rotation is not None and rotation[0] is not None:
        rotated, rotated_share, stayed, stayed_share = rotation
        rows.append(("rotation works?", f"active again within 3 months: rotated {_percent(rotated_share)} of "
                                        f"{rotated}, stayed {_percent(stayed_share)} of {stayed} (to date)"))
    return rows


def _money(value) -> str:
    return "n/a" if value is None else f"{float(value):,.0f}"


def _receivables_and_audit_headlines(conn: psycopg.Connection, month) -> list[tuple[str, str]]:
    """ПДЗ, payment discipline, КП and КД of the month, from the published tables.

    A figure whose source dataset was never loaded is NULL in ``reporting`` (metrics.md §10);
    it prints "n/a — no <dataset> loaded" so a director does not read a missing feed as zero.
    """
    receivables = conn.execute(
        "select receivables, overdue_receivables, overdue_share, overdue_clients, planned_payments, "
        "payments, payment_discipline, on_time_share from reporting.receivables_monthly "
        "where month = %s and manager_id is null", (month,)).fetchone()
    audits = conn.execute(
        "select audited_points, planogram_points, planogram_coverage, mml_skus, mml_present, "
        "distribution_coefficient from reporting.retail_audit_monthly "
        "where month = %s and dimension = 'total'", (month,)).fetchone()
    rows = []
    if receivables is None or receivables[0] is None:
        rows.append(("ПДЗ", "n/a — no invoices loaded"))
    else:
        total, overdue, share, clients, planned, paid, discipline, on_time = receivables
        rows.append(("ПДЗ", f"{_money(overdue)} overdue of {_money(total)} receivables = {_percent(share)}; "
                            f"{clients} clients overdue"))
        rows.append(("payment discipline",
                     "n/a — no payments loaded" if paid is None else
                     f"{_money(paid)} paid / {_money(planned)} due = {_percent(discipline)}; "
                     f"paid by the due date {_percent(on_time)}"))
    if audits is None or audits[0] is None:
        rows.append(("КП / КД", "n/a — no retail audits loaded"))
    else:
        audited, planogram, kp, mml_skus, present, kd = audits
        rows.append(("КП", f"{planogram} of {audited} audited points meet the planogram = {_percent(kp)}"))
        rows.append(("КД", f"{present} MML SKUs on the shelf of {audited} points × {mml_skus} MML SKUs "
                           f"= {_percent(kd)}"))
    return rows


UNIT_FORMATS = {"points": "{:,.0f}", "visits": "{:,.0f}", "orders": "{:,.0f}", "money": "{:,.2f}"}


def _matrix_value(unit: str, value) -> str:
    if value is None:
        return "—"
    if unit == "share":
        return f"{float(value) * 100:.1f}%"
    return UNIT_FORMATS[unit].format(float(value))


def print_kpi_matrix(conn: psycopg.Connection, console: Console) -> None:
    """The 24-line KPI matrix (metrics.md §10) of the last published quarter, in total.

    Directors review it quarterly, so the month shown is the latest published quarter-end
    month (its window is the quarter); before the first quarter end, the latest month.
    """
    month = conn.execute(
        "select coalesce(max(month) filter (where extract(month from month) in (3, 6, 9, 12)), max(month)) "
        "from reporting.publications").fetchone()[0]
    if month is None:
        return
    rows = conn.execute(
        "select metric_no, metric_name_ru, metric_code, unit, value from reporting.kpi_matrix_monthly "
        "where month = %s and dimension = 'total' order by metric_no", (month,)).fetchall()
    first = _window_start(month)
    table = Table(title=f"KPI matrix, {first:%Y-%m} … {month:%Y-%m} (published), all points")
    table.add_column("no", justify="right")
    table.add_column("line")
    table.add_column("code", style="dim")
    table.add_column("value", justify="right")
    for number, name, code, unit, value in rows:
        table.add_row(str(number), name, code, _matrix_value(unit, value))
    console.print(table)


def _window_start(month):
    """First month of the matrix's 3-month window ending at ``month``."""
    index = month.year * 12 + month.month - 1 - 2
    return month.replace(year=index // 12, month=index % 12 + 1)

def status_rows(conn: psycopg.Connection) -> list[tuple[str, int, int, int, int, int, str, int]]:
    """One row per dataset of the contract (then any other dataset the batches name):
    (label, loaded batches, rejected, rows read, loaded, quarantined, last load, not data),
    *not data* being workbooks' title and totals rows (read = loaded + quarantined + not data).

    Every contract dataset is listed, loaded or not, so an operator sees that an optional
    one (rep_costs, invoices, payments, retail_audits) exists and was not sent, rather than
    wondering whether the pipeline knows it; an optional one is labelled so.
    """
    found = {row[0]: row[1:] for row in conn.execute(
        "select dataset, count(*) filter (where status = 'loaded'), count(*) filter (where status = 'rejected'), "
        "sum(rows_read), sum(rows_loaded), sum(rows_quarantined), max(finished_at), "
        "sum(rows_title + rows_totals) from audit.batches group by dataset order by dataset"
    ).fetchall()}
    names = list(DATASETS) + sorted(set(found) - set(DATASETS))
    out = []
    for name in names:
        ok, rej, read, loaded, quar, last, not_data = found.get(name, (0, 0, 0, 0, 0, None, 0))
        optional = name in DATASETS and DATASETS[name].optional
        label = f"{name} (optional)" if optional else name
        out.append((label, ok, rej, read, loaded, quar, f"{last:%Y-%m-%d %H:%M}" if last else "", not_data))
    return out


def print_status(conn: psycopg.Connection, console: Console) -> None:
    table = Table(title="Loaded batches")
    for col in ("dataset", "batches", "rejected", "rows read", "loaded", "quarantined", "title/totals", "last load"):
        table.add_column(col, justify="left" if col in ("dataset", "last load") else "right")
    for label, ok, rej, read, loaded, quar, last, not_data in status_rows(conn):
        table.add_row(label, str(ok), str(rej), f"{read:,}", f"{loaded:,}", f"{quar:,}", f"{not_data:,}", last)
    console.print(table)

    _print_quarantine(conn, console)

    pubs = conn.execute(
        "select to_char(min(month), 'YYYY-MM'), to_char(max(month), 'YYYY-MM'), count(distinct month), "
        "max(published_at) from reporting.publications"
    ).fetchone()
    if pubs[0]:
        console.print(f"published: {pubs[2]} months, {pubs[0]} … {pubs[1]}, last at {pubs[3]:%Y-%m-%d %H:%M}")
    else:
        console.print("published: nothing yet")
    decision = conn.execute(
        "select passed, message, decided_at from audit.gate_decisions order by decision_id desc limit 1"
    ).fetchone()
    if decision:
        console.print(f"last quality gate ({decision[2]:%Y-%m-%d %H:%M}):")
        console.print(decision[1], style="green" if decision[0] else "red", markup=False, highlight=False)


def _print_quarantine(conn: psycopg.Connection, console: Console) -> None:
    """Open quarantine by dataset and reason, and the files rejected whole.

    A manager reads "open" as: rows the published figures do not include yet. The hint
    names the command that lists them, so the next step is on screen.
    """
    from clientbase.load import quarantine

    counts = quarantine.reason_counts(conn)
    if not counts:
        console.print("quarantine: empty")
    else:
        table = Table(title="Quarantine (open = not in the warehouse's figures)")
        for col in ("dataset", "reason", "open", "released", "oldest open"):
            table.add_column(col, justify="right" if col in ("open", "released") else "left")
        for c in counts:
            table.add_row(c.dataset, c.reason_code, f"[yellow]{c.open:,}[/]" if c.open else "0", f"{c.released:,}",
                          f"{c.oldest_open:%Y-%m-%d}" if c.oldest_open else "")
        console.print(table)
        if any(c.open for c in counts):
            console.print("see the rows: clientbase quarantine --month YYYY-MM [--dataset NAME] [--reason CODE]",
                          markup=False, highlight=False)
    print_files_not_read(conn, console)
    rejected = quarantine.rejected_files(conn)
    if rejected:
        table = Table(title="Rejected files (latest first)")
        for col in ("dataset", "file", "when", "why"):
            table.add_column(col, overflow="fold")
        for dataset, source, when, why in rejected:
            table.add_row(dataset, Text(source), f"{when:%Y-%m-%d %H:%M}" if when else "", Text(why))
        console.print(table)


def print_files_not_read(conn: psycopg.Connection, console: Console, since=None) -> None:
    """Every file of the landing folder that was not read, with why and what to do: a workbook
    or a PDF passed over without a word would show as a month with no shipments."""
    from clientbase.extract.files import IGNORED
    from clientbase.load import quarantine

    entries = quarantine.files_not_read(conn, since)
    if not entries:
        return
    table = Table(title="Files not read (landing folder)")
    for col in ("file", "reason", "what it is, what to do"):
        table.add_column(col, overflow="fold")
    for e in entries:
        style = "" if e.reason_code in IGNORED else "yellow"
        table.add_row(Text(e.path, style=style), e.reason_code, Text(e.reason))
    console.print(table)


def print_run_summary(conn: psycopg.Connection, console: Console, since) -> None:
    """What one `clientbase run` did: batches loaded since ``since``, the gate, publications."""
    rows = conn.execute(
        "select dataset, count(*), count(*) filter (where status = 'rejected'), sum(rows_read), "
        "sum(rows_loaded), sum(rows_quarantined) from audit.batches where started_at >= %s "
        "group by dataset order by min(batch_id)",
        (since,),
    ).fetchall()
    if rows:
        table = Table(title="Loaded in this run")
        for col in ("dataset", "batches", "rejected", "rows read", "loaded", "quarantined"):
            table.add_column(col, justify="left" if col == "dataset" else "right")
        for ds, n, rej, read, loaded, quar in rows:
            table.add_row(ds, str(n), str(rej), f"{read:,}", f"{loaded:,}",
                          f"[yellow]{quar:,}[/]" if quar else "0")
        console.print(table)
    else:
        console.print("nothing new to load: every file was loaded before (same content)")
    print_files_not_read(conn, console, since)
    decision = conn.execute(
        "select passed, message from audit.gate_decisions where decided_at >= %s order by decision_id desc limit 1",
        (since,),
    ).fetchone()
    if decision:
        console.print(decision[1], style="green" if decision[0] else "red", markup=False, highlight=False)
    published = conn.execute(
        "select count(*), count(*) filter (where version > 1) from reporting.publications where published_at >= %s",
        (since,),
    ).fetchone()
    console.print(f"publications: {published[0]} month(s) published"
                  + (f", {published[1]} of them new versions of months published before" if published[1] else "")
                  + ("; months whose content did not change keep their version" if published[0] == 0 else ""))
