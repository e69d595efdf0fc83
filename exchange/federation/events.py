"""The shipment events a peer sends, applied here (the other half of .announce).

Every change goes through the exchange's own services (shipments.transition, the
items' functions) as the peer's coordinator (`peer:<name>` in history), so what a peer
tells is checked and audited as a change made here, and is not told back to it. A
message may touch only a shipment linked to the peer that sent it, whose partner is
that peer's institution (NotYourShipment otherwise). Forward only: a state the
shipment has passed changes nothing, so messages may come twice or out of order.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from flask_babel import force_locale
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.kernel import clock
from libfed.kernel.audit import record_event
from libfed.kernel.callers import Caller
from libfed.kernel.services import services

from ..items import add_copied_items, record_received
from ..models import Shipment
from ..shipments import create_shipment, get_shipment, transition
from .messages import Refused, handles
from .models import InboxMessage, OutboxMessage, Peer, ShipmentLink
from .notes import store_note
from .peers import peer_caller
from .schemas import (
    Accessioned,
    NoteSent,
    Received,
    ShipmentEvent,
    Shipped,
    Told,
    problems,
)

M = TypeVar("M", bound=BaseModel)


def read_body(model: type[M], body: dict) -> M:
    """The body as `model`, or a BadRequest naming the first problems (never the values)."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise Refused(
            "BadRequest", f"not a {model.__name__} body: {problems(error, 'body')}"[:1000], 400
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


def _outgoing(session: Session, peer: Peer, event: ShipmentEvent, *states: str) -> Shipment:
    """Our outgoing shipment the event is about, in one of `states` (Conflict otherwise:
    a receipt of a shipment we never dispatched, or called lost, is not taken)."""
    shipment = shipment_of(session, peer, event)
    if shipment.direction != "outgoing":
        raise _not_yours(shipment.id)
    if shipment.status not in states:
        raise Refused("Conflict", f"shipment {shipment.id} is {shipment.status} here", 409)
    return shipment


def _move(session: Session, shipment: Shipment, to: str, at: datetime, actor: Caller) -> None:
    """The shipment moved as the peer says, at the peer's time, kept between the state
    it leaves and now (two servers' clocks differ)."""
    since = getattr(shipment, f"{shipment.status}_at", None) or shipment.created_at
    at = min(max(at, since), clock.utc_now())
    transition(
        session,
        shipment.id,
        {"to": to, "at": at.isoformat() + "Z"},
        actor=actor,
        expected_version=None,
    )


_RECEIPT_STATES = ("dispatched", "delivered", "acknowledged")


def _take_receipt(session: Session, peer: Peer, told: Received) -> Shipment:
    """The copies the peer received, beside those sent; a dispatched shipment is
    delivered at the peer's moment of receipt."""
    shipment = _outgoing(session, peer, told, *_RECEIPT_STATES)
    actor = peer_caller(peer)
    record_received(
        session, shipment, {item.id: item.received_copies for item in told.items}, actor=actor
    )
    if shipment.status == "dispatched":
        _move(session, shipment, "delivered", told.received_at, actor)
    return shipment


@handles("Received")
def received(session: Session, peer: Peer, body: dict) -> int:
    return _take_receipt(session, peer, read_body(Received, body)).id


@handles("Accessioned")
def accessioned(session: Session, peer: Peer, body: dict) -> int:
    """Acknowledged, by way of delivered when the Received is lost or still coming."""
    told = read_body(Accessioned, body)
    shipment = _take_receipt(session, peer, told)
    if shipment.status == "delivered":
        _move(session, shipment, "acknowledged", told.accessioned_at, peer_caller(peer))
    return shipment.id


def _told_here(session: Session, shipment: Shipment, peer: Peer, sentence: str, told: Told) -> str:
    """What the peer told, in this server's language, with its coordinator's words,
    written to the shipment's thread and to its history; returns the text."""
    text = sentence if not told.reason else f"{sentence}\n{told.reason}"
    store_note(
        session,
        shipment,
        peer,
        note_id=str(uuid.uuid4()),
        author=f"peer:{peer.name}",
        body=text,
        created_at=told.at,
    )
    return text


def _server_language() -> AbstractContextManager:
    """What a peer tells is written once, in this server's language, as a letter is."""
    return force_locale(services().config.web.default_language)


@handles("Cancelled")
def cancelled(session: Session, peer: Peer, body: dict) -> int:
    """The peer no longer expects our shipment: our side cannot undo a dispatch, so it
    is told (thread and history) for the coordinators to settle."""
    told = read_body(Told, body)
    shipment = shipment_of(session, peer, told)
    if shipment.direction != "outgoing":
        raise _not_yours(shipment.id)
    with _server_language():
        sentence = _("%(peer)s cancelled the shipment it expected.", peer=peer.name)
    _told_in_history(session, shipment, peer, _told_here(session, shipment, peer, sentence, told))
    return shipment.id


def _told_in_history(session: Session, shipment: Shipment, peer: Peer, text: str) -> None:
    """What the peer told, in the shipment's history where no move of ours records it
    (the coordinators settle it by hand)."""
    record_event(
        session,
        at=clock.utc_now(),
        actor=peer_caller(peer).name,
        entity="shipment",
        entity_id=shipment.id,
        group_id=shipment.id,
        action="told",
        note=text,
        changes={},
    )


def _gone(session: Session, peer: Peer, body: dict, sentence: str) -> int:
    """Our expected shipment from the peer will not come: cancelled, saying why."""
    told = read_body(Told, body)
    shipment = shipment_of(session, peer, told)
    if shipment.direction != "incoming":
        raise _not_yours(shipment.id)
    text = _told_here(session, shipment, peer, sentence, told)
    actor = peer_caller(peer)
    if shipment.status == "expected":
        transition(
            session,
            shipment.id,
            {"to": "cancelled", "note": text},
            actor=actor,
            expected_version=None,
        )
    else:  # received after all: the coordinators settle it; history keeps what was said
        _told_in_history(session, shipment, peer, text)
    return shipment.id


@handles("Lost")
def lost(session: Session, peer: Peer, body: dict) -> int:
    with _server_language():
        sentence = _("%(peer)s reports the shipment lost.", peer=peer.name)
    return _gone(session, peer, body, sentence)


@handles("Returned")
def returned(session: Session, peer: Peer, body: dict) -> int:
    with _server_language():
        sentence = _("%(peer)s reports the shipment returned to it.", peer=peer.name)
    return _gone(session, peer, body, sentence)


@handles("Note")
def note(session: Session, peer: Peer, body: dict) -> int:
    told = read_body(NoteSent, body)
    shipment = shipment_of(session, peer, told)
    store_note(
        session,
        shipment,
        peer,
        note_id=told.note_id,
        author=told.author,
        body=told.body,
        created_at=told.created_at,
    )
    return shipment.id


# ------------------------------------------------------------------ the twin, as seen here

# Our direction -> the twin's states in the order it passes them, each with the message
# that says it and whether we heard it ("in") or the peer confirmed ours ("out").
_TWIN_STATES = {
    "outgoing": (
        ("Shipped", "out", "expected"),
        ("Received", "in", "received"),
        ("Accessioned", "in", "accessioned"),
        ("Cancelled", "in", "cancelled"),
    ),
    "incoming": (
        ("Shipped", "in", "dispatched"),
        ("Received", "out", "delivered"),
        ("Accessioned", "out", "acknowledged"),
        ("Lost", "in", "lost"),
        ("Returned", "in", "returned"),
    ),
}


@dataclass(frozen=True)
class Twin:
    """Our shipment's twin at a peer: whose, its id there (once known) and its state as
    far as the messages exchanged tell (None: the peer has not yet heard of it)."""

    peer: str
    remote_id: int | None
    state: str | None


def twin_of(session: Session, shipment: Shipment) -> Twin | None:
    link = session.get(ShipmentLink, shipment.id)
    if link is None:
        return None
    peer = session.get(Peer, link.peer_id)
    heard = set(
        session.scalars(select(InboxMessage.kind).where(InboxMessage.shipment_id == shipment.id))
    )
    confirmed = set(
        session.scalars(
            select(OutboxMessage.kind).where(
                OutboxMessage.shipment_id == shipment.id, OutboxMessage.delivered_at.is_not(None)
            )
        )
    )
    state = None
    for kind, way, reached in _TWIN_STATES[shipment.direction]:
        if kind in (heard if way == "in" else confirmed):
            state = reached
    return Twin(peer.name if peer else "", link.remote_id, state)
