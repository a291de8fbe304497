-- The warehouse's schemas and the grants of the pipeline's roles and the BI role. Run by
-- ../10-clientbase.sh as the superuser, connected to the `clientbase` database.
-- Idempotent: safe to run again. Its schema names are warehouse/schema.py's WAREHOUSE_SCHEMAS
-- (tests/test_docker_compose.py fails when they differ). Mirrors plugins/clientbase/warehouse/roles.py, which the
-- owner runs too (`clientbase roles` in airflow-init, and whenever the DDL changes): it adds
-- the grants on tables that do not exist yet here (e.g. audit.gate_decisions for the
-- transformer), which no default privilege can single out.
--
-- Who owns what:
--   clientbase              raw, audit, ml, reporting, reporting_history and the tables the
--                           pipeline's DDL (warehouse/schema.py) creates there
--   clientbase_transformer  staging, intermediate, marts, reporting_stage (dbt
--                           drops and replaces its relations: only an owner may) and the
--                           tables the publisher creates and ALTERs in reporting and
--                           reporting_history
-- Creating the schemas here first means their owner is right even if someone runs a step
-- as the superuser, and lets the grants below exist before the first run.
--
-- clientbase_loader (extraction): reads and writes raw and audit; nothing else.
-- clientbase_transformer (month close): reads raw and audit, creates and fills reporting.
--
-- `bi_reader` (Metabase, Superset) reads `reporting` and nothing else:
--   * USAGE on schema reporting only: without USAGE on a schema no table in it can be
--     reached, whatever table privileges say;
--   * SELECT on the tables (and views) already in reporting, for a re-run on a live
--     volume, and default privileges so that every table `clientbase` or the transformer
--     creates there later (the publisher's `create table if not exists reporting.x (like
--     ...)`) is readable without another GRANT;
--   * the same default privilege in reporting_stage, where bi_reader has no USAGE: it
--     only matters if a table is ever moved into reporting with ALTER TABLE .. SET SCHEMA
--     (privileges travel with the table; default privileges are applied at creation).
--   Read-only is also enforced on the role (default_transaction_read_only, see 01-...).

\set ON_ERROR_STOP on
SET client_min_messages = warning;

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', s, o)
  FROM (VALUES ('raw', 'clientbase'), ('audit', 'clientbase'), ('ml', 'clientbase'), ('reporting', 'clientbase'),
               ('reporting_history', 'clientbase'), ('staging', 'clientbase_transformer'),
               ('intermediate', 'clientbase_transformer'), ('marts', 'clientbase_transformer'),
               ('reporting_stage', 'clientbase_transformer')) AS owners (s, o)
\gexec

-- Schemas that already existed keep their tables; make sure the owner is right anyway.
SELECT format('ALTER SCHEMA %I OWNER TO %I', s, o)
  FROM (VALUES ('raw', 'clientbase'), ('audit', 'clientbase'), ('ml', 'clientbase'), ('reporting', 'clientbase'),
               ('reporting_history', 'clientbase'), ('staging', 'clientbase_transformer'),
               ('intermediate', 'clientbase_transformer'), ('marts', 'clientbase_transformer'),
               ('reporting_stage', 'clientbase_transformer')) AS owners (s, o)
\gexec

-- A volume whose pipeline ran as the owner before: hand the dbt relations and the published
-- tables to the transformer (all but reporting.publications, which the owner's DDL keeps).
-- Indexes and serial sequences follow their table.
SELECT format('ALTER %s %I.%I OWNER TO clientbase_transformer',
              CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                             WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('staging', 'intermediate', 'marts', 'reporting_stage',
                     'reporting', 'reporting_history')
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND pg_get_userbyid(c.relowner) <> 'clientbase_transformer'
   AND (n.nspname, c.relname) <> ('reporting', 'publications')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
\gexec

-- The `public` schema is not used by the pipeline: nobody but its owner (the database
-- owner, clientbase) gets anything there, so the BI tools list `reporting` alone.
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Nothing in the other schemas for anyone but their owners and the grants below (no-ops on
-- fresh schemas; they undo a stray grant on a live volume).
REVOKE ALL ON SCHEMA raw, audit, ml, staging, intermediate, marts, reporting_stage,
    reporting_history FROM PUBLIC, bi_reader;
REVOKE ALL ON SCHEMA ml, reporting, reporting_stage, reporting_history, staging, intermediate, marts
    FROM clientbase_loader;

-- clientbase_loader: raw read and write; audit read, and write only its batches and
-- quarantine (writing gate_decisions would let it forge a passing quality gate) -------------
GRANT USAGE ON SCHEMA raw, audit TO clientbase_loader;
GRANT SELECT ON ALL TABLES IN SCHEMA raw, audit TO clientbase_loader;
GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA raw TO clientbase_loader;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA raw, audit TO clientbase_loader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA raw, audit
    GRANT SELECT ON TABLES TO clientbase_loader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA raw
    GRANT INSERT, UPDATE ON TABLES TO clientbase_loader;
SELECT format('GRANT INSERT, UPDATE ON audit.%I TO clientbase_loader', t)
  FROM unnest(ARRAY['batches', 'quarantine']) AS t
 WHERE to_regclass(format('audit.%I', t)) IS NOT NULL
\gexec
-- files_not_read holds each landing folder's latest survey: a file read or removed since leaves it
SELECT 'GRANT INSERT, UPDATE, DELETE ON audit.files_not_read TO clientbase_loader'
 WHERE to_regclass('audit.files_not_read') IS NOT NULL
\gexec
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA raw, audit
    GRANT USAGE, SELECT ON SEQUENCES TO clientbase_loader;

-- clientbase_transformer: reads raw and audit, writes the month close's audit tables,
-- creates and fills the published tables ----------------------------------------------------
GRANT USAGE ON SCHEMA raw, audit TO clientbase_transformer;
GRANT SELECT ON ALL TABLES IN SCHEMA raw, audit TO clientbase_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA raw, audit
    GRANT SELECT ON TABLES TO clientbase_transformer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA audit TO clientbase_transformer;
-- the audit tables the month close writes (a re-run on a live volume; on a fresh one they do
-- not exist yet, and the owner's `clientbase roles` grants them when its DDL creates them;
-- the same holds for the loader's batches and quarantine above)
SELECT format('GRANT INSERT, UPDATE, DELETE ON audit.%I TO clientbase_transformer', t)
  FROM unnest(ARRAY['check_results', 'gate_decisions', 'month_close_leases', 'builds']) AS t
 WHERE to_regclass(format('audit.%I', t)) IS NOT NULL
\gexec
-- the churn model's scores (ml.churn_models, ml.churn_scores: the owner's DDL makes them)
GRANT USAGE ON SCHEMA ml TO clientbase_transformer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ml TO clientbase_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA ml
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO clientbase_transformer;
GRANT USAGE, CREATE ON SCHEMA reporting, reporting_history TO clientbase_transformer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA reporting, reporting_history
    TO clientbase_transformer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA reporting, reporting_history TO clientbase_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA reporting, reporting_history
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO clientbase_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA reporting, reporting_history
    GRANT USAGE, SELECT ON SEQUENCES TO clientbase_transformer;

-- bi_reader: reporting, read-only ----------------------------------------------------------
GRANT USAGE ON SCHEMA reporting TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO bi_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA reporting
    GRANT SELECT ON TABLES TO bi_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase_transformer IN SCHEMA reporting
    GRANT SELECT ON TABLES TO bi_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA reporting_stage
    GRANT SELECT ON TABLES TO bi_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE clientbase_transformer IN SCHEMA reporting_stage
    GRANT SELECT ON TABLES TO bi_reader;
