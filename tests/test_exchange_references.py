"""References numbered per year for outgoing shipments started without one, by the
configured pattern; typed references kept; distinct numbers under concurrency."""

from __future__ import annotations

import threading
from datetime import datetime

from flask import Flask

from libfed.kernel.config import parse_config
from libfed.kernel.db import Database
from libfed.root.app import create_app
from tests.conftest import ApiCaller, Clock, WebClient, add_partner, config_dict


def _start(api: ApiCaller, partner: int, direction: str = "outgoing", **fields: object) -> dict:
    return api.create("/shipments", {"direction": direction, "partner_id": partner, **fields})


def _app(database_url: str, db: Database, pattern: str) -> Flask:
    settings = config_dict(database_url)
    settings["exchange"] = {**settings["exchange"], "reference_pattern": pattern}
    return create_app(parse_config(settings), db)


def test_blank_references_of_outgoing_shipments_are_numbered_per_year(
    api: ApiCaller, clock: Clock
) -> None:
    partner = add_partner(api)["id"]
    clock.set(datetime(2026, 3, 1, 9, 0))
    first = _start(api, partner)
    second = _start(api, partner, reference=None)
    typed = _start(api, partner, reference="AMEA-2026/17")
    incoming = _start(api, partner, direction="incoming")
    third = _start(api, partner)
    assert [s["reference"] for s in (first, second, typed, incoming, third)] == [
        "EX/2026/1",
        "EX/2026/2",
        "AMEA-2026/17",
        None,
        "EX/2026/3",
    ]
    clock.set(datetime(2027, 1, 2, 9, 0))
    assert _start(api, partner)["reference"] == "EX/2027/1"
    # The reference is shown in the list and on the page.
    listed = api.get("/shipments?year=2026").get_json()["items"]
    assert {s["reference"] for s in listed} >= {"EX/2026/1", "EX/2026/3"}


def test_the_pattern_is_configured_and_a_typed_reference_is_never_repeated(
    database_url: str, db: Database, tokens: dict[str, str], clock: Clock
) -> None:
    app = _app(database_url, db, "MEK-EX/{year}/{n:04d}")
    api = ApiCaller(app.test_client(), tokens["coordinator"])
    partner = add_partner(api)["id"]
    year = clock().year
    # Someone typed what the counter gives next: the counter goes past it.
    assert _start(api, partner, reference=f"MEK-EX/{year}/0001")["reference"].endswith("0001")
    assert _start(api, partner)["reference"] == f"MEK-EX/{year}/0002"
    assert _start(api, partner)["reference"] == f"MEK-EX/{year}/0003"


def test_a_shipment_started_on_the_web_without_a_reference_shows_its_number(
    pages: WebClient, api: ApiCaller
) -> None:
    partner = add_partner(api)["id"]
    response = pages.post(
        "/shipments/new", {"direction": "outgoing", "partner_id": partner, "reference": " "}
    )
    assert response.status_code == 303
    reference = f"EX/{api.get('/shipments').get_json()['items'][0]['year']}/1"
    assert f"· {reference}" in pages.text(response.headers["Location"])
    assert f"· {reference}</a>" in pages.text("/shipments")


def test_a_refused_shipment_does_not_use_up_a_number(api: ApiCaller) -> None:
    partner = add_partner(api)["id"]
    refused = api.post("/shipments", {"direction": "outgoing", "partner_id": 999_999})
    assert refused.status_code == 422
    assert _start(api, partner)["reference"].endswith("/1")


def test_shipments_started_at_once_get_distinct_numbers(app: Flask, tokens: dict[str, str]) -> None:
    """Two coordinators (two threads, two connections) saving shipments at the same time."""
    partner = add_partner(ApiCaller(app.test_client(), tokens["coordinator"]))["id"]
    each = 10
    start = threading.Barrier(2)
    got: list[str] = []
    failed: list[BaseException] = []

    def coordinator() -> None:
        api = ApiCaller(app.test_client(), tokens["coordinator"])
        try:
            start.wait()
            for _ in range(each):
                got.append(_start(api, partner)["reference"])
        except BaseException as error:  # reported by the test, not lost in the thread
            failed.append(error)

    threads = [threading.Thread(target=coordinator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed
    assert len(got) == 2 * each
    numbers = sorted(int(reference.rsplit("/", 1)[1]) for reference in got)
    assert numbers == list(range(1, 2 * each + 1))
