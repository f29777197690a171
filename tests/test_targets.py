"""Targets in the intervention register (contract 1.1) and marts.rpt_target_attainment (issue 13).

- the contract: the three optional register columns, read and validated; a register without them
  stays valid;
- the sample county (published_sample): MITT's registers carry targets, VÄGEN with KRUS's
  (30 participants a year, 30 % to work/studies/rehabilitation, at most 12 months); the outcomes
  are the period mart's own figures and equal a straightforward count over fct_participation;
- a KRUS fixture built with dbt directly (seed 003: project from 2016-09-01, operating year
  2016-09-01 – 2017-08-31), whose 2017T3 delivery was quarantined: known answers, and "not judged,
  and why" for the periods that cannot be judged.

Every figure is read with a WHERE clause only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import duckdb
import pytest
from conftest import record_current_registers
from smtp_fixture import INSATSER_HEADER, cells, insats_row
from test_dbt_project import _failures, run_dbt
from test_period_marts import Deliveries, Episode, one, rows

from ingestion.core.contract import load_contract
from ingestion.intake.normalize import normalise

COLUMNS = [
    "association_code",
    "intervention_code",
    "period_type",
    "period_label",
    "period_start",
    "period_end",
    "target_code",
    "target_label",
    "target_value",
    "actual_value",
    "met",
    "note",
]
TARGET_COLUMNS = ["mal_deltagare_per_ar", "mal_andel_arbete_studier_rehab", "max_manader"]


# ------------------------------------------------------------------ the contract


def test_contract_1_1_has_optional_target_columns():
    contract = load_contract()
    assert tuple(int(p) for p in contract.version.split(".")) >= (1, 1)  # 1.2 added the kind uppfoljning
    columns = contract.columns("insatser")
    assert all(name in columns and not columns[name].required for name in TARGET_COLUMNS)
    assert {spec["column"] for spec in contract.data["targets"].values()} == set(TARGET_COLUMNS)


def test_register_reads_targets_by_swedish_headers_and_without_them():
    header = [*INSATSER_HEADER, "Mål antal deltagare per år", "Mål andel arbete studier rehabilitering", "Maxtid"]
    frame = normalise(cells(header, [insats_row("KRUS") + ["30", "30 %", "12"]]), "insatser", "SODRA", b"k" * 32).frame
    assert [int(frame.iloc[0][c]) for c in TARGET_COLUMNS] == [30, 30, 12]
    older = normalise(cells(INSATSER_HEADER, [insats_row("KRUS")]), "insatser", "SODRA", b"k" * 32).frame
    assert older[TARGET_COLUMNS].isna().all().all()


def test_a_warehouse_made_before_1_1_gets_the_target_columns(tmp_path):
    from test_dbt_project import DDL

    from ingestion.warehouse.schema import ensure_schema

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    for statement in DDL:  # raw tables as contract 1.0 made them
        con.execute(statement)
    con.execute("insert into raw.insatser (insats_kod) values ('KRUS')")
    ensure_schema(con)
    columns = {r[0]: r[1] for r in con.execute("describe raw.insatser").fetchall()}
    assert all(columns[name] == "INTEGER" for name in TARGET_COLUMNS)
    assert con.execute("select insats_kod, max_manader from raw.insatser").fetchall() == [("KRUS", None)]


# ------------------------------------------------------------------ the sample county


@pytest.fixture(scope="module")
def sample(published_sample):
    con = duckdb.connect(str(published_sample / "var" / "publish" / "finsam_marts.duckdb"), read_only=True)
    yield con
    con.close()


def target_row(con, intervention, period_type, label, target, table="marts.rpt_target_attainment") -> dict:
    return one(
        con,
        f"""select * from {table}
        where association_code = 'MITT' and intervention_code = ? and period_type = ? and period_label = ?
          and target_code = ?""",
        [intervention, period_type, label, target],
    )


def outcome(con, intervention, period_type, label) -> dict:
    return one(
        con,
        """select * from marts.rpt_outcomes_by_period
        where association_code = 'MITT' and intervention_code = ? and period_type = ? and period_label = ?
          and measure_window = 'in_period'""",
        [intervention, period_type, label],
    )


@pytest.mark.dbt
def test_sample_columns_and_which_interventions_have_targets(sample):
    names = [r[0] for r in sample.execute("describe marts.rpt_target_attainment").fetchall()]
    assert names == COLUMNS
    with_targets = {
        (r["association_code"], r["intervention_code"])
        for r in rows(sample, "select distinct association_code, intervention_code from marts.rpt_target_attainment")
    }
    # MITT's registers carry the columns (FRAMSTEG leaves them empty); SODRA's and NORR's are 1.0 registers
    assert with_targets == {("MITT", "VAGEN"), ("MITT", "UNGVUXNA")}


@pytest.mark.dbt
def test_sample_vagen_2016_against_krus_targets(sample):
    """VÄGEN's register holds KRUS's targets: 30 a year, 30 %, 12 months."""
    figures = outcome(sample, "VAGEN", "year", "2016")
    participants = target_row(sample, "VAGEN", "year", "2016", "PARTICIPANTS_PER_YEAR")
    assert participants["target_value"] == 30 and participants["actual_value"] == figures["participants"]
    assert participants["met"] is (figures["participants"] >= 30) and participants["note"] is None

    share = target_row(sample, "VAGEN", "year", "2016", "SHARE_WORK_STUDIES_REHAB")
    assert share["target_value"] == Decimal("0.3")
    # the mart's own share (kpi.sql), which is the plain ratio of its counts
    assert share["actual_value"] == figures["share_of_exits_excl_dropouts_to_work_studies_rehab"]
    expected = Decimal(figures["exits_to_work_studies_rehab"]) / Decimal(figures["exits_excl_dropouts"])
    assert share["actual_value"] == expected.quantize(Decimal("0.0001"))
    assert share["actual_value"] == Decimal("0.3929")  # issue 13: "0.39 for the year itself"
    assert share["met"] is True

    longest = target_row(sample, "VAGEN", "year", "2016", "MAX_MONTHS")
    months = sample.execute(
        """select max(months_in_intervention) from marts.fct_participation
        where association_code = 'MITT' and intervention_code = 'VAGEN'
          and end_date between date '2016-01-01' and date '2016-12-31' and exit_category <> 'excluded'"""
    ).fetchone()[0]
    assert longest["target_value"] == 12 and longest["actual_value"] == months > 12
    assert longest["met"] is False and longest["note"] is None
    assert "högst" in longest["target_label"] and "minst" in participants["target_label"]


@pytest.mark.dbt
def test_sample_a_year_the_intervention_did_not_run_in_full_is_not_judged(sample):
    row = target_row(sample, "VAGEN", "year", "2015", "PARTICIPANTS_PER_YEAR")  # VÄGEN started 2015-02-01
    assert row["met"] is None and row["note"].startswith("Insatsen startade 2015-02-01")
    assert row["actual_value"] == outcome(sample, "VAGEN", "year", "2015")["participants"]
    operating = target_row(sample, "VAGEN", "operating_year", "2015/16", "PARTICIPANTS_PER_YEAR")
    assert operating["met"] is True and operating["note"] is None
    # no row for a target the register does not set (UNGVUXNA has no maximum stay)
    assert not rows(
        sample,
        "select * from marts.rpt_target_attainment where intervention_code = 'UNGVUXNA' and target_code = 'MAX_MONTHS'",
    )


@pytest.mark.dbt
def test_sample_public_version_hides_outcomes_built_on_small_counts(sample):
    mart = target_row(sample, "VAGEN", "year", "2015", "SHARE_WORK_STUDIES_REHAB")
    figures = outcome(sample, "VAGEN", "year", "2015")
    assert figures["exits_to_work_studies_rehab"] < 5 and mart["actual_value"] is not None
    public = target_row(sample, "VAGEN", "year", "2015", "SHARE_WORK_STUDIES_REHAB", "public.pub_rpt_target_attainment")
    assert public["actual_value"] is None and public["actual_value_suppressed"] is True
    assert public["met"] is None and public["met_suppressed"] is True and public["target_value"] == mart["target_value"]
    shown = target_row(sample, "VAGEN", "year", "2016", "SHARE_WORK_STUDIES_REHAB", "public.pub_rpt_target_attainment")
    assert (
        shown["actual_value"] == Decimal("0.3929")
        and shown["met"] is True
        and shown["actual_value_suppressed"] is False
    )
    # every shown share rests on counts of at least 5 (the period mart's published counts)
    for r in rows(
        sample,
        """select t.actual_value, o.exits_to_work_studies_rehab, o.exits_excl_dropouts
        from public.pub_rpt_target_attainment t
        join marts.rpt_outcomes_by_period o using (association_code, intervention_code, period_type, period_start)
        where t.target_code = 'SHARE_WORK_STUDIES_REHAB' and o.measure_window = 'in_period'
          and t.actual_value is not null""",
    ):
        assert r["exits_to_work_studies_rehab"] >= 5 and r["exits_excl_dropouts"] >= 5


# ------------------------------------------------------------------ the KRUS fixture

KRUS_START = dt.date(2016, 9, 1)
BOUNDS = {
    "2016T3": (dt.date(2016, 9, 1), dt.date(2016, 12, 31)),
    "2017T1": (dt.date(2017, 1, 1), dt.date(2017, 4, 30)),
    "2017T2": (dt.date(2017, 5, 1), dt.date(2017, 8, 31)),
    "2017T3": (dt.date(2017, 9, 1), dt.date(2017, 12, 31)),
}
ON_TIME = {p: dt.datetime.combine(end + dt.timedelta(days=10), dt.time(9)) for p, (_s, end) in BOUNDS.items()}


def krus_episodes() -> list[Episode]:
    """34 people in the operating year 2016/17; 10 left by 2017-08-31: work 2, studies 1, rehab 1,
    early drop-out 2, others 4 (share 4 / 8 = 0.5); the longest stay 2016-09-01 – 2017-08-31."""
    d = dt.date
    exits = [
        (d(2016, 9, 1), d(2017, 8, 31), "ARBETE"),
        (d(2016, 9, 5), d(2017, 3, 15), "ARBETE"),
        (d(2016, 10, 3), d(2017, 5, 2), "STUDIER"),
        (d(2016, 11, 7), d(2017, 6, 30), "REHAB"),
        (d(2016, 9, 12), d(2016, 10, 1), "AVBROTT"),
        (d(2017, 2, 1), d(2017, 2, 20), "AVBROTT"),
        (d(2016, 9, 19), d(2017, 1, 31), "OHALSA"),
        (d(2016, 12, 1), d(2017, 4, 28), "ARBETSSOKANDE"),
        (d(2017, 1, 9), d(2017, 7, 14), "FLYTT"),
        (d(2016, 10, 17), d(2017, 8, 1), "ANNAT"),
    ]
    episodes = [Episode(f"kr{i}", start, end, reason) for i, (start, end, reason) in enumerate(exits)]
    starts = [KRUS_START + dt.timedelta(days=11 * i) for i in range(24)]  # still active on 2017-08-31
    episodes += [Episode(f"ka{i}", start) for i, start in enumerate(starts)]
    episodes.append(Episode("late", dt.date(2017, 9, 4)))  # after the operating year
    return episodes


def deliver(wh: Deliveries, kind, intervention, period, rows_, status="accepted") -> None:
    received = ON_TIME[period]
    delivery_id = hashlib.sha256(f"{kind}{intervention}{period}".encode()).hexdigest()
    wh.ledger(delivery_id, "KALMAR", intervention, kind, period, received, status, len(rows_))
    if status == "quarantined":
        return
    start, end = BOUNDS[period]
    for n, row in enumerate(rows_, start=2):
        full = {
            "delivery_id": delivery_id,
            "association_code": "KALMAR",
            "intervention_code": intervention,
            "period": period,
            "period_start": start,
            "period_end": end,
            "received_at": received,
            "source_row": n,
            **row,
        }
        wh.con.execute(
            f"insert into raw.{kind} ({', '.join(full)}) values ({', '.join('?' for _ in full)})", list(full.values())
        )


def register_row(code, start, **targets) -> dict:
    return {
        "insats_kod": code,
        "namn": code.title(),
        "inriktning": "INDIVID",
        "malgrupp": "UNGA_16_29+PSYKISK_OHALSA",
        "matmetod": "PERSON",
        "startdatum": start,
        "slutdatum": None,
        "platser": 15,
        "planerat_antal": 30,
        "huvudman": "AF+FK+KOMMUN:0880+REGION",
        "agare_epost": "krus@kalmar.example",
        "esf": False,
        "rapportering": "T",
        **targets,
    }


@pytest.fixture(scope="module")
def krus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("targets")
    warehouse = tmp / "finsam.duckdb"
    wh = Deliveries(warehouse)  # the DDL of tests/test_dbt_project.py: a register table of contract 1.0 ...
    for column in TARGET_COLUMNS:  # ... with the columns 1.1 added, as ensure_schema adds them
        wh.con.execute(f"alter table raw.insatser add column {column} integer")
    episodes = krus_episodes()
    targets = {"mal_deltagare_per_ar": 30, "mal_andel_arbete_studier_rehab": 30, "max_manader": 12}
    for period, (_start, end) in BOUNDS.items():
        register = [register_row("KRUS", KRUS_START, **targets), register_row("UTAN", dt.date(2016, 1, 1))]
        deliver(wh, "insatser", "ALL", period, register)
        delivered = [r for r in (e.as_delivered(end) for e in episodes) if r is not None]
        deliver(wh, "deltagare", "KRUS", period, delivered, "quarantined" if period == "2017T3" else "accepted")
        deliver(wh, "deltagare", "UTAN", period, [Episode("u1", dt.date(2016, 2, 1)).as_delivered(end)])
    wh.con.execute(
        "insert into meta.registry_associations values ('KALMAR', 'Kalmar län', '08', '0880', 'd@example.org')"
    )
    record_current_registers(wh.con)
    wh.con.close()
    selected = ["--select", "+rpt_target_attainment", "+pub_rpt_target_attainment", "--indirect-selection", "cautious"]
    result = run_dbt(["build", *selected], tmp, warehouse)
    assert result.success, f"dbt build failed:\n{_failures(result)}"
    con = duckdb.connect(str(warehouse))  # dbt's connection in this process is still open (same configuration)
    yield con
    con.close()


def krus_row(con, period_type, label, target) -> dict:
    return one(
        con,
        """select * from marts.rpt_target_attainment
        where association_code = 'KALMAR' and intervention_code = 'KRUS' and period_type = ? and period_label = ?
          and target_code = ?""",
        [period_type, label, target],
    )


@pytest.mark.dbt
def test_krus_operating_year_against_its_targets(krus):
    start, end = dt.date(2016, 9, 1), dt.date(2017, 8, 31)
    episodes = krus_episodes()
    during = [e for e in episodes if e.startdatum <= end and (e.slutdatum is None or e.slutdatum >= start)]
    left = [e for e in during if e.slutdatum is not None and e.slutdatum <= end]
    kept = [e for e in left if e.avslutsanledning != "AVBROTT"]
    to_work_studies_rehab = [e for e in kept if e.avslutsanledning in ("ARBETE", "STUDIER", "REHAB")]
    label = "2016/17"

    participants = krus_row(krus, "operating_year", label, "PARTICIPANTS_PER_YEAR")
    assert (participants["period_start"], participants["period_end"]) == (start, end)
    assert participants["actual_value"] == len(during) == 34 and participants["target_value"] == 30
    assert participants["met"] is True and participants["note"] is None

    share = krus_row(krus, "operating_year", label, "SHARE_WORK_STUDIES_REHAB")
    assert (len(to_work_studies_rehab), len(kept)) == (4, 8)
    assert share["actual_value"] == Decimal("0.5") and share["target_value"] == Decimal("0.3") and share["met"] is True

    longest = krus_row(krus, "operating_year", label, "MAX_MONTHS")
    days = max((e.slutdatum - e.startdatum).days for e in left)
    assert longest["actual_value"] == round(Decimal(days) / Decimal("30.4375"), 2) == Decimal("11.96")
    assert longest["met"] is True


@pytest.mark.dbt
def test_krus_periods_that_cannot_be_judged_say_why(krus):
    # 2016: KRUS began on 2016-09-01, a target per year is not judged on four months
    row = krus_row(krus, "year", "2016", "PARTICIPANTS_PER_YEAR")
    assert row["met"] is None and row["note"].startswith("Insatsen startade 2016-09-01")
    # 2016: no one left except an early drop-out
    row = krus_row(krus, "year", "2016", "SHARE_WORK_STUDIES_REHAB")
    assert row["actual_value"] is None and row["met"] is None and row["note"].startswith("Inga avslut")
    # 2017: the 2017T3 delivery was quarantined: every target of the year says so
    for target in ("PARTICIPANTS_PER_YEAR", "SHARE_WORK_STUDIES_REHAB", "MAX_MONTHS"):
        row = krus_row(krus, "year", "2017", target)
        assert row["met"] is None and "karantän" in row["note"], row
    # an intervention whose register sets no targets has no rows
    assert not rows(krus, "select * from marts.rpt_target_attainment where intervention_code = 'UTAN'")
    # met is null exactly when a note says why
    assert not rows(krus, "select * from marts.rpt_target_attainment where (met is null) <> (note is not null)")


@pytest.mark.dbt
def test_descriptions_are_column_comments_in_the_warehouse(published_sample):
    """dbt persist_docs: the yml descriptions become COMMENT ON the marts' tables and columns."""
    con = duckdb.connect(str(published_sample / "var" / "warehouse" / "finsam.duckdb"), read_only=True)
    try:
        comments = dict(
            con.execute(
                """select column_name, comment from duckdb_columns()
                where schema_name = 'marts' and table_name = 'rpt_target_attainment'"""
            ).fetchall()
        )
        table = con.execute(
            "select comment from duckdb_tables() where schema_name = 'public' and table_name = 'pub_rpt_target_attainment'"
        ).fetchone()[0]
    finally:
        con.close()
    assert set(comments) == set(COLUMNS) and all(comments.values())
    assert comments["note"].startswith("sv: Varför måluppfyllelsen inte bedöms")
    assert table.startswith("sv: Publicerad version av rpt_target_attainment")
