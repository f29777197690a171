"""The attacker's exact linear program over EVERY published table together, on any snapshot (the
test suite runs it on the sample county and on a county of small interventions: about 50 CPU-s on
the sample; see docs/disclosure.md).

    .venv/bin/python bench/attack_all_tables.py var/publish/finsam_marts.duckdb

Prints the number of hidden cells, and the cells an attacker narrows to fewer than MIN_VALUES
possible values, by table and by how they are shown ("<5" or "–"), with the first few of them.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import duckdb

from ingestion.outbound import disclosure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", help="the published snapshot (finsam_marts.duckdb)")
    args = parser.parse_args()
    con = duckdb.connect(args.snapshot, read_only=True)
    try:
        pub = disclosure.read_published(con)
    finally:
        con.close()
    eqs = disclosure.equations(pub)
    started = time.process_time()
    found = disclosure.intervals(pub, eqs)
    seconds = time.process_time() - started
    narrow = {c: iv for c, iv in found.items() if disclosure.possible_values(iv) < disclosure.MIN_VALUES}
    print(f"{len(found)} hidden cells, {len(eqs)} relations, {seconds:.0f} CPU-s")
    print(f"narrowed below {disclosure.MIN_VALUES} values: {len(narrow)}")
    print("  by table:", dict(Counter(c[0] for c in narrow)))
    print("  by status:", dict(Counter(pub.status[c] for c in narrow)))
    for cell, interval in sorted(narrow.items(), key=lambda kv: (pub.status[kv[0]], repr(kv[0])))[:10]:
        print(f"  {pub.status[cell]:9} {cell} -> {interval[:2]}")
    return 1 if narrow else 0


if __name__ == "__main__":
    raise SystemExit(main())
