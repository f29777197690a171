"""What the portal shows, read from the published snapshot (`<FINSAM_HOME>/publish/finsam_marts.duckdb`,
which never blocks a run) and the quarantine's explanations; never the raw zone.

- interventions and their owners: `marts.dim_intervention` (current version, `owner_email`: the register's `agare_epost`);
- due, received, late and quarantined deliveries: `marts.delivery_status` (statuses decided once,
  in dbt: `int_deliveries_due` and `delivery_status`);
- the grouped Swedish findings of a quarantined file: its `.fel.txt` in the quarantine, the text
  the pipeline wrote (`ingestion.quality.quarantine.explanation_sv`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.core.config import Settings
from ingestion.core.contract import load_contract

STATUS_SV = {
    "received": "Mottagen",
    "received_late": "Mottagen efter sista dag",
    "awaiting": "Väntar – sista dag har inte passerat",
    "quarantined": "Underkänd – i karantän",
    "overdue": "Försenad",
}
LEDGER_SV = {
    "accepted": "Godkänd",
    "accepted_with_warnings": "Godkänd med varningar",
    "quarantined": "Underkänd (karantän)",
}
SECTION = re.compile(r"^(?P<title>[^ -].*?) \((?P<count>\d+)\):?$")


@dataclass
class Intervention:
    association: str
    code: str
    name: str
    owner: str | None
    counts: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})" if self.name and self.name != self.code else self.code


def snapshot_path(settings: Settings) -> Path:
    return settings.publish / "finsam_marts.duckdb"


def _query(settings: Settings, sql: str, params: list | None = None) -> list[dict]:
    path = snapshot_path(settings)
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.CatalogException:  # a snapshot from before the model existed
        return []
    finally:
        con.close()


def interventions(settings: Settings) -> list[Intervention]:
    """Every intervention the county knows (register or deliveries), with its current owner and
    the count of its deliveries per status; plus each association's register (`ALL`)."""
    rows = _query(
        settings,
        """
        with known as (
            select association_code, intervention_code, intervention_name as namn, lower(trim(owner_email)) as owner
            from marts.dim_intervention where is_current
            union
            select distinct association_code, intervention_code, null, null
            from marts.delivery_status
            where (association_code, intervention_code) not in
                (select (association_code, intervention_code) from marts.dim_intervention)
        )
        select known.association_code, known.intervention_code, any_value(known.namn) as namn,
            any_value(known.owner) as owner,
            count(s.status) filter (where s.status in ('received', 'received_late')) as received,
            count(s.status) filter (where s.status = 'awaiting') as awaiting,
            count(s.status) filter (where s.status = 'quarantined') as quarantined,
            count(s.status) filter (where s.status = 'overdue') as overdue
        from known left join marts.delivery_status s
            on s.association_code = known.association_code and s.intervention_code = known.intervention_code
        group by all order by 1, 2
        """,
    )
    return [
        Intervention(
            r["association_code"],
            r["intervention_code"],
            r["namn"] or ("Förbundets insatsregister" if r["intervention_code"] == "ALL" else r["intervention_code"]),
            r["owner"],
            {k: r[k] for k in ("received", "awaiting", "quarantined", "overdue")},
        )
        for r in rows
    ]


def deliveries(settings: Settings, association: str, intervention: str) -> list[dict]:
    rows = _query(
        settings,
        """
        select kind, period, period_end, due_date, status, days_overdue, deliveries, accepted_file_name,
            latest_file_name, latest_status, latest_received_at, latest_reason, as_of
        from marts.delivery_status
        where association_code = ? and intervention_code = ?
        order by period_end desc, kind
        """,
        [association, intervention],
    )
    contract = load_contract()
    for row in rows:
        label = contract.kind_label(row["kind"])
        row["kind_sv"] = label[:1].upper() + label[1:]
        row["status_sv"] = STATUS_SV.get(row["status"], row["status"] or "")
        if row["status"] == "overdue" and row["days_overdue"]:
            row["status_sv"] += f" ({row['days_overdue']} dagar)"
        row["latest_status_sv"] = LEDGER_SV.get(row["latest_status"], row["latest_status"] or "")
        row["findings"] = (
            quarantine_sections(settings, association, row["latest_file_name"])
            if row["latest_status"] == "quarantined" and row["latest_file_name"]
            else []
        )
    return rows


def quarantine_sections(settings: Settings, association: str, file_name: str) -> list[dict]:
    """The grouped findings the pipeline wrote beside a quarantined file, as sections."""
    if "/" in file_name or "\\" in file_name or file_name.startswith("."):
        return []
    reason = settings.quarantine / association / f"{file_name}.fel.txt"
    if not reason.is_file():
        return []
    return sections(reason.read_text(encoding="utf-8"))


def sections(text: str) -> list[dict]:
    """`Rubrik (n):` followed by `  - rad` lines, as written by `finsam validate` and the
    quarantine: [{title, items}]. The same text, only laid out as HTML lists."""
    found: list[dict] = []
    current = None
    for line in text.splitlines():
        match = SECTION.match(line.strip()) if not line.startswith(" ") else None
        if match or line.rstrip().endswith("gick inte att läsa:") or line.startswith("Filen går inte att läsa"):
            title = match["title"] if match else "Filen går inte att läsa"
            current = {"title": title, "items": []}
            found.append(current)
            if line.startswith("Filen går inte att läsa: "):
                current["items"].append(line.split(": ", 1)[1])
        elif line.startswith("  - ") and current is not None:
            current["items"].append(line[4:])
        elif not line.startswith(" "):
            current = None
    return [s for s in found if s["items"]]


def reports_folder(settings: Settings, association: str, intervention: str) -> Path | None:
    """Where the published reports of an intervention are (ingestion/reports), if that stage exists."""
    try:
        from ingestion.reports.batch import reports_root
    except ImportError:
        return None
    folder = reports_root(settings, internal=False) / association / intervention
    return folder if folder.is_dir() else None


def reports(settings: Settings, association: str, intervention: str) -> list[tuple[str, list[str]]]:
    """The intervention's published reports, newest period first: [(period, [file names])]."""
    folder = reports_folder(settings, association, intervention)
    if folder is None:
        return []
    by_period: dict[str, list[str]] = {}
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.suffix in (".pdf", ".docx", ".html"):
            by_period.setdefault(path.stem, []).append(path.name)
    return [(period, sorted(names)) for period, names in sorted(by_period.items(), reverse=True)]
