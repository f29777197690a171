"""Steps 1–3 for one association: discover, land, validate, quarantine.

Writes only files (raw zone, quarantine, event log), never the warehouse, so the DAG can
run one of these per association in parallel. Safe to re-run: a file whose bytes are
already in the raw zone is recognised by its SHA-256 and not landed twice; a delivery that
was landed but not validated (a crash in between) is validated on the next run.
"""

from __future__ import annotations

import logging
import time
from datetime import date

from ingestion.core.config import Settings
from ingestion.core.findings import Finding, group_findings
from ingestion.core.privacy import safe_name
from ingestion.core.rawzone import (
    Landed,
    current_register,
    existing,
    handed_over,
    mark_handed_over,
    record_event,
    unvalidated,
    write_validation,
)
from ingestion.core.registry import Registry
from ingestion.intake.discover import NameError_, find_files, parse_file_name
from ingestion.intake.land import delivery_id_in_slot, land_files
from ingestion.intake.sources import SourceUnavailable, pull
from ingestion.quality import replay
from ingestion.quality.quarantine import explanation_sv, quarantine
from ingestion.quality.suites import Batch, Context, run_validation_many, verdict

log = logging.getLogger(__name__)
KIND_ORDER = {"insatser": 0, "budget": 1, "volym": 2, "deltagare": 3}


def _validate(
    settings: Settings, registry: Registry, association: str, pending: list[Landed], as_of: date, docs: bool
) -> dict[str, list[Finding]]:
    """Validate pending deliveries; the register first, since deliveries are checked against it."""
    return _validate_many(settings, registry, {association: pending}, as_of, docs, settings.gx_root / association)


GX_ROWS_PER_RUN = 150_000  # rows of several associations checked by one GX run (memory bound)


def _chunks(jobs: list, max_rows: int) -> list[list]:
    """Consecutive jobs (one association each) grouped so that a group holds at most max_rows
    rows (a single larger association is a group of its own)."""
    groups: list[list] = []
    rows = 0
    for job in jobs:
        size = sum(len(b.frame) for b in job[0])
        if not groups or rows + size > max_rows:
            groups.append([])
            rows = 0
        groups[-1].append(job)
        rows += size
    return groups


def _validate_many(
    settings: Settings,
    registry: Registry,
    pending_by_association: dict[str, list[Landed]],
    as_of: date,
    docs: bool,
    gx_root,
) -> dict[str, list[Finding]]:
    """`_validate` for several associations at once: one GX run per suite over all their rows."""
    results: dict[str, list[Finding]] = {}
    fingerprint = settings.rules_fingerprint
    groups: tuple[dict, dict] = ({}, {})
    for association, pending in pending_by_association.items():
        for l in pending:
            if l.manifest.get("unreadable"):
                results[l.delivery_id] = []
            else:
                groups[0 if l.manifest["kind"] == "insatser" else 1].setdefault(association, []).append(l)
    for group in groups:  # the registers first: the other deliveries are checked against them
        jobs = []
        for association, landed in group.items():
            entry = registry.get(association)
            ctx = Context(
                as_of=as_of,
                area=entry.municipalities if entry else (),
                register=current_register(settings, association),
                overspend_share=settings.overspend_share,
            )
            jobs.append(
                (
                    [
                        Batch(
                            l.delivery_id,
                            l.manifest["kind"],
                            association,
                            l.manifest["intervention"],
                            date.fromisoformat(l.manifest["period_end"]),
                            l.frame(),
                            l.totals(),
                        )
                        for l in landed
                    ],
                    ctx,
                )
            )
        if not jobs:
            continue
        found: dict[str, list[Finding]] = {}
        for chunk in _chunks(jobs, GX_ROWS_PER_RUN):  # bounded memory: GX copies and derives every row
            found.update(run_validation_many(chunk, gx_root, docs=docs))
        for landed in group.values():
            for l in landed:
                findings = group_findings(l.notes() + found.get(l.delivery_id, []))
                results[l.delivery_id] = findings
                write_validation(l, verdict(findings), findings, rules_fingerprint=fingerprint)
                l.kept = None  # validated: its rows are no longer needed in memory
    return results


def associations_with_work(settings: Settings, registry: Registry) -> list[str]:
    """The associations a run has anything to do for: those with a file in their landing folder
    (new, or a bad name still waiting to be renamed), and every one with a remote source (only
    its pull can tell), and those with refused deliveries to read again because the contract or
    the county mappings changed (`replay`). The DAG maps one task per association returned: a national run where one
    owner delivered does one task's work, not 75 (each mapped task costs Airflow ~0.15 s)."""
    from ingestion.intake.discover import candidate_paths
    from ingestion.intake.sources import is_remote

    fingerprint = settings.rules_fingerprint
    return [
        association.code
        for association in registry.associations
        if is_remote(settings, association)
        or candidate_paths(settings.landing, association.code)
        or replay.needs_scan(settings, association.code, fingerprint)
    ]


class AssociationError(RuntimeError):
    """One association could not be processed (a folder without permission, a full disk); the
    message is Swedish and says what to fix. Nothing is lost: files stay in the landing folder."""


def os_error_sv(association: str, exc: OSError) -> str:
    import errno

    where = safe_name(str(exc.filename)) if exc.filename else "en fil eller mapp"
    if exc.errno == errno.ENOSPC:
        cause = "disken är full"
        fix = "frigör utrymme på disken"
    elif isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        cause = f"behörighet saknas till {where}"
        fix = "ge körningen läs- och skrivrätt till mappen"
    else:
        cause = f"ett fel i filsystemet vid {where} ({exc.strerror or type(exc).__name__})"
        fix = "kontrollera mappen"
    return (
        f"Förbundet {association} kunde inte behandlas: {cause}. Inget har gått förlorat: filerna ligger kvar "
        f"i inkorgen och behandlas vid nästa körning. Övriga förbund körs som vanligt. Åtgärd: {fix} och kör igen."
    )


def process_association(
    settings: Settings, registry: Registry, association: str, *, as_of: date | None = None, docs: bool = True
) -> dict:
    """Discover, land, validate and quarantine one association's new deliveries. A file-system
    error (permission, full disk) fails this association only, with a Swedish `AssociationError`."""
    try:
        return _process_association(settings, registry, association, as_of=as_of, docs=docs)
    except OSError as exc:
        raise AssociationError(os_error_sv(association, exc)) from exc


def _process_association(
    settings: Settings, registry: Registry, association: str, *, as_of: date | None, docs: bool
) -> dict:
    as_of = as_of or date.today()
    summary, ordered, started = _discover_and_land(settings, registry, association, as_of)
    landed_at = time.perf_counter()
    results = _validate(settings, registry, association, [l for l, _ in ordered], as_of, docs)
    summary["timings"] = {
        "land_s": round(landed_at - started, 3),
        "validate_s": round(time.perf_counter() - landed_at, 3),
    }
    return _finish(settings, association, summary, ordered, results)


def process_associations(
    settings: Settings, registry: Registry, associations: list[str], *, as_of: date | None = None
) -> list[dict]:
    """`process_association` for several associations in one process, without Data Docs: each
    association is discovered and landed on its own, then all of them are validated together,
    one GX run per suite (`run_validation_many`; results kept under `gx/_samlat-<first association>`, one root per worker). Used by
    `finsam run`/the benchmark's full load; the DAG maps `process_association` per association."""
    as_of = as_of or date.today()
    collected = {}
    unreachable = []
    for association in associations:
        try:
            collected[association] = _discover_and_land(settings, registry, association, as_of)
        except SourceUnavailable as exc:  # that association only: the others go on (as the DAG's tasks do)
            log.error("%s", exc)
            unreachable.append(source_down_summary(association, exc))
        except OSError as exc:
            message = os_error_sv(association, exc)
            log.error("%s", message)
            unreachable.append(failed_summary(association, message))
    landed_at = time.perf_counter()
    results = _validate_many(
        settings,
        registry,
        {a: [l for l, _ in c[1]] for a, c in collected.items()},
        as_of,
        False,
        settings.gx_root / f"_samlat-{associations[0]}" if associations else settings.gx_root,
    )
    validate_s = time.perf_counter() - landed_at
    rows = sum(len(c[1]) for c in collected.values()) or 1
    summaries = []
    for association, (summary, ordered, _started) in collected.items():
        summary["timings"] = {
            "land_s": round(summary.pop("_land_s"), 3),
            "validate_s": round(validate_s * len(ordered) / rows, 3),
        }  # its share
        try:
            summaries.append(_finish(settings, association, summary, ordered, results))
        except OSError as exc:  # e.g. a read-only quarantine folder: this association only
            message = os_error_sv(association, exc)
            log.error("%s", message)
            summaries.append(failed_summary(association, message))
    return summaries + unreachable


def failed_summary(association: str, message: str) -> dict:
    """The summary of an association that failed on the file system (nothing was lost)."""
    return {**source_down_summary(association, message), "source_error": None, "error": message}


def source_down_summary(association: str, exc: Exception | str) -> dict:
    """The summary of an association whose source could not be reached (nothing was read)."""
    return {
        "association": association,
        "source_error": str(exc),
        "found": 0,
        "landed": 0,
        "duplicates": 0,
        "accepted": 0,
        "warnings": 0,
        "quarantined": [],
        "bad_names": [],
        "rows_validated": 0,
    }


def _discover_and_land(settings: Settings, registry: Registry, association: str, as_of: date):
    secret = settings.secret()
    # Step 0: fetch new exports from the association's source (a no-op for the landing folder).
    # A source that is down raises SourceUnavailable here: this association fails, the others go on.
    pull_summary = pull(settings, registry.get(association))
    summary = {
        "association": association,
        "pull": pull_summary,
        "found": 0,
        "landed": 0,
        "duplicates": 0,
        "accepted": 0,
        "warnings": 0,
        "quarantined": [],
        "bad_names": [],
    }
    pending: dict[str, tuple[Landed, object]] = {}
    to_land: list = []
    started = time.perf_counter()
    for found in find_files(settings.landing, association):
        summary["found"] += 1
        try:
            name = parse_file_name(found.path.name)
            if name.association != association:
                raise NameError_(
                    f"filen ligger i mappen {association} men filnamnet anger förbundet {name.association}"
                )
            if registry.get(name.association) is None:
                raise NameError_(f"förbundet {name.association} finns inte i länets register")
            if name.period.start > as_of:
                raise NameError_(f"perioden {name.period.label} har inte börjat än")
        except NameError_ as exc:
            shown = safe_name(found.path.name)
            message = f"{shown}: {exc}. Filen ligger kvar och lästes inte in; byt namn och lämna den igen."
            summary["bad_names"].append(message)
            record_event(settings, association, shown, found.sha256, "rejected_name", message)
            continue
        delivery_id = delivery_id_in_slot(settings, name, found.sha256)  # a re-sent older file is new
        if delivery_id in pending:  # the same bytes for the same slot twice in this run (two names)
            summary["duplicates"] += 1
            record_event(
                settings,
                association,
                found.path.name,
                found.sha256,
                "duplicate",
                f"{found.path.name}: exakt samma fil för samma insats, typ och period finns redan i "
                "inkorgen i den här körningen; den lästes bara in en gång.",
            )
            found.path.unlink(missing_ok=True)
            continue
        landed = existing(settings, association, delivery_id)
        if landed is not None and landed.status is not None and landed.manifest.get("unreadable"):
            # An unreadable file stays with its owner (it could not be checked for personnummer,
            # so no copy of it is kept anywhere); it was reported once and waits to be replaced.
            summary["unreadable_waiting"] = summary.get("unreadable_waiting", 0) + 1
            continue
        if landed is not None and landed.status is not None and not handed_over(landed):
            # Judged, but the run stopped before the hand-over (quarantine, removing the original):
            # finish it now instead of calling the original a duplicate.
            pending[landed.delivery_id] = (landed, found.path)
            continue
        if landed is not None and landed.status is not None:
            summary["duplicates"] += 1
            record_event(
                settings,
                association,
                found.path.name,
                found.sha256,
                "duplicate",
                f"{found.path.name}: exakt samma fil har redan tagits emot ({landed.manifest['received_at']}, "
                f"status {landed.status}); den lästes inte in igen.",
            )
            found.path.unlink(missing_ok=True)
            continue
        if landed is None:
            to_land.append((found, name))
            pending[delivery_id] = (None, found.path)  # keeps the discovery order
            continue
        pending[landed.delivery_id] = (landed, found.path)
    # All new files of one kind are read and normalised as one batch; each is stored as its own delivery.
    for landed in land_files(settings, to_land, secret):
        summary["landed"] += 1
        pending[landed.delivery_id] = (landed, pending[landed.delivery_id][1])

    # Landed earlier but never validated (a crash in between): finish them now.
    for landed in unvalidated(settings, association):
        if landed.delivery_id not in pending:
            pending[landed.delivery_id] = (landed, None)

    # Refused deliveries read again when the contract or the county mappings changed since
    # (or when the data team asked): after the new files, so a newer file for a slot wins.
    fingerprint = settings.rules_fingerprint
    summary["rules_fingerprint"] = fingerprint
    if replay.needs_scan(settings, association, fingerprint):
        for original, reason in replay.candidates(settings, association, fingerprint):
            again = replay.prepare(settings, original, fingerprint, reason)
            pending.setdefault(again.delivery_id, (again, None))

    ordered = sorted(pending.values(), key=lambda item: KIND_ORDER.get(item[0].manifest["kind"], 9))
    summary["_land_s"] = time.perf_counter() - started
    return summary, ordered, started


def _finish(settings: Settings, association: str, summary: dict, ordered: list, results: dict) -> dict:
    """Quarantine what failed; remove the originals of what was landed and judged.

    `unknown_values` in the summary: each value a code list does not know (blocking or warning)
    of this run's deliveries, {column, value, rows (how many), nearest (code or None), file}."""
    from ingestion.core.findings import BLOCKING, group_findings, mappable

    summary.pop("_land_s", None)
    summary["unknown_values"] = []
    summary["rows_validated"] = sum(l.manifest.get("rows_kept", 0) for l, _ in ordered)
    summary.setdefault("replayed", [])
    for landed, original in ordered:
        findings = group_findings(results[landed.delivery_id])  # the normaliser's notes too
        summary["unknown_values"] += [
            {
                "column": f.column,
                "value": f.unknown_value,
                "rows": len(f.row_numbers),
                "nearest": f.nearest,
                "file": landed.manifest["file_name"],
            }
            for f in mappable(findings)
        ]
        if landed.manifest.get("unreadable"):
            write_validation(landed, "quarantined", findings)
        status = landed.status
        if landed.manifest.get("replay_of"):
            _settle_replay(settings, association, summary, landed, status, findings)
            if status != "quarantined":
                summary["accepted"] += 1
                summary["warnings"] += status == "accepted_with_warnings"
            continue
        if status == "quarantined":
            reason_file = quarantine(settings, landed, original, findings)
            reason = landed.manifest.get("unreadable") or next(
                (f.line_sv() for f in findings if f.severity == BLOCKING), ""
            )
            summary["quarantined"].append(
                {"file": landed.manifest["file_name"], "reason": reason, "explanation": str(reason_file)}
            )
        elif status == "accepted_with_warnings":
            summary["warnings"] += 1
            summary["accepted"] += 1
        else:
            summary["accepted"] += 1
        if original is not None and not landed.manifest.get("unreadable"):
            original.unlink(missing_ok=True)  # only now: the raw copy and its verdict exist
        mark_handed_over(landed)  # the delivery's hand-over is complete: a later copy is a duplicate
    if "rules_fingerprint" in summary:
        replay.mark_checked(settings, association, summary.pop("rules_fingerprint"))
    log.info(
        "Förbund %s: %s filer, %s inlästa, %s i karantän",
        association,
        summary["found"],
        summary["accepted"],
        len(summary["quarantined"]),
    )
    return summary


def _settle_replay(
    settings: Settings, association: str, summary: dict, landed: Landed, status: str, findings: list[Finding]
) -> None:
    """A replayed delivery after validation: kept and announced if it passes now; otherwise
    dropped, and the refused delivery's explanation brought up to date with today's findings."""
    m = landed.manifest
    outcome = replay.settle(settings, landed, status)
    if outcome == "accepted":
        message = (
            f"{m['file_name']}: lästes in vid omprövning ({m['replay_reason']}); "
            f"leveransen var underkänd sedan {m['original_received_at']}."
        )
        record_event(settings, association, m["file_name"], m["sha256"], "replayed", message)
        summary["replayed"].append({"file": m["file_name"], "status": status, "reason": m["replay_reason"]})
        return
    reason_file = settings.quarantine / association / f"{m['file_name']}.fel.txt"
    if reason_file.parent.is_dir():
        original = dict(m, delivery_id=m["replay_of"], received_at=m["original_received_at"])
        reason_file.write_text(explanation_sv(original, findings, settings.portal_url), encoding="utf-8")
