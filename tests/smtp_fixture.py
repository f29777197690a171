"""Fixtures for the quality-gate tests: a real SMTP server, and zones with a small county.

Imported by the tests that use them (`from smtp_fixture import ...`); conftest.py stays the
lead's. Everything is written under tmp_path; FINSAM_* variables are set with monkeypatch.

- `smtp_server`: an aiosmtpd server on 127.0.0.1 and a free port, collecting what arrives.
- `quality_env`: zones under tmp_path, a two-association registry (SODRA, NORR) and the
  municipality list the suites check against (the Dalarna codes of the synthetic data).
"""

from __future__ import annotations

import email
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_SECRET
from fixtures import synthetic

# ---------------------------------------------------------------- SMTP


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Inbox:
    """What the SMTP server received: parsed messages and their envelopes."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    subject_errors: list[str] = field(default_factory=list)  # every subject sent is decoded strictly

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=policy.default)
        problem = subject_problem(raw, str(message["Subject"]))
        with self.lock:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
            if problem:
                self.subject_errors.append(problem)
        return "250 OK"

    def bodies(self) -> list[str]:
        return [m.get_body(preferencelist=("plain",)).get_content() for m in self.messages]


def subject_problem(raw: bytes, parsed: str) -> str | None:
    """Decode the raw Subject as RFC 2047 says a strict reader must (whitespace between two
    encoded words is dropped); a subject that reads differently that way ("…ärinläst") is a bug."""
    import re
    from email.header import decode_header, make_header

    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("ascii", "replace")
    found = re.search(r"^Subject: (.*(?:\r?\n[ \t].*)*)", head, re.M | re.I)
    if not found:
        return "ingen Subject-rad"
    unfolded = re.sub(r"\r?\n[ \t]", " ", found.group(1))
    strict = re.sub(r"(\?=)\s+(=\?)", r"\1\2", unfolded)
    decoded = str(make_header(decode_header(strict)))
    return None if decoded == parsed else f"{unfolded!r} läses strikt som {decoded!r}, inte {parsed!r}"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; start/stop it to simulate an outage."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.inbox = Inbox()
        self._controller = None

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def start_smtp(monkeypatch) -> SmtpServer:
    server = SmtpServer().start()
    monkeypatch.setenv("FINSAM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FINSAM_SMTP_PORT", str(server.port))
    monkeypatch.setenv("FINSAM_MAIL_FROM", "finsam@lan.example")
    return server


@pytest.fixture
def smtp_server(monkeypatch):
    """A running SMTP server; FINSAM_SMTP_HOST/PORT point at it."""
    server = start_smtp(monkeypatch)
    yield server
    server.stop()
    assert server.inbox.subject_errors == []  # every subject the test sent decodes strictly


# ---------------------------------------------------------------- zones and a small county


def use_municipalities(root: Path, monkeypatch) -> Path:
    """The suites' SCB list comes from the dbt seed; tests use the Dalarna codes instead."""
    import ingestion.intake.normalize as normalize

    path = synthetic.municipalities_file(root / "seed" / "municipalities.csv")
    monkeypatch.setattr(normalize, "MUNICIPALITIES_CSV", path)
    normalize.municipalities.cache_clear()
    normalize.municipality_names.cache_clear()
    return path


def clear_municipalities() -> None:
    import ingestion.intake.normalize as normalize

    normalize.municipalities.cache_clear()
    normalize.municipality_names.cache_clear()


@pytest.fixture
def municipality_list(tmp_path, monkeypatch):
    yield use_municipalities(tmp_path, monkeypatch)
    clear_municipalities()


def setup_zones(root: Path, monkeypatch):
    """Fresh zones under `root` with the synthetic two-association registry; returns Settings."""
    home = root / "home"
    landing = root / "landing"
    landing.mkdir(parents=True)
    registry = synthetic.registry_file(root / "registry.yml")
    monkeypatch.setenv("FINSAM_HOME", str(home))
    monkeypatch.setenv("FINSAM_LANDING", str(landing))
    monkeypatch.setenv("FINSAM_WAREHOUSE", str(home / "warehouse" / "finsam.duckdb"))
    monkeypatch.setenv("FINSAM_REGISTRY", str(registry))
    monkeypatch.setenv("FINSAM_HASH_SECRET", TEST_SECRET)
    for name in (
        "FINSAM_DEMO",
        "FINSAM_SMTP_HOST",
        "FINSAM_SMTP_PORT",
        "FINSAM_BI_POSTGRES_DSN",
        "FINSAM_DBT_TARGET",
        "FINSAM_OVERSPEND_SHARE",
        "FINSAM_OVERDUE_DAYS",
        "FINSAM_JUMP_FACTOR",
    ):
        monkeypatch.delenv(name, raising=False)
    from ingestion.core.config import load_settings

    settings = load_settings()
    settings.ensure_dirs()
    return settings


@pytest.fixture
def quality_env(tmp_path, monkeypatch, municipality_list):
    """Fresh zones under tmp_path with the synthetic two-association registry; returns Settings."""
    return setup_zones(tmp_path, monkeypatch)


def cells(header: list[str], rows: list[list[str]], title_rows: tuple[str, ...] = ()) -> pd.DataFrame:
    """A delivered sheet as the readers return it: every cell text, columns numbered.

    With no title rows the header is sheet row 1, so data row i (0-based) is source_row i + 2.
    """
    width = max(len(header), *(len(r) for r in rows)) if rows else len(header)
    lines = [[t] for t in title_rows] + [header] + rows
    return pd.DataFrame([[str(v) for v in line] + [""] * (width - len(line)) for line in lines], dtype=str)


INSATSER_HEADER = [
    "insats_kod",
    "namn",
    "inriktning",
    "malgrupp",
    "matmetod",
    "startdatum",
    "slutdatum",
    "platser",
    "planerat_antal",
    "huvudman",
    "agare_epost",
    "esf",
    "rapportering",
]


def insats_row(
    code: str,
    *,
    matmetod: str = "PERSON",
    inriktning: str = "INDIVID",
    start: str = "2015-01-01",
    end: str = "",
    huvudman: str = "FK+AF+KOMMUN:2084",
    email_to: str | None = None,
    rapportering: str = "T",
) -> list[str]:
    return [
        code,
        f"Insatsen {code.title()}",
        inriktning,
        "UNGA_16_29",
        matmetod,
        start,
        end,
        "15",
        "30",
        huvudman,
        email_to or f"{code.lower()}@sodra.example",
        "N",
        rapportering,
    ]


def write_file(landing: Path, association: str, name: str, header: list[str], rows: list[list[str]]) -> Path:
    """A clean UTF-8 CSV delivery in the association's drop folder."""
    return synthetic.write_csv(landing / association / name, header, rows)


def participant(i: int, **values) -> list[str]:
    """A valid active participant row (deltagar_id D<i>, in SODRA's area), the given columns changed."""
    row = {c: "" for c in synthetic.DELTAGARE_HEADER}
    row.update(
        deltagar_id=f"D{i}",
        kon="K",
        fodelsear="1990",
        kommun="2084",
        startdatum="2016-02-01",
        remittent="FK",
        forsorjning_fore="FBS",
    )
    row.update(values)
    return [row[c] for c in synthetic.DELTAGARE_HEADER]


def ended_participant(i: int, **values) -> list[str]:
    """A valid participant who left (to work) on 2016-05-31."""
    base = dict(slutdatum="2016-05-31", avslutsanledning="ARBETE", forsorjning_efter="LON")
    base.update(values)
    return participant(i, **base)


def write_register(landing: Path, association: str = "SODRA", period: str = "2016T2", rows=None) -> Path:
    """The association's intervention register: AVESTA (persons) and RAKNA (counts only)."""
    rows = rows if rows is not None else [insats_row("AVESTA"), insats_row("RAKNA", matmetod="VOLYM")]
    return write_file(landing, association, f"{association}_ALL_insatser_{period}.csv", INSATSER_HEADER, rows)
