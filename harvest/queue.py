"""Harvesting across machines: due sources taken from the database by any number of workers.

A national aggregator harvests hundreds of sources; one scheduler process running
them `concurrency` at a time is its ceiling. With `[harvest] queue = true` (PostgreSQL
only), `libfed harvest-worker` processes, on any machines sharing the database, take
due sources instead, and the servers' schedule no longer runs harvests itself.

The queue is the harvester's existing leases, not a broker: a source is due when its
`due_at` has passed; a worker takes it by taking the lease `queue:<name>` (one
conditional UPDATE, atomic on PostgreSQL) and, for politeness across machines, the
lease `host:<host>` of its provider; the harvest itself, in a child process, still holds
`source:<name>`. A worker that dies stops renewing: its leases expire after
`LEASE_SECONDS`, the source is still due, and another worker takes it over, resuming
from the source's checkpoint (the dead run is closed as interrupted). `due_at` moves to
the schedule's next time only when a harvest has ended.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import String, and_, func, literal, or_, select, update

from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database

from .detached import harvest_detached
from .leases import holding, lease_holder
from .models import Run, SchedulerLease, Source
from .scheduler import trigger_of

log = logging.getLogger(__name__)

# How many due sources one look at the queue considers, soonest first.
_CANDIDATES = 50


@dataclass(frozen=True)
class Due:
    name: str
    base_url: str


def next_due(source: Source, after: datetime | None, now: datetime) -> datetime | None:
    """When `source` is next due, by its schedule, counting from the start of its last
    run (`after`); now if it never ran; None if it has no schedule."""
    trigger = trigger_of(source)
    if trigger is None:
        return None
    if after is None:
        return now
    if not source.cron and source.every_seconds:
        # An IntervalTrigger counts from when it was made, not from the last run.
        return after + timedelta(seconds=source.every_seconds)
    fire = trigger.get_next_fire_time(None, after.replace(tzinfo=UTC) + timedelta(seconds=1))
    return None if fire is None else fire.astimezone(UTC).replace(tzinfo=None)


def _schedule_unset(db: Database, now: datetime) -> None:
    """Sources scheduled but without a due time (new, or their schedule changed) get
    one from their last run."""
    with db.session() as session:
        unset = list(
            session.scalars(
                select(Source).where(
                    Source.enabled,
                    Source.due_at.is_(None),
                    or_(Source.cron.is_not(None), Source.every_seconds.is_not(None)),
                )
            )
        )
        last = dict(
            session.execute(
                select(Run.source_id, func.max(Run.started_at))
                .where(Run.source_id.in_([s.id for s in unset]), Run.kind == "harvest")
                .group_by(Run.source_id)
            ).all()
        )
    for source in unset:
        due = next_due(source, last.get(source.id), now)
        if due is None:
            continue
        with db.write() as session:
            session.execute(
                update(Source)
                .where(Source.id == source.id, Source.due_at.is_(None))
                .values(due_at=due)
                .execution_options(synchronize_session=False)
            )


def due_sources(db: Database, now: datetime) -> list[Due]:
    """Sources due now that no worker has taken, soonest first."""
    _schedule_unset(db, now)
    taken = and_(
        SchedulerLease.name == literal("queue:", String) + Source.name,
        SchedulerLease.expires_at > now,
    )
    with db.session() as session:
        rows = session.execute(
            select(Source.name, Source.base_url)
            .outerjoin(SchedulerLease, taken)
            .where(
                Source.enabled,
                Source.due_at <= now,
                SchedulerLease.name.is_(None),
                or_(Source.parked_until.is_(None), Source.parked_until <= now),
            )
            .order_by(Source.due_at, Source.name)
            .limit(_CANDIDATES)
        ).all()
    return [Due(name, base_url) for name, base_url in rows]


@contextmanager
def taking(db: Database, due: Due) -> Iterator[bool]:
    """Hold the source's queue lease and its host's for the block; False (holding
    nothing) if another worker was first to either."""
    with ExitStack() as held:
        for name in (f"queue:{due.name}", f"host:{urlsplit(due.base_url).netloc.lower()}"):
            if not held.enter_context(holding(db, name)):
                held.close()
                yield False
                return
        yield True


def reschedule(db: Database, name: str, now: datetime) -> None:
    """After a harvest: the source is next due at its schedule's next time (never, if it
    lost its schedule)."""
    with db.write() as session:
        source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
        if source is not None:
            source.due_at = next_due(source, now, now)


class Worker:
    """One harvest worker process: `concurrency` harvests at a time, each a due source
    taken from the queue, until stopped."""

    def __init__(
        self,
        config: Config,
        db: Database,
        poll_seconds: float = 5.0,
        harvest: Callable[[Database, Config, str, str], object] = harvest_detached,
    ) -> None:
        self.config, self.db = config, db
        self.poll_seconds = poll_seconds
        self._harvest = harvest
        self._stop = threading.Event()
        self.harvested = 0

    def _take_one(self) -> bool:
        """Harvest one due source if any can be taken; whether one was."""
        now = clock.utc_now()
        for due in due_sources(self.db, now):
            with taking(self.db, due) as mine:
                if not mine:
                    continue
                # Another worker may have finished it between the look and the lease.
                with self.db.session() as session:
                    still = session.scalar(select(Source.due_at).where(Source.name == due.name))
                if still is None or still > clock.utc_now():
                    continue
                # Harvested now by someone else ("harvest now", or the child of a worker
                # that died): left due, to be looked at again, not rescheduled unharvested.
                if lease_holder(self.db, f"source:{due.name}", clock.utc_now()):
                    continue
                self._harvest(self.db, self.config, due.name, "queue")
                reschedule(self.db, due.name, clock.utc_now())
                self.harvested += 1
                return True
        return False

    def _lane(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self._take_one()
            except Exception:
                log.exception("harvest worker: taking a source failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)

    def run(self) -> None:
        """Work until `stop()`; harvests under way are finished first."""
        lanes = [
            threading.Thread(target=self._lane, name=f"harvest-lane-{n}", daemon=True)
            for n in range(self.config.harvest.concurrency)
        ]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()

    def stop(self) -> None:
        self._stop.set()
