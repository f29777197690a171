"""Publish the marts to a PostgreSQL database for BI tools (optional, `FINSAM_BI_POSTGRES_DSN`).

Reads the Parquet files `publish_marts` wrote (`<schema>.<table>.parquet`) and replaces the
published tables of the schemas `marts` and `public` in the BI database, ONE transaction per
schema: the new tables are built in a staging schema (`finsam__staging_marts`), then the
tables published last time are dropped and the new ones moved in before the commit. A BI
tool querying during a publish sees either the old tables or the new ones, never a
half-written mix; a failed publish leaves the old tables untouched. Tables the pipeline did
not publish (marked by a table comment) are never touched.

Tables are created from each Parquet file's schema (read with DuckDB) and filled with
PostgreSQL's COPY through psycopg2. Optional `FINSAM_BI_READER_ROLE`: a role granted read
access to the new tables at every publish (a new table has no grants of its own).
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

import duckdb

from ingestion.core.config import Settings

log = logging.getLogger(__name__)

PUBLISHED_SCHEMAS = ("marts", "public")
LOCK_KEY = 0x46494E53  # "FINS": one publisher at a time per BI database
PUBLISHED_MARK = "finsam: publicerad av finsam_county (ersätts vid varje publicering)"
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")

_SIMPLE_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(38,0)",
    "UHUGEINT": "numeric(39,0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "BLOB": "bytea",
}


class PublishError(RuntimeError):
    pass


def pg_type(duckdb_type: str) -> tuple[str, str]:
    """(PostgreSQL type, DuckDB expression template) for one column type."""
    upper = duckdb_type.upper()
    if upper in _SIMPLE_TYPES:
        if upper == "BLOB":
            return "bytea", "'\\x' || hex({col})"
        return _SIMPLE_TYPES[upper], "{col}"
    match = _DECIMAL.match(upper)
    if match:
        return f"numeric({match[1]},{match[2]})", "{col}"
    if upper.startswith("DECIMAL"):
        return "numeric", "{col}"
    if upper.endswith("[]") or upper.startswith(("STRUCT", "MAP", "UNION")) or "[" in upper:
        return "jsonb", "to_json({col})::varchar"
    return "text", "{col}::varchar"


def parquet_tables(
    parquet_dir: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS
) -> dict[str, list[tuple[str, Path]]]:
    """`<schema>.<table>.parquet` files grouped by schema."""
    found: dict[str, list[tuple[str, Path]]] = {s: [] for s in schemas}
    for path in sorted(Path(parquet_dir).glob("*.parquet")):
        schema, _, table = path.name[: -len(".parquet")].partition(".")
        if schema in found and table:
            found[schema].append((table, path))
    return found


def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"describe select * from read_parquet('{path}')").fetchall()]


def _copy_table(cur, con: duckdb.DuckDBPyConnection, schema: str, table: str, path: Path, workdir: Path) -> int:
    from psycopg2 import sql

    columns = _columns(con, path)
    definitions, expressions = [], []
    for name, dtype in columns:
        target, template = pg_type(dtype)
        definitions.append(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(target)))
        expressions.append(template.format(col='"' + name.replace('"', '""') + '"') + f' as "c{len(expressions)}"')
    cur.execute(
        sql.SQL("create table {}.{} ({})").format(
            sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join(definitions)
        )
    )
    csv_path = workdir / f"{schema}.{table}.csv"
    con.execute(
        f"copy (select {', '.join(expressions) or '1'} from read_parquet('{path}')) to '{csv_path}' "
        "(format csv, header false, quote '\"', escape '\"', nullstr '')"
    )
    with open(csv_path, encoding="utf-8", newline="") as handle:
        cur.copy_expert(
            sql.SQL("copy {}.{} ({}) from stdin with (format csv)")
            .format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
            )
            .as_string(cur),
            handle,
        )
    csv_path.unlink()
    cur.execute(sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
    return cur.fetchone()[0]


def replace_schema(
    conn,
    schema: str,
    tables: list[tuple[str, Path]],
    *,
    reader_role: str | None = None,
    lock_timeout_s: int = 120,
    docs: dict[tuple[str, str], dict] | None = None,
) -> dict[str, int]:
    """Replace the published tables of `schema` with one table per Parquet file, in one transaction.

    The new tables are built in a staging schema; then, still in the same transaction, every
    table this pipeline published earlier in `schema` (marked by its table comment) is dropped
    and the new ones are moved in. Readers see the old tables or the new ones. Objects in the
    schema that the pipeline did not publish (a BI tool's own tables, extensions in `public`)
    are left alone; views built on published tables are dropped with them (CASCADE).
    """
    from psycopg2 import sql

    staging = f"finsam__staging_{schema}"
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="finsam-pg-") as tmp, conn:  # `with conn`: commit or roll back
            with conn.cursor() as cur:
                cur.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                cur.execute(f"set local lock_timeout = '{int(lock_timeout_s)}s'")
                cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(staging)))
                cur.execute(sql.SQL("create schema {}").format(sql.Identifier(staging)))
                for table, path in tables:
                    counts[f"{schema}.{table}"] = _copy_table(cur, con, staging, table, path, Path(tmp))
                    described = (docs or {}).get((schema, table), {})
                    # the description a BI tool shows, then the mark that says the pipeline owns the table
                    mark = f"{described['table']}\n\n{PUBLISHED_MARK}" if described.get("table") else PUBLISHED_MARK
                    cur.execute(
                        sql.SQL("comment on table {}.{} is %s").format(sql.Identifier(staging), sql.Identifier(table)),
                        (mark,),
                    )
                    for column, text in described.get("columns", {}).items():
                        cur.execute(
                            sql.SQL("comment on column {}.{}.{} is %s").format(
                                sql.Identifier(staging), sql.Identifier(table), sql.Identifier(column)
                            ),
                            (text,),
                        )
                cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
                cur.execute(
                    "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                    "where n.nspname = %s and c.relkind in ('r', 'p') "
                    "and right(obj_description(c.oid, 'pg_class'), length(%s)) = %s",
                    (schema, PUBLISHED_MARK, PUBLISHED_MARK),
                )
                for (old,) in cur.fetchall():
                    cur.execute(sql.SQL("drop table {}.{} cascade").format(sql.Identifier(schema), sql.Identifier(old)))
                for table, _ in tables:
                    cur.execute(
                        sql.SQL("drop table if exists {}.{} cascade").format(
                            sql.Identifier(schema), sql.Identifier(table)
                        )
                    )
                    cur.execute(
                        sql.SQL("alter table {}.{} set schema {}").format(
                            sql.Identifier(staging), sql.Identifier(table), sql.Identifier(schema)
                        )
                    )
                cur.execute(sql.SQL("drop schema {}").format(sql.Identifier(staging)))
                if reader_role:
                    cur.execute(
                        sql.SQL("grant usage on schema {} to {}").format(
                            sql.Identifier(schema), sql.Identifier(reader_role)
                        )
                    )
                    for table, _ in tables:
                        cur.execute(
                            sql.SQL("grant select on {}.{} to {}").format(
                                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(reader_role)
                            )
                        )
    finally:
        con.close()
    return counts


def snapshot_docs(snapshot: Path) -> dict[tuple[str, str], dict]:
    """{(schema, table): {"table": description, "columns": {column: description}}} of a snapshot."""
    docs: dict[tuple[str, str], dict] = {}
    if not snapshot.exists():
        return docs
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        for schema, table, comment in con.execute(
            "select schema_name, table_name, comment from duckdb_tables() where coalesce(comment, '') <> ''"
        ).fetchall():
            docs.setdefault((schema, table), {"table": None, "columns": {}})["table"] = comment
        for schema, table, column, comment in con.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns() where coalesce(comment, '') <> ''"
        ).fetchall():
            docs.setdefault((schema, table), {"table": None, "columns": {}})["columns"][column] = comment
    finally:
        con.close()
    return docs


def publish_to_postgres(
    settings: Settings,
    parquet_dir: Path,
    *,
    dsn: str | None = None,
    schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
    docs: dict[tuple[str, str], dict] | None = None,
) -> dict:
    """Replace the published schemas in the BI database with the tables in `parquet_dir`. `docs`: the
    tables' and columns' descriptions (`snapshot_docs`), written as comments a BI tool shows; by
    default read from the snapshot beside `parquet_dir`."""
    import psycopg2

    dsn = dsn or settings.bi_postgres_dsn
    if not dsn:
        raise PublishError("FINSAM_BI_POSTGRES_DSN saknas: ange BI-databasen (PostgreSQL) att publicera till.")
    groups = parquet_tables(Path(parquet_dir), schemas)
    if docs is None:
        docs = snapshot_docs(Path(parquet_dir).parent / "finsam_marts.duckdb")
    if not any(groups.values()):
        raise PublishError(f"Inga tabeller att publicera i {parquet_dir} (väntade filer <schema>.<tabell>.parquet).")
    reader_role = settings.bi_reader_role
    try:
        conn = psycopg2.connect(dsn, connect_timeout=15, application_name="finsam-publish")
    except psycopg2.Error as exc:
        raise PublishError(f"Kunde inte ansluta till BI-databasen (PostgreSQL): {exc}".strip()) from exc
    counts: dict[str, int] = {}
    try:
        for schema in schemas:
            counts.update(replace_schema(conn, schema, groups[schema], reader_role=reader_role, docs=docs))
    except psycopg2.Error as exc:
        raise PublishError(
            f"Publiceringen till BI-databasen misslyckades (de gamla tabellerna finns kvar): {exc}"
        ) from exc
    finally:
        conn.close()
    log.info("Publicerade %s tabeller till PostgreSQL", len(counts))
    return {"tables": counts}


def copy_schemas_to_postgres(settings: Settings, dsn: str, schemas: tuple[str, ...] = ("raw", "meta")) -> dict:
    """Copy whole schemas of the DuckDB warehouse (by default `raw` and `meta`) into PostgreSQL.

    For the dbt `postgres` target (`FINSAM_DBT_TARGET=postgres`): load keeps writing DuckDB,
    this puts the same tables where dbt-postgres reads its sources. Same mechanism as the BI
    publish (Parquet, COPY, one transaction per schema).
    """
    with tempfile.TemporaryDirectory(prefix="finsam-pg-copy-") as tmp:
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        try:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
                f"and table_schema in ({', '.join(repr(s) for s in schemas)}) order by 1, 2"
            ).fetchall()
            for schema, table in tables:
                con.execute(
                    f'copy (select * from "{schema}"."{table}") to \'{Path(tmp) / f"{schema}.{table}.parquet"}\' '
                    "(format parquet)"
                )
        finally:
            con.close()
        return publish_to_postgres(settings, Path(tmp), dsn=dsn, schemas=schemas)
