"""Alerts to owners through a real SMTP server (aiosmtpd on 127.0.0.1, a random port).

What arrived at the server is read back and checked: one Swedish message per delivery,
to the owner from the intervention register with a copy to the data team, blocking
problems and warnings in separate sections, each problem as row, column, value and what
is valid, how to re-deliver, and no personal data. With the server down the alert is
recorded as failed, the run itself does not fail, and the next run sends it.
"""

from __future__ import annotations

import email
import json
import random
import re
from datetime import date
from email import policy

import duckdb
import pandas as pd
from fixtures import synthetic
from smtp_fixture import (  # noqa: F401
    SmtpServer,
    ended_participant,
    free_port,
    municipality_list,
    participant,
    quality_env,
    smtp_server,
    write_file,
    write_register,
)

from ingestion.core.config import load_settings
from ingestion.core.rawzone import all_landed
from ingestion.core.registry import load_registry
from ingestion.outbound.alerts import send_alerts
from ingestion.process import process_association
from ingestion.warehouse.load import load_warehouse

AS_OF = date(2016, 10, 15)
BUDGET_HEADER = ["ar", "period_slut", "radtyp", "kostnadsslag", "rad_text", "budget", "utfall", "differens", "prognos"]
PNR = synthetic.make_pnr(random.Random(7), 1984)


def deliver(landing):
    """SODRA: a clean register, a deltagare file with two blocking errors (one row holds a
    personnummer) and the Avesta budget with its wrong difference (a warning)."""
    write_register(landing)
    write_file(
        landing,
        "SODRA",
        "SODRA_AVESTA_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [
            participant(1),
            participant(2, deltagar_id="", personnummer=PNR, fodelsear="", kon="Q"),
            ended_participant(3, avslutsanledning=""),
        ],
    )
    write_file(
        landing,
        "SODRA",
        "SODRA_AVESTA_budget_2016T2.csv",
        BUDGET_HEADER,
        [
            ["2016", "2016-06-30", "KOSTNAD", "PERSONAL", "Personal", "1 775 000", "819 000", "955 000", "0"],
            ["2016", "2016-06-30", "KOSTNAD", "LOKALER", "Lokaler", "165 000", "88 000", "77 000", "-9 000"],
        ],
    )


def run_steps(settings, **alert_options):
    registry = load_registry(settings.registry)
    process_association(settings, registry, "SODRA", as_of=AS_OF, docs=False)
    load_warehouse(settings, registry)
    return send_alerts(settings, registry, **alert_options)


def alerts_table(settings):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(
            "select l.file_name, a.recipient, a.status, a.attempts, a.sent_at is not null "
            "from meta.alerts a join meta.load_ledger l using (delivery_id) order by 1"
        ).fetchall()
    finally:
        con.close()


def test_one_swedish_message_per_delivery_arrives(quality_env, smtp_server):
    settings = load_settings()
    deliver(settings.landing)
    summary = run_steps(settings, backoff=0)

    assert summary == {"sent": 2, "failed": 0, "outbox": 2, "retried": 0}
    inbox = smtp_server.inbox
    assert len(inbox.messages) == 2
    by_subject = {m["Subject"]: (m, body) for m, body in zip(inbox.messages, inbox.bodies())}
    quarantined, q_body = by_subject[
        "[Finsam] Leveransen SODRA_AVESTA_deltagare_2016T2.csv behöver rättas – den har inte lästs in"
    ]
    warned, w_body = by_subject["[Finsam] Leveransen SODRA_AVESTA_budget_2016T2.csv är inläst – med 1 varning(ar)"]

    for message in (quarantined, warned):
        assert message["To"] == "avesta@sodra.example"  # the owner, from the intervention register
        assert message["Cc"] == "data@lan.example"  # the county data team
        assert message["From"] == "finsam@lan.example"
    assert sorted(map(sorted, inbox.recipients)) == [["avesta@sodra.example", "data@lan.example"]] * 2

    assert "FEL SOM MÅSTE RÄTTAS (2)" in q_body
    assert (
        "  - rad 3, kolumn kon, värde 'Q': kön har ett värde som inte finns i kodlistan. "
        "Giltigt: K (kvinna), M (man), X (annat/uppgift saknas)."
    ) in q_body
    assert (
        "  - rad 4, kolumn avslutsanledning, värde 'slutdatum 2016-05-31, avslutsanledning (tomt), "
        "forsorjning_efter LON': avslutad deltagare (slutdatum ifyllt) saknar avslutsanledning eller "
        "försörjning vid avslut. Giltigt: avslutsanledning och försörjning efter ska fyllas i när slutdatum "
        "finns."
    ) in q_body
    assert "VARNINGAR" not in q_body
    assert "Så lämnar du en ny leverans:" in q_body
    assert "2. Lägg filen i förbundets mapp med samma namn, SODRA_AVESTA_deltagare_2016T2.csv." in q_body
    assert "finsam validate" not in q_body  # the data team's command: owners do not have it

    assert "FEL SOM MÅSTE RÄTTAS" not in w_body
    assert "VARNINGAR – filen lästes in, men kontrollera (1)" in w_body
    assert (
        "rad 2, kolumn differens, värde '955000': differensen stämmer inte: budget 1 775 000 − utfall "
        "819 000 = 956 000, men filen anger 955 000. Giltigt: differens = budget − utfall."
    ) in w_body
    assert "Filen behöver inte skickas igen." in w_body

    # No personal data: neither the personnummer (in any form) nor its key.
    keys = {
        k
        for l in all_landed(settings)
        if l.manifest["kind"] == "deltagare"
        for k in pd.read_parquet(l.directory / "data.parquet")["person_key"].dropna()
    }
    raw_mail = "\n".join(m.as_string() for m in inbox.messages)
    for form in synthetic.pnr_forms(PNR):
        assert form not in raw_mail
    assert keys and not any(key in raw_mail for key in keys)
    assert not re.search(r"(?<!\d)\d{6}[-+]?\d{4}(?!\d)", "\n".join(inbox.bodies()))

    assert alerts_table(settings) == [
        ("SODRA_AVESTA_budget_2016T2.csv", "avesta@sodra.example", "sent", 1, True),
        ("SODRA_AVESTA_deltagare_2016T2.csv", "avesta@sodra.example", "sent", 1, True),
    ]
    # Sent once: the next run sends nothing.
    assert send_alerts(settings, load_registry(settings.registry), backoff=0)["sent"] == 0
    assert len(inbox.messages) == 2


def test_server_down_records_failure_then_next_run_sends(quality_env, monkeypatch):
    port = free_port()  # nothing listens here yet
    monkeypatch.setenv("FINSAM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FINSAM_SMTP_PORT", str(port))
    settings = load_settings()
    deliver(settings.landing)

    summary = run_steps(settings, attempts=2, backoff=0)  # returns normally: alerts never fail the run
    assert summary == {"sent": 0, "failed": 2, "outbox": 2, "retried": 0}
    assert alerts_table(settings) == [
        ("SODRA_AVESTA_budget_2016T2.csv", "avesta@sodra.example", "failed", 2, False),
        ("SODRA_AVESTA_deltagare_2016T2.csv", "avesta@sodra.example", "failed", 2, False),
    ]
    markers = [
        json.loads((l.directory / "alert.json").read_text())
        for l in all_landed(settings)
        if (l.directory / "alert.json").exists()
    ]
    assert sorted(m["status"] for m in markers) == ["failed", "failed"]
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:  # the load itself is untouched by the failed mail
        ledger = con.execute("select file_name, status from meta.load_ledger order by 1").fetchall()
    finally:
        con.close()
    assert ledger == [
        ("SODRA_ALL_insatser_2016T2.csv", "accepted"),
        ("SODRA_AVESTA_budget_2016T2.csv", "accepted_with_warnings"),
        ("SODRA_AVESTA_deltagare_2016T2.csv", "quarantined"),
    ]

    server = SmtpServer(port).start()
    try:
        summary = send_alerts(settings, load_registry(settings.registry), attempts=2, backoff=0)
        assert summary == {"sent": 2, "failed": 0, "outbox": 2, "retried": 2}
        assert len(server.inbox.messages) == 2
        assert alerts_table(settings) == [
            ("SODRA_AVESTA_budget_2016T2.csv", "avesta@sodra.example", "sent", 3, True),
            ("SODRA_AVESTA_deltagare_2016T2.csv", "avesta@sodra.example", "sent", 3, True),
        ]
        assert send_alerts(settings, load_registry(settings.registry), backoff=0)["sent"] == 0
    finally:
        server.stop()


def test_retry_within_a_run_when_the_first_attempt_fails(quality_env, smtp_server, monkeypatch):
    """A relay that refuses once: the same run tries again and the message arrives once."""
    import smtplib

    real = smtplib.SMTP.send_message
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise smtplib.SMTPServerDisconnected("simulerat avbrott")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "send_message", flaky)
    settings = load_settings()
    write_register(settings.landing)
    write_file(
        settings.landing,
        "SODRA",
        "SODRA_AVESTA_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [participant(1, kon="Q")],
    )
    assert run_steps(settings, backoff=0)["sent"] == 1
    assert len(smtp_server.inbox.messages) == 1
    assert alerts_table(settings) == [("SODRA_AVESTA_deltagare_2016T2.csv", "avesta@sodra.example", "sent", 2, True)]


def test_without_a_relay_messages_go_to_the_outbox_only(quality_env):
    settings = load_settings()
    write_register(settings.landing)
    write_file(
        settings.landing,
        "SODRA",
        "SODRA_AVESTA_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [participant(1, kon="Q")],
    )
    assert run_steps(settings) == {"sent": 0, "failed": 0, "outbox": 1, "retried": 0}
    files = list((settings.reports / "outbox").glob("*.eml"))
    assert len(files) == 1
    saved = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert "kön har ett värde som inte finns i kodlistan" in saved.get_body(preferencelist=("plain",)).get_content()
    assert alerts_table(settings) == [("SODRA_AVESTA_deltagare_2016T2.csv", "avesta@sodra.example", "outbox", 0, False)]
