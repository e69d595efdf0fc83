"""A peer's offer list, read live from its server, and the claims this library made.

The list is the peer's (its offer list for us, less what others claimed), fetched signed
when the page is asked for; a claim is sent at once after it is stored, so the page the
coordinator comes back to says whether it was taken or another library was first. A
partner with a server gets a link to the list on its page (`offers_panel`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from libfed.accounts.models import Institution
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.errors import Invalid
from libfed.kernel.services import services
from libfed.search.web import language_label
from libfed.web.auth import page, signed_in
from libfed.web.forms import field_errors, page_number

from ..federation.claims import (
    OffersUnavailable,
    claims_on,
    deliver_claims,
    fetch_offers,
    list_claims,
    make_claim,
    taken_by_another,
)
from ..federation.client import PeerClient
from ..federation.identity import own_key
from ..federation.models import OfferClaim, Peer
from ..federation.peers import peer_of_institution
from ..federation.schemas import ClaimIn, ClaimsQuery
from . import blueprint
from .common import PageResult

PER_PAGE = 50
CLAIM_LABELS = {
    "pending": _l("Claim sent, no answer yet"),
    "accepted": _l("Claimed"),
    "refused": _l("Refused"),
    "released": _l("Released"),
}
# Why the offering library let a claim go (ClaimReleased's reason codes).
RELEASE_LABELS = {
    "cancelled": _l("Released: the partner cancelled the shipment it was on"),
    "removed": _l("Released: the partner took it off the shipment"),
}


def claim_label(claim: OfferClaim) -> str:
    if taken_by_another(claim):
        return _("Already taken by another library")
    if claim.status == "released" and claim.reason in RELEASE_LABELS:
        return str(RELEASE_LABELS[claim.reason])
    return str(CLAIM_LABELS.get(claim.status, claim.status))


def _peer_and_partner(session: Session, peer_id: int) -> tuple[Peer, Institution]:
    peer = get(session, Peer, peer_id, "peer")
    return peer, session.get_one(Institution, peer.institution_id)


@blueprint.get("/peers/<int:peer_id>/offers")
@page("coordinator")
def peer_offers(caller: Caller, peer_id: int) -> PageResult:
    """A page of the peer's offer list with a Claim button on each edition; when the
    peer's server gives no usable answer, that is said in words (502)."""
    own = services()
    number = page_number(request.args)
    with own.db.session() as session:
        peer, partner = _peer_and_partner(session, peer_id)
    client = PeerClient(own.config.federation, own_key(own))
    offered, failed = None, False
    try:
        offered = fetch_offers(client, peer, number, PER_PAGE)
    except OffersUnavailable:
        failed = True
    finally:
        client.close()
    claimed: dict[str, str] = {}
    if offered is not None:
        with own.db.session() as session:
            claimed = claims_on(session, peer, [o.record_identifier for o in offered.items])
    return render_template(
        "exchange/peer_offers.html",
        peer=peer,
        partner=partner,
        offered=offered,
        failed=failed,
        claimed=claimed,
        claim_labels=CLAIM_LABELS,
        language_label=language_label,
        page_args=lambda n: urlencode({"page": n}),
        caller=caller,
    ), (502 if failed else 200)


def _claimed_message(claim: OfferClaim, partner: str) -> tuple[str, str]:
    """What the coordinator is told of the claim just made, and the flash's kind."""
    if claim.status == "accepted":
        return _(
            "Claimed: %(title)s. %(partner)s has it on a draft shipment to this library.",
            title=claim.title,
            partner=partner,
        ), "success"
    if taken_by_another(claim):
        return _(
            "Already taken: another library claimed %(title)s first.", title=claim.title
        ), "error"
    if claim.status == "refused":
        return _("The partner's server refused the claim on %(title)s.", title=claim.title), "error"
    return _(
        "The claim on %(title)s is sent; the partner's server has not answered yet.",
        title=claim.title,
    ), "info"


@blueprint.post("/peers/<int:peer_id>/claims")
@page("coordinator")
def claim_offer(caller: Caller, peer_id: int) -> Response:
    """Claim one edition of the peer's list, send the claim now, and say how it went."""
    own = services()
    back = url_for("exchange_pages.peer_offers", peer_id=peer_id, page=page_number(request.form))
    form = {
        "record_identifier": request.form.get("record_identifier", ""),
        "title": request.form.get("title", ""),
        "copies": request.form.get("copies", "1").strip() or "1",
    }
    try:
        claim = ClaimIn.model_validate(form)
    except ValidationError as error:
        flash(" ".join(field_errors(Invalid.of(error)).values()), "error")
        return redirect(back, code=303)
    with own.db.write() as session:
        peer, partner = _peer_and_partner(session, peer_id)
        claim_id = make_claim(session, peer, claim).id
        partner_name = partner.name
    deliver_claims(own.db, own.config, own_key(own))
    with own.db.session() as session:
        made = session.get_one(OfferClaim, claim_id)
        message, kind = _claimed_message(made, partner_name)
    flash(message, kind)
    return redirect(back, code=303)


@blueprint.get("/claims")
@page("viewer")
def claims(caller: Caller) -> PageResult:
    """The claims this library made on peers' offer lists, newest first."""
    query = ClaimsQuery(page=page_number(request.args), per_page=PER_PAGE)
    with services().db.session() as session:
        rows, total = list_claims(session, query)
    return render_template(
        "exchange/claims.html",
        rows=rows,
        total=total,
        query=query,
        claim_label=claim_label,
        page_args=lambda n: urlencode({"page": n}),
        caller=caller,
    )


def offers_panel(session: Session, institution_id: int) -> Markup | None:
    """On a partner's page: its server's offer list, when the partner runs one. The list
    is linked only for those who may open it (coordinators); anyone sees their claims."""
    peer = peer_of_institution(session, institution_id)
    if peer is None:
        return None
    caller = signed_in()
    may_claim = caller is not None and caller.may("coordinator")
    return Markup(
        render_template("exchange/peer_offers_panel.html", peer=peer, may_claim=may_claim)
    )
