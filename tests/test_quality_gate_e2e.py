"""The quality gate end to end: a small county's landing, the whole pipeline, a real SMTP server.

Two associations deliver nine files; three are faulty (a bad code, an amount that is not a
number, a missing required column). After `run_pipeline`: exactly three alerts arrived,
each with its expected Swedish line; the quarantine holds exactly those three files with
their explanations (a file with personnummer only as its pseudonymised copy); the
warehouse holds the six others, built into the facts; the Data Docs show the suites.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from fixtures import synthetic
from smtp_fixture import (
    INSATSER_HEADER,
    clear_municipalities,
    ended_participant,
    insats_row,
    participant,
    setup_zones,
    start_smtp,
    use_municipalities,
    write_file,
)

from ingestion.core.config import load_settings
from ingestion.core.registry import load_registry
from ingestion.pipeline import run_pipeline
from ingestion.quality.facts import run_facts_validation
from ingestion.warehouse.schema import connect

pytestmark = [pytest.mark.dbt]

AS_OF = date(2016, 9, 15)  # 2016T2 ended 2016-08-31: nothing is overdue yet, so no reminders
BUDGET_HEADER = ["ar", "period_slut", "radtyp", "kostnadsslag", "rad_text", "budget", "utfall", "differens", "prognos"]
PNR = synthetic.make_pnr(random.Random(11), 1988)
FAULTY = {
    "SODRA": {"SODRA_UNG_deltagare_2016T2.csv", "SODRA_RAKNA_volym_2016T3.csv"},
    "NORR": {"NORR_JOBB_budget_2016T2.csv"},
}


def county(landing):
    start = "2016-05-01"
    write_file(
        landing,
        "SODRA",
        "SODRA_ALL_insatser_2016T2.csv",
        INSATSER_HEADER,
        [
            insats_row("SATER", start=start),
            insats_row("RAKNA", matmetod="VOLYM", start=start),
            insats_row("UNG", start=start),
        ],
    )
    write_file(
        landing,
        "SODRA",
        "SODRA_SATER_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [
            participant(1, startdatum="2016-05-02"),
            participant(2, startdatum="2016-06-01", kon="M", kommun="2083"),
            ended_participant(3, startdatum="2016-05-10", slutdatum="2016-08-01"),
        ],
    )
    write_file(
        landing,
        "SODRA",
        "SODRA_SATER_budget_2016T2.csv",
        BUDGET_HEADER,
        [
            ["2016", "2016-08-31", "KOSTNAD", "PERSONAL", "Personal", "1 775 000", "819 000", "956 000", "0"],
            ["2016", "2016-08-31", "KOSTNAD", "LOKALER", "Lokaler", "165 000", "88 000", "77 000", "-9 000"],
        ],
    )
    write_file(
        landing,
        "SODRA",
        "SODRA_RAKNA_volym_2016T2.csv",
        ["ar", "period_slut", "kon", "antal"],
        [["2016", "2016-08-31", "K", "12"], ["2016", "2016-08-31", "M", "9"]],
    )
    # Faulty 1: an unknown code for kön (and a personnummer in the file).
    write_file(
        landing,
        "SODRA",
        "SODRA_UNG_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [
            participant(1, startdatum="2016-05-02", deltagar_id="", personnummer=PNR, fodelsear=""),
            participant(2, startdatum="2016-05-03", kon="Q"),
        ],
    )
    # Faulty 3: the count column is missing.
    write_file(
        landing, "SODRA", "SODRA_RAKNA_volym_2016T3.csv", ["ar", "period_slut", "kon"], [["2016", "2016-09-10", "K"]]
    )

    write_file(
        landing,
        "NORR",
        "NORR_ALL_insatser_2016T2.csv",
        INSATSER_HEADER,
        [insats_row("JOBB", start=start, huvudman="FK+AF+KOMMUN:2062", email_to="jobb@norr.example")],
    )
    write_file(
        landing,
        "NORR",
        "NORR_JOBB_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [
            participant(1, startdatum="2016-05-02", kommun="2062"),
            participant(2, startdatum="2016-07-01", kommun="Mora"),
        ],
    )
    # Faulty 2: an amount that is not a number.
    write_file(
        landing,
        "NORR",
        "NORR_JOBB_budget_2016T2.csv",
        BUDGET_HEADER,
        [["2016", "2016-08-31", "KOSTNAD", "PERSONAL", "Personal", "mycket", "819 000", "", ""]],
    )


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    """One pipeline run (module scope: it takes a while), inspected by the tests below."""
    root = tmp_path_factory.mktemp("quality_gate")
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_municipalities(root, monkeypatch)
        settings = setup_zones(root, monkeypatch)
        server = start_smtp(monkeypatch)
        try:
            settings = load_settings()
            county(settings.landing)
            registry = load_registry(settings.registry)
            result = run_pipeline(settings, registry, as_of=AS_OF)
            # The final suites run after the build (the DAG's validate_facts task).
            result["facts"] = run_facts_validation(settings, registry, as_of=AS_OF)
            yield settings, result, server
        finally:
            server.stop()
            clear_municipalities()


def query(settings, sql):
    con = connect(settings)  # not read_only: dbt (run in this process) may still hold the file
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_exactly_three_alerts_with_the_expected_lines(pipeline_run):
    settings, result, server = pipeline_run
    assert result["alerts"] == {"sent": 3, "failed": 0, "outbox": 3, "retried": 0}
    assert result["tracking"]["reminders"]["messages"] == 0 and result["tracking"]["overdue"] == 0
    inbox = server.inbox
    assert len(inbox.messages) == 3
    mails = {m["To"]: (m, body) for m, body in zip(inbox.messages, inbox.bodies())}
    assert set(mails) == {"ung@sodra.example", "rakna@sodra.example", "jobb@norr.example"}
    for message, _ in mails.values():
        assert message["Cc"] == "data@lan.example"
        assert "behöver rättas – den har inte lästs in" in message["Subject"]

    expected = {
        "ung@sodra.example": "  - rad 3, kolumn kon, värde 'Q': kön har ett värde som inte finns i kodlistan. "
        "Giltigt: K (kvinna), M (man), X (annat/uppgift saknas).",
        "rakna@sodra.example": "  - kolumn antal: kolumnen antal saknas i filen eller är helt tom, men den krävs "
        "enligt exportkontraktet. Giltigt: en kolumn med rubriken antal, antal deltagare, "
        "antal personer.",
        "jobb@norr.example": "  - rad 2, kolumn budget, värde 'mycket': budget är inget belopp. "
        "Giltigt: ett belopp, t.ex. 1 775 000.",
    }
    for to, line in expected.items():
        body = mails[to][1]
        assert "FEL SOM MÅSTE RÄTTAS (1)" in body
        assert line in body.splitlines()
        assert "VARNINGAR" not in body
        assert "Så lämnar du en ny leverans:" in body
    raw_mail = "\n".join(m.as_string() for m in inbox.messages)
    assert not any(form in raw_mail for form in synthetic.pnr_forms(PNR))


def test_quarantine_holds_exactly_the_faulty_files(pipeline_run):
    settings, _, _ = pipeline_run
    for association, files in FAULTY.items():
        held = {p.name for p in (settings.quarantine / association).iterdir()}
        expected = set()
        for name in files:
            expected.add(f"{name}.fel.txt")
            # The file with a personnummer is kept only as its pseudonymised copy.
            expected.add(f"{name}.pseudonymiserad.csv" if name == "SODRA_UNG_deltagare_2016T2.csv" else name)
        assert held == expected
    copy = (settings.quarantine / "SODRA" / "SODRA_UNG_deltagare_2016T2.csv.pseudonymiserad.csv").read_text()
    assert not any(form in copy for form in synthetic.pnr_forms(PNR))

    explanation = (settings.quarantine / "NORR" / "NORR_JOBB_budget_2016T2.csv.fel.txt").read_text(encoding="utf-8")
    assert explanation.splitlines()[0] == "Leveransen NORR_JOBB_budget_2016T2.csv har inte lästs in (karantän)."
    assert "Fel som måste rättas (1):" in explanation
    assert (
        "  - rad 2, kolumn budget, värde 'mycket': budget är inget belopp. Giltigt: ett belopp, t.ex. 1 775 000."
        in explanation.splitlines()
    )
    assert "Så lämnar du en ny leverans: rätta filen och lägg den i förbundets mapp med samma filnamn." in explanation
    # The drop folders are empty: every file was landed (accepted or quarantined).
    assert not [p for p in settings.landing.rglob("*") if p.is_file()]


def test_the_warehouse_holds_the_rest(pipeline_run):
    settings, result, _ = pipeline_run
    assert query(settings, "select file_name, status from meta.load_ledger order by 1") == [
        ("NORR_ALL_insatser_2016T2.csv", "accepted"),
        ("NORR_JOBB_budget_2016T2.csv", "quarantined"),
        ("NORR_JOBB_deltagare_2016T2.csv", "accepted"),
        ("SODRA_ALL_insatser_2016T2.csv", "accepted"),
        ("SODRA_RAKNA_volym_2016T2.csv", "accepted"),
        ("SODRA_RAKNA_volym_2016T3.csv", "quarantined"),
        ("SODRA_SATER_budget_2016T2.csv", "accepted"),
        ("SODRA_SATER_deltagare_2016T2.csv", "accepted"),
        ("SODRA_UNG_deltagare_2016T2.csv", "quarantined"),
    ]
    assert query(settings, "select intervention_code, count(*) from raw.deltagare group by 1 order by 1") == [
        ("JOBB", 2),
        ("SATER", 3),
    ]
    assert query(settings, "select intervention_code, period, sum(antal) from raw.volym group by all") == [
        ("RAKNA", "2016T2", 21)
    ]
    assert query(settings, "select intervention_code, count(*) from raw.budget group by 1") == [("SATER", 2)]
    assert query(settings, "select intervention_code, count(*) from marts.fct_participation group by 1 order by 1") == [
        ("JOBB", 2),
        ("SATER", 3),
    ]
    # Validation results: landing results per delivery, final results for the built facts.
    assert query(
        settings,
        "select count(distinct delivery_id) from meta.validation_results "
        "where suite like '%.landing' or suite = 'landning'",
    ) == [(9,)]
    assert query(
        settings,
        "select suite, bool_and(passed) from meta.validation_results where suite like '%.final' group by 1 order by 1",
    ) == [("fct_participation.final", True), ("participant_counts.final", True)]
    assert query(settings, "select status, count(*) from meta.alerts group by 1") == [("sent", 3)]
    # Tracking on the run's date (2016): the files were landed today, after the run's day, so their
    # lateness cannot be judged: received.
    assert query(
        settings,
        "select association_code, intervention_code, kind, period, status from marts.delivery_status order by all",
    ) == [
        ("NORR", "ALL", "insatser", "2016T2", "received"),
        ("NORR", "JOBB", "budget", "2016T2", "quarantined"),
        ("NORR", "JOBB", "deltagare", "2016T2", "received"),
        ("SODRA", "ALL", "insatser", "2016T2", "received"),
        ("SODRA", "RAKNA", "budget", "2016T2", "awaiting"),
        ("SODRA", "RAKNA", "volym", "2016T2", "received"),
        ("SODRA", "SATER", "budget", "2016T2", "received"),
        ("SODRA", "SATER", "deltagare", "2016T2", "received"),
        ("SODRA", "UNG", "budget", "2016T2", "awaiting"),
        ("SODRA", "UNG", "deltagare", "2016T2", "quarantined"),
    ]


def test_data_docs_are_built_for_each_association(pipeline_run):
    settings, _, _ = pipeline_run
    for association in ("SODRA", "NORR"):
        index = settings.gx_root / association / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
        html = index.read_text(encoding="utf-8")
        assert "deltagare.landing" in html and "insatser.landing" in html
    page = (settings.reports / "validering.html").read_text(encoding="utf-8")
    assert "SODRA" in page and "NORR" in page


def test_a_second_run_adds_nothing_and_sends_nothing(pipeline_run):
    settings, _, server = pipeline_run
    before = query(settings, "select count(*) from meta.load_ledger")
    again = run_pipeline(settings, load_registry(settings.registry), as_of=AS_OF, docs=False)
    assert again["alerts"]["sent"] == 0 and len(server.inbox.messages) == 3
    assert query(settings, "select count(*) from meta.load_ledger") == before
    # The view was first built before any tracking run; from this build on it shows tracking.
    assert query(
        settings,
        "select delivery_key, status, latest_file_name from marts.delivery_status "
        "where status = 'quarantined' order by 1",
    ) == [
        ("NORR_JOBB_budget_2016T2", "quarantined", "NORR_JOBB_budget_2016T2.csv"),
        ("SODRA_UNG_deltagare_2016T2", "quarantined", "SODRA_UNG_deltagare_2016T2.csv"),
    ]
