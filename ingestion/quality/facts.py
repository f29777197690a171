"""Step 5b: validate the built facts with Great Expectations, after the warehouse is built.

Landing suites see one delivery at a time; some problems only show across deliveries,
interventions or periods. dbt computes them once, as documented models in
`dbt_project/models/marts/quality/` (`qa_*`, described in `_quality.yml`: lineage, docs and
data tests like every other mart); this step reads those tables into pandas and checks them
with the GX suites `expectations/*.final.json` on GX's pandas path (GX's SQL data source does
not work on DuckDB here). No SQL rule lives here: a flag column (leading `_`) is true, false
or null (the check does not apply), and the suite expects true.

| suite | relation (one row per) | check |
|---|---|---|
| `fct_participation.final` | `marts.qa_participation_checks` (current episode) | ended in an earlier delivery but active again in a later one; active in two interventions of the same inriktning at once; episodes in a count-only (VOLYM) intervention |
| `participant_counts.final` | `marts.qa_participant_counts` (current deltagare/volym delivery) | the count jumps by more than the dbt var `finsam_jump_factor` (dbt_project.yml, 3; FINSAM_JUMP_FACTOR sets it) from the previous period |

The owner's warning names the delivery's columns (slutdatum, startdatum, matmetod, antal: the
suites' `meta.column`) and rows (`source_row`). Each association's rows are validated in that
association's GX project, so its Data Docs show landing and final results together. Only the
associations whose facts the last build changed (meta.build_queue, stage 'facts') are validated,
plus every association sharing a person with them (`marts.qa_linked_associations`: the parallel
check crosses associations) whose failures by the flags differ from its stored ones; reading the
flags is cheap, the fixed cost of a GX run per association is not. Their results replace their
previous final results in `meta.validation_results`: failing rows as delivery and row numbers
only (never a person key), plus one passing row per expectation that fails nowhere in the county.
The stored failures are read back here (`STORED_FAILURES_SQL`): this step writes them after dbt
has run, so they cannot be a model.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.core.config import Settings
from ingestion.core.findings import Finding
from ingestion.core.registry import Registry
from ingestion.quality.suites import Context, findings_from_result, load_suite, refresh_data_docs, run_suite

log = logging.getLogger(__name__)
FACT_SUITES = ("fct_participation.final", "participant_counts.final")

# The relation each final suite validates (built by dbt, models/marts/quality/qa_*.sql).
SUITE_RELATIONS = {
    "fct_participation.final": "marts.qa_participation_checks",
    "participant_counts.final": "marts.qa_participant_counts",
}
LINKED_RELATION = "marts.qa_linked_associations"
REQUIRED_RELATIONS = (*SUITE_RELATIONS.values(), LINKED_RELATION, "intermediate.int_deliveries_current")
# Not for GX: the episode key is derived from the person key (the frame holds no person key).
NOT_VALIDATED = ("episode_key",)


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The relation's rows as the suites read them: dates as the owner writes them (2016-08-15),
    and flags that do not apply as None, not NaN (GX skips missing values)."""
    frame = frame.drop(columns=[c for c in NOT_VALIDATED if c in frame.columns])
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.strftime("%Y-%m-%d").astype(object).where(frame[name].notna(), None)
        elif name.startswith("_"):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def fact_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The rows each final suite validates, read from the dbt relations. No person keys."""
    participation = con.execute(
        f"select * from {SUITE_RELATIONS['fct_participation.final']} "
        "order by association_code, intervention_code, delivery_id, source_row"
    ).df()
    counts = con.execute(
        f"select * from {SUITE_RELATIONS['participant_counts.final']} "
        "order by association_code, intervention_code, kind, period"
    ).df()
    counts.insert(1, "source_row", -1)  # GX's row index: the check is about the whole delivery
    counts["jump_factor"] = counts["jump_factor"].map(lambda v: f"{v:g}")  # 3, not 3.0, in the warning
    return {"fct_participation.final": _rows(participation), "participant_counts.final": _rows(counts)}


def missing_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    found = {
        f"{schema}.{name}"
        for schema, name in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    return [name for name in REQUIRED_RELATIONS if name not in found]


# The failing final results stored from earlier runs, by association (written by this step, after dbt).
STORED_FAILURES_SQL = """
    with failing as (
        select delivery_id, expectation, observed from meta.validation_results
        where not passed and suite like '%.final'
    ),
    deliveries as (
        select delivery_id, association_code from meta.load_ledger
        union
        select delivery_id, association_code from intermediate.int_deliveries_current
    )
    select distinct deliveries.association_code, failing.delivery_id, failing.expectation, failing.observed
    from failing
    inner join deliveries using (delivery_id)
"""


def _failures_now(frames: dict[str, pd.DataFrame]) -> dict[str, set[tuple]]:
    """(delivery, expectation, number of failing rows) per association, from the relations' flags."""
    found: dict[str, set[tuple]] = {}
    for suite, frame in frames.items():
        for flag in [c for c in frame.columns if c.startswith("_")]:
            failed = frame[frame[flag].eq(False)]
            check = f"{suite}:expect_column_values_to_be_in_set:{flag}"
            for (association, delivery_id), rows in failed.groupby(["association_code", "delivery_id"]).size().items():
                found.setdefault(association, set()).add((delivery_id, check, int(rows)))
    return found


def validation_scope(
    con: duckdb.DuckDBPyConnection, queued_codes: list[str] | None, registry: Registry, frames: dict[str, pd.DataFrame]
) -> list[str]:
    """The associations to run through GX: all (None queued); else the queued ones, and each linked
    one whose failures by the flags differ from its stored failures (a parallel episode in a
    queued association appeared or went away). Any other association keeps its stored results:
    GX would give the same verdicts. (If the two counts disagreed for another reason, the
    association would only be validated again, never skipped wrongly.)"""
    if queued_codes is None:
        return list(registry.codes)
    linked = {
        row[0]
        for row in con.execute(
            f"select distinct linked_association_code from {LINKED_RELATION} "
            "where association_code in (select unnest(?::varchar[]))",
            [queued_codes],
        ).fetchall()
    }
    now = _failures_now(frames)
    stored: dict[str, set[tuple]] = {}
    for association, delivery_id, expectation, observed in con.execute(STORED_FAILURES_SQL).fetchall():
        count = json.loads(observed).get("antal") if observed else None
        stored.setdefault(association, set()).add((delivery_id, expectation, count))
    return [
        code
        for code in registry.codes
        if code in queued_codes or (code in linked and now.get(code, set()) != stored.get(code, set()))
    ]


def validate_frames(
    frames: dict[str, pd.DataFrame],
    registry: Registry,
    gx_root: Path,
    ctx: Context,
    docs: bool = True,
    scope: list[str] | None = None,
) -> dict[str, list[tuple[str, Finding]]]:
    """Run each final suite per association (in its GX project); (delivery_id, finding) per suite."""
    found: dict[str, list[tuple[str, Finding]]] = {suite: [] for suite in frames}
    for suite, frame in frames.items():
        for association in registry.codes if scope is None else scope:
            rows = frame[frame["association_code"].eq(association)].reset_index(drop=True)
            if rows.empty:
                continue
            result = run_suite(gx_root / association, suite, rows, ctx, docs)
            found[suite] += findings_from_result(suite, result, rows, ctx)
    return found


def failing_rows(found: dict[str, list[tuple[str, Finding]]]) -> list[tuple]:
    """meta.validation_results rows of the failures: one per (delivery, expectation)."""
    rows = []
    for suite, items in found.items():
        grouped: dict[tuple[str, str], list[Finding]] = {}
        for delivery_id, finding in items:
            grouped.setdefault((delivery_id, finding.check), []).append(finding)
        for (delivery_id, check), findings in sorted(grouped.items()):
            failing = sorted({r for f in findings for r in f.row_numbers})
            count = sum(len(f.row_numbers) or 1 for f in findings)  # failing rows (a grouped finding counts each)
            rows.append(
                (
                    delivery_id,
                    suite,
                    check,
                    findings[0].severity,
                    False,
                    json.dumps({"antal": count}),
                    failing,
                    findings[0].message_sv,
                )
            )
    return rows


def _store_results(con: duckdb.DuckDBPyConnection, scope: list[str], rows: list[tuple]) -> None:
    """Replace the scope's failures; then one passing row (no delivery) per final expectation that
    fails nowhere in the county, the associations outside the scope included."""
    con.execute(
        "delete from meta.validation_results where suite in (select unnest(?::varchar[])) and "
        "(delivery_id is null or delivery_id in (select delivery_id from meta.load_ledger "
        "where association_code in (select unnest($2::varchar[])) union all select delivery_id from "
        "intermediate.int_deliveries_current where association_code in (select unnest($2::varchar[]))))",
        [list(FACT_SUITES), scope],
    )
    if rows:
        con.executemany("insert into meta.validation_results values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    still_failing = {
        row[0]
        for row in con.execute(
            "select distinct expectation from meta.validation_results where not passed and suite in "
            "(select unnest(?::varchar[]))",
            [list(FACT_SUITES)],
        ).fetchall()
    }
    passing = []
    for suite in FACT_SUITES:
        for item in load_suite(suite)["expectations"]:
            check = f"{suite}:{item['type']}:{item['kwargs'].get('column')}"
            if check not in still_failing:
                passing.append(
                    (None, suite, check, item["meta"].get("severity"), True, json.dumps({"antal": 0}), [], None)
                )
    if passing:
        con.executemany("insert into meta.validation_results values (?, ?, ?, ?, ?, ?, ?, ?)", passing)


def run_facts_validation(
    settings: Settings, registry: Registry, *, as_of: date | None = None, docs: bool = True, everything: bool = False
) -> dict:
    """Validate the facts in the warehouse; store results; rebuild Data Docs. Returns counts.

    Only the associations the last builds changed (meta.build_queue, stage 'facts', written by
    `build_marts`) and those linked to them are run through GX; the other associations' results
    stay as they were. `everything` (or a full build) validates every association.
    """
    from ingestion.warehouse.queue import dequeue, queued
    from ingestion.warehouse.schema import connect, ensure_schema

    ctx = Context(as_of=as_of or date.today(), overspend_share=settings.overspend_share)
    con = connect(settings)
    try:
        ensure_schema(con)
        missing = missing_relations(con)
        codes, until = queued(con, "facts")
        nothing_to_do = missing or not (everything or codes is None or codes)
        frames = {} if nothing_to_do else fact_frames(con)  # reading the flags is cheap; GX is what costs
        scope = [] if nothing_to_do else validation_scope(con, None if everything else codes, registry, frames)
    finally:
        con.close()
    if missing:  # the marts have not been built yet: nothing to validate, and the old results stay
        log.warning("Slutkontrollerna hoppades över: %s finns inte (kör dbt build först)", ", ".join(missing))
        return {"skipped": missing}
    found = validate_frames(frames, registry, settings.gx_root, ctx, docs, scope) if scope else {}
    con = connect(settings)
    try:
        con.execute("begin transaction")
        if scope:
            _store_results(con, scope, failing_rows(found))
        dequeue(con, "facts", until)
        con.execute("commit")
    finally:
        con.close()
    if docs:
        for association in scope:
            refresh_data_docs(settings.gx_root / association)
    summary = {
        suite: {"rows": len(frames.get(suite, ())), "failing": len(found.get(suite, ()))} for suite in FACT_SUITES
    }
    summary["warnings"] = sum(1 for items in found.values() for _, f in items if f.severity == "warning")
    summary["blocking"] = sum(1 for items in found.values() for _, f in items if f.severity == "blocking")
    summary["associations"] = scope
    return summary
