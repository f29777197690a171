"""The build queue: which associations' rows the next build, facts check and publish must redo.

`load` queues the associations whose deliveries it loaded, in the same transaction; a
successful build queues `facts` and `publish`; an entry goes only after its step succeeded.
"""

from __future__ import annotations

from ingestion.warehouse.schema import BUILD_QUEUE_DDL

EVERY_ASSOCIATION = "*"


def queue_build(con, associations, reason: str, stage: str = "build") -> None:
    """Queue associations for the next build, or (stage 'facts') the next facts validation. Call
    inside the transaction that changed their rows. `EVERY_ASSOCIATION` means every association."""
    con.execute(BUILD_QUEUE_DDL)
    codes = sorted(set(associations))
    if codes:
        con.execute(
            "insert into meta.build_queue (association_code, reason, stage) select unnest(?::varchar[]), ?, ?",
            [codes, reason, stage],
        )


def queued(con, stage: str) -> tuple[list[str] | None, object]:
    """(queued association codes, or None for every association; the newest queued_at)."""
    codes, until = con.execute(
        "select list(distinct association_code order by association_code), max(queued_at) "
        "from meta.build_queue where stage = ?",
        [stage],
    ).fetchone()
    codes = codes or []
    return (None if EVERY_ASSOCIATION in codes else codes), until


def dequeue(con, stage: str, until) -> None:
    if until is not None:
        con.execute("delete from meta.build_queue where stage = ? and queued_at <= ?", [stage, until])
