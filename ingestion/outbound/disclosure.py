"""Disclosure control: the one step between the warehouse's `public` tables and everything published.

The dbt models in `dbt_project/models/public/` do the PRIMARY suppression cell by cell
(`macros/suppress.sql`: a count below `finsam_suppression_threshold`, default 5, zero included,
becomes null with `<col>_suppressed` and `<col>_display` "<5"). This module adds the SECONDARY
suppression, so that no hidden count can be derived from the published ones by adding and
subtracting: within a row (a total and its parts), across periods (to date = previous to date +
in period, carried in = previous active), across period types (a year against its tertials, through
the to-date figures they share) and across the tables published together (the same figure in two
tables). A secondarily hidden count is null, `<col>_suppressed` true and `<col>_display` "–".

The linear relations are declared once, in `dbt_project/models/public/_public.yml`
(`config.meta.disclosure` of each pub_ model); `equations()` turns them into equations over cells.
The method (docs/disclosure.md): suppress a partner in every relation left with a single hidden
cell, then propagate every relation's bounds ("<5" is 0..4, "–" any count) and hide more (or show
a "<5" as "–") until no hidden cell is narrowed to fewer than `MIN_VALUES` possible values; then the
attacker's linear program over `LP_AUDITED` (`lp_audit`) hides more until it narrows no cell either.
`intervals()` is that linear program (HiGHS), also run by tests/test_disclosure_attack.py. The snapshot, the Parquet
files, the PostgreSQL BI database and the open-data export are all written from tables that went
through `protect()` (`protected_copy()` in the publish step).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from ingestion.core.config import REPO_ROOT, Settings

log = logging.getLogger(__name__)
PUBLIC_SCHEMA = "public"
SECONDARY_DISPLAY = "–"
MIN_VALUES = 3  # a hidden cell must keep at least this many possible integer values
REMAINDER = "~remainder"  # the table of the cells `at_most` adds: never published, never audited
TIE_WEIGHT = 0.1  # the attacker's push of one cell also pushes the other open cells, at this weight (_block_intervals)
CAP = 1e6  # the attacker's LP caps a "–" (no upper bound) here: no count in a county comes near it
PUBLIC_YML = REPO_ROOT / "dbt_project" / "models" / "public" / "_public.yml"
DBT_PROJECT_YML = REPO_ROOT / "dbt_project" / "dbt_project.yml"

Cell = tuple[str, object, str]  # (table, row key, column)


def threshold(settings: Settings | None = None) -> int:
    """The primary suppression threshold: FINSAM_MIN_COUNT (`settings.min_count`, which the build
    passes to dbt as the var) when set, else dbt's var `finsam_suppression_threshold` in
    dbt_project.yml (the default has one home)."""
    if settings is not None and settings.min_count is not None:
        return int(settings.min_count)
    project = yaml.safe_load(DBT_PROJECT_YML.read_text(encoding="utf-8"))
    return int(project.get("vars", {}).get("finsam_suppression_threshold", 5))


def declarations(path: Path = PUBLIC_YML) -> dict[str, dict]:
    """{pub_ model: its `config.meta.disclosure`} for the models that declare relations."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the file is large: libyaml when present
    models = yaml.load(path.read_text(encoding="utf-8"), Loader=loader).get("models", [])
    out = {}
    for model in models:
        meta = (model.get("config") or {}).get("meta") or {}
        if "disclosure" in meta:
            out[model["name"]] = meta["disclosure"]
    return out


ACROSS_INTERVENTIONS = ("aggregate_of", "at_most")  # kinds whose tables are protected after the interventions


def within_interventions(decl: dict[str, dict]) -> dict[str, dict]:
    """The declarations whose relations link cells of one intervention only (`COMPONENT`): all but
    the tables whose rows span interventions (an association's sum, the paths between
    interventions), which `protect_across_interventions` handles after them."""
    return {name: d for name, d in decl.items() if not any(kind in d for kind in ACROSS_INTERVENTIONS)}


# ------------------------------------------------------------------------------ published cells


@dataclass
class Table:
    name: str
    key: str
    columns: list[str]
    counts: list[str]  # columns with <col>_display next to them
    derived: list[str]  # columns with <col>_suppressed but no <col>_display (shares, means, medians)
    rows: list[dict]
    by_key: dict = field(default_factory=dict)


@dataclass
class Published:
    """What a reader of the public schema sees: per cell its value (None when hidden) and, for
    hidden cells, whether it is shown "<5" ('primary': a count 0..4) or "–" ('secondary': hidden to
    protect another cell; any count, also one below 5 whose "<5" would have narrowed another)."""

    tables: dict[str, Table]
    threshold: int
    value: dict[Cell, int | None] = field(default_factory=dict)
    status: dict[Cell, str] = field(default_factory=dict)  # 'published' | 'primary' | 'secondary'
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # see `_relation_arrays`

    def bounds(self, cell: Cell) -> tuple[float, float | None]:
        """What the reader knows about a hidden cell: "<5" is 0..4, "–" any count (0 or more): the
        step shows "–" both for counts hidden to protect others and for small counts whose "<5"
        would let a reader narrow another hidden cell, so "–" says nothing about the size."""
        if self.status[cell] == "primary":
            return 0.0, float(self.threshold - 1)
        return 0.0, None


def read_published(
    con: duckdb.DuckDBPyConnection,
    schema: str = PUBLIC_SCHEMA,
    tables: Iterable[str] | None = None,
    unsuppressed_from: str | None = None,
    catalog: str | None = None,
    components: Iterable[str] | None = None,
    settings: Settings | None = None,
) -> Published:
    """Every pub_ table of `schema` in `con` (or the named ones), as the reader sees it. With
    `unsuppressed_from` (e.g. 'marts'), the counts are read from the report each pub_ table is made
    from (`pub_rpt_x` from `rpt_x`), all of them shown: to check that the declared relations hold.
    `settings`: the threshold the tables were published with (FINSAM_MIN_COUNT; "<5" is 0..4)."""
    names = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_catalog = coalesce(?, current_database()) order by 1",
            [schema, catalog],
        ).fetchall()
    ]
    if tables is not None:
        wanted = set(tables)
        names = [n for n in names if n in wanted]
    pub = Published(tables={}, threshold=threshold(settings))
    for name in names:
        if components is None:
            cursor = con.execute(f"select * from {_qualified(schema, name, catalog)} order by 1")
        else:  # only these interventions' rows ("association/intervention", see COMPONENT)
            cursor = con.execute(
                f"select * from {_qualified(schema, name, catalog)} "
                f"where {_component_expr()} in (select unnest(?::varchar[])) order by 1",
                [list(components)],
            )
        # in key order: the relations, and so the cells the rules pick, never depend on how the
        # database happened to return the rows (a filtered scan may reorder them)
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, r)) for r in cursor.fetchall()]
        if unsuppressed_from:
            source = con.execute(f'select * from {unsuppressed_from}."{name.removeprefix("pub_")}"')
            source_columns = [d[0] for d in source.description]
            rows = [
                {**{c: None for c in columns}, **dict(zip(source_columns, r))}
                | {f"{c}_suppressed": False for c in columns if f"{c}_suppressed" in columns}
                for r in source.fetchall()
            ]
        cols = set(columns)
        counts = [c for c in columns if f"{c}_display" in cols and f"{c}_suppressed" in cols]
        derived = [c for c in columns if f"{c}_suppressed" in cols and f"{c}_display" not in cols]
        table = Table(name, columns[0], columns, counts, derived, rows)
        table.by_key = {r[table.key]: r for r in rows}
        pub.tables[name] = table
        for r in rows:
            for c in counts:
                cell = (name, r[table.key], c)
                if r[f"{c}_suppressed"]:
                    pub.value[cell] = None
                    pub.status[cell] = "secondary" if r[f"{c}_display"] == SECONDARY_DISPLAY else "primary"
                elif r[c] is not None:
                    pub.value[cell] = int(r[c])
                    pub.status[cell] = "published"
    return pub


# ------------------------------------------------------------------------------ the relations

Equation = tuple[tuple[tuple[int, Cell], ...], int]  # sum(coef * cell) == rhs


def _row_cells(table: Table, row: dict, columns: Iterable[str]) -> list[Cell]:
    return [(table.name, row[table.key], c) for c in columns]


def _matches(row: dict, where: dict | None) -> bool:
    """The row has these values (a list: one of them)."""
    return all(row.get(k) in v if isinstance(v, list) else row.get(k) == v for k, v in (where or {}).items())


def _on(on: list) -> tuple[list[str], list[str]]:
    """An `on` list's columns in this table and in the other (an entry {mine: theirs} maps a column)."""
    pairs = [next(iter(k.items())) if isinstance(k, dict) else (k, k) for k in on]
    return [a for a, _ in pairs], [b for _, b in pairs]


def _key(row: dict, columns: list[str]) -> tuple:
    return tuple(None if row[c] is None else str(row[c]) for c in columns)


def _grouped(rows: list[dict], where: dict | None, columns: list[str]) -> dict[tuple, list[dict]]:
    """The rows matching `where`, by their values in `columns` (see `_key`)."""
    out: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if _matches(r, where):
            out[_key(r, columns)].append(r)
    return out


def _tiling(rows: list[dict], start: dt.date, end: dt.date) -> list[dict] | None:
    """The fewest consecutive rows of one period type (ties: the period type's name) whose periods
    run from `start` to `end` exactly, or None."""
    by_type: dict[str, dict] = defaultdict(dict)
    for r in rows:
        by_type[r["period_type"]][r["period_start"]] = r
    best = None
    for period_type in sorted(by_type):
        by_start, chain = by_type[period_type], []
        row = by_start.get(start)
        while row is not None and row["period_end"] < end:
            chain.append(row)
            row = by_start.get(row["period_end"] + dt.timedelta(days=1))
        if row is not None and row["period_end"] == end and (best is None or len(chain) + 1 < len(best)):
            best = [*chain, row]
    return best


def equations(pub: Published, decl: dict[str, dict] | None = None) -> list[Equation]:
    """The linear relations between the published cells, from the declarations in `_public.yml`.

    Kinds (per model, under `config.meta.disclosure`):
      sums:        [[total, part, part, ...]]: within every row, total = sum of the parts
      series:      consecutive periods of one period type (period_end of one + 1 day = period_start
                   of the next; partition by `partition` columns):
                   cumulative: {to_date column: in-period column}: to_date[t] = to_date[t-1] + in_period[t]
                   carry: {in-period column: column}: in_period.col[t] = row.col[t-1] (e.g. carried in = previous active)
      same:        cells equal across rows that differ only in `vary` columns (rows matching `where`), e.g.
                   the to-date figures of a month and of the year ending on the same day
      same_as:     cells equal to another table's cells (rows matched on `on`; this table's rows filtered by
                   the entry's `where`, the other table's by the column's `where`)
      group_sum:   sum over the rows that differ only in `over` of `part` = the row's `total` column
      window:      a figure from 1 January of the row's `year` to its `end` date = the other table's figure of
                   the first period tiling that window (`first`) + the in-period figures (`then`) of the
                   periods that follow (the fewest periods of one period type that tile it exactly)
      aggregate_of: a figure summed over several interventions (an association, the county) = the sum of
                   the other table's figures of every row matched on `on` (the step shows it only when
                   every one of them is shown: `protect_across_interventions`)
      at_most:     the figures of this table's rows matched on `on` add up to at most the other table's
                   figure (the rest, e.g. anonymous episodes, is published nowhere): a relation with one
                   more cell, the remainder (table REMAINDER), hidden and any count ≥ 0, as a "–" is
      sums entries may be {where: {...}, columns: [total, part, ...]}: only the rows matching `where`
    An `on` entry is a column both tables have, or {this table's column: the other table's} (values
    compared as text: an exit year 2016 matches the period label '2016').
    """
    decl = declarations() if decl is None else decl
    eqs: list[Equation] = []

    def known(cell: Cell) -> bool:
        return cell in pub.status

    def add(terms: list[tuple[int, Cell]]) -> None:
        if terms and all(known(c) for _, c in terms):
            eqs.append((tuple(terms), 0))

    for name, d in decl.items():
        table = pub.tables.get(name)
        if table is None:
            continue
        for entry in d.get("sums") or []:
            where, (total, *parts) = (None, entry) if isinstance(entry, list) else (entry["where"], entry["columns"])
            for r in table.rows:
                if _matches(r, where):
                    add([(1, (name, r[table.key], total))] + [(-1, (name, r[table.key], p)) for p in parts])

        for series in d.get("series") or []:
            window = series.get("window", "measure_window")  # null: to date and in period in one row
            partition = series.get("partition", [])
            groups: dict[tuple, dict] = defaultdict(dict)
            for r in table.rows:
                groups[(tuple(r[p] for p in partition), r.get(window) if window else "in_period")][
                    r["period_start"]
                ] = r
            for (part, win), by_start in groups.items():
                if win != series.get("in_period", "in_period"):
                    continue
                to_date = groups.get((part, series.get("to_date", "to_date")), {}) if window else by_start
                to_date_by_end = {r["period_end"]: r for r in to_date.values()}
                for start, r in by_start.items():
                    prev_end = start - dt.timedelta(days=1)
                    prev_in = next((p for p in by_start.values() if p["period_end"] == prev_end), None)
                    prev_td = to_date_by_end.get(prev_end)
                    this_td = to_date_by_end.get(r["period_end"])
                    for td_col, ip_col in (series.get("cumulative") or {}).items():
                        if this_td is not None and prev_td is not None:
                            add(
                                [
                                    (1, (name, this_td[table.key], td_col)),
                                    (-1, (name, prev_td[table.key], td_col)),
                                    (-1, (name, r[table.key], ip_col)),
                                ]
                            )
                    for col, prev_col in (series.get("carry") or {}).items():
                        if prev_in is not None:
                            add([(1, (name, r[table.key], col)), (-1, (name, prev_in[table.key], prev_col))])

        for same in d.get("same") or []:
            vary = set(same["vary"])
            cols = same["columns"]
            groups = defaultdict(list)
            for r in table.rows:
                if _matches(r, same.get("where")):
                    groups[tuple((k, r[k]) for k in same["on"] if k not in vary)].append(r)
            for rows in groups.values():
                for a, b in zip(rows, rows[1:]):
                    for c in cols:
                        add([(1, (name, a[table.key], c)), (-1, (name, b[table.key], c))])

        for same_as in d.get("same_as") or []:
            other = pub.tables.get(same_as["table"])
            if other is None:
                continue
            on_mine, on_theirs = _on(same_as["on"])
            for mine, spec in same_as["columns"].items():
                where = spec.get("where", {})
                index = {_key(o, on_theirs): o for o in other.rows if _matches(o, where)}
                for r in table.rows:
                    if not _matches(r, same_as.get("where")):
                        continue
                    o = index.get(_key(r, on_mine))
                    if o is not None:
                        add([(1, (name, r[table.key], mine)), (-1, (other.name, o[other.key], spec["column"]))])

        for window in d.get("window") or []:
            other = pub.tables.get(window["table"])
            if other is None:
                continue
            on_mine, on_theirs = _on(window["on"])
            periods = _grouped(other.rows, window.get("where"), on_theirs)
            for r in table.rows:
                if r[window["year"]] is None or r[window["end"]] is None:
                    continue
                start = dt.date(int(r[window["year"]]), 1, 1)
                chain = _tiling(periods.get(_key(r, on_mine), []), start, r[window["end"]])
                for mine, spec in (window["columns"] if chain else {}).items():
                    add(
                        [(1, (name, r[table.key], mine)), (-1, (other.name, chain[0][other.key], spec["first"]))]
                        + [(-1, (other.name, o[other.key], spec["then"])) for o in chain[1:]]
                    )

        for aggregate in d.get("aggregate_of") or []:
            other = pub.tables.get(aggregate["table"])
            if other is None:
                continue
            on_mine, on_theirs = _on(aggregate["on"])
            parts_of = _grouped(other.rows, aggregate.get("their_where"), on_theirs)
            for r in table.rows:
                parts = parts_of.get(_key(r, on_mine)) if _matches(r, aggregate.get("where")) else None
                for mine, theirs in (aggregate["columns"] if parts else {}).items():
                    add([(1, (name, r[table.key], mine))] + [(-1, (other.name, o[other.key], theirs)) for o in parts])

        for number, bound in enumerate(d.get("at_most") or []):
            other = pub.tables.get(bound["table"])
            if other is None:
                continue
            on_mine, on_theirs = _on(bound["on"])
            index = {_key(o, on_theirs): o for o in other.rows if _matches(o, bound.get("their_where"))}
            for match, parts in _grouped(table.rows, bound.get("where"), on_mine).items():
                o = index.get(match)
                for mine, theirs in (bound["columns"] if o is not None else {}).items():
                    rest = (REMAINDER, (name, number, match, mine), mine)  # what the parts leave: no one sees it
                    pub.status.setdefault(rest, "secondary")
                    pub.value.setdefault(rest, None)
                    add(
                        [(1, (other.name, o[other.key], theirs)), (-1, rest)]
                        + [(-1, (name, r[table.key], mine)) for r in parts]
                    )

        for group in d.get("group_sum") or []:
            over = set(group["over"])
            total_row = group.get("total_row")
            other = pub.tables.get(group["total_table"]) if group.get("total_table") else None
            if group.get("total_table") and other is None:
                continue
            index = {_key(o, group["on"]): o for o in other.rows} if other else {}
            groups = defaultdict(list)
            for r in table.rows:
                groups[_key(r, [k for k in group["on"] if k not in over])].append(r)
            for match, rows in groups.items():
                if total_row is not None:
                    totals = [r for r in rows if _matches(r, total_row)]
                    parts = [r for r in rows if not _matches(r, total_row)]
                    if len(totals) != 1 or not parts:
                        continue
                    total_name, total_key = name, totals[0][table.key]
                elif other is not None:
                    o = index.get(match)
                    if o is None:
                        continue
                    parts, total_name, total_key = rows, other.name, o[other.key]
                else:
                    parts, total_name, total_key = rows, name, rows[0][table.key]
                for part, total in group["columns"].items():
                    add([(1, (total_name, total_key, total))] + [(-1, (name, r[table.key], part)) for r in parts])
    return eqs


# ------------------------------------------------------------------------------ the attacker


def _reduced(pub: Published, eqs: list[Equation]) -> tuple[list[list[tuple[int, Cell]]], list[float]]:
    """The equations over the hidden cells only (published cells moved to the right-hand side)."""
    reduced, rhs = [], []
    for terms, b in eqs:
        unknown = [(k, c) for k, c in terms if pub.status[c] != "published"]
        if unknown:
            reduced.append(unknown)
            rhs.append(b - sum(k * pub.value[c] for k, c in terms if pub.status[c] == "published"))
    return reduced, rhs


def _binding(
    pub: Published, reduced: list[list[tuple[int, Cell]]], rhs: list[float]
) -> tuple[list[list[tuple[int, Cell]]], list[float]]:
    """The reduced relations without those its free cells can always satisfy. A free cell is a "–"
    (any count, 0 or more) in no other relation. When a relation's free cells have coefficients of
    both signs, or of one sign s with the rest of the relation (its right-hand side and the other
    cells, all >= 0) always on the side they can balance (rhs * s >= 0, every other coefficient of
    the sign -s), whatever values the other cells take the free ones take what they imply: the
    relation tells the attacker nothing about them (e.g. an association's "–" total of its
    interventions' figures, or distinct people at most a hidden number of episodes). Repeated until
    none is left."""
    uses = Counter(c for terms in reduced for _, c in terms)

    def is_free(c: Cell) -> bool:
        return uses[c] == 1 and pub.status[c] == "secondary"

    def satisfiable(terms, b) -> bool:
        free = {k > 0 for k, c in terms if is_free(c)}
        if not free:
            return False
        if len(free) == 2:
            return True
        sign = 1 if free.pop() else -1
        return b * sign >= 0 and all(k * sign < 0 for k, c in terms if not is_free(c))

    keep = list(range(len(reduced)))
    while True:
        kept = []
        for i in keep:
            if satisfiable(reduced[i], rhs[i]):
                uses.subtract(c for _, c in reduced[i])
            else:
                kept.append(i)
        if len(kept) == len(keep):
            return [reduced[i] for i in kept], [rhs[i] for i in kept]
        keep = kept


def _is_equality(terms, b) -> bool:
    """A relation of the form a = b (the same figure twice)."""
    return len(terms) == 2 and b == 0 and terms[0][0] == -terms[1][0]


class _Sets:
    """Disjoint sets of cells (union-find with path halving): blocks, slices, copies."""

    def __init__(self, cells: Iterable[Cell] = ()):
        self.parent: dict[Cell, Cell] = {c: c for c in cells}

    def find(self, c: Cell) -> Cell:
        parent = self.parent
        parent.setdefault(c, c)
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    def join(self, cells: Iterable[Cell]) -> None:
        """One set of these cells (the first one's root stays the root)."""
        cells = iter(cells)
        first = self.find(next(cells))
        for c in cells:
            root = self.find(c)
            if root != first:
                self.parent[root] = first


def _components(reduced: list[list[tuple[int, Cell]]]) -> list[list[int]]:
    """Indices of the reduced equations, grouped by the connected sets of hidden cells they link."""
    sets = _Sets()
    for terms in reduced:
        sets.join(c for _, c in terms)
    groups: dict[Cell, list[int]] = defaultdict(list)
    for i, terms in enumerate(reduced):
        groups[sets.find(terms[0][1])].append(i)
    return list(groups.values())


def _highs_core():
    """HiGHS's Python core (highspy, the solver scipy's linprog runs on). Used directly to keep the
    solver and its basis between the many LPs of one block (a warm start: a few ms per LP instead of
    ~80 ms through linprog)."""
    from highspy import _core

    return _core


class _WarmLP:
    """min c.x subject to A x = b, low <= x <= high, solved again and again for new objectives c
    on one HiGHS instance (each run starts from the last basis)."""

    def __init__(self, a, b, low, high, primal: bool = True):
        import numpy as np

        core = _highs_core()
        self.core, self.n = core, a.shape[1]
        self.highs = core._Highs()
        self.highs.setOptionValue("output_flag", False)
        if primal:  # a new objective leaves the last basis primal feasible: each LP starts from a
            # feasible vertex (the attack on the sample's largest block: 2.5 times faster than dual)
            self.highs.setOptionValue("simplex_strategy", 4)
        csc = a.tocsc()
        lp = core.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, a.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = low.astype(float)
        lp.col_upper_ = np.where(np.isfinite(high), high, core.kHighsInf).astype(float)
        lp.row_lower_ = lp.row_upper_ = b.astype(float)
        lp.a_matrix_.format_ = core.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.n, a.shape[0]
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(float)
        self.highs.passModel(lp)
        self.columns = np.arange(self.n, dtype=np.int32)

    def solve(self, objective):
        """An optimal solution. Every bound is finite (CAP), so anything else is an error: never
        taken for a wide interval."""
        import numpy as np

        self.highs.changeColsCost(self.n, self.columns, np.asarray(objective, dtype=float))
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == self.core.HighsModelStatus.kOptimal:
            return np.array(self.highs.getSolution().col_value)
        if status == self.core.HighsModelStatus.kInfeasible:
            raise DisclosureError("motsägelsefulla samband: kontrollera deklarationerna i _public.yml")
        raise DisclosureError(f"LP-lösaren misslyckades: {self.highs.modelStatusToString(status)}")


def _block_intervals(
    pub: Published,
    block: list[list[tuple[int, Cell]]],
    rhs: list[float],
    exact: bool = False,
    audit: bool = False,
) -> dict:
    """The attacker's intervals for the hidden cells linked by one block of equations.

    Cells the relations make equal (the same figure in two tables or period types) are one variable.
    Every solution of the attacker's linear program is a table consistent with what is published, so
    the values a cell takes in the solutions seen so far prove it keeps a wide interval: first a few
    solutions pushing all open cells up, down and in random directions; then cell by cell, each
    cell not yet proven wide is pushed away from where it has been seen, and the other open cells
    with it at a small weight (TIE_WEIGHT: the LP for one cell has many optimal solutions, and this
    picks one that widens the others too; measured against pushing all open cells at once and then
    each cell alone: 14-25 % fewer simplex iterations on the sample's largest blocks, 40 % less time
    over the sample's whole attack); a cell that push leaves open gets its maximum and, if still not
    proven, its minimum. A cell left unproven has its exact interval. HiGHS, warm-started
    (`_WarmLP`). `audit`: the step's audit, where narrow cells are common: return at the first cell
    found narrow (the others not yet proven keep the range seen, exact=False), with no combined
    pushes and the dual simplex (measured on both test counties: cheaper there; the attack on a
    protected table, where every cell is wide, is cheaper the other way)."""
    import numpy as np
    from scipy.sparse import coo_matrix

    cells = sorted({c for terms in block for _, c in terms}, key=repr)
    sets = _Sets(cells)
    find = sets.find
    rest, rest_rhs = [], []
    for terms, r in zip(block, rhs):
        if _is_equality(terms, r):
            sets.join([terms[0][1], terms[1][1]])
        else:
            rest.append(terms)
            rest_rhs.append(r)
    variables = sorted({find(c) for c in cells}, key=repr)
    index = {c: j for j, c in enumerate(variables)}
    n = len(variables)
    low_bound = np.zeros(n)
    high_bound = np.full(n, np.inf)
    for c in cells:
        lo, hi = pub.bounds(c)
        j = index[find(c)]
        low_bound[j] = max(low_bound[j], lo)
        high_bound[j] = min(high_bound[j], np.inf if hi is None else hi)
    rows, cols, data = [], [], []
    for r, terms in enumerate(rest):
        for k, c in terms:
            rows.append(r)
            cols.append(index[find(c)])
            data.append(k)
    # "–" has no upper bound; the LP caps it at CAP (a solution of the capped LP is one of the real
    # one, so what it proves wide is wide): random objectives can then push every cell up and down
    capped = np.minimum(high_bound, CAP)
    lp = None
    if rest:
        a = coo_matrix((data, (rows, cols)), shape=(len(rest), n)).tocsr()
        lp = _WarmLP(a, np.asarray(rest_rhs, dtype=float), low_bound, capped, primal=not audit)

    def solve(objective):
        if lp is None:  # no relation left but equalities: every variable moves within its bounds
            return np.where(objective > 0, low_bound, np.where(objective < 0, capped, low_bound))
        return lp.solve(objective)

    lo_seen = np.full(n, np.inf)
    hi_seen = np.full(n, -np.inf)

    def seen(x) -> np.ndarray:
        nonlocal lo_seen, hi_seen
        if x is not None:
            lo_seen = np.minimum(lo_seen, x)
            hi_seen = np.maximum(hi_seen, x)
        return np.floor(hi_seen + 1e-6) - np.ceil(lo_seen - 1e-6) + 1 < MIN_VALUES

    open_ = np.ones(n, dtype=bool)
    rng = np.random.default_rng(n)
    for attempt in range(10):
        if attempt < 2:
            sign = 1.0 if attempt == 0 else -1.0
            objective = np.where(open_, sign, 0.0)
        else:
            objective = np.where(open_, rng.choice([-1.0, 1.0], size=n), 0.0)
        open_ = seen(solve(objective))
        if not open_.any():
            break

    def away() -> np.ndarray:
        """The direction a cell is pushed (an objective to minimise): up while it has not been seen
        MIN_VALUES - 1 above its lower bound, else down."""
        return np.where(hi_seen - low_bound < MIN_VALUES - 1 - 1e-6, -1.0, 1.0)

    exact_values = {}
    for j in range(n):
        if not (open_[j] or exact):
            continue
        if not (exact or audit):
            direction = away()
            objective = np.where(open_, TIE_WEIGHT * direction, 0.0)
            objective[j] = direction[j]
            open_ = seen(solve(objective))
            if not open_[j]:
                continue
        objective = np.zeros(n)
        objective[j] = -1.0
        x_high = solve(objective)
        open_ = seen(x_high)
        if open_[j] or exact:
            objective[j] = 1.0
            x_low = solve(objective)
            open_ = seen(x_low)
            if open_[j] or exact:
                lo = x_low[j]
                hi = None if x_high[j] >= CAP / 2 else float(x_high[j])
                exact_values[j] = (float(lo), hi, True)
                if audit and open_[j]:
                    break
    result = {}
    for c in cells:
        j = index[find(c)]
        if j in exact_values:
            result[c] = exact_values[j]
        else:  # the range seen: at least that wide (None: up to CAP, no upper bound found)
            result[c] = (float(lo_seen[j]), None if hi_seen[j] >= CAP / 2 else float(hi_seen[j]), False)
    return result


def intervals(
    pub: Published,
    eqs: list[Equation],
    exact: bool = False,
    cache: dict | None = None,
    only: Iterable[Cell] | None = None,
    audit: bool = False,
) -> dict[Cell, tuple]:
    """For every hidden cell: (min, max, exact) an attacker can derive by linear programming from
    the published cells, the relations and the hidden cells' known bounds, block by block. With
    exact=False a cell proven to keep at least MIN_VALUES values gets the range seen in the
    attacker's solutions (a lower bound on its interval; exact=False), the others their exact one."""
    reduced, rhs = _binding(pub, *_reduced(pub, eqs))
    result: dict[Cell, tuple] = {}
    for c, s in pub.status.items():
        if s != "published" and c[0] != REMAINDER and (only is None or c in only):
            lo, hi = pub.bounds(c)
            result[c] = (lo, hi, True)  # in no relation: only its own bounds
    wanted = None if only is None else set(only)
    for group in _components(reduced):
        block = [reduced[i] for i in group]
        if wanted is not None and not any(c in wanted for terms in block for _, c in terms):
            continue
        block_rhs = [rhs[i] for i in group]
        key = None
        if cache is not None:  # a block unchanged since the last round (relations, "<5" or "–") has the same intervals
            key = tuple(sorted((tuple((k, c, pub.status[c]) for k, c in t), r) for t, r in zip(block, block_rhs)))
            if key in cache:
                result.update(cache[key])
                continue
        found = _block_intervals(pub, block, block_rhs, exact, audit)
        if key is not None:
            cache[key] = found
        result.update(found)
    return {c: iv for c, iv in result.items() if c[0] != REMAINDER}  # an `at_most` remainder is no published cell


def possible_values(interval: tuple) -> float:
    """How many integers an interval (min, max[, exact]) holds (inf when unbounded above)."""
    lo, hi = interval[0], interval[1]
    if hi is None:
        return math.inf
    return math.floor(hi + 1e-6) - math.ceil(lo - 1e-6) + 1


class DisclosureError(RuntimeError):
    pass


# ------------------------------------------------------------------------------ secondary suppression


@dataclass
class _RelationArrays:
    """The relations as arrays, built once per (published tables, equations): term t of relation
    row[t] is k[t] * cell col[t]; b the right-hand sides; value the published values (nan: hidden)."""

    cells: list[Cell]
    index: dict[Cell, int]
    start: object  # the terms of relation r are start[r]:start[r + 1]
    row: object
    col: object
    k: object
    b: object
    value: object


def _relation_arrays(pub: Published, eqs: list[Equation]) -> _RelationArrays:
    import numpy as np

    memo = pub.memo.get("relation_arrays")
    if memo is not None and memo[0] is eqs:
        return memo[1]
    index: dict[Cell, int] = {}
    row, col, k = [], [], []
    for r, (terms, _) in enumerate(eqs):
        for coef, c in terms:
            row.append(r)
            col.append(index.setdefault(c, len(index)))
            k.append(coef)
    cells = list(index)
    value = np.array([np.nan if pub.value.get(c) is None else pub.value[c] for c in cells], dtype=float)
    arrays = _RelationArrays(
        cells,
        index,
        np.searchsorted(np.asarray(row, dtype=np.int64), np.arange(len(eqs) + 1)),
        np.asarray(row, dtype=np.int64),
        np.asarray(col, dtype=np.int64),
        np.asarray(k, dtype=float),
        np.asarray([b for _, b in eqs], dtype=float),
        value,
    )
    pub.memo["relation_arrays"] = (eqs, arrays)
    return arrays


_HIDDEN_CODE = {"published": 0, "primary": 1, "secondary": 2}


def propagated_bounds(pub: Published, eqs: list[Equation], passes: int = 100) -> dict[Cell, tuple]:
    """Bounds on the hidden cells by propagating every relation's bounds (each cell of a relation lies
    between the relation's right-hand side minus the others' largest and smallest contributions),
    repeated until nothing changes. Every value an attacker's LP allows lies within them, so a cell
    narrow here is narrow for the attacker too; cheap enough (numpy) to run on every publish."""
    if not eqs:
        return {}
    t, hidden, lo, hi = _propagate(pub, eqs, passes)
    cells = t.cells
    return {
        cells[j]: (float(lo[j]), None if hi[j] == float("inf") else float(hi[j]))
        for j in hidden.tolist()
        if cells[j][0] != REMAINDER  # an `at_most` remainder is no published cell
    }


def _status_codes(pub: Published, t: _RelationArrays):
    import numpy as np

    return np.fromiter((_HIDDEN_CODE[pub.status[c]] for c in t.cells), dtype=np.int8, count=len(t.cells))


def _propagate(pub: Published, eqs: list[Equation], passes: int = 100, code=None):
    """`propagated_bounds` as arrays: (the relations' arrays, the indices of the hidden cells in a
    relation, lower and upper bounds per cell). The relations' arrays are built once per `eqs`
    (`_relation_arrays`); each call reads the statuses (or takes them as `code`, see `_HIDDEN_CODE`)."""
    import numpy as np

    t = _relation_arrays(pub, eqs)
    code = _status_codes(pub, t) if code is None else code
    published_term = code[t.col] == 0
    m = len(eqs)
    # published cells move to the right-hand side; the relations over hidden cells only remain
    b = t.b - np.bincount(t.row[published_term], t.k[published_term] * t.value[t.col[published_term]], minlength=m)
    keep = ~published_term
    row, col, k = t.row[keep], t.col[keep], t.k[keep]
    lo = np.zeros(len(t.cells))
    hi = np.where(code == 1, float(pub.threshold - 1), np.inf)
    for _ in range(passes if len(col) else 0):
        # contributions k*x of every term: smallest (may be -inf) and largest (may be +inf)
        c_min = np.where(k > 0, k * lo[col], k * hi[col])
        c_max = np.where(k > 0, k * hi[col], k * lo[col])
        min_inf, max_inf = np.isinf(c_min), np.isinf(c_max)
        row_min = np.bincount(row, np.where(min_inf, 0.0, c_min), minlength=m)
        row_max = np.bincount(row, np.where(max_inf, 0.0, c_max), minlength=m)
        n_min_inf = np.bincount(row, min_inf, minlength=m)
        n_max_inf = np.bincount(row, max_inf, minlength=m)
        rest_min = np.where(n_min_inf[row] - min_inf > 0, -np.inf, row_min[row] - np.where(min_inf, 0.0, c_min))
        rest_max = np.where(n_max_inf[row] - max_inf > 0, np.inf, row_max[row] - np.where(max_inf, 0.0, c_max))
        with np.errstate(invalid="ignore"):
            a1, a2 = (b[row] - rest_max) / k, (b[row] - rest_min) / k
        new_lo = np.nan_to_num(np.minimum(a1, a2), nan=-np.inf)
        new_hi = np.nan_to_num(np.maximum(a1, a2), nan=np.inf)
        lo_next, hi_next = lo.copy(), hi.copy()
        np.maximum.at(lo_next, col, new_lo)
        np.minimum.at(hi_next, col, new_hi)
        if (
            np.allclose(lo_next, lo, atol=1e-9)
            and np.array_equal(np.isinf(hi_next), np.isinf(hi))
            and np.allclose(hi_next[np.isfinite(hi_next)], hi[np.isfinite(hi)], atol=1e-9)
        ):
            break
        lo, hi = lo_next, hi_next
    return t, np.unique(col), lo, hi


def _cell_relations(pub: Published, eqs: list[Equation]) -> dict[Cell, list[int]]:
    """{cell: the indices of the relations it is in}, built once per `eqs`."""
    memo = pub.memo.get("cell_relations")
    if memo is not None and memo[0] is eqs:
        return memo[1]
    by_cell: dict[Cell, list[int]] = defaultdict(list)
    for i, (terms, _) in enumerate(eqs):
        for _, c in terms:
            by_cell[c].append(i)
    pub.memo["cell_relations"] = (eqs, by_cell)
    return by_cell


def secondary_pattern(pub: Published, eqs: list[Equation], max_rounds: int = 200) -> set[Cell]:
    """Cells to show as "–" in addition to the primary ones (mutates `pub`: they become 'secondary').

    1. No relation may keep exactly one hidden cell (it would be the difference of the others): one
       of the relation's published cells is hidden too, the one whose other relations have no hidden
       cell yet in the fewest cases (each would become a new singleton: in linked tables a careless
       choice cascades through to-date chains, periods and breakdowns until almost everything is
       hidden), then a breakdown's cell before an outcome table's, then the smallest value.
    2. Bounds: a hidden cell whose propagated interval holds fewer than MIN_VALUES values (e.g. a
       published total of 8 = "<5" + "<5" pins both to 4) gets the largest published cell of its
       relations hidden too (more room). When no published cell is near it (all its relations are
       hidden: the narrowing comes from "<5" being at most 4, as in a small intervention whose
       figures are all hidden), the "<5" is taken away instead: the cell itself, if it is a "<5",
       else the "<5" cells of its relations, are shown as "–" (any count).
    Repeated until neither rule finds anything. Every cell returned is shown as "–"."""
    import numpy as np

    added: set[Cell] = set()
    if not eqs:
        return added
    by_cell = _cell_relations(pub, eqs)
    # hidden terms per relation, kept up to date as cells are hidden; relations left with one hidden
    # cell wait in `single` (a work list: each hiding looks only at the relations of that cell)
    t = _relation_arrays(pub, eqs)
    code = _status_codes(pub, t)  # kept equal to pub.status below
    hidden_terms = np.bincount(t.row, code[t.col] != 0, minlength=len(eqs)).astype(int).tolist()
    single = deque(i for i, n in enumerate(hidden_terms) if n == 1)

    def hide(cell: Cell) -> None:
        pub.status[cell] = "secondary"
        code[t.index[cell]] = _HIDDEN_CODE["secondary"]
        added.add(cell)
        for i in by_cell[cell]:
            hidden_terms[i] += 1
            if hidden_terms[i] == 1:
                single.append(i)

    def opened(cell: Cell) -> int:
        """The relations of `cell` with no hidden cell yet: hiding it would leave each with one (a
        new singleton to close, and so on through the linked tables)."""
        return sum(1 for i in by_cell[cell] if hidden_terms[i] == 0)

    core = set(LP_AUDITED)
    in_core = np.fromiter((c[0] in core for c in t.cells), dtype=bool, count=len(t.cells))

    def largest_published_in(equation_ids: Iterable[int], for_cell: Cell) -> Cell | None:
        """The published cell of these relations with the largest value (ties: the largest repr);
        for a cell of a breakdown, one of the breakdown's if there is one (the outcome tables'
        figures, its margins, stay published when they can)."""
        ids = list(equation_ids)
        if not ids:
            return None
        cols = np.concatenate([t.col[t.start[i] : t.start[i + 1]] for i in ids])
        cols = cols[code[cols] == 0]
        if for_cell[0] not in core and (~in_core[cols]).any():
            cols = cols[~in_core[cols]]
        if not len(cols):
            return None
        values = t.value[cols]
        ties = np.unique(cols[values == values.max()])
        return max((t.cells[j] for j in ties.tolist()), key=repr)

    for _ in range(max_rounds):
        while single:
            i = single.popleft()
            if hidden_terms[i] == 1:
                published = [c for _k, c in eqs[i][0] if pub.status[c] == "published"]
                if published:  # fewest new singletons, then a breakdown's cell (its margin stays), the smallest
                    hide(min(published, key=lambda c: (opened(c), c[0] in core, pub.value[c], repr(c))))
        t, hidden, lo, hi = _propagate(pub, eqs, code=code)
        with np.errstate(invalid="ignore"):
            values = np.floor(hi[hidden] + 1e-6) - np.ceil(lo[hidden] - 1e-6) + 1  # possible_values
        narrow = sorted(
            (t.cells[j] for j in hidden[values < MIN_VALUES].tolist() if t.cells[j][0] != REMAINDER), key=repr
        )
        log.info("sekundär undertryckning: %d tillagda, %d celler för smala", len(added), len(narrow))
        if not narrow:
            return added
        progressed = False
        widened: set[int] = set()
        for cell in narrow:
            if widened.intersection(by_cell[cell]):
                continue  # a relation of this cell got a new suppression this round: look again first
            extra = largest_published_in(by_cell[cell], cell)
            if extra is None:  # every relation of the cell is hidden: widen through its neighbours
                neighbours = {c for i in by_cell[cell] for _, c in eqs[i][0]}
                extra = largest_published_in({j for n in neighbours for j in by_cell[n]}, cell)
            if extra is not None:
                hide(extra)
                widened.update(by_cell[extra])
                progressed = True
                continue
            # no published cell to hide: "<5" (at most 4) narrows it, its own or its relations' ones
            small = (
                [cell]
                if pub.status[cell] == "primary"
                else sorted({c for i in by_cell[cell] for _, c in eqs[i][0] if pub.status[c] == "primary"}, key=repr)
            )
            for c in small:
                pub.status[c] = "secondary"  # shown "–": still hidden, no longer said to be below 5
                code[t.index[c]] = _HIDDEN_CODE["secondary"]
                added.add(c)
                widened.update(by_cell[c])
                progressed = True
        if not progressed:
            raise DisclosureError(f"kan inte skydda {narrow[0]}: inga fler celler att undertrycka")
    raise DisclosureError("den sekundära undertryckningen blev inte klar")


# ------------------------------------------------------------------------------ the step


def _qualified(schema: str, table: str, catalog: str | None = None) -> str:
    return f'{catalog + "." if catalog else ""}{schema}."{table}"'


def protected_copy(
    con: duckdb.DuckDBPyConnection,
    alias: str = "disclosed",
    schema: str = PUBLIC_SCHEMA,
    path: Path | None = None,
    cache: Path | None = None,
    settings: Settings | None = None,
) -> dict:
    """Copy the pub_ tables of `con` (the warehouse) into a database attached as `alias` and protect
    them there: the publish step writes the snapshot, the Parquet files (and so the BI database) from
    `alias.public.*`. `path`: a scratch DuckDB file, needed when `con` is read-only (DuckDB attaches
    no in-memory database to a read-only connection, as in an Airflow task); in memory otherwise.
    `cache`: the DuckDB file that keeps each intervention's suppression between publishes (see
    `protect`). `settings`: FINSAM_MIN_COUNT, the threshold the pub_ tables were built with."""
    con.execute(f"detach database if exists {alias}")  # a process-wide instance may hold the last one
    if path is None:
        con.execute(f"attach ':memory:' as {alias}")
    else:
        con.execute(f"attach '{path}' as {alias} (read_only false)")
    con.execute(f"create schema {alias}.{schema}")
    for (table,) in con.execute(
        "select table_name from information_schema.tables where table_schema = ? "
        "and table_catalog = current_database() order by 1",
        [schema],
    ).fetchall():
        con.execute(f"create table {_qualified(schema, table, alias)} as select * from {_qualified(schema, table)}")
    return protect(con, schema, catalog=alias, cache=cache, settings=settings)


# Every declared relation links cells of one intervention (its periods, windows, groups and the tables
# that repeat its figures), so each intervention is protected on its own, and only when its published
# rows changed: a run that loads one delivery re-protects one intervention.
COMPONENT = ("association_code", "intervention_code")
COMPONENTS_PER_BATCH = 20  # interventions protected together (each on its own relations): memory stays small
CACHE_DDL = """
    create table if not exists components (component varchar primary key, fingerprint varchar not null);
    create table if not exists hidden (component varchar not null, tbl varchar not null, key varchar not null,
                                       col varchar not null)
"""


def _component_expr(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return " || '/' || ".join(f"coalesce(cast({prefix}{c} as varchar), '')" for c in COMPONENT)


def fingerprints(
    con: duckdb.DuckDBPyConnection, schema: str, catalog: str | None, decl: dict, settings: Settings | None = None
) -> dict[str, str]:
    """Per intervention ("association/intervention"): a hash of its rows in every pub_ table with
    declared relations, of the declarations, the threshold (FINSAM_MIN_COUNT or the dbt var) and this
    module's code (a change to the method protects everything again)."""
    method = hashlib.sha256(
        json.dumps(decl, sort_keys=True, default=str).encode()
        + repr((threshold(settings), MIN_VALUES)).encode()
        + Path(__file__).read_bytes()
    ).hexdigest()
    present = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_catalog = coalesce(?, current_database())",
            [schema, catalog],
        ).fetchall()
    }
    parts: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(decl) & present):
        for component, digest in con.execute(
            f"select {_component_expr()} as component, md5(string_agg(row_hash, ',' order by row_hash)) "
            f"from (select *, md5(cast(t as varchar)) as row_hash from {_qualified(schema, name, catalog)} t) "
            "group by component"
        ).fetchall():
            parts[component].append(f"{name}:{digest}")
    return {c: hashlib.sha256("|".join([method, *p]).encode()).hexdigest() for c, p in parts.items()}


# The tables whose relations the step also checks with the attacker's exact linear program (bounds
# propagation misses combinations of relations): issue 15's table and the table it repeats.
LP_AUDITED = ("pub_rpt_intervention_outcomes", "pub_rpt_outcomes_by_period")


def lp_audit(
    pub: Published,
    eqs: list[Equation],
    max_rounds: int = 200,
    may_hide=None,
    stuck=None,
) -> set[Cell]:
    """3. The attacker's LP over the relations `eqs` (the `LP_AUDITED` tables', or a breakdown's
    slices'), block by block (one intervention each). A hidden cell it narrows to fewer than
    MIN_VALUES values gets the published cells nearest to it (fewest relations away; only those
    `may_hide` allows) hidden too; when none is left, `stuck(cell)` hides what it must (default: its
    own "<5", or its relations', is shown as "–"). A block stops at its first narrowed cell; rules 1-2
    (`secondary_pattern` over `eqs`) run again after every round, and a block is solved again only
    when it changed. Returns the cells added (mutates `pub`)."""
    by_cell: dict[Cell, list[int]] = defaultdict(list)
    for i, (terms, _) in enumerate(eqs):
        for _, c in terms:
            by_cell[c].append(i)
    added: set[Cell] = set()
    solved: dict = {}
    for _ in range(max_rounds):
        found = intervals(pub, eqs, cache=solved, audit=True)
        if all(possible_values(iv) >= MIN_VALUES for iv in found.values()):
            return added
        # a block stops at its first narrow cell: the cells not yet proven wide wait for the next round
        narrow = sorted((c for c, iv in found.items() if iv[2] and possible_values(iv) < MIN_VALUES), key=repr)
        log.info("LP-granskning: %d celler för smala", len(narrow))
        seen: set[Cell] = set()
        for cell in narrow:
            if cell in seen:
                continue
            # the published cells nearest to the cell (breadth first through the relations); the
            # narrowed cells met on the way are widened by the same hiding
            frontier, visited, nearest = [cell], {cell}, []
            while frontier and not nearest:
                following = []
                for c in frontier:
                    for i in by_cell[c]:
                        for _, other in eqs[i][0]:
                            if other not in visited:
                                visited.add(other)
                                if pub.status[other] != "published":
                                    following.append(other)
                                elif may_hide is None or may_hide(other):
                                    nearest.append(other)
                frontier = following
            seen.update(c for c in visited if c in found)
            if nearest:
                hidden_now = sorted(nearest, key=repr)
            elif stuck is not None:
                hidden_now = stuck(cell)
            else:  # nothing published in its block: "<5" (at most 4) narrows it, its own or its relations'
                hidden_now = (
                    [cell]
                    if pub.status[cell] == "primary"
                    else sorted(
                        {c for i in by_cell[cell] for _, c in eqs[i][0] if pub.status[c] == "primary"}, key=repr
                    )
                )
            if not hidden_now:
                raise DisclosureError(f"kan inte skydda {cell}: inga fler celler att undertrycka")
            for c in hidden_now:
                pub.status[c] = "secondary"
                added.add(c)
        added |= secondary_pattern(pub, eqs)
    raise DisclosureError("LP-granskningen blev inte klar")


def breakdown_slices(pub: Published, eqs: list[Equation]) -> list[tuple[list[Cell], list[int], list[Cell]]]:
    """The cells outside the `LP_AUDITED` tables (the breakdowns by sex, age, profile, support,
    employment, time, and the cost table), in slices: the sets of them linked by relations when the
    `LP_AUDITED` cells are left out (e.g. one period's sex x age breakdown of an intervention: its
    categories add up to the outcome table's figures). Per slice: its cells, its relations and its
    margins (the `LP_AUDITED` cells in those relations)."""
    core = set(LP_AUDITED)
    sets = _Sets()
    find = sets.find
    outer = []
    for i, (terms, _) in enumerate(eqs):
        mine = [c for _, c in terms if c[0] not in core]
        if not mine:
            continue
        outer.append(i)
        sets.join(mine)
    cells: dict[Cell, list[Cell]] = defaultdict(list)
    for c in list(sets.parent):
        cells[find(c)].append(c)
    relations: dict[Cell, list[int]] = defaultdict(list)
    margins: dict[Cell, set[Cell]] = defaultdict(set)
    for i in outer:
        terms = eqs[i][0]
        root = find(next(c for _, c in terms if c[0] not in core))
        relations[root].append(i)
        margins[root].update(c for _, c in terms if c[0] in core)
    return [
        (sorted(cells[r], key=repr), relations[r], sorted(margins[r], key=repr))
        for r in sorted(cells, key=lambda r: repr(r))
    ]


def copies(eqs: list[Equation]) -> dict[Cell, list[Cell]]:
    """{cell: every cell equal to it through relations of the form a = b} (cells in no such
    relation are left out)."""
    sets = _Sets()
    for terms, b in eqs:
        if _is_equality(terms, b):
            sets.join([terms[0][1], terms[1][1]])
    classes: dict[Cell, list[Cell]] = defaultdict(list)
    for c in list(sets.parent):
        classes[sets.find(c)].append(c)
    return {c: members for members in classes.values() for c in members}


def breakdown_audit(pub: Published, eqs: list[Equation]) -> set[Cell]:
    """4. The breakdowns, one slice at a time (`breakdown_slices`):
    - a slice with a hidden margin is hidden as a whole ("–" in every cell, also its "<5" cells): a
      breakdown of a hidden figure then says nothing about it (any margins the outcome tables allow
      can be split over its categories), and the outcome tables' audit stays valid for them;
    - a slice whose margins are all published is independent of every other cell (its margins are
      known numbers): the attacker's LP over it alone must leave every hidden cell at least
      MIN_VALUES values; a narrowed cell gets the slice's nearest published cell hidden (never a
      margin), and when none is left the whole slice is hidden.
    Returns the cells added (mutates `pub`)."""
    added: set[Cell] = set()
    audit_eqs: list[Equation] = []
    slice_of: dict[Cell, list[Cell]] = {}

    core = set(LP_AUDITED)
    copy_of = copies(eqs)

    def hide_all(cells: list[Cell]) -> list[Cell]:
        """The slice's cells to show as "–" when it is hidden as a whole. A copy of an outcome
        table's figure (a breakdown's total column; a breakdown of one category, equal to its total;
        the cost table's counts) is shown as that figure is: published, or "<5" (a "<5" beside a "–"
        of the same figure would bound it, so it follows the outcome tables' "–" too)."""
        hide = []
        for c in cells:
            if pub.status[c] == "secondary":
                continue
            if any(o[0] in core and pub.status[o] != "secondary" for o in copy_of.get(c, [])):
                continue
            hide.append(c)
        return hide

    for cells, relations, margins in breakdown_slices(pub, eqs):
        if any(pub.status[m] != "published" for m in margins):
            for c in hide_all(cells):
                pub.status[c] = "secondary"
                added.add(c)
            continue
        if all(pub.status[c] == "published" for c in cells):
            continue
        audit_eqs += [eqs[i] for i in relations]
        for c in cells:
            slice_of[c] = cells
    if audit_eqs:
        added |= secondary_pattern(pub, audit_eqs)
        added |= lp_audit(
            pub,
            audit_eqs,
            may_hide=lambda c: c[0] not in core,
            stuck=lambda cell: hide_all(slice_of[cell]) if cell in slice_of else [],
        )
    return added


def _protect_batch(batch: Published, decl: dict[str, dict]) -> tuple[list[tuple], int]:
    """One batch of interventions: (component, table, key, column) of every cell to show as "–",
    and the number of relations."""
    eqs = equations(batch, decl)
    rows = []
    for table, key, column in _hidden_cells(batch, eqs):
        row = batch.tables[table].by_key[key]
        component = "/".join("" if row[c] is None else str(row[c]) for c in COMPONENT)
        rows.append((component, table, str(key), column))
    return rows, len(eqs)


def _protected_batches(batches: Iterable[Published], decl: dict[str, dict], workers: int):
    """`_protect_batch` for each batch: in this process, or (several batches, FINSAM_WORKERS > 1) in
    worker processes, at most two batches per worker read ahead (memory stays bounded). Each
    intervention is protected on its own, so the order does not change the result."""
    if workers <= 1:
        for batch in batches:
            yield _protect_batch(batch, decl)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the caller holds DuckDB connections (and may run inside an Airflow task), never fork them
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = deque()
        for batch in batches:
            pending.append(pool.submit(_protect_batch, batch, decl))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _hidden_cells(pub: Published, eqs: list[Equation]) -> set[Cell]:
    """The method: the cells to show as "–" (mutates `pub`)."""
    core = set(LP_AUDITED)
    core_eqs = [e for e in eqs if all(c[0] in core for _, c in e[0])]
    added = secondary_pattern(pub, core_eqs)
    while True:  # until the breakdowns' step leaves the outcome tables as their audit left them
        added |= lp_audit(pub, core_eqs)
        audited = {c: s for c, s in pub.status.items() if c[0] in core}
        added |= breakdown_audit(pub, eqs)
        if all(pub.status[c] == s for c, s in audited.items()):
            return added


def _show_secondary(
    con: duckdb.DuckDBPyConnection, schema: str, catalog: str | None, pub: Published, hidden: Iterable[tuple]
) -> None:
    """Show the cells (table, column, [row keys]) as "–", and the shares, means and medians of their
    rows as hidden (they are computed from the row's counts)."""
    touched: dict[str, set] = defaultdict(set)
    for table, column, keys in hidden:
        key_column = pub.tables[table].key
        con.execute(
            f'update {_qualified(schema, table, catalog)} set "{column}" = null, "{column}_suppressed" = true, '
            f'"{column}_display" = \'{SECONDARY_DISPLAY}\' where cast("{key_column}" as varchar) in (select unnest(?))',
            [keys],
        )
        touched[table].update(keys)
    for table, keys in sorted(touched.items()):
        derived = pub.tables[table].derived
        if derived:
            sets = ", ".join(f'"{c}" = null, "{c}_suppressed" = true' for c in derived)
            con.execute(
                f"update {_qualified(schema, table, catalog)} set {sets} "
                f'where cast("{pub.tables[table].key}" as varchar) in (select unnest(?))',
                [sorted(keys)],
            )


def protect_across_interventions(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    catalog: str | None,
    decl: dict[str, dict],
    settings: Settings | None = None,
) -> int:
    """5. The tables whose rows span interventions, after the interventions are protected; they never
    hide an intervention's figure, so the interventions' protection (and its cache) stays valid:
    - a sum over interventions (`aggregate_of`: an association's or the county's year) is shown only
      when every figure it sums is shown (it then tells nothing new); otherwise "–", also when below
      5 (a "<5" would bound the hidden figures it sums);
    - a split of another figure (`at_most`: the steps into an intervention, some of its entrants; a
      row's sums: steps = overlapping + with days between; people, at most the steps), the breakdown
      rule (4) one level up: when the figure split is hidden, every part is "–"; when it is shown,
      the parts left hidden must keep at least MIN_VALUES values each (what the shown parts leave,
      and "<5" at most 4, bound them): else the smallest shown part (not 0) is hidden too, and when
      none is left the "<5" parts are shown as "–".
    Splits of another table's figure come first, then the splits of this table's own figures (a
    step's count decides its parts). Returns the number of cells hidden."""
    within = within_interventions(decl)
    across = {name: d for name, d in decl.items() if name not in within}
    names = set(across) | {
        e["table"] for d in across.values() for kind in ACROSS_INTERVENTIONS for e in d.get(kind) or []
    }
    pub = read_published(con, schema, catalog=catalog, tables=names, settings=settings)
    added: set[Cell] = set()

    def hide(cell: Cell) -> None:
        if pub.status[cell] != "secondary":
            pub.status[cell] = "secondary"
            added.add(cell)

    def split(total: Cell, parts: list[Cell]) -> None:
        own = [c for c in parts if c[0] != REMAINDER]
        remainder = len(own) < len(parts)
        if pub.status[total] != "published":
            for c in own:
                hide(c)
            return
        for _ in range(len(own) + 2):
            shown = [c for c in own if pub.status[c] == "published"]
            hidden = [c for c in own if pub.status[c] != "published"]
            room = pub.value[total] - sum(pub.value[c] for c in shown)
            upper = {c: pub.bounds(c)[1] if pub.bounds(c)[1] is not None else float("inf") for c in hidden}
            narrow = bool(hidden) and not remainder and len(hidden) == 1
            for c in hidden:
                low = 0 if remainder else max(0, room - sum(upper[o] for o in hidden if o != c))
                narrow |= min(upper[c], room) - low + 1 < MIN_VALUES
            if not narrow:
                return
            if shown:
                hide(min(shown, key=lambda c: (pub.value[c] == 0, pub.value[c], repr(c))))
            elif any(pub.status[c] == "primary" for c in hidden):
                for c in hidden:
                    hide(c)
            else:
                break
        raise DisclosureError(f"kan inte skydda delarna av {total}")

    ordered = []
    for terms, _ in equations(pub, across):
        total = next(c for k, c in terms if k == 1)
        parts = [c for k, c in terms if c != total]
        if total[0] in across and all(c[0] not in across for c in parts):  # a sum over interventions
            if pub.status[total] != "secondary" and any(pub.status[c] != "published" for c in parts):
                hide(total)
        else:
            ordered.append((total[0] in across, total, parts))
    for _, total, parts in sorted(ordered, key=lambda e: e[0]):  # another table's figure split first
        split(total, parts)
    hide_by: dict[tuple, list] = defaultdict(list)
    for table, key, column in added:
        hide_by[(table, column)].append(str(key))
    hidden = [(table, column, sorted(keys)) for (table, column), keys in sorted(hide_by.items())]
    _show_secondary(con, schema, catalog, pub, hidden)
    return len(added)


def protect(
    con: duckdb.DuckDBPyConnection,
    schema: str = PUBLIC_SCHEMA,
    catalog: str | None = None,
    cache: Path | None = None,
    settings: Settings | None = None,
) -> dict:
    """Secondary suppression of the pub_ tables in `schema` of `con`, in place (they must be writable:
    the publish step runs it on an in-memory copy). Interventions whose published rows are unchanged
    since the last publish take their suppression from `cache`; the others are protected again.
    `settings`: FINSAM_MIN_COUNT, the threshold the pub_ tables were built with (default: the dbt
    var). Returns counts for the run's summary."""
    everything = declarations()
    decl = within_interventions(everything)  # the tables summed over interventions come after
    prints = fingerprints(con, schema, catalog, decl, settings)
    store = duckdb.connect(str(cache)) if cache is not None else duckdb.connect()
    try:
        store.execute(CACHE_DDL)
        known = dict(store.execute("select component, fingerprint from components").fetchall())
        stale = sorted(c for c, f in prints.items() if known.get(c) != f)
        pub = read_published(con, schema, catalog=catalog, tables=decl, components=[], settings=settings)  # shape
        batches = (  # bounded memory; the same result
            read_published(
                con,
                schema,
                catalog=catalog,
                tables=decl,
                components=stale[start : start + COMPONENTS_PER_BATCH],
                settings=settings,
            )
            for start in range(0, len(stale), COMPONENTS_PER_BATCH)
        )
        workers = min(settings.workers if settings else 1, -(-len(stale) // COMPONENTS_PER_BATCH))
        rows, relations = [], 0
        for found, count in _protected_batches(batches, decl, workers):
            rows += found
            relations += count
        gone = sorted(set(known) - set(prints))
        store.execute("begin")
        store.execute("delete from hidden where component in (select unnest(?::varchar[]))", [stale + gone])
        store.execute("delete from components where component in (select unnest(?::varchar[]))", [stale + gone])
        if rows:  # one bulk insert (a national first publish hides hundreds of thousands of cells)
            new_hidden = pd.DataFrame(rows, columns=["component", "tbl", "key", "col"])  # noqa: F841 (read by SQL)
            store.execute("insert into hidden select * from new_hidden")
        if stale:
            new_components = pd.DataFrame([(c, prints[c]) for c in stale], columns=["component", "fingerprint"])  # noqa: F841
            store.execute("insert into components select * from new_components")
        store.execute("commit")
        hidden = store.execute(
            "select tbl, col, list(key order by key) from hidden group by all order by all"
        ).fetchall()
    finally:
        store.close()
    _show_secondary(con, schema, catalog, pub, hidden)
    across = protect_across_interventions(con, schema, catalog, everything, settings)
    primary = 0
    for name, table in pub.tables.items():  # one scan per table: its "<5" cells in every count column
        if table.counts:
            shown_small = " + ".join(f"count(*) filter (where \"{c}_display\" = '<5')" for c in table.counts)
            primary += con.execute(f"select {shown_small} from {_qualified(schema, name, catalog)}").fetchone()[0]
    return {
        "primary": primary,
        "secondary": sum(len(keys) for _, _, keys in hidden) + across,
        "relations": relations,
        "interventions": len(prints),
        "protected_again": len(stale),
    }
