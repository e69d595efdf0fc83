"""Messages between peers: writing one into the outbox, and the handlers that apply
each type received.

A message is written in the same transaction as the change it tells about (the outbox
pattern): either both are stored or neither, and delivery comes later, however long the
peer is away. Each type is applied at the receiving side by one handler, registered here
with `handles`; a handler validates the body with its own model, checks that the
message touches only what is between that peer and us, applies it and returns the id of
the shipment it changed (the dashboard lists them). It raises Refused to answer with an
error confirmation, and must be idempotent and tolerate order: the same message twice, or
an older one after a newer, changes nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from libfed.kernel import clock

from .models import OutboxMessage, Peer
from .schemas import Confirmation

PROTOCOL_TAG = "libfed-exchange/1"


class Refused(Exception):
    """The message is understood and refused: an ERROR confirmation with `code`.

    Codes (ISO 18626's discipline, documented in docs/exchange-protocol.md): BadRequest,
    UnrecognisedDataValue, UnsupportedAction, NotYourShipment, NotYourClaim, Unavailable,
    Conflict; and, at the door, UnknownPeer, BadSignature, Replayed.
    """

    def __init__(self, code: str, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status = status


# (session, the peer that sent it, its body) -> the id of the shipment here it changed.
# A handler may also return a dict: the confirmation's `result`, for the sender to read.
Handler = Callable[[Session, Peer, dict], "int | dict | None"]
HANDLERS: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler of one message type (once per type)."""

    def register(handler: Handler) -> Handler:
        if kind in HANDLERS:
            raise ValueError(f"message type {kind} already has a handler")
        HANDLERS[kind] = handler
        return handler

    return register


# The id of the message a handler is applying (set by receiving around the call): a handler
# that keeps what it took under the sender's name for it reads it here (a claim taken is
# known to its claimant by its ClaimRequest's id, which a ClaimReleased names).
applying: ContextVar[str] = ContextVar("applying")


# (session, the message sent, "delivered" or "refused", the peer's confirmation, the
# reason of a refusal): what the sender does with the answer to a message whose answer
# it waits on (a claim becomes accepted or refused). Called by delivery in the write that
# marks the message, so the answer and its mark are stored together.
ConfirmationHook = Callable[[Session, OutboxMessage, str, Confirmation | None, str | None], None]
CONFIRMATION_HOOKS: dict[str, ConfirmationHook] = {}


def on_confirmation(kind: str) -> Callable[[ConfirmationHook], ConfirmationHook]:
    """Register what is done when a message of type `kind` is confirmed (once per type)."""

    def register(hook: ConfirmationHook) -> ConfirmationHook:
        if kind in CONFIRMATION_HOOKS:
            raise ValueError(f"message type {kind} already has a confirmation hook")
        CONFIRMATION_HOOKS[kind] = hook
        return hook

    return register


# Called after a transaction that wrote messages commits: the delivery thread of this
# process (libfed.exchange.federation.delivery) wakes at once instead of at its interval.
_wakers: list[Callable[[], None]] = []


def on_enqueued(waker: Callable[[], None]) -> None:
    _wakers.append(waker)


def _wake(_session: Session) -> None:
    for waker in list(_wakers):
        waker()


def enqueue(
    session: Session, peer: Peer, kind: str, body: dict, *, shipment_id: int | None = None
) -> OutboxMessage:
    """Write a message to `peer` in the caller's transaction; it leaves after the commit."""
    now = clock.utc_now()
    message = OutboxMessage(
        message_id=str(uuid.uuid4()),
        peer_id=peer.id,
        kind=kind,
        shipment_id=shipment_id,
        body=body,
        created_at=now,
        attempts=0,
        next_attempt_at=now - timedelta(seconds=1),
    )
    session.add(message)
    if not event.contains(session, "after_commit", _wake):
        event.listen(session, "after_commit", _wake, once=True)
    return message


def envelope(message: OutboxMessage) -> dict:
    """The message as it travels: the same id and body on every attempt."""
    return {
        "protocol": PROTOCOL_TAG,
        "message_id": message.message_id,
        "type": message.kind,
        "created_at": message.created_at.isoformat() + "Z",
        "body": message.body,
    }
