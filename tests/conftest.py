"""Shared fixtures. Every test writes under tmp_path; nothing touches var/ or the sample."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
REFERENCE = REPO / "data" / "sample_reference"  # Skellefteå 2014, reconciled with its real report
TEST_SECRET = "test-secret-only-for-pytest"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def session_folder(tmp_path_factory) -> Path:
    """The test session's temporary folder, shared by its xdist workers (each worker's own base
    folder is inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory) -> Path:
    """dbt's parsed project kept for the test session (FINSAM_DBT_PARSE_CACHE), in a folder the
    xdist workers share, and so do the processes they start (a `finsam run`, Airflow's tasks): the
    project is parsed once for the session and for every target and set of vars, not once per
    county home (tests/test_dbt_parse_cache.py). Not the user's cache folder."""
    path = session_folder(tmp_path_factory) / "dbt-parse-cache"
    os.environ["FINSAM_DBT_PARSE_CACHE"] = str(path)
    return path


@pytest.fixture
def finsam_env(tmp_path, monkeypatch):
    """A fresh set of zones under tmp_path, with a test hash secret; returns the Settings."""
    home = tmp_path / "home"
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("FINSAM_HOME", str(home))
    monkeypatch.setenv("FINSAM_LANDING", str(landing))
    monkeypatch.setenv("FINSAM_WAREHOUSE", str(home / "warehouse" / "finsam.duckdb"))
    monkeypatch.setenv("FINSAM_REGISTRY", str(SAMPLE / "registry.yml"))
    monkeypatch.setenv("FINSAM_HASH_SECRET", TEST_SECRET)
    monkeypatch.delenv("FINSAM_DEMO", raising=False)
    for name in ("FINSAM_SMTP_HOST", "FINSAM_SMTP_PORT", "FINSAM_BI_POSTGRES_DSN", "FINSAM_DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    from ingestion.core.config import load_settings

    settings = load_settings()
    settings.ensure_dirs()
    return settings


SAMPLE_AS_OF = "2017-01-15"


def county_env(home: Path, data: Path = SAMPLE) -> dict[str, str]:
    """The environment a county run under `home` reads (landing, zones, warehouse, registry)."""
    return {
        "FINSAM_HOME": str(home / "var"),
        "FINSAM_LANDING": str(home / "landing"),
        "FINSAM_REGISTRY": str(data / "registry.yml"),
        "FINSAM_DEMO": "1",
        "FINSAM_WAREHOUSE": str(home / "var" / "warehouse" / "finsam.duckdb"),
        "FINSAM_WORKERS": "1",
    }


def run_county_pipeline(home: Path, data: Path, as_of) -> Path:
    """The whole pipeline (no scheduler, no docs) on a copy of a sample's landing folders under
    `home`; returns the folder of the published snapshot (`finsam_marts.duckdb`, `parquet/`)."""
    import datetime as dt

    shutil.copytree(data / "landing", home / "landing")
    mp = pytest.MonkeyPatch()
    for key, value in county_env(home, data).items():
        mp.setenv(key, value)
    for name in ("FINSAM_SMTP_HOST", "FINSAM_SMTP_PORT", "FINSAM_BI_POSTGRES_DSN", "FINSAM_DBT_TARGET"):
        mp.delenv(name, raising=False)
    try:
        from ingestion.core.config import load_settings
        from ingestion.core.registry import load_registry
        from ingestion.pipeline import run_pipeline

        settings = load_settings()
        as_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(as_of)
        run_pipeline(settings, load_registry(settings.registry), as_of=as_of, docs=False)
    finally:
        mp.undo()
    return settings.publish


def record_current_registers(con) -> None:
    """What every load writes for a warehouse filled by hand: each association's current register,
    chosen by ingestion's own rule (`load_current_registers`) from the register deliveries here."""
    from types import SimpleNamespace

    from ingestion.warehouse.load import load_current_registers

    deliveries = con.execute(
        "select distinct insatser.association_code, insatser.delivery_id, insatser.period_end, insatser.received_at, "
        "coalesce(load_ledger.status, 'accepted') from raw.insatser "
        "left join meta.load_ledger on insatser.delivery_id = load_ledger.delivery_id"
    ).fetchall()
    load_current_registers(
        con,
        [
            SimpleNamespace(
                delivery_id=delivery_id,
                status=status,
                manifest={
                    "kind": "insatser",
                    "association": association,
                    "period_end": period_end.isoformat(),
                    "received_at": received_at.isoformat(),
                },
            )
            for association, delivery_id, period_end, received_at, status in deliveries
        ],
    )


def shared_across_workers(tmp_path_factory, name: str, make) -> Path:
    """`make(folder)` run once per test session, also under pytest-xdist: the first worker that
    asks runs it into a folder beside the workers' own base folders (under an exclusive file
    lock), the others wait for it; each worker then gets its own copy under its own base folder,
    so no two processes ever open the same files. Without xdist, `make` runs into the copy."""
    mine = tmp_path_factory.mktemp(name)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        make(mine)
        return mine
    import fcntl

    root = session_folder(tmp_path_factory)
    shared, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(shared, ignore_errors=True)  # what a failed attempt left
                shared.mkdir()
                make(shared)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    shutil.copytree(shared, mine, symlinks=True, dirs_exist_ok=True)
    return mine


@pytest.fixture(scope="session")
def published_sample(tmp_path_factory) -> Path:
    """The sample county run once per test session through the whole pipeline (as of 2017-01-15),
    shared by the xdist workers (each reads its own copy). Returns the run's home: `var/`
    (warehouse, publish, quarantine, …), `landing/`. Shared by many test modules: read it, never
    change it (copy what a test must change; `county_env(home)` gives the environment that points
    a process at it)."""
    return shared_across_workers(
        tmp_path_factory, "published_sample", lambda home: run_county_pipeline(home, SAMPLE, SAMPLE_AS_OF)
    )


@pytest.fixture(scope="session")
def sample_disclosure_cache(published_sample) -> Path:
    """The disclosure cache `published_sample`'s publish left (each intervention's secondary
    suppression, keyed by a fingerprint of its published rows and of the method: no personal data).
    A test that runs the sample county for something else than disclosure control starts with a
    copy of it (`seed_disclosure_cache`), as a county that has published before does: the
    interventions whose rows are the same take their suppression from it, the others are protected
    again, and the result is the same as without it (tests/test_disclosure_cache.py). Protecting the
    whole sample cold is proved once, by `published_sample`, and checked by the attacker tests."""
    from ingestion.outbound.publish import disclosure_cache_beside

    cache = disclosure_cache_beside(Path(county_env(published_sample)["FINSAM_WAREHOUSE"]))
    assert cache.is_file(), "published_sample's publish left no disclosure cache"
    return cache


def seed_disclosure_cache(cache: Path, warehouse: Path) -> None:
    """A copy of `cache` where a run whose warehouse is the DuckDB file `warehouse` keeps its cache."""
    from ingestion.outbound.publish import disclosure_cache_beside

    target = disclosure_cache_beside(warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache, target)


@pytest.fixture(scope="session")
def published_skelleftea(tmp_path_factory) -> Path:
    """The reference sample (data/sample_reference: Skellefteå 2014) run once per test session
    through the whole pipeline as of 2015-03-01, shared as `published_sample` is. Returns the
    run's home; read it, never change it."""
    import datetime as dt

    return shared_across_workers(
        tmp_path_factory,
        "published_skelleftea",
        lambda home: run_county_pipeline(home, REFERENCE, dt.date(2015, 3, 1)),
    )


def copy_sample_landing(target: Path) -> Path:
    shutil.copytree(SAMPLE / "landing", target, dirs_exist_ok=True)
    return target


def require_service(host: str, port: int, what: str, start_hint: str) -> None:
    """Production-shape tests need real servers. Without them the test fails, saying what to start."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError:
        missing_tool(f"{what} svarar inte på {host}:{port}. Starta den: {start_hint}")


def missing_tool(message: str) -> None:
    """A server or tool the test needs is missing: a failure that says what to start or install.
    Never a skip: a test that did not run proves nothing (PostgreSQL and Redis run on every
    machine this project is built on)."""
    pytest.fail(message)


@pytest.fixture
def fresh_postgres_db():
    """A throwaway PostgreSQL database on 127.0.0.1:5432 (trust auth), dropped afterwards."""
    require_service(
        "127.0.0.1", 5432, "PostgreSQL", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    )
    import psycopg2

    name = f"finsam_test_{os.getpid()}_{abs(hash(os.urandom(4))) % 10**6}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    try:
        yield {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "", "dbname": name}
    finally:
        with admin.cursor() as cur:
            cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,))
            cur.execute(f'drop database if exists "{name}"')
        admin.close()


def registry_with_source_down(tmp_path: Path) -> Path:
    """The sample county's registry, with NORR's source a share that is gone (SODRA and MITT
    deliver into their landing folders)."""
    import yaml

    registry = yaml.safe_load((SAMPLE / "registry.yml").read_text(encoding="utf-8"))
    norr = next(a for a in registry["associations"] if a["code"] == "NORR")
    norr["source"] = {"type": "folder", "path": str(tmp_path / "mounted-share-that-is-gone")}
    path = tmp_path / "registry.yml"
    path.write_text(yaml.safe_dump(registry, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# Seconds each slow module took on two xdist workers (pytest --durations=0 --junitxml, setup + call +
# teardown; a module's first use of a shared county counts its build, and a module that waits for
# another worker's build counts the wait). Measured 2026-12-03 evening, nothing else running: only
# the order is used.
# The slowest run first, so the workers' last modules are short ones and neither waits long for the
# other at the end (`--dist loadfile` hands out whole modules in collection order, with
# `--no-loadscope-reorder`). Modules not listed follow in their usual order.
SHARED_COUNTIES = {"published_sample", "published_skelleftea"}  # built once per session, shared
MEASURED_SECONDS = {
    "test_disclosure_attack.py": 380,  # since every breakdown is dense; 250 s before, 490 s with the sex/age months
    "test_production_topology.py": 160,
    "test_dbt_project.py": 147,
    "test_kill_points.py": 131,
    "test_end_to_end_airflow.py": 160,  # 124 s measured, then the Airflow UI browser tests joined it
    "test_incremental_build.py": 120,
    "test_validation_report.py": 88,
    "test_replay_airflow.py": 120,  # with the source that is down (test_dag_source_down merged into it)
    "test_facts_suites.py": 73,
    "test_quality_gate_e2e.py": 65,
    "test_disclosure_cache.py": 63,
    "test_portal_browser.py": 59,
    "test_tracking.py": 55,
    "test_no_personnummer_leak.py": 54,
    "test_period_marts.py": 46,
    "test_forget.py": 39,
    "test_run_source_down.py": 28,
    "test_reports_followup_budget.py": 29,
    "test_sources_sftp.py": 28,
    "test_disclosure_outputs.py": 26,
    "test_follow_up.py": 24,
    "test_rules_agree.py": 24,
    "test_faults.py": 20,
    "test_corrections.py": 20,
    "test_process_many.py": 13,
    "test_suites.py": 13,
    "test_reports.py": 13,
    "test_targets.py": 10,
    "test_crash_safety.py": 10,
    "test_dbt_parse_cache.py": 14,
    "test_portal.py": 7,
    "test_alerts_smtp.py": 7,
    "test_grouped_findings.py": 6,
}


def pytest_collection_modifyitems(config, items):
    """A test that asks for a PostgreSQL database needs the server (`make test-fast` leaves it out).
    The slowest modules first (MEASURED_SECONDS); within a module the order is unchanged."""
    for item in items:
        if "fresh_postgres_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.services)
    items.sort(key=lambda item: -MEASURED_SECONDS.get(item.path.name, 0))  # stable: module order kept
    # The first module builds the shared counties it uses while the other worker starts the second:
    # that one must need none of them, or it waits for the build (the slowest that needs none goes there).
    modules = list(dict.fromkeys(item.path for item in items))
    waits = {item.path for item in items if SHARED_COUNTIES & set(getattr(item, "fixturenames", ()))}
    beside = next((m for m in modules[1:] if m not in waits), None)
    if len(modules) > 2 and modules[1] in waits and beside is not None:
        items.sort(key=lambda item: (item.path != modules[0], item.path != beside))  # stable
