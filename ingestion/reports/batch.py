"""Making reports: one on request (`finsam rapport`), or every report of the published periods
after a publish (the `finsam_reports` DAG), regenerating only those whose figures changed.

Where they go: `<FINSAM_HOME>/publish/rapporter/` for publication reports (small counts as
"<5"), `<FINSAM_HOME>/reports/rapporter/` for internal ones (exact counts), as
`<förbund>/<insats>/<period>.{pdf,docx,html}`, `<förbund>/styrelse/<period>.*` and
`lan/<period>.*`. A fingerprint of each report's figures (and of the report code and templates)
is kept in `fingerprints.json` beside them: a report whose fingerprint is unchanged is not
rendered again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
from pathlib import Path

from ingestion.core.config import Settings
from ingestion.outbound.disclosure import threshold
from ingestion.reports.figures import (
    ReportError,
    Snapshot,
    board_figures,
    county_figures,
    intervention_figures,
)
from ingestion.reports.render import FORMATS, TEMPLATES, write

FINGERPRINTS = "fingerprints.json"
# The periods the scheduled run keeps reports for: half-year and annual reports, as the boards ask.
SCHEDULED_PERIOD_TYPES = ("half_year", "year")
CHUNK = 8  # reports per unit of work: the fingerprints are saved after each


def snapshot_path(settings: Settings) -> Path:
    return settings.publish / "finsam_marts.duckdb"


def reports_root(settings: Settings, internal: bool) -> Path:
    return (settings.reports if internal else settings.publish) / "rapporter"


def _safe(label: str) -> str:
    return label.replace("/", "-").replace("..", "_").replace(" ", "_")


def relative_stem(figures: dict) -> Path:
    label = _safe(figures["period"]["label"])
    if figures["kind"] == "intervention":
        return Path(figures["association"]["code"]) / figures["intervention"]["code"] / label
    if figures["kind"] == "board":
        return Path(figures["association"]["code"]) / "styrelse" / label
    return Path("lan") / label


def _code_version() -> str:
    """The report code and templates: a change to them changes every fingerprint."""
    digest = hashlib.sha256()
    for path in sorted([*Path(__file__).parent.glob("*.py"), *TEMPLATES.glob("*")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(figures: dict, formats: tuple[str, ...], code_version: str) -> str:
    """The report's figures as they will be shown (not when they were published), hashed."""
    stable = {k: v for k, v in figures.items() if k != "published_at"}
    text = json.dumps([stable, sorted(formats), code_version], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def gather(
    snap: Snapshot,
    kind: str,
    *,
    association: str | None = None,
    intervention: str | None = None,
    period: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict:
    if kind == "intervention":
        return intervention_figures(snap, association, intervention, period, start, end)
    if kind == "board":
        if not period:
            raise ReportError("Styrelseunderlaget behöver en kalenderperiod: --period (t.ex. 2016 eller 2016H1).")
        return board_figures(snap, association, period)
    if not period:
        raise ReportError("Länsjämförelsen behöver en kalenderperiod: --period (t.ex. 2016).")
    return county_figures(snap, period)


def make_report(
    settings: Settings,
    kind: str,
    *,
    internal: bool = False,
    formats: tuple[str, ...] = FORMATS,
    out_dir: Path | None = None,
    snapshot: Path | None = None,
    **what,
) -> list[Path]:
    """One report, written now (whatever its fingerprint); returns the files."""
    snap = Snapshot(snapshot or snapshot_path(settings), internal=internal, threshold=threshold(settings))
    try:
        figures = gather(snap, kind, **what)
    finally:
        snap.close()
    root = Path(out_dir) if out_dir else reports_root(settings, internal)
    return write(figures, root / relative_stem(figures), formats)


def scheduled_jobs(snap: Snapshot, period_types: tuple[str, ...] = SCHEDULED_PERIOD_TYPES) -> list[dict]:
    """Every report the scheduled run keeps: for each period of these types that has ended by the
    data's last day, each intervention with participants' data, each association's board pack and
    the county comparison."""
    placeholders = ", ".join("?" for _ in period_types)
    periods = snap.rows(
        "select distinct c.association_code, c.intervention_code, c.period_type, c.period_label, c.period_end "
        "from marts.period_completeness c join marts.dim_intervention i on i.association_code = c.association_code "
        "and i.intervention_code = c.intervention_code and i.is_current and i.measurement_method = 'PERSON' "
        f"where c.period_type in ({placeholders}) and c.data_through >= c.period_end "
        "order by c.period_end, c.association_code, c.intervention_code",
        list(period_types),
    )
    jobs: list[dict] = []
    boards: set[tuple[str, str]] = set()
    labels: list[str] = []
    for p in periods:
        jobs.append(
            {
                "kind": "intervention",
                "association": p["association_code"],
                "intervention": p["intervention_code"],
                "period": p["period_label"],
            }
        )
        boards.add((p["association_code"], p["period_label"]))
        if p["period_label"] not in labels:
            labels.append(p["period_label"])
    jobs += [{"kind": "board", "association": a, "period": label} for a, label in sorted(boards)]
    jobs += [{"kind": "county", "period": label} for label in labels]
    return jobs


# A worker process's connection to the snapshot and the fingerprints as the run found them, set
# once when the process starts: opening a connection reads the catalogue and the code labels (a
# tenth of a second), and the fingerprints of every report are large; neither is redone per chunk.
_worker: dict = {}


def _start_worker(snapshot: str, internal: bool, book: dict, threshold: int) -> None:
    _worker.update(snap=Snapshot(Path(snapshot), internal=internal, batch=True, threshold=threshold), book=book)


def _refresh_some(
    snapshot: str,
    internal: bool,
    root: str,
    jobs: list[dict],
    formats,
    version: str,
    book: dict | None = None,
    snap: Snapshot | None = None,
) -> list:
    """Gather, fingerprint and (when changed) write the given jobs, on `snap` (else the worker's
    connection, else one of their own) against `book` (else the worker's). Returns one (name, key,
    mark, outcome) per job: outcome 'written', 'unchanged' or the refusal's text."""
    root_path = Path(root)
    out = []
    book = book if book is not None else _worker["book"]
    snap = snap or _worker.get("snap")
    own = snap is None
    if own:
        snap = Snapshot(Path(snapshot), internal=internal)
    try:
        for job in jobs:
            name = "/".join(str(v) for v in job.values())
            try:
                figures = gather(snap, job["kind"], **{k: v for k, v in job.items() if k != "kind"})
            except ReportError as exc:
                out.append((name, None, None, str(exc)))
                continue
            stem = relative_stem(figures)
            key = stem.as_posix()
            mark = fingerprint(figures, formats, version)
            present = all((root_path / f"{key}.{fmt}").exists() for fmt in formats)
            if book.get(key) == mark and present:
                out.append((name, key, mark, "unchanged"))
                continue
            write(figures, root_path / stem, formats)
            out.append((name, key, mark, "written"))
    finally:
        if own:
            snap.close()
    return out


def refresh_reports(
    settings: Settings,
    *,
    internal: bool = False,
    formats: tuple[str, ...] = FORMATS,
    period_types: tuple[str, ...] = SCHEDULED_PERIOD_TYPES,
    jobs: list[dict] | None = None,
    workers: int | None = None,
) -> dict:
    """Regenerate the reports whose figures changed since they were last written (or whose files are
    missing); the others are left as they are. `workers` processes share the jobs (default
    FINSAM_WORKERS). Returns what was written, kept and refused."""
    root = reports_root(settings, internal)
    root.mkdir(parents=True, exist_ok=True)
    book_path = root / FINGERPRINTS
    book = json.loads(book_path.read_text(encoding="utf-8")) if book_path.exists() else {}
    # refuses (in Swedish) when there is no snapshot; batch: each table read once per period (Snapshot.slice)
    snap = Snapshot(snapshot_path(settings), internal=internal, batch=True, threshold=threshold(settings))
    try:
        if jobs is None:
            jobs = scheduled_jobs(snap, period_types)
        written, unchanged, failed = _refresh_all(snap, settings, internal, formats, jobs, workers, root, book)
    finally:
        snap.close()
    _write_index(root, book)
    return {"root": str(root), "written": sorted(written), "unchanged": sorted(unchanged), "failed": failed}


def _refresh_all(
    snap: Snapshot,
    settings: Settings,
    internal: bool,
    formats: tuple[str, ...],
    jobs: list[dict],
    workers: int | None,
    root: Path,
    book: dict,
) -> tuple[list, list, dict]:
    """The jobs in chunks, on this process's connection or on `workers` processes (each with its
    own connection); the fingerprints saved after each chunk."""
    book_path = root / FINGERPRINTS
    version = _code_version()
    snapshot = str(snap.path)
    workers = max(1, min(workers or settings.workers, len(jobs) or 1))
    if multiprocessing.current_process().daemon:  # e.g. a Celery pool process: it may not start children
        workers = 1
    args = (snapshot, internal, str(root))
    chunks = [jobs[n : n + CHUNK] for n in range(0, len(jobs), CHUNK)]
    written, unchanged, failed = [], [], {}

    def record(results: list) -> None:
        """Take a chunk's outcome and save the fingerprints at once: a run stopped half-way keeps
        what it finished."""
        for name, key, mark, outcome in results:
            if key is None:
                failed[name] = outcome
                continue
            book[key] = mark
            (written if outcome == "written" else unchanged).append(key)
        part = book_path.with_name(f".{book_path.name}.new")
        part.write_text(json.dumps(book, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(part, book_path)

    if workers == 1:
        for chunk in chunks:
            record(_refresh_some(*args, chunk, formats, version, book, snap))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(snapshot, internal, dict(book), snap.threshold),
        ) as pool:
            futures = [pool.submit(_refresh_some, *args, chunk, formats, version) for chunk in chunks]
            for future in as_completed(futures):
                record(future.result())
    return written, unchanged, failed


def _write_index(root: Path, book: dict) -> None:
    """rapporter/index.html: every report, with links to its three formats."""
    from html import escape

    rows = []
    for key in sorted(book):
        links = " · ".join(
            f'<a href="{escape(key)}.{fmt}">{fmt.upper()}</a>' for fmt in FORMATS if (root / f"{key}.{fmt}").exists()
        )
        rows.append(f"<tr><td>{escape(key)}</td><td>{links}</td></tr>")
    (root / "index.html").write_text(
        '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Rapporter</title>'
        "<style>body{font-family:sans-serif;max-width:50rem;margin:2rem auto}td{padding:.2rem .6rem}</style>"
        "</head><body><h1>Rapporter</h1><p>Insatsernas halvårs- och helårsrapporter, styrelseunderlag per "
        "förbund och länsjämförelsen, förnyade när siffrorna ändrats.</p><table>"
        + "".join(rows)
        + "</table></body></html>",
        encoding="utf-8",
    )
