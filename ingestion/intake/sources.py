"""Step 0: pull an association's new exports from where its projects put them.

Configured per association in the registry (never with credentials):

    source: {type: folder}                       # the default: projects drop files in <landing>/<CODE>/
    source: {type: folder, path: /mnt/share/x}   # copy new files from another folder (a mounted share)
    source: {type: sftp, conn_id: finsam_sftp_sodra, path: /exports, delete_after_fetch: false}

An SFTP source names an Airflow connection (`AIRFLOW_CONN_FINSAM_SFTP_SODRA`, a secrets
backend or the connections UI), read through the SFTP provider's hook: host, user, key and
host key live there, not in the registry.

Only new files are fetched. A fetched-ledger, `<raw>/<CODE>/_fetched.jsonl`, records every
file taken (name, size, modification time, SHA-256): a file still listed with the same
name, size and time is not downloaded again. A file that is downloaded is recognised by its
checksum against the ledger and the raw zone, as the pipeline recognises a delivery: the
same bytes for the same slot (association, intervention, kind, period) are not landed twice,
whatever the file is called; the same bytes for another period are a new delivery. Nothing is removed at the source unless `delete_after_fetch:
true`, and then only after the file is safely in the landing zone and in the ledger.

A source that cannot be reached raises `SourceUnavailable` with a Swedish explanation; the
caller (`process_association`) lets it fail that association only.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingestion.core.config import Settings
from ingestion.core.rawzone import existing, record_event
from ingestion.intake.discover import sha256_file

log = logging.getLogger(__name__)

LEDGER_NAME = "_fetched.jsonl"
# Names a project's upload tool uses while a file is still being written: never fetched.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".filepart", ".crdownload", ".uploading")


class SourceError(RuntimeError):
    """A source configured wrongly in the registry."""


class SourceUnavailable(RuntimeError):
    """The source could not be read (server down, refused, path missing)."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    mtime: int

    @property
    def key(self) -> str:
        return f"{self.name}|{self.size}|{self.mtime}"


def _skip_name(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower().endswith(PARTIAL_SUFFIXES)


class _Folder:
    """A folder on this machine (e.g. a mounted share) other than the landing folder."""

    def __init__(self, path: Path):
        self.path = path
        self.label = str(path)

    def __enter__(self):
        if not self.path.is_dir():
            raise FileNotFoundError(f"mappen {self.path} finns inte eller går inte att läsa")
        return self

    def __exit__(self, *exc):
        return False

    def list(self) -> list[RemoteFile]:
        files = []
        for entry in os.scandir(self.path):
            if entry.is_file(follow_symlinks=False) and not _skip_name(entry.name):
                info = entry.stat()
                files.append(RemoteFile(entry.name, info.st_size, int(info.st_mtime)))
        return files

    def stat(self, name: str) -> RemoteFile:
        info = (self.path / name).stat()
        return RemoteFile(name, info.st_size, int(info.st_mtime))

    def fetch(self, name: str, local: Path) -> None:
        shutil.copyfile(self.path / name, local)

    def delete(self, name: str) -> None:
        (self.path / name).unlink()


class _Sftp:
    """An SFTP server, through the Airflow SFTP provider's hook and an Airflow connection."""

    def __init__(self, conn_id: str, path: str):
        self.conn_id = conn_id
        self.path = path.rstrip("/") or "/"
        self.label = f"sftp://{conn_id}{self.path if self.path.startswith('/') else '/' + self.path}"
        self._hook = None
        self._managed = None

    def __enter__(self):
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        self._hook = SFTPHook(ssh_conn_id=self.conn_id)
        self._managed = self._hook.get_managed_conn()
        self._sftp = self._managed.__enter__()  # one SSH session for the whole pull
        return self

    def __exit__(self, *exc):
        if self._managed is not None:
            self._managed.__exit__(*exc)
        return False

    def _remote(self, name: str) -> str:
        return f"{self.path}/{name}" if self.path != "/" else f"/{name}"

    def list(self) -> list[RemoteFile]:
        files = []
        for attr in self._sftp.listdir_attr(self.path):
            if attr.st_mode is not None and stat.S_ISREG(attr.st_mode) and not _skip_name(attr.filename):
                files.append(RemoteFile(attr.filename, int(attr.st_size or 0), int(attr.st_mtime or 0)))
        return files

    def stat(self, name: str) -> RemoteFile:
        attr = self._sftp.stat(self._remote(name))
        return RemoteFile(name, int(attr.st_size or 0), int(attr.st_mtime or 0))

    def fetch(self, name: str, local: Path) -> None:
        self._sftp.get(self._remote(name), str(local))

    def delete(self, name: str) -> None:
        self._sftp.remove(self._remote(name))


def ledger_path(settings: Settings, code: str) -> Path:
    return settings.raw / code / LEDGER_NAME


def read_ledger(settings: Settings, code: str) -> list[dict]:
    path = ledger_path(settings, code)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                entries.append(json.loads(line))
            except ValueError:  # a line cut by a crash: ignore it, the file is fetched again
                continue
    return entries


def _append_ledger(settings: Settings, code: str, entry: dict) -> None:
    path = ledger_path(settings, code)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def source_of(association) -> dict:
    source = dict(getattr(association, "source", None) or {"type": "folder"})
    source.setdefault("type", "folder")
    return source


def is_remote(settings: Settings, association) -> bool:
    """True when the association's files come from somewhere else than its landing folder (SFTP, a
    mounted share): only a pull can tell whether anything new is there."""
    source = source_of(association)
    if str(source.get("type", "folder")).lower() != "folder":
        return True
    path = source.get("path")
    return bool(path) and Path(path).expanduser().resolve() != (settings.landing / association.code).resolve()


def _open_source(settings: Settings, code: str, source: dict):
    kind = str(source.get("type", "folder")).lower()
    if kind == "folder":
        path = source.get("path")
        if not path:
            return None
        folder = Path(path).expanduser().resolve()
        if folder == (settings.landing / code).resolve():
            return None
        return _Folder(folder)
    if kind == "sftp":
        conn_id = source.get("conn_id") or f"finsam_sftp_{code.lower()}"
        forbidden = {"password", "private_key", "key", "user", "username", "host"} & set(source)
        if forbidden:
            raise SourceError(
                f"Förbundet {code}: registret får inte innehålla inloggningsuppgifter ({', '.join(sorted(forbidden))}); "
                f"lägg dem i Airflow-anslutningen {conn_id}."
            )
        return _Sftp(conn_id, str(source.get("path") or "/"))
    raise SourceError(f"Förbundet {code}: okänd källtyp '{kind}' i registret (tillåtet: folder, sftp).")


def pull(settings: Settings, association) -> dict:
    """Copy the association's new files from its source into `<landing>/<CODE>/`.

    A plain folder source (the default) is the landing folder itself: nothing to do.
    """
    if association is None:
        return {"type": "none", "fetched": 0}
    code = association.code
    source = source_of(association)
    summary = {
        "type": str(source["type"]).lower(),
        "source": None,
        "listed": 0,
        "fetched": 0,
        "already_received": 0,
        "unchanged": 0,
        "deleted": 0,
        "files": [],
        "notes": [],
    }
    remote = _open_source(settings, code, source)
    if remote is None:
        summary["source"] = str(settings.landing / code)
        return summary
    summary["source"] = remote.label
    delete_after = bool(source.get("delete_after_fetch", False))
    target_dir = settings.landing / code
    target_dir.mkdir(parents=True, exist_ok=True)

    ledger = read_ledger(settings, code)
    known_keys = {e["key"]: e for e in ledger if "key" in e}
    known = {e["delivery"] for e in ledger if e.get("delivery")}

    current = None
    try:
        with remote:
            listed = sorted(remote.list(), key=lambda f: (f.mtime, f.name))
            summary["listed"] = len(listed)
            for item in listed:
                current = item.name
                entry = known_keys.get(item.key)
                if entry is not None:
                    summary["unchanged"] += 1
                    if delete_after and not entry.get("deleted"):
                        remote.delete(item.name)  # fetched earlier, the delete was interrupted
                        _append_ledger(settings, code, {**entry, "deleted": True, "event_at": _now()})
                        summary["deleted"] += 1
                    continue
                outcome = _fetch_one(settings, code, remote, item, target_dir, known)
                if outcome is None:
                    summary["notes"].append(
                        f"{item.name}: filen ändrades medan den hämtades; den hämtas vid nästa körning."
                    )
                    continue
                status, sha = outcome
                if status == "name_busy":
                    summary["notes"].append(
                        f"{item.name}: en annan fil med samma namn väntar redan i inkorgen; "
                        "den nya hämtas när den första är inläst."
                    )
                    continue
                deleted = False
                record = {
                    "key": item.key,
                    "name": item.name,
                    "size": item.size,
                    "mtime": item.mtime,
                    "sha256": sha,
                    "delivery": delivery_identity(item.name, sha, settings),
                    "status": status,
                    "source": remote.label,
                    "event_at": _now(),
                    "deleted": False,
                }
                _append_ledger(settings, code, record)
                known_keys[item.key] = record
                known.add(record["delivery"])
                if delete_after:
                    remote.delete(item.name)
                    _append_ledger(settings, code, {**record, "deleted": True, "event_at": _now()})
                    summary["deleted"] += 1
                    deleted = True
                if status == "fetched":
                    summary["fetched"] += 1
                else:
                    summary["already_received"] += 1
                    if status == "already_received":
                        _duplicate_event(settings, code, item.name, sha, remote.label)
                summary["files"].append({"name": item.name, "sha256": sha, "status": status, "deleted": deleted})
            current = None
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure of the source is reported the same way
        where = f" (vid filen {current})" if current else ""
        raise SourceUnavailable(
            f"Förbundet {code}: kunde inte hämta leveranser från källan {remote.label}{where}: "
            f"{type(exc).__name__}: {exc}. Inga filer togs bort hos källan; det som redan hämtats ligger kvar i "
            "inkorgen. Övriga förbund körs som vanligt. Kontrollera servern och anslutningen, "
            "och kör sedan om uppgiften för förbundet."
        ) from exc
    log.info(
        "Förbund %s: %s filer i %s, %s nya hämtade, %s redan mottagna",
        code,
        summary["listed"],
        remote.label,
        summary["fetched"],
        summary["already_received"],
    )
    return summary


def _duplicate_event(settings: Settings, code: str, name: str, sha: str, label: str) -> None:
    """Tell the owner, as for a file re-delivered to the drop folder, that these bytes came already."""

    landed = existing(settings, code, delivery_identity(name, sha, settings))
    if landed is not None:
        message = (
            f"{name}: exakt samma fil har redan tagits emot ({landed.manifest.get('received_at', '?')}, "
            f"status {landed.status or 'under kontroll'}); den hämtades inte igen från {label}."
        )
    else:
        message = f"{name}: exakt samma innehåll som en fil som redan hämtats från {label}; den hämtades inte igen."
    record_event(settings, code, name, sha, "duplicate", message)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def delivery_identity(name: str, sha: str, settings: Settings | None = None) -> str:
    """What makes a delivery the same delivery: its slot and its bytes (`land.delivery_id_for`;
    with `settings`, `land.delivery_id_in_slot`: an older file sent again after a correction is new).

    The same bytes for another period or intervention (an unchanged register re-sent) are a
    new delivery and are fetched; a name outside the naming rule has no slot, so its name
    and bytes identify it (it is fetched once, and the pipeline tells the owner to rename it).
    """
    from ingestion.intake.discover import NameError_, parse_file_name
    from ingestion.intake.land import delivery_id_for, delivery_id_in_slot

    try:
        parsed = parse_file_name(name)
        return delivery_id_in_slot(settings, parsed, sha) if settings is not None else delivery_id_for(parsed, sha)
    except NameError_:
        return f"name:{name}:{sha}"


def _fetch_one(
    settings: Settings, code: str, remote, item: RemoteFile, target_dir: Path, known: set[str]
) -> tuple[str, str] | None:
    """Download one file; returns (status, sha256), or None when it changed during the download."""
    part = target_dir / f".{item.name}.fetching"
    try:
        remote.fetch(item.name, part)
        after = remote.stat(item.name)
        if after.size != item.size or after.mtime != item.mtime or part.stat().st_size != item.size:
            return None
        sha = sha256_file(part)
        identity = delivery_identity(item.name, sha, settings)
        if identity in known or existing(settings, code, identity) is not None:
            return "already_received", sha
        target = target_dir / item.name
        if target.exists():
            return ("already_in_landing", sha) if sha256_file(target) == sha else ("name_busy", sha)
        _fsync(part)
        os.utime(part, (item.mtime, item.mtime))  # keeps the delivery order (discover sorts by mtime)
        os.replace(part, target)
        return "fetched", sha
    finally:
        part.unlink(missing_ok=True)
