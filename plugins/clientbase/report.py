"""Terminal views of what the warehouse holds: the last month's summary, the pipeline state."""

from __future__ import annotations

import psycopg
from rich.console import Console
from rich.table import Table

STATUS_ORDER = ("stabilized", "unstabilized", "new", "returned", "lost", "dormant", "potential")


def _pct(value) -> str:
    return "" if value is None else f"{float(value) * 100:.1f} %"


def print_last_month(conn: psycopg.Connection, console: Console) -> None:
    """The status summary of the last published month, all managers and each one."""
    month = conn.execute("select max(month) from reporting.publications").fetchone()[0]
    if month is None:
        console.print("nothing is published yet")
        return
    rows = conn.execute(
        "select coalesce(manager_id, 'ALL'), status, clients, share, plan_share, on_plan "
        "from reporting.status_summary_monthly where month = %s "
        "order by manager_id nulls first, array_position(%s::text[], status)",
        (month, list(STATUS_ORDER)),
    ).fetchall()
    table = Table(title=f"Client status summary, {month:%Y-%m} (published)")
    for col, justify in (("manager", "left"), ("status", "left"), ("clients", "right"),
                         ("share of base", "right"), ("plan", "right"), ("on plan", "center")):
        table.add_column(col, justify=justify)
    previous = None
    for manager, status, clients, share, plan, on_plan in rows:
        if previous is not None and manager != previous:
            table.add_section()
        previous = manager
        flag = "" if on_plan is None else ("[green]yes[/]" if on_plan else "[red]no[/]")
        table.add_row(manager, status, str(clients), _pct(share), _pct(plan), flag)
    console.print(table)


def print_status(conn: psycopg.Connection, console: Console) -> None:
    batches = conn.execute(
        "select dataset, count(*) filter (where status = 'loaded'), count(*) filter (where status = 'rejected'), "
        "sum(rows_read), sum(rows_loaded), sum(rows_quarantined), max(finished_at) "
        "from audit.batches group by dataset order by dataset"
    ).fetchall()
    table = Table(title="Loaded batches")
    for col in ("dataset", "batches", "rejected", "rows read", "loaded", "quarantined", "last load"):
        table.add_column(col, justify="left" if col in ("dataset", "last load") else "right")
    for ds, ok, rej, read, loaded, quar, last in batches:
        table.add_row(ds, str(ok), str(rej), f"{read:,}", f"{loaded:,}", f"{quar:,}", f"{last:%Y-%m-%d %H:%M}" if last else "")
    console.print(table)

    quarantine = conn.execute(
        "select dataset, reason_code, count(*) filter (where released_at is null), "
        "count(*) filter (where released_at is not null) from audit.quarantine group by 1, 2 order by 1, 2"
    ).fetchall()
    if quarantine:
        qt = Table(title="Quarantine")
        for col in ("dataset", "reason", "held", "released"):
            qt.add_column(col)
        for ds, code, held, released in quarantine:
            qt.add_row(ds, code, str(held), str(released))
        console.print(qt)
    else:
        console.print("quarantine: empty")

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
        colour = "green" if decision[0] else "red"
        console.print(f"last quality gate ({decision[2]:%Y-%m-%d %H:%M}): [{colour}]{decision[1]}[/]")


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
    decision = conn.execute(
        "select passed, message from audit.gate_decisions where decided_at >= %s order by decision_id desc limit 1",
        (since,),
    ).fetchone()
    if decision:
        console.print(("[green]" if decision[0] else "[red]") + decision[1] + "[/]")
    published = conn.execute(
        "select count(*), count(*) filter (where version > 1) from reporting.publications where published_at >= %s",
        (since,),
    ).fetchone()
    console.print(f"publications: {published[0]} month(s) published"
                  + (f", {published[1]} of them new versions of months published before" if published[1] else "")
                  + ("; months whose content did not change keep their version" if published[0] == 0 else ""))
