"""`finsam`: the command line. Options also read environment variables (see README)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path

from .config import REPO_ROOT, ConfigError, load_settings


def _settings(args):
    return load_settings(landing=getattr(args, "landing", None), warehouse=getattr(args, "warehouse", None),
                         registry=getattr(args, "registry", None), home=getattr(args, "home", None))


def cmd_run(args) -> int:
    from .pipeline import run_pipeline, summary_lines
    from .registry import load_registry

    settings = _settings(args)
    registry = load_registry(settings.registry)
    as_of = date.fromisoformat(args.as_of) if args.as_of else None
    result = run_pipeline(settings, registry, as_of=as_of, docs=not args.no_docs)
    print("\n".join(summary_lines(settings, registry, result["unknown_folders"], result["unreachable"])))
    return 3 if result["unreachable"] else 0  # a scheduler sees that a source was down


def cmd_validate(args) -> int:
    from .check import validate_file

    settings = _settings(args)
    ok, text = validate_file(settings, Path(args.file), as_of=date.fromisoformat(args.as_of) if args.as_of else None)
    print(text)
    return 0 if ok else 1


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(fresh=not args.keep)


def cmd_contract(args) -> int:
    from .publish_contract import write_all

    paths = write_all(check=args.check)
    for path in paths:
        print(path)
    if args.check and paths:
        print("Inaktuella filer (se ovan): kör `finsam contract --write`.", file=sys.stderr)
        return 1
    return 0


def cmd_forget(args) -> int:
    from .forget import ForgetError, forget

    settings = _settings(args)
    given = args.personnummer_or_key or sys.stdin.readline()
    try:
        print(forget(settings, given.strip()))
    except ForgetError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 1
    return 0


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
    forget.add_argument("personnummer_or_key", nargs="?", help="personnummer eller nyckel (läses från stdin om utelämnat)")
    forget.set_defaults(func=cmd_forget)

    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("FINSAM_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
