"""Settings, read from environment variables (README.md "Configuration"; docs/deployment.md).

Every path is absolute once resolved, so Airflow task processes (with another
working directory) see the same zones as the CLI that started them. This is the only
module that reads the environment for a setting; an empty variable counts as unset.
Variables passed on to child processes (Airflow, dbt's `profiles.yml`) are theirs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_SECRET = "demo-secret-not-for-production"


class ConfigError(RuntimeError):
    """Raised for settings that make a run unsafe (e.g. no hash secret)."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    home: Path
    landing: Path
    warehouse: Path
    registry: Path
    mappings: Path | None = None
    demo: bool = False
    hash_secret: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "finsam-noreply@localhost"
    overspend_share: float = 0.10
    overdue_days: int = 30
    max_file_bytes: int = 300 * 1024 * 1024
    max_unzipped_bytes: int = 1024 * 1024 * 1024
    bi_postgres_dsn: str | None = None
    bi_reader_role: str | None = None  # FINSAM_BI_READER_ROLE: granted read access at every BI publish
    log_level: str = "WARNING"  # FINSAM_LOG_LEVEL: the CLI's log level
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # FINSAM_WORKERS: `finsam run` in parallel
    # FINSAM_TASK_RETRY_DELAY: seconds before the DAG's first retry of a failed step (then doubling)
    task_retry_delay: int = 30
    jump_factor: float | None = None  # FINSAM_JUMP_FACTOR; unset: dbt_project.yml's var finsam_jump_factor (3)
    # FINSAM_MIN_COUNT: a published count below it is hidden; unset: dbt_project.yml's var (5)
    min_count: int | None = None
    reference_checks: bool = False  # FINSAM_REFERENCE_CHECKS=1: dbt reconciles with the real reports' figures
    dbt_target: str = "duckdb"  # FINSAM_DBT_TARGET: `postgres` builds the marts in PostgreSQL
    # FINSAM_PG_HOST, _PORT, _USER, _PASSWORD, _DBNAME, _SCHEMA: the dbt `postgres` target's warehouse (as profiles.yml)
    pg_host: str = "127.0.0.1"
    pg_port: str = "5432"
    pg_user: str = "postgres"
    pg_password: str = ""
    pg_dbname: str = "finsam"
    pg_schema: str = "finsam"
    # FINSAM_DBT_PARSE_CACHE: dbt's parsed project kept between processes (build.dbt); default: the
    # user's cache folder ($XDG_CACHE_HOME or ~/.cache, then finsam/dbt-parse)
    dbt_parse_cache: Path | None = None
    # The owners' portal (docs/portal.md): FINSAM_PORTAL_URL (links in alert mails), _SECRET (session
    # cookies; required outside the demo), _ACCOUNTS (local accounts file), _HTTPS_ONLY, _MAX_UPLOAD_MB
    portal_url: str | None = None
    portal_secret: str | None = None
    portal_accounts: Path | None = None
    portal_https_only: bool = True
    portal_max_upload_bytes: int = 20 * 1024 * 1024
    # OpenID Connect sign-in (Entra ID and similar): FINSAM_PORTAL_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET
    portal_oidc_issuer: str | None = None
    portal_oidc_client_id: str | None = None
    portal_oidc_client_secret: str | None = None

    @property
    def raw(self) -> Path:
        return self.home / "raw"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def publish(self) -> Path:
        return self.home / "publish"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def gx_root(self) -> Path:
        return self.home / "gx"

    @property
    def rules_fingerprint(self) -> str:
        """The contract and the county mappings a verdict was given under (see ingestion.core.mappings)."""
        from ingestion.core.mappings import rules_fingerprint

        return rules_fingerprint(self.mappings)

    @property
    def dbt_project(self) -> Path:
        return REPO_ROOT / "dbt_project"

    @property
    def warehouse_postgres_dsn(self) -> str:
        """The PostgreSQL warehouse of the dbt `postgres` target (the FINSAM_PG_* that profiles.yml reads too)."""
        return (
            f"host={self.pg_host} port={self.pg_port} user={self.pg_user} password='{self.pg_password}' "
            f"dbname={self.pg_dbname}"
        )

    def secret(self) -> bytes:
        """The county hash secret. Outside the demo a run without one is refused."""
        if self.hash_secret:
            return self.hash_secret.encode("utf-8")
        if self.demo:
            return DEMO_SECRET.encode("utf-8")
        raise ConfigError(
            "FINSAM_HASH_SECRET saknas: sätt länets hemliga nyckel för pseudonymisering "
            "(körningen avbryts utan den, utom i demoläge FINSAM_DEMO=1)."
        )

    def ensure_dirs(self) -> None:
        for path in (self.landing, self.raw, self.quarantine, self.publish, self.reports, self.warehouse.parent):
            path.mkdir(parents=True, exist_ok=True)


def load_settings(**overrides) -> Settings:
    home = Path(overrides.pop("home", None) or _env("FINSAM_HOME", str(Path.cwd() / "var"))).resolve()
    values = dict(
        home=home,
        landing=Path(_env("FINSAM_LANDING", str(home / "landing"))).resolve(),
        warehouse=Path(_env("FINSAM_WAREHOUSE", str(home / "warehouse" / "finsam.duckdb"))).resolve(),
        registry=Path(_env("FINSAM_REGISTRY", str(REPO_ROOT / "config" / "registry.yml"))).resolve(),
        mappings=Path(_env("FINSAM_MAPPINGS", str(REPO_ROOT / "config" / "mappings.yml"))).resolve(),
        demo=_env("FINSAM_DEMO", "0") in ("1", "true", "yes"),
        hash_secret=_env("FINSAM_HASH_SECRET"),
        smtp_host=_env("FINSAM_SMTP_HOST"),
        smtp_port=int(_env("FINSAM_SMTP_PORT", "25")),
        smtp_user=_env("FINSAM_SMTP_USER"),
        smtp_password=_env("FINSAM_SMTP_PASSWORD"),
        smtp_starttls=_env("FINSAM_SMTP_STARTTLS", "0") in ("1", "true", "yes"),
        mail_from=_env("FINSAM_MAIL_FROM", "finsam-noreply@localhost"),
        overspend_share=float(_env("FINSAM_OVERSPEND_SHARE", "0.10")),
        overdue_days=int(_env("FINSAM_OVERDUE_DAYS", "30")),
        max_file_bytes=int(_env("FINSAM_MAX_FILE_MB", "300")) * 1024 * 1024,
        bi_postgres_dsn=_env("FINSAM_BI_POSTGRES_DSN"),
        bi_reader_role=_env("FINSAM_BI_READER_ROLE"),
        log_level=_env("FINSAM_LOG_LEVEL", "WARNING"),
        workers=int(_env("FINSAM_WORKERS", str(os.cpu_count() or 1))),
        task_retry_delay=int(_env("FINSAM_TASK_RETRY_DELAY", "30")),
        jump_factor=float(_env("FINSAM_JUMP_FACTOR")) if _env("FINSAM_JUMP_FACTOR") else None,
        min_count=int(_env("FINSAM_MIN_COUNT")) if _env("FINSAM_MIN_COUNT") else None,
        reference_checks=_env("FINSAM_REFERENCE_CHECKS", "0") in ("1", "true"),
        dbt_target=_env("FINSAM_DBT_TARGET", "duckdb"),
        pg_host=_env("FINSAM_PG_HOST", "127.0.0.1"),
        pg_port=_env("FINSAM_PG_PORT", "5432"),
        pg_user=_env("FINSAM_PG_USER", "postgres"),
        pg_password=_env("FINSAM_PG_PASSWORD", ""),
        pg_dbname=_env("FINSAM_PG_DBNAME", "finsam"),
        pg_schema=_env("FINSAM_PG_SCHEMA", "finsam"),
        dbt_parse_cache=Path(
            _env("FINSAM_DBT_PARSE_CACHE")
            or Path(_env("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "finsam" / "dbt-parse"
        ).resolve(),
        portal_url=_env("FINSAM_PORTAL_URL"),
        portal_secret=_env("FINSAM_PORTAL_SECRET"),
        portal_accounts=Path(_env("FINSAM_PORTAL_ACCOUNTS", str(home / "portal" / "accounts.json"))).resolve(),
        portal_https_only=_env("FINSAM_PORTAL_HTTPS_ONLY", "1") in ("1", "true", "yes"),
        portal_max_upload_bytes=int(float(_env("FINSAM_PORTAL_MAX_UPLOAD_MB", "20")) * 1024 * 1024),
        portal_oidc_issuer=_env("FINSAM_PORTAL_OIDC_ISSUER"),
        portal_oidc_client_id=_env("FINSAM_PORTAL_OIDC_CLIENT_ID"),
        portal_oidc_client_secret=_env("FINSAM_PORTAL_OIDC_CLIENT_SECRET"),
    )
    for key, value in overrides.items():
        if value is not None:
            values[key] = Path(value).resolve() if key in ("landing", "warehouse", "registry", "mappings") else value
    return Settings(**values)


PORTAL_PAGE = "/insats/{association}/{intervention}"  # an intervention's page in the portal (ingestion/portal)


def portal_link(portal_url: str | None, association: str, intervention: str) -> str | None:
    """The intervention's page in the owners' portal (FINSAM_PORTAL_URL), or None without a portal."""
    if not portal_url:
        return None
    return portal_url.rstrip("/") + PORTAL_PAGE.format(association=association, intervention=intervention)
