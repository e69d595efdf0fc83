"""The audit trail: every create, change and transition of a ledger object, append-only.

Values are recorded as the API shows them (money as "12.50", dates as text), so
that replaying a history's `changes` rebuilds the object exactly as it is served.

Every event also moves the ledger's change counter, in the same transaction: a reader
that saw the counter at N and sees N again knows nothing changed in between, so a
computed report can be reused. (An audit id would not do: on PostgreSQL ids are handed
out before commit, so a later-committing change can carry a lower one. The counter's
row lock orders its values as the commits are ordered.)
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from .models import AuditEvent, Counter

_LEDGER = Counter.__table__.c


class Event(BaseModel):
    id: int
    at: str
    actor: str
    entity: str
    entity_id: int
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    changes: dict[str, list]


class History(BaseModel):
    """Events oldest first; replaying `changes` in order rebuilds the object."""

    events: list[Event]


def changes_between(before: dict, after: dict) -> dict[str, list]:
    """Each field whose value differs, as [before, after]."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }


def record_event(
    session: Session,
    *,
    at: datetime,
    actor: str,
    entity: str,
    entity_id: int,
    action: str,
    changes: dict[str, list],
    group_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at,
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        group_id=group_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        changes=changes,
    )
    record_events(session, [event])
    return event


def record_events(session: Session, events: list[AuditEvent]) -> None:
    """Events written together, the ledger's counter moved once by their number: a list
    of 2,000 items pasted at once is one INSERT and one UPDATE under the write lock, not
    4,000 statements."""
    session.add_all(events)
    session.execute(
        update(Counter).where(Counter.name == "ledger").values(value=Counter.value + len(events))
    )


def ledger_changes(connection: Connection | Session) -> int:
    """How many audited changes the ledger has had (as of the caller's snapshot)."""
    return connection.execute(select(_LEDGER.value).where(_LEDGER.name == "ledger")).scalar_one()


def history(session: Session, entity: str, entity_id: int) -> list[AuditEvent]:
    """An object's events, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        )
    )


def group_history(session: Session, group_id: int) -> list[AuditEvent]:
    """The events recorded under `group_id` (an object's own and its parts'), oldest first."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.group_id == group_id).order_by(AuditEvent.id)
        )
    )


def render_event(event: AuditEvent) -> dict:
    return {
        "id": event.id,
        "at": event.at.isoformat() + "Z",
        "actor": event.actor,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "note": event.note,
        "changes": event.changes,
    }
