"""What waits for a coordinator: the dashboard's work lists and the reminders.

Each kind of wait is dated by the moment its shipments reached the state they wait in
(the `<state>_at` the ledger keeps, backdated as the coordinator recorded it), not by
when the row was entered: a shipment entered today but dispatched in June has waited
since June. Only the initial states, which have no column of their own, are dated by
their creation.

Reminders are what has gone on too long: a parcel sent and not acknowledged after the
configured days, an expected parcel past the day it was expected by, an agreement's
quota of copies near or over. `reminders` is their one source: the dashboard shows them
and the weekly digest mails them, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from libfed.kernel.config import Config, ExchangeConfig

from .agreements import usage
from .models import Agreement, Shipment
from .states import TIMED_STATES


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


# Kind -> (the state waited in, which shipments wait), in the dashboard's order.
_WORK: dict[str, tuple[str, ColumnElement[bool]]] = {
    "draft": ("draft", and_(Shipment.direction == "outgoing", Shipment.status == "draft")),
    "packed": ("packed", and_(Shipment.direction == "outgoing", Shipment.status == "packed")),
    "expected": (
        "expected",
        and_(Shipment.direction == "incoming", Shipment.status == "expected"),
    ),
}


def waiting(connection: Connection, now: datetime, shown: int = 10) -> list[Waiting]:
    """Each kind of work with its `shown` oldest shipments (the longest waits first)."""
    table = Shipment.__table__
    found = []
    for kind, (status, condition) in _WORK.items():
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


# The kinds of reminder, in the order the dashboard and the digest give them.
UNACKNOWLEDGED = "unacknowledged"  # sent (dispatched or delivered), not acknowledged
LATE = "late"  # expected, and past the day it was expected by
QUOTA_NEAR = "quota-near"  # an agreement's copies this year at the warning percent or more
QUOTA_OVER = "quota-over"  # more copies sent this year than the agreement's quota
KINDS = (UNACKNOWLEDGED, LATE, QUOTA_NEAR, QUOTA_OVER)


@dataclass(frozen=True)
class Reminder:
    """One thing gone on too long. A shipment's reminder names the shipment (its state,
    reference), `since`, the day the wait began (its dispatch, the day it was expected
    by), and `days`, how long it has waited since; an agreement's names the agreement, its
    quota, the copies `used` this year and the `percent` of the quota they are."""

    kind: str
    partner_id: int
    days: int | None = None
    since: date | None = None
    shipment_id: int | None = None
    status: str | None = None
    reference: str | None = None
    delivered: date | None = None
    agreement_id: int | None = None
    quota: int | None = None
    used: int | None = None
    percent: int | None = None


@dataclass(frozen=True)
class Reminders:
    """The reminders of one kind: how many there are, and the first `shown` of them."""

    kind: str
    count: int
    items: list[Reminder] = field(default_factory=list)


def _day(moment: datetime | None) -> date | None:
    return None if moment is None else moment.date()


def _counted(session: Session, statement: Select, shown: int) -> tuple[int, list[Row]]:
    """How many rows `statement` finds, and its first `shown`: a ledger of years may hold
    hundreds of forgotten parcels, and a page or a mail names the oldest ones."""
    counted = statement.order_by(None).subquery()
    count = session.scalar(select(func.count()).select_from(counted)) or 0
    return count, list(session.execute(statement.limit(shown)).all()) if count else []


def _unacknowledged(
    session: Session, now: datetime, settings: ExchangeConfig, shown: int
) -> Reminders:
    """Outgoing shipments dispatched `acknowledgement_days` ago or more and still not
    acknowledged (delivered or not: a partner that never confirms is worth a letter either
    way), the longest waits first."""
    count, rows = _counted(
        session,
        select(
            Shipment.id,
            Shipment.partner_id,
            Shipment.status,
            Shipment.reference,
            Shipment.dispatched_at,
            Shipment.delivered_at,
        )
        .where(
            Shipment.direction == "outgoing",
            Shipment.status.in_(("dispatched", "delivered")),
            Shipment.dispatched_at <= now - timedelta(days=settings.acknowledgement_days),
        )
        .order_by(Shipment.dispatched_at, Shipment.id),
        shown,
    )
    items = [
        Reminder(
            UNACKNOWLEDGED,
            partner_id,
            (now - dispatched).days,
            since=dispatched.date(),
            shipment_id=ident,
            status=status,
            reference=reference,
            delivered=_day(delivered),
        )
        for ident, partner_id, status, reference, dispatched, delivered in rows
    ]
    return Reminders(UNACKNOWLEDGED, count, items)


def _late(session: Session, today: date, shown: int) -> Reminders:
    """Incoming shipments still expected after the day they were expected by."""
    count, rows = _counted(
        session,
        select(Shipment.id, Shipment.partner_id, Shipment.reference, Shipment.expected_by)
        .where(
            Shipment.direction == "incoming",
            Shipment.status == "expected",
            Shipment.expected_by < today,
        )
        .order_by(Shipment.expected_by, Shipment.id),
        shown,
    )
    items = [
        Reminder(
            LATE,
            partner_id,
            (today - expected_by).days,
            since=expected_by,
            shipment_id=ident,
            status="expected",
            reference=reference,
        )
        for ident, partner_id, reference, expected_by in rows
    ]
    return Reminders(LATE, count, items)


def _quotas(session: Session, today: date, settings: ExchangeConfig) -> list[Reminder]:
    """Agreements in force with a yearly quota whose copies sent this year reach the
    warning percent, as the agreements' own usage counts them (`usage`, this year only:
    a ledger of many years is not summed for a number of one)."""
    agreements = session.execute(
        select(Agreement.id, Agreement.partner_id, Agreement.annual_quota).where(
            Agreement.annual_quota > 0,
            Agreement.start_date <= today,
            or_(Agreement.end_date.is_(None), Agreement.end_date >= today),
        )
    ).all()
    used_in = usage(session, [ident for ident, _partner, _quota in agreements], today.year)
    found = []
    for ident, partner_id, quota in agreements:
        used = used_in[ident]["copies_by_year"].get(str(today.year), {}).get("sent", 0)
        percent = used * 100 // quota
        if percent >= settings.quota_warning_percent:
            found.append(
                Reminder(
                    QUOTA_OVER if used > quota else QUOTA_NEAR,
                    partner_id,
                    agreement_id=ident,
                    quota=quota,
                    used=used,
                    percent=percent,
                )
            )
    return sorted(found, key=lambda r: (-(r.percent or 0), r.agreement_id or 0))


def reminders(session: Session, now: datetime, config: Config, shown: int = 10) -> list[Reminders]:
    """Every kind of reminder, each with how many and its first `shown` (the longest
    waits, the fullest quotas first). `now` is UTC as the ledger stores it; the day an
    expected shipment is late from, and the year of a quota, are the library's own
    (its configured zone)."""
    settings = config.exchange
    today = now.replace(tzinfo=UTC).astimezone(ZoneInfo(config.web.timezone)).date()
    quotas = _quotas(session, today, settings)
    near = [r for r in quotas if r.kind == QUOTA_NEAR]
    over = [r for r in quotas if r.kind == QUOTA_OVER]
    return [
        _unacknowledged(session, now, settings, shown),
        _late(session, today, shown),
        Reminders(QUOTA_NEAR, len(near), near[:shown]),
        Reminders(QUOTA_OVER, len(over), over[:shown]),
    ]
