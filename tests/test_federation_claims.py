"""Claims on offer lists between live servers: Baku reads Tashkent's offer list, signed,
and claims an edition; Tashkent has it on a draft shipment to Baku. First come, first
served: a third library claiming the same edition is refused, the same claim message
twice changes nothing, and nobody unsigned reads the list."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import PASSWORD
from federation_nodes import Node, federate, start_node
from sqlalchemy import select

from libfed.exchange.federation.models import OfferClaim, OutboxMessage, Peer
from tests.records_helpers import put


def _peer_id(node: Node, name: str) -> int:
    with node.db.session() as session:
        return session.scalars(select(Peer.id).where(Peer.name == name)).one()


@pytest.fixture
def offered(two_nodes: tuple[Node, Node]) -> dict[str, str]:
    """Two editions of Tashkent's own catalogue; Baku's catalogue is not harvested there,
    so Tashkent's offer list for Baku is every edition of its own."""
    _baku, tashkent = two_nodes
    return {
        "poems": put(
            tashkent.db,
            "1",
            title="Navoiy g'azallari",
            creator="Navoiy",
            language="uzb",
            date="2020",
        ),
        "atlas": put(tashkent.db, "2", title="Oʻzbekiston atlasi", language="uzb", date="2019"),
    }


def _offers(node: Node, peer: str) -> dict:
    response = node.api.get(f"/peers/{_peer_id(node, peer)}/offers")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _claim(node: Node, peer: str, identifier: str, copies: int = 1) -> dict:
    response = node.api.post(
        f"/peers/{_peer_id(node, peer)}/claims",
        {"record_identifier": identifier, "title": "any", "copies": copies},
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _claims(node: Node) -> list[dict]:
    return node.api.get("/claims").get_json()["items"]


def _drafts_to(node: Node, partner_id: int) -> list[dict]:
    shipments = node.api.get(
        f"/shipments?partner_id={partner_id}&direction=outgoing&status=draft"
    ).get_json()["items"]
    return [
        shipment | {"items": node.api.get(f"/shipments/{shipment['id']}/items").get_json()["items"]}
        for shipment in shipments
    ]


def test_a_claim_becomes_an_item_of_a_draft_shipment_to_the_claimant(two_nodes, offered) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    listed = _offers(baku, "tashkent")
    assert listed["total"] == 2
    assert {offer["record_identifier"] for offer in listed["items"]} == set(offered.values())
    poems = next(o for o in listed["items"] if o["record_identifier"] == offered["poems"])
    assert poems | {"claim": None} == {
        "record_identifier": offered["poems"],
        "title": "Navoiy g'azallari",
        "author": "Navoiy",
        "year": 2020,
        "isbn": None,
        "language": "uzb",
        "copies": 1,
        "claim": None,
    }

    assert _claim(baku, "tashkent", offered["poems"], copies=2)["status"] == "pending"
    assert baku.sync().delivered == 1
    assert [(c["record_identifier"], c["status"]) for c in _claims(baku)] == [
        (offered["poems"], "accepted")
    ]

    (draft,) = _drafts_to(tashkent, tashkent.partners["baku"])
    assert "Baku Library" in draft["notes"]
    assert [(i["record_identifier"], i["title"], i["copies"]) for i in draft["items"]] == [
        (offered["poems"], "Navoiy g'azallari", 2)
    ]
    history = tashkent.api.get(f"/shipments/{draft['id']}/history").get_json()
    assert {event["actor"] for event in history["events"]} == {"peer:baku"}

    # The claimed edition has left the list; a second claim joins the same draft.
    assert [o["record_identifier"] for o in _offers(baku, "tashkent")["items"]] == [
        offered["atlas"]
    ]
    _claim(baku, "tashkent", offered["atlas"])
    baku.sync()
    (draft,) = _drafts_to(tashkent, tashkent.partners["baku"])
    assert len(draft["items"]) == 2
    assert _offers(baku, "tashkent")["items"] == []


@pytest.fixture
def samarkand(databases, migrated_template, two_nodes: tuple[Node, Node]) -> Iterator[Node]:  # type: ignore[no-untyped-def]
    """A third library, Tashkent's partner and peer too."""
    node = start_node(databases, migrated_template, "samarkand", "UZ")
    try:
        federate(node, two_nodes[1])
        yield node
    finally:
        node.stop()
        databases.drop(node.config.database.url)


def test_first_come_first_served(two_nodes, offered, samarkand) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    assert _offers(samarkand, "tashkent")["total"] == 2
    _claim(baku, "tashkent", offered["poems"])
    _claim(samarkand, "tashkent", offered["poems"])
    assert baku.sync().delivered == 1
    refused = samarkand.sync()
    assert (refused.delivered, refused.refused) == (0, 1)
    (claim,) = _claims(samarkand)
    assert claim["status"] == "refused"
    assert claim["reason"].startswith("Unavailable")
    # Samarkand sees the edition gone; Tashkent has nothing for Samarkand.
    assert [o["record_identifier"] for o in _offers(samarkand, "tashkent")["items"]] == [
        offered["atlas"]
    ]
    assert _drafts_to(tashkent, tashkent.partners["samarkand"]) == []


def test_of_two_claims_at_the_same_moment_one_wins(two_nodes, offered, samarkand) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    _claim(baku, "tashkent", offered["poems"])
    _claim(samarkand, "tashkent", offered["poems"])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda node: node.sync(), (baku, samarkand)))
    statuses = sorted(claim["status"] for node in (baku, samarkand) for claim in _claims(node))
    assert statuses == ["accepted", "refused"]
    with tashkent.db.session() as session:
        assert len(session.scalars(select(OfferClaim)).all()) == 1
    drafts = [_drafts_to(tashkent, tashkent.partners[name]) for name in ("baku", "samarkand")]
    assert sorted(len(found) for found in drafts) == [0, 1]


def test_the_same_claim_message_twice_changes_nothing(two_nodes, offered) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    _claim(baku, "tashkent", offered["poems"], copies=3)
    baku.sync()
    with baku.db.write() as session:  # as if the confirmation had been lost
        message = session.scalars(select(OutboxMessage)).one()
        message.delivered_at = None
    assert baku.sync().delivered == 1
    (draft,) = _drafts_to(tashkent, tashkent.partners["baku"])
    assert [i["copies"] for i in draft["items"]] == [3]
    with tashkent.db.session() as session:
        assert len(session.scalars(select(OfferClaim)).all()) == 1
    assert [c["status"] for c in _claims(baku)] == ["accepted"]
    # Claimed again (a new message), and a record never offered: both refused.
    _claim(baku, "tashkent", offered["poems"])
    _claim(baku, "tashkent", "oai:test.libfed.org:nowhere")
    assert baku.sync().refused == 2
    assert [c["reason"] for c in _claims(baku)[:2]] == [
        "Unavailable: not offered",
        "Unavailable: already claimed",
    ]
    (draft,) = _drafts_to(tashkent, tashkent.partners["baku"])
    assert [i["copies"] for i in draft["items"]] == [3]


def test_the_offer_list_is_read_only_signed_by_a_peer(two_nodes, offered) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    unsigned = requests.get(tashkent.url + "/federation/v1/offers", timeout=10)
    assert unsigned.status_code == 401
    assert unsigned.json()["confirmation"]["error"]["code"] == "BadSignature"
    client = baku.client()
    try:
        answer = client.request("GET", tashkent.url + "/federation/v1/offers?per_page=500")
    finally:
        client.close()
    assert answer.status == 400
    assert answer.body["confirmation"]["error"]["code"] == "BadRequest"


def test_a_peer_that_does_not_answer_is_said_in_words(two_nodes, offered) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    tashkent.stop()
    response = baku.api.get(f"/peers/{_peer_id(baku, 'tashkent')}/offers")
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "peer_unreachable"


def _signed_in(node: Node) -> object:
    from conftest import WebClient

    from libfed.accounts.users import find_user, set_password

    with node.db.write() as session:
        set_password(session, find_user(session, "coordinator-user"), PASSWORD)
    web = WebClient(node.app.test_client())
    assert web.sign_in("coordinator-user").status_code == 302
    return web


def test_a_coordinator_claims_from_the_page(two_nodes, offered, samarkand) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    web = _signed_in(baku)
    partner_page = web.text(f"/partners/{baku.partners['tashkent']}")
    offers_path = f"/peers/{_peer_id(baku, 'tashkent')}/offers"
    assert offers_path in partner_page
    page = web.text(offers_path)
    assert "Navoiy g&#39;azallari" in page and "Oʻzbekiston atlasi" in page

    _claim(samarkand, "tashkent", offered["atlas"])
    samarkand.sync()

    claimed = web.post(
        offers_path.replace("offers", "claims"),
        {"record_identifier": offered["poems"], "title": "Navoiy g'azallari", "copies": "1"},
        follow_redirects=True,
    )
    text = claimed.get_data(as_text=True)
    assert "Claimed: Navoiy g&#39;azallari" in text
    # Samarkand took the atlas, and the poems are now ours: nothing is left on offer.
    assert "The partner offers this library nothing now." in text

    taken = web.post(
        offers_path.replace("offers", "claims"),
        {"record_identifier": offered["atlas"], "title": "Oʻzbekiston atlasi", "copies": "1"},
        follow_redirects=True,
    )
    assert "Already taken" in taken.get_data(as_text=True)
    mine = web.text("/claims")
    assert "Claimed" in mine and "Already taken by another library" in mine

    tashkent.stop()
    down = web.get(offers_path)
    assert down.status_code == 502
    assert "server did not answer" in down.get_data(as_text=True)


# ------------------------------------------------------------------ a claim released


def _claimed_draft(baku: Node, tashkent: Node, offered: dict[str, str]) -> dict:
    """Baku claims both editions; Tashkent's draft to Baku holds them."""
    _claim(baku, "tashkent", offered["poems"])
    _claim(baku, "tashkent", offered["atlas"])
    assert baku.sync().delivered == 2
    (draft,) = _drafts_to(tashkent, tashkent.partners["baku"])
    return draft


def _statuses(node: Node) -> dict[str, tuple[str, str | None]]:
    return {c["record_identifier"]: (c["status"], c["reason"]) for c in _claims(node)}


def test_a_cancelled_draft_releases_its_claims_and_tells_the_claimant(two_nodes, offered) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    draft = _claimed_draft(baku, tashkent, offered)
    assert _offers(baku, "tashkent")["items"] == []

    packed = tashkent.api.post(
        f"/shipments/{draft['id']}/transitions", {"to": "packed"}, etag=f'"{draft["version"]}"'
    )
    assert packed.status_code == 200, packed.get_json()
    cancelled = tashkent.api.post(
        f"/shipments/{draft['id']}/transitions",
        {"to": "cancelled"},
        etag=f'"{packed.get_json()["version"]}"',
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    # Offered again at once, before Baku hears of it.
    assert {o["record_identifier"] for o in _offers(baku, "tashkent")["items"]} == set(
        offered.values()
    )
    assert tashkent.sync().delivered == 2
    assert _statuses(baku) == {
        offered["poems"]: ("released", "cancelled"),
        offered["atlas"]: ("released", "cancelled"),
    }
    mine = _signed_in(baku).text("/claims")
    assert "Released: the partner cancelled the shipment it was on" in mine

    # The same ClaimReleased messages again change nothing.
    with tashkent.db.write() as session:
        for message in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "ClaimReleased")
        ):
            message.delivered_at = None
    assert tashkent.sync().delivered == 2
    assert _statuses(baku) == {
        offered["poems"]: ("released", "cancelled"),
        offered["atlas"]: ("released", "cancelled"),
    }
    # A new claim on a released edition is taken again, onto a new draft.
    _claim(baku, "tashkent", offered["poems"])
    assert baku.sync().delivered == 1
    (again,) = _drafts_to(tashkent, tashkent.partners["baku"])
    assert again["id"] != draft["id"]
    assert [i["record_identifier"] for i in again["items"]] == [offered["poems"]]


def test_a_claimed_item_removed_releases_that_claim(two_nodes, offered) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    draft = _claimed_draft(baku, tashkent, offered)
    poems = next(i for i in draft["items"] if i["record_identifier"] == offered["poems"])
    # As if Baku had not heard that Tashkent accepted: the release still applies.
    with baku.db.write() as session:
        claim = session.scalars(
            select(OfferClaim).where(OfferClaim.record_identifier == offered["poems"])
        ).one()
        claim.status = "pending"
        request_id = claim.message_id

    removed = tashkent.api.delete(
        f"/shipments/{draft['id']}/items/{poems['id']}", etag=f'"{poems["version"]}"'
    )
    assert removed.status_code == 204
    assert [o["record_identifier"] for o in _offers(baku, "tashkent")["items"]] == [
        offered["poems"]
    ]
    assert tashkent.sync().delivered == 1
    assert _statuses(baku) == {
        offered["poems"]: ("released", "removed"),
        offered["atlas"]: ("accepted", None),
    }
    # The claim's confirmation, arriving late, does not undo the release.
    with baku.db.write() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id == request_id)
        ).one()
        message.delivered_at = None
    assert baku.sync().delivered == 1
    assert _statuses(baku)[offered["poems"]] == ("released", "removed")
    assert "Released: the partner took it off the shipment" in _signed_in(baku).text("/claims")


def test_only_the_peer_that_took_a_claim_may_release_it(two_nodes, offered, samarkand) -> None:  # type: ignore[no-untyped-def]
    baku, _tashkent = two_nodes
    federate(samarkand, baku)
    _claim(baku, "tashkent", offered["poems"])
    baku.sync()
    with baku.db.session() as session:
        request_id = session.scalars(select(OfferClaim.message_id)).one()
    release = {
        "protocol": "libfed-exchange/1",
        "message_id": "7a1c9e2b-4d3f-4e8a-9b0c-1d2e3f4a5b6c",
        "type": "ClaimReleased",
        "created_at": "2026-03-01T10:00:00Z",
        "body": {
            "claim_message_id": request_id,
            "record_identifier": offered["poems"],
            "reason": "cancelled",
        },
    }
    client = samarkand.client()
    try:
        answer = client.request("POST", baku.url + "/federation/v1/inbox", release)
    finally:
        client.close()
    assert answer.status == 403
    assert answer.body["confirmation"]["error"]["code"] == "NotYourClaim"
    assert _statuses(baku) == {offered["poems"]: ("accepted", None)}


def test_the_offers_link_is_shown_only_to_those_who_may_claim(two_nodes, offered) -> None:  # type: ignore[no-untyped-def]
    from conftest import WebClient

    from libfed.accounts.users import find_user, set_password

    baku, _tashkent = two_nodes
    offers_path = f"/peers/{_peer_id(baku, 'tashkent')}/offers"
    with baku.db.write() as session:
        set_password(session, find_user(session, "viewer-user"), PASSWORD)
    viewer = WebClient(baku.app.test_client())
    assert viewer.sign_in("viewer-user").status_code == 302
    partner_page = viewer.text(f"/partners/{baku.partners['tashkent']}")
    assert 'href="/claims"' in partner_page and offers_path not in partner_page
    assert viewer.get(offers_path).status_code == 403
    coordinator = _signed_in(baku)
    assert offers_path in coordinator.text(f"/partners/{baku.partners['tashkent']}")
    # My claims names the partner's server, a link only for those who may open it.
    _claim(baku, "tashkent", offered["poems"])
    assert offers_path not in viewer.text("/claims")
    assert offers_path in coordinator.text("/claims")
