"""What the outbox and the inbox say about peers, for people: each peer with what waits
for it, a peer's messages page by page, the messages that keep failing grouped by peer,
and the last changes peers made here.

Read-only, and cheap: each is one or two queries along the tables' indexes, because the
dashboard asks on every visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.kernel.paging import PageQuery, paginate

from ..models import Shipment
from .delivery import failing, is_failing
from .models import InboxMessage, OutboxMessage, Peer
from .peers import fingerprint_of

# The changes the dashboard lists: enough to see what happened since yesterday.
RECENT_CHANGES = 10


@dataclass(frozen=True)
class PeerFigures:
    """A peer, the partner it speaks for, and how delivery to it goes."""

    peer: Peer
    partner: Institution
    undelivered: int
    failing: int
    last_delivered_at: datetime | None

    def render(self) -> dict:
        """As /api/v1/peers answers it."""
        peer = self.peer
        return {
            "id": peer.id,
            "name": peer.name,
            "partner": {"id": self.partner.id, "name": self.partner.name},
            "base_url": peer.base_url,
            "fingerprint": fingerprint_of(peer),
            "protocol_version": peer.protocol_version,
            "undelivered": self.undelivered,
            "failing": self.failing,
            "last_delivered_at": _iso(self.last_delivered_at),
        }


def peer_figures(
    session: Session, after_attempts: int, peer_id: int | None = None
) -> list[PeerFigures]:
    """The active peers by name (or the one `peer_id`, removed or not), each with its
    counts of undelivered and failing messages and its last delivery."""
    counts = (
        select(
            OutboxMessage.peer_id,
            func.sum(case((OutboxMessage.delivered_at.is_(None), 1), else_=0)).label("waiting"),
            func.sum(case((is_failing(after_attempts), 1), else_=0)).label("failing"),
            func.max(OutboxMessage.delivered_at).label("last"),
        )
        .group_by(OutboxMessage.peer_id)
        .subquery()
    )
    statement = (
        select(Peer, Institution, counts.c.waiting, counts.c.failing, counts.c.last)
        .join(Institution, Institution.id == Peer.institution_id)
        .outerjoin(counts, counts.c.peer_id == Peer.id)
        .order_by(Peer.name)
    )
    if peer_id is None:
        statement = statement.where(Peer.removed_at.is_(None))
    else:
        statement = statement.where(Peer.id == peer_id)
    return [
        PeerFigures(peer, partner, int(waiting or 0), int(failed or 0), last)
        for peer, partner, waiting, failed, last in session.execute(statement)
    ]


@dataclass(frozen=True)
class Sent:
    """One message of a peer's outbox, with the shipment here it is about."""

    message: OutboxMessage
    shipment: Shipment | None

    @property
    def state(self) -> str:
        """'delivered', 'refused', 'failing' (tried and not yet confirmed) or 'waiting'."""
        message = self.message
        if message.delivered_at is not None:
            return "delivered"
        if message.refused_code is not None:
            return "refused"
        return "failing" if message.attempts else "waiting"

    def render(self) -> dict:
        message = self.message
        return {
            "id": message.id,
            "message_id": message.message_id,
            "type": message.kind,
            "shipment_id": message.shipment_id,
            "state": self.state,
            "created_at": _iso(message.created_at),
            "attempts": message.attempts,
            "next_attempt_at": None if message.delivered_at else _iso(message.next_attempt_at),
            "delivered_at": _iso(message.delivered_at),
            "refused_code": message.refused_code,
            "last_error": message.last_error,
        }


def peer_messages(session: Session, peer_id: int, query: PageQuery) -> tuple[list[Sent], int]:
    """A peer's outbox, newest first, one page, and how many messages it holds in all."""
    rows, total = paginate(
        session,
        select(OutboxMessage)
        .where(OutboxMessage.peer_id == peer_id)
        .order_by(OutboxMessage.id.desc()),
        query,
    )
    shipments = _shipments(session, {row.shipment_id for row in rows})
    return [Sent(row, shipments.get(row.shipment_id)) for row in rows], total


@dataclass(frozen=True)
class Failing:
    """The messages to one peer that keep failing, and the latest reason."""

    peer: Peer
    count: int
    reason: str


def failing_by_peer(session: Session, after_attempts: int) -> list[Failing]:
    """delivery.failing(), one line per peer, by the peer's name."""
    grouped: dict[int, list[OutboxMessage]] = {}
    for message in failing(session, after_attempts):
        grouped.setdefault(message.peer_id, []).append(message)
    if not grouped:
        return []
    peers = {peer.id: peer for peer in session.scalars(select(Peer).where(Peer.id.in_(grouped)))}
    return sorted(
        (
            Failing(peers[peer_id], len(messages), messages[-1].last_error or "")
            for peer_id, messages in grouped.items()
        ),
        key=lambda failing: failing.peer.name,
    )


@dataclass(frozen=True)
class Change:
    """A message a peer sent and we applied: who, what, when and to which shipment."""

    kind: str
    received_at: datetime
    peer: Peer
    partner: Institution
    shipment: Shipment | None


def recent_changes(session: Session, limit: int = RECENT_CHANGES) -> list[Change]:
    """The last messages peers sent, newest first (along ix_federation_inbox_received)."""
    rows = session.execute(
        select(InboxMessage.kind, InboxMessage.received_at, InboxMessage.shipment_id, Peer)
        .join(Peer, Peer.id == InboxMessage.peer_id)
        .order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
        .limit(limit)
    ).all()
    if not rows:
        return []
    shipments = _shipments(session, {row.shipment_id for row in rows})
    partners = {
        partner.id: partner
        for partner in session.scalars(
            select(Institution).where(Institution.id.in_({row.Peer.institution_id for row in rows}))
        )
    }
    return [
        Change(
            row.kind,
            row.received_at,
            row.Peer,
            partners[row.Peer.institution_id],
            shipments.get(row.shipment_id),
        )
        for row in rows
    ]


def _shipments(session: Session, ids: set[int | None]) -> dict[int, Shipment]:
    wanted = {ident for ident in ids if ident is not None}
    if not wanted:
        return {}
    return {s.id: s for s in session.scalars(select(Shipment).where(Shipment.id.in_(wanted)))}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"
