"""Shipments that wait for a coordinator: what the dashboard lists first.

Each kind of wait is dated by the moment its shipments reached the state they wait in
(the `<state>_at` the ledger keeps, backdated as the coordinator recorded it), not by
when the row was entered: a shipment entered today but dispatched in June has waited
since June. Only the initial states, which have no column of their own, are dated by
their creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, func, select

from .models import Shipment
from .states import TIMED_STATES

# A parcel not delivered a month after dispatch is worth a look (and a tracking query).
OVERDUE_AFTER = timedelta(days=30)
# A partner that has not acknowledged a month after delivery is worth a reminder: the
# acknowledgement is what proves the parcel reached the right hands.
ACKNOWLEDGEMENT_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class Waiting:
    """One kind of wait: its code, the state its shipments are in, the column that
    dates the wait, how many shipments, and the oldest of them."""

    kind: str
    status: str
    since: str
    count: int
    oldest: list


def _since(status: str) -> str:
    """The column holding when a shipment reached `status`."""
    return f"{status}_at" if status in TIMED_STATES else "created_at"


def _conditions(now: datetime) -> dict[str, tuple[str, ColumnElement[bool]]]:
    """Kind -> (the state waited in, which shipments wait), in the dashboard's order."""
    outgoing = Shipment.direction == "outgoing"
    return {
        "draft": ("draft", and_(outgoing, Shipment.status == "draft")),
        "packed": ("packed", and_(outgoing, Shipment.status == "packed")),
        "overdue": (
            "dispatched",
            and_(
                outgoing,
                Shipment.status == "dispatched",
                Shipment.dispatched_at < now - OVERDUE_AFTER,
            ),
        ),
        "unacknowledged": (
            "delivered",
            and_(
                outgoing,
                Shipment.status == "delivered",
                Shipment.delivered_at < now - ACKNOWLEDGEMENT_AFTER,
            ),
        ),
        "expected": (
            "expected",
            and_(Shipment.direction == "incoming", Shipment.status == "expected"),
        ),
    }


def waiting(connection: Connection, now: datetime, shown: int = 10) -> list[Waiting]:
    """Each kind of wait with its `shown` oldest shipments (the longest waits first)."""
    table = Shipment.__table__
    found = []
    for kind, (status, condition) in _conditions(now).items():
        count = connection.scalar(select(func.count()).select_from(table).where(condition)) or 0
        since = _since(status)
        oldest = (
            connection.execute(
                select(table).where(condition).order_by(table.c[since], Shipment.id).limit(shown)
            ).all()
            if count
            else []
        )
        found.append(Waiting(kind, status, since, count, oldest))
    return found
