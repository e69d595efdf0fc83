"""Peers as an operator and an administrator handle them, between two live servers:
`libfed peers add/list/remove/sync`, and /api/v1/peers (look at a server's node
document, accept it by its fingerprint, remove it, a peer's outbox and "deliver now").
A wrong fingerprint or a hostile node document is refused with its reason and stores
nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ApiCaller, write_config
from federation_nodes import Node
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from libfed.exchange.federation import messages
from libfed.exchange.federation.identity import WELL_KNOWN_PATH
from libfed.exchange.federation.peers import peer_of_institution
from libfed.kernel.config import CONFIG_ENV, DATABASE_URL_ENV
from libfed.root.cli import main

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


def cli(node: Node, tmp_path: Path) -> Invoke:
    """`libfed --config <node's settings> ...`, as its operator types it."""
    path = write_config(tmp_path / f"{node.name}.toml", node.config)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, ["--config", str(path), *args], input=input)

    return invoke


def ping(node: Node, other: str, n: int = 1) -> None:
    """A message from `node` to its peer `other`, written as a change would write it."""
    with node.db.write() as session:
        peer = peer_of_institution(session, node.partners[other])
        assert peer is not None
        messages.enqueue(session, peer, "TestPing", {"n": n})


def as_role(node: Node, role: str) -> ApiCaller:
    return ApiCaller(node.app.test_client(), node.tokens[role])


def peer_id(node: Node) -> int:
    items = node.api.get("/peers").get_json()["items"]
    assert len(items) == 1, items
    return items[0]["id"]


# ------------------------------------------------------------------ the command line


def test_peers_add_shows_the_fingerprint_and_asks(two_nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    run = cli(baku, tmp_path)
    removed = run("peers", "remove", "tashkent")
    assert removed.exit_code == 0, removed.output
    assert run("peers", "list").output.strip() == ""
    assert "tashkent (removed)" in run("peers", "list", "--all").output

    partner = str(baku.partners["tashkent"])
    refused = run("peers", "add", "tashkent", tashkent.url, "--institution", partner, input="n\n")
    assert refused.exit_code == 1
    assert f"key fingerprint: {tashkent.key.fingerprint}" in refused.output
    assert "Tashkent Library (UZ)" in refused.output
    assert "not added" in refused.output
    assert run("peers", "list").output.strip() == ""

    added = run("peers", "add", "tashkent", tashkent.url, "--institution", partner, "--yes")
    assert added.exit_code == 0, added.output
    assert f"peer tashkent added for institution {partner}" in added.output
    listed = run("peers", "list")
    assert listed.output.split("\t") == [
        "tashkent",
        f"institution {partner}",
        tashkent.url,
        tashkent.key.fingerprint,
        "0 undelivered\n",
    ]


def test_peers_add_refuses_an_address_without_a_node(two_nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    baku, _ = two_nodes
    run = cli(baku, tmp_path)
    result = run("peers", "add", "nobody", baku.url + "/oai", "--institution", "1", "--yes")
    assert result.exit_code == 1
    assert f"{baku.url}/oai{WELL_KNOWN_PATH}: answered 404" in result.output


def test_peers_sync_fails_while_a_peer_is_down(two_nodes, tmp_path: Path, pings) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    run = cli(baku, tmp_path)
    port = int(tashkent.url.rsplit(":", 1)[1])
    tashkent.stop()  # its server: the database stays
    ping(baku, "tashkent", 3)
    down = run("peers", "sync")
    assert down.exit_code == 1
    assert "delivered 0, refused 0, failed 1" in down.output
    assert "1 message(s) still undelivered" in down.output
    assert "1 undelivered" in run("peers", "list").output
    server = make_server("127.0.0.1", port, tashkent.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        up = run("peers", "sync")
        assert up.exit_code == 0, up.output
        assert "delivered 1, refused 0, failed 0" in up.output
    finally:
        server.shutdown()
        thread.join()
    assert pings == [("baku", {"n": 3})]
    assert "0 undelivered" in run("peers", "list").output


# ------------------------------------------------------------------ /api/v1/peers


def test_peers_are_listed_with_their_partner_and_fingerprint(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    answer = as_role(baku, "viewer").get("/peers")
    assert answer.status_code == 200
    [peer] = answer.get_json()["items"]
    assert peer["name"] == "tashkent"
    assert peer["partner"] == {"id": baku.partners["tashkent"], "name": "Tashkent Library"}
    assert peer["base_url"] == tashkent.url
    assert peer["fingerprint"] == tashkent.key.fingerprint
    assert (peer["undelivered"], peer["failing"], peer["last_delivered_at"]) == (0, 0, None)


def test_only_an_administrator_adds_and_removes(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    body = {
        "name": "tashkent",
        "base_url": tashkent.url,
        "institution_id": baku.partners["tashkent"],
        "fingerprint": tashkent.key.fingerprint,
    }
    for role in ("viewer", "coordinator"):
        caller = as_role(baku, role)
        preview = caller.post("/peers/preview", {"base_url": tashkent.url})
        assert preview.status_code == 403
        assert caller.post("/peers", body).status_code == 403
        assert caller.delete(f"/peers/{peer_id(baku)}").status_code == 403
    assert as_role(baku, "viewer").get(f"/peers/{peer_id(baku)}/messages").status_code == 403


def test_a_peer_is_accepted_only_with_its_fingerprint(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    admin = baku.admin
    assert admin.delete(f"/peers/{peer_id(baku)}").status_code == 204
    assert admin.get("/peers").get_json()["items"] == []

    preview = admin.post("/peers/preview", {"base_url": tashkent.url + "/"})
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json() == {
        "name": "Tashkent Library",
        "institution": "Tashkent Library",
        "country": "UZ",
        "isil": None,
        "base_url": tashkent.url,
        "fingerprint": tashkent.key.fingerprint,
    }
    assert admin.get("/peers").get_json()["items"] == []  # a look stores nothing

    body = {
        "name": "tashkent",
        "base_url": tashkent.url,
        "institution_id": baku.partners["tashkent"],
        "fingerprint": baku.key.fingerprint,  # someone else's key
    }
    wrong = admin.post("/peers", body)
    assert wrong.status_code == 409
    assert "compare again" in wrong.get_json()["error"]["message"]
    assert admin.get("/peers").get_json()["items"] == []

    body["fingerprint"] = tashkent.key.fingerprint.lower().replace(" ", "  ")
    added = admin.post("/peers", body)
    assert added.status_code == 201, added.get_json()
    assert added.headers["Location"] == f"/api/v1/peers/{added.get_json()['id']}"
    assert [p["name"] for p in admin.get("/peers").get_json()["items"]] == ["tashkent"]


def test_a_peers_outbox_and_deliver_now(two_nodes, pings) -> None:  # type: ignore[no-untyped-def]
    baku, _ = two_nodes
    ident = peer_id(baku)
    ping(baku, "tashkent", 1)
    ping(baku, "tashkent", 2)
    waiting = baku.api.get(f"/peers/{ident}/messages?per_page=1").get_json()
    assert waiting["total"] == 2
    [newest] = waiting["items"]
    assert (newest["type"], newest["state"], newest["attempts"]) == ("TestPing", "waiting", 0)
    assert baku.api.get("/peers").get_json()["items"][0]["undelivered"] == 2

    synced = baku.api.post(f"/peers/{ident}/sync")
    assert synced.status_code == 200
    assert synced.get_json() == {
        "delivered": 2,
        "refused": 0,
        "failed": 0,
        "undelivered": 0,
        "errors": [],
    }
    assert pings == [("baku", {"n": 1}), ("baku", {"n": 2})]
    sent = baku.api.get(f"/peers/{ident}/messages").get_json()["items"]
    assert [(m["state"], m["attempts"]) for m in sent] == [("delivered", 1), ("delivered", 1)]
    [peer] = baku.api.get("/peers").get_json()["items"]
    assert peer["undelivered"] == 0 and peer["last_delivered_at"] is not None
    assert baku.api.get("/peers/999/messages").status_code == 404


# ------------------------------------------------------------------ hostile node documents


@pytest.fixture
def hostile() -> Iterator[tuple[str, dict[str, Callable[[str], Response]]]]:
    """A server on loopback whose node document is whatever a test makes it."""
    answers: dict[str, Callable[[str], Response]] = {}

    @Request.application
    def application(request: Request) -> Response:
        return answers["document"](request.host_url.rstrip("/"))

    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", answers
    finally:
        server.shutdown()
        thread.join()


def _document(base: str, key: dict, **changes: object) -> Response:
    from libfed.exchange.federation.identity import endpoints

    document = {
        "protocol": "libfed-exchange",
        "protocol_versions": ["1"],
        "name": "Hostile",
        "institution": {"name": "Hostile", "country": "UZ"},
        "base_url": base,
        "endpoints": endpoints(base),
        "public_key": key,
        **changes,
    }
    return Response(json.dumps(document), mimetype="application/json")


def test_a_hostile_node_document_is_refused_with_its_reason(two_nodes, hostile) -> None:  # type: ignore[no-untyped-def]
    baku, tashkent = two_nodes
    url, answers = hostile
    key = {
        "type": "ed25519",
        "key_id": tashkent.key.key_id,
        "public_key": tashkent.key.public_base64,
    }
    cases = [
        (lambda base: Response("<html>hello</html>", mimetype="text/html"), 502, "not JSON"),
        (lambda base: Response(b"{" + b" " * (2 << 20) + b"}"), 502, "over 1 MiB"),
        (
            lambda base: _document(
                base,
                key,
                endpoints={
                    "inbox": "http://10.0.0.1/federation/v1/inbox",
                    "offers": base + "/federation/v1/offers",
                    "reconciliation": base + "/federation/v1/reconciliation",
                },
            ),
            422,
            "endpoints.inbox is not on the server of base_url",
        ),
        (
            lambda base: _document("http://elsewhere.example", key),
            422,
            "is about http://elsewhere.example",
        ),
    ]
    for answer, status, reason in cases:
        answers["document"] = answer
        refused = baku.admin.post("/peers/preview", {"base_url": url})
        assert refused.status_code == status, (reason, refused.get_json())
        assert reason in refused.get_json()["error"]["message"]
        body = {
            "name": "hostile",
            "base_url": url,
            "institution_id": baku.partners["tashkent"],
            "fingerprint": tashkent.key.fingerprint,
        }
        assert baku.admin.post("/peers", body).status_code == status
    names = [p["name"] for p in baku.admin.get("/peers").get_json()["items"]]
    assert names == ["tashkent"]
    for address in ("ftp://127.0.0.1/", "file:///etc/passwd", "http://a b"):
        refused = baku.admin.post("/peers/preview", {"base_url": address})
        assert refused.status_code == 422
        assert "base_url" in refused.get_json()["error"]["fields"]


def test_the_openapi_document_names_the_peers_answers(two_nodes) -> None:  # type: ignore[no-untyped-def]
    baku, _ = two_nodes
    paths = baku.api.get("/openapi.json").get_json()["paths"]
    preview = paths["/api/v1/peers/preview"]["post"]
    assert {"200", "403", "422", "502"} <= set(preview["responses"])
    assert preview["x-required-role"] == "admin"
    assert "502" in paths["/api/v1/peers"]["post"]["responses"]
    assert paths["/api/v1/peers/{peer_id}/messages"]["get"]["x-required-role"] == "coordinator"
