"""The warehouse's schema: every table the pipeline itself writes (raw, meta), in one place.

dbt owns staging, intermediate, marts and public; everything dbt reads from (`raw.*`, `meta.*`)
is created here, by `ensure_schema`, before any step writes or dbt runs. Raw tables follow the
contract (`kind_columns`); see docs/architecture.md for every column.
"""

from __future__ import annotations

import re

import duckdb

from ingestion.core.config import Settings
from ingestion.core.contract import KINDS, load_contract

DELIVERY_COLUMNS = [
    ("delivery_id", "varchar"),
    ("association_code", "varchar"),
    ("intervention_code", "varchar"),
    ("period", "varchar"),
    ("period_start", "date"),
    ("period_end", "date"),
    ("received_at", "timestamp"),
    ("source_row", "integer"),
]
TYPE_SQL = {
    "date": "date",
    "int": "integer",
    "amount": "decimal(18,2)",
    "percent": "integer",
    "yesno": "boolean",
    "months": "integer",
}
DELTAGARE_IDENTITY = [("person_key", "varchar"), ("person_key_source", "varchar"), ("is_anonymous", "boolean")]
# Never stored: the identity columns of a kind that identifies persons (they became person_key at
# the first read); alder only fills fodelsear.
IDENTITY_INPUT = {"personnummer", "deltagar_id", "anonym"}
SKIP = {"deltagare": {"alder"}}

CURRENT_REGISTERS_DDL = """create table if not exists meta.current_registers (
    association_code varchar primary key, delivery_id varchar, period_end date, received_at timestamp)"""
META_DDL = [
    """create table if not exists meta.load_ledger (
        delivery_id varchar primary key, association_code varchar, intervention_code varchar, kind varchar,
        period varchar, file_name varchar, sha256 varchar, size_bytes bigint, rows_read integer,
        rows_kept integer, rows_dropped integer, received_at timestamp, status varchar, reason varchar,
        loaded_at timestamp)""",
    """create table if not exists meta.validation_results (
        delivery_id varchar, suite varchar, expectation varchar, severity varchar, passed boolean,
        observed varchar, failing_rows integer[], message_sv varchar)""",
    """create table if not exists meta.delivery_events (
        event_at timestamp, association_code varchar, file_name varchar, sha256 varchar, event varchar,
        message_sv varchar)""",
    """create table if not exists meta.erasures (
        erased_at timestamp, person_key_prefix varchar, rows_removed_raw integer, rows_removed_warehouse integer)""",
    """create table if not exists meta.alerts (
        delivery_id varchar, recipient varchar, sent_at timestamp, status varchar, attempts integer)""",
    CURRENT_REGISTERS_DDL,
    """create table if not exists meta.registry_associations (
        association_code varchar primary key, name varchar, county_code varchar, municipalities varchar,
        data_team_email varchar)""",
]


# Columns added after warehouses were created: a replayed delivery (ingestion/replay.py) names the
# refused delivery it replaces and why; a build records the hash of its other inputs (build.py).
ADDED_COLUMNS = [
    "alter table meta.load_ledger add column if not exists replay_of varchar",
    "alter table meta.load_ledger add column if not exists replay_reason varchar",
    "alter table meta.build_state add column if not exists inputs_digest varchar",
]


# Delivery tracking (ingestion/outbound/reminders.py): the run's date and FINSAM_OVERDUE_DAYS, one row
# written each run (dbt's int_deliveries_due and marts.delivery_status read it), and the reminders tried.
TRACKING_AS_OF_DDL = """create table if not exists meta.tracking_as_of (
    as_of date, overdue_days integer, tracked_at timestamp)"""
REMINDERS_DDL = """create table if not exists meta.reminders (
    association_code varchar, intervention_code varchar, kind varchar, period varchar, recipient varchar,
    status varchar, attempts integer, first_tried_at timestamp, sent_at timestamp, as_of date)"""

# Work still to do per association, by stage: 'build' (load → dbt), then 'facts' (→ validate_facts)
# and 'publish' (→ publish_marts), both queued by a successful build.
BUILD_QUEUE_DDL = """create table if not exists meta.build_queue (
    association_code varchar, reason varchar, queued_at timestamp default current_timestamp,
    stage varchar default 'build')"""
BUILD_STATE_DDL = """create table if not exists meta.build_state (
    built_at timestamp, project_fingerprint varchar, full_refresh boolean, associations varchar,
    inputs_digest varchar)"""


# Facts findings told to the data teams (ingestion/outbound/facts_warnings.py), each once.
FACTS_ALERTS_DDL = """create table if not exists meta.facts_alerts (
    association_code varchar, warning_key varchar, delivery_id varchar, expectation varchar, severity varchar,
    recipient varchar, status varchar, attempts integer, first_tried_at timestamp, sent_at timestamp)"""


def kind_columns(kind: str) -> list[tuple[str, str]]:
    columns = []
    identifies = load_contract().identifies_persons(kind)
    for name, col in load_contract().columns(kind).items():
        if name in SKIP.get(kind, set()) or (identifies and name in IDENTITY_INPUT):
            continue
        columns.append((name, "varchar" if col.type == "kommun" else TYPE_SQL.get(col.type, "varchar")))
    if identifies:  # deltagare, uppfoljning (contract: a personnummer column)
        columns = DELTAGARE_IDENTITY + columns
    return columns


def raw_table_ddl(kind: str) -> str:
    cols = ", ".join(f"{n} {t}" for n, t in DELIVERY_COLUMNS + kind_columns(kind))
    return f"create table if not exists raw.{kind} ({cols})"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every raw and meta table, so every step and every dbt run finds what it reads (empty or not)."""
    for schema in ("raw", "meta"):
        con.execute(f"create schema if not exists {schema}")
    for kind in KINDS:
        con.execute(raw_table_ddl(kind))
        for name, sql_type in kind_columns(kind):  # columns a later contract version added (1.1: targets)
            con.execute(f"alter table raw.{kind} add column if not exists {name} {sql_type}")
    for ddl in META_DDL + [TRACKING_AS_OF_DDL, REMINDERS_DDL, FACTS_ALERTS_DDL, BUILD_QUEUE_DDL, BUILD_STATE_DDL]:
        con.execute(ddl)
    for ddl in ADDED_COLUMNS:  # warehouses created before these columns existed
        con.execute(ddl)
    # Written by tracking before dbt computed the due deliveries (now int_deliveries_due).
    con.execute("drop table if exists meta.expected_deliveries")


LOCK_WAIT_S = 120  # how long a step waits for another program to let go of the warehouse file


class WarehouseBusy(RuntimeError):
    """Another program holds the warehouse file; the message is Swedish and says what to do."""


def connect(settings: Settings, *, wait_s: float = LOCK_WAIT_S) -> duckdb.DuckDBPyConnection:
    """The warehouse for writing. If another program has it open (an analyst's DuckDB session: BI
    should read the published snapshot), wait up to `wait_s` seconds, then fail with a Swedish
    `WarehouseBusy` that names the snapshot to use instead. Nothing is written until it is free."""
    import time

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    pause = 0.5
    while True:
        try:
            return duckdb.connect(str(settings.warehouse))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                holder = re.search(r"PID (\d+)", str(exc))
                raise WarehouseBusy(
                    f"Datalagret ({settings.warehouse.name}) är öppet i ett annat program"
                    f"{f' (process {holder[1]})' if holder else ''}; körningen väntade {wait_s:.0f} s och har inte "
                    "ändrat något. Stäng programmet och kör igen (i Airflow försöker uppgiften igen av sig själv). "
                    f"BI-verktyg och analyser ska läsa den publicerade kopian {settings.publish / 'finsam_marts.duckdb'}, "
                    "som aldrig blockerar en körning."
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def read_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A connection for reading the warehouse.

    Read-only where possible; in a process where dbt-duckdb still holds the file open with
    the default configuration (`finsam run` after `dbt build`), DuckDB refuses a second
    configuration, so that process reuses the default one. Callers only read.
    """
    try:
        return duckdb.connect(str(settings.warehouse), read_only=True)
    except duckdb.ConnectionException:
        return duckdb.connect(str(settings.warehouse))
