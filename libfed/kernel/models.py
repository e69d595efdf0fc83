"""The kernel's tables: shared settings, counters, the audit trail, and the version guard
that every table edited by people uses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from libfed.kernel.db import Base


class Setting(Base):
    """Values the application creates once and every worker must share (the secret key)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Counter(Base):
    """A number that only grows; `ledger` counts audited changes (see libfed.kernel.audit)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class MailDigest(Base):
    """A digest sent, one row per kind and period (e.g. 'reminders', '2026-W49').

    The primary key makes sending at most once per period whichever process's scheduler
    gets there first: the row is written before the mail goes, in the same transaction.
    """

    __tablename__ = "mail_digests"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    recipients: Mapped[int] = mapped_column(Integer)


class Versioned:
    """A row edited by people: its version guards against lost updates (HTTP ETag/If-Match).

    SQLAlchemy adds `WHERE version = <the version read>` to every UPDATE, so of two
    writers that read the same version only the first one's change lands, on SQLite
    and PostgreSQL alike.
    """

    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.version}


class AuditEvent(Base):
    """One create, change or transition of a ledger object: append-only.

    `changes` maps each changed field to [before, after] (before is null on create);
    the migration adds triggers that refuse UPDATE and DELETE on this table.
    `group_id` gathers an object's events with those of the objects it holds, so that one
    indexed query reads them together; the owning domain decides what a group is (the
    exchange groups a shipment's item events with the shipment's own, under its id).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity", "entity_id", "id"),
        Index("ix_audit_events_group", "group_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict] = mapped_column(JSON)
