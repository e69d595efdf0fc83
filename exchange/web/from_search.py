"""A record added to a shipment from the search results or a record's page.

Search may not import the exchange: the exchange answers the `ShipmentTargets` hook
(libfed.kernel.services) with the shipments a coordinator may add to and this form's
action, and the search and record pages show the form. The item is made as a list's
items are (`exchange.catalogue.add_record`), by the same item service as any other
add, and the coordinator goes back to the page they came from, its query kept.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from libfed.kernel.callers import Caller
from libfed.kernel.errors import Conflict, Invalid
from libfed.kernel.services import ShipmentChoice, services
from libfed.records.models import IDENTIFIER_LENGTH
from libfed.web.auth import local_target, page
from libfed.web.forms import field_errors
from libfed.web.i18n import named_refusals, translate

from ..catalogue import add_record
from ..models import Shipment
from ..states import OUTGOING
from . import blueprint
from .common import partner_names
from .labels import STATE_LABELS

OFFERED = 50  # shipments offered at most, the newest


def _label(ident: int, reference: str | None, partner: str, status: str) -> str:
    """A shipment as a choice names it: number, reference, partner and state, in words."""
    number = _("Shipment %(id)s", id=ident) + (f" · {reference}" if reference else "")
    return f"{number} — {partner} ({STATE_LABELS[status]})"


def shipment_targets(session: Session, caller: Caller) -> ShipmentChoice | None:
    """The outgoing shipments still taking items (draft, packed), newest first, for a
    coordinator; None for anyone else, or when no shipment takes items."""
    if not caller.may("coordinator"):
        return None
    rows = session.execute(
        select(Shipment.id, Shipment.reference, Shipment.status, Shipment.partner_id)
        .where(Shipment.direction == OUTGOING.direction, Shipment.status.in_(OUTGOING.editable))
        .order_by(Shipment.id.desc())
        .limit(OFFERED)
    ).all()
    if not rows:
        return None
    names = partner_names(session, {row.partner_id for row in rows})
    return ShipmentChoice(
        url_for("exchange_pages.add_from_search"),
        [
            (
                row.id,
                _label(row.id, row.reference, names.get(row.partner_id, ""), row.status),
            )
            for row in rows
        ],
    )


@blueprint.post("/shipments/add-record")
@page("coordinator")
def add_from_search(caller: Caller) -> Response:
    """The record as an item of the chosen shipment (a copy more when its line is there),
    then back where the form was; a refusal is said there too."""
    back = local_target(request.form.get("next"))
    chosen = request.form.get("shipment_id", "")
    identifier = request.form.get("identifier", "")
    if not chosen.isdigit() or len(chosen) > 9:
        return _refused(back, _("Choose the shipment to add the record to."))
    if not identifier or len(identifier) > IDENTIFIER_LENGTH:
        return _refused(back, _("No record of this server has this identifier."))
    shipment_id = int(chosen)
    try:
        with services().db.write() as session:
            item = add_record(session, shipment_id, identifier, actor=caller)
            title, copies = item.title, item.copies
    except Invalid as error:
        return _refused(back, named_refusals(field_errors(error)))
    except Conflict as error:
        return _refused(back, translate(error.args[0] if error.args else error))
    if copies == 1:
        flash(_("Added “%(title)s” to shipment %(id)s.", title=title, id=shipment_id), "success")
    else:
        flash(
            ngettext(
                "“%(title)s” is in shipment %(id)s already: it now has %(num)s copy.",
                "“%(title)s” is in shipment %(id)s already: it now has %(num)s copies.",
                copies,
                title=title,
                id=shipment_id,
            ),
            "success",
        )
    return redirect(back, code=303)


def _refused(back: str, message: str) -> Response:
    flash(message, "error")
    return redirect(back, code=303)
