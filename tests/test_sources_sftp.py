"""Pulling exports from an association's SFTP server (a real asyncssh server on loopback).

The server runs in a thread on a random port with a temporary host key; the client side is
the pipeline's own code: the Airflow SFTP provider's hook, an Airflow connection given as
an `AIRFLOW_CONN_*` environment variable (credentials never in the registry), and a
temporary client key.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

asyncssh = pytest.importorskip("asyncssh")

from ingestion.core.registry import load_registry  # noqa: E402
from ingestion.intake.sources import LEDGER_NAME, SourceError, SourceUnavailable, pull, read_ledger  # noqa: E402

USER = "finsam-export"


class _SftpServer:
    """asyncssh SFTP server in its own thread; `root` is what the client sees as `/`."""

    def __init__(self, root: Path, keys: Path):
        self.root = root
        self.keys = keys
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None
        self.port = None

    def start(self):
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key.write_private_key(str(self.keys / "client_ed25519"), format_name="openssh")
        os.chmod(self.keys / "client_ed25519", 0o600)
        self.host_public = host_key.export_public_key("openssh").decode().split()[:2]
        authorized = asyncssh.import_authorized_keys(client_key.export_public_key("openssh").decode())
        root = str(self.root)

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username):
                return True

            def password_auth_supported(self):
                return False

        async def start():
            return await asyncssh.create_server(
                Server,
                "127.0.0.1",
                0,
                server_host_keys=[host_key],
                authorized_client_keys=authorized,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root.encode()),
                allow_scp=False,
            )

        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=20)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)

    def connection(self, port: int | None = None) -> str:
        return json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": port or self.port,
                "login": USER,
                "extra": {
                    "key_file": str(self.keys / "client_ed25519"),
                    "host_key": " ".join(self.host_public),
                    "look_for_keys": "false",
                    "conn_timeout": "5",
                },
            }
        )


@pytest.fixture
def sftp(tmp_path, monkeypatch):
    root = tmp_path / "sftp-root"
    (root / "exports").mkdir(parents=True)
    keys = tmp_path / "keys"
    keys.mkdir()
    server = _SftpServer(root, keys).start()
    monkeypatch.setenv("AIRFLOW_CONN_FINSAM_SFTP_NORR", server.connection())
    try:
        yield server
    finally:
        server.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def _registry(tmp_path: Path, norr_source: dict, extra: list[dict] | None = None):
    data = {
        "county": {"code": "20", "name": "Dalarnas län"},
        "data_team_email": "data@example.se",
        "associations": [
            {"code": "NORR", "name": "Norra förbundet", "municipalities": ["2084"], "source": norr_source},
            {"code": "SODRA", "name": "Södra förbundet", "municipalities": ["2080"]},
            *(extra or []),
        ],
    }
    path = tmp_path / "registry.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_registry(path)


def _put(server: _SftpServer, name: str, data: bytes, mtime: float | None = None) -> Path:
    path = server.root / "exports" / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


SOURCE = {"type": "sftp", "conn_id": "finsam_sftp_norr", "path": "/exports", "delete_after_fetch": False}


def test_new_files_are_fetched_once_and_left_at_the_source(finsam_env, sftp, tmp_path):
    registry = _registry(tmp_path, SOURCE)
    now = time.time()
    files = {
        "NORR_JOBBNORR_deltagare_2016T1.csv": b"personnummer;kon\n",
        "NORR_JOBBNORR_budget_2016T1.xlsx": b"PK\x03\x04 not really excel",
        "NORR_ALL_insatser_2016.csv": b"insats_kod;namn\nJOBBNORR;Jobb i norr\n",
    }
    for i, (name, data) in enumerate(files.items()):
        _put(sftp, name, data, now - 300 + i)
    _put(sftp, "NORR_JOBBNORR_volym_2016T1.csv.part", b"half a file")  # still being uploaded
    (sftp.root / "exports" / "arkiv").mkdir()  # directories are not deliveries

    first = pull(finsam_env, registry.get("NORR"))
    assert first["type"] == "sftp" and first["source"] == "sftp://finsam_sftp_norr/exports"
    assert (first["listed"], first["fetched"], first["deleted"]) == (3, 3, 0)
    landing = finsam_env.landing / "NORR"
    assert sorted(p.name for p in landing.iterdir()) == sorted(files)
    for name, data in files.items():
        assert (landing / name).read_bytes() == data
        assert (sftp.root / "exports" / name).exists(), "nothing is deleted at the source by default"
    # the remote modification time is kept, so discover lands them in delivery order
    assert int((landing / "NORR_JOBBNORR_deltagare_2016T1.csv").stat().st_mtime) == int(now - 300)
    assert len(read_ledger(finsam_env, "NORR")) == 3
    assert (finsam_env.raw / "NORR" / LEDGER_NAME).exists()

    # Second run: the same files are still at the source; none is downloaded again.
    for p in landing.iterdir():
        p.unlink()  # as process_association does once a file is landed
    second = pull(finsam_env, registry.get("NORR"))
    assert (second["fetched"], second["unchanged"]) == (0, 3)
    assert list(landing.iterdir()) == []


def test_known_deliveries_are_recognised_by_checksum(finsam_env, sftp, tmp_path):
    """The same bytes for the same slot are not landed again; for another period they are new."""
    import hashlib

    from ingestion.intake.discover import parse_file_name
    from ingestion.intake.land import delivery_id_for

    registry = _registry(tmp_path, SOURCE)
    data = b"insats_kod;namn\nJOBBNORR;Jobb i norr\n"
    _put(sftp, "NORR_ALL_insatser_2016.csv", data, time.time() - 100)
    assert pull(finsam_env, registry.get("NORR"))["fetched"] == 1
    (finsam_env.landing / "NORR" / "NORR_ALL_insatser_2016.csv").unlink()  # landed by the pipeline

    # the same file uploaded again (new modification time): downloaded, recognised by checksum
    _put(sftp, "NORR_ALL_insatser_2016.csv", data, time.time())
    # the same bytes and slot under another spelling of the name
    _put(sftp, "NORR_all_insatser_2016.csv", data)
    # a delivery that came another way and is in the raw zone already: recognised there
    other = b"insats_kod;namn\nANNAN;Annan insats\n"
    delivery = delivery_id_for(parse_file_name("NORR_ANNAN_insatser_2016.csv"), hashlib.sha256(other).hexdigest())
    (finsam_env.raw / "NORR" / delivery).mkdir(parents=True)
    (finsam_env.raw / "NORR" / delivery / "manifest.json").write_text(json.dumps({"delivery_id": delivery}))
    _put(sftp, "NORR_ANNAN_insatser_2016.csv", other)

    result = pull(finsam_env, registry.get("NORR"))
    assert (result["fetched"], result["already_received"]) == (0, 3)
    assert list((finsam_env.landing / "NORR").iterdir()) == []
    # the owner hears of it as of any re-delivered file (meta.delivery_events)
    events = [json.loads(line) for line in (finsam_env.raw / "NORR" / "_events.jsonl").read_text().splitlines()]
    assert sorted((e["file_name"], e["event"]) for e in events) == [
        ("NORR_ALL_insatser_2016.csv", "duplicate"),
        ("NORR_ANNAN_insatser_2016.csv", "duplicate"),
        ("NORR_all_insatser_2016.csv", "duplicate"),
    ]
    assert all("exakt samma" in e["message_sv"] for e in events)

    # the same bytes for the next period (an unchanged register re-sent) are a new delivery
    _put(sftp, "NORR_ALL_insatser_2017.csv", data)
    # and a changed export under the old name (new bytes, new time) is new too
    _put(sftp, "NORR_ALL_insatser_2016.csv", data + b"NY;Ny insats\n", time.time() + 5)
    result = pull(finsam_env, registry.get("NORR"))
    assert (result["fetched"], result["unchanged"]) == (2, 2)
    assert (finsam_env.landing / "NORR" / "NORR_ALL_insatser_2017.csv").read_bytes() == data
    assert (finsam_env.landing / "NORR" / "NORR_ALL_insatser_2016.csv").read_bytes().endswith(b"NY;Ny insats\n")


def test_a_waiting_file_with_the_same_name_is_not_overwritten(finsam_env, sftp, tmp_path):
    registry = _registry(tmp_path, SOURCE)
    _put(sftp, "NORR_ALL_insatser_2016.csv", b"v1\n", time.time() - 100)
    pull(finsam_env, registry.get("NORR"))
    _put(sftp, "NORR_ALL_insatser_2016.csv", b"v2\n", time.time())
    result = pull(finsam_env, registry.get("NORR"))
    assert result["fetched"] == 0 and "väntar redan i inkorgen" in result["notes"][0]
    assert (finsam_env.landing / "NORR" / "NORR_ALL_insatser_2016.csv").read_bytes() == b"v1\n"
    (finsam_env.landing / "NORR" / "NORR_ALL_insatser_2016.csv").unlink()  # landed by the pipeline
    assert pull(finsam_env, registry.get("NORR"))["fetched"] == 1  # the next run takes v2


def test_delete_after_fetch_removes_only_what_is_safely_landed(finsam_env, sftp, tmp_path):
    registry = _registry(tmp_path, {**SOURCE, "delete_after_fetch": True})
    _put(sftp, "NORR_ALL_insatser_2016.csv", b"insats_kod;namn\n")
    _put(sftp, "NORR_JOBBNORR_volym_2016T1.csv.part", b"half")
    result = pull(finsam_env, registry.get("NORR"))
    assert (result["fetched"], result["deleted"]) == (1, 1)
    assert sorted(p.name for p in (sftp.root / "exports").iterdir()) == ["NORR_JOBBNORR_volym_2016T1.csv.part"]
    assert (finsam_env.landing / "NORR" / "NORR_ALL_insatser_2016.csv").read_bytes() == b"insats_kod;namn\n"


def test_a_source_that_is_down_fails_that_association_only(finsam_env, sftp, tmp_path, monkeypatch):
    down = {"type": "sftp", "conn_id": "finsam_sftp_nere", "path": "/exports"}
    registry = _registry(tmp_path, SOURCE, [{"code": "NERE", "name": "Nere", "source": down}])
    monkeypatch.setenv("AIRFLOW_CONN_FINSAM_SFTP_NERE", sftp.connection(port=_closed_port()))
    _put(sftp, "NORR_ALL_insatser_2016.csv", b"insats_kod;namn\n")

    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as failure:
        pull(finsam_env, registry.get("NERE"))
    message = str(failure.value)
    assert "Förbundet NERE: kunde inte hämta leveranser från källan sftp://finsam_sftp_nere/exports" in message
    assert "Övriga förbund körs som vanligt" in message
    assert time.monotonic() - started < 60
    # the others proceed: the SFTP association and the folder association are unaffected
    assert pull(finsam_env, registry.get("NORR"))["fetched"] == 1
    assert pull(finsam_env, registry.get("SODRA"))["type"] == "folder"


def test_a_server_with_another_host_key_is_refused(finsam_env, sftp, tmp_path, monkeypatch):
    registry = _registry(tmp_path, SOURCE)
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[:2]
    conn = json.loads(sftp.connection())
    conn["extra"]["host_key"] = " ".join(other)
    monkeypatch.setenv("AIRFLOW_CONN_FINSAM_SFTP_NORR", json.dumps(conn))
    _put(sftp, "NORR_ALL_insatser_2016.csv", b"insats_kod;namn\n")
    with pytest.raises(SourceUnavailable, match="Förbundet NORR"):
        pull(finsam_env, registry.get("NORR"))
    assert not (finsam_env.landing / "NORR" / "NORR_ALL_insatser_2016.csv").exists()


def test_process_association_fails_with_the_pull_message(finsam_env, tmp_path, monkeypatch):
    """The DAG task for an association whose source is down fails with the Swedish reason."""
    from ingestion.process import process_association

    down = {"type": "sftp", "conn_id": "finsam_sftp_nere", "path": "/exports"}
    registry = _registry(tmp_path, SOURCE, [{"code": "NERE", "name": "Nere", "source": down}])
    monkeypatch.setenv(
        "AIRFLOW_CONN_FINSAM_SFTP_NERE",
        json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": _closed_port(),
                "login": USER,
                "extra": {"no_host_key_check": "true", "look_for_keys": "false", "conn_timeout": "3"},
            }
        ),
    )
    with pytest.raises(SourceUnavailable, match="Förbundet NERE"):
        process_association(finsam_env, registry, "NERE", docs=False)
    summary = process_association(finsam_env, registry, "SODRA", docs=False)
    assert summary["pull"]["type"] == "folder" and summary["found"] == 0


def test_folder_sources(finsam_env, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "NORR_ALL_insatser_2016.csv").write_bytes(b"insats_kod;namn\n")
    registry = _registry(tmp_path, {"type": "folder", "path": str(share)})
    assert pull(finsam_env, registry.get("SODRA"))["fetched"] == 0  # the landing folder itself: a no-op
    result = pull(finsam_env, registry.get("NORR"))
    assert result["fetched"] == 1 and (share / "NORR_ALL_insatser_2016.csv").exists()
    assert pull(finsam_env, registry.get("NORR"))["fetched"] == 0
    missing = _registry(tmp_path, {"type": "folder", "path": str(tmp_path / "nope")})
    with pytest.raises(SourceUnavailable, match="finns inte"):
        pull(finsam_env, missing.get("NORR"))


def test_credentials_in_the_registry_are_refused(finsam_env, tmp_path):
    registry = _registry(tmp_path, {**SOURCE, "password": "hemligt"})
    with pytest.raises(SourceError, match="inloggningsuppgifter"):
        pull(finsam_env, registry.get("NORR"))
    unknown = _registry(tmp_path, {"type": "ftp"})
    with pytest.raises(SourceError, match="okänd källtyp"):
        pull(finsam_env, unknown.get("NORR"))
