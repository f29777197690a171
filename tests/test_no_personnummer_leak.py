"""No personnummer in any file, table, log line, task result, validation result or message.

Runs the pipeline over deliveries full of (synthetic) personnummer, in every written form and
in every wrong place an owner could put one, then searches every byte written under the home
directory (Parquet and DuckDB files through DuckDB as text, xlsx members unpacked, everything
else as raw bytes), the logs and the task results, for every number in its 10- and 12-digit
forms, with and without separator.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
from fixtures.county import AS_OF, county  # noqa: F401  (pytest fixture)
from fixtures.needles import Needles
from fixtures.synthetic import DELTAGARE_HEADER, csv_bytes, invalid_pnr, make_pnr, pnr_forms, write_xlsx

pytestmark = [pytest.mark.dbt]

REPO = Path(__file__).resolve().parent.parent
RNG = random.Random(99)
PEOPLE = [make_pnr(RNG, coordination=i % 5 == 0) for i in range(40)]
INVALID = [invalid_pnr(RNG) for _ in range(5)]


def needles() -> set[str]:
    found = set()
    for number in PEOPLE:
        found.update(pnr_forms(number, AS_OF))
        found.update({number[2:], f"{number[2:8]}-{number[8:]}", f"{number[2:8]}+{number[8:]}", number})
    for text in INVALID:  # a mistyped number is still nearly a person's number
        digits = text.replace("-", "")
        found.update({text, digits, digits[2:], f"{digits[2:8]}-{digits[8:]}"})
    return found


def row(**values) -> list[str]:
    base = dict(kon="K", fodelsear="1980", kommun="2084", startdatum="2016-02-01", forsorjning_fore="FBS")
    base.update(values)
    return [str(base.get(c, "")) for c in DELTAGARE_HEADER]


def deliveries(county) -> None:
    forms = [pnr_forms(p, AS_OF) for p in PEOPLE]
    county.deliver_register("SODRA", interventions=("NYSTART", "KRAFTEN"))  # not AVESTA: dbt reconciles it
    county.deliver_register("NORR", interventions=("MORA",), kommun="2062")
    # Accepted: every written form, a number in deltagar_id, anonymous rows with numbers,
    # a number in the title row and in a column that is not in the contract.
    rows = [
        row(personnummer=forms[i][i % len(forms[i])], startdatum=f"2016-0{1 + i % 4}-0{1 + i % 9}") for i in range(20)
    ]
    rows += [
        row(deltagar_id=PEOPLE[20]),
        row(personnummer=PEOPLE[22], anonym="Ja"),
        row(deltagar_id=PEOPLE[23], anonym="ja"),
    ]
    county.deliver(
        "SODRA",
        "SODRA_NYSTART_deltagare_2016T2.csv",
        csv_bytes(
            DELTAGARE_HEADER + ["anteckning"],
            [r + [f"ring {PEOPLE[24]}"] for r in rows],
            title_rows=[f"Deltagare, kontakt {PEOPLE[25][:8]}-{PEOPLE[25][8:]}"],
        ),
    )
    # Quarantined: blocking errors, an invalid number (reported by row, never echoed), a number as referrer.
    county.deliver(
        "SODRA",
        "SODRA_KRAFTEN_deltagare_2016T2.csv",
        csv_bytes(
            DELTAGARE_HEADER,
            [
                row(personnummer=INVALID[0]),
                row(personnummer=INVALID[1], kon="Q"),
                row(personnummer=PEOPLE[26], kon="?"),
                row(deltagar_id=INVALID[2]),
                row(deltagar_id="D-1", remittent=f"FK, handläggare {PEOPLE[21][2:]}"),
            ],
            encoding="cp1252",
            sep=",",
        ),
    )
    # Unreadable, full of numbers: half an xlsx.
    whole = write_xlsx(
        county.settings.home / "tmp-whole.xlsx", DELTAGARE_HEADER, [row(personnummer=p) for p in PEOPLE[27:32]]
    )
    county.deliver("SODRA", "SODRA_KRAFTEN_deltagare_2016T1.xlsx", whole.read_bytes()[:1500])
    whole.unlink()
    # A budget with a number in its line text.
    county.deliver(
        "SODRA",
        "SODRA_NYSTART_budget_2016T2.csv",
        csv_bytes(
            ["ar", "period_slut", "radtyp", "kostnadsslag", "rad_text", "budget", "utfall"],
            [["2016", "2016-06-30", "KOSTNAD", "PERSONAL", f"Lön {PEOPLE[32]}", "100 000", "50 000"]],
        ),
    )
    # The same people in another association, as numbers in an xlsx (12 digits) and as text.
    path = county.landing / "NORR" / "NORR_MORA_deltagare_2016T2.xlsx"
    write_xlsx(
        path,
        DELTAGARE_HEADER,
        [row(personnummer=int(PEOPLE[i]), kommun="2062") for i in range(5)]
        + [row(personnummer=PEOPLE[i][2:], kommun="2062") for i in range(33, 40)],
        sheet="deltagare",
        title_rows=[f"NORR {PEOPLE[5]}"],
    )


def texts_of(path: Path) -> list[str]:
    """What a file holds, as text: tables through DuckDB, xlsx unpacked, the rest as bytes."""
    data = path.read_bytes()
    out = [data.decode("utf-8", errors="replace"), data.decode("utf-16-le", errors="replace")]
    if path.suffix == ".parquet":
        out.append(str(duckdb.sql(f"select * from read_parquet('{path}')").fetchall()))
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as archive:
            out += [archive.read(n).decode("utf-8", errors="replace") for n in archive.namelist()]
    elif path.suffix == ".duckdb" or data[8:12] == b"DUCK":
        con = duckdb.connect(str(path), read_only=True)
        try:
            for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall():
                out.append(str(con.execute(f'select * from "{schema}"."{table}"').fetchall()))
        finally:
            con.close()
    return out


def leaks(text: str, numbers: set[str]) -> set[str]:
    """The numbers that occur in `text` (the numbers are ASCII: a substring of the text exactly
    when a substring of its UTF-8 bytes)."""
    return {n.decode() for n in Needles(numbers).found_in(text.encode("utf-8", "surrogatepass"))}


@pytest.fixture
def caught_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_no_personnummer_anywhere_after_a_full_run(county, caught_logs, capsys):
    from ingestion.forget import forget
    from ingestion.outbound.alerts import send_alerts

    numbers = needles()
    deliveries(county)
    results = county.process()
    county.load()
    outputs = [json.dumps(results, ensure_ascii=False, default=str)]  # what the DAG hands on as XCom
    if (county.settings.dbt_project / "dbt_project.yml").exists():
        # dbt build and publish, in their own process (as `forget` runs them)
        code = (
            "from ingestion.core.config import load_settings; from ingestion.warehouse.build import build_marts; "
            "from ingestion.outbound.publish import publish_marts; s = load_settings(); build_marts(s, docs=False); "
            "publish_marts(s)"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs += [proc.stdout, proc.stderr]
    outputs.append(json.dumps(send_alerts(county.settings, county.registry, attempts=1, backoff=0), default=str))
    outputs.append(forget(county.settings, PEOPLE[0]))

    ledger = dict(county.query("select file_name, status from meta.load_ledger"))
    assert ledger["SODRA_NYSTART_deltagare_2016T2.csv"] in ("accepted", "accepted_with_warnings")
    assert ledger["SODRA_KRAFTEN_deltagare_2016T2.csv"] == "quarantined"
    assert ledger["SODRA_KRAFTEN_deltagare_2016T1.xlsx"] == "quarantined"
    assert ledger["NORR_MORA_deltagare_2016T2.xlsx"] in ("accepted", "accepted_with_warnings")
    assert county.query("select count(*) from raw.deltagare where person_key_source = 'personnummer'")[0][0] >= 25
    # The invalid number is reported by row, without the number.
    invalid = county.query(
        "select failing_rows, message_sv from meta.validation_results "
        "where message_sv like '%personnumret är ogiltigt%'"
    )
    assert invalid and 2 in invalid[0][0]

    written = [p for p in county.settings.home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in written) and any(p.name.endswith(".fel.txt") for p in written)
    assert any(p.name == "data.parquet" for p in written) and county.settings.warehouse in written
    found = {}
    for path in written:
        for text in texts_of(path):
            hit = leaks(text, numbers)
            if hit:
                found[str(path.relative_to(county.settings.home))] = sorted(hit)[:3]
    assert found == {}
    log_text = "\n".join(f"{r.getMessage()} {r.args}" for r in caught_logs.records)
    captured = capsys.readouterr()
    for text in [log_text, captured.out, captured.err, *outputs]:
        assert leaks(text, numbers) == set()
