"""Peers on the pages, between two live servers: the list, an administrator's two steps
to add one (the address, then the fingerprint to compare), removing one after a
question, a peer's messages with "Deliver now", and the dashboard's lines on messages
that keep failing and on what peers changed."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from conftest import PASSWORD, WebClient
from federation_nodes import Node
from sqlalchemy import select

from libfed.exchange.federation import messages
from libfed.exchange.federation.models import InboxMessage, OutboxMessage, Peer
from libfed.exchange.federation.peers import peer_of_institution


def signed_in(node: Node, role: str) -> WebClient:
    from libfed.accounts.users import find_user, set_password

    with node.db.write() as session:
        set_password(session, find_user(session, f"{role}-user"), PASSWORD)
    web = WebClient(node.app.test_client())
    assert web.sign_in(f"{role}-user").status_code == 302
    return web


def the_peer(node: Node) -> Peer:
    with node.db.session() as session:
        return session.scalars(select(Peer)).one()


def test_an_administrator_adds_a_peer_in_two_steps(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    admin = signed_in(baku, "admin")
    peer = the_peer(baku)
    question = admin.text(f"/peers/{peer.id}/remove")
    assert "Messages will no longer go to the server of Tashkent Library" in question
    removed = admin.post(f"/peers/{peer.id}/remove", {"version": peer.version})
    assert removed.status_code == 303
    assert "No peers yet" in admin.text("/peers")

    form = admin.text("/peers/new")
    assert 'name="base_url"' in form and "Tashkent Library (UZ)" in form
    typed = {
        "name": "tashkent",
        "base_url": tashkent.url,
        "institution_id": baku.partners["tashkent"],
    }
    step_two = admin.post("/peers/new", {**typed, "step": "look"})
    assert step_two.status_code == 200
    page = step_two.get_data(as_text=True)
    assert "Compare this with your partner by telephone or e-mail" in page
    assert re.search(r'<code class="big"[^>]*>' + tashkent.key.fingerprint + "</code>", page)
    assert the_peer(baku).removed_at is not None  # nothing stored by looking

    # The page's fingerprint is checked again against the server's key.
    forged = admin.post(
        "/peers/new", {**typed, "step": "accept", "fingerprint": baku.key.fingerprint}
    )
    assert forged.status_code == 409
    assert "nothing was stored" in forged.get_data(as_text=True)
    assert the_peer(baku).removed_at is not None

    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    accepted = admin.post("/peers/new", {k: v for k, v in hidden.items() if k != "csrf_token"})
    assert accepted.status_code == 303, accepted.get_data(as_text=True)
    assert the_peer(baku).removed_at is None
    listed = admin.text("/peers")
    assert "tashkent" in listed and tashkent.key.fingerprint in listed


def test_the_form_says_what_is_wrong(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, _ = two_nodes
    admin = signed_in(baku, "admin")
    bad = admin.post(
        "/peers/new",
        {"name": "Not A Name", "base_url": "ftp://x", "institution_id": "", "step": "look"},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="e-name"' in page and 'id="e-base_url"' in page and 'id="e-institution_id"' in page
    nowhere = admin.post(
        "/peers/new",
        {
            "name": "nowhere",
            "base_url": baku.url + "/oai",
            "institution_id": baku.partners["tashkent"],
            "step": "look",
        },
    )
    assert nowhere.status_code == 422
    assert "No libfed server answers there" in nowhere.get_data(as_text=True)


def test_a_coordinator_sees_peers_but_cannot_add_or_remove(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    coordinator = signed_in(baku, "coordinator")
    listed = coordinator.text("/peers")
    assert tashkent.key.fingerprint in listed
    assert "/peers/new" not in listed
    peer = the_peer(baku)
    assert coordinator.get("/peers/new").status_code == 403
    typed = {"name": "x", "base_url": tashkent.url, "institution_id": 1, "step": "look"}
    assert coordinator.post("/peers/new", typed).status_code == 403
    assert coordinator.post(f"/peers/{peer.id}/remove", {"version": 1}).status_code == 403
    assert f"/peers/{peer.id}/remove" not in coordinator.text(f"/peers/{peer.id}")
    assert signed_in(baku, "viewer").get(f"/peers/{peer.id}").status_code == 403


def test_a_failing_message_is_shown_and_delivered_now(two_nodes, pings) -> None:  # type: ignore[no-untyped-def]
    baku, _ = two_nodes
    coordinator = signed_in(baku, "coordinator")
    with baku.db.write() as session:
        peer = peer_of_institution(session, baku.partners["tashkent"])
        assert peer is not None
        message = messages.enqueue(session, peer, "TestPing", {"n": 1})
        session.flush()
        message.attempts = baku.config.federation.failing_after_attempts
        message.last_error = "http://tashkent/inbox: ReadTimeout <script>"
    dashboard = coordinator.text("/")
    # The reason as received, escaped, and marked as code in no language.
    assert (
        "1 message to Tashkent Library not delivered: "
        '<code lang="zxx" translate="no">http://tashkent/inbox: ReadTimeout &lt;script&gt;</code>'
        in dashboard
    )
    assert f'href="/peers/{peer.id}"' in dashboard
    assert (
        'Not delivered yet, 6 attempts: <code lang="zxx" translate="no">http://tashkent/inbox: '
        "ReadTimeout &lt;script&gt;</code>" in coordinator.text(f"/peers/{peer.id}")
    )

    synced = coordinator.post(f"/peers/{peer.id}/sync")
    assert synced.status_code == 303
    page = coordinator.text(f"/peers/{peer.id}")
    assert "1 message delivered; nothing waits." in page
    assert "Delivered" in page
    assert pings == [("baku", {"n": 1})]
    assert "not delivered:" not in coordinator.text("/")
    with baku.db.session() as session:
        assert session.scalars(select(OutboxMessage)).one().delivered_at is not None


def test_the_dashboard_says_what_peers_changed(two_nodes) -> None:  # type: ignore[no-untyped-def]
    from conftest import add_shipment

    baku, _ = two_nodes
    shipment = add_shipment(baku.api, baku.partners["tashkent"], reference="EX/2026/3")
    with baku.db.write() as session:
        peer = peer_of_institution(session, baku.partners["tashkent"])
        assert peer is not None
        for kind in ("Received", "Note", "Teleport"):
            session.add(
                InboxMessage(
                    peer_id=peer.id,
                    message_id=str(uuid.uuid4()),
                    kind=kind,
                    received_at=datetime(2026, 12, 7, 10, 0),
                    shipment_id=None if kind == "Teleport" else shipment["id"],
                    body={},
                )
            )
    changes = signed_in(baku, "viewer").text("/")
    link = f'<a href="/shipments/{shipment["id"]}">EX/2026/3</a>'
    assert f"Tashkent Library received shipment {link}" in changes
    assert f"Tashkent Library wrote a note on shipment {link}" in changes
    assert "Tashkent Library sent: Teleport" in changes
