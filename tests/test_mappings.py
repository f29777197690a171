"""County mappings: the data team teaches the pipeline a word; it is applied where the contract's
labels are, reported to the owner, and checked before it is added."""

from __future__ import annotations

import pandas as pd
import pytest

from ingestion.cli import main
from ingestion.core.mappings import MappingError, add_mapping, load_mappings, rules_fingerprint
from ingestion.intake.normalize import normalise

SECRET = b"test-secret"
HEADER = ["deltagar_id", "kon", "fodelsear", "kommun", "startdatum", "remittent", "forsorjning_fore"]


def _cells(rows):
    return pd.DataFrame([HEADER, *rows], dtype="string")


def _rows(referrer, n):
    return [[f"D-{i}", "K", "1990", "2084", "2016-01-10", referrer, "FBS"] for i in range(n)]


def test_add_mapping_checks_code_and_existing_labels(tmp_path):
    path = tmp_path / "mappings.yml"
    with pytest.raises(MappingError, match="finns inte i kodlistan"):
        add_mapping(path, "remittent", "Jobbcentrum", "JOBB")
    with pytest.raises(MappingError, match="ingen kodlista"):
        add_mapping(path, "fodelsear", "nittio", "1990")
    with pytest.raises(MappingError, match="redan en benämning av koden AF"):
        add_mapping(path, "remittent", "Arbetsförmedlingen", "KOMMUN")
    with pytest.raises(MappingError, match="betyder redan REGION"):
        add_mapping(path, "remittent", "landstinget", "REGION")
    with pytest.raises(MappingError, match="finns inte i länets register"):
        add_mapping(path, "remittent", "Jobbcentrum", "KOMMUN", association="NOPE", known_associations=["SODRA"])
    assert not path.exists()  # nothing written by a refused mapping
    entry = add_mapping(path, "remittent", "Jobbcentrum", "kommun", known_associations=["SODRA"])
    assert entry.code == "KOMMUN"
    with pytest.raises(MappingError, match="finns redan"):
        add_mapping(path, "remittent", "JOBBCENTRUM", "KOMMUN")
    assert load_mappings(path).lookup("remittent", "jobbcentrum", "SODRA") == "KOMMUN"


def test_mapping_applies_to_its_column_and_association_and_is_reported(tmp_path):
    path = tmp_path / "mappings.yml"
    before = rules_fingerprint(path)
    add_mapping(path, "remittent", "Jobbcentrum Syd", "KOMMUN", association="SODRA")
    assert rules_fingerprint(path) != before  # a change triggers replay of refused deliveries
    mappings = load_mappings(path)
    result = normalise(_cells(_rows("Jobbcentrum Syd", 19)), "deltagare", "SODRA", SECRET, mappings=mappings)
    assert set(result.frame["remittent"]) == {"KOMMUN"}
    note = next(n for n in result.notes if n.check == "lansmappning")
    assert note.severity == "info" and note.column == "remittent" and note.value == "Jobbcentrum Syd"
    assert note.rows == list(range(2, 21)) and "KOMMUN" in note.message_sv
    other = normalise(_cells(_rows("Jobbcentrum Syd", 3)), "deltagare", "MITT", SECRET, mappings=mappings)
    assert set(other.frame["remittent"]) == {"Jobbcentrum Syd"}  # another association: still unknown
    assert not [n for n in other.notes if n.check == "lansmappning"]


def test_contract_words_need_no_mapping_and_are_not_reported():
    result = normalise(_cells(_rows("Landstinget", 2)), "deltagare", "SODRA", SECRET)
    assert set(result.frame["remittent"]) == {"REGION"}
    assert not [n for n in result.notes if n.severity == "info"]


def test_finsam_map_command(tmp_path, monkeypatch, capsys):
    path = tmp_path / "mappings.yml"
    monkeypatch.setenv("FINSAM_MAPPINGS", str(path))
    assert main(["map", "--column", "avslutsanledning", "Fick plats på Samhall", "SUBV_ARBETE"]) == 0
    assert "Mappning tillagd" in capsys.readouterr().out
    assert load_mappings(path).lookup("avslutsanledning", "fick plats på samhall", None) == "SUBV_ARBETE"
    assert main(["map", "--column", "avslutsanledning", "Semester", "LEDIG"]) == 1
    assert "koden LEDIG finns inte" in capsys.readouterr().err
