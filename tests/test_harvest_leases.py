"""Leases: one holder at a time per name, taken over when the holder stops renewing;
a source is harvested by exactly one process, however many try at once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from conftest import CLOCK_START, load, write_config
from flask import Flask
from sqlalchemy import func, select

from libfed.harvest.leases import holding, lease_holder, release_lease, take_lease
from libfed.harvest.models import Run
from libfed.harvest.run import SourceBusy, harvest_one_per_host
from libfed.harvest.sources import add_source
from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database


def test_one_holder_at_a_time_until_it_stops_renewing(db: Database) -> None:
    now = CLOCK_START
    assert take_lease(db, "x", "a", now, 60)
    assert not take_lease(db, "x", "b", now + timedelta(seconds=30), 60)
    assert take_lease(db, "x", "a", now + timedelta(seconds=50), 60)  # renewal
    assert not take_lease(db, "x", "b", now + timedelta(seconds=100), 60)
    assert take_lease(db, "x", "b", now + timedelta(seconds=111), 60)  # a stopped renewing
    assert not take_lease(db, "x", "a", now + timedelta(seconds=112), 60)
    assert take_lease(db, "y", "a", now + timedelta(seconds=112), 60)  # another name
    release_lease(db, "x", "b")
    assert take_lease(db, "x", "a", now + timedelta(seconds=113), 60)


def test_of_many_takers_at_the_same_moment_exactly_one_wins(db: Database) -> None:
    """Real concurrent transactions (on PostgreSQL: no serialised writers) on a lease
    that has expired, as when a scheduler died and several notice at once."""
    assert take_lease(db, "contested", "dead", CLOCK_START, 60)
    later = CLOCK_START + timedelta(minutes=5)
    start = threading.Barrier(8)
    won: list[str] = []

    def take(holder: str) -> None:
        start.wait()
        if take_lease(db, "contested", holder, later, 60):
            won.append(holder)

    takers = [threading.Thread(target=take, args=(f"taker-{k}",)) for k in range(8)]
    for taker in takers:
        taker.start()
    for taker in takers:
        taker.join()
    assert len(won) == 1
    assert lease_holder(db, "contested", later) == won[0]


def test_a_held_lease_is_renewed_while_its_block_runs(db: Database) -> None:
    with holding(db, "long", seconds=2) as mine:  # times are kept to the second
        assert mine
        time.sleep(2.6)  # longer than the term: only the renewals keep it
        assert not take_lease(db, "long", "intruder", clock.utc_now(), 2)
        with holding(db, "long", seconds=2) as second:
            assert not second
    assert take_lease(db, "long", "next", clock.utc_now(), 2)  # released at the end


def test_a_source_another_process_harvests_is_left_to_it(
    config: Config, db: Database, live_server: str
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    with db.write() as session:
        add_source(session, "partner", live_server)
    assert take_lease(db, "source:partner", "other-machine:4242:abcd", clock.utc_now())
    try:
        harvest_one_per_host(db, config, "partner")
    except SourceBusy as busy:
        assert busy.holder == "other-machine:4242:abcd"
    else:
        raise AssertionError("harvested a source another process holds")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_two_harvest_processes_at_once_harvest_a_source_once(
    app: Flask,
    db: Database,
    live_server: str,
    aggregator: tuple[Config, Database],
    tmp_path: Path,
) -> None:
    """`libfed harvest` started twice at the same moment, as two schedulers on two
    machines would: one harvests, the other says who does."""
    load(db, "marcxml/pymarc_batch.xml")
    # A partner slow enough that the two processes overlap (each request takes 1 s).
    app.before_request(lambda: time.sleep(1))
    config, database = aggregator
    with database.write() as session:
        add_source(session, "partner", live_server)
    settings = write_config(tmp_path / "aggregator.toml", config, "max_retries = 0\n")
    command = [
        str(Path(sys.executable).parent / "libfed"),
        "--config",
        str(settings),
        "harvest",
        "partner",
    ]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1
    # The one that left the source to the other did not complete it: exit status 1.
    said = sorted((p.returncode, out) for p, (out, _err) in zip(processes, outputs, strict=True))
    assert [code for code, _out in said] == [0, 1], outputs
    assert "partner: succeeded" in said[0][1]
    assert "partner: not harvested here: partner is being harvested by" in said[1][1]


def test_a_run_left_running_by_a_dead_process_ends_when_the_source_is_harvested_again(
    config: Config, db: Database, live_server: str
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    with db.write() as session:
        source = add_source(session, "partner", live_server)
        session.add(Run(source_id=source.id, started_at=CLOCK_START, status="running", errors=[]))
    run = harvest_one_per_host(db, config, "partner")
    assert run.status == "succeeded"
    with db.session() as session:
        statuses = session.scalars(select(Run.status).order_by(Run.id)).all()
        first = session.scalars(select(Run).order_by(Run.id)).first()
    assert statuses == ["failed", "succeeded"]
    assert first.errors[0]["message"] == "interrupted: the process harvesting it stopped"
