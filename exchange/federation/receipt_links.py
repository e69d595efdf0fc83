"""Receipt links: how a partner without a server confirms that our parcel arrived.

A peer tells us by a signed message; a village school has no server, so its letters
carry a short link (and its QR code) to a page where its librarian says how many copies
of each item arrived. The link names one outgoing shipment and is signed with the
server's secret key: `<public base URL>/r/<shipment id>-<16 base32 letters>`, short
enough to type from paper. The signature covers the shipment id and the day the link
expires (its packing day plus `[federation] receipt_link_days`), so nothing in the
link can be changed, and a link whose day has passed is refused.

The link exists from packing on, because the packing list and the cover letter go into
the parcel when it is packed, before the coordinator marks it dispatched; a partner who
confirms a parcel still marked packed here has it, so the confirmation records the
dispatch too. The link confirms
receipt and can do nothing else: once the shipment is acknowledged, confirming again
changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from libfed.kernel import clock
from libfed.kernel.callers import Caller
from libfed.kernel.config import Config
from libfed.kernel.fields import MAX_INT
from libfed.kernel.services import services

from ..items import record_received
from ..models import Shipment
from ..shipments import transition
from .models import ShipmentNote
from .peers import peer_of_institution

PATH = "/r/"
# 80 bits of HMAC-SHA-256 in lower-case base32 (letters and 2-7: no 0/O or 1/l to mix up).
MAC_CHARS = 16
TOKEN = re.compile(rf"([1-9][0-9]{{0,9}})-([a-z2-7]{{{MAC_CHARS}}})")
# States in which the partner may still confirm; acknowledged is where confirming ends.
CONFIRMABLE = frozenset({"packed", "dispatched", "delivered"})
CONFIRMED = "acknowledged"
# Who the history names for what the page does.
ACTOR = Caller(id=0, name="receipt link", role="coordinator")
NOTE_ORIGIN = "receipt_link"
# Copies the page accepts per item beyond those sent (a partner may find an extra copy).
EXTRA_COPIES = 100


class LinkRefused(Exception):
    """The link is not one we gave out for a shipment that may still be confirmed:
    `status` 404 (unknown, changed, or its shipment past confirming) or 410 (expired)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _mac(secret_key: str, shipment_id: int, expires: date) -> str:
    message = f"libfed receipt link\0{shipment_id}\0{expires.isoformat()}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_CHARS]


def _packed_at(shipment: Shipment) -> datetime | None:
    """When the parcel was packed (dispatched_at for one logged as dispatched at once):
    a moment that never changes afterwards, so a printed link keeps its signature."""
    return shipment.packed_at or shipment.dispatched_at


def expires_on(shipment: Shipment, config: Config) -> date | None:
    """The last day the shipment's link is good for; None before it is packed."""
    packed = _packed_at(shipment)
    if packed is None:
        return None
    return packed.date() + timedelta(days=config.federation.receipt_link_days)


def _by_link(session: Session, shipment: Shipment) -> bool:
    """Whether the partner confirms through a link: an outgoing shipment packed for a
    partner with no server of its own that we accepted as a peer."""
    return (
        shipment.direction == "outgoing"
        and _packed_at(shipment) is not None
        and peer_of_institution(session, shipment.partner_id) is None
    )


def link_for(session: Session, shipment: Shipment) -> str | None:
    """The shipment's receipt link, while its partner may confirm through it; else None."""
    if shipment.status not in CONFIRMABLE or not _by_link(session, shipment):
        return None
    config = services().config
    expires = expires_on(shipment, config)
    assert expires is not None  # packed: _by_link checked it
    if clock.utc_now().date() > expires:
        return None
    token = f"{shipment.id}-{_mac(services().secret_key, shipment.id, expires)}"
    return f"{config.public_base_url}{PATH}{token}"


def shipment_of(session: Session, token: str) -> Shipment:
    """The shipment a link names, if the link is ours, unexpired, and the shipment is
    confirmable or already confirmed; else LinkRefused, which says nothing more."""
    found = TOKEN.fullmatch(token.strip().lower()) if len(token) <= 40 else None
    if found is None or int(found.group(1)) > MAX_INT:
        raise LinkRefused(404)
    shipment = session.get(Shipment, int(found.group(1)))
    if shipment is None or not _by_link(session, shipment):
        raise LinkRefused(404)
    expires = expires_on(shipment, services().config)
    assert expires is not None  # packed: _by_link checked it
    if not hmac.compare_digest(_mac(services().secret_key, shipment.id, expires), found.group(2)):
        raise LinkRefused(404)
    if clock.utc_now().date() > expires:
        raise LinkRefused(410)
    if shipment.status not in CONFIRMABLE and shipment.status != CONFIRMED:
        raise LinkRefused(404)
    return shipment


@dataclass(frozen=True)
class Receipt:
    """What the partner's librarian said: copies arrived per item id, their name, a note."""

    copies: dict[int, int]
    name: str
    note: str | None


def confirm(session: Session, shipment: Shipment, receipt: Receipt) -> bool:
    """The receipt applied in the caller's transaction: received copies, delivered, then
    acknowledged, the librarian named in the history and the note in the shipment's
    thread. False, with nothing changed, if the shipment was already acknowledged."""
    # Locked and read again: a second confirmation waiting here sees the first's result.
    session.refresh(shipment, with_for_update=True)
    if shipment.status == CONFIRMED:
        return False
    record_received(session, shipment, receipt.copies, actor=ACTOR)
    if shipment.status == "packed":
        transition(session, shipment.id, {"to": "dispatched"}, actor=ACTOR, expected_version=None)
    if shipment.status == "dispatched":
        transition(session, shipment.id, {"to": "delivered"}, actor=ACTOR, expected_version=None)
    transition(
        session,
        shipment.id,
        {"to": CONFIRMED, "note": receipt.name},
        actor=ACTOR,
        expected_version=None,
    )
    if receipt.note:
        session.add(
            ShipmentNote(
                shipment_id=shipment.id,
                message_id=str(uuid.uuid4()),
                origin=NOTE_ORIGIN,
                peer_id=None,
                author=receipt.name,
                body=receipt.note,
                created_at=clock.utc_now(),
            )
        )
    return True
