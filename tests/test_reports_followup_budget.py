"""The intervention report's follow-up after exit, its appendix of definitions and KRUS's budget
(issue 14), from a small synthetic county in Kalmar run through the whole pipeline once
(`run_county_pipeline`, as the sample's reports are made):

KALMAR/KRUS (seed 003: young adults with mental ill-health, from 2016-09-01) delivers its
participants for 2017, a follow-up file (2018) and its planned 2017 budget exactly as the seed has
it (tests/fixtures/krus_budget_2017.csv: funding as a negative revenue line, cost lines summing to
2 293 000). KALMAR/STEGET delivers participants only: no follow-up.

KRUS's exits and follow-ups (work includes subsidised work; public support as kpi.sql has it):

    exits 2017H1 (8)  6 months: all 8 followed up, 4 work, 2 studies, 2 on public support
                      12 months: 6 followed up, 3 work, 2 studies, 1 on public support
    exits 2017H2 (6)  6 months: 5 followed up, 2 work, 1 studies, 2 on public support
    year 2017 (14)    6 months: 13 followed up, 9 in work or studies = 69 %
                      12 months: 6 followed up, 5 in work or studies = 83 %
    counted apart     6 months: P15 (still active) and P99 (no episode)

Every personnummer is generated (tests/fixtures/synthetic.py).
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from fixtures.synthetic import csv_bytes, make_pnr
from test_reports import _norm, _pdf_pages  # how the report tests read a PDF as a person does

pytestmark = [pytest.mark.dbt]  # the county runs the whole pipeline (dbt build) once per module

FIXTURES = Path(__file__).resolve().parent / "fixtures"
AS_OF = "2019-01-20"
BANNER = "Internt underlag – innehåller små tal"
RNG = random.Random(20160901)

REGISTRY = """\
county: {code: "08", name: Kalmar län}
data_team_email: finsam-data@region-kalmar.example
associations:
  - code: KALMAR
    name: Samordningsförbundet i Kalmar län
    county: "08"
    municipalities: ["0880", "0881", "0882"]
    data_team_email: finsam-data@region-kalmar.example
    source: {type: folder}
"""
REGISTER_HEADER = [
    "Insatskod",
    "Insatsnamn",
    "Inriktning",
    "Målgrupp",
    "Mätmetod",
    "Start",
    "Slut",
    "Antal platser",
    "Planerat antal deltagare",
    "Huvudmän",
    "Ägare e-post",
    "ESF-finansierad",
]
REGISTER = [
    ["KRUS", "KRUS unga vuxna", "INDIVID", "PSYKISK_OHALSA", "PERSON", "20160901", "", "15", "30",
     "FK+AF+REGION+KOMMUN:0880", "krus@kalmar.example", "Nej"],
    ["STEGET", "Steget Nybro", "INDIVID", "ALLA_16_64", "PERSON", "20160101", "", "10", "20",
     "FK+AF+REGION+KOMMUN:0881", "steget@nybro.example", "Nej"],
]  # fmt: skip
DELTAGARE_HEADER = [
    "Personnummer",
    "Kön",
    "Födelseår",
    "Kommun",
    "Startdatum",
    "Slutdatum",
    "Försörjning före",
    "Försörjning efter",
    "Avslutsanledning",
]
KRUS_EPISODES = [  # who, sex, start, end, exit reason
    ("P01", "K", "2016-09-01", "2017-02-28", "Arbete"),
    ("P02", "M", "2016-09-05", "2017-03-31", "Arbete"),
    ("P03", "K", "2016-09-12", "2017-04-15", "Studier"),
    ("P04", "M", "2016-10-03", "2017-05-31", "Arbete"),
    ("P05", "K", "2016-10-10", "2017-06-15", "Arbetssökande"),
    ("P06", "M", "2016-10-17", "2017-06-30", "Studier"),
    ("P07", "K", "2016-11-01", "2017-01-31", "Ohälsa"),
    ("P08", "M", "2016-11-14", "2017-06-01", "Lönebidrag"),
    ("P09", "K", "2016-12-01", "2017-08-31", "Arbete"),
    ("P10", "M", "2016-12-05", "2017-09-30", "Studier"),
    ("P11", "K", "2017-01-09", "2017-10-31", "Arbetssökande"),
    ("P12", "M", "2017-01-16", "2017-11-30", "Arbete"),
    ("P13", "K", "2017-02-01", "2017-12-15", "Lönebidrag"),
    ("P14", "M", "2017-02-13", "2017-12-31", "Ohälsa"),
    ("P15", "K", "2017-03-01", "", ""),
    ("P16", "M", "2017-03-20", "", ""),
    ("P17", "K", "2017-04-03", "", ""),
    ("P18", "M", "2017-05-02", "", ""),
    ("P19", "K", "2017-08-14", "", ""),
    ("P20", "M", "2017-09-04", "", ""),
]
STEGET_EPISODES = [
    ("S1", "K", "2017-01-10", "2017-05-31", "Arbete"),
    ("S2", "M", "2017-01-10", "2017-08-31", "Studier"),
    ("S3", "K", "2017-02-01", "", ""),
    ("S4", "M", "2017-03-01", "2017-11-30", "Arbetssökande"),
    ("S5", "K", "2017-04-01", "", ""),
    ("S6", "M", "2017-05-02", "", ""),
]
FOLLOW_UP_HEADER = ["Personnummer", "Startdatum", "Uppföljning efter", "Sysselsättning", "Försörjning"]
FOLLOW_UPS = [  # who, offset, employment, support
    # 6 months, exits 2017H1
    ("P01", "6 mån", "Arbete", "Lön"),
    ("P02", "6 mån", "Arbete", "Lön"),
    ("P03", "6 mån", "Studier", "CSN"),
    ("P04", "6 mån", "Arbete", "Lön"),
    ("P05", "6 mån", "Arbetssökande", "Aktivitetsstöd"),
    ("P06", "6 mån", "Studier", "CSN"),
    ("P07", "6 mån", "Sjukskriven", "Sjukpenning"),
    ("P08", "6 mån", "Lönebidrag", "Lönebidrag"),
    # 6 months, exits 2017H2 (P14 not followed up)
    ("P09", "6 mån", "Arbete", "Lön"),
    ("P10", "6 mån", "Studier", "CSN"),
    ("P11", "6 mån", "Arbetssökande", "Aktivitetsstöd"),
    ("P12", "6 mån", "Arbete", "Lön"),
    ("P13", "6 mån", "Arbetssökande", "Försörjningsstöd"),
    # 12 months, exits 2017H1
    ("P01", "12 mån", "Arbete", "Lön"),
    ("P02", "12 mån", "Arbete", "Lön"),
    ("P03", "12 mån", "Studier", "CSN"),
    ("P04", "12 mån", "Arbetssökande", "Aktivitetsstöd"),
    ("P05", "12 mån", "Arbete", "Lön"),
    ("P06", "12 mån", "Studier", "CSN"),
    # counted apart, not in any cohort: P15 is still active; P99 has no episode
    ("P15", "6 mån", "Arbetssökande", "Aktivitetsstöd"),
    ("P99", "6 mån", "Arbete", "Lön"),
]
# (cohort, exits, followed up, work, studies, work or studies, share, public support) per offset
EXPECTED = {
    6: [
        ("2017", 14, 13, 6, 3, 9, "69 %", 4),
        ("2017H1", 8, 8, 4, 2, 6, "75 %", 2),
        ("2017H2", 6, 5, 2, 1, 3, "60 %", 2),
    ],
    12: [
        ("2017", 14, 6, 3, 2, 5, "83 %", 1),
        ("2017H1", 8, 6, 3, 2, 5, "83 %", 1),
        ("2017H2", 6, 0, 0, 0, 0, "–", 0),
    ],
}
KRUS_LINES = [  # seed 003: the owner's line, the contract's kostnadsslag, budget
    ("Personalkostnader", "830 000"),
    ("Personalomkostnader", "325 000"),
    ("Arbetsledning", "67 000"),
    ("Extern tjänst", "546 000"),
    ("Föreläsare, friskvård, aktiviteter", "75 000"),
    ("IT/Tele", "25 000"),
    ("Resor", "75 000"),
    ("Arbetsmiljöåtgärder, kost, div inköp", "25 000"),
    ("Lokaler", "255 000"),
    ("Utbildning, handledning", "25 000"),
    ("Övrigt", "45 000"),
]

PEOPLE = [e[0] for e in KRUS_EPISODES + STEGET_EPISODES] + ["P99"]
PNR = {who: make_pnr(RNG, 1990 + n % 9) for n, who in enumerate(PEOPLE)}


def _pnr(who: str) -> str:
    return f"{PNR[who][:8]}-{PNR[who][8:]}"


def _deltagare(episodes, kommun: str) -> bytes:
    rows = [
        [_pnr(who), sex, PNR[who][:4], kommun, start, end, "FBS", "LON" if end else "", reason]
        for who, sex, start, end, reason in episodes
    ]
    return csv_bytes(DELTAGARE_HEADER, rows)


def _follow_ups() -> bytes:
    starts = {who: start for who, _, start, _, _ in KRUS_EPISODES} | {"P99": "2017-03-06"}
    return csv_bytes(FOLLOW_UP_HEADER, [[_pnr(who), starts[who], *rest] for who, *rest in FOLLOW_UPS])


def write_county(data: Path) -> Path:
    """The Kalmar county's registry and landing folder (as data/sample is laid out)."""
    landing = data / "landing" / "KALMAR"
    landing.mkdir(parents=True)
    (data / "registry.yml").write_text(REGISTRY, encoding="utf-8")
    (landing / "KALMAR_ALL_insatser_2017.csv").write_bytes(csv_bytes(REGISTER_HEADER, REGISTER))
    (landing / "KALMAR_KRUS_deltagare_2017.csv").write_bytes(_deltagare(KRUS_EPISODES, "0880"))
    (landing / "KALMAR_STEGET_deltagare_2017.csv").write_bytes(_deltagare(STEGET_EPISODES, "0881"))
    (landing / "KALMAR_KRUS_uppfoljning_2018.csv").write_bytes(_follow_ups())
    shutil.copyfile(FIXTURES / "krus_budget_2017.csv", landing / "KALMAR_KRUS_budget_2017.csv")
    return data


@pytest.fixture(scope="module")
def kalmar(tmp_path_factory):
    """The county run through the whole pipeline; returns (home, data)."""
    from conftest import run_county_pipeline

    root = tmp_path_factory.mktemp("kalmar")
    data = write_county(root / "data")
    run_county_pipeline(root / "home", data, AS_OF)
    return root / "home", data


def _docx_text(path: Path) -> tuple[list[str], list[list[list[str]]]]:
    from docx import Document

    document = Document(str(path))
    paragraphs = [_norm(p.text) for p in document.paragraphs]
    tables = [[[_norm(c.text) for c in row.cells] for row in t.rows] for t in document.tables]
    return paragraphs, tables


def _report(kalmar, out: Path, intervention: str, period: str, internal: bool = True) -> dict[str, Path]:
    """`finsam rapport --insats KALMAR/<intervention> --period <period> [--internt]`, all three formats."""
    from conftest import county_env

    from ingestion.cli import main

    home, data = kalmar
    mp = pytest.MonkeyPatch()
    for key, value in county_env(home, data).items():
        mp.setenv(key, value)
    try:
        args = ["rapport", "--insats", f"KALMAR/{intervention}", "--period", period, "--ut", str(out)]
        assert main(args + (["--internt"] if internal else [])) == 0
    finally:
        mp.undo()
    stem = out / "KALMAR" / intervention / period
    return {fmt: stem.with_name(f"{period}.{fmt}") for fmt in ("pdf", "docx", "html")}


@pytest.fixture(scope="module")
def krus(kalmar, tmp_path_factory):
    return _report(kalmar, tmp_path_factory.mktemp("krus"), "KRUS", "2017")


def _mart(kalmar, sql: str) -> list[tuple]:
    import duckdb

    home, _ = kalmar
    con = duckdb.connect(str(home / "var" / "publish" / "finsam_marts.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _row_text(row: tuple) -> str:
    return " ".join(str(v) for v in row)


# --- 1. follow-up after exit ---------------------------------------------------------------------


def test_the_mart_holds_the_fixtures_follow_up(kalmar):
    """The figures the report must show are the mart's: the fixture's arithmetic, checked at the source."""
    rows = _mart(
        kalmar,
        "select follow_up_months, cohort_label, exits, followed_up, in_work, in_studies, in_work_or_studies, "
        "on_public_support from marts.rpt_follow_up_after_exit where intervention_code = 'KRUS' "
        "and cohort_type in ('year', 'half_year') and exit_year = 2017 "
        "order by follow_up_months, cohort_type = 'year' desc, cohort_start",
    )
    expected = [
        (months, label, exits, fu, work, studies, ws, public)
        for months, cohorts in EXPECTED.items()
        for label, exits, fu, work, studies, ws, _, public in cohorts
    ]
    assert rows == expected


def test_the_report_has_the_follow_up_section_with_the_marts_numbers(krus):
    pdf = _norm(" ".join(_pdf_pages(krus["pdf"])))
    results = pdf.index("Resultat")
    section = pdf.index("Uppföljning efter avslut", results)
    assert section < pdf.index("Ekonomi", results), "the section belongs under Resultat"
    for months, cohorts in EXPECTED.items():
        assert f"Uppföljning {months} månader efter avslut, per avslutskohort" in pdf
        for label, exits, fu, work, studies, ws, share, public in cohorts:
            assert f"{label} {exits} {fu} {work} {studies} {ws} {share} {public}" in pdf, (months, label)
    assert (
        "6 månader efter avslut, avslutade 2017: 9 av 13 uppföljda = 69 % i arbete eller studier "
        "(13 av 14 avslutade följdes upp)." in pdf
    )
    assert "12 månader efter avslut, avslutade 2017: 5 av 6 uppföljda = 83 % i arbete eller studier" in pdf
    # the year holds the half-years: one sentence per offset, for the year
    assert "avslutade 2017H1:" not in pdf
    assert (
        "Räknas inte ovan (6 månader): 1 uppföljning som inte hör till någon levererad episod "
        "och 1 som gjordes innan episoden avslutades." in pdf
    )

    paragraphs, tables = _docx_text(krus["docx"])
    assert any("9 av 13 uppföljda = 69 % i arbete eller studier" in p for p in paragraphs)
    six = [t for t in tables if t[0][:3] == ["Avslutade", "Avslut", "Uppföljda"]][0]
    assert six[1:] == [
        [label, *map(str, (e, f, w, s, ws)), share, str(p)] for label, e, f, w, s, ws, share, p in EXPECTED[6]
    ]


def test_a_half_year_report_shows_its_own_cohort(kalmar, tmp_path):
    from ingestion.reports.document import intervention_blocks, texts
    from ingestion.reports.figures import Snapshot, intervention_figures

    home, _ = kalmar
    snap = Snapshot(home / "var" / "publish" / "finsam_marts.duckdb", internal=True)
    try:
        figures = intervention_figures(snap, "KALMAR", "KRUS", "2017H2")
    finally:
        snap.close()
    offsets = figures["follow_up"]["offsets"]
    assert [(o["months"], [c["label"] for c in o["cohorts"]]) for o in offsets] == [(6, ["2017H2"]), (12, ["2017H2"])]
    words = [_norm(w) for w in texts(intervention_blocks(figures))]
    assert (
        "6 månader efter avslut, avslutade 2017H2: 3 av 5 uppföljda = 60 % i arbete eller studier (5 av 6 avslutade följdes upp)."
        in words
    )
    assert "12 månader efter avslut, avslutade 2017H2: ingen av de 6 avslutade har följts upp." in words


def test_a_publication_report_shows_the_follow_up_from_the_public_table(kalmar, tmp_path):
    """Publication mode reads pub_rpt_follow_up_after_exit: each count is the public table's display
    ("<5", or "–" where the disclosure control hid it), never a count below 5."""
    from ingestion.reports.figures import Snapshot, intervention_figures

    home, _ = kalmar
    snap = Snapshot(home / "var" / "publish" / "finsam_marts.duckdb", internal=False)
    try:
        figures = intervention_figures(snap, "KALMAR", "KRUS", "2017")
    finally:
        snap.close()
    published = {
        (months, label): dict(zip(("exits", "followed_up", "in_work", "in_studies", "in_work_or_studies"), rest))
        for months, label, *rest in _mart(
            kalmar,
            "select follow_up_months, cohort_label, exits_display, followed_up_display, in_work_display, "
            "in_studies_display, in_work_or_studies_display from public.pub_rpt_follow_up_after_exit "
            "where intervention_code = 'KRUS' and exit_year = 2017",
        )
    }
    shown = 0
    for offset in figures["follow_up"]["offsets"]:
        for c in offset["cohorts"]:
            for column, display in published[(offset["months"], c["label"])].items():
                cell = c[column]
                assert cell["t"] == (display or "–"), (offset["months"], c["label"], column, cell)
                assert cell["v"] is None or cell["v"] >= 5
                shown += cell["v"] is not None
    assert shown >= 1 and figures["follow_up"]["offsets"][0]["cohorts"][0]["in_studies"]["t"] == "<5"

    paths = _report(kalmar, tmp_path, "KRUS", "2017", internal=False)
    pdf = _norm(" ".join(_pdf_pages(paths["pdf"])))
    assert BANNER not in pdf
    start = pdf.index("Uppföljning efter avslut")
    section = pdf[start : pdf.index("Ekonomi", start)]
    rows = re.findall(r"\b(2017(?:H[12])?)((?: (?:<5|–|\d+ %|\d+)){7})", section)
    assert len(rows) == 6, section
    for _, values in rows:
        for value in re.findall(r"<5|–|\d+ %|\d+", values):
            assert value in ("<5", "–") or value.endswith("%") or int(value) >= 5, (value, rows)
    assert "Avslutade 2017 14 13" not in section  # the internal figures are not there


def test_an_intervention_without_follow_up_says_so_in_one_line(kalmar, tmp_path):
    paths = _report(kalmar, tmp_path, "STEGET", "2017")
    pdf = _norm(" ".join(_pdf_pages(paths["pdf"])))
    start = pdf.index("Uppföljning efter avslut")
    assert pdf[start:].startswith(
        "Uppföljning efter avslut Insatsen har inte levererat någon uppföljning efter avslut."
    )
    assert "månader efter avslut, per avslutskohort" not in pdf  # no empty table
    paragraphs, tables = _docx_text(paths["docx"])
    assert "Insatsen har inte levererat någon uppföljning efter avslut." in paragraphs
    assert not [t for t in tables if t[0][:3] == ["Avslutade", "Avslut", "Uppföljda"]]


# --- 2. the appendix defines every figure the report shows ----------------------------------------


def _yml_definition(file: str, model: str, column: str) -> str:
    import yaml

    from ingestion.core.config import REPO_ROOT

    path = REPO_ROOT / "dbt_project" / "models" / "marts" / "reports" / file
    models = {m["name"]: m for m in yaml.safe_load(path.read_text(encoding="utf-8"))["models"]}
    text = next(c["description"] for c in models[model]["columns"] if c["name"] == column)
    return text.split(" / en:")[0].removeprefix("sv:").strip()


APPENDIX = [  # term, and a column whose documentation the definition must carry
    ("Medelålder vid start", "_reports_by_period.yml", "rpt_profile_by_period", "avg_age_at_start_total"),
    ("Medelålder per kön", "_reports_by_period.yml", "rpt_profile_by_period", "avg_age_at_start"),
    ("Yngsta ålder", "_reports_by_period.yml", "rpt_profile_by_period", "min_age_at_start_total"),
    ("Äldsta ålder", "_reports_by_period.yml", "rpt_profile_by_period", "max_age_at_start_total"),
    ("Ålder × kön", "_reports_by_period.yml", "rpt_profile_by_period", "participants_men"),
    ("Tid i insatsen, fördelning (månader)", "_reports_by_period.yml", "rpt_time_in_intervention_by_period", "exits_stay_over_24"),
    ("Längre än maxtid", "_reports_by_period.yml", "rpt_time_in_intervention_by_period", "exits_beyond_max_months"),
    ("Maxtid", "_reports_by_period.yml", "rpt_time_in_intervention_by_period", "target_max_months_in_intervention"),
    ("Uppföljda", "_follow_up.yml", "rpt_follow_up_after_exit", "followed_up"),
    ("Tid efter avslut", "_follow_up.yml", "rpt_follow_up_after_exit", "follow_up_months"),
    ("I arbete vid uppföljningen", "_follow_up.yml", "rpt_follow_up_after_exit", "in_work"),
    ("I studier vid uppföljningen", "_follow_up.yml", "rpt_follow_up_after_exit", "in_studies"),
    ("Andel i arbete eller studier vid uppföljningen", "_follow_up.yml", "rpt_follow_up_after_exit", "share_of_followed_up_in_work_or_studies"),
    ("Offentlig försörjning vid uppföljningen", "_follow_up.yml", "rpt_follow_up_after_exit", "on_public_support"),
    ("Mål", "_targets.yml", "rpt_target_attainment", "target_value"),
    ("Utfall mot mål", "_targets.yml", "rpt_target_attainment", "actual_value"),
    ("Uppfyllt", "_targets.yml", "rpt_target_attainment", "met"),
]  # fmt: skip


def test_the_appendix_defines_every_figure_from_the_marts_documentation(krus):
    """Each recently added figure has its definition in the appendix, and the definition is the marts'
    own documentation (the one home), not a text of the report code."""
    paragraphs, tables = _docx_text(krus["docx"])
    definitions = next(t for t in tables if t[0] == ["Begrepp", "Definition"])
    rows = {term: text for term, text in definitions[1:]}
    for term, file, model, column in APPENDIX:
        documented = _yml_definition(file, model, column).removesuffix("; bara internt")
        assert term in rows, term
        assert _norm(documented) in rows[term], (term, rows[term])
    # the figures of the first report are still there
    assert {"Deltagare under perioden", "Avslut", "Kostnad per deltagare"} <= set(rows)
    pdf = _norm(" ".join(_pdf_pages(krus["pdf"])))
    appendix = pdf[pdf.index("Bilaga: definitioner och underlag") :]
    squeezed = re.sub(r"[\s\-]", "", appendix)  # a long term wraps inside its cell
    for term, *_ in APPENDIX:
        assert re.sub(r"[\s\-]", "", term) in squeezed, term


# --- 3. KRUS's budget ------------------------------------------------------------------------------


def test_krus_budget_lines_and_sum_in_the_pdf_and_the_docx(krus):
    pdf = _norm(" ".join(_pdf_pages(krus["pdf"])))
    economy = pdf[pdf.index("Ekonomi") :]
    for text, amount in KRUS_LINES:
        assert re.search(rf"{re.escape(text)} \w[\w ]* {amount}\b", economy), (text, economy[:600])
    assert "Summa kostnader 2 293 000" in economy
    # a planned budget: no difference against actuals that were never delivered
    assert "Leveransen har inget utfall än" in economy and "Differens (budget − utfall)" not in economy

    _, tables = _docx_text(krus["docx"])
    budget = next(t for t in tables if t[0][0] == "Kr")
    assert [(r[0], r[2]) for r in budget[1:-1]] == KRUS_LINES
    assert budget[-1][0] == "Summa kostnader" and budget[-1][2] == "2 293 000"
    assert sum(int(r[2].replace(" ", "")) for r in budget[1:-1]) == 2_293_000
    kinds = {r[0]: r[1] for r in budget[1:-1]}
    assert kinds["Arbetsledning"] == kinds["Personalkostnader"] != kinds["Lokaler"]  # the contract's coarser kinds


def test_krus_pages_render_to_images(krus, tmp_path):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(krus["pdf"]))
    try:
        for i in range(len(pdf)):
            image = pdf[i].render(scale=1).to_pil()
            assert image.size[0] > 500 and image.convert("L").getextrema()[0] < 100, f"page {i + 1}"
    finally:
        pdf.close()
