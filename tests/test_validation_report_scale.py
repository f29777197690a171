"""The validation report at national scale: 75 associations, 13 500 deliveries, in ~2 s.

The warehouse's meta tables and the raw zone are written directly (as `load`, `validate_facts`
and `track_deliveries` leave them; no dbt, no GX): every association is shown with its
counts, only the deliveries with findings or in quarantine are listed (their findings read
from `validation.json`), and the page is written within the budget.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta

import pandas as pd

from ingestion.core.config import load_settings
from ingestion.core.registry import load_registry
from ingestion.outbound.validation_report import write_validation_report
from ingestion.warehouse.schema import connect, ensure_schema

ASSOCIATIONS = 75
DELIVERIES = 13_500
BUDGET_S = 2.0


def registry_file(path):
    lines = ['county: {code: "00", name: Sverige}', "data_team_email: data@lan.example", "associations:"]
    lines += [f"  - {{code: FS{i:03d}, name: Samordningsförbund {i}}}" for i in range(1, ASSOCIATIONS + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def national(settings):
    """13 500 deliveries: one in 20 with a warning, one in 100 quarantined, the rest clean."""
    received = datetime(2026, 11, 1, 8)
    ledger, results, listed = [], [], []
    for n in range(DELIVERIES):
        association = f"FS{n % ASSOCIATIONS + 1:03d}"
        intervention = f"I{n % 600:04d}"
        year = 2015 + n // 1350
        delivery_id = f"{n:064x}"
        file_name = f"{association}_{intervention}_deltagare_{year}.csv"
        status = "quarantined" if n % 100 == 7 else "accepted_with_warnings" if n % 20 == 3 else "accepted"
        ledger.append(
            (delivery_id, association, intervention, "deltagare", str(year), file_name, "0" * 64, 1000, 40, 40, 0,
             received + timedelta(seconds=n), status, "rad 2: kön saknas." if status == "quarantined" else None,
             received + timedelta(seconds=n), None, None)
        )  # fmt: skip
        if status == "accepted":
            results.append((delivery_id, "deltagare.landing", "alla", None, True, None, [], None))
            continue
        severity = "blocking" if status == "quarantined" else "warning"
        findings = [
            {
                "severity": severity,
                "check": "deltagare.landing:expect_column_values_to_be_in_set:kon",
                "message_sv": "kön har ett värde som inte finns i kodlistan.",
                "column": "kon",
                "rows": list(range(2, 14)),
                "value": "Q",
                "unknown_value": "Q",
                "valid_sv": "K (kvinna), M (man), X (annat/uppgift saknas)",
            }
        ]
        results.append((delivery_id, "deltagare.landing", findings[0]["check"], severity, False, "[]", [2], "kön …"))
        folder = settings.raw / association / delivery_id
        folder.mkdir(parents=True)
        (folder / "validation.json").write_text(json.dumps({"status": status, "findings": findings}), encoding="utf-8")
        manifest = {"period_start": f"{year}-01-01", "period_end": f"{year}-12-31", "unreadable": None}
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        listed.append(file_name)
    reminders = [
        (f"FS{n % ASSOCIATIONS + 1:03d}", f"I{n:04d}", "budget", "2026T1", "a@b.example", "sent", 1, received, received,
         received.date())
        for n in range(600)
    ]  # fmt: skip
    con = connect(settings)
    try:
        ensure_schema(con)
        for table, rows in (("load_ledger", ledger), ("validation_results", results), ("reminders", reminders)):
            frame = pd.DataFrame(rows)
            con.register("frame", frame)
            con.execute(f"insert into meta.{table} select * from frame")
            con.unregister("frame")
        con.execute(
            "insert into meta.delivery_events values (?, 'FS001', 'fel namn.csv', null, 'rejected_name', "
            "'fel namn.csv: filnamnet ska ha fyra delar.')",
            [received],
        )
    finally:
        con.close()
    return listed


def test_national_scale_report_within_budget(finsam_env, tmp_path):
    settings = load_settings()
    registry = load_registry(registry_file(tmp_path / "registry.yml"))
    listed = national(settings)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        path = write_validation_report(settings, registry)
        timings.append(time.perf_counter() - start)
    html = path.read_text(encoding="utf-8")
    print(f"report: {min(timings):.2f} s (best of 3: {', '.join(f'{t:.2f}' for t in timings)}), {len(html):,} bytes")
    assert min(timings) < BUDGET_S

    # Every association in the overview; only the deliveries with findings listed, each once.
    assert len(re.findall(r'<tr><th scope="row"><a href="#f-FS\d{3}">', html)) == ASSOCIATIONS
    headings = re.findall(r'<h4 id="[^"]+">([^<]+) <span class="verdict', html)
    assert sorted(headings) == sorted(listed)
    assert len(listed) == 135 + 675  # quarantined, with warnings
    assert html.count('<span class="verdict v-karantan">i karantän</span>') == 2 * 135  # table and detail
    assert '<td class="num">13\u00a0500</td>' in html  # the county's total
    assert not re.search(r"[0-9a-f]{64}", html)


def test_a_warehouse_held_by_another_program_gives_a_page_that_says_so(finsam_env, tmp_path):
    """The report never fails the publish step: it says the figures are missing and is written again next run."""
    import subprocess
    import sys

    settings = load_settings()
    registry = load_registry(registry_file(tmp_path / "registry.yml"))
    con = connect(settings)
    ensure_schema(con)
    con.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(settings.warehouse)!r}); "
         "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        html = write_validation_report(settings, registry).read_text(encoding="utf-8")
    finally:
        holder.kill()
        holder.wait()
    assert "Datalagret gick inte att läsa när rapporten skrevs" in html
    assert len(re.findall(r'<tr><th scope="row"><a href="#f-FS\d{3}">', html)) == ASSOCIATIONS
