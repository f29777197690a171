"""`finsam`: the command line. Options also read environment variables (see README)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from ingestion.core.config import ConfigError, load_settings


def _settings(args):
    return load_settings(
        landing=getattr(args, "landing", None),
        warehouse=getattr(args, "warehouse", None),
        registry=getattr(args, "registry", None),
        home=getattr(args, "home", None),
    )


def cmd_run(args) -> int:
    from ingestion.core.registry import load_registry
    from ingestion.pipeline import run_pipeline, summary_lines

    settings = _settings(args)
    registry = load_registry(settings.registry)
    as_of = date.fromisoformat(args.as_of) if args.as_of else None
    result = run_pipeline(settings, registry, as_of=as_of, docs=not args.no_docs)
    print(
        "\n".join(
            summary_lines(
                settings,
                registry,
                result["unknown_folders"],
                result["unreachable"],
                associations=result["associations"],
            )
        )
    )
    return _run_exit_code(result)


def _run_exit_code(result: dict) -> int:
    """0 all well; 3 a source could not be reached; 4 an association failed on the file system
    (permission, full disk). The other associations ran in both cases; nothing was lost."""
    for message in result.get("failed", {}).values():
        print(f"Fel: {message}", file=sys.stderr)
    if result.get("failed"):
        return 4
    return 3 if result["unreachable"] else 0


def cmd_validate(args) -> int:
    from ingestion.quality.check import validate_file

    settings = _settings(args)
    ok, text = validate_file(settings, Path(args.file), as_of=date.fromisoformat(args.as_of) if args.as_of else None)
    print(text)
    return 0 if ok else 1


def cmd_demo(args) -> int:
    from ingestion.demo import run_demo

    return run_demo(fresh=not args.keep)


def cmd_ui(args) -> int:
    from ingestion.demo import run_ui

    return run_ui(Path(args.home) if args.home else None, port=args.port)


def cmd_docs(args) -> int:
    from ingestion.core.config import REPO_ROOT
    from ingestion.demo import run_docs

    home = REPO_ROOT / "var" / "demo" if args.demo else load_settings(home=args.home).home
    return run_docs(home, port=args.port)


def cmd_contract(args) -> int:
    from ingestion.publish_contract import write_all

    paths = write_all(check=args.check)
    for path in paths:
        print(path)
    if args.check and paths:
        print("Inaktuella filer (se ovan): kör `finsam contract --write`.", file=sys.stderr)
        return 1
    return 0


def cmd_forget(args) -> int:
    from ingestion.forget import ForgetError, forget

    settings = _settings(args)
    given = args.personnummer_or_key or sys.stdin.readline()
    try:
        print(forget(settings, given.strip()))
    except ForgetError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_map(args) -> int:
    from ingestion.core.mappings import MappingError, add_mapping
    from ingestion.core.registry import load_registry

    settings = _settings(args)
    codes = load_registry(settings.registry).codes if settings.registry.exists() else None
    try:
        entry = add_mapping(
            settings.mappings,
            args.column,
            args.value,
            args.code,
            association=args.association,
            known_associations=codes,
        )
    except MappingError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 1
    where = f" för förbundet {entry.association}" if entry.association else " för hela länet"
    print(f"Mappning tillagd i {settings.mappings}: kolumnen {entry.column}, '{entry.value}' -> {entry.code}{where}.")
    print("Leveranser i karantän som berörs läses om vid nästa körning (eller direkt med `finsam replay`).")
    return 0


def cmd_replay(args) -> int:
    from ingestion.core.registry import load_registry
    from ingestion.pipeline import run_pipeline, summary_lines
    from ingestion.quality.replay import request

    settings = _settings(args)
    registry = load_registry(settings.registry)
    if args.association and registry.get(args.association) is None:
        print(f"Fel: förbundet {args.association} finns inte i länets register.", file=sys.stderr)
        return 1
    marked = request(settings, association=args.association, file_name=args.file)
    if not marked:
        print("Inga leveranser i karantän att ompröva" + (f" ({args.file})" if args.file else "") + ".")
        return 0
    print(f"Omprövar {len(marked)} leverans(er) i karantän: " + ", ".join(l.manifest["file_name"] for l in marked))
    as_of = date.fromisoformat(args.as_of) if args.as_of else None
    result = run_pipeline(settings, registry, as_of=as_of, docs=not args.no_docs)
    print(
        "\n".join(
            summary_lines(
                settings,
                registry,
                result["unknown_folders"],
                result["unreachable"],
                associations=result["associations"],
            )
        )
    )
    return _run_exit_code(result)


def cmd_portal(args) -> int:
    settings = _settings(args)
    if args.add_user:
        import getpass

        from ingestion.portal.accounts import AccountError, Accounts

        if sys.stdin.isatty():
            password = getpass.getpass("Lösenord (minst 12 tecken): ")
            if getpass.getpass("Samma lösenord igen: ") != password:
                print("Fel: lösenorden är inte lika.", file=sys.stderr)
                return 1
        else:
            password = sys.stdin.readline().rstrip("\n")
        try:
            account = Accounts(settings.portal_accounts).add(
                args.add_user, args.role, password, association=args.association
            )
        except AccountError as exc:
            print(f"Fel: {exc}.", file=sys.stderr)
            return 1
        print(f"Kontot {account.email} ({account.role_sv}) är sparat i {settings.portal_accounts}.")
        return 0
    import uvicorn

    from ingestion.portal.app import create_app

    app = create_app(settings)
    print(f"Portalen startar på http://{args.host}:{args.port}/ (avsluta med Ctrl+C).")
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=True, log_level="warning")
    return 0


def cmd_export(args) -> int:
    from ingestion.outbound.open_data import OpenDataError, export_open_data

    if not args.oppna_data:
        print("Fel: ange vad som ska exporteras: --oppna-data.", file=sys.stderr)
        return 1
    settings = _settings(args)
    try:
        result = export_open_data(
            settings,
            args.period,
            snapshot=Path(args.snapshot) if args.snapshot else None,
            out_dir=Path(args.ut) if args.ut else None,
        )
    except OpenDataError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 1
    for key in ("csv", "parquet", "dictionary", "licence"):
        print(result[key])
    return 0


def cmd_rapport(args) -> int:
    from ingestion.reports.batch import make_report
    from ingestion.reports.figures import ReportError

    settings = _settings(args)
    what: dict = {"period": args.period}
    try:
        what["start"] = date.fromisoformat(args.from_date) if args.from_date else None
        what["end"] = date.fromisoformat(args.to_date) if args.to_date else None
    except ValueError:
        print("Fel: --from och --to skrivs ÅÅÅÅ-MM-DD.", file=sys.stderr)
        return 1
    if args.insats:
        association, _, intervention = args.insats.partition("/")
        if not intervention:
            print("Fel: --insats skrivs FÖRBUND/INSATS, t.ex. SODRA/AVESTA.", file=sys.stderr)
            return 1
        kind, what = "intervention", {**what, "association": association, "intervention": intervention}
    elif args.forbund:
        kind, what = "board", {"association": args.forbund, "period": args.period}
    else:
        kind, what = "county", {"period": args.period}
    formats = tuple(args.format) if args.format else ("pdf", "docx", "html")
    try:
        paths = make_report(
            settings,
            kind,
            internal=args.internt,
            formats=formats,
            out_dir=Path(args.ut) if args.ut else None,
            snapshot=Path(args.snapshot) if args.snapshot else None,
            **what,
        )
    except ReportError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


# argparse's own words (usage, headings, its errors) in Swedish: everything a person in the county reads.
ARGPARSE_SV = {
    "usage: ": "användning: ",
    "positional arguments": "argument",
    "options": "flaggor",
    "optional arguments": "flaggor",
    "show this help message and exit": "visa den här hjälpen och avsluta",
    "the following arguments are required: %s": "följande argument krävs: %s",
    "%(prog)s: error: %(message)s\n": "%(prog)s: fel: %(message)s\n",
    "unrecognized arguments: %s": "okända argument: %s",
    "expected one argument": "ett värde krävs",
    "invalid choice: %(value)r (choose from %(choices)s)": "ogiltigt val: %(value)r (välj bland %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argumentet %(argument_name)s: %(message)s",
    "ambiguous option: %(option)s could match %(matches)s": "flaggan %(option)s kan betyda %(matches)s",
}

EXIT_CODES = {
    "run": "0 allt gick bra; 2 felaktig konfiguration (t.ex. FINSAM_HASH_SECRET saknas); 3 en källa gick inte att nå "
    "(övriga förbund kördes); 4 ett förbund eller körningen stoppades av filsystemet (full disk, behörighet); "
    "inget har gått förlorat",
    "validate": "0 filen skulle läsas in (ev. med varningar); 1 filen skulle hamna i karantän eller finns inte",
    "demo": "0 flödet körde klart; annat: Airflow-körningen misslyckades (se loggen som skrivs ut)",
    "contract": "0 klart (med --check: alla genererade filer är aktuella); 1 med --check: någon fil är inaktuell",
    "forget": "0 personen är raderad; 1 värdet är varken ett personnummer eller en känd nyckel, eller datalagret upptaget",
    "map": "0 mappningen är tillagd; 1 mappningen avvisades (okänd kod, redan en benämning av en annan kod, …)",
    "replay": "0 klart (också när inget fanns att ompröva); 2, 3 och 4 som för run",
    "ui": "0 gränssnittet stängdes (Ctrl-C); 1 ingen demokörning finns eller gränssnittet startade inte",
    "docs": "0 servern stängdes (Ctrl-C); 1 inget att visa (kör flödet först) eller porten är upptagen",
    "portal": "0 portalen stängdes eller kontot sparades; 1 kontot avvisades; 2 felaktig konfiguration "
    "(t.ex. FINSAM_PORTAL_SECRET saknas)",
    "export": "0 filerna är skrivna (sökvägarna skrivs ut); 1 okänd period, inga publicerade siffror eller ingen "
    "publicerad ögonblicksbild",
    "rapport": "0 rapporten är skriven (filerna skrivs ut); 1 rapporten gick inte att göra (okänd insats eller "
    "period, ingen publicerad ögonblicksbild); 2 felaktig konfiguration",
}
EXAMPLES = {
    "run": "finsam run\n  finsam run --as-of 2017-01-31 --no-docs",
    "validate": "finsam validate SODRA_AVESTA_deltagare_2016T2.xlsx\n"
    "  finsam validate --as-of 2016-09-15 SODRA_ALL_budget_2016T2.csv",
    "demo": "finsam demo\n  finsam demo --keep",
    "contract": "finsam contract --write\n  finsam contract --check",
    "forget": "finsam forget            (personnumret läses från standard in och syns aldrig i skalhistoriken)\n"
    "  finsam forget 3f9c…     (en nyckel, 32 tecken)",
    "map": 'finsam map --column remittent "Jobbcentrum Syd" KOMMUN --association SODRA\n'
    '  finsam map --column avslutsanledning "Fick plats på Samhall" SUBV_ARBETE',
    "replay": "finsam replay\n  finsam replay --association SODRA --file SODRA_AVESTA_deltagare_2016T3.csv",
    "ui": "finsam ui\n  finsam ui --port 8081",
    "docs": "finsam docs --demo\n  finsam docs --home /srv/finsam --port 8002",
    "portal": "finsam portal --host 0.0.0.0 --port 8000\n"
    "  finsam portal --add-user anna.berg@avesta.example --role owner      (lösenordet läses från standard in)\n"
    "  finsam portal --add-user lisa@sodra.example --role analyst --association SODRA",
    "export": "finsam export --oppna-data --period 2016\n  finsam export --oppna-data --period 2016H1 --ut /tmp/oppna",
    "rapport": "finsam rapport --insats SODRA/AVESTA --period 2016H1\n"
    "  finsam rapport --insats SODRA/AVESTA --from 2015-07-01 --to 2016-06-30 --format docx --internt\n"
    "  finsam rapport --forbund SODRA --period 2016\n"
    "  finsam rapport --lan --period 2016 --format pdf",
}


def _swedish_argparse() -> None:
    argparse._ = lambda text: ARGPARSE_SV.get(text, text)  # argparse looks its words up through `_`


def _epilog(command: str) -> str:
    return f"exempel:\n  {EXAMPLES[command]}\n\nslutkoder: {EXIT_CODES[command]}"


def main(argv: list[str] | None = None) -> int:
    _swedish_argparse()
    parser = argparse.ArgumentParser(
        prog="finsam",
        description="Länets uppföljning av finansiell samordning (Finsam): läs in förbundens leveranser, "
        "kontrollera dem, bygg datalagret och publicera. Varje kommando har egen hjälp: finsam KOMMANDO --help.",
    )
    sub = parser.add_subparsers(dest="command", required=True, title="kommandon", metavar="KOMMANDO")

    def command(name: str, **kwargs):
        return sub.add_parser(
            name, epilog=_epilog(name), formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs
        )

    def common(p):
        p.add_argument("--home", default=None, help="arbetskatalog (FINSAM_HOME, standard ./var)")
        p.add_argument("--landing", default=None, help="inkorg med en mapp per förbund (FINSAM_LANDING)")
        p.add_argument("--warehouse", default=None, help="DuckDB-fil för datalagret (FINSAM_WAREHOUSE)")
        p.add_argument("--registry", default=None, help="registerfil över förbunden (FINSAM_REGISTRY)")

    run = command(
        "run",
        help="kör hela kedjan utan schemaläggare",
        description="Hämtar, läser in, kontrollerar, "
        "bygger och publicerar för alla förbund i registret, i samma steg som Airflow-flödet.",
    )
    common(run)
    run.add_argument("--as-of", default=None, help="körningens datum (ÅÅÅÅ-MM-DD), standard i dag")
    run.add_argument("--no-docs", action="store_true", help="hoppa över Data Docs och dbt docs")
    run.set_defaults(func=cmd_run)

    val = command(
        "validate",
        help="kontrollera en fil innan den skickas",
        description="Samma kontroller och "
        "samma svenska text som pipelinen ger, utan att något sparas. Filnamnet ska följa regeln "
        "<förbund>_<insats>_<typ>_<period>.<xlsx|xls|ods|csv>.",
    )
    common(val)
    val.add_argument("file", help="filen att kontrollera, med namnet den ska levereras under")
    val.add_argument("--as-of", default=None, help="dagens datum för kontrollerna (ÅÅÅÅ-MM-DD), standard i dag")
    val.set_defaults(func=cmd_validate)

    demo = command(
        "demo",
        help="kör Airflow-flödet på exempellänet (Dalarna)",
        description="Kör flödet finsam_county i Airflow på exempellänet och skriver en sammanfattning.",
    )
    demo.add_argument("--keep", action="store_true", help="behåll tidigare demokörning")
    demo.set_defaults(func=cmd_demo)

    contract = command(
        "contract",
        help="skriv exportkontraktets dokument, mallar och dbt-seed",
        description="Skriver docs/contract.md, templates/*.xlsx och dbt-seeden från ingestion/contract.yml.",
    )
    contract.add_argument("--write", action="store_true", help="skriv de genererade filerna")
    contract.add_argument("--check", action="store_true", help="kontrollera att genererade filer är aktuella")
    contract.set_defaults(func=cmd_contract)

    forget = command(
        "forget",
        help="radera en person (återkallat samtycke)",
        description="Raderar personen ur "
        "råzonen, karantänen, datalagret och de publicerade kopiorna och spärrar nyckeln för framtida "
        "leveranser. Numret sparas aldrig; raderingen loggas med nyckelns början.",
    )
    common(forget)
    forget.add_argument(
        "personnummer_or_key", nargs="?", help="personnummer eller nyckel (läses från stdin om utelämnat)"
    )
    forget.set_defaults(func=cmd_forget)

    mapping = command(
        "map",
        help="lär pipelinen ett ord: värde -> kod i en kolumn (länets mappningar)",
        description="Lägger till en mappning i länets mappningsfil (FINSAM_MAPPINGS, standard "
        "config/mappings.yml) efter att ha kontrollerat att koden finns och att värdet inte redan "
        "betyder en annan kod. Leveranser i karantän prövas om vid nästa körning.",
    )
    common(mapping)
    mapping.add_argument(
        "--column", required=True, help="kolumnen i exportkontraktet, t.ex. remittent eller avslutsanledning"
    )
    mapping.add_argument(
        "--association", default=None, help="gäller bara detta förbund (förbundskod); annars hela länet"
    )
    mapping.add_argument("value", help='värdet som ägarna skriver, t.ex. "Landstinget"')
    mapping.add_argument(
        "code", help="koden i kontraktets kodlista, t.ex. REGION (flera koder med +, där kolumnen tillåter)"
    )
    mapping.set_defaults(func=cmd_map)

    again = command(
        "replay",
        help="pröva leveranser i karantän igen (efter en ny mappning eller kontraktsändring)",
        description="Läser om underkända leveranser från deras pseudonymiserade kopior och läser in "
        "dem som nu godkänns, precis som nya leveranser. Filer som inte gick att läsa ligger kvar hos "
        "ägaren och kan inte omprövas.",
    )
    common(again)
    again.add_argument("--association", default=None, help="bara detta förbund")
    again.add_argument("--file", default=None, help="bara leveransen med detta filnamn")
    again.add_argument("--as-of", default=None, help="körningens datum (ÅÅÅÅ-MM-DD), standard i dag")
    again.add_argument("--no-docs", action="store_true", help="hoppa över Data Docs och dbt docs")
    again.set_defaults(func=cmd_replay)

    ui = command(
        "ui",
        help="öppna Airflows gränssnitt på demokörningen (körningar, uppgifter, loggar)",
        description="Startar Airflows gränssnitt (api-server) på demons Airflow-katalog (var/demo/airflow) "
        "på den här datorn och skriver ut adressen, användaren och lösenordet. Varje uppgifts logg syns "
        "under fliken Logs. Kör `finsam demo` först.",
    )
    ui.add_argument("--port", type=int, default=8080, help="porten (standard 8080); adressen är 127.0.0.1")
    ui.add_argument("--home", default=None, help="demons katalog (standard var/demo)")
    ui.set_defaults(func=cmd_ui)

    docs = command(
        "docs",
        help="visa valideringsrapporten, dbt-dokumentationen och GX Data Docs i webbläsaren",
        description="Serverar valideringsrapporten, dbt-dokumentationen (datalagrets tabeller) och "
        "Great Expectations Data Docs över http på den här datorn och skriver ut adresserna. dbt docs "
        "fungerar bara över http, inte som fil.",
    )
    docs.add_argument("--demo", action="store_true", help="demokörningens sidor (var/demo)")
    docs.add_argument("--home", default=None, help="arbetskatalog (FINSAM_HOME, standard ./var)")
    docs.add_argument("--port", type=int, default=8001, help="porten (standard 8001); adressen är 127.0.0.1")
    docs.set_defaults(func=cmd_docs)

    portal = command(
        "portal",
        help="webbportalen för insatsägare: se leveranser, ladda upp och få besked direkt",
        description="Startar portalen där insatsägare loggar in, ser vilka leveranser som väntas, har "
        "kommit in eller ligger i karantän, och laddar upp filer som kontrolleras med samma kontroller "
        "som pipelinen. Godkända filer läggs i förbundets inkorg. Se docs/portal.md.",
    )
    common(portal)
    portal.add_argument("--host", default="127.0.0.1", help="adressen portalen lyssnar på (standard 127.0.0.1)")
    portal.add_argument("--port", type=int, default=8000, help="porten (standard 8000)")
    portal.add_argument("--add-user", default=None, metavar="E-POST", help="lägg till eller ändra ett konto")
    portal.add_argument(
        "--role",
        default="owner",
        choices=["owner", "analyst", "county"],
        help="kontots roll: owner (insatsägare), analyst (ett förbund), county (länets dataenhet)",
    )
    portal.add_argument("--association", default=None, help="förbundets kod, för rollen analyst")
    portal.set_defaults(func=cmd_portal)

    rapport = command(
        "rapport",
        help="skriv en rapport: insatsens halvårs- eller helårsrapport, styrelseunderlag, länsjämförelse",
        description="Skriver rapporten som PDF (till styrelsen), DOCX (som ägaren kan redigera, med tomma "
        "avsnitt för reflektion och utvecklingsområden) och HTML (för webben), ur de publicerade martsen. "
        "Utan --internt visas små antal (under FINSAM_MIN_COUNT, standard 5) som <5 (som i de publika tabellerna) och filerna hamnar under "
        "publish/rapporter; med --internt visas exakta antal och filerna hamnar under reports/rapporter.",
    )
    common(rapport)
    which = rapport.add_mutually_exclusive_group(required=True)
    which.add_argument("--insats", default=None, metavar="FÖRBUND/INSATS", help="insatsens rapport, t.ex. SODRA/AVESTA")
    which.add_argument("--forbund", default=None, metavar="FÖRBUND", help="förbundets styrelseunderlag, t.ex. SODRA")
    which.add_argument("--lan", action="store_true", help="länsjämförelsen: förbund och insatser sida vid sida")
    rapport.add_argument(
        "--period", default=None, help="perioden: 2016 (år), 2016H1 (halvår), 2016T2 (tertial), 2015/16 (verksamhetsår)"
    )
    rapport.add_argument(
        "--from", dest="from_date", default=None, metavar="ÅÅÅÅ-MM-DD", help="periodens första dag (med --to)"
    )
    rapport.add_argument(
        "--to", dest="to_date", default=None, metavar="ÅÅÅÅ-MM-DD", help="periodens sista dag (med --from)"
    )
    rapport.add_argument(
        "--format", action="append", choices=["pdf", "docx", "html"], help="format (kan upprepas); standard alla tre"
    )
    rapport.add_argument("--internt", action="store_true", help="exakta antal: internt underlag, inte för publicering")
    rapport.add_argument("--ut", default=None, metavar="MAPP", help="skriv under denna mapp i stället")
    rapport.add_argument("--snapshot", default=None, metavar="FIL", help="den publicerade ögonblicksbilden att läsa")
    rapport.set_defaults(func=cmd_rapport)

    export = command(
        "export",
        help="exportera öppna data: länets siffror per förbund och insats (CSV och Parquet)",
        description="Skriver länets siffror per förbund och insats för en period (deltagare, avslut per "
        "kategori, andelar, kostnad per deltagare) som CSV och Parquet med en dataordlista på svenska och "
        "engelska och en licensrad (CC0 1.0), under publish/oppna-data. Siffrorna läses ur den publicerade "
        "ögonblicksbilden och är alltså röjandeskyddade på samma sätt: <5 och – för dolda antal.",
    )
    common(export)
    export.add_argument("--oppna-data", action="store_true", help="exportera öppna data (det enda som finns i dag)")
    export.add_argument("--period", required=True, help="perioden: 2016 (år), 2016H1 (halvår), 2016T2 (tertial)")
    export.add_argument("--ut", default=None, metavar="MAPP", help="skriv under denna mapp i stället")
    export.add_argument("--snapshot", default=None, metavar="FIL", help="den publicerade ögonblicksbilden att läsa")
    export.set_defaults(func=cmd_export)

    args = parser.parse_args(argv)
    logging.basicConfig(level=load_settings().log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk or a missing permission outside one association's work
        import errno

        cause = "disken är full" if exc.errno == errno.ENOSPC else f"ett fel i filsystemet ({exc.strerror or exc})"
        print(
            f"Fel: körningen avbröts: {cause}. Inget som redan lästs in har gått förlorat; filer som inte "
            "hann behandlas ligger kvar i inkorgen. Åtgärda felet och kör igen.",
            file=sys.stderr,
        )
        return 4


def run(argv: list[str] | None = None) -> None:
    """The `finsam` command: `main`, then the process ends at once (core/shutdown.py)."""
    from ingestion.core.shutdown import exit_now

    exit_now(main(argv))


if __name__ == "__main__":
    run()
