"""The audit trail: append-only, and enough to rebuild any shipment as it is served."""

from __future__ import annotations

import pytest
from conftest import ApiCaller, add_partner, add_shipment
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from libfed.kernel.db import Database

# Not recorded: the version and last-change time, and what a shipment derives from its
# state and its items.
UNRECORDED = {"version", "updated_at"}
SHIPMENT_DERIVED = UNRECORDED | {"allowed_transitions", "titles", "copies", "value"}


def replay(events: list[dict], entity: str) -> dict[int, dict]:
    """Objects rebuilt from nothing but their events' `changes`."""
    objects: dict[int, dict] = {}
    for event in events:
        if event["entity"] != entity:
            continue
        state = objects.setdefault(event["entity_id"], {})
        if event["action"] == "create":
            assert state == {}, "an object is created once"
        for field, (before, after) in event["changes"].items():
            assert state.get(field) == before, (field, state.get(field), before)
            state[field] = after
    return objects


def served(obj: dict, derived: set[str] = UNRECORDED) -> dict:
    return {k: v for k, v in obj.items() if k not in derived and v is not None}


def test_history_rebuilds_a_shipment_and_its_items(client, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    ayla = ApiCaller(client, tokens["coordinator"])
    boss = ApiCaller(client, tokens["admin"])
    partner = add_partner(ayla, "Централна библиотека на БАН", "BG")
    other = add_partner(ayla, "Milli Kütüphane", "TR")
    shipment = add_shipment(
        ayla,
        partner["id"],
        items=[
            {
                "title": "Азербайджанская литература",
                "copies": 2,
                "unit_value": "15",
                "currency": "EUR",
            },
            {"title": "Şuşa", "copies": 1, "isbn": "0-306-40615-2"},
            {"title": "Withdrawn", "copies": 9},
        ],
    )
    path = f"/shipments/{shipment['id']}"
    items = ayla.get(f"{path}/items").get_json()["items"]
    first, withdrawn = f"{path}/items/{items[0]['id']}", f"{path}/items/{items[2]['id']}"
    steps = [
        lambda: ayla.patch(path, {"carrier": "Azərpoçt", "parcels": 2}, etag=ayla.etag(path)),
        lambda: boss.patch(
            path, {"partner_id": other["id"], "notes": "moved to Ankara"}, etag=boss.etag(path)
        ),
        lambda: ayla.patch(first, {"copies": 5, "author": None}, etag=ayla.etag(first)),
        lambda: ayla.delete(withdrawn, etag=ayla.etag(withdrawn)),
        lambda: ayla.move(shipment["id"], "packed", note="two boxes"),
        lambda: ayla.patch(path, {"weight_kg": "7.5", "carrier": None}, etag=ayla.etag(path)),
        lambda: boss.move(shipment["id"], "dispatched"),
        lambda: ayla.patch(path, {"tracking_number": "RR000000000AZ"}, etag=ayla.etag(path)),
        lambda: ayla.move(shipment["id"], "delivered"),
    ]
    for step in steps:
        response = step()
        assert response.status_code in (200, 204), response.get_json()

    events = ayla.get(f"{path}/history").get_json()["events"]
    current = ayla.get(path).get_json()
    rebuilt = replay(events, "shipment")[shipment["id"]]
    assert {k: v for k, v in rebuilt.items() if v is not None} == served(current, SHIPMENT_DERIVED)

    rebuilt_items = replay(events, "item")
    live = {item["id"]: item for item in ayla.get(f"{path}/items").get_json()["items"]}
    for ident, item in live.items():
        assert {k: v for k, v in rebuilt_items[ident].items() if v is not None} == served(item)
    assert rebuilt_items[items[2]["id"]]["removed"] is True
    assert items[2]["id"] not in live

    transitions = [e for e in events if e["action"] == "transition"]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in transitions] == [
        ("draft", "packed", "coordinator-user"),
        ("packed", "dispatched", "admin-user"),
        ("dispatched", "delivered", "coordinator-user"),
    ]
    assert transitions[0]["note"] == "two boxes"
    moved = next(e for e in events if "partner_id" in e["changes"] and e["action"] == "update")
    assert moved["actor"] == "admin-user"
    assert moved["changes"]["partner_id"] == [partner["id"], other["id"]]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


def test_refused_requests_leave_no_trace(api: ApiCaller) -> None:
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    path = f"/shipments/{shipment['id']}"
    before = api.get(f"{path}/history").get_json()["events"]
    assert api.patch(path, {"parcels": -3}, etag='"1"').status_code == 422
    assert api.patch(path, {"parcels": 3}, etag='"99"').status_code == 412
    assert api.move(shipment["id"], "delivered").status_code == 409
    assert api.post(f"{path}/items", {"title": ""}).status_code == 422
    assert api.get(f"{path}/history").get_json()["events"] == before


def test_institution_and_agreement_changes_are_audited_too(api: ApiCaller) -> None:
    partner = add_partner(api, city="Ankara")
    api.patch(f"/institutions/{partner['id']}", {"city": "İstanbul"}, etag='"1"')
    events = api.get(f"/institutions/{partner['id']}/history").get_json()["events"]
    assert [e["action"] for e in events] == ["create", "update"]
    assert events[1]["changes"] == {"city": ["Ankara", "İstanbul"]}
    agreement = api.create(
        "/agreements", {"partner_id": partner["id"], "basis": "gift", "start_date": "2024-01-01"}
    )
    api.patch(f"/agreements/{agreement['id']}", {"basis": "copy_for_copy"}, etag='"1"')
    history = api.get(f"/agreements/{agreement['id']}/history").get_json()["events"]
    assert history[-1]["changes"] == {"basis": ["gift", "copy_for_copy"]}


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"]
)
def test_the_database_refuses_to_rewrite_history(
    api: ApiCaller, db: Database, statement: str
) -> None:
    add_partner(api)
    with pytest.raises(DatabaseError, match="append-only"), db.write() as session:
        session.execute(text(statement))
    with db.session() as session:
        assert (
            session.scalar(text("SELECT count(*) FROM audit_events WHERE actor = 'mallory'")) == 0
        )
        assert session.scalar(text("SELECT count(*) FROM audit_events")) >= 1
