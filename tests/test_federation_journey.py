"""One shipment, two ledgers: Baku dispatches to Tashkent and the two live servers keep
their twins agreeing through the shipment events (Shipped, Received, Accessioned,
Cancelled, Lost, Returned, Note), delivered when a test says so (`sync`)."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from conftest import PASSWORD, ApiCaller, WebClient, add_partner, add_shipment, signed_in_as
from federation_nodes import Node
from sqlalchemy import select, update

from libfed.exchange.federation.messages import enqueue
from libfed.exchange.federation.models import OutboxMessage, Peer, ShipmentLink

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


def _pages(node: Node, role: str = "coordinator") -> WebClient:
    """A browser session of the node's user of `role`."""
    from libfed.accounts.users import find_user, set_password

    with node.db.write() as session:
        set_password(session, find_user(session, f"{role}-user"), PASSWORD)
    return signed_in_as(node.app, f"{role}-user")


def _history(node: Node, shipment_id: int) -> list[dict]:
    return node.api.get(f"/shipments/{shipment_id}/history").get_json()["events"]


def _received_short(tashkent: Node, expected: dict) -> None:
    """Tashkent counts one copy short on the second line and marks the shipment received."""
    second = _items(tashkent, expected["id"])[1]
    path = f"/shipments/{expected['id']}/items/{second['id']}"
    response = tashkent.api.patch(path, {"received_copies": 1}, etag=tashkent.api.etag(path))
    assert response.status_code == 200, response.get_json()
    assert tashkent.api.move(expected["id"], "received").status_code == 200


def test_receipt_and_accession_close_the_loop_with_the_difference_on_both_sides(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    sent = _dispatched(baku, tashkent)
    baku.sync()
    [expected] = _incoming(tashkent)
    _received_short(tashkent, expected)
    assert tashkent.sync().delivered == 1
    ours = baku.api.get(f"/shipments/{sent['id']}").get_json()
    assert ours["status"] == "delivered"
    assert [i["received_copies"] for i in _items(baku, sent["id"])] == [3, 1, 1]
    assert _link(baku, sent["id"]).remote_id == expected["id"]  # learnt from Received
    moved = [e for e in _history(baku, sent["id"]) if e["action"] in ("transition", "receipt")]
    assert {e["actor"] for e in moved[-4:]} == {"peer:tashkent"}
    assert baku.api.get(f"/shipments/{sent['id']}/link").get_json() == {
        "peer": "tashkent",
        "remote_id": expected["id"],
        "state": "received",
    }
    # Received beside sent, the difference flagged, on both sides' pages.
    for node, shipment_id in ((baku, sent["id"]), (tashkent, expected["id"])):
        page = _pages(node).text(f"/shipments/{shipment_id}")
        assert 'id="received-differs"' in page
        assert "1 short" in page
    assert "Linked to shipment" in _pages(baku).text(f"/shipments/{sent['id']}")

    assert tashkent.api.move(expected["id"], "accessioned").status_code == 200
    assert tashkent.sync().delivered == 1
    assert baku.api.get(f"/shipments/{sent['id']}").get_json()["status"] == "acknowledged"
    assert tashkent.api.get(f"/shipments/{expected['id']}/link").get_json()["state"] == (
        "acknowledged"
    )
    # Nothing was told back: Baku's moves came from Tashkent.
    assert baku.sync().delivered == 0


def _notes(node: Node, shipment_id: int) -> list[dict]:
    return node.api.get(f"/shipments/{shipment_id}/notes").get_json()["items"]


def test_notes_are_one_thread_on_both_sides(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    sent = _dispatched(baku, tashkent)
    # Written before the peer has even heard of the shipment: it follows the Shipped.
    note = baku.api.post(f"/shipments/{sent['id']}/notes", {"body": "Two parcels, <b>tied</b>."})
    assert note.status_code == 201, note.get_json()
    baku.sync()
    [expected] = _incoming(tashkent)
    [heard] = _notes(tashkent, expected["id"])
    assert heard["body"] == "Two parcels, <b>tied</b>." and heard["peer"] == "baku"
    assert heard["note_id"] == note.get_json()["note_id"] and heard["seen"] is False
    page = _pages(tashkent).text(f"/shipments/{expected['id']}")
    assert "Two parcels, &lt;b&gt;tied&lt;/b&gt;." in page and ">new<" in page
    assert _notes(tashkent, expected["id"])[0]["seen"] is True  # the coordinator read it
    # The answer, from the page's form.
    web = _pages(tashkent)
    answer = web.post(f"/shipments/{expected['id']}/notes", {"body": "Both arrived, thank you."})
    assert answer.status_code == 303
    empty = web.post(f"/shipments/{expected['id']}/notes", {"body": "   "})
    assert empty.status_code == 422
    tashkent.sync()
    thread = _notes(baku, sent["id"])
    assert [n["body"] for n in thread] == ["Two parcels, <b>tied</b>.", "Both arrived, thank you."]
    assert [n["origin"] for n in thread] == ["here", "peer"]
    # A viewer reads the thread but may not write to it.
    viewer = ApiCaller(baku.app.test_client(), baku.tokens["viewer"])
    assert viewer.get(f"/shipments/{sent['id']}/notes").status_code == 200
    assert viewer.post(f"/shipments/{sent['id']}/notes", {"body": "x"}).status_code == 403


@pytest.mark.parametrize(("step", "word"), [("lost", "lost"), ("returned", "returned to it")])
def test_a_lost_or_returned_shipment_is_cancelled_at_the_peer_saying_why(  # type: ignore[no-untyped-def]
    two_nodes, step: str, word: str
) -> None:
    baku, tashkent = two_nodes
    sent = _dispatched(baku, tashkent)
    baku.sync()
    [expected] = _incoming(tashkent)
    assert baku.api.move(sent["id"], step, note="Azərpoçt lost track").status_code == 200
    assert baku.sync().delivered == 1
    shipment = tashkent.api.get(f"/shipments/{expected['id']}").get_json()
    assert shipment["status"] == "cancelled"
    [told] = _notes(tashkent, expected["id"])
    assert told["body"] == f"baku reports the shipment {word}.\nAzərpoçt lost track"
    [moved] = [e for e in _history(tashkent, expected["id"]) if e["action"] == "transition"]
    assert moved["actor"] == "peer:baku" and moved["note"] == told["body"]
    assert tashkent.sync().delivered == 0  # its cancellation is not told back


def test_a_cancelled_expectation_is_told_to_the_sender(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    sent = _dispatched(baku, tashkent)
    baku.sync()
    [expected] = _incoming(tashkent)
    moved = tashkent.api.move(expected["id"], "cancelled", note="We hold these already.")
    assert moved.status_code == 200
    assert tashkent.sync().delivered == 1
    assert baku.api.get(f"/shipments/{sent['id']}").get_json()["status"] == "dispatched"
    [told] = _notes(baku, sent["id"])
    assert told["body"] == "tashkent cancelled the shipment it expected.\nWe hold these already."
    last = _history(baku, sent["id"])[-1]
    assert (last["actor"], last["action"], last["note"]) == ("peer:tashkent", "told", told["body"])
    assert "the partner's server told" in _pages(baku).text(f"/shipments/{sent['id']}")


def _outbox(node: Node) -> list[OutboxMessage]:
    with node.db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _set_delivered(node: Node, kinds: set[str], value: datetime | None) -> None:
    with node.db.write() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.kind.in_(kinds)).values(delivered_at=value)
        )


def test_out_of_order_and_repeated_messages_change_nothing_more(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    sent = _dispatched(baku, tashkent)
    baku.sync()
    [expected] = _incoming(tashkent)
    _received_short(tashkent, expected)
    assert tashkent.api.move(expected["id"], "accessioned").status_code == 200
    # Accessioned arrives first (the Received held back): delivered, then acknowledged,
    # with the copies it carries again.
    _set_delivered(tashkent, {"Received"}, datetime(2000, 1, 1))
    assert tashkent.sync().delivered == 1
    assert baku.api.get(f"/shipments/{sent['id']}").get_json()["status"] == "acknowledged"
    assert [i["received_copies"] for i in _items(baku, sent["id"])] == [3, 1, 1]
    events = len(_history(baku, sent["id"]))
    # The late Received, then every message again (their marks lost): nothing more.
    _set_delivered(tashkent, {"Received"}, None)
    assert tashkent.sync().delivered == 1
    _set_delivered(tashkent, {"Received", "Accessioned"}, None)
    _set_delivered(baku, {"Shipped"}, None)
    assert tashkent.sync().delivered == 2 and baku.sync().delivered == 1
    assert len(_history(baku, sent["id"])) == events
    assert baku.api.get(f"/shipments/{sent['id']}").get_json()["status"] == "acknowledged"
    assert len(_incoming(tashkent)) == 1
    assert all(m.refused_code is None for m in _outbox(tashkent) + _outbox(baku))


def test_a_message_about_someone_elses_shipment_is_refused(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    ankara = add_partner(baku.api, "Milli Kütüphane", "TR")
    foreign = add_shipment(baku.api, ankara["id"], moves=[("packed", None), ("dispatched", None)])
    sent = _dispatched(baku, tashkent)
    baku.sync()
    [expected] = _incoming(tashkent)
    before = (baku.api.get(f"/shipments/{foreign['id']}").get_json(), _history(baku, foreign["id"]))
    with tashkent.db.write() as session:
        peer = session.scalar(select(Peer).where(Peer.name == "baku"))
        for kind, body in (
            ("Received", {"received_at": "2026-12-01T10:00:00Z", "items": []}),
            (
                "Note",
                {
                    "note_id": str(uuid.uuid4()),
                    "author": "x",
                    "body": "hi",
                    "created_at": "2026-12-01T10:00:00Z",
                },
            ),
        ):
            enqueue(
                session,
                peer,
                kind,
                {"shipment": expected["id"], "your_shipment": foreign["id"], **body},
            )
    assert tashkent.sync().refused == 2
    assert {m.refused_code for m in _outbox(tashkent)} == {"NotYourShipment"}
    after = (baku.api.get(f"/shipments/{foreign['id']}").get_json(), _history(baku, foreign["id"]))
    assert after == before and _notes(baku, foreign["id"]) == []
    assert baku.api.get(f"/shipments/{sent['id']}").get_json()["status"] == "dispatched"
    assert _link(baku, sent["id"]).remote_id is None  # nothing learnt from a refusal
