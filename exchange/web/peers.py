"""Peers on the pages: partners' libfed servers, what waits for each, and an
administrator's two steps to add one (the address, then its key's fingerprint to
compare with the partner by telephone or e-mail) and the question before removing one.

The steps take what `libfed peers add/remove` and /api/v1/peers take
(`federation.peering`): nothing is stored until the fingerprint is accepted, and the
document is fetched again then and checked against the fingerprint the page showed.
The words for each message type, as the dashboard and a peer's page say them, are here.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext, ngettext
from markupsafe import Markup, escape
from pydantic import ValidationError

from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.errors import Conflict, Invalid
from libfed.kernel.paging import PageQuery
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.forms import field_errors, page_number
from libfed.web.i18n import label_codes

from ..federation.identity import own_key
from ..federation.models import Peer
from ..federation.peer_status import Change, Sent, peer_figures, peer_messages
from ..federation.peering import accept, deliver_now, describe, preview
from ..federation.peers import NodeDocumentError, NodeUnreachable, remove_peer
from ..federation.schemas import PeerAddress
from ..models import Shipment
from . import blueprint
from .common import PageResult, display_name, partner_choices

# Each message type as a thing sent or received ("Dispatch", "Claim").
MESSAGE_LABELS = {
    "Shipped": lazy_pgettext("message between peers", "Dispatch"),
    "Received": lazy_pgettext("message between peers", "Receipt"),
    "Accessioned": lazy_pgettext("message between peers", "Accession"),
    "Cancelled": lazy_pgettext("message between peers", "Cancellation"),
    "Lost": lazy_pgettext("message between peers", "Loss"),
    "Returned": lazy_pgettext("message between peers", "Return"),
    "Note": lazy_pgettext("message between peers", "Note"),
    "ClaimRequest": lazy_pgettext("message between peers", "Claim"),
    "ClaimReleased": lazy_pgettext("message between peers", "Claim released"),
}
# What a peer's message changed here, as the dashboard says it.
CHANGE_WORDS = {
    "Shipped": _l("%(peer)s dispatched shipment %(shipment)s"),
    "Received": _l("%(peer)s received shipment %(shipment)s"),
    "Accessioned": _l("%(peer)s accessioned shipment %(shipment)s"),
    "Cancelled": _l("%(peer)s cancelled shipment %(shipment)s"),
    "Lost": _l("%(peer)s reported shipment %(shipment)s lost"),
    "Returned": _l("%(peer)s reported shipment %(shipment)s returned to the sender"),
    "Note": _l("%(peer)s wrote a note on shipment %(shipment)s"),
    "ClaimRequest": _l("%(peer)s claimed books of our offer list: shipment %(shipment)s"),
}
label_codes({"base_url": _l("address"), "institution_id": _l("partner"), "peer": _l("peer")})
# A peer's reason is its own words, in English or not: shown whole, up to this much.
_REASON_CHARS = 300


def message_label(kind: str) -> str:
    return str(MESSAGE_LABELS.get(kind, kind))


def shipment_link(shipment: Shipment) -> Markup:
    text = shipment.reference or _("Shipment %(id)s", id=shipment.id)
    target = url_for("exchange_pages.shipment", shipment_id=shipment.id)
    return Markup('<a href="{}">{}</a>').format(target, text)


def change_words(change: Change) -> Markup:
    """ "Tashkent Library received shipment EX/2026/3", the shipment a link."""
    peer = display_name(change.partner.name, change.partner.other_names)
    words = CHANGE_WORDS.get(change.kind)
    if words is None or change.shipment is None:
        return escape(
            _("%(peer)s sent: %(message)s", peer=peer, message=message_label(change.kind))
        )
    return Markup(escape(str(words))) % {"peer": peer, "shipment": shipment_link(change.shipment)}


def reason_text(reason: str | None) -> Markup:
    """Why a message was not delivered, as the peer or the network said it (addresses,
    codes, the peer's words): shortened, escaped, and marked as code in no language, so
    that no reader or translation check takes it for a sentence of the page."""
    reason = (reason or "").strip()
    if len(reason) > _REASON_CHARS:
        reason = reason[: _REASON_CHARS - 1] + "…"
    return Markup('<code lang="zxx" translate="no">{}</code>').format(reason)


# Translated sentences are made with this in place of their reason, which then goes in as
# markup (gettext formats into plain text, which the page would escape whole).
_REASON = "\u2063reason\u2063"


def with_reason(sentence: str, reason: str | None) -> Markup:
    """`sentence`, translated with _REASON for its reason, escaped, the reason put in."""
    return escape(sentence).replace(_REASON, reason_text(reason))


@blueprint.app_context_processor
def _peer_words() -> dict:
    return {
        "message_label": message_label,
        "change_words": change_words,
        "reason_text": reason_text,
    }


# ------------------------------------------------------------------ the list and a peer


@blueprint.get("/peers")
@page("viewer")
def peers(caller: Caller) -> str:
    after = services().config.federation.failing_after_attempts
    with services().db.session() as session:
        rows = peer_figures(session, after)
    return render_template("exchange/peers.html", peers=rows, caller=caller)


@blueprint.get("/peers/<int:peer_id>")
@page("coordinator")
def peer(caller: Caller, peer_id: int) -> str:
    after = services().config.federation.failing_after_attempts
    query = PageQuery(page=page_number(request.args), per_page=50)
    with services().db.session() as session:
        get(session, Peer, peer_id, "peer")
        [figures] = peer_figures(session, after, peer_id)
        sent, total = peer_messages(session, peer_id, query)
    return render_template(
        "exchange/peer.html",
        figures=figures,
        sent=sent,
        total=total,
        query=query,
        after=after,
        caller=caller,
        state_words=_state_words,
        page_args=lambda number: f"page={number}",
    )


def _state_words(sent: Sent) -> str:
    message = sent.message
    state = sent.state
    if state == "delivered":
        return _("Delivered")
    if state == "refused":
        return with_reason(_("Refused by the peer: %(reason)s", reason=_REASON), message.last_error)
    if state == "failing":
        return with_reason(
            ngettext(
                "Not delivered yet, %(num)s attempt: %(reason)s",
                "Not delivered yet, %(num)s attempts: %(reason)s",
                message.attempts,
                reason=_REASON,
            ),
            message.last_error,
        )
    return _("Waiting to be sent")


@blueprint.post("/peers/<int:peer_id>/sync")
@page("coordinator")
def sync_peer(caller: Caller, peer_id: int) -> PageResult:
    """Deliver now what waits for the peer, and say how it went."""
    with services().db.session() as session:
        found = get(session, Peer, peer_id, "peer")
    synced = deliver_now(services().db, services().config, own_key(services()), found)
    report = synced.delivered
    if synced.undelivered:
        flash(
            with_reason(
                ngettext(
                    "%(num)s message still waits: %(reason)s",
                    "%(num)s messages still wait: %(reason)s",
                    synced.undelivered,
                    reason=_REASON,
                ),
                report.errors[0] if report.errors else "",
            ),
            "error",
        )
    else:
        flash(
            ngettext(
                "%(num)s message delivered; nothing waits.",
                "%(num)s messages delivered; nothing waits.",
                report.delivered,
            ),
            "success",
        )
    return redirect(url_for("exchange_pages.peer", peer_id=peer_id), code=303)


# ------------------------------------------------------------------ adding one, in two steps


def _address_form(values: dict, errors: dict, status: int = 200) -> tuple[str, int]:
    with services().db.session() as session:
        choices = partner_choices(session)
    return render_template(
        "exchange/peer_form.html", values=values, errors=errors, partners=choices
    ), status


def _document_error(error: NodeDocumentError) -> dict[str, str]:
    if isinstance(error, NodeUnreachable):
        return {"base_url": _("No libfed server answers there: %(reason)s", reason=str(error))}
    return {
        "base_url": _("The server's node document cannot be used: %(reason)s", reason=str(error))
    }


@blueprint.route("/peers/new", methods=["GET", "POST"])
@page("admin")
def new_peer(caller: Caller) -> PageResult:
    """GET: the address; POST: the fingerprint to compare (step "look"), then, accepted,
    the peer stored (step "accept")."""
    if request.method == "GET":
        return _address_form({}, {})
    typed = {
        key: request.form.get(key, "").strip() for key in ("name", "base_url", "institution_id")
    }
    try:
        address = PeerAddress.model_validate(typed)
    except ValidationError as error:
        return _address_form(typed, field_errors(Invalid.of(error)), 422)
    try:
        if request.form.get("step") != "accept":
            document = preview(services().config, address.base_url)
            with services().db.session() as session:
                partner = dict(partner_choices(session)).get(address.institution_id, "")
            return render_template(
                "exchange/peer_accept.html", values=typed, node=describe(document), partner=partner
            )
        added = accept(
            services().db,
            services().config,
            name=address.name,
            base_url=address.base_url,
            institution_id=address.institution_id,
            fingerprint=request.form.get("fingerprint", "")[:64],
            actor=caller,
        )
    except NodeDocumentError as error:
        return _address_form(typed, _document_error(error), 422)
    except Invalid as error:
        return _address_form(typed, field_errors(error), 422)
    except Conflict:
        flash(
            _(
                "The server's key is no longer the one shown: nothing was stored. Look at it "
                "again and compare it with your partner."
            ),
            "error",
        )
        return _address_form(typed, {}, 409)
    flash(_("Peer added. Messages to this partner now go to its server."), "success")
    return redirect(url_for("exchange_pages.peer", peer_id=added["id"]), code=303)


@blueprint.route("/peers/<int:peer_id>/remove", methods=["GET", "POST"])
@page("admin")
def remove_peer_page(caller: Caller, peer_id: int) -> PageResult:
    """GET asks what removing does; POST removes (what was exchanged stays)."""
    with services().db.session() as session:
        found = get(session, Peer, peer_id, "peer")
        partner = dict(partner_choices(session, keep=found.institution_id)).get(
            found.institution_id
        )
    if request.method == "GET":
        return render_template("exchange/peer_remove.html", peer=found, partner=partner)
    with services().db.write() as session:
        remove_peer(session, found.name, actor=caller)
    flash(_("Peer removed. Its shipments and messages stay readable."), "success")
    return redirect(url_for("exchange_pages.peers"), code=303)
