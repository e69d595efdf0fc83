"""/api/v1 for the exchange ledger: agreements, shipments, items, transitions, reports."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, request
from sqlalchemy import Connection

from libfed.api import (
    PREFIX,
    Api,
    csv_reply,
    database,
    expected_version,
    page_reply,
    partial,
    reply,
    wants_csv,
)
from libfed.audit import History, history, ledger_changes, render_event, shipment_history
from libfed.callers import Caller
from libfed.editing import get

from . import reports
from .agreements import create_agreement, list_agreements, update_agreement, with_usage
from .items import add_item, get_item, list_items, remove_item, render_item, update_item
from .models import Agreement
from .schemas import (
    AgreementIn,
    AgreementOut,
    AgreementPage,
    AgreementQuery,
    BalanceReport,
    CountryReport,
    ItemIn,
    ItemList,
    ItemOut,
    ShipmentCreate,
    ShipmentIn,
    ShipmentOut,
    ShipmentPage,
    ShipmentQuery,
    TransitionIn,
    YearQuery,
)
from .shipments import (
    FIXED,
    create_shipment,
    get_shipment,
    list_shipments,
    transition,
    update_shipment,
    with_totals,
)

api = Api("exchange")


def _home() -> str:
    return current_app.config["LIBFED"].exchange.home_country


# ------------------------------------------------------------------ agreements


@api.route("GET", "/agreements", summary="List agreements", tag="agreements", role="viewer",
           query=AgreementQuery, response=AgreementPage)
def agreements_list(caller: Caller, query: AgreementQuery) -> Response:
    with database().session() as session:
        rows, total = list_agreements(session, query)
        return page_reply(with_usage(session, rows), total, query)


@api.route("POST", "/agreements", summary="Add an agreement", tag="agreements",
           role="coordinator", body=AgreementIn, response=AgreementOut, status=201)
def agreements_create(caller: Caller, body: dict) -> Response:
    with database().write() as session:
        data = with_usage(session, [create_agreement(session, body, actor=caller)])[0]
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/agreements/{data['id']}")


@api.route("GET", "/agreements/{agreement_id}", summary="Read an agreement", tag="agreements",
           role="viewer", response=AgreementOut)
def agreements_read(caller: Caller, agreement_id: int) -> Response:
    with database().session() as session:
        data = with_usage(session, [get(session, Agreement, agreement_id, "agreement")])[0]
    return reply(data, version=data["version"])


@api.route("PATCH", "/agreements/{agreement_id}", summary="Change an agreement",
           tag="agreements", role="coordinator", body=partial(AgreementIn),
           response=AgreementOut, if_match=True)
def agreements_update(caller: Caller, agreement_id: int, body: dict) -> Response:
    expected = expected_version()
    with database().write() as session:
        agreement = update_agreement(
            session, agreement_id, body, actor=caller, expected_version=expected
        )
        data = with_usage(session, [agreement])[0]
    return reply(data, version=data["version"])


@api.route("GET", "/agreements/{agreement_id}/history", summary="An agreement's changes",
           tag="agreements", role="viewer", response=History)
def agreements_history(caller: Caller, agreement_id: int) -> Response:
    with database().session() as session:
        get(session, Agreement, agreement_id, "agreement")
        events = history(session, "agreement", agreement_id)
        return reply({"events": [render_event(e) for e in events]})


# ------------------------------------------------------------------ shipments


@api.route("GET", "/shipments", summary="List shipments, newest first", tag="shipments",
           role="viewer", query=ShipmentQuery, response=ShipmentPage)
def shipments_list(caller: Caller, query: ShipmentQuery) -> Response:
    """`year` is the year a shipment counts in: of its dispatch (outgoing) or receipt
    (incoming), else of its creation."""
    with database().engine.connect() as connection:
        rows, total = list_shipments(connection, query)
        return page_reply(with_totals(connection, rows), total, query)


@api.route("POST", "/shipments", summary="Start a shipment (outgoing: draft; incoming: expected)",
           tag="shipments", role="coordinator", body=ShipmentCreate, response=ShipmentOut,
           status=201)
def shipments_create(caller: Caller, body: dict) -> Response:
    with database().write() as session:
        shipment = create_shipment(session, body, actor=caller, home_country=_home())
        data = with_totals(session, [shipment])[0]
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/shipments/{data['id']}")


@api.route("GET", "/shipments/{shipment_id}", summary="Read a shipment", tag="shipments",
           role="viewer", response=ShipmentOut)
def shipments_read(caller: Caller, shipment_id: int) -> Response:
    with database().session() as session:
        data = with_totals(session, [get_shipment(session, shipment_id)])[0]
    return reply(data, version=data["version"])


@api.route("PATCH", "/shipments/{shipment_id}", summary="Change a shipment's details",
           tag="shipments", role="coordinator", body=partial(ShipmentIn), response=ShipmentOut,
           if_match=True, hints=FIXED)
def shipments_update(caller: Caller, shipment_id: int, body: dict) -> Response:
    expected = expected_version()
    with database().write() as session:
        shipment = update_shipment(
            session, shipment_id, body, actor=caller, home_country=_home(),
            expected_version=expected,
        )
        data = with_totals(session, [shipment])[0]
    return reply(data, version=data["version"])


@api.route("POST", "/shipments/{shipment_id}/transitions", summary="Move a shipment to a new state",
           tag="shipments", role="coordinator", body=TransitionIn, response=ShipmentOut,
           if_match=True)
def shipments_transition(caller: Caller, shipment_id: int, body: dict) -> Response:
    """409 names the states allowed from the present one (`allowed`)."""
    expected = expected_version()
    with database().write() as session:
        shipment = transition(session, shipment_id, body, actor=caller, expected_version=expected)
        data = with_totals(session, [shipment])[0]
    return reply(data, version=data["version"])


@api.route("GET", "/shipments/{shipment_id}/history",
           summary="Every change of the shipment and its items, oldest first",
           tag="shipments", role="viewer", response=History)
def shipments_history(caller: Caller, shipment_id: int) -> Response:
    with database().session() as session:
        get_shipment(session, shipment_id)
        events = shipment_history(session, shipment_id)
        return reply({"events": [render_event(e) for e in events]})


# ------------------------------------------------------------------ items


@api.route("GET", "/shipments/{shipment_id}/items", summary="A shipment's items",
           tag="items", role="viewer", response=ItemList)
def items_list(caller: Caller, shipment_id: int) -> Response:
    with database().session() as session:
        return reply({"items": [render_item(i) for i in list_items(session, shipment_id)]})


@api.route("POST", "/shipments/{shipment_id}/items", summary="Add an item", tag="items",
           role="coordinator", body=ItemIn, response=ItemOut, status=201)
def items_create(caller: Caller, shipment_id: int, body: dict) -> Response:
    with database().write() as session:
        data = render_item(add_item(session, shipment_id, body, actor=caller))
    return reply(data, 201, version=data["version"],
                 location=f"{PREFIX}/shipments/{shipment_id}/items/{data['id']}")


@api.route("GET", "/shipments/{shipment_id}/items/{item_id}", summary="Read an item",
           tag="items", role="viewer", response=ItemOut)
def items_read(caller: Caller, shipment_id: int, item_id: int) -> Response:
    with database().session() as session:
        data = render_item(get_item(session, shipment_id, item_id))
    return reply(data, version=data["version"])


@api.route("PATCH", "/shipments/{shipment_id}/items/{item_id}", summary="Change an item",
           tag="items", role="coordinator", body=partial(ItemIn), response=ItemOut,
           if_match=True)
def items_update(caller: Caller, shipment_id: int, item_id: int, body: dict) -> Response:
    """On an incoming shipment, `received_copies` may still be set once it is received."""
    expected = expected_version()
    with database().write() as session:
        item = update_item(
            session, shipment_id, item_id, body, actor=caller, expected_version=expected
        )
        data = render_item(item)
    return reply(data, version=data["version"])


@api.route("DELETE", "/shipments/{shipment_id}/items/{item_id}",
           summary="Withdraw an item (kept in the history)", tag="items", role="coordinator",
           status=204, if_match=True)
def items_remove(caller: Caller, shipment_id: int, item_id: int) -> Response:
    expected = expected_version()
    with database().write() as session:
        remove_item(session, shipment_id, item_id, actor=caller, expected_version=expected)
    return Response(status=204)


# ------------------------------------------------------------------ reports


def _report(
    kind: str,
    year: int,
    compute: Callable[[Connection, int, str], dict],
) -> Response:
    """A report as JSON or CSV, from the per-process cache, with an ETag that changes
    with the ledger (If-None-Match gets a 304 when nothing changed)."""
    cache = current_app.extensions.setdefault("libfed.reports", reports.ReportCache())
    as_csv = wants_csv()
    with database().engine.connect() as connection:
        changes = ledger_changes(connection)
        tag = f"{kind}-{year}-{changes}-{'csv' if as_csv else 'json'}"
        if request.if_none_match.contains(tag):
            return Response(status=304, headers={"ETag": f'"{tag}"'})
        data = cache.get(
            (kind, year, _home()), changes, lambda: compute(connection, year, _home())
        )
    if as_csv:
        columns, rows = reports.csv_table(kind, data["rows"])
        response = csv_reply(columns, rows, f"{kind}-{year}.csv")
    else:
        response = reply(data)
    response.headers["ETag"] = f'"{tag}"'
    return response


@api.route("GET", "/reports/balance", summary="Exchange balance per partner for a year",
           tag="reports", role="viewer", query=YearQuery, response=BalanceReport, csv=True)
def report_balance(caller: Caller, query: YearQuery) -> Response:
    """Sent: outgoing shipments dispatched in the year and not lost or returned.
    Received: incoming shipments received (or accessioned), counting the copies that
    arrived. Values per currency, never converted. `Accept: text/csv` for a spreadsheet."""
    return _report("balance", query.year, reports.balance)


@api.route("GET", "/reports/countries", summary="Exchange per country for a year",
           tag="reports", role="viewer", query=YearQuery, response=CountryReport, csv=True)
def report_countries(caller: Caller, query: YearQuery) -> Response:
    """Per country, with domestic, international and overall totals."""
    return _report("countries", query.year, reports.countries)
