"""Ingestion speed: our reader + normaliser against DuckDB's own read_csv (the floor).

    python bench/bench_ingestion.py                      # CSV 10^5 and 10^6 rows, XLSX 10^5 and 2·10^5
    python bench/bench_ingestion.py --csv-rows 100000 --xlsx-rows 100000 --repeat 5

Generates `deltagare` deliveries with the test suite's synthetic generator (realistic
owners' values: Swedish labels, several date forms, personnummer in 10/12-digit forms, a
title row above the header), then times, best of --repeat:

- ours: `read_cells` + `normalise` (the whole landing read, personnummer hashed included)
- floor: DuckDB `read_csv(all_varchar=true)` of the same CSV, fully materialised to Arrow
  (parse only: no typing, no codes, no hashing); for XLSX, of the same rows written as CSV

Runs of ours and of the floor alternate, so load from other processes slows both alike.

XLSX files are written with openpyxl's streaming writer; XLSX stops at 2·10^5 rows by
default because writing a 10^6-row workbook alone takes minutes (pass --xlsx-rows to go
further). Not part of `make test`: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fixtures.synthetic import DELTAGARE_HEADER, deltagare_rows, municipalities_file, write_csv, write_xlsx  # noqa: E402

SECRET = b"bench-secret"


def generate(out: Path, kind: str, rows: int) -> Path:
    path = out / f"SODRA_AVESTA_deltagare_2016T2_{rows}.{kind}"
    if path.exists():
        return path
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = deltagare_rows(rows, seed=7)
    part = path.with_suffix(path.suffix + ".part")
    if kind == "csv":
        write_csv(part, DELTAGARE_HEADER, data, title_rows=["Deltagare Samverkansteam Avesta 2016 T2"])
    else:
        write_xlsx(
            part,
            DELTAGARE_HEADER,
            data,
            sheet="deltagare",
            write_only=True,
            title_rows=["Deltagare Samverkansteam Avesta 2016 T2"],
        )
    os.replace(part, path)
    print(
        f"  generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return path


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def best_of(repeat: int, path: Path, floor_path: Path) -> tuple[tuple, tuple]:
    """Fastest run of ours and of the floor, interleaved so that load on the machine hits both alike."""
    ours_runs, floor_runs = [], []
    for _ in range(repeat):
        floor_runs.append(timed(lambda: floor(floor_path)))
        ours_runs.append(timed(lambda: ours(path)))
    return min(ours_runs, key=lambda r: r[0]), min(floor_runs, key=lambda r: r[0])


def ours(path: Path) -> tuple[float, float, int]:
    from ingestion.intake.normalize import normalise
    from ingestion.intake.readers import read_cells

    start = time.perf_counter()
    cells = read_cells(path, "deltagare", max_bytes=1 << 40, max_unzipped=1 << 40)
    read = time.perf_counter() - start
    result = normalise(cells, "deltagare", "SODRA", SECRET)
    return read, time.perf_counter() - start, len(result.frame)


def floor(path: Path) -> int:
    import duckdb

    con = duckdb.connect()
    try:
        table = con.sql(f"select * from read_csv('{path}', all_varchar=true, header=true, skip=1)").to_arrow_table()
        return table.num_rows
    finally:
        con.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-rows", default="100000,1000000")
    parser.add_argument("--xlsx-rows", default="100000,200000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "ingestion"))
    args = parser.parse_args()
    out = Path(args.out)

    import ingestion.intake.normalize as normalize

    if not normalize.MUNICIPALITIES_CSV.exists():  # municipality names -> codes need the seed
        normalize.MUNICIPALITIES_CSV = municipalities_file(out / "municipalities.csv")
        normalize.municipalities.cache_clear()
        normalize.municipality_names.cache_clear()

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"best of {args.repeat}"
    )
    lines = []
    for rows in [int(r) for r in args.csv_rows.split(",") if r]:
        path = generate(out, "csv", rows)
        (ours_s, (read_s, _total, kept)), (floor_s, floor_rows) = best_of(args.repeat, path, path)
        lines.append(("CSV", rows, kept, read_s, ours_s, floor_s, floor_rows))
    for rows in [int(r) for r in args.xlsx_rows.split(",") if r]:
        path = generate(out, "xlsx", rows)
        csv_path = generate(out, "csv", rows)  # the floor: DuckDB on the same rows as CSV
        (ours_s, (read_s, _total, kept)), (floor_s, floor_rows) = best_of(args.repeat, path, csv_path)
        lines.append(("XLSX", rows, kept, read_s, ours_s, floor_s, floor_rows))

    print()
    print(
        "| format | rows | ours: read (s) | ours: read+normalise (s) | ours rows/s | DuckDB read_csv floor (s) "
        "| floor rows/s | ours / floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for fmt, rows, kept, read_s, ours_s, floor_s, floor_rows in lines:
        print(
            f"| {fmt} | {rows:,} | {read_s:.2f} | {ours_s:.2f} | {kept / ours_s:,.0f} | {floor_s:.2f} | "
            f"{floor_rows / floor_s:,.0f} | {ours_s / floor_s:.1f}× |"
        )
    print()
    print(
        f"Peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB. "
        "Target: CSV within 3× of the floor. XLSX is compared with the CSV floor for the same rows."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
