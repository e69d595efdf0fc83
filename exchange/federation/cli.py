"""`libfed peers add/list/remove/sync`: partners' servers added, listed and removed, and
the outbox delivered now. The root CLI's `peers` group loads each only when it runs, so
`libfed --help` imports no domain."""

from __future__ import annotations

import sys

import click

from libfed.kernel.callers import SYSTEM
from libfed.kernel.cli import Context, pass_context, refusal
from libfed.kernel.errors import ServiceError


def _client(context: Context, signed: bool):  # type: ignore[no-untyped-def]
    from .client import PeerClient
    from .identity import node_key

    key = node_key(context.migrated_db()) if signed else None
    return PeerClient(context.config.federation, key)


@click.command("add")
@click.argument("name")
@click.argument("base_url")
@click.option("--institution", "institution_id", type=int, required=True, help="Partner's id.")
@click.option("--yes", is_flag=True, help="Accept the key without asking (compare it first!).")
@pass_context
def add_command(context: Context, name: str, base_url: str, institution_id: int, yes: bool) -> None:
    """Fetch the node document at BASE_URL (the partner's root address), show its key's
    fingerprint to compare with the partner, and store it as peer NAME of the partner."""
    from .peers import NodeDocumentError, add_peer, document_fingerprint, fetch_node_document

    client = _client(context, signed=False)
    try:
        document = fetch_node_document(client, base_url)
    except NodeDocumentError as error:
        raise click.ClickException(str(error)) from None
    finally:
        client.close()
    shown = document_fingerprint(document)
    click.echo(f"{document.name} ({document.institution.country}), {document.base_url}")
    click.echo(f"key fingerprint: {shown}")
    if not yes and not click.confirm("Is this the fingerprint the partner gave you?"):
        click.echo("not added")
        sys.exit(1)
    try:
        with context.migrated_db().write() as session:
            peer = add_peer(session, name, institution_id, document, shown, actor=SYSTEM)
            click.echo(f"peer {peer.name} added for institution {peer.institution_id}")
    except ServiceError as error:
        raise refusal(error) from None


@click.command("list")
@click.option("--all", "everything", is_flag=True, help="Also the removed ones.")
@pass_context
def list_command(context: Context, everything: bool) -> None:
    """The peers, their partner, address, fingerprint and undelivered messages."""
    from sqlalchemy import func, select

    from .models import OutboxMessage, Peer
    from .peers import fingerprint_of

    with context.migrated_db().session() as session:
        waiting = dict(
            session.execute(
                select(OutboxMessage.peer_id, func.count())
                .where(OutboxMessage.delivered_at.is_(None))
                .group_by(OutboxMessage.peer_id)
            ).all()
        )
        query = select(Peer).order_by(Peer.name)
        if not everything:
            query = query.where(Peer.removed_at.is_(None))
        for peer in session.scalars(query):
            state = " (removed)" if peer.removed_at else ""
            click.echo(
                f"{peer.name}{state}\tinstitution {peer.institution_id}\t{peer.base_url}\t"
                f"{fingerprint_of(peer)}\t{waiting.get(peer.id, 0)} undelivered"
            )


@click.command("remove")
@click.argument("name")
@pass_context
def remove_command(context: Context, name: str) -> None:
    """Stop exchanging messages with peer NAME; what was exchanged stays."""
    from .peers import remove_peer

    try:
        with context.migrated_db().write() as session:
            remove_peer(session, name, actor=SYSTEM)
    except ServiceError as error:
        raise refusal(error) from None
    click.echo(f"peer {name} removed")


@click.command("sync")
@pass_context
def sync_command(context: Context) -> None:
    """Deliver every undelivered message now, whatever its next retry time; exit status 1
    while anything stays undelivered."""
    from .delivery import deliver, undelivered

    client = _client(context, signed=True)
    try:
        report = deliver(context.migrated_db(), client, ignore_backoff=True)
    finally:
        client.close()
    with context.migrated_db().session() as session:
        left = undelivered(session)
    click.echo(f"delivered {report.delivered}, refused {report.refused}, failed {report.failed}")
    for error in report.errors[:20]:
        click.echo(f"  {error}", err=True)
    if left:
        click.echo(f"{left} message(s) still undelivered", err=True)
        sys.exit(1)
