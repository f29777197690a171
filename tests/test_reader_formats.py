"""The formats owners have: .xls (Excel 97–2003) and .ods read like .xlsx, the data sheet found
behind an instructions sheet, header cells with notes and line breaks, and an age at start
instead of a birth year. Every fixture is written here, by the writers owners' programs use
(xlwt for .xls, odfpy through pandas for .ods, openpyxl for .xlsx)."""

from __future__ import annotations

import random
import struct
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from fixtures.county import county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import DELTAGARE_HEADER, csv_bytes, deltagare_rows, make_pnr, zip_bomb

from ingestion.core.contract import load_contract
from ingestion.intake import readers
from ingestion.intake.normalize import read_delivery
from ingestion.intake.readers import UnreadableFile, header_name, locate_header, read_cells
from ingestion.warehouse.schema import kind_columns

SECRET = b"unit-test-secret"
LIMITS = dict(max_bytes=300 * 1024 * 1024, max_unzipped=1024 * 1024 * 1024)
FORMATS = ("xlsx", "xls", "ods")


# ---------------------------------------------------------------- writers


def write_xlsx(path: Path, sheets: list[tuple[str, list[list]]], hidden: tuple[str, ...] = ()) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        if name in hidden:
            ws.sheet_state = "hidden"
        for row in rows:
            ws.append([None if v == "" else v for v in row])
    wb.save(path)
    return path


def write_xls(path: Path, sheets: list[tuple[str, list[list]]], hidden: tuple[str, ...] = ()) -> Path:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for name, rows in sheets:
        ws = wb.add_sheet(name)
        if name in hidden:
            ws.visibility = 1
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, (date, datetime)):
                    ws.write(r, c, value, day)
                else:
                    ws.write(r, c, value)
    wb.save(str(path))
    return path


def write_ods(path: Path, sheets: list[tuple[str, list[list]]], hidden: tuple[str, ...] = ()) -> Path:
    assert not hidden, "pandas' odf writer cannot hide a sheet"
    with pd.ExcelWriter(path, engine="odf") as writer:
        for name, rows in sheets:
            pd.DataFrame(rows, dtype=object).to_excel(writer, sheet_name=name, header=False, index=False)
    return path


WRITERS = {"xlsx": write_xlsx, "xls": write_xls, "ods": write_ods}


def workbook(tmp_path: Path, fmt: str, sheets: list[tuple[str, list[list]]], name: str = "f", **kwargs) -> Path:
    return WRITERS[fmt](tmp_path / f"{name}.{fmt}", sheets, **kwargs)


def read(path: Path, kind: str = "deltagare"):
    return read_delivery(path, kind, "SODRA", SECRET, **LIMITS)


def values(result, *columns) -> list[list]:
    return result.frame[list(columns)].astype(object).where(result.frame[list(columns)].notna(), None).values.tolist()


# ---------------------------------------------------------------- the same rows in every format

CANONICAL = make_pnr(random.Random(11), year=1985)
TYPED_HEADER = [
    "deltagar_id",
    "personnummer",
    "kon",
    "fodelsear",
    "kommun",
    "startdatum",
    "slutdatum",
    "forsorjning_fore",
    "omfattning_efter",
    "anonym",
]
TYPED_ROWS = [  # real numbers and dates, as a spreadsheet program stores them
    ["D-1", "", "Kvinna", 1980, 2084, date(2016, 2, 1), "", "Försörjningsstöd", "", ""],
    ["", CANONICAL, "M", "", "Hedemora", date(2016, 3, 15), date(2016, 6, 1), "AKS, FBS", 50, "Nej"],
    ["", "", "K", 1991, "2082", "20160405", "", "ek. bistånd", "", "Ja"],
    ["", "", "", "", "", "", "", "", "", ""],  # a blank row, reported as skipped
    ["D-4", "", "man", "1 975", 2083, "2016-04-30", "30/6 2016", "AKS+FBS", "100 %", ""],
]
TITLE = [["Deltagare i Avesta"], ["Uttag 2016-09-01"]]


@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_typed_cells_read_to_the_same_rows_as_xlsx(tmp_path, fmt):
    sheets = [("deltagare", TITLE + [TYPED_HEADER] + TYPED_ROWS)]
    expected = read(workbook(tmp_path, "xlsx", sheets))
    result = read(workbook(tmp_path, fmt, sheets))
    pd.testing.assert_frame_equal(result.frame, expected.frame)
    assert (result.rows_read, result.rows_dropped, result.had_personnummer) == (5, 1, True)
    assert [n.message_sv for n in result.notes] == [n.message_sv for n in expected.notes]
    assert list(result.frame["source_row"]) == [4, 5, 6, 8]  # the spreadsheet's own row numbers
    assert values(
        result, "kon", "fodelsear", "kommun", "startdatum", "slutdatum", "forsorjning_fore", "omfattning_efter"
    ) == [
        ["K", "1980", "2084", "2016-02-01", None, "FBS", None],
        ["M", CANONICAL[:4], "2083", "2016-03-15", "2016-06-01", "AKS+FBS", "50"],
        ["K", "1991", "2082", "2016-04-05", None, "FBS", None],
        ["M", "1975", "2083", "2016-04-30", "2016-06-30", "AKS+FBS", "100"],
    ]


@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_an_owners_export_reads_to_the_same_cells_and_rows_as_xlsx(tmp_path, fmt):
    rows = deltagare_rows(300, seed=5)
    sheets = [("Blad1", [["Samordningsförbundet Södra Dalarna"], DELTAGARE_HEADER] + rows)]
    xlsx, other = workbook(tmp_path, "xlsx", sheets), workbook(tmp_path, fmt, sheets)
    pd.testing.assert_frame_equal(read_cells(other, "deltagare", **LIMITS), read_cells(xlsx, "deltagare", **LIMITS))
    result = read(other)
    pd.testing.assert_frame_equal(result.frame, read(xlsx).frame)
    assert len(result.frame) == 300 and result.frame["person_key"].notna().sum() > 200


def test_xls_and_ods_deliveries_go_through_the_pipeline(county):
    county.deliver_register("SODRA")
    for fmt, intervention in (("xls", "AVESTA"), ("ods", "KRAFTEN")):
        path = workbook(county.landing, fmt, [("Instruktioner", INSTRUCTIONS), ("Data", DATA)], name=f"x_{fmt}")
        county.deliver("SODRA", f"SODRA_{intervention}_deltagare_2016T2.{fmt}", path)
        path.unlink()
    summary = county.process()["SODRA"]
    assert summary["bad_names"] == [] and summary["quarantined"] == []
    assert summary["accepted"] == 3  # the register and both workbooks
    county.load()
    assert county.query(
        "select intervention_code, source_row, kon, fodelsear, startdatum from raw.deltagare order by 1, 2"
    ) == [
        ("AVESTA", 3, "K", 1980, date(2016, 5, 2)),
        ("AVESTA", 4, "M", 1975, date(2016, 6, 1)),
        ("KRAFTEN", 3, "K", 1980, date(2016, 5, 2)),
        ("KRAFTEN", 4, "M", 1975, date(2016, 6, 1)),
    ]


# ---------------------------------------------------------------- which sheet

INSTRUCTIONS = [
    ["Så här fyller du i listan"],
    [""],
    ["Kön: K, M eller X"],
    ["Födelseår – fyra siffror"],
    ["Startdatum: ÅÅÅÅ-MM-DD"],
    ["Skicka filen till länet senast 15 dagar efter perioden."],
]
CODES = [["kod", "benämning"], ["FBS", "försörjningsstöd"], ["AKS", "aktivitetsstöd"]]
DATA = [
    ["Deltagare, tertial 2"],
    ["Löpnummer", "Kön", "Födelseår", "Kommun", "Startdatum", "Försörjning vid start"],
    ["D-1", "K", 1980, 2084, date(2016, 5, 2), "FBS"],
    ["D-2", "M", 1975, 2083, date(2016, 6, 1), "AKS"],
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_data_sheet_is_found_behind_instruction_sheets(tmp_path, fmt):
    path = workbook(
        tmp_path,
        fmt,
        [
            ("Instruktioner", INSTRUCTIONS),
            ("Läs mig", [["Frågor?", "Ring Anna"]]),
            ("Data 2016", DATA),
            ("Koder", CODES),
        ],
    )
    result = read(path)
    assert values(result, "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore") == [
        ["K", "1980", "2084", "2016-05-02", "FBS"],
        ["M", "1975", "2083", "2016-06-01", "AKS"],
    ]
    assert list(result.frame["source_row"]) == [3, 4]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_sheet_named_after_the_kind_wins_over_a_better_header(tmp_path, fmt):
    full = [DELTAGARE_HEADER] + deltagare_rows(3, seed=2)
    named = [["kon", "fodelsear", "startdatum"], ["K", 1999, "2016-02-01"]]
    result = read(workbook(tmp_path, fmt, [("Allt", full), ("Deltagare", named)]))
    assert values(result, "kon", "fodelsear", "startdatum") == [["K", "1999", "2016-02-01"]]


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_a_hidden_sheet_is_never_picked_for_its_header(tmp_path, fmt):
    old = [DELTAGARE_HEADER] + deltagare_rows(3, seed=3)
    visible = [["kon", "fodelsear", "startdatum"], ["M", 1988, "2016-03-01"]]
    result = read(
        workbook(
            tmp_path, fmt, [("Instruktioner", INSTRUCTIONS), ("Gammal", old), ("Blad3", visible)], hidden=("Gammal",)
        )
    )
    assert values(result, "kon", "fodelsear", "startdatum") == [["M", "1988", "2016-03-01"]]


def test_equal_headers_the_first_sheet_wins_and_no_header_names_the_first_sheet(tmp_path):
    first = [["kon", "fodelsear"], ["K", 1970]]
    second = [["kon", "fodelsear"], ["M", 1980]]
    assert values(read(workbook(tmp_path, "xlsx", [("A", first), ("B", second)])), "kon") == [["K"]]
    path = workbook(tmp_path, "xlsx", [("Instruktioner", INSTRUCTIONS), ("Blad2", [["a", "b"], ["1", "2"]])], name="g")
    with pytest.raises(UnreadableFile, match="ingen rubrikrad hittades"):
        read(path)


def test_only_the_first_rows_of_each_sheet_are_scanned(tmp_path, monkeypatch):
    deep = [[f"titel {i}"] for i in range(5)] + DATA[1:]
    path = workbook(tmp_path, "xlsx", [("Instruktioner", INSTRUCTIONS), ("Data", deep)])
    assert read_cells(path, "deltagare", **LIMITS).iloc[5, 1] == "Kön"  # the header on row 6 picks Data
    monkeypatch.setattr(readers, "MAX_HEADER_SCAN", 4)
    assert read_cells(path, "deltagare", **LIMITS).iloc[0, 0] == "Så här fyller du i listan"  # the first sheet


# ---------------------------------------------------------------- header cells with notes


@pytest.mark.parametrize(
    "cell, column",
    [
        ("Försörjning\n(vid start)", "forsorjning_fore"),
        ("Försörjning vid avslut\n(om avslutad)", "forsorjning_efter"),
        ("Försörjning vid start – enligt kodlistan", "forsorjning_fore"),
        ("Kön *", "kon"),
        ("Kön, K eller M", "kon"),
        ("Startdatum (ÅÅÅÅ-MM-DD)", "startdatum"),
        ("Startdatum ÅÅÅÅ-MM-DD", "startdatum"),
        ("Födelseår – fyra siffror", "fodelsear"),
        ("Remittent: vem skickade deltagaren", "remittent"),
        ("Ålder vid start (år)", "alder"),
        ("Utbildningsnivå vid start", "utbildning"),  # a short word in the note ('start') names nothing
        ("Försörjning", None),  # begins both försörjning columns' headers
        ("Försörjning (enligt kodlista)", None),
        ("Försörjning enligt kodlista", None),
        ("ID-nummer (personnummer)", None),  # 'id' would be deltagar_id, but the note names another column
        ("Deltagare födelseår", None),
        ("Anteckningar", None),
    ],
)
def test_header_cells_with_notes_and_line_breaks(cell, column):
    assert header_name(cell, load_contract().header_map("deltagare")) == column


@pytest.mark.parametrize(
    "cell, column",
    [
        ("Utfall till och med 2016-06-30", "period_slut"),  # the longest known beginning wins
        ("Utfall hittills i år", "utfall"),
        ("Utfall 2016", None),  # 'utfall' also begins period_slut's 'utfall till och med'
        ("Utfall t.o.m. juni", None),  # 't.o.m.' names period_slut
    ],
)
def test_a_beginning_shared_by_two_columns_is_not_guessed(cell, column):
    assert header_name(cell, load_contract().header_map("budget")) == column


def test_an_exact_header_takes_its_column_before_a_loose_one():
    cells = pd.DataFrame([["Kön, enligt kodlistan", "Kön", "Startdatum"]], dtype="string")
    assert locate_header(cells, "deltagare") == (0, {1: "kon", 2: "startdatum"})
    cells = pd.DataFrame([["Kön, enligt kodlistan", "Födelseår", "Startdatum"]], dtype="string")
    assert locate_header(cells, "deltagare") == (0, {0: "kon", 1: "fodelsear", 2: "startdatum"})


def test_header_matching_is_memoised(monkeypatch):
    calls = []
    original = readers._header_match

    def counted(value, header_map):
        calls.append(value)
        return original(value, header_map)

    monkeypatch.setattr(readers, "_header_match", counted)
    monkeypatch.setattr(readers, "_HEADER_NAMES", {})
    cells = pd.DataFrame(
        [["Kön *", "Födelseår – fyra siffror", "Startdatum (ÅÅÅÅ-MM-DD)"], ["K", "1980", "x"]], dtype="string"
    )
    for _ in range(3):
        assert locate_header(cells, "deltagare") == (0, {0: "kon", 1: "fodelsear", 2: "startdatum"})
    assert sorted(calls) == sorted(["Kön *", "Födelseår – fyra siffror", "Startdatum (ÅÅÅÅ-MM-DD)", "K", "1980", "x"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_with_noted_headers_is_read(tmp_path, fmt):
    header = [
        "Löpnummer",
        "Kön *",
        "Födelseår – fyra siffror",
        "Kommun",
        "Startdatum (ÅÅÅÅ-MM-DD)",
        "Försörjning\n(vid start)",
        "Remittent: vem skickade deltagaren",
    ]
    rows = [["D-1", "K", 1980, 2084, date(2016, 2, 1), "FBS", "Arbetsförmedlingen"]]
    result = read(workbook(tmp_path, fmt, [("Blad1", [header] + rows)]))
    assert values(result, "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore", "remittent") == [
        ["K", "1980", "2084", "2016-02-01", "FBS", "AF"]
    ]
    assert not [n for n in result.notes if n.check == "okanda_kolumner"]


# ---------------------------------------------------------------- age at start instead of birth year

AGE_HEADER = ["Anonym", "Kön", "Ålder", "Kommun", "Startdatum", "Försörjning vid start", "Personnummer", "Födelseår"]
AGE_ROWS = [
    ["Ja", "K", 34, 2084, date(2016, 2, 1), "FBS", "", ""],  # 2016 − 34
    ["Ja", "M", "19", 2083, "2016-12-31", "AKS", "", ""],  # 2016 − 19
    ["Ja", "M", 40, 2083, "", "AKS", "", ""],  # no start date: no birth year
    ["Ja", "K", "okänd", 2082, "2016-03-01", "AKS", "", ""],  # no age: no birth year
    ["", "K", 30, 2082, "2016-03-01", "AKS", CANONICAL, ""],  # the personnummer wins
    ["Ja", "K", 30, 2082, "2016-03-01", "AKS", "", 1990],  # a given birth year wins
]


@pytest.mark.parametrize("fmt", ["xls", "xlsx"])
def test_age_at_start_gives_the_birth_year(tmp_path, fmt):
    result = read(workbook(tmp_path, fmt, [("Anonyma", [AGE_HEADER] + AGE_ROWS)]))
    assert values(result, "fodelsear") == [["1982"], ["1997"], [None], [None], [CANONICAL[:4]], ["1990"]]
    assert values(result, "alder")[:2] == [["34"], ["19"]]
    assert not result.notes


def test_age_stays_out_of_the_warehouse_and_satisfies_the_birth_year_rule(county):
    rows = [r for r in AGE_ROWS if r[4] and r[2] != "okänd"]
    county.deliver_register("SODRA")
    county.deliver(
        "SODRA",
        "SODRA_AVESTA_deltagare_2016.xls",
        write_xls(county.landing / "a.xls", [("Blad1", [AGE_HEADER] + rows)]).read_bytes(),
    )
    summary = county.process()["SODRA"]
    assert summary["quarantined"] == [] and summary["accepted"] == 2
    county.load()
    assert "alder" not in [name for name, _ in kind_columns("deltagare")]
    columns = [
        c
        for (c,) in county.query(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'deltagare'"
        )
    ]
    assert "fodelsear" in columns and "alder" not in columns
    assert county.query("select fodelsear from raw.deltagare order by source_row") == [
        (1982,),
        (1997,),
        (int(CANONICAL[:4]),),
        (1990,),
    ]


# ---------------------------------------------------------------- refused, in Swedish, quickly


def _biff(records_of) -> bytes:
    """xlwt's Workbook stream (BIFF8 records) for a small deltagare sheet, patched by `records_of`."""
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("deltagare")
    for c, value in enumerate(["kon", "fodelsear", "startdatum"]):
        ws.write(0, c, value)
    for c, value in enumerate(["K", 1980, "2016-02-01"]):
        ws.write(1, c, value)
    return records_of(bytearray(wb.get_biff_data()))


def _records(data: bytes):
    pos = 0
    while pos + 4 <= len(data):
        typ, length = struct.unpack_from("<HH", data, pos)
        yield pos, typ, length
        pos += 4 + length


def _with_filepass(data: bytearray) -> bytes:
    """Excel 97–2003's 'Kryptera med lösenord': a FILEPASS record (RC4) in the workbook globals."""
    pos, _, length = next(r for r in _records(data) if r[1] == 0x005C)  # in place of WRITEACCESS
    data[pos : pos + 4 + length] = struct.pack("<HHHHH", 0x002F, length, 1, 2, 2) + bytes(length - 6)
    return bytes(data)


def _lying_dimensions(data: bytearray) -> bytes:
    """A sheet whose DIMENSIONS record declares 65 536 rows × 256 columns (17 million cells)."""
    pos, _, length = next(r for r in _records(data) if r[1] == 0x0200)
    data[pos + 4 : pos + 4 + length] = struct.pack("<IIHHH", 0, 65536, 0, 256, 0)
    return bytes(data)


def ole(path: Path, stream: bytes, rename: str | None = None) -> Path:
    from xlwt.CompoundDoc import XlsDoc

    with open(path, "wb") as handle:
        XlsDoc().save(handle, stream)
    if rename:  # another stream name of the same length, in the directory entry
        data = path.read_bytes()
        assert data.count("Workbook".encode("utf-16-le")) == 1
        path.write_bytes(data.replace("Workbook".encode("utf-16-le"), rename.encode("utf-16-le")))
    return path


def far_cells_xls(path: Path) -> Path:
    """A small data sheet and a second sheet with two cells 60 000 rows and 200 columns apart."""
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("deltagare")
    for c, value in enumerate(["kon", "fodelsear"]):
        ws.write(0, c, value)
        ws.write(1, c, ["K", 1980][c])
    far = wb.add_sheet("Skräp")
    far.write(0, 0, "a")
    far.write(60000, 200, "b")
    wb.save(str(path))
    return path


def rezip(source: Path, target: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, replace.get(info.filename, old.read(info.filename)))
    return target


def ods_with_sheet(path: Path, rows_xml: str, before: bytes = b"") -> Path:
    """A valid .ods: a small deltagare sheet, then a sheet 'Skräp' whose rows are `rows_xml`
    (and `before`, e.g. a DTD, after the XML declaration)."""
    source = write_ods(
        path.with_suffix(".tmp.ods"), [("deltagare", [["kon", "fodelsear"], ["K", 1980]]), ("Skräp", [["x"]])]
    )
    content = zipfile.ZipFile(source).read("content.xml")
    start = content.index(b'<table:table table:name="Skr')
    end = content.index(b"</table:table>", start) + len(b"</table:table>")
    sheet = f'<table:table table:name="Skräp">{rows_xml}</table:table>'.encode()
    content = content[:start] + sheet + content[end:]
    declaration = content.index(b"?>") + 2  # `before` goes after the XML declaration
    return rezip(source, path, {"content.xml": content[:declaration] + before + content[declaration:]})


def ods_repeat_bomb(path: Path) -> Path:
    """2 000 rows × 5 300 filled columns in a few hundred bytes."""
    return ods_with_sheet(
        path,
        '<table:table-row table:number-rows-repeated="2000"><table:table-cell '
        'office:value-type="string" table:number-columns-repeated="5300"><text:p>x</text:p>'
        "</table:table-cell></table:table-row>",
    )


FAR_CELL = (
    '<table:table-row><table:table-cell office:value-type="string"><text:p>a</text:p></table:table-cell>'
    "</table:table-row>"
    '<table:table-row table:number-rows-repeated="1000">'
    '<table:table-cell table:number-columns-repeated="11000"/></table:table-row>'
    '<table:table-row><table:table-cell table:number-columns-repeated="11000"/>'
    '<table:table-cell office:value-type="string"><text:p>b</text:p></table:table-cell></table:table-row>'
)


def encrypted_ods(path: Path) -> Path:
    source = write_ods(path.with_suffix(".tmp.ods"), [("deltagare", [["kon", "fodelsear"], ["K", 1980]])])
    manifest = (
        zipfile.ZipFile(source)
        .read("META-INF/manifest.xml")
        .replace(
            b"</manifest:manifest>",
            b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
            b'<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="x"/></manifest:file-entry>'
            b"</manifest:manifest>",
        )
    )
    return rezip(source, path, {"META-INF/manifest.xml": manifest})


def odt(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    return path


def small(fmt: str):
    return lambda p: workbook(p, fmt, [("deltagare", [["kon", "fodelsear"], ["K", 1980]])], name="source")


def renamed(make, name: str):
    def build(p: Path) -> Path:
        target = p / name
        target.write_bytes(make(p).read_bytes())
        return target

    return build


def truncated(make, name: str):
    def build(p: Path) -> Path:
        data = make(p).read_bytes()
        target = p / name
        target.write_bytes(data[: len(data) // 2])
        return target

    return build


def encrypted_package(path: Path) -> Path:
    """What Excel 2007 and later write for a password, whatever the extension: EncryptedPackage in OLE."""
    path.write_bytes(
        bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 1528 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 2048
    )
    return path


REFUSED = {
    "xls with a password": (lambda p: ole(p / "f.xls", _biff(_with_filepass)), "filen är lösenordsskyddad"),
    "xls with an encrypted package": (lambda p: encrypted_package(p / "f.xls"), "filen är lösenordsskyddad"),
    "ods with a password": (lambda p: encrypted_ods(p / "f.ods"), "filen är lösenordsskyddad"),
    "csv named xls": (
        lambda p: _write(p / "f.xls", csv_bytes(["kon", "fodelsear"], [["K", "1980"]])),
        "filen är inte ett Excel-kalkylblad (.xls) trots filändelsen, utan en textfil (CSV?); "
        "öppna den i Excel och spara den som .xlsx",
    ),
    "html named xls": (
        lambda p: _write(p / "f.xls", b"<html><body><table><tr><td>kon</td></tr></table></html>"),
        "utan en webbsida (HTML)",
    ),
    "pdf named ods": (
        lambda p: _write(p / "f.ods", b"%PDF-1.4\n" + bytes(2000)),
        "filen är inte ett OpenDocument-kalkylblad (.ods) trots filändelsen, utan en PDF-fil",
    ),
    "xlsx named xls": (
        renamed(small("xlsx"), "f.xls"),
        "filen är ett Excel-kalkylblad (.xlsx) men har filändelsen .xls; byt filändelsen till .xlsx",
    ),
    "xlsx named ods": (renamed(small("xlsx"), "f.ods"), "men har filändelsen .ods; byt filändelsen till .xlsx"),
    "ods named xlsx": (
        renamed(small("ods"), "f.xlsx"),
        "filen är ett OpenDocument-kalkylblad (.ods) men har filändelsen .xlsx; byt filändelsen till .ods",
    ),
    "xls named ods": (renamed(small("xls"), "f.ods"), "gamla Excel-formatet (.xls) men har filändelsen .ods"),
    "word document named xls": (
        lambda p: ole(p / "f.xls", _biff(bytes), rename="Document"),
        "filen är ett Office-dokument (t.ex. Word) men inte ett Excel-kalkylblad (.xls)",
    ),
    "text document named ods": (
        lambda p: odt(p / "f.ods"),
        "filen är ett OpenDocument-dokument men inte ett kalkylblad",
    ),
    "zip named ods": (
        lambda p: plain_zip(p / "f.ods"),
        "filen är ett zip-arkiv men inte ett OpenDocument-kalkylblad (.ods)",
    ),
    "truncated xls": (truncated(small("xls"), "f.xls"), "skadad eller avkortad"),
    "truncated ods": (truncated(small("ods"), "f.ods"), "skadad eller avkortad"),
    "zip bomb named ods": (lambda p: zip_bomb(p / "f.ods", 300), "zip-bomb"),
    "ods repeating a cell ten million times": (lambda p: ods_repeat_bomb(p / "f.ods"), "för många celler"),
    "ods with two cells far apart": (lambda p: ods_with_sheet(p / "f.ods", FAR_CELL), "för många celler"),
    "ods with a DTD": (
        lambda p: ods_with_sheet(p / "f.ods", "", before=b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'),
        "content.xml har en DTD",
    ),
    "ods with broken XML": (
        lambda p: ods_with_sheet(p / "f.ods", "<table:table-row>"),
        "content.xml går inte att tolka",
    ),
    "xls with two cells far apart": (lambda p: far_cells_xls(p / "f.xls"), "för många celler"),
    "xls declaring 17 million cells": (lambda p: ole(p / "f.xls", _biff(_lying_dimensions)), "för många celler"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def plain_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data/sheet.xml", "<sheet/>")
    return path


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_workbook_that_cannot_be_read_is_refused_in_swedish(tmp_path, case):
    make, reason = REFUSED[case]
    path = make(tmp_path)
    started = time.perf_counter()
    with pytest.raises(UnreadableFile) as failure:
        read(path)
    assert reason in str(failure.value)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("disguise", ["a comment closing the sheet", "a quoted '>'", "both"])
def test_ods_cells_are_counted_as_xml_reads_them(tmp_path, monkeypatch, disguise):
    """A comment is no element and a quoted '>' ends no tag, for the count as for calamine;
    and a tag cut between two chunks of content.xml is counted once."""
    rows = FAR_CELL
    if disguise != "a quoted '>'":
        rows = rows.replace(
            "</table:table-row><table:table-row table:number-rows-repeated",
            "</table:table-row><!-- </table:table><table:table table:name='x'> -->"
            "<table:table-row table:number-rows-repeated",
        )
    if disguise != "a comment closing the sheet":
        rows = rows.replace(
            "<table:table-row table:number-rows-repeated",
            '<table:table-row table:style-name="a>b" table:number-rows-repeated',
        )
    path = ods_with_sheet(tmp_path / "f.ods", rows)
    monkeypatch.setattr(readers, "ODS_CHUNK", 7)
    with pytest.raises(UnreadableFile, match="för många celler"):
        read(path)
    small_rows = rows.replace("11000", "100")  # the same shapes, a small block: read
    assert values(read(ods_with_sheet(tmp_path / "g.ods", small_rows)), "kon") == [["K"]]


def test_the_sources_of_the_refusals_are_readable_workbooks(tmp_path):
    """The refused files above are broken on purpose: unbroken, the same sources read."""
    for fmt in FORMATS:
        (tmp_path / fmt).mkdir()
        assert values(read(small(fmt)(tmp_path / fmt)), "kon", "fodelsear") == [["K", "1980"]]
    assert values(read(ole(tmp_path / "plain.xls", _biff(bytes))), "kon", "fodelsear") == [["K", "1980"]]
