"""The schedule: one active scheduler per database, jobs that follow the sources."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from conftest import load
from sqlalchemy import select

from libfed.harvest import scheduler as schedule_module
from libfed.harvest.models import Run, Source
from libfed.harvest.scheduler import Schedule, run_source, sync_jobs
from libfed.harvest.sources import add_source
from libfed.kernel.db import Database


@pytest.fixture
def stopped_scheduler(db: Database):  # type: ignore[no-untyped-def]
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)}, timezone="UTC"
    )
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


def test_jobs_follow_the_sources(db: Database, stopped_scheduler: BackgroundScheduler) -> None:
    with db.write() as session:
        add_source(session, "every", "http://a.example/oai", every_seconds=6 * 3600)
        add_source(session, "nightly", "http://b.example/oai", cron="0 3 * * *")
        add_source(session, "manual", "http://c.example/oai")
    sync_jobs(stopped_scheduler, db)
    jobs = {job.id: job for job in stopped_scheduler.get_jobs()}
    assert set(jobs) == {"source:every", "source:nightly"}
    assert str(jobs["source:every"].trigger) == "interval[6:00:00]"
    assert "hour='3'" in str(jobs["source:nightly"].trigger)
    assert jobs["source:every"].coalesce and jobs["source:every"].max_instances == 1
    first_run = jobs["source:every"].next_run_time

    time.sleep(1.1)
    sync_jobs(stopped_scheduler, db)  # nothing changed: the next run must not move
    assert stopped_scheduler.get_job("source:every").next_run_time == first_run

    with db.write() as session:
        session.scalars(select(Source).where(Source.name == "nightly")).one().enabled = False
    sync_jobs(stopped_scheduler, db)
    assert [job.id for job in stopped_scheduler.get_jobs()] == ["source:every"]

    # With the queue on, harvest workers take them: the servers' schedule runs none.
    sync_jobs(stopped_scheduler, db, harvests=False)
    assert [job.id for job in stopped_scheduler.get_jobs()] == []


def test_a_failing_source_fails_only_its_own_run(aggregator) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    with db.write() as session:
        add_source(session, "gone", "http://127.0.0.1:9/oai")
    schedule_module._context.update(config=config, db=db)
    run_source("gone")  # does not raise
    run_source("never-existed")  # removed since scheduled: nothing happens
    with db.session() as session:
        (run,) = session.scalars(select(Run)).all()
    assert run.status == "failed" and "127.0.0.1:9" in run.errors[0]["url"]


def _finished_runs(db: Database) -> int:
    with db.session() as session:
        return len(session.scalars(select(Run.id).where(Run.finished_at.is_not(None))).all())


def test_only_the_lease_holder_schedules_and_runs_never_overlap(
    aggregator,
    live_server: str,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    config, agg = aggregator
    load(db, "marcxml/pymarc_batch.xml")
    with agg.write() as session:
        add_source(session, "az-nl", live_server, every_seconds=1)
    first = Schedule(config, agg, holder="worker-1", tick_seconds=0.2)
    second = Schedule(config, agg, holder="worker-2", tick_seconds=0.2)
    first.start()
    time.sleep(0.5)
    second.start()
    try:
        # Until two runs have finished (a run takes longer on a loaded machine than the
        # one-second interval): the second worker must stay idle all that time.
        deadline = time.monotonic() + 90
        while _finished_runs(agg) < 2 and time.monotonic() < deadline:
            assert first.active and not second.active
            time.sleep(0.2)
        assert first.active and not second.active
    finally:
        first.stop()
        second.stop()
    with agg.session() as session:
        runs = session.scalars(select(Run).order_by(Run.started_at)).all()
    assert len(runs) >= 2 and all(r.status == "succeeded" for r in runs)
    for before, after in pairwise(runs):
        assert before.finished_at <= after.started_at  # one run of a source at a time
