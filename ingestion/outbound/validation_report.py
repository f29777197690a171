"""The validation report for people: what happened to every delivery, in Swedish (issue 17).

`var/reports/validering.html` (settings.reports), rewritten by the DAG's publish task and by
`finsam run`. One self-contained page: inline CSS, no script, no web font, no image, no
address outside the file system, so it opens from a file share with no network, prints, and
reads in a screen reader (language, heading levels, tables with captions and header cells,
text colours at 7:1 or more on their backgrounds; a verdict is a word, never a colour only).

- An overview: per association, its deliveries by verdict (inläst, inläst med varningar, i
  karantän, omprövad och inläst), bad file names, findings on the built facts, reminders sent
  and deliveries overdue now, with links to its section and to its GX Data Docs ("teknisk
  detalj"); the dbt docs linked below.
- Per association: the deliveries that have findings or were quarantined or replayed (the
  rest are counted, not listed: 13 500 deliveries nationally), each by its file name, period,
  kind and verdict, with its findings grouped by value in the owner's mail's words
  (`Finding.line_sv`; fel, varningar, information) and the data team's `finsam map` commands;
  then the findings on the built facts (meta.validation_results of the final suites, and
  whether the data team was mailed), reminders sent (meta.reminders) and bad file names
  (meta.delivery_events).

It reads the warehouse's meta tables read-only and, for the listed deliveries only, their
`validation.json` and `manifest.json` in the raw zone. No personal data: findings are scrubbed
and bounded when stored, and no e-mail address is shown.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

import duckdb

from ingestion.core.config import Settings
from ingestion.core.contract import load_contract
from ingestion.core.findings import BLOCKING, MAPPING_HEADING_SV, Finding, by_severity, group_findings, mapping_lines_sv
from ingestion.core.registry import Registry
from ingestion.outbound.facts_warnings import FACT_SUITES, FactsFinding, facts_findings, mailed_findings, relations
from ingestion.outbound.reminders import STATUS_RELATION, TrackingError, read_status

log = logging.getLogger(__name__)
REPORT_NAME = "validering.html"
LINES_SHOWN = 200  # findings of one section of one delivery written out (as in the mail)
REMINDERS_SHOWN = 100  # reminders listed per association (the newest first)

VERDICTS = {  # (label, css class, order in a list)
    "quarantined": ("i karantän", "karantan", 0),
    "accepted_with_warnings": ("inläst med varningar", "varning", 1),
    "replayed": ("omprövad och inläst", "omprovad", 2),
    "accepted": ("inläst", "inlast", 3),
}
REMINDER_STATUS_SV = {
    "sent": "skickad",
    "outbox": "bara i utkorgen (ingen e-postserver inställd)",
    "failed": "misslyckades, försöks igen",
}


# ---------------------------------------------------------------- reading


@dataclass
class Delivery:
    delivery_id: str
    association: str
    intervention: str
    kind: str
    period: str
    file_name: str
    status: str
    received_at: datetime | None
    rows_read: int | None
    rows_kept: int | None
    replay_of: str | None
    replay_reason: str | None
    newer_file: str | None  # a later delivery of the same slot, which is what counts now
    newer_status: str | None
    original_received_at: datetime | None = None
    period_start: str | None = None
    period_end: str | None = None
    unreadable: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "replayed" if self.replay_of and self.status != "quarantined" else self.status


@dataclass
class AssociationReport:
    code: str
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    facts: list[FactsFinding] = field(default_factory=list)
    reminders: list[tuple] = field(default_factory=list)
    reminders_total: int = 0
    bad_names: list[tuple] = field(default_factory=list)
    data_docs: str | None = None  # relative link


COUNTS_SQL = """
    with ledger as (select * from meta.load_ledger),
    replayed as (select distinct replay_of as delivery_id from ledger where replay_of is not null)
    select association_code,
           count(*) filter (where replay_of is null) as deliveries,
           count(*) filter (where replay_of is null and status = 'accepted') as accepted,
           count(*) filter (where replay_of is null and status = 'accepted_with_warnings') as accepted_with_warnings,
           count(*) filter (where status = 'quarantined' and delivery_id not in (select delivery_id from replayed))
               as quarantined,
           count(*) filter (where replay_of is not null and status != 'quarantined') as replayed
    from ledger
    group by association_code
"""

# The deliveries to list: quarantined (unless a replay has loaded it since), replayed, or with findings.
LISTED_SQL = """
    with ledger as (
        select *,
               lead(file_name) over slot as newer_file,
               lead(status) over slot as newer_status
        from meta.load_ledger
        window slot as (partition by association_code, intervention_code, kind, period
                        order by received_at, loaded_at)
    ),
    replayed as (select distinct replay_of as delivery_id from ledger where replay_of is not null),
    with_findings as (
        select distinct delivery_id from meta.validation_results
        where not passed and delivery_id is not null and suite not in (select unnest(?::varchar[]))
    )
    select ledger.delivery_id, association_code, intervention_code, kind, period, file_name, status, received_at,
           rows_read, rows_kept, replay_of, replay_reason, newer_file, newer_status,
           (select received_at from meta.load_ledger as original where original.delivery_id = ledger.replay_of)
    from ledger
    where ledger.delivery_id not in (select delivery_id from replayed)
      and (status = 'quarantined' or replay_of is not null
           or ledger.delivery_id in (select delivery_id from with_findings))
"""


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _with_raw_zone(settings: Settings, delivery: Delivery) -> Delivery:
    """The findings (validation.json) and the period's days (manifest.json) of a listed delivery."""
    folder = settings.raw / delivery.association / delivery.delivery_id
    validation = _read_json(folder / "validation.json") or {}
    delivery.findings = group_findings([Finding.from_dict(f) for f in validation.get("findings", [])])
    manifest = _read_json(folder / "manifest.json") or {}
    delivery.period_start = manifest.get("period_start")
    delivery.period_end = manifest.get("period_end")
    delivery.unreadable = manifest.get("unreadable")
    return delivery


def run_started_at(con: duckdb.DuckDBPyConnection, known: set[str] | None = None) -> datetime | None:
    """When this run's build finished (naive UTC): the steps after it (facts, alerts, reminders)
    belong to this run. meta.build_state holds DuckDB's local time."""
    if "meta.build_state" not in (relations(con) if known is None else known):
        return None
    built = con.execute("select max(built_at) from meta.build_state").fetchone()[0]
    if built is None:
        return None
    return built.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def reminders(
    con: duckdb.DuckDBPyConnection, since: datetime | None = None, known: set[str] | None = None
) -> list[tuple]:
    """(association, intervention, kind, period, status, attempts, tried_at, sent_at) of reminders, newest first;
    `since`: only those tried or sent from then on (this run's)."""
    if "meta.reminders" not in (relations(con) if known is None else known):
        return []
    where = "" if since is None else "where coalesce(sent_at, first_tried_at) >= ? or first_tried_at >= ?"
    return con.execute(
        "select association_code, intervention_code, kind, period, status, attempts, first_tried_at, sent_at "
        f"from meta.reminders {where} "
        "order by association_code, coalesce(sent_at, first_tried_at) desc, intervention_code, kind, period",
        [] if since is None else [since, since],
    ).fetchall()


def _read_warehouse(settings: Settings, reports: dict[str, AssociationReport], context: dict) -> None:
    from ingestion.warehouse.schema import read_connection

    con = read_connection(settings)
    try:
        known = relations(con)
        if "meta.load_ledger" in known:
            names = ("deliveries", "accepted", "accepted_with_warnings", "quarantined", "replayed")
            for code, *values in con.execute(COUNTS_SQL).fetchall():
                report = reports.setdefault(code, AssociationReport(code, code))
                report.counts.update(zip(names, values))
            if "meta.validation_results" in known:
                for row in con.execute(LISTED_SQL, [list(FACT_SUITES)]).fetchall():
                    delivery = Delivery(*row[:14], original_received_at=row[14])
                    reports.setdefault(
                        delivery.association, AssociationReport(delivery.association, delivery.association)
                    )
                    reports[delivery.association].deliveries.append(_with_raw_zone(settings, delivery))
        for finding in facts_findings(con, known):
            code = finding.association_code or "?"
            reports.setdefault(code, AssociationReport(code, code)).facts.append(finding)
        context["mailed"] = mailed_findings(con, known)
        for row in reminders(con, known=known):
            report = reports.setdefault(row[0], AssociationReport(row[0], row[0]))
            report.reminders_total += 1
            if len(report.reminders) < REMINDERS_SHOWN:
                report.reminders.append(row)
        if "meta.delivery_events" in known:
            for code, *rest in con.execute(
                "select association_code, file_name, max(event_at), arg_max(message_sv, event_at), count(*) "
                "from meta.delivery_events where event = 'rejected_name' group by all order by 1, 2"
            ).fetchall():
                reports.setdefault(code, AssociationReport(code, code)).bad_names.append(tuple(rest))
        try:  # the dbt view, where dbt built it (PostgreSQL with the postgres target)
            overdue = read_status(
                settings,
                con,
                f"select association_code, count(*) as n from {STATUS_RELATION} where status = 'overdue' group by 1",
            )
            context["overdue"] = dict(zip(overdue["association_code"], overdue["n"].astype(int)))
        except TrackingError:  # not built yet: nothing is known to be overdue
            pass
        context["run_started_at"] = run_started_at(con, known)
    finally:
        con.close()


def collect(settings: Settings, registry: Registry) -> tuple[list[AssociationReport], dict]:
    """Everything the page shows, per association (registry order, then codes only the ledger knows).
    A warehouse that cannot be read (held by another program) gives a page that says so: the
    report never fails the step that writes it."""
    reports = {a.code: AssociationReport(a.code, a.name) for a in registry.associations}
    context: dict = {"run_started_at": None, "mailed": {}, "overdue": {}, "unreadable": None}
    if settings.warehouse.exists():
        try:
            _read_warehouse(settings, reports, context)
        except duckdb.Error as exc:
            log.warning("Valideringsrapporten kunde inte läsa datalagret: %s", exc)
            reports = {a.code: AssociationReport(a.code, a.name) for a in registry.associations}
            context.update(mailed={}, overdue={}, unreadable=type(exc).__name__)
    for report in reports.values():
        page = settings.gx_root / report.code / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
        if page.exists():
            report.data_docs = _link(settings, page)
        report.deliveries.sort(
            key=lambda d: (
                VERDICTS.get(d.verdict, ("", "", 9))[2],
                -(d.received_at.timestamp() if d.received_at else 0),
            )
        )
    dbt_docs = settings.publish / "dbt-docs" / "index.html"
    context["dbt_docs"] = _link(settings, dbt_docs) if dbt_docs.exists() else None
    return list(reports.values()), context


def _link(settings: Settings, target: Path) -> str:
    """A link relative to the report (works wherever the zones are copied or mounted)."""
    return quote(Path(os.path.relpath(target, settings.reports)).as_posix())


# ---------------------------------------------------------------- writing

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 75rem; padding: 1rem 1.5rem 3rem; color: #1b1f24; background: #ffffff;
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif; }
a { color: #0a4b94; }
a:focus { outline: 3px solid #1b1f24; outline-offset: 2px; }
h1 { font-size: 1.75rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.4rem; margin: 2.5rem 0 .5rem; padding-bottom: .2rem; border-bottom: 3px solid #2a4f80; }
h3 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; }
h4 { font-size: 1.05rem; margin: 0 0 .4rem; overflow-wrap: anywhere; }
h5 { font-size: 1rem; margin: .8rem 0 .2rem; }
p { margin: .4rem 0; }
.muted { color: #434b55; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #ffffff; padding: .3rem .6rem; }
nav ul { margin: .3rem 0; padding-left: 1.2rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; font-size: .95rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid #9aa5b1; padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #e6edf5; }
thead th.num { white-space: normal; }
td { overflow-wrap: break-word; }
td.file { overflow-wrap: anywhere; min-width: 16rem; }
.wide { overflow-x: auto; margin: .4rem 0 1rem; }
.wide > table { margin: 0; }
.wide:focus { outline: 3px solid #1b1f24; outline-offset: 2px; }
table.overview { font-size: .9rem; }
table.overview th, table.overview td { padding: .3rem .35rem; }
table.overview th[scope="row"] .muted { display: block; font-weight: 400; }
tfoot th, tfoot td { background: #f2f4f7; font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.zero { color: #434b55; }
.verdict { display: inline-block; padding: 0 .45rem; border: 1px solid; border-radius: .25rem;
  font-size: .9rem; font-weight: 600; white-space: nowrap; }
.v-karantan { color: #7d1010; background: #fdeaea; }
.v-varning { color: #5e3d00; background: #fff3d1; }
.v-omprovad { color: #0b3b73; background: #e5eefb; }
.v-inlast { color: #10521f; background: #e4f4e8; }
.delivery { margin: 1rem 0; padding: .75rem 1rem; border: 1px solid #9aa5b1; border-left-width: .4rem;
  border-radius: .25rem; break-inside: avoid; }
.delivery.karantan { border-left-color: #b42318; }
.delivery.varning { border-left-color: #a15c00; }
.delivery.omprovad { border-left-color: #1f5fb4; }
.delivery.inlast { border-left-color: #2e7d32; }
dl.about { display: grid; grid-template-columns: max-content 1fr; gap: .05rem 1rem; margin: .2rem 0 .5rem; }
dl.about dt { font-weight: 600; }
dl.about dd { margin: 0; }
ul.findings { margin: .2rem 0 .4rem; padding-left: 1.3rem; }
ul.findings li { margin: .15rem 0; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: .9rem;
  background: #f0f2f5; padding: 0 .2rem; overflow-wrap: anywhere; }
.note { padding: .3rem .6rem; background: #f2f4f7; border-left: .25rem solid #56606b; }
footer { margin-top: 3rem; padding-top: .5rem; border-top: 1px solid #9aa5b1; }
@media print { body { max-width: none; padding: 0; } a { color: #1b1f24; } .skip { display: none; } }
"""


def _e(value) -> str:
    """Text between tags (apostrophes kept as written: "värde 'Q'")."""
    return escape("" if value is None else str(value), quote=False)


def _a(value) -> str:
    """An attribute's value."""
    return escape("" if value is None else str(value), quote=True)


def _local(moment: datetime | None) -> str:
    """A naive UTC time (as the warehouse stores it) in the machine's local time."""
    if moment is None:
        return "–"
    return moment.replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def _num(count: int | None, href: str | None = None) -> str:
    count = count or 0
    text = f"{count:,}".replace(",", "\u00a0")
    if href and count:
        text = f'<a href="{_a(href)}">{text}</a>'
    return f'<td class="num{" zero" if not count else ""}">{text}</td>'


def _verdict(verdict: str) -> str:
    label, css, _ = VERDICTS.get(verdict, (verdict, "inlast", 9))
    return f'<span class="verdict v-{css}">{_e(label)}</span>'


def _anchor(prefix: str, key: str) -> str:
    return f"{prefix}-{''.join(c if c.isalnum() or c in '-_' else '-' for c in key)}"


def _kind(kind: str | None) -> str:
    try:
        return load_contract().kind_label(kind) if kind else ""
    except KeyError:
        return kind or ""


def _period(delivery: Delivery) -> str:
    days = (
        f" ({delivery.period_start} – {delivery.period_end})" if delivery.period_start and delivery.period_end else ""
    )
    return f"{delivery.period}{days}"


def _lines(findings: list[Finding], noun: str) -> list[str]:
    shown = [f"<li>{_e(f.line_sv())}</li>" for f in findings[:LINES_SHOWN]]
    if len(findings) > LINES_SHOWN:
        shown.append(f"<li>… och {len(findings) - LINES_SHOWN} {noun} till (se GX Data Docs).</li>")
    return ['<ul class="findings">', *shown, "</ul>"]


def _mapping(findings: list[Finding], association: str) -> list[str]:
    """The data team's `finsam map` commands, in the words of the mail's last section."""
    lines = mapping_lines_sv(findings, association)
    if not lines:
        return []
    out = [f"<h5>{_e(MAPPING_HEADING_SV)}</h5>", f"<p>{_e(lines[1].strip())}</p>", '<ul class="findings">']
    item = None
    for line in lines[2:]:
        if line.startswith("  - "):
            if item is not None:
                out.append(item + "</li>")
            item = f"<li>{_e(line[4:])}"
        elif item is not None:
            item += f"<br><code>{_e(line.strip())}</code>"
    if item is not None:
        out.append(item + "</li>")
    out.append("</ul>")
    return out


def _delivery(delivery: Delivery) -> list[str]:
    verdict = delivery.verdict
    css = VERDICTS.get(verdict, ("", "inlast", 9))[1]
    blocking, warnings, information = by_severity(delivery.findings)
    anchor = _anchor("d", delivery.delivery_id[:16])
    out = [
        f'<section class="delivery {css}" id="{anchor}" aria-labelledby="{anchor}-h">',
        f'<h4 id="{anchor}-h">{_e(delivery.file_name)} {_verdict(verdict)}</h4>',
        '<dl class="about">',
        f"<dt>Period</dt><dd>{_e(_period(delivery))}</dd>",
        f"<dt>Typ</dt><dd>{_e(_kind(delivery.kind))}</dd>",
        f"<dt>Insats</dt><dd>{_e(delivery.intervention)}</dd>",
        f"<dt>Mottagen</dt><dd>{_e(_local(delivery.original_received_at or delivery.received_at))}</dd>",
    ]
    if delivery.rows_read is not None:
        out.append(f"<dt>Rader</dt><dd>lästa {delivery.rows_read}, behållna {delivery.rows_kept or 0}</dd>")
    out.append("</dl>")
    if verdict == "replayed":
        out.append(
            f'<p class="note">Hamnade i karantän {_e(_local(delivery.original_received_at))} och lästes in vid '
            f"omprövning {_e(_local(delivery.received_at))} ({_e(delivery.replay_reason or 'omprövning')}).</p>"
        )
    if delivery.newer_file:
        label = VERDICTS.get(delivery.newer_status or "", (delivery.newer_status or "",))[0]
        out.append(
            f'<p class="note">En senare fil för samma insats, typ och period gäller nu: {_e(delivery.newer_file)} '
            f"({_e(label)}).</p>"
        )
    if delivery.unreadable:
        out += ["<h5>Filen gick inte att läsa</h5>", f"<p>{_e(delivery.unreadable)}</p>"]
    if blocking:
        out += [f"<h5>Fel som måste rättas ({len(blocking)})</h5>", *_lines(blocking, "fel")]
    if warnings:
        out += [
            f"<h5>Varningar – filen lästes in, men kontrollera ({len(warnings)})</h5>",
            *_lines(warnings, "varningar"),
        ]
    if information:
        out += [f"<h5>Information – behöver inte rättas ({len(information)})</h5>", *_lines(information, "rader")]
    out += _mapping(delivery.findings, delivery.association)
    out.append("</section>")
    return out


def _facts_table(report: AssociationReport, mailed: dict) -> list[str]:
    out = [
        "<table>",
        f"<caption>Anmärkningar på de byggda fakta för {_e(report.code)} ({len(report.facts)})</caption>",
        '<thead><tr><th scope="col">Fil</th><th scope="col">Period</th><th scope="col">Kontroll</th>'
        '<th scope="col">Allvar</th><th scope="col">Vad</th><th scope="col">Dataenheten</th></tr></thead><tbody>',
    ]
    for finding in report.facts:
        state = mailed.get(finding.key)
        if state is None:
            told = "inte meddelad än"
        elif state[0] in ("sent", "outbox"):
            told = f"meddelad {_local(state[3] or state[2])}" + (" (utkorgen)" if state[0] == "outbox" else "")
        else:
            told = "meddelandet misslyckades, försöks igen"
        out.append(
            f"<tr><td>{_e(finding.label)}</td><td>{_e(finding.period)}</td><td>{_e(finding.title_sv)}</td>"
            f"<td>{'fel' if finding.severity == BLOCKING else 'varning'}</td><td>{_e(finding.finding().line_sv())}</td>"
            f"<td>{_e(told)}</td></tr>"
        )
    return [*out, "</tbody></table>"]


def _reminders_table(report: AssociationReport) -> list[str]:
    more = report.reminders_total - len(report.reminders)
    out = [
        "<table>",
        f"<caption>Påminnelser om försenade leveranser för {_e(report.code)} ({report.reminders_total}"
        f"{f', de {len(report.reminders)} senaste visas' if more else ''})</caption>",
        '<thead><tr><th scope="col">Insats</th><th scope="col">Typ</th><th scope="col">Period</th>'
        '<th scope="col">Status</th><th scope="col" class="num">Försök</th><th scope="col">Skickad</th></tr></thead><tbody>',
    ]
    for _, intervention, kind, period, status, attempts, tried, sent in report.reminders:
        out.append(
            f"<tr><td>{_e(intervention)}</td><td>{_e(_kind(kind))}</td><td>{_e(period)}</td>"
            f"<td>{_e(REMINDER_STATUS_SV.get(status, status))}</td>{_num(attempts)}<td>{_e(_local(sent or tried))}</td></tr>"
        )
    return [*out, "</tbody></table>"]


def _bad_names_table(report: AssociationReport) -> list[str]:
    out = [
        "<table>",
        f"<caption>Filer med felaktigt filnamn för {_e(report.code)} ({len(report.bad_names)}): "
        "inte inlästa, de ligger kvar i inkorgen</caption>",
        '<thead><tr><th scope="col">Filnamn</th><th scope="col">Senast sedd</th><th scope="col">Vad som är fel</th>'
        "</tr></thead><tbody>",
    ]
    for name, seen, message, _ in report.bad_names:
        text = message or ""
        if text.startswith(f"{name}: "):
            text = text[len(name) + 2 :]
        out.append(f"<tr><td>{_e(name)}</td><td>{_e(_local(seen))}</td><td>{_e(text)}</td></tr>")
    return [*out, "</tbody></table>"]


def _association(report: AssociationReport, mailed: dict) -> list[str]:
    counts = report.counts
    out = [
        f'<section id="{_anchor("f", report.code)}" aria-labelledby="{_anchor("h", report.code)}">',
        f'<h2 id="{_anchor("h", report.code)}">{_e(report.code)} – {_e(report.name)}</h2>',
        f"<p>{counts.get('deliveries', 0)} leveranser: {counts.get('accepted', 0)} inlästa, "
        f"{counts.get('accepted_with_warnings', 0)} inlästa med varningar, {counts.get('quarantined', 0)} i karantän, "
        f"{counts.get('replayed', 0)} omprövade och inlästa.</p>",
    ]
    if report.data_docs:
        out.append(
            f'<p>Teknisk detalj: <a href="{_a(report.data_docs)}">Great Expectations Data Docs för {_e(report.code)}</a> '
            "(varje kontroll och resultat, på engelska).</p>"
        )
    listed = report.deliveries
    out.append("<h3>Leveranser med anmärkningar, i karantän eller omprövade</h3>")
    if listed:
        out += [
            f'<div class="wide" role="region" aria-labelledby="{_anchor("h", report.code)}" tabindex="0">',
            "<table>",
            f"<caption>Leveranser att titta på för {_e(report.code)} ({len(listed)}); "
            "detaljerna följer under tabellen</caption>",
            '<thead><tr><th scope="col">Fil</th><th scope="col">Insats</th><th scope="col">Typ</th>'
            '<th scope="col">Period</th><th scope="col">Utfall</th><th scope="col" class="num">Fel</th>'
            '<th scope="col" class="num">Varningar</th><th scope="col" class="num">Information</th>'
            '<th scope="col">Mottagen</th></tr></thead><tbody>',
        ]
        for delivery in listed:
            blocking, warnings, information = by_severity(delivery.findings)
            anchor = _anchor("d", delivery.delivery_id[:16])
            out.append(
                f'<tr><td class="file"><a href="#{anchor}">{_e(delivery.file_name)}</a></td><td>{_e(delivery.intervention)}</td>'
                f"<td>{_e(delivery.kind)}</td><td>{_e(delivery.period)}</td><td>{_verdict(delivery.verdict)}</td>"
                f"{_num(len(blocking))}{_num(len(warnings))}{_num(len(information))}"
                f"<td>{_e(_local(delivery.received_at))}</td></tr>"
            )
        out.append("</tbody></table></div>")
        for delivery in listed:
            out += _delivery(delivery)
    else:
        out.append(
            "<p>Inga: varje leverans lästes in utan anmärkningar.</p>"
            if counts.get("deliveries")
            else "<p>Inga leveranser har tagits emot från förbundet.</p>"
        )
    if report.facts:
        out += ["<h3>Kontroller av de byggda fakta</h3>", *_facts_table(report, mailed)]
    if report.reminders:
        out += ["<h3>Påminnelser</h3>", *_reminders_table(report)]
    if report.bad_names:
        out += ["<h3>Felaktiga filnamn</h3>", *_bad_names_table(report)]
    out.append("</section>")
    return out


def _overview(reports: list[AssociationReport], context: dict) -> list[str]:
    columns = [
        ("deliveries", "Leveranser"),
        ("accepted", "Inlästa"),
        ("accepted_with_warnings", "Inlästa med varningar"),
        ("quarantined", "I karantän"),
        ("replayed", "Omprövade och inlästa"),
        ("bad_names", "Felaktiga filnamn"),
        ("facts", "Anmärkningar på fakta"),
        ("reminders", "Påminnelser skickade"),
        ("overdue", "Försenade nu"),
    ]
    overdue = context.get("overdue", {})
    out = [
        '<section id="oversikt" aria-labelledby="h-oversikt">',
        '<h2 id="h-oversikt">Översikt per förbund</h2>',
        '<div class="wide" role="region" aria-labelledby="h-oversikt" tabindex="0">',
        '<table class="overview">',
        "<caption>Leveranser per förbund och utfall, anmärkningar, påminnelser och försenade leveranser</caption>",
        '<thead><tr><th scope="col">Förbund</th>'
        + "".join(f'<th scope="col" class="num">{_e(title)}</th>' for _, title in columns)
        + '<th scope="col">Teknisk detalj</th></tr></thead><tbody>',
    ]
    totals = dict.fromkeys((key for key, _ in columns), 0)
    for report in reports:
        values = {
            **{key: report.counts.get(key, 0) for key, _ in columns[:5]},
            "bad_names": len(report.bad_names),
            "facts": len(report.facts),
            "reminders": report.reminders_total,
            "overdue": overdue.get(report.code, 0),
        }
        for key in totals:
            totals[key] += values[key]
        section = "#" + _anchor("f", report.code)
        docs = f'<a href="{_a(report.data_docs)}">GX Data Docs</a>' if report.data_docs else "–"
        out.append(
            f'<tr><th scope="row"><a href="{section}">{_e(report.code)}</a> '
            f'<span class="muted">{_e(report.name)}</span></th>'
            + "".join(_num(values[key]) for key, _ in columns)
            + f"<td>{docs}</td></tr>"
        )
    out.append("</tbody><tfoot>")
    out.append(
        '<tr><th scope="row">Hela länet</th>' + "".join(_num(totals[key]) for key, _ in columns) + "<td></td></tr>"
    )
    return [*out, "</tfoot></table>", "</div>", "</section>"]


def render(reports: list[AssociationReport], context: dict, county: str, generated: datetime) -> str:
    title = f"Valideringsrapport – {county}" if county else "Valideringsrapport"
    dbt_docs = context.get("dbt_docs")
    out = [
        "<!doctype html>",
        '<html lang="sv">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} (Finsam)</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        '<a class="skip" href="#innehall">Till innehållet</a>',
        "<header>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">Finsam: vad som hände med varje leverans. Skapad {_e(generated.strftime("%Y-%m-%d %H:%M"))}'
        + (
            f", datalagret senast byggt {_e(_local(context['run_started_at']))}"
            if context.get("run_started_at")
            else ""
        )
        + " (tider i lokal tid). Rapporten innehåller inga personuppgifter; radnummer avser raderna i de levererade "
        "filerna.</p>",
        '<nav aria-label="Innehåll"><ul>',
        '<li><a href="#oversikt">Översikt per förbund</a></li>',
        *[f'<li><a href="#{_anchor("f", r.code)}">{_e(r.code)} – {_e(r.name)}</a></li>' for r in reports],
        "</ul></nav>",
        "</header>",
        '<main id="innehall">',
        "<p>Utfall för en leverans: <strong>inläst</strong>, <strong>inläst med varningar</strong> (ägaren har fått "
        "ett besked om vad som bör rättas), <strong>i karantän</strong> (ingenting ur filen är inläst; ägaren har "
        "fått ett besked om vad som måste rättas) eller <strong>omprövad och inläst</strong> (underkänd först, "
        "inläst när kontraktet eller länets mappningar ändrats). Leveranser utan anmärkningar räknas i översikten "
        "men listas inte.</p>",
        *(
            [
                f'<p class="note">Datalagret gick inte att läsa när rapporten skrevs ({_e(context["unreadable"])}); '
                "siffrorna saknas. Rapporten skrivs om vid nästa körning.</p>"
            ]
            if context.get("unreadable")
            else []
        ),
        *_overview(reports, context),
    ]
    for report in reports:
        out += _association(report, context.get("mailed", {}))
    out += [
        "</main>",
        "<footer>",
        "<p>Teknisk detalj: Great Expectations Data Docs per förbund (länkade ovan) visar varje kontroll.</p>",
        (
            f'<p><a href="{_a(dbt_docs)}">Dokumentation av tabellerna (dbt docs)</a>: varje tabell och kolumn i '
            "datalagret och de publicerade tabellerna.</p>"
            if dbt_docs
            else "<p>Dokumentationen av tabellerna (dbt docs) har inte byggts än.</p>"
        ),
        "</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def write_validation_report(settings: Settings, registry: Registry) -> Path:
    """Write `reports/validering.html` (atomically: a reader never sees half a page); returns its path."""
    reports, context = collect(settings, registry)
    html = render(reports, context, registry.county_name, datetime.now().astimezone())
    path = settings.reports / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{REPORT_NAME}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path


def first_warning_sv(settings: Settings, association: str, delivery_id: str) -> str | None:
    """A delivery's first warning in the mail's words, and how many more (for the run summary)."""
    validation = _read_json(settings.raw / association / delivery_id / "validation.json") or {}
    findings = group_findings([Finding.from_dict(f) for f in validation.get("findings", [])])
    _, warnings, _ = by_severity(findings)
    if not warnings:
        return None
    more = f" (+{len(warnings) - 1} varningar till)" if len(warnings) > 1 else ""
    return warnings[0].line_sv() + more
