"""One peer's messages over several connections: Baku delivers to Tashkent over three
lanes (`[federation] delivery_connections = 3`). Two shipments travel at once, each one's
`Lost` after its `Shipped`; a lane whose message fails holds only its own shipment, and
a shipment's later message never overtakes the one that failed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from backends import Databases
from conftest import add_shipment
from federation_nodes import Node, node_pair
from sqlalchemy import select, update

from libfed.exchange.federation.client import Answer, PeerClient, PeerUnreachable
from libfed.exchange.federation.delivery import deliver
from libfed.exchange.federation.models import InboxMessage, OutboxMessage
from libfed.kernel import clock


@pytest.fixture
def three_lanes(databases: Databases, migrated_template: str) -> Iterator[tuple[Node, Node]]:
    """Baku, delivering over three lanes, and Tashkent, each the other's partner and peer."""
    with node_pair(databases, migrated_template, delivery_connections=3) as nodes:
        yield nodes


class _Gated(PeerClient):
    """Baku's client in every lane: each `Shipped` waits at `together` until the other
    shipment's is in flight too, which only two lanes sending at once can do; the
    messages in `down` fail as a server that does not answer would."""

    def __init__(self, node: Node, together: threading.Barrier | None, down: set[str]) -> None:
        super().__init__(node.config.federation, node.key)
        self.node, self.together, self.down = node, together, down

    def sibling(self) -> _Gated:
        return _Gated(self.node, self.together, self.down)

    def request(self, method: str, url: str, payload: dict | None = None) -> Answer:
        if payload is not None and payload["message_id"] in self.down:
            raise PeerUnreachable(f"{url}: no answer")
        if payload is not None and payload["type"] == "Shipped" and self.together is not None:
            self.together.wait(timeout=20)
        return super().request(method, url, payload)


def _two_lost_shipments(baku: Node) -> list[int]:
    """Two shipments to Tashkent dispatched, then both reported lost: four messages in
    the outbox, Shipped, Shipped, Lost, Lost."""
    moves = [("packed", "2026-03-02T09:00:00Z"), ("dispatched", "2026-03-03T09:00:00Z")]
    ids = [add_shipment(baku.api, baku.partners["tashkent"], moves=moves)["id"] for _ in "ab"]
    for ident in ids:
        assert baku.api.move(ident, "lost", note="Azərpoçt lost track").status_code == 200
    with baku.db.session() as session:
        kinds = session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["Shipped", "Shipped", "Lost", "Lost"]
    return ids


def _outbox(baku: Node, shipment_id: int) -> dict[str, str]:
    """A shipment's messages at Baku: type -> message id."""
    with baku.db.session() as session:
        rows = session.execute(
            select(OutboxMessage.kind, OutboxMessage.message_id).where(
                OutboxMessage.shipment_id == shipment_id
            )
        ).all()
    return dict(rows)


def _arrived(tashkent: Node) -> list[str]:
    """The message ids Tashkent applied, in the order it applied them."""
    with tashkent.db.session() as session:
        return list(session.scalars(select(InboxMessage.message_id).order_by(InboxMessage.id)))


def _statuses(tashkent: Node) -> list[str]:
    shipments = tashkent.api.get("/shipments?direction=incoming").get_json()["items"]
    return sorted(shipment["status"] for shipment in shipments)


def test_two_shipments_travel_at_once_each_in_its_order(three_lanes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = three_lanes
    ids = _two_lost_shipments(baku)
    client = _Gated(baku, threading.Barrier(2), set())
    try:
        report = deliver(baku.db, client)
    finally:
        client.close()
    assert (report.delivered, report.failed, report.refused) == (4, 0, 0), report.errors
    arrived = _arrived(tashkent)
    for ident in ids:
        sent = _outbox(baku, ident)
        assert arrived.index(sent["Shipped"]) < arrived.index(sent["Lost"])
    # Each Lost found its shipment expected: both are cancelled, saying why.
    assert _statuses(tashkent) == ["cancelled", "cancelled"]


def test_a_failing_lane_holds_only_its_shipment(three_lanes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = three_lanes
    first, second = _two_lost_shipments(baku)
    held = _outbox(baku, first)
    client = _Gated(baku, None, {held["Shipped"]})
    try:
        report = deliver(baku.db, client)
        assert (report.delivered, report.failed, report.refused) == (2, 1, 0)
        assert _arrived(tashkent) == [_outbox(baku, second)[k] for k in ("Shipped", "Lost")]
        assert _statuses(tashkent) == ["cancelled"]
        # The first shipment's Lost, due again before its Shipped is, still waits for it.
        with baku.db.write() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.message_id == held["Lost"])
                .values(next_attempt_at=clock.utc_now() - timedelta(seconds=1))
            )
        client.down.clear()
        assert deliver(baku.db, client).delivered == 0
    finally:
        client.close()
    # When its wait is over (a coordinator's sync), both go, in their order.
    assert baku.sync().delivered == 2
    arrived = _arrived(tashkent)
    assert arrived[2:] == [held["Shipped"], held["Lost"]]
    assert _statuses(tashkent) == ["cancelled", "cancelled"]
