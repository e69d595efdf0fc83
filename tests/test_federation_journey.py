"""One shipment, two ledgers: Baku dispatches to Tashkent and the two live servers keep
their twins agreeing through the shipment events (Shipped, Received, Accessioned,
Cancelled, Lost, Returned, Note), delivered when a test says so (`sync`)."""

from __future__ import annotations

from federation_nodes import Node
from sqlalchemy import select

from libfed.exchange.federation.models import ShipmentLink

ITEMS = [
    {
        "title": "Azərbaycan tarixi",
        "isbn": "9789952123456",
        "copies": 3,
        "unit_value": "12.50",
        "currency": "AZN",
        "language": "aze",
        "year": 2024,
    },
    {"title": "Nizami Gəncəvi: Xəmsə", "author": "Nizami Gəncəvi", "copies": 2},
    {"title": "Bakı memarlığı", "copies": 1, "year": 2023},
]


def _dispatched(baku: Node, tashkent: Node) -> dict:
    """Baku's outgoing shipment to Tashkent with three items, packed and dispatched."""
    shipment = baku.api.create(
        "/shipments",
        {
            "direction": "outgoing",
            "partner_id": baku.partners["tashkent"],
            "carrier": "Azərpoçt",
            "tracking_number": "RR123456789AZ",
            "parcels": 2,
        },
    )
    for item in ITEMS:
        baku.api.create(f"/shipments/{shipment['id']}/items", item)
    for to in ("packed", "dispatched"):
        response = baku.api.move(shipment["id"], to)
        assert response.status_code == 200, response.get_json()
    return shipment


def _incoming(node: Node) -> list[dict]:
    return node.api.get("/shipments?direction=incoming").get_json()["items"]


def _items(node: Node, shipment_id: int) -> list[dict]:
    return node.api.get(f"/shipments/{shipment_id}/items").get_json()["items"]


def _link(node: Node, shipment_id: int) -> ShipmentLink | None:
    with node.db.session() as session:
        return session.scalar(select(ShipmentLink).where(ShipmentLink.shipment_id == shipment_id))


def test_a_dispatched_shipment_is_expected_at_the_peer(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    sent = _dispatched(baku, tashkent)
    assert _incoming(tashkent) == []  # nothing travels before delivery
    assert baku.sync().delivered == 1
    [expected] = _incoming(tashkent)
    assert expected["status"] == "expected"
    assert expected["partner_id"] == tashkent.partners["baku"]
    assert (expected["carrier"], expected["tracking_number"], expected["parcels"]) == (
        "Azərpoçt",
        "RR123456789AZ",
        2,
    )
    assert expected["copies"] == 6 and expected["value"] == {"AZN": "37.50"}
    items = _items(tashkent, expected["id"])
    assert [(i["title"], i["copies"]) for i in items] == [(i["title"], i["copies"]) for i in ITEMS]
    assert items[0]["isbn"] == "9789952123456" and items[1]["author"] == "Nizami Gəncəvi"
    link = _link(tashkent, expected["id"])
    assert link is not None and link.remote_id == sent["id"]
    ours = _link(baku, sent["id"])
    assert ours is not None and ours.remote_id is None  # learnt from Tashkent's first word
    history = tashkent.api.get(f"/shipments/{expected['id']}/history").get_json()["events"]
    assert {event["actor"] for event in history} == {"peer:baku"}
    # Delivered again (its mark lost): the same shipment, not a second.
    assert baku.sync().delivered == 0
    assert len(_incoming(tashkent)) == 1
