"""Step 5b: validate the built facts with Great Expectations, after the warehouse is built.

Landing suites see one delivery at a time; some problems only show across deliveries,
interventions or periods. They are computed here in SQL on the warehouse (DuckDB), read
into pandas, and checked with the GX suites `expectations/*.final.json` on GX's pandas path
(GX's SQL data source does not work on DuckDB here):

| suite | row | check |
|---|---|---|
| `fct_participation.final` | current version of each episode | ended in an earlier delivery but active again in a later one; active in two interventions of the same inriktning at once; episodes in a count-only (VOLYM) intervention |
| `participant_counts.final` | (association, intervention, kind, period) | the count jumps by more than `FINSAM_JUMP_FACTOR` (default 3) from the previous period |

Each association's rows are validated in that association's GX project, so its Data Docs
show landing and final results together; every Data Docs site is rebuilt each run.
Results replace the previous run's final results in `meta.validation_results`: failing
rows as delivery and row numbers only (never a person key), plus one passing row per
expectation that found nothing.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from .config import Settings
from .findings import Finding
from .registry import Registry
from .validate import INDEX_COLUMNS, Context, _findings_from_result, _run_suite, load_suite, refresh_data_docs

log = logging.getLogger(__name__)
FACT_SUITES = ("fct_participation.final", "participant_counts.final")
DEFAULT_JUMP_FACTOR = 3.0

# The association's current register: its latest insatser delivery (latest period, then latest received).
REGISTERS_SQL = """
    with ranked as (
        select distinct association_code, delivery_id, period_end, received_at from raw.insatser
    ),
    latest as (
        select association_code, delivery_id from ranked
        qualify row_number() over (partition by association_code order by period_end desc, received_at desc) = 1
    )
    select insatser.association_code, upper(insatser.insats_kod) as intervention_code,
           any_value(insatser.inriktning) as inriktning, any_value(insatser.matmetod) as matmetod
    from raw.insatser as insatser
    inner join latest using (association_code, delivery_id)
    where insatser.insats_kod is not null
    group by all
"""

PARTICIPATION_SQL = f"""
    with versions as (
        select delivery_id, source_row, association_code, intervention_code, period, period_end, received_at,
               person_key, startdatum, slutdatum, avslutsanledning,
               row_number() over (partition by association_code, intervention_code, person_key, startdatum
                                  order by period_end desc, received_at desc) as version
        from raw.deltagare
        where person_key is not null and startdatum is not null
    ),
    current_episodes as (
        select * from versions where version = 1
    ),
    registers as ({REGISTERS_SQL}),
    reopened as (
        select current_episodes.delivery_id, current_episodes.source_row,
               arg_max(earlier.period, earlier.period_end) as ended_in_period,
               arg_max(earlier.slutdatum, earlier.period_end) as ended_on
        from current_episodes
        inner join versions as earlier
            on earlier.association_code = current_episodes.association_code
            and earlier.intervention_code = current_episodes.intervention_code
            and earlier.person_key = current_episodes.person_key
            and earlier.startdatum = current_episodes.startdatum
            and earlier.period_end < current_episodes.period_end
            and earlier.slutdatum is not null
        where current_episodes.slutdatum is null
        group by all
    ),
    counted_episodes as (
        select current_episodes.*, registers.inriktning
        from current_episodes
        inner join registers using (association_code, intervention_code)
        where coalesce(current_episodes.avslutsanledning, '') != 'FELREG'
    ),
    parallel as (
        select episode.delivery_id, episode.source_row, count(*) as parallel_count
        from counted_episodes as episode
        inner join counted_episodes as other
            on other.person_key = episode.person_key
            and other.inriktning = episode.inriktning
            and (other.association_code != episode.association_code
                 or other.intervention_code != episode.intervention_code)
            and episode.startdatum < coalesce(other.slutdatum, date '9999-12-31')
            and other.startdatum < coalesce(episode.slutdatum, date '9999-12-31')
        group by all
    ),
    latest_deliveries as (
        select delivery_id from (select distinct association_code, intervention_code, delivery_id, period_end,
                                 received_at from raw.deltagare)
        qualify row_number() over (partition by association_code, intervention_code
                                   order by period_end desc, received_at desc) = 1
    ),
    anonymous_rows as (
        select deltagare.delivery_id, deltagare.source_row, deltagare.association_code,
               deltagare.intervention_code, deltagare.period
        from raw.deltagare as deltagare
        inner join latest_deliveries using (delivery_id)
        where deltagare.person_key is null
    ),
    episodes as (
        select delivery_id, source_row, association_code, intervention_code, period, true as keyed
        from current_episodes
        union all
        select delivery_id, source_row, association_code, intervention_code, period, false as keyed
        from anonymous_rows
    ),
    final as (
        select episodes.delivery_id, episodes.source_row, episodes.association_code, episodes.intervention_code,
               episodes.period,
               reopened.ended_in_period, strftime(reopened.ended_on, '%Y-%m-%d') as ended_on,
               case when episodes.keyed then reopened.delivery_id is null end as _not_reopened,
               registers.inriktning, parallel.parallel_count,
               case when episodes.keyed and registers.inriktning is not null
                    then parallel.delivery_id is null end as _no_parallel_same_kind,
               coalesce(registers.matmetod, 'PERSON') != 'VOLYM' as _person_level_intervention
        from episodes
        left join reopened using (delivery_id, source_row)
        left join parallel using (delivery_id, source_row)
        left join registers using (association_code, intervention_code)
    )
    select * from final order by association_code, intervention_code, delivery_id, source_row
"""

COUNTS_SQL = """
    with delivered as (
        select delivery_id, association_code, intervention_code, 'deltagare' as kind, period, period_start,
               period_end, received_at,
               count(*) filter (where startdatum <= period_end
                                  and (slutdatum is null or slutdatum >= period_start)
                                  and coalesce(avslutsanledning, '') != 'FELREG') as antal
        from raw.deltagare
        group by all
        union all
        select delivery_id, association_code, intervention_code, 'volym' as kind, period, period_start,
               period_end, received_at, coalesce(sum(antal), 0) as antal
        from raw.volym
        group by all
    ),
    current_deliveries as (
        select * from delivered
        qualify row_number() over (partition by association_code, intervention_code, kind, period
                                   order by received_at desc, delivery_id) = 1
    ),
    sequenced as (
        select *,
               lag(antal) over periods as previous_count,
               lag(period) over periods as previous_period
        from current_deliveries
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
    value = os.environ.get("FINSAM_JUMP_FACTOR") or (settings.extra.get("jump_factor") if settings else None)
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
    return {"fct_participation.final": _flags_as_objects(participation),
            "participant_counts.final": _flags_as_objects(counts)}


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    found = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                       "where table_schema = 'raw'").fetchall()}
    return {"deltagare", "insatser", "volym"} <= found


def validate_frames(frames: dict[str, pd.DataFrame], registry: Registry, gx_root: Path, ctx: Context,
                    docs: bool = True) -> dict[str, list[tuple[str, Finding]]]:
    """Run each final suite per association (in its GX project); (delivery_id, finding) per suite."""
    found: dict[str, list[tuple[str, Finding]]] = {suite: [] for suite in frames}
    for suite, frame in frames.items():
        for association in registry.codes:
            rows = frame[frame["association_code"].eq(association)].reset_index(drop=True)
            if rows.empty:
                continue
            result = _run_suite(gx_root / association, suite, rows, ctx, docs)
            found[suite] += _findings_from_result(suite, result, rows, ctx)
    return found


def result_rows(found: dict[str, list[tuple[str, Finding]]]) -> list[tuple]:
    """meta.validation_results rows: failing groups per (delivery, expectation), else one passing row."""
    rows = []
    for suite, items in found.items():
        grouped: dict[tuple[str, str], list[Finding]] = {}
        for delivery_id, finding in items:
            grouped.setdefault((delivery_id, finding.check), []).append(finding)
        for (delivery_id, check), findings in sorted(grouped.items()):
            failing = sorted({f.row for f in findings if f.row is not None})
            rows.append((delivery_id, suite, check, findings[0].severity, False,
                         json.dumps({"antal": len(findings)}), failing, findings[0].message_sv))
        failed_checks = {check for _, check in grouped}
        for item in load_suite(suite)["expectations"]:
            check = f"{suite}:{item['type']}:{item['kwargs'].get('column')}"
            if check not in failed_checks:
                rows.append((None, suite, check, item["meta"].get("severity"), True, json.dumps({"antal": 0}), [],
                             None))
    return rows


def run_facts_validation(settings: Settings, registry: Registry, *, as_of: date | None = None,
                         docs: bool = True) -> dict:
    """Validate the facts in the warehouse; store results; rebuild Data Docs. Returns counts."""
    from .load import connect, ensure_schema

    ctx = Context(as_of=as_of or date.today(), overspend_share=settings.overspend_share)
    con = connect(settings)
    try:
        ensure_schema(con)
        frames = fact_frames(con, jump_factor(settings)) if _has_tables(con) else {}
    finally:
        con.close()
    found = validate_frames(frames, registry, settings.gx_root, ctx, docs)
    rows = result_rows(found) if found else []
    con = connect(settings)
    try:
        con.execute("begin transaction")
        con.execute("delete from meta.validation_results where suite in (select unnest(?::varchar[]))",
                    [list(FACT_SUITES)])
        if rows:
            con.executemany("insert into meta.validation_results values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("commit")
    finally:
        con.close()
    if docs:
        for association in registry.codes:
            refresh_data_docs(settings.gx_root / association)
    summary = {suite: {"rows": len(frames.get(suite, ())), "failing": len(found.get(suite, ()))} for suite in FACT_SUITES}
    summary["warnings"] = sum(1 for items in found.values() for _, f in items if f.severity == "warning")
    summary["blocking"] = sum(1 for items in found.values() for _, f in items if f.severity == "blocking")
    return summary
