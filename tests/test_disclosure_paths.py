"""The tables whose rows span interventions, protected after the interventions
(`disclosure.protect_across_interventions`), on hand-made tables: the paths between interventions
split an intervention's entrants and exits (anonymous episodes are the rest, published nowhere), and
an association's year is the sum of its interventions'. No dbt and no pipeline: a few rows in DuckDB,
the declarations of _public.yml."""

from __future__ import annotations

import duckdb
import pytest

from ingestion.outbound import disclosure

SMALL = 5  # the default threshold: "<5" is 0..4


def _count(name: str, value: int | None, display: str | None = None) -> dict:
    """A count as the pub_ tables hold it: value, _suppressed, _display ("<5" below the threshold)."""
    if display is None:
        display = "<5" if value is not None and value < SMALL else str(value)
    hidden = display in ("<5", disclosure.SECONDARY_DISPLAY)
    return {name: None if hidden else value, f"{name}_suppressed": hidden, f"{name}_display": display}


def _table(con, name: str, rows: list[dict]) -> None:
    columns = list(rows[0])
    con.execute(
        f"create table public.{name} as select * from (values {', '.join(['(' + ', '.join(['?'] * len(columns)) + ')'] * len(rows))}) t({', '.join(columns)})",
        [r[c] for r in rows for c in columns],
    )


def _outcome(key: str, intervention: str, entrants: int, exits: int, entrants_display: str | None = None) -> dict:
    return {
        "outcome_period_key": key,
        "association_code": "NORD",
        "intervention_code": intervention,
        "period_type": "year",
        "period_label": "2016",
        "measure_window": "in_period",
        **_count("entrants", entrants, entrants_display),
        **_count("exits", exits),
    }


def _step(key: str, step: str, source: str | None, target: str | None, steps: int, overlapping: int = 0) -> dict:
    return {
        "pathway_key": key,
        "pathway_step": step,
        "from_association_code": source and "NORD",
        "from_intervention_code": source,
        "to_association_code": target and "NORD",
        "to_intervention_code": target,
        "year": 2016,
        **_count("steps", steps),
        **_count("people", steps),
        **_count("overlapping_steps", overlapping),
        **_count("steps_with_days_between", steps - overlapping if step == "next_episode" else 0),
    }


@pytest.fixture
def county():
    """Two interventions of one association in 2016. ALFA: 10 entrants, shown; 9 came as their first
    episode, 1 from BETA (an anonymous episode could have been the rest). BETA: its entrants hidden
    ("–") by the interventions' own protection; 6 first episodes. ALFA's 8 exits, 7 with no next."""
    con = duckdb.connect()
    con.execute("create schema public")
    _table(
        con,
        "pub_rpt_outcomes_by_period",
        [_outcome("o-alfa", "ALFA", 10, 8), _outcome("o-beta", "BETA", 7, 0, entrants_display="–")],
    )
    _table(
        con,
        "pub_rpt_pathways",
        [
            _step("p-first-alfa", "first_episode", None, "ALFA", 9),
            _step("p-beta-alfa", "next_episode", "BETA", "ALFA", 1, overlapping=1),
            _step("p-first-beta", "first_episode", None, "BETA", 6),
            _step("p-none-alfa", "no_next_episode", "ALFA", None, 7),
        ],
    )
    yield con
    con.close()


def _relations(pub: disclosure.Published) -> list:
    """The attacker's relations here: the paths' (the outcome table's own need columns left out here)."""
    return disclosure.equations(pub, {"pub_rpt_pathways": disclosure.declarations()["pub_rpt_pathways"]})


def _status(con) -> dict:
    pub = disclosure.read_published(con, tables=["pub_rpt_pathways", "pub_rpt_outcomes_by_period"])
    return pub, {(c[1], c[2]): s for c, s in pub.status.items() if c[0] == "pub_rpt_pathways"}


def test_paths_are_protected_as_splits_of_the_interventions_figures(county):
    pub, before = _status(county)
    # before: ALFA's entrants 10 - 9 first episodes leave 0..1 for the "<5" step from BETA (2 values);
    # BETA's hidden entrants are at least its 6 first episodes
    narrow = {c for c, iv in disclosure.intervals(pub, _relations(pub)).items() if disclosure.possible_values(iv) < 3}
    assert ("pub_rpt_pathways", "p-beta-alfa", "steps") in narrow
    assert before[("p-first-alfa", "steps")] == "published"

    # one remainder per relation: ALFA's and BETA's steps in, ALFA's steps out, people <= steps on 4 rows
    remainders = [c for terms, _ in _relations(pub) for _, c in terms if c[0] == disclosure.REMAINDER]
    assert len(remainders) == len(set(remainders)) == 3 + 4

    hidden = disclosure.protect_across_interventions(county, "public", None, disclosure.declarations())

    pub, after = _status(county)
    # the split of a shown figure: the smallest shown step (9) is hidden too, so 0..4 stays 0..4
    assert after[("p-first-alfa", "steps")] == "secondary"
    assert after[("p-beta-alfa", "steps")] == "primary"
    # a step's parts and its people follow it: shown "–" when it is hidden, whatever their size
    assert after[("p-first-alfa", "people")] == "secondary"
    # the split of a hidden figure (BETA's entrants) is hidden whole
    assert after[("p-first-beta", "steps")] == "secondary"
    assert after[("p-first-beta", "people")] == "secondary"
    # ALFA's 8 exits, 7 with no next episode: a shown part of a shown figure, nothing hidden to protect
    assert after[("p-none-alfa", "steps")] == "published"
    # the interventions' own figures are never touched
    outcomes = {c[1:]: s for c, s in pub.status.items() if c[0] == "pub_rpt_outcomes_by_period"}
    assert outcomes[("o-alfa", "entrants")] == "published" and outcomes[("o-beta", "entrants")] == "secondary"
    assert hidden == sum(1 for k, s in after.items() if s == "secondary" and before[k] != "secondary")
    found = disclosure.intervals(pub, _relations(pub))
    assert not [c for c, iv in found.items() if disclosure.possible_values(iv) < 3]
