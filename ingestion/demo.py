"""`finsam demo` (`make demo`): the real Airflow DAG on the bundled sample county.

Uses the embedded default: SQLite for Airflow's metadata, a DuckDB file for the warehouse,
everything under `var/demo/`. The sample's drop folders are copied to the demo's landing
zone (the pipeline moves files out of landing as it lands them).

The demo's Airflow home (`var/demo/airflow/`) gets an `airflow.cfg` of its own (the real DAG
folder, the log folder, one local user); every task's output is also written to its log file
there, so `finsam ui` shows each task's log. `finsam docs` serves the dbt docs, the
validation report and the GX Data Docs over http on localhost.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from ingestion.core.config import REPO_ROOT

SAMPLE = REPO_ROOT / "data" / "sample"
DAG_ID = "finsam_county"


UI_USER = "finsam"  # the demo's one Airflow user (role admin); its password is generated per demo home
UI_HOST = "127.0.0.1"  # the demo's UI listens on this machine only
UI_PORT = 8080


def airflow_home(home: Path) -> Path:
    return home / "airflow"


def _existing_secrets(cfg: Path) -> dict[tuple[str, str], str]:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    if cfg.exists():
        parser.read(cfg, encoding="utf-8")
    wanted = (("core", "fernet_key"), ("api", "secret_key"), ("api_auth", "jwt_secret"))
    return {key: parser.get(*key) for key in wanted if parser.has_option(*key) and parser.get(*key)}


def write_airflow_config(home: Path) -> Path:
    """The demo's `airflow.cfg`: the real DAG folder, task logs under the demo's Airflow home (read by
    the api-server, see `finsam ui`), one local user. Written before Airflow first starts (Airflow
    would otherwise write its default, naming `<AIRFLOW_HOME>/dags`, a folder that does not exist).
    Rewritten at every demo; its secrets and the user's password are kept."""
    base = airflow_home(home)
    (base / "logs").mkdir(parents=True, exist_ok=True)
    passwords = base / "passwords.json"
    if not passwords.exists():
        import json

        fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({UI_USER: secrets.token_urlsafe(12)}, handle)
    cfg = base / "airflow.cfg"
    kept = _existing_secrets(cfg)

    def secret(section: str, option: str, nbytes: int = 16) -> str:
        import base64

        return kept.get((section, option)) or base64.urlsafe_b64encode(os.urandom(nbytes)).decode()

    text = f"""# The demo's Airflow configuration, written by `finsam demo` (ingestion/demo.py) at every demo run.
# Environment variables AIRFLOW__SECTION__OPTION override it, as everywhere in Airflow.
[core]
dags_folder = {REPO_ROOT / "dags"}
load_examples = False
unit_test_mode = False
dagbag_import_timeout = 120
auth_manager = airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
simple_auth_manager_users = {UI_USER}:admin
simple_auth_manager_all_admins = False
simple_auth_manager_passwords_file = {passwords}
fernet_key = {secret("core", "fernet_key", 32)}

[database]
sql_alchemy_conn = sqlite:///{base / "airflow.db"}

[logging]
base_log_folder = {base / "logs"}
logging_level = INFO

[api]
host = {UI_HOST}
port = {UI_PORT}
workers = 1
secret_key = {secret("api", "secret_key")}

[api_auth]
jwt_secret = {secret("api_auth", "jwt_secret")}
"""
    cfg.write_text(text.replace("%", "%%"), encoding="utf-8")
    os.chmod(cfg, 0o600)
    return cfg


def ui_password(home: Path) -> str:
    import json

    return json.loads((airflow_home(home) / "passwords.json").read_text(encoding="utf-8"))[UI_USER]


def airflow_env(home: Path, extra: dict | None = None) -> dict:
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update(
        {
            "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
            "AIRFLOW_HOME": str(airflow_home(home)),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home(home) / "logs"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "FINSAM_HOME": str(home),
            "GX_ANALYTICS_ENABLED": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NO_COLOR": "1",
        }
    )
    env.update(extra or {})
    return env


def airflow(env: dict, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), *args], env=env, check=check, capture_output=capture, text=True
    )


def prepare_airflow(env: dict) -> None:
    write_airflow_config(Path(env["FINSAM_HOME"]))
    airflow(env, "db", "migrate")
    airflow(env, "pools", "set", "finsam_warehouse", "1", "En skrivare åt gången i DuckDB-lagret")


def run_dag(env: dict, logical_date: str | None = None, conf: dict | None = None) -> tuple[str, str]:
    """`airflow dags test`: a real DAG run (real scheduler logic, tasks in-process). `conf` sets the
    DAG's params for this run (`--conf`, as `airflow dags trigger` does), e.g. {"full_refresh": True}."""
    import json

    args = ["dags", "test", DAG_ID] + ([logical_date] if logical_date else [])
    if conf:
        args += ["--conf", json.dumps(conf)]
    entry = (
        "from ingestion.core.shutdown import exit_now; from ingestion.demo import dags_test_with_task_logs; "
        "exit_now(dags_test_with_task_logs())"
    )
    proc = subprocess.run([sys.executable, "-c", entry, *args], env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    # Airflow's own closing line for the run: "DagRun Finished: dag_id=…, state=success, …"
    finished = re.findall(rf"DagRun Finished: dag_id={DAG_ID},.*?\bstate=(\w+)", output)
    state = finished[-1] if finished else ("failed" if proc.returncode else "unknown")
    return state, output


def task_log_path(ti) -> Path:
    """Where the api-server looks for a task try's log: `[logging] base_log_folder` and the
    `log_filename_template` (dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=N.log)."""
    import jinja2
    from airflow.configuration import conf

    template = conf.get("logging", "log_filename_template")
    relative = jinja2.Template(template).render(ti=ti, try_number=ti.try_number)
    return Path(conf.get("logging", "base_log_folder")) / relative


# A line as Airflow's console logging prints it: "2026-12-01T18:46:30.890470Z [info     ] Message   [logger] k=v"
_CONSOLE_LINE = re.compile(r"^(?P<timestamp>\d{4}-\d\d-\d\dT[\d:.]+Z) \[(?P<level>\w+)\s*\] (?P<rest>.*)$")
_LOGGER_AND_FIELDS = re.compile(r"^(?P<event>.*)\s\[(?P<logger>[\w.]+)\](?P<fields>(?:\s\S+=.*)?)$")


def _log_record(raw: bytes) -> str:
    """One line of output as a line of the task log file: JSON, as Airflow's own task logs are
    written (the UI shows time, level and logger in columns); other output (print, dbt) as the event."""
    import json

    line = raw.decode("utf-8", errors="replace").rstrip("\r")
    match = _CONSOLE_LINE.match(line)
    if not match:
        return json.dumps({"event": line}, ensure_ascii=False) + "\n"
    record = {"timestamp": match["timestamp"], "level": match["level"], "event": match["rest"].strip()}
    if named := _LOGGER_AND_FIELDS.match(match["rest"]):
        record["event"], record["logger"] = named["event"].strip(), named["logger"]
        for field in re.split(r"\s(?=[\w.]+=)", named["fields"].strip()) if named["fields"].strip() else ():
            key, _, value = field.partition("=")
            record.setdefault(key, value)
    return json.dumps(record, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def _tee_output(path: Path):
    """Everything written to this process's stdout and stderr (Python, Airflow's loggers, dbt, child
    processes) also goes to `path`, until the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        with open(path, "a", encoding="utf-8") as log:
            while chunk := os.read(read_end, 65536):
                os.write(saved_out, chunk)
                *lines, pending = (pending + chunk).split(b"\n")
                log.writelines(_log_record(line) for line in lines if line.strip())
                log.flush()
            if pending.strip():
                log.write(_log_record(pending))

    thread = threading.Thread(target=pump, name="task-log", daemon=True)
    thread.start()
    try:
        yield path
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        thread.join(timeout=10)  # a child process that outlives the task may keep the pipe open
        if not thread.is_alive():
            os.close(read_end)
        os.close(saved_out)
        os.close(saved_err)


def dags_test_with_task_logs() -> int:
    """`airflow dags test` (arguments from sys.argv), writing each task try's output to its log file.

    `dags test` runs every task inside its own process and prints the tasks' logs; it writes no task
    log files, so the UI would have nothing to show ("Could not read served logs"). Here each task
    run is wrapped: what it prints also goes to the file the api-server reads for that try."""
    from airflow.sdk.execution_time import supervisor

    run_in_process = supervisor.run_task_in_process

    def run_task_in_process(ti, task, client=None):
        with _tee_output(task_log_path(ti)):
            return run_in_process(ti=ti, task=task, client=client)

    supervisor.run_task_in_process = run_task_in_process  # looked up by dag.test() at each task
    # multiprocessing's resource tracker (started by the first spawn-context lock, in dbt's build)
    # lives as long as this process and inherits stdout/stderr: started inside a task it would hold
    # that task's log pipe open, and each run would wait out the pump's 10 s join. Started here, it
    # holds the real stdout.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    from airflow.__main__ import main

    return main() or 0


DEMO_WEEKS_AFTER = 4  # the demo runs this long after the sample's last period ended


def sample_as_of(landing: Path = SAMPLE / "landing", weeks_after: int = DEMO_WEEKS_AFTER) -> str:
    """The date the demo runs at: a few weeks after the last period the sample county delivers, as a
    real county would run then. "Today" would make every 2015–2016 delivery years late: reminders
    about thousands of days, and no delivery on time in marts.delivery_status."""
    from datetime import timedelta

    from ingestion.intake.discover import NameError_, parse_file_name

    ends = []
    for path in landing.rglob("*"):
        try:
            ends.append(parse_file_name(path.name).period.end)
        except NameError_:
            continue
    return (max(ends) + timedelta(weeks=weeks_after)).isoformat()


def run_demo(fresh: bool = True, home: Path | None = None) -> int:
    home = (home or REPO_ROOT / "var" / "demo").resolve()
    if fresh and home.exists():
        shutil.rmtree(home)
    landing = home / "landing"
    shutil.copytree(SAMPLE / "landing", landing, dirs_exist_ok=True)
    extra = {
        "FINSAM_DEMO": "1",
        "FINSAM_REFERENCE_CHECKS": "1",
        "FINSAM_LANDING": str(landing),
        "FINSAM_REGISTRY": str(SAMPLE / "registry.yml"),
        "FINSAM_WAREHOUSE": str(home / "warehouse" / "finsam.duckdb"),
    }
    env = airflow_env(home, extra)
    print("Förbereder Airflow (SQLite) …", flush=True)
    prepare_airflow(env)
    as_of = sample_as_of()
    print(f"Kör flödet {DAG_ID} i Airflow på exempellänet (Dalarnas län) per {as_of} …", flush=True)
    state, output = run_dag(env, conf={"as_of": as_of})
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    (home / "airflow" / "dags-test-output.log").write_text(output, encoding="utf-8")
    if state != "success":
        print(output[-4000:])
        print(f"Körningen slutade med status {state}. Hela utskriften: {home / 'airflow' / 'dags-test-output.log'}")
        return 1
    os.environ.update(extra)
    os.environ["FINSAM_HOME"] = str(home)
    from ingestion.core.config import load_settings
    from ingestion.core.registry import load_registry
    from ingestion.pipeline import summary_lines, unknown_drop_folders

    settings = load_settings()
    registry = load_registry(settings.registry)
    print(f"\nKörningen i Airflow lyckades (status {state}).\n")
    print("\n".join(summary_lines(settings, registry, unknown_drop_folders(settings, registry))))
    print(f"Utskick till ägarna (kopior): {settings.reports / 'outbox'}")
    print("Valideringsrapporten, dbt-dokumentationen och GX Data Docs i webbläsaren: finsam docs --demo")
    print(f"Airflows gränssnitt med varje uppgifts logg: finsam ui (loggfilerna: {airflow_home(home) / 'logs'})")
    return 0


# ---------------------------------------------------------------- looking at the results locally


def _wait_for_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"servern avslutades (slutkod {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"servern svarade inte på {url} inom {timeout:.0f} s")


def start_ui(home: Path, port: int = UI_PORT) -> tuple[subprocess.Popen, str]:
    """Airflow's api-server (the UI) on the demo's Airflow home, on this machine only. Returns the
    running process (its own process group) and the UI's address, once it answers."""
    write_airflow_config(home)  # the current DAG folder, log folder and user, also for an older demo home
    env = airflow_env(home)
    log = open(airflow_home(home) / "api-server.log", "a", encoding="utf-8")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), "api-server", "--host", UI_HOST, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    url = f"http://{UI_HOST}:{port}"
    try:
        _wait_for_http(url + "/api/v2/monitor/health", proc, timeout=180)
    except (RuntimeError, KeyboardInterrupt):
        stop(proc)
        raise
    return proc, url


def _stop_on_sigterm() -> None:
    """SIGTERM ends `finsam ui` / `finsam docs` as Ctrl-C does: through the clean-up below."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started here, with the processes it started (its process group)."""
    import signal

    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_ui(home: Path | None = None, port: int = UI_PORT) -> int:
    """`finsam ui`: the Airflow UI on the demo's runs, until Ctrl-C."""
    home = (home or REPO_ROOT / "var" / "demo").resolve()
    if not (airflow_home(home) / "airflow.db").exists():
        print(f"Fel: ingen demokörning i {home}. Kör `finsam demo` först.", file=sys.stderr)
        return 1
    print(f"Startar Airflows gränssnitt på demokörningen ({airflow_home(home)}) …", flush=True)
    _stop_on_sigterm()
    try:
        proc, url = start_ui(home, port)
    except RuntimeError as exc:
        print(
            f"Fel: Airflows gränssnitt startade inte: {exc}. Se {airflow_home(home) / 'api-server.log'}.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Airflows gränssnitt: {url}/\n"
        f"Logga in som {UI_USER} med lösenordet {ui_password(home)} "
        f"(sparat i {airflow_home(home) / 'passwords.json'}).\n"
        f"Flödet: {url}/dags/{DAG_ID}. Varje uppgifts logg: välj körningen och uppgiften, fliken Logs "
        f"(filerna ligger i {airflow_home(home) / 'logs'}).\n"
        "Avsluta med Ctrl-C.",
        flush=True,
    )
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(proc)


def docs_pages(home: Path) -> dict[str, Path]:
    """The pages `finsam docs` serves, by title: the validation report, the dbt docs and the GX Data
    Docs of each association (paths inside `home`)."""
    pages = {
        "Valideringsrapporten (vad som hände med varje leverans)": home / "reports" / "validering.html",
        "Datalagrets tabeller (dbt docs)": home / "publish" / "dbt-docs" / "index.html",
    }
    for site in sorted((home / "gx").glob("*/gx/uncommitted/data_docs/local_site/index.html")):
        pages[f"Great Expectations Data Docs för {site.parts[-6]} (teknisk detalj)"] = site
    return {title: path for title, path in pages.items() if path.exists()}


# Only these parts of the home are served (never the zones: raw, quarantine, warehouse, landing).
_SERVED = (
    re.compile(r"^reports/[^/]+\.html$"),
    re.compile(r"^publish/dbt-docs/(index\.html|manifest\.json|catalog\.json)$"),
    re.compile(r"^gx/[^/]+/gx/uncommitted/data_docs/local_site/.+$"),
)


def docs_server(home: Path, port: int = 0):
    """An http server on 127.0.0.1 for the pages in `docs_pages` (dbt docs only work over http: from a
    file:// address the page keeps loading). `/` lists the pages. Returns the server (not started)."""
    import html
    import http.server
    from urllib.parse import quote, unquote, urlsplit

    home = home.resolve()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(home), **kwargs)

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

        def send_head(self):
            relative = unquote(urlsplit(self.path).path).lstrip("/")
            if relative in ("", "index.html"):
                return self._index()
            target = (home / relative).resolve()
            if ".." in relative.split("/") or not target.is_relative_to(home) or not target.is_file():
                self.send_error(404, "Sidan finns inte")
                return None
            if not any(pattern.match(relative) for pattern in _SERVED):
                self.send_error(404, "Sidan finns inte")
                return None
            return super().send_head()

        def _index(self):
            import io

            pages = docs_pages(home)
            items = "".join(
                f'<li><a href="/{quote(path.relative_to(home).as_posix())}">{html.escape(title)}</a></li>'
                for title, path in pages.items()
            )
            body = (
                '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                "<title>Finsam: dokumentation och rapporter</title>"
                "<style>body{font:1rem/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"
                "a{color:#0a4b94}</style></head><body><h1>Finsam: dokumentation och rapporter</h1>"
                f"<p>Från {html.escape(str(home))}.</p>"
                + (f"<ul>{items}</ul>" if items else "<p>Inget att visa än: kör flödet först.</p>")
                + "</body></html>"
            ).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)

    return http.server.ThreadingHTTPServer((UI_HOST, port), Handler)


def run_docs(home: Path, port: int = 8000) -> int:
    """`finsam docs`: serve the pages until Ctrl-C."""
    home = home.resolve()
    pages = docs_pages(home)
    if not pages:
        print(
            f"Fel: inga rapporter eller dokumentation i {home}. Kör flödet först (finsam run eller finsam demo).",
            file=sys.stderr,
        )
        return 1
    try:
        server = docs_server(home, port)
    except OSError as exc:
        print(f"Fel: porten {port} går inte att använda ({exc.strerror}). Välj en annan med --port.", file=sys.stderr)
        return 1
    url = f"http://{UI_HOST}:{server.server_address[1]}"
    print(f"Dokumentation och rapporter: {url}/")
    for title, path in pages.items():
        print(f"  {title}: {url}/{path.relative_to(home).as_posix()}")
    print("Avsluta med Ctrl-C.", flush=True)
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
