#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is first initialised (/docker-entrypoint-initdb.d).
# Passwords come from the env file through the container's environment, never from here.
#   airflow            owns the Airflow metadata database `airflow`
#   finsam_publisher   owns `finsam_bi` (the marts for BI tools) and `finsam_warehouse`
#                      (the warehouse when FINSAM_DBT_TARGET=postgres)
#   finsam_bi_reader   may only read the published tables in `finsam_bi` (give this one to BI tools)
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?}" "${FINSAM_BI_DB_PASSWORD:?}" "${FINSAM_BI_READER_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v publisher_pw="$FINSAM_BI_DB_PASSWORD" \
  -v reader_pw="$FINSAM_BI_READER_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE ROLE finsam_publisher LOGIN PASSWORD :'publisher_pw';
CREATE ROLE finsam_bi_reader LOGIN PASSWORD :'reader_pw';
CREATE DATABASE airflow OWNER airflow;
CREATE DATABASE finsam_bi OWNER finsam_publisher;
CREATE DATABASE finsam_warehouse OWNER finsam_publisher;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE finsam_bi FROM PUBLIC;
REVOKE ALL ON DATABASE finsam_warehouse FROM PUBLIC;
GRANT CONNECT ON DATABASE finsam_bi TO finsam_bi_reader;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname finsam_bi <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO finsam_bi_reader;
SQL
