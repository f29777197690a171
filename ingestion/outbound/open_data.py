"""The open-data export: the county's aggregates per association and intervention for one period,
as CSV and Parquet with a data dictionary (Swedish and English) and a licence line.

Read from the published snapshot's `public` schema only, i.e. from tables that went through the
disclosure step (`ingestion/outbound/disclosure.py`): a count hidden there is hidden here, the same
way ("<5" primary, "–" secondary). Written under `<FINSAM_HOME>/publish/oppna-data/`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import yaml

from ingestion.core.config import REPO_ROOT, Settings
from ingestion.outbound.disclosure import threshold

OPEN_DATA_DIR = "oppna-data"
LICENCE = (
    "CC0 1.0 Universell (fri från upphovsrätt) / CC0 1.0 Universal: https://creativecommons.org/publicdomain/zero/1.0/"
)
PUBLIC_YML = REPO_ROOT / "dbt_project" / "models" / "public" / "_public.yml"

KEYS = ["association_code", "intervention_code", "period_type", "period_label", "period_start", "period_end"]
OUTCOME_KEYS = ["completeness_status", "data_through"]
COUNTS = [
    "participants",
    "entrants",
    "active_at_period_end",
    "exits",
    "early_dropouts",
    "exits_excl_dropouts",
    "exits_to_work",
    "exits_to_subsidised_work",
    "exits_to_studies",
    "exits_to_rehab",
    "exits_to_sje_ake",
    "exits_to_other",
    "exits_to_work_or_studies",
]
SHARES = ["share_of_exits_to_work_or_studies", "share_of_exits_excl_dropouts_to_work_studies_rehab"]
COST = ["actual_cost"]
COST_DERIVED = ["cost_per_participant"]


class OpenDataError(RuntimeError):
    """Raised with a Swedish message when the export cannot be made."""


def period_type(label: str) -> str:
    if re.fullmatch(r"\d{4}", label):
        return "year"
    if re.fullmatch(r"\d{4}H[12]", label):
        return "half_year"
    if re.fullmatch(r"\d{4}T[123]", label):
        return "tertial"
    raise OpenDataError(f"okänd period {label!r}: skriv 2016 (år), 2016H1 (halvår) eller 2016T2 (tertial)")


def columns() -> list[str]:
    out = list(KEYS) + list(OUTCOME_KEYS)
    for c in COUNTS:
        out += [c, f"{c}_suppressed", f"{c}_display"]
    for c in SHARES:
        out += [c, f"{c}_suppressed"]
    out += COST
    for c in COST_DERIVED:
        out += [c, f"{c}_suppressed"]
    return out


def dictionary() -> list[tuple[str, str, str]]:
    """(column, Swedish, English) from the pub_ models' column docs in `_public.yml` (one home)."""
    docs: dict[str, str] = {}
    for model in yaml.safe_load(PUBLIC_YML.read_text(encoding="utf-8"))["models"]:
        if model["name"] in ("pub_rpt_outcomes_by_period", "pub_rpt_cost_by_period"):
            for col in model.get("columns", []):
                docs.setdefault(col["name"], col.get("description", ""))
    rows = []
    for name in columns():
        text = docs.get(name, "")
        sv, _, en = text.partition(" / en: ")
        rows.append((name, sv.removeprefix("sv: ").strip(), en.strip()))
    return rows


def export_open_data(
    settings: Settings, period: str, snapshot: Path | None = None, out_dir: Path | None = None
) -> dict:
    """Write `finsam_<period>.csv`, `.parquet`, `dataordlista.csv` and `LICENS.txt`; return the paths."""
    kind = period_type(period)
    snapshot = snapshot or settings.publish / "finsam_marts.duckdb"
    if not snapshot.exists():
        raise OpenDataError(f"ingen publicerad ögonblicksbild i {snapshot}: kör flödet (finsam run) först")
    out = out_dir or settings.publish / OPEN_DATA_DIR
    out.mkdir(parents=True, exist_ok=True)
    outcome_cols = KEYS + OUTCOME_KEYS + [c for n in COUNTS for c in (n, f"{n}_suppressed", f"{n}_display")]
    outcome_cols += [c for n in SHARES for c in (n, f"{n}_suppressed")]
    cost_cols = COST + [c for n in COST_DERIVED for c in (n, f"{n}_suppressed")]
    select = ", ".join([f"o.{c}" for c in outcome_cols] + [f"k.{c}" for c in cost_cols])
    query = f"""
        select {select}
        from public.pub_rpt_outcomes_by_period o
        left join public.pub_rpt_cost_by_period k
            on k.association_code = o.association_code and k.intervention_code = o.intervention_code
            and k.period_type = o.period_type and k.period_end = o.period_end and k.measure_window = o.measure_window
        where o.measure_window = 'in_period' and o.period_type = ? and o.period_label = ?
        order by o.association_code, o.intervention_code
    """
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        con.execute(f"create temp table open_data as {query}", [kind, period])
        n = con.execute("select count(*) from open_data").fetchone()[0]
        if n == 0:
            raise OpenDataError(f"inga publicerade siffror för perioden {period}")
        base = out / f"finsam_{period}"
        paths = {"csv": base.with_suffix(".csv"), "parquet": base.with_suffix(".parquet")}
        for fmt, path in paths.items():
            part = path.with_name(path.name + ".new")
            options = "format csv, header true" if fmt == "csv" else "format parquet"
            con.execute(f"copy open_data to '{part}' ({options})")
            os.replace(part, path)
    finally:
        con.close()
    dictionary_path = out / "dataordlista.csv"
    lines = ["kolumn,beskrivning,description"]
    for name, sv, en in dictionary():
        lines.append(",".join([name, _csv(sv), _csv(en)]))
    dictionary_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    licence = out / "LICENS.txt"
    n_min = threshold(settings)  # FINSAM_MIN_COUNT, else the dbt var
    licence.write_text(
        f"Licens / Licence: {LICENCE}\n\n"
        "Finsam-uppföljning per samordningsförbund och insats. "
        f'Antal under {n_min} visas som "<{n_min}" och antal som döljs '
        'för att de annars skulle gå att räkna fram visas som "–"; andelar och kostnad per deltagare döljs '
        "när ett underliggande antal är dolt (docs/disclosure.md).\n"
        "Finsam follow-up per coordination association and intervention. "
        f'Counts below {n_min} are shown as "<{n_min}", '
        'counts hidden because they could otherwise be derived are shown as "–"; shares and cost per participant '
        "are hidden when a count they are built on is hidden.\n",
        encoding="utf-8",
    )
    return {
        **{k: str(v) for k, v in paths.items()},
        "dictionary": str(dictionary_path),
        "licence": str(licence),
        "rows": n,
    }


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def refresh_open_data(settings: Settings) -> list[str]:
    """After every publish: the export for every calendar year in the new snapshot (the publish step
    calls this, so the DAG's publish_marts and `finsam run` both refresh it)."""
    snapshot = settings.publish / "finsam_marts.duckdb"
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        present = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'public' "
            "and table_name in ('pub_rpt_outcomes_by_period', 'pub_rpt_cost_by_period')"
        ).fetchone()[0]
        if present < 2:  # nothing built yet (an empty warehouse): nothing to export
            return []
        years = [
            r[0]
            for r in con.execute(
                "select distinct period_label from public.pub_rpt_outcomes_by_period where period_type = 'year' order by 1"
            ).fetchall()
        ]
    finally:
        con.close()
    return [export_open_data(settings, year, snapshot=snapshot)["csv"] for year in years]
