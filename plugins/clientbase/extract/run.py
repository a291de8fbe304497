"""One extraction: bring the given datasets from their sources into ``raw``.

This is what the extraction DAGs' tasks call. Each dataset's source is chosen by
configuration: a source database for its system (ERP or SFA; resolved from an Airflow
connection by ``tasks._sources``, see ``extract/connections.py``) means SQL mode,
otherwise files from ``<landing>/<dataset>/``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import psycopg
from psycopg import sql

from clientbase import progress
from clientbase.contract import DATASETS, ERP, Dataset
from clientbase.extract import files, sql_source, workbooks
from clientbase.extract.connections import SourceDatabase
from clientbase.load.loader import BatchResult, load_records, release_quarantined
from clientbase.warehouse import schema
from clientbase.warehouse.connection import connect, redact

log = logging.getLogger(__name__)

# CSV files whose records are their lines are COPYed straight into the landing table
# (files.CsvBody); False reads every file record by record (the reference the fast path
# is tested against: tests/test_stream_load.py).
STREAM_CSV = True


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


def _source_name(path: Path, landing_dir: Path) -> str:
    return path.relative_to(landing_dir).as_posix() if path.is_relative_to(landing_dir) else str(path)


def extract_file(conn: psycopg.Connection, ds: Dataset, path: Path, landing_dir: Path,
                 source_name: str | None = None) -> BatchResult:
    """Load one CSV file or workbook as a batch (``source_name``: how the batch is named, when
    the file is not where it came from, e.g. taken out of a zip archive)."""
    source_name = source_name or _source_name(path, landing_dir)
    digest = files.sha256_of(path)
    if path.suffix.lower() in files.WORKBOOK_SUFFIXES:
        return _extract_workbook(conn, ds, path, source_name, digest)
    info = files.scan(path)
    try:
        fmt = files.sniff(path, info)
    except files.FileRejected as exc:
        return _record_rejected_file(conn, ds, source_name, digest, str(exc))
    return load_records(
        conn, ds, fmt.header, files.read_records(path, fmt),
        source_kind="file", source_name=source_name, content_sha256=digest,
        encoding=fmt.encoding + ("-bom" if fmt.has_bom else ""), delimiter=fmt.delimiter,
        body=files.csv_body(path, fmt, info) if STREAM_CSV else None,
    )


def _extract_workbook(conn: psycopg.Connection, ds: Dataset, path: Path, source_name: str,
                      digest: str) -> BatchResult:
    """A workbook's sheet as one batch named ``file.xlsx!Sheet``: its rows keep their Excel row
    numbers, and the title and totals rows are counted apart (read, but not data)."""
    try:
        sheet = workbooks.read_workbook(path, ds)
    except files.FileRejected as exc:
        return _record_rejected_file(conn, ds, source_name, digest, str(exc))
    return load_records(
        conn, ds, sheet.header, iter(sheet.records),
        source_kind="file", source_name=f"{source_name}!{sheet.sheet}", content_sha256=digest,
        not_data=sheet.not_data,
    )


def extract_archive(conn: psycopg.Connection, ds: Dataset, path: Path,
                    landing_dir: Path) -> tuple[list[BatchResult], list[files.NotRead]]:
    """A zip archive read as the files it holds, in name order, each its own batch named
    ``archive.zip/inner.csv`` (so the content-hash skip works per inner file); what it holds
    that cannot be read (a folder, another archive, a PDF ...) is listed as not read."""
    source_name = _source_name(path, landing_dir)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        return [_record_rejected_file(conn, ds, source_name, files.sha256_of(path),
                                      f"the zip archive cannot be opened ({exc}): it is corrupt or not a zip; "
                                      "zip the exports again and drop the archive again")], []
    results: list[BatchResult] = []
    not_read: list[files.NotRead] = []
    with archive, tempfile.TemporaryDirectory(prefix="clientbase-zip-") as tmp:
        members = sorted((m for m in archive.infolist() if not m.is_dir()), key=lambda m: m.filename)
        if not members:
            not_read.append(files.NotRead(source_name, ds.name, files.EMPTY_ARCHIVE,
                                          "not read: the archive holds no files; zip the exports again "
                                          "and drop the archive again"))
        for member in members:
            inner = PurePosixPath(member.filename)
            name = f"{source_name}/{member.filename}"
            if len(inner.parts) > 1:
                not_read.append(files.NotRead(
                    name, ds.name, files.SUBFOLDER,
                    f"not read: {inner.parent}/ is a folder inside the archive; zip the files themselves "
                    "(no folder) and drop the archive again"))
                continue
            suffix = inner.suffix.lower()
            if suffix in files.ARCHIVE_SUFFIXES:
                not_read.append(files.NotRead(name, ds.name, files.NOT_A_DATA_FILE,
                                              "not read: an archive inside the archive; unzip it and drop "
                                              "its files (or the inner archive) instead"))
                continue
            if suffix not in files.CSV_SUFFIXES + files.WORKBOOK_SUFFIXES or inner.name.startswith(
                    (files.LOCK_PREFIX, ".")):
                code, reason = files.not_read_reason(Path(inner.name))
                not_read.append(files.NotRead(name, ds.name, code, reason))
                continue
            if member.flag_bits & 0x1:
                not_read.append(files.NotRead(name, ds.name, files.NOT_A_DATA_FILE,
                                              "not read: the file is password-protected inside the archive; "
                                              "zip it again without a password"))
                continue
            target = Path(tmp) / inner.name
            try:
                # streamed out of the archive in chunks (the CRC is checked at the member's end)
                with archive.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, files.HASH_CHUNK)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                not_read.append(files.NotRead(name, ds.name, files.DAMAGED,
                                              f"not read: the file cannot be unpacked ({exc}); the archive is "
                                              "damaged: zip the exports again and drop the archive again"))
                continue
            progress.report(f"{ds.name}: {name}")
            results.append(extract_file(conn, ds, target, landing_dir, source_name=name))
            target.unlink()
    return results, not_read


def record_not_read(conn: psycopg.Connection, dataset: str | None, entries: list[files.NotRead]) -> None:
    """Replace the survey of one dataset folder (``dataset`` None: the landing folder's own
    entries) in ``audit.files_not_read``, and log each entry: a file that is read or removed
    since leaves the list, one still there keeps the time it was first seen."""
    with conn.transaction():
        conn.execute("delete from audit.files_not_read where dataset is not distinct from %s "
                     "and not (path = any(%s))", (dataset, [e.path for e in entries]))
        for e in entries:
            conn.execute(
                "insert into audit.files_not_read (path, dataset, reason_code, reason) values (%s, %s, %s, %s) "
                "on conflict (path) do update set dataset = excluded.dataset, reason_code = excluded.reason_code, "
                "reason = excluded.reason, last_seen = clock_timestamp()",
                (e.path, e.dataset, e.reason_code, e.reason))
    for e in entries:
        (log.info if e.reason_code in files.IGNORED else log.warning)("%s: %s", e.path, e.reason)


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
    with tempfile.TemporaryDirectory(prefix="clientbase-sql-") as tmp:
        extract = sql_source.read_table(url, ds, since, Path(tmp) / f"{ds.name}.csv")
        if extract is None or not extract.rows:
            return []
        return [load_records(
            conn, ds, extract.header, extract.records(), source_kind="sql",
            source_name=source_name, content_sha256=extract.content_sha256, watermark=extract.watermark,
        )]


def _analyze_if_grown(conn: psycopg.Connection, ds: Dataset, rows: int) -> None:
    """Refresh the planner's statistics of a raw table the extraction just added ``rows`` to.

    Why not leave it to autovacuum: the month close reads the new batches right after the
    load (``_batch_id > `` the last build's, transform/dirty.py), before autovacuum's next
    round, with the statistics of before the load (the BRIN index on ``_batch_id`` gives the
    planner no way to look up the real maximum), and the plans it picks for a table half as
    large as it is are nested loops over the new rows. Measured at size M on the dirty-month
    query of shipments after a load of five months (513 k new lines on 680 k): 165 s with the
    statistics of before the load, 3.4 s analysed. ANALYZE samples 30 000 rows whatever the
    table's size (a fraction of a second).
    """
    if rows:
        conn.execute(sql.SQL("analyze {}.{}").format(sql.Identifier(schema.RAW), sql.Identifier(ds.name)))


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
            first = len(results)
            if source_url:
                progress.report(f"{name}: reading the {ds.source.upper()} database")
                results.extend(extract_sql(conn, ds, source_url))
                _analyze_if_grown(conn, ds, released + sum(r.rows_loaded for r in results[first:]))
                continue
            if sources.landing_dir is None:
                raise ValueError(f"no source for {name}: set a landing folder (CLIENTBASE_LANDING_DIR) or the "
                                 f"{ds.source.upper()} database (Airflow connection clientbase_{ds.source})")
            folder = sources.landing_dir / name
            paths, not_read = files.survey_folder(folder, sources.landing_dir, name)
            if not paths:
                log.info("%s: no files in %s", name, folder)
            for n, path in enumerate(paths, start=1):
                progress.report(f"{name}: {path.name} ({n}/{len(paths)})")
                if path.suffix.lower() in files.ARCHIVE_SUFFIXES:
                    batches, inner_not_read = extract_archive(conn, ds, path, sources.landing_dir)
                    results.extend(batches)
                    not_read.extend(inner_not_read)
                else:
                    results.append(extract_file(conn, ds, path, sources.landing_dir))
            record_not_read(conn, name, not_read)
            _analyze_if_grown(conn, ds, released + sum(r.rows_loaded for r in results[first:]))
        if sources.landing_dir is not None:
            record_not_read(conn, None, files.survey_landing(sources.landing_dir, tuple(DATASETS)))
    return results
