"""MODS 3.8 from MARC 21, following the Library of Congress MARC to MODS mapping
(version 3.x) for the elements aggregators read: titles, names with roles, type,
genre, origin, language, physical description, notes, subjects, classification,
series, identifiers, links and the record's own provenance.

DSpace, Islandora and national aggregators ask for MODS because it keeps what Dublin
Core flattens: the non-filing article of a title, a name's dates and role, the kind of
each subject term and the authority it comes from. As in the Dublin Core crosswalk
(libfed.records.crosswalk), an 880 (alternate graphic representation) is mapped like
the field its $6 links to, so a record catalogued in two scripts gives both forms; and
the record is walked once with a tag -> handler table, the XML built as a string.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree
from pymarc import Field, Record

from ..crosswalk import (
    _ISBD_TAIL,
    _LEADER_TYPES,
    _MANUSCRIPT_TYPES,
    _SUBDIVISIONS,
    _WHITESPACE,
    language_codes,
)
from ..xmltext import escape_attribute, escape_text
from .entry import MetadataFormat

MODS_NAMESPACE = "http://www.loc.gov/mods/v3"
MODS_SCHEMA = "http://www.loc.gov/standards/mods/v3/mods-3-8.xsd"
_OPEN_ROOT = (
    f'<mods xmlns="{MODS_NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xsi:schemaLocation="{MODS_NAMESPACE} {MODS_SCHEMA}" version="3.8">'
)

# Top-level elements in the order they are written (MODS allows any order; a fixed
# one keeps responses byte-stable between harvests).
(
    _TITLE,
    _NAME,
    _TYPE,
    _GENRE,
    _ORIGIN,
    _LANGUAGE,
    _PHYSICAL,
    _ABSTRACT,
    _CONTENTS,
    _NOTE,
    _SUBJECT,
    _CLASSIFICATION,
    _RELATED,
    _IDENTIFIER,
    _LOCATION,
    _ACCESS,
    _RECORD_INFO,
) = range(17)
# originInfo and physicalDescription gather from several fields into one element.
_PLACE, _PUBLISHER, _DATES, _EDITION, _FREQUENCY, _EXTENT, _LANGUAGE_CODES = range(17, 24)
_BUCKETS = 24

# Leader 06 as MODS says it: Dublin Core's words, but sound recordings are told apart.
_RESOURCE_TYPES = _LEADER_TYPES | {
    "i": "sound recording-nonmusical",
    "j": "sound recording-musical",
}
# Leader 07 -> issuance.
_ISSUANCE = {
    "a": "monographic",
    "c": "monographic",
    "d": "monographic",
    "m": "monographic",
    "b": "serial",
    "s": "serial",
    "i": "integrating resource",
}
# 008/23 (form of item, for books and the like) -> physicalDescription/form (marcform).
_FORMS = {
    "a": "microfilm",
    "b": "microfiche",
    "c": "microopaque",
    "d": "large print",
    "f": "braille",
    "o": "online",
    "q": "direct electronic",
    "r": "regular print reproduction",
    "s": "electronic",
}
_BOOK_LIKE = frozenset("at")
# Subject heading indicator 2 -> authority; 7 means "named in $2", 4 "not said".
_SUBJECT_AUTHORITIES = {
    "0": "lcsh",
    "1": "lcshac",
    "2": "mesh",
    "3": "nal",
    "5": "csh",
    "6": "rvm",
}
# 024 indicator 1 -> identifier type; 7 means "named in $2".
_STANDARD_NUMBERS = {"0": "isrc", "1": "upc", "2": "ismn", "3": "ean", "4": "sici"}
_DATE_008_CHARS = frozenset("0123456789u")
# 008/06 kinds of date whose 008/11-14 ends a range.
_RANGES = frozenset("cdikmqu")
# Subdivisions of a heading: $v form, $x topic, $y period, $z place.
_SUBDIVISION_ELEMENTS = {"v": "genre", "x": "topic", "y": "temporal", "z": "geographic"}

_ANY_URI = etree.XMLSchema(
    etree.fromstring(
        '<schema xmlns="http://www.w3.org/2001/XMLSchema"><element name="u" type="anyURI"/></schema>'
    )
)

_Buckets = list[list[str]]
_Handler = Callable[[Field, _Buckets], None]


def _tidy(value: str) -> str:
    """A value without the ISBD mark that only introduced the next subfield."""
    return value.rstrip(_ISBD_TAIL).lstrip()


def _joined(field: Field, codes: frozenset[str] | str, tail: str = _ISBD_TAIL) -> str:
    """The wanted subfields joined by a space, `tail` trimmed from the end."""
    parts = [value for code, value in field.subfields if code in codes and value]
    return " ".join(parts).rstrip(tail).lstrip() if parts else ""


def _first(field: Field, code: str) -> str:
    for each, value in field.subfields:
        if each == code and value and not value.isspace():
            return value.strip()
    return ""


def _element(name: str, text: str, attributes: str = "") -> str:
    """<name attributes>text</name>, or nothing for no text; most catalogue values hold
    nothing to escape, and looking is cheaper than translating."""
    if not text:
        return ""
    if "&" in text or "<" in text or ">" in text:
        text = escape_text(text)
    return f"<{name}{attributes}>{text}</{name}>"


def _attribute(name: str, value: str) -> str:
    return f' {name}="{escape_attribute(value)}"' if value else ""


def _indicator(field: Field, which: int) -> str:
    indicators = field.indicators
    return indicators[which] if indicators is not None and len(indicators) > which else " "


# --- titleInfo ---------------------------------------------------------------------


def _title_parts(field: Field, skip: int = 0) -> str:
    """title/subTitle/partNumber/partName of $a $b $n $p, the first `skip` characters
    of $a (the non-filing article) apart in nonSort."""
    parts = []
    for code, value in field.subfields:
        if not value:
            continue
        if code == "a":
            if 0 < skip < len(value):
                parts.append(_element("nonSort", value[:skip]))
                value = value[skip:]
            parts.append(_element("title", _tidy(value)))
        elif code == "b":
            parts.append(_element("subTitle", _tidy(value)))
        elif code == "n":
            parts.append(_element("partNumber", _tidy(value)))
        elif code == "p":
            parts.append(_element("partName", _tidy(value)))
    return "".join(parts)


def _title(field: Field, out: _Buckets) -> None:
    indicator = _indicator(field, 1)
    parts = _title_parts(field, int(indicator) if indicator.isdigit() else 0)
    if parts:
        out[_TITLE].append(f"<titleInfo>{parts}</titleInfo>")
    responsibility = _joined(field, "c")
    if responsibility:
        out[_NOTE].append(_element("note", responsibility, ' type="statement of responsibility"'))


def _variant_title(field: Field, out: _Buckets) -> None:
    kind = "translated" if _indicator(field, 1) == "1" else "alternative"
    parts = _title_parts(field)
    if parts:
        out[_TITLE].append(f'<titleInfo type="{kind}">{parts}</titleInfo>')


def _uniform_title(field: Field, out: _Buckets) -> None:
    parts = _title_parts(field)
    if parts:
        out[_TITLE].append(f'<titleInfo type="uniform">{parts}</titleInfo>')


# --- name --------------------------------------------------------------------------


def _name_parts(field: Field, kind: str) -> str:
    """namePart elements of a personal, corporate or conference name (X00/X10/X11)."""
    parts = []
    if kind == "conference":
        parts.append(_element("namePart", _joined(field, "acdnq")))
    elif kind == "corporate":
        parts.extend(_element("namePart", _tidy(v)) for c, v in field.subfields if c in "ab" and v)
    else:
        parts.append(_element("namePart", _joined(field, "aq")))
        parts.append(_element("namePart", _joined(field, "bc"), ' type="termsOfAddress"'))
        parts.append(_element("namePart", _joined(field, "d"), ' type="date"'))
    return "".join(parts)


def _roles(field: Field, term_code: str) -> str:
    roles = []
    for code, value in field.subfields:
        if not value or value.isspace():
            continue
        if code == term_code:
            term = _element("roleTerm", _tidy(value), ' type="text"')
            roles.append(f"<role>{term}</role>")
        elif code == "4":
            term = _element("roleTerm", value.strip(), ' type="code" authority="marcrelator"')
            roles.append(f"<role>{term}</role>")
    return "".join(roles)


def _name_kind(field: Field) -> str:
    tag = field.tag if field.tag != "880" else _first(field, "6")[:3]
    if tag.endswith("11"):
        return "conference"
    if tag.endswith("10"):
        return "corporate"
    return "family" if _indicator(field, 0) == "3" else "personal"


def _name(primary: bool) -> _Handler:
    usage = ' usage="primary"' if primary else ""

    def handle(field: Field, out: _Buckets) -> None:
        kind = _name_kind(field)
        parts = _name_parts(field, kind)
        if parts:
            roles = _roles(field, "j" if kind == "conference" else "e")
            affiliation = _element("affiliation", _joined(field, "u"))
            out[_NAME].append(f'<name type="{kind}"{usage}>{parts}{affiliation}{roles}</name>')

    return handle


# --- originInfo, language, physicalDescription --------------------------------------


def _imprint(field: Field, out: _Buckets) -> None:
    """260, and 264 by its indicator 2: 1 publication, 0 production, 2 distribution,
    3 manufacture, 4 copyright."""
    function = "1" if field.tag == "260" else _indicator(field, 1)
    for code, value in field.subfields:
        value = _tidy(value) if value else ""
        if not value:
            continue
        if code == "a":
            out[_PLACE].append(_element("placeTerm", value, ' type="text"'))
        elif code == "b" and function in "12":
            out[_PUBLISHER].append(_element("publisher", value))
        elif code == "c":
            if function == "1":
                out[_DATES].append(_element("dateIssued", value))
            elif function == "0":
                out[_DATES].append(_element("dateCreated", value))
            elif function == "4":
                out[_DATES].append(_element("copyrightDate", value))
            else:
                kind = "distribution" if function == "2" else "manufacture"
                out[_DATES].append(_element("dateOther", value, f' type="{kind}"'))


def _field_008(field: Field, out: _Buckets) -> None:
    """008: coded place, dates and language of the item and when it was catalogued."""
    data = field.data or ""
    place = data[15:18].strip(" |")
    if len(place) >= 2 and place.isascii() and place.isalpha():
        out[_PLACE].insert(0, _element("placeTerm", place, ' type="code" authority="marccountry"'))
    start, end = data[7:11], data[11:15]
    if len(start) == 4 and _DATE_008_CHARS.issuperset(start) and start != "uuuu":
        ranged = data[6:7] in _RANGES and len(end) == 4 and _DATE_008_CHARS.issuperset(end)
        point = ' point="start"' if ranged else ""
        out[_DATES].append(_element("dateIssued", start, f' encoding="marc" keyDate="yes"{point}'))
        if ranged and end != "9999":
            out[_DATES].append(_element("dateIssued", end, ' encoding="marc" point="end"'))
    out[_LANGUAGE_CODES].extend(language_codes(data[35:38]))
    created = data[0:6]
    if len(created) == 6 and created.isdigit():
        info = _element("recordCreationDate", created, ' encoding="marc"')
        out[_RECORD_INFO].append(info)


def _language_041(field: Field, out: _Buckets) -> None:
    for code, value in field.subfields:
        if code == "a" and value:
            out[_LANGUAGE_CODES].extend(language_codes(value))


def _into(bucket: int, name: str, codes: str, attributes: str = "", tail: str = _ISBD_TAIL):
    """One element per field: the wanted subfields joined."""

    def handle(field: Field, out: _Buckets) -> None:
        text = _joined(field, codes, tail)
        if text:
            out[bucket].append(_element(name, text, attributes))

    return handle


# --- subject, genre, classification ------------------------------------------------


def _authority(field: Field, indicator: int = 1) -> str:
    mark = _indicator(field, indicator)
    source = _first(field, "2") if mark == "7" else _SUBJECT_AUTHORITIES.get(mark, "")
    return _attribute("authority", source)


def _subdivisions(field: Field) -> list[str]:
    return [
        _element(_SUBDIVISION_ELEMENTS[code], _tidy(value))
        for code, value in field.subfields
        if code in _SUBDIVISIONS and value
    ]


def _subject(head: Callable[[Field], str]) -> _Handler:
    def handle(field: Field, out: _Buckets) -> None:
        parts = [head(field), *_subdivisions(field)]
        body = "".join(parts)
        if body:
            out[_SUBJECT].append(f"<subject{_authority(field)}>{body}</subject>")

    return handle


def _subject_name(field: Field) -> str:
    kind = _name_kind(field)
    parts = _name_parts(field, kind)
    title = _element("title", _joined(field, "t"))
    name = f'<name type="{kind}">{parts}</name>' if parts else ""
    return name + (f"<titleInfo>{title}</titleInfo>" if title else "")


def _subject_title(field: Field) -> str:
    parts = _title_parts(field)
    return f"<titleInfo>{parts}</titleInfo>" if parts else ""


def _subject_topic(field: Field) -> str:
    return _element("topic", _joined(field, "abcd"))


def _subject_place(field: Field) -> str:
    return _element("geographic", _joined(field, "a"))


def _keywords(field: Field, out: _Buckets) -> None:
    for code, value in field.subfields:
        if code == "a" and value and _tidy(value):
            out[_SUBJECT].append(f"<subject>{_element('topic', _tidy(value))}</subject>")


def _genre(field: Field, out: _Buckets) -> None:
    text = _joined(field, "a")
    if text:
        out[_GENRE].append(_element("genre", text, _authority(field)))


def _classification(authority: str, codes: str = "ab") -> _Handler:
    def handle(field: Field, out: _Buckets) -> None:
        source = authority or _first(field, "2")
        edition = _first(field, "2") if authority == "ddc" else ""
        attributes = _attribute("authority", source) + _attribute("edition", edition)
        for code, value in field.subfields:
            if code == "a" and value and _tidy(value):
                number = _tidy(value)
                if "b" in codes:
                    cutter = _first(field, "b")
                    number = f"{number} {cutter}" if cutter else number
                out[_CLASSIFICATION].append(_element("classification", number, attributes))

    return handle


# --- identifiers, location, series, access -----------------------------------------


def _isbn(field: Field, out: _Buckets) -> None:
    for code, value in field.subfields:
        words = value.split() if value and code in "az" else None
        number = words[0].rstrip(_ISBD_TAIL) if words else ""
        if number:
            invalid = ' invalid="yes"' if code == "z" else ""
            out[_IDENTIFIER].append(_element("identifier", number, f' type="isbn"{invalid}'))


def _issn(field: Field, out: _Buckets) -> None:
    number = _first(field, "a")
    if number:
        out[_IDENTIFIER].append(_element("identifier", number, ' type="issn"'))


def _standard_number(field: Field, out: _Buckets) -> None:
    mark = _indicator(field, 0)
    kind = _first(field, "2") if mark == "7" else _STANDARD_NUMBERS.get(mark, "")
    number = _first(field, "a")
    if number:
        out[_IDENTIFIER].append(_element("identifier", number, _attribute("type", kind)))


def _uri(value: str) -> str:
    """An 856 $u if MODS's url (xs:anyURI) takes it, else nothing (the value is still
    its identifier, which is any text). What libxml2 accepts as a URI is its own rule,
    so it is asked, through the schema of one element; 856s are few enough per record."""
    probe = etree.Element("u")
    try:
        probe.text = value
    except ValueError:  # a character XML cannot hold: not text for any element
        return ""
    return value if _ANY_URI.validate(probe) else ""


def _link(field: Field, out: _Buckets) -> None:
    label = _first(field, "3") or _first(field, "y")
    for code, value in field.subfields:
        url = value.strip(_WHITESPACE) if code == "u" and value else ""
        if url:
            out[_IDENTIFIER].append(_element("identifier", url, ' type="uri"'))
            link = _element("url", _uri(url), _attribute("displayLabel", label))
            if link:
                out[_LOCATION].append(f"<location>{link}</location>")


def _holding(field: Field, out: _Buckets) -> None:
    """852 as the LoC mapping has it: $a the holding library (physicalLocation), the
    call number's parts with the copy number (shelfLocator, $k $h $i $j $l $m $t), and
    the copy itself in holdingSimple: sublocation and shelving location ($b, $c),
    public note ($z), barcode ($p). The nonpublic note ($x) is never served."""
    shelf = _element("shelfLocator", _joined(field, "khijlmt", _WHITESPACE))
    copy = "".join(
        _element("subLocation", _tidy(value)) for code, value in field.subfields if code in "bc"
    )
    copy += "".join(
        _element("note", value.strip()) for code, value in field.subfields if code == "z"
    )
    copy += _element("itemIdentifier", _first(field, "p"), ' type="barcode"')
    holding = f"<holdingSimple><copyInformation>{copy}</copyInformation></holdingSimple>"
    body = _element("physicalLocation", _first(field, "a")) + shelf + (holding if copy else "")
    if body:
        out[_LOCATION].append(f"<location>{body}</location>")


def _series(field: Field, out: _Buckets) -> None:
    title = _joined(field, "a")
    if title:
        number = _element("partNumber", _joined(field, "v"))
        item = f"<titleInfo>{_element('title', title)}{number}</titleInfo>"
        out[_RELATED].append(f'<relatedItem type="series">{item}</relatedItem>')


def _cataloguing_source(field: Field, out: _Buckets) -> None:
    source = _first(field, "a")
    if source:
        out[_RECORD_INFO].append(_element("recordContentSource", source, ' authority="marcorg"'))
    for code in language_codes(_first(field, "b")):
        term = f'<languageTerm type="code" authority="iso639-2b">{code}</languageTerm>'
        out[_RECORD_INFO].append(f"<languageOfCataloging>{term}</languageOfCataloging>")


def _build_handlers() -> dict[str, _Handler]:
    handlers: dict[str, _Handler] = {
        "008": _field_008,
        "020": _isbn,
        "022": _issn,
        "024": _standard_number,
        "040": _cataloguing_source,
        "041": _language_041,
        "050": _classification("lcc"),
        "060": _classification("nlm"),
        "080": _classification("udc", "a"),
        "082": _classification("ddc", "a"),
        "084": _classification("", "a"),
        "100": _name(primary=True),
        "110": _name(primary=True),
        "111": _name(primary=True),
        "130": _uniform_title,
        "240": _uniform_title,
        "245": _title,
        "246": _variant_title,
        "250": _into(_EDITION, "edition", "ab"),
        "260": _imprint,
        "264": _imprint,
        "300": _into(_EXTENT, "extent", "abcefg"),
        "310": _into(_FREQUENCY, "frequency", "a"),
        "440": _series,
        "490": _series,
        "600": _subject(_subject_name),
        "610": _subject(_subject_name),
        "611": _subject(_subject_name),
        "630": _subject(_subject_title),
        "650": _subject(_subject_topic),
        "651": _subject(_subject_place),
        "653": _keywords,
        "655": _genre,
        "700": _name(primary=False),
        "710": _name(primary=False),
        "711": _name(primary=False),
        "852": _holding,
        "856": _link,
    }
    # Notes keep their closing full stop: they are sentences, not headings.
    notes = _into(_NOTE, "note", "a", tail=_WHITESPACE)
    for tag in range(500, 600):
        handlers[str(tag)] = notes
    handlers["505"] = _into(_CONTENTS, "tableOfContents", "agrt", tail=_WHITESPACE)
    handlers["520"] = _into(_ABSTRACT, "abstract", "ab", tail=_WHITESPACE)
    handlers["506"] = _into(
        _ACCESS, "accessCondition", "a", ' type="restriction on access"', _WHITESPACE
    )
    handlers["540"] = _into(
        _ACCESS, "accessCondition", "a", ' type="use and reproduction"', _WHITESPACE
    )
    return handlers


_HANDLERS = _build_handlers()
# An 880 can only stand for a data field, and never for another 880.
_LINKABLE = {tag: handler for tag, handler in _HANDLERS.items() if tag != "008"}


def _linked_880(field: Field, out: _Buckets) -> None:
    """Map an 880 as the field named in its $6 ("245-01/(N" -> 245)."""
    handler = _LINKABLE.get(_first(field, "6")[:3])
    if handler is not None:
        handler(field, out)


_HANDLERS["880"] = _linked_880


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values)) if len(values) > 1 else values


def _leader(leader: str, out: _Buckets) -> None:
    """Leader 06/07: typeOfResource and issuance."""
    kind = _RESOURCE_TYPES.get(leader[6:7])
    if kind is not None:
        collection = ' collection="yes"' if leader[7:8] == "c" else ""
        manuscript = ' manuscript="yes"' if leader[6:7] in _MANUSCRIPT_TYPES else ""
        out[_TYPE].append(f"<typeOfResource{collection}{manuscript}>{kind}</typeOfResource>")
    issuance = _ISSUANCE.get(leader[7:8])
    if issuance is not None:
        out[_DATES].append(f"<issuance>{issuance}</issuance>")


def _gathered(record: Record, out: _Buckets) -> None:
    """originInfo, language, physicalDescription and recordInfo made whole from the
    pieces the fields left in their buckets."""
    origin = [*_unique(out[_PLACE])]
    place = "".join(f"<place>{term}</place>" for term in origin)
    body = place + "".join(_unique(out[_PUBLISHER]) + out[_EDITION] + out[_DATES])
    body += "".join(out[_FREQUENCY])
    if body:
        out[_ORIGIN].append(f'<originInfo eventType="publication">{body}</originInfo>')
    for code in _unique(out[_LANGUAGE_CODES]):
        term = f'<languageTerm type="code" authority="iso639-2b">{code}</languageTerm>'
        out[_LANGUAGE].append(f"<language>{term}</language>")
    physical = ""
    control = record.get("008")
    leader = str(record.leader)
    if control is not None and leader[6:7] in _BOOK_LIKE:
        form = _FORMS.get((control.data or "")[23:24])
        if form is not None:
            physical = _element("form", form, ' authority="marcform"')
    physical += "".join(out[_EXTENT])
    if physical:
        out[_PHYSICAL].append(f"<physicalDescription>{physical}</physicalDescription>")
    identifier = record.get("001")
    if identifier is not None and identifier.data and identifier.data.strip():
        source = record.get("003")
        origin_code = source.data.strip() if source is not None and source.data else ""
        out[_RECORD_INFO].append(
            _element("recordIdentifier", identifier.data.strip(), _attribute("source", origin_code))
        )
    changed = record.get("005")
    if changed is not None and changed.data and changed.data[:8].isdigit():
        out[_RECORD_INFO].append(
            _element("recordChangeDate", changed.data.strip(), ' encoding="iso8601"')
        )
    info = "".join(out[_RECORD_INFO])
    out[_RECORD_INFO][:] = [f"<recordInfo>{info}</recordInfo>"] if info else []


def render_mods(record: Record, landing_url: str | None = None) -> str:
    """The <mods> element as a str (no XML declaration), with its namespace and
    schemaLocation on the root: the caller embeds it in an OAI-PMH <metadata>.
    `landing_url`, the record's public page here, is the first location: the record's
    primary display, the object in its context."""
    out: _Buckets = [[] for _ in range(_BUCKETS)]
    if landing_url:
        url = _element("url", landing_url, ' usage="primary display" access="object in context"')
        out[_LOCATION].append(f"<location>{url}</location>")
    leader = str(record.leader)
    _leader(leader, out)
    handlers = _HANDLERS
    for field in record.fields:
        handler = handlers.get(field.tag)
        if handler is not None:
            handler(field, out)
    _gathered(record, out)
    parts = [_OPEN_ROOT]
    for bucket in out[: _RECORD_INFO + 1]:
        parts.extend(_unique(bucket))
    parts.append("</mods>")
    return "".join(parts)


FORMAT = MetadataFormat("mods", MODS_SCHEMA, MODS_NAMESPACE, render_mods)
