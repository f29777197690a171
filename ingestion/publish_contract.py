"""Publish the export contract from `contract.yml`: the document, the Excel templates, the dbt seed.

    finsam contract --write   # regenerate docs/contract.md, templates/<kind>_mall.xlsx, the code seed
    finsam contract --check   # exit 1 if any generated file is out of date with contract.yml

Everything here is generated from the contract, so a new code is one line in contract.yml
followed by `finsam contract --write`. Output is byte-for-byte reproducible (fixed zip
timestamps and document dates), which is what lets `--check` compare bytes.
"""

from __future__ import annotations

import io
import re
import runpy
import textwrap
import zipfile
from datetime import datetime
from pathlib import Path

from ingestion.core.config import REPO_ROOT
from ingestion.core.contract import load_contract
from ingestion.intake.normalize import municipalities

DOC = REPO_ROOT / "docs" / "contract.md"
TEMPLATES = REPO_ROOT / "templates"
SEED_EXPORTER = REPO_ROOT / "dbt_project" / "scripts" / "export_contract_codes.py"
FIXED_TIME = datetime(2016, 1, 1)
TEMPLATE_ROWS = 2000  # rows carrying drop-downs and formats in a template

TYPE_SV = {
    "text": "text",
    "code": "kod ur kodlistan",
    "codes": "en eller flera koder ur kodlistan, åtskilda av + , eller / (t.ex. AKS+FBS)",
    "int": "heltal",
    "amount": "belopp i kronor (1 775 000 eller 1775000,50)",
    "date": "datum (2016-06-30, 20160630, 160630 eller 30/6 2016)",
    "percent": "procent, 0–100",
    "email": "e-postadress",
    "yesno": "J (ja) eller N (nej)",
    "personnummer": "personnummer eller samordningsnummer, 10 eller 12 siffror, med eller utan - / +",
    "kommun": "kommunkod (fyra siffror, SCB) eller kommunens namn",
    "months": "tid i månader, dagar eller år (6, 6 mån, 90 dagar, 1 år); läses som hela månader",
}


def kind_template(kind: str) -> Path:
    return TEMPLATES / f"{kind}_mall.xlsx"


# ---------------------------------------------------------------- docs/contract.md


def _md(text) -> str:
    return str(text).replace("|", "\\|")


def contract_markdown() -> str:
    contract = load_contract()
    data = contract.data
    kinds = list(data["kinds"])
    lines = [
        f"# Länets exportkontrakt, version {contract.version}",
        "",
        "<!-- Genererad från ingestion/contract.yml med `finsam contract --write`. Redigera inte här. -->",
        "",
        "Vad varje förbund och insats levererar, och vad pipelinen tar emot. Kontraktet definieras på ett",
        "enda ställe, `ingestion/contract.yml`; läsarna, valideringen (Great Expectations), dbt-seeden",
        "`contract_codes`, Excelmallarna och detta dokument läser alla därifrån.",
        "",
        "## Leveranser",
        "",
        "- Varje förbund har en egen mapp: `<inkorg>/<förbundskod>/`.",
        "- Filnamn: `<förbund>_<insats>_<typ>_<period>.<xlsx|xls|ods|csv>`, t.ex. `SODRA_AVESTA_deltagare_2016T2.xlsx`.",
        f"  - typ: {', '.join(f'`{k}` ({contract.kind_label(k)})' for k in kinds)}",
        "  - period: `2016` (år), `2016H1`/`2016H2` (halvår), `2016T1`–`2016T3` (tertial), `2016-05` (månad)",
        f"  - insats `{data['file_name']['association_wide_intervention']}` för förbundets egna filer "
        "(insatsregistret och förbundets administrativa budget)",
        "  - Ett filnamn som bryter regeln, ett okänt förbund eller en period som inte har börjat läses inte in;",
        "    det rapporteras, och filen ligger kvar.",
        "- En senare leverans för samma förbund, insats, typ och period ersätter den tidigare; historiken sparas.",
        "  Exakt samma fil två gånger känns igen (SHA-256) och läses inte in igen.",
        "",
        "## Format",
        "",
        "- `.xlsx`, `.xls` (Excel 97–2003) och `.ods` (OpenDocument): bladet som heter som typen (t.ex.",
        "  `deltagare`), annars det synliga blad vars rubrikrad bland de första 30 raderna matchar flest",
        "  kolumner i kontraktet (ett instruktionsblad först går bra). Rubriker får ha radbrytningar och",
        "  anteckningar (`Kön *`, `Födelseår – fyra siffror`, `Försörjning (vid start)`). Riktiga",
        "  Excel-datum, tal lagrade som text och sammanfogade rubrikrader ovanför kolumnrubrikerna går bra.",
        "- `.csv`: UTF-8 (med eller utan BOM) eller Windows-1252; avgränsare `;` eller `,`; fält inom",
        "  citattecken får innehålla avgränsare och radbrytningar.",
        "- Tal: decimalkomma och mellanslag (även hårt mellanslag) som tusentalsavgränsare går bra: `1 775 000`,",
        "  `1775000,50`, `−9 000`.",
        "- Datum: `2016-06-30`, `20160630`, `160630`, `30/6 2016`, `30.6.2016` eller riktiga Excel-datum.",
        "- Kolumnrubriker känns igen oberoende av stora/små bokstäver och accenter, och med synonymerna i",
        "  tabellerna nedan. Rubrikraden får ligga under titelrader.",
        "- Tomma rader och summeringsrader (`Summa`, `Totalt`) hoppas över och rapporteras som överhoppade.",
        "- Koder får skrivas som koden, den svenska benämningen eller en vanlig stavning (se kodlistorna).",
        "- En fil som inte går att läsa (inte ett kalkylblad, lösenordsskyddad, tom, avkortad, en zip-bomb",
        "  eller större än gränsen) underkänns med en förklaring; övriga leveranser påverkas inte.",
        "",
        "## Så tolkas det som kontraktet inte säger",
        "",
        "- Datum skrivs dag/månad (`6/7 2016` är 6 juli). Sexsiffriga datum (`160630`) tolkas som 1969–2068.",
        "  Ett femsiffrigt tal i en datumkolumn är ett Excel-datum (dagar sedan 1899-12-30). En klocktid efter",
        "  datumet (`2016-06-30 08:15`) tas bort. Ett datum som inte finns (`2016-02-30`) underkänns.",
        "- Ett tal med ett enda skiljetecken har det som decimaltecken (`1,775` och `1.775` är 1,775). Flera",
        "  tusentalspunkter eller -komman (`1.775.000`, `1,775,000`) går bra; blandningar som inte är entydiga",
        "  underkänns.",
        "- Tomma rader efter sista raden räknas inte som rader. En fil med rubrikrad men utan datarader, eller",
        "  bara med tomma rader och summeringsrader, underkänns (den skulle annars ersätta en tidigare leverans",
        "  med ingenting).",
        "- En summeringsrad är en rad vars första ifyllda cell, eller en textkolumn, börjar med `Summa`, `Totalt`,",
        "  `Total`, `Nettokostnad` eller `Netto`.",
        "- Ett personnummer som Excel har sparat som tal och därmed tappat sin inledande nolla (född 2000–2009,",
        "  nio siffror) får tillbaka nollan. Ett personnummerfält utan siffror (`-`, `saknas`) räknas som tomt.",
        "- Ett personnummer i fel kolumn tas bort (i kolumnen deltagar_id används det som personnummer), och",
        "  ägaren får en varning.",
        "- En fil som inte går att läsa kopieras aldrig till karantänen (den kan innehålla personnummer); bara",
        "  förklaringen hamnar där. Läsbara filer med personnummer hamnar där som pseudonymiserad CSV.",
        "- Filer som fortfarande kopieras in (`.part`, `.tmp`, `.crdownload`, …), dolda filer och Excels",
        "  låsfiler (`~$…`) väntar till nästa körning. Filändelsen får ha stora bokstäver; året i filnamnet ska",
        "  vara 2004–2100.",
        "",
        "## Personuppgifter",
        "",
        "- Personnummer och samordningsnummer (10 eller 12 siffror, med eller utan `-`/`+`, kontrollsiffra enligt",
        "  Luhn) ersätts vid första läsningen av en nyckel (HMAC med länets hemliga nyckel). Samma person får",
        "  samma nyckel i alla förbund. Numret sparas aldrig och visas aldrig i felmeddelanden.",
        "- `deltagar_id` är projektets egen pseudonym; den gäller inom förbundet.",
        "- En rad markerad som anonym bär ingen identitet, även om personnummer eller id är ifyllt.",
        "- En person som har återkallat sitt samtycke raderas med `finsam forget` och tas bort ur varje senare",
        "  leverans.",
        "",
    ]
    for kind in kinds:
        lines += [
            f"## Typ `{kind}`: {contract.kind_label(kind)}",
            "",
            f"Excelmall: [`templates/{kind}_mall.xlsx`](../templates/{kind}_mall.xlsx)",
            "",
        ]
        rule = data["kinds"][kind].get("rule_sv")  # what a delivery of this kind means, when the contract says
        if rule:
            lines += [textwrap.fill(rule, 110, break_on_hyphens=False), ""]
        lines += [
            "| kolumn | typ | krävs | rubriker som också accepteras | kodlista |",
            "|---|---|---|---|---|",
        ]
        for name, col in contract.columns(kind).items():
            codes = (
                f"[{col.codes}](#kodlista-{col.codes.replace('_', '-')})"
                if col.codes
                else ("[ja_nej](#kodlista-ja-nej)" if col.type == "yesno" else "")
            )
            synonyms = ", ".join(f"`{_md(s)}`" for s in col.synonyms)
            lines.append(
                f"| `{name}` | {_md(TYPE_SV.get(col.type, col.type))} | {'ja' if col.required else 'nej'} "
                f"| {synonyms} | {codes} |"
            )
        lines.append("")
    targets = data.get("targets") or {}
    if targets:
        lines += [
            "## Mål i insatsregistret (version 1.1)",
            "",
            "En insats kan ange sina mål i insatsregistret. Kolumnerna är frivilliga: ett register utan dem är",
            "lika giltigt som förut. Måluppfyllelsen per insats och period finns i `marts.rpt_target_attainment`",
            "(publicerad som `public.pub_rpt_target_attainment`).",
            "",
            "| mål | kolumn | jämförelse |",
            "|---|---|---|",
        ]
        comparison_sv = {"at_least": "utfallet ska vara minst målet", "at_most": "utfallet får vara högst målet"}
        for code, spec in targets.items():
            lines.append(
                f"| `{code}`: {_md(spec['label'])} | `{spec['column']}` | {comparison_sv.get(spec['comparison'], '')} |"
            )
        lines.append("")
    lines += [
        "## Kodlistor",
        "",
        "Koder får skrivas som koden, benämningen eller med ägarnas egna ord. Orden jämförs utan hänsyn till",
        "stora/små bokstäver, accenter och skiljetecken, och känns igen även böjda (`Landstinget` är",
        "`landsting`), som förled i ett sammansatt ord (`lönebidragsanställning`) och bredvid ett namn",
        "(`Region Dalarna`, `Vårdcentralen Hedemora`, `Flyttat till Gävle`). Det längsta ordet vinner över ett",
        "kortare inuti det (`subventionerad anställning` över `anställning`). En stavning som liknar ett långt",
        "ord (`Försörjningstöd`) läses som det, och ägaren får veta hur den lästes.",
        "",
        "Ett värde gissas aldrig när det kan betyda flera koder: när orden pekar på två koder (`Arbete eller",
        "studier`), när det innehåller ett ord som står under *Ord som kan betyda flera koder*, eller när det",
        "innehåller en negation (`ej`, `inte`, `ofullständig` …) som inget accepterat ord förklarar. Ägaren får",
        "veta vilka koder värdet kan betyda. Länets dataenhet kan bestämma betydelsen med en mappning",
        "(`finsam map`, se README), för hela länet eller ett förbund; leveranser i karantän prövas då om.",
        "",
    ]
    for list_name, codes in data["codes"].items():
        lines += [f"### Kodlista `{list_name}`", "", "| kod | benämning | accepterade stavningar |", "|---|---|---|"]
        for code, spec in codes.items():
            aliases = ", ".join(f"`{_md(a)}`" for a in spec.get("aliases") or ())
            lines.append(f"| `{_md(code)}` | {_md(spec.get('label', ''))} | {aliases} |")
        prefix = contract.prefixed(list_name)
        if prefix:
            lines.append(
                f"| `{prefix}:<kommunkod>` | en kommun, t.ex. `{prefix}:2084` | `{prefix.lower()} 2084`, "
                "kommunens namn med eller utan `kommun` |"
            )
        refines = (data.get("refines") or {}).get(list_name) or {}
        if refines:
            lines += [
                "",
                "När ett värde nämner båda, gäller den snävare koden: "
                + ", ".join(f"`{narrow}` före `{broad}`" for narrow, broad in refines.items())
                + ".",
            ]
        ambiguous = (data.get("ambiguous") or {}).get(list_name) or {}
        if ambiguous:
            lines += [
                "",
                "Ord som kan betyda flera koder (gissas inte; ägaren får veta vilka, länet kan mappa):",
                "",
                "| ord | kan betyda |",
                "|---|---|",
            ]
            lines += [f"| `{_md(word)}` | {', '.join(f'`{c}`' for c in codes)} |" for word, codes in ambiguous.items()]
        lines.append("")
    rule = contract.funding_rule
    shares = rule["shares"]
    tolerance = contract.budget_rule["difference_tolerance"]
    lines += [
        "## Finansieringsregeln",
        "",
        "Lag (2003:1210) 5 §: staten (via Försäkringskassan) betalar "
        f"{shares['STAT']:.0%}, regionen {shares['REGION']:.0%} och kommunerna tillsammans {shares['KOMMUN']:.0%}. "
        f"En leverans vars andelar avviker mer än {rule['tolerance']:.0%} flaggas (underkänns inte).".replace(
            "%", " %"
        ),
        "",
        "**Beslut (en regel, en definition):** regeln gäller medlemmarnas tillskott till förbundet, så den",
        f"prövas på förbundets egen budget (insats `{rule['applies_to']}`), på raderna från staten, regionen och",
        "kommunerna. Eget kapital, ESF, övriga finansiärer och förbundets egen finansiering av en insats är inga",
        f"tillskott från medlemmarna och räknas inte in. Regeln prövas när minst {rule['min_groups']} av de tre",
        "finns med i budgeten (en budget med bara en medlems rad är ofullständig, inte ett regelbrott). Samma",
        "definition (contract.yml `funding_rule`) ger varningen till ägaren vid inläsningen och flaggan",
        "`breaks_funding_rule` i `marts.fct_funding`; ett test visar att de alltid säger samma sak.",
        "",
        "## Budgetens differens",
        "",
        f"**Beslut:** en rads differens ska vara budget − utfall, med högst {tolerance:g} kronors avvikelse".replace(
            ".", ","
        ),
        "(avrundning till hela kronor). En rad utan utfall har ingen differens att pröva ännu. Samma definition",
        "(contract.yml `budget_rule`) ger varningen vid inläsningen och flaggan `difference_mismatch` i",
        "`marts.fct_budget`.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- dbt seeds


def seed_files() -> dict[Path, bytes]:
    """The dbt seeds mirroring the contract (contract_codes.csv, ...), as rendered by the dbt
    project's own exporter, `dbt_project/scripts/export_contract_codes.py` (one writer of seeds)."""
    if not SEED_EXPORTER.exists():
        return {}
    exporter = runpy.run_path(str(SEED_EXPORTER))
    return {Path(exporter["SEEDS"]) / name: text.encode("utf-8") for name, text in exporter["render"]().items()}


# ---------------------------------------------------------------- Excel templates


def _deterministic(xlsx: bytes) -> bytes:
    """The same workbook bytes on every run: fixed zip timestamps and document dates."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    lambda m: m.group(1) + stamp.encode() + m.group(3),
                    data,
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            target.writestr(fixed, data)
    return out.getvalue()


def template_bytes(kind: str) -> bytes:
    """An Excel template for one kind: the data sheet (named after the kind) with a drop-down of
    valid codes in every code column, an instructions sheet and the code lists."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    contract = load_contract()
    columns = contract.columns(kind)
    wb = Workbook()
    wb.properties.creator = "Finsam (länets exportkontrakt)"
    wb.properties.title = f"Mall: {contract.kind_label(kind)}"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    sheet = wb.active
    sheet.title = kind
    guide = wb.create_sheet("instruktioner")
    code_sheet = wb.create_sheet("koder")

    # The code lists, each a named range the drop-downs point at.
    code_sheet.append(["kodlista", "kod", "benämning"])
    ranges: dict[str, str] = {}
    lists = {col.codes for col in columns.values() if col.codes}
    if any(col.type == "yesno" for col in columns.values()):
        lists.add("ja_nej")
    for list_name in sorted(lists):
        first = code_sheet.max_row + 1
        for code, spec in contract.code_list(list_name).items():
            code_sheet.append([list_name, code, spec.get("label", "")])
        ranges[list_name] = f"kod_{list_name}"
        wb.defined_names[ranges[list_name]] = DefinedName(
            ranges[list_name], attr_text=f"koder!$B${first}:$B${code_sheet.max_row}"
        )
    names = municipalities()
    if names and any(col.type == "kommun" for col in columns.values()):
        first = code_sheet.max_row + 1
        for code, name in sorted(names.items()):
            code_sheet.append(["kommun", code, name])
        ranges["kommun"] = "kod_kommun"
        wb.defined_names["kod_kommun"] = DefinedName(
            "kod_kommun", attr_text=f"koder!$B${first}:$B${code_sheet.max_row}"
        )
    for letter, width in (("A", 26), ("B", 16), ("C", 44)):
        code_sheet.column_dimensions[letter].width = width
    code_sheet["A1"].font = code_sheet["B1"].font = code_sheet["C1"].font = Font(bold=True)
    code_sheet.freeze_panes = "A2"

    header_fill = PatternFill("solid", fgColor="DDEBF7")
    last = TEMPLATE_ROWS + 1
    for index, (name, col) in enumerate(columns.items(), start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=name)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center")
        cell.comment = Comment(
            f"{TYPE_SV.get(col.type, col.type)}. {'Krävs.' if col.required else 'Frivillig.'}", "Finsam"
        )
        sheet.column_dimensions[letter].width = max(14, len(name) + 4)
        area = f"{letter}2:{letter}{last}"
        validation = None
        if col.type in ("code", "codes", "yesno") or (col.type == "kommun" and "kommun" in ranges):
            source = ranges["ja_nej" if col.type == "yesno" else ("kommun" if col.type == "kommun" else col.codes)]
            validation = DataValidation(type="list", formula1=f"={source}", allow_blank=True)
            if col.type == "codes":  # a drop-down picks one code; several are typed: AKS+FBS
                validation.showErrorMessage = False
                validation.promptTitle, validation.prompt = "Flera koder", "Välj en kod, eller skriv flera: AKS+FBS"
            else:  # the Swedish labels are accepted too, so a value outside the list only warns
                validation.errorStyle = "warning"
                validation.errorTitle, validation.error = "Okänd kod", "Värdet finns inte i kodlistan (bladet koder)."
        elif col.type == "date":
            validation = DataValidation(
                type="date", operator="between", formula1="36526", formula2="73051", allow_blank=True
            )  # 2000-01-01 .. 2099-12-31
            validation.errorTitle, validation.error = "Datum", "Skriv ett datum, t.ex. 2016-06-30."
            sheet.column_dimensions[letter].number_format = "yyyy-mm-dd"
        elif col.type == "int":
            low, high = ("1900", "2100") if name in ("fodelsear", "ar") else ("0", "1000000")
            validation = DataValidation(type="whole", operator="between", formula1=low, formula2=high, allow_blank=True)
        elif col.type == "percent":
            validation = DataValidation(
                type="whole", operator="between", formula1="0", formula2="100", allow_blank=True
            )
        elif col.type == "amount":
            validation = DataValidation(
                type="decimal", allow_blank=True, operator="between", formula1="-1000000000", formula2="1000000000"
            )
        if col.type in ("personnummer", "text", "kommun"):
            sheet.column_dimensions[letter].number_format = "@"  # keeps leading zeros (0210020962, 0180)
        if validation is not None:
            validation.showInputMessage = bool(validation.prompt)
            validation.add(area)
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"

    guide.append([f"Mall för {contract.kind_label(kind)} – länets exportkontrakt version {contract.version}"])
    guide["A1"].font = Font(bold=True, size=13)
    guide.append([])
    for line in (
        f"1. Fyll i bladet '{kind}' med en rad per {'deltagarepisod' if kind == 'deltagare' else 'rad'}; "
        "låt rubrikraden stå kvar.",
        f"2. Spara som .xlsx med namnet <förbund>_<insats>_{kind}_<period>.xlsx, "
        f"t.ex. SODRA_AVESTA_{kind}_2016T2.xlsx.",
        "3. Ladda upp filen på insatsens sida i länets portal (du får besked direkt) eller lägg den i "
        "förbundets mapp. En ny fil för samma period ersätter den förra.",
        "4. Behöver något rättas får du ett besked med rad, kolumn, värde och vad som är giltigt.",
        "Kodkolumnerna har rullistor (kodlistorna finns på bladet 'koder'); svenska benämningar går också bra.",
    ):
        guide.append([line])
    guide.append([])
    guide.append(["kolumn", "typ", "krävs", "rubriker som också accepteras"])
    for cell in guide[guide.max_row]:
        cell.font = Font(bold=True)
    for name, col in columns.items():
        guide.append([name, TYPE_SV.get(col.type, col.type), "ja" if col.required else "nej", ", ".join(col.synonyms)])
    for letter, width in (("A", 28), ("B", 60), ("C", 8), ("D", 60)):
        guide.column_dimensions[letter].width = width

    buffer = io.BytesIO()
    wb.save(buffer)
    return _deterministic(buffer.getvalue())


# ---------------------------------------------------------------- all of it


def generated() -> dict[Path, bytes]:
    """Every generated file and its content."""
    files = {DOC: contract_markdown().encode("utf-8")}
    for kind in load_contract().data["kinds"]:
        files[kind_template(kind)] = template_bytes(kind)
    files.update(seed_files())
    return files


def write_all(check: bool = False) -> list[Path]:
    """Write the generated files (returns their paths), or with `check` return those out of date."""
    stale, written = [], []
    for path, content in generated().items():
        current = path.read_bytes() if path.exists() else None
        if current != content:
            stale.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                part = path.with_name(f".{path.name}.part")
                part.write_bytes(content)
                part.replace(path)
        written.append(path)
    return stale if check else written
