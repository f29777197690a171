"""`finsam run` (the pipeline without Airflow): a source that is down stops only its association,
as in the DAG. The run says so in Swedish and exits with code 3 so a scheduler notices."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import REPO, SAMPLE, TEST_SECRET, registry_with_source_down, seed_disclosure_cache

pytestmark = [pytest.mark.dbt]


def test_finsam_run_goes_on_when_one_source_is_down(tmp_path, sample_disclosure_cache, dbt_parse_cache):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "landing" / "SODRA", landing / "SODRA")
    registry = registry_with_source_down(tmp_path)
    # as a county that has published before (the sample's cache: SODRA's interventions hit it)
    seed_disclosure_cache(sample_disclosure_cache, tmp_path / "home" / "warehouse" / "finsam.duckdb")
    env = {
        "PATH": "/usr/bin:/bin",
        "FINSAM_HOME": str(tmp_path / "home"),
        "FINSAM_LANDING": str(landing),
        "FINSAM_REGISTRY": str(registry),
        "FINSAM_HASH_SECRET": TEST_SECRET,
        "GX_ANALYTICS_ENABLED": "false",
        "FINSAM_WORKERS": "1",
        "FINSAM_DBT_PARSE_CACHE": str(dbt_parse_cache),  # the session's, not the user's cache folder
    }
    proc = subprocess.run(
        [sys.executable, "-m", "ingestion.cli", "run", "--no-docs"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Källor som inte gick att nå" in proc.stdout
    assert "Förbundet NORR" in proc.stdout and "mounted-share-that-is-gone" in proc.stdout
    # SODRA's deliveries reached the published marts in the same run.
    import duckdb

    con = duckdb.connect(str(tmp_path / "home" / "publish" / "finsam_marts.duckdb"), read_only=True)
    try:
        assert con.execute("select distinct association_code from marts.fct_participation").fetchall() == [("SODRA",)]
    finally:
        con.close()
