"""Hearing a peer: the signed request checked at the door, then one message applied.

The door: the signature names a key; the key must be an active peer's (UnknownPeer
otherwise, which the sender takes as "not yet": the other side has not added it); the
signature must hold, cover what the protocol asks and be fresh (BadSignature); its nonce
must be new (Replayed). Only then is the body read as a message, and the message is
applied in one transaction with the record that it was: the same message again is
answered OK, as a duplicate, and changes nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.errors import ServiceError

from .client import parse_json_object
from .messages import HANDLERS, Refused, applying
from .models import InboxMessage, Peer, SeenNonce
from .peers import peer_by_key
from .schemas import Envelope, problems
from .signing import BadSignature, Heard, signing_key_id, verify


@dataclass(frozen=True)
class SignedRequest:
    """A request as the door reads it: the URL as the sender addressed it (our public
    root address and the path), lower-cased header names, the raw body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _public_key(peer: Peer) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(peer.public_key))


def authenticate(db: Database, config: Config, request: SignedRequest) -> Peer:
    """The active peer that signed `request` (detached from any session), its nonce
    remembered; Refused (401) otherwise.

    The signature is checked in a read-only session, and only a request that passed it
    writes (its nonce): a flood of unsigned or forged requests never takes the write lock,
    which on SQLite is the whole database's."""
    key = signing_key_id(request.headers)
    if key is None:
        raise Refused("BadSignature", "the request is not signed (RFC 9421)", 401)
    with db.session() as session:
        peer = peer_by_key(session, key)
        if peer is None:
            raise Refused("UnknownPeer", "this server has not added the key that signed this", 401)
        session.expunge(peer)
    skew = timedelta(seconds=config.federation.max_clock_skew_seconds)
    try:
        heard = verify(
            request.method,
            request.url,
            request.headers,
            request.body,
            _public_key(peer),
            peer.key_id,
            skew,
        )
    except BadSignature as error:
        raise Refused("BadSignature", str(error)[:500], 401) from None
    with db.write() as session:
        _remember(session, heard, skew)
    return peer


def _remember(session: Session, heard: Heard, skew: timedelta) -> None:
    now = clock.utc_now()
    session.execute(delete(SeenNonce).where(SeenNonce.seen_at < now - 2 * skew))
    if session.get(SeenNonce, heard.nonce) is not None:
        raise Refused("Replayed", "this signed request was heard before", 401)
    session.add(SeenNonce(nonce=heard.nonce, seen_at=now))
    try:
        session.flush()
    except IntegrityError:
        raise Refused("Replayed", "this signed request was heard before", 401) from None


def confirmation(
    message_id: str | None,
    *,
    duplicate: bool = False,
    result: dict | None = None,
    refused: Refused | None = None,
) -> dict:
    confirmation: dict = {"message_id": message_id, "status": "OK" if refused is None else "ERROR"}
    if duplicate:
        confirmation["duplicate"] = True
    if result is not None:
        confirmation["result"] = result
    if refused is not None:
        confirmation["error"] = {"code": refused.code, "reason": refused.reason}
    return {"confirmation": confirmation}


def _envelope(config: Config, body: bytes) -> Envelope:
    try:
        return Envelope.model_validate(
            parse_json_object(body, config.federation.max_message_kib * 1024)
        )
    except ValueError as error:  # ValidationError included
        detail = problems(error, "message") if isinstance(error, ValidationError) else str(error)
        raise Refused("BadRequest", f"not a message: {detail}"[:1000], 400) from None


def receive(db: Database, config: Config, request: SignedRequest) -> tuple[int, dict]:
    """Check and apply one message: (HTTP status, the confirmation to answer with)."""
    message_id = None
    try:
        peer_id = authenticate(db, config, request).id
        message = _envelope(config, request.body)
        with db.write() as session:
            peer = session.get_one(Peer, peer_id)
            message_id = message.message_id
            seen = session.scalar(
                select(InboxMessage.id).where(
                    InboxMessage.peer_id == peer.id, InboxMessage.message_id == message_id
                )
            )
            if seen is not None:
                return 200, confirmation(message_id, duplicate=True)
            handler = HANDLERS.get(message.type)
            if handler is None:
                raise Refused("UnsupportedAction", f"unknown message type {message.type!r}")
            applied = applying.set(message_id)
            try:
                outcome = handler(session, peer, message.body)
            finally:
                applying.reset(applied)
            session.add(
                InboxMessage(
                    peer_id=peer.id,
                    message_id=message_id,
                    kind=message.type,
                    received_at=clock.utc_now(),
                    shipment_id=outcome if isinstance(outcome, int) else None,
                    body=message.body,
                )
            )
            session.flush()
        return 200, confirmation(message_id, result=outcome if isinstance(outcome, dict) else None)
    except Refused as refused:
        return refused.status, confirmation(message_id, refused=refused)
    except ServiceError as error:
        refused = Refused("UnrecognisedDataValue", str(error)[:1000])
        return refused.status, confirmation(message_id, refused=refused)
    except IntegrityError:
        # The same message applied at this moment by another worker: a duplicate.
        with db.session() as session:
            if session.scalar(select(InboxMessage.id).where(InboxMessage.message_id == message_id)):
                return 200, confirmation(message_id, duplicate=True)
        raise
