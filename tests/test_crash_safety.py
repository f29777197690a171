"""Loads are atomic: a crash half-way leaves the warehouse as before and the deliveries pending;
the next run completes them. Once by an exception raised between two insert statements of the
load's transaction, once by SIGKILL of a real process in the middle of loading a large landed set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures.county import AS_OF, county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import DELTAGARE_HEADER, csv_bytes, deltagare_rows

from ingestion.core.rawzone import all_landed, write_validation
from ingestion.intake.discover import FoundFile, parse_file_name, sha256_file
from ingestion.intake.land import land_file

REPO = Path(__file__).resolve().parent.parent


def state(county) -> dict:
    return {
        "ledger": county.query("select count(*) from meta.load_ledger")[0][0],
        "rows": county.query("select count(*) from raw.deltagare")[0][0],
        "results": county.query("select count(*) from meta.validation_results")[0][0],
    }


def pending(county) -> set[str]:
    loaded = {r[0] for r in county.query("select delivery_id from meta.load_ledger")}
    return {l.delivery_id for l in all_landed(county.settings) if l.validation() and l.delivery_id not in loaded}


def first_load(county) -> dict:
    county.deliver_register("SODRA")
    county.deliver(
        "SODRA", "SODRA_AVESTA_deltagare_2016T1.csv", csv_bytes(DELTAGARE_HEADER, deltagare_rows(40, seed=1))
    )
    county.process()
    county.load()
    return state(county)


def crash_after(monkeypatch, deliveries: int) -> None:
    """load_warehouse inserts one delivery per statement and raises once it has inserted this many,
    inside its one transaction (the real insert, then the crash)."""
    import ingestion.warehouse.load as load

    insert = load._insert_deliveries
    inserted: list = []

    def crashing(con, kind, batch):
        rows = insert(con, kind, batch)
        inserted.extend(batch)
        if len(inserted) >= deliveries:
            raise RuntimeError("simulerad krasch (test)")
        return rows

    monkeypatch.setattr(load, "LOAD_BATCH", 1)
    monkeypatch.setattr(load, "_insert_deliveries", crashing)


def test_crash_half_way_leaves_the_warehouse_as_before(county, monkeypatch):
    before = first_load(county)
    for index, period in enumerate(("2016T2", "2016T3", "2016-09"), start=2):
        county.deliver(
            "SODRA", f"SODRA_AVESTA_deltagare_{period}.csv", csv_bytes(DELTAGARE_HEADER, deltagare_rows(30, seed=index))
        )
    county.process()
    waiting = pending(county)
    assert len(waiting) == 3
    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="simulerad krasch"):
        crash_after(patch, 2)  # of the 3
        county.load()
    assert state(county) == before
    assert pending(county) == waiting
    summary = county.load()
    assert summary["loaded"] == 3 and summary["already_loaded"] == 2
    after = state(county)
    assert after["ledger"] == before["ledger"] + 3 and after["rows"] > before["rows"]
    assert pending(county) == set()
    assert county.load()["loaded"] == 0  # and nothing twice


def land_accepted(county, name: str, data: bytes) -> None:
    """Land a delivery and mark it accepted, without the (slow, here irrelevant) GX validation."""
    path = county.deliver("SODRA", name, data)
    found = FoundFile(path, "SODRA", sha256_file(path), path.stat().st_size)
    landed = land_file(county.settings, found, parse_file_name(name), county.settings.secret())
    write_validation(landed, "accepted", [])
    path.unlink()


KILLED_LOAD = textwrap.dedent("""
    import sys, time
    import ingestion.warehouse.load as load
    from ingestion.core.config import load_settings
    from ingestion.core.registry import load_registry

    insert = load._insert_deliveries
    load.LOAD_BATCH = 1  # one delivery per insert statement, so the kill lands between them
    def reporting(con, kind, batch):  # the real insert, then a word to the test that it happened
        rows = insert(con, kind, batch)
        print("inserted", batch[0].delivery_id, sum(rows.values()), flush=True)
        time.sleep(0.3)
        return rows
    load._insert_deliveries = reporting
    settings = load_settings()
    print("loading", flush=True)
    load.load_warehouse(settings, load_registry(settings.registry))
    print("committed", flush=True)
""")


def test_sigkill_during_a_large_load_changes_nothing_and_the_next_run_completes(county):
    before = first_load(county)
    rows = deltagare_rows(20000, seed=5)
    for index in range(8):
        title = [f"Deltagare, utdrag {index}"]  # distinct bytes: distinct deliveries
        land_accepted(
            county,
            f"SODRA_KRAFTEN_deltagare_2016-0{index + 1}.csv",
            csv_bytes(DELTAGARE_HEADER, rows, title_rows=title),
        )
    waiting = pending(county)
    assert len(waiting) == 8

    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_LOAD],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        for line in child.stdout:
            seen.append(line.split()[0])
            if seen.count("inserted") == 3:  # in the middle of the one load transaction
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.wait(timeout=120)
    assert seen[:1] == ["loading"] and seen.count("inserted") == 3, child.stderr.read()[-2000:]
    assert child.returncode == -signal.SIGKILL

    assert state(county) == before  # nothing of the killed load is visible
    assert pending(county) == waiting  # and every delivery is still to be loaded
    summary = county.load()
    assert summary["loaded"] == 8
    after = state(county)
    assert after["ledger"] == before["ledger"] + 8
    assert after["rows"] == before["rows"] + sum(
        l.manifest["rows_kept"] for l in all_landed(county.settings) if l.delivery_id in waiting
    )
