"""Replay from quarantine, end to end through real Airflow (`airflow dags test`).

A delivery is quarantined for a word the contract does not know; the data team teaches the
pipeline the word (`finsam map`); the next DAG run replays the refused delivery on its own:
loaded, marts updated, the owner mailed (real SMTP on loopback), nothing duplicated; and a
further run (or `finsam replay`) adds nothing.

The same runs show a source that is down: NORR's source is a share that is gone, so its mapped
task fails (tried three times, with the reason in Swedish) while SODRA's deliveries reach the
marts in the same run, which succeeds.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import SAMPLE, registry_with_source_down, seed_disclosure_cache
from smtp_fixture import SmtpServer

pytestmark = [pytest.mark.airflow, pytest.mark.dbt]

TARGET = "SODRA_AVESTA_deltagare_2016T3.csv"
LOCAL_WORD = "Jobbcentrum Syd"  # a local unit's name: no contract could know it


def _landing_with_local_word(landing: Path) -> int:
    """SODRA's sample deliveries, the latest Avesta episodes with the municipality as referrer
    written as the local unit's name. Returns the number of rows changed."""
    shutil.copytree(SAMPLE / "landing" / "SODRA", landing / "SODRA")
    rows = list(csv.reader(io.StringIO((SAMPLE / "landing" / "SODRA" / TARGET).read_text(encoding="utf-8-sig"))))
    column = next(i for i, name in enumerate(rows[0]) if name.lower().startswith("remitt"))
    changed = 0
    for row in rows[1:]:
        if row[column].strip().upper() in ("KOMMUN", "KOMMUNEN", "SOCIALTJÄNST", "SOCIALTJÄNSTEN"):
            row[column] = LOCAL_WORD
            changed += 1
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    (landing / "SODRA" / TARGET).write_text(out.getvalue(), encoding="utf-8")
    return changed


def _run(env: dict, logical_date: str) -> str:
    from ingestion.demo import run_dag

    state, output = run_dag(env, logical_date, conf={"docs": False})  # no report or docs is read here
    assert state == "success", output[-4000:]
    return output


def _assert_only_the_source_that_is_down_failed(home: Path, output: str) -> None:
    """NORR's mapped task failed with the Swedish reason; the other associations' tasks and
    everything downstream ran, and SODRA's deliveries reached the published marts."""
    assert re.search(r"NORR.*(går inte att nå|kunde inte|saknas|finns inte)", output, re.S), output[-3000:]
    meta = sqlite3.connect(home / "airflow" / "airflow.db")
    try:
        states = {
            (task, shown or ""): (state, tries)
            for task, shown, state, tries in meta.execute(
                "select task_id, rendered_map_index, state, try_number from task_instance"
            ).fetchall()
        }
    finally:
        meta.close()
    mapped = {shown: done for (task, shown), done in states.items() if task == "process_association"}
    assert mapped == {"SODRA": ("success", 1), "NORR": ("failed", 3)}, states  # MITT delivered nothing
    assert states[("load_warehouse", "")][0] == "success" and states[("publish_marts", "")][0] == "success", states
    associations = _one(
        home / "publish" / "finsam_marts.duckdb", "select distinct association_code from marts.fct_participation"
    )
    assert associations == [("SODRA",)]


TASK_FAILED = "[Finsam] Körningen misslyckades: process_association (NORR)"  # the association named


def _about_deliveries(messages: list) -> list[str]:
    """The subjects of the mails about deliveries (not the data team's mail of a failed task)."""
    return [str(m["Subject"]) for m in messages if str(m["Subject"]) != TASK_FAILED]


def _one(path: Path, sql: str, *params):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_quarantined_word_mapped_then_replayed_by_the_dag(tmp_path, monkeypatch, sample_disclosure_cache):
    from ingestion.cli import main
    from ingestion.demo import airflow_env, prepare_airflow

    home = tmp_path / "home"
    landing = tmp_path / "landing"
    changed = _landing_with_local_word(landing)
    assert changed >= 5
    mappings = tmp_path / "mappings.yml"
    smtp = SmtpServer().start()
    try:
        env = airflow_env(
            home,
            {
                "FINSAM_DEMO": "1",
                "FINSAM_LANDING": str(landing),
                "FINSAM_REGISTRY": str(registry_with_source_down(tmp_path)),
                "FINSAM_WAREHOUSE": str(home / "warehouse" / "finsam.duckdb"),
                "FINSAM_TASK_RETRY_DELAY": "1",  # NORR's task is tried three times: 1 s, then 2 s apart
                "FINSAM_MAPPINGS": str(mappings),
                "FINSAM_SMTP_HOST": "127.0.0.1",
                "FINSAM_SMTP_PORT": str(smtp.port),
                "FINSAM_MAIL_FROM": "finsam@lan.example",
            },
        )
        prepare_airflow(env)
        warehouse = home / "warehouse" / "finsam.duckdb"
        seed_disclosure_cache(sample_disclosure_cache, warehouse)
        snapshot = home / "publish" / "finsam_marts.duckdb"

        _assert_only_the_source_that_is_down_failed(home, _run(env, "2026-11-01"))
        # no as_of in the run's params: the run follows up as of its own day
        assert _one(warehouse, "select distinct as_of from marts.delivery_status") == [(date(2026, 11, 1),)]
        ledger = _one(warehouse, "select status, reason from meta.load_ledger where file_name = ?", TARGET)
        assert [status for status, _ in ledger] == ["quarantined"]
        assert LOCAL_WORD not in (ledger[0][1] or "") or "remittent" in ledger[0][1]
        explanation = (home / "quarantine" / "SODRA" / f"{TARGET}.fel.txt").read_text(encoding="utf-8")
        assert f"värde '{LOCAL_WORD}'" in explanation and f"({changed} rader)" in explanation
        assert f"finsam map --column remittent '{LOCAL_WORD}' KOMMUN --association SODRA" in explanation
        episodes_before = _one(
            snapshot, "select count(*) from marts.fct_participation where intervention_code = 'AVESTA'"
        )[0][0]
        mails_before = len(smtp.inbox.messages)

        # The data team teaches the word, for this association only.
        monkeypatch.setenv("FINSAM_MAPPINGS", str(mappings))
        assert main(["map", "--column", "remittent", LOCAL_WORD, "KOMMUN", "--association", "SODRA"]) == 0

        _run(env, "2026-11-02")
        ledger = _one(
            warehouse,
            "select status, replay_of is not null, replay_reason from meta.load_ledger "
            "where file_name = ? order by received_at",
            TARGET,
        )
        assert [(status, replay) for status, replay, _ in ledger] == [("quarantined", False), ("accepted", True)] or [
            (status, replay) for status, replay, _ in ledger
        ] == [("quarantined", False), ("accepted_with_warnings", True)]
        assert "mappningar" in ledger[1][2]
        replay_id = _one(warehouse, "select delivery_id from meta.load_ledger where replay_of is not null")[0][0]
        referrers = dict(
            _one(warehouse, "select remittent, count(*) from raw.deltagare where delivery_id = ? group by 1", replay_id)
        )
        assert LOCAL_WORD not in referrers and referrers.get("KOMMUN", 0) >= changed
        # Marts updated: the Avesta episodes of the replayed delivery are there, each once.
        episodes_after = _one(
            snapshot, "select count(*) from marts.fct_participation where intervention_code = 'AVESTA'"
        )[0][0]
        assert episodes_after > episodes_before
        assert _one(snapshot, "select count(*) - count(distinct episode_key) from marts.fct_participation")[0][0] == 0
        assert not (home / "quarantine" / "SODRA" / f"{TARGET}.fel.txt").exists()
        # The owner is told, once, that the delivery was accepted after all.
        new = smtp.inbox.messages[mails_before:]
        replayed = [m for m in new if TARGET in str(m["Subject"])]
        assert len(replayed) == 1, [str(m["Subject"]) for m in new]
        body = replayed[0].get_body(preferencelist=("plain",)).get_content()
        assert "prövats om och är nu inläst" in body and LOCAL_WORD in body and "KOMMUN" in body

        # A further run, and an explicit replay, add nothing.
        counts = _one(warehouse, "select (select count(*) from meta.load_ledger), (select count(*) from raw.deltagare)")
        mails = _about_deliveries(smtp.inbox.messages)
        _run(env, "2026-11-03")
        assert (
            _one(warehouse, "select (select count(*) from meta.load_ledger), (select count(*) from raw.deltagare)")
            == counts
        )
        assert _about_deliveries(smtp.inbox.messages) == mails
        # the data team is told of NORR's failed task in every run, the source being down still
        failed = [m for m in smtp.inbox.messages if str(m["Subject"]) == TASK_FAILED]
        assert len(failed) == 3 and {str(m["To"]) for m in failed} == {"finsam-data@region-dalarna.example"}
        told = failed[0].get_body(preferencelist=("plain",)).get_content()
        assert "Uppgiften process_association för NORR i flödet finsam_county misslyckades" in told, told
        kept = sorted(p.name for p in (home / "reports" / "outbox").glob("task-failed-*.eml"))
        assert len(kept) == 3 and all(name.endswith("-process_association-NORR.eml") for name in kept), kept
        from ingestion.core.config import load_settings
        from ingestion.quality.replay import request

        assert request(load_settings(home=str(home)), association="SODRA", file_name=TARGET) == []
        assert smtp.inbox.subject_errors == []  # every subject sent decodes strictly (RFC 2047)
    finally:
        smtp.stop()
