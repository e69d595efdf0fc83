"""A shipment's thread: notes between the coordinators of its two sides.

A note written here is sent to the peer of a linked shipment (`Note`, in the note's
transaction); a note heard from the peer, or what the peer told of the shipment
(cancelled, lost, returned), is stored with the peer named and stays unseen until a
coordinator here has read the thread. The same note has the same id on both sides.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from libfed.kernel import clock, editing
from libfed.kernel.callers import Caller

from ..models import Shipment
from ..shipments import get_shipment
from .announce import event_body, wire_time
from .messages import enqueue
from .models import Peer, ShipmentLink, ShipmentNote
from .schemas import NoteIn


def add_note(session: Session, shipment_id: int, body: str, *, actor: Caller) -> ShipmentNote:
    """A note of ours in the thread, sent to the linked shipment's peer if any."""
    values = editing.validated(NoteIn, {"body": body})
    shipment = get_shipment(session, shipment_id, lock=True)
    now = clock.utc_now()
    note = ShipmentNote(
        shipment_id=shipment.id,
        message_id=str(uuid.uuid4()),
        origin="here",
        author=actor.name,
        body=values.body,
        created_at=now,
        seen_at=now,
    )
    session.add(note)
    link = session.get(ShipmentLink, shipment.id)
    peer = session.get(Peer, link.peer_id) if link is not None else None
    if link is not None and peer is not None and peer.removed_at is None:
        told = {
            "note_id": note.message_id,
            "author": note.author,
            "body": note.body,
            "created_at": wire_time(now),
        }
        enqueue(session, peer, "Note", event_body(shipment, link) | told, shipment_id=shipment.id)
    session.flush()
    return note


def store_note(
    session: Session,
    shipment: Shipment,
    peer: Peer,
    *,
    note_id: str,
    author: str,
    body: str,
    created_at: datetime,
) -> None:
    """A note from the peer, unseen; the same note again is not stored twice."""
    if session.scalar(select(ShipmentNote.id).where(ShipmentNote.message_id == note_id)):
        return
    session.add(
        ShipmentNote(
            shipment_id=shipment.id,
            message_id=note_id,
            origin="peer",
            peer_id=peer.id,
            author=author,
            body=body,
            created_at=min(created_at, clock.utc_now()),
        )
    )
    session.flush()


def list_notes(session: Session, shipment_id: int) -> list[ShipmentNote]:
    """The thread, oldest first."""
    get_shipment(session, shipment_id)
    return list(
        session.scalars(
            select(ShipmentNote)
            .where(ShipmentNote.shipment_id == shipment_id)
            .order_by(ShipmentNote.created_at, ShipmentNote.id)
        )
    )


def mark_seen(session: Session, shipment_id: int) -> int:
    """A coordinator here read the thread: the other side's notes are no longer new."""
    result = session.execute(
        update(ShipmentNote)
        .where(ShipmentNote.shipment_id == shipment_id, ShipmentNote.seen_at.is_(None))
        .values(seen_at=clock.utc_now())
    )
    return result.rowcount or 0


def render_note(note: ShipmentNote, peers: dict[int, str]) -> dict:
    """A note as the API and the pages show it; `peers` names peers by id."""
    return {
        "id": note.id,
        "note_id": note.message_id,
        "origin": note.origin,
        "peer": peers.get(note.peer_id) if note.peer_id is not None else None,
        "author": note.author,
        "body": note.body,
        "created_at": wire_time(note.created_at),
        "seen": note.seen_at is not None,
    }


def peer_names(session: Session) -> dict[int, str]:
    return {ident: name for ident, name in session.execute(select(Peer.id, Peer.name))}
