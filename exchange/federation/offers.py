"""The offering side of claims: a peer reads the offer list this library computes for
its institution (exchange.catalogue, as the partner's pages show it), and claims a
record of it.

A claim is first come, first served: the first accepted claim on a record is the only
one (the partial unique index on offer_claims), so a record claimed by one peer leaves
every peer's list, and a second claim, even at the same moment from another worker, is
refused as Unavailable. An accepted claim becomes an item of a draft outgoing shipment
to the claimant: one draft per peer collects its claims until someone here moves it on.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Response, jsonify, request
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.exchange import catalogue
from libfed.exchange.items import update_item
from libfed.exchange.lookup import CatalogueEntry
from libfed.exchange.models import Shipment
from libfed.exchange.shipments import create_shipment
from libfed.kernel import clock
from libfed.kernel.callers import Caller
from libfed.kernel.services import services
from libfed.records.models import Record

from .claims import TAKEN
from .endpoints import blueprint, refused_answer, signed_request
from .identity import FEDERATION_PATH
from .messages import Refused, applying, handles
from .models import OfferClaim, Peer
from .peers import peer_caller
from .receiving import authenticate
from .schemas import ClaimRequest, OffersQuery


def offers_for(
    session: Session,
    peer: Peer,
    *,
    where: ColumnElement[bool] | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[CatalogueEntry], int]:
    """The offer list for the peer's institution, less what any peer has claimed."""
    unclaimed = Record.identifier.not_in(select(OfferClaim.record_identifier).where(TAKEN))
    return catalogue.offer_list(
        session,
        peer.institution_id,
        catalogue.partner_sources(session, peer.institution_id),
        where=unclaimed if where is None else unclaimed & where,
        page=page,
        per_page=per_page,
    )


def render_offer(entry: CatalogueEntry) -> dict:
    """An edition as the offer list answers it. One copy each: the catalogue does not
    count copies, so that is what a claim can count on."""
    values = asdict(entry)
    values["record_identifier"] = values.pop("identifier")
    return values | {"copies": 1}


@blueprint.get(f"{FEDERATION_PATH}/offers")
def offers() -> tuple[Response, int]:
    """A page of the offer list for the peer that signed the request."""
    own = services()
    try:
        peer_id = authenticate(own.db, own.config, signed_request()).id
        try:
            query = OffersQuery.model_validate(request.args.to_dict())
        except ValidationError:
            raise Refused("BadRequest", "page is 1 or more, per_page from 1 to 200", 400) from None
    except Refused as refused:
        return refused_answer(refused)
    with own.db.session() as session:
        peer = session.get_one(Peer, peer_id)
        rows, total = offers_for(session, peer, page=query.page, per_page=query.per_page)
    page = {
        "items": [render_offer(row) for row in rows],
        "total": total,
        "page": query.page,
        "per_page": query.per_page,
    }
    return jsonify(page), 200


def _open_draft(session: Session, peer: Peer) -> int | None:
    """The draft the peer's earlier claims went into, if it is still a draft."""
    return session.scalar(
        select(Shipment.id)
        .join(OfferClaim, OfferClaim.shipment_id == Shipment.id)
        .where(
            TAKEN,
            OfferClaim.peer_id == peer.id,
            Shipment.partner_id == peer.institution_id,
            Shipment.direction == "outgoing",
            Shipment.status == "draft",
        )
        .order_by(OfferClaim.id.desc())
        .limit(1)
    )


def _draft(session: Session, peer: Peer, actor: Caller) -> int:
    existing = _open_draft(session, peer)
    if existing is not None:
        return existing
    partner = session.get_one(Institution, peer.institution_id)
    # Written in this server's own language: a peer's message carries no reader's choice.
    notes = _("Claimed by %(partner)s from this library's offer list.", partner=partner.name)
    shipment = create_shipment(
        session,
        {"partner_id": peer.institution_id, "direction": "outgoing", "notes": notes},
        actor=actor,
        home_country=services().home_country,
    )
    return shipment.id


@handles("ClaimRequest")
def claim_request(session: Session, peer: Peer, body: dict) -> dict:
    """Take the claim if the record is on the peer's list and nobody has it yet."""
    try:
        claim = ClaimRequest.model_validate(body)
    except ValidationError:
        raise Refused(
            "BadRequest", "a claim names record_identifier, copies (1 to 50) and title", 400
        ) from None
    rows, _total = offers_for(
        session, peer, where=Record.identifier == claim.record_identifier, per_page=1
    )
    if not rows:
        taken = session.scalar(
            select(OfferClaim.id).where(
                TAKEN, OfferClaim.record_identifier == claim.record_identifier
            )
        )
        raise Refused("Unavailable", "already claimed" if taken else "not offered")
    taken_claim = OfferClaim(
        side="taken",
        peer_id=peer.id,
        record_identifier=claim.record_identifier,
        title=rows[0].title[:1000],
        copies=claim.copies,
        status="accepted",
        # The claimant's name for it: a ClaimReleased names the claim so.
        message_id=applying.get(),
        created_at=clock.utc_now(),
    )
    try:
        with session.begin_nested():  # the unique index decides between claims at once
            session.add(taken_claim)
    except IntegrityError:
        raise Refused("Unavailable", "already claimed") from None
    actor = peer_caller(peer)
    shipment_id = _draft(session, peer, actor)
    item = catalogue.add_record(session, shipment_id, claim.record_identifier, actor=actor)
    if item.copies != claim.copies:
        update_item(
            session,
            shipment_id,
            item.id,
            {"copies": claim.copies},
            actor=actor,
            expected_version=item.version,
        )
    taken_claim.shipment_id = shipment_id
    return {"status": "accepted", "shipment": shipment_id}
