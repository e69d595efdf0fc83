"""Reconciliation between two live servers: each side's year with the other, side by
side, and the shipments on which the two ledgers disagree. The peer's side comes from a
signed request that answers for the asking peer's institution only."""

from __future__ import annotations

from datetime import datetime

import requests
from conftest import PASSWORD, WebClient, add_partner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from federation_nodes import Node
from sqlalchemy import select

from libfed.exchange.federation.client import PeerClient
from libfed.exchange.federation.identity import NodeKey
from libfed.exchange.federation.models import Peer
from libfed.exchange.federation.schemas import MAX_TWINS
from libfed.kernel import clock

YEAR = clock.utc_now().year


def _peer_id(node: Node, name: str) -> int:
    with node.db.session() as session:
        return session.scalars(select(Peer.id).where(Peer.name == name)).one()


def _dispatch(node: Node, partner: str, copies: int, value: str = "10.00") -> dict:
    """An outgoing shipment of one title in `copies` copies at `value` EUR each, dispatched."""
    shipment = node.api.create(
        "/shipments", {"direction": "outgoing", "partner_id": node.partners[partner]}
    )
    node.api.create(
        f"/shipments/{shipment['id']}/items",
        {"title": "Azərbaycan tarixi", "copies": copies, "unit_value": value, "currency": "EUR"},
    )
    for to in ("packed", "dispatched"):
        response = node.api.move(shipment["id"], to)
        assert response.status_code == 200, response.get_json()
    return shipment


def _receive(node: Node, shipment_id: int, copies: int | None = None) -> None:
    """The expected twin received, with `copies` of its one item arrived (all if None)."""
    if copies is not None:
        [item] = node.api.get(f"/shipments/{shipment_id}/items").get_json()["items"]
        path = f"/shipments/{shipment_id}/items/{item['id']}"
        response = node.api.patch(path, {"received_copies": copies}, etag=node.api.etag(path))
        assert response.status_code == 200, response.get_json()
    response = node.api.move(shipment_id, "received")
    assert response.status_code == 200, response.get_json()


def _expected(node: Node) -> list[dict]:
    rows = node.api.get("/shipments?direction=incoming&status=expected").get_json()["items"]
    return sorted(rows, key=lambda row: row["id"])


def _reconcile(node: Node, peer: str, year: int = YEAR):  # type: ignore[no-untyped-def]
    return node.api.get(f"/peers/{_peer_id(node, peer)}/reconciliation?year={year}")


def _by_hand(node: Node, partner: str, direction: str, copies: int) -> dict:
    """A counted shipment typed in before the servers were linked."""
    moves = ("packed", "dispatched") if direction == "outgoing" else ("received",)
    shipment = node.api.create(
        "/shipments", {"direction": direction, "partner_id": node.partners[partner]}
    )
    node.api.create(f"/shipments/{shipment['id']}/items", {"title": "Xəmsə", "copies": copies})
    for to in moves:
        assert node.api.move(shipment["id"], to).status_code == 200
    return shipment


def test_a_year_of_exchange_agrees_and_then_differs_where_it_should(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    first = _dispatch(baku, "tashkent", 3)
    baku.sync()
    [twin] = _expected(tashkent)
    _receive(tashkent, twin["id"])
    tashkent.sync()

    answer = _reconcile(baku, "tashkent")
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert result["sent_by_us"] == {
        "sender": {"copies": 3, "value": {"EUR": "30.00"}},
        "receiver": {"copies": 3, "value": {"EUR": "30.00"}},
        "agree": True,
    }
    assert result["sent_by_them"]["agree"] is True
    assert result["differences"] == []
    assert [s["id"] for s in result["ours"]["shipments"]] == [first["id"]]
    assert [s["remote_id"] for s in result["theirs"]["shipments"]] == [first["id"]]

    # One received a copy short, one only Baku has (not yet delivered), one typed by hand.
    short = _dispatch(baku, "tashkent", 2)
    baku.sync()
    [short_twin] = _expected(tashkent)
    _receive(tashkent, short_twin["id"], copies=1)
    tashkent.sync()
    lonely = _dispatch(baku, "tashkent", 4)
    typed = _by_hand(tashkent, "baku", "incoming", 6)

    result = _reconcile(baku, "tashkent").get_json()
    assert result["sent_by_us"]["sender"]["copies"] == 3 + 2 + 4
    # Tashkent also counts what it typed by hand as received from Baku.
    assert result["sent_by_us"]["receiver"] == {"copies": 3 + 1 + 6, "value": {"EUR": "40.00"}}
    assert result["sent_by_us"]["agree"] is False
    assert result["sent_by_them"]["agree"] is True
    differing = {
        (d["ours"] or {}).get("id"): (d["reasons"], d["theirs"]) for d in result["differences"]
    }
    assert set(differing) == {short["id"], lonely["id"]}
    reasons, theirs = differing[short["id"]]
    assert reasons == ["short"] and theirs["id"] == short_twin["id"]
    assert theirs["copies"] == 2 and theirs["received_copies"] == 1
    assert differing[lonely["id"]] == (["only_here"], None)
    assert [s["id"] for s in result["theirs"]["not_linked"]] == [typed["id"]]
    assert result["ours"]["not_linked"] == []

    # Tashkent's view is the mirror: Baku's lonely shipment is only there.
    mirror = _reconcile(tashkent, "baku").get_json()
    assert mirror["sent_by_them"]["sender"]["copies"] == 9
    assert mirror["sent_by_them"]["receiver"]["copies"] == 10
    assert [s["id"] for s in mirror["ours"]["not_linked"]] == [typed["id"]]
    only_there = [d for d in mirror["differences"] if d["reasons"] == ["only_there"]]
    assert [d["theirs"]["id"] for d in only_there] == [lonely["id"]]


def test_states_that_do_not_belong_together_differ(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    sent = _dispatch(baku, "tashkent", 2)
    baku.sync()
    [twin] = _expected(tashkent)
    # Dispatched here and expected there tell the same story.
    assert _reconcile(baku, "tashkent").get_json()["differences"] == []
    _receive(tashkent, twin["id"])  # Baku not told yet: dispatched against received
    [difference] = _reconcile(baku, "tashkent").get_json()["differences"]
    assert difference["reasons"] == ["status"]
    assert (difference["ours"]["id"], difference["theirs"]["id"]) == (sent["id"], twin["id"])
    tashkent.sync()
    assert _reconcile(baku, "tashkent").get_json()["differences"] == []


def _signed_get(node: Node, key: NodeKey | None, query: str = f"year={YEAR}"):  # type: ignore[no-untyped-def]
    client = PeerClient(node.config.federation, key)
    try:
        return client.request("GET", f"{node.url}/federation/v1/reconciliation?{query}")
    finally:
        client.close()


def test_the_signed_side_answers_only_a_peer_and_only_about_it(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    from_baku = _by_hand(tashkent, "baku", "incoming", 2)
    samarkand = add_partner(tashkent.api, "Samarqand kutubxonasi", "UZ")
    tashkent.partners["samarkand"] = samarkand["id"]
    _by_hand(tashkent, "samarkand", "outgoing", 7)

    unsigned = requests.get(f"{tashkent.url}/federation/v1/reconciliation?year={YEAR}", timeout=10)
    assert unsigned.status_code == 401
    assert unsigned.json()["confirmation"]["error"]["code"] == "BadSignature"
    stranger = _signed_get(tashkent, NodeKey(Ed25519PrivateKey.generate()))
    assert stranger.status == 401
    assert stranger.body["confirmation"]["error"]["code"] == "UnknownPeer"
    assert "shipments" not in stranger.body

    answer = _signed_get(tashkent, baku.key)
    assert answer.status == 200, answer.body
    assert answer.body["received"]["copies"] == 2
    assert answer.body["sent"]["copies"] == 0  # Samarkand's seven copies are not Baku's business
    assert [s["id"] for s in answer.body["not_linked"]] == [from_baku["id"]]
    assert answer.body["shipments"] == []

    wrong = _signed_get(tashkent, baku.key, "year=1800")
    assert wrong.status == 400
    assert wrong.body["confirmation"]["error"]["code"] == "BadRequest"


def test_a_peer_answering_garbage_or_nothing_is_a_502_with_the_reason(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    assert _reconcile(baku, "tashkent", 1800).status_code == 400
    # The peer's reconciliation address answers its node document: JSON, not a side.
    with baku.db.write() as session:
        peer = session.scalars(select(Peer).where(Peer.name == "tashkent")).one()
        document = dict(peer.document)
        document["endpoints"] = dict(
            document["endpoints"], reconciliation=tashkent.url + "/.well-known/libfed-node"
        )
        peer.document = document
    answer = _reconcile(baku, "tashkent")
    assert answer.status_code == 502
    error = answer.get_json()["error"]
    assert error["code"] == "peer_unreachable"
    assert "not a reconciliation" in error["message"] and "year" in error["message"]

    tashkent.stop()
    answer = _reconcile(baku, "tashkent")
    assert answer.status_code == 502
    assert answer.get_json()["error"]["message"].startswith("the peer gave no usable answer: ")


def _pages(node: Node, role: str = "coordinator") -> WebClient:
    from libfed.accounts.users import find_user, set_password

    with node.db.write() as session:
        set_password(session, find_user(session, f"{role}-user"), PASSWORD)
    web = WebClient(node.app.test_client())
    assert web.sign_in(f"{role}-user").status_code == 302
    return web


def test_the_page_shows_both_sides_in_the_page_language(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    short = _dispatch(baku, "tashkent", 2, value="12.50")
    baku.sync()
    [twin] = _expected(tashkent)
    _receive(tashkent, twin["id"], copies=1)
    tashkent.sync()
    web = _pages(baku)
    partner_page = web.text(f"/partners/{baku.partners['tashkent']}")
    path = f"/partners/{baku.partners['tashkent']}/reconciliation"
    assert f'href="{path}"' in partner_page
    other = add_partner(baku.api, "Milli Kütüphane", "TR")
    assert "/reconciliation" not in web.text(f"/partners/{other['id']}")
    assert web.get(f"/partners/{other['id']}/reconciliation").status_code == 404

    page = web.in_language("ru").text(path)
    assert 'id="figures"' in page and 'class="scroll"' in page
    assert "25,00" in page and "12,50" in page  # sent 2 at 12.50, received 1: decimal commas
    assert 'id="differences"' in page and f'href="/shipments/{short["id"]}"' in page
    assert f'<option value="{YEAR}" selected>' in page
    assert web.get(f"{path}?year=nonsense").status_code == 400

    tashkent.stop()
    page = web.in_language("en").text(path)
    assert 'id="peer-failure"' in page and "25.00" in page  # our side still shown
    assert 'id="differences"' not in page
    assert _pages(baku, "viewer").get(path).status_code == 403


def test_a_parcel_crossing_the_new_year_is_counted_in_another_year_not_a_difference(
    two_nodes, clock
) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    clock.set(datetime(2025, 12, 28, 9, 0, 0))
    crossing = _dispatch(baku, "tashkent", 3)
    baku.sync()
    [twin] = _expected(tashkent)
    clock.set(datetime(2026, 1, 9, 14, 0, 0))
    _receive(tashkent, twin["id"])
    tashkent.sync()
    lonely = _dispatch(baku, "tashkent", 4)  # never told to Tashkent: a real difference

    for node, peer, ours, theirs in (
        (baku, "tashkent", crossing, twin),
        (tashkent, "baku", twin, crossing),
    ):
        for year in (2025, 2026):
            result = _reconcile(node, peer, year).get_json()
            [pair] = result["other_year"]
            assert (pair["ours"]["id"], pair["theirs"]["id"]) == (ours["id"], theirs["id"])
            sent, received = (pair["ours"], pair["theirs"])[:: 1 if node is baku else -1]
            assert (sent["counted_on"], sent["year"]) == ("2025-12-28", 2025)
            assert (received["counted_on"], received["year"]) == ("2026-01-09", 2026)
            differing = [(d["ours"] or d["theirs"])["id"] for d in result["differences"]]
            # The figures stay each side's: Baku counts the 3 copies in 2025, Tashkent in 2026.
            assert result["sent_by_us" if node is baku else "sent_by_them"]["agree"] is False
            if year == 2026:
                assert differing == [lonely["id"]]
            else:
                assert differing == []

    web = _pages(baku)
    path = f"/partners/{baku.partners['tashkent']}/reconciliation"
    page = web.in_language("en").text(f"{path}?year=2026")
    assert 'id="other-year"' in page
    assert "sent Dec 28, 2025, counted here in 2025" in page
    assert "received Jan 9, 2026, counted there in 2026" in page
    assert f'href="/shipments/{crossing["id"]}"' in page


def test_the_signed_side_tells_where_it_counts_only_the_callers_twins(two_nodes, clock) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    clock.set(datetime(2025, 12, 30, 9, 0, 0))
    crossing = _dispatch(baku, "tashkent", 1)
    baku.sync()
    [twin] = _expected(tashkent)
    clock.set(datetime(2026, 1, 2, 9, 0, 0))
    _receive(tashkent, twin["id"])

    answer = _signed_get(tashkent, baku.key, f"year=2025&twin={crossing['id']}&twin=999")
    assert answer.status == 200, answer.body
    assert answer.body["shipments"] == []
    [elsewhere] = answer.body["elsewhere"]
    assert (elsewhere["id"], elsewhere["year"]) == (twin["id"], 2026)
    # Asked for its own year, a twin is not elsewhere; too many twins are refused.
    assert (
        _signed_get(tashkent, baku.key, f"year=2026&twin={crossing['id']}").body["elsewhere"] == []
    )
    many = "&".join(f"twin={n}" for n in range(1, MAX_TWINS + 2))
    refused = _signed_get(tashkent, baku.key, f"year=2025&{many}")
    assert refused.status == 400
    assert refused.body["confirmation"]["error"]["code"] == "BadRequest"
    assert _signed_get(tashkent, baku.key, "year=2025&year=2026").status == 400
