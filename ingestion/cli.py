"""`finsam`: the command line. Options also read environment variables (see README)."""

from __future__ import annotations

import argparse
import logging
import os
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="finsam", description="Länets uppföljning av finansiell samordning (Finsam).")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--home", default=None, help="arbetskatalog (FINSAM_HOME, standard ./var)")
        p.add_argument("--landing", default=None, help="inkorg med en mapp per förbund (FINSAM_LANDING)")
        p.add_argument("--warehouse", default=None, help="DuckDB-fil för datalagret (FINSAM_WAREHOUSE)")
        p.add_argument("--registry", default=None, help="registerfil över förbunden (FINSAM_REGISTRY)")

    run = sub.add_parser("run", help="kör hela kedjan utan schemaläggare")
    common(run)
    run.add_argument("--as-of", default=None, help="körningens datum (ÅÅÅÅ-MM-DD), standard i dag")
    run.add_argument("--no-docs", action="store_true", help="hoppa över Data Docs och dbt docs")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="kontrollera en fil innan den skickas")
    common(val)
    val.add_argument("file")
    val.add_argument("--as-of", default=None)
    val.set_defaults(func=cmd_validate)

    demo = sub.add_parser("demo", help="kör Airflow-flödet på exempellänet (Dalarna)")
    demo.add_argument("--keep", action="store_true", help="behåll tidigare demokörning")
    demo.set_defaults(func=cmd_demo)

    contract = sub.add_parser("contract", help="skriv exportkontraktets dokument, mallar och dbt-seed")
    contract.add_argument("--write", action="store_true")
    contract.add_argument("--check", action="store_true", help="kontrollera att genererade filer är aktuella")
    contract.set_defaults(func=cmd_contract)

    forget = sub.add_parser("forget", help="radera en person (återkallat samtycke)")
    common(forget)
    forget.add_argument(
        "personnummer_or_key", nargs="?", help="personnummer eller nyckel (läses från stdin om utelämnat)"
    )
    forget.set_defaults(func=cmd_forget)

    mapping = sub.add_parser(
        "map",
        help="lär pipelinen ett ord: värde -> kod i en kolumn (länets mappningar)",
        description="Lägger till en mappning i länets mappningsfil (FINSAM_MAPPINGS, standard "
        "config/mappings.yml) efter att ha kontrollerat att koden finns och att värdet inte redan "
        'betyder en annan kod. Exempel: finsam map --column remittent "Landstinget" REGION',
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

    again = sub.add_parser(
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

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("FINSAM_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
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


if __name__ == "__main__":
    sys.exit(main())
