"""Importing MARC files into the repository.

Each record is checked, rendered in every format of the registry and written in
batches; each batch is one transaction, so an interrupted import leaves whole records
only, and a rejected record is reported with its position instead of stopping the file.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path

from pymarc import Record

from libfed.kernel.db import Database
from libfed.records.repository import NewRecord, Outcome, ensure_sets, store

from .formats import UNIMARC, rendered
from .holdings import with_holdings
from .identifiers import oai_identifier
from .marc_checks import RecordRejected, checked
from .marc_reader import RawEntry, Undecodable, decode, read_raw, require_marc
from .site import Site
from .unimarc_reader import AUTO, read_entry

BATCH_SIZE = 2000  # records per write transaction
# Below this much input, starting worker processes costs more than it saves.
PARALLEL_FROM_BYTES = 4 * 2**20
WINDOW = 2048  # records cut from the file and prepared at a time


@dataclass(frozen=True)
class Rejection:
    file: str
    position: int
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: record {self.position} ({self.where}): {self.reason}"


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def count(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            setattr(self, outcome.value, getattr(self, outcome.value) + 1)


def render(
    record: Record,
    repository_identifier: str,
    sets: tuple[str, ...],
    site: Site | None = None,
    kept: Mapping[str, str] | None = None,
) -> NewRecord:
    """The stored form of a checked record: its identifier and every registered format.

    With `site` (what the server's settings say, libfed.records.site), the record's
    copies become this library's 852s (libfed.records.holdings) and its renderings
    name its public page; without, it is stored as read, which only tests of the
    mapping alone want. Accession of received books stores its records through here too.
    `kept` are formats stored as they came beside the rendered ones (a UNIMARC original).
    """
    kept = dict(kept or {})
    identifier = oai_identifier(repository_identifier, record)
    if site is None:
        return NewRecord.of(identifier, rendered(record) | kept, sets)
    marc = with_holdings(record, site.library)
    formats = rendered(marc, landing_url=site.landing_url(identifier))
    return NewRecord.of(identifier, formats | kept, sets)


def prepare(
    raw: RawEntry,
    encoding: str | None,
    repository_identifier: str,
    sets: tuple[str, ...],
    site: Site | None = None,
    flavour: str = AUTO,
) -> NewRecord | str:
    """Decode, check and render one record: its stored form, or why it is rejected.

    A UNIMARC or RUSMARC record (told apart as `flavour` says, libfed.records.unimarc_reader)
    is stored as its MARC 21 conversion, with the original kept. Runs in worker
    processes: it is the expensive part of an import.
    """
    if raw.error is not None:
        return raw.error
    try:
        converted = read_entry(raw, encoding, flavour)
        if converted is None:
            record, leader = decode(raw, encoding)
            return render(checked(record, leader), repository_identifier, sets, site)
        marc = checked(converted.record, converted.leader)
        kept = {UNIMARC.prefix: converted.original}
        return render(marc, repository_identifier, sets, site, kept=kept)
    except (Undecodable, RecordRejected) as error:
        return str(error)
    except Exception as error:  # one record must never abort a whole import
        return f"cannot render the record: {type(error).__name__}: {error}"


@contextmanager
def _submitter(parallel: bool) -> Iterator[Callable[[Callable, list], Callable[[], list]]]:
    """A `submit(function, items)` that starts the work and returns a way to wait for it.

    With a process pool, the next window is prepared by the workers while this
    process writes the previous one; without one (small input), work is done in-process.
    """
    if not parallel or (os.cpu_count() or 1) < 2:
        yield lambda function, items: lambda: list(map(function, items))
        return
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        yield lambda function, items: pool.map_async(function, items, chunksize=64).get


def _prepared(
    raws: Iterator[RawEntry], submit: Callable, work: Callable
) -> Iterator[tuple[RawEntry, NewRecord | str]]:
    """Each raw entry with what `work` made of it, in file order.

    Bounded windows keep memory flat; the next window is being prepared while
    the caller writes the results of the previous one.
    """
    pending: tuple[list[RawEntry], Callable[[], list]] | None = None
    while True:
        window = list(islice(raws, WINDOW))
        started = (window, submit(work, window)) if window else None
        if pending is not None:
            done, results = pending
            yield from zip(done, results(), strict=True)
        if started is None:
            return
        pending = started


def import_files(
    db: Database,
    repository_identifier: str,
    paths: Iterable[Path],
    sets: Mapping[str, str | None] | None = None,
    encoding: str | None = None,
    progress: Callable[[int], None] | None = None,
    site: Site | None = None,
    flavour: str = AUTO,
) -> ImportSummary:
    """Import every record of `paths` into `sets` (spec -> name, None keeps the name).

    `site` (libfed.records.site.Site.of the settings) gives the records this library's
    holdings and their public pages' address (see `render`). `flavour` is auto
    (each record's told apart), marc21, unimarc or rusmarc (libfed.records.unimarc_reader).
    `progress` is called with the number of bytes read since its last call. NotMarc,
    before anything is written, when a path holds no MARC at all: a wrong file in the
    list is a mistake to fix, not a file to skip.
    """
    paths = list(paths)
    for path in paths:
        require_marc(path)
    sets = dict(sets or {})
    summary = ImportSummary()
    if sets:
        with db.write() as session:
            ensure_sets(session, sets)
    batch: list[NewRecord] = []

    def flush() -> None:
        with db.write() as session:
            summary.count(store(session, batch))
        batch.clear()

    work = partial(
        prepare,
        encoding=encoding,
        repository_identifier=repository_identifier,
        sets=tuple(sets),
        site=site,
        flavour=flavour,
    )
    parallel = sum(p.stat().st_size for p in paths) > PARALLEL_FROM_BYTES
    with _submitter(parallel) as submit:
        for path in paths:
            consumed = 0
            for raw, result in _prepared(read_raw(path, encoding), submit, work):
                if progress and raw.offset > consumed:
                    progress(raw.offset - consumed)
                    consumed = raw.offset
                if isinstance(result, str):
                    summary.rejected.append(Rejection(str(path), raw.position, raw.where, result))
                    continue
                batch.append(result)
                if len(batch) >= BATCH_SIZE:
                    flush()
    if batch:
        flush()
    return summary
