"""Delivering the outbox: each message sent, signed, until its peer confirms it.

A pass takes the due messages of active peers, oldest first, and marks them taken for a
lease (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write lock), so that
two workers never send the same message at once. A pass sends to a peer over up to
`[federation] delivery_connections` connections at once, each a lane sent in order: a
shipment's messages leave in the order they were written, in one lane, and the messages
of no shipment (claims) in order in a lane of their own; different shipments' messages
may overtake each other (receivers tolerate it: forward-only states). When one cannot be
delivered now, the rest of its lane waits with it while the other lanes go on, and no
later message of its shipment is taken while it waits. An OK confirmation (a duplicate
included) marks it delivered; an ERROR confirmation marks it refused, which sending again
would not change, and shows it to coordinators; anything else (down, slow, 5xx, a peer
that has not added us yet) is tried again later, each time after a longer wait, up to
six hours. A type whose sender waits on the answer (a claim) reads either confirmation
in the write that marks it (messages.on_confirmation).

A message confirmed but not yet marked (the process dies in between) is sent again and
recognised by the peer as a duplicate: nothing is lost and nothing applied twice.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database

from .client import PeerClient, PeerUnreachable
from .messages import CONFIRMATION_HOOKS, envelope, on_enqueued
from .models import OutboxMessage, Peer
from .schemas import Confirmation

_log = logging.getLogger(__name__)
# ERROR codes that mean "not now" rather than "never": the peer has not added us yet,
# or its clock and ours disagree for the moment.
TRANSIENT_CODES = frozenset({"UnknownPeer", "Replayed", "BadSignature"})
_LEASE = timedelta(minutes=5)
_BATCH = 200
_BACKOFF_BASE = 30.0
_BACKOFF_MAX = 6 * 3600.0


@dataclass
class Delivered:
    """What one pass did: counts, and the reasons of what failed."""

    delivered: int = 0
    refused: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """30 s, 1, 2, 4 minutes ... up to 6 hours, with a tenth of jitter."""
    seconds = min(_BACKOFF_BASE * 2 ** max(attempts - 1, 0), _BACKOFF_MAX)
    return timedelta(seconds=seconds * (1 + random.random() / 10))


def _due(now: datetime, ignore_backoff: bool):  # type: ignore[no-untyped-def]
    """Undelivered and not refused; unless `ignore_backoff`, also past its wait, and with
    no earlier message of its shipment (or, with none, of the claims) to its peer still
    waiting: a message taken out of its lane for a failure, or written since, never
    overtakes the one before it."""
    waiting = OutboxMessage.delivered_at.is_(None) & OutboxMessage.refused_code.is_(None)
    if not ignore_backoff:
        earlier = aliased(OutboxMessage)
        behind = exists().where(
            earlier.delivered_at.is_(None),
            earlier.next_attempt_at > now,
            earlier.id < OutboxMessage.id,
            earlier.refused_code.is_(None),
            earlier.peer_id == OutboxMessage.peer_id,
            or_(
                earlier.shipment_id == OutboxMessage.shipment_id,
                earlier.shipment_id.is_(None) & OutboxMessage.shipment_id.is_(None),
            ),
        )
        waiting &= (OutboxMessage.next_attempt_at <= now) & ~behind
    return waiting


def _take(
    db: Database, ignore_backoff: bool, peer_id: int | None
) -> list[tuple[OutboxMessage, Peer]]:
    now = clock.utc_now()
    due = _due(now, ignore_backoff)
    if peer_id is not None:
        due &= OutboxMessage.peer_id == peer_id
    # Looked at first without writing: an idle outbox, read by every worker at every
    # interval, then never takes SQLite's write lock (the whole database's).
    with db.session() as session:
        if session.scalar(select(OutboxMessage.id).where(due).limit(1)) is None:
            return []
    with db.write() as session:
        rows = session.execute(
            select(OutboxMessage, Peer)
            .join(Peer, Peer.id == OutboxMessage.peer_id)
            .where(due, Peer.removed_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(_BATCH)
            .with_for_update(skip_locked=True, of=OutboxMessage)
        ).all()
        taken = [row.OutboxMessage.id for row in rows]
        if taken:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(taken))
                .values(next_attempt_at=now + _LEASE)
            )
        session.expunge_all()
        return [(row.OutboxMessage, row.Peer) for row in rows]


# A message sent, how it went ("delivered" | "refused" | "failed"), the reason, and the
# peer's confirmation when one was read.
Result = tuple[OutboxMessage, str, str | None, Confirmation | None]


def _send(
    client: PeerClient, message: OutboxMessage, peer: Peer
) -> tuple[str, str | None, Confirmation | None]:
    """(how it went, the reason, the confirmation)."""
    try:
        answer = client.request("POST", peer.inbox_url, envelope(message))
    except PeerUnreachable as error:
        return "failed", str(error), None
    try:
        confirmation = Confirmation.model_validate(answer.body.get("confirmation"))
    except ValidationError:
        return "failed", f"{peer.inbox_url}: answered {answer.status} without a confirmation", None
    if confirmation.status == "OK" and answer.status == 200:
        return "delivered", None, confirmation
    if confirmation.error is None:
        return "failed", f"{peer.inbox_url}: answered {answer.status}", None
    reason = f"{confirmation.error.code}: {confirmation.error.reason}"
    if confirmation.error.code in TRANSIENT_CODES or answer.status >= 500:
        return "failed", reason, None
    return "refused", reason, confirmation


def _record(db: Database, results: list[Result]) -> None:
    """Mark what was sent; a confirmed message's type's hook (messages.on_confirmation)
    reads the answer in the same write."""
    now = clock.utc_now()
    with db.write() as session:
        for message, outcome, reason, confirmation in results:
            values: dict = {"attempts": OutboxMessage.attempts + 1, "last_error": reason}
            if outcome == "delivered":
                values["delivered_at"] = now
            elif outcome == "refused":
                values["refused_code"] = (reason or "Refused").split(":", 1)[0][:32]
            else:
                values["next_attempt_at"] = now + backoff(message.attempts + 1)
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values)
            )
            hook = CONFIRMATION_HOOKS.get(message.kind)
            if hook is not None and outcome != "failed":
                hook(session, message, outcome, confirmation, reason)


def _release(db: Database, messages: list[OutboxMessage]) -> None:
    """Messages taken but not sent (an earlier one in their lane failed): due again after
    the first wait; one whose shipment's earlier message still waits then waits with it
    (`_due`), so a shipment's order holds."""
    if not messages:
        return
    with db.write() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([m.id for m in messages]))
            .values(next_attempt_at=clock.utc_now() + backoff(1))
        )


def _lanes(
    batch: list[tuple[OutboxMessage, Peer]], connections: int
) -> list[list[tuple[OutboxMessage, Peer]]]:
    """The batch split over `connections` lanes, each to be sent in order on its own
    connection: a shipment's messages all in one lane, so they keep the order they were
    written in; the messages of no shipment (claims and their releases) together in a
    lane of their own, so a claim never waits behind a burst of dispatches; each
    shipment into the lane least loaded so far."""
    groups: dict[int, dict[int | None, list[tuple[OutboxMessage, Peer]]]] = {}
    for message, peer in batch:
        groups.setdefault(peer.id, {}).setdefault(message.shipment_id, []).append((message, peer))
    lanes: list[list[tuple[OutboxMessage, Peer]]] = [[] for _ in range(connections)]
    for by_shipment in groups.values():
        load = [0] * connections
        shared = range(connections)
        unattached = by_shipment.pop(None, None)
        if unattached is not None:
            lanes[0] += unattached
            if connections > 1:
                shared = range(1, connections)
        for group in by_shipment.values():
            lane = min(shared, key=load.__getitem__)
            lanes[lane] += group
            load[lane] += len(group)
    for lane in lanes:
        lane.sort(key=lambda pair: pair[0].id)
    return [lane for lane in lanes if lane]


_Sent = tuple[Result, Peer]
_LANE_DONE = None


def _send_lane(
    client: PeerClient,
    lane: list[tuple[OutboxMessage, Peer]],
    results: queue.Queue[_Sent | None],
) -> list[OutboxMessage]:
    """Send one lane's messages in order, each result put on `results` for the
    delivering thread to record; once one to a peer fails, the lane's later ones to that
    peer are held (returned), while the other lanes go on."""
    blocked: set[int] = set()
    held: list[OutboxMessage] = []
    try:
        for message, peer in lane:
            if peer.id in blocked:
                held.append(message)
                continue
            outcome, reason, confirmation = _send(client, message, peer)
            if outcome == "failed":
                blocked.add(peer.id)
            results.put(((message, outcome, reason, confirmation), peer))
    finally:
        results.put(_LANE_DONE)
    return held


def deliver(
    db: Database,
    client: PeerClient,
    *,
    ignore_backoff: bool = False,
    passes: int = 1000,
    peer_id: int | None = None,
) -> Delivered:
    """Send what is due now (everything undelivered, with `ignore_backoff`), in passes of
    up to 200 messages, until nothing due is left or a pass delivers nothing; only the
    messages to `peer_id` when given (a coordinator's "Deliver now" on a peer's page).

    A pass's messages go over up to `[federation] delivery_connections` lanes at once
    (`_lanes`), each lane in a thread with its own client (`client` for the first, its
    siblings for the others, kept for the whole call); what they send is recorded here,
    in this thread, 50 messages a write."""
    report = Delivered()
    connections = client.settings.delivery_connections
    clients = [client]
    try:
        with ThreadPoolExecutor(connections, thread_name_prefix="libfed-lane") as pool:
            for _ in range(passes):
                batch = _take(db, ignore_backoff, peer_id)
                if not batch:
                    break
                lanes = _lanes(batch, connections)
                clients += [client.sibling() for _ in range(len(clients), len(lanes))]
                sent: queue.Queue[_Sent | None] = queue.Queue()
                running = [
                    pool.submit(_send_lane, clients[n], lane, sent) for n, lane in enumerate(lanes)
                ]
                results: list[Result] = []
                delivered = failed = 0
                lanes_left = len(running)
                while lanes_left:
                    item = sent.get()
                    if item is _LANE_DONE:
                        lanes_left -= 1
                        continue
                    result, peer = item
                    outcome, reason = result[1], result[2]
                    if outcome == "delivered":
                        delivered += 1
                    else:
                        if outcome == "failed":
                            failed += 1
                        else:
                            report.refused += 1
                        report.errors.append(f"{peer.name}: {reason}")
                    results.append(result)
                    if len(results) >= 50:
                        _record(db, results)
                        results = []
                _record(db, results)
                held = [message for lane in running for message in lane.result()]
                _release(db, held)
                report.delivered += delivered
                report.failed += failed
                if ignore_backoff and (failed or held):
                    break  # what failed now would fail again at once: leave it for later
                if not delivered and failed:
                    break
    finally:
        for sibling in clients[1:]:
            sibling.close()
    return report


def undelivered(session: Session) -> int:
    """Messages not yet confirmed (refused ones included): what `peers sync` reports."""
    return session.scalar(select(func.count()).where(OutboxMessage.delivered_at.is_(None))) or 0


def is_failing(after_attempts: int) -> ColumnElement[bool]:
    """A message coordinators are shown: refused, or tried `after_attempts` times."""
    return and_(
        OutboxMessage.delivered_at.is_(None),
        or_(OutboxMessage.refused_code.is_not(None), OutboxMessage.attempts >= after_attempts),
    )


def failing(session: Session, after_attempts: int) -> list[OutboxMessage]:
    """What coordinators are shown: messages refused, or tried `after_attempts` times."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(is_failing(after_attempts))
            .order_by(OutboxMessage.id)
            .limit(500)
        )
    )


class Deliverer:
    """The outbox delivered by a thread of a server worker: at its interval, and at once
    when this process commits a new message. Every worker runs one; `_take` keeps them
    from sending the same message."""

    def __init__(
        self, config: Config, db: Database, client_factory: Callable[[], PeerClient]
    ) -> None:
        self._interval = config.federation.delivery_interval_seconds
        self._db = db
        self._client_factory = client_factory
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="libfed-delivery", daemon=True)
        on_enqueued(self._wake.set)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        client = self._client_factory()
        try:
            while not self._stop.is_set():
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    deliver(self._db, client)
                except Exception:
                    _log.exception("outbox delivery pass failed")
        finally:
            client.close()
