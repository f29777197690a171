"""Issue 17: the data team sees what happened, in Airflow's UI and in the docs, in a real browser.

One real DAG run (`airflow dags test`, as `finsam demo` runs it) on a tiny county: SODRA's
register, one deltagare file, the Avesta budget with its wrong difference (a warning) and a
deltagare file with a wrong check digit (quarantined). Then, each through the command a person
types:

- `finsam ui`: the api-server on the run's Airflow home. Headless Chromium signs in with the
  printed user and password, opens a task's log and finds the task's own log lines in it (not
  "Could not read served logs"); the DAG's documentation is in Swedish. The demo's airflow.cfg
  names the real DAG folder and the log folder the files are in.
- `finsam docs`: the dbt docs over http, opening on the Swedish overview page; the validation
  report and the zones that must not be served.

Screenshots: /tmp/ui_shots/.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import REPO, SAMPLE

pytestmark = [pytest.mark.airflow, pytest.mark.dbt, pytest.mark.browser]

SHOTS = Path("/tmp/ui_shots")
TINY_COUNTY = (
    "SODRA/SODRA_ALL_insatser_2016T1.csv",
    "SODRA/SODRA_AVESTA_deltagare_2016T1.csv",
    "SODRA/SODRA_AVESTA_budget_2016H1.csv",  # budget − utfall ≠ differens: loaded with a warning
    "SODRA/SODRA_KRAFTEN_deltagare_2016T3.csv",  # a personnummer with a wrong check digit: quarantined
)
FINSAM = str(Path(sys.executable).parent / "finsam")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The DAG run; returns the demo-shaped home (FINSAM_HOME, with `airflow/` as AIRFLOW_HOME)."""
    from ingestion.demo import airflow_env, prepare_airflow, run_dag, sample_as_of

    home = tmp_path_factory.mktemp("airflow_ui") / "home"
    for name in TINY_COUNTY:
        (home / "landing" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE / "landing" / name, home / "landing" / name)
    env = airflow_env(
        home,
        {
            "FINSAM_DEMO": "1",
            "FINSAM_LANDING": str(home / "landing"),
            "FINSAM_REGISTRY": str(SAMPLE / "registry.yml"),
            "FINSAM_WAREHOUSE": str(home / "warehouse" / "finsam.duckdb"),
            "FINSAM_WORKERS": "1",
        },
    )
    for name in ("FINSAM_SMTP_HOST", "FINSAM_SMTP_PORT", "FINSAM_BI_POSTGRES_DSN", "FINSAM_DBT_TARGET"):
        env.pop(name, None)
    prepare_airflow(env)
    state, output = run_dag(env, conf={"as_of": sample_as_of()})
    (home / "dags-test-output.log").write_text(output, encoding="utf-8")
    assert state == "success", output[-4000:]
    return home


class Server:
    """A `finsam` command that serves until stopped; its printed lines are collected."""

    def __init__(self, *args: str):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [FINSAM, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if match := re.search(pattern, line):
                    return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        """As Ctrl-C would (SIGTERM is handled the same way): `finsam ui` stops its api-server too."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def ui(tiny_run):
    server = Server("ui", "--home", str(tiny_run), "--port", str(free_port()))
    try:
        url = server.wait_for(r"Airflows gränssnitt: (http://127\.0\.0\.1:\d+)/", timeout=240)[1]
        user, password = server.wait_for(r"Logga in som (\S+) med lösenordet (\S+) ", timeout=10).groups()
        yield {"url": url, "user": user, "password": password, "server": server}
    finally:
        server.stop()
    assert server.proc.returncode == 0, "\n".join(server.lines)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield chromium
        chromium.close()


def signed_in(browser, ui, path: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(ui["url"] + path)
    page.get_by_label("Username").fill(ui["user"])
    page.get_by_label("Password").fill(ui["password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(path) + "$"))
    page.wait_for_load_state("networkidle")
    return page


def test_the_demo_airflow_cfg_names_the_real_dag_folder_and_the_log_folder(tiny_run):
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(tiny_run / "airflow" / "airflow.cfg", encoding="utf-8")
    assert Path(cfg["core"]["dags_folder"]) == REPO / "dags"
    assert (Path(cfg["core"]["dags_folder"]) / "finsam_county.py").is_file()
    logs = Path(cfg["logging"]["base_log_folder"])
    assert logs == tiny_run / "airflow" / "logs"
    # One log file per task try, where the api-server reads it; the task's own lines in it.
    build = list(logs.glob("dag_id=finsam_county/run_id=*/task_id=build_marts/attempt=*.log"))
    assert len(build) == 1, sorted(p.relative_to(logs) for p in logs.rglob("*.log"))
    assert "dbt build: full refresh" in build[0].read_text(encoding="utf-8")
    mapped = list(logs.glob("dag_id=finsam_county/run_id=*/task_id=process_association/map_index=*/attempt=1.log"))
    assert mapped, "the mapped task (one per association) has a log per association"


def test_a_task_log_is_shown_in_the_ui_with_the_tasks_own_lines(tiny_run, ui, browser):
    run_dir = next((tiny_run / "airflow" / "logs" / "dag_id=finsam_county").glob("run_id=*"))
    run_id = run_dir.name.removeprefix("run_id=")
    page = signed_in(browser, ui, f"/dags/finsam_county/runs/{quote(run_id)}/tasks/build_marts")
    log = page.get_by_text(re.compile(r"dbt build: full refresh, associations SODRA"))
    log.first.wait_for()
    page.screenshot(path=str(SHOTS / "airflow_task_log.png"))
    body = page.inner_text("body")
    assert "Could not read served logs" not in body
    assert "Log file does not exist" not in body
    page.close()


def test_the_dags_documentation_in_the_ui_is_swedish(ui, browser):
    page = signed_in(browser, ui, "/dags/finsam_county")
    page.get_by_test_id("markdown-button").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("länets Finsam-uppföljning, från leverans till BI").wait_for()
    page.screenshot(path=str(SHOTS / "airflow_dag_docs.png"))
    text = dialog.inner_text()
    for swedish in ("vad den gör", "tidsgräns", "Varje steg går att köra om", "Loggar"):
        assert swedish in text, swedish
    page.close()


def test_finsam_docs_serves_the_dbt_docs_overview_and_nothing_of_the_zones(tiny_run, browser):
    import httpx

    server = Server("docs", "--home", str(tiny_run), "--port", str(free_port()))
    try:
        url = server.wait_for(r"Dokumentation och rapporter: (http://127\.0\.0\.1:\d+)/", timeout=60)[1]
        server.wait_for(r"Avsluta med Ctrl-C", timeout=10)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(url + "/")
        page.get_by_role("link", name="Datalagrets tabeller (dbt docs)").click()
        page.get_by_text("Finsam-uppföljning för länet: datalagrets tabeller").wait_for()
        page.get_by_text("Regeln om små tal").wait_for()
        page.screenshot(path=str(SHOTS / "dbt_docs_overview.png"))
        # The validation report, and its link to the dbt docs, over the same server.
        page.goto(url + "/")
        page.get_by_role("link", name=re.compile("Valideringsrapporten")).click()
        page.get_by_role("heading", name=re.compile("Valideringsrapport")).first.wait_for()
        assert "SODRA_AVESTA_budget_2016H1.csv" in page.inner_text("body")
        with page.expect_navigation():
            page.get_by_role("link", name=re.compile("Dokumentation av tabellerna")).click()
        page.get_by_text("Regeln om små tal").wait_for()
        page.close()
        for private in ("warehouse/finsam.duckdb", "raw/", "quarantine/", "landing/", "airflow/airflow.cfg"):
            assert httpx.get(f"{url}/{private}").status_code == 404, private
        assert httpx.get(f"{url}/publish/dbt-docs/../../warehouse/finsam.duckdb").status_code == 404
    finally:
        server.stop()
    assert server.proc.returncode == 0, "\n".join(server.lines)


def test_the_validation_report_fits_1280_px_without_horizontal_scrolling(tiny_run, browser):
    """The report as the run wrote it, offline, in a 1280 px wide window: no sideways scrolling of
    the page, and every table fits its column (the wide ones wrap their headings)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    page.goto((tiny_run / "reports" / "validering.html").as_uri())
    page.get_by_role("heading", name="Översikt per förbund").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    too_wide = page.evaluate(
        "[...document.querySelectorAll('table')]"
        ".filter(t => t.scrollWidth > t.parentElement.clientWidth).map(t => t.caption.innerText)"
    )
    assert too_wide == []
    assert len(page.locator("#oversikt table thead th").all()) == 11  # every column is still there
    page.screenshot(path=str(SHOTS / "validering_1280.png"), full_page=True)
    context.close()
