"""The audit trail: every create, change and transition of a ledger object, append-only.

Values are recorded as the API shows them (money as "12.50", dates as text), so
that replaying a history's `changes` rebuilds the object exactly as it is served.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent


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
    shipment_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at,
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        shipment_id=shipment_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        changes=changes,
    )
    session.add(event)
    return event


def history(session: Session, entity: str, entity_id: int) -> list[AuditEvent]:
    """An object's events, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        )
    )


def shipment_history(session: Session, shipment_id: int) -> list[AuditEvent]:
    """A shipment's own events and its items', oldest first."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.shipment_id == shipment_id).order_by(AuditEvent.id)
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
