"""The last guard on every text that came from outside: nothing shaped like a personnummer,
and no value echoed without bound.

Used on file names, event messages, findings and mails. The first read of a delivery
(`ingestion.intake.pseudonymize`) replaces real personnummer by keyed hashes; this module
only recognises the shape, so it also catches numbers where no one expected them (a file
name, a free-text cell, a header).
"""

from __future__ import annotations

import re

# Anything shaped like a personnummer inside free text: 10 or 12 digits, optionally with -/+ or a
# space before the last four. Unicode digits count too ("１９９０…" is still a number to a reader).
PNR_IN_TEXT = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\d)")
REMOVED = "[borttaget]"
MAX_ECHO = 200  # characters of a delivered value quoted back in a finding, mail or log


def scrub_text(text: str) -> tuple[str, bool]:
    """Remove anything shaped like a personnummer from free text; (text, whether one was found)."""
    cleaned, count = PNR_IN_TEXT.subn(REMOVED, text)
    return cleaned, count > 0


def holds_pnr_text(text: str) -> bool:
    return PNR_IN_TEXT.search(text) is not None


def bounded(text: str | None, limit: int = MAX_ECHO) -> str | None:
    """A delivered value as it may be quoted back: at most `limit` characters (a 50 MB cell is
    quoted by its start and its length), and never a personnummer."""
    if text is None:
        return None
    text = scrub_text(str(text))[0]
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} tecken)"


def safe_name(name: str) -> str:
    """A file name as it may be shown in an event, a log or a mail."""
    return bounded(name, 160) or ""
