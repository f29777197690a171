"""The county's registry of associations (config/registry.yml, or --registry FILE)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CODE_RE = re.compile(r"^[A-Z0-9-]+$")


class RegistryError(ValueError):
    pass


@dataclass(frozen=True)
class Association:
    code: str
    name: str
    county: str
    municipalities: tuple[str, ...]
    data_team_email: str
    source: dict = field(default_factory=lambda: {"type": "folder"})


@dataclass(frozen=True)
class Registry:
    county_code: str
    county_name: str
    data_team_email: str
    associations: tuple[Association, ...]

    def get(self, code: str) -> Association | None:
        return next((a for a in self.associations if a.code == code), None)

    @property
    def codes(self) -> list[str]:
        return [a.code for a in self.associations]


def load_registry(path: Path) -> Registry:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    county = data.get("county") or {}
    team_email = data.get("data_team_email", "")
    associations = []
    for item in data.get("associations") or []:
        code = str(item.get("code", ""))
        if not CODE_RE.match(code):
            raise RegistryError(f"Ogiltig förbundskod i registret: {code!r} (tillåtet: A–Z, 0–9 och -)")
        associations.append(
            Association(
                code=code,
                name=item.get("name", code),
                county=str(item.get("county", county.get("code", ""))),
                municipalities=tuple(str(m).zfill(4) for m in item.get("municipalities") or ()),
                data_team_email=item.get("data_team_email", team_email),
                source=item.get("source") or {"type": "folder"},
            )
        )
    if len({a.code for a in associations}) != len(associations):
        raise RegistryError("Registret innehåller samma förbundskod två gånger")
    return Registry(
        county_code=str(county.get("code", "")),
        county_name=county.get("name", ""),
        data_team_email=team_email,
        associations=tuple(associations),
    )
