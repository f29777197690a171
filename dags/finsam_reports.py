"""
### finsam_reports: rapporterna förnyas när martsen har publicerats

Schemaläggs på tillgången (Asset) `x-finsam://publish/marts` som `publish_marts` i `finsam_county`
uppdaterar: varje gång de publicerade martsen skrivits körs det här flödet.

| steg | uppgift | vad den gör | tidsgräns |
|---|---|---|---|
| 1 | `refresh_reports` | läser den publicerade ögonblicksbilden och räknar fram siffrorna för varje rapport: insatsernas halvårs- och helårsrapporter, förbundens styrelseunderlag och länsjämförelsen; skriver om (PDF, DOCX, HTML) bara de rapporter vars siffror ändrats sedan förra gången | 30 min |

Rapporterna hamnar under `publish/rapporter/<förbund>/<insats>/<period>.{pdf,docx,html}` (styrelseunderlag
under `<förbund>/styrelse/`, länsjämförelsen under `lan/`), med en förteckning i `publish/rapporter/index.html`.
De är gjorda för publicering: antal under 5 visas som <5. Ett fingeravtryck av varje rapports siffror
(`fingerprints.json`) avgör vad som skrivs om. När rapporterna skrivits uppdateras tillgången
`x-finsam://publish/rapporter` (namn `finsam_reports`).

Logiken finns i `ingestion.reports`; en enskild rapport görs med `finsam rapport` (se README.md, Rapporter).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

# The Asset publish_marts updates in finsam_county.py (same name and URI; the DAG-integrity test
# holds them equal), and the one this DAG updates when its reports are written.
PUBLISHED_MARTS = Asset(name="finsam_marts", uri="x-finsam://publish/marts")
PUBLISHED_REPORTS = Asset(name="finsam_reports", uri="x-finsam://publish/rapporter")

# At national scale (600 interventions) every report of a period takes about two minutes on two
# cores (README, Benchmark); unchanged reports are only fingerprinted.
TIMEOUT = timedelta(minutes=30)


def _notify_data_team(context) -> None:
    from ingestion.outbound.notify import task_failed

    task_failed(context)


@dag(
    dag_id="finsam_reports",
    schedule=[PUBLISHED_MARTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Stockholm"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=["finsam", "rapporter"],
    doc_md=__doc__,
    default_args={"on_failure_callback": _notify_data_team},
)
def finsam_reports():
    @task(outlets=[PUBLISHED_REPORTS], execution_timeout=TIMEOUT, retries=1, retry_delay=timedelta(minutes=1))
    def refresh_reports() -> dict:
        from ingestion.core.config import load_settings
        from ingestion.reports.batch import refresh_reports as run

        settings = load_settings()
        result = run(settings)
        summary = {
            "root": result["root"],
            "written": len(result["written"]),
            "unchanged": len(result["unchanged"]),
            "failed": result["failed"],
        }
        get_current_context()["outlet_events"][PUBLISHED_REPORTS].extra = {
            **summary,
            "reports": result["written"][:200],
        }
        return summary

    refresh_reports()


finsam_reports()
