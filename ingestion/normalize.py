"""Turn the text cells of a delivery into the contract's columns.

Valid values are normalised (ISO dates, plain numbers, contract codes). A value that
cannot be read keeps its delivered text, so the quality gate can quote it back to the
owner; it never silently becomes null. Personnummer is replaced by a keyed hash here,
at the first read, and the number itself is dropped.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd

from . import pseudonymize as pz
from .config import REPO_ROOT
from .contract import fold, load_contract
from .findings import WARNING, Finding
from .readers import locate_header

TOTAL_ROW = re.compile(r"^(summa|totalt|total|nettokostnad|netto)\b")
SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
MUNICIPALITIES_CSV = REPO_ROOT / "dbt_project" / "seeds" / "municipalities.csv"


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
    frame: pd.DataFrame                   # contract columns + source_row (+ person_key for deltagare)
    rows_read: int
    rows_dropped: int
    notes: list[Finding] = field(default_factory=list)
    totals: pd.DataFrame | None = None    # dropped Summa/Totalt rows, parsed (budget sum checks)
    had_personnummer: bool = False


# ---------------------------------------------------------------- value parsers (vectorised)

def _blank_to_none(series: pd.Series) -> pd.Series:
    stripped = series.astype("string").str.strip()
    return stripped.mask(stripped == "", None)


def parse_numbers(series: pd.Series) -> pd.Series:
    """'1 775 000', '1775000,50', '−9 000', '+20 000' -> '1775000', '1775000.50', '-9000', '20000'."""
    text = series.astype("string")
    cleaned = (text.str.replace(SPACES, "", regex=True)
               .str.replace("\u2212", "-", regex=False)
               .str.replace("kr", "", regex=False)
               .str.replace(r"^\+", "", regex=True))
    # decimal comma (only one comma, no dot) -> dot
    cleaned = cleaned.where(~cleaned.str.fullmatch(r"-?\d+,\d+").fillna(False),
                            cleaned.str.replace(",", ".", regex=False))
    ok = cleaned.str.fullmatch(NUMBER.pattern).fillna(False)
    canon = cleaned.str.replace(r"\.0+$", "", regex=True)
    return canon.where(ok, text)


def parse_ints(series: pd.Series) -> pd.Series:
    numbers = parse_numbers(series)
    ok = numbers.str.fullmatch(r"-?\d+").fillna(False)
    return numbers.where(ok, series.astype("string"))


def parse_dates(series: pd.Series) -> pd.Series:
    """2016-06-30, 20160630, 160630, 30/6 2016, 30/6/2016, 2016-06-30 00:00:00, Excel serial."""
    text = series.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")

    def fill(mask, values):
        nonlocal out
        out = out.where(~(mask & out.isna()), values)

    iso = text.str.extract(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
    fill(iso[0].notna(), pd.to_datetime(iso[0] + "-" + iso[1] + "-" + iso[2], format="%Y-%m-%d", errors="coerce"))
    eight = text.str.fullmatch(r"(19|20)\d{6}").fillna(False)
    fill(eight, pd.to_datetime(text.where(eight), format="%Y%m%d", errors="coerce"))
    six = text.str.fullmatch(r"\d{6}").fillna(False)
    fill(six, pd.to_datetime(text.where(six), format="%y%m%d", errors="coerce"))
    dm = text.str.extract(r"^(\d{1,2})[/.](\d{1,2})[ /.-](\d{4})$")
    fill(dm[0].notna(), pd.to_datetime(dm[2] + "-" + dm[1] + "-" + dm[0], format="%Y-%m-%d", errors="coerce"))
    serial = text.str.fullmatch(r"[1-6]\d{4}").fillna(False)  # Excel serial days stored as text
    serial_dates = pd.to_datetime("1899-12-30") + pd.to_timedelta(
        pd.to_numeric(text.where(serial), errors="coerce"), unit="D")
    fill(serial, serial_dates)
    iso_text = out.dt.strftime("%Y-%m-%d").astype("string")
    return iso_text.where(out.notna(), text)


def parse_codes(series: pd.Series, code_list: str, multi: bool) -> pd.Series:
    contract = load_contract()
    aliases = contract.alias_map(code_list)
    order = {code: i for i, code in enumerate(contract.codes(code_list))}
    prefix = contract.prefixed(code_list)

    def one(value: str) -> str | None:
        folded = fold(value)
        if folded in aliases:
            return aliases[folded]
        if prefix:
            match = re.fullmatch(rf"{prefix.lower()} ?:? ?(\d{{3,4}})", folded)
            if match:
                return f"{prefix}:{match[1].zfill(4)}"
            code = municipality_names().get(folded)
            if code:
                return f"{prefix}:{code}"
        return None

    cache: dict[str, str] = {}

    def convert(value):
        if value is None or value is pd.NA:
            return None
        if value in cache:
            return cache[value]
        parts = [p for p in re.split(r"\s*(?:\+|,|/|;| och )\s*", value) if p.strip()] if multi else [value]
        codes = [one(p) for p in parts]
        if parts and all(codes):
            unique = sorted(set(codes), key=lambda c: (order.get(c.split(":")[0], 99), c))
            result = "+".join(unique)
        else:
            result = value.strip()
        cache[value] = result
        return result

    return series.astype("object").map(convert).astype("string")


def parse_kommun(series: pd.Series) -> pd.Series:
    names = municipality_names()

    def convert(value):
        if value is None or value is pd.NA:
            return None
        text = value.strip()
        if re.fullmatch(r"\d{3,4}", text):
            return text.zfill(4)
        return names.get(fold(text), text)

    return series.astype("object").map(convert).astype("string")


def parse_percent(series: pd.Series) -> pd.Series:
    return parse_numbers(series.astype("string").str.replace("%", "", regex=False))


# ---------------------------------------------------------------- the normaliser

def normalise(cells: pd.DataFrame, kind: str, association: str, secret: bytes) -> Normalised:
    contract = load_contract()
    columns = contract.columns(kind)
    header_index, mapping = locate_header(cells, kind)
    notes: list[Finding] = []

    unknown = [str(v) for i, v in enumerate(cells.iloc[header_index].tolist()) if v and i not in mapping]
    if unknown:
        notes.append(Finding(WARNING, "okanda_kolumner",
                             f"kolumnerna {', '.join(unknown[:8])} finns inte i exportkontraktet och lästes inte in."))

    body = cells.iloc[header_index + 1:, list(mapping)].copy()
    body.columns = [mapping[c] for c in mapping]
    body.insert(0, "source_row", range(header_index + 2, header_index + 2 + len(body)))
    rows_read = len(body)
    body = body.reset_index(drop=True)
    for name in mapping.values():
        body[name] = _blank_to_none(body[name])

    # Blank rows and trailing total rows are dropped, and said so.
    value_cols = list(mapping.values())
    blank = body[value_cols].isna().all(axis=1)
    first_text = body[value_cols].bfill(axis=1).iloc[:, 0].fillna("").map(fold)
    total = first_text.str.match(TOTAL_ROW.pattern) & ~blank
    totals = body[total].copy()
    if blank.any():
        notes.append(Finding(WARNING, "tomma_rader", f"{int(blank.sum())} tomma rader hoppades över."))
    for row in totals["source_row"]:
        notes.append(Finding(WARNING, "summeringsrad", "summeringsraden (Summa/Totalt) lästes inte in som data; "
                             "den används bara för att kontrollera summan.", row=int(row)))
    body = body[~blank & ~total].reset_index(drop=True)

    for name in columns:
        if name not in body.columns:
            body[name] = pd.Series([None] * len(body), dtype="string")

    # Personnummer anywhere outside its own column is scrubbed, never stored.
    for name in body.columns:
        if name in ("personnummer", "source_row"):
            continue
        col = body[name]
        hits = col.str.contains(pz.PNR_IN_TEXT.pattern, regex=True, na=False)
        if hits.any():
            if name == "deltagar_id" and body["personnummer"].isna()[hits].all():
                body.loc[hits, "personnummer"] = col[hits]
                body.loc[hits, "deltagar_id"] = None
                message = "personnummer i kolumnen deltagar_id behandlades som personnummer."
            else:
                body.loc[hits, name] = col[hits].map(lambda v: pz.scrub_text(v)[0])
                message = "ett personnummer stod i en kolumn där det inte hör hemma och togs bort."
            for row in body.loc[hits, "source_row"].head(20):
                notes.append(Finding(WARNING, "personnummer_i_fel_kolumn", message, column=name, row=int(row)))

    for name, col in columns.items():
        series = body[name]
        if col.type == "date":
            body[name] = parse_dates(series)
        elif col.type == "int":
            body[name] = parse_ints(series)
        elif col.type == "amount":
            body[name] = parse_numbers(series)
        elif col.type == "percent":
            body[name] = parse_percent(series)
        elif col.type in ("code", "codes"):
            body[name] = parse_codes(series, col.codes, multi=col.type == "codes")
        elif col.type == "yesno":
            body[name] = parse_codes(series, "ja_nej", multi=False)
        elif col.type == "kommun":
            body[name] = parse_kommun(series)
        elif col.type == "email":
            body[name] = series.str.strip().str.lower()

    had_pnr = False
    if kind == "deltagare":
        had_pnr = bool(body["personnummer"].notna().any())
        body, more = _identities(body, association, secret)
        notes.extend(more)
    if kind == "budget":
        body = _budget_defaults(body)
        if len(totals):
            for name in ("budget", "utfall", "differens", "prognos"):
                if name in totals.columns:
                    totals[name] = parse_numbers(totals[name])

    ordered = ["source_row", *[c for c in body.columns if c != "source_row"]]
    return Normalised(frame=body[ordered], rows_read=rows_read, rows_dropped=int(blank.sum() + total.sum()),
                      notes=notes, totals=totals if len(totals) else None, had_personnummer=had_pnr)


def _identities(body: pd.DataFrame, association: str, secret: bytes) -> tuple[pd.DataFrame, list[Finding]]:
    """Replace personnummer by person_key; anonymous rows carry no identity at all."""
    notes: list[Finding] = []
    anonymous = body["anonym"].fillna("N").eq("J")
    has_identity = body["personnummer"].notna() | body["deltagar_id"].notna()
    mistaken = anonymous & has_identity
    for row in body.loc[mistaken, "source_row"].head(50):
        notes.append(Finding(WARNING, "anonym_med_identitet",
                             "raden är markerad som anonym men hade personnummer eller deltagar-id ifyllt; "
                             "identiteten togs bort och raden räknas som anonym.", column="anonym", row=int(row)))

    canonical = body["personnummer"].where(~anonymous).map(
        lambda v: pz.canonical_pnr(v) if isinstance(v, str) else None)
    given = body["personnummer"].notna() & ~anonymous
    status = pd.Series(None, index=body.index, dtype="string")
    status[given] = "ok"
    status[given & canonical.isna()] = "ogiltigt"

    keys = canonical.map(lambda c: pz.person_key(secret, c) if isinstance(c, str) else None)
    id_keys = body["deltagar_id"].where(~anonymous).map(
        lambda v: pz.pseudonym_key(secret, association, v) if isinstance(v, str) else None)
    body["person_key"] = keys.fillna(id_keys).astype("string")
    source = pd.Series(None, index=body.index, dtype="string")
    source[id_keys.notna()] = "deltagar_id"
    source[keys.notna()] = "personnummer"
    body["person_key_source"] = source
    body["personnummer_status"] = status
    body["is_anonymous"] = anonymous
    # Birth year from the personnummer when the column was left empty.
    from_pnr = canonical.map(lambda c: str(pz.birth_year(c)) if isinstance(c, str) else None)
    body["fodelsear"] = body["fodelsear"].fillna(from_pnr.astype("string"))
    body = body.drop(columns=["personnummer", "deltagar_id"])
    return body, notes


def _budget_defaults(body: pd.DataFrame) -> pd.DataFrame:
    """Detailed cost lines map onto the contract's coarser kostnadsslag; the owner's text is kept."""
    contract = load_contract()
    kinds = set(contract.codes("kostnadsslag"))
    aliases = contract.alias_map("kostnadsslag")
    radtyp = body["radtyp"].copy()
    text = body["rad_text"].fillna(body["kostnadsslag"].where(~body["kostnadsslag"].isin(kinds)))
    inferred = text.fillna("").map(fold).map(
        lambda t: "FINANSIERING" if re.search(r"intakt|bidrag|finansiering", t) else
        ("BEVILJAT" if "beviljat" in t else "KOSTNAD"))
    body["radtyp"] = radtyp.fillna(inferred.where(text.notna()))
    is_cost = body["radtyp"].eq("KOSTNAD")
    unknown_kind = is_cost & body["kostnadsslag"].notna() & ~body["kostnadsslag"].isin(kinds)
    body.loc[unknown_kind, "rad_text"] = body.loc[unknown_kind, "rad_text"].fillna(body.loc[unknown_kind, "kostnadsslag"])
    mapped = body["rad_text"].fillna("").map(lambda t: aliases.get(fold(t)))
    body.loc[unknown_kind, "kostnadsslag"] = mapped[unknown_kind].fillna("OVRIGT")
    missing_kind = is_cost & body["kostnadsslag"].isna() & body["rad_text"].notna()
    body.loc[missing_kind, "kostnadsslag"] = mapped[missing_kind].fillna("OVRIGT")
    # Revenue written as a negative number on a funding line counts as a positive amount.
    is_funding = body["radtyp"].eq("FINANSIERING")
    negative = body["budget"].fillna("").str.startswith("-")
    body.loc[is_funding & negative, "budget"] = body.loc[is_funding & negative, "budget"].str[1:]
    return body


def read_delivery(path: Path, kind: str, association: str, secret: bytes, *, max_bytes: int,
                  max_unzipped: int) -> Normalised:
    from .readers import read_cells

    cells = read_cells(path, kind, max_bytes=max_bytes, max_unzipped=max_unzipped)
    return normalise(cells, kind, association, secret)
