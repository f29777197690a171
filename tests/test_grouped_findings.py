"""Findings grouped by value: the same problem in many rows of one delivery is one finding.

A sample deltagare file (data/sample) gets two values in the remittent column that no word
list reads: "Regioqx" in 19 rows (the nearest valid code is REGION) and "Qwxyz-enheten" in
2 rows (no code is near). The owner then reads one line per value, naming its rows (the
first ten, then "… och 9 till"), in `finsam validate`, the quarantine explanation and the
mail; the county data team gets the `finsam map` command for each value, and the run
summary ranks the county's unknown values by rows. A delivery with only information (INFO)
gets no mail.
"""

from __future__ import annotations

import csv
import email
import json
import shlex
from datetime import date
from email import policy
from pathlib import Path

import duckdb
import pytest
from conftest import SAMPLE

from ingestion.cli import main
from ingestion.core.contract import load_contract
from ingestion.core.findings import BLOCKING, INFO, WARNING, Finding, group_findings
from ingestion.core.rawzone import all_landed, write_validation
from ingestion.core.registry import load_registry
from ingestion.outbound.alerts import compose, send_alerts
from ingestion.pipeline import summary_lines
from ingestion.process import process_association
from ingestion.quality.quarantine import explanation_sv
from ingestion.quality.suites import verdict
from ingestion.warehouse.load import load_warehouse

AS_OF = date(2016, 10, 15)
SOURCE = SAMPLE / "landing" / "MITT" / "MITT_FRAMSTEG_deltagare_2016T2.csv"  # a clean sample delivery
CLEAN = SAMPLE / "landing" / "MITT" / "MITT_VAGEN_deltagare_2016T1.csv"  # another clean one
NAME = SOURCE.name
NEAR = "Regioqx"  # close to REGION for the nearest-code search, read by no word list
FAR = "Qwxyz-enheten"  # close to no code at all
NEAR_ROWS = [3, 5, 8, 11, 12, 14, 17, 20, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41]
FAR_ROWS = [44, 46]
NEAR_WHERE = (
    "rad 3, 5, 8, 11, 12, 14, 17, 20, 21, 23 … och 9 till (19 rader), kolumn remittent, "
    f"värde '{NEAR}': remittent har ett värde som inte finns i kodlistan."
)
NEAR_COMMAND = f"finsam map --column remittent {NEAR} REGION --association MITT"


def faulty_file(folder: Path) -> Path:
    """The sample file with NEAR in NEAR_ROWS and FAR in FAR_ROWS of the remittent column."""
    with open(SOURCE, encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    column = next(
        i for i, name in enumerate(lines[0]) if name.strip().lower() in ("remitterande aktör", "remitterad av")
    )
    assert len(lines) > max(FAR_ROWS), "the sample file is long enough"
    for rows, value in ((NEAR_ROWS, NEAR), (FAR_ROWS, FAR)):
        for row in rows:  # sheet rows: the header is row 1
            lines[row - 1][column] = value
    path = folder / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(lines)
    return path


def test_the_values_are_unknown_to_the_contract():
    """The test's premise: no word list (aliases, inflections, typos) reads the two values."""
    vocabulary = load_contract().vocabulary("remittent")
    assert vocabulary.match(NEAR).code is None and vocabulary.match(FAR).code is None


# ---------------------------------------------------------------- the Finding itself


def row_finding(
    row: int,
    value: str = "Landstinget",
    message: str = "remittent har ett värde som inte finns i kodlistan.",
    severity: str = BLOCKING,
) -> Finding:
    return Finding(
        severity,
        "deltagare.landing:expect_column_values_to_be_in_set:remittent",
        message,
        column="remittent",
        row=row,
        value=value,
        valid_sv="FK (Försäkringskassan). Närmaste giltiga kod: REGION",
        nearest="REGION",
        unknown_value=value,
    )


def test_nineteen_rows_with_one_value_are_one_finding():
    findings = [row_finding(r) for r in reversed(NEAR_ROWS)] + [row_finding(50, value="Kyrkan")]
    grouped = group_findings(findings)
    assert len(grouped) == 2
    first, other = grouped
    assert first.rows == NEAR_ROWS and first.row is None and first.row_numbers == NEAR_ROWS
    assert first.line_sv() == (
        "rad 3, 5, 8, 11, 12, 14, 17, 20, 21, 23 … och 9 till (19 rader), kolumn remittent, "
        "värde 'Landstinget': remittent har ett värde som inte finns i kodlistan. "
        "Giltigt: FK (Försäkringskassan). Närmaste giltiga kod: REGION."
    )
    assert (
        other.row == 50
        and other.rows is None
        and other.line_sv().startswith("rad 50, kolumn remittent, värde 'Kyrkan'")
    )
    assert first.map_command("SODRA") == "finsam map --column remittent Landstinget REGION --association SODRA"
    assert group_findings(grouped) == grouped, "grouping twice changes nothing"


def test_a_message_quoting_the_row_keeps_its_own_finding():
    findings = [
        row_finding(2, message="differensen stämmer inte: budget 100 − utfall 50 = 50, men filen anger 40."),
        row_finding(3, message="differensen stämmer inte: budget 200 − utfall 50 = 150, men filen anger 40."),
        row_finding(4, severity=WARNING),
        row_finding(5),
    ]
    grouped = group_findings(findings)
    assert [f.row_numbers for f in grouped] == [[2], [3], [4], [5]]


def test_few_rows_are_all_listed_and_an_old_stored_finding_still_reads():
    grouped = group_findings([row_finding(7), row_finding(4)])
    assert grouped[0].line_sv().startswith("rad 4, 7 (2 rader), kolumn remittent")
    old = {
        "severity": "blocking",
        "check": "c",
        "message_sv": "fel.",
        "column": "kon",
        "row": 3,
        "value": "Q",
        "valid_sv": None,
    }  # as stored before rows/nearest existed
    finding = Finding.from_dict(old)
    assert finding.rows is None and finding.nearest is None and finding.row_numbers == [3]
    assert finding.line_sv() == "rad 3, kolumn kon, värde 'Q': fel."
    assert finding.map_command("SODRA") is None
    assert Finding.from_dict(group_findings([finding, Finding.from_dict(dict(old, row=9))])[0].to_dict()).rows == [3, 9]


def test_the_map_command_is_quoted_for_a_shell():
    value = 'Region Dalarna\'s "vård"; rm -rf /'
    command = Finding(
        BLOCKING, "c", "m", column="remittent", row=2, value=value, nearest="REGION", unknown_value=value
    ).map_command("SODRA")
    assert shlex.split(command) == ["finsam", "map", "--column", "remittent", value, "REGION", "--association", "SODRA"]
    no_near = Finding(BLOCKING, "c", "m", column="remittent", row=2, value=FAR, unknown_value=FAR)
    assert no_near.map_command("SODRA") is None


def test_info_never_changes_the_verdict():
    info = Finding(
        INFO,
        "lansmappning",
        "värdet översattes till REGION enligt länets mappning.",
        column="remittent",
        rows=[2, 3],
        value="Landstinget",
    )
    assert verdict([info]) == "accepted"
    assert verdict([info, row_finding(2, severity=WARNING)]) == "accepted_with_warnings"
    assert verdict([info, row_finding(2)]) == "quarantined"


def test_a_multi_code_cell_names_its_unknown_part():
    from ingestion.quality.suites import unknown_value

    # Only the part no word list reads is what a mapping would teach; the first with a nearest code.
    assert unknown_value("forsorjning", "AKS, Sjukpqx", multi=True) == ("Sjukpqx", "SJP")
    assert unknown_value("forsorjning", f"{FAR} + Sjukpqx", multi=True) == ("Sjukpqx", "SJP")
    assert unknown_value("forsorjning", f"AKS, {FAR}", multi=True) == (FAR, None)
    assert unknown_value("forsorjning", "AKS, Sjukpqx") == ("AKS, Sjukpqx", "SJP")  # one code: the whole value
    assert unknown_value("remittent", NEAR) == (NEAR, "REGION")
    assert unknown_value("remittent", FAR) == (FAR, None)


# ---------------------------------------------------------------- finsam validate


def test_finsam_validate_shows_one_line_per_value(finsam_env, tmp_path, capsys):
    path = faulty_file(tmp_path / "mine")
    code = main(["validate", str(path), "--as-of", AS_OF.isoformat()])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[1] == "Rader lästa: 50, skulle läsas in: 0, hoppade över: 0"
    assert "Fel som måste rättas (2):" in lines
    near = [line for line in lines if NEAR in line]
    assert near == [
        f"  - {NEAR_WHERE} Giltigt: {load_contract().valid_text('remittent')} Närmaste giltiga kod: REGION."
    ]
    far = [line for line in lines if FAR in line]
    assert len(far) == 1 and far[0].startswith(f"  - rad 44, 46 (2 rader), kolumn remittent, värde '{FAR}': ")
    assert "Närmaste" not in far[0]


# ---------------------------------------------------------------- the pipeline: quarantine, mail, warehouse, summary


@pytest.fixture
def processed(finsam_env):
    settings = finsam_env
    faulty_file(settings.landing / "MITT")
    registry = load_registry(settings.registry)
    summary = process_association(settings, registry, "MITT", as_of=AS_OF, docs=False)
    return settings, registry, summary


def stored(settings):
    landed = next(l for l in all_landed(settings) if l.manifest["file_name"] == NAME)
    return landed, landed.validation()


def test_the_stored_validation_holds_one_finding_per_value(processed):
    settings, _, summary = processed
    landed, validation = stored(settings)
    assert validation["status"] == "quarantined"
    remittent = [
        Finding.from_dict(f)
        for f in validation["findings"]
        if f["check"] == "deltagare.landing:expect_column_values_to_be_in_set:remittent"
    ]
    assert [(f.unknown_value, f.row_numbers, f.nearest) for f in remittent] == [
        (NEAR, NEAR_ROWS, "REGION"),
        (FAR, FAR_ROWS, None),
    ]
    assert remittent[0].map_command("MITT") == NEAR_COMMAND
    assert summary["unknown_values"] == [
        {"column": "remittent", "value": NEAR, "rows": 19, "nearest": "REGION", "file": NAME},
        {"column": "remittent", "value": FAR, "rows": 2, "nearest": None, "file": NAME},
    ]


def test_the_quarantine_explanation_lists_each_value_once(processed):
    settings, _, _ = processed
    text = (settings.quarantine / "MITT" / f"{NAME}.fel.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert sum(NEAR_WHERE in line for line in lines) == 1
    assert sum(line.startswith(f"  - rad 44, 46 (2 rader), kolumn remittent, värde '{FAR}'") for line in lines) == 1
    team = lines.index("För länets dataenhet: okända värden som kan mappas")
    assert f"      {NEAR_COMMAND}" in lines[team:]
    assert f"      finsam map --column remittent {FAR} KOD --association MITT" in lines[team:]


def test_the_mail_lists_each_value_once_and_the_commands_for_the_data_team(processed):
    settings, registry, _ = processed
    assert send_alerts(settings, registry)["outbox"] == 1
    saved = email.message_from_bytes(
        next((settings.reports / "outbox").glob("*.eml")).read_bytes(), policy=policy.default
    )
    body = saved.get_body(preferencelist=("plain",)).get_content()
    lines = body.splitlines()
    assert "FEL SOM MÅSTE RÄTTAS (2)" in lines
    assert sum(NEAR_WHERE in line for line in lines) == 1
    assert sum(f"värde '{FAR}'" in line and line.startswith("  - rad") for line in lines) == 1
    assert any(line.startswith("  1. Rätta raderna ovan i er egen fil") for line in lines)
    team = lines.index("För länets dataenhet: okända värden som kan mappas")
    assert team > lines.index("Så lämnar du en ny leverans:")
    assert f"      {NEAR_COMMAND}" in lines[team:]


def test_the_mail_for_an_unreadable_file_asks_for_no_rows():
    manifest = {
        "file_name": NAME,
        "association": "MITT",
        "intervention": "FRAMSTEG",
        "kind": "deltagare",
        "period": "2016T2",
        "received_at": "2016-10-15T08:00:00+00:00",
        "unreadable": "filen är inte en Excel- eller CSV-fil",
    }
    _, body = compose(manifest, "quarantined", [])
    assert "Rätta raderna ovan" not in body and "Spara filen på nytt så att den går att läsa" in body
    assert "För länets dataenhet" not in body and "INFORMATION" not in body
    missing_column = Finding(BLOCKING, "columns.landing:x:_present", "kolumnen kon saknas.", column="kon")
    _, body = compose(dict(manifest, unreadable=None), "quarantined", [missing_column])
    assert "Rätta raderna ovan" not in body and "  1. Rätta felen ovan i er egen fil." in body
    _, body = compose(dict(manifest, unreadable=None), "quarantined", [row_finding(r) for r in NEAR_ROWS])
    assert "Rätta raderna ovan i er egen fil" in body


def test_information_gets_its_own_section_and_alone_no_mail(finsam_env):
    settings = finsam_env
    target = settings.landing / "MITT" / CLEAN.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(CLEAN.read_bytes())
    registry = load_registry(settings.registry)
    process_association(settings, registry, "MITT", as_of=AS_OF, docs=False)
    landed = next(l for l in all_landed(settings) if l.manifest["file_name"] == CLEAN.name)
    assert landed.status == "accepted"
    info = [
        Finding(
            INFO,
            "lansmappning",
            "värdet översattes till REGION enligt länets mappning.",
            column="remittent",
            row=r,
            value="Landstinget",
        )
        for r in (2, 4, 6)
    ]
    write_validation(landed, verdict(info), info)
    assert landed.status == "accepted"
    assert send_alerts(settings, registry) == {"sent": 0, "failed": 0, "outbox": 0, "retried": 0}
    assert not list((settings.reports / "outbox").glob("*.eml"))

    # The same delivery with a warning besides the information does get a mail, with both sections.
    warning = Finding(WARNING, "c", "åldern vid start ligger utanför 16–67 år.", column="fodelsear", row=3)
    write_validation(landed, verdict([*info, warning]), [*info, warning])
    assert send_alerts(settings, registry)["outbox"] == 1
    body = (
        email.message_from_bytes(next((settings.reports / "outbox").glob("*.eml")).read_bytes(), policy=policy.default)
        .get_body(preferencelist=("plain",))
        .get_content()
    )
    assert "VARNINGAR – filen lästes in, men kontrollera (1)" in body
    assert (
        "INFORMATION – behöver inte rättas (1)\n  - rad 2, 4, 6 (3 rader), kolumn remittent, värde 'Landstinget': "
        "värdet översattes till REGION enligt länets mappning."
    ) in body
    assert "FEL SOM MÅSTE RÄTTAS" not in body and "För länets dataenhet" not in body


def test_the_warehouse_keeps_every_row_of_a_grouped_finding(processed):
    settings, registry, _ = processed
    load_warehouse(settings, registry)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select failing_rows, observed from meta.validation_results where expectation = "
            "'deltagare.landing:expect_column_values_to_be_in_set:remittent'"
        ).fetchall()
        reason = con.execute("select reason from meta.load_ledger where file_name = ?", [NAME]).fetchone()[0]
    finally:
        con.close()
    assert len(rows) == 1
    failing, observed = rows[0]
    assert failing == sorted(NEAR_ROWS + FAR_ROWS)
    assert json.loads(observed) == [NEAR, FAR]
    assert reason.startswith("rad 3, 5, 8 … och 16 till (19 rader): remittent har ett värde som inte finns")


def test_summary_lines_rank_the_county_unknown_values_by_rows(processed):
    settings, registry, summary = processed
    load_warehouse(settings, registry)
    other = {
        "association": "SODRA",
        "unknown_values": [
            {"column": "avslutsanledning", "value": "Flyttat utomlands", "rows": 7, "nearest": None, "file": "a.csv"},
            {"column": "remittent", "value": "Landstinget", "rows": 30, "nearest": "REGION", "file": "b.csv"},
            {"column": "remittent", "value": "Landstinget", "rows": 4, "nearest": "REGION", "file": "c.csv"},
        ],
    }
    lines = summary_lines(settings, registry, associations=[summary, other])
    start = next(i for i, line in enumerate(lines) if line.startswith("Okända värden i länet"))
    listed = [line for line in lines[start + 1 : start + 9] if line.startswith("  - ")]
    assert listed == [
        "  - SODRA, kolumn remittent, värde 'Landstinget': 34 rader (2 filer), närmaste giltiga kod REGION",
        f"  - MITT, kolumn remittent, värde '{NEAR}': 19 rader ({NAME}), närmaste giltiga kod REGION",
        "  - SODRA, kolumn avslutsanledning, värde 'Flyttat utomlands': 7 rader (a.csv), ingen giltig kod liknar värdet",
        f"  - MITT, kolumn remittent, värde '{FAR}': 2 rader ({NAME}), ingen giltig kod liknar värdet",
    ]
    assert lines[start + 2] == "      finsam map --column remittent Landstinget REGION --association SODRA"
    assert lines[start + 4] == f"      {NEAR_COMMAND}"

    # Without this run's summaries (the demo runs in Airflow): the stored validation of the county's deliveries.
    lines = summary_lines(settings, registry)
    listed = [line for line in lines if line.startswith("  - MITT, kolumn remittent")]
    assert listed == [
        f"  - MITT, kolumn remittent, värde '{NEAR}': 19 rader ({NAME}), närmaste giltiga kod REGION",
        f"  - MITT, kolumn remittent, värde '{FAR}': 2 rader ({NAME}), ingen giltig kod liknar värdet",
    ]


def test_explanation_of_findings_stored_before_grouping_is_grouped():
    manifest = {
        "file_name": NAME,
        "association": "MITT",
        "intervention": "FRAMSTEG",
        "kind": "deltagare",
        "period": "2016T2",
        "sha256": "0" * 64,
    }
    text = explanation_sv(manifest, [row_finding(r) for r in NEAR_ROWS])
    assert text.count("värde 'Landstinget'") == 2  # the owner's line and the data team's
    assert "Fel som måste rättas (1):" in text
    assert "      finsam map --column remittent Landstinget REGION --association MITT" in text
