"""Large deliveries (fault run, items 7–8): memory bounded by the contract, not by the file.

A CSV above the cell bound is refused from a chunked count of its records, before it is read
whole; a huge cell is cut by the normaliser, so nothing after it (raw zone, GX, findings, mails)
holds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures.county import county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import csv_bytes

from ingestion.intake.readers import MAX_CELLS, UnreadableFile, read_cells

HEADER = ["deltagar_id", "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore"]
ROWS = [[f"D-{i}", "K", "1980", "2084", "2016-02-01", "FBS"] for i in range(6)]


def large_csv(path: Path, mb: int) -> int:
    """A valid-looking deltagare CSV of about `mb` MB (a block of rows repeated); returns its rows."""
    block = "".join(f"D-{i};K;1980;2084;2016-02-01;FBS\n" for i in range(20_000)).encode()
    copies = max(1, (mb << 20) // len(block))
    with open(path, "wb") as out:
        out.write(";".join(HEADER).encode() + b"\n")
        for _ in range(copies):
            out.write(block)
    return 20_000 * copies


def test_a_csv_over_the_cell_bound_is_refused_with_its_size(tmp_path):
    path = tmp_path / "SODRA_AVESTA_deltagare_2016T2.csv"
    rows = large_csv(path, 1)
    with pytest.raises(UnreadableFile) as refused:
        read_cells(path, "deltagare", max_bytes=300 << 20, max_unzipped=1 << 30, max_cells=100_000)
    shown = f"{rows + 1:,}".replace(",", " ")
    assert f"CSV-filen är för stor ({shown} rader × 6 kolumner, gränsen är 100 000 celler)" in str(refused.value)
    # Below the bound the same file is read whole.
    cells = read_cells(path, "deltagare", max_bytes=300 << 20, max_unzipped=1 << 30, max_cells=(rows + 1) * 6)
    assert cells.shape == (rows + 1, 6)


def test_a_100_mb_csv_is_refused_in_bounded_memory(tmp_path):
    """A 100 MB CSV (17 million cells) is refused before it is read: the process never holds the file."""
    path = tmp_path / "SODRA_AVESTA_deltagare_2016T2.csv"
    rows = large_csv(path, 100)
    assert path.stat().st_size > 99 << 20 and (rows + 1) * 6 > MAX_CELLS
    code = textwrap.dedent(
        f"""
        import resource
        from pathlib import Path
        from ingestion.intake.readers import UnreadableFile, read_cells
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            read_cells(Path({str(path)!r}), "deltagare", max_bytes=300 << 20, max_unzipped=1 << 30)
            print("read")
        except UnreadableFile as exc:
            print(exc)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) // 1024)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    message, grown_mb = done.stdout.strip().splitlines()
    assert message.startswith("CSV-filen är för stor (") and "dela upp leveransen per period" in message
    assert int(grown_mb) < 64  # chunks of 16 MB, never the 100 MB file


def test_a_huge_cell_is_cut_by_the_normaliser(county):  # noqa: F811  (the fixture)
    rows = [list(r) for r in ROWS]
    rows[2][1] = "Q" * 5_000_000  # kön: a 5 MB cell
    rows[3][0] = "D-" + "x" * 2_000_000  # a text column: stored only as its start and length
    county.deliver_register()
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T2.csv", csv_bytes(HEADER, rows))
    summary = county.process()["SODRA"]
    assert [q["file"] for q in summary["quarantined"]] == ["SODRA_AVESTA_deltagare_2016T2.csv"]  # Q is no kön
    name = "SODRA_AVESTA_deltagare_2016T2.csv"  # the owner's own file, kept in quarantine as it came
    written = max(p.stat().st_size for p in county.settings.home.rglob("*") if p.is_file() and p.name != name)
    assert written < 1_000_000  # no raw copy, verdict, GX result or quarantine note holds the cell
    explanation = (county.settings.quarantine / "SODRA" / "SODRA_AVESTA_deltagare_2016T2.csv.fel.txt").read_text()
    assert "cellen är längre än 1000 tecken; bara början lästes in (rad 4)" in explanation
    assert "5000000 tecken" in explanation
