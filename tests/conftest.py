"""Shared fixtures. Every test writes under tmp_path; nothing touches var/ or the sample."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
TEST_SECRET = "test-secret-only-for-pytest"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


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


@pytest.fixture(scope="session")
def published_sample(tmp_path_factory) -> Path:
    """The sample county run once per test session through the whole pipeline (as of 2017-01-15).
    Returns the run's home: `var/` (warehouse, publish, quarantine, …), `landing/`. Shared by many
    test modules: read it, never change it (copy what a test must change; `county_env(home)` gives
    the environment that points a process at it)."""
    home = tmp_path_factory.mktemp("published_sample")
    run_county_pipeline(home, SAMPLE, SAMPLE_AS_OF)
    return home


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
    """SODRA delivers into its landing folder; NORR's source is a share that is gone."""
    registry = tmp_path / "registry.yml"
    registry.write_text(
        f"""county: {{code: "20", name: Dalarnas län}}
data_team_email: data@example.se
associations:
  - {{code: SODRA, name: Södra Dalarna, municipalities: ["2084", "2083", "2082"]}}
  - code: NORR
    name: Norra Dalarna
    municipalities: ["2062"]
    source: {{type: folder, path: "{tmp_path / "mounted-share-that-is-gone"}"}}
""",
        encoding="utf-8",
    )
    return registry


def pytest_collection_modifyitems(config, items):
    """A test that asks for a PostgreSQL database needs the server (`make test-fast` leaves it out)."""
    for item in items:
        if "fresh_postgres_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.services)
