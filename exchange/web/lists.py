"""A partner's exchange lists as pages, and a received shipment added to the catalogue.

The offer list (what this library can send the partner) and the desiderata (what it
lacks of the partner's recent books) each get a filter form, a page of editions, the
whole list as CSV, and, for coordinators, a shipment started from the rows ticked.
A received incoming shipment's items become records of this library from its page.

Everything is `exchange.catalogue`'s, called as the API (`libfed.exchange.api`) calls it:
the same filter models (so a page refuses what the API refuses, in the same words),
the same harvest sources (`catalogue.partner_sources`), the same desiderata default and
CSV row limit (`api.whole_list`), so a page and a script never see different lists. The
page's download is written in the page's language, in its table's columns (`downloads`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from pydantic import ValidationError
from werkzeug.wrappers import Response

from libfed.accounts.models import Institution
from libfed.exchange.lookup import CatalogueEntry
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.errors import Conflict, Invalid
from libfed.kernel.paging import PageQuery
from libfed.kernel.services import services
from libfed.search.web import language_label
from libfed.web.auth import page
from libfed.web.forms import field_errors, page_number
from libfed.web.i18n import translate

from .. import catalogue
from ..schemas import DesiderataQuery, OfferQuery
from . import blueprint, downloads
from .common import PageResult

ACCESSIONS_SET_SPEC = catalogue.ACCESSIONS_SET[0]  # the set accessioned records join


@dataclass(frozen=True)
class ExchangeList:
    """One of the two lists: how the page reads its filters and what its rows start."""

    kind: str  # in the page's address and the CSV file's name, as in the API
    title: Any  # a lazy translation
    direction: str  # of the shipment the ticked rows start
    query: type[PageQuery]  # the API's query model, which checks the filters
    listing: Callable[..., tuple[list[CatalogueEntry], int]]
    # The query's filters as the listing's keyword arguments.
    filters: Callable[[Any], dict[str, object]]
    fields: tuple[str, ...]  # the filter form's fields, named as the API's parameters
    defaults: Callable[[], dict[str, str]] = dict  # what a blank field means, shown in it


LISTS = {
    "offer-list": ExchangeList(
        "offer-list",
        _l("Offer list"),
        "outgoing",
        OfferQuery,
        catalogue.offer_list,
        lambda query: {"set_spec": query.set, "year_from": query.year_from},
        ("set", "year_from"),
    ),
    "desiderata": ExchangeList(
        "desiderata",
        _l("Desiderata"),
        "incoming",
        DesiderataQuery,
        catalogue.desiderata,
        lambda query: {"since_year": query.since},
        ("since",),
        lambda: {"since": str(catalogue.desiderata_since())},
    ),
}
KINDS = "any('offer-list', 'desiderata')"  # the URL converter of the lists' routes


@dataclass
class Filters:
    """The filter form as typed (`values`, shown again), its refusals by field, and the
    query it asks for (None when a filter was refused: no list is shown then)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    query: PageQuery | None = None

    def args(self, **more: object) -> dict[str, object]:
        """The filled-in filters as query parameters, for links that keep them."""
        return {**{name: value for name, value in self.values.items() if value}, **more}


def read_filters(the_list: ExchangeList, args: Mapping[str, str]) -> Filters:
    """The filters the form (or a link) asks for, checked by the API's query model."""
    values = {name: args.get(name, "").strip() for name in the_list.fields}
    for name, value in the_list.defaults().items():
        values[name] = values[name] or value
    filters = Filters(values)
    given = {name: value for name, value in values.items() if value}
    try:
        filters.query = the_list.query.model_validate({**given, "page": page_number(args)})
    except ValidationError as error:
        filters.errors = field_errors(Invalid.of(error))
    return filters


# ------------------------------------------------------------------ the lists


@blueprint.get(f"/partners/<int:partner_id>/<{KINDS}:kind>")
@page("viewer")
def exchange_list(caller: Caller, partner_id: int, kind: str) -> PageResult:
    """One page of the list; a refused filter is explained beside its field (400)."""
    the_list = LISTS[kind]
    filters = read_filters(the_list, request.args)
    rows: list[CatalogueEntry] = []
    total = 0
    with services().db.session() as session:
        partner = get(session, Institution, partner_id, "institution")
        sources = catalogue.partner_sources(session, partner_id)
        if filters.query is not None:
            rows, total = the_list.listing(
                session,
                partner_id,
                sources,
                page=filters.query.page,
                per_page=filters.query.per_page,
                **the_list.filters(filters.query),
            )
    return render_template(
        "exchange/exchange_list.html",
        the_list=the_list,
        partner=partner,
        sources=sources,
        filters=filters,
        rows=rows,
        total=total,
        caller=caller,
        language_label=language_label,
        csv_rows=catalogue.CSV_ROWS,
        page_args=lambda number: urlencode(filters.args(page=number)),
    ), (400 if filters.errors else 200)


@blueprint.get(f"/partners/<int:partner_id>/<{KINDS}:kind>.<{downloads.EXTENSIONS}:extension>")
@page("viewer")
def exchange_list_file(
    caller: Caller, partner_id: int, kind: str, extension: downloads.Extension
) -> PageResult:
    """The whole list (up to the API's CSV limit, the same editions as the API's CSV)
    in the columns of the page's table and the page's language, as CSV or XLSX
    (`downloads`)."""
    the_list = LISTS[kind]
    filters = read_filters(the_list, request.args)
    if filters.query is None:
        return exchange_list(partner_id=partner_id, kind=kind)  # the form with its refusals
    return downloads.exchange_list_download(
        kind,
        str(the_list.title),
        partner_id,
        the_list.listing,
        extension,
        **the_list.filters(filters.query),
    )


@blueprint.post(f"/partners/<int:partner_id>/<{KINDS}:kind>/shipment")
@page("coordinator")
def start_from_list(caller: Caller, partner_id: int, kind: str) -> Response:
    """A shipment of the ticked editions, one linked item each (outgoing from the offer
    list, incoming from the desiderata); its page next. Nothing ticked starts nothing."""
    the_list = LISTS[kind]
    back = url_for(
        "exchange_pages.exchange_list",
        partner_id=partner_id,
        kind=kind,
        **read_filters(the_list, request.args).args(page=page_number(request.args)),
    )
    identifiers = request.form.getlist("identifier")
    if not identifiers:
        flash(_("Tick at least one edition to start a shipment."), "error")
        return redirect(back, code=303)
    try:
        with services().db.write() as session:
            get(session, Institution, partner_id, "institution")  # else a 404, not a message
            shipment = catalogue.start_shipment(
                session,
                partner_id,
                the_list.direction,
                identifiers,
                actor=caller,
                home_country=services().home_country,
            )
            shipment_id = shipment.id
    except Invalid as error:
        flash(" ".join(field_errors(error).values()), "error")
        return redirect(back, code=303)
    count = len(set(identifiers))
    flash(
        ngettext(
            "Shipment started with %(num)s item.", "Shipment started with %(num)s items.", count
        ),
        "success",
    )
    return redirect(url_for("exchange_pages.shipment", shipment_id=shipment_id), code=303)


# ------------------------------------------------------------------ accession


@blueprint.post("/shipments/<int:shipment_id>/accession")
@page("coordinator")
def accession_shipment(caller: Caller, shipment_id: int) -> Response:
    """Each item of a received shipment becomes a record of this library; the shipment's
    page then links every item to its record. A shipment not received is refused with
    the service's reason, and repeating it creates nothing twice."""
    target = url_for("exchange_pages.shipment", shipment_id=shipment_id) + "#items"
    try:
        with services().db.write() as session:
            done = catalogue.accession(
                session,
                shipment_id,
                actor=caller,
                repository_identifier=services().config.oai.repository_identifier,
            )
    except Conflict as error:
        flash(translate(error.args[0] if error.args else error), "error")
        return redirect(target, code=303)
    created = sum(1 for record in done if record.created)
    kept = len(done) - created
    sentences = [
        ngettext(
            "%(num)s record was added to the catalogue.",
            "%(num)s records were added to the catalogue.",
            created,
        )
    ]
    if kept:
        sentences.append(
            ngettext(
                "%(num)s item was already in the catalogue.",
                "%(num)s items were already in the catalogue.",
                kept,
            )
        )
    flash(" ".join(sentences), "success")
    return redirect(target, code=303)
