"""The contract's vocabulary: the words owners write, read as codes; ambiguous words never guessed."""

from __future__ import annotations

import pandas as pd
import pytest

from ingestion.core.contract import load_contract
from ingestion.intake.normalize import code_parser, kommun_code

# One everyday wording per code, as owners write it in running text: inflected, beside a
# name, in another case, in a longer phrase. None of these is the code or its label as written
# in the contract, so each proves the vocabulary, not the code list.
EVERYDAY = {
    "kon": {"K": "Kvinnor", "M": "Pojke", "X": "Vill ej uppge"},
    "forsorjning": {
        "SJP": "Rehabiliteringsersättning",
        "AKE": "Tidsbegränsad aktivitetsersättning",
        "SJE": "Förtidspension",
        "AKASSA": "Ersättning från a-kassa",
        "AKS": "Utvecklingsersättning",
        "ETB": "Etableringsstöd",
        "FBS": "Ekonomiskt bistånd från socialtjänsten",
        "LON": "Lön från arbete",
        "SUBV": "Nystartsjobb",
        "CSN": "Studielån",
        "INGEN": "Försörjs av anhöriga",
        "OVR": "Föräldrapenning",
    },
    "sysselsattning": {
        "ARBETE": "Jobbar på lagret",
        "SUBV_ARBETE": "Lönebidragsanställning",
        "STUDIER": "Studerar på komvux",
        "ARBETSSOKANDE": "Inskriven hos Arbetsförmedlingen",
        "REHAB": "Arbetsträning",
        "EJ_AKTUELL": "Föräldraledig",
        "OKAND": "Vet ej",
    },
    "utbildning": {
        "FORGYMNASIAL": "Grundskolan",
        "GYMNASIAL": "Gymnasiet",
        "EFTERGYMNASIAL": "Högskola/universitet",
        "OKAND": "Ingen uppgift",
    },
    "tid_offentlig_forsorjning": {
        "0": "Aldrig",
        "<1": "Mindre än ett år",
        "1-2": "1 till 2 år",
        "2-5": "2 till 5 år",
        "5-10": "Fem till tio år",
        "10+": "Mer än tio år",
        "OKAND": "Vet ej",
    },
    "avslutsanledning": {
        "ARBETE": "Fått jobb",
        "SUBV_ARBETE": "Subventionerad anställning",
        "STUDIER": "Började studera",
        "ARBETSSOKANDE": "Arbetslös",
        "REHAB": "Vidare till annan insats",
        "SJE_AKE": "Beviljad sjukersättning",
        "AVBROTT": "Eget önskemål",
        "OHALSA": "Sjukdom",
        "FLYTT": "Flyttat till Gävle",
        "ANNAT": "Annan orsak",
        "FELREG": "Registrerad av misstag",
    },
    "remittent": {
        "FK": "Försäkringskassan Borlänge",
        "AF": "Arbetsförmedlingen i Falun",
        "KOMMUN": "Socialtjänsten Avesta",
        "REGION": "Landstinget",
        "EGEN": "Självremiss",
        "ANNAN": "Frivården",
    },
    "inriktning": {"INDIVID": "Individinriktade", "STRUKTUR": "Strukturinsats"},
    "malgrupp": {
        "UNGA_16_29": "Ungdomar",
        "PSYKISK_OHALSA": "Psykisk funktionsnedsättning",
        "FBS_LANGVARIGT": "Långvarigt ekonomiskt bistånd",
        "NYANLANDA": "Nyanländ",
        "SJUKSKRIVNA": "Långtidssjukskrivna",
        "FUNKTIONSNEDSATTNING": "NPF",
        "MISSBRUK": "Beroendeproblematik",
        "ALLA_16_64": "Arbetsför ålder",
    },
    "matmetod": {"PERSON": "Personnivå", "VOLYM": "Räknas i antal"},
    "huvudman": {"FK": "Försäkringskassa", "AF": "Arbetsförmedling", "REGION": "Landstinget Dalarna"},
    "radtyp": {"KOSTNAD": "Kostnader", "FINANSIERING": "Intäkter", "BEVILJAT": "Beslutad budget"},
    "kostnadsslag": {
        "PERSONAL": "Lönekostnader",
        "LOKALER": "Lokalhyra",
        "OVRIGT": "Köpta tjänster",
        "ADMIN": "Revision",
        "ESF": "Socialfondskostnader",
    },
    "finansiar": {
        "STAT": "Statliga medel",
        "REGION": "Landstingets andel",
        "EGET_KAPITAL": "Balanserat resultat",
        "ESF": "ESF-medel",
        "OVRIG": "Övriga intäkter",
        "FORBUNDET": "Medel från samordningsförbundet",
    },
    "ja_nej": {"J": "Sant", "N": "Falskt"},
}

# Words that must name two or more codes, never one: the owner is told which.
AMBIGUOUS = [
    ("forsorjning", "Sjukskriven", {"SJP", "FBS", "INGEN"}),
    ("utbildning", "Folkhögskola", {"FORGYMNASIAL", "GYMNASIAL", "EFTERGYMNASIAL"}),
    ("utbildning", "Gymnasiet, ej fullföljt", {"FORGYMNASIAL", "GYMNASIAL"}),
    ("avslutsanledning", "Arbete eller studier", {"ARBETE", "STUDIER"}),
    ("avslutsanledning", "Åter till Arbetsförmedlingen", {"ARBETSSOKANDE", "REHAB"}),
    ("remittent", "Beroendemottagningen", {"KOMMUN", "REGION"}),
    ("sysselsattning", "Praktik", {"ARBETSSOKANDE", "REHAB"}),
]


def test_every_code_has_an_everyday_label_under_test():
    contract = load_contract()
    for code_list in contract.data["codes"]:
        assert set(EVERYDAY.get(code_list, {})) == set(contract.codes(code_list)), code_list


@pytest.mark.parametrize(
    "code_list,code,value", [(cl, code, value) for cl, codes in EVERYDAY.items() for code, value in codes.items()]
)
def test_everyday_words_read_as_their_code(code_list, code, value):
    contract = load_contract()
    assert value.upper() != code and value.lower() != contract.code_list(code_list)[code]["label"].lower()
    parse = code_parser(code_list, multi=False)
    assert parse(value) == code
    assert parse(value.upper()) == code  # any case


@pytest.mark.parametrize("code_list,value,codes", AMBIGUOUS)
def test_ambiguous_words_are_not_guessed(code_list, value, codes):
    match = load_contract().vocabulary(code_list).match(value)
    assert match.code is None
    assert set(match.candidates) >= codes


def test_the_longest_alias_wins_and_the_narrower_code_is_meant():
    vocabulary = load_contract().vocabulary("avslutsanledning")
    assert vocabulary.match("Subventionerad anställning").code == "SUBV_ARBETE"  # not ARBETE ("anställning")
    assert vocabulary.match("Anställning med lönebidrag").code == "SUBV_ARBETE"  # a subsidised job is a job
    assert vocabulary.match("Semester").code is None  # nothing close: no guess


def test_a_negation_is_never_read_past():
    vocabulary = load_contract().vocabulary("utbildning")
    assert vocabulary.match("Inte gymnasium").code is None
    assert load_contract().vocabulary("forsorjning").match("Ingen ersättning").code == "INGEN"  # the alias holds it


def test_typos_in_long_words_are_read_and_short_ones_are_not():
    contract = load_contract()
    match = contract.vocabulary("forsorjning").match("Försörjningstöd")
    assert (match.code, match.how) == ("FBS", "fuzzy")
    assert contract.vocabulary("avslutsanledning").match("Arbte").code is None  # too short to be sure


def test_several_values_in_a_single_code_column():
    parse = code_parser("utbildning", multi=False)
    assert parse("Högskola/universitet") == "EFTERGYMNASIAL"  # two words, one code
    assert parse("Grundskola/gymnasium") is None  # two codes in one-code column
    multi = code_parser("forsorjning", multi=True)
    assert multi("Försörjningsstöd och sjukpenning") == "SJP+FBS"
    assert multi("AKS+qwxz") is None  # one unknown part: not half-read


@pytest.mark.parametrize(
    "value,code",
    [
        ("Avesta", "2084"),
        ("Avesta kommun", "2084"),
        ("AVESTA KOMMUN", "2084"),
        ("Kommun: Avesta", "2084"),
        ("Avesta (2084)", "2084"),
        ("2084", "2084"),
        ("Hedemora", "2083"),
        ("Säters kommun", "2082"),
    ],
)
def test_municipalities_with_or_without_kommun(value, code):
    assert kommun_code(value) == code


def test_a_code_and_a_name_that_disagree_are_not_guessed():
    assert kommun_code("Avesta (2083)") is None
    assert kommun_code("FK + AF + 2084") is None


def test_contract_document_lists_vocabulary_and_ambiguous_words():
    from ingestion.publish_contract import contract_markdown

    text = contract_markdown()
    assert "landstinget" in text.lower() and "subventionerad anställning" in text.lower()
    assert "Ord som kan betyda flera koder" in text and "beroendemottagningen" in text.lower()


def test_an_ambiguous_value_is_refused_naming_the_codes_it_could_mean(tmp_path):
    """Through the quality gate: the owner reads which codes the word could mean, and no code is guessed."""
    from datetime import date

    from ingestion.intake.normalize import normalise
    from ingestion.quality.suites import Batch, Context, run_validation, verdict

    header = ["deltagar_id", "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore", "utbildning"]
    rows = [[f"D-{i}", "K", "1990", "2084", "2016-01-10", "Sjukskriven", "Folkhögskola"] for i in range(3)]
    result = normalise(pd.DataFrame([header, *rows], dtype="string"), "deltagare", "SODRA", b"secret")
    batch = Batch("d1", "deltagare", "SODRA", "AVESTA", date(2016, 4, 30), result.frame)
    findings = run_validation([batch], Context(as_of=date(2016, 5, 15), area=("2084",)), tmp_path / "gx", docs=False)[
        "d1"
    ]
    assert verdict(findings) == "quarantined"
    support = next(f for f in findings if f.column == "forsorjning_fore" and f.severity == "blocking")
    assert support.candidates == ["SJP", "FBS", "INGEN"] and support.nearest is None
    assert "kan betyda flera koder" in support.valid_sv and "FBS (försörjningsstöd" in support.valid_sv
    assert support.rows == [2, 3, 4]
    education = next(f for f in findings if f.column == "utbildning")
    assert set(education.candidates) == {"FORGYMNASIAL", "GYMNASIAL", "EFTERGYMNASIAL"}
