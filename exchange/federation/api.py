"""/api/v1 for the federated exchange: peers, their messages, claims and reconciliation.

Each operation is declared once here (libfed.kernel.api): routing, validation, roles and
the OpenAPI document follow; the logic lives in the service modules beside this one.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Response
from sqlalchemy.orm import Session

from libfed.kernel.api import PREFIX, Api, ApiError, page_reply, reply
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.errors import Message, NotFound
from libfed.kernel.paging import PageQuery
from libfed.kernel.services import services

from ..shipments import get_shipment
from .claims import (
    OffersUnavailable,
    claims_on,
    fetch_offers,
    list_claims,
    make_claim,
    render_claim,
)
from .client import PeerClient
from .events import twin_of
from .identity import own_key
from .models import Peer
from .notes import add_note, list_notes, peer_names, render_note
from .peer_status import peer_figures, peer_messages
from .peering import accept, deliver_now, describe, preview
from .peers import NodeDocumentError, NodeUnreachable, remove_peer
from .reconciliation import reconcile
from .schemas import (
    ClaimIn,
    ClaimOut,
    ClaimPage,
    ClaimsQuery,
    NoteIn,
    NoteList,
    NoteOut,
    PeerAdded,
    PeerIn,
    PeerList,
    PeerMessagePage,
    PeerOfferPage,
    PeerOffersQuery,
    PeerPreview,
    PeerPreviewIn,
    PeerSynced,
    Reconciliation,
    ReconciliationQuery,
    TwinOut,
)

api = Api("federation")


# ------------------------------------------------------------------ peers


def _peer(session: Session, peer_id: int) -> Peer:
    return get(session, Peer, peer_id, "peer")


_UNREACHABLE = {"502": "The server at base_url gave no node document (down, slow, not JSON)"}


def _document_refused(error: NodeDocumentError) -> ApiError:
    """A server that gave no document is the gateway's failure (502); a document that is
    wrong is the address's (422). Either way, the reason in words."""
    if isinstance(error, NodeUnreachable):
        return ApiError(502, "peer_unreachable", str(error))
    return ApiError(422, "bad_node_document", str(error))


def _no_usable_answer(reason: str | Exception | None) -> ApiError:
    """A peer's server read live (reconciliation, offers) gave nothing to use: the
    gateway's failure, with its reason, said the same way by every operation."""
    return ApiError(502, "peer_unreachable", f"the peer gave no usable answer: {reason}")


@api.route(
    "GET",
    "/peers",
    summary="List the peers, with what waits for each",
    tag="peers",
    role="viewer",
    response=PeerList,
)
def peers_list(caller: Caller) -> Response:
    """Active peers by name: the partner each speaks for, its key's fingerprint, its
    messages not yet delivered and those failing (refused, or tried
    [federation] failing_after_attempts times), and its last delivery."""
    after = services().config.federation.failing_after_attempts
    with services().db.session() as session:
        return reply({"items": [row.render() for row in peer_figures(session, after)]})


@api.route(
    "POST",
    "/peers/preview",
    summary="Read a server's node document before accepting it",
    tag="peers",
    role="admin",
    body=PeerPreviewIn,
    response=PeerPreview,
    errors=_UNREACHABLE,
)
def peers_preview(caller: Caller, body: dict) -> Response:
    """Fetches BASE_URL/.well-known/libfed-node and answers who the server says it is and
    its key's fingerprint, to compare with the partner by telephone or e-mail. Nothing
    is stored."""
    try:
        document = preview(services().config, body["base_url"])
    except NodeDocumentError as error:
        raise _document_refused(error) from None
    return reply(describe(document))


@api.route(
    "POST",
    "/peers",
    summary="Accept a peer by its fingerprint",
    tag="peers",
    role="admin",
    body=PeerIn,
    response=PeerAdded,
    status=201,
    errors=_UNREACHABLE,
)
def peers_add(caller: Caller, body: dict) -> Response:
    """Fetches the node document again and stores the peer only if its key's fingerprint
    is the one given (409 otherwise: compare again). A removed peer of that name is
    brought back."""
    try:
        data = accept(
            services().db,
            services().config,
            name=body["name"],
            base_url=body["base_url"],
            institution_id=body["institution_id"],
            fingerprint=body["fingerprint"],
            actor=caller,
        )
    except NodeDocumentError as error:
        raise _document_refused(error) from None
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/peers/{data['id']}")


@api.route(
    "DELETE",
    "/peers/{peer_id}",
    summary="Remove a peer (what was exchanged stays)",
    tag="peers",
    role="admin",
    status=204,
)
def peers_remove(caller: Caller, peer_id: int) -> Response:
    with services().db.write() as session:
        remove_peer(session, _peer(session, peer_id).name, actor=caller)
    return Response(status=204)


@api.route(
    "GET",
    "/peers/{peer_id}/messages",
    summary="A peer's outbox, newest first",
    tag="peers",
    role="coordinator",
    query=PageQuery,
    response=PeerMessagePage,
)
def peers_messages(caller: Caller, peer_id: int, query: PageQuery) -> Response:
    """Each message with its state (waiting, failing, delivered, refused), attempts and
    the last error."""
    with services().db.session() as session:
        _peer(session, peer_id)
        rows, total = peer_messages(session, peer_id, query)
        return page_reply([row.render() for row in rows], total, query)


@api.route(
    "POST",
    "/peers/{peer_id}/sync",
    summary="Deliver a peer's messages now",
    tag="peers",
    role="coordinator",
    response=PeerSynced,
)
def peers_sync(caller: Caller, peer_id: int) -> Response:
    """Sends every undelivered message to the peer now, whatever its next retry time, and
    answers what was delivered, refused or failed, and what still waits."""
    with services().db.session() as session:
        peer = _peer(session, peer_id)
    synced = deliver_now(services().db, services().config, own_key(services()), peer)
    return reply(synced.render())


# ------------------------------------------------------------------ reconciliation


@api.route(
    "GET",
    "/peers/{peer_id}/reconciliation",
    summary="Both ledgers' year with a peer, side by side",
    tag="peers",
    role="coordinator",
    query=ReconciliationQuery,
    response=Reconciliation,
)
def peers_reconciliation(caller: Caller, peer_id: int, query: ReconciliationQuery) -> Response:
    """Our side and the peer's (fetched now, signed): copies and value per currency each
    way, as each side's balance reports count them, the shipments that differ, and in
    `other_year` the linked ones the two sides count in different years (dispatched in
    December, received in January), which are not differences. 502, with the reason in
    words, when the peer's server gives no usable answer."""
    own = services()
    outcome = reconcile(own.db, own.config.federation, own_key(own), peer_id, query.year)
    if outcome.compared is None:
        raise _no_usable_answer(outcome.failure)
    return reply(outcome.compared.model_dump(mode="json"))


# ------------------------------------------------------------------ claims on offer lists


@api.route(
    "GET",
    "/peers/{peer_id}/offers",
    summary="A page of a peer's offer list for us, read now",
    tag="claims",
    role="coordinator",
    query=PeerOffersQuery,
    response=PeerOfferPage,
)
def peers_offers(caller: Caller, peer_id: int, query: PeerOffersQuery) -> Response:
    """The editions the peer offers this library (its offer list for us, less what other
    peers have claimed), fetched now with a signed request, and our latest claim on each.
    502, with the reason in words, when the peer's server gives no usable answer."""
    own = services()
    with own.db.session() as session:
        peer = _peer(session, peer_id)
    client = PeerClient(own.config.federation, own_key(own))
    try:
        offered = fetch_offers(client, peer, query.page, query.per_page)
    except OffersUnavailable as error:
        raise _no_usable_answer(error) from None
    finally:
        client.close()
    with own.db.session() as session:
        claimed = claims_on(session, peer, [offer.record_identifier for offer in offered.items])
    items = [
        offer.model_dump() | {"claim": claimed.get(offer.record_identifier)}
        for offer in offered.items
    ]
    return reply(offered.model_dump() | {"items": items})


@api.route(
    "POST",
    "/peers/{peer_id}/claims",
    summary="Claim a record of a peer's offer list",
    tag="claims",
    role="coordinator",
    body=ClaimIn,
    response=ClaimOut,
    status=202,
)
def peers_claims(caller: Caller, peer_id: int, body: dict) -> Response:
    """Asks the peer for copies of one record of its offer list (first come, first
    served). Answers the claim, pending until the peer's answer arrives; GET /claims
    shows it accepted, or refused with the peer's reason (Unavailable: another was
    first). A claim on the same record still pending is not sent twice."""
    claim = ClaimIn.model_validate(body)
    with services().db.write() as session:
        peer = _peer(session, peer_id)
        made = make_claim(session, peer, claim)
        data = render_claim(made, peer)
    return reply(data, 202, location=f"{PREFIX}/claims?peer_id={peer_id}")


@api.route(
    "GET",
    "/claims",
    summary="The claims this library made on peers' offer lists",
    tag="claims",
    role="viewer",
    query=ClaimsQuery,
    response=ClaimPage,
)
def claims_list(caller: Caller, query: ClaimsQuery) -> Response:
    """Newest first, each pending, accepted, or refused with the peer's reason."""
    with services().db.session() as session:
        rows, total = list_claims(session, query)
        items = [render_claim(claim, peer) for claim, peer in rows]
    return page_reply(items, total, query)


# ------------------------------------------------------------------ a shipment's thread and twin


@api.route(
    "GET",
    "/shipments/{shipment_id}/notes",
    summary="The shipment's thread: notes of both sides, oldest first",
    tag="shipments",
    role="viewer",
    response=NoteList,
)
def shipment_notes(caller: Caller, shipment_id: int) -> Response:
    with services().db.session() as session:
        names = peer_names(session)
        notes = [render_note(note, names) for note in list_notes(session, shipment_id)]
    return reply({"items": notes})


@api.route(
    "POST",
    "/shipments/{shipment_id}/notes",
    summary="Write a note in the shipment's thread (sent to the peer of a linked shipment)",
    tag="shipments",
    role="coordinator",
    body=NoteIn,
    response=NoteOut,
    status=201,
)
def shipment_note_add(caller: Caller, shipment_id: int, body: dict) -> Response:
    with services().db.write() as session:
        note = add_note(session, shipment_id, body["body"], actor=caller)
        data = render_note(note, {})
    return reply(data, 201)


@api.route(
    "GET",
    "/shipments/{shipment_id}/link",
    summary="The shipment's twin at a peer, and its state there as far as told",
    tag="shipments",
    role="viewer",
    response=TwinOut,
)
def shipment_link(caller: Caller, shipment_id: int) -> Response:
    """404 `not_linked` when the shipment has no twin at a peer."""
    with services().db.session() as session:
        twin = twin_of(session, get_shipment(session, shipment_id))
    if twin is None:
        raise NotFound(Message("shipment {id} is not linked to a peer's shipment", id=shipment_id))
    return reply(asdict(twin))
