"""The whole run, without a scheduler (`finsam run`), calling the same steps the DAG calls."""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import duckdb

from .alert import send_alerts
from .build import build_marts
from .config import Settings
from .load import load_warehouse, read_connection
from .process import process_association, process_associations, source_down_summary
from .sources import SourceUnavailable
from .publish import publish_marts
from .validate_facts import run_facts_validation
from .registry import Registry, load_registry
from .tracking import track_deliveries

log = logging.getLogger(__name__)


def unknown_drop_folders(settings: Settings, registry: Registry) -> list[str]:
    if not settings.landing.is_dir():
        return []
    return sorted(p.name for p in settings.landing.iterdir() if p.is_dir() and registry.get(p.name) is None)


def process_all(settings: Settings, registry: Registry, *, as_of: date | None, docs: bool) -> list[dict]:
    """process_association for every association, in parallel processes (FINSAM_WORKERS, default: cores).

    Each association writes only its own files, exactly as the DAG's mapped tasks do.
    """
    workers = min(int(os.environ.get("FINSAM_WORKERS", os.cpu_count() or 1)), len(registry.codes))
    if not docs:
        # Without Data Docs each worker validates all its associations together (one GX run per
        # suite instead of one per association and suite): GX's fixed cost dominates small deliveries.
        chunks = [registry.codes[i::max(workers, 1)] for i in range(max(workers, 1))]
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


def run_pipeline(settings: Settings, registry: Registry | None = None, *, as_of: date | None = None,
                 docs: bool = True) -> dict:
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
    return {"associations": associations, "load": loaded, "build": built, "facts": facts, "publish": published, "alerts": alerts,
            "tracking": tracking, "unknown_folders": unknown_drop_folders(settings, registry),
            "unreachable": {s["association"]: s["source_error"] for s in associations if s.get("source_error")}}


def write_docs_index(settings: Settings, registry: Registry) -> Path:
    """One page linking every association's GX Data Docs and the dbt docs."""
    links = []
    for code in registry.codes:
        page = settings.gx_root / code / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
        if page.exists():
            links.append(f'<li><a href="{page.relative_to(settings.reports.parent)}">{code}</a></li>'
                         .replace('href="', 'href="../'))
    dbt_docs = settings.publish / "dbt-docs" / "index.html"
    html = ("<!doctype html><meta charset='utf-8'><title>Finsam: valideringsrapporter</title>"
            "<h1>Valideringsrapporter (Great Expectations Data Docs)</h1><ul>" + "".join(links) + "</ul>"
            + (f"<p><a href='../publish/dbt-docs/index.html'>Dokumentation av tabellerna (dbt docs)</a></p>"
               if dbt_docs.exists() else ""))
    path = settings.reports / "validering.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def summary_lines(settings: Settings, registry: Registry, unknown_folders: list[str] | None = None,
                  unreachable: dict[str, str] | None = None) -> list[str]:
    """A few readable Swedish lines: deliveries, quarantine reasons, mart rows, where things are."""
    con = read_connection(settings)
    try:
        ledger = con.execute("select status, count(*) from meta.load_ledger group by 1 order by 1").fetchall()
        quarantined = con.execute("select file_name, reason from meta.load_ledger where status = 'quarantined' "
                                  "order by file_name").fetchall()
        events = con.execute("select event, count(*) from meta.delivery_events group by 1").fetchall()
        names = con.execute("select distinct file_name, message_sv from meta.delivery_events "
                            "where event = 'rejected_name' order by 1").fetchall()
    finally:
        con.close()
    by_status = dict(ledger)
    total = sum(by_status.values())
    accepted = by_status.get("accepted", 0) + by_status.get("accepted_with_warnings", 0)
    lines = [
        f"Leveranser hittade: {total + len(names)} ({total} med giltigt filnamn, {len(names)} med felaktigt filnamn; "
        f"{dict(events).get('duplicate', 0)} dubbletter av redan mottagna filer)",
        f"Inlästa: {accepted} (varav {by_status.get('accepted_with_warnings', 0)} med varningar till ägaren)",
        f"I karantän: {len(quarantined)}",
    ]
    lines += [f"  - {name}: {reason}" for name, reason in quarantined]
    if names:
        lines.append("Ej inlästa, felaktigt filnamn (ligger kvar i inkorgen):")
        lines += [f"  - {message}" for _, message in names]
    if unknown_folders:
        lines.append(f"Okända mappar i inkorgen (inte i registret): {', '.join(unknown_folders)}")
    if unreachable:
        lines.append("Källor som inte gick att nå (de övriga förbunden kördes som vanligt):")
        lines += [f"  - {message}" for message in unreachable.values()]
    snapshot = settings.publish / "finsam_marts.duckdb"
    if snapshot.exists():
        from .publish import mart_row_counts

        counts = mart_row_counts(snapshot)
        lines.append("Rader per tabell (marts):")
        lines += [f"  {name:<45} {count:>7}" for name, count in counts.items() if name.startswith("marts.")]
    lines += [
        f"Datalager: {settings.warehouse}",
        f"Publicerad kopia för BI: {snapshot} (och Parquet i {settings.publish / 'parquet'})",
        f"Valideringsrapport (GX Data Docs): {settings.reports / 'validering.html'}",
        f"Karantän: {settings.quarantine}",
    ]
    return lines
