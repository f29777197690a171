"""Replay from quarantine: a refused delivery read again after the contract or the county
mappings changed, loaded as if it had just arrived when it now passes.

Only the pseudonymised copy in the raw zone is read (the owner's file is gone, and no
personnummer was ever kept); a file that could not be read was never copied, so it stays with
its owner. A replay is a new delivery in the raw zone (`replay_of` names the refused one) that
goes through the same validation, ledger, supersession and incremental build as any other;
the refused delivery keeps its verdict, and a `replay.json` beside it says what became of it.

When: automatically, the first time an association is processed under a new rules
fingerprint (contract.yml + config/mappings.yml); or on request (`finsam replay`), which
marks the chosen deliveries and runs the pipeline. A delivery is never replayed when a later
delivery for the same slot (association, intervention, kind, period) exists: the owner's
newer file is what counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from ingestion.core.config import Settings
from ingestion.core.mappings import load_mappings
from ingestion.core.rawzone import Landed, all_landed, existing, next_arrival, raw_dir, write_json_atomic
from ingestion.intake.normalize import retype

log = logging.getLogger(__name__)
CHECKED_MARKER = "_rules_checked"  # raw/<ASSOC>/_rules_checked: the fingerprint last scanned under
REQUEST = "replay_requested"  # raw/<ASSOC>/<delivery>/replay_requested: `finsam replay` asked for it
OUTCOME = "replay.json"  # raw/<ASSOC>/<delivery>/replay.json: what the last replay gave

REASON_RULES = "kontraktet eller länets mappningar har ändrats sedan leveransen underkändes"
REASON_REQUEST = "omprövning begärd av länets dataenhet (finsam replay)"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def needs_scan(settings: Settings, association: str, fingerprint: str) -> bool:
    """Cheap test (one small file): were the association's refused deliveries checked under these rules?"""
    folder = settings.raw / association
    if not folder.is_dir():
        return False
    if any(folder.glob(f"*/{REQUEST}")):
        return True
    marker = folder / CHECKED_MARKER
    if marker.exists() and marker.read_text(encoding="utf-8").strip() == fingerprint:
        return False
    if _has_quarantined(folder):
        return True
    mark_checked(settings, association, fingerprint)  # nothing refused: nothing to read again under these rules
    return False


def _has_quarantined(folder: Path) -> bool:
    for validation in folder.glob("*/validation.json"):
        if '"status": "quarantined"' in validation.read_text(encoding="utf-8")[:400]:
            return True
    return False


def mark_checked(settings: Settings, association: str, fingerprint: str) -> None:
    folder = settings.raw / association
    if folder.is_dir():
        (folder / CHECKED_MARKER).write_text(fingerprint + "\n", encoding="utf-8")


def _slot(manifest: dict) -> tuple:
    return (manifest["association"], manifest["intervention"], manifest["kind"], manifest["period"])


def refused(settings: Settings, association: str) -> list[Landed]:
    """The association's refused deliveries that a replay could still change: readable, not
    replaced by an earlier replay, and the newest delivery of their slot."""
    landed = all_landed(settings, association)
    latest: dict[tuple, str] = {}
    for item in landed:
        slot = _slot(item.manifest)
        latest[slot] = max(latest.get(slot, ""), item.manifest["received_at"])
    chosen = []
    for item in landed:
        manifest = item.manifest
        if manifest.get("unreadable") or manifest.get("replay_of"):
            continue
        if latest[_slot(manifest)] > manifest["received_at"]:
            continue  # the owner has sent a newer file for the same slot
        validation = item.validation()
        if not validation or validation["status"] != "quarantined" or _outcome(item).get("replaced_by"):
            continue
        chosen.append(item)
    return chosen


def candidates(settings: Settings, association: str, fingerprint: str) -> list[tuple[Landed, str]]:
    """(refused delivery, reason) for every delivery of the association to replay now."""
    chosen = []
    for item in refused(settings, association):
        judged_under = _outcome(item).get("checked_fingerprint") or item.validation().get("rules_fingerprint")
        if (item.directory / REQUEST).exists():
            chosen.append((item, REASON_REQUEST))
        elif judged_under != fingerprint:
            chosen.append((item, REASON_RULES))
    return chosen


def _outcome(item: Landed) -> dict:
    path = item.directory / OUTCOME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def replay_id(original: Landed, fingerprint: str) -> str:
    return hashlib.sha256(f"{original.delivery_id}:replay:{fingerprint}".encode()).hexdigest()


def prepare(settings: Settings, original: Landed, fingerprint: str, reason: str) -> Landed:
    """The refused delivery's rows, read again, as a new (unvalidated) delivery in the raw zone."""
    delivery_id = replay_id(original, fingerprint)
    found = existing(settings, original.manifest["association"], delivery_id)
    if found is not None:
        return found  # prepared by an interrupted run: it is validated with the others
    frame, notes = retype(
        original.frame(), original.manifest["kind"], original.manifest["association"], load_mappings(settings.mappings)
    )
    previous = [
        n for n in original.manifest.get("notes", []) if n.get("check") not in ("lansmappning", "tolkad_stavning")
    ]
    manifest = dict(original.manifest)
    manifest.update(
        delivery_id=delivery_id,
        received_at=next_arrival().isoformat(),
        replay_of=original.delivery_id,
        replay_reason=reason,
        original_received_at=original.manifest["received_at"],
        rules_fingerprint=fingerprint,
        notes=previous + [n.to_dict() for n in notes],
        text_columns=[c for c in frame.columns if c not in ("source_row", "is_anonymous")],
    )
    final = raw_dir(settings, manifest["association"], delivery_id)
    tmp = Path(tempfile.mkdtemp(prefix=f".{delivery_id[:12]}-", dir=final.parent))
    try:
        frame.to_parquet(tmp / "data.parquet", index=False)
        totals = original.directory / "totals.parquet"
        if totals.exists():
            shutil.copyfile(totals, tmp / "totals.parquet")
        write_json_atomic(tmp / "manifest.json", manifest)
        if final.exists():
            shutil.rmtree(tmp)
        else:
            tmp.replace(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return existing(settings, manifest["association"], delivery_id)


def settle(settings: Settings, replay: Landed, status: str) -> str:
    """After validation: keep an accepted replay; drop a refused one (the original keeps its verdict).
    Returns 'accepted' or 'still_quarantined'."""
    original = existing(settings, replay.manifest["association"], replay.manifest["replay_of"])
    fingerprint = replay.manifest.get("rules_fingerprint")
    accepted = status in ("accepted", "accepted_with_warnings")
    if original is not None:
        write_json_atomic(
            original.directory / OUTCOME,
            {
                "checked_fingerprint": fingerprint,
                "checked_at": _now(),
                "replaced_by": replay.delivery_id if accepted else None,
                "status": status,
            },
        )
        (original.directory / REQUEST).unlink(missing_ok=True)
    if accepted:
        (replay.directory / "replayed").write_text(_now() + "\n", encoding="utf-8")  # alert.REPLAYED_MARKER
        folder = settings.quarantine / replay.manifest["association"]
        name = replay.manifest["file_name"]
        for path in (folder / name, folder / f"{name}.pseudonymiserad.csv", folder / f"{name}.fel.txt"):
            path.unlink(missing_ok=True)  # the delivery is in the warehouse now; its ledger row keeps the history
        return "accepted"
    shutil.rmtree(replay.directory, ignore_errors=True)
    return "still_quarantined"


def request(settings: Settings, association: str | None = None, file_name: str | None = None) -> list[Landed]:
    """Mark refused deliveries for replay (`finsam replay`); returns those marked."""
    marked = []
    roots = [association] if association else sorted(p.name for p in settings.raw.glob("*") if p.is_dir())
    for code in roots:
        for item in refused(settings, code):
            if file_name and item.manifest["file_name"] != file_name:
                continue
            (item.directory / REQUEST).write_text(_now() + "\n", encoding="utf-8")
            marked.append(item)
    return marked
