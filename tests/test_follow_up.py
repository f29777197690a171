"""Follow-up after exit (issue 13, item 4): the delivery kind `uppfoljning` (contract 1.2) end to end.

One synthetic county goes through intake, validation, load and the dbt build: SODRA's AVESTA
delivers its participants (2016) and a follow-up file (2017) whose answers are known (below);
KRAFTEN delivers a follow-up file with an unknown employment code, which is refused with a
Swedish finding. Every personnummer here is generated (tests/fixtures/synthetic.py).

AVESTA's episodes (P = personnummer, D = deltagar_id):

    P1 2016-01-10 – 2016-03-31   followed up "6 mån":        Arbete, Lön                 -> work
    P2 2016-02-01 – 2016-05-15   followed up 2016-11-15:      Studier, CSN                -> studies (184 days: 6 months)
    P3 2016-02-01 – 2016-06-30   followed up "6 månader":     Arbetssökande, AKS + FBS     -> public support
    D1 2016-01-20 – 2016-04-30   followed up "180 dagar":     Lönebidrag, Lönebidrag       -> work (subsidised), 6 months
    P4 2016-03-01 – 2016-08-31   followed up "12 mån":        Arbete, Lön                 -> work
    P5 2016-04-01 – 2016-10-15   followed up "1 år":          Sjukskriven, Sjukpenning     -> public support
    P6 2016-05-01 – (active)     followed up "6 mån":         before its exit
    P7 (no episode)              followed up "6 mån":         unmatched

Exits 2016: 6 (2016H1: P1, P2, P3, D1; 2016H2: P4, P5).
"""

from __future__ import annotations

import random
import re
from datetime import date

import duckdb
import pytest
from fixtures.county import make_county
from fixtures.synthetic import csv_bytes, make_pnr

from ingestion.core.contract import load_contract
from ingestion.intake.normalize import months_text, normalise

pytestmark = [pytest.mark.dbt]

AS_OF = date(2026, 11, 1)
RNG = random.Random(20161231)
PNR = {name: make_pnr(RNG, 1985 + i) for i, name in enumerate(["P1", "P2", "P3", "P4", "P5", "P6", "P7"])}

DELTAGARE_HEADER = [
    "Personnummer",
    "Deltagar-ID",
    "Kön",
    "Födelseår",
    "Kommun",
    "Startdatum",
    "Slutdatum",
    "Försörjning före",
    "Försörjning efter",
    "Avslutsanledning",
]
EPISODES = [  # who, start, end, exit reason
    ("P1", "2016-01-10", "2016-03-31", "Arbete"),
    ("P2", "2016-02-01", "2016-05-15", "Studier"),
    ("P3", "2016-02-01", "2016-06-30", "Arbetssökande"),
    ("D1", "2016-01-20", "2016-04-30", "Lönebidrag"),
    ("P4", "2016-03-01", "2016-08-31", "Arbete"),
    ("P5", "2016-04-01", "2016-10-15", "Ohälsa"),
    ("P6", "2016-05-01", "", ""),
]
FOLLOW_UP_HEADER = [
    "Personnummer",
    "Deltagar-ID",
    "Startdatum",
    "Uppföljningsdatum",
    "Uppföljning efter",
    "Sysselsättning",
    "Försörjning",
]
FOLLOW_UPS = [  # who, start, date, offset, employment, support
    ("P1", "2016-01-10", "", "6 mån", "Arbete", "Lön"),
    ("P2", "2016-02-01", "2016-11-15", "", "Studier", "CSN"),
    ("P3", "2016-02-01", "", "6 månader", "Arbetssökande", "Aktivitetsstöd, försörjningsstöd"),
    ("D1", "2016-01-20", "", "180 dagar", "Lönebidrag", "Lönebidrag"),
    ("P4", "2016-03-01", "", "12 mån", "Arbete", "Lön"),
    ("P5", "2016-04-01", "", "1 år", "Sjukskriven", "Sjukpenning"),
    ("P6", "2016-05-01", "", "6 mån", "Arbetssökande", "Aktivitetsstöd"),
    ("P7", "2016-03-03", "", "6 mån", "Arbete", "Lön"),
]


def _identity(who: str) -> list[str]:
    """[personnummer, deltagar-id]: D1 is known by the association's own id only."""
    return ["", "A-17"] if who == "D1" else [f"{PNR[who][:8]}-{PNR[who][8:]}", ""]


def _deltagare() -> bytes:
    rows = [
        [*_identity(who), "K", str(1985 + i), "2084", start, end, "FBS", "LON" if end else "", reason]
        for i, (who, start, end, reason) in enumerate(EPISODES)
    ]
    return csv_bytes(DELTAGARE_HEADER, rows)


def _follow_ups(rows=FOLLOW_UPS) -> bytes:
    return csv_bytes(FOLLOW_UP_HEADER, [[*_identity(who), *rest] for who, *rest in rows])


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    county = make_county(tmp_path_factory.mktemp("follow_up"), mp)
    county.deliver_register("SODRA", ("AVESTA", "KRAFTEN"))
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T3.csv", _deltagare())
    county.deliver("SODRA", "SODRA_AVESTA_uppfoljning_2017.csv", _follow_ups())
    bad = [("P1", "2016-01-10", "", "6 mån", "Flygande", "Lön")]
    county.deliver("SODRA", "SODRA_KRAFTEN_uppfoljning_2017.csv", _follow_ups(bad))
    county.process(as_of=AS_OF)
    county.load()
    from ingestion.warehouse.build import build_marts

    build_marts(county.settings, docs=False, full_refresh=True)
    yield county
    mp.undo()
    import ingestion.intake.normalize as normalize

    normalize.municipalities.cache_clear()
    normalize.municipality_names.cache_clear()


def _connect(county) -> duckdb.DuckDBPyConnection:
    """The warehouse, opened as dbt (still holding it in this process) opened it."""
    return duckdb.connect(str(county.settings.warehouse))


def _query(county, sql: str) -> list[tuple]:
    con = _connect(county)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _row(county, where: str) -> dict:
    con = _connect(county)
    try:
        result = con.execute(
            f"select * from marts.rpt_follow_up_after_exit where intervention_code = 'AVESTA' and {where}"
        )
        names = [d[0] for d in result.description]
        found = [dict(zip(names, r)) for r in result.fetchall()]
    finally:
        con.close()
    assert len(found) == 1, f"{len(found)} rows for {where}"
    return found[0]


# ------------------------------------------------------------------ the contract and the reader


def test_contract_1_2_declares_the_follow_up_kind():
    contract = load_contract()
    assert contract.version == "1.2"
    columns = contract.columns("uppfoljning")
    assert {"personnummer", "deltagar_id", "startdatum", "uppfoljningsdatum", "uppfoljning_efter"} <= set(columns)
    assert columns["sysselsattning"].codes == "sysselsattning" and columns["forsorjning"].codes == "forsorjning"
    assert contract.identifies_persons("uppfoljning") and not contract.identifies_persons("budget")
    assert contract.file_name_pattern.match("SODRA_AVESTA_uppfoljning_2017.xlsx")


@pytest.mark.parametrize(
    ("written", "months"),
    [
        ("90 dagar", "3"),
        ("3 mån", "3"),
        ("6 mån", "6"),
        ("6 månader", "6"),
        ("12 mån", "12"),
        ("1 år", "12"),
        ("6", "6"),
        ("180 dagar", "6"),
        ("2 år", "24"),
        ("12 månader efter avslut", "12"),
        ("snart", None),
    ],
)
def test_offsets_as_owners_write_them_are_months(written, months):
    assert months_text(written) == months


def test_follow_up_is_pseudonymised_at_the_first_read():
    cells = [FOLLOW_UP_HEADER, *[[*_identity(who), *rest] for who, *rest in FOLLOW_UPS[:4]]]
    import pandas as pd

    result = normalise(pd.DataFrame(cells), "uppfoljning", "SODRA", b"k" * 32)
    frame = result.frame
    assert result.had_personnummer
    assert "personnummer" not in frame.columns and "deltagar_id" not in frame.columns
    assert frame["person_key"].notna().all()
    assert list(frame["person_key_source"]) == ["personnummer", "personnummer", "personnummer", "deltagar_id"]
    assert list(frame["uppfoljning_efter"].fillna("")) == ["6", "", "6", "6"]
    assert list(frame["sysselsattning"]) == ["ARBETE", "STUDIER", "ARBETSSOKANDE", "SUBV_ARBETE"]
    assert frame["forsorjning"].iloc[2] == "AKS+FBS"
    text = frame.astype(str).to_csv()
    assert not any(PNR[w] in text or PNR[w][2:] in text for w in PNR)


# ------------------------------------------------------------------ the pipeline and the mart


def test_follow_up_delivery_is_accepted_and_loaded(county):
    (status,) = _query(
        county, "select status from meta.load_ledger where kind = 'uppfoljning' and intervention_code = 'AVESTA'"
    )
    assert status[0] in ("accepted", "accepted_with_warnings")
    assert _query(county, "select count(*) from raw.uppfoljning where intervention_code = 'AVESTA'") == [(8,)]


def test_year_cohort_at_six_months(county):
    row = _row(county, "cohort_type = 'year' and cohort_label = '2016' and follow_up_months = 6")
    assert (row["exits"], row["followed_up"], row["exits_not_followed_up"]) == (6, 4, 2)
    assert (row["in_work"], row["in_studies"], row["in_work_or_studies"], row["on_public_support"]) == (2, 1, 3, 1)
    assert float(row["share_of_exits_followed_up"]) == pytest.approx(4 / 6, abs=1e-4)
    assert float(row["share_of_followed_up_in_work_or_studies"]) == pytest.approx(0.75)
    assert (row["unmatched_follow_ups"], row["follow_ups_before_exit"]) == (0, 0)


def test_year_cohort_at_twelve_months(county):
    row = _row(county, "cohort_type = 'year' and cohort_label = '2016' and follow_up_months = 12")
    assert (row["exits"], row["followed_up"], row["in_work"], row["in_studies"], row["on_public_support"]) == (
        6,
        2,
        1,
        0,
        1,
    )


def test_half_year_cohorts(county):
    h1 = _row(county, "cohort_type = 'half_year' and cohort_label = '2016H1' and follow_up_months = 6")
    assert (h1["exits"], h1["followed_up"], h1["in_work"], h1["in_studies"], h1["on_public_support"]) == (4, 4, 2, 1, 1)
    assert (h1["cohort_start"], h1["cohort_end"], h1["exit_year"]) == (date(2016, 1, 1), date(2016, 6, 30), 2016)
    h2 = _row(county, "cohort_type = 'half_year' and cohort_label = '2016H2' and follow_up_months = 6")
    assert (h2["exits"], h2["followed_up"]) == (2, 0)
    h2_12 = _row(county, "cohort_type = 'half_year' and cohort_label = '2016H2' and follow_up_months = 12")
    assert (h2_12["exits"], h2_12["followed_up"], h2_12["in_work"], h2_12["on_public_support"]) == (2, 2, 1, 1)


def test_an_offset_and_a_date_both_place_the_follow_up(county):
    """P2 gave a date (184 days after exit), P1 and P3 "6 mån"/"6 månader", D1 "180 dagar": all at 6 months."""
    row = _row(county, "cohort_type = 'half_year' and cohort_label = '2016H1' and follow_up_months = 6")
    assert row["followed_up"] == 4 and row["in_studies"] == 1  # P2's studies: only the dated follow-up
    assert _query(
        county, "select count(*) from marts.rpt_follow_up_after_exit where follow_up_months not in (6, 12)"
    ) == [(0,)]


def test_unmatched_and_early_follow_ups_are_counted_not_dropped(county):
    row = _row(county, "cohort_type = 'no_exit_cohort' and follow_up_months = 6")
    assert (row["unmatched_follow_ups"], row["follow_ups_before_exit"]) == (1, 1)
    assert row["exits"] is None and row["cohort_label"] is None
    total = _query(
        county, "select sum(unmatched_follow_ups), sum(follow_ups_before_exit) from marts.rpt_follow_up_after_exit"
    )
    assert total == [(1, 1)]


def test_published_follow_up_hides_small_counts(county):
    con = _connect(county)
    try:
        row = con.execute(
            "select exits, exits_display, followed_up, followed_up_suppressed, share_of_exits_followed_up "
            "from public.pub_rpt_follow_up_after_exit where intervention_code = 'AVESTA' and cohort_type = 'year' "
            "and cohort_label = '2016' and follow_up_months = 6"
        ).fetchone()
    finally:
        con.close()
    assert row == (6, "6", None, True, None)


def test_no_personnummer_anywhere_in_the_warehouse(county):
    forms = {f for p in PNR.values() for f in (p, p[2:], f"{p[:8]}-{p[8:]}", f"{p[2:8]}-{p[8:]}")}
    con = _connect(county)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_schema in ('raw', 'meta', 'staging', 'intermediate', 'marts', 'public')"
        ).fetchall()
        assert ("raw", "uppfoljning", "person_key") in columns
        assert not [c for c in columns if c[1] == "uppfoljning" and c[2] in ("personnummer", "deltagar_id")]
        found = []
        for schema, table, column in columns:
            values = con.execute(f'select distinct cast("{column}" as varchar) from "{schema}"."{table}"').fetchall()
            found += [(schema, table, column) for (v,) in values if v and any(f in v for f in forms)]
    finally:
        con.close()
    assert found == []
    raw_zone = county.settings.home / "raw"
    for data in raw_zone.rglob("*.parquet"):
        text = data.read_bytes()
        assert not any(f.encode() in text for f in forms), data


def test_bad_code_in_follow_up_is_refused_in_swedish(county):
    (status,) = _query(
        county, "select status from meta.load_ledger where kind = 'uppfoljning' and intervention_code = 'KRAFTEN'"
    )
    assert status == ("quarantined",)
    messages = [
        m
        for (m,) in _query(
            county,
            "select message_sv from meta.validation_results v join meta.load_ledger l using (delivery_id) "
            "where l.intervention_code = 'KRAFTEN' and l.kind = 'uppfoljning' and not v.passed "
            "and v.severity = 'blocking'",
        )
    ]
    assert any("sysselsättning vid uppföljningen har ett värde som inte finns i kodlistan" in m for m in messages)
    notes = list((county.settings.home / "quarantine" / "SODRA").glob("*KRAFTEN_uppfoljning*.fel.txt"))
    assert len(notes) == 1
    text = notes[0].read_text(encoding="utf-8")
    assert re.search(r"rad 2\b", text), text
    assert "sysselsattning" in text or "sysselsättning" in text.lower()
    assert "Flygande" in text
    assert "ARBETE (arbete)" in text and "STUDIER (studier)" in text  # the valid codes


def test_follow_up_is_never_due_so_never_reminded(county):
    """Follow-up is voluntary: the due deliveries (and so the reminders) never ask for it, while
    they do ask for the same interventions' participants and budgets."""
    from ingestion.outbound.reminders import track_deliveries

    track_deliveries(county.settings, county.registry, as_of=AS_OF)
    con = _connect(county)
    try:
        expected = con.execute("select intervention_code, kind from marts.delivery_status").df()
    finally:
        con.close()
    kinds = set(expected.loc[expected["intervention_code"].eq("AVESTA"), "kind"])
    assert {"deltagare", "budget"} <= kinds
    assert "uppfoljning" not in set(expected["kind"])


def test_declared_disclosure_relations_hold_on_the_mart(county):
    """The relations _public.yml declares for pub_rpt_follow_up_after_exit (a cohort's exits split into
    followed up and not, work or studies = work + studies, the half-years sum to the year, a cohort's
    exits equal at every time after exit) are true of the unsuppressed mart."""
    from ingestion.outbound import disclosure

    con = _connect(county)
    try:
        pub = disclosure.read_published(con, tables=["pub_rpt_follow_up_after_exit"], unsuppressed_from="marts")
    finally:
        con.close()
    decl = {"pub_rpt_follow_up_after_exit": disclosure.declarations()["pub_rpt_follow_up_after_exit"]}
    eqs = disclosure.equations(pub, decl)
    # per cohort row 2 sums (6 rows), 7 group sums per year and offset (2), exits equal across offsets (3 pairs)
    assert len(eqs) == 6 * 2 + 2 * 7 + 3
    wrong = [(terms, b) for terms, b in eqs if sum(k * pub.value[c] for k, c in terms) != b]
    assert not wrong, wrong[:3]
