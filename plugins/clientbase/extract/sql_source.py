"""SQL mode: read a dataset from a source database (any SQLAlchemy URL, e.g. from a connection).

Incremental by the dataset's watermark column (``updated_at``) where the table has one,
otherwise a full read; a full read whose content equals an earlier batch is skipped by
the loader (same content hash). Values are turned into text so that SQL-mode rows go
through exactly the same type rules and quarantine as file rows.

The table is never held in memory: rows come through a server-side cursor
(``stream_results``, ``FETCH_ROWS`` at a time) and are spooled to a CSV file on disk while
the content hash and the watermark are computed, because the loader needs the hash before
it loads (a batch with known content is skipped). The loader then reads the spool back
record by record into its COPY. (A ``COPY (select ...) TO STDOUT`` piped into the
warehouse would only serve PostgreSQL sources and still need the hash first.)
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clientbase.contract import Dataset
from clientbase.extract.files import Record

if TYPE_CHECKING:
    import sqlalchemy as sa

log = logging.getLogger(__name__)

FETCH_ROWS = 10_000


def to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


FIELD_SEPARATOR = "\x1f"  # between the fields of a row's raw text (and in its hash)


@dataclass
class SqlExtract:
    """One extraction, spooled to ``spool``, plus what identifies it (hash, new watermark)."""

    header: tuple[str, ...]
    rows: int
    spool: Path
    content_sha256: str
    watermark: str | None

    def records(self) -> Iterator[Record]:
        """The rows back from the spool, numbered from 1 in the source's key order."""
        with open(self.spool, newline="", encoding="utf-8") as handle:
            for n, fields in enumerate(csv.reader(handle), start=1):
                yield Record(n, fields, FIELD_SEPARATOR.join(fields))


def read_table(source_url: str | sa.URL, ds: Dataset, since: str | None, spool: Path) -> SqlExtract | None:
    """Rows of ``ds`` from the source changed after ``since`` (None: all), written to the
    file ``spool``. None if the table is absent."""
    import sqlalchemy as sa

    engine = sa.create_engine(source_url)
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(ds.name):
            log.info("source has no table %s: nothing to extract", ds.name)
            return None
        available = {c["name"].lower(): c["name"] for c in inspector.get_columns(ds.name)}
        header = tuple(c for c in ds.column_names if c in available)
        table = sa.table(ds.name, *[sa.column(available[c]) for c in header])
        query = sa.select(*table.columns)
        use_watermark = ds.watermark is not None and ds.watermark in available
        if use_watermark and since:
            query = query.where(table.c[available[ds.watermark]] > sa.literal(dt.datetime.fromisoformat(since)))
        query = query.order_by(*[table.c[available[k]] for k in ds.key if k in available])
        digest = hashlib.sha256()
        rows = 0
        top: str | None = since
        wm_index = header.index(ds.watermark) if use_watermark else None
        with engine.connect() as conn, open(spool, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            result = conn.execution_options(stream_results=True, max_row_buffer=FETCH_ROWS).execute(query)
            for row in result:
                fields = ["" if v is None else v for v in map(to_text, row)]
                digest.update(FIELD_SEPARATOR.join(fields).encode() + b"\x1e")
                writer.writerow(fields)
                rows += 1
                if wm_index is not None and fields[wm_index] and (top is None or fields[wm_index] > top):
                    top = fields[wm_index]
    finally:
        engine.dispose()
    if not rows:
        return SqlExtract(header, 0, spool, "", since)
    return SqlExtract(header, rows, spool, digest.hexdigest(), top if use_watermark else None)
