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
from ingestion.core.findings import INFO, WARNING, Finding
from ingestion.core.mappings import load_mappings
from ingestion.core.privacy import safe_name
from ingestion.core.rawzone import (
    Landed,
    all_landed,
    erased_keys,
    existing,
    handed_over,
    next_arrival,
    raw_dir,
    utc_timestamp,
    write_json_atomic,
)
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


def _slot_of(manifest: dict) -> tuple:
    return (manifest["association"], manifest["intervention"], manifest["kind"], manifest["period"])


def delivery_id_in_slot(settings: Settings, name: DeliveryName, sha256: str) -> str:
    """The delivery these bytes are for the slot: `delivery_id_for`, unless the same bytes were
    accepted before and a later accepted delivery (a correction) superseded them. Then the file
    is sent again to revert the correction: a new delivery (its id names the delivery it
    supersedes), which wins like any newer file. Deterministic from the raw zone, so a run
    interrupted after landing it finds the same delivery again; sent a second time while it is
    current, it is a duplicate."""
    plain = delivery_id_for(name, sha256)
    first = existing(settings, name.association, plain)
    if first is None or first.status not in ACCEPTED or not handed_over(first):
        return plain  # new bytes, or the first copy is still being judged or handed over
    slot = (name.association, name.intervention, name.kind, name.period.label)
    accepted = [
        l for l in all_landed(settings, name.association) if _slot_of(l.manifest) == slot and l.status in ACCEPTED
    ]
    latest = max(accepted, key=lambda l: utc_timestamp(l.manifest["received_at"]))
    if latest.manifest["sha256"] == sha256:
        return latest.delivery_id  # these bytes are what holds now: a duplicate (or a hand-over to finish)
    again = f"{'/'.join(slot)}/{sha256}/after:{latest.delivery_id}"
    return hashlib.sha256(again.encode("utf-8")).hexdigest()


ACCEPTED = ("accepted", "accepted_with_warnings")  # verdicts whose rows are loaded
KEY_SHOWN = 8  # a person key is shown by its first characters, as meta.erasures records it
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
    governing = _Governing(settings, files)
    stored = []
    for index, (found, name) in enumerate(files):
        result = outcome[index]
        if name.kind == "deltagare" and isinstance(result, Normalised):
            result.notes += governing.dropped_notes(name, found.path.name, result.frame)
        stored.append(_store(settings, found, name, result))
        governing.add(stored[-1])
    return stored


def _resent_note(resent: Landed | None) -> list[Finding]:
    if resent is None:
        return []
    return [
        Finding(
            INFO,
            "skickad_igen",
            f"filen är exakt samma som {safe_name(resent.manifest['file_name'])} (mottagen "
            f"{str(resent.manifest['received_at'])[:10]}), som sedan ersattes av en senare leverans för samma "
            "period; den lästes in igen och gäller nu.",
        )
    ]


# ---------------------------------------------------------------- episodes a correction drops

DROPPED_LISTED = 100  # dropped episodes named one by one in the owner's warning; the rest are counted


def episode_identities(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per delivered episode with its identity, as `int_participation_episodes` keys it:
    (person_key, startdatum), or for a row without a person (anonymous) (kon, fodelsear,
    startdatum, its ordinal among such rows). Columns: identity, person_key, startdatum, source_row."""
    columns = ["person_key", "is_anonymous", "kon", "fodelsear", "startdatum", "source_row"]
    part = frame[[c for c in columns if c in frame.columns]].copy()
    for c in columns:
        if c not in part.columns:
            part[c] = pd.NA
    anonymous = part["is_anonymous"].fillna(False).astype(bool) | part["person_key"].isna()
    text = {c: part[c].astype("string").fillna("") for c in ("person_key", "kon", "fodelsear", "startdatum")}
    by_person = "person|" + text["person_key"] + "|" + text["startdatum"]
    anon_key = "anonym|" + text["kon"] + "|" + text["fodelsear"] + "|" + text["startdatum"]
    part = part.sort_values("source_row")
    ordinal = pd.Series("", index=part.index, dtype="string")
    anonymous, anon_key, by_person = anonymous[part.index], anon_key[part.index], by_person[part.index]
    ordinal[anonymous] = anon_key[anonymous].groupby(anon_key[anonymous]).cumcount().astype("string")
    part["identity"] = by_person.where(~anonymous, anon_key + "|" + ordinal)
    part["anonymous"] = anonymous
    return part


class _Governing:
    """Per intervention, the delivery that holds its episodes now: the accepted `deltagare`
    delivery of the latest period end, the latest received of that period (ingestion/contract.yml,
    kinds.deltagare.rule_sv). A new delivery that takes its place is compared with it, and every
    episode it no longer lists becomes a warning for the owner (the episode is withdrawn by dbt).
    Deliveries landed earlier in the same run count as accepted (they are judged after landing)."""

    def __init__(self, settings: Settings, files: list[tuple[FoundFile, DeliveryName]]):
        self.current: dict[tuple[str, str], Landed] = {}
        wanted = {(n.association, n.intervention) for _, n in files if n.kind == "deltagare"}
        for association in sorted({a for a, _ in wanted}):
            candidates = [
                l
                for l in all_landed(settings, association)
                if l.manifest["kind"] == "deltagare" and (association, l.manifest["intervention"]) in wanted
            ]
            for landed in sorted(candidates, key=self._order, reverse=True):  # verdicts read newest first only
                key = (association, landed.manifest["intervention"])
                if key not in self.current and landed.status in ACCEPTED:
                    if (landed.directory / "data.parquet").exists():
                        self.current[key] = landed

    @staticmethod
    def _order(landed: Landed) -> tuple:
        return (landed.manifest["period_end"], utc_timestamp(landed.manifest["received_at"]))

    def _consider(self, landed: Landed) -> None:
        key = (landed.manifest["association"], landed.manifest["intervention"])
        held = self.current.get(key)
        if held is None or self._order(landed) > self._order(held):
            self.current[key] = landed

    def add(self, landed: Landed | None) -> None:
        if landed is not None and landed.manifest["kind"] == "deltagare" and not landed.manifest.get("unreadable"):
            if (landed.directory / "data.parquet").exists():
                self._consider(landed)

    def dropped_notes(self, name: DeliveryName, file_name: str, frame: pd.DataFrame) -> list[Finding]:
        held = self.current.get((name.association, name.intervention))
        if held is None or name.period.end.isoformat() < held.manifest["period_end"]:
            return []  # nothing before it, or a late delivery for an earlier period: it governs nothing
        import pyarrow.parquet as pq

        path = held.directory / "data.parquet"
        present = set(pq.read_schema(path).names)
        wanted = [
            c for c in ("person_key", "is_anonymous", "kon", "fodelsear", "startdatum", "source_row") if c in present
        ]
        before = episode_identities(pq.read_table(path, columns=wanted).to_pandas())
        now = set(episode_identities(frame)["identity"])
        gone = before[~before["identity"].isin(now)].sort_values("source_row")
        if gone.empty:
            return []
        m = held.manifest
        earlier = safe_name(m["file_name"])
        count = len(gone)
        one = count == 1
        notes = [
            Finding(
                WARNING,
                "borttagen_episod",
                f"{count} {'deltagarepisod' if one else 'deltagarepisoder'} som fanns i den tidigare inlästa "
                f"leveransen {earlier} (period {m['period']}, mottagen {str(m['received_at'])[:10]}) saknas i den "
                "här filen. En leverans av deltagare är insatsens hela register till och med periodens slut, så "
                f"{'episoden räknas nu som borttagen' if one else 'episoderna räknas nu som borttagna'} och tas bort "
                "ur statistiken, även för tidigare perioder. Var det inte meningen: skicka en fil där "
                f"{'den' if one else 'de'} finns med, eller skicka den tidigare filen igen.",
            )
        ]
        for row in gone.head(DROPPED_LISTED).itertuples():
            who = "anonym deltagare" if row.anonymous else f"personnyckel {str(row.person_key)[:KEY_SHOWN]}"
            notes.append(
                Finding(
                    WARNING,
                    "borttagen_episod",
                    f"borttagen episod: {who}, startdatum {row.startdatum} (rad {int(row.source_row)} i {earlier}).",
                )
            )
        if count > DROPPED_LISTED:
            notes.append(
                Finding(WARNING, "borttagen_episod", f"… och {count - DROPPED_LISTED} borttagna episoder till.")
            )
        return notes


def _store(settings: Settings, found: FoundFile, name: DeliveryName, result: Normalised | UnreadableFile) -> Landed:
    """One delivery into the raw zone: written under a temporary name, then renamed into place."""
    received = next_arrival()
    delivery_id = delivery_id_in_slot(settings, name, found.sha256)
    resent_of = delivery_id_for(name, found.sha256)
    resent = existing(settings, name.association, resent_of) if resent_of != delivery_id else None
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
    if resent is not None:
        manifest["resent_of"] = resent_of
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
            notes=[n.to_dict() for n in normalised.notes + _resent_note(resent)],
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
