"""An administrator's steps with peers from the API and the pages, as `libfed peers`
takes them on the command line: look at an address's node document, accept it by its
fingerprint, and a coordinator's "deliver now" for one peer.

The address is typed by a person and fetched by this server, so it goes only through a
PeerClient (http or https, one deadline, a size limit, no redirects); nothing is stored
until the person accepted the fingerprint, and the document is fetched again then, so
what is stored is what the server says now, checked against what the person compared.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from libfed.kernel.callers import Caller
from libfed.kernel.config import Config
from libfed.kernel.db import Database

from .client import PeerClient
from .delivery import Delivered, deliver
from .identity import NodeKey
from .models import OutboxMessage, Peer
from .peers import add_peer, document_fingerprint, fetch_node_document, render_peer
from .schemas import NodeDocument


def preview(config: Config, base_url: str) -> NodeDocument:
    """The node document at `base_url`, checked; NodeDocumentError says why not."""
    client = PeerClient(config.federation, None)
    try:
        return fetch_node_document(client, base_url)
    finally:
        client.close()


def describe(document: NodeDocument) -> dict:
    """What a person compares before accepting: who the server says it is, and its key."""
    return {
        "name": document.name,
        "institution": document.institution.name,
        "country": document.institution.country,
        "isil": document.institution.isil,
        "base_url": document.base_url,
        "fingerprint": document_fingerprint(document),
    }


def accept(
    db: Database,
    config: Config,
    *,
    name: str,
    base_url: str,
    institution_id: int,
    fingerprint: str,
    actor: Caller,
) -> dict:
    """Fetch the document again and store the peer if its key is the accepted one."""
    document = preview(config, base_url)
    with db.write() as session:
        return render_peer(
            add_peer(session, name, institution_id, document, fingerprint, actor=actor)
        )


@dataclass(frozen=True)
class Synced:
    """What "deliver now" did for one peer, and what still waits for it."""

    delivered: Delivered
    undelivered: int

    def render(self) -> dict:
        return {
            "delivered": self.delivered.delivered,
            "refused": self.delivered.refused,
            "failed": self.delivered.failed,
            "undelivered": self.undelivered,
            "errors": self.delivered.errors[:20],
        }


def deliver_now(db: Database, config: Config, key: NodeKey, peer: Peer) -> Synced:
    """Send the peer's undelivered messages now, whatever their next retry time."""
    client = PeerClient(config.federation, key)
    try:
        report = deliver(db, client, ignore_backoff=True, peer_id=peer.id)
    finally:
        client.close()
    with db.session() as session:
        left = session.scalar(
            select(func.count()).where(
                OutboxMessage.peer_id == peer.id, OutboxMessage.delivered_at.is_(None)
            )
        )
    return Synced(report, left or 0)
