"""A record's own page, `/records/<OAI identifier>`: any record this server serves, local or
harvested, read by people rather than by harvesters.

It is public, as the OAI-PMH interface serving the same records is: a signed-in
coordinator sees one more thing, the form adding the record to a shipment (which the
exchange offers through the `ShipmentTargets` hook, so search imports no exchange code).
Everything shown is read from what is stored: the oai_dc every record is served in (for
this library's records, the crosswalk's rendering of its MARC), the MARC record where one
is stored, the search index's edition and its holdings (the search page's own query),
the provenance a harvested record carries in its `about` container, and the formats it
is served in. A deleted record answers 410 with a page saying so, an unknown one 404.
Its head tells crawlers and reference managers the same (`landing`: Highwire meta tags,
schema.org JSON-LD).

The identifier is the URL's last segment, every `/` in it percent-encoded
(`IdentifierConverter`): a harvested identifier may hold `/`, `..`, `?` or `%`, and a
browser would resolve dot segments of a path before asking.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import Blueprint, abort, render_template, url_for
from lxml import etree
from markupsafe import Markup
from pymarc import Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn
from werkzeug.routing import PathConverter

from libfed.kernel.services import ShipmentChoice, services
from libfed.records.formats import FORMATS, MARC21, OAI_DC
from libfed.records.holdings import LOCATION
from libfed.records.identifiers import get_record_url
from libfed.records.marcxml import record_from_element
from libfed.records.models import IDENTIFIER_LENGTH, Record, RecordFormat, RecordSet, SearchEntry
from libfed.records.rewriting import StoredRecord
from libfed.records.search_documents import dc_fields, standard_numbers
from libfed.records.search_index import source_of
from libfed.records.site import RECORD_PAGES, landing_url, segment
from libfed.web.auth import signed_in
from libfed.web.formatting import day, moment

from . import landing
from .query import Edition, editions
from .web import helpers, language_label

blueprint = Blueprint("record_pages", __name__, template_folder="templates")
blueprint.context_processor(helpers)

# What a person calls each format the records are served in (a format added to the
# registry without a name here is shown by its prefix).
FORMAT_NAMES = {
    OAI_DC.prefix: "Dublin Core",
    MARC21.prefix: "MARC 21 (MARCXML)",
    "mods": "MODS",
    "unimarc": "UNIMARC",
}
MAX_MARC_FIELDS = 500  # shown of one record; a partner's record may carry thousands
_PROVENANCE = "{http://www.openarchives.org/OAI/2.0/provenance}"
# Stored XML is ours, but harvested text is anyone's: nothing resolved, nothing fetched.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
PATH = RECORD_PAGES  # the sitemap writes its many addresses without routing each


class IdentifierConverter(PathConverter):
    """An OAI identifier as one segment of a path: `/`, `?`, `#` and `%` percent-encoded.

    The server decodes the path before routing, so the identifier arrives as it is
    stored; matching like `path` keeps an encoded `/` (decoded by then) in it."""

    def to_url(self, value: str) -> str:
        return segment(value)


@dataclass(frozen=True)
class MarcLine:
    """One MARC field as a cataloguer reads it: tag, indicators (blank as #), and a control
    field's data or a data field's subfields as (code, value)."""

    tag: str
    indicators: str
    data: str = ""
    subfields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Copy:
    """A holding (MARC 852) as a reader looks for it: where it stands, under which call
    number. A local record's are this library's (libfed.records.holdings), a harvested
    record's what its holder sent."""

    location: str  # $a $b $c: the library, its sublocation and shelving location
    call_number: str  # $k $h $i $j $l $m
    copy: str  # $t
    note: str  # $z, the public note ($x is nonpublic and never shown)


def _copies(fields: list[Field]) -> list[Copy]:
    def joined(field: Field, codes: str, between: str = " ") -> str:
        return between.join(v.strip() for c, v in field.subfields if c in codes and v.strip())

    return [
        Copy(joined(f, "abc", ", "), joined(f, "khijlm"), joined(f, "t"), joined(f, "z", "; "))
        for f in fields
        if f.tag == LOCATION and not f.is_control_field()
    ]


@dataclass(frozen=True)
class Provenance:
    """Where a harvested record came from, as its `about` container says."""

    source: str
    holder: str
    base_url: str | None
    identifier: str | None  # at the source
    datestamp: date | datetime | str | None  # at the source; as written if unreadable
    harvested: datetime | None
    altered: bool | None  # None: the record carries no provenance (stored before it did)


@dataclass(frozen=True)
class RecordView:
    """The record as the page shows it; a deleted one its identifier and when it was deleted."""

    identifier: str
    datestamp: datetime
    deleted: bool = False
    formats: list[tuple[str, str]] = field(default_factory=list)  # (name, GetRecord URL)
    dc: dict[str, list[str]] = field(default_factory=dict)
    language: str | None = None  # the language code the index reads (for lang="")
    isbns: list[str] = field(default_factory=list)
    issns: list[str] = field(default_factory=list)
    edition_statement: str | None = None
    copies: list[Copy] = field(default_factory=list)
    marc: list[MarcLine] = field(default_factory=list)
    marc_total: int = 0
    edition: Edition | None = None
    holders: dict[str, str] = field(default_factory=dict)
    provenance: Provenance | None = None

    @property
    def title(self) -> str | None:
        titles = self.dc.get("title")
        return titles[0] if titles else None


def _marc_lines(fields: list[Field]) -> list[MarcLine]:
    lines = []
    for marc_field in fields[:MAX_MARC_FIELDS]:
        if marc_field.is_control_field():
            lines.append(MarcLine(marc_field.tag, "", data=marc_field.data or ""))
            continue
        indicators = "".join(i if i.strip() else "#" for i in marc_field.indicators)
        subfields = tuple((code, value) for code, value in marc_field.subfields)
        lines.append(MarcLine(marc_field.tag, indicators, subfields=subfields))
    return lines


def _edition_statement(fields: list[Field]) -> str | None:
    """MARC 250 $a $b: what Dublin Core has no element for."""
    for marc_field in fields:
        if marc_field.tag == "250" and not marc_field.is_control_field():
            parts = marc_field.subfields
            text = " ".join(v.strip() for c, v in parts if c in "ab" and v.strip())
            return text.rstrip(" /:;,") or None
    return None


def _moment(text: str | None) -> date | datetime | str | None:
    """An OAI datestamp (a day, or a UTC time with Z) read for formatting; else as written."""
    if not text:
        return None
    try:
        if "T" not in text:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        return text


def _provenance(about: str | None, source: str, holder: str) -> Provenance:
    origin = None
    if about:
        try:
            origin = etree.fromstring(about.encode(), _PARSER).find(
                f".//{_PROVENANCE}originDescription"
            )
        except etree.XMLSyntaxError:
            origin = None

    def text(name: str) -> str | None:
        found = origin.find(f"{_PROVENANCE}{name}") if origin is not None else None
        if found is None or not (found.text or "").strip():
            return None
        return found.text.strip()

    harvested = _moment(origin.get("harvestDate")) if origin is not None else None
    return Provenance(
        source=source,
        holder=holder,
        base_url=text("baseURL"),
        identifier=text("identifier"),
        datestamp=_moment(text("datestamp")),
        harvested=harvested if isinstance(harvested, datetime) else None,
        altered=None if origin is None else origin.get("altered") == "true",
    )


def read_record(session: Session, identifier: str) -> RecordView | None:
    """What the page shows of the record; None when the server has no such record."""
    if len(identifier) > IDENTIFIER_LENGTH:
        return None
    record = session.scalar(select(Record).where(Record.identifier == identifier))
    if record is None:
        return None
    if record.deleted:
        return RecordView(identifier, record.datestamp, deleted=True)
    base_url = services().config.oai.base_url
    bodies = dict(
        session.execute(
            select(RecordFormat.prefix, RecordFormat.body_xml).where(
                RecordFormat.record_id == record.id
            )
        ).all()
    )
    stored = StoredRecord(record.id, identifier, record.header_xml, record.content_hash, bodies)
    formats = [
        (FORMAT_NAMES.get(prefix, prefix), get_record_url(base_url, identifier, prefix))
        for prefix in FORMATS
        if prefix in bodies
    ]
    dc = dc_fields(stored.metadata(OAI_DC.prefix)) if OAI_DC.prefix in bodies else {}
    isbns, issns = standard_numbers(dc.get("identifier", []))
    marc_fields: list[Field] = []
    if MARC21.prefix in bodies:
        with suppress(etree.XMLSyntaxError):  # stored, so read before; shown without MARC
            root = etree.fromstring(stored.metadata(MARC21.prefix), _PARSER)
            marc_fields = record_from_element(root)[0].fields
    entry = session.get(SearchEntry, record.id)
    found = editions(session, [entry.edition_key]) if entry is not None else []
    edition = found[0] if found else None
    source = source_of(
        session.scalars(select(RecordSet.set_spec).where(RecordSet.record_id == record.id))
    )
    sources = {h.source for h in edition.holdings if h.source} if edition else set()
    if source:
        sources.add(source)
    holders = services().holders(session, sources) if sources else {}
    provenance = None
    if source:
        prefix = MARC21.prefix if MARC21.prefix in bodies else OAI_DC.prefix
        about = stored.about(prefix) if prefix in bodies else None
        provenance = _provenance(about, source, holders.get(source, source))
    return RecordView(
        identifier,
        record.datestamp,
        formats=formats,
        dc=dc,
        language=entry.language if entry is not None else None,
        isbns=[stdnum_isbn.format(number) for number in isbns],
        issns=[stdnum_issn.format(number) for number in issns],
        edition_statement=_edition_statement(marc_fields),
        copies=_copies(marc_fields),
        marc=_marc_lines(marc_fields),
        marc_total=len(marc_fields),
        edition=edition,
        holders=holders,
        provenance=provenance,
    )


@blueprint.context_processor
def _when() -> dict[str, object]:
    return {"when": when}


def when(value: date | datetime | str) -> str:
    """A source's datestamp as the page's language writes a day or a time; else as written."""
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, date):
        return day(value)
    return value


@blueprint.get(PATH + "<oai_identifier:identifier>")
def record_page(identifier: str) -> tuple[str, int]:
    """The record for anyone; 410 once deleted, 404 when there never was one."""
    caller = signed_in()
    with services().db.session() as session:
        view = read_record(session, identifier)
        if view is None:
            abort(404)
        choice: ShipmentChoice | None = None
        if caller is not None and not view.deleted:
            choice = services().shipment_targets(session, caller)
    if view.deleted:
        return render_template("search/record_deleted.html", record=view), 410
    url = landing_url(services().config.public_base_url, identifier)  # as its renderings say
    return render_template(
        "search/record.html",
        record=view,
        url=url,
        citations=landing.citation_tags(view, url),
        json_ld=Markup(landing.script_json(landing.json_ld(view, url))),  # escaped for <script>
        choice=choice,
        back=url_for("record_pages.record_page", identifier=identifier),
        languages=[language_label(code) for code in view.dc.get("language", [])],
        home=services().config.oai.repository_name,
    ), 200
