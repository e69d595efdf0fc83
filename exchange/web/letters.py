"""A shipment's letters, labels and packing list: printable pages and PDF files.

`/shipments/<id>/letters/<kind>` shows a document (`exchange.letters`) to print, with a
Print button and a choice of language; `?format=pdf`, or the same path ending in `.pdf`,
sends it as a PDF file. The packing list keeps its own address. A viewer may read them
all (they say nothing the shipment's page does not).
"""

from __future__ import annotations

from flask import abort, render_template, request
from werkzeug.wrappers import Response

from libfed.kernel.callers import Caller
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.documents import pdf_response
from libfed.web.i18n import LANGUAGES, current_language

from ..letters import KINDS, document, kinds_for, load
from . import blueprint


def _language() -> str:
    """The language asked for (`?language=`), if it is one of the pages'; else the
    page's own. The partner's is offered, never imposed: the coordinator reads it too."""
    asked = request.args.get("language", "")
    return asked if asked in LANGUAGES else current_language()


def _show(shipment_id: int, kind_name: str, pdf: bool) -> str | Response:
    kind = KINDS.get(kind_name)
    if kind is None:
        abort(404)
    with services().db.session() as session:
        sources = load(session, shipment_id)
    if not kind.applies(sources.shipment):
        abort(404)
    partner_language = sources.partner.letter_language
    language = _language()
    made = document(sources, kind, language)
    if pdf or request.args.get("format") == "pdf":
        return pdf_response(made)
    return render_template(
        "exchange/letters/document.html",
        document=made,
        kind=kind,
        shipment=sources.shipment,
        language=language,
        partner_language=partner_language if partner_language in LANGUAGES else None,
    )


@blueprint.get("/shipments/<int:shipment_id>/letters/<kind_name>")
@page("viewer")
def letter(caller: Caller, shipment_id: int, kind_name: str) -> str | Response:
    return _show(shipment_id, kind_name, pdf=False)


@blueprint.get("/shipments/<int:shipment_id>/letters/<kind_name>.pdf")
@page("viewer")
def letter_pdf(caller: Caller, shipment_id: int, kind_name: str) -> str | Response:
    return _show(shipment_id, kind_name, pdf=True)


@blueprint.get("/shipments/<int:shipment_id>/packing-list")
@page("viewer")
def packing_list(caller: Caller, shipment_id: int) -> str | Response:
    return _show(shipment_id, "packing-list", pdf=False)


@blueprint.get("/shipments/<int:shipment_id>/packing-list.pdf")
@page("viewer")
def packing_list_pdf(caller: Caller, shipment_id: int) -> str | Response:
    return _show(shipment_id, "packing-list", pdf=True)


@blueprint.app_context_processor
def _letters() -> dict:
    """What the shipment's page lists in its Letters section."""
    return {"letter_kinds": kinds_for}
