"""Harvest workers sharing a PostgreSQL queue: `python -m bench.queue` (a step of `make bench`).

Issue 18 asks for 200 simulated slow sources harvested by 1, 2 and 4 worker processes:
sources per hour, and that no source is harvested twice at once.

- **Sources**: BENCH_QUEUE_SOURCES (200) providers, each its own loopback server (so
  its own host for the one-harvest-per-host rule), answering Identify at once and one
  ListRecords page of 10 records after BENCH_QUEUE_STALL (2) seconds: a slow provider.
  Every source is scheduled daily and due now.
- **Workers**: for each of BENCH_QUEUE_WORKERS ("1,2,4"), a fresh PostgreSQL database,
  the sources added, then that many `libfed harvest-worker` processes (`[harvest] queue
  = true`, `concurrency` 4, each harvest in its own child process as in production),
  started together; timed until every source has a finished run.
- **Checked**: every run succeeded, every source was harvested exactly once, and no two
  runs of one source overlapped in time (from the runs' start and end in the database).

The machine has 2 cores: each harvest's child process costs a Python start-up, so
beyond a few workers the CPU, not the providers, sets the pace. Figures go to
bench/data/queue.json. BENCH_POSTGRES names the server (default
postgresql://postgres@127.0.0.1:5432); without one the bench says so and stops.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from libfed.harvest.models import Run, Source
from libfed.kernel.db import Database
from libfed.root.migrate import upgrade

from .explain import _recreate
from .run import BIN, DATA, serving

POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
SOURCES = int(os.environ.get("BENCH_QUEUE_SOURCES", "200"))
STALL = float(os.environ.get("BENCH_QUEUE_STALL", "2"))
WORKERS = [int(n) for n in os.environ.get("BENCH_QUEUE_WORKERS", "1,2,4").split(",")]
CONCURRENCY = 4
OUT = DATA / "queue.json"
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

_IDENTIFY = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
_OAI = "http://www.openarchives.org/OAI/2.0/"


def _page(source: int) -> bytes:
    records = "".join(
        f"<record><header><identifier>oai:bench:{source}:{n}</identifier>"
        f"<datestamp>2026-01-01</datestamp></header><metadata>"
        f'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Source {source} record {n}'
        f"</dc:title><dc:language>aze</dc:language></oai_dc:dc></metadata></record>"
        for n in range(10)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{_OAI}">'
        f"<responseDate>2026-12-07T00:00:00Z</responseDate>"
        f'<request verb="ListRecords">http://127.0.0.1/oai</request>'
        f"<ListRecords>{records}</ListRecords></OAI-PMH>"
    ).encode()


def _provider(source: int):  # type: ignore[no-untyped-def]
    """A slow provider: Identify at once, its one page after STALL seconds."""
    page = _page(source)

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        if "verb=Identify" in environ.get("QUERY_STRING", ""):
            body = _IDENTIFY
        else:
            time.sleep(STALL)
            body = page
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def _config(url: str) -> Path:
    path = DATA / "queue.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n'
        '[oai]\nrepository_name = "Bench"\nrepository_identifier = "bench.libfed.org"\n'
        'base_url = "http://127.0.0.1:8080/oai"\nadmin_emails = ["bench@libfed.org"]\n'
        '[exchange]\nhome_country = "AZ"\n'
        f"[harvest]\nqueue = true\nscheduler = false\nconcurrency = {CONCURRENCY}\n"
        "max_retries = 0\n"
    )
    return path


def _finished(db: Database) -> int:
    with db.session() as session:
        return len(session.scalars(select(Run.id).where(Run.finished_at.is_not(None))).all())


def _checked(db: Database) -> dict:
    """Runs per source, failures, and pairs of runs of one source that overlapped."""
    with db.session() as session:
        runs = session.execute(
            select(Run.source_id, Run.started_at, Run.finished_at, Run.status)
        ).all()
    by_source: dict[int, list] = {}
    for source_id, started, finished, _status in runs:
        by_source.setdefault(source_id, []).append((started, finished))
    overlaps = sum(
        1
        for spans in by_source.values()
        for a, b in zip(sorted(spans), sorted(spans)[1:], strict=False)
        if b[0] < a[1]
    )
    return {
        "runs": len(runs),
        "failed": sum(status != "succeeded" for *_, status in runs),
        "sources_harvested": len(by_source),
        "sources_harvested_twice": sum(len(spans) > 1 for spans in by_source.values()),
        "overlapping_runs_of_one_source": overlaps,
    }


def measure(workers: int, providers: list[str]) -> dict:
    url = f"{POSTGRES}/libfed_bench_queue"
    _recreate(url)
    db = Database(url)
    upgrade(db)
    with db.write() as session:
        for n, address in enumerate(providers):
            session.add(
                Source(
                    name=f"s{n:03d}",
                    base_url=address,
                    prefix="oai_dc",
                    sets=[],
                    every_seconds=86_400,
                    enabled=True,
                )
            )
    config = _config(url)
    started = time.monotonic()
    crew = [
        subprocess.Popen(
            [str(BIN / "libfed"), "--config", str(config), "harvest-worker", "--poll", "0.5"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        while _finished(db) < len(providers):
            if any(process.poll() is not None for process in crew):
                raise RuntimeError("a harvest worker stopped: run it by hand to see why")
            time.sleep(0.2)
        seconds = time.monotonic() - started
        time.sleep(3)  # a source taken twice would show now
    finally:
        for process in crew:
            process.send_signal(signal.SIGTERM)
        for process in crew:
            process.wait(120)
    result = {
        "workers": workers,
        "sources": len(providers),
        "seconds": round(seconds, 1),
        "sources_per_hour": round(len(providers) / seconds * 3600),
        **_checked(db),
    }
    db.dispose()
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    DATA.mkdir(exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # 400 requests a run
    if not _recreate(f"{POSTGRES}/libfed_bench_queue"):
        print("bench.queue: no PostgreSQL server answers; the queue needs one")
        return
    with ExitStack() as stack:
        providers = [stack.enter_context(serving(_provider(n))) for n in range(SOURCES)]
        results = {
            "date": datetime.now(UTC).strftime("%a %b %d %H:%M UTC %Y"),
            "commit": os.popen("git rev-parse --short HEAD").read().strip(),
            "stall_seconds": STALL,
            "concurrency": CONCURRENCY,
            "runs": [measure(workers, providers) for workers in WORKERS],
        }
    OUT.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
