"""The federation's tables: peers, the outbox and inbox of signed messages, the link
between a shipment here and its twin at a peer, the notes of a shipment's thread, the
claims on offer lists and the nonces of requests heard.

Nothing a peer sent is kept unless it was checked; the inbox keeps what was applied,
so that the same message twice is recognised and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from libfed.kernel.db import Base
from libfed.kernel.models import Versioned
from libfed.records.models import IDENTIFIER_LENGTH

# A message id: a UUID in its 36-character text form (what ISO 18626 calls a unique id).
MESSAGE_ID_LENGTH = 64


class Peer(Versioned, Base):
    """A partner's server whose node document an administrator accepted.

    Removing a peer keeps its row (`removed_at`): the shipments linked to it and the
    messages exchanged stay readable; adding it again brings the row back.
    """

    __tablename__ = "peers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    inbox_url: Mapped[str] = mapped_column(String(500))
    # The key's id (its SHA-256, base64url) by which its signatures name it, and the raw
    # Ed25519 public key (base64).
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[str] = mapped_column(String(16))
    # The node document as fetched and checked, for what the pages show of the peer.
    document: Mapped[dict] = mapped_column(JSON)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)


class OutboxMessage(Base):
    """A message to a peer, written in the transaction of the change it tells about, and
    delivered later (with retries and backoff) until the peer confirms it."""

    __tablename__ = "federation_outbox"
    __table_args__ = (Index("ix_federation_outbox_due", "delivered_at", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The shipment here the message is about, if any: its page shows what is undelivered.
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), index=True)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The peer answered with an error confirmation: sending again would not help.
    refused_code: Mapped[str | None] = mapped_column(String(32))


class InboxMessage(Base):
    """A message a peer sent that was checked and applied (or found already applied)."""

    __tablename__ = "federation_inbox"
    __table_args__ = (
        UniqueConstraint("peer_id", "message_id", name="uq_federation_inbox_message"),
        Index("ix_federation_inbox_received", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id"))
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    # The shipment here it changed, if any: the dashboard lists what peers changed.
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), index=True)
    body: Mapped[dict] = mapped_column(JSON)


class SeenNonce(Base):
    """The nonce of each signed request heard within the clock-skew window: the same
    signed request again is a replay, refused however valid its signature."""

    __tablename__ = "federation_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ShipmentLink(Base):
    """A shipment here and its twin at a peer: our outgoing and their incoming, or the
    other way round. `remote_id` is the peer's id of its twin (unknown until it says)."""

    __tablename__ = "shipment_links"
    __table_args__ = (UniqueConstraint("peer_id", "remote_id", name="uq_shipment_links_remote"),)

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id"))
    remote_id: Mapped[int | None] = mapped_column(Integer)


class ShipmentNote(Base):
    """A note in a shipment's thread: written here, by a peer's coordinator, or by a
    partner's librarian on the receipt page. The same note has the same `message_id` on
    both sides."""

    __tablename__ = "shipment_notes"
    __table_args__ = (Index("ix_shipment_notes_shipment", "shipment_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH), unique=True)
    # "here", "peer" or "receipt_link"; the peer is named when it wrote the note.
    origin: Mapped[str] = mapped_column(String(16))
    peer_id: Mapped[int | None] = mapped_column(ForeignKey("peers.id"))
    author: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # When a coordinator here saw a note from the other side.
    seen_at: Mapped[datetime | None] = mapped_column(DateTime)


class OfferClaim(Base):
    """A claim on a record of an offer list: made by us at a peer (`side` "made") or by
    a peer here (`side` "taken"). First come, first served: one accepted claim per
    record taken here (the partial unique index)."""

    __tablename__ = "offer_claims"
    __table_args__ = (
        Index(
            "ux_offer_claims_accepted",
            "record_identifier",
            unique=True,
            sqlite_where=text("side = 'taken' AND status = 'accepted'"),
            postgresql_where=text("side = 'taken' AND status = 'accepted'"),
        ),
        Index("ix_offer_claims_peer", "peer_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(8))
    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id"))
    record_identifier: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH))
    title: Mapped[str] = mapped_column(String(1000))
    copies: Mapped[int] = mapped_column(Integer)
    # "pending" (made, not yet answered), "accepted", "refused", "released".
    status: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Taken: the draft outgoing shipment the claimed record became an item of.
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
