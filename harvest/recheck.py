"""The records harvested by earlier versions, put through today's intake.

Before intake validation, a partner's record was stored as it came: an entity
reference, an XHTML script or stray text then reached /oai. Each stored record is
read back as a provider's page would be (its header and its received format in an
OAI-PMH envelope, parsed by `harvest.parsing`), with the source's identifier and
dates taken from its provenance, and aggregated again exactly as a fresh harvest
would: a record that comes out different is stored again (a new datestamp, so
downstream harvesters fetch the repaired version; its provenance says altered), one
under an identifier of the new syntax replaces the old one, and one that cannot be
made valid is withdrawn (a deletion, which downstream harvesters see) and named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from sqlalchemy import func, select

from libfed.harvest.listing import HarvestedRecord, read_record
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.formats import MARC21
from libfed.records.models import Record, RecordFormat, RecordSet
from libfed.records.repository import Outcome, store, tombstone
from libfed.records.stored_xml import metadata_of

from .aggregate import Aggregated, NotAggregable, aggregated, source_sets
from .intake import VERSION, Refused, parse
from .models import Source
from .parsing import OAI_NS, NotOAIResponse, parse_response

_BATCH = 200
_PROVENANCE = "{http://www.openarchives.org/OAI/2.0/provenance}"
_ORIGIN = f"{{{OAI_NS}}}about/{_PROVENANCE}provenance/{_PROVENANCE}originDescription"


@dataclass
class Rechecked:
    """What re-checking one source's records did."""

    checked: int = 0
    repaired: int = 0
    renamed: int = 0
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # identifier, reason


Stored = tuple[str, bytes, bytes, dict[str, bytes]]


def _batches(db: Database, source: str) -> Iterator[list[Stored]]:
    """(identifier, header, body of the format received, metadata per format) of the
    source's live records."""
    after = 0
    with db.session() as session:
        # Records stored by this re-check itself (a renamed one) are not read again.
        last = session.scalar(select(func.max(Record.id))) or 0
    while True:
        with db.session() as session:
            records = session.execute(
                select(Record.id, Record.identifier, Record.header_xml)
                .join(RecordSet, RecordSet.record_id == Record.id)
                .where(
                    RecordSet.set_spec == source_sets(source)[1],
                    Record.deleted.is_(False),
                    Record.id > after,
                    Record.id <= last,
                )
                .order_by(Record.id)
                .limit(_BATCH)
            ).all()
            if not records:
                return
            bodies: dict[int, bytes] = {}
            formats: dict[int, dict[str, bytes]] = {r.id: {} for r in records}
            for record_id, prefix, body in session.execute(
                select(RecordFormat.record_id, RecordFormat.prefix, RecordFormat.body_xml).where(
                    RecordFormat.record_id.in_([r.id for r in records])
                )
            ):
                # The format received is MARCXML wherever there is a marc21 rendering.
                if record_id not in bodies or prefix == MARC21.prefix:
                    bodies[record_id] = body
                formats[record_id][prefix] = (metadata_of(body) or "").encode()
        yield [(r.identifier, r.header_xml, bodies.get(r.id, b""), formats[r.id]) for r in records]
        after = records[-1].id


def _as_page(batch: list[Stored]) -> bytes:
    records = b"".join(b"<record>" + header + body + b"</record>" for _i, header, body, _f in batch)
    return (
        (
            f'<OAI-PMH xmlns="{OAI_NS}"><responseDate>1970-01-01T00:00:00Z</responseDate>'
            "<request>recheck</request><ListRecords>"
        ).encode()
        + records
        + b"</ListRecords></OAI-PMH>"
    )


def _canonical(xml: bytes) -> bytes:
    """Exclusive C14N: namespace declarations no element uses do not count (a provider's
    envelope leaks its default namespace into the records an older version stored)."""
    return etree.tostring(parse(xml), method="c14n", exclusive=True)


def _same(stored: dict[str, bytes], formats: Mapping[str, bytes]) -> bool:
    """Whether a record as stored and as intake makes it now are one record."""
    try:
        return stored.keys() == formats.keys() and all(
            _canonical(stored[prefix]) == _canonical(xml) for prefix, xml in formats.items()
        )
    except Refused:  # stored as no parser reads it: an entity an older version let in
        return False


def _stamp(text: str | None) -> datetime:
    return datetime.fromisoformat((text or "1970-01-01T00:00:00Z").replace("Z", "+00:00"))


def _elements(batch: list[Stored]) -> tuple[list[etree._Element], list[tuple[str, str]]]:
    """The batch's <record> elements as a page of them parses, and the records that no
    parser reads even alone (identifier, why)."""
    try:
        return list(parse_response(_as_page(batch)).iter(f"{{{OAI_NS}}}record")), []
    except NotOAIResponse:  # one record beyond repair spoils the page: one by one
        elements, unreadable = [], []
        for one in batch:
            try:
                elements += parse_response(_as_page([one])).iter(f"{{{OAI_NS}}}record")
            except NotOAIResponse as error:
                unreadable.append((one[0], str(error)))
        return elements, unreadable


def _made_again(element: etree._Element, repository: str, source: Source) -> Aggregated:
    """A stored record aggregated again as its provenance says it was harvested;
    ValueError or NotAggregable (naming the source's identifier) when it cannot be."""
    origin = element.find(_ORIGIN)
    if origin is None:
        raise ValueError("no provenance: not a harvested record")
    as_stored = read_record(element)
    record = HarvestedRecord(
        identifier=origin.findtext(f"{_PROVENANCE}identifier") or "",
        datestamp=origin.findtext(f"{_PROVENANCE}datestamp") or "",
        deleted=False,
        sets=(),
        metadata=as_stored.metadata,
        namespace=origin.findtext(f"{_PROVENANCE}metadataNamespace") or as_stored.namespace,
        repairs=as_stored.repairs,
    )
    try:
        return aggregated(
            record,
            repository,
            source.name,
            origin.findtext(f"{_PROVENANCE}baseURL") or source.base_url,
            _stamp(origin.get("harvestDate")),
        )
    except NotAggregable as error:
        raise NotAggregable(str(error).removeprefix(f"{record.identifier}: ")) from None


def recheck_source(
    db: Database, config: Config, source: Source, progress: Callable[[int], None] | None = None
) -> Rechecked:
    """Re-check every live record of `source`; see the module's docstring."""
    done = Rechecked()
    for batch in _batches(db, source.name):
        stored = {identifier: formats for identifier, _h, _b, formats in batch}
        elements, withdrawn = _elements(batch)
        entries, renamed = [], []
        for element in elements:
            ours = element.findtext(f"{{{OAI_NS}}}header/{{{OAI_NS}}}identifier") or ""
            try:
                made = _made_again(element, config.oai.repository_identifier, source)
            except (ValueError, NotAggregable) as error:
                withdrawn.append((ours, str(error)))
                continue
            if made.entry.identifier != ours:
                renamed.append(ours)
            elif _same(stored[ours], made.entry.formats):
                continue  # written differently at most: not worth a new datestamp
            entries.append(made.entry)
        with db.write() as session:
            for identifier in renamed + [i for i, _reason in withdrawn]:
                tombstone(session, identifier)
            outcomes = store(session, entries) if entries else []
        done.checked += len(batch)
        done.renamed += len(renamed)
        done.repaired += sum(o is Outcome.UPDATED for o in outcomes)
        done.withdrawn += withdrawn
        if progress:
            progress(done.checked)
    with db.write() as session:
        session.get_one(Source, source.id).intake_version = VERSION
    return done


def sources_to_recheck(db: Database) -> list[Source]:
    """The sources whose stored records predate the current intake rules."""
    with db.session() as session:
        return list(
            session.scalars(
                select(Source).where(Source.intake_version < VERSION).order_by(Source.name)
            )
        )
