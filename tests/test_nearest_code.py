"""Code errors name the nearest valid code (export contract: 'names the row, the value and the nearest valid code')."""

from __future__ import annotations

from datetime import date

import pandas as pd

from ingestion.quality.suites import Batch, Context, nearest_code, run_validation


def test_nearest_code_for_misspellings():
    assert nearest_code("forsorjning", "Försörjningstöd") == "FBS"
    assert nearest_code("avslutsanledning", "Arbte") == "ARBETE"
    assert nearest_code("forsorjning", "AKS+Socialbidragg") == "FBS"
    assert nearest_code("avslutsanledning", "Semester") is None  # nothing close: no guess


def test_finding_quotes_value_and_nearest_code(tmp_path):
    frame = pd.DataFrame(
        {
            "source_row": [2],
            "person_key": ["k1"],
            "person_key_source": ["deltagar_id"],
            "personnummer_status": [None],
            "is_anonymous": [False],
            "kon": ["K"],
            "fodelsear": ["1990"],
            "kommun": ["2084"],
            "startdatum": ["2016-01-10"],
            "slutdatum": [None],
            "remittent": [None],
            "forsorjning_fore": ["Försörjningstöd"],
            "forsorjning_efter": [None],
            "sysselsattning_fore": [None],
            "sysselsattning_efter": [None],
            "omfattning_efter": [None],
            "utbildning": [None],
            "tid_offentlig_forsorjning": [None],
            "avslutsanledning": [None],
            "anonym": [None],
        }
    ).astype({"source_row": "int64"})
    findings = run_validation(
        [Batch("d1", "deltagare", "SODRA", "AVESTA", date(2016, 4, 30), frame)],
        Context(as_of=date(2016, 5, 1), area=("2084",)),
        tmp_path / "gx",
        docs=False,
    )["d1"]
    wrong = [f for f in findings if f.column == "forsorjning_fore"]
    assert len(wrong) == 1
    assert wrong[0].row == 2 and wrong[0].value == "Försörjningstöd"
    assert "Närmaste giltiga kod: FBS" in wrong[0].valid_sv
