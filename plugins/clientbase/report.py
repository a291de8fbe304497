"""Terminal views of what the warehouse holds: the last month's summary, the pipeline state."""

from __future__ import annotations

import psycopg
from rich.console import Console
from rich.table import Table

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
        console.print(f"last quality gate ({decision[2]:%Y-%m-%d %H:%M}):")
        console.print(decision[1], style="green" if decision[0] else "red", markup=False, highlight=False)


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
        console.print(decision[1], style="green" if decision[0] else "red", markup=False, highlight=False)
    published = conn.execute(
        "select count(*), count(*) filter (where version > 1) from reporting.publications where published_at >= %s",
        (since,),
    ).fetchone()
    console.print(f"publications: {published[0]} month(s) published"
                  + (f", {published[1]} of them new versions of months published before" if published[1] else "")
                  + ("; months whose content did not change keep their version" if published[0] == 0 else ""))
