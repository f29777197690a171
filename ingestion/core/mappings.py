"""County mappings: words the data team has taught the pipeline, value -> code per column.

The contract (`contract.yml`) holds the county's shared vocabulary. What it cannot know (a
local unit's name, a word that means one code in one association and another elsewhere, a
word the contract leaves ambiguous on purpose) the data team decides once, in a versioned
file (`config/mappings.yml`, `FINSAM_MAPPINGS`), with `finsam map`. A mapping is applied at
the same place as the contract's labels, and every value it translated is listed to the
owner and the data team in the delivery's report, so a wrong mapping shows and can be undone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from ingestion.core.contract import CONTRACT_PATH, fold, load_contract

HEADER = """\
# Länets mappningar: ord som förbundens ägare skriver, översatta till exportkontraktets koder.
#
# En rad per värde och kolumn; `association` gör mappningen gällande bara för det förbundet.
# Lägg till med `finsam map --column remittent "Landstinget" REGION [--association SODRA]`
# (kommandot kontrollerar att koden finns och att ordet inte redan betyder en annan kod).
# Ta bort en rad för att ångra en mappning. Efter en ändring läses leveranser i karantän om
# automatiskt vid nästa körning (eller med `finsam replay`).
"""


class MappingError(ValueError):
    """A mapping that cannot be added; the message is Swedish."""


@dataclass(frozen=True)
class Mapping:
    column: str
    value: str
    code: str
    association: str | None = None
    added: str | None = None


class Mappings:
    def __init__(self, entries: list[Mapping]):
        self.entries = entries
        self._index: dict[tuple[str, str, str | None], str] = {}
        for entry in entries:
            self._index[(entry.column, fold(entry.value), entry.association)] = entry.code

    def lookup(self, column: str | None, value: str, association: str | None) -> str | None:
        """The association's own mapping first, then the county's."""
        if not self._index or column is None:
            return None
        folded = fold(value)
        if association:
            code = self._index.get((column, folded, association))
            if code:
                return code
        return self._index.get((column, folded, None))

    def __len__(self) -> int:
        return len(self.entries)


EMPTY = Mappings([])


def _entries(data) -> list[Mapping]:
    entries = []
    for item in (data or {}).get("mappings") or []:
        entries.append(
            Mapping(
                column=str(item["column"]),
                value=str(item["value"]),
                code=str(item["code"]),
                association=str(item["association"]) if item.get("association") else None,
                added=str(item["added"]) if item.get("added") else None,
            )
        )
    return entries


@lru_cache(maxsize=8)
def _load(path: str, stamp: tuple[int, int]) -> Mappings:
    with open(path, encoding="utf-8") as handle:
        return Mappings(_entries(yaml.safe_load(handle)))


def load_mappings(path: Path | None) -> Mappings:
    """The mappings file (re-read when it changes); none when it does not exist."""
    if path is None or not Path(path).is_file():
        return EMPTY
    stat = Path(path).stat()
    return _load(str(path), (stat.st_mtime_ns, stat.st_size))


def rules_fingerprint(mappings_path: Path | None) -> str:
    """What a delivery's verdict depends on besides its bytes: the contract and the county mappings.
    A quarantined delivery judged under another fingerprint is re-validated (replay)."""
    digest = hashlib.sha256(CONTRACT_PATH.read_bytes())
    if mappings_path is not None and Path(mappings_path).is_file():
        digest.update(Path(mappings_path).read_bytes())
    return digest.hexdigest()[:16]


def column_code_list(column: str) -> tuple[str, bool]:
    """(code list, multi-valued) of a contract column holding codes, in any kind."""
    contract = load_contract()
    for kind in contract.data["kinds"]:
        col = contract.columns(kind).get(column)
        if col is not None and col.type in ("code", "codes", "yesno"):
            return (col.codes or "ja_nej"), col.type == "codes"
    coded = sorted(
        {
            name
            for kind in contract.data["kinds"]
            for name, c in contract.columns(kind).items()
            if c.type in ("code", "codes", "yesno")
        }
    )
    raise MappingError(
        f"kolumnen {column} har ingen kodlista i exportkontraktet; kolumner med koder: {', '.join(coded)}"
    )


def add_mapping(
    path: Path,
    column: str,
    value: str,
    code: str,
    association: str | None = None,
    known_associations: list[str] | None = None,
    today: date | None = None,
) -> Mapping:
    """Add one mapping to the file after checking it; returns it. Raises MappingError (Swedish)."""
    contract = load_contract()
    code_list, multi = column_code_list(column)
    value = value.strip()
    if not value:
        raise MappingError("värdet är tomt")
    code = code.strip().upper()
    valid = set(contract.codes(code_list))
    prefix = contract.prefixed(code_list)
    parts = code.split("+") if multi else [code]
    for part in parts:
        if part not in valid and not (
            prefix
            and part.startswith(f"{prefix}:")
            and part[len(prefix) + 1 :].isdigit()
            and len(part) == len(prefix) + 5
        ):
            raise MappingError(
                f"koden {part} finns inte i kodlistan {code_list}; giltiga koder: {contract.valid_text(code_list)}"
            )
    if association and known_associations is not None and association not in known_associations:
        raise MappingError(f"förbundet {association} finns inte i länets register ({', '.join(known_associations)})")
    existing = contract.alias_map(code_list).get(fold(value))
    if existing is not None and existing != code:
        raise MappingError(
            f"'{value}' är redan en benämning av koden {existing} i exportkontraktet; "
            f"en mappning till {code} skulle ändra dess betydelse"
        )
    if existing == code:
        raise MappingError(f"'{value}' betyder redan {code} enligt exportkontraktet; ingen mappning behövs")
    data = {}
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = _entries(data)
    for entry in entries:
        if entry.column == column and fold(entry.value) == fold(value) and entry.association == association:
            if entry.code == code:
                raise MappingError(f"mappningen finns redan: {column} '{entry.value}' -> {code}")
            raise MappingError(
                f"'{entry.value}' är redan mappat till {entry.code} i kolumnen {column}"
                f"{' för ' + association if association else ''}; ta bort den raden i {path.name} först"
            )
    entry = Mapping(
        column=column, value=value, code=code, association=association, added=(today or date.today()).isoformat()
    )
    entries.append(entry)
    write_mappings(path, entries)
    return entry


def write_mappings(path: Path, entries: list[Mapping]) -> None:
    rows = []
    for e in sorted(entries, key=lambda e: (e.column, e.association or "", fold(e.value))):
        row = {"column": e.column, "value": e.value, "code": e.code}
        if e.association:
            row["association"] = e.association
        if e.added:
            row["added"] = e.added
        rows.append(row)
    body = yaml.safe_dump({"version": 1, "mappings": rows}, allow_unicode=True, sort_keys=False, width=120)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(HEADER + body, encoding="utf-8")
    tmp.replace(path)
