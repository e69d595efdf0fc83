"""The harvest schedule: APScheduler with its jobs in the project's database.

Every server process may start a Schedule; only the one holding the lease (a row
in the database, renewed while it lives) runs the jobs, so a source is never
harvested twice at once by two workers. Jobs run one at a time per source, missed
runs are coalesced into one, a failing source only fails its own run, sources run
`concurrency` at a time, and never two on the same host at once. A source's
reconciliation (harvest.reconcile) is a job of its own that takes the source's lease as
a harvest does: the two never overlap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database

from .detached import harvest_detached
from .digest import JOB as DIGEST_JOB
from .digest import schedule_digest
from .leases import LEASE_SECONDS, new_holder, release_lease, take_lease
from .models import Source

log = logging.getLogger(__name__)

LEASE = "harvest-scheduler"

# Jobs are stored as an import path and arguments; the process that runs them
# supplies the configuration and the database here (Schedule.start).
_context: dict[str, object] = {}


def run_source(name: str) -> None:
    """The job: one harvest of `name`, in a process of its own (`harvest.detached`). Its
    failure is logged and stays with that source."""
    harvest_detached(
        cast(Database, _context["db"]), cast(Config, _context["config"]), name, "scheduled"
    )


def reconcile_source(name: str) -> None:
    """The job: one reconciliation of `name` (harvest.reconcile) in a process of its own,
    as a harvest, under the source's lease, so never while it is harvested; its failure
    is logged and stays with that source."""
    harvest_detached(
        cast(Database, _context["db"]),
        cast(Config, _context["config"]),
        name,
        "scheduled",
        reconcile=True,
    )


def trigger_of(source: Source) -> BaseTrigger | None:
    if not source.enabled:
        return None
    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone="UTC")
    if source.every_seconds:
        return IntervalTrigger(seconds=source.every_seconds, timezone="UTC")
    return None


# A provider that keeps no deletions (or forgets them) leaves ghosts that only a
# reconciliation finds; one that keeps them (persistent) is reconciled only on request.
FORGETFUL = ("no", "transient")
RECONCILE_EVERY = timedelta(weeks=1)


def reconcile_trigger_of(source: Source) -> BaseTrigger | None:
    if not source.enabled:
        return None
    if source.reconcile_cron:
        return CronTrigger.from_crontab(source.reconcile_cron, timezone="UTC")
    if source.deleted_record in FORGETFUL:
        return IntervalTrigger(seconds=int(RECONCILE_EVERY.total_seconds()), timezone="UTC")
    return None


def sync_jobs(scheduler: BackgroundScheduler, db: Database, harvests: bool = True) -> None:
    """One harvest job per scheduled source (unless harvest workers take them from the
    queue: `harvests` false), one reconciliation job per source reconciled; a job whose
    trigger did not change is left alone (replacing it would push its next run forward
    on every sync)."""
    with db.session() as session:
        sources = list(session.scalars(select(Source)))
    wanted: dict[str, tuple[Callable[[str], None], str, BaseTrigger]] = {}
    for source in sources:
        if harvests and (trigger := trigger_of(source)) is not None:
            wanted[f"source:{source.name}"] = (run_source, source.name, trigger)
        if (trigger := reconcile_trigger_of(source)) is not None:
            wanted[f"reconcile:{source.name}"] = (reconcile_source, source.name, trigger)
    for job in scheduler.get_jobs():
        if job.id == DIGEST_JOB:  # harvest.digest's own
            continue
        if job.id not in wanted:
            job.remove()
        elif str(job.trigger) == str(wanted[job.id][2]):
            del wanted[job.id]
    for job_id, (function, name, trigger) in wanted.items():
        scheduler.add_job(
            function,
            trigger,
            args=[name],
            id=job_id,
            name=name,
            replace_existing=True,
            coalesce=True,  # runs missed while down become one run
            max_instances=1,  # one run per source at a time
            misfire_grace_time=None,
        )


class Schedule:
    """A BackgroundScheduler that runs only while this process holds the lease."""

    def __init__(
        self,
        config: Config,
        db: Database,
        holder: str | None = None,
        tick_seconds: float = LEASE_SECONDS / 3,
        now: Callable[[], datetime] | None = None,
        lease_seconds: int = LEASE_SECONDS,
    ) -> None:
        self.config, self.db = config, db
        self.holder = holder or new_holder()
        # Renewed every tick, valid for several: a busy process does not lose it.
        self.tick_seconds, self.lease_seconds = tick_seconds, lease_seconds
        self._now = now or (lambda: clock.utc_now())
        self._stop = threading.Event()
        self._scheduler: BackgroundScheduler | None = None
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self._scheduler is not None

    def _tick(self) -> None:
        if take_lease(self.db, LEASE, self.holder, self._now(), self.lease_seconds):
            if self._scheduler is None:
                scheduler = BackgroundScheduler(
                    jobstores={"default": SQLAlchemyJobStore(engine=self.db.engine)},
                    executors={"default": ThreadPoolExecutor(self.config.harvest.concurrency)},
                    timezone="UTC",
                )
                scheduler.start()
                self._scheduler = scheduler
                log.info("harvest scheduler started (%s)", self.holder)
            sync_jobs(self._scheduler, self.db, harvests=not self.config.harvest.queue)
            schedule_digest(self._scheduler, self.config)
        elif self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
            log.info("harvest scheduler handed over (%s)", self.holder)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("harvest scheduler tick failed")
            self._stop.wait(self.tick_seconds)

    def start(self) -> None:
        _context.update(config=self.config, db=self.db)
        self._thread = threading.Thread(target=self._loop, name="harvest-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        release_lease(self.db, LEASE, self.holder)
