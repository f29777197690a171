"""DAG integrity of `finsam_reports`: imports cleanly, is scheduled on the very Asset that
`publish_marts` in `finsam_county` updates, has its one task with a bounded timeout, updates its
own Asset, documents itself in Swedish, and imports nothing heavy at parse time."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_reports_dag_imports_and_has_its_task(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.dags["finsam_reports"]
    assert set(dag.task_dict) == {"refresh_reports"}
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.start_date.tzinfo is not None


def test_scheduled_on_the_asset_publish_marts_updates(dagbag):
    from airflow.sdk import Asset

    published = dagbag.dags["finsam_county"].task_dict["publish_marts"].outlets
    assert len(published) == 1
    schedule = dagbag.dags["finsam_reports"].timetable
    assets = list(getattr(schedule.asset_condition, "objects", ()))  # schedule=[asset]: AssetAll of one
    assert len(assets) == 1 and isinstance(assets[0], Asset)
    assert (assets[0].uri, assets[0].name) == (published[0].uri, published[0].name)


def test_the_task_updates_the_reports_asset_within_a_bounded_time(dagbag):
    dag = dagbag.dags["finsam_reports"]
    task = dag.task_dict["refresh_reports"]
    assert [o.uri for o in task.outlets] == ["x-finsam://publish/rapporter"]
    assert timedelta(minutes=5) <= task.execution_timeout <= timedelta(hours=1)
    assert task.execution_timeout < dag.dagrun_timeout < timedelta(hours=24)
    row = re.search(r"^\| 1 \| `refresh_reports`.*\| (\d+) min \|$", dag.doc_md, re.M)
    assert row and timedelta(minutes=int(row.group(1))) == task.execution_timeout


def test_doc_md_in_swedish_names_the_assets_and_the_folder(dagbag):
    doc = dagbag.dags["finsam_reports"].doc_md
    for words in (
        "rapporter",
        "publish_marts",
        "x-finsam://publish/marts",
        "<förbund>/<insats>/<period>",
        "fingeravtryck",
    ):
        assert words in doc, words


def test_reports_dag_file_parses_without_heavy_imports():
    code = (
        "import sys; sys.path.insert(0, 'dags'); import finsam_reports; "
        "print([m for m in ('typst', 'docx', 'matplotlib', 'duckdb', 'pandas', 'dbt') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
