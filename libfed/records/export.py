"""The whole repository, or a set of it, as one file: `libfed export` and the dumps.

A bulk reload (an aggregator's first load, a union catalogue's rebuild) is one download
instead of thousands of OAI-PMH pages. Every record is written from its stored
rendering (the bytes `/oai` serves, checked against the format's XSD when stored),
never rendered again, in id order a batch at a time with one keyset query per batch, so
that memory stays flat however many records there are.

The formats and their wrappers (docs/dumps.md):
- `marcxml`: one MARC21slim `<collection>` of `<record>`s;
- `mods`: one MODS `<modsCollection>` of `<mods>`;
- `oai_dc`: an OAI-PMH ListRecords response holding every record, header included, so
  that any OAI-PMH parser reads it, deletions and sets as a harvest sees them;
- `jsonl`: one JSON object a line: identifier, datestamp, deleted, sets, source and
  the record's Dublin Core elements (`dc`, element -> values).
MARC and MODS cannot say that a record was deleted: deletions go only in `oai_dc` and
`jsonl`, and only when asked for.

A file is written under a temporary name beside the final one and renamed when
complete, so that an interrupted export never leaves a half file under the final name
(and an older file there stays whole).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Select, and_, bindparam, func, select

from libfed.kernel import clock
from libfed.kernel.db import Database

from .formats import FORMATS as REGISTRY
from .formats import OAI_DC
from .models import Record, RecordFormat, RecordSet
from .search_documents import dc_fields
from .search_index import source_of
from .stored_xml import format_datestamp, metadata_of, record_element
from .xmltext import escape_text

BATCH_SIZE = 1_000  # records per query: a few MB of bodies at most
GZIP_LEVEL = 6  # gzip's own default: level 9 takes twice the time for 3 % less

_OAI = "http://www.openarchives.org/OAI/2.0/"
_OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
_XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# The setSpecs of a stored header (stored_xml.render_header), read without parsing it: a
# setSpec holds no character that XML escapes (identifiers.SET_SPEC).
_SET_SPECS = re.compile(rb"<setSpec>([^<]*)</setSpec>")


class ExportRefused(ValueError):
    """What was asked cannot be exported (a format that cannot carry deletions)."""


@dataclass(frozen=True)
class Selection:
    """Which records: members of `set_spec`, written since `since`, deletions or not."""

    set_spec: str | None = None
    since: datetime | None = None
    include_deleted: bool = False


@dataclass(frozen=True)
class Written:
    """A file written: records in it, its size in bytes and SHA-256 as stored on disk."""

    records: int
    size: int
    sha256: str


@dataclass(frozen=True)
class _Row:
    identifier: str
    datestamp: datetime
    deleted: bool
    header: bytes
    body: bytes


class _Format:
    """How one export format reads the stored rows and wraps them."""

    stored_prefix: str
    carries_deletions = False

    def opening(self, selection: Selection, base_url: str) -> bytes:
        raise NotImplementedError

    def closing(self) -> bytes:
        raise NotImplementedError

    def item(self, row: _Row) -> bytes:
        raise NotImplementedError


class _Collection(_Format):
    """Each record's stored metadata element inside one collection element `root` of
    the registered format `prefix`'s namespace and schema."""

    def __init__(self, prefix: str, root: str) -> None:
        entry = REGISTRY[prefix]
        self.stored_prefix = entry.stored_prefix
        self._opening = (
            _DECLARATION
            + (
                f'<{root} xmlns="{entry.namespace}" {_XSI} '
                f'xsi:schemaLocation="{entry.namespace} {entry.schema}">\n'
            ).encode()
        )
        self._closing = f"</{root}>\n".encode()

    def opening(self, selection: Selection, base_url: str) -> bytes:
        return self._opening

    def closing(self) -> bytes:
        return self._closing

    def item(self, row: _Row) -> bytes:
        return (metadata_of(row.body) or "").encode() + b"\n"


class _ListRecords(_Format):
    """oai_dc as an OAI-PMH ListRecords response: the records as a harvest sees them."""

    stored_prefix = OAI_DC.prefix
    carries_deletions = True

    def opening(self, selection: Selection, base_url: str) -> bytes:
        arguments = f' metadataPrefix="{OAI_DC.prefix}"'
        if selection.set_spec is not None:
            arguments += f' set="{escape_text(selection.set_spec)}"'
        if selection.since is not None:
            arguments += f' from="{format_datestamp(selection.since)}"'
        return (
            _DECLARATION
            + (
                f'<OAI-PMH xmlns="{_OAI}" {_XSI} xsi:schemaLocation="{_OAI} {_OAI_SCHEMA}">\n'
                f"<responseDate>{format_datestamp(clock.utc_now())}</responseDate>\n"
                f'<request verb="ListRecords"{arguments}>{escape_text(base_url)}</request>\n'
                "<ListRecords>\n"
            ).encode()
        )

    def closing(self) -> bytes:
        return b"</ListRecords>\n</OAI-PMH>\n"

    def item(self, row: _Row) -> bytes:
        return record_element(row.header, row.body) + b"\n"


class _JsonLines(_Format):
    """One JSON object a line, read from the record's oai_dc and header."""

    stored_prefix = OAI_DC.prefix
    carries_deletions = True

    def opening(self, selection: Selection, base_url: str) -> bytes:
        return b""

    def closing(self) -> bytes:
        return b""

    def item(self, row: _Row) -> bytes:
        sets = [spec.decode() for spec in _SET_SPECS.findall(row.header)]
        metadata = metadata_of(row.body)
        line = {
            "identifier": row.identifier,
            "datestamp": format_datestamp(row.datestamp),
            "deleted": row.deleted,
            "sets": sets,
            "source": source_of(sets),
            "dc": dc_fields(metadata) if metadata else {},
        }
        return json.dumps(line, ensure_ascii=False).encode() + b"\n"


FORMATS: dict[str, _Format] = {
    "marcxml": _Collection("marcxml", "collection"),
    "mods": _Collection("mods", "modsCollection"),
    "oai_dc": _ListRecords(),
    "jsonl": _JsonLines(),
}


def _check(name: str, selection: Selection) -> _Format:
    chosen = FORMATS.get(name)
    if chosen is None:
        raise ExportRefused(f"no export format {name!r}; the formats: {', '.join(FORMATS)}")
    if selection.include_deleted and not chosen.carries_deletions:
        carriers = ", ".join(n for n, f in FORMATS.items() if f.carries_deletions)
        raise ExportRefused(f"{name} cannot say a record was deleted; deletions go in {carriers}")
    return chosen


def _selected(chosen: _Format, selection: Selection, columns: tuple) -> Select:
    query = (
        select(*columns)
        .select_from(Record)
        .join(
            RecordFormat,
            and_(
                RecordFormat.record_id == Record.id,
                RecordFormat.prefix == chosen.stored_prefix,
            ),
        )
        .where(Record.id <= bindparam("last"))
    )
    if selection.set_spec is not None:
        query = query.join(
            RecordSet,
            and_(RecordSet.record_id == Record.id, RecordSet.set_spec == selection.set_spec),
        )
    if not selection.include_deleted:
        query = query.where(Record.deleted.is_(False))
    if selection.since is not None:
        query = query.where(Record.datestamp >= selection.since)
    return query


def _last_id(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.max(Record.id))) or 0


def count(db: Database, name: str, selection: Selection) -> int:
    """How many records an export of `name` writes now: a progress bar's length."""
    query = _selected(_check(name, selection), selection, (func.count(),))
    with db.session() as session:
        return session.scalar(query, {"last": _last_id(db)}) or 0


def _rows(db: Database, chosen: _Format, selection: Selection) -> Iterator[list[_Row]]:
    """The selected records a batch at a time in id order, each batch one query in a
    session of its own (no transaction held for the whole export). Records written after
    the start are not read; one changed meanwhile is read once, as it is when read."""
    columns = (
        Record.id,
        Record.identifier,
        Record.datestamp,
        Record.deleted,
        Record.header_xml,
        RecordFormat.body_xml,
    )
    query = (
        _selected(chosen, selection, columns)
        .where(Record.id > bindparam("after"))
        .order_by(Record.id)
        .limit(BATCH_SIZE)
    )
    after, last = 0, _last_id(db)
    while True:
        with db.session() as session:
            batch = session.execute(query, {"after": after, "last": last}).all()
        if not batch:
            return
        yield [_Row(*row[1:]) for row in batch]
        after = batch[-1].id


def export(
    db: Database,
    name: str,
    out: BinaryIO,
    selection: Selection = Selection(),
    *,
    base_url: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the selected records in format `name` to `out`; the number written.
    `base_url` is the OAI-PMH endpoint's, which the oai_dc wrapper names as its request;
    `progress` is told how many records each batch wrote."""
    chosen = _check(name, selection)
    out.write(chosen.opening(selection, base_url))
    written = 0
    for batch in _rows(db, chosen, selection):
        out.write(b"".join(chosen.item(row) for row in batch))
        written += len(batch)
        if progress:
            progress(len(batch))
    out.write(chosen.closing())
    return written


class _Digesting:
    """A file object that counts and digests what goes through it to the file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self.size += len(data)
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        self._raw.flush()


@contextmanager
def _atomic(path: Path) -> Iterator[_Digesting]:
    """A file written under a temporary name in `path`'s folder, renamed to `path` only
    when the block ends without an error (removed otherwise, interruption included).
    Made with the umask's permissions, as a file the shell made would be."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(handle, "wb", buffering=1 << 20) as raw:
            target = _Digesting(raw)
            yield target
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def export_file(
    db: Database,
    name: str,
    path: Path,
    selection: Selection = Selection(),
    *,
    base_url: str,
    progress: Callable[[int], None] | None = None,
) -> Written:
    """`export` to the file `path`, gzip-compressed when its name ends in `.gz`, and
    complete or not there at all (see the module's docstring)."""
    _check(name, selection)  # refused before any file is made
    with _atomic(path) as target:
        if path.suffix == ".gz":
            # No name or time in the gzip header: the same records give the same bytes.
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=target, compresslevel=GZIP_LEVEL, mtime=0
            ) as compressed:
                records = export(
                    db, name, compressed, selection, base_url=base_url, progress=progress
                )
        else:
            records = export(db, name, target, selection, base_url=base_url, progress=progress)
    return Written(records, target.size, target.digest.hexdigest())
