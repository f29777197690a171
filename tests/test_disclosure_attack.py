"""The attacker: from everything published for a county (all pub_ tables of the snapshot together),
set up the linear relations between the cells (declared once in dbt_project/models/public/_public.yml)
and compute for every hidden cell the interval of values consistent with the published ones (linear
programming, HiGHS via scipy). No hidden cell may be narrowed to fewer than 3 possible values.

Run on the sample county (the shared `published_sample`) and on a synthetic county with many small
interventions built with dbt. The two leaks of issue 15 are regression tests: they are found in the
warehouse's pub_ tables (primary suppression only, what was published before disclosure control)
and are gone from the snapshot.
"""

from __future__ import annotations

import importlib.util
import time
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, run_county_pipeline

from ingestion.outbound import disclosure

pytestmark = [pytest.mark.dbt]

# The second county: 2 associations, 20 interventions (17 with participants, 3-8 episodes each;
# 3 volume-only), 2015-2016, every exit category, both sexes, ages 18-64; synthetic personnummer.
# (Until 2026-12-03 three years, 2014-2016, and 170 episodes: as many hidden cells, twice the time.)
SMALL_COUNTY = {"associations": 2, "interventions": 20, "years": 2, "start_year": 2015, "episodes": 115}
SMALL_AS_OF = "2017-01-15"


@pytest.fixture(scope="module")
def published_small_county(tmp_path_factory) -> Path:
    """A generated county of many small interventions run once through the whole pipeline
    (data/generate_sample.py's generate_national with county-sized parameters)."""
    spec = importlib.util.spec_from_file_location("generate_sample", REPO / "data" / "generate_sample.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    data = tmp_path_factory.mktemp("small_county_data")
    gen.generate_national(data, **SMALL_COUNTY)
    home = tmp_path_factory.mktemp("published_small_county")
    run_county_pipeline(home, data, SMALL_AS_OF)
    return home


def attack(con: duckdb.DuckDBPyConnection, tables=None, exact: bool = False, only=None) -> dict:
    """Every hidden cell's interval as an attacker computes it from what `con`'s public schema shows."""
    pub = disclosure.read_published(con, tables=tables)
    eqs = disclosure.equations(pub)
    return disclosure.intervals(pub, eqs, exact=exact, only=only)


def report(name: str, found: dict, seconds: float) -> None:
    narrowest = min(found.items(), key=lambda kv: (disclosure.possible_values(kv[1]), repr(kv[0])))
    print(
        f"\n{name}: {len(found)} dolda celler, smalaste intervall {narrowest[1][:2]} "
        f"({disclosure.possible_values(narrowest[1])} möjliga värden) för {narrowest[0]}; {seconds:.1f} s"
    )


def assert_protected(found: dict) -> None:
    narrow = {c: iv for c, iv in found.items() if disclosure.possible_values(iv) < disclosure.MIN_VALUES}
    assert not narrow, f"{len(narrow)} dolda celler går att räkna fram (t.ex. {sorted(narrow.items(), key=repr)[:3]})"


def replacing(pub: disclosure.Published, table: disclosure.Table, value: dict, status: dict) -> disclosure.Published:
    """What `pub` shows with one table's rows and cells replaced (a variation of the publication)."""
    return disclosure.Published(
        tables={**pub.tables, table.name: table},
        threshold=pub.threshold,
        value={c: v for c, v in pub.value.items() if c[0] != table.name} | value,
        status={c: s for c, s in pub.status.items() if c[0] != table.name} | status,
    )


def snapshot(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "var" / "publish" / "finsam_marts.duckdb"), read_only=True)


def warehouse(home: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse's pub_ tables: primary suppression only (what the snapshot held before)."""
    path = str(home / "var" / "warehouse" / "finsam.duckdb")
    try:
        return duckdb.connect(path, read_only=True)
    except duckdb.ConnectionException:  # dbt-duckdb in this process still holds it open (we only read)
        return duckdb.connect(path)


def framsteg_cell(con, table: str, column: str, where: str) -> tuple:
    key = con.execute(
        f"select outcome_key from public.{table} where intervention_code = 'FRAMSTEG' and {where}"
    ).fetchone()
    assert key is not None
    return (table, key[0], column)


LEAKS = {
    # issue 15: new_in_period "<5" in 2016-12 while enrolled_to_date 60 against 59 in 2016-11
    "new_in_period_2016_12": ("new_in_period", "period_type = 'month' and period_label = '2016-12'"),
    # issue 15: to_sje_ake "<5" in the 2016 year row = exits_excl_dropouts − the other categories
    "to_sje_ake_2016": ("to_sje_ake", "period_type = 'year' and period_label = '2016'"),
}


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_issue_15_leaks_are_closed(published_sample, leak):
    column, where = LEAKS[leak]
    table = "pub_rpt_intervention_outcomes"
    before = warehouse(published_sample)
    try:
        cell = framsteg_cell(before, table, column, where)
        found = attack(before, tables=[table], exact=True, only=[cell])
    finally:
        before.close()
    # the old publication: the cell is hidden, and one subtraction gives it back
    assert cell in found and disclosure.possible_values(found[cell]) == 1, found.get(cell)
    after = snapshot(published_sample)
    try:
        cell = framsteg_cell(after, table, column, where)
        found = attack(after, tables=[table], exact=True, only=[cell])
    finally:
        after.close()
    assert cell in found, "the cell is published in the snapshot"
    assert disclosure.possible_values(found[cell]) >= disclosure.MIN_VALUES, found[cell]


def test_sample_county_lp_attack_on_the_intervention_outcomes(published_sample):
    """The linear program on the table of issue 15: every hidden cell keeps at least 3 values."""
    started = time.monotonic()
    con = snapshot(published_sample)
    try:
        found = attack(con, tables=["pub_rpt_intervention_outcomes"])
    finally:
        con.close()
    report("länet, pub_rpt_intervention_outcomes (LP)", found, time.monotonic() - started)
    assert len(found) > 500
    assert_protected(found)


def every_table_attack(home: Path, name: str) -> tuple[disclosure.Published, dict]:
    """The exact attacker over everything published for the county together: every pub_ table,
    every declared relation within and across them."""
    started = time.monotonic()
    con = snapshot(home)
    try:
        pub = disclosure.read_published(con)
    finally:
        con.close()
    found = disclosure.intervals(pub, disclosure.equations(pub))
    report(f"{name}, alla publicerade tabeller tillsammans (LP)", found, time.monotonic() - started)
    return pub, found


def test_sample_county_lp_attack_on_every_table_together(published_sample):
    """Issue 15's promise: from everything published for the county together, no hidden cell can be
    narrowed to fewer than 3 values. (Before the breakdowns were protected slice by slice, this
    attack narrowed 209 hidden cells of this snapshot, 28 of them "<5" in the sex/age and profile
    breakdowns.)"""
    pub, found = every_table_attack(published_sample, "länet")
    assert_dense(pub)
    assert {"pub_rpt_intervention_outcomes_by_group", "pub_rpt_profile_by_period"} <= {c[0] for c in found}
    assert len(found) > 90_000  # 98 305 since the sex/age breakdown is published without months
    assert_protected(found)


def test_a_breakdown_of_a_hidden_figure_is_hidden_whole(published_sample):
    """The breakdown rule, as a reader sees it: in every slice of a breakdown (e.g. one period's sex x
    age rows of an intervention) whose margin in the outcome tables is hidden, every count is "–"
    (neither a number nor "<5") except copies of the outcome tables' figures, shown as they are."""
    con = snapshot(published_sample)
    try:
        pub = disclosure.read_published(con)
    finally:
        con.close()
    eqs = disclosure.equations(pub)
    core = set(disclosure.LP_AUDITED)
    copies = disclosure.copies(eqs)  # cells equal through relations a = b
    for members in copies.values():  # the same figure is shown, or hidden, everywhere
        assert len({pub.status[c] == "published" for c in members}) == 1, members

    def shown_as_its_figure(cell) -> bool:
        return any(c[0] in core and pub.status[c] == pub.status[cell] for c in copies.get(cell, []))

    hidden_margin = 0
    for cells, _relations, margins in disclosure.breakdown_slices(pub, eqs):
        if any(pub.status[m] != "published" for m in margins):
            hidden_margin += 1
            shown = [c for c in cells if pub.status[c] != "secondary" and not shown_as_its_figure(c)]
            assert not shown, (margins[:2], shown[:3])
    assert hidden_margin > 1000


# Tables that repeat figures of another table and were published with primary suppression alone
# until 2026-12-03 (their relations were not declared), each with the table it repeats.
REPEATING = {
    "pub_rpt_support_transitions": "pub_rpt_support_transitions_by_period",  # an exit year's rows
    "pub_rpt_employment_after_exit": "pub_rpt_employment_after_exit_by_period",  # an exit year's rows
    "pub_rpt_participant_profile": "pub_rpt_profile_by_period",  # a start year's entrants
    "pub_rpt_budget_outcome": "pub_rpt_outcomes_by_period",  # 1 January to the budget's period end
    "pub_rpt_county_overview": "pub_rpt_outcomes_by_period",  # the sum of an association's interventions
    "pub_rpt_pathways": "pub_rpt_outcomes_by_period",  # steps into (out of) an intervention: its entrants (exits)
}


def _narrowed(pub: disclosure.Published) -> dict:
    """Hidden cells that bounds propagation alone (no LP: a lower bound on what an attacker finds)
    narrows below 3 values."""
    found = disclosure.propagated_bounds(pub, disclosure.equations(pub))
    return {c: iv for c, iv in found.items() if disclosure.possible_values(iv) < disclosure.MIN_VALUES}


@pytest.mark.parametrize("table", sorted(REPEATING))
def test_a_table_repeating_figures_hides_what_the_other_hides(published_sample, table):
    """The leak these tables had: published with primary suppression alone (the warehouse's pub_
    table) beside the protected tables whose figures they repeat, they give hidden figures back
    (propagating the relations already narrows hidden cells below 3 values). As published now the
    figures they repeat are shown, or hidden, as the other table shows them, and the exact attacker
    over every table together (above) narrows nothing."""
    tables = [table, REPEATING[table], "pub_rpt_outcomes_by_period"]
    con = snapshot(published_sample)
    try:
        after = disclosure.read_published(con, tables=tables)
    finally:
        con.close()
    con = warehouse(published_sample)
    try:
        primary_only = disclosure.read_published(con, tables=[table])
    finally:
        con.close()
    before = replacing(after, primary_only.tables[table], primary_only.value, primary_only.status)
    leaked = _narrowed(before)
    assert leaked, "primary suppression alone already protected this table"
    assert not _narrowed(after)
    relations = [terms for terms, _ in disclosure.equations(after) if any(c[0] == table for _, c in terms)]
    assert relations
    for terms in relations:
        total = next(c for k, c in terms if k == 1)
        parts = [c for _, c in terms if c != total and c[0] != disclosure.REMAINDER]
        if len(terms) == 2:  # a figure it repeats (a = b) is shown, or hidden, as the other table shows it
            assert len({after.status[c] == "published" for _, c in terms}) == 1, terms
        elif total[0] == table and any(c[0] != table for c in parts):  # a sum of the other's figures
            assert after.status[total] != "published" or all(after.status[c] == "published" for c in parts)
        else:  # a split of a figure (paths, distinct people) is hidden whole when the figure is hidden
            assert after.status[total] == "published" or all(after.status[c] != "published" for c in parts)
    shown = sum(1 for c, s in after.status.items() if c[0] == table and s == "published")
    print(f"\n{table}: förut {len(leaked)} dolda celler framräknade, nu inga; {shown} celler visas")


# The breakdowns' own chains over periods (to date = previous to date + in period, carried in =
# previous active, the to-date figures of periods ending on the same day), declared 2026-12-03: before,
# the attacker did not use them, and with them it pinned published "–" and "<5" cells of these tables
# to 1-4 (the support transitions: 345 cells on the sample).
CHAINED = (
    "pub_rpt_intervention_outcomes_by_group",
    "pub_rpt_profile_by_period",
    "pub_rpt_support_transitions_by_period",
    "pub_rpt_employment_after_exit_by_period",
    "pub_rpt_time_in_intervention_by_period",
)


def test_every_breakdown_declares_its_chain_over_periods():
    """An attacker knows a breakdown's category has the same chains over periods as the outcome
    table's figures; the declarations say so for every breakdown by period."""
    decl = disclosure.declarations()
    for table in CHAINED:
        assert decl[table].get("series"), table
        assert decl[table].get("same"), table


PERIOD_PARTITION = ("association_code", "intervention_code", "period_type")


def absent_rows(pub: disclosure.Published) -> dict[str, list[dict]]:
    """The attacker's reading of a breakdown's missing rows: per breakdown, every category an
    intervention has in the table without a row in a period the outcome table has for it (within
    the intervention's participant data: periods ending by its `data_through`). A
    breakdown by period (a declared `series`: its categories are the partition beyond the
    intervention and the period type) in every period of its period types, per measure window unless
    the series has none; a breakdown by year (a `same_as` on a year column = `period_label`: its
    categories are the other columns it is matched on) in every year, the outcome table's and its own. A missing row says "no one":
    a count of 0, which the method hides like 1-4. Returns the rows that are missing."""
    outcome_periods = defaultdict(list)
    for r in pub.tables["pub_rpt_outcomes_by_period"].rows:
        if r["data_through"] is not None and r["period_end"] <= r["data_through"]:  # within the data
            outcome_periods[(r["association_code"], r["intervention_code"])].append(r)
    missing = {}
    for name, decl in disclosure.declarations().items():
        table = pub.tables.get(name)
        series = (decl.get("series") or [{}])[0]
        categories = [c for c in series.get("partition", []) if c not in PERIOD_PARTITION]
        year = next(
            (
                k
                for entry in decl.get("same_as") or []
                for on in entry["on"]
                if isinstance(on, dict)
                for k, v in on.items()
                if v == "period_label"
            ),
            None,
        )
        if table is None or not (categories or year):  # no breakdown (the outcome tables themselves)
            continue
        if categories:
            window = series.get("window", "measure_window")
            types = {r["period_type"] for r in table.rows}

            def period_of(r, window=window):
                return r["period_type"], r["period_end"], r[window] if window else None

            def periods(intervention, window=window, types=types):
                for p in outcome_periods[intervention]:
                    if p["period_type"] in types and (window or p["measure_window"] == "to_date"):
                        row = {k: p[k] for k in ("period_type", "period_start", "period_end")}
                        yield (
                            (p["period_type"], p["period_end"], p["measure_window"] if window else None),
                            (row | ({window: p["measure_window"]} if window else {})),
                        )
        else:
            entry = next(e for e in decl["same_as"] if any(isinstance(on, dict) for on in e["on"]))
            categories = [on for on in entry["on"] if isinstance(on, str) and on not in PERIOD_PARTITION]

            def period_of(r, year=year):
                return str(r[year])

            def periods(intervention, year=year, table=table):
                years = {
                    int(p["period_label"])
                    for p in outcome_periods[intervention]
                    if p["period_type"] == "year" and p["measure_window"] == "in_period"
                } | {r[year] for r in table.rows if (r["association_code"], r["intervention_code"]) == intervention}
                for y in sorted(years):
                    yield str(y), {year: y}

        seen, have = defaultdict(set), set()  # an intervention's categories (in any period)
        matrix = defaultdict(bool)  # period types with a category of no margin (a support matrix's inner cells)
        for r in table.rows:
            intervention, category = (r["association_code"], r["intervention_code"]), tuple(r[c] for c in categories)
            seen[intervention].add(category)
            have.add((intervention, category, period_of(r)))
            matrix[r.get("period_type")] |= "ALL" not in category
        missing[name] = [
            {**dict(zip(PERIOD_PARTITION[:2], intervention)), **dict(zip(categories, category)), **row}
            for intervention, categories_seen in seen.items()
            for period, row in periods(intervention)
            for category in categories_seen
            if (intervention, category, period) not in have and (matrix[row.get("period_type")] or "ALL" in category)
        ]
    return missing


def assert_dense(pub: disclosure.Published) -> None:
    absent = absent_rows(pub)
    # every breakdown is looked at
    assert set(SAID_BY_A_MISSING_ROW) <= set(absent)
    missing = {name: len(rows) for name, rows in absent.items() if rows}
    assert not missing, f"rader saknas (läses som 0): {missing}"


# What a missing row says is 0: the category's own figures (not the period's total, nor the support-
# before group's exits, which the rows of a category copy).
SAID_BY_A_MISSING_ROW = {
    "pub_rpt_profile_by_period": ["participants", "carried_in", "entrants", "exits", "active_at_period_end"],
    "pub_rpt_intervention_outcomes_by_group": None,  # every count
    "pub_rpt_time_in_intervention_by_period": ["exits"],
    "pub_rpt_support_transitions_by_period": ["exits"],
    "pub_rpt_employment_after_exit_by_period": ["exits", "exits_with_extent", "exits_full_time"],
    # by year (exit year, start year), the year rows of the breakdowns by period repeated
    "pub_rpt_support_transitions": ["exits"],
    "pub_rpt_employment_after_exit": ["exits", "exits_with_extent", "exits_full_time"],
    "pub_rpt_participant_profile": ["participants"],
}


def add_missing_rows_as_zeros(pub: disclosure.Published, tables: list[str]) -> int:
    """What the attacker does with the missing rows of `tables`: adds them, with the zeros they say
    (the other cells of such a row unknown). Returns how many rows it added."""
    added = 0
    for table, rows in absent_rows(pub).items():
        if table not in tables:
            continue
        t = pub.tables[table]
        for i, row in enumerate(rows):
            key = f"missing-{i}"
            t.rows.append({**dict.fromkeys(t.columns), **row, t.key: key})
            t.by_key[key] = t.rows[-1]
            for column in SAID_BY_A_MISSING_ROW[table] or t.counts:
                pub.value[(table, key, column)], pub.status[(table, key, column)] = 0, "published"
        added += len(rows)
    return added


@pytest.mark.parametrize("table", sorted(SAID_BY_A_MISSING_ROW))
def test_a_row_left_out_of_a_breakdown_publishes_a_zero(published_small_county, published_sample, table):
    """Absent rows: every breakdown is published dense (a category an intervention has had has a row
    in every period, zeros too). Left out, as the report leaves them (the rows of the report alone),
    each missing row says "0" to an attacker, and with those zeros the attacker narrows hidden cells
    of the breakdown and of the outcome tables (e.g. a month's exits to 0) on one county or the
    other (bounds propagation first; the linear program on the second county if that finds
    nothing); with the rows, as published, nothing."""
    tables = [table, "pub_rpt_outcomes_by_period", "pub_rpt_intervention_outcomes", *REPEATING.get(table, "").split()]
    pinned, said = {}, []
    for name, home in (("småinsatslänet", published_small_county), ("länet", published_sample)):
        dense, sparse, added = _without_the_added_rows(home, table, tables)
        assert 0 < add_missing_rows_as_zeros(sparse, [table]) <= added  # the read ones: within the data
        assert not _narrowed(dense)  # as published (the exact attacker over every table: the all-table tests)
        pinned[name] = _narrowed(sparse)
        said.append(f"{name}: {added} nollrader, utan dem {dict(Counter(c[0] for c in pinned[name]))} framräknade")
        if name == "småinsatslänet":
            lp = sparse
    if not any(pinned.values()):
        found = disclosure.intervals(lp, disclosure.equations(lp))
        pinned["LP"] = {c: iv for c, iv in found.items() if disclosure.possible_values(iv) < disclosure.MIN_VALUES}
        said.append(f"LP småinsatslänet: {dict(Counter(c[0] for c in pinned['LP']))} framräknade")
    assert any(pinned.values()), "the rows the report leaves out no longer give figures away"
    print(f"\n{table}: " + "; ".join(said) + "; täta (publicerat): inga")


def _without_the_added_rows(home: Path, table: str, tables: list[str]) -> tuple:
    """`tables` as published for the county of `home`, and the same with `table` holding only its
    report's rows (the dense table's added rows taken out); and how many rows were added."""
    con = snapshot(home)
    try:
        dense = disclosure.read_published(con, tables=tables)
    finally:
        con.close()
    published = dense.tables[table]
    con = warehouse(home)
    try:  # the public table's key is its report's key
        reported = {
            r[0] for r in con.execute(f"select {published.key} from marts.{table.removeprefix('pub_')}").fetchall()
        }
    finally:
        con.close()
    added = {k for k in published.by_key if k not in reported}
    kept = [r for r in published.rows if r[published.key] not in added]
    assert added and len(kept) == len([k for k in reported if k in published.by_key])
    sparse_table = disclosure.Table(
        published.name, published.key, published.columns, published.counts, published.derived, kept
    )
    sparse_table.by_key = {r[published.key]: r for r in kept}
    sparse = replacing(
        dense,
        sparse_table,
        {c: v for c, v in dense.value.items() if c[0] == table and c[1] not in added},
        {c: s for c, s in dense.status.items() if c[0] == table and c[1] not in added},
    )
    return dense, sparse, len(added)


def test_declared_relations_hold_on_the_marts(published_sample):
    """The relations the attacker and the disclosure step use are true of the unsuppressed reports,
    with the rows a report leaves out read as zeros (as the dense public tables publish them): the
    zeros are true, and so is the attacker's reading of a missing row."""
    con = warehouse(published_sample)
    try:
        pub = disclosure.read_published(con, unsuppressed_from="marts")
    finally:
        con.close()
    assert add_missing_rows_as_zeros(pub, list(SAID_BY_A_MISSING_ROW)) > 1000
    eqs = disclosure.equations(pub)
    assert len(eqs) > 10_000

    def holds(terms, b) -> bool:
        """sum == b; with an `at_most` remainder (published nowhere): what it must be is >= 0."""
        known = sum(k * pub.value[c] for k, c in terms if c[0] != disclosure.REMAINDER)
        rest = [k for k, c in terms if c[0] == disclosure.REMAINDER]
        return (b - known) / rest[0] >= 0 if rest else known == b

    assert sum(1 for terms, _ in eqs if any(c[0] == disclosure.REMAINDER for _, c in terms)) > 20
    wrong = [(terms, b) for terms, b in eqs if not holds(terms, b)]
    assert not wrong, wrong[:3]


# ------------------------------------------------------------------ the second county: many small interventions


def test_small_county_has_many_small_interventions(published_small_county):
    """The county the attacker is run on is what it claims to be: many interventions of 3-15
    participants, both sexes, every exit category, and so a great many primary suppressions."""
    con = warehouse(published_small_county)
    try:
        sizes = con.execute(
            "select intervention_code, max(participants) from marts.rpt_outcomes_by_period "
            "where measure_window = 'to_date' group by 1"
        ).fetchall()
        categories = {
            r[0] for r in con.execute("select distinct exit_category from marts.fct_participation").fetchall()
        }
    finally:
        con.close()
    assert len(sizes) >= 15 and all(3 <= n <= 15 for _, n in sizes), sizes
    assert {"work", "subsidised_work", "studies", "rehab", "sje_ake", "early_dropout", "other"} <= categories


def test_small_county_lp_attack_on_the_intervention_outcomes(published_small_county):
    """The linear program on the table of issue 15 in the second county: every hidden cell keeps at
    least 3 values."""
    started = time.monotonic()
    con = snapshot(published_small_county)
    try:
        found = attack(con, tables=["pub_rpt_intervention_outcomes"])
    finally:
        con.close()
    report("småinsatslänet, pub_rpt_intervention_outcomes (LP)", found, time.monotonic() - started)
    assert len(found) > 5000
    assert_protected(found)


def test_small_county_lp_attack_on_every_table_together(published_small_county):
    """The second county, everything published together: no hidden cell narrowed below 3 values.
    (Before the step's LP audit, the two outcome tables alone narrowed about 3 600 hidden cells of
    this county, mostly to 0.)"""
    pub, found = every_table_attack(published_small_county, "småinsatslänet")
    assert_dense(pub)
    assert sum(1 for s in pub.status.values() if s == "primary") > 1000
    assert len(found) > 100_000
    assert_protected(found)


def test_small_county_protect_is_the_published_pattern(published_small_county, tmp_path):
    """protect() run again on the warehouse's pub_ tables gives exactly the snapshot's pattern
    (deterministic), and run on the snapshot adds nothing (a fixed point). Its time is printed."""
    con = warehouse(published_small_county)
    try:
        started = time.monotonic()
        counts = disclosure.protected_copy(con, "again", path=tmp_path / "again.duckdb")
        seconds = time.monotonic() - started
        again = disclosure.read_published(con, catalog="again")
    finally:
        con.close()
    print(f"\nsmåinsatslänet: protect() {seconds:.1f} s, {counts}")
    con = snapshot(published_small_county)
    try:
        published = disclosure.read_published(con)
    finally:
        con.close()
    assert again.status == published.status
    assert counts["secondary"] == sum(1 for s in published.status.values() if s == "secondary") > 0
    eqs = disclosure.equations(published)
    assert disclosure.secondary_pattern(published, eqs) == set()
