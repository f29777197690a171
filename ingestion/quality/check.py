"""`finsam validate FILE`: the pipeline's verdict on one file, before it is sent.

Reads the file exactly as the pipeline would (same reader, normaliser and GX suites) in a
temporary zone, and prints in Swedish what is wrong. Nothing is written to the real zones.
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import date
from pathlib import Path

from ingestion.core.config import Settings
from ingestion.core.contract import load_contract
from ingestion.core.findings import Finding, by_severity, group_findings
from ingestion.core.rawzone import current_register
from ingestion.core.registry import load_registry
from ingestion.intake.discover import DeliveryName, FoundFile, NameError_, parse_file_name, sha256_file
from ingestion.intake.land import land_file
from ingestion.quality.suites import Batch, Context, run_validation, verdict


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """One file's verdict: `text` is what `finsam validate` prints (and the portal shows)."""

    ok: bool
    status: str  # accepted, accepted_with_warnings, quarantined, or refused (no such file / bad name)
    text: str
    name: DeliveryName | None = None
    blocking: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    information: tuple[Finding, ...] = ()
    unreadable: str | None = None


def validate_file(settings: Settings, path: Path, as_of: date | None = None) -> tuple[bool, str]:
    result = check_file(settings, path, as_of)
    return result.ok, result.text


def check_file(settings: Settings, path: Path, as_of: date | None = None, *, gx_root: Path | None = None) -> FileCheck:
    """The pipeline's verdict on one file. `gx_root`: a lasting GX project for a warm process
    (the portal), so suites and checkpoints are built once; default a throw-away one."""
    as_of = as_of or date.today()
    if not path.is_file():
        return FileCheck(False, "refused", f"Filen {path} finns inte.")
    try:
        name = parse_file_name(path.name)
    except NameError_ as exc:
        return FileCheck(False, "refused", f"Underkänd: {exc}.")
    registry = load_registry(settings.registry) if settings.registry.exists() else None
    association = registry.get(name.association) if registry else None
    lines = [f"Kontroll av {path.name} ({load_contract().kind_label(name.kind)}, period {name.period.label})"]
    if registry and association is None:
        lines.append(f"Obs: förbundet {name.association} finns inte i länets register; filen skulle inte läsas in.")
    secret = settings.secret() if (settings.hash_secret or settings.demo) else b"validate-only"
    with tempfile.TemporaryDirectory(prefix="finsam-validate-") as tmp:
        scratch = dataclasses.replace(settings, home=Path(tmp))
        found = FoundFile(path, name.association, sha256_file(path), path.stat().st_size)
        landed = land_file(scratch, found, name, secret)
        findings = landed.notes()
        if landed.manifest.get("unreadable"):
            status = "quarantined"
            lines.append(f"Filen går inte att läsa: {landed.manifest['unreadable']}")
        else:
            ctx = Context(
                as_of=as_of,
                area=association.municipalities if association else (),
                register=current_register(settings, name.association),
                overspend_share=settings.overspend_share,
            )
            batch = Batch(
                landed.delivery_id,
                name.kind,
                name.association,
                name.intervention,
                name.period.end,
                landed.frame(),
                landed.totals(),
            )
            findings += run_validation([batch], ctx, gx_root or Path(tmp) / "gx", docs=False)[landed.delivery_id]
            status = verdict(findings)
    findings = group_findings(findings)  # the normaliser's notes too: the same problem in many rows is one line
    blocking, warnings, information = by_severity(findings)
    ok = status != "quarantined"
    # Nothing is loaded here: say what the pipeline would load (no row of a file it refuses).
    would_load = landed.manifest["rows_kept"] if ok else 0
    lines.append(
        f"Rader lästa: {landed.manifest['rows_read']}, skulle läsas in: {would_load}, "
        f"hoppade över: {landed.manifest['rows_dropped']}"
    )
    if blocking:
        lines.append(f"Fel som måste rättas ({len(blocking)}):")
        lines += [f"  - {f.line_sv()}" for f in blocking]
    if warnings:
        lines.append(f"Varningar ({len(warnings)}):")
        lines += [f"  - {f.line_sv()}" for f in warnings]
    if information:
        lines.append(f"Information, behöver inte rättas ({len(information)}):")
        lines += [f"  - {f.line_sv()}" for f in information]
    lines.append(
        "Resultat: GODKÄND – filen skulle läsas in."
        if ok and not warnings
        else "Resultat: GODKÄND MED VARNINGAR – filen skulle läsas in."
        if ok
        else "Resultat: UNDERKÄND – filen skulle hamna i karantän. Rätta felen ovan och kontrollera igen."
    )
    return FileCheck(
        ok,
        status,
        "\n".join(lines),
        name,
        tuple(blocking),
        tuple(warnings),
        tuple(information),
        landed.manifest.get("unreadable"),
    )
