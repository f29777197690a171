"""The owners' portal in a real browser (Debian's Chromium through Playwright), served by uvicorn:
Avesta's owner signs in, sees the intervention's deliveries, uploads a faulty file and reads the
grouped Swedish findings, uploads the fixed file and sees it accepted; the file is then in the
association's landing folder; the next DAG run (real Airflow, `airflow dags test`) loads it as a
correction, and the page shows the run's verdict. Screenshots of the main pages are written to
/tmp/portal_shots/ and to the test's own folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from test_portal import AVESTA_CSV, OWNER, PASSWORD, holds_pnr, landing_files, make_portal_home

pytestmark = [pytest.mark.browser, pytest.mark.dbt]
SHOTS = Path("/tmp/portal_shots")


def corrected_avesta_file() -> bytes:
    """The sample's Avesta file (already loaded by the sample run) with one correction an owner
    would send: the first participant's education level. A new file, so the next run loads it."""
    rows = list(csv.reader(AVESTA_CSV.read_text(encoding="utf-8-sig").splitlines()))
    education = rows[0].index("Utbildningsnivå")
    assert rows[1][education] == "OKAND"
    rows[1][education] = "Gymnasium"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def faulty_avesta_file() -> bytes:
    """The sample's Avesta file with an impossible start date in every fifth row and an unknown
    referrer in every seventh: what an owner typically gets wrong."""
    rows = list(csv.reader(AVESTA_CSV.read_text(encoding="utf-8-sig").splitlines()))
    header = rows[0]
    start, referrer = header.index("Inskrivningsdatum"), header.index("Remitterad av")
    for i, row in enumerate(rows[1:]):
        if i % 5 == 0:
            row[start] = "31/2 2016"
        if i % 7 == 0:
            row[referrer] = "Grannen"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.fixture
def served_portal(published_sample, tmp_path, monkeypatch):
    import uvicorn

    from ingestion.portal.app import create_app

    settings = make_portal_home(published_sample, tmp_path / "county", monkeypatch)
    # the county's warehouse too: the next DAG run loads what the portal placed in landing
    shutil.copytree(published_sample / "var" / "warehouse", settings.home / "warehouse")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # the lifespan opens the GX project before the first request
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the portal did not start"
        time.sleep(0.1)
    try:
        yield settings, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_owner_signs_in_uploads_a_faulty_then_a_fixed_file(served_portal, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    settings, base = served_portal
    files = tmp_path / "files"
    (files / "faulty").mkdir(parents=True)
    (files / "fixed").mkdir()
    name = "SODRA_AVESTA_deltagare_2016T3.csv"
    faulty = files / "faulty" / name
    faulty.write_bytes(faulty_avesta_file())
    fixed = files / "fixed" / name
    fixed.write_bytes(corrected_avesta_file())
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots = tmp_path / "shots"
    shots.mkdir()

    def shot(page, label: str) -> None:
        page.screenshot(path=str(shots / f"{label}.png"), full_page=True)
        shutil.copyfile(shots / f"{label}.png", SHOTS / f"{label}.png")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="sv-SE")
            page.set_default_timeout(60_000)
            page.goto(base + "/insats/SODRA/AVESTA")
            expect(page).to_have_url(base + "/logga-in?next=%2Finsats%2FSODRA%2FAVESTA")
            # Keyboard first: the skip link is the first stop, the fields are reached by their labels.
            page.keyboard.press("Tab")
            expect(page.locator(":focus")).to_have_text("Hoppa till innehållet")
            page.get_by_label("E-postadress").fill(OWNER)
            page.get_by_label("Lösenord").fill("fel lösenord")
            page.get_by_label("Lösenord").press("Enter")
            expect(page.get_by_role("alert")).to_have_text("Fel e-postadress eller lösenord.")
            page.get_by_label("Lösenord").fill(PASSWORD)
            shot(page, "01_logga_in")
            page.get_by_role("button", name="Logga in").click()

            # Back on the page asked for: the intervention's status.
            expect(page.get_by_role("heading", level=1)).to_have_text("Samverkansteam Avesta (AVESTA)")
            table = page.get_by_role("table")
            expect(table).to_contain_text("Deltagare")
            expect(table).to_contain_text("2016T3")
            expect(table).to_contain_text("Mottagen")
            expect(page.get_by_role("link", name="Mall för deltagare", exact=False)).to_be_visible()
            shot(page, "03_insats_status")
            page.get_by_role("link", name="← Alla insatser").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Mina insatser")
            expect(page.get_by_role("link", name="Samverkansteam Avesta (AVESTA)")).to_be_visible()
            expect(page.get_by_role("table")).to_have_count(1)  # only the owner's own association
            shot(page, "02_mina_insatser")
            page.get_by_role("link", name="Samverkansteam Avesta (AVESTA)").click()

            # The faulty file: refused, with the grouped findings, and nothing in landing.
            page.get_by_label("Fil att kontrollera och lämna").set_input_files(str(faulty))
            started = time.perf_counter()
            page.get_by_role("button", name="Ladda upp och kontrollera").click()
            verdict = page.get_by_role("status")
            expect(verdict.get_by_role("heading", level=2)).to_have_text("Underkänd – filen har inte tagits emot")
            faulty_seconds = time.perf_counter() - started
            expect(verdict.get_by_role("heading", name="Fel som måste rättas", exact=False)).to_be_visible()
            findings = verdict.locator("ul > li")
            expect(findings.first).to_contain_text("startdatum")
            texts = findings.all_inner_texts()
            assert any("31/2 2016" in t and "rader)" in t for t in texts), texts  # one line for many rows
            assert any("Grannen" in t for t in texts), texts
            assert len(texts) <= 4, texts  # grouped: not one line per row
            assert landing_files(settings) == []
            assert not holds_pnr(page.content())
            shot(page, "04_underkand")

            # The fixed file: accepted and placed in the association's landing folder.
            page.get_by_label("Fil att kontrollera och lämna").set_input_files(str(fixed))
            started = time.perf_counter()
            page.get_by_role("button", name="Ladda upp och kontrollera").click()
            expect(page.get_by_role("status").get_by_role("heading", level=2)).to_have_text("Godkänd – filen tas emot")
            fixed_seconds = time.perf_counter() - started
            expect(page.get_by_role("status")).to_contain_text("läses in vid nästa körning")
            assert not holds_pnr(page.content())
            shot(page, "05_godkand")
            placed = settings.landing / "SODRA" / name
            assert landing_files(settings) == [placed]
            assert placed.read_bytes() == fixed.read_bytes()

            # The next DAG run loads it (a correction of the delivery the sample run loaded), and the
            # intervention's page shows the run's verdict on the owner's file.
            state, output = next_dag_run(settings)
            assert state == "success", output[-3000:]
            assert landing_files(settings) == []  # taken from landing by the run
            page.goto(base + "/insats/SODRA/AVESTA")  # a new visit (a reload would send the upload again)
            expect(page.get_by_role("status")).to_have_count(0)  # no verdict: nothing was uploaded now
            row = page.get_by_role("row", name=re.compile(r"^Deltagare \S+ 2016T3 "))
            expect(row).to_contain_text(name)
            expect(row).to_contain_text("Godkänd")
            assert not holds_pnr(page.content())
            shot(page, "05b_inlast_efter_korning")

            # Sign out (a form with its CSRF token), and in as the association's analyst: a quarantined
            # delivery of another intervention shows the pipeline's grouped findings.
            page.get_by_role("button", name="Logga ut").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Logga in")
            page.get_by_label("E-postadress").fill("analys@sodra.example")
            page.get_by_label("Lösenord").fill(PASSWORD)
            page.get_by_role("button", name="Logga in").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Förbundets insatser")
            page.get_by_role("link", name="Kraften Hedemora (KRAFTEN)").click()
            expect(page.get_by_role("table")).to_contain_text("Underkänd – i karantän")
            page.get_by_role("link", name="Vad som ska rättas").first.click()
            expect(page).to_have_url(base + "/insats/SODRA/KRAFTEN#rattas-SODRA_KRAFTEN_deltagare_2016T3.csv")
            expect(page.get_by_text("Fel som måste rättas", exact=False).first).to_be_visible()
            assert not holds_pnr(page.content())
            shot(page, "06_karantan_analytiker")
        finally:
            browser.close()

    # The run loaded the owner's file: the ledger holds it, and the correction is in the marts.
    import duckdb

    digest = hashlib.sha256(fixed.read_bytes()).hexdigest()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        loaded = con.execute(
            "select status from meta.load_ledger where sha256 = ? and file_name = ?", [digest, name]
        ).fetchall()
    finally:
        con.close()
    assert loaded == [("accepted",)] or loaded == [("accepted_with_warnings",)], loaded
    assert landing_files(settings) == []  # loaded once; nothing sent again
    print(f"verdicts in the browser: faulty {faulty_seconds:.1f} s, fixed {fixed_seconds:.1f} s")


def next_dag_run(settings) -> tuple[str, str]:
    """The county DAG's next run on the portal's county (`airflow dags test`, as the demo runs it)."""
    from conftest import SAMPLE_AS_OF

    from ingestion.demo import airflow_env, prepare_airflow, run_dag

    env = airflow_env(
        settings.home,
        {
            "FINSAM_LANDING": str(settings.landing),
            "FINSAM_REGISTRY": str(settings.registry),
            "FINSAM_WAREHOUSE": str(settings.warehouse),
            "FINSAM_DEMO": "1",  # the sample run's pseudonymisation key: the same people keep their keys
        },
    )
    prepare_airflow(env)
    return run_dag(env, "2026-11-01", conf={"as_of": SAMPLE_AS_OF, "docs": False})  # the portal reads no docs
