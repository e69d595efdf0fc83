"""The shipment events a peer sends, applied here (the other half of .announce).

Every change goes through the exchange's own services (shipments.transition, the
items' functions) as the peer's coordinator (`peer:<name>` in history), so what a peer
tells is checked and audited as a change made here, and is not told back to it. A
message may touch only a shipment linked to the peer that sent it, whose partner is
that peer's institution (NotYourShipment otherwise). Forward only: a state the
shipment has passed changes nothing, so messages may come twice or out of order.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.kernel.services import services

from ..items import add_copied_items
from ..models import Shipment
from ..shipments import create_shipment, get_shipment
from .announce import peer_caller
from .messages import Refused, handles
from .models import Peer, ShipmentLink
from .schemas import ShipmentEvent, Shipped

M = TypeVar("M", bound=BaseModel)


def read_body(model: type[M], body: dict) -> M:
    """The body as `model`, or a BadRequest naming the first problems (never the values)."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_input=False)[:5]
        )
        raise Refused(
            "BadRequest", f"not a {model.__name__} body: {problems}"[:1000], 400
        ) from None


def _not_yours(shipment: int) -> Refused:
    return Refused(
        "NotYourShipment", f"shipment {shipment} is not one this server shares with you", 403
    )


def _link_of(session: Session, peer: Peer, remote_id: int) -> ShipmentLink | None:
    return session.scalar(
        select(ShipmentLink).where(
            ShipmentLink.peer_id == peer.id, ShipmentLink.remote_id == remote_id
        )
    )


def shipment_of(session: Session, peer: Peer, event: ShipmentEvent) -> Shipment:
    """Our shipment the event is about, locked: the one linked to the sender's shipment,
    or the one it names as ours (then learning the sender's id of its twin)."""
    link = _link_of(session, peer, event.shipment)
    if link is None and event.your_shipment is not None:
        link = session.get(ShipmentLink, event.your_shipment)
        if link is None or link.peer_id != peer.id or link.remote_id not in (None, event.shipment):
            raise _not_yours(event.your_shipment)
        link.remote_id = event.shipment
    if link is None:
        raise _not_yours(event.your_shipment or event.shipment)
    shipment = get_shipment(session, link.shipment_id, lock=True)
    if shipment.partner_id != peer.institution_id:
        raise _not_yours(shipment.id)
    return shipment


@handles("Shipped")
def shipped(session: Session, peer: Peer, body: dict) -> int:
    """The peer dispatched a shipment to us: we expect it, with its items, linked."""
    told = read_body(Shipped, body)
    link = _link_of(session, peer, told.shipment)
    if link is not None:
        return link.shipment_id
    actor = peer_caller(peer)
    details = told.model_dump(
        include={"reference", "carrier", "tracking_number", "parcels", "weight_kg", "notes"},
        exclude_none=True,
    )
    shipment = create_shipment(
        session,
        {"direction": "incoming", "partner_id": peer.institution_id, **details},
        actor=actor,
        home_country=services().home_country,
    )
    session.add(ShipmentLink(shipment_id=shipment.id, peer_id=peer.id, remote_id=told.shipment))
    add_copied_items(
        session,
        shipment.id,
        [(item.id, item.model_dump(exclude={"id"}, exclude_none=True)) for item in told.items],
        actor=actor,
    )
    return shipment.id
