"""`finsam demo` (`make demo`): the real Airflow DAG on the bundled sample county.

Uses the embedded default: SQLite for Airflow's metadata, a DuckDB file for the warehouse,
everything under `var/demo/`. The sample's drop folders are copied to the demo's landing
zone (the pipeline moves files out of landing as it lands them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ingestion.core.config import REPO_ROOT

SAMPLE = REPO_ROOT / "data" / "sample"
DAG_ID = "finsam_county"


def airflow_env(home: Path, extra: dict | None = None) -> dict:
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update(
        {
            "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "FINSAM_HOME": str(home),
            "GX_ANALYTICS_ENABLED": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NO_COLOR": "1",
        }
    )
    env.update(extra or {})
    return env


def airflow(env: dict, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), *args], env=env, check=check, capture_output=capture, text=True
    )


def prepare_airflow(env: dict) -> None:
    airflow(env, "db", "migrate")
    airflow(env, "pools", "set", "finsam_warehouse", "1", "En skrivare åt gången i DuckDB-lagret")


def run_dag(env: dict, logical_date: str | None = None, conf: dict | None = None) -> tuple[str, str]:
    """`airflow dags test`: a real DAG run (real scheduler logic, tasks in-process). `conf` sets the
    DAG's params for this run (`--conf`, as `airflow dags trigger` does), e.g. {"full_refresh": True}."""
    import json

    args = ["dags", "test", DAG_ID] + ([logical_date] if logical_date else [])
    if conf:
        args += ["--conf", json.dumps(conf)]
    proc = airflow(env, *args, check=False)
    output = proc.stdout + proc.stderr
    # Airflow's own closing line for the run: "DagRun Finished: dag_id=…, state=success, …"
    finished = re.findall(rf"DagRun Finished: dag_id={DAG_ID},.*?\bstate=(\w+)", output)
    state = finished[-1] if finished else ("failed" if proc.returncode else "unknown")
    return state, output


DEMO_WEEKS_AFTER = 4  # the demo runs this long after the sample's last period ended


def sample_as_of(landing: Path = SAMPLE / "landing", weeks_after: int = DEMO_WEEKS_AFTER) -> str:
    """The date the demo runs at: a few weeks after the last period the sample county delivers, as a
    real county would run then. "Today" would make every 2015–2016 delivery years late: reminders
    about thousands of days, and no delivery on time in marts.delivery_status."""
    from datetime import timedelta

    from ingestion.intake.discover import NameError_, parse_file_name

    ends = []
    for path in landing.rglob("*"):
        try:
            ends.append(parse_file_name(path.name).period.end)
        except NameError_:
            continue
    return (max(ends) + timedelta(weeks=weeks_after)).isoformat()


def run_demo(fresh: bool = True, home: Path | None = None) -> int:
    home = (home or REPO_ROOT / "var" / "demo").resolve()
    if fresh and home.exists():
        shutil.rmtree(home)
    landing = home / "landing"
    shutil.copytree(SAMPLE / "landing", landing, dirs_exist_ok=True)
    extra = {
        "FINSAM_DEMO": "1",
        "FINSAM_REFERENCE_CHECKS": "1",
        "FINSAM_LANDING": str(landing),
        "FINSAM_REGISTRY": str(SAMPLE / "registry.yml"),
        "FINSAM_WAREHOUSE": str(home / "warehouse" / "finsam.duckdb"),
    }
    env = airflow_env(home, extra)
    print("Förbereder Airflow (SQLite) …", flush=True)
    prepare_airflow(env)
    as_of = sample_as_of()
    print(f"Kör flödet {DAG_ID} i Airflow på exempellänet (Dalarnas län) per {as_of} …", flush=True)
    state, output = run_dag(env, conf={"as_of": as_of})
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    (home / "airflow" / "dags-test-output.log").write_text(output, encoding="utf-8")
    if state != "success":
        print(output[-4000:])
        print(f"Körningen slutade med status {state}. Hela utskriften: {home / 'airflow' / 'dags-test-output.log'}")
        return 1
    os.environ.update(extra)
    os.environ["FINSAM_HOME"] = str(home)
    from ingestion.core.config import load_settings
    from ingestion.core.registry import load_registry
    from ingestion.pipeline import summary_lines, unknown_drop_folders

    settings = load_settings()
    registry = load_registry(settings.registry)
    print(f"\nKörningen i Airflow lyckades (status {state}).\n")
    print("\n".join(summary_lines(settings, registry, unknown_drop_folders(settings, registry))))
    print(f"dbt-dokumentation: {settings.publish / 'dbt-docs' / 'index.html'}")
    print(f"Utskick till ägarna (kopior): {settings.reports / 'outbox'}")
    return 0
