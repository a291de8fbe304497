"""The warehouse's schemas, listed once, and the DDL of the pipeline's own ones.

The pipeline owns ``raw`` (typed landing), ``audit``, ``ml`` (the churn model's scores, which
the month close writes between its two dbt passes and dbt reads as a source), ``reporting`` and
``reporting_history``;
dbt owns the schemas ``dbt_project.yml`` names with ``+schema`` (staging, intermediate,
marts, reporting_stage — the candidate tables the gate checks). :func:`dbt_schemas` reads
them from there, so adding a dbt folder needs no Python change, and :data:`WAREHOUSE_SCHEMAS`
is the one list everything else (roles, tests, the docker init SQL's test) uses.
Everything here is idempotent: ``ensure_schema`` runs at the start of every task.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path

import psycopg
import yaml

from clientbase.contract import BATCH_COLUMN, DATASETS, LINE_COLUMN, Dataset

log = logging.getLogger(__name__)

RAW = "raw"
AUDIT = "audit"
ML = "ml"
REPORTING = "reporting"
REPORTING_HISTORY = "reporting_history"
# the dbt folder whose models are the published tables' candidates
REPORTING_FOLDER = "reporting"


@lru_cache(maxsize=4)
def _dbt_folder_schemas(project_file: Path) -> dict[str, str]:
    project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    name = project["name"]
    folders = {f"models/{folder}": cfg["+schema"]
               for folder, cfg in (project.get("models", {}).get(name) or {}).items()
               if isinstance(cfg, dict) and "+schema" in cfg}
    seeds = (project.get("seeds", {}).get(name) or {}).get("+schema")
    if seeds:
        folders["seeds"] = seeds
    return folders


def dbt_folder_schemas() -> dict[str, str]:
    """dbt folder (``models/staging``, ``seeds``) -> the schema ``dbt_project.yml`` builds it in."""
    from clientbase.settings import load_settings

    return _dbt_folder_schemas(load_settings().dbt_project_dir / "dbt_project.yml")


def dbt_schemas() -> tuple[str, ...]:
    """The schemas dbt builds, in dbt_project.yml's order, each once."""
    return tuple(dict.fromkeys(dbt_folder_schemas().values()))


REPORTING_STAGE = dbt_folder_schemas()[f"models/{REPORTING_FOLDER}"]
# Every schema of the warehouse the project writes, the pipeline's and dbt's.
WAREHOUSE_SCHEMAS = (RAW, AUDIT, ML, *dbt_schemas(), REPORTING, REPORTING_HISTORY)
SCHEMA_LOCK_KEY = 4_214_001  # pg_advisory_xact_lock key for DDL


def month_expression(column: str) -> str:
    """The month of a date column as the staging models derive it (dbt macro ``month_of``):
    IMMUTABLE (``::timestamp``), so raw can index it (see :func:`raw_table_ddl`)."""
    return f"date_trunc('month', {column}::timestamp)::date"


def raw_table_ddl(ds: Dataset) -> str:
    """The raw table of a dataset; a column the contract gained since the table was created
    is added to it (``add column if not exists``), so a warehouse of an older version keeps
    its rows and loads the new column from the next batch on (earlier rows hold NULL)."""
    cols = ",\n    ".join(f"{c.name} {c.pg_type}" for c in ds.columns)
    added = "\n".join(f"alter table {RAW}.{ds.name} add column if not exists {c.name} {c.pg_type};"
                      for c in ds.columns)
    key = ", ".join(ds.key)
    month_design = ""
    if ds.date_columns_in_range and not ds.is_reference:
        column = ds.date_columns_in_range[0]
        month = month_expression(column)
        month_design = f"""
-- Physical design of a month-dated raw table (issue 12 item 4), from EXPLAIN (ANALYZE, BUFFERS)
-- at size L (17.4 M shipment rows, 36 months; dbt_project/README.md "Physical design"). Every
-- incremental close and GX batch reads a staging view filtered on its month ({month}, the
-- staging macro month_of), and the view keeps the last version of each key by an anti-join on
-- {ds.name}_key_idx (macros/staging.sql):
-- * statistics on the month: without them PostgreSQL estimates the filter at a third of the
--   rows and hashes every version of every key (M: 864 -> 315 ms for one month of twelve);
-- * a BRIN index on the month (72 kB at L: rows arrive in month order, corrections aside): the
--   filtered side of the anti-join reads its months' pages, not the whole table (3 months of
--   36 at L: a 1.7 s parallel scan -> 0.15 s), so with random_page_cost 1.1
--   (warehouse/embedded.py) the planner probes the key index for those rows instead of
--   hashing all 17 M versions: 5.4 s -> 1.5 s, and it no longer grows with the history;
-- * no partitioning by month: the "later version" side must see every month (a correction may
--   move a line to another month), so partitions could not prune it, and the month pruning
--   they would give the other side is what the BRIN index gives.
drop statistics if exists {RAW}.{ds.name}_month_stats;
create statistics {RAW}.{ds.name}_month_stats on ({month}) from {RAW}.{ds.name};
create index if not exists {ds.name}_month_brin on {RAW}.{ds.name} using brin (({month}));
analyze {RAW}.{ds.name};"""
    return f"""
create table if not exists {RAW}.{ds.name} (
    {cols},
    {BATCH_COLUMN} bigint not null,
    {LINE_COLUMN} bigint not null
);
{added}
create index if not exists {ds.name}_key_idx on {RAW}.{ds.name} ({key}, {BATCH_COLUMN} desc, {LINE_COLUMN} desc);
-- the month close finds the rows loaded since its last build by batch (transform/dirty.py);
-- batch ids grow with the insertion order, so a BRIN index (a few pages) is enough and costs
-- the loads next to nothing, where a btree would grow with every row
create index if not exists {ds.name}_batch_brin on {RAW}.{ds.name} using brin ({BATCH_COLUMN});{month_design}
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
    finished_at timestamptz
);
-- a workbook's rows above its header (report title, period line) and its totals row are read
-- but are not data: counted apart, so every row read is still accounted for
alter table {AUDIT}.batches add column if not exists rows_title bigint not null default 0;
alter table {AUDIT}.batches add column if not exists rows_totals bigint not null default 0;
alter table {AUDIT}.batches drop constraint if exists batch_reconciles;
alter table {AUDIT}.batches add constraint batch_reconciles
    check (rows_read = rows_loaded + rows_quarantined + rows_title + rows_totals);
create unique index if not exists batches_content_uq on {AUDIT}.batches (dataset, content_sha256);

-- files found in the landing folder and not read (unknown format, lock file, misspelled
-- dataset folder, ...): the latest survey of each folder, so nothing is passed over in silence
create table if not exists {AUDIT}.files_not_read (
    path text primary key,
    dataset text,
    reason_code text not null,
    reason text not null,
    first_seen timestamptz not null default clock_timestamp(),
    last_seen timestamptz not null default clock_timestamp()
);

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

-- one row per month-close run that held the month-close lease (see orchestration/month_close_lock.py)
create table if not exists {AUDIT}.month_close_leases (
    lease_id bigserial primary key,
    run_id text not null,
    dag_id text not null,
    holder text not null,
    acquired_at timestamptz not null default clock_timestamp(),
    renewed_at timestamptz not null default clock_timestamp(),
    active_tasks int not null default 0 check (active_tasks >= 0),
    released_at timestamptz,
    release_reason text
);
-- one row per dbt build of a month close, succeeded once dbt built every model: what the next
-- one rebuilds follows from the newest succeeded build and from the attempts that failed since
-- (transform/dirty.py), so a failed build leaves the next run to redo at least its range
create table if not exists {AUDIT}.builds (
    build_id bigserial primary key,
    run_id text not null,
    report_month date not null,
    rebuild_from date,
    full_refresh boolean not null,
    max_batch_id bigint not null,
    vars_md5 text not null,
    project_md5 text not null,
    reasons text[] not null default '{{}}',
    started_at timestamptz not null,
    succeeded boolean not null default false,
    finished_at timestamptz
);

create unique index if not exists month_close_leases_one_holder on {AUDIT}.month_close_leases ((true))
    where released_at is null;
"""

# What the churn model (plugins/clientbase/churn/score.py) writes at each month close, between
# the two dbt passes (transform/dbt.py): the owner's DDL, like audit's, so that dbt's source
# (models/staging/_staging__sources.yml) exists before the first close; the transformer only
# deletes and inserts rows (warehouse/roles.py).
ML_DDL = f"""
-- one row per month the scoring task handled: the model it used, or why it could not score
create table if not exists {ML}.churn_models (
    month date primary key,
    status text not null check (status in ('scored', 'not_scored')),
    model_spec text not null,
    model_version text,
    labels_through date,
    training_rows int not null default 0,
    positive_share double precision,
    clients_scored int not null default 0,
    message text not null,
    run_id text not null,
    scored_at timestamptz not null default now()
);

-- one row per client of the base in a scored month
create table if not exists {ML}.churn_scores (
    month date not null,
    client_id text not null,
    p_lost_3m double precision not null,
    reasons_ru text not null,
    reasons_en text not null,
    model_version text not null,
    primary key (month, client_id)
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

# Superseded versions of published months (rows kept by publish/publisher.py) and the
# "as of" functions that show what reporting held at any moment.
HISTORY_DDL = f"""
create or replace function {REPORTING_HISTORY}.as_of(_table anyelement, _at timestamptz)
returns setof anyelement language plpgsql stable as $fn$
declare
    _name text;
    _cols text;
    _sql text;
begin
    select c.relname into _name from pg_class c
     where c.reltype = pg_typeof(_table)::oid and c.relnamespace = '{REPORTING}'::regnamespace;
    if _name is null then
        raise exception '{REPORTING_HISTORY}.as_of: % is not a {REPORTING} table; call it as '
            '{REPORTING_HISTORY}.as_of(null::{REPORTING}.<table>, <timestamptz>)', pg_typeof(_table);
    end if;
    select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into _cols
      from pg_attribute a
     where a.attrelid = format('{REPORTING}.%I', _name)::regclass and a.attnum > 0 and not a.attisdropped;
    -- the current rows, if the month's latest version was already published at _at
    _sql := format('select %s from {REPORTING}.%I t where (select max(p.published_at) '
                   'from {REPORTING}.publications p where p.month = t.month) <= $1', _cols, _name);
    if to_regclass(format('{REPORTING_HISTORY}.%I', _name)) is not null then
        -- plus the superseded versions that were the published ones at _at
        _sql := _sql || format(' union all select %s from {REPORTING_HISTORY}.%I h '
                               'where h.published_at <= $1 and h.replaced_at > $1', _cols, _name);
    end if;
    return query execute _sql using _at;
end
$fn$;

create or replace function {REPORTING_HISTORY}.publications_as_of(_at timestamptz)
returns setof {REPORTING}.publications language sql stable as $fn$
    select distinct on (month) * from {REPORTING}.publications
     where published_at <= _at order by month, version desc
$fn$;
"""


def _statements() -> list[str]:
    out = [f"create schema if not exists {schema}" for schema in (RAW, AUDIT, ML, REPORTING, REPORTING_HISTORY)]
    out += [raw_table_ddl(ds) for ds in DATASETS.values()]
    return out + [AUDIT_DDL, ML_DDL, REPORTING_DDL, HISTORY_DDL]


def ddl_fingerprint() -> str:
    return hashlib.md5("\n".join(_statements()).encode()).hexdigest()


class SchemaNotApplied(RuntimeError):
    """The connecting role may not apply this version's DDL: the warehouse owner must, first."""


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create what is missing; a no-op (one SELECT) when this version's DDL already ran.

    Skipping matters: ``create index if not exists`` still locks its table, so running the
    DDL on every task deadlocked two extraction DAGs loading at the same time. Concurrent
    first runs are serialised by an advisory lock.

    The DDL is the owner's job: the least-privilege roles (CLIENTBASE_LOADER_URL,
    CLIENTBASE_TRANSFORMER_URL) only read ``audit.schema_state``. One of them meeting a
    changed DDL fails with :class:`SchemaNotApplied` (the DDL's transaction rolls back whole).
    """
    try:
        _ensure_schema(conn)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SchemaNotApplied(
            f"the warehouse schema is not at this version's DDL ({ddl_fingerprint()[:8]}) and role "
            f"{conn.info.user!r} may not apply it ({str(exc).strip().splitlines()[0]}). Run `clientbase status` "
            "(or `clientbase roles`) as the warehouse owner (CLIENTBASE_WAREHOUSE_URL) first, then rerun this task."
        ) from exc


def _ensure_schema(conn: psycopg.Connection) -> None:
    fingerprint = ddl_fingerprint()
    if _applied(conn) == fingerprint:
        return
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        if _applied(conn) == fingerprint:
            return
        for statement in _statements():
            conn.execute(statement)
        conn.execute(f"create table if not exists {AUDIT}.schema_state "
                     "(ddl_md5 text not null, applied_at timestamptz not null default now())")
        conn.execute(f"delete from {AUDIT}.schema_state")
        conn.execute(f"insert into {AUDIT}.schema_state (ddl_md5) values (%s)", (fingerprint,))
        from clientbase.warehouse.roles import ensure_roles  # roles.py imports this module

        ensure_roles(conn)  # least-privilege roles and grants (a no-op without CREATEROLE)
    log.info("warehouse schema created or updated (%s)", fingerprint[:8])


def _applied(conn: psycopg.Connection) -> str | None:
    if conn.execute("select to_regclass(%s)", (f"{AUDIT}.schema_state",)).fetchone()[0] is None:
        return None
    row = conn.execute(f"select ddl_md5 from {AUDIT}.schema_state").fetchone()
    return row[0] if row else None
