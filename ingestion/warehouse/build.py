"""Step 5: build the standardised facts and marts with dbt (dbt-duckdb by default)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

from ingestion.core.config import Settings
from ingestion.warehouse.queue import EVERY_ASSOCIATION, dequeue, queue_build, queued

log = logging.getLogger(__name__)


class BuildError(RuntimeError):
    pass


@contextmanager
def _dbt_env(settings: Settings):
    target_dir = settings.home / "dbt" / "target"
    values = {
        "FINSAM_WAREHOUSE": str(settings.warehouse),
        "DBT_TARGET_PATH": str(target_dir),
        "DBT_LOG_PATH": str(settings.home / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "true",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield target_dir
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_target(settings: Settings) -> str:
    return settings.dbt_target


def dbt_vars(settings: Settings) -> dict:
    """The settings that change what the models compute, as dbt vars (defaults: dbt_project.yml).

    Passed to every dbt command, and part of the project's fingerprint: a changed value rebuilds
    every model."""
    values: dict = {}
    if settings.reference_checks:
        # Reconciliation with the real reports' figures (docs: reference-figures); sample county only.
        values["reference_checks"] = True
    if settings.min_count is not None:  # FINSAM_MIN_COUNT
        values["finsam_suppression_threshold"] = settings.min_count
    if settings.jump_factor is not None:  # FINSAM_JUMP_FACTOR: the checks on the built facts
        values["finsam_jump_factor"] = settings.jump_factor
    # FINSAM_OVERDUE_DAYS: period_completeness's due dates (delivery_status reads the tracking run's row)
    values["finsam_overdue_days"] = settings.overdue_days
    return values


# dbt's parsed project, for the commands that follow (a project, target and vars parsed once:
# `dbtRunner(manifest=...)`, dbt's documented way to run several commands on one parse). Keyed by
# everything the parse reads: the project's files (its fingerprint, with the dbt version and vars),
# its folder, the target and the database and schema the nodes are placed in; not by the
# warehouse's folder, which the nodes do not name. Kept in the process (_PARSED) and between
# processes in Settings.dbt_parse_cache (one file per key, dbt's own msgpack form of the manifest:
# the project's code, no data), so a new process or a new warehouse folder (every Airflow task, a
# county's first run) starts from it instead of parsing again; a file that cannot be read is parsed
# again and replaced. dbt's own partial parsing only serves one warehouse path (its check includes
# the connection's path).
_PARSED: dict[tuple, object] = {}
_PARSED_KEPT = 4
_PARSE_FILES_KEPT = 8
_PARSED_LOCK = threading.Lock()


def _parse_key(settings: Settings, target: str) -> tuple:
    if target == "postgres":
        place = (settings.pg_host, settings.pg_port, settings.pg_dbname, settings.pg_schema, settings.pg_user)
    else:
        place = (settings.warehouse.stem,)  # dbt-duckdb's database: the file's name
    return (project_fingerprint(settings), str(settings.dbt_project), target, place)


def _parse_file(settings: Settings, key: tuple) -> Path | None:
    if settings.dbt_parse_cache is None:
        return None
    return settings.dbt_parse_cache / f"{hashlib.sha256(repr(key).encode()).hexdigest()}.msgpack"


def _saved_parse(settings: Settings, key: tuple):
    """The parsed project kept for `key` by an earlier process, None if there is none or it cannot
    be read (then the caller parses)."""
    path = _parse_file(settings, key)
    if path is None or not path.is_file():
        return None
    try:
        from dbt.contracts.graph.manifest import Manifest
        from dbt.parser.manifest import extended_mashumuro_decoder

        manifest = Manifest.from_msgpack(path.read_bytes(), decoder=extended_mashumuro_decoder)
        # as dbt does with its own saved parse: this run's time and invocation, not the parse's
        from dbt_common.events.functions import get_invocation_id

        manifest.metadata.generated_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        manifest.metadata.invocation_id = get_invocation_id()
        manifest.build_flat_graph()
        return manifest
    except Exception as exc:  # noqa: BLE001 - any unreadable file is parsed again
        log.info("dbt: den sparade tolkningen %s kunde inte läsas (%s); projektet tolkas igen", path.name, exc)
        return None


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile by another process's pruning
        return 0.0


def _save_parse(settings: Settings, key: tuple, manifest) -> None:
    """Keep the parsed project for other processes (written whole, then renamed into place: a
    reader sees the old file or the new one). A cache that cannot be written is only logged."""
    path = _parse_file(settings, key)
    if path is None:
        return
    try:
        from dbt.parser.manifest import extended_mashumaro_encoder

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            partial.write_bytes(manifest.to_msgpack(extended_mashumaro_encoder))
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        # the project's earlier versions: the newest few are kept (a deployment going back finds its own)
        kept = sorted(path.parent.glob("*.msgpack"), key=_modified, reverse=True)
        for old in kept[_PARSE_FILES_KEPT:]:
            old.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001 - the parse is still used by this process
        log.info("dbt: tolkningen kunde inte sparas i %s (%s)", path.parent, exc)


def invoke(settings: Settings, *args: str, target: str | None = None) -> object:
    """A dbt command on the project as the pipeline runs it (the settings' target, vars, folders and
    kept parse); dbt's result, failed or not (`dbt()` raises on a failure)."""
    from dbt.cli.main import dbtRunner

    target = target or dbt_target(settings)
    project = settings.dbt_project
    values = dbt_vars(settings)
    extra = ["--vars", json.dumps(values, sort_keys=True)] if values else []
    common = ["--project-dir", str(project), "--profiles-dir", str(project), "--target", target, "--quiet"]
    reuse = args[:1] != ("parse",) and "--vars" not in args
    with _PARSED_LOCK, _dbt_env(settings):
        key = _parse_key(settings, target) if reuse else None
        manifest = _PARSED.get(key) if reuse else None
        if reuse and manifest is None:
            manifest = _saved_parse(settings, key)
            if manifest is None:
                # the command run on it writes manifest.json, or leaves it as an incremental build does
                parsed = dbtRunner().invoke(["parse", "--no-write-json", *extra, *common])
                if parsed.success:
                    manifest = parsed.result
                    _save_parse(settings, key, manifest)
            if manifest is not None:
                _PARSED[key] = manifest
                while len(_PARSED) > _PARSED_KEPT:
                    _PARSED.pop(next(iter(_PARSED)))
        return dbtRunner(manifest=manifest).invoke([*args, *extra, *common])


def dbt(settings: Settings, *args: str, target: str | None = None) -> object:
    """A dbt command (`invoke`); a failure raises BuildError naming each failed node."""
    result = invoke(settings, *args, target=target)
    if not result.success:
        failures = []
        for item in getattr(result.result, "results", None) or []:
            if getattr(item, "status", None) not in ("success", "pass", "warn", "skipped"):
                failures.append(f"{item.node.name}: {item.status} {(item.message or '')[:300]}")
        raise BuildError(f"dbt {' '.join(args)} misslyckades: " + ("; ".join(failures) or str(result.exception)))
    return result


def project_fingerprint(settings: Settings) -> str:
    """Hash of everything that decides what the models compute: a change means a full refresh."""
    import dbt.version

    digest = hashlib.sha256(f"{dbt.version.__version__}|{dbt_target(settings)}".encode())
    digest.update(json.dumps(dbt_vars(settings), sort_keys=True).encode())
    project = settings.dbt_project
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if relative.parts[0] in ("models", "macros", "seeds", "tests") or relative.name == "dbt_project.yml":
            if path.is_file():
                digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def last_manifest(settings: Settings) -> dict | None:
    """dbt's manifest of the last full build (an incremental build does not rewrite it: the project
    is the same), None before the first build."""
    path = settings.home / "dbt" / "target" / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def build_inputs(settings: Settings) -> list[str] | None:
    """`schema.table` of the sources a stored (not view) model reads, directly or through views,
    other than the raw tables and the build queue (a change to those is queued: `load`, `forget`):
    the load ledger, the registry's associations. From the last full build's manifest (None without
    one). A source only views read (the tracking run's date and the reminders, read by
    `delivery_status` when it is queried) changes no table: a new run date needs no build."""
    manifest = last_manifest(settings)
    if manifest is None:
        return None
    nodes, sources = manifest.get("nodes", {}), manifest.get("sources", {})
    stack = [
        uid
        for uid, node in nodes.items()
        if node.get("resource_type") == "model" and node.get("config", {}).get("materialized") != "view"
    ]
    seen: set[str] = set()
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        stack += nodes.get(uid, {}).get("depends_on", {}).get("nodes", [])
    return sorted(
        f"{sources[uid]['schema']}.{sources[uid]['name']}"
        for uid in seen & set(sources)
        if sources[uid]["schema"] != "raw" and sources[uid]["name"] != "build_queue"
    )


def _inputs_digest(con, tables: list[str] | None) -> str | None:
    """A hash of the rows of `tables` (order aside), None when they are not known."""
    if tables is None:
        return None
    parts = [
        f"{table}:"
        + str(
            con.execute(
                f"select count(*), md5(coalesce(string_agg(h, ',' order by h), '')) "
                f"from (select md5(cast(t as varchar)) as h from {table} t)"
            ).fetchone()
        )
        for table in tables
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _build_plan(settings: Settings) -> dict:
    """What the next build must do: the queued associations, whether it must be a full refresh, and
    whether it can be left out (nothing queued, the same project, and the same other inputs of the
    stored models as at the last build: it would build the same tables)."""
    from ingestion.warehouse.schema import connect, ensure_schema

    fingerprint = project_fingerprint(settings)
    if not settings.warehouse.exists():
        return {
            "full": True,
            "associations": [],
            "queued_until": None,
            "fingerprint": fingerprint,
            "inputs": None,
            "unchanged": False,
        }
    con = connect(settings)
    try:
        ensure_schema(con)  # every table a model reads exists (the models have no fallbacks)
        codes, until = queued(con, "build")
        last = con.execute(
            "select project_fingerprint, inputs_digest from meta.build_state order by built_at desc limit 1"
        ).fetchone()
        inputs = _inputs_digest(con, build_inputs(settings))
    finally:
        con.close()
    full = last is None or last[0] != fingerprint or codes is None
    return {
        "full": full,
        "associations": codes or [],
        "queued_until": until,
        "fingerprint": fingerprint,
        "inputs": inputs,
        "unchanged": not full and not codes and inputs is not None and inputs == last[1],
    }


def _record_build(settings: Settings, plan: dict) -> None:
    from ingestion.warehouse.schema import connect

    con = connect(settings)
    try:
        # the inputs as this build read them, by the manifest it ran on (before a first build there is
        # none to read them by: recorded now, the next run with nothing new is left out too)
        inputs = _inputs_digest(con, build_inputs(settings))
        con.execute("begin transaction")
        dequeue(con, "build", plan["queued_until"])
        # validate_facts checks, and publish_marts copies, what this build changed (all after a full build).
        changed = [EVERY_ASSOCIATION] if plan["full"] else plan["associations"]
        queue_build(con, changed, "bygge", stage="facts")
        queue_build(con, changed, "bygge", stage="publish")
        con.execute(
            "insert into meta.build_state (built_at, project_fingerprint, full_refresh, associations, inputs_digest) "
            "values (current_timestamp, ?, ?, ?, ?)",
            [plan["fingerprint"], plan["full"], ",".join(plan["associations"]), inputs],
        )
        con.execute("commit")
    finally:
        con.close()


def build_marts(settings: Settings, *, docs: bool = True, full_refresh: bool = False) -> dict:
    """`dbt build` (models, seeds, tests), then `dbt docs generate` into the publish zone.

    Incremental: the large models recompute only the associations queued in meta.build_queue
    (see dbt_project/macros/incremental.sql). A changed dbt project (models, macros, seeds,
    tests, dbt version) or `full_refresh` rebuilds everything, and regenerates the dbt docs;
    an incremental build keeps the docs it has (they describe the project, not the rows).
    Nothing queued, the same project and the same other inputs of the stored models (ledger,
    registry) as at the last build, a run with nothing new: dbt is not run, it would build the same
    tables (`unchanged`); its data tests ran on them at that build.

    With FINSAM_DBT_TARGET=postgres the marts are built in PostgreSQL: `load` keeps writing the
    DuckDB raw zone tables, which are copied to PostgreSQL's `raw` and `meta` schemas first.
    """
    plan = _build_plan(settings)
    plan["full"] = plan["full"] or full_refresh
    out = settings.publish / "dbt-docs"
    docs_missing = docs and not (out / "index.html").exists()
    if plan["unchanged"] and not full_refresh and not docs_missing:
        _record_build(settings, plan)  # the run's build step, done: nothing queued for facts or publish
        log.info("dbt build: inget nytt sedan förra bygget, modellerna är oförändrade")
        return {"full_refresh": False, "associations": [], "unchanged": True}
    if dbt_target(settings) == "postgres":
        from ingestion.warehouse.postgres import copy_schemas_to_postgres

        copy_schemas_to_postgres(settings, settings.warehouse_postgres_dsn)
    # Seeds and unit tests change only with the project (which makes a build full): an incremental
    # build skips them. Every data test runs on every build.
    # Nor does it rewrite manifest.json (publish reads the incremental models from the full build's).
    options = (
        ["--full-refresh"]
        if plan["full"]
        else ["--exclude-resource-type", "unit_test", "--exclude-resource-type", "seed", "--no-write-json"]
    )
    result = dbt(settings, "build", *options)
    _record_build(settings, plan)
    counts: dict[str, int] = {}
    for item in result.result.results:
        counts[str(item.status)] = counts.get(str(item.status), 0) + 1
    if docs and (plan["full"] or docs_missing):
        dbt(settings, "docs", "generate")
        target = settings.home / "dbt" / "target"
        out.mkdir(parents=True, exist_ok=True)
        for name in ("index.html", "manifest.json", "catalog.json"):
            if (target / name).exists():
                shutil.copyfile(target / name, out / name)
    log.info(
        "dbt build: %s, associations %s",
        "full refresh" if plan["full"] else "incremental",
        ",".join(plan["associations"]) or "-",
    )
    return {**counts, "full_refresh": plan["full"], "associations": plan["associations"], "unchanged": False}
