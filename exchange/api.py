"""/api/v1 for the exchange ledger: agreements, shipments, items, transitions, reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from flask import Response, request
from sqlalchemy import Connection

from libfed.exchange.lookup import CatalogueEntry
from libfed.kernel.api import (
    PREFIX,
    Api,
    csv_reply,
    expected_version,
    page_reply,
    partial,
    reply,
    wants_csv,
)
from libfed.kernel.audit import History, history, ledger_changes, render_event
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.paging import PageQuery
from libfed.kernel.services import services

from . import catalogue, reports
from .agreements import create_agreement, list_agreements, update_agreement, with_usage
from .items import (
    add_item,
    add_items,
    get_item,
    list_items,
    remove_item,
    render_item,
    update_item,
)
from .models import Agreement
from .schemas import (
    AccessionList,
    AgreementIn,
    AgreementOut,
    AgreementPage,
    AgreementQuery,
    BalanceReport,
    CandidatePage,
    CountryReport,
    DesiderataQuery,
    FromRecords,
    ItemIn,
    ItemList,
    ItemOut,
    ItemsIn,
    OfferQuery,
    ShipmentCreate,
    ShipmentIn,
    ShipmentOut,
    ShipmentPage,
    ShipmentQuery,
    TransitionIn,
    ValueAgreementReport,
    YearQuery,
    YearsQuery,
    YearsReport,
)
from .served_reports import served_report, served_years
from .shipments import (
    FIXED,
    create_shipment,
    get_shipment,
    list_shipments,
    shipment_history,
    transition,
    update_shipment,
    with_totals,
)

api = Api("exchange")


# ------------------------------------------------------------------ agreements


@api.route(
    "GET",
    "/agreements",
    summary="List agreements",
    tag="agreements",
    role="viewer",
    query=AgreementQuery,
    response=AgreementPage,
)
def agreements_list(caller: Caller, query: AgreementQuery) -> Response:
    with services().db.session() as session:
        rows, total = list_agreements(session, query)
        return page_reply(with_usage(session, rows), total, query)


@api.route(
    "POST",
    "/agreements",
    summary="Add an agreement",
    tag="agreements",
    role="coordinator",
    body=AgreementIn,
    response=AgreementOut,
    status=201,
)
def agreements_create(caller: Caller, body: dict) -> Response:
    with services().db.write() as session:
        data = with_usage(session, [create_agreement(session, body, actor=caller)])[0]
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/agreements/{data['id']}")


@api.route(
    "GET",
    "/agreements/{agreement_id}",
    summary="Read an agreement",
    tag="agreements",
    role="viewer",
    response=AgreementOut,
)
def agreements_read(caller: Caller, agreement_id: int) -> Response:
    with services().db.session() as session:
        data = with_usage(session, [get(session, Agreement, agreement_id, "agreement")])[0]
    return reply(data, version=data["version"])


@api.route(
    "PATCH",
    "/agreements/{agreement_id}",
    summary="Change an agreement",
    tag="agreements",
    role="coordinator",
    body=partial(AgreementIn),
    response=AgreementOut,
    if_match=True,
)
def agreements_update(caller: Caller, agreement_id: int, body: dict) -> Response:
    expected = expected_version()
    with services().db.write() as session:
        agreement = update_agreement(
            session, agreement_id, body, actor=caller, expected_version=expected
        )
        data = with_usage(session, [agreement])[0]
    return reply(data, version=data["version"])


@api.route(
    "GET",
    "/agreements/{agreement_id}/history",
    summary="An agreement's changes",
    tag="agreements",
    role="viewer",
    response=History,
)
def agreements_history(caller: Caller, agreement_id: int) -> Response:
    with services().db.session() as session:
        get(session, Agreement, agreement_id, "agreement")
        events = history(session, "agreement", agreement_id)
        return reply({"events": [render_event(e) for e in events]})


# ------------------------------------------------------------------ shipments


@api.route(
    "GET",
    "/shipments",
    summary="List shipments, newest first",
    tag="shipments",
    role="viewer",
    query=ShipmentQuery,
    response=ShipmentPage,
)
def shipments_list(caller: Caller, query: ShipmentQuery) -> Response:
    """`year` is the year a shipment counts in: of its dispatch (outgoing) or receipt
    (incoming), else of its creation."""
    with services().db.engine.connect() as connection:
        rows, total = list_shipments(connection, query)
        return page_reply(with_totals(connection, rows), total, query)


@api.route(
    "POST",
    "/shipments",
    summary="Start a shipment (outgoing: draft; incoming: expected)",
    tag="shipments",
    role="coordinator",
    body=ShipmentCreate,
    response=ShipmentOut,
    status=201,
)
def shipments_create(caller: Caller, body: dict) -> Response:
    with services().db.write() as session:
        shipment = create_shipment(
            session, body, actor=caller, home_country=services().home_country
        )
        data = with_totals(session, [shipment])[0]
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/shipments/{data['id']}")


@api.route(
    "GET",
    "/shipments/{shipment_id}",
    summary="Read a shipment",
    tag="shipments",
    role="viewer",
    response=ShipmentOut,
)
def shipments_read(caller: Caller, shipment_id: int) -> Response:
    with services().db.session() as session:
        data = with_totals(session, [get_shipment(session, shipment_id)])[0]
    return reply(data, version=data["version"])


@api.route(
    "PATCH",
    "/shipments/{shipment_id}",
    summary="Change a shipment's details",
    tag="shipments",
    role="coordinator",
    body=partial(ShipmentIn),
    response=ShipmentOut,
    if_match=True,
    hints=FIXED,
)
def shipments_update(caller: Caller, shipment_id: int, body: dict) -> Response:
    expected = expected_version()
    with services().db.write() as session:
        shipment = update_shipment(
            session,
            shipment_id,
            body,
            actor=caller,
            home_country=services().home_country,
            expected_version=expected,
        )
        data = with_totals(session, [shipment])[0]
    return reply(data, version=data["version"])


@api.route(
    "POST",
    "/shipments/{shipment_id}/transitions",
    summary="Move a shipment to a new state",
    tag="shipments",
    role="coordinator",
    body=TransitionIn,
    response=ShipmentOut,
    if_match=True,
)
def shipments_transition(caller: Caller, shipment_id: int, body: dict) -> Response:
    """409 names the states allowed from the present one (`allowed`)."""
    expected = expected_version()
    with services().db.write() as session:
        shipment = transition(session, shipment_id, body, actor=caller, expected_version=expected)
        data = with_totals(session, [shipment])[0]
    return reply(data, version=data["version"])


@api.route(
    "GET",
    "/shipments/{shipment_id}/history",
    summary="Every change of the shipment and its items, oldest first",
    tag="shipments",
    role="viewer",
    response=History,
)
def shipments_history(caller: Caller, shipment_id: int) -> Response:
    with services().db.session() as session:
        get_shipment(session, shipment_id)
        events = shipment_history(session, shipment_id)
        return reply({"events": [render_event(e) for e in events]})


# ------------------------------------------------------------------ items


@api.route(
    "GET",
    "/shipments/{shipment_id}/items",
    summary="A shipment's items",
    tag="items",
    role="viewer",
    response=ItemList,
)
def items_list(caller: Caller, shipment_id: int) -> Response:
    with services().db.session() as session:
        return reply({"items": [render_item(i) for i in list_items(session, shipment_id)]})


@api.route(
    "POST",
    "/shipments/{shipment_id}/items",
    summary="Add an item",
    tag="items",
    role="coordinator",
    body=ItemIn,
    response=ItemOut,
    status=201,
)
def items_create(caller: Caller, shipment_id: int, body: dict) -> Response:
    with services().db.write() as session:
        data = render_item(add_item(session, shipment_id, body, actor=caller))
    return reply(
        data,
        201,
        version=data["version"],
        location=f"{PREFIX}/shipments/{shipment_id}/items/{data['id']}",
    )


@api.route(
    "POST",
    "/shipments/{shipment_id}/items/bulk",
    summary="Add many items at once, all or none",
    tag="items",
    role="coordinator",
    body=ItemsIn,
    response=ItemList,
)
def items_create_many(caller: Caller, shipment_id: int, body: dict) -> Response:
    """Up to 2,000 items in one transaction: one refused item refuses them all, each
    refusal named `items.<index>.<field>`. An item whose ISBN a line of the shipment
    already has (or an earlier item of the list) adds its copies to that line. Answers
    the lines added or changed."""
    rows = list(enumerate(body["items"]))
    with services().db.write() as session:
        lines = add_items(session, shipment_id, rows, actor=caller)
        data = [render_item(line) for line in lines]
    return reply({"items": data})


@api.route(
    "GET",
    "/shipments/{shipment_id}/items/{item_id}",
    summary="Read an item",
    tag="items",
    role="viewer",
    response=ItemOut,
)
def items_read(caller: Caller, shipment_id: int, item_id: int) -> Response:
    with services().db.session() as session:
        data = render_item(get_item(session, shipment_id, item_id))
    return reply(data, version=data["version"])


@api.route(
    "PATCH",
    "/shipments/{shipment_id}/items/{item_id}",
    summary="Change an item",
    tag="items",
    role="coordinator",
    body=partial(ItemIn),
    response=ItemOut,
    if_match=True,
)
def items_update(caller: Caller, shipment_id: int, item_id: int, body: dict) -> Response:
    """On an incoming shipment, `received_copies` may still be set once it is received."""
    expected = expected_version()
    with services().db.write() as session:
        item = update_item(
            session, shipment_id, item_id, body, actor=caller, expected_version=expected
        )
        data = render_item(item)
    return reply(data, version=data["version"])


@api.route(
    "DELETE",
    "/shipments/{shipment_id}/items/{item_id}",
    summary="Withdraw an item (kept in the history)",
    tag="items",
    role="coordinator",
    status=204,
    if_match=True,
)
def items_remove(caller: Caller, shipment_id: int, item_id: int) -> Response:
    expected = expected_version()
    with services().db.write() as session:
        remove_item(session, shipment_id, item_id, actor=caller, expected_version=expected)
    return Response(status=204)


# ------------------------------------------------------------------ catalogue-aware exchange

Listing = Callable[..., tuple[list[CatalogueEntry], int]]


def whole_list(institution_id: int, listing: Listing, **filters: object) -> list[CatalogueEntry]:
    """A whole exchange list, up to CSV_ROWS editions: what the API's CSV and the pages'
    download (in the page's language, `exchange.web.downloads`) both hold."""
    with services().db.session() as session:
        rows, _total = listing(
            session,
            institution_id,
            catalogue.partner_sources(session, institution_id),
            page=1,
            per_page=catalogue.CSV_ROWS,
            **filters,
        )
    return rows


def list_csv(kind: str, institution_id: int, listing: Listing, **filters: object) -> Response:
    """A whole exchange list as a spreadsheet for scripts: the API's column names."""
    rows = whole_list(institution_id, listing, **filters)
    return csv_reply(
        catalogue.CSV_COLUMNS, [asdict(row) for row in rows], f"{kind}-{institution_id}.csv"
    )


def _candidates(
    kind: str,
    institution_id: int,
    query: PageQuery,
    listing: Listing,
    **filters: object,
) -> Response:
    if wants_csv():
        return list_csv(kind, institution_id, listing, **filters)
    with services().db.session() as session:
        sources = catalogue.partner_sources(session, institution_id)
        rows, total = listing(
            session, institution_id, sources, page=query.page, per_page=query.per_page, **filters
        )
    return reply(
        {
            "items": [asdict(row) for row in rows],
            "total": total,
            "page": query.page,
            "per_page": query.per_page,
            "compared_with": sources,
        }
    )


@api.route(
    "GET",
    "/institutions/{institution_id}/offer-list",
    summary="What this library can offer a partner",
    tag="exchange lists",
    role="viewer",
    query=OfferQuery,
    response=CandidatePage,
    csv=True,
)
def offer_list(caller: Caller, institution_id: int, query: OfferQuery) -> Response:
    """This library's editions that the partner's harvested catalogue does not hold and
    that were not sent to them (a shipment cancelled, lost or returned does not count),
    newest first. `set` keeps to one OAI set, e.g. your own publications. Compared by
    edition: the same ISBN, or the same title, author and year in any script.
    `Accept: text/csv` for the whole list as a spreadsheet."""
    return _candidates(
        "offer-list",
        institution_id,
        query,
        catalogue.offer_list,
        set_spec=query.set,
        year_from=query.year_from,
    )


@api.route(
    "GET",
    "/institutions/{institution_id}/desiderata",
    summary="What this library lacks of a partner's recent books",
    tag="exchange lists",
    role="viewer",
    query=DesiderataQuery,
    response=CandidatePage,
    csv=True,
)
def desiderata(caller: Caller, institution_id: int, query: DesiderataQuery) -> Response:
    """The partner's records published since `since` (default: two years ago) of editions
    this library holds no record of and has not asked for or received, newest first.
    Empty when no harvest source is linked to the partner. `Accept: text/csv` for all."""
    return _candidates(
        "desiderata", institution_id, query, catalogue.desiderata, since_year=query.since
    )


@api.route(
    "POST",
    "/shipments/from-records",
    summary="Start a shipment from records",
    tag="exchange lists",
    role="coordinator",
    body=FromRecords,
    response=ShipmentOut,
    status=201,
)
def shipments_from_records(caller: Caller, body: dict) -> Response:
    """An outgoing shipment (draft) from offer-list records, or an incoming one
    (expected) from desiderata: one item per record, linked to it, one copy each."""
    values = FromRecords.model_validate(body)
    with services().db.write() as session:
        shipment = catalogue.start_shipment(
            session,
            values.partner_id,
            values.direction,
            values.identifiers,
            actor=caller,
            home_country=services().home_country,
        )
        data = with_totals(session, [shipment])[0]
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/shipments/{data['id']}")


@api.route(
    "POST",
    "/shipments/{shipment_id}/accession",
    summary="Catalogue a received shipment's items as records of this library",
    tag="exchange lists",
    role="coordinator",
    response=AccessionList,
)
def shipments_accession(caller: Caller, shipment_id: int) -> Response:
    """Each item of a received incoming shipment becomes a record of this library (a copy
    of the partner's MARC record it links to, else a brief record made from the item),
    in the OAI set exchange:received, served like any other; the item then names it.
    Items already naming a record of this library are left as they are, so repeating
    this is safe."""
    with services().db.write() as session:
        done = catalogue.accession(
            session,
            shipment_id,
            actor=caller,
            repository_identifier=services().config.oai.repository_identifier,
        )
    return reply({"records": [asdict(a) for a in done]})


# ------------------------------------------------------------------ reports


def _report(kind: str, year: int) -> Response:
    return _served(
        f"{kind}-{year}",
        kind,
        lambda connection, changes: served_report(connection, kind, year, changes),
    )


def _served(name: str, kind: str, compute: Callable[[Connection, int], dict]) -> Response:
    """A report as JSON or, for a report with a table (`reports.KEY_COLUMNS`), CSV, from the
    application's cache, with an ETag that changes with the ledger (If-None-Match gets a 304
    when nothing changed)."""
    as_csv = kind in reports.KEY_COLUMNS and wants_csv()
    with services().db.engine.connect() as connection:
        changes = ledger_changes(connection)
        tag = f"{name}-{changes}-{'csv' if as_csv else 'json'}"
        if request.if_none_match.contains(tag):
            return Response(status=304, headers={"ETag": f'"{tag}"'})
        data = compute(connection, changes)
    if as_csv:
        columns, rows = reports.csv_table(kind, data["rows"])
        response = csv_reply(columns, rows, f"{name}.csv")
    else:
        response = reply(data)
    response.headers["ETag"] = f'"{tag}"'
    return response


@api.route(
    "GET",
    "/reports/balance",
    summary="Exchange balance per partner for a year",
    tag="reports",
    role="viewer",
    query=YearQuery,
    response=BalanceReport,
    csv=True,
)
def report_balance(caller: Caller, query: YearQuery) -> Response:
    """Sent: outgoing shipments dispatched in the year and not lost or returned.
    Received: incoming shipments received (or accessioned), counting the copies that
    arrived. Values per currency, never converted. `Accept: text/csv` for a spreadsheet."""
    return _report("balance", query.year)


@api.route(
    "GET",
    "/reports/countries",
    summary="Exchange per country for a year",
    tag="reports",
    role="viewer",
    query=YearQuery,
    response=CountryReport,
    csv=True,
)
def report_countries(caller: Caller, query: YearQuery) -> Response:
    """Per country, with domestic, international and overall totals."""
    return _report("countries", query.year)


@api.route(
    "GET",
    "/reports/agreements",
    summary="The value balance of each value-for-value agreement for a year",
    tag="reports",
    role="viewer",
    query=YearQuery,
    response=ValueAgreementReport,
)
def report_agreements(caller: Caller, query: YearQuery) -> Response:
    """Each value-for-value agreement in force in the year or with shipments counted under
    it then: copies, and value per currency sent, received and sent less received."""
    return _report("agreements", query.year)


@api.route(
    "GET",
    "/reports/years",
    summary="Exchange year by year over a range of years",
    tag="reports",
    role="viewer",
    query=YearsQuery,
    response=YearsReport,
    csv=True,
)
def report_years(caller: Caller, query: YearsQuery) -> Response:
    """Each year from `first` to `last` (at most 20 years) with its totals, and per partner
    and per country the totals over the range. Values per currency, never converted.
    `Accept: text/csv` for the years as a spreadsheet."""
    return _served(
        f"years-{query.first}-{query.last}",
        "years",
        lambda connection, changes: served_years(connection, query.first, query.last, changes),
    )
