"""`normalise_many` (a whole association's deliveries of one kind at once) gives each delivery
exactly what `normalise` gives it alone: rows, columns, dtypes, notes, counts, totals."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
from fixtures.synthetic import DELTAGARE_HEADER, csv_bytes, make_pnr

from ingestion.intake.discover import parse_file_name
from ingestion.intake.normalize import normalise, normalise_many
from ingestion.intake.readers import UnreadableFile, read_cells, read_csv_text

SECRET = b"batch-test-secret"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "landing"
LIMITS = {"max_bytes": 1 << 30, "max_unzipped": 1 << 30}


def _same(single, batched):
    if isinstance(single, UnreadableFile):
        assert isinstance(batched, UnreadableFile) and str(batched) == str(single)
        return
    pd.testing.assert_frame_equal(batched.frame, single.frame)
    assert [n.to_dict() for n in batched.notes] == [n.to_dict() for n in single.notes]
    assert (batched.rows_read, batched.rows_dropped, batched.had_personnummer) == (
        single.rows_read,
        single.rows_dropped,
        single.had_personnummer,
    )
    if single.totals is None:
        assert batched.totals is None
    else:
        pd.testing.assert_frame_equal(batched.totals, single.totals)


def _alone(cells, kind, association, erased=frozenset()):
    try:
        return normalise(cells, kind, association, SECRET, erased)
    except UnreadableFile as exc:
        return exc


@pytest.mark.parametrize("association", sorted(p.name for p in SAMPLE.iterdir() if p.is_dir()))
def test_batch_equals_one_by_one_on_the_sample(association):
    by_kind: dict[str, list] = {}
    for path in sorted((SAMPLE / association).iterdir()):
        try:
            name = parse_file_name(path.name)
            cells = read_cells(path, name.kind, **LIMITS)
        except Exception:
            continue
        by_kind.setdefault(name.kind, []).append(cells)
    assert by_kind
    for kind, cells_list in by_kind.items():
        batched = normalise_many(cells_list, kind, association, SECRET)
        for cells, result in zip(cells_list, batched):
            _same(_alone(cells, kind, association), result)


def test_batch_keeps_each_files_problems_to_itself():
    rng = random.Random(7)
    pnr, other = make_pnr(rng, 1980), make_pnr(rng, 1990)
    good = [
        ["", pnr, "K", "1980", "2084", "2020-01-01", "", "AF", "FBS", "", "", "", "", "", "", "", "N"],
        [
            "D-2",
            "",
            "M",
            "1970",
            "Falun",
            "2020-02-01",
            "2020-05-01",
            "AF",
            "FBS",
            "AKS",
            "",
            "",
            "",
            "",
            "",
            "ARBETE",
            "Nej",
        ],
        ["", other, "K", "", "2084", "2020-03-01", "", f"ring {other}", "FBS", "", "", "", "", "", "", "", "J"],
    ]
    width = len(DELTAGARE_HEADER)
    with_blank = good + [[""] * width] + good + [["Summa"] + [""] * (width - 1)] + [[""] * width]
    files = [
        read_csv_text(csv_bytes(DELTAGARE_HEADER, good)),
        read_csv_text(csv_bytes(DELTAGARE_HEADER, [])),  # header only
        read_csv_text(csv_bytes(DELTAGARE_HEADER, with_blank, title_rows=["Deltagare", ""])),
        read_csv_text(b"nothing;like;a;header\n1;2;3;4\n"),  # no header
        read_csv_text(csv_bytes(DELTAGARE_HEADER, [["Summa"] + [""] * (width - 1)])),  # only a total row
        read_csv_text(csv_bytes(DELTAGARE_HEADER, [["x", "y"] + r[2:] for r in good])),
    ]
    erased = set()
    first = _alone(files[0], "deltagare", "SODRA")
    erased.add(first.frame["person_key"].iloc[0])
    for erase in (frozenset(), frozenset(erased)):
        batched = normalise_many(files, "deltagare", "SODRA", SECRET, erase)
        for cells, result in zip(files, batched):
            _same(_alone(cells, "deltagare", "SODRA", erase), result)
    checks = {n.check for result in batched if not isinstance(result, UnreadableFile) for n in result.notes}
    assert {
        "tomma_rader",
        "summeringsrad",
        "personnummer_i_fel_kolumn",
        "anonym_med_identitet",
        "samtycke_aterkallat",
    } <= checks
    assert sum(isinstance(result, UnreadableFile) for result in batched) == 3
