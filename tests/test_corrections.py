"""Corrections (fault run, item 5): a `deltagare` delivery is the intervention's whole register up
to its period end (ingestion/contract.yml, kinds.deltagare.rule_sv). An episode an earlier delivery
listed that the governing delivery no longer lists is withdrawn from the marts, and the owner is
told which, by pseudonymous reference and start date (never a personnummer). Re-sending the older
file reverts the correction: it is a new delivery that wins, not a duplicate."""

from __future__ import annotations

import json
import random

import pytest
from fixtures.county import county  # noqa: F401  (pytest fixture)
from fixtures.synthetic import csv_bytes, make_pnr, pnr_forms

HEADER = ["personnummer", "kon", "fodelsear", "kommun", "startdatum", "forsorjning_fore"]
PNRS = [make_pnr(random.Random(seed), year=1970 + seed) for seed in range(8)]  # aged 16–67 at start
START = {p: f"2016-0{2 + i % 3}-1{i}" for i, p in enumerate(PNRS)}  # each person's own start date
NAME = "SODRA_AVESTA_deltagare_2016T2.csv"


def register(pnrs: list[str]) -> bytes:
    """A cumulative register: one episode per person, started in the spring of 2016."""
    return csv_bytes(
        HEADER,
        [[f"{p[:8]}-{p[8:]}", "K", p[:4], "2084", START[p], "FBS"] for p in pnrs],
    )


ORIGINAL = register(PNRS[:6])  # six episodes
CORRECTED = register(PNRS[:3] + PNRS[4:6])  # the fourth withdrawn: five rows


def query(county, sql: str, params=None) -> list[tuple]:
    from ingestion.warehouse.schema import connect

    con = connect(county.settings)  # not read_only: dbt (run in this process) keeps the file open
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def episodes(county) -> list[tuple]:
    from ingestion.warehouse.build import dbt

    dbt(county.settings, "run", "--select", "+fct_participation")  # the real incremental path (build queue)
    return query(county, "select person_key, start_date from marts.fct_participation order by all")


def verdict(county, file_name: str) -> dict:
    """The verdict on the latest delivery of `file_name`."""
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in county.settings.raw.glob("SODRA/*/manifest.json")]
    latest = max((m for m in manifests if m["file_name"] == file_name), key=lambda m: m["received_at"])
    path = county.settings.raw / "SODRA" / latest["delivery_id"] / "validation.json"
    return json.loads(path.read_text(encoding="utf-8"))


def no_personnummer(text: str) -> None:
    for pnr in PNRS:
        for form in pnr_forms(pnr):
            assert form not in text


def dropped_lines(findings: list[dict]) -> list[str]:
    return [f["message_sv"] for f in findings if f["check"] == "borttagen_episod"]


@pytest.mark.dbt
def test_a_correction_drops_an_episode_is_told_and_can_be_reverted(county):
    from ingestion.outbound.alerts import send_alerts

    county.deliver_register()
    county.deliver("SODRA", NAME, ORIGINAL)
    assert county.process()["SODRA"]["accepted"] == 2
    county.load()
    before = episodes(county)
    assert len(before) == 6

    # The correction: the same period again, one episode fewer.
    county.deliver("SODRA", NAME, CORRECTED)
    summary = county.process()["SODRA"]
    assert summary["accepted"] == 1 and summary["warnings"] == 1 and summary["duplicates"] == 0
    county.load()
    after = episodes(county)
    assert len(after) == 5
    (withdrawn,) = set(before) - set(after)
    key, start = withdrawn
    # The owner is told: which episode (the key's first characters, the start date, the earlier row).
    lines = dropped_lines(verdict(county, NAME)["findings"])
    assert len(lines) == 2 and "1 deltagarepisod som fanns" in lines[0]
    assert lines[1] == f"borttagen episod: personnyckel {key[:8]}, startdatum {start.isoformat()} (rad 5 i {NAME})."
    send_alerts(county.settings, county.registry, attempts=1, backoff=0)
    mails = "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in (county.settings.reports / "outbox").glob("*.eml")
    )
    assert f"personnyckel {key[:8]}" in mails.replace("=\n", "")
    no_personnummer(mails + json.dumps(verdict(county, NAME), ensure_ascii=False))

    # Revert: the original file sent again is a new delivery that wins, not a duplicate.
    county.deliver("SODRA", NAME, ORIGINAL)
    summary = county.process()["SODRA"]
    assert summary["duplicates"] == 0 and summary["landed"] == 1 and summary["accepted"] == 1
    assert county.load()["loaded"] == 1
    assert query(county, "select count(*) from meta.load_ledger where file_name = ?", [NAME]) == [(3,)]

    # Re-running is safe: nothing new is loaded; the same file once more is now a duplicate.
    county.process()
    assert county.load()["loaded"] == 0
    county.deliver("SODRA", NAME, ORIGINAL)
    assert county.process()["SODRA"]["duplicates"] == 1
    assert county.load()["loaded"] == 0
    assert episodes(county) == before
    assert query(county, "select count(*) from raw.deltagare") == [(6 + 5 + 6,)]


def test_a_later_period_that_leaves_out_an_episode_warns_about_it(county):
    """Across periods: the T3 register leaves out a T2 episode (and adds one): one warning, naming it."""
    county.deliver_register()
    county.deliver("SODRA", NAME, ORIGINAL)
    county.process()
    later = "SODRA_AVESTA_deltagare_2016T3.csv"
    county.deliver("SODRA", later, register(PNRS[:3] + PNRS[4:7]))
    assert county.process()["SODRA"]["warnings"] == 1
    assert {f["check"] for f in verdict(county, later)["findings"]} == {"borttagen_episod"}
    lines = dropped_lines(verdict(county, later)["findings"])
    assert len(lines) == 2 and "startdatum 2016-02-13 (rad 5 i SODRA_AVESTA_deltagare_2016T2.csv)" in lines[1]
    no_personnummer(json.dumps(verdict(county, later), ensure_ascii=False))
    # A late file for the earlier period governs nothing: no warning about what T3 holds.
    county.deliver("SODRA", "SODRA_AVESTA_deltagare_2016T1.csv", register(PNRS[:1]))
    assert county.process()["SODRA"]["accepted"] == 1
    assert dropped_lines(verdict(county, "SODRA_AVESTA_deltagare_2016T1.csv")["findings"]) == []


def test_a_revert_interrupted_after_landing_is_finished_not_duplicated(county, monkeypatch):
    """Killed after the re-sent file was landed, before its verdict: the next run validates that
    same delivery (no second copy, no duplicate event) and it wins."""
    import ingestion.process as process

    county.deliver_register()
    county.deliver("SODRA", NAME, ORIGINAL)
    county.process()
    county.deliver("SODRA", NAME, CORRECTED)
    county.process()
    original = county.deliver("SODRA", NAME, ORIGINAL)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("avbruten efter landning (test)")

    monkeypatch.setattr(process, "_validate", killed)
    with pytest.raises(KeyboardInterrupt):
        county.process()
    monkeypatch.undo()
    assert original.exists()
    summary = county.process()["SODRA"]
    assert summary["duplicates"] == 0 and summary["accepted"] == 1 and not original.exists()
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in county.settings.raw.glob("SODRA/*/manifest.json")]
    versions = [m for m in manifests if m["file_name"] == NAME]
    assert len(versions) == 3 and sum(1 for m in versions if m.get("resent_of")) == 1
    county.load()
    current = query(
        county,
        "select file_name, rows_kept from meta.load_ledger where kind = 'deltagare' order by received_at desc limit 1",
    )
    assert current == [(NAME, 6)]
