"""Every landing suite in expectations/ fed one good and one bad batch.

Batches go through the real normaliser (text cells as a reader returns them), then
`run_validation`. A good batch gives no finding at all; a bad batch fails exactly the
expectations and rows listed, and together the bad batches fail every expectation of
every landing suite (so no expectation is untested). Rows are sheet rows: the header is
row 1, so the i-th data row (0-based) is row i + 2.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from fixtures import synthetic
from smtp_fixture import INSATSER_HEADER, cells, insats_row, municipality_list  # noqa: F401 (fixture)
from smtp_fixture import ended_participant as ended
from smtp_fixture import participant as d

from ingestion.core.findings import BLOCKING, INFO, WARNING
from ingestion.intake.normalize import normalise
from ingestion.quality.suites import EXPECTATIONS_DIR, Batch, Context, run_validation, verdict

SECRET = b"test-secret-only-for-pytest"
AREA = ("2084", "2083", "2082")
AS_OF = date(2026, 1, 1)
PERIOD_END = date(2016, 8, 31)  # 2016T2


def suite_ids(suite: str) -> set[str]:
    spec = json.loads((EXPECTATIONS_DIR / f"{suite}.json").read_text(encoding="utf-8"))
    return {f"{suite}:{e['type']}:{e['kwargs']['column']}" for e in spec["expectations"]}


def landing_suites() -> list[str]:
    return sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.landing.json"))


def batch(
    kind: str, header, rows, *, delivery="d1", intervention="AVESTA", period_end=PERIOD_END, columns_present=None
) -> Batch:
    n = normalise(cells(header, rows), kind, "SODRA", SECRET)
    return Batch(delivery, kind, "SODRA", intervention, period_end, n.frame, n.totals, columns_present)


def register(*rows) -> pd.DataFrame:
    return normalise(cells(INSATSER_HEADER, list(rows)), "insatser", "SODRA", SECRET).frame


def context(**kw) -> Context:
    values = dict(
        as_of=AS_OF, area=AREA, register=register(insats_row("AVESTA"), insats_row("RAKNA", matmetod="VOLYM"))
    )
    values.update(kw)
    return Context(**values)


def validate(tmp_path: Path, batches: list[Batch], ctx: Context | None = None):
    return run_validation(batches, ctx or context(), tmp_path / "gx", docs=False)


def failing(findings, suite: str | None = None) -> dict[str, set]:
    """{check id: {rows}} of the findings (of one suite, when given); a finding about several rows
    (the same problem grouped) gives all of them, one about no row gives None."""
    result: dict[str, set] = {}
    for f in findings:
        if suite is None or f.check.startswith(f"{suite}:"):
            result.setdefault(f.check, set()).update(f.row_numbers or [None])
    return result


def expected(suite: str, cases: list[tuple[list[str], list[str]]], first_row: int = 2) -> dict[str, set]:
    """Cases are (row, [short check ids 'type:column']); returns {full check id: {rows}}."""
    result: dict[str, set] = {}
    for offset, (_, checks) in enumerate(cases):
        for check in checks:
            result.setdefault(f"{suite}:expect_column_values_to_{check}", set()).add(first_row + offset)
    return result


# ---------------------------------------------------------------- deltagare

D_COLUMNS = synthetic.DELTAGARE_HEADER


def test_deltagare_good_batch_has_no_findings(tmp_path, municipality_list):
    rng = random.Random(4)
    rows = [
        d(1),
        d(
            2,
            deltagar_id="",
            personnummer=synthetic.make_pnr(rng, 1985),
            fodelsear="",
            kon="Kvinna",
            slutdatum="20160531",
            avslutsanledning="till arbete",
            forsorjning_efter="lön",
            sysselsattning_fore="arbetssökande",
            sysselsattning_efter="Arbete",
            omfattning_efter="100 %",
        ),
        d(3, deltagar_id="", anonym="Ja", kon="M", fodelsear="1995", remittent="egen anmälan"),
        d(
            4,
            kommun="Hedemora",
            remittent="Socialtjänsten",
            forsorjning_fore="AKS, FBS",
            utbildning="grundskola",
            tid_offentlig_forsorjning="1-2",
        ),
        d(1, startdatum="2016-06-01"),  # the same person's second episode
        d(5, startdatum="2016-08-31", kommun="2082", remittent="AF"),
    ]
    findings = validate(tmp_path, [batch("deltagare", D_COLUMNS, rows)])["d1"]
    assert findings == []
    assert verdict(findings) == "accepted"


DELTAGARE_BAD = [
    (d(1, deltagar_id=""), ["be_in_set:_identity_ok"]),
    (d(2, deltagar_id="", personnummer="19850101-1234"), ["be_in_set:personnummer_status"]),
    (d(3, kon=""), ["not_be_null:kon"]),
    (d(4, kon="Q"), ["be_in_set:kon"]),
    (d(5, fodelsear=""), ["not_be_null:fodelsear"]),
    (d(6, fodelsear="19x5"), ["match_regex:fodelsear"]),
    (d(7, fodelsear="1930"), ["be_between:_fodelsear_int", "be_between:_age_at_start"]),
    (d(8, fodelsear="2005"), ["be_between:_age_at_start"]),
    (d(9, kommun=""), ["not_be_null:kommun"]),
    (d(10, kommun="9999"), ["be_in_set:kommun", "be_in_set:_kommun_in_area"]),
    (d(11, kommun="2062"), ["be_in_set:_kommun_in_area"]),
    (d(12, startdatum=""), ["not_be_null:startdatum"]),
    (d(13, startdatum="igår"), ["match_regex:startdatum"]),
    (d(14, startdatum="2016-09-15"), ["be_in_set:_start_not_future"]),
    (d(15, startdatum="2014-12-01"), ["be_in_set:_start_after_intervention"]),
    (ended(16, slutdatum="snart"), ["match_regex:slutdatum"]),
    (ended(17, startdatum="2016-03-01", slutdatum="2016-02-01"), ["be_in_set:_end_after_start"]),
    (ended(18, avslutsanledning=""), ["be_in_set:_exit_fields_complete"]),
    (d(19, avslutsanledning="ARBETE"), ["be_in_set:_no_exit_fields_while_active"]),
    (d(20, forsorjning_efter="LON"), ["be_in_set:_no_outcome_while_active"]),
    (d(21, remittent="GRANNE"), ["be_in_set:remittent", "be_in_set:_referrer_member"]),
    (d(22, remittent="REGION"), ["be_in_set:_referrer_member"]),
    (d(23, forsorjning_fore=""), ["not_be_null:forsorjning_fore"]),
    (d(24, forsorjning_fore="XYZ"), ["match_regex:forsorjning_fore"]),
    (ended(25, forsorjning_efter="XYZ"), ["match_regex:forsorjning_efter"]),
    (d(26, sysselsattning_fore="XYZ"), ["be_in_set:sysselsattning_fore"]),
    (ended(27, sysselsattning_efter="XYZ"), ["be_in_set:sysselsattning_efter"]),
    (ended(28, omfattning_efter="150"), ["be_between:_omfattning_num"]),
    (ended(29, omfattning_efter="heltid"), ["match_regex:omfattning_efter"]),
    (d(30, utbildning="XYZ"), ["be_in_set:utbildning"]),
    (d(31, tid_offentlig_forsorjning="XYZ"), ["be_in_set:tid_offentlig_forsorjning"]),
    (ended(32, avslutsanledning="XYZ"), ["be_in_set:avslutsanledning"]),
    (d(33, anonym="kanske"), ["be_in_set:anonym"]),
    (d(34, deltagar_id="DUP"), ["be_in_set:_duplicate_episode"]),
    (d(35, deltagar_id="DUP"), ["be_in_set:_duplicate_episode"]),
]


def test_deltagare_bad_batches_fail_exactly_these_rows(tmp_path, municipality_list):
    main = batch("deltagare", D_COLUMNS, [row for row, _ in DELTAGARE_BAD])
    volume_only = batch("deltagare", D_COLUMNS, [d(1)], delivery="d2", intervention="RAKNA")
    unknown = batch("deltagare", D_COLUMNS, [d(1)], delivery="d3", intervention="OKAND")
    found = validate(tmp_path, [main, volume_only, unknown])

    assert failing(found["d1"]) == expected("deltagare.landing", DELTAGARE_BAD)
    assert failing(found["d2"]) == {
        "deltagare.landing:expect_column_values_to_be_in_set:_intervention_person_level": {2}
    }
    assert failing(found["d3"]) == {"deltagare.landing:expect_column_values_to_be_in_set:_intervention_known": {2}}
    every = {c for f in found.values() for c in failing(f)}
    assert every == suite_ids("deltagare.landing"), "every deltagare expectation is exercised"

    by_row = {f.row: f for f in found["d1"] if f.check.endswith(":_age_at_start")}
    assert by_row[9].severity == WARNING
    assert by_row[9].line_sv() == (
        "rad 9, kolumn fodelsear, värde 'fodelsear 2005, startdatum 2016-02-01': "
        "åldern vid start ligger utanför 16–67 år. Giltigt: ålder 16–67 år vid start."
    )
    invalid_pnr = next(f for f in found["d1"] if f.check.endswith(":personnummer_status"))
    assert invalid_pnr.value is None and "19850101" not in invalid_pnr.line_sv()
    assert verdict(found["d1"]) == "quarantined"
    # An intervention not in the register never becomes a new intervention (fault run, item 1):
    # the delivery is quarantined, and the owner is shown the registered codes to choose from.
    assert verdict(found["d3"]) == "quarantined"
    unknown_finding = next(f for f in found["d3"] if f.check.endswith(":_intervention_known"))
    assert unknown_finding.value == "OKAND" and "AVESTA" in unknown_finding.valid_sv


def test_start_in_the_future_is_measured_against_the_run_date(tmp_path, municipality_list):
    """A period still running: a start after today is in the future even inside the period."""
    rows = [d(1, startdatum="2016-05-02"), d(2, startdatum="2016-05-20")]
    found = validate(tmp_path, [batch("deltagare", D_COLUMNS, rows)], context(as_of=date(2016, 5, 10)))["d1"]
    assert failing(found) == {"deltagare.landing:expect_column_values_to_be_in_set:_start_not_future": {3}}


# ---------------------------------------------------------------- columns (all kinds)


def test_columns_suite_good_and_bad(tmp_path, municipality_list):
    header = [c for c in D_COLUMNS if c not in ("kon", "forsorjning_fore")]
    rows = [[v for c, v in zip(D_COLUMNS, d(i)) if c in header] for i in (1, 2, 3)]
    bad = batch("deltagare", header, rows)
    volym = batch(
        "volym", ["ar", "period_slut", "antal"], [["2016", "2016-08-31", "4"]], delivery="v1", intervention="RAKNA"
    )
    good = batch("deltagare", D_COLUMNS, [d(1)], delivery="d2")
    found = validate(tmp_path, [bad, volym, good])

    check = "columns.landing:expect_column_values_to_be_in_set:_present"
    # One finding per missing column, and no per-row noise about the same columns.
    assert [(f.check, f.column, f.row, f.severity) for f in found["d1"]] == [
        (check, "kon", None, BLOCKING),
        (check, "forsorjning_fore", None, BLOCKING),
    ]
    assert found["d1"][0].line_sv() == (
        "kolumn kon: kolumnen kon saknas i filen eller är helt tom, men den krävs "
        "enligt exportkontraktet. Giltigt: en kolumn med rubriken kon, kön."
    )
    assert [(f.check, f.column) for f in found["v1"]] == [(check, "kon")]
    assert found["d2"] == []
    assert suite_ids("columns.landing") == {check}


def test_columns_from_the_header_when_landing_recorded_it(tmp_path, municipality_list):
    """With the header known, an empty but present column is a per-row problem, not a missing column."""
    rows = [d(1, kon=""), d(2, kon="")]
    present = batch("deltagare", D_COLUMNS, rows, columns_present=tuple(D_COLUMNS))
    found = validate(tmp_path, [present])["d1"]
    assert failing(found) == {"deltagare.landing:expect_column_values_to_not_be_null:kon": {2, 3}}


# ---------------------------------------------------------------- insatser


def test_insatser_good_batch_has_no_findings(tmp_path, municipality_list):
    rows = [
        insats_row("AVESTA"),
        insats_row("KRAFTEN", huvudman="FK, AF, Hedemora", rapportering=""),
        insats_row("KONF", matmetod="volym", inriktning="struktur", end="2017-12-31", rapportering="halvår"),
    ]
    found = validate(tmp_path, [batch("insatser", INSATSER_HEADER, rows, intervention="ALL")])["d1"]
    assert found == []


I_HEADER = [*INSATSER_HEADER, "mal_deltagare_per_ar", "mal_andel_arbete_studier_rehab", "max_manader"]  # 1.1: targets


def i_row(code, **values) -> list[str]:
    row = dict(zip(INSATSER_HEADER, insats_row(code, email_to="agare@sodra.example")))
    row.update(values)
    return [row.get(c, "") for c in I_HEADER]


INSATSER_BAD = [
    (i_row("", namn="Utan kod"), ["not_be_null:insats_kod"]),
    (i_row("A B"), ["match_regex:insats_kod"]),
    (i_row("TVA"), ["be_in_set:_duplicate_code"]),
    (i_row("TVA"), ["be_in_set:_duplicate_code"]),
    (i_row("I5", namn=""), ["not_be_null:namn"]),
    (i_row("I6", inriktning=""), ["not_be_null:inriktning"]),
    (i_row("I7", inriktning="BLANDAD"), ["be_in_set:inriktning"]),
    (i_row("I8", malgrupp="XYZ"), ["match_regex:malgrupp"]),
    (i_row("I9", matmetod=""), ["not_be_null:matmetod"]),
    (i_row("I10", matmetod="XYZ"), ["be_in_set:matmetod"]),
    (i_row("I11", startdatum=""), ["not_be_null:startdatum"]),
    (i_row("I12", startdatum="snart"), ["match_regex:startdatum"]),
    (i_row("I13", slutdatum="aldrig"), ["match_regex:slutdatum"]),
    (i_row("I14", slutdatum="2014-01-01"), ["be_in_set:_end_after_start"]),
    (i_row("I15", platser="tio"), ["match_regex:platser"]),
    (i_row("I16", planerat_antal="-5"), ["match_regex:planerat_antal"]),
    (i_row("I17", huvudman=""), ["not_be_null:huvudman", "be_between:_party_count"]),
    (i_row("I18", huvudman="FK+KYRKAN"), ["match_regex:huvudman"]),
    (i_row("I19", huvudman="FK"), ["be_between:_party_count"]),
    (i_row("I20", agare_epost=""), ["not_be_null:agare_epost"]),
    (i_row("I21", agare_epost="ingen-adress"), ["match_regex:agare_epost"]),
    (i_row("I22", esf="kanske"), ["be_in_set:esf"]),
    (i_row("I23", rapportering="Q"), ["match_regex:rapportering"]),
    (i_row("I24", mal_deltagare_per_ar="trettio"), ["match_regex:mal_deltagare_per_ar"]),
    (i_row("I25", mal_andel_arbete_studier_rehab="130"), ["match_regex:mal_andel_arbete_studier_rehab"]),
    (i_row("I26", max_manader="0"), ["match_regex:max_manader"]),
]


def test_insatser_bad_batch_fails_exactly_these_rows(tmp_path, municipality_list):
    found = validate(tmp_path, [batch("insatser", I_HEADER, [r for r, _ in INSATSER_BAD], intervention="ALL")])
    assert failing(found["d1"]) == expected("insatser.landing", INSATSER_BAD)
    assert set(failing(found["d1"])) == suite_ids("insatser.landing")
    cadence = next(f for f in found["d1"] if f.column == "rapportering")
    assert cadence.severity == WARNING and cadence.value == "Q"


# ---------------------------------------------------------------- budget and its derived suites

B_COLUMNS = [
    "ar",
    "period_slut",
    "radtyp",
    "kostnadsslag",
    "finansiar",
    "rad_text",
    "budget",
    "utfall",
    "differens",
    "prognos",
]


def b(
    radtyp="KOSTNAD",
    kostnadsslag="PERSONAL",
    budget="100 000",
    utfall="",
    differens="",
    prognos="",
    *,
    ar="2016",
    period_slut="2016-06-30",
    finansiar="",
    rad_text="",
) -> list[str]:
    return [ar, period_slut, radtyp, kostnadsslag, finansiar, rad_text, budget, utfall, differens, prognos]


def summa(budget, utfall, differens, prognos) -> list[str]:
    return ["", "", "", "", "", "Summa", budget, utfall, differens, prognos]


AVESTA_LINES = [
    b(
        kostnadsslag="PERSONAL",
        rad_text="Personal",
        budget="1 775 000",
        utfall="819 000",
        differens="955 000",
        prognos="0",
    ),
    b(
        kostnadsslag="LOKALER",
        rad_text="Lokaler",
        budget="165 000",
        utfall="88 000",
        differens="77 000",
        prognos="−9 000",
    ),
    b(
        kostnadsslag="OVRIGT",
        rad_text="Övriga kostnader",
        budget="160 000",
        utfall="81 000",
        differens="79 000",
        prognos="+20 000",
    ),
]


def good_budget_rows() -> list[list[str]]:
    lines = [list(r) for r in AVESTA_LINES]
    lines[0][8] = "956 000"
    return lines + [
        b("FINANSIERING", "", "1 050 000", finansiar="STAT"),
        b("FINANSIERING", "", "525 000", finansiar="Region"),
        b("FINANSIERING", "", "300 000", finansiar="KOMMUN:2084"),
        b("FINANSIERING", "", "225 000", finansiar="Hedemora"),
        b("BEVILJAT", "", "2 100 000", rad_text="Beviljat av styrelsen"),
        summa("2 100 000", "988 000", "1 112 000", "11 000"),
    ]


def test_budget_good_batch_has_no_findings(tmp_path, municipality_list):
    found = validate(tmp_path, [batch("budget", B_COLUMNS, good_budget_rows())])["d1"]
    assert found == []


BUDGET_BAD = [
    (b(ar=""), ["not_be_null:ar"]),
    (b(ar="16"), ["match_regex:ar"]),
    (b(period_slut=""), ["not_be_null:period_slut"]),
    (b(period_slut="snart"), ["match_regex:period_slut"]),
    (b(radtyp=""), ["not_be_null:radtyp"]),
    (b(radtyp="SKATT"), ["be_in_set:radtyp"]),
    (b("FINANSIERING", "XYZ", finansiar="STAT"), ["be_in_set:kostnadsslag"]),
    (b("FINANSIERING", "", finansiar="BANKEN"), ["match_regex:finansiar"]),
    (b("FINANSIERING", ""), ["be_in_set:_line_kind_given"]),
    (b(budget=""), ["not_be_null:budget"]),
    (b(budget="mycket"), ["match_regex:budget"]),
    (b(utfall="x"), ["match_regex:utfall"]),
    (b(differens="x"), ["match_regex:differens"]),
    (b(prognos="x"), ["match_regex:prognos"]),
    (AVESTA_LINES[0], ["be_in_set:_difference_ok"]),
    (b(kostnadsslag="OVRIGT", budget="100 000", utfall="150 000"), ["be_in_set:_overspend_ok"]),
]


def test_budget_bad_batch_fails_exactly_these_rows(tmp_path, municipality_list):
    found = validate(tmp_path, [batch("budget", B_COLUMNS, [r for r, _ in BUDGET_BAD])])["d1"]
    assert failing(found, "budget.landing") == expected("budget.landing", BUDGET_BAD)
    assert set(failing(found, "budget.landing")) == suite_ids("budget.landing")
    lines = {f.row: f.line_sv() for f in found if f.check.startswith("budget.landing:")}
    assert lines[16] == (
        "rad 16, kolumn differens, värde '955000': differensen stämmer inte: budget 1 775 000 − "
        "utfall 819 000 = 956 000, men filen anger 955 000. Giltigt: differens = budget − utfall."
    )
    assert lines[17].endswith(
        "utfallet 150 000 överstiger budgeten 100 000 med mer än 10 000. "
        "Giltigt: utfall högst budget plus tillåten marginal."
    )


def test_avesta_budget_loads_with_the_exact_difference_warning(tmp_path, municipality_list):
    """Reference figures, seed 002: 1 775 000 − 819 000 = 956 000, but the file says 955 000."""
    rows = [*AVESTA_LINES, summa("2 100 000", "988 000", "1 111 000", "+11 000")]
    found = validate(tmp_path, [batch("budget", B_COLUMNS, rows)])["d1"]
    messages = [f.message_sv for f in found]
    assert "differensen stämmer inte: budget 1 775 000 − utfall 819 000 = 956 000, men filen anger 955 000." in messages
    assert (
        "differensen på summaraden stämmer inte: budget 2 100 000 − utfall 988 000 = 1 112 000, "
        "men filen anger 1 111 000." in messages
    )
    assert {f.severity for f in found} == {WARNING}
    assert verdict(found) == "accepted_with_warnings"


def test_overspend_share_is_configurable(tmp_path, municipality_list):
    rows = [b(kostnadsslag="OVRIGT", budget="100 000", utfall="115 000")]
    assert validate(tmp_path, [batch("budget", B_COLUMNS, rows)])["d1"] != []
    assert validate(tmp_path, [batch("budget", B_COLUMNS, rows)], context(overspend_share=0.2))["d1"] == []


def test_budget_totals_suite(tmp_path, municipality_list):
    bad = [*AVESTA_LINES, summa("2 000 000", "990 000", "1 111 000", "12 000")]
    found = validate(tmp_path, [batch("budget", B_COLUMNS, bad)])["d1"]
    assert failing(found, "budget_totals.landing") == {
        "budget_totals.landing:expect_column_values_to_be_in_set:_budget_matches": {5},
        "budget_totals.landing:expect_column_values_to_be_in_set:_utfall_matches": {5},
        "budget_totals.landing:expect_column_values_to_be_in_set:_prognos_matches": {5},
        "budget_totals.landing:expect_column_values_to_be_in_set:_differens_rule_matches": {5},
    }
    bad_difference_sum = [*AVESTA_LINES, summa("2 100 000", "988 000", "1 110 000", "11 000")]
    found = validate(tmp_path, [batch("budget", B_COLUMNS, bad_difference_sum)])["d1"]
    assert "budget_totals.landing:expect_column_values_to_be_in_set:_differens_matches" in failing(found)
    texts = [f.message_sv for f in found if f.check.startswith("budget_totals")]
    assert "summaraden anger 1 110 000 i kolumnen differens, men raderna summerar till 1 111 000." in texts
    every = set(failing(found, "budget_totals.landing")) | {
        "budget_totals.landing:expect_column_values_to_be_in_set:_budget_matches",
        "budget_totals.landing:expect_column_values_to_be_in_set:_utfall_matches",
        "budget_totals.landing:expect_column_values_to_be_in_set:_prognos_matches",
        "budget_totals.landing:expect_column_values_to_be_in_set:_differens_rule_matches",
    }
    assert every == suite_ids("budget_totals.landing")


def test_budget_granted_suite(tmp_path, municipality_list):
    rows = [*AVESTA_LINES, b("BEVILJAT", "", "2 000 000", rad_text="Beviljat")]
    found = validate(tmp_path, [batch("budget", B_COLUMNS, rows)])["d1"]
    granted = [f for f in found if f.check.startswith("budget_granted.landing:")]
    assert [(f.row, f.severity, f.message_sv) for f in granted] == [
        (5, WARNING, "budgeten i filen (2 100 000) skiljer sig från det styrelsen beviljat (2 000 000).")
    ]
    assert set(failing(granted)) == suite_ids("budget_granted.landing")


def test_budget_funding_suite(tmp_path, municipality_list):
    rows = [
        b("FINANSIERING", "", "600 000", finansiar="STAT"),
        b("FINANSIERING", "", "200 000", finansiar="REGION"),
        b("FINANSIERING", "", "100 000", finansiar="KOMMUN:2084"),
        b("FINANSIERING", "", "100 000", finansiar="KOMMUN:2083"),
    ]
    found = validate(tmp_path, [batch("budget", B_COLUMNS, rows, intervention="ALL")])["d1"]
    funding = [f for f in found if f.check.startswith("budget_funding.landing:")]
    # The rule is the association's (contract.yml funding_rule): an intervention's budget is not checked.
    on_intervention = validate(tmp_path / "i", [batch("budget", B_COLUMNS, rows, intervention="AVESTA")])["d1"]
    assert not [f for f in on_intervention if f.check.startswith("budget_funding.landing:")]
    assert sorted((f.row, f.message_sv) for f in funding) == [
        (2, "finansiären STAT står för 60 % av finansieringen, men lagen (2003:1210) 5 § anger 50 %."),
        (3, "finansiären REGION står för 20 % av finansieringen, men lagen (2003:1210) 5 § anger 25 %."),
        (4, "finansiären kommunerna står för 20 % av finansieringen, men lagen (2003:1210) 5 § anger 25 %."),
    ]
    assert {f.severity for f in funding} == {WARNING}
    assert set(failing(funding)) == suite_ids("budget_funding.landing")


# ---------------------------------------------------------------- volym

V_COLUMNS = ["ar", "period_slut", "kon", "antal"]


def test_volym_good_batch_has_no_findings(tmp_path, municipality_list):
    rows = [["2016", "2016-08-31", "K", "12"], ["2016", "2016-08-31", "man", "0"], ["2016", "31/8 2016", "X", "3"]]
    assert validate(tmp_path, [batch("volym", V_COLUMNS, rows, intervention="RAKNA")])["d1"] == []


VOLYM_BAD = [
    (["", "2016-08-31", "K", "1"], ["not_be_null:ar"]),
    (["16", "2016-08-31", "K", "1"], ["match_regex:ar"]),
    (["2016", "", "K", "1"], ["not_be_null:period_slut"]),
    (["2016", "snart", "K", "1"], ["match_regex:period_slut"]),
    (["2016", "2016-08-31", "", "1"], ["not_be_null:kon"]),
    (["2016", "2016-08-31", "Q", "1"], ["be_in_set:kon"]),
    (["2016", "2016-08-31", "M", ""], ["not_be_null:antal"]),
    (["2016", "2016-08-31", "M", "-3"], ["match_regex:antal"]),
    (["2016", "2016-08-31", "M", "2,5"], ["match_regex:antal"]),
    (["2016", "2016-08-31", "M", "tre"], ["match_regex:antal"]),
]


def test_volym_bad_batch_fails_exactly_these_rows(tmp_path, municipality_list):
    found = validate(tmp_path, [batch("volym", V_COLUMNS, [r for r, _ in VOLYM_BAD], intervention="RAKNA")])["d1"]
    assert failing(found) == expected("volym.landing", VOLYM_BAD)
    assert set(failing(found)) == suite_ids("volym.landing")
    assert verdict(found) == "quarantined"


# ---------------------------------------------------------------- uppfoljning

U_COLUMNS = [
    "deltagar_id",
    "personnummer",
    "startdatum",
    "uppfoljningsdatum",
    "uppfoljning_efter",
    "sysselsattning",
    "forsorjning",
]


def u(i: int, **values) -> list[str]:
    """A valid follow-up row (deltagar_id D<i>, episode started 2016-02-01, six months after exit)."""
    row = dict(
        deltagar_id=f"D{i}",
        personnummer="",
        startdatum="2016-02-01",
        uppfoljningsdatum="",
        uppfoljning_efter="6 mån",
        sysselsattning="Arbete",
        forsorjning="Lön",
    )
    row.update(values)
    return [row[c] for c in U_COLUMNS]


def test_uppfoljning_good_batch_has_no_findings(tmp_path, municipality_list):
    rng = random.Random(13)
    rows = [
        u(1),
        u(1, uppfoljning_efter="12 mån", sysselsattning="studier", forsorjning="CSN"),  # the same episode, later
        u(1, startdatum="2016-06-01", uppfoljning_efter="90 dagar"),  # the same person's second episode
        u(
            2,
            deltagar_id="",
            personnummer=synthetic.make_pnr(rng, 1985),
            startdatum="20160115",
            uppfoljningsdatum="2016-08-15",
            uppfoljning_efter="",
            sysselsattning="arbetssökande",
            forsorjning="Aktivitetsstöd, försörjningsstöd",
        ),
        u(3, uppfoljningsdatum="31/8 2016", uppfoljning_efter="6", sysselsattning="Lönebidrag", forsorjning="AKS+FBS"),
        u(4, startdatum="2016-08-31", uppfoljning_efter="1 år", sysselsattning="SJUKSKRIVEN", forsorjning="SJP"),
        u(5, uppfoljning_efter="", uppfoljningsdatum="2016-05-02"),  # given by date only: two dates, two occasions
        u(5, uppfoljning_efter="", uppfoljningsdatum="2016-08-02"),
    ]
    findings = validate(tmp_path, [batch("uppfoljning", U_COLUMNS, rows)])["d1"]
    assert findings == []
    assert verdict(findings) == "accepted"


U_RNG = random.Random(2017)
U_INVALID_PNR = synthetic.invalid_pnr(U_RNG)
U_PNR = synthetic.make_pnr(U_RNG, 1988)
UPPFOLJNING_BAD = [
    (u(1, deltagar_id=""), ["be_in_set:_identity_ok"]),
    (u(2, deltagar_id="", personnummer=U_INVALID_PNR), ["be_in_set:personnummer_status"]),
    (u(3, startdatum=""), ["not_be_null:startdatum"]),
    (u(4, startdatum="igår"), ["match_regex:startdatum"]),
    (u(5, startdatum="2016-09-15"), ["be_in_set:_start_not_future"]),
    (u(6, uppfoljning_efter=""), ["be_in_set:_when_given"]),
    (u(7, uppfoljning_efter="", uppfoljningsdatum="snart"), ["match_regex:uppfoljningsdatum"]),
    (u(8, uppfoljning_efter="", uppfoljningsdatum="2016-09-15"), ["be_in_set:_follow_up_not_future"]),
    (u(9, uppfoljning_efter="", uppfoljningsdatum="2016-01-15"), ["be_in_set:_follow_up_after_start"]),
    (u(10, uppfoljning_efter="efter ett tag"), ["match_regex:uppfoljning_efter"]),
    (u(11, uppfoljning_efter="0"), ["be_between:_months_int"]),
    (u(12, uppfoljning_efter="121"), ["be_between:_months_int"]),
    (u(13, uppfoljning_efter="11 år"), ["be_between:_months_int"]),
    (u(14, sysselsattning=""), ["not_be_null:sysselsattning"]),
    (u(15, sysselsattning="XYZ"), ["be_in_set:sysselsattning"]),
    (u(16, forsorjning=""), ["not_be_null:forsorjning"]),
    (u(17, forsorjning="XYZ"), ["match_regex:forsorjning"]),
    # The same person's episode and time after exit twice, written differently (12 and 10 digits; 6 months).
    (u(18, deltagar_id="", personnummer=U_PNR), ["be_in_set:_duplicate_follow_up"]),
    (
        u(19, deltagar_id="", personnummer=U_PNR[2:], uppfoljning_efter="180 dagar"),
        ["be_in_set:_duplicate_follow_up"],
    ),
    # Six months after exit twice with two dates: one occasion (the report would keep only one).
    (u(20, uppfoljningsdatum="2016-08-01"), ["be_in_set:_duplicate_follow_up"]),
    (u(20, uppfoljningsdatum="2016-08-15"), ["be_in_set:_duplicate_follow_up"]),
]


def test_uppfoljning_bad_batches_fail_exactly_these_rows(tmp_path, municipality_list):
    main = batch("uppfoljning", U_COLUMNS, [row for row, _ in UPPFOLJNING_BAD])
    volume_only = batch("uppfoljning", U_COLUMNS, [u(1)], delivery="d2", intervention="RAKNA")
    unknown = batch("uppfoljning", U_COLUMNS, [u(1)], delivery="d3", intervention="OKAND")
    found = validate(tmp_path, [main, volume_only, unknown])

    assert failing(found["d1"]) == expected("uppfoljning.landing", UPPFOLJNING_BAD)
    # The register decides these two (context(): AVESTA per person, RAKNA counted by volume).
    assert failing(found["d2"]) == {
        "uppfoljning.landing:expect_column_values_to_be_in_set:_intervention_person_level": {2}
    }
    assert failing(found["d3"]) == {"uppfoljning.landing:expect_column_values_to_be_in_set:_intervention_known": {2}}
    every = {c for f in found.values() for c in failing(f)}
    assert every == suite_ids("uppfoljning.landing"), "every uppfoljning expectation is exercised"
    assert {verdict(f) for f in found.values()} == {"quarantined"}

    invalid_pnr = next(f for f in found["d1"] if f.check.endswith(":personnummer_status"))
    assert invalid_pnr.value is None
    lines = "\n".join(f.line_sv() for f in found["d1"])
    for number in (U_INVALID_PNR, U_PNR):
        assert number.replace("-", "")[2:] not in lines.replace("-", "")
    early = next(f for f in found["d1"] if f.check.endswith(":_follow_up_after_start"))
    assert (early.row, early.value) == (10, "startdatum 2016-02-01, uppfoljningsdatum 2016-01-15")
    unknown_finding = next(f for f in found["d3"] if f.check.endswith(":_intervention_known"))
    assert unknown_finding.value == "OKAND" and "AVESTA" in unknown_finding.valid_sv


def test_follow_up_in_the_future_is_measured_against_the_run_date(tmp_path, municipality_list):
    """A period still running: a follow-up after today is in the future even inside the period."""
    rows = [u(1, uppfoljningsdatum="2016-05-02"), u(2, uppfoljningsdatum="2016-05-20")]
    found = validate(tmp_path, [batch("uppfoljning", U_COLUMNS, rows)], context(as_of=date(2016, 5, 10)))["d1"]
    assert failing(found) == {"uppfoljning.landing:expect_column_values_to_be_in_set:_follow_up_not_future": {3}}


# ---------------------------------------------------------------- the suite files themselves


@pytest.mark.parametrize("suite", landing_suites())
def test_suite_file_is_reviewable(suite):
    """Named <dataset>.<stage>, every expectation with a severity and Swedish texts."""
    spec = json.loads((EXPECTATIONS_DIR / f"{suite}.json").read_text(encoding="utf-8"))
    assert spec["name"] == suite
    ids = [f"{e['type']}:{e['kwargs']['column']}" for e in spec["expectations"]]
    assert len(ids) == len(set(ids))
    for e in spec["expectations"]:
        assert e["meta"]["severity"] in (BLOCKING, WARNING, INFO)
        assert e["meta"]["message_sv"] and e["meta"]["valid_sv"]


def test_every_landing_suite_is_covered_here():
    covered = {
        "deltagare.landing",
        "columns.landing",
        "insatser.landing",
        "budget.landing",
        "budget_totals.landing",
        "budget_granted.landing",
        "budget_funding.landing",
        "volym.landing",
        "uppfoljning.landing",
    }
    assert set(landing_suites()) == covered
