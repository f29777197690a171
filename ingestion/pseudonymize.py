"""Personnummer/samordningsnummer: checked, then replaced by a keyed hash at the first read.

The key is HMAC-SHA256(county secret, the 12-digit number), so one person gets the same
key in every association and intervention. Project pseudonyms (deltagar_id) are keyed
within their association. No function here ever returns or logs the number itself.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

PNR_SHAPE = re.compile(r"^(?P<century>\d{2})?(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})(?P<sep>[-+]?)(?P<serial>\d{3})(?P<check>\d)$")
# Anything shaped like a personnummer inside free text (used to scrub other columns).
PNR_IN_TEXT = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\d)")
KEY_LENGTH = 32


def luhn_ok(ten_digits: str) -> bool:
    total = 0
    for index, char in enumerate(ten_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return total % 10 == 0


def canonical_pnr(text: str, today: date | None = None) -> str | None:
    """The 12-digit form (YYYYMMDDNNNN) of a valid personnummer or samordningsnummer, else None."""
    cleaned = re.sub(r"\s", "", str(text))
    match = PNR_SHAPE.match(cleaned)
    if not match:
        return None
    yy, mm, dd = match["yy"], int(match["mm"]), int(match["dd"])
    day = dd - 60 if dd > 60 else dd  # samordningsnummer: day + 60
    if not (1 <= mm <= 12 and 1 <= day <= 31):
        return None
    if not luhn_ok(f"{yy}{match['mm']}{match['dd']}{match['serial']}{match['check']}"):
        return None
    if match["century"]:
        century = match["century"]
    else:
        today = today or date.today()
        year = 2000 + int(yy)
        if year > today.year:
            year -= 100
        if match["sep"] == "+":
            year -= 100
        century = str(year)[:2]
    return f"{century}{yy}{match['mm']}{match['dd']}{match['serial']}{match['check']}"


def birth_year(canonical: str) -> int:
    return int(canonical[:4])


def person_key(secret: bytes, canonical: str) -> str:
    return hmac.new(secret, canonical.encode("ascii"), hashlib.sha256).hexdigest()[:KEY_LENGTH]


def pseudonym_key(secret: bytes, association: str, deltagar_id: str) -> str:
    """A project's own pseudonym, scoped to its association."""
    return hmac.new(secret, f"id:{association}:{deltagar_id.strip()}".encode("utf-8"),
                    hashlib.sha256).hexdigest()[:KEY_LENGTH]


def key_for_input(secret: bytes, given: str) -> str | None:
    """`finsam forget` accepts a personnummer or an existing key."""
    given = given.strip()
    if re.fullmatch(r"[0-9a-f]{%d}" % KEY_LENGTH, given):
        return given
    canonical = canonical_pnr(given)
    return person_key(secret, canonical) if canonical else None


def scrub_text(text: str) -> tuple[str, bool]:
    """Remove anything shaped like a personnummer from free text."""
    cleaned, count = PNR_IN_TEXT.subn("[borttaget]", text)
    return cleaned, count > 0
