"""A finding: one problem in one delivery, in the words an intervention owner reads."""
from __future__ import annotations

from dataclasses import asdict, dataclass

BLOCKING = "blocking"
WARNING = "warning"


@dataclass
class Finding:
    severity: str            # blocking | warning
    check: str               # expectation or check name
    message_sv: str          # what is wrong, in Swedish (never personal data)
    column: str | None = None
    row: int | None = None   # row number in the delivered file
    value: str | None = None # the offending value as delivered (never a personnummer)
    valid_sv: str | None = None  # what would be valid

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Finding":
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    def line_sv(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"rad {self.row}")
        if self.column:
            parts.append(f"kolumn {self.column}")
        if self.value not in (None, ""):
            parts.append(f"värde '{self.value}'")
        where = ", ".join(parts)
        text = f"{where}: {self.message_sv}" if where else self.message_sv
        if self.valid_sv:
            text += f" Giltigt: {self.valid_sv}."
        return text


def format_sek(value) -> str:
    """1775000 -> '1 775 000' (Swedish thousands separator)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{abs(number):,.0f}" if number.is_integer() else f"{abs(number):,.2f}"
    text = text.replace(",", " ").replace(".", ",")
    return ("−" if number < 0 else "") + text
