"""
### finsam_county: the county's Finsam follow-up, end to end

Reads every samordningsförbund's new exports, checks them against the county export
contract, and refreshes the marts BI tools read.

| step | task | what it does |
|---|---|---|
| 1 | `list_associations` | the associations in the registry (`FINSAM_REGISTRY`) with something to do: a file in their landing folder, or a remote source (SFTP, share) to pull |
| 2 | `process_association` (one per association) | discover new files, land them (SHA-256 ledger, personnummer replaced by a keyed hash, immutable raw copy), validate with Great Expectations, quarantine what fails |
| 3 | `load_warehouse` | load accepted deliveries into the DuckDB `raw` schema in one transaction (pool `finsam_warehouse`: one writer) |
| 4 | `build_marts` | `dbt build`, incremental: the large models recompute only the associations whose deliveries changed; `dbt docs generate` when the project changed (same pool) |
| 5 | `validate_facts` | GX suites on the built facts: what only shows across deliveries (the changed associations and those sharing a person with them) |
| 6 | `send_alerts` | one Swedish e-mail per delivery with problems, to its owner, copy to the data team |
| 7 | `track_deliveries` | which deliveries are due or overdue (register cadence); one reminder per overdue delivery |
| 8 | `publish_marts` | read-only snapshot + Parquet per mart (+ PostgreSQL BI database when configured), `delivery_status` included |

Every task is safe to re-run: files are recognised by checksum, loads are keyed on the
delivery, alerts are sent once. Logic lives in the `ingestion` package; see README.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

WAREHOUSE_POOL = "finsam_warehouse"
RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True}


def _settings_and_registry():
    from ingestion.core.config import load_settings
    from ingestion.core.registry import load_registry

    settings = load_settings()
    settings.ensure_dirs()
    return settings, load_registry(settings.registry)


def _as_of():
    context = get_current_context()
    moment = context.get("data_interval_end") or context["dag_run"].run_after
    return pendulum.instance(moment).in_timezone("Europe/Stockholm").date()


def _notify_data_team(context) -> None:
    from ingestion.outbound.notify import task_failed

    task_failed(context)


@dag(
    dag_id="finsam_county",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Stockholm"),
    catchup=False,
    max_active_runs=1,
    tags=["finsam", "county"],
    doc_md=__doc__,
    default_args={"on_failure_callback": _notify_data_team},
)
def finsam_county():
    @task
    def list_associations() -> list[str]:
        from ingestion.process import associations_with_work

        settings, registry = _settings_and_registry()
        return associations_with_work(settings, registry)

    @task(map_index_template="{{ association }}", **RETRIES)
    def process_association(association: str) -> dict:
        from ingestion.process import process_association as run

        get_current_context()["association"] = association  # names the mapped task in the UI
        settings, registry = _settings_and_registry()
        return run(settings, registry, association, as_of=_as_of())

    # all_done: an association whose source is down fails its own task (the data team is told by
    # the failure callback); the others' deliveries still reach the marts in this run.
    @task(pool=WAREHOUSE_POOL, trigger_rule="all_done", **RETRIES)
    def load_warehouse(summaries: list[dict]) -> dict:
        from ingestion.warehouse.load import load_warehouse as run

        settings, registry = _settings_and_registry()
        return run(settings, registry)

    @task(pool=WAREHOUSE_POOL)
    def build_marts(loaded: dict) -> dict:
        from ingestion.warehouse.build import build_marts as run

        settings, _ = _settings_and_registry()
        return run(settings)

    @task(pool=WAREHOUSE_POOL, **RETRIES)
    def validate_facts(built: dict) -> dict:
        from ingestion.quality.facts import run_facts_validation as run

        settings, registry = _settings_and_registry()
        return run(settings, registry, as_of=_as_of())

    @task(pool=WAREHOUSE_POOL, **RETRIES)
    def publish_marts(tracked: dict) -> dict:
        from ingestion.outbound.publish import publish_marts as run
        from ingestion.pipeline import write_docs_index

        settings, registry = _settings_and_registry()
        result = run(settings)
        write_docs_index(settings, registry)
        return {"tables": len(result["tables"]), "snapshot": result["snapshot"]}

    @task(pool=WAREHOUSE_POOL, **RETRIES)
    def send_alerts(facts: dict) -> dict:
        from ingestion.outbound.alerts import send_alerts as run

        settings, registry = _settings_and_registry()
        return run(settings, registry)

    @task(pool=WAREHOUSE_POOL, **RETRIES)
    def track_deliveries(alerted: dict) -> dict:
        from ingestion.outbound.reminders import track_deliveries as run

        settings, registry = _settings_and_registry()
        return run(settings, registry, as_of=_as_of())

    summaries = process_association.expand(association=list_associations())
    built = build_marts(load_warehouse(summaries))
    publish_marts(track_deliveries(send_alerts(validate_facts(built))))


finsam_county()
