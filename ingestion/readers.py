"""Read a delivered .xlsx or .csv into a table of text cells, bounded in time and memory.

Everything is read as text; typing happens in `normalize`. Anything unreadable raises
`UnreadableFile` with a Swedish reason, for that one delivery only.
"""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from .contract import fold, load_contract

MAX_HEADER_SCAN = 30


class UnreadableFile(Exception):
    """The file cannot be read as a delivery; the message is Swedish and names the cause."""


def decode_bytes(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) or Windows-1252, decoded here (DuckDB cannot read cp1252)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:MAX_HEADER_SCAN])
    counts = {sep: 0 for sep in (";", ",", "\t")}
    in_quote = False
    for char in sample:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char in counts:
            counts[char] += 1
    return max(counts, key=lambda sep: (counts[sep], sep == ";"))


def read_csv_text(data: bytes) -> pd.DataFrame:
    text, _encoding = decode_bytes(data)
    if not text.strip():
        raise UnreadableFile("filen är tom")
    if "\x00" in text[:4096]:
        raise UnreadableFile("filen är inte en textfil (CSV) utan binär data")
    sep = sniff_delimiter(text)
    head = list(csv.reader(io.StringIO("\n".join(text.splitlines()[:MAX_HEADER_SCAN + 20])), delimiter=sep))
    width = max((len(r) for r in head), default=1)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, names=range(width), dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False,
                            quoting=csv.QUOTE_MINIMAL, engine="c", on_bad_lines="error")
    except (pd.errors.ParserError, ValueError):
        # A row wider than the first lines: the csv module copes with any shape.
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=sep, strict=True))
        except csv.Error as exc:
            raise UnreadableFile(f"CSV-filen kunde inte tolkas ({exc})") from None
        width = max(len(r) for r in rows)
        frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=str)
    return frame


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def check_xlsx_container(path: Path, max_unzipped: int) -> None:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            "filen är lösenordsskyddad eller sparad i det gamla .xls-formatet; spara den som vanlig "
            ".xlsx utan lösenord")
    if not head.startswith(b"PK"):
        raise UnreadableFile("filen är inte ett Excel-kalkylblad (.xlsx) trots filändelsen")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            packed = sum(info.compress_size for info in infos) or 1
            if total > max_unzipped or total / packed > 200:
                raise UnreadableFile(
                    f"filen packas upp till orimligt mycket data ({total // (1024 * 1024)} MB, "
                    "en s.k. zip-bomb eller en felaktig fil) och lästes inte")
            bad = archive.testzip()
            if bad:
                raise UnreadableFile(f"filen är skadad (delen {bad} går inte att läsa)")
            names = {info.filename for info in infos}
            if "EncryptedPackage" in names:
                raise UnreadableFile("filen är lösenordsskyddad; spara den utan lösenord")
    except zipfile.BadZipFile:
        raise UnreadableFile("filen är skadad eller avkortad (inte en komplett .xlsx)") from None


def read_xlsx(path: Path, kind: str, max_unzipped: int) -> pd.DataFrame:
    check_xlsx_container(path, max_unzipped)
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        wanted = next((n for n in names if fold(n) == fold(kind)), names[0] if names else None)
        if wanted is None:
            raise UnreadableFile("arbetsboken har inga blad")
        rows = workbook.get_sheet_by_name(wanted).to_python(skip_empty_area=False)
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise UnreadableFile(f"Excel-filen kunde inte läsas ({type(exc).__name__}: {str(exc)[:160]})") from None
    if not rows:
        raise UnreadableFile("bladet är tomt")
    width = max(len(r) for r in rows)
    return pd.DataFrame([[_cell_text(v) for v in r] + [""] * (width - len(r)) for r in rows], dtype=str)


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


def locate_header(cells: pd.DataFrame, kind: str) -> tuple[int, dict[int, str]]:
    """Find the header row below any title rows: the row matching most contract headers.

    Returns (row index, {cell column -> canonical column name}).
    """
    header_map = load_contract().header_map(kind)
    best: tuple[int, dict[int, str]] = (-1, {})
    for index in range(min(MAX_HEADER_SCAN, len(cells))):
        mapping: dict[int, str] = {}
        for col, value in enumerate(cells.iloc[index].tolist()):
            name = header_map.get(fold(value)) if value else None
            if name and name not in mapping.values():
                mapping[col] = name
        if len(mapping) > len(best[1]):
            best = (index, mapping)
    if len(best[1]) < 2:
        raise UnreadableFile(
            "ingen rubrikrad hittades: kolumnrubrikerna ska följa länets exportkontrakt (t.ex. "
            + ", ".join(list(load_contract().columns(kind))[:5]) + ")")
    return best
