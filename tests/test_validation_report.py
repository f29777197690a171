"""Issue 17: the data team sees what happened. A small county through the whole pipeline, twice.

Run 1 (`run_pipeline`, with Data Docs): SODRA delivers a register, two deltagare files for
AVESTA (a participant who left in 2016T2 is active again in 2016T3: a warning on the built
facts), the Avesta budget with its wrong difference (a warning), two count files for RAKNA
(21 → 90: a warning on the facts), a deltagare file for UNG with an unknown remittent in two
rows (quarantined, one grouped finding) and a file with a bad name; NORR a register, a good
deltagare file and a budget that is not a number (quarantined). Some deliveries are overdue on
the run's date, so reminders go out. Run 2: the data team maps the unknown remittent (`finsam
map`), and the next run replays and loads the UNG file; the facts are checked again.

Checked: the report `validering.html` (parsed: no script, no address on the network, every
link inside the file system, tables with captions, headings in order, text contrast), what it
shows (verdict, file name, period and kind per delivery; grouped findings in the mail's words
and the `finsam map` command; the facts warnings, reminders and bad names); the data team's
mail about the facts warnings at a real SMTP server (once, also after the second run, and
again only for a new finding); the run summary's new sections.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REPO
from fixtures import synthetic
from smtp_fixture import (
    INSATSER_HEADER,
    SmtpServer,
    clear_municipalities,
    ended_participant,
    free_port,
    insats_row,
    participant,
    setup_zones,
    start_smtp,
    use_municipalities,
    write_file,
)

from ingestion.core.config import load_settings
from ingestion.core.mappings import add_mapping
from ingestion.core.registry import load_registry
from ingestion.outbound.alerts import send_alerts
from ingestion.pipeline import run_pipeline, summary_lines
from ingestion.warehouse.schema import connect

pytestmark = [pytest.mark.dbt]

AS_OF = date(2016, 11, 15)  # 2016T2 (due 2016-09-30) is overdue where nothing came in; 2016T3 has begun
BUDGET_HEADER = ["ar", "period_slut", "radtyp", "kostnadsslag", "rad_text", "budget", "utfall", "differens", "prognos"]
VOLYM_HEADER = ["ar", "period_slut", "kon", "antal"]
BUDGET_LINE = (
    "rad 2, kolumn differens, värde '955000': differensen stämmer inte: budget 1 775 000 − utfall 819 000 = "
    "956 000, men filen anger 955 000. Giltigt: differens = budget − utfall."
)
GROUPED_LINE = (
    "rad 2, 3 (2 rader), kolumn remittent, värde 'Jobbcentrum Syd': remittent har ett värde som inte finns i kodlistan."
)
MAP_COMMAND = "finsam map --column remittent 'Jobbcentrum Syd' KOMMUN --association SODRA"
REOPENED_LINE = (
    "SODRA_AVESTA_deltagare_2016T3.csv (deltagare, period 2016T3), avslutad episod aktiv igen: rad 4, kolumn "
    "slutdatum: episoden avslutades 2016-08-01 enligt leveransen för 2016T2, men är aktiv (utan slutdatum) i en "
    "senare leverans."
)
JUMP_LINE = (
    "SODRA_RAKNA_volym_2016T2.csv (volym, period 2016T2), antalet ändras kraftigt från perioden före: kolumn antal: "
    "antalet (volym) ändras från 21 för 2016T1 till 90 för 2016T2, mer än 3 gånger."
)
FACTS_SUBJECT = "[Finsam] SODRA: 2 nya varningar från kontrollerna av de byggda fakta"


def county(landing: Path) -> None:
    start = "2016-05-01"
    write_file(
        landing,
        "SODRA",
        "SODRA_ALL_insatser_2016T2.csv",
        INSATSER_HEADER,
        [
            insats_row("AVESTA", start=start),
            insats_row("RAKNA", matmetod="VOLYM", start="2016-01-01"),
            insats_row("UNG", start=start),
        ],
    )
    first = [
        participant(1, startdatum="2016-05-02"),
        participant(2, startdatum="2016-06-01", kon="M", kommun="2083"),
        ended_participant(3, startdatum="2016-05-10", slutdatum="2016-08-01"),
    ]
    write_file(landing, "SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", synthetic.DELTAGARE_HEADER, first)
    # Participant 3 left on 2016-08-01 and is active again (same start, no end) in the next delivery.
    again = [*first[:2], participant(3, startdatum="2016-05-10")]
    write_file(landing, "SODRA", "SODRA_AVESTA_deltagare_2016T3.csv", synthetic.DELTAGARE_HEADER, again)
    write_file(
        landing,
        "SODRA",
        "SODRA_AVESTA_budget_2016T2.csv",
        BUDGET_HEADER,
        [
            ["2016", "2016-08-31", "KOSTNAD", "PERSONAL", "Personal", "1 775 000", "819 000", "955 000", "0"],
            ["2016", "2016-08-31", "KOSTNAD", "LOKALER", "Lokaler", "165 000", "88 000", "77 000", "-9 000"],
        ],
    )
    write_file(
        landing,
        "SODRA",
        "SODRA_RAKNA_volym_2016T1.csv",
        VOLYM_HEADER,
        [["2016", "2016-04-30", "K", "12"], ["2016", "2016-04-30", "M", "9"]],
    )
    write_file(
        landing,
        "SODRA",
        "SODRA_RAKNA_volym_2016T2.csv",
        VOLYM_HEADER,
        [["2016", "2016-08-31", "K", "50"], ["2016", "2016-08-31", "M", "40"]],
    )
    # Quarantined: a remittent the code list does not know, in two rows (one grouped finding).
    write_file(
        landing,
        "SODRA",
        "SODRA_UNG_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [
            participant(11, startdatum="2016-05-02", remittent="Jobbcentrum Syd"),
            participant(12, startdatum="2016-05-03", remittent="Jobbcentrum Syd"),
        ],
    )
    write_file(landing, "SODRA", "SODRA budget 2016.csv", BUDGET_HEADER, [["2016"]])
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
            participant(2, startdatum="2016-07-01", kommun="2062"),
        ],
    )
    write_file(
        landing,
        "NORR",
        "NORR_JOBB_budget_2016T2.csv",
        BUDGET_HEADER,
        [["2016", "2016-08-31", "KOSTNAD", "PERSONAL", "Personal", "mycket", "819 000", "", ""]],
    )


def facts_mails(inbox) -> list:
    return [(m, body) for m, body in zip(inbox.messages, inbox.bodies()) if m["X-Finsam-Facts"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run 1 and run 2 (module scope: they take a while); what each left is kept for the tests."""
    root = tmp_path_factory.mktemp("validation_report")
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_municipalities(root, monkeypatch)
        setup_zones(root, monkeypatch)
        mappings = root / "mappings.yml"
        shutil.copyfile(REPO / "config" / "mappings.yml", mappings)
        monkeypatch.setenv("FINSAM_MAPPINGS", str(mappings))
        server = start_smtp(monkeypatch)
        try:
            settings = load_settings()
            registry = load_registry(settings.registry)
            county(settings.landing)
            first = run_pipeline(settings, registry, as_of=AS_OF)
            report = settings.reports / "validering.html"
            seen = {
                "first": first,
                "html_1": report.read_text(encoding="utf-8"),
                "summary_1": summary_lines(settings, registry),
                "facts_mails_1": len(facts_mails(server.inbox)),
            }
            add_mapping(mappings, "remittent", "Jobbcentrum Syd", "KOMMUN", "SODRA", registry.codes)
            seen["second"] = run_pipeline(settings, registry, as_of=AS_OF, docs=False)
            seen["html_2"] = report.read_text(encoding="utf-8")
            seen["summary_2"] = summary_lines(settings, registry)
            yield settings, registry, server, seen
        finally:
            server.stop()
            clear_municipalities()


# ---------------------------------------------------------------- a small HTML tree (stdlib only)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str) -> list[Node]:
        return [n for n in self.iter() if n.tag == tag]

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"\s+", " ", " ".join(parts)).strip()


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.doctype = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        assert node is not self.root, f"</{tag}> closes nothing"
        self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    assert builder.doctype == "doctype html"
    return builder.root


def by_id(root: Node, ident: str) -> Node:
    found = [n for n in root.iter() if n.attrs.get("id") == ident]
    assert len(found) == 1, ident
    return found[0]


def delivery_sections(root: Node) -> dict[str, Node]:
    """The detail block of each listed delivery, by the file name in its heading."""
    sections = {}
    for node in root.find_all("section"):
        if "delivery" in node.attrs.get("class", "").split():
            heading = node.find_all("h4")[0]
            sections[heading.children[0].strip()] = node
    return sections


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# ---------------------------------------------------------------- the report


def test_the_report_needs_no_network_and_no_script(runs):
    settings, _, _, seen = runs
    for html in (seen["html_1"], seen["html_2"]):
        root = parse(html)
        tags = {n.tag for n in root.iter()}
        assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base", "noscript", "svg"}
        assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
        assert not re.search(r"url\(|@import|javascript:", html, re.I)
        assert not [n for n in root.iter() if any(name.startswith("on") for name in n.attrs)]  # no event handlers
        assert root.find_all("html")[0].attrs["lang"] == "sv"
        assert len(root.find_all("style")) == 1 and root.find_all("meta")[0].attrs == {"charset": "utf-8"}
        # Every link stays in the file (an id that exists) or in the zones beside it (a file that exists).
        ids = {n.attrs["id"] for n in root.iter() if "id" in n.attrs}
        links = [n.attrs["href"] for n in root.find_all("a")]
        assert links
        for href in links:
            assert ":" not in href
            if href.startswith("#"):
                assert href[1:] in ids, href
            else:
                assert (settings.reports / href).resolve().is_file(), href
        # Never a delivery's 64-character hash, as a label or anywhere else.
        assert not re.search(r"[0-9a-f]{64}", html)


def test_the_report_is_accessible(runs):
    _, _, _, seen = runs
    root = parse(seen["html_1"])
    # Headings in order, none skipped; one h1.
    levels = [int(n.tag[1]) for n in root.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
    # Every table has a caption and header cells with a scope.
    tables = root.find_all("table")
    assert len(tables) >= 6
    for table in tables:
        assert table.children and [c for c in table.children if isinstance(c, Node)][0].tag == "caption"
        assert table.find_all("caption")[0].text()
        assert all(
            th.attrs.get("scope") in ("col", "row") for th in table.find_all("th") if th.parent.parent.tag != "tfoot"
        )
    # Text colours against their backgrounds (white where a rule sets none): at least 7:1.
    css = root.find_all("style")[0].text()
    pairs = 0
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        colour = re.search(r"(?<![-\w])color:\s*(#[0-9a-f]{6})", body)
        background = re.search(r"background:\s*(#[0-9a-f]{6})", body)
        if colour:
            pairs += 1
            assert contrast(colour[1], background[1] if background else "#ffffff") >= 7, selector
    assert pairs >= 6


def test_the_report_shows_every_association_and_what_happened_to_each_delivery(runs):
    settings, _, _, seen = runs
    root = parse(seen["html_1"])
    overview = by_id(root, "oversikt").find_all("table")[0]
    rows = {
        r.find_all("th")[0].text().split()[0]: [td.text() for td in r.find_all("td")]
        for r in overview.find_all("tr")[1:]
    }
    # Leveranser, inlästa, med varningar, i karantän, omprövade, felaktiga namn, fakta, påminnelser, försenade, docs
    assert rows["SODRA"][:7] == ["7", "5", "1", "1", "0", "1", "2"]
    assert rows["NORR"][:7] == ["3", "2", "0", "1", "0", "0", "0"]
    assert rows["Hela"][:5] == ["10", "7", "1", "2", "0"]
    assert all(r[-1] == "GX Data Docs" for name, r in rows.items() if name != "Hela")
    assert "dbt docs" in root.find_all("footer")[0].text()

    sections = delivery_sections(root)
    # Only deliveries with findings, in quarantine or replayed are listed; the clean ones are counted.
    assert set(sections) == {
        "SODRA_AVESTA_budget_2016T2.csv",
        "SODRA_UNG_deltagare_2016T2.csv",
        "NORR_JOBB_budget_2016T2.csv",
    }
    budget = sections["SODRA_AVESTA_budget_2016T2.csv"]
    text = budget.text()
    assert "inläst med varningar" in budget.find_all("h4")[0].text()
    assert "Period 2016T2 (2016-05-01 – 2016-08-31)" in text and "Typ budget, utfall och finansiering" in text
    assert "Varningar – filen lästes in, men kontrollera (1)" in text
    assert [li.text() for li in budget.find_all("li")] == [BUDGET_LINE]

    quarantined = sections["SODRA_UNG_deltagare_2016T2.csv"]
    text = quarantined.text()
    assert "i karantän" in quarantined.find_all("h4")[0].text()
    assert "Period 2016T2 (2016-05-01 – 2016-08-31)" in text and "Typ deltagare (deltagarepisoder)" in text
    assert "Fel som måste rättas (1)" in text
    assert quarantined.find_all("li")[0].text().startswith(GROUPED_LINE)
    assert "För länets dataenhet: okända värden som kan mappas" in text
    assert [c.text() for c in quarantined.find_all("code")] == [MAP_COMMAND]

    section = by_id(root, "f-SODRA")
    sodra = section.text()
    assert "Teknisk detalj: Great Expectations Data Docs för SODRA" in sodra
    facts = next(t for t in section.find_all("table") if t.find_all("caption")[0].text().startswith("Anmärkningar"))
    assert facts.find_all("caption")[0].text() == "Anmärkningar på de byggda fakta för SODRA (2)"
    cells = [[td.text() for td in tr.find_all("td")] for tr in facts.find_all("tr")[1:]]
    assert [c[:4] for c in cells] == [
        ["SODRA_AVESTA_deltagare_2016T3.csv", "2016T3", "avslutad episod aktiv igen", "varning"],
        ["SODRA_RAKNA_volym_2016T2.csv", "2016T2", "antalet ändras kraftigt från perioden före", "varning"],
    ]
    assert cells[0][4].startswith(REOPENED_LINE.split("aktiv igen: ")[1])
    assert cells[1][4] == JUMP_LINE.split("perioden före: ")[1]
    assert all(c[5].startswith("meddelad ") for c in cells)  # the data team was mailed about them
    assert "Påminnelser om försenade leveranser för SODRA (4)" in sodra
    assert "SODRA budget 2016.csv" in sodra and "ska ha fyra delar" in sodra
    norr = by_id(root, "f-NORR").text()
    assert "rad 2, kolumn budget, värde 'mycket': budget är inget belopp." in norr
    assert "Kontroller av de byggda fakta" not in norr


def test_a_replayed_delivery_is_shown_as_replayed(runs):
    _, _, _, seen = runs
    root = parse(seen["html_2"])
    sections = delivery_sections(root)
    replayed = sections["SODRA_UNG_deltagare_2016T2.csv"]
    assert "omprövad och inläst" in replayed.find_all("h4")[0].text()
    assert "lästes in vid omprövning" in replayed.text()
    assert "i karantän" in sections["NORR_JOBB_budget_2016T2.csv"].find_all("h4")[0].text()
    overview = by_id(root, "oversikt").find_all("table")[0]
    sodra = [td.text() for td in overview.find_all("tr")[1].find_all("td")]
    assert sodra[:5] == ["7", "5", "1", "0", "1"]


# ---------------------------------------------------------------- the data team's mail


def test_the_facts_warnings_reach_the_data_team_once(runs):
    settings, registry, server, seen = runs
    assert seen["first"]["alerts"]["facts_warnings"] == {
        "messages": 1,
        "sent": 1,
        "failed": 0,
        "outbox": 0,
        "findings": 2,
    }
    assert seen["facts_mails_1"] == 1
    mails = facts_mails(server.inbox)
    assert len(mails) == 1  # the second run checked SODRA's facts again and found nothing new
    assert "facts_warnings" not in seen["second"]["alerts"]
    message, body = mails[0]
    assert message["Subject"] == FACTS_SUBJECT
    assert message["To"] == "data@lan.example" and message["Cc"] is None
    assert "VARNINGAR (2)" in body
    lines = body.splitlines()
    assert any(line.startswith(f"  - {REOPENED_LINE}") for line in lines)
    assert f"  - {JUMP_LINE}" in lines
    assert f"Valideringsrapporten (alla förbund och leveranser): {settings.reports / 'validering.html'}" in body
    con = connect(settings)
    try:
        stored = con.execute(
            "select association_code, recipient, status, attempts, sent_at is not null from meta.facts_alerts"
        ).fetchall()
    finally:
        con.close()
    assert stored == [("SODRA", "data@lan.example", "sent", 1, True)] * 2


def test_a_new_facts_finding_is_mailed_once_even_when_the_server_was_down(runs, monkeypatch):
    settings, registry, server, seen = runs
    con = connect(settings)
    try:
        delivery = con.execute(
            "select delivery_id from meta.load_ledger where file_name = 'NORR_JOBB_deltagare_2016T2.csv'"
        ).fetchone()[0]
        con.execute(
            "insert into meta.validation_results values (?, 'fct_participation.final', "
            "'fct_participation.final:expect_column_values_to_be_in_set:_no_parallel_same_kind', 'warning', false, "
            "'{\"antal\": 1}', [3], 'deltagaren är samtidigt aktiv i 1 annan insats med samma inriktning (INDIVID).')",
            [delivery],
        )
    finally:
        con.close()
    port = free_port()  # nothing listens here: the send fails, is recorded, and is tried again next run
    monkeypatch.setenv("FINSAM_SMTP_PORT", str(port))
    down = send_alerts(load_settings(), registry, attempts=1, backoff=0)
    assert down["facts_warnings"] == {"messages": 1, "sent": 0, "failed": 1, "outbox": 0, "findings": 1}
    up = SmtpServer(port).start()
    try:
        sent = send_alerts(load_settings(), registry, attempts=1, backoff=0)
        assert sent["facts_warnings"] == {"messages": 1, "sent": 1, "failed": 0, "outbox": 0, "findings": 1}
        assert "facts_warnings" not in send_alerts(load_settings(), registry, attempts=1, backoff=0)
        assert len(up.inbox.messages) == 1
        message, body = up.inbox.messages[0], up.inbox.bodies()[0]
    finally:
        up.stop()
    assert message["Subject"] == "[Finsam] NORR: 1 ny varning från kontrollerna av de byggda fakta"
    assert (
        "  - NORR_JOBB_deltagare_2016T2.csv (deltagare, period 2016T2), aktiv i två insatser med samma inriktning "
        "samtidigt: rad 3, kolumn startdatum: deltagaren är samtidigt aktiv i 1 annan insats med samma inriktning "
        "(INDIVID). Giltigt: en deltagare är aktiv i högst en insats av samma inriktning åt gången."
    ) in body.splitlines()
    assert len(facts_mails(server.inbox)) == 1  # SODRA's warnings were not sent again


# ---------------------------------------------------------------- the run summary


def test_the_run_summary_has_the_new_sections(runs):
    settings, _, _, seen = runs
    lines = seen["summary_1"]
    start = lines.index("Inlästa med varningar (1), med den första varningen:")
    assert lines[start + 1] == f"  - SODRA_AVESTA_budget_2016T2.csv: {BUDGET_LINE}"
    start = lines.index(
        "Kontrollerna av de byggda fakta: 2 varningar (dataenheten får ett mejl per förbund om det som är nytt):"
    )
    assert lines[start + 1].startswith(f"  - {REOPENED_LINE}")
    assert lines[start + 2] == f"  - {JUMP_LINE}"
    start = lines.index("Påminnelser i denna körning: 5 försenade leveranser (2 förbund, 5 skickade):")
    assert lines[start + 1 : start + 6] == [
        "  - NORR JOBB budget 2016T2 (skickad)",
        "  - SODRA RAKNA budget 2016T1 (skickad)",
        "  - SODRA RAKNA budget 2016T2 (skickad)",
        "  - SODRA UNG budget 2016T2 (skickad)",
        "  - SODRA UNG deltagare 2016T2 (skickad)",
    ]
    start = lines.index("Publicerade tabeller (public, antal under 5 dolda), rader:")
    public = [line.split() for line in lines[start + 1 :] if line.startswith("  public.")]
    assert public and all(name.startswith("public.pub_") and count.isdigit() for name, count in public)
    assert "public.pub_rpt_intervention_outcomes" in {name for name, _ in public}
    assert f"Valideringsrapport (per förbund och leverans, på svenska): {settings.reports / 'validering.html'}" in lines

    # The second run sent no reminder (all were sent in the first), and the summary says so.
    assert "Påminnelser i denna körning: inga" in seen["summary_2"]
    assert not any(line.startswith("Påminnelser i denna körning: 5") for line in seen["summary_2"])
