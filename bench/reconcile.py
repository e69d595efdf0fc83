"""Reconciliation of a large source: `python -m bench.reconcile` (a step of `make bench`).

A reconciliation (harvest.reconcile) lists a source's identifiers and makes tombstones of
the records stored here that the list lacks. It must not hold the identifiers in memory:
they are staged in a temporary table and compared by the database. Measured here:

1. For each size N (BENCH_RECONCILE_SIZES, default 10,000 and 100,000): a fresh SQLite
   database holding N records harvested from the source `bench` (small oai_dc records
   written by the repository's own `store`, in batches, as a harvest writes them: their
   identifiers, sets and search entries are those of a harvest).
2. A provider on loopback (werkzeug, in this process) that answers Identify and
   ListIdentifiers pages of 500 headers, generated as it goes, listing 99 % of the N
   records (every hundredth is gone, silently).
3. The reconciliation, in a process of its own (`python -m bench.reconcile child ...`),
   so that its peak resident memory (VmHWM, which exec starts afresh: ru_maxrss would
   carry the parent's peak over) is the reconciliation's and not the set-up's; it also
   reports its resident memory before starting, after its imports.
   Figures: seconds, identifiers listed per second, tombstones, peak RSS and its growth.

Figures go to bench/results/reconcile.json; a markdown table is printed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs

from libfed.harvest.models import Source
from libfed.kernel.config import load_config
from libfed.kernel.db import Database
from libfed.records.identifiers import harvested_identifier
from libfed.records.repository import NewRecord, store
from libfed.root.migrate import upgrade

from .run import DATA, RESULTS, config_file, serving

SIZES = [int(n) for n in os.environ.get("BENCH_RECONCILE_SIZES", "10000,100000").split(",")]
PAGE = 500
GONE_EVERY = 100  # every hundredth record is no longer listed
REPOSITORY = "bench.libfed.org"  # bench.run.config_file's
OAI = "http://www.openarchives.org/OAI/2.0/"
DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Kitab {n}</dc:title>'
    "<dc:creator>Müəllif {author}</dc:creator><dc:date>{year}</dc:date></oai_dc:dc>"
)


def original(n: int) -> str:
    return f"oai:provider.example.org:{n:07d}"


def fill(db: Database, size: int) -> None:
    """`size` records of the source `bench`, stored as a harvest stores them."""
    with db.write() as session:
        session.add(Source(name="bench", base_url="http://127.0.0.1/oai", sets=[]))
    for start in range(0, size, 2000):
        batch = [
            NewRecord.of(
                harvested_identifier(REPOSITORY, "bench", original(n)),
                {"oai_dc": DC.format(n=n, author=n % 997, year=1900 + n % 120)},
                ("source", "source:bench"),
            )
            for n in range(start, min(start + 2000, size))
        ]
        with db.write() as session:
            store(session, batch)


def provider(size: int):  # type: ignore[no-untyped-def]
    """A WSGI provider listing the records still there, PAGE headers a page."""

    def envelope(verb: str, inner: str) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI}">'
            f"<responseDate>2026-12-01T00:00:00Z</responseDate>"
            f'<request verb="{verb}">http://127.0.0.1/oai</request><{verb}>{inner}</{verb}>'
            "</OAI-PMH>"
        ).encode()

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        verb = query.get("verb", "")
        if verb == "Identify":
            body = envelope(
                verb,
                "<repositoryName>bench</repositoryName><baseURL>http://127.0.0.1/oai</baseURL>"
                "<protocolVersion>2.0</protocolVersion><adminEmail>b@example.org</adminEmail>"
                "<earliestDatestamp>2026-01-01T00:00:00Z</earliestDatestamp>"
                "<deletedRecord>no</deletedRecord><granularity>YYYY-MM-DD</granularity>",
            )
        else:
            start = int(query.get("resumptionToken", "0"))
            stop = min(start + PAGE, size)
            headers = "".join(
                f"<header><identifier>{original(n)}</identifier>"
                "<datestamp>2026-11-20</datestamp></header>"
                for n in range(start, stop)
                if n % GONE_EVERY != GONE_EVERY - 1
            )
            token = f"<resumptionToken>{stop}</resumptionToken>" if stop < size else ""
            body = envelope(verb, headers + token)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    return app


def _status_mb(field: str) -> float:
    """A figure of /proc/self/status (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise LookupError(field)


def child(config_path: str) -> None:
    """The reconciliation alone in this process: its figures as JSON on stdout."""
    from libfed.harvest.reconcile import reconcile

    config = load_config(config_path)
    db = Database(config.database.url)
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    run = reconcile(db, config, "bench")
    seconds = time.perf_counter() - started
    peak = _status_mb("VmHWM")
    print(
        json.dumps(
            {
                "status": run.status,
                "message": run.errors[0]["message"] if run.errors else "",
                "pages": run.pages,
                "deleted": run.deleted,
                "seconds": round(seconds, 2),
                "rss_before_mb": before,
                "rss_peak_mb": peak,
            }
        )
    )
    db.dispose()


def measure(size: int) -> dict:
    database = DATA / f"reconcile-{size}.sqlite3"
    for leftover in DATA.glob(f"reconcile-{size}.sqlite3*"):
        leftover.unlink()
    path = config_file(database)
    db = Database(f"sqlite:///{database}")
    upgrade(db)
    print(f"storing {size:,} harvested records ...", flush=True)
    fill(db, size)
    with serving(provider(size)) as url:
        with db.write() as session:
            session.query(Source).filter(Source.name == "bench").update({"base_url": url})
        db.dispose()
        done = subprocess.run(
            [sys.executable, "-m", "bench.reconcile", "child", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    listed = size - size // GONE_EVERY
    row = {
        "records": size,
        "listed": listed,
        **figures,
        "listed_per_second": round(listed / figures["seconds"]),
        "rss_growth_mb": round(figures["rss_peak_mb"] - figures["rss_before_mb"], 1),
    }
    print(row, flush=True)
    return row


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2])
        return
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request
    DATA.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    rows = [measure(size) for size in SIZES]
    (RESULTS / "reconcile.json").write_text(json.dumps(rows, indent=2))
    print(
        "\n| records here | listed by the source | tombstoned | seconds | identifiers/s "
        "| peak RSS | RSS before | growth |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['records']:,} | {row['listed']:,} | {row['deleted']:,} | {row['seconds']} "
            f"| {row['listed_per_second']:,} | {row['rss_peak_mb']} MB | "
            f"{row['rss_before_mb']} MB | {row['rss_growth_mb']} MB |"
        )


if __name__ == "__main__":
    main()
