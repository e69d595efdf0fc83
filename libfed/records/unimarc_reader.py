"""UNIMARC and RUSMARC records told from MARC 21 ones, decoded and converted.

`libfed import` and harvest intake hand every record here first: a UNIMARC or RUSMARC
record comes back converted to MARC 21 (libfed.records.unimarc) with its original in
UNIMARC slim (libfed.records.formats.unimarc), anything else as None, to be read as
MARC 21 as before.

Telling them apart (`flavour` "auto"): ISO 2709 is the same structure in all three, so
the fields decide. A record with a 200 (UNIMARC's title) and no 245 (MARC 21's) is
UNIMARC, as is one without 245 whose leader ends in UNIMARC's "450 " and which has a
100; MARC 21 defines no 200, and every MARC 21 record has a 245, so MARC 21 files are
never taken for UNIMARC (tests/test_unimarc.py tries every fixture). It is RUSMARC when
its character set is one only RUSMARC defines (100 $a/26-27: 79, 89, 99), when it has
RUSMARC's location field 899, or when its cataloguing agency is Russian or Belarusian
(801 $a RU, BY); RUSMARC's UNISlim XML namespace says so too. "unimarc" and "rusmarc"
force the conversion; "marc21" turns detection off.

Character set: UNIMARC says it in 100 $a/26-27, not in the leader. 50 (ISO 10646) and
blank are UTF-8; RUSMARC's 79, 89 and 99 are CP866, Windows-1251 and KOI8-R. Records
that claim ISO 646 or ISO 5426 are read as UTF-8 if they are valid UTF-8 (ASCII is,
and files that claim 5426 but hold UTF-8 are common: a sixth of the real sample), and
rejected by name otherwise: ISO 5426 has no decoder here. `--encoding` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from pymarc import Field, Indicators, Record, Subfield

from .formats.unimarc import FORMAT as UNIMARC_FORMAT
from .formats.unimarc import RUSMARC_NAMESPACE as RUSMARC_NS
from .formats.unimarc import unimarc_slim
from .marc_checks import RecordRejected
from .marc_reader import RawEntry, Undecodable, decode
from .marcxml import MARC_NS, record_from_element
from .unimarc import FLAVOURS, RUSMARC, UNIMARC, give_control_number, to_marc21
from .xml_schemas import schema_problem

AUTO = "auto"
MARC21 = "marc21"
CHOICES = (AUTO, MARC21, *FLAVOURS)
SLIM_NS = UNIMARC_FORMAT.namespace
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_CHARSETS = {"  ": "utf-8", "50": "utf-8", "79": "cp866", "89": "cp1251", "99": "koi8-r"}
_RUSMARC_CHARSETS = frozenset({"79", "89", "99"})
_CHARSET_NAMES = {"01": "ISO 646", "02": "ISO registration 37", "03": "ISO 5426", "06": "ISO 5427"}
_DEFAULT_LEADER = "00000nam  2200000 i 450 "


@dataclass(frozen=True)
class Converted:
    """A UNIMARC or RUSMARC record: its MARC 21 conversion and its original, kept."""

    record: Record  # MARC 21, to be checked as any imported record
    leader: str
    original: str  # UNIMARC slim, valid against its schema
    flavour: str


def read_entry(raw: RawEntry, encoding: str | None, flavour: str = AUTO) -> Converted | None:
    """The conversion of a UNIMARC or RUSMARC entry; None for MARC 21 (read it as
    before). Undecodable or RecordRejected, with the reason, when it cannot be read."""
    if flavour == MARC21:
        return None
    if raw.kind == "marcxml":
        return read_element(etree.fromstring(raw.payload, _PARSER), flavour)
    payload = raw.payload
    tags, coded = _directory(payload)
    if flavour == AUTO and not _looks_unimarc(payload[20:24], tags):
        return None
    charset = coded[26:28].decode("ascii", "replace") if len(coded) >= 28 else "  "
    record, leader = _decoded(raw, encoding, charset)
    if flavour == AUTO:
        flavour = RUSMARC if charset in _RUSMARC_CHARSETS or _russian(record) else UNIMARC
    return _converted(record, leader, flavour)


def read_element(root: etree._Element, flavour: str = AUTO) -> Converted | None:
    """The conversion of a UNIMARC record in XML: UNIMARC slim, RUSMARC's UNISlim, or
    MARCXML holding UNIMARC (as Koha's UNIMARC catalogues serve it); None for MARC 21."""
    namespace = etree.QName(root).namespace
    if namespace == SLIM_NS:  # RUSMARC kept in UNIMARC slim is told by its fields
        record, leader = _from_slim(root)
        detected = RUSMARC if _russian(record) else UNIMARC
    elif namespace == RUSMARC_NS:
        record, leader = record_from_element(_without_namespace(root))
        detected = RUSMARC
    elif namespace in (MARC_NS, None) and flavour != MARC21:
        if flavour == AUTO and (
            _find(root, namespace, "245") is not None or _find(root, namespace, "200") is None
        ):
            return None
        record, leader = record_from_element(root)
        detected = RUSMARC if _russian(record) else UNIMARC
    else:
        return None
    return _converted(record, leader, detected if flavour in (AUTO, MARC21) else flavour)


def _converted(record: Record, leader: str | None, flavour: str) -> Converted:
    for field in record.fields:  # '#' is how UNIMARC's manuals print a blank indicator
        if not field.is_control_field() and "#" in field.indicators:
            field.indicators = Indicators(*(" " if i == "#" else i for i in field.indicators))
    leader = _slim_leader(leader)
    marc = to_marc21(record, leader, flavour)
    give_control_number(marc, record)
    original = unimarc_slim(record, leader)
    problem = schema_problem(UNIMARC_FORMAT, etree.fromstring(original, _PARSER))
    if problem:
        raise RecordRejected(f"its {flavour.upper()} record cannot be kept as it came: {problem}")
    return Converted(marc, str(marc.leader), original, flavour)


def _slim_leader(raw: str | None) -> str:
    """The leader as UNIMARC slim has it: lengths zeroed, 22 and 450 in place; an XML
    record without one (RUSMARC's UNISlim often has none) gets a monograph's."""
    leader = raw if raw and len(raw) == 24 else _DEFAULT_LEADER
    record_type = leader[6] if leader[6].strip() else "a"
    return f"00000{leader[5]}{record_type}{leader[7:10]}2200000{leader[17:20]}450 "


def _looks_unimarc(leader_end: bytes, tags: set[bytes]) -> bool:
    if b"245" in tags:
        return False
    return b"200" in tags or (leader_end == b"450 " and b"100" in tags)


def _russian(record: Record) -> bool:
    agencies = {(f.get("a") or "").strip().upper() for f in record.get_fields("801")}
    return bool(record.get_fields("899")) or bool(agencies & {"RU", "BY"})


def _directory(payload: bytes) -> tuple[set[bytes], bytes]:
    """The tags of an ISO 2709 record, and its 100 $a as bytes, read without decoding
    anything (both are ASCII); nothing when the directory is damaged: the decoder
    then says what is wrong."""
    try:
        base = int(payload[12:17])
    except ValueError:
        return set(), b""
    directory = payload[24 : base - 1]
    tags: set[bytes] = set()
    coded = b""
    for start in range(0, len(directory) - 11, 12):
        entry = directory[start : start + 12]
        tags.add(entry[:3])
        if entry[:3] == b"100" and entry[3:12].isdigit():
            data = payload[base + int(entry[7:12]) : base + int(entry[7:12]) + int(entry[3:7])]
            at = data.find(b"\x1fa")
            coded = data[at + 2 : at + 38] if at >= 0 else b""
    return tags, coded


def _decoded(raw: RawEntry, encoding: str | None, charset: str) -> tuple[Record, str]:
    if encoding is not None:
        return _leader(decode(raw, encoding))
    codec = _CHARSETS.get(charset)
    if codec is not None:
        return _leader(decode(raw, codec))
    try:
        return _leader(decode(raw, "utf-8"))
    except Undecodable:
        name = _CHARSET_NAMES.get(charset, "a character set not read here")
        raise Undecodable(
            f"100 $a says character set {charset!r} ({name}) and the record is not UTF-8: "
            "convert the file to UTF-8, or name its encoding with --encoding"
        ) from None


def _leader(decoded: tuple[Record, str | None]) -> tuple[Record, str]:
    record, leader = decoded
    return record, leader or str(record.leader)


def _find(root: etree._Element, namespace: str | None, tag: str) -> etree._Element | None:
    prefix = f"{{{namespace}}}" if namespace else ""
    return root.find(f'{prefix}datafield[@tag="{tag}"]')


def _without_namespace(root: etree._Element) -> etree._Element:
    """A copy of `root` with every element's namespace dropped: UNISlim's elements are
    MARCXML's names in another namespace, which MARCXML's reader then reads."""
    copy = etree.fromstring(etree.tostring(root), _PARSER)
    for element in copy.iter():
        if isinstance(element.tag, str):
            element.tag = etree.QName(element).localname
    return copy


def _from_slim(root: etree._Element) -> tuple[Record, str | None]:
    """A pymarc record from a UNIMARC slim `<rec>` (lab, cf, df and sf)."""
    record = Record()
    leader = None
    name = f"{{{SLIM_NS}}}"
    for child in root:
        if child.tag == name + "lab":
            leader = child.text or ""
        elif child.tag == name + "cf":
            record.fields.append(Field(tag=child.get("t", ""), data=child.text or ""))
        elif child.tag == name + "df":
            subfields = [
                Subfield(sub.get("c", ""), sub.text or "")
                for sub in child
                if sub.tag == name + "sf"
            ]
            indicators = Indicators(child.get("i1", " "), child.get("i2", " "))
            record.fields.append(Field(child.get("t", ""), indicators, subfields))
    return record, leader
