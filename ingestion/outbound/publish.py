"""Step 6: publish the marts for BI tools: a read-only DuckDB snapshot and Parquet per mart.

BI readers never open the warehouse itself, so a reader can never block a load and a load
never fails because a BI tool has a file open: the snapshot is written under a new name
and swapped in with an atomic rename (readers holding the old file keep reading it).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import duckdb

from ingestion.core.config import Settings
from ingestion.outbound.disclosure import PUBLIC_SCHEMA, protected_copy
from ingestion.warehouse.schema import BUILD_QUEUE_DDL, read_connection

PUBLISHED_SCHEMAS = ("marts", "public")
DISCLOSED = "disclosed"  # the in-memory copy of the public tables after disclosure control


def disclosure_cache(settings: Settings) -> Path:
    """Where each intervention's secondary suppression is kept between publishes (no personal data:
    row keys and the cells hidden in them)."""
    return disclosure_cache_beside(settings.warehouse)


def disclosure_cache_beside(warehouse: Path) -> Path:
    """The disclosure cache of the DuckDB warehouse file `warehouse`: next to it."""
    return warehouse.parent / "disclosure_cache.duckdb"


def published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = current_database() "
        f"and table_schema in ({', '.join(repr(s) for s in PUBLISHED_SCHEMAS)}) order by 1, 2"
    ).fetchall()


def incremental_tables(settings: Settings) -> set[str]:
    """`schema.table` of the incremental models (per association), from dbt's manifest."""
    from ingestion.warehouse.build import last_manifest

    nodes = (last_manifest(settings) or {}).get("nodes", {})
    return {
        f"{n['schema']}.{n['alias'] or n['name']}"
        for n in nodes.values()
        if n.get("resource_type") == "model" and n.get("config", {}).get("materialized") == "incremental"
    }


def publish_marts(settings: Settings) -> dict:
    """Write the snapshot and the Parquet files. After an incremental build (meta.build_queue,
    stage 'publish') the previous snapshot is copied and only the changed associations' rows of the
    incremental models are replaced in it (the other tables are small and copied whole); their
    Parquet files are rewritten only when an association changed. Otherwise everything is written."""
    from ingestion.warehouse.build import dbt_target
    from ingestion.warehouse.queue import dequeue, queued
    from ingestion.warehouse.schema import connect

    out = settings.publish
    parquet_dir = out / "parquet"
    parquet_dir.mkdir(parents=True, exist_ok=True)
    snapshot = out / "finsam_marts.duckdb"
    tmp = out / ".finsam_marts.duckdb.new"
    tmp.unlink(missing_ok=True)
    postgres = dbt_target(settings) == "postgres"
    codes, until = None, None
    if not postgres:
        con = connect(settings)
        try:
            con.execute(BUILD_QUEUE_DDL)
            codes, until = queued(con, "publish")
        finally:
            con.close()
    incremental = incremental_tables(settings) if codes is not None and snapshot.exists() else set()
    if incremental:
        shutil.copyfile(snapshot, tmp)
    con = read_connection(settings) if not postgres else _marts_from_postgres(settings)
    counts: dict[str, int] = {}
    scratch = out / ".disclosed.duckdb"  # the protected copy; the warehouse may be open read-only
    _remove_duckdb_file(scratch)
    try:
        # Disclosure control (docs/disclosure.md): every public output is written from the protected copy.
        # Each intervention's suppression is kept between publishes (disclosure_cache.duckdb next to the
        # warehouse): only the interventions whose published rows changed are protected again.
        disclosure = protected_copy(con, DISCLOSED, path=scratch, cache=disclosure_cache(settings), settings=settings)
        con.execute(f"attach '{tmp}' as snap (read_only false)")  # the warehouse itself may be open read-only
        kept = {f"{s}.{t}" for s, t in published_tables(con)}
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = 'snap'"
        ).fetchall():
            if f"{schema}.{table}" not in kept:
                con.execute(f"drop table snap.{schema}.{table}")
        for schema, table in published_tables(con):
            name = f"{schema}.{table}"
            con.execute(f"create schema if not exists snap.{schema}")
            in_snapshot = con.execute(
                "select count(*) from information_schema.tables where table_catalog = 'snap' "
                "and table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchone()[0]
            target = parquet_dir / f"{name}.parquet"
            source = f"{DISCLOSED}.{name}" if schema == PUBLIC_SCHEMA else name
            if name in incremental and in_snapshot and schema != PUBLIC_SCHEMA:
                if codes:
                    scope = "association_code in (select unnest(?::varchar[]))"
                    con.execute(f"delete from snap.{name} where {scope}", [codes])
                    con.execute(f"insert into snap.{name} select * from {source} where {scope}", [codes])
                rewrite = bool(codes) or not target.exists()
            else:
                con.execute(f"create or replace table snap.{name} as select * from {source}")
                rewrite = True
            counts[name] = con.execute(f"select count(*) from {source}").fetchone()[0]
            if rewrite:
                part = target.with_suffix(".parquet.new")
                con.execute(f"copy (select * from {source}) to '{part}' (format parquet)")
                os.replace(part, target)
        copy_docs(con, "snap", published_tables(con))
        con.execute("detach snap")
    finally:
        con.close()
        _remove_duckdb_file(scratch)
    os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(tmp, snapshot)
    if until is not None:
        con = connect(settings)
        try:
            dequeue(con, "publish", until)
        finally:
            con.close()
    if settings.bi_postgres_dsn:
        from ingestion.warehouse.postgres import publish_to_postgres, snapshot_docs

        publish_to_postgres(settings, parquet_dir, docs=snapshot_docs(snapshot))
    from ingestion.outbound.open_data import refresh_open_data

    open_data = refresh_open_data(settings)  # the open-data export, from the snapshot just written
    return {
        "open_data": open_data,
        "snapshot": str(snapshot),
        "parquet": str(parquet_dir),
        "tables": counts,
        "disclosure": disclosure,
        "associations": "alla" if codes is None or not incremental else codes,
    }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def copy_docs(con: duckdb.DuckDBPyConnection, catalog: str, tables: list[tuple[str, str]]) -> int:
    """dbt's descriptions of the published tables and their columns (persisted in the warehouse by
    `persist_docs`) onto the same tables in `catalog`, so a BI tool reading the snapshot shows them
    (a table copied with CREATE TABLE AS has none). Returns how many comments were written."""
    wanted = set(tables)
    statements = []
    for schema, table, comment in con.execute(
        "select schema_name, table_name, comment from duckdb_tables() "
        "where database_name = current_database() and coalesce(comment, '') <> ''"
    ).fetchall():
        if (schema, table) in wanted:
            statements.append(f'comment on table {catalog}.{schema}."{table}" is {_literal(comment)}')
    for schema, table, column, comment in con.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where database_name = current_database() and coalesce(comment, '') <> ''"
    ).fetchall():
        if (schema, table) in wanted:
            statements.append(
                f'comment on column {catalog}.{schema}."{table}"."{column.replace(chr(34), chr(34) * 2)}" '
                f"is {_literal(comment)}"
            )
    if statements:
        con.execute(";\n".join(statements))
    return len(statements)


def _remove_duckdb_file(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _marts_from_postgres(settings: Settings) -> duckdb.DuckDBPyConnection:
    """With the dbt `postgres` target the marts live in PostgreSQL: read them into an in-memory
    DuckDB, so the snapshot, the Parquet files and the BI publish are made the same way."""
    import pandas as pd
    import psycopg2

    con = duckdb.connect()
    pg = psycopg2.connect(settings.warehouse_postgres_dsn)
    try:
        with pg.cursor() as cur:
            cur.execute(
                "select table_schema, table_name from information_schema.tables where table_schema in %s order by 1, 2",
                (PUBLISHED_SCHEMAS,),
            )
            tables = cur.fetchall()
        for schema, table in tables:
            with pg.cursor() as cur:
                cur.execute(f'select * from "{schema}"."{table}"')
                frame = pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])
            con.execute(f"create schema if not exists {schema}")
            con.register("_frame", frame)
            con.execute(f"create table {schema}.{table} as select * from _frame")
            con.unregister("_frame")
    finally:
        pg.close()
    return con


def mart_row_counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            f"{s}.{t}": con.execute(f"select count(*) from {s}.{t}").fetchone()[0] for s, t in published_tables(con)
        }
    finally:
        con.close()
