"""Read a delivered .xlsx or .csv into a table of text cells, bounded in time and memory.

Everything is read as text; typing happens in `normalize`. Anything unreadable raises
`UnreadableFile` with a Swedish reason, for that one delivery only.

CSV is parsed by Arrow's multi-threaded CSV reader (columnar, no Python per row). Owners'
files that Arrow cannot take in one go (title rows of another width, blank lines, a short
`Summa` row) are parsed by pandas' C parser instead, and any shape at all by the csv module.
XLSX is read by calamine (Rust). Limits, checked before any parsing: file size, unpacked
size and packing ratio of the zip (zip bombs), cell count of the sheet.
"""
from __future__ import annotations

import csv
import io
import mmap
import re
import zipfile
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .contract import fold, load_contract

MAX_HEADER_SCAN = 30
HEAD_BYTES = 256 * 1024          # the part of a CSV used to sniff separator, width and title rows
MAX_CELLS = 10_000_000           # a sheet larger than this is not an export of one period
MAX_PACKING_RATIO = 200          # unpacked/packed; real sheets stay far below, zip bombs far above
RATIO_CHECK_FROM = 64 * 1024 * 1024
SEPARATORS = (";", ",", "\t")
STRING = pd.StringDtype("pyarrow")


class UnreadableFile(Exception):
    """The file cannot be read as a delivery; the message is Swedish and names the cause."""


# ---------------------------------------------------------------- CSV

def _without_bom(data: bytes) -> bytes:
    """UTF-8 without BOM; UTF-16 (which has a BOM) transcoded to UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data


class _NotUtf8(Exception):
    """The bytes are not UTF-8 (then they are read as Windows-1252)."""


def sniff_delimiter(text: str) -> str:
    """The separator used most outside quotes in the first lines (`;` wins ties: Swedish Excel)."""
    counts = {sep: 0 for sep in SEPARATORS}
    in_quote = False
    lines = 0
    for char in text[:HEAD_BYTES]:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote:
            if char in counts:
                counts[char] += 1
            elif char == "\n":
                lines += 1
                if lines > MAX_HEADER_SCAN:
                    break
    return max(counts, key=lambda sep: (counts[sep], sep == ";"))


def _parse_record(raw: bytes, sep: str) -> list[str]:
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), [])


def _head_records(data: bytes, sep: str) -> tuple[list[list[str]], list[int]]:
    """The first records of the file and the byte offset each starts at (quote-aware)."""
    head = data[:HEAD_BYTES]
    whole = len(data) <= HEAD_BYTES
    records, offsets = [], []
    start = position = quotes = 0
    while len(records) < MAX_HEADER_SCAN + 20 and start < len(head):
        end = head.find(b"\n", position)
        if end < 0:
            if not whole:
                break
            end = len(head)  # the last record of a small file, without a final newline
        quotes += head.count(b'"', position, end)
        position = end + 1
        if quotes % 2 and end < len(head):
            continue  # this newline is inside a quoted field
        records.append(_parse_record(head[start:end], sep))
        offsets.append(start)
        start, quotes = position, 0
    return records, offsets


class _Ragged(Exception):
    """Rows of differing widths: not for the fast path."""


def _arrow_table(data: bytes, start: int, sep: str, width: int) -> pd.DataFrame:
    """Every record of `data[start:]` as `width` text columns, parsed by Arrow (multi-threaded)."""
    ragged = []

    def on_invalid(row) -> str:
        ragged.append(row.number)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(memoryview(data)[start:]),
            read_options=pacsv.ReadOptions(column_names=names, block_size=4 << 20),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                                             newlines_in_values=data.find(b'"', start) >= 0, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise _NotUtf8() from None
        raise _Ragged() from None
    if ragged:
        raise _Ragged()
    frame = table.to_pandas(types_mapper={pa.string(): STRING, pa.large_string(): STRING}.get)
    frame.columns = range(width)
    return frame


def _general_table(data: bytes, sep: str, width: int) -> pd.DataFrame:
    """Any shape: pandas' C parser padded to `width`, else the csv module."""
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=sep, header=None, names=range(width), dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False,
                            quoting=csv.QUOTE_MINIMAL, engine="c", on_bad_lines="error", encoding="utf-8")
        return frame.fillna("").astype(STRING)
    except UnicodeDecodeError:
        raise _NotUtf8() from None
    except (pd.errors.ParserError, ValueError):
        pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _NotUtf8() from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True))
    except csv.Error as exc:
        raise UnreadableFile(f"CSV-filen kunde inte tolkas ({exc})") from None
    width = max((len(r) for r in rows), default=1)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=STRING)


def _binary_kind(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04"):
        return "en Excel-fil (.xlsx) eller ett annat zip-arkiv, inte en CSV-fil"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "en fil i det gamla Excel-formatet (.xls) eller en lösenordsskyddad fil, inte en CSV-fil"
    if head.startswith(b"%PDF"):
        return "en PDF-fil, inte en CSV-fil"
    if b"\x00" in head[:4096]:
        return "binär data, inte en textfil (CSV)"
    return None


def _parse_csv(data: bytes) -> pd.DataFrame:
    sep = sniff_delimiter(data[:HEAD_BYTES].decode("utf-8", errors="replace"))
    records, offsets = _head_records(data, sep)
    counts = Counter(len(r) for r in records if r)
    width = max(counts, key=lambda w: (counts[w], w)) if counts else 1
    widest = max((len(r) for r in records), default=1)
    start = next((i for i, r in enumerate(records) if len(r) == width), None)
    if start is not None and start <= MAX_HEADER_SCAN:
        try:
            body = _arrow_table(data, offsets[start], sep, width)
        except _Ragged:
            body = None
        if body is not None:
            if start == 0:
                return body
            title = pd.DataFrame([r + [""] * (width - len(r)) for r in records[:start]], dtype=STRING)
            frame = pd.concat([title, body], ignore_index=True)
            return frame if len(frame.columns) == width else frame.fillna("")
    return _general_table(data, sep, widest)


def read_csv_text(data: bytes) -> pd.DataFrame:
    """All records of a CSV delivery as text cells (columns numbered 0..n, "" for empty).

    UTF-8 with or without BOM (or UTF-16 with BOM); anything else is read as Windows-1252.
    """
    if not re.search(rb"[^\s\xef\xbb\xbf]", data):  # finds the first character; no copy of the file
        raise UnreadableFile("filen är tom")
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        binary = _binary_kind(data[:8192])
        if binary:
            raise UnreadableFile(f"filen är {binary}")
    data = _without_bom(data)
    try:
        return _parse_csv(data)
    except _NotUtf8:
        return _parse_csv(data.decode("cp1252", errors="replace").encode("utf-8"))


# ---------------------------------------------------------------- XLSX

def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        text = repr(value)
        return np.format_float_positional(value, trim="-") if "e" in text else text
    return str(value)


def _column_text(values) -> pd.api.extensions.ExtensionArray:
    """One sheet column as text; a column of text cells (the common case) converts in one go."""
    try:
        array = pa.array(values, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        array = pa.array([_cell_text(v) for v in values], type=pa.string())
    return pd.array(pc.fill_null(array, ""), dtype=STRING)


def _ole_is_encrypted(path: Path) -> bool:
    """An Office file saved with a password is an OLE container with an `EncryptedPackage` stream."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        return view.find("EncryptedPackage".encode("utf-16-le")) >= 0


def check_xlsx_container(path: Path, max_unzipped: int) -> None:
    """Refuse what is not a plain .xlsx before any parser sees it (bounded work, no unpacking to memory)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        if _ole_is_encrypted(path):
            raise UnreadableFile("filen är lösenordsskyddad; spara den utan lösenord och lämna den igen")
        raise UnreadableFile("filen är sparad i det gamla Excel-formatet (.xls); spara den som .xlsx")
    if not head.startswith(b"PK"):
        what = "en textfil (CSV?)" if head[:1].isascii() and b"\x00" not in head else "inte ett kalkylblad"
        raise UnreadableFile(f"filen är inte ett Excel-kalkylblad (.xlsx) trots filändelsen, utan {what}")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            total = sum(info.file_size for info in infos)
            packed = sum(info.compress_size for info in infos) or 1
            if total > max_unzipped or (total > RATIO_CHECK_FROM and total / packed > MAX_PACKING_RATIO):
                raise UnreadableFile(
                    f"filen packas upp till orimligt mycket data ({total // (1024 * 1024)} MB ur "
                    f"{max(packed // 1024, 1)} kB; en s.k. zip-bomb eller en felaktig fil) och lästes inte")
            if "EncryptedPackage" in names:
                raise UnreadableFile("filen är lösenordsskyddad; spara den utan lösenord och lämna den igen")
            if not any(n.startswith("xl/") for n in names):
                raise UnreadableFile("filen är ett zip-arkiv men inte ett Excel-kalkylblad (.xlsx)")
            # Unpacks every part up to its declared size and checks its CRC: a part that
            # unpacks to more than it declares (a lying zip bomb) or is damaged fails here.
            bad = archive.testzip()
            if bad:
                raise UnreadableFile(f"filen är skadad (delen {bad} går inte att läsa)")
    except zipfile.BadZipFile:
        raise UnreadableFile("filen är skadad eller avkortad (inte en komplett .xlsx)") from None
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise UnreadableFile(f"filen är skadad eller avkortad ({type(exc).__name__})") from None


def _pick_sheet(workbook, kind: str) -> str:
    """The sheet named after the kind, else the first visible sheet."""
    names = workbook.sheet_names
    named = next((n for n in names if fold(n) == fold(kind)), None)
    if named:
        return named
    try:
        visible = [m.name for m in workbook.sheets_metadata
                   if str(m.visible).endswith(".Visible") and str(m.typ).endswith(".WorkSheet")]
    except AttributeError:  # older calamine without sheet metadata: the first sheet
        visible = []
    if visible:
        return visible[0]
    if not names:
        raise UnreadableFile("arbetsboken har inga blad")
    return names[0]


def read_xlsx(path: Path, kind: str, max_unzipped: int) -> pd.DataFrame:
    check_xlsx_container(path, max_unzipped)
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        wanted = _pick_sheet(workbook, kind)
        sheet = workbook.get_sheet_by_name(wanted)
        if sheet.total_height * max(sheet.total_width, 1) > MAX_CELLS:
            raise UnreadableFile(
                f"bladet '{wanted}' är för stort ({sheet.total_height} rader × {sheet.total_width} kolumner); "
                "dela upp leveransen per period")
        rows = sheet.to_python(skip_empty_area=False)
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise UnreadableFile(f"Excel-filen kunde inte läsas ({type(exc).__name__})") from None
    # Trailing empty rows (formatted but empty cells) are not rows of the delivery.
    while rows and all(v in (None, "") for v in rows[-1]):
        rows.pop()
    if not rows:
        raise UnreadableFile(f"bladet '{wanted}' är tomt")
    width = max(len(r) for r in rows)
    if any(len(r) != width for r in rows):
        rows = [r + [""] * (width - len(r)) for r in rows]
    return pd.DataFrame({index: _column_text(values) for index, values in enumerate(zip(*rows))})


# ---------------------------------------------------------------- both

def read_cells(path: Path, kind: str, *, max_bytes: int, max_unzipped: int) -> pd.DataFrame:
    """All cells of the delivery as text, columns numbered 0..n."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile("filen är tom (0 byte)")
    if size > max_bytes:
        raise UnreadableFile(
            f"filen är för stor ({size // (1024 * 1024)} MB, gränsen är {max_bytes // (1024 * 1024)} MB); "
            "dela upp leveransen per period")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path, kind, max_unzipped)
    if suffix == ".csv":
        return read_csv_text(path.read_bytes())
    raise UnreadableFile(f"filtypen {suffix or '(ingen)'} stöds inte; leverera .xlsx eller .csv")


_BRACKETS = re.compile(r"\(.*?\)|\[.*?\]")


def header_name(value: str, header_map: dict[str, str]) -> str | None:
    """The contract column a header cell names: 'Kön', 'KON', 'Startdatum (ÅÅÅÅ-MM-DD)', 'Pnr *'."""
    if not value:
        return None
    name = header_map.get(fold(value))
    if name is None and ("(" in value or "[" in value):
        name = header_map.get(fold(_BRACKETS.sub(" ", value)))
    return name


_HEADER_NAMES: dict[tuple[str, str], str | None] = {}


def _cached_header_name(value: str, kind: str, header_map: dict[str, str]) -> str | None:
    """header_name, memoised per kind: the same titles and data values recur in every file."""
    key = (kind, value)
    if key not in _HEADER_NAMES:
        if len(_HEADER_NAMES) > 100_000:
            _HEADER_NAMES.clear()
        _HEADER_NAMES[key] = header_name(value, header_map)
    return _HEADER_NAMES[key]


def locate_header(cells: pd.DataFrame | np.ndarray, kind: str) -> tuple[int, dict[int, str]]:
    """Find the header row below any title rows: the row matching most contract headers.

    Returns (row index, {cell column -> canonical column name}).
    """
    header_map = load_contract().header_map(kind)
    head = cells[:MAX_HEADER_SCAN] if isinstance(cells, np.ndarray) else \
        cells.iloc[:MAX_HEADER_SCAN].to_numpy(dtype=object)
    best: tuple[int, dict[int, str]] = (-1, {})
    for index, row in enumerate(head.tolist()):
        mapping: dict[int, str] = {}
        for col, value in enumerate(row):
            name = _cached_header_name(value, kind, header_map) if isinstance(value, str) and value else None
            if name and name not in mapping.values():
                mapping[col] = name
        if len(mapping) > len(best[1]):
            best = (index, mapping)
    if len(best[1]) < 2:
        raise UnreadableFile(
            "ingen rubrikrad hittades bland de första raderna: kolumnrubrikerna ska följa länets "
            "exportkontrakt (t.ex. " + ", ".join(list(load_contract().columns(kind))[:5]) + ")")
    return best
