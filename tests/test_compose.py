"""docker-compose.yml: the production topology's structure (no Docker engine runs here).

Checked as Compose reads it: variables interpolated from `.env.example` exactly as from a
real `.env`, then the services, health checks, restart policies, volumes, role separation of
secrets and scalability of the worker. The result is validated against the Compose
specification with whatever validator is installed: the `compose-pydantic` models (generated
from the compose-spec JSON schema), Debian's docker-compose schema file, and
`docker-compose config` / `docker compose config` when the client can run offline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
AIRFLOW_ROLES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
LONG_RUNNING = ("postgres", "redis", *AIRFLOW_ROLES)
SECRET_KEY = re.compile(r"(PASSWORD|SECRET|FERNET|TOKEN|SQL_ALCHEMY_CONN|BROKER_URL|RESULT_BACKEND|_DSN)(?!.*_FILE$)")
DEBIAN_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]+)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        expr = match.group("braced") or match.group("plain")
        name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", expr).group(0)
        rest = expr[len(name) :]
        value = env.get(name)
        if rest.startswith(":-"):
            return value if value else rest[2:]
        if rest.startswith("-"):
            return value if value is not None else rest[1:]
        if rest.startswith((":?", "?")):
            if not value:
                raise KeyError(f"required variable {name} is not set: {rest.lstrip(':?')}")
            return value
        assert rest == "", f"unsupported substitution ${{{expr}}}"
        if value is None:
            raise KeyError(f"variable {name} is not set and has no default")
        return value

    return _VAR.sub(replace, text)


def _raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def interpolate_tree(node, env: dict[str, str]):
    """As Compose does: the YAML is parsed first, then every string value is interpolated."""
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


@pytest.fixture(scope="module")
def compose() -> dict:
    return interpolate_tree(_raw(), read_env_file(ENV_EXAMPLE))


def env_of(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def test_every_component_of_the_topology_is_there(compose):
    services = compose["services"]
    assert set(LONG_RUNNING) | {"airflow-init"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    commands = {
        name: " ".join(services[name]["command"])
        if isinstance(services[name]["command"], list)
        else services[name]["command"]
        for name in AIRFLOW_ROLES
    }
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker": "celery worker",
    }
    for name in AIRFLOW_ROLES + ("airflow-init",):
        env = env_of(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert services[name]["image"] == services["airflow-worker"]["image"], "one image for every role"


def test_health_checks_and_restart_policies(compose):
    services = compose["services"]
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert services[name].get("restart") in ("always", "unless-stopped"), name
    assert services["airflow-init"]["restart"] == "no"  # a one-shot job
    for name in AIRFLOW_ROLES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name


def test_workers_can_be_scaled(compose):
    """`--scale airflow-worker=N` needs no fixed container name, host port or host name."""
    worker = compose["services"]["airflow-worker"]
    for key in ("container_name", "ports", "hostname"):
        assert key not in worker, key
    assert "stop_grace_period" in worker  # running tasks finish on a scale-down
    assert "celery@$${HOSTNAME}" in COMPOSE.read_text() or "celery@${HOSTNAME}" in json.dumps(worker["healthcheck"])
    # nothing else claims a host port twice
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))


def test_zones_are_volumes_shared_by_the_workers(compose):
    services = compose["services"]
    for name in (
        "postgres-data",
        "redis-data",
        "finsam-landing",
        "finsam-raw",
        "finsam-quarantine",
        "finsam-warehouse",
    ):
        assert name in compose["volumes"], name
    worker = services["airflow-worker"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in worker["volumes"]}
    env = env_of(worker)
    assert mounts[env["FINSAM_LANDING"]] == "finsam-landing"
    assert mounts[env["FINSAM_HOME"] + "/raw"] == "finsam-raw"
    assert mounts[env["FINSAM_HOME"] + "/quarantine"] == "finsam-quarantine"
    assert mounts[str(Path(env["FINSAM_WAREHOUSE"]).parent)] == "finsam-warehouse"
    # dbt's kept parse on the same shared volume (every worker reads the one parse of a version)
    assert Path(env["FINSAM_DBT_PARSE_CACHE"]).parent == Path(env["FINSAM_WAREHOUSE"]).parent
    assert services["airflow-dag-processor"]["volumes"] == worker["volumes"]
    registry = [v for v in worker["volumes"] if v.split(":")[1] == env["FINSAM_REGISTRY"]]
    assert registry and registry[0].endswith(":ro")


def test_no_secret_is_written_in_the_compose_file():
    raw = _raw()
    for name, service in raw["services"].items():
        for key, value in env_of(service).items():
            if SECRET_KEY.search(key) and value not in ("", None) and "finsam_bi_reader" not in str(value):
                assert "${" in str(value), f"{name}: {key} is written inline; it must come from .env"
    for anchor in ("x-airflow-env", "x-finsam-task-env"):
        for key, value in raw[anchor].items():
            if SECRET_KEY.search(key):
                assert "${" in str(value), f"{anchor}: {key} is written inline"
    text = COMPOSE.read_text(encoding="utf-8")
    for value in read_env_file(ENV_EXAMPLE).values():
        if "CHANGE-ME" in value:
            assert value not in text
    # .env is never committed; .env.example is
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split(), ".env must be in .gitignore"
    if (REPO / ".git").exists():
        assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO).returncode == 0
        tracked = subprocess.run(["git", "ls-files", ".env"], cwd=REPO, capture_output=True, text=True).stdout
        assert tracked.strip() == ""


def test_secrets_reach_only_the_roles_that_need_them(compose):
    services = compose["services"]
    task_roles = {"airflow-worker", "airflow-dag-processor"}
    for name, service in services.items():
        env = env_of(service)
        for key in ("FINSAM_HASH_SECRET", "FINSAM_SMTP_PASSWORD", "FINSAM_BI_POSTGRES_DSN"):
            assert (key in env) == (name in task_roles), f"{key} in {name}"
        assert ("AIRFLOW_USER_PASSWORDS" in env) == (name == "airflow-init"), name
    assert "POSTGRES_PASSWORD" not in env_of(services["airflow-worker"])


def test_every_required_variable_is_documented_in_env_example():
    text = COMPOSE.read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Z0-9_]+):?\?", text))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    example = read_env_file(ENV_EXAMPLE)
    assert required and required <= set(example), required - set(example)
    assert used <= set(example), used - set(example)
    with pytest.raises(KeyError, match="FINSAM_HASH_SECRET"):
        interpolate_tree(_raw(), {k: v for k, v in example.items() if k != "FINSAM_HASH_SECRET"})


def test_sign_in_is_configured_with_roles_not_open_to_all(compose):
    example = read_env_file(ENV_EXAMPLE)
    for name in AIRFLOW_ROLES:
        env = env_of(compose["services"][name])
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == example["AIRFLOW_USERS"]
    roles = dict(item.split(":")[:2] for item in example["AIRFLOW_USERS"].split(","))
    assert set(roles.values()) <= {"viewer", "user", "op", "admin"}
    assert "admin" in roles.values() and set(roles.values()) != {"admin"}
    assert set(json.loads(example["AIRFLOW_USER_PASSWORDS"])) == set(roles)
    init = (REPO / "docker" / "airflow-init.sh").read_text(encoding="utf-8")
    assert "lösenord saknas" in init  # a user without a password stops the deployment


def test_init_creates_the_single_writer_pool_and_migrates():
    init = (REPO / "docker" / "airflow-init.sh").read_text(encoding="utf-8")
    assert "airflow db migrate" in init
    assert re.search(r"airflow pools set finsam_warehouse 1\b", init)
    dag = (REPO / "dags" / "finsam_county.py").read_text(encoding="utf-8")
    assert 'WAREHOUSE_POOL = "finsam_warehouse"' in dag


def test_dockerfile_builds_the_locked_pipeline_on_airflow_3():
    text = (REPO / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11\s*$", text, re.M)
    assert "pip install --no-cache-dir -r /opt/finsam/requirements.lock" in text
    assert "pip install --no-cache-dir --no-deps -e /opt/finsam" in text
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    assert "apache-airflow==3.3.2" in lock
    for copied in re.findall(r"^COPY --chown=\S+ (\S+) /opt/finsam/", text, re.M):
        assert (REPO / copied).exists() or copied in ("dbt_project",), copied


def _validators() -> list[str]:
    found = []
    try:
        import compose_pydantic  # noqa: F401

        found.append("compose-pydantic")
    except ImportError:
        pass
    if DEBIAN_SCHEMA.exists():
        found.append("debian-schema")
    if shutil.which("docker-compose"):
        found.append("docker-compose")
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        found.append("docker compose")
    return found


def test_valid_against_the_compose_specification(compose, tmp_path):
    validators = _validators()
    if not validators:
        # compose-pydantic is in requirements.lock, so `make test` always has one; only a hand-made
        # environment can lack it. The same rule as the other production-shape tests applies.
        from conftest import missing_tool

        missing_tool(
            "no Compose validator installed: `pip install compose-pydantic` (in requirements.lock) "
            "or `apt-get install docker-compose`"
        )
    if "compose-pydantic" in validators:
        from compose_pydantic import ComposeSpecification

        # `x-` keys are extensions the specification allows (and Compose ignores); these
        # generated models predate that rule, so they are left out of this check
        spec = {k: v for k, v in compose.items() if not k.startswith("x-")}
        ComposeSpecification(**spec)
        broken = json.loads(json.dumps(spec))
        broken["services"]["airflow-worker"]["restart_policy"] = "always"
        with pytest.raises(ValueError):  # pydantic's ValidationError
            ComposeSpecification(**broken)
    if "debian-schema" in validators:
        import jsonschema

        schema = json.loads(DEBIAN_SCHEMA.read_text())
        jsonschema.validate(json.loads(json.dumps(compose, default=str)), schema)
    for client in [v for v in validators if v in ("docker-compose", "docker compose")]:
        env = tmp_path / "env"
        env.write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
        proc = subprocess.run(
            [*client.split(), "--env-file", str(env), "-f", str(COMPOSE), "config"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"{client} config: {proc.stderr}"
        resolved = yaml.safe_load(proc.stdout)
        assert set(resolved["services"]) == set(compose["services"])
        worker = resolved["services"]["airflow-worker"]
        assert env_of(worker)["FINSAM_HASH_SECRET"] == read_env_file(ENV_EXAMPLE)["FINSAM_HASH_SECRET"]
