"""`finsam forget`: erase a person who has withdrawn consent, everywhere the pipeline keeps data.

Given a personnummer (never stored, never printed) or a person key:

1. the key is added to `raw/_erased_keys.txt` first, so nothing can bring the person back:
   `land` drops the person's rows from every later delivery, `load` from every raw copy;
2. the raw zone: every `data.parquet` holding the key is rewritten without those rows (the
   one exception to the raw zone's immutability; written beside it, then renamed into place);
3. the quarantine: pseudonymised copies lose the rows; an original file (no personnummer,
   only the project's own pseudonym) is replaced by its pseudonymised copy without the person;
4. the warehouse: the rows leave `raw.deltagare` and every other table with a person_key,
   the erasure is recorded in `meta.erasures` (when, how many rows, the key's first 8
   characters), and the marts are rebuilt and republished.

Safe to run again: a second run finds nothing more and records a second, empty erasure.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.core.config import REPO_ROOT, Settings
from ingestion.core.contract import PERSON_KINDS
from ingestion.core.rawzone import Landed, all_landed, write_json_atomic
from ingestion.intake import pseudonymize as pz
from ingestion.intake.discover import sha256_file
from ingestion.warehouse.queue import EVERY_ASSOCIATION, queue_build

log = logging.getLogger(__name__)
PREFIX = 8


class ForgetError(ValueError):
    """The input names no person (the message never repeats it)."""


def _key(settings: Settings, given: str) -> str:
    given = given.strip()
    if not given:
        raise ForgetError("ange ett personnummer eller en personnyckel")
    shaped_as_key = len(given) == pz.KEY_LENGTH and all(c in "0123456789abcdef" for c in given)
    key = pz.key_for_input(b"" if shaped_as_key else settings.secret(), given)
    if key is None:
        raise ForgetError(
            "det angivna är varken ett giltigt personnummer/samordningsnummer (kontrollsiffran "
            f"stämmer inte) eller en personnyckel ({pz.KEY_LENGTH} tecken 0-9, a-f)"
        )
    return key


def _without(table: pa.Table, key: str) -> pa.Table:
    keep = pc.fill_null(pc.not_equal(table["person_key"], key), True)
    return table.filter(keep)


def _erase_raw(landed: Landed, key: str, now: str) -> int:
    """Rewrite one delivery's data.parquet without the person; returns rows removed."""
    data = landed.directory / "data.parquet"
    if landed.manifest.get("kind") not in PERSON_KINDS or not data.exists():  # deltagare, uppfoljning
        return 0
    keys = pq.read_table(data, columns=["person_key"])["person_key"]
    found = pc.sum(pc.equal(keys, key)).as_py() or 0
    if not found:
        return 0
    table = pq.read_table(data)
    part = data.with_name(".data.parquet.erasing")
    pq.write_table(_without(table, key), part)
    os.replace(part, data)
    manifest = dict(landed.manifest)
    manifest["rows_kept"] = max(int(manifest.get("rows_kept", 0)) - found, 0)
    manifest.setdefault("erasures", []).append({"erased_at": now, "rows": found})
    write_json_atomic(landed.directory / "manifest.json", manifest)
    return found


def _erase_quarantine(settings: Settings, key: str, touched: list[Landed]) -> int:
    """Pseudonymised copies lose the person's rows; originals of touched deliveries are replaced."""
    import pandas as pd

    removed = 0
    if not settings.quarantine.is_dir():
        return 0
    for copy in sorted(settings.quarantine.glob("*/*.pseudonymiserad.csv")):
        frame = pd.read_csv(copy, sep=";", dtype=str, keep_default_na=False)
        if "person_key" not in frame.columns:
            continue
        hit = frame["person_key"].eq(key)
        if hit.any():
            removed += int(hit.sum())
            part = copy.with_name("." + copy.name + ".erasing")
            frame[~hit].to_csv(part, sep=";", index=False)
            os.replace(part, copy)
    for landed in touched:
        original = settings.quarantine / landed.manifest["association"] / landed.manifest["file_name"]
        if original.is_file() and sha256_file(original) == landed.manifest["sha256"]:
            # The original still names the person (by the project's pseudonym): keep only the
            # pseudonymised copy of what was read, now without the person.
            replacement = original.with_name(original.name + ".pseudonymiserad.csv")
            pq.read_table(landed.directory / "data.parquet").to_pandas().to_csv(replacement, sep=";", index=False)
            original.unlink()
    return removed


def _erase_warehouse(settings: Settings, key: str, raw_rows: int, now: str) -> int:
    """Delete the person from every warehouse table with a person_key; record the erasure."""
    from ingestion.warehouse.schema import connect, ensure_schema

    con = connect(settings)
    try:
        con.execute("begin transaction")
        ensure_schema(con)
        tables = con.execute(
            "select c.table_schema, c.table_name from information_schema.columns c "
            "join information_schema.tables t using (table_catalog, table_schema, table_name) "
            "where c.column_name = 'person_key' and t.table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        removed = 0
        for schema, table in tables:
            count = con.execute(f'select count(*) from "{schema}"."{table}" where person_key = ?', [key]).fetchone()[0]
            if count:
                con.execute(f'delete from "{schema}"."{table}" where person_key = ?', [key])
                if schema == "raw" and table in PERSON_KINDS:
                    removed += count
        con.execute(
            "insert into meta.erasures values (cast(? as timestamp), ?, ?, ?)", [now, key[:PREFIX], raw_rows, removed]
        )
        queue_build(con, [EVERY_ASSOCIATION], "radering")  # every incremental model is recomputed
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.close()
    return removed


def _compact_warehouse(settings: Settings) -> None:
    """Rewrite the warehouse file without free pages: DuckDB keeps deleted rows' bytes in freed
    blocks (CHECKPOINT and VACUUM do not clear them), so the erased person's keys would stay in the
    file. Every table is copied into a new file, which then replaces the old one atomically."""
    from ingestion.warehouse.schema import connect

    target = settings.warehouse
    fresh = target.with_name(target.name + ".compact")
    fresh.unlink(missing_ok=True)
    con = connect(settings)
    try:
        con.execute("checkpoint")
        con.execute(f"attach '{fresh}' as compacted")
        con.execute(f'copy from database "{target.stem}" to compacted')
        con.execute("detach compacted")
    finally:
        con.close()
    os.replace(fresh, target)
    target.with_name(target.name + ".wal").unlink(missing_ok=True)


REBUILD = (
    "from ingestion.core.config import load_settings; from ingestion.warehouse.build import build_marts; "
    "from ingestion.outbound.publish import publish_marts; s = load_settings(); build_marts(s, docs=False); "
    "publish_marts(s)"
)


def _rebuild(settings: Settings) -> str:
    """dbt build + publish, so no table or published copy keeps the person.

    In a fresh process: dbt and DuckDB keep process-wide state (open connections, environment)."""
    if not (settings.dbt_project / "dbt_project.yml").exists():
        return "tabellerna för rapporter byggs om vid nästa körning (dbt-projektet saknas här)"
    env = dict(
        os.environ,
        FINSAM_HOME=str(settings.home),
        FINSAM_LANDING=str(settings.landing),
        FINSAM_WAREHOUSE=str(settings.warehouse),
        FINSAM_REGISTRY=str(settings.registry),
    )
    proc = subprocess.run([sys.executable, "-c", REBUILD], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1].split(":")[0]
        log.error("Ombyggnad efter radering misslyckades: %s", last)
        return (
            f"ombyggnaden av rapporttabellerna misslyckades ({last}); raderna är borta ur datalagret, "
            "kör `finsam run` så byggs tabellerna och den publicerade kopian om"
        )
    return "rapporttabellerna och den publicerade kopian är ombyggda utan personen"


def forget(settings: Settings, given: str) -> str:
    """Erase one person (personnummer or key); returns a Swedish summary without the number."""
    key = _key(settings, given)
    now = datetime.now(UTC).replace(microsecond=0).replace(tzinfo=None).isoformat(sep=" ")
    from ingestion.core.rawzone import append_erased_key, erased_keys_path

    append_erased_key(erased_keys_path(settings), key)  # first: nothing may bring the person back
    raw_rows, touched = 0, []
    for landed in all_landed(settings) if settings.raw.is_dir() else []:
        removed = _erase_raw(landed, key, now)
        if removed:
            raw_rows += removed
            touched.append(landed)
    quarantine_rows = _erase_quarantine(settings, key, touched)
    existed = settings.warehouse.exists()
    try:
        warehouse_rows = _erase_warehouse(settings, key, raw_rows, now)
    except duckdb.IOException:
        raise ForgetError(
            "datalagret används just nu av en annan körning; personen är spärrad och borttagen ur "
            "råzonen, kör samma kommando igen för att radera i datalagret"
        ) from None
    rebuilt = _rebuild(settings) if existed else "inget datalager fanns ännu"
    if existed:
        _compact_warehouse(settings)  # deleted rows leave bytes in freed pages until the file is rewritten
    log.info("Radering av person %s…: %s rader i råzonen, %s i datalagret", key[:PREFIX], raw_rows, warehouse_rows)
    return (
        f"Personen med nyckel {key[:PREFIX]}… är raderad: {raw_rows} rader ur råzonen "
        f"({len(touched)} leveranser), {quarantine_rows} ur karantänen, {warehouse_rows} ur datalagret "
        f"(raw.deltagare); {rebuilt}. Nyckeln är spärrad, så personen tas bort ur varje ny leverans."
    )
