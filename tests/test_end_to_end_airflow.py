"""End to end through real Airflow (`airflow dags test`) on the bundled sample county.

One DAG run (module fixture) is inspected by several tests; a second run on the same
deliveries, triggered with params (--conf {"full_refresh": true, "as_of": ..., "docs": false}),
must add nothing, and shows that the params reach the tasks: it rebuilds everything (an unforced
run would leave dbt out: nothing new), re-runs every facts check and leaves the dbt docs alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from conftest import SAMPLE, copy_sample_landing, seed_disclosure_cache
from fixtures.needles import Needles
from test_dag_integrity import MARTS_ASSET_URI

pytestmark = [pytest.mark.airflow, pytest.mark.dbt]

FAULTY = {
    "SODRA_KRAFTEN_deltagare_2016T3.csv",  # a personnummer with a wrong check digit
    "MITT_UNGVUXNA_deltagare_2016T1.xlsx",  # slutdatum before startdatum, exit reason "Semester"
    "NORR_JOBBNORR_budget_2016T2.xlsx",  # a text file with an .xlsx name
}
PNR = re.compile(rb"(?<!\d)((?:19|20)?\d{6})[-+]?(\d{4})(?!\d)")


# The second run's params: a full rebuild on the demo's date, no dbt docs.
SECOND_RUN_CONF = {"full_refresh": True, "docs": False}


def _run(home: Path, logical_date: str, conf: dict | None = None):
    from ingestion.demo import airflow_env, prepare_airflow, run_dag, sample_as_of

    env = airflow_env(
        home,
        {
            "FINSAM_DEMO": "1",
            "FINSAM_REFERENCE_CHECKS": "1",
            "FINSAM_LANDING": str(home / "landing"),
            "FINSAM_REGISTRY": str(SAMPLE / "registry.yml"),
            "FINSAM_WAREHOUSE": str(home / "warehouse" / "finsam.duckdb"),
        },
    )
    if not (home / "airflow" / "airflow.db").exists():
        prepare_airflow(env)
    state, output = run_dag(env, logical_date, conf={"as_of": sample_as_of(), **(conf or {})})  # as the demo runs
    (home / "airflow").mkdir(exist_ok=True, parents=True)
    with open(home / "airflow" / f"dags-test-{logical_date}.log", "w", encoding="utf-8") as handle:
        handle.write(output)
    return state, output


def _counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'meta', 'marts', 'public') and table_type = 'BASE TABLE'"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f"select count(*) from {s}.{t}").fetchone()[0] for s, t in tables}
    finally:
        con.close()


@pytest.fixture(scope="module")
def county_run(tmp_path_factory, sample_disclosure_cache):
    home = tmp_path_factory.mktemp("county") / "home"
    copy_sample_landing(home / "landing")
    seed_disclosure_cache(sample_disclosure_cache, home / "warehouse" / "finsam.duckdb")
    state, output = _run(home, "2026-11-01")
    assert state == "success", output[-3000:]
    first = _counts(home / "warehouse" / "finsam.duckdb")
    docs_written = (home / "publish" / "dbt-docs" / "index.html").stat().st_mtime_ns
    # Second run on the same deliveries (re-delivered byte for byte), with params: nothing may be added.
    copy_sample_landing(home / "landing")
    state2, output2 = _run(home, "2026-11-02", SECOND_RUN_CONF)
    assert state2 == "success", output2[-3000:]
    second = _counts(home / "warehouse" / "finsam.duckdb")
    docs_after = (home / "publish" / "dbt-docs" / "index.html").stat().st_mtime_ns
    return {"home": home, "first": first, "second": second, "docs": (docs_written, docs_after)}


def query(run, sql, *params):
    con = duckdb.connect(str(run["home"] / "publish" / "finsam_marts.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def wh(run, sql, *params):
    con = duckdb.connect(str(run["home"] / "warehouse" / "finsam.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_marts_exist_and_have_rows(county_run):
    counts = county_run["first"]
    for mart in (
        "marts.fct_participation",
        "marts.fct_budget",
        "marts.dim_intervention",
        "marts.rpt_intervention_outcomes",
        "marts.dim_association",
    ):
        assert counts.get(mart, 0) > 0, mart
    assert counts["raw.deltagare"] > 300


def test_faulty_deliveries_are_quarantined_with_reasons(county_run):
    rows = dict(wh(county_run, "select file_name, reason from meta.load_ledger where status = 'quarantined'"))
    assert set(rows) == FAULTY
    quarantine = county_run["home"] / "quarantine"
    for name in rows:
        explanation = next(quarantine.rglob(name + ".fel.txt"))
        text = explanation.read_text(encoding="utf-8")
        assert "karantän" in text and "Så lämnar du en ny leverans" in text
        assert rows[name]  # a reason in the ledger
    assert "kontrollsiffra" in rows["SODRA_KRAFTEN_deltagare_2016T3.csv"]
    assert "inte ett Excel" in rows["NORR_JOBBNORR_budget_2016T2.xlsx"]
    assert "slutdatum ligger före startdatum" in rows["MITT_UNGVUXNA_deltagare_2016T1.xlsx"]
    assert not (county_run["home"] / "quarantine" / "SODRA" / "SODRA_KRAFTEN_deltagare_2016T3.csv").exists(), (
        "a file with personnummer is quarantined only as its pseudonymised copy"
    )
    # nothing of a quarantined delivery reached the raw tables
    ids = [r[0] for r in wh(county_run, "select delivery_id from meta.load_ledger where status = 'quarantined'")]
    for kind in ("deltagare", "budget", "insatser", "volym"):
        assert (
            wh(county_run, f"select count(*) from raw.{kind} where delivery_id in (select unnest(?::varchar[]))", ids)[
                0
            ][0]
            == 0
        )


def test_second_run_adds_no_duplicate_rows(county_run):
    first, second = county_run["first"], county_run["second"]
    changed = {
        k: (first.get(k), second.get(k))
        for k in set(first) | set(second)
        if first.get(k) != second.get(k) and k not in ("meta.delivery_events", "meta.build_state")
    }  # logs
    assert changed == {}
    duplicates = wh(county_run, "select count(*) from meta.delivery_events where event = 'duplicate'")[0][0]
    assert duplicates >= first["meta.load_ledger"] - 1


def test_params_reach_the_tasks_in_the_second_run(county_run):
    """The second run's --conf: {"full_refresh": true} rebuilt every model although nothing was new
    (meta.build_state: two full builds, not a full and an unchanged one) and re-ran every
    association's facts checks; {"docs": false} left the dbt docs the first run wrote; as_of is the
    demo's date in both runs (test_the_run_date_fits_the_data_as_in_the_demo). Each run updated the
    marts Asset, naming the snapshot."""
    import json
    import sqlite3

    home = county_run["home"]
    assert [r[0] for r in wh(county_run, "select full_refresh from meta.build_state order by built_at")] == [
        True,
        True,
    ]
    written, after = county_run["docs"]
    assert after == written  # a full build regenerates them, unless docs is false
    meta = sqlite3.connect(home / "airflow" / "airflow.db")
    try:
        checked = dict(
            meta.execute(
                "select r.logical_date, x.value from xcom x join dag_run r on r.id = x.dag_run_id "
                "where x.task_id = 'validate_facts' and x.key = 'return_value'"
            ).fetchall()
        )
        events = meta.execute(
            "select e.extra from asset_event e join asset a on a.id = e.asset_id where a.uri = ? order by e.id",
            [MARTS_ASSET_URI],
        ).fetchall()
        confs = [json.loads(c) for (c,) in meta.execute("select conf from dag_run order by logical_date").fetchall()]
    finally:
        meta.close()
    assert confs[1]["full_refresh"] is True and confs[1]["docs"] is False, confs
    scopes = [json.loads(value)["associations"] for _, value in sorted(checked.items())]
    assert sorted(scopes[1]) == ["MITT", "NORR", "SODRA"], scopes  # every facts check again, not none
    assert len(events) == 2
    extra = json.loads(events[-1][0])
    assert extra["snapshot"] == str(home / "publish" / "finsam_marts.duckdb") and extra["tables"] > 0, extra


def test_avesta_budget_loads_with_the_difference_warning(county_run):
    status = wh(county_run, "select status from meta.load_ledger where file_name like 'SODRA_AVESTA_budget_2016H1%'")
    assert status == [("accepted_with_warnings",)]
    messages = [
        r[0]
        for r in wh(
            county_run,
            "select message_sv from meta.validation_results v join meta.load_ledger l "
            "using (delivery_id) where l.file_name like 'SODRA_AVESTA_budget_2016H1%'",
        )
    ]
    assert any("1 775 000 − utfall 819 000 = 956 000, men filen anger 955 000" in m for m in messages if m)


def test_no_personnummer_anywhere_after_the_run(county_run):
    """Every personnummer in the sample, in any form, is absent from every byte the pipeline wrote."""
    numbers = set()
    for path in (SAMPLE / "landing").rglob("*"):
        if path.is_file() and path.suffix == ".csv":
            for match in PNR.finditer(path.read_bytes()):
                digits = (match.group(1) + match.group(2)).decode()
                numbers.add(digits[-10:])
    for path in (SAMPLE / "landing").rglob("*.xlsx"):
        try:
            from python_calamine import CalamineWorkbook

            for sheet in CalamineWorkbook.from_path(str(path)).sheet_names:
                for row in CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python():
                    for cell in row:
                        for match in PNR.finditer(str(cell).encode()):
                            numbers.add((match.group(1) + match.group(2)).decode()[-10:])
        except Exception:
            pass
    assert len(numbers) > 50
    forms = set()
    for ten in numbers:
        forms |= {ten, f"{ten[:6]}-{ten[6:]}"}
    needles = Needles(forms)  # one pass over each file for all the forms
    home = county_run["home"]
    offenders = []
    for path in home.rglob("*"):
        if not path.is_file() or "landing" in path.relative_to(home).parts[:1]:
            continue
        data = path.read_bytes()
        if needles.any_in(data):
            offenders.append(str(path))
    assert offenders == []
    # Compressed stores (DuckDB, Parquet): search their decoded text too.
    tens = Needles(numbers)
    con = duckdb.connect(str(home / "warehouse" / "finsam.duckdb"), read_only=True)
    try:
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns where data_type = 'VARCHAR'"
        ).fetchall():
            values = con.execute(f'select distinct "{column}" from {schema}.{table}').fetchall()
            text = "\n".join(str(v[0]) for v in values)
            digits_only = re.sub(r"[-+]", "", text)
            assert not tens.any_in(digits_only.encode()), f"{schema}.{table}.{column}"
    finally:
        con.close()
    for parquet in home.rglob("*.parquet"):
        text = "\n".join(str(r) for r in duckdb.sql(f"select * from read_parquet('{parquet}')").fetchall())
        assert not tens.any_in(re.sub(r"[-+]", "", text).encode()), str(parquet)


def test_landing_is_emptied_only_of_landed_files(county_run):
    left = sorted(p.name for p in (county_run["home"] / "landing").rglob("*") if p.is_file())
    # What stays with the owner: a name that breaks the naming rule (waiting to be renamed) and the
    # unreadable file (never copied anywhere, since it could not be checked for personnummer).
    assert left == ["NORR_JOBBNORR_budget_2016T2.xlsx", "NORR_Okand fil.csv"]


def test_outputs_for_bi_and_docs(county_run):
    home = county_run["home"]
    assert (home / "publish" / "finsam_marts.duckdb").exists()
    assert (home / "publish" / "parquet" / "marts.fct_participation.parquet").exists()
    assert (home / "publish" / "dbt-docs" / "index.html").exists()
    assert (home / "reports" / "validering.html").exists()
    assert list((home / "gx").rglob("local_site/index.html"))


def test_avesta_figures_come_out_of_the_marts(county_run):
    """reference-figures.md: 57 enrolled, 39 active 2016-07-01, 18 exits, 14 excluding drop-outs, 7 of 14 = 50 %."""
    row = query(
        county_run,
        """
        select enrolled_to_date, active_at_period_end, exits_to_date, early_dropouts, exits_excl_dropouts,
               exits_to_work, to_studies, to_rehab, to_sje_ake, to_other, exits_to_work_studies_rehab,
               share_work_studies_rehab
        from marts.rpt_intervention_outcomes
        where association_code = 'SODRA' and intervention_code = 'AVESTA'
          and period_type = 'half_year' and period_end = date '2016-06-30'""",
    )
    assert [tuple(float(v) for v in row[0])] == [(57, 39, 18, 4, 14, 5, 0, 2, 2, 5, 7, 0.5)]
    sexes = dict(
        query(
            county_run,
            """select sex, count(*) from marts.fct_participation
        where association_code = 'SODRA' and intervention_code = 'AVESTA' and start_date <= date '2016-06-30'
        group by sex""",
        )
    )
    assert sexes == {"K": 30, "M": 27}
    referrers = dict(
        query(
            county_run,
            """select referrer, count(*) from marts.fct_participation
        where association_code = 'SODRA' and intervention_code = 'AVESTA' and start_date <= date '2016-06-30'
        group by referrer""",
        )
    )
    assert referrers == {"KOMMUN": 25, "FK": 21, "REGION": 8, "AF": 3}
    support = dict(
        query(
            county_run,
            """select case when support_before = 'FBS' then 'socialtjänst'
            when support_before in ('SJP', 'AKE', 'SJE') then 'FK' else 'annan' end, count(*)
        from marts.fct_participation
        where association_code = 'SODRA' and intervention_code = 'AVESTA' and start_date <= date '2016-06-30'
        group by 1""",
        )
    )
    assert support == {"socialtjänst": 33, "FK": 22, "annan": 2}


def test_public_marts_suppress_small_counts(county_run):
    rows = query(
        county_run,
        """select to_studies, to_studies_display from public.pub_rpt_intervention_outcomes
        where association_code = 'SODRA' and intervention_code = 'AVESTA'
          and period_type = 'half_year' and period_end = date '2016-06-30'""",
    )
    exact = query(
        county_run,
        """select to_studies from marts.rpt_intervention_outcomes
        where association_code = 'SODRA' and intervention_code = 'AVESTA'
          and period_type = 'half_year' and period_end = date '2016-06-30'""",
    )
    assert 0 <= exact[0][0] < 5  # a small count in the marts (zero is hidden too)...
    # ...hidden in the public table: "<5", or "–" where the disclosure step had to say less (any count)
    assert rows in ([(None, "<5")], [(None, "–")])


def test_avesta_budget_gap_to_granted_is_shown(county_run):
    """The report: the budget in the finance system does not match what the board granted."""
    rows = query(
        county_run,
        """select budget, granted, budget_minus_granted, budget_differs_from_granted
        from marts.rpt_budget_outcome
        where association_code = 'SODRA' and intervention_code = 'AVESTA' and period_end = date '2016-06-30'""",
    )
    assert [(float(a), float(b), float(c), d) for a, b, c, d in rows] == [(2100000.0, 2000000.0, 100000.0, True)]
    personal = query(
        county_run,
        """select difference_reported, difference_computed, difference_mismatch
        from marts.fct_budget where association_code = 'SODRA' and intervention_code = 'AVESTA'
          and period_end = date '2016-06-30' and cost_type = 'PERSONAL'""",
    )
    assert [(float(a), float(b), c) for a, b, c in personal] == [(955000.0, 956000.0, True)]


def test_the_run_date_fits_the_data_as_in_the_demo(county_run):
    """The demo runs a few weeks after the sample's last period (issue: "a demo that tells the
    truth"): what the sample delivered is received, never overdue, and no reminder is sent for it."""
    from ingestion.demo import sample_as_of

    as_of = sample_as_of()
    assert as_of == "2017-01-28"
    statuses = dict(query(county_run, "select status, count(*) from marts.delivery_status group by 1"))
    assert statuses.get("received", 0) > 50, statuses
    assert {a for (a,) in query(county_run, "select distinct cast(as_of as varchar) from marts.delivery_status")} == {
        as_of
    }
    delivered = {
        (a, i, k, p)
        for a, i, k, p in wh(
            county_run,
            "select association_code, intervention_code, kind, period from meta.load_ledger "
            "where status in ('accepted', 'accepted_with_warnings')",
        )
    }
    reminded = {
        (a, i, k, p)
        for a, i, k, p in wh(county_run, "select association_code, intervention_code, kind, period from meta.reminders")
    }
    assert not (delivered & reminded)  # no reminder for a delivery the sample contains
    overdue = wh(county_run, "select max(days_overdue) from marts.delivery_status where status = 'overdue'")[0][0]
    # Real gaps only (periods the registers say were due and the sample lacks, since 2014), not the
    # "3472 dagar sen" of a run dated today.
    assert overdue is None or overdue < 1000
