"""The reports people read (issue 14), made from the sample county's published snapshot
(`published_sample`, run once per session): the Avesta report's figures in the PDF (text extracted
with pypdfium2), the DOCX (python-docx) and the HTML; every PDF page rendered to an image; a
publication report shows no count below 5; the board pack and the county comparison; only
reports whose figures changed are written again."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest

pytestmark = [pytest.mark.dbt]  # published_sample runs the whole pipeline (dbt build) once per session

NINE_HEADERS = [
    "Antal inskrivna",
    "Antal avslut totalt",
    "Varav tidiga avhopp",
    "Antal i arbete",
    "Antal i studier",
    "Till annan arbetslivs\xadinriktad rehab",
    "Till sjuk- eller aktivitets\xadersättning",
    "Till annat",
    "Aktiva vid periodslut",
]
AVESTA_ROW = ["57", "18", "4", "5", "0", "2", "2", "5", "39"]  # reference-figures.md, seed 002
BANNER = "Internt underlag – innehåller små tal"


def _norm(text: str) -> str:
    """Extracted text as a person reads it: no-break spaces as spaces, soft hyphens and the PDF's
    hyphenation marks gone, runs of whitespace as one space."""
    text = text.replace("\xa0", " ").replace("\xad", "").replace("\ufffe", "").replace("\u2010", "")
    return re.sub(r"\s+", " ", text)


def _pdf_pages(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def _snapshot(home: Path) -> Path:
    return home / "var" / "publish" / "finsam_marts.duckdb"


@pytest.fixture(scope="module")
def avesta(published_sample, tmp_path_factory):
    """`finsam rapport --insats SODRA/AVESTA --from 2015-07-01 --to 2016-06-30 --internt`, all three formats."""
    from conftest import county_env

    from ingestion.cli import main

    out = tmp_path_factory.mktemp("avesta")
    mp = pytest.MonkeyPatch()
    for key, value in county_env(published_sample).items():
        mp.setenv(key, value)
    try:
        code = main(
            [
                "rapport",
                "--insats",
                "SODRA/AVESTA",
                "--from",
                "2015-07-01",
                "--to",
                "2016-06-30",
                "--internt",
                "--ut",
                str(out),
            ]
        )
    finally:
        mp.undo()
    assert code == 0
    stem = out / "SODRA" / "AVESTA" / "2015-16"
    return {fmt: stem.with_name(f"2015-16.{fmt}") for fmt in ("pdf", "docx", "html")}


def test_avesta_pdf_has_the_results_table_the_sentence_and_the_budget(avesta):
    pages = [_norm(p) for p in _pdf_pages(avesta["pdf"])]
    text = " ".join(pages)
    assert "7 av 14 = 50 %" in text
    squeezed = re.sub(r"[\s\-\ufffe]", "", text)  # headers wrap and hyphenate inside their cells
    for header in NINE_HEADERS:
        assert re.sub(r"[\s\-\xad]", "", header) in squeezed, header
    assert "Under perioden " + " ".join(AVESTA_ROW) in text
    # the budget line as reported, both differences: computed 956 000 before the owner's 955 000
    assert re.search(r"Personal 1 775 000 819 000 956 000 955 000 0\b", text), text[text.find("Personal 1") :][:200]
    assert re.search(r"Summa 2 100 000 988 000 1 112 000 1 111 000 \+11 000", text)
    assert "1 775 000 − 819 000 = 956 000" in text  # the arithmetic error stated with both numbers
    assert "Inga mål registrerade" in text  # no rpt_target_attainment in this snapshot
    assert len(pages) >= 4 and all(BANNER in p for p in pages)  # on every page


def test_every_pdf_page_renders_to_an_image(avesta, tmp_path):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(avesta["pdf"]))
    try:
        for i in range(len(pdf)):
            image = pdf[i].render(scale=1).to_pil()
            path = tmp_path / f"page-{i + 1}.png"
            image.save(path)
            assert image.size[0] > 500 and image.size[1] > 700
            assert image.convert("L").getextrema()[0] < 100, f"page {i + 1} is blank"
    finally:
        pdf.close()


def test_avesta_docx_has_the_same_figures_and_room_for_the_owner(avesta):
    from docx import Document

    document = Document(str(avesta["docx"]))
    paragraphs = [_norm(p.text) for p in document.paragraphs]
    assert any("7 av 14 = 50 %" in p for p in paragraphs)
    tables = [[[_norm(c.text) for c in row.cells] for row in t.rows] for t in document.tables]
    results = next(t for t in tables if t[0][1:] == [_norm(h) for h in NINE_HEADERS])
    assert results[1] == ["Under perioden", *AVESTA_ROW]
    budget = next(t for t in tables if t[0][0] == "Kr")
    assert ["Personal", "1 775 000", "819 000", "956 000", "955 000", "0"] in budget
    assert budget[-1] == ["Summa", "2 100 000", "988 000", "1 112 000", "1 111 000", "+11 000"]
    # Reflektion and Utvecklingsområden: headings followed by an empty paragraph for the owner
    headings = [(n, p) for n, p in enumerate(document.paragraphs) if p.style.name.startswith("Heading")]
    for name in ("Reflektion", "Utvecklingsområden"):
        n = next(n for n, p in headings if p.text == name)
        assert document.paragraphs[n + 1].text == ""
    assert BANNER in document.sections[0].header.paragraphs[0].text
    assert document.inline_shapes, "the charts are in the DOCX"


def test_avesta_html_is_self_contained_with_the_same_figures(avesta):
    html = avesta["html"].read_text(encoding="utf-8")
    text = _norm(re.sub(r"<[^>]+>", " ", html))
    assert "7 av 14 = 50 %" in text
    assert "Personal 1 775 000 819 000 956 000 955 000 0" in text
    assert html.count(BANNER) >= 2
    assert "<svg" in html and "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external resources"


def test_the_three_formats_show_the_same_numbers(avesta):
    """One figures structure, three renderings: the numbers of the results and budget tables agree."""
    from docx import Document

    pdf = _norm(" ".join(_pdf_pages(avesta["pdf"])))
    html = _norm(re.sub(r"<[^>]+>", " ", avesta["html"].read_text(encoding="utf-8")))
    document = Document(str(avesta["docx"]))
    for table in document.tables:
        for row in table.rows:
            cells = [_norm(c.text) for c in row.cells]
            if cells[0] in ("Under perioden", "Personal", "Lokaler", "Övriga kostnader"):
                line = " ".join(cells)
                assert line in pdf and line in html, line


@pytest.fixture(scope="module")
def public_avesta(published_sample):
    from ingestion.reports.figures import Snapshot, intervention_figures

    snap = Snapshot(_snapshot(published_sample), internal=False)
    try:
        return intervention_figures(snap, "SODRA", "AVESTA", "2016H1")
    finally:
        snap.close()


def _count_cells(node):
    if isinstance(node, dict):
        if node.get("k") == "n":
            yield node
        else:
            for value in node.values():
                yield from _count_cells(value)
    elif isinstance(node, list):
        for value in node:
            yield from _count_cells(value)


def test_a_publication_report_contains_no_count_below_5(public_avesta, tmp_path):
    from docx import Document

    from ingestion.reports.render import write

    counts = list(_count_cells(public_avesta))
    assert len(counts) > 50
    assert any(c["t"] == "<5" for c in counts), "2016H1 has small counts; they must show as <5"
    for c in counts:
        assert c["v"] is None or c["v"] >= 5, c
        assert c["t"] in ("<5", "–") or int(c["t"].replace("\xa0", "")) >= 5, c
    paths = write(public_avesta, tmp_path / "avesta-2016H1")
    # the results table in every format: each count is "<5" or at least 5
    pdf = _norm(" ".join(_pdf_pages(paths[0])))
    # "<5" a count below 5, "–" a count (of any size) hidden so that no small count can be derived
    row = re.search(r"Under perioden((?: (?:<5|–|\d+)){9})", pdf).group(1).split()
    assert all(v in ("<5", "–") or int(v) >= 5 for v in row), row
    docx_rows = [[_norm(c.text) for c in r.cells] for t in Document(str(paths[1])).tables for r in t.rows]
    results = next(r for r in docx_rows if r[0] == "Under perioden")
    assert all(v in ("<5", "–") or int(v) >= 5 for v in results[1:]), results
    assert "Internt underlag" not in pdf and "antal under 5 visas som <5" in pdf


def test_publication_mode_reads_counts_only_from_the_public_tables(published_sample, tmp_path):
    """Change a people count in marts only: the publication report does not move, the internal one
    does. Change it in the public table: the publication report shows the public table's figure."""
    import duckdb

    from ingestion.reports.figures import Snapshot, intervention_figures

    def participants(path, internal):
        snap = Snapshot(path, internal=internal)
        try:
            figures = intervention_figures(snap, "SODRA", "AVESTA", "2016H1")
            return figures["outcomes"]["in_period"]["participants"]
        finally:
            snap.close()

    copy = tmp_path / "snap.duckdb"
    shutil.copyfile(_snapshot(published_sample), copy)
    copy.chmod(stat.S_IRUSR | stat.S_IWUSR)
    before = participants(copy, internal=False)
    assert participants(copy, internal=True)["v"] == 54
    where = "where intervention_code = 'AVESTA' and period_label = '2016H1' and measure_window = 'in_period'"
    con = duckdb.connect(str(copy))
    con.execute(f"update marts.rpt_outcomes_by_period set participants = 999 {where}")
    con.close()
    assert participants(copy, internal=False) == before
    assert participants(copy, internal=True)["v"] == 999
    con = duckdb.connect(str(copy))
    con.execute(
        "update public.pub_rpt_outcomes_by_period set participants = 77, participants_suppressed = false, "
        f"participants_display = '77' {where}"
    )
    con.close()
    assert participants(copy, internal=False)["v"] == 77


def test_targets_are_shown_when_the_marts_have_them(published_sample, tmp_path):
    import duckdb

    from ingestion.reports.document import intervention_blocks, texts
    from ingestion.reports.figures import Snapshot, intervention_figures

    copy = tmp_path / "snap.duckdb"
    shutil.copyfile(_snapshot(published_sample), copy)
    copy.chmod(stat.S_IRUSR | stat.S_IWUSR)
    con = duckdb.connect(str(copy))
    con.execute(
        "create or replace table marts.rpt_target_attainment as select 'SODRA' as association_code, 'AVESTA' as intervention_code, "
        "'operating_year' as period_type, '2015/16' as period_label, date '2015-07-01' as period_start, "
        "date '2016-06-30' as period_end, 'SHARE_WSR' as target_code, "
        "'Minst 30 % till arbete, studier eller rehab' as target_label, 0.30 as target_value, 0.50 as actual_value, "
        "true as met, null as note"
    )
    con.close()
    snap = Snapshot(copy, internal=True)
    try:
        figures = intervention_figures(snap, "SODRA", "AVESTA", "2015/16")
    finally:
        snap.close()
    assert figures["targets"]["rows"] == [
        {
            "label": "Minst 30 % till arbete, studier eller rehab",
            "target": "30\xa0%",
            "actual": "50\xa0%",
            "met": "ja",
            "note": "",
        }
    ]
    words = texts(intervention_blocks(figures))
    assert "Minst 30 % till arbete, studier eller rehab" in words and "Inga mål registrerade." not in words


def test_board_pack_and_county_comparison(published_sample, tmp_path):
    from ingestion.reports.document import board_blocks, county_blocks, texts
    from ingestion.reports.figures import Snapshot, board_figures, county_figures
    from ingestion.reports.render import render_html, render_pdf

    snap = Snapshot(_snapshot(published_sample), internal=True)
    try:
        board = board_figures(snap, "SODRA", "2016")
        county = county_figures(snap, "2016")
    finally:
        snap.close()
    assert [i["name"] for i in board["interventions"]] == [
        "Samverkansteam Avesta",
        "Kraften Hedemora",
        "Samverkansteam Säter",
    ]
    assert [g["expected"]["t"] for g in board["funding"]["groups"]] == ["50\xa0%", "25\xa0%", "25\xa0%"]
    assert board["admin"]["share"]["v"] > 0
    assert board["volume"]["rows"] == []  # SODRA has no count-only intervention (NORR's METODUTB is one)
    pdf = tmp_path / "board.pdf"
    pdf.write_bytes(render_pdf(board, board_blocks(board)))
    text = _norm(" ".join(_pdf_pages(pdf)))
    assert "Fördelningen följer 50/25/25-regeln." in text and "Samverkansteam Säter" in text
    assert county["national_share_ws"]["t"] == "31\xa0%"
    shares = sorted(i["share_ws"]["v"] for i in county["interventions"] if i["share_ws"]["v"] is not None)
    middle = len(shares) // 2
    expected = shares[middle] if len(shares) % 2 else (shares[middle - 1] + shares[middle]) / 2
    assert county["median_share_ws"]["v"] == pytest.approx(expected)
    assert county["associations"][-1]["name"] == "Hela länet"
    html = render_html(county, county_blocks(county))
    assert "Nationell referens" in html and "Länets median" in html
    assert "Insatser som bara redovisar antal" not in " ".join(texts(county_blocks(county)))


def test_norr_board_pack_counts_the_count_only_intervention(published_sample):
    from ingestion.reports.figures import Snapshot, board_figures

    internal = Snapshot(_snapshot(published_sample), internal=True)
    public = Snapshot(_snapshot(published_sample), internal=False)
    try:
        rows = board_figures(internal, "NORR", "2016")["volume"]["rows"]
        hidden = board_figures(public, "NORR", "2016")["volume"]
    finally:
        internal.close()
        public.close()
    assert [r["name"] for r in rows] == ["Metodutbildning för handläggare"] and rows[0]["counts"]
    assert hidden["rows"][0]["counts"] is None and hidden["note"]


def test_an_unknown_period_or_intervention_is_refused_in_swedish(published_sample, capsys):
    from conftest import county_env

    from ingestion.cli import main

    mp = pytest.MonkeyPatch()
    for key, value in county_env(published_sample).items():
        mp.setenv(key, value)
    try:
        assert main(["rapport", "--insats", "SODRA/AVESTA", "--period", "2019H1"]) == 1
        assert "Perioden 2019H1 finns inte" in capsys.readouterr().err
        assert main(["rapport", "--insats", "SODRA/OKAND", "--period", "2016"]) == 1
        assert "Insatsen SODRA/OKAND finns inte" in capsys.readouterr().err
    finally:
        mp.undo()


def test_only_reports_whose_figures_changed_are_written_again(published_sample, tmp_path):
    """The scheduled refresh: written once, kept when nothing changed, and after a publish that changes
    one intervention's figures only that intervention's report (and the packs that show it) again."""
    import duckdb

    from ingestion.core.config import load_settings
    from ingestion.reports.batch import refresh_reports, scheduled_jobs
    from ingestion.reports.figures import Snapshot

    home = tmp_path / "var"
    (home / "publish").mkdir(parents=True)
    snapshot = home / "publish" / "finsam_marts.duckdb"
    shutil.copyfile(_snapshot(published_sample), snapshot)
    snapshot.chmod(stat.S_IRUSR | stat.S_IWUSR)
    settings = load_settings(home=str(home))
    snap = Snapshot(snapshot, internal=False)
    try:
        every = scheduled_jobs(snap)
    finally:
        snap.close()
    assert {"kind": "intervention", "association": "SODRA", "intervention": "AVESTA", "period": "2016H1"} in every
    assert {"kind": "board", "association": "SODRA", "period": "2016"} in every
    assert {"kind": "county", "period": "2016"} in every
    assert not any(j.get("intervention") == "METODUTB" for j in every)  # count-only: in the board pack
    jobs = [
        {"kind": "intervention", "association": "SODRA", "intervention": "AVESTA", "period": "2016H1"},
        {"kind": "intervention", "association": "SODRA", "intervention": "SATER", "period": "2016H1"},
    ]
    first = refresh_reports(settings, formats=("html",), jobs=jobs, workers=2)  # the process pool's path
    assert first["written"] == ["SODRA/AVESTA/2016H1", "SODRA/SATER/2016H1"] and not first["failed"]
    page = Path(first["root"]) / "SODRA" / "AVESTA" / "2016H1.html"
    assert page.exists() and (Path(first["root"]) / "index.html").exists()
    assert str(Path(first["root"])) == str(home / "publish" / "rapporter")
    written_at = page.stat().st_mtime_ns

    again = refresh_reports(settings, formats=("html",), jobs=jobs)
    assert again["written"] == [] and sorted(again["unchanged"]) == ["SODRA/AVESTA/2016H1", "SODRA/SATER/2016H1"]
    assert page.stat().st_mtime_ns == written_at

    con = duckdb.connect(str(snapshot))
    con.execute(
        "update public.pub_rpt_outcomes_by_period set entrants = 27, entrants_display = '27' "
        "where intervention_code = 'SATER' and period_label = '2016H1' and measure_window = 'in_period'"
    )
    con.close()
    third = refresh_reports(settings, formats=("html",), jobs=jobs)
    assert third["written"] == ["SODRA/SATER/2016H1"] and third["unchanged"] == ["SODRA/AVESTA/2016H1"]


@pytest.mark.parametrize("internal", [False, True])
def test_a_batch_reads_each_table_once_per_period_and_gets_the_same_figures(published_sample, internal):
    """The scheduled run reads a table once per period for every intervention (Snapshot.slice in
    batch mode) instead of once per report: every scheduled report's figures equal those of a report
    made on its own, and the batch asked DuckDB far fewer queries."""
    import json

    from ingestion.reports.batch import gather, scheduled_jobs
    from ingestion.reports.figures import ReportError, Snapshot

    def figures_and_queries(snap, jobs):
        asked = []
        rows = snap.rows
        snap.rows = lambda sql, params=None: asked.append(sql) or rows(sql, params)
        out = []
        for job in jobs:
            try:
                out.append(gather(snap, job["kind"], **{k: v for k, v in job.items() if k != "kind"}))
            except ReportError as exc:
                out.append(str(exc))
        return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str), len(asked)

    one, batch = (Snapshot(_snapshot(published_sample), internal=internal, batch=b) for b in (False, True))
    try:
        jobs = scheduled_jobs(one)
        assert sum(j["kind"] == "intervention" for j in jobs) >= 20
        alone, alone_queries = figures_and_queries(one, jobs)
        together, batch_queries = figures_and_queries(batch, jobs)
    finally:
        one.close()
        batch.close()
    assert together == alone
    assert batch_queries < alone_queries * 0.75, (batch_queries, alone_queries)


# --- participants' age, stays by length and beyond the maximum (internal marts only) ----------------


def _marts(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(_snapshot(home)), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _one_decimal(value) -> str:
    return f"{float(value):.1f}".replace(".", ",")


def test_avesta_internal_report_shows_age_mean_range_age_by_sex_and_stays(avesta, published_sample):
    """The operating year 2015/16 (the avesta fixture): the figures in the PDF and DOCX are the
    internal marts' own, and the marts agree with the participation facts counted here directly."""
    from docx import Document

    window = "intervention_code = 'AVESTA' and period_type = 'operating_year' and period_label = '2015/16' "
    window += "and measure_window = 'in_period'"
    profile = _marts(
        published_sample,
        "select dimension, category, participants, participants_women, participants_men, avg_age_at_start, "
        "avg_age_at_start_total, min_age_at_start_total, max_age_at_start_total from marts.rpt_profile_by_period "
        f"where {window} and dimension in ('sex', 'age_band') order by dimension, category",
    )
    avg, youngest, oldest = profile[0][6], profile[0][7], profile[0][8]
    # the facts, counted without the marts' running totals: everyone active on a day of the year
    n, mean, low, high, women = _marts(
        published_sample,
        "select count(*), avg(age_at_start), min(age_at_start), max(age_at_start), count(*) filter (where sex = 'K') "
        "from marts.fct_participation where intervention_code = 'AVESTA' and start_date <= date '2016-06-30' "
        "and (end_date is null or end_date >= date '2015-07-01')",
    )[0]
    assert (n, youngest, oldest) == (57, low, high) and float(avg) == pytest.approx(mean, abs=0.005)
    by_sex = {r[1]: r for r in profile if r[0] == "sex"}
    assert by_sex["K"][2] == by_sex["K"][3] == women and by_sex["M"][4] == by_sex["M"][2]
    bands = [r for r in profile if r[0] == "age_band"]
    assert sum(r[3] for r in bands) == women and sum(r[2] for r in bands) == n

    pdf = _norm(" ".join(_pdf_pages(avesta["pdf"])))
    sentence = (
        f"Medelåldern vid start var {_one_decimal(avg)} år (yngst {youngest} år, äldst {oldest} år); "
        f"kvinnorna {_one_decimal(by_sex['K'][5])} år, männen {_one_decimal(by_sex['M'][5])} år."
    )
    assert sentence in pdf, pdf[pdf.find("Medelåldern") :][:200]
    tables = [[[_norm(c.text) for c in row.cells] for row in t.rows] for t in Document(str(avesta["docx"])).tables]
    age_sex = next(t for t in tables if t[0] == ["Ålder vid start", "Kvinnor", "Män", "Alla"])
    assert age_sex[1:] == [[f"{r[1].replace('-', '–')} år", str(r[3]), str(r[4]), str(r[2])] for r in bands]

    exits, *buckets = _marts(
        published_sample,
        "select exits, exits_stay_0_3, exits_stay_3_6, exits_stay_6_12, exits_stay_12_18, exits_stay_18_24, "
        "exits_stay_over_24 from marts.rpt_time_in_intervention_by_period "
        f"where {window} and age_band_scheme = 'standard' and sex = 'ALL' and age_band = 'ALL'",
    )[0]
    facts = _marts(
        published_sample,
        "select months_in_intervention from marts.fct_participation where intervention_code = 'AVESTA' "
        "and end_date between date '2015-07-01' and date '2016-06-30'",
    )
    edges = [(0, 3), (3, 6), (6, 12), (12, 18), (18, 24), (24, 10**6)]
    counted = [sum(1 for (m,) in facts if (lo == 0 or m > lo) and m <= hi) for lo, hi in edges]
    assert buckets == counted and sum(buckets) == exits == 18
    stays = next(t for t in tables if t[0] == ["Månader", "0–3", "3–6", "6–12", "12–18", "18–24", ">24"])
    assert stays[1] == ["Avslut", *[str(b) for b in buckets]]
    assert "Avslut 4 0 14 0 0 0" in pdf  # the sample's stays: 4 within three months, 14 in 6–12
    assert "Registret anger ingen längsta tid i insatsen (max_manader) för insatsen." in pdf  # Avesta sets none


def test_stays_beyond_the_registers_maximum(published_sample):
    """MITT/VAGEN's register sets max_manader 12: its 2016H1 report counts the exits that stayed longer."""
    from ingestion.reports.document import intervention_blocks, texts
    from ingestion.reports.figures import Snapshot, intervention_figures

    snap = Snapshot(_snapshot(published_sample), internal=True)
    try:
        figures = intervention_figures(snap, "MITT", "VAGEN", "2016H1")
    finally:
        snap.close()
    beyond = figures["time"]["beyond_max"]
    ((exits, longer),) = _marts(
        published_sample,
        "select count(*), count(*) filter (where months_in_intervention > 12) from marts.fct_participation "
        "where intervention_code = 'VAGEN' and end_date between date '2016-01-01' and date '2016-06-30'",
    )
    assert beyond["target"] == 12 and beyond["exits"]["v"] == longer == 3 and beyond["with_target"]["v"] == exits
    assert f"Längre än insatsens maxtid (12 månader): 3 av {exits} avslutade under perioden." in texts(
        intervention_blocks(figures)
    )


def test_a_publication_report_shows_no_age_range_and_no_stay_buckets(public_avesta, tmp_path):
    """Youngest and oldest are one person's age, and the buckets are not in any public table: a
    publication report has neither (only the public age bands and averages), and says so."""
    from ingestion.reports.document import intervention_blocks, texts
    from ingestion.reports.render import render_pdf

    assert public_avesta["age"] is None
    assert public_avesta["time"]["stays"] is None and public_avesta["time"]["beyond_max"] is None
    words = " ".join(texts(intervention_blocks(public_avesta)))
    age_range = re.compile(r"(yngst|äldst) \d+ år")  # "yngst 18 år, äldst 64 år" in an internal report
    assert not age_range.search(words) and "Medelåldern" not in words
    pdf_path = tmp_path / "public.pdf"
    pdf_path.write_bytes(render_pdf(public_avesta))
    pdf = _norm(" ".join(_pdf_pages(pdf_path)))
    assert not age_range.search(pdf) and "efter tid i insatsen (månader)" not in pdf
    assert "redovisas bara i internt underlag" in pdf


# --- the owner's mail after an accepted delivery links to the refreshed reports ------------------------

MANIFEST = {
    "file_name": "SODRA_AVESTA_deltagare_2016T3.csv",
    "association": "SODRA",
    "intervention": "AVESTA",
    "kind": "deltagare",
    "period": "2016T3",
    "received_at": "2017-01-10T10:00:00+00:00",
}


def test_an_accepted_deliverys_mail_links_to_the_interventions_reports():
    from ingestion.core.config import REPO_ROOT
    from ingestion.core.findings import BLOCKING, WARNING, Finding
    from ingestion.outbound.alerts import compose

    warning = Finding(WARNING, "kommun_kod", "okänd kommunkod", column="kommun", rows=[3])
    _, body = compose(MANIFEST, "accepted", [warning], "https://finsam.region.example.se/")
    assert (
        "uppdateras med leveransens siffror när körningen är klar: https://finsam.region.example.se/insats/SODRA/AVESTA#rapporter"
        in body
    )
    # the anchor exists on the portal page
    page = (REPO_ROOT / "ingestion" / "portal" / "templates" / "intervention.html").read_text(encoding="utf-8")
    assert '<h2 id="rapporter">Rapporter</h2>' in page
    # without a portal: the reports' folder under the publish zone (docs/reports.md)
    _, body = compose(MANIFEST, "accepted", [warning])
    assert "när körningen är klar: var/publish/rapporter/SODRA/AVESTA/" in body
    _, body = compose(MANIFEST, "accepted", [warning], None, "/srv/finsam/publish/rapporter")
    assert "när körningen är klar: /srv/finsam/publish/rapporter/SODRA/AVESTA/" in body
    # a refused delivery changed no figure: no link to reports
    blocking = Finding(BLOCKING, "kon_finns", "kön saknas", column="kon", rows=[3, 4])
    _, body = compose(MANIFEST, "quarantined", [blocking], "https://finsam.region.example.se/")
    assert "rapporter" not in body.lower()
