"""A finding: one problem in one delivery, in the words an intervention owner reads.

The same problem in many rows (the same unknown value "Landstinget" in 19 rows) is one
finding naming all its rows (`group_findings`), so the owner reads one line, not 19.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, fields, replace

from ingestion.core.privacy import bounded

BLOCKING = "blocking"  # the delivery is quarantined
WARNING = "warning"  # the delivery loads; the owner should look
INFO = "info"  # information for the owner and the data team; never affects the verdict
SEVERITIES = (BLOCKING, WARNING, INFO)
ROWS_LISTED = 10  # row numbers written out in one line; the rest are counted


MAX_MESSAGE = 4000  # characters of one finding's message or valid-values text


@dataclass
class Finding:
    severity: str  # blocking | warning | info
    check: str  # expectation or check name
    message_sv: str  # what is wrong, in Swedish (never personal data)
    column: str | None = None
    row: int | None = None  # row number in the delivered file (a finding about one row)
    value: str | None = None  # the offending value as delivered (never a personnummer)
    valid_sv: str | None = None  # what would be valid
    rows: list[int] | None = None  # every row, sorted (a finding about several rows; `row` is then None)
    nearest: str | None = None  # the nearest valid code, for a value a code list does not know
    unknown_value: str | None = None  # the delivered text the code list does not know: the value itself,
    #                                   or the unknown part of a cell of several codes ("AKS, Qwxyz" -> "Qwxyz")
    candidates: list[str] | None = None  # the codes an ambiguous value could mean (never guessed)

    def __post_init__(self) -> None:
        # Every text that quotes a delivery is bounded and scrubbed here, once: a 50 MB cell is
        # quoted by its start and length in the mail, the quarantine note, the tables and GX docs.
        self.value = bounded(self.value)
        self.unknown_value = bounded(self.unknown_value)
        self.message_sv = bounded(self.message_sv, MAX_MESSAGE) or ""
        self.valid_sv = bounded(self.valid_sv, MAX_MESSAGE)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        """Also reads findings stored before a field existed (`rows`, `nearest`, …: None)."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    @property
    def row_numbers(self) -> list[int]:
        """The rows this finding is about (none for a finding about the file or a column)."""
        if self.rows:
            return [int(r) for r in self.rows]
        return [int(self.row)] if self.row is not None else []

    @property
    def is_unknown_value(self) -> bool:
        """A value the contract's code list (and the county's mappings) does not read."""
        return bool(self.column) and self.unknown_value not in (None, "")

    def rows_sv(self, listed: int = ROWS_LISTED) -> str | None:
        """'rad 4', or 'rad 3, 5, 8 … och 9 till (19 rader)': the first `listed` rows, then a count."""
        rows = self.row_numbers
        if not rows:
            return None
        if len(rows) == 1:
            return f"rad {rows[0]}"
        text = ", ".join(str(r) for r in rows[:listed])
        if len(rows) > listed:
            text += f" … och {len(rows) - listed} till"
        return f"rad {text} ({len(rows)} rader)"

    def line_sv(self) -> str:
        parts = []
        rows = self.rows_sv()
        if rows:
            parts.append(rows)
        if self.column:
            parts.append(f"kolumn {self.column}")
        if self.value not in (None, ""):
            parts.append(f"värde '{self.value}'")
        where = ", ".join(parts)
        text = f"{where}: {self.message_sv}" if where else self.message_sv
        if self.valid_sv:
            text += f" Giltigt: {self.valid_sv}."
        return text

    def map_command(self, association: str | None = None) -> str | None:
        """The command that teaches the county this value, for the data team:
        `finsam map --column remittent Landstinget REGION --association SODRA`. None unless the
        finding is about an unknown code value with a nearest valid code."""
        if not self.is_unknown_value or not self.nearest:
            return None
        return map_command(self.column, self.unknown_value, self.nearest, association)


def map_command(column: str, value: str, code: str, association: str | None = None) -> str:
    """`finsam map` for one value, every argument quoted for a shell."""
    command = f"finsam map --column {shlex.quote(column)} {shlex.quote(value)} {shlex.quote(code)}"
    return command + (f" --association {shlex.quote(association)}" if association else "")


def _group_key(finding: Finding) -> tuple:
    return tuple(
        tuple(value) if isinstance(value, list) else value
        for value in (getattr(finding, f.name) for f in fields(Finding) if f.name not in ("row", "rows"))
    )


def group_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per problem: findings of one delivery that differ only in their row (same
    severity, check, column, value, message, …) become one finding with all their rows, sorted,
    where the first of them stood. A message that quotes the row's own figures differs per row
    and stays a finding of its own. Grouping grouped findings again changes nothing."""
    groups: dict[tuple, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_group_key(finding), []).append(finding)
    grouped = []
    for members in groups.values():
        if len(members) == 1:
            grouped.append(members[0])
            continue
        rows = sorted({r for m in members for r in m.row_numbers})
        grouped.append(
            replace(members[0], row=rows[0] if len(rows) == 1 else None, rows=rows if len(rows) > 1 else None)
        )
    return grouped


MAPPING_HEADING_SV = "För länets dataenhet: okända värden som kan mappas"


def mappable(findings: list[Finding]) -> list[Finding]:
    """The values the code lists do not know (blocking or warning findings), one finding per
    column and value with all its rows, in the order they were found."""
    merged: dict[tuple[str, str], Finding] = {}
    for f in findings:
        if f.severity not in (BLOCKING, WARNING) or not f.is_unknown_value:
            continue
        key = (f.column, f.unknown_value)
        if key not in merged:
            merged[key] = f
            continue
        rows = sorted(set(merged[key].row_numbers) | set(f.row_numbers))
        merged[key] = replace(
            merged[key], row=rows[0] if len(rows) == 1 else None, rows=rows if len(rows) > 1 else None
        )
    return list(merged.values())


def rows_count_sv(count: int) -> str:
    return "1 rad" if count == 1 else f"{count} rader"


def mapping_lines_sv(findings: list[Finding], association: str | None) -> list[str]:
    """The county data team's section of a report: each unknown value with the `finsam map`
    command that teaches it (none when there is no unknown value)."""
    found = mappable(findings)
    if not found:
        return []
    lines = [
        MAPPING_HEADING_SV,
        "  Stämmer koden: kör kommandot, så läses värdet som den koden i förbundets leveranser framöver "
        "(leveranser i karantän prövas om vid nästa körning). Annars: byt koden i kommandot.",
    ]
    for f in found:
        count = rows_count_sv(len(f.row_numbers)) if f.row_numbers else "filen"
        if f.candidates:
            lines.append(
                f"  - kolumn {f.column}, värde '{f.unknown_value}' ({count}) kan betyda "
                f"{' eller '.join(f.candidates)}; välj den som förbundet menar och ersätt KOD:"
            )
            lines.append(f"      {map_command(f.column, f.unknown_value, 'KOD', association)}")
        elif f.nearest:
            lines.append(
                f"  - kolumn {f.column}, värde '{f.unknown_value}' ({count}), närmaste giltiga kod {f.nearest}:"
            )
            lines.append(f"      {f.map_command(association)}")
        else:
            lines.append(
                f"  - kolumn {f.column}, värde '{f.unknown_value}' ({count}), ingen giltig kod liknar värdet; "
                "ersätt KOD med rätt kod:"
            )
            lines.append(f"      {map_command(f.column, f.unknown_value, 'KOD', association)}")
    return lines


def by_severity(findings: list[Finding]) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """(blocking, warnings, information): the sections an owner reads."""
    return (
        [f for f in findings if f.severity == BLOCKING],
        [f for f in findings if f.severity == WARNING],
        [f for f in findings if f.severity == INFO],
    )


def format_sek(value) -> str:
    """1775000 -> '1 775 000' (Swedish thousands separator)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{abs(number):,.0f}" if number.is_integer() else f"{abs(number):,.2f}"
    text = text.replace(",", " ").replace(".", ",")
    return ("−" if number < 0 else "") + text
