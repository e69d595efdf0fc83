"""`libfed db rerender`: stored records rendered again from their stored MARC.

A record is rendered in every format when it is stored; a format added to the registry
later, or a renderer that changed, reaches the records already stored only through
here. Each record stored with MARC (its marc21 format: local records, and harvested
ones that came as MARCXML) is read back as a record, checked as import checks it, and
rendered again in the formats asked for (default: every registered one); the record
is stored again only when that changed something, with a new datestamp so that
incremental harvests fetch it (libfed.records.rewriting). A harvested record keeps
its provenance: a format it did not have before gets that of the formats already
derived from its MARC. Records without MARC (harvested as oai_dc only) are left as
they are, as are records whose stored MARC today's checks refuse (named in the result).
Given the settings' `Site`, it renders as import does: every record names its page here,
and this library's own records (not the harvested ones) get their holdings as 852s from
what their stored MARC holds (libfed.records.holdings), so a rerender is what brings
records up to date after the public address or the ISIL changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import exists, func, select

from libfed.kernel.db import Database
from libfed.kernel.models import Setting

from .formats import (
    FORMATS,
    MARC21,
    RENDERERS_VERSION,
    MetadataFormat,
    rendered,
    rendered_formats,
)
from .holdings import with_holdings
from .marc_checks import RecordRejected, checked
from .marcxml import record_from_element
from .models import Record, RecordFormat, RecordSet
from .repository import NewRecord, Outcome, store
from .rewriting import StoredRecord, same_formats, stored_batches, unchanged_since_read
from .search_index import SOURCE_SET
from .site import Site

BATCH_SIZE = 500  # records read, rendered and written per transaction
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class UnknownFormat(LookupError):
    """No format of the registry has this prefix."""

    def __init__(self, prefix: str) -> None:
        super().__init__(f"no format {prefix!r} here; the registered ones: {', '.join(FORMATS)}")


@dataclass
class Rerendered:
    """What rendering the stored records again did."""

    read: int = 0
    changed: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # identifier, reason


def format_named(prefix: str) -> MetadataFormat:
    """The registered format of this prefix; UnknownFormat if there is none."""
    if prefix not in FORMATS:
        raise UnknownFormat(prefix)
    return FORMATS[prefix]


def count_with_marc(db: Database) -> int:
    """How many live records rerender reads: a progress bar's length."""
    with db.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(RecordFormat)
                .join(Record, Record.id == RecordFormat.record_id)
                .where(RecordFormat.prefix == MARC21.prefix, Record.deleted.is_(False))
            )
            or 0
        )


def _made_again(
    record: StoredRecord,
    formats: Sequence[MetadataFormat] | None,
    site: Site | None,
    local: bool,
) -> NewRecord | str | None:
    """The record with `formats` rendered again from its MARC; None when nothing
    changed; why, when the stored MARC is not a record that import would accept.
    With `site`, a `local` record's copies become this library's 852s, so its MARC is
    rendered again too, and every record names its public page."""
    try:
        element = etree.fromstring(record.metadata(MARC21.prefix), _PARSER)
        marc = checked(*record_from_element(element))
    except (etree.XMLSyntaxError, RecordRejected) as error:
        return str(error)
    landing_url = None
    if site is not None:
        landing_url = site.landing_url(record.identifier)
        if local:
            marc = with_holdings(marc, site.library)
            if formats is not None and MARC21 not in formats:
                formats = [*formats, MARC21]
    metadata = {prefix: record.metadata(prefix) for prefix in record.bodies}
    made = rendered(marc, formats, landing_url=landing_url)
    metadata |= {prefix: xml.encode() for prefix, xml in made.items()}
    if same_formats(record, metadata):
        return None
    abouts = {prefix: record.about(prefix) for prefix in record.bodies}
    # Every format but the MARC is derived from it: one provenance serves them all.
    derived = next(
        (about for prefix, about in sorted(abouts.items()) if prefix != MARC21.prefix and about),
        None,
    )
    about = {prefix: abouts.get(prefix, derived) for prefix in metadata}
    return NewRecord.of(
        record.identifier,
        {prefix: xml.decode() for prefix, xml in metadata.items()},
        about={prefix: xml for prefix, xml in about.items() if xml is not None},
    )


def _harvested(db: Database, batch: list[StoredRecord]) -> set[int]:
    """The ids of the batch's harvested records: members of a source's set, as search
    tells them (libfed.records.search_index.source_of)."""
    with db.session() as session:
        return set(
            session.scalars(
                select(RecordSet.record_id).where(
                    RecordSet.record_id.in_([record.id for record in batch]),
                    RecordSet.set_spec.startswith(SOURCE_SET),
                )
            )
        )


def lacking_formats(db: Database) -> list[MetadataFormat]:
    """The formats some live record with MARC is not stored in: a format added to the
    registry after the record was written, which `libfed db upgrade` renders."""
    with_marc = select(Record.id).where(
        Record.deleted.is_(False),
        exists().where(RecordFormat.record_id == Record.id, RecordFormat.prefix == MARC21.prefix),
    )
    with db.session() as session:
        return [
            entry
            for entry in rendered_formats()
            if session.scalar(
                with_marc.where(
                    ~exists().where(
                        RecordFormat.record_id == Record.id, RecordFormat.prefix == entry.prefix
                    )
                ).limit(1)
            )
            is not None
        ]


def rerender(
    db: Database,
    formats: Sequence[MetadataFormat] | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    lacking_only: bool = False,
    site: Site | None = None,
) -> Rerendered:
    """Render every live record with MARC again in `formats` (default: every registered
    one); see the module's docstring. `progress` is told how many records each batch read.
    `lacking_only` reads only the records stored without one of `formats`, which is all
    that a format new to the registry needs. `site` (the settings' Site) is what import
    gave the records: this library's holdings and their pages' address."""
    done = Rerendered()
    lacking = [entry.prefix for entry in formats or rendered_formats()] if lacking_only else ()
    for batch in stored_batches(db, BATCH_SIZE, having=MARC21.prefix, lacking=lacking):
        changed: dict[int, NewRecord] = {}
        harvested = _harvested(db, batch) if site is not None else set()
        for record in batch:
            made = _made_again(record, formats, site, record.id not in harvested)
            if isinstance(made, str):
                done.refused.append((record.identifier, made))
            elif made is not None:
                changed[record.id] = made
        if changed:
            with db.write() as session:
                kept = unchanged_since_read(session, [r for r in batch if r.id in changed])
                entries = [entry for record_id, entry in changed.items() if record_id in kept]
                outcomes = store(session, entries) if entries else []
            done.changed += sum(outcome is Outcome.UPDATED for outcome in outcomes)
        done.read += len(batch)
        if progress:
            progress(len(batch))
    return done


_STAMP_KEY = "renderings"  # in `settings`: what the stored renderings were made with


def _stamp(site: Site) -> str:
    """What a stored rendering depends on beyond its record: the renderers' version and
    the settings they write into every record (its page's address, 852 $a)."""
    made_with = {
        "renderers": RENDERERS_VERSION,
        "public_base_url": site.public_base_url,
        "library": site.library,
    }
    return json.dumps(made_with, sort_keys=True)


def renderings_outdated(db: Database, site: Site) -> bool:
    """Whether the stored renderings were made by other renderers or with other
    settings than these: `libfed db upgrade` then renders every record again, so that
    after an upgrade or a change of address or ISIL no record names a stale page."""
    with db.session() as session:
        stored = session.scalar(select(Setting.value).where(Setting.key == _STAMP_KEY))
    return stored != _stamp(site)


def mark_rendered(db: Database, site: Site) -> None:
    """Every stored rendering is now what these renderers make with these settings."""
    with db.write() as session:
        session.merge(Setting(key=_STAMP_KEY, value=_stamp(site)))
