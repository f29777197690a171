"""`finsam forget`: a person who withdraws consent disappears from the raw copies, the quarantine,
the warehouse and the published marts, the erasure is recorded without the number, and no later
run brings the person back."""

from __future__ import annotations

import io
import random

import duckdb
import pytest
from fixtures.county import TEST_SECRET, county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import DELTAGARE_HEADER, csv_bytes, make_pnr, write_xlsx

from ingestion.cli import main
from ingestion.core import rawzone
from ingestion.core.rawzone import all_landed
from ingestion.intake import pseudonymize as pz

pytestmark = [pytest.mark.dbt]

RNG = random.Random(2024)
PERSON = make_pnr(RNG, year=1984)
OTHERS = [make_pnr(RNG) for _ in range(6)]
KEY = pz.person_key(TEST_SECRET.encode(), PERSON)


def row(pnr="", ident="", kon="K", start="2016-02-01", **extra) -> list[str]:
    values = dict(
        deltagar_id=ident,
        personnummer=pnr,
        kon=kon,
        fodelsear="1984",
        kommun="2084",
        startdatum=start,
        forsorjning_fore="FBS",
        **extra,
    )
    return [values.get(c, "") for c in DELTAGARE_HEADER]


def keys_in_parquet(path) -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{path}') where person_key = '{KEY}'").fetchall()[0][0]


def tables_with_key(database, key: str) -> list[str]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.columns where column_name = 'person_key'"
        ).fetchall()
        return [
            f"{s}.{t}"
            for s, t in tables
            if con.execute(f'select count(*) from "{s}"."{t}" where person_key = ?', [key]).fetchone()[0]
        ]
    finally:
        con.close()


@pytest.fixture
def no_rebuild(monkeypatch):
    """dbt build + publish after an erasure is tested once (the first test); elsewhere it is skipped."""
    monkeypatch.setattr("ingestion.forget._rebuild", lambda settings: "ombyggnad hoppades över (test)")


@pytest.fixture
def loaded(county):
    """The person in two associations (10- and 12-digit forms), accepted and quarantined deliveries.

    Intervention NYSTART, not AVESTA: the dbt project reconciles SODRA/AVESTA against real figures."""
    county.deliver_register("SODRA", interventions=("NYSTART", "KRAFTEN"))
    county.deliver_register("NORR", interventions=("MORA",), kommun="2062")
    ten = f"{PERSON[2:8]}-{PERSON[8:]}"
    county.deliver(
        "SODRA",
        "SODRA_NYSTART_deltagare_2016T2.csv",
        csv_bytes(DELTAGARE_HEADER, [row(ten), row(ten, start="2016-04-01"), *[row(p) for p in OTHERS[:3]]]),
    )
    # quarantined (kön 'Q' is no code): kept as a pseudonymised copy
    county.deliver(
        "SODRA",
        "SODRA_KRAFTEN_deltagare_2016T2.csv",
        csv_bytes(DELTAGARE_HEADER, [row(PERSON, kon="Q"), row(OTHERS[3])]),
    )
    path = county.landing / "NORR" / "NORR_MORA_deltagare_2016T2.xlsx"
    write_xlsx(path, DELTAGARE_HEADER, [row(PERSON), row(OTHERS[4]), row(OTHERS[5])], sheet="deltagare")
    county.process()
    county.load()
    assert county.query("select count(*) from raw.deltagare where person_key = ?", [KEY]) == [(3,)]
    return county


def test_forget_by_personnummer_erases_everywhere_and_records_it(loaded, monkeypatch, capsys):
    county = loaded
    monkeypatch.setattr("sys.stdin", io.StringIO(PERSON + "\n"))  # not on the command line
    assert main(["forget"]) == 0
    out = capsys.readouterr().out
    assert f"nyckel {KEY[:8]}…" in out and "4 rader ur råzonen (3 leveranser)" in out
    assert "1 ur karantänen" in out and "3 ur datalagret" in out
    assert PERSON not in out and PERSON[2:] not in out and KEY not in out

    assert KEY in rawzone.read_erased_keys(county.settings.raw / "_erased_keys.txt")
    for landed in all_landed(county.settings):
        data = landed.directory / "data.parquet"
        if data.exists() and landed.manifest["kind"] == "deltagare":
            assert keys_in_parquet(data) == 0
    touched = [l for l in all_landed(county.settings) if l.manifest.get("erasures")]
    assert len(touched) == 3 and all(l.manifest["erasures"][0]["rows"] in (1, 2) for l in touched)
    copy = county.settings.quarantine / "SODRA" / "SODRA_KRAFTEN_deltagare_2016T2.csv.pseudonymiserad.csv"
    assert copy.exists() and KEY not in copy.read_text(encoding="utf-8")
    assert tables_with_key(county.settings.warehouse, KEY) == []
    # Not even in freed pages: the warehouse file was rewritten without the person (fault run, item 11).
    assert KEY.encode() not in county.settings.warehouse.read_bytes()
    erasures = county.query("select person_key_prefix, rows_removed_raw, rows_removed_warehouse from meta.erasures")
    assert erasures == [(KEY[:8], 4, 3)]
    assert county.query("select count(*) from raw.deltagare") == [(5,)]  # the others stay
    snapshot = county.settings.publish / "finsam_marts.duckdb"
    if (county.settings.dbt_project / "dbt_project.yml").exists():
        assert "ombyggda utan personen" in out, out
        assert snapshot.exists() and tables_with_key(snapshot, KEY) == []
        for parquet in (county.settings.publish / "parquet").glob("*.parquet"):
            columns = duckdb.sql(f"select * from read_parquet('{parquet}') limit 0").columns
            if "person_key" in columns:
                assert keys_in_parquet(parquet) == 0, parquet.name


def test_erasure_leaves_no_bytes_of_the_person_in_the_warehouse_file(loaded, no_rebuild):
    county = loaded
    assert KEY.encode() in county.settings.warehouse.read_bytes()  # the key is there, in plain bytes
    assert main(["forget", KEY]) == 0
    assert KEY.encode() not in county.settings.warehouse.read_bytes()  # not left behind in freed pages
    assert county.query("select count(*) from raw.deltagare") == [(5,)]  # the others intact


def test_a_later_run_does_not_bring_the_person_back(loaded, no_rebuild, capsys):
    county = loaded
    assert main(["forget", f"{PERSON[2:8]}-{PERSON[8:]}"]) == 0
    original = csv_bytes(
        DELTAGARE_HEADER,
        [
            row(f"{PERSON[2:8]}-{PERSON[8:]}"),
            row(f"{PERSON[2:8]}-{PERSON[8:]}", start="2016-04-01"),
            *[row(p) for p in OTHERS[:3]],
        ],
    )
    county.deliver("SODRA", "SODRA_NYSTART_deltagare_2016T2.csv", original)  # the same bytes again
    county.deliver(
        "SODRA",
        "SODRA_NYSTART_deltagare_2016T3.csv",
        csv_bytes(DELTAGARE_HEADER, [row(PERSON), row(OTHERS[0]), row(OTHERS[1], start="2016-06-01")]),
    )  # a new delivery with the person
    summary = county.process()["SODRA"]
    assert summary["duplicates"] == 1 and summary["landed"] == 1
    new = next(l for l in all_landed(county.settings, "SODRA") if l.manifest["file_name"].endswith("2016T3.csv"))
    notes = [n for n in new.notes() if n.check == "samtycke_aterkallat"]
    assert notes and "en person som har återkallat sitt samtycke togs bort" in notes[0].message_sv
    assert new.manifest["rows_kept"] == 2 and new.manifest["rows_dropped"] == 1
    county.load()
    assert county.query("select count(*) from raw.deltagare where person_key = ?", [KEY]) == [(0,)]
    # The warehouse rebuilt from the raw zone alone (its source of truth) has no trace either.
    county.settings.warehouse.unlink()
    county.load()
    assert county.query("select count(*) from raw.deltagare where person_key = ?", [KEY]) == [(0,)]
    assert county.query("select count(*) from raw.deltagare") == [(7,)]


def test_forget_by_key_replaces_a_quarantined_original(county, no_rebuild, capsys):
    """A file without personnummer is quarantined as delivered; forgetting someone in it leaves
    only its pseudonymised copy, without the person."""
    county.deliver_register("NORR", interventions=("MORA",), kommun="2062")
    county.deliver(
        "NORR",
        "NORR_MORA_deltagare_2016T2.csv",
        csv_bytes(DELTAGARE_HEADER, [row(ident="M-1", kon="Q"), row(ident="M-2")]),
    )
    county.process()
    county.load()
    quarantine = county.settings.quarantine / "NORR"
    assert (quarantine / "NORR_MORA_deltagare_2016T2.csv").exists()
    key = pz.pseudonym_key(TEST_SECRET.encode(), "NORR", "M-1")
    assert main(["forget", key]) == 0
    assert "1 rader ur råzonen" in capsys.readouterr().out
    assert not (quarantine / "NORR_MORA_deltagare_2016T2.csv").exists()
    copy = (quarantine / "NORR_MORA_deltagare_2016T2.csv.pseudonymiserad.csv").read_text(encoding="utf-8")
    assert key not in copy and pz.pseudonym_key(TEST_SECRET.encode(), "NORR", "M-2") in copy
    assert "M-1" not in copy and "M-2" not in copy


def test_forget_refuses_what_names_no_person_without_echoing_it(county, capsys):
    bad = f"{PERSON[:8]}-{PERSON[8:11]}{(int(PERSON[-1]) + 1) % 10}"
    assert main(["forget", bad]) == 1
    captured = capsys.readouterr()
    assert "varken ett giltigt personnummer" in captured.err
    assert bad not in captured.err + captured.out and PERSON[:8] not in captured.err + captured.out
    assert not (county.settings.raw / "_erased_keys.txt").exists()


def test_forget_twice_is_harmless(loaded, no_rebuild, capsys):
    assert main(["forget", PERSON]) == 0
    assert main(["forget", PERSON]) == 0
    assert "0 rader ur råzonen" in capsys.readouterr().out
    assert loaded.query(
        "select rows_removed_raw, rows_removed_warehouse from meta.erasures order by erased_at, rows_removed_raw desc"
    ) == [(4, 3), (0, 0)]
