-- The warehouse's schemas and the read-only BI role. Run by ../10-clientbase.sh as the
-- superuser, connected to the `clientbase` database. Idempotent: safe to run again.
--
-- Everything in the warehouse is owned by `clientbase`: the loaders write `raw` and
-- `audit`, dbt builds `staging`, `intermediate`, `marts`, `snapshots` and
-- `reporting_stage`, and the publisher (also `clientbase`) creates and fills the tables
-- of `reporting`. The pipeline creates the schemas it misses (`create schema if not
-- exists`); creating them here first, owned by `clientbase`, means their owner is right
-- even if someone runs a step as the superuser, and lets the grants below exist before
-- the first run.
--
-- `bi_reader` (Metabase, Superset) reads `reporting` and nothing else:
--   * USAGE on schema reporting only: without USAGE on a schema no table in it can be
--     reached, whatever table privileges say;
--   * SELECT on the tables (and views) already in reporting, for a re-run on a live
--     volume, and default privileges so that every table `clientbase` creates there
--     later (the publisher's `create table if not exists reporting.x (like ...)`) is
--     readable without another GRANT;
--   * the same default privilege in reporting_stage, where bi_reader has no USAGE: it
--     only matters if a table is ever moved into reporting with ALTER TABLE .. SET SCHEMA
--     (privileges travel with the table; default privileges are applied at creation).
--   Read-only is also enforced on the role (default_transaction_read_only, see 01-...).

\set ON_ERROR_STOP on
SET client_min_messages = warning;

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION clientbase', s)
  FROM unnest(ARRAY['raw', 'audit', 'staging', 'intermediate', 'marts', 'snapshots',
                    'reporting_stage', 'reporting']) AS s
\gexec

-- Schemas that already existed keep their tables; make sure the owner is right anyway.
SELECT format('ALTER SCHEMA %I OWNER TO clientbase', s)
  FROM unnest(ARRAY['raw', 'audit', 'staging', 'intermediate', 'marts', 'snapshots',
                    'reporting_stage', 'reporting']) AS s
\gexec

-- The `public` schema is not used by the pipeline: nobody but its owner (the database
-- owner, clientbase) gets anything there, so the BI tools list `reporting` alone.
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Nothing in the other schemas for anyone but the owner (no-ops on fresh schemas; they
-- undo a stray grant on a live volume).
REVOKE ALL ON SCHEMA raw, audit, staging, intermediate, marts, snapshots, reporting_stage
    FROM PUBLIC, bi_reader;

-- bi_reader: reporting, read-only ----------------------------------------------------------
GRANT USAGE ON SCHEMA reporting TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO bi_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA reporting
    GRANT SELECT ON TABLES TO bi_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA reporting_stage
    GRANT SELECT ON TABLES TO bi_reader;
