"""The federated exchange under a burst: `python -m bench.federation` (a step of `make bench`).

Issue 16 asks that 1,000 shipments of 20 items dispatched at once reach the peer. Two
nodes, each with its own fresh database:

1. **Peer** (the receiving side): `libfed serve --workers 2` (gunicorn, as in production)
   on a free loopback port, its public root address that port. Before it starts, the
   sender is added to its peers and its partners (from the sender's node document, as
   `libfed peers add --yes` stores it).
2. **Sender**, in this process: its application (for its services and key), the peer
   added by fetching the peer's node document over HTTP. BENCH_FED_SHIPMENTS (1,000)
   outgoing shipments to the peer's institution are created, given BENCH_FED_ITEMS (20)
   items each and packed through the exchange's services (`create_shipment`,
   `add_items`, `transition`), 100 shipments per transaction: the **local** cost, one
   figure per item and per shipment.
3. **Dispatch**, at once: one transaction moves every shipment to `dispatched` through
   `exchange.shipments.transition`, which writes each shipment's `Shipped` message into
   the outbox as in production.
4. **Delivery**: `deliver()` as the server's Deliverer runs it after a commit (keep-alive
   PeerClients, signed requests, over `[federation] delivery_connections` (4) lanes, each
   shipment's messages in order), until the outbox is empty.
   messages/s is messages delivered over the delivery's wall time. **Delivery lag** per
   message: from the dispatch's commit to the moment the peer's confirmation came back
   (the peer confirms after committing the expected shipment); p50/p95/max. Beside it,
   from the two databases, the peer's `InboxMessage.received_at` minus our
   `OutboxMessage.created_at`, in the whole seconds the ledger's clock stores.
5. The peer is checked: as many incoming shipments in `expected`, with every item.

Both nodes run on SQLite, then on PostgreSQL when one answers on 127.0.0.1:5432
(databases libfed_bench_fed_sender and libfed_bench_fed_peer, recreated). The machine is
shared: compare the ratios of one run (a delivered message against creating the same
20-item shipment locally), not absolute times between runs. Figures go to
bench/data/federation.json. Knobs: BENCH_FED_SHIPMENTS, BENCH_FED_ITEMS,
BENCH_FED_CONNECTIONS (the sender's delivery_connections, default 4; 1 sends one message
at a time), BENCH_FED_RTT_MS (a round trip added before each request, default 0),
BENCH_POSTGRES (the PostgreSQL server, default postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from libfed.accounts.institutions import create_institution
from libfed.exchange.federation.client import Answer, PeerClient
from libfed.exchange.federation.delivery import deliver, undelivered
from libfed.exchange.federation.identity import node_document, node_key, own_key
from libfed.exchange.federation.models import InboxMessage, OutboxMessage
from libfed.exchange.federation.peers import (
    add_peer,
    document_fingerprint,
    fetch_node_document,
)
from libfed.exchange.federation.schemas import NodeDocument
from libfed.exchange.items import add_items
from libfed.exchange.models import Shipment, ShipmentItem
from libfed.exchange.shipments import create_shipment, transition
from libfed.kernel.callers import SYSTEM
from libfed.kernel.config import load_config
from libfed.kernel.db import Database
from libfed.kernel.services import services
from libfed.root.app import create_app
from libfed.root.migrate import upgrade

from .exchange import _isbn13, percentile
from .explain import _recreate
from .run import BIN, DATA, Server, free_port

SHIPMENTS = int(os.environ.get("BENCH_FED_SHIPMENTS", "1000"))
ITEMS = int(os.environ.get("BENCH_FED_ITEMS", "20"))
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
# The sender's [federation] delivery_connections: 1 is the delivery of one message at a
# time, for comparing in the same conditions.
CONNECTIONS = int(os.environ.get("BENCH_FED_CONNECTIONS", "4"))
# A round trip added to each request, as a peer across the internet has (loopback has
# none): milliseconds the client waits before sending.
RTT_MS = float(os.environ.get("BENCH_FED_RTT_MS", "0"))
PER_TRANSACTION = 100
OUT = DATA / "federation.json"
LANGUAGES = ("aze", "rus", "uzb", "eng", "kaa")


def _config(path: Path, url: str, base_url: str, country: str, name: str) -> Path:
    """A node's settings: its database, its public root address, the scheduler off."""
    path.write_text(
        f'[database]\nurl = "{url}"\n'
        f'[oai]\nrepository_name = "{name}"\nrepository_identifier = "{name}.libfed.org"\n'
        f'base_url = "{base_url}/oai"\nadmin_emails = ["bench@libfed.org"]\n'
        f'[exchange]\nhome_country = "{country}"\nlibrary_name = "{name.title()} Library"\n'
        f'[federation]\nbase_url = "{base_url}"\ndelivery_connections = {CONNECTIONS}\n'
        "[harvest]\nscheduler = false\n"
    )
    return path


def _fresh(url: str) -> Database:
    """An empty migrated database at `url` (a SQLite file is deleted first)."""
    if url.startswith("sqlite:///"):
        for leftover in DATA.glob(Path(url.removeprefix("sqlite:///")).name + "*"):
            leftover.unlink()
    db = Database(url)
    upgrade(db)
    return db


def _partner(db: Database, name: str, country: str) -> int:
    with db.write() as session:
        institution = create_institution(
            session,
            {"name": name, "country": country, "kind": "academic_library"},
            actor=SYSTEM,
            home_country="AZ",
        )
        return institution.id


def _items(rng: random.Random, n: int) -> list[tuple[int, dict]]:
    return [
        (
            k,
            {
                "title": f"Bench title {rng.randrange(10**9)}: {rng.choice(LANGUAGES)} edition",
                "author": f"Author {rng.randrange(10**6)}",
                "isbn": _isbn13(rng),
                "year": rng.randrange(1950, 2026),
                "language": rng.choice(LANGUAGES),
                "copies": rng.randrange(1, 4),
                "unit_value": f"{rng.randrange(100, 5000) / 100:.2f}",
                "currency": rng.choice(("AZN", "UZS", "USD")),
            },
        )
        for k in range(n)
    ]


def _build(db: Database, partner_id: int, home_country: str) -> tuple[list[int], float]:
    """Packed outgoing shipments with their items, through the services; their ids and
    the seconds it took."""
    rng = random.Random(20261207)
    ids: list[int] = []
    started = time.perf_counter()
    for first in range(0, SHIPMENTS, PER_TRANSACTION):
        with db.write() as session:
            for k in range(first, min(first + PER_TRANSACTION, SHIPMENTS)):
                shipment = create_shipment(
                    session,
                    {
                        "direction": "outgoing",
                        "partner_id": partner_id,
                        "reference": f"BENCH-{k + 1:05d}",
                        "carrier": "Azerpoct",
                        "tracking_number": f"RR{k:09d}AZ",
                        "parcels": 1 + k % 3,
                    },
                    actor=SYSTEM,
                    home_country=home_country,
                )
                add_items(session, shipment.id, _items(rng, ITEMS), actor=SYSTEM)
                transition(
                    session, shipment.id, {"to": "packed"}, actor=SYSTEM, expected_version=None
                )
                ids.append(shipment.id)
    return ids, time.perf_counter() - started


def _dispatch(db: Database, ids: list[int]) -> tuple[float, float]:
    """Every shipment dispatched in one transaction; its seconds and its commit's moment
    (perf_counter)."""
    started = time.perf_counter()
    with db.write() as session:
        for ident in ids:
            transition(session, ident, {"to": "dispatched"}, actor=SYSTEM, expected_version=None)
    committed = time.perf_counter()
    return committed - started, committed


class _TimedClient(PeerClient):
    """The Deliverer's client, noting when each message's confirmation came back: the
    peer answers after its commit, so that moment is the message's arrival, to the
    microsecond (the stored times are in whole seconds, as the ledger's clock gives them)."""

    def __init__(self, *arguments, **keywords) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*arguments, **keywords)
        self.answered: dict[str, float] = {}

    def sibling(self) -> _TimedClient:
        """Another lane's client, noting into the same moments."""
        twin = _TimedClient(self.settings, self.key)
        twin.answered = self.answered
        return twin

    def request(self, method: str, url: str, payload: dict | None = None) -> Answer:
        time.sleep(RTT_MS / 1000)
        answer = super().request(method, url, payload)
        if payload is not None:
            self.answered[payload["message_id"]] = time.perf_counter()
        return answer


def _summary(values: list[float]) -> dict:
    values = sorted(values)
    return {
        "p50_s": round(percentile(values, 50), 3),
        "p95_s": round(percentile(values, 95), 3),
        "max_s": round(values[-1], 3),
    }


def _lags(sender: Database, peer: Database, answered: dict[str, float], committed: float) -> dict:
    """Per message: from the dispatch's commit to the peer's confirmation; and, from the
    two databases, the peer's `received_at` against our `created_at` (whole seconds)."""
    with sender.session() as session:
        written = dict(
            session.execute(
                select(OutboxMessage.message_id, OutboxMessage.created_at).where(
                    OutboxMessage.kind == "Shipped"
                )
            ).all()
        )
    with peer.session() as session:
        received = dict(
            session.execute(
                select(InboxMessage.message_id, InboxMessage.received_at).where(
                    InboxMessage.kind == "Shipped"
                )
            ).all()
        )
    return {
        "messages_written": len(written),
        "messages_in_peer_inbox": len(received),
        "all_arrived_once": set(written) == set(received),
        "from_commit_to_confirmation": _summary([at - committed for at in answered.values()]),
        "received_at_minus_created_at": _summary(
            [(received[m] - written[m]).total_seconds() for m in received]
        ),
    }


def _peer_holds(peer: Database) -> dict:
    with peer.session() as session:
        shipments = session.scalar(
            select(func.count()).where(
                Shipment.direction == "incoming", Shipment.status == "expected"
            )
        )
        items = session.scalar(
            select(func.count(ShipmentItem.id))
            .join(Shipment, Shipment.id == ShipmentItem.shipment_id)
            .where(Shipment.direction == "incoming")
        )
    return {"expected_shipments": shipments, "items": items}


def measure(engine: str, sender_url: str, peer_url: str) -> dict:
    """One run of the burst with both nodes' databases at these addresses."""
    peer_port, sender_port = free_port(), free_port()
    peer_base, sender_base = f"http://127.0.0.1:{peer_port}", f"http://127.0.0.1:{sender_port}"
    sender_db, peer_db = _fresh(sender_url), _fresh(peer_url)
    sender_config = _config(DATA / "federation-sender.toml", sender_url, sender_base, "AZ", "baku")
    peer_config = _config(DATA / "federation-peer.toml", peer_url, peer_base, "UZ", "tashkent")
    app = create_app(load_config(sender_config), sender_db)
    with app.app_context():
        own = services()
        key = own_key(own)
        # The peer accepts us, as `libfed peers add baku URL --institution ID --yes` would.
        document = NodeDocument.model_validate(node_document(own.config, key))
        sender_at_peer = _partner(peer_db, "Baku Library", "AZ")
        with peer_db.write() as session:
            add_peer(
                session,
                "baku",
                sender_at_peer,
                document,
                document_fingerprint(document),
                actor=SYSTEM,
            )
        node_key(peer_db)
        server = Server(
            [
                str(BIN / "libfed"),
                "--config",
                str(peer_config),
                "serve",
                "--port",
                str(peer_port),
                "--workers",
                "2",
            ],
            peer_port,
            f"{peer_base}/.well-known/libfed-node",
        )
        client = _TimedClient(own.config.federation, key)
        try:
            peer_at_sender = _partner(sender_db, "Tashkent Library", "UZ")
            peer_document = fetch_node_document(client, peer_base)
            with sender_db.write() as session:
                add_peer(
                    session,
                    "tashkent",
                    peer_at_sender,
                    peer_document,
                    document_fingerprint(peer_document),
                    actor=SYSTEM,
                )
            print(f"{engine}: building {SHIPMENTS} shipments of {ITEMS} items ...", flush=True)
            ids, built = _build(sender_db, peer_at_sender, "AZ")
            print(f"{engine}: built in {built:.1f} s; dispatching at once ...", flush=True)
            dispatched, committed = _dispatch(sender_db, ids)
            print(f"{engine}: dispatched in {dispatched:.1f} s; delivering ...", flush=True)
            started = time.perf_counter()
            report = deliver(sender_db, client)
            while report.failed == 0 and report.refused == 0:
                with sender_db.session() as session:
                    if undelivered(session) == 0:
                        break
                more = deliver(sender_db, client)
                report.delivered += more.delivered
                report.failed += more.failed
                report.refused += more.refused
                report.errors += more.errors
            delivered_in = time.perf_counter() - started
            peer_rss = server.peak_rss_mb()
        finally:
            client.close()
            server.stop()
    lags = _lags(sender_db, peer_db, client.answered, committed)
    holds = _peer_holds(peer_db)
    sender_db.dispose()
    peer_db.dispose()
    per_message_ms = 1000 * delivered_in / max(report.delivered, 1)
    local_shipment_ms = 1000 * built / SHIPMENTS
    result = {
        "engine": engine,
        "shipments": SHIPMENTS,
        "items_per_shipment": ITEMS,
        "local": {
            "build_s": round(built, 2),
            "per_shipment_ms": round(local_shipment_ms, 2),
            "per_item_ms": round(1000 * built / (SHIPMENTS * ITEMS), 3),
        },
        "dispatch": {
            "one_transaction_s": round(dispatched, 2),
            "per_shipment_ms": round(1000 * dispatched / SHIPMENTS, 2),
        },
        "delivery": {
            "connections": CONNECTIONS,
            "added_rtt_ms": RTT_MS,
            "delivered": report.delivered,
            "failed": report.failed,
            "refused": report.refused,
            "errors": report.errors[:5],
            "seconds": round(delivered_in, 2),
            "messages_per_s": round(report.delivered / delivered_in, 1),
            "per_message_ms": round(per_message_ms, 2),
            "items_per_s": round(report.delivered * ITEMS / delivered_in, 1),
        },
        "lag": lags,
        "peer": holds | {"server_peak_rss_mb": round(peer_rss, 1)},
        "ratios": {
            "message_vs_local_shipment": round(per_message_ms / local_shipment_ms, 2),
            "message_vs_local_item": round(per_message_ms / (local_shipment_ms / ITEMS), 1),
        },
    }
    print(json.dumps(result, indent=2), flush=True)
    return result


def _postgres_urls() -> tuple[str, str] | None:
    urls = (f"{POSTGRES}/libfed_bench_fed_sender", f"{POSTGRES}/libfed_bench_fed_peer")
    return urls if all(_recreate(url) for url in urls) else None


def main() -> None:
    DATA.mkdir(exist_ok=True)
    results: dict = {
        "date": datetime.now(UTC).strftime("%a %b %d %H:%M UTC %Y"),
        "commit": os.popen("git rev-parse --short HEAD").read().strip(),
        "runs": [],
    }
    results["runs"].append(
        measure(
            "sqlite",
            f"sqlite:///{DATA / 'federation-sender.sqlite3'}",
            f"sqlite:///{DATA / 'federation-peer.sqlite3'}",
        )
    )
    OUT.write_text(json.dumps(results, indent=2))
    urls = _postgres_urls()
    if urls is None:
        print("PostgreSQL: no server answers; skipped", flush=True)
    else:
        results["runs"].append(measure("postgresql", *urls))
        OUT.write_text(json.dumps(results, indent=2))
    print(f"figures in {OUT}", flush=True)


if __name__ == "__main__":
    main()
