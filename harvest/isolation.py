"""Cornering the record that breaks a provider's list, so that it blocks nothing else.

A provider whose ListRecords page fails for one record (an HTTP 500 from its
serialiser, a broken page) fails at the same place on every run: the watermark never
moves and nothing after the record is harvested. When a window keeps failing, after
the transport's own retries, it is cut in half, recursively, each half that works
harvested; the smallest window that still fails (a day, or a second, as the
provider's granularity allows) is listed with ListIdentifiers and each record fetched
with GetRecord: every record that comes is stored, the one(s) that do not are
quarantined with the provider's answer and asked for again on later runs.

A budget bounds the requests spent on failures: the descent to one day in a window
of 100 years takes about 16 failing requests, each retried once, plus the
identifiers of that day (ListIdentifiers pages and one GetRecord each). A run
that exhausts it stops as partial, its checkpoint at the window it was in, and the
next run goes on from there with a budget of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .client import HarvestClient
from .listing import HarvestStopped
from .models import QuarantinedRecord
from .parsing import NotOAIResponse
from .transport import RetriesExhausted, TransportError
from .windows import Window, halves

# Requests a run may spend on failing windows and on fetching the smallest ones record by
# record: a 100-year descent with retries is under 70, which leaves room for a day of
# about 900 records.
BISECTION_BUDGET = 1000
# Quarantined records asked for again at the start of each run, oldest first.
RETRIES_PER_RUN = 100
# Of the provider's answer, what a quarantined record keeps (an answer may weigh MiB).
MAX_RAW = 64 * 1024


def keeps_failing(error: BaseException) -> bool:
    """Whether `error` is a page the provider failed to serve however often it was
    asked (5xx, timeouts, broken connections, a body that is no OAI-PMH), which a
    smaller window may avoid. Not what no window changes: a provider asking to wait or
    moving, a body over our size or time limits, a redirect we refuse, a 4xx."""
    return isinstance(error, RetriesExhausted | NotOAIResponse)


def provider_answer(client: HarvestClient, error: BaseException) -> bytes:
    """What the provider answered to the request that failed with `error`, bounded."""
    if isinstance(error, TransportError):
        answer = client.transport.last_refused or error.reason.encode()
    elif client.last is not None:
        answer = client.last.body
    else:
        answer = str(error).encode()
    return answer[:MAX_RAW]


@contextmanager
def one_retry(client: HarvestClient) -> Iterator[None]:
    """Requests inside a window already known to fail are retried once, not as many
    times as the settings allow: the first failure already outlasted a transient fault,
    and each halving would otherwise wait out the whole backoff again."""
    settings = client.transport.settings
    client.transport.settings = settings.model_copy(
        update={"max_retries": min(settings.max_retries, 1)}
    )
    try:
        yield
    finally:
        client.transport.settings = settings


@dataclass
class Bisection:
    """The isolation of one run: its budget, what it spent, what it cornered."""

    client: HarvestClient
    granularity: str | None
    budget: int = field(default_factory=lambda: BISECTION_BUDGET)
    spent: int = 0  # HTTP requests of failing windows and of record-by-record fetching
    isolated: int = 0  # records (or windows) quarantined

    def _sent(self) -> int:
        return self.client.transport.attempts

    def _spend(self, before: int) -> None:
        self.spent += self._sent() - before

    def run(
        self,
        window: Window,
        attempt: Callable[[Window], None],
        one_by_one: Callable[[Window], int],
        unlisted: Callable[[Window, Exception], None],
    ) -> None:
        """Harvest `window`, which failed as a whole, by halves with `attempt`, left to
        right; a window too small to cut goes to `one_by_one`, which says how many
        records it quarantined. Iterative: a window of centuries is cut a few dozen
        times, never deeper than the stack allows.

        A smallest window that cannot even be listed record by record goes to
        `unlisted` only once the provider has answered for a window after it: a provider
        that fails on everything is down, not holding a bad record in each day, and
        quarantining its days one by one would pass the watermark over all of them. Its
        error ends the run instead, the checkpoint at that window."""
        doubtful: list[tuple[Window, Exception]] = []
        # (window, whether record by record): a window is listed whole first, and record
        # by record only once it failed whole and cannot be cut.
        first = halves(window, self.granularity)
        pending = [(part, False) for part in reversed(first)] if first else [(window, True)]
        with one_retry(self.client):
            while pending:
                part, by_record = pending.pop()
                self._affordable(part)
                before = self._sent()
                try:
                    found = one_by_one(part) if by_record else attempt(part)
                except Exception as error:
                    self._spend(before)
                    if not keeps_failing(error) or doubtful:
                        raise
                    if by_record:
                        doubtful.append((part, error))
                    elif parts := halves(part, self.granularity):
                        pending.extend((half, False) for half in reversed(parts))
                    else:
                        pending.append((part, True))
                    continue
                if by_record:
                    self._spend(before)
                    self.isolated += found or 0
                for unlisted_window, error in doubtful:
                    unlisted(unlisted_window, error)
                    self.isolated += 1
                doubtful.clear()
        if doubtful:
            raise doubtful[0][1]

    def _affordable(self, window: Window) -> None:
        if self.spent >= self.budget:
            raise HarvestStopped(
                f"isolating a failing record spent {self.spent} requests, the most one run "
                f"may; the next run goes on from the window {window}"
            )


def due_for_retry(session: Session, source_id: int) -> list[QuarantinedRecord]:
    """The source's unresolved quarantined records that can be asked for by identifier,
    oldest first, at most `RETRIES_PER_RUN`: a run is not spent retrying."""
    return list(
        session.scalars(
            select(QuarantinedRecord)
            .where(
                QuarantinedRecord.source_id == source_id,
                QuarantinedRecord.identifier.is_not(None),
                QuarantinedRecord.resolved_at.is_(None),
            )
            .order_by(QuarantinedRecord.id)
            .limit(RETRIES_PER_RUN)
        )
    )
