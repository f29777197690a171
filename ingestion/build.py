"""Step 5: build the standardised facts and marts with dbt (dbt-duckdb by default)."""
from __future__ import annotations

import logging
import os
import shutil
from contextlib import contextmanager

from .config import Settings

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


def dbt_target() -> str:
    return os.environ.get("FINSAM_DBT_TARGET", "duckdb")


def warehouse_postgres_dsn() -> str:
    """The PostgreSQL warehouse of the dbt `postgres` target (same FINSAM_PG_* as profiles.yml)."""
    env = os.environ.get
    return (f"host={env('FINSAM_PG_HOST', '127.0.0.1')} port={env('FINSAM_PG_PORT', '5432')} "
            f"user={env('FINSAM_PG_USER', 'postgres')} password='{env('FINSAM_PG_PASSWORD', '')}' "
            f"dbname={env('FINSAM_PG_DBNAME', 'finsam')}")


def dbt(settings: Settings, *args: str, target: str | None = None) -> object:
    from dbt.cli.main import dbtRunner

    target = target or dbt_target()
    project = settings.dbt_project
    extra: list[str] = []
    if args and args[0] in ("build", "test") and os.environ.get("FINSAM_REFERENCE_CHECKS", "0") in ("1", "true"):
        # Reconciliation with the real reports' figures (docs: reference-figures); sample county only.
        extra = ["--vars", '{"reference_checks": true}']
    with _dbt_env(settings):
        result = dbtRunner().invoke([*args, *extra, "--project-dir", str(project), "--profiles-dir", str(project),
                                     "--target", target, "--quiet"])
    if not result.success:
        failures = []
        for item in getattr(result.result, "results", None) or []:
            if getattr(item, "status", None) not in ("success", "pass", "warn", "skipped"):
                failures.append(f"{item.node.name}: {item.status} {(item.message or '')[:300]}")
        raise BuildError(f"dbt {' '.join(args)} misslyckades: " + ("; ".join(failures) or str(result.exception)))
    return result


def build_marts(settings: Settings, *, docs: bool = True) -> dict:
    """`dbt build` (models, seeds, tests), then `dbt docs generate` into the publish zone.

    With FINSAM_DBT_TARGET=postgres the marts are built in PostgreSQL: `load` keeps writing the
    DuckDB raw zone tables, which are copied to PostgreSQL's `raw` and `meta` schemas first.
    """
    if dbt_target() == "postgres":
        from .publish_postgres import copy_schemas_to_postgres

        copy_schemas_to_postgres(settings, warehouse_postgres_dsn())
    result = dbt(settings, "build")
    counts: dict[str, int] = {}
    for item in result.result.results:
        counts[str(item.status)] = counts.get(str(item.status), 0) + 1
    if docs:
        dbt(settings, "docs", "generate")
        target = settings.home / "dbt" / "target"
        out = settings.publish / "dbt-docs"
        out.mkdir(parents=True, exist_ok=True)
        for name in ("index.html", "manifest.json", "catalog.json"):
            if (target / name).exists():
                shutil.copyfile(target / name, out / name)
    return counts
