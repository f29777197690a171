"""Step 2: land a delivery: read it, pseudonymise at the first read, keep an immutable raw copy.

The raw zone is the load ledger's source of truth: `raw/<ASSOC>/<delivery_id>/` holds
`manifest.json` (what arrived), `data.parquet` (rows as read, personnummer already
replaced) and, once validated, `validation.json`. A directory is written under a temporary
name and renamed into place, so a crash never leaves half a delivery. The original file
leaves the landing folder only after its raw copy exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from ingestion.core.config import Settings
from ingestion.core.mappings import load_mappings
from ingestion.core.rawzone import Landed, erased_keys, existing, next_arrival, raw_dir, write_json_atomic
from ingestion.intake.discover import DeliveryName, FoundFile
from ingestion.intake.normalize import Normalised, read_deliveries
from ingestion.intake.readers import UnreadableFile


def delivery_id_for(name: DeliveryName, sha256: str) -> str:
    """A delivery is one slot (association, intervention, kind, period) with one file's bytes.

    The same bytes in another slot (an unchanged register re-sent for the next period, two
    interventions with identical budgets) are a different delivery; the same bytes in the
    same slot are the same delivery, recognised and not loaded twice.
    """
    slot = f"{name.association}/{name.intervention}/{name.kind}/{name.period.label}/{sha256}"
    return hashlib.sha256(slot.encode("utf-8")).hexdigest()


BATCH_FILES = 500  # at most this many files of one kind are read and normalised together


def land_file(settings: Settings, found: FoundFile, name: DeliveryName, secret: bytes) -> Landed:
    """Read, normalise, pseudonymise and store one file in the raw zone."""
    return land_files(settings, [(found, name)], secret)[0]


def land_files(settings: Settings, files: list[tuple[FoundFile, DeliveryName]], secret: bytes) -> list[Landed]:
    """Land many files of one association: each kind read and normalised as one batch
    (`read_deliveries`), then every file stored as its own delivery, exactly as `land_file`."""
    erased = erased_keys(settings) if files else set()
    mappings = load_mappings(settings.mappings) if files else None
    outcome: dict[int, Normalised | UnreadableFile] = {}
    by_kind: dict[tuple[str, str], list[int]] = {}
    for index, (_, name) in enumerate(files):
        by_kind.setdefault((name.association, name.kind), []).append(index)
    for (association, kind), indices in by_kind.items():
        for start in range(0, len(indices), BATCH_FILES):
            chunk = indices[start : start + BATCH_FILES]
            results = read_deliveries(
                [files[i][0].path for i in chunk],
                kind,
                association,
                secret,
                max_bytes=settings.max_file_bytes,
                max_unzipped=settings.max_unzipped_bytes,
                erased=erased,
                mappings=mappings,
            )
            outcome.update(zip(chunk, results))
    return [_store(settings, found, name, outcome[index]) for index, (found, name) in enumerate(files)]


def _store(settings: Settings, found: FoundFile, name: DeliveryName, result: Normalised | UnreadableFile) -> Landed:
    """One delivery into the raw zone: written under a temporary name, then renamed into place."""
    received = next_arrival()
    delivery_id = delivery_id_for(name, found.sha256)
    manifest = {
        "delivery_id": delivery_id,
        "association": name.association,
        "intervention": name.intervention,
        "kind": name.kind,
        "period": name.period.label,
        "period_start": name.period.start.isoformat(),
        "period_end": name.period.end.isoformat(),
        "file_name": found.path.name,
        "sha256": found.sha256,
        "size_bytes": found.size,
        "received_at": received.isoformat(),
        "rows_read": 0,
        "rows_kept": 0,
        "rows_dropped": 0,
        "unreadable": None,
        "notes": [],
        "had_personnummer": False,
    }
    normalised: Normalised | None = None
    if isinstance(result, UnreadableFile):
        manifest["unreadable"] = str(result)
        manifest["had_personnummer"] = True  # unknown: an unreadable file is never copied anywhere
    else:
        normalised = result
    if normalised is not None:
        manifest.update(
            rows_read=normalised.rows_read,
            rows_kept=len(normalised.frame),
            rows_dropped=normalised.rows_dropped,
            notes=[n.to_dict() for n in normalised.notes],
            had_personnummer=normalised.had_personnummer,
            text_columns=[c for c in normalised.frame.columns if c not in ("source_row", "is_anonymous")],
        )

    final = raw_dir(settings, name.association, delivery_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{delivery_id[:12]}-", dir=final.parent))
    try:
        if normalised is not None:
            normalised.frame.to_parquet(tmp / "data.parquet", index=False)
            if normalised.totals is not None:
                normalised.totals.astype("string").to_parquet(tmp / "totals.parquet", index=False)
        write_json_atomic(tmp / "manifest.json", manifest)
        written = not final.exists()
        if not written:  # landed by an earlier, interrupted run: keep the first copy (immutable)
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    landed = existing(settings, name.association, delivery_id)
    if written and normalised is not None and landed is not None:
        frame = normalised.frame
        landed.kept = frame.astype(
            {c: "string" for c in landed.manifest.get("text_columns", []) if frame[c].dtype != pd.StringDtype()}
        )
    return landed
