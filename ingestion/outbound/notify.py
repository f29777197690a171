"""Failure callback: tell the county data team that a task failed (never personal data)."""

from __future__ import annotations

import logging
from email.message import EmailMessage

log = logging.getLogger(__name__)


def task_failed(context) -> None:
    from ingestion.core.config import load_settings
    from ingestion.core.registry import load_registry
    from ingestion.outbound.alerts import send_mail

    try:
        settings = load_settings()
        registry = load_registry(settings.registry)
        ti = context.get("task_instance")
        task = getattr(ti, "task_id", "?")
        # a mapped task's item, as the DAG names it (process_association: the association's code)
        item = getattr(ti, "rendered_map_index", None)
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = registry.data_team_email
        message["Subject"] = f"[Finsam] Körningen misslyckades: {task}" + (f" ({item})" if item else "")
        message.set_content(
            f"Uppgiften {task}{f' för {item}' if item else ''} i flödet {getattr(ti, 'dag_id', '?')} misslyckades "
            f"(körning {context.get('run_id')}, försök {getattr(ti, 'try_number', '?')}).\n"
            "Se loggen i Airflow. Inga leveranser har gått förlorade: filer som inte lästs in ligger kvar i inkorgen.\n"
        )
        outbox = settings.reports / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        name = "-".join(str(part) for part in ("task-failed", context.get("run_id", "x"), task, item) if part)
        (outbox / f"{name}.eml".replace(":", "_")).write_bytes(bytes(message))
        send_mail(settings, message, attempts=2)
    except Exception:  # a callback must never raise
        log.exception("Kunde inte meddela dataenheten om felet")
