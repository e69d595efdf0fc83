"""Ghost records: what a source no longer has, found by listing its identifiers.

A provider with `deletedRecord=no` or `transient` never says (or soon forgets) that a
record went: incremental harvests then keep it here for ever. A reconciliation walks
the source's ListIdentifiers (each harvested set, or the whole repository, in the
source's prefix) with the list walk's guards, and makes every live record of the
source that the list does not name a tombstone (through the repository, so that its
datestamp, the search index and its sets follow), as a deleted header does.

Memory stays flat however large the source: the identifiers seen are staged in a
temporary table of one connection held for the reconciliation, a page at a time, and
the ghosts are found by the database (the source's members in `source:NAME` with no
row staged), a keyset batch at a time, each batch tombstoned in its own transaction.
The staging writes touch only the connection's temporary table: on SQLite they take
no lock on the database, so harvests of other sources go on meanwhile.

Nothing is deleted unless the whole list was read: a list cut short by any error would
make ghosts of every record not yet listed. A brake refuses, too, a list that is empty
or would tombstone more than `[harvest] reconcile_max_delete_percent` of the source's
live records (a provider that lost its database, or answers for the wrong set), until
an operator forces it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from oaipmh import error as oai_errors
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Select,
    Table,
    Text,
    exists,
    func,
    insert,
    select,
)

from libfed.harvest.listing import DEFAULT_LIMITS, HarvestStopped, Limits, Page, walk
from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.identifiers import harvested_identifier
from libfed.records.models import Record, RecordSet
from libfed.records.repository import tombstone
from libfed.records.set_membership import leave_sets

from .aggregate import mirrored_set, source_sets
from .alerts import note_alerts
from .changes import MAX_PER_KIND, Kind
from .client import HarvestClient
from .leases import holding, lease_holder
from .models import Change, Run, Source
from .parsing import NotOAIResponse
from .provider_facts import remember_deleted_record
from .run import MAX_INCIDENTS, SourceBusy, _moment, _shortened, host_lock, source_client
from .states import RunStatus
from .transport import ComeBackLater, HTTPTransport, TransportError

log = logging.getLogger(__name__)

KIND = "reconcile"
# Ghosts read and tombstoned per transaction: short write transactions, flat memory.
BATCH = 500

_staging = MetaData()
# The source's live identifiers as listed, in our form (harvest.aggregate): compared
# with records.identifier by an index, never held in Python.
_seen = Table(
    "reconcile_seen",
    _staging,
    Column("identifier", Text, index=True),
    # The mirror here (aggregate.mirrored_set) of the source's set it was listed in;
    # "" when the whole repository is harvested or the set has no mirror.
    Column("set_spec", Text),
    prefixes=["TEMPORARY"],
)


class Refused(Exception):
    """The list was read but deleting what it lacks is refused; the message says why."""


@dataclass
class Tally:
    """What a reconciliation counted, for its run and its log."""

    seen: int = 0  # headers listed by the source, deleted ones included
    pages: int = 0
    live: int = 0  # the source's live records here before
    ghosts: int = 0
    deleted: int = 0  # tombstoned
    left_sets: int = 0  # records that left one or more of the source's sets here


@contextmanager
def _staged(db: Database) -> Iterator[Connection]:
    """A connection holding an empty temporary table of identifiers seen, for the block."""
    with db.engine.connect() as connection:
        with connection.begin():
            _seen.create(connection)
        if db.is_sqlite:
            # SQLite's temporary database caches every page it writes unless told a size
            # (its cache_size reads 0): the table would be held whole in memory. 2 MB, as
            # its main database's default; the rest waits in its temporary file.
            connection.exec_driver_sql("PRAGMA temp.cache_size = -2000")
            connection.commit()
        try:
            yield connection
        finally:
            with connection.begin():
                _seen.drop(connection)


def _stage(connection: Connection, repository: str, name: str, within: str, page: Page) -> None:
    mirrored = (mirrored_set(name, within) if within else None) or ""
    live = [
        {"identifier": harvested_identifier(repository, name, r.identifier), "set_spec": mirrored}
        for r in page.records
        if not r.deleted
    ]
    if live:
        with connection.begin():
            connection.execute(insert(_seen), live)


def _members(name: str) -> Select[tuple[int, str]]:
    """The source's live records here: its members of `source:NAME`."""
    return (
        select(Record.id, Record.identifier)
        .join(RecordSet, RecordSet.record_id == Record.id)
        .where(RecordSet.set_spec == source_sets(name)[1], Record.deleted.is_(False))
    )


def _ghosts(name: str) -> Select[tuple[int, str]]:
    return _members(name).where(~exists().where(_seen.c.identifier == Record.identifier))


def _count(connection: Connection, query: Select[tuple[int, str]]) -> int:
    with connection.begin():
        return connection.scalar(select(func.count()).select_from(query.subquery())) or 0


def _list(client: HarvestClient, source: Source, limits: Limits) -> Iterator[tuple[str, Page]]:
    """Every page of ListIdentifiers the source's harvests cover, with its set."""
    used = 0  # list requests of earlier sets, which count against the run's limit
    for set_spec in source.sets or [""]:
        arguments = {"metadataPrefix": source.prefix} | ({"set": set_spec} if set_spec else {})
        walked = used
        for page in walk(client, arguments, limits, verb="ListIdentifiers", used=walked):
            used = walked + page.number
            if page.quarantined:
                # A header we cannot read may name a record we have: deleting what the
                # list lacks would then delete it.
                raise HarvestStopped(
                    f"{len(page.quarantined)} header(s) of page {page.number} could not be "
                    f"read ({page.quarantined[0].reason})"
                )
            yield set_spec, page


def _tombstone_ghosts(db: Database, connection: Connection, name: str, run_id: int) -> int:
    """Tombstone the ghosts a keyset batch at a time, each listed among the run's changes
    (harvest.changes, as many as a harvest lists); how many."""
    done, after = 0, 0
    while True:
        with connection.begin():
            batch = connection.execute(
                _ghosts(name).where(Record.id > after).order_by(Record.id).limit(BATCH)
            ).all()
        if not batch:
            return done
        with db.write() as session:
            gone = [identifier for _, identifier in batch if tombstone(session, identifier)]
            listed = gone[: max(MAX_PER_KIND - done, 0)]
            if listed:
                session.execute(
                    insert(Change),
                    [{"run_id": run_id, "identifier": i, "change": Kind.DELETED} for i in listed],
                )
        done += len(gone)
        after = batch[-1].id


def _departures(mirrors: list[str]) -> Select[tuple[int, str]]:
    """The memberships of the source's live records in the mirrors of its harvested
    sets that the source no longer lists them in."""
    return (
        select(RecordSet.record_id, RecordSet.set_spec)
        .join(Record, Record.id == RecordSet.record_id)
        .where(
            RecordSet.set_spec.in_(mirrors),
            Record.deleted.is_(False),
            ~exists().where(
                _seen.c.identifier == Record.identifier, _seen.c.set_spec == RecordSet.set_spec
            ),
        )
    )


def _leave_sets(db: Database, connection: Connection, mirrors: list[str]) -> int:
    """Take the source's records out of the sets it no longer lists them in, a keyset
    batch of records at a time; how many records left one or more."""
    done, after = 0, 0
    while True:
        with connection.begin():
            rows = connection.execute(
                _departures(mirrors)
                .where(RecordSet.record_id > after)
                .order_by(RecordSet.record_id)
                .limit(BATCH)
            ).all()
        if not rows:
            return done
        if len(rows) == BATCH:  # the last record's other memberships may follow
            rows = [row for row in rows if row.record_id != rows[-1].record_id] or rows
        leaving: dict[int, set[str]] = {}
        for record_id, spec in rows:
            leaving.setdefault(record_id, set()).add(spec)
        done += leave_sets(db, leaving)
        after = rows[-1].record_id


def _brake(tally: Tally, percent: float) -> None:
    if tally.live and tally.seen == 0:
        raise Refused(
            f"the source lists no identifiers while {tally.live:,} of its records are here: "
            "nothing was deleted (force it if the source is really empty)"
        )
    if tally.live and tally.ghosts * 100 > tally.live * percent:
        raise Refused(
            f"{tally.ghosts:,} of the source's {tally.live:,} records here would become "
            f"tombstones, more than {percent:g} %: nothing was deleted (force it if they "
            "are really gone)"
        )


def _reconcile(
    db: Database,
    config: Config,
    source: Source,
    run_id: int,
    client: HarvestClient,
    limits: Limits,
    force: bool,
    tally: Tally,
) -> None:
    """List, compare, tombstone; raises what stops it (nothing deleted then)."""
    if source.parked_until is not None and source.parked_until > clock.utc_now():
        raise ComeBackLater(source.base_url, source.parked_until)
    remember_deleted_record(db, source.id, client.identify())
    repository = config.oai.repository_identifier
    with _staged(db) as connection:
        for set_spec, page in _list(client, source, limits):
            _stage(connection, repository, source.name, set_spec, page)
            tally.pages += 1
            tally.seen += len(page.records)
        tally.live = _count(connection, _members(source.name))
        tally.ghosts = _count(connection, _ghosts(source.name))
        if not force:
            _brake(tally, config.harvest.reconcile_max_delete_percent)
        tally.deleted = _tombstone_ghosts(db, connection, source.name, run_id)
        mirrors = [m for spec in source.sets if (m := mirrored_set(source.name, spec))]
        if mirrors:
            tally.left_sets = _leave_sets(db, connection, mirrors)


def _summary(tally: Tally) -> str:
    return (
        f"reconciled: {tally.seen:,} identifiers listed by the source, "
        f"{tally.deleted:,} of its {tally.live:,} records here tombstoned, "
        f"{tally.left_sets:,} left one of its sets"
    )


def reconcile(
    db: Database,
    config: Config,
    name: str,
    force: bool = False,
    transport: HTTPTransport | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Run:
    """Reconcile the source `name` now (the caller holds its lease); the run, kind
    `reconcile`, with its status, counts and log. LookupError for no such source."""
    source, client = source_client(db, config, name, transport)
    client.transport.run_deadline = time.monotonic() + limits.deadline_seconds
    with db.write() as session:
        run = Run(
            source_id=source.id,
            started_at=_moment(),
            status=RunStatus.RUNNING,
            errors=[],
            kind=KIND,
        )
        session.add(run)
        session.flush()
        run_id = run.id
    tally, status, errors = Tally(), RunStatus.SUCCEEDED, []
    url = source.base_url
    try:
        _reconcile(db, config, source, run_id, client, limits, force, tally)
    except ComeBackLater as error:
        status = RunStatus.PARKED
        errors.append({"url": error.url, "message": str(error)})
        with db.write() as session:
            session.get_one(Source, source.id).parked_until = error.until.replace(tzinfo=None)
    except Refused as error:
        status = RunStatus.FAILED
        errors.append({"url": url, "message": str(error)})
    except (
        TransportError,
        NotOAIResponse,
        HarvestStopped,
        oai_errors.ErrorBase,
        oai_errors.ClientError,
    ) as error:
        status = RunStatus.FAILED
        where = client.last.url if client.last else url
        errors.append(
            {
                "url": getattr(error, "url", where),
                "message": f"the list was not read to its end, nothing was deleted: "
                f"{str(error) or type(error).__name__}",
            }
        )
    except Exception as error:
        log.exception("reconciliation of %s stopped on an unexpected fault", name)
        status = RunStatus.FAILED
        errors.append(
            {
                "url": client.last.url if client.last else url,
                "message": f"the reconciliation stopped on an unexpected fault "
                f"({type(error).__name__}); the server's log has the details",
            }
        )
    incidents = [
        {"url": where, "message": message}
        for where, message in client.transport.incidents[:MAX_INCIDENTS]
    ]
    log_lines = [{"url": "", "message": _summary(tally)}] if status == RunStatus.SUCCEEDED else []
    with db.write() as session:
        run = session.get_one(Run, run_id)
        run.status = status
        run.errors = [_shortened(e) for e in log_lines + incidents + errors]
        run.requests, run.pages = client.requests, tally.pages
        run.deleted, run.left_sets = tally.deleted, tally.left_sets
        run.finished_at = _moment()
        if status == RunStatus.SUCCEEDED:
            session.get_one(Source, source.id).reconciled_at = clock.utc_now()
    note_alerts(db, config, run_id)  # harvest.alerts: a failed reconciliation is told
    with db.session() as session:
        return session.get_one(Run, run_id)


def reconcile_one_per_host(db: Database, config: Config, name: str, force: bool = False) -> Run:
    """`reconcile` under the source's lease and its host's lock, as a harvest takes
    them (harvest.run.harvest_one_per_host): a reconciliation and a harvest of one
    source never overlap. SourceBusy while another process holds the source."""
    with db.session() as session:
        base_url = session.scalar(select(Source.base_url).where(Source.name == name))
    with host_lock(base_url or ""), holding(db, f"source:{name}") as mine:
        if not mine:
            raise SourceBusy(name, lease_holder(db, f"source:{name}", clock.utc_now()))
        return reconcile(db, config, name, force=force)


def reconcile_unattended(db: Database, config: Config, name: str) -> Run | None:
    """A scheduled reconciliation: never raises; what it could not do is logged."""
    try:
        run = reconcile_one_per_host(db, config, name)
    except LookupError:
        log.info("reconciliation of %s: the source was removed", name)
        return None
    except SourceBusy as busy:
        log.info("reconciliation of %s not started: %s", name, busy)
        return None
    except Exception:
        log.exception("reconciliation of %s failed", name)
        return None
    log.info("reconciliation of %s: %s, %d tombstoned", name, run.status, run.deleted)
    return run
