"""The raw zone: the load ledger's source of truth, read and written by every stage.

`raw/<ASSOC>/<delivery_id>/` holds `manifest.json` (what arrived), `data.parquet` (rows as
read, personnummer already replaced), `totals.parquet` (a budget's Summa rows) and, once
validated, `validation.json`. `raw/<ASSOC>/_events.jsonl` is the association's event log
(duplicates, bad names, replays), `raw/_erased_keys.txt` the keys of persons who withdrew
their consent. Directories are written under a temporary name and renamed into place, so a
crash never leaves half a delivery.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from ingestion.core.config import Settings
from ingestion.core.findings import Finding
from ingestion.core.privacy import bounded, safe_name


@dataclass
class Landed:
    delivery_id: str
    directory: Path
    manifest: dict
    kept: pd.DataFrame | None = field(default=None, repr=False, compare=False)  # the rows just written

    @property
    def status(self) -> str | None:
        validation = self.directory / "validation.json"
        if validation.exists():
            return json.loads(validation.read_text(encoding="utf-8"))["status"]
        return None

    def frame(self) -> pd.DataFrame:
        """The delivery's rows; kept in memory from landing to validation (no re-read of the parquet)."""
        if self.kept is not None:
            return self.kept
        return pd.read_parquet(self.directory / "data.parquet").astype(
            {c: "string" for c in self.manifest.get("text_columns", [])}
        )

    def totals(self) -> pd.DataFrame | None:
        path = self.directory / "totals.parquet"
        return pd.read_parquet(path) if path.exists() else None

    def notes(self) -> list[Finding]:
        return [Finding.from_dict(n) for n in self.manifest.get("notes", [])]

    def validation(self) -> dict | None:
        path = self.directory / "validation.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def raw_dir(settings: Settings, association: str, delivery_id: str) -> Path:
    return settings.raw / association / delivery_id


def existing(settings: Settings, association: str, delivery_id: str) -> Landed | None:
    directory = raw_dir(settings, association, delivery_id)
    manifest = directory / "manifest.json"
    if manifest.exists():
        return Landed(delivery_id, directory, json.loads(manifest.read_text(encoding="utf-8")))
    return None


def landed_directories(settings: Settings, association: str | None = None) -> list[Path]:
    """The raw zone's delivery directories (manifests not read), by association, then delivery id."""
    roots = [settings.raw / association] if association else sorted(p for p in settings.raw.glob("*") if p.is_dir())
    return [
        directory
        for root in roots
        if root.is_dir()
        for directory in sorted(root.iterdir())
        if not directory.name.startswith(".")
    ]


def all_landed(settings: Settings, association: str | None = None) -> list[Landed]:
    result = []
    for directory in landed_directories(settings, association):
        manifest = directory / "manifest.json"
        if manifest.exists():
            result.append(Landed(directory.name, directory, json.loads(manifest.read_text(encoding="utf-8"))))
    return result


def unvalidated(settings: Settings, association: str) -> list[Landed]:
    """Deliveries landed but not validated yet (a crash in between). Only their manifests are
    read: a run with nothing new costs a directory listing, not a read of every manifest."""
    root = settings.raw / association
    if not root.is_dir():
        return []
    result = []
    for directory in sorted(root.iterdir()):
        if directory.name.startswith(".") or (directory / "validation.json").exists():
            continue
        manifest = directory / "manifest.json"
        if manifest.exists():
            result.append(Landed(directory.name, directory, json.loads(manifest.read_text(encoding="utf-8"))))
    return result


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def write_validation(
    landed: Landed, status: str, findings: list[Finding], rules_fingerprint: str | None = None
) -> None:
    """The verdict beside the delivery; `rules_fingerprint`: the contract and mappings it was given under."""
    write_json_atomic(
        landed.directory / "validation.json",
        {
            "delivery_id": landed.delivery_id,
            "status": status,
            "validated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "rules_fingerprint": rules_fingerprint,
            "findings": [f.to_dict() for f in findings],
        },
    )


_LAST_ARRIVAL: list[datetime] = []


def next_arrival() -> datetime:
    """When a delivery arrived (UTC, to the microsecond), strictly later than the one before it in
    this process: two versions of one slot landed in one run keep the order they were found in
    (oldest file first), so the newer always supersedes, never the hash of the older."""
    now = datetime.now(UTC)
    if _LAST_ARRIVAL and now <= _LAST_ARRIVAL[0]:
        now = _LAST_ARRIVAL[0] + timedelta(microseconds=1)
    _LAST_ARRIVAL[:] = [now]
    return now


def utc_timestamp(iso: str) -> str:
    """A manifest's ISO time (with offset) as the naive UTC timestamp the warehouse stores."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


HANDED_OVER = "handed_over"  # beside a delivery whose verdict was acted on (quarantined or original removed)


def handed_over(landed: Landed) -> bool:
    return (landed.directory / HANDED_OVER).exists()


def mark_handed_over(landed: Landed) -> None:
    (landed.directory / HANDED_OVER).touch()


def record_event(
    settings: Settings, association: str, file_name: str, sha256: str | None, event: str, message: str
) -> dict:
    """One line of the association's event log (raw/<ASSOC>/_events.jsonl; loaded into meta.delivery_events)."""
    entry = {
        "event_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "association": association,
        "file_name": safe_name(file_name),  # names come from outside: never a personnummer, never unbounded
        "sha256": sha256,
        "event": event,
        "message_sv": bounded(message, 2000),
    }
    folder = settings.raw / association
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "_events.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def current_registers(landed: list[Landed]) -> dict[str, Landed]:
    """The current register (one home for the rule): per association, its accepted intervention
    register (insatser) delivery with the latest period end, then the latest received (then the
    highest delivery id). The landing checks read it from the raw zone; every load writes it to
    `meta.current_registers`, which dim_intervention reads (`in_current_register`)."""
    latest: dict[str, Landed] = {}
    for l in landed:
        if l.manifest["kind"] != "insatser" or l.status not in ("accepted", "accepted_with_warnings"):
            continue
        key = (l.manifest["period_end"], l.manifest["received_at"], l.delivery_id)
        best = latest.get(l.manifest["association"])
        if best is None or key > (best.manifest["period_end"], best.manifest["received_at"], best.delivery_id):
            latest[l.manifest["association"]] = l
    return latest


def current_register(settings: Settings, association: str) -> pd.DataFrame | None:
    """The association's current intervention register (`current_registers`) in the raw zone."""
    latest = current_registers(all_landed(settings, association)).get(association)
    return None if latest is None else latest.frame()


def owner_emails(register: pd.DataFrame | None) -> dict[str, str]:
    if register is None or register.empty:
        return {}
    return {row.insats_kod: row.agare_epost for row in register.itertuples() if row.agare_epost}


def erased_keys_path(settings: Settings) -> Path:
    """Keys of persons who withdrew their consent (`finsam forget`), one a line."""
    return settings.raw / "_erased_keys.txt"


def read_erased_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def append_erased_key(path: Path, key: str) -> None:
    if key in read_erased_keys(path):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(key + "\n")


def erased_keys(settings: Settings) -> set[str]:
    return read_erased_keys(erased_keys_path(settings))
