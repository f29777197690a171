"""Validating several associations in one GX run per suite (`process_associations`, used by
`finsam run` without Data Docs) judges every delivery exactly as `process_association` does."""

from __future__ import annotations

import json
from datetime import date

from conftest import copy_sample_landing

from ingestion.core.config import load_settings
from ingestion.core.registry import load_registry
from ingestion.process import process_association, process_associations

AS_OF = date(2026, 11, 1)


def _verdicts(settings) -> dict:
    out = {}
    for path in settings.raw.glob("*/*/validation.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("validated_at")
        out[data["delivery_id"]] = data
    return out


def _run(tmp_path, monkeypatch, name, together):
    home, landing = tmp_path / name, tmp_path / name / "landing"
    copy_sample_landing(landing)
    monkeypatch.setenv("FINSAM_HOME", str(home))
    monkeypatch.setenv("FINSAM_LANDING", str(landing))
    monkeypatch.setenv("FINSAM_WAREHOUSE", str(home / "warehouse" / "finsam.duckdb"))
    settings = load_settings()
    settings.ensure_dirs()
    registry = load_registry(settings.registry)
    if together:
        summaries = process_associations(settings, registry, registry.codes, as_of=AS_OF)
    else:
        summaries = [process_association(settings, registry, code, as_of=AS_OF, docs=False) for code in registry.codes]
    for summary in summaries:
        summary.pop("timings")
        summary.pop("pull")
        for item in summary["quarantined"]:
            item.pop("explanation")
    return summaries, _verdicts(settings), sorted(p.name for p in settings.quarantine.rglob("*") if p.is_file())


def test_together_equals_one_by_one(finsam_env, tmp_path, monkeypatch):
    alone = _run(tmp_path, monkeypatch, "alone", together=False)
    together = _run(tmp_path, monkeypatch, "together", together=True)
    assert together == alone
    verdicts = alone[1]
    assert {v["status"] for v in verdicts.values()} == {"accepted", "accepted_with_warnings", "quarantined"}
    assert sum(len(v["findings"]) for v in verdicts.values()) > 0
