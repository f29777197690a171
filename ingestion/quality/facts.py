"""Step 5b: validate the built facts with Great Expectations, after the warehouse is built.

Landing suites see one delivery at a time; some problems only show across deliveries,
interventions or periods. They are computed here in SQL on the built warehouse (the dbt
facts `marts.fct_participation` and `marts.dim_intervention`, the supersession in
`intermediate.int_deliveries_current`, and `raw.deltagare` for the history across
deliveries), read into pandas, and checked with the GX suites `expectations/*.final.json`
on GX's pandas path (GX's SQL data source does not work on DuckDB here):

| suite | row | check |
|---|---|---|
| `fct_participation.final` | current version of each episode | ended in an earlier delivery but active again in a later one; active in two interventions of the same inriktning at once; episodes in a count-only (VOLYM) intervention |
| `participant_counts.final` | (association, intervention, kind, period) | the count jumps by more than `FINSAM_JUMP_FACTOR` (default 3) from the previous period |

Each association's rows are validated in that association's GX project, so its Data Docs
show landing and final results together. Only the associations whose facts the last build
changed (meta.build_queue, stage 'facts') are validated, plus every association sharing a
person with them (the parallel check crosses associations) whose failures by the SQL flags
differ from its stored ones; the SQL above is cheap, the fixed cost of a GX run per
association is not. Their results replace their previous final
results in `meta.validation_results`: failing rows as delivery and row numbers only (never
a person key), plus one passing row per expectation that fails nowhere in the county.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.core.config import Settings, load_settings
from ingestion.core.findings import Finding
from ingestion.core.registry import Registry
from ingestion.quality.suites import Context, findings_from_result, load_suite, refresh_data_docs, run_suite

log = logging.getLogger(__name__)
FACT_SUITES = ("fct_participation.final", "participant_counts.final")
DEFAULT_JUMP_FACTOR = 3.0

# Built by dbt; validated here. Source rows come from the episode model the fact is built on.
REQUIRED_RELATIONS = (
    "marts.fct_participation",
    "marts.dim_intervention",
    "intermediate.int_participation_episodes",
    "intermediate.int_deliveries_current",
    "raw.deltagare",
    "raw.volym",
)

PARTICIPATION_SQL = """
    with fct_participation as (
        select * from marts.fct_participation
    ),
    int_participation_episodes as (
        select episode_key, source_row, delivery_period_end from intermediate.int_participation_episodes
    ),
    dim_intervention as (
        select association_code, intervention_code, focus as inriktning, measurement_method as matmetod
        from marts.dim_intervention
        where is_current
    ),
    int_deliveries_current as (
        select delivery_id from intermediate.int_deliveries_current
        where kind = 'deltagare' and is_current
    ),
    current_episodes as (
        select
            fct_participation.episode_key, fct_participation.delivery_id, int_participation_episodes.source_row,
            fct_participation.association_code, fct_participation.intervention_code,
            fct_participation.delivered_period as period, int_participation_episodes.delivery_period_end,
            fct_participation.person_key, fct_participation.is_anonymous,
            -- the contract's names from here on: the owner's warning names the columns of the delivery
            fct_participation.start_date as startdatum, fct_participation.end_date as slutdatum,
            dim_intervention.inriktning, dim_intervention.matmetod
        from fct_participation
        inner join int_participation_episodes using (episode_key)
        left join dim_intervention using (association_code, intervention_code)
    ),
    ended_before as (
        -- Every current delivery in which a keyed episode had ended (raw: across deliveries).
        select deltagare.association_code, deltagare.intervention_code, deltagare.person_key, deltagare.startdatum,
               deltagare.slutdatum, deltagare.period, deltagare.period_end
        from raw.deltagare as deltagare
        inner join int_deliveries_current using (delivery_id)
        where deltagare.person_key is not null and deltagare.slutdatum is not null
    ),
    reopened as (
        select current_episodes.episode_key,
               arg_max(ended_before.period, ended_before.period_end) as ended_in_period,
               arg_max(ended_before.slutdatum, ended_before.period_end) as ended_on
        from current_episodes
        inner join ended_before
            on ended_before.association_code = current_episodes.association_code
            and ended_before.intervention_code = current_episodes.intervention_code
            and ended_before.person_key = current_episodes.person_key
            and ended_before.startdatum = current_episodes.startdatum
            and ended_before.period_end < current_episodes.delivery_period_end
        where current_episodes.slutdatum is null and not current_episodes.is_anonymous
        group by all
    ),
    keyed as (
        select * from current_episodes
        where not is_anonymous and person_key is not null and inriktning is not null
    ),
    parallel as (
        select episode.episode_key, count(*) as parallel_count
        from keyed as episode
        inner join keyed as other
            on other.person_key = episode.person_key
            and other.inriktning = episode.inriktning
            and (other.association_code != episode.association_code
                 or other.intervention_code != episode.intervention_code)
            and episode.startdatum < coalesce(other.slutdatum, date '9999-12-31')
            and other.startdatum < coalesce(episode.slutdatum, date '9999-12-31')
        group by all
    ),
    final as (
        select
            current_episodes.delivery_id,
            current_episodes.source_row,
            current_episodes.association_code,
            current_episodes.intervention_code,
            current_episodes.period,
            reopened.ended_in_period,
            strftime(reopened.ended_on, '%Y-%m-%d') as ended_on,
            case when not current_episodes.is_anonymous then reopened.episode_key is null end as _not_reopened,
            current_episodes.inriktning,
            parallel.parallel_count,
            case when not current_episodes.is_anonymous and current_episodes.inriktning is not null
                 then parallel.episode_key is null end as _no_parallel_same_kind,
            coalesce(current_episodes.matmetod, 'PERSON') != 'VOLYM' as _person_level_intervention
        from current_episodes
        left join reopened using (episode_key)
        left join parallel using (episode_key)
    )
    select * from final order by association_code, intervention_code, delivery_id, source_row
"""

COUNTS_SQL = """
    with int_deliveries_current as (
        select delivery_id, association_code, intervention_code, kind, period, period_start, period_end
        from intermediate.int_deliveries_current
        where is_current and kind in ('deltagare', 'volym')
    ),
    participants as (
        select delivery_id,
               count(*) filter (where startdatum <= period_end
                                  and (slutdatum is null or slutdatum >= period_start)
                                  and coalesce(avslutsanledning, '') != 'FELREG') as antal
        from raw.deltagare
        group by delivery_id
    ),
    volumes as (
        select delivery_id, coalesce(sum(antal), 0) as antal
        from raw.volym
        group by delivery_id
    ),
    counted as (
        select int_deliveries_current.*, coalesce(participants.antal, volumes.antal, 0) as antal
        from int_deliveries_current
        left join participants using (delivery_id)
        left join volumes using (delivery_id)
    ),
    sequenced as (
        select *,
               lag(antal) over periods as previous_count,
               lag(period) over periods as previous_period
        from counted
        window periods as (partition by association_code, intervention_code, kind order by period_end, period_start)
    ),
    final as (
        select delivery_id, -1 as source_row, association_code, intervention_code, kind, period,
               cast(antal as integer) as antal, cast(previous_count as integer) as previous_count, previous_period,
               ? as factor,
               case when previous_count is not null then
                   greatest(antal, previous_count) / greatest(least(antal, previous_count), 1) <= ?
               end as _count_jump_ok
        from sequenced
    )
    select * from final order by association_code, intervention_code, kind, period
"""


def jump_factor(settings: Settings | None = None) -> float:
    settings = settings or load_settings()
    if settings.jump_factor is not None:  # FINSAM_JUMP_FACTOR
        return settings.jump_factor
    value = settings.extra.get("jump_factor")
    return float(value) if value else DEFAULT_JUMP_FACTOR


def _flags_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """GX skips missing values: flags that do not apply to a row are None, not False."""
    for name in frame.columns:
        if name.startswith("_"):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def fact_frames(con: duckdb.DuckDBPyConnection, factor: float) -> dict[str, pd.DataFrame]:
    """The rows each final suite validates, computed in the warehouse. No person keys."""
    participation = con.execute(PARTICIPATION_SQL).df()
    counts = con.execute(COUNTS_SQL, [factor, factor]).df()
    counts["factor"] = counts["factor"].map(lambda v: f"{v:g}")
    return {
        "fct_participation.final": _flags_as_objects(participation),
        "participant_counts.final": _flags_as_objects(counts),
    }


def missing_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    found = {
        f"{schema}.{name}"
        for schema, name in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    return [name for name in REQUIRED_RELATIONS if name not in found]


# Associations whose verdicts a change in the queued ones can alter: those with an episode of a person
# who also has one in a queued association (the parallel-episodes check crosses associations).
LINKED_SQL = """
    with keyed as (
        select distinct association_code, person_key from marts.fct_participation
        where person_key is not null and not is_anonymous
    )
    select distinct other.association_code
    from keyed as changed
    inner join keyed as other using (person_key)
    where changed.association_code in (select unnest(?::varchar[]))
"""

# The failing final results stored from earlier runs, by association.
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
    """(delivery, expectation, number of failing rows) per association, from the SQL flags."""
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
    one whose failures by the SQL flags differ from its stored failures (a parallel episode in a
    queued association appeared or went away). Any other association keeps its stored results:
    GX would give the same verdicts. (If the two counts disagreed for another reason, the
    association would only be validated again, never skipped wrongly.)"""
    if queued_codes is None:
        return list(registry.codes)
    linked = {row[0] for row in con.execute(LINKED_SQL, [queued_codes]).fetchall()}
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
        frames = {} if nothing_to_do else fact_frames(con, jump_factor(settings))  # SQL: cheap; GX is what costs
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
