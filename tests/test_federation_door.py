"""The federation's door, between two live servers: node documents, peering, and which
signed messages are heard. A forged, replayed, stale or unknown-peer message changes
nothing; the same message twice is applied once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from federation_nodes import Node, make_peer, start_node
from sqlalchemy import func, select

from libfed.exchange.federation import messages
from libfed.exchange.federation.identity import WELL_KNOWN_PATH, NodeKey, fingerprint
from libfed.exchange.federation.models import InboxMessage, OutboxMessage
from libfed.exchange.federation.signing import sign


def _envelope(kind: str = "TestPing", body: dict | None = None, message_id: str | None = None):  # type: ignore[no-untyped-def]
    return {
        "protocol": "libfed-exchange/1",
        "message_id": message_id or str(uuid.uuid4()),
        "type": kind,
        "created_at": "2026-12-07T10:00:00Z",
        "body": body or {"n": 1},
    }


def _post(url: str, payload: dict, key: NodeKey | None, created: datetime | None = None):  # type: ignore[no-untyped-def]
    request = requests.Request(
        "POST",
        url + "/federation/v1/inbox",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    ).prepare()
    if key is not None:
        if created is None:
            sign(request, key)
        else:
            from libfed.exchange.federation import signing

            original = signing.datetime

            class _Then(datetime):
                @classmethod
                def now(cls, tz=None):  # type: ignore[no-untyped-def]
                    return created

            signing.datetime = _Then  # type: ignore[misc]
            try:
                sign(request, key)
            finally:
                signing.datetime = original  # type: ignore[misc]
    with requests.Session() as session:
        return session.send(request, timeout=10)


def _inbox(node: Node) -> int:
    with node.db.session() as session:
        return session.scalar(select(func.count()).select_from(InboxMessage)) or 0


def test_the_node_document_names_the_server_and_its_key(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, _ = two_nodes
    document = requests.get(baku.url + WELL_KNOWN_PATH, timeout=10).json()
    assert document["base_url"] == baku.url
    assert document["institution"] == {"name": "Baku Library", "country": "AZ", "isil": None}
    assert document["endpoints"]["inbox"] == baku.url + "/federation/v1/inbox"
    assert document["public_key"]["fingerprint"] == baku.key.fingerprint
    assert document["public_key"]["key_id"] == baku.key.key_id


def test_a_message_is_heard_once_and_confirmed(two_nodes, pings) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    payload = _envelope()
    first = _post(tashkent.url, payload, baku.key)
    assert first.status_code == 200, first.text
    assert first.json()["confirmation"] == {"message_id": payload["message_id"], "status": "OK"}
    again = _post(tashkent.url, payload, baku.key)  # a retry: new signature, same message
    assert again.json()["confirmation"]["duplicate"] is True
    assert pings == [("baku", {"n": 1})]
    assert _inbox(tashkent) == 1


def test_forged_replayed_stale_and_unknown_are_refused_and_change_nothing(two_nodes, pings) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    # Signed by a key nobody added.
    stranger = NodeKey(Ed25519PrivateKey.generate())
    answer = _post(tashkent.url, _envelope(), stranger)
    assert answer.status_code == 401
    assert answer.json()["confirmation"]["error"]["code"] == "UnknownPeer"
    # Not signed at all.
    answer = _post(tashkent.url, _envelope(), None)
    assert answer.json()["confirmation"]["error"]["code"] == "BadSignature"
    # Signed by Baku's key id, but with another key: a forgery.
    forged = requests.Request(
        "POST",
        tashkent.url + "/federation/v1/inbox",
        data=json.dumps(_envelope()).encode(),
        headers={"Content-Type": "application/json"},
    ).prepare()
    sign(forged, stranger)
    forged.headers["Signature-Input"] = forged.headers["Signature-Input"].replace(
        stranger.key_id, baku.key.key_id
    )
    with requests.Session() as session:
        answer = session.send(forged, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["confirmation"]["error"]["code"] == "BadSignature"
    # A body changed after signing.
    tampered = requests.Request(
        "POST",
        tashkent.url + "/federation/v1/inbox",
        data=json.dumps(_envelope()).encode(),
        headers={"Content-Type": "application/json"},
    ).prepare()
    sign(tampered, baku.key)
    tampered.body = json.dumps(_envelope(body={"n": 666})).encode()
    tampered.headers["Content-Length"] = str(len(tampered.body))
    with requests.Session() as session:
        answer = session.send(tampered, timeout=10)
    assert answer.json()["confirmation"]["error"]["code"] == "BadSignature"
    # Signed an hour ago.
    answer = _post(tashkent.url, _envelope(), baku.key, datetime.now(UTC) - timedelta(hours=1))
    assert answer.json()["confirmation"]["error"]["code"] == "BadSignature"
    # The very same signed request twice: a replay.
    request = requests.Request(
        "POST",
        tashkent.url + "/federation/v1/inbox",
        data=json.dumps(_envelope()).encode(),
        headers={"Content-Type": "application/json"},
    ).prepare()
    sign(request, baku.key)
    with requests.Session() as session:
        assert session.send(request, timeout=10).status_code == 200
        replay = session.send(request, timeout=10)
    assert replay.status_code == 401
    assert replay.json()["confirmation"]["error"]["code"] == "Replayed"
    assert len(pings) == 1
    assert _inbox(tashkent) == 1


def test_bad_messages_get_an_error_confirmation(two_nodes, pings) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    unknown = _post(tashkent.url, _envelope(kind="Teleport"), baku.key)
    assert unknown.status_code == 422
    assert unknown.json()["confirmation"]["error"]["code"] == "UnsupportedAction"
    broken = _post(tashkent.url, {"protocol": "libfed-exchange/1", "type": "TestPing"}, baku.key)
    assert broken.status_code == 400
    assert broken.json()["confirmation"]["error"]["code"] == "BadRequest"
    deep: dict = {}
    for _ in range(100):
        deep = {"x": deep}
    nested = _post(tashkent.url, _envelope(body=deep), baku.key)
    assert nested.json()["confirmation"]["error"]["code"] == "BadRequest"
    huge = _post(tashkent.url, _envelope(body={"x": "a" * (1100 * 1024)}), baku.key)
    assert huge.status_code == 413
    assert huge.json()["confirmation"]["error"]["code"] == "BadRequest"
    lost = requests.get(tashkent.url + "/federation/v1/nowhere", timeout=10)
    assert lost.status_code == 404
    assert lost.json()["confirmation"]["status"] == "ERROR"
    assert pings == []


def test_messages_wait_until_the_other_side_adds_us(databases, migrated_template, pings) -> None:  # type: ignore[no-untyped-def]
    from federation_nodes import federate

    baku = start_node(databases, migrated_template, "baku", "AZ")
    tashkent = start_node(databases, migrated_template, "tashkent", "UZ")
    try:
        federate(baku, tashkent, both=False)  # Baku added Tashkent; Tashkent not yet Baku
        with baku.db.write() as session:
            from libfed.exchange.federation.peers import peer_of_institution

            peer = peer_of_institution(session, baku.partners["tashkent"])
            assert peer is not None
            messages.enqueue(session, peer, "TestPing", {"n": 7})
        report = baku.sync()
        assert (report.delivered, report.failed) == (0, 1)
        assert "UnknownPeer" in report.errors[0]
        make_peer(tashkent, baku, tashkent.partners["baku"])
        report = baku.sync()
        assert report.delivered == 1
        assert pings == [("baku", {"n": 7})]
        with baku.db.session() as session:
            sent = session.scalars(select(OutboxMessage)).one()
            assert sent.delivered_at is not None and sent.attempts == 2
    finally:
        for node in (baku, tashkent):
            node.stop()
            databases.drop(node.config.database.url)


def test_fingerprints_are_read_out_in_groups() -> None:
    assert len(fingerprint(b"\x00" * 32).split()) == 8
