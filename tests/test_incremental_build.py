"""Incremental builds (issue 7): after new deliveries for one association, `build_marts`
recomputes only that association's rows of the large models, and the result is exactly what a
full build gives; with nothing new (nothing queued, the same ledger and registry) dbt is not run.
The queue that drives this (meta.build_queue) is written by load in the same transaction as the
rows, and emptied only after dbt succeeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import SAMPLE, seed_disclosure_cache

from ingestion.core.registry import load_registry
from ingestion.outbound.publish import publish_marts
from ingestion.pipeline import process_all
from ingestion.warehouse.build import build_marts
from ingestion.warehouse.load import load_warehouse
from ingestion.warehouse.schema import connect

pytestmark = [pytest.mark.dbt]

HELD_BACK = "2016T3"  # MITT's last tertial arrives after the first build


def tables(settings) -> dict[str, list[tuple]]:
    con = connect(settings)  # not read_only: dbt (run in this process) keeps the file open
    try:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('intermediate', 'marts', 'public') and table_type = 'BASE TABLE' "
            "order by 1"
        ).fetchall()
        return {name: con.execute(f"select * from {name} order by all").fetchall() for (name,) in names}
    finally:
        con.close()


def queue(settings) -> list[tuple]:
    con = connect(settings)  # not read_only: dbt (run in this process) keeps the file open
    try:
        return con.execute("select stage, association_code from meta.build_queue order by all").fetchall()
    finally:
        con.close()


def test_incremental_build_equals_a_full_build(finsam_env, sample_disclosure_cache):
    settings = finsam_env
    seed_disclosure_cache(sample_disclosure_cache, settings.warehouse)
    registry = load_registry(settings.registry)
    shutil.copytree(SAMPLE / "landing", settings.landing, dirs_exist_ok=True)
    later = settings.home.parent / "later"
    later.mkdir()
    for path in sorted((settings.landing / "MITT").glob(f"*_{HELD_BACK}.*")):
        shutil.move(path, later / path.name)
    assert len(list(later.iterdir())) >= 4

    process_all(settings, registry, as_of=None, docs=False)
    load_warehouse(settings, registry)
    first = build_marts(settings, docs=False)
    assert first["full_refresh"] is True  # a first build is always full
    assert queue(settings) == [("facts", "*"), ("publish", "*")]
    # the first build recorded what it read: the next run with nothing new does not build again
    assert build_marts(settings, docs=False)["unchanged"] is True
    assert queue(settings) == [("facts", "*"), ("publish", "*")]
    assert publish_marts(settings)["associations"] == "alla"
    before = tables(settings)

    # MITT delivers its last tertial, and re-delivers FRAMSTEG's T2 participants without the last row.
    for path in later.iterdir():
        shutil.move(path, settings.landing / "MITT" / path.name)
    name = "MITT_FRAMSTEG_deltagare_2016T2.csv"  # landed files leave the landing folder: take the sample's
    lines = (SAMPLE / "landing" / "MITT" / name).read_bytes().rstrip(b"\r\n").splitlines(keepends=True)
    (settings.landing / "MITT" / name).write_bytes(b"".join(lines[:-1]))
    process_all(settings, registry, as_of=None, docs=False)
    load_warehouse(settings, registry)
    assert ("build", "MITT") in queue(settings)

    second = build_marts(settings, docs=False)
    assert second["full_refresh"] is False and second["associations"] == ["MITT"]
    assert ("build", "MITT") not in queue(settings) and ("facts", "MITT") in queue(settings)
    incremental = tables(settings)

    # The snapshot is updated in place for MITT only, and equals the marts it was built from.
    published = publish_marts(settings)
    assert published["associations"] == ["MITT"] and ("publish", "MITT") not in queue(settings)
    snapshot = duckdb.connect(published["snapshot"], read_only=True)
    try:
        for name, rows in incremental.items():
            if name.split(".")[0] in ("marts", "public"):
                # public: the same rows after disclosure control (secondary suppression, docs/disclosure.md)
                if name.startswith("marts."):
                    assert snapshot.execute(f"select * from {name} order by all").fetchall() == rows, name
                parquet = Path(published["parquet"]) / f"{name}.parquet"
                assert snapshot.execute(f"select count(*) from '{parquet}'").fetchone()[0] == len(rows), name
    finally:
        snapshot.close()

    # The other associations' rows of the incremental models are untouched, MITT's changed.
    outcomes = "marts.rpt_intervention_outcomes"
    assert [r for r in incremental[outcomes] if r[2] != "MITT"] == [r for r in before[outcomes] if r[2] != "MITT"]
    assert [r for r in incremental[outcomes] if r[2] == "MITT"] != [r for r in before[outcomes] if r[2] == "MITT"]

    full = build_marts(settings, docs=False, full_refresh=True)
    assert full["full_refresh"] is True
    rebuilt = tables(settings)
    assert rebuilt.keys() == incremental.keys()
    for name, rows in rebuilt.items():
        assert incremental[name] == rows, f"{name}: incremental build differs from the full build"

    # Nothing new: nothing queued, the same project, ledger and registry: dbt is not run at all.
    waiting = queue(settings)
    nothing = build_marts(settings, docs=False)
    assert nothing["associations"] == [] and nothing["unchanged"] is True
    assert tables(settings) == rebuilt and queue(settings) == waiting  # nothing more for facts or publish

    # A refused delivery queues no association, but changes the load ledger the models read: built.
    (settings.landing / "MITT" / "MITT_FRAMSTEG_budget_2016T3.xlsx").write_text("ingen tabell", encoding="utf-8")
    process_all(settings, registry, as_of=None, docs=False)
    load_warehouse(settings, registry)
    assert ("build", "MITT") not in queue(settings)
    refused = build_marts(settings, docs=False)
    assert refused["unchanged"] is False and refused["associations"] == [] and refused["pass"] > 100
    assert build_marts(settings, docs=False)["unchanged"] is True
