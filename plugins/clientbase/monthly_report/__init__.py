"""The monthly report for managers who never open BI: ``clientbase report``.

One self-contained document per manager of a published month (HTML, or PDF printed from the
same HTML) with their status mix against plan, what changed since last month, their rotation
and handover lists, their coverage and visits, the KPI-matrix lines that concern them and
their receivables; plus one for the director, over every manager. It reads ``reporting``
only, as ``bi_reader`` where it can (``reader_connection``), the rows of each manager chosen
by the BI access rules (``data.py``).

Not to be confused with ``clientbase/report.py``, the terminal views of ``clientbase demo``
and ``clientbase status``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from clientbase import progress
from clientbase.monthly_report.data import Audience, ReportError, managers_of_month, publication_of, read_report
from clientbase.monthly_report.render import Renderer, write_html, write_pdf

log = logging.getLogger(__name__)

FORMATS = ("html", "pdf")

__all__ = ["FORMATS", "Audience", "ReportError", "Written", "reader_connection", "write_reports"]


@dataclass(frozen=True)
class Written:
    audience: Audience
    format: str
    path: Path


def reader_connection(url: str) -> psycopg.Connection:
    """A read-only connection that reads what ``bi_reader`` may read, and nothing else where possible.

    With CLIENTBASE_BI_READER_PASSWORD set it logs in as bi_reader (the role BI tools use);
    otherwise it logs in with the warehouse URL and ``SET ROLE bi_reader`` (the embedded
    server's owner is a superuser, the docker stack's owner a member), so a query outside
    ``reporting`` fails as it would in BI. When neither is allowed it reads as the URL's user,
    says so, and still opens read-only transactions only.
    """
    from clientbase.settings import load_settings
    from clientbase.warehouse.connection import connect

    roles = load_settings().roles
    if roles.bi_reader_password:
        reader_url = conninfo.make_conninfo(url, user=roles.bi_reader, password=roles.bi_reader_password)
        conn = connect(reader_url, setting="CLIENTBASE_BI_READER_PASSWORD")
    else:
        conn = connect(url)
        try:
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(roles.bi_reader)))
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidParameterValue) as exc:
            log.warning("cannot read as %s (%s): reading reporting as %s; set CLIENTBASE_BI_READER_PASSWORD to "
                        "read as %s", roles.bi_reader, str(exc).strip().splitlines()[0], conn.info.user,
                        roles.bi_reader)
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return conn


def write_reports(conn: psycopg.Connection, month: dt.date, out_dir: Path, formats: Sequence[str] = ("html",),
                  managers: Sequence[str] | None = None, director: bool = True,
                  language: str = "ru") -> list[Written]:
    """Write ``<out_dir>/<YYYY-MM>/<manager>.<format>`` for each manager (all of the month when
    ``managers`` is None) and ``director.<format>`` when ``director``; returns what was written.

    Progress goes to ``clientbase.progress`` (one note per document), which the CLI shows.
    """
    unknown_formats = [f for f in formats if f not in FORMATS]
    if unknown_formats:
        raise ReportError(f"format {', '.join(unknown_formats)}: use {' or '.join(FORMATS)}")
    with conn.transaction():
        publication_of(conn, month)  # a month not published fails here, naming the published ones
        of_month = managers_of_month(conn, month)
        if managers is None:
            chosen = of_month
        else:
            missing = [m for m in managers if m not in of_month]
            if missing:
                raise ReportError(f"{', '.join(missing)}: no rows of their own in {month:%Y-%m}; the managers of "
                                  f"that month are {', '.join(of_month) or 'none'}")
            chosen = list(managers)
        audiences = [Audience(m) for m in chosen] + ([Audience(None)] if director else [])
        renderer = Renderer(language)
        written: list[Written] = []
        folder = out_dir / f"{month:%Y-%m}"
        for number, audience in enumerate(audiences, start=1):
            name = audience.manager_id or "director"
            progress.report(f"{number}/{len(audiences)} {name}: reading")
            html = renderer.html(read_report(conn, month, audience))
            for fmt in formats:
                progress.report(f"{number}/{len(audiences)} {name}: {fmt}")
                path = folder / f"{audience.file_stem}.{fmt}"
                write_pdf(html, path) if fmt == "pdf" else write_html(html, path)
                written.append(Written(audience, fmt, path))
                log.debug("monthly report %s of %s: %s", name, f"{month:%Y-%m}", path)
    return written
