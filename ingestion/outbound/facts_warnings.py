"""The checks on the built facts, told to the county data team (issue 17).

`ingestion/quality/facts.py` stores what the final suites found in `meta.validation_results`
(suites `*.final`: one row per delivery and check, with the failing rows and the first
finding's Swedish text). Here those rows are read back as findings in the words an owner's
mail uses (`Finding.line_sv`, with the suite's column and "Giltigt"), named by the delivery's
file name, and:

- listed in the validation report (`validation_report.py`) and the run summary;
- mailed, once, to each association's data team (`data_team_email` in the registry): one
  Swedish message per association and run when the checks found something new. Every
  finding mailed is recorded in `meta.facts_alerts` (a key per delivery, check, rows and
  text), so a re-run does not send it again; a failed send is tried again on the next run.
  Sent through the same SMTP code as the owners' alerts (`alerts.send_mail`,
  `alerts.build_message`), and written to the outbox (`var/reports/outbox/`). Nothing here
  raises: a mail never fails a run.

Never personal data: the stored rows hold delivery ids, row numbers and texts without person
keys (facts.py), and `build_message` scrubs the body once more.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import duckdb

from ingestion.core.config import REPO_ROOT, Settings
from ingestion.core.findings import BLOCKING, WARNING, Finding
from ingestion.core.registry import Registry
from ingestion.warehouse.schema import FACTS_ALERTS_DDL

log = logging.getLogger(__name__)

# The suites of ingestion/quality/facts.py (FACT_SUITES there; outbound does not import quality).
FACT_SUITES = ("fct_participation.final", "participant_counts.final")
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# What each check is about, as a heading for people (by the flag column the suite checks).
CHECK_TITLES_SV = {
    "_not_reopened": "avslutad episod aktiv igen",
    "_no_parallel_same_kind": "aktiv i två insatser med samma inriktning samtidigt",
    "_person_level_intervention": "deltagare i en insats som bara räknar antal",
    "_count_jump_ok": "antalet ändras kraftigt från perioden före",
}


@cache
def _suite_meta() -> dict[str, dict]:
    """expectation name ("suite:type:column") -> the suite's meta (column, valid_sv) for it."""
    found: dict[str, dict] = {}
    for suite in FACT_SUITES:
        path = EXPECTATIONS_DIR / f"{suite}.json"
        if not path.exists():
            continue
        for item in json.loads(path.read_text(encoding="utf-8")).get("expectations", []):
            found[f"{suite}:{item['type']}:{item['kwargs'].get('column')}"] = item.get("meta") or {}
    return found


@dataclass(frozen=True)
class FactsFinding:
    """One failing check of the built facts in one delivery (a row of meta.validation_results)."""

    association_code: str | None
    delivery_id: str
    file_name: str | None
    intervention_code: str | None
    kind: str | None
    period: str | None
    suite: str
    expectation: str
    severity: str
    failing_rows: tuple[int, ...]
    count: int
    message_sv: str

    @property
    def key(self) -> str:
        """What was told: the delivery, the check, its rows and its text (a change is news)."""
        text = json.dumps([self.delivery_id, self.expectation, list(self.failing_rows), self.message_sv])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    @property
    def title_sv(self) -> str:
        return CHECK_TITLES_SV.get(self.expectation.rsplit(":", 1)[-1], self.suite)

    @property
    def label(self) -> str:
        """The file name; never the delivery's hash (a slot's name if the ledger does not know it)."""
        if self.file_name:
            return self.file_name
        parts = [self.association_code, self.intervention_code, self.kind, self.period]
        return "_".join(p for p in parts if p) or "okänd leverans"

    def finding(self) -> Finding:
        """As the owner's mail words it: rows, the suite's column, the text, what is valid."""
        meta = _suite_meta().get(self.expectation, {})
        valid = meta.get("valid_sv")
        message = self.message_sv or meta.get("message_sv", "")
        if len(self.failing_rows) > 1:
            message += f" (Texten gäller rad {self.failing_rows[0]}; de andra raderna är likadana fall.)"
        return Finding(
            severity=self.severity or WARNING,
            check=self.expectation,
            message_sv=message,
            column=meta.get("column"),
            valid_sv=valid if valid and "{" not in valid else None,  # a template needs the row's values
            rows=list(self.failing_rows) or None,
        )

    def line_sv(self) -> str:
        """'SODRA_AVESTA_deltagare_2016T3.csv (deltagare, period 2016T3), avslutad episod aktiv igen: rad 4, …'"""
        where = ", ".join(p for p in (self.kind, f"period {self.period}" if self.period else "") if p)
        return f"{self.label}{f' ({where})' if where else ''}, {self.title_sv}: {self.finding().line_sv()}"


def relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    """`schema.name` of every table and view (a step may run before the first build)."""
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "union all select schema_name, view_name from duckdb_views() where not internal"
        ).fetchall()
    }


def facts_findings(con: duckdb.DuckDBPyConnection, known: set[str] | None = None) -> list[FactsFinding]:
    """Every failing check of the built facts now stored, blocking first, then by association and file."""
    known = relations(con) if known is None else known
    if "meta.validation_results" not in known:
        return []
    # A delivery's slot from the ledger; deliveries written straight into raw (tests) from dbt's view.
    sources = ["select delivery_id, association_code, intervention_code, kind, period, file_name from meta.load_ledger"]
    if "intermediate.int_deliveries_current" in known:
        sources.append(
            "select distinct delivery_id, association_code, intervention_code, kind, period, null "
            "from intermediate.int_deliveries_current where delivery_id not in (select delivery_id from meta.load_ledger)"
        )
    if "meta.load_ledger" not in known:
        sources = ["select null, null, null, null, null, null where false"]
    rows = con.execute(
        f"""
        with deliveries (delivery_id, association_code, intervention_code, kind, period, file_name) as (
            {" union all ".join(sources)}
        )
        select deliveries.association_code, results.delivery_id, deliveries.file_name, deliveries.intervention_code,
               deliveries.kind, deliveries.period, results.suite, results.expectation, results.severity,
               results.failing_rows, results.observed, results.message_sv
        from meta.validation_results as results
        left join deliveries using (delivery_id)
        where results.suite in (select unnest(?::varchar[])) and not results.passed and results.delivery_id is not null
        order by results.severity = 'blocking' desc, deliveries.association_code, deliveries.file_name,
                 results.expectation, results.delivery_id
        """,
        [list(FACT_SUITES)],
    ).fetchall()
    found = []
    for (
        association,
        delivery_id,
        file_name,
        intervention,
        kind,
        period,
        suite,
        check,
        severity,
        failing,
        observed,
        text,
    ) in rows:
        try:
            count = int(json.loads(observed).get("antal")) if observed else len(failing or [])
        except (ValueError, TypeError, AttributeError):
            count = len(failing or [])
        found.append(
            FactsFinding(
                association,
                delivery_id,
                file_name,
                intervention,
                kind,
                period,
                suite,
                check,
                severity or WARNING,
                tuple(int(r) for r in failing or ()),
                count,
                text or "",
            )
        )
    return found


def mailed_findings(con: duckdb.DuckDBPyConnection, known: set[str] | None = None) -> dict[str, tuple]:
    """warning_key -> (status, attempts, first_tried_at, sent_at) of the findings mailed before."""
    if "meta.facts_alerts" not in (relations(con) if known is None else known):
        return {}
    return {
        row[0]: row[1:]
        for row in con.execute(
            "select warning_key, status, attempts, first_tried_at, sent_at from meta.facts_alerts"
        ).fetchall()
    }


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def compose(
    association_code: str,
    association_name: str,
    new: list[FactsFinding],
    still_open: int,
    settings: Settings,
) -> tuple[str, str]:
    """The data team's message: the new findings on the built facts of one association."""
    blocking = [f for f in new if f.severity == BLOCKING]
    warnings = [f for f in new if f.severity != BLOCKING]
    counted = []
    if blocking:
        counted.append(_plural(len(blocking), "nytt fel", "nya fel"))
    if warnings:
        counted.append(_plural(len(warnings), "ny varning", "nya varningar"))
    what = " och ".join(counted)
    subject = f"[Finsam] {association_code}: {what} från kontrollerna av de byggda fakta"
    lines = [
        "Hej!",
        "",
        f"Kontrollerna av de byggda fakta för {association_name} ({association_code}) har hittat {what}. "
        "De visar det som bara syns över flera leveranser, insatser eller perioder. Leveranserna är redan "
        "inlästa; uppgifterna bör stämmas av med insatsens ägare.",
        "",
    ]
    if blocking:
        lines.append(f"FEL I DE BYGGDA FAKTA ({len(blocking)})")
        lines += [f"  - {f.line_sv()}" for f in blocking[:200]]
        if len(blocking) > 200:
            lines.append(f"  … och {len(blocking) - 200} fel till (se valideringsrapporten).")
        lines.append("")
    if warnings:
        lines.append(f"VARNINGAR ({len(warnings)})")
        lines += [f"  - {f.line_sv()}" for f in warnings[:200]]
        if len(warnings) > 200:
            lines.append(f"  … och {len(warnings) - 200} varningar till (se valideringsrapporten).")
        lines.append("")
    if still_open:
        lines += [f"Dessutom kvarstår {_plural(still_open, 'anmärkning', 'anmärkningar')} som meddelats tidigare.", ""]
    lines += [
        "Så går ni vidare:",
        "  Radnumren avser raderna i de levererade filerna. Behöver uppgifterna rättas lämnar ägaren en rättad fil "
        "med samma namn; den ersätter den gamla och kontrolleras igen vid nästa körning.",
        f"  Valideringsrapporten (alla förbund och leveranser): {settings.reports / 'validering.html'}",
        "",
        "Varje anmärkning meddelas en gång. Meddelandet innehåller inga personuppgifter.",
        "",
        "Vänliga hälsningar",
        "Länets uppföljning av finansiell samordning (Finsam)",
    ]
    return subject, "\n".join(lines) + "\n"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def send_facts_warnings(settings: Settings, registry: Registry, *, attempts: int = 3, backoff: float = 1.0) -> dict:
    """One message per association with findings on the built facts not mailed before; sent once.

    Returns {"messages", "sent", "failed", "outbox", "findings"} (findings: how many were new).
    Never raises: a missing or busy warehouse is logged and the mail waits for the next run.
    """
    from ingestion.outbound.alerts import build_message, send_mail
    from ingestion.warehouse.schema import connect

    summary = {"messages": 0, "sent": 0, "failed": 0, "outbox": 0, "findings": 0}
    if not settings.warehouse.exists():
        return summary
    try:
        con = connect(settings)
    except Exception:
        log.exception("Kontrollerna av fakta kunde inte läsas; meddelandet till dataenheten väntar till nästa körning")
        return summary
    try:
        found = facts_findings(con)
        if not found:
            return summary
        con.execute(FACTS_ALERTS_DDL)
        mailed = mailed_findings(con)
        by_association: dict[str, list[FactsFinding]] = {}
        for finding in found:
            by_association.setdefault(finding.association_code or "", []).append(finding)
        outbox = settings.reports / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        for code, findings in by_association.items():
            done = {f.key for f in findings if (mailed.get(f.key) or ("failed",))[0] in ("sent", "outbox")}
            new = [f for f in findings if f.key not in done]
            if not new:
                continue
            entry = registry.get(code)
            to = (entry.data_team_email if entry else None) or registry.data_team_email
            now = _now()
            try:
                subject, body = compose(
                    code or "länet", entry.name if entry else code or "länet", new, len(done), settings
                )
                message = build_message(settings, to, None, subject, body)
                message["X-Finsam-Facts"] = f"{code}:{now.isoformat()}"
                name = f"fakta-{code or 'lanet'}-{now:%Y%m%dT%H%M%S}.eml"
                (outbox / name).write_bytes(bytes(message))
                sent, tries = send_mail(settings, message, attempts=attempts, backoff=backoff)
            except Exception:  # a mail must never fail the run
                log.exception("Meddelandet om fakta för förbundet %s kunde inte skapas eller skickas", code)
                sent, tries = False, 0
            status = "sent" if sent else ("outbox" if not settings.smtp_host and to else "failed")
            summary["messages"] += 1
            summary[status] += 1
            summary["findings"] += len(new)
            records = []
            for f in new:
                previous = mailed.get(f.key)
                attempts_so_far = (previous[1] if previous else 0) + tries
                first_tried = previous[2] if previous else now
                records.append(
                    (code, f.key, f.delivery_id, f.expectation, f.severity, to, status, attempts_so_far, first_tried,
                     now if sent else None)
                )  # fmt: skip
            con.execute("begin transaction")  # recorded right after its mail: a crash later resends nothing
            con.execute(
                "delete from meta.facts_alerts where warning_key in (select unnest(?::varchar[]))",
                [[f.key for f in new]],
            )
            con.executemany("insert into meta.facts_alerts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
            con.execute("commit")
    except Exception:
        log.exception("Meddelandena om kontrollerna av fakta kunde inte skickas; de försöks igen vid nästa körning")
    finally:
        con.close()
    return summary
