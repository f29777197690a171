"""The final suites on the built warehouse: fed one good and one bad warehouse each.

The raw tables are written directly (as `load` would) and the facts built with dbt; the
checks are dbt models (marts.qa_*: one flag column per expectation), checked with GX, stored in
meta.validation_results and shown in the Data Docs of each association. Failing rows are
delivery and row numbers; person keys never leave the warehouse.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from smtp_fixture import municipality_list, quality_env  # noqa: F401 (fixtures)

from ingestion.core.config import load_settings
from ingestion.core.registry import load_registry
from ingestion.intake.discover import parse_period
from ingestion.outbound.facts_warnings import facts_findings
from ingestion.quality.facts import FACT_SUITES, run_facts_validation
from ingestion.warehouse.build import dbt
from ingestion.warehouse.queue import EVERY_ASSOCIATION, queue_build
from ingestion.warehouse.schema import connect, ensure_schema

pytestmark = [pytest.mark.dbt]

AS_OF = date(2017, 1, 15)
REOPEN = "fct_participation.final:expect_column_values_to_be_in_set:_not_reopened"
PARALLEL = "fct_participation.final:expect_column_values_to_be_in_set:_no_parallel_same_kind"
VOLUME = "fct_participation.final:expect_column_values_to_be_in_set:_person_level_intervention"
JUMP = "participant_counts.final:expect_column_values_to_be_in_set:_count_jump_ok"
# The models the final suites read, with everything they depend on.
FACTS_MODELS = ("+qa_participation_checks", "+qa_participant_counts", "+qa_linked_associations")


def add(
    con,
    kind: str,
    delivery: str,
    association: str,
    intervention: str,
    period: str,
    rows: list[dict],
    received: str = "2016-12-01 09:00:00",
):
    p = parse_period(period)
    for i, row in enumerate(rows):
        columns = [
            "delivery_id",
            "association_code",
            "intervention_code",
            "period",
            "period_start",
            "period_end",
            "received_at",
            "source_row",
            *row,
        ]
        values = [delivery, association, intervention, period, p.start, p.end, received, i + 2, *row.values()]
        con.execute(f"insert into raw.{kind} ({', '.join(columns)}) values ({', '.join('?' * len(values))})", values)


def episode(key, start, end=None, reason=None, **more):
    row = {
        "person_key": key,
        "person_key_source": "deltagar_id" if key else None,
        "is_anonymous": key is None,
        "kon": "K",
        "fodelsear": 1990,
        "kommun": "2084",
        "startdatum": start,
        "slutdatum": end,
        "forsorjning_fore": "FBS",
        "avslutsanledning": reason or ("ARBETE" if end else None),
    }
    row.update(more)
    return row


def register(code, inriktning="INDIVID", matmetod="PERSON"):
    return {
        "insats_kod": code,
        "namn": code.title(),
        "inriktning": inriktning,
        "matmetod": matmetod,
        "startdatum": "2015-01-01",
        "huvudman": "FK+AF",
        "agare_epost": f"{code.lower()}@x.example",
    }


def good_warehouse(con):
    add(
        con,
        "insatser",
        "reg-s",
        "SODRA",
        "ALL",
        "2016T1",
        [register("SATER"), register("KRAFTEN"), register("KONF", "STRUKTUR"), register("RAKNA", matmetod="VOLYM")],
    )
    add(con, "insatser", "reg-n", "NORR", "ALL", "2016T1", [register("JOBB")])
    add(
        con,
        "deltagare",
        "av-t1",
        "SODRA",
        "SATER",
        "2016T1",
        [
            episode("k1", "2016-02-01", "2016-03-31"),
            episode("k2", "2016-02-01"),
            episode("k3", "2016-02-01"),
            episode("k4", "2016-01-10", "2016-03-01"),
            episode(None, "2016-02-01"),
        ],
    )
    add(
        con,
        "deltagare",
        "av-t2",
        "SODRA",
        "SATER",
        "2016T2",
        [
            episode("k1", "2016-02-01", "2016-03-31"),
            episode("k1", "2016-06-01"),  # back again: a new episode, fine
            episode("k2", "2016-02-01"),
            episode("k3", "2016-02-01", "2016-07-01"),
            episode("k4", "2016-01-10", "2016-03-01"),
            episode(None, "2016-02-01"),
        ],
    )
    # k4 moves on to Kraften the day Avesta ended (no overlap); k3 also takes part in a
    # structural intervention (another inriktning) and in Norra's JOBB after leaving Avesta.
    add(con, "deltagare", "kr-t2", "SODRA", "KRAFTEN", "2016T2", [episode("k4", "2016-03-01")])
    add(con, "deltagare", "ko-t2", "SODRA", "KONF", "2016T2", [episode("k3", "2016-03-01", "2016-03-02")])
    add(con, "deltagare", "jo-t3", "NORR", "JOBB", "2016T3", [episode("k3", "2016-07-01")])
    add(
        con,
        "volym",
        "ra-h1",
        "SODRA",
        "RAKNA",
        "2016H1",
        [
            {"ar": 2016, "period_slut": "2016-06-30", "kon": "K", "antal": 10},
            {"ar": 2016, "period_slut": "2016-06-30", "kon": "M", "antal": 5},
        ],
    )
    add(
        con,
        "volym",
        "ra-h2",
        "SODRA",
        "RAKNA",
        "2016H2",
        [
            {"ar": 2016, "period_slut": "2016-12-31", "kon": "K", "antal": 30},
            {"ar": 2016, "period_slut": "2016-12-31", "kon": "M", "antal": 10},
        ],
    )


def bad_warehouse(con):
    good_warehouse(con)
    # k2 ended in T2 … and is active again (same episode) in T3: reopened.
    add(
        con,
        "deltagare",
        "av-t3",
        "SODRA",
        "SATER",
        "2016T3",
        [
            episode("k1", "2016-02-01", "2016-03-31"),
            episode("k1", "2016-06-01"),
            episode("k3", "2016-02-01", "2016-07-01"),
            episode("k2", "2016-02-01"),
            episode("k4", "2016-01-10", "2016-03-01"),
            episode("k5", "2016-09-01"),
        ],
        received="2016-12-20 09:00:00",
    )
    con.execute(
        "update raw.deltagare set slutdatum = '2016-08-15', avslutsanledning = 'STUDIER' "
        "where delivery_id = 'av-t2' and person_key = 'k2'"
    )
    # k5 is active in Avesta and in Norra's JOBB at once (both individual interventions).
    add(
        con,
        "deltagare",
        "jo-t3b",
        "NORR",
        "JOBB",
        "2016T3",
        [episode("k3", "2016-07-01"), episode("k5", "2016-10-01")],
        received="2016-12-21 09:00:00",
    )
    # Episodes delivered for RAKNA, a count-only intervention.
    add(con, "deltagare", "ra-t3", "SODRA", "RAKNA", "2016T3", [episode("k6", "2016-09-01")])
    # RAKNA's counts jump from 40 to 200 (more than 3 times).
    add(
        con,
        "volym",
        "ra-h1-17",
        "SODRA",
        "RAKNA",
        "2017H1",
        [{"ar": 2017, "period_slut": "2017-06-30", "kon": "K", "antal": 200}],
    )


def results(settings):
    con = connect(settings)  # not read_only: dbt (run in this process) may still hold the file
    try:
        return con.execute(
            "select delivery_id, expectation, severity, passed, failing_rows, message_sv "
            "from meta.validation_results where suite like '%.final' order by all"
        ).fetchall()
    finally:
        con.close()


def relation(settings, model: str, delivery_id: str) -> list[dict]:
    """A delivery's rows of a marts.qa_* model, without the columns GX only quotes."""
    con = connect(settings)
    try:
        frame = con.execute(f"select * from marts.{model} where delivery_id = ? order by all", [delivery_id]).df()
    finally:
        con.close()
    keep = [c for c in frame.columns if c.startswith("_") or c in RELATION_COLUMNS]
    return [{k: (None if v is None or v != v else v) for k, v in row.items()} for row in frame[keep].to_dict("records")]


RELATION_COLUMNS = ("source_row", "ended_in_period", "ended_on", "participant_count", "previous_count", "jump_factor")


def build(settings, fill=None):
    """Write the raw tables as `load` would, then build the facts with dbt."""
    con = connect(settings)
    try:
        ensure_schema(con)
        if fill:
            fill(con)
        queue_build(con, [EVERY_ASSOCIATION], "test")  # raw rows changed: the incremental models recompute all
    finally:
        con.close()
    # Only the models the final suites read (and what they depend on): quicker than the whole build.
    dbt(settings, "run", "--select", *FACTS_MODELS)
    queue_facts(settings, [EVERY_ASSOCIATION])  # as build_marts does after a full build


def queue_facts(settings, codes):
    con = connect(settings)
    try:
        queue_build(con, codes, "test", stage="facts")
    finally:
        con.close()


def test_good_warehouse_passes_every_final_expectation(quality_env):
    settings = load_settings()
    build(settings, good_warehouse)
    summary = run_facts_validation(settings, load_registry(settings.registry), as_of=AS_OF)
    assert summary["warnings"] == summary["blocking"] == 0
    assert (
        summary["fct_participation.final"]["rows"] == 9
    )  # 8 current keyed episodes + 1 anonymous row (latest delivery)
    assert results(settings) == [
        (None, PARALLEL, "warning", True, [], None),
        (None, REOPEN, "warning", True, [], None),
        (None, VOLUME, "blocking", True, [], None),
        (None, JUMP, "warning", True, [], None),
    ]


def test_bad_warehouse_fails_exactly_these_rows(quality_env):
    settings = load_settings()
    build(settings, bad_warehouse)
    run_facts_validation(settings, load_registry(settings.registry), as_of=AS_OF)
    failing = [r for r in results(settings) if not r[3]]
    assert [(r[0], r[1], r[2], r[4]) for r in failing] == [
        ("av-t3", PARALLEL, "warning", [7]),
        ("av-t3", REOPEN, "warning", [5]),
        ("jo-t3b", PARALLEL, "warning", [3]),
        ("ra-h1-17", JUMP, "warning", []),
        ("ra-t3", VOLUME, "blocking", [2]),
    ]
    messages = {r[0] + r[1]: r[5] for r in failing}
    assert messages["av-t3" + REOPEN] == (
        "episoden avslutades 2016-08-15 enligt leveransen för 2016T2, men är aktiv "
        "(utan slutdatum) i en senare leverans."
    )
    assert (
        messages["av-t3" + PARALLEL] == "deltagaren är samtidigt aktiv i 1 annan insats med samma inriktning (INDIVID)."
    )
    assert messages["ra-h1-17" + JUMP] == (
        "antalet (volym) ändras från 40 för 2016H2 till 200 för 2017H1, mer än 3 gånger."
    )
    assert [r[1] for r in results(settings) if r[3]] == []  # every final expectation failed somewhere

    # No person key anywhere in what was stored or rendered.
    stored = json.dumps(results(settings), default=str)
    docs = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in (settings.gx_root).rglob("*")
        if p.is_file() and p.suffix in (".html", ".json")
    )
    for key in ("k1", "k2", "k3", "k4", "k5", "k6"):
        assert f'"{key}"' not in stored and f'"{key}"' not in docs and f">{key}<" not in docs


def test_jump_factor_is_configurable(quality_env, monkeypatch):
    monkeypatch.setenv("FINSAM_JUMP_FACTOR", "6")
    settings = load_settings()
    build(settings, bad_warehouse)
    run_facts_validation(settings, load_registry(settings.registry), as_of=AS_OF, docs=False)
    assert (None, JUMP, "warning", True, [], None) in results(settings)
    # The factor is the dbt var (FINSAM_JUMP_FACTOR through dbt_vars): the relation's flag says so.
    assert relation(settings, "qa_participant_counts", "ra-h1-17") == [
        {"participant_count": 200, "previous_count": 40, "jump_factor": 6.0, "_count_jump_ok": True}
    ]


def test_results_replace_the_previous_run_and_docs_are_rebuilt(quality_env):
    settings = load_settings()
    registry = load_registry(settings.registry)
    build(settings, bad_warehouse)
    run_facts_validation(settings, registry, as_of=AS_OF)
    site = settings.gx_root / "SODRA" / "gx" / "uncommitted" / "data_docs" / "local_site"
    pages = lambda: sorted(site.glob("validations/fct_participation/final/**/*.html"))  # noqa: E731
    first_pages, first_index = pages(), (site / "index.html").stat().st_mtime_ns
    assert first_pages and "fct_participation.final" in (site / "index.html").read_text(encoding="utf-8")

    # The owner fixes RAKNA: the register now says PERSON. The next run stores fresh results only.
    con = connect(settings)
    try:
        con.execute("update raw.insatser set matmetod = 'PERSON' where insats_kod = 'RAKNA'")
    finally:
        con.close()
    build(settings)
    run_facts_validation(settings, registry, as_of=AS_OF)
    assert (None, VOLUME, "blocking", True, [], None) in results(settings)
    assert len([r for r in results(settings) if r[1] == VOLUME]) == 1
    assert len(pages()) > len(first_pages)  # a new validation page per run
    assert (site / "index.html").stat().st_mtime_ns > first_index
    assert {s for s in FACT_SUITES} == {"fct_participation.final", "participant_counts.final"}


def validated(fill):
    """A warehouse built from `fill`, every association validated; (settings, registry, results)."""
    settings = load_settings()
    registry = load_registry(settings.registry)
    build(settings, fill)
    run_facts_validation(settings, registry, as_of=AS_OF, docs=False)
    return settings, registry, results(settings)


def test_only_changed_associations_are_validated(quality_env):
    settings, registry, before = validated(bad_warehouse)

    # SODRA's owner fixes RAKNA. Until the fix is queued (as load + build do), nothing is re-run.
    con = connect(settings)
    try:
        con.execute("update raw.insatser set matmetod = 'PERSON' where insats_kod = 'RAKNA'")
    finally:
        con.close()
    dbt(settings, "run", "--select", *FACTS_MODELS)
    summary = run_facts_validation(settings, registry, as_of=AS_OF, docs=False)
    assert summary["associations"] == [] and results(settings) == before

    # Queued: SODRA. NORR shares k3 and k5 with SODRA, but its failures by the flags are the stored
    # ones (jo-t3b's parallel k5): it keeps them without a GX run.
    queue_facts(settings, ["SODRA"])
    summary = run_facts_validation(settings, registry, as_of=AS_OF, docs=False)
    assert summary["associations"] == ["SODRA"]
    after = results(settings)
    assert (None, VOLUME, "blocking", True, [], None) in after
    assert [r for r in after if r[0] == "jo-t3b"] == [r for r in before if r[0] == "jo-t3b"]
    assert len([r for r in after if r[1] == VOLUME]) == 1
    # The queue is emptied: the next run validates nothing.
    assert run_facts_validation(settings, registry, as_of=AS_OF, docs=False)["associations"] == []


def test_a_linked_association_that_passes_everything_keeps_its_results(quality_env):
    settings, registry, before = validated(good_warehouse)
    # k3 takes part in both SODRA and NORR, but nothing fails in NORR, now or before: only SODRA runs.
    queue_facts(settings, ["SODRA"])
    summary = run_facts_validation(settings, registry, as_of=AS_OF, docs=False)
    assert summary["associations"] == ["SODRA"]
    assert results(settings) == before


def test_a_linked_association_whose_parallel_episode_goes_away_is_validated_again(quality_env):
    settings, registry, before = validated(bad_warehouse)
    assert any(r[0] == "jo-t3b" and not r[3] for r in before)  # NORR: k5 is parallel in SODRA
    # SODRA re-delivers T3 without k5: NORR's jo-t3b row is no longer parallel, though only SODRA is queued.
    con = connect(settings)
    try:
        con.execute("delete from raw.deltagare where delivery_id = 'av-t3' and person_key = 'k5'")
        queue_build(con, ["SODRA"], "test")  # as load does
    finally:
        con.close()
    dbt(settings, "run", "--select", *FACTS_MODELS)
    queue_facts(settings, ["SODRA"])
    summary = run_facts_validation(settings, registry, as_of=AS_OF, docs=False)
    assert sorted(summary["associations"]) == ["NORR", "SODRA"]
    assert not any(r[0] == "jo-t3b" and not r[3] for r in results(settings))
    # Nothing changes for NORR next time: it is skipped.
    queue_facts(settings, ["SODRA"])
    assert run_facts_validation(settings, registry, as_of=AS_OF, docs=False)["associations"] == ["SODRA"]


def test_the_suites_report_exactly_the_rows_the_relations_flag(quality_env):
    """The verdicts are the dbt relations' flags: each flag that is false in marts.qa_* is a failing
    row the owner is told about, with the relation's values in the message; nothing else fails."""
    settings = load_settings()
    build(settings, bad_warehouse)
    # Known cases, in the relation: k2 ended 2016-08-15 in T2 and is active again in T3 (row 5).
    reopened = relation(settings, "qa_participation_checks", "av-t3")
    assert {
        "source_row": 5,
        "ended_in_period": "2016T2",
        "ended_on": date(2016, 8, 15),
        "_not_reopened": False,
        "_no_parallel_same_kind": True,
        "_person_level_intervention": True,
    } in [{**r, "ended_on": r["ended_on"] and r["ended_on"].date()} for r in reopened]
    assert relation(settings, "qa_participant_counts", "ra-h1-17") == [
        {"participant_count": 200, "previous_count": 40, "jump_factor": 3.0, "_count_jump_ok": False}
    ]

    run_facts_validation(settings, load_registry(settings.registry), as_of=AS_OF, docs=False)
    con = connect(settings)
    try:
        flagged = set()
        for model, suite in (
            ("qa_participation_checks", "fct_participation.final"),
            ("qa_participant_counts", "participant_counts.final"),
        ):
            frame = con.execute(f"select * from marts.{model}").df()
            for flag in [c for c in frame.columns if c.startswith("_")]:
                for row in frame[frame[flag].eq(False)].itertuples():
                    source_row = getattr(row, "source_row", None)
                    flagged.add((row.delivery_id, f"{suite}:expect_column_values_to_be_in_set:{flag}", source_row))
    finally:
        con.close()
    reported = {
        (delivery_id, expectation, row if rows else None)
        for delivery_id, expectation, _, passed, rows, _ in results(settings)
        if not passed
        for row in (rows or [None])
    }
    assert flagged == reported
    assert ("av-t3", REOPEN, 5) in reported and ("ra-h1-17", JUMP, None) in reported
    # The warning names the delivery's column and carries the relation's dates and periods.
    con = connect(settings)
    try:
        told = {(f.delivery_id, f.expectation): f.finding() for f in facts_findings(con)}
    finally:
        con.close()
    assert told["av-t3", REOPEN].column == "slutdatum" and told["av-t3", REOPEN].rows == [5]
    assert "avslutades 2016-08-15 enligt leveransen för 2016T2" in told["av-t3", REOPEN].message_sv
    assert told["ra-h1-17", JUMP].column == "antal"
    assert "från 40 för 2016H2 till 200 för 2017H1, mer än 3 gånger" in told["ra-h1-17", JUMP].message_sv
