"""Step 3: validate deliveries with Great Expectations.

Suites are reviewable JSON files under `expectations/` (`<dataset>.<stage>.json`). Each
expectation's `meta` carries its severity (blocking | warning) and the Swedish text the
owner reads. Placeholders such as `$codes.kon` are filled from the contract, so code lists
are defined once. All deliveries of one kind from one association are validated as one
batch (GX names failing rows by `delivery_id` and `source_row`), so hundreds of files do
not mean hundreds of validation runs.
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

from .config import REPO_ROOT
from .contract import load_contract
from .findings import BLOCKING, WARNING, Finding, format_sek
from .normalize import municipalities

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SUITES_BY_KIND = {
    "deltagare": ["deltagare.landing"],
    "insatser": ["insatser.landing"],
    "budget": ["budget.landing", "budget_totals.landing", "budget_granted.landing", "budget_funding.landing"],
    "volym": ["volym.landing"],
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


@dataclass
class Context:
    """What the checks need to know beyond the file itself."""
    as_of: date
    area: tuple[str, ...] = ()                   # the association's member municipalities
    register: pd.DataFrame | None = None         # current insatser rows of the association
    overspend_share: float = 0.10


# ---------------------------------------------------------------- suites from files

def load_suite(name: str) -> dict:
    with open(EXPECTATIONS_DIR / f"{name}.json", encoding="utf-8") as handle:
        return json.load(handle)


def _resolve(value, ctx: Context):
    contract = load_contract()
    if not isinstance(value, str) or not value.startswith("$"):
        return value
    key, _, arg = value[1:].partition(".")
    if key == "codes":
        return contract.codes(arg)
    if key == "multi":
        alternatives = "|".join(re.escape(c) for c in contract.codes(arg))
        prefix = contract.prefixed(arg)
        if prefix:
            alternatives += rf"|{prefix}:\d{{4}}"
        return rf"^(?:{alternatives})(?:\+(?:{alternatives}))*$"
    if key == "single":
        alternatives = "|".join(re.escape(c) for c in contract.codes(arg))
        prefix = contract.prefixed(arg)
        if prefix:
            alternatives += rf"|{prefix}:\d{{4}}"
        return rf"^(?:{alternatives})$"
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
    return pd.to_datetime(series.where(series.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)),
                          format="%Y-%m-%d", errors="coerce")


def derive_deltagare(frame: pd.DataFrame, batches: list[Batch], ctx: Context) -> pd.DataFrame:
    f = frame.copy()
    start, end = _dates(f["startdatum"]), _dates(f["slutdatum"])
    birth = _num(f["fodelsear"])
    f["_fodelsear_int"] = birth
    f["_age_at_start"] = start.dt.year - birth
    f["_identity_ok"] = f["person_key"].notna() | f["is_anonymous"] | f["personnummer_status"].eq("ogiltigt")
    period_end = f["delivery_id"].map({b.delivery_id: pd.Timestamp(b.period_end) for b in batches})
    f["_start_not_future"] = start.isna() | (start <= period_end)
    f["_end_after_start"] = start.isna() | end.isna() | (end >= start)
    ended = f["slutdatum"].notna()
    f["_exit_fields_complete"] = ~ended | (f["avslutsanledning"].notna() & f["forsorjning_efter"].notna())
    f["_no_exit_fields_while_active"] = ended | f["avslutsanledning"].isna()
    f["_omfattning_num"] = _num(f["omfattning_efter"])
    f["_kommun_in_area"] = f["kommun"].isna() | f["kommun"].isin(ctx.area) if ctx.area else True
    identity = f["person_key"].fillna("")
    dup = f["person_key"].notna() & f.duplicated(["delivery_id", "person_key", "startdatum"], keep=False)
    f["_duplicate_episode"] = dup & identity.ne("")
    intervention = f["delivery_id"].map({b.delivery_id: b.intervention for b in batches})
    f["_intervention_known"] = True
    f["_intervention_person_level"] = True
    f["_start_after_intervention"] = True
    f["_referrer_member"] = True
    register = ctx.register
    if register is not None and len(register):
        reg = register.drop_duplicates("insats_kod", keep="last").set_index("insats_kod")
        known = intervention.isin(reg.index)
        f["_intervention_known"] = known
        f["_intervention_person_level"] = ~known | intervention.map(reg["matmetod"]).ne("VOLYM")
        reg_start = pd.to_datetime(intervention.map(reg["startdatum"]), errors="coerce")
        f["_start_after_intervention"] = reg_start.isna() | start.isna() | (start >= reg_start)
        parties = intervention.map(reg["huvudman"]).fillna("")
        referrer = f["remittent"].fillna("")
        member = pd.Series([
            (not r) or r in ("EGEN", "ANNAN") or (not p) or
            (r == "KOMMUN" and "KOMMUN:" in p) or (r in p.split("+"))
            for r, p in zip(referrer, parties)], index=f.index)
        f["_referrer_member"] = member
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
    f["_difference_ok"] = reported.isna() | computed.isna() | ((computed - reported).abs() < 0.5)
    limit = budget * ctx.overspend_share
    f["_overspend_limit"] = limit.map(lambda v: format_sek(v) if pd.notna(v) else None)
    f["_overspend_ok"] = ~f["radtyp"].eq("KOSTNAD") | actual.isna() | budget.isna() | (actual <= budget + limit)
    f["_line_kind_given"] = (~f["radtyp"].eq("KOSTNAD") | f["kostnadsslag"].notna()) & \
                            (~f["radtyp"].eq("FINANSIERING") | f["finansiar"].notna())
    for name in ("budget", "utfall", "differens"):
        f[f"{name}"] = f[name]
    return f


def budget_totals(batches: list[Batch]) -> pd.DataFrame:
    rows = []
    for b in batches:
        if b.totals is None:
            continue
        lines = b.frame[b.frame["radtyp"].eq("KOSTNAD")]
        for _, total in b.totals.iterrows():
            for name in ("budget", "utfall", "differens", "prognos"):
                reported = pd.to_numeric(pd.Series([total.get(name)]), errors="coerce").iloc[0]
                if pd.isna(reported):
                    continue
                computed = _num(lines[name]).sum()
                rows.append({"delivery_id": b.delivery_id, "source_row": int(total["source_row"]), "kolumn": name,
                             "reported": format_sek(reported), "computed": format_sek(computed),
                             "_matches": bool(abs(computed - reported) < 0.5)})
    return pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "kolumn", "reported", "computed", "_matches"])


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
            rows.append({"delivery_id": b.delivery_id, "source_row": int(group["source_row"].iloc[0]),
                         "reported": format_sek(reported), "computed": format_sek(computed),
                         "_matches": bool(abs(computed - reported) < 0.5)})
    return pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "reported", "computed", "_matches"])


def budget_funding(batches: list[Batch]) -> pd.DataFrame:
    rule = load_contract().funding_rule
    rows = []
    for b in batches:
        f = b.frame[b.frame["radtyp"].eq("FINANSIERING")].copy()
        if f.empty:
            continue
        f["group"] = f["finansiar"].fillna("").str.split(":").str[0]
        f = f[f["group"].isin(["STAT", "REGION", "KOMMUN"])]
        f["amount"] = _num(f["budget"])
        for ar, year in f.groupby("ar"):
            total = year["amount"].sum()
            if not total or len(set(year["group"])) < 2:
                continue
            for group, part in year.groupby("group"):
                share = part["amount"].sum() / total
                expected = rule[group]
                rows.append({"delivery_id": b.delivery_id, "source_row": int(part["source_row"].iloc[0]),
                             "finansiar": group if group != "KOMMUN" else "kommunerna",
                             "share_pct": f"{share:.0%}".replace("%", " %"),
                             "expected_pct": f"{expected:.0%}".replace("%", " %"),
                             "_share_deviation": round(share - expected, 4)})
    return pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "finansiar", "share_pct", "expected_pct", "_share_deviation"])


DERIVE = {"deltagare": derive_deltagare, "insatser": derive_insatser, "budget": derive_budget,
          "volym": lambda frame, batches, ctx: frame.copy()}


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


def _run_suite(gx_root: Path, suite_name: str, frame: pd.DataFrame, ctx: Context, docs: bool):
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    context = _gx_context(str(gx_root))
    spec = load_suite(suite_name)
    suite = gx.ExpectationSuite(name=suite_name, meta=spec.get("meta", {}))
    for item in spec["expectations"]:
        if item["kwargs"].get("column") not in frame.columns:
            continue
        kwargs = {k: _resolve(v, ctx) for k, v in item["kwargs"].items()}
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=item["type"], kwargs=kwargs, meta=item.get("meta", {})))
    suite = context.suites.add_or_update(suite)
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
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite))
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": INDEX_COLUMNS,
                     "return_unexpected_index_query": False, "partial_unexpected_count": 20}
    actions = [UpdateDataDocsAction(name="data_docs")] if docs else []
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=f"{suite_name}.checkpoint", validation_definitions=[definition],
                      actions=actions, result_format=result_format))
    result = checkpoint.run(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    return list(result.run_results.values())[0]


def _quote(frame_by_key: pd.DataFrame, key: tuple, meta: dict, fallback) -> str | None:
    columns = meta.get("quote")
    if not columns:
        return None if fallback is None or (isinstance(fallback, float) and pd.isna(fallback)) else str(fallback)
    if key not in frame_by_key.index:
        return None
    row = frame_by_key.loc[key]
    if isinstance(row, pd.DataFrame):
        row = row.iloc[0]
    parts = []
    for col in columns:
        value = row.get(col)
        empty = value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))
        if len(columns) == 1:
            if not empty:
                parts.append(str(value))
        else:
            parts.append(f"{col} {'(tomt)' if empty else value}")
    return ", ".join(parts) if parts else None


def _message(meta: dict, frame_by_key: pd.DataFrame, key: tuple, ctx: Context) -> str:
    text = meta.get("message_sv", "")
    if "{" not in text or key not in frame_by_key.index:
        return _resolve_text(text, ctx)
    row = frame_by_key.loc[key]
    if isinstance(row, pd.DataFrame):
        row = row.iloc[0]

    def fill(match):
        value = row.get(match.group(1))
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            return "?"
        return format_sek(value) if re.fullmatch(r"-?\d+(\.\d+)?", str(value)) else str(value)

    return re.sub(r"\{([a-z_]+)\}", fill, text)


def run_validation(batches: list[Batch], ctx: Context, gx_root: Path, docs: bool = True) -> dict[str, list[Finding]]:
    """Validate deliveries (any kinds); returns findings per delivery_id."""
    findings: dict[str, list[Finding]] = {b.delivery_id: [] for b in batches}
    by_kind: dict[str, list[Batch]] = {}
    for b in batches:
        by_kind.setdefault(b.kind, []).append(b)
    for kind, group in by_kind.items():
        frames = []
        for b in group:
            frame = b.frame.copy()
            frame.insert(0, "delivery_id", b.delivery_id)
            frames.append(frame)
        main = DERIVE[kind](pd.concat(frames, ignore_index=True), group, ctx)
        datasets = {f"{kind}.landing": main}
        if kind == "budget":
            datasets.update({"budget_totals.landing": budget_totals(group),
                             "budget_granted.landing": budget_granted(group),
                             "budget_funding.landing": budget_funding(group)})
        for suite_name, frame in datasets.items():
            if frame.empty:
                continue
            result = _run_suite(gx_root, suite_name, frame, ctx, docs)
            by_key = frame.set_index(INDEX_COLUMNS, drop=False)
            for item in result.results:
                if item.success:
                    continue
                meta = dict(item.expectation_config.meta or {})
                column = meta.get("column") or item.expectation_config.kwargs.get("column")
                valid = _resolve_text(meta.get("valid_sv"), ctx)
                check = f"{suite_name}:{item.expectation_config.type}:{item.expectation_config.kwargs.get('column')}"
                severity = meta.get("severity", BLOCKING)
                raw_col = item.expectation_config.kwargs.get("column")
                for failing in item.result.get("unexpected_index_list") or []:
                    key = (failing["delivery_id"], int(failing["source_row"]))
                    value = failing.get(raw_col) if not str(raw_col).startswith("_") and raw_col != "personnummer_status" else None
                    findings[key[0]].append(Finding(
                        severity=severity, check=check, message_sv=_message(meta, by_key, key, ctx),
                        column=column, row=key[1], value=_quote(by_key, key, meta, value), valid_sv=valid))
    return findings


def verdict(findings: list[Finding]) -> str:
    if any(f.severity == BLOCKING for f in findings):
        return "quarantined"
    if any(f.severity == WARNING for f in findings):
        return "accepted_with_warnings"
    return "accepted"
