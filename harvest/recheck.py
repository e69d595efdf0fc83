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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from sqlalchemy import select

from libfed.harvest.listing import HarvestedRecord, read_record
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.formats import MARC21, UNIMARC
from libfed.records.repository import Outcome, store, tombstone
from libfed.records.rewriting import StoredRecord, same_formats, stored_batches
from libfed.records.site import Site

from .aggregate import Aggregated, NotAggregable, aggregated, source_sets
from .intake import VERSION
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


def _received(record: StoredRecord) -> bytes:
    """The body of the format received: the UNIMARC original of a record that came as
    UNIMARC, else MARCXML wherever there is a marc21 rendering."""
    received = record.bodies.get(UNIMARC.prefix) or record.bodies.get(MARC21.prefix)
    return received or next(iter(record.bodies.values()), b"")


def _as_page(batch: list[StoredRecord]) -> bytes:
    records = b"".join(b"<record>" + r.header + _received(r) + b"</record>" for r in batch)
    return (
        (
            f'<OAI-PMH xmlns="{OAI_NS}"><responseDate>1970-01-01T00:00:00Z</responseDate>'
            "<request>recheck</request><ListRecords>"
        ).encode()
        + records
        + b"</ListRecords></OAI-PMH>"
    )


def _stamp(text: str | None) -> datetime:
    return datetime.fromisoformat((text or "1970-01-01T00:00:00Z").replace("Z", "+00:00"))


def _elements(batch: list[StoredRecord]) -> tuple[list[etree._Element], list[tuple[str, str]]]:
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
                unreadable.append((one.identifier, str(error)))
        return elements, unreadable


def _made_again(element: etree._Element, config: Config, source: Source) -> Aggregated:
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
            config.oai.repository_identifier,
            source.name,
            origin.findtext(f"{_PROVENANCE}baseURL") or source.base_url,
            _stamp(origin.get("harvestDate")),
            Site.of(config),
        )
    except NotAggregable as error:
        raise NotAggregable(str(error).removeprefix(f"{record.identifier}: ")) from None


def recheck_source(
    db: Database, config: Config, source: Source, progress: Callable[[int], None] | None = None
) -> Rechecked:
    """Re-check every live record of `source`; see the module's docstring."""
    done = Rechecked()
    for batch in stored_batches(db, _BATCH, member_of=source_sets(source.name)[1]):
        stored = {record.identifier: record for record in batch}
        elements, withdrawn = _elements(batch)
        entries, renamed = [], []
        for element in elements:
            ours = element.findtext(f"{{{OAI_NS}}}header/{{{OAI_NS}}}identifier") or ""
            try:
                made = _made_again(element, config, source)
            except (ValueError, NotAggregable) as error:
                withdrawn.append((ours, str(error)))
                continue
            if made.entry.identifier != ours:
                renamed.append(ours)
            elif same_formats(stored[ours], made.entry.formats):
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
