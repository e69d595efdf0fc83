"""Two libfed servers on loopback, each with its own database: the federated exchange's
test harness.

Each `Node` is a real application behind a real HTTP server (werkzeug, threaded) at its
own port, configured with that address as its public root, and API callers for its
coordinator and administrator. `federate` makes each the other's partner institution
and peer, as two administrators would (`libfed peers add ... --yes`). Delivery is not
left to a timer: `Node.sync()` delivers the outbox now, as `libfed peers sync` does, so a
test says when messages travel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from backends import Databases
from conftest import ApiCaller, add_partner, config_dict
from flask import Flask
from werkzeug.serving import make_server

from libfed.exchange.federation import messages
from libfed.exchange.federation.client import PeerClient
from libfed.exchange.federation.delivery import Delivered, deliver
from libfed.exchange.federation.identity import NodeKey, own_key
from libfed.exchange.federation.peers import (
    add_peer,
    document_fingerprint,
    fetch_node_document,
)
from libfed.kernel.callers import SYSTEM
from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.kernel.services import services
from libfed.root.app import create_app


class _Late:
    """A WSGI callable whose application is set after the server has its port."""

    app: Callable | None = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        assert self.app is not None
        return self.app(environ, start_response)


@dataclass
class Node:
    """One server: its configuration, database, application and address."""

    name: str
    config: Config
    db: Database
    app: Flask
    url: str
    tokens: dict[str, str]
    partners: dict[str, int] = field(default_factory=dict)
    _stop: Callable[[], None] | None = None

    @property
    def key(self) -> NodeKey:
        return own_key(services(self.app))

    @property
    def api(self) -> ApiCaller:
        """Its coordinator."""
        return ApiCaller(self.app.test_client(), self.tokens["coordinator"])

    @property
    def admin(self) -> ApiCaller:
        return ApiCaller(self.app.test_client(), self.tokens["admin"])

    def client(self) -> PeerClient:
        return PeerClient(self.config.federation, self.key)

    def sync(self) -> Delivered:
        """Deliver everything undelivered now, as `libfed peers sync` does."""
        client = self.client()
        try:
            return deliver(self.db, client, ignore_backoff=True)
        finally:
            client.close()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None
        self.db.dispose()


def start_node(
    databases: Databases,
    template: str,
    name: str,
    country: str,
    **federation: object,
) -> Node:
    """A server named `name` in `country`, on a free loopback port, with a fresh database."""
    from libfed.accounts.users import add_user
    from libfed.kernel.callers import ROLES

    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    data = config_dict(databases.copy(template, name))
    data["oai"] |= {"base_url": f"{url}/oai", "repository_identifier": f"{name}.libfed.org"}
    data["exchange"] = {"home_country": country, "library_name": f"{name.title()} Library"}
    data["federation"] = {"base_url": url, **federation}
    config = parse_config(data)
    db = Database(config.database.url)
    app = create_app(config, db)
    late.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tokens = {}
    with db.write() as session:
        for role in ROLES:
            _user, tokens[role] = add_user(session, f"{role}-user", role)

    def stop() -> None:
        server.shutdown()
        thread.join()

    return Node(name, config, db, app, url, tokens, _stop=stop)


def make_peer(node: Node, other: Node, partner_id: int) -> None:
    """`node` accepts `other` as the peer of its partner `partner_id`, as
    `libfed peers add OTHER URL --institution ID --yes` does."""
    client = PeerClient(node.config.federation, None)
    try:
        document = fetch_node_document(client, other.url)
    finally:
        client.close()
    with node.db.write() as session:
        add_peer(
            session, other.name, partner_id, document, document_fingerprint(document), actor=SYSTEM
        )


def federate(a: Node, b: Node, *, both: bool = True) -> None:
    """Each node gets the other as a partner institution (`node.partners[other.name]`)
    and, unless `both` is false (then only `a` adds `b`), as its peer."""
    for node, other in ((a, b), (b, a)):
        country = other.config.exchange.home_country
        partner = add_partner(node.api, f"{other.name.title()} Library", country)
        node.partners[other.name] = partner["id"]
    make_peer(a, b, a.partners[b.name])
    if both:
        make_peer(b, a, b.partners[a.name])


@contextmanager
def node_pair(
    databases: Databases, template: str, **baku_federation: object
) -> Iterator[tuple[Node, Node]]:
    """Baku (AZ, with `baku_federation` settings) and Tashkent (UZ), each the other's
    partner and peer; both stopped and their databases dropped afterwards."""
    baku = start_node(databases, template, "baku", "AZ", **baku_federation)
    tashkent = start_node(databases, template, "tashkent", "UZ")
    try:
        federate(baku, tashkent)
        yield baku, tashkent
    finally:
        for node in (baku, tashkent):
            node.stop()
            databases.drop(node.config.database.url)


@pytest.fixture
def two_nodes(databases: Databases, migrated_template: str) -> Iterator[tuple[Node, Node]]:
    """Baku (AZ) and Tashkent (UZ), each the other's partner and peer."""
    with node_pair(databases, migrated_template) as nodes:
        yield nodes


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    """A message type, TestPing, whose handler only counts what it was given: (the
    sending peer's name, the body), so a test sees what travelled without a shipment."""
    heard: list[tuple[str, dict]] = []

    def ping(_session, peer, body):  # type: ignore[no-untyped-def]
        heard.append((peer.name, body))

    monkeypatch.setitem(messages.HANDLERS, "TestPing", ping)
    return heard
