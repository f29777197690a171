"""Disclosure control one intervention at a time (ingestion/outbound/disclosure.py `protect`): every
declared relation stays within one intervention, so an intervention whose published rows did not
change since the last publish takes its suppression from the cache, and only the changed ones are
protected again. The result must be the same as protecting everything from scratch.

Runs on the sample county's warehouse (the shared `published_sample`, read only: every protected copy
is a scratch file of the test). Its snapshot was protected from scratch (an empty cache) by the run
that published it: its pattern is the one every other way of protecting must give (that protect() is
deterministic and its pattern is the snapshot's: `test_disclosure_attack.py`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from test_disclosure_attack import snapshot as _snapshot  # the published snapshot
from test_disclosure_attack import warehouse as _warehouse  # the warehouse, read only

from ingestion.outbound import disclosure

pytestmark = [pytest.mark.dbt]


def _pattern(con: duckdb.DuckDBPyConnection, catalog: str | None) -> dict:
    pub = disclosure.read_published(con, catalog=catalog)
    return {cell: status for cell, status in pub.status.items() if status != "published"}


def _protect(con, alias: str, tmp_path: Path, cache: Path | None) -> dict:
    return disclosure.protected_copy(con, alias, path=tmp_path / f"{alias}.duckdb", cache=cache)


def _from_scratch(published_sample: Path) -> dict:
    """The pattern of the sample's snapshot: protected with an empty cache when it was published."""
    con = _snapshot(published_sample)
    try:
        return _pattern(con, None)
    finally:
        con.close()


def test_unchanged_interventions_come_from_the_cache(published_sample, tmp_path):
    cache = tmp_path / "cache.duckdb"
    expected = _from_scratch(published_sample)
    con = _warehouse(published_sample)
    try:
        first = _protect(con, "first", tmp_path, cache=cache)
        again = _protect(con, "again", tmp_path, cache=cache)
        assert _pattern(con, "first") == expected
        assert _pattern(con, "again") == expected
    finally:
        con.close()
    assert first["interventions"] > 5
    assert first["protected_again"] == first["interventions"]  # an empty cache: every intervention
    assert again["protected_again"] == 0  # nothing changed: every intervention from the cache
    secondary = sum(1 for status in expected.values() if status == "secondary")
    assert again["secondary"] == first["secondary"] == secondary > 0


def test_a_changed_intervention_is_protected_again_and_only_it(published_sample, tmp_path):
    """One intervention's published figures change (as after a new delivery): the cached run
    protects that one again and ends with the same pattern as a run from scratch. The cache is the
    one the sample's publish left beside its warehouse (every intervention as published)."""
    cache = tmp_path / "cache.duckdb"
    shutil.copyfile(published_sample / "var" / "warehouse" / "disclosure_cache.duckdb", cache)
    changed = tmp_path / "changed.duckdb"
    con = _warehouse(published_sample)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'public' "
                "and table_catalog = current_database()"
            ).fetchall()
        ]
        # the warehouse is open read only: copy its public tables out, with their types (a row's
        # hash, and so the intervention's fingerprint, is taken over its values as text)
        con.execute(f"attach '{changed}' as changed (read_only false)")
        con.execute("create schema changed.public")
        for table in tables:
            con.execute(f'create table changed.public."{table}" as select * from public."{table}"')
        con.execute("detach changed")
    finally:
        con.close()
    con = duckdb.connect(str(changed))
    try:
        # AVESTA's latest year: one more person took part (a count moves, so does its row's hash)
        moved = con.execute(
            "update public.pub_rpt_outcomes_by_period set participants = participants + 1 "
            "where intervention_code = 'AVESTA' and period_type = 'year' and period_label = '2016' "
            "and measure_window = 'in_period' and participants is not null"
        ).fetchone()[0]
        assert moved == 1
    finally:
        con.close()
    con = duckdb.connect(str(changed))
    try:
        cached = disclosure.protected_copy(con, "cached", path=tmp_path / "cached.duckdb", cache=cache)
        fresh = disclosure.protected_copy(con, "fresh", path=tmp_path / "fresh.duckdb", cache=None)
        assert _pattern(con, "cached") == _pattern(con, "fresh")
    finally:
        con.close()
    assert cached["protected_again"] == 1
    assert cached["secondary"] == fresh["secondary"]


def test_every_declared_relation_stays_within_one_intervention(published_sample):
    """What makes protecting one intervention at a time sound: no relation links two of them, but
    for the tables whose rows span interventions (an association's sum, the paths between them),
    protected after them."""
    con = _warehouse(published_sample)
    try:
        pub = disclosure.read_published(con)
    finally:
        con.close()
    everything = disclosure.declarations()
    within = disclosure.within_interventions(everything)
    assert set(everything) - set(within) == {"pub_rpt_county_overview", "pub_rpt_pathways"}
    eqs = disclosure.equations(pub, within)
    assert len(eqs) > 10_000

    def component(cell):
        table, key, _ = cell
        row = pub.tables[table].by_key[key]
        return tuple(row[c] for c in disclosure.COMPONENT)

    crossing = [terms for terms, _ in eqs if len({component(c) for _, c in terms}) > 1]
    assert not crossing, crossing[:3]


def test_batches_protected_in_worker_processes_give_the_same_pattern(published_sample, tmp_path, monkeypatch):
    """A first national publish protects hundreds of batches: with FINSAM_WORKERS > 1 they go to
    worker processes. Batches of 2 interventions here (the sample has about ten), two workers: the
    pattern equals the snapshot's (one process, from scratch), batch by batch."""
    from ingestion.core.config import load_settings

    monkeypatch.setattr(disclosure, "COMPONENTS_PER_BATCH", 2)
    monkeypatch.setenv("FINSAM_WORKERS", "2")
    settings = load_settings()
    assert settings.workers == 2
    expected = _from_scratch(published_sample)
    con = _warehouse(published_sample)
    try:
        parallel = disclosure.protected_copy(
            con, "parallel", path=tmp_path / "parallel.duckdb", cache=None, settings=settings
        )
        assert _pattern(con, "parallel") == expected
        relations = len(
            disclosure.equations(
                disclosure.read_published(con), disclosure.within_interventions(disclosure.declarations())
            )
        )
    finally:
        con.close()
    assert parallel["interventions"] >= 6  # at least three batches went to the workers
    assert parallel["secondary"] == sum(1 for status in expected.values() if status == "secondary") > 0
    assert parallel["relations"] == relations
