"""Read a delivered .xlsx, .xls, .ods or .csv into a table of text cells, bounded in time and memory.

Everything is read as text; typing happens in `normalize`. Anything unreadable raises
`UnreadableFile` with a Swedish reason, for that one delivery only.

CSV is parsed by Arrow's multi-threaded CSV reader (columnar, no Python per row). Owners'
files that Arrow cannot take in one go (title rows of another width, blank lines, a short
`Summa` row) are parsed by pandas' C parser instead, and any shape at all by the csv module.
Workbooks (.xlsx, .xls, .ods) are read by calamine (Rust). Limits, checked before any parsing:
file size, unpacked size and packing ratio of the zip (.xlsx, .ods: zip bombs), the cells
calamine would build (.xls and .ods, where it builds every sheet at once, repeats expanded),
cell count of the sheet.
"""

from __future__ import annotations

import csv
import io
import mmap
import re
import struct
import zipfile
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingestion.core.contract import fold, load_contract

MAX_HEADER_SCAN = 30
HEAD_BYTES = 256 * 1024  # the part of a CSV used to sniff separator, width and title rows
MAX_CELLS = 10_000_000  # a sheet larger than this is not an export of one period
MAX_PACKING_RATIO = 200  # unpacked/packed; real sheets stay far below, zip bombs far above
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
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"',
                double_quote=True,
                newlines_in_values=data.find(b'"', start) >= 0,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
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
        frame = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            header=None,
            names=range(width),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_MINIMAL,
            engine="c",
            on_bad_lines="error",
            encoding="utf-8",
        )
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
        return "en Excel-fil (.xlsx), ett OpenDocument-kalkylblad (.ods) eller ett annat zip-arkiv, inte en CSV-fil"
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


CSV_SCAN_CHUNK = 16 << 20  # bytes read at a time when a CSV's records are counted (bounded memory)


def check_csv_size(path: Path, max_cells: int = MAX_CELLS) -> None:
    """Refuse a CSV larger than `max_cells` cells before it is read whole: its width from the first
    records, its records counted in chunks (a few MB in memory, whatever the file's size). The bound
    is the workbooks' (`MAX_CELLS`): a delivery of one period is far smaller, and what is below it is
    read, normalised and validated within the pipeline's memory bound (README, *Reliability*).
    A newline inside a quoted value counts as a record here: the count errs on the large side."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        lines = head.count(b"\n")
        last = head[-1:]
        for chunk in iter(lambda: handle.read(CSV_SCAN_CHUNK), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 (rare): its size is bounded by max_bytes alone
    lines += last not in (b"\n", b"")
    text = _without_bom(head)
    text = text if len(text) < HEAD_BYTES else text[: text.rfind(b"\n") + 1]  # whole records only
    sep = sniff_delimiter(text.decode("utf-8", errors="replace"))
    try:
        width = max((len(r) for r in _head_records(text, sep)[0]), default=1)
    except csv.Error:  # a cell longer than the csv module takes: the header line's width will do
        width = text.split(b"\n", 1)[0].count(sep.encode()) + 1
    if lines * width > max_cells:
        raise UnreadableFile(
            f"CSV-filen är för stor ({_spaced(lines)} rader × {width} kolumner, gränsen är "
            f"{_spaced(max_cells)} celler); dela upp leveransen per period"
        )


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


# ---------------------------------------------------------------- workbooks: .xlsx, .xls, .ods

WORKBOOKS = {
    ".xlsx": "ett Excel-kalkylblad (.xlsx)",
    ".xls": "ett Excel-kalkylblad (.xls)",
    ".ods": "ett OpenDocument-kalkylblad (.ods)",
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
MAX_SHEET_CANDIDATES = 20  # visible sheets whose first rows are scanned for the header
PASSWORD = "filen är lösenordsskyddad; spara den utan lösenord och lämna den igen"
TOO_MANY_CELLS = (
    f"arbetsboken innehåller för många celler (fler än {MAX_CELLS:,} räknat med upprepade rader "
    "och kolumner); dela upp leveransen per period"
).replace(",", " ")


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


def _not_a_workbook(path: Path) -> str:
    """What a file that is neither OLE nor zip is, for the owner."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%PDF"):
        return "en PDF-fil"
    if text.startswith(b"<") and (b"<html" in text or b"<table" in text or b"<!doctype html" in text):
        return "en webbsida (HTML), som Excel kan öppna men som inte är ett kalkylblad"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (head[:1].isascii() and b"\x00" not in head):
        return "en textfil (CSV?)"
    return "en fil av okänt slag"


# .xls: calamine builds every sheet of the workbook when it opens it, each as one dense block
# from its first to its last cell (and reserves what the DIMENSIONS record declares). A few
# records can declare hundreds of millions of cells: count them before calamine sees the file.
XLS_CELLS = frozenset({0x0006, 0x00D6, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E})  # cell records calamine reads
XLS_MULRK, XLS_DIMENSIONS, XLS_BOF, XLS_EOF, XLS_BOUNDSHEET = 0x00BD, 0x0200, 0x0809, 0x000A, 0x0085


def _xls_dimensions(data: bytes, at: int, length: int) -> int:
    """The cells calamine reserves for a DIMENSIONS record (its arithmetic, u32 wrap-around included)."""
    if length == 10:
        first_row, last_row, first_col, last_col = struct.unpack_from("<HHHH", data, at)
    elif length == 14:
        first_row, last_row = struct.unpack_from("<II", data, at)
        first_col, last_col = struct.unpack_from("<HH", data, at + 8)
    else:
        return 0
    if first_col > 0xFF or last_col < first_col:
        first_col = 0
    end_row, end_col = (last_row - 1, last_col - 1) if last_row >= 1 and last_col >= 1 else (first_row, first_col)
    rows = (end_row - first_row + 1) & 0xFFFFFFFF
    cols = (end_col - first_col + 1) & 0xFFFFFFFF
    return rows * cols


def _xls_sheet_cells(data: bytes, pos: int) -> int:
    """The cells calamine builds for the sheet substream at `pos`: its cell block or its DIMENSIONS."""
    size = len(data)
    top = left = None
    bottom = right = declared = depth = 0
    seen_bof = False
    while pos + 4 <= size:
        typ, length = struct.unpack_from("<HH", data, pos)
        at, pos = pos + 4, pos + 4 + length
        if depth:  # an embedded chart or other nested substream: calamine skips it
            depth += 1 if typ == XLS_BOF else -1 if typ == XLS_EOF else 0
            continue
        if typ in XLS_CELLS and length >= 4:
            row, first = struct.unpack_from("<HH", data, at)
            last = first
        elif typ == XLS_MULRK and length >= 6:
            row, first = struct.unpack_from("<HH", data, at)
            last = first + max((length - 6) // 6 - 1, 0)
        else:
            if typ == XLS_BOF:
                depth, seen_bof = (depth + 1 if seen_bof else depth), True
            elif typ == XLS_EOF:
                break
            elif typ == XLS_DIMENSIONS:
                declared = max(declared, _xls_dimensions(data, at, length))
            continue
        top = row if top is None else min(top, row)
        left = first if left is None else min(left, first)
        bottom, right = max(bottom, row), max(right, last)
    block = 0 if top is None else (bottom - top + 1) * (right - left + 1)
    return max(block, declared)


def _check_xls(path: Path) -> None:
    """A plain .xls: an OLE container with a Workbook stream whose sheets stay within MAX_CELLS."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            if ole.exists("EncryptedPackage"):
                raise UnreadableFile(PASSWORD)
            stream = next((name for name in ("Workbook", "Book") if ole.exists(name)), None)
            if stream is None:
                raise UnreadableFile("filen är ett Office-dokument (t.ex. Word) men inte ett Excel-kalkylblad (.xls)")
            data = ole.openstream(stream).read()
    except UnreadableFile:
        raise
    except Exception as exc:  # olefile raises OSError and its own errors for a broken container
        raise UnreadableFile(f"filen är skadad eller avkortad (inte en komplett .xls: {type(exc).__name__})") from None
    sheets: list[int] = []
    pos = 0
    while pos + 4 <= len(data):  # the workbook globals: one BoundSheet record per sheet, then EOF
        typ, length = struct.unpack_from("<HH", data, pos)
        if typ == XLS_BOUNDSHEET and length >= 4:
            sheets.append(struct.unpack_from("<I", data, pos + 4)[0])
        elif typ == XLS_EOF:
            break
        pos += 4 + length
    total = 0
    cells: dict[int, int] = {}
    for start in sheets:
        if start >= len(data):
            raise UnreadableFile("filen är skadad (ett blad pekar utanför arbetsboken)")
        if start not in cells:
            cells[start] = _xls_sheet_cells(data, start)
        total += cells[start]
        if total > MAX_CELLS:
            raise UnreadableFile(TOO_MANY_CELLS)


# .ods: calamine reads every sheet of content.xml when it opens the file, repeated rows and
# columns expanded (a few hundred bytes can declare a billion cells). Count them first, with
# expat (C, streaming; comments, CDATA and quoting as XML has them; no DTD, so no entities).
ODS_CELLS = ("table:table-cell", "table:covered-table-cell")
ODS_MAX_ROWS, ODS_MAX_COLUMNS = 1_048_576, 16_384  # calamine's caps for repeats
ODS_CHUNK = 1 << 20


def _repeats(value: str | None) -> int:
    if not value or not value.isdigit():
        return 1
    return int(value) if len(value) <= 9 else 10**9


class _OdsCount:
    """What calamine builds from content.xml: per table, the cells it collects row by row (a row up
    to its last filled cell) and the block from the first to the last filled cell, repeats expanded."""

    def __init__(self):
        self.total = 0
        self.inside = 0  # depth within the current cell's content (text, a sub-table, ...)
        self.count, self.filled = 0, False
        self._table()

    def _table(self):
        self.rows = self.collected = 0
        self.top = self.left = None
        self.bottom = self.right = 0
        self.in_row, self.repeat, self.col, self.first, self.last = False, 1, 0, None, 0

    def close_table(self):
        block = 0 if self.top is None else (self.bottom - self.top) * (self.right - self.left)
        self.total += max(block, self.collected)
        self._table()
        if self.total > MAX_CELLS:
            raise UnreadableFile(TOO_MANY_CELLS)

    def start(self, name: str, attributes: dict):
        if self.inside:
            self.inside += 1
            self.filled = True  # a cell with content (text:p) holds a value
        elif name in ODS_CELLS:
            if self.in_row:
                self.inside = 1
                self.count = min(_repeats(attributes.get("table:number-columns-repeated")), ODS_MAX_COLUMNS - self.col)
                self.filled = "office:value-type" in attributes or "table:formula" in attributes
        elif name == "table:table-row":
            self.in_row, self.col, self.first, self.last = True, 0, None, 0
            self.repeat = min(_repeats(attributes.get("table:number-rows-repeated")), ODS_MAX_ROWS - self.rows)
        elif name == "table:table":
            self.close_table()

    def end(self, name: str):
        if self.inside:
            self.inside -= 1
            if not self.inside:  # the cell itself ends
                if self.filled and self.count > 0:
                    self.first = self.col if self.first is None else self.first
                    self.last = self.col + self.count
                self.col += self.count
        elif name == "table:table-row" and self.in_row:
            if self.last:  # calamine keeps a row up to its last filled cell, and repeats it
                self.top = self.rows if self.top is None else min(self.top, self.rows)
                self.left = self.first if self.left is None else min(self.left, self.first)
                self.bottom = max(self.bottom, self.rows + self.repeat)
                self.right = max(self.right, self.last)
                self.collected += self.last
                block = (self.bottom - self.top) * (self.right - self.left)
                if self.total + max(block, self.collected) > MAX_CELLS:
                    raise UnreadableFile(TOO_MANY_CELLS)
            self.rows += self.repeat
            self.in_row = False
        elif name == "table:table":
            self.close_table()


def _no_dtd(*_args):
    raise UnreadableFile("filen är skadad (content.xml har en DTD, vilket ett kalkylblad aldrig har)")


def _check_ods_cells(archive: zipfile.ZipFile) -> None:
    """Stream content.xml (already bounded by the unpacked-size check) through `_OdsCount`."""
    from xml.parsers import expat

    count = _OdsCount()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = _no_dtd
    parser.StartElementHandler, parser.EndElementHandler = count.start, count.end
    try:
        with archive.open("content.xml") as stream:
            while chunk := stream.read(ODS_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UnreadableFile(f"filen är skadad (content.xml går inte att tolka, rad {exc.lineno})") from None
    count.close_table()


def _zip_content(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    """'xlsx', 'ods', 'odf' (an OpenDocument file that is not a spreadsheet) or None."""
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "mimetype" in names:
        info = archive.getinfo("mimetype")
        mimetype = archive.read(info).strip() if info.file_size <= 200 else b""
        if mimetype == ODS_MIMETYPE and "content.xml" in names:
            return "ods"
        if mimetype.startswith(b"application/vnd.oasis.opendocument"):
            return "odf"
    return None


def _ods_encrypted(archive: zipfile.ZipFile, names: set[str]) -> bool:
    """An .ods saved with a password lists `encryption-data` for its parts in the manifest."""
    if "META-INF/manifest.xml" not in names:
        return False
    info = archive.getinfo("META-INF/manifest.xml")
    with archive.open(info) as member:
        return b"encryption-data" in member.read(min(info.file_size, 4 << 20))


def check_workbook_container(path: Path, max_unzipped: int) -> None:
    """Refuse what is not a plain workbook of the kind its extension says (.xlsx, .xls, .ods)
    before any parser sees it: bounded work, nothing unpacked to memory beyond a few small parts."""
    suffix = path.suffix.lower()
    label = WORKBOOKS[suffix]
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(OLE_MAGIC):
        if _ole_is_encrypted(path):
            raise UnreadableFile(PASSWORD)
        if suffix != ".xls":
            raise UnreadableFile(
                f"filen är sparad i det gamla Excel-formatet (.xls) men har filändelsen {suffix}; "
                "byt filändelsen till .xls, eller spara den som .xlsx"
            )
        _check_xls(path)
        return
    if not head.startswith(b"PK"):
        raise UnreadableFile(
            f"filen är inte {label} trots filändelsen, utan {_not_a_workbook(path)}; "
            "öppna den i Excel och spara den som .xlsx"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            total = sum(info.file_size for info in infos)
            packed = sum(info.compress_size for info in infos) or 1
            if total > max_unzipped or (total > RATIO_CHECK_FROM and total / packed > MAX_PACKING_RATIO):
                raise UnreadableFile(
                    f"filen packas upp till orimligt mycket data ({total // (1024 * 1024)} MB ur "
                    f"{max(packed // 1024, 1)} kB; en s.k. zip-bomb eller en felaktig fil) och lästes inte"
                )
            if "EncryptedPackage" in names:
                raise UnreadableFile(PASSWORD)
            content = _zip_content(archive, names)
            if content == "ods" and _ods_encrypted(archive, names):
                raise UnreadableFile(PASSWORD)
            if content == "odf":
                raise UnreadableFile("filen är ett OpenDocument-dokument men inte ett kalkylblad")
            if content is None:
                raise UnreadableFile(f"filen är ett zip-arkiv men inte {label}")
            if f".{content}" != suffix:
                raise UnreadableFile(
                    f"filen är {WORKBOOKS['.' + content]} men har filändelsen {suffix}; byt filändelsen till .{content}"
                )
            # Unpacks every part up to its declared size and checks its CRC: a part that
            # unpacks to more than it declares (a lying zip bomb) or is damaged fails here.
            bad = archive.testzip()
            if bad:
                raise UnreadableFile(f"filen är skadad (delen {bad} går inte att läsa)")
            if content == "ods":
                _check_ods_cells(archive)
            if content == "xlsx":
                _check_xlsx_dimensions(archive)
    except zipfile.BadZipFile:
        raise UnreadableFile(f"filen är skadad eller avkortad (inte en komplett {suffix})") from None
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise UnreadableFile(f"filen är skadad eller avkortad ({type(exc).__name__})") from None


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]{1,3})([0-9]+)(?::([A-Z]{1,3})([0-9]+))?"')


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters.decode("ascii"):
        number = number * 26 + (ord(char) - 64)
    return number


def _check_xlsx_dimensions(archive: zipfile.ZipFile) -> None:
    """Refuse a worksheet larger than MAX_CELLS from the size it declares (`<dimension ref=…>`,
    in the first bytes of its XML), before any parser builds it: a sheet of 1 048 576 rows is
    refused in milliseconds, with its real size, instead of after parsing it whole."""
    for info in archive.infolist():
        if not re.fullmatch(r"xl/worksheets/[^/]+\.xml", info.filename):
            continue
        with archive.open(info) as handle:
            head = handle.read(64 * 1024)
        found = _DIMENSION.search(head)
        if not found or not found.group(3):
            continue
        rows = int(found.group(4)) - int(found.group(2)) + 1
        columns = _column_number(found.group(3)) - _column_number(found.group(1)) + 1
        if rows * columns > MAX_CELLS:
            raise UnreadableFile(
                f"ett blad i arbetsboken är för stort ({_spaced(rows)} rader × {columns} kolumner, gränsen är "
                f"{_spaced(MAX_CELLS)} celler); dela upp leveransen per period"
            )


def _spaced(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def _visible_sheets(workbook) -> list[str]:
    try:
        return [
            m.name
            for m in workbook.sheets_metadata
            if str(m.visible).endswith(".Visible") and str(m.typ).endswith(".WorkSheet")
        ]
    except AttributeError:  # older calamine without sheet metadata: the first sheet
        return []


def _pick_sheet(workbook, kind: str):
    """(name, sheet): the sheet named after the kind; else, of the visible sheets, the one whose
    first rows hold the header matching most contract columns (the first such sheet on a tie,
    the first visible sheet when none has a header). Only the first MAX_HEADER_SCAN rows of at
    most MAX_SHEET_CANDIDATES sheets are read before choosing."""
    names = workbook.sheet_names
    if not names:
        raise UnreadableFile("arbetsboken har inga blad")
    named = next((n for n in names if fold(n) == fold(kind)), None)
    candidates = [named] if named else (_visible_sheets(workbook) or names[:1])
    if len(candidates) == 1:
        return candidates[0], workbook.get_sheet_by_name(candidates[0])
    header_map = load_contract().header_map(kind)
    columns = len(set(header_map.values()))
    best = None
    for name in candidates[:MAX_SHEET_CANDIDATES]:
        sheet = workbook.get_sheet_by_name(name)
        _, mapping = _best_header(sheet.to_python(skip_empty_area=False, nrows=MAX_HEADER_SCAN), kind, header_map)
        if best is None or len(mapping) > best[0]:
            best = (len(mapping), name, sheet)
            if len(mapping) == columns:
                break  # every contract column: no sheet can match better
    if best[0] < 2:
        return candidates[0], workbook.get_sheet_by_name(candidates[0])
    return best[1], best[2]


def _calamine_failure(exc: BaseException) -> bool:
    """calamine's own errors, and a Rust panic in it (pyo3 raises that as a BaseException)."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def read_workbook(path: Path, kind: str, max_unzipped: int) -> pd.DataFrame:
    """All cells of the delivery's sheet (.xlsx, .xls or .ods, all read by calamine) as text."""
    check_workbook_container(path, max_unzipped)
    from python_calamine import CalamineWorkbook, PasswordError

    what = "OpenDocument-filen" if path.suffix.lower() == ".ods" else "Excel-filen"
    try:
        with CalamineWorkbook.from_path(str(path)) as workbook:
            wanted, sheet = _pick_sheet(workbook, kind)
            if sheet.total_height * max(sheet.total_width, 1) > MAX_CELLS:
                raise UnreadableFile(
                    f"bladet '{wanted}' är för stort ({sheet.total_height} rader × {sheet.total_width} kolumner); "
                    "dela upp leveransen per period"
                )
            rows = sheet.to_python(skip_empty_area=False)
    except UnreadableFile:
        raise
    except PasswordError:
        raise UnreadableFile(PASSWORD) from None
    except BaseException as exc:  # calamine raises its own error types for broken workbooks
        if not _calamine_failure(exc):
            raise
        raise UnreadableFile(f"{what} kunde inte läsas ({type(exc).__name__})") from None
    # Trailing empty rows (formatted but empty cells) are not rows of the delivery.
    while rows and all(v in (None, "") for v in rows[-1]):
        rows.pop()
    if not rows:
        raise UnreadableFile(f"bladet '{wanted}' är tomt")
    width = max(len(r) for r in rows)
    if any(len(r) != width for r in rows):
        rows = [r + [""] * (width - len(r)) for r in rows]
    return pd.DataFrame({index: _column_text(values) for index, values in enumerate(zip(*rows))})


# ---------------------------------------------------------------- all formats


def read_cells(path: Path, kind: str, *, max_bytes: int, max_unzipped: int, max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """All cells of the delivery as text, columns numbered 0..n."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile("filen är tom (0 byte)")
    if size > max_bytes:
        raise UnreadableFile(
            f"filen är för stor ({size // (1024 * 1024)} MB, gränsen är {max_bytes // (1024 * 1024)} MB); "
            "dela upp leveransen per period"
        )
    suffix = path.suffix.lower()
    if suffix in WORKBOOKS:
        return read_workbook(path, kind, max_unzipped)
    if suffix == ".csv":
        check_csv_size(path, max_cells)
        return read_csv_text(path.read_bytes())
    raise UnreadableFile(f"filtypen {suffix or '(ingen)'} stöds inte; leverera .xlsx, .xls, .ods eller .csv")


# ---------------------------------------------------------------- the header row

_BRACKETS = re.compile(r"\(.*?\)|\[.*?\]")
MAX_PREFIX_WORDS = 12  # a header's first words tried as a known header (the longest synonym has 6)


def _conflicts(words: list[str], name: str, header_map: dict[str, str]) -> bool:
    """Some run of `words` is a known header of another column ("ID-nummer (personnummer)").

    A single short word does not count: 'år', 'start', 'tom', 'kön' are headers too, but in a
    note they are ordinary words ('Utfall hittills i år', 'Utbildningsnivå vid start')."""
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + 6) + 1):
            if end == start + 1 and len(words[start]) < 6:
                continue
            other = header_map.get(" ".join(words[start:end]))
            if other is not None and other != name:
                return True
    return False


def _prefix_name(folded: str, header_map: dict[str, str], notes: list[str] = ()) -> str | None:
    """The column named by the longest run of whole leading words that is a known header, when
    that is not ambiguous: no known header of another column begins with those words ('försörjning'
    alone begins both försörjning columns' headers), and neither the words after it nor the
    bracketed `notes` name another column."""
    words = folded.split()[:MAX_PREFIX_WORDS]
    for n in range(len(words) - 1, 0, -1):
        prefix = " ".join(words[:n])
        name = header_map.get(prefix)
        if name is None:
            continue
        longer = prefix + " "
        if any(other != name and known.startswith(longer) for known, other in header_map.items()):
            return None  # a shorter prefix would be as ambiguous
        return None if _conflicts(words[n:], name, header_map) or _conflicts(notes, name, header_map) else name
    return None


def _header_match(value: str, header_map: dict[str, str]) -> tuple[str, bool] | None:
    """(contract column, exact) for a header cell. Exact: the whole text, or the text without a
    bracketed note ('Startdatum (ÅÅÅÅ-MM-DD)'). Otherwise its leading words, as `_prefix_name`
    allows ('Födelseår – fyra siffror', 'Remittent: vem skickade deltagaren')."""
    folded = fold(value)
    if not folded:
        return None
    name = header_map.get(folded)
    if name is not None:
        return name, True
    stripped = folded
    if "(" in value or "[" in value:
        stripped = fold(_BRACKETS.sub(" ", value))
        name = header_map.get(stripped)
        if name is not None:
            return name, True
    name = _prefix_name(folded, header_map)
    if name is None and stripped != folded:
        notes = fold(" ".join(_BRACKETS.findall(value))).split()[:MAX_PREFIX_WORDS]
        name = _prefix_name(stripped, header_map, notes)
    return (name, False) if name is not None else None


def header_name(value: str, header_map: dict[str, str]) -> str | None:
    """The contract column a header cell names: 'Kön', 'KON', 'Startdatum (ÅÅÅÅ-MM-DD)', 'Pnr *',
    'Försörjning\\n(vid start)', 'Födelseår – fyra siffror', 'Remittent: vem skickade deltagaren'."""
    if not value:
        return None
    match = _header_match(value, header_map)
    return match[0] if match else None


_HEADER_NAMES: dict[tuple[str, str], tuple[str, bool] | None] = {}


def _cached_header_match(value: str, kind: str, header_map: dict[str, str]) -> tuple[str, bool] | None:
    """_header_match, memoised per kind: the same titles and data values recur in every file."""
    key = (kind, value)
    if key not in _HEADER_NAMES:
        if len(_HEADER_NAMES) > 100_000:
            _HEADER_NAMES.clear()
        _HEADER_NAMES[key] = _header_match(value, header_map)
    return _HEADER_NAMES[key]


def _best_header(rows, kind: str, header_map: dict[str, str]) -> tuple[int, dict[int, str]]:
    """The row among `rows` matching most contract headers, and its {cell column -> column name}.

    Exact matches are assigned first, then prefix matches to the columns still free, so a
    loose 'Insats namn' never takes a column that an exact 'Insatskod' names."""
    best: tuple[int, dict[int, str]] = (-1, {})
    for index, row in enumerate(rows):
        mapping: dict[int, str] = {}
        taken: set[str] = set()
        loose: list[tuple[int, str]] = []
        for col, value in enumerate(row):
            match = _cached_header_match(value, kind, header_map) if isinstance(value, str) and value else None
            if match is None:
                continue
            name, exact = match
            if not exact:
                loose.append((col, name))
            elif name not in taken:
                mapping[col] = name
                taken.add(name)
        if loose:
            for col, name in loose:
                if name not in taken:
                    mapping[col] = name
                    taken.add(name)
            mapping = dict(sorted(mapping.items()))
        if len(mapping) > len(best[1]):
            best = (index, mapping)
    return best


def locate_header(cells: pd.DataFrame | np.ndarray, kind: str) -> tuple[int, dict[int, str]]:
    """Find the header row below any title rows: the row matching most contract headers.

    Returns (row index, {cell column -> canonical column name}).
    """
    header_map = load_contract().header_map(kind)
    head = (
        cells[:MAX_HEADER_SCAN]
        if isinstance(cells, np.ndarray)
        else cells.iloc[:MAX_HEADER_SCAN].to_numpy(dtype=object)
    )
    best = _best_header(head.tolist(), kind, header_map)
    if len(best[1]) < 2:
        raise UnreadableFile(
            "ingen rubrikrad hittades bland de första raderna: kolumnrubrikerna ska följa länets "
            "exportkontrakt (t.ex. " + ", ".join(list(load_contract().columns(kind))[:5]) + ")"
        )
    return best
