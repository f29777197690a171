"""The figures of a report, read from the published snapshot: the one place a report reads numbers.

`intervention_figures`, `board_figures` and `county_figures` each return a plain data structure
(dicts, lists, strings, numbers) that the three formats render as they are, so PDF, DOCX and HTML
cannot show different numbers.

Every count of people is a *cell*: `{"v": value or None, "t": text}`. Internal reports
(`internal=True`) read the `marts` tables and show exact counts. Publication reports read the
people counts only from the `public` schema's `pub_` tables, which have already suppressed small
counts: the text is the table's `<col>_display` ("<5"), a suppressed share or average is shown
as "–", and nothing is ever added up or computed from suppressed parts. Names, money and the
deliveries behind a report (no counts of people) come from `marts` in both modes.

Shares are the marts' own (`dbt_project/macros/kpi.sql`); nothing here re-derives one.
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import yaml

from ingestion.core.config import REPO_ROOT

NBSP = "\u00a0"
NATIONAL_SHARE_TO_WORK_OR_STUDIES = 0.31  # of those who ended, to work or studies (finsam-facts.md: 2013, 2017, 2019)
INTERNAL_BANNER = "Internt underlag – innehåller små tal"


def public_note(threshold: int) -> str:
    """The publication report's note on what is hidden (FINSAM_MIN_COUNT, default 5)."""
    return (
        f"Antal under {threshold} visas som <{threshold}. Antal som döljs för att inget litet tal ska gå att "
        "räkna fram (av vilken storlek som helst) visas som –, liksom andelar och medelvärden som bygger på "
        "dolda antal."
    )


CALENDAR_TYPES = ("year", "half_year", "tertial", "month")
TYPE_PREFERENCE = (*CALENDAR_TYPES, "operating_year", "project_to_date")
PERIOD_TYPE_SV = {
    "year": "År",
    "half_year": "Halvår",
    "tertial": "Tertial",
    "month": "Månad",
    "operating_year": "Verksamhetsår",
    "project_to_date": "Från start",
}
COMPLETENESS_SV = {
    "complete": "fullständiga (alla leveranser kom i tid)",
    "late": "fullständiga, men någon leverans kom efter förfallodagen",
    "quarantined": "ofullständiga: en leverans som skulle täcka perioden ligger i karantän",
    "missing_delivery": "ofullständiga: ingen leverans täcker hela perioden",
}
DELIVERY_STATUS_SV = {
    "accepted": "inläst",
    "accepted_with_warnings": "inläst med varningar",
    "quarantined": "i karantän",
    "replayed": "omprövad och inläst",
}
OUTCOME_COUNTS = (
    "participants",
    "carried_in",
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
    "exits_to_work_studies_rehab",
    "exits_to_work_or_studies",
)
OUTCOME_SHARES = ("share_of_exits_excl_dropouts_to_work_studies_rehab", "share_of_exits_to_work_or_studies")
OUTCOME_MONTHS = ("avg_months_in_intervention", "median_months_in_intervention")
PROFILE_DIMENSIONS = ("sex", "age_band", "education", "time_on_public_support", "support_before", "referrer")
DIMENSION_CODE_LIST = {  # the profile mart's dimension (a fct_participation column) -> the contract's code list
    "sex": "kon",
    "education": "utbildning",
    "time_on_public_support": "tid_offentlig_forsorjning",
    "support_before": "forsorjning",
    "referrer": "remittent",
}


SLICES_KEPT = 64  # a batch's per-period reads kept at once (Snapshot.slice): a dozen tables, a few periods


class ReportError(Exception):
    """A report that cannot be made, in words for the person who asked for it (Swedish)."""


# --- formatting: the only place numbers become text --------------------------------------------


def fmt_int(value) -> str:
    if value is None:
        return "–"
    return f"{int(round(float(value))):,}".replace(",", NBSP).replace("-", "−")


def fmt_sek(value) -> str:
    return fmt_int(value)


def fmt_signed(value) -> str:
    if value is None:
        return "–"
    text = fmt_int(value)
    return f"+{text}" if float(value) > 0 else text


def fmt_pct(value) -> str:
    if value is None:
        return "–"
    return f"{round(float(value) * 100):d}{NBSP}%"


def fmt_dec(value, decimals: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value):.{decimals}f}".replace(".", ",").replace("-", "−")


def fmt_date(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


def cell(value, text: str) -> dict:
    if isinstance(value, Decimal):
        value = float(value)
    return {"v": value, "t": text}


def _nullable(value):
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except TypeError:
        pass
    return value


def _to_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    period_type: str
    label: str
    start: dt.date
    end: dt.date

    @property
    def title(self) -> str:
        name = PERIOD_TYPE_SV[self.period_type]
        if self.period_type == "project_to_date":
            return f"Från start, {fmt_date(self.start)} – {fmt_date(self.end)}"
        return f"{name} {self.label} ({fmt_date(self.start)} – {fmt_date(self.end)})"

    def as_dict(self) -> dict:
        return {
            "type": self.period_type,
            "type_sv": PERIOD_TYPE_SV[self.period_type],
            "label": self.label,
            "start": fmt_date(self.start),
            "end": fmt_date(self.end),
            "title": self.title,
        }


class Snapshot:
    """A read-only connection to the published snapshot, and how a mode reads it."""

    def __init__(self, path: Path, internal: bool, batch: bool = False, threshold: int | None = None):
        """`threshold`: the count below which the snapshot's public tables hide (FINSAM_MIN_COUNT;
        default: the setting in this process's environment, which the publish step read too)."""
        path = Path(path)
        if not path.exists():
            raise ReportError(
                f"Den publicerade ögonblicksbilden {path} finns inte: kör flödet (finsam run) först, "
                "rapporterna läser bara de publicerade martsen."
            )
        self.path = path
        self.internal = internal
        if threshold is None:
            from ingestion.core.config import load_settings
            from ingestion.outbound.disclosure import threshold as suppression_threshold

            threshold = suppression_threshold(load_settings())
        self.threshold = threshold
        self.con = duckdb.connect(str(path), read_only=True)
        self._memo: dict = {}
        self.batch = batch
        self._slices: OrderedDict = OrderedDict()
        self._tables = {
            f"{s}.{t}"
            for s, t in self.con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
        self._labels: dict[tuple[str, str], str] = {
            (list_, code): label
            for list_, code, label in self.con.execute(
                "select code_list, code, label_sv from marts.dim_code"
            ).fetchall()
        }

    def close(self) -> None:
        self.con.close()

    def memo(self, key, read):
        """A small table read once per connection (names of municipalities, associations): a batch
        of reports asks for the same names again and again."""
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def has(self, table: str) -> bool:
        return table in self._tables

    def report(self, name: str) -> str:
        """The relation of a people-counting report: `marts.rpt_x` (internal) or `public.pub_rpt_x`."""
        return f"marts.{name}" if self.internal else f"public.pub_{name}"

    def rows(self, sql: str, params: list | None = None) -> list[dict]:
        result = self.con.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row)) for row in result.fetchall()]

    def slice(self, relation: str, params: list, also: str = "", order: str = "") -> list[dict]:
        """The rows of `relation` for one intervention and period, `params` = [association,
        intervention, period_type, period_label], with the condition `also` and in `order`.

        In batch mode (a run making many reports) the rows of every intervention for the period are
        read with one query, the first time one is asked for, and kept for the others (the last
        SLICES_KEPT such reads): one scan per table and period instead of one per report. The rows
        and their order are the same either way (the same condition and order, within one
        intervention)."""
        association, intervention, period_type, period_label = params
        condition = f"period_type = ? and period_label = ? {also}"
        if not self.batch:
            return self.rows(
                f"select * from {relation} where association_code = ? and intervention_code = ? and {condition}"
                + (f" order by {order}" if order else ""),
                params,
            )
        key = (relation, condition, order, period_type, period_label)
        groups = self._slices.get(key)
        if groups is None:
            groups = {}
            for row in self.rows(
                f"select * from {relation} where {condition} order by association_code, intervention_code"
                + (f", {order}" if order else ""),
                [period_type, period_label],
            ):
                groups.setdefault((row["association_code"], row["intervention_code"]), []).append(row)
            self._slices[key] = groups
            if len(self._slices) > SLICES_KEPT:
                self._slices.popitem(last=False)
        else:
            self._slices.move_to_end(key)
        return groups.get((association, intervention), [])

    def label(self, code_list: str, code) -> str:
        if code is None:
            return "–"
        return self._labels.get((code_list, str(code)), str(code))

    # cells
    def count(self, row: dict, column: str) -> dict:
        """A count of people (marked "k": "n"): exact when internal, else the public table's display."""
        value = _nullable(row.get(column))
        if self.internal:
            return {**cell(None if value is None else int(value), fmt_int(value)), "k": "n"}
        if row.get(f"{column}_suppressed"):
            return {**cell(None, row.get(f"{column}_display") or f"<{self.threshold}"), "k": "n"}
        return {**cell(None if value is None else int(value), row.get(f"{column}_display") or fmt_int(value)), "k": "n"}

    def _suppressed(self, row: dict, column: str) -> bool:
        return not self.internal and bool(row.get(f"{column}_suppressed"))

    def share(self, row: dict, column: str) -> dict:
        value = None if self._suppressed(row, column) else _nullable(row.get(column))
        return cell(None if value is None else float(value), fmt_pct(value))

    def months(self, row: dict, column: str) -> dict:
        value = None if self._suppressed(row, column) else _nullable(row.get(column))
        return cell(None if value is None else float(value), fmt_dec(value, 1))

    def money(self, row: dict, column: str) -> dict:
        value = None if self._suppressed(row, column) else _nullable(row.get(column))
        return cell(None if value is None else float(value), fmt_sek(value))


# --- periods ------------------------------------------------------------------------------------


def _period_rows(snap: Snapshot, where: str, params: list) -> list[dict]:
    return snap.rows(
        "select distinct period_type, period_label, period_start, period_end from marts.period_completeness "
        f"where {where} order by period_start, period_end",
        params,
    )


def resolve_period(
    snap: Snapshot,
    where: str,
    params: list,
    spec: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    calendar_only: bool = False,
) -> Period:
    """The period a report asks for, among the periods the marts hold for it (period_completeness):
    a label (2016, 2016H1, 2016T2, 2016-05, 2015/16) or a first and last day."""
    rows = _period_rows(snap, where, params)
    if calendar_only:
        rows = [r for r in rows if r["period_type"] in CALENDAR_TYPES]
    if spec:
        wanted = spec.strip().upper()
        matches = [r for r in rows if str(r["period_label"]).upper() == wanted]
    elif start and end:
        matches = [r for r in rows if _to_date(r["period_start"]) == start and _to_date(r["period_end"]) == end]
    else:
        raise ReportError("Ange en period: --period (t.ex. 2016, 2016H1, 2016T2) eller --from och --to.")
    if not matches:
        asked = spec or f"{start} – {end}"
        known = sorted({str(r["period_label"]) for r in rows if r["period_type"] != "month"})
        raise ReportError(
            f"Perioden {asked} finns inte i de publicerade martsen för det här urvalet. "
            f"Perioder som finns: {', '.join(known) or 'inga'}."
        )
    best = min(matches, key=lambda r: TYPE_PREFERENCE.index(r["period_type"]))
    return Period(
        best["period_type"], str(best["period_label"]), _to_date(best["period_start"]), _to_date(best["period_end"])
    )


@functools.lru_cache(maxsize=1)
def _definitions_cached() -> tuple:
    return tuple(_read_definitions() + _read_more_definitions())


def _definitions() -> list[dict]:
    return [dict(d) for d in _definitions_cached()]


def _read_definitions() -> list[dict]:
    """The Swedish definitions of the figures, from the marts' own documentation (dbt yml), which
    states the KPIs of dbt_project/macros/kpi.sql."""
    path = REPO_ROOT / "dbt_project" / "models" / "marts" / "reports" / "_reports_by_period.yml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    models = {m["name"]: m for m in yaml.load(path.read_text(encoding="utf-8"), Loader=loader)["models"]}
    wanted = [
        ("Deltagare under perioden", "rpt_outcomes_by_period", "participants"),
        ("Nya", "rpt_outcomes_by_period", "entrants"),
        ("Aktiva vid periodslut", "rpt_outcomes_by_period", "active_at_period_end"),
        ("Avslut", "rpt_outcomes_by_period", "exits"),
        ("Tidiga avhopp", "rpt_outcomes_by_period", "early_dropouts"),
        ("Andel till arbete, studier eller rehabilitering", "rpt_outcomes_by_period", OUTCOME_SHARES[0]),
        ("Andel till arbete eller studier", "rpt_outcomes_by_period", OUTCOME_SHARES[1]),
        ("Tid i insatsen", "rpt_outcomes_by_period", "avg_months_in_intervention"),
        ("Mätfönster", "rpt_outcomes_by_period", "measure_window"),
        ("Datafullständighet", "rpt_outcomes_by_period", "completeness_status"),
        ("Kostnad per deltagare", "rpt_cost_by_period", "cost_per_participant"),
    ]
    out = []
    for term, model, column in wanted:
        columns = {c["name"]: c for c in models.get(model, {}).get("columns", [])}
        text = columns.get(column, {}).get("description", "")
        swedish = text.split(" / en:")[0].removeprefix("sv:").strip()
        if swedish:
            out.append({"term": term, "text": swedish})
    return out


# The definitions of the figures added to the intervention report after the first ones (age, stays,
# follow-up after exit, targets): (term, the yml beside the mart, model, columns). A term with several
# columns (the stay histogram's bins) joins their descriptions, each after its label.
MORE_DEFINITIONS = (
    ("Medelålder vid start", "_reports_by_period.yml", "rpt_profile_by_period", ("avg_age_at_start_total",)),
    ("Medelålder per kön", "_reports_by_period.yml", "rpt_profile_by_period", ("avg_age_at_start",)),
    ("Yngsta ålder", "_reports_by_period.yml", "rpt_profile_by_period", ("min_age_at_start_total",)),
    ("Äldsta ålder", "_reports_by_period.yml", "rpt_profile_by_period", ("max_age_at_start_total",)),
    (
        "Ålder × kön",
        "_reports_by_period.yml",
        "rpt_profile_by_period",
        ("participants_women", "participants_men"),
    ),
    (
        "Tid i insatsen, fördelning (månader)",
        "_reports_by_period.yml",
        "rpt_time_in_intervention_by_period",
        (
            "exits_stay_0_3",
            "exits_stay_3_6",
            "exits_stay_6_12",
            "exits_stay_12_18",
            "exits_stay_18_24",
            "exits_stay_over_24",
        ),
    ),
    ("Längre än maxtid", "_reports_by_period.yml", "rpt_time_in_intervention_by_period", ("exits_beyond_max_months",)),
    ("Maxtid", "_reports_by_period.yml", "rpt_time_in_intervention_by_period", ("target_max_months_in_intervention",)),
    ("Avslutskohort", "_follow_up.yml", "rpt_follow_up_after_exit", ("cohort_type",)),
    ("Tid efter avslut", "_follow_up.yml", "rpt_follow_up_after_exit", ("follow_up_months",)),
    ("Uppföljda", "_follow_up.yml", "rpt_follow_up_after_exit", ("followed_up",)),
    ("I arbete vid uppföljningen", "_follow_up.yml", "rpt_follow_up_after_exit", ("in_work",)),
    ("I studier vid uppföljningen", "_follow_up.yml", "rpt_follow_up_after_exit", ("in_studies",)),
    (
        "Andel i arbete eller studier vid uppföljningen",
        "_follow_up.yml",
        "rpt_follow_up_after_exit",
        ("share_of_followed_up_in_work_or_studies",),
    ),
    ("Offentlig försörjning vid uppföljningen", "_follow_up.yml", "rpt_follow_up_after_exit", ("on_public_support",)),
    ("Mål", "_targets.yml", "rpt_target_attainment", ("target_value",)),
    ("Utfall mot mål", "_targets.yml", "rpt_target_attainment", ("actual_value",)),
    ("Uppfyllt", "_targets.yml", "rpt_target_attainment", ("met",)),
)


INTERNAL_ONLY_SV = "; bara internt"


def _swedish(text: str) -> str:
    return text.split(" / en:")[0].removeprefix("sv:").strip()


def _read_more_definitions() -> list[dict]:
    """The definitions in MORE_DEFINITIONS, from the same documentation as `_read_definitions` (the
    marts' dbt yml, which states the KPIs of dbt_project/macros/kpi.sql): one home, nothing restated."""
    folder = REPO_ROOT / "dbt_project" / "models" / "marts" / "reports"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    models: dict[str, dict] = {}
    for name in sorted({f for _, f, _, _ in MORE_DEFINITIONS}):
        for model in yaml.load((folder / name).read_text(encoding="utf-8"), Loader=loader)["models"]:
            models[model["name"]] = model
    out = []
    for term, _, model, wanted in MORE_DEFINITIONS:
        columns = {c["name"]: c for c in models.get(model, {}).get("columns", [])}
        texts = [_swedish(columns.get(column, {}).get("description", "")) for column in wanted]
        texts = [t for t in texts if t]
        if len(texts) > 1:  # one "bara internt" for the term, not one per column
            internal = [t.endswith(INTERNAL_ONLY_SV) for t in texts]
            texts = [t.removesuffix(INTERNAL_ONLY_SV) for t in texts]
            texts[-1] += INTERNAL_ONLY_SV if any(internal) else ""
        if texts:
            out.append({"term": term, "text": "; ".join(texts)})
    return out


# --- the intervention report --------------------------------------------------------------------


def _outcome_cells(snap: Snapshot, row: dict | None) -> dict | None:
    if row is None:
        return None
    cells = {c: snap.count(row, c) for c in OUTCOME_COUNTS}
    cells.update({c: snap.share(row, c) for c in OUTCOME_SHARES})
    cells.update({c: snap.months(row, c) for c in OUTCOME_MONTHS})
    return cells


def _intervention_meta(snap: Snapshot, association: str, intervention: str) -> dict:
    rows = snap.rows(
        "select * from marts.dim_intervention where association_code = ? and intervention_code = ? "
        "order by is_current desc, version_number desc limit 1",
        [association, intervention],
    )
    if not rows:
        raise ReportError(f"Insatsen {association}/{intervention} finns inte i de publicerade martsen.")
    row = rows[0]
    return {
        "code": intervention,
        "name": row.get("intervention_name") or intervention,
        "parties": [_party(snap, p) for p in str(row.get("lead_organisation") or "").split("+") if p],
        "inriktning": row.get("focus"),
        "target_group": ", ".join(
            snap.label("malgrupp", m) for m in str(row.get("target_group") or "").split("+") if m
        ),
        "method": row.get("measurement_method"),
        "start": fmt_date(_to_date(row.get("start_date"))),
        "end": fmt_date(_to_date(row.get("end_date"))) if row.get("end_date") is not None else "tills vidare",
        "places": _nullable(row.get("places")),
        "planned": _nullable(row.get("planned_participants")),
    }


PARTY_SV = {"FK": "Försäkringskassan", "AF": "Arbetsförmedlingen", "REGION": "Regionen"}


def _party(snap: Snapshot, code: str) -> str:
    if code.startswith("KOMMUN:"):
        return _municipality(snap, code.split(":", 1)[1])
    return PARTY_SV.get(code, snap.label("finansiar", code))


def _municipality(snap: Snapshot, code: str) -> str:
    names = snap.memo(
        "municipalities",
        lambda: dict(
            snap.con.execute("select municipality_code, municipality_name from marts.dim_municipality").fetchall()
        ),
    )
    return f"{names[code]} kommun" if code in names else f"kommun {code}"


def _association(snap: Snapshot, association: str) -> dict:
    names = snap.memo(
        "associations",
        lambda: dict(
            snap.con.execute("select association_code, association_name from marts.dim_association").fetchall()
        ),
    )
    if association not in names:
        raise ReportError(f"Förbundet {association} finns inte i de publicerade martsen.")
    return {"code": association, "name": names[association]}


def intervention_figures(
    snap: Snapshot,
    association: str,
    intervention: str,
    spec: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict:
    association, intervention = association.upper(), intervention.upper()
    assoc = _association(snap, association)
    meta = _intervention_meta(snap, association, intervention)
    key = "association_code = ? and intervention_code = ?"
    keys = [association, intervention]
    period = resolve_period(snap, key, keys, spec, start, end)
    pkeys = [*keys, period.period_type, period.label]

    outcomes = {r["measure_window"]: r for r in snap.slice(snap.report("rpt_outcomes_by_period"), pkeys)}
    previous_rows = snap.rows(
        f"select * from {snap.report('rpt_outcomes_by_period')} where {key} and period_type = ? "
        "and measure_window = 'in_period' and cast(period_end as date) = ?",
        [*keys, period.period_type, period.start - dt.timedelta(days=1)],
    )
    previous = previous_rows[0] if previous_rows else None
    completeness = snap.slice("marts.period_completeness", pkeys)[0]

    return {
        "kind": "intervention",
        "internal": snap.internal,
        "association": assoc,
        "intervention": meta,
        "period": period.as_dict(),
        "previous_period": (
            {"label": str(previous["period_label"]), "start": fmt_date(_to_date(previous["period_start"]))}
            if previous
            else None
        ),
        "data_through": fmt_date(_to_date(completeness["data_through"])),
        "published_at": _published_at(snap),
        "completeness": {
            "status": completeness["completeness_status"],
            "text": COMPLETENESS_SV.get(completeness["completeness_status"], completeness["completeness_status"]),
            "due_date": fmt_date(_to_date(completeness["due_date"])),
            "quarantined_file_name": completeness.get("quarantined_file_name"),
        },
        "outcomes": {window: _outcome_cells(snap, row) for window, row in outcomes.items()},
        "previous": _outcome_cells(snap, previous),
        "profile": _profile(snap, pkeys),
        "age": _age(snap, pkeys),
        "exit_categories": _exit_categories(snap, outcomes.get("in_period")),
        "time": _time_in_intervention(snap, pkeys),
        "transitions": _transitions(snap, pkeys),
        "employment": _employment(snap, pkeys),
        "follow_up": _follow_up(snap, association, intervention, period),
        "budget": _budget(snap, association, intervention, period),
        "cost": _cost(snap, pkeys),
        "targets": _targets(snap, association, intervention, period),
        "deliveries": _deliveries(snap, association, intervention, period),
        "definitions": _definitions(),
        "public_note": None if snap.internal else public_note(snap.threshold),
        "threshold": snap.threshold,
    }


def _published_at(snap: Snapshot) -> str:
    return dt.datetime.fromtimestamp(snap.path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")


def _profile_rows(snap: Snapshot, relation: str, params: list) -> list[dict]:
    return snap.slice(relation, params, "and measure_window = 'in_period'", "dimension, category")


def _profile(snap: Snapshot, params: list) -> dict:
    rows = _profile_rows(snap, snap.report("rpt_profile_by_period"), params)
    out: dict[str, list] = {d: [] for d in PROFILE_DIMENSIONS}
    for row in rows:
        dimension = row["dimension"]
        if dimension not in out:
            continue
        code_list = DIMENSION_CODE_LIST.get(dimension)
        label = snap.label(code_list, row["category"]) if code_list else _age_label(row["category"])
        out[dimension].append(
            {
                "code": row["category"],
                "label": label,
                "participants": snap.count(row, "participants"),
                "entrants": snap.count(row, "entrants"),
                "exits": snap.count(row, "exits"),
                "active": snap.count(row, "active_at_period_end"),
                "share": snap.share(row, "share_of_participants"),
            }
        )
    return out


def _age(snap: Snapshot, params: list) -> dict | None:
    """Age at start of the period's participants: mean, youngest and oldest, mean by sex, and
    age band x sex. Internal marts only (rpt_profile_by_period's internal columns): the public
    table has none of them, and the youngest and oldest are one person's age, so a publication
    report shows the age bands only (None here)."""
    if not snap.internal:
        return None
    rows = [
        r for r in _profile_rows(snap, "marts.rpt_profile_by_period", params) if r["dimension"] in ("sex", "age_band")
    ]
    if not rows:
        return None
    first = rows[0]

    def years(value) -> dict:
        value = _nullable(value)
        return cell(None if value is None else float(value), fmt_dec(value, 1))

    return {
        "avg": years(first["avg_age_at_start_total"]),
        "min": cell(_nullable(first["min_age_at_start_total"]), fmt_int(_nullable(first["min_age_at_start_total"]))),
        "max": cell(_nullable(first["max_age_at_start_total"]), fmt_int(_nullable(first["max_age_at_start_total"]))),
        "by_sex": [
            {"code": r["category"], "label": snap.label("kon", r["category"]), "avg": years(r["avg_age_at_start"])}
            for r in rows
            if r["dimension"] == "sex"
        ],
        "by_band_sex": [
            {
                "code": r["category"],
                "label": _age_label(r["category"]),
                "women": snap.count(r, "participants_women"),
                "men": snap.count(r, "participants_men"),
                "all": snap.count(r, "participants"),
            }
            for r in rows
            if r["dimension"] == "age_band"
        ],
    }


def _age_label(band: str) -> str:
    return {"OVRIG": "övriga åldrar", "OKAND": "okänd ålder"}.get(band, f"{band.replace('-', '–')} år")


EXIT_CATEGORIES = (
    ("exits_to_work", "Arbete"),
    ("exits_to_subsidised_work", "Subventionerat arbete"),
    ("exits_to_studies", "Studier"),
    ("exits_to_rehab", "Annan arbetslivsinriktad rehabilitering"),
    ("exits_to_sje_ake", "Sjuk- eller aktivitetsersättning"),
    ("exits_to_other", "Annat (ohälsa, flytt, arbetssökande, annat)"),
    ("early_dropouts", "Tidiga avhopp"),
)


def _exit_categories(snap: Snapshot, row: dict | None) -> list[dict]:
    if row is None:
        return []
    return [{"label": label, "exits": snap.count(row, column)} for column, label in EXIT_CATEGORIES]


def _time_in_intervention(snap: Snapshot, params: list) -> dict:
    rows = snap.slice(
        snap.report("rpt_time_in_intervention_by_period"),
        params,
        "and measure_window = 'in_period' and age_band_scheme = 'standard'",
        "sex, age_band",
    )

    def entry(row, label):
        return {
            "label": label,
            "exits": snap.count(row, "exits"),
            "avg": snap.months(row, "avg_months_in_intervention"),
            "median": snap.months(row, "median_months_in_intervention"),
        }

    by_sex = [entry(r, snap.label("kon", r["sex"])) for r in rows if r["sex"] != "ALL" and r["age_band"] == "ALL"]
    by_age = [entry(r, _age_label(r["age_band"])) for r in rows if r["sex"] == "ALL" and r["age_band"] != "ALL"]
    overall_rows = [r for r in rows if r["sex"] == "ALL" and r["age_band"] == "ALL"]
    overall = overall_rows[0] if overall_rows else None
    return {
        "all": entry(overall, "Alla") if overall else None,
        "by_sex": by_sex,
        "by_age": by_age,
        **_stays(snap, overall),
    }


STAY_BUCKETS = (
    ("exits_stay_0_3", "0–3"),
    ("exits_stay_3_6", "3–6"),
    ("exits_stay_6_12", "6–12"),
    ("exits_stay_12_18", "12–18"),
    ("exits_stay_18_24", "18–24"),
    ("exits_stay_over_24", ">24"),
)


def _stays(snap: Snapshot, overall: dict | None) -> dict:
    """The period's exits by length of stay (months; a bucket holds more than its first and at most
    its last month) and those beyond the register's max_manader. Internal marts only: the public
    table does not publish them (a bucket's count could be worked out from the published total),
    so a publication report has neither (None)."""
    if not snap.internal or overall is None:
        return {"stays": None, "beyond_max": None}
    target = _nullable(overall.get("target_max_months_in_intervention"))
    return {
        "stays": [{"label": label, "exits": snap.count(overall, column)} for column, label in STAY_BUCKETS],
        "beyond_max": {
            "target": None if target is None else int(target),
            "exits": snap.count(overall, "exits_beyond_max_months"),
            "with_target": snap.count(overall, "exits_with_max_months"),
            "all": snap.count(overall, "exits"),
        },
    }


def _transitions(snap: Snapshot, params: list) -> dict | None:
    relation = snap.report("rpt_support_transitions_by_period")
    if not snap.slice(relation, params):
        return None
    rows = snap.slice(relation, params, "and measure_window = 'in_period'", "support_before, support_after")
    before = sorted({r["support_before"] for r in rows if r["support_before"] != "ALL"})
    after = sorted({r["support_after"] for r in rows if r["support_after"] != "ALL"})
    cells = {(r["support_before"], r["support_after"]): snap.count(r, "exits") for r in rows}
    if rows:
        cells[("ALL", "ALL")] = snap.count(rows[0], "exits_total")
    empty = {**(cell(0, "0") if snap.internal else cell(None, "–")), "k": "n"}
    return {
        # the matrix itself only for the period types of var finsam_support_matrix_period_types;
        # the others have only its margins (support at start, support at exit)
        "has_matrix": any(r["support_before"] != "ALL" and r["support_after"] != "ALL" for r in rows),
        "before": [{"code": c, "label": snap.label("forsorjning", c)} for c in before],
        "after": [{"code": c, "label": snap.label("forsorjning", c)} for c in after],
        "matrix": [[cells.get((b, a), empty) for a in [*after, "ALL"]] for b in [*before, "ALL"]],
    }


def _employment(snap: Snapshot, params: list) -> list[dict]:
    rows = snap.slice(
        snap.report("rpt_employment_after_exit_by_period"),
        params,
        "and measure_window = 'in_period'",
        "exits desc, employment_after",
    )
    return [
        {
            "label": snap.label("sysselsattning", r["employment_after"]),
            "exits": snap.count(r, "exits"),
            "full_time": snap.count(r, "exits_full_time"),
            "avg_extent": snap.months(r, "avg_employment_extent_after"),
            "share": snap.share(r, "share_of_exits"),
        }
        for r in rows
    ]


FOLLOW_UP_COUNTS = ("exits", "followed_up", "in_work", "in_studies", "in_work_or_studies", "on_public_support")
FOLLOW_UP_SHARES = (
    "share_of_exits_followed_up",
    "share_of_followed_up_in_work_or_studies",
    "share_of_followed_up_on_public_support",
)


def _follow_up(snap: Snapshot, association: str, intervention: str, period: Period) -> dict:
    """Follow-up after exit (rpt_follow_up_after_exit; pub_ in publication mode) for the exit
    cohorts of the report period: the year and half-year cohorts that lie within it, or, for a
    shorter period, the half-years it falls in. One entry per time after exit (months).
    `delivered` is false when the intervention has no follow-up at all (no row in the mart);
    `headline` marks the cohorts of the sentence "x av y uppföljda = z %" (the year when the period
    holds one, else each half-year): nothing is added up here."""
    table = snap.report("rpt_follow_up_after_exit")
    if not snap.has(table):
        return {"delivered": False, "offsets": [], "shorter_period": False}
    rows = snap.rows(
        f"select * from {table} where association_code = ? and intervention_code = ? "
        "order by follow_up_months, cohort_type = 'year' desc, cohort_start",
        [association, intervention],
    )
    if not rows:
        return {"delivered": False, "offsets": [], "shorter_period": False}
    cohorts = [r for r in rows if r["cohort_type"] in ("year", "half_year")]
    inside = [
        r for r in cohorts if _to_date(r["cohort_start"]) >= period.start and _to_date(r["cohort_end"]) <= period.end
    ]
    shorter = not inside
    if shorter:
        inside = [
            r
            for r in cohorts
            if r["cohort_type"] == "half_year"
            and _to_date(r["cohort_start"]) <= period.end
            and _to_date(r["cohort_end"]) >= period.start
        ]
    has_year = any(r["cohort_type"] == "year" for r in inside)
    unmatched = {r["follow_up_months"]: r for r in rows if r["cohort_type"] == "no_exit_cohort"}
    offsets = []
    for months in sorted({r["follow_up_months"] for r in inside}):
        entries = []
        for r in (r for r in inside if r["follow_up_months"] == months):
            entry = {
                "cohort_type": r["cohort_type"],
                "label": str(r["cohort_label"]),
                "start": fmt_date(_to_date(r["cohort_start"])),
                "end": fmt_date(_to_date(r["cohort_end"])),
                "headline": r["cohort_type"] == "year" or not has_year,
            }
            entry.update({c: snap.count(r, c) for c in FOLLOW_UP_COUNTS})
            entry.update({c: snap.share(r, c) for c in FOLLOW_UP_SHARES})
            entries.append(entry)
        other = unmatched.get(months)
        offsets.append(
            {
                "months": int(months),
                "cohorts": entries,
                # follow-ups of this offset that match no ended episode: exact counts, internal only
                "unmatched": snap.count(other, "unmatched_follow_ups") if other and snap.internal else None,
                "before_exit": snap.count(other, "follow_ups_before_exit") if other and snap.internal else None,
            }
        )
    return {"delivered": True, "offsets": offsets, "shorter_period": shorter and bool(inside)}


def _budget(snap: Snapshot, association: str, intervention: str, period: Period) -> dict | None:
    """The latest budget delivery whose actuals run to a day within the period (the owner's lines,
    both differences, the forecast), and the board's grant."""
    latest = snap.rows(
        "select max(period_end) as slut from marts.fct_budget where association_code = ? and intervention_code = ? "
        "and period_end between ? and ?",
        [association, intervention, period.start, period.end],
    )[0]["slut"]
    if latest is None:
        return None
    lines = snap.rows(
        "select * from marts.fct_budget where association_code = ? and intervention_code = ? and period_end = ? "
        "order by source_row",
        [association, intervention, latest],
    )
    total = snap.rows(
        f"select * from {snap.report('rpt_budget_outcome')} where association_code = ? and intervention_code = ? "
        "and period_end = ?",
        [association, intervention, latest],
    )
    out_lines, mismatches = [], []
    for line in lines:
        text = line.get("line_text") or snap.label("kostnadsslag", line["cost_type"])
        out_lines.append(
            {
                "label": text,
                "kind": snap.label("kostnadsslag", line["cost_type"]),
                "budget": snap.money(line, "budget"),
                "actual": snap.money(line, "actual"),
                "difference": snap.money(line, "difference_computed"),
                "reported": snap.money(line, "difference_reported"),
                "forecast": cell(_nullable(line.get("forecast")), fmt_signed(_nullable(line.get("forecast")))),
                "mismatch": bool(line.get("difference_mismatch")),
            }
        )
        if line.get("difference_mismatch"):
            mismatches.append(
                f"{text}: leveransen anger differensen {fmt_sek(line['difference_reported'])} kr, men "
                f"{fmt_sek(line['budget'])} − {fmt_sek(line['actual'])} = {fmt_sek(line['difference_computed'])} kr."
            )
    summary = None
    if total:
        t = total[0]
        summary = {
            "budget": snap.money(t, "budget"),
            "actual": snap.money(t, "actual"),
            "difference": snap.money(t, "difference_computed"),
            "reported": snap.money(t, "difference_reported"),
            "forecast": cell(_nullable(t.get("forecast")), fmt_signed(_nullable(t.get("forecast")))),
            "granted": snap.money(t, "granted"),
            "budget_minus_granted": snap.money(t, "budget_minus_granted"),
            "differs_from_granted": bool(t.get("budget_differs_from_granted")),
        }
        if _nullable(t.get("difference_reported")) is not None and float(t["difference_reported"]) != float(
            t["difference_computed"]
        ):
            mismatches.append(
                f"Summa: leveransen anger differensen {fmt_sek(t['difference_reported'])} kr, men "
                f"{fmt_sek(t['budget'])} − {fmt_sek(t['actual'])} = {fmt_sek(t['difference_computed'])} kr."
            )
    return {
        "actuals_through": fmt_date(_to_date(latest)),
        "year": lines[0]["year"] if lines else None,
        "lines": out_lines,
        "total": summary,
        "mismatches": mismatches,
    }


COST_NULL_REASON_SV = {
    "no_actuals_before_period_start": "kostnaden före periodens start är inte levererad, så periodens kostnad går inte att räkna ut",
    "no_exits_to_work_or_studies": "inga avslut till arbete eller studier",
    "no_participants": "inga deltagare",
    "no_actuals_at_period_end": "inget utfall är levererat till periodens slut",
    "no_full_year_actuals": "utfallet för något av periodens år inte är levererat",
    "participant_data_incomplete": "deltagaruppgifterna för perioden är ofullständiga",
}


def _cost(snap: Snapshot, params: list) -> dict | None:
    rows = {r["measure_window"]: r for r in snap.slice(snap.report("rpt_cost_by_period"), params)}
    if not rows:
        return None
    out = {}
    for window, row in rows.items():
        reasons = [
            COST_NULL_REASON_SV.get(r, r)
            for r in (
                row.get("cost_per_participant_null_reason"),
                row.get("cost_per_exit_to_work_or_studies_null_reason"),
            )
            if r
        ]
        out[window] = {
            "cost_from": fmt_date(_to_date(row.get("cost_from"))),
            "actual_cost": snap.money(row, "actual_cost"),
            "participants": snap.count(row, "participants"),
            "exits_to_work_or_studies": snap.count(row, "exits_to_work_or_studies"),
            "per_participant": snap.money(row, "cost_per_participant"),
            "per_exit": snap.money(row, "cost_per_exit_to_work_or_studies"),
            "reasons": sorted(set(reasons)),
        }
    return out


def _targets(snap: Snapshot, association: str, intervention: str, period: Period) -> dict:
    """The intervention's targets for the period (marts.rpt_target_attainment, when the marts have it)."""
    table = "marts.rpt_target_attainment" if snap.internal else "public.pub_rpt_target_attainment"
    if not snap.has(table):
        if not snap.internal and snap.has("marts.rpt_target_attainment"):
            return {"rows": [], "note": "Måluppfyllelsen publiceras inte utanför internt underlag."}
        return {"rows": [], "note": "Inga mål registrerade."}
    rows = snap.rows(
        f"select * from {table} where association_code = ? and intervention_code = ? and period_type = ? "
        "and period_label = ? order by target_code",
        [association, intervention, period.period_type, period.label],
    )
    out = []
    for r in rows:
        actual = r.get("actual_value_display") if not snap.internal and r.get("actual_value_suppressed") else None
        out.append(
            {
                "label": r.get("target_label") or r.get("target_code"),
                "target": _target_text(r.get("target_value")),
                "actual": actual or _target_text(_nullable(r.get("actual_value"))),
                "met": "ja" if r.get("met") is True else ("nej" if r.get("met") is False else "–"),
                "note": r.get("note") or "",
            }
        )
    return {"rows": out, "note": None if out else "Inga mål registrerade."}


def _target_text(value) -> str:
    value = _nullable(value)
    if value is None:
        return "–"
    number = float(value)
    if 0 < number < 1:
        return fmt_pct(number)
    return fmt_int(number) if number == int(number) else fmt_dec(number, 1)


def _deliveries(snap: Snapshot, association: str, intervention: str, period: Period) -> list[dict]:
    rows = snap.rows(
        "select kind, period, status, accepted_file_name, latest_file_name, latest_status, days_overdue "
        "from marts.delivery_status where association_code = ? and intervention_code in (?, 'ALL') "
        "and period_start <= ? and period_end >= ? "
        "order by period_start, kind, intervention_code, coalesce(accepted_file_name, latest_file_name)",
        [association, intervention, period.end, period.start],
    )
    return [
        {
            "kind": r["kind"],
            "period": r["period"],
            "file": r["accepted_file_name"] or r["latest_file_name"] or "–",
            "status": DELIVERY_STATUS_SV.get(r["latest_status"], r["latest_status"] or r["status"] or "–"),
            "warning": r["latest_status"] in ("accepted_with_warnings", "quarantined"),
        }
        for r in rows
    ]


# --- the board pack -----------------------------------------------------------------------------


def board_figures(snap: Snapshot, association: str, spec: str) -> dict:
    association = association.upper()
    assoc = _association(snap, association)
    period = resolve_period(snap, "association_code = ?", [association], spec, calendar_only=True)
    rows = snap.rows(
        f"select o.*, i.intervention_name from {snap.report('rpt_outcomes_by_period')} o left join marts.dim_intervention i "
        "on i.association_code = o.association_code and i.intervention_code = o.intervention_code and i.is_current "
        "where o.association_code = ? and o.period_type = ? and o.period_label = ? and o.measure_window = 'in_period' "
        "order by o.intervention_code",
        [association, period.period_type, period.label],
    )
    interventions = []
    for r in rows:
        budget = _latest_budget_total(snap, association, r["intervention_code"], period)
        interventions.append(
            {
                "code": r["intervention_code"],
                "name": r.get("intervention_name") or r["intervention_code"],
                "completeness": r["completeness_status"],
                "participants": snap.count(r, "participants"),
                "entrants": snap.count(r, "entrants"),
                "active": snap.count(r, "active_at_period_end"),
                "exits": snap.count(r, "exits"),
                "share_wsr": snap.share(r, OUTCOME_SHARES[0]),
                "share_ws": snap.share(r, OUTCOME_SHARES[1]),
                "budget": budget,
            }
        )
    return {
        "kind": "board",
        "internal": snap.internal,
        "association": assoc,
        "period": period.as_dict(),
        "published_at": _published_at(snap),
        "interventions": interventions,
        "funding": _funding(snap, association, period),
        "admin": _admin_share(snap, association, period),
        "volume": _volume(snap, association, period),
        "definitions": _definitions(),
        "public_note": None if snap.internal else public_note(snap.threshold),
        "threshold": snap.threshold,
    }


def _latest_budget_total(snap: Snapshot, association: str, intervention: str, period: Period) -> dict | None:
    rows = snap.rows(
        f"select * from {snap.report('rpt_budget_outcome')} where association_code = ? and intervention_code = ? "
        "and period_end between ? and ? order by period_end desc limit 1",
        [association, intervention, period.start, period.end],
    )
    if not rows:
        return None
    r = rows[0]
    return {
        "actuals_through": fmt_date(_to_date(r["period_end"])),
        "budget": snap.money(r, "budget"),
        "actual": snap.money(r, "actual"),
        "difference": snap.money(r, "difference_computed"),
        "forecast": cell(_nullable(r.get("forecast")), fmt_signed(_nullable(r.get("forecast")))),
        "granted": snap.money(r, "granted"),
    }


def _funding(snap: Snapshot, association: str, period: Period) -> dict | None:
    latest = snap.rows(
        "select max(period_end) as slut from marts.fct_funding where association_code = ? and intervention_code = 'ALL' "
        "and period_end between ? and ?",
        [association, period.start, period.end],
    )[0]["slut"]
    if latest is None:
        return None
    rows = snap.rows(
        "select * from marts.fct_funding where association_code = ? and intervention_code = 'ALL' and period_end = ? "
        "order by funder_group = 'STAT' desc, funder_group = 'REGION' desc, funder",
        [association, latest],
    )
    groups: dict[str, dict] = {}
    for r in rows:
        if r.get("expected_group_share") is not None and r["funder_group"] not in groups:
            groups[r["funder_group"]] = {
                "group": {"STAT": "Staten (FK)", "REGION": "Regionen", "KOMMUN": "Kommunerna"}.get(
                    r["funder_group"], r["funder_group"]
                ),
                "amount": cell(float(r["funder_group_amount"]), fmt_sek(r["funder_group_amount"])),
                "share": cell(_nullable(r["funder_group_share"]), fmt_pct(_nullable(r["funder_group_share"]))),
                "expected": cell(float(r["expected_group_share"]), fmt_pct(r["expected_group_share"])),
                "ok": "nej" if r.get("breaks_funding_rule") else "ja",
            }
    return {
        "through": fmt_date(_to_date(latest)),
        "parties": [
            {
                "party": _party(snap, r["funder"]),
                "amount": cell(float(r["amount"]), fmt_sek(r["amount"])),
                "share": cell(_nullable(r["share"]), fmt_pct(_nullable(r["share"]))),
            }
            for r in rows
        ],
        "total": cell(float(rows[0]["total_amount"]), fmt_sek(rows[0]["total_amount"])) if rows else None,
        "groups": list(groups.values()),
        "breaks_rule": any(r.get("breaks_funding_rule") for r in rows),
    }


def _admin_share(snap: Snapshot, association: str, period: Period) -> dict | None:
    """Administrative costs (cost_type ADMIN) against all the association's costs, from the latest
    budget deliveries in the period (money, not people)."""
    rows = snap.rows(
        "with latest as (select intervention_code, max(period_end) as slut from marts.fct_budget "
        "where association_code = ? and period_end between ? and ? group by intervention_code) "
        "select sum(case when b.cost_type = 'ADMIN' then b.actual else 0 end) as admin, sum(b.actual) as total, "
        "sum(case when b.cost_type = 'ADMIN' then b.budget else 0 end) as admin_budget, sum(b.budget) as total_budget "
        "from marts.fct_budget b join latest l on l.intervention_code = b.intervention_code and l.slut = b.period_end "
        "where b.association_code = ?",
        [association, period.start, period.end, association],
    )
    r = rows[0]
    if not r["total"]:
        return None
    return {
        "admin": cell(float(r["admin"]), fmt_sek(r["admin"])),
        "total": cell(float(r["total"]), fmt_sek(r["total"])),
        "share": cell(float(r["admin"]) / float(r["total"]), fmt_pct(float(r["admin"]) / float(r["total"]))),
        "admin_budget": cell(float(r["admin_budget"]), fmt_sek(r["admin_budget"])),
        "total_budget": cell(float(r["total_budget"]), fmt_sek(r["total_budget"])),
    }


def _volume(snap: Snapshot, association: str, period: Period) -> dict:
    """Count-only interventions: their counts are published only in internal reports (there is no
    public table of them, and a report never suppresses on its own)."""
    names = snap.rows(
        "select intervention_code, intervention_name from marts.dim_intervention where association_code = ? and is_current "
        "and measurement_method = 'VOLYM' order by intervention_code",
        [association],
    )
    if not snap.internal:
        return {
            "rows": [{"name": n["intervention_name"], "counts": None} for n in names],
            "note": "Antal publiceras bara i internt underlag.",
        }
    out = []
    for n in names:
        counts = snap.rows(
            "with latest as (select max(period_end) as slut from marts.fct_volume where association_code = ? "
            "and intervention_code = ? and period_end between ? and ?) "
            "select sex, sum(participant_count) as participant_count from marts.fct_volume, latest where association_code = ? "
            "and intervention_code = ? and period_end = latest.slut group by sex order by sex",
            [association, n["intervention_code"], period.start, period.end, association, n["intervention_code"]],
        )
        out.append(
            {
                "name": n["intervention_name"],
                "counts": [
                    {
                        "label": snap.label("kon", c["sex"]),
                        "n": {**cell(int(c["participant_count"]), fmt_int(c["participant_count"])), "k": "n"},
                    }
                    for c in counts
                ],
            }
        )
    return {"rows": out, "note": None}


# --- the county comparison ----------------------------------------------------------------------


def county_figures(snap: Snapshot, spec: str) -> dict:
    period = resolve_period(snap, "true", [], spec, calendar_only=True)
    associations = []
    if period.period_type == "year":
        for r in snap.rows(
            f"select o.*, a.association_name from {snap.report('rpt_county_overview')} o "
            "left join marts.dim_association a using (association_code) where o.year = ? "
            "order by o.scope = 'county', o.association_code",
            [int(period.label)],
        ):
            associations.append(
                {
                    "name": "Hela länet"
                    if r["scope"] == "county"
                    else (r.get("association_name") or r["association_code"]),
                    "county_row": r["scope"] == "county",
                    "interventions": r["interventions"],
                    "people": snap.count(r, "unique_people"),
                    "new": snap.count(r, "new_episodes"),
                    "exits": snap.count(r, "exits"),
                    "exits_ws": snap.count(r, "exits_to_work_or_studies"),
                    "share_ws": snap.share(r, "share_of_exits_to_work_or_studies"),
                }
            )
    rows = snap.rows(
        f"select o.*, i.intervention_name, a.association_name from {snap.report('rpt_outcomes_by_period')} o "
        "left join marts.dim_intervention i on i.association_code = o.association_code "
        "and i.intervention_code = o.intervention_code and i.is_current "
        "left join marts.dim_association a on a.association_code = o.association_code "
        "where o.period_type = ? and o.period_label = ? and o.measure_window = 'in_period' "
        "order by o.association_code, o.intervention_code",
        [period.period_type, period.label],
    )
    interventions = [
        {
            "association": r.get("association_name") or r["association_code"],
            "name": r.get("intervention_name") or r["intervention_code"],
            "participants": snap.count(r, "participants"),
            "exits": snap.count(r, "exits"),
            "share_ws": snap.share(r, OUTCOME_SHARES[1]),
            "share_wsr": snap.share(r, OUTCOME_SHARES[0]),
            "avg_months": snap.months(r, "avg_months_in_intervention"),
        }
        for r in rows
    ]
    shares = [i["share_ws"]["v"] for i in interventions if i["share_ws"]["v"] is not None]
    median = statistics.median(shares) if shares else None
    return {
        "kind": "county",
        "internal": snap.internal,
        "period": period.as_dict(),
        "published_at": _published_at(snap),
        "associations": associations,
        "interventions": interventions,
        "median_share_ws": cell(median, fmt_pct(median)),
        "national_share_ws": cell(NATIONAL_SHARE_TO_WORK_OR_STUDIES, fmt_pct(NATIONAL_SHARE_TO_WORK_OR_STUDIES)),
        "definitions": _definitions(),
        "public_note": None if snap.internal else public_note(snap.threshold),
        "threshold": snap.threshold,
    }
