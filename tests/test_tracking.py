"""Delivery tracking: what is due from the register's cadence, its status on a fixed date,
and one reminder per overdue delivery, through a real SMTP server.

The clock is always the `as_of` parameter. Most tests write the register and the ledger
straight into a fresh warehouse, so received-at times are exact; one test goes through the
real steps (land, validate, load) first.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest
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
from ingestion.core.registry import load_registry
from ingestion.outbound.reminders import (
    ACCEPTED,
    CUMULATIVE_KINDS,
    _current_registers,
    _ledger,
    _spine,
    cadence_code,
    expected_deliveries,
    periods,
    track_deliveries,
)
from ingestion.process import process_association
from ingestion.warehouse.load import load_registry_table, load_warehouse
from ingestion.warehouse.schema import connect, ensure_schema


def test_cadence_codes():
    assert [cadence_code(v) for v in (None, "", "T", "tertial", "H", "Halvår", "m", "månad", "A", "år", "Q")] == [
        "T",
        "T",
        "T",
        "T",
        "H",
        "H",
        "M",
        "M",
        "A",
        "A",
        "T",
    ]


def test_periods_per_cadence():
    labels = lambda cadence, start, end: [p.label for p in periods(cadence, start, end)]  # noqa: E731
    assert labels("T", date(2016, 3, 1), date(2016, 10, 15)) == ["2016T1", "2016T2", "2016T3"]
    assert labels("H", date(2015, 8, 1), date(2016, 10, 15)) == ["2015H2", "2016H1", "2016H2"]
    assert labels("M", date(2016, 3, 15), date(2016, 5, 1)) == ["2016-03", "2016-04", "2016-05"]
    assert labels("A", date(2015, 12, 31), date(2016, 1, 1)) == ["2015", "2016"]


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


def seed_warehouse(settings, register=REGISTER, ledger=LEDGER):
    con = connect(settings)
    try:
        ensure_schema(con)
        load_registry_table(con, load_registry(settings.registry))  # as load_warehouse does
        for row, (code, method, start, end, cadence) in enumerate(register, start=2):
            con.execute(
                "insert into raw.insatser (delivery_id, association_code, intervention_code, period, period_start, "
                "period_end, received_at, source_row, insats_kod, namn, inriktning, matmetod, startdatum, slutdatum, "
                "huvudman, agare_epost, rapportering) values ('reg1', 'SODRA', 'ALL', '2016T1', '2016-01-01', "
                "'2016-04-30', '2016-02-01 09:00:00', ?, ?, ?, 'INDIVID', ?, ?, ?, 'FK+AF', ?, ?)",
                [row, code, code.title(), method, start, end, f"{code.lower()}@sodra.example", cadence],
            )
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


def expected_rows(settings):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(
            "select intervention_code, kind, period, status, days_overdue, due_date::varchar "
            "from meta.expected_deliveries where association_code = 'SODRA' order by all"
        ).fetchall()
    finally:
        con.close()


def reminder_rows(settings):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(
            "select intervention_code, kind, period, recipient, status, attempts, as_of::varchar "
            "from meta.reminders order by all"
        ).fetchall()
    finally:
        con.close()


def test_status_of_every_due_delivery_on_a_fixed_date(quality_env):
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
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        assert con.execute(
            "select period, status from meta.expected_deliveries where association_code = 'NORR'"
        ).fetchall() == [("2016T2", "awaiting")]
    finally:
        con.close()


def test_overdue_days_is_configurable(quality_env, monkeypatch):
    monkeypatch.setenv("FINSAM_OVERDUE_DAYS", "10")
    settings = load_settings()
    seed_warehouse(settings)
    track_deliveries(settings, load_registry(settings.registry), as_of=date(2016, 9, 20))
    rows = {(r[0], r[1], r[2]): r[3:] for r in expected_rows(settings)}
    assert rows[("AVESTA", "deltagare", "2016T2")] == ("overdue", 10, "2016-09-10")
    assert rows[("AVESTA", "budget", "2016T1")] == ("received_late", None, "2016-05-10")


def test_a_reminder_is_sent_once_per_overdue_delivery(quality_env, smtp_server):
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


def test_failed_reminder_is_retried_next_run(quality_env, monkeypatch):
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


def test_without_a_relay_the_reminder_goes_to_the_outbox_once(quality_env):
    settings = load_settings()
    seed_warehouse(settings)
    registry = load_registry(settings.registry)
    assert track_deliveries(settings, registry, as_of=date(2016, 9, 20))["reminders"]["outbox"] == 2
    assert track_deliveries(settings, registry, as_of=date(2016, 9, 20))["reminders"]["messages"] == 0
    assert len(list((settings.reports / "outbox").glob("paminnelse-SODRA-2016-09-20-*.eml"))) == 2


def test_tracking_after_the_real_steps(quality_env):
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
def test_an_accepted_delivery_counts_whatever_its_warnings(quality_env, status):
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
    seed_warehouse(settings)
    build_marts(settings, docs=False)  # first build: no tracking table yet
    con = connect(settings)  # not read_only: dbt (run in this process) may still hold the file
    try:
        assert con.execute("select count(*) from marts.delivery_status").fetchone() == (0,)
    finally:
        con.close()

    track_deliveries(settings, load_registry(settings.registry), as_of=date(2016, 9, 20))
    build_marts(settings, docs=False)  # dbt's tests on the view run here (unique key, statuses, arithmetic)
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


def _covers(delivered: pd.DataFrame, kind: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Which deliveries of one (association, intervention, kind) cover the period start..end."""
    if kind in CUMULATIVE_KINDS:
        return delivered["period_end"] >= end
    if kind == "budget":
        return (delivered["period_end"] >= end) & (delivered["period_start"].dt.year == start.year)
    return (delivered["period_start"] <= start) & (delivered["period_end"] >= end)


def expected_deliveries_row_by_row(
    con: duckdb.DuckDBPyConnection, registry, as_of: date, overdue_days: int
) -> pd.DataFrame:
    """The reference for `expected_deliveries`: the same statuses, one filter per due delivery
    (too slow at national scale, plain to read)."""
    ledger = _ledger(con)
    spine = _spine(_current_registers(con), ledger, registry, as_of, overdue_days)
    groups = {key: group for key, group in ledger.groupby(["association_code", "intervention_code", "kind"])}
    out = []
    for row in spine.to_dict("records"):
        delivered = groups.get((row["association_code"], row["intervention_code"], row["kind"]), ledger.iloc[0:0])
        start, end = pd.Timestamp(row["period_start"]), pd.Timestamp(row["period_end"])
        covering = delivered[_covers(delivered, row["kind"], start, end)].sort_values("received_at")
        accepted = covering[covering["status"].isin(ACCEPTED)]
        overdue = as_of > row["due_date"]
        if len(accepted):
            first = accepted.iloc[0]
            arrived = first["received_at"].date()
            status = "received" if arrived <= row["due_date"] or arrived > as_of else "received_late"
        elif overdue:
            status = "overdue"
        elif len(covering):
            status = "quarantined"
        else:
            status = "awaiting"
        latest = covering.iloc[-1] if len(covering) else None
        row.update(
            as_of=as_of,
            status=status,
            days_overdue=(as_of - row["due_date"]).days if status == "overdue" else None,
            deliveries=len(covering),
            accepted_delivery_id=accepted.iloc[0]["delivery_id"] if len(accepted) else None,
            accepted_at=accepted.iloc[0]["received_at"] if len(accepted) else None,
            latest_delivery_id=latest["delivery_id"] if latest is not None else None,
            latest_status=latest["status"] if latest is not None else None,
        )
        out.append(row)
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
    return pd.DataFrame(out, columns=columns)


def test_columnar_status_equals_the_row_by_row_reference(quality_env):
    settings = load_settings()
    seed_warehouse(settings)
    registry = load_registry(settings.registry)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        for as_of in (date(2016, 3, 1), date(2016, 9, 20), date(2017, 6, 1)):
            fast = expected_deliveries(con, registry, as_of, 30)
            reference = expected_deliveries_row_by_row(con, registry, as_of, 30)
            pd.testing.assert_frame_equal(fast, reference, check_dtype=False)
            assert len(fast)
    finally:
        con.close()


def test_an_arrival_after_the_as_of_day_is_not_judged_late(quality_env):
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
