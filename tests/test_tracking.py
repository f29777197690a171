"""Delivery tracking: what is due from the register's cadence, its status on a fixed date,
and one reminder per overdue delivery, through a real SMTP server.

What is due and its status are decided in dbt (`int_deliveries_due`, `marts.delivery_status`);
the tracking step writes the run's date and sends the reminders. The clock is always the
`as_of` parameter. Most tests write the register and the ledger straight into a fresh
warehouse (received-at times exact), build the models the statuses come from (as the
pipeline's build step does before tracking), then track; one test goes through the real steps
(land, validate, load) first. A plain-Python reference (row by row) checks the SQL.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from conftest import record_current_registers
from fixtures import synthetic
from smtp_fixture import (  # noqa: F401
    SmtpServer,
    free_port,
    insats_row,
    municipality_list,
    participant,
    quality_env,
    smtp_server,
    write_file,
    write_register,
)

from ingestion.core.config import load_settings
from ingestion.core.contract import fold
from ingestion.core.registry import load_registry
from ingestion.intake.discover import NameError_, parse_period
from ingestion.outbound.reminders import TrackingError, track_deliveries
from ingestion.process import process_association
from ingestion.warehouse.load import load_registry_table, load_warehouse
from ingestion.warehouse.schema import connect, ensure_schema, read_connection

pytestmark = [pytest.mark.dbt]

STATUS_COLUMNS = (
    "association_code, intervention_code, kind, period, period_start, period_end, cadence, due_date, "
    "owner_email, as_of, status, days_overdue, deliveries, accepted_at, latest_status"
)


@pytest.fixture(scope="module")
def shared_warehouse(tmp_path_factory):
    """One warehouse path (and dbt target folder) for the module's tests: dbt parses the project
    once, not once per test (a new warehouse path is a new profile to dbt)."""
    return tmp_path_factory.mktemp("tracking") / "finsam.duckdb"


@pytest.fixture
def tracking_env(quality_env, monkeypatch, shared_warehouse):
    """quality_env with an empty warehouse at the module's path (emptied, not deleted: dbt, run in
    this process, may still hold the file open)."""
    if shared_warehouse.exists():
        con = duckdb.connect(str(shared_warehouse))
        try:
            for schema in ("raw", "meta", "staging", "intermediate", "marts"):
                con.execute(f"drop schema if exists {schema} cascade")
        finally:
            con.close()
    monkeypatch.setenv("FINSAM_WAREHOUSE", str(shared_warehouse))
    return load_settings()


def build_tracking_models(settings) -> None:
    """What the statuses come from, built by dbt (the pipeline's build step does this, and more)."""
    from ingestion.warehouse.build import dbt

    dbt(settings, "run", "--select", "+delivery_status")


# ---------------------------------------------------------------- a warehouse written by hand

REGISTER = [  # insats_kod, matmetod, start, slut, rapportering
    ("AVESTA", "PERSON", "2016-01-01", None, "T"),
    ("RAKNA", "VOLYM", "2016-01-01", None, "H"),
    ("MANAD", "PERSON", "2016-03-01", "2016-04-30", "M"),
]
LEDGER = [  # delivery, intervention, kind, period, status, received_at
    ("reg1", "ALL", "insatser", "2016T1", "accepted", "2016-02-01 09:00:00"),
    ("d-t1", "AVESTA", "deltagare", "2016T1", "accepted", "2016-05-10 09:00:00"),
    ("b-t1", "AVESTA", "budget", "2016T1", "accepted_with_warnings", "2016-06-15 09:00:00"),
    ("d-t2", "AVESTA", "deltagare", "2016T2", "quarantined", "2016-09-05 09:00:00"),
    ("m-04", "MANAD", "deltagare", "2016-04", "accepted", "2016-05-02 09:00:00"),
]


def insert_register(con, delivery: str, period: str, received: str, register) -> None:
    """SODRA's register rows (insats_kod, matmetod, start, slut, rapportering) as one delivery."""
    bounds = parse_period(period)
    for row, (code, method, start, end, cadence) in enumerate(register, start=2):
        con.execute(
            "insert into raw.insatser (delivery_id, association_code, intervention_code, period, period_start, "
            "period_end, received_at, source_row, insats_kod, namn, inriktning, matmetod, startdatum, slutdatum, "
            "huvudman, agare_epost, rapportering) values (?, 'SODRA', 'ALL', ?, ?, ?, ?, ?, ?, ?, 'INDIVID', ?, ?, ?, "
            "'FK+AF', ?, ?)",
            [delivery, period, bounds.start, bounds.end, received, row, code, code.title(), method, start, end]
            + [f"{code.lower()}@sodra.example", cadence],
        )
    record_current_registers(con)  # as every load does


def seed_warehouse(settings, register=REGISTER, ledger=LEDGER, *, build=True):
    con = connect(settings)
    try:
        ensure_schema(con)
        load_registry_table(con, load_registry(settings.registry))  # as load_warehouse does
        insert_register(con, "reg1", "2016T1", "2016-02-01 09:00:00", register)
        for delivery, intervention, kind, period, status, received in ledger:
            con.execute(
                "insert into meta.load_ledger values (?, 'SODRA', ?, ?, ?, ?, ?, 1, 1, 1, 0, ?, ?, null, ?, null, null)",
                [
                    delivery,
                    intervention,
                    kind,
                    period,
                    f"SODRA_{intervention}_{kind}_{period}.csv",
                    delivery,
                    received,
                    status,
                    received,
                ],
            )
    finally:
        con.close()
    if build:
        build_tracking_models(settings)


def expected_rows(settings):
    con = read_connection(settings)  # dbt ran in this process
    try:
        return con.execute(
            "select intervention_code, kind, period, status, days_overdue, due_date::varchar "
            "from marts.delivery_status where association_code = 'SODRA' order by all"
        ).fetchall()
    finally:
        con.close()


def reminder_rows(settings):
    con = read_connection(settings)  # dbt ran in this process
    try:
        return con.execute(
            "select intervention_code, kind, period, recipient, status, attempts, as_of::varchar "
            "from meta.reminders order by all"
        ).fetchall()
    finally:
        con.close()


def test_status_of_every_due_delivery_on_a_fixed_date(tracking_env):
    settings = load_settings()
    seed_warehouse(settings)
    summary = track_deliveries(settings, load_registry(settings.registry), as_of=date(2016, 9, 20))

    assert expected_rows(settings) == [
        ("ALL", "insatser", "2016T1", "received", None, "2016-05-30"),
        ("ALL", "insatser", "2016T2", "awaiting", None, "2016-09-30"),
        ("AVESTA", "budget", "2016T1", "received_late", None, "2016-05-30"),
        ("AVESTA", "budget", "2016T2", "awaiting", None, "2016-09-30"),
        ("AVESTA", "deltagare", "2016T1", "received", None, "2016-05-30"),
        ("AVESTA", "deltagare", "2016T2", "quarantined", None, "2016-09-30"),
        # The April register is cumulative: it covers March too, but came after March was due.
        ("MANAD", "budget", "2016-03", "overdue", 143, "2016-04-30"),
        ("MANAD", "budget", "2016-04", "overdue", 113, "2016-05-30"),
        ("MANAD", "deltagare", "2016-03", "received_late", None, "2016-04-30"),
        ("MANAD", "deltagare", "2016-04", "received", None, "2016-05-30"),
        ("RAKNA", "budget", "2016H1", "overdue", 52, "2016-07-30"),
        ("RAKNA", "volym", "2016H1", "overdue", 52, "2016-07-30"),
    ]
    assert {k: summary[k] for k in ("expected", "received", "received_late", "awaiting", "quarantined", "overdue")} == {
        "expected": 13,
        "received": 3,
        "received_late": 2,
        "awaiting": 3,
        "quarantined": 1,
        "overdue": 4,
    }  # with NORR
    # NORR has never sent a register: its latest ended tertial is due (awaiting on this date).
    con = read_connection(settings)  # dbt ran in this process
    try:
        assert con.execute(
            "select period, status from marts.delivery_status where association_code = 'NORR'"
        ).fetchall() == [("2016T2", "awaiting")]
    finally:
        con.close()


def test_overdue_days_is_configurable(tracking_env, monkeypatch):
    monkeypatch.setenv("FINSAM_OVERDUE_DAYS", "10")
    settings = load_settings()
    seed_warehouse(settings)
    track_deliveries(settings, load_registry(settings.registry), as_of=date(2016, 9, 20))
    rows = {(r[0], r[1], r[2]): r[3:] for r in expected_rows(settings)}
    assert rows[("AVESTA", "deltagare", "2016T2")] == ("overdue", 10, "2016-09-10")
    assert rows[("AVESTA", "budget", "2016T1")] == ("received_late", None, "2016-05-10")


def test_a_reminder_is_sent_once_per_overdue_delivery(tracking_env, smtp_server):
    settings = load_settings()
    registry = load_registry(settings.registry)
    seed_warehouse(settings)

    first = track_deliveries(settings, registry, as_of=date(2016, 9, 20), backoff=0)
    assert first["reminders"] == {"overdue_new": 4, "messages": 2, "sent": 2, "failed": 0, "outbox": 0}
    inbox = smtp_server.inbox
    by_to = {m["To"]: (m, body) for m, body in zip(inbox.messages, inbox.bodies())}
    assert set(by_to) == {"manad@sodra.example", "rakna@sodra.example"}
    message, body = by_to["rakna@sodra.example"]
    assert message["Subject"] == "[Finsam] Påminnelse: 2 leveranser saknas (SODRA)"
    assert message["Cc"] == "data@lan.example"
    assert (
        "  - SODRA_RAKNA_volym_2016H1.xlsx (eller .csv): volym, period 2016H1 (2016-01-01–2016-06-30), "
        "skulle ha kommit senast 2016-07-30 och är 52 dagar sen."
    ) in body
    assert "SODRA_RAKNA_budget_2016H1.xlsx" in body
    assert "finsam validate" not in body  # the data team's command; owners do not have it
    assert "Lägg filen i förbundets mapp. Du får ett besked om något behöver rättas." in body

    # Same day again, and the day after: nothing new is overdue, nothing is sent again.
    for as_of in (date(2016, 9, 20), date(2016, 9, 21)):
        again = track_deliveries(settings, registry, as_of=as_of, backoff=0)
        assert again["reminders"]["messages"] == 0
    assert len(inbox.messages) == 2

    # Later: AVESTA's second tertial (only a quarantined file), SODRA's register and NORR's
    # (never delivered) are now overdue: one message per recipient and association.
    later = track_deliveries(settings, registry, as_of=date(2016, 10, 15), backoff=0)
    assert later["reminders"] == {"overdue_new": 4, "messages": 3, "sent": 3, "failed": 0, "outbox": 0}
    new = {(m["To"], m["Subject"]): body for m, body in zip(inbox.messages[2:], inbox.bodies()[2:])}
    assert set(new) == {
        ("avesta@sodra.example", "[Finsam] Påminnelse: 2 leveranser saknas (SODRA)"),
        ("data@lan.example", "[Finsam] Påminnelse: 1 leverans saknas (SODRA)"),
        ("data@lan.example", "[Finsam] Påminnelse: 1 leverans saknas (NORR)"),
    }
    assert (
        "SODRA_AVESTA_deltagare_2016T2.xlsx (eller .csv): deltagare, period 2016T2 (2016-05-01–2016-08-31), "
        "skulle ha kommit senast 2016-09-30 och är 15 dagar sen. En fil kom in men hamnade i karantän"
    ) in new[("avesta@sodra.example", "[Finsam] Påminnelse: 2 leveranser saknas (SODRA)")]
    assert (
        "SODRA_ALL_insatser_2016T2.xlsx" in new[("data@lan.example", "[Finsam] Påminnelse: 1 leverans saknas (SODRA)")]
    )
    assert [r for r in reminder_rows(settings) if r[0] == "AVESTA"] == [
        ("AVESTA", "budget", "2016T2", "avesta@sodra.example", "sent", 1, "2016-10-15"),
        ("AVESTA", "deltagare", "2016T2", "avesta@sodra.example", "sent", 1, "2016-10-15"),
    ]


def test_failed_reminder_is_retried_next_run(tracking_env, monkeypatch):
    port = free_port()
    monkeypatch.setenv("FINSAM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FINSAM_SMTP_PORT", str(port))
    settings = load_settings()
    registry = load_registry(settings.registry)
    seed_warehouse(settings, ledger=LEDGER[:1])
    down = track_deliveries(settings, registry, as_of=date(2016, 9, 20), attempts=2, backoff=0)
    assert down["reminders"]["failed"] == down["reminders"]["messages"] > 0
    assert {r[4] for r in reminder_rows(settings)} == {"failed"}

    server = SmtpServer(port).start()
    try:
        up = track_deliveries(settings, registry, as_of=date(2016, 9, 21), attempts=2, backoff=0)
        assert up["reminders"]["sent"] == up["reminders"]["messages"] == len(server.inbox.messages) > 0
        assert {(r[4], r[5]) for r in reminder_rows(settings)} == {("sent", 3)}
    finally:
        server.stop()


def test_without_a_relay_the_reminder_goes_to_the_outbox_once(tracking_env):
    settings = load_settings()
    seed_warehouse(settings)
    registry = load_registry(settings.registry)
    assert track_deliveries(settings, registry, as_of=date(2016, 9, 20))["reminders"]["outbox"] == 2
    assert track_deliveries(settings, registry, as_of=date(2016, 9, 20))["reminders"]["messages"] == 0
    assert len(list((settings.reports / "outbox").glob("paminnelse-SODRA-2016-09-20-*.eml"))) == 2


def test_tracking_after_the_real_steps(tracking_env):
    """Land, validate and load real files, then track as of 2016: delivered periods are received
    (landed today, after the run's day, so their lateness cannot be judged), the others overdue."""
    settings = load_settings()
    registry = load_registry(settings.registry)
    write_register(settings.landing, rows=[insats_row("AVESTA", start="2016-01-01")])
    write_file(
        settings.landing, "SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", synthetic.DELTAGARE_HEADER, [participant(1)]
    )
    as_of = date(2016, 12, 1)
    process_association(settings, registry, "SODRA", as_of=as_of, docs=False)
    load_warehouse(settings, registry)
    build_tracking_models(settings)
    track_deliveries(settings, registry, as_of=as_of)
    rows = [r[:4] for r in expected_rows(settings)]
    assert rows == [
        ("ALL", "insatser", "2016T2", "received"),
        ("AVESTA", "budget", "2016T1", "overdue"),
        ("AVESTA", "budget", "2016T2", "overdue"),
        ("AVESTA", "deltagare", "2016T1", "received"),
        ("AVESTA", "deltagare", "2016T2", "received"),
    ]


@pytest.mark.parametrize("status", ["accepted", "accepted_with_warnings"])
def test_an_accepted_delivery_counts_whatever_its_warnings(tracking_env, status):
    settings = load_settings()
    seed_warehouse(
        settings,
        register=REGISTER[:1],
        ledger=[LEDGER[0], ("x", "AVESTA", "budget", "2016T1", status, "2016-05-01 08:00:00")],
    )
    track_deliveries(settings, load_registry(settings.registry), as_of=date(2016, 6, 1))
    assert ("AVESTA", "budget", "2016T1", "received", None, "2016-05-30") in expected_rows(settings)


@pytest.mark.dbt
def test_delivery_status_mart_for_the_data_team(quality_env):
    """The dbt view marts.delivery_status (built and tested by `dbt build`) shows the latest
    tracking run joined with the ledger and the reminders; before any tracking run it is empty."""
    from ingestion.warehouse.build import build_marts

    settings = load_settings()
    seed_warehouse(settings, build=False)
    build_marts(settings, docs=False)  # first build: no tracking run yet
    con = connect(settings)  # not read_only: dbt (run in this process) may still hold the file
    try:
        assert con.execute("select count(*) from marts.delivery_status").fetchone() == (0,)
    finally:
        con.close()

    track_deliveries(settings, load_registry(settings.registry), as_of=date(2016, 9, 20))
    # dbt's tests on the view run here (unique key, statuses, arithmetic: raises if one fails); a new
    # run date changes no stored table, so a build would be left out
    from ingestion.warehouse.build import dbt

    tested = dbt(settings, "test", "--select", "delivery_status")
    assert len(tested.result.results) >= 3
    con = connect(settings)
    try:
        rows = con.execute("""
            select delivery_key, status, days_overdue, accepted_file_name, latest_file_name, latest_status,
                   reminder_status
            from marts.delivery_status where association_code = 'SODRA' order by delivery_key""").fetchall()
    finally:
        con.close()
    assert rows == [
        (
            "SODRA_ALL_insatser_2016T1",
            "received",
            None,
            "SODRA_ALL_insatser_2016T1.csv",
            "SODRA_ALL_insatser_2016T1.csv",
            "accepted",
            None,
        ),
        ("SODRA_ALL_insatser_2016T2", "awaiting", None, None, None, None, None),
        (
            "SODRA_AVESTA_budget_2016T1",
            "received_late",
            None,
            "SODRA_AVESTA_budget_2016T1.csv",
            "SODRA_AVESTA_budget_2016T1.csv",
            "accepted_with_warnings",
            None,
        ),
        ("SODRA_AVESTA_budget_2016T2", "awaiting", None, None, None, None, None),
        (
            "SODRA_AVESTA_deltagare_2016T1",
            "received",
            None,
            "SODRA_AVESTA_deltagare_2016T1.csv",
            "SODRA_AVESTA_deltagare_2016T2.csv",
            "quarantined",
            None,
        ),
        (
            "SODRA_AVESTA_deltagare_2016T2",
            "quarantined",
            None,
            None,
            "SODRA_AVESTA_deltagare_2016T2.csv",
            "quarantined",
            None,
        ),
        ("SODRA_MANAD_budget_2016-03", "overdue", 143, None, None, None, "outbox"),
        ("SODRA_MANAD_budget_2016-04", "overdue", 113, None, None, None, "outbox"),
        (
            "SODRA_MANAD_deltagare_2016-03",
            "received_late",
            None,
            "SODRA_MANAD_deltagare_2016-04.csv",
            "SODRA_MANAD_deltagare_2016-04.csv",
            "accepted",
            None,
        ),
        (
            "SODRA_MANAD_deltagare_2016-04",
            "received",
            None,
            "SODRA_MANAD_deltagare_2016-04.csv",
            "SODRA_MANAD_deltagare_2016-04.csv",
            "accepted",
            None,
        ),
        ("SODRA_RAKNA_budget_2016H1", "overdue", 52, None, None, None, "outbox"),
        ("SODRA_RAKNA_volym_2016H1", "overdue", 52, None, None, None, "outbox"),
    ]


# ---------------------------------------------------------------- a reference in plain Python

CADENCE_ALIASES = {"t": "T", "tertial": "T", "h": "H", "halvar": "H", "m": "M", "manad": "M", "a": "A", "ar": "A"}
CADENCE_ALIASES["helar"] = "A"
CUMULATIVE_KINDS = ("deltagare", "insatser")
ACCEPTED = ("accepted", "accepted_with_warnings")


def cadence_code(value) -> str:
    """The register's `rapportering` as T/H/M/A; empty or unknown means tertial."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "T"
    return CADENCE_ALIASES.get(fold(str(value)), "T")


def periods(cadence: str, start: date, end: date):
    """Every period of the cadence that overlaps [start, end], in order."""
    per_year = {"T": 3, "H": 2, "M": 12, "A": 1}[cadence]
    result = []
    for year in range(start.year, end.year + 1):
        for index in range(1, per_year + 1):
            label = {"T": f"{year}T{index}", "H": f"{year}H{index}", "M": f"{year}-{index:02d}", "A": f"{year}"}
            period = parse_period(label[cadence])
            if period.end >= start and period.start <= end:
                result.append(period)
    return result


def test_periods_per_cadence():
    labels = lambda cadence, start, end: [p.label for p in periods(cadence, start, end)]  # noqa: E731
    assert labels("T", date(2016, 3, 1), date(2016, 10, 15)) == ["2016T1", "2016T2", "2016T3"]
    assert labels("H", date(2015, 8, 1), date(2016, 10, 15)) == ["2015H2", "2016H1", "2016H2"]
    assert labels("M", date(2016, 3, 15), date(2016, 5, 1)) == ["2016-03", "2016-04", "2016-05"]
    assert labels("A", date(2015, 12, 31), date(2016, 1, 1)) == ["2015", "2016"]


def reference_statuses(con: duckdb.DuckDBPyConnection, registry, as_of: date, overdue_days: int) -> pd.DataFrame:
    """What is due by `as_of` and its status, by the rules in the tracking docstring, one due
    delivery at a time (the implementation tracking had before dbt decided it)."""
    registers = con.execute("""
        with latest as (
            select association_code, delivery_id,
                   row_number() over (partition by association_code order by period_end desc, received_at desc) as rank
            from (select distinct association_code, delivery_id, period_end, received_at from raw.insatser)
        )
        select insatser.association_code, upper(insatser.insats_kod) as intervention_code, insatser.matmetod,
               insatser.startdatum, insatser.slutdatum, insatser.rapportering, insatser.agare_epost
        from raw.insatser as insatser
        inner join latest on latest.delivery_id = insatser.delivery_id and latest.rank = 1
        where insatser.insats_kod is not null and insatser.startdatum is not null""").df()
    ledger = con.execute("""
        select delivery_id, association_code, intervention_code, kind, period, status, received_at
        from meta.load_ledger where status in ('accepted', 'accepted_with_warnings', 'quarantined')""").df()
    bounds = []
    for label in ledger["period"]:
        try:
            bounds.append((parse_period(label).start, parse_period(label).end))
        except NameError_:
            bounds.append((None, None))
    ledger["period_start"] = pd.to_datetime(pd.Series([b[0] for b in bounds], index=ledger.index, dtype=object))
    ledger["period_end"] = pd.to_datetime(pd.Series([b[1] for b in bounds], index=ledger.index, dtype=object))
    due = []
    for association in registry.associations:
        for item in registers[registers["association_code"].eq(association.code)].itertuples():
            cadence = cadence_code(item.rapportering)
            start = pd.Timestamp(item.startdatum).date()
            end = min(pd.Timestamp(item.slutdatum).date(), as_of) if pd.notna(item.slutdatum) else as_of
            kinds = {"PERSON": ["deltagare", "budget"], "VOLYM": ["volym", "budget"]}.get(item.matmetod, ["budget"])
            for period in periods(cadence, start, end):
                if period.end < as_of:
                    due += [
                        (association.code, item.intervention_code, k, period, cadence, item.agare_epost) for k in kinds
                    ]
        own = ledger[ledger["association_code"].eq(association.code) & ledger["kind"].eq("insatser")]
        first = own["period_start"].min().date() if len(own) and pd.notna(own["period_start"].min()) else None
        ended = [p for p in periods("T", first or date(as_of.year - 1, 1, 1), as_of) if p.end < as_of]
        for period in ended if first else ended[-1:]:
            due.append((association.code, "ALL", "insatser", period, "T", association.data_team_email))
    out = []
    for association, intervention, kind, period, cadence, owner in due:
        delivered = ledger[
            ledger["association_code"].eq(association)
            & ledger["intervention_code"].eq(intervention)
            & ledger["kind"].eq(kind)
        ]
        start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
        if kind in CUMULATIVE_KINDS:
            covers = delivered["period_end"] >= end
        elif kind == "budget":
            covers = (delivered["period_end"] >= end) & (delivered["period_start"].dt.year == start.year)
        else:
            covers = (delivered["period_start"] <= start) & (delivered["period_end"] >= end)
        covering = delivered[covers].sort_values("received_at")
        accepted = covering[covering["status"].isin(ACCEPTED)]
        due_date = period.end + timedelta(days=overdue_days)
        if len(accepted):
            arrived = accepted.iloc[0]["received_at"].date()
            status = "received" if arrived <= due_date or arrived > as_of else "received_late"
        elif as_of > due_date:
            status = "overdue"
        elif len(covering):
            status = "quarantined"
        else:
            status = "awaiting"
        out.append(
            {
                "association_code": association,
                "intervention_code": intervention,
                "kind": kind,
                "period": period.label,
                "period_start": period.start,
                "period_end": period.end,
                "cadence": cadence,
                "due_date": due_date,
                "owner_email": owner,
                "as_of": as_of,
                "status": status,
                "days_overdue": (as_of - due_date).days if status == "overdue" else None,
                "deliveries": len(covering),
                "accepted_at": accepted.iloc[0]["received_at"] if len(accepted) else None,
                "latest_status": covering.iloc[-1]["status"] if len(covering) else None,
            }
        )
    return pd.DataFrame(out, columns=[c.strip() for c in STATUS_COLUMNS.split(",")])


def dbt_statuses(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"select {STATUS_COLUMNS} from marts.delivery_status").df()


def _same(frame: pd.DataFrame) -> pd.DataFrame:
    """Comparable: dates as dates, missing as None, in key order."""
    frame = frame.copy()
    for column in ("period_start", "period_end", "due_date", "as_of"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    frame["accepted_at"] = pd.to_datetime(frame["accepted_at"])
    frame["days_overdue"] = frame["days_overdue"].astype("Int64")
    frame["deliveries"] = frame["deliveries"].astype(int)
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.sort_values(["association_code", "intervention_code", "kind", "period"]).reset_index(drop=True)


def test_dbt_statuses_equal_the_row_by_row_reference(tracking_env):
    settings = load_settings()
    seed_warehouse(settings)
    registry = load_registry(settings.registry)
    for as_of in (date(2016, 3, 1), date(2016, 9, 20), date(2017, 6, 1)):
        track_deliveries(settings, registry, as_of=as_of)
        con = read_connection(settings)  # dbt ran in this process
        try:
            sql, reference = dbt_statuses(con), reference_statuses(con, registry, as_of, 30)
        finally:
            con.close()
        assert len(sql)
        pd.testing.assert_frame_equal(_same(sql), _same(reference), check_dtype=False)


def test_an_arrival_after_the_as_of_day_is_not_judged_late(tracking_env):
    """A backfill or the demo, run as of a day before a file arrived, cannot tell whether it came late:
    AVESTA's 2016T1 budget (due 2016-05-30, arrived 2016-06-15) is late as of 2016-09-20, but as of
    2016-06-10 its arrival lies ahead of the run's day."""
    settings = load_settings()
    seed_warehouse(settings)
    registry = load_registry(settings.registry)
    track_deliveries(settings, registry, as_of=date(2016, 9, 20))
    late = {(i, k, p): st for i, k, p, st, *_ in expected_rows(settings)}
    assert late[("AVESTA", "budget", "2016T1")] == "received_late"
    track_deliveries(settings, registry, as_of=date(2016, 6, 10))
    earlier = {(i, k, p): st for i, k, p, st, *_ in expected_rows(settings)}
    assert earlier[("AVESTA", "budget", "2016T1")] == "received"


def test_cadence_is_read_from_the_owners_words(tracking_env):
    """rapportering folded once, in SQL (stg_insatser): case, accents and punctuation do not
    matter; empty or unknown is tertial."""
    words = [None, "", "T", "tertial", "H", "Halvår", "m", "Månad ", "A", "år", "Helår", "Q", "kvartal"]
    register = [(f"I{n:02d}", "PERSON", "2016-01-01", None, word) for n, word in enumerate(words)]
    seed_warehouse(tracking_env, register=register)
    con = read_connection(tracking_env)
    try:
        read = dict(con.execute("select intervention_code, reporting from marts.dim_intervention").fetchall())
    finally:
        con.close()
    assert [read[f"I{n:02d}"] for n in range(len(words))] == [
        "T", "T", "T", "T", "H", "H", "M", "M", "A", "A", "A", "T", "T"
    ]  # fmt: skip


KNOWN_REGISTER = [  # the current register (2016T2): one intervention per cadence, in the owners' words
    ("TER", "PERSON", "2016-02-15", None, "Tertial"),
    ("HALV", "VOLYM", "2016-01-01", None, "halvår"),
    ("MAN", "ANNAN", "2016-10-01", "2016-11-30", "Månad"),
    ("AR", "PERSON", "2015-06-01", None, "Helår"),
    ("OKAND", "PERSON", "2016-09-01", None, "kvartal"),
]
KNOWN_LEDGER = [  # delivery, intervention, kind, period, status, received_at
    ("reg-t1", "ALL", "insatser", "2016T1", "accepted", "2016-03-01 09:00:00"),
    ("reg-t2", "ALL", "insatser", "2016T2", "accepted", "2016-06-20 09:00:00"),
    # Arrives after the run's day (a backfill): received, whatever its due date.
    ("ter-d", "TER", "deltagare", "2016T3", "accepted", "2017-02-01 09:00:00"),
    # A later budget of the same year covers the earlier tertial too; both came late.
    ("ter-b", "TER", "budget", "2016T2", "accepted", "2016-10-15 09:00:00"),
    # The year contains both half-years: refused, so H1 is overdue and H2 (not yet due) quarantined.
    ("halv-v", "HALV", "volym", "2016", "quarantined", "2016-12-20 09:00:00"),
    ("ar-d", "AR", "deltagare", "2015", "accepted", "2016-01-20 09:00:00"),
]


def test_due_dates_and_statuses_of_a_known_case(tracking_env):
    """The rules, one case each, as of 2017-01-15 with FINSAM_OVERDUE_DAYS 30."""
    settings = tracking_env
    seed_warehouse(settings, register=[], ledger=KNOWN_LEDGER, build=False)
    con = connect(settings)
    try:  # GAMMAL was in the first register only: the current register no longer lists it
        insert_register(con, "reg-t1", "2016T1", "2016-03-01 09:00:00", [("GAMMAL", "PERSON", "2015-01-01", None, "T")])
        insert_register(con, "reg-t2", "2016T2", "2016-06-20 09:00:00", KNOWN_REGISTER)
    finally:
        con.close()
    build_tracking_models(settings)
    summary = track_deliveries(settings, load_registry(settings.registry), as_of=date(2017, 1, 15))
    con = read_connection(settings)
    try:
        rows = con.execute("""
            select association_code, intervention_code, kind, period, cadence, due_date::varchar, status, days_overdue,
                   deliveries, accepted_file_name, owner_email
            from marts.delivery_status order by all""").fetchall()
    finally:
        con.close()
    team = "data@lan.example"
    assert rows == [
        # NORR never sent a register: its latest ended tertial.
        ("NORR", "ALL", "insatser", "2016T3", "T", "2017-01-30", "awaiting", None, 0, None, team),
        # The register, per tertial from the tertial of its first delivery.
        ("SODRA", "ALL", "insatser", "2016T1", "T", "2016-05-30", "received", None, 2, "SODRA_ALL_insatser_2016T1.csv",
         team),
        ("SODRA", "ALL", "insatser", "2016T2", "T", "2016-09-30", "received", None, 1, "SODRA_ALL_insatser_2016T2.csv",
         team),
        ("SODRA", "ALL", "insatser", "2016T3", "T", "2017-01-30", "awaiting", None, 0, None, team),
        # AR, yearly from 2015-06-01: the 2015 participants came in time; 2016 is not due yet.
        ("SODRA", "AR", "budget", "2015", "A", "2016-01-30", "overdue", 351, 0, None, "ar@sodra.example"),
        ("SODRA", "AR", "budget", "2016", "A", "2017-01-30", "awaiting", None, 0, None, "ar@sodra.example"),
        ("SODRA", "AR", "deltagare", "2015", "A", "2016-01-30", "received", None, 1, "SODRA_AR_deltagare_2015.csv",
         "ar@sodra.example"),
        ("SODRA", "AR", "deltagare", "2016", "A", "2017-01-30", "awaiting", None, 0, None, "ar@sodra.example"),
        # HALV, half-yearly, VOLYM: volym and budget.
        ("SODRA", "HALV", "budget", "2016H1", "H", "2016-07-30", "overdue", 169, 0, None, "halv@sodra.example"),
        ("SODRA", "HALV", "budget", "2016H2", "H", "2017-01-30", "awaiting", None, 0, None, "halv@sodra.example"),
        ("SODRA", "HALV", "volym", "2016H1", "H", "2016-07-30", "overdue", 169, 1, None, "halv@sodra.example"),
        ("SODRA", "HALV", "volym", "2016H2", "H", "2017-01-30", "quarantined", None, 1, None, "halv@sodra.example"),
        # MAN, monthly, neither PERSON nor VOLYM: budget only, October and November (it ended 2016-11-30).
        ("SODRA", "MAN", "budget", "2016-10", "M", "2016-11-30", "overdue", 46, 0, None, "man@sodra.example"),
        ("SODRA", "MAN", "budget", "2016-11", "M", "2016-12-30", "overdue", 16, 0, None, "man@sodra.example"),
        # OKAND: an unknown cadence is tertial; it started in the third tertial.
        ("SODRA", "OKAND", "budget", "2016T3", "T", "2017-01-30", "awaiting", None, 0, None, "okand@sodra.example"),
        ("SODRA", "OKAND", "deltagare", "2016T3", "T", "2017-01-30", "awaiting", None, 0, None, "okand@sodra.example"),
        # TER, tertial from 2016-02-15.
        ("SODRA", "TER", "budget", "2016T1", "T", "2016-05-30", "received_late", None, 1, "SODRA_TER_budget_2016T2.csv",
         "ter@sodra.example"),
        ("SODRA", "TER", "budget", "2016T2", "T", "2016-09-30", "received_late", None, 1, "SODRA_TER_budget_2016T2.csv",
         "ter@sodra.example"),
        ("SODRA", "TER", "budget", "2016T3", "T", "2017-01-30", "awaiting", None, 0, None, "ter@sodra.example"),
        ("SODRA", "TER", "deltagare", "2016T1", "T", "2016-05-30", "received", None, 1,
         "SODRA_TER_deltagare_2016T3.csv", "ter@sodra.example"),
        ("SODRA", "TER", "deltagare", "2016T2", "T", "2016-09-30", "received", None, 1,
         "SODRA_TER_deltagare_2016T3.csv", "ter@sodra.example"),
        ("SODRA", "TER", "deltagare", "2016T3", "T", "2017-01-30", "received", None, 1,
         "SODRA_TER_deltagare_2016T3.csv", "ter@sodra.example"),
    ]  # fmt: skip
    assert {k: summary[k] for k in ("expected", "received", "received_late", "awaiting", "quarantined", "overdue")} == {
        "expected": 22,
        "received": 6,
        "received_late": 2,
        "awaiting": 8,
        "quarantined": 1,
        "overdue": 5,
    }
    assert summary["reminders"]["overdue_new"] == 5


def test_tracking_before_any_build_says_what_to_do(tracking_env):
    """The statuses come from dbt: a warehouse never built has none, and the step says so in Swedish."""
    seed_warehouse(tracking_env, build=False)
    with pytest.raises(TrackingError, match=r"marts\.delivery_status finns inte i lagret.*Kör bygget"):
        track_deliveries(tracking_env, load_registry(tracking_env.registry), as_of=date(2016, 9, 20))
