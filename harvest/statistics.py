"""What an aggregator reports of what it holds: the live harvested records of each source
and of all of them, by metadata format, language, year and type.

Formats are counted from the stored renderings (an alias such as `marcxml` counts the
records of the format it is served from); language and year from the search index,
which keeps them for every live record with a title (libfed.records.search_documents);
type is stored nowhere, so it is read from each record's oai_dc (its first dc:type,
where the MARC crosswalk puts the leader's type), a streamed scan of small bodies with a
pattern rather than an XML parser. A source's figures are kept in memory until its
records change (the key: how many it has, tombstones included, and its latest
datestamp, which every write moves), so a page asks for the scan once per change, not
once per view; the total is the sum of the sources'.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from xml.sax.saxutils import unescape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from libfed.records.formats import FORMATS, OAI_DC
from libfed.records.models import Record, RecordFormat, RecordSet, SearchEntry
from libfed.records.stored_xml import metadata_of

from .aggregate import source_sets
from .models import Run, Source

TOP = 10  # values named on the page; the rest are counted together as "other"
API_TOP = 50
_TYPE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?type(?:\s[^>]*)?>([^<]{1,400})<")
_TYPE_LENGTH = 100
_BATCH = 2000


@dataclass(frozen=True)
class Breakdown:
    """Records by one property: the most common values, the rest, and those without one."""

    values: list[tuple[str, int]]
    other: int
    unknown: int

    @classmethod
    def of(cls, counts: Counter[str | None], top: int) -> Breakdown:
        known = Counter({value: n for value, n in counts.items() if value is not None})
        named = sorted(known.items(), key=lambda item: (-item[1], str(item[0])))[:top]
        return cls(
            [(str(value), n) for value, n in named],
            sum(known.values()) - sum(n for _, n in named),
            counts.get(None, 0),
        )

    def as_json(self) -> dict[str, object]:
        return {
            "values": [{"value": value, "records": n} for value, n in self.values],
            "other": self.other,
            "unknown": self.unknown,
        }


@dataclass(frozen=True)
class Counts:
    """Every value of a source's (or all sources') live records, counted."""

    records: int = 0
    formats: Counter[str | None] = field(default_factory=Counter)
    languages: Counter[str | None] = field(default_factory=Counter)
    years: Counter[str | None] = field(default_factory=Counter)
    types: Counter[str | None] = field(default_factory=Counter)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.records + other.records,
            self.formats + other.formats,
            self.languages + other.languages,
            self.years + other.years,
            self.types + other.types,
        )

    def breakdowns(self, top: int) -> dict[str, Breakdown]:
        return {
            "formats": Breakdown.of(self.formats, top),
            "languages": Breakdown.of(self.languages, top),
            "years": Breakdown.of(self.years, top),
            "types": Breakdown.of(self.types, top),
        }

    def as_json(self, top: int = API_TOP) -> dict[str, object]:
        return {"records": self.records} | {
            name: breakdown.as_json() for name, breakdown in self.breakdowns(top).items()
        }


def _live_members(spec: str):  # type: ignore[no-untyped-def]
    """The ids of the live records of set `spec`, as a subquery."""
    return (
        select(RecordSet.record_id)
        .join(Record, Record.id == RecordSet.record_id)
        .where(RecordSet.set_spec == spec, Record.deleted.is_(False))
    )


def _type_of(body: bytes) -> str | None:
    """The first dc:type of a stored oai_dc body, whitespace collapsed; None if none."""
    found = _TYPE.search(body)
    if found is None:
        return None
    text = " ".join(unescape(found.group(1).decode("utf-8", "replace")).split())
    return text[:_TYPE_LENGTH].casefold() or None


def _types(session: Session, spec: str) -> Counter[str | None]:
    """dc:type of each live member of `spec`, read in keyset batches of bodies."""
    counts: Counter[str | None] = Counter()
    after = 0
    while True:
        batch = session.execute(
            select(RecordFormat.record_id, RecordFormat.body_xml)
            .where(
                RecordFormat.record_id.in_(_live_members(spec)),
                RecordFormat.prefix == OAI_DC.prefix,
                RecordFormat.record_id > after,
            )
            .order_by(RecordFormat.record_id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return counts
        for _record_id, body in batch:
            metadata = metadata_of(body)
            counts[_type_of(metadata.encode()) if metadata else None] += 1
        after = batch[-1][0]


def count_source(session: Session, name: str) -> Counts:
    """The live records harvested from source `name`, counted (no cache)."""
    spec = source_sets(name)[1]
    members = _live_members(spec)
    records = session.scalar(select(func.count()).select_from(members.subquery())) or 0
    stored = Counter(
        dict(
            session.execute(
                select(RecordFormat.prefix, func.count())
                .where(RecordFormat.record_id.in_(members))
                .group_by(RecordFormat.prefix)
            ).all()
        )
    )
    formats: Counter[str | None] = Counter(
        {f.prefix: stored[f.stored_prefix] for f in FORMATS.values() if stored[f.stored_prefix]}
    )
    languages: Counter[str | None] = Counter()
    years: Counter[str | None] = Counter()
    indexed = 0
    for language, year, n in session.execute(
        select(SearchEntry.language, SearchEntry.year, func.count())
        .where(SearchEntry.source == name)
        .group_by(SearchEntry.language, SearchEntry.year)
    ):
        languages[language.lower() if language else None] += n
        years[str(year) if year is not None else None] += n
        indexed += n
    # A record without a title has no search entry: its language and year are unknown.
    languages[None] += records - indexed
    years[None] += records - indexed
    return Counts(records, formats, +languages, +years, _types(session, spec))


_Version = tuple[object, ...]
_cache: dict[str, tuple[_Version, Counts]] = {}
_cache_lock = threading.Lock()


def _version(session: Session, name: str) -> _Version:
    """What changes whenever the source's records do: its members, tombstones included,
    and their latest datestamp (one range of the per-set index), and where its latest
    run stands (a second's writes share a datestamp; every page a run writes moves its
    counts)."""
    members, latest = session.execute(
        select(func.count(), func.max(RecordSet.datestamp)).where(
            RecordSet.set_spec == source_sets(name)[1]
        )
    ).one()
    run = session.execute(
        select(Run.id, Run.pages, Run.added, Run.updated, Run.deleted, Run.finished_at)
        .join(Source, Source.id == Run.source_id)
        .where(Source.name == name)
        .order_by(Run.id.desc())
        .limit(1)
    ).one_or_none()
    return (members, latest, *(run or ()))


def source_counts(session: Session, name: str) -> Counts:
    """count_source, computed again only when the source's records have changed."""
    version = _version(session, name)
    with _cache_lock:
        cached = _cache.get(name)
    if cached is not None and cached[0] == version:
        return cached[1]
    counts = count_source(session, name)
    with _cache_lock:
        _cache[name] = (version, counts)
    return counts


def all_counts(session: Session) -> tuple[dict[str, Counts], Counts]:
    """Each source's counts, by name, and their sum."""
    names = session.scalars(select(Source.name).order_by(Source.name)).all()
    per_source = {name: source_counts(session, name) for name in names}
    return per_source, sum(per_source.values(), Counts())
