"""The whole run, without a scheduler (`finsam run`), calling the same steps the DAG calls."""

from __future__ import annotations

import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

from ingestion.core.config import Settings
from ingestion.core.registry import Registry, load_registry
from ingestion.intake.sources import SourceUnavailable
from ingestion.outbound.alerts import send_alerts
from ingestion.outbound.publish import publish_marts
from ingestion.outbound.reminders import track_deliveries
from ingestion.process import (
    AssociationError,
    failed_summary,
    process_association,
    process_associations,
    source_down_summary,
)
from ingestion.quality.facts import run_facts_validation
from ingestion.warehouse.build import build_marts
from ingestion.warehouse.load import load_warehouse
from ingestion.warehouse.schema import read_connection

log = logging.getLogger(__name__)


def unknown_drop_folders(settings: Settings, registry: Registry) -> list[str]:
    if not settings.landing.is_dir():
        return []
    return sorted(p.name for p in settings.landing.iterdir() if p.is_dir() and registry.get(p.name) is None)


def process_all(settings: Settings, registry: Registry, *, as_of: date | None, docs: bool) -> list[dict]:
    """process_association for every association, in parallel processes (FINSAM_WORKERS, default: cores).

    Each association writes only its own files, exactly as the DAG's mapped tasks do.
    """
    workers = min(settings.workers, len(registry.codes))
    if not docs:
        # Without Data Docs each worker validates all its associations together (one GX run per
        # suite instead of one per association and suite): GX's fixed cost dominates small deliveries.
        chunks = [registry.codes[i :: max(workers, 1)] for i in range(max(workers, 1))]
        if workers <= 1:
            return process_associations(settings, registry, registry.codes, as_of=as_of)
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(process_associations, settings, registry, chunk, as_of=as_of) for chunk in chunks]
            by_code = {s["association"]: s for future in futures for s in future.result()}
        return [by_code[code] for code in registry.codes]
    if workers <= 1:
        return [_one(settings, registry, code, as_of, docs) for code in registry.codes]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_one, settings, registry, code, as_of, docs) for code in registry.codes]
        return [future.result() for future in futures]


def _one(settings: Settings, registry: Registry, code: str, as_of: date | None, docs: bool) -> dict:
    """One association; a source that is down fails only that association (as in the DAG)."""
    try:
        return process_association(settings, registry, code, as_of=as_of, docs=docs)
    except SourceUnavailable as exc:
        log.error("%s", exc)
        return source_down_summary(code, exc)
    except AssociationError as exc:
        log.error("%s", exc)
        return failed_summary(code, str(exc))


def run_pipeline(
    settings: Settings, registry: Registry | None = None, *, as_of: date | None = None, docs: bool = True
) -> dict:
    registry = registry or load_registry(settings.registry)
    settings.ensure_dirs()
    settings.secret()  # refuse early without a hash secret (outside the demo)
    associations = process_all(settings, registry, as_of=as_of, docs=docs)
    loaded = load_warehouse(settings, registry)
    built = build_marts(settings, docs=docs)
    facts = run_facts_validation(settings, registry, as_of=as_of, docs=docs)
    alerts = send_alerts(settings, registry)
    tracking = track_deliveries(settings, registry, as_of=as_of)
    published = publish_marts(settings)  # last, so delivery_status is published with this run's tracking
    write_docs_index(settings, registry)
    return {
        "associations": associations,
        "load": loaded,
        "build": built,
        "facts": facts,
        "publish": published,
        "alerts": alerts,
        "tracking": tracking,
        "unknown_folders": unknown_drop_folders(settings, registry),
        "unreachable": {s["association"]: s["source_error"] for s in associations if s.get("source_error")},
        "failed": {s["association"]: s["error"] for s in associations if s.get("error")},
    }


def write_docs_index(settings: Settings, registry: Registry) -> Path:
    """The validation report for people (`reports/validering.html`): every association and its
    deliveries' verdicts and findings in Swedish, the checks on the built facts, reminders and bad
    file names, with each association's GX Data Docs and the dbt docs linked
    (ingestion/outbound/validation_report.py)."""
    from ingestion.outbound.validation_report import write_validation_report

    return write_validation_report(settings, registry)


UNKNOWN_LISTED = 20  # unknown values listed in the run summary (the most rows first)


def county_unknown_values(associations: list[dict]) -> list[dict]:
    """The unknown code values of the associations' summaries (`process._finish`), one per
    association, column and value (its rows summed over files), the most rows first."""
    merged: dict[tuple, dict] = {}
    for summary in associations:
        for item in summary.get("unknown_values") or []:
            key = (summary["association"], item["column"], item["value"])
            entry = merged.setdefault(
                key, {"association": key[0], "column": key[1], "value": key[2], "rows": 0, "nearest": None, "files": []}
            )
            entry["rows"] += int(item.get("rows") or 0)
            entry["nearest"] = entry["nearest"] or item.get("nearest")
            if item.get("file") and item["file"] not in entry["files"]:
                entry["files"].append(item["file"])
    return sorted(merged.values(), key=lambda e: (-e["rows"], e["association"], e["column"], e["value"]))


def _stored_unknown_values(settings: Settings, con) -> list[dict]:
    """`unknown_values` summaries rebuilt from the stored validation of each slot's latest delivery
    (a run in Airflow, such as the demo's, leaves its summaries in XCom, not here)."""
    from ingestion.core.findings import Finding, mappable

    current = con.execute("""
        select association_code, delivery_id, file_name from meta.load_ledger
        qualify row_number() over (partition by association_code, intervention_code, kind, period
                                   order by received_at desc, loaded_at desc) = 1
              and status in ('quarantined', 'accepted_with_warnings')""").fetchall()
    summaries: dict[str, dict] = {}
    for association, delivery_id, file_name in current:
        path = settings.raw / association / delivery_id / "validation.json"
        if not path.exists():
            continue
        stored = json.loads(path.read_text(encoding="utf-8"))
        findings = [Finding.from_dict(f) for f in stored.get("findings", [])]
        summary = summaries.setdefault(association, {"association": association, "unknown_values": []})
        summary["unknown_values"] += [
            {
                "column": f.column,
                "value": f.unknown_value,
                "rows": len(f.row_numbers),
                "nearest": f.nearest,
                "file": file_name,
            }
            for f in mappable(findings)
        ]
    return list(summaries.values())


def unknown_value_lines(values: list[dict], listed: int = UNKNOWN_LISTED) -> list[str]:
    """Swedish lines for the county data team: each unknown value and the `finsam map` command."""
    from ingestion.core.findings import map_command, rows_count_sv

    if not values:
        return []
    lines = [
        f"Okända värden i länet, flest rader först ({min(len(values), listed)} av {len(values)}); "
        "länets dataenhet kan lära in ett värde med kommandot under det:"
    ]
    for entry in values[:listed]:
        files = entry["files"][0] if len(entry["files"]) == 1 else f"{len(entry['files'])} filer"
        near = f"närmaste giltiga kod {entry['nearest']}" if entry["nearest"] else "ingen giltig kod liknar värdet"
        lines.append(
            f"  - {entry['association']}, kolumn {entry['column']}, värde '{entry['value']}': "
            f"{rows_count_sv(entry['rows'])} ({files}), {near}"
        )
        code = entry["nearest"] or "KOD"
        lines.append(
            f"      {map_command(entry['column'], entry['value'], code, entry['association'])}"
            + ("" if entry["nearest"] else "   (ersätt KOD med rätt kod)")
        )
    if len(values) > listed:
        lines.append(f"  … och {len(values) - listed} okända värden till.")
    return lines


def summary_lines(
    settings: Settings,
    registry: Registry,
    unknown_folders: list[str] | None = None,
    unreachable: dict[str, str] | None = None,
    associations: list[dict] | None = None,
) -> list[str]:
    """A few readable Swedish lines: deliveries, quarantine reasons, files with warnings, the checks
    on the built facts, reminders sent this run, unknown values, mart and public table rows, where
    things are (the validation report first). `associations`: this run's summaries (`run_pipeline`'s
    "associations"), whose unknown values are listed; without them, those of each slot's latest
    stored delivery. "This run" for reminders: since the latest build (the steps after it)."""
    from ingestion.outbound.facts_warnings import facts_findings, relations
    from ingestion.outbound.validation_report import first_warning_sv, reminders, run_started_at

    listed = 10  # files with warnings, facts findings and reminders written out; the report has them all
    con = read_connection(settings)
    try:
        if associations is None:
            associations = _stored_unknown_values(settings, con)
        ledger = con.execute("select status, count(*) from meta.load_ledger group by 1 order by 1").fetchall()
        # A refused delivery that a replay has since loaded is no longer in quarantine.
        quarantined = con.execute(
            "select file_name, reason from meta.load_ledger where status = 'quarantined' "
            "and delivery_id not in (select replay_of from meta.load_ledger "
            "where replay_of is not null) order by file_name"
        ).fetchall()
        replayed = con.execute(
            "select file_name, replay_reason from meta.load_ledger where replay_of is not null order by file_name"
        ).fetchall()
        events = con.execute("select event, count(*) from meta.delivery_events group by 1").fetchall()
        names = con.execute(
            "select distinct file_name, message_sv from meta.delivery_events where event = 'rejected_name' order by 1"
        ).fetchall()
        warned = con.execute(
            "select association_code, delivery_id, file_name from meta.load_ledger "
            "where status = 'accepted_with_warnings' order by file_name, received_at"
        ).fetchall()
        known = relations(con)
        facts = facts_findings(con, known)
        since = run_started_at(con, known)
        reminded = reminders(con, since, known) if since is not None else []
    finally:
        con.close()
    by_status = dict(ledger)
    total = sum(by_status.values()) - len(replayed)  # a replay is no new file
    accepted = by_status.get("accepted", 0) + by_status.get("accepted_with_warnings", 0)
    lines = [
        f"Leveranser hittade: {total + len(names)} ({total} med giltigt filnamn, {len(names)} med felaktigt filnamn; "
        f"{dict(events).get('duplicate', 0)} dubbletter av redan mottagna filer)",
        f"Inlästa: {accepted} (varav {by_status.get('accepted_with_warnings', 0)} med varningar till ägaren)",
        f"I karantän: {len(quarantined)}",
    ]
    lines += [f"  - {name}: {reason}" for name, reason in quarantined]
    if warned:
        lines.append(f"Inlästa med varningar ({len(warned)}), med den första varningen:")
        for association, delivery_id, name in warned[:listed]:
            lines.append(f"  - {name}: {first_warning_sv(settings, association, delivery_id) or 'se rapporten'}")
        if len(warned) > listed:
            lines.append(f"  … och {len(warned) - listed} filer till (se valideringsrapporten).")
    if replayed:
        lines.append(f"Inlästa efter omprövning från karantän: {len(replayed)}")
        lines += [f"  - {name}: {reason}" for name, reason in replayed]
    if names:
        lines.append("Ej inlästa, felaktigt filnamn (ligger kvar i inkorgen):")
        lines += [f"  - {message}" for _, message in names]
    if unknown_folders:
        lines.append(f"Okända mappar i inkorgen (inte i registret): {', '.join(unknown_folders)}")
    if unreachable:
        lines.append("Källor som inte gick att nå (de övriga förbunden kördes som vanligt):")
        lines += [f"  - {message}" for message in unreachable.values()]
    blocking = sum(1 for f in facts if f.severity == "blocking")
    if facts:
        lines.append(
            f"Kontrollerna av de byggda fakta: {len(facts) - blocking} varningar"
            + (f" och {blocking} fel" if blocking else "")
            + " (dataenheten får ett mejl per förbund om det som är nytt):"
        )
        lines += [f"  - {finding.line_sv()}" for finding in facts[:listed]]
        if len(facts) > listed:
            lines.append(f"  … och {len(facts) - listed} till (se valideringsrapporten).")
    else:
        lines.append("Kontrollerna av de byggda fakta: inga varningar")
    if reminded:
        lines.append(
            f"Påminnelser i denna körning: {len(reminded)} försenade leveranser "
            f"({len({r[0] for r in reminded})} förbund, {sum(r[4] == 'sent' for r in reminded)} skickade):"
        )
        status_sv = {"sent": "skickad", "outbox": "bara i utkorgen", "failed": "misslyckades, försöks igen"}
        lines += [
            f"  - {association} {intervention} {kind} {period} ({status_sv.get(status, status)})"
            for association, intervention, kind, period, status, *_ in reminded[:listed]
        ]
        if len(reminded) > listed:
            lines.append(f"  … och {len(reminded) - listed} till (se valideringsrapporten).")
    else:
        lines.append("Påminnelser i denna körning: inga")
    lines += unknown_value_lines(county_unknown_values(associations))
    snapshot = settings.publish / "finsam_marts.duckdb"
    if snapshot.exists():
        from ingestion.outbound.publish import mart_row_counts

        counts = mart_row_counts(snapshot)
        width = max((len(name) for name in counts), default=0) + 1
        lines.append("Rader per tabell (marts):")
        lines += [f"  {name:<{width}} {count:>7}" for name, count in counts.items() if name.startswith("marts.")]
        lines.append("Publicerade tabeller (public, antal under 5 dolda), rader:")
        lines += [f"  {name:<{width}} {count:>7}" for name, count in counts.items() if name.startswith("public.")]
    lines += [
        f"Valideringsrapport (per förbund och leverans, på svenska): {settings.reports / 'validering.html'}",
        f"Datalager: {settings.warehouse}",
        f"Publicerad kopia för BI: {snapshot} (och Parquet i {settings.publish / 'parquet'})",
        f"Karantän: {settings.quarantine}",
    ]
    return lines
