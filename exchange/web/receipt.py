"""The receipt page: a partner without a server confirms our parcel from a phone.

`/r/<token>` is the short link printed on the cover letter and the packing list
(`exchange.federation.receipt_links`). Nobody signs in: the link is the permission, and
it can do one thing, confirm receipt of its shipment. The page speaks the partner's
letter language unless the visitor chose another with the language switch; a link that
is not ours, has expired, or names a shipment past confirming gets a page saying only
that. The form keeps its CSRF token (the visitor's session is made on the first visit),
and its posts are rate-limited per link, as sign-in's are per name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import g, render_template, request, session
from flask_babel import gettext as _
from flask_babel import refresh
from werkzeug.wrappers import Response

from libfed.accounts.models import Institution
from libfed.kernel import editing
from libfed.kernel.errors import Invalid
from libfed.kernel.services import services
from libfed.web.auth import limiter
from libfed.web.documents import clip
from libfed.web.formatting import number
from libfed.web.forms import field_errors, form_values, parse_number
from libfed.web.i18n import LANGUAGES

from ..federation.receipt_links import (
    CONFIRMED,
    EXTRA_COPIES,
    PATH,
    LinkRefused,
    Receipt,
    confirm,
    link_for,
    shipment_of,
)
from ..federation.schemas import ReceiptIn
from ..items import list_items, render_item
from ..models import Shipment
from ..shipments import get_shipment
from . import blueprint

# Confirmations (and refused attempts) per link, in each server process.
RECEIPT_LIMIT = "20 per hour"


@dataclass(frozen=True)
class _View:
    """What the page shows of the shipment, read before any answer is rendered."""

    library: str
    reference: str
    items: list[dict]
    acknowledged_at: datetime | None


def _speak(partner: Institution | None) -> None:
    """The partner's letter language for this page, unless the visitor chose one."""
    if session.get("language") in LANGUAGES:
        return
    if partner is not None and partner.letter_language in LANGUAGES:
        g.language = partner.letter_language
        refresh()


def _view(shipment: Shipment, items: list[dict]) -> _View:
    config = services().config
    return _View(
        library=clip(config.exchange.library_name or config.oai.repository_name),
        reference=clip(shipment.reference) or str(shipment.id),
        items=items,
        acknowledged_at=shipment.acknowledged_at if shipment.status == CONFIRMED else None,
    )


def _page(view: _View, status: int = 200, **context: object) -> tuple[str, int]:
    labels = {"name": _("Your name"), "note": _("Notes")}
    labels.update({f"copies-{item['id']}": clip(item["title"], 80) for item in view.items})
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render_template(
        "exchange/receipt.html", view=view, labels=labels, extra=EXTRA_COPIES, **context
    ), status


def _refused(refusal: LinkRefused) -> tuple[str, int]:
    return render_template("exchange/receipt_refused.html"), refusal.status


def _read(items: list[dict]) -> tuple[Receipt | None, dict[str, str], dict[str, str]]:
    """The form as a receipt, or None with the refusals by field and the typed values."""
    typed = {key: value[:2000] for key, value in request.form.items() if key != "csrf_token"}
    errors: dict[str, str] = {}
    copies: dict[int, int] = {}
    for item in items:
        name = f"copies-{item['id']}"
        ceiling = item["copies"] + EXTRA_COPIES
        value = parse_number(typed.get(name, ""))
        if value is None or value != value.to_integral_value():
            errors[name] = _("must be a whole number")
        elif not 0 <= value <= ceiling:
            errors[name] = _("from 0 to %(most)s", most=number(ceiling))
        else:
            copies[item["id"]] = int(value)
    try:
        details = editing.validated(ReceiptIn, form_values(ReceiptIn, request.form))
    except Invalid as error:
        errors.update(field_errors(error))
        details = None
    if errors or details is None:
        return None, errors, typed
    return Receipt(copies=copies, name=details.name, note=details.note), {}, typed


@blueprint.route(PATH + "<token>", methods=["GET", "POST"])
@limiter.limit(
    RECEIPT_LIMIT,
    key_func=lambda: "receipt:" + request.path[:64],
    methods=["POST"],
    deduct_when=lambda response: response.status_code not in (404, 410),
)
def receipt(token: str) -> tuple[str, int] | Response:
    with services().db.session() as db_session:
        try:
            shipment = shipment_of(db_session, token)
        except LinkRefused as refusal:
            return _refused(refusal)
        _speak(db_session.get(Institution, shipment.partner_id))
        items = [render_item(item) for item in list_items(db_session, shipment.id)]
        view = _view(shipment, items)
    if view.acknowledged_at is not None:
        return _page(view, outcome="already")
    if request.method == "GET":
        return _page(view, values={f"copies-{item['id']}": item["copies"] for item in items})
    found, errors, typed = _read(items)
    if found is None:
        return _page(view, 422, values=typed, errors=errors)
    with services().db.write() as db_session:
        try:
            shipment = shipment_of(db_session, token)
        except LinkRefused as refusal:
            return _refused(refusal)
        done = confirm(db_session, shipment, found)
        view = _view(shipment, items)
    return _page(view, outcome="thanks" if done else "already")


def _link_of(shipment_id: int) -> str | None:
    with services().db.session() as db_session:
        return link_for(db_session, get_shipment(db_session, shipment_id))


@blueprint.app_context_processor
def _receipt_links() -> dict:
    """What the shipment's page shows coordinators to send by e-mail or SMS."""
    return {"receipt_link_of": _link_of}
