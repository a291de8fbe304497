"""Reading the quarantine: what is held, by dataset and reason, and which rows, by month.

The loader writes ``audit.quarantine`` (one row per record it could not load, with file,
line, reason and raw text); these queries are what ``clientbase status`` and
``clientbase quarantine`` show, kept here so they can be tested without a terminal.

A quarantined row belongs to a month by its own date (``doc_date``, ``visit_date``,
``plan_date``, ``month``, ``snapshot_date``, ``payment_date`` or ``audit_date``: the first
date of the dataset's window, parsed exactly as the loader parses it), so
a manager checking March sees the rows that March's figures lack. A row without such a
date (managers and products carry none, a malformed record has no readable fields, the
date itself may be what is wrong or out of range) belongs to the month its file was loaded.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

import psycopg

from clientbase.contract import DATASETS
from clientbase.extract.files import IGNORED as IGNORED_FILES
from clientbase.load import rules
from clientbase.load.loader import INVALID, MALFORMED, REJECTED_FILE, UNKNOWN_REFERENCE

log = logging.getLogger(__name__)

REASON_CODES = (INVALID, UNKNOWN_REFERENCE, MALFORMED, REJECTED_FILE)
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class ReasonCount:
    """Quarantined rows of one dataset held for one reason."""

    dataset: str
    reason_code: str
    open: int
    released: int
    oldest_open: dt.datetime | None


@dataclass(frozen=True)
class QuarantinedRow:
    quarantine_id: int
    dataset: str
    source_name: str
    line_no: int | None
    reason_code: str
    reason: str
    raw_text: str | None
    month: dt.date  # the month the row is listed under
    dated_by_row: bool  # True: its own date; False: the month its file was loaded
    released_at: dt.datetime | None


@dataclass(frozen=True)
class Listing:
    rows: list[QuarantinedRow]
    total: int  # rows matching the filters, before the limit


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` -> the month's first day; ValueError that says what was expected."""
    match = MONTH_PATTERN.match(text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2024-03")
    return dt.date(int(match[1]), int(match[2]), 1)


def check_filters(dataset: str | None, reason: str | None) -> None:
    """Refuse unknown names early, listing the valid ones (a typo should not show 'nothing')."""
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: one of {', '.join(DATASETS)}")
    if reason is not None and reason not in REASON_CODES:
        raise ValueError(f"unknown reason {reason!r}: one of {', '.join(REASON_CODES)}")


def reason_counts(conn: psycopg.Connection) -> list[ReasonCount]:
    """Open and released rows per dataset and reason, datasets with open rows first."""
    rows = conn.execute(
        "select dataset, reason_code, count(*) filter (where released_at is null), "
        "count(*) filter (where released_at is not null), min(quarantined_at) filter (where released_at is null) "
        "from audit.quarantine group by dataset, reason_code "
        "order by count(*) filter (where released_at is null) = 0, dataset, reason_code"
    ).fetchall()
    return [ReasonCount(*row) for row in rows]


def row_date_sql(alias: str = "q") -> str:
    """SQL: the in-range date a quarantined row carries (from its record), else NULL."""
    branches = []
    for ds in DATASETS.values():
        if not ds.date_columns_in_range:
            continue
        col = ds.column(ds.date_columns_in_range[0])
        text = rules.date_text(f"nullif(btrim({alias}.record->>'{col.name}'), '')", col.type)
        branches.append(f"when '{ds.name}' then ({text})::date")
    parsed = f"(case {alias}.dataset {' '.join(branches)} end)"
    return f"(case when {rules.in_range(parsed)} then {parsed} end)"


def list_rows(conn: psycopg.Connection, month: dt.date | None, *, dataset: str | None = None,
              reason: str | None = None, include_released: bool = False,
              limit: int | None = None) -> Listing:
    """Quarantined rows listed under ``month`` (None: every month), oldest file first."""
    check_filters(dataset, reason)
    row_date = row_date_sql("q")
    rows = conn.execute(
        f"""with listed as (
            select q.quarantine_id, q.dataset, q.source_name, q.line_no, q.reason_code, q.reason, q.raw_text,
                   coalesce(date_trunc('month', {row_date}), date_trunc('month', b.started_at))::date as month,
                   {row_date} is not null as dated_by_row, q.released_at, q.batch_id
            from audit.quarantine q
            join audit.batches b on b.batch_id = q.batch_id
            where (%(dataset)s::text is null or q.dataset = %(dataset)s)
              and (%(reason)s::text is null or q.reason_code = %(reason)s)
              and (%(released)s or q.released_at is null)
        )
        select quarantine_id, dataset, source_name, line_no, reason_code, reason, raw_text, month,
               dated_by_row, released_at, count(*) over ()
        from listed
        where %(month)s::date is null or month = %(month)s
        order by dataset, batch_id, line_no
        limit %(limit)s""",
        {"dataset": dataset, "reason": reason, "released": include_released, "month": month,
         "limit": limit},
    ).fetchall()
    total = rows[0][-1] if rows else 0
    return Listing([QuarantinedRow(*row[:-1]) for row in rows], total)


def rejected_files(conn: psycopg.Connection, limit: int = 20) -> list[tuple[str, str, dt.datetime | None, str]]:
    """The most recent rejected batches: (dataset, file, when, why). Some have no rows at all
    (an empty or UTF-16 file), so they would never appear in a row listing."""
    return conn.execute(
        "select dataset, source_name, finished_at, coalesce(message, '') from audit.batches "
        "where status = 'rejected' order by batch_id desc limit %s",
        (limit,),
    ).fetchall()


@dataclass(frozen=True)
class FileNotRead:
    """A file of the landing folder no batch reads (``audit.files_not_read``), and why."""

    path: str
    dataset: str | None
    reason_code: str
    reason: str
    last_seen: dt.datetime


def files_not_read(conn: psycopg.Connection, since: dt.datetime | None = None) -> list[FileNotRead]:
    """Files of the landing folder left unread by the latest survey of their folder (seen
    since ``since``, when given), the ones that need action before the merely ignored ones."""
    rows = conn.execute(
        "select path, dataset, reason_code, reason, last_seen from audit.files_not_read "
        "where %s::timestamptz is null or last_seen >= %s "
        "order by reason_code = any(%s), path",
        (since, since, list(IGNORED_FILES)),
    ).fetchall()
    return [FileNotRead(*row) for row in rows]
