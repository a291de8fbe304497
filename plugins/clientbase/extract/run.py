"""One extraction: bring the given datasets from their sources into ``raw``.

This is what the extraction DAGs' tasks call. Each dataset's source is chosen by
configuration: a source database for its system (ERP or SFA; resolved from an Airflow
connection by ``tasks._sources``, see ``extract/connections.py``) means SQL mode,
otherwise files from ``<landing>/<dataset>/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from clientbase import progress
from clientbase.contract import DATASETS, ERP, Dataset
from clientbase.extract import files, sql_source
from clientbase.extract.connections import SourceDatabase
from clientbase.load.loader import BatchResult, load_records, release_quarantined
from clientbase.warehouse import schema
from clientbase.warehouse.connection import connect, redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sources:
    """A landing folder and, per system, a source database (a URL string or a resolved
    :class:`~clientbase.extract.connections.SourceDatabase`); a system without one reads files."""

    landing_dir: Path | None
    erp_url: str | SourceDatabase | None = None
    sfa_url: str | SourceDatabase | None = None

    def url_for(self, ds: Dataset) -> str | SourceDatabase | None:
        return self.erp_url if ds.source == ERP else self.sfa_url


def _describe(source: str | SourceDatabase) -> str:
    return source.describe() if isinstance(source, SourceDatabase) else redact(source)


def extract_file(conn: psycopg.Connection, ds: Dataset, path: Path, landing_dir: Path) -> BatchResult:
    source_name = str(path.relative_to(landing_dir)) if path.is_relative_to(landing_dir) else str(path)
    digest = files.sha256_of(path)
    try:
        fmt = files.sniff(path)
    except files.FileRejected as exc:
        return _record_rejected_file(conn, ds, source_name, digest, str(exc))
    return load_records(
        conn, ds, fmt.header, files.read_records(path, fmt),
        source_kind="file", source_name=source_name, content_sha256=digest,
        encoding=fmt.encoding + ("-bom" if fmt.has_bom else ""), delimiter=fmt.delimiter,
    )


def _record_rejected_file(conn: psycopg.Connection, ds: Dataset, source_name: str, digest: str,
                          reason: str) -> BatchResult:
    """A file with no readable header: recorded as rejected, with zero rows read."""
    with conn.transaction():
        known = conn.execute(
            "select batch_id from audit.batches where dataset = %s and content_sha256 = %s", (ds.name, digest)
        ).fetchone()
        if known:
            return BatchResult(ds.name, source_name, "skipped", known[0], message=f"same content as batch {known[0]}")
        batch_id = conn.execute(
            "insert into audit.batches (dataset, source_kind, source_name, content_sha256, status, message, "
            "finished_at) values (%s, 'file', %s, %s, 'rejected', %s, clock_timestamp()) returning batch_id",
            (ds.name, source_name, digest, f"file rejected: {reason}"),
        ).fetchone()[0]
    log.warning("%s: %s rejected: %s", ds.name, source_name, reason)
    return BatchResult(ds.name, source_name, "rejected", batch_id, message=f"file rejected: {reason}")


def extract_sql(conn: psycopg.Connection, ds: Dataset, source_url: str | SourceDatabase) -> list[BatchResult]:
    source_name = f"{ds.source}:{ds.name}"
    since = conn.execute(
        "select max(watermark) from audit.batches where dataset = %s and source_kind = 'sql' and status = 'loaded'",
        (ds.name,),
    ).fetchone()[0]
    log.info("%s: reading %s from %s%s", ds.name, ds.name, _describe(source_url),
             f" changed after {since}" if since else "")
    url = source_url.url if isinstance(source_url, SourceDatabase) else source_url
    extract = sql_source.read_table(url, ds, since)
    if extract is None or not extract.records:
        return []
    return [load_records(
        conn, ds, extract.header, iter(extract.records), source_kind="sql",
        source_name=source_name, content_sha256=extract.content_sha256, watermark=extract.watermark,
    )]


def extract_datasets(url: str, dataset_names: tuple[str, ...], sources: Sources) -> list[BatchResult]:
    """Bring every named dataset into raw, in the given order (reference lists first)."""
    results: list[BatchResult] = []
    with connect(url) as conn:
        schema.ensure_schema(conn)
        for name in dataset_names:
            ds = DATASETS[name]
            source_url = sources.url_for(ds)
            released = release_quarantined(conn, ds)
            if released:
                log.info("%s: %d quarantined rows released", name, released)
            if source_url:
                progress.report(f"{name}: reading the {ds.source.upper()} database")
                results.extend(extract_sql(conn, ds, source_url))
                continue
            if sources.landing_dir is None:
                raise ValueError(f"no source for {name}: set a landing folder (CLIENTBASE_LANDING_DIR) or the "
                                 f"{ds.source.upper()} database (Airflow connection clientbase_{ds.source})")
            folder = sources.landing_dir / name
            paths = files.list_files(folder)
            if not paths:
                log.info("%s: no files in %s", name, folder)
            for n, path in enumerate(paths, start=1):
                progress.report(f"{name}: {path.name} ({n}/{len(paths)})")
                results.append(extract_file(conn, ds, path, sources.landing_dir))
    return results
