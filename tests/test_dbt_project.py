"""dbt project tests: build the whole project on a small synthetic county.

The fixture creates a fresh DuckDB warehouse with the raw and meta tables
exactly as docs/architecture.md defines them, inserts a small Avesta-like
case (synthetic keys such as 'k1'), runs `dbt build` through the Python API
and checks a few mart values. dbt artifacts go to tmp (DBT_TARGET_PATH,
DBT_LOG_PATH), never into the repository tree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import record_current_registers

from ingestion.warehouse.schema import CURRENT_REGISTERS_DDL, REMINDERS_DDL, TRACKING_AS_OF_DDL, raw_table_ddl

pytestmark = [pytest.mark.dbt]

REPO = Path(__file__).resolve().parents[1]
DBT_DIR = REPO / "dbt_project"

DELIVERY_COLUMNS = """
    delivery_id varchar, association_code varchar, intervention_code varchar,
    period varchar, period_start date, period_end date, received_at timestamp,
    source_row integer"""

DDL = [
    "create schema if not exists raw",
    "create schema if not exists meta",
    f"""create table raw.deltagare ({DELIVERY_COLUMNS},
        person_key varchar, person_key_source varchar, is_anonymous boolean, kon varchar,
        fodelsear integer, kommun varchar, startdatum date, slutdatum date, remittent varchar,
        forsorjning_fore varchar, forsorjning_efter varchar, sysselsattning_fore varchar,
        sysselsattning_efter varchar, omfattning_efter integer, utbildning varchar,
        tid_offentlig_forsorjning varchar, avslutsanledning varchar)""",
    f"""create table raw.insatser ({DELIVERY_COLUMNS},
        insats_kod varchar, namn varchar, inriktning varchar, malgrupp varchar, matmetod varchar,
        startdatum date, slutdatum date, platser integer, planerat_antal integer, huvudman varchar,
        agare_epost varchar, esf boolean, rapportering varchar)""",
    f"""create table raw.budget ({DELIVERY_COLUMNS},
        ar integer, period_slut date, radtyp varchar, kostnadsslag varchar, finansiar varchar,
        rad_text varchar, budget decimal(18,2), utfall decimal(18,2), differens decimal(18,2),
        prognos decimal(18,2))""",
    f"""create table raw.volym ({DELIVERY_COLUMNS},
        ar integer, period_slut date, kon varchar, antal integer)""",
    """create table meta.load_ledger (delivery_id varchar, association_code varchar,
        intervention_code varchar, kind varchar, period varchar, file_name varchar, sha256 varchar,
        size_bytes bigint, rows_read integer, rows_kept integer, rows_dropped integer,
        received_at timestamp, status varchar, reason varchar, loaded_at timestamp, replay_of varchar,
        replay_reason varchar)""",
    """create table meta.registry_associations (association_code varchar, name varchar,
        county_code varchar, municipalities varchar, data_team_email varchar)""",
    # The tables ensure_schema creates before every build that this synthetic county leaves empty.
    raw_table_ddl("uppfoljning"),
    TRACKING_AS_OF_DDL,
    REMINDERS_DDL,
    CURRENT_REGISTERS_DDL,
]

PERIODS = {
    "2016T1": (dt.date(2016, 1, 1), dt.date(2016, 4, 30)),
    "2016T2": (dt.date(2016, 5, 1), dt.date(2016, 8, 31)),
    "2016H1": (dt.date(2016, 1, 1), dt.date(2016, 6, 30)),
    "2016": (dt.date(2016, 1, 1), dt.date(2016, 12, 31)),
}

EXIT_REASONS = (
    ["AVBROTT"] * 4
    + ["ARBETE"] * 5
    + ["REHAB"] * 2
    + ["SJE_AKE"] * 2
    + ["ARBETSSOKANDE", "ARBETSSOKANDE", "OHALSA", "FLYTT", "ANNAT"]
)
REFERRERS = ["KOMMUN"] * 25 + ["FK"] * 21 + ["REGION"] * 8 + ["AF"] * 3
SUPPORT = ["FBS", "AKS+FBS", "SJP"]


def avesta_episodes() -> list[dict]:
    """57 counted episodes (30 K / 27 M, 18 exits, 39 active on 2016-06-30) + 1 FELREG."""
    first = dt.date(2015, 5, 13)
    rows = []
    for i in range(57):
        start = first + dt.timedelta(days=7 * i)
        anonymous = i in (40, 41, 42)
        if i == 42:  # same kön, födelseår and start as 41: told apart by ordinal
            start = first + dt.timedelta(days=7 * 41)
        exited = i < 18
        rows.append(
            {
                "person_key": None if anonymous else f"k{i}",
                "person_key_source": None if anonymous else "deltagar_id",
                "is_anonymous": anonymous,
                "kon": "K" if i < 30 else "M",
                "fodelsear": 1990 if i in (41, 42) else 1960 + (i * 7) % 40,
                "kommun": "2084",
                "startdatum": start,
                "slutdatum": start + dt.timedelta(days=120 + 3 * i) if exited else None,
                "remittent": REFERRERS[i],
                "forsorjning_fore": SUPPORT[i % 3],
                "forsorjning_efter": ("LON" if EXIT_REASONS[i] == "ARBETE" else "FBS") if exited else None,
                "sysselsattning_fore": "ARBETSSOKANDE",
                "sysselsattning_efter": None,
                "omfattning_efter": 100 if exited and EXIT_REASONS[i] == "ARBETE" else None,
                "utbildning": "GYMNASIAL" if i % 2 else "FORGYMNASIAL",
                "tid_offentlig_forsorjning": "1-2",
                "avslutsanledning": EXIT_REASONS[i] if exited else None,
            }
        )
    rows.append(
        {
            **rows[20],
            "person_key": "k100",
            "startdatum": dt.date(2016, 1, 10),
            "slutdatum": dt.date(2016, 1, 11),
            "avslutsanledning": "FELREG",
        }
    )
    return rows


class Warehouse:
    def __init__(self, path: Path):
        self.con = duckdb.connect(str(path))
        for statement in DDL:
            self.con.execute(statement)

    def deliver(self, kind, association, intervention, period, received_at, rows):
        delivery_id = hashlib.sha256(f"{kind}{association}{intervention}{period}{received_at}".encode()).hexdigest()
        start, end = PERIODS[period]
        for n, row in enumerate(rows, start=2):
            full = {
                "delivery_id": delivery_id,
                "association_code": association,
                "intervention_code": intervention,
                "period": period,
                "period_start": start,
                "period_end": end,
                "received_at": received_at,
                "source_row": n,
                **row,
            }
            cols = ", ".join(full)
            marks = ", ".join("?" for _ in full)
            self.con.execute(f"insert into raw.{kind} ({cols}) values ({marks})", list(full.values()))
        file_name = f"{association}_{intervention}_{kind}_{period}.xlsx"
        self.con.execute(
            "insert into meta.load_ledger values (?, ?, ?, ?, ?, ?, ?, 1000, ?, ?, 0, ?, 'accepted', null, ?, null, null)",
            [
                delivery_id,
                association,
                intervention,
                kind,
                period,
                file_name,
                delivery_id,
                len(rows),
                len(rows),
                received_at,
                received_at,
            ],
        )
        return delivery_id


def build_sample_county(path: Path) -> None:
    wh = Warehouse(path)
    episodes = avesta_episodes()
    # 2016T1: episodes started by 30 April; k0 not yet ended (ends later: latest period wins).
    t1 = [dict(e) for e in episodes if e["startdatum"] <= dt.date(2016, 4, 30)]
    for e in t1:
        if e["person_key"] == "k0":
            e.update(slutdatum=None, avslutsanledning=None, forsorjning_efter=None, omfattning_efter=None)
    wh.deliver("deltagare", "SODRA", "AVESTA", "2016T1", dt.datetime(2016, 5, 10, 9), t1)
    # 2016H1 first delivery: wrong (an extra episode, a wrong exit reason) ...
    wrong = [dict(e) for e in episodes] + [{**episodes[50], "person_key": "k99"}]
    wrong[5] = {**wrong[5], "avslutsanledning": "ANNAT"}
    wh.deliver("deltagare", "SODRA", "AVESTA", "2016H1", dt.datetime(2016, 7, 5, 9), wrong)
    # ... superseded by the corrected delivery of the same period.
    wh.deliver("deltagare", "SODRA", "AVESTA", "2016H1", dt.datetime(2016, 7, 10, 9), episodes)
    kraften = [
        {
            **episodes[25],
            "startdatum": dt.date(2016, 3, 1),
            "slutdatum": None,
            "avslutsanledning": None,
            "kommun": "2083",
        },
        {
            **episodes[30],
            "person_key": "k200",
            "startdatum": dt.date(2016, 2, 1),
            "slutdatum": None,
            "avslutsanledning": None,
            "kommun": "2083",
        },
        {
            **episodes[31],
            "person_key": "k201",
            "startdatum": dt.date(2016, 2, 1),
            "slutdatum": None,
            "avslutsanledning": None,
            "kommun": "2083",
        },
    ]
    wh.deliver("deltagare", "SODRA", "KRAFTEN", "2016T1", dt.datetime(2016, 5, 11, 9), kraften)

    def cost(slag, text, budget, utfall, differens, prognos):
        return {
            "ar": 2016,
            "period_slut": dt.date(2016, 6, 30),
            "radtyp": "KOSTNAD",
            "kostnadsslag": slag,
            "finansiar": None,
            "rad_text": text,
            "budget": budget,
            "utfall": utfall,
            "differens": differens,
            "prognos": prognos,
        }

    wh.deliver(
        "budget",
        "SODRA",
        "AVESTA",
        "2016H1",
        dt.datetime(2016, 7, 10, 9),
        [
            cost("PERSONAL", "Personal", 1775000, 819000, 955000, 0),
            cost("LOKALER", "Lokaler", 165000, 88000, 77000, -9000),
            cost("OVRIGT", "Övriga kostnader", 160000, 81000, 79000, 20000),
            {
                "ar": 2016,
                "period_slut": dt.date(2016, 6, 30),
                "radtyp": "BEVILJAT",
                "kostnadsslag": None,
                "finansiar": None,
                "rad_text": "Beviljat av styrelsen",
                "budget": 2000000,
                "utfall": None,
                "differens": None,
                "prognos": None,
            },
        ],
    )

    def funding(finansiar, amount):
        return {
            "ar": 2016,
            "period_slut": dt.date(2016, 12, 31),
            "radtyp": "FINANSIERING",
            "kostnadsslag": None,
            "finansiar": finansiar,
            "rad_text": finansiar,
            "budget": amount,
            "utfall": None,
            "differens": None,
            "prognos": None,
        }

    wh.deliver(
        "budget",
        "SODRA",
        "ALL",
        "2016",
        dt.datetime(2016, 2, 1, 9),
        [
            funding("STAT", 1000000),
            funding("REGION", 500000),
            funding("KOMMUN:2084", 300000),
            funding("KOMMUN:2083", 200000),
        ],
    )

    def insats(code, name, platser):
        return {
            "insats_kod": code,
            "namn": name,
            "inriktning": "INDIVID",
            "malgrupp": "ALLA_16_64",
            "matmetod": "PERSON",
            "startdatum": dt.date(2015, 5, 1),
            "slutdatum": None,
            "platser": platser,
            "planerat_antal": 40,
            "huvudman": "AF+FK+KOMMUN:2084+REGION",
            "agare_epost": "agare@example.org",
            "esf": False,
            "rapportering": "T",
        }

    wh.deliver(
        "insatser",
        "SODRA",
        "ALL",
        "2016T1",
        dt.datetime(2016, 5, 1, 9),
        [insats("AVESTA", "Samverkansteam Avesta", 20), insats("KRAFTEN", "Kraften", 15)],
    )
    wh.deliver(
        "insatser",
        "SODRA",
        "ALL",
        "2016T2",
        dt.datetime(2016, 9, 1, 9),
        [insats("AVESTA", "Samverkansteam Avesta", 25), insats("KRAFTEN", "Kraften", 15)],
    )
    wh.deliver(
        "volym",
        "SODRA",
        "STRUKT",
        "2016",
        dt.datetime(2017, 1, 20, 9),
        [
            {"ar": 2016, "period_slut": dt.date(2016, 12, 31), "kon": "K", "antal": 12},
            {"ar": 2016, "period_slut": dt.date(2016, 12, 31), "kon": "M", "antal": 8},
        ],
    )
    wh.con.execute(
        "insert into meta.registry_associations values "
        "('SODRA', 'Södra Dalarnas samordningsförbund', '20', '2084,2083,2082', 'data@example.org')"
    )
    record_current_registers(wh.con)
    wh.con.close()


def run_dbt(args: list[str], tmp: Path, warehouse: Path, target: str = "duckdb"):
    """A dbt command on `warehouse` as the pipeline runs it (`build.invoke`: the session's kept parse,
    the settings' vars), its target folder and log under `tmp`/dbt; dbt's result, failed or not."""
    from ingestion.core.config import load_settings
    from ingestion.warehouse import build

    return build.invoke(load_settings(home=tmp, warehouse=warehouse, dbt_target=target), *args)


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt_build")
    warehouse = tmp / "finsam.duckdb"
    build_sample_county(warehouse)
    result = run_dbt(["build"], tmp, warehouse)
    assert result.success, f"dbt build failed:\n{_failures(result)}"
    con = duckdb.connect(str(warehouse))  # same config as dbt-duckdb's open in-process connection
    yield con
    con.close()


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_dbt_parse(tmp_path, target):
    had_target_dir = (DBT_DIR / "target").exists()
    result = run_dbt(["parse"], tmp_path, tmp_path / "unused.duckdb", target=target)
    assert result.success, result.exception
    assert (tmp_path / "dbt" / "target" / "manifest.json").exists()
    assert had_target_dir or not (DBT_DIR / "target").exists(), "dbt wrote artifacts into the repo"


def _failures(result) -> str:
    if result.result is None:
        return str(result.exception)
    return "\n".join(
        f"{r.node.unique_id}: {r.status} {r.message}" for r in result.result if str(r.status) not in ("success", "pass")
    )


def test_contract_codes_seed_is_up_to_date():
    script = DBT_DIR / "scripts" / "export_contract_codes.py"
    completed = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_avesta_outcomes(built_warehouse):
    row = built_warehouse.execute("""
        select enrolled_to_date, exits_to_date, early_dropouts, exits_to_work, to_studies, to_rehab,
               to_sje_ake, to_other, active_at_period_end, exits_excl_dropouts, share_work_studies_rehab
        from marts.rpt_intervention_outcomes
        where association_code = 'SODRA' and intervention_code = 'AVESTA'
          and period_type = 'half_year' and period_end = date '2016-06-30'
    """).fetchone()
    assert row[:10] == (57, 18, 4, 5, 0, 2, 2, 5, 39, 14)
    assert float(row[10]) == pytest.approx(0.5)


def test_supersession_and_felreg(built_warehouse):
    assert (
        built_warehouse.execute(
            "select count(*) from marts.fct_participation where intervention_code = 'AVESTA'"
        ).fetchone()[0]
        == 57
    )
    assert (
        built_warehouse.execute("select count(*) from marts.fct_participation where person_key = 'k99'").fetchone()[0]
        == 0
    )
    assert built_warehouse.execute("select count(*) from marts.audit_excluded_episodes").fetchone()[0] == 1
    # k0 ended only in the 2016H1 delivery: the latest period wins.
    assert (
        built_warehouse.execute(
            "select exit_reason from marts.fct_participation where person_key = 'k0' and intervention_code = 'AVESTA'"
        ).fetchone()[0]
        == "AVBROTT"
    )


def test_budget_difference_mismatch(built_warehouse):
    row = built_warehouse.execute("""
        select difference_reported, difference_computed, difference_mismatch
        from marts.fct_budget where intervention_code = 'AVESTA' and cost_type = 'PERSONAL'
    """).fetchone()
    assert (float(row[0]), float(row[1]), row[2]) == (955000.0, 956000.0, True)
    outcome = built_warehouse.execute("""
        select budget, granted, budget_differs_from_granted
        from marts.rpt_budget_outcome where intervention_code = 'AVESTA'
    """).fetchone()
    assert (float(outcome[0]), float(outcome[1]), outcome[2]) == (2100000.0, 2000000.0, True)


def test_funding_rule(built_warehouse):
    rows = dict(
        built_warehouse.execute(
            "select funder_group, max(funder_group_share) from marts.fct_funding group by 1"
        ).fetchall()
    )
    assert {k: float(v) for k, v in rows.items()} == {"STAT": 0.5, "REGION": 0.25, "KOMMUN": 0.25}
    assert (
        built_warehouse.execute("select count(*) from marts.fct_funding where breaks_funding_rule").fetchone()[0] == 0
    )


def test_intervention_history(built_warehouse):
    rows = built_warehouse.execute("""
        select places, valid_from, valid_to, is_current from marts.dim_intervention
        where intervention_code = 'AVESTA' order by version_number
    """).fetchall()
    assert rows == [(20, dt.date(2016, 1, 1), dt.date(2016, 4, 30), False), (25, dt.date(2016, 5, 1), None, True)]


def test_county_overview_counts_people_once(built_warehouse):
    row = built_warehouse.execute("""
        select unique_people, people_in_several_interventions from marts.rpt_county_overview
        where association_code = 'SODRA' and year = 2016
    """).fetchone()
    # 2016: k25 is active in both AVESTA and KRAFTEN: one person, two interventions.
    assert row[1] == 1


def test_public_suppression(built_warehouse):
    row = built_warehouse.execute("""
        select to_rehab, to_rehab_suppressed, to_rehab_display, enrolled_to_date, enrolled_to_date_display,
               share_work_studies_rehab, share_work_studies_rehab_suppressed
        from public.pub_rpt_intervention_outcomes
        where intervention_code = 'AVESTA' and period_type = 'half_year' and period_end = date '2016-06-30'
    """).fetchone()
    assert row[:5] == (None, True, "<5", 57, "57")
    assert row[5] is not None and row[6] is False
    kraften = built_warehouse.execute("""
        select enrolled_to_date, enrolled_to_date_display from public.pub_rpt_intervention_outcomes
        where intervention_code = 'KRAFTEN' and period_type = 'tertial'
    """).fetchall()
    assert kraften and all(r == (None, "<5") for r in kraften)


def test_dimensions(built_warehouse):
    counts = built_warehouse.execute(
        "select count(*), count(distinct county_code) from marts.dim_municipality"
    ).fetchone()
    assert counts == (290, 21)
    assert (
        built_warehouse.execute(
            "select association_code from marts.dim_municipality where municipality_code = '2084'"
        ).fetchone()[0]
        == "SODRA"
    )
    assert built_warehouse.execute("select min(date_day), max(date_day), count(*) from marts.dim_date").fetchone() == (
        dt.date(2000, 1, 1),
        dt.date(2035, 12, 31),
        13149,
    )
    assert (
        built_warehouse.execute(
            "select tertial_label from marts.dim_date where date_day = date '2016-06-15'"
        ).fetchone()[0]
        == "2016T2"
    )


def test_not_null_columns_names_each_empty_column_and_its_rows(built_warehouse, tmp_path):
    """A model's non-key columns that must be filled are one test (`not_null_columns`): an empty
    value fails it, and its rows say which column and how many rows; a filled table passes."""
    con = built_warehouse
    path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    code_list, code, label = con.execute(
        "select code_list, code, label_sv from marts.dim_code order by code_list, code limit 1"
    ).fetchone()
    con.execute("update marts.dim_code set label_sv = null where code_list = ? and code = ?", [code_list, code])
    try:
        result = run_dbt(["test", "--select", "dim_code,test_name:not_null_columns"], tmp_path, Path(path))
        assert not result.success
        [failed] = [r for r in result.result if str(r.status) == "fail"]
        assert failed.node.name.startswith("not_null_columns_dim_code") and failed.failures == 1
        compiled = next((tmp_path / "dbt" / "target" / "compiled").rglob(f"{failed.node.name}.sql")).read_text()
        assert con.execute(compiled).fetchall() == [("label_sv", 1)]
    finally:
        con.execute("update marts.dim_code set label_sv = ? where code_list = ? and code = ?", [label, code_list, code])
    result = run_dbt(["test", "--select", "dim_code,test_name:not_null_columns"], tmp_path, Path(path))
    assert result.success and [str(r.status) for r in result.result] == ["pass"]


def test_primary_key_names_each_null_or_repeated_key(built_warehouse, tmp_path):
    """A key's unique and not_null are one test (`primary_key`): a repeated key and an empty one fail
    it, each named by its rows (key value, rows with it); the table as built passes."""
    con = built_warehouse
    path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    select = ["test", "--select", "dim_code,test_name:primary_key"]
    built = con.execute("select max(rowid) from marts.dim_code").fetchone()[0]
    key = con.execute("select code_key from marts.dim_code order by code_key limit 1").fetchone()[0]
    con.execute("insert into marts.dim_code select * from marts.dim_code where code_key = ?", [key])
    con.execute(
        "insert into marts.dim_code select * replace (null as code_key) from marts.dim_code where rowid = ?", [built]
    )
    try:
        result = run_dbt(select, tmp_path, Path(path))
        assert not result.success
        [failed] = [r for r in result.result if str(r.status) == "fail"]
        assert failed.node.name.startswith("primary_key_dim_code_code_key") and failed.failures == 2
        compiled = next((tmp_path / "dbt" / "target" / "compiled").rglob(f"{failed.node.name}.sql")).read_text()
        assert sorted(con.execute(compiled).fetchall(), key=repr) == sorted([(key, 2), (None, 1)], key=repr)
    finally:
        con.execute("delete from marts.dim_code where rowid > ?", [built])
    result = run_dbt(select, tmp_path, Path(path))
    assert result.success and [str(r.status) for r in result.result] == ["pass"]


def test_finsam_run_with_the_postgres_target(
    tmp_path, fresh_postgres_db, monkeypatch, published_sample, sample_disclosure_cache
):
    """FINSAM_DBT_TARGET=postgres is configuration only: the sample county's raw and meta copied
    over, every model built and every test passed in PostgreSQL, each mart with the rows it has
    when the same deliveries are built in DuckDB (`published_sample`), and published (snapshot +
    Parquet) from there."""
    import shutil

    import psycopg2
    from conftest import SAMPLE, seed_disclosure_cache

    from ingestion.core.config import load_settings
    from ingestion.core.registry import load_registry
    from ingestion.pipeline import run_pipeline

    db = fresh_postgres_db
    env = {
        "FINSAM_DBT_TARGET": "postgres",
        "FINSAM_PG_HOST": db["host"],
        "FINSAM_PG_PORT": str(db["port"]),
        "FINSAM_PG_USER": db["user"],
        "FINSAM_PG_PASSWORD": db["password"],
        "FINSAM_PG_DBNAME": db["dbname"],
        "FINSAM_HOME": str(tmp_path / "home"),
        "FINSAM_LANDING": str(tmp_path / "landing"),
        "FINSAM_WAREHOUSE": str(tmp_path / "home" / "warehouse" / "finsam.duckdb"),
        "FINSAM_REGISTRY": str(SAMPLE / "registry.yml"),
        "FINSAM_DEMO": "1",
        "FINSAM_WORKERS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    shutil.copytree(SAMPLE / "landing", tmp_path / "landing")
    settings = load_settings()
    seed_disclosure_cache(sample_disclosure_cache, settings.warehouse)
    run_pipeline(settings, load_registry(settings.registry), as_of=dt.date(2026, 11, 1), docs=False)
    built = str(published_sample / "var" / "warehouse" / "finsam.duckdb")
    try:
        duck = duckdb.connect(built, read_only=True)
    except duckdb.ConnectionException:  # dbt-duckdb in this process built it and holds it open
        duck = duckdb.connect(built)
    try:
        tables = duck.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE'"
        ).fetchall()
        in_duckdb = {t: duck.execute(f'select count(*) from marts."{t}"').fetchone()[0] for (t,) in tables}
    finally:
        duck.close()
    with psycopg2.connect(**db) as pg, pg.cursor() as cur:
        in_postgres = {}
        for table in in_duckdb:
            cur.execute(f'select count(*) from marts."{table}"')
            in_postgres[table] = cur.fetchone()[0]
        assert in_postgres == in_duckdb and in_duckdb["fct_participation"] > 300
        cur.execute("""select enrolled_to_date, active_at_period_end, exits_to_date, share_work_studies_rehab
                       from marts.rpt_intervention_outcomes
                       where intervention_code = 'AVESTA' and period_type = 'half_year' and period_end = '2016-06-30'""")
        outcomes = cur.fetchall()
        assert [row[:3] for row in outcomes] == [(57, 39, 18)] and float(outcomes[0][3]) == pytest.approx(0.5)
        # Tracking wrote the run's date where the dbt view lives, and read the statuses there.
        cur.execute("select as_of, count(*) from marts.delivery_status group by as_of")
        tracked = cur.fetchall()
        cur.execute("select association_code, count(*) from marts.delivery_status where status = 'overdue' group by 1")
        overdue = dict(cur.fetchall())
    assert [day for day, _ in tracked] == [dt.date(2026, 11, 1)] and tracked[0][1] > 0
    # the validation page's "Försenade nu" reads the same view, in PostgreSQL
    from ingestion.outbound.validation_report import collect

    assert overdue and collect(settings, load_registry(settings.registry))[1]["overdue"] == overdue
    snapshot = duckdb.connect(str(settings.publish / "finsam_marts.duckdb"), read_only=True)
    try:
        assert snapshot.execute("""select enrolled_to_date from marts.rpt_intervention_outcomes
            where intervention_code = 'AVESTA' and period_type = 'half_year'
              and period_end = date '2016-06-30'""").fetchall() == [(57,)]
        assert snapshot.execute("select count(*) from marts.delivery_status").fetchone()[0] == tracked[0][1]
    finally:
        snapshot.close()
    assert (settings.publish / "parquet" / "marts.fct_participation.parquet").exists()
