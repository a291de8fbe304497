"""What one monthly report shows, read from ``reporting`` (the published data) and nothing else.

Which rows belong to a manager is the BI access rule, not a second definition of it: every
section reads a dataset of ``clientbase.bi.definitions.DATASETS`` (its table, or its SQL for
the virtual ones) and filters on that dataset's ``owner_column``, exactly the column
``bi/access.py`` puts in the manager's row-level-security clause: ``manager_id`` for the client
tables (the manager owning the client as of the month), ``rep_id`` for the trade-point tables
(the point's rep as of the month). A dataset without an owner column holds company-wide
aggregates: only the director's report shows it, as only the director's role sees it in BI.
The managers of a month are those with a row of their own in one of those datasets that month.

Two published tables have no BI dataset yet (receivables_monthly, kpi_matrix_monthly): their
owner column follows the same rule (``OWN_SOURCES``): receivables belong to the clients' owner,
the matrix's ``rep`` lines to the rep.

Everything of one report is read in one read-only REPEATABLE READ transaction, so a month
published while the report runs cannot mix two versions in one document.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from clientbase.bi.access import published_managers
from clientbase.bi.definitions import DATASETS

log = logging.getLogger(__name__)

# How many months the trend charts go back (the month itself included): half a year shows a
# season without crowding an A4 page.
TREND_MONTHS = 6

# Published tables with no BI dataset yet, with the owner column the access rule gives them.
OWN_SOURCES: dict[str, tuple[str, str | None]] = {
    "receivables": ("reporting.receivables_monthly", "manager_id"),
}


class ReportError(ValueError):
    """A report that cannot be written as asked; the message says what to do instead."""


@dataclass(frozen=True)
class Audience:
    """Whom a document is for: one manager (their rows), or the director (every row)."""

    manager_id: str | None  # None: the director

    @property
    def is_director(self) -> bool:
        return self.manager_id is None

    @property
    def file_stem(self) -> str:
        """A file name that a manager id from source data cannot turn into a path."""
        if self.manager_id is None:
            return "director"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.manager_id).lstrip(".") or "_"


@dataclass
class ReportData:
    """Every figure of one document; rows are dicts of column -> value as published."""

    month: dt.date
    previous_month: dt.date | None
    audience: Audience
    publication: dict[str, Any]
    scorecard: list[dict[str, Any]] = field(default_factory=list)  # M and M-1 (director: every manager in M)
    status_mix: list[dict[str, Any]] = field(default_factory=list)  # M
    status_mix_previous: list[dict[str, Any]] = field(default_factory=list)  # M-1
    status_mix_managers: list[dict[str, Any]] = field(default_factory=list)  # director: every manager's rows in M
    status_flow: list[dict[str, Any]] = field(default_factory=list)  # from_status, to_status, clients
    events_trend: list[dict[str, Any]] = field(default_factory=list)  # month, new, returned, lost
    event_clients: list[dict[str, Any]] = field(default_factory=list)  # the clients new / returned / lost in M
    base_trend: list[dict[str, Any]] = field(default_factory=list)  # month, clients in base, active
    rotation: list[dict[str, Any]] = field(default_factory=list)
    call_list: list[dict[str, Any]] = field(default_factory=list)  # the clients to call first (issue 13)
    handover: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)  # their rep rows (director: total + territories)
    visits: list[dict[str, Any]] = field(default_factory=list)  # their rep rows (director: every rep)
    visits_trend: list[dict[str, Any]] = field(default_factory=list)  # month, planned, actual
    kpi_matrix: list[dict[str, Any]] = field(default_factory=list)
    receivables: list[dict[str, Any]] = field(default_factory=list)  # month, … over the trend months

    @property
    def owns_clients(self) -> bool:
        return bool(self.status_mix) or bool(self.scorecard)

    @property
    def is_rep(self) -> bool:
        return bool(self.visits) or bool(self.coverage)


def _source(dataset_key: str) -> sql.Composable:
    """The FROM of a BI dataset: its published table, or its virtual SQL as a subquery."""
    dataset = DATASETS[dataset_key]
    if dataset.sql:
        return sql.SQL("({}) as d").format(sql.SQL(dataset.sql))
    return sql.SQL("reporting.{} as d").format(sql.Identifier(dataset.table))


def _owned(column: str | None, audience: Audience) -> tuple[sql.Composable, list[Any]]:
    """The row filter of ``audience`` on a dataset whose owner column is ``column``.

    The director sees every row (the director's role is exempt from row-level security); a
    manager sees the rows whose owner column is their id, and none of a dataset without one
    (company-wide aggregates), as ``access.rls_filters`` provisions it in Superset.
    """
    if audience.is_director:
        return sql.SQL("true"), []
    if column is None:
        return sql.SQL("false"), []
    return sql.SQL("d.{} = %s").format(sql.Identifier(column)), [audience.manager_id]


def _dataset_rows(conn: psycopg.Connection, dataset_key: str, audience: Audience, select: str,
                  where: str = "true", params: tuple = (), tail: str = "") -> list[dict[str, Any]]:
    owned, owned_params = _owned(DATASETS[dataset_key].owner_column, audience)
    query = sql.SQL("select {select} from {source} where {owned} and ({where}) {tail}").format(
        select=sql.SQL(select), source=_source(dataset_key), owned=owned, where=sql.SQL(where), tail=sql.SQL(tail))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, [*owned_params, *params])
        return list(cur.fetchall())


def _own_rows(conn: psycopg.Connection, source_key: str, audience: Audience, select: str,
              where: str = "true", params: tuple = (), tail: str = "") -> list[dict[str, Any]]:
    table, column = OWN_SOURCES[source_key]
    owned, owned_params = _owned(column, audience)
    query = sql.SQL("select {select} from {table} as d where {owned} and ({where}) {tail}").format(
        select=sql.SQL(select), table=sql.SQL(table), owned=owned, where=sql.SQL(where), tail=sql.SQL(tail))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, [*owned_params, *params])
        return list(cur.fetchall())


def published_months(conn: psycopg.Connection) -> list[dt.date]:
    return [row[0] for row in conn.execute("select distinct month from reporting.publications order by 1")]


def publication_of(conn: psycopg.Connection, month: dt.date) -> dict[str, Any]:
    """The month's current publication (version, when); ReportError naming the published months if none."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select month, version, published_at, checks_passed, checks_warned from reporting.publications "
                    "where month = %s order by version desc limit 1", (month,))
        row = cur.fetchone()
    if row is None:
        months = published_months(conn)
        span = f"{months[0]:%Y-%m} … {months[-1]:%Y-%m}" if months else "none yet"
        raise ReportError(f"{month:%Y-%m} is not published (published months: {span}): close it first with "
                          "`clientbase run --from YYYY-MM --to YYYY-MM`, or pick a published month")
    return row


def managers_of_month(conn: psycopg.Connection, month: dt.date) -> list[str]:
    """Every manager or rep with a row of their own in month ``month`` (a BI dataset with an owner column).

    Limited to ``access.published_managers`` (the managers Superset gives a role), so the report
    and the BI roles never disagree on who is a manager.
    """
    ids: set[str] = set()
    for key, dataset in DATASETS.items():
        if not dataset.owner_column:
            continue
        column = sql.Identifier(dataset.owner_column)
        query = sql.SQL("select distinct d.{c} from {source} where d.month = %s and d.{c} is not null").format(
            c=column, source=_source(key))
        ids.update(row[0] for row in conn.execute(query, (month,)))
    known = set(published_managers(conn))
    return sorted(ids & known)


def _month_minus(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def read_report(conn: psycopg.Connection, month: dt.date, audience: Audience) -> ReportData:
    """Every figure of ``audience``'s document for ``month``, as published."""
    publication = publication_of(conn, month)
    previous = _month_minus(month, 1)
    if previous not in published_months(conn):
        previous_or_none: dt.date | None = None
    else:
        previous_or_none = previous
    since = _month_minus(month, TREND_MONTHS - 1)
    data = ReportData(month, previous_or_none, audience, publication)
    who = audience

    if who.is_director:
        data.scorecard = _dataset_rows(conn, "scorecard", who, "d.*", "d.month = %s", (month,), "order by d.manager_id")
        mix_where = "d.month = %s and d.manager_id is null"
    else:
        data.scorecard = _dataset_rows(conn, "scorecard", who, "d.*", "d.month in (%s, %s)", (month, previous),
                                       "order by d.month desc")
        mix_where = "d.month = %s"
    mix_select = "d.status, d.clients, d.share, d.plan_share, d.on_plan, d.role, d.client_base, d.status_order"
    # the director's status mix is the all-managers row (manager_id NULL), which their role sees
    data.status_mix = _mix(conn, who, mix_select, mix_where, month)
    data.status_mix_previous = _mix(conn, who, mix_select, mix_where, previous)
    if who.is_director:
        data.status_mix_managers = _dataset_rows(
            conn, "status_summary", who, "d.manager_id, " + mix_select, "d.month = %s and d.manager_id is not null",
            (month,), "order by d.manager_id, d.status_order")
    data.status_flow = _dataset_rows(
        conn, "status_flow", who, "d.from_status, d.to_status, sum(d.clients)::bigint as clients", "d.month = %s",
        (month,), "group by d.from_status, d.to_status order by d.from_status, d.to_status")
    data.events_trend = _dataset_rows(
        conn, "client_status", who,
        "d.month, count(*) filter (where d.is_new_this_month) as new, "
        "count(*) filter (where d.is_returned_this_month) as returned, "
        "count(*) filter (where d.is_lost_this_month) as lost",
        "d.month between %s and %s", (since, month), "group by d.month order by d.month")
    data.event_clients = _dataset_rows(
        conn, "client_status", who,
        "d.client_id, d.manager_id, d.status, d.tier, d.revenue, d.months_inactive",
        "d.month = %s and (d.is_new_this_month or d.is_returned_this_month or d.is_lost_this_month)", (month,),
        "order by d.status, d.client_id")
    data.base_trend = _dataset_rows(
        conn, "status_summary", who, "d.month, max(d.client_base) as client_base",
        "d.month between %s and %s" + (" and d.manager_id is null" if who.is_director else ""), (since, month),
        "group by d.month order by d.month")
    data.rotation = _dataset_rows(
        conn, "rotation", who, "d.client_id, d.manager_id, d.status, d.tier, d.last_shipment_date, "
        "d.months_inactive, d.revenue_12m", "d.month = %s", (month,), "order by d.revenue_12m desc nulls last, "
        "d.client_id")
    data.call_list = _dataset_rows(
        conn, "churn_risk", who, "d.client_id, d.client_name, d.manager_id, d.status, d.tier, d.p_lost_3m, "
        "d.risk_rank, d.reasons, d.reasons_en, d.last_shipment_date", "d.month = %s and d.on_call_list", (month,),
        "order by d.manager_id, d.risk_rank")
    data.handover = _dataset_rows(
        conn, "client_status", who, "d.client_id, d.manager_id, d.status, d.tier, d.revenue, d.months_inactive",
        "d.month = %s and d.is_handover_candidate", (month,), "order by d.revenue desc nulls last, d.client_id")
    if who.is_director:
        total = _dataset_rows(conn, "coverage_total", who, "'all' as dimension_value, d.*", "d.month = %s", (month,))
        territories = _dataset_rows(conn, "coverage_territory", who, "d.territory as dimension_value, d.*",
                                    "d.month = %s", (month,), "order by d.territory")
        data.coverage = total + territories
    else:
        data.coverage = _dataset_rows(conn, "coverage_rep", who, "d.rep_id as dimension_value, d.*", "d.month = %s",
                                      (month,))
    data.visits = _dataset_rows(conn, "visits", who, "d.*", "d.month = %s", (month,), "order by d.rep_id")
    data.visits_trend = _dataset_rows(
        conn, "visits", who, "d.month, sum(d.planned_visits)::bigint as planned_visits, "
        "sum(d.actual_visits)::bigint as actual_visits", "d.month between %s and %s", (since, month),
        "group by d.month order by d.month")
    data.kpi_matrix = _kpi_matrix(conn, month, who)
    data.receivables = _own_rows(
        conn, "receivables", who, "d.*", "d.month between %s and %s" + (
            " and d.manager_id is null" if who.is_director else ""), (since, month), "order by d.month")
    return data


def _mix(conn: psycopg.Connection, who: Audience, select: str, where: str, month: dt.date) -> list[dict[str, Any]]:
    return _dataset_rows(conn, "status_summary", who, select, where, (month,), "order by d.status_order")


def _kpi_matrix(conn: psycopg.Connection, month: dt.date, who: Audience) -> list[dict[str, Any]]:
    """The matrix lines that concern ``who``: the total for the director, their ``rep`` lines for a rep.

    The matrix's rep dimension is the point's rep as of the month, the same tie as the
    trade-point datasets' ``rep_id`` (access.py); territories belong to no one manager.
    """
    if who.is_director:
        dimension, value = "total", "all"
    else:
        dimension, value = "rep", who.manager_id
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select metric_no, metric_code, metric_name_ru, unit, value from reporting.kpi_matrix_monthly "
                    "where month = %s and dimension = %s and dimension_value = %s order by metric_no",
                    (month, dimension, value))
        return list(cur.fetchall())
