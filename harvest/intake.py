"""Each harvested record checked, in each format, before it is stored.

What a partner sends is served again to harvesters and shown to our staff, so it
must validate exactly as our own records do: oai_dc against its XSD, MARCXML against
MARC21slim. Defects that lose nothing a reader needs are repaired, and the repair
is listed so that the record's provenance says `altered`:
- in oai_dc, elements from other namespaces (XHTML script and images among them)
  are dropped, markup inside a Dublin Core element becomes its text (script and
  style content excepted), stray text and foreign attributes go, and an `xml:lang`
  that is no language tag is dropped;
- UNIMARC and RUSMARC (UNIMARC slim, RUSMARC's UNISlim, or MARCXML holding UNIMARC)
  are converted to MARC 21 as `libfed import` converts them, the original kept;
- MARCXML is validated as received, then written again from the fields it holds
  (foreign elements and attributes cannot survive that), with the repairs
  `libfed.records.marc_checks` makes; it is rendered in every format of the registry
  (libfed.records.formats), oai_dc by the crosswalk, as local records are.
Anything still invalid after that is refused, to be quarantined with the reason.
Parsing never resolves entities (`harvest.parsing` has replaced them already).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from libfed.records import crosswalk
from libfed.records.formats import MARC21, OAI_DC, UNIMARC, rendered
from libfed.records.marc_checks import RecordRejected, checked
from libfed.records.marcxml import record_from_element
from libfed.records.unimarc_reader import read_element
from libfed.records.xml_schemas import schema_problem

DC_NS = crosswalk.DC_NAMESPACE
# The fifteen elements as lxml names them: a set lookup per child, no QName made.
DC_TAGS = frozenset(f"{{{DC_NS}}}{name}" for name in crosswalk.DC_ELEMENTS)
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_SCHEMA_LOCATION = "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"
_OAI_DC_LOCATION = f"{OAI_DC.namespace} {OAI_DC.schema}"
# What XML counts as whitespace: str.strip() also removes NBSP and the like, which XML
# Schema takes for text where oai_dc allows none.
_XML_SPACE = " \t\r\n"
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
_XHTML = "http://www.w3.org/1999/xhtml"
# Elements whose text is code, not catalogue data: dropped with it.
_CODE = ("script", "style", f"{{{_XHTML}}}script", f"{{{_XHTML}}}style")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
# A record's metadata as received: ISO 2709 caps a MARC record at 99,999 bytes, which
# MARCXML writes in about three times as many; no catalogue record comes near this.
MAX_RECORD_BYTES = 1024 * 1024
# The version of these rules. Raise it when they change: every source's stored records
# are then checked again at the next `libfed db upgrade` (harvest.recheck).
VERSION = 1


class Refused(ValueError):
    """The record cannot be stored in this format; the message says why."""


@dataclass(frozen=True)
class Checked:
    """A format's metadata as it may be stored, and what had to be repaired in it."""

    xml: str
    repairs: tuple[str, ...] = ()


def _flatten(element: etree._Element, repairs: list[str]) -> None:
    """A Dublin Core element reduced to what its schema allows: text and xml:lang."""
    for key in list(element.attrib):
        if key != _XML_LANG or not _LANGUAGE.fullmatch(element.get(key, "")):
            del element.attrib[key]
            repairs.append("attributes outside the schema removed")
    if len(element):
        etree.strip_elements(
            element, *_CODE, etree.Comment, etree.ProcessingInstruction, with_tail=False
        )
        etree.strip_tags(element, "*")
        repairs.append("markup inside Dublin Core elements turned into text")


def parse(metadata: bytes) -> etree._Element:
    if len(metadata) > MAX_RECORD_BYTES:
        raise Refused(f"larger than {MAX_RECORD_BYTES // 1024:,} KiB")
    try:
        return etree.fromstring(metadata, _PARSER)
    except etree.XMLSyntaxError as error:
        raise Refused(f"not well-formed XML: {error.msg[:100]}") from None


def checked_oai_dc(root: etree._Element) -> Checked:
    """oai_dc repaired as the module says; Refused if it cannot be made valid."""
    if root.tag != f"{{{OAI_DC.namespace}}}dc":
        raise Refused(f"not oai_dc: the root element is {etree.QName(root).localname!r}")
    repairs: list[str] = []
    # None, or the official schemaLocation: harvesters downstream may fetch the one served.
    if dict(root.attrib) not in ({}, {_SCHEMA_LOCATION: _OAI_DC_LOCATION}):
        repairs.append("attributes outside the schema removed")
        root.attrib.clear()
        root.set(_SCHEMA_LOCATION, _OAI_DC_LOCATION)
    # Whitespace between elements stays: a sound record is stored as it came, so that
    # checking it again (harvest.recheck) finds nothing to change.
    if root.text and root.text.strip(_XML_SPACE):
        repairs.append("text outside the Dublin Core elements removed")
        root.text = None
    for child in list(root):
        if child.tail and child.tail.strip(_XML_SPACE):
            repairs.append("text outside the Dublin Core elements removed")
            child.tail = None
        if not isinstance(child.tag, str):
            root.remove(child)  # comments and processing instructions: nothing to serve
        elif child.tag not in DC_TAGS:
            root.remove(child)
            repairs.append("elements outside Dublin Core removed")
        else:
            _flatten(child, repairs)
    # Declarations no element uses go, what was dropped left behind or an envelope leaked
    # in (a page's default namespace comes along when a record is cut out of it): the
    # same record is then written the same way whatever page it came in.
    etree.cleanup_namespaces(root)
    problem = schema_problem(OAI_DC, root)
    if problem:
        raise Refused(problem)
    return Checked(etree.tostring(root, encoding="unicode"), tuple(dict.fromkeys(repairs)))


def restored_oai_dc(root: etree._Element) -> etree._Element | None:
    """oai_dc whose namespaces a provider stripped (<dc><title>...), put back; else None."""
    if root.tag != "dc":
        return None
    dc = etree.Element(f"{{{OAI_DC.namespace}}}dc", nsmap={"oai_dc": OAI_DC.namespace, "dc": DC_NS})
    for child in root:
        if isinstance(child.tag, str) and "}" not in child.tag:
            element = etree.SubElement(dc, f"{{{DC_NS}}}{child.tag}")
            element.text = child.text
            element.extend(child)  # what is inside is judged like any oai_dc
    return dc


@dataclass(frozen=True)
class CheckedMARC:
    """A MARCXML record as it may be stored: in every registered format, made by our
    renderers from the record, and what had to be repaired in the MARC."""

    formats: dict[str, str]  # prefix -> metadata
    repairs: tuple[str, ...]


def checked_marcxml(root: etree._Element, landing_url: str | None = None) -> CheckedMARC:
    """MARCXML written again from its fields and checked; Refused if it cannot be.
    `landing_url` is the record's page here, which its renderings name as local
    records' do: we serve it again as an aggregator, with its provenance on that page."""
    received = schema_problem(MARC21, root)
    try:
        marc, leader = record_from_element(root)
        marc = checked(marc, leader)
    except RecordRejected as error:
        raise Refused(f"MARCXML refused: {error}") from None
    repairs = []
    if received:
        repairs.append(f"written again from its fields ({received})")
    if str(marc.leader) != leader:
        repairs.append("leader repaired")
    # Written by our own renderers, as local records are: a record `checked` accepts
    # renders valid in every format (tests/test_harvest_intake.py tries any record).
    return CheckedMARC(rendered(marc, landing_url=landing_url), tuple(repairs))


def checked_unimarc(root: etree._Element, landing_url: str | None = None) -> CheckedMARC | None:
    """A UNIMARC or RUSMARC record converted to MARC 21 (libfed.records.unimarc_reader)
    and rendered in every format, its original kept as `unimarc`; None when `root` is
    no UNIMARC record (MARCXML of MARC 21 included); Refused if it cannot be converted."""
    try:
        converted = read_element(root)
        if converted is None:
            return None
        marc = checked(converted.record, converted.leader)
    except RecordRejected as error:
        raise Refused(f"UNIMARC refused: {error}") from None
    formats = rendered(marc, landing_url=landing_url)
    return CheckedMARC(formats | {UNIMARC.prefix: converted.original}, ())
