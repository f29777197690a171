"""Personnummer/samordningsnummer: checked, then replaced by a keyed hash at the first read.

The key is HMAC-SHA256(county secret, the 12-digit number), so one person gets the same
key in every association and intervention, whichever way the number was written (10 or 12
digits, with or without `-`/`+`). Project pseudonyms (deltagar_id) are keyed within their
association. No function here ever returns or logs the number itself.

Each function has a scalar form (the reference) and a vectorised form over a pandas Series
(used on whole deliveries); the tests hold them equal.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.core.privacy import PNR_IN_TEXT, scrub_text  # noqa: F401  (the shape is defined once)

PNR_SHAPE = re.compile(
    r"^(?P<century>\d{2})?(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})(?P<sep>[-+]?)(?P<serial>\d{3})(?P<check>\d)$"
)
# The same shape in RE2 syntax (no look-behind), for Arrow's vectorised regex functions.
PNR_IN_TEXT_RE2 = r"(?:^|[^0-9])(?:[0-9]{2})?[0-9]{6}[-+ ]?[0-9]{4}(?:[^0-9]|$)"
KEY_LENGTH = 32
PYTHON_HMAC_MAX_ROWS = 50_000  # up to this many values hmac_keys hashes in Python, beyond in DuckDB
# Spaces inside a number ("800101 1234", a non-breaking space from Excel); the same literal set in
# Python's and Arrow's (RE2) regex syntax, so the scalar and vectorised forms agree exactly.
SPACES = "[ \t\n\r\f\v\u00a0\u2007\u2009\u202f]"
LUHN_WEIGHTS = np.array([2, 1, 2, 1, 2, 1, 2, 1, 2, 1], dtype=np.int64)
DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def luhn_ok(ten_digits: str) -> bool:
    total = 0
    for index, char in enumerate(ten_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return total % 10 == 0


def _full_year(century: str | None, yy: str, sep: str, today: date) -> int:
    if century:
        return int(century + yy)
    year = 2000 + int(yy)
    if year > today.year:
        year -= 100
    if sep == "+":  # '+' marks a person who has turned 100
        year -= 100
    return year


def canonical_pnr(text: str, today: date | None = None) -> str | None:
    """The 12-digit form (YYYYMMDDNNNN) of a valid personnummer or samordningsnummer, else None."""
    cleaned = re.sub(SPACES, "", str(text))
    match = PNR_SHAPE.match(cleaned)
    if not match:
        return None
    year = _full_year(match["century"], match["yy"], match["sep"], today or date.today())
    month, day = int(match["mm"]), int(match["dd"])
    if day > 60:  # samordningsnummer: day + 60
        day -= 60
    try:
        date(year, month, day)
    except ValueError:
        return None
    ten = f"{match['yy']}{match['mm']}{match['dd']}{match['serial']}{match['check']}"
    if not luhn_ok(ten):
        return None
    return f"{year:04d}{ten[2:]}"


def _arrow(series: pd.Series) -> pa.Array:
    array = pa.array(series.astype("string"))
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(pa.string())


def canonical_pnrs(series: pd.Series, today: date | None = None) -> pd.Series:
    """`canonical_pnr` over a Series, vectorised (Arrow regex, numpy Luhn and date check)."""
    today = today or date.today()
    text = pc.replace_substring_regex(_arrow(series), SPACES, "")
    parts = pc.extract_regex(text, PNR_SHAPE.pattern)  # null where the shape does not match
    shaped = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False)
    if not shaped.any():
        return pd.Series(pd.NA, index=series.index, dtype="string")
    parts = parts.filter(pa.array(shaped))
    field = {name: parts.field(name) for name in ("century", "yy", "mm", "dd", "sep", "serial", "check")}
    ten = pc.binary_join_element_wise(field["yy"], field["mm"], field["dd"], field["serial"], field["check"], "")
    ten = ten.combine_chunks() if isinstance(ten, pa.ChunkedArray) else ten
    first = np.frombuffer(ten.buffers()[1], dtype=np.int32)[ten.offset]
    digits = np.frombuffer(ten.buffers()[2], dtype=np.uint8)[first : first + 10 * len(ten)]
    digits = digits.reshape(-1, 10).astype(np.int64) - 48
    products = digits * LUHN_WEIGHTS
    luhn = ((products - 9 * (products > 9)).sum(axis=1) % 10) == 0

    def number(name):
        return pc.cast(field[name], pa.int64()).to_numpy()

    yy, month, day = number("yy"), number("mm"), number("dd")
    given = pc.not_equal(field["century"], "").to_numpy(zero_copy_only=False)
    year = np.where(2000 + yy <= today.year, 2000 + yy, 1900 + yy)
    year = year - 100 * pc.equal(field["sep"], "+").to_numpy(zero_copy_only=False)
    century = pc.cast(pc.if_else(pa.array(given), field["century"], "0"), pa.int64()).to_numpy()
    year = np.where(given, century * 100 + yy, year)
    day = np.where(day > 60, day - 60, day)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    ok = luhn & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    canonical = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(pa.array(year), pa.string()), 4, "0"), pc.utf8_slice_codeunits(ten, 2), ""
    )
    full = np.zeros(len(shaped), dtype=bool)
    full[np.flatnonzero(shaped)[ok]] = True
    result = pc.replace_with_mask(pa.nulls(len(full), pa.string()), pa.array(full), canonical.filter(pa.array(ok)))
    return pd.Series(pd.array(result, dtype="string"), index=series.index, dtype="string")


def birth_year(canonical: str) -> int:
    return int(canonical[:4])


def person_key(secret: bytes, canonical: str) -> str:
    return hmac.digest(secret, canonical.encode("ascii"), "sha256").hex()[:KEY_LENGTH]


def pseudonym_message(association: str, deltagar_id):
    """What is hashed for a project's own pseudonym: scoped to its association (str or Series)."""
    if isinstance(deltagar_id, pd.Series):
        return f"id:{association}:" + deltagar_id.astype("string").str.strip()
    return f"id:{association}:{deltagar_id.strip()}"


def pseudonym_key(secret: bytes, association: str, deltagar_id: str) -> str:
    """A project's own pseudonym, scoped to its association."""
    return hmac.digest(secret, pseudonym_message(association, deltagar_id).encode("utf-8"), "sha256").hex()[:KEY_LENGTH]


def hmac_keys(secret: bytes, messages: pd.Series) -> pd.Series:
    """`HMAC-SHA256(secret, message)` cut to KEY_LENGTH hex digits, for a whole column at once.

    The same function as `hmac.digest` (RFC 2104: H(K^opad || H(K^ipad || m))), evaluated by
    DuckDB's vectorised, multi-threaded sha256 instead of one Python call per value. NA stays NA.
    """
    if len(messages) <= PYTHON_HMAC_MAX_ROWS:
        # A delivery's worth of rows: Python's hmac (C) per value beats starting a DuckDB
        # connection (~30 ms); the same function, so the same keys.
        values = messages.astype("string").tolist()
        keys = [
            None if v is None or v is pd.NA else hmac.digest(secret, v.encode("utf-8"), "sha256").hex()[:KEY_LENGTH]
            for v in values
        ]
        return pd.Series(pd.array(keys, dtype="string"), index=messages.index, dtype="string")
    import duckdb

    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
    values = pa.table({"m": _arrow(messages)})
    con = duckdb.connect()
    try:
        con.register("messages", values)
        keys = (
            con.sql(
                f"select case when m is not null then left(sha256($outer || unhex(sha256($inner || encode(m)))), "
                f"{KEY_LENGTH}) end as k from messages",
                params={"outer": outer, "inner": inner},
            )
            .to_arrow_table()
            .column("k")
        )
    finally:
        con.close()
    return pd.Series(pd.array(keys, dtype="string"), index=messages.index, dtype="string")


def person_keys(secret: bytes, canonical: pd.Series) -> pd.Series:
    """`person_key` over a Series of canonical numbers (NA stays NA)."""
    return hmac_keys(secret, canonical)


def pseudonym_keys(secret: bytes, association: str, ids: pd.Series) -> pd.Series:
    """`pseudonym_key` over a Series of deltagar_id (NA stays NA)."""
    return hmac_keys(secret, pseudonym_message(association, ids))


def key_for_input(secret: bytes, given: str) -> str | None:
    """`finsam forget` accepts a personnummer or an existing key."""
    given = given.strip()
    if re.fullmatch(rf"[0-9a-f]{{{KEY_LENGTH}}}", given):
        return given
    canonical = canonical_pnr(given)
    return person_key(secret, canonical) if canonical else None


def holds_pnr(series: pd.Series) -> pd.Series:
    """True where a value contains something shaped like a personnummer (vectorised)."""
    if not len(series):
        return pd.Series(False, index=series.index, dtype=bool)
    hits = pc.fill_null(pc.match_substring_regex(_arrow(series), PNR_IN_TEXT_RE2), False)
    return pd.Series(hits.to_numpy(zero_copy_only=False), index=series.index, dtype=bool)
