"""The county export contract (contract.yml), loaded once and shared by every layer."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CONTRACT_PATH = Path(__file__).with_name("contract.yml")
KINDS = ("deltagare", "insatser", "budget", "volym")


def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used to match headers and labels."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9<>+]+", " ", text.lower())
    return " ".join(text.split())


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    synonyms: tuple[str, ...]
    codes: str | None = None


@dataclass(frozen=True)
class Contract:
    data: dict

    @property
    def version(self) -> int:
        return int(self.data["version"])

    @property
    def file_name_pattern(self) -> re.Pattern:
        return re.compile(self.data["file_name"]["pattern"])

    def _memo(self, key: tuple, make) -> dict:
        """Derived maps are computed once per contract (the contract is immutable); callers get a copy."""
        memo = self.__dict__.setdefault("_derived", {})
        if key not in memo:
            memo[key] = make()
        return dict(memo[key])

    def columns(self, kind: str) -> dict[str, Column]:
        return self._memo(("columns", kind), lambda: self._columns(kind))

    def _columns(self, kind: str) -> dict[str, Column]:
        cols = self.data["kinds"][kind]["columns"]
        return {
            name: Column(name=name, type=spec["type"], required=bool(spec.get("required")),
                         synonyms=tuple(spec.get("synonyms") or ()), codes=spec.get("codes"))
            for name, spec in cols.items()
        }

    def kind_label(self, kind: str) -> str:
        return self.data["kinds"][kind].get("label", kind)

    def code_list(self, name: str) -> dict[str, dict]:
        return {str(code): spec for code, spec in self.data["codes"][name].items()}

    def codes(self, name: str) -> list[str]:
        return list(self.code_list(name))

    def prefixed(self, name: str) -> str | None:
        return (self.data.get("prefixed_codes") or {}).get(name)

    @property
    def funding_rule(self) -> dict:
        return self.data["funding_rule"]

    def header_map(self, kind: str) -> dict[str, str]:
        """folded header text -> canonical column name."""
        return self._memo(("header_map", kind), lambda: self._header_map(kind))

    def _header_map(self, kind: str) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for name, col in self.columns(kind).items():
            for alias in (name, name.replace("_", " "), *col.synonyms):
                mapping.setdefault(fold(alias), name)
        return mapping

    def alias_map(self, code_list: str) -> dict[str, str]:
        """folded label/alias -> code."""
        return self._memo(("alias_map", code_list), lambda: self._alias_map(code_list))

    def _alias_map(self, code_list: str) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for code, spec in self.code_list(code_list).items():
            mapping[fold(code)] = code
            mapping.setdefault(fold(spec.get("label", "")), code)
            for alias in spec.get("aliases") or ():
                mapping.setdefault(fold(alias), code)
        return mapping

    def valid_text(self, code_list: str) -> str:
        """A Swedish 'what would be valid' text for a code list."""
        items = [f"{code} ({spec.get('label', '')})" for code, spec in self.code_list(code_list).items()]
        prefix = self.prefixed(code_list)
        if prefix:
            items.append(f"{prefix}:<kommunkod>")
        return ", ".join(items)


@lru_cache(maxsize=1)
def load_contract(path: str | None = None) -> Contract:
    with open(path or CONTRACT_PATH, encoding="utf-8") as handle:
        return Contract(yaml.safe_load(handle))
