"""Step 3: validate deliveries with Great Expectations.

Suites are reviewable JSON files under `expectations/` (`<dataset>.<stage>.json`). Each
expectation's `meta` carries its severity (blocking | warning | info) and the Swedish text the
owner reads (`{column}` placeholders are filled from the failing row). Besides one suite
per kind, `columns.landing` checks that every required contract column is in the file,
and the budget has derived suites (totals, granted amount, funding shares). Placeholders such as `$codes.kon` are filled from the contract, so code lists
are defined once. All deliveries of one kind from one association are validated as one
batch (GX names failing rows by `delivery_id` and `source_row`), so hundreds of files do
not mean hundreds of validation runs. The same problem in many rows of one delivery is one
finding naming all its rows (`findings.group_findings`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ingestion.core.config import REPO_ROOT
from ingestion.core.contract import fold, load_contract
from ingestion.core.findings import BLOCKING, WARNING, Finding, format_sek, group_findings
from ingestion.intake.normalize import municipalities

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SUITES_BY_KIND = {
    "deltagare": ["deltagare.landing"],
    "insatser": ["insatser.landing"],
    "budget": ["budget.landing", "budget_totals.landing", "budget_granted.landing", "budget_funding.landing"],
    "volym": ["volym.landing"],
    "uppfoljning": ["uppfoljning.landing"],
}
INDEX_COLUMNS = ["delivery_id", "source_row"]
log = logging.getLogger(__name__)


@dataclass
class Batch:
    """One landed delivery, ready for validation."""

    delivery_id: str
    kind: str
    association: str
    intervention: str
    period_end: date
    frame: pd.DataFrame
    totals: pd.DataFrame | None = None
    columns_present: tuple[str, ...] | None = None  # contract columns found in the delivered header, if known


@dataclass
class Context:
    """What the checks need to know beyond the file itself."""

    as_of: date
    area: tuple[str, ...] = ()  # the association's member municipalities
    register: pd.DataFrame | None = None  # current insatser rows of the association
    overspend_share: float = 0.10


# ---------------------------------------------------------------- suites from files


def load_suite(name: str) -> dict:
    with open(EXPECTATIONS_DIR / f"{name}.json", encoding="utf-8") as handle:
        return json.load(handle)


def _code_alternatives(code_list: str) -> str:
    """Regex alternatives for one code list, with KOMMUN:<kommunkod> where the contract allows it."""
    contract = load_contract()
    alternatives = "|".join(re.escape(c) for c in contract.codes(code_list))
    prefix = contract.prefixed(code_list)
    return alternatives + (rf"|{prefix}:\d{{4}}" if prefix else "")


def _resolve(value, ctx: Context):
    contract = load_contract()
    if not isinstance(value, str) or not value.startswith("$"):
        return value
    key, _, arg = value[1:].partition(".")
    if key == "codes":
        return contract.codes(arg)
    if key == "multi":
        alternatives = _code_alternatives(arg)
        return rf"^(?:{alternatives})(?:\+(?:{alternatives}))*$"
    if key == "single":
        return rf"^(?:{_code_alternatives(arg)})$"
    if key == "valid":
        return contract.valid_text(arg)
    if key == "municipalities":
        return sorted(municipalities())
    if key == "max_birth_year":
        return ctx.as_of.year - 15
    if key == "tolerance":
        return contract.funding_rule["tolerance"]
    if key == "neg_tolerance":
        return -contract.funding_rule["tolerance"]
    if key == "registered":
        codes = (
            [] if ctx.register is None else sorted(ctx.register["insats_kod"].dropna().astype(str).str.upper().unique())
        )
        return ", ".join(codes) or "(inga)"
    if key == "area":
        names = municipalities()
        return ", ".join(f"{code} {names.get(code, '')}".strip() for code in ctx.area)
    return value


def _resolve_text(text: str | None, ctx: Context) -> str | None:
    if not text:
        return text
    return re.sub(r"\$[a-z_]+(?:\.[a-z_]+)?", lambda m: str(_resolve(m.group(0), ctx)), text)


# ---------------------------------------------------------------- derived columns


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(
        series.where(series.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)), format="%Y-%m-%d", errors="coerce"
    )


def _intervention_checks(f: pd.DataFrame, batches: list[Batch], ctx: Context) -> tuple[pd.Series, pd.DataFrame | None]:
    """A person-level delivery's intervention against the current register (one home for both
    person-level kinds): known, and counted per person (not VOLYM). Sets `_intervention_code`,
    `_intervention_known`, `_intervention_person_level`; returns the codes and the register by code
    (None without a register)."""
    intervention = f["delivery_id"].map({b.delivery_id: b.intervention for b in batches})
    f["_intervention_code"] = intervention
    f["_intervention_known"] = True
    f["_intervention_person_level"] = True
    register = ctx.register
    if register is None or not len(register):
        return intervention, None
    reg = register.drop_duplicates("insats_kod", keep="last").set_index("insats_kod")
    known = intervention.isin(reg.index)
    f["_intervention_known"] = known
    f["_intervention_person_level"] = ~known | intervention.map(reg["matmetod"]).ne("VOLYM").fillna(True)
    return intervention, reg


def derive_deltagare(frame: pd.DataFrame, batches: list[Batch], ctx: Context) -> pd.DataFrame:
    f = frame.copy()
    start, end = _dates(f["startdatum"]), _dates(f["slutdatum"])
    birth = _num(f["fodelsear"])
    f["_fodelsear_int"] = birth
    f["_age_at_start"] = start.dt.year - birth
    f["_identity_ok"] = (
        f["person_key"].notna() | f["is_anonymous"].astype(bool) | f["personnummer_status"].eq("ogiltigt").fillna(False)
    )
    latest_start = f["delivery_id"].map({b.delivery_id: pd.Timestamp(min(b.period_end, ctx.as_of)) for b in batches})
    f["_start_not_future"] = start.isna() | (start <= latest_start)
    f["_end_after_start"] = start.isna() | end.isna() | (end >= start)
    ended = f["slutdatum"].notna()
    f["_exit_fields_complete"] = ~ended | (f["avslutsanledning"].notna() & f["forsorjning_efter"].notna())
    f["_no_exit_fields_while_active"] = ended | f["avslutsanledning"].isna()
    exit_fields = ["forsorjning_efter", "sysselsattning_efter", "omfattning_efter"]
    outcome_while_active = ~ended & f[exit_fields].notna().any(axis=1)
    f["_no_outcome_while_active"] = ~outcome_while_active
    f["_exit_fields_given"] = pd.Series(pd.NA, index=f.index, dtype="string")  # quoted back: which were filled
    f.loc[outcome_while_active, "_exit_fields_given"] = f.loc[outcome_while_active, exit_fields].apply(
        lambda row: ", ".join(f"{name} {row[name]}" for name in exit_fields if pd.notna(row[name])), axis=1
    )
    f["_omfattning_num"] = _num(f["omfattning_efter"])
    f["_kommun_in_area"] = f["kommun"].isna() | f["kommun"].isin(ctx.area) if ctx.area else True
    identity = f["person_key"].fillna("")
    dup = f["person_key"].notna() & f.duplicated(["delivery_id", "person_key", "startdatum"], keep=False)
    f["_duplicate_episode"] = dup & identity.ne("")
    intervention, reg = _intervention_checks(f, batches, ctx)
    f["_start_after_intervention"] = True
    f["_referrer_member"] = True
    if reg is not None:
        reg_start = pd.to_datetime(intervention.map(reg["startdatum"]), errors="coerce")
        f["_start_after_intervention"] = reg_start.isna() | start.isna() | (start >= reg_start)
        parties = intervention.map(reg["huvudman"]).fillna("")
        referrer = f["remittent"].fillna("")
        member = pd.Series(
            [
                (not r)
                or r in ("EGEN", "ANNAN")
                or (not p)
                or (r == "KOMMUN" and "KOMMUN:" in p)
                or (r in p.split("+"))
                for r, p in zip(referrer, parties)
            ],
            index=f.index,
        )
        f["_referrer_member"] = member
    return f


def derive_uppfoljning(frame: pd.DataFrame, batches: list[Batch], ctx: Context) -> pd.DataFrame:
    """Follow-up after exit (contract 1.2). Whether the follow-up comes after the episode's exit
    needs the episodes: dbt checks it (a warning on stg_uppfoljning's match), not this suite."""
    f = frame.copy()
    start, followed = _dates(f["startdatum"]), _dates(f["uppfoljningsdatum"])
    f["_identity_ok"] = f["person_key"].notna() | f["personnummer_status"].eq("ogiltigt").fillna(False)
    f["_when_given"] = f["uppfoljningsdatum"].notna() | f["uppfoljning_efter"].notna()
    latest = f["delivery_id"].map({b.delivery_id: pd.Timestamp(min(b.period_end, ctx.as_of)) for b in batches})
    f["_start_not_future"] = start.isna() | (start <= latest)
    f["_follow_up_not_future"] = followed.isna() | (followed <= latest)
    f["_follow_up_after_start"] = start.isna() | followed.isna() | (followed >= start)
    f["_months_int"] = _num(f["uppfoljning_efter"])
    # The occasion is the time after exit when given, else the date (as rpt_follow_up_after_exit keeps
    # one row per episode and months): two dates for the same "6 mån" are the same follow-up twice.
    occasion = f["uppfoljning_efter"].fillna("datum " + f["uppfoljningsdatum"])
    keys = ["delivery_id", "person_key", "startdatum"]
    f["_duplicate_follow_up"] = f["person_key"].notna() & f[keys].assign(_occasion=occasion).duplicated(keep=False)
    _intervention_checks(f, batches, ctx)
    return f


def derive_insatser(frame: pd.DataFrame, batches: list[Batch], ctx: Context) -> pd.DataFrame:
    f = frame.copy()
    start, end = _dates(f["startdatum"]), _dates(f["slutdatum"])
    f["_end_after_start"] = start.isna() | end.isna() | (end >= start)
    f["_duplicate_code"] = f["insats_kod"].notna() & f.duplicated(["delivery_id", "insats_kod"], keep=False)
    f["_party_count"] = f["huvudman"].fillna("").map(lambda v: len([p for p in v.split("+") if p]) if v else 0)
    return f


def derive_budget(frame: pd.DataFrame, batches: list[Batch], ctx: Context) -> pd.DataFrame:
    f = frame.copy()
    budget, actual, reported = _num(f["budget"]), _num(f["utfall"]), _num(f["differens"])
    computed = budget - actual
    f["_difference_computed"] = computed.map(lambda v: format_sek(v) if pd.notna(v) else None)
    tolerance = load_contract().budget_rule["difference_tolerance"]  # the one rule marts.fct_budget reads too
    f["_difference_ok"] = reported.isna() | computed.isna() | ((computed - reported).abs() < tolerance)
    limit = budget * ctx.overspend_share
    f["_overspend_limit"] = limit.map(lambda v: format_sek(v) if pd.notna(v) else None)
    is_cost, is_funding = f["radtyp"].eq("KOSTNAD").fillna(False), f["radtyp"].eq("FINANSIERING").fillna(False)
    f["_overspend_ok"] = ~is_cost | actual.isna() | budget.isna() | (actual <= budget + limit)
    f["_line_kind_given"] = (~is_cost | f["kostnadsslag"].notna()) & (~is_funding | f["finansiar"].notna())
    return f


TOTAL_COLUMNS = ("budget", "utfall", "differens", "prognos")


def budget_totals(batches: list[Batch]) -> pd.DataFrame:
    """One row per Summa/Totalt row: each amount against the sum of the cost lines, and the
    total difference against total budget − total actuals (both numbers quoted)."""
    columns = [*INDEX_COLUMNS]
    for name in TOTAL_COLUMNS:
        columns += [f"{name}_reported", f"{name}_computed", f"_{name}_matches"]
    columns += ["budget_total", "utfall_total", "differens_rule_computed", "_differens_rule_matches"]
    rows = []
    for b in batches:
        if b.totals is None:
            continue
        lines = b.frame[b.frame["radtyp"].eq("KOSTNAD")]
        funding = b.frame[b.frame["radtyp"].eq("FINANSIERING")]
        for _, total in b.totals.iterrows():
            row = {"delivery_id": b.delivery_id, "source_row": int(total["source_row"])}
            # "Nettokostnad"/"Netto": the costs less the funding (0 when the association pays it all).
            net = _is_net_total(total)
            reported = {}
            for name in TOTAL_COLUMNS:
                value = pd.to_numeric(pd.Series([total.get(name)]), errors="coerce").iloc[0]
                reported[name] = value
                if pd.isna(value):
                    continue
                computed = _num(lines[name]).sum() - (_num(funding[name]).sum() if net else 0)
                row.update(
                    {
                        f"{name}_reported": format_sek(value),
                        f"{name}_computed": format_sek(computed),
                        f"_{name}_matches": bool(abs(computed - value) < 0.5),
                    }
                )
            if not any(pd.isna(reported[n]) for n in ("budget", "utfall", "differens")):
                computed = reported["budget"] - reported["utfall"]
                row.update(
                    {
                        "budget_total": format_sek(reported["budget"]),
                        "utfall_total": format_sek(reported["utfall"]),
                        "differens_rule_computed": format_sek(computed),
                        "_differens_rule_matches": bool(abs(computed - reported["differens"]) < 0.5),
                    }
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=columns).astype(object).where(lambda f: f.notna(), None)


def _is_net_total(total: pd.Series) -> bool:
    """A total row whose label (its first text cell) says net: Nettokostnad, Netto."""
    from ingestion.core.contract import fold

    label = next((v for k, v in total.items() if k != "source_row" and isinstance(v, str) and v.strip()), "")
    return fold(label).startswith("netto")


def budget_granted(batches: list[Batch]) -> pd.DataFrame:
    rows = []
    for b in batches:
        f = b.frame
        granted = f[f["radtyp"].eq("BEVILJAT")]
        if granted.empty:
            continue
        costs = f[f["radtyp"].eq("KOSTNAD")]
        if costs.empty:
            continue
        for ar, group in granted.groupby("ar"):
            reported = _num(group["budget"]).sum()
            computed = _num(costs.loc[costs["ar"].eq(ar), "budget"]).sum()
            rows.append(
                {
                    "delivery_id": b.delivery_id,
                    "source_row": int(group["source_row"].iloc[0]),
                    "reported": format_sek(reported),
                    "computed": format_sek(computed),
                    "_matches": bool(abs(computed - reported) < 0.5),
                }
            )
    return pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "reported", "computed", "_matches"])


def budget_funding(batches: list[Batch]) -> pd.DataFrame:
    """The funding rule (contract.yml `funding_rule`, the one definition marts.fct_funding reads too):
    on the association's own budget, each member group's share of the members' contributions."""
    rule = load_contract().funding_rule
    shares = rule["shares"]
    rows = []
    for b in batches:
        if b.intervention != rule["applies_to"]:
            continue
        f = b.frame[b.frame["radtyp"].eq("FINANSIERING")].copy()
        if f.empty:
            continue
        f["group"] = f["finansiar"].fillna("").str.split(":").str[0]
        f = f[f["group"].isin(list(shares))]
        f["amount"] = _num(f["budget"]).abs()
        for _ar, year in f.groupby("ar"):
            total = year["amount"].sum()
            if not total or len(set(year["group"])) < rule["min_groups"]:
                continue
            for group, part in year.groupby("group"):
                share = part["amount"].sum() / total
                expected = shares[group]
                rows.append(
                    {
                        "delivery_id": b.delivery_id,
                        "source_row": int(part["source_row"].iloc[0]),
                        "finansiar": group if group != "KOMMUN" else "kommunerna",
                        "share_pct": f"{share:.0%}".replace("%", " %"),
                        "expected_pct": f"{expected:.0%}".replace("%", " %"),
                        "_share_deviation": round(share - expected, 4),
                    }
                )
    return pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "finansiar", "share_pct", "expected_pct", "_share_deviation"])


def columns_present(batches: list[Batch]) -> pd.DataFrame:
    """One row per required contract column per delivery: is it in the delivered file?

    When the landing step recorded the header (`Batch.columns_present`), a required column
    counts as present if it was in the header or the normaliser could fill it (a budget's
    radtyp inferred from the line text). Otherwise a column with no value in any row counts
    as missing: the normaliser adds absent columns as empty ones, and an entirely empty
    required column makes the delivery just as unusable. The finding is about the header,
    not a row: `source_row` is −1, −2, … (one per column, so each row has its own key) and
    becomes no row number in the finding.
    """
    contract = load_contract()
    rows = []
    for b in batches:
        if b.frame.empty and b.columns_present is None:
            continue  # a header without rows: nothing to tell absent from empty by
        required = [(name, col) for name, col in contract.columns(b.kind).items() if col.required]
        for position, (name, col) in enumerate(required, start=1):
            filled = name in b.frame.columns and bool(b.frame[name].notna().any())
            present = filled or (b.columns_present is not None and name in b.columns_present)
            rows.append(
                {
                    "delivery_id": b.delivery_id,
                    "source_row": -position,
                    "kolumn": name,
                    "rubriker": ", ".join(dict.fromkeys([name, *col.synonyms])),
                    "_present": present,
                }
            )
    return pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "kolumn", "rubriker", "_present"])


DERIVE = {
    "deltagare": derive_deltagare,
    "insatser": derive_insatser,
    "budget": derive_budget,
    "volym": lambda frame, batches, ctx: frame.copy(),
    "uppfoljning": derive_uppfoljning,
}


# ---------------------------------------------------------------- running GX


@lru_cache(maxsize=4)
def _gx_context(root: str):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    for name in ("great_expectations", "tqdm"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="file", project_root_dir=root)
    try:
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
        context.variables.save()
    except Exception:  # older/newer variable shapes: progress bars only affect logs
        pass
    return context


def run_suite(gx_root: Path, suite_name: str, frame: pd.DataFrame, ctx: Context, docs: bool):

    context = _gx_context(str(gx_root))
    spec = load_suite(suite_name)
    configurations = []
    for item in spec["expectations"]:
        if item["kwargs"].get("column") not in frame.columns:
            continue
        kwargs = {k: _resolve(v, ctx) for k, v in item["kwargs"].items()}
        meta = dict(item.get("meta", {}))
        code_list = _code_list_of(item["kwargs"])
        if code_list:
            meta["code_list"] = code_list  # lets a failure name the nearest valid code
            if str(item["kwargs"].get("regex", "")).startswith("$multi."):
                meta["code_multi"] = True  # a cell may hold several codes: the unknown one is named
        configurations.append((item["type"], kwargs, meta))
    # The suite, its validation definition and checkpoint are stored in the GX project once per
    # process and shape; a later run with the same suite only runs the checkpoint.
    key = (
        str(gx_root),
        suite_name,
        docs,
        json.dumps([spec.get("meta", {}), configurations], sort_keys=True, default=str),
    )
    checkpoint = _CHECKPOINTS.get(key)
    if checkpoint is None:
        checkpoint = _store_checkpoint(context, suite_name, spec, configurations, docs)
        _CHECKPOINTS[key] = checkpoint
    result = checkpoint.run(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    return list(result.run_results.values())[0]


_CHECKPOINTS: dict[tuple, object] = {}


def _store_checkpoint(context, suite_name: str, spec: dict, configurations: list, docs: bool):
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    suite = gx.ExpectationSuite(name=suite_name, meta=spec.get("meta", {}))
    for type_, kwargs, meta in configurations:
        suite.add_expectation_configuration(ExpectationConfiguration(type=type_, kwargs=kwargs, meta=meta))
    suite = context.suites.add_or_update(suite)
    try:  # keep the assets other suites' stored checkpoints refer to
        source = context.data_sources.get("deliveries")
    except (KeyError, LookupError, ValueError):
        source = context.data_sources.add_or_update_pandas("deliveries")
    asset_name = suite_name.split(".")[0]
    try:
        asset = source.get_asset(asset_name)
    except (LookupError, ValueError):
        asset = source.add_dataframe_asset(asset_name)
    try:
        batch_definition = asset.get_batch_definition("batch")
    except (KeyError, LookupError, ValueError):
        batch_definition = asset.add_batch_definition_whole_dataframe("batch")
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
    )
    result_format = {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": INDEX_COLUMNS,
        "return_unexpected_index_query": False,
        "partial_unexpected_count": 20,
    }
    actions = [UpdateDataDocsAction(name="data_docs")] if docs else []
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{suite_name}.checkpoint",
            validation_definitions=[definition],
            actions=actions,
            result_format=result_format,
        )
    )


def _empty(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value))


class _Rows:
    """The delivered rows by (delivery_id, source_row), for quoting a failing row's values (the
    first row of a key wins). Positions are indexed once, on the first look-up, and a value is read
    from its column: no row object per failure (a file with a thousand failing rows stays cheap)."""

    def __init__(self, frame: pd.DataFrame):
        self._frame = frame
        self._positions: dict | None = None

    def position(self, key: tuple) -> int | None:
        if self._positions is None:
            self._positions = {}
            keys = zip(self._frame[INDEX_COLUMNS[0]].tolist(), self._frame[INDEX_COLUMNS[1]].tolist())
            for i, k in enumerate(keys):
                self._positions.setdefault(k, i)
        return self._positions.get(key)

    def __contains__(self, key: tuple) -> bool:
        return self.position(key) is not None

    def value(self, key: tuple, column: str):
        i = self.position(key)
        if i is None or column not in self._frame.columns:
            return None
        return self._frame[column].iloc[i]


def _quote(rows: _Rows, key: tuple, meta: dict, fallback) -> str | None:
    columns = meta.get("quote")
    if not columns:
        return None if _empty(fallback) else str(fallback)
    if key not in rows:
        return None
    parts = []
    for col in columns:
        value = rows.value(key, col)
        empty = _empty(value)
        if len(columns) == 1:
            if not empty:
                parts.append(str(value))
        else:
            parts.append(f"{col} {'(tomt)' if empty else value}")
    return ", ".join(parts) if parts else None


def _fill(text: str | None, rows: _Rows, key: tuple, ctx: Context) -> str | None:
    """Fill `$contract` placeholders, then `{column}` placeholders from the failing row."""
    text = _resolve_text(text, ctx)
    if not text or "{" not in text or key not in rows:
        return text

    def fill(match):
        value = rows.value(key, match.group(1))
        if _empty(value):
            return "?"
        return format_sek(value) if re.fullmatch(r"-?\d+(\.\d+)?", str(value)) else str(value)

    return re.sub(r"\{([a-z_]+)\}", fill, text)


def findings_from_result(
    suite_name: str, result, frame: pd.DataFrame, ctx: Context, contexts: dict[str, Context] | None = None
) -> list[tuple[str, Finding]]:
    """(delivery_id, finding) for every failing row of every failed expectation.

    `contexts`: each delivery's own Context when one run checked several associations."""
    by_key = _Rows(frame)
    found = []
    base = ctx
    unknown: dict[tuple, tuple[str, str | None]] = {}  # (code list, multi, value) -> (unknown text, nearest)
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        meta = dict(config.meta or {})
        raw_col = config.kwargs.get("column")
        check = f"{suite_name}:{config.type}:{raw_col}"
        severity = meta.get("severity", BLOCKING)
        for failing in item.result.get("unexpected_index_list") or []:
            row = failing.get("source_row")
            key = (failing["delivery_id"], int(row))
            ctx = contexts.get(key[0], base) if contexts else base
            value = (
                failing.get(raw_col) if not str(raw_col).startswith("_") and raw_col != "personnummer_status" else None
            )
            column = meta.get("column") or raw_col
            if meta.get("column_from"):
                column = str(by_key.value(key, meta["column_from"])) if key in by_key else column
            valid = _fill(meta.get("valid_sv"), by_key, key, ctx)
            code_list = meta.get("code_list")
            text, near = None, None
            if code_list and not _empty(value):
                memo = (code_list, bool(meta.get("code_multi")), str(value))
                if memo not in unknown:
                    unknown[memo] = unknown_value(code_list, str(value), multi=memo[1])
                text, near = unknown[memo]
                candidates = ambiguity(code_list, text)
                if candidates:
                    near = None  # never guessed: the owner (or a county mapping) decides
                    valid = (
                        f"{valid} {ambiguity_sv(code_list, candidates)}"
                        if valid
                        else ambiguity_sv(code_list, candidates)
                    )
                elif near:
                    valid = f"{valid} Närmaste giltiga kod: {near}" if valid else f"närmaste giltiga kod: {near}"
            else:
                candidates = None
            found.append(
                (
                    key[0],
                    Finding(
                        severity=severity,
                        check=check,
                        message_sv=_fill(meta.get("message_sv", ""), by_key, key, ctx),
                        column=column,
                        row=key[1] if key[1] > 0 else None,
                        value=_quote(by_key, key, meta, value),
                        valid_sv=valid,
                        nearest=near,
                        unknown_value=text,
                        candidates=list(candidates) if candidates else None,
                    ),
                )
            )
    return found


def _code_list_of(kwargs: dict) -> str | None:
    """The contract code list an expectation checks against (`$codes.x`, `$multi.x`, `$single.x`)."""
    for name in ("value_set", "regex"):
        ref = kwargs.get(name)
        if isinstance(ref, str) and ref.startswith(("$codes.", "$multi.", "$single.")):
            return ref.split(".", 1)[1]
    return None


def nearest_code(code_list: str, value: str) -> str | None:
    """The contract code closest to a delivered value ("Försörjningstöd" -> FBS), if any is close."""
    import difflib

    contract = load_contract()
    aliases = contract.alias_map(code_list)
    parts = [p for p in re.split(r"\s*(?:\+|,|/|;)\s*", value) if p.strip()] or [value]
    for part in parts:
        folded = fold(part)
        if folded in aliases:
            continue
        match = difflib.get_close_matches(folded, list(aliases), n=1, cutoff=0.6)
        if match:
            return aliases[match[0]]
    return None


def ambiguity(code_list: str, value: str) -> tuple[str, ...]:
    """The codes a value could mean when the vocabulary refuses to choose ('Sjukskriven',
    'Arbete/studier', 'Gymnasiet, ej fullföljt'); empty when the value is simply unknown."""
    from ingestion.intake.normalize import Reading, code_parser

    reading = Reading()
    code_parser(code_list, False, reading=reading)(value)
    return reading.ambiguous.get(value, ())


def ambiguity_sv(code_list: str, candidates: tuple[str, ...]) -> str:
    labels = load_contract().code_list(code_list)
    named = ", ".join(f"{c} ({labels.get(c, {}).get('label', '')})" for c in candidates)
    if len(candidates) == 1:
        return (
            f"Värdet liknar {named} men innehåller ett ord som ändrar betydelsen (t.ex. 'ej', 'inte'), "
            "så det tolkas inte automatiskt; skriv koden."
        )
    return (
        f"Värdet kan betyda flera koder: {named}. Det gissas inte; skriv den kod som gäller "
        "(eller be länets dataenhet lägga in en mappning för förbundet)."
    )


def unknown_value(code_list: str, value: str, multi: bool = False) -> tuple[str, str | None]:
    """The delivered text a code list does not read, and the valid code nearest to it.

    The whole value, except in a cell of several codes ('AKS, Qwxyz'): there only a part no
    code, label or alias reads (the first with a nearest code, else the first), since that part
    is what a county mapping (`finsam map`) would teach."""
    if multi:
        from ingestion.intake.normalize import CODE_SEPARATORS, code_parser

        read = code_parser(code_list, False)
        parts = [p.strip() for p in CODE_SEPARATORS.split(value) if p.strip()]
        unknown = [p for p in parts if read(p) is None]
        if len(parts) > 1 and unknown:
            candidates = [(part, nearest_code(code_list, part)) for part in unknown]
            return next((c for c in candidates if c[1]), candidates[0])
    return value, nearest_code(code_list, value)


def _without_noise(findings: list[Finding]) -> list[Finding]:
    """A missing required column is one finding, not one per row about the same column."""
    missing = {f.column for f in findings if f.check.startswith("columns.landing:")}
    if not missing:
        return findings
    return [f for f in findings if f.check.startswith("columns.landing:") or f.column not in missing]


def validation_datasets(batches: list[Batch], ctx: Context) -> dict[str, pd.DataFrame]:
    """The frames each suite checks (derived columns added), for one association's deliveries."""
    by_kind: dict[str, list[Batch]] = {}
    for b in batches:
        by_kind.setdefault(b.kind, []).append(b)
    datasets: dict[str, pd.DataFrame] = {"columns.landing": columns_present(batches)}
    for kind, group in by_kind.items():
        frames = []
        for b in group:
            frame = b.frame.copy()
            frame.insert(0, "delivery_id", b.delivery_id)
            frames.append(frame)
        datasets[f"{kind}.landing"] = DERIVE[kind](pd.concat(frames, ignore_index=True), group, ctx)
        if kind == "budget":
            datasets.update(
                {
                    "budget_totals.landing": budget_totals(group),
                    "budget_granted.landing": budget_granted(group),
                    "budget_funding.landing": budget_funding(group),
                }
            )
    return datasets


def run_validation(batches: list[Batch], ctx: Context, gx_root: Path, docs: bool = True) -> dict[str, list[Finding]]:
    """Validate deliveries (any kinds); returns findings per delivery_id."""
    return run_validation_many([(batches, ctx)], gx_root, docs=docs)


def run_validation_many(
    jobs: list[tuple[list[Batch], Context]], gx_root: Path, docs: bool = True
) -> dict[str, list[Finding]]:
    """Validate the deliveries of several associations (each with its own Context) in one GX
    run per suite: the derived columns are computed per association, then the rows of all of
    them go through each suite once (rows are told apart by delivery_id). GX's fixed cost per
    suite run (building its metric graph) is then paid once, not once per association. The
    suites' parameters depend only on `as_of` and the contract, so the jobs must share `as_of`."""
    findings: dict[str, list[Finding]] = {b.delivery_id: [] for batches, _ in jobs for b in batches}
    if not jobs:
        return findings
    if len({ctx.as_of for _, ctx in jobs}) > 1:
        raise ValueError("run_validation_many: all jobs must share as_of")
    contexts = {b.delivery_id: ctx for batches, ctx in jobs for b in batches}
    collected: dict[str, list[pd.DataFrame]] = {}
    for batches, ctx in jobs:
        for suite_name, frame in validation_datasets(batches, ctx).items():
            if not frame.empty:
                collected.setdefault(suite_name, []).append(frame)
    ctx = jobs[0][1]
    for suite_name, frames in collected.items():
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        result = run_suite(gx_root, suite_name, frame, ctx, docs)
        for delivery_id, finding in findings_from_result(
            suite_name, result, frame, ctx, contexts if len(jobs) > 1 else None
        ):
            findings[delivery_id].append(finding)
    return {delivery_id: group_findings(_without_noise(found)) for delivery_id, found in findings.items()}


def refresh_data_docs(gx_root: Path) -> None:
    """Rebuild the whole Data Docs site of one GX root (index and every stored result)."""
    if (Path(gx_root) / "gx" / "great_expectations.yml").exists():
        _gx_context(str(gx_root)).build_data_docs()


def verdict(findings: list[Finding]) -> str:
    """quarantined (a blocking finding), accepted_with_warnings (a warning) or accepted; an INFO
    finding never changes it."""
    if any(f.severity == BLOCKING for f in findings):
        return "quarantined"
    if any(f.severity == WARNING for f in findings):
        return "accepted_with_warnings"
    return "accepted"
