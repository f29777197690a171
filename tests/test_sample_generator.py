"""The sample county generator (data/generate_sample.py): deterministic, committed output
up to date, and the Avesta and Skellefteå files encode the reference figures exactly.

The files are read back with plain pandas (not the pipeline's readers), labels mapped to
codes with the aliases of ingestion/contract.yml.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
REFERENCE = REPO / "data" / "sample_reference"
AS_OF = date(2016, 6, 30)


def _generator():
    spec = importlib.util.spec_from_file_location("generate_sample", REPO / "data" / "generate_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()


def fold(text) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z0-9<>+]+", " ", text.lower()).split())


CONTRACT = yaml.safe_load((REPO / "ingestion" / "contract.yml").read_text(encoding="utf-8"))


def code_map(code_list: str) -> dict[str, str]:
    out = {}
    for code, spec in CONTRACT["codes"][code_list].items():
        out[fold(code)] = code
        for alias in spec.get("aliases", []):
            out.setdefault(fold(alias), code)
    return out


def header_map(kind: str) -> dict[str, str]:
    out = {}
    for name, spec in CONTRACT["kinds"][kind]["columns"].items():
        out[fold(name)] = name
        for synonym in spec.get("synonyms", []):
            out[fold(synonym)] = name
    return out


def to_code(value, code_list: str) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return None
    mapping = code_map(code_list)
    parts = re.split(r"\s*[+,/]\s*", str(value).strip())
    codes = [mapping[fold(p)] for p in parts]
    return "+".join(codes)


def to_date(value) -> date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return None
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for pattern, fmt in ((r"^\d{4}-\d{2}-\d{2}$", "%Y-%m-%d"), (r"^\d{8}$", "%Y%m%d"), (r"^\d{6}$", "%y%m%d")):
        if re.match(pattern, text):
            return datetime.strptime(text, fmt).date()
    match = re.match(r"^(\d{1,2})/(\d{1,2}) (\d{4})$", text)
    assert match, text
    return date(int(match[3]), int(match[2]), int(match[1]))


def read_deltagare(path: Path) -> pd.DataFrame:
    """A deltagare delivery as a frame with contract column names (title rows skipped)."""
    if path.suffix == ".xlsx":
        raw = pd.read_excel(path, header=None, dtype=object)
    else:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252")
        sep = ";" if text.splitlines()[0].count(";") >= text.splitlines()[0].count(",") else ","
        from io import StringIO

        raw = pd.read_csv(
            StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    names = header_map("deltagare")
    header_row = next(
        i for i in range(len(raw)) if sum(fold(v) in names for v in raw.iloc[i].tolist() if isinstance(v, str)) >= 5
    )
    frame = raw.iloc[header_row + 1 :].copy()
    frame.columns = [names[fold(v)] for v in raw.iloc[header_row].tolist()]
    frame = frame.replace({"": None}).dropna(how="all").reset_index(drop=True)
    return frame


def avesta_figures(path: Path) -> dict:
    f = read_deltagare(path)
    start = f["startdatum"].map(to_date)
    end = f["slutdatum"].map(to_date)
    in_report = f[start <= AS_OF].copy()
    in_report["start"] = start[start <= AS_OF]
    in_report["end"] = end[start <= AS_OF]
    exited = in_report[in_report["end"].notna() & (in_report["end"] <= AS_OF)]
    reasons = Counter(exited["avslutsanledning"].map(lambda v: to_code(v, "avslutsanledning")))
    stays = [(e - s).days for s, e in zip(exited["start"], exited["end"])]
    support = Counter(in_report["forsorjning_fore"].map(lambda v: to_code(v, "forsorjning")))
    anonymous = in_report["anonym"].map(lambda v: to_code(v, "ja_nej")).eq("J").sum() if "anonym" in in_report else 0
    return {
        "enrolled": len(in_report),
        "first_intake": min(in_report["start"]),
        "exits": len(exited),
        "active": len(in_report) - len(exited),
        "reasons": reasons,
        "kon": Counter(in_report["kon"].map(lambda v: to_code(v, "kon"))),
        "remittent": Counter(in_report["remittent"].map(lambda v: to_code(v, "remittent"))),
        "support": support,
        "max_stay_days": max(stays),
        "mean_stay_months": sum(stays) / len(stays) / 30.4375,
        "anonymous": int(anonymous),
        "identified": int((in_report["personnummer"].notna() | in_report["deltagar_id"].notna()).sum()),
        "later_starts": int((start > AS_OF).sum()),
    }


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- determinism and freshness


def test_generator_is_deterministic(tmp_path):
    gen.generate_sample(tmp_path / "a")
    gen.generate_sample(tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys()
    csv_names = [n for n in a if n.endswith((".csv", ".yml"))]
    assert len(csv_names) > 60
    assert [n for n in csv_names if a[n] != b[n]] == []
    # xlsx are byte-stable too (fixed document dates and zip timestamps)
    assert [n for n in a if a[n] != b[n]] == []


def test_committed_sample_matches_a_fresh_generation(tmp_path):
    gen.generate_sample(tmp_path / "fresh")
    fresh = _files(tmp_path / "fresh")
    committed = _files(SAMPLE)
    committed.pop("README.md", None)
    assert sorted(committed) == sorted(fresh), "data/sample is stale: run python data/generate_sample.py"
    stale = [n for n in fresh if n.endswith((".csv", ".yml")) and fresh[n] != committed[n]]
    assert stale == [], "data/sample is stale: run python data/generate_sample.py"
    assert (REPO / "config" / "registry.yml").read_bytes() == fresh["registry.yml"]


def test_committed_reference_matches_a_fresh_generation(tmp_path):
    gen.generate_reference(tmp_path / "ref")
    fresh = _files(tmp_path / "ref")
    committed = {k: v for k, v in _files(REFERENCE).items() if k != "README.md"}
    assert committed == fresh


# ---------------------------------------------------------------- Samverkansteam Avesta (seed 002)


@pytest.mark.parametrize("name", ["SODRA_AVESTA_deltagare_2016T2.xlsx", "SODRA_AVESTA_deltagare_2016T3.csv"])
def test_avesta_file_encodes_the_report(name):
    fig = avesta_figures(SAMPLE / "landing" / "SODRA" / name)
    assert fig["enrolled"] == 57
    assert fig["first_intake"] == date(2015, 5, 13)
    assert fig["exits"] == 18
    assert fig["active"] == 39
    reasons = fig["reasons"]
    assert reasons["AVBROTT"] == 4
    assert reasons["ARBETE"] == 5
    assert reasons.get("STUDIER", 0) == 0
    assert reasons["REHAB"] == 2
    assert reasons["SJE_AKE"] == 2
    other = sum(v for k, v in reasons.items() if k in ("ANNAT", "FLYTT", "OHALSA", "ARBETSSOKANDE"))
    assert other == 5 and sum(reasons.values()) == 18
    # "7 av 14 = 50 %": exits excluding early drop-outs, of them to work or other rehab
    assert (reasons["ARBETE"] + reasons["REHAB"]) / (18 - reasons["AVBROTT"]) == 0.5
    assert fig["kon"] == Counter({"K": 30, "M": 27})
    assert fig["remittent"] == Counter({"KOMMUN": 25, "FK": 21, "REGION": 8, "AF": 3})
    support = fig["support"]
    assert support["FBS"] == 33
    assert support["SJP"] + support["AKE"] + support["SJE"] == 22
    assert support["OVR"] + support["INGEN"] == 2
    assert fig["max_stay_days"] <= 366
    assert round(fig["mean_stay_months"], 2) == 8.46
    assert fig["anonymous"] == 0 and fig["identified"] == 57
    assert fig["later_starts"] > 0  # intakes after the report period exist and are left out above


def test_avesta_earlier_deliveries_are_consistent():
    """Cumulative deliveries: each person keeps the same start date in every later delivery."""
    folder = SAMPLE / "landing" / "SODRA"
    keys = {}
    for name in (
        "SODRA_AVESTA_deltagare_2015T3.xlsx",
        "SODRA_AVESTA_deltagare_2016T1.csv",
        "SODRA_AVESTA_deltagare_2016T2.xlsx",
        "SODRA_AVESTA_deltagare_2016T3.csv",
    ):
        f = read_deltagare(folder / name)
        ident = f["personnummer"].fillna(f["deltagar_id"])
        keys[name] = {i: to_date(s) for i, s in zip(ident, f["startdatum"]) if isinstance(i, str)}
    names = list(keys)
    for earlier, later in zip(names, names[1:]):
        for person, start in keys[earlier].items():
            assert keys[later].get(person) == start, (earlier, later)


def test_avesta_budget_is_the_reported_table():
    text = (SAMPLE / "landing" / "SODRA" / "SODRA_AVESTA_budget_2016H1.csv").read_text(encoding="utf-8")
    lines = [line.split(";") for line in text.splitlines()]
    by_text = {line[4]: line for line in lines[1:]}
    assert by_text["Personal"][5:9] == ["1 775 000", "819 000", "955 000", "0"]
    assert by_text["Lokaler"][5:9] == ["165 000", "88 000", "77 000", "-9 000"]
    assert by_text["Övriga kostnader"][5:9] == ["160 000", "81 000", "79 000", "+20 000"]
    assert by_text["Summa"][5:9] == ["2 100 000", "988 000", "1 111 000", "+11 000"]
    assert by_text["Beviljat av styrelsen"][2] == "Beviljat" and by_text["Beviljat av styrelsen"][5] == "2 000 000"
    assert all(line[0] == "2016" and line[1] == "2016-06-30" for line in lines[1:5])


# ---------------------------------------------------------------- faulty deliveries


def test_faulty_deliveries_are_there():
    kraften = read_deltagare(SAMPLE / "landing" / "SODRA" / "SODRA_KRAFTEN_deltagare_2016T3.csv")
    numbers = [re.sub(r"\D", "", p)[-10:] for p in kraften["personnummer"].dropna()]
    assert sum(not gen.luhn_ok(n) for n in numbers) == 1
    mitt = read_deltagare(SAMPLE / "landing" / "MITT" / "MITT_UNGVUXNA_deltagare_2016T1.xlsx")
    starts, ends = mitt["startdatum"].map(to_date), mitt["slutdatum"].map(to_date)
    assert sum(1 for s, e in zip(starts, ends) if e is not None and e < s) == 1
    assert (mitt["avslutsanledning"] == "Semester").sum() == 1
    not_xlsx = (SAMPLE / "landing" / "NORR" / "NORR_JOBBNORR_budget_2016T2.xlsx").read_bytes()
    assert not not_xlsx.startswith(b"PK")
    assert (SAMPLE / "landing" / "NORR" / "NORR_Okand fil.csv").exists()
    assert not any(p.name.startswith("NORR_METODUTB_deltagare") for p in (SAMPLE / "landing").rglob("*"))


def test_every_personnummer_in_good_files_is_luhn_valid_and_people_are_shared():
    seen: dict[str, set[str]] = {}
    for path in sorted((SAMPLE / "landing").rglob("*_deltagare_*")):
        f = read_deltagare(path)
        for value in f["personnummer"].dropna():
            digits = re.sub(r"\D", "", value)
            assert len(digits) in (10, 12)
            if path.name != "SODRA_KRAFTEN_deltagare_2016T3.csv":
                assert gen.luhn_ok(digits[-10:]), path.name
            seen.setdefault(digits[-10:], set()).add(path.name.split("_")[0])
    assert len(seen) > 200
    assert sum(1 for assocs in seen.values() if len(assocs) > 1) >= 10


# ---------------------------------------------------------------- Skellefteå (seed 000)


def test_skelleftea_reference_figures():
    f = read_deltagare(REFERENCE / "landing" / "SKEL" / "SKEL_ATORG_deltagare_2014.csv")
    end = f["slutdatum"].map(to_date)
    start = f["startdatum"].map(to_date)
    left = f[end.notna()]
    assert len(left) == 100 and all(d.year == 2014 for d in end.dropna())
    fore = Counter(left["forsorjning_fore"].map(lambda v: to_code(v, "forsorjning")))
    assert fore == Counter({"FBS": 38, "AKE": 20, "AKS": 17, "INGEN": 12, "AKS+FBS": 9, "CSN": 4})
    after = Counter(left["forsorjning_efter"].map(lambda v: to_code(v, "forsorjning")))
    assert after == Counter({"CSN": 21, "SUBV": 19, "AKE": 28, "FBS": 16, "LON": 9, "INGEN": 4, "AKS": 3})
    assert after["CSN"] + after["SUBV"] + after["LON"] + after["AKE"] == 77
    edu = Counter(f["utbildning"])
    assert edu["FORGYMNASIAL"] / len(f) == 0.57 and edu["GYMNASIAL"] / len(f) == 0.43
    months = {}
    for s, e, born in zip(start[end.notna()], end[end.notna()], left["fodelsear"].astype(int)):
        band = "16-23" if s.year - born <= 23 else "24-29"
        months.setdefault(band, []).append((e.year - s.year) * 12 + e.month - s.month)
    everyone = months["16-23"] + months["24-29"]
    assert sum(everyone) / len(everyone) == 12.5
    assert sum(months["16-23"]) / len(months["16-23"]) == 11
    assert sum(months["24-29"]) / len(months["24-29"]) == 16
    budget = (REFERENCE / "landing" / "SKEL" / "SKEL_ATORG_budget_2014.csv").read_text(encoding="utf-8")
    assert any(line.split(";")[2] == "Beviljat" and line.split(";")[6] == "550 000" for line in budget.splitlines())


# ---------------------------------------------------------------- national scale


def test_national_generator_small_fraction(tmp_path):
    info = gen.generate_national(tmp_path / "nat", fraction=0.02)
    assert info["files"] > 50 and info["rows"] > 5_000 and info["xlsx_files"] >= 1
    written = sum(1 for p in (tmp_path / "nat" / "landing").rglob("*") if p.is_file())
    assert written >= info["files"]
    registry = yaml.safe_load((tmp_path / "nat" / "registry.yml").read_text(encoding="utf-8"))
    assert len(registry["associations"]) == info["associations"]
    again = gen.generate_national(tmp_path / "nat2", fraction=0.02)
    assert again == info
    first = sorted((tmp_path / "nat" / "landing").rglob("*.csv"))[:20]
    for path in first:
        assert path.read_bytes() == (tmp_path / "nat2" / path.relative_to(tmp_path / "nat")).read_bytes()
