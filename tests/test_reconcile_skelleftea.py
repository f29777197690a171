"""Reconciliation with the real report of Arbetsmarknadstorget Skellefteå 2014 (reference-figures.md).

data/sample_reference encodes that situation as a delivery; the whole pipeline (land, GX, load, dbt,
publish) runs on it and the published marts must give the report's figures.
"""

from __future__ import annotations

import duckdb
import pytest

pytestmark = [pytest.mark.dbt]


@pytest.fixture(scope="module")
def marts(published_skelleftea):
    """The reference sample's published snapshot (the whole pipeline as of 2015-03-01, once per session)."""
    con = duckdb.connect(str(published_skelleftea / "var" / "publish" / "finsam_marts.duckdb"), read_only=True)
    yield con
    con.close()


def shares(con, column: str) -> dict[str, float]:
    rows = con.execute(f"""
        select {column}, sum(exits) * 1.0 / sum(sum(exits)) over () as share
        from marts.rpt_support_transitions
        where association_code = 'SKEL' and intervention_code = 'ATORG' and exit_year = 2014
        group by {column}""").fetchall()
    return {code: round(float(share), 2) for code, share in rows}


def test_support_at_start_of_those_who_left(marts):
    assert shares(marts, "support_before") == {
        "FBS": 0.38,
        "AKE": 0.20,
        "AKS": 0.17,
        "INGEN": 0.12,
        "AKS+FBS": 0.09,
        "CSN": 0.04,
    }


def test_support_at_exit(marts):
    # AKE 28 % = 17 newly granted + 11 held before (both aktivitetsersättning)
    assert shares(marts, "support_after") == {
        "CSN": 0.21,
        "SUBV": 0.19,
        "AKE": 0.28,
        "FBS": 0.16,
        "LON": 0.09,
        "INGEN": 0.04,
        "AKS": 0.03,
    }


def test_77_percent_to_work_studies_or_activity_compensation(marts):
    after = shares(marts, "support_after")
    assert round(after["CSN"] + after["SUBV"] + after["LON"] + after["AKE"], 2) == 0.77


def test_education_and_time_in_intervention(marts):
    education = dict(
        marts.execute("""
        select education, round(count(*) * 1.0 / sum(count(*)) over (), 2)
        from marts.fct_participation where association_code = 'SKEL' group by education""").fetchall()
    )
    assert {k: float(v) for k, v in education.items()} == {"FORGYMNASIAL": 0.57, "GYMNASIAL": 0.43}
    months = dict(
        marts.execute("""
        select case when age_at_start <= 23 then '16-23' else '24-29' end, avg(months_in_intervention)
        from marts.fct_participation
        where association_code = 'SKEL' and end_date between date '2014-01-01' and date '2014-12-31'
        group by 1""").fetchall()
    )
    overall = marts.execute("""select avg(months_in_intervention) from marts.fct_participation
        where association_code = 'SKEL' and end_date between date '2014-01-01' and date '2014-12-31'""").fetchone()[0]
    assert float(overall) == pytest.approx(12.5, abs=0.3)
    assert float(months["16-23"]) == pytest.approx(11, abs=0.3)
    assert float(months["24-29"]) == pytest.approx(16, abs=0.3)


def test_board_granted_amount_is_shown(marts):
    """The board granted 550 000 SEK for 2014-07-01 – 2014-12-31; the file's budget matches it."""
    rows = marts.execute("""select granted, budget_minus_granted, budget_differs_from_granted
        from marts.rpt_budget_outcome where association_code = 'SKEL' and intervention_code = 'ATORG'""").fetchall()
    assert [(float(a), float(b), c) for a, b, c in rows] == [(550000.0, 0.0, False)]
