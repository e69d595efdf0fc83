"""Two coordinators at once, over real HTTP: one change wins, the other is told, none is lost."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from conftest import ApiCaller, add_partner, add_shipment


def race(calls: list[tuple[str, str, dict, dict]]) -> list[requests.Response]:
    """Send the (method, url, body, headers) requests at the same moment, each on its own
    connection."""
    barrier = threading.Barrier(len(calls))

    def run(call: tuple[str, str, dict, dict]) -> requests.Response:
        method, url, body, headers = call
        barrier.wait()
        return requests.request(method, url, json=body, headers=headers, timeout=10)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_same_etag_one_patch_wins_the_other_gets_412(
    live_server: str, api: ApiCaller, tokens: dict[str, str]
) -> None:
    base = live_server.removesuffix("/oai") + "/api/v1"
    auth = {"Authorization": f"Bearer {tokens['coordinator']}"}
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    url = f"{base}/shipments/{shipment['id']}"
    for round_ in range(10):
        etag = requests.get(url, headers=auth, timeout=10).headers["ETag"]
        carriers = [f"DHL-{round_}", f"EMS-{round_}"]
        responses = race(
            [("PATCH", url, {"carrier": c}, auth | {"If-Match": etag}) for c in carriers]
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 412], [r.json() for r in responses]
        winner = next(r for r in responses if r.status_code == 200).json()
        now = requests.get(url, headers=auth, timeout=10).json()
        assert now["carrier"] == winner["carrier"] and now["version"] == winner["version"]
        loser = next(r for r in responses if r.status_code == 412)
        assert loser.json()["error"]["code"] == "precondition_failed"
    history = api.get(f"/shipments/{shipment['id']}/history").get_json()["events"]
    updates = [e for e in history if e["action"] == "update"]
    assert len(updates) == 10  # every winning change recorded, no loser's


def test_two_transitions_from_one_state_only_one_happens(
    live_server: str, api: ApiCaller, tokens: dict[str, str]
) -> None:
    base = live_server.removesuffix("/oai") + "/api/v1"
    auth = {"Authorization": f"Bearer {tokens['coordinator']}"}
    partner = add_partner(api)
    for _ in range(5):
        shipment = add_shipment(api, partner["id"])
        api.move(shipment["id"], "packed")
        url = f"{base}/shipments/{shipment['id']}"
        etag = requests.get(url, headers=auth, timeout=10).headers["ETag"]
        responses = race(
            [
                ("POST", f"{url}/transitions", {"to": to}, auth | {"If-Match": etag})
                for to in ("dispatched", "cancelled")
            ]
        )
        assert sorted(r.status_code for r in responses) == [200, 412]
        final = requests.get(url, headers=auth, timeout=10).json()
        assert final["status"] == next(r for r in responses if r.ok).json()["status"]
        transitions = [
            e
            for e in api.get(f"/shipments/{shipment['id']}/history").get_json()["events"]
            if e["action"] == "transition"
        ]
        assert len(transitions) == 2  # packed, then the winner


def test_items_added_at_once_all_land_and_totals_add_up(
    live_server: str, api: ApiCaller, tokens: dict[str, str]
) -> None:
    base = live_server.removesuffix("/oai") + "/api/v1"
    auth = {"Authorization": f"Bearer {tokens['coordinator']}"}
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], items=[])
    url = f"{base}/shipments/{shipment['id']}/items"
    responses = race(
        [
            (
                "POST",
                url,
                {"title": f"Book {n}", "copies": n, "unit_value": "1.00", "currency": "AZN"},
                auth,
            )
            for n in range(1, 9)
        ]
    )
    assert all(r.status_code == 201 for r in responses)
    final = api.get(f"/shipments/{shipment['id']}").get_json()
    assert final["titles"] == 8 and final["copies"] == 36 and final["value"] == {"AZN": "36.00"}
