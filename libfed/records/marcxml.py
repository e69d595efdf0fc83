"""MARCXML in and out, between lxml elements / strings and pymarc records.

pymarc stays the record model; its own MARCXML writer goes through ElementTree
and manages about 1,500 records/s here, which alone would spend over a minute on
a 100,000-record import, so records are written as strings directly.
"""

from __future__ import annotations

from lxml import etree
from pymarc import Field, Indicators, Record, Subfield

from .xmltext import escape_attribute, escape_text

# MARC21slim, as the format registry (libfed.records.formats.marc21) serves it.
MARC_NS = "http://www.loc.gov/MARC21/slim"
MARC_SCHEMA = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
_NS = "{" + MARC_NS + "}"
_ESCAPED_CODES = frozenset('&<>"')
_ROOT = (
    f'<record xmlns="{MARC_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xsi:schemaLocation="{MARC_NS} {MARC_SCHEMA}">'
)


def _text(value: str) -> str:
    # Most values have nothing to escape: testing is cheaper than translating.
    return escape_text(value) if "&" in value or "<" in value or ">" in value else value


def record_to_marcxml(record: Record) -> str:
    """One `<record>` element in the MARC21slim namespace, with its schemaLocation.

    For records that passed `libfed.records.marc_checks.checked`: their tags and
    indicators are letters, digits or blanks, so only codes and text are escaped.
    """
    parts = [_ROOT, "<leader>", str(record.leader), "</leader>"]
    # MARC21slim wants every control field before the data fields; records (a partner's
    # MARCXML above all) do not always keep that order.
    ordered = sorted(record.fields, key=lambda field: not field.is_control_field())
    for field in ordered:
        tag = field.tag
        if field.is_control_field():
            parts.append(f'<controlfield tag="{tag}">{_text(field.data or "")}</controlfield>')
            continue
        ind1, ind2 = field.indicators
        parts.append(f'<datafield tag="{tag}" ind1="{ind1}" ind2="{ind2}">')
        for code, value in field.subfields:
            if code in _ESCAPED_CODES:
                code = escape_attribute(code)
            parts.append(f'<subfield code="{code}">{_text(value)}</subfield>')
        parts.append("</datafield>")
    parts.append("</record>")
    return "".join(parts)


_LEADER_TAGS = (_NS + "leader", "leader")
_CONTROL_TAGS = (_NS + "controlfield", "controlfield")
_DATA_TAGS = (_NS + "datafield", "datafield")
_SUBFIELD_TAGS = (_NS + "subfield", "subfield")


def record_from_element(element: etree._Element) -> tuple[Record, str | None]:
    """A pymarc record from a MARCXML `<record>` element, and its leader text as found.

    The leader is returned apart (None when absent) because a MARCXML leader may be
    malformed in ways pymarc's Leader refuses; `libfed.records.marc_checks` judges it.
    """
    record = Record()
    fields = record.fields
    raw_leader: str | None = None
    for child in element:
        name = child.tag
        if name in _DATA_TAGS:
            fields.append(
                Field(
                    tag=child.get("tag", ""),
                    indicators=Indicators(child.get("ind1", " "), child.get("ind2", " ")),
                    subfields=[
                        Subfield(sub.get("code", ""), sub.text or "")
                        for sub in child
                        if sub.tag in _SUBFIELD_TAGS
                    ],
                )
            )
        elif name in _CONTROL_TAGS:
            fields.append(Field(tag=child.get("tag", ""), data=child.text or ""))
        elif name in _LEADER_TAGS:
            raw_leader = child.text or ""
    return record, raw_leader


def is_marc_record(element: etree._Element) -> bool:
    return element.tag in (_NS + "record", "record")
