"""Importing MARC files into the repository.

Each record is checked, rendered in every format and written in batches; each
batch is one transaction, so an interrupted import leaves whole records only, and
a rejected record is reported with its position instead of stopping the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pymarc import Record

from .crosswalk import render_oai_dc
from .db import Database
from .identifiers import oai_identifier
from .marc_checks import RecordRejected, checked
from .marc_reader import read_marc
from .marcxml import record_to_marcxml
from .records import NewRecord, Outcome, ensure_sets, store

BATCH_SIZE = 500


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


def render(record: Record, repository_identifier: str, sets: tuple[str, ...]) -> NewRecord:
    """The stored form of a checked record: its identifier and every format it has."""
    return NewRecord(
        identifier=oai_identifier(repository_identifier, record),
        formats={"marc21": record_to_marcxml(record), "oai_dc": render_oai_dc(record)},
        sets=sets,
    )


def import_files(
    db: Database,
    repository_identifier: str,
    paths: Iterable[Path],
    sets: Mapping[str, str | None] | None = None,
    encoding: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import every record of `paths` into `sets` (spec -> name, None keeps the name).

    `progress` is called with the number of bytes read since its last call.
    """
    sets = dict(sets or {})
    set_specs = tuple(sets)
    summary = ImportSummary()
    if sets:
        with db.write() as session:
            ensure_sets(session, sets)
    batch: list[NewRecord] = []

    def flush() -> None:
        with db.write() as session:
            summary.count(store(session, batch))
        batch.clear()

    for path in paths:
        consumed = 0
        for entry in read_marc(path, encoding):
            if progress and entry.offset > consumed:
                progress(entry.offset - consumed)
                consumed = entry.offset
            reason = entry.error
            if entry.record is not None:
                try:
                    batch.append(
                        render(
                            checked(entry.record, entry.raw_leader),
                            repository_identifier,
                            set_specs,
                        )
                    )
                except RecordRejected as error:
                    reason = str(error)
                except Exception as error:  # one record must never abort a whole import
                    reason = f"cannot render the record: {type(error).__name__}: {error}"
            if reason is not None:
                summary.rejected.append(Rejection(str(path), entry.position, entry.where, reason))
            if len(batch) >= BATCH_SIZE:
                flush()
    if batch:
        flush()
    return summary
