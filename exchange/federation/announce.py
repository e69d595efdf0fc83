"""Telling a peer what became of a shipment it shares with us.

Called by every transition (exchange.shipments.transition), in its transaction: the
API, the pages and any script announce alike, and a change and its message are stored
together or not at all (the outbox). Which moves are told, and by which message:

- our outgoing shipment to a partner with an active peer is dispatched: `Shipped`,
  with its items, and the shipment is linked (its twin's id comes with the peer's
  first message about it);
- our linked outgoing shipment is lost or returned: `Lost`, `Returned`;
- our linked incoming shipment is received, accessioned or cancelled: `Received`,
  `Accessioned` (each with the copies received), `Cancelled`.

A claim a peer made on our offer list is an item of a draft outgoing shipment to it; when
that shipment is cancelled before dispatch, or the claimed item removed from it, the claim
is released (the record is offered again) and the claimant told: `ClaimReleased`.

A move applied because the peer told us of it is not told back to that peer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.kernel.callers import Caller

from ..models import Shipment, ShipmentItem
from .claims import TAKEN
from .messages import enqueue
from .models import OfferClaim, Peer, ShipmentLink
from .peers import peer_caller, peer_of_institution

# What a Shipped message tells of each item: the fields the API shows of it, as it shows
# them, less what is ours alone (versions, notes, our record, times).
SHIPPED_ITEM_FIELDS = (
    "id",
    "title",
    "author",
    "isbn",
    "issn",
    "year",
    "language",
    "copies",
    "unit_value",
    "currency",
)

# (direction, the state reached) -> the message that tells the peer.
TOLD = {
    ("outgoing", "lost"): "Lost",
    ("outgoing", "returned"): "Returned",
    ("incoming", "received"): "Received",
    ("incoming", "accessioned"): "Accessioned",
    ("incoming", "cancelled"): "Cancelled",
}


def wire_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def event_body(shipment: Shipment, link: ShipmentLink) -> dict:
    """What every message about a shipment starts with: its id here and, once known,
    its twin's id at the peer."""
    body: dict = {"shipment": shipment.id}
    if link.remote_id is not None:
        body["your_shipment"] = link.remote_id
    return body


def _items(session: Session, shipment_id: int) -> list[ShipmentItem]:
    return list(
        session.scalars(
            select(ShipmentItem)
            .where(ShipmentItem.shipment_id == shipment_id)
            .order_by(ShipmentItem.id)
        )
    )


def _shipped(session: Session, shipment: Shipment) -> dict:
    # Imported here: the items' module needs the shipments', which announces through this one.
    from ..items import render_item

    weight = None if shipment.weight_grams is None else f"{shipment.weight_grams / 1000:.3f}"
    items = [
        {field: shown[field] for field in SHIPPED_ITEM_FIELDS}
        for shown in (
            render_item(item) for item in _items(session, shipment.id) if not item.removed
        )
    ]
    return {
        "shipment": shipment.id,
        "reference": shipment.reference,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "parcels": shipment.parcels,
        "weight_kg": weight,
        "dispatched_at": wire_time(shipment.dispatched_at),
        "notes": shipment.notes,
        "items": items,
    }


def _receipt(session: Session, shipment: Shipment) -> list[dict]:
    """The copies that arrived of each of the peer's items (none of a withdrawn line)."""
    return [
        {
            "id": item.remote_id,
            "received_copies": 0
            if item.removed
            else (item.copies if item.received_copies is None else item.received_copies),
        }
        for item in _items(session, shipment.id)
        if item.remote_id is not None
    ]


def _told(session: Session, shipment: Shipment, kind: str, note: str | None) -> dict:
    if kind in ("Received", "Accessioned"):
        body = {
            "received_at": wire_time(shipment.received_at),
            "items": _receipt(session, shipment),
        }
        if kind == "Accessioned":
            body["accessioned_at"] = wire_time(shipment.accessioned_at)
        return body
    at = getattr(shipment, f"{shipment.status}_at")
    return {"at": wire_time(at), "reason": note}


def _release_claims(
    session: Session,
    shipment: Shipment,
    reason: str,
    *,
    actor: Caller,
    record_identifier: str | None = None,
) -> None:
    """Let go of the claims taken onto the shipment (of one record, or all), and tell
    each claimant: the records return to every peer's offer list with this transaction."""
    taken = select(OfferClaim).where(TAKEN, OfferClaim.shipment_id == shipment.id)
    if record_identifier is not None:
        taken = taken.where(OfferClaim.record_identifier == record_identifier)
    for claim in session.scalars(taken.order_by(OfferClaim.id)).all():
        claim.status = "released"
        claim.reason = reason
        peer = session.get(Peer, claim.peer_id)
        if peer is None or peer.removed_at is not None or actor == peer_caller(peer):
            continue
        body = {
            "claim_message_id": claim.message_id,
            "record_identifier": claim.record_identifier,
            "reason": reason,
        }
        enqueue(session, peer, "ClaimReleased", body)


def announce_removal(
    session: Session, shipment: Shipment, item: ShipmentItem, *, actor: Caller
) -> None:
    """An item withdrawn from an outgoing shipment before dispatch: the claim it came from
    is released, unless another live line of the shipment still holds that record."""
    if shipment.direction != "outgoing" or item.record_identifier is None:
        return
    still_held = session.scalar(
        select(ShipmentItem.id).where(
            ShipmentItem.shipment_id == shipment.id,
            ShipmentItem.record_identifier == item.record_identifier,
            ShipmentItem.removed.is_(False),
        )
    )
    if still_held is None:
        _release_claims(
            session, shipment, "removed", actor=actor, record_identifier=item.record_identifier
        )


def announce_transition(
    session: Session, shipment: Shipment, *, actor: Caller, note: str | None
) -> None:
    """Write the message that tells the shipment's peer of its new state, if any."""
    if shipment.direction == "outgoing" and shipment.status == "cancelled":
        _release_claims(session, shipment, "cancelled", actor=actor)
    link = session.get(ShipmentLink, shipment.id)
    if link is None:
        if shipment.direction == "outgoing" and shipment.status == "dispatched":
            peer = peer_of_institution(session, shipment.partner_id)
            if peer is not None:
                session.add(ShipmentLink(shipment_id=shipment.id, peer_id=peer.id))
                enqueue(
                    session, peer, "Shipped", _shipped(session, shipment), shipment_id=shipment.id
                )
        return
    kind = TOLD.get((shipment.direction, shipment.status))
    peer = session.get(Peer, link.peer_id)
    if kind is None or peer is None or peer.removed_at is not None or actor == peer_caller(peer):
        return
    body = event_body(shipment, link) | _told(session, shipment, kind, note)
    enqueue(session, peer, kind, body, shipment_id=shipment.id)
