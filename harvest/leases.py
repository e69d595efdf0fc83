"""Leases: a named right held by one process at a time, for as long as it renews it.

The scheduler holds one (only one process runs the schedule); each harvest holds one
for its source, so that a source is harvested by exactly one process however many
servers, schedulers and "harvest now" clicks there are. A process that dies stops
renewing, and its lease is free once it expires: another takes over and resumes from
the source's checkpoint. Taking is one conditional UPDATE, else an INSERT that yields
to a concurrent one: atomic on SQLite and PostgreSQL alike, without locks held.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from libfed.kernel import clock
from libfed.kernel.db import Database, insert_or_ignore

from .models import SchedulerLease

LEASE_SECONDS = 60


def new_holder() -> str:
    """A name for one holder: the machine, the process, and a nonce for this holder
    (two threads of a process are two holders)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take_lease(
    db: Database, name: str, holder: str, now: datetime, seconds: int = LEASE_SECONDS
) -> bool:
    """Take or renew `name` for `holder`; False while another holder's lease lasts."""
    until = now + timedelta(seconds=seconds)
    with db.write() as session:
        renewed = session.execute(
            update(SchedulerLease)
            .where(
                SchedulerLease.name == name,
                or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now),
            )
            .values(holder=holder, expires_at=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        if renewed:
            return True
        return bool(
            insert_or_ignore(
                session,
                SchedulerLease.__table__,
                [{"name": name, "holder": holder, "expires_at": until}],
                ["name"],
            )
        )


def release_lease(db: Database, name: str, holder: str) -> None:
    """Give `name` up at once (if `holder` still holds it), rather than at expiry."""
    with db.write() as session:
        session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
            .values(expires_at=datetime(1970, 1, 1))
            .execution_options(synchronize_session=False)
        )


def release_leases_of_process(db: Database, name: str, pid: int) -> None:
    """Give up `name` if a process of this machine that has ended holds it: its lease
    would otherwise keep everyone else off the source until it expires."""
    with db.write() as session:
        session.execute(
            update(SchedulerLease)
            .where(
                SchedulerLease.name == name,
                SchedulerLease.holder.startswith(f"{socket.gethostname()}:{pid}:", autoescape=True),
            )
            .values(expires_at=datetime(1970, 1, 1))
            .execution_options(synchronize_session=False)
        )


def lease_holder(db: Database, name: str, now: datetime) -> str | None:
    """Who holds `name` now, if anyone."""
    with db.session() as session:
        return session.scalar(
            select(SchedulerLease.holder).where(
                SchedulerLease.name == name, SchedulerLease.expires_at > now
            )
        )


@contextmanager
def holding(db: Database, name: str, seconds: int = LEASE_SECONDS) -> Iterator[bool]:
    """Hold `name` for the block, renewed in the background every third of its term;
    yields False (and holds nothing) when another holder has it."""
    holder = new_holder()
    if not take_lease(db, name, holder, clock.utc_now(), seconds):
        yield False
        return
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(seconds / 3):
            take_lease(db, name, holder, clock.utc_now(), seconds)

    renewer = threading.Thread(target=renew, name=f"lease:{name}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join()
        release_lease(db, name, holder)
