"""The harvester's tables: sources, their incremental state, runs and quarantine.

State is kept per (source, set, metadataPrefix), as the protocol's incremental
harvesting is: a source harvested in two sets has two watermarks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Unicode,
)
from sqlalchemy.orm import Mapped, mapped_column

from libfed.kernel.db import Base

from .states import RunStatus

NAME_PATTERN = r"[A-Za-z0-9_.\-]+"


class Source(Base):
    __tablename__ = "harvest_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    base_url: Mapped[str] = mapped_column(String(1024))
    prefix: Mapped[str] = mapped_column(String(64), default="oai_dc")
    sets: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: the whole repository
    every_seconds: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    # A provider that asked to come back in hours is not harvested before then.
    parked_until: Mapped[datetime | None] = mapped_column(DateTime)
    # The version of the intake rules (harvest.intake.VERSION) its stored records were
    # last checked against: below the current one, `libfed db upgrade` checks them again.
    intake_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What real providers need (docs/harvesting.md): seconds between requests, headers
    # sent with each (an API key), `records` (ListRecords) or `identifiers`
    # (ListIdentifiers, then GetRecord per record, for a broken ListRecords), a date
    # window in days for providers that refuse long ones, a timeout of its own.
    request_delay_seconds: Mapped[float | None] = mapped_column(Float)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(16), default="records", server_default="records")
    window_days: Mapped[int | None] = mapped_column(Integer)
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    # Also told when the source fails or degrades (the operators always are).
    contact_email: Mapped[str | None] = mapped_column(String(320))
    # When its identifiers are compared with ours (ghosts become tombstones); None: weekly
    # if Identify says deletedRecord=no, else never.
    reconcile_cron: Mapped[str | None] = mapped_column(String(128))
    deleted_record: Mapped[str | None] = mapped_column(String(16))  # as Identify says
    reconciled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When a harvest worker should next take it (the queue).
    due_at: Mapped[datetime | None] = mapped_column(DateTime)


class SourceState(Base):
    """Where incremental harvesting of one (source, set, prefix) stands."""

    __tablename__ = "harvest_states"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("harvest_sources.id", ondelete="CASCADE"), primary_key=True
    )
    set_spec: Mapped[str] = mapped_column(String(255), primary_key=True)  # "" for no set
    prefix: Mapped[str] = mapped_column(String(64), primary_key=True)
    granularity: Mapped[str | None] = mapped_column(String(32))  # as Identify says
    # `from` of the next run: the responseDate of the first request of the last
    # complete run, in the provider's granularity.
    watermark: Mapped[str | None] = mapped_column(String(32))
    # The run in progress, committed with each page: where to resume after a crash.
    run_response_date: Mapped[str | None] = mapped_column(String(32))
    checkpoint_token: Mapped[str | None] = mapped_column(Text)
    checkpoint_datestamp: Mapped[str | None] = mapped_column(String(32))  # max seen so far


class Run(Base):
    __tablename__ = "harvest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("harvest_sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    # Stored after a repair (harvest.intake): their provenance says altered.
    repaired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # {url, message}
    kind: Mapped[str] = mapped_column(String(16), default="harvest", server_default="harvest")
    left_sets: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What the operators are told of ({kind, message}), and when they were.
    alerts: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime)


class QuarantinedRecord(Base):
    """A record that could not be stored, kept as received with the reason."""

    __tablename__ = "harvest_quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("harvest_runs.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # Set for a record isolated by bisection, which later runs try again (GetRecord).
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("harvest_sources.id", ondelete="CASCADE"), index=True
    )
    identifier: Mapped[str | None] = mapped_column(String(1000))  # the source's
    datestamp: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class Change(Base):
    """What one run changed in one record: added, changed (with the fields before and
    after), deleted, quarantined, or left a set."""

    __tablename__ = "harvest_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("harvest_runs.id", ondelete="CASCADE"), index=True
    )
    identifier: Mapped[str] = mapped_column(String(1024))
    change: Mapped[str] = mapped_column(String(16))
    # [{field, before, after}] for a changed record.
    fields: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)


class SchedulerLease(Base):
    """Who runs the schedule: one holder at a time, for as long as it renews."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ScheduledJob(Base):
    """APScheduler's job store, declared so that Alembic creates it like every table."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
