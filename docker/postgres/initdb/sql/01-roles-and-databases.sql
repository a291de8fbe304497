-- Roles and databases of the clientbase stack. Run by ../10-clientbase.sh as the
-- superuser, connected to the `postgres` database, with the passwords passed as psql
-- variables (:'name' quotes them as literals). Idempotent: safe to run again.
--
-- One PostgreSQL 16 server, one database per application, one login role per database:
--
--   database    owner        used by
--   ----------  -----------  ------------------------------------------------------------
--   clientbase  clientbase   the warehouse owner: schema DDL and grants (`clientbase roles`
--                            in airflow-init), the CLI (CLIENTBASE_WAREHOUSE_URL)
--               clientbase_loader       extraction tasks: write raw, audit (CLIENTBASE_LOADER_URL)
--               clientbase_transformer  the month close: dbt, checks, gate, publisher; owns the
--                            dbt schemas and the published tables (CLIENTBASE_TRANSFORMER_URL)
--               bi_reader    Metabase and Superset: read-only, schema `reporting` only
--   airflow     airflow      Airflow metadata DB + Celery result backend
--   metabase    metabase     Metabase's application DB (its questions, dashboards, users)
--   superset    superset     Superset's metadata DB
--
-- No role but the superuser can create databases or roles, and no role can connect to a
-- database that is not its own: PUBLIC loses CONNECT on every database here.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- Login roles (created if missing, then brought to the wanted attributes and password) ----
SELECT format('CREATE ROLE %I', r)
  FROM unnest(ARRAY['clientbase', 'clientbase_loader', 'clientbase_transformer', 'bi_reader',
                    'airflow', 'metabase', 'superset']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)
\gexec

-- Passwords arrive as psql variables and are quoted by format(%L), never spelled here.
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
              role_name, secret)
  FROM (VALUES ('clientbase', :'clientbase_password'),
               ('clientbase_loader', :'loader_password'),
               ('clientbase_transformer', :'transformer_password'),
               ('bi_reader',  :'bi_reader_password'),
               ('airflow',    :'airflow_password'),
               ('metabase',   :'metabase_password'),
               ('superset',   :'superset_password')) AS roles (role_name, secret)
\gexec

-- The warehouse owner may act as the transformer: it hands the transformer what the owner
-- made before (ALTER ... OWNER TO needs that), grants for it (default privileges FOR ROLE),
-- and can still read and repair what the transformer owns. The loader stays apart.
GRANT clientbase_transformer TO clientbase;

-- The BI role can only read, whatever a BI tool sends; it sees `reporting` first.
ALTER ROLE bi_reader SET default_transaction_read_only = on;
ALTER ROLE bi_reader SET search_path = reporting;
-- A runaway dashboard query must not hold the warehouse for hours.
ALTER ROLE bi_reader SET statement_timeout = '10min';

-- Databases (CREATE DATABASE cannot run in a transaction or a DO block: \gexec it) -------
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', d, d, 'UTF8')
  FROM unnest(ARRAY['clientbase', 'airflow', 'metabase', 'superset']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
\gexec

-- Owners stay the owners even if a database pre-existed with another one.
ALTER DATABASE clientbase OWNER TO clientbase;
ALTER DATABASE airflow    OWNER TO airflow;
ALTER DATABASE metabase   OWNER TO metabase;
ALTER DATABASE superset   OWNER TO superset;

-- Who may connect where: the owner (implicitly), plus the pipeline's roles and bi_reader on
-- the warehouse (the loader and dbt use temporary tables).
REVOKE ALL ON DATABASE clientbase FROM PUBLIC;
REVOKE ALL ON DATABASE airflow    FROM PUBLIC;
REVOKE ALL ON DATABASE metabase   FROM PUBLIC;
REVOKE ALL ON DATABASE superset   FROM PUBLIC;
REVOKE ALL ON DATABASE postgres   FROM PUBLIC;
GRANT CONNECT ON DATABASE clientbase TO bi_reader;
GRANT CONNECT, TEMPORARY ON DATABASE clientbase TO clientbase_loader, clientbase_transformer;
