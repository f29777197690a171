"""The owners' portal (ingestion/portal, docs/portal.md) without a browser: every route of the app
is walked signed out and as another association's owner; hostile uploads are refused in Swedish and
leave nothing behind; sign-in is limited; forms need their CSRF token; alert mails link to the page.

The browser test (a real Chromium) is tests/test_portal_browser.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import SAMPLE
from fixtures.synthetic import lying_zip_bomb, zip_bomb
from starlette.routing import Route
from starlette.testclient import TestClient

from ingestion.core.privacy import PNR_IN_TEXT

pytestmark = pytest.mark.dbt  # the published sample county: the whole pipeline, once per session

OWNER = "avesta.team@avesta.example"  # agare_epost of SODRA/AVESTA in the sample register
OTHER = "jobbnorr@mora.example"  # owns NORR/JOBBNORR only
PASSWORD = "ett långt lösenord för test"
AVESTA_CSV = SAMPLE / "landing" / "SODRA" / "SODRA_AVESTA_deltagare_2016T3.csv"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_portal_home(published_sample: Path, target: Path, monkeypatch, max_upload_mb: str = "20"):
    """A portal home beside a copy of the sample county's published snapshot, quarantine and raw
    zone (the checks read the current intervention register there), with an empty landing folder
    and three accounts. Returns the Settings."""
    home = target / "var"
    for zone in ("publish", "quarantine", "raw"):
        shutil.copytree(published_sample / "var" / zone, home / zone)
    (target / "landing").mkdir()
    for key, value in {
        "FINSAM_HOME": str(home),
        "FINSAM_LANDING": str(target / "landing"),
        "FINSAM_REGISTRY": str(SAMPLE / "registry.yml"),
        "FINSAM_WAREHOUSE": str(home / "warehouse" / "finsam.duckdb"),
        "FINSAM_PORTAL_SECRET": "test-portal-secret-" + "x" * 32,
        "FINSAM_PORTAL_HTTPS_ONLY": "0",
        "FINSAM_PORTAL_MAX_UPLOAD_MB": max_upload_mb,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FINSAM_DEMO", raising=False)
    monkeypatch.delenv("FINSAM_PORTAL_ACCOUNTS", raising=False)
    from ingestion.core.config import load_settings
    from ingestion.portal.accounts import Accounts

    settings = load_settings()
    accounts = Accounts(settings.portal_accounts)
    accounts.add(OWNER, "owner", PASSWORD)
    accounts.add(OTHER, "owner", PASSWORD)
    accounts.add("analys@sodra.example", "analyst", PASSWORD, association="SODRA")
    return settings


def sign_in(client: TestClient, email: str, password: str = PASSWORD):
    token = CSRF.search(client.get("/logga-in").text)[1]
    return client.post("/logga-in", data={"csrf": token, "email": email, "password": password}, follow_redirects=False)


def _sample_pnrs() -> set[str]:
    import csv

    rows = list(csv.reader(AVESTA_CSV.read_text(encoding="utf-8-sig").splitlines()))
    column = rows[0].index("Pnr")
    numbers = {row[column] for row in rows[1:] if row[column]}
    assert len(numbers) > 20
    return numbers | {n.replace("-", "") for n in numbers}


SAMPLE_PNRS = _sample_pnrs()  # the synthetic personnummer in the Avesta file every upload here uses


def holds_pnr(text: str) -> bool:
    return any(n in text for n in SAMPLE_PNRS)


def landing_files(settings) -> list[Path]:
    return sorted(p for p in settings.landing.rglob("*") if p.is_file())


def portal_storage_text(settings) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (settings.home / "portal").rglob("*.j*"))


@pytest.fixture
def portal(published_sample, tmp_path, monkeypatch):
    from ingestion.portal.app import create_app

    settings = make_portal_home(published_sample, tmp_path, monkeypatch, max_upload_mb="1")
    with TestClient(create_app(settings, warm=False), base_url="http://testserver") as client:
        yield settings, client


def _concrete(path: str) -> str:
    """A route's path with its parameters filled in with SODRA/AVESTA (the owner's own intervention)."""
    return (
        path.replace("{association}", "SODRA")
        .replace("{intervention}", "AVESTA")
        .replace("{kind}", "deltagare")
        .replace("{file}", "2016H1.pdf")
    )


def _call(client: TestClient, route: Route, path: str, token: str | None = None):
    method = sorted(route.methods - {"HEAD"})[0]
    data = {"csrf": token} if token else None
    return client.request(method, path, data=data, follow_redirects=False)


def test_every_route_sends_signed_out_visitors_to_sign_in(portal):
    settings, client = portal
    routes = [r for r in client.app.routes if isinstance(r, Route)]
    public = client.app.state.public_paths
    walked = 0
    for route in routes:
        if route.path in public:
            continue
        response = _call(client, route, _concrete(route.path))
        assert response.status_code == 303, (route.path, route.methods, response.status_code)
        assert response.headers["location"].startswith("/logga-in?next="), route.path
        walked += 1
    assert walked >= 7  # pages, upload, templates, the JSON API, sign-out
    assert landing_files(settings) == []


def test_another_owner_gets_403_on_every_route_about_an_intervention(portal):
    settings, client = portal
    assert sign_in(client, OTHER).status_code == 303
    token = CSRF.search(client.get("/").text)[1]
    per_intervention = [r for r in client.app.routes if isinstance(r, Route) and "{intervention}" in r.path]
    assert len(per_intervention) >= 3  # the page, the upload, the API
    for route in per_intervention:
        response = _call(client, route, _concrete(route.path), token)
        assert response.status_code == 403, (route.path, response.status_code)
        assert "Avesta" not in response.text and "AVESTA_deltagare" not in response.text
    # The same answer for an intervention that does not exist: nothing tells them apart.
    assert client.get("/insats/SODRA/FINNSINTE").status_code == 403
    # What they see: their own intervention only.
    overview = client.get("/").text
    assert "Jobb i Norra Dalarna" in overview and "Samverkansteam Avesta" not in overview
    listing = client.get("/api/insatser").json()
    assert {(i["association"], i["intervention"]) for i in listing} == {("NORR", "JOBBNORR")}
    assert landing_files(settings) == []


def test_owner_analyst_and_county_see_what_their_role_allows(portal):
    settings, client = portal
    sign_in(client, OWNER)
    assert {(i["association"], i["intervention"]) for i in client.get("/api/insatser").json()} == {("SODRA", "AVESTA")}
    page = client.get("/insats/SODRA/AVESTA")
    assert page.status_code == 200 and "Samverkansteam Avesta" in page.text and "Mottagen" in page.text
    status = client.get("/api/insats/SODRA/AVESTA").json()
    assert {d["status"] for d in status["deliveries"]} <= {
        "received",
        "received_late",
        "awaiting",
        "overdue",
        "quarantined",
    }
    assert len(status["deliveries"]) >= 2
    template = client.get("/mallar/deltagare")
    assert template.status_code == 200 and template.content[:2] == b"PK"
    client.cookies.clear()
    sign_in(client, "analys@sodra.example")
    seen = {(i["association"], i["intervention"]) for i in client.get("/api/insatser").json()}
    assert ("SODRA", "AVESTA") in seen and ("SODRA", "ALL") in seen and all(a == "SODRA" for a, _ in seen)
    assert client.get("/insats/NORR/JOBBNORR").status_code == 403
    # A quarantined delivery of the association shows its grouped Swedish findings from the pipeline.
    kraften = client.get("/insats/SODRA/KRAFTEN").text
    assert "Underkänd" in kraften and "Fel som måste rättas" in kraften
    assert not PNR_IN_TEXT.search(kraften)


def _upload(client: TestClient, name: str, content: bytes, page: str = "/insats/SODRA/AVESTA"):
    token = CSRF.search(client.get(page).text)[1]
    return client.post(page + "/ladda-upp", data={"csrf": token}, files={"file": (name, content, "text/csv")})


HOSTILE = {
    "path in the name": (
        "../../etc/SODRA_AVESTA_deltagare_2016T3.csv",
        lambda tmp: AVESTA_CSV.read_bytes(),
        "får inte innehålla en sökväg",
    ),
    "another intervention's name": (
        "SODRA_KRAFTEN_deltagare_2016T3.csv",
        lambda tmp: AVESTA_CSV.read_bytes(),
        "men den här sidan är för SODRA_AVESTA",
    ),
    "a name that breaks the rule": ("deltagare.csv", lambda tmp: b"a;b\n1;2\n", "fyra delar"),
    "a personnummer in the name": (
        "SODRA_AVESTA_deltagare_19740406-0548.csv",
        lambda tmp: b"a;b\n",
        "liknar ett personnummer",
    ),
    "oversize": (
        "SODRA_AVESTA_deltagare_2016T3.csv",
        lambda tmp: b"x" * (2 * 1024 * 1024),
        "Filen är för stor. Största tillåtna storlek är 1 MB",
    ),
    "zip bomb": (
        "SODRA_AVESTA_deltagare_2016T3.xlsx",
        lambda tmp: zip_bomb(tmp / "bomb.xlsx", 300).read_bytes(),
        "zip-bomb",
    ),
    "lying zip bomb": (
        "SODRA_AVESTA_deltagare_2016T3.xlsx",
        lambda tmp: lying_zip_bomb(tmp / "lie.xlsx", 50).read_bytes(),
        "skadad",
    ),
    "not a spreadsheet": (
        "SODRA_AVESTA_deltagare_2016T3.xlsx",
        lambda tmp: b"%PDF-1.7\n" + b"\0" * 4000,
        "går inte att läsa",
    ),
    "a zip that is no workbook": (
        "SODRA_AVESTA_deltagare_2016T3.xlsx",
        lambda tmp: _zip_bytes(tmp / "doc.xlsx", {"word/document.xml": "<w/>"}),
        "inte ett Excel-kalkylblad",
    ),
    "empty": ("SODRA_AVESTA_deltagare_2016T3.csv", lambda tmp: b"", "Filen är tom"),
}


def _zip_bytes(path: Path, members: dict[str, str]) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path.read_bytes()


def test_hostile_uploads_get_a_swedish_message_and_leave_nothing_behind(portal, tmp_path):
    settings, client = portal
    sign_in(client, OWNER)
    work = tmp_path / "hostile"
    work.mkdir()
    before = {p for p in Path(settings.home).rglob("*")}
    for case, (name, make, message) in HOSTILE.items():
        content = make(work)
        response = _upload(client, name, content)
        assert response.status_code in (200, 400, 413), (case, response.status_code)
        assert message in response.text, (case, re.sub(r"\s+", " ", response.text)[-1500:])
        assert "filen tas emot" not in response.text, case
        assert "filen har inte tagits emot" in response.text or "Filen togs inte emot" in response.text, case
        assert landing_files(settings) == [], case
        assert not holds_pnr(response.text), case
    # Nothing of the files is kept: only the audit lines (and the accounts) are new in the home.
    new = {p for p in Path(settings.home).rglob("*")} - before
    assert {p.name for p in new if p.is_file()} <= {"audit.jsonl"}, new
    audit = [json.loads(line) for line in (settings.home / "portal" / "audit.jsonl").read_text().splitlines()]
    uploads = [a for a in audit if a["event"] in ("upload", "upload_refused")]
    assert len(uploads) == len(HOSTILE)
    assert all(a["user"] == OWNER for a in uploads)
    assert not holds_pnr(portal_storage_text(settings))


def test_forms_need_the_csrf_token_and_sign_in_is_rate_limited(portal):
    settings, client = portal
    response = client.post("/logga-in", data={"email": OWNER, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 400 and "Formuläret hade gått ut" in response.text
    # Signed in, an upload or a sign-out without the token is refused before anything is read.
    assert sign_in(client, OTHER).status_code == 303
    response = client.post(
        "/insats/NORR/JOBBNORR/ladda-upp",
        files={"file": ("NORR_JOBBNORR_budget_2016T3.csv", b"a;b\n", "text/csv")},
    )
    assert response.status_code == 400 and "Formuläret hade gått ut" in response.text
    assert client.post("/logga-ut", data={"csrf": "gissat"}, follow_redirects=False).status_code == 400
    assert landing_files(settings) == []
    client.cookies.clear()
    assert sign_in(client, "740406-0548", "fel lösenord").status_code == 401  # typed in the wrong field
    for _ in range(4):  # five failures from this client in all
        assert sign_in(client, OWNER, "fel lösenord").status_code == 401
    blocked = sign_in(client, OWNER)  # the right password, too late
    assert blocked.status_code == 429 and "För många misslyckade inloggningar" in blocked.text
    assert client.get("/", follow_redirects=False).status_code == 303  # still signed out
    audit = (settings.home / "portal" / "audit.jsonl").read_text()
    assert audit.count('"sign_in_failed"') == 5 and '"sign_in_blocked"' in audit and PASSWORD not in audit
    assert not holds_pnr(audit)


def test_session_cookie_and_security_headers(portal, monkeypatch):
    settings, client = portal
    response = sign_in(client, OWNER)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # https_only off
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none': no scripts
    assert response.headers["x-frame-options"] == "DENY"
    from ingestion.core.config import load_settings
    from ingestion.portal.app import create_app

    monkeypatch.delenv("FINSAM_PORTAL_HTTPS_ONLY")
    secure_settings = load_settings()
    assert secure_settings.portal_https_only  # the default: the cookie goes only over HTTPS
    with TestClient(create_app(secure_settings, warm=False), base_url="https://testserver") as secure:
        assert "; secure" in sign_in(secure, OWNER).headers["set-cookie"].lower()


def test_accounts_are_hashed_with_scrypt_and_added_from_the_command_line(tmp_path, monkeypatch, capsys):
    from ingestion.cli import main
    from ingestion.portal.accounts import Accounts

    monkeypatch.setenv("FINSAM_HOME", str(tmp_path / "var"))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("ett långt lösenord 123\n"))
    assert main(["portal", "--add-user", "Anna@Avesta.example", "--role", "owner"]) == 0
    stored = (tmp_path / "var" / "portal" / "accounts.json").read_text()
    assert "ett långt lösenord" not in stored and '"password": "scrypt$16384$8$1$' in stored
    accounts = Accounts(tmp_path / "var" / "portal" / "accounts.json")
    assert accounts.authenticate("anna@avesta.example", "ett långt lösenord 123").role == "owner"
    assert accounts.authenticate("anna@avesta.example", "ett långt lösenord 124") is None
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("kort\n"))
    assert main(["portal", "--add-user", "b@x.example", "--role", "county"]) == 1
    assert "minst 12 tecken" in capsys.readouterr().err


def test_alert_mail_links_to_the_intervention_page_instead_of_a_command():
    from ingestion.core.findings import BLOCKING, Finding
    from ingestion.outbound.alerts import compose

    manifest = {
        "file_name": "SODRA_AVESTA_deltagare_2016T3.csv",
        "association": "SODRA",
        "intervention": "AVESTA",
        "kind": "deltagare",
        "period": "2016T3",
        "received_at": "2017-01-10T10:00:00+00:00",
    }
    finding = Finding(BLOCKING, "kon_finns", "kön saknas", column="kon", rows=[3, 4])
    _, body = compose(manifest, "quarantined", [finding], "https://finsam.region.example.se/")
    assert "https://finsam.region.example.se/insats/SODRA/AVESTA" in body
    assert "finsam validate" not in body
    _, body = compose(manifest, "quarantined", [finding])  # no portal: the landing folder
    assert "finsam validate" not in body  # the data team's command; owners do not have it
    assert "Lägg filen i förbundets mapp med samma namn, SODRA_AVESTA_deltagare_2016T3.csv" in body


def test_reminders_and_quarantine_notes_point_owners_to_the_portal_never_to_a_command():
    """Owners have no `finsam` command: a reminder and a quarantine note name the intervention's
    page when the county runs the portal, and the landing folder when it does not."""
    from datetime import date

    from ingestion.core.findings import BLOCKING, Finding
    from ingestion.outbound.reminders import Due, reminder_sv
    from ingestion.quality.quarantine import explanation_sv

    due = Due(
        "SODRA", "AVESTA", "deltagare", "2016T2", date(2016, 5, 1), date(2016, 8, 31), date(2016, 9, 30), 12, None
    )
    portal = "https://finsam.region.example.se"
    _, with_portal = reminder_sv("SODRA", [due], 30, portal)
    _, without = reminder_sv("SODRA", [due], 30)
    assert "    Ladda upp på: https://finsam.region.example.se/insats/SODRA/AVESTA" in with_portal
    assert "insats/" not in without and "Lägg filen i förbundets mapp" in without
    manifest = {
        "file_name": "SODRA_AVESTA_deltagare_2016T2.csv",
        "association": "SODRA",
        "intervention": "AVESTA",
        "sha256": "0" * 64,
    }
    finding = Finding(BLOCKING, "kon_finns", "kön saknas", column="kon", rows=[3])
    note = explanation_sv(manifest, [finding], portal)
    assert "ladda upp den på insatsens sida, https://finsam.region.example.se/insats/SODRA/AVESTA" in note
    for text in (with_portal, without, note, explanation_sv(manifest, [finding])):
        assert "finsam validate" not in text


def test_an_accepted_upload_lands_under_its_canonical_name(portal):
    """The real checks (GX, cold here) on the sample's own file: accepted, in landing, audited."""
    settings, client = portal
    sign_in(client, OWNER)
    content = AVESTA_CSV.read_bytes()
    response = _upload(client, "sodra_avesta_deltagare_2016T3.CSV", content)
    assert response.status_code == 200 and "filen tas emot" in response.text, response.text[-2000:]
    placed = settings.landing / "SODRA" / "SODRA_AVESTA_deltagare_2016T3.csv"
    assert landing_files(settings) == [placed]
    assert placed.read_bytes() == content
    audit = [json.loads(line) for line in (settings.home / "portal" / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["sha256"] == hashlib.sha256(content).hexdigest()
    assert audit[-1]["verdict"] in ("accepted", "accepted_with_warnings") and audit[-1]["placed_in_landing"]
    assert not holds_pnr(response.text) and not holds_pnr(portal_storage_text(settings))


def test_published_reports_are_offered_to_those_who_may_see_them(portal):
    """A real intervention report (ingestion/reports) is listed on its page and downloads; another
    owner gets 403, and a name that is not among the offered files is never opened."""
    from ingestion.reports.batch import make_report

    settings, client = portal
    (made,) = make_report(
        settings, "intervention", formats=("html",), association="SODRA", intervention="AVESTA", period="2016H1"
    )
    sign_in(client, OWNER)
    page = client.get("/insats/SODRA/AVESTA").text
    link = f"/insats/SODRA/AVESTA/rapporter/{made.name}"
    assert f'href="{link}"' in page
    download = client.get(link)
    assert download.status_code == 200 and download.content == made.read_bytes()
    for hostile in ("..%2F..%2F..%2Fportal%2Faccounts.json", "2016H1.pdf", "%2E%2E"):
        response = client.get(f"/insats/SODRA/AVESTA/rapporter/{hostile}")
        assert response.status_code == 404 and "scrypt" not in response.text, hostile
    client.cookies.clear()
    sign_in(client, OTHER)
    assert client.get(link).status_code == 403
