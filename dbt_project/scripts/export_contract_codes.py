"""Write the dbt seeds that mirror the export contract.

The contract is defined once, in ``ingestion/contract.yml``. This script
reads its ``codes:``, ``funding_rule:``, ``budget_rule:`` and ``targets:`` sections and writes

* ``dbt_project/seeds/contract_codes.csv``   (code_list, code, label_sv, sort_order)
* ``dbt_project/seeds/contract_funding_rule.csv`` (funder_group, expected_share, tolerance, applies_to, min_groups)
* ``dbt_project/seeds/contract_budget_rule.csv`` (difference_tolerance)
* ``dbt_project/seeds/contract_targets.csv`` (target_code, register_column, label_sv, comparison, sort_order)

Usage (from anywhere)::

    python dbt_project/scripts/export_contract_codes.py          # write
    python dbt_project/scripts/export_contract_codes.py --check  # exit 1 if stale
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import yaml

DBT_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = DBT_DIR.parent
CONTRACT = REPO_DIR / "ingestion" / "contract.yml"
SEEDS = DBT_DIR / "seeds"


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def render(contract_path: Path = CONTRACT) -> dict[str, str]:
    """Return {file name: csv text} for every generated seed."""
    contract = yaml.safe_load(contract_path.read_text(encoding="utf-8"))
    code_rows: list[list[object]] = []
    for code_list, codes in contract["codes"].items():
        for order, (code, spec) in enumerate(codes.items(), start=1):
            label = spec.get("label") if isinstance(spec, dict) else spec
            code_rows.append([code_list, str(code), str(label), order])
    rule = contract.get("funding_rule") or {}
    rule_rows = [
        [group, share, rule.get("tolerance", 0), rule.get("applies_to", "ALL"), rule.get("min_groups", 2)]
        for group, share in (rule.get("shares") or {}).items()
    ]
    budget = contract.get("budget_rule") or {}
    return {
        "contract_codes.csv": _csv(["code_list", "code", "label_sv", "sort_order"], code_rows),
        "contract_funding_rule.csv": _csv(
            ["funder_group", "expected_share", "tolerance", "applies_to", "min_groups"], rule_rows
        ),
        "contract_budget_rule.csv": _csv(["difference_tolerance"], [[budget.get("difference_tolerance", 0.5)]]),
        "contract_targets.csv": _csv(
            ["target_code", "register_column", "label_sv", "comparison", "sort_order"],
            [
                [code, spec["column"], spec["label"], spec["comparison"], order]
                for order, (code, spec) in enumerate((contract.get("targets") or {}).items(), start=1)
            ],
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the seeds are up to date")
    parser.add_argument("--contract", type=Path, default=CONTRACT)
    parser.add_argument("--out", type=Path, default=SEEDS)
    args = parser.parse_args(argv)
    stale = []
    for name, text in render(args.contract).items():
        target = args.out / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        print("stale seeds (run scripts/export_contract_codes.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
