"""Turn the text cells of a delivery into the contract's columns.

Valid values are normalised (ISO dates, plain numbers, contract codes). A value that
cannot be read keeps its delivered text, so the quality gate can quote it back to the
owner; it never silently becomes null. Personnummer is replaced by a keyed hash here,
at the first read, and the number itself is dropped.

Columnar throughout: Arrow-backed string columns, and every parser runs once per distinct
value of a column (`per_unique`), never once per row. A delivery of a million episodes has
a few thousand distinct dates and a few dozen distinct codes.
"""

from __future__ import annotations

import csv
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.core.config import REPO_ROOT
from ingestion.core.contract import fold, load_contract
from ingestion.core.findings import WARNING, Finding
from ingestion.core.privacy import bounded
from ingestion.intake import pseudonymize as pz
from ingestion.intake.readers import UnreadableFile, locate_header

log = logging.getLogger(__name__)

TOTAL_ROW = re.compile(r"^(?:summa|totalt|total|nettokostnad|netto)\b")
SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
MUNICIPALITIES_CSV = REPO_ROOT / "dbt_project" / "seeds" / "municipalities.csv"
CODE_SEPARATORS = re.compile(r"\s*(?:\+|,|/|;|&|\boch\b)\s*")
NOTE_ROWS = 20  # at most this many row numbers are listed in one note


@lru_cache(maxsize=1)
def municipalities() -> dict[str, str]:
    """SCB code -> name, from the dbt seed (the one list of all 290 municipalities)."""
    result: dict[str, str] = {}
    if MUNICIPALITIES_CSV.exists():
        with open(MUNICIPALITIES_CSV, encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for row in reader:
                if len(row) >= 2 and row[0].strip():
                    result[row[0].strip().zfill(4)] = row[1].strip()
    return result


@lru_cache(maxsize=1)
def municipality_names() -> dict[str, str]:
    return {fold(name): code for code, name in municipalities().items()}


@dataclass
class Normalised:
    frame: pd.DataFrame  # contract columns + source_row (+ person_key for deltagare)
    rows_read: int
    rows_dropped: int
    notes: list[Finding] = field(default_factory=list)
    totals: pd.DataFrame | None = None  # dropped Summa/Totalt rows, parsed (budget sum checks)
    had_personnummer: bool = False


# ---------------------------------------------------------------- value parsers (once per distinct value)


def _factorize(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct values); code -1 marks NA."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, pd.Series(uniques, dtype="string")


def _spread(codes: np.ndarray, values: pd.Series | list, index: pd.Index) -> pd.Series:
    """values[codes] as a string column (NA where code is -1), in one Arrow dictionary decode."""
    dictionary = pa.array(pd.array(values, dtype="string")) if len(values) else pa.array([], pa.string())
    if isinstance(dictionary, pa.ChunkedArray):
        dictionary = dictionary.combine_chunks()
    indices = pa.array(codes.astype(np.int32, copy=False), mask=codes < 0, type=pa.int32())
    decoded = pa.DictionaryArray.from_arrays(indices, dictionary.cast(pa.string())).cast(pa.string())
    return pd.Series(pd.array(decoded, dtype="string"), index=index, dtype="string")


def per_unique(series: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a Series -> Series parser to the distinct values only, then spread the results back."""
    codes, uniques = _factorize(series)
    return _spread(codes, parse(uniques) if len(uniques) else [], series.index)


def _each(function: Callable[[str], str | None]) -> Callable[[pd.Series], pd.Series]:
    """A scalar parser as a Series parser (for `per_unique`): None keeps the delivered text."""

    def parse(uniques: pd.Series) -> pd.Series:
        out = []
        for value in uniques.tolist():
            result = function(value)
            out.append(value if result is None else result)
        return pd.Series(out, index=uniques.index, dtype="string")

    return parse


def _blank_to_none(series: pd.Series) -> pd.Series:
    """Surrounding whitespace removed; an empty cell is NA (in Arrow, no per-row Python)."""
    array = pa.array(series.astype("string"))
    trimmed = pc.utf8_trim_whitespace(array)
    blank = pc.equal(pc.binary_length(trimmed), 0)
    return pd.Series(
        pd.array(pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed), dtype="string"),
        index=series.index,
        dtype="string",
    )


def number_text(value: str) -> str | None:
    """'1 775 000', '1775000,50', '−9 000', '+20 000 kr', '1.775.000,50' -> plain '1775000', '1775000.5', ...

    Returns None when the text is not unambiguously one number ('1,775,000.5,0', '12 ab').
    """
    text = SPACES.sub("", value).replace("\u2212", "-").replace("\u2013", "-")
    text = re.sub(r"(?i)(kr|sek|:-)$", "", text)
    sign = ""
    if text[:1] in "+-" and len(text) > 1:
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    if re.fullmatch(r"\d+", text):
        whole, fraction = text, ""
    elif re.fullmatch(r"\d+[.,]\d+", text):  # one separator: the decimal sign
        whole, fraction = re.split(r"[.,]", text)
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d+", text):  # 1.775.000,50
        whole, fraction = text.split(",")
        whole = whole.replace(".", "")
    elif re.fullmatch(r"\d{1,3}(?:,\d{3})+\.\d+", text):  # 1,775,000.50
        whole, fraction = text.split(".")
        whole = whole.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}|\d{1,3}(?:,\d{3}){2,}", text):  # 1.775.000 / 1,775,000
        whole, fraction = re.sub(r"[.,]", "", text), ""
    else:
        return None
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    if whole == "0" and not fraction:
        sign = ""
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def parse_numbers(series: pd.Series) -> pd.Series:
    """'1 775 000', '1775000,50', '−9 000', '+20 000' -> '1775000', '1775000.5', '-9000', '20000'."""
    return per_unique(series, _each(number_text))


def int_text(value: str) -> str | None:
    number = number_text(value)
    return number if number is not None and "." not in number else None


def percent_text(value: str) -> str | None:
    return number_text(value.replace("%", ""))


def parse_ints(series: pd.Series) -> pd.Series:
    return per_unique(series, _each(int_text))


DATE_FORMS = [
    # (pattern, strptime-style parts: year, month, day group names)
    re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})$"),
    re.compile(r"^(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})$"),
    re.compile(r"^(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[ /.-](?P<y>\d{4})$"),
]
EXCEL_SERIAL = re.compile(r"^(?P<serial>[1-6]\d{4})(?:\.\d+)?$")


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # the form every date column is validated in


def date_text(value: str) -> str | None:
    """2016-06-30, 20160630, 160630, 30/6 2016, 30.6.2016, an Excel serial (42551) -> '2016-06-30'."""
    from datetime import date, timedelta

    text = value.strip()
    for pattern in DATE_FORMS:
        match = pattern.match(text)
        if match:
            year = int(match["y"])
            if len(match["y"]) == 2:
                year += 2000 if year <= 68 else 1900  # the same pivot as strptime's %y
            try:
                return date(year, int(match["m"]), int(match["d"])).isoformat()
            except ValueError:  # no such day: kept as delivered, never in the form the suites accept
                return f"{text} (finns inte i kalendern)" if ISO_DAY.fullmatch(text) else None
    match = EXCEL_SERIAL.match(text)
    if match:
        return (date(1899, 12, 30) + timedelta(days=int(match["serial"]))).isoformat()
    return None


MONTH_UNITS = {"d": 1 / 30.4375, "v": 7 / 30.4375, "m": 1.0, "a": 12.0}  # per day, week, month, year
MONTHS_FORM = re.compile(
    r"^(?:efter\s+)?(?P<n>\d+(?:[.,]\d+)?)\s*(?P<unit>"
    r"d|dag|dagar|dgr|v|vecka|veckor|veckan|m|man|mån|månad|månader|manad|manader|mnd|å|år|ar)?\.?"
    r"(?:\s+efter(?:\s+avslut(?:et)?)?)?$"
)


def months_text(value: str) -> str | None:
    """A time after an event in whole months: '6', '6 mån', '6 månader', '90 dagar' (3), '13 veckor' (3),
    '1 år' (12), '12 mån efter avslut'. A bare number is months. Days and weeks round to the nearest
    month (30.4375 days, as dbt's finsam_days_per_month)."""
    text = " ".join(value.strip().lower().split())
    match = MONTHS_FORM.match(text)
    if not match:
        return None
    number = float(match["n"].replace(",", "."))
    unit = (match["unit"] or "m").replace("å", "a").replace("ä", "a")
    months = number * MONTH_UNITS[unit[0] if unit[0] in "dvma" else "m"]
    rounded = int(months + 0.5)
    return str(rounded) if rounded > 0 else None


def parse_dates(series: pd.Series) -> pd.Series:
    """2016-06-30, 20160630, 160630, 30/6 2016, 30/6/2016, 2016-06-30 00:00:00, Excel serial."""
    return per_unique(series, _each(date_text))


@dataclass
class Reading:
    """How the distinct values of one column were read, beyond the contract's own words:
    what a county mapping translated, what was read through a typo, and what could mean
    several codes (left unread, for the owner or a mapping to decide)."""

    mapped: dict[str, str] = field(default_factory=dict)
    guessed: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)


def code_parser(
    code_list: str,
    multi: bool,
    *,
    column: str | None = None,
    association: str | None = None,
    mappings=None,
    reading: Reading | None = None,
) -> Callable[[str], str | None]:
    """A function from a delivered label ('Försörjningsstöd', 'Landstinget Dalarna', 'AKS, FBS') to codes.

    The contract's codes, labels and aliases first; then the county's mappings for this column
    (the association's own before the county's); then a municipality where the list takes
    KOMMUN:<kod>; then the owners' words (`Contract.vocabulary`)."""
    contract = load_contract()
    vocabulary = contract.vocabulary(code_list)
    order = {code: i for i, code in enumerate(contract.codes(code_list))}
    prefix = contract.prefixed(code_list)
    reading = reading if reading is not None else Reading()

    def one(value: str) -> str | None:
        match = vocabulary.match(value)
        if match.how == "exact":
            return match.code
        if mappings is not None:
            mapped = mappings.lookup(column, value, association)
            if mapped:
                reading.mapped[value] = mapped
                return mapped
        if prefix:
            folded = fold(value)
            found = re.fullmatch(rf"{prefix.lower()} ?:? ?(\d{{3,4}})", folded)
            if found:
                return f"{prefix}:{found[1].zfill(4)}"
            code = kommun_code(value)
            if code:
                return f"{prefix}:{code}"
        if match.code:
            if match.how == "fuzzy":
                reading.guessed[value] = match.code
            return match.code
        if match.candidates:
            reading.ambiguous[value] = match.candidates
        return None

    def convert(value: str) -> str | None:
        whole = one(value)  # a label may itself hold a separator ('sjukpenning/rehabiliteringspenning')
        if whole:
            return whole
        parts = [p for p in CODE_SEPARATORS.split(value) if p.strip()]
        if len(parts) < 2:
            return None
        reading.ambiguous.pop(value, None)  # the parts speak for themselves
        codes = [one(p) for p in parts]
        if not all(codes):
            return None
        if not multi:  # 'Högskola/universitet' is one code; 'Arbete/studier' could be either
            if len(set(codes)) == 1:
                return codes[0]
            reading.ambiguous[value] = tuple(sorted(set(codes), key=lambda c: (order.get(c, 99), c)))
            return None
        unique = sorted(
            set(c for code in codes for c in code.split("+")), key=lambda c: (order.get(c.split(":")[0], 99), c)
        )
        return "+".join(unique)

    return convert


def parse_codes(series: pd.Series, code_list: str, multi: bool) -> pd.Series:
    return per_unique(series, _each(code_parser(code_list, multi)))


KOMMUN_WORDS = re.compile(r"\b(?:kommun|kommunen|kommuns|k n|stad|stads|staden|municipality)\b")


def kommun_code(value: str) -> str | None:
    """'2084', '2084 Avesta', 'Avesta', 'Avesta kommun', 'Kommun: Avesta', 'Avesta (2084)' -> '2084'."""
    text = value.strip()
    if re.fullmatch(r"\d{3,4}", text):
        return text.zfill(4)
    names = municipality_names()
    digits = re.findall(r"\d+", text)
    folded = fold(re.sub(r"\d", " ", text))
    name = " ".join(KOMMUN_WORDS.sub(" ", folded).split())
    by_name = names.get(name) or (names.get(name[:-1]) if name.endswith("s") else None)  # 'Avestas kommun'
    by_code = digits[0].zfill(4) if len(digits) == 1 and len(digits[0]) in (3, 4) else None
    if by_code is not None and by_code not in municipalities():
        by_code = None
    if by_code and (not name or by_name == by_code):  # '2084', 'Kommun 2084', 'Avesta (2084)'
        return by_code
    if by_name and not digits:  # 'Avesta', 'Avesta kommun', 'Stockholms stad'
        return by_name
    return None


def parse_kommun(series: pd.Series) -> pd.Series:
    return per_unique(series, _each(kommun_code))


def parse_percent(series: pd.Series) -> pd.Series:
    return per_unique(series, _each(percent_text))


def column_parser(
    col, *, association: str | None = None, mappings=None, reading: Reading | None = None
) -> Callable[[pd.Series], pd.Series] | None:
    """The parser of one contract column (Series -> Series, run on its distinct values), by type.

    `mappings`/`association`: the county's own words for the column; `reading` collects the
    values read by a mapping, through a typo, or left unread as ambiguous."""
    if col.type == "date":
        return _each(date_text)
    if col.type == "int":
        return _each(int_text)
    if col.type == "amount":
        return _each(number_text)
    if col.type == "percent":
        return _each(percent_text)
    if col.type == "months":
        return _each(months_text)
    if col.type in ("code", "codes", "yesno"):
        code_list = col.codes if col.type != "yesno" else "ja_nej"
        return _each(
            code_parser(
                code_list,
                multi=col.type == "codes",
                column=col.name,
                association=association,
                mappings=mappings,
                reading=reading,
            )
        )
    if col.type == "kommun":
        return _each(kommun_code)
    if col.type == "email":
        return lambda values: values.str.lower()
    if col.name == "insats_kod":
        return lambda values: values.str.upper()
    return None


def reading_notes(
    name: str, reading: Reading, rows_by_value: Callable[[str], dict[int, np.ndarray]]
) -> dict[int, list[Finding]]:
    """Findings per part for the values of one column read by a county mapping or through a typo."""
    from ingestion.core.findings import INFO

    notes: dict[int, list[Finding]] = {}
    for value, code in reading.mapped.items():
        for i, rows in rows_by_value(value).items():
            notes.setdefault(i, []).append(
                Finding(
                    INFO,
                    "lansmappning",
                    f"värdet översattes till {code} enligt länets mappning "
                    "(config/mappings.yml); hör av dig till länets dataenhet om det är fel.",
                    column=name,
                    value=value,
                    rows=sorted(int(r) for r in rows),
                )
            )
    for value, code in reading.guessed.items():
        for i, rows in rows_by_value(value).items():
            notes.setdefault(i, []).append(
                Finding(
                    INFO,
                    "tolkad_stavning",
                    f"värdet lästes som {code} (stavningen liknar en giltig benämning); skriv gärna koden nästa gång.",
                    column=name,
                    value=value,
                    rows=sorted(int(r) for r in rows),
                )
            )
    return notes


# ---------------------------------------------------------------- the normaliser


def _rows_text(rows: pd.Series) -> str:
    listed = [str(int(r)) for r in rows.head(NOTE_ROWS)]
    more = f" m.fl. ({len(rows)} st)" if len(rows) > NOTE_ROWS else ""
    return ", ".join(listed) + more


def _holds_pnr(series: pd.Series) -> pd.Series:
    """True where a cell holds something shaped like a personnummer (checked once per distinct value)."""
    codes, uniques = _factorize(series)
    hits = np.append(pz.holds_pnr(uniques).to_numpy(dtype=bool), False)  # code -1 (empty) -> False
    return pd.Series(hits[codes], index=series.index)


def _starts_with_total(series: pd.Series) -> pd.Series:
    """'Summa', 'TOTALT', 'Summa kostnader' (cells are already stripped)."""
    hits = pc.match_substring_regex(pa.array(series), "(?i)" + TOTAL_ROW.pattern)
    return pd.Series(pc.fill_null(hits, False).to_numpy(zero_copy_only=False), index=series.index)


def _first_filled(body: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Each row's first non-empty cell, left to right."""
    first = pc.coalesce(*[pa.array(body[name]) for name in columns])
    return pd.Series(pd.array(first, dtype="string"), index=body.index, dtype="string")


def normalise(
    cells: pd.DataFrame,
    kind: str,
    association: str,
    secret: bytes,
    erased: set[str] | frozenset[str] = frozenset(),
    mappings=None,
) -> Normalised:
    """The delivery's rows in the contract's columns. `erased`: keys of persons who withdrew consent."""
    result = normalise_many([cells], kind, association, secret, erased, mappings=mappings)[0]
    if isinstance(result, BaseException):
        raise result
    return result


def normalise_many(
    cells_list: list[pd.DataFrame],
    kind: str,
    association: str,
    secret: bytes,
    erased: set[str] | frozenset[str] = frozenset(),
    mappings=None,
) -> list[Normalised | UnreadableFile]:
    """`normalise` for many deliveries of one kind and association at once.

    Each delivery keeps its own header, notes, counts and row numbers, exactly as `normalise`
    gives them; the columnar work (blank cells, personnummer scrub, typing each distinct value,
    keyed hashes) runs once over all their rows, not once per small file. A delivery that
    cannot be read is returned as its `UnreadableFile`. The stages follow below, in this order.
    """
    batch = _Batch(columns=load_contract().columns(kind), results=[None] * len(cells_list))
    files = _find_headers(batch, cells_list, kind)
    if not batch.parts:
        return batch.results
    _one_frame(batch, files)
    _drop_blank_and_total_rows(batch)
    if not batch.parts:
        return batch.results
    for name in batch.read:  # each column once, over its distinct values (personnummer is `_identities`')
        if name == "personnummer":
            continue
        typed = _parser_of(batch.columns[name], association, mappings)
        distinct = _scrub_personnummer(batch, name, distinct=typed is not None)
        if typed is not None:
            _type_column(batch, name, *typed, distinct)
    if load_contract().identifies_persons(kind):  # deltagare, uppfoljning: by declaration
        _identities(batch, association, secret, erased)
    if kind == "budget":
        _budget_lines(batch)
    return _split(batch)


@dataclass
class _Part:
    """One delivery inside a batch: its own header, notes and counts."""

    value_cols: list[str]
    notes: list[Finding]
    had_pnr: bool = False
    rows_read: int = 0
    rows_dropped: int = 0
    totals: pd.DataFrame | None = None
    column_notes: dict[str, list[Finding]] = field(default_factory=dict)
    late_notes: list[Finding] = field(default_factory=list)


class _Rows(NamedTuple):
    """One delivery's cells below its header, by contract column (NumPy arrays, not yet a frame)."""

    file: int  # its position in the batch
    header: int  # the header's row index in the sheet (0-based)
    count: int
    columns: dict[str, np.ndarray]


@dataclass
class _Batch:
    """The deliveries of one `normalise_many` call, worked on as one frame.

    `parts` are the deliveries still in the batch (by position); one that cannot be read leaves it
    with its `UnreadableFile` in `results`, where the others get their `Normalised` at the end.
    `body` holds the rows of every delivery (`source_row`, then the columns) and `part`, row for
    row, the delivery the row came from; rows of one delivery stay together and in order."""

    columns: dict  # the contract's columns of the kind
    results: list
    parts: dict[int, _Part] = field(default_factory=dict)
    read: list[str] = field(default_factory=list)  # every column some delivery has, in order of first appearance
    body: pd.DataFrame | None = None
    part: np.ndarray | None = None

    def fail(self, i: int, reason: str) -> None:
        """Delivery i leaves the batch, unreadable for this reason."""
        self.results[i] = UnreadableFile(reason)
        del self.parts[i]

    def keep(self, rows: np.ndarray) -> None:
        """Keep only these rows (a boolean mask over `body`)."""
        self.body, self.part = self.body[rows].reset_index(drop=True), self.part[rows]

    def rows_per_part(self) -> np.ndarray:
        """How many rows of `body` each delivery has, by position."""
        return np.bincount(self.part, minlength=len(self.results))


def _by_part(part: np.ndarray, mask: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    """values[mask] grouped by part (each group in row order)."""
    chosen = np.flatnonzero(mask)
    if not len(chosen):
        return {}
    keys = part[chosen]
    order = np.argsort(keys, kind="stable")
    keys, chosen = keys[order], chosen[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    return {int(group[0]): values[rows] for group, rows in zip(np.split(keys, bounds), np.split(chosen, bounds))}


# 1. each file's header, and the cells outside the columns read


def _find_headers(batch: _Batch, cells_list: list[pd.DataFrame], kind: str) -> list[_Rows]:
    """Each delivery's header row and the contract columns under it (`locate_header`); without one
    the delivery is unreadable. Columns the contract does not know are named in a note and not read.

    The cells the delivery is not read from (title rows, unknown columns) still decide whether the
    file held personnummer: then only its pseudonymised copy may ever be kept. Returns each
    delivery's rows below its header."""
    files: list[_Rows] = []
    outside: list[np.ndarray] = []
    outside_file: list[np.ndarray] = []
    for i, frame in enumerate(cells_list):
        cells = frame.to_numpy(dtype=object)  # numpy slices: pandas' per-call cost adds up over many small files
        try:
            header_index, mapping = locate_header(cells, kind)
        except UnreadableFile as exc:
            batch.results[i] = exc
            continue
        batch.parts[i] = _Part(
            value_cols=[mapping[c] for c in mapping], notes=_unknown_columns(cells[header_index].tolist(), mapping)
        )
        unmapped = [c for c in range(cells.shape[1]) if c not in mapping]
        not_read = [cells[: header_index + 1].ravel()]
        if unmapped:
            not_read.append(cells[header_index + 1 :, unmapped].ravel())
        for values in not_read:
            outside.append(values)
            outside_file.append(np.full(len(values), i, dtype=np.int64))
        rows = cells[header_index + 1 :]
        files.append(_Rows(i, header_index, len(rows), {mapping[c]: rows[:, c] for c in mapping}))
    values = np.concatenate(outside) if outside else np.array([], dtype=object)
    if len(values):
        where = np.concatenate(outside_file)
        holds = _holds_pnr(pd.Series(values, dtype="string")).to_numpy()
        for i in np.unique(where[holds]):
            batch.parts[int(i)].had_pnr = True
    return files


def _unknown_columns(header_cells: list, mapping: dict[int, str]) -> list[Finding]:
    """A note naming the header's columns the contract does not know (scrubbed of personnummer)."""
    unknown = [
        pz.scrub_text(str(v).strip())[0]
        for j, v in enumerate(header_cells)
        if v and str(v).strip() and j not in mapping
    ]
    if not unknown:
        return []
    return [
        Finding(
            WARNING,
            "okanda_kolumner",
            f"kolumnerna {', '.join(unknown[:8])} finns inte i exportkontraktet och lästes inte in.",
        )
    ]


# 2. one frame from all files


def _one_frame(batch: _Batch, files: list[_Rows]) -> None:
    """One frame from every delivery's columns (no DataFrame per small file): `source_row` (the row
    number in the sheet, header counted, 1-based), then every column some delivery has, with blank
    cells as NA (a column a delivery lacks is empty in its rows), then the contract's columns no
    delivery has, empty."""
    batch.read = list(dict.fromkeys(name for f in files for name in f.columns))
    data = {
        "source_row": np.concatenate([np.arange(f.header + 2, f.header + 2 + f.count, dtype=np.int64) for f in files])
    }
    for name in batch.read:
        data[name] = np.concatenate(
            [f.columns[name] if name in f.columns else np.full(f.count, None, dtype=object) for f in files]
        )
    body = pd.DataFrame(data)
    del data
    part = np.concatenate([np.full(f.count, f.file, dtype=np.int64) for f in files])
    for name in batch.read:
        body[name] = _blank_to_none(body[name])
        _cap_cells(batch, body, part, name)
    for name in batch.columns:
        if name not in body.columns:
            body[name] = pd.Series(pd.NA, index=body.index, dtype="string")
    batch.body = body
    batch.part = part


MAX_CELL_CHARS = 1000  # no field of the contract needs more; a longer cell is cut here, before anything holds it


def _cap_cells(batch: _Batch, body: pd.DataFrame, part: np.ndarray, name: str) -> None:
    """A cell longer than MAX_CELL_CHARS is cut to its start and its length (`bounded`), so no
    later stage (the raw zone, GX and its stored results, findings, mails) ever holds a 50 MB
    value; each delivery's notes say which rows, as a warning."""
    lengths = pc.utf8_length(pa.array(body[name], type=pa.string()))
    over = pc.fill_null(pc.greater(lengths, MAX_CELL_CHARS), False).to_numpy(zero_copy_only=False)
    if not over.any():
        return
    positions = np.flatnonzero(over)
    column = body[name].copy()
    column.iloc[positions] = [bounded(column.iloc[p], 60) for p in positions]
    body[name] = column
    for i, rows in _by_part(part, over, body["source_row"].to_numpy()).items():
        batch.parts[i].late_notes.append(
            Finding(
                WARNING,
                "for_lang_cell",
                f"cellen är längre än {MAX_CELL_CHARS} tecken; bara början lästes in "
                f"(rad {_rows_text(pd.Series(rows))}).",
                column=name,
            )
        )


# 3. blank and total rows


def _drop_blank_and_total_rows(batch: _Batch) -> None:
    """Blank rows and total rows (Summa/Totalt) are no data: they are dropped, and each delivery's
    notes say which (its total rows are kept aside, in `totals`, for the budget's sum checks).

    Empty rows after a delivery's last row are not rows at all. A delivery with a header and no
    row below it, or with only blank and total rows, is unreadable."""
    blank = _without_trailing_blank_rows(batch)
    total = _total_rows(batch) & ~blank
    _note_dropped_rows(batch, blank, total)
    batch.keep(~blank & ~total)
    counts = batch.rows_per_part()
    for i in list(batch.parts):
        if counts[i] == 0:
            batch.fail(i, "filen innehåller inga datarader, bara tomma rader och summeringsrader")


def _without_trailing_blank_rows(batch: _Batch) -> np.ndarray:
    """Removes the empty rows after each delivery's last row and counts its rows (`rows_read`);
    returns which of the rows left are blank."""
    blank = batch.body[batch.read].isna().all(axis=1).to_numpy()
    position = np.arange(len(batch.body))
    last = pd.Series(np.where(blank, -1, position)).groupby(batch.part).transform("max").to_numpy()
    keep = position <= last
    batch.keep(keep)
    counts = batch.rows_per_part()
    for i, p in list(batch.parts.items()):
        p.rows_read = int(counts[i])
        if p.rows_read == 0:
            batch.fail(i, "filen har en rubrikrad men inga datarader")
    return blank[keep]


def _total_rows(batch: _Batch) -> np.ndarray:
    """Rows whose first filled cell (in the delivery's own column order) starts with Summa, Totalt,
    Netto…, or with such a text in a text column ('Summa kostnader' in the line text, with the
    year filled in before it)."""
    body, part = batch.body, batch.part
    total = np.zeros(len(body), dtype=bool)
    orders: dict[tuple[str, ...], list[int]] = {}
    for i, p in batch.parts.items():
        orders.setdefault(tuple(p.value_cols), []).append(i)
    for order, members in orders.items():
        rows = np.isin(part, members)
        if rows.any():
            sub = body.loc[rows, list(order)]
            total[rows] = _starts_with_total(_first_filled(sub, list(order))).to_numpy(dtype=bool)
    for name in batch.read:
        if batch.columns[name].type == "text" and name != "deltagar_id":
            total |= _starts_with_total(body[name]).to_numpy(dtype=bool)
    return total


def _note_dropped_rows(batch: _Batch, blank: np.ndarray, total: np.ndarray) -> None:
    """Each delivery's notes on its blank and total rows, its `rows_dropped`, and its total rows
    (indexed by their position among its rows)."""
    body, part = batch.body, batch.part
    blank_rows = _by_part(part, blank, body["source_row"].to_numpy())
    total_rows = _by_part(part, total, np.arange(len(body)))
    first_row = {}
    if len(part):
        starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
        first_row = {int(part[s]): int(s) for s in starts}
    for i, p in batch.parts.items():
        if i in blank_rows:
            rows = pd.Series(blank_rows[i])
            p.notes.append(
                Finding(WARNING, "tomma_rader", f"{len(rows)} tomma rader hoppades över (rad {_rows_text(rows)}).")
            )
        picked = total_rows.get(i, np.array([], dtype=np.int64))
        totals = body.iloc[picked][["source_row", *p.value_cols]].copy()
        totals.index = pd.RangeIndex(len(body))[picked] - first_row.get(i, 0)
        for row in totals["source_row"]:
            p.notes.append(
                Finding(
                    WARNING,
                    "summeringsrad",
                    "summeringsraden (Summa/Totalt) lästes inte in som data; "
                    "den används bara för att kontrollera summan.",
                    row=int(row),
                )
            )
        p.totals = totals
        p.rows_dropped = len(blank_rows.get(i, ())) + len(picked)


# 4. personnummer outside its column; 5. every column typed once per distinct value


def _parser_of(col, association: str, mappings) -> tuple[Callable[[pd.Series], pd.Series], Reading] | None:
    """The contract's parser of a column and the `Reading` it records into; None for a column that
    is not typed (ids, names, free text)."""
    if col.name == "deltagar_id":
        return None
    reading = Reading()
    parser = column_parser(col, association=association, mappings=mappings, reading=reading)
    return None if parser is None else (parser, reading)


def _scrub_personnummer(batch: _Batch, name: str, *, distinct: bool) -> tuple[np.ndarray, pd.Series] | None:
    """A personnummer outside its own column is never stored. In `deltagar_id` it is no project
    pseudonym: it is read as the row's personnummer (when that cell is empty); in any other column
    it is scrubbed from the text. Each delivery that had one is marked and told in which rows.

    With `distinct` the column is searched once per distinct value, and its distinct values (after
    the scrub) are returned for typing: `(codes, uniques)` as `_factorize` gives them. A column
    that is not typed is searched whole (finding its distinct values would cost more)."""
    body = batch.body
    if distinct:
        codes, uniques = _factorize(body[name])
        found = np.append(pz.holds_pnr(uniques).to_numpy(dtype=bool), False)  # code -1 (empty) -> False
        hits = pd.Series(found[codes], index=body.index)
    else:
        hits = pz.holds_pnr(body[name])
    if hits.any():
        if name == "deltagar_id":
            move = hits & body["personnummer"].isna()
            body["personnummer"] = body["personnummer"].where(~move, body["deltagar_id"])
            body["deltagar_id"] = body["deltagar_id"].where(~hits)  # the number is no project pseudonym
            message = "ett personnummer stod i kolumnen deltagar_id; det behandlades som personnummer."
        else:
            body[name] = per_unique(body[name], _each(lambda v: pz.scrub_text(v)[0]))
            message = "ett personnummer stod i en kolumn där det inte hör hemma och togs bort."
        for i, rows in _by_part(batch.part, hits.to_numpy(dtype=bool), body["source_row"].to_numpy()).items():
            batch.parts[i].had_pnr = True
            batch.parts[i].column_notes[name] = [
                Finding(WARNING, "personnummer_i_fel_kolumn", message, column=name, row=int(row))
                for row in rows[:NOTE_ROWS]
            ]
        if distinct:
            codes, uniques = _factorize(body[name])
    return (codes, uniques) if distinct else None


def _type_column(
    batch: _Batch,
    name: str,
    parser: Callable[[pd.Series], pd.Series],
    reading: Reading,
    distinct: tuple[np.ndarray, pd.Series],
) -> None:
    """The column typed by the contract: the parser runs once per distinct value and the results
    are spread back to the rows. Values a county mapping translated or that were read through a
    typo become notes of the deliveries they came from (`reading_notes`)."""
    body = batch.body
    codes, uniques = distinct
    body[name] = _spread(codes, parser(uniques) if len(uniques) else [], body.index)
    if reading.mapped or reading.guessed:
        source_row = body["source_row"].to_numpy()
        position = {value: j for j, value in enumerate(uniques.tolist())}
        for i, found in reading_notes(
            name, reading, lambda value: _by_part(batch.part, codes == position[value], source_row)
        ).items():
            batch.parts[i].column_notes.setdefault(name, []).extend(found)


# 6. identities


def _identities(
    batch: _Batch, association: str, secret: bytes, erased: set[str] | frozenset[str] = frozenset()
) -> None:
    """Replace personnummer by person_key; anonymous rows carry no identity at all.

    A delivery whose personnummer column holds anything held personnummer. The rows lose
    personnummer and deltagar_id; rows of persons who withdrew their consent (`erased` keys) are
    dropped, counted in their delivery's `rows_dropped` and said so in its notes.
    """
    body, part, parts = batch.body, batch.part, batch.parts
    for i in np.unique(part[body["personnummer"].notna().to_numpy(dtype=bool)]):
        parts[int(i)].had_pnr = True
    # A kind without an `anonym` column (uppfoljning) has no anonymous rows.
    anonymous = body["anonym"].fillna("N").eq("J") if "anonym" in body.columns else pd.Series(False, index=body.index)
    # A placeholder such as '-' or 'saknas' is no number: the cell counts as empty. Excel drops
    # the leading zero of a 10-digit number stored as a number (born 2000-2009): put it back.
    pnr = body["personnummer"].where(body["personnummer"].str.contains(r"\d", regex=True, na=False))
    pnr = pnr.str.replace(r"^(\d{9})$", r"0\1", regex=True)
    has_identity = pnr.notna() | body["deltagar_id"].notna()
    mistaken = anonymous & has_identity
    if mistaken.any():
        for i, rows in _by_part(part, mistaken.to_numpy(dtype=bool), body["source_row"].to_numpy()).items():
            parts[i].late_notes.append(
                Finding(
                    WARNING,
                    "anonym_med_identitet",
                    "raden är markerad som anonym men hade personnummer eller deltagar-id ifyllt; "
                    f"identiteten togs bort och raden räknas som anonym (rad {_rows_text(pd.Series(rows))}).",
                    column="anonym",
                )
            )
    pnr = pnr.where(~anonymous)
    canonical = pz.canonical_pnrs(pnr)
    given = pnr.notna().to_numpy(dtype=bool)
    valid = canonical.notna().to_numpy(dtype=bool)
    status = _spread(np.select([given & valid, given], [0, 1], -1), ["ok", "ogiltigt"], body.index)

    ids = body["deltagar_id"].where(~anonymous)
    by_pnr = canonical.notna().to_numpy(dtype=bool)
    by_id = ~by_pnr & ids.notna().to_numpy(dtype=bool)
    # One keyed hash per row: of the number, else of the association's own pseudonym.
    body["person_key"] = pz.hmac_keys(secret, canonical.fillna(pz.pseudonym_message(association, ids)))
    source = _spread(np.select([by_pnr, by_id], [0, 1], -1), ["personnummer", "deltagar_id"], body.index)
    body["person_key_source"] = source
    body["personnummer_status"] = status
    body["is_anonymous"] = anonymous
    # Birth year from the personnummer when the column was left empty, else from the age at
    # start that anonymous lists often give instead (start year − age).
    if "fodelsear" in body.columns:
        body["fodelsear"] = body["fodelsear"].fillna(canonical.str.slice(0, 4))
    missing = body["fodelsear"].isna() & body["alder"].notna() if {"alder", "fodelsear"} <= set(body.columns) else None
    if missing is not None and missing.any():
        body.loc[missing, "fodelsear"] = _birth_year_from_age(
            body.loc[missing, "startdatum"], body.loc[missing, "alder"]
        )
    batch.body = body.drop(columns=["personnummer", "deltagar_id"])

    if erased:
        withdrawn = batch.body["person_key"].isin(erased).fillna(False).astype(bool).to_numpy()
        if withdrawn.any():
            for i, rows in _by_part(part, withdrawn, batch.body["source_row"].to_numpy()).items():
                removed = len(rows)
                parts[i].rows_dropped += removed
                parts[i].late_notes.append(
                    Finding(
                        WARNING,
                        "samtycke_aterkallat",
                        f"en person som har återkallat sitt samtycke togs bort ({removed} rader); "
                        "skicka inte längre uppgifter om personen.",
                    )
                )
            batch.keep(~withdrawn)


# 7. budget defaults


def _budget_lines(batch: _Batch) -> None:
    """The budget's defaults (`_budget_defaults`), and each delivery's total rows as plain numbers
    for the sum checks."""
    batch.body = _budget_defaults(batch.body)
    for p in batch.parts.values():
        for name in ("budget", "utfall", "differens", "prognos"):
            if len(p.totals) and name in p.totals.columns:
                p.totals[name] = parse_numbers(p.totals[name])


# 8. one result per file


def _split(batch: _Batch) -> list[Normalised | UnreadableFile]:
    """The batch back as one `Normalised` per delivery: its rows (indexed from 0), its columns in its
    own order, then the contract's other columns, then what normalising added (person_key, ...);
    its notes: header and dropped rows, then per column in its own order, then identities."""
    body, part = batch.body, batch.part
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]]) if len(part) else np.array([], dtype=np.int64)
    ends = np.r_[starts[1:], len(part)]
    spans = {int(part[s]): (int(s), int(e)) for s, e in zip(starts, ends)}
    for i, p in batch.parts.items():
        start, end = spans.get(i, (0, 0))
        frame = body.iloc[start:end].reset_index(drop=True)
        base = p.value_cols + [c for c in batch.columns if c not in p.value_cols]
        ordered = [
            "source_row",
            *[c for c in base if c in frame.columns],
            *[c for c in frame.columns if c != "source_row" and c not in base],
        ]
        notes = p.notes + [n for name in p.value_cols for n in p.column_notes.get(name, [])] + p.late_notes
        batch.results[i] = Normalised(
            frame=frame[ordered],
            rows_read=p.rows_read,
            rows_dropped=p.rows_dropped,
            notes=notes,
            totals=p.totals if len(p.totals) else None,
            had_personnummer=p.had_pnr,
        )
    return batch.results


def _birth_year_from_age(start: pd.Series, age: pd.Series) -> pd.Series:
    """Start year − age at start, where the start date and the age (a whole number) both parsed."""
    year = pd.to_numeric(start.str.extract(r"^(\d{4})-\d{2}-\d{2}$", expand=False), errors="coerce")
    years = pd.to_numeric(age.where(age.str.fullmatch(r"\d{1,3}").fillna(False).astype(bool)), errors="coerce")
    return (year - years).astype("Int64").astype("string")


def _budget_defaults(body: pd.DataFrame) -> pd.DataFrame:
    """Detailed cost lines map onto the contract's coarser kostnadsslag; the owner's text is kept."""
    contract = load_contract()
    kinds = set(contract.codes("kostnadsslag"))
    aliases = contract.alias_map("kostnadsslag")
    radtyp = body["radtyp"].copy()
    text = body["rad_text"].fillna(body["kostnadsslag"].where(~body["kostnadsslag"].isin(kinds)))
    inferred = (
        text.fillna("")
        .map(fold)
        .map(
            lambda t: (
                "FINANSIERING"
                if re.search(r"intakt|bidrag|finansiering", t)
                else ("BEVILJAT" if "beviljat" in t else "KOSTNAD")
            )
        )
        .astype("string")
    )
    body["radtyp"] = radtyp.fillna(inferred.where(text.notna()))
    is_cost = body["radtyp"].eq("KOSTNAD")
    unknown_kind = is_cost & body["kostnadsslag"].notna() & ~body["kostnadsslag"].isin(kinds)
    body.loc[unknown_kind, "rad_text"] = body.loc[unknown_kind, "rad_text"].fillna(
        body.loc[unknown_kind, "kostnadsslag"]
    )
    mapped = body["rad_text"].fillna("").map(lambda t: aliases.get(fold(t))).astype("string")
    body.loc[unknown_kind, "kostnadsslag"] = mapped[unknown_kind].fillna("OVRIGT")
    missing_kind = is_cost & body["kostnadsslag"].isna() & body["rad_text"].notna()
    body.loc[missing_kind, "kostnadsslag"] = mapped[missing_kind].fillna("OVRIGT")
    # A funding line without finansiär: named by the owner's own text ("Intäkt från Samordningsförbundet").
    is_funding = body["radtyp"].eq("FINANSIERING")
    funders = contract.alias_map("finansiar")
    missing_funder = is_funding & body["finansiar"].isna() & body["rad_text"].notna()
    body.loc[missing_funder, "finansiar"] = (
        body.loc[missing_funder, "rad_text"]
        .map(
            lambda t: (
                funders.get(fold(t)) or ("FORBUNDET" if re.search(r"samordningsforbund|forbundet", fold(t)) else None)
            )
        )
        .astype("string")
    )
    # Revenue written as a negative number on a funding line counts as a positive amount.
    negative = body["budget"].fillna("").str.startswith("-")
    body.loc[is_funding & negative, "budget"] = body.loc[is_funding & negative, "budget"].str[1:]
    return body


def read_delivery(
    path: Path,
    kind: str,
    association: str,
    secret: bytes,
    *,
    max_bytes: int,
    max_unzipped: int,
    erased: set[str] | frozenset[str] = frozenset(),
    mappings=None,
) -> Normalised:
    """Read and normalise one delivery. Whatever goes wrong fails this delivery, never the run."""
    from ingestion.intake.readers import read_cells

    return _guarded(
        path,
        lambda: normalise(
            read_cells(path, kind, max_bytes=max_bytes, max_unzipped=max_unzipped),
            kind,
            association,
            secret,
            erased,
            mappings=mappings,
        ),
    )


def _guarded(path: Path, work: Callable[[], object]):
    """Run one delivery's work; anything that goes wrong becomes this delivery's UnreadableFile."""
    try:
        return work()
    except UnreadableFile:
        raise
    except (MemoryError, RecursionError) as exc:
        raise UnreadableFile(f"filen kunde inte läsas inom minnesgränsen ({type(exc).__name__})") from None
    except Exception as exc:  # a reader bug must not stop the other deliveries
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f for f in reversed(frames) if f"{Path(__file__).parent.name}/" in f.filename), frames[-1])
        log.error(
            "Oväntat fel när %s lästes: %s i %s:%s",
            path.name,
            type(exc).__name__,
            Path(where.filename).name,
            where.lineno,
        )
        raise UnreadableFile(
            f"filen kunde inte tolkas (internt fel {type(exc).__name__}; länets dataenhet har fått en logg)"
        ) from None


def read_deliveries(
    paths: list[Path],
    kind: str,
    association: str,
    secret: bytes,
    *,
    max_bytes: int,
    max_unzipped: int,
    erased: set[str] | frozenset[str] = frozenset(),
    mappings=None,
) -> list[Normalised | UnreadableFile]:
    """`read_delivery` for many files of one kind and association: each file is read on its own,
    then all are normalised as one batch (`normalise_many`). A file that cannot be read is
    returned as its UnreadableFile; should the batch itself fail, each file is normalised alone,
    so one odd file never fails the others."""
    from ingestion.intake.readers import read_cells

    results: list = [None] * len(paths)
    cells: dict[int, pd.DataFrame] = {}
    for i, path in enumerate(paths):
        try:
            cells[i] = _guarded(
                path, lambda path=path: read_cells(path, kind, max_bytes=max_bytes, max_unzipped=max_unzipped)
            )
        except UnreadableFile as exc:
            results[i] = exc
    if not cells:
        return results
    order = list(cells)
    try:
        batch = normalise_many([cells[i] for i in order], kind, association, secret, erased, mappings=mappings)
    except Exception:
        log.warning("Satsvis normalisering misslyckades för %s (%s); filerna normaliseras en och en", association, kind)
        batch = []
        for i in order:
            try:
                batch.append(
                    _guarded(
                        paths[i], lambda i=i: normalise(cells[i], kind, association, secret, erased, mappings=mappings)
                    )
                )
            except UnreadableFile as exc:
                batch.append(exc)
    for i, result in zip(order, batch):
        results[i] = result
    return results


def retype(frame: pd.DataFrame, kind: str, association: str, mappings=None) -> tuple[pd.DataFrame, list[Finding]]:
    """A landed delivery's rows read again under today's contract and county mappings (replay).

    The rows are the pseudonymised copy in the raw zone: identities are already keyed hashes
    and valid values already codes, dates and plain numbers, which read as themselves. Values
    that were left as delivered text (unknown then) get another chance. Returns the new rows
    and the notes for the values a county mapping translated or a typo was read through."""
    columns = load_contract().columns(kind)
    body = frame.copy()
    notes: list[Finding] = []
    rows = body["source_row"].to_numpy() if "source_row" in body.columns else np.arange(len(body)) + 2
    single = np.zeros(len(body), dtype=np.int64)
    for name, col in columns.items():
        if name not in body.columns or name in ("personnummer", "deltagar_id"):
            continue
        reading = Reading()
        parser = column_parser(col, association=association, mappings=mappings, reading=reading)
        if parser is None:
            continue
        values = body[name].astype("string")
        codes, uniques = _factorize(values)
        body[name] = _spread(codes, parser(uniques) if len(uniques) else [], body.index)
        if reading.mapped or reading.guessed:
            position = {value: j for j, value in enumerate(uniques.tolist())}
            for found in reading_notes(
                name,
                reading,
                lambda value, codes=codes, position=position: _by_part(single, codes == position[value], rows),
            ).values():
                notes.extend(found)
    if kind == "budget":
        body = _budget_defaults(body)
    return body, notes
