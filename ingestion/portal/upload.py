"""An upload's way through the portal: the same checks as the pipeline, then the landing folder.

The file is checked with `ingestion.quality.check.check_file`, the code behind `finsam validate`
(same reader, normaliser, pseudonymisation at the first read, GX suites; the same Swedish
findings as the alert mail), in a GX project kept under `<FINSAM_HOME>/portal/gx` so the
process stays warm. An accepted file is placed in `<landing>/<association>/` under its
canonical name, written beside it as a hidden part file and renamed: the next run finds it
like any folder delivery. A refused file is not kept anywhere (its temporary copy is removed
before the page is sent); only the audit line says it came.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from ingestion.core.config import Settings
from ingestion.core.privacy import safe_name
from ingestion.intake.discover import DeliveryName, NameError_, parse_file_name
from ingestion.quality.check import FileCheck, check_file

log = logging.getLogger(__name__)
PATH_IN_NAME = re.compile(r"[/\\\x00]|^\.\.?$|^[A-Za-z]:")


class UploadRefused(ValueError):
    """A Swedish reason the upload was not even checked (size, name, permission)."""


@dataclass(frozen=True)
class Outcome:
    file_name: str  # canonical, safe to show
    sha256: str
    size: int
    check: FileCheck
    placed: bool


def canonical_name(name: DeliveryName) -> str:
    return f"{name.association}_{name.intervention}_{name.kind}_{name.period.label}.{name.ext}"


def parse_upload_name(raw: str | None) -> DeliveryName:
    """The uploaded name, checked: never a path, always the naming rule. Raises UploadRefused."""
    raw = (raw or "").strip()
    if not raw:
        raise UploadRefused("Välj en fil att ladda upp.")
    if PATH_IN_NAME.search(raw) or raw != os.path.basename(raw):
        raise UploadRefused(
            "Filnamnet får inte innehålla en sökväg (tecknen / eller \\). Ge filen ett namn enligt regeln "
            "<förbund>_<insats>_<typ>_<period>, t.ex. SODRA_AVESTA_deltagare_2016T2.xlsx, och försök igen."
        )
    try:
        return parse_file_name(raw)
    except NameError_ as exc:
        raise UploadRefused(f"Filen har inte kontrollerats: {exc}.") from None


class Checker:
    """One per process: the warm GX project and a lock (GX contexts are not thread-safe)."""

    def __init__(self, settings: Settings, as_of: date | None = None):
        self.settings = settings
        self.as_of = as_of
        self.gx_root = settings.home / "portal" / "gx"
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Import GX and open the project once, before the first upload needs it."""
        from ingestion.quality.suites import _gx_context

        self.gx_root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            _gx_context(str(self.gx_root))

    def check(self, path: Path) -> FileCheck:
        with self._lock:
            return check_file(self.settings, path, self.as_of or date.today(), gx_root=self.gx_root)

    def handle(self, name: DeliveryName, data: bytes) -> Outcome:
        """Check `data` as the file `name`; place it in landing when the pipeline would load it."""
        file_name = canonical_name(name)
        digest = hashlib.sha256(data).hexdigest()
        with tempfile.TemporaryDirectory(prefix="finsam-portal-") as tmp:
            path = Path(tmp) / file_name
            path.write_bytes(data)
            result = self.check(path)
        placed = False
        if result.ok:
            place_in_landing(self.settings, name.association, file_name, data)
            placed = True
        return Outcome(file_name, digest, len(data), result, placed)


def place_in_landing(settings: Settings, association: str, file_name: str, data: bytes) -> Path:
    """Write the file as a folder delivery: a hidden part file, synced, then renamed into place
    (the run skips hidden and part files, so it never reads half a file)."""
    folder = settings.landing / association
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file_name
    part = folder / f".{file_name}.{os.getpid()}.part"
    try:
        with open(part, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def audit(settings: Settings, **fields) -> None:
    """One JSON line per event in `<FINSAM_HOME>/portal/audit.jsonl`: who, file name, checksum,
    verdict; never content. Names and addresses pass `safe_name` (nothing shaped like a personnummer)."""
    record = {"at": datetime.now(UTC).replace(microsecond=0).isoformat(), **fields}
    for key in ("file_name", "user", "reason"):  # typed or sent by a visitor: bounded, nothing like a personnummer
        if record.get(key):
            record[key] = safe_name(str(record[key]))
    path = settings.home / "portal" / "audit.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
