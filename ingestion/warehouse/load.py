"""Step 4: load accepted deliveries from the raw zone into the warehouse's raw schema.

The only writer of the DuckDB warehouse besides dbt (the DAG serialises both through one
pool slot). Everything not yet in `meta.load_ledger` is loaded in ONE transaction: a crash
half-way leaves the warehouse as it was, and the next run loads it all. Re-running loads
nothing twice: the ledger is keyed on the delivery's SHA-256.
"""

from __future__ import annotations

import json

import duckdb

from ingestion.core.config import Settings
from ingestion.core.contract import PERSON_KINDS
from ingestion.core.rawzone import Landed, all_landed, current_registers, erased_keys, utc_timestamp
from ingestion.core.registry import Registry
from ingestion.warehouse.queue import queue_build
from ingestion.warehouse.schema import connect, ensure_schema, kind_columns


def _select_sql(kind: str) -> str:
    parts = []
    for name, sql_type in kind_columns(kind):
        if name == "is_anonymous":
            parts.append("coalesce(is_anonymous, false)")
        elif sql_type == "boolean":
            parts.append(f"case upper({name}) when 'J' then true when 'N' then false end")
        elif sql_type == "varchar":
            parts.append(f"cast({name} as varchar)")
        else:
            parts.append(f"try_cast({name} as {sql_type})")
    return ", ".join(parts)


LOAD_BATCH = 1000  # deliveries of one kind inserted by one statement


def _insert_delivery(con: duckdb.DuckDBPyConnection, landed: Landed) -> int:
    return _insert_deliveries(con, landed.manifest["kind"], [landed]).get(landed.delivery_id, 0)


def _insert_deliveries(con: duckdb.DuckDBPyConnection, kind: str, batch: list[Landed]) -> dict[str, int]:
    """Insert the rows of many deliveries of one kind in one statement; returns rows per delivery."""
    present = [l for l in batch if (l.directory / "data.parquet").exists()]
    if not present:
        return {}
    import pyarrow as pa

    m = [l.manifest for l in present]
    deliveries = pa.table(
        {
            "file": [str(l.directory / "data.parquet") for l in present],
            "delivery_id": [x["delivery_id"] for x in m],
            "association": [x["association"] for x in m],
            "intervention": [x["intervention"] for x in m],
            "period": [x["period"] for x in m],
            "period_start": [x["period_start"] for x in m],
            "period_end": [x["period_end"] for x in m],
            "received_at": [utc_timestamp(x["received_at"]) for x in m],
        }
    )
    con.register("_deliveries", deliveries)
    try:
        files = [str(l.directory / "data.parquet") for l in present]
        con.execute(
            f"""
            insert into raw.{kind}
            select d.delivery_id, d.association, d.intervention, d.period, cast(d.period_start as date),
                   cast(d.period_end as date), cast(d.received_at as timestamp), source_row, {_select_sql(kind)}
            from read_parquet(?, filename = true, union_by_name = true) p
            join _deliveries d on d.file = p.filename""",
            [files],
        )
        counts = dict(
            con.execute(
                f"select delivery_id, count(*) from raw.{kind} where delivery_id in "
                "(select delivery_id from _deliveries) group by 1"
            ).fetchall()
        )
    finally:
        con.unregister("_deliveries")
    return counts


def _validation_rows(landed: Landed, validation: dict) -> list[tuple]:
    """One row per (check, severity): every failing row (all rows of a grouped finding) and up
    to 20 distinct delivered values (never a personnummer: values are scrubbed when landed)."""
    from ingestion.core.findings import Finding, group_findings

    grouped: dict[tuple, dict] = {}
    for f in group_findings([Finding.from_dict(f) for f in validation.get("findings", [])]):
        check = f.check or ""
        suite = check.split(":")[0] if ":" in check else "landning"
        key = (suite, check, f.severity)
        entry = grouped.setdefault(key, {"rows": set(), "message": f.message_sv, "observed": []})
        entry["rows"].update(f.row_numbers)
        if (
            f.value
            and len(entry["observed"]) < 20
            and f.column != "personnummer"
            and str(f.value) not in entry["observed"]
        ):
            entry["observed"].append(str(f.value))
    rows = [
        (
            landed.delivery_id,
            suite,
            check,
            severity,
            False,
            json.dumps(e["observed"], ensure_ascii=False),
            sorted(e["rows"]),
            e["message"],
        )
        for (suite, check, severity), e in grouped.items()
    ]
    if not rows:
        rows.append((landed.delivery_id, f"{landed.manifest['kind']}.landing", "alla", None, True, None, [], None))
    return rows


def load_registry_table(con: duckdb.DuckDBPyConnection, registry: Registry) -> None:
    con.execute("delete from meta.registry_associations")
    con.executemany(
        "insert into meta.registry_associations values (?, ?, ?, ?, ?)",
        [(a.code, a.name, a.county, ",".join(a.municipalities), a.data_team_email) for a in registry.associations],
    )


def load_current_registers(con: duckdb.DuckDBPyConnection, landed: list[Landed]) -> None:
    """Each association's current register delivery (rawzone.current_registers, the rule the
    landing checks use), for dim_intervention."""
    con.execute("delete from meta.current_registers")
    rows = [
        (association, l.delivery_id, l.manifest["period_end"], utc_timestamp(l.manifest["received_at"]))
        for association, l in sorted(current_registers(landed).items())
    ]
    if rows:  # none before the first register is delivered
        con.executemany("insert into meta.current_registers values (?, ?, cast(? as date), cast(? as timestamp))", rows)


def load_events(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """Append new lines of every association's event log (duplicates, bad names)."""
    count = 0
    for log_file in settings.raw.glob("*/_events.jsonl"):
        for line in log_file.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            exists = con.execute(
                "select count(*) from meta.delivery_events where event_at = ? and file_name = ? and event = ?",
                [e["event_at"], e["file_name"], e["event"]],
            ).fetchone()[0]
            if not exists:
                con.execute(
                    "insert into meta.delivery_events values (?, ?, ?, ?, ?, ?)",
                    [e["event_at"], e["association"], e["file_name"], e.get("sha256"), e["event"], e["message_sv"]],
                )
                count += 1
    return count


def load_warehouse(settings: Settings, registry: Registry) -> dict:
    """Load every validated delivery not yet in the ledger. Returns counts per status."""
    con = connect(settings)
    summary = {"loaded": 0, "rows": 0, "quarantined": 0, "already_loaded": 0}
    try:
        con.execute("begin transaction")
        ensure_schema(con)
        load_registry_table(con, registry)
        loaded = {row[0] for row in con.execute("select delivery_id from meta.load_ledger").fetchall()}
        erased = erased_keys(settings)
        ledger_rows: list[tuple] = []
        result_rows: list[tuple] = []
        to_insert: dict[str, list[Landed]] = {}
        landed_all = all_landed(settings)
        for landed in landed_all:
            validation = landed.validation()
            if validation is None:
                continue  # landed but not validated yet: the next process step validates it
            if landed.delivery_id in loaded:
                summary["already_loaded"] += 1
                continue
            status = validation["status"]
            if status in ("accepted", "accepted_with_warnings"):
                to_insert.setdefault(landed.manifest["kind"], []).append(landed)
                summary["loaded"] += 1
            else:
                summary["quarantined"] += 1
            m = landed.manifest
            reason = m.get("unreadable") or _reason(validation)
            ledger_rows.append(
                (
                    m["delivery_id"],
                    m["association"],
                    m["intervention"],
                    m["kind"],
                    m["period"],
                    m["file_name"],
                    m["sha256"],
                    m["size_bytes"],
                    m["rows_read"],
                    m["rows_kept"],
                    m["rows_dropped"],
                    utc_timestamp(m["received_at"]),
                    status,
                    reason,
                    m.get("replay_of"),
                    m.get("replay_reason"),
                )
            )
            result_rows += _validation_rows(landed, validation)
        # All new deliveries of one kind in a few statements (not four statements per delivery).
        for kind, group in to_insert.items():
            for start in range(0, len(group), LOAD_BATCH):
                chunk = group[start : start + LOAD_BATCH]
                summary["rows"] += sum(_insert_deliveries(con, kind, chunk).values())
                if erased and kind in PERSON_KINDS:  # deltagare, uppfoljning
                    con.execute(
                        f"delete from raw.{kind} where delivery_id in (select unnest(?::varchar[])) and "
                        "person_key in (select unnest(?::varchar[]))",
                        [[l.delivery_id for l in chunk], sorted(erased)],
                    )
        _insert_rows(
            con,
            "meta.load_ledger",
            ledger_rows,
            [
                "delivery_id",
                "association_code",
                "intervention_code",
                "kind",
                "period",
                "file_name",
                "sha256",
                "size_bytes",
                "rows_read",
                "rows_kept",
                "rows_dropped",
                "received_at",
                "status",
                "reason",
                "replay_of",
                "replay_reason",
            ],
            "delivery_id, association_code, intervention_code, kind, period, file_name, sha256, size_bytes, "
            "rows_read, rows_kept, rows_dropped, cast(received_at as timestamp), status, reason, now(), "
            "replay_of, replay_reason",
            into="delivery_id, association_code, intervention_code, kind, period, file_name, sha256, "
            "size_bytes, rows_read, rows_kept, rows_dropped, received_at, status, reason, loaded_at, "
            "replay_of, replay_reason",
        )
        _insert_rows(
            con,
            "meta.validation_results",
            result_rows,
            ["delivery_id", "suite", "expectation", "severity", "passed", "observed", "failing_rows", "message_sv"],
            "*",
        )
        load_current_registers(con, landed_all)
        load_events(con, settings)
        # The next build recomputes these associations' rows (dbt_project/macros/incremental.sql).
        queue_build(con, [l.manifest["association"] for group in to_insert.values() for l in group], "leverans")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.close()
    return summary


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[tuple],
    names: list[str],
    select: str,
    into: str | None = None,
) -> None:
    """Many rows in one statement, through an Arrow table (executemany is one round trip a row)."""
    if not rows:
        return
    import pyarrow as pa

    types = {
        "size_bytes": pa.int64(),
        "rows_read": pa.int64(),
        "rows_kept": pa.int64(),
        "rows_dropped": pa.int64(),
        "passed": pa.bool_(),
        "failing_rows": pa.list_(pa.int32()),
    }
    columns = list(zip(*rows))
    frame = pa.table(
        {name: pa.array(list(values), type=types.get(name, pa.string())) for name, values in zip(names, columns)}
    )
    con.register("_rows", frame)
    try:
        con.execute(f"insert into {table}{f' ({into})' if into else ''} select {select} from _rows")
    finally:
        con.unregister("_rows")


def _reason(validation: dict) -> str | None:
    blocking = [f for f in validation.get("findings", []) if f.get("severity") == "blocking"]
    if not blocking:
        return None
    from ingestion.core.findings import Finding

    rows = Finding.from_dict(blocking[0]).rows_sv(listed=3)  # "rad 4", "rad 3, 5, 8 … och 16 till (19 rader)"
    first = blocking[0]
    where = f"{rows}: " if rows else ""
    more = f" (+{len(blocking) - 1} fel till)" if len(blocking) > 1 else ""
    return f"{where}{first['message_sv']}{more}"
