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
    from ingestion.config import load_settings

    settings = load_settings()
    settings.ensure_dirs()
    return settings


def copy_sample_landing(target: Path) -> Path:
    shutil.copytree(SAMPLE / "landing", target, dirs_exist_ok=True)
    return target
