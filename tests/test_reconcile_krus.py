"""KRUS, Kalmar (reference-figures.md): the owner's detailed budget lines, funding written as a
negative revenue line, must load, map onto the contract's kostnadsslag and keep the owner's text."""

from __future__ import annotations

from datetime import date

import duckdb

KRUS = """År;Period slut;Benämning;Budget
2017;2017-12-31;Intäkt från Samordningsförbundet;−2 293 000
2017;2017-12-31;Personalkostnader;830 000
2017;2017-12-31;Personalomkostnader;325 000
2017;2017-12-31;Arbetsledning;67 000
2017;2017-12-31;Extern tjänst;546 000
2017;2017-12-31;Föreläsare, friskvård, aktiviteter;75 000
2017;2017-12-31;IT/Tele;25 000
2017;2017-12-31;Resor;75 000
2017;2017-12-31;Arbetsmiljöåtgärder, kost, div inköp;25 000
2017;2017-12-31;Lokaler;255 000
2017;2017-12-31;Utbildning, handledning;25 000
2017;2017-12-31;Övrigt;45 000
Summa kostnader;;;2 293 000
"""


def test_krus_budget_loads_with_lines_mapped(finsam_env, tmp_path):
    from ingestion.core.registry import load_registry
    from ingestion.process import process_association
    from ingestion.warehouse.load import load_warehouse

    folder = finsam_env.landing / "SODRA"
    folder.mkdir(parents=True)
    (folder / "SODRA_KRUS_budget_2017.csv").write_text(KRUS, encoding="utf-8")
    registry = load_registry(finsam_env.registry)
    summary = process_association(finsam_env, registry, "SODRA", as_of=date(2018, 1, 15), docs=False)
    assert summary["quarantined"] == [], summary["quarantined"]
    load_warehouse(finsam_env, registry)
    con = duckdb.connect(str(finsam_env.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select radtyp, kostnadsslag, finansiar, rad_text, budget from raw.budget order by source_row"
        ).fetchall()
    finally:
        con.close()
    funding = [r for r in rows if r[0] == "FINANSIERING"]
    assert [(r[2], float(r[4])) for r in funding] == [("FORBUNDET", 2293000.0)]
    costs = {r[3]: r[1] for r in rows if r[0] == "KOSTNAD"}
    assert costs["Personalkostnader"] == "PERSONAL" and costs["Arbetsledning"] == "PERSONAL"
    assert costs["Lokaler"] == "LOKALER"
    assert costs["Föreläsare, friskvård, aktiviteter"] == "OVRIGT"  # owner's text kept beside the coarse kind
    assert sum(float(r[4]) for r in rows if r[0] == "KOSTNAD") == 2293000.0


def test_a_net_cost_row_of_zero_is_checked_as_costs_less_funding(finsam_env):
    """KRUS's own report ends with "Nettokostnad 0": the costs less the association's funding."""
    from ingestion.core.registry import load_registry
    from ingestion.process import process_association
    from ingestion.warehouse.load import load_warehouse

    folder = finsam_env.landing / "SODRA"
    folder.mkdir(parents=True)
    (folder / "SODRA_KRUS_budget_2017.csv").write_text(KRUS + "Nettokostnad;;;0\n", encoding="utf-8")
    (folder / "SODRA_KRUT_budget_2017.csv").write_text(KRUS + "Nettokostnad;;;100 000\n", encoding="utf-8")
    registry = load_registry(finsam_env.registry)
    process_association(finsam_env, registry, "SODRA", as_of=date(2018, 1, 15), docs=False)
    load_warehouse(finsam_env, registry)
    con = duckdb.connect(str(finsam_env.warehouse), read_only=True)
    try:
        failing = con.execute(
            "select l.file_name, v.message_sv from meta.validation_results v join meta.load_ledger l using (delivery_id) "
            "where v.suite = 'budget_totals.landing' and not v.passed order by 1"
        ).fetchall()
    finally:
        con.close()
    assert [f for f, _ in failing] == ["SODRA_KRUT_budget_2017.csv"]  # 0 is right; 100 000 is not
