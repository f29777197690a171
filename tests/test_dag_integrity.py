"""DAG integrity: every DAG imports cleanly, the expected tasks in their order, no cycles, nothing
heavy at parse time; params, timeouts and the published Asset. A real run with params is
test_end_to_end_airflow's second run."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow]

REPO = Path(__file__).resolve().parent.parent
# The order of the pipeline; the docs and the other tests name these tasks.
TASK_ORDER = [
    "list_associations",
    "process_association",
    "load_warehouse",
    "build_marts",
    "validate_facts",
    "send_alerts",
    "track_deliveries",
    "publish_marts",
]
EXPECTED_TASKS = set(TASK_ORDER)
MARTS_ASSET_URI = "x-finsam://publish/marts"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "finsam_county" in dagbag.dags


def test_expected_tasks_and_order(dagbag):
    """One straight line, in exactly this order: each task has the previous one as its only upstream."""
    dag = dagbag.dags["finsam_county"]
    assert set(dag.task_dict) == EXPECTED_TASKS
    for previous, task_id in zip([None, *TASK_ORDER], TASK_ORDER):
        task = dag.task_dict[task_id]
        assert task.upstream_task_ids == ({previous} if previous else set()), task_id
    for task_id, following in zip(TASK_ORDER, [*TASK_ORDER[1:], None]):
        assert dag.task_dict[task_id].downstream_task_ids == ({following} if following else set()), task_id
    assert dag.task_dict["load_warehouse"].trigger_rule == "all_done"


def test_only_the_fan_out_reads_another_tasks_result(dagbag):
    """The order comes from chain(), not from passing results nobody reads: no task but the mapped
    process_association takes an argument from another task."""
    dag = dagbag.dags["finsam_county"]
    for task_id in TASK_ORDER:
        task = dag.task_dict[task_id]
        if task_id == "process_association":
            continue
        assert not task.op_args and not task.op_kwargs, (task_id, task.op_args, task.op_kwargs)


def test_no_cycles_and_sane_settings(dagbag):
    dag = dagbag.dags["finsam_county"]
    # topological_sort raises on a cycle
    order = [t.task_id for t in dag.topological_sort()] if hasattr(dag, "topological_sort") else None
    if order is not None:
        assert order.index("list_associations") < order.index("send_alerts")
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.start_date.tzinfo is not None
    assert dag.doc_md and "finsam_county" in dag.doc_md


def test_warehouse_writers_share_one_pool(dagbag):
    dag = dagbag.dags["finsam_county"]
    assert dag.task_dict["load_warehouse"].pool == "finsam_warehouse"
    for task_id in ("build_marts", "validate_facts", "publish_marts", "send_alerts", "track_deliveries"):
        assert dag.task_dict[task_id].pool == "finsam_warehouse", task_id


def test_fan_out_is_per_association_not_per_file(dagbag):
    task = dagbag.dags["finsam_county"].task_dict["process_association"]
    assert task.is_mapped
    expanded = task.op_kwargs_expand_input.value
    assert set(expanded) == {"association"}
    assert expanded["association"].operator.task_id == "list_associations"


def test_dag_file_parses_fast_without_heavy_imports():
    """Nothing heavy at the top of the DAG file: importing it must not pull in GX, dbt or pandas."""
    code = (
        "import sys, time; t = time.time(); sys.path.insert(0, 'dags'); import finsam_county; "
        "heavy = [m for m in ('great_expectations', 'dbt', 'pandas', 'duckdb') if m in sys.modules]; "
        "print(heavy, time.time() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    heavy, _seconds = out.stdout.strip().rsplit(" ", 1)
    assert heavy == "[]"


def test_params_defaults_and_descriptions(dagbag):
    dag = dagbag.dags["finsam_county"]
    assert set(dag.params) == {"full_refresh", "as_of", "docs"}
    assert dag.params["full_refresh"] is False
    assert dag.params["as_of"] is None
    assert dag.params["docs"] is True
    for name in dag.params:
        param = dag.params.get_param(name)
        assert param.schema.get("type"), name
        # Swedish for the people who fill in the trigger form
        assert param.schema.get("title") and param.description, name
        assert re.search(r"\b(och|eller|för|körningen|alla|inte)\b", param.description), (name, param.description)
    assert dag.params.get_param("as_of").schema.get("format") == "date"


@pytest.mark.parametrize(
    ("conf", "valid"),
    [
        ({}, True),
        ({"full_refresh": True}, True),
        ({"full_refresh": "true"}, False),
        ({"full_refresh": 1}, False),
        ({"as_of": "2026-10-31"}, True),
        ({"as_of": None}, True),
        ({"as_of": "2026-13-01"}, False),
        ({"as_of": "31/10/2026"}, False),
        ({"as_of": 20261031}, False),
        ({"docs": False}, True),
        ({"docs": "nej"}, False),
    ],
)
def test_params_are_validated_as_a_trigger_validates_them(dagbag, conf, valid):
    """What `airflow dags trigger --conf`, the REST API and the trigger form do before a run is created:
    the serialized DAG's params merged with the conf, then validated."""
    from airflow.sdk.exceptions import ParamValidationError
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags["finsam_county"]))
    merged = serialized.params.deep_merge(conf)
    if valid:
        assert merged.validate() == {"full_refresh": False, "as_of": None, "docs": True} | conf
    else:
        with pytest.raises(ParamValidationError):
            merged.validate()


def test_every_task_has_a_bounded_execution_timeout(dagbag):
    dag = dagbag.dags["finsam_county"]
    for task in dag.tasks:
        timeout = task.execution_timeout
        assert timeout is not None, task.task_id
        # seconds of work at national scale (README, Benchmark): minutes are generous, hours are not a bound;
        # except a first publish, whose disclosure step protects every intervention (~80 min nationally)
        longest = timedelta(hours=2) if task.task_id == "publish_marts" else timedelta(hours=1)
        assert timedelta(minutes=5) <= timeout <= longest, (task.task_id, timeout)
        assert timeout < dag.dagrun_timeout, task.task_id


def test_the_dag_run_has_a_timeout_within_a_day(dagbag):
    dag = dagbag.dags["finsam_county"]
    assert dag.dagrun_timeout is not None
    # a hung run must end before the next scheduled run (daily, max_active_runs=1), and a try of each step fits
    assert sum((t.execution_timeout for t in dag.tasks), timedelta()) <= dag.dagrun_timeout < timedelta(hours=24)


def test_the_docs_table_shows_the_real_timeouts(dagbag):
    dag = dagbag.dags["finsam_county"]
    for task in dag.tasks:
        row = re.search(rf"^\| \d \| `{task.task_id}`.*\| (\d+) min \|$", dag.doc_md, re.M)
        assert row, task.task_id
        assert timedelta(minutes=int(row.group(1))) == task.execution_timeout, task.task_id
    assert f"{int(dag.dagrun_timeout.total_seconds() // 3600)} timmar" in dag.doc_md


def test_publish_marts_updates_the_marts_asset(dagbag):
    from airflow.sdk import Asset

    dag = dagbag.dags["finsam_county"]
    outlets = dag.task_dict["publish_marts"].outlets
    assert len(outlets) == 1 and isinstance(outlets[0], Asset)
    assert outlets[0].uri == MARTS_ASSET_URI and outlets[0].name == "finsam_marts"
    for task in dag.tasks:
        if task.task_id != "publish_marts":
            assert not task.outlets, task.task_id
    assert MARTS_ASSET_URI in dag.doc_md


def test_doc_md_in_swedish_names_steps_params_and_asset(dagbag):
    doc = dagbag.dags["finsam_county"].doc_md
    for word in ("förbund", "leverans", "Parametrar", "Tillgång"):
        assert word in doc, word
    for name in [*TASK_ORDER, "full_refresh", "as_of", "docs", MARTS_ASSET_URI]:
        assert f"`{name}`" in doc or name in doc, name
    assert """airflow dags trigger finsam_county --conf '{"full_refresh": true}'""" in doc
