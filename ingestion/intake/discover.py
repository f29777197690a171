"""Step 1: find new deliveries in each association's drop folder."""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestion.core.contract import load_contract
from ingestion.core.privacy import holds_pnr_text, safe_name

# ASCII digits only, and the whole text: a full-width "２０１６" or a trailing newline is no period.
PERIOD_RE = re.compile(r"(?P<year>[0-9]{4})(?:(?P<h>[Hh][12])|(?P<t>[Tt][1-3])|-(?P<m>0[1-9]|1[0-2]))?")


class NameError_(ValueError):
    """A file name that breaks the naming rule."""


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date


def parse_period(text: str) -> Period:
    match = PERIOD_RE.fullmatch(text)
    if not match:
        raise NameError_(
            f"perioden '{text}' följer inte regeln: år (2016), halvår (2016H1), tertial (2016T1–T3) eller månad (2016-05)"
        )
    year = int(match["year"])
    if match["h"]:
        half = int(match["h"][1])
        start, end = date(year, 1 + 6 * (half - 1), 1), date(year, 6 * half, 30 if half == 1 else 31)
        return Period(f"{year}H{half}", start, end)
    if match["t"]:
        t = int(match["t"][1])
        first_month = 1 + 4 * (t - 1)
        last_month = first_month + 3
        return Period(
            f"{year}T{t}", date(year, first_month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])
        )
    if match["m"]:
        month = int(match["m"])
        return Period(
            f"{year}-{month:02d}", date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        )
    return Period(str(year), date(year, 1, 1), date(year, 12, 31))


@dataclass(frozen=True)
class DeliveryName:
    association: str
    intervention: str
    kind: str
    period: Period
    ext: str


FIRST_YEAR = 2004  # Lag (2003:1210) came into force 1 January 2004
IN_TRANSFER = (".part", ".partial", ".tmp", ".filepart", ".crdownload", ".download")


def _diagnose(name: str) -> str:
    """Why a file name breaks the rule, as specifically as can be said."""
    contract = load_contract()
    stem, dot, ext = name.rpartition(".")
    example = "t.ex. SODRA_AVESTA_deltagare_2016T2.xlsx"
    extensions = contract.data["file_name"]["extensions"]
    listed = ", ".join(f".{e}" for e in extensions[:-1]) + f" eller .{extensions[-1]}"
    if not dot:
        return f"filnamnet '{name}' saknar filändelse ({listed}), {example}"
    if ext.lower() not in extensions:
        advice = "spara filen som .xlsx" if ext.lower() in ("xlsm", "xlsb", "xltx", "numbers") else f"leverera {listed}"
        return f"filtypen .{ext} i '{name}' stöds inte; {advice}"
    parts = stem.split("_")
    if len(parts) != 4:
        return (
            f"filnamnet '{name}' ska ha fyra delar åtskilda av understreck: "
            f"<förbund>_<insats>_<typ>_<period>, {example} (här {len(parts)} delar)"
        )
    association, intervention, kind, period = parts
    kinds = ", ".join(contract.data["kinds"])
    if kind not in contract.data["kinds"]:
        near = next((k for k in contract.data["kinds"] if k == kind.lower()), None)
        advice = f"skriv '{near}' med små bokstäver" if near else f"giltiga typer: {kinds}"
        return f"typen '{kind}' i filnamnet '{name}' är inte giltig; {advice}"
    for label, part in (("förbundskoden", association), ("insatskoden", intervention)):
        if not re.fullmatch(r"[A-Za-z0-9-]+", part):
            return f"{label} '{part}' i filnamnet '{name}' får bara innehålla A–Z, 0–9 och bindestreck"
    parse_period(period)  # raises with its own reason
    return f"filnamnet '{name}' följer inte regeln <förbund>_<insats>_<typ>_<period>.{'|'.join(extensions)}, {example}"


def parse_file_name(name: str) -> DeliveryName:
    """Parse `<association>_<intervention>_<kind>_<period>.<ext>` or raise with a Swedish reason.

    A name that holds something shaped like a personnummer is refused without being quoted
    (a reason names it by its shape only), so the number reaches no event, log, mail or table."""
    contract = load_contract()
    if holds_pnr_text(name):
        raise NameError_(
            "filnamnet innehåller något som liknar ett personnummer (namnet visas därför inte); "
            "ge filen ett namn enligt regeln <förbund>_<insats>_<typ>_<period>, t.ex. SODRA_AVESTA_deltagare_2016T2.xlsx"
        )
    stem, dot, ext = name.rpartition(".")
    match = contract.file_name_pattern.fullmatch(f"{stem}.{ext.lower()}" if dot else name)
    if not match:
        raise NameError_(_diagnose(safe_name(name)))
    period = parse_period(match["period"])
    if not FIRST_YEAR <= period.start.year <= 2100:
        raise NameError_(f"året {period.start.year} i filnamnet '{name}' är inte rimligt")
    return DeliveryName(
        match["association"].upper(), match["intervention"].upper(), match["kind"], period, match["ext"].lower()
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FoundFile:
    path: Path
    association: str
    sha256: str
    size: int


def candidate_paths(landing: Path, association: str) -> list[Path]:
    """The files in `<landing>/<association>/` that may be deliveries (not hashed, not sorted).

    The walk never leaves landing: a symbolic link (to a file anywhere) is not a delivery and
    is never read; hidden files, Office lock files (~$) and files still being copied in wait."""
    folder = landing / association
    if not folder.is_dir():
        return []
    root = folder.resolve()
    found = []
    for p in folder.iterdir():
        if p.is_symlink() or p.name.startswith((".", "~$")) or p.name.lower().endswith(IN_TRANSFER):
            continue
        if p.is_file() and p.resolve().parent == root:
            found.append(p)
    return found


def find_files(landing: Path, association: str) -> list[FoundFile]:
    """Every regular file in `<landing>/<association>/`, oldest first (mtime, then name)."""
    files = candidate_paths(landing, association)
    files.sort(key=lambda p: (p.stat().st_mtime, p.name))
    return [FoundFile(p, association, sha256_file(p), p.stat().st_size) for p in files]
