"""Step 6: publish the marts for BI tools: a read-only DuckDB snapshot and Parquet per mart.

BI readers never open the warehouse itself, so a reader can never block a load and a load
never fails because a BI tool has a file open: the snapshot is written under a new name
and swapped in with an atomic rename (readers holding the old file keep reading it).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb

from .config import Settings
from .load import read_connection

PUBLISHED_SCHEMAS = ("marts", "public")


def published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables where table_schema in "
        f"({', '.join(repr(s) for s in PUBLISHED_SCHEMAS)}) order by 1, 2").fetchall()


def publish_marts(settings: Settings) -> dict:
    out = settings.publish
    parquet_dir = out / "parquet"
    parquet_dir.mkdir(parents=True, exist_ok=True)
    snapshot = out / "finsam_marts.duckdb"
    tmp = out / ".finsam_marts.duckdb.new"
    tmp.unlink(missing_ok=True)
    from .build import dbt_target

    con = read_connection(settings) if dbt_target() != "postgres" else _marts_from_postgres()
    counts: dict[str, int] = {}
    try:
        con.execute(f"attach '{tmp}' as snap (read_only false)")  # the warehouse itself may be open read-only
        for schema, table in published_tables(con):
            con.execute(f"create schema if not exists snap.{schema}")
            con.execute(f"create table snap.{schema}.{table} as select * from {schema}.{table}")
            counts[f"{schema}.{table}"] = con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
            target = parquet_dir / f"{schema}.{table}.parquet"
            part = target.with_suffix(".parquet.new")
            con.execute(f"copy (select * from {schema}.{table}) to '{part}' (format parquet)")
            os.replace(part, target)
        con.execute("detach snap")
    finally:
        con.close()
    os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(tmp, snapshot)
    if settings.bi_postgres_dsn:
        from .publish_postgres import publish_to_postgres

        publish_to_postgres(settings, parquet_dir)
    return {"snapshot": str(snapshot), "parquet": str(parquet_dir), "tables": counts}


def _marts_from_postgres() -> duckdb.DuckDBPyConnection:
    """With the dbt `postgres` target the marts live in PostgreSQL: read them into an in-memory
    DuckDB, so the snapshot, the Parquet files and the BI publish are made the same way."""
    import pandas as pd
    import psycopg2

    from .build import warehouse_postgres_dsn

    con = duckdb.connect()
    pg = psycopg2.connect(warehouse_postgres_dsn())
    try:
        with pg.cursor() as cur:
            cur.execute("select table_schema, table_name from information_schema.tables where table_schema in %s "
                        "order by 1, 2", (PUBLISHED_SCHEMAS,))
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
        return {f"{s}.{t}": con.execute(f"select count(*) from {s}.{t}").fetchone()[0]
                for s, t in published_tables(con)}
    finally:
        con.close()
