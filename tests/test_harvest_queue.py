"""Harvesting across processes: workers taking due sources from the queue in the database.

Workers here are threads of the test process sharing one database, each with its own
leases (as processes on other machines would have), harvesting in-process (the child
process of a real worker is `harvest.detached`'s, tested on its own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, write_config
from faulty_provider import Provider, Reply, faulty_provider
from sqlalchemy import select
from test_harvest_listing import page, record

from libfed.harvest.leases import take_lease
from libfed.harvest.models import Run, Source
from libfed.harvest.queue import Due, Worker, due_sources, next_due, taking
from libfed.harvest.run import harvest_unattended
from libfed.harvest.sources import edit_source, next_runs
from libfed.harvest.states import RunStatus
from libfed.kernel import clock
from libfed.kernel.config import Config, ConfigError, parse_config
from libfed.kernel.db import Database
from libfed.root.cli import main

IDENTIFY = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()


def slow(n: int, stall: float = 0.5) -> list[Reply]:
    """One source's harvest: Identify, then one page that takes `stall` seconds."""
    return [Reply(body=IDENTIFY), Reply(body=page(record(f"oai:x:{n}"), token=""), stall=stall)]


def in_process(db: Database, config: Config, name: str, origin: str) -> None:
    harvest_unattended(db, config, name, origin)


@contextmanager
def working(config: Config, db: Database, workers: int) -> Iterator[list[Worker]]:
    """`workers` workers taking from the queue until the block ends."""
    crew = [Worker(config, db, poll_seconds=0.2, harvest=in_process) for _ in range(workers)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in crew]
    for thread in threads:
        thread.start()
    try:
        yield crew
    finally:
        for worker in crew:
            worker.stop()
        for thread in threads:
            thread.join(60)


def wait_for(condition, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def finished_runs(db: Database) -> list[tuple[str, datetime, datetime, str]]:
    with db.session() as session:
        return [
            tuple(row)  # type: ignore[misc]
            for row in session.execute(
                select(Source.name, Run.started_at, Run.finished_at, Run.status)
                .join(Source, Source.id == Run.source_id)
                .where(Run.finished_at.is_not(None))
            )
        ]


def add_sources(db: Database, sources: dict[str, str], every: int = 86_400) -> None:
    with db.write() as session:
        for name, url in sources.items():
            session.add(
                Source(
                    name=name,
                    base_url=url,
                    prefix="oai_dc",
                    sets=[],
                    every_seconds=every,
                    enabled=True,
                )
            )


def test_next_due_follows_the_schedule_from_the_last_run() -> None:
    now = datetime(2026, 12, 7, 10, 30)
    every = Source(name="a", base_url="http://x/oai", enabled=True, every_seconds=3600)
    nightly = Source(name="b", base_url="http://x/oai", enabled=True, cron="0 3 * * *")
    unscheduled = Source(name="c", base_url="http://x/oai", enabled=True)
    assert next_due(every, None, now) == now  # never harvested: due at once
    assert next_due(every, datetime(2026, 12, 7, 10, 0), now) == datetime(2026, 12, 7, 11, 0)
    assert next_due(nightly, datetime(2026, 12, 7, 3, 0), now) == datetime(2026, 12, 8, 3, 0)
    assert next_due(unscheduled, None, now) is None
    nightly.enabled = False
    assert next_due(nightly, None, now) is None


def test_workers_harvest_every_due_source_once_each_one_at_a_time_per_host(  # type: ignore[no-untyped-def]
    aggregator,
) -> None:
    config, db = aggregator
    with ExitStack() as providers:
        own: list[Provider] = [
            providers.enter_context(faulty_provider(slow(n), concurrent=True)) for n in range(4)
        ]
        # Two sources on one host: whichever worker takes one, the other waits for it.
        shared = providers.enter_context(faulty_provider(slow(8) + slow(9), concurrent=True))
        add_sources(db, {f"own{n}": p.url for n, p in enumerate(own)})
        add_sources(db, {"shared1": shared.url, "shared2": shared.url})
        with working(config, db, workers=3) as crew:
            wait_for(lambda: len(finished_runs(db)) >= 6)
            time.sleep(1)  # time for a wrong second harvest to show
        harvested = sum(worker.harvested for worker in crew)
    runs = finished_runs(db)
    assert sorted(name for name, *_ in runs) == sorted(
        ["own0", "own1", "own2", "own3", "shared1", "shared2"]
    )
    assert all(status == RunStatus.SUCCEEDED for *_, status in runs)
    assert harvested == 6
    assert sum(w.harvested > 0 for w in crew) >= 2  # the work was shared
    # The shared host was never asked two things at once.
    spans = sorted(shared.spans)
    assert len(spans) == 4
    assert all(asked >= answered for (_, answered), (asked, _) in pairwise(spans))
    # Each source is next due a day after its harvest, not before.
    with db.session() as session:
        due = dict(session.execute(select(Source.name, Source.due_at)).all())
    assert all(when > clock.utc_now() + timedelta(hours=23) for when in due.values())
    assert due_sources(db, clock.utc_now()) == []


def test_a_dead_workers_source_is_taken_over_and_its_run_resumed(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    with faulty_provider(slow(1, stall=0)) as provider:
        add_sources(db, {"orphan": provider.url})
        now = clock.utc_now()
        # A worker on another machine took the source and died mid-harvest: its leases
        # run out in two seconds, its run stays "running".
        for lease in ("queue:orphan", "source:orphan"):
            assert take_lease(db, lease, "deadhost:1:x", now, seconds=2)
        with db.write() as session:
            source = session.scalars(select(Source).where(Source.name == "orphan")).one()
            source.due_at = now
            session.add(Run(source_id=source.id, started_at=now, status=RunStatus.RUNNING))
        with working(config, db, workers=1) as crew:
            assert due_sources(db, clock.utc_now()) == []  # taken while the lease lasts
            wait_for(lambda: crew[0].harvested == 1, seconds=30)
    runs = sorted(finished_runs(db), key=lambda run: run[1])
    statuses = [status for *_, status in runs]
    assert statuses.count(RunStatus.SUCCEEDED) == 1
    assert RunStatus.FAILED in statuses  # the dead worker's run, closed as interrupted


def test_a_source_being_harvested_elsewhere_is_left_due_not_rescheduled(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    add_sources(db, {"busy": "http://127.0.0.1:9/oai"})
    assert take_lease(db, "source:busy", "elsewhere:1:x", clock.utc_now(), seconds=60)
    worker = Worker(config, db, harvest=in_process)
    assert worker._take_one() is False
    with db.session() as session:
        due = session.scalar(select(Source.due_at).where(Source.name == "busy"))
    assert due is not None and due <= clock.utc_now()  # still due, for the next look


def test_the_queue_needs_postgresql_and_the_worker_needs_the_queue(tmp_path, aggregator) -> None:  # type: ignore[no-untyped-def]
    config, _db = aggregator
    with pytest.raises(ConfigError, match=r"harvest\.queue needs a PostgreSQL database"):
        parse_config(
            {
                **config.model_dump(exclude={"harvest"}),
                "database": {"url": "sqlite:///x.sqlite3"},
                "harvest": {"queue": True},
            }
        )
    path = write_config(tmp_path / "config.toml", config)
    done = CliRunner().invoke(main, ["--config", str(path), "harvest-worker"])
    assert done.exit_code == 1
    assert "the harvest queue is off" in done.output


def test_a_worker_takes_no_source_of_a_host_another_worker_is_harvesting(aggregator) -> None:  # type: ignore[no-untyped-def]
    # What workers on two machines hold: one host's two sources are not taken at once,
    # two hosts' are.
    _config, db = aggregator
    first = Due("one", "http://provider.example:8080/oai")
    with taking(db, first) as mine:
        assert mine
        with taking(db, first) as again:
            assert not again  # the same source
        with taking(db, Due("two", "http://PROVIDER.example:8080/other")) as theirs:
            assert not theirs  # another source of the same host
        with taking(db, Due("three", "http://elsewhere.example/oai")) as other_host:
            assert other_host
    with taking(db, Due("two", "http://provider.example:8080/other")) as later:
        assert later  # released when the first harvest ended


def test_a_changed_schedule_is_counted_again_and_the_due_time_shown(aggregator) -> None:  # type: ignore[no-untyped-def]
    _config, db = aggregator
    add_sources(db, {"daily": "http://a.example/oai"})
    later = clock.utc_now() + timedelta(hours=5)
    with db.write() as session:
        session.scalars(select(Source).where(Source.name == "daily")).one().due_at = later
    with db.session() as session:
        assert next_runs(session) == {"daily": later}  # what the sources page shows
    with db.write() as session:
        edit_source(session, "daily", prefix="oai_dc")  # not the schedule: it stays
    with db.session() as session:
        assert next_runs(session) == {"daily": later}
    with db.write() as session:
        edit_source(session, "daily", every_seconds=3600)
    with db.session() as session:
        assert next_runs(session) == {}
    assert [due.name for due in due_sources(db, clock.utc_now())] == ["daily"]  # never ran
