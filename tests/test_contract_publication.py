"""The published contract: docs/contract.md, one Excel template per kind, the dbt code seed.

All generated from ingestion/contract.yml; `finsam contract --check` fails when any is stale.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from ingestion import publish_contract as pc
from ingestion.cli import main
from ingestion.core.contract import load_contract
from ingestion.intake.normalize import normalise
from ingestion.intake.readers import read_cells

KINDS = list(load_contract().data["kinds"])


def test_shipped_files_are_up_to_date_with_the_contract():
    assert pc.write_all(check=True) == []


def test_cli_check_exit_codes(tmp_path, monkeypatch, capsys):
    assert main(["contract", "--check"]) == 0
    stale_doc = tmp_path / "contract.md"
    stale_doc.write_text("# gammal\n", encoding="utf-8")
    monkeypatch.setattr(pc, "DOC", stale_doc)
    assert main(["contract", "--check"]) == 1
    captured = capsys.readouterr()
    assert str(stale_doc) in captured.out and "finsam contract --write" in captured.err
    assert stale_doc.read_text(encoding="utf-8") == "# gammal\n"  # --check writes nothing


def test_write_regenerates_what_is_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(pc, "DOC", tmp_path / "docs" / "contract.md")
    monkeypatch.setattr(pc, "TEMPLATES", tmp_path / "templates")
    monkeypatch.setattr(pc, "seed_files", lambda: {})
    written = pc.write_all()
    assert set(written) == {
        tmp_path / "docs" / "contract.md",
        *[tmp_path / "templates" / f"{k}_mall.xlsx" for k in KINDS],
    }
    assert pc.write_all(check=True) == []


def test_generation_is_reproducible():
    assert pc.template_bytes("deltagare") == pc.template_bytes("deltagare")
    assert pc.contract_markdown() == pc.contract_markdown()


def test_document_lists_every_column_synonym_and_code():
    text = pc.DOC.read_text(encoding="utf-8")
    contract = load_contract()
    for kind in KINDS:
        assert f"templates/{kind}_mall.xlsx" in text
        for name, col in contract.columns(kind).items():
            assert f"`{name}`" in text
            for synonym in col.synonyms:
                assert f"`{synonym}`" in text
    for list_name, codes in contract.data["codes"].items():
        assert f"### Kodlista `{list_name}`" in text
        for code in codes:
            assert f"| `{code.replace('|', chr(92) + '|')}` |" in text


@pytest.mark.parametrize("kind", KINDS)
def test_template_has_the_contract_columns_and_drop_downs_of_valid_codes(kind):
    contract = load_contract()
    wb = load_workbook(io.BytesIO(pc.kind_template(kind).read_bytes()))
    assert wb.sheetnames == [kind, "instruktioner", "koder"]
    sheet = wb[kind]
    columns = contract.columns(kind)
    assert [c.value for c in sheet[1]] == list(columns)
    validations = {str(v.sqref).split(":")[0]: v for v in sheet.data_validations.dataValidation}
    codes_sheet = wb["koder"]
    for index, (name, col) in enumerate(columns.items(), start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        validation = validations.get(f"{letter}2")
        if col.type in ("code", "codes", "yesno"):
            assert validation is not None and validation.type == "list", name
            list_name = "ja_nej" if col.type == "yesno" else col.codes
            assert validation.formula1 == f"=kod_{list_name}"
            target = wb.defined_names[f"kod_{list_name}"].attr_text  # koder!$B$x:$B$y
            first, last = (int(part.split("$")[-1]) for part in target.split("!")[1].split(":"))
            listed = [codes_sheet.cell(row=r, column=2).value for r in range(first, last + 1)]
            assert listed == contract.codes(list_name), name
        elif col.type == "date":
            assert validation is not None and validation.type == "date"
        elif col.type in ("int", "percent"):
            assert validation is not None and validation.type == "whole"


def test_a_filled_template_is_read_by_the_pipeline(tmp_path):
    wb = load_workbook(pc.kind_template("deltagare"))
    sheet = wb["deltagare"]
    columns = list(load_contract().columns("deltagare"))
    row = {
        "deltagar_id": "D-1",
        "kon": "K",
        "fodelsear": 1985,
        "kommun": "2084",
        "startdatum": "2016-02-01",
        "forsorjning_fore": "FBS",
        "remittent": "AF",
    }
    for index, name in enumerate(columns, start=1):
        sheet.cell(row=2, column=index, value=row.get(name))
    path = tmp_path / "SODRA_AVESTA_deltagare_2016T2.xlsx"
    wb.save(path)
    result = normalise(
        read_cells(path, "deltagare", max_bytes=1 << 30, max_unzipped=1 << 30), "deltagare", "SODRA", b"k"
    )
    assert len(result.frame) == 1 and result.rows_dropped == 0
    assert result.frame.iloc[0][["kon", "fodelsear", "forsorjning_fore", "remittent"]].tolist() == [
        "K",
        "1985",
        "FBS",
        "AF",
    ]


def test_seed_comes_from_the_dbt_projects_exporter():
    files = pc.seed_files()
    seed = pc.SEED_EXPORTER.parents[1] / "seeds" / "contract_codes.csv"
    assert seed in files
    header, *rows = files[seed].decode("utf-8").splitlines()
    assert header.startswith("code_list,code,label_sv")
    assert "forsorjning,FBS,försörjningsstöd/ekonomiskt bistånd" in "\n".join(rows)
