"""The portal's local accounts: one JSON file (FINSAM_PORTAL_ACCOUNTS, standard
`<FINSAM_HOME>/portal/accounts.json`), passwords hashed with scrypt (hashlib, salted, n=2**14).

Roles: `owner` sees the interventions whose register row (`agare_epost`) is the account's e-mail;
`analyst` sees one association; `county` (the data team) sees the whole county. Managed with
`finsam portal --add-user`. Sign-in is rate limited per address and per client (`SignInLimiter`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

ROLES = {"owner": "insatsägare", "analyst": "förbundets analytiker", "county": "länets dataenhet"}
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD = 12


class AccountError(ValueError):
    """A Swedish reason an account cannot be added."""


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    association: str | None = None
    password: str = ""  # scrypt$n$r$p$salt$hash (base64)
    name: str | None = None

    @property
    def role_sv(self) -> str:
        return ROLES[self.role]


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Compared against when the address is unknown, so a wrong address costs as long as a wrong password.
_DUMMY = hash_password(secrets.token_urlsafe(16))


class Accounts:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def all(self) -> list[Account]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return [Account(**item) for item in data.get("users", [])]

    def get(self, email: str) -> Account | None:
        email = email.strip().lower()
        return next((a for a in self.all() if a.email == email), None)

    def authenticate(self, email: str, password: str) -> Account | None:
        account = self.get(email)
        ok = verify_password(password, account.password if account else _DUMMY)
        return account if (account and ok) else None

    def add(self, email: str, role: str, password: str, association: str | None = None, name: str | None = None):
        email = email.strip().lower()
        if "@" not in email or any(c.isspace() for c in email):
            raise AccountError(f"'{email}' är ingen e-postadress")
        if role not in ROLES:
            raise AccountError(f"okänd roll '{role}'; välj {', '.join(ROLES)}")
        if role == "analyst" and not association:
            raise AccountError("en analytiker behöver --association (förbundets kod)")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"lösenordet måste ha minst {MIN_PASSWORD} tecken")
        account = Account(email, role, association if role == "analyst" else None, hash_password(password), name)
        with self._lock:
            users = [a for a in self.all() if a.email != email] + [account]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"users": [asdict(u) for u in users]}, handle, ensure_ascii=False, indent=1)
            os.replace(tmp, self.path)
        return account


class SignInLimiter:
    """At most `attempts` failed sign-ins per address and per client in `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 900.0):
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        queue = self._failures.setdefault(key, deque())
        while queue and queue[0] < now - self.window:
            queue.popleft()
        return queue

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
