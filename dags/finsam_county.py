"""
### finsam_county: länets Finsam-uppföljning, från leverans till BI

Läser varje samordningsförbunds nya exporter, kontrollerar dem mot länets exportkontrakt och
förnyar de marts som BI-verktygen läser. Körs varje dag kl. 06:00 (Europe/Stockholm).

| steg | uppgift | vad den gör | tidsgräns |
|---|---|---|---|
| 1 | `list_associations` | förbunden i registret (`FINSAM_REGISTRY`) som har något att göra: en fil i sin inkorg, en fjärrkälla (SFTP, utdelad mapp) att hämta från, eller refuserade leveranser att pröva om | 10 min |
| 2 | `process_association` (en per förbund) | hitta nya filer, ta emot dem (SHA-256-liggare, personnummer ersatta av en nyckelad hash, oföränderlig råkopia), validera med Great Expectations, lägga det som inte godkänns i karantän | 30 min |
| 3 | `load_warehouse` | läsa in godkända leveranser i DuckDB-schemat `raw` i en transaktion (pool `finsam_warehouse`: en skrivare); körs även om ett förbunds källa inte gick att nå | 30 min |
| 4 | `build_marts` | `dbt build`, inkrementellt: de stora modellerna räknas om bara för förbund vars leveranser ändrats; allt byggs om när dbt-projektet ändrats eller vid `full_refresh` | 60 min |
| 5 | `validate_facts` | GX-sviterna på de byggda fakta: det som bara syns över flera leveranser (de ändrade förbunden och de som delar en person med dem; alla vid `full_refresh`) | 30 min |
| 6 | `send_alerts` | ett e-postmeddelande på svenska per leverans med problem, till ägaren, kopia till dataenheten | 30 min |
| 7 | `track_deliveries` | vilka leveranser som väntas eller är försenade (registrets kadens); en påminnelse per försenad leverans | 30 min |
| 8 | `publish_marts` | röjandekontroll (små tal och det som skulle avslöja dem döljs), skrivskyddad ögonblicksbild + Parquet per mart (+ BI-databasen i PostgreSQL när den är konfigurerad), `delivery_status` inräknad; uppdaterar tillgången (asset) nedan | 120 min |

Stegen körs i den ordningen (`chain`); bara `process_association` läser ett annat stegs
resultat (listan över förbund). Hela körningen får ta högst 6 timmar (`dagrun_timeout`).

**Parametrar** (formuläret under *Trigger*, eller `--conf` på kommandoraden):

| parameter | standard | betydelse |
|---|---|---|
| `full_refresh` | `false` | bygg om alla modeller (`dbt build --full-refresh`), kör om alla slutkontroller och publicera allt, inte bara det som ändrats |
| `as_of` | tom | körningens datum (ÅÅÅÅ-MM-DD) för periodkontroller, slutkontroller och förseningar; tom = slutet av körningens dataintervall (den schemalagda dagen) |
| `docs` | `true` | bygg valideringsrapporterna (GX Data Docs) och dbt-dokumentationen |

Full ombyggnad: `airflow dags trigger finsam_county --conf '{"full_refresh": true}'`.

**Tillgång (Asset):** `publish_marts` uppdaterar `x-finsam://publish/marts` (namn `finsam_marts`)
när de publicerade martsen har skrivits. Flöden som läser martsen schemaläggs på den
(`schedule=[Asset("x-finsam://publish/marts", name="finsam_marts")]`). Händelsens `extra` anger
ögonblicksbildens och Parquet-mappens sökvägar, antalet tabeller och vilka förbund som ändrades.

Varje steg går att köra om: filer känns igen på kontrollsumma, inläsningar är nycklade på
leveransen och utskick görs en gång. Logiken finns i paketet `ingestion`; se README.md.

**Loggar:** välj en körning och en uppgift, fliken *Logs*: uppgiftens egna rader (vilka filer,
hur många rader, vad dbt byggde). Vad som hände med varje leverans, på svenska och per förbund,
står i valideringsrapporten (`reports/validering.html`).
"""

from __future__ import annotations

from datetime import date, timedelta

import pendulum
from airflow.sdk import Asset, Param, chain, dag, get_current_context, task

from ingestion.core.config import load_settings  # settings only: nothing heavy at parse time

WAREHOUSE_POOL = "finsam_warehouse"
# A step that fails (a share that is down, a locked file) is tried again after FINSAM_TASK_RETRY_DELAY
# seconds (default 30), then twice that.
RETRIES = {
    "retries": 2,
    "retry_delay": timedelta(seconds=load_settings().task_retry_delay),
    "retry_exponential_backoff": True,
}

# What publish_marts updates; a DAG that reads the marts is scheduled on it. `x-`: a scheme of
# our own, which Airflow keeps as it is (no provider's URI rules apply).
PUBLISHED_MARTS = Asset(name="finsam_marts", uri="x-finsam://publish/marts")

# Bounds, not estimates. The national benchmark (75 associations, ~525 000 rows, 2 cores) takes
# ~2.5 min for a full load from empty (dbt build 25 s, facts + tracking 28 s, ingest 70 s over all
# associations) and ~30 s for one new delivery; these leave room for a slower host, SFTP sources,
# the PostgreSQL targets and a first load of a large association.
TIMEOUTS = {
    "list_associations": timedelta(minutes=10),
    "process_association": timedelta(minutes=30),
    "load_warehouse": timedelta(minutes=30),
    "build_marts": timedelta(minutes=60),
    "validate_facts": timedelta(minutes=30),
    "send_alerts": timedelta(minutes=30),
    "track_deliveries": timedelta(minutes=30),
    # A first publish (or one after a change of threshold or method) protects every intervention with
    # the disclosure step's LP audit: ~80 min at national scale on 2 cores (README, Benchmark).
    "publish_marts": timedelta(minutes=120),
}
# One try of every step fits; well inside the day between two scheduled runs (max_active_runs=1).
DAGRUN_TIMEOUT = timedelta(hours=6)

PARAMS = {
    "full_refresh": Param(
        False,
        type="boolean",
        title="Full ombyggnad",
        description=(
            "Bygg om alla modeller (dbt build --full-refresh), kör om alla slutkontroller på fakta och "
            "publicera alla tabeller, inte bara det som ändrats sedan förra körningen."
        ),
    ),
    "as_of": Param(
        None,
        type=["null", "string"],
        format="date",
        title="Körningens datum",
        description=(
            "Datum (ÅÅÅÅ-MM-DD) som körningen räknar som idag: periodkontroller, slutkontroller och "
            "förseningar. Tomt = slutet av körningens dataintervall (den schemalagda dagen)."
        ),
    ),
    "docs": Param(
        True,
        type="boolean",
        title="Dokumentation",
        description=(
            "Bygg valideringsrapporterna (GX Data Docs) och dbt-dokumentationen. Av: en något snabbare "
            "körning, och rapporterna från tidigare körningar ligger kvar som de var."
        ),
    ),
}


def _settings_and_registry():
    from ingestion.core.config import load_settings
    from ingestion.core.registry import load_registry

    settings = load_settings()
    settings.ensure_dirs()
    return settings, load_registry(settings.registry)


def _params() -> dict:
    return get_current_context()["params"]


def _as_of() -> date:
    """The run's date: the `as_of` param if given, else the end of the run's data interval."""
    chosen = _params().get("as_of")
    if chosen:
        return date.fromisoformat(chosen)
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
    dagrun_timeout=DAGRUN_TIMEOUT,
    params=PARAMS,
    tags=["finsam", "county"],
    doc_md=__doc__,
    default_args={"on_failure_callback": _notify_data_team},
)
def finsam_county():
    @task(execution_timeout=TIMEOUTS["list_associations"])
    def list_associations() -> list[str]:
        from ingestion.process import associations_with_work

        settings, registry = _settings_and_registry()
        return associations_with_work(settings, registry)

    @task(map_index_template="{{ association }}", execution_timeout=TIMEOUTS["process_association"], **RETRIES)
    def process_association(association: str) -> dict:
        from ingestion.process import process_association as run

        get_current_context()["association"] = association  # names the mapped task in the UI
        settings, registry = _settings_and_registry()
        return run(settings, registry, association, as_of=_as_of(), docs=_params()["docs"])

    # all_done: an association whose source is down fails its own task (the data team is told by
    # the failure callback); the others' deliveries still reach the marts in this run.
    @task(pool=WAREHOUSE_POOL, trigger_rule="all_done", execution_timeout=TIMEOUTS["load_warehouse"], **RETRIES)
    def load_warehouse() -> dict:
        from ingestion.warehouse.load import load_warehouse as run

        settings, registry = _settings_and_registry()
        return run(settings, registry)

    # No retries: a failing dbt test needs a person.
    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS["build_marts"])
    def build_marts() -> dict:
        from ingestion.warehouse.build import build_marts as run

        settings, _ = _settings_and_registry()
        params = _params()
        return run(settings, docs=params["docs"], full_refresh=params["full_refresh"])

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS["validate_facts"], **RETRIES)
    def validate_facts() -> dict:
        from ingestion.quality.facts import run_facts_validation as run

        settings, registry = _settings_and_registry()
        params = _params()
        return run(settings, registry, as_of=_as_of(), docs=params["docs"], everything=params["full_refresh"])

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS["send_alerts"], **RETRIES)
    def send_alerts() -> dict:
        from ingestion.outbound.alerts import send_alerts as run

        settings, registry = _settings_and_registry()
        return run(settings, registry)

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS["track_deliveries"], **RETRIES)
    def track_deliveries() -> dict:
        from ingestion.outbound.reminders import track_deliveries as run

        settings, registry = _settings_and_registry()
        return run(settings, registry, as_of=_as_of())

    @task(pool=WAREHOUSE_POOL, outlets=[PUBLISHED_MARTS], execution_timeout=TIMEOUTS["publish_marts"], **RETRIES)
    def publish_marts() -> dict:
        from ingestion.outbound.publish import publish_marts as run
        from ingestion.pipeline import write_docs_index

        settings, registry = _settings_and_registry()
        result = run(settings)
        write_docs_index(settings, registry)
        summary = {
            "snapshot": result["snapshot"],
            "parquet": result["parquet"],
            "tables": len(result["tables"]),
            "associations": result["associations"],
        }
        get_current_context()["outlet_events"][PUBLISHED_MARTS].extra = summary
        return summary

    # Only process_association reads another task's result (the associations to map over); the
    # others are ordered, each reading the warehouse the previous one left.
    associations = process_association.expand(association=list_associations())
    chain(
        associations,
        load_warehouse(),
        build_marts(),
        validate_facts(),
        send_alerts(),
        track_deliveries(),
        publish_marts(),
    )


finsam_county()
