"""MARC 21 bibliographic records to simple Dublin Core (``oai_dc``).

The mapping follows the Library of Congress "MARC to Dublin Core crosswalk"
(unqualified), with 100/110/111 kept apart as ``creator`` so harvesters can tell
authors from other contributors. 880 fields (alternate graphic representations)
are mapped exactly like the field their ``$6`` links to, so a record catalogued
in both romanised and original script yields both forms.

This runs for every imported record, so the XML is built as a string rather than
through an lxml tree, and the record is walked once with a tag -> handler table
instead of one ``get_fields`` scan per DC element.
"""

from collections.abc import Callable
from string import ascii_lowercase

from pymarc import Field, Record

# The fifteen simple Dublin Core elements, in the order they are written.
DC_ELEMENTS = (
    "title",
    "creator",
    "subject",
    "description",
    "publisher",
    "contributor",
    "date",
    "type",
    "format",
    "identifier",
    "source",
    "language",
    "relation",
    "coverage",
    "rights",
)
(
    _TITLE,
    _CREATOR,
    _SUBJECT,
    _DESCRIPTION,
    _PUBLISHER,
    _CONTRIBUTOR,
    _DATE,
    _TYPE,
    _FORMAT,
    _IDENTIFIER,
    _SOURCE,
    _LANGUAGE,
    _RELATION,
    _COVERAGE,
    _RIGHTS,
) = range(len(DC_ELEMENTS))
# Date candidates that are only used when 260/264 (ind2 = 1) give no date.
_DATE_OTHER_264 = len(DC_ELEMENTS)
_DATE_008 = _DATE_OTHER_264 + 1
_SLOTS = _DATE_008 + 1

# oai_dc, as the format registry (libfed.records.formats.oai_dc) serves it.
OAI_DC_NAMESPACE = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NAMESPACE = "http://purl.org/dc/elements/1.1/"
_NAMESPACES = (
    f'xmlns:oai_dc="{OAI_DC_NAMESPACE}" '
    f'xmlns:dc="{DC_NAMESPACE}" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xsi:schemaLocation="{OAI_DC_NAMESPACE} {OAI_DC_SCHEMA}"'
)
_OPEN_ROOT = f"<oai_dc:dc {_NAMESPACES}>"
_CLOSE_ROOT = "</oai_dc:dc>"
_OPEN_TAGS = tuple(f"<dc:{name}>" for name in DC_ELEMENTS)
_CLOSE_TAGS = tuple(f"</dc:{name}>" for name in DC_ELEMENTS)
_SEPARATORS = tuple(close + open_ for open_, close in zip(_OPEN_TAGS, _CLOSE_TAGS, strict=True))

# Everything str.strip() removes (the highest such code point is U+3000), so that
# rstrip(_ISBD_TAIL) also sees through an NBSP or ideographic space before the ISBD mark.
_WHITESPACE = "".join(char for char in map(chr, range(0x3001)) if char.isspace())
# ISBD punctuation that closes a MARC subfield only to introduce the next one.
_ISBD_TAIL = _WHITESPACE + "/:;,.="

_LEADER_TYPES = {
    "a": "text",
    "t": "text",
    "e": "cartographic",
    "f": "cartographic",
    "c": "notated music",
    "d": "notated music",
    "i": "sound recording",
    "j": "sound recording",
    "k": "still image",
    "g": "moving image",
    "r": "three dimensional object",
    "m": "software, multimedia",
    "p": "mixed material",
}
_MANUSCRIPT_TYPES = frozenset("dft")
_DATE_008_CHARS = frozenset("0123456789u")

# $0-$9 are control subfields (authority links, linkage, sources, institution codes):
# never part of a displayable name or heading.
_CONTROL_CODES = frozenset("0123456789")
# Relator terms are $e in X00/X10/720 but $j in X11, where $e is a subordinate unit.
_NAME_EXCLUDED = _CONTROL_CODES | {"e"}
_MEETING_NAME_EXCLUDED = _CONTROL_CODES | {"j"}
_SUBDIVISIONS = frozenset("vxyz")
_HEADING_MAIN = frozenset(ascii_lowercase) - _SUBDIVISIONS - {"e"}
_MEETING_HEADING_MAIN = frozenset(ascii_lowercase) - _SUBDIVISIONS - {"j"}
_PLACE_HIERARCHY = frozenset("abcdefgh")

_Slots = list[list[str]]
_Handler = Callable[[Field, _Slots], None]

# Every handler trims with ``value.rstrip(tail).lstrip()`` inline rather than through a
# helper: a function call per value is a measurable share of the per-record budget.


def _joined(slot: int, codes: str, tail: str = _ISBD_TAIL) -> _Handler:
    """One DC value per field: the wanted subfields joined by a space, ``tail`` trimmed
    from the end (notes pass plain whitespace: their full stop ends a sentence)."""
    wanted = frozenset(codes)

    def handle(field: Field, out: _Slots) -> None:
        parts = []
        for code, value in field.subfields:
            if code in wanted and value:
                parts.append(value)
        if parts:
            out[slot].append(" ".join(parts).rstrip(tail).lstrip())

    return handle


def _each(**routes: tuple[int, str]) -> _Handler:
    """One DC value per occurrence of each routed subfield, as ``code=(slot, tail)``.

    For repeatable subfields that are separate values (each 653 $a is its own term) and
    for fields whose subfields feed different elements (856 $q format, $u identifier).
    """

    def handle(field: Field, out: _Slots) -> None:
        for code, value in field.subfields:
            route = routes.get(code)
            if route is not None and value:
                slot, tail = route
                out[slot].append(value.rstrip(tail).lstrip())

    return handle


def _name(slot: int, excluded: frozenset[str]) -> _Handler:
    """A personal/corporate/meeting name with relators and control subfields removed."""

    def handle(field: Field, out: _Slots) -> None:
        parts = []
        for code, value in field.subfields:
            if code not in excluded and value:
                parts.append(value)
        if parts:
            out[slot].append(" ".join(parts).rstrip(_ISBD_TAIL).lstrip())

    return handle


def _heading(slot: int, main: frozenset[str]) -> _Handler:
    """A subject-style heading, subdivisions shown the LCSH way: "Main -- Sub -- Sub"."""

    def handle(field: Field, out: _Slots) -> None:
        head = []
        pieces = []
        for code, value in field.subfields:
            if value:
                if code in main:
                    head.append(value)
                elif code in _SUBDIVISIONS:
                    pieces.append(value.rstrip(_ISBD_TAIL).lstrip())
        if head:
            pieces.insert(0, " ".join(head).rstrip(_ISBD_TAIL).lstrip())
        if pieces:
            out[slot].append(" -- ".join(filter(None, pieces)))

    return handle


def _place_hierarchy(field: Field, out: _Slots) -> None:
    """662/752 list places from largest to smallest, like subject subdivisions."""
    pieces = []
    for code, value in field.subfields:
        if code in _PLACE_HIERARCHY and value:
            pieces.append(value.rstrip(_ISBD_TAIL).lstrip())
    if pieces:
        out[_COVERAGE].append(" -- ".join(filter(None, pieces)))


def _imprint(date_slot: int, with_publisher: bool) -> _Handler:
    """Publisher as "Place : Name" from $a/$b, and each $c as a date."""

    def handle(field: Field, out: _Slots) -> None:
        places_names = []
        for code, value in field.subfields:
            if not value:
                continue
            if code == "c":
                out[date_slot].append(value.rstrip(_ISBD_TAIL).lstrip())
            elif with_publisher and (code == "a" or code == "b"):
                places_names.append(value.rstrip(_ISBD_TAIL).lstrip())
        if places_names:
            out[_PUBLISHER].append(" : ".join(filter(None, places_names)))

    return handle


_PUBLICATION = _imprint(_DATE, with_publisher=True)
_OTHER_IMPRINT = _imprint(_DATE_OTHER_264, with_publisher=False)


def _field_264(field: Field, out: _Slots) -> None:
    """Only 264 ind2 = 1 is publication; production, distribution and copyright
    (ind2 = 0, 2, 3, 4) are not the publisher, but their dates beat having none."""
    indicators = field.indicators
    if indicators is not None and indicators[1] == "1":
        _PUBLICATION(field, out)
    else:
        _OTHER_IMPRINT(field, out)


def _isbn(field: Field, out: _Slots) -> None:
    """020 $a often carries a qualifier after the number ("0520213955 (alk. paper)")."""
    for code, value in field.subfields:
        words = value.split() if code == "a" and value else None
        number = words[0].rstrip(_ISBD_TAIL) if words else ""
        if number:
            out[_IDENTIFIER].append(f"URN:ISBN:{number}")


def _issn(field: Field, out: _Slots) -> None:
    for code, value in field.subfields:
        if code == "a" and value and not value.isspace():
            out[_IDENTIFIER].append(f"URN:ISSN:{value.strip()}")


def language_codes(value: str) -> list[str]:
    """The MARC language codes of a 041 $a (or 040 $b): older records pack several into
    one ("engrus"); anything that is not a run of 3-letter codes (e.g. 2-letter codes
    under ind2 = 7) is not a MARC language code and is skipped rather than guessed at."""
    run = value.strip().lower()
    if run and len(run) % 3 == 0 and run.isascii() and run.isalpha():
        return [run[i : i + 3] for i in range(0, len(run), 3)]
    return []


def _language_041(field: Field, out: _Slots) -> None:
    for code, value in field.subfields:
        if code == "a" and value:
            out[_LANGUAGE].extend(language_codes(value))


def _field_008(field: Field, out: _Slots) -> None:
    """008/35-37 language and 008/07-10 date; slicing copes with a short or empty 008."""
    data = field.data or ""
    language = data[35:38]
    if len(language) == 3 and language.isascii() and language.isalpha() and language.islower():
        out[_LANGUAGE].append(language)
    year = data[7:11]
    if len(year) == 4 and _DATE_008_CHARS.issuperset(year) and year != "uuuu":
        out[_DATE_008].append(year)


def _linked_880(field: Field, out: _Slots) -> None:
    """Map an 880 as the field named in its $6 ("245-01/(N" -> 245)."""
    for code, value in field.subfields:
        if code == "6":
            handler = _LINKABLE.get(value.strip()[:3]) if value else None
            if handler is not None:
                handler(field, out)
            return


def _build_handlers() -> dict[str, _Handler]:
    tidy = _ISBD_TAIL
    handlers: dict[str, _Handler] = {
        "008": _field_008,
        "020": _isbn,
        "022": _issn,
        "024": _each(a=(_IDENTIFIER, tidy)),
        "041": _language_041,
        "050": _joined(_SUBJECT, "ab"),
        "082": _each(a=(_SUBJECT, tidy)),
        "100": _name(_CREATOR, _NAME_EXCLUDED),
        "110": _name(_CREATOR, _NAME_EXCLUDED),
        "111": _name(_CREATOR, _MEETING_NAME_EXCLUDED),
        "245": _joined(_TITLE, "abfgknps"),
        "246": _joined(_TITLE, "abnp"),
        "260": _PUBLICATION,
        "264": _field_264,
        "300": _joined(_FORMAT, "abc"),
        "440": _joined(_RELATION, "av"),
        "490": _joined(_RELATION, "av"),
        "600": _heading(_SUBJECT, _HEADING_MAIN),
        "610": _heading(_SUBJECT, _HEADING_MAIN),
        "611": _heading(_SUBJECT, _MEETING_HEADING_MAIN),
        "630": _heading(_SUBJECT, _HEADING_MAIN),
        "650": _heading(_SUBJECT, _HEADING_MAIN),
        "653": _each(a=(_SUBJECT, tidy)),
        "651": _heading(_COVERAGE, frozenset("a")),
        "655": _each(a=(_TYPE, tidy)),
        "662": _place_hierarchy,
        "700": _name(_CONTRIBUTOR, _NAME_EXCLUDED),
        "710": _name(_CONTRIBUTOR, _NAME_EXCLUDED),
        "711": _name(_CONTRIBUTOR, _MEETING_NAME_EXCLUDED),
        "720": _name(_CONTRIBUTOR, _NAME_EXCLUDED),
        "752": _place_hierarchy,
        "856": _each(q=(_FORMAT, tidy), u=(_IDENTIFIER, _WHITESPACE)),
        "880": _linked_880,
    }
    # Notes keep their closing full stop: they are sentences, not headings.
    notes = _joined(_DESCRIPTION, "a", _WHITESPACE)
    for tag in range(500, 600):
        handlers[str(tag)] = notes
    del handlers["546"]  # language note: free text, not a language code
    handlers["506"] = _joined(_RIGHTS, "a", _WHITESPACE)
    handlers["540"] = _joined(_RIGHTS, "a", _WHITESPACE)
    handlers["520"] = _joined(_DESCRIPTION, "ab", _WHITESPACE)
    handlers["530"] = _joined(_RELATION, "a")
    handlers["534"] = _each(a=(_DESCRIPTION, _WHITESPACE), t=(_SOURCE, tidy))
    for tag in range(760, 788):
        handlers[str(tag)] = _joined(_RELATION, "ot")
    handlers["786"] = _joined(_SOURCE, "ot")
    return handlers


_HANDLERS = _build_handlers()
# An 880 can only stand for a data field, and never for another 880.
_LINKABLE = {tag: h for tag, h in _HANDLERS.items() if tag not in ("008", "880")}


def _collect(record: Record) -> list[list[str]]:
    """Values per DC element (indexed like ``DC_ELEMENTS``), deduplicated, in record order."""
    out: _Slots = [[] for _ in range(_SLOTS)]
    # str() because Record.leader may be a Leader or a plain (possibly short) str.
    leader = str(record.leader)
    leader_06 = leader[6:7]
    kind = _LEADER_TYPES.get(leader_06)
    types = out[_TYPE]
    if kind is not None:
        types.append(kind)
    if leader[7:8] == "c":
        types.append("collection")
    if leader_06 in _MANUSCRIPT_TYPES:
        types.append("manuscript")

    handlers = _HANDLERS
    for field in record.fields:
        handler = handlers.get(field.tag)
        if handler is not None:
            handler(field, out)

    if not any(out[_DATE]):
        out[_DATE] = [date for date in out[_DATE_OTHER_264] if date] or out[_DATE_008]
    del out[len(DC_ELEMENTS) :]
    for values in out:
        if len(values) > 1:
            unique = dict.fromkeys(values)
            unique.pop("", None)
            values[:] = unique
        elif values and not values[0]:
            values.clear()
    return out


def dc_elements(record: Record) -> list[tuple[str, str]]:
    """(element, value) pairs in the DC element order below; values stripped, empty ones
    dropped, exact duplicates dropped.

    Order: title, creator, subject, description, publisher, contributor, date, type,
    format, identifier, source, language, relation, coverage, rights. oai_dc allows any
    order; a fixed one keeps responses byte-stable between harvests.
    """
    return [
        (element, value)
        for element, values in zip(DC_ELEMENTS, _collect(record), strict=True)
        for value in values
    ]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_oai_dc(record: Record, landing_url: str | None = None) -> str:
    """The <oai_dc:dc> element as a str (no XML declaration), declaring the oai_dc, dc
    and xsi namespaces and the oai_dc schemaLocation on the root, one child per
    ``dc_elements`` pair, text escaped for XML.

    `landing_url`, the record's public page here, is its first ``dc:identifier``: BASE
    and CORE link to the first http identifier, and WorldCat's gateway tells records
    apart by it.

    The caller embeds it in an OAI-PMH <metadata> element, which is why it carries its
    own namespace declarations and no XML declaration.
    """
    slots = _collect(record)
    if landing_url:
        identifiers = slots[_IDENTIFIER]
        identifiers[:] = [landing_url, *(value for value in identifiers if value != landing_url)]
    flat = [value for values in slots for value in values]
    if not flat:
        return _OPEN_ROOT + _CLOSE_ROOT
    # Escape all values in one pass: NUL cannot occur in XML 1.0 text, so it is a safe
    # separator; the length check covers a record that still carries one.
    text = "\x00".join(flat)
    if "&" in text or "<" in text or ">" in text:
        escaped = _escape(text).split("\x00")
        flat = escaped if len(escaped) == len(flat) else [_escape(value) for value in flat]
    parts = [_OPEN_ROOT]
    start = 0
    for index, values in enumerate(slots):
        if values:
            end = start + len(values)
            parts.append(_OPEN_TAGS[index])
            parts.append(_SEPARATORS[index].join(flat[start:end]))
            parts.append(_CLOSE_TAGS[index])
            start = end
    parts.append(_CLOSE_ROOT)
    return "".join(parts)
