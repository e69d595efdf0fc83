"""Shipment state machines: every transition the issue allows works, every other is refused.

The allowed moves are written out here from the issue, not read from exchange.states,
so that a change to the machines that the issue does not ask for fails a test.
"""

from __future__ import annotations

import pytest
from conftest import ApiCaller, add_partner, add_shipment

ALLOWED = {
    "outgoing": {
        "draft": {"packed", "cancelled"},
        "packed": {"dispatched", "cancelled"},
        "dispatched": {"delivered", "lost", "returned"},
        "delivered": {"acknowledged"},
        "acknowledged": set(),
        "cancelled": set(),
        "lost": set(),
        "returned": set(),
    },
    "incoming": {
        "expected": {"received", "cancelled"},
        "received": {"accessioned"},
        "accessioned": set(),
        "cancelled": set(),
    },
}
# How to get there from the initial state.
PATHS = {
    "draft": [],
    "packed": ["packed"],
    "dispatched": ["packed", "dispatched"],
    "delivered": ["packed", "dispatched", "delivered"],
    "acknowledged": ["packed", "dispatched", "delivered", "acknowledged"],
    "lost": ["packed", "dispatched", "lost"],
    "returned": ["packed", "dispatched", "returned"],
    "expected": [],
    "received": ["received"],
    "accessioned": ["received", "accessioned"],
}
EVERY_STATE = sorted({s for table in ALLOWED.values() for s in table})
CASES = [
    (direction, state, target)
    for direction, table in ALLOWED.items()
    for state in table
    for target in EVERY_STATE
]


def reach(api: ApiCaller, direction: str, state: str) -> dict:
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], direction)
    path = PATHS.get(state, ["cancelled"])
    for step in path:
        response = api.move(shipment["id"], step)
        assert response.status_code == 200, response.get_json()
    current = api.get(f"/shipments/{shipment['id']}").get_json()
    assert current["status"] == state
    return current


@pytest.mark.parametrize(("direction", "state", "target"), CASES)
def test_transition_is_allowed_exactly_when_the_issue_says(
    api: ApiCaller, direction: str, state: str, target: str
) -> None:
    shipment = reach(api, direction, state)
    path = f"/shipments/{shipment['id']}"
    events_before = len(api.get(f"{path}/history").get_json()["events"])

    response = api.post(f"{path}/transitions", {"to": target}, etag=f'"{shipment["version"]}"')

    after = api.get(path).get_json()
    if target in ALLOWED[direction][state]:
        assert response.status_code == 200, response.get_json()
        assert after["status"] == target
        assert after[f"{target}_at"] is not None
        assert after["version"] == shipment["version"] + 1
        assert response.headers["ETag"] == f'"{after["version"]}"'
    else:
        assert response.status_code == 409, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "conflict"
        assert sorted(error["allowed"]) == sorted(ALLOWED[direction][state])
        assert state in error["message"] and target in error["message"]
        assert after == shipment  # nothing moved, not even the version
        assert len(api.get(f"{path}/history").get_json()["events"]) == events_before


def test_allowed_transitions_are_listed_on_the_shipment(api: ApiCaller) -> None:
    for direction, table in ALLOWED.items():
        for state in table:
            shipment = reach(api, direction, state)
            assert set(shipment["allowed_transitions"]) == table[state]


@pytest.mark.parametrize("direction", ["outgoing", "incoming"])
def test_an_empty_shipment_cannot_be_packed_or_received(api: ApiCaller, direction: str) -> None:
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], direction, items=[])
    target = "packed" if direction == "outgoing" else "received"
    response = api.move(shipment["id"], target)
    assert response.status_code == 409
    assert "no items" in response.get_json()["error"]["message"]
    # Cancelling an empty shipment is fine.
    assert api.move(shipment["id"], "cancelled").status_code == 200


@pytest.mark.parametrize(
    ("direction", "state"),
    [("outgoing", s) for s in ("acknowledged", "cancelled", "lost", "returned")]
    + [("incoming", s) for s in ("accessioned", "cancelled")],
)
def test_a_terminal_shipment_accepts_no_change_at_all(
    api: ApiCaller, direction: str, state: str
) -> None:
    shipment = reach(api, direction, state)
    path = f"/shipments/{shipment['id']}"
    etag = f'"{shipment["version"]}"'
    changed = api.patch(path, {"carrier": "DHL"}, etag=etag)
    assert changed.status_code == 409
    assert "final state" in changed.get_json()["error"]["message"]
    added = api.post(f"{path}/items", {"title": "Late addition"})
    assert added.status_code == 409
    assert api.get(path).get_json() == shipment


@pytest.mark.parametrize(
    ("direction", "open_states", "closed_states"),
    [
        ("outgoing", ["draft", "packed"], ["dispatched", "delivered"]),
        ("incoming", ["expected"], ["received"]),
    ],
)
def test_items_change_only_before_dispatch_or_receipt(
    api: ApiCaller, direction: str, open_states: list[str], closed_states: list[str]
) -> None:
    for state in open_states:
        shipment = reach(api, direction, state)
        items = f"/shipments/{shipment['id']}/items"
        added = api.post(items, {"title": "Another book", "copies": 3})
        assert added.status_code == 201
        item = added.get_json()
        assert (
            api.patch(
                f"{items}/{item['id']}", {"copies": 4}, etag=f'"{item["version"]}"'
            ).status_code
            == 200
        )
    for state in closed_states:
        shipment = reach(api, direction, state)
        items = f"/shipments/{shipment['id']}/items"
        item = api.get(items).get_json()["items"][0]
        assert api.post(items, {"title": "Too late"}).status_code == 409
        refused = api.patch(f"{items}/{item['id']}", {"copies": 9}, etag=f'"{item["version"]}"')
        assert refused.status_code == 409
        assert api.delete(f"{items}/{item['id']}", etag=f'"{item["version"]}"').status_code == 409
        assert api.get(items).get_json()["items"] == [item]


def test_received_copies_may_still_be_recorded_once_received(api: ApiCaller) -> None:
    shipment = reach(api, "incoming", "received")
    items = f"/shipments/{shipment['id']}/items"
    item = api.get(items).get_json()["items"][0]
    response = api.patch(
        f"{items}/{item['id']}", {"received_copies": 1}, etag=f'"{item["version"]}"'
    )
    assert response.status_code == 200
    assert response.get_json()["received_copies"] == 1
    accessioned = reach(api, "incoming", "accessioned")
    items = f"/shipments/{accessioned['id']}/items"
    item = api.get(items).get_json()["items"][0]
    assert (
        api.patch(
            f"{items}/{item['id']}", {"received_copies": 1}, etag=f'"{item["version"]}"'
        ).status_code
        == 409
    )


def test_partner_can_change_before_dispatch_only(api: ApiCaller) -> None:
    other = add_partner(api, "Staatsbibliothek zu Berlin", "DE")
    draft = reach(api, "outgoing", "draft")
    moved = api.patch(
        f"/shipments/{draft['id']}", {"partner_id": other["id"]}, etag=f'"{draft["version"]}"'
    )
    assert moved.status_code == 200 and moved.get_json()["partner_id"] == other["id"]
    dispatched = reach(api, "outgoing", "dispatched")
    refused = api.patch(
        f"/shipments/{dispatched['id']}",
        {"partner_id": other["id"]},
        etag=f'"{dispatched["version"]}"',
    )
    assert refused.status_code == 422
    assert "partner_id" in refused.get_json()["error"]["fields"]
    # Tracking details may still be filled in after dispatch.
    tracked = api.patch(
        f"/shipments/{dispatched['id']}",
        {"tracking_number": "RR123456785AZ"},
        etag=f'"{dispatched["version"]}"',
    )
    assert tracked.status_code == 200


def test_status_and_direction_change_only_by_their_own_means(api: ApiCaller) -> None:
    shipment = reach(api, "outgoing", "draft")
    response = api.patch(
        f"/shipments/{shipment['id']}",
        {"status": "dispatched", "direction": "incoming"},
        etag=f'"{shipment["version"]}"',
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "transitions" in fields["status"] and "direction" in fields


def test_a_transition_can_be_dated_when_it_happened_and_sets_the_year(api: ApiCaller) -> None:
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    assert api.move(shipment["id"], "packed", at="2024-12-30T09:00:00Z").status_code == 200
    dispatched = api.move(shipment["id"], "dispatched", at="2024-12-31T23:30:00-02:00")
    assert dispatched.status_code == 200
    body = dispatched.get_json()
    assert body["dispatched_at"] == "2025-01-01T01:30:00Z"
    assert body["year"] == 2025  # the year it counts in follows the dispatch
    early = api.move(shipment["id"], "delivered", at="2024-12-31T00:00:00Z")
    assert early.status_code == 422 and "before" in early.get_json()["error"]["fields"]["at"]
    future = api.move(shipment["id"], "delivered", at="2999-01-01T00:00:00Z")
    assert future.status_code == 422 and "future" in future.get_json()["error"]["fields"]["at"]
