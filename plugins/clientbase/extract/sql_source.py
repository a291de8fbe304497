"""SQL mode: read a dataset from a source database (any SQLAlchemy URL, e.g. from a connection).

Incremental by the dataset's watermark column (``updated_at``) where the table has one,
otherwise a full read; a full read whose content equals an earlier batch is skipped by
the loader (same content hash). Values are turned into text so that SQL-mode rows go
through exactly the same type rules and quarantine as file rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import logging
from dataclasses import dataclass
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


@dataclass
class SqlExtract:
    """Records of one extraction plus what identifies it (hash, new watermark)."""

    header: tuple[str, ...]
    records: list[Record]
    content_sha256: str
    watermark: str | None


def read_table(source_url: str | sa.URL, ds: Dataset, since: str | None) -> SqlExtract | None:
    """Rows of ``ds`` from the source changed after ``since`` (None: all). None if the table is absent."""
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
        records: list[Record] = []
        top: str | None = since
        wm_index = header.index(ds.watermark) if use_watermark else None
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=FETCH_ROWS).execute(query)
            for n, row in enumerate(result, start=1):
                fields = [to_text(v) for v in row]
                text = "\x1f".join("" if f is None else f for f in fields)
                digest.update(text.encode() + b"\x1e")
                records.append(Record(n, [f if f is not None else "" for f in fields], text))
                if wm_index is not None and fields[wm_index] and (top is None or fields[wm_index] > top):
                    top = fields[wm_index]
    finally:
        engine.dispose()
    if not records:
        return SqlExtract(header, [], "", since)
    return SqlExtract(header, records, digest.hexdigest(), top if use_watermark else None)
