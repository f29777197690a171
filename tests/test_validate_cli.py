"""`finsam validate FILE`: an owner's pre-check gives the pipeline's verdict and Swedish text.

Exit code 0 when the file would load (with or without warnings), 1 when it would be
quarantined or cannot be checked at all. Nothing is written to the real zones.
"""

from __future__ import annotations

import shutil
from datetime import date

from fixtures import synthetic
from smtp_fixture import ended_participant, municipality_list, participant, quality_env, write_file, write_register  # noqa: F401

from ingestion.cli import main
from ingestion.core.config import load_settings
from ingestion.core.findings import Finding
from ingestion.core.rawzone import all_landed
from ingestion.core.registry import load_registry
from ingestion.process import process_association

BUDGET_HEADER = ["ar", "period_slut", "radtyp", "kostnadsslag", "rad_text", "budget", "utfall", "differens", "prognos"]


def finsam_validate(capsys, path, *extra) -> tuple[int, list[str]]:
    code = main(["validate", str(path), "--as-of", "2016-10-15", *extra])
    return code, capsys.readouterr().out.splitlines()


def test_good_file_exit_0(quality_env, tmp_path, capsys):
    path = write_file(
        tmp_path / "mine",
        "SODRA",
        "SODRA_AVESTA_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [participant(1), ended_participant(2)],
    )
    code, lines = finsam_validate(capsys, path)
    assert code == 0
    assert lines == [
        "Kontroll av SODRA_AVESTA_deltagare_2016T2.csv (deltagare (deltagarepisoder), period 2016T2)",
        "Rader lästa: 2, skulle läsas in: 2, hoppade över: 0",
        "Resultat: GODKÄND – filen skulle läsas in.",
    ]
    assert not any(quality_env.raw.glob("*/*/manifest.json")), "nothing lands in the real raw zone"


def test_bad_file_exit_1_with_swedish_lines(quality_env, tmp_path, capsys):
    path = write_file(
        tmp_path / "mine",
        "SODRA",
        "SODRA_AVESTA_deltagare_2016T2.csv",
        synthetic.DELTAGARE_HEADER,
        [participant(1), participant(2, kon="Q"), ended_participant(3, slutdatum="2016-01-15")],
    )
    code, lines = finsam_validate(capsys, path)
    assert code == 1
    assert lines == [
        "Kontroll av SODRA_AVESTA_deltagare_2016T2.csv (deltagare (deltagarepisoder), period 2016T2)",
        "Rader lästa: 3, skulle läsas in: 0, hoppade över: 0",  # a refused file loads nothing
        "Fel som måste rättas (2):",
        "  - rad 3, kolumn kon, värde 'Q': kön har ett värde som inte finns i kodlistan. "
        "Giltigt: K (kvinna), M (man), X (annat/uppgift saknas).",
        "  - rad 4, kolumn slutdatum, värde 'startdatum 2016-02-01, slutdatum 2016-01-15': slutdatum ligger före "
        "startdatum. Giltigt: slutdatum samma dag som eller efter startdatum.",
        "Resultat: UNDERKÄND – filen skulle hamna i karantän. Rätta felen ovan och kontrollera igen.",
    ]
    assert not any(quality_env.raw.glob("*/*/manifest.json"))


def test_warnings_only_exit_0_and_the_avesta_difference(quality_env, tmp_path, capsys):
    path = write_file(
        tmp_path / "mine",
        "SODRA",
        "SODRA_AVESTA_budget_2016T2.csv",
        BUDGET_HEADER,
        [["2016", "2016-06-30", "KOSTNAD", "PERSONAL", "Personal", "1 775 000", "819 000", "955 000", "0"]],
    )
    code, lines = finsam_validate(capsys, path)
    assert code == 0
    assert lines[-3:] == [
        "Varningar (1):",
        "  - rad 2, kolumn differens, värde '955000': differensen stämmer inte: budget 1 775 000 − utfall 819 000 "
        "= 956 000, men filen anger 955 000. Giltigt: differens = budget − utfall.",
        "Resultat: GODKÄND MED VARNINGAR – filen skulle läsas in.",
    ]


def test_missing_required_column_and_bad_names(quality_env, tmp_path, capsys):
    header = [c for c in synthetic.DELTAGARE_HEADER if c != "kon"]
    rows = [[v for c, v in zip(synthetic.DELTAGARE_HEADER, participant(1)) if c != "kon"]]
    path = write_file(tmp_path / "mine", "SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", header, rows)
    code, lines = finsam_validate(capsys, path)
    assert code == 1
    assert (
        "  - kolumn kon: kolumnen kon saknas i filen eller är helt tom, men den krävs enligt exportkontraktet. "
        "Giltigt: en kolumn med rubriken kon, kön."
    ) in lines

    wrong = tmp_path / "mine" / "deltagare_avesta.csv"
    shutil.copyfile(path, wrong)
    code, lines = finsam_validate(capsys, wrong)
    assert code == 1 and lines[0].startswith("Underkänd: filnamnet 'deltagare_avesta.csv' ") and len(lines) == 1

    code, lines = finsam_validate(capsys, tmp_path / "finns_inte.csv")
    assert code == 1 and lines == [f"Filen {tmp_path / 'finns_inte.csv'} finns inte."]


def test_same_verdict_and_text_as_the_pipeline(quality_env, tmp_path, capsys):
    """The lines the owner sees before sending are the lines the pipeline writes after."""
    settings = load_settings()
    registry = load_registry(settings.registry)
    write_register(settings.landing)
    process_association(settings, registry, "SODRA", as_of=date(2016, 10, 15), docs=False)  # the register first

    rows = [
        participant(1),
        participant(2, kommun="2062"),
        participant(3, remittent="REGION"),
        participant(4, fodelsear="19x0"),
        ended_participant(5, avslutsanledning=""),
    ]
    mine = write_file(tmp_path / "mine", "SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", synthetic.DELTAGARE_HEADER, rows)
    code, lines = finsam_validate(capsys, mine)

    shutil.copyfile(mine, settings.landing / "SODRA" / mine.name)
    process_association(settings, registry, "SODRA", as_of=date(2016, 10, 15), docs=False)
    landed = next(l for l in all_landed(settings) if l.manifest["kind"] == "deltagare")
    validation = landed.validation()
    pipeline_lines = [f"  - {Finding.from_dict(f).line_sv()}" for f in validation["findings"]]

    assert validation["status"] == "quarantined" and code == 1
    assert len(pipeline_lines) == 4
    assert sorted(line for line in lines if line.startswith("  - ")) == sorted(pipeline_lines)
    assert "Fel som måste rättas (2):" in lines and "Varningar (2):" in lines
