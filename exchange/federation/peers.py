"""Peers: partners' servers that an administrator accepted, each linked to the
partner institution it speaks for.

Adding one is two steps with a person between them: the node document is fetched and
its key's fingerprint shown, to be compared with the partner by telephone or e-mail;
only then is it stored (`add_peer` takes the fingerprint the person accepted and refuses
if the document's key is another). Both sides add each other; until the other side has,
our messages to it wait in the outbox.
"""

from __future__ import annotations

import base64
import re

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.kernel import clock, editing
from libfed.kernel.callers import Caller
from libfed.kernel.errors import N_, Conflict, Invalid, Message, NotFound

from .client import PeerClient, PeerUnreachable
from .identity import PROTOCOL_VERSION, WELL_KNOWN_PATH, fingerprint
from .models import Peer
from .schemas import NodeDocument, problems

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class NodeDocumentError(Exception):
    """The address gives no usable node document; the message says why."""


class NodeUnreachable(NodeDocumentError):
    """The server at the address gave no answer to read (down, slow, not 200): unlike a
    document that is wrong, trying again later may help."""


def fetch_node_document(client: PeerClient, base_url: str) -> NodeDocument:
    """The node document at `base_url`, checked: served by that server, about that
    server, with a well-formed key. Fetched unsigned: it is public."""
    base = base_url.rstrip("/")
    try:
        answer = client.request("GET", base + WELL_KNOWN_PATH)
    except PeerUnreachable as error:
        raise NodeUnreachable(str(error)) from None
    if answer.status != 200:
        raise NodeUnreachable(f"{base}{WELL_KNOWN_PATH}: answered {answer.status}")
    try:
        document = NodeDocument.model_validate(answer.body)
    except ValidationError as error:
        raise NodeDocumentError(
            f"{base}{WELL_KNOWN_PATH}: not a node document: {problems(error, 'document')}"
        ) from None
    if document.base_url.rstrip("/") != base:
        raise NodeDocumentError(
            f"{base}{WELL_KNOWN_PATH}: the document is about {document.base_url}, not {base}"
        )
    return document


def document_fingerprint(document: NodeDocument) -> str:
    return fingerprint(document.public_key.raw())


def render_peer(peer: Peer) -> dict:
    return {
        "id": peer.id,
        "name": peer.name,
        "institution_id": peer.institution_id,
        "base_url": peer.base_url,
        "key_id": peer.key_id,
        "fingerprint": fingerprint_of(peer),
        "protocol_version": peer.protocol_version,
        "removed_at": None if peer.removed_at is None else peer.removed_at.isoformat() + "Z",
        "version": peer.version,
    }


def fingerprint_of(peer: Peer) -> str:
    return fingerprint(base64.b64decode(peer.public_key))


def add_peer(
    session: Session,
    name: str,
    institution_id: int,
    document: NodeDocument,
    accepted_fingerprint: str,
    *,
    actor: Caller,
) -> Peer:
    """Store (or bring back) the peer `name` for the partner `institution_id`, with the
    key whose fingerprint the person accepted."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise Invalid(
            {"name": Message("use lower-case letters, digits, '.', '_' or '-' (at most 64)")}
        )
    if " ".join(accepted_fingerprint.upper().split()) != document_fingerprint(document):
        raise Conflict(
            Message("the node's key is not the one whose fingerprint was accepted: compare again")
        )
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise Invalid({"institution_id": Message("no institution with id {id}", id=institution_id)})
    if institution.archived_at is not None:
        raise Invalid({"institution_id": Message("the institution is archived")})
    values = {
        "name": name,
        "institution_id": institution_id,
        "base_url": document.base_url.rstrip("/"),
        "inbox_url": document.endpoints.inbox,
        "key_id": document.public_key.key_id,
        "public_key": document.public_key.public_key,
        "protocol_version": PROTOCOL_VERSION,
        "document": document.model_dump(mode="json"),
        "removed_at": None,
    }
    taken = (
        (Peer.institution_id == institution_id, N_("peer {name} already speaks for this partner")),
        (Peer.key_id == values["key_id"], N_("peer {name} already has this key")),
    )
    for condition, refusal in taken:
        other = session.scalar(select(Peer).where(condition))
        if other is not None and other.name != name:
            raise Conflict(Message(refusal, name=other.name))
    existing = session.scalar(select(Peer).where(Peer.name == name).with_for_update())
    if existing is not None:
        return editing.change(
            session, existing, values, render_peer, actor=actor, entity="peer", group_id=None
        )
    return editing.create(session, Peer(**values), render_peer, actor=actor, entity="peer")


def peer_caller(peer: Peer) -> Caller:
    """Who a change applied from a peer's message was made by, as history shows it."""
    return Caller(id=0, name=f"peer:{peer.name}", role="coordinator")


def get_peer(session: Session, name: str) -> Peer:
    peer = session.scalar(select(Peer).where(Peer.name == name))
    if peer is None:
        raise NotFound(Message("no peer named {name}", name=name))
    return peer


def remove_peer(session: Session, name: str, *, actor: Caller) -> Peer:
    """Stop hearing and writing to a peer; what was exchanged stays."""
    peer = get_peer(session, name)
    if peer.removed_at is not None:
        return peer
    return editing.change(
        session,
        peer,
        {"removed_at": clock.utc_now()},
        render_peer,
        actor=actor,
        entity="peer",
        group_id=None,
    )


def active_peers(session: Session) -> list[Peer]:
    return list(session.scalars(select(Peer).where(Peer.removed_at.is_(None)).order_by(Peer.name)))


def peer_of_institution(session: Session, institution_id: int) -> Peer | None:
    """The partner's server, if it runs one we accepted: where messages about our
    shipments to that partner go."""
    return session.scalar(
        select(Peer).where(Peer.institution_id == institution_id, Peer.removed_at.is_(None))
    )


def peer_by_key(session: Session, key_id: str) -> Peer | None:
    return session.scalar(select(Peer).where(Peer.key_id == key_id, Peer.removed_at.is_(None)))
