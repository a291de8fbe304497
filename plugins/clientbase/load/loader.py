"""Load one batch into ``raw``: COPY, type-check in SQL, keep or quarantine, account for it.

A batch is one file (files mode) or one extraction of a table (SQL mode). Everything a
batch does happens in one transaction, so a run killed half-way leaves nothing behind,
and the ``audit.batches`` row enforces (by a CHECK constraint) that
rows read = rows loaded + rows quarantined.

How a CSV file gets into ``_landing`` (issue 12): no Python step per row where it can be
avoided. ``extract.files.scan`` reads the file once in 1 MiB chunks (incremental decoder:
the encoding decision, line count, quotes, NUL, lone carriage returns); a file whose
records are exactly its lines (no quote character at all: every shipments, visits and plan
export the sources send) is COPYed as ``FORMAT csv`` straight into ``_landing`` by
PostgreSQL's C parser, transcoded to UTF-8 chunk by chunk if it is Windows-1251
(:func:`_copy_csv_body`). Its line numbers are then the COPY order (an identity column
from 2) and a record's raw text is its fields joined by the delimiter, computed in SQL for
the few rows quarantined, so the results are the record reader's, byte for byte
(``tests/test_stream_load.py`` loads every demo, scenario and corpus file both ways).
Anything COPY refuses (wrong field count, blank line, ...) rolls back to a savepoint and
that file alone is read record by record (``extract.files.read_records``), which keeps
every message of the bad-input corpus. A file with quotes is read record by record too:
the alternatives measured worse or not exact. COPY csv cannot give back the raw text of a
quoted record (which fields were quoted is lost), and COPYing the lines into a one-column
table to split them in SQL needs a second pass (window sums of quote parity for records
over several lines, a regular-expression CSV splitter for the quoted ones) that costs more
than it saves on the files that have quotes: the reference lists (clients, trade points,
products), thousands of rows, not hundreds of thousands.

Measured on the 2-core development machine, a 500,000-line UTF-8 shipments file (52 MB),
one embedded server, ``tests/perf/stream_load_bench.py``, statement times from the server's
``log_min_duration_statement`` (2026-12-02, nothing else running): the floor (COPY into
untyped text) 1.23 s; the extraction end to end 8.3 s (15 % of the floor's rows/s, target
50 % not met). Of the 8.3 s: COPY into ``_landing`` 1.0 s, the type-check CTAS 4.0-5.0 s,
the insert into raw (heap, its key index and BRIN) 1.8 s, the duplicate count 0.4 s. The
type check's cost is spread over its ~60 expressions (trim, 5 regular expressions, 3
decimal rewrites, 2 ``pg_input_is_valid``, the error array, the casts: 0.2-0.4 s each per
500 k rows); a plain cast of every column costs 0.5 s, but PostgreSQL's input functions
accept more than sources.md does (``today``, ``1_000``, ``NaN``, ``0x1F``), so they cannot
replace the rules. Cheaper tests in front of the regular expressions (``ltrim`` over a
character set, ``strpos``) measured no faster, except for whole numbers and timestamps
(about 0.35 s in all), which ``rules`` therefore has. Even a zero-cost check leaves COPY +
insert + duplicates at 3.2 s = 2.6 x the floor: 50 % of the floor needs the rows to reach raw
in one COPY, with the checks inside it (PostgreSQL 17's ``COPY ... ON_ERROR``, not in the embedded 16). Peak RSS 57 MiB
(158 MiB before issue 12, which read the whole file into memory to detect its encoding).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from clientbase.contract import BATCH_COLUMN, LINE_COLUMN, Dataset
from clientbase.extract.files import CsvBody, NotData, Record
from clientbase.load import rules
from clientbase.warehouse.schema import SCHEMA_LOCK_KEY

log = logging.getLogger(__name__)

# reason_code values of audit.quarantine
MALFORMED = "malformed"
INVALID = "invalid"
UNKNOWN_REFERENCE = "unknown_reference"
REJECTED_FILE = "rejected_file"


@dataclass
class BatchResult:
    dataset: str
    source_name: str
    status: str  # loaded | rejected | skipped
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_title: int = 0  # a workbook's rows above the header (read, not data)
    rows_totals: int = 0  # a workbook's totals row(s) (read, not data)
    duplicate_keys: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    message: str = ""

    def summary(self) -> str:
        if self.status == "skipped":
            return f"{self.dataset}: {self.source_name} skipped ({self.message})"
        text = (f"{self.dataset}: {self.source_name} {self.status}: read {self.rows_read}, "
                f"loaded {self.rows_loaded}, quarantined {self.rows_quarantined}")
        if self.rows_title or self.rows_totals:
            text += f", title rows {self.rows_title}, totals rows {self.rows_totals}"
        return f"{text}; {self.message}" if self.message else text


def _lock_dataset(conn: psycopg.Connection, dataset: str) -> None:
    """Serialise loads of one dataset (two DAGs may bring the same reference list).

    The schema lock is taken first, shared: loads run side by side, while DDL (which
    takes it exclusively) waits for them instead of deadlocking with them.
    """
    conn.execute("select pg_advisory_xact_lock_shared(%s)", (SCHEMA_LOCK_KEY,))
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"clientbase.load.{dataset}",))


def _create_landing(conn: psycopg.Connection, ds: Dataset, extra: Iterable[str] = ()) -> None:
    """The batch's temp table of text columns: the dataset's columns, plus ``extra`` ones that
    hold a file's other fields (unknown or repeated columns) when COPY fills it straight
    from the file. ``_line_no`` counts on from 2 (the line after the header) for COPY."""
    cols = ", ".join([f"{c.name} text" for c in ds.columns] + [f"{name} text" for name in extra])
    conn.execute("drop table if exists _landing")
    conn.execute(
        "create temp table _landing (_batch_id bigint, "
        "_line_no bigint generated by default as identity (start with 2), _raw_text text, "
        f"_malformed text, _quarantine_id bigint, {cols}) on commit drop"
    )


def load_records(
    conn: psycopg.Connection,
    ds: Dataset,
    header: tuple[str, ...],
    records: Iterable[Record],
    *,
    source_kind: str,
    source_name: str,
    content_sha256: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    watermark: str | None = None,
    not_data: NotData | None = None,
    body: CsvBody | None = None,
) -> BatchResult:
    """Load one batch of records whose fields follow ``header`` (normalised column names).

    ``not_data``: rows the reader recognised and did not pass on (a workbook's title and
    totals rows); they count as read, so the batch still reconciles row for row.

    ``body``: the file may be COPYed as CSV straight into the landing table (see
    :func:`_copy_csv_body`); ``records`` is then read only if COPY refuses the file.
    """
    not_data = not_data or NotData()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("load_records needs a connection outside any transaction: a batch is its own transaction")
    with conn.transaction():
        _lock_dataset(conn, ds.name)
        known = conn.execute(
            "select batch_id, status, source_name from audit.batches where dataset = %s and content_sha256 = %s",
            (ds.name, content_sha256),
        ).fetchone()
        if known:
            return BatchResult(ds.name, source_name, "skipped", batch_id=known[0],
                               message=f"same content as batch {known[0]} ({known[2]}, {known[1]})")

        ignored = [h for h in header if h and h not in ds.column_names]
        positions: dict[str, int] = {}
        repeated: list[str] = []
        for i, name in enumerate(header):
            if name in ds.column_names:
                if name in positions:
                    repeated.append(name)
                else:
                    positions[name] = i
        missing = [c for c in ds.required if c not in positions]

        batch_id = conn.execute(
            "insert into audit.batches (dataset, source_kind, source_name, content_sha256, status, "
            "ignored_columns, encoding, delimiter, watermark) values (%s, %s, %s, %s, 'loaded', %s, %s, %s, %s) "
            "returning batch_id",
            (ds.name, source_kind, source_name, content_sha256, ignored, encoding, delimiter, watermark),
        ).fetchone()[0]

        slots = [name if positions.get(name) == i else f"_f{i}" for i, name in enumerate(header)]
        _create_landing(conn, ds, [name for name in slots if name not in ds.column_names])
        present = list(positions)
        copied = _copy_csv_body(conn, batch_id, body, slots) if body is not None else None
        if copied is None:
            copied = _copy_into_landing(conn, ds, batch_id, records, positions)
            raw_sql = "l._raw_text"
        else:
            raw_sql = _raw_text_sql(body.delimiter, slots)
        rows_read = copied + not_data.title + not_data.totals

        messages = [not_data.note] if not_data.note else []
        if ignored:
            messages.append("ignored unknown columns: " + ", ".join(ignored)
                            + f" ({ds.name} reads only {', '.join(ds.column_names)})")
        if repeated:
            messages.append("column(s) named twice in the header: " + ", ".join(dict.fromkeys(repeated))
                            + " (the first of each is read, the others ignored)")
        if missing:
            status = "rejected"
            reason = (f"file rejected: missing required column(s) {', '.join(missing)} "
                      f"(the header has: {', '.join(h for h in header if h) or 'no names'}); "
                      "fix the export and drop it again")
            messages.insert(0, reason)
            _quarantine_all(conn, ds, set(present), source_name, reason, raw_sql)
            loaded = 0
            duplicates = 0
        else:
            status = "loaded"
            loaded, duplicates = _check_and_insert(conn, ds, set(present), source_name, raw_sql)
            if duplicates:
                messages.append(_duplicates_message(conn, ds, duplicates))
            if rows_read == not_data.title + not_data.totals:
                messages.append("no data rows (header only): nothing to load")
            _resolve_superseded(conn, ds, batch_id)
        quarantined = conn.execute(
            "select count(*) from audit.quarantine where batch_id = %s", (batch_id,)
        ).fetchone()[0]
        if rows_read != loaded + quarantined + not_data.title + not_data.totals:
            raise RuntimeError(
                f"reconciliation failed for {source_name}: read {rows_read} != loaded {loaded} "
                f"+ quarantined {quarantined} + title {not_data.title} + totals {not_data.totals}; "
                "nothing was loaded (transaction rolled back)"
            )
        if quarantined:
            messages.append(_quarantine_digest(conn, batch_id))
        message = "; ".join(messages)
        conn.execute(
            "update audit.batches set status = %s, rows_read = %s, rows_loaded = %s, rows_quarantined = %s, "
            "rows_title = %s, rows_totals = %s, duplicate_keys = %s, message = %s, finished_at = clock_timestamp() "
            "where batch_id = %s",
            (status, rows_read, loaded, quarantined, not_data.title, not_data.totals, duplicates, message or None,
             batch_id),
        )
    result = BatchResult(ds.name, source_name, status, batch_id, rows_read, loaded, quarantined,
                         not_data.title, not_data.totals, duplicates, ignored, message)
    (log.warning if (status == "rejected" or quarantined) else log.info)("%s", result.summary())
    return result


def _copy_into_landing(conn: psycopg.Connection, ds: Dataset, batch_id: int,
                       records: Iterable[Record], positions: dict[str, int]) -> int:
    names = list(positions)
    idx = [positions[n] for n in names]
    columns = sql.SQL(", ").join(
        sql.Identifier(n) for n in ["_batch_id", "_line_no", "_raw_text", "_malformed", *names])
    count = 0
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("copy _landing ({}) from stdin").format(columns)) as copy:
            blanks = [None] * len(idx)
            for rec in records:
                count += 1
                if rec.fields is None:
                    copy.write_row((batch_id, rec.line_no, rec.raw_text, rec.error, *blanks))
                else:
                    fields = rec.fields
                    copy.write_row((batch_id, rec.line_no, rec.raw_text, None, *[fields[i] for i in idx]))
    return count


class _NotOneRecordPerLine(Exception):
    """COPY read another number of records than the file has lines after its header."""


def _copy_csv_body(conn: psycopg.Connection, batch_id: int, body: CsvBody, slots: list[str]) -> int | None:
    """COPY a file's body as CSV straight into ``_landing``; None (rolled back) if it cannot.

    Why COPY and not Python's csv module: PostgreSQL's C parser splits the fields at a
    fraction of the cost of a Python step per row (see the measurements in the module
    docstring). :class:`~clientbase.extract.files.CsvBody` only admits files whose records
    are their physical lines, so the record after the header is line 2, the next line 3 ...
    (the identity ``_line_no``), and a record's raw text is its fields joined by the
    delimiter (:func:`_raw_text_sql`): the results equal the per-record reader's. Anything
    COPY refuses (a wrong field count, a blank line, PostgreSQL's end-of-data marker: a line
    holding only a backslash and a dot)
    rolls back to a savepoint, and the caller reads that file record by record, which says
    exactly what is wrong with which line.
    """
    if body.records == 0:
        return 0
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in slots)
    statement = sql.SQL(
        "copy _landing ({}) from stdin with (format csv, delimiter {}, force_not_null ({}))"
    ).format(columns, sql.Literal(body.delimiter), columns)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("alter table _landing alter column _batch_id set default {}").format(
                sql.Literal(batch_id)))
            with conn.cursor() as cur:
                with cur.copy(statement) as copy:
                    for chunk in body.chunks():
                        copy.write(chunk)
                copied = cur.rowcount
            if copied != body.records:
                raise _NotOneRecordPerLine(f"COPY read {copied} records from {body.records} lines")
    except (psycopg.errors.DataError, _NotOneRecordPerLine) as exc:
        log.info("%s: read record by record (COPY refused it: %s)", body.path.name, str(exc).splitlines()[0])
        return None
    return copied


def _raw_text_sql(delimiter: str, slots: list[str]) -> str:
    """SQL for a COPYed record's raw text: its fields joined by the delimiter (none is NULL)."""
    return "concat_ws('" + delimiter.replace("'", "''") + "', " + ", ".join(f"l.{n}" for n in slots) + ")"


def _record_json(ds: Dataset, present: set[str], alias: str = "l") -> str:
    pairs = ", ".join(f"'{c.name}', {alias}.{c.name}" for c in ds.columns if c.name in present)
    return f"jsonb_build_object({pairs})" if pairs else "'{}'::jsonb"


def _quarantine_all(conn: psycopg.Connection, ds: Dataset, present: set[str], source_name: str,
                    reason: str, raw_sql: str = "l._raw_text") -> None:
    """Every record of a rejected file, kept with the columns it has (so its date is known)."""
    conn.execute(
        "insert into audit.quarantine (batch_id, dataset, source_name, line_no, reason_code, reason, record, raw_text) "
        "select _batch_id, %s, %s, _line_no, %s, %s, "
        f"case when _malformed is null then {_record_json(ds, present)} end, "
        f"{raw_sql} from _landing l",
        (ds.name, source_name, REJECTED_FILE, reason),
    )


def _duplicates_message(conn: psycopg.Connection, ds: Dataset, duplicates: int) -> str:
    """Say which key repeats and where, so the source's owner can find the double export."""
    key = ", ".join(ds.key)
    example = conn.execute(
        f"select concat_ws(' / ', {key}), array_agg(_line_no order by _line_no) from _checked "
        "where cardinality(_errors) = 0 and cardinality(_ref_errors) = 0 "
        f"group by {key} having count(*) > 1 order by min(_line_no) limit 1"
    ).fetchone()
    where = f", e.g. {example[0]} at lines {', '.join(map(str, example[1]))}" if example else ""
    return (f"{duplicates} row(s) repeat the key ({key}) of an earlier row in this file{where}: "
            "all are kept in raw, the last line wins in staging")


def _resolve_superseded(conn: psycopg.Connection, ds: Dataset, batch_id: int) -> int:
    """Close open quarantine rows whose key this batch has now loaded from a later line.

    A corrected re-export is how a source fixes a bad row: once a newer version of the
    same key is in raw, the quarantined one no longer hides anything from the marts.
    ``released_in_batch`` names the batch that superseded it. Rows without a readable
    key (malformed records) cannot be matched and stay open.
    """
    open_rows = conn.execute(
        "select exists (select from audit.quarantine where dataset = %s and released_at is null "
        "and record is not null)", (ds.name,)).fetchone()[0]
    if not open_rows:
        return 0  # nothing to supersede: skip the join over the whole batch
    cols = ", ".join(f"{c} text" for c in ds.key)
    match = " and ".join(f"c.{c} = {rules.typed(ds.column(c))}" for c in ds.key)
    resolved = conn.execute(
        f"""update audit.quarantine q set released_at = clock_timestamp(), released_in_batch = %s
        from (select distinct q2.quarantine_id
              from audit.quarantine q2
              cross join lateral jsonb_to_record(q2.record) as l({cols})
              join _checked c on {match} and (c._batch_id, c._line_no) > (q2.batch_id, q2.line_no)
              where q2.dataset = %s and q2.released_at is null and q2.record is not null
                and cardinality(c._errors) = 0 and cardinality(c._ref_errors) = 0) s
        where q.quarantine_id = s.quarantine_id""",
        (batch_id, ds.name),
    ).rowcount
    if resolved:
        log.info("%s: %d quarantined row(s) superseded by batch %d", ds.name, resolved, batch_id)
    return resolved


def _type_check(conn: psycopg.Connection, ds: Dataset, present: set[str]) -> list[str]:
    """Build ``_checked`` from the well-formed rows of ``_landing``: typed values, type
    errors, then (for rows without type errors) unknown-reference errors. Returns the typed
    columns it holds.

    One statement, one scan, and each rule's input computed once per row: the query is
    staged (cleaned text ``_s_*``; the rewrite of a number, date or timestamp ``_c_*``;
    normalised text ``_n_*``; then errors and typed values; then the reference checks), each
    stage fenced with ``offset 0`` so the planner
    does not fold it into the next and evaluate the same regular expressions again for every
    rule that reads them. An UPDATE for the reference errors afterwards would rewrite every
    row of the batch. What only a quarantined row needs (its record as JSON, its raw text)
    is not built here but read back from ``_landing`` by :func:`_check_and_insert`.
    """
    cols = [c for c in ds.columns if c.name in present]
    cleaned = "".join(f",\n{rules.cleaned(c.name)} as _s_{c.name}" for c in cols)
    rewrites = {c.name: rules.candidate(c, f"a._s_{c.name}") for c in cols}
    candidates = "".join(f",\n{expr} as _c_{name}" for name, expr in rewrites.items() if expr)
    normal = "".join(
        f",\n{rules.accepted(c, f'b._c_{c.name}') if rewrites[c.name] else rules.normalised(c, f'b._s_{c.name}')}"
        f" as _n_{c.name}" for c in cols)
    typed = "".join(f",\n{rules.typed(c, staged=True)} as {c.name}" for c in cols)
    conn.execute("drop table if exists _checked")
    conn.execute(
        f"""create temp table _checked on commit drop as
        select c.*,
               case when cardinality(c._errors) = 0 then {rules.reference_errors(ds, present)} end as _ref_errors
        from (
            select n._batch_id, n._line_no, n._quarantine_id,
                   {rules.errors_array(ds, present, staged=True)} as _errors{typed}
            from (
                select b.*{normal}
                from (
                    select a.*{candidates}
                    from (
                        select l._batch_id, l._line_no, l._quarantine_id{cleaned}
                        from _landing l
                        where l._malformed is null
                        offset 0
                    ) a
                    offset 0
                ) b
                offset 0
            ) n
            offset 0
        ) c"""
    )
    return [c.name for c in cols]


def _insert_valid(conn: psycopg.Connection, ds: Dataset, names: list[str]) -> int:
    """Rows of ``_checked`` with no error of any kind go to raw, keeping batch and line."""
    columns = ", ".join(names)
    return conn.execute(
        f"insert into raw.{ds.name} ({columns}, {BATCH_COLUMN}, {LINE_COLUMN}) "
        f"select {columns}, _batch_id, _line_no from _checked "
        "where cardinality(_errors) = 0 and cardinality(_ref_errors) = 0"
    ).rowcount


def _check_and_insert(conn: psycopg.Connection, ds: Dataset, present: set[str], source_name: str,
                      raw_sql: str = "l._raw_text") -> tuple[int, int]:
    """Type-check ``_landing`` set-based; quarantine what fails; insert the rest into raw."""
    conn.execute(
        "insert into audit.quarantine (batch_id, dataset, source_name, line_no, reason_code, reason, raw_text) "
        f"select _batch_id, %s, %s, _line_no, %s, _malformed, {raw_sql} from _landing l where _malformed is not null",
        (ds.name, source_name, MALFORMED),
    )
    names = _type_check(conn, ds, present)
    failed = conn.execute("select exists (select from _checked "
                          "where cardinality(_errors) > 0 or cardinality(_ref_errors) > 0)").fetchone()[0]
    if failed:  # the join back to _landing (for the record and raw text) only when a row failed
        conn.execute(
            f"""insert into audit.quarantine
                (batch_id, dataset, source_name, line_no, reason_code, reason, record, raw_text)
            select c._batch_id, %s, %s, c._line_no,
                   case when cardinality(c._errors) > 0 then %s else %s end,
                   array_to_string(c._errors || coalesce(c._ref_errors, '{{}}'), '; '),
                   {_record_json(ds, present)}, {raw_sql}
            from _checked c
            join _landing l on l._batch_id = c._batch_id and l._line_no = c._line_no
            where cardinality(c._errors) > 0 or cardinality(c._ref_errors) > 0
            order by c._batch_id, c._line_no""",
            (ds.name, source_name, INVALID, UNKNOWN_REFERENCE),
        )
    loaded = _insert_valid(conn, ds, names)
    key = ", ".join(ds.key)
    # rows beyond the first of each key: a hash aggregate, not the sort count(distinct) takes
    duplicates = conn.execute(
        f"select coalesce(sum(n - 1), 0)::bigint from (select count(*) as n from _checked "
        f"where cardinality(_errors) = 0 and cardinality(_ref_errors) = 0 group by {key}) k"
    ).fetchone()[0]
    return loaded, duplicates


def _quarantine_digest(conn: psycopg.Connection, batch_id: int) -> str:
    rows = conn.execute(
        "select reason_code, count(*), min(line_no), (array_agg(reason order by line_no))[1] "
        "from audit.quarantine where batch_id = %s group by reason_code order by 2 desc",
        (batch_id,),
    ).fetchall()
    return "quarantined: " + "; ".join(
        f"{n} {code} (first at line {line}: {reason})" for code, n, line, reason in rows
    )


def release_quarantined(conn: psycopg.Connection, ds: Dataset) -> int:
    """Retry rows held only for an unknown reference; release those the lists now know.

    A released row keeps its original batch and line, so a newer version of the same key
    loaded meanwhile still wins.
    """
    if not ds.references:
        return 0
    with conn.transaction():
        _lock_dataset(conn, ds.name)
        _create_landing(conn, ds)
        names = [c.name for c in ds.columns]
        conn.execute(
            f"insert into _landing (_batch_id, _line_no, _raw_text, _quarantine_id, {', '.join(names)}) "
            f"select batch_id, line_no, raw_text, quarantine_id, {', '.join(f'record->>{n!r}' for n in names)} "
            "from audit.quarantine where dataset = %s and reason_code = %s and released_at is null",
            (ds.name, UNKNOWN_REFERENCE),
        )
        pending = conn.execute("select count(*) from _landing").fetchone()[0]
        if not pending:
            return 0
        released = _insert_valid(conn, ds, _type_check(conn, ds, set(names)))
        conn.execute(
            "update audit.quarantine q set released_at = clock_timestamp() from _checked c "
            "where q.quarantine_id = c._quarantine_id and cardinality(c._errors) = 0 and cardinality(c._ref_errors) = 0"
        )
    if released:
        log.info("%s: released %d of %d rows held for unknown references", ds.name, released, pending)
    return released
