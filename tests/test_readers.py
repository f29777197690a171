"""Readers: one fixture per format quirk and per failure, each with its exact outcome.

Quirks are read (rows kept, values normalised); failures fail that one delivery with a clear
Swedish reason, quickly and without unpacking bombs, and never the run.
"""

from __future__ import annotations

import os
import random
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from fixtures.county import county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import (
    DELTAGARE_HEADER,
    csv_bytes,
    deltagare_rows,
    lying_zip_bomb,
    make_pnr,
    write_xlsx,
    zip_bomb,
)

from ingestion.intake import pseudonymize as pz
from ingestion.intake.normalize import read_delivery
from ingestion.intake.readers import MAX_HEADER_SCAN, UnreadableFile, read_cells, read_csv_text

SECRET = b"unit-test-secret"
LIMITS = dict(max_bytes=300 * 1024 * 1024, max_unzipped=1024 * 1024 * 1024)
HEADER = ["deltagar_id", "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore"]
ROWS = [
    ["D-1", "Kvinna", "1980", "Avesta", "2016-02-01", "Försörjningsstöd"],
    ["D-2", "man", "1975", "2083", "20160315", "AKS, FBS"],
]


def read(path: Path, kind: str = "deltagare"):
    return read_delivery(path, kind, "SODRA", SECRET, **LIMITS)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def values(result, *columns) -> list[list]:
    return result.frame[list(columns)].astype(object).where(result.frame[list(columns)].notna(), None).values.tolist()


# ---------------------------------------------------------------- CSV quirks


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("cp1252", False)])
@pytest.mark.parametrize("sep", [";", ","])
def test_csv_encodings_and_separators(tmp_path, encoding, bom, sep):
    path = write(tmp_path, "f.csv", csv_bytes(HEADER, ROWS, sep=sep, encoding=encoding, bom=bom))
    result = read(path)
    assert values(result, "kon", "kommun", "startdatum", "forsorjning_fore") == [
        ["K", "2084", "2016-02-01", "FBS"],
        ["M", "2083", "2016-03-15", "AKS+FBS"],
    ]
    assert list(result.frame["source_row"]) == [2, 3]


def test_csv_windows_1252_keeps_swedish_letters_and_dashes(tmp_path):
    header = ["insats_kod", "namn", "inriktning", "matmetod", "startdatum", "huvudman", "agare_epost"]
    rows = [["KRAFTEN", "Kraften – Hedemora åäö", "individ", "person", "2015-01-01", "FK+AF", "a@b.se"]]
    path = write(tmp_path, "f.csv", csv_bytes(header, rows, encoding="cp1252"))
    assert read(path, "insatser").frame.iloc[0]["namn"] == "Kraften – Hedemora åäö"


def test_csv_quoted_fields_with_separators_and_newlines(tmp_path):
    header = ["ar", "period_slut", "radtyp", "rad_text", "budget", "utfall"]
    rows = [
        ["2016", "2016-06-30", "KOSTNAD", "Lön; inkl.\nsociala avgifter", "1 775 000", "880\u00a0000,50"],
        ["2016", "2016-06-30", "KOSTNAD", 'Lokal "Gamla skolan", hyra', "120000", "60 000"],
    ]
    for sep in (";", ","):
        result = read(write(tmp_path, f"f{sep == ','}.csv", csv_bytes(header, rows, sep=sep)), "budget")
        assert values(result, "rad_text", "budget", "utfall") == [
            ["Lön; inkl.\nsociala avgifter", "1775000", "880000.5"],
            ['Lokal "Gamla skolan", hyra', "120000", "60000"],
        ]
        assert list(result.frame["source_row"]) == [2, 3]  # records, not physical lines


def test_csv_title_rows_of_another_width_blank_lines_and_short_total_row(tmp_path):
    text = (
        "Deltagare Samverkansteam Avesta\r\nRapport T2 2016;;\r\n\r\n"
        + ";".join(HEADER)
        + "\r\n"
        + ";".join(ROWS[0])
        + "\r\n\r\n"
        + ";".join(ROWS[1])
        + "\r\nSumma;2\r\n"
    )
    result = read(write(tmp_path, "f.csv", text.encode("utf-8")))
    assert values(result, "kon") == [["K"], ["M"]]
    assert list(result.frame["source_row"]) == [5, 7]
    assert result.rows_dropped == 2
    assert {n.check for n in result.notes} >= {"tomma_rader", "summeringsrad"}


def test_csv_fast_and_general_paths_read_the_same(tmp_path):
    rows = deltagare_rows(300, seed=5)
    even = csv_bytes(DELTAGARE_HEADER, rows, title_rows=["Titel"])
    ragged = even.replace(b"\r\n", b"\r\n\r\n", 1)  # a blank line after the title: general path
    a = read_csv_text(even)
    b = read_csv_text(ragged).drop(index=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        a.drop(index=0).reset_index(drop=True), b.drop(index=0).reset_index(drop=True), check_dtype=False
    )


def test_csv_header_found_below_title_rows_with_synonyms_case_and_accents(tmp_path):
    header = [
        "LÖPNUMMER",
        "Kön",
        "FÖDELSEÅR",
        "Folkbokföringskommun",
        "Inskrivningsdatum (ÅÅÅÅ-MM-DD)",
        "försörjning VID START",
        "Avslutsorsak",
        "Remitterad av",
    ]
    rows = [["7", "K", "1980", "Säter", "2016-01-05", "ek. bistånd", "", "Försäkringskassan"]]
    title = ["Samordningsförbundet", "Deltagare", "Uttag 2016-09-01"]
    result = read(write(tmp_path, "f.csv", csv_bytes(header, rows, title_rows=title)))
    assert values(result, "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore", "remittent") == [
        ["K", "1980", "2082", "2016-01-05", "FBS", "FK"]
    ]
    assert result.frame.iloc[0]["person_key_source"] == "deltagar_id"
    assert result.frame.iloc[0]["source_row"] == 5


def test_csv_utf16_with_bom_is_read(tmp_path):
    result = read(write(tmp_path, "f.csv", csv_bytes(HEADER, ROWS, sep="\t").decode().encode("utf-16")))
    assert values(result, "kon") == [["K"], ["M"]]


# ---------------------------------------------------------------- XLSX quirks


def test_xlsx_merged_title_rows_real_dates_and_numbers_as_text(tmp_path):
    canonical = make_pnr(random.Random(3))
    rows = [
        ["D-1", "", "K", "1980", 2084, datetime(2016, 2, 1), "FBS"],
        ["", int(canonical), "M", 1975, "2083", date(2016, 3, 15), "Försörjningsstöd"],
        ["D-3", "", "K", "1 990", "Avesta", 42551, "AKS+FBS"],
    ]
    header = ["deltagar_id", "personnummer", "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore"]
    path = write_xlsx(tmp_path / "f.xlsx", header, rows, title_rows=["Deltagare Avesta", "Tertial 2, 2016"])
    result = read(path)
    assert values(result, "fodelsear", "kommun", "startdatum", "forsorjning_fore") == [
        ["1980", "2084", "2016-02-01", "FBS"],
        ["1975", "2083", "2016-03-15", "FBS"],
        ["1990", "2084", "2016-06-30", "AKS+FBS"],
    ]
    assert list(result.frame["source_row"]) == [4, 5, 6]  # the Excel row numbers
    assert result.frame.iloc[1]["person_key"] == pz.person_key(SECRET, canonical)


def test_xlsx_sheet_named_after_the_kind_wins_over_the_first(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", HEADER, ROWS, sheet="Deltagare", extra_first_sheet="Instruktioner")
    assert values(read(path), "kon") == [["K"], ["M"]]


def test_xlsx_first_visible_sheet_otherwise(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    hidden = wb.active
    hidden.title, hidden.sheet_state = "Gammalt", "hidden"
    hidden.append(["inget här"])
    sheet = wb.create_sheet("Blad2")
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    wb.create_sheet("Blad3").append(["annat"])
    wb.save(tmp_path / "f.xlsx")
    assert values(read(tmp_path / "f.xlsx"), "kon") == [["K"], ["M"]]


def test_xlsx_streamed_large_sheet(tmp_path):
    rows = deltagare_rows(2000, seed=9)
    path = write_xlsx(tmp_path / "f.xlsx", DELTAGARE_HEADER, rows, sheet="deltagare", write_only=True)
    result = read(path)
    assert len(result.frame) + result.rows_dropped == 2000
    assert result.frame["person_key"].notna().sum() > 1500


# ---------------------------------------------------------------- failures: one delivery, a clear reason


def password_protected(path: Path) -> Path:
    """What Excel writes for a password: an OLE compound file with an EncryptedPackage stream."""
    header = bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 504
    path.write_bytes(header + b"\x00" * 1024 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 2048)
    return path


def truncated_xlsx(tmp_path: Path) -> Path:
    good = write_xlsx(tmp_path / "good.xlsx", HEADER, ROWS)
    data = good.read_bytes()
    return write(tmp_path / "", "f.xlsx", data[: len(data) // 2])


FAILURES = {
    "pdf named xlsx": (lambda p: write(p, "f.xlsx", b"%PDF-1.4\n" + os.urandom(2000)), "inte ett Excel-kalkylblad"),
    "csv named xlsx": (
        lambda p: write(p, "f.xlsx", csv_bytes(HEADER, ROWS)),
        "inte ett Excel-kalkylblad (.xlsx) trots filändelsen, utan en textfil",
    ),
    "xlsx named csv": (
        lambda p: write(p, "f.csv", write_xlsx(p / "x.xlsx", HEADER, ROWS).read_bytes()),
        "en Excel-fil (.xlsx)",
    ),
    "pdf named csv": (lambda p: write(p, "f.csv", b"%PDF-1.4\n" + os.urandom(2000)), "en PDF-fil"),
    "binary named csv": (lambda p: write(p, "f.csv", b"\x00\x01\x02" * 1000), "binär data"),
    "password protected": (lambda p: password_protected(p / "f.xlsx"), "lösenordsskyddad"),
    "old xls": (
        lambda p: write(p, "f.xlsx", bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 4000),
        "gamla Excel-formatet (.xls)",
    ),
    "empty file": (lambda p: write(p, "f.csv", b""), "filen är tom (0 byte)"),
    "empty xlsx file": (lambda p: write(p, "f.xlsx", b""), "filen är tom (0 byte)"),
    "whitespace csv": (lambda p: write(p, "f.csv", b"\xef\xbb\xbf \r\n\r\n  "), "filen är tom"),
    "empty sheet": (lambda p: write_xlsx(p / "f.xlsx", [], []), "är tomt"),
    "header only": (lambda p: write(p, "f.csv", csv_bytes(HEADER, [])), "inga datarader"),
    "no header": (
        lambda p: write(p, "f.csv", csv_bytes(["a", "b", "c"], [["1", "2", "3"]])),
        "ingen rubrikrad hittades",
    ),
    "truncated xlsx": (truncated_xlsx, "skadad eller avkortad"),
    "zip not excel": (
        lambda p: _zip(p / "f.xlsx", {"word/document.xml": "<w/>"}),
        "zip-arkiv men inte ett Excel-kalkylblad",
    ),
    "zip bomb": (lambda p: zip_bomb(p / "f.xlsx", 300), "zip-bomb"),
    "lying zip bomb": (lambda p: lying_zip_bomb(p / "f.xlsx", 50), "skadad (delen xl/worksheets/sheet1.xml"),
    "unsupported type": (lambda p: write(p, "f.txt", b"kon;fodelsear\nK;1980\n"), "filtypen .txt stöds inte"),
}


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_unreadable_file_fails_with_its_reason_quickly(tmp_path, case):
    make, reason = FAILURES[case]
    path = make(tmp_path)
    started = time.perf_counter()
    with pytest.raises(UnreadableFile) as failure:
        read(path)
    assert reason in str(failure.value)
    assert time.perf_counter() - started < 10


def test_several_hundred_megabytes_are_refused_before_reading(tmp_path):
    path = tmp_path / "f.csv"
    with open(path, "wb") as handle:  # a sparse 400 MB file: nothing is written, nothing read
        handle.truncate(400 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(UnreadableFile, match=r"filen är för stor \(400 MB, gränsen är 300 MB\)"):
        read_cells(path, "deltagare", **LIMITS)
    assert time.perf_counter() - started < 1


def test_sheet_beyond_the_unpacked_limit_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", DELTAGARE_HEADER, deltagare_rows(200, seed=1))
    with pytest.raises(UnreadableFile, match="packas upp till orimligt mycket data"):
        read_cells(path, "deltagare", max_bytes=LIMITS["max_bytes"], max_unzipped=10_000)


def test_a_reader_bug_fails_the_delivery_not_the_run(tmp_path, monkeypatch, caplog):
    import ingestion.intake.normalize as nz

    canonical = make_pnr(random.Random(8))

    def broken(*args, **kwargs):
        raise ValueError(f"invalid literal: {canonical}")  # an error message that quotes a cell

    monkeypatch.setattr(nz, "normalise", broken)
    with pytest.raises(UnreadableFile, match="internt fel ValueError") as failure:
        read(write(tmp_path, "f.csv", csv_bytes(HEADER, ROWS)))
    assert canonical not in str(failure.value) and canonical not in caplog.text


def test_unreadable_files_fail_one_delivery_never_the_run(county):
    good = csv_bytes(HEADER, ROWS)
    county.deliver_register("SODRA")
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T1.csv", good)
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.xlsx", b"%PDF-1.4 not a sheet")
    zip_bomb(county.landing / "SODRA" / "SODRA_KRAFTEN_deltagare_2016T2.xlsx", 300)
    county.deliver("SODRA", "SODRA_KRAFTEN_deltagare_2016T1.csv", b"")
    summary = county.process()["SODRA"]
    reasons = {q["file"]: q["reason"] for q in summary["quarantined"]}
    assert summary["accepted"] == 2  # the register and the good file
    assert set(reasons) == {
        "SODRA_AVESTA_deltagare_2016T2.xlsx",
        "SODRA_KRAFTEN_deltagare_2016T2.xlsx",
        "SODRA_KRAFTEN_deltagare_2016T1.csv",
    }
    assert "inte ett Excel-kalkylblad" in reasons["SODRA_AVESTA_deltagare_2016T2.xlsx"]
    assert "zip-bomb" in reasons["SODRA_KRAFTEN_deltagare_2016T2.xlsx"]
    assert "tom" in reasons["SODRA_KRAFTEN_deltagare_2016T1.csv"]
    county.load()
    ledger = dict(county.query("select file_name, status from meta.load_ledger"))
    assert ledger["SODRA_AVESTA_deltagare_2016T1.csv"] == "accepted"
    assert ledger["SODRA_KRAFTEN_deltagare_2016T2.xlsx"] == "quarantined"
    # An unreadable file is never copied into quarantine (it may hold personnummer); its reason is.
    quarantine = county.settings.quarantine / "SODRA"
    assert (quarantine / "SODRA_KRAFTEN_deltagare_2016T2.xlsx.fel.txt").exists()
    assert not (quarantine / "SODRA_KRAFTEN_deltagare_2016T2.xlsx").exists()


def test_header_must_be_within_the_first_rows(tmp_path):
    text = "\n".join(["titel"] * (MAX_HEADER_SCAN + 1) + [";".join(HEADER), ";".join(ROWS[0])])
    with pytest.raises(UnreadableFile, match="ingen rubrikrad"):
        read(write(tmp_path, "f.csv", text.encode()))
