"""What a record offers to the search index, taken from its oai_dc.

Every record this server serves has oai_dc (local ones by the MARC crosswalk, which
maps 880 fields too, so a romanised record brings its original-script title along;
harvested ones as received or derived), so one reading serves local and harvested
records alike. Each text is kept twice: as written, for display, and as search keys
(libfed.records.search_keys), for matching across scripts.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn

from libfed.records.search_keys import indexed_key, record_key

_DC = "{http://purl.org/dc/elements/1.1/}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
# Display values are cut, not refused: a partner's 50 KB title must not stop a harvest.
_DISPLAY = 500
_KEY = 4000


@dataclass(frozen=True)
class SearchDocument:
    """One record as the index holds it (the source is added from its sets when stored)."""

    title: str
    author: str | None
    year: int | None
    language: str | None
    isbn: str | None  # the first valid ISBN, as ISBN-13
    title_key: str  # the key columns hold exact and folded keys (search_keys.indexed_key)
    author_key: str
    subject_key: str
    other_key: str  # publisher, other titles' words, standard numbers, year
    edition_key: str


def _values(root: etree._Element, name: str) -> list[str]:
    return [
        " ".join(e.text.split()) for e in root.iter(f"{_DC}{name}") if e.text and e.text.strip()
    ]


def _year(dates: list[str]) -> int | None:
    for date in dates:
        digits = date[:4]
        if len(digits) == 4 and digits.isascii() and digits.isdigit():
            return int(digits)
    return None


def standard_numbers(identifiers: list[str]) -> tuple[list[str], list[str]]:
    """Valid ISBNs (as ISBN-13) and ISSNs (compact, lowercase x) among dc:identifier
    values. Only numbers said to be one (URN:ISBN:..., "ISSN 1234-5679") count, and
    bare 13-digit Bookland numbers: a local record number that happens to have a valid
    check digit is no ISBN."""
    isbns: list[str] = []
    issns: list[str] = []
    for value in identifiers:
        label, _, number = value.replace("URN:", "").replace("urn:", "").partition(":")
        if not number:
            label, _, number = value.partition(" ")
        label, number = label.strip().upper(), (number.split() or [""])[0]
        if not number:
            label, number = "", label
        if (label == "ISBN" or number.startswith(("978", "979"))) and stdnum_isbn.is_valid(number):
            thirteen = stdnum_isbn.to_isbn13(stdnum_isbn.compact(number))
            if thirteen not in isbns:
                isbns.append(thirteen)
        elif label == "ISSN" and stdnum_issn.is_valid(number):
            compact = stdnum_issn.compact(number).lower()
            if compact not in issns:
                issns.append(compact)
    return isbns, issns


def edition_key(isbns: list[str], title_key: str, author_key: str, year: int | None) -> str:
    """Records of one edition share this: its ISBN, or else its title, first author and
    year as search keys, so a romanised record and a Cyrillic one of the same book meet."""
    if isbns:
        return f"isbn:{isbns[0]}"
    author = " ".join(author_key.split()[:2])  # the surname and first name, as catalogued
    return f"work:{title_key[:150]}|{author[:60]}|{year or ''}"[:255]


def dc_fields(xml: bytes | str) -> dict[str, list[str]]:
    """Every Dublin Core element's values (whitespace collapsed, empty ones left out), by
    element name in the order written; {} when the XML cannot be read. A record page shows
    any record, local or harvested, from the oai_dc it is served in, as the index does."""
    try:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, _PARSER)
    except etree.XMLSyntaxError:
        return {}
    fields: dict[str, list[str]] = {}
    # The name sliced off the tag, each text read once: a third of the time with
    # QName, which counts at a million records (libfed export's jsonl).
    for element in root.iter(f"{_DC}*"):
        text = element.text
        if text and not text.isspace():
            fields.setdefault(element.tag[len(_DC) :], []).append(" ".join(text.split()))
    return fields


def document_from_oai_dc(xml: bytes | str) -> SearchDocument | None:
    """The search document of an oai_dc record; None when it has no title to show."""
    try:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, _PARSER)
    except etree.XMLSyntaxError:
        return None
    titles = _values(root, "title")
    if not titles:
        return None
    languages = _values(root, "language")
    language = languages[0][:16] if languages else None
    creators = _values(root, "creator")
    contributors = _values(root, "contributor")
    year = _year(_values(root, "date"))
    isbns, issns = standard_numbers(_values(root, "identifier"))

    def key(values: list[str]) -> str:
        return indexed_key(" ".join(values)[:_KEY], language)

    def exact(values: list[str]) -> str:  # editions meet on exact keys only
        return record_key(" ".join(values)[:_KEY], language)

    title_key = key(titles)
    author_key = key(creators + contributors)
    first_title, first_author = exact(titles[:1]), exact(creators[:1] or contributors[:1])
    other = [*_values(root, "publisher"), *isbns, *issns, *([str(year)] if year else [])]
    return SearchDocument(
        title=titles[0][:_DISPLAY],
        author=creators[0][:_DISPLAY] if creators else None,
        year=year,
        language=language,
        isbn=isbns[0] if isbns else None,
        title_key=title_key,
        author_key=author_key,
        subject_key=key(_values(root, "subject")),
        other_key=key(other),
        edition_key=edition_key(isbns, first_title, first_author, year),
    )
