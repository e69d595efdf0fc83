"""Shipments that wait for a coordinator: what the dashboard lists first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, func, select

from .models import Shipment

# A parcel not delivered a month after dispatch is worth a look (and a tracking query).
OVERDUE_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class Waiting:
    """One kind of wait: its code, how many shipments, and the oldest of them."""

    kind: str
    count: int
    oldest: list


def _conditions(now: datetime) -> dict[str, ColumnElement[bool]]:
    outgoing = Shipment.direction == "outgoing"
    return {
        "draft": and_(outgoing, Shipment.status == "draft"),
        "packed": and_(outgoing, Shipment.status == "packed"),
        "overdue": and_(
            outgoing, Shipment.status == "dispatched", Shipment.dispatched_at < now - OVERDUE_AFTER
        ),
        "expected": and_(Shipment.direction == "incoming", Shipment.status == "expected"),
    }


def waiting(connection: Connection, now: datetime, shown: int = 10) -> list[Waiting]:
    """Each kind of wait with its `shown` oldest shipments (the longest waits first)."""
    table = Shipment.__table__
    found = []
    for kind, condition in _conditions(now).items():
        count = connection.scalar(select(func.count()).select_from(table).where(condition)) or 0
        since = Shipment.dispatched_at if kind == "overdue" else Shipment.created_at
        oldest = (
            connection.execute(
                select(table).where(condition).order_by(since, Shipment.id).limit(shown)
            ).all()
            if count
            else []
        )
        found.append(Waiting(kind, count, oldest))
    return found
