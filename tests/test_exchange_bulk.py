"""The API's many items at once (POST /shipments/{id}/items/bulk), and when an incoming
shipment is expected (expected_by) through the API and the pages."""

from __future__ import annotations

import re

from libfed.exchange.schemas import MAX_BULK_ITEMS
from tests.conftest import ApiCaller, WebClient, add_partner, add_shipment


def _shipment(api: ApiCaller, direction: str = "outgoing") -> dict:
    return add_shipment(api, add_partner(api)["id"], direction, items=[])


def test_items_are_added_at_once_and_an_isbn_again_adds_copies(api: ApiCaller) -> None:
    shipment = _shipment(api)
    path = f"/shipments/{shipment['id']}/items/bulk"
    response = api.post(
        path,
        {
            "items": [
                {"title": "Bir", "isbn": "978-0-306-40615-7", "copies": 2},
                {"title": "İki", "unit_value": "5.00", "currency": "AZN"},
                {"title": "Bir", "isbn": "0306406152"},  # the same book as ISBN-10
            ]
        },
    )
    assert response.status_code == 200, response.get_json()
    lines = response.get_json()["items"]
    assert [(line["title"], line["copies"]) for line in lines] == [("Bir", 3), ("İki", 1)]
    totals = api.get(f"/shipments/{shipment['id']}").get_json()
    assert (totals["titles"], totals["copies"], totals["value"]) == (2, 4, {"AZN": "5.00"})
    again = api.post(path, {"items": [{"title": "Bir", "isbn": "9780306406157"}]})
    assert again.get_json()["items"][0]["copies"] == 4
    events = api.get(f"/shipments/{shipment['id']}/history").get_json()["events"]
    actions = [e["action"] for e in events if e["entity"] == "item"]
    assert actions == ["create", "create", "update", "update"]


def test_one_bad_item_refuses_them_all_named_by_index(api: ApiCaller) -> None:
    shipment = _shipment(api)
    path = f"/shipments/{shipment['id']}/items/bulk"
    response = api.post(
        path, {"items": [{"title": "Bir"}, {"title": "İki", "isbn": "9780306406158"}, {}]}
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"items.1.isbn", "items.2.title"}
    assert api.get(f"/shipments/{shipment['id']}/items").get_json()["items"] == []
    # A rule the item service checks (not the schema) is named the same way.
    response = api.post(path, {"items": [{"title": "Bir"}, {"title": "x", "received_copies": 1}]})
    assert set(response.get_json()["error"]["fields"]) == {"items.1.received_copies"}


def test_the_list_is_bounded_and_the_shipment_must_be_editable(api: ApiCaller) -> None:
    shipment = _shipment(api)
    path = f"/shipments/{shipment['id']}/items/bulk"
    assert api.post(path, {"items": []}).status_code == 422
    too_many = api.post(path, {"items": [{"title": "x"}] * (MAX_BULK_ITEMS + 1)})
    assert too_many.status_code == 422
    assert "items" in too_many.get_json()["error"]["fields"]
    api.post(path, {"items": [{"title": "x"}]})
    for step in ("packed", "dispatched"):
        assert api.move(shipment["id"], step).status_code == 200
    assert api.post(path, {"items": [{"title": "y"}]}).status_code == 409


def test_the_bulk_operation_is_in_the_openapi_document(client) -> None:  # type: ignore[no-untyped-def]
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/shipments/{shipment_id}/items/bulk"]["post"]
    assert operation["x-required-role"] == "coordinator"
    assert "422" in operation["responses"] and "200" in operation["responses"]


def test_only_coordinators_add_items_at_once(api: ApiCaller, viewer: ApiCaller) -> None:
    shipment = _shipment(api)
    response = viewer.post(f"/shipments/{shipment['id']}/items/bulk", {"items": [{"title": "x"}]})
    assert response.status_code == 403


# ------------------------------------------------------------------ expected_by


def test_an_incoming_shipment_says_when_it_is_expected(api: ApiCaller) -> None:
    partner = add_partner(api)["id"]
    shipment = api.create(
        "/shipments", {"direction": "incoming", "partner_id": partner, "expected_by": "2026-05-01"}
    )
    assert shipment["expected_by"] == "2026-05-01"
    path = f"/shipments/{shipment['id']}"
    changed = api.patch(path, {"expected_by": "2026-06-15"}, etag=api.etag(path))
    assert changed.get_json()["expected_by"] == "2026-06-15"
    cleared = api.patch(path, {"expected_by": None}, etag=api.etag(path))
    assert cleared.get_json()["expected_by"] is None
    bad = api.patch(path, {"expected_by": "15.06.2026"}, etag=api.etag(path))
    assert set(bad.get_json()["error"]["fields"]) == {"expected_by"}
    outgoing = api.post(
        "/shipments", {"direction": "outgoing", "partner_id": partner, "expected_by": "2026-05-01"}
    )
    assert outgoing.status_code == 422
    assert outgoing.get_json()["error"]["fields"] == {
        "expected_by": "applies to incoming shipments only"
    }


def test_expected_by_is_typed_as_a_date_and_shown_in_the_pages_language(
    pages: WebClient, api: ApiCaller
) -> None:
    partner = add_partner(api)["id"]
    response = pages.post(
        "/shipments/new",
        {"direction": "incoming", "partner_id": str(partner), "expected_by": "2026-05-01"},
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "<dd>May 1, 2026</dd>" in pages.text(location)
    form = pages.text(location + "/edit")
    assert re.search(r'id="f-expected_by"[^>]*type="date"[^>]*value="2026-05-01"', form, re.S)
    pages.in_language("ru")
    assert "<dd>1 мая 2026\u202fг.</dd>" in pages.text(location)  # noqa: RUF001
    # An outgoing shipment's form does not offer it.
    outgoing = add_shipment(api, partner)
    assert "expected_by" not in pages.text(f"/shipments/{outgoing['id']}/edit")
