"""Step 8: delivery tracking. What is due, what has come in, and a reminder when it is late.

What is due, its due date and its status are decided in dbt, once: `int_deliveries_due` (from
each association's current register and each intervention's cadence, on the period ends) and
the view `marts.delivery_status` (covering rules and statuses); both are documented in
`dbt_project/models/`. In short: deltagare (matmetod PERSON), volym (VOLYM) and budget (every
intervention) per period of the intervention's cadence (`rapportering`: T tertial, the default;
H half-year; M month; A year), and the association's own register (`ALL`) per tertial; a period
is due once it has ended, and its delivery `FINSAM_OVERDUE_DAYS` (30) days after its end.

This step only:

1. writes the run's date and `FINSAM_OVERDUE_DAYS` to `meta.tracking_as_of` (one row; the
   statuses are as of the run's date, never the wall clock: backfills and the demo run "as of"
   an earlier day), after which `marts.delivery_status` is current without a rebuild;
2. reads from it the counts per status and the overdue deliveries, and for every delivery newly
   overdue sends ONE reminder to the owner (the register's `agare_epost`; the association's
   register itself goes to the data team), one e-mail per recipient per run. Reminders are
   recorded in `meta.reminders`; a failed send is tried again next run and never fails the run.

With the dbt `postgres` target the view lives in PostgreSQL: the date is written there too, and
the view is read there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from ingestion.core.config import Settings, portal_link
from ingestion.core.registry import Registry
from ingestion.warehouse.schema import REMINDERS_DDL, TRACKING_AS_OF_DDL

log = logging.getLogger(__name__)

STATUSES = ("received", "received_late", "awaiting", "quarantined", "overdue")
STATUS_RELATION = "marts.delivery_status"


class TrackingError(RuntimeError):
    """The dbt relation the statuses come from is missing (no build yet); the message is Swedish."""


# ---------------------------------------------------------------- the run's date, the statuses


def _postgres(settings: Settings) -> bool:
    return settings.dbt_target == "postgres"


def write_as_of(settings: Settings, con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """The run's date and FINSAM_OVERDUE_DAYS, one row, where the dbt views read it."""
    row = [as_of, settings.overdue_days, datetime.now(UTC).replace(microsecond=0, tzinfo=None)]
    con.execute("begin transaction")
    con.execute(TRACKING_AS_OF_DDL)
    con.execute("delete from meta.tracking_as_of")
    con.execute("insert into meta.tracking_as_of values (?, ?, ?)", row)
    con.execute("commit")
    if _postgres(settings):
        import psycopg2

        pg = psycopg2.connect(settings.warehouse_postgres_dsn)
        try:
            with pg, pg.cursor() as cur:  # one transaction
                cur.execute("create schema if not exists meta")
                cur.execute(TRACKING_AS_OF_DDL)
                cur.execute("delete from meta.tracking_as_of")
                cur.execute("insert into meta.tracking_as_of values (%s, %s, %s)", row)
        finally:
            pg.close()


def read_status(settings: Settings, con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """Rows of `marts.delivery_status` (`sql` selects from STATUS_RELATION), where dbt built it."""
    if _postgres(settings):
        import psycopg2

        pg = psycopg2.connect(settings.warehouse_postgres_dsn)
        try:
            with pg, pg.cursor() as cur:
                cur.execute("select to_regclass(%s) is not null", (STATUS_RELATION,))
                if not cur.fetchone()[0]:
                    raise TrackingError(_missing_sv())
                cur.execute(sql)
                return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])
        finally:
            pg.close()
    schema, name = STATUS_RELATION.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0]
    if not found:
        raise TrackingError(_missing_sv())
    return con.execute(sql).df()


def _missing_sv() -> str:
    return (
        f"{STATUS_RELATION} finns inte i lagret: vilka leveranser som väntas räknas fram av dbt. "
        "Kör bygget (finsam build) före spårningen."
    )


# ---------------------------------------------------------------- reminders


@dataclass
class Due:
    association_code: str
    intervention_code: str
    kind: str
    period: str
    period_start: date
    period_end: date
    due_date: date
    days_overdue: int
    latest_status: str | None

    @property
    def file_stem(self) -> str:
        return f"{self.association_code}_{self.intervention_code}_{self.kind}_{self.period}"

    def line_sv(self) -> str:
        text = (
            f"{self.file_stem}.xlsx (eller .csv): {self.kind}, period {self.period} "
            f"({self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d}), skulle ha kommit senast "
            f"{self.due_date:%Y-%m-%d} och är {self.days_overdue} dagar sen."
        )
        if self.latest_status == "quarantined":
            text += " En fil kom in men hamnade i karantän; se beskedet om vad som behöver rättas."
        return text


def reminder_sv(
    association: str, items: list[Due], overdue_days: int, portal_url: str | None = None
) -> tuple[str, str]:
    subject = f"[Finsam] Påminnelse: {len(items)} leverans{'er' if len(items) != 1 else ''} saknas ({association})"
    lines = [
        "Hej!",
        "",
        f"Enligt förbundets insatsregister skulle följande leveranser ha kommit in senast {overdue_days} dagar "
        "efter periodens slut. Vi har ännu inte fått någon godkänd fil för dem:",
        "",
    ]
    for item in items[:100]:
        lines.append(f"  - {item.line_sv()}")
        link = portal_link(portal_url, item.association_code, item.intervention_code)
        if link:
            lines.append(f"    Ladda upp på: {link}")
    if len(items) > 100:
        lines.append(f"  … och {len(items) - 100} till (dataenheten kan ta fram hela listan).")
    lines += [
        "",
        "Så lämnar du en leverans:",
        "  1. Spara exporten med filnamnet ovan (.xlsx, .xls, .ods eller .csv, enligt länets exportkontrakt).",
        *(
            ["  2. Ladda upp filen på insatsens sida (länken under leveransen ovan): du får besked direkt."]
            if portal_url
            else ["  2. Lägg filen i förbundets mapp. Du får ett besked om något behöver rättas."]
        ),
        "",
        "Har insatsen avslutats eller ändrat rapporteringsintervall? Uppdatera insatsregistret (kolumnerna "
        "slutdatum och rapportering: T tertial, H halvår, M månad, A år) så stämmer påminnelserna.",
        "Varje försenad leverans påminns det om en gång.",
        "",
        "Meddelandet innehåller inga personuppgifter. Frågor: svara på detta mejl så når du länets dataenhet.",
        "",
        "Vänliga hälsningar",
        "Länets uppföljning av finansiell samordning (Finsam)",
    ]
    return subject, "\n".join(lines) + "\n"


def _pending_reminders(settings: Settings, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Overdue deliveries without a reminder that reached the relay (or the outbox).

    The overdue rows come from the dbt view; the reminders already tried from this warehouse's
    `meta.reminders` (the view's copy may lag a run with the `postgres` target)."""
    overdue = read_status(
        settings,
        con,
        "select association_code, intervention_code, kind, period, period_start, period_end, due_date, "
        f"days_overdue, latest_status, owner_email from {STATUS_RELATION} where status = 'overdue'",
    )
    if overdue.empty:
        return overdue.assign(previous_attempts=pd.Series(dtype=object), first_tried_at=pd.Series(dtype=object))
    con.register("overdue_frame", overdue)
    try:
        return con.execute("""
            select overdue.*, reminders.attempts as previous_attempts, reminders.first_tried_at
            from overdue_frame as overdue
            left join meta.reminders as reminders using (association_code, intervention_code, kind, period)
            where coalesce(reminders.status, 'failed') = 'failed'
            order by association_code, intervention_code, kind, period_end""").df()
    finally:
        con.unregister("overdue_frame")


def send_reminders(
    settings: Settings,
    registry: Registry,
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    attempts: int = 3,
    backoff: float = 1.0,
) -> dict:
    from ingestion.outbound.alerts import build_message, send_mail

    con.execute(REMINDERS_DDL)
    pending = _pending_reminders(settings, con)
    summary = {"overdue_new": len(pending), "messages": 0, "sent": 0, "failed": 0, "outbox": 0}
    if pending.empty:
        return summary
    outbox = settings.reports / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    for (association, recipient), group in pending.groupby(["association_code", "owner_email"], dropna=False):
        entry = registry.get(association)
        team = entry.data_team_email if entry else registry.data_team_email
        to = recipient if isinstance(recipient, str) and recipient else team
        items = [
            Due(
                r.association_code,
                r.intervention_code,
                r.kind,
                r.period,
                pd.Timestamp(r.period_start).date(),
                pd.Timestamp(r.period_end).date(),
                pd.Timestamp(r.due_date).date(),
                int(r.days_overdue),
                r.latest_status if isinstance(r.latest_status, str) else None,
            )
            for r in group.itertuples()
        ]
        try:
            subject, body = reminder_sv(association, items, settings.overdue_days, settings.portal_url)
            message = build_message(settings, to, team, subject, body)
            message["X-Finsam-Reminder"] = f"{association}:{as_of.isoformat()}"
            name = f"paminnelse-{association}-{as_of.isoformat()}-{summary['messages']:03d}.eml"
            (outbox / name).write_bytes(bytes(message))
            sent, tries = send_mail(settings, message, attempts=attempts, backoff=backoff)
        except Exception:  # a reminder must never fail the run
            log.exception("Påminnelsen till förbundet %s kunde inte skapas eller skickas", association)
            sent, tries = False, 0
        summary["messages"] += 1
        status = "sent" if sent else ("outbox" if not settings.smtp_host else "failed")
        summary[status] += 1
        for r in group.itertuples():
            key = [r.association_code, r.intervention_code, r.kind, r.period]
            previous = 0 if pd.isna(r.previous_attempts) else int(r.previous_attempts)
            first_tried = now if pd.isna(r.first_tried_at) else pd.Timestamp(r.first_tried_at).to_pydatetime()
            con.execute(
                "delete from meta.reminders where association_code = ? and intervention_code = ? "
                "and kind = ? and period = ?",
                key,
            )
            con.execute(
                "insert into meta.reminders values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [*key, to, status, previous + tries, first_tried, now if sent else None, as_of],
            )
    return summary


# ---------------------------------------------------------------- the step


def track_deliveries(
    settings: Settings, registry: Registry, *, as_of: date | None = None, attempts: int = 3, backoff: float = 1.0
) -> dict:
    """Write the run's date (`meta.tracking_as_of`), count the due deliveries per status in
    `marts.delivery_status`, and remind owners of what is newly overdue."""
    from ingestion.warehouse.schema import connect, ensure_schema

    as_of = as_of or date.today()
    con = connect(settings)
    try:
        ensure_schema(con)
        write_as_of(settings, con, as_of)
        counts = read_status(settings, con, f"select status, count(*) as n from {STATUS_RELATION} group by status")
        per_status = {str(status): int(n) for status, n in zip(counts["status"], counts["n"])}
        summary = {
            "as_of": as_of.isoformat(),
            "expected": sum(per_status.values()),
            **{status: per_status.get(status, 0) for status in STATUSES},
        }
        summary["reminders"] = send_reminders(settings, registry, con, as_of, attempts=attempts, backoff=backoff)
    finally:
        con.close()
    return summary
