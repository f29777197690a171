"""Step 7: tell the intervention owner, in Swedish, what to fix.

One message per delivery with findings: blocking problems, warnings and information in
separate sections, each as rows, column, value and what is valid (the same problem in many
rows is one line), and how to re-deliver; last, for the county data team, the `finsam map`
command for each value the code lists do not know. A delivery with only information (no
blocking problem, no warning) gets no message. Sent to the
owner's address from the intervention register, with a copy to the county data team.
Every message is also written to the outbox (`var/reports/outbox/`). A failed send is
retried with back-off and recorded; it never fails the load. A delivery is alerted once.

The same step mails each association's data team (registry `data_team_email`) once about
new findings of the checks on the built facts (`facts_warnings.py`), through the same code.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ingestion.core.config import Settings, portal_link
from ingestion.core.contract import load_contract
from ingestion.core.findings import BLOCKING, WARNING, Finding, by_severity, group_findings, mapping_lines_sv
from ingestion.core.privacy import scrub_text
from ingestion.core.rawzone import current_register, existing, landed_directories, owner_emails, write_json_atomic
from ingestion.core.registry import Registry

log = logging.getLogger(__name__)
SENDING = "sending"  # alert.json while the relay is being given the mail (a run killed then: not sent again)
INTERRUPTED = "interrupted"  # the outcome of a send whose run was killed: maybe delivered, never repeated
REPLAYED_MARKER = "replayed"  # beside a delivery accepted on replay (ingestion/replay.py): its owner is told


REPORTS_FOLDER = "var/publish/rapporter"  # docs/reports.md: <FINSAM_HOME>/publish/rapporter/<förbund>/<insats>/


def reports_line(manifest: dict, link: str | None, reports_dir: str | None = None) -> str:
    """Where the owner finds the intervention's reports, refreshed with an accepted delivery's
    figures: the portal page's reports section, or without a portal the publish folder."""
    where = (
        f"{link}#rapporter"
        if link
        else f"{(reports_dir or REPORTS_FOLDER).rstrip('/')}/{manifest['association']}/{manifest['intervention']}/"
    )
    return (
        "Insatsens rapporter (halvårs- och helårsrapporter i PDF, Word och HTML) uppdateras med "
        f"leveransens siffror när körningen är klar: {where}"
    )


def compose(
    manifest: dict,
    status: str,
    findings: list[Finding],
    portal_url: str | None = None,
    reports_dir: str | None = None,
) -> tuple[str, str]:
    contract = load_contract()
    link = portal_link(portal_url, manifest["association"], manifest["intervention"])
    kind = contract.kind_label(manifest["kind"])
    findings = group_findings(findings)  # findings stored before grouping, and the normaliser's notes
    blocking, warnings, information = by_severity(findings)
    if status == "quarantined":
        subject = f"[Finsam] Leveransen {manifest['file_name']} behöver rättas – den har inte lästs in"
        intro = (
            "Er leverans har tagits emot men kunde inte läsas in, eftersom den innehåller fel som måste "
            "rättas. Ingenting ur filen har lästs in; tidigare leveranser påverkas inte."
        )
    elif manifest.get("replay_of"):
        subject = f"[Finsam] Leveransen {manifest['file_name']} är inläst efter omprövning"
        intro = (
            f"Er leverans {manifest['file_name']}, som hamnade i karantän "
            f"{str(manifest.get('original_received_at', ''))[:10]}, har prövats om och är nu inläst "
            f"({manifest.get('replay_reason', 'omprövning')}). Ni behöver inte skicka filen igen."
        )
    else:
        subject = f"[Finsam] Leveransen {manifest['file_name']} är inläst – med {len(warnings)} varning(ar)"
        intro = "Er leverans har lästs in. Vi har hittat några saker som ni bör titta på och rätta till nästa gång."
    lines = [
        "Hej!",
        "",
        intro,
        "",
        f"Fil: {manifest['file_name']}",
        f"Förbund: {manifest['association']}   Insats: {manifest['intervention']}   Typ: {kind}   Period: {manifest['period']}",
        f"Mottagen: {manifest['received_at']}",
        "",
    ]
    if manifest.get("unreadable"):
        lines += ["FILEN GICK INTE ATT LÄSA", f"  - {manifest['unreadable']}", ""]
    if blocking:
        lines.append(f"FEL SOM MÅSTE RÄTTAS ({len(blocking)})")
        lines += [f"  - {f.line_sv()}" for f in blocking[:200]]
        if len(blocking) > 200:
            lines.append(f"  … och {len(blocking) - 200} fel till (se karantänfilen).")
        lines.append("")
    if warnings:
        lines.append(f"VARNINGAR – filen lästes in, men kontrollera ({len(warnings)})")
        lines += [f"  - {f.line_sv()}" for f in warnings[:200]]
        if len(warnings) > 200:
            lines.append(f"  … och {len(warnings) - 200} varningar till.")
        lines.append("")
    if information:
        lines.append(f"INFORMATION – behöver inte rättas ({len(information)})")
        lines += [f"  - {f.line_sv()}" for f in information[:200]]
        if len(information) > 200:
            lines.append(f"  … och {len(information) - 200} till.")
        lines.append("")
    if status == "quarantined":
        if any(f.row_numbers for f in blocking):
            first = f"Rätta raderna ovan i er egen fil (radnumren avser raderna i filen {manifest['file_name']})."
        elif blocking:
            first = "Rätta felen ovan i er egen fil."
        elif manifest.get("unreadable"):
            first = "Spara filen på nytt så att den går att läsa (orsaken står ovan)."
        else:
            first = "Rätta filen."
        lines += [
            "Så lämnar du en ny leverans:",
            f"  1. {first}",
            *(
                [
                    f"  2. Ladda upp den rättade filen på insatsens sida: {link}",
                    "     Du får besked direkt, och en godkänd fil läses in vid nästa körning.",
                    f"     (Eller lägg filen i förbundets mapp med samma namn, {manifest['file_name']}.) "
                    "Den ersätter den underkända.",
                ]
                if link
                else [
                    f"  2. Lägg filen i förbundets mapp med samma namn, {manifest['file_name']}. "
                    "Den ersätter den underkända, och du får ett nytt besked när den har lästs.",
                ]
            ),
            "",
        ]
    else:
        lines += [
            "Så rättar du:",
            "  Filen behöver inte skickas igen. Rätta uppgifterna i ert eget underlag så att nästa leverans blir rätt.",
            f"  Vill ni ersätta filen redan nu: lägg en rättad fil med samma namn, {manifest['file_name']}, i "
            "förbundets mapp. Den senaste filen för samma insats, typ och period gäller.",
            *([f"  Insatsens sida, där ni också kan ladda upp filen och få besked direkt: {link}"] if link else []),
            "",
            reports_line(manifest, link, reports_dir),
            "",
        ]
    mapping = mapping_lines_sv(findings, manifest.get("association"))
    if mapping:
        lines += [*mapping, ""]
    lines += [
        "Meddelandet innehåller inga personuppgifter. Frågor: svara på detta mejl så når du länets dataenhet.",
        "",
        "Vänliga hälsningar",
        "Länets uppföljning av finansiell samordning (Finsam)",
    ]
    return subject, "\n".join(lines) + "\n"


def send_mail(settings: Settings, message: EmailMessage, attempts: int = 3, backoff: float = 1.0) -> tuple[bool, int]:
    """Send through the configured SMTP relay; retried with back-off. Never raises."""
    if not settings.smtp_host:
        return False, 0
    for attempt in range(1, attempts + 1):
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user:
                    smtp.login(settings.smtp_user, settings.smtp_password or "")
                smtp.send_message(message)
            return True, attempt
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("Utskick misslyckades (försök %s av %s): %s", attempt, attempts, type(exc).__name__)
            if attempt < attempts:
                time.sleep(backoff * attempt)
    return False, attempts


# Headers are not folded: folding splits a Swedish subject into encoded words in mid-word, and
# readers that (rightly, RFC 2047) drop the space between encoded words show "…ärinläst".
MAIL_POLICY = policy.default.clone(max_line_length=998)


def build_message(settings: Settings, to: str, cc: str | None, subject: str, body: str) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = settings.mail_from
    message["To"] = to
    if cc and cc != to:
        message["Cc"] = cc
    message["Subject"] = scrub_text(subject)[0]
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="finsam.local")
    message.set_content(scrub_text(body)[0])  # last guard: nothing shaped like a personnummer leaves
    return message


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def record_alerts(settings: Settings, records: list[dict]) -> None:
    """Upsert this run's alert outcomes into meta.alerts. Never raises: the mail is what matters."""
    if not records:
        return
    try:
        from ingestion.warehouse.schema import connect, ensure_schema

        con = connect(settings)
        try:
            ensure_schema(con)
            for r in records:
                con.execute("delete from meta.alerts where delivery_id = ?", [r["delivery_id"]])
                con.execute(
                    "insert into meta.alerts values (?, ?, cast(? as timestamp), ?, ?)",
                    [r["delivery_id"], r["recipient"], r["sent_at"], r["status"], r["attempts"]],
                )
        finally:
            con.close()
    except Exception:  # a locked or missing warehouse must not fail the alert step
        log.exception("Kunde inte skriva utskicken till meta.alerts; de finns kvar i rådatazonen (alert.json)")


def send_alerts(settings: Settings, registry: Registry, *, attempts: int = 3, backoff: float = 1.0) -> dict:
    """One message per delivery with something to fix (quarantined, or a warning), sent once.

    The outcome is kept beside the delivery (`alert.json`) and in `meta.alerts`: `sent`,
    `outbox` (no SMTP relay configured: the message is only in the outbox) or `failed`
    (the relay did not take it after `attempts` tries). A failed alert is tried again on
    the next run; a sent one never again. Nothing here raises: alerts never fail a load.
    """
    summary = {"sent": 0, "failed": 0, "outbox": 0, "retried": 0}
    outbox = settings.reports / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    registers: dict[str, dict[str, str]] = {}
    records: list[dict] = []
    # Cheapest test first: at national scale nearly every delivery was alerted before, or needs none.
    for directory in landed_directories(settings):
        marker = directory / "alert.json"
        previous = json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else None
        if previous is not None and previous.get("status") == SENDING:
            # The run that sent this stopped (killed) before it wrote the outcome: the relay may have
            # taken the mail. A delivery is mailed at most once, so it is not sent again; the message
            # is in the outbox, and the outcome is recorded as interrupted.
            record = dict(previous, status=INTERRUPTED, at=_now())
            write_json_atomic(marker, record)
            records.append(record)
            continue
        if previous is not None and previous.get("status", "sent" if previous.get("sent") else "outbox") != "failed":
            continue
        verdict = directory / "validation.json"
        if not verdict.exists():
            continue
        validation = json.loads(verdict.read_text(encoding="utf-8"))
        findings = [Finding.from_dict(f) for f in validation.get("findings", [])]
        status = validation["status"]
        if (
            status != "quarantined"
            and not any(f.severity in (BLOCKING, WARNING) for f in findings)
            and not (directory / REPLAYED_MARKER).exists()
        ):
            continue  # nothing to fix: no message for information only (a replay is always announced)
        landed = existing(settings, directory.parent.name, directory.name)
        if landed is None:
            continue
        try:
            m = landed.manifest
            association = registry.get(m["association"])
            team = association.data_team_email if association else registry.data_team_email
            if m["association"] not in registers:
                registers[m["association"]] = {
                    code.upper(): address
                    for code, address in owner_emails(  # file names are upper case
                        current_register(settings, m["association"])
                    ).items()
                }
            owner = registers[m["association"]].get(m["intervention"]) or team
            subject, body = compose(m, status, findings, settings.portal_url, str(settings.publish / "rapporter"))
            message = build_message(settings, owner, team, subject, body)
            message["X-Finsam-Delivery"] = landed.delivery_id
            (outbox / f"{landed.delivery_id[:16]}.eml").write_bytes(bytes(message))
            summary["outbox"] += 1
            if settings.smtp_host:  # written before the hand-over to the relay: never mailed twice
                write_json_atomic(
                    marker,
                    {
                        "delivery_id": landed.delivery_id,
                        "recipient": owner,
                        "cc": team,
                        "status": SENDING,
                        "sent": False,
                        "attempts": (previous or {}).get("attempts", 0),
                        "at": _now(),
                        "sent_at": None,
                    },
                )
            sent, tries = send_mail(settings, message, attempts=attempts, backoff=backoff)
        except Exception:
            log.exception("Varningen för leverans %s kunde inte skapas eller skickas", landed.delivery_id[:12])
            owner, team, sent, tries = None, None, False, 0
        if previous is not None:
            summary["retried"] += 1
        outcome = "sent" if sent else ("outbox" if not settings.smtp_host and owner else "failed")
        if outcome != "outbox":
            summary[outcome] += 1
        total = (previous or {}).get("attempts", 0) + tries
        record = {
            "delivery_id": landed.delivery_id,
            "recipient": owner,
            "cc": team,
            "status": outcome,
            "sent": sent,
            "attempts": total,
            "at": _now(),
            "sent_at": _now() if sent else None,
        }
        write_json_atomic(marker, record)
        records.append(record)
    record_alerts(settings, records)
    # The data team's mail about new findings on the built facts (facts_warnings.py), sent once.
    from ingestion.outbound.facts_warnings import send_facts_warnings

    facts = send_facts_warnings(settings, registry, attempts=attempts, backoff=backoff)
    if facts["messages"]:
        summary["facts_warnings"] = facts
    return summary
