"""Bookkeeping at the door: names that break the rule, unknown associations and interventions,
future periods and the same bytes twice are reported, never guessed."""

from __future__ import annotations

import json

import pytest
from fixtures.county import county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import csv_bytes

from ingestion.intake.discover import NameError_, find_files, parse_file_name
from ingestion.pipeline import unknown_drop_folders

HEADER = ["deltagar_id", "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore"]
ROWS = [["D-1", "K", "1980", "2084", "2016-02-01", "FBS"], ["D-2", "M", "1975", "2083", "2016-03-15", "AKS"]]
DATA = csv_bytes(HEADER, ROWS)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("SODRA_AVESTA_deltagare_2016T4.csv", "perioden '2016T4' följer inte regeln"),
        ("SODRA_AVESTA_deltagare_2016-13.csv", "perioden '2016-13' följer inte regeln"),
        ("SODRA_AVESTA_deltagarna_2016T2.csv", "typen 'deltagarna'"),
        ("SODRA_AVESTA_Deltagare_2016T2.csv", "skriv 'deltagare' med små bokstäver"),
        (
            "SODRA_AVESTA_deltagare_2016T2.xlsb",
            "filtypen .xlsb i 'SODRA_AVESTA_deltagare_2016T2.xlsb' stöds inte; spara filen som .xlsx",
        ),
        ("SODRA_AVESTA_deltagare_2016T2.txt", "stöds inte; leverera .xlsx, .xls, .ods eller .csv"),
        ("SODRA AVESTA deltagare 2016T2.csv", "ska ha fyra delar"),
        ("SODRA_AVESTA_deltagare.csv", "ska ha fyra delar"),
        ("SODRA_AVESTA_deltagare_2016T2", "saknar filändelse"),
        ("SÖDRA_AVESTA_deltagare_2016T2.csv", "förbundskoden 'SÖDRA'"),
        ("SODRA_AVESTA_deltagare_1999.csv", "året 1999"),
        ("deltagare.xlsx", "ska ha fyra delar"),
    ],
)
def test_names_breaking_the_rule_give_their_reason(name, reason):
    with pytest.raises(NameError_) as failure:
        parse_file_name(name)
    assert reason in str(failure.value)


def test_valid_names_and_periods():
    name = parse_file_name("sodra_avesta_deltagare_2016t2.XLSX")
    assert (name.association, name.intervention, name.kind, name.ext) == ("SODRA", "AVESTA", "deltagare", "xlsx")
    assert (name.period.label, str(name.period.start), str(name.period.end)) == ("2016T2", "2016-05-01", "2016-08-31")
    assert str(parse_file_name("SODRA_ALL_budget_2016H2.csv").period.end) == "2016-12-31"
    assert str(parse_file_name("SODRA_ALL_budget_2016-02.csv").period.end) == "2016-02-29"
    assert parse_file_name("SODRA_ALL_insatser_2016.csv").period.label == "2016"
    assert [parse_file_name(f"SODRA_AVESTA_deltagare_2016T2.{ext}").ext for ext in ("xls", "ODS", "Xlsx", "csv")] == [
        "xls",
        "ods",
        "xlsx",
        "csv",
    ]


def test_bad_names_are_reported_and_left_in_the_drop_folder(county):
    bad = county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T4.csv", DATA)
    mismatch = county.deliver("SODRA", "NORR_MORA_deltagare_2016T2.csv", DATA)
    future = county.deliver("SODRA", "SODRA_AVESTA_deltagare_2027T1.csv", DATA)
    summary = county.process()["SODRA"]
    messages = "\n".join(summary["bad_names"])
    assert "perioden '2016T4' följer inte regeln" in messages
    assert "filen ligger i mappen SODRA men filnamnet anger förbundet NORR" in messages
    assert "perioden 2027T1 har inte börjat än" in messages
    assert summary["landed"] == 0 and bad.exists() and mismatch.exists() and future.exists()
    events = [json.loads(line) for line in (county.settings.raw / "SODRA" / "_events.jsonl").read_text().splitlines()]
    assert sorted(e["event"] for e in events) == ["rejected_name"] * 3
    county.load()
    assert county.query("select count(*) from meta.delivery_events where event = 'rejected_name'") == [(3,)]
    assert county.query("select count(*) from meta.load_ledger") == [(0,)]


def test_unknown_association_folder_is_reported(county):
    county.deliver("OKAND", "OKAND_X_deltagare_2016T2.csv", DATA)
    assert unknown_drop_folders(county.settings, county.registry) == ["OKAND"]
    assert all(s["found"] == 0 for s in county.process().values())
    assert (county.landing / "OKAND" / "OKAND_X_deltagare_2016T2.csv").exists()


def test_unknown_intervention_is_reported_not_guessed(county):
    """Not in the register: quarantined, with the registered codes to choose from; nothing of it is
    loaded, so a mistyped code never becomes a second intervention (fault run, item 1)."""
    county.deliver_register("SODRA", interventions=("AVESTA",))
    county.deliver("SODRA", "SODRA_OKAND_deltagare_2016T2.csv", DATA)
    county.process()
    county.load()
    status = dict(county.query("select file_name, status from meta.load_ledger"))
    assert status["SODRA_OKAND_deltagare_2016T2.csv"] == "quarantined"
    messages = [
        m
        for (m,) in county.query(
            "select message_sv from meta.validation_results v join meta.load_ledger l using (delivery_id) "
            "where l.file_name = 'SODRA_OKAND_deltagare_2016T2.csv'"
        )
    ]
    assert any("finns inte i förbundets insatsregister" in (m or "") for m in messages)
    assert county.query("select count(*) from raw.deltagare where intervention_code = 'OKAND'") == [(0,)]


def test_same_bytes_twice_are_recognised(county):
    county.deliver_register("SODRA")
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", DATA)
    county.process()
    again = county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", DATA)
    summary = county.process()["SODRA"]
    assert summary["duplicates"] == 1 and summary["landed"] == 0 and not again.exists()
    # the same bytes for another period are another delivery (an unchanged file re-sent next period)
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T3.csv", DATA)
    assert county.process()["SODRA"]["landed"] == 1
    county.load()
    assert county.query("select count(*) from meta.load_ledger") == [(3,)]
    assert county.query("select count(*) from raw.deltagare") == [(4,)]
    assert county.query("select count(*) from meta.delivery_events where event = 'duplicate'") == [(1,)]
    # a later, different delivery for the same period is landed (supersession is dbt's)
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", csv_bytes(HEADER, ROWS[:1]))
    assert county.process()["SODRA"]["landed"] == 1


def test_files_in_transfer_and_lock_files_are_not_deliveries_yet(county):
    for name in (
        "SODRA_AVESTA_deltagare_2016T2.csv.part",
        "~$SODRA_AVESTA_deltagare_2016T2.xlsx",
        ".SODRA_AVESTA_deltagare_2016T2.csv",
        "SODRA_AVESTA_deltagare_2016T2.csv.crdownload",
    ):
        county.deliver("SODRA", name, DATA)
    assert find_files(county.landing, "SODRA") == []
