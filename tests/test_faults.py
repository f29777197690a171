"""Faults that lose, duplicate or leak (the fault run): each one found, now a test.

Nothing lost, nothing duplicated, no personnummer anywhere written (file names included),
and a Swedish message for the owner or the data team."""

from __future__ import annotations

import errno
import json
import os
import random
import time

import pytest
from fixtures.county import county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import csv_bytes, make_pnr

from ingestion.core.findings import Finding
from ingestion.intake.discover import NameError_, parse_file_name

HEADER = ["deltagar_id", "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore"]
ROWS = [[f"D-{i}", "K", "1980", "2084", "2016-02-01", "FBS"] for i in range(6)]
DATA = csv_bytes(HEADER, ROWS)


def _every_byte_written(settings) -> bytes:
    out = []
    for root in (settings.home,):
        for path in root.rglob("*"):
            out.append(str(path).encode())
            if path.is_file():
                out.append(path.read_bytes())
    return b"\n".join(out)


def _digits_of(pnr: str) -> list[bytes]:
    return [pnr.encode(), pnr[2:].encode(), f"{pnr[2:8]}-{pnr[8:]}".encode(), f"{pnr[:8]}-{pnr[8:]}".encode()]


# 1. A mistyped intervention code: quarantined (naming the registered codes), no new intervention.
def test_unknown_intervention_quarantines_a_person_level_delivery(county):
    county.deliver_register()
    county.deliver("SODRA", "SODRA_AVESTAA_deltagare_2016T2.csv", DATA)
    summary = county.process()["SODRA"]
    assert [q["file"] for q in summary["quarantined"]] == ["SODRA_AVESTAA_deltagare_2016T2.csv"]
    reason = summary["quarantined"][0]["reason"]
    assert "finns inte i förbundets insatsregister" in reason and "ingen ny insats" in reason
    explanation = (county.settings.quarantine / "SODRA" / "SODRA_AVESTAA_deltagare_2016T2.csv.fel.txt").read_text()
    assert "AVESTA, KRAFTEN" in explanation  # the registered codes, to pick from
    county.load()
    assert county.query("select count(*) from raw.deltagare where intervention_code = 'AVESTAA'") == [(0,)]


# 1–2. A personnummer in a file name reaches nothing the pipeline writes.
@pytest.mark.parametrize(
    "template",
    [
        "SODRA_{pnr}_deltagare_2016H1.csv",
        "SODRA_AVESTA_deltagare {pnr}.csv",
        "SODRA_AVESTA_deltagare_2016T2 {pnr}.xlsx",
    ],
)
def test_a_personnummer_in_a_file_name_is_never_echoed(county, template):
    pnr = make_pnr(random.Random(7))
    shown = f"{pnr[:8]}-{pnr[8:]}"
    county.deliver_register()
    county.deliver("SODRA", template.format(pnr=shown), DATA)
    summary = county.process()["SODRA"]
    county.load()
    assert summary["bad_names"] and "liknar ett personnummer" in summary["bad_names"][0]
    written = _every_byte_written(county.settings) + json.dumps(summary, ensure_ascii=False).encode()
    for form in _digits_of(pnr):
        assert form not in written
    assert (county.landing / "SODRA" / template.format(pnr=shown)).exists()  # stays with its owner
    with pytest.raises(NameError_) as refused:
        parse_file_name(template.format(pnr=shown))
    assert pnr[2:8] not in str(refused.value)


# 3. Killed after the verdict but before the quarantine: the next run finishes the hand-over.
def test_a_verdict_without_its_quarantine_is_finished_by_the_next_run(county, monkeypatch):
    import ingestion.process as process

    county.deliver_register()
    bad = csv_bytes(HEADER, [[f"D-{i}", "Q", "1980", "2084", "2016-02-01", "FBS"] for i in range(3)])
    original = county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", bad)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("avbruten mellan bedömning och karantän (test)")

    monkeypatch.setattr(process, "quarantine", killed)
    with pytest.raises(KeyboardInterrupt):
        county.process()
    assert original.exists()  # nothing removed before the hand-over
    monkeypatch.undo()
    summary = county.process()["SODRA"]
    assert summary["duplicates"] == 0
    assert [q["file"] for q in summary["quarantined"]] == ["SODRA_AVESTA_deltagare_2016T2.csv"]
    assert (county.settings.quarantine / "SODRA" / "SODRA_AVESTA_deltagare_2016T2.csv.fel.txt").exists()
    assert not original.exists()
    # and a third delivery of the same bytes is now a duplicate
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", bad)
    assert county.process()["SODRA"]["duplicates"] == 1


# 3/9. A file-system error (full disk, no permission) in one association: Swedish, nothing lost.
def test_a_file_system_error_fails_one_association_in_swedish_and_loses_nothing(county, monkeypatch):
    import ingestion.process as process

    county.deliver_register()
    bad = csv_bytes(HEADER, [[f"D-{i}", "Q", "1980", "2084", "2016-02-01", "FBS"] for i in range(3)])
    original = county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", bad)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(county.settings.quarantine))

    monkeypatch.setattr(process, "quarantine", full_disk)
    with pytest.raises(process.AssociationError) as failed:
        process.process_association(county.settings, county.registry, "SODRA", docs=False)
    assert "disken är full" in str(failed.value) and "Inget har gått förlorat" in str(failed.value)
    assert original.exists()
    summaries = process.process_associations(county.settings, county.registry, ["SODRA"])
    assert summaries[0]["error"].startswith("Förbundet SODRA kunde inte behandlas: disken är full")


def test_finsam_run_returns_non_zero_and_swedish_on_a_full_disk(county, monkeypatch, capsys):
    import ingestion.pipeline as pipeline
    from ingestion.cli import main

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, "load_warehouse", full)
    assert main(["run", "--no-docs"]) == 4
    err = capsys.readouterr().err
    assert "disken är full" in err and "Traceback" not in err


# 4. Two versions of one slot in one run: the newer (found later) always supersedes.
def test_arrival_order_is_strictly_increasing(county):
    county.deliver_register()
    first = county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", DATA)
    past = time.time() - 60
    os.utime(first, (past, past))
    newer = csv_bytes(HEADER, ROWS[:4])
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.xlsx".replace(".xlsx", ".CSV"), newer)
    county.process()
    county.load()
    rows = county.query(
        "select received_at, rows_kept from meta.load_ledger where kind = 'deltagare' order by received_at"
    )
    assert [kept for _, kept in rows] == [6, 4]
    assert rows[0][0] < rows[1][0]  # never equal, so never decided by a hash


# 6. A symbolic link in landing is never followed.
def test_symlinks_in_landing_are_not_read(county, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_bytes(DATA)
    (county.landing / "SODRA").mkdir(parents=True, exist_ok=True)
    (county.landing / "SODRA" / "SODRA_AVESTA_deltagare_2016T2.csv").symlink_to(outside)
    summary = county.process()["SODRA"]
    assert summary["found"] == 0
    assert not any(county.settings.quarantine.rglob("*")) and not any((county.settings.raw / "SODRA").glob("*/"))


# 7. A huge cell is quoted by its start and length, never whole.
def test_a_huge_cell_is_echoed_bounded():
    finding = Finding("blocking", "x", "värdet är ogiltigt.", column="kon", value="Q" * 50_000_000)
    assert len(finding.value) < 300 and "50000000 tecken" in finding.value
    assert len(finding.line_sv()) < 1000


# 10. An analyst holding the warehouse open delays the run with a clear message.
def test_a_reader_holding_the_warehouse_gives_a_swedish_message(county):
    import subprocess
    import sys

    from ingestion.warehouse.schema import WarehouseBusy, connect

    connect(county.settings).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(county.settings.warehouse)!r}); "
            "print('open', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseBusy) as busy:
            connect(county.settings, wait_s=1)
        assert "öppet i ett annat program" in str(busy.value) and "finsam_marts.duckdb" in str(busy.value)
    finally:
        holder.kill()
        holder.wait()
    connect(county.settings, wait_s=5).close()  # free again: the run goes on


# 12. The file-name rule takes ASCII digits and the whole name only.
@pytest.mark.parametrize(
    "name",
    [
        "SODRA_AVESTA_deltagare_２０１６T3.csv",
        "SODRA_AVESTA_deltagare_2016T3.csv\n",
        "SODRA_AVESTA_deltagare_2016T3\n.csv",
    ],
)
def test_full_width_digits_and_trailing_newlines_are_no_period(name):
    with pytest.raises(NameError_):
        parse_file_name(name)


# 13. The same bytes twice in one run: loaded once, the other recorded as a duplicate and removed.
def test_identical_files_in_one_run_are_one_delivery(county):
    county.deliver_register()
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", DATA)
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.CSV", DATA)
    summary = county.process()["SODRA"]
    assert summary["duplicates"] == 1 and summary["landed"] == 2  # the register and one delivery
    assert not list((county.landing / "SODRA").iterdir())
    events = (county.settings.raw / "SODRA" / "_events.jsonl").read_text(encoding="utf-8")
    assert '"duplicate"' in events


# 8. A sheet of a million rows is refused from its declared size, before it is parsed.
def test_a_huge_xlsx_sheet_is_refused_before_parsing(tmp_path):
    from openpyxl import Workbook

    from ingestion.intake.readers import UnreadableFile, read_cells

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "deltagare"
    sheet.append(["kon", "startdatum"])
    sheet.cell(row=1_048_576, column=17, value="x")
    path = tmp_path / "SODRA_AVESTA_deltagare_2016T2.xlsx"
    workbook.save(path)
    started = time.perf_counter()
    with pytest.raises(UnreadableFile) as refused:
        read_cells(path, "deltagare", max_bytes=300 << 20, max_unzipped=1 << 30)
    assert time.perf_counter() - started < 2
    assert "1 048 576 rader × 17 kolumner" in str(refused.value)
