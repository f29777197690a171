"""Quarantine: a rejected delivery and a Swedish explanation beside it; nothing of it loads."""

from __future__ import annotations

import shutil
from pathlib import Path

from ingestion.core.config import Settings, portal_link
from ingestion.core.contract import load_contract
from ingestion.core.findings import Finding, by_severity, group_findings, mapping_lines_sv
from ingestion.core.rawzone import Landed


def explanation_sv(manifest: dict, findings: list[Finding], portal_url: str | None = None) -> str:
    contract = load_contract()
    lines = [
        f"Leveransen {manifest['file_name']} har inte lästs in (karantän).",
        f"Förbund: {manifest['association']}  Insats: {manifest['intervention']}  "
        f"Typ: {contract.kind_label(manifest['kind']) if manifest.get('kind') else '-'}  Period: {manifest.get('period', '-')}",
        f"Kontrollsumma (SHA-256): {manifest['sha256']}",
        "",
    ]
    if manifest.get("unreadable"):
        lines += [
            "Filen gick inte att läsa:",
            f"  - {manifest['unreadable']}",
            "Originalfilen ligger kvar i förbundets mapp (den kunde inte kontrolleras och kopieras därför "
            "inte hit). Ersätt den med en läsbar fil.",
            "",
        ]
    findings = group_findings(findings)  # the same problem in many rows is one line
    blocking, warnings, information = by_severity(findings)
    if blocking:
        lines.append(f"Fel som måste rättas ({len(blocking)}):")
        lines += [f"  - {f.line_sv()}" for f in blocking]
        lines.append("")
    if warnings:
        lines.append(f"Varningar ({len(warnings)}):")
        lines += [f"  - {f.line_sv()}" for f in warnings]
        lines.append("")
    if information:
        lines.append(f"Information, behöver inte rättas ({len(information)}):")
        lines += [f"  - {f.line_sv()}" for f in information]
        lines.append("")
    link = portal_link(portal_url, manifest.get("association", ""), manifest.get("intervention", ""))
    lines += [
        "Så lämnar du en ny leverans: rätta filen och "
        + (f"ladda upp den på insatsens sida, {link} (du får besked direkt), eller " if link else "")
        + "lägg den i förbundets mapp med samma filnamn.",
        "Den nya filen ersätter den underkända.",
    ]
    mapping = mapping_lines_sv(findings, manifest.get("association"))
    if mapping:
        lines += ["", *mapping]
    return "\n".join(lines) + "\n"


def quarantine(settings: Settings, landed: Landed, original: Path | None, findings: list[Finding]) -> Path:
    """Put the rejected file in quarantine with its explanation.

    A file that held personnummer is quarantined as its pseudonymised copy (CSV); the
    original never leaves the landing zone's control with the numbers in it.
    """
    manifest = landed.manifest
    folder = settings.quarantine / manifest["association"]
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / manifest["file_name"]
    if manifest.get("had_personnummer") or (original is None):
        data = landed.directory / "data.parquet"
        if data.exists():
            import pandas as pd

            pd.read_parquet(data).to_csv(base.with_name(base.name + ".pseudonymiserad.csv"), index=False, sep=";")
    elif original.exists():
        shutil.copyfile(original, base)
    reason = folder / (manifest["file_name"] + ".fel.txt")
    reason.write_text(explanation_sv(manifest, findings, settings.portal_url), encoding="utf-8")
    return reason
