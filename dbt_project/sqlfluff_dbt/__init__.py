"""What dbt gives a model at compile time, for sqlfluff's jinja templater (lint only).

sqlfluff lints the SQL with its plain jinja templater (`.sqlfluff`): the dbt templater would
need a warehouse connection and a dbt compile per run. The jinja templater's dbt builtins
cover ref/source/config/is_incremental/this/return; this package adds the rest the project
uses, as dbt renders them at parse time on DuckDB (`execute` false: no queries, every optional
source absent, every association in scope). sqlfluff puts each public name here into the
template context (`library_path` in `.sqlfluff`); the vars are read from dbt_project.yml, so
they are never copied.
"""

import os as _os
from pathlib import Path as _Path

import jinja2 as _jinja2
import yaml as _yaml

_PROJECT = _yaml.safe_load((_Path(__file__).resolve().parents[1] / "dbt_project.yml").read_text(encoding="utf-8"))
_VARS = _PROJECT.get("vars") or {}
_MISSING = object()

# Parse time: the macros that query the warehouse take their "not executing" branch.
execute = False


def var(name, default=_MISSING):
    """dbt's var(): the project's vars from dbt_project.yml."""
    if name in _VARS:
        return _VARS[name]
    if default is not _MISSING:
        return default
    raise KeyError(f"var {name!r} is not in dbt_project.yml")


def run_query(sql):
    raise RuntimeError("run_query is not available while linting (execute is false)")


class _Target:
    name = "dev"
    type = "duckdb"
    schema = "main"
    database = "finsam"
    threads = 1


target = _Target()


class _Exceptions:
    @staticmethod
    def raise_compiler_error(message):
        raise _jinja2.TemplateRuntimeError(message)

    @staticmethod
    def warn(message):
        return ""


exceptions = _Exceptions()


class _Adapter:
    @_jinja2.pass_context
    def dispatch(self, context, macro_name, macro_namespace=None):
        """duckdb__<name>, else default__<name>, from the project's macros (as dbt does)."""
        for prefix in ("duckdb__", "default__"):
            macro = context.get(prefix + macro_name)
            if macro is not None:
                return macro
        raise _jinja2.TemplateRuntimeError(f"no duckdb__ or default__ implementation of {macro_name}")

    def get_relation(self, database=None, schema=None, identifier=None):
        return None

    def get_columns_in_relation(self, relation):
        return []


adapter = _Adapter()


class _Dbt:
    """The cross-database macros the project calls (dbt.<name>), as dbt-duckdb renders them."""

    @staticmethod
    def datediff(first_date, second_date, datepart):
        return f"(date_diff('{datepart}', {first_date}::timestamp, {second_date}::timestamp))"

    @staticmethod
    def dateadd(datepart, interval, from_date_or_timestamp):
        return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {str(datepart).lower()})"


dbt = _Dbt()


def env_var(name, default=_MISSING):
    """dbt's env_var(): the environment, as at compile time."""
    if name in _os.environ:
        return _os.environ[name]
    if default is not _MISSING:
        return default
    raise KeyError(f"env var {name!r} is not set")
