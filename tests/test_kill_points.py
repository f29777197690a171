"""Kill points at every step of a run (issue 18): a real `finsam run` process on a tiny synthetic
county is killed with SIGKILL at each step boundary, from discovery to the swap of the published
snapshot. The kills are a chain: each run is the next run after the previous kill, finishes what
that run left and is killed itself at the next step (its hook firing proves it got past the
killed step); a last, normal run completes. After every kill nothing delivered is lost (each file
still in landing or in the raw zone), no personnummer is anywhere under the county's folders (file
names included) or in the output, and the published snapshot is whole: the one before the run or
the clean run's. After the last run the county equals one clean run of the same deliveries:

- nothing lost: every delivered file is loaded (all its kept rows) or quarantined with its
  `.fel.txt`, and the landing folders are empty;
- nothing duplicated: the ledger, the raw rows per delivery and the quarantine folder equal the
  clean run's;
- the published snapshot opens and its tables, and every Parquet file, equal the clean run's
  (the runs' own timestamps aside);
- at most one alert mail per delivery: the mails the SMTP server received over all the runs are
  the clean run's mails, once each.

The kill is placed by a hook the child process installs in its own bootstrap code (a function of
the step replaced by one that kills the process before it, or after it returns); nothing in the
pipeline knows about the test. The clean reference run and the chain start from copies of the same
base county (one earlier clean run), so their builds are incremental. Every run costs a dbt build
once it gets that far, so the kills are chained rather than each followed by its own normal run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import TEST_SECRET
from fixtures.needles import Needles
from fixtures.synthetic import (
    DELTAGARE_HEADER,
    csv_bytes,
    deltagare_rows,
    insatser_rows,
    make_pnr,
    pnr_forms,
    registry_file,
)
from smtp_fixture import SmtpServer

pytestmark = pytest.mark.dbt

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2016, 11, 15)
PNRS = [make_pnr(random.Random(seed), year=1975 + seed) for seed in range(12)]


def deltagare(n: int, seed: int, municipalities: tuple[str, ...], bad_kon: bool = False) -> bytes:
    rows = deltagare_rows(n, seed=seed, pnrs=PNRS, with_pnr_share=0.8, municipalities=municipalities)
    if bad_kon:
        for row in rows[:3]:
            row[2] = "Q"  # not a valid kön: the delivery is quarantined
    return csv_bytes(DELTAGARE_HEADER, rows)


def register(association: str, interventions: tuple[str, ...], kommun: str) -> bytes:
    header, rows = insatser_rows(association, interventions, kommun)
    return csv_bytes(header, rows)


SODRA = ("2084", "2083", "2082")
NORR = ("2062", "2034", "2039")
BASE = {  # delivered and run once, cleanly, before every kill point
    "SODRA/SODRA_ALL_insatser_2016.csv": register("SODRA", ("AVESTA", "KRAFTEN"), "2084"),
    "NORR/NORR_ALL_insatser_2016.csv": register("NORR", ("MORA",), "2062"),
    "SODRA/SODRA_AVESTA_deltagare_2016T1.csv": deltagare(12, 1, SODRA),
}
BATCH = {  # the run that is killed: two accepted deliveries and one for the quarantine
    "SODRA/SODRA_AVESTA_deltagare_2016T2.csv": deltagare(16, 2, SODRA),
    "SODRA/SODRA_KRAFTEN_deltagare_2016T2.csv": deltagare(10, 3, SODRA, bad_kon=True),
    "NORR/NORR_MORA_deltagare_2016T2.csv": deltagare(14, 4, NORR),
}

# The child: a `finsam run` whose step `point` is replaced by one that kills the process.
CHILD = textwrap.dedent("""
    import importlib, os, signal, sys

    def die():
        print("KILLED AT", sys.argv[1], flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def before(module, name):
        mod = importlib.import_module(module)
        def killed(*args, **kwargs):
            die()
        setattr(mod, name, killed)

    def after(module, name, nth=1):
        mod = importlib.import_module(module)
        real, calls = getattr(mod, name), []
        def killed(*args, **kwargs):
            result = real(*args, **kwargs)
            calls.append(1)
            if len(calls) >= nth:
                die()
            return result
        setattr(mod, name, killed)

    class ReplaceThenDie:  # `os` for publish.py: dies after the rename whose target ends so
        def __init__(self, suffix):
            self.suffix = suffix
        def __getattr__(self, name):
            return getattr(os, name)
        def replace(self, src, dst):
            os.replace(src, dst)
            if str(dst).endswith(self.suffix):
                die()

    point = sys.argv[1]
    if point == "after_discovery":  # names parsed, events written; nothing landed
        before("ingestion.process", "land_files")
    elif point == "after_landing_one_file":  # one delivery pseudonymised and in the raw zone
        after("ingestion.intake.land", "_store")
    elif point == "after_one_verdict":  # one verdict written, the others not
        after("ingestion.process", "write_validation")
    elif point == "between_validation_and_quarantine":
        before("ingestion.process", "quarantine")
    elif point == "after_quarantine":  # quarantined, the original still in landing
        after("ingestion.process", "quarantine")
    elif point == "during_load":  # inside the load's transaction, one delivery inserted
        import ingestion.warehouse.load as load
        load.LOAD_BATCH = 1
        after("ingestion.warehouse.load", "_insert_deliveries")
    elif point == "after_load_before_build":
        before("ingestion.pipeline", "build_marts")
    elif point == "during_build":  # dbt has built some models, not all
        import dbt.task.run as run
        real, calls = run.ModelRunner.execute, []
        def execute(self, model, manifest):
            result = real(self, model, manifest)
            calls.append(1)
            if len(calls) >= 6:
                die()
            return result
        run.ModelRunner.execute = execute
    elif point == "after_build_before_recording_it":
        after("ingestion.warehouse.build", "dbt")
    elif point == "before_alerts":
        before("ingestion.pipeline", "send_alerts")
    elif point == "after_one_alert_mail":  # one mail taken by the SMTP server, its outcome not written
        after("ingestion.outbound.alerts", "send_mail")
    elif point == "after_alerts":
        after("ingestion.pipeline", "send_alerts")
    elif point == "during_publish_parquet":  # some Parquet files written, the snapshot not yet swapped
        import ingestion.outbound.publish as publish
        publish.os = ReplaceThenDie("marts.rpt_intervention_outcomes.parquet")
    elif point == "after_publish_snapshot":  # the snapshot swapped in, the publish queue not yet emptied
        import ingestion.outbound.publish as publish
        publish.os = ReplaceThenDie("finsam_marts.duckdb")
    elif point != "none":
        raise SystemExit(f"okänd punkt {point}")
    from ingestion.cli import run  # the `finsam` command's entry point
    run(["run", "--no-docs", "--as-of", sys.argv[2]])
""")

# In the order of a run's steps. Each run of the chain is the next run after the previous kill:
# it finishes what the killed run left and is killed itself at the next step.
KILL_POINTS = [
    "after_discovery",
    "after_landing_one_file",
    "after_one_verdict",
    "between_validation_and_quarantine",
    "after_quarantine",
    "during_load",
    "after_load_before_build",
    "during_build",
    "after_build_before_recording_it",
    "before_alerts",
    "after_one_alert_mail",
    "after_alerts",
    "during_publish_parquet",
    "after_publish_snapshot",
]


def env_for(root: Path, smtp: SmtpServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSAM_") or k == "FINSAM_DBT_PARSE_CACHE"}
    env.update(
        PYTHONPATH=str(REPO),
        GX_ANALYTICS_ENABLED="false",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        FINSAM_HOME=str(root / "home"),
        FINSAM_LANDING=str(root / "landing"),
        FINSAM_WAREHOUSE=str(root / "home" / "warehouse" / "finsam.duckdb"),
        FINSAM_REGISTRY=str(root / "registry.yml"),
        FINSAM_HASH_SECRET=TEST_SECRET,
        FINSAM_WORKERS="1",
        FINSAM_SMTP_HOST="127.0.0.1",
        FINSAM_SMTP_PORT=str(smtp.port),
        FINSAM_MAIL_FROM="finsam@lan.example",
    )
    return env


def run(root: Path, smtp: SmtpServer, point: str = "none") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, point, AS_OF.isoformat()],
        cwd=REPO,
        env=env_for(root, smtp),
        capture_output=True,
        text=True,
        timeout=300,
    )


def deliver(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / "landing" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def warehouse(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "home" / "warehouse" / "finsam.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


VOLATILE_TYPES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")


def _rows(con, relation: str, columns: list[tuple[str, str]]) -> list[tuple]:
    kept = [name for name, kind in columns if kind not in VOLATILE_TYPES and not name.endswith("_at")]
    select = ", ".join(f'"{c}"' for c in kept) or "1"
    return sorted(con.execute(f"select {select} from {relation}").fetchall(), key=repr)


def parquet_tables(root: Path) -> dict[str, list[tuple]]:
    """Every published Parquet file's rows, sorted, the run's own timestamps left out."""
    con = duckdb.connect()
    try:
        tables = {}
        for path in sorted((root / "home" / "publish" / "parquet").glob("*.parquet")):
            relation = f"read_parquet('{path}')"
            columns = [(name, kind) for name, kind, *_ in con.execute(f"describe select * from {relation}").fetchall()]
            tables[path.name] = _rows(con, relation, columns)
        return tables
    finally:
        con.close()


def snapshot_tables(root: Path) -> dict[str, list[tuple]]:
    """Every table of the published snapshot, its rows sorted, the run's own timestamps left out."""
    con = duckdb.connect(str(root / "home" / "publish" / "finsam_marts.duckdb"), read_only=True)
    try:
        tables = {}
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall():
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            tables[f"{schema}.{table}"] = _rows(con, f"{schema}.{table}", columns)
        return tables
    finally:
        con.close()


def state(root: Path, smtp: SmtpServer) -> dict:
    ledger = warehouse(
        root,
        "select delivery_id, association_code, intervention_code, kind, period, file_name, status, rows_kept "
        "from meta.load_ledger order by delivery_id",
    )
    raw_rows = {}
    for (table,) in warehouse(root, "select table_name from information_schema.tables where table_schema = 'raw'"):
        for delivery_id, rows in warehouse(root, f"select delivery_id, count(*) from raw.{table} group by 1"):
            raw_rows[(table, delivery_id)] = rows
    return {
        "quarantine": sorted(str(p.relative_to(root)) for p in (root / "home" / "quarantine").rglob("*")),
        "parquet": parquet_tables(root),
        "ledger": ledger,
        "raw_rows": raw_rows,
        "snapshot": snapshot_tables(root),
        "mails": Counter((str(m["Subject"]), str(m.get("X-Finsam-Delivery", ""))) for m in list(smtp.inbox.messages)),
    }


def personnummer_found(root: Path, *texts: str) -> list[str]:
    """Where any form of the deliveries' personnummer occurs: a path under the county's home
    (its name or its bytes), or one of `texts` (the runs' output)."""
    needles = sorted({form for pnr in PNRS for form in pnr_forms(pnr, date(2026, 1, 1))}, key=len, reverse=True)
    in_bytes = Needles(needles)  # one pass over each file for all the forms
    found = []
    for path in sorted((root / "home").rglob("*")):
        name = str(path.relative_to(root))
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        if any(n in name for n in needles) or in_bytes.any_in(data):
            found.append(name)
    found += [f"utskrift {i}" for i, text in enumerate(texts) if any(n in text for n in needles)]
    return found


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base(tmp_path_factory, smtp) -> Path:
    """A county after one clean run (full dbt build): the start of every kill point."""
    root = tmp_path_factory.mktemp("kill_base")
    registry_file(root / "registry.yml")
    deliver(root, BASE)
    done = run(root, smtp)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def fresh_copy(base: Path, target: Path) -> Path:
    shutil.copytree(base, target, symlinks=True)
    deliver(target, BATCH)
    return target


@pytest.fixture(scope="module")
def reference(base, tmp_path_factory, smtp) -> dict:
    """The batch taken by one clean run from the base county."""
    root = fresh_copy(base, tmp_path_factory.mktemp("kill_reference") / "county")
    smtp.inbox.messages.clear()
    done = run(root, smtp)
    assert done.returncode == 0, done.stderr[-3000:]
    clean = state(root, smtp)
    assert {status for *_, status, _ in clean["ledger"]} >= {"quarantined", "accepted_with_warnings"}
    assert clean["mails"] and max(clean["mails"].values()) == 1
    assert personnummer_found(root, done.stdout, done.stderr) == []
    return clean


def batch_accounted_for(root: Path) -> list[str]:
    """The batch's files that are neither still in landing nor in the raw zone (lost)."""
    import json

    landed = {
        json.loads(m.read_text(encoding="utf-8"))["file_name"]
        for m in (root / "home" / "raw").glob("*/*/manifest.json")
    }
    waiting = {p.name for p in (root / "landing").rglob("*") if p.is_file()}
    return [name for name in BATCH if name.split("/")[1] not in landed | waiting]


def test_a_run_killed_at_each_step_is_completed_by_the_next_one(base, reference, smtp, tmp_path):
    """Fourteen SIGKILLs, one per step boundary, each in the run after the previous kill, then one
    normal run: the county equals one clean run of the same deliveries, and every mail went once."""
    root = fresh_copy(base, tmp_path / "county")
    before = snapshot_tables(base)
    smtp.inbox.messages.clear()
    outputs = []
    for point in KILL_POINTS:
        killed = run(root, smtp, point)
        outputs += [killed.stdout, killed.stderr]
        assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-3000:])
        assert f"KILLED AT {point}" in killed.stdout, point  # killed by its hook, at its step
        # after every kill: nothing lost, nothing leaked, and BI sees a whole snapshot, old or new
        assert batch_accounted_for(root) == [], point
        assert personnummer_found(root, killed.stdout, killed.stderr) == [], point
        published = snapshot_tables(root)
        assert published in (before, reference["snapshot"]), point
    after = run(root, smtp)
    assert after.returncode == 0, after.stderr[-3000:]

    now = state(root, smtp)
    # nothing lost: every file loaded or quarantined with its explanation, and landing empty
    assert sorted(p.name for p in (root / "landing").rglob("*") if p.is_file()) == []
    for name in BATCH:
        association, file_name = name.split("/")
        status = [s for _, a, _, _, _, f, s, _ in now["ledger"] if f == file_name]
        assert len(status) == 1, (file_name, status)
        if status[0] == "quarantined":
            assert (root / "home" / "quarantine" / association / f"{file_name}.fel.txt").is_file()
    # nothing duplicated: the same ledger and raw rows as one clean run
    assert now["ledger"] == reference["ledger"]
    assert now["raw_rows"] == reference["raw_rows"]
    assert now["quarantine"] == reference["quarantine"]  # each refused file once, with its explanation
    # the snapshot opens and equals the clean run's, and so does every Parquet file
    assert now["snapshot"].keys() == reference["snapshot"].keys()
    differing = [t for t in reference["snapshot"] if now["snapshot"][t] != reference["snapshot"][t]]
    assert differing == []
    assert now["parquet"].keys() == reference["parquet"].keys()
    differing = [t for t in reference["parquet"] if now["parquet"][t] != reference["parquet"][t]]
    assert differing == []
    # nothing leaked, and each mail once: the clean run's mails, over all fifteen runs
    assert personnummer_found(root, *outputs, after.stdout, after.stderr) == []
    assert now["mails"] == reference["mails"]
