"""One harvest run of one source, checkpointed page by page.

Each page's records, its quarantined records, the run's counts and the
checkpoint (the token to resume with, the latest datestamp seen) are written in
one transaction: a crash or a kill resumes from the last page written, never from
zero, and never with a page half-stored. The watermark (the responseDate of the
run's first request, in the provider's granularity) moves only when a run has
gone through its whole list.

A source may ask for its list in date windows of so many days (from the watermark,
or Identify's earliestDatestamp on a first harvest, up to the run's responseDate),
and for ListIdentifiers and one GetRecord per record instead of ListRecords. A
window that keeps failing is cut in half until the record that breaks it is
cornered and quarantined (harvest.isolation); quarantined records are asked for
again at the start of each later run. Inside windows, `checkpoint_datestamp` holds
where the window in progress began (not the latest datestamp seen): a crash resumes
with that window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from oaipmh import error as oai_errors
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from libfed.harvest.listing import (
    DEFAULT_LIMITS,
    UTC_DATETIME,
    HarvestStopped,
    Limits,
    Page,
    Quarantined,
    read_page,
    walk,
)
from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.identifiers import harvested_identifier
from libfed.records.repository import Outcome, store, tombstone
from libfed.records.site import Site

from .aggregate import NotAggregable, aggregated
from .alerts import note_alerts
from .changes import record_changes
from .client import HarvestClient
from .isolation import Bisection, due_for_retry, keeps_failing, one_retry, provider_answer
from .leases import holding, lease_holder
from .models import QuarantinedRecord, Run, Source, SourceState
from .parsing import OAI_NS, NotOAIResponse, parse_response
from .provider_facts import remember_deleted_record
from .states import RunStatus
from .transport import ComeBackLater, HTTPTransport, Moved, SourceRequests, TransportError
from .windows import DAY, Window, following, windows

GRANULARITIES = (DAY, "YYYY-MM-DDThh:mm:ssZ")
# Faults survived by retrying that a run's log keeps; a count stands for the rest.
MAX_INCIDENTS = 50
log = logging.getLogger(__name__)


def _moment() -> datetime:
    """Now, naive UTC to the microsecond: a run's start and end, from which its length and
    rate are read (datestamps, from `clock.utc_now`, keep whole seconds)."""
    return datetime.now(UTC).replace(tzinfo=None)


def in_granularity(stamp: str, granularity: str | None) -> str:
    """A UTCdatetime as a provider of `granularity` accepts it in `from`."""
    return stamp[:10] if granularity == DAY else stamp


class _Harvest:
    """The state of one run while it goes; `run()` is the whole of it."""

    def __init__(
        self,
        db: Database,
        config: Config,
        source: Source,
        client: HarvestClient,
        limits: Limits,
        now: Callable[[], datetime],
        on_page: Callable[[int, int], None] | None = None,
    ) -> None:
        self.db, self.config, self.source, self.client = db, config, source, client
        self.limits, self.now = limits, now
        self.on_page = on_page
        with db.write() as session:
            run = Run(
                source_id=source.id, started_at=_moment(), status=RunStatus.RUNNING, errors=[]
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        self.pages_written = 0
        self.list_requests = 0  # list pages read, in every window: the run's limit
        # What Identify said (`_identified`): the granularity, the first datestamp, and its
        # responseDate, the end of a windowed run's list.
        self.granularity: str | None = None
        self.earliest: str | None = None
        self.response_date: str | None = None
        # Inside a window, the checkpoint is where it began, and tokens are kept only
        # while that window is walked whole (a token of a half resumes only that half).
        self._resume_at: str | None = None
        self._keep_tokens = True
        self.bisection = Bisection(client, None)

    def _state(self, session: Session, set_spec: str) -> SourceState:
        key = (self.source.id, set_spec, self.source.prefix)
        state = session.get(SourceState, key)
        if state is None:
            state = SourceState(source_id=key[0], set_spec=key[1], prefix=key[2])
            session.add(state)
        return state

    def _write(self, set_spec: str | None, page: Page) -> None:
        """One page, its quarantine, the counts and the checkpoint: all or nothing.

        `set_spec` None: a page outside any list (a quarantined record asked for again),
        which moves no checkpoint."""
        harvested = self.now()
        entries, refused, repaired = [], list(page.quarantined), 0
        deleted = [r for r in page.records if r.deleted]
        site = Site.of(self.config)
        for record in page.records:
            if record.deleted:
                continue
            try:
                made = aggregated(
                    record,
                    self.config.oai.repository_identifier,
                    self.source.name,
                    self.source.base_url,
                    harvested,
                    site,
                    within=set_spec,
                )
            except NotAggregable as error:
                refused.append(Quarantined(record.metadata or b"", str(error)))
                continue
            entries.append(made.entry)
            repaired += bool(made.repairs)
        with self.db.write() as session:
            record_changes(
                session,
                self.run_id,
                entries,
                deleted,
                refused,
                self.config.oai.repository_identifier,
                self.source.name,
            )
            outcomes = store(session, entries) if entries else []
            removed = sum(
                tombstone(
                    session,
                    harvested_identifier(
                        self.config.oai.repository_identifier, self.source.name, r.identifier
                    ),
                )
                for r in deleted
            )
            for item in refused:
                session.add(
                    QuarantinedRecord(
                        run_id=self.run_id,
                        url=page.url,
                        reason=item.reason,
                        raw=item.raw,
                        # Retried by later runs (harvest.isolation) when it has a name.
                        source_id=self.source.id if item.identifier else None,
                        identifier=item.identifier,
                        datestamp=item.datestamp,
                    )
                )
            if set_spec is not None:
                self._checkpoint(session, set_spec, page)
            run = session.get_one(Run, self.run_id)
            run.pages += 1
            run.added += outcomes.count(Outcome.ADDED)
            run.updated += outcomes.count(Outcome.UPDATED)
            run.deleted += removed
            run.quarantined += len(refused)
            run.repaired += repaired
            progress = (run.pages, run.added + run.updated + run.deleted)
        self.pages_written += 1
        if self.on_page:
            self.on_page(*progress)

    def _checkpoint(self, session: Session, set_spec: str, page: Page) -> None:
        state = self._state(session, set_spec)
        state.run_response_date = state.run_response_date or page.response_date
        state.checkpoint_token = page.token if self._keep_tokens else None
        if self._resume_at is not None:
            state.checkpoint_datestamp = self._resume_at
            return
        stamps = [r.datestamp for r in page.records]
        if stamps:
            state.checkpoint_datestamp = max([*stamps, state.checkpoint_datestamp or ""])

    def _identified(self, granularity: str) -> None:
        """Identify's earliestDatestamp and responseDate, in `granularity`: where a first
        windowed harvest starts and where a run's windows end. Read from the response as
        sent: an odd or missing one leaves the list unbounded on that side."""
        self.granularity = granularity
        self.bisection = Bisection(self.client, granularity)
        root = parse_response(self.client.last.body) if self.client.last else None
        for attribute, path in (
            ("earliest", f"{{{OAI_NS}}}Identify/{{{OAI_NS}}}earliestDatestamp"),
            ("response_date", f"{{{OAI_NS}}}responseDate"),
        ):
            stamp = (root.findtext(path) or "").strip() if root is not None else ""
            if UTC_DATETIME.fullmatch(stamp):
                setattr(self, attribute, in_granularity(stamp, granularity))

    def _list(self, set_spec: str, full: bool, granularity: str | None) -> None:
        """The whole list of one set: in windows if the source asks for them, resumed
        from the checkpoint of an interrupted run."""
        days = self.source.window_days
        with self.db.write() as session:
            state = self._state(session, set_spec)
            if full:
                state.watermark = state.run_response_date = None
                state.checkpoint_token = state.checkpoint_datestamp = None
            state.granularity = granularity
            if days and not state.run_response_date:
                state.run_response_date = self.response_date
            token, watermark = state.checkpoint_token, state.watermark
            resume, end = state.checkpoint_datestamp, state.run_response_date
        if days:
            start = resume or watermark or self.earliest
            # Up to where the run's list ends; from a start past it (a provider's clock
            # set back), nothing.
            spans = (
                windows(start, end, days, granularity) if start and end else [Window(start, end)]
            )
            for window in spans:
                self._window(set_spec, window, token, windowed=True)
                token = None
                if window.end:
                    self._move_checkpoint(set_spec, following(window.end, granularity))
        else:
            # Resuming a token: the list it continues began at the watermark; a
            # checkpoint without a token is where a cut window stopped.
            start = watermark if token else (resume or watermark)
            start = in_granularity(start, granularity) if start else None
            self._window(set_spec, Window(start, None), token, windowed=False)
        with self.db.write() as session:
            state = self._state(session, set_spec)
            if state.run_response_date:
                state.watermark = in_granularity(state.run_response_date, granularity)
            state.run_response_date = state.checkpoint_token = state.checkpoint_datestamp = None

    def _move_checkpoint(self, set_spec: str, start: str) -> None:
        """Everything before `start` is harvested: a crash resumes there."""
        with self.db.write() as session:
            state = self._state(session, set_spec)
            state.checkpoint_token, state.checkpoint_datestamp = None, start

    def _window(self, set_spec: str, window: Window, token: str | None, windowed: bool) -> None:
        """One window of the list; cut in halves if it keeps failing."""
        self._resume_at, self._keep_tokens = (window.start if windowed else None), True
        try:
            self._walk(set_spec, window, token)
        except Exception as error:
            if not keeps_failing(error):
                raise
            bounded = Window(window.start or self.earliest, window.end or self._end(set_spec))
            if bounded.start is None or bounded.end is None:
                raise  # no bounds to cut between
            log.info("harvest of %s: %s fails, cut in halves: %s", self.source.name, bounded, error)
            self._keep_tokens = False
            try:
                self.bisection.run(
                    bounded,
                    lambda part: self._part(set_spec, part),
                    lambda part: self._one_by_one(set_spec, part),
                    lambda part, failure: self._unlisted(set_spec, part, failure),
                )
            except Exception as gave_up:
                if not keeps_failing(gave_up):
                    raise
                # The provider failed on every window asked: what it failed on first
                # says more than the last of them.
                raise error from gave_up

    def _end(self, set_spec: str) -> str | None:
        """Where a list without `until` ends, kept as the run's responseDate so that the
        watermark does not pass what the halves of a cut window covered."""
        with self.db.write() as session:
            state = self._state(session, set_spec)
            state.run_response_date = state.run_response_date or self.response_date
            end = state.run_response_date
        return in_granularity(end, self.granularity) if end else None

    def _part(self, set_spec: str, part: Window) -> None:
        self._resume_at = part.start
        self._walk(set_spec, part, None)
        self._move_checkpoint(set_spec, following(part.end or "", self.granularity))

    def _one_by_one(self, set_spec: str, part: Window) -> int:
        """The smallest window that still fails, record by record: ListIdentifiers, then
        GetRecord for each; what GetRecord will not serve is quarantined (with the
        provider's answer, to be asked for again). The number quarantined; the error if
        ListIdentifiers fails too (harvest.isolation decides what that means)."""
        self._resume_at = part.start
        isolated = 0
        for page in self._pages(set_spec, part, "ListIdentifiers"):
            served = self._served(page)
            self._write(set_spec, served)
            isolated += sum(1 for item in served.quarantined if item.identifier)
        self._move_checkpoint(set_spec, following(part.end or "", self.granularity))
        return isolated

    def _unlisted(self, set_spec: str, part: Window, error: Exception) -> None:
        """A smallest window the provider lists neither way, quarantined (no identifier:
        nothing to ask for again) and passed."""
        url = self.client.last.url if self.client.last else self.source.base_url
        with self.db.write() as session:
            session.add(
                QuarantinedRecord(
                    run_id=self.run_id,
                    url=url,
                    reason=f"ListIdentifiers fails in the window {part} as ListRecords "
                    f"does: {error}",
                    raw=provider_answer(self.client, error),
                    source_id=self.source.id,
                )
            )
            session.get_one(Run, self.run_id).quarantined += 1
            state = self._state(session, set_spec)
            state.checkpoint_token = None
            state.checkpoint_datestamp = following(part.end or "", self.granularity)

    def _pages(
        self, set_spec: str, window: Window, verb: str, token: str | None = None
    ) -> Iterator[Page]:
        """The pages of `verb` over `window`, counted against the run's limit."""
        arguments = {"metadataPrefix": self.source.prefix, **window.arguments()}
        if set_spec:
            arguments["set"] = set_spec
        # GetRecord follows each ListIdentifiers page: one request to the provider at a time.
        for page in walk(
            self.client,
            arguments,
            self.limits,
            token=token,
            verb=verb,
            used=self.list_requests,
            prefetch=verb != "ListIdentifiers",
        ):
            self.list_requests += 1
            yield page

    def _served(self, page: Page) -> Page:
        """A ListIdentifiers page as the records GetRecord serves for its headers; a
        deleted header is a tombstone as it is, a record GetRecord fails on is
        quarantined with what the provider answered."""
        records = [header for header in page.records if header.deleted]
        quarantined = list(page.quarantined)
        for header in page.records:
            if header.deleted:
                continue
            try:
                got = self._get(header.identifier)
            except Exception as error:
                if not (keeps_failing(error) or isinstance(error, oai_errors.ErrorBase)):
                    raise
                quarantined.append(
                    Quarantined(
                        provider_answer(self.client, error),
                        f"{header.identifier}: GetRecord fails: {error}",
                        header.identifier,
                        header.datestamp,
                    )
                )
                continue
            records.extend(got.records)
            quarantined.extend(got.quarantined)
        return replace(page, records=records, quarantined=quarantined)

    def _get(self, identifier: str) -> Page:
        root = self.client.page(
            verb="GetRecord", identifier=identifier, metadataPrefix=self.source.prefix
        )
        return read_page(0, self.client.last.url if self.client.last else "", root, "GetRecord")

    def _retry_quarantined(self) -> None:
        """The source's quarantined records asked for again: stored and resolved if they
        now come, one more attempt noted if not. A provider that fails outright ends
        the retries of this run (its list will say more)."""
        with self.db.session() as session:
            due = [(q.id, q.identifier or "") for q in due_for_retry(session, self.source.id)]
        with one_retry(self.client):
            for quarantine_id, identifier in due:
                resolved, stop = False, False
                try:
                    got = self._get(identifier)
                except oai_errors.IdDoesNotExistError:
                    resolved = True  # gone from the provider: nothing left to harvest
                except Exception as error:
                    if not (keeps_failing(error) or isinstance(error, oai_errors.ErrorBase)):
                        raise
                    stop = isinstance(error, TransportError)
                else:
                    if got.records:
                        self._write(None, got)
                        resolved = True
                with self.db.write() as session:
                    kept = session.get_one(QuarantinedRecord, quarantine_id)
                    if resolved:
                        kept.resolved_at = self.now()
                    else:
                        kept.attempts += 1
                if stop:
                    return

    def _walk(self, set_spec: str, window: Window, token: str | None) -> None:
        """Every page of the source's list over `window` written (or from `token`)."""
        verb = "ListIdentifiers" if self.source.mode == "identifiers" else "ListRecords"
        restarted = False
        while True:
            try:
                for page in self._pages(set_spec, window, verb, token):
                    self._write(set_spec, self._served(page) if verb == "ListIdentifiers" else page)
                return
            except oai_errors.BadResumptionTokenError:
                # Expired or refused: restart from the window's start, or the latest
                # datestamp already stored, not from zero; once, so that a provider
                # refusing every token ends.
                resume_from = self._resume_at
                if resume_from is None:
                    with self.db.session() as session:
                        resume_from = self._state(session, set_spec).checkpoint_datestamp
                if restarted or not resume_from:
                    raise
                restarted, token = True, None
                window = Window(in_granularity(resume_from, self.granularity), window.end)
            except oai_errors.BadArgumentError:
                # Some providers declare seconds and refuse them: fall back to days, for
                # the rest of the run.
                if token or not any(len(stamp or "") > 10 for stamp in (window.start, window.end)):
                    raise
                window = Window(window.start and window.start[:10], window.end and window.end[:10])
                self.granularity = self.bisection.granularity = DAY

    def run(self, full: bool) -> Run:
        status, errors = RunStatus.SUCCEEDED, []
        parked = self.source.parked_until
        # No request of the run may outlive the run's own deadline.
        self.client.transport.run_deadline = time.monotonic() + self.limits.deadline_seconds
        try:
            if parked is not None and parked > self.now():
                raise ComeBackLater(self.source.base_url, parked)
            identify = self.client.identify()
            remember_deleted_record(self.db, self.source.id, identify)  # harvest.reconcile's
            granularity = identify.granularity()
            if granularity not in GRANULARITIES:  # we then ask with days, which all accept
                granularity = DAY
            self._identified(granularity)
            self._retry_quarantined()
            for set_spec in self.source.sets or [""]:
                self._list(set_spec, full, granularity)
        except ComeBackLater as error:
            status = RunStatus.PARKED
            errors.append({"url": error.url, "message": str(error)})
            with self.db.write() as session:
                session.get_one(Source, self.source.id).parked_until = error.until.replace(
                    tzinfo=None
                )
        except (
            TransportError,
            NotOAIResponse,
            HarvestStopped,
            oai_errors.ErrorBase,
            oai_errors.ClientError,
        ) as error:
            status = RunStatus.PARTIAL if self.pages_written else RunStatus.FAILED
            url = self.client.last.url if self.client.last else self.source.base_url
            errors.append(
                {"url": getattr(error, "url", url), "message": str(error) or type(error).__name__}
                | ({"moved_to": error.base_url} if isinstance(error, Moved) else {})
            )
        except Exception as error:
            # A fault of ours, or a provider's answer we did not foresee: the run still ends,
            # with a reason for its viewers and the traceback for the operator's log only.
            log.exception("harvest of %s stopped on an unexpected fault", self.source.name)
            status = RunStatus.PARTIAL if self.pages_written else RunStatus.FAILED
            errors.append(
                {
                    "url": self.client.last.url if self.client.last else self.source.base_url,
                    "message": f"the harvest stopped on an unexpected fault "
                    f"({type(error).__name__}); the server's log has the details",
                }
            )
        if self.bisection.spent:
            errors.append(
                {
                    "url": self.source.base_url,
                    "message": f"isolated {self.bisection.isolated} record(s) by bisection "
                    f"in {self.bisection.spent} requests",
                }
            )
        incidents = [
            {"url": url, "message": message}
            for url, message in self.client.transport.incidents[:MAX_INCIDENTS]
        ]
        if len(self.client.transport.incidents) > MAX_INCIDENTS:
            more = len(self.client.transport.incidents) - MAX_INCIDENTS
            incidents.append({"url": "", "message": f"and {more} more faults survived"})
        with self.db.write() as session:
            run = session.get_one(Run, self.run_id)
            run.status, run.errors = status, [_shortened(e) for e in incidents + errors]
            run.requests = self.client.requests
            run.finished_at = _moment()
        note_alerts(self.db, self.config, self.run_id)  # what the operators are told
        with self.db.session() as session:
            return session.get_one(Run, self.run_id)


def run_seconds(run: Run) -> float | None:
    """How long a finished run took (None while it goes)."""
    if run.finished_at is None:
        return None
    return max((run.finished_at - run.started_at).total_seconds(), 0.0)


def records_per_second(run: Run) -> float | None:
    """Records added, updated or deleted per second; None for a run shorter than a
    second, too short for a rate to mean anything (a run of a few milliseconds would read
    as millions per second)."""
    seconds = run_seconds(run)
    if seconds is None or seconds < 1:
        return None
    return (run.added + run.updated + run.deleted) / seconds


def _shortened(entry: dict[str, str]) -> dict[str, str]:
    """A run log's entry cut to what a page can show: URLs carry tokens, and messages
    what a provider wrote, of any length."""
    return {key: value if len(value) <= 500 else value[:499] + "…" for key, value in entry.items()}


_host_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


def host_lock(base_url: str) -> threading.Lock:
    """One harvest at a time per host (host and port): providers are not ours to flood."""
    return _host_locks[urlsplit(base_url).netloc.lower()]


class SourceBusy(RuntimeError):
    """Another process (or thread) is harvesting the source now."""

    def __init__(self, name: str, holder: str | None) -> None:
        super().__init__(f"{name} is being harvested by {holder or 'another process'}")
        self.name, self.holder = name, holder


def harvest_one_per_host(
    db: Database,
    config: Config,
    name: str,
    full: bool = False,
    on_page: Callable[[int, int], None] | None = None,
) -> Run:
    """`harvest`, waiting first until no other harvest of the same host is running in
    this process, and holding the source's lease: SourceBusy when another process,
    or another thread, is harvesting it."""
    with db.session() as session:
        base_url = session.scalar(select(Source.base_url).where(Source.name == name))
    # An unknown name reaches harvest(), which says so (LookupError).
    with host_lock(base_url or ""), holding(db, f"source:{name}") as mine:
        if not mine:
            raise SourceBusy(name, lease_holder(db, f"source:{name}", clock.utc_now()))
        _close_interrupted(db, name)
        return harvest(db, config, name, full=full, on_page=on_page)


def _close_interrupted(db: Database, name: str) -> None:
    """Runs of the source still marked running belong to a process that died (whoever
    holds the lease is the only harvester): they end as failed, and this run resumes
    from their last checkpoint."""
    with db.write() as session:
        session.execute(
            update(Run)
            .where(
                Run.source_id.in_(select(Source.id).where(Source.name == name)),
                Run.status == RunStatus.RUNNING,
            )
            .values(
                status=RunStatus.FAILED,
                finished_at=clock.utc_now(),
                errors=[{"url": "", "message": "interrupted: the process harvesting it stopped"}],
            )
            .execution_options(synchronize_session=False)
        )


def source_and_last_run(db: Database, name: str) -> tuple[int | None, int]:
    """The source's id (None if there is none) and its newest run's id (0 if none): the
    runs of a harvest about to start have greater ids."""
    with db.session() as session:
        source_id = session.scalar(select(Source.id).where(Source.name == name))
        after = session.scalar(select(func.max(Run.id)).where(Run.source_id == source_id)) or 0
    return source_id, after


def fail_unfinished(db: Database, source_id: int | None, after: int, message: str) -> None:
    """The source's runs after `after` still marked running, ended as failed with `message`:
    whoever ran them stopped without ending them."""
    with db.write() as session:
        session.execute(
            update(Run)
            .where(Run.source_id == source_id, Run.id > after, Run.status == RunStatus.RUNNING)
            .values(
                status=RunStatus.FAILED,
                finished_at=clock.utc_now(),
                errors=[{"url": "", "message": message}],
            )
        )


def harvest_unattended(db: Database, config: Config, name: str, origin: str) -> Run | None:
    """A harvest nobody waits for (a scheduled job, "harvest now" from the web): it never
    raises. The harvest records the failures it expects; anything else is logged, and
    the run it left `running` is marked failed, so that it ends on the pages too."""
    source_id, after = source_and_last_run(db, name)
    if source_id is None:
        log.info("harvest of %s (%s): the source was removed", name, origin)
        return None
    try:
        run = harvest_one_per_host(db, config, name)
    except LookupError:
        log.info("harvest of %s (%s): the source was removed", name, origin)
        return None
    except SourceBusy as busy:
        log.info("harvest of %s (%s) not started: %s", name, origin, busy)
        return None
    except Exception as error:
        log.exception("harvest of %s (%s) failed", name, origin)
        try:
            fail_unfinished(db, source_id, after, f"{type(error).__name__}: {error}")
        except Exception:
            log.exception("could not record the failed harvest of %s", name)
        return None
    log.info(
        "harvest of %s (%s): %s, %d records", name, origin, run.status, run.added + run.updated
    )
    return run


def harvest_concurrently(
    db: Database,
    config: Config,
    names: list[str],
    full: bool = False,
    on_done: Callable[[str, Run], None] | None = None,
    on_page: Callable[[str, int, int], None] | None = None,
    on_busy: Callable[[SourceBusy], None] | None = None,
) -> dict[str, Run]:
    """Harvest `names`, `[harvest] concurrency` at a time and one per host at a time;
    a source another process is harvesting is left to it (`on_busy`)."""

    def one(name: str) -> tuple[str, Run | None]:
        progress = (lambda pages, records: on_page(name, pages, records)) if on_page else None
        try:
            run = harvest_one_per_host(db, config, name, full=full, on_page=progress)
        except SourceBusy as busy:
            if on_busy:
                on_busy(busy)
            return name, None
        if on_done:
            on_done(name, run)
        return name, run

    with ThreadPoolExecutor(max_workers=config.harvest.concurrency) as pool:
        return {name: run for name, run in pool.map(one, names) if run is not None}


def source_client(
    db: Database, config: Config, name: str, transport: HTTPTransport | None = None
) -> tuple[Source, HarvestClient]:
    """The source `name` and a client speaking to its provider as the source asks
    (headers, delay, timeout), for a harvest or a reconciliation; LookupError if none."""
    with db.session() as session:
        source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if source is None:
        raise LookupError(f"no source is named {name!r}")
    client = HarvestClient(
        source.base_url,
        transport or HTTPTransport(config.harvest, source=SourceRequests.of(source)),
    )
    return source, client


def harvest(
    db: Database,
    config: Config,
    name: str,
    full: bool = False,
    transport: HTTPTransport | None = None,
    limits: Limits = DEFAULT_LIMITS,
    now: Callable[[], datetime] | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> Run:
    """Harvest the source `name` now; the run, with its status, counts and errors.

    `on_page` hears (pages, records) after each page written.
    """
    source, client = source_client(db, config, name, transport)
    moment = now or (lambda: clock.utc_now())  # looked up per call: one clock for all writers
    return _Harvest(db, config, source, client, limits, moment, on_page).run(full)
