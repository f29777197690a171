"""Step 8: delivery tracking. What is due, what has come in, and a reminder when it is late.

From each association's current intervention register (`raw.insatser`) and each
intervention's reporting cadence (column `rapportering`: `T` tertial, the default; `H`
half-year; `M` month; `A` year) the pipeline knows which deliveries are due:

| kind | expected from | per |
|---|---|---|
| `deltagare` | interventions with `matmetod` PERSON | the intervention's cadence |
| `volym` | interventions with `matmetod` VOLYM | the intervention's cadence |
| `budget` | every intervention | the intervention's cadence |
| `insatser` | the association (`ALL`) | tertial, from its first register on |

A period is due once it has ended, from the intervention's start to its end (or the run's
date). A delivery is due `FINSAM_OVERDUE_DAYS` (30) days after its period ends. It counts
as received once an accepted delivery of the same (association, intervention, kind) covers
the period: for the cumulative kinds (`deltagare`, `insatser`) any later period does, for
`budget` a later period of the same year, for `volym` a period that contains it.

Each run writes `meta.expected_deliveries` (one row per due delivery, with its status as of
the run's date, never the wall clock) and, for every delivery newly overdue, sends ONE
reminder to the owner (the register's `agare_epost`; the association's register itself
goes to the data team), one e-mail per recipient per run. Reminders are recorded in
`meta.reminders`; a failed send is tried again next run and never fails the run. The dbt
view `marts.delivery_status` shows it all to the data team.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from ingestion.core.config import Settings, portal_link
from ingestion.core.contract import fold
from ingestion.core.registry import Registry
from ingestion.intake.discover import NameError_, Period, parse_period
from ingestion.warehouse.schema import EXPECTED_DDL, REMINDERS_DDL

log = logging.getLogger(__name__)

CADENCES = {"T": "tertial", "H": "halvår", "M": "månad", "A": "år"}
CADENCE_ALIASES = {
    "t": "T",
    "tertial": "T",
    "h": "H",
    "halvar": "H",
    "m": "M",
    "manad": "M",
    "a": "A",
    "ar": "A",
    "helar": "A",
}
DEFAULT_CADENCE = "T"
CUMULATIVE_KINDS = ("deltagare", "insatser")
ACCEPTED = ("accepted", "accepted_with_warnings")
STATUSES = ("received", "received_late", "awaiting", "quarantined", "overdue")

KEY = ["association_code", "intervention_code", "kind", "period"]


def cadence_code(value) -> str:
    """The register's `rapportering` as T/H/M/A; empty or unknown means tertial."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return DEFAULT_CADENCE
    return CADENCE_ALIASES.get(fold(str(value)), DEFAULT_CADENCE)


def _label(cadence: str, year: int, index: int) -> str:
    return {"T": f"{year}T{index}", "H": f"{year}H{index}", "M": f"{year}-{index:02d}", "A": f"{year}"}[cadence]


def periods(cadence: str, start: date, end: date) -> list[Period]:
    """Every period of the cadence that overlaps [start, end], in order."""
    per_year = {"T": 3, "H": 2, "M": 12, "A": 1}[cadence]
    result = []
    for year in range(start.year, end.year + 1):
        for index in range(1, per_year + 1):
            period = parse_period(_label(cadence, year, index))
            if period.end >= start and period.start <= end:
                result.append(period)
    return result


# ---------------------------------------------------------------- what is due


def _current_registers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each association's latest accepted register (the latest period, then the latest received)."""
    return con.execute("""
        with latest as (
            select association_code, delivery_id,
                   row_number() over (partition by association_code order by period_end desc, received_at desc) as rank
            from (select distinct association_code, delivery_id, period_end, received_at from raw.insatser)
        )
        select insatser.association_code, upper(insatser.insats_kod) as intervention_code, insatser.matmetod,
               insatser.startdatum, insatser.slutdatum, insatser.rapportering, insatser.agare_epost
        from raw.insatser as insatser
        inner join latest on latest.delivery_id = insatser.delivery_id and latest.rank = 1
        where insatser.insats_kod is not null and insatser.startdatum is not null
        order by 1, 2""").df()


def _ledger(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    ledger = con.execute("""
        select delivery_id, association_code, intervention_code, kind, period, status, received_at
        from meta.load_ledger where status in ('accepted', 'accepted_with_warnings', 'quarantined')""").df()
    starts, ends = [], []
    for label in ledger["period"]:
        try:
            period = parse_period(label)
            starts.append(period.start)
            ends.append(period.end)
        except NameError_:
            starts.append(None)
            ends.append(None)
    ledger["period_start"] = pd.to_datetime(pd.Series(starts, index=ledger.index, dtype=object))
    ledger["period_end"] = pd.to_datetime(pd.Series(ends, index=ledger.index, dtype=object))
    ledger["received_at"] = pd.to_datetime(ledger["received_at"])
    return ledger


def _spine(
    registers: pd.DataFrame, ledger: pd.DataFrame, registry: Registry, as_of: date, overdue_days: int
) -> pd.DataFrame:
    rows = []

    def add(association, intervention, kind, period, cadence, owner):
        rows.append(
            {
                "association_code": association,
                "intervention_code": intervention,
                "kind": kind,
                "period": period.label,
                "period_start": period.start,
                "period_end": period.end,
                "cadence": cadence,
                "due_date": period.end + timedelta(days=overdue_days),
                "owner_email": owner,
            }
        )

    for association in registry.associations:
        register = registers[registers["association_code"].eq(association.code)]
        for item in register.itertuples():
            cadence = cadence_code(item.rapportering)
            start = pd.Timestamp(item.startdatum).date()
            end = min(pd.Timestamp(item.slutdatum).date(), as_of) if pd.notna(item.slutdatum) else as_of
            kinds = (
                ["deltagare" if item.matmetod == "PERSON" else "volym", "budget"]
                if item.matmetod in ("PERSON", "VOLYM")
                else ["budget"]
            )
            for period in periods(cadence, start, end):
                if period.end < as_of:
                    for kind in kinds:
                        add(association.code, item.intervention_code, kind, period, cadence, item.agare_epost)
        # The association's own register: tertial, from its first register delivery on (or,
        # if none has ever come, the latest ended tertial).
        own = ledger[ledger["association_code"].eq(association.code) & ledger["kind"].eq("insatser")]
        first = own["period_start"].min().date() if len(own) and pd.notna(own["period_start"].min()) else None
        candidates = periods(DEFAULT_CADENCE, first or date(as_of.year - 1, 1, 1), as_of)
        ended = [p for p in candidates if p.end < as_of]
        for period in ended if first else ended[-1:]:
            add(association.code, "ALL", "insatser", period, DEFAULT_CADENCE, association.data_team_email)
    return pd.DataFrame(rows, columns=[*KEY, "period_start", "period_end", "cadence", "due_date", "owner_email"])


def expected_deliveries(
    con: duckdb.DuckDBPyConnection, registry: Registry, as_of: date, overdue_days: int
) -> pd.DataFrame:
    """Every delivery due by `as_of`, with its status on that date.

    Columnar: the due deliveries are joined with the ledger once (not filtered once per due
    delivery; at national scale that is ~100 000 due deliveries)."""
    ledger = _ledger(con)
    spine = _spine(_current_registers(con), ledger, registry, as_of, overdue_days).reset_index(drop=True)
    columns = [
        *spine.columns,
        "as_of",
        "status",
        "days_overdue",
        "deliveries",
        "accepted_delivery_id",
        "accepted_at",
        "latest_delivery_id",
        "latest_status",
    ]
    if spine.empty:
        return pd.DataFrame([], columns=columns)
    group = ["association_code", "intervention_code", "kind"]
    due = spine[group].copy()
    due["_row"] = np.arange(len(spine))
    due["_start"] = pd.to_datetime(pd.Series(spine["period_start"], dtype=object))
    due["_end"] = pd.to_datetime(pd.Series(spine["period_end"], dtype=object))
    delivered = ledger[[*group, "delivery_id", "status", "received_at", "period_start", "period_end"]].copy()
    delivered["_pos"] = np.arange(len(delivered))  # ties in received_at keep the ledger's order
    pairs = due.merge(delivered, on=group, how="inner")
    cumulative = pairs["kind"].isin(CUMULATIVE_KINDS)
    budget = pairs["kind"].eq("budget")
    covers = np.where(
        cumulative,
        pairs["period_end"] >= pairs["_end"],
        np.where(
            budget,
            (pairs["period_end"] >= pairs["_end"]) & (pairs["period_start"].dt.year == pairs["_start"].dt.year),
            (pairs["period_start"] <= pairs["_start"]) & (pairs["period_end"] >= pairs["_end"]),
        ),
    )
    covering = pairs[covers.astype(bool)].sort_values(["_row", "received_at", "_pos"], kind="mergesort")
    count = covering.groupby("_row").size().reindex(range(len(spine)), fill_value=0)
    latest = covering.groupby("_row")[["delivery_id", "status"]].last().reindex(range(len(spine)))
    accepted = (
        covering[covering["status"].isin(ACCEPTED)]
        .groupby("_row")[["delivery_id", "received_at"]]
        .first()
        .reindex(range(len(spine)))
    )
    # The statuses, column by column (a Python loop with .iat per due delivery took ~5 s at national scale).
    n = len(spine)
    accepted_id = accepted["delivery_id"].to_numpy(dtype=object)
    has_accepted = np.array([isinstance(v, str) for v in accepted_id], dtype=bool)
    accepted_day = pd.to_datetime(accepted["received_at"]).dt.normalize().to_numpy()
    due = pd.to_datetime(pd.Series(spine["due_date"], dtype=object)).to_numpy()
    overdue = pd.Timestamp(as_of).to_datetime64() > due
    # A run judged as of a day before the file arrived (a backfill, the demo on 2015–2016 data) cannot
    # tell whether it came late: only an arrival on or before the as-of day is judged against the due date.
    on_time = (accepted_day <= due) | (accepted_day > pd.Timestamp(as_of).to_datetime64())
    status = np.select(
        [has_accepted & on_time, has_accepted, overdue, count.to_numpy() > 0],
        ["received", "received_late", "overdue", "quarantined"],
        "awaiting",
    )
    days_late = (pd.Timestamp(as_of).to_datetime64() - due).astype("timedelta64[D]").astype(int)
    accepted_at = accepted["received_at"].tolist()
    latest_id = latest["delivery_id"].to_numpy(dtype=object)
    latest_status = latest["status"].to_numpy(dtype=object)
    has_latest = [isinstance(v, str) for v in latest_id]
    out = spine.copy()
    out["as_of"] = [as_of] * n
    out["status"] = status.tolist()
    out["days_overdue"] = [int(d) if s == "overdue" else None for s, d in zip(status, days_late)]
    out["deliveries"] = count.astype(int).tolist()
    out["accepted_delivery_id"] = [v if ok else None for v, ok in zip(accepted_id, has_accepted)]
    out["accepted_at"] = pd.DataFrame({"v": [v if ok else None for v, ok in zip(accepted_at, has_accepted)]})["v"]
    out["latest_delivery_id"] = [v if ok else None for v, ok in zip(latest_id, has_latest)]
    out["latest_status"] = [v if ok else None for v, ok in zip(latest_status, has_latest)]
    return out[columns]


def write_expected(con: duckdb.DuckDBPyConnection, expected: pd.DataFrame) -> None:
    con.execute(EXPECTED_DDL)
    con.execute("delete from meta.expected_deliveries")
    if len(expected):
        con.register("expected_frame", expected)
        con.execute("""insert into meta.expected_deliveries
            select association_code, intervention_code, kind, period, cast(period_start as date),
                   cast(period_end as date), cadence, cast(due_date as date), owner_email, cast(as_of as date),
                   status, cast(days_overdue as integer), cast(deliveries as integer), accepted_delivery_id,
                   cast(accepted_at as timestamp), latest_delivery_id, latest_status
            from expected_frame""")
        con.unregister("expected_frame")


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


def _pending_reminders(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Overdue deliveries without a reminder that reached the relay (or the outbox)."""
    return con.execute("""
        select expected.*, reminders.attempts as previous_attempts, reminders.first_tried_at
        from meta.expected_deliveries as expected
        left join meta.reminders as reminders using (association_code, intervention_code, kind, period)
        where expected.status = 'overdue' and coalesce(reminders.status, 'failed') = 'failed'
        order by association_code, intervention_code, kind, period_end""").df()


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
    pending = _pending_reminders(con)
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
    """Write what is due (`meta.expected_deliveries`) and remind owners of what is overdue."""
    from ingestion.warehouse.schema import connect, ensure_schema

    as_of = as_of or date.today()
    con = connect(settings)
    try:
        ensure_schema(con)
        con.execute(REMINDERS_DDL)
        expected = expected_deliveries(con, registry, as_of, settings.overdue_days)
        con.execute("begin transaction")
        write_expected(con, expected)
        con.execute("commit")
        counts = expected["status"].value_counts().to_dict() if len(expected) else {}
        summary = {
            "as_of": as_of.isoformat(),
            "expected": len(expected),
            **{status: int(counts.get(status, 0)) for status in STATUSES},
        }
        summary["reminders"] = send_reminders(settings, registry, con, as_of, attempts=attempts, backoff=backoff)
    finally:
        con.close()
    return summary
