"""Suppression is the same in every public output: the DuckDB snapshot, its Parquet files, the
open-data export and the PostgreSQL BI database (all written from the one disclosure step)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from conftest import county_env

pytestmark = [pytest.mark.dbt]

TABLE = "pub_rpt_outcomes_by_period"
KEY = "outcome_period_key"


def _displays(con, relation: str) -> dict:
    columns = [d[0] for d in con.execute(f"select * from {relation} limit 0").description]
    shown = sorted(c for c in columns if c.endswith("_display"))
    rows = con.execute(f"select {KEY}, {', '.join(shown)} from {relation}").fetchall()
    return {r[0]: dict(zip(shown, r[1:])) for r in rows}


def _snapshot(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "var" / "publish" / "finsam_marts.duckdb"), read_only=True)


def test_snapshot_parquet_and_export_hide_the_same_cells(published_sample, tmp_path, monkeypatch):
    con = _snapshot(published_sample)
    try:
        in_snapshot = _displays(con, f"public.{TABLE}")
        parquet = published_sample / "var" / "publish" / "parquet" / f"public.{TABLE}.parquet"
        in_parquet = _displays(con, f"read_parquet('{parquet}')")
        secondary = sum(1 for row in in_snapshot.values() for v in row.values() if v == "–")
        year_rows = {
            r[0]: r[1:]
            for r in con.execute(
                f"select association_code || '/' || intervention_code, participants_display, exits_to_sje_ake_display "
                f"from public.{TABLE} where period_type = 'year' and period_label = '2016' and measure_window = 'in_period'"
            ).fetchall()
        }
    finally:
        con.close()
    assert in_snapshot == in_parquet
    assert secondary > 0, "the disclosure step hid something secondarily"
    # the export the publish step refreshed, and one written by the command
    refreshed = published_sample / "var" / "publish" / "oppna-data" / "finsam_2016.csv"
    assert refreshed.exists()
    for key, value in county_env(published_sample).items():
        monkeypatch.setenv(key, value)
    from ingestion.cli import main

    assert main(["export", "--oppna-data", "--period", "2016", "--ut", str(tmp_path)]) == 0
    for path in (refreshed, tmp_path / "finsam_2016.csv"):
        with path.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert rows
        exported = {
            f"{r['association_code']}/{r['intervention_code']}": (
                r["participants_display"],
                r["exits_to_sje_ake_display"],
            )
            for r in rows
        }
        assert exported == year_rows
    assert (tmp_path / "finsam_2016.parquet").exists()
    licence = (tmp_path / "LICENS.txt").read_text(encoding="utf-8")
    assert "CC0 1.0" in licence
    dictionary = (tmp_path / "dataordlista.csv").read_text(encoding="utf-8")
    assert "Antal deltagare" in dictionary or "deltagare" in dictionary.lower()


@pytest.mark.services
def test_postgres_bi_hides_the_same_cells(published_sample, fresh_postgres_db, monkeypatch):
    import psycopg2

    from ingestion.core.config import load_settings
    from ingestion.warehouse.postgres import publish_to_postgres

    for key, value in county_env(published_sample).items():
        monkeypatch.setenv(key, value)
    dsn = " ".join(f"{k}={v}" for k, v in fresh_postgres_db.items() if v != "")
    publish_to_postgres(load_settings(), published_sample / "var" / "publish" / "parquet", dsn=dsn, schemas=("public",))
    con = _snapshot(published_sample)
    try:
        in_snapshot = _displays(con, f"public.{TABLE}")
    finally:
        con.close()
    pg = psycopg2.connect(dsn)
    try:
        with pg.cursor() as cur:
            cur.execute(f"select * from public.{TABLE} limit 0")
            shown = sorted(d[0] for d in cur.description if d[0].endswith("_display"))
            cur.execute(f"select {KEY}, {', '.join(shown)} from public.{TABLE}")
            in_postgres = {r[0]: dict(zip(shown, r[1:])) for r in cur.fetchall()}
    finally:
        pg.close()
    assert in_postgres == in_snapshot


def test_bi_readers_see_the_models_descriptions(published_sample, fresh_postgres_db, monkeypatch):
    """The dbt docs of every published table and column reach the snapshot and the PostgreSQL BI
    database as comments (what a BI tool shows beside a column); a second publish to the same BI
    database still replaces its own tables (the pipeline's mark stays at the end of the comment)."""
    import psycopg2

    from ingestion.core.config import load_settings
    from ingestion.warehouse.postgres import publish_to_postgres

    con = _snapshot(published_sample)
    try:
        query = (
            "select schema_name, table_name, column_name, comment from duckdb_columns() "
            "where schema_name in ('marts', 'public') and database_name = current_database()"
        )
        in_snapshot = {r[:3]: r[3] for r in con.execute(query).fetchall()}
        table_docs = dict(
            con.execute(
                "select table_name, comment from duckdb_tables() where schema_name = 'public' "
                "and database_name = current_database()"
            ).fetchall()
        )
    finally:
        con.close()
    described = {k: v for k, v in in_snapshot.items() if v}
    assert len(described) > 300 and len(described) == len(in_snapshot), "every published column is described"
    assert all(v.startswith("sv: ") for v in described.values())  # the models' yml: "sv: … / en: …"
    participants = in_snapshot[("public", TABLE, "participants")]
    assert participants.startswith("sv: ") and "/ en: " in participants
    assert table_docs[TABLE].startswith("sv: Publicerad version av rpt_outcomes_by_period")

    for key, value in county_env(published_sample).items():
        monkeypatch.setenv(key, value)
    dsn = " ".join(f"{k}={v}" for k, v in fresh_postgres_db.items() if v != "")
    parquet = published_sample / "var" / "publish" / "parquet"
    for _ in range(2):
        publish_to_postgres(load_settings(), parquet, dsn=dsn, schemas=("public",))
    pg = psycopg2.connect(dsn)
    try:
        with pg.cursor() as cur:
            cur.execute(
                "select col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class') from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace join pg_attribute a on a.attrelid = c.oid "
                "where n.nspname = 'public' and c.relname = %s and a.attname = 'participants'",
                (TABLE,),
            )
            column_doc, table_doc = cur.fetchone()
            cur.execute("select count(*) from pg_tables where tablename = %s", (TABLE,))
            copies = cur.fetchone()[0]
    finally:
        pg.close()
    assert column_doc == participants
    assert table_doc.startswith(table_docs[TABLE]) and table_doc.endswith("(ersätts vid varje publicering)")
    assert copies == 1


def test_min_count_hides_more_in_the_snapshot_and_the_export(published_sample, tmp_path, monkeypatch):
    """FINSAM_MIN_COUNT=10: the sample's warehouse (copied) gets its pub_ models rebuilt with the
    threshold and published again; a count of 5-9 the default publishes is "<10" in the snapshot and
    the export, and no count below 10 is shown anywhere in the snapshot's public tables."""
    import shutil

    from ingestion.core.config import load_settings
    from ingestion.outbound import disclosure
    from ingestion.outbound.open_data import COUNTS
    from ingestion.outbound.publish import publish_marts
    from ingestion.warehouse.build import dbt

    con = _snapshot(published_sample)
    try:  # a count the default (5) shows that 10 hides, in a year row of the export
        shown = con.execute(
            " union all ".join(
                f"select association_code, intervention_code, period_label, '{c}' from public.{TABLE} "
                f"where period_type = 'year' and measure_window = 'in_period' and {c} between 5 and 9"
                for c in COUNTS
            )
            + " order by all limit 1"
        ).fetchone()
    finally:
        con.close()
    assert shown is not None
    association, intervention, year, column = shown

    home = tmp_path / "county"
    shutil.copytree(published_sample / "var" / "warehouse", home / "var" / "warehouse")
    for key, value in {**county_env(home), "FINSAM_MIN_COUNT": "10"}.items():
        monkeypatch.setenv(key, value)
    for name in ("FINSAM_SMTP_HOST", "FINSAM_SMTP_PORT", "FINSAM_BI_POSTGRES_DSN", "FINSAM_DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    settings.ensure_dirs()
    assert disclosure.threshold(settings) == 10 and disclosure.threshold() == 5
    dbt(settings, "run", "--select", "path:models/public", "--full-refresh")
    publish_marts(settings)

    con = _snapshot(home)
    try:
        display = con.execute(
            f"select {column}_display from public.{TABLE} where association_code = ? and intervention_code = ? "
            "and period_type = 'year' and period_label = ? and measure_window = 'in_period'",
            [association, intervention, year],
        ).fetchone()[0]
        pub = disclosure.read_published(con, settings=settings)
    finally:
        con.close()
    assert display == "<10"
    assert pub.threshold == 10
    small = [c for c, v in pub.value.items() if v is not None and v < 10]
    assert not small, small[:3]
    with (home / "var" / "publish" / "oppna-data" / f"finsam_{year}.csv").open(encoding="utf-8") as f:
        row = next(
            r
            for r in csv.DictReader(f)
            if (r["association_code"], r["intervention_code"]) == (association, intervention)
        )
    assert row[f"{column}_display"] == "<10" and row[column] == ""
    licence = (home / "var" / "publish" / "oppna-data" / "LICENS.txt").read_text(encoding="utf-8")
    assert 'Antal under 10 visas som "<10"' in licence
    # a report meant for publication says so on every page, and shows the hidden count as "<10"
    from test_reports import _norm, _pdf_pages

    from ingestion.reports.batch import make_report

    [pdf] = make_report(
        settings, "intervention", association=association, intervention=intervention, period=year, formats=("pdf",)
    )
    pages = [_norm(p) for p in _pdf_pages(pdf)]
    assert all("antal under 10 visas som <10" in p for p in pages), pages[0][:300]
    assert "<10" in " ".join(pages) and "<5" not in " ".join(pages)
