"""The warehouse's own schemas: ``raw`` (typed landing), ``audit`` and ``reporting``.

dbt owns ``staging``, ``intermediate``, ``marts``, ``snapshots`` and ``reporting_stage``
(the candidate tables the gate checks); the publisher owns ``reporting``.
Everything here is idempotent: ``ensure_schema`` runs at the start of every task.
"""

from __future__ import annotations

import hashlib
import logging

import psycopg

from clientbase.contract import BATCH_COLUMN, DATASETS, LINE_COLUMN, Dataset

log = logging.getLogger(__name__)

RAW = "raw"
AUDIT = "audit"
REPORTING = "reporting"
REPORTING_STAGE = "reporting_stage"
SCHEMA_LOCK_KEY = 4_214_001  # pg_advisory_xact_lock key for DDL


def raw_table_ddl(ds: Dataset) -> str:
    cols = ",\n    ".join(f"{c.name} {c.pg_type}" for c in ds.columns)
    key = ", ".join(ds.key)
    return f"""
create table if not exists {RAW}.{ds.name} (
    {cols},
    {BATCH_COLUMN} bigint not null,
    {LINE_COLUMN} bigint not null
);
create index if not exists {ds.name}_key_idx on {RAW}.{ds.name} ({key}, {BATCH_COLUMN} desc, {LINE_COLUMN} desc);
"""


AUDIT_DDL = f"""
create table if not exists {AUDIT}.batches (
    batch_id bigserial primary key,
    dataset text not null,
    source_kind text not null check (source_kind in ('file', 'sql')),
    source_name text not null,
    content_sha256 text not null,
    status text not null check (status in ('loaded', 'rejected')),
    rows_read bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_quarantined bigint not null default 0,
    duplicate_keys bigint not null default 0,
    ignored_columns text[] not null default '{{}}',
    encoding text,
    delimiter text,
    watermark text,
    message text,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    constraint batch_reconciles check (rows_read = rows_loaded + rows_quarantined)
);
create unique index if not exists batches_content_uq on {AUDIT}.batches (dataset, content_sha256);

create table if not exists {AUDIT}.quarantine (
    quarantine_id bigserial primary key,
    batch_id bigint not null references {AUDIT}.batches (batch_id),
    dataset text not null,
    source_name text not null,
    line_no bigint,
    reason_code text not null,
    reason text not null,
    record jsonb,
    raw_text text,
    quarantined_at timestamptz not null default now(),
    released_at timestamptz,
    released_in_batch bigint
);
create index if not exists quarantine_open_idx on {AUDIT}.quarantine (dataset, reason_code) where released_at is null;

create table if not exists {AUDIT}.check_results (
    check_result_id bigserial primary key,
    run_id text not null,
    checked_at timestamptz not null default now(),
    source text not null,
    suite text not null,
    check_name text not null,
    severity text not null,
    success boolean not null,
    details jsonb
);

create table if not exists {AUDIT}.gate_decisions (
    decision_id bigserial primary key,
    run_id text not null,
    decided_at timestamptz not null default now(),
    months date[] not null,
    passed boolean not null,
    checks_run int not null,
    blocking_failed int not null,
    warnings int not null,
    message text not null
);
"""

REPORTING_DDL = f"""
create table if not exists {REPORTING}.publications (
    publication_id bigserial primary key,
    month date not null,
    version int not null,
    published_at timestamptz not null default now(),
    run_id text,
    row_counts jsonb not null,
    content_md5 text not null,
    checks_passed int not null,
    checks_warned int not null,
    dbt_version text,
    pipeline_version text,
    unique (month, version)
);
"""


def _statements() -> list[str]:
    out = [f"create schema if not exists {schema}" for schema in (RAW, AUDIT, REPORTING)]
    out += [raw_table_ddl(ds) for ds in DATASETS.values()]
    return out + [AUDIT_DDL, REPORTING_DDL]


def ddl_fingerprint() -> str:
    return hashlib.md5("\n".join(_statements()).encode()).hexdigest()


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create what is missing; a no-op (one SELECT) when this version's DDL already ran.

    Skipping matters: ``create index if not exists`` still locks its table, so running the
    DDL on every task deadlocked two extraction DAGs loading at the same time. Concurrent
    first runs are serialised by an advisory lock.
    """
    fingerprint = ddl_fingerprint()
    if _applied(conn) == fingerprint:
        return
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        if _applied(conn) == fingerprint:
            return
        for statement in _statements():
            conn.execute(statement)
        conn.execute(f"create table if not exists {AUDIT}.schema_state (ddl_md5 text not null, applied_at timestamptz not null default now())")
        conn.execute(f"delete from {AUDIT}.schema_state")
        conn.execute(f"insert into {AUDIT}.schema_state (ddl_md5) values (%s)", (fingerprint,))
    log.info("warehouse schema created or updated (%s)", fingerprint[:8])


def _applied(conn: psycopg.Connection) -> str | None:
    if conn.execute("select to_regclass(%s)", (f"{AUDIT}.schema_state",)).fetchone()[0] is None:
        return None
    row = conn.execute(f"select ddl_md5 from {AUDIT}.schema_state").fetchone()
    return row[0] if row else None
