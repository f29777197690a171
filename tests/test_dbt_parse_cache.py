"""dbt's parsed project is kept (ingestion/warehouse/build.py, `dbt()`): a process parses the project
once for its commands, and a later process, or a warehouse in another folder, starts from the parse
kept in FINSAM_DBT_PARSE_CACHE instead of parsing again. A kept parse that cannot be read is parsed
again and replaced; a change that changes the parse (a dbt var here) is parsed on its own. Counted
in dbt's own log of each home ("Starting full parse" is written by every parse)."""

from __future__ import annotations

import pytest

from ingestion.core.config import load_settings
from ingestion.warehouse import build

pytestmark = pytest.mark.dbt

SELECT = ["ls", "--resource-type", "model", "--select", "dim_code rpt_intervention_outcomes", "--output", "name"]


def settings_in(tmp_path, name: str, cache, **overrides):
    home = tmp_path / name
    return load_settings(home=home, warehouse=home / "warehouse" / "finsam.duckdb", dbt_parse_cache=cache, **overrides)


def dbt_log(settings) -> str:
    path = settings.home / "dbt" / "logs" / "dbt.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def listed(settings) -> list[str]:
    return sorted(build.dbt(settings, *SELECT).result)


def test_a_parse_is_kept_for_later_processes_and_other_warehouse_folders(tmp_path, monkeypatch):
    cache = tmp_path / "parse-cache"
    monkeypatch.setattr(build, "_PARSED", {})  # this process has parsed nothing yet

    first = settings_in(tmp_path, "first", cache)
    assert listed(first) == ["dim_code", "rpt_intervention_outcomes"]
    assert listed(first) == ["dim_code", "rpt_intervention_outcomes"]  # the second command: no parse
    assert dbt_log(first).count("Starting full parse") == 1
    kept = list(cache.glob("*.msgpack"))
    assert len(kept) == 1 and kept[0].stat().st_size > 100_000

    # a new process (nothing parsed in memory), its warehouse in another folder: no parse
    monkeypatch.setattr(build, "_PARSED", {})
    second = settings_in(tmp_path, "second", cache)
    assert listed(second) == ["dim_code", "rpt_intervention_outcomes"]
    log = dbt_log(second)
    assert "Starting full parse" not in log and log.count("Running with dbt") == 1, log[-2000:]

    # a kept parse that cannot be read: parsed again, and replaced by one that can
    kept[0].write_bytes(b"not a manifest")
    monkeypatch.setattr(build, "_PARSED", {})
    third = settings_in(tmp_path, "third", cache)
    assert listed(third) == ["dim_code", "rpt_intervention_outcomes"]
    assert dbt_log(third).count("Starting full parse") == 1
    assert build._saved_parse(third, build._parse_key(third, "duckdb")) is not None

    # other vars parse otherwise: a parse of their own, kept beside the first
    monkeypatch.setattr(build, "_PARSED", {})
    other = settings_in(tmp_path, "other", cache, min_count=7)
    assert listed(other) == ["dim_code", "rpt_intervention_outcomes"]
    assert dbt_log(other).count("Starting full parse") == 1
    assert len(list(cache.glob("*.msgpack"))) == 2
    assert not list(cache.glob("*.tmp"))


def test_without_a_writable_cache_the_parse_is_used_and_only_logged(tmp_path, monkeypatch, caplog):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setattr(build, "_PARSED", {})
    settings = settings_in(tmp_path, "home", blocked / "cache")
    with caplog.at_level("INFO", logger=build.log.name):
        assert listed(settings) == ["dim_code", "rpt_intervention_outcomes"]
    assert "kunde inte sparas" in caplog.text


def test_only_the_newest_parses_are_kept(tmp_path):
    """Every version of the project deployed leaves a parse: the newest eight stay."""
    import os

    cache = tmp_path / "parse-cache"
    cache.mkdir()
    for age in range(10):  # ten earlier versions, the oldest first to go
        old = cache / f"old-{age}.msgpack"
        old.write_bytes(b"an earlier parse")
        os.utime(old, (1_000_000 - age, 1_000_000 - age))

    class Parsed:  # what a parse gives, as far as keeping it goes
        def to_msgpack(self, encoder=None) -> bytes:
            return b"the parse"

    settings = settings_in(tmp_path, "home", cache)
    build._save_parse(settings, ("a", "key"), Parsed())
    kept = {p.name for p in cache.iterdir()}
    assert build._PARSE_FILES_KEPT == 8
    assert kept == {build._parse_file(settings, ("a", "key")).name} | {f"old-{age}.msgpack" for age in range(7)}
